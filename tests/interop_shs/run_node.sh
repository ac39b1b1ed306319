#!/bin/sh
# Runs a Node.js interop script with the packages installed by npm_install.sh,
# or exits 77 (ctest SKIP) with the reason when they could not be installed.
# usage: run_node.sh NPM_DIR SCRIPT [ARGS...]
set -u
npm_dir=$1
shift
if [ ! -d "$npm_dir/node_modules/shs1-test" ] || [ ! -d "$npm_dir/node_modules/secret-handshake" ]; then
	reason="npm packages missing"
	[ -f "$npm_dir/INSTALL_FAILED" ] && reason=$(cat "$npm_dir/INSTALL_FAILED")
	echo "SKIP: interop test not run: could not install npm packages into $npm_dir: $reason"
	exit 77
fi
NODE_PATH="$npm_dir/node_modules" exec node "$@"
