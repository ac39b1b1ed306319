/*
 * Crash consistency (issue 7, item 1): SIGKILL the daemon at random points
 * while a client adds incidents over the control socket, restart it, and
 * check with the read-only store checker (ev_check.h) that every
 * acknowledged record is stored and that every record, chain and index is
 * whole. Kills land during add batches (most rounds), during start-up
 * (about one round in ten), and right after a reply.
 *
 * usage: ev_crash PATH_TO_TEJIDO [ROUNDS]
 * ROUNDS defaults to 200 x TJ_EVIDENCE_SCALE. Prints a FIGURE line.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ev_check.h"
#include "ev_common.h"

struct killer {
	pid_t pid;
	unsigned delay_us;
	pthread_t th;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay_us);
	kill(k->pid, SIGKILL);
	return NULL;
}

struct acked {
	uint8_t (*ids)[32];
	size_t n, cap;
};

static int acked_add(struct acked *a, const uint8_t (*ids)[32], size_t n)
{
	if (a->n + n > a->cap) {
		size_t cap = (a->cap + n) * 2;
		void *p = realloc(a->ids, cap * 32);
		if (p == NULL)
			return -1;
		a->ids = p;
		a->cap = cap;
	}
	memcpy(a->ids[a->n], ids, n * 32);
	a->n += n;
	return 0;
}

struct stats {
	unsigned rounds, kills_in_add, kills_at_start, inflight_lost;
	uint64_t batches, restart_ms_sum, restart_ms_max;
};

/* One round: start, add until the killer strikes, reap. */
static int one_round(struct ev_node *nd, unsigned r, struct acked *acked, struct stats *st, unsigned *seed)
{
	uint8_t ids[2 * 16][32];
	struct killer k = {0};
	uint64_t t0 = ev_now_ms(), dt;
	unsigned mode = randombytes_uniform(10);
	size_t n = 0;

	if (mode == 0) {
		/* During start-up: the key file unlock, the store opening, recovery. */
		EV_CHECK(ev_daemon_spawn(nd) == 0);
		usleep(randombytes_uniform(60000));
		ev_daemon_kill(nd);
		st->kills_at_start++;
		return 0;
	}
	EV_CHECK(ev_daemon_start(nd, 60000) == 0);
	dt = ev_now_ms() - t0;
	st->restart_ms_sum += dt;
	st->restart_ms_max = dt > st->restart_ms_max ? dt : st->restart_ms_max;
	k.pid = nd->pid;
	k.delay_us = randombytes_uniform(250000);
	EV_CHECK(pthread_create(&k.th, NULL, killer_main, &k) == 0);
	for (unsigned b = 0; b < 10000; b++) {
		unsigned count = 1 + randombytes_uniform(16);
		int rc = ev_add_batch(nd, *seed, count, r % 2 ? "CANARIO-CRASH" : NULL, ids, &n);
		*seed += count;
		if (rc != 0) {
			st->inflight_lost++;
			break;
		}
		st->batches++;
		EV_CHECK(acked_add(acked, (const uint8_t(*)[32])ids, n) == 0);
	}
	pthread_join(k.th, NULL);
	ev_daemon_kill(nd); /* reaps; the SIGKILL was sent by the killer */
	st->kills_in_add++;
	return 0;
}

static int check(const struct ev_node *nd, const struct acked *a, const char *label)
{
	struct ev_check_report rep;

	ev_check_store(nd->dir, nd->pk, (const uint8_t(*)[32])a->ids, a->n, &rep);
	ev_check_print(&rep, label, stderr);
	EV_CHECK(ev_check_ok(&rep));
	return 0;
}

static int run(struct ev_node *nd, unsigned rounds)
{
	struct acked acked = {0};
	struct stats st = {0};
	unsigned seed = 1;
	uint8_t ids[32][32];
	size_t n = 0;
	uint64_t t0 = ev_now_ms();
	char label[64];
	int rc = 1;

	for (unsigned r = 0; r < rounds; r++) {
		if (one_round(nd, r, &acked, &st, &seed) != 0)
			goto out;
		st.rounds++;
		if ((r + 1) % 50 == 0) {
			snprintf(label, sizeof(label), "after %u kills", r + 1);
			if (check(nd, &acked, label) != 0)
				goto out;
		}
	}
	/* The node still works after every kill: one more add, a clean stop, the last check. */
	if (ev_daemon_start(nd, 60000) != 0 || ev_add_batch(nd, seed, 3, NULL, ids, &n) != 0 ||
	    acked_add(&acked, (const uint8_t(*)[32])ids, n) != 0) {
		fprintf(stderr, "the node does not take adds after the kills\n");
		goto out;
	}
	if (ev_daemon_stop(nd, 30000) != 0) {
		fprintf(stderr, "the node did not stop cleanly after the kills (see %s/node.log)\n", nd->dir);
		goto out;
	}
	if (check(nd, &acked, "final") != 0)
		goto out;
	if (ev_check_selftest(nd->dir, nd->pk, (const uint8_t(*)[32])acked.ids, acked.n) != 0) {
		fprintf(stderr, "the checker missed an injected fault: its passing means nothing\n");
		goto out;
	}
	printf("FIGURE crash: %u SIGKILLs (%u during adds, %u during start-up), %llu batches acknowledged, "
	       "%zu ids acknowledged, 0 lost; %u batches in flight at a kill; restart mean %llu ms max %llu ms; "
	       "%.1f s\n",
	       st.rounds, st.kills_in_add, st.kills_at_start, (unsigned long long)st.batches, acked.n,
	       st.inflight_lost, (unsigned long long)(st.restart_ms_sum / (st.rounds - st.kills_at_start + 1)),
	       (unsigned long long)st.restart_ms_max, (double)(ev_now_ms() - t0) / 1000.0);
	rc = 0;
out:
	free(acked.ids);
	return rc;
}

static volatile pid_t *daemon_pid;

/* Killed by ctest or timeout: take the daemon down too (kill is async-signal-safe). */
static void on_signal(int sig)
{
	if (daemon_pid != NULL && *daemon_pid > 0)
		kill(*daemon_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	struct ev_node nd;
	char root[128], dir[192];
	unsigned rounds;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_TEJIDO [ROUNDS]\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200u * ev_scale();
	if (ev_mkdtemp(root, sizeof(root), "crash") != 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/node", root);
	daemon_pid = &nd.pid;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((rc = ev_node_create(&nd, argv[1], dir, TJ_KDF_MIN)) != 0) {
		fprintf(stderr, "node create: %d\n", rc);
		ev_rmtree(root);
		return 1;
	}
	rc = run(&nd, rounds);
	ev_daemon_kill(&nd);
	if (rc == 0 || getenv("EV_KEEP") == NULL)
		ev_rmtree(root);
	else
		fprintf(stderr, "kept %s\n", root);
	fprintf(stderr, "ev_crash: %s\n", rc == 0 ? "ok" : "FAILED");
	return rc;
}
