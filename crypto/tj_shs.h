/*
 * Secure Scuttlebutt's secret handshake, version 1 (SHS v1), as a sans-I/O
 * state machine. Owner: the transport (shs) engineer.
 *
 * Tejido uses the 32-byte network key as the SHS application key, so a
 * stranger who does not know it learns nothing: a bad msg1 gets no answer.
 *
 *   client                                  server
 *   msg1 = hmac_K(a_eph) || a_eph (64)  ->
 *                                       <-  msg2 = hmac_K(b_eph) || b_eph (64)
 *   msg3 = secretbox_{K,ab,aB}(sig_A || A) (112) ->
 *                                           verify, authorize(A)
 *                                       <-  msg4 = secretbox_{K,ab,aB,Ab}(sig_B) (80)
 *
 * The machine never touches a socket. The caller reads exactly
 * tj_shs_need() bytes, passes them to tj_shs_step(), and writes whatever
 * the step put in `out` (when *out_len > 0). A client starts with a step on
 * no input (need is 0) that produces msg1.
 *
 * Errors (the machine is then TJ_SHS_FAILED, its secrets wiped, and the
 * caller must close the connection WITHOUT writing anything more):
 *   TJ_EDECRYPT   msg1/msg2 HMAC or msg3/msg4 secretbox failed (e.g. another
 *                 application key: the stranger gets nothing back)
 *   TJ_EBADSIG    msg3 or msg4 signature does not verify
 *   TJ_ECRYPTO    a low-order or otherwise invalid Curve25519 / Ed25519 key,
 *                 or any key agreement that fails
 *   TJ_ENOTMEMBER the server's authorize callback refused the client; msg4
 *                 was NOT produced
 *   TJ_ESTATE     a step on a finished or failed machine
 *   -EINVAL       in_len differs from tj_shs_need(), or out_cap is too small
 *
 * Ownership: the machine BORROWS the identity (it must outlive the
 * machine) and COPIES the application key and the server key. Its own
 * secrets live in sodium_malloc memory and are wiped on completion (only
 * the derived session keys are kept, until tj_shs_take_keys), on failure,
 * and in tj_shs_free.
 *
 * Driving it from libuv (tests/interop_shs/bs_echo.c does exactly this):
 *   on connect: tj_shs_*_new, start a TJ_SHS_DEADLINE_MS timer; a client
 *     steps once on no input and writes msg1;
 *   on read: append to a buffer of at most TJ_SHS_MSG3_BYTES until it holds
 *     tj_shs_need() bytes, step, write out[0..out_len) if any; on error close
 *     without writing; bytes beyond the handshake belong to box-stream;
 *   at TJ_SHS_DONE: stop the timer, tj_shs_take_keys, tj_boxstream_new for
 *     both directions, sodium_memzero the keys, tj_shs_free.
 *   timer fires first: tj_shs_abort and close.
 *
 * WARNING: the machine does not time out by itself. The caller arms a timer
 * (TJ_SHS_DEADLINE_MS is the recommended budget) when it creates the machine
 * and calls tj_shs_abort() and closes if the state is not TJ_SHS_DONE by
 * then.
 */
#ifndef TJ_SHS_H
#define TJ_SHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keys.h"

#define TJ_SHS_APP_KEY_BYTES 32
#define TJ_SHS_MSG1_BYTES 64
#define TJ_SHS_MSG2_BYTES 64
#define TJ_SHS_MSG3_BYTES 112
#define TJ_SHS_MSG4_BYTES 80
#define TJ_SHS_OUT_MAX_BYTES 112 /* largest message a step produces */
#define TJ_SHS_KEY_BYTES 32      /* box-stream key */
#define TJ_SHS_NONCE_BYTES 24    /* box-stream initial nonce */
#define TJ_SHS_DEADLINE_MS 10000 /* recommended whole-handshake budget */

/* Where the machine is. A caller's timer reads it to enforce a deadline. */
enum tj_shs_state {
	TJ_SHS_CLIENT_START = 0, /* client: next step (no input) produces msg1 */
	TJ_SHS_CLIENT_AWAIT_MSG2, /* client: needs 64 bytes, produces msg3 */
	TJ_SHS_CLIENT_AWAIT_MSG4, /* client: needs 80 bytes, produces nothing */
	TJ_SHS_SERVER_AWAIT_MSG1, /* server: needs 64 bytes, produces msg2 */
	TJ_SHS_SERVER_AWAIT_MSG3, /* server: needs 112 bytes, produces msg4 */
	TJ_SHS_DONE,              /* keys ready: tj_shs_take_keys */
	TJ_SHS_FAILED,            /* secrets wiped; close the connection */
};

/*
 * Server side: called once msg3 has verified, with the client's long-term
 * Ed25519 key. Return true to admit it. Returning false makes the step fail
 * with TJ_ENOTMEMBER and nothing is sent. Must not call back into the machine.
 */
typedef bool (*tj_shs_authorize_fn)(void *ctx, const uint8_t client_pk[32]);

/* The outcome: what box-stream needs for both directions. */
struct tj_shs_keys {
	uint8_t peer_pk[32];                    /* the peer's long-term Ed25519 key */
	uint8_t enc_key[TJ_SHS_KEY_BYTES];      /* for what we send */
	uint8_t enc_nonce[TJ_SHS_NONCE_BYTES];
	uint8_t dec_key[TJ_SHS_KEY_BYTES];      /* for what we receive */
	uint8_t dec_nonce[TJ_SHS_NONCE_BYTES];
};

struct tj_shs;

/*
 * A client that will only accept the server whose long-term key is
 * server_pk. Borrows id (id->pk and id->sk are used). TJ_ECRYPTO if
 * server_pk is not a valid Ed25519 point of large order.
 */
TJ_MUST_CHECK int tj_shs_client_new(const uint8_t app_key[TJ_SHS_APP_KEY_BYTES], const struct tj_identity *id,
				    const uint8_t server_pk[32], struct tj_shs **out);

/* A server. Borrows id; authorize(ctx, client_pk) decides after msg3. */
TJ_MUST_CHECK int tj_shs_server_new(const uint8_t app_key[TJ_SHS_APP_KEY_BYTES], const struct tj_identity *id,
				    tj_shs_authorize_fn authorize, void *ctx, struct tj_shs **out);

/* Wipes and frees. Accepts NULL. */
void tj_shs_free(struct tj_shs *h);

/* The current state (h must not be NULL). */
enum tj_shs_state tj_shs_state(const struct tj_shs *h);

/* Exactly how many bytes the next tj_shs_step wants (0 for the client's first step, and when finished). */
size_t tj_shs_need(const struct tj_shs *h);

/*
 * Consumes in[0..in_len) (in_len must equal tj_shs_need(h)) and writes the
 * reply, if any, to out (out_cap >= TJ_SHS_OUT_MAX_BYTES is always enough),
 * setting *out_len (0 when there is nothing to send). On error *out_len is 0
 * and the machine is failed and wiped.
 */
TJ_MUST_CHECK int tj_shs_step(struct tj_shs *h, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
			      size_t *out_len);

/*
 * In TJ_SHS_DONE: copies the session keys to *out and wipes them inside h
 * (a second call gives TJ_ESTATE). The caller wipes *out (sodium_memzero)
 * once the box-streams hold the keys.
 */
TJ_MUST_CHECK int tj_shs_take_keys(struct tj_shs *h, struct tj_shs_keys *out);

/* Fails the machine now and wipes its secrets (deadline expired, connection lost). */
void tj_shs_abort(struct tj_shs *h);

/*
 * TESTING ONLY (known-answer vectors): replaces the fresh ephemeral X25519
 * secret key. Allowed only before the machine has produced or consumed any
 * message; TJ_ESTATE otherwise. Never call it in the node.
 */
TJ_MUST_CHECK int tj_shs_test_set_ephemeral(struct tj_shs *h, const uint8_t eph_sk[32]);

/*
 * True if a 32-byte Curve25519 public key is one of the known low-order
 * points (including their non-canonical encodings, with or without the top
 * bit). Constant time in the key. The handshake rejects such keys.
 */
bool tj_shs_is_low_order(const uint8_t x_pk[32]);

#endif
