/*
 * Membership in the store (tj_member.h): ingest refuses non-members' records
 * and non-stewards' membership records, forged approvals fail their
 * signature, replays change nothing, the cache kept on ingest equals a
 * rebuild from scratch, and the peers' predicate follows it.
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

struct fx {
	char dir[64];
	struct tj_node *node;
	struct tj_identity *other; /* an organization the tests admit or not */
	struct tj_identity *third;
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
	assert_int_equal(tj_identity_generate(&f->other), 0);
	assert_int_equal(tj_identity_generate(&f->third), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_node_close(f->node);
	tj_identity_free(f->other);
	tj_identity_free(f->third);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

/* A record by author (seq 0 unless prev), sealed under the node's epoch. */
static size_t seal(struct fx *f, const struct tj_identity *author, uint8_t kind, uint64_t seq,
                   const uint8_t *prev, const uint8_t *body, size_t body_len, uint8_t *out, uint8_t id[32])
{
	struct tj_seal_in in;
	size_t len = 0;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->node->network_id, 32);
	in.seq = seq;
	in.has_prev = prev != NULL;
	if (prev != NULL)
		memcpy(in.prev, prev, 32);
	in.ts_ms = tj_now_ms();
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	in.epoch = tj_keyring_current_epoch(f->node->keyring);
	memcpy(in.audience.ref, in.epoch->id, 32);
	in.body = body;
	in.body_len = body_len;
	assert_int_equal(tj_record_seal(&in, author, out, TT_REC_CAP, &len, id), 0);
	return len;
}

static int ingest(struct fx *f, const uint8_t *enc, size_t len)
{
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item it;

	memcpy(ctx.network_id, f->node->network_id, 32);
	memset(&it, 0, sizeof(it));
	it.enc = enc;
	it.len = len;
	assert_int_equal(tj_ingest_batch(f->node->store, &ctx, &it, 1), 0);
	return it.result;
}

static size_t admit_body(const struct tj_identity *who, uint8_t role, uint8_t *out)
{
	struct tj_member_body b;
	size_t len = 0;

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ADMIT;
	memcpy(b.subject, who->pk, 32);
	snprintf(b.name, sizeof(b.name), "Colectivo");
	b.role = role;
	assert_int_equal(tj_member_body_encode(&b, out, TJ_MEMBER_BODY_MAX_BYTES, &len), 0);
	return len;
}

static void admit(struct fx *f, const struct tj_identity *who, uint8_t role, uint8_t id[32])
{
	struct tj_member_body b;

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ADMIT;
	memcpy(b.subject, who->pk, 32);
	snprintf(b.name, sizeof(b.name), "Colectivo");
	b.role = role;
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
}

static size_t members(struct fx *f)
{
	struct tj_member_state *s = NULL;
	size_t n;

	assert_int_equal(tj_member_load(f->node->store, &s), 0);
	n = s->n;
	tj_member_state_free(s);
	return n;
}

static void test_founder_is_steward(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *s = NULL;

	assert_true(tj_member_is_member(f->node->store, f->node->u->id->pk));
	assert_false(tj_member_is_member(f->node->store, f->other->pk));
	assert_int_equal(tj_member_load(f->node->store, &s), 0);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->members[0].role, TJ_ROLE_STEWARD);
	assert_int_equal(s->threshold, 1);
	assert_memory_equal(s->members[0].proposal, f->node->network_id, 32);
	tj_member_state_free(s);
}

static void test_non_member_refused_until_admitted(void **state)
{
	struct fx *f = *state;
	static uint8_t rec[TT_REC_CAP];
	uint8_t id[32], pid[32];
	size_t len = seal(f, f->other, TJ_KIND_INCIDENT, 0, NULL, (const uint8_t *)"opaque", 6, rec, id);

	assert_int_equal(ingest(f, rec, len), TJ_ENOTMEMBER);
	admit(f, f->other, TJ_ROLE_MEMBER, pid);
	assert_true(tj_member_is_member(f->node->store, f->other->pk));
	assert_int_equal(ingest(f, rec, len), 0);
	assert_int_equal(members(f), 2);
}

static void test_member_record_from_non_member(void **state)
{
	struct fx *f = *state;
	static uint8_t rec[TT_REC_CAP];
	uint8_t body[TJ_MEMBER_BODY_MAX_BYTES], id[32];
	size_t blen = admit_body(f->third, TJ_ROLE_STEWARD, body);
	size_t len = seal(f, f->other, TJ_KIND_MEMBER, 0, NULL, body, blen, rec, id);

	assert_int_equal(ingest(f, rec, len), TJ_ENOTMEMBER);
	assert_int_equal(members(f), 1);
	assert_false(tj_member_is_member(f->node->store, f->third->pk));
}

static void test_approval_by_non_steward(void **state)
{
	struct fx *f = *state;
	static uint8_t rec[TT_REC_CAP];
	uint8_t body[64], pid[32], id[32];
	size_t blen = 0, len;

	admit(f, f->other, TJ_ROLE_MEMBER, pid);
	assert_int_equal(tj_approval_body_encode(pid, body, sizeof(body), &blen), 0);
	len = seal(f, f->other, TJ_KIND_APPROVAL, 0, NULL, body, blen, rec, id);
	assert_int_equal(ingest(f, rec, len), TJ_ENOTMEMBER);
	/* A member's own admission proposal of someone else: refused just the same. */
	blen = admit_body(f->third, TJ_ROLE_MEMBER, body);
	len = seal(f, f->other, TJ_KIND_MEMBER, 0, NULL, body, blen, rec, id);
	assert_int_equal(ingest(f, rec, len), TJ_ENOTMEMBER);
	assert_int_equal(members(f), 2);
}

static void test_forged_approval(void **state)
{
	struct fx *f = *state;
	static uint8_t rec[TT_REC_CAP];
	struct tj_record r;
	uint8_t body[64], pid[32], id[32];
	size_t blen = 0, len;

	admit(f, f->other, TJ_ROLE_MEMBER, pid);
	assert_int_equal(tj_approval_body_encode(pid, body, sizeof(body), &blen), 0);
	/* Signed by a stranger, then its author field rewritten to the steward's key. */
	len = seal(f, f->third, TJ_KIND_APPROVAL, 5, pid, body, blen, rec, id);
	assert_int_equal(tj_record_decode(rec, len, &r), 0);
	assert_memory_equal(r.author, f->third->pk, 32);
	for (size_t i = 0; i + 32 <= len; i++) {
		if (memcmp(rec + i, f->third->pk, 32) == 0) {
			memcpy(rec + i, f->node->u->id->pk, 32);
			break;
		}
	}
	assert_int_equal(ingest(f, rec, len), TJ_EBADSIG);
	/* A steward's approval with one bit of its signature flipped. */
	len = seal(f, f->node->u->id, TJ_KIND_APPROVAL, 40, pid, body, blen, rec, id);
	rec[len - 3] ^= 0x10;
	assert_int_equal(ingest(f, rec, len), TJ_EBADSIG);
	assert_int_equal(members(f), 2);
}

static void test_replays_change_nothing(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *before = NULL, *after = NULL;
	struct tj_txn t;
	const uint8_t *enc;
	static uint8_t copy[TT_REC_CAP];
	uint8_t pid[32], aid[32];
	size_t len;

	admit(f, f->other, TJ_ROLE_CONTACT, pid);
	assert_int_equal(tj_member_load(f->node->store, &before), 0);
	/* The same proposal's bytes again. */
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, pid, &enc, &len), 0);
	memcpy(copy, enc, len);
	tj_txn_abort(&t);
	assert_int_equal(ingest(f, copy, len), TJ_EEXIST);
	/* A new approval of a proposal that already took effect: stored, counts for nothing. */
	assert_int_equal(tj_member_approve(f->node, pid, aid), 0);
	/* A second admission of a member: stored, void. */
	admit(f, f->other, TJ_ROLE_STEWARD, aid);
	assert_int_equal(tj_member_load(f->node->store, &after), 0);
	assert_int_equal(after->n, before->n);
	assert_int_equal(after->applied, before->applied);
	assert_int_equal(after->ignored, before->ignored + 2);
	assert_int_equal(tj_member_find(after, f->other->pk)->role, TJ_ROLE_CONTACT);
	tj_member_state_free(before);
	tj_member_state_free(after);
}

/* The cache kept on every ingest is what a rebuild from the records gives. */
static void test_rebuild_matches(void **state)
{
	struct fx *f = *state;
	uint8_t pid[32], meta_before[8192], id[32];
	const uint8_t *v;
	size_t len_before, len;
	struct tj_txn t;
	struct tj_member_body b;

	admit(f, f->other, TJ_ROLE_STEWARD, pid);
	admit(f, f->third, TJ_ROLE_MEMBER, pid);
	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_REMOVE;
	memcpy(b.subject, f->third->pk, 32);
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, TJ_META_MEMBERS, &v, &len_before), 0);
	assert_true(len_before <= sizeof(meta_before));
	memcpy(meta_before, v, len_before);
	tj_txn_abort(&t);
	assert_int_equal(tj_member_rebuild(f->node->store), 0);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, TJ_META_MEMBERS, &v, &len), 0);
	assert_int_equal(len, len_before);
	assert_memory_equal(v, meta_before, len);
	tj_txn_abort(&t);
	assert_false(tj_member_is_member(f->node->store, f->third->pk));
	assert_true(tj_member_is_member(f->node->store, f->other->pk));
}

/* The last steward's removal is stored but void: a network always keeps its threshold of stewards. */
static void test_last_steward_stays(void **state)
{
	struct fx *f = *state;
	struct tj_member_body b;
	uint8_t id[32];

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_REMOVE;
	memcpy(b.subject, f->node->u->id->pk, 32);
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
	assert_true(tj_member_is_member(f->node->store, f->node->u->id->pk));
	assert_int_equal(members(f), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_founder_is_steward, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_non_member_refused_until_admitted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_member_record_from_non_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_approval_by_non_steward, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forged_approval, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replays_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebuild_matches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_steward_stays, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
