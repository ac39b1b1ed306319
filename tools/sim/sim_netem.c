/*
 * --netem D: a kernel delay on the loopback device for the whole run,
 * `tc qdisc add dev lo root netem delay Dms` (root and the sch_netem module),
 * and `tc qdisc del dev lo root` on every way out: the normal end, a failure,
 * SIGINT/SIGTERM (the run unwinds to the cleanup), and fatal signals (the
 * handler below). Only SIGKILL of sim leaves it behind; `tc qdisc del dev lo
 * root` removes it by hand.
 *
 * WARNING: it delays ALL loopback traffic of the machine while it runs, not
 * only the simulated nodes'. `tc qdisc add` fails when lo already has a root
 * qdisc of someone else's (it is never replaced, nor removed by sim).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define SIM_TC_TIMEOUT_MS 10000u

static volatile sig_atomic_t g_netem_on;
static const char *const sim__tc_paths[] = {"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc", "/bin/tc"};

/* Runs tc with argv; its stderr into err (NUL-terminated) when err != NULL; exit status or -1. */
static int sim__tc(char *const argv[], char *err, size_t cap)
{
	int pfd[2] = {-1, -1}, st = 0;
	size_t got = 0;
	pid_t pid;

	if (err != NULL && pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(err != NULL ? pfd[1] : null, 2);
		for (size_t i = 0; i < sizeof(sim__tc_paths) / sizeof(sim__tc_paths[0]); i++)
			execv(sim__tc_paths[i], argv);
		_exit(127);
	}
	if (err != NULL) {
		ssize_t r;
		close(pfd[1]);
		while (got + 1 < cap && (r = read(pfd[0], err + got, cap - 1 - got)) > 0)
			got += (size_t)r;
		err[got] = '\0';
		close(pfd[0]);
	}
	/* Bounded: tc either answers at once or is killed. */
	for (unsigned ms = 0; ms < SIM_TC_TIMEOUT_MS; ms += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

int sim_netem_add(unsigned delay_ms)
{
	char delay[32], err[512];
	char *argv[] = {"tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", delay, NULL};
	int rc;

	snprintf(delay, sizeof(delay), "%ums", delay_ms);
	rc = sim__tc(argv, err, sizeof(err));
	if (rc == 0) {
		g_netem_on = 1;
		return 0;
	}
	err[strcspn(err, "\n")] = '\0';
	if (rc == 127)
		fprintf(stderr,
		        "sim: --netem: no tc program (iproute2) in /usr/sbin, /sbin, /usr/bin, /bin\n");
	else
		fprintf(stderr,
		        "sim: --netem: `tc qdisc add dev lo root netem delay %s` failed (status %d): %s\n",
		        delay, rc, err[0] != '\0' ? err : "(tc said nothing)");
	fprintf(stderr,
	        "sim: --netem needs root and the kernel's sch_netem module (modprobe sch_netem), and lo\n"
	        "sim: without a root qdisc of its own. --delay-ms %u delays every node-to-node\n"
	        "sim: connection in sim's own proxy instead (no root needed)\n",
	        delay_ms);
	return -1;
}

void sim_netem_del(void)
{
	char *argv[] = {"tc", "qdisc", "del", "dev", "lo", "root", NULL};

	if (!g_netem_on)
		return;
	g_netem_on = 0;
	(void)sim__tc(argv, NULL, 0);
}

static void sim__on_fatal(int sig)
{
	sim_netem_del();
	signal(sig, SIG_DFL);
	raise(sig);
}

void sim_netem_guard_fatal(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	struct sigaction sa = {.sa_handler = sim__on_fatal};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}
