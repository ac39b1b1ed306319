#!/bin/bash
# `node start --foreground` (for systemd): logs to stderr, answers, stops
# cleanly on SIGTERM with exit 0; a second start is refused while it runs.
source "$(dirname "$0")/lib.sh"

node_init
"$TEJIDO" node start --foreground 2> "$T/fg.log" &
fg=$!
for ((w = 0; w < 300; w++)); do
	tj node status >/dev/null 2>&1 && break
	kill -0 "$fg" 2>/dev/null || fail "the foreground node exited early: $(cat "$T/fg.log")"
	sleep 0.1
done
expect_rc 0 tj node status
grep -q 'incidents' "$T/out" || fail "node status shows no counts"
expect_rc 1 timeout 90 "$TEJIDO" node start
grep -q 'already running' "$T/err" || fail "a second start: message"
gen_incident 3 > "$T/one.json"
expect_rc 0 tj add --json "$T/one.json"
[ -e "$TEJIDO_DATA/node.pid" ] && fail "a foreground node wrote a pid file (systemd tracks it)"
kill -TERM "$fg"
rc=0
for ((w = 0; w < 600; w++)); do
	kill -0 "$fg" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$fg" 2>/dev/null && fail "the foreground node ignored SIGTERM for 60 s"
wait "$fg" || rc=$?
[ "$rc" = 0 ] || fail "the foreground node exited $rc on SIGTERM"
[ -s "$T/fg.log" ] || fail "the foreground node logged nothing to stderr"
expect_rc 4 tj list
node_start
[ "$(count_list)" = 1 ] || fail "the incident added in the foreground is not there"
echo "foreground: ok"
