/*
 * The peer layer's transport: listener, dialer, handshake, box-stream,
 * quotas and the lifecycle (see tj_peer.h). The application protocol is in
 * tj_sync.c, the address book in tj_peer_book.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tj_ingest.h"
#include "tj_keyring.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_peer_int.h"

static struct tj_peers *tj__active;
static uint32_t tj__ping_ms = TJ_PEER_PING_MS, tj__dead_ms = TJ_PEER_DEAD_MS;

struct tj__wreq {
	uv_write_t req;
	struct tj__conn *c;
	size_t len;
	bool waited;            /* the kernel could not take it at once */
	uint8_t buf[];
};

uint64_t tj__mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct tj_peers *tj_peers_active(void)
{
	return tj__active;
}

void tj_peers_set_liveness(uint32_t ping_ms, uint32_t dead_ms)
{
	tj__ping_ms = ping_ms != 0 ? ping_ms : TJ_PEER_PING_MS;
	tj__dead_ms = dead_ms != 0 ? dead_ms : TJ_PEER_DEAD_MS;
}

const char *tj_peers_listen_addr(const struct tj_peers *p)
{
	return p != NULL ? p->listen_addr : "";
}

bool tj__bucket_take(struct tj__bucket *b, double n, double rate, double burst)
{
	uint64_t now = tj__mono_ms();

	if (b->last_ms == 0) {
		b->tokens = burst;
	} else if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = now;
	if (b->tokens < n)
		return false;
	b->tokens -= n;
	return true;
}

struct tj__pstat *tj__pstat_for(struct tj_peers *P, const uint8_t pk[32])
{
	struct tj__pstat *free_slot = NULL;

	for (size_t i = 0; i < TJ_PEER_CONNS_MAX; i++) {
		if (P->stats[i].used && memcmp(P->stats[i].pk, pk, 32) == 0)
			return &P->stats[i];
		if (!P->stats[i].used && free_slot == NULL)
			free_slot = &P->stats[i];
	}
	if (free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	memcpy(free_slot->pk, pk, 32);
	return free_slot;
}

static bool tj__live_ready(const struct tj__conn *c)
{
	return c->state == TJ__READY && !c->closing && !c->hangup;
}

/* Another ready connection with c's key, or NULL. */
static struct tj__conn *tj__twin_of(const struct tj_peers *P, const struct tj__conn *c)
{
	for (struct tj__conn *o = P->conns; o != NULL; o = o->next)
		if (o != c && tj__live_ready(o) && memcmp(o->peer_pk, c->peer_pk, 32) == 0)
			return o;
	return NULL;
}

/* ---- closing -------------------------------------------------------------- */

static void tj__conn_freed(uv_handle_t *h)
{
	struct tj__conn *c = h->data;
	struct tj_peers *P = c->P;

	if (--c->open_handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		P->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	P->n_conns--;
	tj_shs_free(c->shs);
	tj_boxstream_free(c->enc);
	tj_boxstream_free(c->dec);
	tj_boxstream_reasm_free(c->reasm);
	sodium_memzero(c->hsbuf, sizeof(c->hsbuf));
	free(c);
}

uint64_t tj__backoff_next(uint32_t *backoff_ms, uint64_t now, uint32_t rnd)
{
	uint32_t b = *backoff_ms < TJ_PEER_BACKOFF_MIN_MS ? TJ_PEER_BACKOFF_MIN_MS : *backoff_ms;

	b = b > TJ_PEER_BACKOFF_MAX_MS ? TJ_PEER_BACKOFF_MAX_MS : b;
	*backoff_ms = b * 2 > TJ_PEER_BACKOFF_MAX_MS ? TJ_PEER_BACKOFF_MAX_MS : b * 2;
	/* Half to the whole backoff: peers that failed together do not redial together. */
	return now + b / 2 + rnd % (b / 2 + 1);
}

/* Schedules the next dial of an address-book entry with backoff and jitter. */
static void tj__entry_backoff(struct tj__entry *e)
{
	e->next_dial_ms = tj__backoff_next(&e->backoff_ms, tj__mono_ms(), randombytes_random());
}

void tj__conn_close(struct tj__conn *c)
{
	struct tj_peers *P = c->P;
	struct tj__conn *twin;

	if (c->closing)
		return;
	c->closing = true;
	/* A duplicate closes (by either end): what was in flight on it comes with one more reconciliation. */
	if (!P->stopping && c->state == TJ__READY && (twin = tj__twin_of(P, c)) != NULL && twin->outbound)
		twin->resync = true;
	tj__sync_on_close(c);
	if (c->shs != NULL)
		tj_shs_abort(c->shs);
	if (c->entry >= 0) {
		P->book[c->entry].conn = NULL;
		if (!P->stopping)
			tj__entry_backoff(&P->book[c->entry]);
	}
	uv_close((uv_handle_t *)&c->timer, tj__conn_freed);
	uv_close((uv_handle_t *)&c->tcp, tj__conn_freed);
}

static void tj__log_peer(enum tj_log_level lvl, const struct tj__conn *c, const char *what)
{
	char hex[TJ_LOG_HEX_CHARS];

	if (c->state >= TJ__HELLO)
		tj_log(lvl, "peer", "%s %s: %s", c->outbound ? "to" : "from", tj_log_hex(c->peer_pk, hex), what);
	else
		tj_log(lvl, "peer", "%s connection #%llu: %s", c->outbound ? "outbound" : "inbound",
		       (unsigned long long)c->serial, what);
}

/* ---- writing -------------------------------------------------------------- */

static void tj__write_done(uv_write_t *req, int status)
{
	struct tj__wreq *wr = req->data;
	struct tj__conn *c = wr->c;
	bool waited = wr->waited;

	c->queued -= wr->len;
	c->pending--;
	sodium_memzero(wr->buf, wr->len);
	free(wr);
	if (c->closing)
		return;
	if (status < 0 || (c->hangup && c->pending == 0)) {
		tj__conn_close(c);
		return;
	}
	/*
	 * The kernel took bytes it had no room for: the peer acknowledged some.
	 * A slow link busy with our backlog is alive even when the answer to a
	 * probe waits behind that backlog (a black hole acknowledges nothing).
	 */
	if (waited)
		c->last_rx_ms = tj__mono_ms();
	tj__conn_update_reading(c);
	tj__sync_pump(c);
}

static int tj__conn_write(struct tj__conn *c, struct tj__wreq *wr)
{
	uv_buf_t b = uv_buf_init((char *)wr->buf, (unsigned)wr->len);
	int rc;

	if (c->queued + wr->len > TJ_PEER_QUEUE_MAX_BYTES) {
		free(wr);
		tj__log_peer(TJ_LOG_WARN, c, "does not read what we send; dropped");
		tj__conn_close(c);
		return TJ_EBUSY;
	}
	wr->c = c;
	wr->req.data = wr;
	rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, tj__write_done);
	if (rc != 0) {
		/* The callback will not run: free now. */
		free(wr);
		tj__conn_close(c);
		return rc;
	}
	wr->waited = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > 0;
	c->queued += wr->len;
	c->pending++;
	return 0;
}

static int tj__conn_write_raw(struct tj__conn *c, const uint8_t *p, size_t n)
{
	struct tj__wreq *wr = malloc(sizeof(*wr) + n);

	if (wr == NULL) {
		tj__conn_close(c);
		return -ENOMEM;
	}
	memcpy(wr->buf, p, n);
	wr->len = n;
	return tj__conn_write(c, wr);
}

int tj__conn_send(struct tj__conn *c, const uint8_t *msg, size_t len)
{
	size_t cap = tj_boxstream_msg_sealed_bytes(len);
	struct tj__wreq *wr;
	int rc;

	if (c->closing || c->hangup || c->enc == NULL)
		return TJ_ESTATE;
	if (cap == SIZE_MAX || (wr = malloc(sizeof(*wr) + cap)) == NULL) {
		tj__conn_close(c);
		return -ENOMEM;
	}
	rc = tj_boxstream_seal_msg(c->enc, msg, len, wr->buf, cap, &wr->len);
	if (rc != 0) {
		free(wr);
		tj__conn_close(c);
		return rc;
	}
	return tj__conn_write(c, wr);
}

/* A peer that does not take our goodbye within a few seconds is closed anyway. */
static void tj__hangup_expired(uv_timer_t *t)
{
	struct tj__conn *c = t->data;

	if (!c->closing)
		tj__conn_close(c);
}

void tj__conn_bye(struct tj__conn *c, uint64_t reason, const char *why)
{
	uint8_t msg[16], gb[TJ_BOXSTREAM_GOODBYE_BYTES];
	struct tj_mp_writer w;
	size_t len = 0;

	if (c->closing || c->hangup)
		return;
	if (why != NULL)
		tj__log_peer(reason == TJ_WIRE_BYE_SHUTDOWN || reason == TJ_WIRE_BYE_DUPLICATE ? TJ_LOG_INFO : TJ_LOG_WARN,
			     c, why);
	if (c->enc == NULL) {
		tj__conn_close(c);
		return;
	}
	tj_mp_writer_init(&w, msg, sizeof(msg));
	tj_wire_put_bye(&w, reason);
	if (tj_mp_writer_finish(&w, &len) != 0 || tj__conn_send(c, msg, len) != 0)
		return; /* closed already */
	if (tj_boxstream_goodbye(c->enc, gb) != 0 || tj__conn_write_raw(c, gb, sizeof(gb)) != 0) {
		tj__conn_close(c);
		return;
	}
	c->hangup = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_start(&c->timer, tj__hangup_expired, 5000, 0);
}

/* ---- reading and quotas ---------------------------------------------------- */

static void tj__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tj__conn *c = h->data;

	(void)suggested;
	*buf = uv_buf_init((char *)c->P->rbuf, sizeof(c->P->rbuf));
}

static void tj__read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Reads run unless a pause reason holds: our queue is full, ingest lags, or the peer is throttled. */
void tj__conn_update_reading(struct tj__conn *c)
{
	bool want;

	if (c->closing || c->hangup)
		return;
	c->paused_queue = c->queued > TJ_PEER_QUEUE_PAUSE_BYTES ||
			  (c->paused_queue && c->queued > TJ_PEER_QUEUE_PAUSE_BYTES / 2);
	c->paused_ingest = c->ingest_inflight >= 4;
	want = !c->paused_queue && !c->paused_ingest && !c->throttled;
	if (want)
		uv_read_start((uv_stream_t *)&c->tcp, tj__alloc, tj__read);
	else
		uv_read_stop((uv_stream_t *)&c->tcp);
}

static void tj__throttle_end(uv_timer_t *t)
{
	struct tj__conn *c = t->data;

	if (c->closing)
		return;
	c->throttled = false;
	tj__conn_update_reading(c);
}

void tj__conn_over_quota(struct tj__conn *c, const char *what)
{
	char msg[96];
	uint64_t now = tj__mono_ms();

	if (c->closing || c->hangup || c->throttled)
		return; /* already paused: messages read before the pause are dropped, not counted again */
	if (now - c->strike_since_ms > 60000) {
		c->strikes = 0;
		c->strike_since_ms = now;
	}
	if (++c->strikes >= TJ_PEER_STRIKES_MAX) {
		snprintf(msg, sizeof(msg), "over its %s quota %u times in a minute; dropped", what, c->strikes);
		tj__conn_bye(c, TJ_WIRE_BYE_QUOTA, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "over its %s quota; throttled for 1 s", what);
	tj__log_peer(TJ_LOG_WARN, c, msg);
	c->throttled = true;
	tj__conn_update_reading(c);
	uv_timer_start(&c->timer, tj__throttle_end, 1000, 0);
}

/* Box-stream bytes: frames -> messages -> tj_sync. */
static void tj__feed_stream(struct tj__conn *c, const uint8_t *p, size_t n)
{
	while (n > 0 && !c->closing && !c->hangup) {
		struct tj_boxstream_chunk ch;
		size_t used = 0;
		int rc = tj_boxstream_read(c->dec, p, n, &used, &ch);

		if (rc != 0) {
			tj__log_peer(TJ_LOG_WARN, c, "box-stream failed to authenticate; dropped");
			tj__conn_close(c);
			return;
		}
		p += used;
		n -= used;
		if (ch.event == TJ_BOXSTREAM_DATA)
			c->last_rx_ms = tj__mono_ms();
		if (ch.event == TJ_BOXSTREAM_GOODBYE) {
			tj__log_peer(TJ_LOG_INFO, c, "said goodbye");
			tj__conn_close(c);
			return;
		}
		for (size_t off = 0; ch.event == TJ_BOXSTREAM_DATA && off < ch.len && !c->closing && !c->hangup;) {
			const uint8_t *msg = NULL;
			size_t take = 0, mlen = 0;

			if ((rc = tj_boxstream_reasm_push(c->reasm, ch.data + off, ch.len - off, &take, &msg, &mlen)) != 0) {
				tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "message over the size limit; dropped");
				return;
			}
			off += take;
			if (msg != NULL)
				tj__sync_on_msg(c, msg, mlen);
		}
	}
}

/* The handshake is done: box-streams and a HELLO-sized reassembler. */
static int tj__handshake_done(struct tj__conn *c)
{
	struct tj_shs_keys k;
	int rc;

	rc = tj_shs_take_keys(c->shs, &k);
	if (rc == 0)
		rc = tj_boxstream_new(k.enc_key, k.enc_nonce, &c->enc);
	if (rc == 0)
		rc = tj_boxstream_new(k.dec_key, k.dec_nonce, &c->dec);
	if (rc == 0)
		rc = tj_boxstream_reasm_new(tj_wire_max_bytes(false), &c->reasm);
	memcpy(c->peer_pk, k.peer_pk, 32);
	sodium_memzero(&k, sizeof(k));
	tj_shs_free(c->shs);
	c->shs = NULL;
	if (rc != 0)
		return rc;
	/* The deadline keeps running until the peer's HELLO: a silent member does not hold a slot. */
	c->state = TJ__HELLO;
	if (!c->outbound && !c->hs_refunded) {
		/* A completed handshake does not count against its address. */
		for (size_t i = 0; i < TJ__HS_TABLE; i++)
			if (c->P->hs[i].used && memcmp(c->P->hs[i].key, c->addr_key, 16) == 0)
				c->P->hs[i].b.tokens += 1;
		c->hs_refunded = true;
	}
	tj__sync_on_ready(c);
	return 0;
}

static const char *tj__hs_err(int rc)
{
	switch (rc) {
	case TJ_ENOTMEMBER:
		return "handshake: not a member; refused";
	case TJ_EDECRYPT:
		return "handshake: wrong network key or wrong server key; dropped";
	case TJ_EBADSIG:
		return "handshake: bad signature; dropped";
	case TJ_ECRYPTO:
		return "handshake: invalid or low-order key; dropped";
	default:
		return "handshake failed; dropped";
	}
}

#define TJ__SHS_MSG1_BYTES 64u

static bool tj__authorize(void *ctx, const uint8_t pk[32]);

/*
 * msg1 did not verify under the key we listen with: during a network key
 * changeover, the other accepted key gets one try with the same bytes.
 */
static int tj__msg1_other_key(struct tj__conn *c, size_t need, uint8_t *out, size_t cap, size_t *olen)
{
	const uint8_t *alt = NULL;
	int rc;

	(void)tj_keyring_handshake_key(c->P->node->keyring, tj_now_ms(), &alt);
	if (alt == NULL)
		return TJ_EDECRYPT;
	tj_shs_free(c->shs);
	c->shs = NULL;
	if ((rc = tj_shs_server_new(alt, c->P->node->u->id, tj__authorize, c, &c->shs)) != 0)
		return rc;
	return tj_shs_step(c->shs, c->hsbuf, need, out, cap, olen);
}

/* Handshake bytes: exactly tj_shs_need() at a time; leftovers go to the stream. */
static void tj__feed_handshake(struct tj__conn *c, const uint8_t *p, size_t n)
{
	uint8_t out[TJ_SHS_OUT_MAX_BYTES];

	while (n > 0 && c->state == TJ__HANDSHAKE && !c->closing) {
		size_t need = tj_shs_need(c->shs), take = need - c->hs_got, olen = 0;
		int rc;

		take = take < n ? take : n;
		memcpy(c->hsbuf + c->hs_got, p, take);
		c->hs_got += take;
		p += take;
		n -= take;
		if (c->hs_got < need)
			return;
		c->hs_got = 0;
		rc = tj_shs_step(c->shs, c->hsbuf, need, out, sizeof(out), &olen);
		if (rc == TJ_EDECRYPT && !c->outbound && need == TJ__SHS_MSG1_BYTES)
			rc = tj__msg1_other_key(c, need, out, sizeof(out), &olen);
		if (rc != 0) {
			tj__log_peer(TJ_LOG_WARN, c, tj__hs_err(rc));
			tj__conn_close(c); /* nothing more is written: a stranger learns nothing */
			return;
		}
		if (olen > 0 && tj__conn_write_raw(c, out, olen) != 0)
			return;
		if (tj_shs_state(c->shs) == TJ_SHS_DONE && tj__handshake_done(c) != 0) {
			tj__log_peer(TJ_LOG_ERROR, c, "could not set up the box-stream");
			tj__conn_close(c);
			return;
		}
	}
	if (n > 0 && !c->closing && c->state >= TJ__HELLO)
		tj__feed_stream(c, p, n);
}

static void tj__read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tj__conn *c = s->data;

	if (c->closing)
		return;
	if (nread < 0) {
		if (c->state < TJ__HELLO)
			tj__log_peer(TJ_LOG_INFO, c, "closed during the handshake");
		else if (tj_boxstream_end(c->dec) != 0)
			tj__log_peer(TJ_LOG_WARN, c, "connection cut (no goodbye)");
		tj__conn_close(c);
		return;
	}
	if (c->state == TJ__HANDSHAKE)
		tj__feed_handshake(c, (const uint8_t *)buf->base, (size_t)nread);
	else if (!c->hangup)
		tj__feed_stream(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void tj__hs_deadline(uv_timer_t *t)
{
	struct tj__conn *c = t->data;

	if (c->closing || c->state >= TJ__READY)
		return;
	tj__log_peer(TJ_LOG_WARN, c, c->state == TJ__HELLO ? "no HELLO before the deadline; dropped"
							     : "handshake deadline passed; dropped");
	tj__conn_close(c);
}

/* ---- connections ----------------------------------------------------------- */

static bool tj__authorize(void *ctx, const uint8_t pk[32])
{
	struct tj__conn *c = ctx;

	if (sodium_memcmp(pk, c->P->node->u->id->pk, 32) == 0)
		return false; /* ourselves: a loop in the address book */
	return c->P->is_member(c->P->member_ctx, pk);
}

static struct tj__conn *tj__conn_new(struct tj_peers *P, bool outbound)
{
	struct tj__conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->P = P;
	c->outbound = outbound;
	c->entry = -1;
	c->serial = ++P->next_serial;
	uv_tcp_init(P->loop, &c->tcp);
	uv_timer_init(P->loop, &c->timer);
	c->open_handles = 2;
	c->tcp.data = c;
	c->timer.data = c;
	c->next = P->conns;
	if (P->conns != NULL)
		P->conns->prev = c;
	P->conns = c;
	P->n_conns++;
	return c;
}

/* Starts the handshake on a connected socket. */
static int tj__conn_start(struct tj__conn *c, const uint8_t *server_pk)
{
	struct tj_peers *P = c->P;
	const uint8_t *alt = NULL;
	/* During a network key changeover: dial with the old key, accept both (tj_rotate.h). */
	const uint8_t *app_key = tj_keyring_handshake_key(P->node->keyring, tj_now_ms(), &alt);
	uint8_t out[TJ_SHS_OUT_MAX_BYTES];
	size_t olen = 0;
	int rc;

	(void)alt; /* the other key is tried on a msg1 that fails (tj__msg1_other_key) */

	if (server_pk != NULL)
		rc = tj_shs_client_new(app_key, P->node->u->id, server_pk, &c->shs);
	else
		rc = tj_shs_server_new(app_key, P->node->u->id, tj__authorize, c, &c->shs);
	if (rc != 0)
		return rc;
	c->state = TJ__HANDSHAKE;
	uv_tcp_nodelay(&c->tcp, 1);
	uv_timer_start(&c->timer, tj__hs_deadline, TJ_PEER_HANDSHAKE_MS, 0);
	if ((rc = uv_read_start((uv_stream_t *)&c->tcp, tj__alloc, tj__read)) != 0)
		return rc;
	if (server_pk != NULL) {
		if ((rc = tj_shs_step(c->shs, NULL, 0, out, sizeof(out), &olen)) != 0)
			return rc;
		return tj__conn_write_raw(c, out, olen);
	}
	return 0;
}

/* Per-address inbound handshake budget; false = refuse this connection. */
static bool tj__hs_admit(struct tj_peers *P, const uint8_t key[16])
{
	struct tj__hs_slot *s = NULL, *oldest = &P->hs[0];

	for (size_t i = 0; i < TJ__HS_TABLE; i++) {
		if (P->hs[i].used && memcmp(P->hs[i].key, key, 16) == 0) {
			s = &P->hs[i];
			break;
		}
		if (!P->hs[i].used || P->hs[i].b.last_ms < oldest->b.last_ms)
			oldest = &P->hs[i];
	}
	if (s == NULL) {
		s = oldest; /* forget the quietest address */
		memset(s, 0, sizeof(*s));
		s->used = true;
		memcpy(s->key, key, 16);
	}
	return tj__bucket_take(&s->b, 1, TJ_PEER_HS_RATE_PER_S, TJ_PEER_HS_BURST);
}

static void tj__addr_key(const uv_tcp_t *tcp, uint8_t key[16])
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(key, 0, 16);
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET)
		memcpy(key, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (ss.ss_family == AF_INET6)
		memcpy(key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
}

static void tj__on_connection(uv_stream_t *server, int status)
{
	struct tj_peers *P = server->data;
	struct tj__conn *c;
	uint64_t now;

	if (P->stopping || status < 0)
		return;
	if ((c = tj__conn_new(P, false)) == NULL)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		tj__conn_close(c);
		return;
	}
	tj__addr_key(&c->tcp, c->addr_key);
	if (P->n_conns > TJ_PEER_CONNS_MAX || !tj__hs_admit(P, c->addr_key)) {
		now = tj__mono_ms();
		if (now - P->hs_refused_logged_ms > 10000) {
			TJ_LOG_W("peer", "refusing inbound connections: too many handshakes from one address or "
					 "too many connections");
			P->hs_refused_logged_ms = now;
		}
		tj__conn_close(c);
		return;
	}
	if (tj__conn_start(c, NULL) != 0)
		tj__conn_close(c);
}

static void tj__on_connect(uv_connect_t *req, int status)
{
	struct tj__conn *c = req->data;
	struct tj_peers *P = c->P;

	if (c->closing)
		return;
	if (status < 0) {
		tj_log(TJ_LOG_DEBUG, "peer", "dial #%llu failed: %s", (unsigned long long)c->serial,
		       uv_strerror(status));
		tj__conn_close(c);
		return;
	}
	if (tj__conn_start(c, P->book[c->entry].pk) != 0)
		tj__conn_close(c);
}

void tj__dial(struct tj_peers *P, size_t idx)
{
	struct tj__entry *e = &P->book[idx];
	struct sockaddr_storage sa;
	struct tj__conn *c;
	int rc;

	if (P->stopping || e->conn != NULL)
		return;
	if (uv_ip4_addr(e->host, e->port, (struct sockaddr_in *)&sa) != 0 &&
	    uv_ip6_addr(e->host, e->port, (struct sockaddr_in6 *)&sa) != 0) {
		tj__entry_backoff(e);
		return;
	}
	if ((c = tj__conn_new(P, true)) == NULL) {
		tj__entry_backoff(e);
		return;
	}
	c->entry = (int)idx;
	e->conn = c;
	c->connect.data = c;
	rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&sa, tj__on_connect);
	if (rc != 0)
		tj__conn_close(c);
	else
		uv_timer_start(&c->timer, tj__hs_deadline, TJ_PEER_HANDSHAKE_MS, 0);
}

/* ---- lifecycle ------------------------------------------------------------- */

/* A member removed while connected is dropped: it must not keep receiving new records. */
static void tj__recheck_members(struct tj_peers *P, uint64_t now)
{
	struct tj__conn *c, *next;

	if (now - P->member_check_ms < TJ_PEER_MEMBER_RECHECK_MS)
		return;
	P->member_check_ms = now;
	for (c = P->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state >= TJ__HELLO && !c->closing && !c->hangup && !P->is_member(P->member_ctx, c->peer_pk))
			tj__conn_bye(c, TJ_WIRE_BYE_PROTOCOL, "no longer a member; dropped");
	}
}

/* ---- one connection per peer, and liveness ---------------------------------- */

/* Is a ready connection to pk up (whichever side dialed)? */
static bool tj__key_connected(const struct tj_peers *P, const uint8_t pk[32])
{
	for (const struct tj__conn *c = P->conns; c != NULL; c = c->next)
		if (tj__live_ready(c) && memcmp(c->peer_pk, pk, 32) == 0)
			return true;
	return false;
}

bool tj__conn_keep_first(const struct tj__conn *a, const struct tj__conn *b, const uint8_t self_pk[32])
{
	if (a->outbound == b->outbound)
		return a->serial > b->serial;
	return a->outbound == (memcmp(self_pk, a->peer_pk, 32) < 0); /* public keys: memcmp is fine */
}

#define TJ__STALL_MS 2000u /* the tick runs every 250 ms */
#define TJ__TWICE "connected twice; this connection closed, the other one stays"
#define TJ__DUP_WINDOW_MS 60000u
#define TJ__DUP_MAX 3u

/*
 * Closes dup, a second connection to a peer, unless that peer dialed again
 * each time: a node older than the one-connection rule redials whatever we
 * keep (it dials whenever its own dial is down), and closing would repeat
 * every backoff. Past TJ__DUP_MAX in a minute both stay, as before the rule.
 * false when dup is kept.
 */
static bool tj__close_duplicate(struct tj__conn *dup)
{
	struct tj__pstat *ps = tj__pstat_for(dup->P, dup->peer_pk);
	uint64_t now = tj__mono_ms();

	if (ps != NULL) {
		if (ps->dups == 0 || now - ps->dup_since_ms > TJ__DUP_WINDOW_MS) {
			ps->dup_since_ms = now;
			ps->dups = 0;
		}
		if (++ps->dups > TJ__DUP_MAX) {
			if (ps->dups == TJ__DUP_MAX + 1)
				tj__log_peer(TJ_LOG_WARN, dup,
					     "dials again whenever its second connection is closed (an older node?); "
					     "both kept");
			return false;
		}
	}
	tj__conn_bye(dup, TJ_WIRE_BYE_DUPLICATE, TJ__TWICE);
	return true;
}

void tj__conn_ready(struct tj__conn *c)
{
	struct tj_peers *P = c->P;
	struct tj__conn *o, *next;

	c->ready_ms = c->last_rx_ms = c->probe_ms = tj__mono_ms();
	/* It is back: if this connection fails, redial it soon. */
	for (size_t i = 0; i < P->n_book; i++)
		if (memcmp(P->book[i].pk, c->peer_pk, 32) == 0)
			P->book[i].backoff_ms = TJ_PEER_BACKOFF_MIN_MS;
	for (o = P->conns; o != NULL; o = next) {
		next = o->next;
		if (o == c || !tj__live_ready(o) || memcmp(o->peer_pk, c->peer_pk, 32) != 0)
			continue;
		if (tj__conn_keep_first(c, o, P->node->u->id->pk)) {
			if (!tj__close_duplicate(o))
				return;
		} else {
			/*
			 * The rule keeps the older one, but the peer may have dialed
			 * again because that one died without a word (a restart
			 * behind a dead path): probe it, keep both until it answers
			 * (tj__twin_check). Records flow on c meanwhile.
			 */
			c->twin_check = true;
			o->probe_ms = c->ready_ms;
			(void)tj__sync_probe(o);
			return;
		}
	}
}

/* c waits on its older twin: closes c once the twin shows life, or the twin when it stays silent. */
static void tj__twin_check(struct tj_peers *P, struct tj__conn *c, uint64_t now)
{
	struct tj__conn *o = tj__twin_of(P, c);

	if (o == NULL) {
		c->twin_check = false; /* the older one went away meanwhile */
	} else if (o->last_rx_ms > c->ready_ms) {
		c->twin_check = false;
		(void)tj__close_duplicate(c);
	} else if (now - c->ready_ms >= TJ_PEER_HANDSHAKE_MS) {
		c->twin_check = false;
		tj__log_peer(TJ_LOG_WARN, o, "silent since the peer connected again; connection cut");
		tj__conn_close(o);
	}
}

/* A peer silent past ping_ms gets a probe (again every ping_ms); past dead_ms it is cut. */
void tj__liveness_tick(struct tj_peers *P, uint64_t now)
{
	struct tj__conn *c, *next;
	/* The loop itself stalled (a suspended laptop, a long batch): nothing was read, so nobody was silent. */
	bool stalled = P->liveness_ms != 0 && now - P->liveness_ms > TJ__STALL_MS;
	char msg[64];

	P->liveness_ms = now;
	for (c = P->conns; c != NULL; c = next) {
		next = c->next;
		if (!tj__live_ready(c))
			continue;
		if (c->twin_check)
			tj__twin_check(P, c, now);
		if (!tj__live_ready(c))
			continue;
		if (stalled || c->paused_ingest || c->throttled || now < c->last_rx_ms) {
			c->last_rx_ms = now; /* our pause, not its silence */
			continue;
		}
		if (now - c->last_rx_ms >= P->dead_ms) {
			snprintf(msg, sizeof(msg), "silent for %llu s; connection cut",
				 (unsigned long long)((now - c->last_rx_ms) / 1000u));
			tj__log_peer(TJ_LOG_WARN, c, msg);
			tj__conn_close(c); /* no goodbye: the path is dead, it would not arrive */
		} else if (now - c->last_rx_ms >= P->ping_ms && now - c->probe_ms >= P->ping_ms) {
			c->probe_ms = now;
			(void)tj__sync_probe(c);
		}
	}
}

static void tj__tick(uv_timer_t *t)
{
	struct tj_peers *P = t->data;
	uint64_t now = tj__mono_ms();

	if (P->stopping)
		return;
	tj__recheck_members(P, now);
	tj__liveness_tick(P, now);
	/* A peer that dialed us is connected already: a second connection would only be closed again. */
	for (size_t i = 0; i < P->n_book; i++)
		if (P->book[i].conn == NULL && now >= P->book[i].next_dial_ms && !tj__key_connected(P, P->book[i].pk))
			tj__dial(P, i);
	tj__sync_tick(P, now);
}

static void tj__handle_closed(uv_handle_t *h)
{
	(void)h; /* embedded in struct tj_peers, freed by tj_peers_free */
}

static int tj__listen(struct tj_peers *P, const char *addr)
{
	char host[TJ_PEER_HOST_MAX];
	struct sockaddr_storage sa, bound;
	int len = sizeof(bound);
	uint16_t port;
	int rc;

	if ((rc = tj_peer_parse_addr(addr, true, host, &port)) != 0)
		return rc;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0)
		return TJ_ECONFIG;
	if ((rc = uv_tcp_init(P->loop, &P->listener)) != 0)
		return rc;
	P->listener_init = true;
	P->listener.data = P;
	if ((rc = uv_tcp_bind(&P->listener, (const struct sockaddr *)&sa, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&P->listener, 128, tj__on_connection)) != 0 ||
	    (rc = uv_tcp_getsockname(&P->listener, (struct sockaddr *)&bound, &len)) != 0)
		return rc;
	if (bound.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	else
		port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	snprintf(P->listen_addr, sizeof(P->listen_addr), strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host,
		 (unsigned)port);
	TJ_LOG_I("peer", "listening for peers on port %u", (unsigned)port);
	return 0;
}

static int tj__peers_setup(struct tj_peers *P, const struct tj_peers_opts *opts)
{
	int rc;

	if ((rc = tj__book_load(P)) != 0 || (rc = tj__sync_init(P)) != 0 || (rc = tj__derive_init(P)) != 0)
		return rc;
	if ((rc = uv_timer_init(P->loop, &P->tick)) != 0)
		return rc;
	P->tick_init = true;
	P->tick.data = P;
	if ((rc = uv_timer_start(&P->tick, tj__tick, 250, 250)) != 0)
		return rc;
	if (opts->listen != NULL && opts->listen[0] != '\0' && (rc = tj__listen(P, opts->listen)) != 0) {
		TJ_LOG_E("peer", "cannot listen for peers: %s", tj_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < P->n_book; i++)
		tj__dial(P, i);
	return 0;
}

int tj_peers_start(uv_loop_t *loop, struct tj_node *node, const struct tj_peers_opts *opts, struct tj_peers **out)
{
	struct tj_peers *P;
	int rc;

	*out = NULL;
	if (!node->has_network || !node->keyring->has_network_key)
		return TJ_ESTATE;
	if (tj__active != NULL)
		return TJ_ESTATE;
	if ((P = calloc(1, sizeof(*P))) == NULL)
		return -ENOMEM;
	P->loop = loop;
	P->node = node;
	P->is_member = opts->is_member != NULL ? opts->is_member : tj_member_is_member;
	P->member_ctx = opts->is_member != NULL ? opts->member_ctx : node->store;
	P->sync_interval_ms = opts->sync_interval_ms != 0 ? opts->sync_interval_ms : TJ_PEER_SYNC_INTERVAL_MS;
	P->ping_ms = opts->ping_ms != 0 ? opts->ping_ms : tj__ping_ms;
	P->dead_ms = opts->dead_ms != 0 ? opts->dead_ms : tj__dead_ms;
	if (P->dead_ms <= P->ping_ms)
		P->dead_ms = P->ping_ms + P->ping_ms / 2 + 1; /* at least one probe before the cut */
	tj__active = P;
	if ((rc = tj__peers_setup(P, opts)) != 0)
		tj_peers_stop(P); /* the caller still runs the loop and frees P */
	*out = P;
	return rc;
}

void tj_peers_stop(struct tj_peers *P)
{
	struct tj__conn *c, *next;

	if (P == NULL || P->stopping)
		return;
	P->stopping = true;
	if (P->listener_init)
		uv_close((uv_handle_t *)&P->listener, tj__handle_closed);
	if (P->tick_init)
		uv_close((uv_handle_t *)&P->tick, tj__handle_closed);
	if (P->derive_init)
		uv_close((uv_handle_t *)&P->derive, tj__handle_closed);
	for (c = P->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state >= TJ__HELLO)
			tj__conn_bye(c, TJ_WIRE_BYE_SHUTDOWN, NULL);
		/* Do not wait for a peer that does not read: what was written is on its way. */
		tj__conn_close(c);
	}
}

void tj_peers_free(struct tj_peers *P)
{
	if (P == NULL)
		return;
	tj__sync_free(P);
	if (tj__active == P)
		tj__active = NULL;
	free(P);
}
