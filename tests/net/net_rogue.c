/* Hostile peers: see net_rogue.h. */
#include "net_rogue.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_boxstream.h"
#include "tj_ingest.h"
#include "tj_keys.h"
#include "tj_seal.h"
#include "tj_shs.h"
#include "tj_wire.h"

struct rogue {
	int fd;
	struct tj_boxstream *enc, *dec;
	struct tj_boxstream_reasm *reasm;
	uint8_t msg1[TJ_SHS_MSG1_BYTES];
	uint8_t msg3[TJ_SHS_MSG3_BYTES];
};

/* A connection to target from source address src (NULL: the kernel's choice, 127.0.0.1). */
static int rogue__connect_from(struct net *net, size_t target, unsigned timeout_s, const char *src)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = timeout_s};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(net->nodes[target].port);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src != NULL && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
			    bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rogue__connect(struct net *net, size_t target, unsigned timeout_s)
{
	return rogue__connect_from(net, target, timeout_s, NULL);
}

static int rogue__write(int fd, const uint8_t *p, size_t n)
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

/* Reads exactly n bytes: 0, or -1 on EOF / error / timeout. */
static int rogue__read(int fd, uint8_t *p, size_t n)
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

/* True when the peer closes (EOF or reset) within the socket's timeout, sending nothing. */
static bool rogue__closed_silently(int fd)
{
	uint8_t b[64];
	ssize_t r;

	do {
		r = recv(fd, b, sizeof(b), 0);
	} while (r < 0 && errno == EINTR);
	return r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE));
}

static void rogue__free(struct rogue *r)
{
	if (r->fd >= 0)
		close(r->fd);
	tj_boxstream_free(r->enc);
	tj_boxstream_free(r->dec);
	tj_boxstream_reasm_free(r->reasm);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/*
 * The client side of SHS with id against target. want_msg4 false: stops after
 * msg3 and returns 0 if the server then closed without a word.
 */
static int rogue__handshake_from(struct net *net, size_t target, const struct tj_identity *id, struct rogue *r,
				 bool want_msg4, const char *src)
{
	uint8_t in[TJ_SHS_MSG4_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	struct tj_shs *h = NULL;
	struct tj_shs_keys k;
	size_t olen = 0;
	int rc = -1;

	r->fd = rogue__connect_from(net, target, 10, src);
	if (r->fd < 0 || tj_shs_client_new(net->network_key, id, net->nodes[target].pk, &h) != 0)
		goto out;
	if (tj_shs_step(h, NULL, 0, out, sizeof(out), &olen) != 0 || rogue__write(r->fd, out, olen) != 0)
		goto out;
	memcpy(r->msg1, out, TJ_SHS_MSG1_BYTES);
	if (rogue__read(r->fd, in, TJ_SHS_MSG2_BYTES) != 0 ||
	    tj_shs_step(h, in, TJ_SHS_MSG2_BYTES, out, sizeof(out), &olen) != 0 || rogue__write(r->fd, out, olen) != 0)
		goto out;
	memcpy(r->msg3, out, TJ_SHS_MSG3_BYTES);
	if (!want_msg4) {
		rc = rogue__closed_silently(r->fd) ? 0 : -1;
		goto out;
	}
	if (rogue__read(r->fd, in, TJ_SHS_MSG4_BYTES) != 0 || tj_shs_step(h, in, TJ_SHS_MSG4_BYTES, out, sizeof(out), &olen) != 0 ||
	    tj_shs_take_keys(h, &k) != 0)
		goto out;
	rc = tj_boxstream_new(k.enc_key, k.enc_nonce, &r->enc) == 0 &&
			     tj_boxstream_new(k.dec_key, k.dec_nonce, &r->dec) == 0 &&
			     tj_boxstream_reasm_new(TJ_WIRE_MSG_MAX_BYTES, &r->reasm) == 0
		     ? 0
		     : -1;
	sodium_memzero(&k, sizeof(k));
out:
	tj_shs_free(h);
	return rc;
}

static int rogue__handshake(struct net *net, size_t target, const struct tj_identity *id, struct rogue *r,
			    bool want_msg4)
{
	return rogue__handshake_from(net, target, id, r, want_msg4, NULL);
}

static int rogue__send(struct rogue *r, const uint8_t *msg, size_t len)
{
	size_t cap = tj_boxstream_msg_sealed_bytes(len), n = 0;
	uint8_t *buf = malloc(cap);
	int rc = -1;

	if (buf != NULL && tj_boxstream_seal_msg(r->enc, msg, len, buf, cap, &n) == 0)
		rc = rogue__write(r->fd, buf, n);
	free(buf);
	return rc;
}

static int rogue__hello(struct net *net, struct rogue *r)
{
	uint8_t buf[TJ_WIRE_HELLO_MAX_BYTES];
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_wire_put_hello(&w, net->network_id, 0);
	if (tj_mp_writer_finish(&w, &len) != 0)
		return -1;
	return rogue__send(r, buf, len);
}

static struct tj_identity *rogue__member(struct net *net, size_t member)
{
	struct tj_identity *id = NULL;

	return tj_identity_from_sk(net->nodes[member].sk, &id) == 0 ? id : NULL;
}

int rogue_garbage(struct net *net, size_t target)
{
	uint8_t junk[4096];
	int fd = rogue__connect(net, target, 10), rc;

	if (fd < 0)
		return -1;
	randombytes_buf(junk, sizeof(junk));
	(void)rogue__write(fd, junk, sizeof(junk)); /* the node may close before taking it all */
	rc = rogue__closed_silently(fd) ? 0 : -1;
	close(fd);
	if (rc != 0)
		fprintf(stderr, "rogue_garbage: the node answered random bytes\n");
	return rc;
}

int rogue_truncated_handshake(struct net *net, size_t target)
{
	uint8_t part[30];
	uint64_t t0 = net_now_ms(), dt;
	int fd = rogue__connect(net, target, 15), rc;

	if (fd < 0)
		return -1;
	randombytes_buf(part, sizeof(part));
	rc = rogue__write(fd, part, sizeof(part)) == 0 && rogue__closed_silently(fd) ? 0 : -1;
	dt = net_now_ms() - t0;
	close(fd);
	/* The deadline is 5 s: well before our 15 s read timeout. */
	if (rc != 0 || dt > 12000) {
		fprintf(stderr, "rogue_truncated_handshake: not dropped by the deadline (%llu ms)\n",
			(unsigned long long)dt);
		return -1;
	}
	return 0;
}

int rogue_replayed_msg1(struct net *net, size_t target)
{
	struct tj_identity *id = rogue__member(net, 1);
	struct rogue r = {.fd = -1}, again = {.fd = -1};
	uint8_t msg2[TJ_SHS_MSG2_BYTES];
	int rc = -1;

	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0)
		goto out;
	again.fd = rogue__connect(net, target, 10);
	/* The server answers any well-formed msg1 with a fresh msg2; the old msg3 cannot match it. */
	if (again.fd < 0 || rogue__write(again.fd, r.msg1, sizeof(r.msg1)) != 0 ||
	    rogue__read(again.fd, msg2, sizeof(msg2)) != 0 || rogue__write(again.fd, r.msg3, sizeof(r.msg3)) != 0)
		goto out;
	rc = rogue__closed_silently(again.fd) ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "rogue_replayed_msg1: replay not refused\n");
	rogue__free(&r);
	rogue__free(&again);
	tj_identity_free(id);
	return rc;
}

int rogue_stranger(struct net *net, size_t target)
{
	struct tj_identity *id = NULL;
	struct rogue r = {.fd = -1};
	int rc = -1;

	if (tj_identity_generate(&id) == 0)
		rc = rogue__handshake(net, target, id, &r, false);
	if (rc != 0)
		fprintf(stderr, "rogue_stranger: a non-member got past msg3\n");
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

/* A record by id with a random body, sealed to its author only; sig flipped when bad. */
static int rogue__record(struct net *net, const struct tj_identity *id, uint64_t seq, bool bad, uint8_t *out,
			 size_t cap, size_t *len)
{
	const uint8_t(*readers)[32] = (const uint8_t(*)[32])id->pk;
	uint8_t body[64], rid[32];
	struct tj_seal_in in;
	struct tj_record rec;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, net->network_id, 32);
	in.seq = seq;
	in.has_prev = true;
	randombytes_buf(in.prev, 32);
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_INCIDENT;
	in.audience.type = TJ_AUD_NAMED;
	in.readers = readers;
	in.n_readers = 1;
	randombytes_buf(body, sizeof(body));
	in.body = body;
	in.body_len = sizeof(body);
	if (tj_record_seal(&in, id, out, cap, len, rid) != 0 || tj_record_decode(out, *len, &rec) != 0)
		return -1;
	if (bad)
		out[rec.signed_len + 2 + 17] ^= 0x01; /* one bit of the signature, past its bin header */
	return 0;
}

static int rogue__push(struct rogue *r, const uint8_t *const *recs, const size_t *lens, size_t n)
{
	size_t cap = 64 + n * (TJ_RECORD_MAX_BYTES / 16), len = 0;
	uint8_t *buf = malloc(cap);
	struct tj_mp_writer w;
	int rc = -1;

	if (buf == NULL)
		return -1;
	tj_mp_writer_init(&w, buf, cap);
	tj_wire_put_records_head(&w, TJ_WIRE_PUSH, false, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		tj_mp_put_bin(&w, recs[i], lens[i]);
	if (tj_mp_writer_finish(&w, &len) == 0)
		rc = rogue__send(r, buf, len);
	free(buf);
	return rc;
}

static bool rogue__wait_log(struct net *net, size_t target, const char *needle, unsigned ms)
{
	for (uint64_t until = net_now_ms() + ms; net_now_ms() < until; net_sleep_ms(100))
		if (net_log_has(net, target, needle))
			return true;
	return false;
}

int rogue_bad_signature(struct net *net, size_t target, size_t member)
{
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	uint8_t rec[2048];
	const uint8_t *recs[1] = {rec};
	size_t len = 0;
	int rc = -1;

	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0 || rogue__hello(net, &r) != 0)
		goto out;
	if (rogue__record(net, id, 1, true, rec, sizeof(rec), &len) != 0 || rogue__push(&r, recs, &len, 1) != 0)
		goto out;
	rc = rogue__wait_log(net, target, "refused a record from", 10000) ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "rogue_bad_signature: no refusal logged\n");
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

int rogue_flood(struct net *net, size_t target, size_t member)
{
	enum { PER_MSG = 100, MSGS = 40, REC_BYTES = 120 };
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	static uint8_t recs[PER_MSG][REC_BYTES];
	const uint8_t *ptrs[PER_MSG];
	size_t lens[PER_MSG];
	int rc = -1;

	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0 || rogue__hello(net, &r) != 0)
		goto out;
	for (size_t i = 0; i < PER_MSG; i++) {
		randombytes_buf(recs[i], REC_BYTES);
		ptrs[i] = recs[i];
		lens[i] = REC_BYTES;
	}
	/* The node stops reading while throttled: a send may block, then fail once it drops us. */
	for (unsigned m = 0; m < MSGS; m++)
		if (rogue__push(&r, ptrs, lens, PER_MSG) != 0)
			break;
	rc = rogue__wait_log(net, target, "times in a minute; dropped", 20000) ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "rogue_flood: the flooding peer was not dropped\n");
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

int rogue_silent_member(struct net *net, size_t target, size_t member, unsigned max_ms, uint64_t *dt_ms)
{
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	uint64_t t0 = net_now_ms(), until = t0 + max_ms;
	uint8_t buf[4096];
	int rc = -1;

	*dt_ms = 0;
	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0 || rogue__hello(net, &r) != 0)
		goto out;
	t0 = net_now_ms();
	/* Read (the node's HELLO, its reconciliation, its probes) and answer nothing, until it hangs up. */
	while (net_now_ms() < until) {
		ssize_t n = recv(r.fd, buf, sizeof(buf), 0);
		if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)))
			continue;
		*dt_ms = net_now_ms() - t0;
		rc = 0;
		break;
	}
out:
	if (rc != 0)
		fprintf(stderr, "rogue_silent_member: the silent member was not cut within %u ms\n", max_ms);
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

/* One connection from src with a valid msg1: 1 when a msg2 came back, 0 when closed without one, -1 on error. */
static int rogue__msg1_answered(struct net *net, size_t target, const char *src, const struct tj_identity *id)
{
	uint8_t out[TJ_SHS_OUT_MAX_BYTES], in[TJ_SHS_MSG2_BYTES];
	struct tj_shs *h = NULL;
	size_t olen = 0;
	int fd = rogue__connect_from(net, target, 5, src), rc = -1;

	if (fd < 0 || tj_shs_client_new(net->network_key, id, net->nodes[target].pk, &h) != 0 ||
	    tj_shs_step(h, NULL, 0, out, sizeof(out), &olen) != 0)
		goto out;
	errno = 0;
	if (rogue__write(fd, out, olen) != 0)
		rc = 0; /* a refused connection may be reset before msg1 is even written */
	else if (rogue__read(fd, in, sizeof(in)) == 0)
		rc = 1;
	else /* closed (EOF or reset): refused; a timeout is neither an answer nor a refusal */
		rc = errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
out:
	tj_shs_free(h);
	if (fd >= 0)
		close(fd);
	return rc;
}

int rogue_hs_burst(struct net *net, size_t target, const char *src, unsigned n, unsigned *answered,
		   unsigned *refused)
{
	struct tj_identity *id = rogue__member(net, 1);
	int rc = 0;

	*answered = *refused = 0;
	for (unsigned i = 0; i < n && rc == 0 && id != NULL; i++) {
		int a = rogue__msg1_answered(net, target, src, id);
		if (a < 0)
			rc = -1;
		else if (a > 0)
			(*answered)++;
		else
			(*refused)++;
	}
	tj_identity_free(id);
	if (rc != 0 || id == NULL)
		fprintf(stderr, "rogue_hs_burst: a connection from %s failed or timed out\n", src);
	return id == NULL ? -1 : rc;
}

int rogue_member_from(struct net *net, size_t target, size_t member, const char *src)
{
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	uint8_t buf[TJ_BOXSTREAM_FRAME_MAX_BYTES];
	struct tj_boxstream_chunk ch;
	int rc = -1;

	if (id == NULL || rogue__handshake_from(net, target, id, &r, true, src) != 0)
		goto out;
	/* The node speaks first once the handshake is done: its HELLO (bounded: the socket has a timeout). */
	for (unsigned reads = 0; reads < 64 && rc != 0; reads++) {
		ssize_t got = recv(r.fd, buf, sizeof(buf), 0);
		size_t off = 0, used = 0;
		if (got <= 0)
			break;
		while (off < (size_t)got && rc != 0) {
			if (tj_boxstream_read(r.dec, buf + off, (size_t)got - off, &used, &ch) != 0)
				goto out;
			off += used;
			rc = ch.event == TJ_BOXSTREAM_DATA ? 0 : -1;
		}
	}
out:
	if (rc != 0)
		fprintf(stderr, "rogue_member_from: member %zu from %s was not accepted\n", member, src);
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

/* Bytes read from the node and not yet decoded. */
struct rogue_rx {
	uint8_t buf[TJ_BOXSTREAM_FRAME_MAX_BYTES];
	size_t have, off;
};

/*
 * The next whole message from the node (valid until the next call): 1 with
 * *msg and *len set, 0 when the node closed, -1 on a timeout or bad bytes.
 * The node seals each message on its own, so a message ends with a frame.
 */
static int rogue__next_msg(struct rogue *r, struct rogue_rx *rx, const uint8_t **msg, size_t *len)
{
	struct tj_boxstream_chunk ch;

	for (unsigned reads = 0; reads < 1000; reads++) {
		while (rx->off < rx->have) {
			size_t used = 0, take = 0;
			if (tj_boxstream_read(r->dec, rx->buf + rx->off, rx->have - rx->off, &used, &ch) != 0)
				return -1;
			rx->off += used;
			if (ch.event == TJ_BOXSTREAM_GOODBYE)
				return 0;
			for (size_t o = 0; ch.event == TJ_BOXSTREAM_DATA && o < ch.len; o += take) {
				*msg = NULL;
				if (tj_boxstream_reasm_push(r->reasm, ch.data + o, ch.len - o, &take, msg, len) != 0)
					return -1;
				if (*msg != NULL)
					return 1;
			}
		}
		ssize_t got = recv(r->fd, rx->buf, sizeof(rx->buf), 0);
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return 0;
		if (got < 0 && errno != EINTR)
			return -1;
		rx->have = got > 0 ? (size_t)got : 0;
		rx->off = 0;
	}
	return -1;
}

int rogue_probe_answer(struct net *net, size_t target, size_t member)
{
	static struct tj_wire_msg m;
	static struct rogue_rx rx;
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	const uint8_t *msg = NULL;
	uint8_t rec[2048];
	const uint8_t *recs[1] = {rec};
	uint8_t out[2200];
	struct tj_mp_writer w;
	size_t len = 0, rlen = 0;
	bool answered = false;
	int rc = -1, got;

	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0 || rogue__hello(net, &r) != 0 ||
	    rogue__record(net, id, 1, false, rec, sizeof(rec), &rlen) != 0)
		goto out;
	memset(&rx, 0, sizeof(rx));
	/* Everything after the node's HELLO decodes as a later message; the HELLO itself is skipped. */
	while ((got = rogue__next_msg(&r, &rx, &msg, &len)) == 1) {
		if (answered || tj_wire_decode(msg, len, true, &m) != 0 || m.type != TJ_WIRE_WANT || m.n_ids != 1 ||
		    memcmp(m.ids[0], tj_wire_probe_id, 32) != 0)
			continue;
		tj_mp_writer_init(&w, out, sizeof(out));
		tj_wire_put_records_head(&w, TJ_WIRE_RECORDS, true, 1);
		tj_mp_put_bin(&w, recs[0], rlen);
		if (tj_mp_writer_finish(&w, &len) != 0 || rogue__send(&r, out, len) != 0)
			break;
		answered = true;
	}
	rc = answered && got == 0 && rogue__wait_log(net, target, "sent records nobody asked for", 5000) ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "rogue_probe_answer: the node did not drop a peer that answered its probe with a record\n");
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}

int rogue_probe_flood(struct net *net, size_t target, size_t member)
{
	struct tj_identity *id = rogue__member(net, member);
	struct rogue r = {.fd = -1};
	uint8_t probe[64];
	struct tj_mp_writer w;
	size_t len = 0;
	int rc = -1;

	if (id == NULL || rogue__handshake(net, target, id, &r, true) != 0 || rogue__hello(net, &r) != 0)
		goto out;
	tj_mp_writer_init(&w, probe, sizeof(probe));
	tj_wire_put_ids(&w, TJ_WIRE_WANT, tj_wire_probe_id, 1);
	if (tj_mp_writer_finish(&w, &len) != 0)
		goto out;
	/* The node stops reading while throttled: a send may block, then fail once it drops us.
	 * A node slowed down by a busy machine refills its bucket while it reads, so the flood
	 * goes on (at most 15 s, 60,000 probes) until the node says it throttled. */
	uint64_t until = net_now_ms() + 15000;
	for (unsigned i = 0; i < 60000 && net_now_ms() < until; i++) {
		if (rogue__send(&r, probe, len) != 0)
			break;
		if (i % 500 == 499 && net_log_has(net, target, "message quota"))
			break;
	}
	rc = rogue__wait_log(net, target, "message quota", 20000) ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "rogue_probe_flood: the node did not throttle a peer flooding probes\n");
	rogue__free(&r);
	tj_identity_free(id);
	return rc;
}
