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
 *   id          -> {public_key, fingerprint: str, network_id: bin|nil, network_name: str|nil}
 *               (nil while the node has not joined a network)
 *   add         {summary: bin, case: bin|nil, case_readers: bin|nil (more readers of the
 *               case face: 1 to 15 Ed25519 keys, 32 bytes each, packed)}
 *               -> {id, case_id: bin|nil, severity: uint, recorded_at: uint}
 *               summary/case are the canonical bodies of tj_incident.h (the case
 *               body's summary id is ignored and set by the node). The node
 *               re-validates, computes severity unless explicit, seals, stores,
 *               and replies only after the LMDB commit returned 0.
 *               A body that fails validation -> {ok: false, err: TJ_ESCHEMA (or
 *               the decode error), msg: the tj_verr message}.
 *   add_batch   {items: [{summary: bin, case: bin|nil}, ...]} (1 to 1000 items)
 *               -> {results: [{id, case_id: bin|nil, severity, recorded_at}
 *                             | {err: int, msg: str}, ...]}
 *               one result per item, in order; every valid item is stored in ONE
 *               transaction, acknowledged after its commit. If the store itself
 *               fails, nothing is stored and the reply is {ok: false, err, msg}.
 *   list        {state: str?, since: str? ("YYYY-MM-DD", occurred on/after),
 *                act: str?, after: bin? (paging cursor: last id seen), limit: uint?}
 *               -> {items: [{id, author, recorded_at, severity, summary: bin}], next: bin|nil}
 *               newest recorded first; limit <= 1000 (default 100). Only
 *               incidents this node can read. A page ends early when the reply
 *               would pass TJ_CTL_REPLY_MAX_BYTES, or after the node looked at
 *               10,000 records (so a filter that matches little stays cheap): a
 *               page may then be short, even empty, with a non-nil next. Keep
 *               calling with after = next until next is nil.
 *   show        {id: bin 32 | prefix: str (8 to 64 hex digits)}
 *               -> {id, author, recorded_at, severity, summary: bin,
 *                   case: bin|nil, case_status: "readable"|"not_shared"|"none"}
 *               errors: TJ_ENOTFOUND (no such incident), TJ_EEXIST (the prefix
 *               matches more than one record), TJ_ENOKEY (held but unreadable).
 *   status      -> {records, incidents, cases, authors, frozen, tombstones,
 *                   uptime_s, own_seq, store_bytes, map_bytes: uint,
 *                   has_network: bool, network_name: str|nil,
 *                   peers: {listen, known, connected, syncing, last_sync}|nil}
 *   stop        -> {} and the node shuts down gracefully after replying.
 *   peer_add, peer_list: see tj_peer.h (the address book; each peer's
 *               connection and last reconciliation).
 *   retract, retraction, share: see tj_retract.h and tj_share.h.
 *   wipe        -> {wiped_ms: uint}: panic wipe (tj_wipe.h); every key in memory is
 *               overwritten, then the node stops after replying.
 *   member_add, member_list: see tj_member.h (a steward admits a node and
 *               gets its welcome bundle; the derived membership with names).
 *
 * Framing errors (length 0 or over TJ_CTL_REQUEST_MAX_BYTES, a body that is
 * not one msgpack map within the limits) get one error reply, then the
 * connection is closed. A well-formed request with a bad op or arguments gets
 * an error reply and the connection stays open. A client may pipeline
 * requests; replies come in order. A client that does not read its replies
 * (more than 9 MiB queued) is disconnected.
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
