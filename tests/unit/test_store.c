/*
 * The LMDB store: batch put/get, by_ts order and paging, chain duplicates
 * (both records of an equivocation kept), frozen authors, tombstones,
 * meta, case_of, the blinded victim index, prefix search, reopen persists,
 * one environment per process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "tj_node_testutil.h"
#include "tj_store.h"

struct fx {
	char dir[64];
	struct tj_store *st;
	struct tj_identity *author;
	struct tj_sym_key epoch;
	uint8_t net[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	tt_tmpdir(f->dir);
	assert_int_equal(tj_store_open(f->dir, 64u << 20, &f->st), 0);
	assert_int_equal(tj_identity_generate(&f->author), 0);
	tt_sym(&f->epoch);
	randombytes_buf(f->net, 32);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_store_close(f->st);
	tj_identity_free(f->author);
	sodium_free(f->epoch.key);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

/* Stores one record in its own transaction. */
static void put_one(struct fx *f, const uint8_t *enc, size_t len, const uint8_t id[32])
{
	struct tj_record rec;
	struct tj_txn t;

	assert_int_equal(tj_record_decode(enc, len, &rec), 0);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_put_record(&t, id, &rec, enc, len), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
}

static void test_batch_put_get_order(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[5][TT_REC_CAP];
	uint8_t ids[5][32], id[32];
	uint64_t ts_order[5] = {5000, 1000, 3000, 2000, 4000};
	size_t len[5], n;
	struct tj_record rec;
	struct tj_store_iter it;
	struct tj_txn t;
	const uint8_t *got;
	size_t got_len;
	uint64_t ts, prev_ts;

	/* One write transaction for the whole batch. */
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	for (int i = 0; i < 5; i++) {
		len[i] = tt_record(f->author, f->net, TJ_KIND_INCIDENT, (uint64_t)i, i > 0 ? ids[i - 1] : NULL,
				   ts_order[i], &f->epoch, "body", enc[i], ids[i]);
		assert_int_equal(tj_record_decode(enc[i], len[i], &rec), 0);
		assert_int_equal(tj_store_put_record(&t, ids[i], &rec, enc[i], len[i]), 0);
	}
	/* Same id twice: refused, never overwritten. */
	assert_int_equal(tj_record_decode(enc[0], len[0], &rec), 0);
	assert_int_equal(tj_store_put_record(&t, ids[0], &rec, enc[0], len[0]), TJ_EEXIST);
	assert_int_equal(tj_txn_commit(&t), 0);

	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tj_store_get(&t, ids[i], &got, &got_len), 0);
		assert_int_equal(got_len, len[i]);
		assert_memory_equal(got, enc[i], len[i]);
	}
	randombytes_buf(id, 32);
	assert_int_equal(tj_store_get(&t, id, &got, &got_len), TJ_ENOTFOUND);
	/* Newest first: strictly decreasing ts. */
	assert_int_equal(tj_store_iter_open(&t, true, NULL, &it), 0);
	prev_ts = UINT64_MAX;
	n = 0;
	while (tj_store_iter_next(&it, &ts, id) == 0) {
		assert_true(ts < prev_ts);
		prev_ts = ts;
		n++;
	}
	tj_store_iter_close(&it);
	assert_int_equal(n, 5);
	/* Paging: after the 3000 entry, newest first, comes 2000 then 1000. */
	{
		uint8_t key[TJ_STORE_TS_KEY_BYTES];
		tj_store_ts_key(3000, ids[2], key);
		assert_int_equal(tj_store_iter_open(&t, true, key, &it), 0);
		assert_int_equal(tj_store_iter_next(&it, &ts, id), 0);
		assert_int_equal(ts, 2000);
		assert_memory_equal(id, ids[3], 32);
		assert_int_equal(tj_store_iter_next(&it, &ts, id), 0);
		assert_int_equal(ts, 1000);
		assert_int_equal(tj_store_iter_next(&it, &ts, id), TJ_ENOTFOUND);
		tj_store_iter_close(&it);
		/* Oldest first after 3000: 4000, 5000. */
		assert_int_equal(tj_store_iter_open(&t, false, key, &it), 0);
		assert_int_equal(tj_store_iter_next(&it, &ts, id), 0);
		assert_int_equal(ts, 4000);
		tj_store_iter_close(&it);
	}
	tj_txn_abort(&t);
}

static void test_aborted_batch_stores_nothing(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	struct tj_record rec;
	struct tj_txn t;
	uint8_t id[32];
	size_t len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 0, NULL, 1000, &f->epoch, "x", enc, id);

	assert_int_equal(tj_record_decode(enc, len, &rec), 0);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_put_record(&t, id, &rec, enc, len), 0);
	tj_txn_abort(&t);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_has(&t, id), TJ_ENOTFOUND);
	tj_txn_abort(&t);
}

static void test_chain_dups_and_freeze(void **state)
{
	struct fx *f = *state;
	static uint8_t a[TT_REC_CAP], b[TT_REC_CAP];
	uint8_t ida[32], idb[32], ids[4][32], ev[64], prev[32];
	struct tj_store_stats stats;
	struct tj_txn t;
	size_t la, lb, n;

	/* Two different records with one (author, seq), both naming one prev. */
	randombytes_buf(prev, 32);
	la = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 7, prev, 1000, &f->epoch, "one", a, ida);
	lb = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 7, prev, 1001, &f->epoch, "two", b, idb);
	put_one(f, a, la, ida);
	put_one(f, b, lb, idb);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_chain_ids(&t, f->author->pk, 7, ids, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_true((memcmp(ids[0], ida, 32) == 0 && memcmp(ids[1], idb, 32) == 0) ||
		    (memcmp(ids[0], idb, 32) == 0 && memcmp(ids[1], ida, 32) == 0));
	assert_int_equal(tj_store_frozen(&t, f->author->pk, ev), TJ_ENOTFOUND);
	assert_int_equal(tj_store_freeze(&t, f->author->pk, ida, idb), 0);
	/* A second freeze keeps the first evidence. */
	assert_int_equal(tj_store_freeze(&t, f->author->pk, idb, idb), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_frozen(&t, f->author->pk, ev), 0);
	assert_memory_equal(ev, ida, 32);
	assert_memory_equal(ev + 32, idb, 32);
	assert_int_equal(tj_store_stats(&t, &stats), 0);
	assert_int_equal(stats.records, 2);
	assert_int_equal(stats.authors, 1);
	assert_int_equal(stats.frozen, 1);
	assert_int_equal(stats.by_kind[TJ_KIND_INCIDENT], 2);
	tj_txn_abort(&t);
}

static void test_tombstone(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	struct tj_store_stats stats;
	struct tj_store_iter it;
	struct tj_txn t;
	uint8_t id[32], got_id[32];
	uint64_t ts;
	size_t len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 0, NULL, 1000, &f->epoch, "gone", enc, id);

	put_one(f, enc, len, id);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_tombstoned(&t, id), TJ_ENOTFOUND);
	assert_int_equal(tj_store_tombstone(&t, id, f->author->pk, 2000, "retracted by author"), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_tombstoned(&t, id), 0);
	assert_int_equal(tj_store_has(&t, id), TJ_ENOTFOUND);
	assert_int_equal(tj_store_iter_open(&t, true, NULL, &it), 0);
	assert_int_equal(tj_store_iter_next(&it, &ts, got_id), TJ_ENOTFOUND); /* body and index gone */
	tj_store_iter_close(&it);
	assert_int_equal(tj_store_stats(&t, &stats), 0);
	assert_int_equal(stats.records, 0);
	assert_int_equal(stats.tombstones, 1);
	assert_int_equal(stats.by_kind[TJ_KIND_INCIDENT], 0);
	tj_txn_abort(&t);
}

static void test_meta_case_of_victim_prefix(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	uint8_t sid[32], c1[32], c2[32], ids[4][32], key[32], id[32], prefix[32];
	const uint8_t *v;
	struct tj_txn t;
	size_t vl, n;
	bool found;

	randombytes_buf(sid, 32);
	randombytes_buf(c1, 32);
	randombytes_buf(c2, 32);
	randombytes_buf(key, 32);
	size_t len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 0, NULL, 1000, &f->epoch, "p", enc, id);
	put_one(f, enc, len, id);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, "x", &v, &vl), TJ_ENOTFOUND);
	assert_int_equal(tj_store_meta_put(&t, "x", "abc", 3), 0);
	assert_int_equal(tj_store_case_of_put(&t, sid, c1), 0);
	assert_int_equal(tj_store_case_of_put(&t, sid, c2), 0);
	assert_int_equal(tj_store_case_of_put(&t, sid, c2), 0); /* idempotent */
	assert_int_equal(tj_store_victim_put(&t, key, 20000, c1), 0);
	assert_int_equal(tj_txn_commit(&t), 0);

	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, "x", &v, &vl), 0);
	assert_int_equal(vl, 3);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(tj_store_case_of_get(&t, sid, ids, 4, &n), 0);
	assert_int_equal(n, 2);
	/* Window checks: [lo, hi] inclusive. */
	assert_int_equal(tj_store_victim_any(&t, key, 19910, 20000, &found), 0);
	assert_true(found);
	assert_int_equal(tj_store_victim_any(&t, key, 20001, 20090, &found), 0);
	assert_false(found);
	assert_int_equal(tj_store_victim_any(&t, key, 19000, 19999, &found), 0);
	assert_false(found);
	/* Prefix search: 8 nibbles of the stored id find it; odd lengths too. */
	memset(prefix, 0, sizeof(prefix));
	memcpy(prefix, id, 4);
	assert_int_equal(tj_store_find_prefix(&t, prefix, 8, ids, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(ids[0], id, 32);
	prefix[4] = id[4];
	assert_int_equal(tj_store_find_prefix(&t, prefix, 9, ids, 2, &n), 0);
	assert_int_equal(n, 1);
	prefix[0] ^= 0xff;
	assert_int_equal(tj_store_find_prefix(&t, prefix, 8, ids, 2, &n), 0);
	assert_int_equal(n, 0);
	tj_txn_abort(&t);
}

static void test_prefix_ambiguous(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	uint8_t ids[40][32], found[2][32], prev[32];
	struct tj_txn t;
	size_t n, len, same = 0;

	/* 40 records: by pigeonhole, two share their first hex digit. */
	randombytes_buf(prev, 32);
	for (uint64_t i = 0; i < 40; i++) {
		len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, i + 1, prev, 1000 + i, &f->epoch, "a", enc, ids[i]);
		put_one(f, enc, len, ids[i]);
	}
	/* Pigeonhole: of 40 ids, some two share a first hex digit. */
	for (size_t i = 0; i < 40 && same == 0; i++)
		for (size_t j = i + 1; j < 40 && same == 0; j++)
			if (ids[i][0] >> 4 == ids[j][0] >> 4)
				same = i + 1;
	assert_true(same > 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	/* One nibble then matches at least two: cap 2 tells ambiguous from unique. */
	assert_int_equal(tj_store_find_prefix(&t, ids[same - 1], 1, found, 2, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(found[i][0] >> 4, ids[same - 1][0] >> 4);
	/* The full id is unique. */
	assert_int_equal(tj_store_find_prefix(&t, ids[0], 64, found, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(found[0], ids[0], 32);
	assert_int_equal(tj_store_find_prefix(&t, ids[0], 0, found, 2, &n), TJ_EMALFORMED);
	assert_int_equal(tj_store_find_prefix(&t, ids[0], 65, found, 2, &n), TJ_EMALFORMED);
	tj_txn_abort(&t);
}

static void test_reopen_persists_and_one_env(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	struct tj_store *second = NULL;
	struct tj_txn t;
	uint8_t id[32];
	size_t len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, 0, NULL, 1000, &f->epoch, "kept", enc, id);

	put_one(f, enc, len, id);
	/* One environment per process. */
	assert_int_equal(tj_store_open(f->dir, 64u << 20, &second), TJ_ESTATE);
	tj_store_close(f->st);
	f->st = NULL;
	assert_int_equal(tj_store_open(f->dir, 64u << 20, &f->st), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_has(&t, id), 0);
	tj_txn_abort(&t);
}

static void test_map_full(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	static char body[40000];
	struct tj_record rec;
	struct tj_txn t;
	uint8_t id[32];
	int rc = 0;

	/* A tiny map (1 MiB) fills after a few dozen 40 KB records. */
	tj_store_close(f->st);
	tt_rmdir(f->dir);
	tt_tmpdir(f->dir);
	assert_int_equal(tj_store_open(f->dir, 1u << 20, &f->st), 0);
	memset(body, 'a', sizeof(body) - 1);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	for (uint64_t i = 0; i < 100 && rc == 0; i++) {
		size_t len = tt_record(f->author, f->net, TJ_KIND_INCIDENT, i, i > 0 ? id : NULL, 1000 + i, &f->epoch,
				       body, enc, id);
		assert_int_equal(tj_record_decode(enc, len, &rec), 0);
		rc = tj_store_put_record(&t, id, &rec, enc, len);
	}
	assert_int_equal(rc, TJ_ESTOREFULL);
	tj_txn_abort(&t);
}


/*
 * Bodies are packed in chunks of ~64 KiB: 150 records of ~1 KiB in one
 * transaction span several chunks; pointers handed out during it stay valid
 * until it ends; a later small transaction continues the last chunk; a
 * tombstone zeroes a body in an earlier chunk and one in the open chunk.
 */
static void test_chunks(void **state)
{
	enum { N = 150 };
	struct fx *f = *state;
	static uint8_t enc[N + 1][2048];
	static char body[1000];
	const uint8_t *got[N];
	uint8_t ids[N + 1][32];
	size_t len[N + 1], got_len;
	struct tj_record rec;
	struct tj_txn t;

	memset(body, 'c', sizeof(body) - 1);
	for (size_t i = 0; i <= N; i++) {
		len[i] = tt_record(f->author, f->net, TJ_KIND_INCIDENT, i, i > 0 ? ids[i - 1] : NULL, 1000 + i,
				   &f->epoch, body, enc[i], ids[i]);
		assert_true(len[i] <= sizeof(enc[i]));
	}
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(tj_record_decode(enc[i], len[i], &rec), 0);
		assert_int_equal(tj_store_put_record(&t, ids[i], &rec, enc[i], len[i]), 0);
		assert_int_equal(tj_store_get(&t, ids[i], &got[i], &got_len), 0);
		assert_int_equal(got_len, len[i]);
	}
	for (size_t i = 0; i < N; i++) /* still valid: the transaction has not ended */
		assert_memory_equal(got[i], enc[i], len[i]);
	assert_int_equal(tj_txn_commit(&t), 0);
	/* A small transaction: one more record (continuing the last chunk) and two tombstones. */
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_record_decode(enc[N], len[N], &rec), 0);
	assert_int_equal(tj_store_put_record(&t, ids[N], &rec, enc[N], len[N]), 0);
	assert_int_equal(tj_store_tombstone(&t, ids[1], f->author->pk, 5000, "first chunk"), 0);
	assert_int_equal(tj_store_tombstone(&t, ids[N - 1], f->author->pk, 5000, "open chunk"), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	tj_store_close(f->st);
	f->st = NULL;
	assert_int_equal(tj_store_open(f->dir, 64u << 20, &f->st), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	for (size_t i = 0; i <= N; i++) {
		if (i == 1 || i == N - 1) {
			assert_int_equal(tj_store_get(&t, ids[i], &got[0], &got_len), TJ_ENOTFOUND);
			continue;
		}
		assert_int_equal(tj_store_get(&t, ids[i], &got[0], &got_len), 0);
		assert_int_equal(got_len, len[i]);
		assert_memory_equal(got[0], enc[i], len[i]);
	}
	tj_txn_abort(&t);
}

/* A store of format 1 ("records": id -> encoding) is migrated when opened. */
static void test_migrates_format_1(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[3][TT_REC_CAP];
	uint8_t ids[3][32];
	size_t len[3], got_len;
	char path[128];
	const uint8_t *got;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	struct tj_txn t;

	tj_store_close(f->st);
	f->st = NULL;
	tt_rmdir(f->dir);
	tt_tmpdir(f->dir);
	snprintf(path, sizeof(path), "%s/store", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "records", MDB_CREATE, &dbi), 0);
	for (size_t i = 0; i < 3; i++) {
		len[i] = tt_record(f->author, f->net, TJ_KIND_INCIDENT, i, i > 0 ? ids[i - 1] : NULL, 1000 + i,
				   &f->epoch, "old", enc[i], ids[i]);
		MDB_val k = {.mv_size = 32, .mv_data = ids[i]}, v = {.mv_size = len[i], .mv_data = enc[i]};
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(tj_store_open(f->dir, 64u << 20, &f->st), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(tj_store_get(&t, ids[i], &got, &got_len), 0);
		assert_int_equal(got_len, len[i]);
		assert_memory_equal(got, enc[i], len[i]);
	}
	assert_int_equal(mdb_dbi_open(t.txn, "records", 0, &dbi), MDB_NOTFOUND); /* dropped */
	tj_txn_abort(&t);
}

/* A retraction removes its incident from the victim index, and only it. */
static void test_victim_del_id(void **state)
{
	struct fx *f = *state;
	uint8_t k1[32], k2[32], a[32], b[32];
	struct tj_txn t;
	bool found;

	memset(k1, 1, 32);
	memset(k2, 2, 32);
	memset(a, 0xaa, 32);
	memset(b, 0xbb, 32);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	/* a names victims k1 (two days) and k2; b names k1 on another day. */
	assert_int_equal(tj_store_victim_put(&t, k1, 100, a), 0);
	assert_int_equal(tj_store_victim_put(&t, k1, 101, a), 0);
	assert_int_equal(tj_store_victim_put(&t, k1, 200, b), 0);
	assert_int_equal(tj_store_victim_put(&t, k2, 100, a), 0);
	assert_int_equal(tj_store_victim_del_id(&t, a), 0);
	assert_int_equal(tj_txn_commit(&t), 0);

	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_victim_any(&t, k1, 0, 150, &found), 0);
	assert_false(found);
	assert_int_equal(tj_store_victim_any(&t, k2, 0, 1000, &found), 0);
	assert_false(found);
	assert_int_equal(tj_store_victim_any(&t, k1, 150, 250, &found), 0);
	assert_true(found);
	tj_txn_abort(&t);

	/* Nothing left to remove: not an error. */
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_victim_del_id(&t, a), 0);
	assert_int_equal(tj_store_victim_del_id(&t, b), 0);
	assert_int_equal(tj_store_victim_any(&t, k1, 0, 1000, &found), 0);
	assert_false(found);
	assert_int_equal(tj_txn_commit(&t), 0);
}

/*
 * A process that dies inside a read transaction leaves its reader slot, and
 * LMDB keeps every page freed after it until the slot is cleared:
 * tj_store_reader_check clears it (the daemon calls it every minute).
 */
static void test_reader_check(void **state)
{
	struct fx *f = *state;
	char path[600];
	int dead = -1, status = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", f->dir, TJ_STORE_DIR_NAME);
	assert_int_equal(tj_store_reader_check(f->st, &dead), 0);
	assert_int_equal(dead, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env = NULL;
		MDB_txn *txn = NULL;
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
		    mdb_env_set_mapsize(env, 64u << 20) != 0 ||
		    mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0600) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		_exit(0); /* dies holding the read transaction */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(tj_store_reader_check(f->st, &dead), 0);
	assert_int_equal(dead, 1);
	assert_int_equal(tj_store_reader_check(f->st, &dead), 0);
	assert_int_equal(dead, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_put_get_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aborted_batch_stores_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_dups_and_freeze, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tombstone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta_case_of_victim_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefix_ambiguous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_persists_and_one_env, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrates_format_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_victim_del_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_check, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
