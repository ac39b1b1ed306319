#!/bin/bash
# A catch-up indexed in the background (node/tj_peer_derive.c), killed in the
# middle: member J is offline while founder F adds 1,500 incidents (one
# add_batch each of a few hundred, F evaluating them as it adds); J starts,
# stores them from F, and is killed with SIGKILL while its
# peers.indexing_backlog is above 500 (when the test sees it so; the
# catch-up may not be over yet: the rest comes after the restart). Restarted, J
# finishes the pass; then J lists every incident and holds exactly F's
# alerts: the same ids, triggers, incident lists and counts, although F
# evaluated them one add at a time and J in steps of many, in id order.
# While the pass runs (held 3 s after the restart by TJ_TEST_DERIVE_HOLD_MS),
# list, alerts and stats say on stderr that their result may be incomplete;
# after it, list says nothing.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
source "$HERE/../integration/lib.sh" "$1"

F=$T/founder
J=$T/member-j
stop_all() {
	stop_nodes "$F" "$J"
	cleanup
}
trap stop_all EXIT
# status --json of node $1 into $T/st.$2; its "incidents" and peers.indexing_backlog printed.
status_of() {
	tj --data "$1" node status --json > "$T/st.$2" 2>/dev/null || return 1
	python3 - "$T/st.$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d.get("peers") or {}
print(d["incidents"], p.get("indexing_backlog", -1))
PY
}
N=1500

expect_rc 0 tj --data "$F" init --kdf min --name "Red de respaldo"
expect_rc 0 tj --data "$J" init --kdf min --no-network
JPK=$(pk_of "$J")
free_port
expect_rc 0 timeout 90 "$TEJIDO" --data "$F" node start --listen "127.0.0.1:$PORT"
expect_rc 0 tj --data "$F" member add "$JPK" --name "Centro J" --out "$T/j.tjw"
expect_rc 0 tj --data "$J" network join "$T/j.tjw"

# N incidents: 4 municipalities, 60 days, repeat victims and aggressors, so T1, T3, T4 and T5 fire.
python3 - "$T/many.json" "$N" <<'PY'
import json, sys
munis = [("20", "20067"), ("20", "20001"), ("12", "12001"), ("07", "07101")]
acts = ["harassment", "threat", "surveillance", "defamation", "death_threat", "criminalization", "digital_harassment", "obstruction_of_work"]
aggs = [("state", "municipal_police", "municipal"), ("state", "state_police", "state"),
        ("non_state", "organized_crime", None)]
out = []
for i in range(int(sys.argv[2])):
    st, mun = munis[i % 4]
    cat, typ, lvl = aggs[(i // 4) % 3]
    agg = {"category": cat, "type": typ, "involvement": "direct"}
    if lvl:
        agg["level"] = lvl
    out.append({
        "occurred": {"start": "2026-%02d-%02d" % (3 + (i * 7) % 2, 1 + (i * 13) % 28), "precision": "day"},
        "location": {"state": st, "municipality": mun, "place_type": "home"},
        "victims": [{"ref": "bk-%d" % (i % 1400), "unit": "individual", "role": "defender",
                     "gender": ["woman", "man"][i % 2], "age_band": "30_44"}],
        "aggressors": [agg],
        "acts": [{"type": acts[i % 8], "victim": 0, "aggressor": 0}],
        "protection": {"status": "none"},
        "source": {"type": "victim_testimony", "reliability": "usually_reliable"},
        "verification": "confirmed"})
json.dump(out, open(sys.argv[1], "w"))
PY
expect_rc 0 timeout 300 "$TEJIDO" --data "$F" add --json "$T/many.json"
read -r FINC _ < <(status_of "$F" f) || fail "F's status"
[ "$FINC" = "$N" ] || fail "F holds $FINC incidents, not $N"

# J comes back: it dials F and catches up. Killed while its backlog is above 500, if seen so.
expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start --listen off
JPID=$(cat "$J/node.pid")
killed=no
noted=no
seen_backlog=0
for _ in $(seq 1 1200); do
	read -r inc backlog < <(status_of "$J" j) || { sleep 0.05; continue; }
	[ "$backlog" -ge 0 ] || fail "J's status has no peers.indexing_backlog"
	[ "$backlog" -gt "$seen_backlog" ] && seen_backlog=$backlog
	# Above 500 left: the pass cannot finish in the moment between this status and the kill.
	if [ "$backlog" -gt 500 ]; then
		kill -9 "$JPID"
		killed=$backlog
		break
	fi
	[ "$inc" = "$N" ] && [ "$backlog" = 0 ] && break
	sleep 0.05
done
if [ "$killed" != no ]; then
	for _ in $(seq 1 100); do kill -0 "$JPID" 2>/dev/null || break; sleep 0.1; done
	# Its pass held for 3 s after the start (a test-only knob): a listing meanwhile says on
	# stderr that its result may be incomplete, and so do alerts and stats.
	TJ_TEST_DERIVE_HOLD_MS=3000 expect_rc 0 timeout 90 "$TEJIDO" --data "$J" node start --listen off
	for cmd in "list --json" "alerts" "stats --by state"; do
		# shellcheck disable=SC2086 # a command and its options
		tj --data "$J" $cmd > /dev/null 2> "$T/cmd.err" || fail "$cmd on J during the pass"
		grep -q "still being indexed" "$T/cmd.err" || fail "$cmd said nothing of the backlog: $(cat "$T/cmd.err")"
	done
	tj --data "$J" --lang es list > /dev/null 2> "$T/cmd.err" || fail "list --lang es on J"
	grep -q "aún se están indexando" "$T/cmd.err" || fail "list --lang es said nothing of the backlog"
	noted=yes
	# The peer layer starts (and logs what it found pending) just after the node says it is ready.
	for _ in $(seq 1 100); do
		grep -q "still to index and evaluate; in the background" "$J/node.log" && break
		sleep 0.1
	done
	grep -q "still to index and evaluate; in the background" "$J/node.log" ||
		fail "the restarted J did not pick up the records the kill left pending"
fi
done_ok=no
for _ in $(seq 1 1200); do
	read -r inc backlog < <(status_of "$J" j) || { sleep 0.1; continue; }
	[ "$inc" = "$N" ] && [ "$backlog" = 0 ] && { done_ok=yes; break; }
	sleep 0.1
done
[ "$done_ok" = yes ] || fail "J did not finish indexing: $inc incidents, backlog $backlog"

# Every incident listed on J; the same alerts on both nodes.
expect_rc 0 tj --data "$J" list --json
listed=$(grep -c '^[[:space:]]*"id":' "$T/out" || true)
[ "$listed" = "$N" ] || fail "J lists $listed incidents, not $N"
grep -q "still being indexed" "$T/err" && fail "list warned of a backlog after the pass ended"
# One listing per trigger (at most 500 each), for both nodes.
for tr in T1 T2 T3 T4 T5 T6 T7; do
	expect_rc 0 tj --data "$F" alerts --triggers "$tr" --limit 500 --json
	cp "$T/out" "$T/alerts.f.$tr"
	expect_rc 0 tj --data "$J" alerts --triggers "$tr" --limit 500 --json
	cp "$T/out" "$T/alerts.j.$tr"
done
python3 - "$T" <<'PY' || fail "F's and J's alerts differ"
import glob, json, sys
def load(side):
    out = {}
    for p in glob.glob("%s/alerts.%s.T*" % (sys.argv[1], side)):
        d = json.load(open(p))
        rows = d["alerts"] if isinstance(d, dict) else d
        if len(rows) >= 500:
            sys.exit("%s: 500 alerts or more of one trigger; the comparison would be cut" % p)
        for a in rows:
            out[a["id"]] = (a["trigger"], tuple(sorted(a.get("incidents", []))), a.get("count"))
    return out
f, j = load("f"), load("j")
if f != j:
    only_f = sorted(set(f) - set(j))[:3]
    only_j = sorted(set(j) - set(f))[:3]
    diff = [k for k in f if k in j and f[k] != j[k]][:3]
    sys.exit("F %d alerts, J %d; only F %s, only J %s, different %s" % (len(f), len(j), only_f, only_j, diff))
trig = sorted({v[0] for v in f.values()})
if len(f) < 10 or len(trig) < 3:
    sys.exit("too few alerts to compare: %d, triggers %s" % (len(f), trig))
print("alerts equal: %d, triggers %s" % (len(f), ",".join(map(str, trig))))
PY
echo "backlog_alerts: ok ($N incidents; largest backlog seen $seen_backlog; killed while indexing: $killed; list noted the backlog: $noted)"
