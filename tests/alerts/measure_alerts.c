/*
 * Measures (not a test): adding N generated incidents through tj_node_add
 * (rules and index included), then query and statistics times over them.
 *   measure_alerts [N]   (default 100000)
 * MA_NO_ALERTS=1 skips the rules (the rest of an add); MA_DUMP=1 prints every
 * alert's codes (compare two builds with ids stripped: the ids are random).
 * Prints one line per measurement. Run it on a build without sanitizers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tj_alert_testutil.h"
#include "tj_log.h"
#include "tj_query.h"
#include "tj_stats.h"

#define MA_BATCH 1000

static double ma_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const ma_munis[] = {"20067", "20001", "20190", "12001", "12029", "07101",
                                       "07078", "08019", "09007", "30087", "15106", "16053"};
static const char *const ma_acts[] = {"harassment", "threat",        "death_threat", "surveillance",
                                      "killing",    "disappearance", "defamation",   "raid"};
static const char *const ma_aggs[] = {"municipal_police", "state_police", "armed_forces", "organized_crime",
                                      "company"};
static const char *const ma_genders[] = {"woman", "man", "non_binary"};

/* One batch of generated incidents as canonical bodies. */
static int ma_batch(struct tj_node *n, uint32_t *x, int first, int count, uint8_t (*bodies)[2048],
                    size_t *lens)
{
	struct tj_add_item items[MA_BATCH];
	char json[4096], date[11], ref[24], state[3];

	for (int i = 0; i < count; i++) {
		struct tj_incident_summary *s = NULL;
		struct tj_incident_case *c = NULL;
		struct tj_verr verr;
		const char *mun;
		*x = *x * 1664525u + 1013904223u;
		mun = ma_munis[(*x >> 8) % 12];
		memcpy(state, mun, 2);
		state[2] = '\0';
		snprintf(date, sizeof(date), "20%02u-%02u-%02u", 20 + (*x >> 12) % 7, 1 + (*x >> 16) % 10,
		         1 + (*x >> 20) % 28);
		snprintf(ref, sizeof(ref), "m-%u", (*x >> 4) % 40000); /* some victims come back: T4 */
		ta_json(&(struct ta_inc){.date = date,
		                         .state = state,
		                         .mun = mun,
		                         .ref = ref,
		                         .act = ma_acts[(*x >> 24) % 8],
		                         .agg = ma_aggs[(*x >> 27) % 5],
		                         .gender = ma_genders[(*x >> 29) % 3]},
		        json, sizeof(json));
		if (tj_incident_from_json(json, strlen(json), TJ_LANG_EN, 0, &s, &c, &verr) != 0 ||
		    tj_incident_summary_encode(s, bodies[i], 2048, &lens[i]) != 0) {
			fprintf(stderr, "generator: %s\n", verr.message);
			return 1;
		}
		tj_incident_summary_free(s);
		tj_incident_case_free(c);
		memset(&items[i], 0, sizeof(items[i]));
		items[i].summary = bodies[i];
		items[i].summary_len = lens[i];
	}
	(void)first;
	return tj_node_add(n, items, (size_t)count);
}

static int ma_count(void *ctx, const struct tj_query_hit *hit)
{
	(void)hit;
	(*(uint64_t *)ctx)++;
	return 0;
}

static void ma_query(struct tj_node *n, const char *what, struct tj_query *q)
{
	uint64_t hits = 0, matched = 0;
	double t0 = ma_now();

	if (tj_query_run(n, q, ma_count, &hits, &matched) != 0)
		abort();
	printf("query %-52s %8llu hits  %8.3f s\n", what, (unsigned long long)hits, ma_now() - t0);
}

static void ma_term(struct tj_query *q, const char *field, const char *codes)
{
	char bad[TJ_CODE_MAX];

	if (tj_query_term_parse(field, codes, &q->terms[q->n_terms++], bad) != 0)
		abort();
}

static void ma_stats(struct tj_node *n, const char *by, const char *state)
{
	struct tj_stats_query q;
	struct tj_stats *st = NULL;
	char bad[24];
	double t0 = ma_now();
	cJSON *doc;

	memset(&q, 0, sizeof(q));
	if (tj_stats_dims_parse(by, &q, bad) != 0)
		abort();
	if (state != NULL)
		memcpy(q.state, state, 3);
	if (tj_stats_compute(n, &q, &st) != 0 || (doc = tj_stats_to_json(st, true, TJ_LANG_EN)) == NULL)
		abort();
	printf("stats --by %-26s --state %-3s %8llu incidents  %8.3f s\n", by, state != NULL ? state : "-",
	       (unsigned long long)st->n_incidents, ma_now() - t0);
	cJSON_Delete(doc);
	tj_stats_free(st);
}

/* Alerts by content (id, trigger, priority, severity, codes, incidents; not times): an XOR of hashes. */
struct ma_digest {
	uint64_t n;
	uint8_t x[32];
};

static int ma_digest_one(void *ctx, const struct tj_alert *a, uint64_t event)
{
	struct ma_digest *d = ctx;
	const struct tj_code_set *sets[] = {&a->states, &a->acts, &a->aggressors, &a->roles, &a->genders};
	crypto_generichash_state st;
	uint8_t h[32], b[4] = {a->trigger, a->priority, a->severity, a->protection};

	(void)event;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, a->id, 32);
	crypto_generichash_update(&st, b, 4);
	for (size_t i = 0; i < 5; i++)
		for (uint32_t j = 0; j < sets[i]->n; j++)
			crypto_generichash_update(&st, (const uint8_t *)sets[i]->v[j], strlen(sets[i]->v[j]) + 1);
	crypto_generichash_update(&st, a->incidents[0], (size_t)a->n_incidents * 32);
	crypto_generichash_final(&st, h, 32);
	for (size_t i = 0; i < 32; i++)
		d->x[i] ^= h[i];
	if (getenv("MA_DUMP") != NULL) {
		char hex[17];
		sodium_bin2hex(hex, sizeof(hex), a->id, 8);
		printf("A %s T%u p%u s%u prot%u n%u", hex, a->trigger, a->priority, a->severity, a->protection,
		       a->n_incidents);
		for (size_t i = 0; i < 5; i++)
			for (uint32_t j = 0; j < sets[i]->n; j++)
				printf(" %zu:%s", i, sets[i]->v[j]);
		for (uint32_t i = 0; i < a->n_incidents; i++) {
			sodium_bin2hex(hex, sizeof(hex), a->incidents[i], 4);
			printf(" i:%s", hex);
		}
		printf("\n");
	}
	d->n++;
	return 0;
}

static void ma_digest(struct tj_node *n)
{
	struct tj_alert_filter f = {.status = -1};
	struct ma_digest d = {0};
	char hex[17];
	uint64_t last = 0;

	if (tj_alert_list(n, &f, UINT32_MAX, ma_digest_one, &d, &last) != 0)
		abort();
	sodium_bin2hex(hex, sizeof(hex), d.x, 8);
	printf("alerts %llu, content digest %s\n", (unsigned long long)d.n, hex);
}

int main(int argc, char **argv)
{
	int total = argc > 1 ? atoi(argv[1]) : 100000;
	uint8_t(*bodies)[2048] = malloc(MA_BATCH * 2048);
	size_t *lens = malloc(MA_BATCH * sizeof(size_t));
	struct tj_query q;
	uint32_t x = 4242;
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	double t0 = ma_now();

	tj_log_set_level(TJ_LOG_WARN);
	/* MA_NO_ALERTS=1: the same adds without the rules (what the rest of an add costs). */
	tj_alert_test_skip_after_store = getenv("MA_NO_ALERTS") != NULL;
	for (int done = 0; done < total; done += MA_BATCH) {
		int count = total - done < MA_BATCH ? total - done : MA_BATCH;
		if (ma_batch(n, &x, done, count, bodies, lens) != 0)
			return 1;
	}
	printf("add %d incidents (seal, store, index, rules T1-T7): %.1f s (%.0f/s)\n", total, ma_now() - t0,
	       total / (ma_now() - t0));
	ma_digest(n);
	memset(&q, 0, sizeof(q));
	ma_term(&q, "state", "20");
	ma_term(&q, "act", "killing,disappearance");
	ma_term(&q, "aggressor", "municipal_police");
	q.has_since = true;
	q.since_day = 20454; /* 2026-01-01 */
	ma_query(n, "--state 20 --act killing,disappearance --aggressor ...", &q);
	memset(&q, 0, sizeof(q));
	ma_term(&q, "municipality", "20067");
	ma_query(n, "--municipality 20067", &q);
	memset(&q, 0, sizeof(q));
	ma_term(&q, "gender", "woman");
	ma_query(n, "--gender woman (a third of everything)", &q);
	memset(&q, 0, sizeof(q));
	q.limit = 100;
	ma_query(n, "(no filter, first 100)", &q);
	ma_stats(n, "gender,aggressor_type", NULL);
	ma_stats(n, "state,month", NULL);
	ma_stats(n, "gender,aggressor_type", "20");
	ta_node_close(n, dir);
	free(bodies);
	free(lens);
	return 0;
}
