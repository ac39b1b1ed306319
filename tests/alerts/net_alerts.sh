#!/bin/bash
# Alerts across three real nodes (founder F, members J and K, real sync):
# a disappearance added on F is raised independently by every node as one
# alert (same id everywhere, T1 and T7); J acknowledges it once; F and K see
# it acknowledged by J's node, exactly once.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh" "$1"

F=$T/founder
J=$T/member-j
K=$T/member-k
stop_all() {
	local d pid
	for d in "$F" "$J" "$K"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	cleanup
}
trap stop_all EXIT
pk_of() { tj --data "$1" id --json | grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}'; }
fp_of() { tj --data "$1" id | grep -o '[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}-[0-9A-Z]\{4\}' | head -1; }
wait_for() {
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	fail "$what did not happen within $s s"
}
# The ids of the T7 alerts a node holds, one per line.
t7_ids() { tj --data "$1" alerts --triggers T7 --json | tr -d ' \t\n' | grep -o '"id":"[0-9a-f]\{64\}"' | cut -d'"' -f4; }
has_t7() { [ -n "$(t7_ids "$1")" ]; }
# How many acknowledgements by fingerprint $2 node $1 shows on alert $3.
acks_by() { tj --data "$1" alerts --triggers T7 --json | tr -d ' \t\n' | grep -o "\"by\":\"$2\"" | wc -l; }
acked_on() { [ "$(acks_by "$1" "$2")" = 1 ]; }

expect_rc 0 tj --data "$F" init --kdf min --name "Red de alertas"
expect_rc 0 tj --data "$J" init --kdf min --no-network
expect_rc 0 tj --data "$K" init --kdf min --no-network
JPK=$(pk_of "$J")
KPK=$(pk_of "$K")
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$F" member add "$JPK" --name "Centro J" --out "$T/j.tjw"
expect_rc 0 tj --data "$F" member add "$KPK" --name "Centro K" --out "$T/k.tjw"
expect_rc 0 tj --data "$J" network join "$T/j.tjw"
expect_rc 0 tj --data "$K" network join "$T/k.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start --listen off
expect_rc 0 timeout 90 "$TEJIDO" --data "$K" node start --listen off

cat > "$T/d.json" <<'JSON'
{"occurred": {"start": "2026-05-03", "precision": "day"},
 "location": {"state": "12", "municipality": "12001", "place_type": "public_road"},
 "victims": [{"ref": "v-net-1", "unit": "individual", "role": "searching_relative", "gender": "woman", "age_band": "45_59"}],
 "aggressors": [{"category": "state", "type": "state_police", "level": "state", "involvement": "direct"}],
 "acts": [{"type": "disappearance", "victim": 0, "aggressor": 0}],
 "protection": {"status": "none"},
 "source": {"type": "witness_testimony", "reliability": "usually_reliable"}, "verification": "unverified"}
JSON
expect_rc 0 tj --data "$F" add --json "$T/d.json"
DID=$(cut -d' ' -f1 "$T/out")
wait_for 60 "J raising the T7 alert" has_t7 "$J"
wait_for 60 "K raising the T7 alert" has_t7 "$K"
IDF=$(t7_ids "$F")
IDJ=$(t7_ids "$J")
IDK=$(t7_ids "$K")
[ -n "$IDF" ] && [ "$(echo "$IDF" | wc -l)" = 1 ] || fail "F holds $(echo "$IDF" | wc -l) T7 alerts"
[ "$IDF" = "$IDJ" ] && [ "$IDF" = "$IDK" ] || fail "one alert, three ids: $IDF $IDJ $IDK"
echo "figure: three nodes raised T7 independently as one alert ${IDF:0:16}"

expect_rc 0 tj --data "$J" alert ack "${IDF:0:10}" --note-code responding
FPJ=$(fp_of "$J")
[ -n "$FPJ" ] || fail "no fingerprint for J"
wait_for 60 "F seeing J's acknowledgement" acked_on "$F" "$FPJ"
wait_for 60 "K seeing J's acknowledgement" acked_on "$K" "$FPJ"
acked_on "$J" "$FPJ" || fail "J does not show its own acknowledgement once"
expect_rc 0 tj --data "$K" alerts --status acknowledged --json
tr -d ' \t\n' < "$T/out" | grep -q "\"id\":\"$IDF\"" || fail "K does not list the alert as acknowledged"
expect_rc 0 tj --data "$F" alerts --triggers T7
grep -q "Centro J responding" "$T/out" || fail "F's table does not name J as the member who acknowledged"
echo "figure: acknowledged once on J, seen acknowledged by J on F and K"

# F retracts the incident: every node drops its alerts (J's acknowledgement with them) when the retraction arrives.
no_t7() { [ -z "$(t7_ids "$1")" ]; }
expect_rc 0 tj --data "$F" retract "$DID" --reason consent_withdrawn
no_t7 "$F" || fail "F still lists the T7 alert of the incident it retracted"
wait_for 60 "J dropping the retracted incident's alert" no_t7 "$J"
wait_for 60 "K dropping the retracted incident's alert" no_t7 "$K"
for d in "$F" "$J" "$K"; do
	expect_rc 0 tj --data "$d" alerts --json
	tr -d ' \t\n' < "$T/out" | grep -q "$DID" && fail "$d: an alert still names the retracted incident"
done
echo "figure: a retraction on F removed the alert on F, J and K"
echo "net alerts: ok"
