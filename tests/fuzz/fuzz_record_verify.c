/*
 * Fuzzes tj_record_verify and tj_record_open.
 *
 * Mutated records almost never carry a valid signature, so to reach the slot
 * and body code the target also opens records that merely decode: that models
 * a malicious member who signs garbage with its own valid key, which the
 * signature check cannot stop. Open must then fail with a typed error, never
 * crash, and never claim success for a body that did not authenticate.
 *
 * The reader is the identity from seed (1 + 7i) mod 256 and the epoch key is
 * (0x10 + 7i) mod 256, as in tests/vectors/seal_kat.txt, so the seeds in
 * corpus/record_verify/ verify and open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_seal.h"

static struct tj_identity *fuzz_me;
static uint8_t fuzz_epoch_key[32];
static uint8_t fuzz_epoch_id[32];
static uint8_t fuzz_plain[TJ_RECORD_MAX_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *fuzz_lookup(void *ctx, uint8_t type, const uint8_t id[32])
{
	(void)ctx;
	if (type == TJ_SLOT_EPOCH && memcmp(id, fuzz_epoch_id, 32) == 0)
		return fuzz_epoch_key;
	return NULL;
}

/* Deterministic setup, once: the identity lives for the whole process. */
static void fuzz_init(void)
{
	uint8_t seed[32];

	if (fuzz_me != NULL)
		return;
	if (sodium_init() < 0)
		abort();
	for (unsigned i = 0; i < 32; i++) {
		seed[i] = (uint8_t)(1u + 7u * i);
		fuzz_epoch_key[i] = (uint8_t)(0x10u + 7u * i);
	}
	tj_sym_key_id(fuzz_epoch_key, fuzz_epoch_id);
	if (tj_identity_from_seed(seed, &fuzz_me) != 0)
		abort();
}

static void fuzz_open(const uint8_t *data, const struct tj_record *rec)
{
	size_t plain_len = 0;
	uint8_t key[32];
	int rc =
	    tj_record_open(data, rec, fuzz_me, fuzz_lookup, NULL, fuzz_plain, sizeof(fuzz_plain), &plain_len);

	if (rc == 0) {
		if (plain_len + 16 != rec->ciphertext_len)
			abort();
	} else if (rc != TJ_ENOKEY && rc != TJ_EDECRYPT) {
		abort();
	}
	rc = tj_record_unwrap_key(rec, fuzz_me, fuzz_lookup, NULL, key);
	if (rc != 0 && rc != TJ_ENOKEY && rc != TJ_EDECRYPT)
		abort();
	sodium_memzero(key, sizeof(key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_record rec;
	uint8_t id[32], id2[32];
	int rc;

	fuzz_init();
	rc = tj_record_verify(data, size, &rec, id);
	if (rc == 0) {
		crypto_generichash(id2, sizeof(id2), data, rec.signed_len, NULL, 0);
		if (memcmp(id, id2, 32) != 0)
			abort();
		fuzz_open(data, &rec);
		return 0;
	}
	if (rc == TJ_EBADSIG) {
		/* Decodes but is not signed by its author: see the header comment. */
		if (tj_record_decode(data, size, &rec) != 0)
			abort();
		fuzz_open(data, &rec);
	}
	return 0;
}
