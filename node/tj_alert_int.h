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
/* The stored alert without its acks; TJ_ENOTFOUND when absent. */
int tj__alert_load(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_alert *a);
int tj__alert_put(struct tj_node *n, struct tj_txn *t, const struct tj_alert *a);
/* Appends an event (raise) for alert id; *seq its number (NULL ok). */
int tj__alert_event_append(struct tj_txn *t, const uint8_t id[32], uint64_t *seq);
int tj__ack_put(struct tj_node *n, struct tj_txn *t, const uint8_t alert_id[32], const uint8_t record_id[32],
                const struct tj_alert_ack *ack);
int tj__ack_decode(const uint8_t *buf, size_t len, struct tj_alert_ack *ack);

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
