/*
 * Fuzzes the CIRCLE body a member's node decrypts at ingest (tj_circle.h):
 *   [circle id, name, nonce, generation, key id, [[member, sealed key]...]]
 * Invariants: only typed errors; whatever decodes re-encodes to the same
 * bytes (one encoding per body), its name passes tj_circle_name_ok, its
 * members are 1..TJ_CIRCLE_MEMBERS_MAX strictly ascending keys, and the
 * admin check on it gives 0, TJ_ENOTMEMBER or TJ_EMALFORMED only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_circle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[TJ_CIRCLE_BODY_MAX_BYTES];
	static struct tj_circle_body b;
	static const uint8_t network[32] = {1};
	size_t len = 0;
	int rc = tj_circle_body_decode(data, size, &b);

	if (rc != 0) {
		if (rc >= 0 || rc < TJ_E_FIRST || rc >= TJ_E_LAST)
			abort(); /* only typed errors */
		return 0;
	}
	if (tj_circle_body_encode(&b, out, sizeof(out), &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort(); /* accepted bytes must be the one canonical encoding */
	if (!tj_circle_name_ok(b.name, strlen(b.name)) || b.generation == 0 || b.n_members == 0 ||
	    b.n_members > TJ_CIRCLE_MEMBERS_MAX)
		abort();
	for (uint32_t i = 1; i < b.n_members; i++)
		if (memcmp(b.members[i - 1], b.members[i], 32) >= 0)
			abort();
	rc = tj_circle_body_check(&b, network, b.members[0]);
	if (rc != 0 && rc != TJ_ENOTMEMBER && rc != TJ_EMALFORMED)
		abort();
	return 0;
}
