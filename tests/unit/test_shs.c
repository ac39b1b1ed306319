/*
 * Secret handshake v1: in-memory handshakes, the shs1-crypto known-answer
 * vector, low-order points, bit flips, replays, authorization, misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_shs.h"

/* --- helpers ------------------------------------------------------------- */

static void unhex(const char *s, uint8_t *out, size_t n)
{
	const char *end = NULL;
	size_t got = 0;

	assert_int_equal(strlen(s), 2 * n);
	assert_int_equal(sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end), 0);
	assert_int_equal(got, n);
}

/* An identity built directly on libsodium, so these tests need nothing else. */
struct test_id {
	struct tj_identity id;
	uint8_t *sk;
};

static void id_from_sk(struct test_id *t, const uint8_t sk[64])
{
	t->sk = sodium_malloc(64);
	assert_non_null(t->sk);
	memcpy(t->sk, sk, 64);
	memcpy(t->id.pk, sk + 32, 32);
	t->id.sk = t->sk;
	t->id.x_sk = NULL;
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(t->id.x_pk, t->id.pk), 0);
}

static void id_random(struct test_id *t)
{
	uint8_t pk[32], sk[64];

	crypto_sign_keypair(pk, sk);
	id_from_sk(t, sk);
	sodium_memzero(sk, sizeof(sk));
}

static void id_free(struct test_id *t)
{
	sodium_free(t->sk);
	t->sk = NULL;
}

struct authz {
	bool allow;
	int calls;
	uint8_t seen[32];
};

static bool authorize_cb(void *ctx, const uint8_t client_pk[32])
{
	struct authz *a = ctx;

	a->calls++;
	memcpy(a->seen, client_pk, 32);
	return a->allow;
}

/* The four messages of one handshake. */
struct transcript {
	uint8_t m1[TJ_SHS_MSG1_BYTES];
	uint8_t m2[TJ_SHS_MSG2_BYTES];
	uint8_t m3[TJ_SHS_MSG3_BYTES];
	uint8_t m4[TJ_SHS_MSG4_BYTES];
};

static void step_ok(struct tj_shs *h, const uint8_t *in, size_t in_len, uint8_t *out, size_t expect_out)
{
	uint8_t buf[TJ_SHS_OUT_MAX_BYTES];
	size_t out_len = 99;

	assert_int_equal(tj_shs_need(h), in_len);
	assert_int_equal(tj_shs_step(h, in, in_len, buf, sizeof(buf), &out_len), 0);
	assert_int_equal(out_len, expect_out);
	if (out != NULL)
		memcpy(out, buf, out_len);
}

/* Runs a whole handshake; either ephemeral key may be fixed (NULL = fresh). */
static void handshake(const uint8_t app[32], const struct tj_identity *cid, const struct tj_identity *sid,
		      const uint8_t *c_eph, const uint8_t *s_eph, struct transcript *t, struct tj_shs_keys *ck,
		      struct tj_shs_keys *sk)
{
	struct tj_shs *c = NULL, *s = NULL;
	struct authz az = {.allow = true};

	assert_int_equal(tj_shs_client_new(app, cid, sid->pk, &c), 0);
	assert_int_equal(tj_shs_server_new(app, sid, authorize_cb, &az, &s), 0);
	if (c_eph != NULL)
		assert_int_equal(tj_shs_test_set_ephemeral(c, c_eph), 0);
	if (s_eph != NULL)
		assert_int_equal(tj_shs_test_set_ephemeral(s, s_eph), 0);
	assert_int_equal(tj_shs_state(c), TJ_SHS_CLIENT_START);
	step_ok(c, NULL, 0, t->m1, TJ_SHS_MSG1_BYTES);
	assert_int_equal(tj_shs_state(c), TJ_SHS_CLIENT_AWAIT_MSG2);
	step_ok(s, t->m1, TJ_SHS_MSG1_BYTES, t->m2, TJ_SHS_MSG2_BYTES);
	assert_int_equal(tj_shs_state(s), TJ_SHS_SERVER_AWAIT_MSG3);
	step_ok(c, t->m2, TJ_SHS_MSG2_BYTES, t->m3, TJ_SHS_MSG3_BYTES);
	assert_int_equal(tj_shs_state(c), TJ_SHS_CLIENT_AWAIT_MSG4);
	step_ok(s, t->m3, TJ_SHS_MSG3_BYTES, t->m4, TJ_SHS_MSG4_BYTES);
	assert_int_equal(tj_shs_state(s), TJ_SHS_DONE);
	assert_int_equal(az.calls, 1);
	assert_memory_equal(az.seen, cid->pk, 32);
	step_ok(c, t->m4, TJ_SHS_MSG4_BYTES, NULL, 0);
	assert_int_equal(tj_shs_state(c), TJ_SHS_DONE);
	assert_int_equal(tj_shs_need(c), 0);
	assert_int_equal(tj_shs_take_keys(c, ck), 0);
	assert_int_equal(tj_shs_take_keys(s, sk), 0);
	tj_shs_free(c);
	tj_shs_free(s);
}

/* --- the shs1-crypto known-answer vector (shs1-crypto 1.0.2, test/test.js) - */

#define KAT_APP "6f619f56130d357342d12054ff8c8f559d4a209a9c5a1db98d13b8ff686b7cc6"
#define KAT_C_SK                                                                                                   \
	"f3a806322c4ec0b7d2f1bd24b79a847773542f9720201aed40b445145f855cb0"                                         \
	"e1a2498849775e54d066e978172ee1f5c64fb00097d046926f175e6519c01e23"
#define KAT_C_PK "e1a2498849775e54d066e978172ee1f5c64fb00097d046926f175e6519c01e23"
#define KAT_C_EPH_SK "50a9379d868edb987df0aed1e16d2ebc61e0c1bbc63ae2c118ebd5d63137d568"
#define KAT_S_SK                                                                                                   \
	"7662114d56743a926354c6a423dc49d5f6e0f2e6af7447da3825d442a30e4ad1"                                         \
	"2abe719910f8bbc3a3c9bbcc56ee42973473a004f4010c4caa81420cca360146"
#define KAT_S_PK "2abe719910f8bbc3a3c9bbcc56ee42973473a004f4010c4caa81420cca360146"
#define KAT_S_EPH_SK "b0f8d2b9e24ca299ef9039ceda6102d79b05dfbd161c8955e4e95d4fd9cb3f7d"
#define KAT_MSG1                                                                                                   \
	"d306149bb2d11e6b01038cf2496574eaf97f83e38e42f0c30d32266007d07cb4"                                         \
	"4f4f4deefed781c5eb29b9d02f209225ffedd0d7b65cc96a55569d2935a5b120"
#define KAT_MSG2                                                                                                   \
	"2c8c4fe31799cacb5128723b38a73fa6c909329800ffe293162b54636bc6c6db"                                         \
	"a60c3fdaeb883d63e88ea593585d4fb117948139b318c0ae5a3e285333096152"
#define KAT_MSG3                                                                                                   \
	"502218c32ed3eb425b594162891a56c52004998ea01238b40cab7f262c354a40"                                         \
	"37bc1619a11907f3c8c491f9cfd358b200ceadeabc14fbf0c7a95eb4d42096e2"                                         \
	"8a2c8deb21985bd71f7e3030dcef61e1674fbe38e3678ec37c0a154c420bc20b"                                         \
	"dc0fa3428ae8e40c82ac0489349f4062"
#define KAT_MSG4                                                                                                   \
	"48725c696d30110e1996f23294463119defeff7cc2905472be94fcbd9f849dad"                                         \
	"5c0ef7c657e88d53544fe22bc25f0e088ae960287e99cd245fcbc8cadd767e63"                                         \
	"2fd8d1db0385f0d8a6b6b6e2d774b142"
/* client's view; the server's is the mirror image */
#define KAT_C_ENC_KEY "a21d99967be10aadafc9a022beb39e0eb069e8ee614285c2fa94c707229dae18"
#define KAT_C_ENC_NONCE "2c8c4fe31799cacb5128723b38a73fa6c909329800ffe293"
#define KAT_C_DEC_KEY "7d8899076df1ef54e4b08d173a815ae4bc5dbfe0d14393bb2dccb2114de17562"
#define KAT_C_DEC_NONCE "d306149bb2d11e6b01038cf2496574eaf97f83e38e42f0c3"

struct kat {
	uint8_t app[32], c_sk[64], s_sk[64], c_eph[32], s_eph[32];
	struct transcript t;
	struct test_id cid, sid;
};

static void kat_load(struct kat *k)
{
	unhex(KAT_APP, k->app, 32);
	unhex(KAT_C_SK, k->c_sk, 64);
	unhex(KAT_S_SK, k->s_sk, 64);
	unhex(KAT_C_EPH_SK, k->c_eph, 32);
	unhex(KAT_S_EPH_SK, k->s_eph, 32);
	unhex(KAT_MSG1, k->t.m1, sizeof(k->t.m1));
	unhex(KAT_MSG2, k->t.m2, sizeof(k->t.m2));
	unhex(KAT_MSG3, k->t.m3, sizeof(k->t.m3));
	unhex(KAT_MSG4, k->t.m4, sizeof(k->t.m4));
	id_from_sk(&k->cid, k->c_sk);
	id_from_sk(&k->sid, k->s_sk);
}

static void kat_free(struct kat *k)
{
	id_free(&k->cid);
	id_free(&k->sid);
}

static void test_known_answer(void **state)
{
	struct kat k;
	struct transcript got;
	struct tj_shs_keys ck, sk;
	uint8_t c_pk[32], s_pk[32], key[32], nonce[24];

	(void)state;
	kat_load(&k);
	unhex(KAT_C_PK, c_pk, 32);
	unhex(KAT_S_PK, s_pk, 32);
	handshake(k.app, &k.cid.id, &k.sid.id, k.c_eph, k.s_eph, &got, &ck, &sk);
	assert_memory_equal(got.m1, k.t.m1, sizeof(got.m1));
	assert_memory_equal(got.m2, k.t.m2, sizeof(got.m2));
	assert_memory_equal(got.m3, k.t.m3, sizeof(got.m3));
	assert_memory_equal(got.m4, k.t.m4, sizeof(got.m4));
	assert_memory_equal(ck.peer_pk, s_pk, 32);
	assert_memory_equal(sk.peer_pk, c_pk, 32);
	unhex(KAT_C_ENC_KEY, key, 32);
	unhex(KAT_C_ENC_NONCE, nonce, 24);
	assert_memory_equal(ck.enc_key, key, 32);
	assert_memory_equal(ck.enc_nonce, nonce, 24);
	assert_memory_equal(sk.dec_key, key, 32);
	assert_memory_equal(sk.dec_nonce, nonce, 24);
	unhex(KAT_C_DEC_KEY, key, 32);
	unhex(KAT_C_DEC_NONCE, nonce, 24);
	assert_memory_equal(ck.dec_key, key, 32);
	assert_memory_equal(ck.dec_nonce, nonce, 24);
	assert_memory_equal(sk.enc_key, key, 32);
	assert_memory_equal(sk.enc_nonce, nonce, 24);
	kat_free(&k);
}

/* --- full handshake with fresh keys -------------------------------------- */

static void test_full_handshake(void **state)
{
	uint8_t app[32];
	struct test_id a, b;
	struct transcript t1, t2;
	struct tj_shs_keys ck, sk, ck2, sk2;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	handshake(app, &a.id, &b.id, NULL, NULL, &t1, &ck, &sk);
	assert_memory_equal(ck.peer_pk, b.id.pk, 32);
	assert_memory_equal(sk.peer_pk, a.id.pk, 32);
	assert_memory_equal(ck.enc_key, sk.dec_key, 32);
	assert_memory_equal(ck.enc_nonce, sk.dec_nonce, 24);
	assert_memory_equal(ck.dec_key, sk.enc_key, 32);
	assert_memory_equal(ck.dec_nonce, sk.enc_nonce, 24);
	assert_memory_not_equal(ck.enc_key, ck.dec_key, 32);
	/* Fresh ephemeral keys: a second session shares no message or key. */
	handshake(app, &a.id, &b.id, NULL, NULL, &t2, &ck2, &sk2);
	assert_memory_not_equal(t1.m1, t2.m1, sizeof(t1.m1));
	assert_memory_not_equal(t1.m2, t2.m2, sizeof(t1.m2));
	assert_memory_not_equal(ck.enc_key, ck2.enc_key, 32);
	assert_memory_not_equal(ck.dec_key, ck2.dec_key, 32);
	id_free(&a);
	id_free(&b);
}

/* --- low-order points ---------------------------------------------------- */

/*
 * The standard list (cr.yp.to/ecdh.html, libsodium's blocklist): 0, 1, the
 * two order-8 points, p-1, p, p+1, their non-canonical spellings x+p and
 * x+2p, and the seven with the top bit set (which X25519 ignores).
 */
static const char *const low_order_hex[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};
#define N_LOW_ORDER (sizeof(low_order_hex) / sizeof(low_order_hex[0]))

/* A hello (msg1 or msg2) carrying pt with a valid HMAC under app. */
static void forged_hello(const uint8_t app[32], const uint8_t pt[32], uint8_t out[64])
{
	crypto_auth(out, pt, 32, app);
	memcpy(out + 32, pt, 32);
}

static void test_low_order_in_msg1(void **state)
{
	uint8_t app[32], pt[32], m1[64], out[TJ_SHS_OUT_MAX_BYTES];
	struct test_id b;
	struct authz az = {.allow = true};

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&b);
	for (size_t i = 0; i < N_LOW_ORDER; i++) {
		struct tj_shs *s = NULL;
		size_t out_len = 7;

		unhex(low_order_hex[i], pt, 32);
		assert_true(tj_shs_is_low_order(pt));
		forged_hello(app, pt, m1);
		assert_int_equal(tj_shs_server_new(app, &b.id, authorize_cb, &az, &s), 0);
		assert_int_equal(tj_shs_step(s, m1, sizeof(m1), out, sizeof(out), &out_len), TJ_ECRYPTO);
		assert_int_equal(out_len, 0);
		assert_int_equal(tj_shs_state(s), TJ_SHS_FAILED);
		tj_shs_free(s);
	}
	assert_int_equal(az.calls, 0);
	id_free(&b);
}

static void test_low_order_in_msg2(void **state)
{
	uint8_t app[32], pt[32], m2[64], out[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	for (size_t i = 0; i < N_LOW_ORDER; i++) {
		struct tj_shs *c = NULL;
		size_t out_len = 7;

		unhex(low_order_hex[i], pt, 32);
		forged_hello(app, pt, m2);
		assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
		step_ok(c, NULL, 0, NULL, TJ_SHS_MSG1_BYTES);
		assert_int_equal(tj_shs_step(c, m2, sizeof(m2), out, sizeof(out), &out_len), TJ_ECRYPTO);
		assert_int_equal(out_len, 0);
		assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
		tj_shs_free(c);
	}
	id_free(&a);
	id_free(&b);
}

/* A random point is not on the list; the list check is not a constant "true". */
static void test_low_order_negative(void **state)
{
	uint8_t pk[32], sk[32];

	(void)state;
	for (int i = 0; i < 64; i++) {
		crypto_box_keypair(pk, sk);
		assert_false(tj_shs_is_low_order(pk));
	}
	sodium_memzero(sk, sizeof(sk));
}

/* The client refuses a server key that is not a usable Ed25519 point. */
static void test_bad_server_key(void **state)
{
	uint8_t app[32] = {0}, zero_pk[32] = {0};
	struct test_id a;
	struct tj_shs *c = (struct tj_shs *)&c; /* must be reset to NULL */

	(void)state;
	id_random(&a);
	assert_int_equal(tj_shs_client_new(app, &a.id, zero_pk, &c), TJ_ECRYPTO);
	assert_null(c);
	id_free(&a);
}

/* --- bit flips ----------------------------------------------------------- */

/* Every single-bit flip of msg1 and msg3 makes the server fail, silently. */
static void test_flips_to_server(void **state)
{
	struct kat k;
	struct authz az = {.allow = true};
	uint8_t bad[TJ_SHS_MSG3_BYTES], out[TJ_SHS_OUT_MAX_BYTES];

	(void)state;
	kat_load(&k);
	for (size_t bit = 0; bit < 8 * TJ_SHS_MSG1_BYTES; bit++) {
		struct tj_shs *s = NULL;
		size_t out_len = 7;

		memcpy(bad, k.t.m1, TJ_SHS_MSG1_BYTES);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tj_shs_server_new(k.app, &k.sid.id, authorize_cb, &az, &s), 0);
		assert_int_equal(tj_shs_test_set_ephemeral(s, k.s_eph), 0);
		assert_int_not_equal(tj_shs_step(s, bad, TJ_SHS_MSG1_BYTES, out, sizeof(out), &out_len), 0);
		assert_int_equal(out_len, 0);
		tj_shs_free(s);
	}
	for (size_t bit = 0; bit < 8 * TJ_SHS_MSG3_BYTES; bit++) {
		struct tj_shs *s = NULL;
		size_t out_len = 7;

		memcpy(bad, k.t.m3, TJ_SHS_MSG3_BYTES);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tj_shs_server_new(k.app, &k.sid.id, authorize_cb, &az, &s), 0);
		assert_int_equal(tj_shs_test_set_ephemeral(s, k.s_eph), 0);
		step_ok(s, k.t.m1, TJ_SHS_MSG1_BYTES, NULL, TJ_SHS_MSG2_BYTES);
		assert_int_equal(tj_shs_step(s, bad, TJ_SHS_MSG3_BYTES, out, sizeof(out), &out_len), TJ_EDECRYPT);
		assert_int_equal(out_len, 0);
		assert_int_equal(tj_shs_state(s), TJ_SHS_FAILED);
		tj_shs_free(s);
	}
	assert_int_equal(az.calls, 0); /* nobody got as far as authorization */
	kat_free(&k);
}

/* Every single-bit flip of msg2 and msg4 makes the client fail. */
static void test_flips_to_client(void **state)
{
	struct kat k;
	uint8_t bad[TJ_SHS_MSG4_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	struct tj_shs_keys keys;

	(void)state;
	kat_load(&k);
	for (size_t bit = 0; bit < 8 * TJ_SHS_MSG2_BYTES; bit++) {
		struct tj_shs *c = NULL;
		size_t out_len = 7;

		memcpy(bad, k.t.m2, TJ_SHS_MSG2_BYTES);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tj_shs_client_new(k.app, &k.cid.id, k.sid.id.pk, &c), 0);
		assert_int_equal(tj_shs_test_set_ephemeral(c, k.c_eph), 0);
		step_ok(c, NULL, 0, NULL, TJ_SHS_MSG1_BYTES);
		assert_int_not_equal(tj_shs_step(c, bad, TJ_SHS_MSG2_BYTES, out, sizeof(out), &out_len), 0);
		assert_int_equal(out_len, 0);
		assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
		tj_shs_free(c);
	}
	for (size_t bit = 0; bit < 8 * TJ_SHS_MSG4_BYTES; bit++) {
		struct tj_shs *c = NULL;
		size_t out_len = 7;

		memcpy(bad, k.t.m4, TJ_SHS_MSG4_BYTES);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tj_shs_client_new(k.app, &k.cid.id, k.sid.id.pk, &c), 0);
		assert_int_equal(tj_shs_test_set_ephemeral(c, k.c_eph), 0);
		step_ok(c, NULL, 0, NULL, TJ_SHS_MSG1_BYTES);
		step_ok(c, k.t.m2, TJ_SHS_MSG2_BYTES, NULL, TJ_SHS_MSG3_BYTES);
		assert_int_equal(tj_shs_step(c, bad, TJ_SHS_MSG4_BYTES, out, sizeof(out), &out_len), TJ_EDECRYPT);
		assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
		assert_int_equal(tj_shs_take_keys(c, &keys), TJ_ESTATE);
		tj_shs_free(c);
	}
	kat_free(&k);
}

/* --- replays ------------------------------------------------------------- */

/* msg1 and msg3 of an earlier session do not open a new one with the server. */
static void test_replay_to_server(void **state)
{
	uint8_t app[32], out[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b;
	struct transcript old;
	struct tj_shs_keys ck, sk;
	struct authz az = {.allow = true};
	struct tj_shs *s = NULL;
	size_t out_len = 7;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	handshake(app, &a.id, &b.id, NULL, NULL, &old, &ck, &sk);
	assert_int_equal(tj_shs_server_new(app, &b.id, authorize_cb, &az, &s), 0);
	/* msg1 carries only a MAC'd public key: the server cannot tell it is old... */
	step_ok(s, old.m1, TJ_SHS_MSG1_BYTES, out, TJ_SHS_MSG2_BYTES);
	assert_memory_not_equal(out, old.m2, TJ_SHS_MSG2_BYTES);
	/* ...but without the ephemeral secret the old msg3 cannot be opened. */
	assert_int_equal(tj_shs_step(s, old.m3, TJ_SHS_MSG3_BYTES, out, sizeof(out), &out_len), TJ_EDECRYPT);
	assert_int_equal(out_len, 0);
	assert_int_equal(az.calls, 0);
	tj_shs_free(s);
	id_free(&a);
	id_free(&b);
}

/* msg2 and msg4 of an earlier session do not complete a new client session. */
static void test_replay_to_client(void **state)
{
	uint8_t app[32], out[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b;
	struct transcript old;
	struct tj_shs_keys ck, sk;
	struct tj_shs *c = NULL;
	size_t out_len = 7;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	handshake(app, &a.id, &b.id, NULL, NULL, &old, &ck, &sk);
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	step_ok(c, NULL, 0, NULL, TJ_SHS_MSG1_BYTES);
	step_ok(c, old.m2, TJ_SHS_MSG2_BYTES, NULL, TJ_SHS_MSG3_BYTES);
	assert_int_equal(tj_shs_step(c, old.m4, TJ_SHS_MSG4_BYTES, out, sizeof(out), &out_len), TJ_EDECRYPT);
	assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
	tj_shs_free(c);
	id_free(&a);
	id_free(&b);
}

/* --- application key, identity and authorization ------------------------- */

/* A stranger with another app key gets nothing back from the server. */
static void test_wrong_app_key(void **state)
{
	uint8_t app[32], other[32], m1[64], out[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b;
	struct authz az = {.allow = true};
	struct tj_shs *c = NULL, *s = NULL;
	size_t out_len = 7;

	(void)state;
	randombytes_buf(app, sizeof(app));
	randombytes_buf(other, sizeof(other));
	id_random(&a);
	id_random(&b);
	assert_int_equal(tj_shs_client_new(other, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_server_new(app, &b.id, authorize_cb, &az, &s), 0);
	step_ok(c, NULL, 0, m1, TJ_SHS_MSG1_BYTES);
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(tj_shs_step(s, m1, sizeof(m1), out, sizeof(out), &out_len), TJ_EDECRYPT);
	assert_int_equal(out_len, 0);
	assert_int_equal(tj_shs_state(s), TJ_SHS_FAILED);
	tj_shs_free(c);
	tj_shs_free(s);
	id_free(&a);
	id_free(&b);
}

/* A client that dials the wrong server key fails at msg3 on the server side. */
static void test_wrong_server_identity(void **state)
{
	uint8_t app[32], buf1[TJ_SHS_OUT_MAX_BYTES], buf2[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b, impostor;
	struct authz az = {.allow = true};
	struct tj_shs *c = NULL, *s = NULL;
	size_t n1 = 0, n2 = 0;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	id_random(&impostor);
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_server_new(app, &impostor.id, authorize_cb, &az, &s), 0);
	assert_int_equal(tj_shs_step(c, NULL, 0, buf1, sizeof(buf1), &n1), 0);
	assert_int_equal(tj_shs_step(s, buf1, n1, buf2, sizeof(buf2), &n2), 0);
	assert_int_equal(tj_shs_step(c, buf2, n2, buf1, sizeof(buf1), &n1), 0);
	assert_int_equal(tj_shs_step(s, buf1, n1, buf2, sizeof(buf2), &n2), TJ_EDECRYPT);
	assert_int_equal(n2, 0);
	assert_int_equal(az.calls, 0);
	tj_shs_free(c);
	tj_shs_free(s);
	id_free(&a);
	id_free(&b);
	id_free(&impostor);
}

/* authorize() says no: no msg4, TJ_ENOTMEMBER, and the client key was right. */
static void test_unauthorized(void **state)
{
	uint8_t app[32], buf1[TJ_SHS_OUT_MAX_BYTES], buf2[TJ_SHS_OUT_MAX_BYTES];
	struct test_id a, b;
	struct authz az = {.allow = false};
	struct tj_shs *c = NULL, *s = NULL;
	struct tj_shs_keys keys;
	size_t n1 = 0, n2 = 0;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_server_new(app, &b.id, authorize_cb, &az, &s), 0);
	assert_int_equal(tj_shs_step(c, NULL, 0, buf1, sizeof(buf1), &n1), 0);
	assert_int_equal(tj_shs_step(s, buf1, n1, buf2, sizeof(buf2), &n2), 0);
	assert_int_equal(tj_shs_step(c, buf2, n2, buf1, sizeof(buf1), &n1), 0);
	n2 = 7;
	assert_int_equal(tj_shs_step(s, buf1, n1, buf2, sizeof(buf2), &n2), TJ_ENOTMEMBER);
	assert_int_equal(n2, 0);
	assert_int_equal(az.calls, 1);
	assert_memory_equal(az.seen, a.id.pk, 32);
	assert_int_equal(tj_shs_state(s), TJ_SHS_FAILED);
	assert_int_equal(tj_shs_take_keys(s, &keys), TJ_ESTATE);
	tj_shs_free(c);
	tj_shs_free(s);
	id_free(&a);
	id_free(&b);
}

/* --- state machine misuse ------------------------------------------------ */

static void test_misuse(void **state)
{
	uint8_t app[32], buf[TJ_SHS_OUT_MAX_BYTES], small[10];
	struct test_id a, b;
	struct transcript t;
	struct tj_shs_keys ck, sk, again;
	struct authz az = {.allow = true};
	struct tj_shs *c = NULL, *s = NULL;
	size_t n = 0;

	(void)state;
	randombytes_buf(app, sizeof(app));
	id_random(&a);
	id_random(&b);
	/* missing arguments: nothing is created */
	s = (struct tj_shs *)&s;
	assert_int_equal(tj_shs_server_new(app, &b.id, NULL, NULL, &s), -EINVAL);
	assert_null(s);
	c = (struct tj_shs *)&c;
	assert_int_equal(tj_shs_client_new(app, &a.id, NULL, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, NULL), -EINVAL);
	/* wrong input length fails the machine */
	assert_int_equal(tj_shs_server_new(app, &b.id, authorize_cb, &az, &s), 0);
	assert_int_equal(tj_shs_step(s, buf, 63, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(tj_shs_state(s), TJ_SHS_FAILED);
	assert_int_equal(tj_shs_step(s, buf, 64, buf, sizeof(buf), &n), TJ_ESTATE);
	tj_shs_free(s);
	/* output buffer too small */
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_step(c, NULL, 0, small, sizeof(small), &n), -EINVAL);
	assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
	tj_shs_free(c);
	/* the test hook only works before the first message */
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_step(c, NULL, 0, buf, sizeof(buf), &n), 0);
	assert_int_equal(tj_shs_test_set_ephemeral(c, app), TJ_ESTATE);
	/* a deadline expiring: abort fails and wipes */
	tj_shs_abort(c);
	assert_int_equal(tj_shs_state(c), TJ_SHS_FAILED);
	assert_int_equal(tj_shs_need(c), 0);
	tj_shs_free(c);
	/* after DONE: no more steps, keys only once */
	handshake(app, &a.id, &b.id, NULL, NULL, &t, &ck, &sk);
	assert_int_equal(tj_shs_client_new(app, &a.id, b.id.pk, &c), 0);
	assert_int_equal(tj_shs_take_keys(c, &again), TJ_ESTATE);
	tj_shs_free(c);
	tj_shs_free(NULL);
	tj_shs_abort(NULL);
	id_free(&a);
	id_free(&b);
}

/* Keys can be taken once; the second time the machine has forgotten them. */
static void test_keys_taken_once(void **state)
{
	struct kat k;
	struct authz az = {.allow = true};
	struct tj_shs *s = NULL;
	struct tj_shs_keys keys;

	(void)state;
	kat_load(&k);
	assert_int_equal(tj_shs_server_new(k.app, &k.sid.id, authorize_cb, &az, &s), 0);
	assert_int_equal(tj_shs_test_set_ephemeral(s, k.s_eph), 0);
	step_ok(s, k.t.m1, TJ_SHS_MSG1_BYTES, NULL, TJ_SHS_MSG2_BYTES);
	step_ok(s, k.t.m3, TJ_SHS_MSG3_BYTES, NULL, TJ_SHS_MSG4_BYTES);
	assert_int_equal(tj_shs_take_keys(s, &keys), 0);
	assert_int_equal(tj_shs_take_keys(s, &keys), TJ_ESTATE);
	assert_int_equal(tj_shs_step(s, k.t.m3, TJ_SHS_MSG3_BYTES, (uint8_t *)&keys, sizeof(keys), &(size_t){0}),
			 TJ_ESTATE);
	tj_shs_free(s);
	kat_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_full_handshake),
		cmocka_unit_test(test_low_order_in_msg1),
		cmocka_unit_test(test_low_order_in_msg2),
		cmocka_unit_test(test_low_order_negative),
		cmocka_unit_test(test_bad_server_key),
		cmocka_unit_test(test_flips_to_server),
		cmocka_unit_test(test_flips_to_client),
		cmocka_unit_test(test_replay_to_server),
		cmocka_unit_test(test_replay_to_client),
		cmocka_unit_test(test_wrong_app_key),
		cmocka_unit_test(test_wrong_server_identity),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_keys_taken_once),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
