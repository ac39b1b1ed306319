#!/bin/bash
# Circles with three real nodes through the CLI: A (founder) makes a circle
# with B; an incident whose case face is sealed to the circle reaches B and C
# by sync: B reads the case, C only the summary. A removes B from the circle
# (a new key generation for the remaining members); B cannot read the case
# of an incident added after, though it still reads the earlier one.
# Refusals: an unknown circle name (exit 6, nothing stored), a non-member of
# the network named in a circle, a change by a node that is not the admin.
source "$(dirname "$0")/../integration/lib.sh"

A=$T/a
B=$T/b
C=$T/c
X=$T/x

stop_all() {
	local d pid
	for d in "$A" "$B" "$C"; do
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
# wait_gen DIR GEN: DIR's circle list shows generation GEN within 30 s.
wait_gen() {
	for _ in $(seq 1 60); do
		tj --data "$1" circle list --json > "$T/cl" 2>/dev/null || true
		if grep -q "\"generation\":[[:space:]]*$2" "$T/cl"; then return 0; fi
		sleep 0.5
	done
	fail "$1 never saw generation $2 of the circle: $(cat "$T/cl")"
}
# add_one DIR N [FLAGS...]: adds incident N on DIR; its id in $ID.
add_one() {
	local d=$1 n=$2
	shift 2
	gen_incident "$n" > "$T/inc.json"
	expect_rc 0 tj --data "$d" add --json "$T/inc.json" "$@"
	ID=$(grep -o '^[0-9a-f]\{64\}' "$T/out" | head -1)
	[ ${#ID} = 64 ] || fail "add on $d printed no id: $(cat "$T/out")"
}
count_records() {
	tj --data "$1" node status --json | grep -o '"records":[[:space:]]*[0-9]*' | grep -o '[0-9]*$'
}

expect_rc 0 tj --data "$A" init --kdf min --network "Red"
for d in "$B" "$C" "$X"; do expect_rc 0 tj --data "$d" init --kdf min --no-network; done
BPK=$(head -1 "$B/id.pub")
CPK=$(head -1 "$C/id.pub")
XPK=$(head -1 "$X/id.pub")
for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$A" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$A" member add "$BPK" --name "Centro B" --out "$T/b.tjw"
expect_rc 0 tj --data "$A" member add "$CPK" --name "Centro C" --out "$T/c.tjw"
expect_rc 0 tj --data "$B" network join "$T/b.tjw"
expect_rc 0 tj --data "$C" network join "$T/c.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$B" node start
expect_rc 0 timeout 90 "$TEJIDO" --data "$C" node start

# Refused: bad names and keys (usage), a non-member of the network, an unknown circle.
expect_rc 2 tj --data "$A" circle create "a,b" --members "$BPK"
expect_rc 2 tj --data "$A" circle create "Contactos Oaxaca" --members "centro:${BPK:0:60}"
expect_rc 1 tj --data "$A" circle create "Contactos Oaxaca" --members "$XPK"
grep -q "not a member of the network" "$T/err" || fail "non-member in a circle: $(cat "$T/err")"
before=$(count_records "$A")
gen_incident 1 > "$T/inc.json"
expect_rc 6 tj --data "$A" add --json "$T/inc.json" --case-readers "circle:Nadie"
grep -q "no circle named 'Nadie'" "$T/err" || fail "unknown circle: $(cat "$T/err")"
expect_rc 2 tj --data "$A" add --json "$T/inc.json" --summary-readers "org:$BPK"
[ "$(count_records "$A")" = "$before" ] || fail "a refused add stored something"

# A circle of A and B.
expect_rc 0 tj --data "$A" circle create "Contactos Oaxaca" --members "centro-b:$BPK" --json
grep -q '"generation": 1' "$T/out" || fail "circle create: $(cat "$T/out")"
expect_rc 1 tj --data "$A" circle create "Contactos Oaxaca" --members "$BPK"
grep -q "already administers" "$T/err" || fail "a second circle of one name: $(cat "$T/err")"
expect_rc 0 tj --data "$A" circle list
grep -q "Contactos Oaxaca" "$T/out" || fail "circle list: $(cat "$T/out")"
wait_gen "$B" 1
grep -q '"holds_key":[[:space:]]*true' "$T/cl" || fail "B does not hold the circle key: $(cat "$T/cl")"
wait_gen "$C" 1
grep -q '"member":[[:space:]]*false' "$T/cl" || fail "C is listed in the circle: $(cat "$T/cl")"
# Only the admin changes the circle.
expect_rc 6 tj --data "$B" circle add "Contactos Oaxaca" "$CPK"

# A case for the circle: B reads it, C reads the summary only.
add_one "$A" 2 --case-readers "circle:Contactos Oaxaca"
I1=$ID
wait_id "$B" "$I1"
wait_id "$C" "$I1"
expect_rc 0 tj --data "$B" show "$I1"
grep -q "Persona Inventada 2" "$T/out" || fail "B (in the circle) does not read the case: $(cat "$T/out")"
expect_rc 0 tj --data "$C" show "$I1"
grep -q "Persona Inventada 2" "$T/out" && fail "C (not in the circle) reads the case"
grep -q "case not shared with this node" "$T/out" || fail "C's show: $(cat "$T/out")"
# Mixed with an organization's key: C is named, so C reads this one.
add_one "$A" 3 --case-readers "circle:Contactos Oaxaca,org:$CPK"
I2=$ID
wait_id "$C" "$I2"
expect_rc 0 tj --data "$C" show "$I2"
grep -q "Persona Inventada 3" "$T/out" || fail "C named by key does not read the case: $(cat "$T/out")"
# The summary sealed to the circle: C does not even list it.
add_one "$A" 4 --case-readers "circle:Contactos Oaxaca" --summary-readers "circle:Contactos Oaxaca"
I3=$ID
wait_id "$B" "$I3"
expect_rc 0 tj --data "$B" show "$I3"
grep -q "Persona Inventada 4" "$T/out" || fail "B does not read a circle-only incident: $(cat "$T/out")"

# Sharing an older case with the circle later: a grant sealed to the circle key.
add_one "$A" 7
I5=$ID
wait_id "$B" "$I5"
expect_rc 0 tj --data "$B" show "$I5"
grep -q "case not shared with this node" "$T/out" || fail "B reads a case not shared with it: $(cat "$T/out")"
expect_rc 6 tj --data "$A" share "$I5" --with "circle:Nadie"
expect_rc 0 tj --data "$A" share "$I5" --with "circle:Contactos Oaxaca"
grep -q "and circle Contactos Oaxaca" "$T/out" || fail "share with a circle: $(cat "$T/out")"
for _ in $(seq 1 60); do
	tj --data "$B" show "$I5" > "$T/s5" 2>/dev/null || true
	grep -q "Persona Inventada 7" "$T/s5" && break
	sleep 0.5
done
grep -q "Persona Inventada 7" "$T/s5" || fail "B does not read a case shared with the circle: $(cat "$T/s5")"
expect_rc 0 tj --data "$C" show "$I5"
grep -q "Persona Inventada 7" "$T/out" && fail "C reads a case shared with a circle it is not in"

# A removes B: generation 2, sealed to A alone; B keeps what it had, reads nothing new.
expect_rc 0 tj --data "$A" circle remove "Contactos Oaxaca" "$BPK" --json
grep -q '"generation": 2' "$T/out" || fail "circle remove: $(cat "$T/out")"
wait_gen "$B" 2
grep -q '"member":[[:space:]]*false' "$T/cl" || fail "B still listed in the circle: $(cat "$T/cl")"
add_one "$A" 5 --case-readers "circle:Contactos Oaxaca"
I4=$ID
wait_id "$B" "$I4"
expect_rc 0 tj --data "$B" show "$I4"
grep -q "Persona Inventada 5" "$T/out" && fail "B reads a case written after its removal"
grep -q "case not shared with this node" "$T/out" || fail "B's show after removal: $(cat "$T/out")"
expect_rc 0 tj --data "$B" show "$I1"
grep -q "Persona Inventada 2" "$T/out" || fail "B lost the case it could read before"
expect_rc 0 tj --data "$A" show "$I4"
grep -q "Persona Inventada 5" "$T/out" || fail "A does not read its own circle case"
# B can no longer seal to the circle.
gen_incident 6 > "$T/inc.json"
expect_rc 6 tj --data "$B" add --json "$T/inc.json" --case-readers "circle:Contactos Oaxaca"
# The summary sealed to the circle never opened on C (not in the circle then): not listed, not shown.
tj --data "$C" list --json > "$T/l" 2>/dev/null || true
ids_of < "$T/l" | grep -q "$I3" && fail "C lists an incident whose summary is sealed to a circle it is not in"
tj --data "$C" show "$I3" > "$T/out" 2> "$T/err" && fail "C shows a circle-only incident: $(cat "$T/out")"
grep -q "Persona Inventada 4" "$T/out" && fail "C reads a circle-only case"
grep -q "cannot read it" "$T/err" || fail "C's show of a circle-only incident: $(cat "$T/err")"

# A adds C: generation 3, a fresh key; C reads what is written from now on, B still nothing.
expect_rc 0 tj --data "$A" circle add "Contactos Oaxaca" "$CPK" --json
grep -q '"generation": 3' "$T/out" || fail "circle add: $(cat "$T/out")"
expect_rc 1 tj --data "$A" circle add "Contactos Oaxaca" "$CPK"
grep -q "in the circle already" "$T/err" || fail "adding twice: $(cat "$T/err")"
expect_rc 1 tj --data "$A" circle remove "Contactos Oaxaca" "$(head -1 "$A/id.pub")"
grep -q "cannot leave" "$T/err" || fail "the admin removing itself: $(cat "$T/err")"
wait_gen "$C" 3
grep -q '"holds_key":[[:space:]]*true' "$T/cl" || fail "C does not hold the new circle key: $(cat "$T/cl")"
add_one "$A" 8 --case-readers "circle:Contactos Oaxaca"
I6=$ID
wait_id "$C" "$I6"
wait_id "$B" "$I6"
expect_rc 0 tj --data "$C" show "$I6"
grep -q "Persona Inventada 8" "$T/out" || fail "C (added) does not read the new case: $(cat "$T/out")"
expect_rc 0 tj --data "$B" show "$I6"
grep -q "Persona Inventada 8" "$T/out" && fail "B (removed) reads a case written after its removal"
# C leaves the network: the circle names it, so nothing is sealed to the circle until A removes it.
expect_rc 0 tj --data "$A" member remove "$CPK" --reason left-org --json
expect_rc 0 tj --data "$A" circle list
grep -q "left the network" "$T/out" || fail "circle list does not flag the departed member: $(cat "$T/out")"
gen_incident 9 > "$T/inc.json"
expect_rc 1 tj --data "$A" add --json "$T/inc.json" --case-readers "circle:Contactos Oaxaca"
grep -q "no longer a member of the network" "$T/err" || fail "sealing to a circle with a departed member: $(cat "$T/err")"
expect_rc 0 tj --data "$A" circle remove "Contactos Oaxaca" "$CPK"
add_one "$A" 9 --case-readers "circle:Contactos Oaxaca"
echo "figure: circle: member reads the case, non-member the summary; after removal, nothing new"
exit 0
