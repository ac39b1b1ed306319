#!/bin/bash
# A unique random string in a narrative, a victim name, a contact and an exact
# place: after the adds and a stop, no file under the data directory holds it
# (every byte at rest is ciphertext), while `show` still reads it back.
source "$(dirname "$0")/lib.sh"

CANARY="CANARIO-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
node_init
node_start

gen_incident 7 "$CANARY" > "$T/one.json"
expect_rc 0 tj add --json "$T/one.json"
id1=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj add --date 2025-02-03 --state 07 --municipality 07078 --place-type organization_office \
	--victim "ref=c-1,unit=organization,role=organization_member,gender=not_applicable,age_band=not_applicable" \
	--aggressor "category=unidentified,type=unknown,involvement=unknown" --act raid \
	--protection none --source witness_testimony --reliability fairly_reliable --verification unverified \
	--victim-name "Nombre $CANARY" --contact "tel $CANARY" --exact-place "Calle $CANARY" \
	--narrative "Allanamiento. $CANARY"
id2=$(cut -d' ' -f1 "$T/out")
gen_array 20 40 > "$T/many.json"
expect_rc 0 tj add --json "$T/many.json"

# Positive control: the node can read the case faces back.
for id in "$id1" "$id2"; do
	expect_rc 0 tj show "$id"
	grep -q "$CANARY" "$T/out" || fail "show $id does not print the canary: the test would prove nothing"
done
expect_rc 0 tj list
grep -q "$CANARY" "$T/out" && fail "list prints case text"
node_stop

[ -n "$(find "$TEJIDO_DATA" -type f)" ] || fail "no files under the data directory"
if grep -r -a -l -F "$CANARY" "$TEJIDO_DATA"; then
	fail "the canary is in plaintext under $TEJIDO_DATA"
fi
# Nor a recognisable part of it (e.g. a copy split at a buffer boundary).
if grep -r -a -l -F "${CANARY:8:16}" "$TEJIDO_DATA"; then
	fail "part of the canary is in plaintext under $TEJIDO_DATA"
fi
echo "canary: ok ($(find "$TEJIDO_DATA" -type f | wc -l) files checked)"
