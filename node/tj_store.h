/*
 * The LMDB store: DIR/store, ONE environment per process (tj_store_open
 * refuses a second one with TJ_ESTATE).
 *
 * Named databases (keys and values are raw bytes; integers big-endian):
 *   ids        id(32) -> where its canonical encoding is in bodies:
 *              chunk(4) || offset(2) || length - 1 (2)
 *   bodies     chunk(8) -> encodings back to back (~64 KiB, one LMDB
 *              overflow value, so bodies fill whole pages in any id order);
 *              a deleted body's bytes become zeros
 *   by_ts      ts_ms(8) || id(32) -> empty; the (ts, id) order for listing and sync
 *   chain      author(32) || seq(8) -> id (DUPSORT: both records of an
 *              equivocation are kept; never overwritten)
 *   authors    author(32) -> number of records stored from it (8)
 *   frozen     author(32) -> evidence: the two ids (64)
 *   tombstones id(32) -> msgpack [author(bin 32), ts_ms, reason(str)]
 *   meta       name(str) -> value (the sealed keyring, our chain head, counters...)
 *   case_of    summary id(32) -> case record id (DUPSORT; anyone may name a
 *              summary in a case record's audience, so readers pick the one
 *              whose author wrote the summary)
 *   victim_idx blinded key(32) -> day(8) || incident id(32) (DUPSORT); the key
 *              is a keyed hash of the victim reference, so no plaintext is on disk
 *   alerts     derived alerts, sealed (node/tj_alert.h); tj_store_put_record
 *              also writes there 'P' || id -> empty for every incident, ack or
 *              resolution, in the same transaction: "not evaluated yet"
 *   query_idx  blinded (field, code) -> day(8) || id(32) (DUPSORT; node/tj_query.h)
 *
 * Format: meta "store.format" = 2 (8 bytes). A store of format 1 (one
 * "records" database, id -> encoding) is migrated when it is opened, in one
 * transaction; a newer format is refused with TJ_ESTATE.
 *
 * Transactions: a transaction begins and ends in one function, never across
 * a libuv callback. Every pointer a getter returns borrows from LMDB and is
 * valid only until the transaction ends: copy it out first. A write counts
 * only once tj_txn_commit() returned 0.
 * WARNING: bodies added in a write transaction are staged in memory and put
 * at tj_txn_commit; raw LMDB access with t->txn (tj_store_ext_dbi) sees the
 * other databases, never bodies.
 *
 * Errors: LMDB failures become TJ_ESTORE (the mdb_strerror is logged), a full
 * map TJ_ESTOREFULL; a missing key is TJ_ENOTFOUND.
 */
#ifndef TJ_STORE_H
#define TJ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "tj_error.h"
#include "tj_record.h"

#define TJ_STORE_DIR_NAME "store"
#define TJ_STORE_MAP_SIZE_DEFAULT_BYTES (16ull * 1024 * 1024 * 1024)
#define TJ_STORE_META_NAME_MAX 64
#define TJ_STORE_TS_KEY_BYTES 40
#define TJ_STORE_PENDING_PREFIX 'P' /* alerts: 'P' || id, a record not evaluated yet */

struct tj_store;

/* A transaction on the store; lives on the stack of the function that begins it. */
struct tj_txn {
	struct tj_store *st;
	MDB_txn *txn;
	bool write;
};

/* Counts for `status`. */
struct tj_store_stats {
	uint64_t records;
	uint64_t authors;
	uint64_t frozen;
	uint64_t tombstones;
	uint64_t by_kind[TJ_KIND__COUNT];
	uint64_t map_size_bytes;
	uint64_t used_bytes;
};

/*
 * Opens (creating if needed, mode 0700) datadir/store with the given map size
 * (0 = TJ_STORE_MAP_SIZE_DEFAULT_BYTES), clears stale readers
 * (mdb_reader_check) and opens the named databases.
 */
TJ_MUST_CHECK int tj_store_open(const char *datadir, uint64_t map_size_bytes, struct tj_store **out);
/*
 * The handle of a database other modules keep their derived data in, opened
 * with the others at start: "alerts" (node/tj_alert.h) and "query_idx"
 * (DUPSORT, node/tj_query.h). Use it with t->txn; TJ_ENOTFOUND for other names.
 */
TJ_MUST_CHECK int tj_store_ext_dbi(struct tj_store *st, const char *name, MDB_dbi *out);
/* Closes the environment (no transaction may be open). Accepts NULL. */
void tj_store_close(struct tj_store *st);

/*
 * Clears the reader slots of processes that died inside a read transaction
 * (another program that opened this store: a backup script, mdb_copy killed
 * halfway). Such a slot keeps LMDB from reusing any page freed after its
 * snapshot, so the file grows until it is cleared; the daemon calls this
 * every minute, tj_store_open once. *dead: how many were cleared.
 */
TJ_MUST_CHECK int tj_store_reader_check(struct tj_store *st, int *dead);

TJ_MUST_CHECK int tj_txn_begin(struct tj_store *st, bool write, struct tj_txn *t);
/* Commits (write) or ends (read) t. On failure nothing of t was stored. */
TJ_MUST_CHECK int tj_txn_commit(struct tj_txn *t);
/* Aborts t; safe on a transaction that already ended. */
void tj_txn_abort(struct tj_txn *t);

/* Records. */
TJ_MUST_CHECK int tj_store_get(struct tj_txn *t, const uint8_t id[32], const uint8_t **enc, size_t *len);
TJ_MUST_CHECK int tj_store_has(struct tj_txn *t, const uint8_t id[32]); /* 0 or TJ_ENOTFOUND */
/*
 * Stores a decoded, verified record under id in every index (records, by_ts,
 * chain, authors, kind counter). TJ_EEXIST if id is stored. Policy (chain,
 * frozen, tombstones) is the caller's: see tj_ingest.h.
 */
TJ_MUST_CHECK int tj_store_put_record(struct tj_txn *t, const uint8_t id[32], const struct tj_record *rec,
				      const uint8_t *enc, size_t len);

/* The ids stored at (author, seq), in id order, at most cap; *n = how many. */
TJ_MUST_CHECK int tj_store_chain_ids(struct tj_txn *t, const uint8_t author[32], uint64_t seq,
				     uint8_t (*ids)[32], size_t cap, size_t *n);

/* Freezes author with the evidence (two ids of one seq). Keeps the first evidence. */
TJ_MUST_CHECK int tj_store_freeze(struct tj_txn *t, const uint8_t author[32], const uint8_t id_a[32],
				  const uint8_t id_b[32]);
/* 0 and the evidence (64 bytes, may be NULL) if author is frozen, else TJ_ENOTFOUND. */
TJ_MUST_CHECK int tj_store_frozen(struct tj_txn *t, const uint8_t author[32], uint8_t evidence[64]);

/*
 * Tombstones id: deletes the record's body and its by_ts entry (if stored)
 * and keeps [author, ts_ms, reason] so the record never comes back.
 */
TJ_MUST_CHECK int tj_store_tombstone(struct tj_txn *t, const uint8_t id[32], const uint8_t author[32],
				     uint64_t ts_ms, const char *reason);
TJ_MUST_CHECK int tj_store_tombstoned(struct tj_txn *t, const uint8_t id[32]); /* 0 or TJ_ENOTFOUND */

/* Meta values (name is a short ASCII key). */
TJ_MUST_CHECK int tj_store_meta_get(struct tj_txn *t, const char *name, const uint8_t **val, size_t *len);
TJ_MUST_CHECK int tj_store_meta_put(struct tj_txn *t, const char *name, const void *val, size_t len);

/* case_of. */
TJ_MUST_CHECK int tj_store_case_of_put(struct tj_txn *t, const uint8_t summary_id[32], const uint8_t case_id[32]);
TJ_MUST_CHECK int tj_store_case_of_get(struct tj_txn *t, const uint8_t summary_id[32], uint8_t (*ids)[32],
				       size_t cap, size_t *n);

/* The blinded victim index. day is days since 1970-01-01 (>= 0). */
TJ_MUST_CHECK int tj_store_victim_put(struct tj_txn *t, const uint8_t key[32], uint64_t day, const uint8_t id[32]);
/* Sets *found when an entry under key has a day in [day_lo, day_hi]. */
TJ_MUST_CHECK int tj_store_victim_any(struct tj_txn *t, const uint8_t key[32], uint64_t day_lo, uint64_t day_hi,
				      bool *found);
/* Removes every entry naming incident id (a retraction): a walk of the whole
 * index, which holds only this node's own incidents' victims. */
TJ_MUST_CHECK int tj_store_victim_del_id(struct tj_txn *t, const uint8_t id[32]);

/*
 * Walks by_ts. Start after (or before, when newest_first) the entry of
 * `after` (ts_ms, id), or from the end when after is NULL.
 */
struct tj_store_iter {
	MDB_cursor *cur;
	bool newest_first;
	bool started;
	bool has_after;
	uint8_t after[TJ_STORE_TS_KEY_BYTES];
};
TJ_MUST_CHECK int tj_store_iter_open(struct tj_txn *t, bool newest_first, const uint8_t *after_key,
				     struct tj_store_iter *it);
/* Next entry; TJ_ENOTFOUND at the end. */
TJ_MUST_CHECK int tj_store_iter_next(struct tj_store_iter *it, uint64_t *ts_ms, uint8_t id[32]);
void tj_store_iter_close(struct tj_store_iter *it);
/* The by_ts key of (ts_ms, id). */
void tj_store_ts_key(uint64_t ts_ms, const uint8_t id[32], uint8_t key[TJ_STORE_TS_KEY_BYTES]);

/*
 * Ids starting with a hex prefix of nibbles nibbles (>= 1): up to cap of
 * them in ids, *n = how many found (at most cap; cap 2 tells unique from
 * ambiguous).
 */
TJ_MUST_CHECK int tj_store_find_prefix(struct tj_txn *t, const uint8_t *prefix, size_t nibbles,
				       uint8_t (*ids)[32], size_t cap, size_t *n);

TJ_MUST_CHECK int tj_store_stats(struct tj_txn *t, struct tj_store_stats *out);

/*
 * For offline checkers that open the store's environment themselves
 * (tests/evidence, read-only): id's encoding through their own transaction
 * and their handles of "ids" and "bodies"; valid until txn ends. When loc is
 * not NULL it receives the chunk number, offset and length.
 */
TJ_MUST_CHECK int tj_store_raw_body(MDB_txn *txn, MDB_dbi ids, MDB_dbi bodies, const uint8_t id[32],
				    const uint8_t **enc, size_t *len, uint64_t loc[3]);

/* Big-endian helpers. */
void tj_store_be64(uint64_t v, uint8_t out[8]);
uint64_t tj_store_rd64(const uint8_t in[8]);

#endif
