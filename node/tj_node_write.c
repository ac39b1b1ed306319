/* Writing this node's own records inside a caller's transaction (tj_node_core.h). */
#include "tj_node_core.h"

#include <string.h>

#include "tj_ingest.h"
#include "tj_keyring.h"
#include "tj_seal.h"

int tj_node_head_get(struct tj_txn *t, bool *has, uint64_t *seq, uint8_t id[32])
{
	const uint8_t *v;
	size_t len;
	int rc = tj_store_meta_get(t, TJ_META_HEAD, &v, &len);

	*has = false;
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len != 40)
		return TJ_ESTORE;
	*has = true;
	*seq = tj_store_rd64(v);
	memcpy(id, v + 8, 32);
	return 0;
}

int tj_node_head_set(struct tj_txn *t, uint64_t seq, const uint8_t id[32])
{
	uint8_t head[40];

	tj_store_be64(seq, head);
	memcpy(head + 8, id, 32);
	return tj_store_meta_put(t, TJ_META_HEAD, head, sizeof(head));
}

int tj_node_write_txn(struct tj_node *n, struct tj_txn *t, uint8_t kind, const uint8_t *body, size_t body_len,
                      uint8_t *rec, size_t rec_cap, uint8_t id[32])
{
	const struct tj_sym_key *epoch = tj_keyring_current_epoch(n->keyring);
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item it;
	struct tj_seal_in in;
	uint64_t seq = 0;
	int rc;

	if (epoch == NULL)
		return TJ_ESTATE;
	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, n->network_id, 32);
	if ((rc = tj_node_head_get(t, &in.has_prev, &seq, in.prev)) != 0)
		return rc;
	in.seq = in.has_prev ? seq + 1 : 0;
	in.ts_ms = ctx.now_ms;
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch->id, 32);
	in.epoch = epoch;
	in.body = body;
	in.body_len = body_len;
	memset(&it, 0, sizeof(it));
	if ((rc = tj_record_seal(&in, n->u->id, rec, rec_cap, &it.len, it.id)) != 0)
		return rc;
	memcpy(ctx.network_id, n->network_id, 32);
	it.enc = rec;
	tj_ingest_validate(&ctx, &it);
	if ((rc = tj_ingest_put(t, &it)) != 0)
		return rc;
	if (it.result != 0)
		return it.result;
	memcpy(id, it.id, 32);
	return tj_node_head_set(t, in.seq, it.id);
}
