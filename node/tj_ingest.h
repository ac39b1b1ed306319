/*
 * Ingest: the single path every record takes into the store (the CLI's adds
 * now, peers later). Two steps, so verification of a batch can move to the
 * libuv thread pool while the store step stays on the one LMDB writer:
 *
 *   validate (pure, no store): decode + signature first (tj_record_verify),
 *            then the network id (ours; or, for the genesis, a zero field and
 *            an id equal to our network id), then ts_ms <= now + skew.
 *   put      (inside a write transaction): already stored -> TJ_EEXIST;
 *            tombstoned -> TJ_ERETRACTED; author frozen -> TJ_EFROZEN;
 *            author not a member (membership records: never a steward)
 *            -> TJ_ENOTMEMBER (tj_member.h; a store whose membership was
 *            never derived does not check);
 *            seq/prev shape wrong -> TJ_ECHAIN; another id at the same
 *            (author, seq) -> both kept, author frozen, TJ_EEQUIVOCATION.
 *            A CASE record's audience ref is recorded in case_of.
 *
 * A record counts as stored only once the transaction committed.
 */
#ifndef TJ_INGEST_H
#define TJ_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_record.h"
#include "tj_store.h"

#define TJ_INGEST_BATCH_MAX 1000

struct tj_ingest_item {
	const uint8_t *enc;   /* borrowed; must outlive the item */
	size_t len;
	struct tj_record rec; /* filled by validate; borrows enc */
	uint8_t id[32];       /* filled by validate */
	bool valid;           /* validate accepted it */
	bool stored;          /* put wrote it (counts once the commit succeeded) */
	int result;           /* 0 stored, else why not (TJ_EEXIST is benign) */
};

/* The wider context a record is judged in. */
struct tj_ingest_ctx {
	bool has_network;
	uint8_t network_id[32];
	uint64_t now_ms;
};

/* Pure step: sets item->rec, ->id, ->valid and ->result. Thread-safe. */
void tj_ingest_validate(const struct tj_ingest_ctx *ctx, struct tj_ingest_item *item);

/*
 * Store step for one validated item inside the caller's write transaction.
 * Sets item->result and item->stored. Returns 0 while the transaction is
 * still usable, or TJ_ESTORE / TJ_ESTOREFULL / -ENOMEM when it must be aborted.
 */
TJ_MUST_CHECK int tj_ingest_put(struct tj_txn *t, struct tj_ingest_item *item);

/*
 * Validates n (<= TJ_INGEST_BATCH_MAX) items and stores every valid one in
 * ONE write transaction. Validation runs on every core (threads of its own
 * for batches of 64 or more) while this thread stores the items in order as
 * they become valid. Per-item results in items[i].result. Returns 0 when
 * the transaction committed (or had nothing to do); otherwise the error, and
 * every item that would have been stored carries it as its result.
 */
TJ_MUST_CHECK int tj_ingest_batch(struct tj_store *st, const struct tj_ingest_ctx *ctx, struct tj_ingest_item *items,
				  size_t n);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t tj_now_ms(void);

#endif
