#!/usr/bin/env bash
# Tejido in two minutes, on a fresh Debian 12 machine: installs the packages,
# builds into build-demo/, and runs a real three-node network on 127.0.0.1 in
# a line, A - B - C: three organizations, each with its own node, identity and
# passphrase. A founds the network and admits B and C; A and B are peers, B
# and C are peers, A and C never talk to each other. Incidents documented at A
# and at C (invented people, realistic situations) reach the far end through
# B; the demo measures how long they take, shows what the far node can and
# cannot read, the alerts a third node raised, statistics, the peers and the
# nodes' status, then stops all three nodes. Nothing leaves this machine.
#
#   TEJIDO_DEMO_BIN=PATH   use this tejido binary: skip the packages and the build
#                          (the test suite runs the demo this way: tests/demo/)
#   TEJIDO_DEMO_KDF=LEVEL  passphrase cost (default interactive; the tests use min)
#   TEJIDO_DEMO_WAIT=S     how long to wait for records to cross (default 20 s)
#   TEJIDO_DEMO_KEEP=1     keep the three data directories (nodes stopped) at the end
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ -t 1 ]; then bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'; else bold='' dim='' off=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*"; }
die() {
	printf 'demo: FAILED: %s\n' "$*" >&2
	exit 1
}

kdf=${TEJIDO_DEMO_KDF:-interactive}
wait_s=${TEJIDO_DEMO_WAIT:-20}

if [ -n "${TEJIDO_DEMO_BIN:-}" ]; then
	bin=$TEJIDO_DEMO_BIN
	[ -x "$bin" ] || die "TEJIDO_DEMO_BIN is not an executable: $bin"
	say "(TEJIDO_DEMO_BIN is set: no packages, no build; using $bin)"
	n=0
else
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
	say "built build-demo/tools/tejido (log: build-demo/build.log)"
	bin=$here/build-demo/tools/tejido
	n=2
fi
# Numbered steps, whether or not the build ran.
nstep() {
	n=$((n + 1))
	step "$n. $*"
}

# Never touch the user's own node: every command below names its data directory.
unset TEJIDO_DATA TEJIDO_PASSPHRASE_FILE
work=$(mktemp -d "${TMPDIR:-/tmp}/tejido-demo.XXXXXX")
NODES=(A B C)
declare -A ORG=([A]="Red Sur, coordinación (demo)" [B]="Colectivo Montaña (demo)" [C]="Defensoras del Sureste (demo)")
declare -A PORT=() KEY=()

# on NODE ARGS...: tejido on NODE's data directory, with NODE's passphrase file.
on() {
	local node=$1
	shift
	TEJIDO_DATA=$work/$node TEJIDO_PASSPHRASE_FILE=$work/$node.passphrase "$bin" "$@"
}
# run NODE ARGS...: the same, printing the command first.
run() {
	cmdline "$@"
	on "$@"
}
# cmdline NODE ARGS...: prints the command as one would type it (quoted where needed).
cmdline() {
	local a line=""
	for a in "${@:2}"; do
		if [[ $a == *[[:space:]\'\"\$\`\\\;\&\|\<\>\(\)\*\?\!\#\[\]\{\}]* || -z $a ]]; then
			a="'${a//\'/\'\\\'\'}'"
		fi
		line+=" $a"
	done
	printf '%s[%s]$ tejido%s%s\n' "$dim" "$1" "$line" "$off"
}

# quiet NODE ARGS...: run, without the library's log lines on stderr unless it fails.
quiet() {
	if ! run "$@" 2>"$work/stderr"; then
		cat "$work/stderr" >&2
		die "tejido ${*:2} failed on $1"
	fi
}

# running PID: whether PID is a live process (a stopped daemon may stay a zombie
# for a moment until init reaps it: that one is gone).
running() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/status" ] || return 0
	state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ "$state" != Z ] && [ -n "$state" ]
}

# Stops the three nodes whatever happened (failure, Ctrl-C); a node that does
# not stop is killed by the pid it wrote. Then removes the temporary directory.
cleanup() {
	local rc=$? node pid
	trap - EXIT INT TERM
	case $rc in
	0) ;;
	130 | 143) echo "demo: interrupted; stopping the nodes" >&2 ;;
	*) echo "demo: FAILED (exit $rc${failed_at:+, tools/demo.sh line $failed_at}); stopping the nodes" >&2 ;;
	esac
	for node in "${NODES[@]}"; do
		[ -d "$work/$node" ] || continue
		pid=""
		[ -f "$work/$node/node.pid" ] && pid=$(cat "$work/$node/node.pid" 2>/dev/null || true)
		timeout 60 env TEJIDO_DATA="$work/$node" "$bin" node stop >/dev/null 2>&1 || true
		for _ in $(seq 1 50); do
			if ! [[ $pid =~ ^[0-9]+$ ]] || ! running "$pid"; then break; fi
			sleep 0.1
		done
		if [[ $pid =~ ^[0-9]+$ ]] && running "$pid"; then
			echo "demo: node $node (pid $pid) did not stop: killing it" >&2
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
	if [ "${TEJIDO_DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: kept $work (the nodes are stopped)" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
failed_at=""
trap 'failed_at=$LINENO' ERR
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The failure report: what each node saw, then the cleanup stops them.
diagnose() {
	local node
	for node in "${NODES[@]}"; do
		echo "--- $node: peer list" >&2
		on "$node" peer list >&2 || true
		echo "--- $node: last lines of node.log" >&2
		tail -15 "$work/$node/node.log" >&2 || true
	done
}

now_ms() { date +%s%3N; }
secs() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }
key_of() { [[ $(on "$1" id --json) =~ \"public_key\":[[:space:]]*\"([0-9a-f]{64})\" ]] && printf '%s' "${BASH_REMATCH[1]}"; }
ids_of() { grep -oE "^[0-9a-f]{64}" || true; }
# has NODE IDS...: whether NODE lists every one of IDS.
has() {
	local node=$1 list id
	shift
	list=$(on "$node" list --json 2>/dev/null) || return 1
	for id; do [[ $list == *"\"$id\""* ]] || return 1; done
}

# free_port: sets $port to one on 127.0.0.1 that nothing listens on and that this
# demo has not tried yet, below the ephemeral range (from 20000 to 31999).
used_ports=" "
free_port() {
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 12000))
		[[ $used_ports == *" $port "* ]] && continue
		used_ports+="$port "
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
		return 0
	done
	die "no free port on 127.0.0.1 between 20000 and 32000"
}
# start_node NODE: starts NODE listening on 127.0.0.1 only; another port if one was taken meanwhile.
start_node() {
	local node=$1 p
	for _ in 1 2 3 4 5; do
		free_port
		p=$port
		if run "$node" node start --listen "127.0.0.1:$p" 2>"$work/$node.start.err"; then
			PORT[$node]=$p
			return 0
		fi
		grep -q "in use" "$work/$node.start.err" "$work/$node/node.log" 2>/dev/null ||
			{ cat "$work/$node.start.err" >&2; die "node $node did not start"; }
		say "(port $p was taken: another one)"
	done
	die "node $node found no free port"
}

nstep "Three organizations, three nodes (data directories in $work)"
say "Each organization has its own identity (Ed25519), sealed in a key file with its own"
say "passphrase (Argon2id). A real organization types it; the demo keeps a random one per"
say "node in a file (mode 0600). A command shown as [B]$ tejido ... runs with B's data"
say "directory and passphrase file (TEJIDO_DATA, TEJIDO_PASSPHRASE_FILE)."
for node in "${NODES[@]}"; do
	(umask 077 && head -c 24 /dev/urandom | base64 > "$work/$node.passphrase")
done
say ""
say "A, \"${ORG[A]}\", founds the network \"Red Sur (demo)\":"
quiet A init --kdf "$kdf" --network "Red Sur (demo)" --person "Coordinación"
say ""
say "B, \"${ORG[B]}\", and C, \"${ORG[C]}\", make an identity only:"
quiet B init --kdf "$kdf" --no-network --person "Documentación"
quiet C init --kdf "$kdf" --no-network --person "Documentación"
for node in "${NODES[@]}"; do
	KEY[$node]=$(key_of "$node") || die "no public key for $node"
done

nstep "A admits B and C; each joins with its welcome bundle"
say "B and C read their fingerprints to A (by phone, in person). A's node writes a"
say "membership record and a welcome bundle sealed to each new key. A's node has no peer"
say "listener yet, so the bundles carry no addresses: the demo wires the line by hand."
run A node start --listen off
run A member add "${KEY[B]}" --name "${ORG[B]}" --out "$work/B.tjw"
run A member add "${KEY[C]}" --name "${ORG[C]}" --out "$work/C.tjw"
run A member list
run A node stop
quiet B network join "$work/B.tjw"
quiet C network join "$work/C.tjw"

nstep "Start the three nodes on 127.0.0.1 and wire the line A - B - C"
for node in "${NODES[@]}"; do start_node "$node"; done
run A peer add "127.0.0.1:${PORT[B]}" "${KEY[B]}" --name "B ${ORG[B]}"
run B peer add "127.0.0.1:${PORT[A]}" "${KEY[A]}" --name "A ${ORG[A]}"
run B peer add "127.0.0.1:${PORT[C]}" "${KEY[C]}" --name "C ${ORG[C]}"
run C peer add "127.0.0.1:${PORT[B]}" "${KEY[B]}" --name "B ${ORG[B]}"
for node in "${NODES[@]}"; do
	listen=$(on "$node" node status --json | sed -n 's/.*"listen":[[:space:]]*"\([^"]*\)".*/\1/p')
	[ "$listen" = "127.0.0.1:${PORT[$node]}" ] || die "node $node listens on '$listen', not 127.0.0.1:${PORT[$node]}"
done
# Every peer link up (a secret handshake under the network key) before the clock starts.
t0=$(now_ms)
until [ "$(on B peer list --json | grep -c '"connected":[[:space:]]*true')" -ge 2 ] &&
	on A peer list --json | grep -q '"connected":[[:space:]]*true' &&
	on C peer list --json | grep -q '"connected":[[:space:]]*true'; do
	[ $(($(now_ms) - t0)) -lt $((wait_s * 1000)) ] || { diagnose; die "the peers did not connect within $wait_s s"; }
	sleep 0.2
done
say "A - B and B - C connected after $(secs $(($(now_ms) - t0))); A and C do not know each other."

# arrive T0 NODE IDS...: polls NODE's store every 0.1 s (at most $wait_s s) until it
# lists every one of IDS; sets $took to the milliseconds since T0.
arrive() {
	local t0=$1 node=$2
	shift 2
	until has "$node" "$@"; do
		if [ $(($(now_ms) - t0)) -gt $((wait_s * 1000)) ]; then
			diagnose
			die "$# record(s) did not reach $node within $wait_s s"
		fi
		sleep 0.1
	done
	took=$(($(now_ms) - t0))
}
add_at() {
	local node=$1 f=$2
	shift 2
	printf '[%s] %-46s ' "$node" "$(basename "$f")"
	on "$node" add --json "$f" "$@" | tee -a "$work/$node.ids" |
		awk '{ printf "%s… severity %s  ", substr($1, 1, 12), $3 } END { print "" }'
}
incidents=("$here"/tools/demo/*.json)
half=$((${#incidents[@]} / 2))

nstep "A documents ${half} incidents (tools/demo/*.json; every name is invented); C waits for them"
say "Summaries (codes only) go to the whole network; each case face (names, narrative)"
say "stays with the organization that documented it. A seals one case face also to C:"
say "--case-readers org:KEY."
shared=""
for f in "${incidents[@]:0:half}"; do
	case $f in
	*boton-de-panico*)
		add_at A "$f" --case-readers "sureste:${KEY[C]}"
		shared=$(tail -n 1 "$work/A.ids" | ids_of)
		;;
	*) add_at A "$f" ;;
	esac
done
t=$(now_ms)
mapfile -t idsA < <(ids_of < "$work/A.ids")
if [ "${#idsA[@]}" -eq 0 ] || [ -z "$shared" ]; then die "A's incidents were not stored"; fi
arrive "$t" C "${idsA[@]}"
batchAC=$took nA=${#idsA[@]}
say "=> all ${#idsA[@]} at C, through B, $(secs "$batchAC") after A stored the last one"

nstep "C documents $((${#incidents[@]} - half)) incidents; A waits for them"
for f in "${incidents[@]:half}"; do add_at C "$f"; done
t=$(now_ms)
mapfile -t idsC < <(ids_of < "$work/C.ids")
[ "${#idsC[@]}" -gt 0 ] || die "C's incidents were not stored"
arrive "$t" A "${idsC[@]}"
batchCA=$took
say "=> all ${#idsC[@]} at A, through B, $(secs "$batchCA") after C stored the last one"

nstep "One more incident at A, through flags (what a script would do), timed at B and at C"
run A add --date 2025-09-20 --state 20 --municipality 20469 --place-type home \
	--victim 'ref=oax-mix-09,unit=individual,role=defender,gender=woman,age_band=30_44,traits=indigenous+migrant,causes=migrant_rights' \
	--aggressor 'category=non_state,type=community_individual,level=not_applicable,involvement=direct' \
	--act threat --protection none --source victim_testimony --reliability usually_reliable \
	--verification unverified --consent network_statistics | tee "$work/one.id"
t=$(now_ms)
one=$(ids_of < "$work/one.id")
[ -n "$one" ] || die "the incident was not stored"
arrive "$t" B "$one"
oneB=$took
arrive "$t" C "$one"
oneC=$took
say "=> ${one:0:12} at B after $(secs "$oneB") (one hop), at C after $(secs "$oneC") (two hops)"
idsA+=("$one")

nstep "At C: every incident of the network, in Spanish (A's and C's)"
run C list --lang es

nstep "At A: the incidents in Oaxaca (state 20), A's and C's, in English"
run A list --lang en --state 20

nstep "At C: an incident of A's whose case face was not shared with C"
say "C reads the summary (codes), and knows there is a case face it cannot open."
other="" out=""
for id in "${idsA[@]}"; do
	[ "$id" = "$shared" ] && continue
	out=$(on C show --lang en "${id:0:12}")
	[[ $out == *"case not shared with this node"* ]] && { other=$id; break; }
done
[ -n "$other" ] || die "C reads every case face of A's: none says 'case not shared with this node'"
cmdline C show --lang en "${other:0:12}"
printf '%s\n' "$out"

nstep "At C: the one case face A sealed to C as well (names and narrative)"
out=$(on C show --lang es "${shared:0:12}")
[[ $out == *"caso (confidencial)"* && $out != *"caso no compartido"* ]] ||
	die "C cannot read the case face A shared with it: $out"
cmdline C show --lang es "${shared:0:12}"
printf '%s\n' "$out"

nstep "At B: alerts B raised itself, from incidents documented at A and C (codes only, never names)"
t2=$(now_ms)
until on B alerts --json --limit 1 | grep -q '"trigger"'; do
	[ $(($(now_ms) - t2)) -lt $((wait_s * 1000)) ] || die "B raised no alert"
	sleep 0.2
done
run B alerts --lang es --limit 12

nstep "At B: statistics by state, then by gender (any cell under 5 is suppressed)"
say "Oaxaca's count adds A's incidents and C's: no single organization documented that many."
run B stats --by state --lang es
run B stats --by gender --lang en

nstep "At B: export (CSV, one row per act; summaries only: no names)"
run B export --format csv --out "$work/incidentes.csv"
head -3 "$work/incidentes.csv" | cut -c1-150
say "... $(($(wc -l < "$work/incidentes.csv") - 1)) act rows (file mode 0600)"

nstep "At B: its peers and what it holds"
say "B wrote no incident; it stores and forwards every record of the network, and reads"
say "their summaries, not their case faces."
run B peer list
run B node status

nstep "Stop the three nodes"
for node in "${NODES[@]}"; do run "$node" node stop; done

cat <<MSG

Done: $((${#idsA[@]} + ${#idsC[@]})) incidents crossed the line A - B - C on 127.0.0.1.
  A's $nA reached C after $(secs "$batchAC"); C's ${#idsC[@]} reached A after $(secs "$batchCA");
  one record crossed A -> B in $(secs "$oneB") and A -> B -> C in $(secs "$oneC").
Each node's data directory held:
  key        the key file (Argon2id + XChaCha20-Poly1305)
  store/     LMDB: every record encrypted and signed
  node.log   the daemon's log (no names, no plaintext)
MSG
if [ "${TEJIDO_DEMO_KEEP:-0}" = 1 ]; then
	say "Kept in $work (TEJIDO_DEMO_KEEP=1); start a node again with:"
	say "  TEJIDO_DATA=$work/C TEJIDO_PASSPHRASE_FILE=$work/C.passphrase $bin node start --listen 127.0.0.1:${PORT[C]}"
else
	say "The demo removed its directories; TEJIDO_DEMO_KEEP=1 ./tools/demo.sh keeps them."
fi
