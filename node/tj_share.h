/*
 * Sharing an incident's case face later (DESIGN.md "The incident: two
 * faces"): the case record is never rewritten; its author writes a
 * TJ_KIND_SLOT_GRANT record that carries the case record's key sealed to
 * each new reader.
 *
 *   audience  NAMED, ref = the case record's id
 *   slots     sealed to each new reader and to the author (so the author can
 *             see whom it shared with)
 *   body      [case id(bin 32), [[type(uint = TJ_SLOT_SEALED), ref(reader
 *             Ed25519 key, bin 32), wrapped(bin 80: crypto_box_seal of the
 *             case record key)]...]]   (1 to TJ_SHARE_READERS_MAX slots)
 *             or, for a circle (tj_circle.h): [TJ_SLOT_CIRCLE, circle key id,
 *             bin 72: nonce(24) || XChaCha20-Poly1305(case key, ad = case id)
 *             under the circle's newest key]; the grant record then also has
 *             a circle slot, so the circle's members open the grant itself.
 *
 * Ingest records case id -> grant id in the store's case_of database (whose
 * keys are otherwise summary ids; the two never collide since ids are
 * hashes), and refuses a grant whose author did not write the case record
 * (TJ_ENOTMEMBER). A reader opening the case through a grant checks that
 * again: a grant counts only when its author wrote the case.
 */
#ifndef TJ_SHARE_H
#define TJ_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_ctl_server.h"
#include "tj_error.h"
#include "tj_keys.h"
#include "tj_node_core.h"
#include "tj_record.h"
#include "tj_seal.h"
#include "tj_store.h"

#define TJ_SHARE_READERS_MAX 15 /* plus the author's own slot: TJ_RECORD_SLOTS_MAX */
#define TJ_SHARE_WRAPPED_BYTES 80
#define TJ_SHARE_CIRCLE_WRAPPED_BYTES 72 /* nonce(24) || XChaCha20-Poly1305(case key, ad = case id) */

/* A decoded grant body; slot wrapped bytes borrow from the body buffer. */
struct tj_share_body {
	uint8_t case_id[32];
	uint32_t n;
	struct tj_slot slots[TJ_SHARE_READERS_MAX];
};

TJ_MUST_CHECK int tj_share_body_encode(const struct tj_share_body *b, uint8_t *buf, size_t cap, size_t *len);
TJ_MUST_CHECK int tj_share_body_decode(const uint8_t *buf, size_t len, struct tj_share_body *b);

/*
 * Ingest's hooks (called from tj_retract.c's, inside ingest's transaction):
 * check refuses a grant that is not NAMED with a ref (TJ_EMALFORMED) or whose
 * author did not write the case record it names (TJ_ENOTMEMBER, logged);
 * stored indexes it under the case id.
 */
TJ_MUST_CHECK int tj_share_ingest_check(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32],
                                        int *verdict);
TJ_MUST_CHECK int tj_share_ingest_stored(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32]);

/*
 * Grants readers (Ed25519 keys) the case face of one of our incidents:
 * id_or_prefix names the incident (its summary) or its case record.
 * TJ_ENOTMEMBER when this node did not write it, TJ_ENOTFOUND when it has no
 * case face, TJ_ELIMIT for more than TJ_SHARE_READERS_MAX readers.
 */
TJ_MUST_CHECK int tj_share_grant(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
                                 const uint8_t (*readers)[32], uint32_t n_readers, uint8_t case_id[32],
                                 uint8_t grant_id[32]);

/*
 * tj_share_grant, and also to the circle called circle (NULL: none; its
 * newest key, tj_circle_seal_key's errors): readers + 1 <= TJ_SHARE_READERS_MAX.
 */
TJ_MUST_CHECK int tj_share_grant_circle(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
                                        const uint8_t (*readers)[32], uint32_t n_readers, const char *circle,
                                        uint8_t case_id[32], uint8_t grant_id[32]);

/*
 * As tj_share_open_case, also through circle slots whose key lookup finds
 * (tj_keyring_lookup and the keyring).
 */
TJ_MUST_CHECK int tj_share_open_case_keys(struct tj_txn *t, const struct tj_identity *me,
                                          tj_key_lookup_fn lookup, void *ctx, const uint8_t case_id[32],
                                          const uint8_t *enc, const struct tj_record *rec, uint8_t **plain,
                                          size_t *plain_len);

/*
 * Opens a case record (enc, rec: stored, verified at ingest) as me through
 * the grants stored for it in t. *plain is malloc'd (wipe and free it).
 * TJ_ENOKEY when no grant by the case's author is sealed to me.
 */
TJ_MUST_CHECK int tj_share_open_case(struct tj_txn *t, const struct tj_identity *me,
                                     const uint8_t case_id[32], const uint8_t *enc,
                                     const struct tj_record *rec, uint8_t **plain, size_t *plain_len);

/*
 * Checks reader keys given at add time (tj_add_item.case_readers: n keys of
 * 32 bytes, packed): at most TJ_SHARE_READERS_MAX, each a valid Ed25519 point
 * that converts to X25519 (TJ_ECRYPTO otherwise), so that sealing to them
 * cannot fail inside the add's transaction.
 */
TJ_MUST_CHECK int tj_share_readers_check(const uint8_t *readers, uint32_t n);

/* Control op: share {id: bin 32 | prefix: str, readers: [bin 32...]?, circle: str?} -> {case, grant}
 * (readers, circle or both). */
TJ_MUST_CHECK int tj_share_ctl(struct tj_node *node, const uint8_t *req, size_t len,
                               struct tj_ctl_reply *out);

#endif
