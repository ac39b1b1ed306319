/*
 * Hostile peers against bs_echo, the libuv server built from the SHS and
 * box-stream state machines (test code only; needs no npm).
 *
 *   hostile_peers PATH_TO_BS_ECHO
 *
 * Starts bs_echo (handshake deadline 1000 ms) on 127.0.0.1 port 0 and, one
 * after the other: 1 MiB of garbage; a slowloris handshake; msg1 carrying a
 * low-order point under a valid HMAC; after a valid handshake, an authentic
 * header announcing 65535 bytes, a tampered body, and half a frame then
 * hang-up; a replay of an earlier session's msg1 and msg3; 32 silent
 * connections at once; and finally a well-behaved client, which must still
 * be served. Each hostile peer must get no byte it should not (nothing after
 * a bad msg1, no msg4 for a replay) and be dropped quickly, and the server
 * must report the right reason for each connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_boxstream.h"
#include "tj_keys.h"
#include "tj_shs.h"

#define HP_DEADLINE_MS 1000
#define HP_FLOOD 32
#define HP_IO_TIMEOUT_S 10

extern char **environ;

static int failures;
static uint8_t app[32], server_seed[32], client_seed[32], server_pk[32];
static struct tj_identity *client_id;
static unsigned port;

static void check(bool ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		failures++;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int dial(void)
{
	struct sockaddr_in addr;
	struct timeval tv = {.tv_sec = HP_IO_TIMEOUT_S};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads until the server closes (EOF or reset); returns the bytes received, -1 on timeout. */
static long drain_until_close(int fd)
{
	uint8_t buf[4096];
	long total = 0;

	for (int i = 0; i < 100000; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r > 0) {
			total += r;
			continue;
		}
		if (r == 0 || errno == ECONNRESET)
			return total;
		if (errno != EINTR)
			return -1;
	}
	return -1;
}

static bool recv_exact(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* A full client handshake; keeps msg1 and msg3 if asked; returns the send/receive streams. */
struct session {
	int fd;
	struct tj_boxstream *tx, *rx;
	uint8_t m1[TJ_SHS_MSG1_BYTES], m3[TJ_SHS_MSG3_BYTES];
	struct tj_shs_keys keys; /* kept: the tests forge authentic frames */
};

static bool session_open(struct session *s)
{
	uint8_t in[TJ_SHS_OUT_MAX_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	struct tj_shs *h = NULL;
	bool ok = false;

	memset(s, 0, sizeof(*s));
	s->fd = dial();
	if (s->fd < 0 || tj_shs_client_new(app, client_id, server_pk, &h) != 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		size_t need = tj_shs_need(h), out_len = 0;
		if (need > 0 && !recv_exact(s->fd, in, need))
			goto out;
		if (tj_shs_step(h, in, need, out, sizeof(out), &out_len) != 0 || !send_all(s->fd, out, out_len))
			goto out;
		if (i == 0)
			memcpy(s->m1, out, sizeof(s->m1));
		if (i == 1)
			memcpy(s->m3, out, sizeof(s->m3));
	}
	ok = tj_shs_take_keys(h, &s->keys) == 0 && tj_boxstream_new(s->keys.enc_key, s->keys.enc_nonce, &s->tx) == 0 &&
	     tj_boxstream_new(s->keys.dec_key, s->keys.dec_nonce, &s->rx) == 0;
out:
	tj_shs_free(h);
	return ok;
}

static void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	tj_boxstream_free(s->tx);
	tj_boxstream_free(s->rx);
	sodium_memzero(&s->keys, sizeof(s->keys));
	s->fd = -1;
	s->tx = s->rx = NULL;
}

static void garbage(void)
{
	size_t n = 1u << 20;
	uint8_t *junk = malloc(n);
	int fd = dial();
	long t0 = now_ms(), got;

	if (junk == NULL || fd < 0) {
		check(false, "garbage: connect");
		free(junk);
		return;
	}
	randombytes_buf(junk, n);
	(void)send_all(fd, junk, n); /* the server hangs up after 64 bytes: EPIPE is expected */
	got = drain_until_close(fd);
	check(got == 0 && now_ms() - t0 < HP_DEADLINE_MS, "1 MiB of garbage: 0 bytes back, dropped before the deadline");
	close(fd);
	free(junk);
}

static void slowloris(void)
{
	int fd = dial();
	long t0 = now_ms(), got;
	uint8_t b = 0x42;

	for (int i = 0; fd >= 0 && i < 63; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) /* the server closed: stop dripping */
			break;
		if (!send_all(fd, &b, 1))
			break;
	}
	got = fd >= 0 ? drain_until_close(fd) : -1;
	check(got == 0 && now_ms() - t0 >= HP_DEADLINE_MS - 50 && now_ms() - t0 < HP_DEADLINE_MS + 3000,
	      "slowloris handshake: dropped at the deadline");
	if (fd >= 0)
		close(fd);
}

static void low_order_msg1(void)
{
	static const uint8_t eight[32] = {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
					  0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
					  0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
	uint8_t m1[64];
	int fd = dial();

	crypto_auth(m1, eight, 32, app); /* a valid HMAC: only the point is wrong */
	memcpy(m1 + 32, eight, 32);
	check(fd >= 0 && send_all(fd, m1, sizeof(m1)) && drain_until_close(fd) == 0,
	      "msg1 with an order-8 point: 0 bytes back");
	if (fd >= 0)
		close(fd);
}

/* An authentic header (the test knows the session key) announcing 65535 bytes. */
static void oversized_header(void)
{
	struct session s;
	uint8_t plain[18] = {0xff, 0xff}, hdr[34];

	if (!session_open(&s)) {
		check(false, "oversized header: handshake");
		session_close(&s);
		return;
	}
	crypto_secretbox_easy(hdr, plain, sizeof(plain), s.keys.enc_nonce, s.keys.enc_key);
	check(send_all(s.fd, hdr, sizeof(hdr)) && drain_until_close(s.fd) == 0,
	      "authentic header announcing 65535 bytes: dropped, nothing echoed");
	session_close(&s);
}

static void tampered_body(void)
{
	struct session s;
	uint8_t wire[34 + 100], msg[100];
	size_t n = 0;

	memset(msg, 0x5a, sizeof(msg));
	if (!session_open(&s) || tj_boxstream_seal(s.tx, msg, sizeof(msg), wire, sizeof(wire), &n) != 0) {
		check(false, "tampered body: handshake");
		session_close(&s);
		return;
	}
	wire[34 + 50] ^= 0x04;
	check(send_all(s.fd, wire, n) && drain_until_close(s.fd) == 0, "tampered body: dropped, nothing echoed");
	session_close(&s);
}

static void half_frame_then_cut(void)
{
	struct session s;
	uint8_t wire[34 + 100], msg[100] = {0};
	size_t n = 0;

	if (!session_open(&s) || tj_boxstream_seal(s.tx, msg, sizeof(msg), wire, sizeof(wire), &n) != 0) {
		check(false, "cut: handshake");
		session_close(&s);
		return;
	}
	check(send_all(s.fd, wire, 60) && shutdown(s.fd, SHUT_WR) == 0 && drain_until_close(s.fd) == 0,
	      "half a frame then hang-up: nothing echoed");
	session_close(&s);
}

static void replay(void)
{
	struct session s;
	uint8_t bye[34], m2[64];
	int fd;

	if (!session_open(&s) || tj_boxstream_goodbye(s.tx, bye) != 0 || !send_all(s.fd, bye, sizeof(bye))) {
		check(false, "replay: first session");
		session_close(&s);
		return;
	}
	check(drain_until_close(s.fd) == 34, "first session: goodbye answered with goodbye");
	fd = dial();
	check(fd >= 0 && send_all(fd, s.m1, sizeof(s.m1)) && recv_exact(fd, m2, sizeof(m2)) &&
		      send_all(fd, s.m3, sizeof(s.m3)) && drain_until_close(fd) == 0,
	      "replayed msg1 + msg3: msg2 only, no msg4");
	if (fd >= 0)
		close(fd);
	session_close(&s);
}

static void flood(void)
{
	int fds[HP_FLOOD];
	int closed = 0;
	long t0 = now_ms();

	for (int i = 0; i < HP_FLOOD; i++)
		fds[i] = dial();
	for (int i = 0; i < HP_FLOOD; i++)
		if (fds[i] >= 0 && drain_until_close(fds[i]) == 0)
			closed++;
	for (int i = 0; i < HP_FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	check(closed == HP_FLOOD && now_ms() - t0 < HP_DEADLINE_MS + 3000,
	      "32 silent connections at once: all dropped at the deadline");
}

static void well_behaved(void)
{
	struct session s;
	uint8_t wire[64], bye[34], back[64];
	struct tj_boxstream_chunk ch;
	size_t n = 0, used = 0;
	bool ok;

	ok = session_open(&s) && tj_boxstream_seal(s.tx, (const uint8_t *)"still here", 10, wire, sizeof(wire), &n) == 0 &&
	     tj_boxstream_goodbye(s.tx, bye) == 0 && send_all(s.fd, wire, n) && send_all(s.fd, bye, sizeof(bye)) &&
	     recv_exact(s.fd, back, 44) && tj_boxstream_read(s.rx, back, 44, &used, &ch) == 0 &&
	     ch.event == TJ_BOXSTREAM_DATA && ch.len == 10 && memcmp(ch.data, "still here", 10) == 0 &&
	     drain_until_close(s.fd) == TJ_BOXSTREAM_GOODBYE_BYTES;
	check(ok, "a member after all that: served");
	session_close(&s);
}

static pid_t start_server(const char *path, int *err_fd)
{
	char app_hex[65], seed_hex[65], client_hex[65], conns[16], deadline[16];
	char *argv[] = {(char *)path, app_hex, seed_hex, client_hex, conns, deadline, NULL};
	int out[2], err[2];
	posix_spawn_file_actions_t fa;
	char line[64] = {0};
	size_t len = 0;
	pid_t pid = -1;

	tj_hex(app, 32, app_hex);
	tj_hex(server_seed, 32, seed_hex);
	tj_hex(client_id->pk, 32, client_hex);
	snprintf(conns, sizeof(conns), "%d", 9 + HP_FLOOD);
	snprintf(deadline, sizeof(deadline), "%d", HP_DEADLINE_MS);
	if (pipe(out) != 0 || pipe(err) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (posix_spawn(&pid, path, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	*err_fd = err[0];
	while (pid > 0 && len < sizeof(line) - 1 && strchr(line, '\n') == NULL) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		ssize_t r;
		if (poll(&p, 1, 10000) <= 0 || (r = read(out[0], line + len, sizeof(line) - 1 - len)) <= 0)
			break;
		len += (size_t)r;
	}
	close(out[0]);
	if (sscanf(line, "PORT %u", &port) != 1)
		port = 0;
	return pid;
}

/* Waits (bounded) for the server to finish; returns its stderr. */
static int finish_server(pid_t pid, int err_fd, char *log, size_t cap)
{
	int status = -1;
	size_t len = 0;

	for (int i = 0; i < 300; i++) { /* 30 s */
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (i == 299) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
		}
		usleep(100000);
	}
	for (int i = 0; i < 1000 && len < cap - 1; i++) {
		ssize_t r = read(err_fd, log + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	log[len] = '\0';
	close(err_fd);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The server's reason for connection i, from its "conn <i>: <result>" lines. */
static bool server_said(const char *log, unsigned i, const char *want)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "conn %u: %s\n", i, want);
	return strstr(log, needle) != NULL;
}

static void check_reasons(const char *log)
{
	static const char *const want[] = {"TJ_EDECRYPT", "handshake deadline", "TJ_ECRYPTO", "TJ_ELIMIT",
					   "TJ_EDECRYPT", "cut",                "goodbye",    "TJ_EDECRYPT"};
	char what[128];
	bool flood_ok = true;

	for (unsigned i = 0; i < 8; i++) {
		snprintf(what, sizeof(what), "server reason for connection %u is %s", i, want[i]);
		check(server_said(log, i, want[i]), what);
	}
	for (unsigned i = 8; i < 8 + HP_FLOOD; i++)
		flood_ok = flood_ok && server_said(log, i, "handshake deadline");
	check(flood_ok, "server reason for every flood connection is the handshake deadline");
	check(server_said(log, 8 + HP_FLOOD, "goodbye"), "server reason for the last member is goodbye");
}

int main(int argc, char **argv)
{
	static char log[65536];
	pid_t pid;
	int err_fd = -1, code;

	if (argc != 2 || sodium_init() < 0)
		return 2;
	randombytes_buf(app, sizeof(app));
	randombytes_buf(server_seed, sizeof(server_seed));
	randombytes_buf(client_seed, sizeof(client_seed));
	crypto_sign_seed_keypair(server_pk, (uint8_t[64]){0}, server_seed);
	if (tj_identity_from_seed(client_seed, &client_id) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	pid = start_server(argv[1], &err_fd);
	if (pid <= 0 || port == 0) {
		printf("FAIL could not start %s\n", argv[1]);
		return 1;
	}
	garbage();
	slowloris();
	low_order_msg1();
	oversized_header();
	tampered_body();
	half_frame_then_cut();
	replay();
	flood();
	well_behaved();
	code = finish_server(pid, err_fd, log, sizeof(log));
	check(code == 0, "bs_echo served every connection and exited 0");
	check_reasons(log);
	if (failures > 0)
		fputs(log, stdout);
	tj_identity_free(client_id);
	return failures == 0 ? 0 : 1;
}
