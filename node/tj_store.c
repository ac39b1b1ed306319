#include "tj_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tj_log.h"

struct tj_store {
	MDB_env *env;
	MDB_dbi records, by_ts, chain, authors, frozen, tombstones, meta, case_of, victim_idx;
	MDB_dbi alerts, query_idx; /* derived data of node/tj_alert*.c and tj_query*.c */
	uint64_t map_size;
};

/* LMDB allows one environment per file per process; Tejido keeps one in all. */
static bool tj__store_is_open;

void tj_store_be64(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t tj_store_rd64(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* Maps an LMDB return code; logs the ones that are real failures. */
static int tj__mdb_err(int rc, const char *what)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return TJ_ENOTFOUND;
	if (rc == MDB_KEYEXIST)
		return TJ_EEXIST;
	TJ_LOG_E("store", "%s: %s", what, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL || rc == ENOSPC)
		return TJ_ESTOREFULL;
	return TJ_ESTORE;
}

static int tj__open_dbis(struct tj_store *st)
{
	struct {
		const char *name;
		unsigned flags;
		MDB_dbi *dbi;
	} dbs[] = {
		{"records", 0, &st->records},      {"by_ts", 0, &st->by_ts},
		{"chain", MDB_DUPSORT, &st->chain}, {"authors", 0, &st->authors},
		{"frozen", 0, &st->frozen},         {"tombstones", 0, &st->tombstones},
		{"meta", 0, &st->meta},             {"case_of", MDB_DUPSORT, &st->case_of},
		{"victim_idx", MDB_DUPSORT, &st->victim_idx},
		{"alerts", 0, &st->alerts},         {"query_idx", MDB_DUPSORT, &st->query_idx},
	};
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0)
		return tj__mdb_err(rc, "begin (open databases)");
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | MDB_CREATE, dbs[i].dbi);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return tj__mdb_err(rc, "open database");
		}
	}
	return tj__mdb_err(mdb_txn_commit(txn), "commit (open databases)");
}

int tj_store_open(const char *datadir, uint64_t map_size_bytes, struct tj_store **out)
{
	char path[4096];
	struct tj_store *st = NULL;
	int dead = 0;
	int rc, n;

	if (tj__store_is_open)
		return TJ_ESTATE;
	n = snprintf(path, sizeof(path), "%s/%s", datadir, TJ_STORE_DIR_NAME);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->map_size = map_size_bytes != 0 ? map_size_bytes : TJ_STORE_MAP_SIZE_DEFAULT_BYTES;
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		rc = tj__mdb_err(rc, "env create");
		goto out;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)st->map_size)) != 0) {
		rc = tj__mdb_err(rc, "env setup");
		goto out;
	}
	/* MDB_NOTLS: read transactions are not tied to a thread (the pool may read later). */
	if ((rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0) {
		rc = tj__mdb_err(rc, "env open");
		goto out;
	}
	/* Readers left by a process killed with -9 would pin old pages forever. */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		rc = tj__mdb_err(rc, "reader check");
		goto out;
	}
	if (dead > 0)
		TJ_LOG_I("store", "cleared %d stale reader slot(s)", dead);
	if ((rc = tj__open_dbis(st)) != 0)
		goto out;
	tj__store_is_open = true;
	*out = st;
	st = NULL;
out:
	if (st != NULL) {
		if (st->env != NULL)
			mdb_env_close(st->env);
		free(st);
	}
	return rc;
}

int tj_store_ext_dbi(struct tj_store *st, const char *name, MDB_dbi *out)
{
	if (strcmp(name, "alerts") == 0)
		*out = st->alerts;
	else if (strcmp(name, "query_idx") == 0)
		*out = st->query_idx;
	else
		return TJ_ENOTFOUND;
	return 0;
}

void tj_store_close(struct tj_store *st)
{
	if (st == NULL)
		return;
	mdb_env_close(st->env);
	free(st);
	tj__store_is_open = false;
}

int tj_txn_begin(struct tj_store *st, bool write, struct tj_txn *t)
{
	int rc;

	t->st = st;
	t->write = write;
	t->txn = NULL;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		t->txn = NULL;
		return tj__mdb_err(rc, "begin");
	}
	return 0;
}

int tj_txn_commit(struct tj_txn *t)
{
	int rc;

	if (t->txn == NULL)
		return TJ_ESTATE;
	rc = mdb_txn_commit(t->txn); /* frees the txn whatever the result */
	t->txn = NULL;
	return tj__mdb_err(rc, "commit");
}

void tj_txn_abort(struct tj_txn *t)
{
	if (t->txn != NULL)
		mdb_txn_abort(t->txn);
	t->txn = NULL;
}

static MDB_val tj__val(const void *p, size_t n)
{
	MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
	return v;
}

static int tj__get(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, MDB_val *v)
{
	MDB_val key = tj__val(k, kl);
	return tj__mdb_err(mdb_get(t->txn, dbi, &key, v), "get");
}

static int tj__put(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl,
		   unsigned flags)
{
	MDB_val key = tj__val(k, kl);
	MDB_val val = tj__val(v, vl);
	return tj__mdb_err(mdb_put(t->txn, dbi, &key, &val, flags), "put");
}

int tj_store_get(struct tj_txn *t, const uint8_t id[32], const uint8_t **enc, size_t *len)
{
	MDB_val v;
	int rc = tj__get(t, t->st->records, id, 32, &v);

	if (rc == 0) {
		*enc = v.mv_data;
		*len = v.mv_size;
	}
	return rc;
}

int tj_store_has(struct tj_txn *t, const uint8_t id[32])
{
	MDB_val v;
	return tj__get(t, t->st->records, id, 32, &v);
}

void tj_store_ts_key(uint64_t ts_ms, const uint8_t id[32], uint8_t key[TJ_STORE_TS_KEY_BYTES])
{
	tj_store_be64(ts_ms, key);
	memcpy(key + 8, id, 32);
}

/* Adds delta to an 8-byte counter in dbi (created at 0). */
static int tj__count_add(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, int64_t delta)
{
	uint8_t buf[8];
	uint64_t n = 0;
	MDB_val v;
	int rc = tj__get(t, dbi, k, kl, &v);

	if (rc == 0 && v.mv_size == 8)
		n = tj_store_rd64(v.mv_data);
	else if (rc != 0 && rc != TJ_ENOTFOUND)
		return rc;
	n = delta < 0 && n < (uint64_t)-delta ? 0 : n + (uint64_t)delta;
	tj_store_be64(n, buf);
	return tj__put(t, dbi, k, kl, buf, 8, 0);
}

static void tj__kind_counter_name(uint8_t kind, char name[TJ_STORE_META_NAME_MAX])
{
	snprintf(name, TJ_STORE_META_NAME_MAX, "count.kind.%u", (unsigned)kind);
}

/*
 * Records the alert rules read (incidents, acks, resolutions) are marked
 * pending in "alerts" ('P' || id) in the transaction that stores them; the
 * transaction that stores their alert results removes the mark
 * (tj_alert.h), so a crash between the two loses no evaluation.
 */
static int tj__pending_put(struct tj_txn *t, const uint8_t id[32], uint8_t kind)
{
	uint8_t key[33];

	if (kind != TJ_KIND_INCIDENT && kind != TJ_KIND_ALERT_ACK && kind != TJ_KIND_ALERT_RESOLVE)
		return 0;
	key[0] = TJ_STORE_PENDING_PREFIX;
	memcpy(key + 1, id, 32);
	return tj__put(t, t->st->alerts, key, sizeof(key), "", 0, 0);
}

int tj_store_put_record(struct tj_txn *t, const uint8_t id[32], const struct tj_record *rec, const uint8_t *enc,
			size_t len)
{
	struct tj_store *st = t->st;
	uint8_t ts_key[TJ_STORE_TS_KEY_BYTES];
	uint8_t chain_key[40];
	char name[TJ_STORE_META_NAME_MAX];
	int rc;

	rc = tj__put(t, st->records, id, 32, enc, len, MDB_NOOVERWRITE);
	if (rc != 0)
		return rc;
	tj_store_ts_key(rec->ts_ms, id, ts_key);
	if ((rc = tj__put(t, st->by_ts, ts_key, sizeof(ts_key), "", 0, 0)) != 0)
		return rc;
	memcpy(chain_key, rec->author, 32);
	tj_store_be64(rec->seq, chain_key + 32);
	/* NODUPDATA: the same (author, seq, id) twice is one entry, not an error. */
	rc = tj__put(t, st->chain, chain_key, sizeof(chain_key), id, 32, MDB_NODUPDATA);
	if (rc != 0 && rc != TJ_EEXIST)
		return rc;
	if ((rc = tj__count_add(t, st->authors, rec->author, 32, 1)) != 0)
		return rc;
	tj__kind_counter_name(rec->kind, name);
	if ((rc = tj__count_add(t, st->meta, name, strlen(name), 1)) != 0)
		return rc;
	return tj__pending_put(t, id, rec->kind);
}

/* Collects the DUPSORT values (each vsize bytes) under key, at most cap. */
static int tj__dups(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, uint8_t *out, size_t vsize,
		    size_t cap, size_t *n)
{
	MDB_cursor *cur = NULL;
	MDB_val key = tj__val(k, kl);
	MDB_val v;
	int rc;

	*n = 0;
	rc = mdb_cursor_open(t->txn, dbi, &cur);
	if (rc != 0)
		return tj__mdb_err(rc, "cursor open");
	rc = mdb_cursor_get(cur, &key, &v, MDB_SET_KEY);
	while (rc == 0 && *n < cap) {
		if (v.mv_size == vsize) {
			memcpy(out + *n * vsize, v.mv_data, vsize);
			(*n)++;
		}
		rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

int tj_store_chain_ids(struct tj_txn *t, const uint8_t author[32], uint64_t seq, uint8_t (*ids)[32], size_t cap,
		       size_t *n)
{
	uint8_t key[40];

	memcpy(key, author, 32);
	tj_store_be64(seq, key + 32);
	return tj__dups(t, t->st->chain, key, sizeof(key), (uint8_t *)ids, 32, cap, n);
}

int tj_store_freeze(struct tj_txn *t, const uint8_t author[32], const uint8_t id_a[32], const uint8_t id_b[32])
{
	uint8_t ev[64];
	int rc;

	memcpy(ev, id_a, 32);
	memcpy(ev + 32, id_b, 32);
	rc = tj__put(t, t->st->frozen, author, 32, ev, sizeof(ev), MDB_NOOVERWRITE);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_frozen(struct tj_txn *t, const uint8_t author[32], uint8_t evidence[64])
{
	MDB_val v;
	int rc = tj__get(t, t->st->frozen, author, 32, &v);

	if (rc == 0 && evidence != NULL && v.mv_size == 64)
		memcpy(evidence, v.mv_data, 64);
	return rc;
}

/* Deletes a stored record's body and by_ts entry, keeping chain and counts honest. */
static int tj__delete_body(struct tj_txn *t, const uint8_t id[32])
{
	struct tj_store *st = t->st;
	uint8_t ts_key[TJ_STORE_TS_KEY_BYTES];
	char name[TJ_STORE_META_NAME_MAX];
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	MDB_val key;
	int rc;

	rc = tj_store_get(t, id, &enc, &len);
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	/* Stored bytes were verified at ingest; decoding only recovers ts and kind. */
	if ((rc = tj_record_decode(enc, len, &rec)) != 0)
		return TJ_ESTORE;
	tj_store_ts_key(rec.ts_ms, id, ts_key);
	key = tj__val(ts_key, sizeof(ts_key));
	rc = mdb_del(t->txn, st->by_ts, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return tj__mdb_err(rc, "del by_ts");
	tj__kind_counter_name(rec.kind, name);
	if ((rc = tj__count_add(t, st->meta, name, strlen(name), -1)) != 0)
		return rc;
	key = tj__val(id, 32);
	return tj__mdb_err(mdb_del(t->txn, st->records, &key, NULL), "del record");
}

int tj_store_tombstone(struct tj_txn *t, const uint8_t id[32], const uint8_t author[32], uint64_t ts_ms,
		       const char *reason)
{
	uint8_t buf[512];
	struct tj_mp_writer w;
	size_t len;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 3);
	tj_mp_put_bin(&w, author, 32);
	tj_mp_put_uint(&w, ts_ms);
	tj_mp_put_str(&w, reason != NULL ? reason : "", reason != NULL ? strnlen(reason, 256) : 0);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0)
		return rc;
	if ((rc = tj__delete_body(t, id)) != 0)
		return rc;
	rc = tj__put(t, t->st->tombstones, id, 32, buf, len, MDB_NOOVERWRITE);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_tombstoned(struct tj_txn *t, const uint8_t id[32])
{
	MDB_val v;
	return tj__get(t, t->st->tombstones, id, 32, &v);
}

static int tj__meta_name_ok(const char *name, size_t *len)
{
	*len = strnlen(name, TJ_STORE_META_NAME_MAX);
	return *len > 0 && *len < TJ_STORE_META_NAME_MAX ? 0 : TJ_ELIMIT;
}

int tj_store_meta_get(struct tj_txn *t, const char *name, const uint8_t **val, size_t *len)
{
	MDB_val v;
	size_t nl;
	int rc;

	if ((rc = tj__meta_name_ok(name, &nl)) != 0)
		return rc;
	if ((rc = tj__get(t, t->st->meta, name, nl, &v)) == 0) {
		*val = v.mv_data;
		*len = v.mv_size;
	}
	return rc;
}

int tj_store_meta_put(struct tj_txn *t, const char *name, const void *val, size_t len)
{
	size_t nl;
	int rc;

	if ((rc = tj__meta_name_ok(name, &nl)) != 0)
		return rc;
	return tj__put(t, t->st->meta, name, nl, val, len, 0);
}

int tj_store_case_of_put(struct tj_txn *t, const uint8_t summary_id[32], const uint8_t case_id[32])
{
	int rc = tj__put(t, t->st->case_of, summary_id, 32, case_id, 32, MDB_NODUPDATA);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_case_of_get(struct tj_txn *t, const uint8_t summary_id[32], uint8_t (*ids)[32], size_t cap, size_t *n)
{
	return tj__dups(t, t->st->case_of, summary_id, 32, (uint8_t *)ids, 32, cap, n);
}

int tj_store_victim_put(struct tj_txn *t, const uint8_t key[32], uint64_t day, const uint8_t id[32])
{
	uint8_t v[40];
	int rc;

	tj_store_be64(day, v);
	memcpy(v + 8, id, 32);
	rc = tj__put(t, t->st->victim_idx, key, 32, v, sizeof(v), MDB_NODUPDATA);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_victim_any(struct tj_txn *t, const uint8_t key[32], uint64_t day_lo, uint64_t day_hi, bool *found)
{
	MDB_cursor *cur = NULL;
	uint8_t lo[40] = {0};
	MDB_val k = tj__val(key, 32);
	MDB_val v = tj__val(lo, sizeof(lo));
	int rc;

	*found = false;
	tj_store_be64(day_lo, lo);
	if ((rc = mdb_cursor_open(t->txn, t->st->victim_idx, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open");
	/* Duplicates sort by value, and the value starts with the day. */
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && v.mv_size == 40 && tj_store_rd64(v.mv_data) <= day_hi)
		*found = true;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

int tj_store_iter_open(struct tj_txn *t, bool newest_first, const uint8_t *after_key, struct tj_store_iter *it)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->newest_first = newest_first;
	if (after_key != NULL) {
		it->has_after = true;
		memcpy(it->after, after_key, TJ_STORE_TS_KEY_BYTES);
	}
	rc = mdb_cursor_open(t->txn, t->st->by_ts, &it->cur);
	if (rc != 0) {
		it->cur = NULL;
		return tj__mdb_err(rc, "cursor open");
	}
	return 0;
}

/* Positions the cursor on the first entry of the walk. */
static int tj__iter_first(struct tj_store_iter *it, MDB_val *k, MDB_val *v)
{
	int rc;

	if (!it->has_after)
		return mdb_cursor_get(it->cur, k, v, it->newest_first ? MDB_LAST : MDB_FIRST);
	*k = tj__val(it->after, TJ_STORE_TS_KEY_BYTES);
	rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE); /* first key >= after */
	if (it->newest_first) {
		if (rc == MDB_NOTFOUND)
			return mdb_cursor_get(it->cur, k, v, MDB_LAST);
		return rc != 0 ? rc : mdb_cursor_get(it->cur, k, v, MDB_PREV);
	}
	if (rc == 0 && k->mv_size == TJ_STORE_TS_KEY_BYTES && memcmp(k->mv_data, it->after, TJ_STORE_TS_KEY_BYTES) == 0)
		return mdb_cursor_get(it->cur, k, v, MDB_NEXT);
	return rc;
}

int tj_store_iter_next(struct tj_store_iter *it, uint64_t *ts_ms, uint8_t id[32])
{
	MDB_val k, v;
	int rc;

	if (it->cur == NULL)
		return TJ_ESTATE;
	if (!it->started) {
		it->started = true;
		rc = tj__iter_first(it, &k, &v);
	} else {
		rc = mdb_cursor_get(it->cur, &k, &v, it->newest_first ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0)
		return tj__mdb_err(rc, "iterate by_ts");
	if (k.mv_size != TJ_STORE_TS_KEY_BYTES)
		return TJ_ESTORE;
	*ts_ms = tj_store_rd64(k.mv_data);
	memcpy(id, (const uint8_t *)k.mv_data + 8, 32);
	return 0;
}

void tj_store_iter_close(struct tj_store_iter *it)
{
	if (it->cur != NULL)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

static bool tj__prefix_match(const uint8_t *id, const uint8_t *prefix, size_t nibbles)
{
	size_t full = nibbles / 2;

	if (memcmp(id, prefix, full) != 0)
		return false;
	return nibbles % 2 == 0 || (id[full] >> 4) == (prefix[full] >> 4);
}

int tj_store_find_prefix(struct tj_txn *t, const uint8_t *prefix, size_t nibbles, uint8_t (*ids)[32], size_t cap,
			 size_t *n)
{
	uint8_t start[32] = {0};
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	*n = 0;
	if (nibbles == 0 || nibbles > 64)
		return TJ_EMALFORMED;
	memcpy(start, prefix, (nibbles + 1) / 2);
	if (nibbles % 2 != 0)
		start[nibbles / 2] &= 0xf0;
	if ((rc = mdb_cursor_open(t->txn, t->st->records, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open");
	k = tj__val(start, sizeof(start));
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && *n < cap && k.mv_size == 32 && tj__prefix_match(k.mv_data, start, nibbles)) {
		memcpy(ids[*n], k.mv_data, 32);
		(*n)++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

static uint64_t tj__entries(struct tj_txn *t, MDB_dbi dbi)
{
	MDB_stat s;
	return mdb_stat(t->txn, dbi, &s) == 0 ? (uint64_t)s.ms_entries : 0;
}

int tj_store_stats(struct tj_txn *t, struct tj_store_stats *out)
{
	char name[TJ_STORE_META_NAME_MAX];
	MDB_envinfo info;
	MDB_stat est;
	const uint8_t *v;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	out->records = tj__entries(t, t->st->records);
	out->authors = tj__entries(t, t->st->authors);
	out->frozen = tj__entries(t, t->st->frozen);
	out->tombstones = tj__entries(t, t->st->tombstones);
	for (uint8_t k = 0; k < TJ_KIND__COUNT; k++) {
		tj__kind_counter_name(k, name);
		rc = tj_store_meta_get(t, name, &v, &len);
		if (rc == 0 && len == 8)
			out->by_kind[k] = tj_store_rd64(v);
		else if (rc != 0 && rc != TJ_ENOTFOUND)
			return rc;
	}
	out->map_size_bytes = t->st->map_size;
	if (mdb_env_info(t->st->env, &info) == 0 && mdb_env_stat(t->st->env, &est) == 0)
		out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
	return 0;
}
