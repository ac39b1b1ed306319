/*
 * bench_sync: the corpus (sealed records, sealed on every core) and the
 * process helpers the other parts share (clocks, peak RSS).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include "bench_sync.h"
#include "tj_ingest.h" /* tj_now_ms */
#include "tj_seal.h"

#define BS_BODY_BYTES 700 /* a summary body is a few hundred bytes: 500 .. 899 */
#define BS_REC_CAP 4096

void bs_die(const char *what, int rc)
{
	fprintf(stderr, "bench_sync: %s: %s\n", what, tj_strerror(rc));
	exit(1);
}

static double bs_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bs_now(void)
{
	return bs_clock(CLOCK_MONOTONIC);
}

double bs_thread_cpu(void)
{
	return bs_clock(CLOCK_THREAD_CPUTIME_ID);
}

double bs_process_cpu(void)
{
	return bs_clock(CLOCK_PROCESS_CPUTIME_ID);
}

bool bs_rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	bool ok;

	if (f == NULL)
		return false;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

double bs_status_mib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t flen = strlen(field);
	double mib = -1;
	long kib;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':' &&
		    sscanf(line + flen + 1, "%ld", &kib) == 1) {
			mib = (double)kib / 1024.0;
			break;
		}
	fclose(f);
	return mib;
}

/* ---- sealing ---------------------------------------------------------------- */

struct bs_gen_job {
	struct bs_corpus *c;
	unsigned t; /* this thread seals the authors a with a % threads == t */
	struct tj_identity *const *ids;
	const struct tj_sym_key *epoch;
	uint64_t start_ms;
	size_t *off; /* off[i], i < kept: offset of record i in this thread's buffer */
	uint8_t *buf;
	size_t used, cap;
	uv_thread_t tid;
	int rc;
};

static int bs_keep(struct bs_gen_job *j, size_t i, const uint8_t *rec, size_t len)
{
	if (j->used + len > j->cap) {
		size_t cap = j->cap == 0 ? (size_t)1 << 20 : 2 * j->cap;
		uint8_t *grown = realloc(j->buf, cap);
		if (grown == NULL)
			return -ENOMEM;
		j->buf = grown;
		j->cap = cap;
	}
	memcpy(j->buf + j->used, rec, len);
	j->off[i] = j->used;
	j->used += len;
	return 0;
}

/* Seals one author's chain: records a, a + BS_AUTHORS, a + 2 BS_AUTHORS, ... */
static int bs_gen_author(struct bs_gen_job *j, size_t a)
{
	struct bs_corpus *c = j->c;
	uint8_t prev[32], body[BS_BODY_BYTES + 200], rec[BS_REC_CAP], seed[randombytes_SEEDBYTES];
	struct tj_seal_in in;
	size_t len;
	int rc;

	randombytes_buf(seed, sizeof(seed));
	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, c->network_id, 32);
	in.kind = TJ_KIND_INCIDENT;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, j->epoch->id, 32);
	in.epoch = j->epoch;
	in.body = body;
	for (size_t i = a; i < c->n; i += BS_AUTHORS) {
		in.seq = i / BS_AUTHORS;
		in.has_prev = in.seq > 0;
		memcpy(in.prev, prev, 32);
		in.ts_ms = j->start_ms + (uint64_t)i * BS_STEP_MS;
		in.body_len = BS_BODY_BYTES - 200 + (i * 7919) % 400;
		/* Random bodies from a stream cipher: randombytes_buf is a getrandom system call per 256
		 * bytes. */
		memcpy(seed, &i, sizeof(i));
		randombytes_buf_deterministic(body, in.body_len, seed);
		if ((rc = tj_record_seal(&in, j->ids[a], rec, sizeof(rec), &len, prev)) != 0)
			return rc;
		c->len[i] = (uint32_t)len;
		c->items[i].ts = tj_neg_ts_from_ms(in.ts_ms);
		memcpy(c->items[i].id, prev, 32);
		if (i < c->kept && (rc = bs_keep(j, i, rec, len)) != 0)
			return rc;
	}
	return 0;
}

static void bs_gen_thread(void *arg)
{
	struct bs_gen_job *j = arg;

	for (size_t a = j->t; a < BS_AUTHORS && j->rc == 0; a += j->c->threads)
		j->rc = bs_gen_author(j, a);
}

static void bs_corpus_alloc(struct bs_corpus *c, size_t n, size_t kept, unsigned threads)
{
	memset(c, 0, sizeof(*c));
	c->n = n;
	c->kept = kept;
	c->threads = threads;
	c->len = calloc(n, sizeof(*c->len));
	c->items = calloc(n, sizeof(*c->items));
	c->rec = calloc(kept + 1, sizeof(*c->rec));
	c->tbuf = calloc(threads, sizeof(*c->tbuf));
	if (c->len == NULL || c->items == NULL || c->rec == NULL || c->tbuf == NULL)
		bs_die("memory for the corpus", -ENOMEM);
	randombytes_buf(c->network_id, 32);
}

void bs_corpus_gen(struct bs_corpus *c, size_t n, size_t kept, unsigned threads)
{
	struct tj_identity *ids[BS_AUTHORS];
	uint8_t key[32];
	struct tj_sym_key epoch = {.key = key};
	/* The newest record is one step before now: the ingest refuses records from the future. */
	uint64_t start_ms = tj_now_ms() - (uint64_t)(n + 1) * BS_STEP_MS;
	struct bs_gen_job *jobs = calloc(threads, sizeof(*jobs));
	size_t *off = calloc(kept + 1, sizeof(*off));
	double t0 = bs_now(), c0 = bs_process_cpu();
	int rc;

	if (jobs == NULL || off == NULL)
		bs_die("memory for the corpus", -ENOMEM);
	bs_corpus_alloc(c, n, kept, threads);
	randombytes_buf(key, sizeof(key));
	tj_sym_key_id(key, epoch.id);
	for (size_t a = 0; a < BS_AUTHORS; a++)
		if ((rc = tj_identity_generate(&ids[a])) != 0)
			bs_die("identity", rc);
	for (unsigned t = 0; t < threads; t++) {
		jobs[t] = (struct bs_gen_job){
		    .c = c, .t = t, .ids = ids, .epoch = &epoch, .start_ms = start_ms, .off = off};
		if ((rc = uv_thread_create(&jobs[t].tid, bs_gen_thread, &jobs[t])) != 0)
			bs_die("sealing thread", rc);
	}
	for (unsigned t = 0; t < threads; t++) {
		if (uv_thread_join(&jobs[t].tid) != 0)
			bs_die("sealing thread", TJ_ESTATE);
		c->tbuf[t] = jobs[t].buf;
	}
	for (unsigned t = 0; t < threads; t++)
		if (jobs[t].rc != 0)
			bs_die("seal", jobs[t].rc);
	for (size_t i = 0; i < kept; i++)
		c->rec[i] = c->tbuf[(i % BS_AUTHORS) % threads] + off[i];
	for (size_t i = 0; i < n; i++)
		c->bytes += c->len[i];
	c->gen_s = bs_now() - t0;
	c->gen_cpu_s = bs_process_cpu() - c0;
	for (size_t a = 0; a < BS_AUTHORS; a++)
		tj_identity_free(ids[a]);
	sodium_memzero(key, sizeof(key));
	free(jobs);
	free(off);
}

void bs_corpus_free(struct bs_corpus *c)
{
	for (unsigned t = 0; c->tbuf != NULL && t < c->threads; t++)
		free(c->tbuf[t]);
	free(c->tbuf);
	free(c->rec);
	free(c->len);
	free(c->items);
	memset(c, 0, sizeof(*c));
}
