#include "tj_ingest.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "tj_circle.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_retract.h"
#include "tj_rotate.h"
#include "tj_seal.h"

uint64_t tj_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool tj__all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int tj__check_network(const struct tj_ingest_ctx *ctx, const struct tj_ingest_item *it)
{
	if (!ctx->has_network)
		return TJ_ENETWORK;
	if (it->rec.kind == TJ_KIND_GENESIS) {
		/* The genesis names no network: its own id is the network id. */
		if (!tj__all_zero(it->rec.network_id, 32) || memcmp(it->id, ctx->network_id, 32) != 0)
			return TJ_ENETWORK;
		return it->rec.seq == 0 && !it->rec.has_prev ? 0 : TJ_ECHAIN;
	}
	return memcmp(it->rec.network_id, ctx->network_id, 32) == 0 ? 0 : TJ_ENETWORK;
}

void tj_ingest_validate(const struct tj_ingest_ctx *ctx, struct tj_ingest_item *it)
{
	int rc;

	it->valid = false;
	it->stored = false;
	if (it->len > TJ_RECORD_MAX_BYTES) {
		it->result = TJ_ELIMIT;
		return;
	}
	/* Signature before anything else looks at the contents. */
	rc = tj_record_verify(it->enc, it->len, &it->rec, it->id);
	if (rc == 0)
		rc = tj__check_network(ctx, it);
	if (rc == 0 && it->rec.ts_ms > ctx->now_ms + TJ_FUTURE_SKEW_MS)
		rc = TJ_EFUTURE;
	if (rc == 0 && (it->rec.seq == 0) == it->rec.has_prev)
		rc = TJ_ECHAIN; /* the first record has no prev; every later one has one */
	it->result = rc;
	it->valid = rc == 0;
}

/* Is the record's prev consistent with what we hold of (author, seq - 1)? */
static int tj__check_prev(struct tj_txn *t, const struct tj_record *rec)
{
	uint8_t ids[4][32];
	size_t n = 0;
	int rc;

	if (rec->seq == 0)
		return 0;
	if ((rc = tj_store_chain_ids(t, rec->author, rec->seq - 1, ids, 4, &n)) != 0)
		return rc;
	/* Out-of-order arrival is normal (n == 0); a prev naming none of the known ones is not. */
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], rec->prev, 32) == 0)
			return 0;
	return n == 0 ? 0 : TJ_ECHAIN;
}

/* Another id at (author, seq): keep both, freeze the author. */
static int tj__equivocation(struct tj_txn *t, struct tj_ingest_item *it, const uint8_t other[32])
{
	char a[TJ_LOG_HEX_CHARS], x[TJ_LOG_HEX_CHARS], y[TJ_LOG_HEX_CHARS];
	int rc;

	if ((rc = tj_store_put_record(t, it->id, &it->rec, it->enc, it->len)) != 0)
		return rc;
	if ((rc = tj_store_freeze(t, it->rec.author, other, it->id)) != 0)
		return rc;
	TJ_LOG_W("ingest", "equivocation: author %s seq %llu has records %s and %s; author frozen",
		 tj_log_hex(it->rec.author, a), (unsigned long long)it->rec.seq, tj_log_hex(other, x),
		 tj_log_hex(it->id, y));
	it->stored = true;
	it->result = TJ_EEQUIVOCATION;
	return 0;
}

/* TJ_ENOTFOUND from a lookup is an answer, not a failure. */
static bool tj__fatal(int rc)
{
	return rc != 0 && rc != TJ_ENOTFOUND;
}

int tj_ingest_put(struct tj_txn *t, struct tj_ingest_item *it)
{
	uint8_t other[4][32];
	size_t n = 0;
	int rc;

	it->stored = false;
	if (!it->valid)
		return 0;
	rc = tj_store_has(t, it->id);
	if (rc == 0) {
		it->result = TJ_EEXIST;
		return 0;
	}
	if (tj__fatal(rc) || tj__fatal(rc = tj_store_tombstoned(t, it->id)))
		return rc;
	if (rc == 0) {
		it->result = TJ_ERETRACTED;
		return 0;
	}
	if (tj__fatal(rc = tj_store_frozen(t, it->rec.author, NULL)))
		return rc;
	if (rc == 0) {
		it->result = TJ_EFROZEN;
		return 0;
	}
	/* Who may speak (tj_member.h): non-members' records, and non-stewards' membership records, stop here. */
	if ((rc = tj_member_ingest_check(t, &it->rec, &it->result)) != 0 || it->result != 0)
		return rc;
	/* Retractions, the targets of earlier ones, slot grants (tj_retract.h). */
	if ((rc = tj_retract_ingest_check(t, it->enc, it->len, &it->rec, it->id, &it->result)) != 0 ||
	    it->result != 0)
		return rc;
	/* Circle records: the admin's alone, naming members only (tj_circle.h). */
	if ((rc = tj_circle_ingest_check(t, it->enc, &it->rec, it->id, &it->result)) != 0 || it->result != 0)
		return rc;
	if ((rc = tj_store_chain_ids(t, it->rec.author, it->rec.seq, other, 4, &n)) != 0)
		return rc;
	if (n > 0)
		return tj__equivocation(t, it, other[0]);
	rc = tj__check_prev(t, &it->rec);
	if (rc == TJ_ECHAIN) {
		it->result = rc;
		return 0;
	}
	if (rc != 0 || (rc = tj_store_put_record(t, it->id, &it->rec, it->enc, it->len)) != 0)
		return rc;
	if (it->rec.kind == TJ_KIND_CASE && it->rec.audience.has_ref &&
	    (rc = tj_store_case_of_put(t, it->rec.audience.ref, it->id)) != 0)
		return rc;
	if ((rc = tj_member_ingest_stored(t, &it->rec, it->id)) != 0)
		return rc;
	/* A KEY record for this node: its keys join the keyring (tj_rotate.h). */
	if ((rc = tj_rotate_ingest_stored(t, it->enc, &it->rec, it->id)) != 0)
		return rc;
	/* A CIRCLE record naming this node: its circle key joins the keyring (tj_circle.h). */
	if ((rc = tj_circle_ingest_stored(t, it->enc, &it->rec, it->id)) != 0)
		return rc;
	if ((rc = tj_retract_ingest_stored(t, it->enc, it->len, &it->rec, it->id)) != 0)
		return rc;
	it->stored = true;
	it->result = 0;
	return 0;
}

/*
 * A batch is validated by every core while this thread stores it: workers
 * (and this thread, when it would otherwise wait) claim blocks of items in
 * order; this thread puts item i as soon as it is validated, so signature
 * checks overlap the B-tree work and only the commit is left alone.
 */
#define TJ__VBLOCK 16             /* items claimed at once */
#define TJ__VTHREADS_MAX 16

struct tj__vjob {
	const struct tj_ingest_ctx *ctx;
	struct tj_ingest_item *items;
	size_t n;
	atomic_size_t next;                     /* first item not claimed yet */
	atomic_uchar done[TJ_INGEST_BATCH_MAX]; /* validated (release) */
};

/* Claims and validates one block; false when none is left. */
static bool tj__vjob_step(struct tj__vjob *j)
{
	size_t from = atomic_fetch_add_explicit(&j->next, TJ__VBLOCK, memory_order_relaxed);
	size_t to = from + TJ__VBLOCK < j->n ? from + TJ__VBLOCK : j->n;

	if (from >= j->n)
		return false;
	for (size_t i = from; i < to; i++) {
		tj_ingest_validate(j->ctx, &j->items[i]);
		atomic_store_explicit(&j->done[i], 1, memory_order_release);
	}
	return true;
}

static void *tj__vjob_worker(void *arg)
{
	while (tj__vjob_step(arg))
		;
	return NULL;
}

/* Waits for item i, validating other blocks meanwhile. */
static void tj__vjob_wait(struct tj__vjob *j, size_t i)
{
	while (!atomic_load_explicit(&j->done[i], memory_order_acquire))
		if (!tj__vjob_step(j))
			sched_yield();
}

/* Extra threads for n items: one per other core, none for small batches. */
static unsigned tj__vjob_threads(size_t n)
{
	unsigned cores = uv_available_parallelism();
	size_t k = cores > 1 ? cores - 1 : 0;
	size_t useful = n / (4 * TJ__VBLOCK);

	k = k < useful ? k : useful;
	return (unsigned)(k < TJ__VTHREADS_MAX ? k : TJ__VTHREADS_MAX);
}

static void tj__batch_fail(struct tj_ingest_item *items, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].valid && (items[i].stored || items[i].result == 0)) {
			items[i].stored = false;
			items[i].result = rc;
		}
	}
}

int tj_ingest_batch(struct tj_store *st, const struct tj_ingest_ctx *ctx, struct tj_ingest_item *items, size_t n)
{
	struct tj__vjob *j; /* on the heap: workers read it, and its flags are 1 KB */
	pthread_t tid[TJ__VTHREADS_MAX];
	unsigned k = 0, want;
	size_t n_valid = 0;
	struct tj_txn t;
	int rc;

	if (n > TJ_INGEST_BATCH_MAX)
		return TJ_ELIMIT;
	if (n == 0)
		return 0;
	if ((j = malloc(sizeof(*j))) == NULL)
		return -ENOMEM;
	j->ctx = ctx;
	j->items = items;
	j->n = n;
	atomic_init(&j->next, 0);
	for (size_t i = 0; i < n; i++)
		atomic_init(&j->done[i], 0);
	for (want = tj__vjob_threads(n); k < want; k++)
		if (pthread_create(&tid[k], NULL, tj__vjob_worker, j) != 0)
			break; /* fewer helpers: this thread does the rest */
	rc = tj_txn_begin(st, true, &t);
	for (size_t i = 0; i < n; i++) {
		tj__vjob_wait(j, i);
		n_valid += items[i].valid;
		if (rc == 0)
			rc = tj_ingest_put(&t, &items[i]);
	}
	while (k > 0)
		pthread_join(tid[--k], NULL);
	free(j);
	if (rc == 0 && n_valid == 0) {
		tj_txn_abort(&t);
		return 0;
	}
	if (rc == 0)
		rc = tj_txn_commit(&t);
	else
		tj_txn_abort(&t);
	if (rc != 0)
		tj__batch_fail(items, n, rc);
	return rc;
}
