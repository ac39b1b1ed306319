#!/usr/bin/env bash
# Installs what Tejido needs to build and test on Debian 12 (bookworm).
# Skips apt entirely when every package is already installed.
set -euo pipefail

packages=(build-essential cmake pkg-config libsodium-dev libuv1-dev libmsgpack-dev liblmdb-dev
	libcmocka-dev libinih-dev libcjson-dev valgrind nodejs npm clang python3)

# A tool installed some other way (e.g. a nodejs build that bundles npm) counts as present.
declare -A commands=([nodejs]=node [npm]=npm [clang]=clang [valgrind]=valgrind [cmake]=cmake [python3]=python3)

missing=()
for p in "${packages[@]}"; do
	if [ -n "${commands[$p]:-}" ] && command -v "${commands[$p]}" >/dev/null; then
		continue
	fi
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: every package is already installed"
	exit 0
fi

if ! command -v apt-get >/dev/null; then
	echo "install-deps: apt-get not found; install by hand: ${missing[*]}" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
	sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
