/*
 * Alerts (DESIGN.md "Alerts"): rules T1-T7 evaluated on every incident this
 * node can read, stored sealed in LMDB, acknowledged and resolved by records.
 *
 * Determinism. An alert's id is BLAKE2b-256("tejido-alert-v1" || trigger ||
 * defining key), where the defining key never depends on the order in which
 * incidents arrived nor on anything local to a node:
 *   T1, T2, T6, T7  the incident's id
 *   T3              the cluster's anchor: its first incident, in (day, id)
 *                   order, with >= cluster_min incidents in its municipality
 *                   dated in [day - window, day] (itself included)
 *   T4              the anchor incident's id: an incident whose victim (same
 *                   author and victims[].ref) has another incident dated in
 *                   [day - window, day] (on the same day the one with the
 *                   lower id is the earlier); each new incident against the
 *                   same victim is news, so each such anchor has its alert
 *   T5              aggressor type + the cluster's anchor: its first incident
 *                   with >= victims_min distinct victims of acts by that
 *                   aggressor type in its state dated in [day - window, day]
 * Clusters (T3, T5). An incident whose window reaches the threshold "fires";
 * firing incidents at most a window apart (in days) belong to one cluster,
 * whose alert lists every incident of its windows, [first firing day -
 * window, last firing day] (the latest TJ_ALERT_INCIDENTS_MAX ids, with the
 * full count and the latest day). A growing cluster therefore updates one
 * alert (an update event, see below) instead of raising one per newcomer. The
 * anchor is still an incident's id, as the id rule has always said, so an
 * alert raised by an older node for a cluster's first anchor keeps its id and
 * its acknowledgements. A late report dated before a cluster's anchor that
 * makes an earlier incident fire, or a newcomer joining two clusters, moves
 * the anchor: the alert under the later anchor is withdrawn (its
 * acknowledgements stay with its id) and the one under the earlier anchor
 * lists them all, continuing it (an update event, not news). A cluster
 * never spans two periods of max(91, 2 x window) days counted from
 * 1970-01-01: violence that goes on is news again each period (a new
 * alert), and an incident's evaluation reads a bounded stretch of its key
 * (a flood of more than 4096 entries there is cut, the one case where two
 * nodes could disagree).
 * "Within N days" means the occurred dates differ by at most N days. Windows
 * use occurred.start (a partial date counts from its first day). Because an
 * arriving (or retracted) incident re-evaluates every cluster and anchor its
 * date can affect, from the index alone, the same set of incidents gives the
 * same alerts (ids, incident lists, counts) on every node, whatever the order
 * of incidents and retractions; nodes that raise one alert independently
 * share its id, so acknowledgements apply everywhere.
 *
 * Retraction (tj_retract.h). Applying the retraction of a readable incident
 * (in ingest's transaction) copies the sealed record under 'R' before the
 * body is deleted; the next alert pass (tj_alert_after_store, or
 * tj_alert_pending_run at start after a crash) opens that copy and removes
 * everything derived from the incident: its query index entries (tj_query.h),
 * its codes, the alerts it anchored (with their acknowledgement entries and
 * events) and it from every cluster or window alert that listed it (which is
 * recomputed, or withdrawn when it no longer fires); then the copy goes (it
 * is ciphertext, and outlives the body only until that pass). An
 * alert whose anchor was retracted cannot come back. A retracted ack or
 * resolution is removed from its alert. Statistics and queries hold no
 * derived state: they read the index and the stored bodies.
 *
 * Events. Every raise appends an event: a new alert (raise), a T7 re-raise
 * (reraise), an alert that gained incidents (update). Listing shows an alert
 * once, at its latest event; followers get a line per alert per poll. The
 * hook gets raises and re-raises only (tj_alert_subscribed). Events of a
 * withdrawn alert read as withdrawn (no codes, matching no filter).
 *
 * What an alert holds: codes and ids only (trigger, priority, states, act
 * types, aggressor types, highest severity, victim roles and genders, a
 * protection flag, incident ids). No names, refs or free text exist in it.
 * At rest it is still sealed (XChaCha20-Poly1305 under a key derived from
 * the node's blinding key), since which incident concerns a disappearance in
 * which state is itself sensitive.
 *
 * Named database "alerts" (tj_store_ext_dbi), keys by a one-byte prefix:
 *   'A' alert id(32)                 -> sealed alert
 *   'E' event seq(8)                 -> alert id(32) || kind(1) (enum tj_alert_event_kind;
 *                                       format 2 wrote the id alone: a raise)
 *   'K' alert id(32) record id(32)   -> [kind, author(bin 32), ts_ms, code]
 *   'U' contact pk(32)               -> subscription [states[], min_severity, triggers]
 *   'N'                              -> next event seq(8)
 *   'H'                              -> events delivered to the hook so far(8)
 *   'P' record id(32)                -> empty: stored, not evaluated yet (tj_store.h)
 *   'C' incident id(32)              -> sealed codes the incident gives alerts (tj_alert_int.h)
 *   'X' keyed hash(32)               -> empty: an alert purged with its retracted anchor; an
 *                                       acknowledgement naming it is not noted
 *   'R' record id(32)                -> its sealed record (an incident, ack or resolution):
 *                                       retracted, what was derived from it not removed yet
 *   'V'                              -> format (8): 2 = 'C' entries and T5 index entries with
 *                                       victims; 3 = clusters, counts, event kinds and retraction
 *                                       removal; an older store is re-evaluated once (and what
 *                                       it derived from incidents retracted earlier is removed)
 *
 * Everything runs on the loop thread; each public function begins and ends
 * its own transaction unless it takes a struct tj_txn.
 */
#ifndef TJ_ALERT_H
#define TJ_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_alert_config.h"
#include "tj_error.h"
#include "tj_incident.h"
#include "tj_node_core.h"
#include "tj_store.h"

#define TJ_ALERT_DBI_NAME "alerts"
#define TJ_ALERT_INCIDENTS_MAX 64 /* ids one alert lists; a window holding more keeps the latest */
#define TJ_ALERT_CODES_MAX 16     /* distinct codes per list field */
#define TJ_ALERT_ACKS_MAX 16      /* acknowledgements shown per alert */
#define TJ_ALERT_SEALED_MAX_BYTES 4096u

enum tj_trigger {
	TJ_T1_FLASH = 1,      /* severity >= t1_min_severity */
	TJ_T2_PROTECTED = 2,  /* a victim under protection measures */
	TJ_T3_CLUSTER = 3,    /* incidents clustered in a municipality */
	TJ_T4_ESCALATION = 4, /* same victim again within the window */
	TJ_T5_PATTERN = 5,    /* same aggressor type, several victims, one state */
	TJ_T6_DISPLACED = 6,  /* occurred outside the state of residence */
	TJ_T7_ONGOING = 7,    /* disappearance or detention still open */
};
#define TJ_TRIGGERS_ALL 0xfeu /* bit t for trigger t */

enum tj_priority { TJ_PRIO_LOW = 1, TJ_PRIO_MEDIUM = 2, TJ_PRIO_HIGH = 3, TJ_PRIO_CRITICAL = 4 };

enum tj_alert_event_kind { TJ_EVENT_RAISE = 1, TJ_EVENT_RERAISE = 2, TJ_EVENT_UPDATE = 3 };
const char *tj_alert_event_kind_name(uint8_t kind); /* "raise", "reraise", "update" */

enum tj_alert_status { TJ_ALERT_OPEN = 0, TJ_ALERT_ACKNOWLEDGED = 1, TJ_ALERT_RESOLVED = 2 };

struct tj_code_set {
	uint32_t n;
	char v[TJ_ALERT_CODES_MAX][TJ_CODE_MAX]; /* sorted, distinct */
};

struct tj_alert_ack {
	uint8_t kind; /* TJ_KIND_ALERT_ACK or TJ_KIND_ALERT_RESOLVE */
	uint8_t author[32];
	uint64_t ts_ms;
	char code[TJ_CODE_MAX]; /* note code (ack) or outcome (resolve) */
};

struct tj_alert {
	uint8_t id[32];
	uint8_t trigger;           /* enum tj_trigger */
	uint8_t priority;          /* enum tj_priority */
	uint8_t severity;          /* highest of its incidents */
	bool protection;           /* a victim was under protection measures */
	struct tj_code_set states; /* occurrence (and, for T6, residence) states */
	struct tj_code_set acts;
	struct tj_code_set aggressors;
	struct tj_code_set roles;
	struct tj_code_set genders;
	uint32_t n_incidents;
	uint8_t incidents[TJ_ALERT_INCIDENTS_MAX][32]; /* sorted */
	uint32_t count;      /* incidents of the cluster or window (>= n_incidents) */
	uint32_t last_day;   /* the latest occurred day of them (days since 1970) */
	uint64_t created_ms; /* when this node first raised it */
	uint64_t raised_ms;  /* last raise, re-raise (T7) or update */
	uint32_t raises;
	uint32_t updates;    /* update events (the cluster grew) */
	uint64_t last_event; /* the event seq of the last raise or update */
	/* Filled by the readers, not stored in the alert: */
	uint8_t event_kind; /* the kind of the event it is listed at (0 = none) */
	bool withdrawn;     /* an event of an alert that no longer exists: nothing else is set */
	uint8_t status;     /* enum tj_alert_status, from the 'K' entries */
	uint32_t n_acks;
	struct tj_alert_ack acks[TJ_ALERT_ACKS_MAX];
};

struct tj_subscription {
	uint8_t contact[32];
	struct tj_code_set states; /* empty = every state */
	uint8_t min_severity;      /* 1..5 */
	uint8_t triggers;          /* bit t for trigger t */
};

/* Adds code to a sorted, distinct set (ignored when full or empty). */
void tj_code_set_add(struct tj_code_set *s, const char *code);
/* "20,12" into a set of INEGI state codes; TJ_ESCHEMA with the bad one in bad. */
TJ_MUST_CHECK int tj_alert_states_parse(const char *list, struct tj_code_set *set, char bad[TJ_CODE_MAX]);
/* An alert id from 64 hex digits or a unique prefix of at least 8: TJ_ENOTFOUND, TJ_EEXIST (ambiguous),
 * TJ_EMALFORMED. */
TJ_MUST_CHECK int tj_alert_find(struct tj_node *n, const char *hex, uint8_t id[32]);
/* Every subscription as a JSON array (NULL on allocation failure). */
struct cJSON *tj_alert_subscriptions_json(struct tj_node *n);

/* Codes <-> names: "T1".."T7"; "low".."critical"; "open".. */
TJ_MUST_CHECK int tj_trigger_parse(const char *s, uint8_t *trigger);
const char *tj_trigger_name(uint8_t trigger);
TJ_MUST_CHECK int tj_priority_parse(const char *s, uint8_t *prio);
const char *tj_priority_name(uint8_t prio);
TJ_MUST_CHECK int tj_alert_status_parse(const char *s, uint8_t *status);
const char *tj_alert_status_name(uint8_t status);
/* A comma list "T1,T3" into a trigger mask; TJ_ESCHEMA names the bad one in bad (NULL ok). */
TJ_MUST_CHECK int tj_triggers_parse(const char *list, uint8_t *mask, char bad[16]);
/* Ack note codes (responding, verifying, contacted) and resolve outcomes. */
bool tj_alert_note_valid(const char *code);
bool tj_alert_outcome_valid(const char *code);
const char *tj_alert_code_label(const char *code, bool spanish);

/*
 * After records were committed (local adds, peers' batches): for each id,
 * an incident this node can read is indexed (tj_query.h) and the rules run;
 * an ALERT_ACK / ALERT_RESOLVE record is noted against its alert. One write
 * transaction for all of them. Failures are logged and returned; the records
 * themselves are stored regardless and stay marked pending, so
 * tj_alert_pending_run evaluates them at the next start.
 */
TJ_MUST_CHECK int tj_alert_after_store(struct tj_node *n, const uint8_t (*ids)[32], size_t n_ids);

/*
 * Durability: tj_store_put_record marks each incident, ack and resolution
 * pending ('P' || id, in the transaction that stores the record) and
 * tj_alert_process_txn removes the mark in the transaction that stores the
 * results, so every stored record is evaluated exactly once even when the
 * process dies between the two commits. tj_alert_pending_run evaluates
 * whatever is still marked (the daemon runs it before serving), in write
 * transactions of TJ_ALERT_PENDING_BATCH records; *n_done = how many.
 */
#define TJ_ALERT_PENDING_BATCH 1024
TJ_MUST_CHECK int tj_alert_pending_run(struct tj_node *n, size_t *n_done);
/*
 * The same in pieces, for the daemon's background pass (tj_peer.h): prepare
 * once (upgrades an older store's alerts, marking its incidents pending),
 * then steps. A step is one write transaction: the retractions marked, then
 * the pending records in id order, at most cap (<= TJ_ALERT_PENDING_BATCH)
 * and, with budget_us > 0, none started after budget_us of wall time (the
 * first always is). *n_done = how many; *more = records are still pending.
 * tj_alert_pending_count counts the marks (a read transaction).
 */
TJ_MUST_CHECK int tj_alert_pending_prepare(struct tj_node *n);
TJ_MUST_CHECK int tj_alert_pending_step(struct tj_node *n, size_t cap, uint32_t budget_us, size_t *n_done,
                                        bool *more);
TJ_MUST_CHECK int tj_alert_pending_count(struct tj_node *n, uint64_t *count);
/* Tests only: makes tj_alert_after_store do nothing (a crash after the records' commit). */
extern bool tj_alert_test_skip_after_store;
/* Tests only: the entries one cluster evaluation loads before it cuts (0: the real 4,096), and how
 * many cluster evaluations took the added-incident fast path. */
extern uint32_t tj_alert_test_region_max;
extern uint64_t tj_alert_test_fast_evals;

/* The same for one record inside the caller's write transaction. */
TJ_MUST_CHECK int tj_alert_process_txn(struct tj_node *n, struct tj_txn *t, const uint8_t id[32]);

/*
 * For tj_retract.c, inside ingest's transaction, before the body of id (an
 * incident, ack or resolution; enc its stored encoding, borrowed) is
 * deleted: keeps the sealed record under 'R' for the next alert pass, which
 * removes what was derived from it. Other kinds: nothing.
 */
TJ_MUST_CHECK int tj_alert_retracted_mark(struct tj_txn *t, const uint8_t id[32], const uint8_t *enc,
                                          size_t len);
/* Removes what was derived from every incident marked retracted, in t (tj_alert_after_store calls it). */
TJ_MUST_CHECK int tj_alert_retracted_run(struct tj_node *n, struct tj_txn *t);

/* Evaluates T1-T7 for one readable incident (already indexed) in t. */
TJ_MUST_CHECK int tj_alert_evaluate(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                                    const uint8_t author[32], const uint8_t id[32]);

/* Reads one alert with its acks and status. TJ_ENOTFOUND if none. */
TJ_MUST_CHECK int tj_alert_get(struct tj_node *n, struct tj_txn *t, const uint8_t id[32],
                               struct tj_alert *out);

/* Filters for tj_alert_list. */
struct tj_alert_filter {
	struct tj_code_set states; /* empty = any; else an alert with one of them */
	uint8_t min_priority;      /* 0 = any */
	int status;                /* -1 = any */
	uint8_t triggers;          /* 0 = any */
	uint8_t min_severity;      /* 0 = any */
	uint64_t after_event;      /* list only alerts raised in events > this (follow); 0 = all */
};
bool tj_alert_matches(const struct tj_alert_filter *f, const struct tj_alert *a);

/*
 * Calls cb for every matching alert, newest raised first (or, with
 * after_event, in event order, at most limit). *last_event = the newest
 * event seq seen. cb returns nonzero to stop.
 */
typedef int (*tj_alert_cb)(void *ctx, const struct tj_alert *a, uint64_t event);
TJ_MUST_CHECK int tj_alert_list(struct tj_node *n, const struct tj_alert_filter *f, uint32_t limit,
                                tj_alert_cb cb, void *ctx, uint64_t *last_event);

/*
 * Writes an ALERT_ACK (code = note) or ALERT_RESOLVE (code = outcome) record
 * about alert_id, sealed to the network's epoch like an incident, stores it,
 * notes it locally, and returns its id (shared with peers by the caller).
 * The alert must be known here: TJ_ENOTFOUND otherwise.
 */
TJ_MUST_CHECK int tj_alert_respond(struct tj_node *n, uint8_t kind, const uint8_t alert_id[32],
                                   const char *code, uint8_t record_id[32]);

/* Ack/resolve record bodies: canonical [alert id(bin 32), code(str)]. */
TJ_MUST_CHECK int tj_alert_ack_body_encode(const uint8_t alert_id[32], const char *code, uint8_t *buf,
                                           size_t cap, size_t *len);
TJ_MUST_CHECK int tj_alert_ack_body_decode(const uint8_t *buf, size_t len, uint8_t alert_id[32],
                                           char code[TJ_CODE_MAX]);

/* Subscriptions (local, never shared). */
TJ_MUST_CHECK int tj_alert_subscribe(struct tj_node *n, const struct tj_subscription *s);
/* Every stored subscription; *n_out of at most cap. */
TJ_MUST_CHECK int tj_alert_subscriptions(struct tj_node *n, struct tj_subscription *subs, size_t cap,
                                         size_t *n_out);
/*
 * The subscriptions the hook uses: the stored ones, or by default, when none
 * is stored and membership makes this node a contact for some states, those
 * states (every trigger, any severity). None at all: every alert.
 */
TJ_MUST_CHECK int tj_alert_subscriptions_effective(struct tj_node *n, struct tj_subscription *subs,
                                                   size_t cap, size_t *n_out);
/*
 * Does a matches any of subs (none stored = everything matches)? The hook's
 * question: a withdrawn alert or one read at an update event matches none.
 */
bool tj_alert_subscribed(const struct tj_subscription *subs, size_t n_subs, const struct tj_alert *a);

/* T7: raises every open, unresolved T7 alert whose last raise is older than t7_reraise_s. *n = how many. */
TJ_MUST_CHECK int tj_alert_reraise(struct tj_node *n, uint64_t now_ms, size_t *n_raised);

/* Hook delivery cursor (events delivered so far). */
TJ_MUST_CHECK int tj_alert_hook_cursor(struct tj_node *n, uint64_t *delivered);
TJ_MUST_CHECK int tj_alert_hook_advance(struct tj_node *n, uint64_t delivered);
/* The alert of event seq (TJ_ENOTFOUND past the last one). */
TJ_MUST_CHECK int tj_alert_event(struct tj_node *n, uint64_t seq, struct tj_alert *out);

/* The alert as JSON (codes with labels in lang; acks by fingerprint). Caller cJSON_Delete()s. */
struct cJSON *tj_alert_to_json(const struct tj_alert *a, enum tj_lang lang);

#endif
