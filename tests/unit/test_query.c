/*
 * Queries against brute force: every result set equals the incidents whose
 * generator parameters pass the filter, computed here without the index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../alerts/tj_alert_testutil.h"
#include "tj_query.h"

#define TQ_N 240

static const char *const tq_munis[] = {"20067", "20001", "12001", "07101", "15106"};
static const char *const tq_acts[] = {"harassment", "threat", "death_threat", "killing"};
static const int tq_act_sev[] = {2, 3, 4, 5};
static const char *const tq_aggs[] = {"municipal_police", "organized_crime", "armed_forces"};
static const char *const tq_genders[] = {"woman", "man"};

struct tq_inc {
	char mun[6], state[3], date[11], ref[16];
	int act, agg, gender, month, day;
	bool prot;
	const char *res; /* residence state or NULL */
	uint8_t id[32];
	int64_t days;
};

static struct tq_inc tq[TQ_N];
static struct tj_node *tq_node;
static char tq_dir[64];

static int tq_setup(void **state)
{
	uint32_t x = 777;

	(void)state;
	tq_node = ta_node_open(tq_dir);
	for (int i = 0; i < TQ_N; i++) {
		struct tq_inc *d = &tq[i];
		struct tj_date dt;
		x = x * 1664525u + 1013904223u;
		snprintf(d->mun, sizeof(d->mun), "%s", tq_munis[(x >> 8) % 5]);
		memcpy(d->state, d->mun, 2);
		d->state[2] = '\0';
		d->act = (int)((x >> 12) % 4);
		d->agg = (int)((x >> 16) % 3);
		d->gender = (int)((x >> 18) % 2);
		d->prot = (x >> 20) % 3 == 0;
		d->res = (x >> 22) % 5 == 0 ? "12" : NULL;
		d->month = 1 + (int)((x >> 24) % 9);
		d->day = 1 + (int)((x >> 27) % 28);
		snprintf(d->date, sizeof(d->date), "2026-%02d-%02d", d->month, d->day);
		snprintf(d->ref, sizeof(d->ref), "q-%d", i);
		assert_int_equal(tj_date_parse(d->date, &dt), 0);
		d->days = tj_date_days(&dt);
		ta_add(tq_node,
		       &(struct ta_inc){.date = d->date,
		                        .state = d->state,
		                        .mun = d->mun,
		                        .res_state = d->res,
		                        .ref = d->ref,
		                        .act = tq_acts[d->act],
		                        .agg = tq_aggs[d->agg],
		                        .gender = tq_genders[d->gender],
		                        .prot = d->prot ? "federal_mechanism" : "none"},
		       d->id);
	}
	return 0;
}

static int tq_teardown(void **state)
{
	(void)state;
	ta_node_close(tq_node, tq_dir);
	return 0;
}

struct tq_hits {
	size_t n;
	uint8_t ids[TQ_N][32];
	int64_t days[TQ_N];
};

static int tq_cb(void *ctx, const struct tj_query_hit *hit)
{
	struct tq_hits *h = ctx;

	assert_true(h->n < TQ_N);
	memcpy(h->ids[h->n], hit->id, 32);
	h->days[h->n] = tj_date_days(&hit->s->occurred.start);
	h->n++;
	return 0;
}

static int tq_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

typedef bool (*tq_pred)(const struct tq_inc *d);

/* Runs q; checks order (newest occurred first) and the set against pred over the parameters. */
static size_t tq_check(const struct tj_query *q, tq_pred pred)
{
	struct tq_hits *h = calloc(1, sizeof(*h));
	uint8_t(*want)[32] = calloc(TQ_N, 32);
	uint64_t matched = 0;
	size_t nw = 0, n;

	assert_int_equal(tj_query_run(tq_node, q, tq_cb, h, &matched), 0);
	assert_int_equal(matched, h->n);
	for (size_t i = 1; i < h->n; i++)
		assert_true(h->days[i - 1] >= h->days[i]);
	for (int i = 0; i < TQ_N; i++)
		if (pred(&tq[i]))
			memcpy(want[nw++], tq[i].id, 32);
	assert_int_equal(h->n, nw);
	qsort(h->ids, h->n, 32, tq_cmp);
	qsort(want, nw, 32, tq_cmp);
	assert_memory_equal(h->ids, want, nw * 32);
	n = h->n;
	free(h);
	free(want);
	return n;
}

static void tq_term(struct tj_query *q, const char *field, const char *codes)
{
	char bad[TJ_CODE_MAX];

	assert_int_equal(tj_query_term_parse(field, codes, &q->terms[q->n_terms++], bad), 0);
}

static bool p_all(const struct tq_inc *d)
{
	(void)d;
	return true;
}
static bool p_oaxaca(const struct tq_inc *d)
{
	return strcmp(d->state, "20") == 0;
}
static bool p_threats_police(const struct tq_inc *d)
{
	return (d->act == 1 || d->act == 2) && d->agg == 0;
}
static bool p_women_protected(const struct tq_inc *d)
{
	return d->gender == 0 && d->prot;
}
static bool p_spring(const struct tq_inc *d)
{
	return d->month >= 3 && d->month <= 5;
}
static bool p_muni_since(const struct tq_inc *d)
{
	return strcmp(d->mun, "20067") == 0 && d->month >= 4;
}
static bool p_residence(const struct tq_inc *d)
{
	return d->res != NULL;
}
static bool p_sev4(const struct tq_inc *d)
{
	int sev = tq_act_sev[d->act] + (d->prot ? 1 : 0);
	return (sev > 5 ? 5 : sev) == 4;
}
static bool p_failed(const struct tq_inc *d)
{
	return d->prot;
}
static bool p_none(const struct tq_inc *d)
{
	(void)d;
	return false;
}

static void test_query_vs_brute_force(void **state)
{
	struct tj_query q;
	struct tj_date a, b;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(tq_check(&q, p_all), TQ_N);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "state", "20");
	assert_true(tq_check(&q, p_oaxaca) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "act", "threat,death_threat");
	tq_term(&q, "aggressor", "municipal_police");
	assert_true(tq_check(&q, p_threats_police) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "gender", "woman");
	tq_term(&q, "protection", "federal_mechanism");
	assert_true(tq_check(&q, p_women_protected) > 0);

	memset(&q, 0, sizeof(q));
	assert_int_equal(tj_date_parse("2026-03-01", &a), 0);
	assert_int_equal(tj_date_parse("2026-05-31", &b), 0);
	q.has_since = q.has_until = true;
	q.since_day = tj_date_days(&a);
	q.until_day = tj_date_days(&b);
	assert_true(tq_check(&q, p_spring) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "municipality", "20067");
	assert_int_equal(tj_date_parse("2026-04-01", &a), 0);
	q.has_since = true;
	q.since_day = tj_date_days(&a);
	assert_true(tq_check(&q, p_muni_since) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "residence_state", "12");
	assert_true(tq_check(&q, p_residence) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "severity", "4");
	assert_true(tq_check(&q, p_sev4) > 0);

	memset(&q, 0, sizeof(q));
	tq_term(&q, "failed", "panic_button");
	assert_true(tq_check(&q, p_failed) > 0);

	/* A code nobody used, and an empty intersection. */
	memset(&q, 0, sizeof(q));
	tq_term(&q, "aggressor", "company");
	assert_int_equal(tq_check(&q, p_none), 0);
	memset(&q, 0, sizeof(q));
	tq_term(&q, "state", "20");
	tq_term(&q, "municipality", "12001");
	assert_int_equal(tq_check(&q, p_none), 0);
}

static void test_pages(void **state)
{
	struct tq_hits *all = calloc(1, sizeof(*all)), *paged = calloc(1, sizeof(*paged));
	struct tj_query q;
	uint64_t matched = 0;

	(void)state;
	memset(&q, 0, sizeof(q));
	tq_term(&q, "state", "20,12");
	assert_int_equal(tj_query_run(tq_node, &q, tq_cb, all, &matched), 0);
	q.limit = 7;
	for (q.offset = 0;; q.offset += 7) {
		assert_int_equal(tj_query_run(tq_node, &q, tq_cb, paged, &matched), 0);
		if (matched < 7)
			break;
	}
	assert_int_equal(all->n, paged->n);
	assert_memory_equal(all->ids, paged->ids, all->n * 32); /* same order: pages are stable */
	free(all);
	free(paged);
}

static void test_bad_terms(void **state)
{
	struct tj_query_term t;
	struct tj_query q;
	char bad[TJ_CODE_MAX];
	uint64_t matched = 0;

	(void)state;
	assert_int_equal(tj_query_term_parse("state", "99", &t, bad), TJ_ESCHEMA);
	assert_string_equal(bad, "99");
	assert_int_equal(tj_query_term_parse("act", "killing,asesinato", &t, bad), TJ_ESCHEMA);
	assert_string_equal(bad, "asesinato");
	assert_int_equal(tj_query_term_parse("colour", "red", &t, bad), TJ_ESCHEMA);
	assert_int_equal(tj_query_term_parse("state", "", &t, bad), TJ_ESCHEMA);
	assert_int_equal(tj_query_term_parse("state", "20,,12", &t, bad), TJ_ESCHEMA);
	memset(&q, 0, sizeof(q));
	q.has_since = q.has_until = true;
	q.since_day = 20000;
	q.until_day = 19999;
	assert_int_equal(tj_query_run(tq_node, &q, tq_cb, NULL, &matched), TJ_ESCHEMA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_terms),
	    cmocka_unit_test(test_query_vs_brute_force),
	    cmocka_unit_test(test_pages),
	};
	return cmocka_run_group_tests(tests, tq_setup, tq_teardown);
}
