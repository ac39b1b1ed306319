#!/usr/bin/env bash
# The runs behind the figures in docs/SIMULATION.md, one JSON line each.
# usage: tools/sim/figures.sh [BUILD_DIR] > results.jsonl   (BUILD_DIR default: build-sim)
# Needs the machine to itself: N = 50 means 50 daemons on this machine's cores.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build-sim}
sim=$build/tools/sim
[ -x "$sim" ] || { echo "no $sim: cmake --build $build --target sim" >&2; exit 1; }

run() {
	echo "# $(date -u +%FT%TZ) sim $*" >&2
	# Each run bounds itself (--timeout); timeout(1) is a second bound for the whole run.
	timeout 2400 "$sim" --json "$@" || echo "# exit $? for: $*" >&2
}

run --nodes 10 --degree 4 --records 500 --rate 50 --seed 1 --probes 9
run --nodes 25 --degree 4 --records 500 --rate 50 --seed 1 --probes 9
run --nodes 50 --degree 4 --records 500 --rate 50 --seed 1 --probes 9 --idle 65
run --nodes 50 --degree 4 --records 500 --rate 20 --seed 2 --kill-prob 0.02 --probes 5
run --nodes 25 --degree 8 --records 500 --rate 50 --seed 1 --probes 9
run --nodes 25 --degree 4 --records 2000 --rate 200 --seed 3 --offline 3 --probes 0
run --nodes 25 --degree 4 --records 2000 --rate 200 --seed 3 --offline 3 --probes 0 --mutual

# Propagation on a line (node 0 -> node N-1), cold catch-up, delayed links: the benchmark's runs.
run --nodes 2 --topology line --records 0 --probes 1000
run --nodes 5 --topology line --records 0 --probes 1000
run --nodes 2 --topology line --records 100000 --rate 0 --offline 1 --probes 0 --timeout 1800
run --nodes 2 --topology line --records 0 --probes 1000 --delay-ms 25
run --nodes 5 --topology line --records 0 --probes 1000 --delay-ms 25
