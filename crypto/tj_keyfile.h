/*
 * The key file: the node's secrets sealed with passphrases.
 *
 * A random 32-byte file key encrypts (XChaCha20-Poly1305) the payload: the
 * Ed25519 secret key and the local storage key. Each person who may unlock the
 * node has a slot: the file key wrapped under Argon2id(passphrase, salt), with
 * the Argon2id parameters stored in the slot. A wrong passphrase costs the full
 * Argon2id work before TJ_EPASSPHRASE.
 *
 * The local storage key (32 bytes) encrypts the node's keyring at rest and keys
 * the blinded query indexes: destroying the key file makes the disk unreadable.
 *
 * WARNING: writes are atomic (temp file, fsync, rename, fsync dir) with mode 0600.
 */
#ifndef TJ_KEYFILE_H
#define TJ_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"
#include "tj_keys.h"

#define TJ_KEYFILE_SLOTS_MAX 16
#define TJ_PERSON_NAME_MAX 64

enum tj_kdf_level {
	TJ_KDF_MIN = 0,         /* tests only: crypto_pwhash *_MIN */
	TJ_KDF_INTERACTIVE = 1, /* libsodium's INTERACTIVE (64 MiB, 2 passes): tests and demos */
	TJ_KDF_MODERATE = 2,    /* the default: TJ_KDF_MODERATE_* below */
	TJ_KDF_SENSITIVE = 3,   /* libsodium's SENSITIVE (1 GiB, 4 passes) */
};

/*
 * The default Argon2id cost: libsodium's MODERATE memory (256 MiB) with 4
 * passes instead of its 3, so that one guess costs at least 0.5 s with
 * margin on a 2020s laptop core (libsodium's MODERATE measured 0.47 s on
 * the test machine). Each slot stores its own parameters: files written
 * with 3 passes still open. docs/SECURITY.md (G4) has the measurements.
 */
#define TJ_KDF_MODERATE_OPSLIMIT 4u
#define TJ_KDF_MODERATE_MEMLIMIT (256u * 1024u * 1024u)

/*
 * What an unlocked key file gives. Secrets in sodium_malloc; all owned by the
 * struct and wiped by tj_unlocked_free(). file_key is what lets
 * tj_keyfile_add_person() add a slot without re-entering another person's
 * passphrase; it is NULL when the struct was not made by tj_keyfile_unlock()
 * (a zero-initialized struct tj_unlocked is valid and owns nothing).
 */
struct tj_unlocked {
	struct tj_identity *id;
	uint8_t *storage_key; /* 32 bytes, sodium_malloc */
	uint8_t *file_key;    /* 32 bytes, sodium_malloc, or NULL */
};

/* Creates a new key file at path for id, with one slot named person. Fails with -EEXIST if it exists. */
TJ_MUST_CHECK int tj_keyfile_create(const char *path, const struct tj_identity *id, const char *person,
                                    const char *pass, size_t pass_len, enum tj_kdf_level kdf);

/* Unlocks with any slot's passphrase. *out is freed with tj_unlocked_free. */
TJ_MUST_CHECK int tj_keyfile_unlock(const char *path, const char *pass, size_t pass_len,
                                    struct tj_unlocked **out);

/*
 * Adds a slot (another staff member) using an unlocked file's secrets.
 * u must come from tj_keyfile_unlock() of this same file (TJ_ESTATE otherwise);
 * TJ_EEXIST if person already has a slot, TJ_ELIMIT when all slots are used.
 * Not safe against a concurrent writer of the same file: the CLI serializes.
 */
TJ_MUST_CHECK int tj_keyfile_add_person(const char *path, const struct tj_unlocked *u, const char *person,
                                        const char *pass, size_t pass_len, enum tj_kdf_level kdf);
/*
 * Removes a person's slot; refuses to remove the last one (TJ_ESTATE);
 * TJ_ENOTFOUND if there is no such person.
 * The replaced file's bytes are overwritten once the new file is durable.
 * WARNING: the file key is unchanged, so an old copy of the file still opens
 * with the removed person's passphrase. Removing a person who may have kept a
 * copy calls for a new identity, not just a removed slot.
 */
TJ_MUST_CHECK int tj_keyfile_remove_person(const char *path, const char *person);
/* Names of the slots, each NUL-terminated, into names[0 .. *count). Needs no passphrase. */
TJ_MUST_CHECK int tj_keyfile_people(const char *path, char names[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX],
                                    size_t *count);

/*
 * What a key file says before it is unlocked: who may unlock it and the
 * largest Argon2id cost any slot asks for (already bounded by SENSITIVE).
 */
struct tj_keyfile_info {
	size_t n_people;
	char people[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX];
	uint64_t max_opslimit;
	uint64_t max_memlimit; /* bytes */
};

/* Parses key-file bytes (untrusted) without unlocking; TJ_EKEYFILE if malformed. */
TJ_MUST_CHECK int tj_keyfile_inspect(const uint8_t *buf, size_t len, struct tj_keyfile_info *info);

/* tj_keyfile_unlock() on bytes already read (for tools and fuzzing); buf is borrowed. */
TJ_MUST_CHECK int tj_keyfile_unlock_bytes(const uint8_t *buf, size_t len, const char *pass, size_t pass_len,
                                          struct tj_unlocked **out);

/*
 * Overwrites the key file in place (zeros, fsync, random bytes, fsync) then
 * unlinks it, does the same to stray "<path>.tmp-XXXXXX" copies a crash may
 * have left, and syncs the directory. Keeps going after an error so that the
 * file is gone whenever possible; returns the first error.
 * WARNING: on flash storage and journaling or copy-on-write file systems an
 * overwrite may not reach the old blocks; the passphrase slots remain the
 * real protection of any copy that survives.
 */
TJ_MUST_CHECK int tj_keyfile_destroy(const char *path);

/* Wipes and frees u and everything it owns. Accepts NULL. */
void tj_unlocked_free(struct tj_unlocked *u);

#endif
