/*
 * tejido-bench's parts that other programs of the build measure (see
 * bench_parts.h): each runs as a child process with its stdout captured,
 * bounded in time (SIGTERM at the budget, SIGKILL 20 s later; the child dies
 * with the bench too), and its JSON is kept whole in the report. The table
 * shows the figures the issue asks for, with the goals beside them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_parts.h"

#define BP_OUT_MAX (64u << 20) /* a child's JSON is far smaller */
#define BP_KILL_GRACE_S 20.0   /* sim stops its daemons on SIGTERM: give it time */
#define ANCHOR_STRFRY_COLD 2200.0
#define GOAL_COLD_X 5.0
#define GOAL_HOP_P99_MS 50.0
#define ANCHOR_SYNCTHING_BYTES 1500.0

static void bp_command(struct bench_part *p, char *const argv[])
{
	size_t used = 0;

	p->command[0] = '\0';
	for (size_t i = 0; argv[i] != NULL && used < sizeof(p->command); i++) {
		const char *a = argv[i];
		if (i == 0 && strrchr(a, '/') != NULL)
			a = strrchr(a, '/') + 1; /* the program's name: the path is the build's */
		int k = snprintf(p->command + used, sizeof(p->command) - used, "%s%s", i ? " " : "", a);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static bool bp_wait(pid_t pid, int *status, double until)
{
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return false;
		if (bench_now() >= until)
			return false;
		usleep(20000);
	}
}

/* Runs argv with its stdout captured (stderr shared: progress shows), within budget_s. */
static void bp_child(struct bench_part *p, char *const argv[], double budget_s)
{
	char *out = NULL;
	size_t len = 0, cap = 0;
	double t0 = bench_now(), until = t0 + budget_s;
	int fds[2], st = 0;
	pid_t pid;

	bp_command(p, argv);
	p->status = -1;
	fprintf(stderr, "tejido-bench: running %s\n", p->command);
	if (access(argv[0], X_OK) != 0) {
		fprintf(stderr, "tejido-bench: %s: %s (build it, or skip the part)\n", argv[0],
		        strerror(errno));
		return;
	}
	if (pipe2(fds, O_CLOEXEC) != 0)
		bench_die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pf = {.fd = fds[0], .events = POLLIN};
		double left = until - bench_now();
		ssize_t r;
		if (left <= 0) {
			p->timed_out = true;
			break;
		}
		if (poll(&pf, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (pf.revents == 0)
			continue;
		if (cap - len < 65536) {
			if (cap >= BP_OUT_MAX) {
				fprintf(stderr, "tejido-bench: %s printed over %u bytes\n", p->name,
				        BP_OUT_MAX);
				p->timed_out = true; /* treated as a failed run */
				break;
			}
			char *grown = realloc(out, cap ? cap * 2 : 1 << 16);
			if (grown == NULL)
				bench_die("out of memory");
			out = grown;
			cap = cap ? cap * 2 : 1 << 16;
		}
		r = read(fds[0], out + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	if (p->timed_out) {
		fprintf(stderr, "tejido-bench: %s ran out of its %.0f s: stopping it\n", p->name, budget_s);
		kill(pid, SIGTERM);
		if (!bp_wait(pid, &st, bench_now() + BP_KILL_GRACE_S)) {
			kill(pid, SIGKILL);
			bp_wait(pid, &st, bench_now() + 5.0);
		}
	} else if (!bp_wait(pid, &st, until + BP_KILL_GRACE_S)) {
		kill(pid, SIGKILL);
		bp_wait(pid, &st, bench_now() + 5.0);
	}
	p->wall_s = bench_now() - t0;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
	if (out != NULL) {
		out[len] = '\0';
		p->json = cJSON_Parse(out);
		if (p->json == NULL && len > 0)
			fprintf(stderr, "tejido-bench: %s printed no valid JSON\n", p->name);
		free(out);
	}
	if (p->status != 0)
		fprintf(stderr, "tejido-bench: %s exited with status %d\n", p->name, p->status);
}

static struct bench_part *bp_next(struct bench_parts *out, const char *name)
{
	struct bench_part *p;

	if (out->n >= BENCH_PARTS_MAX)
		bench_die("too many parts");
	p = &out->part[out->n++];
	memset(p, 0, sizeof(*p));
	p->name = name;
	return p;
}

#define BP_ARGS_MAX 32

struct bp_argv {
	char *v[BP_ARGS_MAX];
	char num[BP_ARGS_MAX][24];
	int n;
};

static void bp_arg(struct bp_argv *a, const char *s)
{
	if (a->n >= BP_ARGS_MAX - 1)
		bench_die("too many arguments");
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void bp_argu(struct bp_argv *a, const char *opt, unsigned long long v)
{
	bp_arg(a, opt);
	snprintf(a->num[a->n], sizeof(a->num[0]), "%llu", v);
	bp_arg(a, a->num[a->n]);
}

/* sim over a line of `nodes`: probes records one at a time, cold_n records into an offline node. */
static void bp_sim(const struct bench_parts_opts *o, struct bench_parts *out, const char *name,
                   uint32_t nodes, uint32_t probes, uint64_t cold_n, bool delayed)
{
	struct bp_argv a = {.n = 0};

	bp_arg(&a, o->sim_bin);
	bp_arg(&a, "--json");
	bp_arg(&a, "--topology");
	bp_arg(&a, "line");
	bp_argu(&a, "--nodes", nodes);
	bp_argu(&a, "--records", cold_n);
	bp_argu(&a, "--rate", 0);
	/* The returning node dials its peer itself, as a node back from days offline does (--mutual). */
	if (cold_n > 0) {
		bp_argu(&a, "--offline", 1);
		bp_arg(&a, "--mutual");
	}
	bp_argu(&a, "--probes", probes);
	if (o->tejido != NULL) {
		bp_arg(&a, "--tejido");
		bp_arg(&a, o->tejido);
	}
	if (delayed && o->netem_ms > 0)
		bp_argu(&a, "--netem", o->netem_ms);
	else if (delayed && o->delay_ms > 0)
		bp_argu(&a, "--delay-ms", o->delay_ms);
	bp_child(bp_next(out, name), a.v, o->budget_s);
}

static void bp_sync(const struct bench_parts_opts *o, struct bench_parts *out)
{
	struct bp_argv a = {.n = 0};
	uint32_t delay = o->netem_ms > 0 ? o->netem_ms : o->delay_ms;

	bp_arg(&a, o->sync_bin);
	bp_arg(&a, "--json");
	if (o->quick)
		bp_arg(&a, "--quick");
	else if (o->sync_n != NULL) {
		bp_arg(&a, "--n");
		bp_arg(&a, o->sync_n);
	}
	if (o->dir != NULL) {
		bp_arg(&a, "--dir");
		bp_arg(&a, o->dir);
	}
	if (delay > 0)
		bp_argu(&a, "--rtt-ms", 2ull * delay);
	bp_child(bp_next(out, "sync"), a.v, o->budget_s);
}

void bench_parts_run(const struct bench_parts_opts *o, struct bench_parts *out)
{
	bool delayed = o->netem_ms > 0 || o->delay_ms > 0;

	memset(out, 0, sizeof(*out));
	out->delay_ms = o->netem_ms > 0 ? o->netem_ms : o->delay_ms;
	out->delay_kind = o->netem_ms > 0 ? "netem" : o->delay_ms > 0 ? "proxy" : NULL;
	if (!o->skip_sync)
		bp_sync(o, out);
	if (o->skip_sim)
		return;
	bp_sim(o, out, "propagation_1hop", 2, o->probes, 0, false);
	bp_sim(o, out, "propagation_line", o->line_nodes, o->probes, 0, false);
	bp_sim(o, out, "cold_replication", 2, 0, o->cold_n, false);
	if (!delayed)
		return;
	bp_sim(o, out, "propagation_1hop_delayed", 2, o->probes, 0, true);
	bp_sim(o, out, "propagation_line_delayed", o->line_nodes, o->probes, 0, true);
	bp_sim(o, out, "cold_replication_delayed", 2, 0, o->cold_n, true);
}

void bench_parts_json(cJSON *root, const struct bench_parts *p)
{
	cJSON *parts = cJSON_AddObjectToObject(root, "parts");

	if (parts == NULL)
		bench_die("out of memory");
	if (p->delay_kind != NULL) {
		cJSON_AddNumberToObject(parts, "delay_ms", p->delay_ms);
		cJSON_AddStringToObject(parts, "delay_kind", p->delay_kind);
	}
	for (uint32_t i = 0; i < p->n; i++) {
		const struct bench_part *q = &p->part[i];
		cJSON *o = cJSON_AddObjectToObject(parts, q->name);
		cJSON_AddStringToObject(o, "command", q->command);
		cJSON_AddNumberToObject(o, "status", q->status);
		cJSON_AddBoolToObject(o, "timed_out", q->timed_out);
		cJSON_AddNumberToObject(o, "wall_s", q->wall_s);
		if (q->json != NULL)
			cJSON_AddItemToObject(o, "result", cJSON_Duplicate(q->json, true));
	}
}

static double bp_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *bp_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static const struct bench_part *bp_find(const struct bench_parts *p, const char *name)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (strcmp(p->part[i].name, name) == 0)
			return &p->part[i];
	return NULL;
}

/* A part that did not give figures gets one row saying why. */
static const cJSON *bp_result(bool md, const struct bench_part *q, const char *what)
{
	char v[64], a[1200];

	if (q == NULL)
		return NULL;
	if (q->json != NULL && q->status == 0)
		return q->json;
	snprintf(v, sizeof(v), "%s", q->timed_out ? "timed out" : "failed");
	snprintf(a, sizeof(a), "`%s` exited with status %d after %.0f s%s", q->command, q->status, q->wall_s,
	         q->json != NULL ? " (its partial JSON is in the report)" : "");
	bench_row(md, what, v, a);
	return NULL;
}

static void bp_print_sync(bool md, const struct bench_parts *p)
{
	const cJSON *j = bp_result(md, bp_find(p, "sync"), "reconciliation (bench_sync)"), *cells, *c;
	char w[160], v[160], a[400];

	if (j == NULL)
		return;
	cells = cJSON_GetObjectItemCaseSensitive(j, "matrix");
	if (!md)
		printf("\nreconciliation (bench_sync: the node's Negentropy and wire code, one process):\n");
	cJSON_ArrayForEach(c, cells)
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "strfry");
		double d = bp_num(c, "d");
		snprintf(w, sizeof(w), "reconcile n=%.0f d=%.0f %s: round trips, NEG bytes up / down",
		         bp_num(c, "n"), d, bp_str(c, "missing"));
		snprintf(v, sizeof(v), "%.0f, %.0f / %.0f", bp_num(c, "neg_round_trips"),
		         bp_num(c, "neg_bytes_i2r"), bp_num(c, "neg_bytes_r2i"));
		if (s != NULL) {
			const cJSON *met = cJSON_GetObjectItemCaseSensitive(c, "goal_met");
			snprintf(a, sizeof(a),
			         "%s <= strfry %.0f, %.0f / %.0f; lower bound %.0f; wire %.0f B; %.1f ms; "
			         "RSS %.0f MiB; found %.0f",
			         cJSON_IsTrue(met) ? "MET" : "NOT MET", bp_num(s, "round_trips"),
			         bp_num(s, "bytes_up"), bp_num(s, "bytes_down"),
			         bp_num(c, "lower_bound_bytes"),
			         bp_num(c, "wire_bytes_i2r") + bp_num(c, "wire_bytes_r2i"),
			         bp_num(c, "reconcile_ms"), bp_num(c, "peak_rss_mib"), bp_num(c, "found"));
		} else {
			snprintf(a, sizeof(a),
			         "lower bound %.0f; wire %.0f B; %.1f ms; RSS %.0f MiB; found %.0f",
			         bp_num(c, "lower_bound_bytes"),
			         bp_num(c, "wire_bytes_i2r") + bp_num(c, "wire_bytes_r2i"),
			         bp_num(c, "reconcile_ms"), bp_num(c, "peak_rss_mib"), bp_num(c, "found"));
		}
		bench_row(md, w, v, a);
	}
}

static void bp_print_prop(bool md, const struct bench_parts *p, const char *name, const char *label)
{
	const cJSON *j = bp_result(md, bp_find(p, name), label), *g;
	char w[160], v[64], a[400];
	double p99;

	if (j == NULL || (g = cJSON_GetObjectItemCaseSensitive(j, "propagation")) == NULL)
		return;
	p99 = bp_num(g, "p99_ms");
	snprintf(w, sizeof(w), "%s: add at A -> durable at B, p50 / p99 ms", label);
	snprintf(v, sizeof(v), "%.1f / %.1f", bp_num(g, "p50_ms"), p99);
	if (strcmp(name, "propagation_1hop") == 0)
		snprintf(a, sizeof(a),
		         "%s < 50 ms; %.0f probes, p90 %.1f, max %.1f; A's own commit p50 %.1f; poll %.0f us",
		         p99 < GOAL_HOP_P99_MS ? "MET" : "NOT MET", bp_num(g, "probes"), bp_num(g, "p90_ms"),
		         bp_num(g, "max_ms"), bp_num(g, "ack_p50_ms"), bp_num(g, "poll_us"));
	else
		snprintf(a, sizeof(a),
		         "%.0f probes, %.0f hops, p90 %.1f, max %.1f; A's own commit p50 %.1f; poll %.0f us",
		         bp_num(g, "probes"), bp_num(g, "hops"), bp_num(g, "p90_ms"), bp_num(g, "max_ms"),
		         bp_num(g, "ack_p50_ms"), bp_num(g, "poll_us"));
	bench_row(md, w, v, a);
	snprintf(w, sizeof(w), "%s: wire bytes per record per node", label);
	snprintf(v, sizeof(v), "%.0f", bp_num(g, "wire_bytes_per_record_per_node"));
	bench_row(md, w, v,
	          "SHS + box-stream + all messages, periodic reconciliation in the window included");
}

static void bp_print_cold(bool md, const struct bench_parts *p, const char *name, const char *label)
{
	const cJSON *j = bp_result(md, bp_find(p, name), label), *g;
	char w[160], v[64], a[400];
	double rate;

	if (j == NULL || (g = cJSON_GetObjectItemCaseSensitive(j, "cold")) == NULL)
		return;
	rate = bp_num(g, "records_per_s");
	snprintf(w, sizeof(w), "%s: records/s into an empty node", label);
	snprintf(v, sizeof(v), "%.0f", rate);
	snprintf(a, sizeof(a), "%s >= 5x strfry 2,200; %.0f records in %.2f s",
	         rate >= GOAL_COLD_X * ANCHOR_STRFRY_COLD ? "MET" : "NOT MET", bp_num(g, "records"),
	         bp_num(g, "seconds"));
	bench_row(md, w, v, a);
	snprintf(w, sizeof(w), "%s: records/s indexed and evaluated (background pass)", label);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(g, "indexed_records_per_s"))) {
		snprintf(v, sizeof(v), "%.0f", bp_num(g, "indexed_records_per_s"));
		snprintf(a, sizeof(a),
		         "every record queryable and seen by the alert rules %.2f s after the start",
		         bp_num(g, "indexed_s"));
	} else {
		snprintf(v, sizeof(v), "-");
		snprintf(a, sizeof(a), "NOT finished within sim's --timeout");
	}
	bench_row(md, w, v, a);
	snprintf(w, sizeof(w), "%s: wire bytes per record", label);
	snprintf(v, sizeof(v), "%.0f", bp_num(g, "wire_bytes_per_record"));
	snprintf(a, sizeof(a), "Syncthing ~%.0f per 1 KiB file", ANCHOR_SYNCTHING_BYTES);
	bench_row(md, w, v, a);
}

void bench_parts_print(bool md, const struct bench_parts *p)
{
	char label[96];

	bp_print_sync(md, p);
	if (!md && bp_find(p, "propagation_1hop") != NULL)
		printf("\nreal daemons on 127.0.0.1 (sim):\n");
	bp_print_prop(md, p, "propagation_1hop", "propagation, one hop");
	bp_print_prop(md, p, "propagation_line", "propagation, line of nodes (first to last)");
	bp_print_cold(md, p, "cold_replication", "cold replication over loopback");
	if (p->delay_kind == NULL)
		return;
	snprintf(label, sizeof(label), "[%s %u ms each way] propagation, one hop", p->delay_kind,
	         p->delay_ms);
	bp_print_prop(md, p, "propagation_1hop_delayed", label);
	snprintf(label, sizeof(label), "[%s %u ms each way] propagation, line", p->delay_kind, p->delay_ms);
	bp_print_prop(md, p, "propagation_line_delayed", label);
	snprintf(label, sizeof(label), "[%s %u ms each way] cold replication", p->delay_kind, p->delay_ms);
	bp_print_cold(md, p, "cold_replication_delayed", label);
}

bool bench_parts_ok(const struct bench_parts *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->part[i].status != 0 || p->part[i].json == NULL)
			return false;
	return true;
}

void bench_parts_free(struct bench_parts *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		cJSON_Delete(p->part[i].json);
	memset(p, 0, sizeof(*p));
}
