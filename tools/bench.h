/*
 * tejido-bench: what its parts share. Every figure is measured by the
 * program in the run that prints it; nothing here asserts a speed.
 *
 *   bench.c         options, the machine, ceilings, goals, output
 *   bench_gen.c     realistic incident bodies and sealed records (not timed)
 *   bench_ingest.c  ingest of N records into an empty store, in a child process
 *   bench_daemon.c  a real daemon fed over its control socket, and the CLI
 *   bench_query.c   queries and statistics over 100,000 and 1,000,000 incidents
 */
#ifndef TJ_BENCH_H
#define TJ_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_parts.h"
#include "tj_keys.h"
#include "tj_seal.h"

#define BENCH_PATH_MAX 4096
#define BENCH_BATCH 1000     /* records per ingest batch (TJ_INGEST_BATCH_MAX) */
#define BENCH_REC_MAX_BYTES 8192 /* generated records stay far below this */
#define BENCH_QUERY_NS_MAX 8     /* sizes --n-query may list */

struct bench_opts {
	bool quick;
	bool json;
	bool markdown;
	uint64_t n;           /* records ingested */
	uint64_t n_add;       /* incidents added one at a time */
	uint64_t n_batch100;  /* incidents added with add_batch of 100 */
	uint64_t n_daemon;    /* incidents in the daemon's store at the end */
	uint64_t n_cli;       /* runs of `tejido add --json FILE` */
	uint32_t authors;
	uint32_t threads;     /* validation threads of the parallel ingest */
	double ceiling_s;     /* seconds each ceiling loop runs for at least */
	double daemon_budget_s; /* wall seconds each daemon phase may take at most */
	const char *dir;      /* where the temp dir goes (same disk as a node's data) */
	const char *tejido;   /* the CLI binary */
	const char *demo_dir;
	const char *json_out; /* also write the JSON here */
	bool skip_daemon;
	bool skip_cli;
	uint64_t n_query[BENCH_QUERY_NS_MAX]; /* incidents of each queries run (--n-query) */
	uint32_t n_query_count;
	double query_budget_s; /* wall seconds each queries fill may take at most */
	bool skip_query;
	struct bench_parts_opts parts; /* bench_sync and sim (bench_parts.c) */
};

/* ---- timing and process figures ---------------------------------------------------- */
double bench_now(void);        /* CLOCK_MONOTONIC, seconds */
double bench_cpu_self(void);   /* user + system of this process, seconds */
/* This thread's time on a CPU and waiting for one (/proc/thread-self/schedstat), seconds; false if unknown. */
bool bench_schedstat(double *on_cpu, double *waiting);
/* A field of /proc/PID/status in kB ("VmHWM", "VmRSS", "RssAnon", "RssFile"); pid 0 = self. */
long bench_status_kb(pid_t pid, const char *field);
/* user + system seconds of a process, all its threads (/proc/PID/stat). */
double bench_proc_cpu(pid_t pid);
/* Bytes on disk (st_blocks) of the regular files under dir, recursively. */
uint64_t bench_du(const char *dir);
int bench_mkdir(const char *path);
/* dir/name into out; dies when too long. */
void bench_path(char out[BENCH_PATH_MAX], const char *dir, const char *name);
void bench_rmtree(const char *path);
/* Dies (tools/ may exit) with a message. */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A bad option or value: the message, "(see --help)", exit status 2. */
void bench_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* 0..n-1 from a small deterministic generator (reproducible corpora). */
uint32_t bench_rand(uint64_t *state, uint32_t n);
/* v / n, or 0 when n is 0. */
double bench_per(double v, uint64_t n);

/* ---- bench_gen.c ----------------------------------------------------------------- */
struct bench_corpus; /* the demo incidents, parsed */

/* Loads every *.json of dir (tools/demo); dies when none parses. */
struct bench_corpus *bench_corpus_load(const char *dir);
void bench_corpus_free(struct bench_corpus *c);
size_t bench_corpus_count(const struct bench_corpus *c);
const char *bench_corpus_path(const struct bench_corpus *c, size_t i);

/*
 * Incident i's canonical bodies: a demo incident with varied fields (date,
 * victims' refs, gender and age, verification, names, narrative length).
 * case_target: the wanted case body length in bytes (0 = no case face).
 * The case body's summary id is zero (the node sets it).
 */
void bench_incident(const struct bench_corpus *c, uint64_t i, size_t case_target, uint8_t *sum, size_t *sum_len,
		    uint8_t *kase, size_t *case_len);
/* A case body length for a summary of sum_len bytes, so that the pair of records is ~2 KiB (varied). */
size_t bench_case_target(size_t sum_len, uint64_t *rs);

/* A network of several authors writing sealed records with correct chains. */
struct bench_net {
	uint8_t network_id[32];
	struct tj_sym_key epoch;
	uint32_t n_authors;
	struct tj_identity **authors;
	uint64_t *seq;        /* next seq per author */
	uint8_t (*head)[32];  /* last id per author */
};
struct bench_net *bench_net_new(uint32_t n_authors);
void bench_net_free(struct bench_net *net);

/*
 * Writes n records (summary and case faces alternating, ~1 KiB on average)
 * to path as [u32 length LE][bytes]...; returns their total bytes.
 */
uint64_t bench_gen_records(const struct bench_corpus *c, struct bench_net *net, uint64_t n, const char *path);

/* Where a store's pages go: each named LMDB database (read after the writer closed it). */
#define BENCH_DBS_MAX 16
struct bench_dbs {
	uint32_t n;
	uint32_t page_bytes;
	uint64_t free_pages; /* pages LMDB holds for reuse (copy-on-write leftovers) */
	struct {
		char name[24];
		uint64_t entries;
		uint64_t pages; /* branch + leaf + overflow */
	} db[BENCH_DBS_MAX];
};
void bench_dbs_read(const char *store_dir, struct bench_dbs *out);

/* ---- bench_ingest.c ------------------------------------------------------------- */
struct bench_ingest_result {
	uint64_t records;    /* stored */
	uint64_t refused;    /* any other result: must be 0 */
	double wall_s;
	double cpu_s;
	double main_cpu_s;   /* the main thread (/proc/thread-self/schedstat): on a CPU, */
	double main_wait_s;  /* waiting for one (other work on the machine), */
	double main_block_s; /* and neither: blocked, i.e. writing and fsync */
	uint64_t du_bytes;   /* the store directory */
	uint64_t used_bytes; /* LMDB's used pages */
	long hwm_kb;         /* VmHWM at the end */
	long base_kb;        /* VmRSS before the first record */
	long anon_kb;        /* RssAnon at the end */
	long file_kb;        /* RssFile at the end (LMDB's map) */
	int err;
	struct bench_dbs dbs;
};

/* Ingests the records file into an empty store under dir, in a child process. threads 0 = tj_ingest_batch. */
void bench_ingest_run(const struct bench_net *net, const char *records, const char *dir, uint32_t threads,
		      struct bench_ingest_result *out);

/* ---- bench_daemon.c ------------------------------------------------------------- */
struct bench_daemon_result {
	double add1_rate;       /* incidents/s, one `add` per request */
	uint64_t add1_n;
	double batch100_rate;
	uint64_t batch100_n;
	double batch1000_rate;
	uint64_t batch1000_n;
	double batch1000_items_per_req; /* the request limit may cut a batch of 1,000 */
	double add1_cpu_us, batch100_cpu_us, batch1000_cpu_us; /* the daemon's CPU per incident */
	double cli_rate;        /* incidents/s through `tejido add --json FILE`, process start included */
	uint64_t cli_n;
	double cli_ms_each;
	uint64_t incidents;     /* in the store at the end */
	uint64_t records;
	uint64_t du_bytes;
	uint64_t store_bytes;   /* status: LMDB used */
	long hwm_kb;            /* the daemon's VmHWM */
	long base_kb;           /* its VmRSS once ready */
	long anon_kb, file_kb;
	double mean_sum_bytes, mean_case_bytes; /* bodies sent */
	struct bench_dbs dbs;
};

/* A real daemon of the bench: fork + tj_daemon_run on dir, its control socket, a request buffer. */
struct bench_dproc {
	char dir[BENCH_PATH_MAX];
	pid_t pid;
	int fd;
	uint8_t *req;
};
/* A data directory as `tejido init` makes it, with the cheapest Argon2id (a benchmark, not a node). */
void bench_node_create(const char *dir);
/* Forks the daemon on d->dir (it dies with the bench), waits until ready, connects; dies on failure. */
void bench_dproc_start(struct bench_dproc *d);
/* One request of len bytes from d->req; dies unless the reply is a map with ok: true. Caller frees. */
uint8_t *bench_dproc_call(struct bench_dproc *d, size_t len, size_t *reply_len);
/* A request {op: OP} in d->req; its length. */
size_t bench_dproc_simple(struct bench_dproc *d, const char *op);
/* `stop`, then reaps it. */
void bench_dproc_stop(struct bench_dproc *d);
struct tj_mp_reader;
/* Positions r at the value of key in a reply map; false when absent. */
bool bench_reply_find(const uint8_t *reply, size_t len, const char *key, struct tj_mp_reader *r);
bool bench_reply_str(const uint8_t *reply, size_t len, const char *key, const char **s, uint32_t *sl);
bool bench_reply_uint(const uint8_t *reply, size_t len, const char *key, uint64_t *v);

void bench_daemon_run(const struct bench_opts *o, const struct bench_corpus *c, const char *dir,
		      struct bench_daemon_result *out);

/* ---- bench_query.c -------------------------------------------------------------- */
#define BENCH_QUERY_N_MAX 10000000u
#define BENCH_QUERY_SHAPES_MAX 24

/* One request shape, timed several times against the daemon. */
struct bench_query_shape {
	char kind[8];      /* "query", "stats" (control requests) or "cli" (a `tejido` process) */
	char what[112];    /* the request, as the CLI would spell it */
	uint64_t results;  /* incidents returned (query) or table cells (stats) */
	uint64_t expected; /* the same, computed from the generated incidents */
	bool match;        /* results == expected (stats: the whole table is the expected one) */
	uint32_t runs;     /* warm runs after the first */
	double first_ms, median_ms, min_ms, max_ms;
	uint64_t reply_bytes;
};

struct bench_query_result {
	uint64_t n_wanted;  /* --n-query */
	uint64_t incidents; /* stored by the fill (less than n_wanted when the budget ran out) */
	bool budget_hit;
	double fill_wall_s; /* the whole fill */
	double fill_node_s; /* inside tj_node_add (store, index, alert rules, commits) */
	double fill_cpu_s;  /* this process, every thread */
	double gen_cpu_s;   /* the generator thread (bodies, expected counts): not the node */
	/* The node's thread: on a CPU, waiting for one (other work), blocked (writing, fsync). */
	double main_cpu_s, main_wait_s, main_block_s;
	/* CPU of tj_node_add per incident over the first and the last 10 batches (edge_* incidents each). */
	double cpu_ms_first, cpu_ms_last;
	uint64_t edge_first, edge_last;
	uint64_t batches;
	long fill_hwm_kb;
	double ready_s; /* daemon start to its control socket listening, on the filled store */
	long base_kb, hwm_kb, rss_kb, anon_kb, file_kb; /* the daemon's, at the end */
	uint64_t records, du_bytes, store_bytes;
	double mean_sum_bytes, mean_case_bytes;
	uint32_t n_shapes;
	struct bench_query_shape shape[BENCH_QUERY_SHAPES_MAX];
	struct bench_dbs dbs;
};

/* --n-query LIST and --query-budget S: exit 2 with a message on a bad value. */
void bench_query_opt_list(const char *arg, struct bench_opts *o);
void bench_query_opt_budget(const char *arg, struct bench_opts *o);
/* Fills a node with n incidents through tj_node_add, then times queries against a daemon on it. */
void bench_query_run(const struct bench_opts *o, const struct bench_corpus *c, const char *dir, uint64_t n,
                     struct bench_query_result *out);
/* Adds the "queries" array to the JSON document; prints the rows (table or Markdown). */
struct cJSON;
void bench_query_json(struct cJSON *root, const struct bench_query_result *r, uint32_t count,
                      double budget_s);
void bench_query_print(bool md, const struct bench_query_result *r, uint32_t count);
/* Did every shape of every run return what it should? */
bool bench_query_ok(const struct bench_query_result *r, uint32_t count);

#endif
