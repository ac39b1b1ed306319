/*
 * The alert runner of the daemon: one libuv timer that
 *   - re-raises open T7 alerts (tj_alert_reraise) every t7_reraise_s, and
 *   - delivers each alert event that matches the node's subscriptions to the
 *     configured alert_hook program, as one JSON object (tj_alert_to_json,
 *     plus "event") on its standard input.
 *
 * Delivery is at least once, in event order: the cursor of delivered events
 * lives in LMDB and advances only after the program exited with status 0.
 * A program that fails, cannot start, or runs past hook_timeout_s (then it
 * is killed) is logged and the same event is retried after a backoff that
 * doubles from 2 s to 5 minutes; no later alert overtakes it, and none is
 * lost because the hook failed. (A crash between the program's exit and the
 * cursor's commit delivers that one event twice.)
 *
 * Ownership: tj_hook_start allocates; the handles are embedded in it. Call
 * tj_hook_stop when the daemon stops (closes the handles, kills a running
 * program), then tj_hook_free once uv_run returned. Both accept NULL.
 */
#ifndef TJ_HOOK_H
#define TJ_HOOK_H

#include <uv.h>

#include "tj_error.h"
#include "tj_node_core.h"

#define TJ_HOOK_TICK_MS 1000u
#define TJ_HOOK_BACKOFF_MIN_MS 2000u
#define TJ_HOOK_BACKOFF_MAX_MS (5u * 60u * 1000u)

struct tj_hook;

/* Starts the timer (with or without a hook program: T7 re-raising runs anyway). Uses
 * tj_alert_config_current(). */
TJ_MUST_CHECK int tj_hook_start(uv_loop_t *loop, struct tj_node *node, struct tj_hook **out);
void tj_hook_stop(struct tj_hook *h);
void tj_hook_free(struct tj_hook *h);

#endif
