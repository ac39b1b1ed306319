/*
 * Shared by the evidence tests (tests/evidence/): one node's data directory
 * made through the C API, its daemon as a child process (`tejido node start
 * --foreground`), control calls, and incident bodies carrying a canary.
 *
 * Every wait is bounded; the caller kills and reaps what it started
 * (ev_daemon_kill, ev_daemon_stop).
 */
#ifndef TJ_EV_COMMON_H
#define TJ_EV_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tj_keyfile.h"

#define EV_PASS "evidence passphrase: cabo de vela azul"

#define EV_CHECK(cond)                                                                       \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			return 1;                                                            \
		}                                                                            \
	} while (0)

struct ev_node {
	char dir[160];
	char passfile[176];
	const char *tejido;
	pid_t pid; /* 0 when not running */
	uint8_t pk[32];
};

uint64_t ev_now_ms(void);
uint64_t ev_now_us(void);
void ev_sleep_ms(unsigned ms);
/* The TJ_EVIDENCE_SCALE environment variable (default 1, at least 1). */
unsigned ev_scale(void);
/* A fresh directory under TMPDIR (or /tmp) into out (cap >= 64). */
int ev_mkdtemp(char *out, size_t cap, const char *tag);
/* rm -rf path (nftw, no symlinks followed). */
void ev_rmtree(const char *path);
/* Resident set size of pid in KiB (VmRSS), 0 if unknown. */
uint64_t ev_rss_kib(pid_t pid);

/*
 * Creates a node of a single-node network in dir (which must not exist) with
 * kdf for its key file and EV_PASS in dir/../pass-<name>. 0 or an error.
 */
int ev_node_create(struct ev_node *nd, const char *tejido, const char *dir, enum tj_kdf_level kdf);

/* Starts the daemon (foreground child, log in dir/node.log) and waits until it answers ping (timeout_ms). */
int ev_daemon_start(struct ev_node *nd, unsigned timeout_ms);
/* Forks and execs the daemon without waiting (for kills during start-up). */
int ev_daemon_spawn(struct ev_node *nd);
/* Waits until a spawned daemon answers ping; -1 after timeout_ms or if it exited. */
int ev_daemon_wait_ready(struct ev_node *nd, unsigned timeout_ms);
/* SIGKILL and reap. */
void ev_daemon_kill(struct ev_node *nd);
/* SIGTERM, reap within timeout_ms (SIGKILL after); returns the exit status or -1. */
int ev_daemon_stop(struct ev_node *nd, unsigned timeout_ms);

/* One control request (a msgpack map already encoded); the reply is malloc'd. */
int ev_ctl(const struct ev_node *nd, const uint8_t *req, size_t len, uint8_t **reply, size_t *rlen);
/* {"op": op} and whether the reply says ok. */
int ev_ctl_simple(const struct ev_node *nd, const char *op);

/*
 * Canonical summary and case bodies of incident k; the case face carries
 * canary (a victim name, the narrative and the exact place) when not NULL.
 * The case body is empty (*case_len 0) when with_case is false.
 */
int ev_incident(unsigned k, const char *canary, bool with_case, uint8_t *sum, size_t sum_cap, size_t *sum_len,
		uint8_t *cas, size_t cas_cap, size_t *case_len);

/*
 * add_batch of count incidents (seeded by seed; with case faces when canary
 * is not NULL). On 0, ids[0..*n_ids) are the acknowledged ids (summaries and
 * cases, ids cap >= 2 * count). A failed call (the node died) returns -1 and
 * acknowledges nothing.
 */
int ev_add_batch(const struct ev_node *nd, unsigned seed, unsigned count, const char *canary, uint8_t (*ids)[32],
		 size_t *n_ids);

/* Does the file (or any file under a directory) hold needle? Names the first hit in hit (may be NULL). */
bool ev_tree_has(const char *path, const void *needle, size_t len, char *hit, size_t hit_cap);

#endif
