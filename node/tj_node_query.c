/* Reading incidents back: list (filtered, paged), show, status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_node_core.h"
#include "tj_seal.h"
#include "tj_share.h"

#define TJ__CASES_PER_SUMMARY_MAX 8
/* Reply bytes per listed item besides the summary (ids, keys, numbers, keys' names). */
#define TJ__LIST_ITEM_OVERHEAD_BYTES 160u

void tj_listed_free(struct tj_listed *l)
{
	if (l == NULL)
		return;
	if (l->summary != NULL) {
		sodium_memzero(l->summary, l->summary_len);
		free(l->summary);
	}
	if (l->case_body != NULL) {
		sodium_memzero(l->case_body, l->case_len);
		free(l->case_body);
	}
	memset(l, 0, sizeof(*l));
}

/* Decrypts a stored record into a malloc'd buffer (*plain; wipe and free it). */
static int tj__open_stored(struct tj_node *n, const uint8_t *enc, const struct tj_record *rec, uint8_t **plain,
			   size_t *plain_len)
{
	size_t cap = rec->ciphertext_len > 0 ? rec->ciphertext_len : 1;
	uint8_t *buf = malloc(cap);
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	rc = tj_record_open(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, buf, cap, plain_len);
	if (rc != 0) {
		sodium_memzero(buf, cap);
		free(buf);
		return rc;
	}
	*plain = buf;
	return 0;
}

static bool tj__matches(const struct tj_list_query *q, const struct tj_incident_summary *s)
{
	bool act = q->act[0] == '\0';

	if (q->state[0] != '\0' && strcmp(q->state, s->location.state) != 0)
		return false;
	if (q->has_since && tj_date_days(&s->occurred.start) < q->since_day)
		return false;
	for (uint32_t i = 0; i < s->n_acts && !act; i++)
		act = strcmp(s->acts[i].type, q->act) == 0;
	return act;
}

/* Where a listing resumes: the by_ts key of the cursor id. */
static int tj__after_key(struct tj_txn *t, const uint8_t id[32], uint8_t key[TJ_STORE_TS_KEY_BYTES])
{
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	int rc = tj_store_get(t, id, &enc, &len);

	if (rc != 0)
		return rc;
	if ((rc = tj_record_decode(enc, len, &rec)) != 0)
		return TJ_ESTORE;
	tj_store_ts_key(rec.ts_ms, id, key);
	return 0;
}

/*
 * Opens one by_ts entry as a listed incident. TJ_ENOTFOUND for entries that
 * are not incidents this node can read (skipped, not errors).
 */
static int tj__load_incident(struct tj_node *n, struct tj_txn *t, const uint8_t id[32],
			     struct tj_incident_summary *sum, struct tj_listed *out)
{
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tj_store_get(t, id, &enc, &len)) != 0)
		return rc;
	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	if (rec.kind != TJ_KIND_INCIDENT)
		return TJ_ENOTFOUND;
	rc = tj__open_stored(n, enc, &rec, &out->summary, &out->summary_len);
	if (rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		return rc;
	if (rc != 0)
		return rc;
	rc = tj_incident_summary_decode(out->summary, out->summary_len, sum);
	if (rc != 0) {
		/* Signed by a member yet not a valid summary: skip it, say so without contents. */
		char h[TJ_LOG_HEX_CHARS];
		TJ_LOG_W("node", "incident %s has an invalid summary body: %s", tj_log_hex(id, h), tj_errname(rc));
		tj_listed_free(out);
		return TJ_ENOTFOUND;
	}
	memcpy(out->id, id, 32);
	memcpy(out->author, rec.author, 32);
	out->recorded_at_ms = rec.ts_ms;
	out->severity = sum->severity;
	return 0;
}

struct tj__list_state {
	uint32_t emitted;
	size_t bytes;
	uint32_t scanned;
	uint8_t last[32];
	bool has_last;
};

/* One by_ts entry: 1 = stop (page full or callback said so), 0 = go on. */
static int tj__list_one(struct tj_node *n, struct tj_txn *t, const struct tj_list_query *q,
			struct tj_incident_summary *sum, const uint8_t id[32], tj_list_cb cb, void *ctx,
			struct tj__list_state *ls)
{
	struct tj_listed item;
	size_t need;
	int rc = tj__load_incident(n, t, id, sum, &item);

	if (rc == TJ_ENOTFOUND || rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		return 0;
	if (rc != 0)
		return rc;
	rc = 0;
	if (tj__matches(q, sum)) {
		need = item.summary_len + TJ__LIST_ITEM_OVERHEAD_BYTES;
		if (ls->emitted > 0 && ls->bytes + need > q->max_bytes) {
			rc = 1; /* the page is full by size; resume after the last emitted */
		} else if (cb(ctx, &item) != 0) {
			rc = 1; /* the caller could not take it: resume before it */
		} else {
			ls->emitted++;
			ls->bytes += need;
		}
	}
	tj_listed_free(&item);
	return rc;
}

int tj_node_list(struct tj_node *n, const struct tj_list_query *q, tj_list_cb cb, void *ctx, bool *has_next,
		 uint8_t next[32])
{
	uint8_t after[TJ_STORE_TS_KEY_BYTES];
	struct tj_incident_summary *sum = NULL;
	struct tj_store_iter it = {0};
	struct tj__list_state ls = {0};
	struct tj_txn t = {0};
	uint64_t ts;
	uint8_t id[32];
	int rc;

	*has_next = false;
	if (q->limit == 0 || q->limit > TJ_LIST_LIMIT_MAX)
		return TJ_ELIMIT;
	if ((sum = tj_incident_summary_new()) == NULL)
		return -ENOMEM;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	if (q->has_after && (rc = tj__after_key(&t, q->after, after)) != 0)
		goto out;
	if ((rc = tj_store_iter_open(&t, true, q->has_after ? after : NULL, &it)) != 0)
		goto out;
	while (ls.emitted < q->limit) {
		rc = tj_store_iter_next(&it, &ts, id);
		if (rc == TJ_ENOTFOUND) {
			rc = 0;
			goto out; /* the end: no next page */
		}
		if (rc != 0)
			goto out;
		/* Bound the work of one call: a filter matching nothing must not scan everything. */
		if (++ls.scanned > TJ_LIST_SCAN_MAX)
			break;
		rc = tj__list_one(n, &t, q, sum, id, cb, ctx, &ls);
		if (rc < 0)
			goto out;
		if (rc == 1)
			break;
		memcpy(ls.last, id, 32);
		ls.has_last = true;
	}
	rc = 0;
	if (ls.has_last) {
		*has_next = true;
		memcpy(next, ls.last, 32);
	}
out:
	tj_store_iter_close(&it);
	tj_txn_abort(&t);
	tj_incident_summary_free(sum);
	return rc;
}

/* Picks the case record of a summary: ours to trust only if its author wrote the summary. */
static int tj__load_case(struct tj_node *n, struct tj_txn *t, struct tj_listed *out)
{
	uint8_t ids[TJ__CASES_PER_SUMMARY_MAX][32];
	uint8_t linked[32];
	struct tj_incident_case *c = NULL;
	struct tj_record rec;
	const uint8_t *enc;
	size_t n_ids = 0, len;
	int rc;

	out->case_status = "none";
	if ((rc = tj_store_case_of_get(t, out->id, ids, TJ__CASES_PER_SUMMARY_MAX, &n_ids)) != 0)
		return rc;
	for (size_t i = 0; i < n_ids; i++) {
		if (tj_store_get(t, ids[i], &enc, &len) != 0 || tj_record_decode(enc, len, &rec) != 0)
			continue;
		if (rec.kind != TJ_KIND_CASE || memcmp(rec.author, out->author, 32) != 0)
			continue;
		rc = tj__open_stored(n, enc, &rec, &out->case_body, &out->case_len);
		if (rc == TJ_ENOKEY) /* shared with us later? (tj_share.h) */
			rc = tj_share_open_case_keys(t, n->u->id, tj_keyring_lookup, n->keyring, ids[i], enc,
			                             &rec, &out->case_body, &out->case_len);
		if (rc == TJ_ENOKEY) {
			out->case_status = "not_shared";
			continue; /* a later one may be readable */
		}
		if (rc != 0)
			continue;
		/* The body must link back to this summary, or it is not its case. */
		if ((c = tj_incident_case_new()) == NULL)
			return -ENOMEM;
		rc = tj_incident_case_decode(out->case_body, out->case_len, c, linked);
		tj_incident_case_free(c);
		if (rc == 0 && memcmp(linked, out->id, 32) == 0) {
			out->case_status = "readable";
			return 0;
		}
		sodium_memzero(out->case_body, out->case_len);
		free(out->case_body);
		out->case_body = NULL;
		out->case_len = 0;
	}
	return 0;
}

int tj_node_show(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles, struct tj_listed *out)
{
	struct tj_incident_summary *sum = NULL;
	struct tj_txn t = {0};
	uint8_t ids[2][32];
	size_t found = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (nibbles < 8 || nibbles > 64)
		return TJ_EMALFORMED;
	if ((sum = tj_incident_summary_new()) == NULL)
		return -ENOMEM;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	if ((rc = tj_store_find_prefix(&t, id_or_prefix, nibbles, ids, 2, &found)) != 0)
		goto out;
	if (found != 1) {
		rc = found == 0 ? TJ_ENOTFOUND : TJ_EEXIST;
		goto out;
	}
	if ((rc = tj__load_incident(n, &t, ids[0], sum, out)) != 0)
		goto out;
	rc = tj__load_case(n, &t, out);
out:
	if (rc != 0)
		tj_listed_free(out);
	tj_txn_abort(&t);
	tj_incident_summary_free(sum);
	return rc;
}

int tj_node_status(struct tj_node *n, struct tj_node_status *out)
{
	struct tj_txn t;
	const uint8_t *v;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	rc = tj_store_stats(&t, &out->store);
	if (rc == 0) {
		int hr = tj_store_meta_get(&t, TJ_META_HEAD, &v, &len);
		if (hr == 0 && len == 40) {
			out->has_head = true;
			out->own_seq = tj_store_rd64(v);
		} else if (hr != 0 && hr != TJ_ENOTFOUND) {
			rc = hr;
		}
	}
	tj_txn_abort(&t);
	out->uptime_s = (tj_now_ms() - n->started_ms) / 1000u;
	return rc;
}
