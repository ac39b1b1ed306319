#!/bin/bash
# Large --json arrays are split into add_batch requests by count (<= 1000) and
# by bytes (under the control socket's request limit): all stored, none twice.
source "$(dirname "$0")/lib.sh"

node_init
node_start
gen_array 1 1100 > "$T/count.json"
start=$(date +%s%N)
expect_rc 0 tj add --json "$T/count.json"
echo "figure: 1100 incidents in one --json array in $(( ($(date +%s%N) - start) / 1000000 )) ms"
[ "$(sort -u "$T/out" | grep -c '^[0-9a-f]\{64\} severity')" = 1100 ] || fail "1100: not 1100 distinct ids"

pad=$(head -c 4000 /dev/zero | tr '\0' 'x')
{
	printf '['
	for i in $(seq 1 200); do
		[ "$i" -gt 1 ] && printf ','
		gen_incident "$i" "$pad"
	done
	printf ']'
} > "$T/bytes.json"
[ "$(stat -c %s "$T/bytes.json")" -gt 600000 ] || fail "test setup: the array should exceed one request"
expect_rc 0 tj add --json "$T/bytes.json" --json-out
[ "$(grep -c '"id":' "$T/out")" = 200 ] || fail "by bytes: expected 200 results in the JSON output"
[ "$(count_list)" = 1300 ] || fail "list should show 1300 incidents"
echo "batch: ok"
