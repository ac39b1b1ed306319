/*
 * Sharing the case face later (tj_share.h): grant body codec and refusals; a
 * second identity opens the case only after the author's grant (and a third
 * still cannot); a grant by a non-author is refused at ingest and by
 * tj_share_grant; a node that reads only the summary says the case is not
 * shared with it until the author grants it, then reads it through show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_retract.h"
#include "tj_share.h"
#include "tj_trust_testutil.h"

static void test_body_codec(void **state)
{
	uint8_t wrapped[2][TJ_SHARE_WRAPPED_BYTES], buf[1024];
	struct tj_share_body b, d;
	size_t len = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	randombytes_buf(b.case_id, 32);
	randombytes_buf(wrapped, sizeof(wrapped));
	b.n = 2;
	for (uint32_t i = 0; i < 2; i++) {
		b.slots[i].type = TJ_SLOT_SEALED;
		randombytes_buf(b.slots[i].ref, 32);
		b.slots[i].wrapped = wrapped[i];
		b.slots[i].wrapped_len = TJ_SHARE_WRAPPED_BYTES;
	}
	assert_int_equal(tj_share_body_encode(&b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_share_body_decode(buf, len, &d), 0);
	assert_memory_equal(d.case_id, b.case_id, 32);
	assert_int_equal(d.n, 2);
	assert_memory_equal(d.slots[1].ref, b.slots[1].ref, 32);
	assert_memory_equal(d.slots[1].wrapped, wrapped[1], TJ_SHARE_WRAPPED_BYTES);
	assert_int_not_equal(tj_share_body_decode(buf, len - 1, &d), 0);
	/* An epoch slot, a short wrapped key, no slots at all: refused. */
	b.slots[0].type = TJ_SLOT_EPOCH;
	assert_int_equal(tj_share_body_encode(&b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_share_body_decode(buf, len, &d), TJ_EMALFORMED);
	b.slots[0].type = TJ_SLOT_SEALED;
	b.slots[0].wrapped_len = 48;
	assert_int_equal(tj_share_body_encode(&b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_share_body_decode(buf, len, &d), TJ_EMALFORMED);
	b.n = 0;
	assert_int_equal(tj_share_body_encode(&b, buf, sizeof(buf), &len), TJ_ELIMIT);
}

/* Opens the stored case record as who through the stored grants. */
static int open_as(struct tr_fx *f, const struct tj_identity *who, const uint8_t case_id[32], bool *canary)
{
	struct tj_record rec;
	const uint8_t *enc;
	uint8_t *plain = NULL;
	size_t len, plen = 0;
	struct tj_txn t;
	int rc;

	*canary = false;
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, case_id, &enc, &len), 0);
	assert_int_equal(tj_record_decode(enc, len, &rec), 0);
	/* Never through the record's own slots: it is sealed to its author only. */
	rc = tj_record_open(enc, &rec, who, NULL, NULL, (uint8_t[TJ_RECORD_MAX_BYTES]){0},
	                    TJ_RECORD_MAX_BYTES, &plen);
	assert_int_equal(rc, TJ_ENOKEY);
	rc = tj_share_open_case(&t, who, case_id, enc, &rec, &plain, &plen);
	tj_txn_abort(&t);
	if (rc == 0) {
		for (size_t i = 0; i + strlen(TR_CANARY) <= plen && !*canary; i++)
			*canary = memcmp(plain + i, TR_CANARY, strlen(TR_CANARY)) == 0;
		sodium_memzero(plain, plen);
		free(plain);
	}
	return rc;
}

static void test_grant_opens_case(void **state)
{
	struct tr_fx *f = *state;
	uint8_t id[32], case_id[32], got_case[32], grant[32];
	struct tj_listed l;
	bool canary = false;

	tr_add(f, id, case_id);
	assert_int_equal(open_as(f, f->other, case_id, &canary), TJ_ENOKEY);
	assert_int_equal(
	    tj_share_grant(f->node, id, 64, (const uint8_t(*)[32])f->other->pk, 1, got_case, grant), 0);
	assert_memory_equal(got_case, case_id, 32);
	assert_int_equal(open_as(f, f->other, case_id, &canary), 0);
	assert_true(canary);
	assert_int_equal(open_as(f, f->third, case_id, &canary), TJ_ENOKEY);
	/* The incident was not rewritten: the author still reads both faces through its own slots. */
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "readable");
	tj_listed_free(&l);
	/* Granting through the case id works as well, and a bad prefix says so. */
	assert_int_equal(
	    tj_share_grant(f->node, case_id, 64, (const uint8_t(*)[32])f->third->pk, 1, got_case, grant), 0);
	assert_int_equal(open_as(f, f->third, case_id, &canary), 0);
	assert_true(canary);
	assert_int_equal(tj_share_grant(f->node, (const uint8_t *)"\xff\xff\xff\xff", 8,
	                                (const uint8_t(*)[32])f->third->pk, 1, got_case, grant),
	                 TJ_ENOTFOUND);
}

/* other's incident with a case sealed to other only, stored on the node. */
static void other_incident(struct tr_fx *f, uint8_t id[32], uint8_t case_id[32], uint8_t *case_rec,
                           size_t *case_len)
{
	uint8_t rec[TT_REC_CAP], body[4096], kase[4096], zero[32] = {0};
	const uint8_t(*me)[32] = (const uint8_t(*)[32])f->other->pk;
	size_t blen = 0, clen = 0, len;

	tr_bodies(zero, body, &blen, kase, &clen);
	len = tr_seal(f, f->other, TJ_KIND_INCIDENT, body, blen, NULL, NULL, 0, rec, id);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	tr_bodies(id, body, &blen, kase, &clen); /* the case links the summary's id */
	*case_len = tr_seal(f, f->other, TJ_KIND_CASE, kase, clen, id, me, 1, case_rec, case_id);
	assert_int_equal(tr_ingest(f, case_rec, *case_len), 0);
}

/* A grant body as who writes it: the case key (unwrapped by unwrapper) sealed to reader. */
static size_t grant_by(struct tr_fx *f, const struct tj_identity *who, const struct tj_identity *unwrapper,
                       const uint8_t *case_rec, size_t case_len, const uint8_t case_id[32],
                       const uint8_t reader[32], uint8_t *out, uint8_t id[32])
{
	uint8_t wrapped[TJ_SHARE_WRAPPED_BYTES], rk[32], body[512], cid[32];
	const uint8_t(*readers)[32] = (const uint8_t(*)[32])reader;
	struct tj_share_body b;
	struct tj_record rec;
	size_t blen = 0;

	assert_int_equal(tj_record_verify(case_rec, case_len, &rec, cid), 0);
	assert_int_equal(tj_record_unwrap_key(&rec, unwrapper, NULL, NULL, rk), 0);
	assert_int_equal(tj_slot_seal_to(rk, reader, wrapped), 0);
	sodium_memzero(rk, sizeof(rk));
	memset(&b, 0, sizeof(b));
	memcpy(b.case_id, case_id, 32);
	b.n = 1;
	b.slots[0].type = TJ_SLOT_SEALED;
	memcpy(b.slots[0].ref, reader, 32);
	b.slots[0].wrapped = wrapped;
	b.slots[0].wrapped_len = sizeof(wrapped);
	assert_int_equal(tj_share_body_encode(&b, body, sizeof(body), &blen), 0);
	return tr_seal(f, who, TJ_KIND_SLOT_GRANT, body, blen, case_id, readers, 1, out, id);
}

static void test_reader_node(void **state)
{
	struct tr_fx *f = *state;
	uint8_t id[32], case_id[32], case_rec[TT_REC_CAP], grec[TT_REC_CAP], gid[32], got[32];
	const uint8_t *me = f->node->u->id->pk;
	struct tj_listed l;
	size_t case_len = 0, glen;

	other_incident(f, id, case_id, case_rec, &case_len);
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "not_shared");
	assert_null(l.case_body);
	tj_listed_free(&l);
	/* This node cannot share what it did not write. */
	assert_int_equal(tj_share_grant(f->node, id, 64, (const uint8_t(*)[32])f->third->pk, 1, got, gid),
	                 TJ_ENOTMEMBER);
	/* third (who cannot even read it, but pretends with a key it made up) is refused at ingest. */
	glen = grant_by(f, f->third, f->other, case_rec, case_len, case_id, me, grec, gid);
	assert_int_equal(tr_ingest(f, grec, glen), TJ_ENOTMEMBER);
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "not_shared");
	tj_listed_free(&l);
	/* The author's grant to this node: show reads the case through it. */
	glen = grant_by(f, f->other, f->other, case_rec, case_len, case_id, me, grec, gid);
	assert_int_equal(tr_ingest(f, grec, glen), 0);
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "readable");
	assert_non_null(l.case_body);
	assert_non_null(memmem(l.case_body, l.case_len, TR_CANARY, strlen(TR_CANARY)));
	tj_listed_free(&l);
}

/* Readers named at add time hold a slot of the case record itself. */
static void test_case_readers_at_add(void **state)
{
	struct tr_fx *f = *state;
	uint8_t summary[4096], kase[4096], zero[32] = {0}, bad[32];
	uint8_t *plain = malloc(TJ_RECORD_MAX_BYTES);
	struct tj_add_item it;
	struct tj_record rec;
	const uint8_t *enc;
	struct tj_txn t;
	size_t slen = 0, clen = 0, len, plen = 0;

	assert_non_null(plain);
	tr_bodies(zero, summary, &slen, kase, &clen);
	memset(&it, 0, sizeof(it));
	it.summary = summary;
	it.summary_len = slen;
	it.case_body = kase;
	it.case_len = clen;
	memset(bad, 0xff, sizeof(bad));
	it.case_readers = bad; /* not a point: refused before the transaction */
	it.n_case_readers = 1;
	assert_int_equal(tj_node_add(f->node, &it, 1), 0);
	assert_int_equal(it.err, TJ_ECRYPTO);
	it.case_readers = f->other->pk;
	assert_int_equal(tj_node_add(f->node, &it, 1), 0);
	assert_int_equal(it.err, 0);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, it.case_id, &enc, &len), 0);
	assert_int_equal(tj_record_decode(enc, len, &rec), 0);
	assert_int_equal(rec.n_slots, 2);
	assert_int_equal(tj_record_open(enc, &rec, f->other, NULL, NULL, plain, TJ_RECORD_MAX_BYTES, &plen),
	                 0);
	assert_non_null(memmem(plain, plen, TR_CANARY, strlen(TR_CANARY)));
	assert_int_equal(tj_record_open(enc, &rec, f->third, NULL, NULL, plain, TJ_RECORD_MAX_BYTES, &plen),
	                 TJ_ENOKEY);
	tj_txn_abort(&t);
	sodium_memzero(plain, TJ_RECORD_MAX_BYTES);
	free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body_codec),
	    cmocka_unit_test_setup_teardown(test_grant_opens_case, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_reader_node, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_case_readers_at_add, tr_setup, tr_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
