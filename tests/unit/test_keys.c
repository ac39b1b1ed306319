/*
 * Identities, X25519 derivation, fingerprints, hex.
 * Expected values come from RFC 8032 and an independent Python computation
 * (hashlib BLAKE2b, the Edwards-to-Montgomery map u = (1+y)/(1-y), and
 * X25519 from the `cryptography` package), not from this code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_keys.h"

/* RFC 8032, section 7.1, TEST 1. */
static const char *rfc_seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char *rfc_pk = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/* Independent computation (see header comment). */
static const char *rfc_x_pk = "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e";
static const char *rfc_x_sk = "307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f";

static void unhex_or_fail(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(tj_unhex(s, out, n), 0);
}

static void test_from_seed_matches_rfc8032(void **state)
{
	uint8_t seed[32], pk[32], x_pk[32], x_sk[32];
	struct tj_identity *id = NULL;

	(void)state;
	unhex_or_fail(rfc_seed, seed, 32);
	unhex_or_fail(rfc_pk, pk, 32);
	unhex_or_fail(rfc_x_pk, x_pk, 32);
	unhex_or_fail(rfc_x_sk, x_sk, 32);
	assert_int_equal(tj_identity_from_seed(seed, &id), 0);
	assert_memory_equal(id->pk, pk, 32);
	assert_memory_equal(id->sk, seed, 32);
	assert_memory_equal(id->sk + 32, pk, 32);
	assert_memory_equal(id->x_pk, x_pk, 32);
	assert_memory_equal(id->x_sk, x_sk, 32);
	tj_identity_free(id);
}

static void test_generate_is_consistent_and_fresh(void **state)
{
	struct tj_identity *a = NULL, *b = NULL;
	uint8_t x_pk[32], msg[3] = {1, 2, 3}, sig[64];

	(void)state;
	assert_int_equal(tj_identity_generate(&a), 0);
	assert_int_equal(tj_identity_generate(&b), 0);
	assert_memory_not_equal(a->pk, b->pk, 32);
	/* The X25519 secret really is the partner of the X25519 public key. */
	assert_int_equal(crypto_scalarmult_base(x_pk, a->x_sk), 0);
	assert_memory_equal(x_pk, a->x_pk, 32);
	/* And the Ed25519 secret signs for the public key. */
	assert_int_equal(crypto_sign_detached(sig, NULL, msg, sizeof(msg), a->sk), 0);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), a->pk), 0);
	assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), b->pk), 0);
	tj_identity_free(a);
	tj_identity_free(b);
}

static void test_from_sk_round_trip_and_mismatch(void **state)
{
	struct tj_identity *a = NULL, *b = NULL;
	uint8_t sk[64];

	(void)state;
	assert_int_equal(tj_identity_generate(&a), 0);
	memcpy(sk, a->sk, 64);
	assert_int_equal(tj_identity_from_sk(sk, &b), 0);
	assert_memory_equal(a->pk, b->pk, 32);
	assert_memory_equal(a->x_pk, b->x_pk, 32);
	assert_memory_equal(a->x_sk, b->x_sk, 32);
	tj_identity_free(b);
	b = NULL;
	/* A secret key whose public half disagrees with its seed is refused. */
	sk[40] ^= 0x01;
	assert_int_equal(tj_identity_from_sk(sk, &b), TJ_ECRYPTO);
	assert_null(b);
	sodium_memzero(sk, sizeof(sk));
	tj_identity_free(a);
	tj_identity_free(NULL);
}

static void test_fingerprint_vectors(void **state)
{
	uint8_t pk[32];
	char fp[TJ_FINGERPRINT_CHARS];

	(void)state;
	for (unsigned i = 0; i < 32; i++)
		pk[i] = (uint8_t)i;
	memset(fp, 'x', sizeof(fp));
	tj_fingerprint(pk, fp);
	assert_string_equal(fp, "RKTW-YW49-0942-NFFX-BV79");

	unhex_or_fail(rfc_pk, pk, 32);
	tj_fingerprint(pk, fp);
	assert_string_equal(fp, "MJR8-V59J-DGPP-CFYB-CVN8");
}

static void test_fingerprint_shape(void **state)
{
	char fp[TJ_FINGERPRINT_CHARS];
	uint8_t pk[32];

	(void)state;
	for (unsigned round = 0; round < 64; round++) {
		randombytes_buf(pk, sizeof(pk));
		tj_fingerprint(pk, fp);
		assert_int_equal(strlen(fp), TJ_FINGERPRINT_CHARS - 1);
		for (size_t i = 0; i < strlen(fp); i++) {
			if (i % 5 == 4)
				assert_int_equal(fp[i], '-');
			else
				assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", fp[i]));
		}
	}
}

static void test_pk_to_x25519_rejects_bad_points(void **state)
{
	static const char *bad[] = {
	    /* small order: identity (1), order 2, order 4, order 8 */
	    "0100000000000000000000000000000000000000000000000000000000000000",
	    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	    /* y = 2 is not on the curve */
	    "0200000000000000000000000000000000000000000000000000000000000000",
	};
	uint8_t pk[32], x[32];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unhex_or_fail(bad[i], pk, 32);
		memset(x, 0xaa, sizeof(x));
		assert_int_equal(tj_pk_to_x25519(pk, x), TJ_ECRYPTO);
	}
	unhex_or_fail(rfc_pk, pk, 32);
	assert_int_equal(tj_pk_to_x25519(pk, x), 0);
	unhex_or_fail(rfc_x_pk, pk, 32);
	assert_memory_equal(x, pk, 32);
}

static void test_hex(void **state)
{
	const uint8_t in[4] = {0x00, 0xab, 0x7f, 0xff};
	uint8_t out[4];
	char s[9];

	(void)state;
	tj_hex(in, sizeof(in), s);
	assert_string_equal(s, "00ab7fff");
	assert_int_equal(tj_unhex("00AB7fff", out, 4), 0);
	assert_memory_equal(out, in, 4);
	assert_int_equal(tj_unhex("00ab7ff", out, 4), TJ_EMALFORMED);    /* short */
	assert_int_equal(tj_unhex("00ab7fff00", out, 4), TJ_EMALFORMED); /* long */
	assert_int_equal(tj_unhex("00ab7fgf", out, 4), TJ_EMALFORMED);   /* not hex */
	assert_int_equal(tj_unhex(NULL, out, 4), TJ_EMALFORMED);
}

static int setup(void **state)
{
	(void)state;
	return tj_crypto_init();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_seed_matches_rfc8032),
	    cmocka_unit_test(test_generate_is_consistent_and_fresh),
	    cmocka_unit_test(test_from_sk_round_trip_and_mismatch),
	    cmocka_unit_test(test_fingerprint_vectors),
	    cmocka_unit_test(test_fingerprint_shape),
	    cmocka_unit_test(test_pk_to_x25519_rejects_bad_points),
	    cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
