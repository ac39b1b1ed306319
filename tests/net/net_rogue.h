/*
 * Hostile peers for the multi-node tests: blocking-socket clients on
 * 127.0.0.1 that misbehave in one way each. Every read has a timeout.
 * Each returns 0 when the node under test behaved (dropped them as it
 * should), -1 otherwise (with a line on stderr).
 */
#ifndef TJ_NET_ROGUE_H
#define TJ_NET_ROGUE_H

#include <stddef.h>

#include "net_harness.h"

/* 4 KiB of random bytes: the node closes at once (msg1 HMAC fails). */
int rogue_garbage(struct net *net, size_t target);
/* 30 bytes of a handshake, then silence: the node closes at its deadline. */
int rogue_truncated_handshake(struct net *net, size_t target);
/* A member's msg1 and msg3 from a finished handshake, replayed: no msg4, closed. */
int rogue_replayed_msg1(struct net *net, size_t target);
/* A stranger with the right network key but not a member: no msg4, closed. */
int rogue_stranger(struct net *net, size_t target);
/* Member `member` pushes a record whose signature has one flipped bit. */
int rogue_bad_signature(struct net *net, size_t target, size_t member);
/* Member `member` pushes 40 x 100 records as fast as it can: throttled, then dropped. */
int rogue_flood(struct net *net, size_t target, size_t member);
/*
 * Member `member` connects from 127.0.0.1, says HELLO, then never answers
 * anything: the node must cut it within max_ms (its dead_s). *dt_ms: how long it took.
 */
int rogue_silent_member(struct net *net, size_t target, size_t member, unsigned max_ms, uint64_t *dt_ms);
/*
 * n connections one after the other from source address src ("127.0.0.2"),
 * each sending a valid msg1: *answered got a msg2 (the node did the crypto),
 * *refused were closed without one. 0 unless a socket call failed.
 */
int rogue_hs_burst(struct net *net, size_t target, const char *src, unsigned n, unsigned *answered,
		   unsigned *refused);
/*
 * Member `member` waits for the node's liveness probe (a WANT of the zero id)
 * and answers it with a record, which nobody asked for: 0 when the node then
 * hangs up on it. A node with a short ping_s (tests use 1 s).
 */
int rogue_probe_answer(struct net *net, size_t target, size_t member);
/* Member `member` sends 3000 probes as fast as it can: 0 when the node throttles and drops it. */
int rogue_probe_flood(struct net *net, size_t target, size_t member);
/* Member `member` completes the handshake from src and gets the node's HELLO: 0, else -1. */
int rogue_member_from(struct net *net, size_t target, size_t member, const char *src);

#endif
