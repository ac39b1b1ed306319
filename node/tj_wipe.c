/* Panic wipe: the marker, the key file, and the keys of a running node (tj_wipe.h). */
#include "tj_wipe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_ingest.h"
#include "tj_keyfile.h"
#include "tj_log.h"
#include "tj_mp.h"

#define TJ__PATH_MAX 4096
#define TJ__MARKER_MAX_BYTES 64

static int tj__path(char out[TJ__PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, TJ__PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= TJ__PATH_MAX ? -ENAMETOOLONG : 0;
}

static int tj__write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The marker holds the date only: it tells a restart why the node cannot unlock. */
static int tj__marker_write(const char *datadir, uint64_t now_ms)
{
	char path[TJ__PATH_MAX], text[TJ__MARKER_MAX_BYTES];
	int fd, rc, n;

	if ((rc = tj__path(path, datadir, TJ_WIPE_MARKER_NAME)) != 0)
		return rc;
	n = snprintf(text, sizeof(text), "wiped_at_ms=%" PRIu64 "\n", now_ms);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	rc = tj__write_all(fd, text, (size_t)n);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int tj_wipe_datadir(const char *datadir, uint64_t now_ms)
{
	char key[TJ__PATH_MAX];
	int rc, rc2;

	if (datadir == NULL)
		return -EINVAL;
	rc = tj__marker_write(datadir, now_ms);
	if ((rc2 = tj__path(key, datadir, TJ_WIPE_KEYFILE_NAME)) == 0) {
		rc2 = tj_keyfile_destroy(key);
		if (rc2 == -ENOENT)
			rc2 = 0; /* already gone: the goal is met */
	}
	return rc != 0 ? rc : rc2;
}

int tj_wipe_marker_read(const char *datadir, uint64_t *wiped_at_ms)
{
	char path[TJ__PATH_MAX], text[TJ__MARKER_MAX_BYTES];
	unsigned long long v = 0;
	ssize_t n;
	int fd, rc;

	*wiped_at_ms = 0;
	if ((rc = tj__path(path, datadir, TJ_WIPE_MARKER_NAME)) != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? TJ_ENOTFOUND : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	text[n] = '\0';
	/* A damaged marker still means "wiped": only the date is then unknown (0). */
	if (sscanf(text, "wiped_at_ms=%llu", &v) == 1)
		*wiped_at_ms = (uint64_t)v;
	return 0;
}

/* Zero, then random: see the WARNING in tj_wipe.h. */
static void tj__scrub(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	sodium_memzero(p, len);
	randombytes_buf(p, len);
}

static void tj__wipe_keyring(struct tj_keyring *kr)
{
	if (kr == NULL)
		return;
	tj__scrub(kr->network_key, TJ_KEY_BYTES);
	for (uint32_t i = 0; i < kr->n_epochs; i++)
		tj__scrub(kr->epochs[i].key, TJ_KEY_BYTES);
	for (uint32_t i = 0; i < kr->n_circles; i++)
		tj__scrub(kr->circles[i].key, TJ_KEY_BYTES);
}

void tj_wipe_node(struct tj_node *n)
{
	if (n == NULL)
		return;
	tj__wipe_keyring(n->keyring);
	tj__scrub(n->blind_key, 32);
	if (n->u != NULL) {
		tj__scrub(n->u->storage_key, 32);
		tj__scrub(n->u->file_key, 32);
		if (n->u->id != NULL) {
			tj__scrub(n->u->id->sk, crypto_sign_SECRETKEYBYTES);
			tj__scrub(n->u->id->x_sk, crypto_scalarmult_curve25519_BYTES);
		}
	}
}

static void tj__put_be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int tj_wipe_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	uint64_t t0 = tj_now_ms();
	struct tj_mp_writer w;
	uint8_t *buf;
	size_t used = 0;

	(void)req; /* no arguments: a wipe must not fail on a detail */
	(void)len;
	out->buf = NULL;
	out->len = 0;
	if (node == NULL)
		return tj_ctl_error_reply(TJ_ESTATE, "no node is open here", out);
	tj_wipe_node(node);
	TJ_LOG_W("wipe", "panic wipe: every key in memory overwritten; stopping");
	if ((buf = malloc(64)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, 60);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "wiped_ms");
	tj_mp_put_uint(&w, tj_now_ms() - t0);
	if (tj_mp_writer_finish(&w, &used) != 0) {
		free(buf);
		return -ENOMEM; /* cannot happen: the reply is a few bytes */
	}
	tj__put_be32(buf, used);
	out->buf = buf;
	out->len = used + 4;
	return 0;
}
