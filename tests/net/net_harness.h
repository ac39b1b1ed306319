/*
 * Multi-node test harness: real `tejido` daemons as processes on 127.0.0.1,
 * each with its own data directory, driven over their control sockets.
 *
 * tj_net_mknet() builds the data directories of N nodes of ONE network with
 * the node's own joining path: a founder (tj_node_init), N-1 identities
 * without a network; the founder admits each (tj_member_propose, threshold
 * 1) and writes each a welcome bundle (tj_welcome_make), which the new node
 * installs (tj_welcome_join). Each node has its own identity and key file.
 *
 * Every wait is bounded; every process started is killed and reaped.
 */
#ifndef TJ_NET_HARNESS_H
#define TJ_NET_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_NODES_MAX 8
#define NET_PASS "correct horse battery staple net"

struct net_node {
	char dir[128];
	uint8_t pk[32];
	uint8_t sk[64];     /* test only: lets a rogue client speak as this member */
	uint16_t port;
	pid_t pid;          /* 0 when not running */
};

struct net {
	char root[64];
	const char *tejido; /* path of the CLI */
	size_t n;
	uint8_t network_id[32];
	uint8_t network_key[32]; /* test only: the SHS application key */
	unsigned bad_exits;      /* daemons that did not exit 0 on SIGTERM (errors, leaks under ASan) */
	struct net_node nodes[NET_NODES_MAX];
};

/* Creates n nodes of one network under a fresh /tmp directory; aborts on failure. */
void net_mknet(struct net *net, const char *tejido, size_t n);
/* Stops every node still running (SIGTERM, counted in bad_exits) and removes the directory. */
void net_destroy(struct net *net);

/* Starts node i (listening on its port) and waits until it answers; 0 or -1. */
int net_start(struct net *net, size_t i);
/* Asks node i to stop and reaps it (kills it after a bound). */
void net_stop(struct net *net, size_t i);
/* SIGKILL and reap. */
void net_kill(struct net *net, size_t i);

/* Writes node i's tejido.conf (before net_start); 0 or -1. */
int net_write_conf(struct net *net, size_t i, const char *text);

/* Control calls (the node must run). */
int net_peer_add(struct net *net, size_t i, size_t j);
/* Node i adds node j's key at 127.0.0.1:port (a proxy in front of j, say). */
int net_peer_add_port(struct net *net, size_t i, size_t j, uint16_t port);
/* Node i's ready peer connections (status: peers.connected); 0 or -1. */
int net_connected(struct net *net, size_t i, uint64_t *n);
/* Adds count incidents (seeded by seed) in one batch; 0 or -1. */
int net_add(struct net *net, size_t i, unsigned seed, unsigned count);
/* Sorted readable incident ids (at most cap) and the record count; 0 or -1. */
int net_ids(struct net *net, size_t i, uint8_t (*ids)[32], size_t cap, size_t *n, uint64_t *records);
/* Waits (bounded by timeout_ms) until nodes in `which` hold want incidents with identical ids. */
int net_wait_converged(struct net *net, const size_t *which, size_t k, size_t want, unsigned timeout_ms);

/*
 * Steward i (running or not) removes member j: a REMOVE proposal written into
 * i's store from this process (LMDB allows a second process), 0 or -1.
 */
int net_remove_member(struct net *net, size_t i, size_t j);

/* Does node i's log contain needle? */
bool net_log_has(const struct net *net, size_t i, const char *needle);
/* How many times node i's log contains needle. */
unsigned net_log_count(const struct net *net, size_t i, const char *needle);
/*
 * The longest gap in ms between consecutive lines of node i's log that
 * contain needle or also (NULL: needle only), by their timestamps; *n: how
 * many such lines.
 */
uint64_t net_log_max_gap_ms(const struct net *net, size_t i, const char *needle, const char *also, unsigned *n);
/* Waits (bounded by ms) until node i's log contains needle. */
bool net_wait_log(const struct net *net, size_t i, const char *needle, unsigned ms);
/* Milliseconds, monotonic. */
uint64_t net_now_ms(void);
void net_sleep_ms(unsigned ms);

#endif
