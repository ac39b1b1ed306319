/*
 * Queries over the incidents this node can read, and the blinded index that
 * makes them fast without any readable field on disk.
 *
 * Index (named database "query_idx", DUPSORT):
 *   key   = BLAKE2b-256 keyed with a local key (derived from the node's
 *           blinding key, itself from the storage key) over field || 0 || code
 *   value = day(8, big-endian; occurred.start as days since 1970, 0 when
 *           earlier) || incident id(32)
 * so duplicates sort by date and a date range is one cursor walk. Every
 * incident is also indexed under ("all", ""). The key reveals nothing without
 * the storage key; the values reveal dates and ids, which every record's
 * header shows anyway (ids) or which say nothing alone (days).
 *
 * A query gathers candidates from the index (OR within a field, AND across
 * fields, the date range on every walk), then opens each candidate and
 * checks the full filter on the decrypted summary: the index narrows, the
 * summary decides, so a collision or a stale entry can never add a wrong
 * result.
 */
#ifndef TJ_QUERY_H
#define TJ_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_incident.h"
#include "tj_node_core.h"
#include "tj_store.h"

#define TJ_QUERY_DBI_NAME "query_idx"
#define TJ_QUERY_TERMS_MAX 24
#define TJ_QUERY_CODES_MAX 16 /* codes per term */
#define TJ_QUERY_FIELD_MAX 24
#define TJ_QUERY_VALUES_MAX (TJ_INC_ACTS_MAX + TJ_INC_VICTIMS_MAX * TJ_INC_LIST_MAX)
#define TJ_QUERY_RESULTS_MAX 100000u /* paging offsets a client may ask for */

/* A queryable field: its name in queries and the vocabulary its codes come from. */
struct tj_query_field {
	const char *name;  /* "state", "act", "aggressor", ... */
	const char *vocab; /* tj_vocab field name; "inegi_state", "inegi_municipality" or "severity" */
};
/* All queryable fields; *n = how many. */
const struct tj_query_field *tj_query_fields(size_t *n);
const struct tj_query_field *tj_query_field_find(const char *name);
/* Is code a valid value of field? */
bool tj_query_code_valid(const struct tj_query_field *f, const char *code);

/*
 * The codes an incident holds for field (with repeats), as pointers into s
 * (or static strings for severity). Returns how many, at most cap.
 */
size_t tj_summary_codes(const struct tj_incident_summary *s, const char *field, const char **out, size_t cap);

struct tj_query_term {
	char field[TJ_QUERY_FIELD_MAX];
	uint32_t n_codes;
	char codes[TJ_QUERY_CODES_MAX][TJ_CODE_MAX];
};

struct tj_query {
	uint32_t n_terms;
	struct tj_query_term terms[TJ_QUERY_TERMS_MAX];
	bool has_since, has_until;
	int64_t since_day, until_day; /* occurred.start, inclusive */
	uint32_t limit;               /* 0 = no limit */
	uint32_t offset;              /* skip this many matches first (paging) */
};

/* Does s pass every term and the dates? */
bool tj_query_matches(const struct tj_query *q, const struct tj_incident_summary *s);

/* The blinded index key of (field, code). */
void tj_query_key(const struct tj_node *n, const char *field, const char *code, uint8_t key[32]);

/* Indexes a readable incident under every (field, code) it holds, in t. */
TJ_MUST_CHECK int tj_query_index_put(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                                     const uint8_t id[32]);
/* Adds one entry (used by the rules' own keys). */
TJ_MUST_CHECK int tj_query_index_add(struct tj_txn *t, const uint8_t key[32], int64_t day,
                                     const uint8_t id[32]);
/*
 * Retraction (tj_alert.h): removes every entry tj_query_index_put made for
 * s (id); one entry under key, whatever payload follows day || id (the
 * rules' keys); and, for a store that predates removal, every entry of any
 * tombstoned incident (a walk over the whole index). Absent entries are fine.
 */
TJ_MUST_CHECK int tj_query_index_del(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                                     const uint8_t id[32]);
TJ_MUST_CHECK int tj_query_index_remove(struct tj_txn *t, const uint8_t key[32], int64_t day,
                                        const uint8_t id[32]);
TJ_MUST_CHECK int tj_query_index_purge_tombstoned(struct tj_txn *t, size_t *n_removed);

/*
 * The ids under key with day in [day_lo, day_hi], ascending (day, id), at
 * most cap; *n = how many (TJ_ELIMIT when more exist than cap).
 */
TJ_MUST_CHECK int tj_query_index_ids(struct tj_txn *t, const uint8_t key[32], int64_t day_lo, int64_t day_hi,
                                     uint8_t (*ids)[32], int64_t *days, size_t cap, size_t *n);

/*
 * Opens a stored incident this node can read: its summary, author and
 * recording time. TJ_ENOTFOUND when id is not an incident, TJ_ENOKEY /
 * TJ_EDECRYPT when unreadable. Plaintext is wiped before return.
 */
TJ_MUST_CHECK int tj_query_open(struct tj_node *n, struct tj_txn *t, const uint8_t id[32],
                                struct tj_incident_summary *s, uint8_t author[32], uint64_t *recorded_ms);
/* The same from a record's encoding (enc borrowed; TJ_ESTORE when it does not decode). */
TJ_MUST_CHECK int tj_query_open_enc(struct tj_node *n, const uint8_t *enc, size_t len,
                                    struct tj_incident_summary *s, uint8_t author[32], uint64_t *recorded_ms);

/* One result: borrowed for the callback. */
struct tj_query_hit {
	const uint8_t *id;
	const uint8_t *author;
	uint64_t recorded_ms;
	const struct tj_incident_summary *s;
};
typedef int (*tj_query_cb)(void *ctx, const struct tj_query_hit *hit);

/*
 * Runs q newest occurred first (ties by id, so pages are stable); skips
 * the first q->offset matches, then passes at most q->limit to cb, which
 * returns nonzero to stop. *n_matched = how many were passed to cb. One
 * read transaction.
 */
TJ_MUST_CHECK int tj_query_run(struct tj_node *n, const struct tj_query *q, tj_query_cb cb, void *ctx,
                               uint64_t *n_matched);

/* Parses "a,b,c" codes of field into term, checking each: TJ_ESCHEMA with the bad code in bad. */
TJ_MUST_CHECK int tj_query_term_parse(const char *field, const char *list, struct tj_query_term *term,
                                      char bad[TJ_CODE_MAX]);

#endif
