/*
 * Multi-node tests: real `tejido` daemons on 127.0.0.1 (see net_harness.h).
 * usage: net_test PATH_TO_TEJIDO SCENARIO
 * Each scenario prints what failed and returns nonzero; every node is
 * killed and its directory removed whatever happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_harness.h"
#include "net_rogue.h"

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			return 1;                                                            \
		}                                                                            \
	} while (0)

/* Incidents are what `list` shows; every node also stores the genesis and the introductions. */
#define CONVERGE_MS 60000u

static int start_all(struct net *net)
{
	for (size_t i = 0; i < net->n; i++)
		CHECK(net_start(net, i) == 0);
	return 0;
}

/* A - B - C: B dials both; records added at A and at C reach the other end. */
static int sc_line(struct net *net)
{
	static const size_t all[] = {0, 1, 2};
	uint64_t t0;

	net_mknet(net, net->tejido, 3);
	CHECK(start_all(net) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_peer_add(net, 1, 2) == 0);
	t0 = net_now_ms();
	CHECK(net_add(net, 0, 100, 5) == 0);
	CHECK(net_add(net, 2, 200, 7) == 0);
	CHECK(net_wait_converged(net, all, 3, 12, CONVERGE_MS) == 0);
	fprintf(stderr, "line: 12 incidents on A, B, C after %llu ms\n", (unsigned long long)(net_now_ms() - t0));
	/* Live gossip along the line, once everyone is connected. */
	t0 = net_now_ms();
	CHECK(net_add(net, 0, 300, 1) == 0);
	CHECK(net_wait_converged(net, all, 3, 13, CONVERGE_MS) == 0);
	fprintf(stderr, "line: a new record at A reached C in %llu ms\n", (unsigned long long)(net_now_ms() - t0));
	return 0;
}

/* Stop B, add on both sides, restart B: everyone converges. */
static int sc_partition(struct net *net)
{
	static const size_t all[] = {0, 1, 2};

	net_mknet(net, net->tejido, 3);
	CHECK(start_all(net) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_peer_add(net, 1, 2) == 0);
	CHECK(net_add(net, 0, 100, 3) == 0);
	CHECK(net_wait_converged(net, all, 3, 3, CONVERGE_MS) == 0);
	net_stop(net, 1);
	CHECK(net_add(net, 0, 200, 4) == 0);
	CHECK(net_add(net, 2, 300, 5) == 0);
	net_sleep_ms(500);
	CHECK(net_start(net, 1) == 0);
	CHECK(net_wait_converged(net, all, 3, 12, CONVERGE_MS) == 0);
	return 0;
}

/* B fetches 800 records from A and is stopped or killed 20 times along the way; it still converges. */
static int sc_restarts(struct net *net)
{
	static const size_t both[] = {0, 1};

	net_mknet(net, net->tejido, 2);
	CHECK(start_all(net) == 0);
	for (unsigned k = 0; k < 4; k++)
		CHECK(net_add(net, 0, 1000 * k, 200) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	for (unsigned r = 0; r < 20; r++) {
		net_sleep_ms(100 + 37 * r % 400);
		if (r % 2 == 0)
			net_kill(net, 1);
		else
			net_stop(net, 1);
		CHECK(net_start(net, 1) == 0);
	}
	CHECK(net_wait_converged(net, both, 2, 800, 120000) == 0);
	CHECK(net_log_has(net, 0, "connection cut"));
	return 0;
}

/* Garbage from strangers is dropped; members keep syncing. */
static int sc_garbage(struct net *net)
{
	static const size_t both[] = {0, 1};

	net_mknet(net, net->tejido, 2);
	CHECK(start_all(net) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_add(net, 0, 10, 2) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	CHECK(rogue_garbage(net, 0) == 0);
	CHECK(rogue_truncated_handshake(net, 0) == 0);
	CHECK(rogue_replayed_msg1(net, 0) == 0);
	CHECK(rogue_stranger(net, 0) == 0);
	CHECK(net_add(net, 1, 20, 3) == 0);
	CHECK(net_add(net, 0, 30, 3) == 0);
	CHECK(net_wait_converged(net, both, 2, 8, CONVERGE_MS) == 0);
	CHECK(net_log_has(net, 0, "handshake: not a member; refused"));
	CHECK(net_log_has(net, 0, "handshake: wrong network key or wrong server key; dropped"));
	return 0;
}

/* A member peer sends a record with a bad signature: refused, logged, nothing stored. */
static int sc_badsig(struct net *net)
{
	static const size_t both[] = {0, 1};

	net_mknet(net, net->tejido, 3); /* node 2 is the rogue member: never started */
	CHECK(net_start(net, 0) == 0 && net_start(net, 1) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(rogue_bad_signature(net, 0, 2) == 0);
	CHECK(net_add(net, 1, 40, 2) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	CHECK(net_log_has(net, 0, "refused a record from"));
	CHECK(net_log_has(net, 0, "signature"));
	return 0;
}

/* A member peer floods pushes: throttled, then dropped; the others do not notice. */
static int sc_flood(struct net *net)
{
	static const size_t both[] = {0, 1};

	net_mknet(net, net->tejido, 3);
	CHECK(net_start(net, 0) == 0 && net_start(net, 1) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_add(net, 0, 50, 2) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	CHECK(rogue_flood(net, 0, 2) == 0);
	CHECK(net_log_has(net, 0, "quota; throttled"));
	CHECK(net_log_has(net, 0, "times in a minute; dropped"));
	CHECK(net_add(net, 1, 60, 2) == 0);
	CHECK(net_wait_converged(net, both, 2, 4, CONVERGE_MS) == 0);
	return 0;
}

/* Cold replication between two daemons over loopback: B starts empty and pulls A's records. */
static int sc_replicate(struct net *net)
{
	static const size_t both[] = {0, 1};
	enum { N = 1000 };
	uint64_t t0, dt;

	net_mknet(net, net->tejido, 2);
	CHECK(net_start(net, 0) == 0);
	for (unsigned k = 0; k < N / 250; k++)
		CHECK(net_add(net, 0, 250 * k, 250) == 0);
	CHECK(net_start(net, 1) == 0);
	t0 = net_now_ms();
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_wait_converged(net, both, 2, N, 120000) == 0);
	dt = net_now_ms() - t0;
	fprintf(stderr, "replicate: %d records (+ their membership records) pulled over loopback in %llu ms: %.0f "
			"records/s (sanitizer builds are several times slower)\n",
		N, (unsigned long long)dt, N * 1000.0 / (double)(dt > 0 ? dt : 1));
	return 0;
}

/* A member removed while connected is dropped, cannot handshake again, and gets nothing new. */
static int sc_removed(struct net *net)
{
	static const size_t all[] = {0, 1, 2}, ac[] = {0, 2};
	uint8_t ids[8][32];
	uint64_t records = 0, t0;
	size_t n = 0;

	net_mknet(net, net->tejido, 3);
	CHECK(start_all(net) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_peer_add(net, 2, 0) == 0);
	CHECK(net_add(net, 0, 70, 1) == 0);
	CHECK(net_wait_converged(net, all, 3, 1, CONVERGE_MS) == 0);
	CHECK(net_remove_member(net, 0, 1) == 0);
	t0 = net_now_ms();
	while (!net_log_has(net, 0, "no longer a member; dropped") && net_now_ms() - t0 < 15000)
		net_sleep_ms(100);
	CHECK(net_log_has(net, 0, "no longer a member; dropped"));
	/* The removal, written by A, reached C too; then a new record reaches C only. */
	CHECK(net_add(net, 0, 80, 1) == 0);
	CHECK(net_wait_converged(net, ac, 2, 2, CONVERGE_MS) == 0);
	/* B keeps redialing (backoff) and is refused after msg3 each time. */
	t0 = net_now_ms();
	while (!net_log_has(net, 0, "handshake: not a member; refused") && net_now_ms() - t0 < 15000)
		net_sleep_ms(100);
	CHECK(net_log_has(net, 0, "handshake: not a member; refused"));
	CHECK(net_ids(net, 1, ids, 8, &n, &records) == 0);
	CHECK(n == 1);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct net *net);
} scenarios[] = {
	{"line", sc_line},       {"partition", sc_partition}, {"restarts", sc_restarts},
	{"garbage", sc_garbage}, {"badsig", sc_badsig},       {"flood", sc_flood},
	{"replicate", sc_replicate}, {"removed", sc_removed},
};

int main(int argc, char **argv)
{
	struct net net;
	int rc = 2;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH_TO_TEJIDO SCENARIO\n", argv[0]);
		return 2;
	}
	memset(&net, 0, sizeof(net));
	net.tejido = argv[1];
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (strcmp(argv[2], scenarios[i].name) != 0)
			continue;
		rc = scenarios[i].fn(&net);
		net_destroy(&net);
		if (net.bad_exits > 0) {
			fprintf(stderr, "%u daemon(s) did not shut down cleanly (directory kept: %s)\n", net.bad_exits,
				net.root);
			rc = 1;
		}
		fprintf(stderr, "%s: %s\n", argv[2], rc == 0 ? "ok" : "FAILED");
		return rc;
	}
	fprintf(stderr, "unknown scenario %s\n", argv[2]);
	return 2;
}
