/*
 * Fuzzes the negentropy message parser and state machine (node/tj_negentropy).
 *
 * Input layout:
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_neg_storage *st;
	struct tj_neg *neg = NULL;

	if (size < 1)
		return 0;
	bool initiator = (data[0] & 1) != 0;
	uint32_t frame = (data[0] & 2) ? TJ_FUZZ_FRAME_BYTES : 0;
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
