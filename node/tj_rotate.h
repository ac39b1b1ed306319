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
 * approval or proposal (tj_member_ops.c), or the one asked to rotate.
 *
 * Network key changeover (tj_keyring_handshake_key): until the changeover
 * end, nodes dial with the old network key and accept both; from then on only
 * the new one, so a removed member cannot even get past the first handshake
 * message (before that it is refused at the authorize step, as any
 * non-member). A member offline for the whole changeover that never got the
 * KEY record needs a new welcome. A removal that takes effect only on
 * ingest (the completing approval arrived from a node that had not seen the
 * proposal) rotates nothing until a steward runs `network rotate-key`.
 */
#ifndef TJ_ROTATE_H
#define TJ_ROTATE_H

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
