/*
 * Helpers shared by test_retract and test_share: a founded node, other
 * identities admitted as members, incidents with a case face holding a
 * canary, and records sealed by those identities. Header-only.
 */
#ifndef TJ_TRUST_TESTUTIL_H
#define TJ_TRUST_TESTUTIL_H

#include "tj_member.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_node_testutil.h"

#define TR_CANARY "CANARIO-9f3b1c7ad2e84f06b5a1"

struct tr_fx {
	char dir[64];
	struct tj_node *node;
	struct tj_identity *other; /* an admitted member */
	struct tj_identity *third; /* another admitted member */
	uint64_t other_seq, third_seq;
	uint8_t other_head[32], third_head[32];
	bool other_has, third_has;
};

static inline void tr_admit(struct tr_fx *f, const struct tj_identity *who)
{
	struct tj_member_body b;
	uint8_t id[32];

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ADMIT;
	memcpy(b.subject, who->pk, 32);
	snprintf(b.name, sizeof(b.name), "Colectivo");
	b.role = TJ_ROLE_MEMBER;
	assert_int_equal(tj_member_propose(f->node, &b, id), 0);
}

static inline int tr_setup(void **state)
{
	struct tr_fx *f = calloc(1, sizeof(*f));
	struct tj_unlocked *u;

	assert_non_null(f);
	tt_tmpdir(f->dir);
	u = tt_unlocked(f->dir);
	assert_int_equal(tj_node_init(f->dir, u, NULL), 0);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	assert_int_equal(tj_identity_generate(&f->other), 0);
	assert_int_equal(tj_identity_generate(&f->third), 0);
	tr_admit(f, f->other);
	tr_admit(f, f->third);
	*state = f;
	return 0;
}

static inline int tr_teardown(void **state)
{
	struct tr_fx *f = *state;

	tj_node_close(f->node);
	tj_identity_free(f->other);
	tj_identity_free(f->third);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

/* Canonical bodies of an incident whose case face holds the canary (in a name and the narrative). */
static inline void tr_bodies(const uint8_t summary_id[32], uint8_t *summary, size_t *slen, uint8_t *kase,
                             size_t *clen)
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	char json[2048];

	snprintf(json, sizeof(json),
	         "{\"occurred\": {\"start\": \"2025-03-14\", \"precision\": \"day\"},"
	         " \"location\": {\"state\": \"20\", \"municipality\": \"20067\", \"place_type\": \"home\"},"
	         " \"victims\": [{\"ref\": \"v-1\", \"unit\": \"individual\", \"role\": \"defender\","
	         " \"gender\": \"woman\", \"age_band\": \"30_44\"}],"
	         " \"aggressors\": [{\"category\": \"state\", \"type\": \"municipal_police\","
	         " \"level\": \"municipal\", \"involvement\": \"direct\"}],"
	         " \"acts\": [{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}],"
	         " \"protection\": {\"status\": \"none\"},"
	         " \"source\": {\"type\": \"victim_testimony\", \"reliability\": \"usually_reliable\"},"
	         " \"verification\": \"confirmed\","
	         " \"case\": {\"victim_names\": [\"Persona %s\"], \"narrative\": \"Relato %s\","
	         " \"consent\": [\"network_statistics\"]}}",
	         TR_CANARY, TR_CANARY);
	assert_int_equal(tj_incident_from_json(json, strlen(json), TJ_LANG_EN, tj_now_ms(), &s, &c, &verr),
	                 0);
	assert_non_null(c);
	assert_int_equal(tj_incident_summary_encode(s, summary, 4096, slen), 0);
	assert_int_equal(tj_incident_case_encode(c, summary_id, kase, 4096, clen), 0);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
}

/* An incident with that case face added by the node. */
static inline void tr_add(struct tr_fx *f, uint8_t id[32], uint8_t case_id[32])
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
	assert_int_equal(tj_node_add(f->node, &it, 1), 0);
	assert_int_equal(it.err, 0);
	assert_true(it.has_case);
	memcpy(id, it.id, 32);
	memcpy(case_id, it.case_id, 32);
}

/* Seals a record as who (its next seq); NAMED audiences name ref and seal to readers. */
static inline size_t tr_seal(struct tr_fx *f, const struct tj_identity *who, uint8_t kind,
                             const uint8_t *body, size_t body_len, const uint8_t *named_ref,
                             const uint8_t (*readers)[32], uint32_t n_readers, uint8_t *out, uint8_t id[32])
{
	bool other = who == f->other;
	uint64_t *seq = other ? &f->other_seq : &f->third_seq;
	uint8_t *head = other ? f->other_head : f->third_head;
	bool *has = other ? &f->other_has : &f->third_has;
	struct tj_seal_in in;
	size_t len = 0;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->node->network_id, 32);
	in.seq = *has ? *seq + 1 : 0;
	in.has_prev = *has;
	memcpy(in.prev, head, 32);
	in.ts_ms = tj_now_ms();
	in.kind = kind;
	if (named_ref != NULL) {
		in.audience.type = TJ_AUD_NAMED;
		in.audience.has_ref = true;
		memcpy(in.audience.ref, named_ref, 32);
		in.readers = readers;
		in.n_readers = n_readers;
	} else {
		in.epoch = tj_keyring_current_epoch(f->node->keyring);
		in.audience.type = TJ_AUD_NETWORK;
		in.audience.has_ref = true;
		memcpy(in.audience.ref, in.epoch->id, 32);
	}
	in.body = body;
	in.body_len = body_len;
	assert_int_equal(tj_record_seal(&in, who, out, TT_REC_CAP, &len, id), 0);
	*seq = in.seq;
	*has = true;
	memcpy(head, id, 32);
	return len;
}

/* Ingests one record into the node's store; returns its result. */
static inline int tr_ingest(struct tr_fx *f, const uint8_t *enc, size_t len)
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

static inline bool tr_tombstoned(struct tr_fx *f, const uint8_t id[32])
{
	struct tj_txn t;
	int rc;

	assert_int_equal(tj_txn_begin(f->node->store, false, &t), 0);
	rc = tj_retract_is_tombstoned(&t, id);
	tj_txn_abort(&t);
	return rc == 0;
}

/* Does any file of the store hold s? (All at rest must be ciphertext.) */
static inline bool tr_store_holds(struct tr_fx *f, const char *s)
{
	char path[128];
	FILE *fp;
	uint8_t *buf;
	size_t n, len = strlen(s);
	bool found = false;

	snprintf(path, sizeof(path), "%s/store/data.mdb", f->dir);
	assert_non_null(fp = fopen(path, "rb"));
	assert_non_null(buf = malloc(256u << 20));
	n = fread(buf, 1, 256u << 20, fp);
	fclose(fp);
	assert_true(n > 0);
	for (size_t i = 0; i + len <= n && !found; i++)
		found = memcmp(buf + i, s, len) == 0;
	free(buf);
	return found;
}

#endif
