/*
 * Fuzzes the bodies of the trust records a member's node decrypts at ingest
 * (tj_retract.h, tj_share.h). The first byte picks the decoder:
 *   0: a RETRACTION body [target, reason code];
 *   1: a CONFIRM body [retraction id, target id];
 *   2: a SLOT_GRANT body [case id, [[type, ref, wrapped]...]].
 * Invariants: only typed errors; whatever decodes re-encodes to the same
 * bytes (one encoding per body), and a decoded reason is a vocabulary code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_retract.h"
#include "tj_share.h"
#include "tj_vocab.h"

#define FUZZ_OUT_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz__result(int rc, const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len,
                         int enc_rc)
{
	if (rc != 0) {
		if (rc >= 0 || rc < TJ_E_FIRST || rc >= TJ_E_LAST)
			abort(); /* only typed errors */
		return;
	}
	if (enc_rc != 0 || out_len != in_len || memcmp(in, out, in_len) != 0)
		abort(); /* accepted bytes must be the one canonical encoding */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FUZZ_OUT_BYTES];
	uint8_t a[32], b[32];
	char reason[TJ_CODE_MAX];
	struct tj_share_body g;
	size_t len = 0;
	int rc, erc = -1;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		rc = tj_retract_body_decode(data + 1, size - 1, a, reason);
		if (rc == 0) {
			if (tj_vocab_lookup(TJ_RETRACT_REASON_FIELD, reason) == NULL)
				abort();
			erc = tj_retract_body_encode(a, reason, out, sizeof(out), &len);
		}
		break;
	case 1:
		rc = tj_confirm_body_decode(data + 1, size - 1, a, b);
		if (rc == 0)
			erc = tj_confirm_body_encode(a, b, out, sizeof(out), &len);
		break;
	default:
		rc = tj_share_body_decode(data + 1, size - 1, &g);
		if (rc == 0)
			erc = tj_share_body_encode(&g, out, sizeof(out), &len);
		break;
	}
	fuzz__result(rc, data + 1, size - 1, out, len, erc);
	return 0;
}
