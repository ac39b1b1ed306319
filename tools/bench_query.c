/*
 * Queries and statistics over 100,000 and 1,000,000 incidents (the phase
 * `queries` of tejido-bench; --n-query LIST, default 100000,1000000).
 *
 * For each n, a node's data directory is made as `tejido init` makes it
 * (tj_keyfile_create with TJ_KDF_MIN, tj_node_init) and filled with n
 * incidents through the node's own add path in this process: tj_node_add
 * with batches of 1,000 incidents (summary and case face, bodies from
 * bench_gen.c's bench_incident: the whole INEGI catalogue, ten years, varied
 * victims, aggressors and narratives). Each call re-validates, seals both
 * faces, stores them in one write transaction (the victim index with it),
 * then indexes them for queries and runs the alert rules in a second one:
 * what a daemon does for `add_batch`, without the socket. A generator thread
 * builds batch k + 1 while the node stores batch k, and computes from the
 * bodies what every shape below should return. The fill stops when
 * --query-budget seconds (default 600) have passed: the figures then say how
 * many incidents it reached.
 *
 * Then the data file's page cache is dropped (posix_fadvise), a real daemon
 * is started on the directory (fork + tj_daemon_run) and each request shape
 * is timed: the first run after the start (cold cache for what the daemon
 * does not map yet) shown apart, then up to 5 more (fewer when they pass 10
 * seconds together, at least one): their median, minimum and maximum.
 *
 *   query  control requests: a municipality in one year (selective); a
 *          state over every year, first page, and the last page by offset
 *          (which opens every match before it); an aggressor type; a state,
 *          an aggressor type and a year together; victims' gender and age
 *          band in one year (the query op has no victim reference filter:
 *          references are only in the blinded victim index); everything,
 *          first and second page of 100.
 *   stats  control requests: by state, by aggressor type, by gender and
 *          aggressor type over everything, by state over one year, by
 *          aggressor type in one state over one year.
 *   cli    `tejido query ... --json` and `tejido stats ... --format json`
 *          against the running daemon, process start included.
 *
 * The codes are chosen from the first 20,000 generated incidents (the
 * busiest municipality and year, the busiest state, the most frequent
 * aggressor type, gender and age band; for the last page, the busiest state
 * whose matches fit TJ_QUERY_RESULTS_MAX). Each shape's result is checked:
 * a query's count against min(limit, matches - offset) counted over the
 * generated bodies with the node's filter, a statistics table against the
 * table tj_stats_add makes from the generated bodies directly (equal as
 * JSON, suppression included). The run fails (exit 1) when one differs.
 * Printed per n: the fill's rate, the time in tj_node_add, the daemon's
 * start time on the filled store, per shape the count, the first run and the
 * median with its range in ms, then the daemon's VmHWM and RSS and the bytes
 * on disk per incident.
 *
 * What bounds the fill: the node's CPU per incident grows with the store
 * (2026-12-05, Release, 2 cores: 0.6-0.7 ms over the first 10,000 incidents,
 * 2.2 ms at 90,000-100,000, 4.3 ms at 158,000-168,000). A profile (perf,
 * DWARF stacks, 20 s at ~50,000 stored) put 38% of the process's samples in
 * the alert rule T5 (tj__clusters loading the sealed alerts of the incident's
 * window, which hold more incidents as the store grows), 12% in the query
 * index's puts, 9% in the commit of the alerts' transaction and ~19% in
 * sealing both faces and verifying them again through ingest (constant per
 * incident). The fill is therefore quadratic: about 3 hours of CPU for
 * 1,000,000 incidents on that machine, and the default budget stops it near
 * 170,000.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <sodium.h>

#include "bench.h"
#include "tj_alert.h"
#include "tj_control.h"
#include "tj_incident.h"
#include "tj_log.h"
#include "tj_mp.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_query.h"
#include "tj_stats.h"
#include "tj_store.h"

#define BQ_SAMPLE 20000u /* incidents looked at to choose the shapes' codes */
#define BQ_SLOTS 3       /* batches in flight between the generator and the node */
#define BQ_RUNS 5        /* warm runs of a shape ... */
#define BQ_SHAPE_S 10.0  /* ... unless they pass this together (at least one) */
#define BQ_TAIL 50u      /* matches on the last page of the paging shape */
#define BENCH_PASS "tejido-bench passphrase"
#define BENCH_READY_TIMEOUT_MS 900000 /* a daemon opening a big store */
#define BQ_OUT_MAX_BYTES (256u << 20) /* a CLI's output we read */
#define BQ_MUNI_SLOTS 4096u           /* hash of municipality codes (2,475 exist) */
#define BQ_YEAR0 2000
#define BQ_YEARS 32
#define BQ_CODES_MAX 96
#define BQ_QSPECS 12
#define BQ_SSPECS 8
#define BQ_EDGE_BATCHES 10u /* batches whose CPU cost is shown at the start and the end of a fill */

/* ---- options ------------------------------------------------------------------------ */

void bench_query_opt_list(const char *arg, struct bench_opts *o)
{
	const char *p = arg;

	o->n_query_count = 0;
	while (*p != '\0') {
		char *end = NULL;
		unsigned long long v;

		if (*p < '0' || *p > '9')
			bench_usage_die("--n-query: '%s' is not a list of numbers such as 100000,1000000",
			                arg);
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno != 0 || v == 0 || v > BENCH_QUERY_N_MAX)
			bench_usage_die("--n-query: each size must be 1 to 10000000 ('%s')", arg);
		if (*end != ',' && *end != '\0')
			bench_usage_die("--n-query: '%s' is not a list of numbers such as 100000,1000000",
			                arg);
		if (o->n_query_count == BENCH_QUERY_NS_MAX)
			bench_usage_die("--n-query: at most 8 sizes ('%s')", arg);
		o->n_query[o->n_query_count++] = v;
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && *p == '\0')
			bench_usage_die("--n-query: '%s' ends with a comma", arg);
	}
	if (o->n_query_count == 0)
		bench_usage_die("--n-query: '%s' lists no size", arg);
}

void bench_query_opt_budget(const char *arg, struct bench_opts *o)
{
	char *end = NULL;
	double v = strtod(arg, &end);

	if (end == arg || *end != '\0' || !(v >= 1) || v > 86400)
		bench_usage_die("--query-budget: '%s' is not a number of seconds from 1 to 86400", arg);
	o->query_budget_s = v;
}

/* ---- the shapes ---------------------------------------------------------------------- */

struct bq_qspec {
	char what[112];
	uint32_t n_terms;
	char field[3][TJ_QUERY_FIELD_MAX];
	char codes[3][TJ_CODE_MAX];
	char since[24], until[24];
	uint32_t limit, offset;
	bool cli;
	bool page_by_total; /* the offset is set once the total is known: the last BQ_TAIL matches */
	struct tj_query q;  /* the filter, without limit and offset */
	uint64_t total;     /* generated incidents that pass it */
};

struct bq_sspec {
	char what[112];
	char by[48], state[3], from[24], to[24];
	bool cli;
	struct tj_query q; /* the filter tj_stats_compute applies */
	struct tj_stats *expect;
};

struct bq_plan {
	uint32_t n_q, n_s;
	struct bq_qspec qs[BQ_QSPECS];
	struct bq_sspec ss[BQ_SSPECS];
};

/* Code counters of the sample. */
struct bq_counter {
	uint32_t n;
	char code[BQ_CODES_MAX][TJ_CODE_MAX];
	uint64_t count[BQ_CODES_MAX];
};

struct bq_muni {
	char code[6];
	uint32_t years[BQ_YEARS];
};

struct bq_sample {
	struct bq_muni muni[BQ_MUNI_SLOTS];
	uint64_t state[33];
	uint64_t year[BQ_YEARS];
	struct bq_counter agg, gender, age;
	uint64_t n;
};

static void bq_count(struct bq_counter *c, const struct tj_incident_summary *s, const char *field)
{
	const char *codes[TJ_QUERY_VALUES_MAX];
	size_t n = tj_summary_codes(s, field, codes, TJ_QUERY_VALUES_MAX);

	for (size_t i = 0; i < n; i++) {
		uint32_t k;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(codes[j], codes[i]) == 0; /* an incident counts once per code */
		if (seen)
			continue;
		for (k = 0; k < c->n && strcmp(c->code[k], codes[i]) != 0; k++)
			;
		if (k == c->n && c->n < BQ_CODES_MAX)
			snprintf(c->code[c->n++], TJ_CODE_MAX, "%s", codes[i]);
		if (k < c->n)
			c->count[k]++;
	}
}

/* The most frequent code, "not_applicable" and "unknown" (collectives, gaps) only when nothing else is there.
 */
static const char *bq_top(const struct bq_counter *c)
{
	uint32_t best = 0;

	if (c->n == 0)
		bench_die("the generated incidents hold no code to query");
	for (uint32_t k = 1; k < c->n; k++) {
		bool vague = strcmp(c->code[k], "not_applicable") == 0 || strcmp(c->code[k], "unknown") == 0;
		bool best_vague =
		    strcmp(c->code[best], "not_applicable") == 0 || strcmp(c->code[best], "unknown") == 0;
		if ((c->count[k] > c->count[best] && (!vague || best_vague)) || (best_vague && !vague))
			best = k;
	}
	return c->code[best];
}

static void bq_sample_one(struct bq_sample *sm, const struct tj_incident_summary *s)
{
	int y = s->occurred.start.year - BQ_YEAR0;
	int st = atoi(s->location.state);
	uint32_t h = 0;

	if (st >= 1 && st <= 32)
		sm->state[st]++;
	bq_count(&sm->agg, s, "aggressor");
	bq_count(&sm->gender, s, "gender");
	bq_count(&sm->age, s, "age_band");
	sm->n++;
	if (y < 0 || y >= BQ_YEARS || s->location.municipality[0] == '\0')
		return;
	sm->year[y]++;
	for (const char *p = s->location.municipality; *p != '\0'; p++)
		h = h * 31u + (uint8_t)*p;
	for (uint32_t i = 0; i < BQ_MUNI_SLOTS; i++) {
		struct bq_muni *m = &sm->muni[(h + i) % BQ_MUNI_SLOTS];
		if (m->code[0] == '\0')
			memcpy(m->code, s->location.municipality, 6);
		if (strcmp(m->code, s->location.municipality) == 0) {
			m->years[y]++;
			return;
		}
	}
}

static void bq_sample(const struct bench_corpus *c, uint64_t n, struct bq_sample *sm)
{
	uint8_t *sum = malloc(TJ_INC_BODY_MAX_BYTES), *kase = malloc(TJ_INC_BODY_MAX_BYTES);
	struct tj_incident_summary *s = tj_incident_summary_new();

	if (sum == NULL || kase == NULL || s == NULL)
		bench_die("out of memory");
	for (uint64_t i = 0; i < n && i < BQ_SAMPLE; i++) {
		size_t sl = 0, cl = 0;
		bench_incident(c, i, 0, sum, &sl, kase, &cl);
		if (tj_incident_summary_decode(sum, sl, s) != 0)
			bench_die("a generated summary does not decode");
		bq_sample_one(sm, s);
	}
	tj_incident_summary_free(s);
	free(sum);
	free(kase);
}

static struct bq_qspec *bq_q(struct bq_plan *p, uint32_t limit)
{
	struct bq_qspec *q = &p->qs[p->n_q++];

	memset(q, 0, sizeof(*q));
	q->limit = limit;
	return q;
}

static void bq_term(struct bq_qspec *q, const char *field, const char *codes)
{
	snprintf(q->field[q->n_terms], TJ_QUERY_FIELD_MAX, "%s", field);
	snprintf(q->codes[q->n_terms], TJ_CODE_MAX, "%s", codes);
	q->n_terms++;
}

/* The request as the CLI spells it: --field codes... --since --until --offset --limit. */
static void bq_describe(struct bq_qspec *q)
{
	char w[sizeof(q->what)], flag[TJ_QUERY_FIELD_MAX];
	size_t off;
	int k;

	k = snprintf(w, sizeof(w), "%s", q->cli ? "tejido query" : q->n_terms ? "" : "(everything)");
	off = k > 0 ? (size_t)k : 0;
	for (uint32_t i = 0; i < q->n_terms && off < sizeof(w); i++) {
		snprintf(flag, sizeof(flag), "%s", q->field[i]);
		for (char *p = flag; *p != '\0'; p++)
			*p = *p == '_' ? '-' : *p;
		k = snprintf(w + off, sizeof(w) - off, "%s--%s %s", off ? " " : "", flag, q->codes[i]);
		off += k > 0 ? (size_t)k : 0;
	}
	if (q->since[0] != '\0' && off < sizeof(w)) {
		k = snprintf(w + off, sizeof(w) - off, " --since %s --until %s", q->since, q->until);
		off += k > 0 ? (size_t)k : 0;
	}
	if (q->offset > 0 && off < sizeof(w)) {
		k = snprintf(w + off, sizeof(w) - off, " --offset %u", q->offset);
		off += k > 0 ? (size_t)k : 0;
	}
	if (off < sizeof(w))
		snprintf(w + off, sizeof(w) - off, " --limit %u%s%s", q->limit,
		         q->page_by_total ? " (the last page)" : "", q->cli ? " --json" : "");
	memcpy(q->what, w, sizeof(w));
}

static void bq_year(struct bq_qspec *q, int year)
{
	snprintf(q->since, sizeof(q->since), "%04d-01-01", year);
	snprintf(q->until, sizeof(q->until), "%04d-12-31", year);
}

static struct bq_sspec *bq_s(struct bq_plan *p, const char *by, const char *state, int year, bool cli)
{
	struct bq_sspec *s = &p->ss[p->n_s++];
	char range[64] = "";

	memset(s, 0, sizeof(*s));
	snprintf(s->by, sizeof(s->by), "%s", by);
	snprintf(s->state, sizeof(s->state), "%s", state);
	if (year > 0) {
		snprintf(s->from, sizeof(s->from), "%04d-01", year);
		snprintf(s->to, sizeof(s->to), "%04d-12", year);
		snprintf(range, sizeof(range), " --from %s --to %s", s->from, s->to);
	}
	snprintf(s->what, sizeof(s->what), "%s--by %s%s%s%s%s", cli ? "tejido stats " : "", by,
	         state[0] ? " --state " : "", state, range, cli ? " --format json" : "");
	s->cli = cli;
	return s;
}

/* The busiest (municipality, year) cell of the sample. */
static void bq_busiest_muni(const struct bq_sample *sm, char muni[6], int *year)
{
	uint32_t best = 0;

	muni[0] = '\0';
	*year = BQ_YEAR0;
	for (uint32_t i = 0; i < BQ_MUNI_SLOTS; i++)
		for (int y = 0; y < BQ_YEARS && sm->muni[i].code[0] != '\0'; y++)
			if (sm->muni[i].years[y] > best) {
				best = sm->muni[i].years[y];
				memcpy(muni, sm->muni[i].code, 6);
				*year = BQ_YEAR0 + y;
			}
	if (muni[0] == '\0')
		bench_die("the generated incidents name no municipality");
}

/* The busiest state, and the busiest whose matches at n fit the query op's offsets. */
static void bq_states(const struct bq_sample *sm, uint64_t n, char big[3], char page[3])
{
	int b = 1, p = 0;

	for (int st = 1; st <= 32; st++) {
		uint64_t projected = sm->n ? sm->state[st] * n / sm->n : 0;
		if (sm->state[st] > sm->state[b])
			b = st;
		if (projected + projected / 10 < TJ_QUERY_RESULTS_MAX &&
		    (p == 0 || sm->state[st] > sm->state[p]))
			p = st;
	}
	snprintf(big, 3, "%02u", (unsigned)b % 100u);
	snprintf(page, 3, "%02u", (unsigned)(p == 0 ? 1 : p) % 100u);
}

static int bq_busiest_year(const struct bq_sample *sm)
{
	int best = 0;

	for (int y = 1; y < BQ_YEARS; y++)
		if (sm->year[y] > sm->year[best])
			best = y;
	return BQ_YEAR0 + best;
}

static void bq_plan_make(const struct bq_sample *sm, uint64_t n, struct bq_plan *p)
{
	char muni[6], big[3], page[3];
	const char *agg = bq_top(&sm->agg);
	int my, year = bq_busiest_year(sm);
	struct bq_qspec *q;

	bq_busiest_muni(sm, muni, &my);
	bq_states(sm, n, big, page);
	memset(p, 0, sizeof(*p));
	q = bq_q(p, 200);
	bq_term(q, "municipality", muni);
	bq_year(q, my);
	q = bq_q(p, 100);
	bq_term(q, "state", big);
	q = bq_q(p, 200);
	bq_term(q, "state", page);
	q->page_by_total = true;
	q = bq_q(p, 100);
	bq_term(q, "aggressor", agg);
	q = bq_q(p, 200);
	bq_term(q, "state", big);
	bq_term(q, "aggressor", agg);
	bq_year(q, year);
	q = bq_q(p, 200);
	bq_term(q, "gender", bq_top(&sm->gender));
	bq_term(q, "age_band", bq_top(&sm->age));
	bq_year(q, year);
	bq_q(p, 100);
	bq_q(p, 100)->offset = 100;
	q = bq_q(p, 200);
	bq_term(q, "municipality", muni);
	bq_year(q, my);
	q->cli = true;
	q = bq_q(p, 1000);
	bq_term(q, "state", big);
	q->cli = true;
	for (uint32_t i = 0; i < p->n_q; i++)
		bq_describe(&p->qs[i]);

	bq_s(p, "state", "", 0, false);
	bq_s(p, "aggressor_type", "", 0, false);
	bq_s(p, "gender,aggressor_type", "", 0, false);
	bq_s(p, "state", "", year, false);
	bq_s(p, "aggressor_type", big, year, false);
	bq_s(p, "state", "", 0, true);
	bq_s(p, "gender,aggressor_type", big, year, true);
}

static int64_t bq_days(const char *date, bool upper)
{
	struct tj_date d;
	int64_t day;

	if (tj_date_parse(date, &d) != 0)
		bench_die("bad date %s", date);
	if (upper && d.day == 0) { /* YYYY-MM as an upper bound: its last day, as the node reads it */
		struct tj_date next = {d.month == 12 ? d.year + 1 : d.year,
		                       (uint8_t)(d.month == 12 ? 1 : d.month + 1), 1};
		return tj_date_days(&next) - 1;
	}
	day = tj_date_days(&d);
	return day;
}

/* The node's filters of every shape, and empty expected tables. */
static void bq_plan_filters(struct bq_plan *p)
{
	char bad[TJ_CODE_MAX], badd[24];

	for (uint32_t i = 0; i < p->n_q; i++) {
		struct bq_qspec *q = &p->qs[i];
		for (uint32_t t = 0; t < q->n_terms; t++)
			if (tj_query_term_parse(q->field[t], q->codes[t], &q->q.terms[q->q.n_terms++], bad) !=
			    0)
				bench_die("query shape: '%s' is not a %s code", bad, q->field[t]);
		if ((q->q.has_since = q->since[0] != '\0'))
			q->q.since_day = bq_days(q->since, false);
		if ((q->q.has_until = q->until[0] != '\0'))
			q->q.until_day = bq_days(q->until, true);
	}
	for (uint32_t i = 0; i < p->n_s; i++) {
		struct bq_sspec *s = &p->ss[i];
		struct tj_stats_query sq;
		memset(&sq, 0, sizeof(sq));
		if (tj_stats_dims_parse(s->by, &sq, badd) != 0)
			bench_die("stats shape: '%s' is not a dimension", badd);
		memcpy(sq.state, s->state, sizeof(sq.state));
		if (s->state[0] != '\0' &&
		    tj_query_term_parse("state", s->state, &s->q.terms[s->q.n_terms++], bad) != 0)
			bench_die("stats shape: bad state %s", s->state);
		if ((sq.has_from = s->q.has_since = s->from[0] != '\0'))
			sq.from_day = s->q.since_day = bq_days(s->from, false);
		if ((sq.has_to = s->q.has_until = s->to[0] != '\0'))
			sq.to_day = s->q.until_day = bq_days(s->to, true);
		if (tj_stats_new(&sq, &s->expect) != 0)
			bench_die("out of memory");
	}
}

static void bq_plan_free(struct bq_plan *p)
{
	for (uint32_t i = 0; i < p->n_s; i++)
		tj_stats_free(p->ss[i].expect);
}

/* One stored incident into the expected results. */
static void bq_tally(struct bq_plan *p, const struct tj_incident_summary *s)
{
	for (uint32_t i = 0; i < p->n_q; i++)
		p->qs[i].total += tj_query_matches(&p->qs[i].q, s);
	for (uint32_t i = 0; i < p->n_s; i++)
		if (tj_query_matches(&p->ss[i].q, s) && tj_stats_add(p->ss[i].expect, s) != 0)
			bench_die("stats shape %s: too many values", p->ss[i].what);
}

/* ---- the fill: a generator thread and the node's add path --------------------------- */

enum bq_slot_state { BQ_FREE, BQ_READY, BQ_STORED };

struct bq_slot {
	enum bq_slot_state state;
	uint64_t first;
	uint32_t count;
	uint8_t *arena;
	size_t used, cap;
	size_t sum_off[BENCH_BATCH], sum_len[BENCH_BATCH], case_off[BENCH_BATCH], case_len[BENCH_BATCH];
};

struct bq_fill {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bq_slot slot[BQ_SLOTS];
	const struct bench_corpus *c;
	struct bq_plan *plan;
	uint64_t n, next_gen;
	bool stop;
	double gen_cpu_s;
	uint64_t sum_bytes, case_bytes;
};

static void bq_arena_put(struct bq_slot *sl, const uint8_t *p, size_t len, size_t *off)
{
	if (sl->used + len > sl->cap) {
		size_t cap = sl->cap ? sl->cap : 4u << 20;
		uint8_t *a;
		while (cap < sl->used + len)
			cap *= 2;
		if ((a = realloc(sl->arena, cap)) == NULL)
			bench_die("out of memory");
		sl->arena = a;
		sl->cap = cap;
	}
	memcpy(sl->arena + sl->used, p, len);
	*off = sl->used;
	sl->used += len;
}

static void bq_generate(struct bq_fill *f, struct bq_slot *sl, uint8_t *sum, uint8_t *kase)
{
	sl->used = 0;
	for (uint32_t k = 0; k < sl->count; k++) {
		uint64_t i = sl->first + k, rs = i * 0x9E3779B97F4A7C15ull + 7;
		size_t slen = 0, clen = 0;
		bench_incident(f->c, i, 0, sum, &slen, kase, &clen);
		bench_incident(f->c, i, bench_case_target(slen, &rs), sum, &slen, kase, &clen);
		bq_arena_put(sl, sum, slen, &sl->sum_off[k]);
		bq_arena_put(sl, kase, clen, &sl->case_off[k]);
		sl->sum_len[k] = slen;
		sl->case_len[k] = clen;
	}
}

/* Expected results from the bodies of a stored batch. */
static void bq_tally_slot(struct bq_fill *f, struct bq_slot *sl, struct tj_incident_summary *s)
{
	for (uint32_t k = 0; k < sl->count; k++) {
		if (tj_incident_summary_decode(sl->arena + sl->sum_off[k], sl->sum_len[k], s) != 0)
			bench_die("a generated summary does not decode");
		bq_tally(f->plan, s);
		f->sum_bytes += sl->sum_len[k];
		f->case_bytes += sl->case_len[k];
	}
}

static struct bq_slot *bq_find(struct bq_fill *f, enum bq_slot_state st)
{
	struct bq_slot *best = NULL;

	for (int i = 0; i < BQ_SLOTS; i++)
		if (f->slot[i].state == st && (best == NULL || f->slot[i].first < best->first))
			best = &f->slot[i];
	return best;
}

static void *bq_generator(void *arg)
{
	struct bq_fill *f = arg;
	uint8_t *sum = malloc(TJ_INC_BODY_MAX_BYTES), *kase = malloc(TJ_INC_BODY_MAX_BYTES);
	struct tj_incident_summary *s = tj_incident_summary_new();
	struct timespec ts;
	struct bq_slot *sl;

	if (sum == NULL || kase == NULL || s == NULL)
		bench_die("out of memory");
	pthread_mutex_lock(&f->mu);
	for (;;) {
		if ((sl = bq_find(f, BQ_STORED)) != NULL) {
			pthread_mutex_unlock(&f->mu);
			bq_tally_slot(f, sl, s);
			pthread_mutex_lock(&f->mu);
			sl->state = BQ_FREE;
		} else if (f->stop) {
			break;
		} else if (f->next_gen < f->n && (sl = bq_find(f, BQ_FREE)) != NULL) {
			sl->first = f->next_gen;
			sl->count =
			    (uint32_t)(f->n - f->next_gen < BENCH_BATCH ? f->n - f->next_gen : BENCH_BATCH);
			f->next_gen += sl->count;
			pthread_mutex_unlock(&f->mu);
			bq_generate(f, sl, sum, kase);
			pthread_mutex_lock(&f->mu);
			sl->state = BQ_READY;
		} else {
			pthread_cond_wait(&f->cv, &f->mu);
			continue;
		}
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	f->gen_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	tj_incident_summary_free(s);
	free(sum);
	free(kase);
	return NULL;
}

static double bq_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stores one generated batch through tj_node_add; returns the seconds inside it, *cpu_s its CPU time. */
static double bq_store(struct tj_node *node, struct bq_slot *sl, struct tj_add_item *items, double *cpu_s)
{
	double t0, c0;
	int rc;

	for (uint32_t k = 0; k < sl->count; k++) {
		memset(&items[k], 0, sizeof(items[k]));
		items[k].summary = sl->arena + sl->sum_off[k];
		items[k].summary_len = sl->sum_len[k];
		items[k].case_body = sl->arena + sl->case_off[k];
		items[k].case_len = sl->case_len[k];
	}
	c0 = bq_thread_cpu();
	t0 = bench_now();
	rc = tj_node_add(node, items, sl->count);
	t0 = bench_now() - t0;
	*cpu_s = bq_thread_cpu() - c0;
	if (rc != 0)
		bench_die("tj_node_add: %s", tj_strerror(rc));
	for (uint32_t k = 0; k < sl->count; k++)
		if (items[k].err != 0 || !items[k].has_case)
			bench_die("tj_node_add refused incident %llu: %s",
			          (unsigned long long)(sl->first + k), items[k].verr.message);
	return t0;
}

/* Resets VmHWM (clear_refs 5) so the fill's peak is its own. */
static void bq_reset_hwm(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f != NULL) {
		fputs("5", f);
		fclose(f);
	}
}

static void bq_fill_loop(struct tj_node *node, struct bq_fill *f, double budget_s,
                         struct bench_query_result *out)
{
	struct tj_add_item *items = calloc(BENCH_BATCH, sizeof(*items));
	uint64_t max_batches = (f->n + BENCH_BATCH - 1) / BENCH_BATCH;
	double t0 = bench_now(), *cpu = calloc(max_batches, sizeof(*cpu));
	uint64_t next = 0, last;
	struct bq_slot *sl;

	if (items == NULL || cpu == NULL)
		bench_die("out of memory");
	while (next < f->n) {
		if (bench_now() - t0 > budget_s) {
			out->budget_hit = true;
			break;
		}
		pthread_mutex_lock(&f->mu);
		while ((sl = bq_find(f, BQ_READY)) == NULL || sl->first != next)
			pthread_cond_wait(&f->cv, &f->mu);
		pthread_mutex_unlock(&f->mu);
		out->fill_node_s += bq_store(node, sl, items, &cpu[out->batches]);
		next += sl->count;
		out->batches++;
		pthread_mutex_lock(&f->mu);
		sl->state = BQ_STORED;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
	}
	out->incidents = next;
	/* The node's CPU per incident at the start and at the end of the fill: how its cost grows with the
	 * store. */
	for (uint64_t b = 0; b < out->batches && b < BQ_EDGE_BATCHES; b++)
		out->cpu_ms_first += 1000.0 * cpu[b];
	last = out->batches > BQ_EDGE_BATCHES ? out->batches - BQ_EDGE_BATCHES : 0;
	for (uint64_t b = last; b < out->batches; b++)
		out->cpu_ms_last += 1000.0 * cpu[b];
	out->edge_first = out->batches < BQ_EDGE_BATCHES ? next : BQ_EDGE_BATCHES * BENCH_BATCH;
	out->edge_last = next - last * BENCH_BATCH;
	out->cpu_ms_first = bench_per(out->cpu_ms_first, out->edge_first);
	out->cpu_ms_last = bench_per(out->cpu_ms_last, out->edge_last);
	free(cpu);
	free(items);
}

/* n incidents through tj_node_add in this process (the store is closed again on return). */
static void bq_fill(const char *datadir, const struct bench_corpus *c, struct bq_plan *plan, uint64_t n,
                    double budget_s, struct bench_query_result *out)
{
	struct bq_fill f = {.c = c, .plan = plan, .n = n};
	struct tj_unlocked *u = NULL;
	struct tj_node *node = NULL;
	char key[BENCH_PATH_MAX];
	double t0, cpu0, on0 = 0, wait0 = 0, on1 = 0, wait1 = 0;
	size_t pending = 0;
	pthread_t th;
	int rc;

	bench_path(key, datadir, "key");
	if ((rc = tj_keyfile_unlock(key, BENCH_PASS, strlen(BENCH_PASS), &u)) != 0 ||
	    (rc = tj_node_open(datadir, 0, u, &node)) != 0)
		bench_die("cannot open the node in %s: %s", datadir, tj_strerror(rc));
	/* What the daemon does once its store is open: the alerts' format mark on a new store. */
	if ((rc = tj_alert_pending_run(node, &pending)) != 0)
		bench_die("tj_alert_pending_run: %s", tj_strerror(rc));
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	bq_reset_hwm();
	(void)bench_schedstat(&on0, &wait0);
	t0 = bench_now();
	cpu0 = bench_cpu_self();
	if (pthread_create(&th, NULL, bq_generator, &f) != 0)
		bench_die("cannot start the generator thread");
	bq_fill_loop(node, &f, budget_s, out);
	pthread_mutex_lock(&f.mu);
	f.stop = true;
	pthread_cond_broadcast(&f.cv);
	pthread_mutex_unlock(&f.mu);
	pthread_join(th, NULL);
	out->fill_wall_s = bench_now() - t0;
	out->fill_cpu_s = bench_cpu_self() - cpu0;
	if (bench_schedstat(&on1, &wait1)) {
		out->main_cpu_s = on1 - on0;
		out->main_wait_s = wait1 - wait0;
		out->main_block_s = out->fill_wall_s - out->main_cpu_s - out->main_wait_s;
	}
	out->gen_cpu_s = f.gen_cpu_s;
	out->fill_hwm_kb = bench_status_kb(0, "VmHWM");
	out->mean_sum_bytes = out->incidents ? (double)f.sum_bytes / (double)out->incidents : 0;
	out->mean_case_bytes = out->incidents ? (double)f.case_bytes / (double)out->incidents : 0;
	tj_node_close(node);
	for (int i = 0; i < BQ_SLOTS; i++)
		free(f.slot[i].arena);
	pthread_cond_destroy(&f.cv);
	pthread_mutex_destroy(&f.mu);
}

/* ---- the data directory and the daemon ----------------------------------------------- */

/* Drops the store file's clean pages from the page cache, so the daemon's first requests read the disk. */
static void bq_drop_cache(const char *datadir)
{
	char store[BENCH_PATH_MAX], file[BENCH_PATH_MAX];
	int fd;

	bench_path(store, datadir, TJ_STORE_DIR_NAME);
	bench_path(file, store, "data.mdb");
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	(void)fdatasync(fd);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void bq_status(struct bench_dproc *d, struct bench_query_result *out)
{
	size_t rl = 0;
	uint8_t *reply = bench_dproc_call(d, bench_dproc_simple(d, "status"), &rl);
	uint64_t inc = 0;

	if (!bench_reply_uint(reply, rl, "records", &out->records) ||
	    !bench_reply_uint(reply, rl, "store_bytes", &out->store_bytes) ||
	    !bench_reply_uint(reply, rl, "incidents", &inc))
		bench_die("status reply");
	if (inc != out->incidents)
		bench_die("the daemon counts %llu incidents; the fill stored %llu", (unsigned long long)inc,
		          (unsigned long long)out->incidents);
	free(reply);
}

/* ---- the shapes, timed ------------------------------------------------------------------ */

/* A `tejido` run: its stdout, read to the end. */
struct bq_out {
	char *buf;
	size_t len, cap;
};

static void bq_out_add(struct bq_out *o, const char *p, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 1u << 16;
		char *b;
		while (cap < o->len + n + 1)
			cap *= 2;
		if (cap > BQ_OUT_MAX_BYTES || (b = realloc(o->buf, cap)) == NULL)
			bench_die("the CLI printed more than %u bytes", BQ_OUT_MAX_BYTES);
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* Runs argv (the CLI) with its stdout into o; dies unless it exits 0. */
static void bq_exec(char *const argv[], struct bq_out *o)
{
	char chunk[65536];
	int p[2], status = 0;
	pid_t pid;

	o->len = 0;
	if (pipe(p) != 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDOUT_FILENO);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		ssize_t n;
		if (poll(&pfd, 1, BENCH_READY_TIMEOUT_MS) != 1) {
			kill(pid, SIGKILL);
			bench_die("`%s %s` printed nothing for %d s", argv[0], argv[1],
			          BENCH_READY_TIMEOUT_MS / 1000);
		}
		if ((n = read(p[0], chunk, sizeof(chunk))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		bq_out_add(o, chunk, (size_t)n);
	}
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bench_die("`%s %s ...` failed (status %d)", argv[0], argv[1], status);
	if (o->buf == NULL)
		bq_out_add(o, "", 0);
}

/* What one run of a shape answered (checked on the first run only; the others are the same request). */
struct bq_answer {
	uint64_t results;
	uint64_t bytes;
	cJSON *doc; /* the JSON document answered, for the check */
};

struct bq_ctx {
	struct bench_dproc *d;
	const char *tejido;
	struct bq_out out;
};

static void bq_put_str_arg(struct tj_mp_writer *w, const char *key, const char *v)
{
	tj_mp_put_cstr(w, key);
	tj_mp_put_cstr(w, v);
}

static size_t bq_query_req(struct bench_dproc *d, const struct bq_qspec *q)
{
	struct tj_mp_writer w;
	size_t len = 0;
	uint32_t n = 3 + q->n_terms + (q->since[0] != '\0') + (q->until[0] != '\0') + (q->offset > 0);

	tj_mp_writer_init(&w, d->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, n);
	bq_put_str_arg(&w, "op", "query");
	bq_put_str_arg(&w, "lang", "en");
	for (uint32_t i = 0; i < q->n_terms; i++)
		bq_put_str_arg(&w, q->field[i], q->codes[i]);
	if (q->since[0] != '\0')
		bq_put_str_arg(&w, "since", q->since);
	if (q->until[0] != '\0')
		bq_put_str_arg(&w, "until", q->until);
	tj_mp_put_cstr(&w, "limit");
	tj_mp_put_uint(&w, q->limit);
	if (q->offset > 0) {
		tj_mp_put_cstr(&w, "offset");
		tj_mp_put_uint(&w, q->offset);
	}
	if (tj_mp_writer_finish(&w, &len) != 0)
		bench_die("query request");
	return len;
}

static size_t bq_stats_req(struct bench_dproc *d, const struct bq_sspec *s)
{
	struct tj_mp_writer w;
	size_t len = 0;
	uint32_t n = 3 + (s->state[0] != '\0') + 2 * (s->from[0] != '\0');

	tj_mp_writer_init(&w, d->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, n);
	bq_put_str_arg(&w, "op", "stats");
	bq_put_str_arg(&w, "lang", "en");
	bq_put_str_arg(&w, "by", s->by);
	if (s->state[0] != '\0')
		bq_put_str_arg(&w, "state", s->state);
	if (s->from[0] != '\0') {
		bq_put_str_arg(&w, "from", s->from);
		bq_put_str_arg(&w, "to", s->to);
	}
	if (tj_mp_writer_finish(&w, &len) != 0)
		bench_die("stats request");
	return len;
}

/* A control request; the reply's JSON parsed when check. */
static void bq_ctl_once(struct bq_ctx *x, size_t len, bool check, struct bq_answer *a)
{
	size_t rl = 0;
	uint8_t *reply = bench_dproc_call(x->d, len, &rl);
	const char *json;
	uint32_t jl;
	uint64_t matched = 0;

	a->bytes = rl;
	if (check) {
		if (!bench_reply_str(reply, rl, "json", &json, &jl) ||
		    (a->doc = cJSON_ParseWithLength(json, jl)) == NULL)
			bench_die("the daemon's reply holds no JSON document");
		if (cJSON_IsArray(a->doc)) {
			a->results = (uint64_t)cJSON_GetArraySize(a->doc);
			if (!bench_reply_uint(reply, rl, "matched", &matched) || matched != a->results)
				bench_die("query reply: %llu incidents, matched %llu",
				          (unsigned long long)a->results, (unsigned long long)matched);
		}
	}
	free(reply);
}

/* argv of the CLI for a query shape (strings in buf). */
static void bq_cli_query_argv(const struct bq_ctx *x, const struct bq_qspec *q, char buf[8][40], char **argv)
{
	int k = 0;

	argv[k++] = (char *)x->tejido;
	argv[k++] = (char *)"query";
	argv[k++] = (char *)"--data";
	argv[k++] = x->d->dir;
	for (uint32_t i = 0; i < q->n_terms; i++) {
		snprintf(buf[i], 40, "--%s", q->field[i]);
		for (char *p = buf[i]; *p != '\0'; p++)
			*p = *p == '_' ? '-' : *p;
		argv[k++] = buf[i];
		argv[k++] = (char *)q->codes[i];
	}
	if (q->since[0] != '\0') {
		argv[k++] = (char *)"--since";
		argv[k++] = (char *)q->since;
	}
	if (q->until[0] != '\0') {
		argv[k++] = (char *)"--until";
		argv[k++] = (char *)q->until;
	}
	snprintf(buf[7], 40, "%u", q->limit);
	argv[k++] = (char *)"--limit";
	argv[k++] = buf[7];
	argv[k++] = (char *)"--json";
	argv[k] = NULL;
}

static void bq_cli_stats_argv(const struct bq_ctx *x, const struct bq_sspec *s, char **argv)
{
	int k = 0;

	argv[k++] = (char *)x->tejido;
	argv[k++] = (char *)"stats";
	argv[k++] = (char *)"--data";
	argv[k++] = x->d->dir;
	argv[k++] = (char *)"--by";
	argv[k++] = (char *)s->by;
	if (s->state[0] != '\0') {
		argv[k++] = (char *)"--state";
		argv[k++] = (char *)s->state;
	}
	if (s->from[0] != '\0') {
		argv[k++] = (char *)"--from";
		argv[k++] = (char *)s->from;
		argv[k++] = (char *)"--to";
		argv[k++] = (char *)s->to;
	}
	argv[k++] = (char *)"--format";
	argv[k++] = (char *)"json";
	argv[k] = NULL;
}

static void bq_cli_once(struct bq_ctx *x, char **argv, bool check, struct bq_answer *a)
{
	bq_exec(argv, &x->out);
	a->bytes = x->out.len;
	if (!check)
		return;
	if ((a->doc = cJSON_ParseWithLength(x->out.buf, x->out.len)) == NULL)
		bench_die("`tejido %s --json` printed no JSON document", argv[1]);
	if (cJSON_IsArray(a->doc))
		a->results = (uint64_t)cJSON_GetArraySize(a->doc);
}

static int bq_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One run of shape i of the plan (queries first, then statistics). */
static void bq_once(struct bq_ctx *x, const struct bq_plan *p, uint32_t i, bool check, struct bq_answer *a)
{
	char buf[8][40], *argv[40];

	if (i < p->n_q && !p->qs[i].cli) {
		bq_ctl_once(x, bq_query_req(x->d, &p->qs[i]), check, a);
	} else if (i < p->n_q) {
		bq_cli_query_argv(x, &p->qs[i], buf, argv);
		bq_cli_once(x, argv, check, a);
	} else if (!p->ss[i - p->n_q].cli) {
		bq_ctl_once(x, bq_stats_req(x->d, &p->ss[i - p->n_q]), check, a);
	} else {
		bq_cli_stats_argv(x, &p->ss[i - p->n_q], argv);
		bq_cli_once(x, argv, check, a);
	}
}

/* The check of a shape's first answer against what was generated. */
static void bq_check(const struct bq_plan *p, uint32_t i, struct bq_answer *a, struct bench_query_shape *sh)
{
	if (i < p->n_q) {
		const struct bq_qspec *q = &p->qs[i];
		uint64_t left = q->total > q->offset ? q->total - q->offset : 0;
		sh->expected = left < q->limit ? left : q->limit;
		sh->results = a->results;
		sh->match = cJSON_IsArray(a->doc) && sh->results == sh->expected;
	} else {
		const struct bq_sspec *s = &p->ss[i - p->n_q];
		cJSON *want = tj_stats_to_json(s->expect, false, TJ_LANG_EN);
		if (want == NULL)
			bench_die("out of memory");
		sh->expected = (uint64_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(want, "cells"));
		sh->results = (uint64_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a->doc, "cells"));
		sh->match = cJSON_Compare(a->doc, want, true);
		cJSON_Delete(want);
	}
	if (!sh->match)
		fprintf(stderr, "tejido-bench: %s %s: %llu results, %llu expected%s\n", sh->kind, sh->what,
		        (unsigned long long)sh->results, (unsigned long long)sh->expected,
		        i >= p->n_q ? " (or a cell differs)" : "");
}

static void bq_time_shape(struct bq_ctx *x, const struct bq_plan *p, uint32_t i, struct bench_query_shape *sh)
{
	double ms[BQ_RUNS], spent = 0, t0;
	struct bq_answer a = {0};
	uint32_t r;

	t0 = bench_now();
	bq_once(x, p, i, true, &a);
	sh->first_ms = 1000.0 * (bench_now() - t0);
	sh->reply_bytes = a.bytes;
	bq_check(p, i, &a, sh);
	cJSON_Delete(a.doc);
	for (r = 0; r < BQ_RUNS && (r == 0 || spent < BQ_SHAPE_S); r++) {
		struct bq_answer b = {0};
		t0 = bench_now();
		bq_once(x, p, i, false, &b);
		ms[r] = 1000.0 * (bench_now() - t0);
		spent += ms[r] / 1000.0;
	}
	qsort(ms, r, sizeof(ms[0]), bq_cmp_double);
	sh->runs = r;
	sh->min_ms = ms[0];
	sh->max_ms = ms[r - 1];
	sh->median_ms = r % 2 ? ms[r / 2] : (ms[r / 2 - 1] + ms[r / 2]) / 2;
}

static void bq_shapes(struct bq_ctx *x, struct bq_plan *p, struct bench_query_result *out)
{
	out->n_shapes = p->n_q + p->n_s;
	for (uint32_t i = 0; i < out->n_shapes && i < BENCH_QUERY_SHAPES_MAX; i++) {
		struct bench_query_shape *sh = &out->shape[i];
		bool cli = i < p->n_q ? p->qs[i].cli : p->ss[i - p->n_q].cli;
		const char *what = i < p->n_q ? p->qs[i].what : p->ss[i - p->n_q].what;
		snprintf(sh->kind, sizeof(sh->kind), "%s", cli ? "cli" : i < p->n_q ? "query" : "stats");
		snprintf(sh->what, sizeof(sh->what), "%s", what);
		bq_time_shape(x, p, i, sh);
	}
}

/* The paging shape's offset, now that the matches are known: the last BQ_TAIL of them. */
static void bq_paging(struct bq_plan *p)
{
	for (uint32_t i = 0; i < p->n_q; i++) {
		struct bq_qspec *q = &p->qs[i];
		uint64_t off = q->total > BQ_TAIL ? q->total - BQ_TAIL : 0;
		if (!q->page_by_total)
			continue;
		q->offset = (uint32_t)(off < TJ_QUERY_RESULTS_MAX ? off : TJ_QUERY_RESULTS_MAX);
		bq_describe(q);
	}
}

/* ---- the phase ------------------------------------------------------------------------ */

void bench_query_run(const struct bench_opts *o, const struct bench_corpus *c, const char *dir, uint64_t n,
                     struct bench_query_result *out)
{
	static struct bq_sample sm;
	struct bq_plan *plan = calloc(1, sizeof(*plan));
	struct bq_ctx x = {.tejido = o->tejido};
	struct bench_dproc d = {.fd = -1};
	char name[64], store[BENCH_PATH_MAX];
	double t0;

	memset(out, 0, sizeof(*out));
	out->n_wanted = n;
	if (plan == NULL || (d.req = malloc(TJ_CTL_REQUEST_MAX_BYTES)) == NULL)
		bench_die("out of memory");
	memset(&sm, 0, sizeof(sm));
	bq_sample(c, n, &sm);
	bq_plan_make(&sm, n, plan);
	bq_plan_filters(plan);
	snprintf(name, sizeof(name), "query-%llu", (unsigned long long)n);
	bench_path(d.dir, dir, name);
	tj_log_set_level(TJ_LOG_WARN);
	bench_node_create(d.dir);
	bq_fill(d.dir, c, plan, n, o->query_budget_s, out);
	bq_paging(plan);
	bq_drop_cache(d.dir);
	t0 = bench_now();
	bench_dproc_start(&d);
	out->ready_s = bench_now() - t0;
	out->base_kb = bench_status_kb(d.pid, "VmRSS");
	x.d = &d;
	bq_status(&d, out);
	bq_shapes(&x, plan, out);
	out->hwm_kb = bench_status_kb(d.pid, "VmHWM");
	out->rss_kb = bench_status_kb(d.pid, "VmRSS");
	out->anon_kb = bench_status_kb(d.pid, "RssAnon");
	out->file_kb = bench_status_kb(d.pid, "RssFile");
	bench_dproc_stop(&d);
	bench_path(store, d.dir, TJ_STORE_DIR_NAME);
	out->du_bytes = bench_du(store);
	bench_dbs_read(store, &out->dbs);
	bench_rmtree(d.dir);
	free(x.out.buf);
	bq_plan_free(plan);
	free(plan);
	free(d.req);
}

/* ---- output ------------------------------------------------------------------------------ */

static double bq_mb(long kb)
{
	return (double)kb * 1024.0 / 1e6;
}

bool bench_query_ok(const struct bench_query_result *r, uint32_t count)
{
	for (uint32_t k = 0; k < count; k++)
		for (uint32_t i = 0; i < r[k].n_shapes; i++)
			if (!r[k].shape[i].match)
				return false;
	return true;
}

static void bq_json_one(cJSON *a, const struct bench_query_result *r, double budget_s)
{
	cJSON *j = cJSON_CreateObject(), *f, *d, *dbs, *arr;

	if (j == NULL || !cJSON_AddItemToArray(a, j))
		bench_die("out of memory");
	cJSON_AddNumberToObject(j, "n", (double)r->n_wanted);
	cJSON_AddNumberToObject(j, "incidents", (double)r->incidents);
	cJSON_AddBoolToObject(j, "budget_hit", r->budget_hit);
	f = cJSON_AddObjectToObject(j, "fill");
	cJSON_AddStringToObject(
	    f, "method",
	    "tj_node_add in-process, batches of 1000 (summary + case), generator on another thread");
	cJSON_AddNumberToObject(f, "budget_s", budget_s);
	cJSON_AddNumberToObject(f, "incidents_per_s",
	                        r->fill_wall_s > 0 ? (double)r->incidents / r->fill_wall_s : 0);
	cJSON_AddNumberToObject(f, "wall_s", r->fill_wall_s);
	cJSON_AddNumberToObject(f, "node_s", r->fill_node_s);
	cJSON_AddNumberToObject(f, "node_incidents_per_s",
	                        r->fill_node_s > 0 ? (double)r->incidents / r->fill_node_s : 0);
	cJSON_AddNumberToObject(f, "cpu_s", r->fill_cpu_s);
	cJSON_AddNumberToObject(f, "generator_cpu_s", r->gen_cpu_s);
	cJSON_AddNumberToObject(f, "node_thread_on_cpu_s", r->main_cpu_s);
	cJSON_AddNumberToObject(f, "node_thread_waiting_for_cpu_s", r->main_wait_s);
	cJSON_AddNumberToObject(f, "node_thread_blocked_s", r->main_block_s);
	cJSON_AddNumberToObject(f, "first_incidents", (double)r->edge_first);
	cJSON_AddNumberToObject(f, "first_cpu_ms_per_incident", r->cpu_ms_first);
	cJSON_AddNumberToObject(f, "last_incidents", (double)r->edge_last);
	cJSON_AddNumberToObject(f, "last_cpu_ms_per_incident", r->cpu_ms_last);
	cJSON_AddNumberToObject(f, "batches", (double)r->batches);
	cJSON_AddNumberToObject(f, "peak_rss_mb", bq_mb(r->fill_hwm_kb));
	cJSON_AddNumberToObject(f, "mean_summary_body_bytes", r->mean_sum_bytes);
	cJSON_AddNumberToObject(f, "mean_case_body_bytes", r->mean_case_bytes);
	d = cJSON_AddObjectToObject(j, "daemon");
	cJSON_AddNumberToObject(d, "ready_s", r->ready_s);
	cJSON_AddNumberToObject(d, "rss_when_ready_mb", bq_mb(r->base_kb));
	cJSON_AddNumberToObject(d, "peak_rss_mb", bq_mb(r->hwm_kb));
	cJSON_AddNumberToObject(d, "rss_end_mb", bq_mb(r->rss_kb));
	cJSON_AddNumberToObject(d, "rss_anon_end_mb", bq_mb(r->anon_kb));
	cJSON_AddNumberToObject(d, "rss_file_end_mb", bq_mb(r->file_kb));
	cJSON_AddNumberToObject(j, "records", (double)r->records);
	cJSON_AddNumberToObject(j, "disk_bytes_per_incident", bench_per((double)r->du_bytes, r->incidents));
	cJSON_AddNumberToObject(j, "lmdb_used_bytes_per_incident",
	                        bench_per((double)r->store_bytes, r->incidents));
	dbs = cJSON_AddObjectToObject(j, "lmdb_bytes_per_incident_by_database");
	for (uint32_t i = 0; i < r->dbs.n; i++)
		cJSON_AddNumberToObject(
		    dbs, r->dbs.db[i].name,
		    bench_per((double)r->dbs.db[i].pages * r->dbs.page_bytes, r->incidents));
	cJSON_AddNumberToObject(dbs, "(free pages)",
	                        bench_per((double)r->dbs.free_pages * r->dbs.page_bytes, r->incidents));
	arr = cJSON_AddArrayToObject(j, "shapes");
	for (uint32_t i = 0; i < r->n_shapes; i++) {
		const struct bench_query_shape *sh = &r->shape[i];
		cJSON *s = cJSON_CreateObject();
		if (s == NULL || !cJSON_AddItemToArray(arr, s))
			bench_die("out of memory");
		cJSON_AddStringToObject(s, "kind", sh->kind);
		cJSON_AddStringToObject(s, "request", sh->what);
		cJSON_AddNumberToObject(s, "results", (double)sh->results);
		cJSON_AddNumberToObject(s, "expected", (double)sh->expected);
		cJSON_AddBoolToObject(s, "as_expected", sh->match);
		cJSON_AddNumberToObject(s, "first_ms", sh->first_ms);
		cJSON_AddNumberToObject(s, "runs", sh->runs);
		cJSON_AddNumberToObject(s, "median_ms", sh->median_ms);
		cJSON_AddNumberToObject(s, "min_ms", sh->min_ms);
		cJSON_AddNumberToObject(s, "max_ms", sh->max_ms);
		cJSON_AddNumberToObject(s, "reply_bytes", (double)sh->reply_bytes);
	}
}

void bench_query_json(struct cJSON *root, const struct bench_query_result *r, uint32_t count, double budget_s)
{
	cJSON *a = cJSON_AddArrayToObject(root, "queries");

	if (a == NULL)
		bench_die("out of memory");
	for (uint32_t k = 0; k < count; k++)
		bq_json_one(a, &r[k], budget_s);
}

/* One printed row, as bench.c prints them. */
static void bq_row(bool md, const char *what, const char *value, const char *anchor)
{
	if (md)
		printf("| %s | %s | %s |\n", what, value, anchor);
	else
		printf("  %-58s %18s   %s\n", what, value, anchor);
}

static void bq_print_one(bool md, const struct bench_query_result *r)
{
	char v[64], a[600], w[200], line[400];
	unsigned long long n = (unsigned long long)r->incidents;

	if (!md)
		printf("\nqueries and statistics over %llu incidents (a daemon on a store filled by "
		       "tj_node_add):\n",
		       (unsigned long long)r->n_wanted);
	snprintf(w, sizeof(w), "queries n=%llu: fill, incidents/s", (unsigned long long)r->n_wanted);
	snprintf(a, sizeof(a),
	         "%s%llu incidents in %.1f s (tj_node_add, batches of 1,000, summary + case): %.1f s in "
	         "tj_node_add "
	         "(%.0f/s); the node's thread %.1f s on a CPU, %.1f s waiting for one, %.1f s blocked (I/O); "
	         "its CPU per incident %.2f ms over the first %llu, %.2f ms over the last %llu; "
	         "generator %.1f CPU s on another thread; peak RSS %.1f MB",
	         r->budget_hit ? "BUDGET RAN OUT: " : "", n, r->fill_wall_s, r->fill_node_s,
	         r->fill_node_s > 0 ? (double)r->incidents / r->fill_node_s : 0, r->main_cpu_s,
	         r->main_wait_s, r->main_block_s, r->cpu_ms_first, (unsigned long long)r->edge_first,
	         r->cpu_ms_last, (unsigned long long)r->edge_last, r->gen_cpu_s, bq_mb(r->fill_hwm_kb));
	snprintf(v, sizeof(v), "%.0f", r->fill_wall_s > 0 ? (double)r->incidents / r->fill_wall_s : 0);
	bq_row(md, w, v, a);
	snprintf(w, sizeof(w), "queries n=%llu: daemon start on the filled store, s",
	         (unsigned long long)r->n_wanted);
	snprintf(a, sizeof(a), "page cache of data.mdb dropped first; RSS when ready %.1f MB",
	         bq_mb(r->base_kb));
	snprintf(v, sizeof(v), "%.2f", r->ready_s);
	bq_row(md, w, v, a);
	for (uint32_t i = 0; i < r->n_shapes; i++) {
		const struct bench_query_shape *sh = &r->shape[i];
		snprintf(w, sizeof(w), "  %s %s: median ms", sh->kind, sh->what);
		snprintf(a, sizeof(a),
		         "%llu results%s; first run %.1f ms; %.1f-%.1f ms over %u runs; reply %llu bytes",
		         (unsigned long long)sh->results, sh->match ? "" : " NOT AS EXPECTED", sh->first_ms,
		         sh->min_ms, sh->max_ms, sh->runs, (unsigned long long)sh->reply_bytes);
		snprintf(v, sizeof(v), "%.1f", sh->median_ms);
		bq_row(md, w, v, a);
	}
	snprintf(w, sizeof(w), "queries n=%llu: daemon peak RSS (VmHWM) after, MB",
	         (unsigned long long)r->n_wanted);
	snprintf(a, sizeof(a), "RSS at the end %.1f (anon %.1f + file %.1f)", bq_mb(r->rss_kb),
	         bq_mb(r->anon_kb), bq_mb(r->file_kb));
	snprintf(v, sizeof(v), "%.1f", bq_mb(r->hwm_kb));
	bq_row(md, w, v, a);
	snprintf(w, sizeof(w), "queries n=%llu: disk bytes per incident (du)",
	         (unsigned long long)r->n_wanted);
	snprintf(a, sizeof(a), "%llu incidents, %llu records; LMDB used %.0f; bodies %.0f + %.0f bytes", n,
	         (unsigned long long)r->records, bench_per((double)r->store_bytes, r->incidents),
	         r->mean_sum_bytes, r->mean_case_bytes);
	snprintf(v, sizeof(v), "%.0f", bench_per((double)r->du_bytes, r->incidents));
	bq_row(md, w, v, a);
	{
		size_t off = 0;
		line[0] = '\0';
		for (uint32_t i = 0; i < r->dbs.n && off < sizeof(line); i++) {
			int k = snprintf(
			    line + off, sizeof(line) - off, "%s%s %.0f", i ? ", " : "", r->dbs.db[i].name,
			    bench_per((double)r->dbs.db[i].pages * r->dbs.page_bytes, r->incidents));
			off += k > 0 ? (size_t)k : 0;
		}
		if (off < sizeof(line))
			snprintf(line + off, sizeof(line) - off, ", free pages %.0f",
			         bench_per((double)r->dbs.free_pages * r->dbs.page_bytes, r->incidents));
		bq_row(md, "  LMDB bytes per incident by database", "", line);
	}
}

void bench_query_print(bool md, const struct bench_query_result *r, uint32_t count)
{
	for (uint32_t k = 0; k < count; k++)
		bq_print_one(md, &r[k]);
}
