/*
 * The counting TCP proxy: one listener per node on 127.0.0.1; a peer that
 * dials node j dials j's listener, and the proxy forwards both directions to
 * j's daemon, counting payload bytes (the SHS handshake and the box-stream,
 * without TCP/IP headers). One thread, poll(2), non-blocking sockets; when
 * either side closes or fails, both are closed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"

#define SIM_PROXY_CONNS_MAX 1024
#define SIM_PROXY_BUF_BYTES (64u * 1024u)

struct sim__pipe {
	uint8_t buf[SIM_PROXY_BUF_BYTES];
	size_t off, len; /* pending bytes: buf[off, len) */
};

struct sim__conn {
	int fd[2];             /* 0: the dialing peer, 1: the daemon */
	struct sim__pipe p[2]; /* p[d]: bytes read from fd[d], to be written to fd[1 - d] */
};

static struct {
	const struct sim *s;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_uint_fast64_t bytes, conns, open;
	struct sim__conn *conn[SIM_PROXY_CONNS_MAX];
	size_t n;
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

	close(c->fd[0]);
	close(c->fd[1]);
	free(c);
	P.conn[k] = P.conn[--P.n];
	atomic_store(&P.open, P.n);
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
		    fcntl(out, F_SETFL, O_NONBLOCK) != 0) {
			close(in);
			if (out >= 0)
				close(out);
			free(c);
			continue; /* the daemon is down: the dialer sees a closed connection */
		}
		c->fd[0] = in;
		c->fd[1] = out;
		P.conn[P.n++] = c;
		atomic_fetch_add(&P.conns, 1);
		atomic_store(&P.open, P.n);
	}
}

/* Moves bytes for direction d of c (src readable per revents); false when the connection is finished. */
static bool sim__pump(struct sim__conn *c, int d, short revents)
{
	struct sim__pipe *p = &c->p[d];
	ssize_t r;

	if (p->len == p->off && (revents & (POLLIN | POLLHUP | POLLERR))) {
		r = read(c->fd[d], p->buf, sizeof(p->buf));
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (r > 0) {
			p->off = 0;
			p->len = (size_t)r;
			atomic_fetch_add(&P.bytes, (uint_fast64_t)r);
		}
	}
	if (p->len > p->off) { /* non-blocking: EAGAIN until the other side drains */
		r = write(c->fd[1 - d], p->buf + p->off, p->len - p->off);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (r > 0)
			p->off += (size_t)r;
	}
	return true;
}

/* Listeners first, then two entries per connection: read from a side whose pipe is empty, else write. */
static size_t sim__fill(struct pollfd *pfd, size_t nl)
{
	for (size_t i = 0; i < nl; i++)
		pfd[i] = (struct pollfd){.fd = P.s->nodes[i].proxy_fd, .events = POLLIN};
	for (size_t k = 0; k < P.n; k++) {
		struct pollfd *e = &pfd[nl + 2 * k];
		e[0] = (struct pollfd){.fd = P.conn[k]->fd[0], .events = 0};
		e[1] = (struct pollfd){.fd = P.conn[k]->fd[1], .events = 0};
		for (int d = 0; d < 2; d++) {
			const struct sim__pipe *p = &P.conn[k]->p[d];
			e[p->len == p->off ? d : 1 - d].events |= p->len == p->off ? POLLIN : POLLOUT;
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
		size_t np = P.n, total = sim__fill(pfd, nl);

		if (poll(pfd, total, 100) <= 0)
			continue;
		/* Downwards: a close moves the last connection (already handled) into slot k. */
		for (size_t k = np; k-- > 0;) {
			const struct pollfd *e = &pfd[nl + 2 * k];
			if (!sim__pump(P.conn[k], 0, e[0].revents) || !sim__pump(P.conn[k], 1, e[1].revents))
				sim__close(k);
		}
		for (size_t i = 0; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				sim__accept(i);
	}
	return NULL;
}

int sim_proxy_start(struct sim *s)
{
	P.s = s;
	P.n = 0;
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
