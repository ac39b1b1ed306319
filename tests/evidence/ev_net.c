/*
 * Network evidence (issue 7, items 1, 4 and 5) on real daemons (the peers
 * engineer's harness, tests/net/net_harness.h), with links through the
 * fault-injecting proxy (faultproxy.h).
 *
 *   partitions  5 nodes, every pair linked through its own proxy link; 50
 *               rounds (x TJ_EVIDENCE_SCALE) of a random split (links across
 *               it reset or black-holed; TJ_EVIDENCE_NO_BLACKHOLE=1: reset only),
 *               adds on both sides, delays and
 *               mid-frame cuts inside the groups, a node killed (-9) and
 *               restarted every 10th round, then a heal: all five must hold
 *               identical record sets. Time to converge after each heal is
 *               printed; the store of each node is checked (ev_check.h).
 *   synckill    B fetches 1,200 records from A and is SIGKILLed 30 times
 *               along the way; B converges and its store is whole.
 *   flood       propagation A -> B -> C measured quiet (before and after),
 *               and while a member pushes junk at B at 100 times its push
 *               quota (ev_flooder.h), a stranger opens connections to B at
 *               ~1,000 a second, and both: p50/p99 printed; asserted: the
 *               member offered >= 100x the quota, each flood's p99 is at most
 *               twice the quiet p99, B's memory growth stays bounded
 *               (generously: < 384 MiB under ASan).
 *
 * usage: ev_net PATH_TO_TEJIDO SCENARIO
 */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "ev_check.h"
#include "ev_common.h"
#include "ev_flooder.h"
#include "faultproxy.h"
#include "net_harness.h"
#include "net_rogue.h"
#include "tj_control.h"
#include "tj_mp.h"
#include "tj_peer.h"

#define CHECK EV_CHECK
#define NODES 5
/*
 * After a heal: a live push lost with a cut connection is recovered by the
 * reconciliation on reconnect, or at worst by the periodic one
 * (TJ_PEER_SYNC_INTERVAL_MS, 60 s) plus a redial backoff.
 */
#define CONVERGE_MAX_MS (2u * TJ_PEER_SYNC_INTERVAL_MS + 10000u)

static int ctl_call(struct net *net, size_t i, const uint8_t *req, size_t len, bool *ok)
{
	uint8_t *reply = NULL;
	size_t rlen = 0;
	int fd = -1, rc;

	if ((rc = tj_ctl_connect(net->nodes[i].dir, &fd)) != 0)
		return rc;
	rc = tj_ctl_call(fd, req, len, &reply, &rlen);
	close(fd);
	*ok = rc == 0 && rlen > 4 && memmem(reply, rlen, "\xa2ok\xc3", 4) != NULL;
	free(reply);
	return rc;
}

/* i dials j at 127.0.0.1:port (the proxy's link to j). */
static int peer_add_via(struct net *net, size_t i, size_t j, uint16_t port)
{
	uint8_t req[256];
	char addr[32];
	struct tj_mp_writer w;
	size_t len = 0;
	bool ok = false;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 4);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "peer_add");
	tj_mp_put_cstr(&w, "address");
	tj_mp_put_cstr(&w, addr);
	tj_mp_put_cstr(&w, "public_key");
	tj_mp_put_bin(&w, net->nodes[j].pk, 32);
	tj_mp_put_cstr(&w, "name");
	tj_mp_put_cstr(&w, "par");
	if (tj_mp_writer_finish(&w, &len) != 0 || ctl_call(net, i, req, len, &ok) != 0)
		return -1;
	return ok ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, unsigned p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(n - 1) * p / 100];
}

/*
 * Adds count incidents at node i, checking every item's result (the
 * harness's net_add checks only the reply's ok flag).
 */
static uint8_t (*acked)[32];
static size_t n_acked, cap_acked;

static int add_checked(struct net *net, size_t i, unsigned seed, unsigned count)
{
	struct ev_node nd = {.pid = net->nodes[i].pid};
	uint8_t ids[8][32];
	size_t n = 0;

	if (n_acked + 8 > cap_acked) {
		void *p = realloc(acked, (cap_acked + 256) * 32);
		if (p == NULL)
			return -1;
		acked = p;
		cap_acked += 256;
	}
	snprintf(nd.dir, sizeof(nd.dir), "%s", net->nodes[i].dir);
	if (count > 4 || ev_add_batch(&nd, seed, count, NULL, ids, &n) != 0 || n != count) {
		fprintf(stderr, "add at node %zu: %u incidents asked, %zu acknowledged\n", i, count, n);
		return -1;
	}
	memcpy(acked[n_acked], ids, n * 32);
	n_acked += n;
	return 0;
}

/* Every stopped node's store is whole (signatures, chains, indexes). */
static int check_stores(struct net *net, const char *label)
{
	struct ev_check_report rep;
	char l[64];

	for (size_t i = 0; i < net->n; i++) {
		snprintf(l, sizeof(l), "%s node %zu", label, i);
		ev_check_store(net->nodes[i].dir, NULL, NULL, 0, &rep);
		ev_check_print(&rep, l, stderr);
		CHECK(ev_check_ok(&rep));
	}
	return 0;
}

/* ---- partitions ------------------------------------------------------------ */

struct links {
	struct fp *fp;
	size_t id[NODES][NODES]; /* id[i][j], i < j: i dials j through it */
};

static void heal(struct links *L, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			fp_link_set(L->fp, L->id[i][j], FP_PASS, randombytes_uniform(20));
}

/* A random split into two non-empty groups; links across it cut or black-holed. */
static unsigned split(struct links *L, size_t n)
{
	unsigned mask = 1 + randombytes_uniform((1u << n) - 2);
	/* Black holes: silent links (no RST, no FIN) whose bytes flow again at the heal. */
	bool holes = getenv("TJ_EVIDENCE_NO_BLACKHOLE") == NULL;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			bool across = ((mask >> i) & 1) != ((mask >> j) & 1);
			if (across)
				fp_link_set(L->fp, L->id[i][j], !holes || randombytes_uniform(2) ? FP_CUT : FP_BLACKHOLE, 0);
			else
				fp_link_set(L->fp, L->id[i][j], FP_PASS, randombytes_uniform(40));
			if (!across && randombytes_uniform(4) == 0)
				fp_cut_mid(L->fp, L->id[i][j]);
		}
	return mask;
}

static int sc_partitions(struct net *net)
{
	static const size_t all[NODES] = {0, 1, 2, 3, 4};
	unsigned rounds = 50 * ev_scale(), want = 0, seed = 1, restarts = 0;
	uint64_t *conv = calloc(rounds, sizeof(uint64_t)), t0 = ev_now_ms();
	struct links L = {0};
	struct fp_stats fs;
	int rc = 1;

	CHECK(conv != NULL);
	net_mknet(net, net->tejido, NODES);
	CHECK(fp_start(&L.fp) == 0);
	for (size_t i = 0; i < NODES; i++)
		CHECK(net_start(net, i) == 0);
	for (size_t i = 0; i < NODES; i++)
		for (size_t j = i + 1; j < NODES; j++) {
			uint16_t port;
			CHECK(fp_link_add(L.fp, net->nodes[j].port, &port, &L.id[i][j]) == 0);
			CHECK(peer_add_via(net, i, j, port) == 0);
		}
	for (unsigned r = 0; r < rounds; r++) {
		unsigned mask = split(&L, NODES);
		for (unsigned k = 0; k < 2; k++) {
			size_t at = randombytes_uniform(NODES);
			unsigned count = 1 + randombytes_uniform(3);
			if (net->nodes[at].pid == 0)
				continue;
			if (add_checked(net, at, seed, count) != 0)
				goto out;
			seed += count;
			want += count;
		}
		if (r % 10 == 9) {
			size_t v = randombytes_uniform(NODES);
			net_kill(net, v);
			net_sleep_ms(100);
			if (net_start(net, v) != 0)
				goto out;
			restarts++;
		}
		net_sleep_ms(200 + randombytes_uniform(400));
		heal(&L, NODES);
		uint64_t h = ev_now_ms();
		if (net_wait_converged(net, all, NODES, want, CONVERGE_MAX_MS) != 0) {
			fprintf(stderr, "round %u (split 0x%x): no convergence within %u s after the heal\n", r, mask,
				CONVERGE_MAX_MS / 1000);
			for (size_t i = 0; i < NODES; i++)
				fprintf(stderr, "node %zu listens on %u\n", i, (unsigned)net->nodes[i].port);
			fp_dump(L.fp, stderr);
			/* The nodes' own view of their TCP sockets (state, bytes unread): for the log. */
			fflush(stderr);
			if (system("ss -tanp 2>/dev/null | grep -E 'tejido' >&2") != 0)
				fprintf(stderr, "(ss gave nothing)\n");
			/* Is every acknowledged incident stored somewhere? */
			for (size_t i = 0; i < NODES; i++)
				net_stop(net, i);
			for (size_t i = 0; i < NODES; i++) {
				struct ev_check_report rep;
				ev_check_store(net->nodes[i].dir, NULL, (const uint8_t(*)[32])acked, n_acked, &rep);
				ev_check_print(&rep, "after the failed round", stderr);
			}
			goto out;
		}
		conv[r] = ev_now_ms() - h;
		fprintf(stderr, "round %u: split 0x%x, %u incidents, converged %llu ms after the heal\n", r, mask, want,
			(unsigned long long)conv[r]);
	}
	fp_get_stats(L.fp, &fs);
	for (size_t i = 0; i < NODES; i++)
		net_stop(net, i);
	if (check_stores(net, "partitions") != 0)
		goto out;
	{
		unsigned slow = 0;
		for (unsigned r = 0; r < rounds; r++)
			slow += conv[r] > 10000;
		uint64_t p50 = pct(conv, rounds, 50), p95 = pct(conv, rounds, 95), mx = conv[rounds - 1];
		printf("FIGURE partitions (%s): %u rounds, 5 nodes, %u incidents, %u kill -9 restarts, %llu proxied "
		       "connections, %llu cut; identical sets after every heal; converge after heal p50 %llu ms "
		       "p95 %llu ms max %llu ms; %u rounds over 10 s; %.0f s\n",
		       getenv("TJ_EVIDENCE_NO_BLACKHOLE") ? "resets only" : "resets and black holes", rounds, want, restarts,
		       (unsigned long long)fs.accepted, (unsigned long long)fs.cut,
		       (unsigned long long)p50, (unsigned long long)p95, (unsigned long long)mx, slow,
		       (double)(ev_now_ms() - t0) / 1000.0);
	}
	rc = 0;
out:
	fp_stop(L.fp);
	free(conv);
	return rc;
}

/* ---- kills during sync ----------------------------------------------------- */

static int sc_synckill(struct net *net)
{
	static const size_t both[] = {0, 1};
	unsigned kills = 30 * ev_scale();
	uint64_t t0;

	net_mknet(net, net->tejido, 2);
	CHECK(net_start(net, 0) == 0 && net_start(net, 1) == 0);
	for (unsigned k = 0; k < 6; k++)
		CHECK(net_add(net, 0, 1000 * k, 200) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	t0 = ev_now_ms();
	for (unsigned r = 0; r < kills; r++) {
		net_sleep_ms(randombytes_uniform(500));
		net_kill(net, 1);
		if (r % 5 == 0)
			net_kill(net, 0); /* the sender too, now and then */
		if (net->nodes[0].pid == 0)
			CHECK(net_start(net, 0) == 0);
		CHECK(net_start(net, 1) == 0);
	}
	CHECK(net_wait_converged(net, both, 2, 1200, 120000) == 0);
	printf("FIGURE synckill: %u SIGKILLs of the fetching node (%u of the sender) during a 1,200-record sync; "
	       "converged, stores whole; %.0f s\n",
	       kills, (kills + 4) / 5, (double)(ev_now_ms() - t0) / 1000.0);
	net_stop(net, 0);
	net_stop(net, 1);
	return check_stores(net, "synckill");
}

/* ---- floods ---------------------------------------------------------------- */

/*
 * The issue asks for a member sending 100 times its push quota: the flooder
 * is paced 1% above (a run ends up to one message short of its clock) and
 * the test asserts what it offered.
 */
#define FLOOD_REQUIRED_X 100.0
#define FLOOD_PACE_X 101u
/* Strangers connect from here: the member keeps 127.0.0.1's handshake budget (docs/SECURITY.md, limit 4). */
#define STRANGER_ADDR "127.0.0.2"

struct flood {
	struct net *net;
	volatile bool stop;
	unsigned stranger_conns;
	struct ev_flooder member;
	double member_x[2]; /* the member's offered records a second / quota: member phase, both phase */
};

static void *stranger_flood(void *arg)
{
	struct flood *f = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in src = {.sin_family = AF_INET};
	uint8_t junk[64];

	sa.sin_port = htons(f->net->nodes[1].port);
	if (inet_pton(AF_INET, STRANGER_ADDR, &src.sin_addr) != 1)
		return NULL;
	randombytes_buf(junk, sizeof(junk));
	while (!f->stop) {
		uint64_t t = ev_now_us();
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0) {
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == 0 &&
			    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
				(void)!send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
				__atomic_add_fetch(&f->stranger_conns, 1, __ATOMIC_RELAXED);
			}
			close(fd);
		}
		uint64_t dt = ev_now_us() - t;
		if (dt < 2000)
			usleep((useconds_t)(2000 - dt)); /* two threads: about 1,000 a second */
	}
	return NULL;
}

/* C's record count from its status op; 0 on any failure. */
static uint64_t records_of(struct net *net, size_t i)
{
	uint8_t req[32], *reply = NULL;
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	const char *k;
	uint32_t nk, klen;
	uint64_t v = 0;
	size_t len = 0, rlen = 0;
	int fd = -1;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	if (tj_mp_writer_finish(&w, &len) != 0 || tj_ctl_connect(net->nodes[i].dir, &fd) != 0)
		return 0;
	if (tj_ctl_call(fd, req, len, &reply, &rlen) == 0 &&
	    tj_mp_check(reply, rlen, &tj_mp_limits_default, true, NULL) == 0) {
		tj_mp_reader_init(&r, reply, rlen);
		if (tj_mp_read_map(&r, &nk) == 0)
			for (uint32_t j = 0; j < nk; j++) {
				if (tj_mp_read_str(&r, &k, &klen) != 0)
					break;
				if (klen == 7 && memcmp(k, "records", 7) == 0) {
					if (tj_mp_read_uint(&r, &v) != 0)
						v = 0;
					break;
				}
				if (tj_mp_skip(&r) != 0)
					break;
			}
	}
	close(fd);
	free(reply);
	return v;
}

/* Adds one incident at A and times (polling every 5 ms) until C, behind B, stores it. */
static int propagate(struct net *net, unsigned seed, uint64_t *ms)
{
	uint64_t want = records_of(net, 2) + 1, t = ev_now_us();

	CHECK(want > 1);
	CHECK(net_add(net, 0, seed, 1) == 0);
	for (uint64_t until = ev_now_ms() + 60000; records_of(net, 2) < want; ev_sleep_ms(5))
		CHECK(ev_now_ms() < until);
	*ms = (ev_now_us() - t) / 1000;
	return 0;
}

/* One phase: samples propagations while the given floods run. */
static int phase(struct flood *f, bool member, bool stranger, unsigned samples, unsigned *seed, uint64_t *lat,
		 uint64_t *rss_max, const char *name)
{
	pthread_t tm, ts, ts2;
	uint64_t t0 = ev_now_ms();

	f->stop = false;
	f->stranger_conns = 0;
	f->member = (struct ev_flooder){.net = f->net, .target = 1, .member = 3, .ratio = FLOOD_PACE_X};
	if (member)
		CHECK(pthread_create(&tm, NULL, ev_flooder_run, &f->member) == 0);
	if (stranger) {
		CHECK(pthread_create(&ts, NULL, stranger_flood, f) == 0);
		CHECK(pthread_create(&ts2, NULL, stranger_flood, f) == 0);
	}
	if (member || stranger)
		ev_sleep_ms(500);
	int rc = 0;
	for (unsigned s = 0; s < samples && rc == 0; s++) {
		rc = propagate(f->net, (*seed)++, &lat[s]);
		uint64_t r = ev_rss_kib(f->net->nodes[1].pid);
		*rss_max = r > *rss_max ? r : *rss_max;
		ev_sleep_ms(20);
	}
	f->stop = true;
	f->member.stop = true;
	if (member)
		pthread_join(tm, NULL);
	if (stranger) {
		pthread_join(ts, NULL);
		pthread_join(ts2, NULL);
	}
	double secs = (double)(ev_now_ms() - t0) / 1000.0;
	uint64_t p50 = pct(lat, samples, 50), p99 = pct(lat, samples, 99);
	const struct ev_flooder *m = &f->member;
	double mq = (double)TJ_PEER_PUSH_RATE * (m->secs > 0 ? m->secs : 1); /* the quota over the member's run */
	if (member)
		f->member_x[stranger ? 1 : 0] = (double)m->offered / mq;
	printf("FIGURE flood %s: propagation A->B->C p50 %llu ms p99 %llu ms over %u samples; member flood: "
	       "%llu junk records offered (%.0fx the %u/s quota), %llu taken by the socket (%.0fx), %u connections, "
	       "%u closed by the node, %u left unread for 1.5 s, %u handshakes refused; stranger (from %s) %u "
	       "connections (%.0f/s) in %.1f s\n",
	       name, (unsigned long long)p50, (unsigned long long)p99, samples, (unsigned long long)m->offered,
	       (double)m->offered / mq, (unsigned)TJ_PEER_PUSH_RATE, (unsigned long long)m->written,
	       (double)m->written / mq, m->conns, m->cut, m->stalled, m->refused, STRANGER_ADDR, f->stranger_conns,
	       (double)f->stranger_conns / secs, secs);
	return rc;
}

static int sc_flood(struct net *net)
{
	static const size_t abc[] = {0, 1, 2};
	unsigned samples = 40 * ev_scale(), seed = 7000;
	uint64_t *lat[4], rss0, rss_max = 0, q99, f99[3];
	struct flood f = {.net = net};

	for (int i = 0; i < 4; i++)
		CHECK((lat[i] = calloc(2 * samples, 8)) != NULL); /* lat[0]: quiet before and after */
	net_mknet(net, net->tejido, 4); /* node 3 is the flooding member: never started */
	for (size_t i = 0; i < 3; i++)
		CHECK(net_start(net, i) == 0);
	CHECK(net_peer_add(net, 1, 0) == 0);
	CHECK(net_peer_add(net, 1, 2) == 0);
	CHECK(net_add(net, 0, 1, 3) == 0);
	CHECK(net_wait_converged(net, abc, 3, 3, 60000) == 0);
	rss0 = ev_rss_kib(net->nodes[1].pid);
	CHECK(phase(&f, false, false, samples, &seed, lat[0], &rss_max, "quiet") == 0);
	CHECK(phase(&f, true, false, samples, &seed, lat[1], &rss_max, "member") == 0);
	CHECK(phase(&f, false, true, samples, &seed, lat[2], &rss_max, "stranger") == 0);
	CHECK(phase(&f, true, true, samples, &seed, lat[3], &rss_max, "both") == 0);
	/*
	 * The quiet value is measured before and after the floods and pooled: on
	 * a machine shared with other work (ctest -j, CI) the load changes over
	 * a run, and one quiet window would make the ratio measure that too.
	 */
	CHECK(phase(&f, false, false, samples, &seed, lat[0] + samples, &rss_max, "quiet again") == 0);
	q99 = pct(lat[0], 2 * samples, 99);
	for (int i = 0; i < 3; i++)
		f99[i] = pct(lat[i + 1], samples, 99);
	printf("FIGURE flood: p99 under flood / quiet p99 (%llu ms, before and after): member %.2fx, stranger %.2fx, "
	       "both %.2fx (required: at most 2x); B's RSS %llu KiB before, at most %llu KiB during\n",
	       (unsigned long long)q99, (double)f99[0] / (double)(q99 ? q99 : 1), (double)f99[1] / (double)(q99 ? q99 : 1),
	       (double)f99[2] / (double)(q99 ? q99 : 1), (unsigned long long)rss0, (unsigned long long)rss_max);
	CHECK(rss_max < rss0 + 384 * 1024); /* generous: ASan's quarantine alone may hold 256 MiB */
	for (int i = 0; i < 3; i++)
		CHECK(f99[i] <= 2 * q99);
	/* The member did flood at 100 times its quota, alone and with the strangers. */
	CHECK(f.member_x[0] >= FLOOD_REQUIRED_X && f.member_x[1] >= FLOOD_REQUIRED_X);
	for (int i = 0; i < 4; i++)
		free(lat[i]);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct net *net);
} scenarios[] = {{"partitions", sc_partitions}, {"synckill", sc_synckill}, {"flood", sc_flood}};

static struct net net;

/* Killed by ctest or timeout: take the daemons down too (kill is async-signal-safe). */
static void on_signal(int sig)
{
	for (size_t i = 0; i < NET_NODES_MAX; i++)
		if (net.nodes[i].pid > 0)
			kill(net.nodes[i].pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH_TO_TEJIDO SCENARIO\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	memset(&net, 0, sizeof(net));
	net.tejido = argv[1];
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (strcmp(argv[2], scenarios[i].name) != 0)
			continue;
		rc = scenarios[i].fn(&net);
		if (rc != 0)
			setenv("NET_KEEP", "1", 1); /* keep the logs of a failure */
		net_destroy(&net);
		if (net.bad_exits > 0) {
			fprintf(stderr, "%u daemon(s) did not shut down cleanly\n", net.bad_exits);
			rc = 1;
		}
		fprintf(stderr, "%s: %s\n", argv[2], rc == 0 ? "ok" : "FAILED");
		return rc;
	}
	fprintf(stderr, "unknown scenario %s\n", argv[2]);
	return 2;
}
