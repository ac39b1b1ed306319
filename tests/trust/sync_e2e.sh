#!/bin/bash
# Retraction and sharing across two real nodes (founder F, member J, real
# sync): J reads F's summary but not its case ("not shared with this node");
# J cannot retract or share F's records; F shares one case with J, and J
# reads it; F retracts another incident: J deletes it, keeps a tombstone and
# confirms, and F's `show` lists both confirming nodes.
source "$(dirname "$0")/../integration/lib.sh"

F=$T/founder
J=$T/member
stop_all() {
	local d pid
	for d in "$F" "$J"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	cleanup
}
trap stop_all EXIT
pk_of() { tj --data "$1" id --json | grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}'; }
# wait_for SECONDS DESCRIPTION CMD...: until CMD succeeds.
wait_for() {
	local s=$1 what=$2
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	fail "$what did not happen within $s s"
}

expect_rc 0 tj --data "$F" init --kdf min --name "Red de prueba"
expect_rc 0 tj --data "$J" init --kdf min --no-network
FPK=$(pk_of "$F")
JPK=$(pk_of "$J")
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$F" member add "$JPK" --name "Centro" --out "$T/w.tjw"
expect_rc 0 tj --data "$J" network join "$T/w.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start

gen_incident 11 > "$T/a.json"
gen_incident 12 > "$T/b.json"
expect_rc 0 tj --data "$F" add --json "$T/a.json"
A=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj --data "$F" add --json "$T/b.json"
B=$(cut -d' ' -f1 "$T/out")
has() { tj --data "$1" list --json | grep -q "$2"; }
wait_for 60 "J receiving F's incidents" has "$J" "$B"
has "$J" "$A" || fail "J has B but not A"

# J reads the summaries only, and may neither retract nor share them.
expect_rc 0 tj --data "$J" show "$A"
grep -q "case not shared with this node" "$T/out" || fail "J's show of F's case: $(cat "$T/out")"
grep -q "Persona Inventada 11" "$T/out" && fail "J reads F's case without a grant"
expect_rc 1 tj --data "$J" retract "$A" --reason error
grep -q "only the author can retract" "$T/err" || fail "J retracting F's record: $(cat "$T/err")"
expect_rc 1 tj --data "$J" share "$A" --with "yo:$JPK"
grep -q "only the author can share" "$T/err" || fail "J sharing F's case: $(cat "$T/err")"

# F shares A's case with J.
expect_rc 0 tj --data "$F" share "$A" --with "centro:$JPK"
reads_case() { tj --data "$J" show "$A" | grep -q "Persona Inventada 11"; }
wait_for 60 "J reading the shared case" reads_case
echo "figure: J reads the case face of A after F's grant"

# F retracts B: J deletes it and confirms; F lists both confirmations.
expect_rc 0 tj --data "$F" retract "$B" --reason duplicate
j_retracted() { tj --data "$J" show "$B" | grep -q "retracted on .* (duplicate)"; }
wait_for 60 "J applying the retraction" j_retracted
has "$J" "$B" && fail "J still lists the retracted incident"
two_confirms() { tj --data "$F" show "$B" | grep -q "confirmed by 2 nodes"; }
wait_for 90 "F seeing J's confirmation" two_confirms
expect_rc 0 tj --data "$F" show "$B"
grep -q "$JPK" "$T/out" && grep -q "$FPK" "$T/out" || fail "F's show names both confirming nodes: $(cat "$T/out")"
echo "figure: the retraction reached J, and F lists 2 confirmations"
echo "sync: ok"
