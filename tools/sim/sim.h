/*
 * tools/sim: the multi-node simulator (docs/SIMULATION.md).
 *
 * Starts N real `tejido` daemons on 127.0.0.1, one founder and N-1 nodes that
 * join through welcome bundles (`member add`, `network join`), connects them
 * in a seeded random trusted-peer graph (or a line) through a counting TCP
 * proxy that can also delay what it forwards, injects incidents, kills and
 * restarts nodes, and measures convergence, propagation, cold catch-up, wire
 * bytes and memory. A program that prints figures, not a test (the ctests
 * check convergence and the report's shape only, never a time).
 *
 * Modules: sim_main.c (options, the run, the report), sim_proc.c (data
 * directories, the CLI, daemons, memory samples), sim_ctl.c (control socket
 * calls), sim_proxy.c (the counting, delaying proxy thread), sim_probe.c
 * (propagation probes and their percentiles), sim_netem.c (`tc ... netem` on lo).
 */
#ifndef TJ_SIM_H
#define TJ_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_NODES_MAX 64
#define SIM_PASS "sim passphrase, not a secret"

enum sim_state { SIM_DOWN, SIM_STARTING, SIM_UP };

struct sim_node {
	char dir[96];
	char pk_hex[65];
	uint8_t pk[32];
	uint16_t port;       /* the daemon's listener */
	uint16_t proxy_port; /* where its peers dial it: the counting proxy */
	int proxy_fd;        /* the proxy's listening socket (owned by the proxy thread once started) */
	pid_t pid;           /* 0 when not running */
	enum sim_state state;
	uint64_t restart_at_ms; /* when DOWN after a kill: restart time */
	uint64_t started_ms;
	unsigned kills, restarts;
};

struct sim_mem {
	uint64_t max_rss_kib; /* largest VmRSS seen in any sample */
	uint64_t max_hwm_kib; /* largest VmHWM (peak RSS) seen */
	unsigned samples;
};

struct sim {
	char root[64];
	const char *tejido;
	size_t n;
	struct sim_node nodes[SIM_NODES_MAX];
	struct sim_mem mem;
	uint64_t last_mem_ms;
};

/* Set by SIGINT/SIGTERM: every loop checks it and unwinds to the cleanup. */
extern volatile sig_atomic_t sim_stop_flag;

/* CLOCK_MONOTONIC. */
uint64_t sim_now_ms(void);
uint64_t sim_now_us(void);
void sim_sleep_ms(unsigned ms);
void sim_sleep_us(unsigned us);

/* ---- sim_proc.c ------------------------------------------------------------ */

/* Makes the root directory and passphrase file, picks ports; 0 or -1. */
int sim_prepare(struct sim *s, const char *tejido, size_t n);
/* `init`, `member add` on the founder, `network join` on the others; 0 or -1. */
int sim_make_network(struct sim *s);
/* Forks `tejido node start --foreground --listen` for node i (state STARTING); 0 or -1. */
int sim_spawn(struct sim *s, size_t i, bool listen);
/* STARTING -> UP once the node answers ping; reaps nodes that died. Returns UP count. */
size_t sim_poll_starting(struct sim *s);
/* Waits (bounded) until node i is UP; 0 or -1. */
int sim_wait_up(struct sim *s, size_t i, unsigned timeout_ms);
void sim_kill(struct sim *s, size_t i);
/* SIGTERM, bounded wait, then SIGKILL. */
void sim_stop(struct sim *s, size_t i);
/* Stops every node and removes the root (unless SIM_KEEP is set). */
void sim_cleanup(struct sim *s);
/* Samples VmRSS/VmHWM of every running node (at most every 200 ms unless force). */
void sim_sample_mem(struct sim *s, bool force);
/* VmRSS and VmHWM of node i in KiB (0 when it does not run); 0 or -1. */
int sim_node_mem(const struct sim *s, size_t i, uint64_t *rss_kib, uint64_t *hwm_kib);
/* Restarts nodes whose restart_at_ms is due, promotes nodes that answer ping, samples memory. */
void sim_service(struct sim *s);

/* ---- sim_ctl.c ------------------------------------------------------------- */

/* Every call below connects, sends one request and reads its reply within
 * SIM_CTL_TIMEOUT_MS (a node that hangs fails the call instead of the run). */
#define SIM_CTL_TIMEOUT_MS 60000u
/* Incidents per add_batch request (--rate 0): ~70 KB, well under the 256 KiB request limit. */
#define SIM_BATCH 100u

int sim_ctl_ping(const struct sim_node *nd);
/* Node `from` trusts node `to`, dialing it at its proxy port. */
int sim_ctl_peer_add(const struct sim_node *from, const struct sim_node *to);
/* Adds one generated incident (k makes it unique); 0 or negative. */
int sim_ctl_add(const struct sim_node *nd, uint64_t k);
/* The same in two steps, so that a timed add times the request alone, not the generator. */
struct sim_add {
	uint8_t req[1024];
	size_t len;
};
int sim_ctl_add_prepare(uint64_t k, struct sim_add *a);
int sim_ctl_add_send(const struct sim_node *nd, const struct sim_add *a);
/* status: records, incidents and the store's used bytes (store_bytes may be NULL). */
int sim_ctl_status(const struct sim_node *nd, uint64_t *records, uint64_t *incidents, uint64_t *store_bytes);
/* Adds n generated incidents k0 .. k0 + n - 1 (n <= SIM_BATCH) in one add_batch request; 0 when the
 * node stored every one, else negative. */
int sim_ctl_add_batch(const struct sim_node *nd, uint64_t k0, unsigned n);
/* A connection kept open for many calls (the probes' status polls); *fd, 0 or negative. */
int sim_ctl_open(const struct sim_node *nd, int *fd);
/* status over a connection from sim_ctl_open: records and incidents. */
int sim_ctl_status_fd(int fd, uint64_t *records, uint64_t *incidents);
/* The node's peers.indexing_backlog (records stored, not yet indexed nor evaluated by the rules). */
int sim_ctl_backlog_fd(int fd, uint64_t *backlog);
/* Sorted readable incident ids into ids (cap entries); *n set. */
int sim_ctl_ids(const struct sim_node *nd, uint8_t (*ids)[32], size_t cap, size_t *n);

/* ---- sim_proxy.c ----------------------------------------------------------- */

/* Binds one listener per node on 127.0.0.1 (proxy_port, proxy_fd); 0 or -1. */
int sim_proxy_bind(struct sim *s);
/*
 * Starts the proxy thread: node i's listener forwards to 127.0.0.1:port. With
 * delay_ms > 0 every chunk read from either side is forwarded delay_ms after
 * it was read, in order per direction: a one-way delay on every node-to-node
 * connection (SIM_PROXY_QUEUE_MAX_BYTES queued per direction at most; a full
 * queue stops reading that side).
 */
int sim_proxy_start(struct sim *s, unsigned delay_ms);
void sim_proxy_stop(void);
/* Payload bytes forwarded so far, both directions, every connection. */
uint64_t sim_proxy_bytes(void);
uint64_t sim_proxy_conns(void);
/* Connections open now. */
uint64_t sim_proxy_open(void);
/* sim_now_us() of the latest connection to node i's listener that reached its daemon; 0 if none. */
uint64_t sim_proxy_last_accept_us(size_t i);

/* ---- sim_probe.c ----------------------------------------------------------- */

/* Percentiles (nearest rank) of a sample, in milliseconds. */
struct sim_dist {
	unsigned n;
	double p50, p90, p99, max, mean;
};

/* Sorts us[0..n) and fills d (n = 0: all zero). */
void sim_dist_of(uint64_t *us, unsigned n, struct sim_dist *d);

struct sim_probe_plan {
	unsigned probes;
	unsigned poll_us;   /* pause between two polling rounds of the targets */
	uint64_t want0;     /* incidents every node holds before the first probe */
	uint64_t k0;        /* the first probe's generator index (unique incidents) */
	bool line;          /* line: from node 0 to node N-1 only; else random source, every node */
	const size_t *from; /* not line: the source of each probe (probes entries) */
};

struct sim_probe_result {
	unsigned done;
	struct sim_dist prop;    /* t0 (before the add) -> the target(s) hold it */
	struct sim_dist ack;     /* t0 -> the source's reply (its commit) */
	uint64_t p50_ms, max_ms; /* the old integer figures (median index n/2) */
	uint64_t status_calls;   /* status round trips made while polling */
	double status_rtt_us;    /* their mean */
	uint64_t bytes;          /* proxy bytes during the probe phase */
};

/* Runs the probes one at a time; 0, or -1 when an add failed or a probe did not arrive in 60 s. */
int sim_probes(struct sim *s, const struct sim_probe_plan *plan, struct sim_probe_result *out);

/* ---- sim_netem.c ----------------------------------------------------------- */

/* `tc qdisc add dev lo root netem delay <ms>ms`; on failure prints tc's error; 0 or -1. */
int sim_netem_add(unsigned delay_ms);
/* Removes it again if sim_netem_add installed it (async-signal-safe: fork, exec, wait). */
void sim_netem_del(void);
/* Fatal signals (SEGV, BUS, ABRT, FPE, ILL) remove the qdisc before the default action. */
void sim_netem_guard_fatal(void);

#endif
