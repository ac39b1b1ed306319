/*
 * Fuzz target: the SHS v1 state machines (see tests/fuzz/README.md).
 *
 * data[0] picks a mode; the rest is the input:
 *   0  server, raw msg1 then raw msg3
 *   1  server, valid msg1, then msg3 = valid msg3 XOR input; data[1] bit 0 says
 *      whether authorize() admits the client
 *   2  client, raw msg2 then raw msg4
 *   3  client, msg2 = valid XOR input[0..64), msg4 = valid XOR input[64..144)
 * Oracle for the XOR modes: the handshake succeeds if and only if the mask is
 * all zero (and the client is admitted): a modified message must never pass.
 * Keys and ephemerals are fixed, so the target is deterministic.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_keys.h"
#include "tj_shs.h"

struct fz {
	bool ready;
	uint8_t app[32], c_eph[32], s_eph[32];
	struct tj_identity *cid, *sid;
	uint8_t m1[TJ_SHS_MSG1_BYTES], m2[TJ_SHS_MSG2_BYTES], m3[TJ_SHS_MSG3_BYTES], m4[TJ_SHS_MSG4_BYTES];
};

static struct fz fz; /* reachable until exit: not a leak */

static bool admit(void *ctx, const uint8_t pk[32])
{
	(void)pk;
	return *(const bool *)ctx;
}

static void must(bool cond)
{
	if (!cond)
		abort();
}

/* One step; the output, if any, goes to out. */
static int step(struct tj_shs *h, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t buf[TJ_SHS_OUT_MAX_BYTES];
	size_t out_len = 0;
	int rc = tj_shs_step(h, in, n, buf, sizeof(buf), &out_len);

	must(rc == 0 || out_len == 0); /* a failure never leaves bytes to send */
	if (out != NULL && rc == 0)
		memcpy(out, buf, out_len);
	return rc;
}

static void setup(void)
{
	uint8_t seed[32];
	struct tj_shs *c = NULL, *s = NULL;
	bool yes = true;

	memset(fz.app, 0xA5, 32);
	memset(fz.c_eph, 0x11, 32);
	memset(fz.s_eph, 0x22, 32);
	memset(seed, 0x33, 32);
	must(tj_identity_from_seed(seed, &fz.cid) == 0);
	memset(seed, 0x44, 32);
	must(tj_identity_from_seed(seed, &fz.sid) == 0);
	must(tj_shs_client_new(fz.app, fz.cid, fz.sid->pk, &c) == 0);
	must(tj_shs_server_new(fz.app, fz.sid, admit, &yes, &s) == 0);
	must(tj_shs_test_set_ephemeral(c, fz.c_eph) == 0 && tj_shs_test_set_ephemeral(s, fz.s_eph) == 0);
	must(step(c, NULL, 0, fz.m1) == 0 && step(s, fz.m1, sizeof(fz.m1), fz.m2) == 0);
	must(step(c, fz.m2, sizeof(fz.m2), fz.m3) == 0 && step(s, fz.m3, sizeof(fz.m3), fz.m4) == 0);
	must(step(c, fz.m4, sizeof(fz.m4), NULL) == 0);
	tj_shs_free(c);
	tj_shs_free(s);
	fz.ready = true;
}

/* dst = base XOR data (data shorter than n: zero-padded). Returns whether the mask is zero. */
static bool mask(uint8_t *dst, const uint8_t *base, size_t n, const uint8_t *data, size_t size)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t m = i < size ? data[i] : 0;
		dst[i] = base[i] ^ m;
		any |= m;
	}
	return any == 0;
}

static void server_raw(const uint8_t *d, size_t n)
{
	bool yes = true;
	struct tj_shs *s = NULL;
	size_t k = n < TJ_SHS_MSG1_BYTES ? n : TJ_SHS_MSG1_BYTES;

	must(tj_shs_server_new(fz.app, fz.sid, admit, &yes, &s) == 0);
	must(tj_shs_test_set_ephemeral(s, fz.s_eph) == 0);
	if (step(s, d, k, NULL) == 0 && n >= TJ_SHS_MSG1_BYTES) {
		size_t r = n - TJ_SHS_MSG1_BYTES;
		(void)step(s, d + TJ_SHS_MSG1_BYTES, r < TJ_SHS_MSG3_BYTES ? r : TJ_SHS_MSG3_BYTES, NULL);
	}
	tj_shs_free(s);
}

static void server_masked(const uint8_t *d, size_t n)
{
	uint8_t m3[TJ_SHS_MSG3_BYTES], m4[TJ_SHS_MSG4_BYTES];
	bool admitted = n > 0 && (d[0] & 1u) == 0;
	struct tj_shs *s = NULL;
	bool clean;
	int rc;

	if (n > 0)
		d++, n--;
	clean = mask(m3, fz.m3, sizeof(m3), d, n);
	must(tj_shs_server_new(fz.app, fz.sid, admit, &admitted, &s) == 0);
	must(tj_shs_test_set_ephemeral(s, fz.s_eph) == 0);
	must(step(s, fz.m1, sizeof(fz.m1), NULL) == 0);
	rc = step(s, m3, sizeof(m3), m4);
	must((rc == 0) == (clean && admitted));
	if (rc == 0)
		must(memcmp(m4, fz.m4, sizeof(m4)) == 0);
	tj_shs_free(s);
}

static void client_raw(const uint8_t *d, size_t n)
{
	struct tj_shs *c = NULL;
	size_t k = n < TJ_SHS_MSG2_BYTES ? n : TJ_SHS_MSG2_BYTES;

	must(tj_shs_client_new(fz.app, fz.cid, fz.sid->pk, &c) == 0);
	must(tj_shs_test_set_ephemeral(c, fz.c_eph) == 0);
	must(step(c, NULL, 0, NULL) == 0);
	if (step(c, d, k, NULL) == 0 && n >= TJ_SHS_MSG2_BYTES) {
		size_t r = n - TJ_SHS_MSG2_BYTES;
		(void)step(c, d + TJ_SHS_MSG2_BYTES, r < TJ_SHS_MSG4_BYTES ? r : TJ_SHS_MSG4_BYTES, NULL);
	}
	tj_shs_free(c);
}

static void client_masked(const uint8_t *d, size_t n)
{
	uint8_t m2[TJ_SHS_MSG2_BYTES], m4[TJ_SHS_MSG4_BYTES];
	struct tj_shs *c = NULL;
	bool clean2 = mask(m2, fz.m2, sizeof(m2), d, n);
	bool clean4 = mask(m4, fz.m4, sizeof(m4), n > 64 ? d + 64 : d, n > 64 ? n - 64 : 0);
	int rc;

	must(tj_shs_client_new(fz.app, fz.cid, fz.sid->pk, &c) == 0);
	must(tj_shs_test_set_ephemeral(c, fz.c_eph) == 0);
	must(step(c, NULL, 0, NULL) == 0);
	rc = step(c, m2, sizeof(m2), NULL);
	must((rc == 0) == clean2);
	if (rc == 0) {
		rc = step(c, m4, sizeof(m4), NULL);
		must((rc == 0) == clean4);
		must((tj_shs_state(c) == TJ_SHS_DONE) == clean4);
	}
	tj_shs_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0 || size < 1)
		return 0;
	if (!fz.ready)
		setup();
	switch (data[0] % 4) {
	case 0:
		server_raw(data + 1, size - 1);
		break;
	case 1:
		server_masked(data + 1, size - 1);
		break;
	case 2:
		client_raw(data + 1, size - 1);
		break;
	default:
		client_masked(data + 1, size - 1);
		break;
	}
	return 0;
}
