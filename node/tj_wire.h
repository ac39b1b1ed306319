/*
 * Application messages between peers, carried inside box-stream messages
 * (crypto/tj_boxstream.h) once the secret handshake has authenticated the
 * peer. Each message is ONE canonical msgpack array whose first element is
 * the type:
 *
 *   HELLO   [1, version(uint), network_id(bin 32), records(uint)]
 *   NEG     [2, negentropy message(bin, 1..TJ_WIRE_NEG_MAX_BYTES)]
 *           initiator -> responder and back; the dialer initiates
 *   WANT    [3, [id(bin 32)...]]           1..TJ_WIRE_WANT_MAX ids: send me these
 *   RECORDS [4, last(bool), [record(bin)...]]
 *           the answer to one WANT, in order; records it does not hold are
 *           left out; a big answer is split, `last` marks its final part
 *   PUSH    [5, [record(bin)...]]          live gossip of newly stored records
 *   HAVE    [6, [id(bin 32)...]]           1..TJ_WIRE_HAVE_MAX ids you lack (pull them)
 *   BYE     [7, reason(uint)]              clean close follows
 *
 * Liveness: a node probes a silent peer with a WANT of one id of 32 zero
 * bytes (tj_wire_probe_id), which no record has (an id is a hash); the
 * answer is RECORDS [4, true, []]. Every version of this protocol answers it,
 * so the probe needs no new type: a node refuses an unknown type and drops
 * the peer (TJ_EPROTO below), which is why nothing new is added as a type.
 * BYE's reason is any uint: a reason a node does not know (DUPLICATE, for
 * a node older than it) still reads as a clean close. An older node also
 * redials a connection closed as a duplicate; after a few such closes the
 * newer node keeps both connections, as older nodes always did (tj_peer.h).
 *
 * Every decode runs tj_mp_check with tight limits first, then reads exact
 * types; unknown types, extra elements, ids that are not 32 bytes, empty or
 * over-cap lists and records over TJ_RECORD_MAX_BYTES are refused. A peer
 * that is not yet past HELLO may send only HELLO, and at most
 * TJ_WIRE_HELLO_MAX_BYTES of it (tj_wire_max_bytes).
 *
 * Decoded pointers borrow from the input buffer: valid while it is.
 */
#ifndef TJ_WIRE_H
#define TJ_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_mp.h"
#include "tj_record.h"

#define TJ_WIRE_VERSION 1
#define TJ_WIRE_HELLO_MAX_BYTES 128u
#define TJ_WIRE_NEG_MAX_BYTES (512u * 1024u)
#define TJ_WIRE_WANT_MAX 256u
#define TJ_WIRE_HAVE_MAX 1024u
#define TJ_WIRE_RECORDS_MAX 256u
#define TJ_WIRE_RECORDS_MAX_BYTES (512u * 1024u) /* record bytes in one RECORDS / PUSH */
/* Largest message after HELLO: a full RECORDS with its per-record headers. */
#define TJ_WIRE_MSG_MAX_BYTES (TJ_WIRE_RECORDS_MAX_BYTES + TJ_RECORD_MAX_BYTES + 16u * TJ_WIRE_RECORDS_MAX)

enum tj_wire_type {
	TJ_WIRE_HELLO = 1,
	TJ_WIRE_NEG = 2,
	TJ_WIRE_WANT = 3,
	TJ_WIRE_RECORDS = 4,
	TJ_WIRE_PUSH = 5,
	TJ_WIRE_HAVE = 6,
	TJ_WIRE_BYE = 7,
};

enum tj_wire_bye_reason {
	TJ_WIRE_BYE_SHUTDOWN = 0,
	TJ_WIRE_BYE_PROTOCOL = 1,
	TJ_WIRE_BYE_QUOTA = 2,
	TJ_WIRE_BYE_NETWORK = 3,
	TJ_WIRE_BYE_DUPLICATE = 4, /* we are connected twice; the other connection stays */
};

/* The id a liveness probe asks for (see above). */
extern const uint8_t tj_wire_probe_id[32];

struct tj_wire_blob {
	const uint8_t *p; /* borrowed */
	uint32_t len;
};

/* A decoded message; only the fields of its type are set. */
struct tj_wire_msg {
	uint8_t type;
	/* HELLO */
	uint64_t version;
	uint8_t network_id[32];
	uint64_t records;
	/* NEG */
	struct tj_wire_blob neg;
	/* WANT, HAVE: n ids, each 32 bytes borrowed */
	uint32_t n_ids;
	const uint8_t *ids[TJ_WIRE_HAVE_MAX];
	/* RECORDS, PUSH */
	bool last;
	uint32_t n_recs;
	struct tj_wire_blob recs[TJ_WIRE_RECORDS_MAX];
	/* BYE */
	uint64_t reason;
};

/* The largest message a peer may send in this phase (before HELLO: tiny). */
size_t tj_wire_max_bytes(bool hello_done);

/*
 * Decodes buf (untrusted, decrypted by box-stream) into *m. hello_done
 * false accepts only HELLO. Errors: TJ_ELIMIT (size or a count over its
 * cap), TJ_EMALFORMED / TJ_ENONCANON / TJ_ETRUNC (bytes), TJ_EPROTO (a type
 * not allowed now, or unknown).
 */
TJ_MUST_CHECK int tj_wire_decode(const uint8_t *buf, size_t len, bool hello_done, struct tj_wire_msg *m);

/* Encoders: write one message with w (check tj_mp_writer_finish once at the end). */
void tj_wire_put_hello(struct tj_mp_writer *w, const uint8_t network_id[32], uint64_t records);
void tj_wire_put_neg(struct tj_mp_writer *w, const uint8_t *msg, size_t len);
/* WANT or HAVE of n ids, 32 bytes each, back to back. */
void tj_wire_put_ids(struct tj_mp_writer *w, uint8_t type, const uint8_t *ids, size_t n);
/* The head of a RECORDS (type TJ_WIRE_RECORDS, with last) or PUSH; then n tj_mp_put_bin. */
void tj_wire_put_records_head(struct tj_mp_writer *w, uint8_t type, bool last, uint32_t n);
void tj_wire_put_bye(struct tj_mp_writer *w, uint64_t reason);

/* Bytes a record of len bytes takes inside RECORDS / PUSH (its bin header included). */
size_t tj_wire_record_cost(size_t len);

#endif
