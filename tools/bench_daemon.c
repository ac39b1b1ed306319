/*
 * The node's add path, end to end: a real daemon (fork + tj_daemon_run) on a
 * fresh data directory, fed over its control socket:
 *   add         one incident per request, each acknowledged after its commit
 *   add_batch   100 per request, then up to 1,000 (the request limit,
 *               TJ_CTL_REQUEST_MAX_BYTES, may cut a request shorter: the
 *               figure says how many items a request really carried)
 *   the CLI     `tejido add --data DIR --json FILE`, one process per incident
 * then the store's bytes on disk per incident and the daemon's peak RSS.
 *
 * Bodies come from a pool of BENCH_POOL incidents built before any timing;
 * the node seals every add afresh (new nonce, key, id), so a body used twice
 * is two records. Rates are incidents / the sum of the requests' round trips.
 * Each phase stops after --daemon-budget seconds: the figures then say how
 * many incidents it reached (the store may end short of --n-daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "bench.h"
#include "tj_control.h"
#include "tj_incident.h"
#include "tj_mp.h"
#include "tj_node.h"
#include "tj_store.h"

#define BENCH_POOL 1000
#define BENCH_PASS "tejido-bench passphrase"
#define BENCH_REQ_SLACK_BYTES 256u
#define BENCH_READY_TIMEOUT_MS 900000 /* a daemon opening a big store */

struct bench__pool {
	uint8_t *sum[BENCH_POOL];
	size_t sum_len[BENCH_POOL];
	uint8_t *kase[BENCH_POOL];
	size_t case_len[BENCH_POOL];
};

struct bench__d {
	struct bench_dproc p;
	struct bench__pool pool;
};

static void bench__pool_make(const struct bench_corpus *c, struct bench__pool *p, struct bench_daemon_result *r)
{
	uint8_t *s = malloc(TJ_INC_BODY_MAX_BYTES), *k = malloc(TJ_INC_BODY_MAX_BYTES);
	uint64_t rs = 7, ts = 0, tc = 0;

	if (s == NULL || k == NULL)
		bench_die("out of memory");
	for (size_t i = 0; i < BENCH_POOL; i++) {
		size_t sl = 0, cl = 0;
		bench_incident(c, i, 0, s, &sl, k, &cl);
		bench_incident(c, i, bench_case_target(sl, &rs), s, &sl, k, &cl);
		p->sum[i] = malloc(sl);
		p->kase[i] = malloc(cl);
		if (p->sum[i] == NULL || p->kase[i] == NULL)
			bench_die("out of memory");
		memcpy(p->sum[i], s, sl);
		memcpy(p->kase[i], k, cl);
		p->sum_len[i] = sl;
		p->case_len[i] = cl;
		ts += sl;
		tc += cl;
	}
	r->mean_sum_bytes = (double)ts / BENCH_POOL;
	r->mean_case_bytes = (double)tc / BENCH_POOL;
	free(s);
	free(k);
}

static void bench__pool_free(struct bench__pool *p)
{
	for (size_t i = 0; i < BENCH_POOL; i++) {
		free(p->sum[i]);
		free(p->kase[i]);
	}
}

/* ---- a daemon of the bench (also bench_query.c) ---------------------------------- */

/* As `tejido init` makes it, with the cheapest Argon2id (a benchmark, not a node). */
void bench_node_create(const char *dir)
{
	struct tj_identity *id = NULL;
	struct tj_unlocked *u = NULL;
	char key[BENCH_PATH_MAX];
	int rc;

	if (bench_mkdir(dir) != 0)
		bench_die("cannot create %s", dir);
	bench_path(key, dir, "key");
	if ((rc = tj_identity_generate(&id)) != 0 ||
	    (rc = tj_keyfile_create(key, id, "bench", BENCH_PASS, strlen(BENCH_PASS), TJ_KDF_MIN)) != 0 ||
	    (rc = tj_keyfile_unlock(key, BENCH_PASS, strlen(BENCH_PASS), &u)) != 0 ||
	    (rc = tj_node_init(dir, u, NULL)) != 0)
		bench_die("cannot create a node in %s: %s", dir, tj_strerror(rc));
	tj_unlocked_free(u);
	tj_identity_free(id);
}

static void bench__dproc_child(const char *dir, int ready)
{
	struct tj_daemon_opts opts = {.datadir = dir, .ready_fd = ready};
	struct tj_unlocked *u = NULL;
	char path[BENCH_PATH_MAX];
	int log;

	/* A bench that dies (bench_die) takes its daemon with it: none is left running. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
		_exit(5);
	bench_path(path, dir, "daemon.log");
	log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log >= 0) {
		dup2(log, STDERR_FILENO);
		dup2(log, STDOUT_FILENO);
		close(log);
	}
	bench_path(path, dir, "key");
	if (tj_keyfile_unlock(path, BENCH_PASS, strlen(BENCH_PASS), &u) != 0)
		_exit(4);
	opts.unlocked = u;
	_exit(tj_daemon_run(&opts) == 0 ? 0 : 3);
}

void bench_dproc_start(struct bench_dproc *d)
{
	struct pollfd pfd;
	char byte;
	int p[2];

	if (pipe(p) != 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((d->pid = fork()) < 0)
		bench_die("fork: %s", strerror(errno));
	if (d->pid == 0) {
		close(p[0]);
		bench__dproc_child(d->dir, p[1]);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, BENCH_READY_TIMEOUT_MS) != 1 || read(p[0], &byte, 1) != 1) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		bench_die("the daemon never became ready (see %s/daemon.log)", d->dir);
	}
	close(p[0]);
	if (tj_ctl_connect(d->dir, &d->fd) != 0)
		bench_die("cannot connect to the daemon's control socket");
}

/* Replies carry a page of incidents or a table as one JSON string (under 1 MiB), as the CLI reads them. */
static const struct tj_mp_limits bench__reply_limits = {
    .max_depth = 8,
    .max_items = 1u << 20,
    .max_str = 1u << 20,
    .canonical = false,
};

/* Positions r at the value of key in a reply map; false when absent. */
bool bench_reply_find(const uint8_t *reply, size_t len, const char *key, struct tj_mp_reader *r)
{
	const char *k;
	uint32_t n, kl;

	tj_mp_reader_init(r, reply, len);
	if (tj_mp_read_map(r, &n) != 0)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_str(r, &k, &kl) != 0)
			return false;
		if (kl == strlen(key) && memcmp(k, key, kl) == 0)
			return true;
		if (tj_mp_skip(r) != 0)
			return false;
	}
	return false;
}

bool bench_reply_str(const uint8_t *reply, size_t len, const char *key, const char **s, uint32_t *sl)
{
	struct tj_mp_reader r;

	return bench_reply_find(reply, len, key, &r) && tj_mp_read_str(&r, s, sl) == 0;
}

bool bench_reply_uint(const uint8_t *reply, size_t len, const char *key, uint64_t *v)
{
	struct tj_mp_reader r;

	return bench_reply_find(reply, len, key, &r) && tj_mp_read_uint(&r, v) == 0;
}

/* One request; dies unless the reply is a map with ok: true. Returns the reply (caller frees). */
uint8_t *bench_dproc_call(struct bench_dproc *d, size_t len, size_t *reply_len)
{
	struct tj_mp_reader r;
	uint8_t *reply = NULL;
	const char *msg = "";
	uint32_t ml = 0;
	bool ok = false;
	int rc;

	if ((rc = tj_ctl_call(d->fd, d->req, len, &reply, reply_len)) != 0)
		bench_die("control socket: %s", tj_strerror(rc));
	if (tj_mp_check(reply, *reply_len, &bench__reply_limits, true, NULL) != 0)
		bench_die("the daemon's reply is not msgpack");
	if (!bench_reply_find(reply, *reply_len, "ok", &r) || tj_mp_read_bool(&r, &ok) != 0 || !ok) {
		(void)bench_reply_str(reply, *reply_len, "msg", &msg, &ml);
		bench_die("the daemon refused a request: %.*s (see %s/daemon.log)", (int)ml, msg, d->dir);
	}
	return reply;
}

size_t bench_dproc_simple(struct bench_dproc *d, const char *op)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, d->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	if (tj_mp_writer_finish(&w, &len) != 0)
		bench_die("%s request", op);
	return len;
}

void bench_dproc_stop(struct bench_dproc *d)
{
	size_t rl = 0;

	free(bench_dproc_call(d, bench_dproc_simple(d, "stop"), &rl));
	close(d->fd);
	waitpid(d->pid, NULL, 0);
}

static void bench__put_item(struct tj_mp_writer *w, const struct bench__pool *p, uint64_t i)
{
	size_t k = (size_t)(i % BENCH_POOL);

	tj_mp_put_cstr(w, "summary");
	tj_mp_put_bin(w, p->sum[k], p->sum_len[k]);
	tj_mp_put_cstr(w, "case");
	tj_mp_put_bin(w, p->kase[k], p->case_len[k]);
}

static size_t bench__item_bytes(const struct bench__pool *p, uint64_t i)
{
	size_t k = (size_t)(i % BENCH_POOL);

	return p->sum_len[k] + p->case_len[k] + 32;
}

/*
 * One `add` per incident: [next, next + *n). Returns seconds spent in round
 * trips; stops once budget_s of wall time passed (*n = how many were added).
 */
static double bench__add_one_by_one(struct bench__d *d, uint64_t next, uint64_t *n, double budget_s)
{
	double t = 0, start = bench_now();
	uint64_t i;

	for (i = next; i < next + *n && bench_now() - start < budget_s; i++) {
		struct tj_mp_writer w;
		size_t len = 0, rl = 0;
		double t0 = bench_now();

		tj_mp_writer_init(&w, d->p.req, TJ_CTL_REQUEST_MAX_BYTES);
		tj_mp_put_map(&w, 3);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "add");
		bench__put_item(&w, &d->pool, i);
		if (tj_mp_writer_finish(&w, &len) != 0)
			bench_die("request too large");
		free(bench_dproc_call(&d->p, len, &rl));
		t += bench_now() - t0;
	}
	*n = i - next;
	return t;
}

/* Counts the items of an add_batch reply that carry an id. */
static uint64_t bench__batch_stored(const uint8_t *reply, size_t len)
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t n, kl, m, f;
	uint64_t stored = 0;

	tj_mp_reader_init(&r, reply, len);
	if (tj_mp_read_map(&r, &n) != 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_str(&r, &k, &kl) != 0)
			return 0;
		if (!(kl == 7 && memcmp(k, "results", 7) == 0)) {
			if (tj_mp_skip(&r) != 0)
				return 0;
			continue;
		}
		if (tj_mp_read_array(&r, &m) != 0)
			return 0;
		for (uint32_t j = 0; j < m; j++) {
			if (tj_mp_read_map(&r, &f) != 0)
				return stored;
			stored += f == 4; /* {id, case_id, severity, recorded_at}; an error is {err, msg} */
			for (uint32_t q = 0; q < 2 * f; q++)
				if (tj_mp_skip(&r) != 0)
					return stored;
		}
	}
	return stored;
}

/* add_batch of up to `batch` incidents a request; returns round-trip seconds, *requests; budget as above. */
static double bench__add_batches(struct bench__d *d, uint64_t next, uint64_t *n, uint32_t batch, uint64_t *requests,
				 double budget_s)
{
	double t = 0, start = bench_now();
	uint64_t i = next, end = next + *n;

	*requests = 0;
	while (i < end && bench_now() - start < budget_s) {
		struct tj_mp_writer w;
		size_t len = 0, rl = 0, bytes = 64;
		uint32_t k = 0;
		uint8_t *reply;
		double t0 = bench_now();

		while (i + k < end && k < batch && bytes + bench__item_bytes(&d->pool, i + k) +
							       BENCH_REQ_SLACK_BYTES <= TJ_CTL_REQUEST_MAX_BYTES)
			bytes += bench__item_bytes(&d->pool, i + k++);
		tj_mp_writer_init(&w, d->p.req, TJ_CTL_REQUEST_MAX_BYTES);
		tj_mp_put_map(&w, 2);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "add_batch");
		tj_mp_put_cstr(&w, "items");
		tj_mp_put_array(&w, k);
		for (uint32_t j = 0; j < k; j++) {
			tj_mp_put_map(&w, 2);
			bench__put_item(&w, &d->pool, i + j);
		}
		if (tj_mp_writer_finish(&w, &len) != 0)
			bench_die("add_batch request too large");
		reply = bench_dproc_call(&d->p, len, &rl);
		t += bench_now() - t0;
		if (bench__batch_stored(reply, rl) != k)
			bench_die("add_batch: not every incident was stored");
		free(reply);
		i += k;
		(*requests)++;
	}
	*n = i - next;
	return t;
}

/* Runs `tejido add --data DIR --json FILE` n times over the demo files. */
static double bench__cli(const struct bench_opts *o, const struct bench_corpus *c, const char *dir, uint64_t n)
{
	double t0 = bench_now();

	for (uint64_t i = 0; i < n; i++) {
		const char *file = bench_corpus_path(c, (size_t)i);
		int status = 0;
		pid_t pid = fork();

		if (pid < 0)
			bench_die("fork: %s", strerror(errno));
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, STDOUT_FILENO);
				close(null);
			}
			execl(o->tejido, o->tejido, "add", "--data", dir, "--json", file, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bench_die("`%s add --data %s --json %s` failed (status %d)", o->tejido, dir, file, status);
	}
	return bench_now() - t0;
}

/* status: incidents, records, store_bytes. */
static void bench__status(struct bench__d *d, struct bench_daemon_result *r)
{
	struct tj_mp_writer w;
	struct tj_mp_reader rd;
	size_t len = 0, rl = 0;
	const char *k;
	uint32_t n, kl;
	uint8_t *reply;

	tj_mp_writer_init(&w, d->p.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	if (tj_mp_writer_finish(&w, &len) != 0)
		bench_die("status request");
	reply = bench_dproc_call(&d->p, len, &rl);
	tj_mp_reader_init(&rd, reply, rl);
	if (tj_mp_read_map(&rd, &n) != 0)
		bench_die("status reply");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = 0;
		if (tj_mp_read_str(&rd, &k, &kl) != 0)
			bench_die("status reply");
		if (kl == 9 && memcmp(k, "incidents", 9) == 0 && tj_mp_read_uint(&rd, &v) == 0)
			r->incidents = v;
		else if (kl == 7 && memcmp(k, "records", 7) == 0 && tj_mp_read_uint(&rd, &v) == 0)
			r->records = v;
		else if (kl == 11 && memcmp(k, "store_bytes", 11) == 0 && tj_mp_read_uint(&rd, &v) == 0)
			r->store_bytes = v;
		else if (tj_mp_skip(&rd) != 0)
			bench_die("status reply");
	}
	free(reply);
}

void bench_daemon_run(const struct bench_opts *o, const struct bench_corpus *c, const char *dir,
		      struct bench_daemon_result *out)
{
	struct bench__d d = {.p = {.fd = -1}};
	uint64_t next = 0, reqs = 0, fill, n;
	double t, cpu;

	memset(out, 0, sizeof(*out));
	bench_path(d.p.dir, dir, "node");
	d.p.req = malloc(TJ_CTL_REQUEST_MAX_BYTES);
	if (d.p.req == NULL)
		bench_die("out of memory");
	bench__pool_make(c, &d.pool, out);
	bench_node_create(d.p.dir);
	bench_dproc_start(&d.p);
	out->base_kb = bench_status_kb(d.p.pid, "VmRSS");

	cpu = bench_proc_cpu(d.p.pid);
	n = o->n_add;
	t = bench__add_one_by_one(&d, next, &n, o->daemon_budget_s);
	out->add1_cpu_us = bench_per(1e6 * (bench_proc_cpu(d.p.pid) - cpu), n);
	out->add1_n = n;
	out->add1_rate = t > 0 ? (double)n / t : 0;
	next += n;

	if (!o->skip_cli && o->n_cli > 0) {
		t = bench__cli(o, c, d.p.dir, o->n_cli);
		out->cli_n = o->n_cli;
		out->cli_rate = t > 0 ? (double)o->n_cli / t : 0;
		out->cli_ms_each = 1000.0 * t / (double)o->n_cli;
	}

	cpu = bench_proc_cpu(d.p.pid);
	n = o->n_batch100;
	t = bench__add_batches(&d, next, &n, 100, &reqs, o->daemon_budget_s);
	out->batch100_cpu_us = bench_per(1e6 * (bench_proc_cpu(d.p.pid) - cpu), n);
	out->batch100_n = n;
	out->batch100_rate = t > 0 ? (double)n / t : 0;
	next += n;

	/* The rest of the fill, with batches of up to 1,000: the store ends with n_daemon incidents. */
	fill = o->n_daemon > next + out->cli_n ? o->n_daemon - next - out->cli_n : 0;
	if (fill > 0) {
		cpu = bench_proc_cpu(d.p.pid);
		t = bench__add_batches(&d, next, &fill, 1000, &reqs, o->daemon_budget_s);
		out->batch1000_cpu_us = bench_per(1e6 * (bench_proc_cpu(d.p.pid) - cpu), fill);
		out->batch1000_n = fill;
		out->batch1000_rate = t > 0 ? (double)fill / t : 0;
		out->batch1000_items_per_req = bench_per((double)fill, reqs);
	}

	bench__status(&d, out);
	out->hwm_kb = bench_status_kb(d.p.pid, "VmHWM");
	out->anon_kb = bench_status_kb(d.p.pid, "RssAnon");
	out->file_kb = bench_status_kb(d.p.pid, "RssFile");
	bench_dproc_stop(&d.p);
	{
		char store[BENCH_PATH_MAX];
		bench_path(store, d.p.dir, TJ_STORE_DIR_NAME);
		out->du_bytes = bench_du(store);
		bench_dbs_read(store, &out->dbs);
	}
	bench__pool_free(&d.pool);
	free(d.p.req);
}
