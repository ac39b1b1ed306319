#!/bin/sh
# ctest fixture: installs the pinned npm packages of the SHS interop tests
# into DEST (a folder of the build directory). It always exits 0: when npm
# cannot install, it writes the reason to DEST/INSTALL_FAILED and every
# interop test then reports SKIP (exit 77) with that reason, never a pass.
# usage: npm_install.sh SRC_DIR DEST_DIR
set -u
src=$1
dest=$2
mkdir -p "$dest" || exit 0
rm -f "$dest/INSTALL_FAILED"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "node or npm is not installed" > "$dest/INSTALL_FAILED"
	echo "interop_shs: SKIP setup: node or npm is not installed"
	exit 0
fi
# Reinstall only when the pinned versions changed.
if [ -f "$dest/.installed" ] && cmp -s "$src/package-lock.json" "$dest/.installed" &&
	[ -d "$dest/node_modules/shs1-test" ]; then
	echo "interop_shs: npm packages already installed in $dest"
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/" || exit 0
if npm ci --prefix "$dest" --no-audit --no-fund > "$dest/npm.log" 2>&1; then
	cp "$src/package-lock.json" "$dest/.installed"
	echo "interop_shs: installed npm packages into $dest"
	node -e "for (const p of ['shs1-test','secret-handshake','pull-box-stream']) console.log(p, require('$dest/node_modules/' + p + '/package.json').version)"
else
	tail -5 "$dest/npm.log" > "$dest/INSTALL_FAILED"
	echo "interop_shs: SKIP setup: npm ci failed (see $dest/npm.log):"
	cat "$dest/INSTALL_FAILED"
fi
exit 0
