#!/bin/bash
# The interactive form of `tejido add`, driven through a pseudo-terminal
# (util-linux `script`): a bad answer is asked again, the review shows the
# incident, saving stores it; end of input cancels and stores nothing.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "SKIP: no util-linux script(1)"; exit 77; }

node_init
node_start

# on_tty ANSWERS_FILE ARGS...: runs tejido on a terminal, answers from the file.
on_tty() {
	local answers=$1
	shift
	timeout 60 script -qec "$(printf '%q ' "$TEJIDO" "$@")" /dev/null < "$answers" > "$T/form.out" 2>&1
}

# Spanish; "mujer" is not a gender code, so the question comes again.
printf '%s\n' 2025-03-14 "" oax 067 1 n "" "" 1 mujer woman 3 1 "1,3" n "" 1 4 3 "" n death_threat "" n \
	2 2 1 1 1 2 3 "" "Ana Inventada" "" "" "" "Linea uno" "." "1,2" "" > "$T/answers.es"
on_tty "$T/answers.es" add --lang es || fail "form (es): exit $?"
grep -q "'mujer' no es una de las claves" "$T/form.out" || fail "form (es): a bad code is not asked again"
grep -q "==== Revisión ====" "$T/form.out" || fail "form (es): no review"
grep -q "Amenaza de muerte" "$T/form.out" || fail "form (es): the review has no labels"
id=$(grep -o '[0-9a-f]\{64\} severity 5' "$T/form.out" | cut -d' ' -f1)
[ -n "$id" ] || fail "form (es): no id printed"
expect_rc 0 tj show --json "$id"
grep -q '"narrative":[[:space:]]*"Linea uno"' "$T/out" || fail "form (es): the narrative was not stored"
grep -q '"gender":[[:space:]]*"woman"' "$T/out" || fail "form (es): the gender was not stored"

# Review, "no", edit: every earlier answer is the default; only the verification changes.
printf '%s\n' 2025-04-01 "" 20 067 1 n "" "" 1 woman 3 "" "" n "" 1 4 3 "" n threat "" n \
	2 2 "1,2" 1 1 2 3 "" "Beto Inventado" "" "" "" "Primera versión" "." "1" \
	n "" \
	"" "" "" "" "" "" "" "" "" "" "" "" "" "" "" 1 "" "" > "$T/answers.edit"
on_tty "$T/answers.edit" add --lang es || fail "form (edit): exit $?"
grep -q "Conservar las víctimas" "$T/form.out" || fail "form (edit): no offer to keep the victims"
id=$(grep -o '[0-9a-f]\{64\} severity [0-9]' "$T/form.out" | cut -d' ' -f1)
[ -n "$id" ] || fail "form (edit): no id printed"
expect_rc 0 tj show --json "$id"
grep -q '"verification":[[:space:]]*"unverified"' "$T/out" || fail "form (edit): the edited answer was not stored"
grep -q '"panic_button",[[:space:]]*"escort"' "$T/out" || grep -q '"escort"' "$T/out" ||
	fail "form (edit): the default measures were not kept"
grep -q '"narrative":[[:space:]]*"Primera versión"' "$T/out" || fail "form (edit): the case face was not kept"
[ "$(count_list)" = 2 ] || fail "form (edit): expected exactly two incidents"

# English; the input ends in the middle: cancelled, nothing stored.
printf '%s\n' 2025-03-14 "" 20 > "$T/answers.en"
on_tty "$T/answers.en" add --lang en && fail "form (en): a cancelled form exits 0"
grep -q "When did it happen" "$T/form.out" || fail "form (en): questions are not in English"
grep -q "nothing was stored" "$T/form.out" || fail "form (en): cancel message"
[ "$(count_list)" = 2 ] || fail "form (en): a cancelled form stored something"

# Not a terminal and no input: a usage error, not a hang.
expect_rc 2 tj add < /dev/null

# on_tty_slow "LINE1|LINE2" ARGS...: like on_tty, one line every 1.2 s (the
# passphrase prompt flushes what was typed ahead, as a terminal should).
on_tty_slow() {
	local lines=$1
	shift
	{
		IFS='|' read -ra parts <<< "$lines"
		for l in "${parts[@]}"; do
			sleep 1.2
			printf '%s\n' "$l"
		done
		sleep 0.5
	} | timeout 60 script -qec "$(printf '%q ' "$TEJIDO" "$@")" /dev/null > "$T/form.out" 2>&1
}

# Passphrases typed on the terminal (no TEJIDO_PASSPHRASE_FILE): asked twice at init.
node_stop
TEJIDO_PASSPHRASE_FILE= on_tty_slow "una frase larga|otra frase" --data "$T/tty-node" init --kdf min && fail "init with two different passphrases"
grep -q "passphrases differ" "$T/form.out" || fail "init: mismatch message"
[ -e "$T/tty-node/key" ] && fail "init: a key file was created although the passphrases differ"
TEJIDO_PASSPHRASE_FILE= on_tty_slow "una frase larga|una frase larga" --data "$T/tty-node" init --kdf min || fail "init on a terminal"
grep -q "una frase" "$T/form.out" && fail "the passphrase was echoed"
TEJIDO_PASSPHRASE_FILE= on_tty_slow "una frase larga" --data "$T/tty-node" node start || fail "node start on a terminal"
expect_rc 0 tj --data "$T/tty-node" node stop
TEJIDO_PASSPHRASE_FILE= expect_rc 1 tj --data "$T/tty-node" node start < /dev/null
grep -q "TEJIDO_PASSPHRASE_FILE" "$T/err" || fail "no terminal: the message does not say what to do"
echo "form: ok"
