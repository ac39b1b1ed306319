/*
 * Circles (DESIGN.md "Trust"): named audiences inside the network, with
 * their own keys, for example "Contactos Oaxaca". A circle's key seals a
 * case face (or a summary face) so that only the circle's members read it.
 *
 * One TJ_KIND_CIRCLE record is one whole generation of one circle:
 *   audience  NETWORK (epoch slot): every member of the network sees which
 *             circles exist and who is in them (as it sees the membership);
 *             only the circle's members hold its key.
 *   body      canonical msgpack
 *     [circle id bin 32, name str (1..64 bytes), nonce bin 16, generation uint (>= 1),
 *      key id bin 32, [[member pk bin 32, sealed key bin 80]...]]
 *             members strictly ascending by key (so one member list has one
 *             encoding), 1 to TJ_CIRCLE_MEMBERS_MAX of them; sealed key =
 *             crypto_box_seal(circle key, X25519 of the member's key); key
 *             id = tj_sym_key_id(circle key). Members are in the body rather
 *             than in record slots, so a circle of up to 64 members is one
 *             record: a generation never arrives half.
 *
 * Who may change a circle: its admin alone, the organization that created
 * it. The circle id binds the admin: id = BLAKE2b-256("tejido-circle-v1" ||
 * network id || admin key || nonce || name), so a record whose author is not
 * the admin cannot name an existing circle (nor rename one). The admin is
 * always a member. An admin that leaves the network leaves its circles
 * frozen (nobody can change them; they cannot be used for new records, see
 * below).
 *
 * Every change (create, add, remove) writes a new generation with a FRESH
 * key sealed to the members of that generation only: a removed member cannot
 * open anything written to the circle afterwards, and an added member reads
 * what is written from its admission on (the author of an older case can
 * share it with the circle again: `tejido share ID --with circle:NAME`).
 * Members keep every generation's key they were given, so older records
 * still open.
 *
 * State: a deterministic function of the stored records. Of a circle's
 * valid records, the head is the one with the highest generation (ties: the
 * lowest record id), whatever the order they arrived in; an older
 * generation, replayed, never replaces a newer one. Validity is a property
 * of each record alone (id bound to the author, author among the members,
 * bounds, canonical form), plus, at ingest, the network membership:
 *
 * Ingest (tj_ingest.c), on a node that can open the record (it holds the
 * epoch key): a CIRCLE record is refused, not stored, with the reason
 * logged (by record id and circle id: never the name), when its body is
 * malformed or over the bounds (TJ_EMALFORMED / TJ_ELIMIT), when its author
 * is not the circle's admin (TJ_ENOTMEMBER) or when it names an organization
 * that is not a current member of the network (TJ_ENOTMEMBER; like a
 * membership record that arrives before the record admitting its author, it
 * is fetched again by the next reconciliation). A node that cannot open it
 * stores it unjudged (every node relays every record) and tries it again
 * whenever a KEY record is stored (the epoch key may arrive after records
 * sealed with it). Once stored and readable, a member named in it opens its
 * sealed key, checks it against the key id, and installs it in the keyring
 * (sealed at rest with the rest of the keyring).
 *
 * Using a circle (sealing to its newest key, tj_circle_seal_key): only on a
 * node that is a member of the head generation and holds its key, and only
 * while every member of it is still a member of the network (so no removed
 * organization holds a key that new records are sealed to).
 *
 * Logs: ids only. The names of circles are plaintext of the network.
 */
#ifndef TJ_CIRCLE_H
#define TJ_CIRCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_ctl_server.h"
#include "tj_error.h"
#include "tj_keys.h"
#include "tj_node_core.h"
#include "tj_record.h"
#include "tj_seal.h"
#include "tj_store.h"

#define TJ_CIRCLE_MEMBERS_MAX 64
#define TJ_CIRCLE_NAME_MAX 64 /* bytes, NUL excluded */
#define TJ_CIRCLE_NONCE_BYTES 16
#define TJ_CIRCLE_SEALED_BYTES 80 /* crypto_box_SEALBYTES + 32 */
#define TJ_CIRCLE_BODY_MAX_BYTES (128u + TJ_CIRCLE_MEMBERS_MAX * 120u)
#define TJ_CIRCLES_MAX 128                    /* circles one node derives */
#define TJ_CIRCLE_RECORDS_MAX 4096            /* circle records one network may hold */
#define TJ_META_CIRCLE_IDS "circle_ids"       /* the stored CIRCLE records' ids, 32 bytes each */
#define TJ_META_CIRCLE_UNREAD "circle_unread" /* those this node could not open yet (no epoch key) */

/* A decoded CIRCLE body. The sealed keys are ciphertext; the struct holds no secret. */
struct tj_circle_body {
	uint8_t circle_id[32];
	char name[TJ_CIRCLE_NAME_MAX + 1];
	uint8_t nonce[TJ_CIRCLE_NONCE_BYTES];
	uint64_t generation;
	uint8_t key_id[32];
	uint32_t n_members;
	uint8_t members[TJ_CIRCLE_MEMBERS_MAX][32];
	uint8_t sealed[TJ_CIRCLE_MEMBERS_MAX][TJ_CIRCLE_SEALED_BYTES];
};

/* Canonical encode; TJ_ELIMIT / TJ_EMALFORMED for what decode would refuse. */
TJ_MUST_CHECK int tj_circle_body_encode(const struct tj_circle_body *b, uint8_t *buf, size_t cap,
                                        size_t *len);
/*
 * Untrusted bytes: tj_mp_check first, exact types and sizes, the canonical
 * form, 1..TJ_CIRCLE_MEMBERS_MAX members strictly ascending (TJ_ELIMIT for
 * more), a name of 1..64 bytes without control characters or commas,
 * generation >= 1.
 */
TJ_MUST_CHECK int tj_circle_body_decode(const uint8_t *buf, size_t len, struct tj_circle_body *b);

/* The circle id of (network, admin, nonce, name). */
void tj_circle_id(const uint8_t network_id[32], const uint8_t admin[32], const uint8_t nonce[16],
                  const char *name, uint8_t id[32]);
/* Is name acceptable for a circle (1..64 bytes, no control characters, no ',')? */
bool tj_circle_name_ok(const char *name, size_t len);

/*
 * A record's checks that need nothing but the record: the body's circle id
 * is the one author would derive (else TJ_ENOTMEMBER: not the admin), and
 * the author is a member (else TJ_EMALFORMED).
 */
TJ_MUST_CHECK int tj_circle_body_check(const struct tj_circle_body *b, const uint8_t network_id[32],
                                       const uint8_t author[32]);

/*
 * Fills b (members sorted, each sealed key made) for a new generation of a
 * circle with the given key. members: n keys (any order, no duplicates,
 * admin among them or added). TJ_ELIMIT beyond TJ_CIRCLE_MEMBERS_MAX,
 * TJ_ECRYPTO for a key that is not a valid point, -EINVAL for duplicates.
 */
TJ_MUST_CHECK int tj_circle_body_make(struct tj_circle_body *b, const uint8_t network_id[32],
                                      const uint8_t admin[32], const uint8_t nonce[16], const char *name,
                                      uint64_t generation, const uint8_t key[32],
                                      const uint8_t (*members)[32], uint32_t n);

/*
 * Opens the sealed key of me in b into key (32 bytes; caller wipes) and
 * checks it against b's key id. TJ_ENOKEY when me is not a member,
 * TJ_EDECRYPT when the sealed key does not open or is not the key id's.
 */
TJ_MUST_CHECK int tj_circle_open_key(const struct tj_circle_body *b, const struct tj_identity *me,
                                     uint8_t key[32]);

/* One circle of the derived state: its head generation. */
struct tj_circle {
	uint8_t id[32];
	char name[TJ_CIRCLE_NAME_MAX + 1];
	uint8_t nonce[TJ_CIRCLE_NONCE_BYTES];
	uint8_t admin[32];
	uint64_t generation;
	uint8_t head[32]; /* the record id of the head generation */
	uint8_t key_id[32];
	uint32_t n_members;
	uint8_t members[TJ_CIRCLE_MEMBERS_MAX][32];
	bool is_member; /* me is a member of the head generation */
	bool holds_key; /* the key of the head generation is in the keyring */
};

/* The derived state; heap (tj_circle_state_new), circles sorted by (name, id). */
struct tj_circle_state {
	size_t n;
	struct tj_circle circles[TJ_CIRCLES_MAX];
	uint64_t ignored; /* records that did not count (unreadable here, or invalid) */
};

TJ_MUST_CHECK int tj_circle_state_new(struct tj_circle_state **out);
void tj_circle_state_free(struct tj_circle_state *s); /* accepts NULL */

/*
 * Derives the state from encoded records (any order; each verified here;
 * records of another network or kind skipped), opened with me / lookup /
 * ctx (tj_keyring_lookup and the keyring). The result does not depend on
 * the order of the records.
 */
TJ_MUST_CHECK int tj_circle_derive(const uint8_t network_id[32], const uint8_t *const *encs,
                                   const size_t *lens, size_t n, const struct tj_identity *me,
                                   tj_key_lookup_fn lookup, void *ctx, struct tj_circle_state *out);

/* The node's state from its stored CIRCLE records. *out: tj_circle_state_free. */
TJ_MUST_CHECK int tj_circle_load(struct tj_node *n, struct tj_circle_state **out);

/*
 * Finds a circle by name (or by its full id in 64 hex digits) in s: among
 * those administered by admin when admin is not NULL, else among those whose
 * head has this node as a member. TJ_ENOTFOUND, or TJ_EEXIST when several match.
 * Borrowed from s.
 */
TJ_MUST_CHECK int tj_circle_find(const struct tj_circle_state *s, const char *name, const uint8_t *admin,
                                 const struct tj_circle **out);

/*
 * The newest key of the circle called name, to seal a record to: *key
 * borrows from the keyring (valid while the node is open; keys are only
 * ever appended to it). TJ_ENOTFOUND (no
 * such circle of which this node is a member), TJ_EEXIST (ambiguous name),
 * TJ_ENOKEY (the head generation's key is not here), TJ_ENOTMEMBER (a
 * member of the circle is no longer a member of the network; *who names it).
 */
TJ_MUST_CHECK int tj_circle_seal_key(struct tj_node *n, const char *name, const struct tj_sym_key **key,
                                     uint8_t circle_id[32], uint8_t who[32]);

/*
 * Writing (on the admin's node; one record, this node's next, through
 * ingest, in one write transaction; pushed to peers once committed).
 * create: members are the others (this node is added); every one must be a
 * current member of the network (TJ_ENOTMEMBER, *who names it); TJ_EEXIST
 * when this node already administers a circle of that name.
 * change: add or remove one member: a new generation with a fresh key.
 * TJ_ENOTFOUND (no circle of that name administered here), TJ_EEXIST (add:
 * already in it), TJ_ENOTFOUND via *absent (remove: not in it), TJ_ESTATE
 * (removing the admin).
 */
TJ_MUST_CHECK int tj_circle_create(struct tj_node *n, const char *name, const uint8_t (*members)[32],
                                   uint32_t n_members, uint8_t circle_id[32], uint8_t record_id[32],
                                   uint8_t who[32]);
TJ_MUST_CHECK int tj_circle_change(struct tj_node *n, const char *name, const uint8_t pk[32], bool add,
                                   uint8_t circle_id[32], uint8_t record_id[32], uint64_t *generation);

/* Binds the node whose identity and keyring ingest uses (one per process; tj_node_open). */
void tj_circle_attach(struct tj_node *n);
void tj_circle_detach(const struct tj_node *n);

/*
 * Ingest's hooks, inside its write transaction. check sets *verdict (0 or
 * why the record is refused, logged); stored indexes a stored CIRCLE record
 * and installs its key here when this node is a member, and after a KEY
 * record retries the CIRCLE records that did not open before. Both return 0
 * or a store error that aborts the transaction; other kinds pass untouched.
 */
TJ_MUST_CHECK int tj_circle_ingest_check(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                                         const uint8_t id[32], int *verdict);
TJ_MUST_CHECK int tj_circle_ingest_stored(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                                          const uint8_t id[32]);

/*
 * Control ops:
 * circle_create {name: str, members: [bin 32...]} -> {circle: bin 32, record: bin 32, generation: 1}
 * circle_change {name: str, public_key: bin 32, action: "add"|"remove"}
 *   -> {circle, record, generation}
 * circle_list {} -> {circles: [{id: bin 32, name: str, admin: bin 32, generation: uint,
 *   members: [bin 32], member: bool, holds_key: bool, admin_here: bool,
 *   departed: [bin 32] (members no longer in the network: the circle is unusable until removed)}]}
 */
TJ_MUST_CHECK int tj_circle_ctl_create(struct tj_node *node, const uint8_t *req, size_t len,
                                       struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_circle_ctl_change(struct tj_node *node, const uint8_t *req, size_t len,
                                       struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_circle_ctl_list(struct tj_node *node, const uint8_t *req, size_t len,
                                     struct tj_ctl_reply *out);

#endif
