/*
 * bench_sync's parts (tools/bench_sync*.c): the corpus of sealed records, one
 * cell of the reconciliation matrix, cold replication and the verify rate.
 * What the program measures and prints is described in tools/bench_sync.c.
 */
#ifndef TJ_BENCH_SYNC_H
#define TJ_BENCH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_negentropy.h"

#define BS_AUTHORS 100
/* One record every 31.536 s (a million a year), whatever the corpus size, so a
 * prefix of n records looks the same whichever larger n it was cut from. */
#define BS_STEP_MS 31536u
#define BS_N_MAX 10000000u
#define BS_LIST_MAX 16

struct bs_opts {
	size_t ns[BS_LIST_MAX], n_count; /* the matrix's n, increasing, distinct */
	const size_t *ds;                /* its d (cells with d >= n are left out) */
	size_t d_count, cold_n;          /* cold_n: records for cold replication */
	double rtt_ms;                   /* 0: no RTT column */
	bool json, quick, no_cold, n_set, cold_set;
	const char *dir; /* cold replication's temporary store goes here */
};

/* Parses argv into o (defaults: the header of tools/bench_sync.c), then fills
 * the defaults that depend on other options and checks them together. */
void bs_parse_opts(struct bs_opts *o, int argc, char **argv);
void bs_settle_opts(struct bs_opts *o);

/* Runtime failure of the benchmark itself (not of a cell): message, exit 1. */
_Noreturn void bs_die(const char *what, int rc);
double bs_now(void);        /* monotonic wall seconds */
double bs_thread_cpu(void); /* CPU seconds of the calling thread */
double bs_process_cpu(void);

/* Resets the process's peak RSS (VmHWM) to its current RSS; false if the kernel refused. */
bool bs_rss_reset(void);
/* "VmHWM" or "VmRSS" of /proc/self/status in MiB; -1 if unreadable. */
double bs_status_mib(const char *field);

struct bs_corpus {
	size_t n;                  /* records sealed, all of them real */
	size_t kept;               /* the first `kept` keep their sealed bytes */
	const uint8_t **rec;       /* rec[i], i < kept: the sealed record (points into tbuf) */
	uint32_t *len;             /* len[i], i < n: its size in bytes */
	struct tj_neg_item *items; /* items[i], i < n: (ts in s, id); increasing with i */
	uint8_t network_id[32];
	unsigned threads;        /* sealing threads */
	uint8_t **tbuf;          /* one buffer per sealing thread */
	double gen_s, gen_cpu_s; /* wall and CPU (all threads) seconds to seal */
	uint64_t bytes;          /* sum of len[] */
};

/* Seals n records of BS_AUTHORS authors (chains in order, record i by author
 * i % BS_AUTHORS) on `threads` threads; keeps the bytes of the first `kept`.
 * Dies on failure. */
void bs_corpus_gen(struct bs_corpus *c, size_t n, size_t kept, unsigned threads);
void bs_corpus_free(struct bs_corpus *c);

enum bs_missing { BS_RECENT, BS_SCATTERED, BS_COLD };

/* One reconciliation: the responder holds the first n records, the initiator
 * lacks d of them (the newest, random ones, or all). */
struct bs_cell {
	size_t n, d;
	enum bs_missing missing;
	/* results */
	uint32_t neg_rounds;         /* NEG messages the initiator sent = round trips */
	uint64_t neg_i2r, neg_r2i;   /* Negentropy message bytes each way */
	uint32_t fetch_rounds;       /* WANT round trips, TJ_PEER_WANTS_INFLIGHT in flight */
	uint64_t wire_i2r, wire_r2i; /* everything on the wire, box-stream included */
	size_t found;                /* ids the initiator learned it lacks */
	size_t matched;              /* of the found, how many are missing ids (the rest are wrong) */
	size_t extra;                /* ids it believes the responder lacks (must be 0) */
	bool exact;                  /* found == matched == d, extra == 0 */
	double cpu_ms;               /* CPU time of the exchange, both sides */
	double rss_base_mib;         /* RSS when the cell began */
	double peak_rss_mib;         /* VmHWM at its end (reset at its start) */
	double wall_s;               /* the whole cell: picks, snapshots, exchange, check, fetch sizing */
	double snapshots_s;          /* of which building the two snapshots (wall) */
};

/* Runs cell->n, d, missing against c; fills the results. Dies only on a
 * runtime failure (memory, or the node's code returning an error). */
void bs_cell_run(const struct bs_corpus *c, struct bs_cell *cell);

struct bs_repl {
	size_t records, stored, refused;
	double seconds, store_s, peak_rss_mib;
};

/* Cold replication of the first `records` (<= c->kept) through the node's
 * ingest path into an empty store made in a temporary directory under parent. */
void bs_replicate(const struct bs_corpus *c, size_t records, const char *parent, struct bs_repl *out);

struct bs_verify {
	size_t verifies;
	double seconds;
};

/* Decode + Ed25519 verify of the kept records, one core, for about budget_s. */
void bs_verify_rate(const struct bs_corpus *c, double budget_s, struct bs_verify *out);

#endif
