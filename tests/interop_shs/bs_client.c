/*
 * bs_client: our SHS client and box-stream over a blocking socket, against
 * the secret-handshake + pull-box-stream echo server of js_server.js (test
 * code only).
 *
 *   bs_client PORT APP_KEY_HEX SERVER_PK_HEX CLIENT_SEED_HEX [refused]
 *
 * Connects to 127.0.0.1:PORT, does the handshake, sends raw writes of 5,
 * 10000, 4096 and 1 bytes and checks the echo; sends length-prefixed
 * messages of 20000 and 0 bytes and reassembles their echo; sends one of
 * 70000 bytes and checks that the reassembler (bound 64 KiB + 64) refuses
 * it from its prefix alone; then says goodbye and expects the server's
 * goodbye (a clean close, not a cut). Exit 0 only if all of that held.
 * With "refused": exit 0 only if the server hangs up after msg3 without
 * sending msg4 (the client key is not one it admits).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "shs1_io.h"
#include "tj_boxstream.h"
#include "tj_keys.h"
#include "tj_shs.h"

#define BS_CLIENT_TIMEOUT_S 10
#define BS_CLIENT_REASM_MAX (64 * 1024 + 64)
#define BS_CLIENT_MAX_ROUNDS 1000000

struct rx {
	int fd;
	struct tj_boxstream *bs;
	uint8_t buf[8192];
	size_t have, pos;
	struct tj_boxstream_chunk cur; /* the chunk being fed to the reassembler */
	size_t cur_off;
};

static int dial(unsigned port)
{
	struct sockaddr_in addr;
	struct timeval tv = {.tv_sec = BS_CLIENT_TIMEOUT_S};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* every wait is bounded: a silent server makes recv fail */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int handshake(int fd, struct tj_shs *h, struct tj_boxstream **tx, struct tj_boxstream **rxs)
{
	uint8_t in[TJ_SHS_OUT_MAX_BYTES], out[TJ_SHS_OUT_MAX_BYTES];
	struct tj_shs_keys k;
	int rc = 0;

	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 3 && rc == 0; i++) { /* msg1; msg2 -> msg3; msg4 */
		size_t need = tj_shs_need(h), out_len = 0;
		if (need > 0 && shs1_read_full(fd, in, need) != 0)
			return -EIO;
		rc = tj_shs_step(h, in, need, out, sizeof(out), &out_len);
		if (rc == 0 && shs1_write_full(fd, out, out_len) != 0)
			rc = -EIO;
	}
	if (rc == 0)
		rc = tj_shs_take_keys(h, &k);
	if (rc == 0)
		rc = tj_boxstream_new(k.enc_key, k.enc_nonce, tx);
	if (rc == 0)
		rc = tj_boxstream_new(k.dec_key, k.dec_nonce, rxs);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

/* The next DATA or GOODBYE chunk; TJ_ETRUNC if the server hangs up first. */
static int next_chunk(struct rx *r, struct tj_boxstream_chunk *ch)
{
	for (int round = 0; round < BS_CLIENT_MAX_ROUNDS; round++) {
		size_t used = 0;
		int rc;
		if (r->pos == r->have) {
			ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), 0);
			if (n < 0)
				return -errno;
			if (n == 0)
				return tj_boxstream_end(r->bs);
			r->have = (size_t)n;
			r->pos = 0;
		}
		rc = tj_boxstream_read(r->bs, r->buf + r->pos, r->have - r->pos, &used, ch);
		if (rc != 0)
			return rc;
		r->pos += used;
		if (ch->event != TJ_BOXSTREAM_NONE)
			return 0;
	}
	return -ETIMEDOUT;
}

static uint8_t *pattern(size_t n, unsigned mul)
{
	uint8_t *p = malloc(n > 0 ? n : 1);

	for (size_t i = 0; p != NULL && i < n; i++)
		p[i] = (uint8_t)((i * mul + 1) & 0xffu);
	return p;
}

/* Seals (raw or as a message) and sends. */
static int send_sealed(int fd, struct tj_boxstream *tx, const uint8_t *p, size_t n, int as_msg)
{
	size_t cap = as_msg ? tj_boxstream_msg_sealed_bytes(n) : tj_boxstream_sealed_bytes(n), len = 0;
	uint8_t *wire = malloc(cap > 0 ? cap : 1);
	int rc = -ENOMEM;

	if (wire == NULL)
		return rc;
	rc = as_msg ? tj_boxstream_seal_msg(tx, p, n, wire, cap, &len) : tj_boxstream_seal(tx, p, n, wire, cap, &len);
	if (rc == 0 && shs1_write_full(fd, wire, len) != 0)
		rc = -EIO;
	free(wire);
	return rc;
}

/* Raw writes: the echo must give back exactly the concatenation. */
static int check_echo(int fd, struct tj_boxstream *tx, struct rx *r)
{
	static const size_t sizes[] = {5, 10000, 4096, 1};
	size_t total = 0, got = 0;
	uint8_t *all, *back;
	int rc = 0;

	for (size_t i = 0; i < 4; i++)
		total += sizes[i];
	all = pattern(total, 7);
	back = malloc(total);
	if (all == NULL || back == NULL)
		rc = -ENOMEM;
	for (size_t i = 0, off = 0; rc == 0 && i < 4; off += sizes[i], i++)
		rc = send_sealed(fd, tx, all + off, sizes[i], 0);
	while (rc == 0 && got < total) {
		struct tj_boxstream_chunk ch;
		rc = next_chunk(r, &ch);
		if (rc == 0 && (ch.event != TJ_BOXSTREAM_DATA || ch.len > total - got))
			rc = TJ_EPROTO;
		if (rc == 0) {
			memcpy(back + got, ch.data, ch.len);
			got += ch.len;
		}
	}
	if (rc == 0 && memcmp(all, back, total) != 0)
		rc = TJ_EPROTO;
	if (rc == 0)
		fprintf(stderr, "bs_client: echo of %zu bytes ok\n", total);
	free(all);
	free(back);
	return rc;
}

/* Feeds echoed bytes to the reassembler until it yields one message or fails. */
static int next_msg(struct rx *r, struct tj_boxstream_reasm *ra, const uint8_t **msg, size_t *len)
{
	for (int round = 0; round < BS_CLIENT_MAX_ROUNDS; round++) {
		size_t took = 0;
		int rc;
		if (r->cur_off == r->cur.len) {
			rc = next_chunk(r, &r->cur);
			if (rc == 0 && r->cur.event != TJ_BOXSTREAM_DATA)
				rc = TJ_EPROTO;
			if (rc != 0)
				return rc;
			r->cur_off = 0;
		}
		rc = tj_boxstream_reasm_push(ra, r->cur.data + r->cur_off, r->cur.len - r->cur_off, &took, msg, len);
		r->cur_off += took;
		if (rc != 0 || *msg != NULL) {
			if (rc == TJ_ELIMIT && took != TJ_BOXSTREAM_MSG_PREFIX_BYTES)
				return TJ_EPROTO; /* the bound must hold on the prefix alone */
			return rc;
		}
	}
	return -ETIMEDOUT;
}

static int check_messages(int fd, struct tj_boxstream *tx, struct rx *r)
{
	static const size_t sizes[] = {20000, 0};
	struct tj_boxstream_reasm *ra = NULL;
	uint8_t *big = pattern(70000, 3);
	int rc = tj_boxstream_reasm_new(BS_CLIENT_REASM_MAX, &ra);

	if (big == NULL)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = send_sealed(fd, tx, big, sizes[i], 1);
	for (size_t i = 0; rc == 0 && i < 2; i++) {
		const uint8_t *m = NULL;
		size_t len = 0;
		rc = next_msg(r, ra, &m, &len);
		if (rc == 0 && (len != sizes[i] || (len > 0 && memcmp(m, big, len) != 0)))
			rc = TJ_EPROTO;
	}
	if (rc == 0)
		fprintf(stderr, "bs_client: reassembled 20000 + 0 byte messages ok\n");
	if (rc == 0)
		rc = send_sealed(fd, tx, big, 70000, 1);
	if (rc == 0) {
		const uint8_t *m = NULL;
		size_t len = 0;
		rc = next_msg(r, ra, &m, &len);
		rc = rc == TJ_ELIMIT ? 0 : TJ_EPROTO;
	}
	if (rc == 0)
		fprintf(stderr, "bs_client: 70000-byte message refused from its prefix ok\n");
	tj_boxstream_reasm_free(ra);
	free(big);
	return rc;
}

/* Drains the rest of the refused message, says goodbye, expects goodbye. */
static int check_goodbye(int fd, struct tj_boxstream *tx, struct rx *r)
{
	uint8_t bye[TJ_BOXSTREAM_GOODBYE_BYTES];
	struct tj_boxstream_chunk ch = {0};
	int rc = tj_boxstream_goodbye(tx, bye);

	if (rc == 0 && shs1_write_full(fd, bye, sizeof(bye)) != 0)
		rc = -EIO;
	for (int i = 0; rc == 0 && i < BS_CLIENT_MAX_ROUNDS && ch.event != TJ_BOXSTREAM_GOODBYE; i++)
		rc = next_chunk(r, &ch);
	if (rc == 0 && ch.event != TJ_BOXSTREAM_GOODBYE)
		rc = TJ_EPROTO;
	if (rc == 0)
		rc = tj_boxstream_end(r->bs);
	if (rc == 0)
		fprintf(stderr, "bs_client: goodbye exchanged, clean close\n");
	return rc;
}

int main(int argc, char **argv)
{
	uint8_t app[32], server_pk[32], seed[32];
	struct tj_identity *id = NULL;
	struct tj_shs *h = NULL;
	struct tj_boxstream *tx = NULL;
	struct rx r = {.fd = -1};
	char *end = NULL;
	unsigned long port;
	int rc;

	if ((argc != 5 && (argc != 6 || strcmp(argv[5], "refused") != 0)) || sodium_init() < 0 || tj_unhex(argv[2], app, 32) != 0 ||
	    tj_unhex(argv[3], server_pk, 32) != 0 || tj_unhex(argv[4], seed, 32) != 0) {
		fprintf(stderr, "usage: bs_client PORT APP_KEY_HEX SERVER_PK_HEX CLIENT_SEED_HEX [refused]\n");
		return 2;
	}
	port = strtoul(argv[1], &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return 2;
	rc = tj_identity_from_seed(seed, &id);
	sodium_memzero(seed, sizeof(seed));
	if (rc == 0)
		rc = tj_shs_client_new(app, id, server_pk, &h);
	if (rc == 0 && (r.fd = dial((unsigned)port)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = handshake(r.fd, h, &tx, &r.bs);
	if (argc == 6) { /* the refusal is the expected outcome */
		bool refused = rc == -EIO && tj_shs_state(h) == TJ_SHS_CLIENT_AWAIT_MSG4;
		fprintf(stderr, "bs_client: %s\n", refused ? "refused after msg3, no msg4: ok" : "NOT refused as expected");
		rc = refused ? 0 : TJ_EPROTO;
		goto out;
	}
	if (rc == 0)
		fprintf(stderr, "bs_client: handshake ok\n");
	if (rc == 0)
		rc = check_echo(r.fd, tx, &r);
	if (rc == 0)
		rc = check_messages(r.fd, tx, &r);
	if (rc == 0)
		rc = check_goodbye(r.fd, tx, &r);
out:
	if (rc != 0)
		fprintf(stderr, "bs_client: FAILED: %s\n", tj_errname(rc));
	if (r.fd >= 0)
		close(r.fd);
	sodium_memzero(r.buf, sizeof(r.buf));
	tj_boxstream_free(tx);
	tj_boxstream_free(r.bs);
	tj_shs_free(h);
	tj_identity_free(id);
	return rc == 0 ? 0 : 1;
}
