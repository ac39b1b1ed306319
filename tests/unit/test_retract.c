/*
 * Retraction (tj_retract.h): body codecs and their refusals; the author
 * retracts an incident and its case face (tombstones, show refuses, the store
 * holds no canary, a confirmation); a non-author's retraction is refused at
 * ingest and by tj_retract_run; a retraction that arrives before its target
 * makes the target refused; the stewards' extension point; confirmations
 * from other nodes are listed once each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_retract.h"
#include "tj_trust_testutil.h"

static void test_bodies(void **state)
{
	uint8_t target[32], back[32], back2[32], rid[32], buf[128];
	char reason[TJ_CODE_MAX];
	size_t len = 0;

	(void)state;
	randombytes_buf(target, 32);
	randombytes_buf(rid, 32);
	assert_int_equal(tj_retract_body_encode(target, "consent_withdrawn", buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_retract_body_decode(buf, len, back, reason), 0);
	assert_memory_equal(back, target, 32);
	assert_string_equal(reason, "consent_withdrawn");
	/* Refusals: an unknown reason, truncation, a trailing byte, a flipped type. */
	assert_int_equal(tj_retract_body_encode(target, "because", buf, sizeof(buf), &len), TJ_ESCHEMA);
	assert_int_equal(tj_retract_body_encode(target, "safety", buf, sizeof(buf), &len), 0);
	assert_int_not_equal(tj_retract_body_decode(buf, len - 1, back, reason), 0);
	buf[len] = 0xc0;
	assert_int_not_equal(tj_retract_body_decode(buf, len + 1, back, reason), 0);
	buf[1] = 0xc5; /* bin 8 -> bin 16 header: not canonical, and wrong lengths */
	assert_int_not_equal(tj_retract_body_decode(buf, len, back, reason), 0);
	assert_int_equal(tj_retract_body_encode(target, "other", buf, sizeof(buf), &len), 0);
	buf[len - 1] = 'X'; /* "otheX" */
	assert_int_equal(tj_retract_body_decode(buf, len, back, reason), TJ_ESCHEMA);

	assert_int_equal(tj_confirm_body_encode(rid, target, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_confirm_body_decode(buf, len, back, back2), 0);
	assert_memory_equal(back, rid, 32);
	assert_memory_equal(back2, target, 32);
	assert_int_not_equal(tj_confirm_body_decode(buf, len - 3, back, target), 0);
}

static void test_author_retracts(void **state)
{
	struct tr_fx *f = *state;
	struct tj_retraction_info *info = calloc(1, sizeof(*info));
	uint8_t id[32], case_id[32], target[32], rid[32];
	struct tj_listed l;

	assert_non_null(info);
	tr_add(f, id, case_id);
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "readable");
	tj_listed_free(&l);
	assert_int_equal(tj_retract_info(f->node, id, info), TJ_ENOTFOUND);
	/* An unknown reason changes nothing. */
	assert_int_equal(tj_retract_run(f->node, id, 64, "because", target, rid), TJ_ESCHEMA);
	assert_false(tr_tombstoned(f, id));

	assert_int_equal(tj_retract_run(f->node, id, 10, "consent_withdrawn", target, rid), 0);
	assert_memory_equal(target, id, 32);
	assert_true(tr_tombstoned(f, id));
	assert_true(tr_tombstoned(f, case_id)); /* the case face goes with it */
	assert_int_equal(tj_node_show(f->node, id, 64, &l), TJ_ENOTFOUND);
	assert_int_equal(tj_retract_info(f->node, id, info), 0);
	assert_true(info->applied);
	assert_string_equal(info->reason, "consent_withdrawn");
	assert_memory_equal(info->retraction, rid, 32);
	assert_memory_equal(info->retractor, f->node->u->id->pk, 32);
	assert_int_equal(info->n_confirms, 1);
	assert_memory_equal(info->confirms[0], f->node->u->id->pk, 32);
	assert_int_equal(tj_retract_run(f->node, id, 64, "error", target, rid), TJ_ERETRACTED);
	assert_int_equal(tj_retract_run(f->node, case_id, 64, "error", target, rid), TJ_ERETRACTED);
	/* Freed pages hold ciphertext only: the canary is nowhere in the store file. */
	assert_false(tr_store_holds(f, TR_CANARY));
	assert_false(tr_store_holds(f, "Persona CANARIO"));
	free(info);
}

/* other writes an incident-kind record; returns its id. */
static void other_incident(struct tr_fx *f, uint8_t id[32])
{
	uint8_t rec[TT_REC_CAP], body[2048];
	size_t blen = tt_summary_body("2025-01-02", "v-9", body, sizeof(body));
	size_t len = tr_seal(f, f->other, TJ_KIND_INCIDENT, body, blen, NULL, NULL, 0, rec, id);

	assert_int_equal(tr_ingest(f, rec, len), 0);
}

static size_t retraction_by(struct tr_fx *f, const struct tj_identity *who, const uint8_t target[32],
                            uint8_t *rec, uint8_t id[32])
{
	uint8_t body[TJ_RETRACT_BODY_MAX_BYTES];
	size_t blen = 0;

	assert_int_equal(tj_retract_body_encode(target, "error", body, sizeof(body), &blen), 0);
	return tr_seal(f, who, TJ_KIND_RETRACTION, body, blen, NULL, NULL, 0, rec, id);
}

static void test_non_author_refused(void **state)
{
	struct tr_fx *f = *state;
	struct tj_retraction_info *info = calloc(1, sizeof(*info));
	uint8_t rec[TT_REC_CAP], x[32], rid[32], target[32], cbody[128], cid[32];
	size_t len, clen = 0;

	assert_non_null(info);
	other_incident(f, x);
	/* This node did not write it. */
	assert_int_equal(tj_retract_run(f->node, x, 64, "error", target, rid), TJ_ENOTMEMBER);
	/* Nor did third: refused at ingest, the record stays. */
	len = retraction_by(f, f->third, x, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), TJ_ENOTMEMBER);
	assert_false(tr_tombstoned(f, x));
	assert_int_equal(tj_retract_info(f->node, x, info), TJ_ENOTFOUND);
	/* Its author may: applied at ingest, and this node confirms after the commit. */
	len = retraction_by(f, f->other, x, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	assert_true(tr_tombstoned(f, x));
	tj_retract_after_store(f->node, (const uint8_t(*)[32])rid, 1);
	assert_int_equal(tj_retract_info(f->node, x, info), 0);
	assert_true(info->applied);
	assert_int_equal(info->n_confirms, 1);
	assert_memory_equal(info->confirms[0], f->node->u->id->pk, 32);
	/* other's own confirmation is listed too, once however often it comes. */
	assert_int_equal(tj_confirm_body_encode(rid, x, cbody, sizeof(cbody), &clen), 0);
	len = tr_seal(f, f->other, TJ_KIND_CONFIRM, cbody, clen, NULL, NULL, 0, rec, cid);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	len = tr_seal(f, f->other, TJ_KIND_CONFIRM, cbody, clen, NULL, NULL, 0, rec, cid);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	assert_int_equal(tj_retract_info(f->node, x, info), 0);
	assert_int_equal(info->n_confirms, 2);
	assert_memory_equal(info->confirms[1], f->other->pk, 32);
	free(info);
}

static void test_retraction_before_target(void **state)
{
	struct tr_fx *f = *state;
	struct tj_retraction_info *info = calloc(1, sizeof(*info));
	uint8_t xrec[TT_REC_CAP], rrec[TT_REC_CAP], yrec[TT_REC_CAP], frec[TT_REC_CAP], body[2048];
	uint8_t x[32], y[32], rid[32], fid[32];
	size_t blen = tt_summary_body("2025-01-03", "v-8", body, sizeof(body));
	size_t xlen, rlen, ylen, flen;

	assert_non_null(info);
	xlen = tr_seal(f, f->other, TJ_KIND_INCIDENT, body, blen, NULL, NULL, 0, xrec, x);
	rlen = retraction_by(f, f->other, x, rrec, rid);
	assert_int_equal(tr_ingest(f, rrec, rlen), 0);
	/* Pending: kept for the target's arrival, nothing took effect yet. */
	assert_int_equal(tj_retract_info(f->node, x, info), TJ_ENOTFOUND);
	assert_int_equal(tr_ingest(f, xrec, xlen), TJ_ERETRACTED);
	assert_true(tr_tombstoned(f, x));
	assert_int_equal(tr_ingest(f, xrec, xlen), TJ_ERETRACTED); /* and stays out */
	assert_int_equal(tj_retract_info(f->node, x, info), 0);
	assert_true(info->applied);

	/* A forged pending retraction first does not hide the author's, which then counts. */
	{
		uint8_t zrec[TT_REC_CAP], grec[TT_REC_CAP], arec[TT_REC_CAP], z[32], gid[32], aid[32];
		size_t zlen = tr_seal(f, f->other, TJ_KIND_INCIDENT, body, blen, NULL, NULL, 0, zrec, z);
		size_t glen = retraction_by(f, f->third, z, grec, gid);
		size_t alen = retraction_by(f, f->other, z, arec, aid);

		assert_int_equal(tr_ingest(f, grec, glen), 0);
		assert_int_equal(tr_ingest(f, arec, alen), 0);
		assert_int_equal(tr_ingest(f, zrec, zlen), TJ_ERETRACTED);
		assert_int_equal(tj_retract_info(f->node, z, info), 0);
		assert_memory_equal(info->retraction, aid, 32);
		assert_memory_equal(info->retractor, f->other->pk, 32);
	}
	/* A pending retraction by someone else does not keep a record out. */
	ylen = tr_seal(f, f->other, TJ_KIND_INCIDENT, body, blen, NULL, NULL, 0, yrec, y);
	flen = retraction_by(f, f->third, y, frec, fid);
	assert_int_equal(tr_ingest(f, frec, flen), 0);
	assert_int_equal(tr_ingest(f, yrec, ylen), 0);
	assert_false(tr_tombstoned(f, y));
	free(info);
}

static bool allow_all(struct tj_txn *t, const uint8_t rid[32], const struct tj_record *r,
                      const uint8_t author[32])
{
	(void)t;
	(void)rid;
	(void)r;
	(void)author;
	return true;
}

static void test_steward_rule(void **state)
{
	struct tr_fx *f = *state;
	uint8_t rec[TT_REC_CAP], x[32], rid[32];
	size_t len;

	other_incident(f, x);
	tj_retract_set_steward_rule(allow_all);
	len = retraction_by(f, f->third, x, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	tj_retract_set_steward_rule(NULL);
	assert_true(tr_tombstoned(f, x));
}

/* Membership records are never retracted, whatever the order. */
static void test_membership_not_retractable(void **state)
{
	struct tr_fx *f = *state;
	uint8_t rec[TT_REC_CAP], rid[32], target[32];
	struct tj_txn t;
	const uint8_t *v;
	size_t len, vlen;

	/* The node's own genesis record: seq 0 of its chain. */
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, TJ_META_NETWORK_ID, &v, &vlen), 0);
	memcpy(target, v, 32);
	tj_txn_abort(&t);
	assert_int_equal(tj_retract_run(f->node, target, 64, "error", target, rid), TJ_EUNSUPPORTED);
	len = retraction_by(f, f->other, target, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), TJ_ENOTMEMBER); /* not its author */
	tj_retract_set_steward_rule(allow_all);
	len = retraction_by(f, f->other, target, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), 0); /* accepted, yet a genesis is not retractable */
	tj_retract_set_steward_rule(NULL);
	assert_false(tr_tombstoned(f, target));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test_setup_teardown(test_author_retracts, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_non_author_refused, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_retraction_before_target, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_steward_rule, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_membership_not_retractable, tr_setup, tr_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
