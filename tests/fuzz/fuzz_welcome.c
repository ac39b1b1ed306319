/*
 * Fuzzes what a joining node reads from a stranger's file: the welcome
 * bundle (tj_welcome.h) and the membership bodies inside it (tj_member.h).
 * The first byte picks the path:
 *   0: a whole bundle for a fixed identity (size, magic, seal: typed errors);
 *   1: a bundle's plaintext after the seal (tj_welcome_parse), recipient =
 *      the fixed identity;
 *   2: a MEMBER body; what decodes re-encodes to the same bytes (canonical);
 *   3: an APPROVAL body, likewise.
 * Invariants: only typed errors; an accepted bundle has its genesis first,
 * matching its network id, and every record verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_member.h"
#include "tj_seal.h"
#include "tj_welcome.h"

/* The identity the corpus bundles are sealed to: seed = 32 bytes of 0x5a. */
#define FUZZ_SEED_BYTE 0x5a

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz__typed(int rc)
{
	return rc < 0 && (rc >= TJ_E_FIRST && rc < TJ_E_LAST);
}

static void fuzz__check_accepted(const struct tj_welcome *w)
{
	struct tj_record rec;
	uint8_t id[32];

	if (w->n_records == 0 || w->n_epochs == 0 || w->network_key == NULL)
		abort();
	for (size_t i = 0; i < w->n_records; i++)
		if (tj_record_verify(w->records[i], w->lens[i], &rec, id) != 0 ||
		    (i == 0 && (rec.kind != TJ_KIND_GENESIS || memcmp(id, w->network_id, 32) != 0)))
			abort();
}

static void fuzz__bundle(const struct tj_identity *me, const uint8_t *data, size_t size, bool sealed)
{
	struct tj_welcome *w = NULL;
	int rc = sealed ? tj_welcome_open(data, size, me, &w) : tj_welcome_parse(data, size, me->pk, &w);

	if (rc == 0) {
		fuzz__check_accepted(w);
		tj_welcome_free(w);
	} else if (!fuzz__typed(rc) || w != NULL) {
		abort();
	}
}

static void fuzz__member_body(const uint8_t *data, size_t size)
{
	struct tj_member_body b;
	uint8_t out[TJ_MEMBER_BODY_MAX_BYTES];
	size_t len = 0;
	int rc = tj_member_body_decode(data, size, &b);

	if (rc != 0) {
		if (!fuzz__typed(rc))
			abort();
		return;
	}
	if (tj_member_body_encode(&b, out, sizeof(out), &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
}

static void fuzz__approval_body(const uint8_t *data, size_t size)
{
	uint8_t proposal[32], out[64];
	size_t len = 0;
	int rc = tj_approval_body_decode(data, size, proposal);

	if (rc != 0) {
		if (!fuzz__typed(rc))
			abort();
		return;
	}
	if (tj_approval_body_encode(proposal, out, sizeof(out), &len) != 0 || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tj_identity *me;
	uint8_t seed[32];

	if (sodium_init() < 0)
		abort();
	if (me == NULL) {
		memset(seed, FUZZ_SEED_BYTE, sizeof(seed));
		if (tj_identity_from_seed(seed, &me) != 0)
			abort();
	}
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz__bundle(me, data + 1, size - 1, true);
		break;
	case 1:
		fuzz__bundle(me, data + 1, size - 1, false);
		break;
	case 2:
		fuzz__member_body(data + 1, size - 1);
		break;
	default:
		fuzz__approval_body(data + 1, size - 1);
		break;
	}
	return 0;
}
