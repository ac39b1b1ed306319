/*
 * Internal to node/tj_alert*.c: the sealed "alerts" database and the pieces
 * the rules, the store and the operations share. Not for other modules.
 */
#ifndef TJ_ALERT_INT_H
#define TJ_ALERT_INT_H

#include <lmdb.h>

#include "tj_alert.h"

int tj__alert_dbi(struct tj_txn *t, MDB_dbi *dbi);
/* Seals plain under the node's alert key with key as associated data, and puts it. */
int tj__alert_put_sealed(struct tj_node *n, struct tj_txn *t, const uint8_t *key, size_t klen,
                         const uint8_t *plain, size_t plen);
int tj__alert_get_sealed(struct tj_node *n, struct tj_txn *t, const uint8_t *key, size_t klen, uint8_t *plain,
                         size_t cap, size_t *plen);
int tj__alert_open_val(struct tj_node *n, const uint8_t *key, size_t klen, const MDB_val *v, uint8_t *plain,
                       size_t cap, size_t *plen);
/* A counter of one-byte name ('N', 'H', 'V'); absent reads 0. */
int tj__alert_u64_get(struct tj_txn *t, char name, uint64_t *v);
int tj__alert_u64_put(struct tj_txn *t, char name, uint64_t v);
/* The stored alert without its acks; TJ_ENOTFOUND when absent. */
int tj__alert_load(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert *a);
int tj__alert_put(struct tj_node *n, struct tj_txn *t, const struct tj_alert *a);
/* Appends an event of kind (enum tj_alert_event_kind) for alert id; *seq its number (NULL ok). */
int tj__alert_event_append(struct tj_txn *t, const uint8_t id[32], uint8_t kind, uint64_t *seq);
/*
 * Withdraws alert id (absent: nothing). purge (its anchor was retracted, it
 * can never come back): its acknowledgement entries go too, and its events
 * at the next tj__alert_events_purge. Otherwise (the anchor moved, or no
 * longer fires) acknowledgements stay for when it fires again, and its
 * events read as withdrawn.
 */
int tj__alert_withdraw(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], bool purge);
/* An 'E' value: the alert id and the event's kind (0 when malformed). */
void tj__alert_event_value(const MDB_val *v, uint8_t id[32], uint8_t *kind);
/* Was alert id purged here (its anchor retracted)? */
int tj__alert_purged(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], bool *purged);
/* Deletes the events of the alerts purged since the last call (one walk); in t before its commit. */
int tj__alert_events_purge(struct tj_txn *t);
/* Forgets them (t was aborted). */
void tj__alert_events_forget(void);
int tj__ack_put(struct tj_node *n, struct tj_txn *t, const uint8_t alert_id[32], const uint8_t record_id[32],
                const struct tj_alert_ack *ack);
int tj__ack_decode(const uint8_t *buf, size_t len, struct tj_alert_ack *ack);

/*
 * The codes one incident gives the alerts that list it (what
 * tj__alert_add_codes takes from its summary, occurrence state only), kept
 * per incident so window rules never open a record: 'C' || incident id in
 * "alerts", sealed like an alert. Lists hold distinct codes in the order the
 * summary gives them (first seen first), so merging them into an alert gives
 * exactly what tj__alert_add_codes gives.
 */
#define TJ_ALERT_INC_CODES_MAX 24 /* distinct codes per list of one incident */
enum { TJ__C_ACTS, TJ__C_AGGRESSORS, TJ__C_ROLES, TJ__C_GENDERS, TJ__C_LISTS };
struct tj_alert_codes {
	char state[TJ_CODE_MAX];
	uint8_t severity;
	bool protection;
	uint32_t n[TJ__C_LISTS];
	char v[TJ__C_LISTS][TJ_ALERT_INC_CODES_MAX][TJ_CODE_MAX];
};
void tj__alert_codes_of(const struct tj_incident_summary *s, struct tj_alert_codes *c);
/* Merges c into a as tj__alert_add_codes(a, s, false) would. */
void tj__alert_add_inc_codes(struct tj_alert *a, const struct tj_alert_codes *c);
int tj__alert_codes_put(struct tj_node *n, struct tj_txn *t, const uint8_t id[32],
                        const struct tj_alert_codes *c);
/* Deletes them (absent: nothing). */
int tj__alert_codes_del(struct tj_txn *t, const uint8_t id[32]);
/* TJ_ENOTFOUND when id has no codes here (not readable, or not evaluated yet). */
int tj__alert_codes_get(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert_codes *c);

/* Adds an incident id to a's sorted list; false when it was there already. */
bool tj__alert_add_id(struct tj_alert *a, const uint8_t id[32]);
/* Merges every code of s into a (states: occurrence; residence too when with_residence). */
void tj__alert_add_codes(struct tj_alert *a, const struct tj_incident_summary *s, bool with_residence);
/*
 * Stores a (id, trigger, codes, incidents filled): new -> created now,
 * raised once, an event; known -> incidents and codes merged into it.
 */
int tj__alert_upsert(struct tj_node *n, struct tj_txn *t, struct tj_alert *a);
/* The id of an alert: BLAKE2b-256("tejido-alert-v1" || trigger || key). */
void tj__alert_id(uint8_t trigger, const uint8_t *key, size_t klen, uint8_t id[32]);

/*
 * A retracted incident s (id, by author), whose query index entries are gone
 * already: removes its T4/T5 index entries and codes, purges the alerts it
 * anchored, and recomputes every window and cluster its date affected.
 */
int tj__alert_incident_removed(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                               const uint8_t author[32], const uint8_t id[32]);
/*
 * Adding an incident skips the clusters it cannot change only while the store
 * is known to hold every cluster alert as the current thresholds give it
 * ('F' in "alerts", tj_alert_rules.c). tj__alert_clean_check, before an
 * incident is indexed: a store not known either way is known clean when
 * nothing is indexed and no alert is stored, otherwise never.
 * tj__alert_clean_forget: the store is not known clean any more.
 */
int tj__alert_clean_check(struct tj_txn *t);
int tj__alert_clean_forget(struct tj_txn *t);
/* Purges every alert anchored at a tombstoned incident that a (format < 3) store still holds. */
int tj__alert_purge_tombstoned(struct tj_node *n, struct tj_txn *t);

#endif
