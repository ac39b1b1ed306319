/*
 * Alerts: each trigger fires on what should fire it and not on its near
 * misses; the same incidents in another order give the same alerts;
 * acknowledgements and resolutions are records that change the status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../alerts/tj_alert_testutil.h"
#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_query.h"

#define TA_MAX 64

struct ta_list {
	size_t n;
	struct tj_alert a[TA_MAX];
	uint64_t ev[TA_MAX];
};

static int ta__collect(void *ctx, const struct tj_alert *a, uint64_t event)
{
	struct ta_list *l = ctx;

	assert_true(l->n < TA_MAX);
	l->ev[l->n] = event;
	l->a[l->n++] = *a;
	return 0;
}

/* Every alert (of trigger, or all with 0), newest first. */
static struct ta_list *ta_alerts(struct tj_node *n, uint8_t trigger)
{
	struct tj_alert_filter f = {.status = -1};
	struct ta_list *l = calloc(1, sizeof(*l));
	uint64_t last = 0;

	assert_non_null(l);
	if (trigger != 0)
		f.triggers = (uint8_t)(1u << trigger);
	assert_int_equal(tj_alert_list(n, &f, TA_MAX, ta__collect, l, &last), 0);
	return l;
}

static bool ta_lists(const struct tj_alert *a, const uint8_t id[32])
{
	for (uint32_t i = 0; i < a->n_incidents; i++)
		if (memcmp(a->incidents[i], id, 32) == 0)
			return true;
	return false;
}

static void test_t1_severity(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t hi[32], lo[32];
	struct ta_list *l;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "death_threat", .ref = "a"}, hi); /* 4 */
	ta_add(n, &(struct ta_inc){.date = "2026-03-02", .act = "threat", .ref = "b"}, lo);       /* 3 */
	l = ta_alerts(n, TJ_T1_FLASH);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].n_incidents, 1);
	assert_true(ta_lists(&l->a[0], hi));
	assert_int_equal(l->a[0].severity, 4);
	assert_int_equal(l->a[0].priority, TJ_PRIO_HIGH);
	assert_string_equal(l->a[0].acts.v[0], "death_threat");
	assert_string_equal(l->a[0].states.v[0], "20");
	assert_string_equal(l->a[0].genders.v[0], "woman");
	assert_int_equal(l->a[0].status, TJ_ALERT_OPEN);
	free(l);
	ta_node_close(n, dir);
}

static void test_t2_protection(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t p[32], q[32];
	struct ta_list *l;

	(void)state;
	ta_add(n,
	       &(struct ta_inc){
	           .date = "2026-03-01", .act = "harassment", .prot = "federal_mechanism", .ref = "a"},
	       p);
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "harassment", .ref = "b"}, q);
	l = ta_alerts(n, TJ_T2_PROTECTED);
	assert_int_equal(l->n, 1);
	assert_true(ta_lists(&l->a[0], p));
	assert_true(l->a[0].protection);
	free(l);
	ta_node_close(n, dir);
}

static void test_t3_cluster(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[3][32], x[32];
	struct ta_list *l;

	(void)state;
	/* 14 days from first to last in 20067: fires. */
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .mun = "20067", .act = "harassment", .ref = "a"},
	       a[0]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-15", .mun = "20067", .act = "harassment", .ref = "b"},
	       a[2]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-08", .mun = "20067", .act = "harassment", .ref = "c"},
	       a[1]);
	/* 15 days in 20001: no. */
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .mun = "20001", .act = "harassment", .ref = "d"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-08", .mun = "20001", .act = "harassment", .ref = "e"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-16", .mun = "20001", .act = "harassment", .ref = "f"}, x);
	/* Two in 20002 and the third in 20003: no. */
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .mun = "20002", .act = "harassment", .ref = "g"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-02", .mun = "20002", .act = "harassment", .ref = "h"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-02", .mun = "20003", .act = "harassment", .ref = "i"}, x);
	l = ta_alerts(n, TJ_T3_CLUSTER);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].n_incidents, 3);
	for (int i = 0; i < 3; i++)
		assert_true(ta_lists(&l->a[0], a[i]));
	assert_int_equal(l->a[0].priority, TJ_PRIO_HIGH);
	free(l);
	ta_node_close(n, dir);
}

static void test_t4_escalation(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t e1[32], e2[32], x[32];
	struct ta_list *l;

	(void)state;
	/* Jan 10 -> Apr 10 is 90 days: fires. Jan 10 -> Apr 11 (91): no. Two refs: no. */
	ta_add(n, &(struct ta_inc){.date = "2026-04-10", .ref = "esc", .act = "harassment", .mun = "20001"},
	       e2);
	ta_add(n, &(struct ta_inc){.date = "2026-01-10", .ref = "esc", .act = "harassment", .mun = "20002"},
	       e1);
	ta_add(n, &(struct ta_inc){.date = "2026-01-10", .ref = "far", .act = "harassment", .mun = "20003"},
	       x);
	ta_add(n, &(struct ta_inc){.date = "2026-04-11", .ref = "far", .act = "harassment", .mun = "20004"},
	       x);
	ta_add(n, &(struct ta_inc){.date = "2026-06-01", .ref = "one", .act = "harassment", .mun = "20005"},
	       x);
	ta_add(n, &(struct ta_inc){.date = "2026-06-01", .ref = "two", .act = "harassment", .mun = "20006"},
	       x);
	l = ta_alerts(n, TJ_T4_ESCALATION);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].n_incidents, 2);
	assert_true(ta_lists(&l->a[0], e1));
	assert_true(ta_lists(&l->a[0], e2));
	free(l);
	ta_node_close(n, dir);
}

static void test_t5_pattern(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t p1[32], p2[32], x[32];
	struct ta_list *l;

	(void)state;
	/* Municipal police in Oaxaca against two victims 30 days apart: fires. */
	ta_add(n, &(struct ta_inc){.date = "2026-05-01", .ref = "p1", .act = "harassment", .mun = "20001"},
	       p1);
	ta_add(n, &(struct ta_inc){.date = "2026-05-31", .ref = "p2", .act = "harassment", .mun = "20002"},
	       p2);
	/* Organized crime in Guerrero, 31 days apart: no. */
	ta_add(n,
	       &(struct ta_inc){.date = "2026-05-01",
	                        .state = "12",
	                        .mun = "",
	                        .ref = "q1",
	                        .act = "harassment",
	                        .agg = "organized_crime"},
	       x);
	ta_add(n,
	       &(struct ta_inc){.date = "2026-06-01",
	                        .state = "12",
	                        .mun = "",
	                        .ref = "q2",
	                        .act = "harassment",
	                        .agg = "organized_crime"},
	       x);
	/* Armed forces once in Mexico State and once in Michoacán: no. */
	ta_add(n,
	       &(struct ta_inc){.date = "2026-05-01",
	                        .state = "15",
	                        .mun = "",
	                        .ref = "q3",
	                        .act = "harassment",
	                        .agg = "armed_forces"},
	       x);
	ta_add(n,
	       &(struct ta_inc){.date = "2026-05-01",
	                        .state = "16",
	                        .mun = "",
	                        .ref = "q4",
	                        .act = "harassment",
	                        .agg = "armed_forces"},
	       x);
	/* A company twice against the same victim: one victim, no T5. */
	ta_add(n,
	       &(struct ta_inc){.date = "2026-05-01",
	                        .state = "14",
	                        .mun = "",
	                        .ref = "r1",
	                        .act = "harassment",
	                        .agg = "company"},
	       x);
	ta_add(n,
	       &(struct ta_inc){.date = "2026-05-02",
	                        .state = "14",
	                        .mun = "",
	                        .ref = "r1",
	                        .act = "harassment",
	                        .agg = "company"},
	       x);
	l = ta_alerts(n, TJ_T5_PATTERN);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].n_incidents, 2);
	assert_true(ta_lists(&l->a[0], p1));
	assert_true(ta_lists(&l->a[0], p2));
	assert_string_equal(l->a[0].aggressors.v[0], "municipal_police");
	assert_int_equal(l->a[0].priority, TJ_PRIO_MEDIUM);
	free(l);
	/* One incident with two victims is two victims. */
	ta_add(n,
	       &(struct ta_inc){.date = "2026-07-01",
	                        .state = "07",
	                        .mun = "",
	                        .ref = "s1",
	                        .ref2 = "s2",
	                        .act = "harassment",
	                        .agg = "private_security"},
	       x);
	l = ta_alerts(n, TJ_T5_PATTERN);
	assert_int_equal(l->n, 2);
	free(l);
	ta_node_close(n, dir);
}

static void test_t6_displacement(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t d[32], x[32];
	struct ta_list *l;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .res_state = "12", .act = "harassment", .ref = "a"},
	       d);
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .res_state = "20", .act = "harassment", .ref = "b"},
	       x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "harassment", .ref = "c"}, x);
	l = ta_alerts(n, TJ_T6_DISPLACED);
	assert_int_equal(l->n, 1);
	assert_true(ta_lists(&l->a[0], d));
	/* Both states see it. */
	assert_int_equal(l->a[0].states.n, 2);
	assert_string_equal(l->a[0].states.v[0], "12");
	assert_string_equal(l->a[0].states.v[1], "20");
	free(l);
	ta_node_close(n, dir);
}

static void test_t7_ongoing_reraise_resolve(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	struct tj_alert_filter f = {.status = -1, .triggers = 1u << TJ_T7_ONGOING};
	uint8_t d[32], x[32], rec[32];
	uint64_t now = tj_now_ms(), period = tj_alert_config_current()->t7_reraise_s * 1000ull, last = 0;
	struct ta_list *l;
	size_t raised = 0;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "disappearance", .ref = "a"}, d);
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "physical_assault", .ref = "b"}, x);
	l = ta_alerts(n, TJ_T7_ONGOING);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].priority, TJ_PRIO_CRITICAL);
	assert_int_equal(l->a[0].raises, 1);
	/* Not due yet; due after the period. */
	assert_int_equal(tj_alert_reraise(n, now, &raised), 0);
	assert_int_equal(raised, 0);
	assert_int_equal(tj_alert_reraise(n, now + period + 1000, &raised), 0);
	assert_int_equal(raised, 1);
	free(l);
	l = ta_alerts(n, TJ_T7_ONGOING);
	assert_int_equal(l->n, 1); /* listed once, at its latest raise */
	assert_int_equal(l->a[0].raises, 2);
	free(l);
	/* Followers see both raises. */
	l = calloc(1, sizeof(*l));
	f.after_event = 1; /* events after the node's first one */
	assert_int_equal(tj_alert_list(n, &f, TA_MAX, ta__collect, l, &last), 0);
	assert_true(l->n >= 1);
	assert_int_equal(l->a[l->n - 1].raises, 2);
	free(l);
	/* Resolved: never again. */
	l = ta_alerts(n, TJ_T7_ONGOING);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_RESOLVE, l->a[0].id, "located_alive", rec), 0);
	free(l);
	l = ta_alerts(n, TJ_T7_ONGOING);
	assert_int_equal(l->a[0].status, TJ_ALERT_RESOLVED);
	free(l);
	assert_int_equal(tj_alert_reraise(n, now + 3 * period, &raised), 0);
	assert_int_equal(raised, 0);
	ta_node_close(n, dir);
}

static void test_ack_records(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t d[32], rec[32], bogus[32] = {1};
	struct tj_store_stats st;
	struct ta_list *l;
	struct tj_txn t;
	const uint8_t *enc;
	size_t len;
	struct tj_record r;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "killing", .ref = "a"}, d);
	l = ta_alerts(n, TJ_T1_FLASH);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].priority, TJ_PRIO_CRITICAL);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, l->a[0].id, "bogus", rec), TJ_ESCHEMA);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_RESOLVE, l->a[0].id, "responding", rec),
	                 TJ_ESCHEMA);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, bogus, "responding", rec), TJ_ENOTFOUND);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, l->a[0].id, "responding", rec), 0);
	/* The acknowledgement is a record of ours, of its kind, in the store. */
	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, rec, &enc, &len), 0);
	assert_int_equal(tj_record_decode(enc, len, &r), 0);
	assert_int_equal(r.kind, TJ_KIND_ALERT_ACK);
	assert_int_equal(r.audience.type, TJ_AUD_NETWORK);
	assert_memory_equal(r.author, n->u->id->pk, 32);
	assert_int_equal(tj_store_stats(&t, &st), 0);
	assert_int_equal(st.by_kind[TJ_KIND_ALERT_ACK], 1);
	tj_txn_abort(&t);
	free(l);
	l = ta_alerts(n, TJ_T1_FLASH);
	assert_int_equal(l->a[0].status, TJ_ALERT_ACKNOWLEDGED);
	assert_int_equal(l->a[0].n_acks, 1);
	assert_memory_equal(l->a[0].acks[0].author, n->u->id->pk, 32);
	assert_string_equal(l->a[0].acks[0].code, "responding");
	/* Status filter. */
	free(l);
	{
		struct tj_alert_filter f = {.status = TJ_ALERT_OPEN};
		uint64_t last = 0;
		l = calloc(1, sizeof(*l));
		assert_int_equal(tj_alert_list(n, &f, TA_MAX, ta__collect, l, &last), 0);
		for (size_t i = 0; i < l->n; i++)
			assert_int_not_equal(l->a[i].trigger, TJ_T1_FLASH);
	}
	free(l);
	ta_node_close(n, dir);
}

/* Drops the derived databases (alerts, index) as if the node never evaluated anything. */
static void ta_drop_derived(struct tj_node *n)
{
	struct tj_txn t;
	MDB_dbi dbi;

	assert_int_equal(tj_txn_begin(n->store, true, &t), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, "alerts", &dbi), 0);
	assert_int_equal(mdb_drop(t.txn, dbi, 0), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, "query_idx", &dbi), 0);
	assert_int_equal(mdb_drop(t.txn, dbi, 0), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
}

static int ta__cmp_alert(const void *a, const void *b)
{
	return memcmp(((const struct tj_alert *)a)->id, ((const struct tj_alert *)b)->id, 32);
}

static void ta_assert_same(struct ta_list *x, struct ta_list *y)
{
	assert_int_equal(x->n, y->n);
	qsort(x->a, x->n, sizeof(x->a[0]), ta__cmp_alert);
	qsort(y->a, y->n, sizeof(y->a[0]), ta__cmp_alert);
	for (size_t i = 0; i < x->n; i++) {
		assert_memory_equal(x->a[i].id, y->a[i].id, 32);
		assert_int_equal(x->a[i].n_incidents, y->a[i].n_incidents);
		assert_memory_equal(x->a[i].incidents, y->a[i].incidents, 32 * x->a[i].n_incidents);
		assert_int_equal(x->a[i].severity, y->a[i].severity);
		assert_int_equal(x->a[i].states.n, y->a[i].states.n);
	}
}

static void test_order_independent(void **state)
{
	static const size_t orders[3][10] = {
	    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {4, 0, 9, 2, 7, 5, 1, 8, 3, 6}};
	static const struct ta_inc incs[10] = {
	    {.date = "2026-03-01", .mun = "20067", .ref = "a", .act = "harassment"},
	    {.date = "2026-03-05", .mun = "20067", .ref = "b", .act = "threat"},
	    {.date = "2026-03-09", .mun = "20067", .ref = "a", .act = "death_threat"},
	    {.date = "2026-03-12", .mun = "20067", .ref = "c", .act = "harassment"},
	    {.date = "2026-03-20", .mun = "20067", .ref = "d", .act = "disappearance"},
	    {.date = "2026-04-02", .mun = "20001", .ref = "a", .act = "raid", .prot = "state_mechanism"},
	    {.date = "2026-04-02", .mun = "20001", .ref = "e", .act = "raid", .res_state = "12"},
	    {.date = "2026-02-01",
	     .state = "12",
	     .mun = "",
	     .ref = "f",
	     .act = "threat",
	     .agg = "organized_crime"},
	    {.date = "2026-02-20",
	     .state = "12",
	     .mun = "",
	     .ref = "g",
	     .act = "threat",
	     .agg = "organized_crime"},
	    {.date = "2026-02-25",
	     .state = "12",
	     .mun = "",
	     .ref = "f",
	     .act = "killing",
	     .agg = "organized_crime"},
	};
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t ids[10][32];
	struct ta_list *first, *again;
	size_t seen_triggers = 0;

	(void)state;
	for (size_t i = 0; i < 10; i++)
		ta_add(n, &incs[i], ids[i]);
	first = ta_alerts(n, 0);
	for (uint8_t t = 1; t <= 7; t++) {
		struct ta_list *l = ta_alerts(n, t);
		seen_triggers += l->n > 0;
		free(l);
	}
	assert_int_equal(seen_triggers, 7); /* the set exercises every trigger */
	for (size_t o = 0; o < 3; o++) {
		ta_drop_derived(n);
		for (size_t i = 0; i < 10; i++)
			assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])ids[orders[o][i]], 1),
			                 0);
		again = ta_alerts(n, 0);
		ta_assert_same(first, again);
		free(again);
	}
	/* All at once, in one transaction, too. */
	ta_drop_derived(n);
	assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])ids, 10), 0);
	again = ta_alerts(n, 0);
	ta_assert_same(first, again);
	free(again);
	free(first);
	ta_node_close(n, dir);
}

/* ---- clusters skipped while adding: the same alerts as evaluating every cluster ---- */

struct ta_all {
	size_t n, cap, withdrawn;
	struct tj_alert *a;
};

static int ta__all_one(void *ctx, const struct tj_alert *a, uint64_t event)
{
	struct ta_all *l = ctx;

	(void)event;
	if (a->withdrawn) {
		l->withdrawn++;
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 256 : 2 * l->cap;
		l->a = realloc(l->a, l->cap * sizeof(*l->a));
		assert_non_null(l->a);
	}
	l->a[l->n++] = *a;
	return 0;
}

static void ta_all(struct tj_node *n, struct ta_all *l)
{
	struct tj_alert_filter f = {.status = -1};
	uint64_t last = 0;

	memset(l, 0, sizeof(*l));
	assert_int_equal(tj_alert_list(n, &f, UINT32_MAX, ta__all_one, l, &last), 0);
	qsort(l->a, l->n, sizeof(l->a[0]), ta__cmp_alert);
}

static void ta_code_sets_equal(const struct tj_code_set *x, const struct tj_code_set *y)
{
	assert_int_equal(x->n, y->n);
	for (uint32_t i = 0; i < x->n; i++)
		assert_string_equal(x->v[i], y->v[i]);
}

/* Everything an alert holds but its times, event seqs included (the same order of evaluation). */
static void ta_all_equal(const struct ta_all *x, const struct ta_all *y)
{
	assert_int_equal(x->n, y->n);
	assert_int_equal(x->withdrawn, y->withdrawn);
	for (size_t i = 0; i < x->n; i++) {
		const struct tj_alert *a = &x->a[i], *b = &y->a[i];
		assert_memory_equal(a->id, b->id, 32);
		assert_int_equal(a->trigger, b->trigger);
		assert_int_equal(a->priority, b->priority);
		assert_int_equal(a->severity, b->severity);
		assert_int_equal(a->protection, b->protection);
		ta_code_sets_equal(&a->states, &b->states);
		ta_code_sets_equal(&a->acts, &b->acts);
		ta_code_sets_equal(&a->aggressors, &b->aggressors);
		ta_code_sets_equal(&a->roles, &b->roles);
		ta_code_sets_equal(&a->genders, &b->genders);
		assert_int_equal(a->n_incidents, b->n_incidents);
		assert_memory_equal(a->incidents, b->incidents, 32 * (size_t)a->n_incidents);
		assert_int_equal(a->count, b->count);
		assert_int_equal(a->last_day, b->last_day);
		assert_int_equal(a->raises, b->raises);
		assert_int_equal(a->updates, b->updates);
		assert_int_equal(a->last_event, b->last_event);
	}
}

/* The 'F' entry of "alerts" (0: absent), or, with put, writes v there. */
static uint64_t ta_clean_mark(struct tj_node *n, bool put, uint64_t v)
{
	uint8_t name = 'F', buf[8];
	MDB_val k = {1, &name}, val = {8, buf};
	struct tj_txn t;
	MDB_dbi dbi;
	uint64_t got = 0;
	int rc;

	assert_int_equal(tj_txn_begin(n->store, true, &t), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, "alerts", &dbi), 0);
	if (put) {
		tj_store_be64(v, buf);
		assert_int_equal(mdb_put(t.txn, dbi, &k, &val, 0), 0);
	} else if ((rc = mdb_get(t.txn, dbi, &k, &val)) == 0) {
		assert_int_equal(val.mv_size, 8);
		got = tj_store_rd64(val.mv_data);
	} else {
		assert_int_equal(rc, MDB_NOTFOUND);
	}
	assert_int_equal(tj_txn_commit(&t), 0);
	return got;
}

/* Evaluates ids[order[i]] again from nothing, in batches; full: every cluster (a store not known clean). */
static void ta_reevaluate(struct tj_node *n, const uint8_t (*ids)[32], const size_t *order, size_t count,
                          bool full, struct ta_all *out)
{
	uint8_t(*batch)[32] = malloc(37 * 32);

	assert_non_null(batch);
	ta_drop_derived(n);
	if (full)
		(void)ta_clean_mark(n, true, 2);
	for (size_t i = 0; i < count; i += 37) {
		size_t k = count - i < 37 ? count - i : 37;
		for (size_t j = 0; j < k; j++)
			memcpy(batch[j], ids[order[i + j]], 32);
		assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])batch, k), 0);
	}
	free(batch);
	if (full)
		assert_int_equal(ta_clean_mark(n, false, 0), 2);
	else
		assert_int_equal(ta_clean_mark(n, false, 0) & 1, 1); /* clean: clusters were skipped */
	ta_all(n, out);
}

/*
 * Dense keys, dates in any order (late reports that move an anchor earlier,
 * newcomers that join two clusters), a flood within periods: adding to a
 * store known clean skips the clusters an incident cannot change, and gives
 * what evaluating every cluster gives, alert by alert and event by event.
 */
static void test_clusters_skipped_same(void **state)
{
	static const char *const munis[] = {"20067", "20067", "20001", "12001"};
	static const char *const acts[] = {"harassment", "threat", "killing", "disappearance", "raid"};
	static const char *const aggs[] = {"municipal_police", "organized_crime", "armed_forces"};
	enum { N = 360 };
	uint8_t(*ids)[32] = malloc(N * 32);
	size_t order[N];
	struct ta_all added, full, fast;
	uint32_t x = 7;
	char dir[64];
	struct tj_node *n = ta_node_open(dir);

	(void)state;
	assert_non_null(ids);
	for (size_t i = 0; i < N; i++) {
		char date[11], ref[8], st[3];
		const char *mun;
		x = x * 1664525u + 1013904223u;
		mun = munis[(x >> 8) % 4];
		memcpy(st, mun, 2);
		st[2] = '\0';
		/* 2026-02-01 .. 2026-06-28: about two periods, several incidents a day per key. */
		snprintf(date, sizeof(date), "2026-%02u-%02u", 2 + (x >> 12) % 5, 1 + (x >> 16) % 28);
		snprintf(ref, sizeof(ref), "v%u", (x >> 20) % 50);
		ta_add(n,
		       &(struct ta_inc){.date = date,
		                        .state = st,
		                        .mun = (x >> 30) == 0 ? "" : mun,
		                        .ref = ref,
		                        .act = acts[(x >> 24) % 5],
		                        .agg = aggs[(x >> 27) % 3],
		                        .ref2 = (x >> 29) % 4 == 0 ? "w" : NULL},
		       ids[i]);
		order[i] = i;
	}
	assert_int_equal(ta_clean_mark(n, false, 0) & 1, 1); /* added to a fresh store: clean */
	ta_all(n, &added);
	assert_true(added.n > 20);
	ta_reevaluate(n, (const uint8_t(*)[32])ids, order, N, true, &full);
	ta_all_equal(&added, &full);
	free(full.a);
	/* Reverse order: every newcomer is a late report. */
	for (size_t i = 0; i < N; i++)
		order[i] = N - 1 - i;
	ta_reevaluate(n, (const uint8_t(*)[32])ids, order, N, false, &fast);
	ta_reevaluate(n, (const uint8_t(*)[32])ids, order, N, true, &full);
	ta_all_equal(&fast, &full);
	free(fast.a);
	free(full.a);
	/* A shuffle. */
	for (size_t i = N - 1; i > 0; i--) {
		size_t j, tmp = order[i];
		x = x * 1664525u + 1013904223u;
		j = (x >> 8) % (i + 1);
		order[i] = order[j];
		order[j] = tmp;
	}
	ta_reevaluate(n, (const uint8_t(*)[32])ids, order, N, false, &fast);
	ta_reevaluate(n, (const uint8_t(*)[32])ids, order, N, true, &full);
	ta_all_equal(&fast, &full);
	free(fast.a);
	free(full.a);
	free(added.a);
	free(ids);
	ta_node_close(n, dir);
}

/* Other thresholds make the stored clusters unknown for good: every later add evaluates every cluster. */
static void test_clusters_config_change(void **state)
{
	struct tj_alert_config saved = *tj_alert_config_current(), other = saved;
	struct ta_inc inc = {.date = "2026-03-01", .mun = "20067", .ref = "a", .act = "threat"};
	uint8_t id[32];
	char dir[64];
	struct tj_node *n = ta_node_open(dir);

	(void)state;
	ta_add(n, &inc, id);
	assert_int_equal(ta_clean_mark(n, false, 0) & 1, 1);
	other.t3_min_incidents = saved.t3_min_incidents + 1;
	tj_alert_configure(&other);
	inc.date = "2026-03-02";
	ta_add(n, &inc, id);
	assert_int_equal(ta_clean_mark(n, false, 0), 2);
	tj_alert_configure(&saved); /* back: still not known clean (clusters were set under the other) */
	inc.date = "2026-03-03";
	ta_add(n, &inc, id);
	assert_int_equal(ta_clean_mark(n, false, 0), 2);
	ta_node_close(n, dir);
}

/* Reopens the node of dir after a close (what a restart does). */
static struct tj_node *ta_reopen(const char *dir)
{
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	assert_int_equal(tj_node_open(dir, 0, u, &n), 0);
	return n;
}

/*
 * A crash between the records' commit and the alerts' commit: the incidents
 * stay marked pending, and the next start evaluates them, once.
 */
static void test_crash_pending(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[3][32], ids[3][32];
	struct ta_list *l;
	size_t done = 0;

	(void)state;
	tj_alert_test_skip_after_store = true;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "death_threat", .ref = "a"}, a[0]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-05", .act = "harassment", .ref = "b"}, a[1]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-09", .act = "harassment", .ref = "a"}, a[2]);
	tj_alert_test_skip_after_store = false;
	l = ta_alerts(n, 0);
	assert_int_equal(l->n, 0); /* the "crash": stored, never evaluated */
	free(l);
	tj_node_close(n);

	n = ta_reopen(dir);
	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 3);
	l = ta_alerts(n, 0);
	/* T1 (a[0]), T3 (anchor a[2]), T4 (anchor a[2]), T5 (one cluster, anchor a[1]). */
	assert_int_equal(l->n, 4);
	for (size_t i = 0; i < l->n; i++)
		for (size_t j = i + 1; j < l->n; j++)
			assert_memory_not_equal(l->a[i].id, l->a[j].id, 32);
	free(l);
	/* Nothing left: a second start and a second evaluation change nothing. */
	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 0);
	memcpy(ids, a, sizeof(ids));
	assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])ids, 3), 0);
	tj_node_close(n);
	n = ta_reopen(dir);
	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 0);
	l = ta_alerts(n, 0);
	assert_int_equal(l->n, 4);
	for (size_t i = 0; i < l->n; i++)
		assert_int_equal(l->a[i].raises, 1);
	free(l);
	ta_node_close(n, dir);
}

/*
 * The daemon's background pass (tj_peer_derive.c) works in steps: each takes
 * at most cap records, at least one whatever the budget, says whether more
 * are pending, and all of them end where one tj_alert_pending_run would.
 */
static void test_pending_steps(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[5][32];
	struct ta_list *l;
	uint64_t count = 0;
	size_t done = 0, total = 0, steps = 0;
	bool more = true;

	(void)state;
	tj_alert_test_skip_after_store = true;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "death_threat", .ref = "a"}, a[0]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-05", .act = "harassment", .ref = "b"}, a[1]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-09", .act = "harassment", .ref = "a"}, a[2]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-10", .act = "harassment", .ref = "c"}, a[3]);
	ta_add(n, &(struct ta_inc){.date = "2026-03-11", .act = "surveillance", .ref = "d"}, a[4]);
	tj_alert_test_skip_after_store = false;
	assert_int_equal(tj_alert_pending_prepare(n), 0);
	assert_int_equal(tj_alert_pending_count(n, &count), 0);
	assert_int_equal(count, 5);
	/* cap 2: two, more to come. */
	assert_int_equal(tj_alert_pending_step(n, 2, 0, &done, &more), 0);
	assert_int_equal(done, 2);
	assert_true(more);
	assert_int_equal(tj_alert_pending_count(n, &count), 0);
	assert_int_equal(count, 3);
	/* A budget of 1 us: the first record still runs, so the backlog always shrinks. */
	assert_int_equal(tj_alert_pending_step(n, TJ_ALERT_PENDING_BATCH, 1, &done, &more), 0);
	assert_true(done >= 1);
	total = 2 + done;
	/* cap 0 counts as 1. */
	if (more) {
		assert_int_equal(tj_alert_pending_step(n, 0, 0, &done, &more), 0);
		assert_int_equal(done, 1);
		total += done;
	}
	while (more && steps++ < 10) {
		assert_int_equal(tj_alert_pending_step(n, TJ_ALERT_PENDING_BATCH, 0, &done, &more), 0);
		total += done;
	}
	assert_false(more);
	assert_int_equal(total, 5);
	assert_int_equal(tj_alert_pending_count(n, &count), 0);
	assert_int_equal(count, 0);
	/* Nothing pending: a step does nothing and says so. */
	assert_int_equal(tj_alert_pending_step(n, TJ_ALERT_PENDING_BATCH, 0, &done, &more), 0);
	assert_int_equal(done, 0);
	assert_false(more);
	/* The same alerts as evaluating each add at once gives: compared on a second node (one at a time). */
	l = ta_alerts(n, 0);
	for (size_t i = 0; i < l->n; i++)
		assert_int_equal(l->a[i].raises, 1);
	ta_node_close(n, dir);
	{
		char dir2[64];
		struct tj_node *m = ta_node_open(dir2);
		struct ta_list *k;
		uint8_t x[32];
		ta_add(m, &(struct ta_inc){.date = "2026-03-01", .act = "death_threat", .ref = "a"}, x);
		ta_add(m, &(struct ta_inc){.date = "2026-03-05", .act = "harassment", .ref = "b"}, x);
		ta_add(m, &(struct ta_inc){.date = "2026-03-09", .act = "harassment", .ref = "a"}, x);
		ta_add(m, &(struct ta_inc){.date = "2026-03-10", .act = "harassment", .ref = "c"}, x);
		ta_add(m, &(struct ta_inc){.date = "2026-03-11", .act = "surveillance", .ref = "d"}, x);
		k = ta_alerts(m, 0);
		assert_true(l->n >= 4);
		assert_int_equal(l->n, k->n);
		for (uint8_t t = 1; t <= 7; t++) {
			uint32_t in_l = 0, in_k = 0, cnt_l = 0, cnt_k = 0;
			for (size_t i = 0; i < l->n; i++)
				if (l->a[i].trigger == t)
					in_l += l->a[i].n_incidents, cnt_l += l->a[i].count;
			for (size_t i = 0; i < k->n; i++)
				if (k->a[i].trigger == t)
					in_k += k->a[i].n_incidents, cnt_k += k->a[i].count;
			assert_int_equal(in_l, in_k);
			assert_int_equal(cnt_l, cnt_k);
		}
		free(k);
		ta_node_close(m, dir2);
	}
	free(l);
}

/*
 * A flood cut at the region limit marks its own key dirty, not the store:
 * with the limit at 6 (a test knob), 8 incidents in one municipality cut its
 * T3 region (and their state's T5 region); the store stays clean, the other
 * municipality's T3 clusters keep the fast path, its alert is the one a node
 * without any cut gives, and the flooded key takes the full path from then on.
 */
static void test_cut_marks_key(void **state)
{
	static const char *const days[] = {"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04",
	                                   "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08"};
	static const char *const other[] = {"2026-03-02", "2026-03-05", "2026-03-09"};
	char dir[64], ref[16];
	struct ta_list *l, *k;
	struct tj_txn t;
	uint8_t x[32];
	uint64_t fast, f = 0;
	struct tj_node *n = ta_node_open(dir);

	(void)state;
	tj_alert_test_region_max = 6;
	for (size_t i = 0; i < 8; i++) {
		snprintf(ref, sizeof(ref), "f%zu", i);
		ta_add(n, &(struct ta_inc){.date = days[i], .act = "harassment", .ref = ref, .mun = "20067"},
		       x);
	}
	fast = tj_alert_test_fast_evals;
	for (size_t i = 0; i < 3; i++) {
		snprintf(ref, sizeof(ref), "o%zu", i);
		ta_add(n, &(struct ta_inc){.date = other[i], .act = "harassment", .ref = ref, .mun = "20001"},
		       x);
	}
	/* The other municipality's three adds: its T3 key on the fast path each time (T5's is cut). */
	assert_int_equal(tj_alert_test_fast_evals, fast + 3);
	/* The flooded key is marked: the full path. */
	fast = tj_alert_test_fast_evals;
	ta_add(n, &(struct ta_inc){.date = "2026-03-04", .act = "harassment", .ref = "f9", .mun = "20067"},
	       x);
	assert_int_equal(tj_alert_test_fast_evals, fast);
	/* The store itself is still clean (an odd fingerprint, not TJ__DIRTY = 2). */
	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj__alert_u64_get(&t, 'F', &f), 0);
	tj_txn_abort(&t);
	assert_true((f & 1u) == 1u);
	l = ta_alerts(n, TJ_T3_CLUSTER);
	tj_alert_test_region_max = 0;
	ta_node_close(n, dir);

	/* The reference: the other municipality's incidents alone, no cut anywhere. */
	n = ta_node_open(dir);
	for (size_t i = 0; i < 3; i++) {
		snprintf(ref, sizeof(ref), "o%zu", i);
		ta_add(n, &(struct ta_inc){.date = other[i], .act = "harassment", .ref = ref, .mun = "20001"},
		       x);
	}
	k = ta_alerts(n, TJ_T3_CLUSTER);
	ta_node_close(n, dir);
	assert_int_equal(k->n, 1);
	{
		size_t found = 0;
		for (size_t i = 0; i < l->n; i++)
			if (l->a[i].n_incidents == k->a[0].n_incidents && l->a[i].count == k->a[0].count &&
			    l->a[i].last_day == k->a[0].last_day && l->a[i].raises == k->a[0].raises &&
			    l->a[i].updates == k->a[0].updates)
				found++;
		assert_int_equal(found, 1);
	}
	free(l);
	free(k);
}

/*
 * A store of the older format (no 'V'): the first run evaluates every
 * incident once more, which changes no alert (same ids, lists and raises).
 */
static void test_format_upgrade(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	struct ta_list *before, *after;
	uint8_t x[32];
	size_t done = 0;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-03-01", .act = "death_threat", .ref = "a"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-05", .act = "harassment", .ref = "b"}, x);
	ta_add(n, &(struct ta_inc){.date = "2026-03-09", .act = "harassment", .ref = "a"}, x);
	before = ta_alerts(n, 0);
	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 3);
	after = ta_alerts(n, 0);
	assert_int_equal(after->n, before->n);
	for (size_t i = 0; i < after->n; i++) {
		assert_memory_equal(after->a[i].id, before->a[i].id, 32);
		assert_int_equal(after->a[i].n_incidents, before->a[i].n_incidents);
		assert_int_equal(after->a[i].raises, 1);
	}
	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 0);
	free(before);
	free(after);
	ta_node_close(n, dir);
}

static void test_codes(void **state)
{
	uint8_t mask = 0, t = 0;
	char bad[16];
	struct tj_alert_config c;
	const char *why = NULL;

	(void)state;
	assert_int_equal(tj_triggers_parse("T1,T7", &mask, bad), 0);
	assert_int_equal(mask, (1u << 1) | (1u << 7));
	assert_int_equal(tj_triggers_parse("T1,T9", &mask, bad), TJ_ESCHEMA);
	assert_string_equal(bad, "T9");
	assert_int_equal(tj_triggers_parse("", &mask, bad), TJ_ESCHEMA);
	assert_int_equal(tj_trigger_parse("T0", &t), TJ_ESCHEMA);
	assert_int_equal(tj_priority_parse("high", &t), 0);
	assert_int_equal(t, TJ_PRIO_HIGH);
	assert_int_equal(tj_priority_parse("urgent", &t), TJ_ESCHEMA);
	tj_alert_config_defaults(&c);
	assert_int_equal(tj_alert_config_set(&c, "t3_window_days", "21", &why), 0);
	assert_int_equal(c.t3_window_days, 21);
	assert_int_equal(tj_alert_config_set(&c, "t3_window_days", "0", &why), TJ_ECONFIG);
	assert_non_null(why);
	assert_int_equal(tj_alert_config_set(&c, "alert_hook", "relative/path", &why), TJ_ECONFIG);
	assert_int_equal(tj_alert_config_set(&c, "alert_hook", "/bin/cat", &why), 0);
	assert_string_equal(c.hook, "/bin/cat");
	assert_int_equal(tj_alert_config_set(&c, "t9", "1", &why), TJ_ECONFIG);
}

static void test_ack_body(void **state)
{
	uint8_t id[32], back[32], buf[128];
	char code[TJ_CODE_MAX];
	size_t len = 0;

	(void)state;
	randombytes_buf(id, 32);
	assert_int_equal(tj_alert_ack_body_encode(id, "verifying", buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_alert_ack_body_decode(buf, len, back, code), 0);
	assert_memory_equal(id, back, 32);
	assert_string_equal(code, "verifying");
	/* Truncated, trailing byte, flipped type: refused. */
	assert_int_not_equal(tj_alert_ack_body_decode(buf, len - 1, back, code), 0);
	buf[len] = 0xc0;
	assert_int_not_equal(tj_alert_ack_body_decode(buf, len + 1, back, code), 0);
	buf[1] ^= 0x01; /* bin 8 -> another type */
	assert_int_not_equal(tj_alert_ack_body_decode(buf, len, back, code), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codes),
	    cmocka_unit_test(test_ack_body),
	    cmocka_unit_test(test_t1_severity),
	    cmocka_unit_test(test_t2_protection),
	    cmocka_unit_test(test_t3_cluster),
	    cmocka_unit_test(test_t4_escalation),
	    cmocka_unit_test(test_t5_pattern),
	    cmocka_unit_test(test_t6_displacement),
	    cmocka_unit_test(test_t7_ongoing_reraise_resolve),
	    cmocka_unit_test(test_ack_records),
	    cmocka_unit_test(test_order_independent),
	    cmocka_unit_test(test_clusters_skipped_same),
	    cmocka_unit_test(test_clusters_config_change),
	    cmocka_unit_test(test_crash_pending),
	    cmocka_unit_test(test_pending_steps),
	    cmocka_unit_test(test_cut_marks_key),
	    cmocka_unit_test(test_format_upgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
