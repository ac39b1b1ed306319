#!/usr/bin/env bash
# Tejido in two minutes, on a fresh Debian 12 machine: installs the packages,
# builds into build-demo/, creates a throw-away node, documents a dozen
# incidents (invented people, realistic situations), lists, shows and exports
# them, and stops the node. Nothing leaves this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Packages (Debian 12)"
"$here/tools/install-deps.sh"

step "2. Build (build-demo/)"
mkdir -p build-demo
if ! { cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
	cmake --build build-demo -j"$(nproc)" --target tejido; } > build-demo/build.log 2>&1; then
	tail -40 build-demo/build.log
	echo "demo: the build failed; the whole log is in build-demo/build.log" >&2
	exit 1
fi
echo "built build-demo/tools/tejido (log: build-demo/build.log)"
tejido() { "$here/build-demo/tools/tejido" "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tejido-demo.XXXXXX")
export TEJIDO_DATA=$work/data
export TEJIDO_PASSPHRASE_FILE=$work/passphrase
# A real organization types its passphrase; the demo keeps a random one in a file.
head -c 24 /dev/urandom | base64 > "$TEJIDO_PASSPHRASE_FILE"
chmod 600 "$TEJIDO_PASSPHRASE_FILE"
stop_node() { tejido node stop >/dev/null 2>&1 || true; }
trap stop_node EXIT

step "3. A new node: identity, key file sealed with the passphrase, a one-node network"
tejido init --kdf interactive --name "Red Demo Sur" 2>/dev/null
echo "(the fingerprint is what another organization reads aloud before admitting this node)"

step "4. Start the daemon"
tejido node start

step "5. Document twelve incidents (tools/demo/*.json; every name is invented)"
for f in "$here"/tools/demo/*.json; do
	printf '%-48s ' "$(basename "$f")"
	tejido add --json "$f" | awk '{ printf "%s… severity %s  ", substr($1, 1, 12), $3 } END { print "" }'
done
echo
echo "The same through flags (what a script would do):"
tejido add --date 2025-09-20 --state 20 --municipality 20469 --place-type home \
	--victim 'ref=oax-mix-09,unit=individual,role=defender,gender=woman,age_band=30_44,traits=indigenous+migrant,causes=migrant_rights' \
	--aggressor 'category=non_state,type=community_individual,level=not_applicable,involvement=direct' \
	--act threat --protection none --source victim_testimony --reliability usually_reliable \
	--verification unverified --consent network_statistics

step "6. List, in Spanish"
tejido list --lang es

step "7. List, in English, only Oaxaca (state 20)"
tejido list --lang en --state 20

step "8. One incident with its case face (names and narrative; only this organization reads them)"
first_id() { [[ $1 =~ \"id\":[[:space:]]*\"([0-9a-f]{64})\" ]] && printf '%s' "${BASH_REMATCH[1]}"; }
panic=$(first_id "$(tejido list --act attempted_killing --limit 1 --json)")
tejido show --lang es "${panic:0:12}"

step "9. Another, in English: no case face was recorded for it"
obstr=$(first_id "$(tejido list --act obstruction_of_work --state 20 --limit 1 --json)")
tejido show --lang en "${obstr:0:12}"

step "10. Alerts the node raised (codes only, never names)"
tejido alerts --lang es --limit 10

step "11. Statistics by state (any cell under 5 is suppressed)"
tejido stats --by state

step "12. Export (CSV, one row per act; summary only: no names)"
tejido export --format csv --out "$work/incidentes.csv"
head -3 "$work/incidentes.csv" | cut -c1-160
echo "... $(($(wc -l < "$work/incidentes.csv") - 1)) act rows in $work/incidentes.csv (mode 0600)"

step "13. What the node holds"
tejido node status
tejido id

step "14. Stop the node"
tejido node stop
trap - EXIT

cat <<MSG

Done. The demo node lives in $TEJIDO_DATA
  key        the key file (Argon2id + XChaCha20-Poly1305); passphrase in $TEJIDO_PASSPHRASE_FILE
  store/     LMDB: every record encrypted and signed
  node.log   the daemon's log (no names, no plaintext)
Try:  TEJIDO_DATA=$TEJIDO_DATA TEJIDO_PASSPHRASE_FILE=$TEJIDO_PASSPHRASE_FILE build-demo/tools/tejido node start
      build-demo/tools/tejido add      (the interactive form, on a terminal; --lang es|en)
Remove it all with:  rm -rf $work
MSG
