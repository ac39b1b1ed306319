#!/bin/sh
# Builds every libFuzzer target (clang, TJ_FUZZ=ON) in build-fuzz/ and runs
# each for SECONDS (default 60), one after the other, printing executions and
# coverage per target. New inputs go to build-fuzz/corpus-work/<name>/ (the
# committed seeds are only read); crashes to build-fuzz/crashes/<name>/.
# Exit status: 0 if no target crashed, 1 otherwise.
set -eu

secs=${1:-60}
case $secs in *[!0-9]* | '') echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
fuzzdir=$root/tests/fuzz

CC=clang cmake -S "$root" -B "$build" -DTJ_FUZZ=ON -DTJ_INTEROP=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# TJ_FUZZ_ONLY="mp record" limits the run to those targets.
if [ -n "${TJ_FUZZ_ONLY:-}" ]; then
	names=$TJ_FUZZ_ONLY
else
	names=$(for f in "$fuzzdir"/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)
fi
targets=$(for n in $names; do printf 'fuzz_%s ' "$n"; done)
# shellcheck disable=SC2086 # word splitting of the target list is intended
cmake --build "$build" -j2 --target $targets

status=0
printf '%-16s %12s %8s %8s %s\n' target executions cov ft result
for n in $names; do
	bin=$(find "$build" -type f -name "fuzz_$n" -perm -u+x | head -n 1)
	work=$build/corpus-work/$n
	crashes=$build/crashes/$n
	log=$build/fuzz-$n.log
	mkdir -p "$work" "$crashes"
	set +e
	"$bin" -max_total_time="$secs" -malloc_limit_mb=128 -rss_limit_mb=512 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/" \
		"$work" "$fuzzdir/corpus/$n" >"$log" 2>&1
	rc=$?
	set -e
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="CRASH (exit $rc, see $log and $crashes/)"
		status=1
	fi
	printf '%-16s %12s %8s %8s %s\n' "$n" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $status
