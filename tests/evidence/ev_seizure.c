/*
 * Seizure (issue 7, item 2). A node keyed with the default KDF (MODERATE)
 * stores incidents whose case faces carry a unique canary (a victim name, the
 * narrative, the exact place). Then:
 *
 *  (e) the running node is not dumpable (PR_SET_DUMPABLE 0: no core file,
 *      no ptrace or /proc/PID/mem by its user): its log says so and, when
 *      this test is not root, opening its /proc/PID/mem is refused;
 *  (c) while it runs, after an add, after a `show` and after a later add:
 *      its writable memory is read (/proc/PID/mem, all a core dump or a
 *      root attacker would see). No canary plaintext, no part of it and no
 *      passphrase may be there once the request is answered (asserted);
 *      keys are counted, not asserted: a running node needs them. As root
 *      the node read is the one users run; otherwise (a user cannot read a
 *      non-dumpable process) it is restarted with TJ_TEST_DUMPABLE=1, which
 *      changes nothing else;
 *  (a) stopped, without the passphrase: no file under the data directory
 *      holds the canary, any part of it, or any key (Ed25519 secret key and
 *      seed, X25519 secret key, storage key, network key, epoch key, index
 *      key; each obtained through the C API with the passphrase beforehand),
 *      nor the passphrase;
 *  (d) wrong passphrases: each costs at least 0.5 s of CPU time (asserted,
 *      see wrong_passphrases); a key file written with the previous default
 *      (libsodium's MODERATE, 3 passes) still opens;
 *  (b) after `tejido wipe --yes` of the running node: the same scan, the key
 *      file gone, and the right passphrase opens nothing any more.
 *
 * usage: ev_seizure PATH_TO_TEJIDO. Prints FIGURE lines.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ev_common.h"
#include "ev_memscan.h"
#include "tj_control.h"
#include "tj_keyfile.h"
#include "tj_mp.h"
#include "tj_node_core.h"

#define N_KEYS 7
/* make_needles' first five: plaintext and passphrase, none allowed in a running node once answered */
#define N_PLAIN 5
/* tests/evidence/data/key-moderate-3-passes was written by `tejido init --kdf moderate` before 4 passes */
#define OLD_KEY_PASS "clave de prueba: parametros de antes"

struct secrets {
	char canary[48];
	char frag_name[64], frag_place[64];
	uint8_t sk[64], x_sk[32], storage[32], network[32], epoch[32], blind[32];
	struct ev_needle needles[EV_MEMSCAN_NEEDLES_MAX];
	size_t n;
};

static void needle(struct secrets *s, const char *name, const void *bytes, size_t len)
{
	s->needles[s->n++] = (struct ev_needle){.name = name, .bytes = bytes, .len = len};
}

/* With the passphrase, through the C API: every key this node holds. */
static int grab_keys(const struct ev_node *nd, struct secrets *s)
{
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	const struct tj_sym_key *ep;
	char key[200];
	int rc;

	snprintf(key, sizeof(key), "%s/key", nd->dir);
	if ((rc = tj_keyfile_unlock(key, EV_PASS, strlen(EV_PASS), &u)) != 0)
		return rc;
	memcpy(s->sk, u->id->sk, 64);
	memcpy(s->x_sk, u->id->x_sk, 32);
	memcpy(s->storage, u->storage_key, 32);
	if ((rc = tj_node_open(nd->dir, 0, u, &n)) != 0)
		return rc;
	memcpy(s->network, n->keyring->network_key, 32);
	ep = tj_keyring_current_epoch(n->keyring);
	if (ep != NULL)
		memcpy(s->epoch, ep->key, 32);
	memcpy(s->blind, n->blind_key, 32);
	tj_node_close(n);
	return ep != NULL ? 0 : -1;
}

static void make_needles(struct secrets *s)
{
	uint8_t r[16];
	char hex[33];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(s->canary, sizeof(s->canary), "CANARIO%s", hex);
	/* The canary's pieces as ev_incident writes them, and a part of it alone. */
	snprintf(s->frag_name, sizeof(s->frag_name), "Persona %s", s->canary);
	snprintf(s->frag_place, sizeof(s->frag_place), "Calle %s", s->canary);
	needle(s, "canary", s->canary, strlen(s->canary));
	needle(s, "canary[7..23]", s->canary + 7, 16);
	needle(s, "victim name", s->frag_name, strlen(s->frag_name));
	needle(s, "exact place", s->frag_place, strlen(s->frag_place));
	needle(s, "passphrase", EV_PASS, strlen(EV_PASS));
}

static void key_needles(struct secrets *s)
{
	needle(s, "ed25519 seed", s->sk, 32);
	needle(s, "ed25519 sk", s->sk, 64);
	needle(s, "x25519 sk", s->x_sk, 32);
	needle(s, "storage key", s->storage, 32);
	needle(s, "network key", s->network, 32);
	needle(s, "epoch key", s->epoch, 32);
	needle(s, "index key", s->blind, 32);
}

/* Every needle, every file under dir: the number of needles found. */
static unsigned scan_disk(const char *dir, struct secrets *s, const char *phase)
{
	char hit[256];
	unsigned found = 0, files = 0;

	for (size_t i = 0; i < s->n; i++)
		if (ev_tree_has(dir, s->needles[i].bytes, s->needles[i].len, hit, sizeof(hit))) {
			fprintf(stderr, "%s: %s FOUND in %s\n", phase, s->needles[i].name, hit);
			found++;
		}
	(void)files;
	printf("FIGURE seizure-disk %s: %zu secrets searched in every file under the data directory, %u found\n",
	       phase, s->n, found);
	return found;
}

/*
 * The running node's memory once it is done with the requests before: 0 if
 * no plaintext or passphrase is there (keys are only counted). A request's
 * plaintext lives while the request is handled and until its reply is
 * written: the write callback wipes the reply, in the loop iteration after
 * the one that sent it, possibly after we read the reply. A ping answered
 * after it (read in a later iteration) marks the end of the request.
 */
static int scan_memory(const struct ev_node *nd, struct secrets *s, const char *phase)
{
	struct ev_memscan ms;
	char line[2048];
	size_t off = 0;
	unsigned plain = 0;

	if (ev_ctl_simple(nd, "ping") != 0 || ev_memscan(nd->pid, s->needles, s->n, 256ull << 20, &ms) != 0 ||
	    ms.bytes_read == 0) {
		printf("FIGURE seizure-memory %s: could not read the process memory\n", phase);
		return -1;
	}
	for (size_t i = 0; i < s->n && off < sizeof(line) - 100; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s %u%s%s%s", i ? ", " : "",
					s->needles[i].name, s->needles[i].hits, s->needles[i].hits ? " (" : "",
					s->needles[i].where, s->needles[i].hits ? ")" : "");
	for (size_t i = 0; i < N_PLAIN; i++)
		plain += s->needles[i].hits;
	printf("FIGURE seizure-memory %s: %.1f MiB of %llu writable regions read (%llu unreadable or over 256 MiB): "
	       "%s\n",
	       phase, (double)ms.bytes_read / 1048576.0, (unsigned long long)ms.regions,
	       (unsigned long long)ms.regions_skipped, line);
	return plain == 0 ? 0 : -1;
}

static bool log_has(const struct ev_node *nd, const char *text)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/node.log", nd->dir);
	return ev_tree_has(path, text, strlen(text), NULL, 0);
}

/*
 * (e) The node as users run it refuses core dumps and memory reads. A user
 * cannot read its memory then, so a test that is not root restarts it with
 * TJ_TEST_DUMPABLE=1 for the scans; root reads it as it is.
 */
static int start_for_scan(struct ev_node *nd, const char **how)
{
	char path[64];
	int fd, rc;

	EV_CHECK(ev_daemon_start(nd, 120000) == 0);
	EV_CHECK(log_has(nd, "not dumpable: no core file"));
	*how = "read as root from the node as users run it (not dumpable)";
	if (geteuid() == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)nd->pid);
	fd = open(path, O_RDONLY);
	rc = errno;
	if (fd >= 0)
		close(fd);
	EV_CHECK(fd < 0 && (rc == EACCES || rc == EPERM));
	EV_CHECK(ev_daemon_stop(nd, 30000) == 0);
	setenv("TJ_TEST_DUMPABLE", "1", 1);
	rc = ev_daemon_start(nd, 120000);
	unsetenv("TJ_TEST_DUMPABLE");
	EV_CHECK(rc == 0);
	*how = "read by its user from the node restarted with TJ_TEST_DUMPABLE=1";
	return 0;
}

static int show(const struct ev_node *nd, const uint8_t id[32])
{
	uint8_t req[96], *reply = NULL;
	struct tj_mp_writer w;
	size_t len = 0, rlen = 0;
	int rc;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "id");
	tj_mp_put_bin(&w, id, 32);
	if ((rc = tj_mp_writer_finish(&w, &len)) == 0 && (rc = ev_ctl(nd, req, len, &reply, &rlen)) == 0)
		rc = rlen > 0 && memmem(reply, rlen, "readable", 8) != NULL ? 0 : -1;
	free(reply);
	return rc;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * (d) Each wrong passphrase costs the full Argon2id work. Timed twice: wall
 * clock, which other processes inflate (a loaded machine would pass a weak
 * KDF), and this thread's CPU time, which counts only the work done for the
 * guess (Argon2id here is one thread). The assertion is on CPU time: every
 * attempt at least 0.5 s. Contention for caches and memory bandwidth still
 * lengthens CPU time (4 passes: 1.2-1.5 s of CPU under a load of 8-10 on
 * two cores), so on a loaded machine a pass is weaker evidence than on a
 * quiet one; the quiet figure to hold it against: 3 passes took 0.47 s at
 * the least, so 4 take about 0.63 s. The figure line gives both times and
 * docs/SECURITY.md the load.
 */
static int wrong_passphrases(const struct ev_node *nd)
{
	static const char *const wrong[] = {"evidence passphrase: cabo de vela azu", "Evidence passphrase: cabo de vela azul",
					    "correct horse battery staple"};
	struct tj_keyfile_info info;
	struct tj_unlocked *u = NULL;
	uint8_t buf[4096];
	char key[200];
	double wall[3], cpu[3], least = 1e9;
	size_t len;
	FILE *f;

	snprintf(key, sizeof(key), "%s/key", nd->dir);
	EV_CHECK((f = fopen(key, "rb")) != NULL);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	EV_CHECK(tj_keyfile_inspect(buf, len, &info) == 0);
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = ev_now_us();
		double c0 = cpu_now();
		int rc = tj_keyfile_unlock(key, wrong[i], strlen(wrong[i]), &u);
		cpu[i] = cpu_now() - c0;
		wall[i] = (double)(ev_now_us() - t0) / 1e6;
		least = cpu[i] < least ? cpu[i] : least;
		EV_CHECK(rc == TJ_EPASSPHRASE && u == NULL);
	}
	printf("FIGURE seizure-kdf: wrong passphrase (default: Argon2id, %llu MiB, %llu passes) costs %.2f s, %.2f s, "
	       "%.2f s of CPU (%.2f s, %.2f s, %.2f s wall): requirement (>= 0.5 s each) %s on this machine\n",
	       (unsigned long long)(info.max_memlimit >> 20), (unsigned long long)info.max_opslimit, cpu[0], cpu[1],
	       cpu[2], wall[0], wall[1], wall[2], least >= 0.5 ? "met" : "NOT MET");
	EV_CHECK(info.max_opslimit == TJ_KDF_MODERATE_OPSLIMIT && info.max_memlimit == TJ_KDF_MODERATE_MEMLIMIT);
	EV_CHECK(least >= 0.5);
	return 0;
}

/* (d) A key file written before the default rose to 4 passes opens with its own parameters. */
static int old_key_file_opens(void)
{
	struct tj_unlocked *u = NULL;
	int rc = tj_keyfile_unlock(EV_DATA "/key-moderate-3-passes", OLD_KEY_PASS, strlen(OLD_KEY_PASS), &u);

	tj_unlocked_free(u);
	EV_CHECK(rc == 0);
	printf("FIGURE seizure-kdf: a key file written with the previous default (256 MiB, 3 passes) opens\n");
	return 0;
}

static int run_cli(const struct ev_node *nd, const char *a, const char *b)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		execl(nd->tejido, nd->tejido, "--data", nd->dir, a, b, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(struct ev_node *nd, struct secrets *s)
{
	uint8_t ids[64][32];
	char key[200];
	struct stat st;
	size_t n = 0;

	const char *how = "";
	int mem[3];

	make_needles(s);
	EV_CHECK(grab_keys(nd, s) == 0);
	key_needles(s);
	EV_CHECK(start_for_scan(nd, &how) == 0);
	printf("FIGURE seizure-memory: the running node's memory %s\n", how);
	EV_CHECK(ev_add_batch(nd, 1, 8, s->canary, ids, &n) == 0 && n == 16);
	mem[0] = scan_memory(nd, s, "running, after add");
	/* show decrypts the case face: names, narrative and place. */
	EV_CHECK(show(nd, ids[0]) == 0);
	EV_CHECK(show(nd, ids[2]) == 0);
	mem[1] = scan_memory(nd, s, "running, after show");
	/* Does the plaintext linger once other requests came through? */
	EV_CHECK(ev_add_batch(nd, 100, 8, "sin canario", ids + 16, &n) == 0);
	mem[2] = scan_memory(nd, s, "running, after a later add without the canary");
	EV_CHECK(ev_daemon_stop(nd, 30000) == 0);
	EV_CHECK(mem[0] == 0 && mem[1] == 0 && mem[2] == 0);

	EV_CHECK(scan_disk(nd->dir, s, "stopped") == 0);
	EV_CHECK(wrong_passphrases(nd) == 0);
	EV_CHECK(old_key_file_opens() == 0);

	EV_CHECK(ev_daemon_start(nd, 120000) == 0);
	EV_CHECK(show(nd, ids[0]) == 0);
	EV_CHECK(run_cli(nd, "wipe", "--yes") == 0);
	for (int i = 0; i < 500 && nd->pid > 0; i++) {
		int wst;
		if (waitpid(nd->pid, &wst, WNOHANG) == nd->pid)
			nd->pid = 0;
		else
			ev_sleep_ms(20);
	}
	EV_CHECK(nd->pid == 0); /* the node stopped by itself */
	snprintf(key, sizeof(key), "%s/key", nd->dir);
	EV_CHECK(stat(key, &st) != 0);
	EV_CHECK(scan_disk(nd->dir, s, "after wipe") == 0);
	EV_CHECK(run_cli(nd, "node", "start") == 7); /* refused: the keys were wiped */
	return 0;
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
	struct secrets *s = NULL;
	struct ev_node nd;
	char root[128], dir[192];
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_TEJIDO\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (sodium_init() < 0 || ev_mkdtemp(root, sizeof(root), "seize") != 0)
		return 1;
	snprintf(dir, sizeof(dir), "%s/node", root);
	daemon_pid = &nd.pid;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	s = sodium_malloc(sizeof(*s));
	if (s != NULL && ev_node_create(&nd, argv[1], dir, TJ_KDF_MODERATE) == 0) {
		memset(s, 0, sizeof(*s));
		rc = run(&nd, s);
	}
	ev_daemon_kill(&nd);
	sodium_free(s);
	if (rc == 0 || getenv("EV_KEEP") == NULL)
		ev_rmtree(root);
	else
		fprintf(stderr, "kept %s\n", root);
	fprintf(stderr, "ev_seizure: %s\n", rc == 0 ? "ok" : "FAILED");
	return rc;
}
