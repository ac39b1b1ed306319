#!/bin/bash
# ctest sim/line: sim's line topology, add_batch injection (--rate 0), an offline
# node's catch-up, probes through the delaying proxy, and the JSON keys the
# benchmark reads (docs/SIMULATION.md). Checks behaviour and the report's
# shape and consistency, never a time. Then bad option values: exit 2 and a
# message. Everything on 127.0.0.1.
# usage: line_test.sh SIM TEJIDO
set -u
SIM=$1
TEJIDO=$2
out=$(mktemp /tmp/sim-line-XXXXXX)
err=$(mktemp /tmp/sim-line-err-XXXXXX)
trap 'rm -f "$out" "$err"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Bad values: exit 2 with a message naming the option, before anything starts.
for bad in "--topology ring" "--delay-ms -1" "--delay-ms 100000" "--delay-ms 5x" "--probe-poll-us 0" \
	"--netem abc" "--netem 0" "--netem 5 --delay-ms 5" "--records -1" "--rate -1"; do
	# shellcheck disable=SC2086 # one option and its value per entry
	timeout 20 "$SIM" $bad --tejido "$TEJIDO" >/dev/null 2>"$err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "sim $bad: exit $rc, want 2"
	grep -q "sim: \|usage:" "$err" || fail "sim $bad: no message on stderr"
done
echo "ok: bad options exit 2"

timeout 100 "$SIM" --nodes 3 --topology line --records 20 --rate 0 --offline 1 --probes 20 --delay-ms 5 \
	--seed 3 --timeout 60 --json --tejido "$TEJIDO" >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$err" "$out" >&2; fail "sim line run: exit $rc"; }

python3 - "$out" <<'PY' || fail "the JSON report"
import json, sys

d = json.load(open(sys.argv[1]))
def want(cond, what):
    if not cond:
        sys.exit("bad report: %s\n%s" % (what, json.dumps(d, indent=1)))

want(d["converged"] is True, "converged")
want(d["nodes"] == 3 and d["topology"] == "line" and d["edges"] == 2 and d["diameter"] == 2, "line of 3")
want(d["records"] == 20 and d["records_per_node"] >= 20 + 3, "records held")
want(d["delay_ms"] == 5 and d["delay_kind"] == "proxy" and d["one_way_delay_ms"] == 5, "delay keys")
want(d["inject_mode"] == "add_batch" and d["inject_requests"] == 1, "one add_batch of 20")
want(d["wire_bytes"] > 0 and d["wire_bytes_per_record_per_node"] > 0, "wire bytes")

p = d["propagation"]
want(p["probes"] == 20 and d["probes"] == 20, "20 probes")
want(p["measures"] == "far_end" and p["from"] == 0 and p["to"] == 2 and p["hops"] == 2, "from 0 to 2")
want(0 < p["p50_ms"] <= p["p90_ms"] <= p["p99_ms"] <= p["max_ms"], "percentiles ordered")
want(0 < p["mean_ms"] <= p["max_ms"], "mean")
want(0 < p["ack_p50_ms"] <= p["ack_p99_ms"], "ack percentiles")
want(p["poll_us"] == 500 and p["status_rtt_us"] > 0 and p["status_calls"] >= 20, "polling")
want(p["wire_bytes"] > 0 and p["wire_bytes_per_record_per_node"] > 0, "probe bytes")
want(d["probe_p50_ms"] <= d["probe_max_ms"], "old probe keys")

c = d["cold"]
want(c["nodes"] == 1 and c["records"] == 20 and c["caught_up"] is True, "cold: one node, 20 records")
want(c["seconds"] > 0 and c["records_per_s"] > 0 and c["unlock_s"] > 0, "cold: times")
want(c["wire_bytes"] > 0 and c["wire_bytes_per_record"] > 0, "cold: bytes")
want(c["receiver_hwm_kib"] > 0 and c["receiver_max_rss_kib"] > 0, "cold: memory")
want(c["connect_wait_s"] is None or 0 <= c["connect_wait_s"] <= c["seconds"], "cold: connect wait")
want((c["connect_wait_s"] is None) == (c["transfer_records_per_s"] is None), "cold: transfer rate")
# The background pass indexed and evaluated every record after they were stored (status'
# peers.indexing_backlog reached 0), never before.
want(c["indexed_s"] is not None and c["indexed_s"] >= c["seconds"], "cold: indexed after stored")
want(c["indexed_records_per_s"] > 0, "cold: indexing rate")
print("ok: line of 3, %d probes, cold catch-up of %d records" % (p["probes"], c["records"]))
PY
