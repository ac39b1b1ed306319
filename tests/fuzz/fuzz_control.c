/*
 * Fuzzes the control protocol's server side as the daemon drives it: the
 * input is a byte stream of frames (4-byte length, body). Each frame length
 * is checked, each body goes to tj_ctl_handle (with no node, so the run is
 * deterministic and touches no disk: every op still parses its arguments).
 * Every reply must be one well-formed frame holding a map with "ok".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_ctl_server.h"
#include "tj_mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reply invariant: a frame whose body is one checked map with a bool "ok". */
static void check_reply(const struct tj_ctl_reply *r)
{
	struct tj_mp_reader rd;
	size_t used, body;
	uint32_t n, kl;
	const char *k;
	bool ok, found = false;

	if (r->buf == NULL || r->len <= 4 || r->len > TJ_CTL_REPLY_MAX_BYTES + 4)
		abort();
	body = (size_t)r->buf[0] << 24 | (size_t)r->buf[1] << 16 | (size_t)r->buf[2] << 8 | r->buf[3];
	if (body != r->len - 4)
		abort();
	if (tj_mp_check(r->buf + 4, body, &tj_mp_limits_default, true, &used) != 0)
		abort();
	tj_mp_reader_init(&rd, r->buf + 4, body);
	if (tj_mp_read_map(&rd, &n) != 0)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_str(&rd, &k, &kl) != 0)
			abort();
		if (kl == 2 && memcmp(k, "ok", 2) == 0) {
			if (tj_mp_read_bool(&rd, &ok) != 0)
				abort();
			found = true;
		} else if (tj_mp_skip(&rd) != 0) {
			abort();
		}
	}
	if (!found)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	/* Each pass consumes at least 5 bytes, so the loop is bounded by size. */
	while (size - off >= 4) {
		struct tj_ctl_flags flags = {0};
		struct tj_ctl_reply reply = {0};
		size_t len = 0;

		if (tj_ctl_frame_len(data + off, &len) != 0) {
			if (tj_ctl_error_reply(TJ_ELIMIT, "frame length", &reply) != 0)
				abort();
			check_reply(&reply);
			tj_ctl_reply_free(&reply);
			break; /* the daemon hangs up */
		}
		off += 4;
		if (len > size - off)
			break; /* a truncated frame: the daemon waits, then sees EOF */
		if (tj_ctl_handle(NULL, data + off, len, &reply, &flags) != 0)
			abort(); /* only -ENOMEM may leave no reply */
		check_reply(&reply);
		tj_ctl_reply_free(&reply);
		off += len;
		if (flags.close || flags.stop)
			break;
	}
	return 0;
}
