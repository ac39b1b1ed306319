/*
 * Ingest: the one path into the store. Signature first, network, future
 * timestamps, duplicates, tombstones, frozen authors, equivocation (both kept,
 * author frozen), chain shape, case_of, batches with per-record results, and
 * hostile encodings (every flipped bit, truncation, oversize, non-canonical).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_ingest.h"
#include "tj_node_testutil.h"
#include "tj_store.h"

struct fx {
	char dir[64];
	struct tj_store *st;
	struct tj_identity *author;
	struct tj_sym_key epoch;
	struct tj_ingest_ctx ctx;
	uint8_t genesis[TT_REC_CAP];
	size_t genesis_len;
	uint8_t genesis_id[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t zero[32] = {0};

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	tt_tmpdir(f->dir);
	assert_int_equal(tj_store_open(f->dir, 64u << 20, &f->st), 0);
	assert_int_equal(tj_identity_generate(&f->author), 0);
	tt_sym(&f->epoch);
	f->genesis_len = tt_record(f->author, zero, TJ_KIND_GENESIS, 0, NULL, tj_now_ms(), &f->epoch, "genesis",
				   f->genesis, f->genesis_id);
	f->ctx.has_network = true;
	memcpy(f->ctx.network_id, f->genesis_id, 32);
	f->ctx.now_ms = tj_now_ms();
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

/* Ingests one encoding in its own batch; returns the record's result. */
static int ingest1(struct fx *f, const uint8_t *enc, size_t len)
{
	struct tj_ingest_item it;

	memset(&it, 0, sizeof(it));
	it.enc = enc;
	it.len = len;
	assert_int_equal(tj_ingest_batch(f->st, &f->ctx, &it, 1), 0);
	return it.result;
}

static bool stored(struct fx *f, const uint8_t id[32])
{
	struct tj_txn t;
	int rc;

	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	rc = tj_store_has(&t, id);
	tj_txn_abort(&t);
	return rc == 0;
}

static size_t rec(struct fx *f, uint64_t seq, const uint8_t *prev, uint64_t ts, const char *body, uint8_t *out,
		  uint8_t id[32])
{
	return tt_record(f->author, f->genesis_id, TJ_KIND_INCIDENT, seq, prev, ts, &f->epoch, body, out, id);
}

static void test_genesis_and_network(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	uint8_t other_net[32], id[32], zero[32] = {0};
	size_t len;

	assert_int_equal(ingest1(f, f->genesis, f->genesis_len), 0);
	assert_true(stored(f, f->genesis_id));
	/* Another network's genesis. */
	len = tt_record(f->author, zero, TJ_KIND_GENESIS, 0, NULL, tj_now_ms(), &f->epoch, "other", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ENETWORK);
	/* A genesis that names a network in its field. */
	len = tt_record(f->author, f->genesis_id, TJ_KIND_GENESIS, 0, NULL, tj_now_ms(), &f->epoch, "g", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ENETWORK);
	/* A record of another network. */
	randombytes_buf(other_net, 32);
	len = tt_record(f->author, other_net, TJ_KIND_INCIDENT, 1, f->genesis_id, tj_now_ms(), &f->epoch, "x", enc,
			id);
	assert_int_equal(ingest1(f, enc, len), TJ_ENETWORK);
	assert_false(stored(f, id));
	/* A node in no network takes nothing. */
	f->ctx.has_network = false;
	len = rec(f, 1, f->genesis_id, tj_now_ms(), "y", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ENETWORK);
}

static void test_future_and_old(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	uint8_t id[32], prev[32];
	size_t len;

	randombytes_buf(prev, 32);
	len = rec(f, 1, prev, f->ctx.now_ms + 11u * 60u * 1000u, "ahead", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_EFUTURE);
	assert_false(stored(f, id));
	len = rec(f, 2, prev, f->ctx.now_ms + 9u * 60u * 1000u, "slightly ahead", enc, id);
	assert_int_equal(ingest1(f, enc, len), 0);
	memcpy(prev, id, 32);
	/* Weeks offline in the Sierra: old records are fine. */
	len = rec(f, 3, prev, f->ctx.now_ms - 40ull * 24 * 3600 * 1000, "old", enc, id);
	assert_int_equal(ingest1(f, enc, len), 0);
}

static void test_every_flipped_bit_refused(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP], bad[TT_REC_CAP];
	uint8_t id[32], prev[32];
	size_t len;
	int accepted = 0;

	randombytes_buf(prev, 32);
	len = rec(f, 1, prev, tj_now_ms(), "flip me", enc, id);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct tj_ingest_item it = {0};
			memcpy(bad, enc, len);
			bad[i] ^= (uint8_t)(1u << bit);
			it.enc = bad;
			it.len = len;
			tj_ingest_validate(&f->ctx, &it);
			if (it.valid)
				accepted++;
			else
				assert_true(it.result < 0);
		}
	}
	assert_int_equal(accepted, 0);
	assert_int_equal(ingest1(f, enc, len), 0); /* the original is fine */
}

static void test_truncated_oversize_noncanonical(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP], bad[TT_REC_CAP + 8];
	uint8_t id[32], prev[32];
	struct tj_record r;
	size_t len, seq_at;

	randombytes_buf(prev, 32);
	len = rec(f, 5, prev, tj_now_ms(), "shape", enc, id);
	for (size_t cut = 0; cut < len; cut += 7)
		assert_true(ingest1(f, enc, cut) < 0);
	assert_int_equal(ingest1(f, enc, TJ_RECORD_MAX_BYTES + 1), TJ_ELIMIT);
	/* seq 5 written as uint8 (0xcc 0x05) instead of a fixint: a second encoding. */
	assert_int_equal(tj_record_decode(enc, len, &r), 0);
	seq_at = 1 + 1 + 34 + 34; /* array header, version, network_id, author */
	assert_int_equal(enc[seq_at], 0x05);
	memcpy(bad, enc, seq_at);
	bad[seq_at] = 0xcc;
	memcpy(bad + seq_at + 1, enc + seq_at, len - seq_at);
	assert_int_equal(ingest1(f, bad, len + 1), TJ_ENONCANON);
	/* Trailing bytes after a valid record. */
	memcpy(bad, enc, len);
	bad[len] = 0xc0;
	assert_true(ingest1(f, bad, len + 1) < 0);
	assert_false(stored(f, id));
}

static void test_duplicate_and_tombstone(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP], enc2[TT_REC_CAP];
	uint8_t id[32], id2[32], prev[32];
	struct tj_txn t;
	size_t len, len2;

	randombytes_buf(prev, 32);
	len = rec(f, 1, prev, tj_now_ms(), "dup", enc, id);
	assert_int_equal(ingest1(f, enc, len), 0);
	assert_int_equal(ingest1(f, enc, len), TJ_EEXIST);
	len2 = rec(f, 2, id, tj_now_ms(), "to retract", enc2, id2);
	assert_int_equal(tj_txn_begin(f->st, true, &t), 0);
	assert_int_equal(tj_store_tombstone(&t, id2, f->author->pk, tj_now_ms(), "retracted"), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	assert_int_equal(ingest1(f, enc2, len2), TJ_ERETRACTED);
	assert_false(stored(f, id2));
}

static void test_equivocation_kept_and_frozen(void **state)
{
	struct fx *f = *state;
	static uint8_t a[TT_REC_CAP], b[TT_REC_CAP], c[TT_REC_CAP];
	uint8_t ida[32], idb[32], idc[32], prev[32], ev[64];
	struct tj_txn t;
	size_t la, lb, lc;

	randombytes_buf(prev, 32);
	la = rec(f, 4, prev, tj_now_ms(), "version A", a, ida);
	lb = rec(f, 4, prev, tj_now_ms(), "version B", b, idb);
	assert_int_equal(ingest1(f, a, la), 0);
	assert_int_equal(ingest1(f, b, lb), TJ_EEQUIVOCATION);
	/* Both kept, never overwritten. */
	assert_true(stored(f, ida));
	assert_true(stored(f, idb));
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_frozen(&t, f->author->pk, ev), 0);
	tj_txn_abort(&t);
	assert_memory_equal(ev, ida, 32);
	assert_memory_equal(ev + 32, idb, 32);
	/* Anything else from a frozen author is refused. */
	lc = rec(f, 5, ida, tj_now_ms(), "after", c, idc);
	assert_int_equal(ingest1(f, c, lc), TJ_EFROZEN);
	assert_false(stored(f, idc));
}

static void test_equivocation_in_one_batch(void **state)
{
	struct fx *f = *state;
	static uint8_t a[TT_REC_CAP], b[TT_REC_CAP];
	struct tj_ingest_item it[3];
	uint8_t prev[32];

	randombytes_buf(prev, 32);
	memset(it, 0, sizeof(it));
	it[0].len = rec(f, 9, prev, tj_now_ms(), "one", a, it[0].id);
	it[0].enc = a;
	it[1].len = rec(f, 9, prev, tj_now_ms(), "two", b, it[1].id);
	it[1].enc = b;
	it[2].enc = a; /* and a duplicate */
	it[2].len = it[0].len;
	assert_int_equal(tj_ingest_batch(f->st, &f->ctx, it, 3), 0);
	assert_int_equal(it[0].result, 0);
	assert_int_equal(it[1].result, TJ_EEQUIVOCATION);
	assert_int_equal(it[2].result, TJ_EEXIST);
	assert_true(stored(f, it[0].id));
	assert_true(stored(f, it[1].id));
}

static void test_chain_shape(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	uint8_t id[32], id0[32], wrong[32];
	size_t len;

	/* seq 0 must have no prev; later ones must have one. */
	randombytes_buf(id, 32);
	len = rec(f, 0, id, tj_now_ms(), "zero with prev", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ECHAIN);
	len = rec(f, 0, NULL, tj_now_ms(), "zero", enc, id0);
	assert_int_equal(ingest1(f, enc, len), 0);
	len = rec(f, 1, NULL, tj_now_ms(), "one without prev", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ECHAIN);
	/* A prev that names none of the stored records at seq - 1. */
	randombytes_buf(wrong, 32);
	len = rec(f, 1, wrong, tj_now_ms(), "wrong prev", enc, id);
	assert_int_equal(ingest1(f, enc, len), TJ_ECHAIN);
	len = rec(f, 1, id0, tj_now_ms(), "right prev", enc, id);
	assert_int_equal(ingest1(f, enc, len), 0);
	/* Out of order arrival (seq 7 before 2..6) is fine. */
	len = rec(f, 7, wrong, tj_now_ms(), "gap", enc, id);
	assert_int_equal(ingest1(f, enc, len), 0);
}

static void test_case_of_recorded(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[TT_REC_CAP];
	struct tj_identity *reader = NULL;
	struct tj_seal_in in;
	struct tj_txn t;
	uint8_t summary_id[32], ids[2][32], id[32];
	size_t len = 0, n = 0;

	assert_int_equal(tj_identity_generate(&reader), 0);
	randombytes_buf(summary_id, 32);
	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->genesis_id, 32);
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_CASE;
	in.audience.type = TJ_AUD_NAMED;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, summary_id, 32);
	in.readers = (const uint8_t(*)[32])reader->pk;
	in.n_readers = 1;
	in.body = (const uint8_t *)"sealed to someone else";
	in.body_len = 22;
	assert_int_equal(tj_record_seal(&in, f->author, enc, sizeof(enc), &len, id), 0);
	/* Unreadable here, stored and linked all the same. */
	assert_int_equal(ingest1(f, enc, len), 0);
	assert_int_equal(tj_txn_begin(f->st, false, &t), 0);
	assert_int_equal(tj_store_case_of_get(&t, summary_id, ids, 2, &n), 0);
	tj_txn_abort(&t);
	assert_int_equal(n, 1);
	assert_memory_equal(ids[0], id, 32);
	tj_identity_free(reader);
}

static void test_batch_mixed_results(void **state)
{
	struct fx *f = *state;
	static uint8_t enc[4][TT_REC_CAP];
	struct tj_ingest_item it[4];
	uint8_t prev[32];

	randombytes_buf(prev, 32);
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 4; i++) {
		it[i].len = rec(f, 20 + (uint64_t)i, prev, tj_now_ms(), "batch", enc[i], it[i].id);
		it[i].enc = enc[i];
	}
	enc[1][it[1].len - 1] ^= 0x80; /* a forged signature */
	it[3].len = rec(f, 23, prev, tj_now_ms() + 3600u * 1000u, "future", enc[3], it[3].id);
	assert_int_equal(tj_ingest_batch(f->st, &f->ctx, it, 4), 0);
	assert_int_equal(it[0].result, 0);
	assert_int_equal(it[1].result, TJ_EBADSIG);
	assert_int_equal(it[2].result, 0);
	assert_int_equal(it[3].result, TJ_EFUTURE);
	assert_true(stored(f, it[0].id));
	assert_true(stored(f, it[2].id));
	assert_false(stored(f, it[3].id));
	assert_int_equal(tj_ingest_batch(f->st, &f->ctx, it, TJ_INGEST_BATCH_MAX + 1), TJ_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_genesis_and_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_and_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_flipped_bit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_oversize_noncanonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_and_tombstone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equivocation_kept_and_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equivocation_in_one_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_case_of_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_mixed_results, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
