/*
 * The peer layer: TCP connections to other nodes of the network, the secret
 * handshake, box-stream, reconciliation (Negentropy) and live gossip.
 *
 * One instance per process, on the daemon's loop thread (like the store):
 *   - a listener on opts->listen ("HOST:PORT", numeric; port 0 picks one);
 *   - a dialer for every peer of the address book (store meta "peers"),
 *     dialed at once on start, then reconnecting with exponential backoff
 *     and jitter (0.5 s .. TJ_PEER_BACKOFF_MAX_MS = 4 s, so a node that
 *     comes back is redialed within 4 s); an entry whose key is already
 *     connected (it dialed us) is not dialed, and its backoff is reset;
 *   - one connection per peer: when two nodes dial each other at once, the
 *     connection dialed by the lower public key is kept and the other closed
 *     with BYE(DUPLICATE) (the kept one's dialer reconciles once more, so
 *     nothing in flight on the closed one is lost); when the rule keeps the
 *     older of the two, that one is probed first and cut if it stays silent
 *     for TJ_PEER_HANDSHAKE_MS (the peer restarted behind a path that died
 *     without a word), so a returning peer is never locked out by a ghost;
 *     a peer that dials again each time (a node older than this rule) keeps
 *     both connections after 3 closes in a minute;
 *   - liveness: a peer silent for ping_ms (default 30 s) is probed, a peer
 *     silent for dead_ms (default 90 s) is cut (closed without a goodbye)
 *     and redialed. The probe is a WANT of the all-zero id, which no record
 *     has: every node, old ones too, answers it with an empty RECORDS, so no
 *     new message type is needed;
 *   - per connection: SHS with the network key as application key (the
 *     dialer names the server's key, which must prove it; the server asks
 *     is_member() between messages 3 and 4, so a stranger learns nothing;
 *     a peer removed while connected is dropped within
 *     TJ_PEER_MEMBER_RECHECK_MS),
 *     a handshake deadline, then box-stream messages (tj_wire.h);
 *   - the dialer reconciles on connect and every sync interval, pulls what it
 *     lacks with pipelined WANTs and tells the peer what it lacks with HAVE;
 *     received records are validated in the thread pool and stored one
 *     transaction per batch on the loop thread; each newly stored record is
 *     pushed once to every other connected peer.
 *
 * Limits (before authentication tighter than after): inbound handshakes per
 * address (token bucket, refunded when a handshake succeeds), HELLO at most
 * TJ_WIRE_HELLO_MAX_BYTES, later messages TJ_WIRE_MSG_MAX_BYTES, bytes queued
 * per peer (reads pause above TJ_PEER_QUEUE_PAUSE_BYTES), messages and pushed
 * records per second per peer (token buckets: a peer over quota is paused,
 * and dropped with a log line after TJ_PEER_STRIKES_MAX pauses in a minute).
 *
 * Logs carry short key prefixes only: no addresses, names or contents.
 */
#ifndef TJ_PEER_H
#define TJ_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tj_ctl_server.h"
#include "tj_error.h"
#include "tj_mp.h"
#include "tj_node_core.h"

#define TJ_PEER_DEFAULT_PORT 7654
#define TJ_PEER_HOST_MAX 46       /* an IPv6 literal */
#define TJ_PEER_NAME_MAX 64
#define TJ_PEER_BOOK_MAX 64       /* address book entries */
#define TJ_PEER_CONNS_MAX 128
#define TJ_PEER_HANDSHAKE_MS 5000
#define TJ_PEER_MEMBER_RECHECK_MS 5000 /* connected peers' membership is checked again this often */
#define TJ_PEER_BACKOFF_MIN_MS 500
#define TJ_PEER_BACKOFF_MAX_MS 4000  /* bounds the redial of a peer that is back */
#define TJ_PEER_SYNC_INTERVAL_MS 60000
#define TJ_PEER_SYNC_DEADLINE_MS 120000
#define TJ_PEER_PING_MS 30000   /* silence before a probe (default) */
#define TJ_PEER_DEAD_MS 90000   /* silence before the connection counts as cut (default) */
#define TJ_PEER_QUEUE_PAUSE_BYTES (2u * 1024u * 1024u)  /* stop reading / stop pushing above */
#define TJ_PEER_QUEUE_MAX_BYTES (8u * 1024u * 1024u)    /* a peer that lets this pile up is dropped */
#define TJ_PEER_WANTS_INFLIGHT 4
/* Largest Negentropy message: large frames mean few round trips on slow, far links (<= TJ_WIRE_NEG_MAX_BYTES). */
#define TJ_PEER_NEG_FRAME_BYTES 500000u
#define TJ_PEER_WANT_QUEUE_MAX ((size_t)1 << 20)        /* ids waiting to be fetched */
#define TJ_PEER_PUSH_RATE 200       /* pushed records per second a peer may send us */
#define TJ_PEER_PUSH_BURST 1000
#define TJ_PEER_MSG_RATE 500        /* messages per second */
#define TJ_PEER_MSG_BURST 2000
#define TJ_PEER_STRIKES_MAX 3
#define TJ_PEER_HS_RATE_PER_S 2     /* failed inbound handshakes per address */
#define TJ_PEER_HS_BURST 30
#define TJ_META_PEERS "peers"

/* Does this Ed25519 key belong to a current member of our network? Loop thread only. */
typedef bool (*tj_is_member_fn)(void *ctx, const uint8_t pk[32]);

struct tj_peers_opts {
	const char *listen;         /* "HOST:PORT" or NULL / "" for no listener */
	tj_is_member_fn is_member;  /* NULL = tj_member_is_member (tj_member.h) on the node's store */
	void *member_ctx;
	uint32_t sync_interval_ms;  /* 0 = TJ_PEER_SYNC_INTERVAL_MS */
	uint32_t ping_ms;           /* 0 = tj_peers_set_liveness's, else TJ_PEER_PING_MS */
	uint32_t dead_ms;           /* 0 = tj_peers_set_liveness's, else TJ_PEER_DEAD_MS; > ping_ms */
};

/*
 * The liveness defaults of later tj_peers_start calls (the daemon passes its
 * config's [peers] ping_s and dead_s). 0 keeps the built-in default.
 */
void tj_peers_set_liveness(uint32_t ping_ms, uint32_t dead_ms);

struct tj_peers;

/*
 * Starts the layer on loop for node (both borrowed; they must outlive it):
 * loads the address book, builds the reconciliation snapshot of the store,
 * listens and dials. A node without a network gets TJ_ESTATE.
 */
TJ_MUST_CHECK int tj_peers_start(uv_loop_t *loop, struct tj_node *node, const struct tj_peers_opts *opts,
				 struct tj_peers **out);
/* Says goodbye to every peer and closes every handle; the loop then finishes the closes. */
void tj_peers_stop(struct tj_peers *p);
/* Frees p once uv_run returned (after tj_peers_stop). Accepts NULL. */
void tj_peers_free(struct tj_peers *p);

/* The running instance, or NULL (used by the control ops). */
struct tj_peers *tj_peers_active(void);

/* The node stored these records itself (the CLI's add): reconcile and gossip them. */
void tj_peers_local_added(struct tj_peers *p, const uint8_t (*ids)[32], size_t n);

/* The control socket's add / add_batch stored these (items with err 0): share them. */
void tj_peers_share_added(const struct tj_add_item *items, size_t n);

/* The bound listen address ("127.0.0.1:41234") or "" when not listening. */
const char *tj_peers_listen_addr(const struct tj_peers *p);

/* Control ops (reply frames as tj_ctl_handle makes them). p may be NULL (not running). */
/* peer_add {address: "HOST:PORT", public_key: bin 32, name: str?} -> {} */
TJ_MUST_CHECK int tj_peer_ctl_add(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out);
/* peer_list -> {listen: str, peers: [{address, public_key, name, connected, direction,
 *               last_sync: uint|nil, they_lack, we_lack, received}]} */
TJ_MUST_CHECK int tj_peer_ctl_list(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out);
/* Writes one value for `status`: {listen, connected, known, syncing, last_sync} or nil. */
void tj_peers_put_status(struct tj_mp_writer *w);

/* Parses "HOST:PORT" (IPv4 or [IPv6], numeric; port 0..65535 when allow_zero). */
TJ_MUST_CHECK int tj_peer_parse_addr(const char *s, bool allow_zero, char host[TJ_PEER_HOST_MAX], uint16_t *port);

#endif
