/*
 * Unit tests for node/tj_negentropy: storage and fingerprints (known answers
 * computed independently with Python's hashlib), reconciliation between our
 * initiator and our responder checked against the brute-force set
 * difference, frame limits, and hostile messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_negentropy.h"

#define ID TJ_NEG_ID_BYTES
#define TS_BASE 1700000000u
#define SYNC_MAX_ROUND_TRIPS 100000u
#define FANOUT_CAP 1024u /* most sub-ranges our initiator splits one range into */
#define REF_BUCKETS 16u  /* what our responder splits a range into */

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic, so a failure reproduces */
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void random_item(uint64_t *rng, uint64_t ts_lo, uint64_t ts_span, struct tj_neg_item *it)
{
	it->ts = ts_lo + rng_next(rng) % ts_span;
	for (size_t i = 0; i < ID; i += 8) {
		uint64_t v = rng_next(rng);
		memcpy(it->id + i, &v, 8);
	}
}

static int item_cmp_q(const void *a, const void *b)
{
	return tj_neg_item_cmp(a, b);
}

static int id_cmp_q(const void *a, const void *b)
{
	return memcmp(a, b, ID);
}

enum spread { SCATTERED, RECENT };

/* Two sets: common items on both sides, plus only_a / only_b extras. */
struct pair {
	struct tj_neg_item *a, *b;
	size_t na, nb;
};

static void make_pair(uint64_t seed, size_t common, size_t only_a, size_t only_b, enum spread spread,
		      struct pair *p)
{
	uint64_t rng = seed;
	/* about four items per second, so bounds often need id prefixes */
	uint64_t span = common / 4 + 1;
	p->na = common + only_a;
	p->nb = common + only_b;
	p->a = calloc(p->na + 1, sizeof(*p->a));
	p->b = calloc(p->nb + 1, sizeof(*p->b));
	assert_non_null(p->a);
	assert_non_null(p->b);
	for (size_t i = 0; i < common; i++) {
		random_item(&rng, TS_BASE, span, &p->a[i]);
		p->b[i] = p->a[i];
	}
	uint64_t lo = spread == RECENT ? TS_BASE + span : TS_BASE;
	uint64_t dspan = spread == RECENT ? (only_a + only_b) / 4 + 1 : span;
	for (size_t i = 0; i < only_a; i++)
		random_item(&rng, lo, dspan, &p->a[common + i]);
	for (size_t i = 0; i < only_b; i++)
		random_item(&rng, lo, dspan, &p->b[common + i]);
}

static void free_pair(struct pair *p)
{
	free(p->a);
	free(p->b);
}

/* Brute force: ids of x not in y, sorted by id. x, y are sorted by item. */
static uint8_t *set_minus(const struct tj_neg_item *x, size_t nx, const struct tj_neg_item *y, size_t ny,
			  size_t *count)
{
	uint8_t *out = malloc(nx * ID + 1);
	size_t n = 0, j = 0;
	assert_non_null(out);
	for (size_t i = 0; i < nx; i++) {
		while (j < ny && tj_neg_item_cmp(&y[j], &x[i]) < 0)
			j++;
		if (j < ny && tj_neg_item_cmp(&y[j], &x[i]) == 0)
			continue;
		memcpy(out + n++ * ID, x[i].id, ID);
	}
	qsort(out, n, ID, id_cmp_q);
	*count = n;
	return out;
}

static void assert_ids_equal(const struct tj_neg_ids *got, const uint8_t *want, size_t want_n)
{
	assert_int_equal(got->count, want_n);
	if (want_n == 0)
		return;
	uint8_t *sorted = malloc(want_n * ID);
	assert_non_null(sorted);
	memcpy(sorted, got->ids, want_n * ID);
	qsort(sorted, want_n, ID, id_cmp_q);
	assert_memory_equal(sorted, want, want_n * ID);
	free(sorted);
}

/* Decodes one of our messages and asserts its bounds strictly increase (the
 * parser tolerates equal bounds from others; we never send them). */
static uint64_t get_varint(const uint8_t *m, size_t len, size_t *at)
{
	uint64_t v = 0;
	for (;;) {
		assert_true(*at < len);
		uint8_t b = m[(*at)++];
		v = v << 7 | (b & 0x7fu);
		if (!(b & 0x80))
			return v;
	}
}

static void assert_bounds_increase(const uint8_t *m, size_t len)
{
	uint64_t last_ts = 0, prev_ts = 0;
	uint8_t prev_id[ID] = {0};
	bool first = true;
	size_t at = 1;
	assert_true(len >= 1);
	assert_int_equal(m[0], TJ_NEG_PROTOCOL_V1);
	while (at < len) {
		uint64_t enc = get_varint(m, len, &at), ts;
		uint8_t id[ID] = {0};
		ts = enc == 0 || last_ts == TJ_NEG_TS_INFINITY ? TJ_NEG_TS_INFINITY : last_ts + enc - 1;
		last_ts = ts;
		uint64_t plen = get_varint(m, len, &at);
		assert_true(plen <= ID && at + plen <= len);
		memcpy(id, m + at, (size_t)plen);
		at += (size_t)plen;
		assert_true(first || ts > prev_ts || (ts == prev_ts && memcmp(id, prev_id, ID) > 0));
		first = false;
		prev_ts = ts;
		memcpy(prev_id, id, ID);
		uint64_t mode = get_varint(m, len, &at);
		if (mode == 1)
			at += 16;
		else if (mode == 2)
			at += (size_t)get_varint(m, len, &at) * ID;
		else
			assert_int_equal(mode, 0);
		assert_true(at <= len);
	}
}

/* Ranges of one of our messages: how many send a fingerprint or an IdList
 * (Skips are not counted) and, given the storage of the side receiving it,
 * how many of its fingerprints differ from that side's. */
struct msg_ranges {
	size_t sent, fps, differ;
};

static void count_ranges(const uint8_t *m, size_t len, const struct tj_neg_storage *st,
                         struct msg_ranges *out)
{
	uint64_t last_ts = 0;
	size_t at = 1, lower = 0, n = tj_neg_storage_size(st);
	memset(out, 0, sizeof(*out));
	while (at < len) {
		uint64_t enc = get_varint(m, len, &at);
		struct tj_neg_item bound = {0}, it;
		bound.ts = enc == 0 || last_ts == TJ_NEG_TS_INFINITY ? TJ_NEG_TS_INFINITY : last_ts + enc - 1;
		last_ts = bound.ts;
		uint64_t plen = get_varint(m, len, &at);
		memcpy(bound.id, m + at, (size_t)plen);
		at += (size_t)plen;
		size_t upper = lower; /* first item >= bound */
		while (upper < n && tj_neg_storage_get(st, upper, &it) == 0 &&
		       tj_neg_item_cmp(&it, &bound) < 0)
			upper++;
		uint64_t mode = get_varint(m, len, &at);
		if (mode == 1) {
			uint8_t fp[TJ_NEG_FINGERPRINT_BYTES];
			assert_int_equal(tj_neg_storage_fingerprint(st, lower, upper, fp), 0);
			out->fps++;
			out->differ += memcmp(fp, m + at, sizeof(fp)) != 0;
			at += 16;
		} else if (mode == 2) {
			at += (size_t)get_varint(m, len, &at) * ID;
		}
		out->sent += mode != 0;
		lower = upper;
	}
}

struct sync_result {
	uint32_t round_trips;
	uint64_t bytes_i2r, bytes_r2i;
	size_t max_i2r, max_r2i;
	size_t have, need;
};

/* Reconciles p->a (our initiator) with p->b (our responder) and checks the
 * initiator learned exactly a\b and b\a. */
static void run_sync(struct pair *p, uint32_t frame_limit, struct sync_result *res)
{
	struct tj_neg_storage *sa = NULL, *sb = NULL;
	struct tj_neg *ini = NULL, *rsp = NULL;
	struct tj_neg_opts opts = {.frame_limit_bytes = frame_limit};
	struct tj_neg_msg msg, reply;

	memset(res, 0, sizeof(*res));
	assert_int_equal(tj_neg_storage_new(p->a, p->na, 0, &sa), 0);
	/* the responder's side goes through the PRESORTED path */
	qsort(p->b, p->nb, sizeof(*p->b), item_cmp_q);
	assert_int_equal(tj_neg_storage_new(p->b, p->nb, TJ_NEG_PRESORTED, &sb), 0);
	assert_int_equal(tj_neg_new(sa, &opts, &ini), 0);
	assert_int_equal(tj_neg_new(sb, &opts, &rsp), 0);

	assert_int_equal(tj_neg_initiate(ini, &msg), 0);
	/* The fan-out stays within its caps: the responder's 16 buckets per
	 * differing fingerprint (an IdList answers an IdList), the initiator's
	 * FANOUT_CAP per differing fingerprint of the reply before, each plus
	 * one closing fingerprint at a full frame. */
	struct msg_ranges in_r, out_r;
	count_ranges(msg.bytes, msg.len, sb, &in_r);
	assert_true(in_r.sent <= REF_BUCKETS);
	while (msg.len > 0) {
		assert_true(res->round_trips < SYNC_MAX_ROUND_TRIPS);
		if (frame_limit)
			assert_true(msg.len <= frame_limit);
		assert_bounds_increase(msg.bytes, msg.len);
		res->bytes_i2r += msg.len;
		res->max_i2r = msg.len > res->max_i2r ? msg.len : res->max_i2r;
		assert_int_equal(tj_neg_reconcile(rsp, msg.bytes, msg.len, &reply), 0);
		assert_true(reply.len >= 1);
		assert_bounds_increase(reply.bytes, reply.len);
		if (frame_limit)
			assert_true(reply.len <= frame_limit);
		res->bytes_r2i += reply.len;
		res->max_r2i = reply.len > res->max_r2i ? reply.len : res->max_r2i;
		res->round_trips++;
		count_ranges(reply.bytes, reply.len, sa, &out_r);
		assert_true(out_r.sent <= in_r.differ * REF_BUCKETS + (in_r.sent - in_r.fps) + 1);
		assert_int_equal(tj_neg_reconcile(ini, reply.bytes, reply.len, &msg), 0);
		if (msg.len > 0) {
			count_ranges(msg.bytes, msg.len, sb, &in_r);
			assert_true(in_r.sent <= out_r.differ * FANOUT_CAP + 1);
		}
	}
	assert_true(tj_neg_is_done(ini));

	qsort(p->a, p->na, sizeof(*p->a), item_cmp_q);
	size_t n_have, n_need;
	uint8_t *want_have = set_minus(p->a, p->na, p->b, p->nb, &n_have);
	uint8_t *want_need = set_minus(p->b, p->nb, p->a, p->na, &n_need);
	struct tj_neg_ids have, need;
	tj_neg_have(ini, &have);
	tj_neg_need(ini, &need);
	assert_ids_equal(&have, want_have, n_have);
	assert_ids_equal(&need, want_need, n_need);
	res->have = have.count;
	res->need = need.count;

	struct tj_neg_stats st;
	tj_neg_get_stats(ini, &st);
	assert_int_equal(st.msgs_received, res->round_trips);
	assert_int_equal(st.bytes_sent, res->bytes_i2r);
	assert_int_equal(st.bytes_received, res->bytes_r2i);

	free(want_have);
	free(want_need);
	tj_neg_free(ini);
	tj_neg_free(rsp);
	tj_neg_storage_free(sa);
	tj_neg_storage_free(sb);
}

static void sync_case(uint64_t seed, size_t common, size_t only_a, size_t only_b, enum spread spread,
		      uint32_t frame_limit, const char *label)
{
	struct pair p;
	struct sync_result r;
	make_pair(seed, common, only_a, only_b, spread, &p);
	run_sync(&p, frame_limit, &r);
	if (label != NULL)
		print_message("negentropy %s: n=%zu d=%zu frame=%u: %u round trips, %llu bytes initiator->responder, "
			      "%llu bytes responder->initiator (largest %zu / %zu)\n",
			      label, common + only_a + only_b, only_a + only_b, frame_limit, r.round_trips,
			      (unsigned long long)r.bytes_i2r, (unsigned long long)r.bytes_r2i, r.max_i2r, r.max_r2i);
	free_pair(&p);
}

/* ---- storage and fingerprints ---------------------------------------------- */

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void test_fingerprint_known_answers(void **state)
{
	(void)state;
	struct tj_neg_item items[300];
	struct tj_neg_storage *st = NULL;
	uint8_t fp[16], want[16];

	/* empty range: SHA-256(32 zero bytes || 0x00)[0..16) */
	assert_int_equal(tj_neg_storage_new(NULL, 0, 0, &st), 0);
	assert_int_equal(tj_neg_storage_fingerprint(st, 0, 0, fp), 0);
	hex_to("7f9c9e31ac8256ca2f258583df262dbc", want, 16);
	assert_memory_equal(fp, want, 16);
	assert_int_equal(tj_neg_storage_fingerprint(st, 0, 1, fp), -EINVAL);
	tj_neg_storage_free(st);

	/* two all-ff ids: the sum carries out of every byte and wraps mod 2^256 */
	memset(items, 0xff, 2 * sizeof(items[0]));
	items[0].ts = 1;
	items[1].ts = 2;
	assert_int_equal(tj_neg_storage_new(items, 2, 0, &st), 0);
	assert_int_equal(tj_neg_storage_fingerprint(st, 0, 2, fp), 0);
	hex_to("c66ec0b91041dd7d6987a5478d39fdb0", want, 16);
	assert_memory_equal(fp, want, 16);
	tj_neg_storage_free(st);

	/* 300 ids (count is a two-byte varint, 0x82 0x2c) */
	for (size_t i = 0; i < 300; i++) {
		items[i].ts = 1000 + i;
		memset(items[i].id, (int)((i * 7 + 3) % 256), ID);
	}
	assert_int_equal(tj_neg_storage_new(items, 300, TJ_NEG_PRESORTED, &st), 0);
	assert_int_equal(tj_neg_storage_fingerprint(st, 0, 300, fp), 0);
	hex_to("cf757e4fc528a93691243447c37e5564", want, 16);
	assert_memory_equal(fp, want, 16);
	tj_neg_storage_free(st);
}

/* Fingerprint of items [b, e) by adding bytes one at a time (independent of
 * the limb arithmetic under test). */
static void slow_fingerprint(const struct tj_neg_storage *st, size_t b, size_t e, uint8_t out[16])
{
	uint8_t sum[ID + 10] = {0};
	for (size_t i = b; i < e; i++) {
		struct tj_neg_item it;
		unsigned carry = 0;
		assert_int_equal(tj_neg_storage_get(st, i, &it), 0);
		for (size_t k = 0; k < ID; k++) {
			unsigned s = sum[k] + it.id[k] + carry;
			sum[k] = (uint8_t)s;
			carry = s >> 8;
		}
	}
	uint64_t n = e - b;
	uint8_t digits[10];
	size_t nd = 0;
	do {
		digits[nd++] = (uint8_t)(n & 0x7f);
		n >>= 7;
	} while (n);
	for (size_t i = 0; i < nd; i++)
		sum[ID + i] = (uint8_t)(digits[nd - 1 - i] | (i + 1 < nd ? 0x80 : 0));
	uint8_t h[32];
	crypto_hash_sha256(h, sum, ID + nd);
	memcpy(out, h, 16);
}

static void test_fingerprint_random_ranges(void **state)
{
	(void)state;
	uint64_t rng = 42;
	size_t n = 2000;
	struct tj_neg_item *v = calloc(n, sizeof(*v));
	struct tj_neg_storage *st = NULL;
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		random_item(&rng, TS_BASE, 300, &v[i]);
	assert_int_equal(tj_neg_storage_new(v, n, 0, &st), 0);
	for (int t = 0; t < 300; t++) {
		size_t b = rng_next(&rng) % (n + 1), e = rng_next(&rng) % (n + 1);
		uint8_t fast[16], slow[16];
		if (b > e) {
			size_t x = b;
			b = e;
			e = x;
		}
		assert_int_equal(tj_neg_storage_fingerprint(st, b, e, fast), 0);
		slow_fingerprint(st, b, e, slow);
		assert_memory_equal(fast, slow, 16);
	}
	tj_neg_storage_free(st);
	free(v);
}

static void test_storage_build_rules(void **state)
{
	(void)state;
	struct tj_neg_item v[4];
	struct tj_neg_storage *st = NULL;
	struct tj_neg_item got;
	memset(v, 0, sizeof(v));
	v[0].ts = 5;
	v[1].ts = 3;
	v[2].ts = 5; /* duplicate of v[0] */
	v[3].ts = 3;
	v[3].id[0] = 1;

	/* sorted by us, exact duplicates dropped */
	assert_int_equal(tj_neg_storage_new(v, 4, 0, &st), 0);
	assert_int_equal(tj_neg_storage_size(st), 3);
	assert_int_equal(tj_neg_storage_get(st, 0, &got), 0);
	assert_int_equal(got.ts, 3);
	assert_int_equal(got.id[0], 0);
	assert_int_equal(tj_neg_storage_get(st, 1, &got), 0);
	assert_int_equal(got.id[0], 1);
	assert_int_equal(tj_neg_storage_get(st, 2, &got), 0);
	assert_int_equal(got.ts, 5);
	assert_int_equal(tj_neg_storage_get(st, 3, &got), -EINVAL);
	tj_neg_storage_free(st);

	/* PRESORTED is verified: unsorted or duplicate input is refused */
	st = NULL;
	assert_int_equal(tj_neg_storage_new(v, 2, TJ_NEG_PRESORTED, &st), -EINVAL);
	assert_null(st);
	v[1].ts = 5;
	assert_int_equal(tj_neg_storage_new(v, 2, TJ_NEG_PRESORTED, &st), -EINVAL);
	/* the infinity timestamp is reserved */
	v[1].ts = TJ_NEG_TS_INFINITY;
	assert_int_equal(tj_neg_storage_new(v, 2, 0, &st), -EINVAL);
	assert_int_equal(tj_neg_storage_new(NULL, 1, 0, &st), -EINVAL);
	tj_neg_storage_free(NULL);
}

static void test_storage_insert_matches_rebuild(void **state)
{
	(void)state;
	uint64_t rng = 7;
	size_t n = 5000;
	struct tj_neg_item *v = calloc(n, sizeof(*v));
	struct tj_neg_storage *whole = NULL, *grown = NULL;
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		random_item(&rng, TS_BASE, 1000, &v[i]);
	assert_int_equal(tj_neg_storage_new(v, n, 0, &whole), 0);
	assert_int_equal(tj_neg_storage_new(v, 1000, 0, &grown), 0);
	/* batches of varying size, some overlapping what is already there */
	for (size_t at = 1000; at < n;) {
		size_t k = 1 + rng_next(&rng) % 700;
		if (k > n - at)
			k = n - at;
		size_t back = at >= 50 ? 50 : at;
		assert_int_equal(tj_neg_storage_insert(grown, v + at - back, k + back), 0);
		at += k;
	}
	assert_int_equal(tj_neg_storage_insert(grown, v, 0), 0);
	assert_int_equal(tj_neg_storage_size(grown), tj_neg_storage_size(whole));
	for (size_t i = 0; i < n; i++) {
		struct tj_neg_item x, y;
		assert_int_equal(tj_neg_storage_get(whole, i, &x), 0);
		assert_int_equal(tj_neg_storage_get(grown, i, &y), 0);
		assert_int_equal(tj_neg_item_cmp(&x, &y), 0);
	}
	for (int t = 0; t < 200; t++) {
		size_t b = rng_next(&rng) % (n / 2), e = b + rng_next(&rng) % (n / 2);
		uint8_t f1[16], f2[16];
		assert_int_equal(tj_neg_storage_fingerprint(whole, b, e, f1), 0);
		assert_int_equal(tj_neg_storage_fingerprint(grown, b, e, f2), 0);
		assert_memory_equal(f1, f2, 16);
	}
	struct tj_neg_item bad = v[0];
	bad.ts = TJ_NEG_TS_INFINITY;
	assert_int_equal(tj_neg_storage_insert(grown, &bad, 1), -EINVAL);
	tj_neg_storage_free(whole);
	tj_neg_storage_free(grown);
	free(v);
}

/* ---- reconciliation: our initiator against our responder -------------------- */

static void test_sync_small_sizes(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 2, 100};
	static const uint32_t frames[] = {0, 4096};
	uint64_t seed = 100;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t f = 0; f < 2; f++) {
			size_t n = sizes[s], d = n / 10 + 1;
			sync_case(seed++, n, 0, 0, SCATTERED, frames[f], NULL); /* equal sets */
			sync_case(seed++, n, d, 0, SCATTERED, frames[f], NULL); /* only ours */
			sync_case(seed++, n, 0, d, SCATTERED, frames[f], NULL); /* only theirs */
			sync_case(seed++, n, d, d, SCATTERED, frames[f], NULL); /* both sides */
			sync_case(seed++, n, d, d, RECENT, frames[f], NULL);
			sync_case(seed++, 0, n, 0, SCATTERED, frames[f], NULL); /* peer empty */
			sync_case(seed++, 0, 0, n, SCATTERED, frames[f], NULL); /* we are empty */
		}
	}
}

static void test_sync_10k(void **state)
{
	(void)state;
	static const uint32_t frames[] = {0, 4096, 60000};
	uint64_t seed = 1000;
	for (size_t f = 0; f < 3; f++) {
		sync_case(seed++, 10000, 0, 0, SCATTERED, frames[f], NULL);
		sync_case(seed++, 9000, 1000, 0, SCATTERED, frames[f], NULL);
		sync_case(seed++, 9000, 0, 1000, SCATTERED, frames[f], NULL);
		sync_case(seed++, 9000, 500, 500, SCATTERED, frames[f], NULL);
		sync_case(seed++, 9900, 50, 50, RECENT, frames[f], NULL);
		sync_case(seed++, 0, 10000, 0, SCATTERED, frames[f], NULL);
		sync_case(seed++, 0, 0, 10000, SCATTERED, frames[f], NULL);
	}
}

/* Every item at one timestamp: every bound needs an id prefix. */
static void test_sync_same_timestamp(void **state)
{
	(void)state;
	struct pair p;
	struct sync_result r;
	make_pair(77, 3000, 200, 300, SCATTERED, &p);
	for (size_t i = 0; i < p.na; i++)
		p.a[i].ts = TS_BASE;
	for (size_t i = 0; i < p.nb; i++)
		p.b[i].ts = TS_BASE;
	run_sync(&p, 4096, &r);
	assert_int_equal(r.have, 200);
	assert_int_equal(r.need, 300);
	free_pair(&p);
}

static void test_sync_100k(void **state)
{
	(void)state;
	sync_case(5000, 100000, 0, 0, SCATTERED, 0, "equal");
	sync_case(5001, 99000, 1000, 0, SCATTERED, 60000, "one side");
	sync_case(5002, 99000, 500, 500, RECENT, 4096, "recent");
	sync_case(5003, 99000, 500, 500, SCATTERED, 0, "scattered");
	sync_case(5004, 99000, 500, 500, SCATTERED, 60000, "scattered");
	sync_case(5005, 99000, 500, 500, SCATTERED, 4096, "scattered");
	sync_case(5006, 90000, 5000, 5000, SCATTERED, 0, "scattered");
	sync_case(5007, 90000, 5000, 5000, SCATTERED, 60000, "scattered");
	sync_case(5008, 90000, 5000, 5000, SCATTERED, 4096, "scattered");
}

/* Many small random pairs: tiny sets, one side empty, differences on either
 * side or both, with and without a frame limit; run_sync checks the exact
 * difference and the caps on every message. */
static void test_sync_random_small(void **state)
{
	(void)state;
	uint64_t rng = 42;
	for (uint64_t seed = 0; seed < 300; seed++) {
		size_t common = rng_next(&rng) % (seed % 3 == 0 ? 8 : 600);
		size_t only_a = rng_next(&rng) % 5 == 0 ? 0 : rng_next(&rng) % (common / 2 + 40);
		size_t only_b = rng_next(&rng) % 5 == 0 ? 0 : rng_next(&rng) % (common + 40);
		enum spread spread = rng_next(&rng) % 3 == 0 ? RECENT : SCATTERED;
		uint32_t frame = seed % 3 == 0 ? 0 : seed % 3 == 1 ? 4096 : 32768;
		sync_case(7000 + seed, common, only_a, only_b, spread, frame, NULL);
	}
}

/* Dense differences in frames the adaptive splits fill (the smallest they
 * run in, 32 KB, and 60 KB) and one the reference splitting fills: early
 * closes and the closing fingerprint of a full frame together. */
static void test_sync_dense_small_frames(void **state)
{
	(void)state;
	sync_case(8000, 2000, 0, 2000, SCATTERED, 32768, NULL);
	sync_case(8001, 5000, 300, 3000, SCATTERED, 32768, NULL);
	sync_case(8002, 20000, 0, 5000, SCATTERED, 32768, NULL);
	sync_case(8003, 20000, 5000, 0, SCATTERED, 0, NULL);
	sync_case(8004, 0, 0, 5000, SCATTERED, 32768, NULL);
	sync_case(8005, 30000, 2000, 6000, SCATTERED, 60000, NULL);
	sync_case(8006, 2000, 0, 2000, SCATTERED, 4096, NULL);
}

/* The node's frame (500,000 bytes), n = 100,000 on the responder and d
 * records missing on the initiator, scattered: the goal of the adaptive
 * splitting is strfry's figures (d = 1,000: 3 round trips, 65 KB up, 527 KB
 * down; d = 10,000: 9 round trips, 245 KB up, 2.0 MB down). Counts are exact
 * for a seed. */
static void test_sync_node_frame_budget(void **state)
{
	(void)state;
	struct pair p;
	struct sync_result r;
	make_pair(9000, 99000, 0, 1000, SCATTERED, &p);
	run_sync(&p, 500000, &r);
	print_message("negentropy d=1000 of 100000, frame 500000: %u round trips, %llu up, %llu down\n",
	              r.round_trips, (unsigned long long)r.bytes_i2r, (unsigned long long)r.bytes_r2i);
	assert_true(r.round_trips <= 3);
	assert_true(r.bytes_i2r <= 65000);
	assert_true(r.bytes_r2i <= 527000);
	free_pair(&p);
	make_pair(9001, 90000, 0, 10000, SCATTERED, &p);
	run_sync(&p, 500000, &r);
	print_message("negentropy d=10000 of 100000, frame 500000: %u round trips, %llu up, %llu down\n",
	              r.round_trips, (unsigned long long)r.bytes_i2r, (unsigned long long)r.bytes_r2i);
	assert_true(r.round_trips <= 9);
	assert_true(r.bytes_i2r <= 245000);
	assert_true(r.bytes_r2i <= 2000000);
	free_pair(&p);
}

/* ---- limits, state and hostile input ------------------------------------------ */

struct fixture {
	struct tj_neg_storage *st;
	struct tj_neg *neg;
	struct tj_neg_msg out;
};

static void fixture_open(struct fixture *fx, size_t n, const struct tj_neg_opts *opts)
{
	uint64_t rng = 99;
	struct tj_neg_item *v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		random_item(&rng, TS_BASE, n + 1, &v[i]);
	assert_int_equal(tj_neg_storage_new(v, n, 0, &fx->st), 0);
	assert_int_equal(tj_neg_new(fx->st, opts, &fx->neg), 0);
	free(v);
}

static void fixture_close(struct fixture *fx)
{
	tj_neg_free(fx->neg);
	tj_neg_storage_free(fx->st);
}

/* Feeds msg to a fresh responder over 100 items; returns the result. */
static int respond(const uint8_t *msg, size_t len)
{
	struct fixture fx;
	fixture_open(&fx, 100, NULL);
	int rc = tj_neg_reconcile(fx.neg, msg, len, &fx.out);
	if (rc < 0) {
		/* a failed session is dead */
		assert_int_equal(tj_neg_reconcile(fx.neg, (const uint8_t *)"\x61", 1, &fx.out), TJ_ESTATE);
		assert_int_equal(fx.out.len, 0);
	}
	fixture_close(&fx);
	return rc;
}

static void test_reject_malformed(void **state)
{
	(void)state;
	static const uint8_t fp16[16] = {0};
	uint8_t m[64];

	assert_int_equal(respond(NULL, 0), TJ_EMALFORMED);                      /* empty */
	assert_int_equal(respond((const uint8_t *)"\x00", 1), TJ_EMALFORMED);   /* not a version */
	assert_int_equal(respond((const uint8_t *)"\x70", 1), TJ_EMALFORMED);
	assert_int_equal(respond((const uint8_t *)"\x61", 1), 0);                /* no ranges */
	/* truncated: fingerprint cut short */
	memcpy(m, "\x61\x00\x00\x01", 4);
	memcpy(m + 4, fp16, 16);
	assert_int_equal(respond(m, 20), 0);
	assert_int_equal(respond(m, 19), TJ_EMALFORMED);
	assert_int_equal(respond(m, 3), TJ_EMALFORMED); /* no mode */
	assert_int_equal(respond(m, 2), TJ_EMALFORMED); /* no prefix length */
	/* overlong varint (leading zero digit) */
	assert_int_equal(respond((const uint8_t *)"\x61\x80\x01\x00\x00", 5), TJ_EMALFORMED);
	/* varint past 64 bits: 0x82 then nine more digits = 2^64 */
	memcpy(m, "\x61\x82\x80\x80\x80\x80\x80\x80\x80\x80\x00\x00\x00", 13);
	assert_int_equal(respond(m, 13), TJ_EMALFORMED);
	/* eleven digits */
	memcpy(m, "\x61\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00", 14);
	assert_int_equal(respond(m, 14), TJ_EMALFORMED);
	/* the largest 64-bit varint is fine (saturates to infinity, then Skip) */
	memcpy(m, "\x61\x81\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00", 12);
	assert_int_equal(respond(m, 12), 0);
	/* varint cut short */
	assert_int_equal(respond((const uint8_t *)"\x61\x81", 2), TJ_EMALFORMED);
	/* unknown mode */
	assert_int_equal(respond((const uint8_t *)"\x61\x00\x00\x03", 4), TJ_EMALFORMED);
	/* bound prefix longer than an id */
	m[0] = 0x61;
	m[1] = 0x05;
	m[2] = 33;
	memset(m + 3, 1, 33);
	m[36] = 0;
	assert_int_equal(respond(m, 37), TJ_EMALFORMED);
	/* IdList claiming two ids with one present */
	m[0] = 0x61;
	m[1] = 0x00;
	m[2] = 0x00;
	m[3] = 0x02;
	m[4] = 0x02;
	memset(m + 5, 7, 32);
	assert_int_equal(respond(m, 37), TJ_EMALFORMED);
	m[4] = 0x01;
	assert_int_equal(respond(m, 37), 0);
	/* a huge count must be refused before anything is allocated for it */
	memcpy(m, "\x61\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 13);
	assert_int_equal(respond(m, 13), TJ_EMALFORMED);
	memcpy(m, "\x61\x00\x00\x02\x81\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 14);
	assert_int_equal(respond(m, 14), TJ_EMALFORMED);
}

static void test_reject_bad_bounds(void **state)
{
	(void)state;
	/* (5, 10) then (5, 05): goes down */
	assert_int_equal(respond((const uint8_t *)"\x61\x06\x01\x10\x00\x01\x01\x05\x00", 9), TJ_EPROTO);
	/* (inf, 05) then (inf, 01): down, past infinity */
	assert_int_equal(respond((const uint8_t *)"\x61\x00\x01\x05\x00\x00\x01\x01\x00", 9), TJ_EPROTO);
	/* (5, 10) then (5, 11): fine */
	assert_int_equal(respond((const uint8_t *)"\x61\x06\x01\x10\x00\x01\x01\x11\x00", 9), 0);
	/* equal bounds are empty ranges, tolerated: (0, ""), (5, 10) twice,
	 * 10 vs 10 00 (equal once padded), infinity twice (an offset after
	 * infinity saturates to infinity) */
	assert_int_equal(respond((const uint8_t *)"\x61\x01\x00\x00", 4), 0);
	assert_int_equal(respond((const uint8_t *)"\x61\x06\x01\x10\x00\x01\x01\x10\x00", 9), 0);
	assert_int_equal(respond((const uint8_t *)"\x61\x06\x01\x10\x00\x01\x02\x10\x00\x00", 10), 0);
	assert_int_equal(respond((const uint8_t *)"\x61\x00\x00\x00\x00\x00\x00", 7), 0);
	assert_int_equal(respond((const uint8_t *)"\x61\x00\x00\x00\x05\x00\x00", 7), 0);
}

/*
 * The reference responder, when a frame fills on a final IdList that reaches
 * infinity, still closes with (infinity, Fingerprint): an empty range. We
 * accept it, and an empty range's payload is ignored: nothing is sent for it
 * and its ids are not collected.
 */
static void test_empty_ranges(void **state)
{
	(void)state;
	struct fixture fx;
	uint8_t m[80];
	size_t len = 0;

	fixture_open(&fx, 10, NULL);
	assert_int_equal(tj_neg_initiate(fx.neg, &fx.out), 0);
	memcpy(m, "\x61\x00\x00\x02\x00\x00\x00\x01", 8); /* (inf, IdList, 0 ids), (inf, Fingerprint, */
	len = 8;
	assert_int_equal(tj_neg_storage_fingerprint(fx.st, 0, 0, m + len), 0); /* fp(empty)) */
	len += 16;
	assert_int_equal(tj_neg_reconcile(fx.neg, m, len, &fx.out), 0);
	assert_int_equal(fx.out.len, 0);
	assert_true(tj_neg_is_done(fx.neg));
	struct tj_neg_ids have, need;
	tj_neg_have(fx.neg, &have);
	tj_neg_need(fx.neg, &need);
	assert_int_equal(have.count, 10);
	assert_int_equal(need.count, 0);
	fixture_close(&fx);

	/* initiator: ids claimed in an empty range are not collected */
	fixture_open(&fx, 10, NULL);
	assert_int_equal(tj_neg_initiate(fx.neg, &fx.out), 0);
	memcpy(m, "\x61\x00\x00\x00\x00\x00\x02\x01", 8); /* (inf, Skip), (inf, IdList, 1 id) */
	memset(m + 8, 0x42, ID);
	assert_int_equal(tj_neg_reconcile(fx.neg, m, 8 + ID, &fx.out), 0);
	assert_true(tj_neg_is_done(fx.neg));
	tj_neg_need(fx.neg, &need);
	assert_int_equal(need.count, 0);
	fixture_close(&fx);

	/* responder: a mismatching fingerprint on an empty range is ignored */
	fixture_open(&fx, 10, NULL);
	memcpy(m, "\x61\x00\x00\x00\x00\x00\x01", 7); /* (inf, Skip), (inf, Fingerprint, junk) */
	memset(m + 7, 0x42, 16);
	assert_int_equal(tj_neg_reconcile(fx.neg, m, 7 + 16, &fx.out), 0);
	assert_int_equal(fx.out.len, 1);
	fixture_close(&fx);
}

/* Every prefix of a valid message either parses or fails as malformed. */
static void test_truncations(void **state)
{
	(void)state;
	struct fixture a;
	struct tj_neg_msg first;
	fixture_open(&a, 1000, NULL);
	assert_int_equal(tj_neg_initiate(a.neg, &first), 0);
	assert_true(first.len > 100);
	uint8_t *copy = malloc(first.len);
	assert_non_null(copy);
	memcpy(copy, first.bytes, first.len);
	size_t failures = 0;
	for (size_t len = 0; len < first.len; len++) {
		int rc = respond(copy, len);
		assert_true(rc == 0 || rc == TJ_EMALFORMED);
		failures += rc != 0;
	}
	/* 16 ranges of (bound, mode, fingerprint): most cuts land inside one */
	assert_true(failures > first.len / 2);
	free(copy);
	fixture_close(&a);
}

static void test_version_negotiation(void **state)
{
	(void)state;
	struct fixture r, i;
	/* a responder answers another version with just its own */
	fixture_open(&r, 10, NULL);
	assert_int_equal(tj_neg_reconcile(r.neg, (const uint8_t *)"\x62\x00\x00", 3, &r.out), 0);
	assert_int_equal(r.out.len, 1);
	assert_int_equal(r.out.bytes[0], TJ_NEG_PROTOCOL_V1);
	fixture_close(&r);
	/* an initiator refuses a reply of another version */
	fixture_open(&i, 10, NULL);
	assert_int_equal(tj_neg_initiate(i.neg, &i.out), 0);
	assert_int_equal(tj_neg_reconcile(i.neg, (const uint8_t *)"\x62", 1, &i.out), TJ_EUNSUPPORTED);
	assert_int_equal(tj_neg_reconcile(i.neg, (const uint8_t *)"\x61", 1, &i.out), TJ_ESTATE);
	fixture_close(&i);
}

static void test_state_rules(void **state)
{
	(void)state;
	struct fixture fx;
	struct tj_neg_opts bad = {.frame_limit_bytes = 4095};
	struct tj_neg *neg = NULL;

	fixture_open(&fx, 10, NULL);
	assert_int_equal(tj_neg_new(fx.st, &bad, &neg), -EINVAL);
	assert_null(neg);
	assert_int_equal(tj_neg_initiate(fx.neg, &fx.out), 0);
	assert_int_equal(tj_neg_initiate(fx.neg, &fx.out), TJ_ESTATE);
	/* the empty reply completes an initiator; then nothing more */
	assert_int_equal(tj_neg_reconcile(fx.neg, (const uint8_t *)"\x61", 1, &fx.out), 0);
	assert_int_equal(fx.out.len, 0);
	assert_true(tj_neg_is_done(fx.neg));
	assert_int_equal(tj_neg_reconcile(fx.neg, (const uint8_t *)"\x61", 1, &fx.out), TJ_ESTATE);
	fixture_close(&fx);

	fixture_open(&fx, 10, NULL);
	assert_int_equal(tj_neg_reconcile(fx.neg, (const uint8_t *)"\x61", 1, &fx.out), 0);
	assert_int_equal(fx.out.len, 1);
	assert_int_equal(tj_neg_initiate(fx.neg, &fx.out), TJ_ESTATE);
	assert_false(tj_neg_is_done(fx.neg));
	tj_neg_free(NULL);
	fixture_close(&fx);
}

/* Responder reference behaviour: an IdList is answered with our ids. */
static void test_responder_answers_idlist(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_open(&fx, 5, NULL);
	/* (infinity, IdList, 0 ids) */
	assert_int_equal(tj_neg_reconcile(fx.neg, (const uint8_t *)"\x61\x00\x00\x02\x00", 5, &fx.out), 0);
	assert_int_equal(fx.out.len, 1 + 2 + 1 + 1 + 5 * ID);
	assert_memory_equal(fx.out.bytes, "\x61\x00\x00\x02\x05", 5);
	for (size_t i = 0; i < 5; i++) {
		struct tj_neg_item it;
		assert_int_equal(tj_neg_storage_get(fx.st, i, &it), 0);
		assert_memory_equal(fx.out.bytes + 5 + i * ID, it.id, ID);
	}
	fixture_close(&fx);
}

static void test_limits(void **state)
{
	(void)state;
	struct fixture big, empty;
	struct tj_neg_msg msg, reply;
	struct tj_neg_opts few_ids = {.max_ids = 10};
	struct tj_neg_opts small_out = {.max_out_bytes = 1000};
	struct tj_neg_opts one_round = {.max_rounds = 1};

	/* max_ids: we hold 1000 items the peer lacks */
	fixture_open(&big, 1000, &few_ids);
	fixture_open(&empty, 0, NULL);
	assert_int_equal(tj_neg_initiate(big.neg, &msg), 0);
	assert_int_equal(tj_neg_reconcile(empty.neg, msg.bytes, msg.len, &reply), 0);
	assert_int_equal(tj_neg_reconcile(big.neg, reply.bytes, reply.len, &msg), TJ_ELIMIT);
	fixture_close(&big);
	fixture_close(&empty);

	/* max_out_bytes without a frame limit: a full IdList does not fit */
	fixture_open(&big, 1000, &small_out);
	assert_int_equal(tj_neg_reconcile(big.neg, (const uint8_t *)"\x61\x00\x00\x02\x00", 5, &reply), TJ_ELIMIT);
	fixture_close(&big);

	/* with a frame limit the same query is answered in pieces */
	struct tj_neg_opts framed = {.frame_limit_bytes = 4096};
	fixture_open(&big, 1000, &framed);
	assert_int_equal(tj_neg_reconcile(big.neg, (const uint8_t *)"\x61\x00\x00\x02\x00", 5, &reply), 0);
	assert_true(reply.len <= 4096 && reply.len > 3500);
	/* version, bound (ts, 32-byte id), IdList, count k, k ids,
	 * then (infinity, Fingerprint) over the k..n items not sent */
	{
		size_t at = 1;
		while (reply.bytes[at] & 0x80)
			at++;
		at++;
		assert_int_equal(reply.bytes[at], 32);
		at += 1 + 32;
		assert_int_equal(reply.bytes[at++], 2);
		size_t k = 0;
		while (reply.bytes[at] & 0x80)
			k = k << 7 | (reply.bytes[at++] & 0x7fu);
		k = k << 7 | reply.bytes[at++];
		assert_int_equal(k, 122); /* ids are added while 1 + 32 * k <= 4096 - 200 */
		at += k * ID;
		assert_int_equal(reply.len, at + 3 + 16);
		assert_memory_equal(reply.bytes + at, "\x00\x00\x01", 3);
		uint8_t fp[16];
		assert_int_equal(tj_neg_storage_fingerprint(big.st, k, 1000, fp), 0);
		assert_memory_equal(reply.bytes + at + 3, fp, 16);
	}
	fixture_close(&big);

	/* max_rounds */
	fixture_open(&big, 10, &one_round);
	assert_int_equal(tj_neg_reconcile(big.neg, (const uint8_t *)"\x61", 1, &reply), 0);
	assert_int_equal(tj_neg_reconcile(big.neg, (const uint8_t *)"\x61", 1, &reply), TJ_ELIMIT);
	fixture_close(&big);
	fixture_open(&big, 10, &one_round);
	assert_int_equal(tj_neg_initiate(big.neg, &msg), 0);
	assert_int_equal(tj_neg_reconcile(big.neg, (const uint8_t *)"\x61\x00\x00\x00", 4, &reply), 0);
	fixture_close(&big);
}

/*
 * A full message ends with one fingerprint over everything from the last
 * bound written to infinity. Here the frame of a responder (which splits like
 * the reference: 16 buckets per differing range) fills while splitting the
 * last incoming range, [481, inf), which the peer claims is empty: the
 * closing fingerprint must cover our items from ts 481 on (hashing only the
 * items after the range being split would match the peer's empty fingerprint
 * and the peer would never learn of 1520 items). An initiator closes the same
 * way, but from its second message on it may close earlier (when the reply
 * it expects would not fit a frame), so the responder shows the rule here.
 */
static void test_full_frame_closing_fingerprint(void **state)
{
	(void)state;
	uint64_t rng = 5;
	struct tj_neg_item *v = calloc(2000, sizeof(*v));
	struct tj_neg_storage *st = NULL;
	struct tj_neg *neg = NULL;
	struct tj_neg_opts opts = {.frame_limit_bytes = 4096};
	struct tj_neg_msg out;
	uint8_t msg[1 + 13 * 19], fp_empty[16], fp_rest[16];
	size_t len = 0;

	assert_non_null(v);
	for (size_t i = 0; i < 2000; i++) {
		random_item(&rng, 0, 1, &v[i]);
		v[i].ts = i + 1;
	}
	assert_int_equal(tj_neg_storage_new(v, 2000, TJ_NEG_PRESORTED, &st), 0);
	assert_int_equal(tj_neg_new(st, &opts, &neg), 0);

	assert_int_equal(tj_neg_storage_fingerprint(st, 0, 0, fp_empty), 0);
	msg[len++] = 0x61;
	for (int k = 1; k <= 12; k++) { /* 12 ranges of 40 items, wrong fingerprints */
		msg[len++] = k == 1 ? 42 : 41; /* ts 41, then +40 each */
		msg[len++] = 0;
		msg[len++] = 1;
		memset(msg + len, 0xab, 16);
		len += 16;
	}
	msg[len++] = 0; /* infinity */
	msg[len++] = 0;
	msg[len++] = 1;
	memcpy(msg + len, fp_empty, 16);
	len += 16;
	assert_int_equal(tj_neg_reconcile(neg, msg, len, &out), 0);
	assert_true(out.len <= 4096);
	assert_true(out.len > 3500);
	assert_memory_equal(out.bytes + out.len - 19, "\x00\x00\x01", 3);
	assert_int_equal(tj_neg_storage_fingerprint(st, 480, 2000, fp_rest), 0);
	assert_memory_equal(out.bytes + out.len - 16, fp_rest, 16);
	tj_neg_free(neg);
	tj_neg_storage_free(st);
	free(v);
}

/* Builds a reply of `ranges` fingerprint ranges over items with ts = i + 1:
 * range k ends at ts (k + 1) * width + 1, the last one at infinity; every
 * fingerprint is wrong. */
static size_t bogus_reply(uint8_t *msg, size_t ranges, uint64_t width)
{
	size_t len = 0;
	msg[len++] = 0x61;
	for (size_t k = 0; k < ranges; k++) {
		uint64_t delta = k + 1 == ranges ? 0 : (k == 0 ? width + 1 : width) + 1;
		uint8_t tmp[10];
		size_t n = 0;
		do {
			tmp[n++] = (uint8_t)(delta & 0x7f);
			delta >>= 7;
		} while (delta != 0);
		while (n > 0) {
			n--;
			msg[len++] = (uint8_t)(tmp[n] | (n > 0 ? 0x80 : 0));
		}
		msg[len++] = 0;
		msg[len++] = 1;
		memset(msg + len, 0xab, 16);
		len += 16;
	}
	return len;
}

static void make_sequence(size_t n, struct tj_neg_storage **st)
{
	uint64_t rng = 6;
	struct tj_neg_item *v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		random_item(&rng, 0, 1, &v[i]);
		v[i].ts = i + 1;
	}
	assert_int_equal(tj_neg_storage_new(v, n, TJ_NEG_PRESORTED, st), 0);
	free(v);
}

/* A hostile reply cannot make the initiator split one range into more than
 * the fan-out cap: 200 one-item ranges that all differ (so about 6
 * differences per 500 items, as far as the initiator can tell), then the
 * other 99,800 items in one range. The one-item ranges are answered by
 * repeating their fingerprints, the big one with exactly FANOUT_CAP
 * sub-ranges, and the message stays far below the frame. */
static void test_initiator_fanout_cap(void **state)
{
	(void)state;
	struct tj_neg_storage *st = NULL;
	struct tj_neg *neg = NULL;
	struct tj_neg_opts opts = {.frame_limit_bytes = 500000};
	struct tj_neg_msg out;
	struct msg_ranges mr;
	uint8_t msg[1 + 201 * 21];

	make_sequence(100000, &st);
	assert_int_equal(tj_neg_new(st, &opts, &neg), 0);
	assert_int_equal(tj_neg_initiate(neg, &out), 0);
	size_t len = bogus_reply(msg, 201, 1);
	assert_true(len <= sizeof(msg));
	assert_int_equal(tj_neg_reconcile(neg, msg, len, &out), 0);
	assert_bounds_increase(out.bytes, out.len);
	count_ranges(out.bytes, out.len, st, &mr);
	assert_int_equal(mr.sent, 200 + FANOUT_CAP);
	assert_int_equal(mr.fps, mr.sent);
	assert_true(out.len < 200 * 21 + FANOUT_CAP * 24);
	tj_neg_free(neg);
	tj_neg_storage_free(st);
}

/* From its second message on, the initiator ends a message early once the
 * reply it expects would not fit in a frame, with the same closing
 * fingerprint as a full frame: over all our items from the last bound
 * written. Here 100 ranges of 100 items all differ (dense: each is split in
 * two, and each half is expected to differ and come back as 16
 * fingerprints, about 77 KB in all for a 32 KB frame). */
static void test_initiator_closes_early(void **state)
{
	(void)state;
	struct tj_neg_storage *st = NULL;
	struct tj_neg *neg = NULL;
	struct tj_neg_opts opts = {.frame_limit_bytes = 32768};
	struct tj_neg_msg out;
	uint8_t msg[1 + 101 * 21], fp[16];

	make_sequence(20000, &st);
	assert_int_equal(tj_neg_new(st, &opts, &neg), 0);
	assert_int_equal(tj_neg_initiate(neg, &out), 0);
	size_t len = bogus_reply(msg, 101, 100);
	assert_true(len <= sizeof(msg));
	assert_int_equal(tj_neg_reconcile(neg, msg, len, &out), 0);
	assert_bounds_increase(out.bytes, out.len);
	assert_true(out.len < 32768 / 4); /* far from full: closed early */
	assert_memory_equal(out.bytes + out.len - 19, "\x00\x00\x01", 3);
	/* the bound before the closing one: our items from there on are hashed */
	size_t at = 1, last_start = 0, ranges = 0;
	uint64_t ts = 0, before = 0;
	while (at < out.len) {
		before = ts;
		uint64_t enc = get_varint(out.bytes, out.len, &at);
		ts = enc == 0 ? TJ_NEG_TS_INFINITY : ts + enc - 1;
		at += (size_t)get_varint(out.bytes, out.len, &at);
		uint64_t mode = get_varint(out.bytes, out.len, &at);
		last_start = at;
		at += mode == 1 ? 16 : 0;
		assert_int_equal(mode, 1);
		ranges++;
	}
	assert_true(ranges > 2 && ranges < 200); /* some of the 100 ranges, split in two */
	assert_true(ts == TJ_NEG_TS_INFINITY && before > 0 && before < 10000);
	assert_int_equal(tj_neg_storage_fingerprint(st, (size_t)(before - 1), 20000, fp), 0);
	assert_memory_equal(out.bytes + last_start, fp, 16);
	tj_neg_free(neg);
	tj_neg_storage_free(st);
}

static void test_ts_from_ms(void **state)
{
	(void)state;
	assert_int_equal(tj_neg_ts_from_ms(1700000000999u), 1700000000u);
	assert_int_equal(tj_neg_ts_from_ms(999u), 0u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fingerprint_known_answers),
	    cmocka_unit_test(test_fingerprint_random_ranges),
	    cmocka_unit_test(test_storage_build_rules),
	    cmocka_unit_test(test_storage_insert_matches_rebuild),
	    cmocka_unit_test(test_reject_malformed),
	    cmocka_unit_test(test_reject_bad_bounds),
	    cmocka_unit_test(test_empty_ranges),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_version_negotiation),
	    cmocka_unit_test(test_state_rules),
	    cmocka_unit_test(test_responder_answers_idlist),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_full_frame_closing_fingerprint),
	    cmocka_unit_test(test_initiator_fanout_cap),
	    cmocka_unit_test(test_initiator_closes_early),
	    cmocka_unit_test(test_ts_from_ms),
	    cmocka_unit_test(test_sync_small_sizes),
	    cmocka_unit_test(test_sync_same_timestamp),
	    cmocka_unit_test(test_sync_10k),
	    cmocka_unit_test(test_sync_100k),
	    cmocka_unit_test(test_sync_random_small),
	    cmocka_unit_test(test_sync_dense_small_frames),
	    cmocka_unit_test(test_sync_node_frame_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
