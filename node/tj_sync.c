/*
 * The peer application protocol (tj_wire.h) on top of the transport
 * (tj_peer.c): HELLO, reconciliation with Negentropy (the dialer
 * initiates), pipelined WANT/RECORDS, HAVE, ingest in the thread pool and
 * live gossip.
 *
 * The reconciliation snapshot (P->neg_st) is built once from the store's
 * by_ts and kept up to date by inserting each newly stored batch; while an
 * initiator session borrows it (its positions must not move) new items wait
 * in P->pending and go in when the last session ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_retract.h"
#include "tj_ingest.h"
#include "tj_rotate.h"
#include "tj_log.h"
#include "tj_peer_int.h"

#define TJ__LOG_REFUSED_MAX 3 /* refused records logged one by one per batch */

struct tj__job {
	uv_work_t req;
	struct tj_peers *P;
	uint64_t serial;        /* the connection it came from (it may be gone) */
	uint8_t pk[32];
	struct tj_ingest_ctx ctx;
	size_t n;
	uint8_t *buf;           /* the records' bytes, owned */
	struct tj_ingest_item items[];
};

/* ---- the snapshot ---------------------------------------------------------- */

int tj__sync_init(struct tj_peers *P)
{
	struct tj_neg_item *items = NULL, *grown;
	struct tj_store_iter it;
	struct tj_txn t;
	size_t n = 0, cap = 0;
	uint64_t ts_ms;
	int rc;

	if ((rc = tj_txn_begin(P->node->store, false, &t)) != 0)
		return rc;
	if ((rc = tj_store_iter_open(&t, false, NULL, &it)) != 0)
		goto out;
	for (;;) {
		if (n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			if ((grown = realloc(items, cap * sizeof(*items))) == NULL) {
				rc = -ENOMEM;
				break;
			}
			items = grown;
		}
		if ((rc = tj_store_iter_next(&it, &ts_ms, items[n].id)) != 0)
			break;
		items[n++].ts = tj_neg_ts_from_ms(ts_ms);
	}
	tj_store_iter_close(&it);
	if (rc == TJ_ENOTFOUND)
		rc = 0;
out:
	tj_txn_abort(&t);
	if (rc == 0)
		rc = tj_neg_storage_new(items, n, 0, &P->neg_st); /* by_ts orders by ms, the protocol by s */
	free(items);
	if (rc == 0)
		TJ_LOG_I("sync", "reconciliation snapshot: %zu records", n);
	P->watch_ms = tj_now_ms();
	return rc;
}

void tj__sync_free(struct tj_peers *P)
{
	tj_neg_storage_free(P->neg_st);
	P->neg_st = NULL;
	free(P->pending.items);
	memset(&P->pending, 0, sizeof(P->pending));
}

static void tj__flush_pending(struct tj_peers *P)
{
	int rc;

	if (P->n_sessions > 0 || P->pending.n == 0)
		return;
	rc = tj_neg_storage_insert(P->neg_st, P->pending.items, P->pending.n);
	if (rc != 0)
		TJ_LOG_E("sync", "snapshot insert failed: %s", tj_strerror(rc));
	P->pending.n = 0;
}

static void tj__snapshot_add(struct tj_peers *P, const struct tj_neg_item *items, size_t n)
{
	struct tj_neg_item *grown;
	size_t cap;

	if (n == 0)
		return;
	if (P->pending.n + n > P->pending.cap) {
		cap = P->pending.cap == 0 ? 1024 : P->pending.cap;
		while (cap < P->pending.n + n)
			cap *= 2;
		if ((grown = realloc(P->pending.items, cap * sizeof(*grown))) == NULL) {
			TJ_LOG_E("sync", "out of memory for the snapshot; the next restart rebuilds it");
			return;
		}
		P->pending.items = grown;
		P->pending.cap = cap;
	}
	memcpy(P->pending.items + P->pending.n, items, n * sizeof(*items));
	P->pending.n += n;
	tj__flush_pending(P);
}

/* ---- sending helpers ------------------------------------------------------- */

static int tj__send_built(struct tj__conn *c, struct tj_mp_writer *w)
{
	size_t len = 0;
	int rc = tj_mp_writer_finish(w, &len);

	if (rc != 0) {
		TJ_LOG_E("sync", "message did not fit its buffer: %s", tj_strerror(rc));
		return rc;
	}
	return tj__conn_send(c, w->buf, len);
}

static int tj__send_ids(struct tj__conn *c, uint8_t type, const uint8_t *ids, size_t n)
{
	size_t cap = 16 + n * 35;
	uint8_t *buf = malloc(cap);
	struct tj_mp_writer w;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf, cap);
	tj_wire_put_ids(&w, type, ids, n);
	rc = tj__send_built(c, &w);
	free(buf);
	return rc;
}

static int tj__send_neg(struct tj__conn *c, const struct tj_neg_msg *m)
{
	size_t cap = m->len + 16;
	uint8_t *buf = malloc(cap);
	struct tj_mp_writer w;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf, cap);
	tj_wire_put_neg(&w, m->bytes, m->len);
	rc = tj__send_built(c, &w);
	free(buf);
	return rc;
}

/*
 * Batches records into RECORDS / PUSH messages within the wire limits:
 * bins are written after a gap, the head (whose count is known last) fills it.
 */
#define TJ__RB_HEAD_BYTES 16
struct tj__rb {
	struct tj__conn *c;
	uint8_t type;
	uint8_t *buf;
	size_t cap;
	struct tj_mp_writer body;
	uint32_t count;
	size_t bytes;
};

/*
 * need: the wire cost (tj_wire_record_cost) of every record that will be
 * added. The buffer is no larger than that: an answer with nothing in it (a
 * liveness probe's) costs a few bytes, not a whole message's worth.
 */
static int tj__rb_init(struct tj__rb *rb, struct tj__conn *c, uint8_t type, size_t need)
{
	memset(rb, 0, sizeof(*rb));
	rb->c = c;
	rb->type = type;
	rb->cap = need < TJ_WIRE_MSG_MAX_BYTES - TJ__RB_HEAD_BYTES ? TJ__RB_HEAD_BYTES + need : TJ_WIRE_MSG_MAX_BYTES;
	rb->buf = malloc(rb->cap);
	if (rb->buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&rb->body, rb->buf + TJ__RB_HEAD_BYTES, rb->cap - TJ__RB_HEAD_BYTES);
	return 0;
}

static int tj__rb_flush(struct tj__rb *rb, bool last)
{
	uint8_t head[TJ__RB_HEAD_BYTES];
	struct tj_mp_writer hw;
	size_t hlen = 0, blen = 0;
	int rc;

	if (rb->count == 0 && rb->type == TJ_WIRE_PUSH)
		return 0;
	tj_mp_writer_init(&hw, head, sizeof(head));
	tj_wire_put_records_head(&hw, rb->type, last, rb->count);
	if ((rc = tj_mp_writer_finish(&hw, &hlen)) != 0 || (rc = tj_mp_writer_finish(&rb->body, &blen)) != 0)
		return rc;
	memcpy(rb->buf + TJ__RB_HEAD_BYTES - hlen, head, hlen);
	rc = tj__conn_send(rb->c, rb->buf + TJ__RB_HEAD_BYTES - hlen, hlen + blen);
	tj_mp_writer_init(&rb->body, rb->buf + TJ__RB_HEAD_BYTES, rb->cap - TJ__RB_HEAD_BYTES);
	rb->count = 0;
	rb->bytes = 0;
	return rc;
}

static int tj__rb_add(struct tj__rb *rb, const uint8_t *enc, size_t len)
{
	int rc;

	if (rb->count == TJ_WIRE_RECORDS_MAX || rb->bytes + len > TJ_WIRE_RECORDS_MAX_BYTES)
		if ((rc = tj__rb_flush(rb, false)) != 0)
			return rc;
	tj_mp_put_bin(&rb->body, enc, len);
	rb->count++;
	rb->bytes += len;
	return 0;
}

static void tj__rb_free(struct tj__rb *rb)
{
	free(rb->buf);
	rb->buf = NULL;
}

/* ---- sessions -------------------------------------------------------------- */

static void tj__session_end(struct tj__conn *c)
{
	struct tj_peers *P = c->P;

	if (c->neg == NULL)
		return;
	tj_neg_free(c->neg);
	c->neg = NULL;
	P->n_sessions--;
	tj__flush_pending(P);
}

static void tj__sync_start(struct tj__conn *c)
{
	struct tj_neg_opts o = {.frame_limit_bytes = TJ_PEER_NEG_FRAME_BYTES, .max_ids = 2 * TJ_PEER_WANT_QUEUE_MAX};
	struct tj_neg_msg m;
	int rc;

	if (c->neg != NULL || c->state != TJ__READY || c->closing || c->hangup)
		return;
	c->last_sync_start_ms = tj__mono_ms();
	if ((rc = tj_neg_new(c->P->neg_st, &o, &c->neg)) != 0) {
		TJ_LOG_E("sync", "cannot start a reconciliation: %s", tj_strerror(rc));
		return;
	}
	c->P->n_sessions++;
	c->neg_started_ms = c->last_sync_start_ms;
	if ((rc = tj_neg_initiate(c->neg, &m)) != 0 || (rc = tj__send_neg(c, &m)) != 0) {
		TJ_LOG_E("sync", "cannot start a reconciliation: %s", tj_strerror(rc));
		tj__session_end(c);
	}
}

static int tj__ids_append(uint8_t **buf, size_t *n, size_t *cap, const uint8_t *ids, size_t k)
{
	uint8_t *grown;
	size_t want;

	if (*n + k > TJ_PEER_WANT_QUEUE_MAX)
		k = TJ_PEER_WANT_QUEUE_MAX - *n; /* the rest comes with the next reconciliation */
	if (k == 0)
		return 0;
	if (*n + k > *cap) {
		want = *cap == 0 ? 256 : *cap;
		while (want < *n + k)
			want *= 2;
		if ((grown = realloc(*buf, want * 32)) == NULL)
			return -ENOMEM;
		*buf = grown;
		*cap = want;
	}
	memcpy(*buf + *n * 32, ids, k * 32);
	*n += k;
	return 0;
}

/* The reconciliation finished: fetch what we lack, announce what the peer lacks. */
static void tj__sync_done(struct tj__conn *c)
{
	struct tj__pstat *ps = tj__pstat_for(c->P, c->peer_pk);
	struct tj_neg_stats st;
	struct tj_neg_ids need, have;
	char hex[TJ_LOG_HEX_CHARS];

	tj_neg_need(c->neg, &need);
	tj_neg_have(c->neg, &have);
	tj_neg_get_stats(c->neg, &st);
	if (tj__ids_append(&c->want, &c->want_n, &c->want_cap, need.ids, need.count) != 0 ||
	    tj__ids_append(&c->have, &c->have_n, &c->have_cap, have.ids, have.count) != 0)
		TJ_LOG_E("sync", "out of memory for the fetch queue");
	if (ps != NULL) {
		ps->last_sync_ms = tj_now_ms();
		ps->they_lack = have.count;
		ps->we_lack = need.count;
	}
	TJ_LOG_I("sync", "reconciled with %s: we lack %zu, they lack %zu (%u round trips, %llu bytes out, %llu in)",
		 tj_log_hex(c->peer_pk, hex), need.count, have.count, st.msgs_sent,
		 (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received);
	tj__session_end(c);
	tj__sync_pump(c);
}

void tj__sync_pump(struct tj__conn *c)
{
	size_t k;

	while (!c->closing && !c->hangup && c->state == TJ__READY && c->wants_inflight < TJ_PEER_WANTS_INFLIGHT &&
	       c->want_next < c->want_n && c->queued < TJ_PEER_QUEUE_PAUSE_BYTES) {
		k = c->want_n - c->want_next;
		k = k < TJ_WIRE_WANT_MAX ? k : TJ_WIRE_WANT_MAX;
		if (tj__send_ids(c, TJ_WIRE_WANT, c->want + 32 * c->want_next, k) != 0)
			return;
		c->want_left[c->wants_inflight++] = (uint32_t)k;
		c->want_next += k;
	}
	if (c->want != NULL && c->want_next == c->want_n && c->wants_inflight == 0) {
		free(c->want);
		c->want = NULL;
		c->want_n = c->want_next = c->want_cap = 0;
	}
	while (!c->closing && !c->hangup && c->state == TJ__READY && c->have_next < c->have_n &&
	       c->queued < TJ_PEER_QUEUE_PAUSE_BYTES) {
		k = c->have_n - c->have_next;
		k = k < TJ_WIRE_HAVE_MAX ? k : TJ_WIRE_HAVE_MAX;
		if (tj__send_ids(c, TJ_WIRE_HAVE, c->have + 32 * c->have_next, k) != 0)
			return;
		c->have_next += k;
	}
	if (c->have != NULL && c->have_next == c->have_n) {
		free(c->have);
		c->have = NULL;
		c->have_n = c->have_next = c->have_cap = 0;
	}
}

/* ---- gossip ---------------------------------------------------------------- */

/* Pushes newly stored records to every ready peer but the source; a busy peer gets their ids (HAVE). */
static void tj__gossip(struct tj_peers *P, uint64_t except, const uint8_t *const *encs, const size_t *lens,
		       const uint8_t (*ids)[32], size_t n)
{
	struct tj__conn *c, *next;
	struct tj__rb rb;
	size_t need = 0;

	if (n == 0 || P->stopping)
		return;
	for (size_t i = 0; i < n; i++)
		need += tj_wire_record_cost(lens[i]);
	for (c = P->conns; c != NULL; c = next) {
		next = c->next;
		if (c->serial == except || c->state != TJ__READY || c->closing || c->hangup)
			continue;
		if (c->queued < TJ_PEER_QUEUE_PAUSE_BYTES &&
		    tj__bucket_take(&c->push_out, (double)n, TJ_PEER_PUSH_RATE / 2.0, TJ_PEER_PUSH_BURST / 2.0)) {
			if (tj__rb_init(&rb, c, TJ_WIRE_PUSH, need) != 0)
				continue;
			for (size_t i = 0; i < n && !c->closing; i++)
				if (tj__rb_add(&rb, encs[i], lens[i]) != 0)
					break;
			if (!c->closing)
				(void)tj__rb_flush(&rb, true);
			tj__rb_free(&rb);
			continue;
		}
		/* Over our own push budget for this peer: let it pull at its pace. */
		if (tj__ids_append(&c->have, &c->have_n, &c->have_cap, (const uint8_t *)ids, n) == 0)
			tj__sync_pump(c);
	}
}

/* ---- ingest ---------------------------------------------------------------- */

static void tj__job_work(uv_work_t *req)
{
	struct tj__job *j = req->data;

	/* Signatures are the expensive part: checked here, off the loop thread. */
	for (size_t i = 0; i < j->n; i++)
		tj_ingest_validate(&j->ctx, &j->items[i]);
}

static struct tj__conn *tj__conn_by_serial(struct tj_peers *P, uint64_t serial)
{
	for (struct tj__conn *c = P->conns; c != NULL; c = c->next)
		if (c->serial == serial)
			return c->closing ? NULL : c;
	return NULL;
}

static void tj__job_log_refused(const struct tj__job *j, size_t refused, const int *first, size_t n_first)
{
	char hex[TJ_LOG_HEX_CHARS];

	tj_log_hex(j->pk, hex);
	for (size_t i = 0; i < n_first; i++)
		TJ_LOG_W("sync", "refused a record from %s: %s", hex, tj_strerror(first[i]));
	if (refused > n_first)
		TJ_LOG_W("sync", "refused %zu more records from %s", refused - n_first, hex);
}

/* Records just stored: what the snapshot and gossip need of them. */
struct tj__fresh {
	const uint8_t **encs;
	size_t *lens;
	uint8_t (*ids)[32];
	struct tj_neg_item *items;
	size_t n;
};

static void tj__fresh_free(struct tj__fresh *f)
{
	free(f->encs);
	free(f->lens);
	free(f->ids);
	free(f->items);
	memset(f, 0, sizeof(*f));
}

static int tj__fresh_new(struct tj__fresh *f, size_t cap)
{
	memset(f, 0, sizeof(*f));
	cap = cap == 0 ? 1 : cap;
	f->encs = calloc(cap, sizeof(*f->encs));
	f->lens = calloc(cap, sizeof(*f->lens));
	f->ids = calloc(cap, 32);
	f->items = calloc(cap, sizeof(*f->items));
	if (f->encs == NULL || f->lens == NULL || f->ids == NULL || f->items == NULL) {
		tj__fresh_free(f);
		return -ENOMEM;
	}
	return 0;
}

static void tj__fresh_add(struct tj__fresh *f, const uint8_t *enc, size_t len, const uint8_t id[32], uint64_t ts_ms)
{
	f->encs[f->n] = enc;
	f->lens[f->n] = len;
	memcpy(f->ids[f->n], id, 32);
	f->items[f->n].ts = tj_neg_ts_from_ms(ts_ms);
	memcpy(f->items[f->n].id, id, 32);
	f->n++;
}

/* Into the snapshot, and out to every other peer, once. */
static void tj__fresh_publish(struct tj_peers *P, uint64_t except, const struct tj__fresh *f)
{
	tj__snapshot_add(P, f->items, f->n);
	tj__gossip(P, except, f->encs, f->lens, (const uint8_t(*)[32])f->ids, f->n);
}

/*
 * A removal that took effect here by ingest needs new keys (tj_rotate.h): on
 * the loop thread, after the batch's commit. A steward that is not the first,
 * or whose rotation failed, asks again, without deferring, TJ_ROTATE_DEFER_MS
 * later (tj__sync_tick).
 */
static void tj__rotate_check(struct tj_peers *P, bool may_defer)
{
	bool deferred = false;
	int rc = tj_rotate_auto(P->node, may_defer, &deferred);

	if (rc != 0)
		TJ_LOG_E("sync", "a removal took effect but the keys were not rotated: %s", tj_strerror(rc));
	if ((deferred || rc != 0) && P->rot_due_ms == 0)
		P->rot_due_ms = tj__mono_ms() + TJ_ROTATE_DEFER_MS;
}

static bool tj__kind_rotates(uint8_t kind)
{
	return kind == TJ_KIND_MEMBER || kind == TJ_KIND_APPROVAL || kind == TJ_KIND_KEY;
}

/* One write transaction for the batch; then the snapshot and gossip. */
static void tj__job_store(struct tj__job *j)
{
	struct tj_peers *P = j->P;
	int first[TJ__LOG_REFUSED_MAX];
	size_t refused = 0, n_first = 0, n_marked = 0;
	struct tj__pstat *ps;
	struct tj__fresh f;
	struct tj_txn t;
	bool membership = false;
	int rc;

	if ((rc = tj__fresh_new(&f, j->n)) != 0)
		goto out;
	if ((rc = tj_txn_begin(P->node->store, true, &t)) != 0)
		goto out;
	for (size_t i = 0; i < j->n && rc == 0; i++)
		rc = tj_ingest_put(&t, &j->items[i]);
	if (rc != 0) {
		tj_txn_abort(&t);
		goto out;
	}
	if ((rc = tj_txn_commit(&t)) != 0)
		goto out;
	for (size_t i = 0; i < j->n; i++) {
		struct tj_ingest_item *it = &j->items[i];
		if (it->stored && it->result == 0) {
			tj__fresh_add(&f, it->enc, it->len, it->id, it->rec.ts_ms);
			membership = membership || tj__kind_rotates(it->rec.kind);
			n_marked += it->rec.kind == TJ_KIND_INCIDENT || it->rec.kind == TJ_KIND_ALERT_ACK ||
			            it->rec.kind == TJ_KIND_ALERT_RESOLVE;
		} else if (it->result != TJ_EEXIST && it->result != TJ_ERETRACTED) {
			if (n_first < TJ__LOG_REFUSED_MAX)
				first[n_first++] = it->result;
			refused++;
		}
	}
	tj__job_log_refused(j, refused, first, n_first);
	if ((ps = tj__pstat_for(P, j->pk)) != NULL)
		ps->received += f.n;
	tj__fresh_publish(P, j->serial, &f);
	/* Derived data (index, alerts, acknowledgements, retractions' removals): the background pass. */
	if (f.n > 0)
		tj__derive_kick(P, n_marked);
	/* Retractions applied by this batch: write our confirmations (tj_retract.h). */
	tj_retract_after_store(P->node, (const uint8_t(*)[32])f.ids, f.n);
	if (membership)
		tj__rotate_check(P, true);
out:
	if (rc != 0)
		TJ_LOG_E("sync", "could not store a batch of %zu records: %s", j->n, tj_strerror(rc));
	tj__fresh_free(&f);
}

static void tj__job_done(uv_work_t *req, int status)
{
	struct tj__job *j = req->data;
	struct tj_peers *P = j->P;
	struct tj__conn *c;

	P->jobs_inflight--;
	if (status == 0)
		tj__job_store(j);
	c = tj__conn_by_serial(P, j->serial);
	if (c != NULL) {
		c->ingest_inflight--;
		tj__conn_update_reading(c);
	}
	sodium_memzero(j->items, j->n * sizeof(j->items[0]));
	free(j->buf);
	free(j);
}

static void tj__ingest(struct tj__conn *c, const struct tj_wire_msg *m)
{
	struct tj__job *j;
	size_t total = 0, off = 0;

	if (m->n_recs == 0)
		return;
	if ((j = calloc(1, sizeof(*j) + m->n_recs * sizeof(j->items[0]))) == NULL)
		return;
	for (uint32_t i = 0; i < m->n_recs; i++)
		total += m->recs[i].len;
	if ((j->buf = malloc(total)) == NULL) {
		free(j);
		return;
	}
	for (uint32_t i = 0; i < m->n_recs; i++) {
		memcpy(j->buf + off, m->recs[i].p, m->recs[i].len);
		j->items[i].enc = j->buf + off;
		j->items[i].len = m->recs[i].len;
		off += m->recs[i].len;
	}
	j->n = m->n_recs;
	j->P = c->P;
	j->serial = c->serial;
	memcpy(j->pk, c->peer_pk, 32);
	j->ctx.has_network = true;
	memcpy(j->ctx.network_id, c->P->node->network_id, 32);
	j->ctx.now_ms = tj_now_ms();
	j->req.data = j;
	if (uv_queue_work(c->P->loop, &j->req, tj__job_work, tj__job_done) != 0) {
		free(j->buf);
		free(j);
		return;
	}
	c->P->jobs_inflight++;
	c->ingest_inflight++;
	tj__conn_update_reading(c);
}

/* ---- messages -------------------------------------------------------------- */

static void tj__on_hello(struct tj__conn *c, const struct tj_wire_msg *m)
{
	struct tj_boxstream_reasm *big = NULL;
	char hex[TJ_LOG_HEX_CHARS];

	if (memcmp(m->network_id, c->P->node->network_id, 32) != 0) {
		tj__conn_bye(c, TJ_WIRE_BYE_NETWORK, "belongs to another network; dropped");
		return;
	}
	/* The HELLO was the whole message: the small reassembler is idle and can be replaced. */
	if (tj_boxstream_reasm_new(tj_wire_max_bytes(true), &big) != 0) {
		tj__conn_close(c);
		return;
	}
	tj_boxstream_reasm_free(c->reasm);
	c->reasm = big;
	c->state = TJ__READY;
	uv_timer_stop(&c->timer);
	tj__conn_ready(c); /* one connection per peer: may close an older one */
	(void)tj__pstat_for(c->P, c->peer_pk);
	TJ_LOG_I("peer", "connected %s %s (it holds %llu records)", c->outbound ? "to" : "from",
		 tj_log_hex(c->peer_pk, hex), (unsigned long long)m->records);
	if (c->outbound)
		tj__sync_start(c);
}

static void tj__on_neg(struct tj__conn *c, const struct tj_wire_msg *m)
{
	struct tj_neg_opts o = {.frame_limit_bytes = TJ_PEER_NEG_FRAME_BYTES};
	struct tj_neg *resp = NULL;
	struct tj_neg_msg out;
	int rc;

	if (c->outbound) {
		if (c->neg == NULL) {
			tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "sent an unexpected reconciliation reply; dropped");
			return;
		}
		if ((rc = tj_neg_reconcile(c->neg, m->neg.p, m->neg.len, &out)) != 0) {
			TJ_LOG_W("sync", "reconciliation failed: %s", tj_strerror(rc));
			tj__session_end(c);
			tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "sent a bad reconciliation message; dropped");
			return;
		}
		if (out.len > 0)
			(void)tj__send_neg(c, &out);
		else
			tj__sync_done(c);
		return;
	}
	/* Responder: each query is answered on its own, so nothing borrows the snapshot between messages. */
	rc = tj_neg_new(c->P->neg_st, &o, &resp);
	if (rc == 0)
		rc = tj_neg_reconcile(resp, m->neg.p, m->neg.len, &out);
	if (rc == 0)
		(void)tj__send_neg(c, &out);
	tj_neg_free(resp);
	if (rc != 0)
		tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "sent a bad reconciliation query; dropped");
}

/* Answers a WANT from the store: one read transaction, RECORDS parts, the last one marked. */
static void tj__on_want(struct tj__conn *c, const struct tj_wire_msg *m)
{
	struct tj__rb rb;
	struct tj_txn t;
	const uint8_t *enc;
	size_t len, need = 0;
	bool txn;
	int rc = 0;

	/* Sizes first (same transaction), so the buffer fits the answer: a WANT of nothing held costs bytes. */
	txn = tj_txn_begin(c->P->node->store, false, &t) == 0;
	for (uint32_t i = 0; txn && i < m->n_ids; i++)
		if (tj_store_get(&t, m->ids[i], &enc, &len) == 0)
			need += tj_wire_record_cost(len);
	if (tj__rb_init(&rb, c, TJ_WIRE_RECORDS, need) != 0) {
		if (txn)
			tj_txn_abort(&t);
		return;
	}
	for (uint32_t i = 0; txn && i < m->n_ids && rc == 0 && !c->closing; i++) {
		if (tj_store_get(&t, m->ids[i], &enc, &len) != 0)
			continue; /* not held (or retracted): left out */
		rc = tj__rb_add(&rb, enc, len);
	}
	if (txn)
		tj_txn_abort(&t);
	if (!c->closing)
		(void)tj__rb_flush(&rb, true);
	tj__rb_free(&rb);
	tj__conn_update_reading(c);
}

static void tj__on_records(struct tj__conn *c, const struct tj_wire_msg *m)
{
	if (c->wants_inflight == 0 || m->n_recs > c->want_left[0]) {
		tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "sent records nobody asked for; dropped");
		return;
	}
	c->want_left[0] -= m->n_recs;
	tj__ingest(c, m);
	if (m->last) {
		memmove(c->want_left, c->want_left + 1, sizeof(c->want_left) - sizeof(c->want_left[0]));
		c->wants_inflight--;
		tj__sync_pump(c);
	}
}

static void tj__on_push(struct tj__conn *c, const struct tj_wire_msg *m)
{
	if (c->throttled)
		return; /* read before the pause began: dropped like the rest of the excess */
	if (!tj__bucket_take(&c->push_in, m->n_recs, TJ_PEER_PUSH_RATE, TJ_PEER_PUSH_BURST)) {
		/* Dropped, not stored: an honest peer's records come back with the next reconciliation. */
		tj__conn_over_quota(c, "pushed records");
		return;
	}
	tj__ingest(c, m);
}

/* HAVE: queue the ids we do not hold (nor retracted) for fetching. */
static void tj__on_have(struct tj__conn *c, const struct tj_wire_msg *m)
{
	struct tj_txn t;
	size_t before = c->want_n;

	if (tj_txn_begin(c->P->node->store, false, &t) != 0)
		return;
	for (uint32_t i = 0; i < m->n_ids; i++) {
		if (tj_store_has(&t, m->ids[i]) == 0 || tj_store_tombstoned(&t, m->ids[i]) == 0)
			continue;
		if (tj__ids_append(&c->want, &c->want_n, &c->want_cap, m->ids[i], 1) != 0)
			break;
	}
	tj_txn_abort(&t);
	if (c->want_n > before)
		tj__sync_pump(c);
}

int tj__sync_probe(struct tj__conn *c)
{
	int rc;

	if (c->state != TJ__READY || c->closing || c->hangup)
		return TJ_ESTATE;
	if (c->wants_inflight >= TJ_PEER_WANTS_INFLIGHT)
		return 0; /* answers are due anyway */
	if ((rc = tj__send_ids(c, TJ_WIRE_WANT, tj_wire_probe_id, 1)) == 0)
		c->want_left[c->wants_inflight++] = 0; /* no record has that id */
	return rc;
}

void tj__sync_on_ready(struct tj__conn *c)
{
	uint8_t buf[TJ_WIRE_HELLO_MAX_BYTES];
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_wire_put_hello(&w, c->P->node->network_id, tj_neg_storage_size(c->P->neg_st) + c->P->pending.n);
	(void)tj__send_built(c, &w);
}

void tj__sync_on_msg(struct tj__conn *c, const uint8_t *msg, size_t len)
{
	static struct tj_wire_msg m; /* 12 KiB; one loop thread, used within this call only */
	int rc;

	if (!tj__bucket_take(&c->msg_in, 1, TJ_PEER_MSG_RATE, TJ_PEER_MSG_BURST))
		tj__conn_over_quota(c, "message");
	if (c->closing || c->hangup)
		return;
	if ((rc = tj_wire_decode(msg, len, c->state == TJ__READY, &m)) != 0) {
		tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, rc == TJ_ELIMIT ? "message over a limit; dropped"
									: "malformed message; dropped");
		return;
	}
	switch (m.type) {
	case TJ_WIRE_HELLO: tj__on_hello(c, &m); break;
	case TJ_WIRE_NEG: tj__on_neg(c, &m); break;
	case TJ_WIRE_WANT: tj__on_want(c, &m); break;
	case TJ_WIRE_RECORDS: tj__on_records(c, &m); break;
	case TJ_WIRE_PUSH: tj__on_push(c, &m); break;
	case TJ_WIRE_HAVE: tj__on_have(c, &m); break;
	case TJ_WIRE_BYE: tj__conn_close(c); break;
	default: tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "unknown message; dropped"); break;
	}
}

void tj__sync_on_close(struct tj__conn *c)
{
	tj__session_end(c);
	free(c->want);
	free(c->have);
	c->want = c->have = NULL;
	c->want_n = c->want_next = c->want_cap = c->have_n = c->have_next = c->have_cap = 0;
}

/* Is item in the snapshot or waiting to enter it? O(log n) + the (short) pending list. */
static bool tj__snapshot_has(const struct tj_peers *P, const struct tj_neg_item *item)
{
	struct tj_neg_item mid;
	size_t lo = 0, hi = tj_neg_storage_size(P->neg_st);

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		int c;
		if (tj_neg_storage_get(P->neg_st, m, &mid) != 0)
			return false;
		c = tj_neg_item_cmp(&mid, item);
		if (c == 0)
			return true;
		if (c < 0)
			lo = m + 1;
		else
			hi = m;
	}
	for (size_t i = 0; i < P->pending.n; i++)
		if (tj_neg_item_cmp(&P->pending.items[i], item) == 0)
			return true;
	return false;
}

/*
 * Records this node wrote by any path (the CLI's add, membership,
 * retractions, acknowledgements...) carry a fresh ts_ms: the newest by_ts
 * entries not yet in the snapshot are ours to share. Scans only the last
 * TJ__WATCH_WINDOW_MS before the newest time seen.
 */
#define TJ__WATCH_WINDOW_MS 5000u
#define TJ__WATCH_MAX 1024u
static void tj__watch_local(struct tj_peers *P)
{
	uint8_t (*ids)[32] = NULL;
	struct tj_store_iter it;
	struct tj_neg_item item;
	struct tj_txn t;
	uint64_t ts_ms, newest = P->watch_ms;
	size_t n = 0;

	if (tj_txn_begin(P->node->store, false, &t) != 0)
		return;
	if (tj_store_iter_open(&t, true, NULL, &it) == 0) {
		while (n < TJ__WATCH_MAX && tj_store_iter_next(&it, &ts_ms, item.id) == 0) {
			if (ts_ms + TJ__WATCH_WINDOW_MS < P->watch_ms)
				break;
			newest = ts_ms > newest ? ts_ms : newest;
			item.ts = tj_neg_ts_from_ms(ts_ms);
			if (tj__snapshot_has(P, &item))
				continue;
			if (ids == NULL && (ids = calloc(TJ__WATCH_MAX, 32)) == NULL)
				break;
			memcpy(ids[n++], item.id, 32);
		}
		tj_store_iter_close(&it);
	}
	tj_txn_abort(&t);
	/* A peer's record may claim a time up to 10 minutes ahead: it must not hide ours. */
	P->watch_ms = newest < tj_now_ms() ? newest : tj_now_ms();
	if (n > 0)
		tj_peers_local_added(P, (const uint8_t(*)[32])ids, n);
	free(ids);
}

void tj__sync_tick(struct tj_peers *P, uint64_t now)
{
	tj__watch_local(P);
	struct tj__conn *c, *next;
	char hex[TJ_LOG_HEX_CHARS];

	if (!P->rot_checked) {
		P->rot_checked = true;
		tj__rotate_check(P, true);
	} else if (P->rot_due_ms != 0 && now >= P->rot_due_ms) {
		P->rot_due_ms = 0;
		tj__rotate_check(P, false);
	}

	for (c = P->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->outbound || c->state != TJ__READY || c->closing || c->hangup)
			continue;
		if (c->neg != NULL && now - c->neg_started_ms > TJ_PEER_SYNC_DEADLINE_MS) {
			TJ_LOG_W("sync", "reconciliation with %s took too long; abandoned", tj_log_hex(c->peer_pk, hex));
			tj__session_end(c);
		} else if (c->neg == NULL && c->want_n == 0 &&
			   (c->resync || now - c->last_sync_start_ms >= P->sync_interval_ms)) {
			c->resync = false;
			tj__sync_start(c);
		}
	}
}

/* Copies the stored records of ids into *buf (one read transaction) and lists them in f. */
static int tj__read_local(struct tj_peers *P, const uint8_t (*ids)[32], size_t n, uint8_t **buf, struct tj__fresh *f)
{
	struct tj_record rec;
	struct tj_txn t;
	const uint8_t *enc;
	size_t len, total = 0, off = 0;
	int rc;

	if ((rc = tj_txn_begin(P->node->store, false, &t)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (tj_store_get(&t, ids[i], &enc, &len) == 0)
			total += len;
	if ((*buf = malloc(total + 1)) == NULL) {
		tj_txn_abort(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (tj_store_get(&t, ids[i], &enc, &len) != 0 || off + len > total ||
		    tj_record_decode(enc, len, &rec) != 0)
			continue;
		memcpy(*buf + off, enc, len);
		tj__fresh_add(f, *buf + off, len, ids[i], rec.ts_ms);
		off += len;
	}
	tj_txn_abort(&t);
	return 0;
}

void tj_peers_local_added(struct tj_peers *P, const uint8_t (*ids)[32], size_t n)
{
	struct tj__fresh f;
	uint8_t *buf = NULL;

	if (P == NULL || P->stopping || n == 0 || tj__fresh_new(&f, n) != 0)
		return;
	if (tj__read_local(P, ids, n, &buf, &f) == 0)
		tj__fresh_publish(P, 0, &f);
	else
		TJ_LOG_E("sync", "could not read %zu new records to share them", n);
	tj__fresh_free(&f);
	free(buf);
}

void tj_peers_share_added(const struct tj_add_item *items, size_t n)
{
	struct tj_peers *P = tj_peers_active();
	uint8_t (*ids)[32];
	size_t k = 0;

	if (P == NULL || n == 0 || (ids = calloc(2 * n, 32)) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (items[i].err != 0)
			continue;
		memcpy(ids[k++], items[i].id, 32);
		if (items[i].has_case)
			memcpy(ids[k++], items[i].case_id, 32);
	}
	tj_peers_local_added(P, (const uint8_t(*)[32])ids, k);
	free(ids);
}
