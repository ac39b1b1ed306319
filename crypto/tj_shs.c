/*
 * Secret handshake v1 (see tj_shs.h for the message flow and the errors).
 * The derivations follow the SSB protocol guide and shs1-crypto exactly;
 * the known-answer test in tests/unit/test_shs.c pins them.
 */
#include "tj_shs.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#define TJ__SIG_BYTES 64
#define TJ__MSG3_PLAIN_BYTES (TJ__SIG_BYTES + 32) /* sig_A || A */

/* Everything secret or session-specific; wiped as one block. */
struct tj__shs_secrets {
	uint8_t eph_sk[32];
	uint8_t eph_pk[32];
	uint8_t remote_eph_pk[32];
	uint8_t ab[32];      /* eph x eph */
	uint8_t a_B[32];     /* client eph x server long-term */
	uint8_t ab_hash[32]; /* sha256(ab) */
	uint8_t msg3_plain[TJ__MSG3_PLAIN_BYTES];
};

struct tj_shs {
	enum tj_shs_state state;
	bool keys_ready;
	const struct tj_identity *id; /* borrowed */
	tj_shs_authorize_fn authorize;
	void *ctx;
	uint8_t app_key[TJ_SHS_APP_KEY_BYTES];
	uint8_t remote_pk[32];   /* peer's Ed25519 key: known (client) or learned (server) */
	uint8_t remote_x_pk[32]; /* client only: the server's X25519 key */
	struct tj__shs_secrets s;
	struct tj_shs_keys keys;
};

static const uint8_t tj__zero_nonce[crypto_secretbox_NONCEBYTES];

/*
 * Every 32-byte encoding of a Curve25519 point of small order: the seven
 * values 0, 1, two points of order 8, p-1, p, p+1 (libsodium's
 * has_small_order list), their non-canonical spellings x+p and x+2p that
 * fit in 256 bits (the usual 12-entry blocklist), and the top-bit variants.
 * Some of these do not produce an all-zero secret once libsodium masks the
 * top bit; we refuse them all the same, as an honest peer never sends one.
 */
static const uint8_t tj__low_order[][32] = {
	{0},
	{1},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{0xcd, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x80},
	{0x4c, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0xd7},
	{0xd9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0xda, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0xdb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	/*
	 * The same seven values with the top bit set: libsodium masks that bit
	 * (RFC 7748), so these decode to the low-order points above.
	 */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80},
	{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80},
	{0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x80},
	{0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0xd7},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
};

bool tj_shs_is_low_order(const uint8_t x_pk[32])
{
	unsigned found = 0;

	for (size_t i = 0; i < sizeof(tj__low_order) / sizeof(tj__low_order[0]); i++) {
		unsigned diff = 0;
		for (size_t j = 0; j < 32; j++)
			diff |= (unsigned)(x_pk[j] ^ tj__low_order[i][j]);
		/* diff == 0 -> 1, without a branch on the key */
		found |= ((diff - 1u) >> 8) & 1u;
	}
	return found != 0;
}

/* out = sha256(a || b || c || d); absent parts have length 0. */
static void tj__sha256_cat(uint8_t out[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
			   const uint8_t *c, size_t clen, const uint8_t *d, size_t dlen)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, a, alen);
	if (blen > 0)
		crypto_hash_sha256_update(&st, b, blen);
	if (clen > 0)
		crypto_hash_sha256_update(&st, c, clen);
	if (dlen > 0)
		crypto_hash_sha256_update(&st, d, dlen);
	crypto_hash_sha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* X25519 that refuses low-order inputs and all-zero outputs. */
static int tj__dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32])
{
	if (tj_shs_is_low_order(pk))
		return TJ_ECRYPTO;
	if (crypto_scalarmult(out, sk, pk) != 0) {
		sodium_memzero(out, 32);
		return TJ_ECRYPTO;
	}
	return 0;
}

/* X25519 with our long-term key (converted from the Ed25519 secret key). */
static int tj__dh_longterm(uint8_t out[32], const struct tj_identity *id, const uint8_t pk[32])
{
	uint8_t x_sk[32];
	int rc = TJ_ECRYPTO;

	if (crypto_sign_ed25519_sk_to_curve25519(x_sk, id->sk) != 0)
		goto out;
	rc = tj__dh(out, x_sk, pk);
out:
	sodium_memzero(x_sk, sizeof(x_sk));
	return rc;
}

static int tj__fresh_ephemeral(struct tj_shs *h)
{
	return crypto_box_keypair(h->s.eph_pk, h->s.eph_sk) == 0 ? 0 : TJ_ECRYPTO;
}

static int tj__alloc(const uint8_t app_key[TJ_SHS_APP_KEY_BYTES], const struct tj_identity *id,
		     struct tj_shs **out)
{
	struct tj_shs *h;
	/* sodium_malloc aligns the end of the block, so round the size up. */
	size_t size = (sizeof(*h) + 15u) & ~(size_t)15u;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (app_key == NULL || id == NULL || id->sk == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return TJ_ECRYPTO;
	h = sodium_malloc(size);
	if (h == NULL)
		return -ENOMEM;
	memset(h, 0, size);
	h->id = id;
	memcpy(h->app_key, app_key, TJ_SHS_APP_KEY_BYTES);
	*out = h;
	return 0;
}

int tj_shs_client_new(const uint8_t app_key[TJ_SHS_APP_KEY_BYTES], const struct tj_identity *id,
		      const uint8_t server_pk[32], struct tj_shs **out)
{
	struct tj_shs *h = NULL;
	int rc;

	if (out == NULL)
		return -EINVAL;
	rc = tj__alloc(app_key, id, &h);
	if (rc == 0 && server_pk == NULL)
		rc = -EINVAL;
	if (rc != 0)
		goto out;
	h->state = TJ_SHS_CLIENT_START;
	memcpy(h->remote_pk, server_pk, 32);
	rc = TJ_ECRYPTO;
	if (crypto_sign_ed25519_pk_to_curve25519(h->remote_x_pk, server_pk) != 0 ||
	    tj_shs_is_low_order(h->remote_x_pk))
		goto out;
	rc = tj__fresh_ephemeral(h);
out:
	if (rc != 0) {
		tj_shs_free(h);
		h = NULL;
	}
	*out = h;
	return rc;
}

int tj_shs_server_new(const uint8_t app_key[TJ_SHS_APP_KEY_BYTES], const struct tj_identity *id,
		      tj_shs_authorize_fn authorize, void *ctx, struct tj_shs **out)
{
	struct tj_shs *h = NULL;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	rc = tj__alloc(app_key, id, &h);
	if (rc != 0)
		return rc;
	if (authorize == NULL) {
		tj_shs_free(h);
		*out = NULL;
		return -EINVAL;
	}
	h->state = TJ_SHS_SERVER_AWAIT_MSG1;
	h->authorize = authorize;
	h->ctx = ctx;
	rc = tj__fresh_ephemeral(h);
	if (rc != 0) {
		tj_shs_free(h);
		h = NULL;
	}
	*out = h;
	return rc;
}

void tj_shs_free(struct tj_shs *h)
{
	if (h == NULL)
		return;
	/* sodium_free wipes the whole block before unmapping it. */
	sodium_free(h);
}

enum tj_shs_state tj_shs_state(const struct tj_shs *h)
{
	return h->state;
}

size_t tj_shs_need(const struct tj_shs *h)
{
	switch (h->state) {
	case TJ_SHS_CLIENT_AWAIT_MSG2:
		return TJ_SHS_MSG2_BYTES;
	case TJ_SHS_CLIENT_AWAIT_MSG4:
		return TJ_SHS_MSG4_BYTES;
	case TJ_SHS_SERVER_AWAIT_MSG1:
		return TJ_SHS_MSG1_BYTES;
	case TJ_SHS_SERVER_AWAIT_MSG3:
		return TJ_SHS_MSG3_BYTES;
	default:
		return 0;
	}
}

void tj_shs_abort(struct tj_shs *h)
{
	if (h == NULL)
		return;
	sodium_memzero(&h->s, sizeof(h->s));
	sodium_memzero(&h->keys, sizeof(h->keys));
	sodium_memzero(h->app_key, sizeof(h->app_key)); /* the network key is a secret too */
	h->keys_ready = false;
	h->state = TJ_SHS_FAILED;
}

/* hmac_K(x) || x: msg1 and msg2 have the same shape. */
static void tj__hello(const struct tj_shs *h, uint8_t out[64])
{
	crypto_auth(out, h->s.eph_pk, 32, h->app_key);
	memcpy(out + 32, h->s.eph_pk, 32);
}

/* Checks the peer's hello and keeps its ephemeral key. */
static int tj__check_hello(struct tj_shs *h, const uint8_t in[64])
{
	if (crypto_auth_verify(in, in + 32, 32, h->app_key) != 0)
		return TJ_EDECRYPT;
	if (tj_shs_is_low_order(in + 32))
		return TJ_ECRYPTO;
	memcpy(h->s.remote_eph_pk, in + 32, 32);
	return 0;
}

/*
 * Both sides, once msg4's key is known. A direction's key is
 * sha256(sha256(key4) || long-term key of its receiver); its initial nonce
 * is the first 24 bytes of the HMAC its receiver sent in msg1/msg2. So we
 * send under hmac_K(their eph) and receive under hmac_K(our eph).
 */
static void tj__derive_keys(struct tj_shs *h, const uint8_t key4[32], const uint8_t remote_pk[32])
{
	uint8_t kh[32];
	uint8_t mac[crypto_auth_BYTES];

	tj__sha256_cat(kh, key4, 32, NULL, 0, NULL, 0, NULL, 0);
	tj__sha256_cat(h->keys.enc_key, kh, 32, remote_pk, 32, NULL, 0, NULL, 0);
	tj__sha256_cat(h->keys.dec_key, kh, 32, h->id->pk, 32, NULL, 0, NULL, 0);
	crypto_auth(mac, h->s.remote_eph_pk, 32, h->app_key);
	memcpy(h->keys.enc_nonce, mac, TJ_SHS_NONCE_BYTES);
	crypto_auth(mac, h->s.eph_pk, 32, h->app_key);
	memcpy(h->keys.dec_nonce, mac, TJ_SHS_NONCE_BYTES);
	memcpy(h->keys.peer_pk, remote_pk, 32);
	h->keys_ready = true;
	sodium_memzero(kh, sizeof(kh));
	sodium_memzero(mac, sizeof(mac));
}

static int tj__client_msg1(struct tj_shs *h, uint8_t *out)
{
	tj__hello(h, out);
	h->state = TJ_SHS_CLIENT_AWAIT_MSG2;
	return 0;
}

/* Client: msg2 in, msg3 out. */
static int tj__client_msg2(struct tj_shs *h, const uint8_t *in, uint8_t *out)
{
	uint8_t signed_msg[32 + 32 + 32]; /* K || B || sha256(ab) */
	uint8_t key3[32];
	int rc;

	rc = tj__check_hello(h, in);
	if (rc != 0)
		goto out;
	rc = tj__dh(h->s.ab, h->s.eph_sk, h->s.remote_eph_pk);
	if (rc != 0)
		goto out;
	rc = tj__dh(h->s.a_B, h->s.eph_sk, h->remote_x_pk);
	if (rc != 0)
		goto out;
	tj__sha256_cat(h->s.ab_hash, h->s.ab, 32, NULL, 0, NULL, 0, NULL, 0);
	memcpy(signed_msg, h->app_key, 32);
	memcpy(signed_msg + 32, h->remote_pk, 32);
	memcpy(signed_msg + 64, h->s.ab_hash, 32);
	rc = TJ_ECRYPTO;
	if (crypto_sign_detached(h->s.msg3_plain, NULL, signed_msg, sizeof(signed_msg), h->id->sk) != 0)
		goto out;
	memcpy(h->s.msg3_plain + TJ__SIG_BYTES, h->id->pk, 32);
	tj__sha256_cat(key3, h->app_key, 32, h->s.ab, 32, h->s.a_B, 32, NULL, 0);
	if (crypto_secretbox_easy(out, h->s.msg3_plain, TJ__MSG3_PLAIN_BYTES, tj__zero_nonce, key3) != 0)
		goto out;
	h->state = TJ_SHS_CLIENT_AWAIT_MSG4;
	rc = 0;
out:
	sodium_memzero(signed_msg, sizeof(signed_msg));
	sodium_memzero(key3, sizeof(key3));
	return rc;
}

/* Client: msg4 in; on success the keys are ready. */
static int tj__client_msg4(struct tj_shs *h, const uint8_t *in)
{
	uint8_t a_b[32]; /* client long-term x server eph */
	uint8_t key4[32];
	uint8_t sig_b[TJ__SIG_BYTES];
	uint8_t signed_msg[32 + TJ__MSG3_PLAIN_BYTES + 32]; /* K || sig_A || A || sha256(ab) */
	int rc;

	rc = tj__dh_longterm(a_b, h->id, h->s.remote_eph_pk);
	if (rc != 0)
		goto out;
	tj__sha256_cat(key4, h->app_key, 32, h->s.ab, 32, h->s.a_B, 32, a_b, 32);
	rc = TJ_EDECRYPT;
	if (crypto_secretbox_open_easy(sig_b, in, TJ_SHS_MSG4_BYTES, tj__zero_nonce, key4) != 0)
		goto out;
	memcpy(signed_msg, h->app_key, 32);
	memcpy(signed_msg + 32, h->s.msg3_plain, TJ__MSG3_PLAIN_BYTES);
	memcpy(signed_msg + 32 + TJ__MSG3_PLAIN_BYTES, h->s.ab_hash, 32);
	rc = TJ_EBADSIG;
	if (crypto_sign_verify_detached(sig_b, signed_msg, sizeof(signed_msg), h->remote_pk) != 0)
		goto out;
	tj__derive_keys(h, key4, h->remote_pk);
	h->state = TJ_SHS_DONE;
	rc = 0;
out:
	sodium_memzero(a_b, sizeof(a_b));
	sodium_memzero(key4, sizeof(key4));
	sodium_memzero(sig_b, sizeof(sig_b));
	sodium_memzero(signed_msg, sizeof(signed_msg));
	return rc;
}

/* Server: msg1 in, msg2 out. A bad HMAC returns before anything is written. */
static int tj__server_msg1(struct tj_shs *h, const uint8_t *in, uint8_t *out)
{
	int rc;

	rc = tj__check_hello(h, in);
	if (rc != 0)
		return rc;
	rc = tj__dh(h->s.ab, h->s.eph_sk, h->s.remote_eph_pk);
	if (rc != 0)
		return rc;
	rc = tj__dh_longterm(h->s.a_B, h->id, h->s.remote_eph_pk);
	if (rc != 0)
		return rc;
	tj__sha256_cat(h->s.ab_hash, h->s.ab, 32, NULL, 0, NULL, 0, NULL, 0);
	tj__hello(h, out);
	h->state = TJ_SHS_SERVER_AWAIT_MSG3;
	return 0;
}

/* Server: opens msg3 and verifies the client's signature; learns A. */
static int tj__server_open_msg3(struct tj_shs *h, const uint8_t *in)
{
	uint8_t key3[32];
	uint8_t signed_msg[32 + 32 + 32]; /* K || B || sha256(ab) */
	int rc = TJ_EDECRYPT;

	tj__sha256_cat(key3, h->app_key, 32, h->s.ab, 32, h->s.a_B, 32, NULL, 0);
	if (crypto_secretbox_open_easy(h->s.msg3_plain, in, TJ_SHS_MSG3_BYTES, tj__zero_nonce, key3) != 0)
		goto out;
	memcpy(signed_msg, h->app_key, 32);
	memcpy(signed_msg + 32, h->id->pk, 32);
	memcpy(signed_msg + 64, h->s.ab_hash, 32);
	rc = TJ_EBADSIG;
	if (crypto_sign_verify_detached(h->s.msg3_plain, signed_msg, sizeof(signed_msg),
					h->s.msg3_plain + TJ__SIG_BYTES) != 0)
		goto out;
	memcpy(h->remote_pk, h->s.msg3_plain + TJ__SIG_BYTES, 32);
	rc = 0;
out:
	sodium_memzero(key3, sizeof(key3));
	sodium_memzero(signed_msg, sizeof(signed_msg));
	return rc;
}

/* Server: msg3 in, authorize, msg4 out. */
static int tj__server_msg3(struct tj_shs *h, const uint8_t *in, uint8_t *out)
{
	uint8_t a_x_pk[32];
	uint8_t a_b[32]; /* server eph x client long-term */
	uint8_t key4[32];
	uint8_t sig_b[TJ__SIG_BYTES];
	uint8_t signed_msg[32 + TJ__MSG3_PLAIN_BYTES + 32]; /* K || sig_A || A || sha256(ab) */
	int rc;

	rc = tj__server_open_msg3(h, in);
	if (rc != 0)
		goto out;
	rc = TJ_ECRYPTO;
	if (crypto_sign_ed25519_pk_to_curve25519(a_x_pk, h->remote_pk) != 0)
		goto out;
	rc = tj__dh(a_b, h->s.eph_sk, a_x_pk);
	if (rc != 0)
		goto out;
	/* Decide before producing a single byte of msg4. */
	rc = TJ_ENOTMEMBER;
	if (!h->authorize(h->ctx, h->remote_pk))
		goto out;
	tj__sha256_cat(key4, h->app_key, 32, h->s.ab, 32, h->s.a_B, 32, a_b, 32);
	memcpy(signed_msg, h->app_key, 32);
	memcpy(signed_msg + 32, h->s.msg3_plain, TJ__MSG3_PLAIN_BYTES);
	memcpy(signed_msg + 32 + TJ__MSG3_PLAIN_BYTES, h->s.ab_hash, 32);
	rc = TJ_ECRYPTO;
	if (crypto_sign_detached(sig_b, NULL, signed_msg, sizeof(signed_msg), h->id->sk) != 0)
		goto out;
	if (crypto_secretbox_easy(out, sig_b, TJ__SIG_BYTES, tj__zero_nonce, key4) != 0)
		goto out;
	tj__derive_keys(h, key4, h->remote_pk);
	h->state = TJ_SHS_DONE;
	rc = 0;
out:
	sodium_memzero(a_b, sizeof(a_b));
	sodium_memzero(key4, sizeof(key4));
	sodium_memzero(sig_b, sizeof(sig_b));
	sodium_memzero(signed_msg, sizeof(signed_msg));
	return rc;
}

static size_t tj__out_bytes(enum tj_shs_state st)
{
	switch (st) {
	case TJ_SHS_CLIENT_START:
		return TJ_SHS_MSG1_BYTES;
	case TJ_SHS_CLIENT_AWAIT_MSG2:
		return TJ_SHS_MSG3_BYTES;
	case TJ_SHS_SERVER_AWAIT_MSG1:
		return TJ_SHS_MSG2_BYTES;
	case TJ_SHS_SERVER_AWAIT_MSG3:
		return TJ_SHS_MSG4_BYTES;
	default:
		return 0;
	}
}

static int tj__dispatch(struct tj_shs *h, const uint8_t *in, uint8_t *out)
{
	switch (h->state) {
	case TJ_SHS_CLIENT_START:
		return tj__client_msg1(h, out);
	case TJ_SHS_CLIENT_AWAIT_MSG2:
		return tj__client_msg2(h, in, out);
	case TJ_SHS_CLIENT_AWAIT_MSG4:
		return tj__client_msg4(h, in);
	case TJ_SHS_SERVER_AWAIT_MSG1:
		return tj__server_msg1(h, in, out);
	case TJ_SHS_SERVER_AWAIT_MSG3:
		return tj__server_msg3(h, in, out);
	default:
		return TJ_ESTATE;
	}
}

int tj_shs_step(struct tj_shs *h, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t produce;
	int rc;

	if (h == NULL || out_len == NULL)
		return -EINVAL;
	*out_len = 0;
	if (h->state == TJ_SHS_DONE || h->state == TJ_SHS_FAILED)
		return TJ_ESTATE;
	produce = tj__out_bytes(h->state);
	rc = -EINVAL;
	if (in_len != tj_shs_need(h) || (in_len > 0 && in == NULL) || out_cap < produce ||
	    (produce > 0 && out == NULL))
		goto out;
	rc = tj__dispatch(h, in, out);
	if (rc != 0)
		goto out;
	*out_len = produce;
	if (h->state == TJ_SHS_DONE) { /* only the session keys survive */
		sodium_memzero(&h->s, sizeof(h->s));
		sodium_memzero(h->app_key, sizeof(h->app_key));
	}
out:
	if (rc != 0) {
		if (out != NULL && out_cap > 0)
			sodium_memzero(out, out_cap < produce ? out_cap : produce);
		tj_shs_abort(h);
	}
	return rc;
}

int tj_shs_take_keys(struct tj_shs *h, struct tj_shs_keys *out)
{
	if (h == NULL || out == NULL)
		return -EINVAL;
	if (h->state != TJ_SHS_DONE || !h->keys_ready)
		return TJ_ESTATE;
	memcpy(out, &h->keys, sizeof(*out));
	sodium_memzero(&h->keys, sizeof(h->keys));
	h->keys_ready = false;
	return 0;
}

int tj_shs_test_set_ephemeral(struct tj_shs *h, const uint8_t eph_sk[32])
{
	if (h == NULL || eph_sk == NULL)
		return -EINVAL;
	if (h->state != TJ_SHS_CLIENT_START && h->state != TJ_SHS_SERVER_AWAIT_MSG1)
		return TJ_ESTATE;
	memcpy(h->s.eph_sk, eph_sk, 32);
	if (crypto_scalarmult_base(h->s.eph_pk, h->s.eph_sk) != 0) {
		tj_shs_abort(h);
		return TJ_ECRYPTO;
	}
	return 0;
}
