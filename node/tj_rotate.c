/*
 * Key rotation: KEY records written by a steward, installed at ingest (tj_rotate.h).
 */
#include "tj_rotate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_node_core.h"
#include "tj_peer.h"
#include "tj_seal.h"

#define TJ__REC_CAP (TJ_ROTATE_BODY_MAX_BYTES + 4096u)

static struct tj_node *tj__bound_node;

void tj_rotate_attach(struct tj_node *n)
{
	tj__bound_node = n;
}

void tj_rotate_detach(const struct tj_node *n)
{
	if (tj__bound_node == n)
		tj__bound_node = NULL;
}

int tj_rotate_body_encode(const struct tj_rotate_body *b, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	if (b->epoch == 0)
		return -EINVAL;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, b->epoch);
	tj_mp_put_bin(&w, b->epoch_id, 32);
	tj_mp_put_bin(&w, b->epoch_key, 32);
	tj_mp_put_bin(&w, b->network_key, 32);
	tj_mp_put_uint(&w, b->network_from_ms);
	return tj_mp_writer_finish(&w, len);
}

int tj_rotate_body_decode(const uint8_t *buf, size_t len, struct tj_rotate_body *b)
{
	struct tj_mp_limits lim = tj_mp_limits_default;
	struct tj_mp_reader r;
	uint8_t id[32];
	uint32_t n;
	size_t used = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	if (len > TJ_ROTATE_BODY_MAX_BYTES)
		return TJ_ELIMIT;
	if ((rc = tj_mp_check(buf, len, &lim, true, &used)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0 || n != 5 || (rc = tj_mp_read_uint(&r, &b->epoch)) != 0 ||
	    (rc = tj_mp_read_bin_exact(&r, b->epoch_id, 32)) != 0 ||
	    (rc = tj_mp_read_bin_exact(&r, b->epoch_key, 32)) != 0 ||
	    (rc = tj_mp_read_bin_exact(&r, b->network_key, 32)) != 0 ||
	    (rc = tj_mp_read_uint(&r, &b->network_from_ms)) != 0 || b->epoch == 0)
		rc = rc != 0 ? rc : TJ_EMALFORMED;
	if (rc == 0) {
		tj_sym_key_id(b->epoch_key, id);
		if (memcmp(id, b->epoch_id, 32) != 0)
			rc = TJ_EMALFORMED;
	}
	if (rc != 0)
		sodium_memzero(b, sizeof(*b));
	return rc;
}

static int tj__epoch_meta(struct tj_txn *t, uint64_t *epoch, uint8_t rec_id[32])
{
	const uint8_t *v;
	size_t len;
	int rc = tj_store_meta_get(t, TJ_META_EPOCH, &v, &len);

	*epoch = 0;
	memset(rec_id, 0xff, 32);
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len != 40)
		return TJ_ESTORE;
	*epoch = tj_store_rd64(v);
	memcpy(rec_id, v + 8, 32);
	return 0;
}

int tj_rotate_install(struct tj_keyring *kr, struct tj_txn *t, const struct tj_rotate_body *b,
                      const uint8_t rec_id[32])
{
	uint8_t cur_id[32], v[40];
	uint64_t cur = 0;
	bool newest;
	int rc;

	if ((rc = tj__epoch_meta(t, &cur, cur_id)) != 0)
		return rc;
	newest = b->epoch > cur || (b->epoch == cur && memcmp(rec_id, cur_id, 32) < 0);
	rc = tj_keyring_add_epoch(kr, b->epoch_key, false);
	if (rc != 0 && rc != TJ_EEXIST)
		return rc;
	if (!newest)
		return 0;
	for (uint32_t i = 0; i < kr->n_epochs; i++)
		if (memcmp(kr->epochs[i].id, b->epoch_id, 32) == 0)
			kr->current_epoch = i;
	if ((rc = tj_keyring_set_next_network_key(kr, b->network_key, b->network_from_ms)) != 0)
		return rc;
	tj_store_be64(b->epoch, v);
	memcpy(v + 8, rec_id, 32);
	return tj_store_meta_put(t, TJ_META_EPOCH, v, sizeof(v));
}

int tj_rotate_ingest_stored(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                            const uint8_t id[32])
{
	struct tj_node *n = tj__bound_node;
	struct tj_rotate_body b;
	uint8_t plain[TJ_ROTATE_BODY_MAX_BYTES];
	char hex[TJ_LOG_HEX_CHARS];
	size_t plen = 0;
	int rc;

	if (rec->kind != TJ_KIND_KEY || n == NULL || !n->has_network ||
	    memcmp(rec->network_id, n->network_id, 32) != 0)
		return 0;
	if (!tj_member_txn_is_steward_member(t, rec->author)) {
		tj_log(TJ_LOG_WARN, "rotate", "key record %s ignored: its author is not a steward",
		       tj_log_hex(id, hex));
		return 0;
	}
	rc = tj_record_open(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, plain, sizeof(plain), &plen);
	if (rc != 0) {
		tj_log(TJ_LOG_DEBUG, "rotate", "key record %s is not for this node (%s)", tj_log_hex(id, hex),
		       tj_errname(rc));
		return 0;
	}
	rc = tj_rotate_body_decode(plain, plen, &b);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0) {
		tj_log(TJ_LOG_WARN, "rotate", "key record %s ignored: malformed body (%s)",
		       tj_log_hex(id, hex), tj_errname(rc));
		return 0;
	}
	rc = tj_rotate_install(n->keyring, t, &b, id);
	sodium_memzero(&b, sizeof(b));
	if (rc == 0)
		rc = tj_keyring_save(n->keyring, t, n->u->storage_key);
	if (rc == 0)
		tj_log(TJ_LOG_INFO, "rotate", "key record %s installed", tj_log_hex(id, hex));
	return rc;
}

/* The ts of the KEY record of the sealing epoch; *found false for epoch 0 or a KEY record not stored. */
static int tj__epoch_ts(struct tj_txn *t, uint64_t *epoch, bool *found, uint64_t *ts_ms)
{
	struct tj_record rec;
	uint8_t rec_id[32], id[32];
	const uint8_t *enc;
	size_t len;
	int rc;

	*found = false;
	*ts_ms = 0;
	if ((rc = tj__epoch_meta(t, epoch, rec_id)) != 0 || *epoch == 0)
		return rc;
	rc = tj_store_get(t, rec_id, &enc, &len);
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (tj_record_verify(enc, len, &rec, id) != 0 || memcmp(id, rec_id, 32) != 0)
		return TJ_ESTORE;
	*found = true;
	*ts_ms = rec.ts_ms;
	return 0;
}

int tj_rotate_needed(struct tj_txn *t, const struct tj_keyring *kr, const struct tj_member_state *s,
                     bool *needed)
{
	uint64_t epoch = 0, ts_ms = 0;
	bool found = false;
	int rc;

	*needed = false;
	if (s->n_removed == 0)
		return 0;
	if ((rc = tj__epoch_ts(t, &epoch, &found, &ts_ms)) != 0)
		return rc;
	/*
	 * No epoch installed here, yet more than one epoch key: a node that
	 * joined after a rotation (its welcome carries the keys, not the KEY
	 * record). When they were made is unknown here: not needed (stewards
	 * whose node installed a KEY record decide).
	 */
	if (epoch == 0 && kr != NULL && kr->n_epochs > 1)
		return 0;
	*needed = !found || ts_ms <= s->removed_ms;
	return 0;
}

/* One KEY record to readers[0..k), this node's next record, through ingest (which installs it here). */
static int tj__write_key(struct tj_node *n, struct tj_txn *t, const uint8_t *body, size_t body_len,
                         const uint8_t (*readers)[32], uint32_t k, uint64_t min_ts_ms, uint8_t *rec,
                         uint8_t id[32])
{
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item it;
	struct tj_seal_in in;
	uint8_t head[40];
	uint64_t seq = 0;
	int rc;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, n->network_id, 32);
	if ((rc = tj_node_head_get(t, &in.has_prev, &seq, in.prev)) != 0)
		return rc;
	in.seq = in.has_prev ? seq + 1 : 0;
	in.ts_ms = ctx.now_ms > min_ts_ms ? ctx.now_ms : min_ts_ms;
	in.kind = TJ_KIND_KEY;
	in.audience.type = TJ_AUD_NAMED;
	in.readers = readers;
	in.n_readers = k;
	in.body = body;
	in.body_len = body_len;
	memset(&it, 0, sizeof(it));
	if ((rc = tj_record_seal(&in, n->u->id, rec, TJ__REC_CAP, &it.len, it.id)) != 0)
		return rc;
	memcpy(ctx.network_id, n->network_id, 32);
	it.enc = rec;
	tj_ingest_validate(&ctx, &it);
	if ((rc = tj_ingest_put(t, &it)) != 0)
		return rc;
	if (it.result != 0)
		return it.result;
	tj_store_be64(in.seq, head);
	memcpy(head + 8, it.id, 32);
	memcpy(id, it.id, 32);
	return tj_store_meta_put(t, TJ_META_HEAD, head, sizeof(head));
}

int tj_rotate(struct tj_node *n, uint64_t changeover_ms, uint64_t *epoch)
{
	struct tj_member_state *s = NULL;
	struct tj_rotate_body *b = NULL;
	uint8_t body[TJ_ROTATE_BODY_MAX_BYTES], cur_id[32], (*ids)[32] = NULL, *rec = NULL;
	uint8_t(*readers)[32] = NULL;
	const struct tj_member *me;
	size_t body_len = 0, n_ids = 0;
	uint64_t cur = 0, min_ts_ms;
	struct tj_txn t;
	bool open = false;
	int rc;

	if (n == NULL || !n->has_network)
		return TJ_ESTATE;
	if ((rc = tj_member_load(n->store, &s)) != 0)
		return rc;
	me = tj_member_find(s, n->u->id->pk);
	if (me == NULL || me->role != TJ_ROLE_STEWARD) {
		rc = TJ_ESTATE;
		goto out;
	}
	b = sodium_malloc(sizeof(*b));
	rec = malloc(TJ__REC_CAP);
	readers = calloc(s->n, 32);
	ids = calloc(s->n / TJ_RECORD_SLOTS_MAX + 1, 32);
	if (b == NULL || rec == NULL || readers == NULL || ids == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		memcpy(readers[i], s->members[i].pk, 32);
	crypto_secretbox_keygen(b->epoch_key);
	crypto_secretbox_keygen(b->network_key);
	tj_sym_key_id(b->epoch_key, b->epoch_id);
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		goto out;
	open = true;
	if ((rc = tj__epoch_meta(&t, &cur, cur_id)) != 0)
		goto out;
	b->epoch = cur + 1;
	/* The KEY records sort after the latest removal, whatever the clocks: tj_rotate_needed is false after. */
	min_ts_ms = s->n_removed > 0 ? s->removed_ms + 1 : 0;
	b->network_from_ms = tj_now_ms() + changeover_ms;
	if ((rc = tj_rotate_body_encode(b, body, sizeof(body), &body_len)) != 0)
		goto out;
	for (size_t i = 0; i < s->n && rc == 0; i += TJ_RECORD_SLOTS_MAX) {
		size_t k = s->n - i < TJ_RECORD_SLOTS_MAX ? s->n - i : TJ_RECORD_SLOTS_MAX;
		rc = tj__write_key(n, &t, body, body_len, (const uint8_t(*)[32])readers[i], (uint32_t)k, min_ts_ms,
		                   rec, ids[n_ids++]);
	}
	if (rc == 0)
		rc = tj_txn_commit(&t);
	if (rc == 0) {
		*epoch = b->epoch;
		tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])ids, n_ids);
		tj_log(TJ_LOG_INFO, "rotate", "epoch %llu: %zu key record%s for %zu member%s",
		       (unsigned long long)b->epoch, n_ids, n_ids == 1 ? "" : "s", s->n,
		       s->n == 1 ? "" : "s");
	}
out:
	if (open)
		tj_txn_abort(&t);
	sodium_memzero(body, sizeof(body));
	sodium_free(b);
	free(rec);
	free(readers);
	free(ids);
	tj_member_state_free(s);
	return rc;
}

/* Is this node's steward the lowest public key among the current stewards? */
static bool tj__first_steward(const struct tj_member_state *s, const uint8_t pk[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (s->members[i].role == TJ_ROLE_STEWARD && memcmp(s->members[i].pk, pk, 32) < 0)
			return false;
	return true;
}

int tj_rotate_auto(struct tj_node *n, bool may_defer, bool *deferred)
{
	struct tj_member_state *s = NULL;
	const struct tj_member *me;
	uint64_t epoch = 0;
	struct tj_txn t;
	bool needed = false;
	int rc;

	*deferred = false;
	if (n == NULL || !n->has_network)
		return 0;
	if ((rc = tj_member_load(n->store, &s)) != 0)
		return rc;
	me = tj_member_find(s, n->u->id->pk);
	if (me == NULL || me->role != TJ_ROLE_STEWARD || s->n_removed == 0)
		goto out;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	rc = tj_rotate_needed(&t, n->keyring, s, &needed);
	tj_txn_abort(&t);
	if (rc != 0 || !needed)
		goto out;
	if (may_defer && !tj__first_steward(s, me->pk)) {
		*deferred = true;
		goto out;
	}
	tj_log(TJ_LOG_INFO, "rotate", "a removal took effect after the sealing epoch's keys were made: rotating");
	rc = tj_rotate(n, TJ_ROTATE_CHANGEOVER_MS, &epoch);
out:
	tj_member_state_free(s);
	return rc;
}
