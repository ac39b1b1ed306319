#!/bin/sh
# Installs the pinned nostr-tools into DEST for the negentropy interop test.
# Exits 77 (ctest SKIP) when npm cannot install it, never 0 without it.
#   npm_install.sh NPM SRC_DIR DEST_DIR
set -u
NPM=$1
SRC=$2
DEST=$3
PKG="$DEST/node_modules/nostr-tools/package.json"
WANT=$(sed -n 's/.*"nostr-tools": *"\([^"]*\)".*/\1/p' "$SRC/package.json")

mkdir -p "$DEST" || exit 1
cp "$SRC/package.json" "$DEST/package.json" || exit 1
if [ -f "$PKG" ] && grep -q "\"version\": *\"$WANT\"" "$PKG"; then
	echo "nostr-tools $WANT already installed in $DEST"
	exit 0
fi
if "$NPM" install --prefix "$DEST" --no-audit --no-fund; then
	if [ -f "$PKG" ] && grep -q "\"version\": *\"$WANT\"" "$PKG"; then
		echo "installed nostr-tools $WANT in $DEST"
		exit 0
	fi
fi
echo "SKIP: could not install nostr-tools $WANT with npm (no registry access?);" \
	"the negentropy interop test cannot run" >&2
exit 77
