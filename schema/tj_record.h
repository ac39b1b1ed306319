/*
 * The record envelope (DESIGN.md "Records"): one msgpack array, fixed field
 * order, canonical encoding:
 *
 *   [ version, network_id(bin 32), author(bin 32), seq(uint), prev(bin 32 | nil),
 *     ts_ms(uint), kind(uint 8), audience, slots[], nonce(bin 24), ciphertext(bin),
 *     sig(bin 64) ]
 *
 *   audience = [ type(uint), ref(bin 32 | nil) ]
 *   slot     = [ type(uint), ref(bin 32), wrapped(bin) ]
 *
 * Byte ranges of the encoding, all starting at offset 0:
 *   header  = array header .. nonce      : the AEAD associated data of the body
 *   signed  = header + ciphertext         : what sig signs; id = BLAKE2b-256(signed)
 *   whole   = signed + sig
 *
 * This module only encodes and decodes (structure, limits, canonical form);
 * signatures, ids and sealing are in crypto/tj_seal.h.
 */
#ifndef TJ_RECORD_H
#define TJ_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_mp.h"

#define TJ_RECORD_VERSION 1
#define TJ_RECORD_MAX_BYTES (64u * 1024u)
#define TJ_RECORD_SLOTS_MAX 16
#define TJ_SLOT_WRAPPED_MAX_BYTES 128
#define TJ_ID_BYTES 32
#define TJ_PK_BYTES 32
#define TJ_SIG_BYTES 64
#define TJ_NONCE_BYTES 24
#define TJ_FUTURE_SKEW_MS (10u * 60u * 1000u)

enum tj_kind {
	TJ_KIND_GENESIS = 0,       /* founds a network; its id is the network id */
	TJ_KIND_INCIDENT = 1,      /* an incident's summary face */
	TJ_KIND_CASE = 2,          /* an incident's case face; body links the summary id */
	TJ_KIND_UPDATE = 3,        /* amends an incident; body links the id it amends */
	TJ_KIND_RETRACTION = 4,    /* retracts a record */
	TJ_KIND_MEMBER = 5,        /* membership proposal (admit, remove, role) */
	TJ_KIND_KEY = 6,           /* a new epoch / circle / network key, sealed to members */
	TJ_KIND_ALERT_ACK = 7,     /* acknowledges an alert */
	TJ_KIND_ALERT_RESOLVE = 8, /* resolves an alert */
	TJ_KIND_PEER_ADDR = 9,     /* announces a peer address */
	TJ_KIND_SLOT_GRANT = 10,   /* adds a reader to an existing record (a new slot) */
	TJ_KIND_APPROVAL = 11,     /* a steward's approval of a proposal */
	TJ_KIND_CONFIRM = 12,      /* a node confirms it executed a retraction */
	TJ_KIND_CIRCLE = 13,       /* creates or changes a circle */
	TJ_KIND__COUNT
};

enum tj_audience_type {
	TJ_AUD_NETWORK = 0, /* ref = the epoch key id */
	TJ_AUD_CIRCLE = 1,  /* ref = the circle id */
	TJ_AUD_NAMED = 2,   /* ref = nil; readers are the sealed slots */
};

enum tj_slot_type {
	TJ_SLOT_EPOCH = 0,  /* ref = epoch key id; wrapped = nonce(24) || AEAD(record key) */
	TJ_SLOT_CIRCLE = 1, /* ref = circle key id; wrapped as for EPOCH */
	TJ_SLOT_SEALED = 2, /* ref = reader's Ed25519 key; wrapped = crypto_box_seal(record key) */
};

struct tj_slot {
	uint8_t type;
	uint8_t ref[32];
	const uint8_t *wrapped; /* borrowed from the encoding (decode) or the caller (encode) */
	uint32_t wrapped_len;
};

struct tj_audience {
	uint8_t type;
	bool has_ref;
	uint8_t ref[32];
};

/* A decoded record. Pointers borrow from the encoded buffer. */
struct tj_record {
	uint64_t version;
	uint8_t network_id[32];
	uint8_t author[32];
	uint64_t seq;
	bool has_prev;
	uint8_t prev[32];
	uint64_t ts_ms;
	uint8_t kind;
	struct tj_audience audience;
	uint32_t n_slots;
	struct tj_slot slots[TJ_RECORD_SLOTS_MAX];
	uint8_t nonce[TJ_NONCE_BYTES];
	const uint8_t *ciphertext;
	uint32_t ciphertext_len;
	uint8_t sig[TJ_SIG_BYTES];
	size_t header_len; /* bytes [0, header_len) are the body's associated data */
	size_t signed_len; /* bytes [0, signed_len) are signed and hashed into the id */
	size_t total_len;
};

/*
 * Decodes buf (untrusted) into *rec: bounded check first, then exact field
 * types, sizes (bin 32/24/64, <= 16 slots, wrapped <= 128 bytes), known
 * version, kind < TJ_KIND__COUNT, canonical forms, no trailing bytes,
 * len <= TJ_RECORD_MAX_BYTES. Does not verify the signature.
 */
TJ_MUST_CHECK int tj_record_decode(const uint8_t *buf, size_t len, struct tj_record *rec);

/*
 * Writes the header (array header of 12, then version .. nonce) of rec.
 * The caller then writes the ciphertext bin and the sig bin.
 */
void tj_record_write_header(struct tj_mp_writer *w, const struct tj_record *rec);

/* Human-readable kind name ("incident", "case", ...), never NULL. */
const char *tj_kind_name(uint8_t kind);

#endif
