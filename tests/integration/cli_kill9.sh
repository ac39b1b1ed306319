#!/bin/bash
# kill -9 the daemon at a random moment while adds run; after a restart every
# add that printed an id is there. Three rounds.
source "$(dirname "$0")/lib.sh"

node_init
gen_array 1 25 > "$T/batch.json"
gen_incident 99 > "$T/one.json"
: > "$T/acked"

adder() {
	local k out
	for ((k = 0; k < 400; k++)); do
		if ((k % 4 == 3)); then
			out=$("$TEJIDO" add --json "$T/batch.json" 2>/dev/null) || break
		else
			out=$("$TEJIDO" add --json "$T/one.json" 2>/dev/null) || break
		fi
		printf '%s\n' "$out" >> "$T/acked"
	done
}

for round in 1 2 3; do
	node_start
	pid=$(cat "$TEJIDO_DATA/node.pid")
	adder &
	adder_pid=$!
	sleep "$((RANDOM % 3)).$((RANDOM % 10))"
	kill -9 "$pid" || fail "round $round: the daemon was already gone"
	# Bounded: the adder stops at its first failed add (or after 400).
	for ((w = 0; w < 600; w++)); do
		kill -0 "$adder_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$adder_pid" 2>/dev/null && fail "round $round: adds still running 60 s after the kill"
	wait "$adder_pid" || true
	for ((w = 0; w < 100; w++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	expect_rc 4 tj list
	echo "round $round: $(grep -c severity "$T/acked") ids acknowledged so far"
done

node_start
n=0
while read -r id _; do
	[ -n "$id" ] || continue
	expect_rc 0 tj show "$id"
	n=$((n + 1))
done < <(sort -u "$T/acked")
[ "$n" -gt 0 ] || fail "no add was acknowledged before the kills"
total=$(count_list)
[ "$total" -ge "$n" ] || fail "list shows $total incidents, fewer than the $n acknowledged"
echo "kill9: ok ($n acknowledged incidents all present; $total stored)"
