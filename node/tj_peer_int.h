/*
 * Internals of the peer layer shared by tj_peer.c (transport), tj_sync.c
 * (reconciliation, fetching, ingest, gossip) and tj_peer_book.c (address
 * book, control ops). Not for use outside these files.
 */
#ifndef TJ_PEER_INT_H
#define TJ_PEER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tj_boxstream.h"
#include "tj_negentropy.h"
#include "tj_peer.h"
#include "tj_shs.h"
#include "tj_wire.h"

#define TJ__HS_TABLE 128 /* addresses remembered for the handshake rate limit */

/* One address-book entry (we dial it). */
struct tj__entry {
	char host[TJ_PEER_HOST_MAX];
	uint16_t port;
	uint8_t pk[32];
	char name[TJ_PEER_NAME_MAX + 1];
	struct tj__conn *conn;  /* our outbound connection, or NULL */
	uint32_t backoff_ms;
	uint64_t next_dial_ms;
};

/* What we learnt about a peer key (address-book or inbound). */
struct tj__pstat {
	bool used;
	uint8_t pk[32];
	uint64_t last_sync_ms;
	uint64_t they_lack;
	uint64_t we_lack;
	uint64_t received;
	uint64_t dup_since_ms;  /* duplicates of its connection closed since then (tj__close_duplicate) */
	unsigned dups;
};

struct tj__bucket {
	double tokens;
	uint64_t last_ms;
};

enum tj__conn_state {
	TJ__CONNECTING = 0,
	TJ__HANDSHAKE,
	TJ__HELLO,  /* box-stream up, waiting for the peer's HELLO */
	TJ__READY,
};

struct tj__conn {
	uv_tcp_t tcp;           /* .data = this */
	uv_timer_t timer;       /* handshake deadline, then the throttle pause */
	uv_connect_t connect;
	int open_handles;       /* freed once both handles closed */
	struct tj_peers *P;
	struct tj__conn *prev, *next;
	uint64_t serial;
	bool closing, outbound, hangup;
	bool paused_queue, paused_ingest, throttled;
	enum tj__conn_state state;
	int entry;              /* address-book index (outbound), or -1 */
	uint8_t addr_key[16];   /* the remote address, for the handshake rate limit */
	bool hs_refunded;
	struct tj_shs *shs;
	uint8_t hsbuf[TJ_SHS_MSG3_BYTES];
	size_t hs_got;
	struct tj_boxstream *enc, *dec;
	struct tj_boxstream_reasm *reasm;
	uint8_t peer_pk[32];
	size_t queued;
	unsigned pending;
	struct tj__bucket push_in, msg_in, push_out;
	unsigned strikes;
	uint64_t strike_since_ms;
	/* sync */
	struct tj_neg *neg;     /* initiator session (outbound only) */
	uint64_t neg_started_ms;
	uint64_t last_sync_start_ms;
	uint8_t *want;          /* ids to fetch, 32 each */
	size_t want_n, want_next, want_cap;
	unsigned wants_inflight;
	uint32_t want_left[TJ_PEER_WANTS_INFLIGHT]; /* records still allowed per in-flight WANT (FIFO) */
	uint8_t *have;          /* ids to announce */
	size_t have_n, have_next, have_cap;
	unsigned ingest_inflight;
	/* liveness */
	uint64_t ready_ms;      /* when the peer's HELLO arrived */
	uint64_t last_rx_ms;    /* the last authenticated frame from the peer (or sign of progress) */
	uint64_t probe_ms;      /* the last liveness probe sent */
	bool resync;            /* reconcile again once the current session ends (a duplicate was closed) */
	bool twin_check;        /* an older connection to the same key is being probed (tj__conn_ready) */
};

struct tj__hs_slot {
	uint8_t key[16];
	struct tj__bucket b;
	bool used;
};

struct tj__pending_ins {
	struct tj_neg_item *items;
	size_t n, cap;
};

struct tj_peers {
	uv_loop_t *loop;
	struct tj_node *node;
	tj_is_member_fn is_member;
	void *member_ctx;
	uint32_t sync_interval_ms;
	uint32_t ping_ms, dead_ms; /* liveness: probe after ping_ms of silence, cut after dead_ms */
	uint64_t liveness_ms;   /* the last liveness tick */
	uv_tcp_t listener;
	uv_timer_t tick;
	bool listener_init, tick_init, stopping;
	char listen_addr[TJ_PEER_HOST_MAX + 10];
	struct tj__conn *conns;
	size_t n_conns;
	uint64_t next_serial;
	struct tj__entry book[TJ_PEER_BOOK_MAX];
	size_t n_book;
	struct tj__pstat stats[TJ_PEER_CONNS_MAX];
	struct tj_neg_storage *neg_st;
	unsigned n_sessions;    /* initiator sessions borrowing neg_st */
	struct tj__pending_ins pending;
	unsigned jobs_inflight;
	struct tj__hs_slot hs[TJ__HS_TABLE];
	uint64_t hs_refused_logged_ms;
	uint64_t member_check_ms;
	uint64_t watch_ms;      /* newest ts_ms seen by the local-records watch */
	bool rot_checked;       /* the start's rotation check ran (tj_rotate_auto) */
	uint64_t rot_due_ms;    /* a deferred rotation check is due then (mono ms), 0: none */
	uv_timer_t derive;      /* the background pass (tj_peer_derive.c) */
	bool derive_init;
	uint64_t derive_last_ms; /* when its last step ended (mono ms) */
	uint64_t derive_hold_ms; /* no step before then (mono ms; TJ_TEST_DERIVE_HOLD_MS, tests only) */
	uint64_t
	    derive_backlog; /* records stored and not yet indexed and evaluated (an estimate; 0 is exact) */
	uint8_t rbuf[64 * 1024];
};

/* tj_peer.c */
uint64_t tj__mono_ms(void);
/*
 * Of two ready connections to one peer key, should a be kept rather than b?
 * The one dialed by the lower key of the two nodes, so both ends of a mutual
 * dial keep the same one; between two dialed by one node, the newer (its
 * dialer gave the older up).
 */
bool tj__conn_keep_first(const struct tj__conn *a, const struct tj__conn *b, const uint8_t self_pk[32]);
/*
 * c has just become ready: starts its liveness clock and resets the backoff
 * of the book entry with its key. If another ready connection has the same
 * key: when the rule above keeps c, the other is closed (BYE DUPLICATE);
 * when it keeps the other, that one is probed first (c->twin_check): if it
 * answers within TJ_PEER_HANDSHAKE_MS c is closed, else it is cut as dead.
 * However a duplicate closes, the one kept reconciles once more if we
 * dialed it (tj__conn_close).
 */
void tj__conn_ready(struct tj__conn *c);
/* The next redial of an address-book entry: backoff_ms capped by TJ_PEER_BACKOFF_MAX_MS, jittered. */
uint64_t tj__backoff_next(uint32_t *backoff_ms, uint64_t now, uint32_t rnd);
/* Liveness: probes silent peers and cuts dead ones (from the tick). */
void tj__liveness_tick(struct tj_peers *P, uint64_t now);
void tj__conn_close(struct tj__conn *c);
/* Seals msg as one box-stream message and queues it. Closes c on failure. */
int tj__conn_send(struct tj__conn *c, const uint8_t *msg, size_t len);
/* Sends BYE(reason) and the goodbye frame, then closes. */
void tj__conn_bye(struct tj__conn *c, uint64_t reason, const char *why);
/* Takes n tokens (refilled at rate/s up to burst); false when not enough. */
bool tj__bucket_take(struct tj__bucket *b, double n, double rate, double burst);
/* Counts a quota breach: pauses reads for a second, or drops the peer at TJ_PEER_STRIKES_MAX. */
void tj__conn_over_quota(struct tj__conn *c, const char *what);
void tj__conn_update_reading(struct tj__conn *c);
struct tj__pstat *tj__pstat_for(struct tj_peers *P, const uint8_t pk[32]);

/* tj_sync.c */
TJ_MUST_CHECK int tj__sync_init(struct tj_peers *P);
void tj__sync_free(struct tj_peers *P);
/* The box-stream is up: send HELLO. */
void tj__sync_on_ready(struct tj__conn *c);
/* One whole application message from c. */
void tj__sync_on_msg(struct tj__conn *c, const uint8_t *msg, size_t len);
/* c is closing: release what it held of the sync. */
void tj__sync_on_close(struct tj__conn *c);
/* Periodic: deadlines and resyncs. */
void tj__sync_tick(struct tj_peers *P, uint64_t now);
/* Sends a liveness probe (tj_wire.h) if a WANT slot is free; 0, or an error (c may be closed). */
int tj__sync_probe(struct tj__conn *c);
/* Sends queued WANTs and HAVEs while the queue has room. */
void tj__sync_pump(struct tj__conn *c);

/* tj_peer_derive.c: the background pass that indexes and evaluates stored records. */
#define TJ_PEER_DERIVE_DEFER_MS 500u /* while ingest is busy, one step at least this often */
/*
 * A step: at most CAP records, none started after US of wall time. Busy: while
 * records arrive. Idle: a step commits once, and a commit's cost is mostly the
 * pages it writes, so longer steps index more per second (30,000 records
 * after a catch-up: 2,100/s in steps of 20 ms, 3,700/s in steps of 100 ms);
 * the loop answers peers and control requests between steps.
 */
#define TJ_PEER_DERIVE_IDLE_CAP 1024u
#define TJ_PEER_DERIVE_IDLE_US 100000u
#define TJ_PEER_DERIVE_BUSY_CAP 256u
#define TJ_PEER_DERIVE_BUSY_US 20000u
#define TJ_PEER_DERIVE_RETRY_MS 1000u /* after a failed step */
TJ_MUST_CHECK int tj__derive_init(struct tj_peers *P);
/* A batch was stored, n_new of its records marked pending: schedules a step. */
void tj__derive_kick(struct tj_peers *P, size_t n_new);

/* tj_peer_book.c */
TJ_MUST_CHECK int tj__book_load(struct tj_peers *P);
void tj__dial(struct tj_peers *P, size_t idx);

#endif
