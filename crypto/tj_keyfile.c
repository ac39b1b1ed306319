/*
 * The key file. Format (version 1), one canonical msgpack array:
 *
 *   [ "tejido-keyfile", 1, slots[], nonce(bin 24), ciphertext(bin 112) ]
 *   slot = [ person(str 1..63), salt(bin 16), opslimit(uint), memlimit(uint),
 *            alg(uint), nonce(bin 24), wrapped(bin 48) ]
 *
 * ciphertext = XChaCha20-Poly1305(file key; Ed25519 sk 64 || storage key 32),
 *              AD = the format header (array header, magic, version).
 * wrapped    = XChaCha20-Poly1305(Argon2id(passphrase, salt, opslimit, memlimit); file key),
 *              AD = format header || person || salt || opslimit || memlimit || alg,
 *              so a slot cannot be renamed or have its parameters swapped.
 *
 * The file is untrusted input: it goes through tj_mp_check() first, and every
 * slot's Argon2id parameters are bounded before any of them is used.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_keyfile.h"
#include "tj_mp.h"

#define TJ__KF_MAGIC "tejido-keyfile"
#define TJ__KF_VERSION 1u
#define TJ__KF_FIELDS 5u
#define TJ__KF_SLOT_FIELDS 7u
#define TJ__KF_MAX_BYTES 4096u   /* 16 full slots take about 3 KiB */
#define TJ__KF_AD_MAX_BYTES 160u /* header + one slot's parameters */
#define TJ__SALT_BYTES crypto_pwhash_SALTBYTES
#define TJ__KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define TJ__TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define TJ__NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TJ__SK_BYTES crypto_sign_SECRETKEYBYTES
#define TJ__PAYLOAD_BYTES (TJ__SK_BYTES + TJ__KEY_BYTES)
#define TJ__WRAPPED_BYTES (TJ__KEY_BYTES + TJ__TAG_BYTES)
#define TJ__PASS_MAX_BYTES 1024u
#define TJ__WIPE_CHUNK_BYTES 4096u
#define TJ__DIR_SCAN_MAX 100000u /* entries examined for stray temp files */
#define TJ__TMP_SUFFIX_CHARS 11u /* ".tmp-XXXXXX" */

_Static_assert(TJ__SALT_BYTES == 16, "salt is 16 bytes");
_Static_assert(TJ__NONCE_BYTES == 24, "nonce is 24 bytes");

struct tj__kf_slot {
	char name[TJ_PERSON_NAME_MAX]; /* NUL-terminated */
	uint32_t name_len;
	uint8_t salt[TJ__SALT_BYTES];
	uint64_t opslimit;
	uint64_t memlimit;
	uint64_t alg;
	uint8_t nonce[TJ__NONCE_BYTES];
	uint8_t wrapped[TJ__WRAPPED_BYTES];
};

/* A parsed key file: public material only, nothing to wipe. */
struct tj__kf {
	uint32_t n;
	struct tj__kf_slot slot[TJ_KEYFILE_SLOTS_MAX];
	uint8_t nonce[TJ__NONCE_BYTES];
	uint8_t ct[TJ__PAYLOAD_BYTES + TJ__TAG_BYTES];
};

static const struct tj_mp_limits tj__kf_limits = {
    .max_depth = 3,
    /* array, magic, version, slots array, nonce, ciphertext; each slot an array of 7 */
    .max_items = 6 + TJ_KEYFILE_SLOTS_MAX * (1 + TJ__KF_SLOT_FIELDS),
    .max_str = 128,
    .canonical = true,
};

/* --- parameters ------------------------------------------------------- */

/*
 * The parameters are stored in each slot, so a file written with other
 * values (libsodium's MODERATE, 3 passes, before this default) still opens
 * with what it says; only new slots get these.
 */
_Static_assert(TJ_KDF_MODERATE_OPSLIMIT > crypto_pwhash_OPSLIMIT_MODERATE &&
                   TJ_KDF_MODERATE_OPSLIMIT <= crypto_pwhash_OPSLIMIT_SENSITIVE,
               "the default costs more than libsodium's MODERATE and passes tj__kdf_sane");
_Static_assert(TJ_KDF_MODERATE_MEMLIMIT == crypto_pwhash_MEMLIMIT_MODERATE, "the default takes 256 MiB");

static int tj__kdf_params(enum tj_kdf_level level, uint64_t *ops, uint64_t *mem)
{
	switch (level) {
	case TJ_KDF_MIN:
		*ops = crypto_pwhash_OPSLIMIT_MIN;
		*mem = crypto_pwhash_MEMLIMIT_MIN;
		return 0;
	case TJ_KDF_INTERACTIVE:
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		return 0;
	case TJ_KDF_MODERATE:
		*ops = TJ_KDF_MODERATE_OPSLIMIT;
		*mem = TJ_KDF_MODERATE_MEMLIMIT;
		return 0;
	case TJ_KDF_SENSITIVE:
		*ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
		*mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
		return 0;
	}
	return -EINVAL;
}

/* A file must not make us spend more than SENSITIVE (1 GiB, 4 passes). */
static bool tj__kdf_sane(const struct tj__kf_slot *s)
{
	return s->alg == crypto_pwhash_ALG_ARGON2ID13 && s->opslimit >= crypto_pwhash_OPSLIMIT_MIN &&
	       s->opslimit <= crypto_pwhash_OPSLIMIT_SENSITIVE && s->memlimit >= crypto_pwhash_MEMLIMIT_MIN &&
	       s->memlimit <= crypto_pwhash_MEMLIMIT_SENSITIVE;
}

static int tj__check_name(const char *person, size_t *len)
{
	size_t n;

	if (person == NULL)
		return -EINVAL;
	n = strnlen(person, TJ_PERSON_NAME_MAX);
	if (n == 0 || n >= TJ_PERSON_NAME_MAX)
		return -EINVAL;
	*len = n;
	return 0;
}

static int tj__check_pass(const char *pass, size_t pass_len)
{
	if (pass == NULL || pass_len == 0 || pass_len > TJ__PASS_MAX_BYTES)
		return -EINVAL;
	return 0;
}

/* --- associated data -------------------------------------------------- */

static void tj__put_header(struct tj_mp_writer *w)
{
	tj_mp_put_array(w, TJ__KF_FIELDS);
	tj_mp_put_cstr(w, TJ__KF_MAGIC);
	tj_mp_put_uint(w, TJ__KF_VERSION);
}

static int tj__header_ad(uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj__put_header(&w);
	return tj_mp_writer_finish(&w, len);
}

static int tj__slot_ad(const struct tj__kf_slot *s, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj__put_header(&w);
	tj_mp_put_str(&w, s->name, s->name_len);
	tj_mp_put_bin(&w, s->salt, sizeof(s->salt));
	tj_mp_put_uint(&w, s->opslimit);
	tj_mp_put_uint(&w, s->memlimit);
	tj_mp_put_uint(&w, s->alg);
	return tj_mp_writer_finish(&w, len);
}

/* --- parsing and encoding --------------------------------------------- */

static int tj__parse_slot(struct tj_mp_reader *r, struct tj__kf_slot *s)
{
	const char *name = NULL;
	uint32_t n = 0, name_len = 0;

	if (tj_mp_read_array(r, &n) != 0 || n != TJ__KF_SLOT_FIELDS)
		return TJ_EKEYFILE;
	if (tj_mp_read_str(r, &name, &name_len) != 0 || name_len == 0 || name_len >= TJ_PERSON_NAME_MAX ||
	    memchr(name, '\0', name_len) != NULL)
		return TJ_EKEYFILE;
	memcpy(s->name, name, name_len);
	s->name[name_len] = '\0';
	s->name_len = name_len;
	if (tj_mp_read_bin_exact(r, s->salt, sizeof(s->salt)) != 0 || tj_mp_read_uint(r, &s->opslimit) != 0 ||
	    tj_mp_read_uint(r, &s->memlimit) != 0 || tj_mp_read_uint(r, &s->alg) != 0 ||
	    tj_mp_read_bin_exact(r, s->nonce, sizeof(s->nonce)) != 0 ||
	    tj_mp_read_bin_exact(r, s->wrapped, sizeof(s->wrapped)) != 0)
		return TJ_EKEYFILE;
	if (!tj__kdf_sane(s))
		return TJ_EKEYFILE;
	return 0;
}

static int tj__find_slot(const struct tj__kf *kf, const char *name, size_t name_len, uint32_t *index)
{
	for (uint32_t i = 0; i < kf->n; i++) {
		if (kf->slot[i].name_len == name_len && memcmp(kf->slot[i].name, name, name_len) == 0) {
			*index = i;
			return 0;
		}
	}
	return TJ_ENOTFOUND;
}

static int tj__parse(const uint8_t *buf, size_t len, struct tj__kf *kf)
{
	struct tj_mp_reader r;
	const char *magic = NULL;
	uint32_t n = 0, magic_len = 0, idx = 0;
	uint64_t version = 0;
	size_t used = 0;

	if (tj_mp_check(buf, len, &tj__kf_limits, true, &used) != 0)
		return TJ_EKEYFILE;
	tj_mp_reader_init(&r, buf, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != TJ__KF_FIELDS)
		return TJ_EKEYFILE;
	if (tj_mp_read_str(&r, &magic, &magic_len) != 0 || magic_len != strlen(TJ__KF_MAGIC) ||
	    memcmp(magic, TJ__KF_MAGIC, magic_len) != 0)
		return TJ_EKEYFILE;
	if (tj_mp_read_uint(&r, &version) != 0 || version != TJ__KF_VERSION)
		return TJ_EKEYFILE;
	if (tj_mp_read_array(&r, &kf->n) != 0 || kf->n == 0 || kf->n > TJ_KEYFILE_SLOTS_MAX)
		return TJ_EKEYFILE;
	for (uint32_t i = 0; i < kf->n; i++) {
		if (tj__parse_slot(&r, &kf->slot[i]) != 0)
			return TJ_EKEYFILE;
		/* Two slots with one name would make remove_person ambiguous. */
		if (tj__find_slot(kf, kf->slot[i].name, kf->slot[i].name_len, &idx) == 0 && idx != i)
			return TJ_EKEYFILE;
	}
	if (tj_mp_read_bin_exact(&r, kf->nonce, sizeof(kf->nonce)) != 0 ||
	    tj_mp_read_bin_exact(&r, kf->ct, sizeof(kf->ct)) != 0 || r.p != r.end)
		return TJ_EKEYFILE;
	return 0;
}

static int tj__encode(const struct tj__kf *kf, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj__put_header(&w);
	tj_mp_put_array(&w, kf->n);
	for (uint32_t i = 0; i < kf->n; i++) {
		const struct tj__kf_slot *s = &kf->slot[i];

		tj_mp_put_array(&w, TJ__KF_SLOT_FIELDS);
		tj_mp_put_str(&w, s->name, s->name_len);
		tj_mp_put_bin(&w, s->salt, sizeof(s->salt));
		tj_mp_put_uint(&w, s->opslimit);
		tj_mp_put_uint(&w, s->memlimit);
		tj_mp_put_uint(&w, s->alg);
		tj_mp_put_bin(&w, s->nonce, sizeof(s->nonce));
		tj_mp_put_bin(&w, s->wrapped, sizeof(s->wrapped));
	}
	tj_mp_put_bin(&w, kf->nonce, sizeof(kf->nonce));
	tj_mp_put_bin(&w, kf->ct, sizeof(kf->ct));
	return tj_mp_writer_finish(&w, len);
}

/* --- files ------------------------------------------------------------ */

static int tj__read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int rc = 0;
	/* O_NONBLOCK: a FIFO planted at path must not hang us; fstat rejects it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > cap) {
		rc = TJ_EKEYFILE;
		goto out;
	}
	/* Bounded: each pass reads at least one byte or stops. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	return rc;
}

static int tj__write_all(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Splits path into its directory (dir, "." when none) and its last component (*base). */
static int tj__split_path(const char *path, char dir[PATH_MAX], const char **base)
{
	const char *slash = strrchr(path, '/');

	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (slash == NULL) {
		strcpy(dir, ".");
		*base = path;
	} else if (slash == path) {
		strcpy(dir, "/");
		*base = slash + 1;
	} else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		*base = slash + 1;
	}
	return 0;
}

static int tj__fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *base = NULL;
	int fd, rc = tj__split_path(path, dir, &base);

	if (rc != 0)
		return rc;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes size bytes of zeros or random over fd from offset 0, then fsyncs. */
static int tj__overwrite(int fd, uint64_t size, bool random)
{
	uint8_t chunk[TJ__WIPE_CHUNK_BYTES];
	uint64_t done = 0;
	int rc = 0;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return -errno;
	memset(chunk, 0, sizeof(chunk));
	while (done < size && rc == 0) {
		size_t n = size - done < sizeof(chunk) ? (size_t)(size - done) : sizeof(chunk);

		if (random)
			randombytes_buf(chunk, n);
		rc = tj__write_all(fd, chunk, n);
		done += n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	return rc;
}

/* Overwrites a regular file's bytes in place (zeros, then random); TJ_EKEYFILE if not regular. */
static int tj__wipe_fd(int fd)
{
	struct stat st;
	int rc;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return TJ_EKEYFILE;
	if ((rc = tj__overwrite(fd, (uint64_t)st.st_size, false)) != 0)
		return rc;
	return tj__overwrite(fd, (uint64_t)st.st_size, true);
}

/*
 * Renames tmp over path. The replaced file held the slots as they were (a
 * removed person's among them): once the new name is durable, its old bytes
 * are overwritten through a descriptor opened before the rename. That wipe is
 * hygiene on top of an operation that already succeeded, so its errors are
 * not reported.
 */
static int tj__replace(const char *tmp, const char *path)
{
	int old = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int rc = 0;

	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
	} else {
		rc = tj__fsync_dir(path);
	}
	if (old >= 0) {
		if (rc == 0)
			(void)tj__wipe_fd(old);
		close(old);
	}
	return rc;
}

/*
 * Temp file in the same directory (so rename is atomic), mode 0600, fsync,
 * then rename, or link when the destination must not exist yet, then fsync
 * the directory so the new name survives a power cut.
 */
static int tj__write_atomic(const char *path, const uint8_t *buf, size_t len, bool exclusive)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || (rc = tj__write_all(fd, buf, len)) != 0 || fsync(fd) != 0) {
		if (rc == 0)
			rc = -errno;
		close(fd);
		goto fail;
	}
	if (close(fd) != 0) {
		rc = -errno;
		goto fail;
	}
	if (exclusive) {
		if (link(tmp, path) != 0) {
			rc = -errno;
			goto fail;
		}
		unlink(tmp);
		return tj__fsync_dir(path);
	}
	return tj__replace(tmp, path);
fail:
	unlink(tmp);
	return rc;
}

static int tj__store(const char *path, const struct tj__kf *kf, bool exclusive)
{
	uint8_t buf[TJ__KF_MAX_BYTES];
	size_t len = 0;
	int rc = tj__encode(kf, buf, sizeof(buf), &len);

	if (rc != 0)
		return rc;
	return tj__write_atomic(path, buf, len, exclusive);
}

static int tj__load(const char *path, struct tj__kf *kf)
{
	uint8_t buf[TJ__KF_MAX_BYTES];
	size_t len = 0;
	int rc = tj__read_file(path, buf, sizeof(buf), &len);

	if (rc != 0)
		return rc;
	return tj__parse(buf, len, kf);
}

/* --- slots ------------------------------------------------------------ */

/* Derives the slot key; -ENOMEM when Argon2id cannot get its memory. */
static int tj__slot_key(const struct tj__kf_slot *s, const char *pass, size_t pass_len, uint8_t key[32])
{
	if (crypto_pwhash(key, TJ__KEY_BYTES, pass, pass_len, s->salt, s->opslimit, (size_t)s->memlimit,
	                  (int)s->alg) != 0)
		return -ENOMEM;
	return 0;
}

static int tj__slot_wrap(struct tj__kf_slot *s, const char *pass, size_t pass_len, const uint8_t *file_key)
{
	uint8_t ad[TJ__KF_AD_MAX_BYTES];
	size_t ad_len = 0;
	unsigned long long clen = 0;
	uint8_t *key = sodium_malloc(TJ__KEY_BYTES);
	int rc;

	if (key == NULL)
		return -ENOMEM;
	randombytes_buf(s->salt, sizeof(s->salt));
	randombytes_buf(s->nonce, sizeof(s->nonce));
	if ((rc = tj__slot_ad(s, ad, sizeof(ad), &ad_len)) != 0 ||
	    (rc = tj__slot_key(s, pass, pass_len, key)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(s->wrapped, &clen, file_key, TJ__KEY_BYTES, ad, ad_len,
	                                               NULL, s->nonce, key) != 0)
		rc = TJ_ECRYPTO;
out:
	sodium_free(key);
	return rc;
}

/* 0 with file_key filled, TJ_EPASSPHRASE, or -ENOMEM. */
static int tj__slot_unwrap(const struct tj__kf_slot *s, const char *pass, size_t pass_len, uint8_t *file_key)
{
	uint8_t ad[TJ__KF_AD_MAX_BYTES];
	size_t ad_len = 0;
	unsigned long long klen = 0;
	uint8_t *key = sodium_malloc(TJ__KEY_BYTES);
	int rc;

	if (key == NULL)
		return -ENOMEM;
	if ((rc = tj__slot_ad(s, ad, sizeof(ad), &ad_len)) != 0 ||
	    (rc = tj__slot_key(s, pass, pass_len, key)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(file_key, &klen, NULL, s->wrapped, sizeof(s->wrapped),
	                                               ad, ad_len, s->nonce, key) != 0)
		rc = TJ_EPASSPHRASE;
out:
	sodium_free(key);
	return rc;
}

static int tj__slot_init(struct tj__kf_slot *s, const char *person, size_t name_len, enum tj_kdf_level kdf)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->name, person, name_len);
	s->name_len = (uint32_t)name_len;
	s->alg = crypto_pwhash_ALG_ARGON2ID13;
	return tj__kdf_params(kdf, &s->opslimit, &s->memlimit);
}

/* --- payload ---------------------------------------------------------- */

static int tj__payload_seal(struct tj__kf *kf, const uint8_t *file_key, const uint8_t *sk,
                            const uint8_t *storage_key)
{
	uint8_t ad[TJ__KF_AD_MAX_BYTES];
	size_t ad_len = 0;
	unsigned long long clen = 0;
	uint8_t *plain = sodium_malloc(TJ__PAYLOAD_BYTES);
	int rc;

	if (plain == NULL)
		return -ENOMEM;
	memcpy(plain, sk, TJ__SK_BYTES);
	memcpy(plain + TJ__SK_BYTES, storage_key, TJ__KEY_BYTES);
	randombytes_buf(kf->nonce, sizeof(kf->nonce));
	if ((rc = tj__header_ad(ad, sizeof(ad), &ad_len)) != 0)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(kf->ct, &clen, plain, TJ__PAYLOAD_BYTES, ad, ad_len,
	                                               NULL, kf->nonce, file_key) != 0)
		rc = TJ_ECRYPTO;
out:
	sodium_free(plain);
	return rc;
}

/* Decrypts the payload into plain (TJ__PAYLOAD_BYTES, sodium_malloc'd by the caller). */
static int tj__payload_open(const struct tj__kf *kf, const uint8_t *file_key, uint8_t *plain)
{
	uint8_t ad[TJ__KF_AD_MAX_BYTES];
	size_t ad_len = 0;
	unsigned long long plen = 0;
	int rc = tj__header_ad(ad, sizeof(ad), &ad_len);

	if (rc != 0)
		return rc;
	/* The passphrase was right, so a failure here means a damaged file. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, kf->ct, sizeof(kf->ct), ad, ad_len,
	                                               kf->nonce, file_key) != 0 ||
	    plen != TJ__PAYLOAD_BYTES)
		return TJ_EKEYFILE;
	return 0;
}

/* --- public ----------------------------------------------------------- */

int tj_keyfile_create(const char *path, const struct tj_identity *id, const char *person, const char *pass,
                      size_t pass_len, enum tj_kdf_level kdf)
{
	struct tj__kf kf;
	uint8_t *file_key = NULL, *storage_key = NULL;
	size_t name_len = 0;
	int rc;

	if (path == NULL || id == NULL || id->sk == NULL)
		return -EINVAL;
	if ((rc = tj__check_name(person, &name_len)) != 0 || (rc = tj__check_pass(pass, pass_len)) != 0 ||
	    (rc = tj_crypto_init()) != 0)
		return rc;
	/* Fail before the Argon2id work; link() below closes the race. */
	if (access(path, F_OK) == 0)
		return -EEXIST;
	memset(&kf, 0, sizeof(kf));
	kf.n = 1;
	if ((rc = tj__slot_init(&kf.slot[0], person, name_len, kdf)) != 0)
		return rc;
	file_key = sodium_malloc(TJ__KEY_BYTES);
	storage_key = sodium_malloc(TJ__KEY_BYTES);
	if (file_key == NULL || storage_key == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(file_key);
	randombytes_buf(storage_key, TJ__KEY_BYTES);
	if ((rc = tj__slot_wrap(&kf.slot[0], pass, pass_len, file_key)) != 0 ||
	    (rc = tj__payload_seal(&kf, file_key, id->sk, storage_key)) != 0)
		goto out;
	rc = tj__store(path, &kf, true);
out:
	sodium_free(storage_key);
	sodium_free(file_key);
	return rc;
}

/* Tries every slot until one opens; the full Argon2id cost is paid for each. */
static int tj__unlock_file_key(const struct tj__kf *kf, const char *pass, size_t pass_len, uint8_t *file_key)
{
	for (uint32_t i = 0; i < kf->n; i++) {
		int rc = tj__slot_unwrap(&kf->slot[i], pass, pass_len, file_key);

		if (rc != TJ_EPASSPHRASE)
			return rc;
	}
	return TJ_EPASSPHRASE;
}

static int tj__unlocked_from_payload(const uint8_t *plain, uint8_t *file_key, struct tj_unlocked **out)
{
	struct tj_unlocked *u = calloc(1, sizeof(*u));
	int rc;

	if (u == NULL)
		return -ENOMEM;
	if ((rc = tj_identity_from_sk(plain, &u->id)) != 0) {
		rc = rc == TJ_ECRYPTO ? TJ_EKEYFILE : rc;
		goto out;
	}
	u->storage_key = sodium_malloc(TJ__KEY_BYTES);
	if (u->storage_key == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(u->storage_key, plain + TJ__SK_BYTES, TJ__KEY_BYTES);
	u->file_key = file_key; /* ownership moves to u */
	*out = u;
	return 0;
out:
	tj_unlocked_free(u);
	return rc;
}

int tj_keyfile_unlock(const char *path, const char *pass, size_t pass_len, struct tj_unlocked **out)
{
	uint8_t buf[TJ__KF_MAX_BYTES];
	size_t len = 0;
	int rc;

	if (path == NULL)
		return -EINVAL;
	if ((rc = tj__read_file(path, buf, sizeof(buf), &len)) != 0)
		return rc;
	return tj_keyfile_unlock_bytes(buf, len, pass, pass_len, out);
}

int tj_keyfile_unlock_bytes(const uint8_t *buf, size_t len, const char *pass, size_t pass_len,
                            struct tj_unlocked **out)
{
	struct tj__kf kf;
	uint8_t *file_key = NULL, *plain = NULL;
	int rc;

	if (buf == NULL || out == NULL || pass == NULL || pass_len > TJ__PASS_MAX_BYTES)
		return -EINVAL;
	if ((rc = tj_crypto_init()) != 0 || (rc = tj__parse(buf, len, &kf)) != 0)
		return rc;
	file_key = sodium_malloc(TJ__KEY_BYTES);
	plain = sodium_malloc(TJ__PAYLOAD_BYTES);
	if (file_key == NULL || plain == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tj__unlock_file_key(&kf, pass, pass_len, file_key)) != 0 ||
	    (rc = tj__payload_open(&kf, file_key, plain)) != 0)
		goto out;
	if ((rc = tj__unlocked_from_payload(plain, file_key, out)) == 0)
		file_key = NULL;
out:
	sodium_free(plain);
	sodium_free(file_key);
	return rc;
}

/* Checks that u was unlocked from this very file: its file key opens the payload and the sk matches. */
static int tj__check_owner(const struct tj__kf *kf, const struct tj_unlocked *u)
{
	uint8_t *plain = sodium_malloc(TJ__PAYLOAD_BYTES);
	int rc;

	if (plain == NULL)
		return -ENOMEM;
	rc = tj__payload_open(kf, u->file_key, plain);
	if (rc == TJ_EKEYFILE || (rc == 0 && sodium_memcmp(plain, u->id->sk, TJ__SK_BYTES) != 0))
		rc = TJ_ESTATE;
	sodium_free(plain);
	return rc;
}

int tj_keyfile_add_person(const char *path, const struct tj_unlocked *u, const char *person, const char *pass,
                          size_t pass_len, enum tj_kdf_level kdf)
{
	struct tj__kf kf;
	size_t name_len = 0;
	uint32_t idx = 0;
	int rc;

	if (path == NULL || u == NULL)
		return -EINVAL;
	if (u->file_key == NULL || u->id == NULL || u->id->sk == NULL)
		return TJ_ESTATE;
	if ((rc = tj__check_name(person, &name_len)) != 0 || (rc = tj__check_pass(pass, pass_len)) != 0 ||
	    (rc = tj_crypto_init()) != 0 || (rc = tj__load(path, &kf)) != 0)
		return rc;
	if (tj__find_slot(&kf, person, name_len, &idx) == 0)
		return TJ_EEXIST;
	if (kf.n >= TJ_KEYFILE_SLOTS_MAX)
		return TJ_ELIMIT;
	if ((rc = tj__check_owner(&kf, u)) != 0)
		return rc;
	if ((rc = tj__slot_init(&kf.slot[kf.n], person, name_len, kdf)) != 0 ||
	    (rc = tj__slot_wrap(&kf.slot[kf.n], pass, pass_len, u->file_key)) != 0)
		return rc;
	kf.n++;
	return tj__store(path, &kf, false);
}

int tj_keyfile_remove_person(const char *path, const char *person)
{
	struct tj__kf kf;
	size_t name_len = 0;
	uint32_t idx = 0;
	int rc;

	if (path == NULL)
		return -EINVAL;
	if ((rc = tj__check_name(person, &name_len)) != 0 || (rc = tj__load(path, &kf)) != 0)
		return rc;
	if ((rc = tj__find_slot(&kf, person, name_len, &idx)) != 0)
		return rc;
	if (kf.n == 1)
		return TJ_ESTATE; /* the node would be locked out for good */
	memmove(&kf.slot[idx], &kf.slot[idx + 1], (kf.n - idx - 1) * sizeof(kf.slot[0]));
	kf.n--;
	return tj__store(path, &kf, false);
}

int tj_keyfile_people(const char *path, char names[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX], size_t *count)
{
	struct tj_keyfile_info info;
	uint8_t buf[TJ__KF_MAX_BYTES];
	size_t len = 0;
	int rc;

	if (path == NULL || names == NULL || count == NULL)
		return -EINVAL;
	if ((rc = tj__read_file(path, buf, sizeof(buf), &len)) != 0 ||
	    (rc = tj_keyfile_inspect(buf, len, &info)) != 0)
		return rc;
	memcpy(names, info.people, info.n_people * sizeof(info.people[0]));
	*count = info.n_people;
	return 0;
}

int tj_keyfile_inspect(const uint8_t *buf, size_t len, struct tj_keyfile_info *info)
{
	struct tj__kf kf;
	int rc;

	if (buf == NULL || info == NULL)
		return -EINVAL;
	if ((rc = tj__parse(buf, len, &kf)) != 0)
		return rc;
	memset(info, 0, sizeof(*info));
	for (uint32_t i = 0; i < kf.n; i++) {
		memcpy(info->people[i], kf.slot[i].name, kf.slot[i].name_len + 1);
		if (kf.slot[i].opslimit > info->max_opslimit)
			info->max_opslimit = kf.slot[i].opslimit;
		if (kf.slot[i].memlimit > info->max_memlimit)
			info->max_memlimit = kf.slot[i].memlimit;
	}
	info->n_people = kf.n;
	return 0;
}

/* Wipes one file in place then unlinks it; a non-regular file is left alone (TJ_EKEYFILE). */
static int tj__destroy_one(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int rc;

	if (fd < 0)
		return -errno;
	rc = tj__wipe_fd(fd);
	close(fd);
	if (rc == TJ_EKEYFILE)
		return rc;
	if (unlink(path) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/*
 * A crash between writing a temp file and renaming it leaves "<key>.tmp-XXXXXX",
 * a complete copy of the key file: a panic wipe destroys those too.
 */
static int tj__destroy_temps(const char *path)
{
	char dir[PATH_MAX], full[PATH_MAX + NAME_MAX + 2];
	const char *base = NULL;
	struct dirent *e;
	size_t base_len, seen = 0;
	DIR *d;
	int rc = tj__split_path(path, dir, &base), rc2;

	if (rc != 0)
		return rc;
	base_len = strlen(base);
	if ((d = opendir(dir)) == NULL)
		return -errno;
	/* Bounded: readdir visits each entry once; the cap guards a pathological directory. */
	while ((e = readdir(d)) != NULL && seen++ < TJ__DIR_SCAN_MAX) {
		if (strlen(e->d_name) != base_len + TJ__TMP_SUFFIX_CHARS ||
		    strncmp(e->d_name, base, base_len) != 0 || strncmp(e->d_name + base_len, ".tmp-", 5) != 0)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
		rc2 = tj__destroy_one(full);
		if (rc == 0 && rc2 != 0 && rc2 != -ENOENT)
			rc = rc2;
	}
	closedir(d);
	return rc;
}

int tj_keyfile_destroy(const char *path)
{
	int rc, rc2;

	if (path == NULL)
		return -EINVAL;
	if (tj_crypto_init() != 0)
		return TJ_ECRYPTO;
	rc = tj__destroy_one(path);
	if (rc == TJ_EKEYFILE)
		return rc; /* not a regular file: leave it alone */
	rc2 = tj__destroy_temps(path);
	if (rc == 0)
		rc = rc2;
	rc2 = tj__fsync_dir(path);
	return rc != 0 ? rc : rc2;
}

void tj_unlocked_free(struct tj_unlocked *u)
{
	if (u == NULL)
		return;
	tj_identity_free(u->id);
	sodium_free(u->storage_key);
	sodium_free(u->file_key);
	sodium_memzero(u, sizeof(*u));
	free(u);
}
