/*
 * Identities: an Ed25519 key pair and the X25519 pair derived from it.
 * The secret halves live in sodium_malloc memory from creation to free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_keys.h"

#define TJ__FP_CONTEXT "tejido-fp-v1"
#define TJ__FP_BITS 100u
#define TJ__FP_GROUP_CHARS 4u

/* Crockford's base32: no I, L, O, U, so it survives being read aloud. */
static const char tj__crockford[32] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int tj_crypto_init(void)
{
	/* sodium_init returns 1 when already initialized: that is fine. */
	return sodium_init() < 0 ? TJ_ECRYPTO : 0;
}

/* An identity with its secret buffers allocated but not yet filled. */
static int tj__identity_alloc(struct tj_identity **out)
{
	struct tj_identity *id = NULL;
	int rc = tj_crypto_init();

	if (rc != 0)
		return rc;
	id = calloc(1, sizeof(*id));
	if (id == NULL)
		return -ENOMEM;
	id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	id->x_sk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
	if (id->sk == NULL || id->x_sk == NULL) {
		tj_identity_free(id);
		return -ENOMEM;
	}
	*out = id;
	return 0;
}

/* Derives the X25519 pair from the Ed25519 pair already in id. */
static int tj__identity_derive_x(struct tj_identity *id)
{
	int rc = tj_pk_to_x25519(id->pk, id->x_pk);

	if (rc != 0)
		return rc;
	if (crypto_sign_ed25519_sk_to_curve25519(id->x_sk, id->sk) != 0)
		return TJ_ECRYPTO;
	return 0;
}

int tj_identity_generate(struct tj_identity **out)
{
	struct tj_identity *id = NULL;
	int rc = tj__identity_alloc(&id);

	if (rc != 0)
		return rc;
	if (crypto_sign_keypair(id->pk, id->sk) != 0) {
		rc = TJ_ECRYPTO;
		goto out;
	}
	rc = tj__identity_derive_x(id);
out:
	if (rc != 0)
		tj_identity_free(id);
	else
		*out = id;
	return rc;
}

int tj_identity_from_seed(const uint8_t seed[32], struct tj_identity **out)
{
	struct tj_identity *id = NULL;
	int rc = tj__identity_alloc(&id);

	if (rc != 0)
		return rc;
	if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0) {
		rc = TJ_ECRYPTO;
		goto out;
	}
	rc = tj__identity_derive_x(id);
out:
	if (rc != 0)
		tj_identity_free(id);
	else
		*out = id;
	return rc;
}

/*
 * An Ed25519 secret key is seed || pk. We recompute the pair from the seed and
 * insist that the stored pk matches: a key whose halves disagree would sign
 * with one key and announce another.
 */
int tj_identity_from_sk(const uint8_t sk[64], struct tj_identity **out)
{
	struct tj_identity *id = NULL;
	int rc = tj__identity_alloc(&id);

	if (rc != 0)
		return rc;
	/* The first 32 bytes of sk are the seed; id->sk is scratch until replaced. */
	if (crypto_sign_seed_keypair(id->pk, id->sk, sk) != 0) {
		rc = TJ_ECRYPTO;
		goto out;
	}
	if (sodium_memcmp(id->sk, sk, crypto_sign_SECRETKEYBYTES) != 0) {
		rc = TJ_ECRYPTO;
		goto out;
	}
	rc = tj__identity_derive_x(id);
out:
	if (rc != 0)
		tj_identity_free(id);
	else
		*out = id;
	return rc;
}

void tj_identity_free(struct tj_identity *id)
{
	if (id == NULL)
		return;
	/* sodium_free wipes before releasing and accepts NULL. */
	sodium_free(id->sk);
	sodium_free(id->x_sk);
	sodium_memzero(id, sizeof(*id));
	free(id);
}

int tj_pk_to_x25519(const uint8_t ed_pk[32], uint8_t x_pk[32])
{
	static const uint8_t zero[32];

	if (tj_crypto_init() != 0)
		return TJ_ECRYPTO;
	/* libsodium rejects small-order points and points outside the main subgroup. */
	if (crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) != 0)
		goto bad;
	/* Belt and braces: an all-zero X25519 key would make every shared secret zero. */
	if (sodium_memcmp(x_pk, zero, sizeof(zero)) == 0)
		goto bad;
	return 0;
bad:
	sodium_memzero(x_pk, 32);
	return TJ_ECRYPTO;
}

void tj_fingerprint(const uint8_t pk[32], char out[TJ_FINGERPRINT_CHARS])
{
	uint8_t h[32];
	crypto_generichash_state st;
	size_t o = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)TJ__FP_CONTEXT, strlen(TJ__FP_CONTEXT));
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, h, sizeof(h));

	/* Bits are taken most significant first: character i holds bits [5i, 5i+5). */
	for (unsigned i = 0; i < TJ__FP_BITS / 5u; i++) {
		unsigned v = 0;

		for (unsigned b = 0; b < 5u; b++) {
			unsigned bit = 5u * i + b;

			v = (v << 1) | ((h[bit / 8u] >> (7u - bit % 8u)) & 1u);
		}
		if (i > 0 && i % TJ__FP_GROUP_CHARS == 0)
			out[o++] = '-';
		out[o++] = tj__crockford[v];
	}
	out[o] = '\0';
}
