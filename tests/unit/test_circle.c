/*
 * Circles (tj_circle.h), through the C API on a real store: creating one
 * (the record, the admin's key, the keyring after a restart); a member's
 * node installing the key at ingest; a case (and a summary) sealed to a
 * circle opens for its members only; removal writes a new generation that
 * the removed member cannot open, nor anything sealed after; refusals
 * (non-member author, non-member named, forged signature, change by another
 * than the admin, over the bound, malformed bodies, replayed generations);
 * an older case shared with the circle later (a grant with a circle slot);
 * the state does not depend on the order the records arrive in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_circle.h"
#include "tj_ingest.h"
#include "tj_keyfile.h"
#include "tj_retract.h"
#include "tj_rotate.h"
#include "tj_share.h"
#include "tj_trust_testutil.h"

#define NAME "Contactos Oaxaca"

/* An author outside the node, with its own chain. */
struct author {
	const struct tj_identity *id;
	uint64_t seq;
	bool has;
	uint8_t head[32];
};

/* Seals body as a's next record, network audience (the node's current epoch). */
static size_t seal_as(struct tr_fx *f, struct author *a, uint8_t kind, const uint8_t *body, size_t len,
                      uint8_t *out, uint8_t id[32])
{
	const struct tj_sym_key *epoch = tj_keyring_current_epoch(f->node->keyring);
	struct tj_seal_in in;
	size_t n = 0;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->node->network_id, 32);
	in.seq = a->has ? a->seq + 1 : 0;
	in.has_prev = a->has;
	memcpy(in.prev, a->head, 32);
	in.ts_ms = tj_now_ms();
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch->id, 32);
	in.epoch = epoch;
	in.body = body;
	in.body_len = len;
	assert_int_equal(tj_record_seal(&in, a->id, out, TT_REC_CAP, &n, id), 0);
	a->seq = in.seq;
	a->has = true;
	memcpy(a->head, id, 32);
	return n;
}

/* A CIRCLE record by a, for the circle (admin, nonce, name), with a fresh key (copied to key if not NULL). */
static size_t circle_rec(struct tr_fx *f, struct author *a, const uint8_t admin[32], const uint8_t nonce[16],
                         const char *name, uint64_t gen, const uint8_t (*members)[32], uint32_t n,
                         uint8_t *key, uint8_t *out, uint8_t id[32])
{
	struct tj_circle_body *b = malloc(sizeof(*b));
	uint8_t k[32], body[TJ_CIRCLE_BODY_MAX_BYTES];
	size_t blen = 0, len;

	assert_non_null(b);
	crypto_secretbox_keygen(k);
	assert_int_equal(tj_circle_body_make(b, f->node->network_id, admin, nonce, name, gen, k, members, n),
	                 0);
	assert_int_equal(tj_circle_body_encode(b, body, sizeof(body), &blen), 0);
	len = seal_as(f, a, TJ_KIND_CIRCLE, body, blen, out, id);
	if (key != NULL)
		memcpy(key, k, 32);
	sodium_memzero(k, sizeof(k));
	free(b);
	return len;
}

static struct tj_circle_state *load(struct tr_fx *f)
{
	struct tj_circle_state *s = NULL;

	assert_int_equal(tj_circle_load(f->node, &s), 0);
	return s;
}

static bool has_member(const struct tj_circle *c, const uint8_t pk[32])
{
	for (uint32_t i = 0; i < c->n_members; i++)
		if (memcmp(c->members[i], pk, 32) == 0)
			return true;
	return false;
}

/* Opens a stored record as who with keyring kr; returns tj_record_open's result. */
static int try_open(struct tr_fx *f, const uint8_t id[32], const struct tj_identity *who,
                    struct tj_keyring *kr)
{
	static uint8_t plain[TT_REC_CAP], copy[TT_REC_CAP];
	struct tj_record rec;
	struct tj_txn t;
	const uint8_t *enc;
	uint8_t rid[32];
	size_t elen = 0, plen = 0;
	int rc;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, id, &enc, &elen), 0);
	memcpy(copy, enc, elen); /* what any node relaying it holds */
	tj_txn_abort(&t);
	assert_int_equal(tj_record_verify(copy, elen, &rec, rid), 0);
	rc = tj_record_open(copy, &rec, who, tj_keyring_lookup, kr, plain, sizeof(plain), &plen);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

/* A member's keyring: the network's epochs, as its welcome gave them. */
static struct tj_keyring *member_keyring(struct tr_fx *f)
{
	struct tj_keyring *kr = NULL;

	assert_int_equal(tj_keyring_new(&kr), 0);
	for (uint32_t i = 0; i < f->node->keyring->n_epochs; i++)
		assert_int_equal(tj_keyring_add_epoch(kr, f->node->keyring->epochs[i].key,
		                                      i == f->node->keyring->current_epoch),
		                 0);
	return kr;
}

/* What who's node installs from the stored CIRCLE record id: its key into kr; the result of opening. */
static int take_key(struct tr_fx *f, const uint8_t id[32], const struct tj_identity *who,
                    struct tj_keyring *kr)
{
	static uint8_t plain[TT_REC_CAP], copy[TT_REC_CAP];
	struct tj_circle_body *b = malloc(sizeof(*b));
	struct tj_record rec;
	struct tj_txn t;
	const uint8_t *enc;
	uint8_t rid[32], key[32];
	size_t elen = 0, plen = 0;
	int rc;

	assert_non_null(b);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, id, &enc, &elen), 0);
	memcpy(copy, enc, elen);
	tj_txn_abort(&t);
	assert_int_equal(tj_record_verify(copy, elen, &rec, rid), 0);
	assert_int_equal(rec.kind, TJ_KIND_CIRCLE);
	assert_int_equal(tj_record_open(copy, &rec, who, tj_keyring_lookup, kr, plain, sizeof(plain), &plen),
	                 0);
	assert_int_equal(tj_circle_body_decode(plain, plen, b), 0);
	rc = tj_circle_open_key(b, who, key);
	if (rc == 0)
		assert_int_equal(tj_keyring_add_circle(kr, key), 0);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(plain, sizeof(plain));
	free(b);
	return rc;
}

/* An incident added by the node with its case face (and optionally its summary) sealed to circles. */
static int add_to(struct tr_fx *f, const char *case_circle, const char *summary_circle, uint8_t id[32],
                  uint8_t case_id[32])
{
	uint8_t summary[4096], kase[4096], zero[32] = {0};
	struct tj_add_item it;
	size_t slen = 0, clen = 0;

	tr_bodies(zero, summary, &slen, kase, &clen);
	memset(&it, 0, sizeof(it));
	it.summary = summary;
	it.summary_len = slen;
	it.case_body = kase;
	it.case_len = clen;
	snprintf(it.case_circle, sizeof(it.case_circle), "%s", case_circle != NULL ? case_circle : "");
	snprintf(it.summary_circle, sizeof(it.summary_circle), "%s",
	         summary_circle != NULL ? summary_circle : "");
	assert_int_equal(tj_node_add(f->node, &it, 1), 0);
	if (it.err == 0) {
		memcpy(id, it.id, 32);
		memcpy(case_id, it.case_id, 32);
	}
	return it.err;
}

static uint64_t records(struct tr_fx *f)
{
	struct tj_node_status st;

	assert_int_equal(tj_node_status(f->node, &st), 0);
	return st.store.records;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_body_codec(void **state)
{
	struct tr_fx *f = *state;
	struct tj_circle_body *b = malloc(sizeof(*b)), *d = malloc(sizeof(*d));
	uint8_t key[32], nonce[16] = {1}, buf[TJ_CIRCLE_BODY_MAX_BYTES], out[32];
	uint8_t members[2][32];
	size_t len = 0;

	assert_non_null(b);
	assert_non_null(d);
	crypto_secretbox_keygen(key);
	memcpy(members[0], f->other->pk, 32);
	memcpy(members[1], f->third->pk, 32);
	assert_int_equal(tj_circle_body_make(b, f->node->network_id, f->other->pk, nonce, NAME, 1, key,
	                                     (const uint8_t(*)[32])members, 2),
	                 0);
	assert_int_equal(b->n_members, 2); /* the admin was among them already */
	assert_int_equal(tj_circle_body_encode(b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_circle_body_decode(buf, len, d), 0);
	assert_memory_equal(b, d, sizeof(*b));
	assert_int_equal(tj_circle_body_check(d, f->node->network_id, f->other->pk), 0);
	/* Another author cannot claim the circle; an author outside it is malformed. */
	assert_int_equal(tj_circle_body_check(d, f->node->network_id, f->node->u->id->pk), TJ_ENOTMEMBER);
	/* Each member opens the one key; a stranger does not. */
	assert_int_equal(tj_circle_open_key(d, f->third, out), 0);
	assert_memory_equal(out, key, 32);
	assert_int_equal(tj_circle_open_key(d, f->node->u->id, out), TJ_ENOKEY);
	/* A sealed key that is not the key id's is refused. */
	d->key_id[0] ^= 1;
	assert_int_equal(tj_circle_open_key(d, f->third, out), TJ_EDECRYPT);
	/* Every truncation and a flipped type byte are typed errors. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(tj_circle_body_decode(buf, cut, d), 0);
	/* Unsorted members: not the canonical list. */
	memcpy(d, b, sizeof(*d));
	memcpy(d->members[0], b->members[1], 32);
	memcpy(d->members[1], b->members[0], 32);
	assert_int_equal(tj_circle_body_encode(d, buf, sizeof(buf), &len), TJ_EMALFORMED);
	/* Names: no commas, no control characters, no invalid UTF-8, 1..64 bytes. */
	assert_true(tj_circle_name_ok("Contactos Oaxaca Ñuu Savi", strlen("Contactos Oaxaca Ñuu Savi")));
	assert_false(tj_circle_name_ok("a,b", 3));
	assert_false(tj_circle_name_ok("a\nb", 3));
	assert_false(tj_circle_name_ok("\xc3", 1));
	assert_false(tj_circle_name_ok("", 0));
	assert_false(
	    tj_circle_name_ok("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 65));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(out, sizeof(out));
	free(b);
	free(d);
}

/* More members than the bound: refused by make, by decode (TJ_ELIMIT) and by create. */
static void test_bound(void **state)
{
	struct tr_fx *f = *state;
	struct tj_circle_body *b = malloc(sizeof(*b));
	uint8_t(*many)[32] = calloc(TJ_CIRCLE_MEMBERS_MAX + 1, 32), key[32] = {7}, nonce[16] = {0}, cid[32],
	rid[32];
	uint8_t who[32], buf[TJ_CIRCLE_BODY_MAX_BYTES + 256], sealed[80] = {0};
	struct tj_mp_writer w;
	size_t len = 0;

	assert_non_null(b);
	assert_non_null(many);
	for (uint32_t i = 0; i <= TJ_CIRCLE_MEMBERS_MAX; i++) {
		struct tj_identity *x = NULL;
		assert_int_equal(tj_identity_generate(&x), 0);
		memcpy(many[i], x->pk, 32);
		tj_identity_free(x);
	}
	assert_int_equal(tj_circle_body_make(b, f->node->network_id, many[0], nonce, NAME, 1, key,
	                                     (const uint8_t(*)[32])many, TJ_CIRCLE_MEMBERS_MAX + 1),
	                 TJ_ELIMIT);
	/* 64 others and the admin: 65. */
	assert_int_equal(
	    tj_circle_create(f->node, NAME, (const uint8_t(*)[32])many, TJ_CIRCLE_MEMBERS_MAX, cid, rid, who),
	    TJ_ENOTMEMBER); /* strangers are checked first */
	/* A hand-made body with 65 members. */
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 6);
	tj_mp_put_bin(&w, cid, 32);
	tj_mp_put_cstr(&w, NAME);
	tj_mp_put_bin(&w, nonce, 16);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_bin(&w, key, 32);
	tj_mp_put_array(&w, TJ_CIRCLE_MEMBERS_MAX + 1);
	for (uint32_t i = 0; i <= TJ_CIRCLE_MEMBERS_MAX; i++) {
		tj_mp_put_array(&w, 2);
		tj_mp_put_bin(&w, many[i], 32);
		tj_mp_put_bin(&w, sealed, 80);
	}
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	assert_int_equal(tj_circle_body_decode(buf, len, b), TJ_ELIMIT);
	free(many);
	free(b);
}

static void test_create_list_persist(void **state)
{
	struct tr_fx *f = *state;
	struct tj_circle_state *s;
	const struct tj_circle *c;
	struct tj_keyring *kr = NULL;
	struct tj_unlocked *u = NULL;
	uint8_t cid[32], rid[32], who[32], others[1][32];
	char path[128];
	struct tj_txn t;

	memcpy(others[0], f->other->pk, 32);
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 1, cid, rid, who), 0);
	assert_int_equal(f->node->keyring->n_circles, 1);
	s = load(f);
	assert_int_equal(s->n, 1);
	c = &s->circles[0];
	assert_string_equal(c->name, NAME);
	assert_memory_equal(c->id, cid, 32);
	assert_memory_equal(c->head, rid, 32);
	assert_memory_equal(c->admin, f->node->u->id->pk, 32);
	assert_int_equal(c->generation, 1);
	assert_int_equal(c->n_members, 2);
	assert_true(has_member(c, f->other->pk));
	assert_true(has_member(c, f->node->u->id->pk));
	assert_false(has_member(c, f->third->pk));
	assert_true(c->is_member);
	assert_true(c->holds_key);
	tj_circle_state_free(s);
	/* The same name again by the same admin: refused; an unknown member: refused. */
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 1, cid, rid, who),
	                 TJ_EEXIST);
	/* The keyring at rest holds the circle key: a restart keeps it. */
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_keyring_load(&t, f->node->u->storage_key, &kr), 0);
	tj_txn_abort(&t);
	assert_int_equal(kr->n_circles, 1);
	assert_memory_equal(kr->circles[0].id, f->node->keyring->circles[0].id, 32);
	tj_keyring_free(kr);
	tj_node_close(f->node);
	f->node = NULL;
	snprintf(path, sizeof(path), "%s/key", f->dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	s = load(f);
	assert_int_equal(s->n, 1);
	assert_true(s->circles[0].holds_key);
	tj_circle_state_free(s);
}

/* A circle created by another member, naming this node: the key is installed at ingest. */
static void test_member_installs(void **state)
{
	struct tr_fx *f = *state;
	struct author a = {.id = f->other};
	uint8_t *rec = malloc(TT_REC_CAP), nonce[16], members[1][32], key[32], rid[32], kid[32], id[32],
	        cid[32];
	struct tj_circle_state *s;
	size_t len;

	assert_non_null(rec);
	randombytes_buf(nonce, sizeof(nonce));
	memcpy(members[0], f->node->u->id->pk, 32);
	len =
	    circle_rec(f, &a, f->other->pk, nonce, NAME, 1, (const uint8_t(*)[32])members, 1, key, rec, rid);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	tj_sym_key_id(key, kid);
	assert_non_null(tj_keyring_lookup(f->node->keyring, TJ_SLOT_CIRCLE, kid));
	s = load(f);
	assert_int_equal(s->n, 1);
	assert_memory_equal(s->circles[0].admin, f->other->pk, 32);
	assert_true(s->circles[0].holds_key);
	assert_false(memcmp(s->circles[0].admin, f->node->u->id->pk, 32) == 0);
	tj_circle_state_free(s);
	/* This node is a member but not the admin: it seals to the circle, it cannot change it. */
	assert_int_equal(add_to(f, NAME, NULL, id, cid), 0);
	assert_int_equal(tj_circle_change(f->node, NAME, f->third->pk, true, cid, rid, &(uint64_t){0}),
	                 TJ_ENOTFOUND);
	sodium_memzero(key, sizeof(key));
	free(rec);
}

/* The case sealed to the circle: its members read it, others read the summary only. */
static void test_seal_open(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *in = member_keyring(f), *out = member_keyring(f);
	uint8_t cid[32], rid[32], who[32], others[1][32], id[32], case_id[32], id2[32], case2[32];
	struct tj_listed l;

	memcpy(others[0], f->other->pk, 32);
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 1, cid, rid, who), 0);
	assert_int_equal(take_key(f, rid, f->other, in), 0);
	assert_int_equal(take_key(f, rid, f->third, out), TJ_ENOKEY);
	assert_int_equal(add_to(f, NAME, NULL, id, case_id), 0);
	assert_int_equal(try_open(f, id, f->other, in), 0);
	assert_int_equal(try_open(f, case_id, f->other, in), 0);
	assert_int_equal(try_open(f, id, f->third, out), 0); /* the summary: the network */
	assert_int_equal(try_open(f, case_id, f->third, out), TJ_ENOKEY);
	/* The author still reads its case. */
	assert_int_equal(tj_node_show(f->node, id, 64, &l), 0);
	assert_string_equal(l.case_status, "readable");
	tj_listed_free(&l);
	/* The summary restricted to the circle too: the network outside it reads neither face. */
	assert_int_equal(add_to(f, NAME, NAME, id2, case2), 0);
	assert_int_equal(try_open(f, id2, f->other, in), 0);
	assert_int_equal(try_open(f, case2, f->other, in), 0);
	assert_int_equal(try_open(f, id2, f->third, out), TJ_ENOKEY);
	assert_int_equal(try_open(f, case2, f->third, out), TJ_ENOKEY);
	assert_int_equal(tj_node_show(f->node, id2, 64, &l), 0);
	assert_string_equal(l.case_status, "readable");
	tj_listed_free(&l);
	/* An unknown circle: refused with the reason, nothing stored. */
	{
		uint64_t before = records(f);
		assert_int_equal(add_to(f, "Nadie", NULL, id, case_id), TJ_ENOTFOUND);
		assert_int_equal(add_to(f, NULL, "Nadie", id, case_id), TJ_ENOTFOUND);
		assert_int_equal(records(f), before);
	}
	tj_keyring_free(in);
	tj_keyring_free(out);
}

/* Removal: a new generation without the removed member; what is sealed after stays closed to it. */
static void test_removal_rotates(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *removed = member_keyring(f), *kept = member_keyring(f);
	uint8_t cid[32], rid1[32], rid2[32], who[32], others[2][32], before[32], before_case[32], after[32];
	uint8_t after_case[32], cid2[32], x[32];
	struct tj_circle_state *s;
	uint64_t gen = 0, n_records;

	memcpy(others[0], f->other->pk, 32);
	memcpy(others[1], f->third->pk, 32);
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 2, cid, rid1, who), 0);
	assert_int_equal(take_key(f, rid1, f->other, removed), 0);
	assert_int_equal(take_key(f, rid1, f->third, kept), 0);
	assert_int_equal(add_to(f, NAME, NULL, before, before_case), 0);

	n_records = records(f);
	assert_int_equal(tj_circle_change(f->node, NAME, f->other->pk, false, cid2, rid2, &gen), 0);
	assert_int_equal(gen, 2);
	assert_memory_equal(cid2, cid, 32);
	assert_int_equal(records(f), n_records + 1);
	assert_int_equal(f->node->keyring->n_circles, 2);
	s = load(f);
	assert_int_equal(s->circles[0].generation, 2);
	assert_memory_equal(s->circles[0].head, rid2, 32);
	assert_false(has_member(&s->circles[0], f->other->pk));
	assert_true(has_member(&s->circles[0], f->third->pk));
	tj_circle_state_free(s);
	/* The removed member is not in the new generation; the kept one is. */
	assert_int_equal(take_key(f, rid2, f->other, removed), TJ_ENOKEY);
	assert_int_equal(take_key(f, rid2, f->third, kept), 0);
	assert_int_equal(add_to(f, NAME, NULL, after, after_case), 0);
	assert_int_equal(try_open(f, before_case, f->other, removed), 0); /* what it had */
	assert_int_not_equal(try_open(f, after_case, f->other, removed), 0);
	assert_int_equal(try_open(f, before_case, f->third, kept), 0);
	assert_int_equal(try_open(f, after_case, f->third, kept), 0);
	/* Removing someone not in it, the admin itself, or adding one twice: refused, nothing written. */
	n_records = records(f);
	assert_int_equal(tj_circle_change(f->node, NAME, f->other->pk, false, x, x, &gen), TJ_ENOTFOUND);
	assert_int_equal(tj_circle_change(f->node, NAME, f->node->u->id->pk, false, x, x, &gen), TJ_ESTATE);
	assert_int_equal(tj_circle_change(f->node, NAME, f->third->pk, true, x, x, &gen), TJ_EEXIST);
	assert_int_equal(tj_circle_change(f->node, "Nadie", f->third->pk, true, x, x, &gen), TJ_ENOTFOUND);
	assert_int_equal(records(f), n_records);
	/* Adding back: generation 3, a fresh key again. */
	assert_int_equal(tj_circle_change(f->node, NAME, f->other->pk, true, x, rid2, &gen), 0);
	assert_int_equal(gen, 3);
	assert_int_equal(f->node->keyring->n_circles, 3);
	tj_keyring_free(removed);
	tj_keyring_free(kept);
}

/* Opens a stored case through the grants stored for it, as who with keyring kr. */
static int open_granted(struct tr_fx *f, const uint8_t case_id[32], const struct tj_identity *who,
                        struct tj_keyring *kr)
{
	struct tj_record rec;
	struct tj_txn t;
	const uint8_t *enc;
	uint8_t rid[32], *plain = NULL;
	size_t elen = 0, plen = 0;
	int rc;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, case_id, &enc, &elen), 0);
	assert_int_equal(tj_record_verify(enc, elen, &rec, rid), 0);
	rc = tj_share_open_case_keys(&t, who, tj_keyring_lookup, kr, case_id, enc, &rec, &plain, &plen);
	tj_txn_abort(&t);
	if (plain != NULL) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	return rc;
}

/* An older case shared with the circle later: its members open it through the grant, others do not. */
static void test_share_with_circle(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *in = member_keyring(f), *out = member_keyring(f);
	uint8_t cid[32], rid[32], who[32], others[1][32], id[32], case_id[32], got[32], grant[32];

	memcpy(others[0], f->other->pk, 32);
	assert_int_equal(add_to(f, NULL, NULL, id, case_id), 0);
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 1, cid, rid, who), 0);
	assert_int_equal(take_key(f, rid, f->other, in), 0);
	assert_int_equal(open_granted(f, case_id, f->other, in), TJ_ENOKEY);
	assert_int_equal(tj_share_grant_circle(f->node, id, 64, NULL, 0, "Nadie", got, grant), TJ_ENOTFOUND);
	assert_int_equal(tj_share_grant_circle(f->node, id, 64, NULL, 0, NAME, got, grant), 0);
	assert_memory_equal(got, case_id, 32);
	assert_int_equal(open_granted(f, case_id, f->other, in), 0);
	assert_int_equal(open_granted(f, case_id, f->third, out), TJ_ENOKEY);
	/* The grant record itself opens for the circle's members (its circle slot), not for others. */
	assert_int_equal(try_open(f, grant, f->other, in), 0);
	assert_int_equal(try_open(f, grant, f->third, out), TJ_ENOKEY);
	tj_keyring_free(in);
	tj_keyring_free(out);
}

/*
 * A member of the circle removed from the network still holds the circle's
 * key: nothing is sealed to the circle until its admin removes it.
 */
static void test_network_removal(void **state)
{
	struct tr_fx *f = *state;
	struct tj_member_body mb;
	uint8_t cid[32], rid[32], who[32], others[2][32], id[32], case_id[32], pid[32];
	struct tj_identity *x = NULL;
	uint64_t gen = 0;

	memcpy(others[0], f->other->pk, 32);
	memcpy(others[1], f->third->pk, 32);
	assert_int_equal(tj_circle_create(f->node, NAME, (const uint8_t(*)[32])others, 2, cid, rid, who), 0);
	memset(&mb, 0, sizeof(mb));
	mb.action = TJ_MEMBER_REMOVE;
	memcpy(mb.subject, f->other->pk, 32);
	snprintf(mb.reason, sizeof(mb.reason), "left-org");
	assert_int_equal(tj_member_propose(f->node, &mb, pid), 0);
	assert_false(tj_member_is_member(f->node->store, f->other->pk));
	assert_int_equal(add_to(f, NAME, NULL, id, case_id), TJ_ENOTMEMBER);
	assert_int_equal(add_to(f, NULL, NAME, id, case_id), TJ_ENOTMEMBER);
	/* Changing it otherwise is refused too; removing the departed organization is the way. */
	assert_int_equal(tj_identity_generate(&x), 0);
	tr_admit(f, x);
	assert_int_equal(tj_circle_change(f->node, NAME, x->pk, true, cid, rid, &gen), TJ_ENOTMEMBER);
	assert_int_equal(tj_circle_change(f->node, NAME, f->other->pk, false, cid, rid, &gen), 0);
	assert_int_equal(gen, 2);
	assert_int_equal(add_to(f, NAME, NULL, id, case_id), 0);
	tj_identity_free(x);
}

/* Records that must be refused at ingest, each leaving the state as it was. */
static void test_refusals(void **state)
{
	struct tr_fx *f = *state;
	struct tj_identity *stranger = NULL;
	struct author o = {.id = f->other}, th = {.id = f->third}, st;
	uint8_t *rec = malloc(TT_REC_CAP), nonce[16], m[2][32], rid[32], rid2[32], rid_old[32];
	struct tj_circle_state *s;
	size_t len, len_old;
	uint64_t n_records;

	assert_non_null(rec);
	assert_int_equal(tj_identity_generate(&stranger), 0);
	st = (struct author){.id = stranger};
	randombytes_buf(nonce, sizeof(nonce));
	/* other's circle with this node: generations 1 and 2 (the replay is tried below). */
	memcpy(m[0], f->node->u->id->pk, 32);
	len_old =
	    circle_rec(f, &o, f->other->pk, nonce, NAME, 1, (const uint8_t(*)[32])m, 1, NULL, rec, rid_old);
	{
		uint8_t *old = malloc(len_old);
		assert_non_null(old);
		memcpy(old, rec, len_old);
		memcpy(m[1], f->third->pk, 32);
		len = circle_rec(f, &o, f->other->pk, nonce, NAME, 2, (const uint8_t(*)[32])m, 2, NULL, rec,
		                 rid);
		assert_int_equal(tr_ingest(f, rec, len), 0);
		/* The older generation arrives after the newer: stored, but the head stays generation 2. */
		assert_int_equal(tr_ingest(f, old, len_old), 0);
		assert_int_equal(tr_ingest(f, old, len_old), TJ_EEXIST);
		free(old);
	}
	s = load(f);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->circles[0].generation, 2);
	assert_memory_equal(s->circles[0].head, rid, 32);
	tj_circle_state_free(s);
	n_records = records(f);

	/* A change by a member that is not the admin (third claims other's circle, dropping this node). */
	memcpy(m[0], f->third->pk, 32);
	len = circle_rec(f, &th, f->other->pk, nonce, NAME, 3, (const uint8_t(*)[32])m, 1, NULL, rec, rid2);
	assert_int_equal(tr_ingest(f, rec, len), TJ_ENOTMEMBER);
	/* A record by an organization outside the network. */
	len = circle_rec(f, &st, stranger->pk, nonce, NAME, 1, NULL, 0, NULL, rec, rid2);
	assert_int_equal(tr_ingest(f, rec, len), TJ_ENOTMEMBER);
	/* A circle naming an organization outside the network. */
	th = (struct author){.id = f->third};
	memcpy(m[0], stranger->pk, 32);
	len = circle_rec(f, &th, f->third->pk, nonce, "Otro", 1, (const uint8_t(*)[32])m, 1, NULL, rec, rid2);
	assert_int_equal(tr_ingest(f, rec, len), TJ_ENOTMEMBER);
	/* A forged signature (one bit of the signature, then one of the body). */
	th = (struct author){.id = f->third};
	len = circle_rec(f, &th, f->third->pk, nonce, "Otro", 1, NULL, 0, NULL, rec, rid2);
	rec[len - 1] ^= 1;
	assert_int_equal(tr_ingest(f, rec, len), TJ_EBADSIG);
	rec[len - 1] ^= 1;
	rec[len - 70] ^= 1;
	assert_int_equal(tr_ingest(f, rec, len), TJ_EBADSIG);
	/* A well-signed record whose body is not a circle body. */
	th = (struct author){.id = f->third};
	len = seal_as(f, &th, TJ_KIND_CIRCLE, (const uint8_t *)"\x93\x01\x02\x03", 4, rec, rid2);
	assert_int_equal(tr_ingest(f, rec, len), TJ_EMALFORMED);

	assert_int_equal(records(f), n_records);
	s = load(f);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->circles[0].generation, 2);
	assert_memory_equal(s->circles[0].admin, f->other->pk, 32);
	assert_memory_equal(s->circles[0].head, rid, 32);
	tj_circle_state_free(s);
	tj_identity_free(stranger);
	free(rec);
}

/*
 * A CIRCLE record sealed to an epoch this node does not hold yet (its KEY
 * record comes later): stored and relayed unjudged, it changes nothing
 * here; once the KEY record is stored, the circle key is installed.
 */
static void test_unreadable_stored(void **state)
{
	struct tr_fx *f = *state;
	struct tj_circle_body *b = malloc(sizeof(*b));
	uint8_t k[32], nonce[16] = {3}, body[TJ_CIRCLE_BODY_MAX_BYTES], *rec = malloc(TT_REC_CAP), id[32];
	uint8_t members[1][32];
	struct tj_sym_key epoch;
	struct tj_circle_state *s;
	struct tj_seal_in in;
	size_t blen = 0, len = 0;

	assert_non_null(b);
	assert_non_null(rec);
	tt_sym(&epoch);
	crypto_secretbox_keygen(k);
	memcpy(members[0], f->node->u->id->pk, 32);
	assert_int_equal(tj_circle_body_make(b, f->node->network_id, f->other->pk, nonce, NAME, 1, k,
	                                     (const uint8_t(*)[32])members, 1),
	                 0);
	assert_int_equal(tj_circle_body_encode(b, body, sizeof(body), &blen), 0);
	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->node->network_id, 32);
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_CIRCLE;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch.id, 32);
	in.epoch = &epoch;
	in.body = body;
	in.body_len = blen;
	assert_int_equal(tj_record_seal(&in, f->other, rec, TT_REC_CAP, &len, id), 0);
	assert_int_equal(tr_ingest(f, rec, len), 0);
	assert_int_equal(f->node->keyring->n_circles, 0);
	s = load(f);
	assert_int_equal(s->n, 0);
	assert_int_equal(s->ignored, 1);
	tj_circle_state_free(s);
	/* The KEY record with that epoch key, by the steward (this node), sealed to this node. */
	{
		struct tj_rotate_body rb;
		uint8_t rbody[TJ_ROTATE_BODY_MAX_BYTES], readers[1][32], head[32];
		const uint8_t *v;
		size_t rlen = 0, vlen = 0;
		struct tj_txn t;

		memset(&rb, 0, sizeof(rb));
		rb.epoch = 1;
		memcpy(rb.epoch_key, epoch.key, 32);
		memcpy(rb.epoch_id, epoch.id, 32);
		crypto_secretbox_keygen(rb.network_key);
		rb.network_from_ms = tj_now_ms() + 3600u * 1000u;
		assert_int_equal(tj_rotate_body_encode(&rb, rbody, sizeof(rbody), &rlen), 0);
		assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
		assert_int_equal(tj_store_meta_get(&t, TJ_META_HEAD, &v, &vlen), 0);
		memset(&in, 0, sizeof(in));
		in.seq = tj_store_rd64(v) + 1;
		memcpy(head, v + 8, 32);
		tj_txn_abort(&t);
		memcpy(in.network_id, f->node->network_id, 32);
		in.has_prev = true;
		memcpy(in.prev, head, 32);
		in.ts_ms = tj_now_ms();
		in.kind = TJ_KIND_KEY;
		in.audience.type = TJ_AUD_NAMED;
		memcpy(readers[0], f->node->u->id->pk, 32);
		in.readers = (const uint8_t(*)[32])readers;
		in.n_readers = 1;
		in.body = rbody;
		in.body_len = rlen;
		assert_int_equal(tj_record_seal(&in, f->node->u->id, rec, TT_REC_CAP, &len, id), 0);
		assert_int_equal(tr_ingest(f, rec, len), 0);
		sodium_memzero(&rb, sizeof(rb));
		sodium_memzero(rbody, sizeof(rbody));
	}
	assert_int_equal(f->node->keyring->n_circles, 1);
	s = load(f);
	assert_int_equal(s->n, 1);
	assert_true(s->circles[0].holds_key);
	tj_circle_state_free(s);
	sodium_memzero(k, sizeof(k));
	sodium_free(epoch.key);
	free(rec);
	free(b);
}

/* One permutation of 0..n-1, from a seed. */
static void shuffle(size_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j;
		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % i;
		size_t tmp = p[i - 1];
		p[i - 1] = p[j];
		p[j] = tmp;
	}
}

#define N_SHUF 9

/*
 * Generations (some tied, some replayed, one forged) of two circles: the
 * state derived from them in many orders is one, and it is what the node
 * made of them at ingest.
 */
static void test_shuffled_orders(void **state)
{
	struct tr_fx *f = *state;
	struct author o = {.id = f->other}, th = {.id = f->third};
	uint8_t *recs[N_SHUF], ids[N_SHUF][32], nonce_a[16], nonce_b[16], m[3][32];
	const uint8_t *encs[N_SHUF];
	size_t lens[N_SHUF], perm[N_SHUF];
	struct tj_circle_state *ref = NULL, *s = NULL, *stored;
	size_t k = 0;

	randombytes_buf(nonce_a, 16);
	randombytes_buf(nonce_b, 16);
	for (size_t i = 0; i < N_SHUF; i++)
		assert_non_null(recs[i] = malloc(TT_REC_CAP));
	memcpy(m[0], f->node->u->id->pk, 32);
	memcpy(m[1], f->third->pk, 32);
	/* Circle A (admin other): 1 {node}, 2 {node, third}, 3 {third}, and a second generation 3 {node}
	 * (tie). */
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_a, "A", 1, (const uint8_t(*)[32])m, 1, NULL, recs[k],
	                     ids[k]);
	k++;
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_a, "A", 2, (const uint8_t(*)[32])m, 2, NULL, recs[k],
	                     ids[k]);
	k++;
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_a, "A", 3, (const uint8_t(*)[32])m + 1, 1, NULL,
	                     recs[k], ids[k]);
	k++;
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_a, "A", 3, (const uint8_t(*)[32])m, 1, NULL, recs[k],
	                     ids[k]);
	k++;
	/* Circle B (admin third): 1 {node}, 2 {}, and a forged 4 by other. */
	lens[k] = circle_rec(f, &th, f->third->pk, nonce_b, "B", 1, (const uint8_t(*)[32])m, 1, NULL, recs[k],
	                     ids[k]);
	k++;
	lens[k] = circle_rec(f, &th, f->third->pk, nonce_b, "B", 2, NULL, 0, NULL, recs[k], ids[k]);
	k++;
	lens[k] = circle_rec(f, &o, f->third->pk, nonce_b, "B", 4, (const uint8_t(*)[32])m, 1, NULL, recs[k],
	                     ids[k]);
	k++;
	/* Circle C (admin other): generation 5 written before generation 1. */
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_b, "C", 5, (const uint8_t(*)[32])m, 2, NULL, recs[k],
	                     ids[k]);
	k++;
	lens[k] = circle_rec(f, &o, f->other->pk, nonce_b, "C", 1, (const uint8_t(*)[32])m, 1, NULL, recs[k],
	                     ids[k]);
	k++;
	assert_int_equal(k, N_SHUF);

	assert_int_equal(tj_circle_state_new(&ref), 0);
	assert_int_equal(tj_circle_state_new(&s), 0);
	for (uint32_t round = 0; round < 40; round++) {
		shuffle(perm, N_SHUF, round * 7919u + 1u);
		size_t pl[N_SHUF];
		for (size_t i = 0; i < N_SHUF; i++) {
			encs[i] = recs[perm[i]];
			pl[i] = lens[perm[i]];
		}
		assert_int_equal(tj_circle_derive(f->node->network_id, encs, pl, N_SHUF, f->node->u->id,
		                                  tj_keyring_lookup, f->node->keyring, round == 0 ? ref : s),
		                 0);
		if (round > 0)
			assert_memory_equal(s, ref, sizeof(*s));
	}
	assert_int_equal(ref->n, 3);
	assert_int_equal(ref->ignored, 1); /* the forged one */
	assert_string_equal(ref->circles[0].name, "A");
	assert_int_equal(ref->circles[0].generation, 3);
	assert_memory_equal(ref->circles[0].head, memcmp(ids[2], ids[3], 32) < 0 ? ids[2] : ids[3], 32);
	assert_string_equal(ref->circles[1].name, "B");
	assert_int_equal(ref->circles[1].generation, 2);
	assert_int_equal(ref->circles[1].n_members, 1);
	assert_int_equal(ref->circles[2].generation, 5);
	/* Ingest in a shuffled order (refused ones stay out), then what the node derives is the same. */
	shuffle(perm, N_SHUF, 4242u);
	for (size_t i = 0; i < N_SHUF; i++) {
		int r = tr_ingest(f, recs[perm[i]], lens[perm[i]]);
		assert_true(r == 0 || (perm[i] == 6 && r == TJ_ENOTMEMBER));
	}
	/* Again in the written order: all there already, the forged one refused again. */
	for (size_t i = 0; i < N_SHUF; i++) {
		int r = tr_ingest(f, recs[i], lens[i]);
		assert_true(r == 0 || r == TJ_EEXIST || (i == 6 && r == TJ_ENOTMEMBER));
	}
	stored = load(f);
	/* holds_key depends on the keyring, which now holds what ingest installed: derive again with it. */
	for (size_t i = 0; i < N_SHUF; i++)
		encs[i] = recs[i];
	assert_int_equal(tj_circle_derive(f->node->network_id, encs, lens, N_SHUF, f->node->u->id,
	                                  tj_keyring_lookup, f->node->keyring, s),
	                 0);
	assert_int_equal(stored->n, s->n);
	for (size_t i = 0; i < s->n; i++)
		assert_memory_equal(&stored->circles[i], &s->circles[i], sizeof(s->circles[i]));
	/* This node is in C's head: its key was installed at ingest. */
	assert_true(s->circles[2].holds_key);
	assert_true(s->circles[2].is_member);
	tj_circle_state_free(stored);
	tj_circle_state_free(ref);
	tj_circle_state_free(s);
	for (size_t i = 0; i < N_SHUF; i++)
		free(recs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_body_codec, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_bound, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_create_list_persist, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_member_installs, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_seal_open, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_removal_rotates, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_share_with_circle, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_network_removal, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_stored, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_shuffled_orders, tr_setup, tr_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
