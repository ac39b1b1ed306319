/*
 * Alerts and retraction (tj_alert.h "Clusters", "Retraction", "Events"):
 * a growing cluster updates one alert (update events, a count, the hook not
 * called again); a retracted incident leaves nothing in the alerts, the
 * query index, the codes or the statistics, whether the retraction is
 * local, arrives after its incident, before it, or in one batch with it; the
 * alert set is the same whatever the order (records ingested into copies of
 * one node); a crash between the retraction's commit and the alert pass
 * loses nothing; the stewards' retraction of another member's incident takes
 * the same path; acknowledgements of a removed alert are harmless; a store
 * of the older format loses what earlier retractions left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../alerts/tj_alert_testutil.h"
#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_ingest.h"
#include "tj_query.h"
#include "tj_retract.h"
#include "tj_stats.h"
#include "tj_trust_testutil.h"

#define AR_MAX 64

struct ar_list {
	size_t n;
	struct tj_alert a[AR_MAX];
	uint64_t ev[AR_MAX];
};

static int ar__collect(void *ctx, const struct tj_alert *a, uint64_t event)
{
	struct ar_list *l = ctx;

	assert_true(l->n < AR_MAX);
	l->ev[l->n] = event;
	l->a[l->n++] = *a;
	return 0;
}

/* Alerts of trigger (0 = all), newest first; with after > 0, the events after it (a follower's view). */
static struct ar_list *ar_alerts(struct tj_node *n, uint8_t trigger, uint64_t after, uint64_t *last)
{
	struct tj_alert_filter f = {.status = -1, .after_event = after};
	struct ar_list *l = calloc(1, sizeof(*l));
	uint64_t dummy = 0;

	assert_non_null(l);
	if (trigger != 0)
		f.triggers = (uint8_t)(1u << trigger);
	assert_int_equal(tj_alert_list(n, &f, AR_MAX, ar__collect, l, last != NULL ? last : &dummy), 0);
	return l;
}

static bool ar_lists(const struct tj_alert *a, const uint8_t id[32])
{
	for (uint32_t i = 0; i < a->n_incidents; i++)
		if (memcmp(a->incidents[i], id, 32) == 0)
			return true;
	return false;
}

/* How many alerts (any trigger) list id. */
static size_t ar_listing(struct tj_node *n, const uint8_t id[32])
{
	struct ar_list *l = ar_alerts(n, 0, 0, NULL);
	size_t k = 0;

	for (size_t i = 0; i < l->n; i++)
		k += ar_lists(&l->a[i], id);
	free(l);
	return k;
}

/* Entries of the query index naming id (every key, the rules' own included). */
static size_t ar_index_entries(struct tj_node *n, const uint8_t id[32])
{
	MDB_val k, v;
	MDB_cursor *cur = NULL;
	struct tj_txn t;
	MDB_dbi dbi;
	size_t found = 0;
	int rc;

	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, TJ_QUERY_DBI_NAME, &dbi), 0);
	assert_int_equal(mdb_cursor_open(t.txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		found += v.mv_size >= 40 && memcmp((const uint8_t *)v.mv_data + 8, id, 32) == 0;
	mdb_cursor_close(cur);
	tj_txn_abort(&t);
	return found;
}

/* Is prefix || id a key of "alerts" ('C' codes, 'R' retracted copy, 'P' pending)? */
static bool ar_alerts_key(struct tj_node *n, uint8_t prefix, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key}, v;
	struct tj_txn t;
	MDB_dbi dbi;
	int rc;

	key[0] = prefix;
	memcpy(key + 1, id, 32);
	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, TJ_ALERT_DBI_NAME, &dbi), 0);
	rc = mdb_get(t.txn, dbi, &k, &v);
	tj_txn_abort(&t);
	return rc == 0;
}

/* Does any 'E' event or 'K' entry name alert id? */
static bool ar_alert_named(struct tj_node *n, const uint8_t id[32])
{
	MDB_val k, v;
	MDB_cursor *cur = NULL;
	struct tj_txn t;
	MDB_dbi dbi;
	bool found = false;
	int rc;

	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, TJ_ALERT_DBI_NAME, &dbi), 0);
	assert_int_equal(mdb_cursor_open(t.txn, dbi, &cur), 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kd = k.mv_data;
		if (kd[0] == 'E' && v.mv_size >= 32 && memcmp(v.mv_data, id, 32) == 0)
			found = true;
		if (kd[0] == 'K' && k.mv_size == 65 && memcmp(kd + 1, id, 32) == 0)
			found = true;
	}
	mdb_cursor_close(cur);
	tj_txn_abort(&t);
	return found;
}

/* Incidents counted by the statistics (by state). */
static uint64_t ar_stats_incidents(struct tj_node *n)
{
	struct tj_stats_query q;
	struct tj_stats *st = NULL;
	char bad[24];
	uint64_t k;

	memset(&q, 0, sizeof(q));
	assert_int_equal(tj_stats_dims_parse("state", &q, bad), 0);
	assert_int_equal(tj_stats_compute(n, &q, &st), 0);
	k = st->n_incidents;
	tj_stats_free(st);
	return k;
}

static void ar_id(uint8_t trigger, const uint8_t anchor[32], uint8_t id[32])
{
	crypto_generichash_state st;
	const char *ctx = "tejido-alert-v1";

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)ctx, strlen(ctx));
	crypto_generichash_update(&st, &trigger, 1);
	crypto_generichash_update(&st, anchor, 32);
	crypto_generichash_final(&st, id, 32);
}

static const struct ta_inc ar_h = {.act = "harassment", .mun = "20067"}; /* severity 2: no T1 */

static struct ta_inc ar_inc(const char *date, const char *ref)
{
	struct ta_inc x = ar_h;

	x.date = date;
	x.ref = ref;
	return x;
}

/*
 * A growing cluster: one T3 alert, updated (an update event a follower sees,
 * a count, the latest day), never a second alert; the hook's view skips the
 * updates.
 */
static void test_cluster_grows(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[6][32], want[32];
	struct ar_list *l;
	struct tj_alert *ev = malloc(sizeof(*ev));
	uint64_t last = 0, mark;
	static const char *const dates[6] = {"2026-03-01", "2026-03-04", "2026-03-07",
	                                     "2026-03-10", "2026-03-12", "2026-03-20"};

	(void)state;
	assert_non_null(ev);
	for (int i = 0; i < 3; i++) {
		struct ta_inc x = ar_inc(dates[i], i == 0 ? "a" : i == 1 ? "b" : "c");
		ta_add(n, &x, a[i]);
	}
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, &last);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].count, 3);
	ar_id(TJ_T3_CLUSTER, a[2], want); /* the first incident whose window holds 3 */
	assert_memory_equal(l->a[0].id, want, 32);
	assert_int_equal(l->a[0].event_kind, TJ_EVENT_RAISE);
	free(l);
	mark = last;
	for (int i = 3; i < 6; i++) {
		struct ta_inc x = ar_inc(dates[i], i == 3 ? "d" : i == 4 ? "e" : "f");
		ta_add(n, &x, a[i]);
	}
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 1); /* one alert, grown */
	assert_memory_equal(l->a[0].id, want, 32);
	assert_int_equal(l->a[0].count, 6);
	assert_int_equal(l->a[0].n_incidents, 6);
	for (int i = 0; i < 6; i++)
		assert_true(ar_lists(&l->a[0], a[i]));
	assert_int_equal(l->a[0].updates, 3);
	assert_int_equal(l->a[0].raises, 1);
	assert_int_equal(l->a[0].last_day, tj_date_days(&(struct tj_date){2026, 3, 20}));
	assert_int_equal(l->a[0].event_kind, TJ_EVENT_UPDATE);
	free(l);
	/* A follower since the raise gets it once, as an update; the hook's view of it is "not for me". */
	l = ar_alerts(n, TJ_T3_CLUSTER, mark, &last);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].event_kind, TJ_EVENT_UPDATE);
	assert_int_equal(l->a[0].count, 6);
	free(l);
	assert_int_equal(tj_alert_event(n, last, ev), 0);
	assert_int_equal(ev->event_kind, TJ_EVENT_UPDATE);
	assert_false(tj_alert_subscribed(NULL, 0, ev));
	/*
	 * A late report dated inside the cluster, before its anchor, that fires
	 * (03-01, 03-04, 03-05): the anchor moves to it (the id rule), the alert
	 * under the old anchor is withdrawn and the new one continues it as an
	 * update, not news.
	 */
	mark = last;
	{
		struct ta_inc x = ar_inc("2026-03-05", "g");
		uint8_t late[32];
		ta_add(n, &x, late);
		ar_id(TJ_T3_CLUSTER, late, want);
	}
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 1);
	assert_memory_equal(l->a[0].id, want, 32);
	assert_int_equal(l->a[0].count, 7);
	assert_int_equal(l->a[0].raises, 1);
	assert_int_equal(l->a[0].updates, 4);
	free(l);
	l = ar_alerts(n, TJ_T3_CLUSTER, mark, &last);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].event_kind, TJ_EVENT_UPDATE);
	free(l);
	free(ev);
	ta_node_close(n, dir);
}

/* Violence that goes on is news again each period (91 days): two alerts, not one that never ends. */
static void test_cluster_periods(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	int64_t start = 0;
	uint8_t id[32];
	struct ar_list *l;

	(void)state;
	/* Every 4 days from 30 days before a period boundary to 30 days after it. */
	for (int64_t day = tj_date_days(&(struct tj_date){2026, 3, 1}); start == 0; day++)
		if (day % 91 == 0)
			start = day - 30;
	for (int64_t day = start; day <= start + 60; day += 4) {
		time_t t = (time_t)day * 86400;
		struct tm tm;
		char date[16], ref[16];
		struct ta_inc x;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
		snprintf(ref, sizeof(ref), "p%lld", (long long)day);
		x = ar_inc(date, ref);
		ta_add(n, &x, id);
	}
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 2);
	assert_true(l->a[0].last_day >= start + 30 && l->a[1].last_day < start + 30);
	free(l);
	ta_node_close(n, dir);
}

/*
 * A local retraction: the T1/T7 alerts of the incident go (with their
 * events and acknowledgements), it leaves the cluster (recomputed, then
 * withdrawn below the threshold), the index, its codes and the statistics.
 */
static void test_local_retraction(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[4][32], d[32], t1[32], t7[32], target[32], rid[32], rec[32];
	struct tj_alert *ev = malloc(sizeof(*ev));
	struct ar_list *l;
	uint64_t last = 0;

	(void)state;
	assert_non_null(ev);
	for (int i = 0; i < 4; i++) {
		char date[16];
		struct ta_inc x;
		snprintf(date, sizeof(date), "2026-05-%02d", 1 + 3 * i);
		x = ar_inc(date, i == 0 ? "a" : i == 1 ? "b" : i == 2 ? "c" : "d");
		ta_add(n, &x, a[i]);
	}
	ta_add(n, &(struct ta_inc){.date = "2026-05-05", .mun = "20067", .ref = "z", .act = "disappearance"},
	       d);
	assert_int_equal(ar_stats_incidents(n), 5);
	assert_true(ar_index_entries(n, d) > 0);
	ar_id(TJ_T1_FLASH, d, t1);
	ar_id(TJ_T7_ONGOING, d, t7);
	/* An acknowledgement of its T1 alert. */
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, t1, "responding", rec), 0);
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].count, 5);
	assert_true(ar_lists(&l->a[0], d));
	free(l);

	assert_int_equal(tj_retract_run(n, d, 64, "consent_withdrawn", target, rid), 0);
	assert_int_equal(ar_listing(n, d), 0);
	assert_int_equal(ar_index_entries(n, d), 0);
	assert_false(ar_alerts_key(n, 'C', d));
	assert_false(ar_alerts_key(n, 'R', d)); /* the copy went with the pass */
	assert_false(ar_alert_named(n, t1));    /* nor event nor acknowledgement names it */
	assert_false(ar_alert_named(n, t7));
	assert_int_equal(ar_stats_incidents(n), 4);
	l = ar_alerts(n, 0, 0, NULL);
	for (size_t i = 0; i < l->n; i++)
		assert_true(l->a[i].trigger == TJ_T3_CLUSTER || l->a[i].trigger == TJ_T4_ESCALATION ||
		            l->a[i].trigger == TJ_T5_PATTERN);
	free(l);
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].count, 4);
	assert_int_equal(l->a[0].event_kind,
	                 TJ_EVENT_UPDATE); /* it anchored the cluster: continued, not news */
	free(l);
	/* Responding to the removed alert: it is not here. The hook's cursor walks over its holes. */
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_RESOLVE, t1, "false_alarm", rec), TJ_ENOTFOUND);
	{
		/* A peer's resolution of it, arriving now: stored, harmless, not noted (nothing names t1
		 * again). */
		uint8_t body[96];
		size_t blen = 0;
		assert_int_equal(tj_alert_ack_body_encode(t1, "false_alarm", body, sizeof(body), &blen), 0);
		assert_int_equal(tj_node_append(n, TJ_KIND_ALERT_RESOLVE, body, blen, rec, NULL), 0);
		assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])rec, 1), 0);
		assert_false(ar_alert_named(n, t1));
		assert_false(ar_alerts_key(n, 'P', rec));
	}
	assert_int_equal(tj_alert_event(n, 1, ev), 0);
	free(ar_alerts(n, 0, 0, &last));
	for (uint64_t s = 1; s <= last; s++) {
		assert_int_equal(tj_alert_event(n, s, ev), 0);
		if (ev->withdrawn)
			assert_false(tj_alert_subscribed(NULL, 0, ev));
	}
	assert_int_equal(tj_alert_event(n, last + 1, ev), TJ_ENOTFOUND);

	/* Below the threshold: the cluster's alert is withdrawn. */
	assert_int_equal(tj_retract_run(n, a[1], 64, "error", target, rid), 0);
	assert_int_equal(tj_retract_run(n, a[2], 64, "error", target, rid), 0);
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 0);
	free(l);
	assert_int_equal(ar_listing(n, a[1]), 0);
	assert_int_equal(ar_stats_incidents(n), 2);
	free(ev);
	ta_node_close(n, dir);
}

/* ---- several nodes of one network: records in any order ---------------- */

#define AR_INCS 9
#define AR_RETRACTED 3

static const struct ta_inc ar_set[AR_INCS] = {
    {.date = "2026-03-01", .mun = "20067", .ref = "a", .act = "harassment"},
    {.date = "2026-03-05", .mun = "20067", .ref = "b", .act = "threat"},
    {.date = "2026-03-09", .mun = "20067", .ref = "a", .act = "death_threat"},
    {.date = "2026-03-12", .mun = "20067", .ref = "c", .act = "harassment"},
    {.date = "2026-03-20", .mun = "20067", .ref = "d", .act = "disappearance"},
    {.date = "2026-03-22", .mun = "20067", .ref = "e", .act = "harassment"},
    {.date = "2026-04-02", .mun = "20001", .ref = "a", .act = "raid", .prot = "state_mechanism"},
    {.date = "2026-04-02", .mun = "20001", .ref = "f", .act = "raid", .res_state = "12"},
    {.date = "2026-03-25", .mun = "20067", .ref = "g", .act = "harassment"},
};
static const size_t ar_retracted[AR_RETRACTED] = {2, 4, 0}; /* a cluster's anchor, a T7, a T4 victim */

struct ar_recs {
	size_t n;
	uint8_t *enc[AR_INCS + AR_RETRACTED];
	size_t len[AR_INCS + AR_RETRACTED];
	uint8_t id[AR_INCS + AR_RETRACTED][32];
};

static size_t ar_body(const struct ta_inc *x, uint8_t *body, size_t cap)
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	char json[4096];
	size_t len = 0;

	ta_json(x, json, sizeof(json));
	assert_int_equal(tj_incident_from_json(json, strlen(json), TJ_LANG_EN, tj_now_ms(), &s, &c, &verr),
	                 0);
	assert_int_equal(tj_incident_summary_encode(s, body, cap, &len), 0);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return len;
}

/* The incidents (0..AR_INCS-1) and retractions (AR_INCS..), sealed by another member. */
static void ar_seal_all(struct tr_fx *f, struct ar_recs *r)
{
	uint8_t body[4096];
	size_t len;

	for (size_t i = 0; i < AR_INCS; i++) {
		assert_non_null(r->enc[i] = malloc(TT_REC_CAP));
		len = ar_body(&ar_set[i], body, sizeof(body));
		r->len[i] =
		    tr_seal(f, f->other, TJ_KIND_INCIDENT, body, len, NULL, NULL, 0, r->enc[i], r->id[i]);
	}
	for (size_t j = 0; j < AR_RETRACTED; j++) {
		size_t k = AR_INCS + j;
		assert_non_null(r->enc[k] = malloc(TT_REC_CAP));
		assert_int_equal(
		    tj_retract_body_encode(r->id[ar_retracted[j]], "error", body, sizeof(body), &len), 0);
		r->len[k] =
		    tr_seal(f, f->other, TJ_KIND_RETRACTION, body, len, NULL, NULL, 0, r->enc[k], r->id[k]);
	}
	r->n = AR_INCS + AR_RETRACTED;
}

/* Ingests recs[order[0..n)] in batches of batch records, each followed by the alert pass (as sync does). */
static void ar_ingest(struct tj_node *node, const struct ar_recs *r, const size_t *order, size_t n,
                      size_t batch)
{
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item it[AR_INCS + AR_RETRACTED];
	uint8_t ids[AR_INCS + AR_RETRACTED][32];

	memcpy(ctx.network_id, node->network_id, 32);
	for (size_t b = 0; b < n; b += batch) {
		size_t m = n - b < batch ? n - b : batch, k = 0;
		memset(it, 0, sizeof(it));
		for (size_t i = 0; i < m; i++) {
			it[i].enc = r->enc[order[b + i]];
			it[i].len = r->len[order[b + i]];
		}
		assert_int_equal(tj_ingest_batch(node->store, &ctx, it, m), 0);
		for (size_t i = 0; i < m; i++) {
			assert_true(it[i].result == 0 || it[i].result == TJ_ERETRACTED);
			if (it[i].result == 0)
				memcpy(ids[k++], it[i].id, 32);
		}
		if (k > 0)
			assert_int_equal(tj_alert_after_store(node, (const uint8_t(*)[32])ids, k), 0);
	}
}

static int ar__cmp_alert(const void *a, const void *b)
{
	return memcmp(((const struct tj_alert *)a)->id, ((const struct tj_alert *)b)->id, 32);
}

/* Same alerts: ids, incident lists, counts, latest days, codes. */
static void ar_assert_same(struct ar_list *x, struct ar_list *y)
{
	assert_int_equal(x->n, y->n);
	qsort(x->a, x->n, sizeof(x->a[0]), ar__cmp_alert);
	qsort(y->a, y->n, sizeof(y->a[0]), ar__cmp_alert);
	for (size_t i = 0; i < x->n; i++) {
		const struct tj_alert *p = &x->a[i], *q = &y->a[i];
		assert_memory_equal(p->id, q->id, 32);
		assert_int_equal(p->trigger, q->trigger);
		assert_int_equal(p->n_incidents, q->n_incidents);
		assert_memory_equal(p->incidents, q->incidents, 32 * p->n_incidents);
		assert_int_equal(p->count, q->count);
		assert_int_equal(p->last_day, q->last_day);
		assert_int_equal(p->severity, q->severity);
		assert_int_equal(p->protection, q->protection);
		assert_memory_equal(&p->states, &q->states, sizeof(p->states));
		assert_memory_equal(&p->acts, &q->acts, sizeof(p->acts));
		assert_memory_equal(&p->genders, &q->genders, sizeof(p->genders));
	}
}

/* A copy of the (closed) node directory src, opened. */
static struct tj_node *ar_copy_open(const char *src, char dst[64])
{
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	char cmd[256], path[128];

	tt_tmpdir(dst);
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/", src, dst);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/key", dst);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	assert_int_equal(tj_node_open(dst, 64u << 20, u, &n), 0);
	return n;
}

static struct tj_node *ar_reopen(const char *dir)
{
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	assert_int_equal(tj_node_open(dir, 64u << 20, u, &n), 0);
	return n;
}

static void ar_shuffle(size_t *v, size_t n, uint32_t *x)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j;
		*x = *x * 1664525u + 1013904223u;
		j = (*x >> 8) % (i + 1);
		size_t tmp = v[i];
		v[i] = v[j];
		v[j] = tmp;
	}
}

/*
 * The same incidents and retractions in any order (incidents first,
 * retractions first, shuffled, one batch) give the alerts of the surviving
 * incidents alone, on every node.
 */
static void test_any_order(void **state)
{
	struct tr_fx *f = *state;
	struct ar_recs *r = calloc(1, sizeof(*r));
	struct ar_list *truth, *got;
	size_t order[AR_INCS + AR_RETRACTED], n_all = AR_INCS + AR_RETRACTED, k = 0;
	uint32_t seed = 7;
	struct tj_node *node;
	char dir[64];

	assert_non_null(r);
	ar_seal_all(f, r);
	tj_node_close(f->node);
	f->node = NULL;

	/* The truth: the surviving incidents alone. */
	for (size_t i = 0; i < AR_INCS; i++)
		if (i != ar_retracted[0] && i != ar_retracted[1] && i != ar_retracted[2])
			order[k++] = i;
	node = ar_copy_open(f->dir, dir);
	ar_ingest(node, r, order, k, 1);
	truth = ar_alerts(node, 0, 0, NULL);
	assert_true(truth->n >= 6); /* T1 (two), T2, T3, T5, T6 */
	tj_node_close(node);
	tt_rmdir(dir);

	for (int o = 0; o < 6; o++) {
		for (size_t i = 0; i < n_all; i++)
			order[i] = o == 1 ? n_all - 1 - i : i; /* 0: incidents first; 1: retractions first */
		if (o >= 2)
			ar_shuffle(order, n_all, &seed);
		node = ar_copy_open(f->dir, dir);
		ar_ingest(node, r, order, n_all, o == 5 ? n_all : o == 4 ? 3 : 1);
		got = ar_alerts(node, 0, 0, NULL);
		ar_assert_same(truth, got);
		for (size_t j = 0; j < AR_RETRACTED; j++) {
			assert_int_equal(ar_index_entries(node, r->id[ar_retracted[j]]), 0);
			assert_false(ar_alerts_key(node, 'C', r->id[ar_retracted[j]]));
		}
		free(got);
		tj_node_close(node);
		tt_rmdir(dir);
	}
	free(truth);
	for (size_t i = 0; i < r->n; i++)
		free(r->enc[i]);
	free(r);
	f->node = ar_reopen(f->dir);
}

/*
 * A crash after the retraction's commit, before the alert pass: the copy
 * waits under 'R', and the next start removes what the incident left.
 */
static void test_crash_after_retraction(void **state)
{
	struct tr_fx *f = *state;
	struct ar_recs *r = calloc(1, sizeof(*r));
	size_t order[AR_INCS], done = 0;
	uint8_t x[32];

	assert_non_null(r);
	ar_seal_all(f, r);
	for (size_t i = 0; i < AR_INCS; i++)
		order[i] = i;
	ar_ingest(f->node, r, order, AR_INCS, AR_INCS);
	memcpy(x, r->id[ar_retracted[0]], 32);
	assert_true(ar_listing(f->node, x) > 0);
	tj_alert_test_skip_after_store = true;
	order[0] = AR_INCS; /* its retraction */
	ar_ingest(f->node, r, order, 1, 1);
	tj_alert_test_skip_after_store = false;
	assert_true(ar_alerts_key(f->node, 'R', x)); /* the "crash": applied, not yet removed */
	tj_node_close(f->node);

	f->node = ar_reopen(f->dir);
	assert_int_equal(tj_alert_pending_run(f->node, &done), 0);
	assert_false(ar_alerts_key(f->node, 'R', x));
	assert_int_equal(ar_listing(f->node, x), 0);
	assert_int_equal(ar_index_entries(f->node, x), 0);
	for (size_t i = 0; i < r->n; i++)
		free(r->enc[i]);
	free(r);
}

/*
 * A store of the older format whose incident was retracted before removal
 * existed (no copy kept): opening it removes the leftovers.
 */
static void test_old_store_leftovers(void **state)
{
	struct tr_fx *f = *state;
	struct ar_recs *r = calloc(1, sizeof(*r));
	size_t order[AR_INCS], done = 0;
	uint8_t x[32], key[33] = {'R'};
	MDB_val k = {sizeof(key), key};
	struct tj_txn t;
	MDB_dbi dbi;

	assert_non_null(r);
	ar_seal_all(f, r);
	for (size_t i = 0; i < AR_INCS; i++)
		order[i] = i;
	ar_ingest(f->node, r, order, AR_INCS, AR_INCS);
	memcpy(x, r->id[ar_retracted[1]], 32);
	tj_alert_test_skip_after_store = true;
	order[0] = AR_INCS + 1;
	ar_ingest(f->node, r, order, 1, 1);
	tj_alert_test_skip_after_store = false;
	/* What an older node left: no copy, format 2. */
	memcpy(key + 1, x, 32);
	assert_int_equal(tj_txn_begin(f->node->store, true, &t), 0);
	assert_int_equal(tj_store_ext_dbi(f->node->store, TJ_ALERT_DBI_NAME, &dbi), 0);
	assert_int_equal(mdb_del(t.txn, dbi, &k, NULL), 0);
	key[0] = 'V';
	k.mv_size = 1;
	{
		uint8_t two[8] = {0, 0, 0, 0, 0, 0, 0, 2};
		MDB_val v = {8, two};
		assert_int_equal(mdb_put(t.txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(tj_txn_commit(&t), 0);
	assert_true(ar_listing(f->node, x) > 0);
	assert_true(ar_index_entries(f->node, x) > 0);

	assert_int_equal(tj_alert_pending_run(f->node, &done), 0);
	assert_int_equal(done, AR_INCS - 1);
	assert_int_equal(ar_listing(f->node, x), 0);
	assert_int_equal(ar_index_entries(f->node, x), 0);
	assert_false(ar_alerts_key(f->node, 'C', x));
	for (size_t i = 0; i < r->n; i++)
		free(r->enc[i]);
	free(r);
}

/*
 * A store of format 2 held one T3 alert per anchor of a growing cluster:
 * opening it keeps the first anchor's (same id, its acknowledgement too) and
 * withdraws the others; the hook's cursor walks over their events.
 */
static void test_old_store_per_anchor(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t a[4][32], first[32], later[32], rec[32];
	struct tj_alert *x = malloc(sizeof(*x)), *ev = malloc(sizeof(*ev));
	uint8_t two[8] = {0, 0, 0, 0, 0, 0, 0, 2}, vkey = 'V';
	MDB_val k = {1, &vkey}, v = {8, two};
	struct ar_list *l;
	struct tj_txn t;
	MDB_dbi dbi;
	uint64_t last = 0;
	size_t done = 0;

	(void)state;
	assert_non_null(x);
	assert_non_null(ev);
	for (int i = 0; i < 4; i++) {
		char date[16];
		struct ta_inc y;
		snprintf(date, sizeof(date), "2026-07-%02d", 1 + 2 * i);
		y = ar_inc(date, i == 0 ? "a" : i == 1 ? "b" : i == 2 ? "c" : "d");
		ta_add(n, &y, a[i]);
	}
	ar_id(TJ_T3_CLUSTER, a[2], first);
	ar_id(TJ_T3_CLUSTER, a[3], later);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, first, "responding", rec), 0);
	/* What format 2 wrote: a second alert anchored at a[3], raised (an event), and no format 3. */
	assert_int_equal(tj_txn_begin(n->store, true, &t), 0);
	assert_int_equal(tj__alert_load(n, &t, first, x), 0);
	memcpy(x->id, later, 32);
	assert_int_equal(tj__alert_event_append(&t, later, TJ_EVENT_RAISE, &x->last_event), 0);
	assert_int_equal(tj__alert_put(n, &t, x), 0);
	assert_int_equal(tj_store_ext_dbi(n->store, TJ_ALERT_DBI_NAME, &dbi), 0);
	assert_int_equal(mdb_put(t.txn, dbi, &k, &v, 0), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, NULL);
	assert_int_equal(l->n, 2);
	free(l);

	assert_int_equal(tj_alert_pending_run(n, &done), 0);
	assert_int_equal(done, 4);
	l = ar_alerts(n, TJ_T3_CLUSTER, 0, &last);
	assert_int_equal(l->n, 1);
	assert_memory_equal(l->a[0].id, first, 32);
	assert_int_equal(l->a[0].count, 4);
	assert_int_equal(l->a[0].n_acks, 1);
	free(l);
	for (uint64_t s = 1; s <= last; s++)
		assert_int_equal(tj_alert_event(n, s, ev), 0);
	free(x);
	free(ev);
	ta_node_close(n, dir);
}

static bool ar__stewards_agree(struct tj_txn *t, const uint8_t retraction_id[32],
                               const struct tj_record *retraction, const uint8_t target_author[32])
{
	(void)t;
	(void)retraction_id;
	(void)retraction;
	(void)target_author;
	return true;
}

/* The stewards' retraction of another member's incident takes the same path: its alerts go. */
static void test_stewards_retraction(void **state)
{
	struct tr_fx *f = *state;
	struct ar_recs *r = calloc(1, sizeof(*r));
	uint8_t rrec[TT_REC_CAP], body[TJ_RETRACT_BODY_MAX_BYTES], rid[32], x[32];
	size_t order[AR_INCS], blen = 0, rlen;

	assert_non_null(r);
	ar_seal_all(f, r);
	for (size_t i = 0; i < AR_INCS; i++)
		order[i] = i;
	ar_ingest(f->node, r, order, AR_INCS, AR_INCS);
	memcpy(x, r->id[ar_retracted[1]], 32); /* the disappearance: T1, T7, in the clusters */
	assert_true(ar_listing(f->node, x) >= 3);
	assert_int_equal(tj_retract_body_encode(x, "safety", body, sizeof(body), &blen), 0);
	rlen = tr_seal(f, f->third, TJ_KIND_RETRACTION, body, blen, NULL, NULL, 0, rrec, rid);
	tj_retract_set_steward_rule(ar__stewards_agree);
	assert_int_equal(tr_ingest(f, rrec, rlen), 0);
	tj_retract_set_steward_rule(NULL);
	assert_true(tr_tombstoned(f, x));
	assert_int_equal(tj_alert_after_store(f->node, (const uint8_t(*)[32])rid, 1), 0);
	assert_int_equal(ar_listing(f->node, x), 0);
	assert_int_equal(ar_index_entries(f->node, x), 0);
	for (size_t i = 0; i < r->n; i++)
		free(r->enc[i]);
	free(r);
}

/* A retracted acknowledgement leaves its alert; one naming a removed alert changes nothing. */
static void test_ack_retracted(void **state)
{
	char dir[64];
	struct tj_node *n = ta_node_open(dir);
	uint8_t d[32], t1[32], rec[32], target[32], rid[32];
	struct ar_list *l;

	(void)state;
	ta_add(n, &(struct ta_inc){.date = "2026-06-01", .mun = "20067", .ref = "a", .act = "killing"}, d);
	ar_id(TJ_T1_FLASH, d, t1);
	assert_int_equal(tj_alert_respond(n, TJ_KIND_ALERT_ACK, t1, "verifying", rec), 0);
	l = ar_alerts(n, TJ_T1_FLASH, 0, NULL);
	assert_int_equal(l->a[0].n_acks, 1);
	free(l);
	assert_int_equal(tj_retract_run(n, rec, 64, "error", target, rid), TJ_EUNSUPPORTED);
	/* The CLI cannot retract acks; one that arrives retracted from a peer is the ingest path: */
	{
		struct tj_txn t;
		const uint8_t *enc;
		size_t len;
		assert_int_equal(tj_txn_begin(n->store, true, &t), 0);
		assert_int_equal(tj_store_get(&t, rec, &enc, &len), 0);
		assert_int_equal(tj_alert_retracted_mark(&t, rec, enc, len), 0);
		assert_int_equal(tj_store_tombstone(&t, rec, n->u->id->pk, tj_now_ms(), "error"), 0);
		assert_int_equal(tj_txn_commit(&t), 0);
		assert_int_equal(tj_alert_after_store(n, (const uint8_t(*)[32])rec, 1), 0);
	}
	l = ar_alerts(n, TJ_T1_FLASH, 0, NULL);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->a[0].n_acks, 0);
	assert_int_equal(l->a[0].status, TJ_ALERT_OPEN);
	free(l);
	ta_node_close(n, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cluster_grows),
	    cmocka_unit_test(test_cluster_periods),
	    cmocka_unit_test(test_local_retraction),
	    cmocka_unit_test(test_ack_retracted),
	    cmocka_unit_test(test_old_store_per_anchor),
	    cmocka_unit_test_setup_teardown(test_any_order, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_after_retraction, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_old_store_leftovers, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_stewards_retraction, tr_setup, tr_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
