/*
 * Record sealing: known-answer vectors from an independent implementation
 * (tests/vectors/gen_seal_kat.py), round trips with each slot type, and the
 * negative cases: every flipped bit, truncation, forged signature, missing or
 * wrong keys, tampered ciphertext under a valid signature, limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_keys.h"
#include "tj_seal.h"

#define OUT_CAP (TJ_RECORD_MAX_BYTES + 1024)
#define KAT_LINE_MAX 8192
#define KAT_FIELDS_MAX 24

/* --- helpers ------------------------------------------------------------- */

struct keys {
	struct tj_sym_key epoch;
	struct tj_sym_key circle;
};

static void sym_init(struct tj_sym_key *k, const uint8_t *bytes)
{
	k->key = sodium_malloc(32);
	assert_non_null(k->key);
	if (bytes != NULL)
		memcpy(k->key, bytes, 32);
	else
		randombytes_buf(k->key, 32);
	tj_sym_key_id(k->key, k->id);
}

/* ctx is a struct keys; only the keys it holds are found. */
static const uint8_t *lookup_keys(void *ctx, uint8_t type, const uint8_t id[32])
{
	const struct keys *k = ctx;

	if (type == TJ_SLOT_EPOCH && k->epoch.key != NULL && memcmp(id, k->epoch.id, 32) == 0)
		return k->epoch.key;
	if (type == TJ_SLOT_CIRCLE && k->circle.key != NULL && memcmp(id, k->circle.id, 32) == 0)
		return k->circle.key;
	return NULL;
}

/* Returns a fixed key whatever the id: models a node holding a wrong key under a known id. */
static const uint8_t *lookup_wrong(void *ctx, uint8_t type, const uint8_t id[32])
{
	(void)type;
	(void)id;
	return ctx;
}

static void base_in(struct tj_seal_in *in, const uint8_t *body, size_t body_len)
{
	memset(in, 0, sizeof(*in));
	memset(in->network_id, 0x4e, 32);
	in->seq = 7;
	in->has_prev = true;
	memset(in->prev, 0x70, 32);
	in->ts_ms = 1773446400000ull;
	in->kind = TJ_KIND_INCIDENT;
	in->audience.type = TJ_AUD_NETWORK;
	in->body = body;
	in->body_len = body_len;
}

static const uint8_t body_text[] = "{\"acts\":[{\"type\":\"death_threat\"}],\"state\":\"20\"}";

struct sealed {
	uint8_t buf[OUT_CAP];
	size_t len;
	uint8_t id[32];
};

static void seal_ok(const struct tj_seal_in *in, const struct tj_identity *author, struct sealed *s)
{
	assert_int_equal(tj_record_seal(in, author, s->buf, sizeof(s->buf), &s->len, s->id), 0);
}

static void open_expect(const struct sealed *s, const struct tj_identity *me, tj_key_lookup_fn fn, void *ctx,
                        int want_rc, const uint8_t *want, size_t want_len)
{
	struct tj_record rec;
	uint8_t id[32];
	static uint8_t plain[OUT_CAP];
	size_t plain_len = 0;

	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), 0);
	assert_memory_equal(id, s->id, 32);
	assert_int_equal(tj_record_open(s->buf, &rec, me, fn, ctx, plain, sizeof(plain), &plain_len),
	                 want_rc);
	if (want_rc == 0) {
		assert_int_equal(plain_len, want_len);
		if (want_len > 0)
			assert_memory_equal(plain, want, want_len);
	}
}

/* Re-signs [0, signed_len) with sk, writes the new signature in place and updates the id. */
static void resign(struct sealed *s, const uint8_t *sk)
{
	struct tj_record rec;

	assert_int_equal(tj_record_decode(s->buf, s->len, &rec), 0);
	assert_int_equal(
	    crypto_sign_detached(s->buf + rec.total_len - TJ_SIG_BYTES, NULL, s->buf, rec.signed_len, sk), 0);
	tj_record_id(s->buf, &rec, s->id);
}

/* --- known-answer vectors ------------------------------------------------ */

struct kat {
	char key[KAT_FIELDS_MAX][32];
	char *val[KAT_FIELDS_MAX];
	size_t n;
};

static const char *kat_get(const struct kat *k, const char *key)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->key[i], key) == 0)
			return k->val[i];
	fail_msg("vector lacks %s", key);
	return NULL;
}

/* Hex field into a fresh buffer; NULL for "nil"; *len its size. */
static uint8_t *kat_bytes(const struct kat *k, const char *key, size_t *len)
{
	const char *v = kat_get(k, key);
	uint8_t *out;

	*len = 0;
	if (strcmp(v, "nil") == 0)
		return NULL;
	if (strcmp(v, "empty") == 0)
		return calloc(1, 1);
	*len = strlen(v) / 2;
	out = malloc(*len + 1);
	assert_non_null(out);
	assert_int_equal(tj_unhex(v, out, *len), 0);
	return out;
}

static void kat_fixed(const struct kat *k, const char *key, uint8_t *out, size_t n)
{
	size_t len = 0;
	uint8_t *b = kat_bytes(k, key, &len);

	assert_non_null(b);
	assert_int_equal(len, n);
	memcpy(out, b, n);
	free(b);
}

static uint64_t kat_uint(const struct kat *k, const char *key)
{
	return strtoull(kat_get(k, key), NULL, 10);
}

static void kat_run(const struct kat *k)
{
	struct tj_seal_in in;
	struct tj_identity *author = NULL;
	struct tj_sym_key epoch = {0}, circle = {0};
	struct keys held = {0};
	uint8_t seed[32], rk[32], nonce[24], author_pk[32];
	size_t body_len, enc_len, id_len, n;
	uint8_t *body = kat_bytes(k, "body", &body_len);
	uint8_t *enc = kat_bytes(k, "encoding", &enc_len);
	uint8_t *want_id = kat_bytes(k, "id", &id_len);
	uint8_t *tmp;
	struct sealed *s = malloc(sizeof(*s));

	assert_non_null(s);
	base_in(&in, body, body_len);
	kat_fixed(k, "seed", seed, 32);
	kat_fixed(k, "network_id", in.network_id, 32);
	kat_fixed(k, "record_key", rk, 32);
	kat_fixed(k, "nonce", nonce, 24);
	kat_fixed(k, "author", author_pk, 32);
	in.seq = kat_uint(k, "seq");
	in.ts_ms = kat_uint(k, "ts_ms");
	in.kind = (uint8_t)kat_uint(k, "kind");
	in.audience.type = (uint8_t)kat_uint(k, "aud_type");
	in.has_prev = strcmp(kat_get(k, "prev"), "nil") != 0;
	if (in.has_prev)
		kat_fixed(k, "prev", in.prev, 32);
	in.audience.has_ref = strcmp(kat_get(k, "aud_ref"), "nil") != 0;
	if (in.audience.has_ref)
		kat_fixed(k, "aud_ref", in.audience.ref, 32);
	if ((tmp = kat_bytes(k, "epoch_key", &n)) != NULL) {
		sym_init(&epoch, tmp);
		in.epoch = &epoch;
		held.epoch = epoch;
		free(tmp);
	}
	if ((tmp = kat_bytes(k, "circle_key", &n)) != NULL) {
		sym_init(&circle, tmp);
		in.circle = &circle;
		held.circle = circle;
		free(tmp);
	}
	in.fixed_record_key = rk;
	in.fixed_nonce = nonce;
	assert_int_equal(tj_identity_from_seed(seed, &author), 0);
	assert_memory_equal(author->pk, author_pk, 32);

	seal_ok(&in, author, s);
	assert_int_equal(s->len, enc_len);
	assert_memory_equal(s->buf, enc, enc_len);
	assert_memory_equal(s->id, want_id, 32);
	if (in.epoch != NULL || in.circle != NULL)
		open_expect(s, NULL, lookup_keys, &held, 0, body, body_len);
	else
		open_expect(s, author, lookup_keys, &held, TJ_ENOKEY, NULL, 0);

	sodium_free(epoch.key);
	sodium_free(circle.key);
	tj_identity_free(author);
	free(body);
	free(enc);
	free(want_id);
	free(s);
}

static void test_known_answer_vectors(void **state)
{
	FILE *fp = fopen(TJ_TEST_DATA "/vectors/seal_kat.txt", "r");
	static char line[KAT_LINE_MAX];
	struct kat k = {.n = 0};
	size_t cases = 0;

	(void)state;
	assert_non_null(fp);
	/* One "key = value" per line; a blank line or EOF ends a vector. Bounded by the file. */
	for (;;) {
		bool eof = fgets(line, sizeof(line), fp) == NULL;
		char *eq;

		if (!eof && line[0] == '#')
			continue;
		if (eof || line[0] == '\n') {
			if (k.n > 0) {
				kat_run(&k);
				cases++;
			}
			for (size_t i = 0; i < k.n; i++)
				free(k.val[i]);
			k.n = 0;
			if (eof)
				break;
			continue;
		}
		assert_true(strlen(line) < sizeof(line) - 1);
		line[strcspn(line, "\n")] = '\0';
		eq = strstr(line, " = ");
		assert_non_null(eq);
		assert_true(k.n < KAT_FIELDS_MAX && (size_t)(eq - line) < sizeof(k.key[0]));
		memcpy(k.key[k.n], line, (size_t)(eq - line));
		k.key[k.n][eq - line] = '\0';
		k.val[k.n] = strdup(eq + 3);
		assert_non_null(k.val[k.n]);
		k.n++;
	}
	fclose(fp);
	assert_int_equal(cases, 3);
}

static void test_sym_key_id_vector(void **state)
{
	uint8_t key[32], id[32], want[32];

	(void)state;
	memset(key, 0x42, sizeof(key));
	tj_sym_key_id(key, id);
	/* hashlib.blake2b(b"tejido-sym-key-id-v1", key=b"\x42"*32, digest_size=32) */
	assert_int_equal(
	    tj_unhex("0deb7c29183dd8cb3d71ce96a33b93c8d6ab6f9ac5a773a5de53f04b295459a3", want, 32), 0);
	assert_memory_equal(id, want, 32);
}

/* --- round trips --------------------------------------------------------- */

struct world {
	struct tj_identity *author, *reader, *other;
	struct keys keys;
	struct sealed s;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (w == NULL || tj_crypto_init() != 0)
		return -1;
	if (tj_identity_generate(&w->author) != 0 || tj_identity_generate(&w->reader) != 0 ||
	    tj_identity_generate(&w->other) != 0)
		return -1;
	sym_init(&w->keys.epoch, NULL);
	sym_init(&w->keys.circle, NULL);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	tj_identity_free(w->author);
	tj_identity_free(w->reader);
	tj_identity_free(w->other);
	sodium_free(w->keys.epoch.key);
	sodium_free(w->keys.circle.key);
	free(w);
	return 0;
}

static void test_round_trip_epoch(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	struct keys none = {0};
	struct tj_record rec;
	uint8_t id[32];

	base_in(&in, body_text, sizeof(body_text));
	in.epoch = &w->keys.epoch;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, w->keys.epoch.id, 32);
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, NULL, lookup_keys, &w->keys, 0, body_text, sizeof(body_text));
	/* The header is what we asked for. */
	assert_int_equal(tj_record_verify(w->s.buf, w->s.len, &rec, id), 0);
	assert_memory_equal(rec.author, w->author->pk, 32);
	assert_int_equal(rec.seq, 7);
	assert_int_equal(rec.n_slots, 1);
	assert_int_equal(rec.slots[0].type, TJ_SLOT_EPOCH);
	assert_int_equal(rec.slots[0].wrapped_len, 72);
	assert_memory_equal(rec.slots[0].ref, w->keys.epoch.id, 32);
	assert_int_equal(rec.ciphertext_len, sizeof(body_text) + 16);
	/* A node without the epoch key, or with no lookup at all, has no key. */
	open_expect(&w->s, w->reader, lookup_keys, &none, TJ_ENOKEY, NULL, 0);
	open_expect(&w->s, w->reader, NULL, NULL, TJ_ENOKEY, NULL, 0);
}

static void test_round_trip_circle(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	struct keys only_epoch = {.epoch = w->keys.epoch};
	struct keys only_circle = {.circle = w->keys.circle};

	base_in(&in, body_text, sizeof(body_text));
	in.circle = &w->keys.circle;
	in.audience.type = TJ_AUD_CIRCLE;
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, NULL, lookup_keys, &only_circle, 0, body_text, sizeof(body_text));
	open_expect(&w->s, NULL, lookup_keys, &only_epoch, TJ_ENOKEY, NULL, 0);
}

static void test_round_trip_sealed(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	uint8_t readers[2][32];

	memcpy(readers[0], w->other->pk, 32);
	memcpy(readers[1], w->reader->pk, 32);
	base_in(&in, body_text, sizeof(body_text));
	in.audience.type = TJ_AUD_NAMED;
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = 2;
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, w->reader, NULL, NULL, 0, body_text, sizeof(body_text));
	open_expect(&w->s, w->other, NULL, NULL, 0, body_text, sizeof(body_text));
	/* The author did not seal to itself: it cannot read its own record back. */
	open_expect(&w->s, w->author, lookup_keys, &w->keys, TJ_ENOKEY, NULL, 0);
}

static void test_sealed_slot_for_someone_else(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	uint8_t readers[1][32];

	memcpy(readers[0], w->other->pk, 32);
	base_in(&in, body_text, sizeof(body_text));
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = 1;
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, w->reader, NULL, NULL, TJ_ENOKEY, NULL, 0);
}

static void test_all_slot_types_and_empty_body(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	uint8_t readers[1][32];
	struct keys only_circle = {.circle = w->keys.circle};

	memcpy(readers[0], w->reader->pk, 32);
	base_in(&in, NULL, 0);
	in.epoch = &w->keys.epoch;
	in.circle = &w->keys.circle;
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = 1;
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, w->reader, NULL, NULL, 0, NULL, 0);
	open_expect(&w->s, NULL, lookup_keys, &only_circle, 0, NULL, 0);
	open_expect(&w->s, w->other, lookup_keys, &w->keys, 0, NULL, 0);
}

static void test_fresh_key_and_nonce_each_time(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	struct sealed *again = malloc(sizeof(*again));
	struct tj_record a, b;
	uint8_t id[32];

	assert_non_null(again);
	base_in(&in, body_text, sizeof(body_text));
	in.epoch = &w->keys.epoch;
	seal_ok(&in, w->author, &w->s);
	seal_ok(&in, w->author, again);
	assert_int_equal(w->s.len, again->len);
	assert_memory_not_equal(w->s.id, again->id, 32);
	assert_int_equal(tj_record_verify(w->s.buf, w->s.len, &a, id), 0);
	assert_int_equal(tj_record_verify(again->buf, again->len, &b, id), 0);
	assert_memory_not_equal(a.nonce, b.nonce, 24);
	assert_memory_not_equal(a.slots[0].wrapped, b.slots[0].wrapped, 72);
	free(again);
}

/* --- negative cases ------------------------------------------------------ */

static struct sealed *seal_mixed(struct world *w)
{
	struct tj_seal_in in;
	uint8_t readers[1][32];

	memcpy(readers[0], w->reader->pk, 32);
	base_in(&in, body_text, sizeof(body_text));
	in.epoch = &w->keys.epoch;
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = 1;
	seal_ok(&in, w->author, &w->s);
	return &w->s;
}

static void test_every_bit_flip_fails_verify(void **state)
{
	struct world *w = *state;
	struct sealed *s = seal_mixed(w);
	static uint8_t buf[OUT_CAP];
	struct tj_record rec;
	uint8_t id[32];

	for (size_t i = 0; i < s->len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(buf, s->buf, s->len);
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = tj_record_verify(buf, s->len, &rec, id);
			if (rc == 0)
				fail_msg("flip of byte %zu bit %u verified", i, bit);
			assert_true(rc < 0);
		}
	}
}

static void test_truncation_and_trailing_bytes(void **state)
{
	struct world *w = *state;
	struct sealed *s = seal_mixed(w);
	struct tj_record rec;
	uint8_t id[32];

	for (size_t n = 0; n < s->len; n++)
		assert_true(tj_record_verify(s->buf, n, &rec, id) < 0);
	s->buf[s->len] = 0xc0;
	assert_true(tj_record_verify(s->buf, s->len + 1, &rec, id) < 0);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), 0);
}

/* s (32 bytes, little-endian) += L, the order of the Ed25519 base point. */
static void add_group_order(uint8_t s[32])
{
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
	                              0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
	unsigned carry = 0;

	for (size_t i = 0; i < 32; i++) {
		unsigned v = s[i] + L[i] + carry;

		s[i] = (uint8_t)v;
		carry = v >> 8;
	}
}

static void test_forged_signature(void **state)
{
	struct world *w = *state;
	struct sealed *s = seal_mixed(w);
	struct tj_record rec;
	uint8_t id[32];

	/* Signed by another key but claiming the author's: rejected. */
	resign(s, w->other->sk);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), TJ_EBADSIG);
	/* The malleated twin of a valid signature (S + L) is refused: S must be canonical. */
	resign(s, w->author->sk);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), 0);
	add_group_order(s->buf + rec.total_len - 32);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), TJ_EBADSIG);
	/* A zero signature is not a signature either. */
	assert_int_equal(tj_record_decode(s->buf, s->len, &rec), 0);
	memset(s->buf + rec.total_len - TJ_SIG_BYTES, 0, TJ_SIG_BYTES);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), TJ_EBADSIG);
}

static void test_wrong_epoch_key(void **state)
{
	struct world *w = *state;
	struct keys wrong = {0};
	uint8_t bogus[32];

	seal_mixed(w);
	/* A different epoch key has a different id: no slot matches. */
	sym_init(&wrong.epoch, NULL);
	open_expect(&w->s, w->other, lookup_keys, &wrong, TJ_ENOKEY, NULL, 0);
	sodium_free(wrong.epoch.key);
	/* A wrong key filed under the right id fails authentication. */
	randombytes_buf(bogus, sizeof(bogus));
	open_expect(&w->s, w->other, lookup_wrong, bogus, TJ_EDECRYPT, NULL, 0);
}

static void test_tampered_but_resigned(void **state)
{
	struct world *w = *state;
	struct sealed *s = seal_mixed(w);
	static uint8_t orig[OUT_CAP];
	struct tj_record rec;
	size_t ts_at;

	memcpy(orig, s->buf, s->len);
	/* A ciphertext byte. */
	assert_int_equal(tj_record_decode(s->buf, s->len, &rec), 0);
	s->buf[rec.header_len + 3] ^= 0x01;
	resign(s, w->author->sk);
	open_expect(s, w->reader, NULL, NULL, TJ_EDECRYPT, NULL, 0);
	open_expect(s, NULL, lookup_keys, &w->keys, TJ_EDECRYPT, NULL, 0);
	/* A header byte (the last byte of ts_ms): the associated data no longer matches. */
	memcpy(s->buf, orig, s->len);
	ts_at =
	    1 + 1 + 34 + 34 + 1 + 34 + 8; /* array, version, network_id, author, seq, prev, ts_ms uint64 */
	assert_int_equal(s->buf[ts_at - 8], 0xcf);
	s->buf[ts_at] ^= 0x01;
	resign(s, w->author->sk);
	open_expect(s, w->reader, NULL, NULL, TJ_EDECRYPT, NULL, 0);
	/* A wrapped key byte in the sealed slot. */
	memcpy(s->buf, orig, s->len);
	assert_int_equal(tj_record_decode(s->buf, s->len, &rec), 0);
	s->buf[(size_t)(rec.slots[1].wrapped - s->buf) + 40] ^= 0x80;
	resign(s, w->author->sk);
	open_expect(s, w->reader, NULL, NULL, TJ_EDECRYPT, NULL, 0);
	/* The intact epoch slot unwraps the record key, but the slots are part of the
	 * header, the body's associated data: the body no longer authenticates. */
	open_expect(s, NULL, lookup_keys, &w->keys, TJ_EDECRYPT, NULL, 0);
}

static void test_slot_limits_and_bad_readers(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	uint8_t readers[TJ_RECORD_SLOTS_MAX + 1][32];
	uint8_t bad[1][32] = {{0x01}}; /* the identity point: small order */

	for (size_t i = 0; i < TJ_RECORD_SLOTS_MAX + 1; i++)
		memcpy(readers[i], w->reader->pk, 32);
	base_in(&in, body_text, sizeof(body_text));
	in.readers = (const uint8_t(*)[32])readers;
	in.n_readers = TJ_RECORD_SLOTS_MAX;
	seal_ok(&in, w->author, &w->s);
	open_expect(&w->s, w->reader, NULL, NULL, 0, body_text, sizeof(body_text));
	in.n_readers = TJ_RECORD_SLOTS_MAX + 1;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_ELIMIT);
	in.n_readers = TJ_RECORD_SLOTS_MAX;
	in.epoch = &w->keys.epoch;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_ELIMIT);
	in.epoch = NULL;
	in.readers = (const uint8_t(*)[32])bad;
	in.n_readers = 1;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_ECRYPTO);
}

static void test_size_limits(void **state)
{
	struct world *w = *state;
	struct tj_seal_in in;
	static uint8_t big[TJ_RECORD_MAX_BYTES];
	static uint8_t plain[TJ_RECORD_MAX_BYTES];
	struct tj_record rec;
	size_t plain_len = 0;
	uint8_t id[32];

	base_in(&in, big, sizeof(big));
	in.epoch = &w->keys.epoch;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_ELIMIT);
	/* Too small an output buffer: TJ_ENOSPC, and nothing half-written is left. */
	in.body_len = 1000;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, 600, &w->s.len, w->s.id), TJ_ENOSPC);
	for (size_t i = 0; i < 600; i++)
		assert_int_equal(w->s.buf[i], 0);
	/* A body well inside the limit fits, and an open with too small a buffer says so. */
	in.body_len = TJ_RECORD_MAX_BYTES - 1024;
	seal_ok(&in, w->author, &w->s);
	assert_int_equal(tj_record_verify(w->s.buf, w->s.len, &rec, id), 0);
	assert_int_equal(
	    tj_record_open(w->s.buf, &rec, NULL, lookup_keys, &w->keys, plain, in.body_len - 1, &plain_len),
	    TJ_ENOSPC);
	assert_int_equal(
	    tj_record_open(w->s.buf, &rec, NULL, lookup_keys, &w->keys, plain, sizeof(plain), &plain_len), 0);
	assert_int_equal(plain_len, in.body_len);
	/* An unknown kind is refused before anything is written. */
	in.kind = TJ_KIND__COUNT;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_EUNSUPPORTED);
	/* An audience the decoder would refuse is never signed: the seal decodes its own output. */
	in.kind = TJ_KIND_INCIDENT;
	in.body_len = 10;
	in.audience.type = TJ_AUD_NAMED + 1;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 TJ_EMALFORMED);
	/* Half a fixed key is a test bug, not a silently random nonce. */
	in.audience.type = TJ_AUD_NETWORK;
	in.fixed_record_key = big;
	assert_int_equal(tj_record_seal(&in, w->author, w->s.buf, sizeof(w->s.buf), &w->s.len, w->s.id),
	                 -EINVAL);
}

/* Granting a reader later: unwrap as a reader, seal to a newcomer, the newcomer opens. */
static void test_unwrap_and_grant(void **state)
{
	struct world *w = *state;
	struct sealed *s = seal_mixed(w);
	struct tj_record rec, granted;
	struct tj_identity *newcomer = NULL;
	uint8_t rk[32], rk2[32], wrapped[80], id[32];
	static uint8_t plain[OUT_CAP];
	size_t plain_len = 0;

	assert_int_equal(tj_identity_generate(&newcomer), 0);
	assert_int_equal(tj_record_verify(s->buf, s->len, &rec, id), 0);
	assert_int_equal(tj_record_unwrap_key(&rec, w->reader, NULL, NULL, rk), 0);
	assert_int_equal(tj_record_unwrap_key(&rec, NULL, lookup_keys, &w->keys, rk2), 0);
	assert_memory_equal(rk, rk2, 32);
	assert_int_equal(tj_record_unwrap_key(&rec, newcomer, NULL, NULL, rk2), TJ_ENOKEY);
	assert_int_equal(tj_slot_seal_to(rk, newcomer->pk, wrapped), 0);
	/* The grant travels in another record; here we attach it to a copy of the decoded record. */
	granted = rec;
	granted.slots[granted.n_slots] =
	    (struct tj_slot){.type = TJ_SLOT_SEALED, .wrapped = wrapped, .wrapped_len = sizeof(wrapped)};
	memcpy(granted.slots[granted.n_slots].ref, newcomer->pk, 32);
	granted.n_slots++;
	assert_int_equal(
	    tj_record_open(s->buf, &granted, newcomer, NULL, NULL, plain, sizeof(plain), &plain_len), 0);
	assert_int_equal(plain_len, sizeof(body_text));
	assert_memory_equal(plain, body_text, sizeof(body_text));
	assert_int_equal(tj_slot_seal_to(rk, (const uint8_t[32]){0x01}, wrapped), TJ_ECRYPTO);
	sodium_memzero(rk, sizeof(rk));
	sodium_memzero(rk2, sizeof(rk2));
	tj_identity_free(newcomer);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_known_answer_vectors),
	    T(test_sym_key_id_vector),
	    T(test_round_trip_epoch),
	    T(test_round_trip_circle),
	    T(test_round_trip_sealed),
	    T(test_sealed_slot_for_someone_else),
	    T(test_all_slot_types_and_empty_body),
	    T(test_fresh_key_and_nonce_each_time),
	    T(test_every_bit_flip_fails_verify),
	    T(test_truncation_and_trailing_bytes),
	    T(test_forged_signature),
	    T(test_wrong_epoch_key),
	    T(test_tampered_but_resigned),
	    T(test_slot_limits_and_bad_readers),
	    T(test_size_limits),
	    T(test_unwrap_and_grant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
