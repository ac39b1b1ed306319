#!/usr/bin/env bash
# kill -9 the daemon at a random moment while severity-4 incidents are added;
# after the restart every stored incident has its T1 alert, exactly once
# (the pending marks written with each record are evaluated before serving).
# Three rounds, at most 40 adds each.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh" "$1"

printf '{"occurred":{"start":"2026-04-02","precision":"day"},"location":{"state":"20","municipality":"20067","place_type":"home"},' > "$T/one.json"
printf '"victims":[{"ref":"k9","unit":"individual","role":"defender","gender":"woman","age_band":"30_44"}],' >> "$T/one.json"
printf '"aggressors":[{"category":"state","type":"municipal_police","level":"municipal","involvement":"direct"}],' >> "$T/one.json"
printf '"acts":[{"type":"death_threat","victim":0,"aggressor":0}],"protection":{"status":"none"},' >> "$T/one.json"
printf '"source":{"type":"victim_testimony","reliability":"usually_reliable"},"verification":"confirmed"}\n' >> "$T/one.json"

start() { # the node, or its log's end and a failure
	timeout 90 "$TEJIDO" node start --listen off > /dev/null 2>&1 && return 0
	tail -n 5 "$TEJIDO_DATA/node.log" >&2
	fail "$1: the node did not start"
}

adder() { # $1: a file made once the first add of the round is acknowledged
	local k
	for ((k = 0; k < 40; k++)); do
		"$TEJIDO" add --json "$T/one.json" > /dev/null 2>&1 || break
		[ -e "$1" ] || : > "$1"
	done
}

node_init
for round in 1 2 3; do
	start "round $round"
	pid=$(cat "$TEJIDO_DATA/node.pid")
	adder "$T/acked.$round" &
	adder_pid=$!
	# The kill lands at a random moment after the round's first acknowledged add (on a loaded
	# machine a random moment from the start could come before any add, three rounds in a row).
	for ((w = 0; w < 300; w++)); do
		[ -e "$T/acked.$round" ] && break
		kill -0 "$adder_pid" 2> /dev/null || break
		sleep 0.1
	done
	sleep "0.$((RANDOM % 10))"
	kill -9 "$pid" 2> /dev/null || echo "round $round: the daemon stopped first"
	for ((w = 0; w < 600; w++)); do
		kill -0 "$adder_pid" 2> /dev/null || break
		sleep 0.1
	done
	kill -0 "$adder_pid" 2> /dev/null && fail "round $round: adds still running 60 s after the kill"
	wait "$adder_pid" || true
	for ((w = 0; w < 100; w++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
done

start "after the kills"
total=$(tj list --limit 500 --json | grep -c '^[[:space:]]*"id":' || true)
[ "$total" -gt 0 ] || fail "no incident was stored before the kills"
expect_rc 0 tj alerts --triggers T1 --limit 500 --json
t1=$(tr -d ' \t\n' < "$T/out" | grep -o '"id":' | wc -l)
[ "$t1" = "$total" ] || fail "$total incidents stored but $t1 T1 alerts"
late=$(grep -c 'stored before a stop' "$TEJIDO_DATA/node.log" || true)
echo "kill9_alerts: ok ($total incidents, $t1 T1 alerts; $late restarts evaluated records a kill left pending)"
