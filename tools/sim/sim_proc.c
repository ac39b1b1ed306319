/* Data directories, the `tejido` CLI, the daemons and their memory: see sim.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define SIM_CLI_TIMEOUT_MS 60000u
#define SIM_STOP_TIMEOUT_MS 15000u

volatile sig_atomic_t sim_stop_flag;

uint64_t sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sim_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sim_sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !sim_stop_flag)
		;
}

void sim_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !sim_stop_flag)
		;
}

/*
 * A free TCP port on 127.0.0.1 for a daemon, below the ephemeral range (32768+ on
 * Linux): a port from bind(0) is released before the daemon binds it, and in the
 * meantime an outgoing connection or a proxy listener may take it.
 */
static uint16_t sim__free_port(const struct sim *s, size_t upto)
{
	for (unsigned tries = 0; tries < 1000; tries++) {
		uint16_t port = (uint16_t)(20000 + (unsigned)(rand() % 12000));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                         .sin_port = htons(port)};
		bool used = false;
		int fd;

		for (size_t i = 0; i < upto; i++)
			used = used || s->nodes[i].port == port;
		if (used || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			continue;
		used = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
		close(fd);
		if (!used)
			return port;
	}
	return 0;
}

int sim_prepare(struct sim *s, const char *tejido, size_t n)
{
	char path[128];
	FILE *f;
	int fd;

	memset(s, 0, sizeof(*s));
	srand((unsigned)getpid() ^ (unsigned)sim_now_ms());
	s->tejido = tejido;
	s->n = n;
	snprintf(s->root, sizeof(s->root), "/tmp/tjsim-XXXXXX");
	if (mkdtemp(s->root) == NULL) {
		s->root[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/pass", s->root);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", SIM_PASS);
	if (fclose(f) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct sim_node *nd = &s->nodes[i];
		snprintf(nd->dir, sizeof(nd->dir), "%s/n%zu", s->root, i);
		nd->proxy_fd = -1;
		if ((nd->port = sim__free_port(s, i)) == 0)
			return -1;
	}
	return 0;
}

/* The child side of every fork: output to log, the passphrase file, dies with us. */
static void sim__child_setup(const struct sim *s, const char *log)
{
	char pass[128];
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600), in = open("/dev/null", O_RDONLY);

	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (in >= 0) {
		dup2(in, 0);
		close(in);
	}
	snprintf(pass, sizeof(pass), "%s/pass", s->root);
	setenv("TEJIDO_PASSPHRASE_FILE", pass, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Runs the CLI with argv (argv[0] unused) to completion, bounded; its exit code or -1. */
static int sim__cli(const struct sim *s, char *const argv[])
{
	char log[128];
	int st = 0;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/cli.log", s->root);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		sim__child_setup(s, log);
		execv(s->tejido, argv);
		_exit(127);
	}
	for (uint64_t until = sim_now_ms() + SIM_CLI_TIMEOUT_MS; sim_now_ms() < until && !sim_stop_flag;
	     sim_sleep_ms(10))
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fprintf(stderr, "sim: `tejido %s` did not finish in time; killed\n", argv[3]);
	return -1;
}

static int sim__unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* `tejido init` (the founder names the network; the others are identities only), then id.pub. */
static int sim__init(struct sim *s, size_t i)
{
	struct sim_node *nd = &s->nodes[i];
	char *founder[] = {"tejido",   "--data", nd->dir,  "init",         "--kdf", "interactive",
	                   "--person", "sim",    "--name", "Red simulada", NULL};
	char *joiner[] = {"tejido",      "--data",   nd->dir, "init",         "--kdf",
	                  "interactive", "--person", "sim",   "--no-network", NULL};
	char path[128];
	FILE *f;
	int ok;

	if (sim__cli(s, i == 0 ? founder : joiner) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/id.pub", nd->dir);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	ok = fscanf(f, "%64s", nd->pk_hex) == 1 && strlen(nd->pk_hex) == 64;
	fclose(f);
	return ok ? sim__unhex(nd->pk_hex, nd->pk, 32) : -1;
}

/* The founder (running, no listener: its bundles then carry no address) admits node i; i joins. */
static int sim__admit(struct sim *s, size_t i)
{
	char bundle[128], name[48];
	char *add[] = {"tejido", "--data", s->nodes[0].dir, "member", "add", s->nodes[i].pk_hex,
	               "--name", name,     "--out",         bundle,   NULL};

	snprintf(bundle, sizeof(bundle), "%s/welcome%zu.tjw", s->root, i);
	snprintf(name, sizeof(name), "Organizacion %zu", i);
	return sim__cli(s, add) == 0 ? 0 : -1;
}

static int sim__join(struct sim *s, size_t i)
{
	char bundle[128];
	char *join[] = {"tejido", "--data", s->nodes[i].dir, "network", "join", bundle, NULL};

	snprintf(bundle, sizeof(bundle), "%s/welcome%zu.tjw", s->root, i);
	return sim__cli(s, join) == 0 ? 0 : -1;
}

int sim_make_network(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (sim__init(s, i) != 0) {
			fprintf(stderr, "sim: init of node %zu failed (see %s/cli.log)\n", i, s->root);
			return -1;
		}
	if (s->n < 2)
		return 0;
	if (sim_spawn(s, 0, false) != 0 || sim_wait_up(s, 0, 60000) != 0)
		return -1;
	for (size_t i = 1; i < s->n; i++)
		if (sim__admit(s, i) != 0) {
			fprintf(stderr, "sim: member add of node %zu failed (see %s/cli.log)\n", i, s->root);
			return -1;
		}
	sim_stop(s, 0);
	for (size_t i = 1; i < s->n; i++)
		if (sim__join(s, i) != 0) {
			fprintf(stderr, "sim: network join of node %zu failed (see %s/cli.log)\n", i,
			        s->root);
			return -1;
		}
	return 0;
}

int sim_spawn(struct sim *s, size_t i, bool listen)
{
	struct sim_node *nd = &s->nodes[i];
	char addr[32], log[128];
	pid_t pid;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)nd->port);
	snprintf(log, sizeof(log), "%s/node.log", nd->dir);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		sim__child_setup(s, log);
		if (listen)
			execl(s->tejido, "tejido", "--data", nd->dir, "node", "start", "--foreground",
			      "--listen", addr, (char *)NULL);
		else
			execl(s->tejido, "tejido", "--data", nd->dir, "node", "start", "--foreground",
			      (char *)NULL);
		_exit(127);
	}
	nd->pid = pid;
	nd->state = SIM_STARTING;
	nd->started_ms = sim_now_ms();
	return 0;
}

/* Reaps node i if it exited; true when it did. */
static bool sim__reaped(struct sim_node *nd)
{
	int st;

	if (nd->pid <= 0 || waitpid(nd->pid, &st, WNOHANG) != nd->pid)
		return false;
	fprintf(stderr, "sim: node %s exited by itself (status %d); see its node.log\n", nd->dir, st);
	nd->pid = 0;
	nd->state = SIM_DOWN;
	return true;
}

size_t sim_poll_starting(struct sim *s)
{
	size_t up = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		if (sim__reaped(nd))
			continue;
		if (nd->state == SIM_STARTING && sim_ctl_ping(nd) == 0)
			nd->state = SIM_UP;
		up += nd->state == SIM_UP;
	}
	return up;
}

int sim_wait_up(struct sim *s, size_t i, unsigned timeout_ms)
{
	for (uint64_t until = sim_now_ms() + timeout_ms; sim_now_ms() < until && !sim_stop_flag;
	     sim_sleep_ms(20)) {
		(void)sim_poll_starting(s);
		if (s->nodes[i].state == SIM_UP)
			return 0;
		if (s->nodes[i].state == SIM_DOWN)
			return -1;
	}
	return -1;
}

/* Waits up to ms for the child to exit; true when reaped. */
static bool sim__reap(struct sim_node *nd, unsigned ms)
{
	int st;

	for (uint64_t until = sim_now_ms() + ms; sim_now_ms() < until; sim_sleep_ms(10))
		if (waitpid(nd->pid, &st, WNOHANG) == nd->pid)
			return true;
	return false;
}

void sim_kill(struct sim *s, size_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (nd->pid <= 0)
		return;
	sim_sample_mem(s, true);
	kill(nd->pid, SIGKILL);
	if (!sim__reap(nd, 10000))
		fprintf(stderr, "sim: node %zu not reaped 10 s after SIGKILL\n", i);
	nd->pid = 0;
	nd->state = SIM_DOWN;
}

void sim_stop(struct sim *s, size_t i)
{
	struct sim_node *nd = &s->nodes[i];

	if (nd->pid <= 0)
		return;
	sim_sample_mem(s, true);
	kill(nd->pid, SIGTERM);
	if (sim__reap(nd, SIM_STOP_TIMEOUT_MS)) {
		nd->pid = 0;
		nd->state = SIM_DOWN;
		return;
	}
	fprintf(stderr, "sim: node %zu did not stop within %u ms; killed\n", i, SIM_STOP_TIMEOUT_MS);
	sim_kill(s, i);
}

static int sim__rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void sim_cleanup(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].pid > 0)
			kill(s->nodes[i].pid, SIGTERM);
	for (size_t i = 0; i < s->n; i++)
		sim_stop(s, i);
	if (s->root[0] == '\0')
		return;
	if (getenv("SIM_KEEP") != NULL)
		fprintf(stderr, "sim: kept %s (SIM_KEEP)\n", s->root);
	else
		(void)nftw(s->root, sim__rm, 16, FTW_DEPTH | FTW_PHYS);
	s->root[0] = '\0';
}

/* VmRSS and VmHWM of pid in KiB; 0 or -1. */
static int sim__mem_of(pid_t pid, uint64_t *rss, uint64_t *hwm)
{
	char path[64], line[256];
	unsigned long long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	*rss = *hwm = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			*rss = v;
		else if (sscanf(line, "VmHWM: %llu kB", &v) == 1)
			*hwm = v;
	}
	fclose(f);
	return 0;
}

int sim_node_mem(const struct sim *s, size_t i, uint64_t *rss_kib, uint64_t *hwm_kib)
{
	*rss_kib = *hwm_kib = 0;
	if (s->nodes[i].state != SIM_UP || s->nodes[i].pid <= 0)
		return 0;
	return sim__mem_of(s->nodes[i].pid, rss_kib, hwm_kib);
}

void sim_service(struct sim *s)
{
	uint64_t now = sim_now_ms();

	for (size_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		if (nd->state == SIM_DOWN && nd->restart_at_ms != 0 && now >= nd->restart_at_ms) {
			nd->restart_at_ms = 0;
			nd->restarts++;
			if (sim_spawn(s, i, true) != 0)
				fprintf(stderr, "sim: cannot restart node %zu\n", i);
		}
	}
	(void)sim_poll_starting(s);
	sim_sample_mem(s, false);
}

void sim_sample_mem(struct sim *s, bool force)
{
	uint64_t now = sim_now_ms(), rss, hwm;

	if (!force && now - s->last_mem_ms < 200)
		return;
	s->last_mem_ms = now;
	s->mem.samples++;
	for (size_t i = 0; i < s->n; i++) {
		if (s->nodes[i].state != SIM_UP || sim__mem_of(s->nodes[i].pid, &rss, &hwm) != 0)
			continue;
		if (rss > s->mem.max_rss_kib)
			s->mem.max_rss_kib = rss;
		if (hwm > s->mem.max_hwm_kib)
			s->mem.max_hwm_kib = hwm;
	}
}
