#!/bin/bash
# Key rotation with real nodes through the CLI: a founder (steward), two
# members joined by welcome. Removing one rotates the keys; the remaining
# member reads what the founder writes after the rotation (only the new
# epoch key opens it, and it arrived in a KEY record by sync) and the founder
# reads what the member writes; the removed node receives nothing new.
# `network rotate-key` does the same on demand, and only on a steward's node.
source "$(dirname "$0")/../integration/lib.sh"

F=$T/founder
J=$T/member
K=$T/removed
L=$T/late

stop_all() {
	local d pid
	for d in "$F" "$J" "$K" "$L"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	cleanup
}
trap stop_all EXIT

ids_of() { grep -o '"id":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true; }
# wait_id DIR ID: DIR lists ID within 30 s.
wait_id() {
	for _ in $(seq 1 60); do
		tj --data "$1" list --json > "$T/l" 2>/dev/null || true
		if ids_of < "$T/l" | grep -q "$2"; then return 0; fi
		sleep 0.5
	done
	fail "$1 never listed $2"
}
# add_one DIR N: adds incident N on DIR; its id in $ID (fails the test, not a subshell).
add_one() {
	gen_incident "$2" > "$T/inc.json"
	expect_rc 0 tj --data "$1" add --json "$T/inc.json"
	ID=$(grep -o '^[0-9a-f]\{64\}' "$T/out" | head -1)
	[ ${#ID} = 64 ] || fail "add on $1 printed no id: $(cat "$T/out")"
}

expect_rc 0 tj --data "$F" init --kdf min --network "Red"
expect_rc 0 tj --data "$J" init --kdf min --no-network
expect_rc 0 tj --data "$K" init --kdf min --no-network
JPK=$(head -1 "$J/id.pub")
KPK=$(head -1 "$K/id.pub")
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$F" member add "$JPK" --name "Centro" --out "$T/j.tjw"
expect_rc 0 tj --data "$F" member add "$KPK" --name "Saliente" --out "$T/k.tjw"
expect_rc 0 tj --data "$J" network join "$T/j.tjw"
expect_rc 0 tj --data "$K" network join "$T/k.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start
expect_rc 0 timeout 90 "$TEJIDO" --data "$K" node start

add_one "$F" 3
B=$ID
wait_id "$J" "$B"
wait_id "$K" "$B"

# Removal (threshold 1): takes effect at once and rotates.
expect_rc 0 tj --data "$F" member remove "$KPK" --reason "left-org" --json
grep -q '"took_effect": true' "$T/out" || fail "the removal did not take effect: $(cat "$T/out")"
add_one "$F" 4
A=$ID
wait_id "$J" "$A" # J opens it only with the new epoch key, from the KEY record
expect_rc 0 tj --data "$J" show "$A"
add_one "$J" 5
C=$ID
wait_id "$F" "$C"
expect_rc 0 tj --data "$J" list --json
ids_of < "$T/out" | grep -q "$B" || fail "the member still reads the record from before the rotation"

# A non-steward cannot rotate; a steward can, and the member follows.
expect_rc 1 tj --data "$J" network rotate-key
grep -q 'not a steward' "$T/err" || fail "rotate-key on a member: $(cat "$T/err")"
expect_rc 2 tj --data "$F" network rotate-key --changeover soon
# No changeover: from now on the new network key alone opens a handshake.
expect_rc 0 tj --data "$F" network rotate-key --changeover 0 --json
grep -q '"epoch": 2' "$T/out" || fail "rotate-key gives epoch 2: $(cat "$T/out")"
add_one "$F" 6
D=$ID
wait_id "$J" "$D"
expect_rc 0 tj --data "$J" show "$D"
# J restarts: its new handshake with F works only with the new network key (from the KEY record).
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node stop
add_one "$F" 7
E=$ID
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start
wait_id "$J" "$E"
expect_rc 0 tj --data "$J" show "$E"
# The removed node, restarted, cannot complete a handshake with F any more.
expect_rc 0 timeout 90 "$TEJIDO" --data "$K" node stop
expect_rc 0 timeout 90 "$TEJIDO" --data "$K" node start
for _ in $(seq 1 60); do
	grep -q 'wrong network key' "$F/node.log" && break
	sleep 0.5
done
grep -q 'wrong network key' "$F/node.log" || fail "the founder never refused the removed node's handshake at msg1"
grep -q 'closed during the handshake' "$K/node.log" || fail "the removed node's handshake did not fail"

# A member admitted after the rotation joins with the new network key from its welcome.
expect_rc 0 tj --data "$L" init --kdf min --no-network
LPK=$(head -1 "$L/id.pub")
expect_rc 0 tj --data "$F" member add "$LPK" --name "Nueva" --out "$T/l.tjw"
expect_rc 0 tj --data "$L" network join "$T/l.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$L" node start
wait_id "$L" "$E"
wait_id "$L" "$B"

# The removed node got nothing written after its removal.
sleep 2
tj --data "$K" list --json > "$T/kl" 2>/dev/null || true
for x in "$A" "$C" "$D" "$E"; do
	ids_of < "$T/kl" | grep -q "$x" && fail "the removed node lists $x, written after its removal"
done
echo "figure: removal and rotate-key: the remaining member reads before and after, the removed node nothing new"
exit 0
