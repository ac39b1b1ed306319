/* The welcome bundle: sealing, opening and checking (tj_welcome.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_log.h"
#include "tj_mp.h"
#include "tj_seal.h"
#include "tj_welcome.h"

#define TJ__WELCOME_VERSION 1
#define TJ__SEAL_MIN_BYTES (TJ_WELCOME_MAGIC_BYTES + crypto_box_SEALBYTES)
#define TJ__RECORDS_MAX (TJ_MEMBER_RECORDS_MAX + 1)

static const struct tj_mp_limits tj__welcome_limits = {
    .max_depth = 3,
    .max_items = 16 + TJ_KEYRING_EPOCHS_MAX + TJ__RECORDS_MAX + TJ_WELCOME_PEERS_MAX * 5,
    .max_str = TJ_RECORD_MAX_BYTES,
    .canonical = true,
};

/* Plaintext bytes a bundle of in needs, with room for headers. */
static size_t tj__plain_cap(const struct tj_welcome_in *in)
{
	size_t cap =
	    256 + in->n_epochs * 40 + in->n_peers * (TJ_WELCOME_HOST_MAX + TJ_WELCOME_PEER_NAME_MAX + 64);

	for (size_t i = 0; i < in->n_records; i++)
		cap += in->lens[i] + 8;
	return cap;
}

static int tj__plain_encode(const struct tj_welcome_in *in, const uint8_t recipient[32], uint8_t *buf,
                            size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 7);
	tj_mp_put_uint(&w, TJ__WELCOME_VERSION);
	tj_mp_put_bin(&w, in->network_id, 32);
	tj_mp_put_bin(&w, in->network_key, 32);
	tj_mp_put_array(&w, (uint32_t)in->n_epochs);
	for (size_t i = 0; i < in->n_epochs; i++)
		tj_mp_put_bin(&w, in->epochs[i], 32);
	tj_mp_put_array(&w, (uint32_t)in->n_records);
	for (size_t i = 0; i < in->n_records; i++)
		tj_mp_put_bin(&w, in->records[i], in->lens[i]);
	tj_mp_put_array(&w, (uint32_t)in->n_peers);
	for (size_t i = 0; i < in->n_peers; i++) {
		tj_mp_put_array(&w, 4);
		tj_mp_put_cstr(&w, in->peers[i].host);
		tj_mp_put_uint(&w, in->peers[i].port);
		tj_mp_put_bin(&w, in->peers[i].pk, 32);
		tj_mp_put_cstr(&w, in->peers[i].name);
	}
	tj_mp_put_bin(&w, recipient, 32);
	return tj_mp_writer_finish(&w, len);
}

int tj_welcome_seal(const struct tj_welcome_in *in, const uint8_t recipient[32], uint8_t **out,
                    size_t *out_len)
{
	uint8_t x_pk[32];
	uint8_t *plain = NULL, *sealed = NULL;
	size_t cap, len = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (in->n_epochs == 0 || in->n_epochs > TJ_KEYRING_EPOCHS_MAX || in->n_records == 0 ||
	    in->n_records > TJ__RECORDS_MAX || in->n_peers > TJ_WELCOME_PEERS_MAX)
		return TJ_ELIMIT;
	if ((rc = tj_pk_to_x25519(recipient, x_pk)) != 0)
		return rc;
	cap = tj__plain_cap(in);
	if (cap > TJ_WELCOME_MAX_BYTES)
		return TJ_ELIMIT;
	if ((plain = sodium_malloc(cap)) == NULL)
		return -ENOMEM;
	if ((rc = tj__plain_encode(in, recipient, plain, cap, &len)) != 0)
		goto out;
	if ((sealed = malloc(TJ__SEAL_MIN_BYTES + len)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(sealed, TJ_WELCOME_MAGIC, TJ_WELCOME_MAGIC_BYTES);
	if (crypto_box_seal(sealed + TJ_WELCOME_MAGIC_BYTES, plain, len, x_pk) != 0) {
		rc = TJ_ECRYPTO;
		goto out;
	}
	*out = sealed;
	*out_len = TJ__SEAL_MIN_BYTES + len;
	sealed = NULL;
out:
	free(sealed);
	sodium_memzero(plain, cap);
	sodium_free(plain);
	return rc;
}

void tj_welcome_free(struct tj_welcome *w)
{
	if (w == NULL)
		return;
	sodium_free(w->network_key);
	if (w->epochs != NULL)
		sodium_free(w->epochs);
	if (w->plain != NULL)
		sodium_free(w->plain);
	free(w->records);
	free(w->lens);
	free(w->peers);
	sodium_memzero(w, sizeof(*w));
	free(w);
}

static int tj__read_keys(struct tj_mp_reader *r, struct tj_welcome *w)
{
	uint32_t n;
	int rc;

	if ((w->network_key = sodium_malloc(32)) == NULL)
		return -ENOMEM;
	if ((rc = tj_mp_read_bin_exact(r, w->network_key, 32)) != 0 || (rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n == 0 || n > TJ_KEYRING_EPOCHS_MAX)
		return TJ_ELIMIT;
	if ((w->epochs = sodium_malloc(32u * n)) == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = tj_mp_read_bin_exact(r, w->epochs + 32u * i, 32)) != 0)
			return rc;
	w->n_epochs = n;
	return 0;
}

static int tj__read_records(struct tj_mp_reader *r, struct tj_welcome *w)
{
	const uint8_t *p;
	uint32_t n, len;
	int rc;

	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n == 0 || n > TJ__RECORDS_MAX)
		return TJ_ELIMIT;
	w->records = calloc(n, sizeof(*w->records));
	w->lens = calloc(n, sizeof(*w->lens));
	if (w->records == NULL || w->lens == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_bin(r, &p, &len)) != 0)
			return rc;
		w->records[i] = p;
		w->lens[i] = len;
	}
	w->n_records = n;
	return 0;
}

static int tj__read_str(struct tj_mp_reader *r, char *out, size_t cap)
{
	const char *s;
	uint32_t len;
	int rc;

	if ((rc = tj_mp_read_str(r, &s, &len)) != 0)
		return rc;
	if (len >= cap || memchr(s, '\0', len) != NULL)
		return TJ_EMALFORMED;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int tj__read_peers(struct tj_mp_reader *r, struct tj_welcome *w)
{
	uint32_t n, k;
	uint64_t port;
	int rc;

	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n > TJ_WELCOME_PEERS_MAX)
		return TJ_ELIMIT;
	if ((w->peers = calloc(n + 1, sizeof(*w->peers))) == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct tj_welcome_peer *p = &w->peers[i];
		if ((rc = tj_mp_read_array(r, &k)) != 0 || k != 4 ||
		    (rc = tj__read_str(r, p->host, sizeof(p->host))) != 0 ||
		    (rc = tj_mp_read_uint(r, &port)) != 0 || (rc = tj_mp_read_bin_exact(r, p->pk, 32)) != 0 ||
		    (rc = tj__read_str(r, p->name, sizeof(p->name))) != 0)
			return rc != 0 ? rc : TJ_EMALFORMED;
		if (port == 0 || port > 65535)
			return TJ_EMALFORMED;
		p->port = (uint16_t)port;
	}
	w->n_peers = n;
	return 0;
}

static int tj__plain_decode(struct tj_welcome *w)
{
	struct tj_mp_reader r;
	uint32_t n;
	uint64_t ver;
	int rc;

	if ((rc = tj_mp_check(w->plain, w->plain_len, &tj__welcome_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, w->plain, w->plain_len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0 || (rc = tj_mp_read_uint(&r, &ver)) != 0)
		return rc;
	if (n != 7)
		return TJ_EMALFORMED;
	if (ver != TJ__WELCOME_VERSION)
		return TJ_EUNSUPPORTED;
	if ((rc = tj_mp_read_bin_exact(&r, w->network_id, 32)) != 0 || (rc = tj__read_keys(&r, w)) != 0 ||
	    (rc = tj__read_records(&r, w)) != 0 || (rc = tj__read_peers(&r, w)) != 0)
		return rc;
	return tj_mp_read_bin_exact(&r, w->recipient, 32);
}

/* The genesis first and matching the network id; every record signed and of this network. */
static int tj__check_records(const struct tj_welcome *w)
{
	struct tj_record rec;
	uint8_t id[32];
	int rc;

	for (size_t i = 0; i < w->n_records; i++) {
		if ((rc = tj_record_verify(w->records[i], w->lens[i], &rec, id)) != 0)
			return rc;
		if (i == 0 && (rec.kind != TJ_KIND_GENESIS || sodium_memcmp(id, w->network_id, 32) != 0))
			return TJ_ENETWORK;
		if (i > 0 && (rec.kind == TJ_KIND_GENESIS || memcmp(rec.network_id, w->network_id, 32) != 0))
			return TJ_ENETWORK;
	}
	return 0;
}

/* The checks after the seal: form, recipient, records. Takes w (freed on failure). */
static int tj__finish_open(struct tj_welcome *w, const uint8_t me_pk[32], struct tj_welcome **out)
{
	int rc = tj__plain_decode(w);

	if (rc == 0 && sodium_memcmp(w->recipient, me_pk, 32) != 0)
		rc = TJ_ENOTMEMBER;
	if (rc == 0)
		rc = tj__check_records(w);
	if (rc != 0) {
		tj_welcome_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int tj_welcome_open(const uint8_t *buf, size_t len, const struct tj_identity *me, struct tj_welcome **out)
{
	struct tj_welcome *w = NULL;

	*out = NULL;
	if (len < TJ__SEAL_MIN_BYTES)
		return TJ_ETRUNC;
	if (len > TJ_WELCOME_MAX_BYTES)
		return TJ_ELIMIT;
	if (memcmp(buf, TJ_WELCOME_MAGIC, TJ_WELCOME_MAGIC_BYTES) != 0)
		return TJ_EMALFORMED;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->plain_len = len - TJ__SEAL_MIN_BYTES;
	if ((w->plain = sodium_malloc(w->plain_len + 1)) == NULL) {
		tj_welcome_free(w);
		return -ENOMEM;
	}
	if (crypto_box_seal_open(w->plain, buf + TJ_WELCOME_MAGIC_BYTES, len - TJ_WELCOME_MAGIC_BYTES,
	                         me->x_pk, me->x_sk) != 0) {
		tj_welcome_free(w);
		return TJ_EDECRYPT; /* tampered with, or sealed to another key */
	}
	return tj__finish_open(w, me->pk, out);
}

int tj_welcome_parse(const uint8_t *plain, size_t len, const uint8_t me_pk[32], struct tj_welcome **out)
{
	struct tj_welcome *w = NULL;

	*out = NULL;
	if (len > TJ_WELCOME_MAX_BYTES)
		return TJ_ELIMIT;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->plain_len = len;
	if ((w->plain = sodium_malloc(len + 1)) == NULL) {
		tj_welcome_free(w);
		return -ENOMEM;
	}
	if (len > 0)
		memcpy(w->plain, plain, len);
	return tj__finish_open(w, me_pk, out);
}
