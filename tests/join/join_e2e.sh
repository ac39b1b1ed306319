#!/bin/bash
# Joining end to end through the CLI: a founder, a new node made with
# `init --no-network`, `member add --out` on the founder's running node,
# `network join` on the stopped new node (refused while it runs, refused for
# another key, refused twice), then the new member adds an incident, lists
# it, and the founder receives it through real sync (its ingest accepts it).
source "$(dirname "$0")/../integration/lib.sh"

F=$T/founder
J=$T/joiner
K=$T/stranger

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

ids_of() { grep -o '"id":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true; }

expect_rc 0 tj --data "$F" init --kdf min --name "Red de prueba"
expect_rc 0 tj --data "$J" init --kdf min --no-network
grep -q 'no network yet' "$T/out" || fail "init --no-network should say the node is in no network yet"
expect_rc 0 tj --data "$J" id --json
PK=$(grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' "$T/out" | grep -o '[0-9a-f]\{64\}')
FP=$(grep -o '"fingerprint":[[:space:]]*"[^"]*"' "$T/out" | cut -d'"' -f4)
[ ${#PK} = 64 ] || fail "tejido id --json gave no public key"
[ -n "$FP" ] || fail "tejido id --json gave no fingerprint"

# A port nobody listens on (the daemon wants a fixed one).
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"

# Not a steward's node: the new node cannot admit anyone (it is in no network).
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start
expect_rc 1 tj --data "$J" member add "$PK" --name "Yo" --out "$T/self.tjw"
grep -q 'not in a network' "$T/err" || fail "member add on a node without a network: $(cat "$T/err")"

expect_rc 2 tj --data "$F" member add "$PK" --out "$T/w.tjw"
expect_rc 2 tj --data "$F" member add "${PK:0:60}" --name "Centro" --out "$T/w.tjw"
expect_rc 3 tj --data "$F" member add "$PK" --name "Centro" --states 20,20 --out "$T/w.tjw"
[ ! -e "$T/w.tjw" ] || fail "a refused member add wrote a welcome"
expect_rc 0 tj --data "$F" member add "$PK" --name "Centro de prueba" --role contact --states 20,12 --out "$T/w.tjw"
grep -q "$FP" "$T/out" || fail "member add should show the new member's fingerprint"
[ "$(stat -c %a "$T/w.tjw")" = 600 ] || fail "the welcome bundle must be mode 0600"
expect_rc 0 tj --data "$F" member list --json
grep -q '"name":[[:space:]]*"Centro de prueba"' "$T/out" || fail "member list names the new member"
grep -q '"role":[[:space:]]*"contact"' "$T/out" || fail "member list shows the role"
grep -q "$FP" "$T/out" || fail "member list shows the fingerprint"

# Joining refuses a running node, another node's key, and a second join.
expect_rc 1 tj --data "$J" network join "$T/w.tjw"
grep -q 'is running' "$T/err" || fail "join on a running node: $(cat "$T/err")"
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node stop
expect_rc 0 tj --data "$K" init --kdf min --no-network
expect_rc 1 tj --data "$K" network join "$T/w.tjw"
grep -q 'not sealed to this node' "$T/err" || fail "join with another key: $(cat "$T/err")"
head -c 100 "$T/w.tjw" > "$T/cut.tjw"
expect_rc 1 tj --data "$J" network join "$T/cut.tjw"
expect_rc 0 tj --data "$J" network join "$T/w.tjw"
expect_rc 1 tj --data "$J" network join "$T/w.tjw"
grep -q 'already belongs' "$T/err" || fail "a second join: $(cat "$T/err")"

# The new member speaks.
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start
expect_rc 0 tj --data "$J" member list
[ "$(grep -c 'steward\|contact' "$T/out")" = 2 ] || fail "the new node derives both members"
# A member that is not a steward admits nobody.
KPK=$(head -1 "$K/id.pub")
expect_rc 1 tj --data "$J" member add "$KPK" --name "Otro" --out "$T/k.tjw"
grep -q 'not a steward' "$T/err" || fail "member add on a non-steward member: $(cat "$T/err")"
[ ! -e "$T/k.tjw" ] || fail "a refused member add wrote a welcome"
gen_incident 7 > "$T/inc.json"
expect_rc 0 tj --data "$J" add --json "$T/inc.json"
ID=$(grep -o '^[0-9a-f]\{64\}' "$T/out" | head -1)
[ ${#ID} = 64 ] || fail "add printed no id"
expect_rc 0 tj --data "$J" list --json
[ "$(ids_of < "$T/out")" = "$ID" ] || fail "list on the new node shows its incident"

# The founder receives it through sync (the new node dials the founder's listen address).
for _ in $(seq 1 60); do
	tj --data "$F" list --json > "$T/flist" 2>/dev/null || true
	if ids_of < "$T/flist" | grep -q "$ID"; then
		echo "figure: the founder received the new member's incident"
		exit 0
	fi
	sleep 0.5
done
fail "the founder did not receive the new member's incident within 30 s"
