/*
 * The welcome bundle (tj_welcome.h): a round trip from a founder's node to
 * a new node's store; wrong recipient, tampering, a genesis that does not
 * match the network id, forged records, truncated and oversized bundles;
 * joining twice, joining with a bundle that does not admit us, and the new
 * member's records accepted by the founder's ingest.
 *
 * One store per process: the founder and the new node are opened in turn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_member.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_node_testutil.h"
#include "tj_welcome.h"

struct fx {
	char fdir[64], jdir[64];
	struct tj_unlocked *fu; /* founder's unlocked key file (a fresh unlock per open) */
	struct tj_unlocked *ju; /* joiner's */
	uint8_t network_id[32];
	uint8_t *bundle;
	size_t bundle_len;
};

static struct tj_unlocked *unlock(const char *dir)
{
	char path[128];
	struct tj_unlocked *u = NULL;

	snprintf(path, sizeof(path), "%s/key", dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	return u;
}

static struct tj_node *open_node(const char *dir)
{
	struct tj_node *n = NULL;

	assert_int_equal(tj_node_open(dir, 64u << 20, unlock(dir), &n), 0);
	return n;
}

/* The founder admits the joiner and writes its welcome. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tj_init_opts none = {.no_network = true};
	struct tj_welcome_peer self = {.host = "127.0.0.1", .port = 7654};
	struct tj_member_body b;
	struct tj_node *n;
	uint8_t pid[32];

	assert_non_null(f);
	tt_tmpdir(f->fdir);
	tt_tmpdir(f->jdir);
	f->fu = tt_unlocked(f->fdir);
	f->ju = tt_unlocked(f->jdir);
	assert_int_equal(tj_node_init(f->fdir, f->fu, NULL), 0);
	assert_int_equal(tj_node_init(f->jdir, f->ju, &none), 0);
	n = open_node(f->fdir);
	memcpy(f->network_id, n->network_id, 32);
	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ADMIT;
	memcpy(b.subject, f->ju->id->pk, 32);
	snprintf(b.name, sizeof(b.name), "Centro Prodh");
	assert_int_equal(tj_member_states_parse("20,12", &b), 0);
	assert_int_equal(tj_member_propose(n, &b, pid), 0);
	memcpy(self.pk, n->u->id->pk, 32);
	assert_int_equal(tj_welcome_make(n, f->ju->id->pk, &self, &f->bundle, &f->bundle_len), 0);
	tj_node_close(n);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_unlocked_free(f->fu);
	tj_unlocked_free(f->ju);
	free(f->bundle);
	tt_rmdir(f->fdir);
	tt_rmdir(f->jdir);
	free(f);
	return 0;
}

static void test_open_round_trip(void **state)
{
	struct fx *f = *state;
	struct tj_welcome *w = NULL;
	struct tj_record rec;
	uint8_t id[32];

	assert_memory_equal(f->bundle, TJ_WELCOME_MAGIC, TJ_WELCOME_MAGIC_BYTES);
	assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len, f->ju->id, &w), 0);
	assert_memory_equal(w->network_id, f->network_id, 32);
	assert_memory_equal(w->recipient, f->ju->id->pk, 32);
	assert_int_equal(w->n_epochs, 1);
	assert_int_equal(w->n_records, 2); /* the genesis and the admission */
	assert_int_equal(tj_record_verify(w->records[0], w->lens[0], &rec, id), 0);
	assert_int_equal(rec.kind, TJ_KIND_GENESIS);
	assert_memory_equal(id, f->network_id, 32);
	assert_int_equal(tj_record_verify(w->records[1], w->lens[1], &rec, id), 0);
	assert_int_equal(rec.kind, TJ_KIND_MEMBER);
	assert_int_equal(w->n_peers, 1);
	assert_string_equal(w->peers[0].host, "127.0.0.1");
	assert_int_equal(w->peers[0].port, 7654);
	assert_memory_equal(w->peers[0].pk, f->fu->id->pk, 32);
	tj_welcome_free(w);
}

static void test_wrong_recipient(void **state)
{
	struct fx *f = *state;
	struct tj_welcome *w = NULL;

	/* The founder itself holds every key of the network, but not the joiner's. */
	assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len, f->fu->id, &w), TJ_EDECRYPT);
	assert_null(w);
}

static void test_tampered(void **state)
{
	struct fx *f = *state;
	struct tj_welcome *w = NULL;

	for (size_t i = TJ_WELCOME_MAGIC_BYTES; i < f->bundle_len; i += 1 + f->bundle_len / 97) {
		f->bundle[i] ^= 0x01;
		assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len, f->ju->id, &w), TJ_EDECRYPT);
		f->bundle[i] ^= 0x01;
	}
	f->bundle[0] = 'X';
	assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len, f->ju->id, &w), TJ_EMALFORMED);
	assert_null(w);
}

static void test_truncated_and_oversized(void **state)
{
	struct fx *f = *state;
	struct tj_welcome *w = NULL;
	uint8_t *big;

	assert_int_equal(tj_welcome_open(f->bundle, 0, f->ju->id, &w), TJ_ETRUNC);
	assert_int_equal(tj_welcome_open(f->bundle, TJ_WELCOME_MAGIC_BYTES + 47, f->ju->id, &w), TJ_ETRUNC);
	/* Cut anywhere after the seal's minimum: the seal fails. */
	assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len - 1, f->ju->id, &w), TJ_EDECRYPT);
	big = calloc(1, TJ_WELCOME_MAX_BYTES + 1);
	assert_non_null(big);
	memcpy(big, f->bundle, f->bundle_len);
	assert_int_equal(tj_welcome_open(big, TJ_WELCOME_MAX_BYTES + 1, f->ju->id, &w), TJ_ELIMIT);
	free(big);
	assert_null(w);
}

/* A bundle sealed with the founder's real contents, with one thing changed. */
static int reseal_open(struct fx *f, const uint8_t *network_id, bool forge_second, bool drop_admission)
{
	struct tj_welcome *w = NULL, *got = NULL;
	struct tj_welcome_in in = {0};
	const uint8_t *epochs[1];
	uint8_t *out = NULL, *forged = NULL;
	const uint8_t *recs[2];
	size_t lens[2], out_len = 0;
	int rc;

	assert_int_equal(tj_welcome_open(f->bundle, f->bundle_len, f->ju->id, &w), 0);
	epochs[0] = w->epochs;
	recs[0] = w->records[0];
	lens[0] = w->lens[0];
	recs[1] = w->records[1];
	lens[1] = w->lens[1];
	if (forge_second) {
		forged = malloc(lens[1]);
		assert_non_null(forged);
		memcpy(forged, recs[1], lens[1]);
		forged[lens[1] - 1] ^= 0x80; /* the signature's last byte */
		recs[1] = forged;
	}
	in.network_id = network_id;
	in.network_key = w->network_key;
	in.epochs = epochs;
	in.n_epochs = 1;
	in.records = recs;
	in.lens = lens;
	in.n_records = drop_admission ? 1 : 2;
	assert_int_equal(tj_welcome_seal(&in, f->ju->id->pk, &out, &out_len), 0);
	rc = tj_welcome_open(out, out_len, f->ju->id, &got);
	if (rc == 0 && drop_admission)
		rc = tj_welcome_join(f->jdir, f->ju, out, out_len, NULL);
	tj_welcome_free(got);
	tj_welcome_free(w);
	free(out);
	free(forged);
	return rc;
}

static void test_genesis_must_match(void **state)
{
	struct fx *f = *state;
	uint8_t other[32];

	memcpy(other, f->network_id, 32);
	other[0] ^= 1;
	assert_int_equal(reseal_open(f, other, false, false), TJ_ENETWORK);
	assert_int_equal(reseal_open(f, f->network_id, true, false), TJ_EBADSIG);
	assert_int_equal(reseal_open(f, f->network_id, false, false), 0);
}

/* A welcome without our admission: refused, and the node is left as it was. */
static void test_join_not_admitted(void **state)
{
	struct fx *f = *state;
	struct tj_node *n;

	assert_int_equal(reseal_open(f, f->network_id, false, true), TJ_ENOTMEMBER);
	n = open_node(f->jdir);
	assert_false(n->has_network);
	tj_node_close(n);
	/* The real one still works afterwards. */
	assert_int_equal(tj_welcome_join(f->jdir, f->ju, f->bundle, f->bundle_len, NULL), 0);
}

/* Joining needs `init --no-network` first: the keyring the keys go into. */
static void test_join_needs_an_identity_store(void **state)
{
	struct fx *f = *state;
	char dir[64];

	tt_tmpdir(dir);
	assert_int_equal(tj_welcome_join(dir, f->ju, f->bundle, f->bundle_len, NULL), TJ_ESTATE);
	tt_rmdir(dir);
}

/* Join; the new member adds an incident and lists it; the founder accepts its records. */
static void test_join_then_speak(void **state)
{
	struct fx *f = *state;
	struct tj_add_item it;
	struct tj_ingest_ctx ctx = {.has_network = true};
	struct tj_ingest_item items[2];
	struct tj_txn t;
	struct tj_node *n;
	uint8_t summary[4096];
	static uint8_t rec[TT_REC_CAP];
	const uint8_t *enc;
	size_t n_peers = 0, len;

	assert_int_equal(tj_welcome_join(f->jdir, f->ju, f->bundle, f->bundle_len, &n_peers), 0);
	assert_int_equal(n_peers, 1);
	assert_int_equal(tj_welcome_join(f->jdir, f->ju, f->bundle, f->bundle_len, NULL), TJ_EEXIST);
	n = open_node(f->jdir);
	assert_true(n->has_network);
	assert_memory_equal(n->network_id, f->network_id, 32);
	assert_string_equal(n->network_name, "Tejido");
	assert_true(tj_member_is_member(n->store, f->ju->id->pk));
	assert_true(tj_member_is_member(n->store, f->fu->id->pk));
	memset(&it, 0, sizeof(it));
	it.summary = summary;
	it.summary_len = tt_summary_body("2026-03-14", "v-7Q2M", summary, sizeof(summary));
	assert_int_equal(tj_node_add(n, &it, 1), 0);
	assert_int_equal(it.err, 0);
	assert_int_equal(tj_txn_begin(n->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, it.id, &enc, &len), 0);
	memcpy(rec, enc, len);
	tj_txn_abort(&t);
	{
		struct tj_listed l;
		assert_int_equal(tj_node_show(n, it.id, 64, &l), 0);
		assert_memory_equal(l.author, f->ju->id->pk, 32);
		tj_listed_free(&l);
	}
	tj_node_close(n);

	n = open_node(f->fdir);
	memcpy(ctx.network_id, f->network_id, 32);
	ctx.now_ms = tj_now_ms();
	memset(items, 0, sizeof(items));
	items[0].enc = rec;
	items[0].len = len;
	{
		static uint8_t stranger_rec[TT_REC_CAP];
		struct tj_identity *stranger = NULL;
		uint8_t sid[32];
		assert_int_equal(tj_identity_generate(&stranger), 0);
		items[1].len = tt_record(stranger, f->network_id, TJ_KIND_INCIDENT, 0, NULL, tj_now_ms(),
		                         tj_keyring_current_epoch(n->keyring), "opaque", stranger_rec, sid);
		items[1].enc = stranger_rec;
		tj_identity_free(stranger);
	}
	assert_int_equal(tj_ingest_batch(n->store, &ctx, items, 2), 0);
	assert_int_equal(items[0].result, 0);
	assert_int_equal(items[1].result, TJ_ENOTMEMBER);
	{
		struct tj_listed l;
		assert_int_equal(tj_node_show(n, it.id, 64, &l), 0); /* and the founder can read it */
		tj_listed_free(&l);
	}
	tj_node_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_recipient, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_and_oversized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_genesis_must_match, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_not_admitted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_needs_an_identity_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_then_speak, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
