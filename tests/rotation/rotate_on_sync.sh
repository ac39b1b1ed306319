#!/bin/bash
# A removal that takes effect only by sync rotates the keys (tj_rotate.h):
# three stewards, threshold 3. The founder proposes removing a member; the
# other two stewards approve while the founder's node is down (they dial only
# the founder, so each sees two approvals of three: nothing takes effect and
# nothing rotates on either). When the founder's node is back, the approvals
# reach every node by sync; the removal takes effect there by ingest, and a
# steward's daemon writes a KEY record (epoch 1) that every steward installs.
# A record written after it opens with the new epoch key only: the remaining
# stewards read it, the removed member's node receives nothing new.
source "$(dirname "$0")/../integration/lib.sh"

F=$T/founder
S=$T/second
U=$T/third
M=$T/member

stop_all() {
	local d pid
	for d in "$F" "$S" "$U" "$M"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	cleanup
}
trap stop_all EXIT

ids_of() { grep -o '"id":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true; }
# wait_for DIR REGEX: member list --json on DIR matches REGEX within 30 s.
wait_for() {
	for _ in $(seq 1 60); do
		tj --data "$1" member list --json > "$T/wl" 2>/dev/null || true
		if grep -q "$2" "$T/wl"; then return 0; fi
		sleep 0.5
	done
	fail "member list on $1 never matched $2: $(cat "$T/wl")"
}
# wait_log REGEX SECONDS DIR...: one of the node logs of DIR... matches REGEX in time.
wait_log() {
	local re=$1 s=$2 d
	shift 2
	for _ in $(seq 1 $((s * 2))); do
		for d in "$@"; do grep -q "$re" "$d/node.log" 2>/dev/null && return 0; done
		sleep 0.5
	done
	fail "no node log matched $re within $s s"
}
wait_id() {
	for _ in $(seq 1 60); do
		tj --data "$1" list --json > "$T/l" 2>/dev/null || true
		if ids_of < "$T/l" | grep -q "$2"; then return 0; fi
		sleep 0.5
	done
	fail "$1 never listed $2"
}
pending_ids() { grep -o '"proposal":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true; }
# proposal_of: the one pending proposal on the founder's node.
proposal_of() {
	tj --data "$F" member list --json | pending_ids | head -1
}

expect_rc 0 tj --data "$F" init --kdf min --network "Red" --stewards 3
for d in "$S" "$U" "$M"; do expect_rc 0 tj --data "$d" init --kdf min --no-network; done
SPK=$(head -1 "$S/id.pub")
UPK=$(head -1 "$U/id.pub")
MPK=$(head -1 "$M/id.pub")
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"

# The founder alone admits the second steward; both admit the third; all three the member.
expect_rc 0 tj --data "$F" member add "$SPK" --name "Segunda" --role steward --out "$T/s.tjw"
expect_rc 0 tj --data "$S" network join "$T/s.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$S" node start
expect_rc 0 tj --data "$F" member add "$UPK" --name "Tercera" --role steward --out "$T/u.tjw"
P=$(proposal_of)
[ ${#P} = 64 ] || fail "no pending proposal on the founder's node"
wait_for "$S" "$P"
expect_rc 0 tj --data "$S" member approve "$P" --json
grep -q '"took_effect": true' "$T/out" || fail "the third steward's admission: $(cat "$T/out")"
wait_for "$F" "Tercera"
expect_rc 0 tj --data "$F" member add "$UPK" --name "Tercera" --role steward --out "$T/u.tjw"
expect_rc 0 tj --data "$U" network join "$T/u.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$U" node start
expect_rc 0 tj --data "$F" member add "$MPK" --name "Saliente" --out "$T/m.tjw"
P=$(proposal_of)
[ ${#P} = 64 ] || fail "no pending proposal on the founder's node"
wait_for "$S" "$P"
wait_for "$U" "$P"
expect_rc 0 tj --data "$S" member approve "$P" --json
expect_rc 0 tj --data "$U" member approve "$P" --json
wait_for "$F" "Saliente"
expect_rc 0 tj --data "$F" member add "$MPK" --name "Saliente" --out "$T/m.tjw"
expect_rc 0 tj --data "$M" network join "$T/m.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$M" node start

# The removal: proposed by the founder, approved by the other two while apart.
expect_rc 0 tj --data "$F" member remove "$MPK" --reason "left-org" --json
grep -q '"took_effect": false' "$T/out" || fail "a removal by one of three stewards took effect"
R=$(grep -o '[0-9a-f]\{64\}' "$T/out" | head -1)
wait_for "$S" "$R"
wait_for "$U" "$R"
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node stop
expect_rc 0 tj --data "$S" member approve "$R" --json
grep -q '"took_effect": false' "$T/out" || fail "two of three approvals took effect: $(cat "$T/out")"
expect_rc 0 tj --data "$U" member approve "$R" --json
grep -q '"took_effect": false' "$T/out" || fail "the other two of three approvals took effect: $(cat "$T/out")"
for d in "$F" "$S" "$U"; do
	grep -q "rotate: epoch" "$d/node.log" 2>/dev/null && fail "$d rotated before the removal took effect"
done

# Back together: the removal takes effect by ingest, and a steward's daemon rotates.
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
wait_log "rotate: epoch 1: 1 key record for 3 members" 60 "$F" "$S" "$U"
wait_log "rotate: key record .* installed" 30 "$F"
for d in "$S" "$U"; do wait_log "rotate: key record .* installed" 30 "$d"; done
for d in "$F" "$S" "$U"; do
	tj --data "$d" member list --json > "$T/ml" 2>/dev/null || true
	grep -q "Saliente" "$T/ml" && fail "$d still lists the removed member"
done

# Written after: the stewards read it; the removed member's node gets nothing new.
gen_incident 9 > "$T/inc.json"
expect_rc 0 tj --data "$F" add --json "$T/inc.json"
A=$(grep -o '^[0-9a-f]\{64\}' "$T/out" | head -1)
[ ${#A} = 64 ] || fail "add printed no id: $(cat "$T/out")"
wait_id "$S" "$A"
wait_id "$U" "$A"
expect_rc 0 tj --data "$U" show "$A"
sleep 2
tj --data "$M" list --json > "$T/kl" 2>/dev/null || true
ids_of < "$T/kl" | grep -q "$A" && fail "the removed node lists $A, written after its removal"
# One rotation: the lowest-keyed steward's at once; the others' deferred checks find it done.
n=$(cat "$F/node.log" "$S/node.log" "$U/node.log" | grep -c "rotate: epoch")
[ "$n" = 1 ] || fail "$n rotations for one removal"
echo "figure: a removal that took effect by sync: one rotation, the stewards read after, the removed node nothing new"
exit 0
