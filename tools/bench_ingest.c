/*
 * Ingest of N sealed records into an empty store, the way peers' records go
 * in: batches of 1,000, validated (decode, signature, network, clock, chain
 * shape), then stored in one write transaction each, acknowledged after
 * mdb_txn_commit.
 *
 * Two ways, each in its own child process so that its peak RSS is its own
 * (the child starts from the parent's small footprint, reported as base_kb):
 *   threads == 0  tj_ingest_batch() as it is: validation on every core while
 *                 this thread stores the batch in order, then the commit
 *   threads >= 1  a pipeline: tj_ingest_validate() of batch k + 1 on
 *                 `threads` threads while this thread runs tj_ingest_put()
 *                 of batch k in one transaction and commits it (what the
 *                 sync path does with the libuv thread pool)
 * Reading the records file (page cache, 1 MiB a batch) is inside the timing,
 * as reading a peer's socket would be.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "tj_ingest.h"
#include "tj_store.h"

struct bench__stripe {
	const struct tj_ingest_ctx *ctx;
	struct tj_ingest_item *items;
	size_t from, to;
};

static void *bench__validate_stripe(void *arg)
{
	struct bench__stripe *s = arg;

	for (size_t i = s->from; i < s->to; i++)
		tj_ingest_validate(s->ctx, &s->items[i]);
	return NULL;
}

/* Validation of one batch on its own threads, while the caller stores the previous batch. */
struct bench__vset {
	pthread_t tid[64];
	struct bench__stripe s[64];
	uint32_t k;
};

static void bench__validate_start(struct bench__vset *v, const struct tj_ingest_ctx *ctx, struct tj_ingest_item *items,
				  size_t n, uint32_t threads)
{
	v->k = threads > 64 ? 64 : threads;
	for (uint32_t j = 0; j < v->k; j++) {
		v->s[j] = (struct bench__stripe){ctx, items, n * j / v->k, n * (j + 1) / v->k};
		if (pthread_create(&v->tid[j], NULL, bench__validate_stripe, &v->s[j]) != 0)
			bench_die("pthread_create failed");
	}
}

static void bench__validate_join(struct bench__vset *v)
{
	for (uint32_t j = 0; j < v->k; j++)
		pthread_join(v->tid[j], NULL);
	v->k = 0;
}

/* The store step of a validated batch: one transaction, acknowledged after the commit. */
static int bench__store(struct tj_store *st, struct tj_ingest_item *items, size_t n)
{
	struct tj_txn t;
	int rc;

	if ((rc = tj_txn_begin(st, true, &t)) != 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tj_ingest_put(&t, &items[i]);
	if (rc != 0) {
		tj_txn_abort(&t);
		return rc;
	}
	return tj_txn_commit(&t);
}

/* Reads up to BENCH_BATCH records into arena; returns how many. */
static size_t bench__read_batch(FILE *f, uint8_t *arena, struct tj_ingest_item *items)
{
	size_t n = 0, off = 0;
	uint8_t hdr[4];

	while (n < BENCH_BATCH && fread(hdr, 1, 4, f) == 4) {
		size_t len = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
		if (len > BENCH_REC_MAX_BYTES || fread(arena + off, 1, len, f) != len)
			bench_die("the records file is damaged");
		memset(&items[n], 0, sizeof(items[n]));
		items[n].enc = arena + off;
		items[n].len = len;
		off += len;
		n++;
	}
	return n;
}

static void bench__count(const struct tj_ingest_item *items, size_t n, struct bench_ingest_result *r)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].result == 0) {
			r->records++;
			continue;
		}
		if (r->refused++ == 0)
			fprintf(stderr, "tejido-bench: ingest refused a record: %s\n", tj_strerror(items[i].result));
	}
}

static void bench__used(struct tj_store *st, struct bench_ingest_result *r)
{
	struct tj_store_stats s;
	struct tj_txn t;

	if (tj_txn_begin(st, false, &t) != 0)
		return;
	if (tj_store_stats(&t, &s) == 0)
		r->used_bytes = s.used_bytes;
	tj_txn_abort(&t);
}

/*
 * threads >= 1: a pipeline, as the sync path runs it with the libuv pool:
 * batch k + 1 is read and validated on `threads` threads while this thread
 * stores and commits batch k.
 */
static int bench__pipeline(struct tj_store *st, const struct tj_ingest_ctx *ctx, FILE *f, uint8_t *arena[2],
			   struct tj_ingest_item *items[2], uint32_t threads, struct bench_ingest_result *r)
{
	struct bench__vset v = {.k = 0};
	size_t n = bench__read_batch(f, arena[0], items[0]), next;
	int cur = 0, rc = 0;

	if (n > 0)
		bench__validate_start(&v, ctx, items[0], n, threads);
	while (n > 0) {
		bench__validate_join(&v);
		next = bench__read_batch(f, arena[cur ^ 1], items[cur ^ 1]);
		if (next > 0)
			bench__validate_start(&v, ctx, items[cur ^ 1], next, threads);
		if ((rc = bench__store(st, items[cur], n)) != 0)
			break;
		bench__count(items[cur], n, r);
		cur ^= 1;
		n = next;
	}
	bench__validate_join(&v);
	return rc;
}

static void bench__ingest_child(const struct bench_net *net, const char *records, const char *dir, uint32_t threads,
				struct bench_ingest_result *r)
{
	struct tj_ingest_ctx ctx = {.has_network = true};
	struct tj_store *st = NULL;
	uint8_t *arena[2] = {malloc((size_t)BENCH_BATCH * BENCH_REC_MAX_BYTES),
			     malloc((size_t)BENCH_BATCH * BENCH_REC_MAX_BYTES)};
	struct tj_ingest_item *items[2] = {calloc(BENCH_BATCH, sizeof(**items)), calloc(BENCH_BATCH, sizeof(**items))};
	FILE *f = fopen(records, "rb");
	double t0, c0, s_cpu0 = 0, s_wait0 = 0, s_cpu1 = 0, s_wait1 = 0;
	size_t n;

	if (arena[0] == NULL || arena[1] == NULL || items[0] == NULL || items[1] == NULL || f == NULL)
		bench_die("cannot set up the ingest");
	if ((r->err = tj_store_open(dir, 0, &st)) != 0)
		return;
	memcpy(ctx.network_id, net->network_id, 32);
	ctx.now_ms = tj_now_ms();
	r->base_kb = bench_status_kb(0, "VmRSS");
	(void)bench_schedstat(&s_cpu0, &s_wait0);
	t0 = bench_now();
	c0 = bench_cpu_self();
	if (threads > 0) {
		r->err = bench__pipeline(st, &ctx, f, arena, items, threads, r);
	} else {
		while ((n = bench__read_batch(f, arena[0], items[0])) > 0) {
			if ((r->err = tj_ingest_batch(st, &ctx, items[0], n)) != 0)
				break;
			bench__count(items[0], n, r);
		}
	}
	r->wall_s = bench_now() - t0;
	r->cpu_s = bench_cpu_self() - c0;
	if (bench_schedstat(&s_cpu1, &s_wait1)) {
		r->main_cpu_s = s_cpu1 - s_cpu0;
		r->main_wait_s = s_wait1 - s_wait0;
		r->main_block_s = r->wall_s - r->main_cpu_s - r->main_wait_s;
	}
	r->hwm_kb = bench_status_kb(0, "VmHWM");
	r->anon_kb = bench_status_kb(0, "RssAnon");
	r->file_kb = bench_status_kb(0, "RssFile");
	bench__used(st, r);
	tj_store_close(st);
	fclose(f);
	for (int i = 0; i < 2; i++) {
		free(arena[i]);
		free(items[i]);
	}
}

void bench_ingest_run(const struct bench_net *net, const char *records, const char *dir, uint32_t threads,
		      struct bench_ingest_result *out)
{
	int p[2];
	pid_t pid;
	int status = 0;
	char store[BENCH_PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (pipe(p) != 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct bench_ingest_result r = {0};
		close(p[0]);
		bench__ingest_child(net, records, dir, threads, &r);
		_exit(write(p[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], out, sizeof(*out)) != (ssize_t)sizeof(*out))
		out->err = -EIO;
	close(p[0]);
	waitpid(pid, &status, 0);
	bench_path(store, dir, TJ_STORE_DIR_NAME);
	out->du_bytes = bench_du(store);
	bench_dbs_read(store, &out->dbs);
}
