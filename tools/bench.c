/*
 * tejido-bench: measures, in one run, the ceilings of this machine (crypto
 * primitives, LMDB durable commits), the ingest of N sealed ~1 KiB records
 * through the path peers use, and the node's add path through a real daemon
 * and the real CLI. Prints a table (default), JSON (--json) or a Markdown
 * table for docs/BENCHMARKS.md (--markdown). Goals are printed, never
 * asserted: the exit status says only whether the run itself worked.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <lmdb.h>
#include <sodium.h>

#include "bench.h"
#include "bench_parts.h"

#ifndef TJ_BENCH_DEMO_DIR
#define TJ_BENCH_DEMO_DIR "tools/demo"
#endif

#define BENCH_MSG_BYTES 1024
#define BENCH_TMPFS_MAGIC 0x01021994
/* The anchors of the issue (other software, other machines: orders of magnitude, not targets). */
#define ANCHOR_VERIFY 15000.0
#define ANCHOR_SIGN 37000.0
#define ANCHOR_XCHACHA 730000.0
#define ANCHOR_LMDB_1000 18700.0
#define ANCHOR_LMDB_1 2400.0
#define ANCHOR_STRFRY_RATE 8900.0
#define ANCHOR_STRFRY_RSS_MB 320.0
#define ANCHOR_STRFRY_DISK 2650.0
#define GOAL_RSS_MB 100.0
#define GOAL_DISK_PER_KIB 1600.0
#define BENCH_LMDB_ROUNDS 3

/* ---- small helpers ---------------------------------------------------------------- */

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fputs("tejido-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void bench_usage_die(const char *fmt, ...)
{
	va_list ap;

	fputs("tejido-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

bool bench_schedstat(double *on_cpu, double *waiting)
{
	FILE *f = fopen("/proc/thread-self/schedstat", "r");
	unsigned long long a = 0, b = 0;
	bool ok = f != NULL && fscanf(f, "%llu %llu", &a, &b) == 2;

	if (f != NULL)
		fclose(f);
	*on_cpu = (double)a / 1e9;
	*waiting = (double)b / 1e9;
	return ok;
}

double bench_proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	fclose(f);
	return v;
}

static uint64_t bench__du_total;

static int bench__du_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F)
		bench__du_total += (uint64_t)st->st_blocks * 512u;
	return 0;
}

uint64_t bench_du(const char *dir)
{
	bench__du_total = 0;
	if (nftw(dir, bench__du_cb, 16, FTW_PHYS) != 0)
		return 0;
	return bench__du_total;
}

void bench_path(char out[BENCH_PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, BENCH_PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= BENCH_PATH_MAX)
		bench_die("path too long: %s/%s", dir, name);
}

int bench_mkdir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

static int bench__rm_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 ? 0 : 0; /* best effort */
}

void bench_rmtree(const char *path)
{
	(void)nftw(path, bench__rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

double bench_per(double v, uint64_t n)
{
	return n > 0 ? v / (double)n : 0;
}

uint32_t bench_rand(uint64_t *state, uint32_t n)
{
	/* splitmix64: reproducible corpora, not secrets. */
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return n == 0 ? 0 : (uint32_t)(z % n);
}

/* ---- ceilings ---------------------------------------------------------------------- */

/* Crypto: operations per CPU second of one thread (and per wall second); LMDB: puts per wall second. */
struct bench_ceilings {
	double sign, verify, xchacha_dec, blake2b, lmdb_1000, lmdb_1;
	double sign_wall, verify_wall, xchacha_dec_wall, blake2b_wall;
	double lmdb_1000_range[2], lmdb_1_range[2]; /* min, max of the rounds */
};

struct bench__cx {
	uint8_t pk[32], sk[64], sig[64], msg[BENCH_MSG_BYTES], key[32], nonce[24], h[32];
	uint8_t ct[BENCH_MSG_BYTES + 16], pt[BENCH_MSG_BYTES];
	int bad;
};

static void bench__op_sign(struct bench__cx *x)
{
	crypto_sign_detached(x->sig, NULL, x->msg, sizeof(x->msg), x->sk);
}

static void bench__op_verify(struct bench__cx *x)
{
	x->bad |= crypto_sign_verify_detached(x->sig, x->msg, sizeof(x->msg), x->pk);
}

static void bench__op_decrypt(struct bench__cx *x)
{
	unsigned long long n = 0;

	x->bad |= crypto_aead_xchacha20poly1305_ietf_decrypt(x->pt, &n, NULL, x->ct, sizeof(x->ct), NULL, 0, x->nonce,
							     x->key);
}

static void bench__op_blake2b(struct bench__cx *x)
{
	crypto_generichash(x->h, sizeof(x->h), x->msg, sizeof(x->msg), NULL, 0);
}

static double bench__thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs op until this thread used at least secs of CPU (clocks read every 16
 * ops); returns operations per CPU second: what one core does, even when
 * other work shares the machine (the wall-clock rate is *wall_rate).
 */
static double bench__loop(double secs, void (*op)(struct bench__cx *), struct bench__cx *x, double *wall_rate)
{
	double t0 = bench_now(), c0 = bench__thread_cpu(), el;
	uint64_t n = 0;

	do {
		for (int k = 0; k < 16; k++, n++)
			op(x);
		el = bench__thread_cpu() - c0;
	} while (el < secs);
	*wall_rate = (double)n / (bench_now() - t0);
	return (double)n / el;
}

static void bench__crypto_ceilings(double secs, struct bench_ceilings *c)
{
	struct bench__cx *x = sodium_malloc(sizeof(*x));

	if (x == NULL)
		bench_die("out of memory");
	memset(x, 0, sizeof(*x));
	randombytes_buf(x->msg, sizeof(x->msg));
	randombytes_buf(x->key, sizeof(x->key));
	randombytes_buf(x->nonce, sizeof(x->nonce));
	crypto_sign_keypair(x->pk, x->sk);
	c->sign = bench__loop(secs, bench__op_sign, x, &c->sign_wall);
	c->verify = bench__loop(secs, bench__op_verify, x, &c->verify_wall);
	crypto_aead_xchacha20poly1305_ietf_encrypt(x->ct, NULL, x->msg, sizeof(x->msg), NULL, 0, NULL, x->nonce, x->key);
	c->xchacha_dec = bench__loop(secs, bench__op_decrypt, x, &c->xchacha_dec_wall);
	c->blake2b = bench__loop(secs, bench__op_blake2b, x, &c->blake2b_wall);
	if (x->bad != 0)
		bench_die("a crypto ceiling loop failed to verify or decrypt");
	sodium_free(x);
}

static void bench__lmdb_txn(MDB_env *env, MDB_dbi dbi, uint32_t puts, uint8_t *val)
{
	MDB_txn *txn;
	uint8_t k[32];
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		bench_die("mdb_txn_begin: %s", mdb_strerror(rc));
	for (uint32_t i = 0; i < puts; i++) {
		MDB_val mk = {32, k}, mv = {BENCH_MSG_BYTES, val};
		randombytes_buf(k, sizeof(k));
		val[0] = k[0];
		if ((rc = mdb_put(txn, dbi, &mk, &mv, 0)) != 0)
			bench_die("mdb_put: %s", mdb_strerror(rc));
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		bench_die("mdb_txn_commit: %s", mdb_strerror(rc));
}

/* Durable commits (LMDB's defaults: fsync at each commit), puts per second. */
static double bench__lmdb_rate(const char *dir, uint32_t puts_per_txn, double secs, uint32_t min_txns)
{
	uint8_t val[BENCH_MSG_BYTES];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t puts = 0;
	double t0, el;
	uint32_t txns = 0;

	if (bench_mkdir(dir) != 0 || mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, 8ull << 30) != 0 ||
	    mdb_env_open(env, dir, 0, 0600) != 0 || mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0 || mdb_txn_commit(txn) != 0)
		bench_die("cannot open an LMDB environment in %s", dir);
	randombytes_buf(val, sizeof(val));
	t0 = bench_now();
	do {
		bench__lmdb_txn(env, dbi, puts_per_txn, val);
		puts += puts_per_txn;
		txns++;
		el = bench_now() - t0;
	} while (el < secs || txns < min_txns);
	mdb_env_close(env);
	bench_rmtree(dir);
	return (double)puts / el;
}

static void bench__db_stat(MDB_txn *txn, MDB_dbi dbi, struct bench_dbs *out, const char *name, size_t len)
{
	MDB_stat st;
	uint32_t i = out->n;

	if (i == BENCH_DBS_MAX || mdb_stat(txn, dbi, &st) != 0)
		return;
	snprintf(out->db[i].name, sizeof(out->db[i].name), "%.*s", (int)(len < 23 ? len : 23), name);
	out->db[i].entries = st.ms_entries;
	out->db[i].pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
	out->page_bytes = st.ms_psize;
	out->n++;
}

/* The free list (database 0): each entry is a txn id -> a list of page numbers, the first word its count. */
static uint64_t bench__free_pages(MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;

	if (mdb_cursor_open(txn, 0, &cur) != 0)
		return 0;
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
		if (v.mv_size >= sizeof(size_t))
			n += *(const size_t *)v.mv_data;
	mdb_cursor_close(cur);
	return n;
}

void bench_dbs_read(const char *store_dir, struct bench_dbs *out)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi main_dbi, dbi;
	MDB_val k, v;

	memset(out, 0, sizeof(*out));
	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, BENCH_DBS_MAX) != 0 ||
	    mdb_env_open(env, store_dir, MDB_RDONLY, 0600) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &main_dbi) != 0 || mdb_cursor_open(txn, main_dbi, &cur) != 0)
		goto out;
	out->free_pages = bench__free_pages(txn);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)(k.mv_size < 63 ? k.mv_size : 63), (const char *)k.mv_data);
		if (mdb_dbi_open(txn, name, 0, &dbi) == 0)
			bench__db_stat(txn, dbi, out, name, strlen(name));
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
}

static int bench__cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Disks shared with other work are noisy: three rounds, the median kept, the range shown. */
static double bench__lmdb_median(const char *dir, uint32_t puts_per_txn, double secs, uint32_t min_txns,
				 double range[2])
{
	double v[BENCH_LMDB_ROUNDS];

	for (int i = 0; i < BENCH_LMDB_ROUNDS; i++)
		v[i] = bench__lmdb_rate(dir, puts_per_txn, secs, min_txns);
	qsort(v, BENCH_LMDB_ROUNDS, sizeof(v[0]), bench__cmp_double);
	range[0] = v[0];
	range[1] = v[BENCH_LMDB_ROUNDS - 1];
	return v[BENCH_LMDB_ROUNDS / 2];
}

/* ---- options ------------------------------------------------------------------------ */

static const char bench__usage[] =
    "usage: tejido-bench [--quick] [--json | --markdown] [--n N] [--dir DIR] [--tejido PATH]\n\n"
    "Measures this machine's ceilings, then ingest, the node's add path, queries and\n"
    "statistics. Prints figures; asserts none. Takes a few minutes with the defaults\n"
    "(N = 100,000), and the queries phase up to --query-budget more per size (--no-query\n"
    "skips it); --quick is tiny.\n\n"
    "  --n N            records ingested (default 100000)\n"
    "  --n-add N        incidents added one `add` at a time (default 2000)\n"
    "  --n-batch100 N   incidents added with add_batch of 100 (default 20000)\n"
    "  --n-daemon N     incidents in the daemon's store at the end (default 100000)\n"
    "  --n-cli N        runs of `tejido add --json FILE` (default 200)\n"
    "  --daemon-budget S  wall seconds each daemon phase may take (default 300); a phase\n"
    "                   that runs out reports the incidents it reached\n"
    "  --authors N      authors of the ingested records (default 8)\n"
    "  --threads N      validation threads of the pipelined ingest (default: cores)\n"
    "  --dir DIR        where the temp directory goes (default $TMPDIR or /tmp); use\n"
    "                   the disk a node's data lives on\n"
    "  --tejido PATH    the CLI binary (default: `tejido` next to this program)\n"
    "  --demo DIR       the demo incidents (default: the source tree's tools/demo)\n"
    "  --no-daemon      skip the daemon and CLI measurements\n"
    "  --no-cli         skip the CLI measurement\n"
    "  --n-query LIST   incidents of each queries phase (default 100000,1000000; each 1 to\n"
    "                   10000000): a node filled with them, then queries and statistics\n"
    "  --query-budget S wall seconds each queries fill may take (default 600)\n"
    "  --no-query       skip the queries and statistics phase\n"
    "  --sync-n LIST    record counts of the reconciliation matrix (bench_sync --n; default\n"
    "                   10000,100000,1000000)\n"
    "  --probes N       propagation probes, one hop and along the line (default 1000)\n"
    "  --line N         nodes of the propagation line (default 5)\n"
    "  --cold-n N       records of the cold replication over loopback (default 100000)\n"
    "  --netem MS       also the sim parts over `tc qdisc ... netem delay MS` on lo (root and\n"
    "                   the sch_netem module; delays ALL loopback traffic while it runs)\n"
    "  --delay MS       also the sim parts with sim's proxy delaying each hop by MS (no root)\n"
    "  --parts-budget S wall seconds each of bench_sync and sim may take (default 1800)\n"
    "  --no-sync        skip the reconciliation matrix (bench_sync)\n"
    "  --no-sim         skip propagation and cold replication (sim)\n"
    "  --json           print JSON\n"
    "  --json-out FILE  also write the JSON to FILE (with the table or --markdown)\n"
    "  --markdown       print the Markdown table of docs/BENCHMARKS.md\n";

enum {
	O_N = 1000,
	O_NADD,
	O_NB100,
	O_NDAEMON,
	O_NCLI,
	O_AUTHORS,
	O_THREADS,
	O_DIR,
	O_TEJIDO,
	O_DEMO,
	O_NODAEMON,
	O_NOCLI,
	O_JSONOUT,
	O_BUDGET,
	O_NQUERY,
	O_QBUDGET,
	O_NOQUERY,
	O_SYNCN,
	O_PROBES,
	O_LINE,
	O_COLDN,
	O_NETEM,
	O_DELAY,
	O_PBUDGET,
	O_NOSYNC,
	O_NOSIM
};

static uint64_t bench__num(const char *s, const char *opt)
{
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end != '\0')
		bench_usage_die("%s: '%s' is not a number", opt, s);
	return v;
}

static uint64_t bench__range(const char *s, const char *opt, uint64_t lo, uint64_t hi)
{
	uint64_t v = bench__num(s, opt);

	if (v < lo || v > hi)
		bench_usage_die("%s: %llu is out of range (%llu to %llu)", opt, (unsigned long long)v,
		                (unsigned long long)lo, (unsigned long long)hi);
	return v;
}

/* A program of the build next to this one (sim, bench_sync), into buf. */
static const char *bench__sibling(const char *name, char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 32);
	char *slash;

	if (n <= 0)
		return name;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return name;
	snprintf(slash + 1, 32, "%s", name);
	return buf;
}

static void bench__parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
	    {"quick", no_argument, NULL, 'q'},
	    {"json", no_argument, NULL, 'j'},
	    {"markdown", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {"n", required_argument, NULL, O_N},
	    {"n-add", required_argument, NULL, O_NADD},
	    {"n-batch100", required_argument, NULL, O_NB100},
	    {"n-daemon", required_argument, NULL, O_NDAEMON},
	    {"n-cli", required_argument, NULL, O_NCLI},
	    {"authors", required_argument, NULL, O_AUTHORS},
	    {"threads", required_argument, NULL, O_THREADS},
	    {"dir", required_argument, NULL, O_DIR},
	    {"tejido", required_argument, NULL, O_TEJIDO},
	    {"demo", required_argument, NULL, O_DEMO},
	    {"no-daemon", no_argument, NULL, O_NODAEMON},
	    {"no-cli", no_argument, NULL, O_NOCLI},
	    {"json-out", required_argument, NULL, O_JSONOUT},
	    {"daemon-budget", required_argument, NULL, O_BUDGET},
	    {"n-query", required_argument, NULL, O_NQUERY},
	    {"query-budget", required_argument, NULL, O_QBUDGET},
	    {"no-query", no_argument, NULL, O_NOQUERY},
	    {"sync-n", required_argument, NULL, O_SYNCN},
	    {"probes", required_argument, NULL, O_PROBES},
	    {"line", required_argument, NULL, O_LINE},
	    {"cold-n", required_argument, NULL, O_COLDN},
	    {"netem", required_argument, NULL, O_NETEM},
	    {"delay", required_argument, NULL, O_DELAY},
	    {"parts-budget", required_argument, NULL, O_PBUDGET},
	    {"no-sync", no_argument, NULL, O_NOSYNC},
	    {"no-sim", no_argument, NULL, O_NOSIM},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			o->quick = true;
			o->n = 2000, o->n_add = 20, o->n_batch100 = 300, o->n_daemon = 1000, o->n_cli = 3;
			o->ceiling_s = 0.05;
			o->n_query[0] = 2000, o->n_query_count = 1;
			o->parts.quick = true;
			o->parts.probes = 10, o->parts.line_nodes = 3, o->parts.cold_n = 200;
			break;
		case 'j': o->json = true; break;
		case 'm': o->markdown = true; break;
		case 'h': fputs(bench__usage, stdout); exit(0);
		case O_N: o->n = bench__num(optarg, "--n"); break;
		case O_NADD: o->n_add = bench__num(optarg, "--n-add"); break;
		case O_NB100: o->n_batch100 = bench__num(optarg, "--n-batch100"); break;
		case O_NDAEMON: o->n_daemon = bench__num(optarg, "--n-daemon"); break;
		case O_NCLI: o->n_cli = bench__num(optarg, "--n-cli"); break;
		case O_AUTHORS: o->authors = (uint32_t)bench__num(optarg, "--authors"); break;
		case O_THREADS: o->threads = (uint32_t)bench__num(optarg, "--threads"); break;
		case O_DIR: o->dir = optarg; break;
		case O_TEJIDO: o->tejido = optarg; break;
		case O_DEMO: o->demo_dir = optarg; break;
		case O_NODAEMON: o->skip_daemon = true; break;
		case O_NOCLI: o->skip_cli = true; break;
		case O_JSONOUT: o->json_out = optarg; break;
		case O_BUDGET: o->daemon_budget_s = (double)bench__num(optarg, "--daemon-budget"); break;
		case O_NQUERY: bench_query_opt_list(optarg, o); break;
		case O_QBUDGET: bench_query_opt_budget(optarg, o); break;
		case O_NOQUERY: o->skip_query = true; break;
		case O_SYNCN:
			o->parts.sync_n = optarg;
			break;
		case O_PROBES:
			o->parts.probes = (uint32_t)bench__range(optarg, "--probes", 1, 100000);
			break;
		case O_LINE:
			o->parts.line_nodes = (uint32_t)bench__range(optarg, "--line", 2, 64);
			break;
		case O_COLDN:
			o->parts.cold_n = bench__range(optarg, "--cold-n", 1, 10000000);
			break;
		case O_NETEM:
			o->parts.netem_ms = (uint32_t)bench__range(optarg, "--netem", 1, 10000);
			break;
		case O_DELAY:
			o->parts.delay_ms = (uint32_t)bench__range(optarg, "--delay", 1, 10000);
			break;
		case O_PBUDGET:
			o->parts.budget_s = (double)bench__range(optarg, "--parts-budget", 1, 86400);
			break;
		case O_NOSYNC:
			o->parts.skip_sync = true;
			break;
		case O_NOSIM:
			o->parts.skip_sim = true;
			break;
		default: fputs(bench__usage, stderr); exit(2);
		}
	}
	if (optind < argc)
		bench_usage_die("unexpected argument '%s'", argv[optind]);
	if (o->parts.netem_ms > 0 && o->parts.delay_ms > 0)
		bench_usage_die("--netem and --delay: one or the other");
	if (o->n < 2 || o->authors == 0 || o->n_add == 0 || o->n_batch100 == 0)
		bench_usage_die("--n must be >= 2, --authors, --n-add and --n-batch100 >= 1");
	if (o->threads == 0 || o->threads > 64)
		o->threads = o->threads == 0 ? 1 : 64;
}

/* ---- the machine --------------------------------------------------------------------- */

struct bench_machine {
	char date[32];
	char cpu[128];
	char kernel[128];
	long nproc;
	double mem_gb;
	char load_before[64], load_after[64];
	char fs[32];
	char command[512];
};

static void bench__loadavg(char out[64])
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;

	if (f != NULL && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(out, 64, "%.2f %.2f %.2f", a, b, c);
	else
		snprintf(out, 64, "unknown");
	if (f != NULL)
		fclose(f);
}

static void bench__machine(int argc, char **argv, const char *dir, struct bench_machine *m)
{
	char line[256];
	time_t now = time(NULL);
	struct utsname u;
	struct statfs sf;
	FILE *f = fopen("/proc/cpuinfo", "r");
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			snprintf(m->cpu, sizeof(m->cpu), "%s", colon + 2);
			m->cpu[strcspn(m->cpu, "\n")] = '\0';
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_gb = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1e9;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%.40s %.80s", u.sysname, u.release);
	snprintf(m->fs, sizeof(m->fs), "%s",
		 statfs(dir, &sf) != 0 ? "unknown" : (unsigned long)sf.f_type == BENCH_TMPFS_MAGIC ? "tmpfs" : "disk");
	bench__loadavg(m->load_before);
	for (int i = 0; i < argc && off < sizeof(m->command) - 1; i++) {
		const char *a = i == 0 ? "tejido-bench" : argv[i];
		int w = snprintf(m->command + off, sizeof(m->command) - off, "%s%s", i ? " " : "", a);
		off += w > 0 ? (size_t)w : 0;
	}
}

/* ---- report ---------------------------------------------------------------------------- */

struct bench_report {
	struct bench_opts o;
	struct bench_machine m;
	struct bench_ceilings c;
	uint64_t gen_bytes;
	struct bench_ingest_result ing1, ingp; /* tj_ingest_batch; parallel validation */
	bool daemon;
	struct bench_daemon_result d;
	uint32_t n_q; /* queries phases run */
	struct bench_query_result *q;
	struct bench_parts parts; /* bench_sync and sim, run as children */
};

static double bench__rate(const struct bench_ingest_result *r)
{
	return r->wall_s > 0 ? (double)r->records / r->wall_s : 0;
}

static double bench__mb(long kb)
{
	return (double)kb * 1024.0 / 1e6;
}

static void bench__add_dbs(cJSON *o, const struct bench_dbs *d, uint64_t per)
{
	cJSON *j = cJSON_AddObjectToObject(o, "lmdb_bytes_per_item_by_database");

	for (uint32_t i = 0; i < d->n; i++)
		cJSON_AddNumberToObject(j, d->db[i].name,
					per ? (double)d->db[i].pages * d->page_bytes / (double)per : 0);
	cJSON_AddNumberToObject(j, "(free pages)", per ? (double)d->free_pages * d->page_bytes / (double)per : 0);
}

/* "records 1843, by_ts 160, ..." bytes per item, largest first as stored. */
static void bench__dbs_line(const struct bench_dbs *d, uint64_t per, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (uint32_t i = 0; i < d->n && off < cap; i++) {
		int w = snprintf(out + off, cap - off, "%s%s %.0f", i ? ", " : "", d->db[i].name,
				 per ? (double)d->db[i].pages * d->page_bytes / (double)per : 0);
		off += w > 0 ? (size_t)w : 0;
	}
	if (off < cap)
		snprintf(out + off, cap - off, ", free pages %.0f",
			 per ? (double)d->free_pages * d->page_bytes / (double)per : 0);
}

static void bench__add_ingest(cJSON *o, const char *name, const struct bench_report *r,
			      const struct bench_ingest_result *g, uint32_t threads)
{
	cJSON *j = cJSON_AddObjectToObject(o, name);
	double rate = bench__rate(g), per = g->records ? (double)g->du_bytes / (double)g->records : 0;
	double mean = r->o.n ? (double)r->gen_bytes / (double)r->o.n : 0;
	double cores = g->wall_s > 0 ? g->cpu_s / g->wall_s : 0;
	double bound = r->c.verify * (double)r->m.nproc < r->c.lmdb_1000 ? r->c.verify * (double)r->m.nproc
									 : r->c.lmdb_1000;

	cJSON_AddNumberToObject(j, "validation_threads", threads);
	cJSON_AddNumberToObject(j, "records", (double)g->records);
	cJSON_AddNumberToObject(j, "refused", (double)g->refused);
	cJSON_AddNumberToObject(j, "wall_s", g->wall_s);
	cJSON_AddNumberToObject(j, "cpu_s", g->cpu_s);
	cJSON_AddNumberToObject(j, "cores_used", cores);
	cJSON_AddNumberToObject(j, "main_thread_on_cpu_s", g->main_cpu_s);
	cJSON_AddNumberToObject(j, "main_thread_waiting_for_cpu_s", g->main_wait_s);
	cJSON_AddNumberToObject(j, "main_thread_blocked_s", g->main_block_s);
	cJSON_AddNumberToObject(j, "records_per_s", rate);
	cJSON_AddNumberToObject(j, "disk_bytes_per_record", per);
	cJSON_AddNumberToObject(j, "disk_bytes_per_kib_record", mean > 0 ? per * 1024.0 / mean : 0);
	cJSON_AddNumberToObject(j, "lmdb_used_bytes_per_record",
				g->records ? (double)g->used_bytes / (double)g->records : 0);
	cJSON_AddNumberToObject(j, "peak_rss_mb", bench__mb(g->hwm_kb));
	cJSON_AddNumberToObject(j, "rss_at_start_mb", bench__mb(g->base_kb));
	cJSON_AddNumberToObject(j, "rss_anon_end_mb", bench__mb(g->anon_kb));
	cJSON_AddNumberToObject(j, "rss_file_end_mb", bench__mb(g->file_kb));
	cJSON_AddNumberToObject(j, "ratio_to_verify_x_cores_used",
				cores > 0 ? rate / (r->c.verify * cores) : 0);
	cJSON_AddNumberToObject(j, "ratio_to_lmdb_durable_1000", r->c.lmdb_1000 > 0 ? rate / r->c.lmdb_1000 : 0);
	cJSON_AddNumberToObject(j, "ratio_to_min_cores_x_verify_lmdb", bound > 0 ? rate / bound : 0);
	cJSON_AddNumberToObject(j, "ratio_to_strfry", rate / ANCHOR_STRFRY_RATE);
	cJSON_AddNumberToObject(j, "error", g->err);
	bench__add_dbs(j, &g->dbs, g->records);
	/* Goals: printed, never asserted. */
	j = cJSON_AddObjectToObject(j, "goals_met");
	cJSON_AddBoolToObject(j, "rate_at_least_1.5x_strfry", rate >= 1.5 * ANCHOR_STRFRY_RATE);
	cJSON_AddBoolToObject(j, "rate_at_least_0.8x_min_cores_x_verify_lmdb", rate >= 0.8 * bound);
	cJSON_AddBoolToObject(j, "peak_rss_under_100_mb", bench__mb(g->hwm_kb) < GOAL_RSS_MB);
	cJSON_AddBoolToObject(j, "disk_under_1600_bytes_per_kib", mean > 0 && per * 1024.0 / mean < GOAL_DISK_PER_KIB);
}

static cJSON *bench__json(const struct bench_report *r)
{
	cJSON *o = cJSON_CreateObject(), *m, *c, *a, *d;

	if (o == NULL)
		bench_die("out of memory");
	m = cJSON_AddObjectToObject(o, "machine");
	cJSON_AddStringToObject(m, "date", r->m.date);
	cJSON_AddStringToObject(m, "cpu", r->m.cpu);
	cJSON_AddNumberToObject(m, "nproc", (double)r->m.nproc);
	cJSON_AddNumberToObject(m, "mem_gb", r->m.mem_gb);
	cJSON_AddStringToObject(m, "kernel", r->m.kernel);
	cJSON_AddStringToObject(m, "libsodium", sodium_version_string());
	cJSON_AddStringToObject(m, "lmdb", MDB_VERSION_STRING);
	cJSON_AddStringToObject(m, "loadavg_before", r->m.load_before);
	cJSON_AddStringToObject(m, "loadavg_after", r->m.load_after);
	cJSON_AddStringToObject(m, "temp_dir_fs", r->m.fs);
	cJSON_AddStringToObject(m, "command", r->m.command);
	cJSON_AddBoolToObject(o, "quick", r->o.quick);
	c = cJSON_AddObjectToObject(o, "ceilings_single_core");
	cJSON_AddNumberToObject(c, "ed25519_sign_1kib_per_s", r->c.sign);
	cJSON_AddNumberToObject(c, "ed25519_verify_1kib_per_s", r->c.verify);
	cJSON_AddNumberToObject(c, "xchacha20poly1305_decrypt_1kib_per_s", r->c.xchacha_dec);
	cJSON_AddNumberToObject(c, "blake2b256_1kib_per_s", r->c.blake2b);
	cJSON_AddStringToObject(c, "crypto_unit", "operations per CPU second of one thread");
	cJSON_AddNumberToObject(c, "ed25519_sign_1kib_per_wall_s", r->c.sign_wall);
	cJSON_AddNumberToObject(c, "ed25519_verify_1kib_per_wall_s", r->c.verify_wall);
	cJSON_AddNumberToObject(c, "xchacha20poly1305_decrypt_1kib_per_wall_s", r->c.xchacha_dec_wall);
	cJSON_AddNumberToObject(c, "blake2b256_1kib_per_wall_s", r->c.blake2b_wall);
	cJSON_AddNumberToObject(c, "lmdb_durable_1000_puts_per_txn_puts_per_s", r->c.lmdb_1000);
	cJSON_AddNumberToObject(c, "lmdb_durable_1_put_per_txn_puts_per_s", r->c.lmdb_1);
	cJSON_AddNumberToObject(c, "lmdb_durable_1000_min", r->c.lmdb_1000_range[0]);
	cJSON_AddNumberToObject(c, "lmdb_durable_1000_max", r->c.lmdb_1000_range[1]);
	cJSON_AddNumberToObject(c, "lmdb_durable_1_min", r->c.lmdb_1_range[0]);
	cJSON_AddNumberToObject(c, "lmdb_durable_1_max", r->c.lmdb_1_range[1]);
	a = cJSON_AddObjectToObject(o, "ingest");
	cJSON_AddNumberToObject(a, "n", (double)r->o.n);
	cJSON_AddNumberToObject(a, "authors", r->o.authors);
	cJSON_AddNumberToObject(a, "batch", BENCH_BATCH);
	cJSON_AddNumberToObject(a, "mean_record_bytes", r->o.n ? (double)r->gen_bytes / (double)r->o.n : 0);
	bench__add_ingest(a, "tj_ingest_batch", r, &r->ing1, (uint32_t)r->m.nproc);
	bench__add_ingest(a, "parallel_validate", r, &r->ingp, r->o.threads);
	if (r->daemon) {
		d = cJSON_AddObjectToObject(o, "daemon");
		cJSON_AddNumberToObject(d, "phase_budget_s", r->o.daemon_budget_s);
		cJSON_AddNumberToObject(d, "mean_summary_body_bytes", r->d.mean_sum_bytes);
		cJSON_AddNumberToObject(d, "mean_case_body_bytes", r->d.mean_case_bytes);
		cJSON_AddNumberToObject(d, "add_one_n", (double)r->d.add1_n);
		cJSON_AddNumberToObject(d, "add_one_per_s", r->d.add1_rate);
		cJSON_AddNumberToObject(d, "add_batch_100_n", (double)r->d.batch100_n);
		cJSON_AddNumberToObject(d, "add_batch_100_per_s", r->d.batch100_rate);
		cJSON_AddNumberToObject(d, "add_batch_1000_n", (double)r->d.batch1000_n);
		cJSON_AddNumberToObject(d, "add_batch_1000_per_s", r->d.batch1000_rate);
		cJSON_AddNumberToObject(d, "add_batch_1000_items_per_request", r->d.batch1000_items_per_req);
		cJSON_AddNumberToObject(d, "add_one_daemon_cpu_us_each", r->d.add1_cpu_us);
		cJSON_AddNumberToObject(d, "add_batch_100_daemon_cpu_us_each", r->d.batch100_cpu_us);
		cJSON_AddNumberToObject(d, "add_batch_1000_daemon_cpu_us_each", r->d.batch1000_cpu_us);
		cJSON_AddNumberToObject(d, "cli_n", (double)r->d.cli_n);
		cJSON_AddNumberToObject(d, "cli_per_s", r->d.cli_rate);
		cJSON_AddNumberToObject(d, "cli_ms_each", r->d.cli_ms_each);
		cJSON_AddNumberToObject(d, "incidents", (double)r->d.incidents);
		cJSON_AddNumberToObject(d, "records", (double)r->d.records);
		cJSON_AddNumberToObject(d, "disk_bytes_per_incident",
					r->d.incidents ? (double)r->d.du_bytes / (double)r->d.incidents : 0);
		cJSON_AddNumberToObject(d, "lmdb_used_bytes_per_incident",
					r->d.incidents ? (double)r->d.store_bytes / (double)r->d.incidents : 0);
		cJSON_AddNumberToObject(d, "peak_rss_mb", bench__mb(r->d.hwm_kb));
		cJSON_AddNumberToObject(d, "rss_when_ready_mb", bench__mb(r->d.base_kb));
		cJSON_AddNumberToObject(d, "rss_anon_end_mb", bench__mb(r->d.anon_kb));
		cJSON_AddNumberToObject(d, "rss_file_end_mb", bench__mb(r->d.file_kb));
		bench__add_dbs(d, &r->d.dbs, r->d.incidents);
	}
	if (r->n_q > 0)
		bench_query_json(o, r->q, r->n_q, r->o.query_budget_s);
	bench_parts_json(o, &r->parts);
	return o;
}

/* One printed row: a figure, its value, the anchor or goal beside it. */
void bench_row(bool md, const char *what, const char *value, const char *anchor)
{
	if (md)
		printf("| %s | %s | %s |\n", what, value, anchor);
	else
		printf("  %-58s %18s   %s\n", what, value, anchor);
}

static const char *bench__fmt(char *buf, int decimals, double v)
{
	snprintf(buf, 64, "%.*f", decimals, v);
	return buf;
}

static const char *bench__goal(char *buf, bool met, const char *what)
{
	snprintf(buf, 160, "%s %s", met ? "MET" : "NOT MET", what);
	return buf;
}

static void bench__print_ingest(bool md, const struct bench_report *r, const struct bench_ingest_result *g,
				const char *name)
{
	char v[64], a[160], w[160];
	double rate = bench__rate(g), mean = (double)r->gen_bytes / (double)r->o.n;
	double per = g->records ? (double)g->du_bytes / (double)g->records : 0;
	double cores = g->wall_s > 0 ? g->cpu_s / g->wall_s : 0;
	double vc = r->c.verify * (double)r->m.nproc;
	double bound = vc < r->c.lmdb_1000 ? vc : r->c.lmdb_1000;

	snprintf(w, sizeof(w), "ingest %s: records/s", name);
	bench__goal(a, rate >= 1.5 * ANCHOR_STRFRY_RATE, ">= 1.5x strfry 8,900");
	bench_row(md, w, bench__fmt(v, 0, rate), a);
	snprintf(w, sizeof(w), "ingest %s: / min(%ld x verify, LMDB 1000/txn)", name, r->m.nproc);
	bench_row(md, w, bench__fmt(v, 2, bound > 0 ? rate / bound : 0),
	          bench__goal(a, rate >= 0.8 * bound, ">= 0.80"));
	snprintf(w, sizeof(w), "ingest %s: CPU s / wall s (cores used)", name);
	snprintf(a, sizeof(a), "%.1f CPU s over %.1f s; main thread: %.1f s on a CPU, %.1f s waiting for one, %.1f s blocked (I/O)",
		 g->cpu_s, g->wall_s, g->main_cpu_s, g->main_wait_s, g->main_block_s);
	bench_row(md, w, bench__fmt(v, 2, cores), a);
	snprintf(w, sizeof(w), "ingest %s: / (verify x cores used)", name);
	bench_row(md, w, bench__fmt(v, 2, cores > 0 ? rate / (r->c.verify * cores) : 0), "");
	snprintf(w, sizeof(w), "ingest %s: peak RSS (VmHWM), MB", name);
	snprintf(a, sizeof(a), "%s (strfry 320; start %.1f, end anon %.1f + file %.1f)",
		 bench__goal(v, bench__mb(g->hwm_kb) < GOAL_RSS_MB, "< 100"), bench__mb(g->base_kb),
		 bench__mb(g->anon_kb), bench__mb(g->file_kb));
	bench_row(md, w, bench__fmt(v, 1, bench__mb(g->hwm_kb)), a);
	snprintf(w, sizeof(w), "ingest %s: disk bytes per record (du)", name);
	snprintf(a, sizeof(a), "%s per 1 KiB: %.0f (strfry 2,650 per 1.2 KB); LMDB used %.0f",
		 bench__goal(v, per * 1024.0 / mean < GOAL_DISK_PER_KIB, "< 1,600"), per * 1024.0 / mean,
		 g->records ? (double)g->used_bytes / (double)g->records : 0);
	bench_row(md, w, bench__fmt(v, 0, per), a);
	{
		char line[400];
		bench__dbs_line(&g->dbs, g->records, line, sizeof(line));
		bench_row(md, "  LMDB bytes per record by database", "", line);
	}
	if (g->refused != 0 || g->err != 0) {
		snprintf(a, sizeof(a), "error %s", tj_strerror(g->err));
		bench_row(md, "  REFUSED records (must be 0)", bench__fmt(v, 0, (double)g->refused), a);
	}
}

static void bench__print(const struct bench_report *r, bool md)
{
	char v[64], a[160], w[160];

	if (md) {
		printf("Measured %s on %ld x %s (%.1f GB RAM, %s), libsodium %s, %s.\n", r->m.date, r->m.nproc, r->m.cpu,
		       r->m.mem_gb, r->m.kernel, sodium_version_string(), MDB_VERSION_STRING);
		printf("Command: `%s`. Load average before %s, after %s. Temp dir on %s.\n\n", r->m.command,
		       r->m.load_before, r->m.load_after, r->m.fs);
		printf("| figure | measured | anchor / goal |\n|---|---:|---|\n");
	} else {
		printf("tejido-bench  %s  %ld x %s  load %s -> %s  temp dir on %s\n", r->m.date, r->m.nproc, r->m.cpu,
		       r->m.load_before, r->m.load_after, r->m.fs);
		printf("command: %s\n\nceilings (one core):\n", r->m.command);
	}
	snprintf(a, sizeof(a), "anchor ~37,000; per wall s %.0f", r->c.sign_wall);
	bench_row(md, "Ed25519 sign 1 KiB, per CPU s", bench__fmt(v, 0, r->c.sign), a);
	snprintf(a, sizeof(a), "anchor ~15,000; per wall s %.0f", r->c.verify_wall);
	bench_row(md, "Ed25519 verify 1 KiB, per CPU s", bench__fmt(v, 0, r->c.verify), a);
	snprintf(a, sizeof(a), "anchor ~730,000; per wall s %.0f", r->c.xchacha_dec_wall);
	bench_row(md, "XChaCha20-Poly1305 decrypt 1 KiB, per CPU s", bench__fmt(v, 0, r->c.xchacha_dec), a);
	snprintf(a, sizeof(a), "per wall s %.0f", r->c.blake2b_wall);
	bench_row(md, "BLAKE2b-256 of 1 KiB, per CPU s", bench__fmt(v, 0, r->c.blake2b), a);
	snprintf(a, sizeof(a), "anchor ~18,700; median of %d rounds, %.0f to %.0f", BENCH_LMDB_ROUNDS,
		 r->c.lmdb_1000_range[0], r->c.lmdb_1000_range[1]);
	bench_row(md, "LMDB durable, 1,000 puts of 1 KiB per txn: puts/s", bench__fmt(v, 0, r->c.lmdb_1000),
	          a);
	snprintf(a, sizeof(a), "anchor ~2,400; median of %d rounds, %.0f to %.0f", BENCH_LMDB_ROUNDS,
		 r->c.lmdb_1_range[0], r->c.lmdb_1_range[1]);
	bench_row(md, "LMDB durable, 1 put per txn: puts/s", bench__fmt(v, 0, r->c.lmdb_1), a);
	if (!md)
		printf("\ningest of %llu records (mean %.0f bytes, %u authors, batches of %d):\n",
		       (unsigned long long)r->o.n, (double)r->gen_bytes / (double)r->o.n, r->o.authors, BENCH_BATCH);
	else {
		snprintf(w, sizeof(w), "ingest: records (mean bytes, authors)");
		snprintf(a, sizeof(a), "%.0f bytes each, %u authors, batches of %d", (double)r->gen_bytes / (double)r->o.n,
			 r->o.authors, BENCH_BATCH);
		bench_row(md, w, bench__fmt(v, 0, (double)r->o.n), a);
	}
	snprintf(w, sizeof(w), "tj_ingest_batch (validation on %ld cores)", r->m.nproc);
	bench__print_ingest(md, r, &r->ing1, w);
	snprintf(w, sizeof(w), "pipeline (validate x%u while the writer commits)", r->o.threads);
	bench__print_ingest(md, r, &r->ingp, w);
	if (!r->daemon)
		return;
	if (!md)
		printf("\nthe node's add path (daemon over its control socket; bodies %.0f + %.0f bytes):\n",
		       r->d.mean_sum_bytes, r->d.mean_case_bytes);
	snprintf(a, sizeof(a), "%llu incidents, each committed before its reply; daemon CPU %.0f us each",
		 (unsigned long long)r->d.add1_n, r->d.add1_cpu_us);
	bench_row(md, "daemon `add`, one per request: incidents/s", bench__fmt(v, 0, r->d.add1_rate), a);
	snprintf(a, sizeof(a), "%llu incidents; daemon CPU %.0f us each", (unsigned long long)r->d.batch100_n,
		 r->d.batch100_cpu_us);
	bench_row(md, "daemon `add_batch` of 100: incidents/s", bench__fmt(v, 0, r->d.batch100_rate), a);
	snprintf(a, sizeof(a), "%llu incidents, %.0f per request (256 KiB request limit); daemon CPU %.0f us each",
		 (unsigned long long)r->d.batch1000_n, r->d.batch1000_items_per_req, r->d.batch1000_cpu_us);
	bench_row(md, "daemon `add_batch` of up to 1,000: incidents/s", bench__fmt(v, 0, r->d.batch1000_rate),
	          a);
	snprintf(a, sizeof(a), "%llu runs, %.1f ms each, process start included", (unsigned long long)r->d.cli_n,
		 r->d.cli_ms_each);
	bench_row(md, "`tejido add --json FILE`: incidents/s", bench__fmt(v, 1, r->d.cli_rate), a);
	snprintf(a, sizeof(a), "%llu incidents, %llu records; LMDB used %.0f", (unsigned long long)r->d.incidents,
		 (unsigned long long)r->d.records,
		 r->d.incidents ? (double)r->d.store_bytes / (double)r->d.incidents : 0);
	bench_row(md, "daemon: disk bytes per incident (summary + case, du)",
	          bench__fmt(v, 0, r->d.incidents ? (double)r->d.du_bytes / (double)r->d.incidents : 0), a);
	snprintf(a, sizeof(a), "when ready %.1f; end anon %.1f + file %.1f", bench__mb(r->d.base_kb),
		 bench__mb(r->d.anon_kb), bench__mb(r->d.file_kb));
	bench_row(md, "daemon: peak RSS (VmHWM), MB", bench__fmt(v, 1, bench__mb(r->d.hwm_kb)), a);
	{
		char line[400];
		bench__dbs_line(&r->d.dbs, r->d.incidents, line, sizeof(line));
		bench_row(md, "  LMDB bytes per incident by database", "", line);
	}
}

/* ---- main ------------------------------------------------------------------------------ */

static void bench__run(struct bench_report *r, const char *tmp)
{
	char path[BENCH_PATH_MAX], rec[BENCH_PATH_MAX];
	struct bench_corpus *corpus = bench_corpus_load(r->o.demo_dir);
	struct bench_net *net = bench_net_new(r->o.authors);
	double secs = r->o.ceiling_s;

	bench__crypto_ceilings(secs, &r->c);
	bench_path(path, tmp, "lmdb-ceiling");
	r->c.lmdb_1000 = bench__lmdb_median(path, 1000, secs, 3, r->c.lmdb_1000_range);
	r->c.lmdb_1 = bench__lmdb_median(path, 1, secs, 20, r->c.lmdb_1_range);

	bench_path(rec, tmp, "records.bin");
	r->gen_bytes = bench_gen_records(corpus, net, r->o.n, rec);
	bench_path(path, tmp, "ingest-1");
	if (bench_mkdir(path) != 0)
		bench_die("cannot create %s", path);
	bench_ingest_run(net, rec, path, 0, &r->ing1);
	bench_rmtree(path);
	bench_path(path, tmp, "ingest-p");
	if (bench_mkdir(path) != 0)
		bench_die("cannot create %s", path);
	bench_ingest_run(net, rec, path, r->o.threads, &r->ingp);
	bench_rmtree(path);
	unlink(rec);
	bench_net_free(net);

	if (!r->o.skip_daemon) {
		if (!r->o.skip_cli && access(r->o.tejido, X_OK) != 0)
			bench_die("no CLI at %s (use --tejido PATH or --no-cli)", r->o.tejido);
		bench_daemon_run(&r->o, corpus, tmp, &r->d);
		r->daemon = true;
	}
	if (!r->o.skip_query) {
		if (access(r->o.tejido, X_OK) != 0)
			bench_die("no CLI at %s (use --tejido PATH or --no-query)", r->o.tejido);
		if ((r->q = calloc(r->o.n_query_count, sizeof(*r->q))) == NULL)
			bench_die("out of memory");
		for (; r->n_q < r->o.n_query_count; r->n_q++)
			bench_query_run(&r->o, corpus, tmp, r->o.n_query[r->n_q], &r->q[r->n_q]);
	}
	bench_corpus_free(corpus);
	r->o.parts.tejido = r->o.tejido;
	r->o.parts.dir = tmp;
	bench_parts_run(&r->o.parts, &r->parts);
}

int main(int argc, char **argv)
{
	static struct bench_report r;
	char tejido[BENCH_PATH_MAX], tmp[BENCH_PATH_MAX], sim[BENCH_PATH_MAX], sync[BENCH_PATH_MAX];
	const char *base = getenv("TMPDIR");
	bool status;

	r.o = (struct bench_opts){.n = 100000, .n_add = 2000, .n_batch100 = 20000, .n_daemon = 100000,
				  .n_cli = 200, .authors = 8, .ceiling_s = 1.0, .daemon_budget_s = 300, .demo_dir = TJ_BENCH_DEMO_DIR,
				  .n_query = {100000, 1000000}, .n_query_count = 2, .query_budget_s = 600};
	r.o.threads = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	r.o.parts =
	    (struct bench_parts_opts){.probes = 1000, .line_nodes = 5, .cold_n = 100000, .budget_s = 1800};
	r.o.parts.sim_bin = bench__sibling("sim", sim, sizeof(sim));
	r.o.parts.sync_bin = bench__sibling("bench_sync", sync, sizeof(sync));
	r.o.tejido = bench__sibling("tejido", tejido, sizeof(tejido));
	bench__parse(argc, argv, &r.o);
	if (r.o.dir == NULL)
		r.o.dir = base != NULL && base[0] != '\0' ? base : "/tmp";
	if (sodium_init() < 0)
		bench_die("cannot start libsodium");
	snprintf(tmp, sizeof(tmp), "%s/tejido-bench-XXXXXX", r.o.dir);
	if (mkdtemp(tmp) == NULL)
		bench_die("cannot create a temp dir in %s: %s", r.o.dir, strerror(errno));
	bench__machine(argc, argv, tmp, &r.m);
	if (strcmp(r.m.fs, "tmpfs") == 0)
		fprintf(stderr, "tejido-bench: warning: %s is tmpfs; durable rates mean nothing there (use --dir)\n", tmp);
	bench__run(&r, tmp);
	bench__loadavg(r.m.load_after);
	bench_rmtree(tmp);
	if (r.o.json || r.o.json_out != NULL) {
		cJSON *j = bench__json(&r);
		char *s = cJSON_Print(j);
		FILE *f;
		if (s == NULL)
			bench_die("out of memory");
		if (r.o.json)
			printf("%s\n", s);
		if (r.o.json_out != NULL && ((f = fopen(r.o.json_out, "w")) == NULL || fprintf(f, "%s\n", s) < 0 ||
					     fclose(f) != 0))
			bench_die("cannot write %s", r.o.json_out);
		free(s);
		cJSON_Delete(j);
	}
	if (!r.o.json) {
		bench__print(&r, r.o.markdown);
		bench_query_print(r.o.markdown, r.q, r.n_q);
		bench_parts_print(r.o.markdown, &r.parts);
	}
	status = r.ing1.err != 0 || r.ingp.err != 0 || r.ing1.refused != 0 || r.ingp.refused != 0 ||
	         !bench_query_ok(r.q, r.n_q) || !bench_parts_ok(&r.parts);
	free(r.q);
	bench_parts_free(&r.parts);
	return status ? 1 : 0;
}
