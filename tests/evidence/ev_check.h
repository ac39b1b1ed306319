/*
 * The store checker of the evidence tests: opens a STOPPED node's LMDB store
 * read-only (MDB_RDONLY | MDB_NOLOCK: not a byte of the data directory is
 * written) and checks what a crash must never break:
 *
 *   - every stored record decodes and its signature verifies
 *     (tj_record_verify), and its id is the key it is stored under;
 *   - every record is in the author chain index, and every chain entry names
 *     a stored record (or a tombstone);
 *   - each author's chain has no hole below its head (seq 0 .. max all
 *     present) and each record's prev is an id stored at seq - 1;
 *   - the by_ts index holds exactly the stored records;
 *   - our own head (meta "head") is the highest record of our chain, so the
 *     next add cannot reuse a seq (which would look like equivocation);
 *   - every acknowledged id is stored.
 */
#ifndef TJ_EV_CHECK_H
#define TJ_EV_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_check_report {
	uint64_t records;       /* in the records database */
	uint64_t verified;      /* signature and id good */
	uint64_t bad;           /* failed to verify or stored under another id */
	uint64_t chain_entries;
	uint64_t chain_dangling; /* chain entry naming neither a record nor a tombstone */
	uint64_t authors;
	uint64_t holes;         /* missing seqs below an author's max */
	uint64_t bad_prev;      /* prev not among the ids at seq - 1 */
	uint64_t equivocations; /* (author, seq) with two ids */
	uint64_t by_ts;
	uint64_t by_ts_dangling;
	bool head_checked;
	bool head_ok;
	uint64_t head_seq;
	uint64_t acked;
	uint64_t acked_missing;
	int err;                /* an LMDB or open error (then the rest is partial) */
};

/*
 * Checks datadir's store. own_pk (NULL = skip the head check) is the node's
 * key; acked (n_acked entries, may be NULL) the acknowledged ids.
 */
void ev_check_store(const char *datadir, const uint8_t *own_pk, const uint8_t (*acked)[32], size_t n_acked,
		    struct ev_check_report *rep);
/* True when the report shows nothing wrong. */
bool ev_check_ok(const struct ev_check_report *rep);
/*
 * Injects three faults into datadir's store (a flipped bit, a chain hole, a
 * lost acknowledged record; needs n_acked >= 3) and checks that
 * ev_check_store reports each: 0 when it does. Destroys the store's integrity:
 * only for a store about to be removed.
 */
int ev_check_selftest(const char *datadir, const uint8_t *own_pk, const uint8_t (*acked)[32], size_t n_acked);
/* One line of the counts on f. */
void ev_check_print(const struct ev_check_report *rep, const char *label, void *f);

#endif
