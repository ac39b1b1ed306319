/*
 * The node side of the control protocol (tj_control.h), without I/O: one
 * request frame body in, one reply frame out. The daemon feeds it frames
 * from the socket; the fuzzer feeds it bytes directly.
 */
#ifndef TJ_CTL_SERVER_H
#define TJ_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_control.h"
#include "tj_error.h"
#include "tj_mp.h"
#include "tj_node_core.h"

#define TJ_CTL_BATCH_MAX 1000

/* A reply frame: 4-byte big-endian length, then the msgpack map. */
struct tj_ctl_reply {
	uint8_t *buf; /* malloc'd; the caller owns it (it may hold plaintext: wipe, then free) */
	size_t len;   /* bytes of the whole frame, prefix included */
};

struct tj_ctl_flags {
	bool stop;  /* the client asked the node to stop (after this reply) */
	bool close; /* the request was not a well-formed frame: close after this reply */
};

/*
 * Handles one request body (untrusted: checked by tj_mp_check first).
 * Always fills *out with a reply (ok or error) unless memory runs out
 * (-ENOMEM, no reply). node may be NULL (fuzzing): ops that need it answer
 * TJ_ESTATE.
 */
TJ_MUST_CHECK int tj_ctl_handle(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out,
				struct tj_ctl_flags *flags);

/* An error reply frame on its own (for frames rejected before tj_ctl_handle). */
TJ_MUST_CHECK int tj_ctl_error_reply(int err, const char *msg, struct tj_ctl_reply *out);

/*
 * Reads a frame's 4-byte big-endian length: TJ_ELIMIT unless it is 1 to
 * TJ_CTL_REQUEST_MAX_BYTES. Checked before a single body byte is buffered.
 */
TJ_MUST_CHECK int tj_ctl_frame_len(const uint8_t hdr[4], size_t *body_len);

/* Wipes and frees out->buf. Accepts an empty reply. */
void tj_ctl_reply_free(struct tj_ctl_reply *out);

/* ---- for the ops (tj_ctl_args.c) ---- */

#define TJ_CTL_MSG_MAX 600 /* an error message, formatted */

/* An error reply with a formatted message (cut at TJ_CTL_MSG_MAX). */
TJ_MUST_CHECK int tj_ctl_failf(struct tj_ctl_reply *out, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Positions r at key's value in the request map (untrusted, checked already);
 * TJ_ENOTFOUND if absent or nil. */
TJ_MUST_CHECK int tj_ctl_arg(const uint8_t *req, size_t len, const char *key, struct tj_mp_reader *r);
/* A string argument into out (cap bytes with the NUL): TJ_ENOTFOUND if absent,
 * TJ_ELIMIT if too long or holding a NUL; out is "" unless it succeeds. */
TJ_MUST_CHECK int tj_ctl_arg_str(const uint8_t *req, size_t len, const char *key, char *out, size_t cap);
/* Finishes a reply written by w at buf + 4 (buf: cap bytes, malloc'd) into *out
 * with its length prefix; when it does not fit, wipes and frees buf and makes
 * an error reply naming what (may be NULL). */
TJ_MUST_CHECK int tj_ctl_reply_finish(struct tj_mp_writer *w, uint8_t *buf, size_t cap,
                                      struct tj_ctl_reply *out, const char *what);

#endif
