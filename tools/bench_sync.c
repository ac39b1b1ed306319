/*
 * bench_sync: what reconciliation and replication cost, measured in one run.
 *
 *   1. Reconciliation of two sets of n records (default 100,000) that differ
 *      by d in {0, 10, 100, 1,000, 10,000} records, the missing ones either
 *      the most recent or scattered at random, plus a cold start (d = n).
 *      Both sides run the node's Negentropy code (node/tj_negentropy.h) with
 *      the node's frame limit; every message is encoded as the node encodes
 *      it (node/tj_wire.h) and sized as box-stream seals it, so the byte
 *      counts are the node's wire bytes: handshake, HELLOs, NEG both ways,
 *      then the WANTs (256 ids, 4 in flight) and the RECORDS that fetch the
 *      difference. Time is the CPU time of both sides in this process
 *      (no network latency).
 *   2. Cold replication: n records through the node's ingest path
 *      (signature checks in the libuv thread pool in batches of 256, one
 *      LMDB write transaction per batch on the loop thread) into an empty
 *      store: records per second.
 *   3. The Ed25519 verify rate on one core over the same records.
 *
 * Peak RSS (getrusage) is printed after each phase. Records are real sealed
 * records of 100 authors with realistic sizes; generating them is not timed.
 *
 * usage: bench_sync [-n N] [--dir DIR]
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "tj_boxstream.h"
#include "tj_ingest.h"
#include "tj_negentropy.h"
#include "tj_peer.h"
#include "tj_seal.h"
#include "tj_shs.h"
#include "tj_store.h"
#include "tj_wire.h"

#define BS_AUTHORS 100
#define BS_BODY_BYTES 700 /* a summary body is a few hundred bytes */
#define BS_REC_CAP 4096
#define BS_NEG_FRAME TJ_PEER_NEG_FRAME_BYTES
#define BS_BATCH 256
#define BS_WANTS_INFLIGHT 4

struct corpus {
	size_t n;
	uint8_t *buf;
	size_t *off, *len;
	struct tj_neg_item *items; /* (ts, id) of record i */
	uint8_t network_id[32];
};

static double bs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long bs_rss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static void bs_die(const char *what, int rc)
{
	fprintf(stderr, "bench_sync: %s: %s\n", what, tj_strerror(rc));
	exit(1);
}

/* n records by BS_AUTHORS authors, each author's chain in order, timestamps over the last year. */
static void bs_gen(struct corpus *c, size_t n)
{
	struct tj_identity *ids[BS_AUTHORS];
	uint8_t prev[BS_AUTHORS][32], body[BS_BODY_BYTES], key[32];
	struct tj_sym_key epoch = {.key = key};
	uint64_t now = tj_now_ms(), seq[BS_AUTHORS] = {0};
	size_t used = 0;
	int rc;

	c->n = n;
	c->buf = malloc(n * (BS_BODY_BYTES + 400));
	c->off = calloc(n, sizeof(size_t));
	c->len = calloc(n, sizeof(size_t));
	c->items = calloc(n, sizeof(*c->items));
	if (c->buf == NULL || c->off == NULL || c->len == NULL || c->items == NULL)
		bs_die("memory", -ENOMEM);
	randombytes_buf(key, sizeof(key));
	tj_sym_key_id(key, epoch.id);
	randombytes_buf(c->network_id, 32);
	for (size_t a = 0; a < BS_AUTHORS; a++)
		if ((rc = tj_identity_generate(&ids[a])) != 0)
			bs_die("identity", rc);
	for (size_t i = 0; i < n; i++) {
		size_t a = i % BS_AUTHORS;
		struct tj_seal_in in;
		memset(&in, 0, sizeof(in));
		memcpy(in.network_id, c->network_id, 32);
		in.seq = seq[a];
		in.has_prev = seq[a] > 0;
		memcpy(in.prev, prev[a], 32);
		in.ts_ms = now - 365ull * 86400000ull + (uint64_t)i * (365ull * 86400000ull / n);
		in.kind = TJ_KIND_INCIDENT;
		in.audience.type = TJ_AUD_NETWORK;
		in.audience.has_ref = true;
		memcpy(in.audience.ref, epoch.id, 32);
		in.epoch = &epoch;
		randombytes_buf(body, sizeof(body));
		in.body = body;
		in.body_len = BS_BODY_BYTES - 200 + (i * 7919) % 400;
		if ((rc = tj_record_seal(&in, ids[a], c->buf + used, BS_REC_CAP, &c->len[i], prev[a])) != 0)
			bs_die("seal", rc);
		c->off[i] = used;
		used += c->len[i];
		seq[a]++;
		c->items[i].ts = tj_neg_ts_from_ms(in.ts_ms);
		memcpy(c->items[i].id, prev[a], 32);
	}
	for (size_t a = 0; a < BS_AUTHORS; a++)
		tj_identity_free(ids[a]);
	sodium_memzero(key, sizeof(key));
}

/* ---- reconciliation ------------------------------------------------------- */

struct recon {
	uint32_t neg_rounds;
	uint64_t neg_i2r, neg_r2i;   /* NEG payload bytes (the Negentropy messages) */
	uint64_t wire_i2r, wire_r2i; /* everything on the wire, box-stream included */
	uint32_t fetch_rounds;
	size_t need;
	double seconds;
};

/* Bytes box-stream puts on the wire for one application message of len bytes. */
static uint64_t bs_wire(size_t len)
{
	return tj_boxstream_msg_sealed_bytes(len);
}

static size_t bs_neg_msg_len(const struct tj_neg_msg *m, uint8_t *scratch, size_t cap)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, scratch, cap);
	tj_wire_put_neg(&w, m->bytes, m->len);
	if (tj_mp_writer_finish(&w, &len) != 0)
		bs_die("neg message", TJ_ENOSPC);
	return len;
}

/* The fetch: WANTs of TJ_WIRE_WANT_MAX ids, RECORDS of at most 256 records / 512 KiB, as the node sends them. */
static void bs_fetch(const struct corpus *c, const size_t *missing, size_t d, struct recon *r, uint8_t *scratch,
		     size_t cap)
{
	struct tj_mp_writer w;
	size_t wants = 0, len = 0;

	for (size_t i = 0; i < d; i += TJ_WIRE_WANT_MAX) {
		size_t k = d - i < TJ_WIRE_WANT_MAX ? d - i : TJ_WIRE_WANT_MAX;
		uint8_t ids[TJ_WIRE_WANT_MAX * 32];
		uint32_t count = 0;
		size_t bytes = 0, body = 0;

		for (size_t j = 0; j < k; j++)
			memcpy(ids + 32 * j, c->items[missing[i + j]].id, 32);
		tj_mp_writer_init(&w, scratch, cap);
		tj_wire_put_ids(&w, TJ_WIRE_WANT, ids, k);
		if (tj_mp_writer_finish(&w, &len) != 0)
			bs_die("want", TJ_ENOSPC);
		r->wire_i2r += bs_wire(len);
		wants++;
		/* The answer, split like tj_sync.c splits it. */
		for (size_t j = 0; j < k; j++) {
			size_t rl = c->len[missing[i + j]];
			if (count == TJ_WIRE_RECORDS_MAX || bytes + rl > TJ_WIRE_RECORDS_MAX_BYTES) {
				r->wire_r2i += bs_wire(6 + body); /* [4, last, [..]] head */
				count = 0;
				bytes = body = 0;
			}
			count++;
			bytes += rl;
			body += tj_wire_record_cost(rl);
		}
		r->wire_r2i += bs_wire(6 + body); /* [4, last, [..]] head */
	}
	r->fetch_rounds = (uint32_t)((wants + BS_WANTS_INFLIGHT - 1) / BS_WANTS_INFLIGHT);
}

/* The initiator lacks `d` of the responder's n records (the newest, or random ones). */
static void bs_recon(const struct corpus *c, size_t d, bool scattered, struct recon *r)
{
	struct tj_neg_opts o = {.frame_limit_bytes = BS_NEG_FRAME};
	struct tj_neg_storage *sa = NULL, *sb = NULL;
	struct tj_neg *ini = NULL, *resp = NULL;
	struct tj_neg_msg q, a;
	struct tj_neg_ids need;
	struct tj_neg_item *have = malloc(c->n * sizeof(*have));
	uint8_t *skip = calloc(c->n, 1), *scratch = malloc(TJ_WIRE_MSG_MAX_BYTES);
	size_t *missing = malloc((d + 1) * sizeof(size_t)), nb = 0, picked = 0;
	double t0;
	int rc;

	if (have == NULL || skip == NULL || scratch == NULL || missing == NULL)
		bs_die("memory", -ENOMEM);
	memset(r, 0, sizeof(*r));
	while (picked < d) {
		size_t i = scattered ? randombytes_uniform((uint32_t)c->n) : c->n - 1 - picked;
		if (!skip[i]) {
			skip[i] = 1;
			missing[picked++] = i;
		}
	}
	for (size_t i = 0; i < c->n; i++)
		if (!skip[i])
			have[nb++] = c->items[i];
	if ((rc = tj_neg_storage_new(c->items, c->n, 0, &sa)) != 0 || (rc = tj_neg_storage_new(have, nb, 0, &sb)) != 0)
		bs_die("storage", rc);
	/* The handshake (client msg1 + msg3, server msg2 + msg4) and the two HELLOs. */
	r->wire_i2r = TJ_SHS_MSG1_BYTES + TJ_SHS_MSG3_BYTES + bs_wire(40);
	r->wire_r2i = TJ_SHS_MSG2_BYTES + TJ_SHS_MSG4_BYTES + bs_wire(40);
	t0 = bs_now();
	if ((rc = tj_neg_new(sb, &o, &ini)) != 0 || (rc = tj_neg_initiate(ini, &q)) != 0)
		bs_die("initiate", rc);
	while (q.len > 0) {
		r->neg_rounds++;
		r->neg_i2r += q.len;
		r->wire_i2r += bs_wire(bs_neg_msg_len(&q, scratch, TJ_WIRE_MSG_MAX_BYTES));
		/* A fresh responder per message, as tj_sync.c answers each query on its own. */
		if ((rc = tj_neg_new(sa, &o, &resp)) != 0 || (rc = tj_neg_reconcile(resp, q.bytes, q.len, &a)) != 0)
			bs_die("respond", rc);
		r->neg_r2i += a.len;
		r->wire_r2i += bs_wire(bs_neg_msg_len(&a, scratch, TJ_WIRE_MSG_MAX_BYTES));
		rc = tj_neg_reconcile(ini, a.bytes, a.len, &q);
		tj_neg_free(resp);
		resp = NULL;
		if (rc != 0)
			bs_die("reconcile", rc);
	}
	tj_neg_need(ini, &need);
	r->need = need.count;
	bs_fetch(c, missing, d, r, scratch, TJ_WIRE_MSG_MAX_BYTES);
	r->seconds = bs_now() - t0;
	if (r->need != d)
		fprintf(stderr, "bench_sync: reconciliation found %zu of %zu missing records\n", r->need, d);
	tj_neg_free(ini);
	tj_neg_storage_free(sa);
	tj_neg_storage_free(sb);
	free(have);
	free(skip);
	free(scratch);
	free(missing);
}

static void bs_recon_table(const struct corpus *c)
{
	static const size_t ds[] = {0, 10, 100, 1000, 10000};
	struct recon r;

	printf("\n## Reconciliation, n = %zu records on the responder (frame limit %u bytes)\n\n", c->n, BS_NEG_FRAME);
	printf("| d | missing | neg round trips | NEG bytes i->r | NEG bytes r->i | fetch round trips | wire bytes "
	       "i->r | wire bytes r->i | total wire bytes | time (ms) | peak RSS (MiB) |\n");
	printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t k = 0; k <= sizeof(ds) / sizeof(ds[0]); k++) {
		size_t d = k < sizeof(ds) / sizeof(ds[0]) ? ds[k] : c->n;
		for (int scattered = 0; scattered < 2; scattered++) {
			if (d == 0 && scattered)
				continue;
			if (d == c->n && scattered)
				continue;
			bs_recon(c, d, scattered, &r);
			printf("| %zu | %s | %u | %" PRIu64 " | %" PRIu64 " | %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64
			       " | %.1f | %.0f |\n",
			       d, d == c->n ? "all (cold)" : scattered ? "scattered" : "recent", r.neg_rounds, r.neg_i2r,
			       r.neg_r2i, r.fetch_rounds, r.wire_i2r, r.wire_r2i, r.wire_i2r + r.wire_r2i, r.seconds * 1e3,
			       (double)bs_rss_kib() / 1024.0);
			fflush(stdout);
		}
	}
}

/* ---- cold replication through ingest -------------------------------------- */

struct repl {
	uv_loop_t loop;
	struct tj_store *st;
	const struct corpus *c;
	struct tj_ingest_ctx ctx;
	size_t next, stored, refused, inflight;
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
	while (R->err == 0 && R->inflight < 4 && R->next < R->c->n) {
		struct repl_job *j = calloc(1, sizeof(*j));
		if (j == NULL) {
			R->err = -ENOMEM;
			return;
		}
		j->R = R;
		j->req.data = j;
		for (; j->n < BS_BATCH && R->next < R->c->n; j->n++, R->next++) {
			j->items[j->n].enc = R->c->buf + R->c->off[R->next];
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

static void bs_replicate(const struct corpus *c, const char *parent)
{
	struct repl R;
	char dir[4096];
	double t0, dt;
	int rc;

	memset(&R, 0, sizeof(R));
	R.c = c;
	snprintf(dir, sizeof(dir), "%s/bench-sync-XXXXXX", parent);
	if (mkdtemp(dir) == NULL)
		bs_die("mkdtemp", -errno);
	if ((rc = tj_store_open(dir, 8ull << 30, &R.st)) != 0 || (rc = uv_loop_init(&R.loop)) != 0)
		bs_die("store", rc);
	R.ctx.has_network = true;
	memcpy(R.ctx.network_id, c->network_id, 32);
	R.ctx.now_ms = tj_now_ms();
	t0 = bs_now();
	bs_submit(&R);
	uv_run(&R.loop, UV_RUN_DEFAULT);
	dt = bs_now() - t0;
	if (R.err != 0)
		bs_die("replication", R.err);
	printf("\n## Cold replication into an empty node (ingest: verify in the thread pool, %d per batch, one "
	       "transaction per batch)\n\n",
	       BS_BATCH);
	printf("- %zu records stored (%zu refused) in %.2f s: **%.0f records/s**; the store step took %.2f s of it "
	       "on the loop thread; peak RSS %.0f MiB\n",
	       R.stored, R.refused, dt, (double)R.stored / dt, R.store_s, (double)bs_rss_kib() / 1024.0);
	if (uv_loop_close(&R.loop) != 0)
		fprintf(stderr, "bench_sync: loop did not close\n");
	tj_store_close(R.st);
	nftw(dir, bs_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void bs_verify_rate(const struct corpus *c)
{
	struct tj_record rec;
	size_t done = 0;
	double t0 = bs_now(), dt;

	do {
		for (size_t k = 0; k < 1000; k++, done++) {
			size_t i = done % c->n;
			if (tj_record_decode(c->buf + c->off[i], c->len[i], &rec) != 0 ||
			    crypto_sign_verify_detached(rec.sig, c->buf + c->off[i], rec.signed_len, rec.author) != 0)
				bs_die("verify", TJ_EBADSIG);
		}
		dt = bs_now() - t0;
	} while (dt < 2.0);
	printf("- Ed25519 verify (decode + verify, one core): **%.0f verifies/s**\n", (double)done / dt);
}

int main(int argc, char **argv)
{
	struct corpus c;
	const char *dir = "/tmp";
	size_t n = 100000;
	double t0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: %s [-n N] [--dir DIR]\n", argv[0]);
			return 2;
		}
	}
	if (n < 20000 || n > 10000000) {
		fprintf(stderr, "bench_sync: -n must be 20000 .. 10000000 (d goes up to 10,000)\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	memset(&c, 0, sizeof(c));
	t0 = bs_now();
	bs_gen(&c, n);
	printf("# bench_sync\n\n%zu sealed records of %d authors generated in %.1f s (not timed below); "
	       "libuv pool: %s threads, %u cores\n",
	       n, BS_AUTHORS, bs_now() - t0, getenv("UV_THREADPOOL_SIZE") != NULL ? getenv("UV_THREADPOOL_SIZE") : "4",
	       (unsigned)uv_available_parallelism());
	bs_recon_table(&c);
	bs_replicate(&c, dir);
	bs_verify_rate(&c);
	free(c.buf);
	free(c.off);
	free(c.len);
	free(c.items);
	return 0;
}
