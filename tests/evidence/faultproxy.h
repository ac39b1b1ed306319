/*
 * A fault-injecting TCP proxy for the evidence tests, on 127.0.0.1: each
 * link listens on a port of its own (bind(0)) and forwards every connection
 * to one target port. One thread runs every link (poll); the calls below
 * may come from any thread.
 *
 * Modes of a link:
 *   FP_PASS       forward, each chunk held delay_ms first (0 = at once)
 *   FP_BLACKHOLE  stop reading both ways: bytes wait in the kernel buffers
 *                 (TCP flow control), as over a link that drops every
 *                 packet; forwarding resumes when the link passes again
 *   FP_CUT        every connection closed with a reset; new ones accepted
 *                 and reset at once
 * Every descriptor is close-on-exec: a daemon forked later must not hold a
 * proxied connection open after the proxy closed it (that hid every cut
 * from the other end in an earlier version of this proxy).
 * fp_cut_mid() closes each current connection of a link after a random
 * 1..4096 more bytes: most cuts land inside a frame.
 */
#ifndef TJ_EV_FAULTPROXY_H
#define TJ_EV_FAULTPROXY_H

#include <stddef.h>
#include <stdint.h>

enum fp_mode { FP_PASS = 0, FP_BLACKHOLE = 1, FP_CUT = 2 };

struct fp;

struct fp_stats {
	uint64_t accepted, cut, bytes;
};

int fp_start(struct fp **out);
/* A new link to 127.0.0.1:target_port; its listening port in *port. */
int fp_link_add(struct fp *fp, uint16_t target_port, uint16_t *port, size_t *link);
void fp_link_set(struct fp *fp, size_t link, enum fp_mode mode, unsigned delay_ms);
void fp_cut_mid(struct fp *fp, size_t link);
void fp_get_stats(struct fp *fp, struct fp_stats *out);
/* One line per open connection (link, mode, bytes held each way) on out (a FILE *). */
void fp_dump(struct fp *fp, void *out);
/* Stops the thread and closes everything. Accepts NULL. */
void fp_stop(struct fp *fp);

#endif
