/*
 * Retraction (DESIGN.md "Trust"): the author of a record (or, once the
 * membership module registers its rule, the stewards' threshold) retracts
 * it; every node deletes its body and slots, keeps a tombstone so the record
 * never comes back, and confirms.
 *
 * Records (both network audience, bodies canonical msgpack):
 *   TJ_KIND_RETRACTION  [target id(bin 32), reason(str: vocab "retraction_reason")]
 *   TJ_KIND_CONFIRM     [retraction id(bin 32), target id(bin 32)]
 *
 * Applying happens in ingest (tj_ingest.c calls the two hooks below inside
 * its write transaction), so a retraction written here and one received from
 * a peer take the same path:
 *   - the target, and when it is an incident its case records by the same
 *     author, are tombstoned (tj_store_tombstone: the body and its slots are
 *     deleted; [author, time, reason] is kept);
 *   - an incident, acknowledgement or resolution is first handed to the
 *     alerts (tj_alert_retracted_mark, same transaction): the next alert pass
 *     removes its alerts, query index entries and window memberships
 *     (tj_alert.h "Retraction"); tj_retract_run runs that pass at once;
 *   - a retraction whose target is not here yet is kept as pending: when the
 *     target arrives from the same author it is tombstoned and refused
 *     (TJ_ERETRACTED), so reconciliation cannot bring it back;
 *   - a retraction of a record someone else wrote is refused (TJ_ENOTMEMBER,
 *     with the reason in the log) unless the stewards' rule accepts it;
 *   - membership, key, genesis and circle records cannot be retracted (the
 *     retraction is stored and relayed but changes nothing), so membership
 *     never depends on the order records arrive in.
 *
 * What this node knows of a retraction lives in the store's meta:
 *   "rt:" + hex of the target's first 30 bytes -> [retraction id, retractor,
 *          ts_ms, reason, applied = true]: the retraction that took effect
 *   "rp:" + hex of the target's first 22 bytes and the retractor's first 8
 *          -> the same, applied = false: a retraction whose target has not
 *          arrived, kept per retractor so that a forged one cannot hide the
 *          author's
 *   "cf:" + hex of the retraction's first 30 bytes -> the Ed25519 keys (32
 *          bytes each) of the nodes that confirmed it
 *
 * FOR THE SYNC LAYER: a tombstoned id must count as present in set
 * reconciliation, or peers that still hold the record keep offering it (our
 * ingest refuses it with TJ_ERETRACTED each time). Ask
 * tj_retract_is_tombstoned().
 *
 * Freed LMDB pages of a deleted body hold ciphertext only: bodies are sealed
 * before they reach the store.
 */
#ifndef TJ_RETRACT_H
#define TJ_RETRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_ctl_server.h"
#include "tj_error.h"
#include "tj_incident.h"
#include "tj_keyring.h"
#include "tj_node_core.h"
#include "tj_record.h"
#include "tj_store.h"

#define TJ_RETRACT_REASON_FIELD "retraction_reason"
#define TJ_RETRACT_BODY_MAX_BYTES 80
#define TJ_RETRACT_CONFIRMS_MAX 256

/* Bodies. reason must be a code of the "retraction_reason" vocabulary (TJ_ESCHEMA otherwise). */
TJ_MUST_CHECK int tj_retract_body_encode(const uint8_t target[32], const char *reason, uint8_t *buf,
                                         size_t cap, size_t *len);
TJ_MUST_CHECK int tj_retract_body_decode(const uint8_t *buf, size_t len, uint8_t target[32],
                                         char reason[TJ_CODE_MAX]);
TJ_MUST_CHECK int tj_confirm_body_encode(const uint8_t retraction[32], const uint8_t target[32], uint8_t *buf,
                                         size_t cap, size_t *len);
TJ_MUST_CHECK int tj_confirm_body_decode(const uint8_t *buf, size_t len, uint8_t retraction[32],
                                         uint8_t target[32]);

/*
 * The extension point for the stewards' threshold: called when a retraction's
 * author did not write the target. Return true to accept the retraction
 * (e.g. enough steward approvals name it). NULL (the default) = authors only.
 */
typedef bool (*tj_retract_steward_fn)(struct tj_txn *t, const uint8_t retraction_id[32],
                                      const struct tj_record *retraction, const uint8_t target_author[32]);
void tj_retract_set_steward_rule(tj_retract_steward_fn fn);

/*
 * Binds the keys ingest opens retraction and confirmation bodies with (one
 * store per process; borrowed until detach). Without keys, retractions are
 * stored and relayed but not applied. tj_node_open / tj_node_close call these.
 */
void tj_retract_attach(const struct tj_store *st, const struct tj_identity *me, const struct tj_keyring *kr);
void tj_retract_detach(const struct tj_store *st);

/*
 * Ingest's hooks (tj_ingest.c), inside its write transaction; enc/rec/id as
 * validated. check runs before the record is stored and sets *verdict (0 =
 * store it; TJ_ERETRACTED, TJ_ENOTMEMBER, TJ_EMALFORMED = refuse); stored runs
 * after, and applies retractions and records confirmations. Both return 0 or a
 * store error that aborts the transaction.
 */
TJ_MUST_CHECK int tj_retract_ingest_check(struct tj_txn *t, const uint8_t *enc, size_t len,
                                          const struct tj_record *rec, const uint8_t id[32], int *verdict);
TJ_MUST_CHECK int tj_retract_ingest_stored(struct tj_txn *t, const uint8_t *enc, size_t len,
                                           const struct tj_record *rec, const uint8_t id[32]);

/* 0 when id is tombstoned (retracted), TJ_ENOTFOUND when not. For the sync layer. */
TJ_MUST_CHECK int tj_retract_is_tombstoned(struct tj_txn *t, const uint8_t id[32]);

/*
 * Retracts one of this node's records (full id, or a hex prefix of >= 8
 * nibbles) with a reason code: writes the retraction (applied through
 * ingest) and this node's confirmation. TJ_ENOTMEMBER when this node did not
 * write it ("only the author can retract"), TJ_ERETRACTED when already
 * retracted, TJ_EUNSUPPORTED for a kind that cannot be retracted.
 */
TJ_MUST_CHECK int tj_retract_run(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
                                 const char *reason, uint8_t target[32], uint8_t retraction_id[32]);

/*
 * After records from a peer were committed: confirms each retraction among
 * ids that this node applied (or holds pending). Failures are logged.
 */
void tj_retract_after_store(struct tj_node *n, const uint8_t (*ids)[32], size_t n_ids);

/* What this node knows of the retraction of target. */
struct tj_retraction_info {
	uint8_t target[32];
	uint8_t retraction[32];
	uint8_t retractor[32];
	uint64_t ts_ms;
	char reason[TJ_CODE_MAX];
	bool applied; /* always true here: pending retractions are not reported */
	size_t n_confirms;
	uint8_t confirms[TJ_RETRACT_CONFIRMS_MAX][32];
};
/*
 * The retraction of target that took effect here, with its confirmations;
 * TJ_ENOTFOUND when none did (pending ones wait for their target). info is
 * large (the confirmers): allocate it.
 */
TJ_MUST_CHECK int tj_retract_info(struct tj_node *n, const uint8_t target[32],
                                  struct tj_retraction_info *info);

/*
 * Control ops (tj_control.h):
 *   retract     {id: bin 32 | prefix: str, reason: str} -> {target, retraction}
 *   retraction  {id: bin 32} -> {target, retraction, retractor, retracted_at,
 *               reason, applied, confirmed_by: [bin 32...]}; TJ_ENOTFOUND if none
 */
TJ_MUST_CHECK int tj_retract_ctl(struct tj_node *node, const uint8_t *req, size_t len,
                                 struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_retract_ctl_info(struct tj_node *node, const uint8_t *req, size_t len,
                                      struct tj_ctl_reply *out);

#endif
