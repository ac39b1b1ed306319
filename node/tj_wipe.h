/*
 * Panic wipe (DESIGN.md "Trust"): destroy the key file and every key in
 * memory. Everything else at rest is ciphertext under keys that only the key
 * file holds, so afterwards nothing under the data directory can be read.
 *
 * Three pieces, used by `tejido wipe` (tools/cli_wipe.c) and the control op:
 *
 *   tj_wipe_datadir  writes the marker DIR/wiped (non-secret: the date only),
 *                    then overwrites and removes DIR/key (tj_keyfile_destroy).
 *                    The marker goes first: if the wipe is interrupted, the
 *                    node still refuses to start rather than half-working.
 *   tj_wipe_node     overwrites every key a running node holds (identity,
 *                    storage key, file key, blind key, keyring) in place.
 *   tj_wipe_ctl      the "wipe" control op: tj_wipe_node, then the daemon
 *                    stops (tj_ctl_ops.c sets the stop flag).
 *
 * WARNING: tj_wipe_node keeps the allocations (the peer layer and the
 * membership binding borrow them until the daemon stops) and fills each key
 * with fresh random bytes after zeroing it. Anything still sealed during the
 * shutdown is therefore sealed under a key nobody holds, never under a
 * well-known all-zero key.
 */
#ifndef TJ_WIPE_H
#define TJ_WIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_ctl_server.h"
#include "tj_error.h"
#include "tj_node_core.h"

#define TJ_WIPE_MARKER_NAME "wiped"
#define TJ_WIPE_KEYFILE_NAME "key"

/*
 * Writes DIR/wiped ("wiped_at_ms=<ms>\n", mode 0600, fsynced) and destroys
 * DIR/key. Keeps going after an error; returns the first one. A key file that
 * is already gone is not an error (a second wipe, or the node did it).
 */
TJ_MUST_CHECK int tj_wipe_datadir(const char *datadir, uint64_t now_ms);

/* 0 and the wipe time when DIR/wiped exists; TJ_ENOTFOUND otherwise. */
TJ_MUST_CHECK int tj_wipe_marker_read(const char *datadir, uint64_t *wiped_at_ms);

/* Overwrites every key n holds (see the WARNING above). Accepts NULL. */
void tj_wipe_node(struct tj_node *n);

/* The "wipe" control op: {} -> {wiped_ms: uint}. The caller then stops the daemon. */
TJ_MUST_CHECK int tj_wipe_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out);

#endif
