/*
 * The control socket: the CLI's only way into a running node.
 *
 * A Unix domain socket, DIR/control.sock, mode 0600. Frames are a 4-byte
 * big-endian length followed by that many bytes of msgpack: one map per
 * request and per reply. Requests are bounded (TJ_CTL_REQUEST_MAX_BYTES) and
 * go through tj_mp_check() before anything else reads them; a bad frame gets
 * an error reply, then the connection is closed; other clients are unaffected.
 *
 * Request:  {"op": str, ...arguments}
 * Reply:    {"ok": true, ...results}  or  {"ok": false, "err": int, "msg": str}
 *           ("err" is a tj_err / -errno code; "msg" says what to do, in English)
 *
 * Ops (arguments -> results); ids are bin 32, keys bin 32, times ms since epoch:
 *   ping        -> {}
 *   id          -> {public_key, fingerprint: str, network_id, network_name: str}
 *   add         {summary: bin, case: bin|nil}
 *               -> {id, case_id: bin|nil, severity: uint, recorded_at: uint}
 *               summary/case are the canonical bodies of tj_incident.h (the case
 *               body's summary id is ignored and set by the node). The node
 *               re-validates, computes severity unless explicit, seals, stores,
 *               and replies only after the LMDB commit returned 0.
 *   list        {state: str?, since: str? ("YYYY-MM-DD", occurred on/after),
 *                act: str?, after: bin? (paging cursor: last id seen), limit: uint?}
 *               -> {items: [{id, author, recorded_at, severity, summary: bin}], next: bin|nil}
 *               newest recorded first; limit <= 1000 (default 100).
 *   show        {id: bin 32 | prefix: str (>= 8 hex digits)}
 *               -> {id, author, recorded_at, severity, summary: bin,
 *                   case: bin|nil, case_status: "readable"|"not_shared"|"none"}
 *   status      -> {records: uint, incidents: uint, authors: uint, uptime_s: uint, ...}
 *   stop        -> {} and the node shuts down gracefully after replying.
 */
#ifndef TJ_CONTROL_H
#define TJ_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_mp.h"

#define TJ_CTL_REQUEST_MAX_BYTES (256u * 1024u)
#define TJ_CTL_REPLY_MAX_BYTES (8u * 1024u * 1024u)
#define TJ_CTL_SOCKET_NAME "control.sock"

/*
 * Blocking client side, for tools/. fd is a connected socket.
 * tj_ctl_connect: -ENOENT / -ECONNREFUSED when no node is running.
 */
TJ_MUST_CHECK int tj_ctl_connect(const char *datadir, int *fd);
/* Sends one request frame and reads one reply frame into a malloc'd buffer *reply (caller frees). */
TJ_MUST_CHECK int tj_ctl_call(int fd, const uint8_t *req, size_t req_len, uint8_t **reply, size_t *reply_len);

#endif
