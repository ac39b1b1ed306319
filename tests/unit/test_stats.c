/*
 * Statistics against a table computed here, independently, from the
 * generator's own parameters (never from what the node decoded): 520
 * incidents, suppressed cells included, filters and rates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "../alerts/tj_alert_testutil.h"
#include "tj_stats.h"

#define TS_N 520

static const char *const ts_states[] = {"20", "12", "07", "15"};
static const char *const ts_genders[] = {"woman", "man", "non_binary"};
static const char *const ts_aggs[] = {"municipal_police", "organized_crime", "armed_forces", "company"};
static const char *const ts_acts[] = {"harassment", "threat", "death_threat", "surveillance"};

struct ts_inc {
	const char *state, *gender, *agg, *act;
	int month, day;
	bool second; /* a second victim: a man, same act and aggressor, no defended cause */
	char date[11], ref[16], ref2[16];
};

static struct ts_inc ts_data[TS_N];

/* Deterministic parameters (a fixed LCG), with a few rare values for suppressed cells. */
static void ts_generate(void)
{
	uint32_t x = 12345;

	for (int i = 0; i < TS_N; i++) {
		struct ts_inc *d = &ts_data[i];
		x = x * 1103515245u + 12345u;
		d->state = ts_states[(x >> 8) % 4];
		d->gender = ts_genders[(x >> 12) % 3];
		d->agg = ts_aggs[(x >> 16) % 4];
		d->act = ts_acts[(x >> 20) % 4];
		d->month = 1 + (int)((x >> 4) % 6);
		d->day = 1 + (int)((x >> 24) % 28);
		d->second = i % 7 == 0;
		if (i % 173 == 5)
			d->gender = "trans_woman"; /* 3 incidents: every trans_woman cell is suppressed */
		snprintf(d->date, sizeof(d->date), "2026-%02d-%02d", d->month, d->day);
		snprintf(d->ref, sizeof(d->ref), "s-%d", i);
		snprintf(d->ref2, sizeof(d->ref2), "t-%d", i);
	}
}

static struct tj_node *ts_node;
static char ts_dir[64];

static int ts_setup(void **state)
{
	(void)state;
	ts_generate();
	ts_node = ta_node_open(ts_dir);
	for (int i = 0; i < TS_N; i++) {
		const struct ts_inc *d = &ts_data[i];
		uint8_t id[32];
		/* No municipality: these incidents test counting, not T3. */
		ta_add(ts_node,
		       &(struct ta_inc){.date = d->date,
		                        .state = d->state,
		                        .mun = "",
		                        .ref = d->ref,
		                        .act = d->act,
		                        .agg = d->agg,
		                        .gender = d->gender,
		                        .ref2 = d->second ? d->ref2 : NULL},
		       id);
	}
	return 0;
}

static int ts_teardown(void **state)
{
	(void)state;
	ta_node_close(ts_node, ts_dir);
	return 0;
}

/* The expected table: up to 16 x 16 cells by code, three units. */
struct ts_table {
	int n1, n2;
	char v1[16][TJ_CODE_MAX], v2[16][TJ_CODE_MAX];
	uint64_t c[3][16][16];
};

static int ts_idx(char (*v)[TJ_CODE_MAX], int *n, const char *code)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(v[i], code) == 0)
			return i;
	assert_true(*n < 16);
	snprintf(v[*n], TJ_CODE_MAX, "%s", code);
	return (*n)++;
}

static void ts_count(struct ts_table *t, int unit, const char *a, const char *b)
{
	int i = ts_idx(t->v1, &t->n1, a), j = ts_idx(t->v2, &t->n2, b);
	t->c[unit][i][j]++;
}

/* The JSON cell of (a, b), or NULL. */
static const cJSON *ts_cell(const cJSON *doc, const char *d1, const char *a, const char *d2, const char *b)
{
	const cJSON *cell;

	cJSON_ArrayForEach(cell, cJSON_GetObjectItemCaseSensitive(doc, "cells"))
	{
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(cell, d1),
		            *y = cJSON_GetObjectItemCaseSensitive(cell, d2);
		if (cJSON_IsString(x) && cJSON_IsString(y) && strcmp(x->valuestring, a) == 0 &&
		    strcmp(y->valuestring, b) == 0)
			return cell;
	}
	return NULL;
}

/* Every expected cell is published right (number, or suppressed) and no other cell exists. */
static void ts_compare(const struct ts_table *t, const cJSON *doc, const char *d1, const char *d2,
                       int *n_suppressed)
{
	static const char *const units[3] = {"incidents", "acts", "victims"};
	int cells = 0;

	for (int i = 0; i < t->n1; i++) {
		for (int j = 0; j < t->n2; j++) {
			const cJSON *cell;
			if (t->c[0][i][j] == 0)
				continue;
			cells++;
			cell = ts_cell(doc, d1, t->v1[i], d2, t->v2[j]);
			assert_non_null(cell);
			for (int u = 0; u < 3; u++) {
				const cJSON *v = cJSON_GetObjectItemCaseSensitive(cell, units[u]);
				if (t->c[u][i][j] > 0 && t->c[u][i][j] < 5) {
					assert_true(cJSON_IsObject(v));
					assert_true(
					    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "suppressed")));
					(*n_suppressed)++;
				} else {
					assert_true(cJSON_IsNumber(v));
					assert_int_equal((uint64_t)v->valuedouble, t->c[u][i][j]);
				}
			}
		}
	}
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "cells")), cells);
}

static cJSON *ts_run(const char *by, const char *state, const char *from, const char *to, bool rates)
{
	struct tj_stats_query q;
	struct tj_stats *st = NULL;
	struct tj_date d;
	char bad[24];
	cJSON *doc;

	memset(&q, 0, sizeof(q));
	assert_int_equal(tj_stats_dims_parse(by, &q, bad), 0);
	if (state != NULL)
		snprintf(q.state, sizeof(q.state), "%s", state);
	if (from != NULL) {
		assert_int_equal(tj_date_parse(from, &d), 0);
		q.has_from = true;
		q.from_day = tj_date_days(&d);
	}
	if (to != NULL) {
		assert_int_equal(tj_date_parse(to, &d), 0);
		q.has_to = true;
		q.to_day = tj_date_days(&d);
	}
	assert_int_equal(tj_stats_compute(ts_node, &q, &st), 0);
	doc = tj_stats_to_json(st, rates, TJ_LANG_EN);
	assert_non_null(doc);
	tj_stats_free(st);
	return doc;
}

static void test_gender_by_aggressor(void **state)
{
	struct ts_table *t = calloc(1, sizeof(*t));
	int suppressed = 0;
	cJSON *doc;

	(void)state;
	for (int i = 0; i < TS_N; i++) {
		const struct ts_inc *d = &ts_data[i];
		/* incidents: every gender it holds, its one aggressor type */
		ts_count(t, 0, d->gender, d->agg);
		if (d->second && strcmp(d->gender, "man") != 0)
			ts_count(t, 0, "man", d->agg);
		/* acts and victims: one per victim here */
		ts_count(t, 1, d->gender, d->agg);
		ts_count(t, 2, d->gender, d->agg);
		if (d->second) {
			ts_count(t, 1, "man", d->agg);
			ts_count(t, 2, "man", d->agg);
		}
	}
	doc = ts_run("gender,aggressor_type", NULL, NULL, NULL, false);
	ts_compare(t, doc, "gender", "aggressor_type", &suppressed);
	assert_true(suppressed >= 3); /* the trans_woman cells */
	cJSON_Delete(doc);
	free(t);
}

static void test_month_by_act_filtered(void **state)
{
	struct ts_table *t = calloc(1, sizeof(*t));
	int suppressed = 0;
	char month[8];
	cJSON *doc;

	(void)state;
	for (int i = 0; i < TS_N; i++) {
		const struct ts_inc *d = &ts_data[i];
		if (strcmp(d->state, "20") != 0 || d->month < 2 || d->month > 4)
			continue;
		snprintf(month, sizeof(month), "2026-%02d", d->month);
		ts_count(t, 0, month, d->act);
		ts_count(t, 1, month, d->act);
		ts_count(t, 2, month, d->act);
		if (d->second) {
			ts_count(t, 1, month, d->act);
			ts_count(t, 2, month, d->act);
		}
	}
	doc = ts_run("month,act_type", "20", "2026-02-01", "2026-04-30", false);
	ts_compare(t, doc, "month", "act_type", &suppressed);
	cJSON_Delete(doc);
	free(t);
}

static void test_cause_and_rates(void **state)
{
	struct ts_table *t = calloc(1, sizeof(*t));
	const struct tj_state_info *si;
	const cJSON *cell, *rate;
	int suppressed = 0;
	cJSON *doc;

	(void)state;
	for (int i = 0; i < TS_N; i++) {
		const struct ts_inc *d = &ts_data[i];
		/* every victim 0 defends land_territory; the second victim defends nothing ("none") */
		ts_count(t, 0, d->state, "land_territory");
		ts_count(t, 1, d->state, "land_territory");
		ts_count(t, 2, d->state, "land_territory");
		if (d->second) {
			ts_count(t, 0, d->state, "none");
			ts_count(t, 1, d->state, "none");
			ts_count(t, 2, d->state, "none");
		}
	}
	doc = ts_run("state,cause", NULL, NULL, NULL, true);
	ts_compare(t, doc, "state", "cause", &suppressed);
	/* Rate of a published cell: count per 100,000 inhabitants of its state. */
	si = tj_inegi_state("20");
	cell = ts_cell(doc, "state", "20", "cause", "land_territory");
	assert_non_null(cell);
	rate = cJSON_GetObjectItemCaseSensitive(cell, "victims_per_100k");
	assert_true(cJSON_IsNumber(rate));
	assert_true(rate->valuedouble > 0);
	assert_true(
	    fabs(rate->valuedouble -
	         (double)t->c[2][ts_idx(t->v1, &t->n1, "20")][ts_idx(t->v2, &t->n2, "land_territory")] * 1e5 /
	             (double)si->pop_total) < 1e-9);
	cJSON_Delete(doc);
	free(t);
}

static void test_rates_by_sex(void **state)
{
	uint64_t women = 0, other = 0;
	const struct tj_state_info *si = tj_inegi_state("12");
	const cJSON *cell, *rate;
	cJSON *doc;

	(void)state;
	for (int i = 0; i < TS_N; i++)
		if (strcmp(ts_data[i].state, "12") == 0) {
			women += strcmp(ts_data[i].gender, "woman") == 0;
			other += strcmp(ts_data[i].gender, "non_binary") == 0;
		}
	assert_true(women >= 5 && other >= 5);
	doc = ts_run("state,gender", "12", NULL, NULL, true);
	cell = ts_cell(doc, "state", "12", "gender", "woman");
	rate = cJSON_GetObjectItemCaseSensitive(cell, "victims_per_100k");
	assert_true(cJSON_IsNumber(rate));
	assert_true(fabs(rate->valuedouble - (double)women * 1e5 / (double)si->pop_women) < 1e-9);
	/* No census figure for non-binary people: no rate rather than a wrong one. */
	cell = ts_cell(doc, "state", "12", "gender", "non_binary");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cell, "victims_per_100k")));
	cJSON_Delete(doc);
}

static void test_bad_dims(void **state)
{
	struct tj_stats_query q;
	char bad[24];

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_int_equal(tj_stats_dims_parse("municipality", &q, bad), TJ_ESCHEMA);
	assert_string_equal(bad, "municipality");
	assert_int_equal(tj_stats_dims_parse("gender,gender", &q, bad), TJ_ESCHEMA);
	assert_int_equal(tj_stats_dims_parse("gender,state,month", &q, bad), TJ_ESCHEMA);
	assert_int_equal(tj_stats_dims_parse("", &q, bad), TJ_ESCHEMA);
	assert_int_equal(tj_stats_dims_parse("failed,state", &q, bad), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_dims),
	    cmocka_unit_test(test_gender_by_aggressor),
	    cmocka_unit_test(test_month_by_act_filtered),
	    cmocka_unit_test(test_cause_and_rates),
	    cmocka_unit_test(test_rates_by_sex),
	};
	return cmocka_run_group_tests(tests, ts_setup, ts_teardown);
}
