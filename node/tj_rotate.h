/*
 * Key rotation (DESIGN.md "Trust"): a removal, or `tejido network rotate-key`,
 * makes a new epoch key and a new network key and seals them to each
 * remaining member in TJ_KIND_KEY records (audience named, one sealed slot per
 * reader, at most TJ_RECORD_SLOTS_MAX readers per record, so a large network
 * gets several KEY records carrying the same keys). Body, canonical msgpack:
 *   [epoch uint (>= 1), epoch key id bin 32, epoch key bin 32, network key bin 32,
 *    changeover end uint (ms since the epoch)]
 * Every member that ingests a KEY record of a current member that is or was a
 * steward installs the keys: the epoch key joins the keyring (older epochs
 * still open older records) and becomes the sealing epoch when its epoch
 * number is the highest seen (ties: the lowest KEY record id wins, so two
 * stewards rotating at once converge on one epoch). The network key is kept
 * as the keyring's next network key.
 *
 * A removed member is in no slot: it never holds the new epoch key, so no
 * record sealed after the rotation opens for it, whatever it copied.
 *
 * Who writes: the steward on whose node a removal takes effect by its own
 * approval or proposal (tj_member_ops.c), the one asked to rotate, and, for
 * a removal that takes effect on ingest (the completing approval came by
 * sync, e.g. two stewards approved while apart), a current steward's daemon
 * after the sync batch that stored it and once at start (tj_rotate_auto):
 * the lowest public key among the current stewards at once, the others after
 * TJ_ROTATE_DEFER_MS if still needed (duplicates converge by the rule above).
 * A rotation is needed while the sealing epoch's KEY record sorts, by ts_ms,
 * at or before the record at which the latest removal took effect (epoch 0:
 * any removal); tj_rotate writes its KEY records after that ts, so it is not
 * needed after it, whatever the clocks (bounded: no rotation loop). A node
 * that joined by welcome after a rotation has no epoch installed until a KEY
 * record is sealed to it, and does not decide (tj_rotate_needed).
 *
 * Network key changeover (tj_keyring_handshake_key): until the changeover
 * end, nodes dial with the old network key and accept both; from then on only
 * the new one, so a removed member cannot even get past the first handshake
 * message (before that it is refused at the authorize step, as any
 * non-member). A member offline for the whole changeover that never got the
 * KEY record needs a new welcome. LIMITS: while no current steward's daemon
 * runs, a removal that took effect on ingest rotates nothing; ts_ms is the
 * author's claim, so a removal backdated before the last rotation is not seen
 * as needing one (`network rotate-key` still does it).
 */
#ifndef TJ_ROTATE_H
#define TJ_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keyring.h"
#include "tj_record.h"
#include "tj_store.h"

#define TJ_META_EPOCH "epoch" /* epoch number (8 bytes BE) || id of the KEY record of the sealing epoch */
#define TJ_ROTATE_BODY_MAX_BYTES 128

struct tj_rotate_body {
	uint64_t epoch;
	uint8_t epoch_id[32];
	uint8_t epoch_key[32];    /* secret */
	uint8_t network_key[32];  /* secret */
	uint64_t network_from_ms; /* the old network key is accepted until then, the new one alone after */
};

TJ_MUST_CHECK int tj_rotate_body_encode(const struct tj_rotate_body *b, uint8_t *buf, size_t cap,
                                        size_t *len);
/* Untrusted bytes; TJ_EMALFORMED also when epoch_id is not the id of epoch_key. */
TJ_MUST_CHECK int tj_rotate_body_decode(const uint8_t *buf, size_t len, struct tj_rotate_body *b);

/*
 * Installs b (from KEY record rec_id) into kr and records the sealing epoch
 * in t's meta, by the rule above. Does not save kr (the caller does, in t).
 */
TJ_MUST_CHECK int tj_rotate_install(struct tj_keyring *kr, struct tj_txn *t, const struct tj_rotate_body *b,
                                    const uint8_t rec_id[32]);

struct tj_node;
/*
 * Writes KEY records with new keys for the current members (this node must
 * be a steward), installs them here; the old network key is accepted for
 * changeover_ms more; *epoch: the new epoch number. One write transaction.
 */
#define TJ_ROTATE_CHANGEOVER_MS (24ull * 3600 * 1000) /* default: both network keys for 24 h */
TJ_MUST_CHECK int tj_rotate(struct tj_node *n, uint64_t changeover_ms, uint64_t *epoch);

/*
 * Whether the sealing epoch (meta "epoch" in t) predates the latest removal
 * that took effect in s (the state derived from the same store): epoch 0 and
 * any removal, or its KEY record's ts_ms at or before that removal's. kr: the
 * node's keyring (NULL: not consulted); with no epoch installed but several
 * epoch keys (joined by a welcome after a rotation) it says not needed, since
 * when those keys were made is unknown here.
 */
struct tj_member_state;
TJ_MUST_CHECK int tj_rotate_needed(struct tj_txn *t, const struct tj_keyring *kr,
                                   const struct tj_member_state *s, bool *needed);

/*
 * After a sync batch that stored membership or KEY records, and at start, on
 * the loop thread outside any transaction: when this node is a current
 * steward and a rotation is needed, rotates as `network rotate-key` does;
 * with may_defer, a steward other than the lowest key sets *deferred instead
 * (the caller asks again without may_defer after TJ_ROTATE_DEFER_MS).
 */
#define TJ_ROTATE_DEFER_MS 45000u
TJ_MUST_CHECK int tj_rotate_auto(struct tj_node *n, bool may_defer, bool *deferred);

/* Binds the node whose keyring ingest installs into (one per process; NULL unbinds). */
void tj_rotate_attach(struct tj_node *n);
/* Unbinds n if it is the bound node. */
void tj_rotate_detach(const struct tj_node *n);

/*
 * Ingest's hook for a stored KEY record, in its write transaction: opens it
 * with the bound node's identity; installs and saves the keyring when a slot
 * is ours and the author may rotate. Records not for us are stored and
 * otherwise ignored (logged by id). Returns 0 or a store error.
 */
TJ_MUST_CHECK int tj_rotate_ingest_stored(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                                          const uint8_t id[32]);

#endif
