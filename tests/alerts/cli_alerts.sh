#!/usr/bin/env bash
# `tejido alerts | alert | subscribe | query | stats` end to end on one node:
# alerts raised on add, --follow delivering a new one, ack and resolve seen
# by `alerts`, bad input refused with exit 2, the hook fed once after a
# failure, statistics suppressed under 5.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh" "$1"

incident() { # date state municipality act [residence]
	local res=""
	[ -n "${5:-}" ] && res="\"residence\":{\"state\":\"$5\"},"
	printf '{"occurred":{"start":"%s","precision":"day"},"location":{"state":"%s","municipality":"%s","place_type":"home"},%s' "$1" "$2" "$3" "$res"
	printf '"victims":[{"ref":"r-%s-%s","unit":"individual","role":"defender","gender":"woman","age_band":"30_44"}],' "$1" "$4"
	printf '"aggressors":[{"category":"state","type":"municipal_police","level":"municipal","involvement":"direct"}],'
	printf '"acts":[{"type":"%s","victim":0,"aggressor":0}],"protection":{"status":"none"},' "$4"
	printf '"source":{"type":"victim_testimony","reliability":"usually_reliable"},"verification":"confirmed"}\n'
}

# The last --json output without whitespace, and how often a string occurs in it.
compact() { tr -d ' \t\n' < "$T/out" > "$T/c"; }
occurs() { compact; grep -o -- "$1" "$T/c" | wc -l; }

node_init
mkdir -p "$T/hook"
cat > "$T/hook/run" <<HOOK
#!/bin/sh
# Fails once, then keeps what it is given.
if [ ! -f "$T/hook/failed-once" ]; then : > "$T/hook/failed-once"; exit 3; fi
cat >> "$T/hook/got"; echo >> "$T/hook/got"
HOOK
chmod +x "$T/hook/run"
printf '[alerts]\nalert_hook = %s\nhook_timeout_s = 5\n' "$T/hook/run" > "$TEJIDO_DATA/tejido.conf"
node_start

# Bad input: exit 2 before any request.
expect_rc 2 tj alerts --states 20,99
grep -q "'99' is not an INEGI state code" "$T/err" || fail "unknown state not named"
expect_rc 2 tj alerts --triggers T1,T8
grep -q "'T8' is not a trigger" "$T/err" || fail "unknown trigger not named"
expect_rc 2 tj alerts --min-priority urgent
expect_rc 2 tj query --state 33
expect_rc 2 tj query --act asesinato
expect_rc 2 tj query --since 2026-06-01 --until 2026-01-01
grep -q "runs backwards" "$T/err" || fail "backwards range not explained"
expect_rc 2 tj stats --by gender --from 2026-06 --to 2026-01
expect_rc 2 tj stats --by gender,municipality
expect_rc 2 tj stats
expect_rc 2 tj subscribe --triggers T0
expect_rc 2 tj alert ack xyz
expect_rc 2 tj alert resolve 0123456789abcdef
expect_rc 6 tj alert ack 0123456789abcdef

# Only T3-relevant harassment (severity 2): no alert yet.
incident 2026-03-01 20 20067 harassment > "$T/a.json"
expect_rc 0 tj add --json "$T/a.json"
expect_rc 0 tj alerts --json
[ "$(occurs '"id":')" = 0 ] || fail "an alert for a severity-2 incident"

# --follow, then two more in 14 days: T3 arrives while following.
# The binary itself in the background (a shell function would put a subshell between kill and it).
"$TEJIDO" alerts --follow --json > "$T/follow.out" 2> "$T/follow.err" &
FOLLOW=$!
sleep 1
incident 2026-03-08 20 20067 harassment > "$T/b.json"
incident 2026-03-15 20 20067 harassment > "$T/c.json"
expect_rc 0 tj add --json "$T/b.json"
B=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj add --json "$T/c.json"
for _ in $(seq 1 50); do
	grep -q '"trigger":"T3"' "$T/follow.out" && break
	sleep 0.2
done
kill -INT "$FOLLOW" 2>/dev/null
wait "$FOLLOW" || true
grep -q '"trigger":"T3"' "$T/follow.out" || { cat "$T/follow.err" >&2; fail "--follow did not deliver the T3 alert"; }
[ "$(grep -c '"trigger":"T3"' "$T/follow.out")" = 1 ] || fail "--follow delivered T3 more than once"

# A disappearance in Oaxaca of someone living in Guerrero: T1, T6 (both states), T7.
incident 2026-04-02 20 20001 disappearance 12 > "$T/d.json"
expect_rc 0 tj add --json "$T/d.json"
D=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj alerts --states 12 --json
[ "$(occurs '"trigger":"T6"')" = 1 ] || fail "T6 not seen from the state of residence"
expect_rc 0 tj alerts --triggers T7 --json
compact
T7=$(grep -o '"id":"[0-9a-f]\{64\}"' "$T/c" | head -1 | cut -d'"' -f4)
[ -n "$T7" ] || fail "no T7 alert"

# Ack by prefix, then resolve: who and when are shown.
expect_rc 0 tj alert ack "${T7:0:12}" --note-code verifying
expect_rc 0 tj alerts --triggers T7 --json
[ "$(occurs '"status":"acknowledged"')" = 1 ] || fail "ack not shown"
[ "$(occurs '"code":"verifying"')" = 1 ] || fail "ack note not shown"
FP=$(tj id | grep -o '[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}' | head -1)
[ -n "$FP" ] || fail "no fingerprint from tejido id"
[ "$(occurs "\"by\":\"$FP\"")" = 1 ] || fail "ack not attributed to this node"
expect_rc 0 tj alert resolve "$T7" --outcome located_alive
expect_rc 0 tj alerts --status resolved --json
[ "$(occurs "\"id\":\"$T7\"")" = 1 ] || fail "resolved alert not listed as resolved"
expect_rc 0 tj alerts --status open --json
[ "$(occurs "\"id\":\"$T7\"")" = 0 ] || fail "resolved alert still open"
expect_rc 0 tj alerts
grep -q "located_alive" "$T/out" || fail "table lacks the resolution"

# Query: the filters of the issue's example.
expect_rc 0 tj query --state 20 --act killing,disappearance --aggressor municipal_police --since 2026-01-01 --json
[ "$(occurs '"id":')" = 1 ] || fail "query did not find exactly the disappearance"
expect_rc 0 tj query --municipality 20067 --json
[ "$(occurs '"id":')" = 3 ] || fail "query by municipality"

# Statistics: 4 incidents, every cell suppressed.
expect_rc 0 tj stats --by gender,aggressor_type --state 20 --from 2026-01 --to 2026-06 --format csv
grep -q '^woman,Woman,municipal_police,Municipal police,suppressed,suppressed,suppressed' "$T/out" || fail "small cell not suppressed in CSV"
expect_rc 0 tj stats --by state --per-100k --format json
[ "$(occurs '"suppressed":true')" -ge 3 ] || fail "small cell not suppressed in JSON"
expect_rc 0 tj --lang es stats --by act_type
grep -q "Desaparición" "$T/out" || fail "Spanish labels"

# Subscriptions, then the hook: it failed once and then got every subscribed alert once.
expect_rc 0 tj subscribe --states 20 --min-severity 1 --json
for _ in $(seq 1 60); do
	[ -f "$T/hook/got" ] && [ "$(grep -c '"trigger"' "$T/hook/got")" -ge 5 ] && break
	sleep 0.5
done
[ -f "$T/hook/failed-once" ] || fail "the hook never ran"
[ -f "$T/hook/got" ] || fail "the hook was not retried after its failure"
grep -q "alert hook failed with exit status (3)" "$TEJIDO_DATA/node.log" || fail "hook failure not logged"
dups=$(grep -o '"event":[0-9]*' "$T/hook/got" | sort | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "the hook got an event twice"
grep -q 'victim_names\|r-2026' "$T/hook/got" && fail "names or refs reached the hook"

# A growing cluster: a fourth harassment in 20067 updates the one T3 alert; --follow shows it once, as an update.
"$TEJIDO" alerts --follow --json > "$T/follow2.out" 2> "$T/follow2.err" &
FOLLOW=$!
sleep 1
incident 2026-03-11 20 20067 harassment > "$T/e.json"
expect_rc 0 tj add --json "$T/e.json"
E=$(cut -d' ' -f1 "$T/out")
for _ in $(seq 1 50); do
	grep '"trigger":"T3"' "$T/follow2.out" | grep -q '"event_kind":"update"' && break
	sleep 0.2
done
kill -INT "$FOLLOW" 2>/dev/null
wait "$FOLLOW" || true
[ "$(grep '"trigger":"T3"' "$T/follow2.out" | grep -c '"event_kind":"update"')" = 1 ] ||
	{ cat "$T/follow2.err" "$T/follow2.out" >&2; fail "--follow did not show the T3 alert's update once"; }
grep '"trigger":"T3"' "$T/follow2.out" | grep -q '"event_kind":"raise"' && fail "the growing cluster raised a new T3 alert"
expect_rc 0 tj alerts --triggers T3 --json
[ "$(occurs '"trigger":"T3"')" = 1 ] || fail "a growing cluster has more than one T3 alert"
[ "$(occurs '"count":4')" = 1 ] || fail "the T3 alert does not count 4 incidents"

# Retraction: the disappearance leaves its alerts (T1, T6, and T7 with its ack and resolution), queries, statistics.
expect_rc 0 tj retract "$D" --reason consent_withdrawn
expect_rc 0 tj alerts --json
[ "$(occurs "\"id\":\"$T7\"")" = 0 ] || fail "the T7 alert of a retracted incident is still listed"
[ "$(occurs '"trigger":"T6"')" = 0 ] || fail "the T6 alert of a retracted incident is still listed"
[ "$(occurs "$D")" = 0 ] || fail "an alert still names the retracted incident"
expect_rc 6 tj alert ack "${T7:0:12}" --note-code verifying
expect_rc 0 tj query --act disappearance --json
[ "$(occurs '"id":')" = 0 ] || fail "query still finds the retracted incident"
expect_rc 0 tj stats --by act_type --format csv
grep -q disappearance "$T/out" && fail "statistics still count the retracted disappearance"
# Two of the cluster's four retracted: it no longer fires, its alert is withdrawn.
expect_rc 0 tj retract "$E" --reason duplicate
expect_rc 0 tj alerts --triggers T3 --json
[ "$(occurs '"count":3')" = 1 ] || fail "the T3 alert was not recomputed without a retracted incident"
expect_rc 0 tj retract "$B" --reason error
expect_rc 0 tj alerts --triggers T3 --json
[ "$(occurs '"id":')" = 0 ] || fail "a cluster of two still has its T3 alert"
node_stop
echo "alerts: ok"
