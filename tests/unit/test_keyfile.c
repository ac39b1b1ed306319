/*
 * The key file: round trips, people, typed errors for every corruption, and
 * files built by hand from the documented format (crypto/tj_keyfile.c header),
 * including ones that ask for absurd Argon2id parameters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_keyfile.h"
#include "tj_mp.h"

#define PASS_A "correct horse battery staple"
#define PASS_B "otra frase de paso, más larga"
#define FILE_MAX 8192

struct fixture {
	char dir[64];
	char path[128];
	struct tj_identity *id;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tj_crypto_init() != 0)
		return -1;
	strcpy(f->dir, "/tmp/tj-keyfile-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/key", f->dir);
	if (tj_identity_generate(&f->id) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char p[512];

	/* Bounded by the directory's few entries. */
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(f->dir);
	tj_identity_free(f->id);
	free(f);
	return 0;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int unlock(const char *path, const char *pass, struct tj_unlocked **u)
{
	return tj_keyfile_unlock(path, pass, strlen(pass), u);
}

static void create_min(struct fixture *f)
{
	assert_int_equal(tj_keyfile_create(f->path, f->id, "ana", PASS_A, strlen(PASS_A), TJ_KDF_MIN), 0);
}

static void test_create_unlock_round_trip(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL;
	struct stat st;

	create_min(f);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_memory_equal(u->id->pk, f->id->pk, 32);
	assert_memory_equal(u->id->sk, f->id->sk, 64);
	assert_memory_equal(u->id->x_pk, f->id->x_pk, 32);
	assert_non_null(u->storage_key);
	assert_non_null(u->file_key);
	tj_unlocked_free(u);
	tj_unlocked_free(NULL);
	/* Creating over an existing file is refused, before any Argon2id work. */
	assert_int_equal(tj_keyfile_create(f->path, f->id, "ana", PASS_A, strlen(PASS_A), TJ_KDF_MIN),
	                 -EEXIST);
}

static void test_storage_key_is_stable(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u1 = NULL, *u2 = NULL;

	create_min(f);
	assert_int_equal(unlock(f->path, PASS_A, &u1), 0);
	assert_int_equal(unlock(f->path, PASS_A, &u2), 0);
	assert_memory_equal(u1->storage_key, u2->storage_key, 32);
	tj_unlocked_free(u1);
	tj_unlocked_free(u2);
}

static void test_wrong_passphrase(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL;
	const char nul_pass[] = "correct\0horse";

	create_min(f);
	assert_int_equal(unlock(f->path, "Correct horse battery staple", &u), TJ_EPASSPHRASE);
	assert_null(u);
	assert_int_equal(tj_keyfile_unlock(f->path, PASS_A, strlen(PASS_A) - 1, &u), TJ_EPASSPHRASE);
	assert_int_equal(tj_keyfile_unlock(f->path, "", 0, &u), TJ_EPASSPHRASE);
	assert_null(u);
	/* The passphrase is bytes with a length, not a C string. */
	assert_int_equal(tj_keyfile_create(f->path, f->id, "x", nul_pass, sizeof(nul_pass) - 1, TJ_KDF_MIN),
	                 -EEXIST);
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(tj_keyfile_create(f->path, f->id, "x", nul_pass, sizeof(nul_pass) - 1, TJ_KDF_MIN),
	                 0);
	assert_int_equal(tj_keyfile_unlock(f->path, "correct", 7, &u), TJ_EPASSPHRASE);
	assert_int_equal(tj_keyfile_unlock(f->path, nul_pass, sizeof(nul_pass) - 1, &u), 0);
	tj_unlocked_free(u);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	char long_name[TJ_PERSON_NAME_MAX + 1];

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(tj_keyfile_create(f->path, f->id, "", PASS_A, strlen(PASS_A), TJ_KDF_MIN), -EINVAL);
	assert_int_equal(tj_keyfile_create(f->path, f->id, long_name, PASS_A, strlen(PASS_A), TJ_KDF_MIN),
	                 -EINVAL);
	assert_int_equal(tj_keyfile_create(f->path, f->id, "ana", PASS_A, 0, TJ_KDF_MIN), -EINVAL);
	assert_int_equal(
	    tj_keyfile_create(f->path, f->id, "ana", PASS_A, strlen(PASS_A), (enum tj_kdf_level)9), -EINVAL);
	assert_int_equal(access(f->path, F_OK), -1);
	/* A name of exactly TJ_PERSON_NAME_MAX - 1 bytes fits. */
	long_name[TJ_PERSON_NAME_MAX - 1] = '\0';
	assert_int_equal(tj_keyfile_create(f->path, f->id, long_name, PASS_A, strlen(PASS_A), TJ_KDF_MIN), 0);
}

static void expect_people(const char *path, const char *const *want, size_t n)
{
	char names[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX];
	size_t count = 0;

	assert_int_equal(tj_keyfile_people(path, names, &count), 0);
	assert_int_equal(count, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(names[i], want[i]);
}

static bool temp_files_left(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		found = found || strstr(e->d_name, ".tmp-") != NULL;
	closedir(d);
	return found;
}

static void test_add_and_remove_people(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL, *v = NULL;
	const char *both[] = {"ana", "beto"};
	const char *beto[] = {"beto"};
	struct stat st;

	create_min(f);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_int_equal(tj_keyfile_add_person(f->path, u, "beto", PASS_B, strlen(PASS_B), TJ_KDF_MIN), 0);
	assert_int_equal(tj_keyfile_add_person(f->path, u, "beto", "x", 1, TJ_KDF_MIN), TJ_EEXIST);
	expect_people(f->path, both, 2);
	assert_false(temp_files_left(f->dir));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(unlock(f->path, PASS_B, &v), 0);
	assert_memory_equal(v->id->sk, u->id->sk, 64);
	assert_memory_equal(v->storage_key, u->storage_key, 32);
	tj_unlocked_free(v);
	v = NULL;

	assert_int_equal(tj_keyfile_remove_person(f->path, "carla"), TJ_ENOTFOUND);
	assert_int_equal(tj_keyfile_remove_person(f->path, "ana"), 0);
	expect_people(f->path, beto, 1);
	assert_int_equal(unlock(f->path, PASS_A, &v), TJ_EPASSPHRASE);
	assert_int_equal(unlock(f->path, PASS_B, &v), 0);
	tj_unlocked_free(v);
	assert_int_equal(tj_keyfile_remove_person(f->path, "beto"), TJ_ESTATE);
	expect_people(f->path, beto, 1);
	tj_unlocked_free(u);
}

static void test_add_person_needs_this_files_secrets(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL, *other = NULL;
	struct tj_unlocked bare = {0};
	char other_path[160];
	struct tj_identity *id2 = NULL;

	create_min(f);
	snprintf(other_path, sizeof(other_path), "%s/other", f->dir);
	assert_int_equal(tj_identity_generate(&id2), 0);
	assert_int_equal(tj_keyfile_create(other_path, id2, "eve", PASS_B, strlen(PASS_B), TJ_KDF_MIN), 0);
	assert_int_equal(unlock(other_path, PASS_B, &other), 0);
	assert_int_equal(tj_keyfile_add_person(f->path, other, "eve", PASS_B, strlen(PASS_B), TJ_KDF_MIN),
	                 TJ_ESTATE);
	bare.id = f->id;
	assert_int_equal(tj_keyfile_add_person(f->path, &bare, "eve", PASS_B, strlen(PASS_B), TJ_KDF_MIN),
	                 TJ_ESTATE);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_int_equal(tj_keyfile_add_person(f->path, u, "eve", "", 0, TJ_KDF_MIN), -EINVAL);
	tj_unlocked_free(u);
	tj_unlocked_free(other);
	tj_identity_free(id2);
}

static void test_slot_limit(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL, *v = NULL;
	char name[16], pass[16];

	create_min(f);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	for (int i = 1; i < TJ_KEYFILE_SLOTS_MAX; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(pass, sizeof(pass), "pass-%d", i);
		assert_int_equal(tj_keyfile_add_person(f->path, u, name, pass, strlen(pass), TJ_KDF_MIN), 0);
	}
	assert_int_equal(tj_keyfile_add_person(f->path, u, "one-too-many", "x", 1, TJ_KDF_MIN), TJ_ELIMIT);
	/* The last slot opens, after all the others were tried. */
	assert_int_equal(unlock(f->path, "pass-15", &v), 0);
	assert_memory_equal(v->id->pk, f->id->pk, 32);
	tj_unlocked_free(v);
	tj_unlocked_free(u);
}

/* Every single-bit flip and every truncation is a typed error, never a crash or success. */
static void test_corruption_every_bit_and_length(void **state)
{
	struct fixture *f = *state;
	uint8_t orig[FILE_MAX], buf[FILE_MAX];
	char names[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX];
	struct tj_unlocked *u = NULL;
	size_t len, count = 0;
	char bad[160];

	create_min(f);
	snprintf(bad, sizeof(bad), "%s/bad", f->dir);
	len = read_file(f->path, orig, sizeof(orig));
	assert_true(len > 100 && len < 400);
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(buf, orig, len);
			buf[i] ^= (uint8_t)(1u << bit);
			write_file(bad, buf, len);
			int rc = unlock(bad, PASS_A, &u);
			if (rc != TJ_EKEYFILE && rc != TJ_EPASSPHRASE)
				fail_msg("byte %zu bit %u: %s", i, bit, tj_errname(rc));
			assert_null(u);
		}
	}
	for (size_t n = 0; n < len; n++) {
		write_file(bad, orig, n);
		assert_int_equal(unlock(bad, PASS_A, &u), TJ_EKEYFILE);
		assert_int_equal(tj_keyfile_people(bad, names, &count), TJ_EKEYFILE);
	}
	/* Trailing garbage. */
	memcpy(buf, orig, len);
	buf[len] = 0xc0;
	write_file(bad, buf, len + 1);
	assert_int_equal(unlock(bad, PASS_A, &u), TJ_EKEYFILE);
	assert_int_equal(tj_keyfile_unlock("/nonexistent/key", PASS_A, strlen(PASS_A), &u), -ENOENT);
	/* A directory is not a key file. */
	assert_int_equal(unlock(f->dir, PASS_A, &u), TJ_EKEYFILE);
}

static void test_oversized_file_rejected(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[1u << 20];
	struct tj_unlocked *u = NULL;

	memset(big, 0x91, sizeof(big)); /* a deep nest of one-element arrays */
	write_file(f->path, big, sizeof(big));
	assert_int_equal(unlock(f->path, PASS_A, &u), TJ_EKEYFILE);
}

/* --- files built by hand from the documented format ------------------- */

struct hand_slot {
	const char *name;
	uint64_t ops, mem, alg;
	bool real; /* compute a real wrap (parameters must be sane) */
};

static void put_header(struct tj_mp_writer *w, const char *magic, uint64_t version)
{
	tj_mp_put_array(w, 5);
	tj_mp_put_cstr(w, magic);
	tj_mp_put_uint(w, version);
}

static size_t build_file(uint8_t *out, size_t cap, const char *magic, uint64_t version,
                         const struct hand_slot *hs, size_t n, const uint8_t sk[64],
                         const uint8_t storage[32])
{
	uint8_t fkey[32], kek[32], ad[256], plain[96], ct[112], nonce[24];
	struct tj_mp_writer w, a;
	size_t len = 0, ad_len = 0;

	randombytes_buf(fkey, sizeof(fkey));
	tj_mp_writer_init(&w, out, cap);
	put_header(&w, magic, version);
	tj_mp_put_array(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		uint8_t salt[16], snonce[24], wrapped[48];

		randombytes_buf(salt, sizeof(salt));
		randombytes_buf(snonce, sizeof(snonce));
		randombytes_buf(wrapped, sizeof(wrapped));
		tj_mp_writer_init(&a, ad, sizeof(ad));
		put_header(&a, magic, version);
		tj_mp_put_cstr(&a, hs[i].name);
		tj_mp_put_bin(&a, salt, sizeof(salt));
		tj_mp_put_uint(&a, hs[i].ops);
		tj_mp_put_uint(&a, hs[i].mem);
		tj_mp_put_uint(&a, hs[i].alg);
		assert_int_equal(tj_mp_writer_finish(&a, &ad_len), 0);
		if (hs[i].real) {
			assert_int_equal(crypto_pwhash(kek, 32, PASS_A, strlen(PASS_A), salt, hs[i].ops,
			                               (size_t)hs[i].mem, (int)hs[i].alg),
			                 0);
			crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped, NULL, fkey, 32, ad, ad_len, NULL,
			                                           snonce, kek);
		}
		tj_mp_put_array(&w, 7);
		tj_mp_put_cstr(&w, hs[i].name);
		tj_mp_put_bin(&w, salt, sizeof(salt));
		tj_mp_put_uint(&w, hs[i].ops);
		tj_mp_put_uint(&w, hs[i].mem);
		tj_mp_put_uint(&w, hs[i].alg);
		tj_mp_put_bin(&w, snonce, sizeof(snonce));
		tj_mp_put_bin(&w, wrapped, sizeof(wrapped));
	}
	memcpy(plain, sk, 64);
	memcpy(plain + 64, storage, 32);
	randombytes_buf(nonce, sizeof(nonce));
	tj_mp_writer_init(&a, ad, sizeof(ad));
	put_header(&a, magic, version);
	assert_int_equal(tj_mp_writer_finish(&a, &ad_len), 0);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain, sizeof(plain), ad, ad_len, NULL, nonce,
	                                           fkey);
	tj_mp_put_bin(&w, nonce, sizeof(nonce));
	tj_mp_put_bin(&w, ct, sizeof(ct));
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	sodium_memzero(fkey, sizeof(fkey));
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(plain, sizeof(plain));
	return len;
}

#define SANE_SLOT(name)                                                                                      \
	{                                                                                                    \
		name, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13,  \
		    true                                                                                     \
	}

static void test_hand_built_file_unlocks(void **state)
{
	struct fixture *f = *state;
	const struct hand_slot hs[] = {SANE_SLOT("ana")};
	uint8_t buf[FILE_MAX], storage[32];
	struct tj_unlocked *u = NULL;
	size_t len;

	randombytes_buf(storage, sizeof(storage));
	len = build_file(buf, sizeof(buf), "tejido-keyfile", 1, hs, 1, f->id->sk, storage);
	write_file(f->path, buf, len);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_memory_equal(u->id->pk, f->id->pk, 32);
	assert_memory_equal(u->storage_key, storage, 32);
	tj_unlocked_free(u);
}

static void expect_rejected(struct fixture *f, const char *magic, uint64_t version,
                            const struct hand_slot *hs, size_t n)
{
	uint8_t buf[FILE_MAX], storage[32] = {0};
	struct tj_unlocked *u = NULL;
	struct timespec t0, t1;
	size_t len = build_file(buf, sizeof(buf), magic, version, hs, n, f->id->sk, storage);

	write_file(f->path, buf, len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(unlock(f->path, PASS_A, &u), TJ_EKEYFILE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(u);
	/* Rejected while parsing, before any Argon2id work: well under a second. */
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	assert_int_equal(unlink(f->path), 0);
}

static void test_absurd_kdf_parameters_rejected(void **state)
{
	struct fixture *f = *state;
	const uint64_t id13 = crypto_pwhash_ALG_ARGON2ID13;
	/* Each file has one sane slot first, so rejection cannot come from "no slot opened". */
	const struct hand_slot terabyte[] = {SANE_SLOT("ana"), {"tb", 1, 1ull << 40, id13, false}};
	const struct hand_slot over_mem[] = {SANE_SLOT("ana"),
	                                     {"m", 1, crypto_pwhash_MEMLIMIT_SENSITIVE + 1, id13, false}};
	const struct hand_slot over_ops[] = {SANE_SLOT("ana"),
	                                     {"o", crypto_pwhash_OPSLIMIT_SENSITIVE + 1, 8192, id13, false}};
	const struct hand_slot huge_ops[] = {SANE_SLOT("ana"), {"o", UINT64_MAX, 8192, id13, false}};
	const struct hand_slot zero_ops[] = {SANE_SLOT("ana"), {"z", 0, 8192, id13, false}};
	const struct hand_slot tiny_mem[] = {SANE_SLOT("ana"), {"t", 1, 1024, id13, false}};
	const struct hand_slot argon2i[] = {SANE_SLOT("ana"),
	                                    {"i", 3, 8192, crypto_pwhash_ALG_ARGON2I13, false}};
	const struct hand_slot dup[] = {SANE_SLOT("ana"), SANE_SLOT("ana")};
	const struct hand_slot one[] = {SANE_SLOT("ana")};

	expect_rejected(f, "tejido-keyfile", 1, terabyte, 2);
	expect_rejected(f, "tejido-keyfile", 1, over_mem, 2);
	expect_rejected(f, "tejido-keyfile", 1, over_ops, 2);
	expect_rejected(f, "tejido-keyfile", 1, huge_ops, 2);
	expect_rejected(f, "tejido-keyfile", 1, zero_ops, 2);
	expect_rejected(f, "tejido-keyfile", 1, tiny_mem, 2);
	expect_rejected(f, "tejido-keyfile", 1, argon2i, 2);
	expect_rejected(f, "tejido-keyfile", 1, dup, 2);
	expect_rejected(f, "tejido-keyfile", 1, one, 0);
	expect_rejected(f, "tejido-keyfile", 2, one, 1);
	expect_rejected(f, "tejido-keyfilf", 1, one, 1);
}

static void test_inspect_and_unlock_bytes(void **state)
{
	struct fixture *f = *state;
	struct tj_keyfile_info info;
	struct tj_unlocked *u = NULL;
	uint8_t buf[FILE_MAX];
	size_t len;

	create_min(f);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_int_equal(
	    tj_keyfile_add_person(f->path, u, "beto", PASS_B, strlen(PASS_B), TJ_KDF_INTERACTIVE), 0);
	tj_unlocked_free(u);
	u = NULL;
	len = read_file(f->path, buf, sizeof(buf));
	assert_int_equal(tj_keyfile_inspect(buf, len, &info), 0);
	assert_int_equal(info.n_people, 2);
	assert_string_equal(info.people[0], "ana");
	assert_string_equal(info.people[1], "beto");
	assert_int_equal(info.max_opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_int_equal(info.max_memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_int_equal(tj_keyfile_unlock_bytes(buf, len, PASS_A, strlen(PASS_A), &u), 0);
	assert_memory_equal(u->id->pk, f->id->pk, 32);
	tj_unlocked_free(u);
	u = NULL;
	assert_int_equal(tj_keyfile_inspect(buf, len - 1, &info), TJ_EKEYFILE);
	assert_int_equal(tj_keyfile_unlock_bytes(buf, len - 1, PASS_A, strlen(PASS_A), &u), TJ_EKEYFILE);
	assert_null(u);
}

static void test_destroy_overwrites_then_unlinks(void **state)
{
	struct fixture *f = *state;
	uint8_t before[FILE_MAX], after[FILE_MAX];
	char link_path[160];
	size_t n1, n2;
	struct tj_unlocked *u = NULL;

	create_min(f);
	/* A second name for the same inode lets us see what destroy wrote. */
	snprintf(link_path, sizeof(link_path), "%s/witness", f->dir);
	assert_int_equal(link(f->path, link_path), 0);
	n1 = read_file(f->path, before, sizeof(before));
	assert_int_equal(tj_keyfile_destroy(f->path), 0);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	n2 = read_file(link_path, after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_not_equal(before, after, n1);
	assert_int_equal(unlock(link_path, PASS_A, &u), TJ_EKEYFILE);
	assert_int_equal(tj_keyfile_destroy(f->path), -ENOENT);
	/* Not a regular file: left alone, and a FIFO does not block us. */
	assert_int_equal(tj_keyfile_destroy(f->dir), -EISDIR);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(tj_keyfile_destroy(f->path), -ENXIO);
	assert_int_equal(unlock(f->path, PASS_A, &u), TJ_EKEYFILE);
	assert_int_equal(access(f->path, F_OK), 0);
}

static void test_rewrite_wipes_the_replaced_file(void **state)
{
	struct fixture *f = *state;
	uint8_t before[FILE_MAX], after[FILE_MAX];
	char witness[160];
	struct tj_unlocked *u = NULL;
	size_t n1, n2;

	create_min(f);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	assert_int_equal(tj_keyfile_add_person(f->path, u, "beto", PASS_B, strlen(PASS_B), TJ_KDF_MIN), 0);
	tj_unlocked_free(u);
	u = NULL;
	/* The witness keeps the inode holding beto's slot after it is replaced. */
	snprintf(witness, sizeof(witness), "%s/witness", f->dir);
	assert_int_equal(link(f->path, witness), 0);
	n1 = read_file(witness, before, sizeof(before));
	assert_int_equal(tj_keyfile_remove_person(f->path, "beto"), 0);
	n2 = read_file(witness, after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_not_equal(before, after, n1);
	assert_int_equal(unlock(witness, PASS_B, &u), TJ_EKEYFILE);
	assert_int_equal(unlock(f->path, PASS_B, &u), TJ_EPASSPHRASE);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	tj_unlocked_free(u);
}

static void test_destroy_removes_stray_temp_files(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[FILE_MAX];
	char stray[160], short_name[160], other[160];
	size_t n;

	create_min(f);
	n = read_file(f->path, buf, sizeof(buf));
	/* What a crash between the temp write and the rename leaves behind. */
	snprintf(stray, sizeof(stray), "%s.tmp-Ab12Cd", f->path);
	snprintf(short_name, sizeof(short_name), "%s.tmp-x", f->path);
	snprintf(other, sizeof(other), "%s/other.tmp-Ab12Cd", f->dir);
	write_file(stray, buf, n);
	write_file(short_name, buf, n);
	write_file(other, buf, n);
	assert_int_equal(tj_keyfile_destroy(f->path), 0);
	assert_int_equal(access(f->path, F_OK), -1);
	assert_int_equal(access(stray, F_OK), -1);
	/* Names that are not our temp files are left alone. */
	assert_int_equal(access(short_name, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
}

/* Measured once for the report; not asserted (the machine is shared). */
static void test_measure_moderate_unlock(void **state)
{
	struct fixture *f = *state;
	struct tj_unlocked *u = NULL;
	struct timespec t0, t1;

	/* A timing under valgrind means nothing and costs minutes. */
	if (getenv("TJ_UNDER_VALGRIND") != NULL)
		skip();
	assert_int_equal(tj_keyfile_create(f->path, f->id, "ana", PASS_A, strlen(PASS_A), TJ_KDF_MODERATE),
	                 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(unlock(f->path, PASS_A, &u), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("MODERATE unlock (opslimit %llu, memlimit %zu MiB): %.0f ms\n",
	              (unsigned long long)crypto_pwhash_OPSLIMIT_MODERATE,
	              (size_t)(crypto_pwhash_MEMLIMIT_MODERATE >> 20),
	              (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_memory_equal(u->id->pk, f->id->pk, 32);
	tj_unlocked_free(u);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_create_unlock_round_trip),
	    T(test_storage_key_is_stable),
	    T(test_wrong_passphrase),
	    T(test_bad_arguments),
	    T(test_add_and_remove_people),
	    T(test_add_person_needs_this_files_secrets),
	    T(test_slot_limit),
	    T(test_corruption_every_bit_and_length),
	    T(test_oversized_file_rejected),
	    T(test_hand_built_file_unlocks),
	    T(test_absurd_kdf_parameters_rejected),
	    T(test_inspect_and_unlock_bytes),
	    T(test_destroy_overwrites_then_unlinks),
	    T(test_rewrite_wipes_the_replaced_file),
	    T(test_destroy_removes_stray_temp_files),
	    T(test_measure_moderate_unlock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
