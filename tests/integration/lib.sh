# Shared by the CLI's end-to-end tests: a throw-away node in a mktemp directory.
# Usage: source lib.sh PATH_TO_TEJIDO
set -u -o pipefail

TEJIDO=${1:?usage: $0 PATH_TO_TEJIDO}
[ -x "$TEJIDO" ] || { echo "not executable: $TEJIDO" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/tejido-it.XXXXXX")
export TEJIDO_DATA=$T/data
export TEJIDO_PASSPHRASE_FILE=$T/passphrase
export LANG=C LC_ALL= LC_MESSAGES=
# A usual umask, so that the 0600 checks mean something; the passphrase file alone is private.
umask 022
(umask 077 && printf 'correct horse battery staple %s\n' "$RANDOM" > "$TEJIDO_PASSPHRASE_FILE")

tj() { "$TEJIDO" "$@"; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Stops the node whatever happened; a daemon that does not stop is killed.
cleanup() {
	local pid=""
	[ -f "$TEJIDO_DATA/node.pid" ] && pid=$(cat "$TEJIDO_DATA/node.pid" 2>/dev/null)
	timeout 70 "$TEJIDO" node stop >/dev/null 2>&1 || true
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# expect_rc CODE CMD...: runs CMD, its stderr into $T/err, checks the exit code.
expect_rc() {
	local want=$1 got=0
	shift
	"$@" >"$T/out" 2>"$T/err" || got=$?
	if [ "$got" != "$want" ]; then
		echo "--- stdout" >&2; cat "$T/out" >&2
		echo "--- stderr" >&2; cat "$T/err" >&2
		fail "expected exit $want, got $got: $*"
	fi
}

node_init() { expect_rc 0 tj init --kdf min --name "Prueba"; }
node_start() { expect_rc 0 timeout 90 "$TEJIDO" node start; }
node_stop() { expect_rc 0 timeout 90 "$TEJIDO" node stop; }

count_list() { tj list --json | grep -c '^[[:space:]]*"id":' || true; }

# A valid incident in the JSON form, varied by $1 (deterministic); $2 is extra
# text for the narrative (the canary test puts its secret there).
MUNIS=(20067 20190 12001 12029 07101 07078 07019 08019 08037 09007 30087 15106)
ACTS=(death_threat threat harassment digital_harassment surveillance raid arbitrary_detention
	physical_assault defamation criminalization forced_displacement disappearance)
AGGR=(municipal_police state_police armed_forces organized_crime company public_official)
ROLES=(defender journalist community_leader searching_relative lawyer indigenous_authority)
GENDERS=(woman man non_binary woman man trans_woman)
gen_incident() {
	local i=$1 extra=${2:-}
	local m=${MUNIS[$((i % ${#MUNIS[@]}))]}
	local act=${ACTS[$((i % ${#ACTS[@]}))]}
	local ag=${AGGR[$((i % ${#AGGR[@]}))]}
	local role=${ROLES[$((i % ${#ROLES[@]}))]}
	local g=${GENDERS[$((i % ${#GENDERS[@]}))]}
	local cat=state level=municipal day=$(( (i % 28) + 1 )) month=$(( (i % 9) + 1 ))
	case $ag in
	organized_crime | company) cat=non_state level=not_applicable ;;
	state_police) level=state ;;
	armed_forces) level=federal ;;
	esac
	printf '{"occurred":{"start":"2025-%02d-%02d","precision":"day"},' "$month" "$day"
	printf '"location":{"state":"%s","municipality":"%s","place_type":"home"},' "${m:0:2}" "$m"
	printf '"victims":[{"ref":"v-%04d","unit":"individual","role":"%s","gender":"%s","age_band":"30_44",' "$i" "$role" "$g"
	printf '"traits":["indigenous"],"defended_causes":["land_territory"]}],'
	printf '"aggressors":[{"category":"%s","type":"%s","level":"%s","involvement":"direct"}],' "$cat" "$ag" "$level"
	printf '"acts":[{"type":"%s","victim":0,"aggressor":0}],' "$act"
	printf '"protection":{"status":"none"},'
	printf '"source":{"type":"victim_testimony","reliability":"usually_reliable"},"verification":"confirmed",'
	printf '"case":{"victim_names":["Persona Inventada %d"],"narrative":"Relato de prueba número %d. %s",' "$i" "$i" "$extra"
	printf '"consent":["network_statistics"]}}'
}

# An array of incidents $1..$2.
gen_array() {
	local i sep=""
	printf '['
	for ((i = $1; i <= $2; i++)); do
		printf '%s' "$sep"
		gen_incident "$i"
		sep=,
	done
	printf ']\n'
}

# Several nodes in one test (data directories as arguments): stops each, kills what does not stop.
stop_nodes() {
	local d pid
	for d in "$@"; do
		pid=""
		[ -f "$d/node.pid" ] && pid=$(cat "$d/node.pid" 2>/dev/null)
		timeout 70 "$TEJIDO" --data "$d" node stop >/dev/null 2>&1 || true
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
	done
}
# The public key (hex) of the node in $1.
pk_of() { tj --data "$1" id --json | grep -o '"public_key":[[:space:]]*"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}'; }
# A TCP port on 127.0.0.1 that nothing listens on, into PORT.
free_port() {
	for _ in $(seq 1 50); do
		PORT=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
	done
}
