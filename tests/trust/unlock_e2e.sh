#!/bin/bash
# Staff passphrases: one Argon2id slot per person. add-person (a current
# passphrase, the new one from a file), the new person unlocks the node,
# duplicates and wrong passphrases refused, remove-person takes the old
# passphrase away, the last person cannot be removed.
source "$(dirname "$0")/../integration/lib.sh"

P1=$TEJIDO_PASSPHRASE_FILE
P2=$T/pass-beatriz
(umask 077 && printf 'otra frase larga de Beatriz %s\n' "$RANDOM" > "$P2")
WRONG=$T/pass-wrong
(umask 077 && printf 'not the passphrase\n' > "$WRONG")

expect_rc 0 tj init --kdf min --person ana --name Prueba
expect_rc 0 tj unlock list
[ "$(cat "$T/out")" = ana ] || fail "unlock list after init: $(cat "$T/out")"

expect_rc 0 env TEJIDO_NEW_PASSPHRASE_FILE="$P2" "$TEJIDO" unlock add-person beatriz --kdf min
expect_rc 0 tj unlock list --json
grep -q '"ana"' "$T/out" && grep -q '"beatriz"' "$T/out" || fail "unlock list --json: $(cat "$T/out")"

# Beatriz unlocks the node with her own passphrase.
expect_rc 0 env TEJIDO_PASSPHRASE_FILE="$P2" timeout 90 "$TEJIDO" node start
node_stop

# Refusals: a second slot for one name, a wrong current passphrase, an unknown person.
expect_rc 1 env TEJIDO_NEW_PASSPHRASE_FILE="$P2" "$TEJIDO" unlock add-person beatriz --kdf min
grep -q "already has a passphrase" "$T/err" || fail "duplicate add-person: $(cat "$T/err")"
expect_rc 5 env TEJIDO_PASSPHRASE_FILE="$WRONG" TEJIDO_NEW_PASSPHRASE_FILE="$P2" "$TEJIDO" unlock add-person carla --kdf min
expect_rc 5 env TEJIDO_PASSPHRASE_FILE="$WRONG" "$TEJIDO" unlock remove-person ana
expect_rc 6 tj unlock remove-person nadie
expect_rc 2 tj unlock add-person
expect_rc 2 tj unlock frobnicate

# Ana leaves: Beatriz removes her; Ana's passphrase no longer opens the node.
expect_rc 0 env TEJIDO_PASSPHRASE_FILE="$P2" "$TEJIDO" unlock remove-person ana
expect_rc 0 tj unlock list
[ "$(cat "$T/out")" = beatriz ] || fail "unlock list after remove: $(cat "$T/out")"
expect_rc 5 timeout 90 "$TEJIDO" node start
expect_rc 0 env TEJIDO_PASSPHRASE_FILE="$P2" timeout 90 "$TEJIDO" node start
node_stop

# The last person stays.
expect_rc 1 env TEJIDO_PASSPHRASE_FILE="$P2" "$TEJIDO" unlock remove-person beatriz
grep -q "only person who can unlock" "$T/err" || fail "removing the last person: $(cat "$T/err")"
[ "$(stat -c %a "$TEJIDO_DATA/key")" = 600 ] || fail "the key file must stay mode 0600"
echo "unlock: ok"
