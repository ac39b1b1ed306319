/*
 * Panic wipe (tj_wipe.h): tj_wipe_node overwrites every key a node holds in
 * place (none keeps its value, none is left all-zero) so that stored records
 * no longer open; tj_wipe_datadir leaves the date-only marker and no key file,
 * and a second wipe is harmless; the wipe control op answers and asks the
 * daemon to stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tj_ctl_server.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_node_testutil.h"
#include "tj_wipe.h"

struct fx {
	char dir[64];
	struct tj_node *node;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tj_unlocked *u;

	assert_non_null(f);
	tt_tmpdir(f->dir);
	u = tt_unlocked(f->dir);
	assert_int_equal(tj_node_init(f->dir, u, NULL), 0);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_node_close(f->node);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* A copy of k (n bytes) taken before the wipe, and the check after it. */
struct saved {
	uint8_t v[64];
	const uint8_t *live;
	size_t n;
};

static void save(struct saved *s, const uint8_t *live, size_t n)
{
	assert_non_null(live);
	memcpy(s->v, live, n);
	s->live = live;
	s->n = n;
}

static void assert_scrubbed(const struct saved *s)
{
	assert_memory_not_equal(s->v, s->live, s->n);
	assert_false(all_zero(s->live, s->n));
}

static void test_wipe_node(void **state)
{
	struct fx *f = *state;
	struct tj_keyring *kr = f->node->keyring;
	struct saved s[8];
	uint8_t rec[TT_REC_CAP], id[32], plain[256];
	const struct tj_sym_key *epoch = tj_keyring_current_epoch(kr);
	struct tj_record r;
	size_t len, plen = 0, k = 0;

	assert_non_null(epoch);
	len = tt_record(f->node->u->id, f->node->network_id, TJ_KIND_INCIDENT, 0, NULL, tj_now_ms(), epoch,
	                "cuerpo", rec, id);
	assert_int_equal(tj_record_verify(rec, len, &r, id), 0);
	assert_int_equal(
	    tj_record_open(rec, &r, f->node->u->id, tj_keyring_lookup, kr, plain, sizeof(plain), &plen), 0);
	save(&s[k++], f->node->u->id->sk, 64);
	save(&s[k++], f->node->u->id->x_sk, 32);
	save(&s[k++], f->node->u->storage_key, 32);
	save(&s[k++], f->node->u->file_key, 32);
	save(&s[k++], f->node->blind_key, 32);
	save(&s[k++], kr->network_key, 32);
	save(&s[k++], epoch->key, 32);
	tj_wipe_node(f->node);
	for (size_t i = 0; i < k; i++)
		assert_scrubbed(&s[i]);
	/* What the keys opened no longer opens. */
	assert_int_not_equal(
	    tj_record_open(rec, &r, f->node->u->id, tj_keyring_lookup, kr, plain, sizeof(plain), &plen), 0);
	tj_wipe_node(NULL); /* accepts NULL */
}

static void test_wipe_datadir(void **state)
{
	struct fx *f = *state;
	struct tj_unlocked *u = NULL;
	char key[128], marker[128], text[64] = {0};
	uint64_t at = 0, now = tj_now_ms();
	struct stat st;
	FILE *fp;

	snprintf(key, sizeof(key), "%s/key", f->dir);
	snprintf(marker, sizeof(marker), "%s/wiped", f->dir);
	assert_int_equal(tj_wipe_marker_read(f->dir, &at), TJ_ENOTFOUND);
	assert_int_equal(tj_wipe_datadir(f->dir, now), 0);
	assert_int_equal(stat(key, &st), -1);
	assert_int_equal(tj_keyfile_unlock(key, TT_PASS, strlen(TT_PASS), &u), -ENOENT);
	assert_null(u);
	assert_int_equal(tj_wipe_marker_read(f->dir, &at), 0);
	assert_int_equal(at, now);
	/* The marker holds the date and nothing else, readable by its owner only. */
	assert_int_equal(stat(marker, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	assert_non_null(fp = fopen(marker, "r"));
	assert_non_null(fgets(text, sizeof(text), fp));
	fclose(fp);
	assert_int_equal(strncmp(text, "wiped_at_ms=", 12), 0);
	/* A second wipe (the node, then the CLI) is not an error. */
	assert_int_equal(tj_wipe_datadir(f->dir, now + 1), 0);
	assert_int_equal(tj_wipe_marker_read(f->dir, &at), 0);
	assert_int_equal(at, now + 1);
	assert_int_not_equal(tj_wipe_datadir("/nonexistent/tejido-wipe", now), 0);
}

static void test_wipe_ctl(void **state)
{
	struct fx *f = *state;
	static const uint8_t req[] = {0x81, 0xa2, 'o', 'p', 0xa4, 'w', 'i', 'p', 'e'};
	struct tj_ctl_reply out = {0};
	struct tj_ctl_flags flags = {0};
	uint8_t sk[64];

	memcpy(sk, f->node->u->id->sk, 64);
	assert_int_equal(tj_ctl_handle(f->node, req, sizeof(req), &out, &flags), 0);
	assert_true(flags.stop);
	assert_false(flags.close);
	assert_non_null(out.buf);
	assert_non_null(memmem(out.buf, out.len, "wiped_ms", 8));
	assert_memory_not_equal(sk, f->node->u->id->sk, 64);
	tj_ctl_reply_free(&out);
	/* Without a node: an error reply, no stop. */
	memset(&flags, 0, sizeof(flags));
	assert_int_equal(tj_ctl_handle(NULL, req, sizeof(req), &out, &flags), 0);
	assert_false(flags.stop);
	assert_null(memmem(out.buf, out.len, "wiped_ms", 8));
	tj_ctl_reply_free(&out);
	sodium_memzero(sk, sizeof(sk));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_wipe_node, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wipe_datadir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wipe_ctl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
