/*
 * The address book (store meta "peers": canonical msgpack
 * [[host(str), port(uint), public_key(bin 32), name(str)]...]) and the
 * control ops that show and change it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_keys.h"
#include "tj_log.h"
#include "tj_peer_int.h"

#define TJ__BOOK_BYTES (TJ_PEER_BOOK_MAX * (TJ_PEER_HOST_MAX + TJ_PEER_NAME_MAX + 48u) + 16u)
#define TJ__REPLY_BYTES (64u * 1024u)

static const struct tj_mp_limits tj__book_limits = {
	.max_depth = 2,
	.max_items = 1 + TJ_PEER_BOOK_MAX * 5,
	.max_str = TJ_PEER_NAME_MAX,
	.canonical = true,
};

int tj_peer_parse_addr(const char *s, bool allow_zero, char host[TJ_PEER_HOST_MAX], uint16_t *port)
{
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	unsigned long p;
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		h = s + 1;
		if (colon == NULL)
			return TJ_ECONFIG;
		hlen = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return TJ_ECONFIG;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= TJ_PEER_HOST_MAX)
		return TJ_ECONFIG;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (colon[1] < '0' || colon[1] > '9')
		return TJ_ECONFIG;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p > 65535 || (p == 0 && !allow_zero))
		return TJ_ECONFIG;
	/* Numeric addresses only: no resolver, so no DNS lookups leak who we talk to. */
	if (uv_ip4_addr(host, 0, &a4) != 0 && uv_ip6_addr(host, 0, &a6) != 0)
		return TJ_ECONFIG;
	*port = (uint16_t)p;
	return 0;
}

static int tj__book_decode(const uint8_t *buf, size_t len, struct tj__entry *book, size_t *n_out)
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n, k, slen;
	uint64_t port;
	int rc;

	if ((rc = tj_mp_check(buf, len, &tj__book_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n > TJ_PEER_BOOK_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < n; i++) {
		struct tj__entry *e = &book[i];
		memset(e, 0, sizeof(*e));
		if ((rc = tj_mp_read_array(&r, &k)) != 0 || k != 4 || (rc = tj_mp_read_str(&r, &s, &slen)) != 0)
			return rc != 0 ? rc : TJ_EMALFORMED;
		if (slen >= TJ_PEER_HOST_MAX)
			return TJ_ELIMIT;
		memcpy(e->host, s, slen);
		if ((rc = tj_mp_read_uint(&r, &port)) != 0 || (rc = tj_mp_read_bin_exact(&r, e->pk, 32)) != 0 ||
		    (rc = tj_mp_read_str(&r, &s, &slen)) != 0)
			return rc;
		if (port == 0 || port > 65535 || slen > TJ_PEER_NAME_MAX)
			return TJ_EMALFORMED;
		e->port = (uint16_t)port;
		memcpy(e->name, s, slen);
	}
	*n_out = n;
	return 0;
}

static int tj__book_encode(const struct tj__entry *book, size_t n, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		tj_mp_put_array(&w, 4);
		tj_mp_put_cstr(&w, book[i].host);
		tj_mp_put_uint(&w, book[i].port);
		tj_mp_put_bin(&w, book[i].pk, 32);
		tj_mp_put_cstr(&w, book[i].name);
	}
	return tj_mp_writer_finish(&w, len);
}

/* Reads the book in its own read transaction. */
static int tj__book_read(struct tj_store *st, struct tj__entry *book, size_t *n)
{
	struct tj_txn t;
	const uint8_t *v;
	size_t vlen;
	int rc;

	*n = 0;
	if ((rc = tj_txn_begin(st, false, &t)) != 0)
		return rc;
	rc = tj_store_meta_get(&t, TJ_META_PEERS, &v, &vlen);
	if (rc == 0)
		rc = tj__book_decode(v, vlen, book, n);
	else if (rc == TJ_ENOTFOUND)
		rc = 0;
	tj_txn_abort(&t);
	return rc;
}

int tj__book_load(struct tj_peers *P)
{
	int rc = tj__book_read(P->node->store, P->book, &P->n_book);

	if (rc != 0)
		TJ_LOG_E("peer", "the address book is unreadable: %s", tj_strerror(rc));
	else
		TJ_LOG_I("peer", "address book: %zu peers", P->n_book);
	for (size_t i = 0; i < P->n_book; i++)
		P->book[i].backoff_ms = TJ_PEER_BACKOFF_MIN_MS;
	return rc;
}

/* Adds or replaces (same public key) an entry in the stored book, in one write transaction. */
static int tj__book_put(struct tj_store *st, const struct tj__entry *e)
{
	static struct tj__entry book[TJ_PEER_BOOK_MAX];
	uint8_t *buf = malloc(TJ__BOOK_BYTES);
	const uint8_t *v;
	struct tj_txn t;
	size_t n = 0, i, vlen, len = 0;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	if ((rc = tj_txn_begin(st, true, &t)) != 0)
		goto out;
	rc = tj_store_meta_get(&t, TJ_META_PEERS, &v, &vlen);
	if (rc == 0)
		rc = tj__book_decode(v, vlen, book, &n);
	else if (rc == TJ_ENOTFOUND)
		rc = 0;
	for (i = 0; rc == 0 && i < n; i++)
		if (memcmp(book[i].pk, e->pk, 32) == 0)
			break;
	if (rc == 0 && i == n && n == TJ_PEER_BOOK_MAX)
		rc = TJ_ELIMIT;
	if (rc == 0) {
		book[i] = *e;
		n = i == n ? n + 1 : n;
		rc = tj__book_encode(book, n, buf, TJ__BOOK_BYTES, &len);
	}
	if (rc == 0)
		rc = tj_store_meta_put(&t, TJ_META_PEERS, buf, len);
	if (rc == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
out:
	free(buf);
	return rc;
}

/* ---- control ops ----------------------------------------------------------- */

static int tj__parse_add(const uint8_t *req, size_t len, struct tj__entry *e, const char **why)
{
	char addr[TJ_PEER_HOST_MAX + 10];
	struct tj_mp_reader r;
	int rc;

	memset(e, 0, sizeof(*e));
	*why = "peer_add: 'address' must be HOST:PORT with a numeric IPv4 or [IPv6] host";
	if (tj_ctl_arg_str(req, len, "address", addr, sizeof(addr)) != 0 ||
	    tj_peer_parse_addr(addr, false, e->host, &e->port) != 0)
		return TJ_EMALFORMED;
	*why = "peer_add: 'public_key' must be 32 bytes";
	if (tj_ctl_arg(req, len, "public_key", &r) != 0 || tj_mp_read_bin_exact(&r, e->pk, 32) != 0)
		return TJ_EMALFORMED;
	*why = "peer_add: 'public_key' is not a valid Ed25519 key";
	if (crypto_core_ed25519_is_valid_point(e->pk) != 1)
		return TJ_ECRYPTO;
	*why = "peer_add: 'name' must be a string of at most 64 bytes";
	rc = tj_ctl_arg_str(req, len, "name", e->name, sizeof(e->name));
	return rc == 0 || rc == TJ_ENOTFOUND ? 0 : TJ_EMALFORMED;
}

int tj_peer_ctl_add(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_peers *P = tj_peers_active();
	struct tj__entry e;
	struct tj_mp_writer w;
	const char *why = "";
	uint8_t *buf;
	size_t i;
	int rc;

	if ((rc = tj__parse_add(req, len, &e, &why)) != 0)
		return tj_ctl_error_reply(rc, why, out);
	if (node == NULL)
		return tj_ctl_error_reply(TJ_ESTATE, "peer_add: the node is not open", out);
	if (node->u != NULL && memcmp(e.pk, node->u->id->pk, 32) == 0)
		return tj_ctl_error_reply(TJ_EEXIST, "peer_add: that is this node's own key", out);
	if ((rc = tj__book_put(node->store, &e)) != 0)
		return tj_ctl_error_reply(rc, rc == TJ_ELIMIT ? "peer_add: the address book is full (64 peers)"
							      : "peer_add: could not store the peer",
					  out);
	if (P != NULL && !P->stopping) {
		for (i = 0; i < P->n_book && memcmp(P->book[i].pk, e.pk, 32) != 0; i++)
			;
		if (i < TJ_PEER_BOOK_MAX) {
			if (i < P->n_book && P->book[i].conn != NULL)
				tj__conn_close(P->book[i].conn); /* redial at the new address */
			e.backoff_ms = TJ_PEER_BACKOFF_MIN_MS;
			P->book[i] = e;
			P->n_book = i == P->n_book ? P->n_book + 1 : P->n_book;
			P->book[i].next_dial_ms = 0; /* the next tick dials it */
		}
	}
	if ((buf = malloc(64)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, 60);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	return tj_ctl_reply_finish(&w, buf, 64, out, "peer_add");
}

#define TJ__ADDR_CHARS (TJ_PEER_HOST_MAX + 10)

/* "host:port", or "[host]:port" for IPv6. */
static void tj__fmt_addr(const struct tj__entry *e, char out[TJ__ADDR_CHARS])
{
	snprintf(out, TJ__ADDR_CHARS, strchr(e->host, ':') != NULL ? "[%.*s]:%u" : "%.*s:%u", TJ_PEER_HOST_MAX - 1,
		 e->host, (unsigned)e->port);
}

/* One peer of peer_list. addr may be NULL (inbound only). */
static void tj__put_peer(struct tj_mp_writer *w, const char *addr, const uint8_t pk[32], const char *name,
			 const struct tj__conn *c, const struct tj__pstat *ps)
{
	tj_mp_put_map(w, 9);
	tj_mp_put_cstr(w, "address");
	if (addr != NULL)
		tj_mp_put_cstr(w, addr);
	else
		tj_mp_put_nil(w);
	tj_mp_put_cstr(w, "public_key");
	tj_mp_put_bin(w, pk, 32);
	tj_mp_put_cstr(w, "name");
	tj_mp_put_cstr(w, name);
	tj_mp_put_cstr(w, "connected");
	tj_mp_put_bool(w, c != NULL && c->state == TJ__READY && !c->closing);
	tj_mp_put_cstr(w, "direction");
	tj_mp_put_cstr(w, c == NULL ? "none" : c->outbound ? "out" : "in");
	tj_mp_put_cstr(w, "last_sync");
	if (ps != NULL && ps->last_sync_ms != 0)
		tj_mp_put_uint(w, ps->last_sync_ms);
	else
		tj_mp_put_nil(w);
	tj_mp_put_cstr(w, "they_lack");
	tj_mp_put_uint(w, ps != NULL ? ps->they_lack : 0);
	tj_mp_put_cstr(w, "we_lack");
	tj_mp_put_uint(w, ps != NULL ? ps->we_lack : 0);
	tj_mp_put_cstr(w, "received");
	tj_mp_put_uint(w, ps != NULL ? ps->received : 0);
}

static const struct tj__pstat *tj__pstat_find(const struct tj_peers *P, const uint8_t pk[32])
{
	for (size_t i = 0; i < TJ_PEER_CONNS_MAX; i++)
		if (P->stats[i].used && memcmp(P->stats[i].pk, pk, 32) == 0)
			return &P->stats[i];
	return NULL;
}

/* A ready inbound connection from pk, if any. */
static const struct tj__conn *tj__inbound_from(const struct tj_peers *P, const uint8_t pk[32])
{
	for (const struct tj__conn *c = P->conns; c != NULL; c = c->next)
		if (!c->outbound && c->state == TJ__READY && !c->closing && memcmp(c->peer_pk, pk, 32) == 0)
			return c;
	return NULL;
}

static bool tj__in_book(const struct tj_peers *P, const uint8_t pk[32])
{
	for (size_t i = 0; i < P->n_book; i++)
		if (memcmp(P->book[i].pk, pk, 32) == 0)
			return true;
	return false;
}

static void tj__put_peers(struct tj_mp_writer *w, const struct tj_peers *P)
{
	char addr[TJ__ADDR_CHARS];
	uint32_t n = (uint32_t)P->n_book;
	const struct tj__conn *c;

	for (c = P->conns; c != NULL; c = c->next)
		n += !c->outbound && c->state == TJ__READY && !c->closing && !tj__in_book(P, c->peer_pk);
	tj_mp_put_array(w, n);
	for (size_t i = 0; i < P->n_book; i++) {
		const struct tj__entry *e = &P->book[i];
		tj__fmt_addr(e, addr);
		c = e->conn != NULL && e->conn->state == TJ__READY ? e->conn : tj__inbound_from(P, e->pk);
		tj__put_peer(w, addr, e->pk, e->name, c, tj__pstat_find(P, e->pk));
	}
	for (c = P->conns; c != NULL; c = c->next)
		if (!c->outbound && c->state == TJ__READY && !c->closing && !tj__in_book(P, c->peer_pk))
			tj__put_peer(w, NULL, c->peer_pk, "", c, tj__pstat_find(P, c->peer_pk));
}

int tj_peer_ctl_list(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	static struct tj__entry book[TJ_PEER_BOOK_MAX];
	struct tj_peers *P = tj_peers_active();
	struct tj_mp_writer w;
	uint8_t *buf;
	size_t n = 0;
	int rc;

	(void)req;
	(void)len;
	if (node == NULL)
		return tj_ctl_error_reply(TJ_ESTATE, "peer_list: the node is not open", out);
	if ((buf = malloc(TJ__REPLY_BYTES)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, TJ__REPLY_BYTES - 4);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "listen");
	tj_mp_put_cstr(&w, tj_peers_listen_addr(P));
	tj_mp_put_cstr(&w, "peers");
	if (P != NULL) {
		tj__put_peers(&w, P);
		return tj_ctl_reply_finish(&w, buf, TJ__REPLY_BYTES, out, "peer_list");
	}
	/* The peer layer is not running (no network yet): the stored book, unconnected. */
	if ((rc = tj__book_read(node->store, book, &n)) != 0) {
		free(buf);
		return tj_ctl_error_reply(rc, "peer_list: the address book is unreadable", out);
	}
	tj_mp_put_array(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		char addr[TJ__ADDR_CHARS];
		tj__fmt_addr(&book[i], addr);
		tj__put_peer(&w, addr, book[i].pk, book[i].name, NULL, NULL);
	}
	return tj_ctl_reply_finish(&w, buf, TJ__REPLY_BYTES, out, "peer_list");
}

void tj_peers_put_status(struct tj_mp_writer *w)
{
	const struct tj_peers *P = tj_peers_active();
	uint64_t connected = 0, syncing = 0, last = 0;

	if (P == NULL) {
		tj_mp_put_nil(w);
		return;
	}
	for (const struct tj__conn *c = P->conns; c != NULL; c = c->next) {
		connected += c->state == TJ__READY && !c->closing;
		syncing += c->neg != NULL || c->want_n > 0;
	}
	for (size_t i = 0; i < TJ_PEER_CONNS_MAX; i++)
		if (P->stats[i].used && P->stats[i].last_sync_ms > last)
			last = P->stats[i].last_sync_ms;
	tj_mp_put_map(w, 6);
	tj_mp_put_cstr(w, "listen");
	tj_mp_put_cstr(w, P->listen_addr);
	tj_mp_put_cstr(w, "known");
	tj_mp_put_uint(w, P->n_book);
	tj_mp_put_cstr(w, "connected");
	tj_mp_put_uint(w, connected);
	tj_mp_put_cstr(w, "syncing");
	tj_mp_put_uint(w, syncing);
	tj_mp_put_cstr(w, "last_sync");
	if (last != 0)
		tj_mp_put_uint(w, last);
	else
		tj_mp_put_nil(w);
	/* Records received and stored, not yet indexed for queries nor seen by the alert rules. */
	tj_mp_put_cstr(w, "indexing_backlog");
	tj_mp_put_uint(w, P->derive_backlog);
}
