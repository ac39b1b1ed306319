/*
 * Adversarial ingest at volume (issue 7, item 3). tests/unit/test_ingest.c
 * already shows each rule once (future timestamp, equivocation kept and
 * frozen, chain shape, duplicates); this shows that a peer repeating them by
 * the thousand gets the same typed error every time, fast, without the store
 * or the process growing:
 *
 *   future     records stamped 10 min + 1 s .. 75 years ahead  -> TJ_EFUTURE, none stored
 *   forks      one author's seq 5 rewritten 1 + N times         -> one TJ_EEQUIVOCATION (both
 *              kept, author frozen), then TJ_EFROZEN: exactly one extra record stored
 *   rollback   an author's old records offered again            -> TJ_EEXIST, nothing stored
 *   badprev    a later seq naming a prev that is not the chain's -> TJ_ECHAIN, nothing stored
 *   flipped    a valid record with one bit flipped              -> TJ_EBADSIG/decode error
 *
 * usage: ev_adversarial [N] (default 2,000 x TJ_EVIDENCE_SCALE per kind). Prints FIGURE lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev_common.h"
#include "tj_node_testutil.h"
#include "tj_store.h"

#define EV_ANY_REFUSAL 1 /* any typed error but TJ_EEXIST */

struct fix {
	char dir[64];
	struct tj_store *st;
	struct tj_ingest_ctx ctx;
	struct tj_identity *a, *b;
	struct tj_sym_key epoch;
	uint8_t chain[10][32]; /* a's seq 0..9 */
	uint8_t *enc[10];
	size_t len[10];
	uint64_t clock_ms; /* when set, the ingest's clock (records made against it) */
};

static uint64_t stored(struct fix *f)
{
	struct tj_store_stats s = {0};
	struct tj_txn t;

	if (tj_txn_begin(f->st, false, &t) != 0)
		return 0;
	if (tj_store_stats(&t, &s) != 0)
		s.records = 0;
	tj_txn_abort(&t);
	return s.records;
}

/* Ingests n records (one batch per 1,000); every result must be want (or one of want/alt). */
static int ingest_all(struct fix *f, uint8_t **enc, size_t *len, size_t n, int want, int alt, const char *name,
		      uint64_t *added)
{
	struct tj_ingest_item *it = calloc(TJ_INGEST_BATCH_MAX, sizeof(*it));
	uint64_t before = stored(f), rss0 = ev_rss_kib(getpid()), t0 = ev_now_us(), dt;
	size_t other = 0, n_want = 0;

	EV_CHECK(it != NULL);
	for (size_t off = 0; off < n; off += TJ_INGEST_BATCH_MAX) {
		size_t k = n - off < TJ_INGEST_BATCH_MAX ? n - off : TJ_INGEST_BATCH_MAX;
		memset(it, 0, k * sizeof(*it));
		for (size_t i = 0; i < k; i++) {
			it[i].enc = enc[off + i];
			it[i].len = len[off + i];
		}
		f->ctx.now_ms = f->clock_ms ? f->clock_ms : tj_now_ms();
		EV_CHECK(tj_ingest_batch(f->st, &f->ctx, it, k) == 0);
		for (size_t i = 0; i < k; i++) {
			if (it[i].result == want || (want == EV_ANY_REFUSAL && it[i].result < 0 && it[i].result != TJ_EEXIST))
				n_want++;
			else if (it[i].result == alt)
				other++;
			else {
				fprintf(stderr, "%s: item %zu: %s, expected %s\n", name, off + i,
					tj_errname(it[i].result), tj_errname(want));
				free(it);
				return 1;
			}
		}
	}
	dt = ev_now_us() - t0;
	*added = stored(f) - before;
	printf("FIGURE adversarial %s: %zu records -> %zu %s%s%s%s, %llu stored; %.1f us each; RSS %+lld KiB\n", name,
	       n, n_want, want == EV_ANY_REFUSAL ? "refused (typed decode or signature errors)" : tj_errname(want), other ? " + " : "", other ? tj_errname(alt) : "", other ? " (first)" : "",
	       (unsigned long long)*added, (double)dt / (double)n, (long long)ev_rss_kib(getpid()) - (long long)rss0);
	free(it);
	return 0;
}

static int setup(struct fix *f)
{
	uint8_t nid[32];

	tt_tmpdir(f->dir);
	EV_CHECK(tj_store_open(f->dir, 64ull << 20, &f->st) == 0);
	randombytes_buf(nid, 32);
	f->ctx.has_network = true;
	memcpy(f->ctx.network_id, nid, 32);
	tt_sym(&f->epoch);
	EV_CHECK(tj_identity_generate(&f->a) == 0 && tj_identity_generate(&f->b) == 0);
	for (unsigned s = 0; s < 10; s++) {
		f->enc[s] = malloc(TT_REC_CAP);
		EV_CHECK(f->enc[s] != NULL);
		f->len[s] = tt_record(f->a, nid, TJ_KIND_INCIDENT, s, s ? f->chain[s - 1] : NULL, tj_now_ms(), &f->epoch,
				      "cuerpo", f->enc[s], f->chain[s]);
	}
	uint64_t added = 0;
	EV_CHECK(ingest_all(f, f->enc, f->len, 10, 0, 0, "honest chain", &added) == 0 && added == 10);
	return 0;
}

static void teardown(struct fix *f)
{
	for (unsigned s = 0; s < 10; s++)
		free(f->enc[s]);
	tj_store_close(f->st);
	tt_rmdir(f->dir);
	tj_identity_free(f->a);
	tj_identity_free(f->b);
	sodium_free(f->epoch.key);
}

/* n records made by make(f, i, out, id); returns the arrays (freed by the caller). */
typedef size_t (*make_fn)(struct fix *f, size_t i, uint8_t *out);

static int run_kind(struct fix *f, size_t n, make_fn make, int want, int alt, const char *name, uint64_t *added)
{
	uint8_t **enc = calloc(n, sizeof(*enc));
	size_t *len = calloc(n, sizeof(*len));
	int rc;

	EV_CHECK(enc != NULL && len != NULL);
	for (size_t i = 0; i < n; i++) {
		EV_CHECK((enc[i] = malloc(TT_REC_CAP)) != NULL);
		len[i] = make(f, i, enc[i]);
	}
	rc = ingest_all(f, enc, len, n, want, alt, name, added);
	for (size_t i = 0; i < n; i++)
		free(enc[i]);
	free(enc);
	free(len);
	return rc;
}

static size_t mk_future(struct fix *f, size_t i, uint8_t *out)
{
	uint8_t id[32];
	/* From just past the 10-minute skew to about 75 years ahead. */
	uint64_t ahead = TJ_FUTURE_SKEW_MS + 1000 + (uint64_t)i * i * 600000ull;

	return tt_record(f->b, f->ctx.network_id, TJ_KIND_INCIDENT, 0, NULL, f->clock_ms + ahead, &f->epoch, "futuro",
			 out, id);
}

static size_t mk_fork(struct fix *f, size_t i, uint8_t *out)
{
	uint8_t id[32];
	char body[32];

	snprintf(body, sizeof(body), "bifurcacion %zu", i);
	return tt_record(f->a, f->ctx.network_id, TJ_KIND_INCIDENT, 5, f->chain[4], tj_now_ms(), &f->epoch, body, out,
			 id);
}

static size_t mk_rollback(struct fix *f, size_t i, uint8_t *out)
{
	memcpy(out, f->enc[i % 10], f->len[i % 10]);
	return f->len[i % 10];
}

static size_t mk_badprev(struct fix *f, size_t i, uint8_t *out)
{
	uint8_t id[32], wrong[32];

	/* b's chain: seq 0 is stored (below); seq 1 names a prev that is not it. */
	randombytes_buf(wrong, 32);
	(void)i;
	return tt_record(f->b, f->ctx.network_id, TJ_KIND_INCIDENT, 1, wrong, tj_now_ms(), &f->epoch, "prev falso",
			 out, id);
}

static size_t mk_flipped(struct fix *f, size_t i, uint8_t *out)
{
	size_t len = f->len[i % 10];

	memcpy(out, f->enc[i % 10], len);
	out[(i * 7919) % len] ^= (uint8_t)(1u << (i % 8));
	return len;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000u * ev_scale();
	struct fix f;
	uint64_t added = 0;
	uint8_t b0[TT_REC_CAP], id[32];
	uint8_t *p = b0;
	size_t l;
	int rc = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	memset(&f, 0, sizeof(f));
	if (sodium_init() < 0 || setup(&f) != 0)
		goto out;
	/* One clock for making and judging them: making 2,000 records on a busy
	 * machine takes longer than the 1 s past the skew that the first one has. */
	f.clock_ms = tj_now_ms();
	if (run_kind(&f, n, mk_future, TJ_EFUTURE, TJ_EFUTURE, "future", &added) != 0 || added != 0)
		goto out;
	f.clock_ms = 0;
	if (run_kind(&f, n, mk_rollback, TJ_EEXIST, TJ_EEXIST, "rollback", &added) != 0 || added != 0)
		goto out;
	/* The first fork is kept as evidence and freezes a; every later one is refused. */
	if (run_kind(&f, n, mk_fork, TJ_EFROZEN, TJ_EEQUIVOCATION, "forks", &added) != 0 || added != 1)
		goto out;
	l = tt_record(f.b, f.ctx.network_id, TJ_KIND_INCIDENT, 0, NULL, tj_now_ms(), &f.epoch, "b0", b0, id);
	if (ingest_all(&f, &p, &l, 1, 0, 0, "b's first", &added) != 0 || added != 1)
		goto out;
	if (run_kind(&f, n, mk_badprev, TJ_ECHAIN, TJ_ECHAIN, "badprev", &added) != 0 || added != 0)
		goto out;
	/* A flipped bit anywhere: refused by the decoder (typed) or the signature. */
	if (run_kind(&f, n, mk_flipped, EV_ANY_REFUSAL, EV_ANY_REFUSAL, "flipped", &added) != 0 || added != 0)
		goto out;
	rc = 0;
out:
	teardown(&f);
	fprintf(stderr, "ev_adversarial: %s\n", rc == 0 ? "ok" : "FAILED");
	return rc;
}
