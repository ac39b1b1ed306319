#!/bin/bash
# Stewards' threshold through the CLI: `init --stewards 2`; the founder alone
# admits a second steward (fewer stewards than the threshold); then an
# admission and a removal each need both stewards (member approve on the
# second steward's node, reached by real sync); member list shows what is
# pending and who approved it; a second approval by the same steward and an
# approval of a spent proposal change nothing.
source "$(dirname "$0")/../integration/lib.sh"

F=$T/founder
S=$T/steward
M=$T/member

stop_all() {
	local d pid
	for d in "$F" "$S" "$M"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
	cleanup
}
trap stop_all EXIT

pending_ids() { grep -o '"proposal":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true; }
# wait_for DIR REGEX: member list --json on DIR matches REGEX within 30 s.
wait_for() {
	for _ in $(seq 1 60); do
		tj --data "$1" member list --json > "$T/wl" 2>/dev/null || true
		if grep -q "$2" "$T/wl"; then return 0; fi
		sleep 0.5
	done
	fail "member list on $1 never matched $2: $(cat "$T/wl")"
}

expect_rc 2 tj --data "$F" init --kdf min --network "Red" --stewards 0
expect_rc 0 tj --data "$F" init --kdf min --network "Red" --stewards 2
expect_rc 0 tj --data "$S" init --kdf min --no-network
expect_rc 0 tj --data "$M" init --kdf min --no-network
SPK=$(head -1 "$S/id.pub")
MPK=$(head -1 "$M/id.pub")

for _ in $(seq 1 50); do
	PORT=$((20000 + RANDOM % 40000))
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$F" member list --json
grep -q '"threshold":[[:space:]]*2' "$T/out" || fail "the genesis threshold is 2: $(cat "$T/out")"

# One steward, threshold 2: the founder alone admits the second steward.
expect_rc 0 tj --data "$F" member add "$SPK" --name "Segunda" --role steward --out "$T/s.tjw"
[ -s "$T/s.tjw" ] || fail "the second steward's admission took effect at once (no welcome)"
expect_rc 0 tj --data "$S" network join "$T/s.tjw"
expect_rc 0 timeout 90 "$TEJIDO" --data "$S" node start

# Two stewards now: an admission waits for the second one.
expect_rc 0 tj --data "$F" member add "$MPK" --name "Miembro" --out "$T/m.tjw"
[ ! -e "$T/m.tjw" ] || fail "an admission below the threshold wrote a welcome"
expect_rc 0 tj --data "$F" member list --json
P=$(pending_ids < "$T/out")
[ ${#P} = 64 ] || fail "member list shows one pending proposal: $(cat "$T/out")"
grep -q '"action":[[:space:]]*"admit"' "$T/out" || fail "the pending proposal is an admission"
expect_rc 0 tj --data "$F" member list
grep -q "pending proposals" "$T/out" || fail "the table lists pending proposals"
grep -q "1 approval" "$T/out" || fail "the pending proposal has one approval: $(cat "$T/out")"

# The founder approving its own proposal again counts for nothing.
expect_rc 0 tj --data "$F" member approve "$P" --json
grep -q '"took_effect": false' "$T/out" || fail "a second approval by the same steward took effect"
expect_rc 0 tj --data "$F" member list --json
grep -q "$MPK" "$T/out" && ! grep -q "\"$P\"" "$T/out" && fail "the member was admitted by one steward"
[ "$(pending_ids < "$T/out")" = "$P" ] || fail "the proposal is still pending"

# Refused before anything is written: a malformed id, an unknown proposal, a non-steward.
expect_rc 2 tj --data "$S" member approve "${P:0:60}"
wait_for "$S" "$P"
expect_rc 6 tj --data "$S" member approve "$(printf '%064d' 0)"
grep -q 'no such pending proposal' "$T/err" || fail "approving an unknown proposal: $(cat "$T/err")"

# The second steward's approval (on its own node) makes it take effect, on both nodes.
expect_rc 0 tj --data "$S" member approve "$P" --json
grep -q '"took_effect": true' "$T/out" || fail "the second steward's approval did not take effect: $(cat "$T/out")"
wait_for "$F" "\"name\":[[:space:]]*\"Miembro\""
# A replayed approval of the spent proposal is refused; nothing changes.
expect_rc 6 tj --data "$S" member approve "$P"
grep -q 'no such pending proposal' "$T/err" || fail "a replayed approval: $(cat "$T/err")"
expect_rc 0 tj --data "$F" member add "$MPK" --name "Miembro" --out "$T/m.tjw"
[ -s "$T/m.tjw" ] || fail "the admitted member gets its welcome"

# Removal is a proposal like an admission.
expect_rc 2 tj --data "$F" member remove "$MPK"
expect_rc 0 tj --data "$F" member remove "$MPK" --reason "left-org" --json
grep -q '"took_effect": false' "$T/out" || fail "a removal by one of two stewards took effect"
R=$(grep -o '[0-9a-f]\{64\}' "$T/out" | head -1)
wait_for "$S" "$R"
expect_rc 0 tj --data "$S" member list
grep -q "remove" "$T/out" || fail "the pending removal is listed: $(cat "$T/out")"
expect_rc 0 tj --data "$S" member approve "$R" --json
grep -q '"took_effect": true' "$T/out" || fail "the removal did not take effect: $(cat "$T/out")"
expect_rc 0 tj --data "$S" member list --json
grep -q "Miembro" "$T/out" && fail "the removed member is still listed"
# Removing a steward would leave fewer stewards than the threshold: it never takes effect.
expect_rc 0 tj --data "$F" member remove "$SPK" --reason "test" --json
R2=$(grep -o '[0-9a-f]\{64\}' "$T/out" | head -1)
wait_for "$S" "$R2"
expect_rc 0 tj --data "$S" member approve "$R2" --json
grep -q '"took_effect": false' "$T/out" || fail "a removal under the threshold took effect: $(cat "$T/out")"
expect_rc 0 tj --data "$S" member list --json
[ "$(grep -c '"role":[[:space:]]*"steward"' "$T/out")" = 2 ] || fail "both stewards remain: $(cat "$T/out")"
[ -z "$(pending_ids < "$T/out")" ] || fail "the void removal is spent, not pending: $(cat "$T/out")"
echo "figure: threshold 2 admission and removal through two stewards' nodes"
exit 0
