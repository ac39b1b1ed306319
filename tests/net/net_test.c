/*
 * Multi-node tests: real `tejido` daemons on 127.0.0.1 (see net_harness.h).
 * usage: net_test PATH_TO_TEJIDO SCENARIO
 * Each scenario prints what failed and returns nonzero; every node is
 * killed and its directory removed whatever happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultproxy.h"
#include "net_harness.h"
#include "net_rogue.h"
#include "tj_peer.h"

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

/* Liveness timers short enough for a test: a probe after 1 s of silence, a cut after 3 s. */
#define FAST_LIVENESS "[peers]\nping_s = 1\ndead_s = 3\n"

/*
 * B dials A through a proxy. Idle but alive, the link is kept (probes are
 * answered); black-holed (no FIN, no RST: a NAT that forgot the mapping),
 * both ends cut it within dead_s; A is then given B's own address (another
 * path) and the record added during the outage reaches B. A member that
 * says HELLO and then nothing is cut the same way; one that answers a probe
 * with a record is dropped, one that floods probes is throttled; A and B
 * keep syncing.
 */
static int silent_run(struct net *net, struct fp *fp)
{
	static const size_t both[] = {0, 1};
	uint64_t t0, dt, conn = 0;
	uint16_t pport = 0;
	size_t link = 0;

	CHECK(fp_link_add(fp, net->nodes[0].port, &pport, &link) == 0);
	CHECK(net_peer_add_port(net, 1, 0, pport) == 0);
	CHECK(net_add(net, 0, 100, 2) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	net_sleep_ms(7000); /* over twice dead_s */
	CHECK(!net_log_has(net, 0, "silent for") && !net_log_has(net, 1, "silent for"));
	CHECK(net_connected(net, 0, &conn) == 0 && conn == 1);
	fp_link_set(fp, link, FP_BLACKHOLE, 0);
	t0 = net_now_ms();
	CHECK(net_add(net, 0, 200, 1) == 0);
	CHECK(net_wait_log(net, 0, "silent for", 15000));
	CHECK(net_wait_log(net, 1, "silent for", 15000));
	dt = net_now_ms() - t0;
	fprintf(stderr, "silent: a black-holed link was cut by both ends %llu ms after it died (dead_s = 3)\n",
		(unsigned long long)dt);
	CHECK(dt < 3000 + 4000);
	CHECK(net_peer_add(net, 0, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 3, CONVERGE_MS) == 0);
	fprintf(stderr, "silent: the record added at A during the outage reached B over the other path after %llu ms\n",
		(unsigned long long)(net_now_ms() - t0));
	CHECK(rogue_silent_member(net, 0, 2, 15000, &dt) == 0);
	fprintf(stderr, "silent: a member that went quiet after HELLO was cut after %llu ms\n", (unsigned long long)dt);
	CHECK(dt < 3000 + 4000);
	/* The probe path against a hostile member: a record in answer, then a flood of probes. */
	CHECK(rogue_probe_answer(net, 0, 2) == 0);
	CHECK(rogue_probe_flood(net, 0, 2) == 0);
	CHECK(net_add(net, 0, 300, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 4, CONVERGE_MS) == 0);
	return 0;
}

static int sc_silent(struct net *net)
{
	struct fp *fp = NULL;
	int rc;

	net_mknet(net, net->tejido, 3); /* node 2: the silent rogue member, never started */
	for (size_t i = 0; i < 2; i++)
		CHECK(net_write_conf(net, i, FAST_LIVENESS) == 0);
	CHECK(net_start(net, 0) == 0 && net_start(net, 1) == 0);
	CHECK(fp_start(&fp) == 0);
	rc = silent_run(net, fp);
	fp_stop(fp);
	return rc;
}

/* Waits (bounded) until node i has exactly one ready peer connection. */
static int wait_one_connection(struct net *net, size_t i, unsigned ms)
{
	uint64_t conn = 0;

	for (uint64_t until = net_now_ms() + ms; net_now_ms() < until; net_sleep_ms(100))
		if (net_connected(net, i, &conn) == 0 && conn == 1)
			return 0;
	fprintf(stderr, "node %zu: %llu connections, want 1\n", i, (unsigned long long)conn);
	return -1;
}

/*
 * A and B dial each other at the same moment, through proxies that hold each
 * chunk 600 ms, so both connections come up: each end closes the same one
 * (dialed by the higher key), no redial churn follows, and records added on
 * both sides while the handshakes ran all arrive.
 */
static int mutual_run(struct net *net, struct fp *fp)
{
	static const size_t both[] = {0, 1};
	uint16_t pa = 0, pb = 0;
	size_t la = 0, lb = 0;
	unsigned twice0, twice1;

	CHECK(fp_link_add(fp, net->nodes[0].port, &pa, &la) == 0);
	CHECK(fp_link_add(fp, net->nodes[1].port, &pb, &lb) == 0);
	fp_link_set(fp, la, FP_PASS, 600);
	fp_link_set(fp, lb, FP_PASS, 600);
	CHECK(net_peer_add_port(net, 0, 1, pb) == 0);
	CHECK(net_peer_add_port(net, 1, 0, pa) == 0);
	CHECK(net_add(net, 0, 100, 20) == 0);
	CHECK(net_add(net, 1, 200, 20) == 0);
	/* One end closes the duplicate (the other may get its BYE first). */
	for (uint64_t until = net_now_ms() + 20000; net_now_ms() < until; net_sleep_ms(100))
		if (net_log_has(net, 0, "connected twice") || net_log_has(net, 1, "connected twice"))
			break;
	CHECK(net_log_has(net, 0, "connected twice") || net_log_has(net, 1, "connected twice"));
	CHECK(wait_one_connection(net, 0, 20000) == 0 && wait_one_connection(net, 1, 20000) == 0);
	CHECK(net_wait_converged(net, both, 2, 40, CONVERGE_MS) == 0);
	twice0 = net_log_count(net, 0, "connected twice");
	twice1 = net_log_count(net, 1, "connected twice");
	net_sleep_ms(6000); /* longer than the backoff cap: a loser that redialed would show here */
	CHECK(net_log_count(net, 0, "connected twice") == twice0 && net_log_count(net, 1, "connected twice") == twice1);
	CHECK(wait_one_connection(net, 0, 1000) == 0 && wait_one_connection(net, 1, 1000) == 0);
	CHECK(net_add(net, 1, 300, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 41, CONVERGE_MS) == 0);
	return 0;
}

static int sc_mutual(struct net *net)
{
	struct fp *fp = NULL;
	int rc;

	net_mknet(net, net->tejido, 2);
	CHECK(start_all(net) == 0);
	CHECK(fp_start(&fp) == 0);
	rc = mutual_run(net, fp);
	fp_stop(fp);
	return rc;
}

/*
 * A dials B through a proxy; the path dies without a word and B restarts, so
 * A still holds its old connection (liveness would take 90 s). B dials A's
 * own address at start: A keeps that newer connection, drops the dead one,
 * and B's new record arrives at once.
 */
static int replace_run(struct net *net, struct fp *fp)
{
	static const size_t both[] = {0, 1};
	uint16_t pport = 0;
	size_t link = 0;
	uint64_t t0, dt;

	CHECK(fp_link_add(fp, net->nodes[1].port, &pport, &link) == 0);
	CHECK(net_peer_add_port(net, 0, 1, pport) == 0);
	CHECK(net_add(net, 0, 10, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 1, CONVERGE_MS) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0); /* connected already: B does not dial */
	net_sleep_ms(1000);
	CHECK(wait_one_connection(net, 1, 1000) == 0);
	fp_link_set(fp, link, FP_BLACKHOLE, 0);
	net_kill(net, 1);
	CHECK(net_start(net, 1) == 0);
	t0 = net_now_ms();
	CHECK(net_add(net, 1, 20, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	dt = net_now_ms() - t0;
	fprintf(stderr, "replace: B restarted behind a dead path; its new record reached A in %llu ms\n",
		(unsigned long long)dt);
	CHECK(dt < 3000);
	/* Closed by the rule at once, or (the rule keeping the old one) cut after an unanswered probe. */
	CHECK(wait_one_connection(net, 0, 10000) == 0);
	CHECK(net_log_has(net, 0, "connected twice") || net_log_has(net, 0, "silent since the peer connected again"));
	CHECK(!net_log_has(net, 0, "silent for"));
	return 0;
}

static int sc_replace(struct net *net)
{
	struct fp *fp = NULL;
	int rc;

	net_mknet(net, net->tejido, 2);
	CHECK(start_all(net) == 0);
	CHECK(fp_start(&fp) == 0);
	rc = replace_run(net, fp);
	fp_stop(fp);
	return rc;
}

/* Kills B, waits `down_ms`, restarts it: ms until a record added at B is at A. */
static int restart_and_time(struct net *net, unsigned down_ms, size_t want, uint64_t *dt)
{
	static const size_t both[] = {0, 1};
	uint64_t t0;

	net_kill(net, 1);
	net_sleep_ms(down_ms);
	CHECK(net_start(net, 1) == 0);
	t0 = net_now_ms();
	CHECK(net_add(net, 1, 1000 + (unsigned)want, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, want, CONVERGE_MS) == 0);
	*dt = net_now_ms() - t0;
	return 0;
}

/*
 * A node comes back after an outage of 20 s, long enough for a backoff that
 * doubles from 0.5 s to pass 8 s: its peer dials at least every 4 s all
 * along (the gaps between its failed dials and the dial that connects, from
 * its debug log), and the node's new record reaches it within 4 s + one
 * sync. A node that knows its peers dials them at once on start.
 */
#define REDIAL_BOUND_MS 4000u /* TJ_PEER_BACKOFF_MAX_MS, stated: the test must fail if the cap grows */
static int sc_returning(struct net *net)
{
	static const size_t both[] = {0, 1};
	uint64_t dt = 0, gap;
	unsigned dials = 0;

	net_mknet(net, net->tejido, 2);
	CHECK(net_write_conf(net, 0, "[node]\nlog_level = debug\n") == 0);
	CHECK(start_all(net) == 0);
	CHECK(net_peer_add(net, 0, 1) == 0); /* only A knows B */
	CHECK(net_add(net, 0, 10, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 1, CONVERGE_MS) == 0);
	CHECK(restart_and_time(net, 20000, 2, &dt) == 0);
	gap = net_log_max_gap_ms(net, 0, "failed: connection refused", "connected to", &dials);
	fprintf(stderr, "returning: B down 20 s: A dialed it %u times, at most %llu ms apart; B's new record "
			"reached A %llu ms after B was back (bound: %u ms + one sync)\n",
		dials, (unsigned long long)gap, (unsigned long long)dt, REDIAL_BOUND_MS);
	CHECK(TJ_PEER_BACKOFF_MAX_MS <= REDIAL_BOUND_MS);
	CHECK(dials >= 6 && gap <= REDIAL_BOUND_MS + 1000);
	CHECK(dt < REDIAL_BOUND_MS + 3000);
	CHECK(net_peer_add(net, 1, 0) == 0); /* now B knows A too */
	CHECK(wait_one_connection(net, 0, 10000) == 0);
	CHECK(restart_and_time(net, 3000, 3, &dt) == 0);
	fprintf(stderr, "returning: B dialed A at start; its new record reached A in %llu ms\n", (unsigned long long)dt);
	CHECK(dt < 3000);
	CHECK(wait_one_connection(net, 0, 10000) == 0 && wait_one_connection(net, 1, 10000) == 0);
	return 0;
}

/*
 * Per-address handshake rate limit: 50 handshakes in a row from 127.0.0.1
 * get TJ_PEER_HS_BURST answers (plus TJ_PEER_HS_RATE_PER_S a second), the
 * rest are closed at accept without a msg2 (no crypto work). 127.0.0.2 is
 * still answered and a member gets in from there; the connected peer keeps
 * syncing.
 */
static int sc_hslimit(struct net *net)
{
	static const size_t both[] = {0, 1};
	unsigned answered = 0, refused = 0, cap;
	uint64_t t0, dt, conn = 0;

	net_mknet(net, net->tejido, 3); /* node 2: a member that connects from 127.0.0.2, never started */
	CHECK(net_start(net, 0) == 0 && net_start(net, 1) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_add(net, 0, 10, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 1, CONVERGE_MS) == 0);
	t0 = net_now_ms();
	CHECK(rogue_hs_burst(net, 0, "127.0.0.1", 50, &answered, &refused) == 0);
	dt = net_now_ms() - t0;
	cap = TJ_PEER_HS_BURST + TJ_PEER_HS_RATE_PER_S * (unsigned)(dt / 1000 + 1);
	fprintf(stderr, "hslimit: 50 handshakes from 127.0.0.1 in %llu ms: %u answered, %u refused at accept\n",
		(unsigned long long)dt, answered, refused);
	CHECK(answered >= TJ_PEER_HS_BURST && answered <= cap && answered + refused == 50);
	CHECK(net_log_has(net, 0, "too many handshakes from one address"));
	CHECK(rogue_hs_burst(net, 0, "127.0.0.2", 5, &answered, &refused) == 0);
	CHECK(answered == 5 && refused == 0);
	CHECK(rogue_member_from(net, 0, 2, "127.0.0.2") == 0);
	CHECK(net_connected(net, 0, &conn) == 0 && conn >= 1);
	CHECK(net_add(net, 0, 20, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 2, CONVERGE_MS) == 0);
	return 0;
}

/*
 * By hand, not in ctest: node 1 runs NET_TEJIDO_OLD, a tejido from before
 * the liveness probe and the one-connection rule (e.g. built from d03b48d).
 * Both dial each other: the old node answers the new one's probes, takes
 * BYE(DUPLICATE) as a clean close, and the redial churn it causes stops
 * after TJ__DUP_MAX closes (both connections kept); records flow both ways.
 */
static int sc_oldpeer(struct net *net)
{
	static const size_t both[] = {0, 1};
	const char *old = getenv("NET_TEJIDO_OLD"), *cur = net->tejido;
	unsigned twice;
	int rc;

	if (old == NULL) {
		fprintf(stderr, "oldpeer: set NET_TEJIDO_OLD to an older tejido\n");
		return 77;
	}
	net_mknet(net, cur, 2);
	CHECK(net_write_conf(net, 0, FAST_LIVENESS) == 0); /* the old node would refuse [peers] */
	CHECK(net_start(net, 0) == 0);
	net->tejido = old;
	rc = net_start(net, 1);
	net->tejido = cur;
	CHECK(rc == 0);
	CHECK(net_peer_add(net, 0, 1) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_add(net, 0, 100, 5) == 0);
	CHECK(net_add(net, 1, 200, 5) == 0);
	CHECK(net_wait_converged(net, both, 2, 10, CONVERGE_MS) == 0);
	net_sleep_ms(8000);
	twice = net_log_count(net, 0, "connected twice");
	net_sleep_ms(5000);
	fprintf(stderr, "oldpeer: %u duplicates closed by the new node; %u more in the last 5 s\n", twice,
		net_log_count(net, 0, "connected twice") - twice);
	CHECK(net_log_count(net, 0, "connected twice") == twice);
	CHECK(!net_log_has(net, 0, "silent for"));
	CHECK(net_add(net, 1, 300, 1) == 0 && net_add(net, 0, 400, 1) == 0);
	CHECK(net_wait_converged(net, both, 2, 12, CONVERGE_MS) == 0);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct net *net);
} scenarios[] = {
	{"line", sc_line},       {"partition", sc_partition}, {"restarts", sc_restarts},
	{"garbage", sc_garbage}, {"badsig", sc_badsig},       {"flood", sc_flood},
	{"replicate", sc_replicate}, {"removed", sc_removed},     {"silent", sc_silent},
	{"mutual", sc_mutual},       {"returning", sc_returning}, {"hslimit", sc_hslimit},
	{"replace", sc_replace},     {"oldpeer", sc_oldpeer},
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
