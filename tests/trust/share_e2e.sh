#!/bin/bash
# Sharing the case face through the CLI: `tejido share ID --with org:KEY`
# writes a slot grant for another node's key (from `tejido id` on that node);
# bad readers and unknown ids are refused; the incident is not rewritten (the
# author still shows its case); a record that is not an incident of ours is
# refused. (Opening through a grant on the reader's side: test_share.)
source "$(dirname "$0")/../integration/lib.sh"

B=$T/reader
expect_rc 0 tj --data "$B" init --kdf min --no-network
expect_rc 0 tj --data "$B" id --json
PK=$(grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' "$T/out" | grep -o '[0-9a-f]\{64\}')
[ ${#PK} = 64 ] || fail "no public key for the reader"

node_init
node_start
gen_incident 4 > "$T/one.json"
expect_rc 0 tj add --json "$T/one.json"
id=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj node status --json
before=$(grep -o '"records":[[:space:]]*[0-9]*' "$T/out" | grep -o '[0-9]*$')

expect_rc 2 tj share "$id"
expect_rc 2 tj share "$id" --with "centro:${PK:0:60}"
expect_rc 2 tj share "$id" --with "centro:zz${PK:2}"
expect_rc 2 tj share nothex --with "centro:$PK"
expect_rc 6 tj share 00000000deadbeef --with "centro:$PK"

expect_rc 0 tj share "${id:0:10}" --with "centro:$PK,$PK"
grep -q "case shared with 2 readers" "$T/out" || fail "share output: $(cat "$T/out")"
grant=$(grep '^grant ' "$T/out" | grep -o '[0-9a-f]\{64\}')
[ ${#grant} = 64 ] || fail "share printed no grant id"
expect_rc 0 tj node status --json
after=$(grep -o '"records":[[:space:]]*[0-9]*' "$T/out" | grep -o '[0-9]*$')
[ "$after" = $((before + 1)) ] || fail "share should add exactly one record ($before -> $after)"
expect_rc 0 tj show "$id"
grep -q "Persona Inventada 4" "$T/out" || fail "the author no longer reads its case after sharing"
# The grant is not an incident: it cannot be shared itself.
expect_rc 6 tj share "$grant" --with "centro:$PK"
expect_rc 0 tj share "$id" --with "centro:$PK" --json
grep -q '"grant":[[:space:]]*"[0-9a-f]\{64\}"' "$T/out" || fail "share --json: $(cat "$T/out")"

# At add time: --case-readers seals the case face to them as well (one more slot, same records).
expect_rc 2 tj add --json "$T/one.json" --case-readers "centro:${PK:0:63}"
expect_rc 0 tj add --json "$T/one.json" --case-readers "centro:$PK"
id2=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj show "$id2"
grep -q "Persona Inventada 4" "$T/out" || fail "the author no longer reads a case given extra readers"
gen_array 1 3 > "$T/many.json"
expect_rc 0 tj add --json "$T/many.json" --case-readers "$PK"
[ "$(wc -l < "$T/out")" -ge 3 ] || fail "batch add with --case-readers: $(cat "$T/out")"
# More than one request's worth of items with readers (the CLI splits them).
gen_array 1 700 > "$T/lots.json"
expect_rc 0 tj add --json "$T/lots.json" --case-readers "$PK"
# A key that is not a point on the curve is refused before anything is stored.
expect_rc 1 tj add --json "$T/one.json" --case-readers "centro:$(printf 'f%.0s' $(seq 64))"
grep -q "case reader is not a valid public key" "$T/err" || fail "bad case reader: $(cat "$T/err")"
echo "share: ok"
