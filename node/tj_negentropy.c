/*
 * Negentropy protocol v1: storage with prefix sums, message codec and the
 * reconciliation state machine. See tj_negentropy.h for the contract.
 *
 * The responder and the first message follow the reference implementation
 * (hoytech/negentropy, cpp/negentropy.h) range by range, so that they are
 * byte-for-byte what a v1 peer sends. The initiator's later messages choose
 * their own splits (tj__plan_message): v1 lets a side split a differing range
 * into any number of contiguous sub-ranges, and every v1 peer (nostr-tools
 * included) accepts them. One more deliberate difference: when a message
 * reaches the frame limit, the closing fingerprint covers every item from the
 * last bound actually written up to infinity (the range it describes), where
 * the reference hashes only the items after the range being processed. Both
 * are valid v1 messages; ours never makes the peer skip a range it has not
 * compared.
 */
#include "tj_negentropy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define TJ__BUCKETS 16u
#define TJ__FRAME_HEADROOM_BYTES 200u /* kept free in a message, as the reference does */
#define TJ__VARINT_MAX_BYTES 10u      /* 64 bits in base 128 */
#define TJ__VERSION_FIRST 0x60
#define TJ__VERSION_LAST 0x6f
#define TJ__LIMBS 4u                  /* 256-bit sums as four 64-bit limbs */
/* Initiator's adaptive splitting (see tj__plan_message). */
#define TJ__CHILD_MIN_ITEMS 58u /* smallest child of a dense split: the responder splits it 16 ways */
#define TJ__FANOUT_MAX 1024u    /* most sub-ranges one range is split into */
#define TJ__FP_RANGE_BYTES 24u  /* a fingerprint range on the wire, rounded up */
#define TJ__DENSE_LAMBDA 2.0    /* expected differences per range above which a range is dense */
#define TJ__ECHO_MAX_ITEMS 15u  /* below 32 - 16: the responder most likely lists the range */
#define TJ__ADAPTIVE_MIN_FRAME_BYTES 32768u /* smaller frames keep the reference's splitting */

enum tj__mode { TJ__MODE_SKIP = 0, TJ__MODE_FINGERPRINT = 1, TJ__MODE_IDLIST = 2 };
enum tj__role { TJ__ROLE_NONE, TJ__ROLE_INITIATOR, TJ__ROLE_RESPONDER };

/* A sum of ids mod 2^256, least significant limb first. */
struct tj__acc {
	uint64_t w[TJ__LIMBS];
};

struct tj_neg_storage {
	struct tj_neg_item *items; /* n items, strictly increasing */
	struct tj__acc *sums;      /* n + 1 prefix sums: sums[i] = ids[0] + ... + ids[i-1] */
	size_t n;
};

/* A range bound: ts and an id prefix of len bytes, zero-padded to 32. */
struct tj__bound {
	uint64_t ts;
	uint8_t id[TJ_NEG_ID_BYTES];
	size_t len;
};

struct tj__buf {
	uint8_t *p;
	size_t len, cap, max;
};

struct tj__reader {
	const uint8_t *p;
	size_t left;
};

struct tj_neg {
	const struct tj_neg_storage *st; /* borrowed */
	struct tj_neg_opts opts;
	enum tj__role role;
	bool done, dead;
	uint64_t last_ts_in, last_ts_out;
	struct tj__buf out;   /* the message being built */
	struct tj__buf range; /* output for the range being processed */
	struct tj__buf have, need;
	struct tj__buf theirs; /* scratch: a received IdList, sorted */
	struct tj__buf found;  /* scratch: one flag per id of theirs */
	struct tj_neg_stats stats;
	/* Initiator, from the second message on: how to split a differing range. */
	bool adaptive;
	double rho;         /* estimated differences per item, remembered across messages */
	bool rho_at_least;  /* every range differed: rho is only a lower bound */
	bool finish_next;   /* 16-way splits whose children the peer lists, in one reply */
	size_t child_items; /* target child size of a dense split */
	double reply_bytes; /* what the responder is expected to answer to the message being built */
};

/* ---- 256-bit sums and fingerprints --------------------------------------- */

static void tj__acc_from_id(const uint8_t id[TJ_NEG_ID_BYTES], struct tj__acc *out)
{
	for (size_t i = 0; i < TJ__LIMBS; i++) {
		uint64_t v = 0;
		for (size_t b = 8; b-- > 0;)
			v = (v << 8) | id[i * 8 + b];
		out->w[i] = v;
	}
}

static void tj__acc_add(struct tj__acc *a, const struct tj__acc *b)
{
	uint64_t carry = 0;
	for (size_t i = 0; i < TJ__LIMBS; i++) {
		uint64_t s = a->w[i] + carry;
		uint64_t c1 = s < carry;
		uint64_t t = s + b->w[i];
		carry = c1 | (t < s);
		a->w[i] = t;
	}
}

/* out = a - b mod 2^256 */
static void tj__acc_sub(const struct tj__acc *a, const struct tj__acc *b, struct tj__acc *out)
{
	uint64_t borrow = 0;
	for (size_t i = 0; i < TJ__LIMBS; i++) {
		uint64_t d = a->w[i] - b->w[i];
		uint64_t b1 = a->w[i] < b->w[i];
		uint64_t e = d - borrow;
		uint64_t b2 = d < borrow;
		out->w[i] = e;
		borrow = b1 | b2;
	}
}

static size_t tj__varint_encode(uint64_t v, uint8_t out[TJ__VARINT_MAX_BYTES])
{
	uint8_t rev[TJ__VARINT_MAX_BYTES];
	size_t n = 0;
	do {
		rev[n++] = (uint8_t)(v & 0x7f);
		v >>= 7;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(rev[n - 1 - i] | (i + 1 < n ? 0x80 : 0));
	return n;
}

static void tj__fingerprint(const struct tj__acc *sum, uint64_t count, uint8_t out[TJ_NEG_FINGERPRINT_BYTES])
{
	uint8_t in[TJ_NEG_ID_BYTES + TJ__VARINT_MAX_BYTES];
	uint8_t hash[crypto_hash_sha256_BYTES];
	for (size_t i = 0; i < TJ__LIMBS; i++)
		for (size_t b = 0; b < 8; b++)
			in[i * 8 + b] = (uint8_t)(sum->w[i] >> (8 * b));
	size_t n = tj__varint_encode(count, in + TJ_NEG_ID_BYTES);
	crypto_hash_sha256(hash, in, TJ_NEG_ID_BYTES + n);
	memcpy(out, hash, TJ_NEG_FINGERPRINT_BYTES);
}

/* ---- Storage -------------------------------------------------------------- */

int tj_neg_item_cmp(const struct tj_neg_item *a, const struct tj_neg_item *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return memcmp(a->id, b->id, TJ_NEG_ID_BYTES);
}

static int tj__item_qsort_cmp(const void *a, const void *b)
{
	return tj_neg_item_cmp(a, b);
}

/* Sorts v in place and drops exact duplicates; returns the new count. */
static size_t tj__sort_unique(struct tj_neg_item *v, size_t n)
{
	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), tj__item_qsort_cmp);
	size_t w = 1;
	for (size_t i = 1; i < n; i++)
		if (tj_neg_item_cmp(&v[w - 1], &v[i]) != 0)
			v[w++] = v[i];
	return w;
}

static int tj__check_items(const struct tj_neg_item *v, size_t n, bool strictly_increasing)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].ts == TJ_NEG_TS_INFINITY)
			return -EINVAL;
		if (strictly_increasing && i > 0 && tj_neg_item_cmp(&v[i - 1], &v[i]) >= 0)
			return -EINVAL;
	}
	return 0;
}

static void tj__sums_from(struct tj_neg_storage *st, size_t first)
{
	for (size_t i = first; i < st->n; i++) {
		struct tj__acc id;
		tj__acc_from_id(st->items[i].id, &id);
		st->sums[i + 1] = st->sums[i];
		tj__acc_add(&st->sums[i + 1], &id);
	}
}

/* Grows both arrays to hold n items; contents up to the old size are kept. */
static int tj__storage_reserve(struct tj_neg_storage *st, size_t n)
{
	if (n >= SIZE_MAX / sizeof(struct tj_neg_item) - 1)
		return -ENOMEM; /* items are the larger of the two arrays */
	struct tj_neg_item *items = realloc(st->items, (n ? n : 1) * sizeof(*items));
	if (items == NULL)
		return -ENOMEM;
	st->items = items;
	struct tj__acc *sums = realloc(st->sums, (n + 1) * sizeof(*sums));
	if (sums == NULL)
		return -ENOMEM;
	st->sums = sums;
	return 0;
}

int tj_neg_storage_new(const struct tj_neg_item *items, size_t n, unsigned flags, struct tj_neg_storage **out)
{
	int rc;
	struct tj_neg_storage *st = NULL;
	bool presorted = (flags & TJ_NEG_PRESORTED) != 0;

	*out = NULL;
	if ((n > 0 && items == NULL) || (flags & ~(unsigned)TJ_NEG_PRESORTED) != 0)
		return -EINVAL;
	rc = tj__check_items(items, n, presorted);
	if (rc < 0)
		return rc;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	rc = tj__storage_reserve(st, n);
	if (rc < 0)
		goto out;
	if (n > 0)
		memcpy(st->items, items, n * sizeof(*items));
	st->n = presorted ? n : tj__sort_unique(st->items, n);
	memset(&st->sums[0], 0, sizeof(st->sums[0]));
	tj__sums_from(st, 0);
	*out = st;
	st = NULL;
out:
	tj_neg_storage_free(st);
	return rc;
}

void tj_neg_storage_free(struct tj_neg_storage *st)
{
	if (st == NULL)
		return;
	free(st->items);
	free(st->sums);
	free(st);
}

size_t tj_neg_storage_size(const struct tj_neg_storage *st)
{
	return st->n;
}

int tj_neg_storage_get(const struct tj_neg_storage *st, size_t i, struct tj_neg_item *out)
{
	if (i >= st->n)
		return -EINVAL;
	*out = st->items[i];
	return 0;
}

int tj_neg_storage_fingerprint(const struct tj_neg_storage *st, size_t begin, size_t end,
			       uint8_t out[TJ_NEG_FINGERPRINT_BYTES])
{
	struct tj__acc sum;
	if (begin > end || end > st->n)
		return -EINVAL;
	tj__acc_sub(&st->sums[end], &st->sums[begin], &sum);
	tj__fingerprint(&sum, end - begin, out);
	return 0;
}

/* First index in [begin, end) whose item is >= it (items sorted). */
static size_t tj__lower_bound_item(const struct tj_neg_storage *st, size_t begin, size_t end,
				   const struct tj_neg_item *it)
{
	while (begin < end) {
		size_t mid = begin + (end - begin) / 2;
		if (tj_neg_item_cmp(&st->items[mid], it) < 0)
			begin = mid + 1;
		else
			end = mid;
	}
	return begin;
}

/* Drops from the sorted batch v the items st already holds; returns the count left. */
static size_t tj__drop_present(const struct tj_neg_storage *st, struct tj_neg_item *v, size_t k)
{
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		size_t at = tj__lower_bound_item(st, 0, st->n, &v[i]);
		if (at < st->n && tj_neg_item_cmp(&st->items[at], &v[i]) == 0)
			continue;
		v[w++] = v[i];
	}
	return w;
}

/* Merges the sorted batch v (disjoint from st) into st, from the back. */
static void tj__merge_back(struct tj_neg_storage *st, const struct tj_neg_item *v, size_t k)
{
	size_t i = st->n, j = k, w = st->n + k;
	while (j > 0) {
		if (i > 0 && tj_neg_item_cmp(&st->items[i - 1], &v[j - 1]) > 0)
			st->items[--w] = st->items[--i];
		else
			st->items[--w] = v[--j];
	}
	st->n += k;
}

int tj_neg_storage_insert(struct tj_neg_storage *st, const struct tj_neg_item *items, size_t n)
{
	int rc;
	struct tj_neg_item *batch = NULL;

	if (n == 0)
		return 0;
	if (items == NULL || n > SIZE_MAX / sizeof(*batch))
		return -EINVAL;
	rc = tj__check_items(items, n, false);
	if (rc < 0)
		return rc;
	batch = malloc(n * sizeof(*batch));
	if (batch == NULL)
		return -ENOMEM;
	memcpy(batch, items, n * sizeof(*batch));
	size_t k = tj__drop_present(st, batch, tj__sort_unique(batch, n));
	if (k == 0)
		goto out;
	if (st->n > SIZE_MAX - k) {
		rc = -ENOMEM;
		goto out;
	}
	rc = tj__storage_reserve(st, st->n + k);
	if (rc < 0)
		goto out;
	size_t first = tj__lower_bound_item(st, 0, st->n, &batch[0]);
	tj__merge_back(st, batch, k);
	tj__sums_from(st, first);
out:
	free(batch);
	return rc;
}

/* ---- Byte buffers ---------------------------------------------------------- */

static int tj__buf_reserve(struct tj__buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return TJ_ELIMIT;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int tj__buf_put(struct tj__buf *b, const void *data, size_t n)
{
	int rc = tj__buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int tj__buf_varint(struct tj__buf *b, uint64_t v)
{
	uint8_t tmp[TJ__VARINT_MAX_BYTES];
	return tj__buf_put(b, tmp, tj__varint_encode(v, tmp));
}

static void tj__buf_free(struct tj__buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- Reading untrusted messages -------------------------------------------- */

static int tj__read_bytes(struct tj__reader *r, size_t n, const uint8_t **out)
{
	if (n > r->left)
		return TJ_EMALFORMED;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Base-128, most significant digit first, shortest form, at most 64 bits. */
static int tj__read_varint(struct tj__reader *r, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < TJ__VARINT_MAX_BYTES; i++) {
		if (r->left == 0)
			return TJ_EMALFORMED;
		uint8_t byte = *r->p++;
		r->left--;
		if (i == 0 && byte == 0x80)
			return TJ_EMALFORMED; /* a leading zero digit: overlong */
		if ((v >> 57) != 0)
			return TJ_EMALFORMED; /* the next digit would push past 64 bits */
		v = (v << 7) | (byte & 0x7fu);
		if ((byte & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return TJ_EMALFORMED;
}

/* Timestamps are deltas from the previous bound of the message; 0 is infinity.
 * A sum past 64 bits saturates to infinity, as in the reference. */
static int tj__read_ts(struct tj_neg *neg, struct tj__reader *r, uint64_t *out)
{
	uint64_t v;
	int rc = tj__read_varint(r, &v);
	if (rc < 0)
		return rc;
	uint64_t ts = TJ_NEG_TS_INFINITY;
	if (v != 0 && neg->last_ts_in != TJ_NEG_TS_INFINITY) {
		ts = (v - 1) + neg->last_ts_in;
		if (ts < neg->last_ts_in)
			ts = TJ_NEG_TS_INFINITY;
	}
	neg->last_ts_in = ts;
	*out = ts;
	return 0;
}

static int tj__read_bound(struct tj_neg *neg, struct tj__reader *r, struct tj__bound *out)
{
	uint64_t len;
	const uint8_t *prefix;
	int rc = tj__read_ts(neg, r, &out->ts);
	if (rc == 0)
		rc = tj__read_varint(r, &len);
	if (rc < 0)
		return rc;
	if (len > TJ_NEG_ID_BYTES)
		return TJ_EMALFORMED;
	rc = tj__read_bytes(r, (size_t)len, &prefix);
	if (rc < 0)
		return rc;
	memset(out->id, 0, sizeof(out->id));
	if (len > 0)
		memcpy(out->id, prefix, (size_t)len);
	out->len = (size_t)len;
	return 0;
}

static int tj__bound_cmp(const struct tj__bound *a, const struct tj__bound *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return memcmp(a->id, b->id, TJ_NEG_ID_BYTES);
}

/* First index in [begin, st->n) whose item is >= bound. */
static size_t tj__lower_bound(const struct tj_neg_storage *st, size_t begin, const struct tj__bound *bound)
{
	struct tj_neg_item it;
	it.ts = bound->ts;
	memcpy(it.id, bound->id, TJ_NEG_ID_BYTES);
	return tj__lower_bound_item(st, begin, st->n, &it);
}

/* ---- Writing messages ------------------------------------------------------ */

static int tj__write_bound(struct tj_neg *neg, struct tj__buf *b, const struct tj__bound *bound)
{
	uint64_t enc = 0;
	if (bound->ts == TJ_NEG_TS_INFINITY) {
		neg->last_ts_out = TJ_NEG_TS_INFINITY;
	} else {
		enc = bound->ts - neg->last_ts_out + 1; /* our bounds only increase */
		neg->last_ts_out = bound->ts;
	}
	int rc = tj__buf_varint(b, enc);
	if (rc == 0)
		rc = tj__buf_varint(b, bound->len);
	if (rc == 0)
		rc = tj__buf_put(b, bound->id, bound->len);
	return rc;
}

static void tj__bound_infinity(struct tj__bound *out)
{
	memset(out, 0, sizeof(*out));
	out->ts = TJ_NEG_TS_INFINITY;
}

static void tj__bound_of_item(const struct tj_neg_item *it, struct tj__bound *out)
{
	out->ts = it->ts;
	memcpy(out->id, it->id, TJ_NEG_ID_BYTES);
	out->len = TJ_NEG_ID_BYTES;
}

/* The shortest bound b with prev < b <= curr. */
static void tj__minimal_bound(const struct tj_neg_item *prev, const struct tj_neg_item *curr,
			      struct tj__bound *out)
{
	memset(out, 0, sizeof(*out));
	out->ts = curr->ts;
	if (curr->ts != prev->ts)
		return;
	size_t shared = 0;
	while (shared < TJ_NEG_ID_BYTES && curr->id[shared] == prev->id[shared])
		shared++;
	out->len = shared + 1; /* items are distinct, so shared < 32 */
	memcpy(out->id, curr->id, out->len);
}

static int tj__write_fingerprint_range(struct tj_neg *neg, struct tj__buf *b, const struct tj__bound *bound,
				       size_t begin, size_t end)
{
	uint8_t fp[TJ_NEG_FINGERPRINT_BYTES];
	int rc = tj_neg_storage_fingerprint(neg->st, begin, end, fp);
	if (rc == 0)
		rc = tj__write_bound(neg, b, bound);
	if (rc == 0)
		rc = tj__buf_varint(b, TJ__MODE_FINGERPRINT);
	if (rc == 0)
		rc = tj__buf_put(b, fp, sizeof(fp));
	return rc;
}

static int tj__write_idlist(struct tj_neg *neg, struct tj__buf *b, const struct tj__bound *bound, size_t begin,
			    size_t end)
{
	int rc = tj__write_bound(neg, b, bound);
	if (rc == 0)
		rc = tj__buf_varint(b, TJ__MODE_IDLIST);
	if (rc == 0)
		rc = tj__buf_varint(b, end - begin);
	for (size_t i = begin; rc == 0 && i < end; i++)
		rc = tj__buf_put(b, neg->st->items[i].id, TJ_NEG_ID_BYTES);
	return rc;
}

/* Adds to neg->reply_bytes what the responder is expected to answer to a
 * range of n of our items sent as a fingerprint (known_differs: one the
 * responder sent us and we repeat) or as an IdList: its IdList when it holds
 * fewer than 32 items there, else 16 fingerprints, if the range differs. */
static void tj__expect_reply(struct tj_neg *neg, size_t n, bool known_differs, bool idlist)
{
	if (!neg->adaptive)
		return;
	double s = (double)n, extra = neg->rho * s;
	double theirs = s + (known_differs || idlist ? fmax(extra, 1.0) : extra);
	double p = known_differs || idlist || neg->rho_at_least ? 1.0 : -expm1(-extra);
	double cost = idlist || theirs < TJ__BUCKETS * 2 ? 4.0 + TJ_NEG_ID_BYTES * theirs
	                                                 : (double)(TJ__BUCKETS * TJ__FP_RANGE_BYTES);
	neg->reply_bytes += p * cost;
}

/* How many sub-ranges the initiator splits a differing range of n >= 32 of
 * our items into (the responder always uses the reference's 16). */
static size_t tj__fanout(const struct tj_neg *neg, size_t n)
{
	if (!neg->adaptive || neg->finish_next || neg->rho * (double)n < TJ__DENSE_LAMBDA)
		return TJ__BUCKETS;
	size_t f = (n + neg->child_items - 1) / neg->child_items;
	return f < 2 ? 2 : f > TJ__FANOUT_MAX ? TJ__FANOUT_MAX : f;
}

/* Describes our items [lower, upper) ending at upper_bound. The reference
 * (our responder, and our first message): an IdList when small, else 16
 * buckets with fingerprints. An adaptive initiator instead repeats the
 * fingerprint of a range of at most 15 items (20 bytes, where an IdList costs
 * 32 per id both ways), which the responder then lists unless it holds 32 or
 * more there (then it splits it: one more round trip, which is why larger
 * ranges below 32 are still listed), and picks its fan-out. */
static int tj__split_range(struct tj_neg *neg, struct tj__buf *b, size_t lower, size_t upper,
			   const struct tj__bound *upper_bound)
{
	size_t n = upper - lower;
	if (neg->adaptive && n > 0 && n <= TJ__ECHO_MAX_ITEMS) {
		tj__expect_reply(neg, n, true, false);
		return tj__write_fingerprint_range(neg, b, upper_bound, lower, upper);
	}
	if (n < TJ__BUCKETS * 2) {
		tj__expect_reply(neg, n, false, true);
		return tj__write_idlist(neg, b, upper_bound, lower, upper);
	}
	size_t buckets = tj__fanout(neg, n);
	size_t per = n / buckets, extra = n % buckets, curr = lower;
	for (size_t i = 0; i < buckets; i++) {
		size_t begin = curr;
		struct tj__bound bound;
		curr += per + (i < extra ? 1 : 0);
		tj__expect_reply(neg, curr - begin, false, false);
		if (curr == upper)
			bound = *upper_bound;
		else
			tj__minimal_bound(&neg->st->items[curr - 1], &neg->st->items[curr], &bound);
		int rc = tj__write_fingerprint_range(neg, b, &bound, begin, curr);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool tj__exceeds_frame(const struct tj_neg *neg, size_t n)
{
	uint32_t lim = neg->opts.frame_limit_bytes;
	return lim != 0 && n > lim - TJ__FRAME_HEADROOM_BYTES;
}

/* ---- Ids learned by the initiator ------------------------------------------ */

static int tj__id_qsort_cmp(const void *a, const void *b)
{
	return memcmp(a, b, TJ_NEG_ID_BYTES);
}

static int tj__collect(struct tj_neg *neg, struct tj__buf *list, const uint8_t *id)
{
	size_t total = (neg->have.len + neg->need.len) / TJ_NEG_ID_BYTES;
	if (total >= neg->opts.max_ids)
		return TJ_ELIMIT;
	return tj__buf_put(list, id, TJ_NEG_ID_BYTES);
}

/* Copies the peer's count ids into neg->theirs, sorted and distinct; returns
 * how many remain. count was checked against the message length. */
static int tj__load_theirs(struct tj_neg *neg, const uint8_t *ids, size_t count, size_t *out)
{
	neg->theirs.len = neg->found.len = 0;
	int rc = tj__buf_put(&neg->theirs, ids, count * TJ_NEG_ID_BYTES);
	if (rc < 0)
		return rc;
	if (count > 1)
		qsort(neg->theirs.p, count, TJ_NEG_ID_BYTES, tj__id_qsort_cmp);
	size_t w = count > 0 ? 1 : 0;
	for (size_t i = 1; i < count; i++) {
		const uint8_t *id = neg->theirs.p + i * TJ_NEG_ID_BYTES;
		if (memcmp(neg->theirs.p + (w - 1) * TJ_NEG_ID_BYTES, id, TJ_NEG_ID_BYTES) != 0)
			memmove(neg->theirs.p + w++ * TJ_NEG_ID_BYTES, id, TJ_NEG_ID_BYTES);
	}
	rc = tj__buf_reserve(&neg->found, w);
	if (rc < 0)
		return rc;
	if (w > 0)
		memset(neg->found.p, 0, w);
	neg->found.len = w;
	*out = w;
	return 0;
}

/* Initiator, IdList received for our items [lower, upper): ours missing from
 * theirs are "have", theirs missing from ours are "need". */
static int tj__diff_idlist(struct tj_neg *neg, const uint8_t *ids, size_t count, size_t lower, size_t upper)
{
	size_t m;
	int rc = tj__load_theirs(neg, ids, count, &m);
	for (size_t i = lower; rc == 0 && i < upper; i++) {
		const uint8_t *id = neg->st->items[i].id;
		const uint8_t *hit = m ? bsearch(id, neg->theirs.p, m, TJ_NEG_ID_BYTES, tj__id_qsort_cmp) : NULL;
		if (hit != NULL)
			neg->found.p[(size_t)(hit - neg->theirs.p) / TJ_NEG_ID_BYTES] = 1;
		else
			rc = tj__collect(neg, &neg->have, id);
	}
	for (size_t j = 0; rc == 0 && j < m; j++)
		if (!neg->found.p[j])
			rc = tj__collect(neg, &neg->need, neg->theirs.p + j * TJ_NEG_ID_BYTES);
	return rc;
}

/* Sorts an id list and drops duplicates (a frame-limited exchange may report
 * one range twice). */
static void tj__ids_unique(struct tj__buf *list)
{
	size_t n = list->len / TJ_NEG_ID_BYTES;
	if (n < 2)
		return;
	qsort(list->p, n, TJ_NEG_ID_BYTES, tj__id_qsort_cmp);
	size_t w = 1;
	for (size_t i = 1; i < n; i++) {
		const uint8_t *id = list->p + i * TJ_NEG_ID_BYTES;
		if (memcmp(list->p + (w - 1) * TJ_NEG_ID_BYTES, id, TJ_NEG_ID_BYTES) != 0)
			memmove(list->p + w++ * TJ_NEG_ID_BYTES, id, TJ_NEG_ID_BYTES);
	}
	list->len = w * TJ_NEG_ID_BYTES;
}

/* ---- Reconciliation ---------------------------------------------------------- */

/* State of one pass over an incoming message. */
struct tj__pass {
	struct tj__bound prev; /* upper bound of the previous incoming range */
	size_t prev_idx;       /* our index of prev */
	size_t emitted_idx;    /* our index of the last bound written to out */
	bool emitted_inf;      /* that bound is at infinity: nothing is left to close */
	bool emitted_any;      /* a range of ours went out */
	bool skip;             /* a Skip up to prev is pending */
};

static int tj__flush_skip(struct tj_neg *neg, struct tj__pass *ps, struct tj__buf *b)
{
	if (!ps->skip)
		return 0;
	ps->skip = false;
	int rc = tj__write_bound(neg, b, &ps->prev);
	if (rc == 0)
		rc = tj__buf_varint(b, TJ__MODE_SKIP);
	return rc;
}

/* Responder, IdList received: answer with our ids in the range, written
 * straight to out; stops early at the frame limit, then *upper moves back to
 * the first id not sent. */
static int tj__reply_idlist(struct tj_neg *neg, struct tj__pass *ps, size_t lower, size_t *upper,
			    const struct tj__bound *curr)
{
	struct tj__bound end_bound = *curr;
	size_t end = *upper;
	int rc = tj__flush_skip(neg, ps, &neg->range);
	for (size_t i = lower; i < *upper; i++) {
		if (tj__exceeds_frame(neg, neg->out.len + (i - lower) * TJ_NEG_ID_BYTES)) {
			tj__bound_of_item(&neg->st->items[i], &end_bound);
			end = i;
			break;
		}
	}
	if (rc == 0)
		rc = tj__write_idlist(neg, &neg->range, &end_bound, lower, end);
	if (rc == 0)
		rc = tj__buf_put(&neg->out, neg->range.p, neg->range.len);
	neg->range.len = 0;
	*upper = end;
	ps->emitted_inf = end_bound.ts == TJ_NEG_TS_INFINITY;
	return rc;
}

/* Handles one range whose bound and mode were read; may write to neg->range
 * (or, for a responder's IdList, to neg->out). An empty range (bound equal
 * to the previous one) holds nothing: its payload is read and skipped, so
 * that what we send keeps strictly increasing bounds. */
static int tj__process_range(struct tj_neg *neg, struct tj__pass *ps, struct tj__reader *r,
			     const struct tj__bound *curr, uint64_t mode, bool empty, size_t *upper)
{
	const uint8_t *p;
	size_t lower = ps->prev_idx;
	int rc;

	*upper = tj__lower_bound(neg->st, lower, curr);
	if (mode == TJ__MODE_SKIP) {
		ps->skip = true;
		return 0;
	}
	if (mode == TJ__MODE_FINGERPRINT) {
		uint8_t ours[TJ_NEG_FINGERPRINT_BYTES];
		rc = tj__read_bytes(r, TJ_NEG_FINGERPRINT_BYTES, &p);
		if (rc == 0)
			rc = tj_neg_storage_fingerprint(neg->st, lower, *upper, ours);
		if (rc < 0)
			return rc;
		if (empty || memcmp(p, ours, sizeof(ours)) == 0) {
			ps->skip = true;
			return 0;
		}
		rc = tj__flush_skip(neg, ps, &neg->range);
		return rc < 0 ? rc : tj__split_range(neg, &neg->range, lower, *upper, curr);
	}
	uint64_t count;
	rc = tj__read_varint(r, &count);
	if (rc < 0)
		return rc;
	if (count > r->left / TJ_NEG_ID_BYTES)
		return TJ_EMALFORMED; /* checked before anything is sized from it */
	rc = tj__read_bytes(r, (size_t)count * TJ_NEG_ID_BYTES, &p);
	if (rc < 0)
		return rc;
	if (empty) {
		ps->skip = true;
		return 0;
	}
	if (neg->role == TJ__ROLE_RESPONDER)
		return tj__reply_idlist(neg, ps, lower, upper, curr);
	ps->skip = true;
	return tj__diff_idlist(neg, p, (size_t)count, lower, *upper);
}

static double tj__message_budget(const struct tj_neg *neg);

/* An adaptive initiator ends its message early, as if the frame were full,
 * once the responder's expected answer would no longer fit in one frame: the
 * ranges it repeats are then answered in full next round instead of being
 * folded into the responder's closing fingerprint and descended into again.
 * At least one range goes out first, so every message makes progress. */
static bool tj__exceeds_reply(const struct tj_neg *neg, const struct tj__pass *ps)
{
	return neg->adaptive && ps->emitted_any && neg->reply_bytes > tj__message_budget(neg) * 0.9;
}

/* Closes a full message: one fingerprint over everything from the last bound
 * written to infinity, so the peer compares that whole range next round. */
static int tj__close_full(struct tj_neg *neg, size_t emitted_idx)
{
	struct tj__bound inf;
	tj__bound_infinity(&inf);
	return tj__write_fingerprint_range(neg, &neg->out, &inf, emitted_idx, neg->st->n);
}

static int tj__process_ranges(struct tj_neg *neg, struct tj__reader *r)
{
	struct tj__pass ps = {0};
	int rc = 0;

	/* Each range consumes at least three bytes, so this ends. */
	while (r->left > 0) {
		struct tj__bound curr;
		uint64_t mode = 0;
		size_t upper;

		neg->range.len = 0;
		rc = tj__read_bound(neg, r, &curr);
		if (rc == 0)
			rc = tj__read_varint(r, &mode);
		if (rc < 0)
			return rc;
		/* An equal bound is an empty range: the reference emits one when a
		 * full frame closes right after a range ending at infinity. */
		int order = tj__bound_cmp(&curr, &ps.prev);
		if (order < 0)
			return TJ_EPROTO;
		if (mode > TJ__MODE_IDLIST)
			return TJ_EMALFORMED;
		size_t out_before = neg->out.len;
		rc = tj__process_range(neg, &ps, r, &curr, mode, order == 0, &upper);
		if (rc < 0)
			return rc;
		if (tj__exceeds_frame(neg, neg->out.len + neg->range.len) || tj__exceeds_reply(neg, &ps)) {
			if (neg->out.len != out_before)
				ps.emitted_idx = upper; /* an IdList reply went out */
			return ps.emitted_inf ? 0 : tj__close_full(neg, ps.emitted_idx);
		}
		if (neg->range.len > 0)
			ps.emitted_inf = curr.ts == TJ_NEG_TS_INFINITY;
		if (neg->out.len != out_before || neg->range.len > 0) {
			ps.emitted_idx = upper;
			ps.emitted_any = true;
		}
		rc = tj__buf_put(&neg->out, neg->range.p, neg->range.len);
		if (rc < 0)
			return rc;
		ps.prev_idx = upper;
		ps.prev = curr;
	}
	return 0;
}

/* ---- The initiator's splitting plan ------------------------------------------ */

/* What a reply reveals about the difference: of its fingerprint ranges, how
 * many differ from ours, and our items in them. */
struct tj__survey {
	size_t ranges, differ;
	double items, items_differ;
};

/* A read-only pass over a reply (after its version byte), before it is
 * processed. It stops quietly at anything malformed: the processing pass
 * reports it. Costs what the processing pass costs for its fingerprints. */
static void tj__survey_reply(struct tj_neg *neg, struct tj__reader r, struct tj__survey *sv)
{
	struct tj__bound prev = {0}, curr;
	size_t lower = 0;
	uint64_t saved_ts = neg->last_ts_in;

	memset(sv, 0, sizeof(*sv));
	neg->last_ts_in = 0;
	while (r.left > 0) {
		uint64_t mode = 0, count = 0;
		const uint8_t *p;
		uint8_t ours[TJ_NEG_FINGERPRINT_BYTES];
		if (tj__read_bound(neg, &r, &curr) < 0 || tj__read_varint(&r, &mode) < 0 ||
		    tj__bound_cmp(&curr, &prev) < 0)
			break;
		size_t upper = tj__lower_bound(neg->st, lower, &curr);
		if (mode == TJ__MODE_FINGERPRINT) {
			if (tj__read_bytes(&r, TJ_NEG_FINGERPRINT_BYTES, &p) < 0 ||
			    tj_neg_storage_fingerprint(neg->st, lower, upper, ours) < 0)
				break;
			bool differs = memcmp(p, ours, sizeof(ours)) != 0;
			sv->ranges++;
			sv->items += (double)(upper - lower);
			sv->differ += differs;
			sv->items_differ += differs ? (double)(upper - lower) : 0.0;
		} else if (mode == TJ__MODE_IDLIST) {
			if (tj__read_varint(&r, &count) < 0 || count > r.left / TJ_NEG_ID_BYTES ||
			    tj__read_bytes(&r, (size_t)count * TJ_NEG_ID_BYTES, &p) < 0)
				break;
		} else if (mode != TJ__MODE_SKIP) {
			break;
		}
		lower = upper;
		prev = curr;
	}
	neg->last_ts_in = saved_ts;
}

static double tj__message_budget(const struct tj_neg *neg)
{
	uint32_t lim = neg->opts.frame_limit_bytes;
	return lim != 0 ? (double)(lim - TJ__FRAME_HEADROOM_BYTES) : (double)neg->opts.max_out_bytes;
}

/*
 * Chooses how the next message splits differing ranges, from the reply that
 * it answers. If x of m fingerprint ranges of mean size s differ and the
 * differences are scattered, each range holds a Poisson number of them, so
 * rho = -ln(1 - x/m) / s differences per item; when all differ, ln(2m) / s
 * is a lower bound, and the session keeps the larger of it and what it knew.
 *
 *   - Sparse (fewer than 2 expected differences in the range), or when the
 *     responder's IdLists of 16-way children would fit well in one reply
 *     (always, without a frame limit): the reference's 16 buckets, so the
 *     next reply can end the exchange.
 *   - Dense: children of max(58, 1/rho) items (more if the message would
 *     not fit), which the responder splits 16 ways into ranges of about 3.6
 *     items or one difference, so the lists that follow carry few items
 *     both sides hold. The fan-out is capped (TJ__FANOUT_MAX). 58 is the
 *     measured balance at 10% density: smaller children cost more repeated
 *     fingerprints up, larger ones more listed ids down.
 *   - Ranges of at most 15 items are not listed but their fingerprint
 *     repeated: the responder lists them, and only its list crosses the wire.
 *   - The message ends early when the reply expected to it would not fit a
 *     frame (tj__exceeds_reply).
 */
static void tj__plan_message(struct tj_neg *neg, const struct tj__survey *sv)
{
	double budget = tj__message_budget(neg);
	uint32_t lim = neg->opts.frame_limit_bytes;

	/* In small frames nearly every message is full and closes with a
	 * fingerprint to infinity that is descended into again; measured at
	 * n = 100,000 with 8 and 16 KB frames, the adaptive splits then cost
	 * more bytes down than the reference's, so those frames keep it. */
	if (lim != 0 && lim < TJ__ADAPTIVE_MIN_FRAME_BYTES)
		return;
	neg->adaptive = true;
	neg->finish_next = false;
	if (neg->child_items == 0)
		neg->child_items = TJ__CHILD_MIN_ITEMS;
	if (sv->ranges == 0 || sv->items <= 0.0)
		return;
	double m = (double)sv->ranges, x = (double)sv->differ, mean = sv->items / m;
	double estimate = sv->differ < sv->ranges ? -log(1.0 - x / m) / mean : log(2.0 * m) / mean;
	if (sv->differ < sv->ranges && sv->ranges >= TJ__BUCKETS) {
		neg->rho = estimate;
		neg->rho_at_least = false;
	} else if (estimate > neg->rho) {
		neg->rho = estimate;
		neg->rho_at_least = sv->differ == sv->ranges;
	}
	if (sv->differ == 0)
		return;
	double mean_differ = sv->items_differ / x, lambda = neg->rho * mean_differ;
	double diffs = lambda > 1e-9 ? x * lambda / -expm1(-lambda) : x;
	double listed = diffs * TJ_NEG_ID_BYTES * (mean_differ / TJ__BUCKETS + 1.0);
	neg->finish_next = mean_differ < TJ__BUCKETS * TJ__BUCKETS * 2 && listed <= budget * 0.75;
	double child = fmax(TJ__CHILD_MIN_ITEMS, fmin(1.0 / fmax(neg->rho, 1e-12), 1e12));
	child = fmax(child, sv->items_differ * TJ__FP_RANGE_BYTES * 2.0 / budget);
	neg->child_items = (size_t)fmin(child, 1e12);
}

static int tj__begin_message(struct tj_neg *neg)
{
	neg->out.len = 0;
	neg->range.len = 0;
	neg->reply_bytes = 0.0;
	neg->last_ts_in = neg->last_ts_out = 0;
	uint8_t v = TJ_NEG_PROTOCOL_V1;
	return tj__buf_put(&neg->out, &v, 1);
}

/* Reads the version byte. Sets *answer_version_only when a responder must
 * reply with just our version (the spec's downgrade signal). */
static int tj__check_version(struct tj_neg *neg, struct tj__reader *r, bool *answer_version_only)
{
	const uint8_t *v;
	*answer_version_only = false;
	int rc = tj__read_bytes(r, 1, &v);
	if (rc < 0)
		return rc;
	if (*v < TJ__VERSION_FIRST || *v > TJ__VERSION_LAST)
		return TJ_EMALFORMED;
	if (*v == TJ_NEG_PROTOCOL_V1)
		return 0;
	if (neg->role == TJ__ROLE_INITIATOR)
		return TJ_EUNSUPPORTED;
	*answer_version_only = true;
	return 0;
}

int tj_neg_new(const struct tj_neg_storage *st, const struct tj_neg_opts *opts, struct tj_neg **out)
{
	struct tj_neg_opts o = {0};
	*out = NULL;
	if (st == NULL)
		return -EINVAL;
	if (opts != NULL)
		o = *opts;
	if (o.frame_limit_bytes != 0 && o.frame_limit_bytes < TJ_NEG_FRAME_MIN_BYTES)
		return -EINVAL;
	if (o.max_ids == 0)
		o.max_ids = TJ_NEG_DEFAULT_MAX_IDS;
	if (o.max_out_bytes == 0)
		o.max_out_bytes = TJ_NEG_DEFAULT_MAX_OUT_BYTES;
	if (o.max_rounds == 0)
		o.max_rounds = TJ_NEG_DEFAULT_MAX_ROUNDS;
	struct tj_neg *neg = calloc(1, sizeof(*neg));
	if (neg == NULL)
		return -ENOMEM;
	neg->st = st;
	neg->opts = o;
	size_t out_max = o.frame_limit_bytes ? o.frame_limit_bytes : o.max_out_bytes;
	neg->out.max = neg->range.max = out_max;
	neg->have.max = neg->need.max = SIZE_MAX;
	neg->theirs.max = neg->found.max = SIZE_MAX;
	*out = neg;
	return 0;
}

void tj_neg_free(struct tj_neg *neg)
{
	if (neg == NULL)
		return;
	tj__buf_free(&neg->out);
	tj__buf_free(&neg->range);
	tj__buf_free(&neg->have);
	tj__buf_free(&neg->need);
	tj__buf_free(&neg->theirs);
	tj__buf_free(&neg->found);
	free(neg);
}

static void tj__emit(struct tj_neg *neg, struct tj_neg_msg *out)
{
	out->bytes = neg->out.p;
	out->len = neg->out.len;
	neg->stats.msgs_sent++;
	neg->stats.bytes_sent += neg->out.len;
}

int tj_neg_initiate(struct tj_neg *neg, struct tj_neg_msg *out)
{
	struct tj__bound inf;
	int rc;

	out->bytes = NULL;
	out->len = 0;
	if (neg->dead || neg->role != TJ__ROLE_NONE)
		return TJ_ESTATE;
	neg->role = TJ__ROLE_INITIATOR;
	tj__bound_infinity(&inf);
	rc = tj__begin_message(neg);
	if (rc == 0)
		rc = tj__split_range(neg, &neg->out, 0, neg->st->n, &inf);
	if (rc < 0) {
		neg->dead = true;
		return rc;
	}
	tj__emit(neg, out);
	return 0;
}

static int tj__reconcile(struct tj_neg *neg, const uint8_t *in, size_t in_len)
{
	struct tj__reader r = {in, in_len};
	bool version_only = false;

	if (neg->stats.msgs_received >= neg->opts.max_rounds)
		return TJ_ELIMIT;
	neg->stats.msgs_received++;
	neg->stats.bytes_received += in_len;
	int rc = tj__begin_message(neg);
	if (rc == 0)
		rc = tj__check_version(neg, &r, &version_only);
	if (rc < 0 || version_only)
		return rc;
	if (neg->role == TJ__ROLE_INITIATOR) {
		struct tj__survey sv;
		tj__survey_reply(neg, r, &sv);
		tj__plan_message(neg, &sv);
	}
	return tj__process_ranges(neg, &r);
}

int tj_neg_reconcile(struct tj_neg *neg, const uint8_t *in, size_t in_len, struct tj_neg_msg *out)
{
	out->bytes = NULL;
	out->len = 0;
	if (in == NULL && in_len > 0)
		return -EINVAL;
	if (neg->dead || neg->done)
		return TJ_ESTATE;
	if (neg->role == TJ__ROLE_NONE)
		neg->role = TJ__ROLE_RESPONDER;
	int rc = tj__reconcile(neg, in, in_len);
	if (rc < 0) {
		neg->dead = true;
		return rc;
	}
	if (neg->role == TJ__ROLE_INITIATOR && neg->out.len == 1) {
		neg->done = true;
		tj__ids_unique(&neg->have);
		tj__ids_unique(&neg->need);
		return 0;
	}
	tj__emit(neg, out);
	return 0;
}

bool tj_neg_is_done(const struct tj_neg *neg)
{
	return neg->done;
}

void tj_neg_have(const struct tj_neg *neg, struct tj_neg_ids *out)
{
	out->ids = neg->have.p;
	out->count = neg->have.len / TJ_NEG_ID_BYTES;
}

void tj_neg_need(const struct tj_neg *neg, struct tj_neg_ids *out)
{
	out->ids = neg->need.p;
	out->count = neg->need.len / TJ_NEG_ID_BYTES;
}

void tj_neg_get_stats(const struct tj_neg *neg, struct tj_neg_stats *out)
{
	*out = neg->stats;
}
