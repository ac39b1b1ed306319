/*
 * tools/sim: the multi-node simulator (docs/SIMULATION.md).
 *
 * Starts N real `tejido` daemons on 127.0.0.1, one founder and N-1 nodes that
 * join through welcome bundles (`member add`, `network join`), connects them
 * in a seeded random trusted-peer graph through a counting TCP proxy, injects
 * incidents, kills and restarts nodes, and measures convergence, wire bytes
 * and memory. A program that prints figures, not a test (except --smoke use
 * from ctest, which checks convergence only).
 *
 * Modules: sim_main.c (options, the run, the report), sim_proc.c (data
 * directories, the CLI, daemons, memory samples), sim_ctl.c (control socket
 * calls), sim_proxy.c (the counting proxy thread).
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

uint64_t sim_now_ms(void);
void sim_sleep_ms(unsigned ms);

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

/* ---- sim_ctl.c ------------------------------------------------------------- */

int sim_ctl_ping(const struct sim_node *nd);
/* Node `from` trusts node `to`, dialing it at its proxy port. */
int sim_ctl_peer_add(const struct sim_node *from, const struct sim_node *to);
/* Adds one generated incident (k makes it unique); 0 or negative. */
int sim_ctl_add(const struct sim_node *nd, uint64_t k);
/* status: records, incidents and the store's used bytes (store_bytes may be NULL). */
int sim_ctl_status(const struct sim_node *nd, uint64_t *records, uint64_t *incidents, uint64_t *store_bytes);
/* Sorted readable incident ids into ids (cap entries); *n set. */
int sim_ctl_ids(const struct sim_node *nd, uint8_t (*ids)[32], size_t cap, size_t *n);

/* ---- sim_proxy.c ----------------------------------------------------------- */

/* Binds one listener per node on 127.0.0.1 (proxy_port, proxy_fd); 0 or -1. */
int sim_proxy_bind(struct sim *s);
/* Starts the proxy thread: node i's listener forwards to 127.0.0.1:port. */
int sim_proxy_start(struct sim *s);
void sim_proxy_stop(void);
/* Payload bytes forwarded so far, both directions, every connection. */
uint64_t sim_proxy_bytes(void);
uint64_t sim_proxy_conns(void);
/* Connections open now. */
uint64_t sim_proxy_open(void);

#endif
