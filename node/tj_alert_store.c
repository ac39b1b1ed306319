/*
 * Alerts at rest: the "alerts" database (layout in tj_alert.h). Values are
 * sealed with XChaCha20-Poly1305 under a key derived from the node's
 * blinding key, with the LMDB key as associated data, so a value cannot be
 * moved to another key unnoticed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_log.h"
#include "tj_mp.h"

#define TJ__SEAL_CONTEXT "tejido-alert-seal-v1"
#define TJ__PLAIN_MAX (TJ_ALERT_SEALED_MAX_BYTES - 24u - 16u)

static void tj__seal_key(const struct tj_node *n, uint8_t k[32])
{
	crypto_generichash(k, 32, (const uint8_t *)TJ__SEAL_CONTEXT, strlen(TJ__SEAL_CONTEXT), n->blind_key,
	                   32);
}

int tj__alert_dbi(struct tj_txn *t, MDB_dbi *dbi)
{
	return tj_store_ext_dbi(t->st, TJ_ALERT_DBI_NAME, dbi);
}

static int tj__mdb(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return TJ_ENOTFOUND;
	return rc == MDB_MAP_FULL ? TJ_ESTOREFULL : TJ_ESTORE;
}

int tj__alert_put_sealed(struct tj_node *n, struct tj_txn *t, const uint8_t *key, size_t klen,
                         const uint8_t *plain, size_t plen)
{
	uint8_t k[32], buf[TJ_ALERT_SEALED_MAX_BYTES];
	MDB_val mk = {klen, (void *)key}, mv;
	unsigned long long clen = 0;
	MDB_dbi dbi;
	int rc;

	if (plen > TJ__PLAIN_MAX)
		return TJ_ELIMIT;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	tj__seal_key(n, k);
	randombytes_buf(buf, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 24, &clen, plain, plen, key, klen, NULL, buf, k);
	sodium_memzero(k, sizeof(k));
	mv.mv_size = 24 + (size_t)clen;
	mv.mv_data = buf;
	return tj__mdb(mdb_put(t->txn, dbi, &mk, &mv, 0));
}

int tj__alert_open_val(struct tj_node *n, const uint8_t *key, size_t klen, const MDB_val *v, uint8_t *plain,
                       size_t cap, size_t *plen)
{
	unsigned long long len = 0;
	uint8_t k[32];
	int rc;

	if (v->mv_size < 24 + 16 || v->mv_size - 24 - 16 > cap)
		return TJ_ESTORE;
	tj__seal_key(n, k);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &len, NULL, (const uint8_t *)v->mv_data + 24,
	                                                v->mv_size - 24, key, klen, v->mv_data, k);
	sodium_memzero(k, sizeof(k));
	if (rc != 0)
		return TJ_EDECRYPT;
	*plen = (size_t)len;
	return 0;
}

int tj__alert_get_sealed(struct tj_node *n, struct tj_txn *t, const uint8_t *key, size_t klen, uint8_t *plain,
                         size_t cap, size_t *plen)
{
	MDB_val mk = {klen, (void *)key}, mv;
	MDB_dbi dbi;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if ((rc = tj__mdb(mdb_get(t->txn, dbi, &mk, &mv))) != 0)
		return rc;
	return tj__alert_open_val(n, key, klen, &mv, plain, cap, plen);
}

/* ---- the alert's encoding ------------------------------------------------- */

static void tj__put_set(struct tj_mp_writer *w, const struct tj_code_set *s)
{
	tj_mp_put_array(w, s->n);
	for (uint32_t i = 0; i < s->n; i++)
		tj_mp_put_cstr(w, s->v[i]);
}

static int tj__read_set(struct tj_mp_reader *r, struct tj_code_set *s)
{
	const char *p;
	uint32_t n, len;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n > TJ_ALERT_CODES_MAX)
		return TJ_ESTORE;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_str(r, &p, &len)) != 0)
			return rc;
		if (len >= TJ_CODE_MAX)
			return TJ_ESTORE;
		memcpy(s->v[i], p, len);
		s->v[i][len] = '\0';
	}
	s->n = n;
	return 0;
}

/*
 * [trigger, priority, severity, protection, states, acts, aggressors, roles, genders, ids, created, raised,
 * raises, last_event, count, last_day, updates]; format 2 wrote the first 14.
 */
#define TJ__ALERT_FIELDS_OLD 14u
#define TJ__ALERT_FIELDS 17u

static int tj__alert_encode(const struct tj_alert *a, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, TJ__ALERT_FIELDS);
	tj_mp_put_uint(&w, a->trigger);
	tj_mp_put_uint(&w, a->priority);
	tj_mp_put_uint(&w, a->severity);
	tj_mp_put_bool(&w, a->protection);
	tj__put_set(&w, &a->states);
	tj__put_set(&w, &a->acts);
	tj__put_set(&w, &a->aggressors);
	tj__put_set(&w, &a->roles);
	tj__put_set(&w, &a->genders);
	tj_mp_put_array(&w, a->n_incidents);
	for (uint32_t i = 0; i < a->n_incidents; i++)
		tj_mp_put_bin(&w, a->incidents[i], 32);
	tj_mp_put_uint(&w, a->created_ms);
	tj_mp_put_uint(&w, a->raised_ms);
	tj_mp_put_uint(&w, a->raises);
	tj_mp_put_uint(&w, a->last_event);
	tj_mp_put_uint(&w, a->count);
	tj_mp_put_uint(&w, a->last_day);
	tj_mp_put_uint(&w, a->updates);
	return tj_mp_writer_finish(&w, len);
}

static int tj__read_u8(struct tj_mp_reader *r, uint8_t *out)
{
	uint64_t v;
	int rc = tj_mp_read_uint(r, &v);

	if (rc == 0 && v > 255)
		rc = TJ_ESTORE;
	if (rc == 0)
		*out = (uint8_t)v;
	return rc;
}

static int tj__read_u32(struct tj_mp_reader *r, uint32_t *out)
{
	uint64_t v;
	int rc = tj_mp_read_uint(r, &v);

	if (rc == 0 && v > UINT32_MAX)
		rc = TJ_ESTORE;
	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static int tj__alert_decode(const uint8_t *buf, size_t len, struct tj_alert *a)
{
	struct tj_mp_reader r;
	uint64_t raises;
	uint32_t n, fields;
	int rc;

	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &fields)) != 0 ||
	    (fields != TJ__ALERT_FIELDS_OLD && fields != TJ__ALERT_FIELDS))
		return TJ_ESTORE;
	if (tj__read_u8(&r, &a->trigger) != 0 || tj__read_u8(&r, &a->priority) != 0 ||
	    tj__read_u8(&r, &a->severity) != 0 || tj_mp_read_bool(&r, &a->protection) != 0 ||
	    tj__read_set(&r, &a->states) != 0 || tj__read_set(&r, &a->acts) != 0 ||
	    tj__read_set(&r, &a->aggressors) != 0 || tj__read_set(&r, &a->roles) != 0 ||
	    tj__read_set(&r, &a->genders) != 0 || tj_mp_read_array(&r, &n) != 0 || n > TJ_ALERT_INCIDENTS_MAX)
		return TJ_ESTORE;
	for (uint32_t i = 0; i < n; i++)
		if (tj_mp_read_bin_exact(&r, a->incidents[i], 32) != 0)
			return TJ_ESTORE;
	a->n_incidents = n;
	if (tj_mp_read_uint(&r, &a->created_ms) != 0 || tj_mp_read_uint(&r, &a->raised_ms) != 0 ||
	    tj_mp_read_uint(&r, &raises) != 0 || raises > UINT32_MAX ||
	    tj_mp_read_uint(&r, &a->last_event) != 0)
		return TJ_ESTORE;
	a->raises = (uint32_t)raises;
	a->count = a->n_incidents; /* format 2: what it listed */
	if (fields == TJ__ALERT_FIELDS &&
	    (tj__read_u32(&r, &a->count) != 0 || tj__read_u32(&r, &a->last_day) != 0 ||
	     tj__read_u32(&r, &a->updates) != 0))
		return TJ_ESTORE;
	return 0;
}

/* ---- alerts, events ------------------------------------------------------- */

static void tj__akey(const uint8_t id[32], uint8_t key[33])
{
	key[0] = 'A';
	memcpy(key + 1, id, 32);
}

int tj__alert_put(struct tj_node *n, struct tj_txn *t, const struct tj_alert *a)
{
	uint8_t key[33], buf[TJ__PLAIN_MAX];
	size_t len = 0;
	int rc;

	if ((rc = tj__alert_encode(a, buf, sizeof(buf), &len)) != 0)
		return rc;
	tj__akey(a->id, key);
	rc = tj__alert_put_sealed(n, t, key, sizeof(key), buf, len);
	sodium_memzero(buf, len);
	return rc;
}

/* The stored alert alone (no acks). */
int tj__alert_load(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert *a)
{
	uint8_t key[33], buf[TJ__PLAIN_MAX];
	size_t len = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	tj__akey(id, key);
	if ((rc = tj__alert_get_sealed(n, t, key, sizeof(key), buf, sizeof(buf), &len)) == 0)
		rc = tj__alert_decode(buf, len, a);
	sodium_memzero(buf, sizeof(buf));
	if (rc == 0)
		memcpy(a->id, id, 32);
	return rc;
}

int tj__alert_u64_get(struct tj_txn *t, char name, uint64_t *v)
{
	MDB_val k = {1, &name}, val;
	MDB_dbi dbi;
	int rc;

	*v = 0;
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	rc = tj__mdb(mdb_get(t->txn, dbi, &k, &val));
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc == 0 && val.mv_size != 8)
		return TJ_ESTORE;
	if (rc == 0)
		*v = tj_store_rd64(val.mv_data);
	return rc;
}

int tj__alert_u64_put(struct tj_txn *t, char name, uint64_t v)
{
	uint8_t b[8];
	MDB_val k = {1, &name}, val = {8, b};
	MDB_dbi dbi;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	tj_store_be64(v, b);
	return tj__mdb(mdb_put(t->txn, dbi, &k, &val, 0));
}

int tj__alert_event_append(struct tj_txn *t, const uint8_t id[32], uint8_t kind, uint64_t *seq)
{
	uint8_t key[9], val[33];
	MDB_val k = {sizeof(key), key}, v = {sizeof(val), val};
	MDB_dbi dbi;
	uint64_t next;
	int rc;

	if ((rc = tj__alert_dbi(t, &dbi)) != 0 || (rc = tj__alert_u64_get(t, 'N', &next)) != 0)
		return rc;
	next++;
	memcpy(val, id, 32);
	val[32] = kind;
	key[0] = 'E';
	tj_store_be64(next, key + 1);
	if ((rc = tj__mdb(mdb_put(t->txn, dbi, &k, &v, 0))) != 0)
		return rc;
	if (seq != NULL)
		*seq = next;
	return tj__alert_u64_put(t, 'N', next);
}

/* ---- the codes of one incident ('C') --------------------------------------- */

/* [state, severity, protection, acts, aggressors, roles, genders] */
int tj__alert_codes_put(struct tj_node *n, struct tj_txn *t, const uint8_t id[32],
                        const struct tj_alert_codes *c)
{
	uint8_t key[33], buf[TJ__PLAIN_MAX];
	struct tj_mp_writer w;
	size_t len = 0;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 3 + TJ__C_LISTS);
	tj_mp_put_cstr(&w, c->state);
	tj_mp_put_uint(&w, c->severity);
	tj_mp_put_bool(&w, c->protection);
	for (size_t l = 0; l < TJ__C_LISTS; l++) {
		tj_mp_put_array(&w, c->n[l]);
		for (uint32_t i = 0; i < c->n[l]; i++)
			tj_mp_put_cstr(&w, c->v[l][i]);
	}
	if ((rc = tj_mp_writer_finish(&w, &len)) == 0) {
		key[0] = 'C';
		memcpy(key + 1, id, 32);
		rc = tj__alert_put_sealed(n, t, key, sizeof(key), buf, len);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int tj__read_code(struct tj_mp_reader *r, char out[TJ_CODE_MAX])
{
	const char *p;
	uint32_t len;

	if (tj_mp_read_str(r, &p, &len) != 0 || len >= TJ_CODE_MAX)
		return TJ_ESTORE;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static int tj__codes_decode(const uint8_t *buf, size_t len, struct tj_alert_codes *c)
{
	struct tj_mp_reader r;
	uint32_t n;

	tj_mp_reader_init(&r, buf, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 3 + TJ__C_LISTS || tj__read_code(&r, c->state) != 0 ||
	    tj__read_u8(&r, &c->severity) != 0 || tj_mp_read_bool(&r, &c->protection) != 0)
		return TJ_ESTORE;
	for (size_t l = 0; l < TJ__C_LISTS; l++) {
		if (tj_mp_read_array(&r, &c->n[l]) != 0 || c->n[l] > TJ_ALERT_INC_CODES_MAX)
			return TJ_ESTORE;
		for (uint32_t i = 0; i < c->n[l]; i++)
			if (tj__read_code(&r, c->v[l][i]) != 0)
				return TJ_ESTORE;
	}
	return 0;
}

int tj__alert_codes_get(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert_codes *c)
{
	uint8_t key[33], buf[TJ__PLAIN_MAX];
	size_t len = 0;
	int rc;

	key[0] = 'C';
	memcpy(key + 1, id, 32);
	if ((rc = tj__alert_get_sealed(n, t, key, sizeof(key), buf, sizeof(buf), &len)) == 0)
		rc = tj__codes_decode(buf, len, c);
	sodium_memzero(buf, len);
	return rc;
}

int tj__alert_codes_del(struct tj_txn *t, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key};
	MDB_dbi dbi;
	int rc;

	key[0] = 'C';
	memcpy(key + 1, id, 32);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	rc = mdb_del(t->txn, dbi, &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

/* ---- acknowledgements ----------------------------------------------------- */

/* The 'K' entries of alert a: acks, and from them its status. */
static int tj__alert_acks(struct tj_node *n, struct tj_txn *t, struct tj_alert *a)
{
	uint8_t key[65], plain[128];
	MDB_val k = {33, key}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	a->n_acks = 0;
	a->status = TJ_ALERT_OPEN;
	key[0] = 'K';
	memcpy(key + 1, a->id, 32);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct tj_alert_ack ack;
		size_t plen = 0;
		if (k.mv_size != 65 || memcmp(k.mv_data, key, 33) != 0)
			break;
		if (tj__alert_open_val(n, k.mv_data, k.mv_size, &v, plain, sizeof(plain), &plen) != 0 ||
		    tj__ack_decode(plain, plen, &ack) != 0)
			continue; /* a damaged entry hides one ack, not the alert */
		if (ack.kind == TJ_KIND_ALERT_RESOLVE)
			a->status = TJ_ALERT_RESOLVED;
		else if (a->status == TJ_ALERT_OPEN)
			a->status = TJ_ALERT_ACKNOWLEDGED;
		if (a->n_acks < TJ_ALERT_ACKS_MAX)
			a->acks[a->n_acks++] = ack;
	}
	mdb_cursor_close(cur);
	sodium_memzero(plain, sizeof(plain));
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

int tj_alert_get(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert *out)
{
	int rc = tj__alert_load(n, t, id, out);

	return rc != 0 ? rc : tj__alert_acks(n, t, out);
}

/* [kind, author(bin 32), ts_ms, code] */
int tj__ack_put(struct tj_node *n, struct tj_txn *t, const uint8_t alert_id[32], const uint8_t record_id[32],
                const struct tj_alert_ack *ack)
{
	uint8_t key[65], buf[128];
	struct tj_mp_writer w;
	size_t len = 0;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 4);
	tj_mp_put_uint(&w, ack->kind);
	tj_mp_put_bin(&w, ack->author, 32);
	tj_mp_put_uint(&w, ack->ts_ms);
	tj_mp_put_cstr(&w, ack->code);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0)
		return rc;
	key[0] = 'K';
	memcpy(key + 1, alert_id, 32);
	memcpy(key + 33, record_id, 32);
	rc = tj__alert_put_sealed(n, t, key, sizeof(key), buf, len);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int tj__ack_decode(const uint8_t *buf, size_t len, struct tj_alert_ack *ack)
{
	struct tj_mp_reader r;
	const char *p;
	uint32_t n, slen;

	memset(ack, 0, sizeof(*ack));
	tj_mp_reader_init(&r, buf, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 4 || tj__read_u8(&r, &ack->kind) != 0 ||
	    tj_mp_read_bin_exact(&r, ack->author, 32) != 0 || tj_mp_read_uint(&r, &ack->ts_ms) != 0 ||
	    tj_mp_read_str(&r, &p, &slen) != 0 || slen >= TJ_CODE_MAX)
		return TJ_ESTORE;
	memcpy(ack->code, p, slen);
	ack->code[slen] = '\0';
	return 0;
}

/* ---- hook cursor and events ------------------------------------------------ */

int tj_alert_hook_cursor(struct tj_node *n, uint64_t *delivered)
{
	struct tj_txn t;
	int rc;

	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	rc = tj__alert_u64_get(&t, 'H', delivered);
	tj_txn_abort(&t);
	return rc;
}

int tj_alert_hook_advance(struct tj_node *n, uint64_t delivered)
{
	struct tj_txn t;
	int rc;

	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	if ((rc = tj__alert_u64_put(&t, 'H', delivered)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	return rc;
}

/* An event's value: the alert id and, since format 3, its kind; *kind = 0 when malformed. */
static void tj__event_value(const MDB_val *v, uint8_t id[32], uint8_t *kind)
{
	*kind = 0;
	if (v->mv_size != 32 && v->mv_size != 33)
		return;
	memcpy(id, v->mv_data, 32);
	*kind = v->mv_size == 33 ? ((const uint8_t *)v->mv_data)[32] : TJ_EVENT_RAISE;
}

int tj_alert_event(struct tj_node *n, uint64_t seq, struct tj_alert *out)
{
	uint8_t key[9], id[32], kind = 0;
	MDB_val k = {sizeof(key), key}, v;
	uint64_t last = 0;
	struct tj_txn t;
	MDB_dbi dbi;
	int rc;

	key[0] = 'E';
	tj_store_be64(seq, key + 1);
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if ((rc = tj__alert_dbi(&t, &dbi)) == 0 && (rc = tj__mdb(mdb_get(t.txn, dbi, &k, &v))) == 0) {
		tj__event_value(&v, id, &kind);
		rc = kind == 0 ? TJ_ESTORE : tj_alert_get(n, &t, id, out);
		out->event_kind = kind;
	}
	/* An event of a withdrawn alert, or one deleted with it: read as withdrawn, never as the end. */
	if (rc == TJ_ENOTFOUND && seq > 0 && tj__alert_u64_get(&t, 'N', &last) == 0 && seq <= last) {
		memset(out, 0, sizeof(*out));
		out->withdrawn = true;
		rc = 0;
	}
	tj_txn_abort(&t);
	return rc;
}

void tj__alert_event_value(const MDB_val *v, uint8_t id[32], uint8_t *kind)
{
	tj__event_value(v, id, kind);
}

/* ---- withdrawing ------------------------------------------------------------ */

/* Alerts purged in the current write transaction, whose events still have to go. Loop thread only. */
static struct {
	uint8_t (*ids)[32];
	size_t n, cap;
} tj__gone;

static int tj__gone_add(const uint8_t id[32])
{
	if (tj__gone.n == tj__gone.cap) {
		size_t cap = tj__gone.cap == 0 ? 16 : tj__gone.cap * 2;
		uint8_t(*ids)[32] = realloc(tj__gone.ids, cap * 32);
		if (ids == NULL)
			return -ENOMEM;
		tj__gone.ids = ids;
		tj__gone.cap = cap;
	}
	memcpy(tj__gone.ids[tj__gone.n++], id, 32);
	return 0;
}

void tj__alert_events_forget(void)
{
	free(tj__gone.ids);
	memset(&tj__gone, 0, sizeof(tj__gone));
}

static int tj__cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int tj__alert_events_purge(struct tj_txn *t)
{
	uint8_t prefix = 'E', id[32], kind;
	MDB_val k = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	if (tj__gone.n == 0)
		return 0;
	qsort(tj__gone.ids, tj__gone.n, 32, tj__cmp_id);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		goto out;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0) {
		rc = TJ_ESTORE;
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 9 || ((const uint8_t *)k.mv_data)[0] != 'E')
			break;
		tj__event_value(&v, id, &kind);
		if (kind != 0 && bsearch(id, tj__gone.ids, tj__gone.n, 32, tj__cmp_id) != NULL &&
		    mdb_cursor_del(cur, 0) != 0)
			break;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
	mdb_cursor_close(cur);
out:
	tj__alert_events_forget();
	return rc;
}

/* Deletes every 'K' entry of alert id. */
static int tj__acks_delete(struct tj_txn *t, MDB_dbi dbi, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key}, v;
	MDB_cursor *cur = NULL;
	int rc;

	key[0] = 'K';
	memcpy(key + 1, id, 32);
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 65 || memcmp(k.mv_data, key, 33) != 0)
			break;
		if (mdb_cursor_del(cur, 0) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

/*
 * 'X' || a keyed hash of a purged alert's id: acknowledgements that arrive
 * for it later are not noted (their entry would name it again). Keyed by
 * the blinding key, so the entry does not say which alert it was.
 */
static void tj__purged_key(const struct tj_node *n, const uint8_t id[32], uint8_t key[33])
{
	static const char ctx[] = "tejido-alert-purged-v1";
	uint8_t k[32];

	crypto_generichash(k, 32, (const uint8_t *)ctx, sizeof(ctx) - 1, n->blind_key, 32);
	key[0] = 'X';
	crypto_generichash(key + 1, 32, id, 32, k, 32);
	sodium_memzero(k, sizeof(k));
}

static int tj__purged_put(struct tj_node *n, struct tj_txn *t, MDB_dbi dbi, const uint8_t id[32])
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key}, v = {0, (void *)""};

	tj__purged_key(n, id, key);
	return tj__mdb(mdb_put(t->txn, dbi, &k, &v, 0));
}

int tj__alert_withdraw(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], bool purge)
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key};
	MDB_dbi dbi;
	int rc;

	tj__akey(id, key);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	rc = mdb_del(t->txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND && !purge)
		return 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return TJ_ESTORE;
	if (!purge)
		return 0;
	if ((rc = tj__acks_delete(t, dbi, id)) != 0 || (rc = tj__purged_put(n, t, dbi, id)) != 0)
		return rc;
	return tj__gone_add(id);
}

int tj__alert_purged(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], bool *purged)
{
	uint8_t key[33];
	MDB_val k = {sizeof(key), key}, v;
	MDB_dbi dbi;
	int rc;

	*purged = false;
	tj__purged_key(n, id, key);
	if ((rc = tj__alert_dbi(t, &dbi)) != 0)
		return rc;
	rc = mdb_get(t->txn, dbi, &k, &v);
	*purged = rc == 0;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}
