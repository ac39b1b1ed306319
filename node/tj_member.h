/*
 * Membership: who belongs to the network and who may speak (DESIGN.md "Trust").
 *
 * Every node derives the same state from the membership records alone:
 *   - the genesis: stewards (role steward) and the threshold;
 *   - TJ_KIND_MEMBER proposals, body (canonical msgpack, sealed under the
 *     network epoch like other network records, since names are sensitive):
 *       [action str "admit"|"remove"|"role", subject pk bin 32, name str,
 *        role str "member"|"steward"|"contact", states [str "20", ...], reason str]
 *   - TJ_KIND_APPROVAL records, body [proposal id bin 32].
 *
 * Canonical order: (ts_ms, id) ascending, the genesis first. Processing:
 *   - a proposal counts only if its author is a current steward at its place
 *     in the order; that counts as the author's approval;
 *   - an approval counts only if its author is a current steward when it is
 *     evaluated: at its own place, or at its proposal's place if it sorts
 *     before its proposal (clocks of two stewards may disagree);
 *   - a proposal takes effect the moment `threshold` distinct current
 *     stewards have approved it (threshold 1: at once; while fewer
 *     stewards than the threshold exist, all of them), if it still makes
 *     sense then (admit a non-member; remove or change a member; never leave
 *     fewer stewards than the threshold). Once it took effect (or was found
 *     void) it is spent: later approvals do nothing.
 * Anything that does not count is logged with the reason; state is unchanged.
 *
 * LIMITS. ts_ms is the author's claim: a steward can backdate a proposal to
 * sort before another, which matters only for proposals that race (two
 * stewards' conflicting changes). The stored SET of records decides the
 * state; ingest refuses a membership record whose author was never a steward
 * in the state derived so far, so a record that arrives before the record
 * making its author a steward is refused and fetched again by the next
 * reconciliation (sets converge; while they differ, states may too).
 * Of two records a steward signed at one seq (equivocation, tj_ingest.h),
 * only the first stored counts; the author is frozen and writes no more.
 * The state says nothing about keys; n_removed and removed_ms tell key
 * rotation (tj_rotate_needed) whether the sealing epoch predates a removal.
 *
 * At rest: the derived state's cache (meta "members": public keys, roles,
 * since-when; public keys are in every record header anyway) and the ids of
 * the membership records (meta "member_ids"). Names and states stay in the
 * sealed records; tj_member_derive decrypts them when asked.
 */
#ifndef TJ_MEMBER_H
#define TJ_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keyring.h"
#include "tj_keys.h"
#include "tj_record.h"
#include "tj_store.h"

#define TJ_MEMBERS_MAX 1024
#define TJ_MEMBER_RECORDS_MAX 8192 /* membership records one network may hold */
#define TJ_MEMBER_NAME_MAX 64      /* bytes, NUL excluded */
#define TJ_MEMBER_REASON_MAX 200
#define TJ_MEMBER_STATES_MAX 32 /* INEGI states: 32 */
#define TJ_MEMBER_BODY_MAX_BYTES 512
#define TJ_META_MEMBERS "members"
#define TJ_META_MEMBER_IDS "member_ids"

enum tj_member_action { TJ_MEMBER_ADMIT = 0, TJ_MEMBER_REMOVE = 1, TJ_MEMBER_ROLE = 2 };
enum tj_member_role { TJ_ROLE_MEMBER = 0, TJ_ROLE_STEWARD = 1, TJ_ROLE_CONTACT = 2 };

/* A decoded MEMBER body (plaintext: wipe when done). */
struct tj_member_body {
	uint8_t action;
	uint8_t subject[32];
	char name[TJ_MEMBER_NAME_MAX + 1];
	uint8_t role;
	uint32_t n_states;
	char states[TJ_MEMBER_STATES_MAX][3]; /* "20", ascending, distinct */
	char reason[TJ_MEMBER_REASON_MAX + 1];
};

/* One member of the derived state. */
struct tj_member {
	uint8_t pk[32];
	uint8_t role;
	uint64_t since_ms;                 /* ts of the record at which it took effect */
	uint8_t proposal[32];              /* the proposal that admitted it (the genesis id for founders) */
	char name[TJ_MEMBER_NAME_MAX + 1]; /* "" for genesis stewards and in the cache */
	uint32_t n_states;
	char states[TJ_MEMBER_STATES_MAX][3];
};

/* A proposal that counts and awaits approvals (tj_member_state.pending). */
#define TJ_MEMBER_PENDING_MAX 64
#define TJ_MEMBER_PENDING_APPR_MAX 32
struct tj_member_pending {
	uint8_t id[32];
	uint8_t author[32];
	uint8_t subject[32];
	uint8_t action;
	uint8_t role;
	uint64_t ts_ms;
	uint32_t n_appr; /* distinct approvers so far (the author first) */
	uint8_t appr[TJ_MEMBER_PENDING_APPR_MAX][32];
};

/*
 * The derived state. Heap (tj_member_state_new), wiped by tj_member_state_free.
 * stewards_ever: everyone who was a steward at some point of the order
 * (ingest lets them write membership records).
 */
struct tj_member_state {
	uint32_t threshold;
	size_t n;
	struct tj_member members[TJ_MEMBERS_MAX];
	size_t n_ever;
	uint8_t stewards_ever[TJ_MEMBERS_MAX][32];
	uint64_t applied; /* proposals that took effect */
	uint64_t ignored; /* records that did not count */
	uint64_t n_removed;  /* removals that took effect */
	uint64_t removed_ms; /* ts of the record at which the latest of them took effect (0: none) */
	size_t n_pending; /* the first TJ_MEMBER_PENDING_MAX in canonical order */
	struct tj_member_pending pending[TJ_MEMBER_PENDING_MAX];
};

TJ_MUST_CHECK int tj_member_state_new(struct tj_member_state **out);
void tj_member_state_free(struct tj_member_state *s); /* accepts NULL */
/* The member with pk, or NULL. Borrowed from s. */
const struct tj_member *tj_member_find(const struct tj_member_state *s, const uint8_t pk[32]);

/* "admit"/"remove"/"role", "member"/"steward"/"contact" <-> codes; -EINVAL for unknown text. */
TJ_MUST_CHECK int tj_member_role_parse(const char *s, uint8_t *role);
const char *tj_member_role_name(uint8_t role);
const char *tj_member_action_name(uint8_t action);
/* Parses "20,12" into sorted distinct 2-digit INEGI state codes (01..32). */
TJ_MUST_CHECK int tj_member_states_parse(const char *s, struct tj_member_body *b);

/* Body codecs (canonical; decode is for untrusted bytes and runs tj_mp_check first). */
TJ_MUST_CHECK int tj_member_body_encode(const struct tj_member_body *b, uint8_t *buf, size_t cap,
                                        size_t *len);
TJ_MUST_CHECK int tj_member_body_decode(const uint8_t *buf, size_t len, struct tj_member_body *b);
TJ_MUST_CHECK int tj_approval_body_encode(const uint8_t proposal[32], uint8_t *buf, size_t cap, size_t *len);
TJ_MUST_CHECK int tj_approval_body_decode(const uint8_t *buf, size_t len, uint8_t proposal[32]);

/*
 * Derives the state from encoded records (genesis among them, any order,
 * each verified here; records of another network or kind are skipped).
 * Opens bodies with me / lookup (tj_keyring_lookup with the keyring as ctx).
 * TJ_ENOTFOUND when no genesis of network_id is among them.
 */
TJ_MUST_CHECK int tj_member_derive(const uint8_t network_id[32], const uint8_t *const *encs,
                                   const size_t *lens, size_t n, const struct tj_identity *me,
                                   tj_key_lookup_fn lookup, void *ctx, struct tj_member_state *out);

/*
 * The store side. tj_member_attach binds the keys the derivation opens
 * bodies with to st (one store per process: a second attach replaces the
 * first), and rebuilds the cache when it is missing or stale. me and kr are
 * borrowed until tj_member_detach. tj_node_open / tj_node_close call these.
 */
TJ_MUST_CHECK int tj_member_attach(struct tj_store *st, const uint8_t network_id[32],
                                   const struct tj_identity *me, const struct tj_keyring *kr);
void tj_member_detach(const struct tj_store *st);
/* Binds the keys only, no rebuild: for a caller inside its own write transaction (joining). */
void tj_member_bind(struct tj_store *st, const uint8_t network_id[32], const struct tj_identity *me,
                    const struct tj_keyring *kr);

/* Recomputes the cache from every stored membership record, in its own write transaction. */
TJ_MUST_CHECK int tj_member_rebuild(struct tj_store *st);
/* The same within the caller's write transaction. */
TJ_MUST_CHECK int tj_member_rebuild_txn(struct tj_txn *t);

/*
 * The full state with names and states, from the stored records (decrypts;
 * needs an attached store). *out: tj_member_state_free.
 */
TJ_MUST_CHECK int tj_member_load(struct tj_store *st, struct tj_member_state **out);

/*
 * Ingest's hooks, inside its write transaction (tj_ingest.c). check sets
 * *verdict to 0 or TJ_ENOTMEMBER (reason logged) for a record whose author
 * may not write it: any record but the genesis needs a current member,
 * MEMBER and APPROVAL records a steward (now or before). A store whose cache
 * was never built (no genesis derived) is not checked. stored, after the
 * record is put: a membership record joins member_ids and the cache is
 * recomputed (marked stale when no keys are attached). Both return 0 or a
 * store error that aborts the transaction.
 */
TJ_MUST_CHECK int tj_member_ingest_check(struct tj_txn *t, const struct tj_record *rec, int *verdict);
TJ_MUST_CHECK int tj_member_ingest_stored(struct tj_txn *t, const struct tj_record *rec,
                                          const uint8_t id[32]);

/*
 * The peer layer's predicate (tj_is_member_fn in tj_peer.h): ctx is the
 * struct tj_store * of the node. True only for a current member of the
 * cached state.
 */
bool tj_member_is_member(void *ctx, const uint8_t pk[32]);
/* The same question inside the caller's transaction. */
bool tj_member_txn_is_member(struct tj_txn *t, const uint8_t pk[32]);
/* A current member that is or was a steward (may write KEY records, tj_rotate.h). */
bool tj_member_txn_is_steward_member(struct tj_txn *t, const uint8_t pk[32]);

/*
 * Writing membership records on a steward's node (tj_member_ops.c): each is
 * sealed under the current epoch as this node's next record and stored
 * through ingest in one write transaction. TJ_ESTATE when this node has no
 * network or is not a steward.
 */
struct tj_node;
struct tj_ctl_reply;
TJ_MUST_CHECK int tj_member_propose(struct tj_node *n, const struct tj_member_body *b, uint8_t id[32]);
TJ_MUST_CHECK int tj_member_approve(struct tj_node *n, const uint8_t proposal[32], uint8_t id[32]);

/*
 * Control ops (reply frames as tj_ctl_handle makes them):
 * member_add {public_key: bin 32, name: str, role: str?, states: str? ("20,12"),
 *             reason: str?, address: str? (this node's HOST:PORT for the welcome)}
 *   -> {proposal: bin|nil (nil: already a member, a new welcome only),
 *       member: bool, approvals_needed: uint, welcome: bin|nil}
 *   the welcome is written only once the subject is a member (threshold met).
 * member_list -> {threshold: uint, members: [{public_key, fingerprint: str,
 *                 name: str, role: str, states: [str], since: uint}]}
 */
TJ_MUST_CHECK int tj_member_ctl_add(struct tj_node *node, const uint8_t *req, size_t len,
                                    struct tj_ctl_reply *out);
/*
 * member_approve {proposal: bin 32} -> {approval: bin 32, took_effect: bool}
 *   refused (nothing written) unless this node is a steward and the proposal pending.
 * member_remove {public_key: bin 32, reason: str} -> {proposal: bin 32, took_effect: bool}
 * member_list also gives pending: [{proposal, action, subject, role, ts, approvals: [bin 32]}].
 */
/* network_rotate {changeover_s: uint? (default 24 h)} -> {epoch: uint}: new epoch and network keys for the current members (tj_rotate.h). */
TJ_MUST_CHECK int tj_member_ctl_rotate(struct tj_node *node, const uint8_t *req, size_t len,
                                       struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_member_ctl_approve(struct tj_node *node, const uint8_t *req, size_t len,
                                        struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_member_ctl_remove(struct tj_node *node, const uint8_t *req, size_t len,
                                       struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_member_ctl_list(struct tj_node *node, const uint8_t *req, size_t len,
                                     struct tj_ctl_reply *out);

#endif
