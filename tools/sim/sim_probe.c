/*
 * Propagation probes (docs/SIMULATION.md, "Propagation"): single records added
 * one at a time after convergence, each timed from just before its `add` is
 * sent until the target node(s) count it in `status` (which reads the
 * committed store: the record is durable there). Only the targets are polled
 * while a probe is in flight, over control connections kept open, so that the
 * polling costs one status round trip per target per round; the resolution of
 * a figure is the poll interval plus one such round trip.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define SIM_PROBE_TIMEOUT_US (60u * 1000000u)

static int sim__cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least pct % of the sample at or below it. */
static double sim__rank_ms(const uint64_t *sorted, unsigned n, unsigned pct)
{
	size_t rank = ((size_t)n * pct + 99) / 100;

	return (double)sorted[rank > 0 ? rank - 1 : 0] / 1000.0;
}

void sim_dist_of(uint64_t *us, unsigned n, struct sim_dist *d)
{
	double sum = 0;

	*d = (struct sim_dist){.n = n};
	if (n == 0)
		return;
	qsort(us, n, sizeof(*us), sim__cmp_u64);
	for (unsigned i = 0; i < n; i++)
		sum += (double)us[i];
	d->p50 = sim__rank_ms(us, n, 50);
	d->p90 = sim__rank_ms(us, n, 90);
	d->p99 = sim__rank_ms(us, n, 99);
	d->max = (double)us[n - 1] / 1000.0;
	d->mean = sum / (double)n / 1000.0;
}

/* The nodes polled for a probe from src: the far end of a line, else every other node. */
static size_t sim__targets(const struct sim *s, bool line, size_t src, size_t *t)
{
	size_t n = 0;

	if (line || s->n == 1) {
		t[n++] = s->n - 1;
		return n;
	}
	for (size_t i = 0; i < s->n; i++)
		if (i != src)
			t[n++] = i;
	return n;
}

struct sim__poll {
	int fd[SIM_NODES_MAX];
	uint64_t rtt_us, calls;
};

/*
 * Polls the targets every poll_us until each counts want incidents; *t1 the
 * time the last one's status reply said so. 0, or -1 (a status failed, 60 s).
 */
static int sim__await(struct sim__poll *pl, const size_t *t, size_t nt, uint64_t want, unsigned poll_us,
                      uint64_t t0, uint64_t *t1)
{
	bool seen[SIM_NODES_MAX] = {false};
	size_t left = nt;

	while (left > 0 && !sim_stop_flag) {
		for (size_t j = 0; j < nt; j++) {
			uint64_t records, inc, a, b;
			if (seen[j])
				continue;
			a = sim_now_us();
			if (sim_ctl_status_fd(pl->fd[t[j]], &records, &inc) != 0) {
				fprintf(stderr, "sim: probe: status of node %zu failed\n", t[j]);
				return -1;
			}
			b = sim_now_us();
			pl->rtt_us += b - a;
			pl->calls++;
			if (inc >= want) {
				seen[j] = true;
				left--;
				*t1 = b;
			}
		}
		if (left == 0)
			break;
		if (sim_now_us() - t0 > SIM_PROBE_TIMEOUT_US)
			return -1;
		sim_sleep_us(poll_us);
	}
	return left == 0 ? 0 : -1;
}

/* One probe: add at src, await the targets; the two durations in *prop and *ack. */
static int sim__probe(struct sim *s, const struct sim_probe_plan *pp, struct sim__poll *pl, unsigned p,
                      uint64_t *prop, uint64_t *ack)
{
	size_t src = pp->line ? 0 : pp->from[p], t[SIM_NODES_MAX];
	size_t nt = sim__targets(s, pp->line, src, t);
	uint64_t t0, t_ack, t1 = 0, want = pp->want0 + p + 1;
	struct sim_add add;

	if (sim_ctl_add_prepare(pp->k0 + p, &add) != 0)
		return -1;
	t0 = sim_now_us();
	if (sim_ctl_add_send(&s->nodes[src], &add) != 0) {
		fprintf(stderr, "sim: probe %u: add at node %zu failed\n", p, src);
		return -1;
	}
	t_ack = sim_now_us();
	if (sim__await(pl, t, nt, want, pp->poll_us, t0, &t1) != 0) {
		if (!sim_stop_flag)
			fprintf(stderr, "sim: probe %u (from node %zu) did not reach %s in 60 s\n", p, src,
			        pp->line ? "the far end" : "every node");
		return -1;
	}
	*prop = t1 - t0;
	*ack = t_ack - t0;
	return 0;
}

int sim_probes(struct sim *s, const struct sim_probe_plan *pp, struct sim_probe_result *out)
{
	uint64_t *prop = calloc(pp->probes, sizeof(*prop)), *ack = calloc(pp->probes, sizeof(*ack));
	uint64_t b0 = sim_proxy_bytes();
	struct sim__poll pl;
	int rc = prop != NULL && ack != NULL ? 0 : -1;

	*out = (struct sim_probe_result){0};
	for (size_t i = 0; i < SIM_NODES_MAX; i++)
		pl.fd[i] = -1;
	pl.rtt_us = pl.calls = 0;
	for (size_t i = 0; i < s->n && rc == 0; i++)
		if ((rc = sim_ctl_open(&s->nodes[i], &pl.fd[i])) != 0)
			fprintf(stderr, "sim: probe: cannot connect to node %zu's control socket\n", i);
	for (unsigned p = 0; rc == 0 && p < pp->probes && !sim_stop_flag; p++) {
		if ((rc = sim__probe(s, pp, &pl, p, &prop[p], &ack[p])) == 0)
			out->done = p + 1;
		sim_sample_mem(s, false);
	}
	for (size_t i = 0; i < s->n; i++)
		if (pl.fd[i] >= 0)
			close(pl.fd[i]);
	out->bytes = sim_proxy_bytes() - b0;
	out->status_calls = pl.calls;
	out->status_rtt_us = pl.calls > 0 ? (double)pl.rtt_us / (double)pl.calls : 0;
	if (out->done > 0) {
		sim_dist_of(prop, out->done, &out->prop);
		sim_dist_of(ack, out->done, &out->ack);
		out->p50_ms = prop[out->done / 2] / 1000u;
		out->max_ms = prop[out->done - 1] / 1000u;
	}
	free(prop);
	free(ack);
	return rc == 0 && !sim_stop_flag ? 0 : -1;
}
