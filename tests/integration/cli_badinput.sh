#!/bin/bash
# Invalid input exits 3 and stores nothing; bad command lines exit 2 with a
# usage hint; commands without a running node exit 4; a wrong passphrase 5.
source "$(dirname "$0")/lib.sh"

node_init
node_start
gen_incident 1 > "$T/good.json"
expect_rc 0 tj add --json "$T/good.json"
# A UTF-8 byte-order mark (Windows editors) is fine.
{ printf '\xEF\xBB\xBF'; cat "$T/good.json"; } > "$T/bom.json"
expect_rc 0 tj add --json "$T/bom.json"
base=$(count_list)
[ "$base" = 2 ] || fail "expected 2 incidents, got $base"

bad() { # bad NAME FILE [LANG]: exit 3, and nothing new in the list
	expect_rc 3 tj add --json "$2" ${3:+--lang $3}
	[ -s "$T/err" ] || fail "$1: no message"
	[ "$(count_list)" = "$base" ] || fail "$1: something was stored"
}

printf '{"occurred": {"start": "2025-01-01",' > "$T/malformed.json"
bad malformed "$T/malformed.json"
grep -q 'not valid JSON' "$T/err" || fail "malformed: message"

sed 's/"gender":"woman"/"gender":"mujer"/; s/"gender":"man"/"gender":"mujer"/' "$T/good.json" > "$T/code.json"
grep -q mujer "$T/code.json" || fail "test setup: no gender to replace"
bad unknown-code "$T/code.json" en
grep -q 'victims\[0\]\.gender' "$T/err" || fail "unknown code (en): the message does not name the field"
grep -q "mujer" "$T/err" || fail "unknown code (en): the message does not quote the value"
cp "$T/err" "$T/err.en"
bad unknown-code-es "$T/code.json" es
grep -q 'victims\[0\]\.gender' "$T/err" || fail "unknown code (es): the message does not name the field"
cmp -s "$T/err" "$T/err.en" && fail "unknown code: the Spanish message is the English one"
LANG=es_MX.UTF-8 "$TEJIDO" add --json "$T/code.json" 2> "$T/err.lang" && fail "LANG=es: accepted"
cmp -s "$T/err.lang" "$T/err" || fail "LANG=es_MX does not select Spanish messages"

next_year=$(( $(date +%Y) + 1 ))
sed "s/\"start\":\"2025-/\"start\":\"$next_year-/" "$T/good.json" > "$T/future.json"
bad future-date "$T/future.json"
grep -q 'occurred' "$T/err" || fail "future date: the message does not name the field"

sed 's/"acts":\[[^]]*\],//' "$T/good.json" > "$T/noacts.json"
grep -q '"acts"' "$T/noacts.json" && fail "test setup: acts not removed"
bad missing-field "$T/noacts.json"
grep -q 'acts' "$T/err" || fail "missing field: the message does not name it"

big=$(head -c 20000 /dev/zero | tr '\0' 'a')
sed "s/Relato de prueba/$big/" "$T/good.json" > "$T/big.json"
bad oversized-narrative "$T/big.json"
grep -q 'narrative' "$T/err" || fail "oversized narrative: the message does not name the field"

# One bad incident in an array: none of them is stored.
{ printf '['; gen_incident 2; printf ','; gen_incident 3; printf ','; cat "$T/code.json"; printf ']'; } > "$T/mixed.json"
bad mixed-array "$T/mixed.json"
grep -q 'incident 2' "$T/err" || fail "mixed array: the message does not say which incident"

expect_rc 3 tj add --date 2025-01-01 --state 99 --place-type home --act threat --victim "ref=x,unit=individual,role=defender,gender=woman,age_band=30_44"
[ "$(count_list)" = "$base" ] || fail "flags with a bad state: something was stored"

# Bad command lines: exit 2 and a hint.
usage() {
	expect_rc 2 tj "$@"
	grep -q -- '--help' "$T/err" || fail "'$*': no usage hint"
}
usage frobnicate
usage list --bogus
usage list --limit 0
usage list --state 99
usage list --since yesterday
usage show 12ab
usage show not-hex-at-all
usage add --act 'threat:x'
usage add --victim 'colour=blue'
usage add --json "$T/good.json" --state 20
usage export --format xml
usage vocab no_such_field
usage node restart
usage init --kdf weak
expect_rc 1 tj init --kdf min
grep -q 'already holds a node' "$T/err" || fail "init over a node: message"
mkdir "$T/full" && touch "$T/full/notes.txt" && chmod 755 "$T/full"
expect_rc 1 tj --data "$T/full" init --kdf min
grep -q 'not empty' "$T/err" || fail "init into a non-empty directory: message"
[ "$(stat -c %a "$T/full")" = 755 ] || fail "init changed the mode of a directory it refused"
usage peer add 127.0.0.1:7450 not-a-key
usage peer remove
expect_rc 0 tj peer list
expect_rc 6 tj show 0123456789abcdef
expect_rc 0 tj --help
grep -q 'Exit codes' "$T/out" || fail "--help documents the exit codes"
for c in init node add list show export id vocab; do
	expect_rc 0 tj "$c" --help
	grep -q "usage: tejido $c" "$T/out" || fail "$c --help"
done

# A wrong passphrase: exit 5 (the node is stopped first: start refuses a second node).
node_stop
printf 'wrong passphrase\n' > "$T/wrong"
expect_rc 5 env TEJIDO_PASSPHRASE_FILE="$T/wrong" "$TEJIDO" node start
grep -q 'wrong passphrase' "$T/err" || fail "wrong passphrase: message"
grep -q 'can be read by other users' "$T/err" || fail "a world-readable passphrase file gets no warning"

# Without a running node: exit 4, and the message says how to start one.
for cmd in "list" "show 0123456789abcdef" "node stop" "node status" "export --format csv" "peer list"; do
	expect_rc 4 tj $cmd
	grep -q 'tejido node start' "$T/err" || fail "'$cmd' without a node: the message does not say what to do"
done
expect_rc 4 tj add --json "$T/good.json"
expect_rc 0 tj id --json
grep -q '"fingerprint"' "$T/out" || fail "id works without a node"
echo "badinput: ok"
