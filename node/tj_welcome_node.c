/*
 * Welcome bundles and nodes: making one from a steward's node, joining a
 * network with one (tj_welcome.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_mp.h"
#include "tj_welcome.h"

/* The address book's meta value (see tj_peer_book.c): [[host, port, pk, name]...]. */
#define TJ__META_PEERS "peers"
#define TJ__BOOK_BYTES (TJ_WELCOME_PEERS_MAX * (TJ_WELCOME_HOST_MAX + TJ_WELCOME_PEER_NAME_MAX + 48u) + 16u)

static const struct tj_mp_limits tj__book_limits = {
    .max_depth = 2,
    .max_items = 1 + TJ_WELCOME_PEERS_MAX * 5,
    .max_str = TJ_WELCOME_PEER_NAME_MAX,
    .canonical = true,
};

/* ---- making ---------------------------------------------------------------- */

/* Appends the address book's peers (except skip) to peers[*n..]. A missing book is empty. */
static int tj__book_peers(struct tj_txn *t, const uint8_t skip[32], struct tj_welcome_peer *peers, size_t *n)
{
	struct tj_mp_reader r;
	const uint8_t *v;
	const char *s;
	size_t len;
	uint32_t count, k, slen;
	uint64_t port;
	int rc = tj_store_meta_get(t, TJ__META_PEERS, &v, &len);

	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0 || (rc = tj_mp_check(v, len, &tj__book_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, v, len);
	if ((rc = tj_mp_read_array(&r, &count)) != 0)
		return rc;
	for (uint32_t i = 0; i < count && *n < TJ_WELCOME_PEERS_MAX; i++) {
		struct tj_welcome_peer *p = &peers[*n];
		memset(p, 0, sizeof(*p));
		if (tj_mp_read_array(&r, &k) != 0 || k != 4 || tj_mp_read_str(&r, &s, &slen) != 0 ||
		    slen >= sizeof(p->host))
			return TJ_ESTORE;
		memcpy(p->host, s, slen);
		if (tj_mp_read_uint(&r, &port) != 0 || port == 0 || port > 65535 ||
		    tj_mp_read_bin_exact(&r, p->pk, 32) != 0 || tj_mp_read_str(&r, &s, &slen) != 0 ||
		    slen > TJ_WELCOME_PEER_NAME_MAX)
			return TJ_ESTORE;
		p->port = (uint16_t)port;
		memcpy(p->name, s, slen);
		if (memcmp(p->pk, skip, 32) != 0)
			(*n)++;
	}
	return 0;
}

struct tj__ordered {
	uint64_t ts_ms;
	uint8_t id[32];
	const uint8_t *enc;
	size_t len;
};

static int tj__ordered_cmp(const void *a, const void *b)
{
	const struct tj__ordered *x = a, *y = b;

	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

/* The genesis, then the stored membership records in (ts, id) order; borrowed from t. */
static int tj__records(struct tj_txn *t, const uint8_t network_id[32], struct tj__ordered **out, size_t *n)
{
	struct tj_record rec;
	const uint8_t *ids;
	size_t ids_len = 0, k = 1;
	int rc = tj_store_meta_get(t, TJ_META_MEMBER_IDS, &ids, &ids_len);

	if (rc == TJ_ENOTFOUND)
		ids_len = 0;
	else if (rc != 0)
		return rc;
	if (ids_len % 32 != 0 || ids_len / 32 > TJ_MEMBER_RECORDS_MAX)
		return TJ_ESTORE;
	if ((*out = calloc(ids_len / 32 + 1, sizeof(**out))) == NULL)
		return -ENOMEM;
	if ((rc = tj_store_get(t, network_id, &(*out)[0].enc, &(*out)[0].len)) != 0)
		return rc;
	for (size_t i = 0; i < ids_len / 32; i++) {
		struct tj__ordered *o = &(*out)[k];
		rc = tj_store_get(t, ids + 32 * i, &o->enc, &o->len);
		if (rc == TJ_ENOTFOUND)
			continue;
		if (rc != 0 || (rc = tj_record_decode(o->enc, o->len, &rec)) != 0)
			return rc;
		o->ts_ms = rec.ts_ms;
		memcpy(o->id, ids + 32 * i, 32);
		k++;
	}
	qsort(*out + 1, k - 1, sizeof(**out), tj__ordered_cmp);
	*n = k;
	return 0;
}

/* Epoch keys, the current one first: borrowed from the keyring. */
static size_t tj__epochs(const struct tj_keyring *kr, const uint8_t **epochs)
{
	size_t n = 0;

	if (kr->n_epochs == 0)
		return 0;
	epochs[n++] = kr->epochs[kr->current_epoch].key;
	for (uint32_t i = 0; i < kr->n_epochs; i++)
		if (i != kr->current_epoch)
			epochs[n++] = kr->epochs[i].key;
	return n;
}

static int tj__make_txn(struct tj_node *n, struct tj_txn *t, const uint8_t recipient[32],
                        struct tj_welcome_peer *peers, size_t n_peers, uint8_t **out, size_t *out_len)
{
	const uint8_t *epochs[TJ_KEYRING_EPOCHS_MAX];
	struct tj__ordered *recs = NULL;
	const uint8_t **encs = NULL;
	size_t *lens = NULL, n_recs = 0;
	struct tj_welcome_in in = {0};
	int rc;

	if (!tj_member_txn_is_member(t, recipient))
		return TJ_ENOTMEMBER;
	if ((rc = tj__book_peers(t, recipient, peers, &n_peers)) != 0 ||
	    (rc = tj__records(t, n->network_id, &recs, &n_recs)) != 0)
		goto out;
	encs = calloc(n_recs, sizeof(*encs));
	lens = calloc(n_recs, sizeof(*lens));
	if (encs == NULL || lens == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_recs; i++) {
		encs[i] = recs[i].enc;
		lens[i] = recs[i].len;
	}
	in.network_id = n->network_id;
	/* After a rotation, the newest network key: accepted during the changeover, alone after it (tj_rotate.h). */
	in.network_key = n->keyring->has_next_network_key ? n->keyring->next_network_key : n->keyring->network_key;
	in.n_epochs = tj__epochs(n->keyring, epochs);
	in.epochs = epochs;
	in.records = encs;
	in.lens = lens;
	in.n_records = n_recs;
	in.peers = peers;
	in.n_peers = n_peers;
	rc = tj_welcome_seal(&in, recipient, out, out_len);
out:
	free(recs);
	free(encs);
	free(lens);
	return rc;
}

int tj_welcome_make(struct tj_node *n, const uint8_t recipient[32], const struct tj_welcome_peer *self,
                    uint8_t **out, size_t *out_len)
{
	struct tj_welcome_peer *peers;
	struct tj_txn t;
	size_t n_peers = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!n->has_network || !n->keyring->has_network_key)
		return TJ_ESTATE;
	if ((peers = calloc(TJ_WELCOME_PEERS_MAX, sizeof(*peers))) == NULL)
		return -ENOMEM;
	if (self != NULL)
		peers[n_peers++] = *self;
	if ((rc = tj_txn_begin(n->store, false, &t)) == 0) {
		rc = tj__make_txn(n, &t, recipient, peers, n_peers, out, out_len);
		tj_txn_abort(&t);
	}
	free(peers);
	return rc;
}

/* ---- joining --------------------------------------------------------------- */

static int tj__install_keys(struct tj_keyring *kr, const struct tj_welcome *w)
{
	int rc;

	if ((rc = tj_keyring_set_network_key(kr, w->network_key)) != 0)
		return rc;
	for (size_t i = 0; i < w->n_epochs; i++) {
		rc = tj_keyring_add_epoch(kr, w->epochs + 32 * i, i == 0);
		if (rc != 0 && rc != TJ_EEXIST)
			return rc;
	}
	return 0;
}

/* Every record through ingest, in the bundle's order (genesis first). */
static int tj__install_records(struct tj_txn *t, const struct tj_welcome *w)
{
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item it;
	size_t refused = 0;
	int rc;

	memcpy(ctx.network_id, w->network_id, 32);
	for (size_t i = 0; i < w->n_records; i++) {
		memset(&it, 0, sizeof(it));
		it.enc = w->records[i];
		it.len = w->lens[i];
		tj_ingest_validate(&ctx, &it);
		if ((rc = tj_ingest_put(t, &it)) != 0)
			return rc;
		if (it.result != 0 && it.result != TJ_EEXIST) {
			TJ_LOG_W("welcome", "record %zu of the welcome refused: %s", i,
			         tj_strerror(it.result));
			if (i == 0)
				return it.result;
			refused++;
		}
	}
	if (refused > 0)
		TJ_LOG_W("welcome", "%zu records of the welcome were refused", refused);
	return 0;
}

static int tj__install_peers(struct tj_txn *t, const struct tj_welcome *w)
{
	struct tj_mp_writer wr;
	const uint8_t *v;
	uint8_t *buf;
	size_t vlen, len = 0;
	int rc = tj_store_meta_get(t, TJ__META_PEERS, &v, &vlen);

	if (rc == 0 || w->n_peers == 0)
		return 0; /* an address book exists: its owner keeps it */
	if (rc != TJ_ENOTFOUND)
		return rc;
	if ((buf = malloc(TJ__BOOK_BYTES)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&wr, buf, TJ__BOOK_BYTES);
	tj_mp_put_array(&wr, (uint32_t)w->n_peers);
	for (size_t i = 0; i < w->n_peers; i++) {
		tj_mp_put_array(&wr, 4);
		tj_mp_put_cstr(&wr, w->peers[i].host);
		tj_mp_put_uint(&wr, w->peers[i].port);
		tj_mp_put_bin(&wr, w->peers[i].pk, 32);
		tj_mp_put_cstr(&wr, w->peers[i].name);
	}
	rc = tj_mp_writer_finish(&wr, &len);
	if (rc == 0)
		rc = tj_store_meta_put(t, TJ__META_PEERS, buf, len);
	free(buf);
	return rc;
}

static int tj__join_txn(struct tj_store *st, struct tj_txn *t, const struct tj_unlocked *u,
                        const struct tj_welcome *w)
{
	struct tj_keyring *kr = NULL;
	const uint8_t *v;
	size_t vlen;
	int rc = tj_store_meta_get(t, TJ_META_NETWORK_ID, &v, &vlen);

	if (rc == 0)
		return TJ_EEXIST; /* already in a network: joining another would mix them */
	if (rc != TJ_ENOTFOUND)
		return rc;
	rc = tj_keyring_load(t, u->storage_key, &kr);
	if (rc != 0)
		return rc == TJ_ENOTFOUND ? TJ_ESTATE : rc;
	if ((rc = tj__install_keys(kr, w)) != 0 ||
	    (rc = tj_store_meta_put(t, TJ_META_NETWORK_ID, w->network_id, 32)) != 0)
		goto out;
	tj_member_bind(st, w->network_id, u->id, kr);
	rc = tj__install_records(t, w);
	tj_member_detach(st);
	if (rc != 0)
		goto out;
	if (!tj_member_txn_is_member(t, u->id->pk)) {
		rc = TJ_ENOTMEMBER; /* the records do not admit this node (a pending proposal?) */
		goto out;
	}
	if ((rc = tj_keyring_save(kr, t, u->storage_key)) == 0)
		rc = tj__install_peers(t, w);
out:
	tj_keyring_free(kr);
	return rc;
}

int tj_welcome_join(const char *datadir, const struct tj_unlocked *u, const uint8_t *buf, size_t len,
                    size_t *n_peers)
{
	struct tj_welcome *w = NULL;
	struct tj_store *st = NULL;
	struct tj_txn t = {0};
	int rc;

	if (datadir == NULL || u == NULL || u->id == NULL || u->storage_key == NULL || buf == NULL)
		return -EINVAL;
	if ((rc = tj_welcome_open(buf, len, u->id, &w)) != 0)
		return rc;
	if ((rc = tj_store_open(datadir, 0, &st)) != 0)
		goto out;
	if ((rc = tj_txn_begin(st, true, &t)) != 0)
		goto out;
	if ((rc = tj__join_txn(st, &t, u, w)) != 0)
		goto out;
	if ((rc = tj_txn_commit(&t)) != 0)
		goto out;
	if (n_peers != NULL)
		*n_peers = w->n_peers;
	TJ_LOG_I("welcome", "joined a network of %zu membership records", w->n_records - 1);
out:
	tj_txn_abort(&t);
	tj_store_close(st);
	tj_welcome_free(w);
	return rc;
}
