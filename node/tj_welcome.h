/*
 * The welcome bundle (DESIGN.md "Trust", joining): what a steward's node
 * hands a newly admitted node, by any channel.
 *
 * File: "TJW1" || crypto_box_seal(plaintext, the new node's X25519 key).
 * Plaintext, canonical msgpack:
 *   [ version 1, network_id bin 32, network_key bin 32,
 *     epochs [bin 32...] (the current epoch key first),
 *     records [bin...] (the genesis first, then every membership record, in (ts, id) order),
 *     peers [[host str, port uint, public_key bin 32, name str]...],
 *     recipient bin 32 ]
 *
 * Opening checks, in order: size (TJ_ETRUNC / TJ_ELIMIT), magic
 * (TJ_EMALFORMED), the seal (TJ_EDECRYPT: tampered, or not for us), the
 * plaintext's form, the recipient (TJ_ENOTMEMBER when it names another key),
 * the genesis (TJ_ENETWORK unless it is records[0] and its id is the network
 * id), every record's signature (TJ_EBADSIG) and network (TJ_ENETWORK).
 */
#ifndef TJ_WELCOME_H
#define TJ_WELCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keyfile.h"
#include "tj_keys.h"
#include "tj_member.h"
#include "tj_node_core.h"

#define TJ_WELCOME_MAGIC "TJW1"
#define TJ_WELCOME_MAGIC_BYTES 4
#define TJ_WELCOME_MAX_BYTES (1024u * 1024u) /* fits one bin of a CLI reply */
#define TJ_WELCOME_PEERS_MAX 64
#define TJ_WELCOME_HOST_MAX 46
#define TJ_WELCOME_PEER_NAME_MAX 64
#define TJ_WELCOME_FILE_SUFFIX ".tjw"

struct tj_welcome_peer {
	char host[TJ_WELCOME_HOST_MAX];
	uint16_t port;
	uint8_t pk[32];
	char name[TJ_WELCOME_PEER_NAME_MAX + 1];
};

/*
 * An opened bundle. Secrets (network_key, epochs) in sodium_malloc memory;
 * records borrow from plain (sodium_malloc). All owned; tj_welcome_free wipes.
 */
struct tj_welcome {
	uint8_t network_id[32];
	uint8_t recipient[32];
	uint8_t *network_key; /* 32 */
	uint8_t *epochs;      /* 32 * n_epochs; [0] is current */
	size_t n_epochs;
	const uint8_t **records;
	size_t *lens;
	size_t n_records;
	struct tj_welcome_peer *peers;
	size_t n_peers;
	uint8_t *plain;
	size_t plain_len;
};

/* What goes into a bundle: all borrowed. */
struct tj_welcome_in {
	const uint8_t *network_id;
	const uint8_t *network_key;
	const uint8_t *const *epochs; /* [0] current */
	size_t n_epochs;
	const uint8_t *const *records; /* genesis first */
	const size_t *lens;
	size_t n_records;
	const struct tj_welcome_peer *peers;
	size_t n_peers;
};

/* Seals a bundle to recipient (Ed25519). *out is malloc'd ciphertext (caller frees). */
TJ_MUST_CHECK int tj_welcome_seal(const struct tj_welcome_in *in, const uint8_t recipient[32], uint8_t **out,
                                  size_t *out_len);
/* Opens and checks a bundle (untrusted bytes; see above). *out: tj_welcome_free. */
TJ_MUST_CHECK int tj_welcome_open(const uint8_t *buf, size_t len, const struct tj_identity *me,
                                  struct tj_welcome **out);
void tj_welcome_free(struct tj_welcome *w); /* accepts NULL */
/* The checks of tj_welcome_open after the seal, on plaintext bytes (copied): for fuzzing and tests. */
TJ_MUST_CHECK int tj_welcome_parse(const uint8_t *plain, size_t len, const uint8_t me_pk[32],
                                   struct tj_welcome **out);

/*
 * A bundle from a node's state for recipient: its keys, genesis, membership
 * records, address book, and `self` (this node's reachable address, may be
 * NULL). The recipient must be a member already (TJ_ENOTMEMBER).
 */
TJ_MUST_CHECK int tj_welcome_make(struct tj_node *n, const uint8_t recipient[32],
                                  const struct tj_welcome_peer *self, uint8_t **out, size_t *out_len);

/*
 * Joins: opens the bundle with u's identity, then in ONE write transaction
 * of datadir's store installs the keys into the keyring, the network id,
 * the records through ingest and the peers into an empty address book.
 * The node must not run (the caller checks) and must have no network yet
 * (TJ_EEXIST). TJ_ENOTMEMBER when the records do not make u a member.
 * *n_peers (may be NULL) = peers learned.
 */
TJ_MUST_CHECK int tj_welcome_join(const char *datadir, const struct tj_unlocked *u, const uint8_t *buf,
                                  size_t len, size_t *n_peers);

#endif
