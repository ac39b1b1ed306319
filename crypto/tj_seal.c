/*
 * Sealing and opening records. See tj_seal.h and DESIGN.md "Records".
 *
 * The order of operations is the security argument:
 *   seal: header (with slots) -> encrypt body with the header as AD -> sign
 *         [0, signed_len) -> id = BLAKE2b-256 of the same bytes;
 *   open: decode -> verify the signature -> only then unwrap and decrypt.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "tj_seal.h"

#define TJ__RECORD_KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define TJ__AEAD_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
/* nonce(24) || AEAD(record key 32) + tag 16 */
#define TJ__SYM_WRAPPED_BYTES (TJ_NONCE_BYTES + TJ__RECORD_KEY_BYTES + TJ__AEAD_TAG_BYTES)
/* ephemeral pk 32 || box(record key 32) + tag 16 */
#define TJ__SEALED_WRAPPED_BYTES (crypto_box_SEALBYTES + TJ__RECORD_KEY_BYTES)
/* Largest msgpack bin header: 0xc6 + 4 length bytes. */
#define TJ__BIN_HEADER_MAX_BYTES 5u

#define TJ__SYM_ID_CONTEXT "tejido-sym-key-id-v1"
#define TJ__SLOT_NONCE_CONTEXT "tejido-kat-slot-nonce-v1"

_Static_assert(TJ__SYM_WRAPPED_BYTES == 72, "symmetric slot is 72 bytes");
_Static_assert(TJ__SEALED_WRAPPED_BYTES == 80, "sealed slot is 80 bytes");
_Static_assert(TJ__SEALED_WRAPPED_BYTES <= TJ_SLOT_WRAPPED_MAX_BYTES, "slot fits the decoder limit");

void tj_sym_key_id(const uint8_t key[32], uint8_t id[32])
{
	/* Keyed with the key itself: the id names the key without revealing it. */
	crypto_generichash(id, 32, (const uint8_t *)TJ__SYM_ID_CONTEXT, strlen(TJ__SYM_ID_CONTEXT), key, 32);
}

void tj_record_id(const uint8_t *buf, const struct tj_record *rec, uint8_t id[32])
{
	crypto_generichash(id, TJ_ID_BYTES, buf, rec->signed_len, NULL, 0);
}

/* Slot wrapping buffers, filled before the header is written. */
struct tj__slots {
	uint32_t n;
	struct tj_slot slot[TJ_RECORD_SLOTS_MAX];
	uint8_t wrapped[TJ_RECORD_SLOTS_MAX][TJ__SEALED_WRAPPED_BYTES];
};

/*
 * Known-answer tests need every byte fixed, so when the record key is fixed the
 * slot nonce is derived from it: BLAKE2b-192 keyed with the record key over
 * context || record nonce || slot index. Never used with a random record key.
 */
static void tj__kat_slot_nonce(const uint8_t rk[32], const uint8_t nonce[TJ_NONCE_BYTES], uint32_t index,
                               uint8_t out[TJ_NONCE_BYTES])
{
	crypto_generichash_state st;
	uint8_t idx = (uint8_t)index;

	crypto_generichash_init(&st, rk, TJ__RECORD_KEY_BYTES, TJ_NONCE_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)TJ__SLOT_NONCE_CONTEXT,
	                          strlen(TJ__SLOT_NONCE_CONTEXT));
	crypto_generichash_update(&st, nonce, TJ_NONCE_BYTES);
	crypto_generichash_update(&st, &idx, 1);
	crypto_generichash_final(&st, out, TJ_NONCE_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static int tj__add_sym_slot(struct tj__slots *s, uint8_t type, const struct tj_sym_key *k,
                            const uint8_t rk[32], const struct tj_seal_in *in)
{
	uint8_t *w = s->wrapped[s->n];
	unsigned long long clen = 0;

	if (k->key == NULL)
		return -EINVAL;
	if (in->fixed_record_key != NULL)
		tj__kat_slot_nonce(rk, in->fixed_nonce, s->n, w);
	else
		randombytes_buf(w, TJ_NONCE_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(w + TJ_NONCE_BYTES, &clen, rk, TJ__RECORD_KEY_BYTES,
	                                               NULL, 0, NULL, w, k->key) != 0)
		return TJ_ECRYPTO;
	s->slot[s->n] = (struct tj_slot){.type = type, .wrapped = w, .wrapped_len = TJ__SYM_WRAPPED_BYTES};
	memcpy(s->slot[s->n].ref, k->id, 32);
	s->n++;
	return 0;
}

int tj_slot_seal_to(const uint8_t record_key[32], const uint8_t reader_pk[32], uint8_t wrapped[80])
{
	uint8_t x_pk[32];
	int rc = tj_pk_to_x25519(reader_pk, x_pk);

	if (rc != 0)
		return rc;
	if (crypto_box_seal(wrapped, record_key, TJ__RECORD_KEY_BYTES, x_pk) != 0)
		return TJ_ECRYPTO;
	return 0;
}

static int tj__add_sealed_slot(struct tj__slots *s, const uint8_t reader[32], const uint8_t rk[32])
{
	uint8_t *w = s->wrapped[s->n];
	int rc = tj_slot_seal_to(rk, reader, w);

	if (rc != 0)
		return rc;
	s->slot[s->n] =
	    (struct tj_slot){.type = TJ_SLOT_SEALED, .wrapped = w, .wrapped_len = TJ__SEALED_WRAPPED_BYTES};
	memcpy(s->slot[s->n].ref, reader, 32);
	s->n++;
	return 0;
}

static int tj__make_slots(const struct tj_seal_in *in, const uint8_t rk[32], struct tj__slots *s)
{
	uint64_t want = (uint64_t)in->n_readers + (in->epoch != NULL) + (in->circle != NULL);
	int rc = 0;

	if (want > TJ_RECORD_SLOTS_MAX)
		return TJ_ELIMIT;
	if (in->n_readers > 0 && in->readers == NULL)
		return -EINVAL;
	s->n = 0;
	if (in->epoch != NULL && (rc = tj__add_sym_slot(s, TJ_SLOT_EPOCH, in->epoch, rk, in)) != 0)
		return rc;
	if (in->circle != NULL && (rc = tj__add_sym_slot(s, TJ_SLOT_CIRCLE, in->circle, rk, in)) != 0)
		return rc;
	for (uint32_t i = 0; i < in->n_readers; i++) {
		rc = tj__add_sealed_slot(s, in->readers[i], rk);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int tj__check_seal_in(const struct tj_seal_in *in, const struct tj_identity *author)
{
	if (in == NULL || author == NULL || author->sk == NULL)
		return -EINVAL;
	if (in->body == NULL && in->body_len > 0)
		return -EINVAL;
	if ((in->fixed_record_key == NULL) != (in->fixed_nonce == NULL))
		return -EINVAL; /* a fixed key with a random nonce (or vice versa) is a test bug */
	if (in->kind >= TJ_KIND__COUNT)
		return TJ_EUNSUPPORTED;
	if (in->body_len > TJ_RECORD_MAX_BYTES)
		return TJ_ELIMIT;
	return 0;
}

/* Fills the header fields of rec from in, author and the slots. */
static void tj__fill_header(struct tj_record *rec, const struct tj_seal_in *in,
                            const struct tj_identity *author, const struct tj__slots *s,
                            const uint8_t nonce[TJ_NONCE_BYTES])
{
	memset(rec, 0, sizeof(*rec));
	rec->version = TJ_RECORD_VERSION;
	memcpy(rec->network_id, in->network_id, 32);
	memcpy(rec->author, author->pk, 32);
	rec->seq = in->seq;
	rec->has_prev = in->has_prev;
	if (in->has_prev)
		memcpy(rec->prev, in->prev, 32);
	rec->ts_ms = in->ts_ms;
	rec->kind = in->kind;
	rec->audience = in->audience;
	rec->n_slots = s->n;
	memcpy(rec->slots, s->slot, s->n * sizeof(s->slot[0]));
	memcpy(rec->nonce, nonce, TJ_NONCE_BYTES);
}

/*
 * Writes header, ciphertext and signature into out. The body is encrypted
 * straight into the reserved ciphertext bin, so plaintext never touches out.
 */
static int tj__write_sealed(const struct tj_record *rec, const struct tj_seal_in *in, const uint8_t rk[32],
                            const struct tj_identity *author, uint8_t *out, size_t cap, size_t *out_len,
                            uint8_t id[32])
{
	struct tj_mp_writer w;
	size_t header_len, signed_len, ct_len = in->body_len + TJ__AEAD_TAG_BYTES;
	unsigned long long clen = 0;
	uint8_t *ct, *sig;
	int rc;

	tj_mp_writer_init(&w, out, cap);
	tj_record_write_header(&w, rec);
	if ((rc = tj_mp_writer_finish(&w, &header_len)) != 0)
		return rc;
	if (header_len + 2 * TJ__BIN_HEADER_MAX_BYTES + ct_len + TJ_SIG_BYTES > TJ_RECORD_MAX_BYTES)
		return TJ_ELIMIT;
	ct = tj_mp_put_bin_reserve(&w, ct_len);
	if (ct == NULL)
		return TJ_ENOSPC;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, in->body, in->body_len, out, header_len,
	                                               NULL, rec->nonce, rk) != 0)
		return TJ_ECRYPTO;
	signed_len = w.len;
	sig = tj_mp_put_bin_reserve(&w, TJ_SIG_BYTES);
	if (sig == NULL)
		return TJ_ENOSPC;
	if (crypto_sign_detached(sig, NULL, out, signed_len, author->sk) != 0)
		return TJ_ECRYPTO;
	if ((rc = tj_mp_writer_finish(&w, out_len)) != 0)
		return rc;
	crypto_generichash(id, TJ_ID_BYTES, out, signed_len, NULL, 0);
	return 0;
}

int tj_record_seal(const struct tj_seal_in *in, const struct tj_identity *author, uint8_t *out, size_t cap,
                   size_t *out_len, uint8_t id[32])
{
	/*
	 * The record key lives for the duration of this call only: a stack
	 * buffer wiped on every path, not sodium_malloc (whose mmap, mprotect
	 * and mlock per record dominated the cost of listing and ingest).
	 */
	uint8_t rk[TJ__RECORD_KEY_BYTES];
	uint8_t nonce[TJ_NONCE_BYTES];
	struct tj__slots slots;
	struct tj_record rec;
	struct tj_record check;
	int rc;

	if ((rc = tj__check_seal_in(in, author)) != 0 || (rc = tj_crypto_init()) != 0)
		return rc;
	if (in->fixed_record_key != NULL) {
		memcpy(rk, in->fixed_record_key, TJ__RECORD_KEY_BYTES);
		memcpy(nonce, in->fixed_nonce, TJ_NONCE_BYTES);
	} else {
		crypto_aead_xchacha20poly1305_ietf_keygen(rk);
		randombytes_buf(nonce, sizeof(nonce));
	}
	if ((rc = tj__make_slots(in, rk, &slots)) != 0)
		goto out;
	tj__fill_header(&rec, in, author, &slots, nonce);
	if ((rc = tj__write_sealed(&rec, in, rk, author, out, cap, out_len, id)) != 0)
		goto out;
	/* Never emit a record that peers would reject: decode our own output. */
	rc = tj_record_decode(out, *out_len, &check);
out:
	sodium_memzero(rk, sizeof(rk));
	if (rc != 0 && out != NULL && cap > 0)
		sodium_memzero(out, cap);
	return rc;
}

int tj_record_verify(const uint8_t *buf, size_t len, struct tj_record *rec, uint8_t id[32])
{
	int rc;

	if (buf == NULL || rec == NULL)
		return -EINVAL;
	if ((rc = tj_crypto_init()) != 0)
		return rc;
	if ((rc = tj_record_decode(buf, len, rec)) != 0)
		return rc;
	if (crypto_sign_verify_detached(rec->sig, buf, rec->signed_len, rec->author) != 0)
		return TJ_EBADSIG;
	tj_record_id(buf, rec, id);
	return 0;
}

/* 0 (key_out filled), TJ_ENOKEY (not ours) or TJ_EDECRYPT (ours but damaged). */
static int tj__unwrap_slot(const struct tj_slot *s, const struct tj_identity *me, tj_key_lookup_fn lookup,
                           void *ctx, uint8_t key_out[32])
{
	unsigned long long klen = 0;
	const uint8_t *k;

	if (s->type == TJ_SLOT_SEALED) {
		if (me == NULL || me->x_sk == NULL || memcmp(s->ref, me->pk, 32) != 0)
			return TJ_ENOKEY;
		if (s->wrapped_len != TJ__SEALED_WRAPPED_BYTES ||
		    crypto_box_seal_open(key_out, s->wrapped, s->wrapped_len, me->x_pk, me->x_sk) != 0)
			return TJ_EDECRYPT;
		return 0;
	}
	if (s->type != TJ_SLOT_EPOCH && s->type != TJ_SLOT_CIRCLE)
		return TJ_ENOKEY; /* a slot type this build does not know */
	if (lookup == NULL || (k = lookup(ctx, s->type, s->ref)) == NULL)
		return TJ_ENOKEY;
	if (s->wrapped_len != TJ__SYM_WRAPPED_BYTES ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(key_out, &klen, NULL, s->wrapped + TJ_NONCE_BYTES,
	                                               s->wrapped_len - TJ_NONCE_BYTES, NULL, 0, s->wrapped,
	                                               k) != 0 ||
	    klen != TJ__RECORD_KEY_BYTES)
		return TJ_EDECRYPT;
	return 0;
}

int tj_record_unwrap_key(const struct tj_record *rec, const struct tj_identity *me, tj_key_lookup_fn lookup,
                         void *ctx, uint8_t key_out[32])
{
	int result = TJ_ENOKEY;

	if (rec == NULL || key_out == NULL || rec->n_slots > TJ_RECORD_SLOTS_MAX)
		return -EINVAL;
	if (tj_crypto_init() != 0)
		return TJ_ECRYPTO;
	for (uint32_t i = 0; i < rec->n_slots; i++) {
		int rc = tj__unwrap_slot(&rec->slots[i], me, lookup, ctx, key_out);

		if (rc == 0)
			return 0;
		/* A slot addressed to us that fails is worth reporting if none opens. */
		if (rc == TJ_EDECRYPT)
			result = TJ_EDECRYPT;
	}
	sodium_memzero(key_out, 32);
	return result;
}

/*
 * The caller passes a record that tj_record_verify() accepted: the signature
 * is what makes the header (our associated data) and the slots trustworthy.
 */
int tj_record_open(const uint8_t *buf, const struct tj_record *rec, const struct tj_identity *me,
                   tj_key_lookup_fn lookup, void *ctx, uint8_t *plain, size_t cap, size_t *plain_len)
{
	uint8_t rk[TJ__RECORD_KEY_BYTES]; /* wiped on every path, see tj_record_seal */
	unsigned long long plen = 0;
	int rc;

	if (buf == NULL || rec == NULL || plain_len == NULL || (plain == NULL && cap > 0))
		return -EINVAL;
	if (rec->ciphertext_len < TJ__AEAD_TAG_BYTES || rec->header_len > rec->signed_len)
		return TJ_EMALFORMED;
	if (cap < rec->ciphertext_len - TJ__AEAD_TAG_BYTES)
		return TJ_ENOSPC;
	if ((rc = tj_crypto_init()) != 0)
		return rc;
	if ((rc = tj_record_unwrap_key(rec, me, lookup, ctx, rk)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, rec->ciphertext,
	                                               rec->ciphertext_len, buf, rec->header_len, rec->nonce,
	                                               rk) != 0) {
		rc = TJ_EDECRYPT;
		goto out;
	}
	*plain_len = (size_t)plen;
out:
	sodium_memzero(rk, sizeof(rk));
	if (rc != 0 && plain != NULL && cap > 0)
		sodium_memzero(plain, cap);
	return rc;
}
