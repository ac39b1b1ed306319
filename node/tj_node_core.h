/*
 * An opened node: the store, the keyring and the unlocked identity, and the
 * operations the control socket exposes. Used by the daemon (one per
 * process, since the store is) and by tests; tools/ go through tj_node.h
 * and the control socket instead.
 *
 * Everything here runs on the loop thread, synchronously: each operation
 * begins and ends its own LMDB transaction.
 */
#ifndef TJ_NODE_CORE_H
#define TJ_NODE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_incident.h"
#include "tj_keyfile.h"
#include "tj_keyring.h"
#include "tj_store.h"

#define TJ_NETWORK_NAME_MAX 64    /* bytes, NUL excluded */
#define TJ_STEWARDS_MAX 32
#define TJ_PRIOR_WINDOW_DAYS 90   /* the severity modifier's window */
#define TJ_LIST_LIMIT_DEFAULT 100
#define TJ_LIST_LIMIT_MAX 1000
#define TJ_LIST_SCAN_MAX 10000    /* by_ts entries one list call may look at (~0.5 s) */

/* meta names */
#define TJ_META_NETWORK_ID "network_id"
#define TJ_META_HEAD "head" /* our chain: seq(8) || id(32) */

struct tj_node {
	struct tj_store *store;
	struct tj_keyring *keyring;
	struct tj_unlocked *u;  /* owned */
	uint8_t *blind_key;     /* 32 bytes, sodium_malloc: keys the blinded indexes */
	bool has_network;
	uint8_t network_id[32];
	char network_name[TJ_NETWORK_NAME_MAX + 1];
	uint32_t stewards_threshold;
	uint64_t started_ms;
};

/*
 * Opens datadir's store (map_size_bytes 0 = default), unseals the keyring
 * with u's storage key and reads the network from the genesis. Takes
 * ownership of u in every case (freed on failure).
 */
TJ_MUST_CHECK int tj_node_open(const char *datadir, uint64_t map_size_bytes, struct tj_unlocked *u,
			       struct tj_node **out);
/* Closes the store and wipes every secret. Accepts NULL. */
void tj_node_close(struct tj_node *n);

/* The genesis body: canonical [name(str), threshold(uint), [steward pk(bin 32)...]]. */
TJ_MUST_CHECK int tj_genesis_body_decode(const uint8_t *buf, size_t len, char name[TJ_NETWORK_NAME_MAX + 1],
					 uint32_t *threshold, uint8_t (*stewards)[32], size_t cap, size_t *n_stewards);

/* One incident to add: borrowed bodies in, results out. */
struct tj_add_item {
	const uint8_t *summary;  /* canonical summary body (tj_incident_summary_encode) */
	size_t summary_len;
	const uint8_t *case_body; /* canonical case body, or NULL */
	size_t case_len;
	const uint8_t *case_readers; /* more readers of the case face: n keys of 32 bytes, packed; borrowed */
	uint32_t n_case_readers;     /* 0 to TJ_SHARE_READERS_MAX (tj_share.h) */
	/* Circles (tj_circle.h) by name, "" for none: the case face is also sealed to the first's newest
	 * key; the summary is sealed to the second's instead of the network's epoch. */
	char case_circle[65];
	char summary_circle[65];
	const struct tj_sym_key *case_circle_key_;    /* set by tj_node_add: borrowed from the keyring */
	const struct tj_sym_key *summary_circle_key_; /* set by tj_node_add: borrowed from the keyring */
	uint8_t summary_circle_id_[32];               /* set by tj_node_add */
	/* results */
	int err;                  /* 0, or why this item was not stored */
	struct tj_verr verr;      /* message when err is TJ_ESCHEMA (or a decode error) */
	uint8_t id[32];
	bool has_case;
	uint8_t case_id[32];
	uint8_t severity;
	uint64_t recorded_at_ms;
};

/*
 * Adds n (<= TJ_INGEST_BATCH_MAX) incidents: each is re-validated, its
 * severity computed unless explicit, sealed (summary to the network's current
 * epoch, case to this node only) and stored, all valid items in ONE write
 * transaction. Per-item results in items[i]; returns 0 when the transaction
 * committed (results are then final), or the store error (no item stored).
 */
TJ_MUST_CHECK int tj_node_add(struct tj_node *n, struct tj_add_item *items, size_t n_items);

/*
 * Appends one record of ours (kind, canonical body) sealed to the network's
 * current epoch, audience network, in one write transaction: alert
 * acknowledgements and resolutions (tj_alert.h). Returns its id and ts_ms
 * once committed. TJ_ESTATE before the node joined a network.
 */
TJ_MUST_CHECK int tj_node_append(struct tj_node *n, uint8_t kind, const uint8_t *body, size_t body_len,
				 uint8_t id[32], uint64_t *ts_ms);

/*
 * This node's chain head (TJ_META_HEAD) in t: the next record of ours takes
 * seq + 1 and prev = id; *has is false before our first record.
 */
TJ_MUST_CHECK int tj_node_head_get(struct tj_txn *t, bool *has, uint64_t *seq, uint8_t id[32]);
TJ_MUST_CHECK int tj_node_head_set(struct tj_txn *t, uint64_t seq, const uint8_t id[32]);

/*
 * Seals body as our next record (kind, audience network, current epoch) into
 * rec (rec_cap bytes), stores it through ingest's checks and moves our head,
 * all in the caller's write transaction t (membership and circle records).
 * The caller commits and tells the peers. TJ_ESTATE without an epoch key; an
 * ingest refusal is returned as its error.
 */
TJ_MUST_CHECK int tj_node_write_txn(struct tj_node *n, struct tj_txn *t, uint8_t kind, const uint8_t *body,
                                    size_t body_len, uint8_t *rec, size_t rec_cap, uint8_t id[32]);

/* Filters and paging for tj_node_list. */
struct tj_list_query {
	char state[3];          /* "" = any */
	bool has_since;
	int64_t since_day;      /* occurred on/after (days since 1970) */
	char act[TJ_CODE_MAX];  /* "" = any */
	bool has_after;
	uint8_t after[32];      /* paging cursor: last id seen */
	uint32_t limit;         /* 1..TJ_LIST_LIMIT_MAX */
	size_t max_bytes;       /* stop before the items' bytes would pass this */
};

/* One listed or shown incident. plain is a heap copy (wiped by tj_listed_free). */
struct tj_listed {
	uint8_t id[32];
	uint8_t author[32];
	uint64_t recorded_at_ms;
	uint8_t severity;
	uint8_t *summary;       /* decrypted canonical summary body */
	size_t summary_len;
	/* show only: */
	const char *case_status; /* "readable", "not_shared", "none" */
	uint8_t *case_body;     /* decrypted case body, NULL unless readable */
	size_t case_len;
};
void tj_listed_free(struct tj_listed *l); /* frees the members, not l; accepts NULL */

/*
 * Lists readable incidents newest recorded first. The callback gets each
 * (borrowed for the call); it returns nonzero when it cannot take the item,
 * which ends the page before it. *next is set (has_next) when more may
 * follow: pass it as `after` to continue. One call looks at no more than
 * TJ_LIST_SCAN_MAX entries, so a page may be short (even empty) with a next.
 */
typedef int (*tj_list_cb)(void *ctx, const struct tj_listed *item);
TJ_MUST_CHECK int tj_node_list(struct tj_node *n, const struct tj_list_query *q, tj_list_cb cb, void *ctx,
			       bool *has_next, uint8_t next[32]);

/*
 * Finds one incident by full id (nibbles 64) or by a hex prefix of at least 8
 * nibbles: TJ_ENOTFOUND, or TJ_EEXIST when the prefix is ambiguous.
 */
TJ_MUST_CHECK int tj_node_show(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
			       struct tj_listed *out);

struct tj_node_status {
	struct tj_store_stats store;
	uint64_t uptime_s;
	uint64_t own_seq;       /* our chain head's seq (0 with none) */
	bool has_head;
};
TJ_MUST_CHECK int tj_node_status(struct tj_node *n, struct tj_node_status *out);

/* The blinded index key of a victim reference (exposed for tests). */
void tj_node_victim_key(const struct tj_node *n, const char *ref, uint8_t key[32]);

#endif
