/* The fault-injecting TCP proxy: see faultproxy.h. */
#include "faultproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FP_LINKS_MAX 32
#define FP_CONNS_MAX 256
#define FP_CHUNK 65536

struct fp__dir {
	uint8_t buf[FP_CHUNK];
	size_t len, off;
	uint64_t release_ms;
};

struct fp__conn {
	bool used;
	int fd[2]; /* 0: the dialer's side, 1: the target's side */
	size_t link;
	long budget; /* bytes left before a mid-frame cut; < 0 = none */
	struct fp__dir dir[2]; /* dir[s]: read from fd[s], written to fd[1 - s] */
};

struct fp__link {
	int lfd;
	uint16_t target;
	enum fp_mode mode;
	unsigned delay_ms;
};

struct fp {
	pthread_t th;
	pthread_mutex_t mu;
	int wake[2];
	bool stop;
	size_t n_links;
	struct fp__link links[FP_LINKS_MAX];
	struct fp__conn conns[FP_CONNS_MAX];
	struct fp_stats stats;
};

static uint64_t fp__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fp__reset_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void fp__drop(struct fp *fp, struct fp__conn *c)
{
	fp__reset_close(c->fd[0]);
	fp__reset_close(c->fd[1]);
	c->used = false;
	fp->stats.cut++;
}

static void fp__poke(struct fp *fp)
{
	(void)!write(fp->wake[1], "x", 1);
}

static void fp__accept(struct fp *fp, size_t li)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int a = accept4(fp->links[li].lfd, NULL, NULL, SOCK_CLOEXEC), b;
	struct fp__conn *c = NULL;

	if (a < 0)
		return;
	fp->stats.accepted++;
	for (size_t i = 0; i < FP_CONNS_MAX && c == NULL; i++)
		if (!fp->conns[i].used)
			c = &fp->conns[i];
	if (c == NULL || fp->links[li].mode == FP_CUT) {
		fp__reset_close(a);
		return;
	}
	sa.sin_port = htons(fp->links[li].target);
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* A blocking connect to 127.0.0.1 answers at once (accepted or refused). */
	if (b < 0 || connect(b, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fp__reset_close(a);
		if (b >= 0)
			close(b);
		return;
	}
	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->used = true;
	c->fd[0] = a;
	c->fd[1] = b;
	c->link = li;
	c->budget = -1;
}

/* Moves bytes one way; false when the connection is finished. */
static bool fp__pump(struct fp *fp, struct fp__conn *c, int s, short rev_src, short rev_dst, uint64_t now)
{
	struct fp__dir *d = &c->dir[s];
	const struct fp__link *l = &fp->links[c->link];

	if (d->len == 0 && (rev_src & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(c->fd[s], d->buf, sizeof(d->buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return false;
		if (n > 0) {
			d->len = (size_t)n;
			d->off = 0;
			d->release_ms = now + l->delay_ms;
		}
	}
	(void)rev_dst; /* a non-blocking send is simply tried; EAGAIN waits for POLLOUT */
	if (d->len > d->off && now >= d->release_ms) {
		size_t want = d->len - d->off;
		if (c->budget >= 0 && (long)want > c->budget)
			want = (size_t)c->budget;
		ssize_t n = want > 0 ? send(c->fd[1 - s], d->buf + d->off, want, MSG_NOSIGNAL) : 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n > 0) {
			d->off += (size_t)n;
			fp->stats.bytes += (uint64_t)n;
			if (c->budget >= 0)
				c->budget -= n;
		}
		if (d->off == d->len)
			d->len = d->off = 0;
		if (c->budget == 0)
			return false; /* the mid-frame cut */
	}
	return true;
}

static void *fp__main(void *arg)
{
	struct fp *fp = arg;
	struct pollfd pfd[1 + FP_LINKS_MAX + 2 * FP_CONNS_MAX];
	int where[2 * FP_CONNS_MAX];

	pthread_mutex_lock(&fp->mu);
	while (!fp->stop) {
		uint64_t now = fp__now_ms();
		int timeout = 200;
		size_t n = 0, nc = 0;

		pfd[n++] = (struct pollfd){.fd = fp->wake[0], .events = POLLIN};
		for (size_t i = 0; i < fp->n_links; i++)
			pfd[n++] = (struct pollfd){.fd = fp->links[i].lfd, .events = POLLIN};
		for (size_t i = 0; i < FP_CONNS_MAX; i++) {
			struct fp__conn *c = &fp->conns[i];
			if (!c->used)
				continue;
			if (fp->links[c->link].mode == FP_CUT) {
				fp__drop(fp, c);
				continue;
			}
			bool hole = fp->links[c->link].mode == FP_BLACKHOLE;
			for (int s = 0; s < 2; s++) {
				struct fp__dir *d = &c->dir[s];
				short ev = 0;
				if (!hole && d->len == 0)
					ev |= POLLIN;
				if (!hole && d->len > d->off && now < d->release_ms &&
				    (int)(d->release_ms - now) < timeout)
					timeout = (int)(d->release_ms - now);
				pfd[n] = (struct pollfd){.fd = c->fd[s], .events = ev};
				if (!hole && c->dir[1 - s].len > c->dir[1 - s].off && now >= c->dir[1 - s].release_ms)
					pfd[n].events |= POLLOUT;
				where[nc++] = (int)i;
				n++;
			}
		}
		pthread_mutex_unlock(&fp->mu);
		(void)poll(pfd, n, timeout);
		pthread_mutex_lock(&fp->mu);
		if (pfd[0].revents & POLLIN) {
			char sink[64];
			(void)!read(fp->wake[0], sink, sizeof(sink));
		}
		for (size_t i = 0; i < fp->n_links; i++)
			if (pfd[1 + i].revents & POLLIN)
				fp__accept(fp, i);
		now = fp__now_ms();
		for (size_t k = 0; k + 1 < nc; k += 2) {
			struct fp__conn *c = &fp->conns[where[k]];
			size_t base = 1 + fp->n_links + k;
			if (!c->used)
				continue;
			if (fp->links[c->link].mode != FP_PASS) {
				/* Held: only a side that went away ends it (else poll would spin on it). */
				if ((pfd[base].revents | pfd[base + 1].revents) & (POLLHUP | POLLERR))
					fp__drop(fp, c);
				continue;
			}
			if (!fp__pump(fp, c, 0, pfd[base].revents, pfd[base + 1].revents, now) ||
			    !fp__pump(fp, c, 1, pfd[base + 1].revents, pfd[base].revents, now))
				fp__drop(fp, c);
		}
	}
	for (size_t i = 0; i < FP_CONNS_MAX; i++)
		if (fp->conns[i].used)
			fp__drop(fp, &fp->conns[i]);
	pthread_mutex_unlock(&fp->mu);
	return NULL;
}

int fp_start(struct fp **out)
{
	struct fp *fp = calloc(1, sizeof(*fp));

	if (fp == NULL)
		return -ENOMEM;
	pthread_mutex_init(&fp->mu, NULL);
	if (pipe2(fp->wake, O_CLOEXEC) != 0) {
		free(fp);
		return -errno;
	}
	fcntl(fp->wake[0], F_SETFL, O_NONBLOCK);
	fcntl(fp->wake[1], F_SETFL, O_NONBLOCK);
	if (pthread_create(&fp->th, NULL, fp__main, fp) != 0) {
		close(fp->wake[0]);
		close(fp->wake[1]);
		free(fp);
		return -EAGAIN;
	}
	*out = fp;
	return 0;
}

int fp_link_add(struct fp *fp, uint16_t target_port, uint16_t *port, size_t *link)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pthread_mutex_lock(&fp->mu);
	if (fp->n_links == FP_LINKS_MAX) {
		rc = -ENOSPC;
		close(fd);
	} else {
		*link = fp->n_links;
		fp->links[fp->n_links++] = (struct fp__link){.lfd = fd, .target = target_port, .mode = FP_PASS};
		*port = ntohs(sa.sin_port);
	}
	pthread_mutex_unlock(&fp->mu);
	fp__poke(fp);
	return rc;
}

void fp_link_set(struct fp *fp, size_t link, enum fp_mode mode, unsigned delay_ms)
{
	pthread_mutex_lock(&fp->mu);
	if (link < fp->n_links) {
		fp->links[link].mode = mode;
		fp->links[link].delay_ms = delay_ms;
	}
	pthread_mutex_unlock(&fp->mu);
	fp__poke(fp);
}

void fp_cut_mid(struct fp *fp, size_t link)
{
	pthread_mutex_lock(&fp->mu);
	for (size_t i = 0; i < FP_CONNS_MAX; i++)
		if (fp->conns[i].used && fp->conns[i].link == link)
			fp->conns[i].budget = 1 + (long)(random() % 4096);
	pthread_mutex_unlock(&fp->mu);
	fp__poke(fp);
}

void fp_get_stats(struct fp *fp, struct fp_stats *out)
{
	pthread_mutex_lock(&fp->mu);
	*out = fp->stats;
	pthread_mutex_unlock(&fp->mu);
}

void fp_dump(struct fp *fp, void *out)
{
	FILE *f = out;
	uint64_t now = fp__now_ms();

	pthread_mutex_lock(&fp->mu);
	for (size_t i = 0; i < FP_CONNS_MAX; i++) {
		const struct fp__conn *c = &fp->conns[i];
		if (!c->used)
			continue;
		fprintf(f, "proxy conn %zu: link %zu (mode %d, delay %u ms) -> port %u; pending dialer->target %zu "
			"(release in %lld ms), target->dialer %zu (release in %lld ms); budget %ld\n",
			i, c->link, (int)fp->links[c->link].mode, fp->links[c->link].delay_ms,
			(unsigned)fp->links[c->link].target, c->dir[0].len - c->dir[0].off,
			(long long)c->dir[0].release_ms - (long long)now, c->dir[1].len - c->dir[1].off,
			(long long)c->dir[1].release_ms - (long long)now, c->budget);
	}
	pthread_mutex_unlock(&fp->mu);
}

void fp_stop(struct fp *fp)
{
	if (fp == NULL)
		return;
	pthread_mutex_lock(&fp->mu);
	fp->stop = true;
	pthread_mutex_unlock(&fp->mu);
	fp__poke(fp);
	pthread_join(fp->th, NULL);
	for (size_t i = 0; i < fp->n_links; i++)
		close(fp->links[i].lfd);
	close(fp->wake[0]);
	close(fp->wake[1]);
	pthread_mutex_destroy(&fp->mu);
	free(fp);
}
