/*
 * Adding incidents: re-validate, compute severity, seal both faces and store
 * them through ingest, all items of a call in one write transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_circle.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_node_core.h"
#include "tj_seal.h"
#include "tj_share.h"

#define TJ__SEAL_OUT_BYTES (TJ_RECORD_MAX_BYTES + 1024u)
/* Envelope bytes around a body with one slot: header, slot, tag, signature. */
#define TJ__SEAL_OVERHEAD_BYTES 512u

/* Scratch for one call: decoded faces and sealing buffers, wiped at the end. */
struct tj__add_scratch {
	struct tj_incident_summary *sum;
	/* The circles the previous item named, resolved (a batch names the same ones for every item). */
	char case_circle[65], summary_circle[65];
	const struct tj_sym_key *case_key, *summary_key;
	uint8_t summary_circle_id[32];
	uint8_t *body;  /* TJ_INC_BODY_MAX_BYTES, sodium_malloc (plaintext) */
	uint8_t *rec;   /* TJ__SEAL_OUT_BYTES (ciphertext) */
};

/* Our chain head: the next record takes seq = head.seq + 1, prev = head.id. */
struct tj__head {
	bool has;
	uint64_t seq;
	uint8_t id[32];
};

static void tj__verr_set(struct tj_verr *v, const char *field, const char *what, int rc)
{
	snprintf(v->field, sizeof(v->field), "%s", field);
	snprintf(v->message, sizeof(v->message), "%s: %s (%s)", field, what, tj_strerror(rc));
}

/* The circles an item names (tj_circle.h): their newest keys, or why not (in it->verr). */
static int tj__add_circle(struct tj_node *n, struct tj_add_item *it, const char *name, const char *field,
                          const struct tj_sym_key **key, uint8_t circle_id[32])
{
	uint8_t who[32] = {0};
	char h[65];
	int rc = tj_circle_seal_key(n, name, key, circle_id, who);

	if (rc == 0)
		return 0;
	tj_hex(who, 32, h); /* the member of the circle that left the network, for TJ_ENOTMEMBER */
	if (rc == TJ_ENOTFOUND)
		snprintf(it->verr.message, sizeof(it->verr.message),
		         "%s: no circle named '%s' has this node as a member (`tejido circle list`)", field,
		         name);
	else if (rc == TJ_EEXIST)
		snprintf(it->verr.message, sizeof(it->verr.message),
		         "%s: several circles are named '%s'; give the circle's id (circle:ID)", field, name);
	else if (rc == TJ_ENOKEY)
		snprintf(it->verr.message, sizeof(it->verr.message),
		         "%s: this node does not hold the newest key of circle '%s' yet", field, name);
	else if (rc == TJ_ENOTMEMBER)
		snprintf(
		    it->verr.message, sizeof(it->verr.message),
		    "%s: circle '%s' names %s, no longer a member of the network; its admin must remove it "
		    "from the circle first",
		    field, name, h);
	else
		tj__verr_set(&it->verr, field, "the circle cannot be used", rc);
	snprintf(it->verr.field, sizeof(it->verr.field), "%s", field);
	return rc;
}

static int tj__add_circles(struct tj_node *n, struct tj__add_scratch *s, struct tj_add_item *it)
{
	uint8_t ignored[32];
	int rc = 0;

	it->case_circle_key_ = NULL;
	it->summary_circle_key_ = NULL;
	if (it->case_circle[0] != '\0' && it->case_body != NULL) {
		if (s->case_key == NULL || strcmp(s->case_circle, it->case_circle) != 0) {
			s->case_key = NULL;
			if ((rc = tj__add_circle(n, it, it->case_circle, "case_readers", &s->case_key,
			                         ignored)) != 0)
				return rc;
			memcpy(s->case_circle, it->case_circle, sizeof(s->case_circle));
		}
		it->case_circle_key_ = s->case_key;
	}
	if (it->summary_circle[0] != '\0') {
		if (s->summary_key == NULL || strcmp(s->summary_circle, it->summary_circle) != 0) {
			s->summary_key = NULL;
			if ((rc = tj__add_circle(n, it, it->summary_circle, "summary_readers",
			                         &s->summary_key, s->summary_circle_id)) != 0)
				return rc;
			memcpy(s->summary_circle, it->summary_circle, sizeof(s->summary_circle));
		}
		it->summary_circle_key_ = s->summary_key;
		memcpy(it->summary_circle_id_, s->summary_circle_id, 32);
	}
	return 0;
}

/* Phase 1, outside any transaction: is this item acceptable at all? */
static void tj__add_check(struct tj_node *n, struct tj__add_scratch *s, struct tj_add_item *it, uint64_t now_ms)
{
	struct tj_incident_case *c = NULL;
	uint8_t ignored_id[32];
	int rc;

	memset(&it->verr, 0, sizeof(it->verr));
	it->err = 0;
	if (!n->has_network || tj_keyring_current_epoch(n->keyring) == NULL) {
		it->err = TJ_ESTATE;
		tj__verr_set(&it->verr, "node", "this node has not joined a network yet", it->err);
		return;
	}
	rc = tj_incident_summary_decode(it->summary, it->summary_len, s->sum);
	if (rc != 0) {
		it->err = rc;
		tj__verr_set(&it->verr, "summary", "the summary body does not decode", rc);
		return;
	}
	if ((it->err = tj__add_circles(n, s, it)) != 0)
		return;
	if (it->case_body != NULL) {
		if ((c = tj_incident_case_new()) == NULL) {
			it->err = -ENOMEM;
			return;
		}
		rc = tj_incident_case_decode(it->case_body, it->case_len, c, ignored_id);
		if (rc != 0) {
			it->err = rc;
			tj__verr_set(&it->verr, "case", "the case body does not decode", rc);
			goto out;
		}
		/* Extra readers of the case face (tj_share.h): checked now, sealed to in phase 2. */
		if ((rc = tj_share_readers_check(it->case_readers, it->n_case_readers)) != 0) {
			it->err = rc;
			tj__verr_set(&it->verr, "case_readers", "a case reader is not a valid public key", rc);
			goto out;
		}
		if (it->case_circle_key_ != NULL && it->n_case_readers + 2u > TJ_RECORD_SLOTS_MAX) {
			it->err = TJ_ELIMIT;
			tj__verr_set(&it->verr, "case_readers",
			             "a circle and 15 readers are more slots than a record has", it->err);
			goto out;
		}
		if (it->case_len + TJ__SEAL_OVERHEAD_BYTES + 120u * it->n_case_readers > TJ_RECORD_MAX_BYTES) {
			it->err = TJ_ELIMIT;
			tj__verr_set(&it->verr, "case", "the case is too large for one record", it->err);
			goto out;
		}
	}
	it->err = tj_incident_validate(s->sum, c, TJ_LANG_EN, now_ms, &it->verr);
out:
	tj_incident_case_free(c);
}

/* +1 severity when any victim's reference has an incident in the 90 days up to this one. */
static int tj__prior(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *sum, bool *prior)
{
	int64_t day = tj_date_days(&sum->occurred.start);
	uint8_t key[32];
	int rc = 0;

	*prior = false;
	if (day < 0)
		return 0;
	for (uint32_t i = 0; i < sum->n_victims && !*prior && rc == 0; i++) {
		if (sum->victims[i].ref[0] == '\0')
			continue;
		tj_node_victim_key(n, sum->victims[i].ref, key);
		rc = tj_store_victim_any(t, key, day >= TJ_PRIOR_WINDOW_DAYS ? (uint64_t)(day - TJ_PRIOR_WINDOW_DAYS) : 0,
					 (uint64_t)day, prior);
	}
	return rc;
}

static int tj__index_victims(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *sum,
			     const uint8_t id[32])
{
	int64_t day = tj_date_days(&sum->occurred.start);
	uint8_t key[32];
	int rc = 0;

	if (day < 0)
		return 0;
	for (uint32_t i = 0; i < sum->n_victims && rc == 0; i++) {
		if (sum->victims[i].ref[0] == '\0')
			continue;
		tj_node_victim_key(n, sum->victims[i].ref, key);
		rc = tj_store_victim_put(t, key, (uint64_t)day, id);
	}
	return rc;
}

/*
 * Seals body as our next record and stores it through ingest. Any refusal
 * here is a fault in this node (our own chain, our own keys), so it aborts
 * the whole transaction rather than leaving half an incident.
 */
static int tj__seal_store(struct tj_node *n, struct tj_txn *t, struct tj__add_scratch *s, struct tj__head *head,
			  struct tj_seal_in *in, uint8_t id[32])
{
	struct tj_ingest_item item;
	struct tj_ingest_ctx ctx;
	size_t len = 0;
	int rc;

	memcpy(in->network_id, n->network_id, 32);
	in->seq = head->has ? head->seq + 1 : 0;
	in->has_prev = head->has;
	memcpy(in->prev, head->id, 32);
	memset(&item, 0, sizeof(item));
	if ((rc = tj_record_seal(in, n->u->id, s->rec, TJ__SEAL_OUT_BYTES, &len, item.id)) != 0)
		return rc;
	ctx.has_network = true;
	memcpy(ctx.network_id, n->network_id, 32);
	ctx.now_ms = tj_now_ms();
	item.enc = s->rec;
	item.len = len;
	tj_ingest_validate(&ctx, &item);
	if ((rc = tj_ingest_put(t, &item)) != 0)
		return rc;
	if (item.result != 0) {
		TJ_LOG_E("node", "own record refused by ingest: %s", tj_errname(item.result));
		return item.result;
	}
	head->has = true;
	head->seq = in->seq;
	memcpy(head->id, item.id, 32);
	memcpy(id, item.id, 32);
	return 0;
}

static int tj__add_case(struct tj_node *n, struct tj_txn *t, struct tj__add_scratch *s, struct tj__head *head,
			struct tj_add_item *it, uint64_t ts_ms)
{
	struct tj_incident_case *c = tj_incident_case_new();
	uint8_t readers[TJ_RECORD_SLOTS_MAX][32];
	struct tj_seal_in in;
	uint8_t ignored_id[32];
	size_t len = 0;
	int rc;

	if (c == NULL)
		return -ENOMEM;
	if ((rc = tj_incident_case_decode(it->case_body, it->case_len, c, ignored_id)) != 0 ||
	    (rc = tj_incident_case_encode(c, it->id, s->body, TJ_INC_BODY_MAX_BYTES, &len)) != 0)
		goto out;
	memset(&in, 0, sizeof(in));
	in.ts_ms = ts_ms;
	in.kind = TJ_KIND_CASE;
	in.audience.type = TJ_AUD_NAMED;
	in.audience.has_ref = true; /* links the summary, readable or not (case_of) */
	memcpy(in.audience.ref, it->id, 32);
	/* Sealed to this node and the readers named at add time; sharing adds slots later. */
	memcpy(readers[0], n->u->id->pk, 32);
	if (it->n_case_readers > 0)
		memcpy(readers[1], it->case_readers, 32u * it->n_case_readers);
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = 1 + it->n_case_readers;
	in.circle = it->case_circle_key_; /* NULL: none */
	in.body = s->body;
	in.body_len = len;
	if ((rc = tj__seal_store(n, t, s, head, &in, it->case_id)) == 0)
		it->has_case = true;
out:
	sodium_memzero(s->body, len);
	tj_incident_case_free(c);
	return rc;
}

/* Phase 2, inside the write transaction: one incident (and its case). */
static int tj__add_one(struct tj_node *n, struct tj_txn *t, struct tj__add_scratch *s, struct tj__head *head,
		       struct tj_add_item *it)
{
	const struct tj_sym_key *epoch = tj_keyring_current_epoch(n->keyring);
	struct tj_seal_in in;
	size_t len = 0;
	bool prior = false;
	int rc;

	if ((rc = tj_incident_summary_decode(it->summary, it->summary_len, s->sum)) != 0)
		return rc;
	if (!s->sum->severity_explicit) {
		if ((rc = tj__prior(n, t, s->sum, &prior)) != 0)
			return rc;
		s->sum->severity = tj_incident_compute_severity(s->sum, prior);
	}
	if ((rc = tj_incident_summary_encode(s->sum, s->body, TJ_INC_BODY_MAX_BYTES, &len)) != 0)
		return rc;
	memset(&in, 0, sizeof(in));
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_INCIDENT;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch->id, 32);
	in.epoch = epoch;
	if (it->summary_circle_key_ != NULL) {
		/* Restricted to a circle (tj_circle.h): its key instead of the network's epoch. */
		in.audience.type = TJ_AUD_CIRCLE;
		memcpy(in.audience.ref, it->summary_circle_id_, 32);
		in.epoch = NULL;
		in.circle = it->summary_circle_key_;
	}
	in.body = s->body;
	in.body_len = len;
	rc = tj__seal_store(n, t, s, head, &in, it->id);
	sodium_memzero(s->body, len);
	if (rc != 0 || (rc = tj__index_victims(n, t, s->sum, it->id)) != 0)
		return rc;
	it->severity = s->sum->severity;
	it->recorded_at_ms = in.ts_ms;
	if (it->case_body != NULL)
		rc = tj__add_case(n, t, s, head, it, in.ts_ms);
	return rc;
}

static int tj__head_load(struct tj_txn *t, struct tj__head *head)
{
	const uint8_t *v;
	size_t len;
	int rc = tj_store_meta_get(t, TJ_META_HEAD, &v, &len);

	memset(head, 0, sizeof(*head));
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len != 40)
		return TJ_ESTORE;
	head->has = true;
	head->seq = tj_store_rd64(v);
	memcpy(head->id, v + 8, 32);
	return 0;
}

static int tj__head_save(struct tj_txn *t, const struct tj__head *head)
{
	uint8_t v[40];

	tj_store_be64(head->seq, v);
	memcpy(v + 8, head->id, 32);
	return tj_store_meta_put(t, TJ_META_HEAD, v, sizeof(v));
}

/* Phase 2 for every valid item, committed once. */
static int tj__add_txn(struct tj_node *n, struct tj__add_scratch *s, struct tj_add_item *items, size_t n_items)
{
	struct tj_txn t;
	struct tj__head head;
	int rc;

	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	if ((rc = tj__head_load(&t, &head)) != 0)
		goto out;
	for (size_t i = 0; i < n_items && rc == 0; i++)
		if (items[i].err == 0)
			rc = tj__add_one(n, &t, s, &head, &items[i]);
	if (rc == 0 && (rc = tj__head_save(&t, &head)) == 0)
		rc = tj_txn_commit(&t);
out:
	tj_txn_abort(&t);
	return rc;
}

/*
 * Alerts are derived data: once the incidents are committed, index them and
 * run the rules (tj_alert.h). A failure there is logged, never undoes an add.
 */
static void tj__add_alerts(struct tj_node *n, const struct tj_add_item *items, size_t n_items)
{
	uint8_t(*ids)[32] = malloc(n_items * 32);
	size_t k = 0;
	int rc;

	if (ids == NULL) {
		TJ_LOG_E("node", "alerts not evaluated for %zu added incidents: out of memory", n_items);
		return;
	}
	for (size_t i = 0; i < n_items; i++)
		if (items[i].err == 0)
			memcpy(ids[k++], items[i].id, 32);
	if ((rc = tj_alert_after_store(n, (const uint8_t(*)[32])ids, k)) != 0)
		TJ_LOG_E("node", "alerts not evaluated for %zu added incidents: %s", k, tj_strerror(rc));
	free(ids);
}

int tj_node_append(struct tj_node *n, uint8_t kind, const uint8_t *body, size_t body_len, uint8_t id[32],
		   uint64_t *ts_ms)
{
	const struct tj_sym_key *epoch = n->has_network ? tj_keyring_current_epoch(n->keyring) : NULL;
	struct tj__add_scratch s = {0};
	struct tj_seal_in in;
	struct tj__head head;
	struct tj_txn t;
	int rc;

	if (epoch == NULL)
		return TJ_ESTATE;
	if (body_len + TJ__SEAL_OVERHEAD_BYTES > TJ_RECORD_MAX_BYTES)
		return TJ_ELIMIT;
	if ((s.rec = malloc(TJ__SEAL_OUT_BYTES)) == NULL)
		return -ENOMEM;
	memset(&in, 0, sizeof(in));
	in.ts_ms = tj_now_ms();
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch->id, 32);
	in.epoch = epoch;
	in.body = body;
	in.body_len = body_len;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		goto out;
	if ((rc = tj__head_load(&t, &head)) == 0 && (rc = tj__seal_store(n, &t, &s, &head, &in, id)) == 0 &&
	    (rc = tj__head_save(&t, &head)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	if (rc == 0 && ts_ms != NULL)
		*ts_ms = in.ts_ms;
out:
	free(s.rec);
	return rc;
}

int tj_node_add(struct tj_node *n, struct tj_add_item *items, size_t n_items)
{
	struct tj__add_scratch s = {0};
	uint64_t now_ms = tj_now_ms();
	size_t n_valid = 0;
	int rc;

	if (n_items > TJ_INGEST_BATCH_MAX)
		return TJ_ELIMIT;
	s.sum = tj_incident_summary_new();
	s.body = sodium_malloc(TJ_INC_BODY_MAX_BYTES);
	s.rec = malloc(TJ__SEAL_OUT_BYTES);
	if (s.sum == NULL || s.body == NULL || s.rec == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_items; i++) {
		tj__add_check(n, &s, &items[i], now_ms);
		n_valid += items[i].err == 0;
	}
	rc = n_valid > 0 ? tj__add_txn(n, &s, items, n_items) : 0;
	if (rc == 0 && n_valid > 0)
		tj__add_alerts(n, items, n_items);
	for (size_t i = 0; i < n_items && rc != 0; i++) {
		if (items[i].err == 0) {
			/* Nothing of the transaction was stored: no item may claim an id. */
			items[i].err = rc;
			items[i].has_case = false;
			tj__verr_set(&items[i].verr, "store", "the incident was not stored", rc);
		}
	}
out:
	tj_incident_summary_free(s.sum);
	sodium_free(s.body);
	free(s.rec);
	return rc;
}
