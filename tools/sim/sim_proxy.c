/*
 * The counting TCP proxy: one listener per node on 127.0.0.1; a peer that
 * dials node j dials j's listener, and the proxy forwards both directions to
 * j's daemon, counting payload bytes (the SHS handshake and the box-stream,
 * without TCP/IP headers). One thread, ppoll(2), non-blocking sockets.
 *
 * Each direction is a queue of chunks as they were read, each stamped with
 * the time it may leave: read time + delay (--delay-ms; 0: at once). A chunk
 * leaves when due, in order, so that the proxy is a userspace netem: one-way
 * delay D on every node-to-node connection, RTT 2D (the TCP handshake between
 * a dialer and the proxy is not delayed; everything the nodes say is). A
 * direction stops reading when it holds SIM_PROXY_QUEUE_MAX_BYTES (64 KiB, as
 * one buffer before, without delay), which bounds memory and, with a delay,
 * throughput to that much per D per direction. An end that closes (or fails
 * to read) is passed on as a close once what it sent before has been
 * delivered; a failed write closes both sides at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define SIM_PROXY_CONNS_MAX 1024
#define SIM_PROXY_READ_BYTES (64u * 1024u)
#define SIM_PROXY_QUEUE_NODELAY_BYTES (64u * 1024u)
#define SIM_PROXY_QUEUE_MAX_BYTES (1024u * 1024u) /* per direction, with a delay */
#define SIM_PROXY_POLL_MAX_US 100000u

struct sim__chunk {
	struct sim__chunk *next;
	uint64_t due_us; /* read time + delay */
	size_t off, len;
	uint8_t data[];
};

/* q[d] of a connection: bytes read from fd[d], to be written to fd[1 - d]. */
struct sim__queue {
	struct sim__chunk *head, *tail;
	size_t bytes; /* unsent bytes queued */
	bool eof;     /* fd[d] closed or failed: close the connection once drained and eof_due_us passed */
	uint64_t eof_due_us;
};

struct sim__conn {
	int fd[2]; /* 0: the dialing peer, 1: the daemon */
	struct sim__queue q[2];
};

static struct {
	const struct sim *s;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_uint_fast64_t bytes, conns, open;
	atomic_uint_fast64_t last_accept_us[SIM_NODES_MAX];
	uint64_t delay_us;
	size_t queue_max;
	struct sim__conn *conn[SIM_PROXY_CONNS_MAX];
	size_t n;
	uint8_t scratch[SIM_PROXY_READ_BYTES];
} P;

int sim_proxy_bind(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		s->nodes[i].proxy_fd = fd;
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
			return -1;
		s->nodes[i].proxy_port = ntohs(sa.sin_port);
	}
	return 0;
}

static void sim__close(size_t k)
{
	struct sim__conn *c = P.conn[k];

	for (int d = 0; d < 2; d++)
		while (c->q[d].head != NULL) {
			struct sim__chunk *ch = c->q[d].head;
			c->q[d].head = ch->next;
			free(ch);
		}
	close(c->fd[0]);
	close(c->fd[1]);
	free(c);
	P.conn[k] = P.conn[--P.n];
	atomic_store(&P.open, P.n);
}

/*
 * As the daemons do (uv_tcp_nodelay): without it, a chunk written while the one before it is
 * unacknowledged waits for the daemon's delayed ACK (up to 40 ms), which the nodes never see.
 */
static int sim__nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A peer dialed node i: connect to the daemon (loopback: immediate) or drop the peer. */
static void sim__accept(size_t i)
{
	const struct sim_node *nd = &P.s->nodes[i];
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(nd->port)};
	struct sim__conn *c;
	int in, out;

	for (unsigned k = 0; k < 64; k++) {
		if ((in = accept4(nd->proxy_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			return;
		out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		c = P.n < SIM_PROXY_CONNS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (out < 0 || c == NULL || connect(out, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    fcntl(out, F_SETFL, O_NONBLOCK) != 0 || sim__nodelay(in) != 0 || sim__nodelay(out) != 0) {
			close(in);
			if (out >= 0)
				close(out);
			free(c);
			continue; /* the daemon is down: the dialer sees a closed connection */
		}
		c->fd[0] = in;
		c->fd[1] = out;
		P.conn[P.n++] = c;
		atomic_store(&P.last_accept_us[i], sim_now_us());
		atomic_fetch_add(&P.conns, 1);
		atomic_store(&P.open, P.n);
	}
}

/* Reads what fd[d] has (queue room permitting) into a chunk due delay_us from now; false on failure. */
static bool sim__read(struct sim__conn *c, int d, uint64_t now)
{
	struct sim__queue *q = &c->q[d];
	size_t room = P.queue_max - q->bytes;
	struct sim__chunk *ch;
	ssize_t r;

	if (q->eof || q->bytes >= P.queue_max)
		return true;
	r = read(c->fd[d], P.scratch, room < sizeof(P.scratch) ? room : sizeof(P.scratch));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (r <= 0) { /* passed on as a close after what came before it */
		q->eof = true;
		q->eof_due_us = now + P.delay_us;
		return true;
	}
	if ((ch = malloc(sizeof(*ch) + (size_t)r)) == NULL)
		return false;
	*ch = (struct sim__chunk){.due_us = now + P.delay_us, .len = (size_t)r};
	memcpy(ch->data, P.scratch, (size_t)r);
	if (q->tail != NULL)
		q->tail->next = ch;
	else
		q->head = ch;
	q->tail = ch;
	q->bytes += (size_t)r;
	atomic_fetch_add(&P.bytes, (uint_fast64_t)r);
	return true;
}

/* Writes the due chunks of q[d] to fd[1 - d]; false when the connection is finished. */
static bool sim__write(struct sim__conn *c, int d, uint64_t now)
{
	struct sim__queue *q = &c->q[d];

	while (q->head != NULL && q->head->due_us <= now) {
		struct sim__chunk *ch = q->head;
		ssize_t w = send(c->fd[1 - d], ch->data + ch->off, ch->len - ch->off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN; /* EAGAIN: until the other side drains */
		ch->off += (size_t)w;
		q->bytes -= (size_t)w;
		if (ch->off < ch->len)
			return true;
		q->head = ch->next;
		if (q->head == NULL)
			q->tail = NULL;
		free(ch);
	}
	return !(q->eof && q->head == NULL && now >= q->eof_due_us);
}

/* The earlier of *wake and t (a time something becomes due). */
static void sim__wake(uint64_t *wake, uint64_t t)
{
	if (t < *wake)
		*wake = t;
}

/*
 * Listeners first, then two entries per connection: fd[d] reads while q[d] has
 * room, and writes while q[1 - d] has a due chunk. A side with nothing to do is
 * left out (fd -1: a hung-up socket would wake poll at once, again and again).
 * *wake: the earliest time a queued chunk or close becomes due.
 */
static size_t sim__fill(struct pollfd *pfd, size_t nl, uint64_t now, uint64_t *wake)
{
	for (size_t i = 0; i < nl; i++)
		pfd[i] = (struct pollfd){.fd = P.s->nodes[i].proxy_fd, .events = POLLIN};
	for (size_t k = 0; k < P.n; k++) {
		const struct sim__conn *c = P.conn[k];
		struct pollfd *e = &pfd[nl + 2 * k];
		for (int d = 0; d < 2; d++) {
			const struct sim__queue *q = &c->q[d], *back = &c->q[1 - d];
			short ev = 0;
			if (!q->eof && q->bytes < P.queue_max)
				ev |= POLLIN;
			if (back->head != NULL && back->head->due_us <= now)
				ev |= POLLOUT;
			else if (back->head != NULL)
				sim__wake(wake, back->head->due_us);
			if (q->eof && q->head == NULL)
				sim__wake(wake, q->eof_due_us);
			e[d] = (struct pollfd){.fd = ev != 0 ? c->fd[d] : -1, .events = ev};
		}
	}
	return nl + 2 * P.n;
}

static void *sim__run(void *arg)
{
	static struct pollfd pfd[SIM_PROXY_CONNS_MAX * 2 + SIM_NODES_MAX];
	const size_t nl = P.s->n;

	(void)arg;
	while (!atomic_load(&P.stop)) {
		uint64_t now = sim_now_us(), wake = now + SIM_PROXY_POLL_MAX_US, wait;
		size_t np = P.n, total = sim__fill(pfd, nl, now, &wake);
		struct timespec ts;

		wait = wake > now ? wake - now : 0;
		ts = (struct timespec){.tv_sec = (time_t)(wait / 1000000u),
		                       .tv_nsec = (long)(wait % 1000000u) * 1000L};
		if (ppoll(pfd, total, &ts, NULL) < 0)
			continue;
		now = sim_now_us();
		/* Downwards: a close moves the last connection (already handled) into slot k. */
		for (size_t k = np; k-- > 0;) {
			const struct pollfd *e = &pfd[nl + 2 * k];
			struct sim__conn *c = P.conn[k];
			bool ok = true;
			for (int d = 0; d < 2 && ok; d++)
				if (e[d].revents & (POLLIN | POLLHUP | POLLERR))
					ok = sim__read(c, d, now);
			for (int d = 0; d < 2 && ok; d++)
				ok = sim__write(c, d, now);
			if (!ok)
				sim__close(k);
		}
		for (size_t i = 0; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				sim__accept(i);
	}
	return NULL;
}

int sim_proxy_start(struct sim *s, unsigned delay_ms)
{
	P.s = s;
	P.n = 0;
	P.delay_us = (uint64_t)delay_ms * 1000u;
	P.queue_max = delay_ms > 0 ? SIM_PROXY_QUEUE_MAX_BYTES : SIM_PROXY_QUEUE_NODELAY_BYTES;
	for (size_t i = 0; i < SIM_NODES_MAX; i++)
		atomic_store(&P.last_accept_us[i], 0);
	atomic_store(&P.stop, false);
	atomic_store(&P.bytes, 0);
	atomic_store(&P.conns, 0);
	if (pthread_create(&P.thread, NULL, sim__run, NULL) != 0)
		return -1;
	P.running = true;
	return 0;
}

void sim_proxy_stop(void)
{
	if (!P.running)
		return;
	atomic_store(&P.stop, true);
	pthread_join(P.thread, NULL);
	P.running = false;
	while (P.n > 0)
		sim__close(P.n - 1);
	for (size_t i = 0; i < P.s->n; i++)
		if (P.s->nodes[i].proxy_fd >= 0) {
			close(P.s->nodes[i].proxy_fd);
			((struct sim *)(uintptr_t)P.s)->nodes[i].proxy_fd = -1;
		}
}

uint64_t sim_proxy_bytes(void)
{
	return (uint64_t)atomic_load(&P.bytes);
}

uint64_t sim_proxy_open(void)
{
	return (uint64_t)atomic_load(&P.open);
}

uint64_t sim_proxy_conns(void)
{
	return (uint64_t)atomic_load(&P.conns);
}

uint64_t sim_proxy_last_accept_us(size_t i)
{
	return i < SIM_NODES_MAX ? (uint64_t)atomic_load(&P.last_accept_us[i]) : 0;
}
