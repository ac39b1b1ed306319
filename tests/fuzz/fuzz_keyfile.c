/*
 * Fuzzes the key-file parser (tj_keyfile_inspect) and, when the file asks for
 * a cheap Argon2id, the whole unlock path (tj_keyfile_unlock_bytes) with the
 * passphrase "fuzz", which opens the valid seeds of corpus/keyfile/.
 * Invariants: both functions agree on what is malformed; unlock returns only
 * typed errors; an unlocked file yields a consistent identity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_keyfile.h"

#define FUZZ_PASS "fuzz"
/* Argon2id costs the fuzzer may pay per input (the MIN level is 8 KiB, 1 pass). */
#define FUZZ_MEMLIMIT_MAX_BYTES (64u * 1024u)
#define FUZZ_OPSLIMIT_MAX 2u
#define FUZZ_PEOPLE_MAX 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_keyfile_info info;
	struct tj_unlocked *u = NULL;
	uint8_t x_pk[32];
	int rc;

	if (sodium_init() < 0)
		abort();
	rc = tj_keyfile_inspect(data, size, &info);
	if (rc != 0) {
		if (rc != TJ_EKEYFILE)
			abort();
		/* Malformed files are refused before any Argon2id work. */
		if (tj_keyfile_unlock_bytes(data, size, FUZZ_PASS, strlen(FUZZ_PASS), &u) != TJ_EKEYFILE ||
		    u != NULL)
			abort();
		return 0;
	}
	if (info.n_people == 0 || info.n_people > TJ_KEYFILE_SLOTS_MAX ||
	    info.max_memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE ||
	    info.max_opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE)
		abort();
	for (size_t i = 0; i < info.n_people; i++)
		if (strlen(info.people[i]) == 0 || strlen(info.people[i]) >= TJ_PERSON_NAME_MAX)
			abort();
	if (info.max_memlimit > FUZZ_MEMLIMIT_MAX_BYTES || info.max_opslimit > FUZZ_OPSLIMIT_MAX ||
	    info.n_people > FUZZ_PEOPLE_MAX)
		return 0;
	rc = tj_keyfile_unlock_bytes(data, size, FUZZ_PASS, strlen(FUZZ_PASS), &u);
	if (rc == 0) {
		if (u == NULL || u->id == NULL || u->storage_key == NULL || u->file_key == NULL)
			abort();
		if (crypto_scalarmult_base(x_pk, u->id->x_sk) != 0 || memcmp(x_pk, u->id->x_pk, 32) != 0)
			abort();
		tj_unlocked_free(u);
	} else if ((rc != TJ_EPASSPHRASE && rc != TJ_EKEYFILE) || u != NULL) {
		abort();
	}
	return 0;
}
