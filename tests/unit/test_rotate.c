/*
 * Key rotation (tj_rotate.h), through the C API on a real store: a removal
 * followed by tj_rotate; the removed member, with a copy of every record and
 * the keys it held, opens nothing written after; a remaining member opens the
 * KEY record and, with the keys in it, every record before and after; large
 * networks get one KEY record per 16 members; a KEY record of a non-steward,
 * or one that names a wrong key id, changes nothing; a removal makes a
 * rotation needed (tj_rotate_needed) until one is made, and tj_rotate_auto
 * makes it at once on the lowest-keyed steward, later on the others (a node
 * that joined after a rotation, with no epoch installed, does not decide).
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

#include "tj_ingest.h"
#include "tj_retract.h"
#include "tj_rotate.h"
#include "tj_shs.h"
#include "tj_trust_testutil.h"

/* The node's newest record (its chain head) and a copy of its bytes. */
static size_t head_record(struct tr_fx *f, uint8_t id[32], uint8_t *out)
{
	struct tj_txn t;
	const uint8_t *v, *enc;
	size_t len = 0, elen = 0;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, TJ_META_HEAD, &v, &len), 0);
	assert_int_equal(len, 40);
	memcpy(id, v + 8, 32);
	assert_int_equal(tj_store_get(&t, id, &enc, &elen), 0);
	memcpy(out, enc, elen);
	tj_txn_abort(&t);
	return elen;
}

static uint64_t head_seq(struct tr_fx *f)
{
	struct tj_txn t;
	const uint8_t *v;
	size_t len = 0;
	uint64_t seq;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_meta_get(&t, TJ_META_HEAD, &v, &len), 0);
	seq = tj_store_rd64(v);
	tj_txn_abort(&t);
	return seq;
}

/* Opens a stored record with who's identity and keyring kr; returns tj_record_open's result. */
static int try_open(struct tr_fx *f, const uint8_t id[32], const struct tj_identity *who,
                    struct tj_keyring *kr)
{
	static uint8_t plain[TT_REC_CAP];
	struct tj_record rec;
	struct tj_txn t;
	const uint8_t *enc;
	uint8_t copy[TT_REC_CAP], rid[32];
	size_t elen = 0, plen = 0;
	int rc;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_store_get(&t, id, &enc, &elen), 0);
	memcpy(copy, enc, elen); /* a copy of the store, as a removed member keeps it */
	tj_txn_abort(&t);
	assert_int_equal(tj_record_verify(copy, elen, &rec, rid), 0);
	rc = tj_record_open(copy, &rec, who, tj_keyring_lookup, kr, plain, sizeof(plain), &plen);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

/* The keys a member held before the rotation: what its welcome gave it. */
static struct tj_keyring *copy_keyring(struct tr_fx *f)
{
	struct tj_keyring *kr = NULL;

	assert_int_equal(tj_keyring_new(&kr), 0);
	for (uint32_t i = 0; i < f->node->keyring->n_epochs; i++)
		assert_int_equal(tj_keyring_add_epoch(kr, f->node->keyring->epochs[i].key,
		                                      i == f->node->keyring->current_epoch),
		                 0);
	assert_int_equal(tj_keyring_set_network_key(kr, f->node->keyring->network_key), 0);
	return kr;
}

static void remove_member(struct tr_fx *f, const struct tj_identity *who)
{
	struct tj_member_body b;
	uint8_t id[32];

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_REMOVE;
	memcpy(b.subject, who->pk, 32);
	snprintf(b.reason, sizeof(b.reason), "left-org");
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
	assert_false(tj_member_is_member(f->node->store, who->pk));
}

static void test_removal_rotates(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *removed = copy_keyring(f), *kept = copy_keyring(f);
	uint8_t before[32], before_case[32], after[32], after_case[32], key_id[32], old_epoch[32];
	uint8_t old_nk[32], *key_rec = malloc(TT_REC_CAP), plain[TJ_ROTATE_BODY_MAX_BYTES];
	struct tj_rotate_body b;
	struct tj_record rec;
	size_t len, plen = 0;
	uint64_t epoch = 0, seq;

	assert_non_null(key_rec);
	tr_add(f, before, before_case);
	assert_int_equal(try_open(f, before, f->other, removed), 0);
	memcpy(old_epoch, tj_keyring_current_epoch(f->node->keyring)->id, 32);
	memcpy(old_nk, f->node->keyring->network_key, 32);

	remove_member(f, f->other);
	seq = head_seq(f);
	assert_int_equal(tj_rotate(f->node, TJ_ROTATE_CHANGEOVER_MS, &epoch), 0);
	assert_int_equal(epoch, 1);
	assert_int_equal(head_seq(f), seq + 1); /* 2 members remain: one KEY record */
	len = head_record(f, key_id, key_rec);
	assert_memory_not_equal(tj_keyring_current_epoch(f->node->keyring)->id, old_epoch, 32);
	assert_true(f->node->keyring->has_next_network_key);
	assert_memory_not_equal(f->node->keyring->next_network_key, old_nk, 32);

	tr_add(f, after, after_case);
	/* The writer reads both. */
	assert_int_equal(try_open(f, before, f->node->u->id, f->node->keyring), 0);
	assert_int_equal(try_open(f, after, f->node->u->id, f->node->keyring), 0);
	assert_int_equal(try_open(f, after_case, f->node->u->id, f->node->keyring), 0);
	/* The removed member: nothing written after, not even the KEY record, opens. */
	assert_int_equal(try_open(f, before, f->other, removed), 0);
	assert_int_not_equal(try_open(f, key_id, f->other, removed), 0);
	assert_int_not_equal(try_open(f, after, f->other, removed), 0);
	assert_int_not_equal(try_open(f, after_case, f->other, removed), 0);
	/* A remaining member opens the KEY record and then reads before and after: no gap. */
	assert_int_equal(tj_record_verify(key_rec, len, &rec, key_id), 0);
	assert_int_equal(rec.kind, TJ_KIND_KEY);
	assert_int_equal(
	    tj_record_open(key_rec, &rec, f->third, tj_keyring_lookup, kept, plain, sizeof(plain), &plen), 0);
	assert_int_equal(tj_rotate_body_decode(plain, plen, &b), 0);
	assert_int_equal(b.epoch, 1);
	assert_memory_equal(b.epoch_id, tj_keyring_current_epoch(f->node->keyring)->id, 32);
	assert_int_equal(tj_keyring_add_epoch(kept, b.epoch_key, true), 0);
	assert_int_equal(try_open(f, before, f->third, kept), 0);
	assert_int_equal(try_open(f, after, f->third, kept), 0);
	/* A second rotation: epoch 2, and records after it still open for the steward. */
	assert_int_equal(tj_rotate(f->node, TJ_ROTATE_CHANGEOVER_MS, &epoch), 0);
	assert_int_equal(epoch, 2);
	tr_add(f, after, after_case);
	assert_int_equal(try_open(f, after, f->node->u->id, f->node->keyring), 0);
	assert_int_not_equal(try_open(f, after, f->third, kept), 0); /* kept has epoch 1 only */
	sodium_memzero(&b, sizeof(b));
	sodium_memzero(plain, sizeof(plain));
	tj_keyring_free(removed);
	tj_keyring_free(kept);
	free(key_rec);
}

/* The keyring survives a restart with its new epoch and next network key. */
static void test_rotation_persists(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *kr = NULL;
	struct tj_txn t;
	uint64_t epoch = 0;

	assert_int_equal(tj_rotate(f->node, TJ_ROTATE_CHANGEOVER_MS, &epoch), 0);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_keyring_load(&t, f->node->u->storage_key, &kr), 0);
	tj_txn_abort(&t);
	assert_true(kr->has_next_network_key);
	assert_memory_equal(kr->next_network_key, f->node->keyring->next_network_key, 32);
	assert_memory_equal(tj_keyring_current_epoch(kr)->id, tj_keyring_current_epoch(f->node->keyring)->id,
	                    32);
	assert_int_equal(kr->n_epochs, 2);
	tj_keyring_free(kr);
}

/* 20 members: more than 16 slots, so two KEY records with the same keys. */
static void test_split_records(void **state)
{
	struct tr_fx *f = *state;
	struct tj_identity *ids[17];
	uint64_t epoch = 0, seq;

	for (size_t i = 0; i < 17; i++) {
		assert_int_equal(tj_identity_generate(&ids[i]), 0);
		tr_admit(f, ids[i]);
	}
	seq = head_seq(f);
	assert_int_equal(tj_rotate(f->node, TJ_ROTATE_CHANGEOVER_MS, &epoch), 0); /* 20 members */
	assert_int_equal(head_seq(f), seq + 2);
	assert_int_equal(epoch, 1);
	assert_int_equal(f->node->keyring->n_epochs, 2);
	for (size_t i = 0; i < 17; i++)
		tj_identity_free(ids[i]);
}

/* A KEY record from a member that is no steward is stored but installs nothing. */
static void test_forged_key_record(void **state)
{
	struct tr_fx *f = *state;
	struct tj_rotate_body b;
	uint8_t body[TJ_ROTATE_BODY_MAX_BYTES], cur[32], id[32], *rec = malloc(TT_REC_CAP);
	uint8_t readers[1][32];
	size_t blen = 0, len = 0;

	assert_non_null(rec);
	memcpy(cur, tj_keyring_current_epoch(f->node->keyring)->id, 32);
	memset(&b, 0, sizeof(b));
	b.epoch = 99;
	crypto_secretbox_keygen(b.epoch_key);
	crypto_secretbox_keygen(b.network_key);
	tj_sym_key_id(b.epoch_key, b.epoch_id);
	assert_int_equal(tj_rotate_body_encode(&b, body, sizeof(body), &blen), 0);
	memcpy(readers[0], f->node->u->id->pk, 32);
	/* other is a member, not a steward; its KEY record is sealed to the steward's node. */
	{
		struct tj_seal_in in;

		memset(&in, 0, sizeof(in));
		memcpy(in.network_id, f->node->network_id, 32);
		in.ts_ms = tj_now_ms();
		in.kind = TJ_KIND_KEY;
		in.audience.type = TJ_AUD_NAMED;
		in.readers = (const uint8_t(*)[32])readers;
		in.n_readers = 1;
		in.body = body;
		in.body_len = blen;
		assert_int_equal(tj_record_seal(&in, f->other, rec, TT_REC_CAP, &len, id), 0);
	}
	assert_int_equal(tr_ingest(f, rec, len), 0);
	assert_memory_equal(tj_keyring_current_epoch(f->node->keyring)->id, cur, 32);
	assert_int_equal(f->node->keyring->n_epochs, 1);
	/* A body naming another key's id is refused. */
	b.epoch_id[0] ^= 1;
	assert_int_equal(tj_rotate_body_encode(&b, body, sizeof(body), &blen), 0);
	assert_int_equal(tj_rotate_body_decode(body, blen, &b), TJ_EMALFORMED);
	sodium_memzero(&b, sizeof(b));
	sodium_memzero(body, sizeof(body));
	free(rec);
}

/* Runs a handshake between two machines; the first error, or 0 when both are done. */
static int handshake(const uint8_t client_key[32], const struct tj_identity *client,
                     const uint8_t server_key[32], const struct tj_identity *server, void *members)
{
	struct tj_shs *c = NULL, *s = NULL;
	uint8_t a[TJ_SHS_OUT_MAX_BYTES], b[TJ_SHS_OUT_MAX_BYTES];
	size_t alen = 0, blen = 0;
	int rc;

	assert_int_equal(tj_shs_client_new(client_key, client, server->pk, &c), 0);
	assert_int_equal(tj_shs_server_new(server_key, server, tj_member_is_member, members, &s), 0);
	rc = tj_shs_step(c, NULL, 0, a, sizeof(a), &alen); /* msg1 */
	if (rc == 0)
		rc = tj_shs_step(s, a, alen, b, sizeof(b), &blen); /* msg2 */
	if (rc == 0)
		rc = tj_shs_step(c, b, blen, a, sizeof(a), &alen); /* msg3 */
	if (rc == 0)
		rc = tj_shs_step(s, a, alen, b, sizeof(b), &blen); /* msg4: authorize */
	if (rc == 0)
		rc = tj_shs_step(c, b, blen, a, sizeof(a), &alen);
	if (rc == 0 && (tj_shs_state(c) != TJ_SHS_DONE || tj_shs_state(s) != TJ_SHS_DONE))
		rc = TJ_ESTATE;
	tj_shs_free(c);
	tj_shs_free(s);
	return rc;
}

/*
 * The network key changeover: during it, the old key is dialled with and
 * both are accepted; after it, only the new one, so the removed member (who
 * holds only the old key) fails at msg1; even during it, the authorize step
 * refuses the removed member's key.
 */
static void test_network_key_changeover(void **state)
{
	struct tr_fx *f = *state;
	struct tj_keyring *removed = copy_keyring(f);
	const uint8_t *alt = NULL, *key;
	uint8_t old_nk[32], new_nk[32];
	uint64_t epoch = 0, now = tj_now_ms(), from;

	memcpy(old_nk, f->node->keyring->network_key, 32);
	remove_member(f, f->other);
	assert_int_equal(tj_rotate(f->node, 3600u * 1000u, &epoch), 0);
	memcpy(new_nk, f->node->keyring->next_network_key, 32);
	from = f->node->keyring->next_network_from_ms;
	assert_true(from >= now + 3600u * 1000u);
	/* During the changeover: dial with the old key, accept the new one too. */
	key = tj_keyring_handshake_key(f->node->keyring, now, &alt);
	assert_memory_equal(key, old_nk, 32);
	assert_non_null(alt);
	assert_memory_equal(alt, new_nk, 32);
	assert_int_equal(handshake(old_nk, f->third, key, f->node->u->id, f->node->store), 0);
	assert_int_equal(handshake(new_nk, f->third, alt, f->node->u->id, f->node->store), 0);
	/* The removed member knows the old key, and is refused at authorize. */
	assert_int_equal(handshake(removed->network_key, f->other, key, f->node->u->id, f->node->store),
	                 TJ_ENOTMEMBER);
	/* After it: the new key alone; the removed member fails at the first message. */
	key = tj_keyring_handshake_key(f->node->keyring, from, &alt);
	assert_memory_equal(key, new_nk, 32);
	assert_null(alt);
	assert_int_equal(handshake(new_nk, f->third, key, f->node->u->id, f->node->store), 0);
	assert_int_equal(handshake(removed->network_key, f->other, key, f->node->u->id, f->node->store),
	                 TJ_EDECRYPT);
	assert_int_equal(handshake(old_nk, f->third, key, f->node->u->id, f->node->store), TJ_EDECRYPT);
	tj_keyring_free(removed);
}

static bool rotate_needed(struct tr_fx *f, struct tj_member_state *s)
{
	struct tj_txn t;
	bool needed = true;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_rotate_needed(&t, f->node->keyring, s, &needed), 0);
	tj_txn_abort(&t);
	return needed;
}

static bool needed_now(struct tr_fx *f)
{
	struct tj_member_state *s = NULL;
	bool needed;

	assert_int_equal(tj_member_load(f->node->store, &s), 0);
	needed = rotate_needed(f, s);
	tj_member_state_free(s);
	return needed;
}

/* The ts of the node's newest record. */
static uint64_t head_ts(struct tr_fx *f)
{
	uint8_t id[32], rid[32], *buf = malloc(TT_REC_CAP);
	struct tj_record rec;
	size_t len;

	assert_non_null(buf);
	len = head_record(f, id, buf);
	assert_int_equal(tj_record_verify(buf, len, &rec, rid), 0);
	free(buf);
	return rec.ts_ms;
}

/*
 * tj_rotate_needed: no removal, nothing; a removal under epoch 0, needed; a
 * rotation, not needed (and tj_rotate_auto writes nothing more); a KEY record
 * at or before the removal's ts, needed; another removal, needed again.
 */
static void test_rotate_needed(void **state)
{
	struct tr_fx *f = *state;
	struct tj_member_state *s = NULL;
	bool deferred = true;
	uint64_t epoch = 0, seq, key_ts;

	assert_false(needed_now(f));
	seq = head_seq(f);
	assert_int_equal(tj_rotate_auto(f->node, true, &deferred), 0);
	assert_false(deferred);
	assert_int_equal(head_seq(f), seq); /* nothing to do */
	/* A rotation with no removal: still nothing needed. */
	assert_int_equal(tj_rotate(f->node, TJ_ROTATE_CHANGEOVER_MS, &epoch), 0);
	assert_false(needed_now(f));

	remove_member(f, f->other);
	assert_true(needed_now(f));
	seq = head_seq(f);
	/* The only steward is the first: it rotates at once, then never again for this removal. */
	assert_int_equal(tj_rotate_auto(f->node, true, &deferred), 0);
	assert_false(deferred);
	assert_int_equal(head_seq(f), seq + 1);
	key_ts = head_ts(f);
	assert_false(needed_now(f));
	assert_int_equal(tj_rotate_auto(f->node, true, &deferred), 0);
	assert_int_equal(tj_rotate_auto(f->node, false, &deferred), 0);
	assert_false(deferred);
	assert_int_equal(head_seq(f), seq + 1);
	assert_int_equal(f->node->keyring->n_epochs, 3);

	/* The order is by ts: a KEY record at or before the removal's ts predates it. */
	assert_int_equal(tj_member_load(f->node->store, &s), 0);
	assert_int_equal(s->n_removed, 1);
	assert_true(s->removed_ms < key_ts);
	s->removed_ms = key_ts;
	assert_true(rotate_needed(f, s));
	s->removed_ms = key_ts - 1;
	assert_false(rotate_needed(f, s));
	s->n_removed = 0;
	assert_false(rotate_needed(f, s));
	tj_member_state_free(s);

	/* Another removal: needed again, until the next rotation. */
	remove_member(f, f->third);
	assert_true(needed_now(f));
	assert_int_equal(tj_rotate_auto(f->node, true, &deferred), 0);
	assert_false(needed_now(f));
	assert_int_equal(f->node->keyring->n_epochs, 4);
}

/* No epoch installed: needed after a removal, unless the keyring shows a node that joined after a rotation. */
static void test_rotate_needed_joined(void **state)
{
	struct tr_fx *f = *state;
	struct tj_member_state *s = NULL;
	struct tj_keyring *joined = copy_keyring(f);
	struct tj_txn t;
	uint8_t k[32];
	bool needed = false;

	crypto_secretbox_keygen(k);
	assert_int_equal(tj_keyring_add_epoch(joined, k, true), 0);
	remove_member(f, f->other);
	assert_int_equal(tj_member_load(f->node->store, &s), 0);
	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	assert_int_equal(tj_rotate_needed(&t, f->node->keyring, s, &needed), 0);
	assert_true(needed);
	assert_int_equal(tj_rotate_needed(&t, NULL, s, &needed), 0);
	assert_true(needed);
	assert_int_equal(tj_rotate_needed(&t, joined, s, &needed), 0);
	assert_false(needed);
	tj_txn_abort(&t);
	tj_member_state_free(s);
	tj_keyring_free(joined);
	sodium_memzero(k, sizeof(k));
}

/* Two stewards: the one with the lower key rotates at once, the other only when asked without deferring. */
static void test_rotate_auto_defers(void **state)
{
	struct tr_fx *f = *state;
	struct tj_member_body b;
	uint8_t id[32];
	bool deferred = false, first;
	uint64_t seq;

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ROLE;
	memcpy(b.subject, f->third->pk, 32);
	b.role = TJ_ROLE_STEWARD;
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
	remove_member(f, f->other);
	assert_true(needed_now(f));
	first = memcmp(f->node->u->id->pk, f->third->pk, 32) < 0;
	seq = head_seq(f);
	assert_int_equal(tj_rotate_auto(f->node, true, &deferred), 0);
	assert_int_equal(deferred, !first);
	assert_int_equal(head_seq(f), first ? seq + 1 : seq);
	assert_int_equal(needed_now(f), !first);
	assert_int_equal(tj_rotate_auto(f->node, false, &deferred), 0);
	assert_false(deferred);
	assert_int_equal(head_seq(f), seq + 1);
	assert_false(needed_now(f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_removal_rotates, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_persists, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_split_records, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_key_record, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_network_key_changeover, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_needed, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_needed_joined, tr_setup, tr_teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_auto_defers, tr_setup, tr_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
