/*
 * The background pass of the peer layer: records that peers send are stored
 * and acknowledged by the batch's transaction (tj_sync.c), which also marks
 * incidents, acknowledgements and resolutions pending (tj_alert.h). Indexing
 * them for queries and running the alert rules costs far more per record
 * than storing them (docs/BENCHMARKS.md), so it runs here, in bounded steps
 * on the loop thread, after the stores: a catch-up of 100,000 records lands
 * at the storage path's rate, and `status` says how many records still wait
 * (peers.indexing_backlog).
 *
 * While records are on their way in (batches being verified, WANTs not yet
 * answered), a short step (TJ_PEER_DERIVE_BUSY_*) runs at most every
 * TJ_PEER_DERIVE_DEFER_MS, so the pass never starves; once ingest is idle,
 * longer steps (TJ_PEER_DERIVE_IDLE_*) follow one another with the loop's
 * I/O between them. A live record, arriving alone, is evaluated on the next
 * loop turn.
 */
#include <stdlib.h>

#include <uv.h>

#include "tj_alert.h"
#include "tj_log.h"
#include "tj_node_core.h"
#include "tj_peer_int.h"

static void tj__derive_cb(uv_timer_t *t);

/* Records are on their way in: batches in the thread pool, or WANTs not fully answered. */
static bool tj__derive_ingest_busy(const struct tj_peers *P)
{
	if (P->jobs_inflight > 0)
		return true;
	for (const struct tj__conn *c = P->conns; c != NULL; c = c->next)
		if (c->wants_inflight > 0)
			return true;
	return false;
}

static void tj__derive_arm(struct tj_peers *P, uint64_t delay_ms)
{
	if (P->stopping || !P->derive_init)
		return;
	if (uv_is_active((uv_handle_t *)&P->derive) && uv_timer_get_due_in(&P->derive) <= delay_ms)
		return; /* already due no later */
	(void)uv_timer_start(&P->derive, tj__derive_cb, delay_ms, 0);
}

static void tj__derive_cb(uv_timer_t *t)
{
	struct tj_peers *P = t->data;
	uint64_t now = tj__mono_ms();
	size_t done = 0;
	bool more = false, busy;
	int rc;

	if (P->stopping)
		return;
	if (now < P->derive_hold_ms) {
		tj__derive_arm(P, P->derive_hold_ms - now);
		return;
	}
	busy = tj__derive_ingest_busy(P);
	if (busy && now < P->derive_last_ms + TJ_PEER_DERIVE_DEFER_MS) {
		/* Ingest first; tj__derive_kick from the last job's end brings the pass back sooner. */
		tj__derive_arm(P, P->derive_last_ms + TJ_PEER_DERIVE_DEFER_MS - now);
		return;
	}
	/* Each step commits once, and a commit's cost is mostly pages written: long steps when idle. */
	if (busy)
		rc = tj_alert_pending_step(P->node, TJ_PEER_DERIVE_BUSY_CAP, TJ_PEER_DERIVE_BUSY_US, &done,
		                           &more);
	else
		rc = tj_alert_pending_step(P->node, TJ_PEER_DERIVE_IDLE_CAP, TJ_PEER_DERIVE_IDLE_US, &done,
		                           &more);
	P->derive_last_ms = tj__mono_ms();
	if (rc != 0) {
		/* Logged by the step; the records stay marked, and the pass tries again later. */
		tj__derive_arm(P, TJ_PEER_DERIVE_RETRY_MS);
		return;
	}
	P->derive_backlog = P->derive_backlog > done ? P->derive_backlog - done : 0;
	if (!more) {
		P->derive_backlog = 0; /* the marks are the truth: a retraction may have removed some */
		return;
	}
	if (P->derive_backlog == 0)
		P->derive_backlog = 1; /* more marks than counted: at least one is left */
	/*
	 * Not 0: libuv (1.44) runs a timer re-armed with 0 from its own callback
	 * again in the same pass over the timers, before any I/O; 1 ms lets the
	 * loop poll (peers, control requests) between steps.
	 */
	tj__derive_arm(P, 1);
}

void tj__derive_kick(struct tj_peers *P, size_t n_new)
{
	/* Even with no new mark: a retraction in the batch left its removals to the pass ('R'). */
	P->derive_backlog += n_new;
	tj__derive_arm(P, 1); /* the callback defers to ingest if it must */
}

int tj__derive_init(struct tj_peers *P)
{
	const char *hold;
	uint64_t pending = 0;
	int rc;

	if ((rc = uv_timer_init(P->loop, &P->derive)) != 0)
		return rc;
	P->derive_init = true;
	P->derive.data = P;
	/* Tests only (tests/alerts/backlog_alerts.sh): a backlog that stays while a command looks at it. */
	if ((hold = getenv("TJ_TEST_DERIVE_HOLD_MS")) != NULL) {
		unsigned long ms = strtoul(hold, NULL, 10);
		ms = ms > 60000 ? 60000 : ms;
		P->derive_hold_ms = tj__mono_ms() + ms;
		TJ_LOG_W("peer",
		         "TJ_TEST_DERIVE_HOLD_MS: indexing held for %lu ms after the start (tests only)", ms);
	}
	/* Left by a stop (or a crash) in the middle of a catch-up: evaluated in the background too. */
	if ((rc = tj_alert_pending_count(P->node, &pending)) != 0)
		return rc;
	if (pending > 0)
		TJ_LOG_I("peer", "%llu stored records still to index and evaluate; in the background",
		         (unsigned long long)pending);
	/* Left by a stop: records still marked pending, or retractions whose removals did not run. */
	tj__derive_kick(P, (size_t)pending);
	return 0;
}
