#!/bin/bash
# Panic wipe end to end: a canary in a victim name and a narrative; `tejido
# wipe --yes` on a running node destroys the key file, makes the node
# overwrite its keys and stop, in under a second; afterwards the canary is in
# no file, no 24-byte fragment of the old key file is in any file, the key
# file is gone, and a restart refuses with the wipe date and exit code 7.
# Then the same with the node stopped.
source "$(dirname "$0")/../integration/lib.sh"

CANARY="CANARIO-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
node_init
node_start
gen_incident 3 "$CANARY" > "$T/one.json"
sed -i "s/Persona Inventada 3/Persona $CANARY/" "$T/one.json"
expect_rc 0 tj add --json "$T/one.json"
id=$(cut -d' ' -f1 "$T/out")
expect_rc 0 tj show "$id"
grep -q "Persona $CANARY" "$T/out" || fail "show does not print the canary name: the test would prove nothing"
cp "$TEJIDO_DATA/key" "$T/key.before"
pid=$(cat "$TEJIDO_DATA/node.pid")

# Without --yes and without a terminal: refused, nothing touched.
expect_rc 2 tj wipe </dev/null
[ -f "$TEJIDO_DATA/key" ] || fail "a refused wipe removed the key file"
expect_rc 0 tj node status

expect_rc 0 tj wipe --yes
cat "$T/out"
grep -q "the node overwrote its keys in memory and stopped" "$T/out" || fail "wipe did not reach the node: $(cat "$T/out")"
ms=$(grep -o 'in [0-9.]* ms' "$T/out" | grep -o '[0-9.]*')
[ -n "$ms" ] || fail "wipe printed no time"
awk -v m="$ms" 'BEGIN { exit !(m < 1000) }' || fail "wipe took $ms ms (limit 1000)"
echo "wipe (node running): $ms ms"
# Gone, or a zombie nobody reaped yet (its memory is released either way).
if [ -r "/proc/$pid/stat" ] && ! sed 's/.*) //' "/proc/$pid/stat" | grep -q '^Z'; then
	fail "the node still runs after the wipe"
fi
grep -q "panic wipe: every key in memory overwritten" "$TEJIDO_DATA/node.log" || fail "the node did not log its wipe"
[ ! -e "$TEJIDO_DATA/key" ] || fail "the key file survived the wipe"
ls "$TEJIDO_DATA"/key.tmp-* >/dev/null 2>&1 && fail "a temporary key file survived the wipe"
[ -f "$TEJIDO_DATA/wiped" ] || fail "no wipe marker"
grep -q '^wiped_at_ms=[0-9]*$' "$TEJIDO_DATA/wiped" || fail "the marker holds more than the date"

# The canary never was on disk; check anyway.
if grep -r -a -l -F "$CANARY" "$TEJIDO_DATA"; then fail "the canary is under $TEJIDO_DATA"; fi
if grep -r -a -l -F "${CANARY:8:16}" "$TEJIDO_DATA"; then fail "part of the canary is under $TEJIDO_DATA"; fi

# Brute check: no 24-byte fragment of the old key file is in any file (every
# such fragment holds one of its 16-byte windows at a multiple of 8).
python3 - "$T/key.before" "$TEJIDO_DATA" <<'PY' || fail "bytes of the old key file survive under the data directory"
import os, sys
key = open(sys.argv[1], "rb").read()
assert len(key) >= 64, "the old key file is too short to mean anything"
wins = [key[i:i + 16] for i in range(0, len(key) - 15, 8)]
bad = 0
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        p = os.path.join(root, f)
        data = open(p, "rb").read()
        for w in wins:
            if data.find(w) >= 0:
                print("fragment of the old key file in", p, file=sys.stderr)
                bad += 1
                break
print("key-file brute check: %d windows, %d files" % (len(wins), sum(len(f) for _, _, f in os.walk(sys.argv[2]))))
sys.exit(1 if bad else 0)
PY

# The old passphrase opens nothing: the key file is gone, and the node says why.
expect_rc 7 timeout 90 "$TEJIDO" node start
grep -q "this node's keys were wiped on [0-9-]* [0-9:]* UTC; its data can no longer be read" "$T/err" ||
	fail "restart did not say the keys were wiped: $(cat "$T/err")"
[ -e "$TEJIDO_DATA/control.sock" ] && tj node status >/dev/null 2>&1 && fail "a node answers after the wipe"

# A stopped node: the key file alone.
export TEJIDO_DATA=$T/data2
node_init
# On a terminal it asks: anything but WIPE keeps the keys.
if command -v script >/dev/null; then
	(sleep 1; echo wipe) | script -qec "$TEJIDO wipe" /dev/null > "$T/out" 2>&1 && fail "wipe went on without WIPE"
	[ -f "$TEJIDO_DATA/key" ] || fail "a wipe that was not confirmed removed the key file"
	(sleep 1; echo WIPE) | script -qec "$TEJIDO wipe" /dev/null > "$T/out" 2>&1 || fail "confirmed wipe: $(cat "$T/out")"
else
	expect_rc 0 tj wipe --yes
fi
grep -q "no node was running" "$T/out" || fail "wipe of a stopped node: $(cat "$T/out")"
echo "wipe (node stopped): $(grep -o 'in [0-9.]* ms' "$T/out")"
[ ! -e "$TEJIDO_DATA/key" ] || fail "the key file survived the wipe of a stopped node"
expect_rc 7 timeout 90 "$TEJIDO" node start
expect_rc 0 tj wipe --yes
echo "wipe: ok"
