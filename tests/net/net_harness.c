/* The multi-node harness: see net_harness.h. */
#include "net_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_control.h"
#include "tj_incident.h"
#include "tj_ingest.h"
#include "tj_keyfile.h"
#include "tj_keyring.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_seal.h"
#include "tj_store.h"
#include "tj_welcome.h"

static void net__die(const char *what, int rc)
{
	fprintf(stderr, "net harness: %s: %s\n", what, tj_strerror(rc));
	abort();
}

uint64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void net_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * A free TCP port on 127.0.0.1 for node i, below the ephemeral range. A port
 * from bind(0) is released until the daemon binds it, and meanwhile the kernel
 * may hand it to any outgoing connection on the machine as its source port: the
 * daemon then fails with "Address already in use" (seen in loaded full runs).
 * Ports under 32768 are never handed out that way; one that another program
 * holds fails the bind and another is drawn (as tools/sim does).
 */
static uint16_t net__free_port(const struct net *net, size_t i)
{
	for (unsigned tries = 0; tries < 1000; tries++) {
		uint16_t port = (uint16_t)(20000u + randombytes_uniform(12000));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					 .sin_port = htons(port)};
		bool used = false;
		int fd;

		for (size_t j = 0; j < i; j++)
			used = used || net->nodes[j].port == port;
		if (used || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			continue;
		used = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
		close(fd);
		if (!used)
			return port;
	}
	net__die("no free port in 20000-31999", -EADDRINUSE);
	return 0;
}

static struct tj_unlocked *net__identity(const char *dir)
{
	struct tj_identity *id = NULL;
	struct tj_unlocked *u = NULL;
	char path[160];
	int rc;

	if (mkdir(dir, 0700) != 0)
		net__die("mkdir", -errno);
	snprintf(path, sizeof(path), "%s/key", dir);
	if ((rc = tj_identity_generate(&id)) != 0 ||
	    (rc = tj_keyfile_create(path, id, "ana", NET_PASS, strlen(NET_PASS), TJ_KDF_MIN)) != 0 ||
	    (rc = tj_keyfile_unlock(path, NET_PASS, strlen(NET_PASS), &u)) != 0)
		net__die("identity", rc);
	tj_identity_free(id);
	return u;
}

/* With the founder open: admit every other node (threshold 1), then one welcome bundle each. */
static void net__welcome_make(struct net *net, struct tj_unlocked **us, uint8_t **bundles, size_t *lens)
{
	struct tj_member_body b;
	struct tj_node *f = NULL;
	uint8_t pid[32];
	int rc;

	if ((rc = tj_node_open(net->nodes[0].dir, 0, us[0], &f)) != 0)
		net__die("open founder", rc);
	us[0] = NULL;
	memcpy(net->network_id, f->network_id, 32);
	memcpy(net->network_key, f->keyring->network_key, 32);
	for (size_t i = 1; i < net->n; i++) {
		memset(&b, 0, sizeof(b));
		b.action = TJ_MEMBER_ADMIT;
		b.role = TJ_ROLE_MEMBER;
		memcpy(b.subject, net->nodes[i].pk, 32);
		snprintf(b.name, sizeof(b.name), "Nodo %zu", i);
		if ((rc = tj_member_propose(f, &b, pid)) != 0)
			net__die("admit", rc);
	}
	/* Every bundle carries every admission: each node knows all the others from the start. */
	for (size_t i = 1; i < net->n; i++)
		if ((rc = tj_welcome_make(f, net->nodes[i].pk, NULL, &bundles[i], &lens[i])) != 0)
			net__die("welcome", rc);
	tj_node_close(f);
}

void net_mknet(struct net *net, const char *tejido, size_t n)
{
	struct tj_unlocked *us[NET_NODES_MAX] = {0};
	struct tj_init_opts founder = {.network_name = "Red de prueba"}, joiner = {.no_network = true};
	uint8_t *bundles[NET_NODES_MAX] = {0};
	size_t lens[NET_NODES_MAX] = {0};
	char path[160];
	FILE *f;
	int rc;

	if (n < 1 || n > NET_NODES_MAX || sodium_init() < 0)
		abort();
	memset(net, 0, sizeof(*net));
	net->tejido = tejido;
	net->n = n;
	snprintf(net->root, sizeof(net->root), "/tmp/tjnet-XXXXXX");
	if (mkdtemp(net->root) == NULL)
		net__die("mkdtemp", -errno);
	snprintf(path, sizeof(path), "%s/pass", net->root);
	if ((f = fopen(path, "w")) == NULL)
		net__die("pass file", -errno);
	fchmod(fileno(f), 0600);
	fprintf(f, "%s\n", NET_PASS);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		snprintf(net->nodes[i].dir, sizeof(net->nodes[i].dir), "%s/n%zu", net->root, i);
		us[i] = net__identity(net->nodes[i].dir);
		memcpy(net->nodes[i].pk, us[i]->id->pk, 32);
		memcpy(net->nodes[i].sk, us[i]->id->sk, 64);
		net->nodes[i].port = net__free_port(net, i);
		if ((rc = tj_node_init(net->nodes[i].dir, us[i], i == 0 ? &founder : &joiner)) != 0)
			net__die("node init", rc);
	}
	net__welcome_make(net, us, bundles, lens);
	for (size_t i = 1; i < n; i++)
		if ((rc = tj_welcome_join(net->nodes[i].dir, us[i], bundles[i], lens[i], NULL)) != 0)
			net__die("join", rc);
	for (size_t i = 0; i < n; i++) {
		tj_unlocked_free(us[i]);
		free(bundles[i]);
	}
}

static int net__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void net_destroy(struct net *net)
{
	if (net->root[0] == '\0')
		return;
	for (size_t i = 0; i < net->n; i++)
		net_stop(net, i);
	if (getenv("NET_KEEP") == NULL && net->bad_exits == 0)
		nftw(net->root, net__rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "kept %s\n", net->root);
}

/* ---- processes ------------------------------------------------------------- */

static int net__call(struct net *net, size_t i, const uint8_t *req, size_t len, uint8_t **reply, size_t *rlen)
{
	int fd = -1, rc;

	if ((rc = tj_ctl_connect(net->nodes[i].dir, &fd)) != 0)
		return rc;
	rc = tj_ctl_call(fd, req, len, reply, rlen);
	close(fd);
	return rc;
}

/* A reply's "ok" flag; the reply is a checked msgpack map. */
static bool net__ok(const uint8_t *reply, size_t len)
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t n, klen;
	bool ok = false;

	if (tj_mp_check(reply, len, &tj_mp_limits_default, true, NULL) != 0)
		return false;
	tj_mp_reader_init(&r, reply, len);
	if (tj_mp_read_map(&r, &n) != 0 || n == 0 || tj_mp_read_str(&r, &k, &klen) != 0 || klen != 2 ||
	    memcmp(k, "ok", 2) != 0 || tj_mp_read_bool(&r, &ok) != 0)
		return false;
	return ok;
}

static int net__simple(struct net *net, size_t i, const char *op)
{
	uint8_t req[64], *reply = NULL;
	struct tj_mp_writer w;
	size_t len = 0, rlen = 0;
	int rc;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = net__call(net, i, req, len, &reply, &rlen)) != 0)
		return rc;
	rc = net__ok(reply, rlen) ? 0 : -1;
	free(reply);
	return rc;
}

int net_start(struct net *net, size_t i)
{
	struct net_node *nd = &net->nodes[i];
	char listen[32], pass[160], logp[160];
	uint64_t until;
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)nd->port);
	snprintf(pass, sizeof(pass), "%s/pass", net->root);
	snprintf(logp, sizeof(logp), "%s/node.log", nd->dir);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
			close(fd);
		}
		setenv("TEJIDO_PASSPHRASE_FILE", pass, 1);
		execl(net->tejido, net->tejido, "--data", nd->dir, "node", "start", "--foreground", "--listen", listen,
		      (char *)NULL);
		_exit(127);
	}
	nd->pid = pid;
	for (until = net_now_ms() + 30000; net_now_ms() < until;) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			nd->pid = 0;
			fprintf(stderr, "node %zu exited at start (status %d)\n", i, st);
			return -1;
		}
		if (net__simple(net, i, "ping") == 0)
			return 0;
		net_sleep_ms(50);
	}
	net_kill(net, i);
	return -1;
}

/* Waits up to ms for the child; true when reaped (its wait status in *st). */
static bool net__reap(struct net_node *nd, unsigned ms, int *st)
{
	for (uint64_t until = net_now_ms() + ms; net_now_ms() < until; net_sleep_ms(20))
		if (waitpid(nd->pid, st, WNOHANG) == nd->pid) {
			nd->pid = 0;
			return true;
		}
	return false;
}

void net_kill(struct net *net, size_t i)
{
	struct net_node *nd = &net->nodes[i];
	int st;

	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGKILL);
	waitpid(nd->pid, &st, 0);
	nd->pid = 0;
}

void net_stop(struct net *net, size_t i)
{
	struct net_node *nd = &net->nodes[i];
	int st = 0;

	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGTERM);
	if (!net__reap(nd, 20000, &st)) {
		fprintf(stderr, "node %zu did not stop in 20 s; killed\n", i);
		net_kill(net, i);
		net->bad_exits++;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "node %zu exited with status %d on SIGTERM (see %s/node.log)\n", i, st, nd->dir);
		net->bad_exits++;
	}
}

/* ---- control --------------------------------------------------------------- */

int net_write_conf(struct net *net, size_t i, const char *text)
{
	char path[160];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/tejido.conf", net->nodes[i].dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	rc = fputs(text, f) < 0 ? -1 : 0;
	return fclose(f) == 0 ? rc : -1;
}

int net_peer_add(struct net *net, size_t i, size_t j)
{
	return net_peer_add_port(net, i, j, net->nodes[j].port);
}

int net_peer_add_port(struct net *net, size_t i, size_t j, uint16_t port)
{
	uint8_t req[256], *reply = NULL;
	char addr[32];
	struct tj_mp_writer w;
	size_t len = 0, rlen = 0;
	int rc;

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
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = net__call(net, i, req, len, &reply, &rlen)) != 0)
		return rc;
	rc = net__ok(reply, rlen) ? 0 : -1;
	free(reply);
	return rc;
}

static const char *const net__munis[] = {"20067", "20190", "12001", "12029", "07101", "08019", "09007", "30087"};
static const char *const net__acts[] = {"death_threat", "threat", "harassment", "surveillance", "raid",
					"physical_assault", "defamation", "criminalization"};

/* A valid summary body for seed k. */
static int net__summary(unsigned k, uint8_t *buf, size_t cap, size_t *len)
{
	char json[1024];
	const char *m = net__munis[k % 8];
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	int n, rc;

	n = snprintf(json, sizeof(json),
		     "{\"occurred\":{\"start\":\"2025-%02u-%02u\",\"precision\":\"day\"},"
		     "\"location\":{\"state\":\"%.2s\",\"municipality\":\"%s\",\"place_type\":\"home\"},"
		     "\"victims\":[{\"ref\":\"v-%u\",\"unit\":\"individual\",\"role\":\"defender\",\"gender\":\"woman\","
		     "\"age_band\":\"30_44\"}],"
		     "\"aggressors\":[{\"category\":\"state\",\"type\":\"municipal_police\",\"level\":\"municipal\","
		     "\"involvement\":\"direct\"}],"
		     "\"acts\":[{\"type\":\"%s\",\"victim\":0,\"aggressor\":0}],"
		     "\"protection\":{\"status\":\"none\"},"
		     "\"source\":{\"type\":\"victim_testimony\",\"reliability\":\"usually_reliable\"},"
		     "\"verification\":\"confirmed\"}",
		     k % 12 + 1, k % 28 + 1, m, m, k, net__acts[(k / 8) % 8]);
	if (n < 0 || (size_t)n >= sizeof(json))
		return -1;
	rc = tj_incident_from_json(json, (size_t)n, TJ_LANG_EN, tj_now_ms(), &s, &c, &verr);
	if (rc == 0)
		rc = tj_incident_summary_encode(s, buf, cap, len);
	if (rc != 0)
		fprintf(stderr, "incident %u: %s\n", k, verr.message);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return rc;
}

int net_add(struct net *net, size_t i, unsigned seed, unsigned count)
{
	size_t cap = 64 + (size_t)count * 700, len = 0, rlen = 0, slen = 0;
	uint8_t *req = malloc(cap), *reply = NULL, body[600];
	struct tj_mp_writer w;
	int rc = 0;

	if (req == NULL)
		return -1;
	tj_mp_writer_init(&w, req, cap);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add_batch");
	tj_mp_put_cstr(&w, "items");
	tj_mp_put_array(&w, count);
	for (unsigned k = 0; k < count && rc == 0; k++) {
		if ((rc = net__summary(seed + k, body, sizeof(body), &slen)) != 0)
			break;
		tj_mp_put_map(&w, 1);
		tj_mp_put_cstr(&w, "summary");
		tj_mp_put_bin(&w, body, slen);
	}
	if (rc == 0 && (rc = tj_mp_writer_finish(&w, &len)) == 0 && (rc = net__call(net, i, req, len, &reply, &rlen)) == 0)
		rc = net__ok(reply, rlen) ? 0 : -1;
	free(reply);
	free(req);
	return rc;
}

static int net__cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Parses one list reply: appends ids, sets *next. */
static int net__list_page(const uint8_t *reply, size_t len, uint8_t (*ids)[32], size_t cap, size_t *n,
			  bool *has_next, uint8_t next[32])
{
	static const struct tj_mp_limits lim = {.max_depth = 4, .max_items = 1u << 20, .max_str = 1u << 20};
	struct tj_mp_reader r;
	const char *k;
	uint32_t nk, klen, count, fields;

	*has_next = false;
	if (tj_mp_check(reply, len, &lim, true, NULL) != 0)
		return -1;
	tj_mp_reader_init(&r, reply, len);
	if (tj_mp_read_map(&r, &nk) != 0)
		return -1;
	for (uint32_t i = 0; i < nk; i++) {
		if (tj_mp_read_str(&r, &k, &klen) != 0)
			return -1;
		if (klen == 5 && memcmp(k, "items", 5) == 0) {
			if (tj_mp_read_array(&r, &count) != 0)
				return -1;
			for (uint32_t j = 0; j < count; j++) {
				if (tj_mp_read_map(&r, &fields) != 0)
					return -1;
				for (uint32_t f = 0; f < fields; f++) {
					if (tj_mp_read_str(&r, &k, &klen) != 0)
						return -1;
					if (klen == 2 && memcmp(k, "id", 2) == 0 && *n < cap) {
						if (tj_mp_read_bin_exact(&r, ids[(*n)++], 32) != 0)
							return -1;
					} else if (tj_mp_skip(&r) != 0) {
						return -1;
					}
				}
			}
		} else if (klen == 4 && memcmp(k, "next", 4) == 0 && !tj_mp_peek_nil(&r)) {
			if (tj_mp_read_bin_exact(&r, next, 32) != 0)
				return -1;
			*has_next = true;
		} else if (tj_mp_skip(&r) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A uint at key (then, when sub is not NULL, at key sub of that map) of node i's status. */
static int net__status_uint(struct net *net, size_t i, const char *key, const char *sub, uint64_t *out)
{
	uint8_t req[32], *reply = NULL;
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	const char *k;
	uint32_t nk, klen;
	size_t len = 0, rlen = 0;
	int rc;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = net__call(net, i, req, len, &reply, &rlen)) != 0)
		return rc;
	rc = -1;
	tj_mp_reader_init(&r, reply, rlen);
	if (tj_mp_check(reply, rlen, &tj_mp_limits_default, true, NULL) == 0 && tj_mp_read_map(&r, &nk) == 0) {
		for (uint32_t j = 0; j < nk;) {
			if (tj_mp_read_str(&r, &k, &klen) != 0)
				break;
			if (klen != strlen(key) || memcmp(k, key, klen) != 0) {
				if (tj_mp_skip(&r) != 0)
					break;
				j++;
			} else if (sub == NULL) {
				rc = tj_mp_read_uint(&r, out);
				break;
			} else {
				key = sub; /* into the inner map */
				sub = NULL;
				j = 0;
				if (tj_mp_read_map(&r, &nk) != 0)
					break;
			}
		}
	}
	free(reply);
	return rc;
}

static int net__records(struct net *net, size_t i, uint64_t *records)
{
	return net__status_uint(net, i, "records", NULL, records);
}

int net_connected(struct net *net, size_t i, uint64_t *n)
{
	return net__status_uint(net, i, "peers", "connected", n);
}

int net_ids(struct net *net, size_t i, uint8_t (*ids)[32], size_t cap, size_t *n, uint64_t *records)
{
	uint8_t req[96], next[32], *reply = NULL;
	struct tj_mp_writer w;
	bool has_next = false;
	size_t len = 0, rlen = 0;
	int rc = 0;

	*n = 0;
	for (unsigned page = 0; page < 1000; page++) {
		tj_mp_writer_init(&w, req, sizeof(req));
		tj_mp_put_map(&w, has_next ? 3 : 2);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "list");
		tj_mp_put_cstr(&w, "limit");
		tj_mp_put_uint(&w, 1000);
		if (has_next) {
			tj_mp_put_cstr(&w, "after");
			tj_mp_put_bin(&w, next, 32);
		}
		if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = net__call(net, i, req, len, &reply, &rlen)) != 0)
			return rc;
		rc = net__list_page(reply, rlen, ids, cap, n, &has_next, next);
		free(reply);
		reply = NULL;
		if (rc != 0 || !has_next)
			break;
	}
	qsort(ids, *n, 32, net__cmp_id);
	return rc != 0 ? rc : net__records(net, i, records);
}

int net_wait_converged(struct net *net, const size_t *which, size_t k, size_t want, unsigned timeout_ms)
{
	size_t cap = want + 16, n0 = 0, n = 0;
	uint8_t (*a)[32] = calloc(cap, 32), (*b)[32] = calloc(cap, 32);
	uint64_t r0 = 0, r = 0, until = net_now_ms() + timeout_ms;
	int rc = -1;

	while (a != NULL && b != NULL && rc != 0 && net_now_ms() < until) {
		bool same = net__records(net, which[0], &r0) == 0;
		/* Cheap first: equal record counts (status), then the ids themselves (list). */
		for (size_t j = 1; j < k && same; j++)
			same = net__records(net, which[j], &r) == 0 && r == r0;
		if (!same) {
			net_sleep_ms(100);
			continue;
		}
		same = net_ids(net, which[0], a, cap, &n0, &r0) == 0 && n0 == want;
		for (size_t j = 1; j < k && same; j++)
			same = net_ids(net, which[j], b, cap, &n, &r) == 0 && n == n0 && r == r0 &&
			       memcmp(a, b, n * 32) == 0;
		if (same)
			rc = 0;
		else
			net_sleep_ms(200);
	}
	if (rc != 0) {
		for (size_t j = 0; j < k; j++)
			if (net_ids(net, which[j], b, cap, &n, &r) == 0)
				fprintf(stderr, "node %zu: %zu incidents, %llu records (want %zu incidents)\n", which[j], n,
					(unsigned long long)r, want);
	}
	free(a);
	free(b);
	return rc;
}

unsigned net_log_count(const struct net *net, size_t i, const char *needle)
{
	char path[160], *buf;
	const char *p;
	unsigned count = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/node.log", net->nodes[i].dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	buf = malloc(8u << 20);
	if (buf != NULL) {
		n = fread(buf, 1, (8u << 20) - 1, f);
		buf[n] = '\0';
		for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
			count++;
	}
	free(buf);
	fclose(f);
	return count;
}

/* "2026-12-05T10:15:44.605Z ..." -> ms since the start of that day (tests do not run past midnight twice). */
static bool net__line_ms(const char *line, uint64_t *ms)
{
	unsigned h, m, s, milli;

	if (sscanf(line, "%*4d-%*2d-%*2dT%2u:%2u:%2u.%3uZ", &h, &m, &s, &milli) != 4)
		return false;
	*ms = ((uint64_t)h * 3600u + m * 60u + s) * 1000u + milli;
	return true;
}

uint64_t net_log_max_gap_ms(const struct net *net, size_t i, const char *needle, const char *also, unsigned *n)
{
	char path[160], line[512];
	uint64_t prev = 0, ms, gap = 0;
	FILE *f;

	*n = 0;
	snprintf(path, sizeof(path), "%s/node.log", net->nodes[i].dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((strstr(line, needle) == NULL && (also == NULL || strstr(line, also) == NULL)) ||
		    !net__line_ms(line, &ms))
			continue;
		if (*n > 0 && ms > prev && ms - prev > gap)
			gap = ms - prev;
		prev = ms;
		(*n)++;
	}
	fclose(f);
	return gap;
}

bool net_log_has(const struct net *net, size_t i, const char *needle)
{
	return net_log_count(net, i, needle) > 0;
}

bool net_wait_log(const struct net *net, size_t i, const char *needle, unsigned ms)
{
	for (uint64_t until = net_now_ms() + ms;; net_sleep_ms(50)) {
		if (net_log_has(net, i, needle))
			return true;
		if (net_now_ms() >= until)
			return false;
	}
}

int net_remove_member(struct net *net, size_t i, size_t j)
{
	struct tj_member_body b;
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	uint8_t pid[32];
	char path[160];
	int rc;

	snprintf(path, sizeof(path), "%s/key", net->nodes[i].dir);
	if ((rc = tj_keyfile_unlock(path, NET_PASS, strlen(NET_PASS), &u)) != 0 ||
	    (rc = tj_node_open(net->nodes[i].dir, 0, u, &n)) != 0) {
		fprintf(stderr, "net_remove_member: %s\n", tj_strerror(rc));
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_REMOVE;
	b.role = TJ_ROLE_MEMBER;
	memcpy(b.subject, net->nodes[j].pk, 32);
	snprintf(b.reason, sizeof(b.reason), "prueba");
	rc = tj_member_propose(n, &b, pid);
	if (rc != 0)
		fprintf(stderr, "net_remove_member: %s\n", tj_strerror(rc));
	tj_node_close(n);
	return rc == 0 ? 0 : -1;
}
