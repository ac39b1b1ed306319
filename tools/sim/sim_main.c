/*
 * sim: N real nodes on 127.0.0.1, a seeded random trusted-peer graph, records
 * injected at a rate, nodes killed and restarted; prints how long the network
 * took to converge after the last injection, the wire bytes per record per
 * node (counted by the proxy every peer connection goes through) and the
 * largest resident memory of any node. See docs/SIMULATION.md.
 *
 * usage: sim [--nodes N] [--topology random|line] [--degree K] [--records R] [--rate R_PER_S]
 *            [--kill-prob P] [--seed S] [--down-ms MS] [--offline K] [--probes P]
 *            [--probe-poll-us U] [--delay-ms D | --netem D] [--idle S] [--timeout S]
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
	double rate, kill_prob; /* rate 0: as fast as add_batch goes */
	unsigned down_ms, timeout_s;
	size_t offline;
	unsigned idle_s, probes, probe_poll_us;
	unsigned delay_ms, netem_ms; /* at most one of them non-zero */
	bool line;
	bool mutual;
	const char *tejido;
	bool json;
};

/* The offline nodes' catch-up ("cold"): see sim__cold. */
struct sim_cold {
	size_t nodes;
	uint64_t records;
	uint64_t unlock_us;        /* spawn -> answers ping, the slowest of them (Argon2id unlock included) */
	uint64_t us;               /* first of them UP -> the last holds every record */
	uint64_t bytes;            /* proxy bytes in that window */
	int64_t connect_wait_us;   /* UP -> a peer's connection to it reached it; -1 unknown */
	uint64_t rss_kib, hwm_kib; /* largest VmRSS during the catch-up, VmHWM at its end, of those nodes */
	uint64_t indexed_us;       /* first of them UP -> the last has indexed and evaluated every record */
	bool done, indexed;
};

struct sim_result {
	size_t edges;
	uint64_t setup_ms, boot_ms, inject_ms, converge_ms;
	uint64_t bytes, conns, reconns, records_per_node, kills;
	uint64_t idle_bytes, idle_ms;
	uint64_t probe_p50_ms, probe_max_ms;
	unsigned probes_done;
	struct sim_probe_result probe;
	struct sim_cold cold;
	uint64_t inject_requests;
	uint64_t store0, store1; /* largest store_bytes of a node after boot, at the end */
	size_t diameter;
	double mean_hops;
	bool converged;
};

static struct sim g_sim;
static uint8_t g_adj[SIM_NODES_MAX][SIM_NODES_MAX];
static uint64_t g_rng;
static size_t g_offline[SIM_NODES_MAX]; /* the --offline nodes, in sim__offline's order */

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
	sim_netem_del();
}

static const char sim__usage[] =
    "usage: sim [--nodes N] [--topology random|line] [--degree K] [--records R] [--rate R_PER_S]\n"
    "           [--kill-prob P] [--seed S] [--down-ms MS] [--offline K] [--probes P]\n"
    "           [--probe-poll-us U] [--delay-ms D | --netem D] [--idle S] [--timeout S]\n"
    "           [--mutual] [--tejido PATH] [--json]\n\n"
    "  --nodes N       real `tejido` daemons on 127.0.0.1, 1..64 (default 5)\n"
    "  --topology T    random (default): a seeded random graph of --degree K;\n"
    "                  line: 0-1-2-...-(N-1), each node trusting its neighbours only;\n"
    "                  probes then go from node 0 and are timed at node N-1\n"
    "  --degree K      trusted peers per node in the random graph (default 3; a ring\n"
    "                  keeps it connected, so at least 2 when N > 2)\n"
    "  --records R     incidents injected at random running nodes, 0..10^7 (default 100)\n"
    "  --rate R_PER_S  injections per second (default 20); 0: as fast as the nodes take\n"
    "                  them, add_batch requests of 100\n"
    "  --kill-prob P   after each injection, probability of SIGKILLing a random node;\n"
    "                  it restarts after 0.5 s .. --down-ms (default 0, 3000)\n"
    "  --seed S        graph, targets, kills (default 1)\n"
    "  --offline K     K random nodes (never the founder) are stopped for the whole\n"
    "                  injection and restarted after it: convergence is their catch-up\n"
    "  --probes P      after convergence, P single records one at a time (0..100000):\n"
    "                  how long each takes to be durable at every node (line: at the\n"
    "                  far end), percentiles (default 5)\n"
    "  --probe-poll-us U  while a probe is in flight, poll the target node(s)' status\n"
    "                  every U microseconds, 1..1000000 (default 500)\n"
    "  --delay-ms D    sim's proxy delays everything it forwards by D ms each way,\n"
    "                  0..10000 (default 0): a userspace netem, no root needed\n"
    "  --netem D       `tc qdisc add dev lo root netem delay Dms` for the run, 1..10000\n"
    "                  (root and sch_netem; delays ALL loopback traffic meanwhile;\n"
    "                  node to node crosses lo twice through the proxy: 2D one way)\n"
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

/* A delay in milliseconds: digits, optionally followed by "ms" (as in tc's "25ms"). */
static int sim__ms(const char *arg, double lo, double hi, unsigned *out)
{
	char buf[32];
	size_t len = strlen(arg);
	double v = 0;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, arg, len + 1);
	if (len > 2 && strcmp(buf + len - 2, "ms") == 0)
		buf[len - 2] = '\0';
	if (strspn(buf, "0123456789") != strlen(buf) || sim__num(buf, lo, hi, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The value of the option that failed, for its message. */
static void sim__bad(const char *name, const char *arg, const char *want)
{
	fprintf(stderr, "sim: --%s %s: %s\n", name, arg, want);
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
	    {"topology", required_argument, NULL, 'g'},
	    {"probe-poll-us", required_argument, NULL, 'u'},
	    {"delay-ms", required_argument, NULL, 'D'},
	    {"netem", required_argument, NULL, 'N'},
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
	                       .probes = 5,
	                       .probe_poll_us = 500};
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
			bad = sim__num(optarg, 0, 1e7, &v) != 0;
			o->records = (uint64_t)v;
			break;
		case 'R':
			bad = sim__num(optarg, 0, 1e5, &o->rate) != 0 || (o->rate > 0 && o->rate < 0.01);
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
			bad = sim__num(optarg, 0, 100000, &v) != 0;
			o->probes = (unsigned)v;
			break;
		case 'u':
			if ((bad = sim__num(optarg, 1, 1000000, &v) != 0))
				sim__bad("probe-poll-us", optarg, "microseconds, 1 to 1000000");
			o->probe_poll_us = (unsigned)v;
			break;
		case 'g':
			o->line = strcmp(optarg, "line") == 0;
			if ((bad = !o->line && strcmp(optarg, "random") != 0))
				sim__bad("topology", optarg, "random or line");
			break;
		case 'D':
			if ((bad = sim__ms(optarg, 0, 10000, &o->delay_ms) != 0))
				sim__bad("delay-ms", optarg, "milliseconds, 0 to 10000");
			break;
		case 'N':
			if ((bad = sim__ms(optarg, 1, 10000, &o->netem_ms) != 0))
				sim__bad("netem", optarg, "milliseconds, 1 to 10000 (e.g. 25 or 25ms)");
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
	if (!bad && o->delay_ms > 0 && o->netem_ms > 0) {
		fprintf(stderr, "sim: --delay-ms and --netem: one delay or the other\n");
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

/* The line 0-1-...-(n-1). */
static size_t sim__line(size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		g_adj[i][i + 1] = g_adj[i + 1][i] = 1;
	return n > 0 ? n - 1 : 0;
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

/* Waits (bounded) until every node runs; 0 or -1. */
static int sim__wait_all_up(struct sim *s, unsigned timeout_ms)
{
	for (uint64_t until = sim_now_ms() + timeout_ms; sim_now_ms() < until && !sim_stop_flag;
	     sim_sleep_ms(50)) {
		size_t up;
		sim_service(s);
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
		sim_service(s);
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
	if (sim_proxy_start(s, o->delay_ms) != 0)
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
	res->edges = o->line ? sim__line(s->n) : sim__graph(s->n, o->degree);
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
	/*
	 * Every edge connected too, so that the measurement starts from a running network. With
	 * --mutual both ends dial, but a node keeps one connection per peer (tj__conn_keep_first):
	 * one per edge either way.
	 */
	for (uint64_t until = sim_now_ms() + 60000; sim_proxy_open() < res->edges && !sim_stop_flag;
	     sim_sleep_ms(50))
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
		sim_service(s);
		sim_sleep_ms(50);
	}
	return -1;
}

/* n incidents from k0 in one add_batch at a random running node; retries (bounded) like sim__inject_one. */
static int sim__inject_batch(struct sim *s, uint64_t k0, unsigned n)
{
	for (unsigned tries = 0; tries < 600 && !sim_stop_flag; tries++) {
		size_t i = sim__pick_up(s);
		if (i != SIZE_MAX && sim_ctl_add_batch(&s->nodes[i], k0, n) == 0)
			return 0;
		sim_service(s);
		sim_sleep_ms(50);
	}
	return -1;
}

/* --rate 0: add_batch requests of SIM_BATCH, one after the other, each at a random running node. */
static int sim__inject_fast(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t t0 = sim_now_ms();

	for (uint64_t r = 0; r < o->records && !sim_stop_flag;) {
		unsigned n = o->records - r < SIM_BATCH ? (unsigned)(o->records - r) : SIM_BATCH;
		if (sim__inject_batch(s, (o->seed << 24) + r, n) != 0) {
			if (!sim_stop_flag)
				fprintf(stderr,
				        "sim: could not add incidents %" PRIu64 "..%" PRIu64 " at any node\n",
				        r, r + n - 1);
			return -1;
		}
		r += n;
		res->inject_requests++;
		sim_service(s);
		sim__maybe_kill(s, o, res);
	}
	res->inject_ms = sim_now_ms() - t0;
	return sim_stop_flag ? -1 : 0;
}

static int sim__inject(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t t0 = sim_now_ms();
	double interval_ms = o->rate > 0 ? 1000.0 / o->rate : 0;

	if (o->rate <= 0)
		return sim__inject_fast(s, o, res);

	for (uint64_t r = 0; r < o->records && !sim_stop_flag; r++) {
		uint64_t due = t0 + (uint64_t)((double)r * interval_ms);
		for (unsigned w = 0; sim_now_ms() < due && w < 1000000 && !sim_stop_flag; w++) {
			uint64_t left = due - sim_now_ms();
			sim_service(s);
			sim_sleep_ms(left < 20 ? (unsigned)left : 20);
		}
		if (sim__inject_one(s, (o->seed << 24) + r) != 0) {
			if (!sim_stop_flag)
				fprintf(stderr, "sim: could not add incident %" PRIu64 " at any node\n", r);
			return -1;
		}
		res->inject_requests++;
		sim__maybe_kill(s, o, res);
	}
	res->inject_ms = sim_now_ms() - t0;
	return sim_stop_flag ? -1 : 0;
}

/* Propagation probes (sim_probe.c): from node 0 to node N-1 on a line, else from random nodes to all. */
static int sim__probes(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	size_t *from = calloc(o->probes, sizeof(*from));
	struct sim_probe_plan plan = {.probes = o->probes,
	                              .poll_us = o->probe_poll_us,
	                              .want0 = o->records,
	                              .k0 = (o->seed << 24) + o->records,
	                              .line = o->line,
	                              .from = from};
	int rc;

	if (from == NULL)
		return -1;
	for (unsigned p = 0; p < o->probes; p++)
		from[p] = sim__below(s->n);
	rc = sim_probes(s, &plan, &res->probe);
	res->probes_done = res->probe.done;
	res->probe_p50_ms = res->probe.p50_ms;
	res->probe_max_ms = res->probe.max_ms;
	free(from);
	return rc;
}

/* Idle network: what periodic reconciliation costs on the wire when every node is in sync. */
static void sim__idle(struct sim *s, const struct sim_opts *o, struct sim_result *res)
{
	uint64_t b0 = sim_proxy_bytes(), t0 = sim_now_ms();

	while (sim_now_ms() - t0 < (uint64_t)o->idle_s * 1000u && !sim_stop_flag) {
		sim_service(s);
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
		g_offline[k++] = i;
	}
}

/* Node j of the offline ones is UP now: the window opens with the first; a status connection for the rest. */
static void sim__cold_up(struct sim *s, size_t j, uint64_t now, int *fd, size_t *nup, uint64_t *w0,
                         uint64_t *b0)
{
	if ((*nup)++ == 0) {
		*w0 = now;
		*b0 = sim_proxy_bytes();
	}
	if (sim_ctl_open(&s->nodes[g_offline[j]], &fd[j]) != 0)
		fd[j] = -1; /* polled again on the next round */
}

/* How long after coming up a peer's connection reached the node (the latest before it held every
 * record); -1 when none did since its restart (it dialed out itself, --mutual). */
static int64_t sim__connect_wait(const uint64_t *spawn, const uint64_t *up, const uint64_t *have, size_t k)
{
	int64_t worst = 0;

	for (size_t j = 0; j < k; j++) {
		uint64_t acc = sim_proxy_last_accept_us(g_offline[j]);
		if (acc < spawn[j] || acc > have[j])
			return -1;
		if (acc > up[j] && (int64_t)(acc - up[j]) > worst)
			worst = (int64_t)(acc - up[j]);
	}
	return worst;
}

/*
 * After the catch-up stored every record: the nodes index them for queries and run the alert
 * rules in a background pass (node/tj_peer_derive.c). The second figure: from the window's start
 * to the last of them reporting peers.indexing_backlog 0, polled every 20 ms, bounded by until.
 */
static void sim__cold_indexed(struct sim *s, size_t k, int *fd, uint64_t w0, uint64_t until,
                              struct sim_cold *c)
{
	uint64_t rss, hwm, backlog;
	size_t left = k;
	bool done[SIM_NODES_MAX] = {false};

	while (left > 0 && sim_now_us() < until && !sim_stop_flag) {
		for (size_t j = 0; j < k; j++) {
			if (done[j] || (fd[j] < 0 && sim_ctl_open(&s->nodes[g_offline[j]], &fd[j]) != 0))
				continue;
			if (sim_node_mem(s, g_offline[j], &rss, &hwm) == 0 && rss > c->rss_kib)
				c->rss_kib = rss;
			if (sim_ctl_backlog_fd(fd[j], &backlog) == 0 && backlog == 0) {
				done[j] = true;
				left--;
				c->indexed_us = sim_now_us() - w0;
			}
		}
		if (left > 0)
			sim_sleep_ms(20);
	}
	c->indexed = left == 0;
}

/*
 * The --offline nodes come back after the last injection: records into nodes that missed all of
 * them. Each is spawned now; the window runs from the first of them answering ping (after its
 * Argon2id unlock, reported apart as unlock_us) to the last of them counting every incident in
 * `status`, polled every 20 ms (2 ms while some are still starting). Bounded by --timeout.
 */
static void sim__cold(struct sim *s, const struct sim_opts *o, struct sim_cold *c)
{
	uint64_t spawn[SIM_NODES_MAX], up[SIM_NODES_MAX] = {0}, have[SIM_NODES_MAX] = {0};
	uint64_t until = sim_now_us() + (uint64_t)o->timeout_s * 1000000u, w0 = 0, b0 = 0, b1 = 0, rss, hwm;
	int fd[SIM_NODES_MAX];
	size_t k = o->offline, nup = 0, nhave = 0;
	bool died = false;

	*c = (struct sim_cold){.nodes = k, .records = o->records, .connect_wait_us = -1};
	for (size_t j = 0; j < k; j++) {
		struct sim_node *nd = &s->nodes[g_offline[j]];
		fd[j] = -1;
		nd->restart_at_ms = 0;
		nd->restarts++;
		spawn[j] = sim_now_us();
		died = died || sim_spawn(s, g_offline[j], true) != 0;
	}
	while (!died && nhave < k && sim_now_us() < until && !sim_stop_flag) {
		(void)sim_poll_starting(s);
		for (size_t j = 0; j < k; j++) {
			const struct sim_node *nd = &s->nodes[g_offline[j]];
			uint64_t r, inc, now = sim_now_us();
			died = died || nd->state == SIM_DOWN;
			if (nd->state != SIM_UP || have[j] != 0)
				continue;
			if (up[j] == 0) {
				up[j] = now;
				sim__cold_up(s, j, now, fd, &nup, &w0, &b0);
			}
			if (sim_node_mem(s, g_offline[j], &rss, &hwm) == 0 && rss > c->rss_kib)
				c->rss_kib = rss;
			if (fd[j] < 0 && sim_ctl_open(nd, &fd[j]) != 0)
				fd[j] = -1;
			if (fd[j] >= 0 && sim_ctl_status_fd(fd[j], &r, &inc) == 0 && inc >= o->records) {
				have[j] = sim_now_us();
				b1 = sim_proxy_bytes();
				nhave++;
			}
		}
		sim_sample_mem(s, false);
		sim_sleep_ms(nup < k ? 2 : 20);
	}
	if (!died && k > 0 && nhave == k)
		sim__cold_indexed(s, k, fd, w0, until, c);
	for (size_t j = 0; j < k; j++) {
		if (fd[j] >= 0)
			close(fd[j]);
		if (up[j] > spawn[j] && up[j] - spawn[j] > c->unlock_us)
			c->unlock_us = up[j] - spawn[j];
		if (sim_node_mem(s, g_offline[j], &rss, &hwm) == 0 && hwm > c->hwm_kib)
			c->hwm_kib = hwm;
		if (have[j] > w0 && have[j] - w0 > c->us)
			c->us = have[j] - w0;
	}
	c->done = k > 0 && nhave == k;
	if (c->done) {
		c->bytes = b1 - b0;
		c->connect_wait_us = sim__connect_wait(spawn, up, have, k);
	} else if (!sim_stop_flag) {
		fprintf(stderr, "sim: the %zu offline node(s) did not catch up (%zu did)%s\n", k, nhave,
		        died ? ": one of them stopped or could not start" : " within --timeout");
	}
}

static const char *sim__delay_kind(const struct sim_opts *o)
{
	return o->netem_ms > 0 ? "netem" : o->delay_ms > 0 ? "proxy" : "none";
}

/* The one-way delay between two nodes: the proxy's D once, or netem's on both loopback legs. */
static unsigned sim__one_way_ms(const struct sim_opts *o)
{
	return o->netem_ms > 0 ? 2 * o->netem_ms : o->delay_ms;
}

static double sim__rate(uint64_t n, uint64_t us)
{
	return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

/* "propagation": null without probes. */
static void sim__json_propagation(const struct sim_opts *o, const struct sim_result *r, const struct sim *s)
{
	const struct sim_probe_result *p = &r->probe;
	double per = p->done > 0 && s->n > 1 ? (double)p->bytes / p->done / (double)(s->n - 1) : 0;

	if (p->done == 0) {
		printf(", \"propagation\": null");
		return;
	}
	printf(", \"propagation\": {\"probes\": %u, \"measures\": \"%s\", \"from\": %d, \"to\": %d, "
	       "\"hops\": %zu"
	       ", \"p50_ms\": %.1f, \"p90_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f, \"mean_ms\": %.1f"
	       ", \"ack_p50_ms\": %.1f, \"ack_p99_ms\": %.1f, \"poll_us\": %u, \"status_rtt_us\": %.1f"
	       ", \"status_calls\": %" PRIu64 ", \"wire_bytes\": %" PRIu64
	       ", \"wire_bytes_per_record_per_node\": %.1f}",
	       p->done, o->line ? "far_end" : "every_node", o->line ? 0 : -1, o->line ? (int)s->n - 1 : -1,
	       o->line ? s->n - 1 : r->diameter, p->prop.p50, p->prop.p90, p->prop.p99, p->prop.max,
	       p->prop.mean, p->ack.p50, p->ack.p99, o->probe_poll_us, p->status_rtt_us, p->status_calls,
	       p->bytes, per);
}

/* "cold": null without --offline. */
static void sim__json_cold(const struct sim_cold *c)
{
	uint64_t n = c->records * c->nodes;

	if (c->nodes == 0) {
		printf(", \"cold\": null");
		return;
	}
	printf(", \"cold\": {\"nodes\": %zu, \"records\": %" PRIu64 ", \"caught_up\": %s, \"seconds\": %.3f"
	       ", \"records_per_s\": %.0f, \"wire_bytes\": %" PRIu64 ", \"wire_bytes_per_record\": %.1f"
	       ", \"unlock_s\": %.3f, \"connect_wait_s\": ",
	       c->nodes, c->records, c->done ? "true" : "false", (double)c->us / 1e6, sim__rate(n, c->us),
	       c->bytes, n > 0 ? (double)c->bytes / (double)n : 0, (double)c->unlock_us / 1e6);
	if (c->connect_wait_us >= 0)
		printf("%.3f, \"transfer_records_per_s\": %.0f", (double)c->connect_wait_us / 1e6,
		       sim__rate(n, c->us - (uint64_t)c->connect_wait_us));
	else
		printf("null, \"transfer_records_per_s\": null");
	if (c->indexed)
		printf(", \"indexed_s\": %.3f, \"indexed_records_per_s\": %.0f", (double)c->indexed_us / 1e6,
		       sim__rate(n, c->indexed_us));
	else
		printf(", \"indexed_s\": null, \"indexed_records_per_s\": null");
	printf(", \"receiver_max_rss_kib\": %" PRIu64 ", \"receiver_hwm_kib\": %" PRIu64 "}", c->rss_kib,
	       c->hwm_kib);
}

static void sim__report_json(const struct sim_opts *o, const struct sim_result *r, const struct sim *s)
{
	double per =
	    o->records > 0 && s->n > 1 ? (double)r->bytes / (double)o->records / (double)(s->n - 1) : 0;
	double mean_deg = s->n > 0 ? 2.0 * (double)r->edges / (double)s->n : 0;

	printf("{\"nodes\": %zu, \"degree\": %zu, \"edges\": %zu, \"mean_degree\": %.2f, "
	       "\"records\": %" PRIu64 ", \"rate\": %.2f, \"kill_prob\": %.3f, \"offline\": %zu, "
	       "\"mutual\": %s, \"seed\": %" PRIu64 ", \"kills\": %" PRIu64 ", \"setup_ms\": %" PRIu64
	       ", \"boot_sync_ms\": %" PRIu64 ", \"inject_ms\": %" PRIu64
	       ", \"converged\": %s, \"converge_ms\": %" PRIu64 ", \"records_per_node\": %" PRIu64
	       ", \"wire_bytes\": %" PRIu64 ", \"wire_bytes_per_record_per_node\": %.1f"
	       ", \"peer_connections\": %" PRIu64 ", \"reconnections\": %" PRIu64
	       ", \"max_rss_kib\": %" PRIu64 ", \"max_hwm_kib\": %" PRIu64
	       ", \"mem_samples\": %u, \"diameter\": %zu, \"mean_hops\": %.2f"
	       ", \"store_bytes_boot\": %" PRIu64 ", \"store_bytes_end\": %" PRIu64 ", \"idle_ms\": %" PRIu64
	       ", \"idle_bytes\": %" PRIu64 ", \"probes\": %u, \"probe_p50_ms\": %" PRIu64
	       ", \"probe_max_ms\": %" PRIu64,
	       s->n, o->degree, r->edges, mean_deg, o->records, o->rate, o->kill_prob, o->offline,
	       o->mutual ? "true" : "false", o->seed, r->kills, r->setup_ms, r->boot_ms, r->inject_ms,
	       r->converged ? "true" : "false", r->converge_ms, r->records_per_node, r->bytes, per, r->conns,
	       r->reconns, s->mem.max_rss_kib, s->mem.max_hwm_kib, s->mem.samples, r->diameter, r->mean_hops,
	       r->store0, r->store1, r->idle_ms, r->idle_bytes, r->probes_done, r->probe_p50_ms,
	       r->probe_max_ms);
	printf(", \"topology\": \"%s\", \"delay_ms\": %u, \"delay_kind\": \"%s\", \"one_way_delay_ms\": %u"
	       ", \"inject_mode\": \"%s\", \"inject_requests\": %" PRIu64 ", \"inject_records_per_s\": %.1f",
	       o->line ? "line" : "random", o->netem_ms > 0 ? o->netem_ms : o->delay_ms, sim__delay_kind(o),
	       sim__one_way_ms(o), o->rate > 0 ? "add" : "add_batch", r->inject_requests,
	       sim__rate(o->records, r->inject_ms * 1000u));
	sim__json_propagation(o, r, s);
	sim__json_cold(&r->cold);
	printf("}\n");
}

static void sim__text_propagation(const struct sim_opts *o, const struct sim_result *r, const struct sim *s)
{
	const struct sim_probe_result *p = &r->probe;
	double per = p->done > 0 && s->n > 1 ? (double)p->bytes / p->done / (double)(s->n - 1) : 0;

	if (p->done == 0)
		return;
	if (o->line)
		printf("propagation, %u probes added at node 0, timed at node %zu (the far end, %zu hops):\n",
		       p->done, s->n - 1, s->n - 1);
	else
		printf("propagation, %u probes at random nodes, timed until every node holds each:\n",
		       p->done);
	printf("  add -> durable there (ms)   p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  mean %.1f\n",
	       p->prop.p50, p->prop.p90, p->prop.p99, p->prop.max, p->prop.mean);
	printf("  add -> source's ack (ms)    p50 %.1f  p99 %.1f\n", p->ack.p50, p->ack.p99);
	printf("  resolution: poll every %u us + one status round trip (mean %.1f us, %" PRIu64 " calls)\n",
	       o->probe_poll_us, p->status_rtt_us, p->status_calls);
	printf("  wire bytes per record per node %.1f (proxy bytes during the probes, periodic\n"
	       "  reconciliation included, / probes / (nodes - 1))\n",
	       per);
}

static void sim__text_cold(const struct sim_cold *c)
{
	uint64_t n = c->records * c->nodes;

	if (c->nodes == 0)
		return;
	if (!c->done) {
		printf("cold catch-up of %zu offline node(s): NOT complete\n", c->nodes);
		return;
	}
	printf("cold catch-up: %" PRIu64 " records into %zu empty node(s) in %.3f s: %.0f records/s, "
	       "%.1f wire bytes per record\n",
	       c->records, c->nodes, (double)c->us / 1e6, sim__rate(n, c->us),
	       n > 0 ? (double)c->bytes / (double)n : 0);
	if (c->connect_wait_us >= 0)
		printf("  of which %.3f s until a peer redialed it: %.0f records/s from that connection\n",
		       (double)c->connect_wait_us / 1e6, sim__rate(n, c->us - (uint64_t)c->connect_wait_us));
	if (c->indexed)
		printf("  indexed for queries and evaluated by the alert rules (in the background) %.3f s "
		       "after\n"
		       "  the window opened: %.0f records/s\n",
		       (double)c->indexed_us / 1e6, sim__rate(n, c->indexed_us));
	else
		printf("  NOT indexed and evaluated within --timeout\n");
	printf("  its start (Argon2id unlock) before that %.3f s; its VmRSS up to %.1f MiB, VmHWM %.1f MiB\n",
	       (double)c->unlock_us / 1e6, (double)c->rss_kib / 1024.0, (double)c->hwm_kib / 1024.0);
}

static void sim__report(const struct sim_opts *o, const struct sim_result *r, const struct sim *s)
{
	double per =
	    o->records > 0 && s->n > 1 ? (double)r->bytes / (double)o->records / (double)(s->n - 1) : 0;
	double mean_deg = s->n > 0 ? 2.0 * (double)r->edges / (double)s->n : 0;

	if (o->json) {
		sim__report_json(o, r, s);
		return;
	}
	if (o->line)
		printf("nodes %zu in a line (%zu edges), ", s->n, r->edges);
	else
		printf("nodes %zu, degree %zu (%zu edges, mean degree %.2f), ", s->n, o->degree, r->edges,
		       mean_deg);
	if (o->rate > 0)
		printf("%" PRIu64 " records at %.2f/s, ", o->records, o->rate);
	else
		printf("%" PRIu64 " records as fast as add_batch goes, ", o->records);
	printf("kill-prob %.3f (%" PRIu64 " kills), %zu offline during injection, %s, seed %" PRIu64 "\n",
	       o->kill_prob, r->kills, o->offline,
	       o->mutual ? "mutual trust (both ends dial)" : "one dialer per edge", o->seed);
	printf("graph: %s, diameter %zu hops, mean distance %.2f hops\n",
	       o->line ? "a line 0-1-...-(N-1)" : "random", r->diameter, r->mean_hops);
	if (o->netem_ms > 0)
		printf("delay: netem on lo, %u ms per loopback leg: %u ms one way node to node (through the "
		       "proxy)\n",
		       o->netem_ms, sim__one_way_ms(o));
	else if (o->delay_ms > 0)
		printf("delay: the proxy holds everything %u ms each way (RTT %u ms)\n", o->delay_ms,
		       2 * o->delay_ms);
	printf("setup (init, member add, network join)   %8.1f s\n", (double)r->setup_ms / 1000.0);
	printf("boot: start + membership sync            %8.1f s\n", (double)r->boot_ms / 1000.0);
	printf("injection                                %8.1f s  (achieved %.1f records/s, %" PRIu64
	       " %s requests)\n",
	       (double)r->inject_ms / 1000.0,
	       r->inject_ms > 0 ? (double)o->records * 1000.0 / (double)r->inject_ms : 0, r->inject_requests,
	       o->rate > 0 ? "add" : "add_batch");
	sim__text_cold(&r->cold);
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
	sim__text_propagation(o, r, s);
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
	for (size_t i = 0; i < s->n; i++) /* killed nodes still down come back now */
		if (s->nodes[i].state == SIM_DOWN && s->nodes[i].restart_at_ms != 0)
			s->nodes[i].restart_at_ms = t_last;
	if (o->offline > 0) /* and the offline ones, timed: their catch-up */
		sim__cold(s, o, &res->cold);
	res->converged = sim__wait_converged(s, o->records, o->timeout_s * 1000u, t_last, &res->converge_ms,
	                                     &res->records_per_node);
	if (!res->converged)
		sim__dump(s);
	sim_sample_mem(s, true);
	res->bytes = sim_proxy_bytes() - bytes0;
	res->store1 = sim__max_store(s);
	if (res->converged && o->probes > 0 && sim__probes(s, o, res) != 0)
		return 1; /* a probe failed: exit 1, and the report says what was measured */
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
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(sim__atexit);
	if (o.netem_ms > 0) {
		sim_netem_guard_fatal();
		if (sim_netem_add(o.netem_ms) != 0)
			return 2;
	}
	rc = sim__run(&o, &res);
	if (rc >= 0)
		sim__report(&o, &res, &g_sim);
	else
		fprintf(stderr, "sim: stopped before the measurement (SIM_KEEP=1 keeps the nodes' "
		                "directories and logs)\n");
	sim_cleanup(&g_sim);
	sim_proxy_stop();
	sim_netem_del();
	return rc == 0 ? 0 : 1;
}
