/*
 * The keyring: keys in, lookup by slot type and id, seal/unseal round trip,
 * wrong storage key, every flipped bit of the sealed blob, truncation,
 * limits, persistence through the store's meta.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_keyring.h"
#include "tj_node_testutil.h"

static uint8_t storage_key[32];

static struct tj_keyring *filled(uint8_t net[32], uint8_t e1[32], uint8_t e2[32], uint8_t c1[32])
{
	struct tj_keyring *kr = NULL;

	randombytes_buf(net, 32);
	randombytes_buf(e1, 32);
	randombytes_buf(e2, 32);
	randombytes_buf(c1, 32);
	assert_int_equal(tj_keyring_new(&kr), 0);
	assert_int_equal(tj_keyring_set_network_key(kr, net), 0);
	assert_int_equal(tj_keyring_add_epoch(kr, e1, true), 0);
	assert_int_equal(tj_keyring_add_epoch(kr, e2, false), 0);
	assert_int_equal(tj_keyring_add_circle(kr, c1), 0);
	return kr;
}

static void test_lookup(void **state)
{
	uint8_t net[32], e1[32], e2[32], c1[32], id[32];
	struct tj_keyring *kr;
	const struct tj_sym_key *cur;

	(void)state;
	kr = filled(net, e1, e2, c1);
	cur = tj_keyring_current_epoch(kr);
	assert_non_null(cur);
	assert_memory_equal(cur->key, e1, 32); /* e2 was added without becoming current */
	tj_sym_key_id(e2, id);
	assert_memory_equal(tj_keyring_lookup(kr, TJ_SLOT_EPOCH, id), e2, 32);
	assert_null(tj_keyring_lookup(kr, TJ_SLOT_CIRCLE, id)); /* right id, wrong type */
	tj_sym_key_id(c1, id);
	assert_memory_equal(tj_keyring_lookup(kr, TJ_SLOT_CIRCLE, id), c1, 32);
	assert_null(tj_keyring_lookup(kr, TJ_SLOT_SEALED, id));
	randombytes_buf(id, 32);
	assert_null(tj_keyring_lookup(kr, TJ_SLOT_EPOCH, id));
	assert_int_equal(tj_keyring_add_epoch(kr, e1, false), TJ_EEXIST);
	tj_keyring_free(kr);
	tj_keyring_free(NULL);
}

static void test_seal_unseal(void **state)
{
	uint8_t net[32], e1[32], e2[32], c1[32], id[32];
	struct tj_keyring *kr, *back = NULL;
	uint8_t *blob = NULL;
	size_t len = 0;

	(void)state;
	kr = filled(net, e1, e2, c1);
	assert_int_equal(tj_keyring_seal(kr, storage_key, &blob, &len), 0);
	/* No key appears in the clear in the blob. */
	for (size_t i = 0; i + 32 <= len; i++) {
		assert_true(memcmp(blob + i, net, 32) != 0);
		assert_true(memcmp(blob + i, e1, 32) != 0);
	}
	assert_int_equal(tj_keyring_unseal(blob, len, storage_key, &back), 0);
	assert_true(back->has_network_key);
	assert_memory_equal(back->network_key, net, 32);
	assert_int_equal(back->n_epochs, 2);
	assert_memory_equal(tj_keyring_current_epoch(back)->key, e1, 32);
	tj_sym_key_id(c1, id);
	assert_memory_equal(tj_keyring_lookup(back, TJ_SLOT_CIRCLE, id), c1, 32);
	tj_keyring_free(back);
	free(blob);
	tj_keyring_free(kr);
}

static void test_wrong_key_and_tampering(void **state)
{
	uint8_t net[32], e1[32], e2[32], c1[32], wrong[32];
	struct tj_keyring *kr, *back = NULL;
	uint8_t *blob = NULL;
	size_t len = 0;

	(void)state;
	kr = filled(net, e1, e2, c1);
	assert_int_equal(tj_keyring_seal(kr, storage_key, &blob, &len), 0);
	memcpy(wrong, storage_key, 32);
	wrong[31] ^= 1;
	assert_int_equal(tj_keyring_unseal(blob, len, wrong, &back), TJ_EDECRYPT);
	assert_null(back);
	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x10;
		assert_int_equal(tj_keyring_unseal(blob, len, storage_key, &back), TJ_EDECRYPT);
		blob[i] ^= 0x10;
	}
	for (size_t cut = 0; cut < len; cut += 5)
		assert_true(tj_keyring_unseal(blob, cut, storage_key, &back) < 0);
	assert_int_equal(tj_keyring_unseal(blob, 1u << 20, storage_key, &back), TJ_EMALFORMED);
	assert_null(back);
	free(blob);
	tj_keyring_free(kr);
}

static void test_limits_and_empty(void **state)
{
	struct tj_keyring *kr = NULL, *back = NULL;
	uint8_t k[32];
	uint8_t *blob = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(tj_keyring_new(&kr), 0);
	assert_null(tj_keyring_current_epoch(kr));
	/* An empty keyring (a node not yet in a network) round-trips. */
	assert_int_equal(tj_keyring_seal(kr, storage_key, &blob, &len), 0);
	assert_int_equal(tj_keyring_unseal(blob, len, storage_key, &back), 0);
	assert_false(back->has_network_key);
	assert_int_equal(back->n_epochs, 0);
	tj_keyring_free(back);
	free(blob);
	for (int i = 0; i < TJ_KEYRING_EPOCHS_MAX; i++) {
		randombytes_buf(k, 32);
		assert_int_equal(tj_keyring_add_epoch(kr, k, true), 0);
	}
	randombytes_buf(k, 32);
	assert_int_equal(tj_keyring_add_epoch(kr, k, true), TJ_ELIMIT);
	/* A full keyring still fits its sealed form. */
	assert_int_equal(tj_keyring_seal(kr, storage_key, &blob, &len), 0);
	back = NULL;
	assert_int_equal(tj_keyring_unseal(blob, len, storage_key, &back), 0);
	assert_int_equal(back->n_epochs, TJ_KEYRING_EPOCHS_MAX);
	assert_int_equal(back->current_epoch, TJ_KEYRING_EPOCHS_MAX - 1);
	tj_keyring_free(back);
	free(blob);
	tj_keyring_free(kr);
}

static void test_persist_in_store(void **state)
{
	uint8_t net[32], e1[32], e2[32], c1[32];
	struct tj_keyring *kr, *back = NULL;
	struct tj_store *st = NULL;
	struct tj_txn t;
	char dir[64];

	(void)state;
	tt_tmpdir(dir);
	kr = filled(net, e1, e2, c1);
	assert_int_equal(tj_store_open(dir, 16u << 20, &st), 0);
	assert_int_equal(tj_txn_begin(st, false, &t), 0);
	assert_int_equal(tj_keyring_load(&t, storage_key, &back), TJ_ENOTFOUND);
	tj_txn_abort(&t);
	assert_int_equal(tj_txn_begin(st, true, &t), 0);
	assert_int_equal(tj_keyring_save(kr, &t, storage_key), 0);
	assert_int_equal(tj_txn_commit(&t), 0);
	tj_store_close(st);
	st = NULL;
	assert_int_equal(tj_store_open(dir, 16u << 20, &st), 0);
	assert_int_equal(tj_txn_begin(st, false, &t), 0);
	assert_int_equal(tj_keyring_load(&t, storage_key, &back), 0);
	tj_txn_abort(&t);
	assert_memory_equal(back->network_key, net, 32);
	tj_keyring_free(back);
	tj_keyring_free(kr);
	tj_store_close(st);
	tt_rmdir(dir);
}

static void test_subkeys_differ(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	tj_storage_subkey(storage_key, TJ_SUBKEY_KEYRING, a);
	tj_storage_subkey(storage_key, TJ_SUBKEY_BLIND, b);
	assert_true(memcmp(a, b, 32) != 0);
	assert_true(memcmp(a, storage_key, 32) != 0);
}

/* Seals arbitrary plaintext the way the keyring does, to reach the parser behind the AEAD. */
static void seal_plain(const uint8_t *plain, size_t len, uint8_t *blob, size_t *blob_len)
{
	static const char ad[] = "tejido-keyring-v1";
	unsigned long long clen = 0;
	uint8_t key[32];

	tj_storage_subkey(storage_key, TJ_SUBKEY_KEYRING, key);
	randombytes_buf(blob, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 24, &clen, plain, len, (const uint8_t *)ad, strlen(ad), NULL,
						   blob, key);
	*blob_len = 24 + (size_t)clen;
}

static void test_authentic_but_malformed_contents(void **state)
{
	uint8_t plain[256], blob[512], k[32], id[32];
	struct tj_keyring *kr = NULL;
	struct tj_mp_writer w;
	size_t len, blen;

	(void)state;
	randombytes_buf(k, 32);
	tj_sym_key_id(k, id);
	/* Unknown version. */
	tj_mp_writer_init(&w, plain, sizeof(plain));
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, 2);
	tj_mp_put_nil(&w);
	tj_mp_put_uint(&w, 0);
	tj_mp_put_array(&w, 0);
	tj_mp_put_array(&w, 0);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	seal_plain(plain, len, blob, &blen);
	assert_int_equal(tj_keyring_unseal(blob, blen, storage_key, &kr), TJ_EUNSUPPORTED);
	/* Current epoch index out of range. */
	tj_mp_writer_init(&w, plain, sizeof(plain));
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_nil(&w);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_array(&w, 1);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, id, 32);
	tj_mp_put_bin(&w, k, 32);
	tj_mp_put_array(&w, 0);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	seal_plain(plain, len, blob, &blen);
	assert_int_equal(tj_keyring_unseal(blob, blen, storage_key, &kr), TJ_EMALFORMED);
	/* An id that is not the key's. */
	id[0] ^= 1;
	tj_mp_writer_init(&w, plain, sizeof(plain));
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_bin(&w, k, 32);
	tj_mp_put_uint(&w, 0);
	tj_mp_put_array(&w, 1);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, id, 32);
	tj_mp_put_bin(&w, k, 32);
	tj_mp_put_array(&w, 0);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	seal_plain(plain, len, blob, &blen);
	assert_int_equal(tj_keyring_unseal(blob, blen, storage_key, &kr), TJ_EMALFORMED);
	/* Wrong types, a short key, trailing bytes, a count bomb. */
	{
		static const uint8_t bad[][16] = {
			{0x95, 0x01, 0xc0, 0x00, 0x90, 0x91}, /* circles is not an array of pairs */
			{0x95, 0x01, 0xc4, 0x01, 0x00, 0x00, 0x90, 0x90}, /* 1-byte network key */
			{0x95, 0x01, 0xc0, 0x00, 0x90, 0x90, 0xc0}, /* trailing */
			{0xdd, 0xff, 0x00, 0x00, 0x00},         /* count bomb */
			{0x94, 0x01, 0xc0, 0x00, 0x90},         /* four fields */
		};
		static const size_t lens[] = {6, 8, 7, 5, 5};
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			seal_plain(bad[i], lens[i], blob, &blen);
			assert_true(tj_keyring_unseal(blob, blen, storage_key, &kr) < 0);
			assert_null(kr);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_seal_unseal),
		cmocka_unit_test(test_wrong_key_and_tampering),
		cmocka_unit_test(test_limits_and_empty),
		cmocka_unit_test(test_persist_in_store),
		cmocka_unit_test(test_subkeys_differ),
		cmocka_unit_test(test_authentic_but_malformed_contents),
	};

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(storage_key, sizeof(storage_key));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
