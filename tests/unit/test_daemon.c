/*
 * The daemon in a forked child, over its Unix control socket: readiness,
 * socket mode 0600, requests through the blocking client, garbage that must
 * get an error reply or a closed connection (truncated frames, a count bomb,
 * a 4 GiB length prefix, 10,000 nested arrays, zero length, random bytes)
 * while a second client is still served, memory that does not grow over
 * 1,000 garbage connections, pipelined requests, clean shutdown on "stop"
 * and on SIGTERM (exit 0), a stale socket after kill -9 and no acknowledged
 * record lost, a second daemon refused while one runs, and a client stuck
 * half-way through a frame dropped after the frame timeout.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "tj_control.h"
#include "tj_mp.h"
#include "tj_node.h"
#include "tj_node_testutil.h"

#define WAIT_STEP_US 10000
#define GARBAGE_CONNECTIONS 1000
#define RSS_GROWTH_MAX_KB (6 * 1024)

/* Under ASan, freed memory sits in a quarantine and would look like growth. */
__attribute__((used)) const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "quarantine_size_mb=1";
}

struct fx {
	char dir[64];
	pid_t pid;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tj_unlocked *u;

	assert_non_null(f);
	tt_tmpdir(f->dir);
	u = tt_unlocked(f->dir);
	assert_int_equal(tj_node_init(f->dir, u, NULL), 0);
	tj_unlocked_free(u);
	*state = f;
	return 0;
}

/* Waits (bounded) for pid to exit; returns its exit status, or -1 on timeout or a signal. */
static int wait_exit(pid_t pid, int timeout_s)
{
	int status = 0;

	for (int i = 0; i < timeout_s * (1000000 / WAIT_STEP_US); i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(WAIT_STEP_US);
	}
	return -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		(void)wait_exit(f->pid, 10);
	}
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

/* Forks a daemon; returns once it said it listens (-1, child reaped, if it never did). */
static pid_t start_daemon(const char *dir)
{
	struct pollfd pfd;
	char byte = 0;
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char path[128];
		struct tj_unlocked *u = NULL;
		struct tj_daemon_opts opts = {.datadir = dir, .ready_fd = p[1]};
		int rc;

		close(p[0]);
		snprintf(path, sizeof(path), "%s/key", dir);
		if (tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u) != 0)
			_exit(4);
		opts.unlocked = u;
		rc = tj_daemon_run(&opts);
		close(p[1]);
		/* exit (not _exit) so LeakSanitizer checks the daemon too. */
		exit(rc == 0 ? 0 : 3);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 30000) != 1 || read(p[0], &byte, 1) != 1) {
		/* Never ready: reap the child so no zombie outlives the test. */
		close(p[0]);
		kill(pid, SIGKILL);
		(void)wait_exit(pid, 30);
		return -1;
	}
	close(p[0]);
	return pid;
}

static int client(const char *dir)
{
	struct timeval tv = {.tv_sec = 10};
	int fd = -1;

	assert_int_equal(tj_ctl_connect(dir, &fd), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the daemon may hang up first: that is an allowed answer */
		b += w;
		len -= (size_t)w;
	}
}

/* Reads one reply frame; false when the connection closed (or timed out) instead. */
static bool read_frame(int fd, uint8_t **buf, size_t *len)
{
	uint8_t hdr[4];
	size_t got = 0, n;

	while (got < 4) {
		ssize_t r = recv(fd, hdr + got, 4 - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	assert_true(n > 0 && n <= TJ_CTL_REPLY_MAX_BYTES);
	*buf = malloc(n);
	assert_non_null(*buf);
	for (got = 0; got < n;) {
		ssize_t r = recv(fd, *buf + got, n - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	*len = n;
	return true;
}

/* The value of "ok" in a reply map (fails the test if it has none). */
static bool reply_ok(const uint8_t *buf, size_t len)
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t n, kl;
	size_t used;
	bool ok = false, found = false;

	assert_int_equal(tj_mp_check(buf, len, &tj_mp_limits_default, true, &used), 0);
	tj_mp_reader_init(&r, buf, len);
	assert_int_equal(tj_mp_read_map(&r, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(tj_mp_read_str(&r, &k, &kl), 0);
		if (kl == 2 && memcmp(k, "ok", 2) == 0) {
			assert_int_equal(tj_mp_read_bool(&r, &ok), 0);
			found = true;
		} else {
			assert_int_equal(tj_mp_skip(&r), 0);
		}
	}
	assert_true(found);
	return ok;
}

/* The garbage answer: at most one error reply, then the connection closes. */
static void expect_error_then_close(int fd)
{
	uint8_t *buf = NULL, b;
	size_t len;

	if (read_frame(fd, &buf, &len)) {
		assert_false(reply_ok(buf, len));
		free(buf);
		assert_int_equal(recv(fd, &b, 1, 0), 0);
	}
}

static size_t frame_op(uint8_t *out, size_t cap, const char *op)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, out + 4, cap - 4);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	out[0] = 0;
	out[1] = 0;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return len + 4;
}

/* A fresh client is served: ping answers ok. */
static void expect_served(const char *dir)
{
	uint8_t req[64], *reply = NULL;
	size_t reply_len = 0;
	int fd = client(dir);
	size_t n = frame_op(req, sizeof(req), "ping");

	assert_int_equal(tj_ctl_call(fd, req + 4, n - 4, &reply, &reply_len), 0);
	assert_true(reply_ok(reply, reply_len));
	free(reply);
	close(fd);
}

/* One garbage case over a fresh connection. */
static void garbage(const char *dir, int which)
{
	static uint8_t nested[4 + 10001];
	uint8_t buf[64];
	int fd = client(dir);

	switch (which % 6) {
	case 0: /* a truncated frame, then EOF */
		memcpy(buf, "\x00\x00\x00\x64\x81\xa2op", 8);
		send_all(fd, buf, 8);
		shutdown(fd, SHUT_WR);
		break;
	case 1: /* a count bomb as the body */
		send_all(fd, "\x00\x00\x00\x05\xdd\xff\x00\x00\x00", 9);
		break;
	case 2: /* a 4 GiB length prefix */
		send_all(fd, "\xff\xff\xff\xff\x80", 5);
		break;
	case 3: /* 10,000 nested arrays */
		nested[0] = 0;
		nested[1] = 0;
		nested[2] = (uint8_t)(10001 >> 8);
		nested[3] = (uint8_t)(10001 & 0xff);
		memset(nested + 4, 0x91, 10000);
		nested[4 + 10000] = 0xc0;
		send_all(fd, nested, sizeof(nested));
		break;
	case 4: /* a zero-length frame */
		send_all(fd, "\x00\x00\x00\x00", 4);
		break;
	default: /* random bytes */
		randombytes_buf(buf, sizeof(buf));
		buf[0] = 0; /* a length under 16 MiB, so it is a frame or a length error */
		send_all(fd, buf, sizeof(buf));
		shutdown(fd, SHUT_WR);
		break;
	}
	expect_error_then_close(fd);
	close(fd);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static void stop_daemon(struct fx *f)
{
	uint8_t req[64], *reply = NULL;
	size_t reply_len = 0;
	int fd = client(f->dir);
	size_t n = frame_op(req, sizeof(req), "stop");
	char sock[128];
	struct stat st;

	assert_int_equal(tj_ctl_call(fd, req + 4, n - 4, &reply, &reply_len), 0);
	assert_true(reply_ok(reply, reply_len));
	free(reply);
	close(fd);
	assert_int_equal(wait_exit(f->pid, 30), 0);
	f->pid = 0;
	snprintf(sock, sizeof(sock), "%s/%s", f->dir, TJ_CTL_SOCKET_NAME);
	assert_int_equal(stat(sock, &st), -1); /* removed on a clean stop */
}

static void test_socket_mode_and_stop(void **state)
{
	struct fx *f = *state;
	char sock[128];
	struct stat st;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	snprintf(sock, sizeof(sock), "%s/%s", f->dir, TJ_CTL_SOCKET_NAME);
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	expect_served(f->dir);
	stop_daemon(f);
}

static void test_garbage_each_case(void **state)
{
	struct fx *f = *state;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	for (int i = 0; i < 6; i++) {
		garbage(f->dir, i);
		expect_served(f->dir);
	}
	stop_daemon(f);
}

static void test_garbage_while_other_client_waits(void **state)
{
	struct fx *f = *state;
	uint8_t req[64], *reply = NULL;
	size_t reply_len = 0, n;
	int idle;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	/* A client holding half a frame does not block anyone. */
	idle = client(f->dir);
	send_all(idle, "\x00\x00\x01\x00\x81", 5);
	garbage(f->dir, 2);
	expect_served(f->dir);
	close(idle);
	/* Pipelined requests: two frames in one write, two replies in order. */
	{
		uint8_t two[128];
		int fd = client(f->dir);
		size_t a = frame_op(two, sizeof(two), "ping");
		size_t b = frame_op(two + a, sizeof(two) - a, "status");
		uint8_t *r1 = NULL, *r2 = NULL;
		size_t l1, l2;

		send_all(fd, two, a + b);
		assert_true(read_frame(fd, &r1, &l1));
		assert_true(read_frame(fd, &r2, &l2));
		assert_true(reply_ok(r1, l1));
		assert_true(reply_ok(r2, l2));
		assert_true(l2 > l1); /* status carries counts, ping nothing */
		free(r1);
		free(r2);
		close(fd);
	}
	/* And a well-formed unknown op keeps the connection open. */
	{
		int fd = client(f->dir);
		n = frame_op(req, sizeof(req), "no_such_op");
		assert_int_equal(tj_ctl_call(fd, req + 4, n - 4, &reply, &reply_len), 0);
		assert_false(reply_ok(reply, reply_len));
		free(reply);
		n = frame_op(req, sizeof(req), "ping");
		assert_int_equal(tj_ctl_call(fd, req + 4, n - 4, &reply, &reply_len), 0);
		assert_true(reply_ok(reply, reply_len));
		free(reply);
		close(fd);
	}
	stop_daemon(f);
}

static void test_rss_over_garbage(void **state)
{
	struct fx *f = *state;
	long before, after;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	/* Warm up: the first connections allocate the loop's steady-state memory. */
	for (int i = 0; i < 60; i++)
		garbage(f->dir, i);
	before = rss_kb(f->pid);
	for (int i = 0; i < GARBAGE_CONNECTIONS; i++)
		garbage(f->dir, i);
	after = rss_kb(f->pid);
	fprintf(stderr, "daemon VmRSS: %ld kB before, %ld kB after %d garbage connections\n", before, after,
		GARBAGE_CONNECTIONS);
	assert_true(before > 0);
	assert_true(after - before < RSS_GROWTH_MAX_KB);
	expect_served(f->dir);
	stop_daemon(f);
}

static void test_sigterm_clean_exit(void **state)
{
	struct fx *f = *state;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	expect_served(f->dir);
	assert_int_equal(kill(f->pid, SIGTERM), 0);
	assert_int_equal(wait_exit(f->pid, 30), 0);
	f->pid = 0;
}

static void test_kill9_stale_socket_and_second_daemon(void **state)
{
	struct fx *f = *state;
	pid_t second;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	/* A second daemon on the same directory is refused (the socket answers). */
	second = start_daemon(f->dir);
	assert_int_equal(second, -1);
	/* kill -9 leaves the socket file behind; the next daemon clears it. */
	assert_int_equal(kill(f->pid, SIGKILL), 0);
	assert_int_equal(wait_exit(f->pid, 30), -1); /* killed by a signal */
	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	expect_served(f->dir);
	stop_daemon(f);
}

/* add over the socket; returns the acknowledged id. */
static void add_over_socket(int fd, const char *ref, uint8_t id[32])
{
	static uint8_t body[TJ_INC_BODY_MAX_BYTES], req[TJ_INC_BODY_MAX_BYTES + 64];
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	uint8_t *reply = NULL;
	size_t reply_len = 0, len, blen = tt_summary_body("2026-01-15", ref, body, sizeof(body));
	const char *k;
	uint32_t n, kl;
	bool got = false;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add");
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, body, blen);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	assert_int_equal(tj_ctl_call(fd, req, len, &reply, &reply_len), 0);
	assert_true(reply_ok(reply, reply_len));
	tj_mp_reader_init(&r, reply, reply_len);
	assert_int_equal(tj_mp_read_map(&r, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(tj_mp_read_str(&r, &k, &kl), 0);
		if (kl == 2 && memcmp(k, "id", 2) == 0) {
			assert_int_equal(tj_mp_read_bin_exact(&r, id, 32), 0);
			got = true;
		} else {
			assert_int_equal(tj_mp_skip(&r), 0);
		}
	}
	assert_true(got);
	free(reply);
}

/* How many of ids a show by id finds. */
static int count_shown(const char *dir, uint8_t (*ids)[32], int n)
{
	uint8_t req[128], *reply = NULL;
	size_t reply_len = 0, len;
	struct tj_mp_writer w;
	int fd = client(dir), found = 0;

	for (int i = 0; i < n; i++) {
		tj_mp_writer_init(&w, req, sizeof(req));
		tj_mp_put_map(&w, 2);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "show");
		tj_mp_put_cstr(&w, "id");
		tj_mp_put_bin(&w, ids[i], 32);
		assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
		assert_int_equal(tj_ctl_call(fd, req, len, &reply, &reply_len), 0);
		found += reply_ok(reply, reply_len);
		free(reply);
	}
	close(fd);
	return found;
}

static void test_kill9_loses_no_acknowledged_record(void **state)
{
	struct fx *f = *state;
	uint8_t ids[20][32];
	char ref[16];
	int fd;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	fd = client(f->dir);
	for (int i = 0; i < 20; i++) {
		snprintf(ref, sizeof(ref), "v-%d", i);
		add_over_socket(fd, ref, ids[i]);
	}
	close(fd);
	/* Acknowledged means committed: kill -9 right after the last reply. */
	assert_int_equal(kill(f->pid, SIGKILL), 0);
	assert_int_equal(wait_exit(f->pid, 30), -1);
	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	assert_int_equal(count_shown(f->dir, ids, 20), 20);
	stop_daemon(f);
}

static void test_half_frame_dropped(void **state)
{
	struct fx *f = *state;
	uint8_t b;
	int slow;

	f->pid = start_daemon(f->dir);
	assert_true(f->pid > 0);
	slow = client(f->dir);
	send_all(slow, "\x00\x00\x00\x20\x81", 5); /* 1 byte of a 32-byte body, then silence */
	expect_served(f->dir);
	/* Within the frame timeout (10 s) plus a sweep, the daemon hangs up (recv times out at 10 s). */
	{
		ssize_t r = -1;
		for (int i = 0; i < 3 && r != 0; i++)
			r = recv(slow, &b, 1, 0);
		assert_int_equal(r, 0);
	}
	close(slow);
	expect_served(f->dir);
	stop_daemon(f);
}

static void test_bad_config_refuses_start(void **state)
{
	struct fx *f = *state;
	char path[128], log[4096] = {0};
	FILE *fp;
	int saved, logfd;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", f->dir, "tejido.conf");
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[node]\nlog_level = info\nlisten_port = 7450\n", fp);
	fclose(fp);
	/* The child's stderr goes to a file, so the message can be checked. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, "node.log");
	logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(logfd >= 0);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(logfd, 2), 2);
	pid = start_daemon(f->dir);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(logfd);
	assert_int_equal(pid, -1);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_true(fread(log, 1, sizeof(log) - 1, fp) > 0);
	fclose(fp);
	assert_non_null(strstr(log, "refusing to start"));
	assert_non_null(strstr(log, "line 3"));
	assert_non_null(strstr(log, "listen_port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_mode_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_each_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_while_other_client_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rss_over_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_clean_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_stale_socket_and_second_daemon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_loses_no_acknowledged_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_half_frame_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_refuses_start, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
