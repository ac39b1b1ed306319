/*
 * A node's identity: an Ed25519 key pair and the X25519 pair derived from it.
 * Secret halves live in sodium_malloc memory (guard pages, mlock) and are
 * wiped by tj_identity_free().
 */
#ifndef TJ_KEYS_H
#define TJ_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"

#define TJ_FINGERPRINT_CHARS 25 /* "K7QF-2M9D-X4TA-PW3H-8RZC" (24 chars) + NUL */

struct tj_identity {
	uint8_t pk[32];   /* Ed25519 public key */
	uint8_t x_pk[32]; /* X25519 public key */
	uint8_t *sk;      /* 64 bytes, sodium_malloc */
	uint8_t *x_sk;    /* 32 bytes, sodium_malloc */
};

/*
 * Initializes libsodium (idempotent, thread-safe). Every function of this
 * module calls it, so callers need not; 0 or TJ_ECRYPTO.
 */
TJ_MUST_CHECK int tj_crypto_init(void);

/* A fresh identity. */
TJ_MUST_CHECK int tj_identity_generate(struct tj_identity **out);
/* From a 32-byte seed (tests, known-answer vectors). */
TJ_MUST_CHECK int tj_identity_from_seed(const uint8_t seed[32], struct tj_identity **out);
/*
 * From a 64-byte Ed25519 secret key (seed || pk, as stored in the key file).
 * TJ_ECRYPTO if pk does not match the seed.
 */
TJ_MUST_CHECK int tj_identity_from_sk(const uint8_t sk[64], struct tj_identity **out);
/* Wipes and frees. Accepts NULL. */
void tj_identity_free(struct tj_identity *id);

/*
 * A short fingerprint to read aloud over the phone: the first 100 bits of
 * BLAKE2b-256("tejido-fp-v1" || pk) in Crockford base32, groups of 4 joined by '-'.
 * out must hold TJ_FINGERPRINT_CHARS bytes.
 */
void tj_fingerprint(const uint8_t pk[32], char out[TJ_FINGERPRINT_CHARS]);

/* Ed25519 public key -> X25519; TJ_ECRYPTO for a low-order or invalid point. */
TJ_MUST_CHECK int tj_pk_to_x25519(const uint8_t ed_pk[32], uint8_t x_pk[32]);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void tj_hex(const uint8_t *in, size_t n, char *out);
/* Parses exactly 2n hex digits. */
TJ_MUST_CHECK int tj_unhex(const char *s, uint8_t *out, size_t n);

#endif
