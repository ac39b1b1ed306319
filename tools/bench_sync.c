/*
 * bench_sync: what reconciliation and replication cost, measured in one run.
 *
 * usage: bench_sync [--n LIST | -n N] [--rtt-ms R] [--cold-n N] [--no-cold]
 *                   [--quick] [--json] [--dir DIR]
 *
 *   build-bsync/tools/bench_sync                  # n = 10,000, 100,000, 1,000,000; Markdown
 *   build-bsync/tools/bench_sync --json           # the same figures, one JSON object on stdout
 *   build-bsync/tools/bench_sync -n 100000 --rtt-ms 50 --dir build-bsync
 *
 * Options: --n LIST record counts of the matrix, comma-separated, 1..10,000,000
 * each (default 10000,100000,1000000; -n N is the same option, as before);
 * --rtt-ms R adds the computed link-time column; --cold-n K records for cold
 * replication (default min(largest n, 100,000)); --no-cold skips it; --quick
 * is what ctest bench/sync_smoke runs (n = 1,000 and 2,000, d in {0, 10, 100},
 * a 0.2 s verify); --json prints one JSON object instead of Markdown; --dir DIR
 * holds cold replication's temporary store (default /tmp).
 *
 * Build it Release (no sanitizers) for figures. The default run (1,000,000
 * records sealed, 28 cells, cold replication of 100,000) took 61 s at load
 * 1.5-2.7 and 87-115 s at load 4-7 on 2 shared cores (2026-12-05), peak RSS
 * 341 MiB (the 1,000,000 cells: the corpus, 150 MiB, plus two snapshots of 72
 * bytes an item, the initiator's list of items and the sort's scratch). What
 * costs: sealing the corpus, 34-40 CPU s for 1,000,000 records on every core
 * (35-63 s of wall time on that machine); the 1,000,000 cells, 12-19 s, two thirds of it
 * building the snapshots (sorting 1,000,000 items twice a cell) and 0.5 s of
 * CPU for the cold cell's exchange; cold replication of 100,000, 12-29 s,
 * nearly all of it the store step's commits on a shared disk.
 *
 * THE CORPUS. One corpus of N = the largest n sealed records, made before
 * anything is measured (not timed): 100 authors, record i by author i % 100
 * (each author's chain in order, seq and prev correct), one record every
 * 31.536 s (a million a year) ending just before now, bodies of 500..899
 * random bytes (records of ~880..1,280 bytes, mean ~1,074), sealed by
 * tj_record_seal on every core. All N are real sealed records: their (ts, id)
 * are the Negentropy items and their sizes size the fetch. Only the first K
 * (the cold-replication count; 10,000 with --no-cold, for the verify rate)
 * keep their bytes in memory; of the others the program keeps the (ts, id)
 * and the size (44 bytes a record). The matrix at n uses the first n records:
 * a prefix, in which every author's chain is a prefix of its chain, so the
 * same n gives the same kind of set whatever N it was cut from (the spacing
 * does not depend on N).
 *
 * THE MATRIX. For each n and each d in {0, 10, 100, 1,000, 10,000} with d < n
 * (--quick: {0, 10, 100}), the responder holds the n records and the initiator
 * all but d of them: the d newest ("recent") or d chosen at random
 * ("scattered"); d = 0 is run once (labelled recent); then d = n ("cold": the
 * initiator holds nothing). Both sides run the node's Negentropy code
 * (node/tj_negentropy.c, whatever it does at the time of the build) with the
 * node's options (node/tj_sync.c: TJ_PEER_NEG_FRAME_BYTES frames, the
 * initiator's id cap, a fresh responder session per query), in this process,
 * one after the other. Columns (JSON key in brackets):
 *
 *   neg round trips [neg_round_trips]: NEG messages the initiator sent, each
 *     answered once.
 *   NEG bytes i->r, r->i [neg_bytes_i2r, neg_bytes_r2i]: the Negentropy
 *     messages' bytes, initiator to responder ("up": the side lacking records
 *     asks) and back ("down"). These are the protocol bytes compared with
 *     strfry's.
 *   lower bound d x 32 [lower_bound_bytes]: the ids of the difference, once;
 *     no reconciliation can tell the initiator less.
 *   fetch round trips [fetch_round_trips]: WANTs of TJ_WIRE_WANT_MAX ids,
 *     TJ_PEER_WANTS_INFLIGHT in flight, so ceil(ceil(d / 256) / 4).
 *   wire bytes i->r, r->i [wire_bytes_i2r, wire_bytes_r2i]: everything the
 *     connection carries each way, as the node encodes it (node/tj_wire.h) and
 *     box-stream seals it: handshake, HELLOs, NEG messages, WANTs, and the
 *     RECORDS parts (at most 256 records / 512 KiB each) carrying the d records.
 *   reconcile CPU (ms) [reconcile_ms]: CPU time of the Negentropy exchange,
 *     both sides, messages encoded; not the snapshots (built before) nor the
 *     fetch. No network: see the RTT column.
 *   time over a link of RTT R ms [time_over_link_ms, with --rtt-ms R only]:
 *     COMPUTED, not measured: reconcile CPU + (neg round trips + fetch round
 *     trips) x R. It leaves out the connection's setup (the handshake's two
 *     round trips and the HELLOs) and the time to transmit the bytes.
 *   peak RSS (MiB) [peak_rss_mib, rss_base_mib]: the process's VmHWM at the end
 *     of the cell, reset (echo 5 > /proc/self/clear_refs) when it began, so the
 *     peak is the cell's own; it includes what was resident when the cell began
 *     (the corpus: "base"), then both snapshots (72 bytes an item each), the
 *     sessions' buffers and the lists of ids.
 *   found [found, matched, extra, ok]: ids the initiator learned it lacks, how
 *     many of them are among the d missing ones, and ids it believed the
 *     responder lacks (must be 0). A cell is ok when found == matched == d and
 *     extra == 0; a cell that is not ok is printed FAILED and makes the exit
 *     status 1.
 *   Under each table (JSON: cell_seconds, snapshots_seconds per cell): the
 *   cells' wall time, and how much of it went to building the snapshots.
 *
 * STRFRY. The issue gives strfry's figures (KB read as 1,000 bytes) for
 * n = 100,000 scattered: d = 1,000: 3 round trips, 65 KB up, 527 KB down;
 * d = 10,000: 9 round trips, 245 KB up, 2,000 KB down. Those two cells carry
 * them, with MET / NOT MET for round trips <= strfry's, NEG bytes up <= and
 * NEG bytes down <= ([strfry], [goal], [goal_met]: all three).
 *
 * COLD REPLICATION (not with --no-cold): the first K records (--cold-n K,
 * default min(largest n, 100,000)) through the node's ingest path in this
 * process: signatures checked in the libuv thread pool in batches of 256
 * (4 batches in flight), one LMDB write transaction per batch on the loop
 * thread, into an empty store in a temporary directory under --dir (default
 * /tmp; put it on the disk a node's data lives on). Records per second, the
 * loop thread's time in the store step, peak RSS (reset before).
 * VERIFY: decode + Ed25519 verify of the kept records on one core, for 2 s.
 *
 * JSON (--json): one object on stdout, nothing else there (errors and FAILED
 * cells go to stderr). Keys, kept stable for tejido-bench to fold in:
 *   "tool": "bench_sync",
 *   "machine" {date_utc, cpu, cores, kernel, load_before[3], load_after[3]},
 *   "options" {n[], d[], rtt_ms (null without --rtt-ms), quick, cold_n (null
 *     with --no-cold)},
 *   "corpus" {records, authors, record_interval_ms, records_kept,
 *     mean_record_bytes, threads, seconds, cpu_seconds, rss_mib, peak_rss_mib},
 *   "frame_limit_bytes", "wants_in_flight",
 *   "peak_rss_reset" (false if the kernel refused the reset: peaks are then
 *     since the start),
 *   "matrix" [{n, d, missing ("recent" | "scattered" | "cold"),
 *     neg_round_trips, neg_bytes_i2r, neg_bytes_r2i, fetch_round_trips,
 *     wire_bytes_i2r, wire_bytes_r2i, lower_bound_bytes, reconcile_ms,
 *     time_over_link_ms (with --rtt-ms only), peak_rss_mib, rss_base_mib,
 *     found, matched, extra, ok, cell_seconds, snapshots_seconds; and on strfry's two
 *     cells: strfry {round_trips, bytes_up, bytes_down},
 *     goal {round_trips, bytes_up, bytes_down} (each: ours <= strfry's),
 *     goal_met (all three)}],
 *   "cold_replication" {records, stored, refused, seconds, records_per_s,
 *     store_seconds, peak_rss_mib} or null (--no-cold),
 *   "verify" {verifies, seconds, verifies_per_s},
 *   "cells", "cells_failed", "seconds" (the whole run), "peak_rss_mib" (the
 *     run's: the largest of the phases' peaks; a parent's getrusage cannot
 *     see it, since each reset lowers the kernel's high-water mark).
 *
 * Exit status: 0; 1 if a cell failed, cold replication stored fewer records
 * than it was given, or the run itself failed; 2 for bad options (an unknown
 * option, an n outside 1..10,000,000, a bad list, --cold-n above the largest
 * n, an --rtt-ms outside (0, 60000], a --dir that is not a writable
 * directory).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <sodium.h>
#include <uv.h>

#include "bench_sync.h"
#include "tj_peer.h"

/* The strfry figures (scattered differences; bytes with KB = 1,000). */
static const struct bs_strfry {
	size_t n, d;
	uint32_t round_trips;
	uint64_t up, down;
} bs_strfry[] = {{100000, 1000, 3, 65000, 527000}, {100000, 10000, 9, 245000, 2000000}};

struct bs_run {
	struct bs_opts o;
	struct bs_corpus c;
	cJSON *j, *matrix;
	double load_before[3], gen_rss_mib, gen_peak_mib, t0;
	double peak_mib; /* the largest of the phases' peaks: the run's peak RSS */
	bool rss_reset;
	size_t cells, failed; /* failed: cells not ok */
	bool repl_failed;     /* cold replication stored fewer records than it was given */
};

/* ---- formatting ----------------------------------------------------------------- */

/* v with thousands separators; eight results may be live at once (one printf). */
static const char *bs_num(uint64_t v)
{
	static char ring[8][32];
	static unsigned next;
	char tmp[32], *out = ring[next++ % 8];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), o = 0;

	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
	return out;
}

static const char *bs_missing_name(enum bs_missing m)
{
	return m == BS_SCATTERED ? "scattered" : m == BS_COLD ? "cold" : "recent";
}

static const struct bs_strfry *bs_strfry_for(const struct bs_cell *cell)
{
	for (size_t k = 0; k < sizeof(bs_strfry) / sizeof(bs_strfry[0]); k++)
		if (cell->missing == BS_SCATTERED && bs_strfry[k].n == cell->n && bs_strfry[k].d == cell->d)
			return &bs_strfry[k];
	return NULL;
}

static double bs_link_ms(const struct bs_opts *o, const struct bs_cell *cell)
{
	return cell->cpu_ms + (double)(cell->neg_rounds + cell->fetch_rounds) * o->rtt_ms;
}

/* ---- the machine -------------------------------------------------------------- */

static void bs_loadavg(double l[3])
{
	if (getloadavg(l, 3) != 3)
		l[0] = l[1] = l[2] = -1;
}

static void bs_cpu_model(char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(out, cap, "unknown");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			snprintf(out, cap, "%s", colon + 2);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	if (f != NULL)
		fclose(f);
}

static cJSON *bs_json_triple(const double v[3])
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < 3; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
	return a;
}

static void bs_machine(struct bs_run *R)
{
	char date[40], cpu[128], kernel[160] = "unknown";
	time_t now = time(NULL);
	struct utsname u;
	unsigned cores = uv_available_parallelism();
	cJSON *m;

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	bs_cpu_model(cpu, sizeof(cpu));
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%.40s %.80s", u.sysname, u.release);
	if (R->o.json) {
		m = cJSON_AddObjectToObject(R->j, "machine");
		cJSON_AddStringToObject(m, "date_utc", date);
		cJSON_AddStringToObject(m, "cpu", cpu);
		cJSON_AddNumberToObject(m, "cores", cores);
		cJSON_AddStringToObject(m, "kernel", kernel);
		cJSON_AddItemToObject(m, "load_before", bs_json_triple(R->load_before));
		return;
	}
	printf("# bench_sync\n\nMeasured %s on %u x %s (%s). Load average before %.2f %.2f %.2f.\n", date,
	       cores, cpu, kernel, R->load_before[0], R->load_before[1], R->load_before[2]);
}

/* ---- the corpus ------------------------------------------------------------------- */

static void bs_corpus_report(struct bs_run *R)
{
	const struct bs_corpus *c = &R->c;
	double mean = (double)c->bytes / (double)c->n;
	cJSON *k;

	if (R->o.json) {
		k = cJSON_AddObjectToObject(R->j, "corpus");
		cJSON_AddNumberToObject(k, "records", (double)c->n);
		cJSON_AddNumberToObject(k, "authors", BS_AUTHORS);
		cJSON_AddNumberToObject(k, "record_interval_ms", BS_STEP_MS);
		cJSON_AddNumberToObject(k, "records_kept", (double)c->kept);
		cJSON_AddNumberToObject(k, "mean_record_bytes", mean);
		cJSON_AddNumberToObject(k, "threads", c->threads);
		cJSON_AddNumberToObject(k, "seconds", c->gen_s);
		cJSON_AddNumberToObject(k, "cpu_seconds", c->gen_cpu_s);
		cJSON_AddNumberToObject(k, "rss_mib", R->gen_rss_mib);
		cJSON_AddNumberToObject(k, "peak_rss_mib", R->gen_peak_mib);
		cJSON_AddNumberToObject(R->j, "frame_limit_bytes", TJ_PEER_NEG_FRAME_BYTES);
		cJSON_AddNumberToObject(R->j, "wants_in_flight", TJ_PEER_WANTS_INFLIGHT);
		cJSON_AddBoolToObject(R->j, "peak_rss_reset", R->rss_reset);
		return;
	}
	printf(
	    "\nCorpus (not timed below): %s sealed records of %d authors, one every %.3f s, mean %.0f bytes, "
	    "sealed in %.1f s on %u threads (%.1f CPU s); RSS %.0f MiB after, %.0f MiB at its peak. The "
	    "matrix at n uses the first n records; the sealed bytes of the first %s are kept (cold "
	    "replication, verify), of the others only (ts, id) and size. Negentropy frame limit %s bytes "
	    "(the node's).%s\n",
	    bs_num(c->n), BS_AUTHORS, BS_STEP_MS / 1000.0, mean, c->gen_s, c->threads, c->gen_cpu_s,
	    R->gen_rss_mib, R->gen_peak_mib, bs_num(c->kept), bs_num(TJ_PEER_NEG_FRAME_BYTES),
	    R->rss_reset ? ""
	                 : " WARNING: the kernel refused to reset the peak RSS; peaks are since the start.");
}

/* ---- the matrix ---------------------------------------------------------------------- */

static void bs_table_head(const struct bs_run *R, size_t n)
{
	printf("\n## Reconciliation, n = %s records on the responder\n\n", bs_num(n));
	printf("| d | missing | neg round trips | NEG bytes i->r | NEG bytes r->i | lower bound d x 32 | "
	       "fetch round trips | wire bytes i->r | wire bytes r->i | total wire bytes | reconcile CPU "
	       "(ms) |");
	if (R->o.rtt_ms > 0)
		printf(" time over a link of RTT %g ms, computed (ms) |", R->o.rtt_ms);
	printf(" peak RSS, MiB (base) | found |\n"
	       "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|%s---:|---|\n",
	       R->o.rtt_ms > 0 ? "---:|" : "");
}

static void bs_table_row(const struct bs_run *R, const struct bs_cell *cell)
{
	printf("| %s | %s | %u | %s | %s | %s | %u | %s | %s | %s | %.1f |", bs_num(cell->d),
	       bs_missing_name(cell->missing), cell->neg_rounds, bs_num(cell->neg_i2r), bs_num(cell->neg_r2i),
	       bs_num(32 * (uint64_t)cell->d), cell->fetch_rounds, bs_num(cell->wire_i2r),
	       bs_num(cell->wire_r2i), bs_num(cell->wire_i2r + cell->wire_r2i), cell->cpu_ms);
	if (R->o.rtt_ms > 0)
		printf(" %.0f |", bs_link_ms(&R->o, cell));
	printf(" %.0f (%.0f) |", cell->peak_rss_mib, cell->rss_base_mib);
	if (cell->exact)
		printf(" %s |\n", bs_num(cell->found));
	else
		printf(" **FAILED**: %s found of %s, %s of them missing ones; %s extra |\n",
		       bs_num(cell->found), bs_num(cell->d), bs_num(cell->matched), bs_num(cell->extra));
	fflush(stdout);
}

static const char *bs_met(bool met)
{
	return met ? "MET" : "NOT MET";
}

static void bs_strfry_rows(const struct bs_cell *cells, size_t count)
{
	bool head = false;

	for (size_t k = 0; k < count; k++) {
		const struct bs_cell *c = &cells[k];
		const struct bs_strfry *s = bs_strfry_for(c);
		bool rt, up, down;
		if (s == NULL)
			continue;
		if (!head) {
			printf("\nAgainst strfry (the issue's figures, same kind of machine; goal: ours <= "
			       "strfry's):\n\n| n, d | round trips: ours / strfry | NEG bytes up: ours / "
			       "strfry | NEG bytes down: ours / strfry | goal |\n|---|---|---|---|---|\n");
			head = true;
		}
		rt = c->neg_rounds <= s->round_trips;
		up = c->neg_i2r <= s->up;
		down = c->neg_r2i <= s->down;
		printf("| %s, %s scattered | %u / %u %s | %s / %s %s | %s / %s %s | **%s** |\n", bs_num(c->n),
		       bs_num(c->d), c->neg_rounds, s->round_trips, bs_met(rt), bs_num(c->neg_i2r),
		       bs_num(s->up), bs_met(up), bs_num(c->neg_r2i), bs_num(s->down), bs_met(down),
		       bs_met(rt && up && down));
	}
}

static void bs_cell_json(const struct bs_run *R, const struct bs_cell *cell)
{
	const struct bs_strfry *s = bs_strfry_for(cell);
	cJSON *j = cJSON_CreateObject(), *k, *g;

	cJSON_AddItemToArray(R->matrix, j);
	cJSON_AddNumberToObject(j, "n", (double)cell->n);
	cJSON_AddNumberToObject(j, "d", (double)cell->d);
	cJSON_AddStringToObject(j, "missing", bs_missing_name(cell->missing));
	cJSON_AddNumberToObject(j, "neg_round_trips", cell->neg_rounds);
	cJSON_AddNumberToObject(j, "neg_bytes_i2r", (double)cell->neg_i2r);
	cJSON_AddNumberToObject(j, "neg_bytes_r2i", (double)cell->neg_r2i);
	cJSON_AddNumberToObject(j, "fetch_round_trips", cell->fetch_rounds);
	cJSON_AddNumberToObject(j, "wire_bytes_i2r", (double)cell->wire_i2r);
	cJSON_AddNumberToObject(j, "wire_bytes_r2i", (double)cell->wire_r2i);
	cJSON_AddNumberToObject(j, "lower_bound_bytes", 32.0 * (double)cell->d);
	cJSON_AddNumberToObject(j, "reconcile_ms", cell->cpu_ms);
	if (R->o.rtt_ms > 0)
		cJSON_AddNumberToObject(j, "time_over_link_ms", bs_link_ms(&R->o, cell));
	cJSON_AddNumberToObject(j, "peak_rss_mib", cell->peak_rss_mib);
	cJSON_AddNumberToObject(j, "rss_base_mib", cell->rss_base_mib);
	cJSON_AddNumberToObject(j, "found", (double)cell->found);
	cJSON_AddNumberToObject(j, "matched", (double)cell->matched);
	cJSON_AddNumberToObject(j, "extra", (double)cell->extra);
	cJSON_AddBoolToObject(j, "ok", cell->exact);
	cJSON_AddNumberToObject(j, "cell_seconds", cell->wall_s);
	cJSON_AddNumberToObject(j, "snapshots_seconds", cell->snapshots_s);
	if (s == NULL)
		return;
	k = cJSON_AddObjectToObject(j, "strfry");
	cJSON_AddNumberToObject(k, "round_trips", s->round_trips);
	cJSON_AddNumberToObject(k, "bytes_up", (double)s->up);
	cJSON_AddNumberToObject(k, "bytes_down", (double)s->down);
	g = cJSON_AddObjectToObject(j, "goal");
	cJSON_AddBoolToObject(g, "round_trips", cell->neg_rounds <= s->round_trips);
	cJSON_AddBoolToObject(g, "bytes_up", cell->neg_i2r <= s->up);
	cJSON_AddBoolToObject(g, "bytes_down", cell->neg_r2i <= s->down);
	cJSON_AddBoolToObject(j, "goal_met",
	                      cell->neg_rounds <= s->round_trips && cell->neg_i2r <= s->up &&
	                          cell->neg_r2i <= s->down);
}

static void bs_one_cell(struct bs_run *R, struct bs_cell *cell)
{
	double t0;

	bs_rss_reset();
	cell->rss_base_mib = bs_status_mib("VmRSS");
	t0 = bs_now();
	bs_cell_run(&R->c, cell);
	cell->wall_s = bs_now() - t0;
	cell->peak_rss_mib = bs_status_mib("VmHWM");
	if (cell->peak_rss_mib > R->peak_mib)
		R->peak_mib = cell->peak_rss_mib;
	R->cells++;
	if (!cell->exact) {
		R->failed++;
		fprintf(stderr,
		        "bench_sync: FAILED cell n %zu, d %zu %s: %zu found (%zu missing ones), %zu extra\n",
		        cell->n, cell->d, bs_missing_name(cell->missing), cell->found, cell->matched,
		        cell->extra);
	}
	if (R->o.json)
		bs_cell_json(R, cell);
	else
		bs_table_row(R, cell);
}

/* All the cells of one n: each d < n recent and scattered (d = 0 once), then cold. */
static void bs_matrix_n(struct bs_run *R, size_t n)
{
	struct bs_cell cells[2 * 8 + 1];
	size_t count = 0;
	double wall = 0, snap = 0;

	if (!R->o.json)
		bs_table_head(R, n);
	for (size_t k = 0; k < R->o.d_count && R->o.ds[k] < n; k++)
		for (int m = BS_RECENT; m <= BS_SCATTERED; m++) {
			if (R->o.ds[k] == 0 && m == BS_SCATTERED)
				continue;
			cells[count] =
			    (struct bs_cell){.n = n, .d = R->o.ds[k], .missing = (enum bs_missing)m};
			bs_one_cell(R, &cells[count++]);
		}
	cells[count] = (struct bs_cell){.n = n, .d = n, .missing = BS_COLD};
	bs_one_cell(R, &cells[count++]);
	if (R->o.json)
		return;
	for (size_t k = 0; k < count; k++) {
		wall += cells[k].wall_s;
		snap += cells[k].snapshots_s;
	}
	printf("\nThese %zu cells took %.1f s of wall time, %.1f s of it building the two snapshots of "
	       "each cell (n items sorted, as the node builds its snapshot); the exchange itself is the CPU "
	       "column.\n",
	       count, wall, snap);
	bs_strfry_rows(cells, count);
}

/* ---- cold replication and verify ------------------------------------------------------- */

static void bs_cold(struct bs_run *R)
{
	struct bs_repl r;
	cJSON *k;

	bs_replicate(&R->c, R->o.cold_n, R->o.dir, &r);
	if (r.peak_rss_mib > R->peak_mib)
		R->peak_mib = r.peak_rss_mib;
	if (r.stored != r.records) {
		R->repl_failed = true;
		fprintf(stderr, "bench_sync: cold replication stored %zu of %zu records\n", r.stored,
		        r.records);
	}
	if (!R->o.json) {
		printf("\n## Cold replication into an empty node (ingest: verify in the thread pool, 256 per "
		       "batch, one transaction per batch; libuv pool: %s threads)\n\n",
		       getenv("UV_THREADPOOL_SIZE") != NULL ? getenv("UV_THREADPOOL_SIZE") : "4");
		printf("- %s records stored (%s refused) in %.2f s: **%.0f records/s**; the store step took "
		       "%.2f s of it on the loop thread; peak RSS %.0f MiB\n",
		       bs_num(r.stored), bs_num(r.refused), r.seconds, (double)r.stored / r.seconds,
		       r.store_s, r.peak_rss_mib);
		return;
	}
	k = cJSON_AddObjectToObject(R->j, "cold_replication");
	cJSON_AddNumberToObject(k, "records", (double)r.records);
	cJSON_AddNumberToObject(k, "stored", (double)r.stored);
	cJSON_AddNumberToObject(k, "refused", (double)r.refused);
	cJSON_AddNumberToObject(k, "seconds", r.seconds);
	cJSON_AddNumberToObject(k, "records_per_s", (double)r.stored / r.seconds);
	cJSON_AddNumberToObject(k, "store_seconds", r.store_s);
	cJSON_AddNumberToObject(k, "peak_rss_mib", r.peak_rss_mib);
}

static void bs_verify(struct bs_run *R)
{
	struct bs_verify v;
	cJSON *k;

	bs_verify_rate(&R->c, R->o.quick ? 0.2 : 2.0, &v);
	if (!R->o.json) {
		printf("- Ed25519 verify (decode + verify, one core): **%.0f verifies/s**\n",
		       (double)v.verifies / v.seconds);
		return;
	}
	k = cJSON_AddObjectToObject(R->j, "verify");
	cJSON_AddNumberToObject(k, "verifies", (double)v.verifies);
	cJSON_AddNumberToObject(k, "seconds", v.seconds);
	cJSON_AddNumberToObject(k, "verifies_per_s", (double)v.verifies / v.seconds);
}

static void bs_options_json(struct bs_run *R)
{
	cJSON *o = cJSON_AddObjectToObject(R->j, "options"), *ns = cJSON_AddArrayToObject(o, "n"),
	      *ds = cJSON_AddArrayToObject(o, "d");

	for (size_t k = 0; k < R->o.n_count; k++)
		cJSON_AddItemToArray(ns, cJSON_CreateNumber((double)R->o.ns[k]));
	for (size_t k = 0; k < R->o.d_count; k++)
		cJSON_AddItemToArray(ds, cJSON_CreateNumber((double)R->o.ds[k]));
	if (R->o.rtt_ms > 0)
		cJSON_AddNumberToObject(o, "rtt_ms", R->o.rtt_ms);
	else
		cJSON_AddNullToObject(o, "rtt_ms");
	cJSON_AddBoolToObject(o, "quick", R->o.quick);
	if (R->o.no_cold)
		cJSON_AddNullToObject(o, "cold_n");
	else
		cJSON_AddNumberToObject(o, "cold_n", (double)R->o.cold_n);
}

static void bs_finish(struct bs_run *R)
{
	double load[3], total = bs_now() - R->t0, hwm = bs_status_mib("VmHWM");
	char *s;

	bs_loadavg(load);
	if (hwm > R->peak_mib) /* since the last reset: cold replication and verify, or the last cell */
		R->peak_mib = hwm;
	if (!R->o.json) {
		printf(
		    "\nWhole run %.1f s, peak RSS %.0f MiB (the largest of the phases' peaks); load average "
		    "after %.2f %.2f %.2f; %zu cells, %zu failed.\n",
		    total, R->peak_mib, load[0], load[1], load[2], R->cells, R->failed);
		return;
	}
	cJSON_AddItemToObject(cJSON_GetObjectItem(R->j, "machine"), "load_after", bs_json_triple(load));
	cJSON_AddNumberToObject(R->j, "cells", (double)R->cells);
	cJSON_AddNumberToObject(R->j, "cells_failed", (double)R->failed);
	cJSON_AddNumberToObject(R->j, "seconds", total);
	cJSON_AddNumberToObject(R->j, "peak_rss_mib", R->peak_mib);
	if ((s = cJSON_Print(R->j)) == NULL)
		bs_die("JSON", -ENOMEM);
	puts(s);
	cJSON_free(s);
}

int main(int argc, char **argv)
{
	static struct bs_run R;
	unsigned threads;
	size_t n_max;

	bs_parse_opts(&R.o, argc, argv);
	bs_settle_opts(&R.o);
	if (sodium_init() < 0)
		bs_die("libsodium", TJ_ECRYPTO);
	R.t0 = bs_now();
	bs_loadavg(R.load_before);
	if (R.o.json) {
		if ((R.j = cJSON_CreateObject()) == NULL)
			bs_die("JSON", -ENOMEM);
		cJSON_AddStringToObject(R.j, "tool", "bench_sync");
	}
	bs_machine(&R);
	if (R.o.json)
		bs_options_json(&R);
	threads = uv_available_parallelism() < 16 ? uv_available_parallelism() : 16;
	n_max = R.o.ns[R.o.n_count - 1];
	R.rss_reset = bs_rss_reset();
	/* Without cold replication, the verify rate still needs some sealed bytes. */
	bs_corpus_gen(&R.c, n_max, R.o.no_cold ? (n_max < 10000 ? n_max : 10000) : R.o.cold_n, threads);
	R.gen_rss_mib = bs_status_mib("VmRSS");
	R.gen_peak_mib = bs_status_mib("VmHWM");
	R.peak_mib = R.gen_peak_mib;
	bs_corpus_report(&R);
	if (R.o.json)
		R.matrix = cJSON_AddArrayToObject(R.j, "matrix");
	for (size_t k = 0; k < R.o.n_count; k++)
		bs_matrix_n(&R, R.o.ns[k]);
	if (!R.o.no_cold)
		bs_cold(&R);
	else if (R.o.json)
		cJSON_AddNullToObject(R.j, "cold_replication");
	bs_verify(&R);
	bs_finish(&R);
	cJSON_Delete(R.j);
	bs_corpus_free(&R.c);
	return R.failed > 0 || R.repl_failed ? 1 : 0;
}
