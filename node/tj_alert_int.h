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
/* Appends an event (raise) for alert id; *seq its number (NULL ok). */
int tj__alert_event_append(struct tj_txn *t, const uint8_t id[32], uint64_t *seq);
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
int tj__alert_codes_put(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], const struct tj_alert_codes *c);
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

#endif
