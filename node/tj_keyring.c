#include "tj_keyring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_mp.h"

#define TJ__KEYRING_VERSION 1
#define TJ__KEYRING_AD "tejido-keyring-v1"
#define TJ__KDF_CONTEXT "tjstore_"
#define TJ__AEAD_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define TJ__NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
/* [v, nk|nil, cur, [[id,key]...64], [[id,key]...64]]: 2 bins of 34 bytes + 2 header per pair. */
#define TJ__PLAIN_MAX_BYTES (100u + (TJ_KEYRING_EPOCHS_MAX + TJ_KEYRING_CIRCLES_MAX) * 72u)

_Static_assert(sizeof(TJ__KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context is 8 bytes");

void tj_storage_subkey(const uint8_t storage_key[32], uint64_t purpose, uint8_t out[32])
{
	/* crypto_kdf_derive_from_key cannot fail with these fixed sizes. */
	(void)crypto_kdf_derive_from_key(out, 32, purpose, TJ__KDF_CONTEXT, storage_key);
}

int tj_keyring_new(struct tj_keyring **out)
{
	struct tj_keyring *kr = calloc(1, sizeof(*kr));

	if (kr == NULL)
		return -ENOMEM;
	kr->network_key = sodium_malloc(TJ_KEY_BYTES);
	if (kr->network_key == NULL) {
		free(kr);
		return -ENOMEM;
	}
	sodium_memzero(kr->network_key, TJ_KEY_BYTES);
	kr->next_network_key = sodium_malloc(TJ_KEY_BYTES);
	if (kr->next_network_key == NULL) {
		sodium_free(kr->network_key);
		free(kr);
		return -ENOMEM;
	}
	sodium_memzero(kr->next_network_key, TJ_KEY_BYTES);
	*out = kr;
	return 0;
}

void tj_keyring_free(struct tj_keyring *kr)
{
	if (kr == NULL)
		return;
	sodium_free(kr->network_key); /* sodium_free wipes */
	sodium_free(kr->next_network_key);
	for (uint32_t i = 0; i < kr->n_epochs; i++)
		sodium_free(kr->epochs[i].key);
	for (uint32_t i = 0; i < kr->n_circles; i++)
		sodium_free(kr->circles[i].key);
	sodium_memzero(kr, sizeof(*kr));
	free(kr);
}

int tj_keyring_set_network_key(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES])
{
	memcpy(kr->network_key, key, TJ_KEY_BYTES);
	kr->has_network_key = true;
	return 0;
}

int tj_keyring_set_next_network_key(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES], uint64_t from_ms)
{
	/* A newer rotation: the previous next key becomes the one dialled with; the one before it is dropped. */
	if (kr->has_next_network_key && from_ms > kr->next_network_from_ms)
		memcpy(kr->network_key, kr->next_network_key, TJ_KEY_BYTES);
	memcpy(kr->next_network_key, key, TJ_KEY_BYTES);
	kr->next_network_from_ms = from_ms;
	kr->has_next_network_key = true;
	return 0;
}

const uint8_t *tj_keyring_handshake_key(const struct tj_keyring *kr, uint64_t now_ms, const uint8_t **alt)
{
	*alt = NULL;
	if (!kr->has_next_network_key)
		return kr->network_key;
	if (now_ms >= kr->next_network_from_ms)
		return kr->next_network_key;
	*alt = kr->next_network_key;
	return kr->network_key;
}

static int tj__add_sym(struct tj_sym_key *arr, uint32_t *n, uint32_t max, const uint8_t key[TJ_KEY_BYTES])
{
	uint8_t id[32];

	tj_sym_key_id(key, id);
	for (uint32_t i = 0; i < *n; i++)
		if (memcmp(arr[i].id, id, 32) == 0)
			return TJ_EEXIST;
	if (*n >= max)
		return TJ_ELIMIT;
	arr[*n].key = sodium_malloc(TJ_KEY_BYTES);
	if (arr[*n].key == NULL)
		return -ENOMEM;
	memcpy(arr[*n].key, key, TJ_KEY_BYTES);
	memcpy(arr[*n].id, id, 32);
	(*n)++;
	return 0;
}

int tj_keyring_add_epoch(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES], bool make_current)
{
	int rc = tj__add_sym(kr->epochs, &kr->n_epochs, TJ_KEYRING_EPOCHS_MAX, key);

	if (rc == 0 && (make_current || kr->n_epochs == 1))
		kr->current_epoch = kr->n_epochs - 1;
	return rc;
}

int tj_keyring_add_circle(struct tj_keyring *kr, const uint8_t key[TJ_KEY_BYTES])
{
	return tj__add_sym(kr->circles, &kr->n_circles, TJ_KEYRING_CIRCLES_MAX, key);
}

const struct tj_sym_key *tj_keyring_current_epoch(const struct tj_keyring *kr)
{
	if (kr == NULL || kr->n_epochs == 0)
		return NULL;
	return &kr->epochs[kr->current_epoch];
}

const uint8_t *tj_keyring_lookup(void *ctx, uint8_t slot_type, const uint8_t id[32])
{
	const struct tj_keyring *kr = ctx;
	const struct tj_sym_key *arr;
	uint32_t n;

	if (kr == NULL)
		return NULL;
	if (slot_type == TJ_SLOT_EPOCH) {
		arr = kr->epochs;
		n = kr->n_epochs;
	} else if (slot_type == TJ_SLOT_CIRCLE) {
		arr = kr->circles;
		n = kr->n_circles;
	} else {
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		if (sodium_memcmp(arr[i].id, id, 32) == 0)
			return arr[i].key;
	return NULL;
}

static void tj__put_syms(struct tj_mp_writer *w, const struct tj_sym_key *arr, uint32_t n)
{
	tj_mp_put_array(w, n);
	for (uint32_t i = 0; i < n; i++) {
		tj_mp_put_array(w, 2);
		tj_mp_put_bin(w, arr[i].id, 32);
		tj_mp_put_bin(w, arr[i].key, TJ_KEY_BYTES);
	}
}

int tj_keyring_seal(const struct tj_keyring *kr, const uint8_t storage_key[32], uint8_t **blob, size_t *blob_len)
{
	struct tj_mp_writer w;
	uint8_t *plain = NULL;
	uint8_t *out = NULL;
	uint8_t key[32];
	unsigned long long clen = 0;
	size_t plen = 0;
	int rc;

	plain = sodium_malloc(TJ__PLAIN_MAX_BYTES);
	if (plain == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, plain, TJ__PLAIN_MAX_BYTES);
	/* Two more elements, the next network key and when it alone counts, only when there is one. */
	tj_mp_put_array(&w, kr->has_next_network_key ? 7 : 5);
	tj_mp_put_uint(&w, TJ__KEYRING_VERSION);
	if (kr->has_network_key)
		tj_mp_put_bin(&w, kr->network_key, TJ_KEY_BYTES);
	else
		tj_mp_put_nil(&w);
	tj_mp_put_uint(&w, kr->current_epoch);
	tj__put_syms(&w, kr->epochs, kr->n_epochs);
	tj__put_syms(&w, kr->circles, kr->n_circles);
	if (kr->has_next_network_key) {
		tj_mp_put_bin(&w, kr->next_network_key, TJ_KEY_BYTES);
		tj_mp_put_uint(&w, kr->next_network_from_ms);
	}
	if ((rc = tj_mp_writer_finish(&w, &plen)) != 0)
		goto out;
	out = malloc(TJ__NONCE_BYTES + plen + TJ__AEAD_ABYTES);
	if (out == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	tj_storage_subkey(storage_key, TJ_SUBKEY_KEYRING, key);
	randombytes_buf(out, TJ__NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + TJ__NONCE_BYTES, &clen, plain, plen,
						   (const uint8_t *)TJ__KEYRING_AD, strlen(TJ__KEYRING_AD), NULL,
						   out, key);
	*blob = out;
	*blob_len = TJ__NONCE_BYTES + (size_t)clen;
	out = NULL;
out:
	sodium_memzero(key, sizeof(key));
	sodium_free(plain);
	free(out);
	return rc;
}

static int tj__read_syms(struct tj_mp_reader *r, struct tj_sym_key *arr, uint32_t *n, uint32_t max)
{
	uint8_t id[32];
	uint8_t key[TJ_KEY_BYTES];
	uint32_t count, pair;
	int rc;

	if ((rc = tj_mp_read_array(r, &count)) != 0)
		return rc;
	if (count > max)
		return TJ_EMALFORMED;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = tj_mp_read_array(r, &pair)) != 0 || pair != 2 || (rc = tj_mp_read_bin_exact(r, id, 32)) != 0 ||
		    (rc = tj_mp_read_bin_exact(r, key, TJ_KEY_BYTES)) != 0) {
			rc = rc != 0 ? rc : TJ_EMALFORMED;
			break;
		}
		rc = tj__add_sym(arr, n, max, key);
		/* The stored id must be the key's: a mismatch means a corrupt keyring. */
		if (rc == 0 && memcmp(arr[*n - 1].id, id, 32) != 0)
			rc = TJ_EMALFORMED;
		if (rc != 0)
			break;
	}
	sodium_memzero(key, sizeof(key));
	return rc;
}

static int tj__keyring_parse(const uint8_t *plain, size_t plen, struct tj_keyring *kr)
{
	struct tj_mp_limits lim = tj_mp_limits_default;
	struct tj_mp_reader r;
	uint64_t version, cur;
	uint32_t n;
	size_t used;
	int rc;

	lim.max_items = 1024;
	if ((rc = tj_mp_check(plain, plen, &lim, true, &used)) != 0)
		return rc;
	tj_mp_reader_init(&r, plain, plen);
	if ((rc = tj_mp_read_array(&r, &n)) != 0 || (n != 5 && n != 7) ||
	    (rc = tj_mp_read_uint(&r, &version)) != 0)
		return rc != 0 ? rc : TJ_EMALFORMED;
	if (version != TJ__KEYRING_VERSION)
		return TJ_EUNSUPPORTED;
	if (tj_mp_peek_nil(&r)) {
		rc = tj_mp_read_nil(&r);
	} else {
		rc = tj_mp_read_bin_exact(&r, kr->network_key, TJ_KEY_BYTES);
		kr->has_network_key = rc == 0;
	}
	if (rc != 0 || (rc = tj_mp_read_uint(&r, &cur)) != 0)
		return rc;
	if ((rc = tj__read_syms(&r, kr->epochs, &kr->n_epochs, TJ_KEYRING_EPOCHS_MAX)) != 0 ||
	    (rc = tj__read_syms(&r, kr->circles, &kr->n_circles, TJ_KEYRING_CIRCLES_MAX)) != 0)
		return rc;
	if (n == 7) {
		if ((rc = tj_mp_read_bin_exact(&r, kr->next_network_key, TJ_KEY_BYTES)) != 0 ||
		    (rc = tj_mp_read_uint(&r, &kr->next_network_from_ms)) != 0)
			return rc;
		kr->has_next_network_key = true;
	}
	if ((kr->n_epochs == 0 && cur != 0) || (kr->n_epochs > 0 && cur >= kr->n_epochs))
		return TJ_EMALFORMED;
	kr->current_epoch = (uint32_t)cur;
	return 0;
}

int tj_keyring_unseal(const uint8_t *blob, size_t blob_len, const uint8_t storage_key[32], struct tj_keyring **out)
{
	struct tj_keyring *kr = NULL;
	uint8_t *plain = NULL;
	uint8_t key[32];
	unsigned long long plen = 0;
	size_t clen;
	int rc;

	if (blob_len < TJ__NONCE_BYTES + TJ__AEAD_ABYTES ||
	    blob_len > TJ__NONCE_BYTES + TJ__PLAIN_MAX_BYTES + TJ__AEAD_ABYTES)
		return TJ_EMALFORMED;
	clen = blob_len - TJ__NONCE_BYTES;
	plain = sodium_malloc(clen);
	if (plain == NULL)
		return -ENOMEM;
	tj_storage_subkey(storage_key, TJ_SUBKEY_KEYRING, key);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, blob + TJ__NONCE_BYTES, clen,
						       (const uint8_t *)TJ__KEYRING_AD, strlen(TJ__KEYRING_AD), blob,
						       key) != 0) {
		rc = TJ_EDECRYPT;
		goto out;
	}
	if ((rc = tj_keyring_new(&kr)) != 0)
		goto out;
	if ((rc = tj__keyring_parse(plain, (size_t)plen, kr)) != 0)
		goto out;
	*out = kr;
	kr = NULL;
out:
	sodium_memzero(key, sizeof(key));
	sodium_free(plain);
	tj_keyring_free(kr);
	return rc;
}

int tj_keyring_save(const struct tj_keyring *kr, struct tj_txn *t, const uint8_t storage_key[32])
{
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc = tj_keyring_seal(kr, storage_key, &blob, &len);

	if (rc == 0)
		rc = tj_store_meta_put(t, TJ_KEYRING_META_NAME, blob, len);
	free(blob);
	return rc;
}

int tj_keyring_load(struct tj_txn *t, const uint8_t storage_key[32], struct tj_keyring **out)
{
	const uint8_t *blob;
	size_t len;
	int rc = tj_store_meta_get(t, TJ_KEYRING_META_NAME, &blob, &len);

	if (rc != 0)
		return rc;
	return tj_keyring_unseal(blob, len, storage_key, out);
}
