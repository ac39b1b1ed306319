/*
 * tejido-bench: the parts measured by other programs of the same build,
 * run as child processes in the same run, their JSON folded into the
 * bench's report:
 *
 *   bench_sync  the reconciliation matrix (n x d x recent/scattered) and its
 *               cost next to strfry's, computed on the node's own Negentropy
 *               and wire code in one process;
 *   sim         real daemons on 127.0.0.1: propagation (add at A -> durable at
 *               B, one hop and a line of 5, p50/p99 over --probes records) and
 *               cold replication over loopback (an empty node catching up),
 *               optionally over a delayed loopback (--netem, --delay).
 */
#ifndef TJ_BENCH_PARTS_H
#define TJ_BENCH_PARTS_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

struct bench_parts_opts {
	bool quick;
	bool skip_sync;       /* no bench_sync */
	bool skip_sim;        /* no sim runs */
	const char *sync_n;   /* bench_sync --n LIST (NULL: its default) */
	uint32_t probes;      /* propagation probes per topology */
	uint32_t line_nodes;  /* the line's length */
	uint64_t cold_n;      /* records for cold replication over loopback */
	uint32_t netem_ms;    /* tc netem delay on lo (root), 0 = none */
	uint32_t delay_ms;    /* the sim proxy's delay, 0 = none */
	double budget_s;      /* wall seconds each child may take */
	const char *sync_bin; /* paths of the programs */
	const char *sim_bin;
	const char *tejido;
	const char *dir; /* bench_sync --dir */
};

/* One child's run: its JSON (NULL when it failed), how, and for how long. */
struct bench_part {
	const char *name; /* "sync", "propagation_1hop", ... */
	char command[1024];
	cJSON *json;
	int status; /* exit status, or 128 + signal, or -1 when it could not run */
	bool timed_out;
	double wall_s;
};

#define BENCH_PARTS_MAX 8

struct bench_parts {
	uint32_t n;
	struct bench_part part[BENCH_PARTS_MAX];
	uint32_t delay_ms;      /* the delay every delayed run used */
	const char *delay_kind; /* "netem", "proxy" or NULL */
};

/* Runs the parts the options ask for, one after the other. */
void bench_parts_run(const struct bench_parts_opts *o, struct bench_parts *out);
/* Adds "parts": {name: {command, status, wall_s, result}} to the report. */
void bench_parts_json(cJSON *root, const struct bench_parts *p);
/* The table rows of the parts (bench_row's format). */
void bench_parts_print(bool md, const struct bench_parts *p);
void bench_parts_free(struct bench_parts *p);
/* true when every part ran and exited 0 */
bool bench_parts_ok(const struct bench_parts *p);

/* bench.c's row printer: a figure, its value, the anchor or goal beside it. */
void bench_row(bool md, const char *what, const char *value, const char *anchor);

#endif
