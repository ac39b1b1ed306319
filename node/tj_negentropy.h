/*
 * Range-based set reconciliation, wire-compatible with Negentropy protocol v1
 * (hoytech/negentropy docs/negentropy-protocol-v1.md; nostr-tools NIP-77).
 *
 * Two nodes each hold a set of items (ts, id) and learn, in a few round
 * trips, which ids one has and the other lacks. Bytes on the wire grow with
 * the difference, not with the size of the sets.
 *
 *   - An item is (ts in whole seconds, 32-byte id); Tejido uses
 *     ts = record ts_ms / 1000 (tj_neg_ts_from_ms) and the record id.
 *     Items sort by ts, then by id bytes (memcmp). ts == UINT64_MAX is
 *     reserved by the protocol ("infinity") and refused.
 *   - A storage (struct tj_neg_storage) is a sealed, sorted vector of items
 *     with prefix sums of the ids mod 2^256, so the fingerprint of any range
 *     costs O(1) plus a binary search: reconciliation is never O(n) per range.
 *   - A session (struct tj_neg) runs one reconciliation with one peer, in one
 *     of two roles fixed by the first call:
 *       initiator: tj_neg_initiate() -> first message; then each reply goes
 *         to tj_neg_reconcile(), which returns the next message, or an empty
 *         one (len 0) when reconciliation is complete. Along the way the
 *         session accumulates "have" ids (we have, the peer lacks) and "need"
 *         ids (the peer has, we lack).
 *       responder: tj_neg_reconcile() on each incoming message -> the reply
 *         (always at least the version byte). Like the reference
 *         implementation (and unlike nostr-tools), a responder answers an
 *         IdList range with its own IdList, so the initiator learns the whole
 *         difference. The responder collects no ids and keeps no state
 *         between messages but its counters (max_rounds, stats): one
 *         responder session per incoming message answers the same bytes.
 *
 * Cost per message: O(ranges * log n) (one binary search and one O(1)
 * fingerprint per range) plus the ids written or compared; never O(n) per
 * range (an initiator reads each reply twice: once to plan, once to answer).
 * Bytes: about 20 per fingerprint range, 32 per id. The responder and the
 * first message split like the reference (16 buckets, IdLists below 32
 * items). From its second message on, an initiator with frames of 32 KB
 * or more (or none) adapts: it estimates from each reply how dense the
 * difference is, splits dense ranges into more, smaller sub-ranges (up to
 * 1,024 per range), repeats the fingerprint of a differing range of at most
 * 15 items instead of listing it, so that the responder's IdLists, which end
 * the exchange, carry few ids both sides hold, and ends a message early when
 * the reply it expects would not fit a frame. At n = 100,000 with a
 * 500,000-byte frame, 1,000 scattered differences take 3 round trips, ~50 KB
 * up, ~400 KB down; 10,000 take 7, ~245 KB up, ~1.9 MB down.
 * With a frame limit, a full message closes with one fingerprint to infinity
 * and the next rounds descend again from there.
 *
 * Every incoming message is untrusted: varints are bounded (no overlong form,
 * nothing past 64 bits), every count is checked against the bytes present
 * before anything is allocated from it, bounds must not decrease, modes
 * other than Skip/Fingerprint/IdList are rejected, and the ids collected, the
 * output size and the number of rounds are capped (struct tj_neg_opts).
 *
 * Errors (negative returns):
 *   TJ_EMALFORMED   truncated message, overlong or > 64-bit varint, bound id
 *                   prefix > 32 bytes, unknown mode, id count larger than the
 *                   bytes left, version byte outside 0x60..0x6f
 *   TJ_EPROTO       a bound lower than the one before it (an equal bound is
 *                   an empty range, which the reference itself may send:
 *                   its payload is read and ignored; ours never sends one)
 *   TJ_EUNSUPPORTED initiator received a reply of another protocol version
 *                   (a responder answers such a query with the single byte
 *                   0x61, as the spec says, and returns 0)
 *   TJ_ELIMIT       ids collected > max_ids, a message would exceed
 *                   max_out_bytes (frame_limit_bytes == 0 only), or more
 *                   than max_rounds messages
 *   TJ_ESTATE       call out of order (reconcile before initiate on an
 *                   initiator, initiate twice, initiate after acting as a
 *                   responder, any call after an error or after completion)
 *   -EINVAL         bad argument (frame limit 1..4095, ts == UINT64_MAX,
 *                   PRESORTED input that is not strictly increasing)
 *   -ENOMEM
 * After any error the session is dead: every further call returns TJ_ESTATE.
 * The storage is never modified by a session.
 *
 * Threads: a storage may be shared read-only by any number of sessions in any
 * threads; a session is used by one thread at a time.
 *
 * Usage (error handling elided; send/recv stand for the peer transport):
 *
 *   struct tj_neg_opts o = {.frame_limit_bytes = 60000};
 *   tj_neg_storage_new(items, n, 0, &st);      // snapshot of the store
 *   tj_neg_new(st, &o, &neg);
 *   // initiator                          // responder
 *   tj_neg_initiate(neg, &m);              while (recv(&in, &len))
 *   while (m.len > 0) {                        tj_neg_reconcile(neg, in, len, &m),
 *       send(m.bytes, m.len);                  send(m.bytes, m.len);
 *       recv(&in, &len);
 *       tj_neg_reconcile(neg, in, len, &m);
 *   }
 *   tj_neg_have(neg, &have);  tj_neg_need(neg, &need);
 *   tj_neg_free(neg);  tj_neg_storage_free(st);
 */
#ifndef TJ_NEGENTROPY_H
#define TJ_NEGENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"

#define TJ_NEG_ID_BYTES 32
#define TJ_NEG_FINGERPRINT_BYTES 16
#define TJ_NEG_PROTOCOL_V1 0x61
#define TJ_NEG_TS_INFINITY UINT64_MAX
/* Smallest frame limit the protocol allows (0 means unlimited). */
#define TJ_NEG_FRAME_MIN_BYTES 4096u
/* Defaults used when a field of struct tj_neg_opts is 0. */
#define TJ_NEG_DEFAULT_MAX_IDS ((size_t)1 << 20)            /* 32 MiB of ids */
#define TJ_NEG_DEFAULT_MAX_OUT_BYTES ((size_t)32 << 20)     /* per message */
#define TJ_NEG_DEFAULT_MAX_ROUNDS 65536u

struct tj_neg_item {
	uint64_t ts;                    /* seconds; < TJ_NEG_TS_INFINITY */
	uint8_t id[TJ_NEG_ID_BYTES];
};

/* Tejido's mapping from a record's ts_ms to the protocol's timestamp. */
static inline uint64_t tj_neg_ts_from_ms(uint64_t ts_ms)
{
	return ts_ms / 1000u;
}

/* Orders items by (ts, id): <0, 0, >0 like memcmp. */
int tj_neg_item_cmp(const struct tj_neg_item *a, const struct tj_neg_item *b);

/* ---- Storage ----------------------------------------------------------- */

struct tj_neg_storage;

enum tj_neg_storage_flags {
	/* The caller promises items are sorted by (ts in seconds, id) and
	 * distinct. Checked in O(n); -EINVAL if not. Without this flag the items
	 * are sorted (O(n log n)) and exact duplicates dropped.
	 * WARNING: a scan of an index keyed by (ts_ms, id) is NOT in this order
	 * (1.9 s / id 00 sorts before 1.2 s / id ff once both are second 1):
	 * either key the index by (ts_ms / 1000, id) or omit this flag. */
	TJ_NEG_PRESORTED = 1u << 0,
};

/*
 * Builds a sealed storage from n items (copied; the caller keeps items).
 * items may be NULL when n == 0. Cost O(n) (+ O(n log n) unless PRESORTED);
 * memory 72 bytes per item (the item and a 32-byte prefix sum).
 */
TJ_MUST_CHECK int tj_neg_storage_new(const struct tj_neg_item *items, size_t n, unsigned flags,
				     struct tj_neg_storage **out);

/*
 * Adds n items (any order; items already present are ignored). Cost
 * O(k log k + N) for k new items into N: the batch is sorted, merged, and the
 * prefix sums are recomputed from the first changed position. Batch inserts
 * (e.g. after a store commit) rather than calling this once per record.
 * WARNING: do not call while a session borrows st (between tj_neg_new and
 * tj_neg_free): item positions move under it.
 */
TJ_MUST_CHECK int tj_neg_storage_insert(struct tj_neg_storage *st, const struct tj_neg_item *items, size_t n);

/* Frees st. Accepts NULL. No session may still borrow it. */
void tj_neg_storage_free(struct tj_neg_storage *st);

size_t tj_neg_storage_size(const struct tj_neg_storage *st);

/* Copies the i-th item (in sort order). -EINVAL if i >= size. */
TJ_MUST_CHECK int tj_neg_storage_get(const struct tj_neg_storage *st, size_t i, struct tj_neg_item *out);

/* Protocol fingerprint of items [begin, end): O(1). -EINVAL on a bad range. */
TJ_MUST_CHECK int tj_neg_storage_fingerprint(const struct tj_neg_storage *st, size_t begin, size_t end,
					     uint8_t out[TJ_NEG_FINGERPRINT_BYTES]);

/* ---- Session ----------------------------------------------------------- */

struct tj_neg_opts {
	/* Largest message this session builds, in bytes: 0 = unlimited, else
	 * >= TJ_NEG_FRAME_MIN_BYTES. Every message built is <= this limit
	 * (the protocol keeps 200 bytes of headroom and ends a full message with
	 * a fingerprint of the remaining range). Use one for any real peer. */
	uint32_t frame_limit_bytes;
	/* Initiator: most have + need ids collected over the session. */
	size_t max_ids;
	/* Cap on one built message when frame_limit_bytes == 0 (TJ_ELIMIT). */
	size_t max_out_bytes;
	/* Most messages this session processes (initiator or responder). */
	uint32_t max_rounds;
};

struct tj_neg;

/*
 * Creates a session over st, which it borrows until tj_neg_free (st must
 * outlive it and must not change meanwhile). opts may be NULL (all defaults,
 * unlimited frames). -EINVAL for a frame limit in 1..4095.
 */
TJ_MUST_CHECK int tj_neg_new(const struct tj_neg_storage *st, const struct tj_neg_opts *opts, struct tj_neg **out);

/* Frees neg and everything it returned. Accepts NULL. */
void tj_neg_free(struct tj_neg *neg);

/* A message built by the session: borrowed, valid until the next call on it. */
struct tj_neg_msg {
	const uint8_t *bytes;
	size_t len;
};

/* Makes neg the initiator and builds the first message (never empty). */
TJ_MUST_CHECK int tj_neg_initiate(struct tj_neg *neg, struct tj_neg_msg *out);

/*
 * Processes one message from the peer (in is borrowed for the call only).
 * Initiator: out is the next message to send, or len 0 (bytes NULL) when
 * reconciliation is complete; the have/need lists grow.
 * Responder (a session on which tj_neg_initiate was never called): out is the
 * reply to send; always at least one byte.
 */
TJ_MUST_CHECK int tj_neg_reconcile(struct tj_neg *neg, const uint8_t *in, size_t in_len, struct tj_neg_msg *out);

/* True once an initiator's reconciliation has completed. */
bool tj_neg_is_done(const struct tj_neg *neg);

/* Ids, TJ_NEG_ID_BYTES each, back to back; borrowed, valid until the next
 * tj_neg_reconcile or tj_neg_free. Once the session is done they are sorted
 * by id and distinct; before that, a range re-sent after a full frame may
 * appear twice. They are claims of an untrusted peer: fetch and validate. */
struct tj_neg_ids {
	const uint8_t *ids;
	size_t count;
};

/* Initiator: ids we have and the peer lacks (send them). */
void tj_neg_have(const struct tj_neg *neg, struct tj_neg_ids *out);
/* Initiator: ids the peer has and we lack (fetch them). */
void tj_neg_need(const struct tj_neg *neg, struct tj_neg_ids *out);

struct tj_neg_stats {
	uint32_t msgs_sent;     /* initiator: round trips = msgs_received */
	uint32_t msgs_received;
	uint64_t bytes_sent;
	uint64_t bytes_received;
};

void tj_neg_get_stats(const struct tj_neg *neg, struct tj_neg_stats *out);

#endif
