/*
 * bs_echo: a libuv TCP server built from the SHS and box-stream state
 * machines, for the interop test js_client.js (test code only).
 *
 *   bs_echo APP_KEY_HEX SERVER_SEED_HEX ALLOWED_CLIENT_PK_HEX|any CONNECTIONS DEADLINE_MS
 *
 * Listens on 127.0.0.1 port 0 and prints "PORT <n>" on stdout. Each
 * connection does the handshake under a DEADLINE_MS timer (the server says
 * nothing to a client that fails msg1, and sends no msg4 to a client that
 * is not ALLOWED), then echoes every box-stream frame back re-sealed. On the
 * peer's goodbye it answers with its own goodbye and closes. After
 * CONNECTIONS connections it exits 0; after TOTAL_MS it gives up and exits 3.
 * One line per connection on stderr: "conn <i>: <result>" (no keys, no data).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "tj_boxstream.h"
#include "tj_keys.h"
#include "tj_shs.h"

#define BS_ECHO_TOTAL_MS 60000
#define BS_ECHO_MAX_CONNECTIONS 64

struct server;

struct conn {
	uv_tcp_t tcp;
	uv_timer_t deadline;
	struct server *srv;
	struct conn *next; /* in srv->conns */
	unsigned index;
	int open_handles;
	bool closing;
	struct tj_shs *shs;
	uint8_t hs_buf[TJ_SHS_MSG3_BYTES];
	size_t hs_fill;
	struct tj_boxstream *tx, *rx;
	const char *result;
};

struct server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_timer_t overall;
	uint8_t app[TJ_SHS_APP_KEY_BYTES];
	struct tj_identity *id;
	bool any;
	uint8_t allowed[32];
	unsigned expected, accepted, finished;
	uint64_t deadline_ms;
	struct conn *conns;
	bool stopping;
	int status;
};

/* A write owns its bytes; freed in the callback whatever the status. */
struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	uint8_t data[];
};

static void conn_close(struct conn *c, const char *result);

static void server_stop(struct server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	uv_close((uv_handle_t *)&srv->listener, NULL); /* embedded in main's stack frame */
	uv_close((uv_handle_t *)&srv->overall, NULL);
	for (struct conn *c = srv->conns; c != NULL; c = c->next)
		conn_close(c, "server stopped");
}

static void conn_unlink(struct conn *c)
{
	struct conn **pp = &c->srv->conns;

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next;
	if (*pp == c)
		*pp = c->next;
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct server *srv = c->srv;

	if (--c->open_handles > 0)
		return;
	fprintf(stderr, "conn %u: %s\n", c->index, c->result);
	conn_unlink(c);
	tj_shs_free(c->shs);
	tj_boxstream_free(c->tx);
	tj_boxstream_free(c->rx);
	sodium_memzero(c->hs_buf, sizeof(c->hs_buf));
	free(c);
	srv->finished++;
	if (srv->finished >= srv->expected)
		server_stop(srv);
}

static void conn_close(struct conn *c, const char *result)
{
	if (c->closing)
		return;
	c->closing = true;
	c->result = result;
	tj_shs_abort(c->shs); /* wipes whatever the handshake still holds */
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->deadline);
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->deadline, on_conn_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;

	sodium_memzero(w->data, w->len);
	free(w);
	if (status != 0 && !c->closing)
		conn_close(c, "write failed");
}

/* A write request with room for len bytes; the caller fills w->data. */
static struct wreq *wreq_new(struct conn *c, size_t len)
{
	struct wreq *w = malloc(sizeof(*w) + len);

	if (w == NULL)
		return NULL;
	w->c = c;
	w->len = len;
	return w;
}

static int wreq_send(struct wreq *w)
{
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
	int rc = uv_write(&w->req, (uv_stream_t *)&w->c->tcp, &b, 1, on_written);

	if (rc != 0) { /* the callback will not run */
		free(w);
		return rc;
	}
	return 0;
}

static int send_copy(struct conn *c, const uint8_t *p, size_t n)
{
	struct wreq *w = wreq_new(c, n);

	if (w == NULL)
		return -ENOMEM;
	memcpy(w->data, p, n);
	return wreq_send(w);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	free(req);
	conn_close(c, c->result);
}

static bool authorize(void *ctx, const uint8_t client_pk[32])
{
	struct server *srv = ctx;

	return srv->any || sodium_memcmp(client_pk, srv->allowed, 32) == 0;
}

static void on_deadline(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->closing)
		return;
	if (tj_shs_state(c->shs) != TJ_SHS_DONE)
		conn_close(c, "handshake deadline");
}

/* The handshake finished: move the keys into two box-streams and wipe them. */
static int start_streams(struct conn *c)
{
	struct tj_shs_keys k;
	int rc = tj_shs_take_keys(c->shs, &k);

	if (rc == 0)
		rc = tj_boxstream_new(k.enc_key, k.enc_nonce, &c->tx);
	if (rc == 0)
		rc = tj_boxstream_new(k.dec_key, k.dec_nonce, &c->rx);
	sodium_memzero(&k, sizeof(k));
	uv_timer_stop(&c->deadline);
	return rc;
}

/* Handshake bytes; returns how many of p it used, or a negative error. */
static int feed_handshake(struct conn *c, const uint8_t *p, size_t n, size_t *used)
{
	uint8_t out[TJ_SHS_OUT_MAX_BYTES];
	size_t need = tj_shs_need(c->shs), k = need - c->hs_fill, out_len = 0;
	int rc;

	if (k > n)
		k = n;
	memcpy(c->hs_buf + c->hs_fill, p, k);
	c->hs_fill += k;
	*used = k;
	if (c->hs_fill < need)
		return 0;
	c->hs_fill = 0;
	rc = tj_shs_step(c->shs, c->hs_buf, need, out, sizeof(out), &out_len);
	if (rc == 0 && out_len > 0)
		rc = send_copy(c, out, out_len);
	if (rc == 0 && tj_shs_state(c->shs) == TJ_SHS_DONE)
		rc = start_streams(c);
	sodium_memzero(out, sizeof(out));
	return rc;
}

/* Echoes one frame's plaintext, re-sealed. */
static int echo(struct conn *c, const uint8_t *p, size_t n)
{
	size_t len = tj_boxstream_sealed_bytes(n), got = 0;
	struct wreq *w;
	int rc;

	if (len == 0)
		return 0;
	w = wreq_new(c, len);
	if (w == NULL)
		return -ENOMEM;
	rc = tj_boxstream_seal(c->tx, p, n, w->data, len, &got);
	if (rc != 0) {
		free(w);
		return rc;
	}
	return wreq_send(w);
}

/* The peer said goodbye: say goodbye, flush, close. */
static int goodbye(struct conn *c)
{
	uint8_t bye[TJ_BOXSTREAM_GOODBYE_BYTES];
	uv_shutdown_t *req;
	int rc = tj_boxstream_goodbye(c->tx, bye);

	if (rc == 0)
		rc = send_copy(c, bye, sizeof(bye));
	if (rc != 0)
		return rc;
	req = malloc(sizeof(*req));
	if (req == NULL)
		return -ENOMEM;
	req->data = c;
	c->result = "goodbye";
	rc = uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown);
	if (rc != 0)
		free(req);
	return rc;
}

static int feed_stream(struct conn *c, const uint8_t *p, size_t n, size_t *used)
{
	struct tj_boxstream_chunk ch;
	int rc = tj_boxstream_read(c->rx, p, n, used, &ch);

	if (rc != 0)
		return rc;
	if (ch.event == TJ_BOXSTREAM_DATA)
		return echo(c, ch.data, ch.len);
	if (ch.event == TJ_BOXSTREAM_GOODBYE) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		return goodbye(c);
	}
	return 0;
}

static void feed(struct conn *c, const uint8_t *p, size_t n)
{
	size_t pos = 0;

	/* Bounded: every round uses at least one byte or fails. */
	while (pos < n && !c->closing && !tj_boxstream_closed(c->rx)) {
		size_t used = 0;
		int rc = c->rx == NULL ? feed_handshake(c, p + pos, n - pos, &used)
				       : feed_stream(c, p + pos, n - pos, &used);
		if (rc != 0) {
			conn_close(c, tj_errname(rc));
			return;
		}
		pos += used;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base != NULL ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (!c->closing && nread > 0)
		feed(c, (const uint8_t *)buf->base, (size_t)nread);
	else if (!c->closing && nread < 0) {
		const char *why = "read error";
		if (nread == UV_EOF && c->rx == NULL)
			why = "eof during handshake";
		else if (nread == UV_EOF)
			why = tj_boxstream_end(c->rx) == 0 ? "goodbye" : "cut";
		conn_close(c, why);
	}
	if (buf->base != NULL) {
		if (nread > 0)
			sodium_memzero(buf->base, (size_t)nread);
		free(buf->base);
	}
}

static int conn_start(struct server *srv, struct conn *c)
{
	int rc;

	c->srv = srv;
	c->index = srv->accepted++;
	c->result = "open";
	c->tcp.data = c;
	c->deadline.data = c;
	rc = uv_tcp_init(srv->loop, &c->tcp);
	if (rc != 0)
		return rc;
	c->open_handles = 1;
	c->next = srv->conns;
	srv->conns = c;
	rc = uv_timer_init(srv->loop, &c->deadline);
	if (rc != 0)
		return rc;
	c->open_handles = 2;
	rc = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp);
	if (rc == 0)
		rc = uv_timer_start(&c->deadline, on_deadline, srv->deadline_ms, 0);
	if (rc == 0)
		rc = tj_shs_server_new(srv->app, srv->id, authorize, srv, &c->shs);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	return rc;
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct server *srv = listener->data;
	struct conn *c;
	int rc;

	if (status != 0 || srv->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	rc = conn_start(srv, c);
	if (rc == 0)
		return;
	if (c->open_handles == 0) { /* nothing registered with the loop yet */
		free(c);
		return;
	}
	if (c->open_handles == 1) { /* only the tcp handle: close it alone */
		c->closing = true;
		c->result = tj_errname(rc);
		c->open_handles = 1;
		uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
		return;
	}
	conn_close(c, tj_errname(rc));
}

static void on_overall(uv_timer_t *t)
{
	struct server *srv = t->data;

	fprintf(stderr, "bs_echo: gave up after %d ms\n", BS_ECHO_TOTAL_MS);
	srv->status = 3;
	server_stop(srv);
}

static int parse_args(struct server *srv, int argc, char **argv)
{
	uint8_t seed[32];
	char *end = NULL;
	unsigned long n, ms;
	int rc;

	if (argc != 6 || tj_unhex(argv[1], srv->app, 32) != 0 || tj_unhex(argv[2], seed, 32) != 0)
		return -EINVAL;
	srv->any = strcmp(argv[3], "any") == 0;
	if (!srv->any && tj_unhex(argv[3], srv->allowed, 32) != 0)
		return -EINVAL;
	n = strtoul(argv[4], &end, 10);
	if (*end != '\0' || n == 0 || n > BS_ECHO_MAX_CONNECTIONS)
		return -EINVAL;
	ms = strtoul(argv[5], &end, 10);
	if (*end != '\0' || ms == 0 || ms > BS_ECHO_TOTAL_MS)
		return -EINVAL;
	srv->expected = (unsigned)n;
	srv->deadline_ms = ms;
	rc = tj_identity_from_seed(seed, &srv->id);
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

static int listen_local(struct server *srv)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	int rc;

	srv->listener.data = srv;
	srv->overall.data = srv;
	rc = uv_ip4_addr("127.0.0.1", 0, &addr);
	if (rc == 0)
		rc = uv_tcp_init(srv->loop, &srv->listener);
	if (rc == 0)
		rc = uv_timer_init(srv->loop, &srv->overall);
	if (rc != 0)
		return rc;
	rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&srv->listener, 16, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
	if (rc == 0)
		rc = uv_timer_start(&srv->overall, on_overall, BS_ECHO_TOTAL_MS, 0);
	if (rc != 0)
		return rc;
	printf("PORT %u\n", (unsigned)ntohs(((struct sockaddr_in *)&bound)->sin_port));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct server srv;
	uv_loop_t loop;
	int rc;

	memset(&srv, 0, sizeof(srv));
	if (sodium_init() < 0 || parse_args(&srv, argc, argv) != 0) {
		fprintf(stderr, "usage: bs_echo APP_KEY_HEX SERVER_SEED_HEX CLIENT_PK_HEX|any CONNECTIONS DEADLINE_MS\n");
		tj_identity_free(srv.id);
		return 2;
	}
	if (uv_loop_init(&loop) != 0)
		return 1;
	srv.loop = &loop;
	rc = listen_local(&srv);
	if (rc != 0) {
		fprintf(stderr, "bs_echo: cannot listen: %s\n", uv_strerror(rc));
		srv.status = 1;
		server_stop(&srv);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc != 0) {
		fprintf(stderr, "bs_echo: loop not empty at exit\n");
		srv.status = 1;
	}
	tj_identity_free(srv.id);
	sodium_memzero(srv.app, sizeof(srv.app));
	return srv.status;
}
