/* Creating a node's store (tj_node_init) and opening it (tj_node_open). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "tj_circle.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_rotate.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_retract.h"
#include "tj_seal.h"

#define TJ__GENESIS_BODY_MAX_BYTES (128u + TJ_STEWARDS_MAX * 40u)
#define TJ__SEAL_SLACK_BYTES 1024u

static int tj__genesis_body_encode(const char *name, uint32_t threshold, const uint8_t *stewards, size_t n,
				   uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	/*
	 * [name, threshold (<= stewards), [stewards]], and when the threshold asked
	 * for exceeds the founding stewards, a 4th element: that threshold, which
	 * applies once there are that many stewards (tj_member.h).
	 */
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, threshold > n ? 4 : 3);
	tj_mp_put_cstr(&w, name);
	tj_mp_put_uint(&w, threshold > n ? n : threshold);
	tj_mp_put_array(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		tj_mp_put_bin(&w, stewards + 32 * i, 32);
	if (threshold > n)
		tj_mp_put_uint(&w, threshold);
	return tj_mp_writer_finish(&w, len);
}

int tj_genesis_body_decode(const uint8_t *buf, size_t len, char name[TJ_NETWORK_NAME_MAX + 1], uint32_t *threshold,
			   uint8_t (*stewards)[32], size_t cap, size_t *n_stewards)
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n, slen, count;
	uint64_t th, target = 0;
	size_t used;
	int rc;

	if ((rc = tj_mp_check(buf, len, &tj_mp_limits_default, true, &used)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0 || (n != 3 && n != 4) || (rc = tj_mp_read_str(&r, &s, &slen)) != 0 ||
	    (rc = tj_mp_read_uint(&r, &th)) != 0 || (rc = tj_mp_read_array(&r, &count)) != 0)
		return rc != 0 ? rc : TJ_EMALFORMED;
	if (slen == 0 || slen > TJ_NETWORK_NAME_MAX || memchr(s, '\0', slen) != NULL || count == 0 ||
	    count > TJ_STEWARDS_MAX || count > cap || th == 0 || th > count)
		return TJ_EMALFORMED;
	for (uint32_t i = 0; i < count; i++)
		if ((rc = tj_mp_read_bin_exact(&r, stewards[i], 32)) != 0)
			return rc;
	/* The threshold once there are enough stewards: above the founders' count, at most TJ_STEWARDS_MAX. */
	if (n == 4 && ((rc = tj_mp_read_uint(&r, &target)) != 0 || target <= count || th != count ||
	               target > TJ_STEWARDS_MAX))
		return rc != 0 ? rc : TJ_EMALFORMED;
	memcpy(name, s, slen);
	name[slen] = '\0';
	*threshold = (uint32_t)(n == 4 ? target : th);
	*n_stewards = count;
	return 0;
}

/* The network key, the first epoch key, the genesis: all in the caller's transaction. */
static int tj__found_network(struct tj_txn *t, const struct tj_unlocked *u, struct tj_keyring *kr,
			     const struct tj_init_opts *opts)
{
	uint8_t body[TJ__GENESIS_BODY_MAX_BYTES];
	uint8_t rec[TJ__GENESIS_BODY_MAX_BYTES + TJ__SEAL_SLACK_BYTES];
	uint8_t head[40];
	struct tj_seal_in in;
	struct tj_ingest_item item;
	struct tj_ingest_ctx ctx;
	const char *name = opts->network_name != NULL ? opts->network_name : "Tejido";
	uint32_t threshold = opts->stewards_threshold != 0 ? opts->stewards_threshold : 1;
	size_t body_len, rec_len;
	int rc;

	/* One founding steward: it alone admits the first stewards until there are `threshold` (tj_member.h). */
	if (strlen(name) == 0 || strlen(name) > TJ_NETWORK_NAME_MAX || threshold > TJ_STEWARDS_MAX)
		return -EINVAL;
	if ((rc = tj__genesis_body_encode(name, threshold, u->id->pk, 1, body, sizeof(body), &body_len)) != 0)
		return rc;
	memset(&in, 0, sizeof(in));
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_GENESIS;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	in.epoch = tj_keyring_current_epoch(kr);
	memcpy(in.audience.ref, in.epoch->id, 32);
	in.body = body;
	in.body_len = body_len;
	memset(&item, 0, sizeof(item));
	if ((rc = tj_record_seal(&in, u->id, rec, sizeof(rec), &rec_len, item.id)) != 0)
		return rc;
	/* The genesis goes through ingest like any record: our network is its id. */
	ctx.has_network = true;
	memcpy(ctx.network_id, item.id, 32);
	ctx.now_ms = tj_now_ms();
	item.enc = rec;
	item.len = rec_len;
	tj_ingest_validate(&ctx, &item);
	if ((rc = tj_ingest_put(t, &item)) != 0)
		return rc;
	if (item.result != 0)
		return item.result;
	tj_store_be64(0, head);
	memcpy(head + 8, item.id, 32);
	if ((rc = tj_store_meta_put(t, TJ_META_NETWORK_ID, item.id, 32)) != 0 ||
	    (rc = tj_store_meta_put(t, TJ_META_HEAD, head, sizeof(head))) != 0)
		return rc;
	TJ_LOG_I("node", "founded a network; genesis stored");
	return 0;
}

/* Fresh random network and epoch keys into kr. */
static int tj__new_network_keys(struct tj_keyring *kr)
{
	uint8_t *k = sodium_malloc(TJ_KEY_BYTES);
	int rc;

	if (k == NULL)
		return -ENOMEM;
	randombytes_buf(k, TJ_KEY_BYTES);
	rc = tj_keyring_set_network_key(kr, k);
	if (rc == 0) {
		randombytes_buf(k, TJ_KEY_BYTES);
		rc = tj_keyring_add_epoch(kr, k, true);
	}
	sodium_free(k);
	return rc;
}

int tj_node_init(const char *datadir, const struct tj_unlocked *u, const struct tj_init_opts *opts)
{
	static const struct tj_init_opts defaults = {0};
	struct tj_store *st = NULL;
	struct tj_keyring *kr = NULL;
	struct tj_txn t = {0};
	const uint8_t *v;
	size_t vlen;
	int rc;

	if (datadir == NULL || u == NULL || u->id == NULL || u->storage_key == NULL)
		return -EINVAL;
	if (opts == NULL)
		opts = &defaults;
	if (sodium_init() < 0)
		return TJ_ECRYPTO;
	if ((rc = tj_store_open(datadir, 0, &st)) != 0)
		return rc;
	if ((rc = tj_txn_begin(st, true, &t)) != 0)
		goto out;
	rc = tj_store_meta_get(&t, TJ_KEYRING_META_NAME, &v, &vlen);
	if (rc != TJ_ENOTFOUND) {
		rc = rc == 0 ? TJ_EEXIST : rc; /* never overwrite a node's keys */
		goto out;
	}
	if ((rc = tj_keyring_new(&kr)) != 0)
		goto out;
	if (!opts->no_network &&
	    ((rc = tj__new_network_keys(kr)) != 0 || (rc = tj__found_network(&t, u, kr, opts)) != 0))
		goto out;
	if ((rc = tj_keyring_save(kr, &t, u->storage_key)) != 0)
		goto out;
	rc = tj_txn_commit(&t);
out:
	tj_txn_abort(&t);
	tj_keyring_free(kr);
	tj_store_close(st);
	return rc;
}

/* Reads the network id and, from the genesis we can open, its name. */
static int tj__load_network(struct tj_node *n, struct tj_txn *t)
{
	uint8_t stewards[TJ_STEWARDS_MAX][32];
	uint8_t plain[TJ__GENESIS_BODY_MAX_BYTES];
	struct tj_record rec;
	const uint8_t *v, *enc;
	size_t vlen, len, plen, n_st;
	int rc;

	rc = tj_store_meta_get(t, TJ_META_NETWORK_ID, &v, &vlen);
	if (rc == TJ_ENOTFOUND)
		return 0; /* an identity only, not yet in a network */
	if (rc != 0)
		return rc;
	if (vlen != 32)
		return TJ_ESTORE;
	memcpy(n->network_id, v, 32);
	n->has_network = true;
	if ((rc = tj_store_get(t, n->network_id, &enc, &len)) != 0)
		return rc == TJ_ENOTFOUND ? TJ_ESTORE : rc;
	if ((rc = tj_record_decode(enc, len, &rec)) != 0)
		return rc;
	if (rec.ciphertext_len > sizeof(plain) + 16)
		return TJ_ELIMIT;
	rc = tj_record_open(enc, &rec, n->u->id, tj_keyring_lookup, n->keyring, plain, sizeof(plain), &plen);
	if (rc == 0)
		rc = tj_genesis_body_decode(plain, plen, n->network_name, &n->stewards_threshold, stewards,
					    TJ_STEWARDS_MAX, &n_st);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int tj_node_open(const char *datadir, uint64_t map_size_bytes, struct tj_unlocked *u, struct tj_node **out)
{
	struct tj_node *n = NULL;
	struct tj_txn t = {0};
	int rc;

	if (sodium_init() < 0) {
		tj_unlocked_free(u);
		return TJ_ECRYPTO;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		tj_unlocked_free(u);
		return -ENOMEM;
	}
	n->u = u;
	n->started_ms = tj_now_ms();
	n->blind_key = sodium_malloc(32);
	if (n->blind_key == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	tj_storage_subkey(u->storage_key, TJ_SUBKEY_BLIND, n->blind_key);
	if ((rc = tj_store_open(datadir, map_size_bytes, &n->store)) != 0)
		goto out;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	rc = tj_keyring_load(&t, u->storage_key, &n->keyring);
	if (rc == TJ_ENOTFOUND)
		rc = TJ_ESTATE; /* no keyring: tj_node_init never ran here */
	if (rc == 0)
		rc = tj__load_network(n, &t);
	tj_txn_abort(&t);
	/* Membership: bind the keys its derivation needs; derive it if never done here. */
	if (rc == 0 && n->has_network)
		rc = tj_member_attach(n->store, n->network_id, n->u->id, n->keyring);
	if (rc != 0)
		goto out;
	/* Retractions and confirmations are opened at ingest with the same keys (tj_retract.h). */
	tj_retract_attach(n->store, n->u->id, n->keyring);
	/* KEY records for this node install into its keyring at ingest (tj_rotate.h). */
	tj_rotate_attach(n);
	/* CIRCLE records naming this node install their keys at ingest (tj_circle.h). */
	tj_circle_attach(n);
	*out = n;
	n = NULL;
out:
	tj_node_close(n);
	return rc;
}

void tj_node_close(struct tj_node *n)
{
	if (n == NULL)
		return;
	tj_member_detach(n->store);
	tj_retract_detach(n->store);
	tj_rotate_detach(n);
	tj_circle_detach(n);
	tj_store_close(n->store);
	tj_keyring_free(n->keyring);
	tj_unlocked_free(n->u);
	sodium_free(n->blind_key);
	sodium_memzero(n, sizeof(*n));
	free(n);
}

void tj_node_victim_key(const struct tj_node *n, const char *ref, uint8_t key[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, n->blind_key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)"victim", 6);
	crypto_generichash_update(&st, (const uint8_t *)ref, strlen(ref));
	crypto_generichash_final(&st, key, 32);
	sodium_memzero(&st, sizeof(st));
}
