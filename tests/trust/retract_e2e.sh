#!/bin/bash
# Retraction end to end through the CLI: a canary in the case face; the
# author retracts with a reason code; the incident and its case face are gone
# from list and show; `show ID` tells the retraction and that this node
# confirmed it; a second retraction and bad reasons are refused; after a
# restart it stays retracted; the store file holds no canary (freed pages
# hold ciphertext only).
source "$(dirname "$0")/../integration/lib.sh"

CANARY="RETRACTO-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
node_init
node_start
gen_incident 5 "$CANARY" > "$T/one.json"
expect_rc 0 tj add --json "$T/one.json"
id=$(cut -d' ' -f1 "$T/out")
[ ${#id} = 64 ] || fail "add printed no id: $(cat "$T/out")"
gen_incident 6 > "$T/two.json"
expect_rc 0 tj add --json "$T/two.json"
keep=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj show "$id"
grep -q "$CANARY" "$T/out" || fail "show does not print the canary: the test would prove nothing"
expect_rc 0 tj id --json
me=$(grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' "$T/out" | grep -o '[0-9a-f]\{64\}')

expect_rc 0 tj query --json
grep -q "$id" "$T/out" || fail "query does not return the incident before its retraction"

# Refusals before anything changes.
expect_rc 2 tj retract "$id"
expect_rc 2 tj retract "$id" --reason because
expect_rc 2 tj retract xyz --reason error
expect_rc 6 tj retract 0000000000000000 --reason error

expect_rc 0 tj retract "${id:0:12}" --reason consent_withdrawn
grep -q "retracted $id" "$T/out" || fail "retract output: $(cat "$T/out")"

expect_rc 0 tj list --json
grep -q "$id" "$T/out" && fail "a retracted incident is still listed"
grep -q "$keep" "$T/out" || fail "the other incident disappeared"
expect_rc 0 tj show "$id"
grep -q "retracted on .* (consent_withdrawn)" "$T/out" || fail "show of a retracted record: $(cat "$T/out")"
grep -q "confirmed by 1 node" "$T/out" || fail "show does not list this node's confirmation: $(cat "$T/out")"
grep -q "$me" "$T/out" || fail "show does not name the confirming node"
grep -q "$CANARY" "$T/out" && fail "show prints the retracted case text"
expect_rc 0 tj show "$id" --json
grep -q '"reason":[[:space:]]*"consent_withdrawn"' "$T/out" || fail "show --json of a retracted record: $(cat "$T/out")"
expect_rc 6 tj show "${id:0:12}"
# Derived data forgets it too: queries open the record, which is gone.
expect_rc 0 tj query --json
grep -q "$keep" "$T/out" || fail "query lost the other incident: $(head -c 300 "$T/out")"
grep -q "$id" "$T/out" && fail "query still returns the retracted incident"
expect_rc 1 tj retract "$id" --reason error
grep -q "already retracted" "$T/err" || fail "second retraction: $(cat "$T/err")"
expect_rc 0 tj node status --json
grep -q '"tombstones":[[:space:]]*2' "$T/out" || fail "the incident and its case face should be tombstoned: $(cat "$T/out")"

# It stays retracted across a restart, and the store holds ciphertext only.
node_stop
node_start
expect_rc 0 tj show "$id"
grep -q "retracted on" "$T/out" || fail "after a restart: $(cat "$T/out")"
node_stop
if grep -r -a -l -F "$CANARY" "$TEJIDO_DATA"; then fail "the canary is under $TEJIDO_DATA"; fi
if grep -r -a -l -F "${CANARY:9:16}" "$TEJIDO_DATA"; then fail "part of the canary is under $TEJIDO_DATA"; fi
echo "retract: ok"
