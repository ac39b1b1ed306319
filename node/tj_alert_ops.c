/*
 * Alert operations: processing stored records, listing, responding
 * (ack/resolve records), subscriptions and the T7 re-raise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_query.h"
#include "tj_seal.h"

#include <cJSON.h>

#define TJ__ACK_BODY_MAX 96u

int tj_alert_ack_body_encode(const uint8_t alert_id[32], const char *code, uint8_t *buf, size_t cap,
                             size_t *len)
{
	struct tj_mp_writer w;

	if (strlen(code) >= TJ_CODE_MAX)
		return TJ_ELIMIT;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, alert_id, 32);
	tj_mp_put_cstr(&w, code);
	return tj_mp_writer_finish(&w, len);
}

int tj_alert_ack_body_decode(const uint8_t *buf, size_t len, uint8_t alert_id[32], char code[TJ_CODE_MAX])
{
	static const struct tj_mp_limits lim = {
	    .max_depth = 2, .max_items = 4, .max_str = 64, .canonical = true};
	struct tj_mp_reader r;
	const char *p;
	uint32_t n, slen;
	size_t used = 0;
	int rc;

	if ((rc = tj_mp_check(buf, len, &lim, true, &used)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 2 || tj_mp_read_bin_exact(&r, alert_id, 32) != 0 ||
	    tj_mp_read_str(&r, &p, &slen) != 0 || slen == 0 || slen >= TJ_CODE_MAX ||
	    memchr(p, '\0', slen) != NULL)
		return TJ_EMALFORMED;
	memcpy(code, p, slen);
	code[slen] = '\0';
	return 0;
}

/* An ALERT_ACK / ALERT_RESOLVE record: noted against its alert, known or not yet. */
static int tj__process_ack(struct tj_node *n, struct tj_txn *t, const uint8_t *enc,
                           const struct tj_record *rec, const uint8_t id[32])
{
	uint8_t plain[TJ__ACK_BODY_MAX], alert_id[32];
	struct tj_alert_ack ack;
	bool purged = false;
	size_t plen = 0;
	int rc;

	if (rec->ciphertext_len > sizeof(plain) + 16)
		return 0; /* not a body of ours: nothing to note */
	rc = tj_record_open(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, plain, sizeof(plain), &plen);
	if (rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		return 0;
	if (rc != 0)
		return rc;
	memset(&ack, 0, sizeof(ack));
	rc = tj_alert_ack_body_decode(plain, plen, alert_id, ack.code);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0 || !(rec->kind == TJ_KIND_ALERT_ACK ? tj_alert_note_valid(ack.code)
	                                                : tj_alert_outcome_valid(ack.code))) {
		char h[TJ_LOG_HEX_CHARS];
		TJ_LOG_W("alert", "record %s is not a valid acknowledgement; ignored", tj_log_hex(id, h));
		return 0;
	}
	ack.kind = rec->kind;
	memcpy(ack.author, rec->author, 32);
	ack.ts_ms = rec->ts_ms;
	/* An alert removed with a retracted incident: the record stays, harmless, and is not noted. */
	if ((rc = tj__alert_purged(n, t, alert_id, &purged)) != 0 || purged)
		return rc;
	return tj__ack_put(n, t, alert_id, id, &ack);
}

/* Removes the pending mark of id (tj_store_put_record wrote it); absent is fine. */
static int tj__pending_del(struct tj_txn *t, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key};
	MDB_dbi dbi;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	key[0] = TJ_STORE_PENDING_PREFIX;
	memcpy(key + 1, id, 32);
	rc = mdb_del(t->txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

int tj_alert_process_txn(struct tj_node *n, struct tj_txn *t, const uint8_t id[32])
{
	struct tj_incident_summary *s;
	struct tj_record rec;
	const uint8_t *enc;
	uint8_t author[32];
	size_t len;
	int rc;

	if ((rc = tj__pending_del(t, id)) != 0)
		return rc;
	if ((rc = tj_store_get(t, id, &enc, &len)) != 0)
		return rc == TJ_ENOTFOUND ? 0 : rc;
	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	if (rec.kind == TJ_KIND_ALERT_ACK || rec.kind == TJ_KIND_ALERT_RESOLVE)
		return tj__process_ack(n, t, enc, &rec, id);
	if (rec.kind != TJ_KIND_INCIDENT)
		return 0;
	if ((s = tj_incident_summary_new()) == NULL)
		return -ENOMEM;
	rc = tj_query_open(n, t, id, s, author, NULL);
	if (rc == 0 && (rc = tj__alert_clean_check(t)) == 0 && (rc = tj_query_index_put(n, t, s, id)) == 0)
		rc = tj_alert_evaluate(n, t, s, author, id);
	else if (rc == TJ_ENOTFOUND || rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		rc = 0; /* not readable here: relayed, not evaluated */
	sodium_memzero(s, sizeof(*s));
	tj_incident_summary_free(s);
	return rc;
}

bool tj_alert_test_skip_after_store;

int tj_alert_after_store(struct tj_node *n, const uint8_t (*ids)[32], size_t n_ids)
{
	struct tj_txn t;
	int rc;

	if (n_ids == 0 || tj_alert_test_skip_after_store)
		return 0;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	/* Retractions this batch applied first, so no window below counts what they removed. */
	rc = tj_alert_retracted_run(n, &t);
	for (size_t i = 0; i < n_ids && rc == 0; i++)
		rc = tj_alert_process_txn(n, &t, ids[i]);
	if (rc == 0 && (rc = tj__alert_events_purge(&t)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	tj__alert_events_forget();
	if (rc != 0)
		TJ_LOG_E("alert", "could not evaluate %zu stored records: %s", n_ids, tj_strerror(rc));
	return rc;
}

/* Up to cap pending ids (in id order) into ids (NULL: only counted); *n = how many. */
static int tj__pending_ids(struct tj_txn *t, uint8_t (*ids)[32], size_t cap, size_t *n)
{
	uint8_t prefix = TJ_STORE_PENDING_PREFIX;
	MDB_val k = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	*n = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (; rc == 0 && *n < cap; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 33 || ((const uint8_t *)k.mv_data)[0] != TJ_STORE_PENDING_PREFIX)
			break;
		if (ids != NULL)
			memcpy(ids[*n], (const uint8_t *)k.mv_data + 1, 32);
		(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

#define TJ__ALERT_FORMAT 3

/* Marks every stored incident pending in t (a store of an older format). */
static int tj__mark_all(struct tj_txn *t)
{
	uint8_t id[32], key[33];
	MDB_val k = {sizeof(key), key}, v = {0, (void *)""};
	struct tj_store_iter it;
	struct tj_record rec;
	const uint8_t *enc;
	uint64_t ts;
	size_t len;
	MDB_dbi dbi;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0 || (rc = tj_store_iter_open(t, false, NULL, &it)) != 0)
		return rc;
	key[0] = TJ_STORE_PENDING_PREFIX;
	while ((rc = tj_store_iter_next(&it, &ts, id)) == 0) {
		if (tj_store_get(t, id, &enc, &len) != 0 || tj_record_decode(enc, len, &rec) != 0 ||
		    rec.kind != TJ_KIND_INCIDENT)
			continue;
		memcpy(key + 1, id, 32);
		if (mdb_put(t->txn, dbi, &k, &v, 0) != 0) {
			rc = TJ_ESTORE;
			break;
		}
	}
	tj_store_iter_close(&it);
	return rc == TJ_ENOTFOUND ? 0 : rc;
}

/*
 * A store whose alerts predate format 2 has no codes ('C') nor T5 entries
 * with victims; one before format 3 has an alert per anchor of a growing
 * cluster, no counts, and whatever incidents retracted before left in the
 * index and the alerts. Its incidents are evaluated once more (clusters
 * gather under their first anchor; an alert that gains nothing is not
 * rewritten), after the entries and the alerts of retracted incidents are
 * removed.
 */
static int tj__format_upgrade(struct tj_node *n)
{
	struct tj_txn t;
	uint64_t format = 0;
	size_t removed = 0;
	int rc;

	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	if ((rc = tj__alert_u64_get(&t, 'V', &format)) == 0 && format < TJ__ALERT_FORMAT) {
		if ((rc = tj__alert_clean_forget(&t)) == 0 &&
		    (rc = tj_query_index_purge_tombstoned(&t, &removed)) == 0 &&
		    (rc = tj__alert_purge_tombstoned(n, &t)) == 0 && (rc = tj__alert_events_purge(&t)) == 0 &&
		    (rc = tj__mark_all(&t)) == 0 && (rc = tj__alert_u64_put(&t, 'V', TJ__ALERT_FORMAT)) == 0)
			rc = tj_txn_commit(&t);
		if (rc == 0 && removed > 0)
			TJ_LOG_I("alert", "removed %zu index entries of incidents retracted before", removed);
	}
	tj_txn_abort(&t);
	tj__alert_events_forget();
	return rc;
}

int tj_alert_pending_prepare(struct tj_node *n)
{
	int rc = tj__format_upgrade(n);

	if (rc != 0)
		TJ_LOG_E("alert", "could not upgrade the alerts' index: %s", tj_strerror(rc));
	return rc;
}

static uint64_t tj__mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int tj_alert_pending_step(struct tj_node *n, size_t cap, uint32_t budget_us, size_t *n_done, bool *more)
{
	uint8_t(*ids)[32];
	uint64_t t0 = tj__mono_us();
	size_t k = 0, i = 0;
	struct tj_txn t;
	int rc;

	*n_done = 0;
	*more = false;
	if (cap == 0)
		cap = 1;
	if (cap > TJ_ALERT_PENDING_BATCH)
		cap = TJ_ALERT_PENDING_BATCH;
	/* One more than cap is read, so "more" is known without a second transaction. */
	if ((ids = malloc((cap + 1) * 32)) == NULL)
		return -ENOMEM;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0) {
		free(ids);
		return rc;
	}
	if ((rc = tj_alert_retracted_run(n, &t)) == 0)
		rc = tj__pending_ids(&t, ids, cap + 1, &k);
	/* At least one record per step, whatever the budget: the backlog always shrinks. */
	for (; i < k && i < cap && rc == 0; i++) {
		if (i > 0 && budget_us > 0 && tj__mono_us() - t0 >= budget_us)
			break;
		rc = tj_alert_process_txn(n, &t, ids[i]);
	}
	if (rc == 0 && (rc = tj__alert_events_purge(&t)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	tj__alert_events_forget();
	free(ids);
	if (rc != 0) {
		TJ_LOG_E("alert", "could not evaluate the pending records: %s", tj_strerror(rc));
		return rc;
	}
	*n_done = i;
	*more = i < k;
	return 0;
}

int tj_alert_pending_count(struct tj_node *n, uint64_t *count)
{
	struct tj_txn t;
	size_t k = 0;
	int rc;

	*count = 0;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	rc = tj__pending_ids(&t, NULL, SIZE_MAX, &k);
	tj_txn_abort(&t);
	*count = k;
	return rc;
}

int tj_alert_pending_run(struct tj_node *n, size_t *n_done)
{
	bool more = true;
	size_t k;
	int rc;

	*n_done = 0;
	if ((rc = tj_alert_pending_prepare(n)) != 0)
		return rc;
	while (more && (rc = tj_alert_pending_step(n, TJ_ALERT_PENDING_BATCH, 0, &k, &more)) == 0)
		*n_done += k;
	return rc;
}

/* ---- listing ----------------------------------------------------------------- */

struct tj__ev {
	uint64_t seq;
	uint8_t id[32];
};

/* Walks events from after_event (ascending) or from the newest (descending). */
static int tj__list_walk(struct tj_node *n, struct tj_txn *t, const struct tj_alert_filter *f, uint32_t limit,
                         tj_alert_cb cb, void *ctx, uint64_t *last_event, struct tj_alert *a)
{
	bool asc = f->after_event > 0;
	uint8_t key[9], seen_first = 0;
	MDB_val k = {sizeof(key), key}, v;
	MDB_cursor *cur = NULL;
	uint32_t emitted = 0;
	MDB_dbi dbi;
	int rc;

	key[0] = 'E';
	tj_store_be64(asc ? f->after_event + 1 : UINT64_MAX, key + 1);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (!asc)
		rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	for (; rc == 0 && emitted < limit; rc = mdb_cursor_get(cur, &k, &v, asc ? MDB_NEXT : MDB_PREV)) {
		uint8_t id[32], kind = 0;
		uint64_t seq;
		if (k.mv_size != 9 || ((const uint8_t *)k.mv_data)[0] != 'E')
			break;
		tj__alert_event_value(&v, id, &kind);
		if (kind == 0)
			break;
		seq = tj_store_rd64((const uint8_t *)k.mv_data + 1);
		if (asc || !seen_first)
			*last_event = seq > *last_event ? seq : *last_event;
		seen_first = 1;
		if ((rc = tj_alert_get(n, t, id, a)) == TJ_ENOTFOUND) {
			rc = 0;
			continue; /* withdrawn */
		}
		if (rc != 0)
			break;
		if (seq != a->last_event)
			continue; /* listed at its latest event (T7 re-raises, updates) */
		a->event_kind = kind;
		if (!tj_alert_matches(f, a))
			continue;
		emitted++;
		if (cb(ctx, a, seq) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : (rc < 0 ? rc : TJ_ESTORE);
}

int tj_alert_list(struct tj_node *n, const struct tj_alert_filter *f, uint32_t limit, tj_alert_cb cb,
                  void *ctx, uint64_t *last_event)
{
	struct tj_alert *a = malloc(sizeof(*a));
	struct tj_txn t;
	int rc;

	*last_event = f->after_event;
	if (a == NULL)
		return -ENOMEM;
	if ((rc = tj_txn_begin(n->store, false, &t)) == 0) {
		rc = tj__list_walk(n, &t, f, limit, cb, ctx, last_event, a);
		tj_txn_abort(&t);
	}
	free(a);
	return rc;
}

/* ---- responding ----------------------------------------------------------------- */

int tj_alert_respond(struct tj_node *n, uint8_t kind, const uint8_t alert_id[32], const char *code,
                     uint8_t record_id[32])
{
	struct tj_alert *a = malloc(sizeof(*a));
	uint8_t body[TJ__ACK_BODY_MAX];
	struct tj_txn t;
	size_t len = 0;
	uint64_t ts = 0;
	int rc;

	if (a == NULL)
		return -ENOMEM;
	if (kind != TJ_KIND_ALERT_ACK && kind != TJ_KIND_ALERT_RESOLVE) {
		rc = -EINVAL;
		goto out;
	}
	if (!(kind == TJ_KIND_ALERT_ACK ? tj_alert_note_valid(code) : tj_alert_outcome_valid(code))) {
		rc = TJ_ESCHEMA;
		goto out;
	}
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	rc = tj__alert_load(n, &t, alert_id, a);
	tj_txn_abort(&t);
	if (rc != 0 || (rc = tj_alert_ack_body_encode(alert_id, code, body, sizeof(body), &len)) != 0)
		goto out;
	if ((rc = tj_node_append(n, kind, body, len, record_id, &ts)) != 0)
		goto out;
	rc = tj_alert_after_store(n, (const uint8_t(*)[32])record_id, 1);
out:
	free(a);
	return rc;
}

/* ---- subscriptions ------------------------------------------------------------------ */

/* [states[], min_severity, triggers] */
int tj_alert_subscribe(struct tj_node *n, const struct tj_subscription *s)
{
	uint8_t key[33], buf[TJ_ALERT_CODES_MAX * 8 + 32];
	struct tj_mp_writer w;
	struct tj_txn t;
	size_t len = 0;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 3);
	tj_mp_put_array(&w, s->states.n);
	for (uint32_t i = 0; i < s->states.n; i++)
		tj_mp_put_cstr(&w, s->states.v[i]);
	tj_mp_put_uint(&w, s->min_severity);
	tj_mp_put_uint(&w, s->triggers);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0)
		return rc;
	key[0] = 'U';
	memcpy(key + 1, s->contact, 32);
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	if ((rc = tj__alert_put_sealed(n, &t, key, sizeof(key), buf, len)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	return rc;
}

static int tj__sub_decode(const uint8_t *buf, size_t len, struct tj_subscription *s)
{
	struct tj_mp_reader r;
	const char *p;
	uint64_t sev, trig;
	uint32_t n, slen;

	tj_mp_reader_init(&r, buf, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 3 || tj_mp_read_array(&r, &n) != 0 ||
	    n > TJ_ALERT_CODES_MAX)
		return TJ_ESTORE;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_str(&r, &p, &slen) != 0 || slen >= TJ_CODE_MAX)
			return TJ_ESTORE;
		memcpy(s->states.v[i], p, slen);
		s->states.v[i][slen] = '\0';
	}
	s->states.n = n;
	if (tj_mp_read_uint(&r, &sev) != 0 || sev > 5 || tj_mp_read_uint(&r, &trig) != 0 || trig > 0xff)
		return TJ_ESTORE;
	s->min_severity = (uint8_t)sev;
	s->triggers = (uint8_t)trig;
	return 0;
}

int tj_alert_subscriptions(struct tj_node *n, struct tj_subscription *subs, size_t cap, size_t *n_out)
{
	uint8_t key = 'U', plain[TJ_ALERT_CODES_MAX * 8 + 32];
	MDB_val k = {1, &key}, v;
	MDB_cursor *cur = NULL;
	struct tj_txn t;
	MDB_dbi dbi;
	int rc;

	*n_out = 0;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if ((rc = tj__alert_dbi(&t, &dbi)) != 0 || mdb_cursor_open(t.txn, dbi, &cur) != 0) {
		rc = rc != 0 ? rc : TJ_ESTORE;
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n_out < cap;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		size_t plen = 0;
		if (k.mv_size != 33 || ((const uint8_t *)k.mv_data)[0] != 'U')
			break;
		memset(&subs[*n_out], 0, sizeof(subs[0]));
		if (tj__alert_open_val(n, k.mv_data, k.mv_size, &v, plain, sizeof(plain), &plen) != 0 ||
		    tj__sub_decode(plain, plen, &subs[*n_out]) != 0)
			continue;
		memcpy(subs[*n_out].contact, (const uint8_t *)k.mv_data + 1, 32);
		(*n_out)++;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
out:
	mdb_cursor_close(cur);
	tj_txn_abort(&t);
	return rc;
}

/* ---- T7: ongoing ------------------------------------------------------------------------ */

/* Collects the ids of T7 alerts due again (raised before cutoff), at most cap. */
static int tj__reraise_due(struct tj_node *n, struct tj_txn *t, uint64_t cutoff_ms, uint8_t (*ids)[32],
                           size_t cap, size_t *n_due, struct tj_alert *a)
{
	uint8_t key = 'A';
	MDB_val k = {1, &key}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	*n_due = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && *n_due < cap;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 33 || ((const uint8_t *)k.mv_data)[0] != 'A')
			break;
		if (tj_alert_get(n, t, (const uint8_t *)k.mv_data + 1, a) != 0)
			continue;
		if (a->trigger == TJ_T7_ONGOING && a->status != TJ_ALERT_RESOLVED && a->raised_ms < cutoff_ms)
			memcpy(ids[(*n_due)++], a->id, 32);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

#define TJ__RERAISE_BATCH 256

int tj_alert_reraise(struct tj_node *n, uint64_t now_ms, size_t *n_raised)
{
	uint64_t period_ms = (uint64_t)tj_alert_config_current()->t7_reraise_s * 1000u;
	uint8_t(*ids)[32] = malloc(TJ__RERAISE_BATCH * 32);
	struct tj_alert *a = malloc(sizeof(*a));
	struct tj_txn t;
	size_t due = 0;
	int rc;

	*n_raised = 0;
	if (ids == NULL || a == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		goto out;
	rc = tj__reraise_due(n, &t, now_ms > period_ms ? now_ms - period_ms : 0, ids, TJ__RERAISE_BATCH, &due,
	                     a);
	for (size_t i = 0; i < due && rc == 0; i++) {
		if ((rc = tj__alert_load(n, &t, ids[i], a)) != 0)
			break;
		a->raised_ms = now_ms;
		a->raises++;
		if ((rc = tj__alert_event_append(&t, a->id, TJ_EVENT_RERAISE, &a->last_event)) == 0)
			rc = tj__alert_put(n, &t, a);
	}
	if (rc == 0 && (rc = tj_txn_commit(&t)) == 0)
		*n_raised = due;
	tj_txn_abort(&t);
out:
	free(ids);
	free(a);
	return rc;
}

/* ---- lookups for the control ops ----------------------------------------------------- */

static int tj__nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool tj__prefix_match(const uint8_t *id, const uint8_t *nib, size_t n_nib)
{
	for (size_t i = 0; i < n_nib; i++)
		if (((id[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xf) != nib[i])
			return false;
	return true;
}

int tj_alert_find(struct tj_node *n, const char *hex, uint8_t id[32])
{
	uint8_t nib[64], key[33] = {'A'};
	size_t len = strlen(hex), found = 0;
	MDB_val k = {sizeof(key), key}, v;
	MDB_cursor *cur = NULL;
	struct tj_txn t;
	MDB_dbi dbi;
	int rc;

	if (len < 8 || len > 64)
		return TJ_EMALFORMED;
	for (size_t i = 0; i < len; i++) {
		int x = tj__nibble(hex[i]);
		if (x < 0)
			return TJ_EMALFORMED;
		nib[i] = (uint8_t)x;
		key[1 + i / 2] |= (uint8_t)(i % 2 == 0 ? x << 4 : x);
	}
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if ((rc = tj__alert_dbi(&t, &dbi)) != 0 || mdb_cursor_open(t.txn, dbi, &cur) != 0) {
		rc = rc != 0 ? rc : TJ_ESTORE;
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && found < 2;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *kd = k.mv_data;
		if (k.mv_size != 33 || kd[0] != 'A' || !tj__prefix_match(kd + 1, nib, len))
			break;
		if (found++ == 0)
			memcpy(id, kd + 1, 32);
	}
	rc = rc != 0 && rc != MDB_NOTFOUND ? TJ_ESTORE
	     : found == 0                  ? TJ_ENOTFOUND
	     : found > 1                   ? TJ_EEXIST
	                                   : 0;
out:
	mdb_cursor_close(cur);
	tj_txn_abort(&t);
	return rc;
}

cJSON *tj_alert_subscriptions_json(struct tj_node *n)
{
	struct tj_subscription *subs = malloc(64 * sizeof(*subs));
	cJSON *arr = cJSON_CreateArray();
	size_t k = 0;

	if (subs == NULL || arr == NULL || tj_alert_subscriptions(n, subs, 64, &k) != 0) {
		free(subs);
		cJSON_Delete(arr);
		return NULL;
	}
	for (size_t i = 0; i < k; i++) {
		cJSON *o = cJSON_CreateObject(), *st, *tr;
		char hex[65];
		if (o == NULL)
			break;
		sodium_bin2hex(hex, sizeof(hex), subs[i].contact, 32);
		cJSON_AddStringToObject(o, "contact", hex);
		st = cJSON_AddArrayToObject(o, "states");
		for (uint32_t j = 0; j < subs[i].states.n; j++)
			cJSON_AddItemToArray(st, cJSON_CreateString(subs[i].states.v[j]));
		cJSON_AddNumberToObject(o, "min_severity", subs[i].min_severity);
		tr = cJSON_AddArrayToObject(o, "triggers");
		for (uint8_t t = 1; t <= 7; t++)
			if (subs[i].triggers & (1u << t))
				cJSON_AddItemToArray(tr, cJSON_CreateString(tj_trigger_name(t)));
		cJSON_AddItemToArray(arr, o);
	}
	free(subs);
	return arr;
}

/*
 * With no subscription stored, a node whose membership makes it a contact
 * for some states follows those states (every trigger, any severity).
 */
static void tj__member_default(struct tj_node *n, struct tj_subscription *subs, size_t cap, size_t *n_out)
{
	struct tj_member_state *ms = NULL;
	const struct tj_member *me;

	if (cap == 0 || tj_member_load(n->store, &ms) != 0)
		return;
	me = tj_member_find(ms, n->u->id->pk);
	if (me != NULL && me->role == TJ_ROLE_CONTACT && me->n_states > 0) {
		memset(&subs[0], 0, sizeof(subs[0]));
		memcpy(subs[0].contact, n->u->id->pk, 32);
		for (uint32_t i = 0; i < me->n_states; i++)
			tj_code_set_add(&subs[0].states, me->states[i]);
		subs[0].min_severity = 1;
		subs[0].triggers = TJ_TRIGGERS_ALL;
		*n_out = 1;
	}
	tj_member_state_free(ms);
}

int tj_alert_subscriptions_effective(struct tj_node *n, struct tj_subscription *subs, size_t cap,
                                     size_t *n_out)
{
	int rc = tj_alert_subscriptions(n, subs, cap, n_out);

	if (rc == 0 && *n_out == 0)
		tj__member_default(n, subs, cap, n_out);
	return rc;
}
