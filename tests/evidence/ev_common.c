/* Shared helpers of the evidence tests: see ev_common.h. */
#include "ev_common.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_control.h"
#include "tj_incident.h"
#include "tj_ingest.h"
#include "tj_keys.h"
#include "tj_mp.h"
#include "tj_node.h"

uint64_t ev_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ev_now_ms(void)
{
	return ev_now_us() / 1000u;
}

void ev_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

unsigned ev_scale(void)
{
	const char *s = getenv("TJ_EVIDENCE_SCALE");
	long v = s != NULL ? strtol(s, NULL, 10) : 1;

	return v < 1 ? 1u : v > 1000 ? 1000u : (unsigned)v;
}

int ev_mkdtemp(char *out, size_t cap, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(out, cap, "%s/tj-ev-%s-XXXXXX", tmp, tag) >= cap)
		return -ENAMETOOLONG;
	return mkdtemp(out) != NULL ? 0 : -errno;
}

static int ev__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ev_rmtree(const char *path)
{
	if (path != NULL && path[0] != '\0')
		nftw(path, ev__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t ev_rss_kib(pid_t pid)
{
	char path[64], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* ---- node ------------------------------------------------------------------ */

int ev_node_create(struct ev_node *nd, const char *tejido, const char *dir, enum tj_kdf_level kdf)
{
	struct tj_init_opts opts = {.network_name = "Red de evidencia"};
	struct tj_identity *id = NULL;
	struct tj_unlocked *u = NULL;
	char key[192];
	FILE *f;
	int rc;

	memset(nd, 0, sizeof(*nd));
	nd->tejido = tejido;
	if ((size_t)snprintf(nd->dir, sizeof(nd->dir), "%s", dir) >= sizeof(nd->dir) ||
	    (size_t)snprintf(nd->passfile, sizeof(nd->passfile), "%s.pass", dir) >= sizeof(nd->passfile))
		return -ENAMETOOLONG;
	if ((f = fopen(nd->passfile, "w")) == NULL)
		return -errno;
	(void)fchmod(fileno(f), 0600);
	fprintf(f, "%s\n", EV_PASS);
	fclose(f);
	if (mkdir(dir, 0700) != 0)
		return -errno;
	snprintf(key, sizeof(key), "%s/key", dir);
	if ((rc = tj_identity_generate(&id)) != 0 ||
	    (rc = tj_keyfile_create(key, id, "ana", EV_PASS, strlen(EV_PASS), kdf)) != 0 ||
	    (rc = tj_keyfile_unlock(key, EV_PASS, strlen(EV_PASS), &u)) != 0)
		goto out;
	memcpy(nd->pk, id->pk, 32);
	rc = tj_node_init(dir, u, &opts);
out:
	tj_unlocked_free(u);
	tj_identity_free(id);
	return rc;
}

int ev_daemon_spawn(struct ev_node *nd)
{
	char logp[192];
	pid_t pid;

	snprintf(logp, sizeof(logp), "%s/node.log", nd->dir);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setenv("TEJIDO_PASSPHRASE_FILE", nd->passfile, 1);
		/*
		 * No peer listener: these nodes have no peers, and the default
		 * (0.0.0.0:7654) may be taken by another node on this machine
		 * (ctest sets TEJIDO_LISTEN_DEFAULT=off; a run by hand does not).
		 * No leak report from a daemon we SIGKILL anyway; a clean stop is
		 * checked by its status.
		 */
		execl(nd->tejido, nd->tejido, "--data", nd->dir, "node", "start", "--foreground", "--listen", "off",
		      (char *)NULL);
		_exit(127);
	}
	nd->pid = pid;
	return 0;
}

int ev_daemon_wait_ready(struct ev_node *nd, unsigned timeout_ms)
{
	for (uint64_t until = ev_now_ms() + timeout_ms; ev_now_ms() < until;) {
		int st;
		if (waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
			fprintf(stderr, "daemon %s exited at start (status 0x%x)\n", nd->dir, st);
			nd->pid = 0;
			return -1;
		}
		if (ev_ctl_simple(nd, "ping") == 0)
			return 0;
		ev_sleep_ms(10);
	}
	return -1;
}

int ev_daemon_start(struct ev_node *nd, unsigned timeout_ms)
{
	if (ev_daemon_spawn(nd) != 0)
		return -1;
	if (ev_daemon_wait_ready(nd, timeout_ms) != 0) {
		ev_daemon_kill(nd);
		return -1;
	}
	return 0;
}

void ev_daemon_kill(struct ev_node *nd)
{
	int st;

	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGKILL);
	while (waitpid(nd->pid, &st, 0) < 0 && errno == EINTR)
		;
	nd->pid = 0;
}

int ev_daemon_stop(struct ev_node *nd, unsigned timeout_ms)
{
	int st = 0;

	if (nd->pid <= 0)
		return -1;
	kill(nd->pid, SIGTERM);
	for (uint64_t until = ev_now_ms() + timeout_ms; ev_now_ms() < until; ev_sleep_ms(20))
		if (waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
			nd->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	fprintf(stderr, "daemon %s did not stop in %u ms; killed\n", nd->dir, timeout_ms);
	ev_daemon_kill(nd);
	return -1;
}

/* ---- control --------------------------------------------------------------- */

int ev_ctl(const struct ev_node *nd, const uint8_t *req, size_t len, uint8_t **reply, size_t *rlen)
{
	int fd = -1, rc;

	if ((rc = tj_ctl_connect(nd->dir, &fd)) != 0)
		return rc;
	rc = tj_ctl_call(fd, req, len, reply, rlen);
	close(fd);
	return rc;
}

/* Positions r after the "ok" key's value; false unless ok is true. */
static bool ev__ok(struct tj_mp_reader *r, const uint8_t *reply, size_t len, uint32_t *n_keys)
{
	static const struct tj_mp_limits lim = {.max_depth = 6, .max_items = 1u << 20, .max_str = 1u << 22};
	const char *k;
	uint32_t klen;
	bool ok = false;

	if (tj_mp_check(reply, len, &lim, true, NULL) != 0)
		return false;
	tj_mp_reader_init(r, reply, len);
	if (tj_mp_read_map(r, n_keys) != 0 || *n_keys == 0 || tj_mp_read_str(r, &k, &klen) != 0 || klen != 2 ||
	    memcmp(k, "ok", 2) != 0 || tj_mp_read_bool(r, &ok) != 0)
		return false;
	(*n_keys)--;
	return ok;
}

int ev_ctl_simple(const struct ev_node *nd, const char *op)
{
	uint8_t req[64], *reply = NULL;
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	size_t len = 0, rlen = 0;
	uint32_t nk;
	int rc;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = ev_ctl(nd, req, len, &reply, &rlen)) != 0)
		return rc;
	rc = ev__ok(&r, reply, rlen, &nk) ? 0 : -1;
	free(reply);
	return rc;
}

static const char *const ev__munis[] = {"20067", "20190", "12001", "12029", "07101", "08019", "09007", "30087"};
static const char *const ev__acts[] = {"death_threat", "threat", "harassment", "surveillance", "raid",
				       "physical_assault", "defamation", "criminalization"};

int ev_incident(unsigned k, const char *canary, bool with_case, uint8_t *sum, size_t sum_cap, size_t *sum_len,
		uint8_t *cas, size_t cas_cap, size_t *case_len)
{
	static const uint8_t zero_id[32];
	char json[2048], casej[768];
	const char *m = ev__munis[k % 8];
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	int n, rc;

	casej[0] = '\0';
	if (with_case)
		snprintf(casej, sizeof(casej),
			 ",\"case\":{\"victim_names\":[\"Persona %s %u\"],\"narrative\":\"Relato %u: %s\","
			 "\"exact_place\":\"Calle %s 12\",\"consent\":[\"network_statistics\"]}",
			 canary != NULL ? canary : "Inventada", k, k, canary != NULL ? canary : "sin canario",
			 canary != NULL ? canary : "Falsa");
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
		     "\"verification\":\"confirmed\"%s}",
		     k % 12 + 1, k % 28 + 1, m, m, k, ev__acts[(k / 8) % 8], casej);
	if (n < 0 || (size_t)n >= sizeof(json))
		return -ENOSPC;
	*case_len = 0;
	rc = tj_incident_from_json(json, (size_t)n, TJ_LANG_EN, tj_now_ms(), &s, &c, &verr);
	if (rc == 0)
		rc = tj_incident_summary_encode(s, sum, sum_cap, sum_len);
	if (rc == 0 && with_case && c != NULL)
		rc = tj_incident_case_encode(c, zero_id, cas, cas_cap, case_len);
	if (rc != 0)
		fprintf(stderr, "incident %u: %s (%s)\n", k, tj_strerror(rc), verr.message);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	sodium_memzero(json, sizeof(json));
	sodium_memzero(casej, sizeof(casej));
	return rc;
}

/* Reads {results: [{id, case_id, ...} | {err, msg}]} into ids. */
static int ev__batch_results(struct tj_mp_reader *r, uint32_t nk, uint8_t (*ids)[32], size_t cap, size_t *n_ids)
{
	const char *k;
	uint32_t klen, count, fields;

	for (uint32_t i = 0; i < nk; i++) {
		if (tj_mp_read_str(r, &k, &klen) != 0)
			return -1;
		if (!(klen == 7 && memcmp(k, "results", 7) == 0)) {
			if (tj_mp_skip(r) != 0)
				return -1;
			continue;
		}
		if (tj_mp_read_array(r, &count) != 0)
			return -1;
		for (uint32_t j = 0; j < count; j++) {
			if (tj_mp_read_map(r, &fields) != 0)
				return -1;
			for (uint32_t f = 0; f < fields; f++) {
				if (tj_mp_read_str(r, &k, &klen) != 0)
					return -1;
				bool want = (klen == 2 && memcmp(k, "id", 2) == 0) ||
					    (klen == 7 && memcmp(k, "case_id", 7) == 0 && !tj_mp_peek_nil(r));
				if (want && *n_ids < cap) {
					if (tj_mp_read_bin_exact(r, ids[(*n_ids)++], 32) != 0)
						return -1;
				} else if (klen == 3 && memcmp(k, "err", 3) == 0) {
					int64_t e = 0;
					if (tj_mp_read_int(r, &e) == 0)
						fprintf(stderr, "add_batch: item %u refused: %s\n", j, tj_errname((int)e));
					return -1; /* every item is valid: an error is a failure */
				} else if (tj_mp_skip(r) != 0) {
					return -1;
				}
			}
		}
	}
	return 0;
}

int ev_add_batch(const struct ev_node *nd, unsigned seed, unsigned count, const char *canary, uint8_t (*ids)[32],
		 size_t *n_ids)
{
	size_t cap = 64 + (size_t)count * 1600, len = 0, rlen = 0, slen = 0, clen = 0;
	uint8_t *req = malloc(cap), *reply = NULL, body[700], cbody[900];
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	uint32_t nk;
	int rc = 0;

	*n_ids = 0;
	if (req == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, req, cap);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add_batch");
	tj_mp_put_cstr(&w, "items");
	tj_mp_put_array(&w, count);
	for (unsigned k = 0; k < count && rc == 0; k++) {
		bool with_case = canary != NULL;
		if ((rc = ev_incident(seed + k, canary, with_case, body, sizeof(body), &slen, cbody, sizeof(cbody),
				      &clen)) != 0)
			break;
		tj_mp_put_map(&w, with_case ? 2 : 1);
		tj_mp_put_cstr(&w, "summary");
		tj_mp_put_bin(&w, body, slen);
		if (with_case) {
			tj_mp_put_cstr(&w, "case");
			tj_mp_put_bin(&w, cbody, clen);
		}
	}
	if (rc == 0 && (rc = tj_mp_writer_finish(&w, &len)) == 0 && (rc = ev_ctl(nd, req, len, &reply, &rlen)) == 0) {
		if (!ev__ok(&r, reply, rlen, &nk) || ev__batch_results(&r, nk, ids, 2 * (size_t)count, n_ids) != 0) {
			*n_ids = 0;
			rc = -1;
		}
	}
	sodium_memzero(cbody, sizeof(cbody));
	sodium_memzero(req, cap);
	free(reply);
	free(req);
	return rc;
}

/* ---- scanning -------------------------------------------------------------- */

static const void *ev__needle;
static size_t ev__needle_len;
static char *ev__hit;
static size_t ev__hit_cap;
static bool ev__found;

static bool ev__file_has(const char *path, const void *needle, size_t len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	struct stat st;
	bool found = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			found = memmem(p, (size_t)st.st_size, needle, len) != NULL;
			munmap(p, (size_t)st.st_size);
		}
	}
	close(fd);
	return found;
}

static int ev__scan_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F && ev__file_has(path, ev__needle, ev__needle_len)) {
		ev__found = true;
		if (ev__hit != NULL)
			snprintf(ev__hit, ev__hit_cap, "%s", path);
		return 1;
	}
	return 0;
}

bool ev_tree_has(const char *path, const void *needle, size_t len, char *hit, size_t hit_cap)
{
	ev__needle = needle;
	ev__needle_len = len;
	ev__hit = hit;
	ev__hit_cap = hit_cap;
	ev__found = false;
	nftw(path, ev__scan_one, 16, FTW_PHYS);
	return ev__found;
}
