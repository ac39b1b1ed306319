/*
 * sim: N real nodes on 127.0.0.1, a seeded random trusted-peer graph, records
 * injected at a rate, nodes killed and restarted; prints how long the network
 * took to converge after the last injection, the wire bytes per record per
 * node (counted by the proxy every peer connection goes through) and the
 * largest resident memory of any node. See docs/SIMULATION.md.
 *
 * usage: sim [--nodes N] [--degree K] [--records R] [--rate R_PER_S] [--kill-prob P]
 *            [--seed S] [--down-ms MS] [--offline K] [--probes P] [--idle S] [--timeout S]
 *            [--mutual] [--tejido PATH] [--json]
 * Exit: 0 converged, 1 failed or did not converge in time, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "sim.h"

struct sim_opts {
	size_t nodes, degree;
	uint64_t records, seed;
	double rate, kill_prob;
	unsigned down_ms, timeout_s;
	size_t offline;
	unsigned idle_s, probes;
	bool mutual;
	const char *tejido;
	bool json;
};

struct sim_result {
	size_t edges;
	uint64_t setup_ms, boot_ms, inject_ms, converge_ms;
	uint64_t bytes, conns, reconns, records_per_node, kills;
	uint64_t idle_bytes, idle_ms;
	uint64_t probe_p50_ms, probe_max_ms;
	unsigned probes_done;
	uint64_t store0, store1; /* largest store_bytes of a node after boot, at the end */
	size_t diameter;
	double mean_hops;
	bool converged;
};

static struct sim g_sim;
static uint8_t g_adj[SIM_NODES_MAX][SIM_NODES_MAX];
static uint64_t g_rng;

/* splitmix64: seeded, the same run for the same seed (up to timing). */
static uint64_t sim__rand(void)
{
	uint64_t z = (g_rng += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static size_t sim__below(size_t n)
{
	return (size_t)(sim__rand() % n);
}

static double sim__unit(void)
{
	return (double)(sim__rand() >> 11) / 9007199254740992.0;
}

static void sim__on_signal(int sig)
{
	(void)sig;
	sim_stop_flag = 1;
}

static void sim__atexit(void)
{
	sim_cleanup(&g_sim); /* nodes first: their goodbyes still pass through the proxy */
	sim_proxy_stop();
}

static const char sim__usage[] =
    "usage: sim [--nodes N] [--degree K] [--records R] [--rate R_PER_S] [--kill-prob P]\n"
    "           [--seed S] [--down-ms MS] [--offline K] [--probes P] [--idle S] [--timeout S]\n"
    "           [--mutual] [--tejido PATH] [--json]\n\n"
    "  --nodes N       real `tejido` daemons on 127.0.0.1, 1..64 (default 5)\n"
    "  --degree K      trusted peers per node in the random graph (default 3; a ring\n"
    "                  keeps it connected, so at least 2 when N > 2)\n"
    "  --records R     incidents injected at random running nodes (default 100)\n"
    "  --rate R_PER_S  injections per second (default 20)\n"
    "  --kill-prob P   after each injection, probability of SIGKILLing a random node;\n"
    "                  it restarts after 0.5 s .. --down-ms (default 0, 3000)\n"
    "  --seed S        graph, targets, kills (default 1)\n"
    "  --offline K     K random nodes (never the founder) are stopped for the whole\n"
    "                  injection and restarted after it: convergence is their catch-up\n"
    "  --probes P      after convergence, P single records one at a time: how long each\n"
    "                  takes to reach every node (default 5)\n"
    "  --idle S        after convergence, S more seconds with no injection: the wire\n"
    "                  bytes of periodic reconciliation (every 60 s) in sync (default 0)\n"
    "  --mutual        both ends of every edge trust (and dial) each other, once the\n"
    "                  membership is known everywhere: two connections per edge\n"
    "  --timeout S     bound on convergence after the last injection (default 600)\n"
    "  --tejido PATH   the CLI (default: next to this program)\n"
    "  --json          one JSON object instead of text\n";

static int sim__num(const char *arg, double lo, double hi, double *out)
{
	char *end = NULL;
	double v = strtod(arg, &end);

	if (end == arg || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int sim__parse(int argc, char **argv, struct sim_opts *o)
{
	static const struct option opts[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"degree", required_argument, NULL, 'k'},
	    {"records", required_argument, NULL, 'r'},
	    {"rate", required_argument, NULL, 'R'},
	    {"kill-prob", required_argument, NULL, 'p'},
	    {"seed", required_argument, NULL, 's'},
	    {"down-ms", required_argument, NULL, 'd'},
	    {"timeout", required_argument, NULL, 't'},
	    {"tejido", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'j'},
	    {"offline", required_argument, NULL, 'o'},
	    {"idle", required_argument, NULL, 'i'},
	    {"probes", required_argument, NULL, 'P'},
	    {"mutual", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	double v = 0;
	int opt, bad = 0;

	*o = (struct sim_opts){.nodes = 5,
	                       .degree = 3,
	                       .records = 100,
	                       .seed = 1,
	                       .rate = 20,
	                       .down_ms = 3000,
	                       .timeout_s = 600,
	                       .probes = 5};
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1 && !bad) {
		switch (opt) {
		case 'n':
			bad = sim__num(optarg, 1, SIM_NODES_MAX, &v) != 0;
			o->nodes = (size_t)v;
			break;
		case 'k':
			bad = sim__num(optarg, 1, SIM_NODES_MAX - 1, &v) != 0;
			o->degree = (size_t)v;
			break;
		case 'r':
			bad = sim__num(optarg, 1, 1e7, &v) != 0;
			o->records = (uint64_t)v;
			break;
		case 'R':
			bad = sim__num(optarg, 0.01, 1e5, &o->rate) != 0;
			break;
		case 'p':
			bad = sim__num(optarg, 0, 1, &o->kill_prob) != 0;
			break;
		case 's':
			bad = sim__num(optarg, 0, 1e15, &v) != 0;
			o->seed = (uint64_t)v;
			break;
		case 'd':
			bad = sim__num(optarg, 500, 600000, &v) != 0;
			o->down_ms = (unsigned)v;
			break;
		case 't':
			bad = sim__num(optarg, 1, 86400, &v) != 0;
			o->timeout_s = (unsigned)v;
			break;
		case 'o':
			bad = sim__num(optarg, 0, SIM_NODES_MAX, &v) != 0;
			o->offline = (size_t)v;
			break;
		case 'P':
			bad = sim__num(optarg, 0, 1000, &v) != 0;
			o->probes = (unsigned)v;
			break;
		case 'i':
			bad = sim__num(optarg, 0, 3600, &v) != 0;
			o->idle_s = (unsigned)v;
			break;
		case 'T':
			o->tejido = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'm':
			o->mutual = true;
			break;
		case 'h':
			fputs(sim__usage, stdout);
			exit(0);
		default:
			bad = 1;
		}
	}
	if (!bad && o->offline * 2 > o->nodes) {
		fprintf(stderr, "sim: --offline: at most half the nodes\n");
		bad = 1;
	}
	if (bad || optind < argc) {
		fputs(sim__usage, stderr);
		return -1;
	}
	return 0;
}

/* The CLI next to this program (build/tools/sim -> build/tools/tejido). */
static const char *sim__default_tejido(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return "tejido";
	self[n] = '\0';
	snprintf(path, sizeof(path), "%.*s/tejido", (int)(sizeof(path) - 8), dirname(self));
	return path;
}

/*
 * A connected random graph: a ring over a random permutation (degree 2), then
 * random edges between nodes still under degree k (bounded attempts).
 */
static size_t sim__graph(size_t n, size_t k)
{
	size_t perm[SIM_NODES_MAX], deg[SIM_NODES_MAX] = {0}, edges = 0;

	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = sim__below(i), t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i + 1 < n; i++) { /* a path through the permutation */
		size_t a = perm[i], b = perm[i + 1];
		g_adj[a][b] = g_adj[b][a] = 1;
		deg[a]++, deg[b]++, edges++;
	}
	if (n > 2) { /* close the ring */
		g_adj[perm[0]][perm[n - 1]] = g_adj[perm[n - 1]][perm[0]] = 1;
		deg[perm[0]]++, deg[perm[n - 1]]++, edges++;
	}
	for (size_t tries = 0; n > 2 && tries < 64 * n * n; tries++) {
		size_t a = sim__below(n), b = sim__below(n);
		if (a == b || g_adj[a][b] || deg[a] >= k || deg[b] >= k)
			continue;
		g_adj[a][b] = g_adj[b][a] = 1;
		deg[a]++, deg[b]++, edges++;
	}
	return edges;
}

/* Hops between nodes in the graph (BFS from each node): the diameter and the mean. */
static void sim__hops(size_t n, size_t *diameter, double *mean)
{
	size_t dist[SIM_NODES_MAX], queue[SIM_NODES_MAX], pairs = 0, sum = 0;

	*diameter = 0;
	for (size_t src = 0; src < n; src++) {
		size_t head = 0, tail = 0;
		for (size_t i = 0; i < n; i++)
			dist[i] = SIZE_MAX;
		dist[src] = 0;
		queue[tail++] = src;
		while (head < tail) {
			size_t u = queue[head++];
			for (size_t v = 0; v < n; v++)
				if (g_adj[u][v] && dist[v] == SIZE_MAX) {
					dist[v] = dist[u] + 1;
					queue[tail++] = v;
				}
		}
		for (size_t i = 0; i < n; i++)
			if (i != src && dist[i] != SIZE_MAX) {
				sum += dist[i], pairs++;
				*diameter = dist[i] > *diameter ? dist[i] : *diameter;
			}
	}
	*mean = pairs > 0 ? (double)sum / (double)pairs : 0;
}

/* The largest store_bytes of any running node. */
static uint64_t sim__max_store(const struct sim *s)
{
	uint64_t best = 0, r, inc, sb;

	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].state == SIM_UP && sim_ctl_status(&s->nodes[i], &r, &inc, &sb) == 0 &&
		    sb > best)
			best = sb;
	return best;
}

/* Restarts what is due, promotes nodes that answer, samples memory. */
static void sim__service(struct sim *s)
{
	uint64_t now = sim_now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		if (nd->state == SIM_DOWN && nd->restart_at_ms != 0 && now >= nd->restart_at_ms) {
			nd->restart_at_ms = 0;
			nd->restarts++;
			if (sim_spawn(s, i, true) != 0)
				fprintf(stderr, "sim: cannot restart node %zu\n", i);
		}
	}
	(void)sim_poll_starting(s);
	sim_sample_mem(s, false);
}

/* Waits (bounded) until every node runs; 0 or -1. */
static int sim__wait_all_up(struct sim *s, unsigned timeout_ms)
{
	for (uint64_t until = sim_now_ms() + timeout_ms; sim_now_ms() < until && !sim_stop_flag;
	     sim_sleep_ms(50)) {
		size_t up;
		sim__service(s);
		up = 0;
		for (size_t i = 0; i < s->n; i++)
			up += s->nodes[i].state == SIM_UP;
		if (up == s->n)
			return 0;
	}
	return -1;
}

/* Every node runs and holds the same records (at least s->n: genesis and admissions), want incidents, the
 * same ids. */
static bool sim__converged(struct sim *s, uint64_t want, uint64_t *records)
{
	uint64_t r0 = 0, r, inc;
	size_t cap = (size_t)want + 16, n0 = 0, n = 0;
	uint8_t(*a)[32], (*b)[32];
	bool same = true;

	for (size_t i = 0; i < s->n && same; i++)
		same = s->nodes[i].state == SIM_UP &&
		       sim_ctl_status(&s->nodes[i], i == 0 ? &r0 : &r, &inc, NULL) == 0 && inc == want &&
		       (i == 0 || r == r0) && r0 >= s->n;
	if (!same)
		return false;
	a = calloc(cap, 32);
	b = calloc(cap, 32);
	same = a != NULL && b != NULL && sim_ctl_ids(&s->nodes[0], a, cap, &n0) == 0 && n0 == want;
	for (size_t i = 1; i < s->n && same; i++)
		same = sim_ctl_ids(&s->nodes[i], b, cap, &n) == 0 && n == n0 && memcmp(a, b, n * 32) == 0;
	free(a);
	free(b);
	*records = r0;
	return same;
}

/* What each node holds, when it did not converge. */
static void sim__dump(const struct sim *s)
{
	uint64_t r = 0, inc = 0, sb = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->nodes[i].state == SIM_UP && sim_ctl_status(&s->nodes[i], &r, &inc, &sb) == 0)
			fprintf(stderr, "sim: node %zu: %" PRIu64 " records, %" PRIu64 " incidents\n", i, r,
			        inc);
		else
			fprintf(stderr, "sim: node %zu: not running (state %d)\n", i, (int)s->nodes[i].state);
	}
}

/* Polls until converged or timeout; the time it took in *ms. */
static bool sim__wait_converged(struct sim *s, uint64_t want, unsigned timeout_ms, uint64_t t0, uint64_t *ms,
                                uint64_t *records)
{
	for (uint64_t until = sim_now_ms() + timeout_ms; sim_now_ms() < until && !sim_stop_flag;
	     sim_sleep_ms(50)) {
		sim__service(s);
		if (sim__converged(s, want, records)) {
			*ms = sim_now_ms() - t0;
			return true;
		}
	}
	return false;
}

/* Boots the network: founder, joins, all daemons, the trusted-peer graph; initial sync. */
static int sim__boot(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t t0 = sim_now_ms(), recs = 0;

	if (sim_prepare(s, o->tejido, o->nodes) != 0 || sim_proxy_bind(s) != 0) {
		fprintf(stderr, "sim: cannot prepare %s or the proxy listeners\n", s->root);
		return -1;
	}
	if (sim_make_network(s) != 0)
		return -1;
	res->setup_ms = sim_now_ms() - t0;
	t0 = sim_now_ms();
	if (sim_proxy_start(s) != 0)
		return -1;
	/* A few at a time: each start unlocks its key file (Argon2id, 64 MiB). */
	for (size_t i = 0; i < s->n; i++) {
		size_t starting = SIZE_MAX;
		for (unsigned w = 0; w < 6000 && starting >= 4 && !sim_stop_flag; w++, sim_sleep_ms(20)) {
			starting = 0;
			(void)sim_poll_starting(s);
			for (size_t j = 0; j < i; j++)
				starting += s->nodes[j].state == SIM_STARTING;
		}
		if (sim_spawn(s, i, true) != 0)
			return -1;
	}
	if (sim__wait_all_up(s, 180000) != 0) {
		fprintf(stderr, "sim: not every node started within 180 s\n");
		return -1;
	}
	res->edges = sim__graph(s->n, o->degree);
	sim__hops(s->n, &res->diameter, &res->mean_hops);
	/* The node admitted earlier dials the later one, which already knows it from its bundle. */
	for (size_t a = 0; a < s->n; a++)
		for (size_t b = a + 1; b < s->n; b++)
			if (g_adj[a][b] && sim_ctl_peer_add(&s->nodes[a], &s->nodes[b]) != 0) {
				fprintf(stderr, "sim: peer_add %zu -> %zu failed\n", a, b);
				return -1;
			}
	if (!sim__wait_converged(s, 0, 300000, t0, &res->boot_ms, &recs)) {
		fprintf(stderr, "sim: the membership records did not reach every node within 300 s\n");
		return -1;
	}
	/* Now every node knows every member: the later node may dial the earlier one too. */
	for (size_t a = 0; o->mutual && a < s->n; a++)
		for (size_t b = a + 1; b < s->n; b++)
			if (g_adj[a][b] && sim_ctl_peer_add(&s->nodes[b], &s->nodes[a]) != 0) {
				fprintf(stderr, "sim: peer_add %zu -> %zu failed\n", b, a);
				return -1;
			}
	/* Every edge connected too, so that the measurement starts from a running network. */
	for (uint64_t until = sim_now_ms() + 60000;
	     sim_proxy_open() < res->edges * (o->mutual ? 2u : 1u) && !sim_stop_flag; sim_sleep_ms(50))
		if (sim_now_ms() > until) {
			fprintf(stderr,
			        "sim: %" PRIu64 " of %zu peer connections open after 60 s; going on\n",
			        sim_proxy_open(), res->edges);
			break;
		}
	res->boot_ms = sim_now_ms() - t0;
	return 0;
}

/* A random running node, or SIZE_MAX. */
static size_t sim__pick_up(const struct sim *s)
{
	size_t up[SIM_NODES_MAX], n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].state == SIM_UP)
			up[n++] = i;
	return n == 0 ? SIZE_MAX : up[sim__below(n)];
}

static void sim__maybe_kill(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	size_t down = 0, i;

	if (o->kill_prob <= 0 || sim__unit() >= o->kill_prob)
		return;
	for (size_t j = 0; j < s->n; j++)
		down += s->nodes[j].state != SIM_UP;
	if (s->n < 2 || (down + 1) * 2 > s->n || (i = sim__pick_up(s)) == SIZE_MAX)
		return; /* at most half the network down at once */
	sim_kill(s, i);
	s->nodes[i].kills++;
	s->nodes[i].restart_at_ms = sim_now_ms() + 500 + sim__below(o->down_ms - 499);
	res->kills++;
}

/* One incident at a random running node; retries (bounded) while nodes restart. */
static int sim__inject_one(struct sim *s, uint64_t k)
{
	for (unsigned tries = 0; tries < 600 && !sim_stop_flag; tries++) {
		size_t i = sim__pick_up(s);
		if (i != SIZE_MAX && sim_ctl_add(&s->nodes[i], k) == 0)
			return 0;
		sim__service(s);
		sim_sleep_ms(50);
	}
	return -1;
}

static int sim__inject(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t t0 = sim_now_ms();
	double interval_ms = 1000.0 / o->rate;

	for (uint64_t r = 0; r < o->records && !sim_stop_flag; r++) {
		uint64_t due = t0 + (uint64_t)((double)r * interval_ms);
		for (unsigned w = 0; sim_now_ms() < due && w < 1000000 && !sim_stop_flag; w++) {
			uint64_t left = due - sim_now_ms();
			sim__service(s);
			sim_sleep_ms(left < 20 ? (unsigned)left : 20);
		}
		if (sim__inject_one(s, (o->seed << 24) + r) != 0) {
			if (!sim_stop_flag)
				fprintf(stderr, "sim: could not add incident %" PRIu64 " at any node\n", r);
			return -1;
		}
		sim__maybe_kill(s, o, res);
	}
	res->inject_ms = sim_now_ms() - t0;
	return sim_stop_flag ? -1 : 0;
}

/* Every node runs and counts want incidents (status only: cheap enough to poll fast). */
static bool sim__all_have(struct sim *s, uint64_t want)
{
	uint64_t r, inc;

	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].state != SIM_UP || sim_ctl_status(&s->nodes[i], &r, &inc, NULL) != 0 ||
		    inc != want)
			return false;
	return true;
}

static int sim__cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Live propagation: one record at a time at a random node, timed until every node has it. */
static int sim__probes(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t *ms = calloc(o->probes, sizeof(*ms)), want = o->records;
	int rc = ms == NULL ? -1 : 0;

	for (unsigned p = 0; ms != NULL && p < o->probes && rc == 0 && !sim_stop_flag; p++) {
		uint64_t t0 = sim_now_ms(), until = t0 + 60000;
		if (sim__inject_one(s, (o->seed << 24) + o->records + p) != 0)
			rc = -1;
		want++;
		while (rc == 0 && !sim__all_have(s, want) && !sim_stop_flag) {
			if (sim_now_ms() > until) {
				fprintf(stderr, "sim: probe %u did not reach every node in 60 s\n", p);
				rc = -1;
			}
			sim_sleep_ms(5);
		}
		ms[p] = sim_now_ms() - t0;
		res->probes_done = p + 1;
	}
	if (ms != NULL && res->probes_done > 0 && rc == 0) {
		qsort(ms, res->probes_done, sizeof(*ms), sim__cmp_u64);
		res->probe_p50_ms = ms[res->probes_done / 2];
		res->probe_max_ms = ms[res->probes_done - 1];
	}
	free(ms);
	return rc;
}

/* Idle network: what periodic reconciliation costs on the wire when every node is in sync. */
static void sim__idle(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t b0 = sim_proxy_bytes(), t0 = sim_now_ms();

	while (sim_now_ms() - t0 < (uint64_t)o->idle_s * 1000u && !sim_stop_flag) {
		sim__service(s);
		sim_sleep_ms(100);
	}
	res->idle_ms = sim_now_ms() - t0;
	res->idle_bytes = sim_proxy_bytes() - b0;
}

/* Stops K random nodes (not the founder) for the whole injection; they come back after it. */
static void sim__offline(struct sim *s, const struct sim_opts *o)
{
	for (size_t k = 0, tries = 0; k < o->offline && tries < 1000; tries++) {
		size_t i = 1 + sim__below(s->n - 1);
		if (s->nodes[i].state != SIM_UP)
			continue;
		sim_stop(s, i);
		s->nodes[i].restart_at_ms = UINT64_MAX; /* not before the last injection */
		k++;
	}
}

static void sim__report(const struct sim_opts *o, const struct sim_result *r, const struct sim *s)
{
	double per =
	    o->records > 0 && s->n > 1 ? (double)r->bytes / (double)o->records / (double)(s->n - 1) : 0;
	double mean_deg = s->n > 0 ? 2.0 * (double)r->edges / (double)s->n : 0;

	if (o->json) {
		printf("{\"nodes\": %zu, \"degree\": %zu, \"edges\": %zu, \"mean_degree\": %.2f, "
		       "\"records\": %" PRIu64 ", \"rate\": %.2f, \"kill_prob\": %.3f, \"offline\": %zu, "
		                               "\"mutual\": %s, \"seed\": %" PRIu64 ", \"kills\": %" PRIu64
		       ", \"setup_ms\": %" PRIu64 ", \"boot_sync_ms\": %" PRIu64 ", \"inject_ms\": %" PRIu64
		       ", \"converged\": %s, \"converge_ms\": %" PRIu64 ", \"records_per_node\": %" PRIu64
		       ", \"wire_bytes\": %" PRIu64 ", \"wire_bytes_per_record_per_node\": %.1f"
		       ", \"peer_connections\": %" PRIu64 ", \"reconnections\": %" PRIu64
		       ", \"max_rss_kib\": %" PRIu64 ", \"max_hwm_kib\": %" PRIu64
		       ", \"mem_samples\": %u, \"diameter\": %zu, \"mean_hops\": %.2f, \"store_bytes_boot\": "
		       "%" PRIu64 ", \"store_bytes_end\": %" PRIu64 ", \"idle_ms\": %" PRIu64
		       ", \"idle_bytes\": %" PRIu64 ", \"probes\": %u, \"probe_p50_ms\": %" PRIu64
		       ", \"probe_max_ms\": %" PRIu64 "}\n",
		       s->n, o->degree, r->edges, mean_deg, o->records, o->rate, o->kill_prob, o->offline,
		       o->mutual ? "true" : "false", o->seed, r->kills, r->setup_ms, r->boot_ms, r->inject_ms,
		       r->converged ? "true" : "false", r->converge_ms, r->records_per_node, r->bytes, per,
		       r->conns, r->reconns, s->mem.max_rss_kib, s->mem.max_hwm_kib, s->mem.samples,
		       r->diameter, r->mean_hops, r->store0, r->store1, r->idle_ms, r->idle_bytes,
		       r->probes_done, r->probe_p50_ms, r->probe_max_ms);
		return;
	}
	printf("nodes %zu, degree %zu (%zu edges, mean degree %.2f), %" PRIu64 " records at %.2f/s, "
	       "kill-prob %.3f (%" PRIu64 " kills), %zu offline during injection, %s, seed %" PRIu64 "\n",
	       s->n, o->degree, r->edges, mean_deg, o->records, o->rate, o->kill_prob, r->kills, o->offline,
	       o->mutual ? "mutual trust (both ends dial)" : "one dialer per edge", o->seed);
	printf("graph: diameter %zu hops, mean distance %.2f hops\n", r->diameter, r->mean_hops);
	printf("setup (init, member add, network join)   %8.1f s\n", (double)r->setup_ms / 1000.0);
	printf("boot: start + membership sync            %8.1f s\n", (double)r->boot_ms / 1000.0);
	printf("injection                                %8.1f s  (achieved %.1f records/s)\n",
	       (double)r->inject_ms / 1000.0,
	       r->inject_ms > 0 ? (double)o->records * 1000.0 / (double)r->inject_ms : 0);
	if (r->converged)
		printf("convergence after the last injection     %8.3f s  (%" PRIu64
		       " records on every node)\n",
		       (double)r->converge_ms / 1000.0, r->records_per_node);
	else
		printf("convergence after the last injection     NOT within %u s\n", o->timeout_s);
	printf("wire bytes (proxy, payload, both ways)   %8" PRIu64 "\n", r->bytes);
	printf("peer connections (all / during the run)  %8" PRIu64 " / %" PRIu64 "\n", r->conns, r->reconns);
	printf("wire bytes per record per node           %8.1f  (bytes / records / (nodes - 1))\n", per);
	printf("largest store (LMDB used bytes) after boot / at the end: %" PRIu64 " / %" PRIu64 "\n",
	       r->store0, r->store1);
	if (r->probes_done > 0)
		printf("one record to every node (%u probes)     median %.3f s, max %.3f s\n", r->probes_done,
		       (double)r->probe_p50_ms / 1000.0, (double)r->probe_max_ms / 1000.0);
	if (r->idle_ms > 0)
		printf("idle, in sync: %" PRIu64
		       " wire bytes in %.1f s over %zu edges (%.1f bytes per edge per minute)\n",
		       r->idle_bytes, (double)r->idle_ms / 1000.0, r->edges,
		       r->edges > 0 ? (double)r->idle_bytes * 60000.0 / (double)r->idle_ms / (double)r->edges
		                    : 0);
	printf("largest VmRSS of a node (sampled)        %8.1f MiB\n", (double)s->mem.max_rss_kib / 1024.0);
	printf("largest VmHWM of a node (peak, incl. KDF)%8.1f MiB\n", (double)s->mem.max_hwm_kib / 1024.0);
}

static int sim__run(const struct sim_opts *o, struct sim_result *res)
{
	struct sim *s = &g_sim;
	uint64_t bytes0, t_last;

	if (sim__boot(s, o, res) != 0)
		return -1;
	res->store0 = sim__max_store(s);
	bytes0 = sim_proxy_bytes();
	res->reconns = sim_proxy_conns();
	sim__offline(s, o);
	if (sim__inject(s, o, res) != 0)
		return -1;
	t_last = sim_now_ms();
	for (size_t i = 0; i < s->n; i++) /* nodes still down come back now */
		if (s->nodes[i].state == SIM_DOWN && s->nodes[i].restart_at_ms != 0)
			s->nodes[i].restart_at_ms = t_last;
	res->converged = sim__wait_converged(s, o->records, o->timeout_s * 1000u, t_last, &res->converge_ms,
	                                     &res->records_per_node);
	if (!res->converged)
		sim__dump(s);
	sim_sample_mem(s, true);
	res->bytes = sim_proxy_bytes() - bytes0;
	res->store1 = sim__max_store(s);
	if (res->converged && o->probes > 0 && sim__probes(s, o, res) != 0)
		return 1;
	if (res->converged && o->idle_s > 0)
		sim__idle(s, o, res);
	res->conns = sim_proxy_conns();
	res->reconns = res->conns - res->reconns;
	return res->converged ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = sim__on_signal};
	struct sim_opts o;
	struct sim_result res = {0};
	int rc;

	if (sim__parse(argc, argv, &o) != 0)
		return 2;
	if (o.tejido == NULL)
		o.tejido = sim__default_tejido();
	if (access(o.tejido, X_OK) != 0 || sodium_init() < 0) {
		fprintf(stderr, "sim: %s is not an executable tejido (use --tejido PATH)\n", o.tejido);
		return 1;
	}
	g_rng = o.seed;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(sim__atexit);
	rc = sim__run(&o, &res);
	if (rc >= 0)
		sim__report(&o, &res, &g_sim);
	else
		fprintf(stderr, "sim: stopped before the measurement (SIM_KEEP=1 keeps the nodes' "
		                "directories and logs)\n");
	sim_cleanup(&g_sim);
	sim_proxy_stop();
	return rc == 0 ? 0 : 1;
}
