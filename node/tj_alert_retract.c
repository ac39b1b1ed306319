/*
 * Alerts and retraction (tj_alert.h "Retraction"): what a retracted record
 * leaves behind in the alerts, the query index and the codes is removed.
 *
 * Ingest's transaction tombstones the record (tj_retract.c) and keeps its
 * sealed encoding under 'R' here, since the body is what says which index
 * keys, windows and clusters the incident touched. The alert pass that
 * follows (in its own write transaction, like every evaluation) opens that
 * copy, removes, and deletes the copy; a crash in between leaves the copy
 * for the next start, exactly like a pending mark.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_log.h"
#include "tj_query.h"
#include "tj_seal.h"

#define TJ__RETRACTED_BATCH 64 /* copies handled per walk of 'R' */

int tj_alert_retracted_mark(struct tj_txn *t, const uint8_t id[32], const uint8_t *enc, size_t len)
{
	uint8_t key[33], *copy;
	MDB_val k = {sizeof(key), key}, v;
	struct tj_record rec;
	MDB_dbi dbi;
	int rc;

	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	if (rec.kind != TJ_KIND_INCIDENT && rec.kind != TJ_KIND_ALERT_ACK &&
	    rec.kind != TJ_KIND_ALERT_RESOLVE)
		return 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	/* enc borrows from the same environment: copy it before the write. */
	if ((copy = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(copy, enc, len);
	key[0] = 'R';
	memcpy(key + 1, id, 32);
	v.mv_size = len;
	v.mv_data = copy;
	rc = mdb_put(t->txn, dbi, &k, &v, 0);
	free(copy);
	return rc == 0 ? 0 : rc == MDB_MAP_FULL ? TJ_ESTOREFULL : TJ_ESTORE;
}

/* Deletes the key prefix || id (a one-byte prefix) from "alerts"; absent is fine. */
static int tj__del_prefixed(struct tj_txn *t, uint8_t prefix, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key};
	MDB_dbi dbi;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	key[0] = prefix;
	memcpy(key + 1, id, 32);
	rc = mdb_del(t->txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

/* A retracted acknowledgement or resolution: its entry leaves its alert. */
static int tj__ack_removed(struct tj_node *n, struct tj_txn *t, const uint8_t *enc,
                           const struct tj_record *rec, const uint8_t id[32])
{
	uint8_t plain[128], alert_id[32], key[65];
	char code[TJ_CODE_MAX];
	MDB_val k = {sizeof(key), key};
	size_t plen = 0;
	MDB_dbi dbi;
	int rc;

	if (rec->ciphertext_len > sizeof(plain) + 16)
		return 0;
	rc = tj_record_open(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, plain, sizeof(plain), &plen);
	if (rc == 0)
		rc = tj_alert_ack_body_decode(plain, plen, alert_id, code);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		return 0; /* unreadable or malformed: it was never noted */
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	key[0] = 'K';
	memcpy(key + 1, alert_id, 32);
	memcpy(key + 33, id, 32);
	rc = mdb_del(t->txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

/* One retracted incident: its index entries, codes, the alerts it anchored, it in every window. */
static int tj__incident_removed(struct tj_node *n, struct tj_txn *t, const uint8_t *enc, size_t len,
                                const uint8_t id[32])
{
	struct tj_incident_summary *s = tj_incident_summary_new();
	uint8_t author[32];
	int rc;

	if (s == NULL)
		return -ENOMEM;
	rc = tj_query_open_enc(n, enc, len, s, author, NULL);
	if (rc == TJ_ENOTFOUND || rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		rc = 0; /* unreadable here: nothing was derived from it */
	else if (rc == 0 && (rc = tj_query_index_del(n, t, s, id)) == 0)
		rc = tj__alert_incident_removed(n, t, s, author, id);
	sodium_memzero(s, sizeof(*s));
	tj_incident_summary_free(s);
	return rc;
}

static int tj__retracted_one(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], const uint8_t *enc,
                             size_t len)
{
	struct tj_record rec;
	int rc = 0;

	if (tj_record_decode(enc, len, &rec) != 0) {
		char h[TJ_LOG_HEX_CHARS];
		TJ_LOG_W("alert", "the copy of retracted %s does not decode; dropped", tj_log_hex(id, h));
	} else if (rec.kind == TJ_KIND_INCIDENT) {
		rc = tj__incident_removed(n, t, enc, len, id);
	} else if (rec.kind == TJ_KIND_ALERT_ACK || rec.kind == TJ_KIND_ALERT_RESOLVE) {
		rc = tj__ack_removed(n, t, enc, &rec, id);
	}
	/* Never evaluated, or evaluated: either way nothing of it stays marked. */
	if (rc == 0)
		rc = tj__del_prefixed(t, TJ_STORE_PENDING_PREFIX, id);
	if (rc == 0)
		rc = tj__alert_codes_del(t, id);
	if (rc == 0)
		rc = tj__del_prefixed(t, 'R', id);
	return rc;
}

/* Up to TJ__RETRACTED_BATCH 'R' entries, copied out (ids and encodings). */
struct tj__copies {
	size_t n;
	uint8_t ids[TJ__RETRACTED_BATCH][32];
	uint8_t *enc[TJ__RETRACTED_BATCH];
	size_t len[TJ__RETRACTED_BATCH];
};

static void tj__copies_free(struct tj__copies *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->enc[i]);
	c->n = 0;
}

static int tj__copies_read(struct tj_txn *t, struct tj__copies *c)
{
	uint8_t prefix = 'R';
	MDB_val k = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	c->n = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && c->n < TJ__RETRACTED_BATCH;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 33 || ((const uint8_t *)k.mv_data)[0] != 'R')
			break;
		if ((c->enc[c->n] = malloc(v.mv_size > 0 ? v.mv_size : 1)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		memcpy(c->enc[c->n], v.mv_data, v.mv_size);
		c->len[c->n] = v.mv_size;
		memcpy(c->ids[c->n++], (const uint8_t *)k.mv_data + 1, 32);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : (rc < 0 ? rc : TJ_ESTORE);
}

int tj_alert_retracted_run(struct tj_node *n, struct tj_txn *t)
{
	struct tj__copies *c = malloc(sizeof(*c));
	size_t total = 0;
	int rc;

	if (c == NULL)
		return -ENOMEM;
	do {
		if ((rc = tj__copies_read(t, c)) != 0)
			break;
		for (size_t i = 0; i < c->n && rc == 0; i++)
			rc = tj__retracted_one(n, t, c->ids[i], c->enc[i], c->len[i]);
		total += c->n;
		tj__copies_free(c);
	} while (rc == 0 && total > 0 && total % TJ__RETRACTED_BATCH == 0);
	tj__copies_free(c);
	free(c);
	if (rc == 0 && total > 0)
		TJ_LOG_I("alert", "removed what %zu retracted records left in alerts and the index", total);
	return rc;
}

/* ---- stores of format < 3: alerts anchored at incidents retracted before ---- */

/* Was alert a anchored at one of its (tombstoned) incidents? */
static bool tj__anchored_at(const struct tj_alert *a, const uint8_t inc[32])
{
	uint8_t id[32], key[TJ_CODE_MAX + 32];

	if (a->trigger != TJ_T5_PATTERN) {
		tj__alert_id(a->trigger, inc, 32, id);
		return memcmp(id, a->id, 32) == 0;
	}
	for (uint32_t j = 0; j < a->aggressors.n; j++) {
		size_t xl = strlen(a->aggressors.v[j]) + 1;
		memcpy(key, a->aggressors.v[j], xl);
		memcpy(key + xl, inc, 32);
		tj__alert_id(TJ_T5_PATTERN, key, xl + 32, id);
		if (memcmp(id, a->id, 32) == 0)
			return true;
	}
	return false;
}

/* Collects the ids of alerts anchored at a tombstoned incident (at most cap), and drops such 'C' entries. */
static int tj__tombstoned_scan(struct tj_node *n, struct tj_txn *t, uint8_t (*ids)[32], size_t cap, size_t *k,
                               struct tj_alert *a)
{
	uint8_t prefix = 'A';
	MDB_val key = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	*k = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0 && *k < cap;
	     rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
		if (key.mv_size != 33 || ((const uint8_t *)key.mv_data)[0] != 'A')
			break;
		if (tj__alert_load(n, t, (const uint8_t *)key.mv_data + 1, a) != 0)
			continue;
		for (uint32_t i = 0; i < a->n_incidents; i++) {
			if (tj_store_tombstoned(t, a->incidents[i]) == 0 &&
			    tj__anchored_at(a, a->incidents[i])) {
				memcpy(ids[(*k)++], a->id, 32);
				break;
			}
		}
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

/* Collects (at most cap) incidents with codes ('C') that are tombstoned. */
static int tj__tombstoned_codes(struct tj_txn *t, uint8_t (*ids)[32], size_t cap, size_t *k)
{
	uint8_t prefix = 'C';
	MDB_val key = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	*k = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE); rc == 0 && *k < cap;
	     rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT)) {
		if (key.mv_size != 33 || ((const uint8_t *)key.mv_data)[0] != 'C')
			break;
		if (tj_store_tombstoned(t, (const uint8_t *)key.mv_data + 1) == 0)
			memcpy(ids[(*k)++], (const uint8_t *)key.mv_data + 1, 32);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

int tj__alert_purge_tombstoned(struct tj_node *n, struct tj_txn *t)
{
	enum { CAP = 4096 };
	uint8_t(*ids)[32] = malloc(CAP * 32);
	struct tj_alert *a = malloc(sizeof(*a));
	size_t k = 0;
	int rc = -ENOMEM;

	if (ids != NULL && a != NULL) {
		do {
			if ((rc = tj__tombstoned_scan(n, t, ids, CAP, &k, a)) != 0)
				break;
			for (size_t i = 0; i < k && rc == 0; i++)
				rc = tj__alert_withdraw(n, t, ids[i], true);
		} while (rc == 0 && k == CAP);
		do {
			if (rc != 0 || (rc = tj__tombstoned_codes(t, ids, CAP, &k)) != 0)
				break;
			for (size_t i = 0; i < k && rc == 0; i++)
				rc = tj__alert_codes_del(t, ids[i]);
		} while (rc == 0 && k == CAP);
	}
	free(ids);
	free(a);
	return rc;
}
