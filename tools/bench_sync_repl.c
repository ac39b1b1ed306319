/*
 * bench_sync: cold replication through the node's ingest path (signatures
 * checked in the libuv thread pool in batches of 256, 4 batches in flight, one
 * LMDB write transaction per batch on the loop thread, as node/tj_sync.c
 * does), and the Ed25519 verify rate on one core.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "bench_sync.h"
#include "tj_ingest.h"
#include "tj_seal.h"
#include "tj_store.h"

#define BS_BATCH 256
#define BS_JOBS_INFLIGHT 4

struct repl {
	uv_loop_t loop;
	struct tj_store *st;
	const struct bs_corpus *c;
	struct tj_ingest_ctx ctx;
	size_t end, next, stored, refused, inflight;
	double store_s; /* loop-thread time in the store step */
	int err;
};

struct repl_job {
	uv_work_t req;
	struct repl *R;
	size_t n;
	struct tj_ingest_item items[BS_BATCH];
};

static void bs_job_work(uv_work_t *req)
{
	struct repl_job *j = req->data;

	for (size_t i = 0; i < j->n; i++)
		tj_ingest_validate(&j->R->ctx, &j->items[i]);
}

static void bs_submit(struct repl *R);

static void bs_job_done(uv_work_t *req, int status)
{
	struct repl_job *j = req->data;
	struct repl *R = j->R;
	struct tj_txn t;
	int rc = status;
	double t0 = bs_now();

	R->inflight--;
	if (rc == 0 && (rc = tj_txn_begin(R->st, true, &t)) == 0) {
		for (size_t i = 0; i < j->n && rc == 0; i++)
			rc = tj_ingest_put(&t, &j->items[i]);
		rc = rc == 0 ? tj_txn_commit(&t) : (tj_txn_abort(&t), rc);
	}
	R->store_s += bs_now() - t0;
	for (size_t i = 0; i < j->n && rc == 0; i++) {
		R->stored += j->items[i].stored;
		R->refused += !j->items[i].stored;
	}
	if (rc != 0 && R->err == 0)
		R->err = rc;
	free(j);
	bs_submit(R);
}

/* Keeps as many batches in the thread pool as the node would from several peers. */
static void bs_submit(struct repl *R)
{
	while (R->err == 0 && R->inflight < BS_JOBS_INFLIGHT && R->next < R->end) {
		struct repl_job *j = calloc(1, sizeof(*j));
		if (j == NULL) {
			R->err = -ENOMEM;
			return;
		}
		j->R = R;
		j->req.data = j;
		for (; j->n < BS_BATCH && R->next < R->end; j->n++, R->next++) {
			j->items[j->n].enc = R->c->rec[R->next];
			j->items[j->n].len = R->c->len[R->next];
		}
		if (uv_queue_work(&R->loop, &j->req, bs_job_work, bs_job_done) != 0) {
			free(j);
			R->err = TJ_ESTATE;
			return;
		}
		R->inflight++;
	}
}

static int bs_rm(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

void bs_replicate(const struct bs_corpus *c, size_t records, const char *parent, struct bs_repl *out)
{
	struct repl R;
	char dir[4096];
	double t0;
	int rc;

	memset(&R, 0, sizeof(R));
	R.c = c;
	R.end = records < c->kept ? records : c->kept;
	if (snprintf(dir, sizeof(dir), "%s/bench-sync-XXXXXX", parent) >= (int)sizeof(dir))
		bs_die("--dir: path too long", -ENAMETOOLONG);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench_sync: cannot make a temporary directory in %s: %s\n", parent,
		        strerror(errno));
		exit(1);
	}
	if ((rc = tj_store_open(dir, 8ull << 30, &R.st)) != 0 || (rc = uv_loop_init(&R.loop)) != 0)
		bs_die("store", rc);
	R.ctx.has_network = true;
	memcpy(R.ctx.network_id, c->network_id, 32);
	R.ctx.now_ms = tj_now_ms();
	bs_rss_reset();
	t0 = bs_now();
	bs_submit(&R);
	uv_run(&R.loop, UV_RUN_DEFAULT);
	out->seconds = bs_now() - t0;
	out->peak_rss_mib = bs_status_mib("VmHWM");
	if (R.err != 0)
		bs_die("replication", R.err);
	out->records = R.end;
	out->stored = R.stored;
	out->refused = R.refused;
	out->store_s = R.store_s;
	if (uv_loop_close(&R.loop) != 0)
		fprintf(stderr, "bench_sync: loop did not close\n");
	tj_store_close(R.st);
	nftw(dir, bs_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void bs_verify_rate(const struct bs_corpus *c, double budget_s, struct bs_verify *out)
{
	struct tj_record rec;
	size_t done = 0;
	double t0 = bs_now(), dt;

	do {
		for (size_t k = 0; k < 1000; k++, done++) {
			size_t i = done % c->kept;
			if (tj_record_decode(c->rec[i], c->len[i], &rec) != 0 ||
			    crypto_sign_verify_detached(rec.sig, c->rec[i], rec.signed_len, rec.author) != 0)
				bs_die("verify", TJ_EBADSIG);
		}
		dt = bs_now() - t0;
	} while (dt < budget_s);
	out->verifies = done;
	out->seconds = dt;
}
