/*
 * The keyring: the network's secrets this node holds.
 *
 *   network key  32 bytes; the handshake's application key (SHS)
 *   epoch keys   by id (tj_sym_key_id); the newest is "current" and seals new
 *                records, older ones still open old records
 *   circle keys  by id, one per generation of each circle this node is in (tj_circle.h)
 *
 * Every key lives in sodium_malloc memory owned by the keyring. At rest the
 * keyring is one XChaCha20-Poly1305 blob in the store's meta ("keyring"),
 * sealed under a subkey of the local storage key from the key file: without
 * the key file, the keyring on disk is unreadable.
 */
#ifndef TJ_KEYRING_H
#define TJ_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_seal.h"
#include "tj_store.h"

#define TJ_KEYRING_EPOCHS_MAX 64
#define TJ_KEYRING_CIRCLES_MAX 128 /* one key per generation of each circle this node is in (tj_circle.h) */
#define TJ_KEYRING_META_NAME "keyring"
#define TJ_KEY_BYTES 32

struct tj_keyring {
	bool has_network_key;
	uint8_t *network_key; /* 32 bytes, sodium_malloc */
	bool has_next_network_key;
	uint8_t *next_network_key; /* 32 bytes, sodium_malloc: from the newest KEY record (tj_rotate.h) */
	uint64_t next_network_from_ms; /* from then on the next network key alone is accepted */
	uint32_t n_epochs;
	struct tj_sym_key epochs[TJ_KEYRING_EPOCHS_MAX]; /* .key sodium_malloc, owned */
	uint32_t current_epoch;                          /* index into epochs */
	uint32_t n_circles;
	struct tj_sym_key circles[TJ_KEYRING_CIRCLES_MAX];
};

TJ_MUST_CHECK int tj_keyring_new(struct tj_keyring **out);
/* Wipes every key and frees. Accepts NULL. */
void tj_keyring_free(struct tj_keyring *kr);

/* Copies key in (the caller wipes its copy). */
TJ_MUST_CHECK int tj_keyring_set_network_key(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES]);
/* Copies key in as the next network key, the only one accepted from from_ms on (tj_rotate.h). */
TJ_MUST_CHECK int tj_keyring_set_next_network_key(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES],
                                                  uint64_t from_ms);
/*
 * The handshake's application keys at now_ms. Without a next network key: the
 * network key, *alt NULL. During a changeover (before next_network_from_ms):
 * the network key (dial with it), *alt the next one (also accepted). After it:
 * the next network key alone. Borrowed.
 */
const uint8_t *tj_keyring_handshake_key(const struct tj_keyring *kr, uint64_t now_ms, const uint8_t **alt);
/* Adds an epoch key (TJ_EEXIST if held); make_current makes it the sealing epoch. */
TJ_MUST_CHECK int tj_keyring_add_epoch(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES], bool make_current);
TJ_MUST_CHECK int tj_keyring_add_circle(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES]);
/* The epoch that seals new records, or NULL when the node holds none. Borrowed. */
const struct tj_sym_key *tj_keyring_current_epoch(const struct tj_keyring *kr);

/* Matches tj_key_lookup_fn; ctx is the keyring. Returns a borrowed key or NULL. */
const uint8_t *tj_keyring_lookup(void *ctx, uint8_t slot_type, const uint8_t id[32]);

/*
 * Sealed form: nonce(24) || XChaCha20-Poly1305(plaintext, ad = "tejido-keyring-v1").
 * *blob is malloc'd (caller frees; it is ciphertext).
 */
TJ_MUST_CHECK int tj_keyring_seal(const struct tj_keyring *kr, const uint8_t storage_key[32], uint8_t **blob,
				  size_t *blob_len);
/* TJ_EDECRYPT for a wrong storage key or a tampered blob; TJ_EMALFORMED for bad contents. */
TJ_MUST_CHECK int tj_keyring_unseal(const uint8_t *blob, size_t blob_len, const uint8_t storage_key[32],
				    struct tj_keyring **out);

/* Seals into meta within a write transaction / loads from meta (TJ_ENOTFOUND if none). */
TJ_MUST_CHECK int tj_keyring_save(const struct tj_keyring *kr, struct tj_txn *t, const uint8_t storage_key[32]);
TJ_MUST_CHECK int tj_keyring_load(struct tj_txn *t, const uint8_t storage_key[32], struct tj_keyring **out);

/*
 * Derives a purpose subkey of the storage key (crypto_kdf, context "tjstore_"):
 * the keyring AEAD and the blinded indexes must not share one key.
 */
#define TJ_SUBKEY_KEYRING 1
#define TJ_SUBKEY_BLIND 2
void tj_storage_subkey(const uint8_t storage_key[32], uint64_t purpose, uint8_t out[32]);

#endif
