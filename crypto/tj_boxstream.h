/*
 * Box-stream: the framing Secure Scuttlebutt uses after the secret
 * handshake, wire-compatible with the JavaScript pull-box-stream.
 * Owner: the transport (shs) engineer.
 *
 * One struct tj_boxstream holds ONE direction (a key and a running nonce):
 * a connection has two, built from struct tj_shs_keys (enc_* to send,
 * dec_* to receive).
 *
 * A frame is a 34-byte header, secretbox(body_len (2, big-endian) ||
 * body MAC (16)) under nonce n, then the body, secretbox of at most 4096
 * bytes under nonce n+1 WITHOUT its MAC (which travels in the header). The
 * next frame starts at n+2. Nonces are 24-byte big-endian counters. The
 * goodbye frame is a header that encrypts 18 zero bytes: it marks a clean
 * close. A stream that ends without it was cut (TJ_ETRUNC from
 * tj_boxstream_end), which the caller must not confuse with a clean close.
 *
 * Reading never buffers more than one frame (TJ_BOXSTREAM_FRAME_MAX_BYTES).
 * Larger application messages use the length-prefixed message layer below
 * (tj_boxstream_seal_msg and struct tj_boxstream_reasm), whose caller-given
 * bound is checked on the 4-byte prefix before anything is buffered.
 *
 * Errors: TJ_EDECRYPT (a header or body fails authentication: the stream is
 * then dead, every later call gives TJ_ESTATE), TJ_EPROTO (bytes after a
 * goodbye), TJ_ELIMIT (a message larger than allowed), TJ_ENOSPC (out buffer
 * too small), TJ_ETRUNC (stream ended without goodbye), TJ_ESTATE (use after
 * goodbye or failure).
 *
 * Memory: the key lives in sodium_malloc memory, wiped by tj_boxstream_free.
 * Plaintext buffers held inside are wiped when reused and when freed.
 */
#ifndef TJ_BOXSTREAM_H
#define TJ_BOXSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"

#define TJ_BOXSTREAM_KEY_BYTES 32
#define TJ_BOXSTREAM_NONCE_BYTES 24
#define TJ_BOXSTREAM_BODY_MAX_BYTES 4096
#define TJ_BOXSTREAM_HEADER_BYTES 34 /* 16 MAC + 2 length + 16 body MAC */
#define TJ_BOXSTREAM_FRAME_MAX_BYTES (TJ_BOXSTREAM_HEADER_BYTES + TJ_BOXSTREAM_BODY_MAX_BYTES)
#define TJ_BOXSTREAM_GOODBYE_BYTES TJ_BOXSTREAM_HEADER_BYTES
#define TJ_BOXSTREAM_MSG_PREFIX_BYTES 4 /* big-endian u32 length before each message */

struct tj_boxstream;

/* One direction of a stream. Copies key and nonce. */
TJ_MUST_CHECK int tj_boxstream_new(const uint8_t key[TJ_BOXSTREAM_KEY_BYTES],
				   const uint8_t nonce[TJ_BOXSTREAM_NONCE_BYTES], struct tj_boxstream **out);
/* Wipes and frees. Accepts NULL. */
void tj_boxstream_free(struct tj_boxstream *bs);

/* --- Sending ----------------------------------------------------------- */

/*
 * Bytes that tj_boxstream_seal produces for len plaintext bytes: len plus
 * one header per started 4096-byte body (0 for len 0: like pull-box-stream,
 * an empty write sends nothing). SIZE_MAX if that overflows.
 */
size_t tj_boxstream_sealed_bytes(size_t len);

/*
 * Encrypts msg[0..len) as frames of at most 4096 body bytes into out
 * (out_cap >= tj_boxstream_sealed_bytes(len)); *out_len gets the size.
 * msg and out must not overlap. TJ_ESTATE after tj_boxstream_goodbye.
 */
TJ_MUST_CHECK int tj_boxstream_seal(struct tj_boxstream *bs, const uint8_t *msg, size_t len, uint8_t *out,
				    size_t out_cap, size_t *out_len);

/* Writes the goodbye frame; the stream can send nothing after it. */
TJ_MUST_CHECK int tj_boxstream_goodbye(struct tj_boxstream *bs, uint8_t out[TJ_BOXSTREAM_GOODBYE_BYTES]);

/* --- Receiving, frame by frame (two phases) ----------------------------- */

/*
 * Phase 1: authenticates a 34-byte header. On a data frame *goodbye is
 * false and *body_len (0..4096) says how many bytes phase 2 needs. On the
 * goodbye frame *goodbye is true, *body_len 0, and the stream is closed.
 * A header announcing more than 4096 bytes fails with TJ_ELIMIT.
 */
TJ_MUST_CHECK int tj_boxstream_open_header(struct tj_boxstream *bs, const uint8_t hdr[TJ_BOXSTREAM_HEADER_BYTES],
					   size_t *body_len, bool *goodbye);

/*
 * Phase 2: authenticates and decrypts the body announced by the last header
 * (len must equal that *body_len, else -EINVAL) into plain (may equal
 * cipher: in place). TJ_ESTATE if no header is open.
 */
TJ_MUST_CHECK int tj_boxstream_open_body(struct tj_boxstream *bs, const uint8_t *cipher, size_t len,
					 uint8_t *plain);

/* --- Receiving from a byte stream (buffers at most one frame) ----------- */

enum tj_boxstream_event {
	TJ_BOXSTREAM_NONE = 0, /* need more bytes */
	TJ_BOXSTREAM_DATA,     /* a frame's plaintext is in data/len */
	TJ_BOXSTREAM_GOODBYE,  /* clean close: the peer said goodbye */
};

struct tj_boxstream_chunk {
	enum tj_boxstream_event event;
	const uint8_t *data; /* inside bs: valid until the next tj_boxstream_read/free */
	size_t len;
};

/*
 * Takes bytes from in[0..in_len) until one frame is complete or in is used
 * up: *consumed says how many were taken (the caller calls again with the
 * rest). chunk->event says what happened. Bytes after a goodbye: TJ_EPROTO.
 */
TJ_MUST_CHECK int tj_boxstream_read(struct tj_boxstream *bs, const uint8_t *in, size_t in_len, size_t *consumed,
				    struct tj_boxstream_chunk *chunk);

/*
 * The transport reached end of file: 0 if the goodbye frame was received
 * (clean close), TJ_ETRUNC if the stream was cut (no goodbye, possibly in
 * the middle of a frame).
 */
TJ_MUST_CHECK int tj_boxstream_end(const struct tj_boxstream *bs);

/* True once a goodbye was received (reader) or sent (writer). */
bool tj_boxstream_closed(const struct tj_boxstream *bs);

/* --- Application messages larger than a frame --------------------------- */

/* Sealed size of one message: tj_boxstream_sealed_bytes(4 + len), SIZE_MAX on overflow. */
size_t tj_boxstream_msg_sealed_bytes(size_t len);

/*
 * Seals [len (4, big-endian) || msg] as frames. TJ_ELIMIT if len exceeds
 * UINT32_MAX. The receiver reassembles it with struct tj_boxstream_reasm.
 */
TJ_MUST_CHECK int tj_boxstream_seal_msg(struct tj_boxstream *bs, const uint8_t *msg, size_t len, uint8_t *out,
					size_t out_cap, size_t *out_len);

struct tj_boxstream_reasm;

/* A reassembler for messages of at most max_msg_bytes (e.g. 64 KiB + overhead). */
TJ_MUST_CHECK int tj_boxstream_reasm_new(size_t max_msg_bytes, struct tj_boxstream_reasm **out);
/* Wipes and frees. Accepts NULL. */
void tj_boxstream_reasm_free(struct tj_boxstream_reasm *r);

/*
 * Feeds decrypted stream bytes (frame boundaries need not match message
 * boundaries). Takes bytes until one message is complete or data is used
 * up (*consumed). When a message is complete, *msg and *msg_len point at it
 * (valid until the next push or free) and *msg is non-NULL; otherwise *msg
 * is NULL. A prefix announcing more than max_msg_bytes fails with TJ_ELIMIT
 * before anything is buffered; the reassembler is then dead (TJ_ESTATE).
 */
TJ_MUST_CHECK int tj_boxstream_reasm_push(struct tj_boxstream_reasm *r, const uint8_t *data, size_t len,
					  size_t *consumed, const uint8_t **msg, size_t *msg_len);

/* True if no message is partly received (a clean point to close). */
bool tj_boxstream_reasm_idle(const struct tj_boxstream_reasm *r);

#endif
