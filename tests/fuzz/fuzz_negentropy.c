/*
 * Fuzzes the negentropy message parser and state machine (node/tj_negentropy).
 *
 * Two modes, chosen by bit 4 of byte 0.
 *
 * Parser mode (bit 4 clear):
 *   byte 0      flags: bit 0 initiator (else responder), bit 1 frame limit
 *               4096 (else unlimited, output capped at 1 MiB), bits 2-3 pick
 *               the storage (0, 1, 40 or 600 items over a few timestamps, so
 *               fuzzed bounds land on and between real items)
 *   then        messages from the "peer": each a 2-byte little-endian length
 *               and that many bytes; a shorter tail is the last message.
 * Each message goes to tj_neg_reconcile until one fails or the session ends.
 * Invariants (abort on violation): only the documented errors; every built
 * message within the frame limit; a responder's reply never empty; a dead
 * session stays dead; collected ids within max_ids.
 *
 * Sync mode (bit 4 set): the input describes two sets; our initiator and our
 * responder reconcile them (frame limit 4096 if bit 1) and the initiator's
 * have / need must equal the brute-force set differences.
 *   byte 1      common items drawn from a PRNG, in units of 8 (0..2040)
 *   byte 2      the PRNG seed
 *   then        4-byte records [side, ts, id0, id1]: side & 3 = 1 only in A,
 *               2 only in B, else both. The id starts with id0 id1 (so ids
 *               share prefixes), continues with bytes drawn from a PRNG seeded
 *               by (ts, id0, id1) and ends with ts, so one id never has two
 *               timestamps. The filler matters: the fingerprint is a plain sum
 *               of ids, so ids differing only in their first bytes collide
 *               (00f6 + 00f8 == 00f5 + 00f9); real ids are hashes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_negentropy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TJ_FUZZ_MAX_IDS 4096u
#define TJ_FUZZ_MAX_OUT_BYTES (1u << 20)
#define TJ_FUZZ_FRAME_BYTES 4096u
#define TJ_FUZZ_MAX_MESSAGES 64u

static const size_t tj__sizes[4] = {0, 1, 40, 600};

static uint64_t tj__rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Deterministic storage: n items with ts in 1..n/8+1 and fixed ids. */
static struct tj_neg_storage *tj__storage(size_t n)
{
	struct tj_neg_item items[600];
	struct tj_neg_storage *st = NULL;
	uint64_t s = 0x7e71d0;
	for (size_t i = 0; i < n; i++) {
		items[i].ts = 1 + tj__rng(&s) % (n / 8 + 1);
		for (size_t k = 0; k < TJ_NEG_ID_BYTES; k += 8) {
			uint64_t v = tj__rng(&s);
			memcpy(items[i].id + k, &v, 8);
		}
	}
	if (tj_neg_storage_new(items, n, 0, &st) != 0)
		abort();
	return st;
}

static void tj__check_rc(int rc)
{
	switch (rc) {
	case 0:
	case TJ_EMALFORMED:
	case TJ_EPROTO:
	case TJ_EUNSUPPORTED:
	case TJ_ELIMIT:
		return;
	default:
		abort();
	}
}

static void tj__check_out(const struct tj_neg *neg, const struct tj_neg_msg *out, bool initiator, uint32_t frame)
{
	if (frame != 0 && out->len > frame)
		abort();
	if (!initiator && out->len == 0)
		abort();
	if (initiator && (out->len == 0) != tj_neg_is_done(neg))
		abort();
	struct tj_neg_ids have, need;
	tj_neg_have(neg, &have);
	tj_neg_need(neg, &need);
	if (have.count + need.count > TJ_FUZZ_MAX_IDS)
		abort();
}

static void tj__run(struct tj_neg *neg, const uint8_t *p, size_t left, bool initiator, uint32_t frame)
{
	struct tj_neg_msg out;
	int rc = 0;

	if (initiator) {
		rc = tj_neg_initiate(neg, &out);
		if (rc != 0 || out.len == 0)
			abort();
		tj__check_out(neg, &out, initiator, frame);
	}
	for (unsigned m = 0; m < TJ_FUZZ_MAX_MESSAGES && left > 0; m++) {
		size_t len = left;
		if (left >= 2 && (size_t)(p[0] | p[1] << 8) <= left - 2) {
			len = (size_t)(p[0] | p[1] << 8);
			p += 2;
			left -= 2;
		}
		rc = tj_neg_reconcile(neg, p, len, &out);
		tj__check_rc(rc);
		p += len;
		left -= len;
		if (rc != 0) {
			/* a failed session is dead */
			if (tj_neg_reconcile(neg, (const uint8_t *)"\x61", 1, &out) != TJ_ESTATE)
				abort();
			return;
		}
		tj__check_out(neg, &out, initiator, frame);
		if (tj_neg_is_done(neg))
			return;
	}
}

/* ---- sync mode --------------------------------------------------------- */

#define TJ_FUZZ_SYNC_MAX_ITEMS 8192u
#define TJ_FUZZ_SYNC_MAX_ROUNDS 5000u

struct tj__sets {
	struct tj_neg_item a[TJ_FUZZ_SYNC_MAX_ITEMS], b[TJ_FUZZ_SYNC_MAX_ITEMS];
	size_t na, nb;
};

static void tj__item(uint64_t ts, const uint8_t head[2], uint64_t *rng, struct tj_neg_item *it)
{
	memset(it, 0, sizeof(*it));
	it->ts = ts;
	if (rng != NULL) {
		uint64_t v = tj__rng(rng);
		memcpy(it->id, &v, 8);
	} else {
		uint64_t fill = ts << 16 | (uint64_t)head[0] << 8 | head[1];
		for (size_t k = 0; k < 24; k += 8) {
			uint64_t v = tj__rng(&fill);
			memcpy(it->id + k, &v, 8);
		}
		memcpy(it->id, head, 2);
	}
	for (size_t k = 0; k < 8; k++)
		it->id[TJ_NEG_ID_BYTES - 1 - k] = (uint8_t)(ts >> (8 * k));
}

static void tj__parse_sets(const uint8_t *p, size_t left, struct tj__sets *s)
{
	uint64_t rng = p[1];
	size_t common = (size_t)p[0] * 8;
	s->na = s->nb = 0;
	for (size_t i = 0; i < common; i++) {
		tj__item(tj__rng(&rng) % 64, NULL, &rng, &s->a[s->na]);
		s->b[s->nb++] = s->a[s->na++];
	}
	for (p += 2, left -= 2; left >= 4 && s->na < TJ_FUZZ_SYNC_MAX_ITEMS && s->nb < TJ_FUZZ_SYNC_MAX_ITEMS;
	     p += 4, left -= 4) {
		struct tj_neg_item it;
		tj__item(p[1], p + 2, NULL, &it);
		if ((p[0] & 3) != 2)
			s->a[s->na++] = it;
		if ((p[0] & 3) != 1)
			s->b[s->nb++] = it;
	}
}

static int tj__item_qcmp(const void *x, const void *y)
{
	return tj_neg_item_cmp(x, y);
}

static int tj__id_qcmp(const void *x, const void *y)
{
	return memcmp(x, y, TJ_NEG_ID_BYTES);
}

static size_t tj__unique(struct tj_neg_item *v, size_t n)
{
	size_t w = 0;
	qsort(v, n, sizeof(*v), tj__item_qcmp);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || tj_neg_item_cmp(&v[w - 1], &v[i]) != 0)
			v[w++] = v[i];
	return w;
}

/* Aborts unless got (sorted ids) is exactly x \ y (both sorted, unique). */
static void tj__expect_minus(const struct tj_neg_ids *got, const struct tj_neg_item *x, size_t nx,
			     const struct tj_neg_item *y, size_t ny)
{
	static uint8_t want[TJ_FUZZ_SYNC_MAX_ITEMS][TJ_NEG_ID_BYTES];
	size_t n = 0, j = 0;
	for (size_t i = 0; i < nx; i++) {
		while (j < ny && tj_neg_item_cmp(&y[j], &x[i]) < 0)
			j++;
		if (j < ny && tj_neg_item_cmp(&y[j], &x[i]) == 0)
			continue;
		memcpy(want[n++], x[i].id, TJ_NEG_ID_BYTES);
	}
	qsort(want, n, TJ_NEG_ID_BYTES, tj__id_qcmp);
	if (got->count != n || (n > 0 && memcmp(got->ids, want, n * TJ_NEG_ID_BYTES) != 0))
		abort();
}

static void tj__sync(const uint8_t *p, size_t left, uint32_t frame)
{
	static struct tj__sets s;
	struct tj_neg_storage *sa = NULL, *sb = NULL;
	struct tj_neg *ini = NULL, *rsp = NULL;
	struct tj_neg_opts opts = {.frame_limit_bytes = frame};
	struct tj_neg_msg msg, reply;
	struct tj_neg_ids have, need;

	if (left < 2)
		return;
	tj__parse_sets(p, left, &s);
	if (tj_neg_storage_new(s.a, s.na, 0, &sa) != 0 || tj_neg_storage_new(s.b, s.nb, 0, &sb) != 0 ||
	    tj_neg_new(sa, &opts, &ini) != 0 || tj_neg_new(sb, &opts, &rsp) != 0 || tj_neg_initiate(ini, &msg) != 0)
		abort();
	for (unsigned r = 0; msg.len > 0; r++) {
		if (r == TJ_FUZZ_SYNC_MAX_ROUNDS || (frame && msg.len > frame))
			abort();
		if (tj_neg_reconcile(rsp, msg.bytes, msg.len, &reply) != 0 || (frame && reply.len > frame))
			abort();
		if (tj_neg_reconcile(ini, reply.bytes, reply.len, &msg) != 0)
			abort();
	}
	s.na = tj__unique(s.a, s.na);
	s.nb = tj__unique(s.b, s.nb);
	tj_neg_have(ini, &have);
	tj_neg_need(ini, &need);
	tj__expect_minus(&have, s.a, s.na, s.b, s.nb);
	tj__expect_minus(&need, s.b, s.nb, s.a, s.na);
	tj_neg_free(ini);
	tj_neg_free(rsp);
	tj_neg_storage_free(sa);
	tj_neg_storage_free(sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_neg_storage *st;
	struct tj_neg *neg = NULL;

	if (size < 1)
		return 0;
	bool initiator = (data[0] & 1) != 0;
	uint32_t frame = (data[0] & 2) ? TJ_FUZZ_FRAME_BYTES : 0;
	if (data[0] & 0x10) {
		tj__sync(data + 1, size - 1, frame);
		return 0;
	}
	size_t which = (size_t)(data[0] >> 2) & 3;
	st = tj__storage(tj__sizes[which]);

	struct tj_neg_opts opts = {
		.frame_limit_bytes = frame,
		.max_ids = TJ_FUZZ_MAX_IDS,
		.max_out_bytes = TJ_FUZZ_MAX_OUT_BYTES,
		.max_rounds = TJ_FUZZ_MAX_MESSAGES,
	};
	if (tj_neg_new(st, &opts, &neg) != 0)
		abort();
	tj__run(neg, data + 1, size - 1, initiator, frame);
	tj_neg_free(neg);
	tj_neg_storage_free(st);
	return 0;
}
