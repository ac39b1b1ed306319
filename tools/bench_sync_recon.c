/*
 * bench_sync: one cell of the reconciliation matrix. Both sides run the
 * node's Negentropy code with the node's options (node/tj_sync.c: the
 * initiator's frame limit and id cap, a fresh responder session per query),
 * every message is sized as the node encodes it (node/tj_wire.h) and as
 * box-stream seals it, and the fetch that follows is sized as the node splits
 * it (WANTs of TJ_WIRE_WANT_MAX ids, RECORDS parts of at most 256 records /
 * 512 KiB).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bench_sync.h"
#include "tj_boxstream.h"
#include "tj_peer.h"
#include "tj_shs.h"
#include "tj_wire.h"

/* A missing record: its id (the sort key, as the initiator's need list is sorted) and its index. */
struct bs_miss {
	uint8_t id[32];
	uint32_t i;
};

static int bs_miss_cmp(const void *a, const void *b)
{
	return memcmp(((const struct bs_miss *)a)->id, ((const struct bs_miss *)b)->id, 32);
}

/* Bytes box-stream puts on the wire for one application message of len bytes. */
static uint64_t bs_wire(size_t len)
{
	return tj_boxstream_msg_sealed_bytes(len);
}

static size_t bs_neg_msg_len(const struct tj_neg_msg *m, uint8_t *scratch)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, scratch, TJ_WIRE_MSG_MAX_BYTES);
	tj_wire_put_neg(&w, m->bytes, m->len);
	if (tj_mp_writer_finish(&w, &len) != 0)
		bs_die("neg message", TJ_ENOSPC);
	return len;
}

/* Chooses the d records the initiator lacks; skip[i] = 1 for each. Returns them sorted by id. */
static struct bs_miss *bs_pick(const struct bs_corpus *c, const struct bs_cell *cell, uint8_t *skip)
{
	struct bs_miss *miss = malloc((cell->d + 1) * sizeof(*miss));
	size_t picked = 0;

	if (miss == NULL)
		bs_die("memory", -ENOMEM);
	while (picked < cell->d) {
		size_t i = cell->missing == BS_SCATTERED ? randombytes_uniform((uint32_t)cell->n)
		                                         : cell->n - 1 - picked;
		if (skip[i])
			continue;
		skip[i] = 1;
		memcpy(miss[picked].id, c->items[i].id, 32);
		miss[picked++].i = (uint32_t)i;
	}
	qsort(miss, cell->d, sizeof(*miss), bs_miss_cmp);
	return miss;
}

/* The fetch of the d missing records, in the order the initiator asks for them. */
static void bs_fetch(const struct bs_corpus *c, const struct bs_miss *miss, struct bs_cell *cell,
                     uint8_t *scratch)
{
	uint8_t ids[TJ_WIRE_WANT_MAX * 32];
	struct tj_mp_writer w;
	size_t wants = 0, len = 0, d = cell->d;

	for (size_t i = 0; i < d; i += TJ_WIRE_WANT_MAX) {
		size_t k = d - i < TJ_WIRE_WANT_MAX ? d - i : TJ_WIRE_WANT_MAX;
		size_t count = 0, bytes = 0, body = 0;

		for (size_t j = 0; j < k; j++)
			memcpy(ids + 32 * j, miss[i + j].id, 32);
		tj_mp_writer_init(&w, scratch, TJ_WIRE_MSG_MAX_BYTES);
		tj_wire_put_ids(&w, TJ_WIRE_WANT, ids, k);
		if (tj_mp_writer_finish(&w, &len) != 0)
			bs_die("want", TJ_ENOSPC);
		cell->wire_i2r += bs_wire(len);
		wants++;
		/* The answer, split as tj_sync.c's tj__rb_add splits it. */
		for (size_t j = 0; j < k; j++) {
			size_t rl = c->len[miss[i + j].i];
			if (count == TJ_WIRE_RECORDS_MAX || bytes + rl > TJ_WIRE_RECORDS_MAX_BYTES) {
				cell->wire_r2i += bs_wire(6 + body); /* [4, last, [..]] head */
				count = bytes = body = 0;
			}
			count++;
			bytes += rl;
			body += tj_wire_record_cost(rl);
		}
		cell->wire_r2i += bs_wire(6 + body);
	}
	cell->fetch_rounds = (uint32_t)((wants + TJ_PEER_WANTS_INFLIGHT - 1) / TJ_PEER_WANTS_INFLIGHT);
}

/* The Negentropy exchange as the node runs it; returns the initiator session (done). */
static struct tj_neg *bs_exchange(const struct tj_neg_storage *resp_st, const struct tj_neg_storage *ini_st,
                                  struct bs_cell *cell, uint8_t *scratch)
{
	struct tj_neg_opts io = {.frame_limit_bytes = TJ_PEER_NEG_FRAME_BYTES,
	                         .max_ids = 2 * TJ_PEER_WANT_QUEUE_MAX};
	struct tj_neg_opts ro = {.frame_limit_bytes = TJ_PEER_NEG_FRAME_BYTES};
	struct tj_neg *ini = NULL, *resp = NULL;
	struct tj_neg_msg q, a;
	int rc;

	if ((rc = tj_neg_new(ini_st, &io, &ini)) != 0 || (rc = tj_neg_initiate(ini, &q)) != 0)
		bs_die("initiate", rc);
	while (q.len > 0) {
		cell->neg_rounds++;
		cell->neg_i2r += q.len;
		cell->wire_i2r += bs_wire(bs_neg_msg_len(&q, scratch));
		/* A fresh responder per message, as tj_sync.c answers each query on its own. */
		if ((rc = tj_neg_new(resp_st, &ro, &resp)) != 0 ||
		    (rc = tj_neg_reconcile(resp, q.bytes, q.len, &a)) != 0)
			bs_die("respond", rc);
		cell->neg_r2i += a.len;
		cell->wire_r2i += bs_wire(bs_neg_msg_len(&a, scratch));
		rc = tj_neg_reconcile(ini, a.bytes, a.len, &q);
		tj_neg_free(resp);
		resp = NULL;
		if (rc != 0)
			bs_die("reconcile", rc);
	}
	return ini;
}

/* Did the initiator learn exactly the missing ids, and nothing else? Both lists are sorted by id. */
static void bs_check(const struct tj_neg *ini, const struct bs_miss *miss, struct bs_cell *cell)
{
	struct tj_neg_ids need, have;
	size_t a = 0, b = 0;

	tj_neg_need(ini, &need);
	tj_neg_have(ini, &have);
	cell->found = need.count;
	cell->extra = have.count;
	cell->matched = 0;
	while (tj_neg_is_done(ini) && a < need.count && b < cell->d) {
		int cmp = memcmp(need.ids + 32 * a, miss[b].id, 32);
		cell->matched += cmp == 0;
		a += cmp <= 0;
		b += cmp >= 0;
	}
	cell->exact =
	    tj_neg_is_done(ini) && need.count == cell->d && cell->matched == cell->d && have.count == 0;
}

void bs_cell_run(const struct bs_corpus *c, struct bs_cell *cell)
{
	struct tj_neg_storage *resp_st = NULL, *ini_st = NULL;
	struct tj_neg_item *have = malloc((cell->n + 1) * sizeof(*have));
	uint8_t *skip = calloc(cell->n + 1, 1), *scratch = malloc(TJ_WIRE_MSG_MAX_BYTES);
	struct bs_miss *miss;
	struct tj_neg *ini;
	size_t nb = 0;
	double t0;
	int rc;

	if (have == NULL || skip == NULL || scratch == NULL)
		bs_die("memory", -ENOMEM);
	cell->neg_rounds = cell->fetch_rounds = 0;
	cell->neg_i2r = cell->neg_r2i = 0;
	miss = bs_pick(c, cell, skip);
	for (size_t i = 0; i < cell->n; i++)
		if (!skip[i])
			have[nb++] = c->items[i];
	/* Both snapshots as tj_sync.c builds them (unsorted input: sorted by the storage). */
	t0 = bs_now();
	if ((rc = tj_neg_storage_new(c->items, cell->n, 0, &resp_st)) != 0 ||
	    (rc = tj_neg_storage_new(have, nb, 0, &ini_st)) != 0)
		bs_die("storage", rc);
	cell->snapshots_s = bs_now() - t0;
	/* The handshake (client msg1 + msg3, server msg2 + msg4) and the two HELLOs. */
	cell->wire_i2r = TJ_SHS_MSG1_BYTES + TJ_SHS_MSG3_BYTES + bs_wire(40);
	cell->wire_r2i = TJ_SHS_MSG2_BYTES + TJ_SHS_MSG4_BYTES + bs_wire(40);
	t0 = bs_thread_cpu();
	ini = bs_exchange(resp_st, ini_st, cell, scratch);
	cell->cpu_ms = (bs_thread_cpu() - t0) * 1e3;
	bs_check(ini, miss, cell);
	bs_fetch(c, miss, cell, scratch);
	tj_neg_free(ini);
	tj_neg_storage_free(resp_st);
	tj_neg_storage_free(ini_st);
	free(miss);
	free(have);
	free(skip);
	free(scratch);
}
