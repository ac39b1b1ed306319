/*
 * Sealing and opening records (DESIGN.md "Records").
 *
 * Seal: a fresh record key; the body encrypted with XChaCha20-Poly1305 under
 * it, with the record header as associated data; the record key wrapped in
 * each slot; the whole signed with Ed25519. id = BLAKE2b-256(signed bytes).
 *
 * Open: verify the signature first (tj_record_verify), then find a slot this
 * node can open, unwrap the record key, decrypt.
 */
#ifndef TJ_SEAL_H
#define TJ_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keys.h"
#include "tj_record.h"

/* A key the sealer wraps the record key under (epoch or circle key). */
struct tj_sym_key {
	uint8_t id[32]; /* tj_sym_key_id(key) */
	uint8_t *key;   /* 32 bytes, sodium_malloc; borrowed */
};

/* id of a symmetric key: BLAKE2b-256 keyed hash, so an id reveals nothing. */
void tj_sym_key_id(const uint8_t key[32], uint8_t id[32]);

struct tj_seal_in {
	uint8_t network_id[32];
	uint64_t seq;
	bool has_prev;
	uint8_t prev[32];
	uint64_t ts_ms;
	uint8_t kind;
	struct tj_audience audience;
	/* slots to make: */
	const struct tj_sym_key *epoch;  /* NULL = no epoch slot */
	const struct tj_sym_key *circle; /* NULL = no circle slot */
	const uint8_t (*readers)[32];    /* Ed25519 keys to seal to */
	uint32_t n_readers;
	const uint8_t *body;
	size_t body_len;
	/*
	 * For known-answer tests only; NULL = random. Set both or neither
	 * (-EINVAL otherwise). With a fixed key the symmetric slots' nonces are
	 * BLAKE2b-192(key = record key, "tejido-kat-slot-nonce-v1" || nonce || slot
	 * index), so the whole encoding is fixed when no sealed slot is asked for.
	 */
	const uint8_t *fixed_record_key; /* 32 */
	const uint8_t *fixed_nonce;      /* 24 */
};

/*
 * Seals into out (cap >= body_len + 2.5 KiB is enough for 16 slots). Returns
 * the encoding and its id. Errors: TJ_ELIMIT (more than TJ_RECORD_SLOTS_MAX
 * slots, or the record would exceed TJ_RECORD_MAX_BYTES), TJ_ENOSPC (cap),
 * TJ_ECRYPTO (a reader key is not a valid point), TJ_EUNSUPPORTED (kind).
 * On error out is wiped. The author is not a reader unless listed in readers.
 */
TJ_MUST_CHECK int tj_record_seal(const struct tj_seal_in *in, const struct tj_identity *author, uint8_t *out,
                                 size_t cap, size_t *out_len, uint8_t id[32]);

/* Decodes (untrusted bytes) and verifies the signature; computes the id. */
TJ_MUST_CHECK int tj_record_verify(const uint8_t *buf, size_t len, struct tj_record *rec, uint8_t id[32]);

/* The id of an already-decoded record. */
void tj_record_id(const uint8_t *buf, const struct tj_record *rec, uint8_t id[32]);

/* Looks a symmetric key up by id; returns NULL when this node does not hold it. */
typedef const uint8_t *(*tj_key_lookup_fn)(void *ctx, uint8_t slot_type, const uint8_t id[32]);

/*
 * WARNING: rec must come from tj_record_verify() on these same bytes. The
 * signature is what makes the slots and the associated data trustworthy;
 * never decrypt a record whose signature was not checked.
 *
 * Opens a verified record: tries the slots (symmetric via lookup, sealed via
 * me), decrypts with the header as associated data into plain (cap >=
 * ciphertext_len - 16). TJ_ENOKEY when no slot opens; TJ_EDECRYPT if the body
 * fails authentication. The record key is wiped before return.
 */
TJ_MUST_CHECK int tj_record_open(const uint8_t *buf, const struct tj_record *rec,
                                 const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                                 uint8_t *plain, size_t cap, size_t *plain_len);

/*
 * Unwraps only the record key (to grant a new reader a slot later), from a
 * verified record. key_out: 32 bytes, caller wipes. TJ_ENOKEY when no slot is
 * ours; TJ_EDECRYPT when a slot addressed to us fails to open.
 */
TJ_MUST_CHECK int tj_record_unwrap_key(const struct tj_record *rec, const struct tj_identity *me,
                                       tj_key_lookup_fn lookup, void *ctx, uint8_t key_out[32]);

/* Seals a 32-byte record key to one more reader (a slot for a TJ_KIND_SLOT_GRANT body). */
TJ_MUST_CHECK int tj_slot_seal_to(const uint8_t record_key[32], const uint8_t reader_pk[32],
                                  uint8_t wrapped[80]);

#endif
