/*
 * A member that floods a node with pushed records at a set multiple of the
 * per-peer push quota (TJ_PEER_PUSH_RATE records a second), for the flood
 * evidence (ev_net.c). It speaks as a real member (its secret key from the
 * harness), sends junk records in PUSH messages of EV_FLOOD_PER_MSG, paced
 * so that `ratio` x the quota is offered every second, never reads, and
 * reconnects at once whenever the node drops it or stops reading it for
 * longer than a throttle (one connection at a time: the node keeps one per
 * peer).
 *
 * The pace is what the member offers; what the socket took is counted
 * apart: a node that stops reading (throttling) pushes back through TCP,
 * and a message that would wait for it is skipped (offered, not written)
 * rather than queued in memory or blocked on, so the pace holds.
 */
#ifndef TJ_EV_FLOODER_H
#define TJ_EV_FLOODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_harness.h"

#define EV_FLOOD_PER_MSG 100u

struct ev_flooder {
	/* set by the caller */
	struct net *net;
	size_t target, member;
	unsigned ratio;     /* offered records a second / TJ_PEER_PUSH_RATE */
	volatile bool stop; /* set to end ev_flooder_run */
	/* results */
	uint64_t offered; /* records the pace called for, sent or not */
	uint64_t written; /* records in messages the socket took whole */
	unsigned conns;   /* handshakes completed */
	unsigned refused; /* connections that did not get as far as msg4 */
	unsigned cut;     /* connections closed or reset by the node */
	unsigned stalled; /* connections left after the node had not read them for 1.5 s */
	double secs;      /* how long it ran */
};

/* Floods until f->stop; a pthread start routine (arg: struct ev_flooder *). */
void *ev_flooder_run(void *arg);

#endif
