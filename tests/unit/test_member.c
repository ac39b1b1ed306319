/*
 * Membership derivation (tj_member.h), in memory: body codecs, threshold 1
 * and 2, the same record set in many orders gives one state, approvals that
 * sort before their proposal, and every record that must not count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_member.h"
#include "tj_node_testutil.h"

#define NW 8  /* identities */
#define NR 64 /* records */

enum { A, B, C, M, X, Y, Z, Q };

struct fx {
	struct tj_sym_key epoch;
	struct tj_identity *w[NW];
	uint64_t seq[NW];
	bool has[NW];
	uint8_t head[NW][32];
	uint8_t net[32];
	uint8_t *recs[NR];
	size_t lens[NR];
	uint8_t ids[NR][32];
	size_t n;
};

static const uint8_t *lookup(void *ctx, uint8_t slot_type, const uint8_t id[32])
{
	struct fx *f = ctx;

	return slot_type == TJ_SLOT_EPOCH && memcmp(id, f->epoch.id, 32) == 0 ? f->epoch.key : NULL;
}

/* Seals body as who's next record; returns its index. */
static size_t put(struct fx *f, int who, uint8_t kind, const uint8_t *body, size_t len, uint64_t ts)
{
	struct tj_seal_in in;
	size_t i = f->n++;

	assert_true(i < NR);
	memset(&in, 0, sizeof(in));
	if (kind != TJ_KIND_GENESIS)
		memcpy(in.network_id, f->net, 32);
	in.seq = f->has[who] ? f->seq[who] + 1 : 0;
	in.has_prev = f->has[who];
	memcpy(in.prev, f->head[who], 32);
	in.ts_ms = ts;
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, f->epoch.id, 32);
	in.epoch = &f->epoch;
	in.body = body;
	in.body_len = len;
	f->recs[i] = malloc(TT_REC_CAP);
	assert_non_null(f->recs[i]);
	assert_int_equal(tj_record_seal(&in, f->w[who], f->recs[i], TT_REC_CAP, &f->lens[i], f->ids[i]), 0);
	f->seq[who] = in.seq;
	f->has[who] = true;
	memcpy(f->head[who], f->ids[i], 32);
	return i;
}

/* The genesis: stewards[0..n) and threshold, authored by stewards[0]. */
static void genesis(struct fx *f, const int *stewards, size_t n, uint32_t threshold)
{
	uint8_t body[512];
	struct tj_mp_writer w;
	size_t len = 0, i;

	tj_mp_writer_init(&w, body, sizeof(body));
	tj_mp_put_array(&w, 3);
	tj_mp_put_cstr(&w, "Red de prueba");
	tj_mp_put_uint(&w, threshold);
	tj_mp_put_array(&w, (uint32_t)n);
	for (size_t k = 0; k < n; k++)
		tj_mp_put_bin(&w, f->w[stewards[k]]->pk, 32);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	i = put(f, stewards[0], TJ_KIND_GENESIS, body, len, 1000);
	memcpy(f->net, f->ids[i], 32);
}

static size_t propose(struct fx *f, int who, uint8_t action, int subject, uint8_t role, const char *states,
                      uint64_t ts)
{
	struct tj_member_body b;
	uint8_t body[TJ_MEMBER_BODY_MAX_BYTES];
	size_t len = 0;

	memset(&b, 0, sizeof(b));
	b.action = action;
	memcpy(b.subject, f->w[subject]->pk, 32);
	snprintf(b.name, sizeof(b.name), "Org %d", subject);
	b.role = role;
	assert_int_equal(tj_member_states_parse(states, &b), 0);
	assert_int_equal(tj_member_body_encode(&b, body, sizeof(body), &len), 0);
	return put(f, who, TJ_KIND_MEMBER, body, len, ts);
}

static size_t approve(struct fx *f, int who, size_t proposal, uint64_t ts)
{
	uint8_t body[64];
	size_t len = 0;

	assert_int_equal(tj_approval_body_encode(f->ids[proposal], body, sizeof(body), &len), 0);
	return put(f, who, TJ_KIND_APPROVAL, body, len, ts);
}

/* Derives from the records listed in order (NULL = all, as stored). */
static void derive(struct fx *f, const size_t *order, size_t n, struct tj_member_state *s)
{
	const uint8_t *encs[NR];
	size_t lens[NR];

	if (order == NULL)
		n = f->n;
	for (size_t i = 0; i < n; i++) {
		size_t k = order != NULL ? order[i] : i;
		encs[i] = f->recs[k];
		lens[i] = f->lens[k];
	}
	assert_int_equal(tj_member_derive(f->net, encs, lens, n, f->w[Q], lookup, f, s), 0);
}

static const struct tj_member *find(struct fx *f, const struct tj_member_state *s, int who)
{
	return tj_member_find(s, f->w[who]->pk);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t seed[32];

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	tt_sym(&f->epoch);
	for (int i = 0; i < NW; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		assert_int_equal(tj_identity_from_seed(seed, &f->w[i]), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < f->n; i++)
		free(f->recs[i]);
	for (int i = 0; i < NW; i++)
		tj_identity_free(f->w[i]);
	sodium_free(f->epoch.key);
	free(f);
	return 0;
}

static void test_body_codec(void **state)
{
	struct tj_member_body b, d;
	uint8_t buf[TJ_MEMBER_BODY_MAX_BYTES];
	size_t len = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_ADMIT;
	memset(b.subject, 7, 32);
	snprintf(b.name, sizeof(b.name), "Colectivo Tierra");
	b.role = TJ_ROLE_CONTACT;
	snprintf(b.reason, sizeof(b.reason), "vouched by two stewards");
	assert_int_equal(tj_member_states_parse("20,12", &b), 0);
	assert_int_equal(b.n_states, 2);
	assert_string_equal(b.states[0], "12");
	assert_string_equal(b.states[1], "20");
	assert_int_equal(tj_member_body_encode(&b, buf, sizeof(buf), &len), 0);
	assert_int_equal(tj_member_body_decode(buf, len, &d), 0);
	assert_int_equal(d.action, TJ_MEMBER_ADMIT);
	assert_int_equal(d.role, TJ_ROLE_CONTACT);
	assert_memory_equal(d.subject, b.subject, 32);
	assert_string_equal(d.name, "Colectivo Tierra");
	assert_string_equal(d.reason, "vouched by two stewards");
	assert_int_equal(d.n_states, 2);
	/* Every truncation is refused. */
	for (size_t i = 0; i < len; i++)
		assert_int_not_equal(tj_member_body_decode(buf, i, &d), 0);
	/* Bad state lists. */
	assert_int_equal(tj_member_states_parse("20,20", &b), -EINVAL);
	assert_int_equal(tj_member_states_parse("33", &b), -EINVAL);
	assert_int_equal(tj_member_states_parse("2", &b), -EINVAL);
	assert_int_equal(tj_member_states_parse("00", &b), -EINVAL);
	assert_int_equal(tj_member_states_parse("", &b), 0);
	assert_int_equal(b.n_states, 0);
}

/* Hand-made bodies: unsorted states, unknown action, nameless admit, a name with a newline. */
static void test_body_refused(void **state)
{
	static const char *const bad[][3] = {
	    {"admit", "Org", "20 12"}, /* states out of order */
	    {"adopt", "Org", ""},
	    {"admit", "", ""},
	    {"admit", "Org\n", ""},
	};
	struct tj_member_body d;
	uint8_t buf[256], subject[32] = {1};
	struct tj_mp_writer w;
	size_t len = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tj_mp_writer_init(&w, buf, sizeof(buf));
		tj_mp_put_array(&w, 6);
		tj_mp_put_cstr(&w, bad[i][0]);
		tj_mp_put_bin(&w, subject, 32);
		tj_mp_put_cstr(&w, bad[i][1]);
		tj_mp_put_cstr(&w, "member");
		if (strcmp(bad[i][2], "20 12") == 0) {
			tj_mp_put_array(&w, 2);
			tj_mp_put_cstr(&w, "20");
			tj_mp_put_cstr(&w, "12");
		} else {
			tj_mp_put_array(&w, 0);
		}
		tj_mp_put_cstr(&w, "");
		assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
		assert_int_equal(tj_member_body_decode(buf, len, &d), TJ_EMALFORMED);
	}
	/* Seven elements, and a non-canonical uint inside. */
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 1);
	tj_mp_put_bin(&w, subject, 32);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	assert_int_equal(tj_member_body_decode(buf, len, &d), TJ_EMALFORMED);
	{
		static const uint8_t noncanon[] = {0x91, 0xcc, 0x05};
		assert_int_equal(tj_member_body_decode(noncanon, sizeof(noncanon), &d), TJ_ENONCANON);
	}
}

static void test_threshold1(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *s = NULL;
	const int st[] = {A};
	const struct tj_member *m;
	size_t pb;

	genesis(f, st, 1, 1);
	pb = propose(f, A, TJ_MEMBER_ADMIT, B, TJ_ROLE_MEMBER, "20", 2000);
	propose(f, A, TJ_MEMBER_ADMIT, C, TJ_ROLE_STEWARD, "", 3000);
	propose(f, C, TJ_MEMBER_ROLE, B, TJ_ROLE_CONTACT, "12,20", 4000);
	propose(f, C, TJ_MEMBER_REMOVE, A, TJ_ROLE_MEMBER, "", 5000);
	assert_int_equal(tj_member_state_new(&s), 0);
	derive(f, NULL, 0, s);
	assert_int_equal(s->threshold, 1);
	assert_int_equal(s->n, 2);
	assert_null(find(f, s, A));
	m = find(f, s, B);
	assert_non_null(m);
	assert_int_equal(m->role, TJ_ROLE_CONTACT);
	assert_int_equal(m->n_states, 2);
	assert_int_equal(m->since_ms, 2000);
	assert_string_equal(m->name, "Org 1");
	assert_memory_equal(m->proposal, f->ids[pb], 32);
	assert_int_equal(find(f, s, C)->role, TJ_ROLE_STEWARD);
	assert_int_equal(s->applied, 4);
	assert_int_equal(s->ignored, 0);
	/* A, once a steward, stays among those who may write membership records. */
	assert_int_equal(s->n_ever, 2);
	tj_member_state_free(s);
}

static void shuffle(size_t *order, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = randombytes_uniform((uint32_t)(i + 1));
		size_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

/* Derives in `rounds` random orders; each state must equal the one from the stored order. */
static void assert_order_free(struct fx *f, unsigned rounds)
{
	struct tj_member_state *ref = NULL, *s = NULL;
	size_t order[NR];

	assert_int_equal(tj_member_state_new(&ref), 0);
	assert_int_equal(tj_member_state_new(&s), 0);
	derive(f, NULL, 0, ref);
	for (size_t i = 0; i < f->n; i++)
		order[i] = i;
	for (unsigned r = 0; r < rounds; r++) {
		shuffle(order, f->n);
		derive(f, order, f->n, s);
		assert_memory_equal(s, ref, sizeof(*s));
	}
	tj_member_state_free(ref);
	tj_member_state_free(s);
}

static void test_shuffled_orders_one_state(void **state)
{
	struct fx *f = *state;
	const int st[] = {A, B};
	size_t p;

	genesis(f, st, 2, 1);
	propose(f, A, TJ_MEMBER_ADMIT, C, TJ_ROLE_MEMBER, "20", 2000);
	propose(f, B, TJ_MEMBER_ADMIT, M, TJ_ROLE_CONTACT, "07,20", 2000); /* same ts: the id decides */
	propose(f, B, TJ_MEMBER_ADMIT, X, TJ_ROLE_STEWARD, "", 2100);
	p = propose(f, X, TJ_MEMBER_ADMIT, Y, TJ_ROLE_MEMBER, "", 2200);
	approve(f, A, p, 2300);                                      /* after it took effect: void */
	propose(f, C, TJ_MEMBER_ADMIT, Z, TJ_ROLE_MEMBER, "", 2400); /* not a steward: void */
	propose(f, A, TJ_MEMBER_ROLE, C, TJ_ROLE_STEWARD, "", 2500);
	propose(f, C, TJ_MEMBER_ADMIT, Z, TJ_ROLE_MEMBER, "", 2600); /* a steward now */
	propose(f, B, TJ_MEMBER_REMOVE, Y, TJ_ROLE_MEMBER, "", 2700);
	propose(f, A, TJ_MEMBER_ADMIT, C, TJ_ROLE_MEMBER, "", 2800); /* already a member: void */
	propose(f, X, TJ_MEMBER_REMOVE, A, TJ_ROLE_MEMBER, "", 2900);
	propose(f, A, TJ_MEMBER_ADMIT, Q, TJ_ROLE_MEMBER, "", 3000); /* removed: void */
	assert_order_free(f, 300);
	{
		struct tj_member_state *s = NULL;
		assert_int_equal(tj_member_state_new(&s), 0);
		derive(f, NULL, 0, s);
		assert_null(find(f, s, A));
		assert_null(find(f, s, Y));
		assert_null(find(f, s, Q));
		assert_non_null(find(f, s, Z));
		assert_int_equal(find(f, s, C)->role, TJ_ROLE_STEWARD);
		assert_int_equal(find(f, s, M)->role, TJ_ROLE_CONTACT);
		assert_int_equal(s->n, 5); /* B C M X Z, nobody else */
		assert_int_equal(s->ignored, 4);
		tj_member_state_free(s);
	}
}

static void test_threshold2_concurrent(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *s = NULL;
	const int st[] = {A, B, C};
	size_t px, py;

	genesis(f, st, 3, 2);
	px = propose(f, A, TJ_MEMBER_ADMIT, X, TJ_ROLE_MEMBER, "", 2000);
	py = propose(f, B, TJ_MEMBER_ADMIT, Y, TJ_ROLE_MEMBER, "", 2001);
	assert_int_equal(tj_member_state_new(&s), 0);
	derive(f, NULL, 0, s);
	assert_null(find(f, s, X)); /* one approval each: pending */
	assert_null(find(f, s, Y));
	approve(f, A, px, 2002); /* its own proposal again: does not count twice */
	derive(f, NULL, 0, s);
	assert_null(find(f, s, X));
	approve(f, C, px, 2003);
	derive(f, NULL, 0, s);
	assert_non_null(find(f, s, X));
	assert_int_equal(find(f, s, X)->since_ms, 2003);
	assert_null(find(f, s, Y));
	approve(f, A, py, 2004);
	approve(f, C, py, 2005); /* after it took effect: a replay */
	derive(f, NULL, 0, s);
	assert_non_null(find(f, s, Y));
	assert_int_equal(find(f, s, Y)->since_ms, 2004);
	assert_int_equal(s->applied, 2);
	assert_int_equal(s->ignored, 2);
	tj_member_state_free(s);
	assert_order_free(f, 200);
}

/* A second steward's clock is behind: its approval sorts before the proposal and still counts. */
static void test_approval_before_proposal(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *s = NULL;
	const int st[] = {A, B};
	size_t p;

	genesis(f, st, 2, 2);
	p = propose(f, A, TJ_MEMBER_ADMIT, X, TJ_ROLE_MEMBER, "", 5000);
	approve(f, B, p, 4000);
	assert_int_equal(tj_member_state_new(&s), 0);
	derive(f, NULL, 0, s);
	assert_non_null(find(f, s, X));
	assert_int_equal(find(f, s, X)->since_ms, 5000);
	tj_member_state_free(s);
}

/* Records that must not count: state unchanged, each one counted as ignored. */
static void test_refused_records(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *before = NULL, *s = NULL;
	const int st[] = {A, B};
	size_t px, pm;

	genesis(f, st, 2, 2);
	pm = propose(f, A, TJ_MEMBER_ADMIT, M, TJ_ROLE_MEMBER, "", 2000);
	approve(f, B, pm, 2001);
	px = propose(f, A, TJ_MEMBER_ADMIT, X, TJ_ROLE_MEMBER, "", 2002);
	assert_int_equal(tj_member_state_new(&before), 0);
	assert_int_equal(tj_member_state_new(&s), 0);
	derive(f, NULL, 0, before);
	assert_non_null(find(f, before, M));
	assert_null(find(f, before, X));

	approve(f, M, px, 2003);                                      /* a member, not a steward */
	propose(f, M, TJ_MEMBER_ADMIT, Y, TJ_ROLE_MEMBER, "", 2004);  /* a member's proposal */
	approve(f, Z, px, 2005);                                      /* a stranger */
	propose(f, A, TJ_MEMBER_REMOVE, B, TJ_ROLE_MEMBER, "", 2006); /* below the threshold, if approved */
	approve(f, B, pm, 2007);                                      /* replay after it took effect */
	derive(f, NULL, 0, s);
	assert_null(find(f, s, X));
	assert_null(find(f, s, Y));
	assert_int_equal(s->n, before->n);
	assert_int_equal(s->applied, before->applied);
	assert_int_equal(s->ignored, before->ignored + 4);
	/* The removal of B, approved by B itself, would leave one steward under threshold 2: void. */
	approve(f, B, f->n - 2, 2008);
	derive(f, NULL, 0, s);
	assert_non_null(find(f, s, B));
	assert_int_equal(find(f, s, B)->role, TJ_ROLE_STEWARD);
	tj_member_state_free(before);
	tj_member_state_free(s);
}

static void test_no_genesis(void **state)
{
	struct fx *f = *state;
	struct tj_member_state *s = NULL;
	const int st[] = {A};
	const uint8_t *encs[1];
	size_t lens[1];

	genesis(f, st, 1, 1);
	propose(f, A, TJ_MEMBER_ADMIT, B, TJ_ROLE_MEMBER, "", 2000);
	encs[0] = f->recs[1];
	lens[0] = f->lens[1];
	assert_int_equal(tj_member_state_new(&s), 0);
	assert_int_equal(tj_member_derive(f->net, encs, lens, 1, f->w[Q], lookup, f, s), TJ_ENOTFOUND);
	/* A record of the genesis with one flipped bit is not the genesis. */
	f->recs[0][f->lens[0] - 1] ^= 1;
	assert_int_equal(
	    tj_member_derive(f->net, (const uint8_t *const *)f->recs, f->lens, 2, f->w[Q], lookup, f, s),
	    TJ_ENOTFOUND);
	tj_member_state_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body_codec),
	    cmocka_unit_test(test_body_refused),
	    cmocka_unit_test_setup_teardown(test_threshold1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shuffled_orders_one_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threshold2_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_approval_before_proposal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_genesis, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
