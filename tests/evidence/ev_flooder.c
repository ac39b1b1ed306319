/* A member flooding at a multiple of its push quota: see ev_flooder.h. */
#include "ev_flooder.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "ev_common.h"
#include "tj_boxstream.h"
#include "tj_keys.h"
#include "tj_mp.h"
#include "tj_peer.h"
#include "tj_shs.h"
#include "tj_wire.h"

#define EV__REC_BYTES 120u
#define EV__MSG_CAP (64u + EV_FLOOD_PER_MSG * (EV__REC_BYTES + 3u))
#define EV__STALL_US 1500000u /* the node's throttle is 1 s */

static int ev__write(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int ev__read(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int ev__connect(const struct ev_flooder *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* Longer than the node's 1 s throttle: the member holds on until the node drops it. */
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(f->net->nodes[f->target].port);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int ev__send(int fd, struct tj_boxstream *enc, const uint8_t *msg, size_t len)
{
	size_t cap = tj_boxstream_msg_sealed_bytes(len), n = 0;
	uint8_t *out = malloc(cap);
	int rc = -1;

	if (out != NULL && tj_boxstream_seal_msg(enc, msg, len, out, cap, &n) == 0)
		rc = ev__write(fd, out, n);
	free(out);
	return rc;
}

/*
 * Would a message of len bytes wait for the node? (Its send buffer is full:
 * the node is not reading.) A sealed message cannot be half sent, so the
 * flooder skips it rather than block: offered, not written.
 */
static bool ev__backpressured(int fd, size_t len)
{
	int sndbuf = 0, queued = 0;
	socklen_t sl = sizeof(sndbuf);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) != 0 || ioctl(fd, SIOCOUTQ, &queued) != 0)
		return false; /* send and find out */
	/* SO_SNDBUF reports twice the payload the kernel lets us queue */
	return (size_t)queued + len > (size_t)sndbuf / 2u;
}

/* SHS as the member, then HELLO: the connection's fd and encrypting stream, or -1. */
static int ev__join(const struct ev_flooder *f, const struct tj_identity *id, struct tj_boxstream **enc)
{
	uint8_t in[TJ_SHS_MSG4_BYTES], out[TJ_SHS_OUT_MAX_BYTES], hello[TJ_WIRE_HELLO_MAX_BYTES];
	struct tj_shs *h = NULL;
	struct tj_shs_keys k;
	struct tj_mp_writer w;
	size_t olen = 0, hlen = 0;
	int fd = ev__connect(f), ok = 0;

	if (fd >= 0 && tj_shs_client_new(f->net->network_key, id, f->net->nodes[f->target].pk, &h) == 0 &&
	    tj_shs_step(h, NULL, 0, out, sizeof(out), &olen) == 0 && ev__write(fd, out, olen) == 0 &&
	    ev__read(fd, in, TJ_SHS_MSG2_BYTES) == 0 &&
	    tj_shs_step(h, in, TJ_SHS_MSG2_BYTES, out, sizeof(out), &olen) == 0 &&
	    ev__write(fd, out, olen) == 0 && ev__read(fd, in, TJ_SHS_MSG4_BYTES) == 0 &&
	    tj_shs_step(h, in, TJ_SHS_MSG4_BYTES, out, sizeof(out), &olen) == 0 &&
	    tj_shs_take_keys(h, &k) == 0) {
		ok = tj_boxstream_new(k.enc_key, k.enc_nonce, enc) == 0;
		sodium_memzero(&k, sizeof(k));
	}
	tj_shs_free(h);
	if (ok) {
		tj_mp_writer_init(&w, hello, sizeof(hello));
		tj_wire_put_hello(&w, f->net->network_id, 0);
		ok = tj_mp_writer_finish(&w, &hlen) == 0 && ev__send(fd, *enc, hello, hlen) == 0;
	}
	if (!ok) {
		tj_boxstream_free(*enc);
		*enc = NULL;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One PUSH of EV_FLOOD_PER_MSG random records (junk the node refuses one by one). */
static int ev__push_msg(uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t rec[EV__REC_BYTES];
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_wire_put_records_head(&w, TJ_WIRE_PUSH, false, EV_FLOOD_PER_MSG);
	for (unsigned i = 0; i < EV_FLOOD_PER_MSG; i++) {
		randombytes_buf(rec, sizeof(rec));
		tj_mp_put_bin(&w, rec, sizeof(rec));
	}
	return tj_mp_writer_finish(&w, len);
}

/* Not closed or reset by the node (what it sent us stays unread). */
static bool ev__alive(int fd)
{
	uint8_t b;
	ssize_t r = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);

	return r == 1 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

void *ev_flooder_run(void *arg)
{
	struct ev_flooder *f = arg;
	struct tj_identity *id = NULL;
	struct tj_boxstream *enc = NULL;
	uint8_t msg[EV__MSG_CAP];
	size_t len = 0;
	/* one message every interval_us offers ratio x the quota */
	const uint64_t interval_us = 1000000ull * EV_FLOOD_PER_MSG / ((uint64_t)f->ratio * TJ_PEER_PUSH_RATE);
	uint64_t t0 = ev_now_us(), stalled_since = 0;
	int fd = -1;

	if (tj_identity_from_sk(f->net->nodes[f->member].sk, &id) != 0 ||
	    ev__push_msg(msg, sizeof(msg), &len) != 0)
		goto out;
	while (!f->stop) {
		uint64_t now = ev_now_us() - t0, due = f->offered / EV_FLOOD_PER_MSG * interval_us;
		if (fd < 0) {
			if ((fd = ev__join(f, id, &enc)) < 0) {
				f->refused++;
				ev_sleep_ms(50); /* refused at the handshake (per-address limit) */
				continue;
			}
			f->conns++;
		}
		/* On the clock: behind it (after a blocked send or a reconnection) the flooder catches up at
		 * once. */
		if (now < due) {
			usleep((useconds_t)(due - now));
			continue;
		}
		f->offered += EV_FLOOD_PER_MSG;
		if (ev__backpressured(fd, tj_boxstream_msg_sealed_bytes(len)) && ev__alive(fd)) {
			/*
			 * Not read for longer than a throttle: the node dropped us (its
			 * goodbye waits in our unread buffer) or soon will. A fresh
			 * connection brings a fresh burst: the harder flood.
			 */
			stalled_since = stalled_since != 0 ? stalled_since : now + 1;
			if (now + 1 - stalled_since < EV__STALL_US)
				continue;
			f->stalled++;
		} else if (ev__send(fd, enc, msg, len) == 0) {
			f->written += EV_FLOOD_PER_MSG;
			stalled_since = 0;
			continue;
		} else {
			f->cut++; /* closed or reset by the node */
		}
		stalled_since = 0;
		close(fd);
		fd = -1;
		tj_boxstream_free(enc);
		enc = NULL;
	}
out:
	f->secs = (double)(ev_now_us() - t0) / 1e6;
	if (fd >= 0)
		close(fd);
	tj_boxstream_free(enc);
	tj_identity_free(id);
	return NULL;
}
