/* Peer application messages (node/tj_wire.h): round trips and every refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tj_wire.h"

#define BUF_BYTES (TJ_WIRE_MSG_MAX_BYTES + 4096u)

static uint8_t *buf;
static struct tj_wire_msg *msg;

static int setup(void **state)
{
	(void)state;
	buf = malloc(BUF_BYTES);
	msg = malloc(sizeof(*msg));
	return buf == NULL || msg == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	free(buf);
	free(msg);
	return 0;
}

static size_t finish(struct tj_mp_writer *w)
{
	size_t len = 0;

	assert_int_equal(tj_mp_writer_finish(w, &len), 0);
	return len;
}

static size_t make_hello(uint64_t records)
{
	struct tj_mp_writer w;
	uint8_t net[32];

	memset(net, 0xab, sizeof(net));
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_hello(&w, net, records);
	return finish(&w);
}

static void test_hello_round_trip(void **state)
{
	size_t len = make_hello(123456789);
	uint8_t net[32];

	(void)state;
	memset(net, 0xab, sizeof(net));
	assert_true(len <= TJ_WIRE_HELLO_MAX_BYTES);
	assert_int_equal(tj_wire_decode(buf, len, false, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_HELLO);
	assert_int_equal(msg->version, TJ_WIRE_VERSION);
	assert_memory_equal(msg->network_id, net, 32);
	assert_int_equal(msg->records, 123456789);
	/* Said once: after HELLO another HELLO is a protocol error. */
	assert_int_equal(tj_wire_decode(buf, len, true, msg), TJ_EPROTO);
}

static void test_before_hello_only_hello(void **state)
{
	struct tj_mp_writer w;
	uint8_t id[32] = {1};
	size_t len;

	(void)state;
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_WANT, id, 1);
	len = finish(&w);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	/* Before HELLO the limits are tighter than any WANT: refused before its type is even read. */
	assert_int_not_equal(tj_wire_decode(buf, len, false, msg), 0);
	assert_int_equal(msg->type, 0);
	/* An oversized message before HELLO is refused on its size alone. */
	memset(buf, 0x90, TJ_WIRE_HELLO_MAX_BYTES + 1);
	assert_int_equal(tj_wire_decode(buf, TJ_WIRE_HELLO_MAX_BYTES + 1, false, msg), TJ_ELIMIT);
}

static void test_neg_round_trip(void **state)
{
	uint8_t neg[300];
	struct tj_mp_writer w;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(neg); i++)
		neg[i] = (uint8_t)(i * 7);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_neg(&w, neg, sizeof(neg));
	len = finish(&w);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_NEG);
	assert_int_equal(msg->neg.len, sizeof(neg));
	assert_memory_equal(msg->neg.p, neg, sizeof(neg));
}

static void test_ids_round_trip_and_caps(void **state)
{
	static uint8_t ids[(TJ_WIRE_HAVE_MAX + 1) * 32];
	struct tj_mp_writer w;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ids); i++)
		ids[i] = (uint8_t)(i ^ (i >> 5));
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_WANT, ids, TJ_WIRE_WANT_MAX);
	len = finish(&w);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_WANT);
	assert_int_equal(msg->n_ids, TJ_WIRE_WANT_MAX);
	for (uint32_t i = 0; i < msg->n_ids; i++)
		assert_memory_equal(msg->ids[i], ids + 32 * i, 32);
	/* One id over the WANT cap. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_WANT, ids, TJ_WIRE_WANT_MAX + 1);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_ELIMIT);
	/* HAVE: the whole cap, then one more. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_HAVE, ids, TJ_WIRE_HAVE_MAX);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	assert_int_equal(msg->n_ids, TJ_WIRE_HAVE_MAX);
	assert_memory_equal(msg->ids[TJ_WIRE_HAVE_MAX - 1], ids + 32 * (TJ_WIRE_HAVE_MAX - 1), 32);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_HAVE, ids, TJ_WIRE_HAVE_MAX + 1);
	assert_int_not_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	/* An empty list says nothing: refused. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_WANT, ids, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
}

static size_t make_records(uint8_t type, bool last, uint32_t n, size_t rec_len)
{
	static uint8_t rec[TJ_RECORD_MAX_BYTES + 1];
	struct tj_mp_writer w;

	for (size_t i = 0; i < rec_len; i++)
		rec[i] = (uint8_t)(i * 13 + 1);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_records_head(&w, type, last, n);
	for (uint32_t i = 0; i < n; i++)
		tj_mp_put_bin(&w, rec, rec_len);
	return finish(&w);
}

static void test_records_round_trip_and_caps(void **state)
{
	size_t len;

	(void)state;
	len = make_records(TJ_WIRE_RECORDS, true, 3, 500);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_RECORDS);
	assert_true(msg->last);
	assert_int_equal(msg->n_recs, 3);
	assert_int_equal(msg->recs[2].len, 500);
	assert_int_equal(msg->recs[2].p[1], 14);
	/* RECORDS may be empty (nothing held); PUSH may not. */
	len = make_records(TJ_WIRE_RECORDS, false, 0, 0);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_false(msg->last);
	assert_int_equal(msg->n_recs, 0);
	len = make_records(TJ_WIRE_PUSH, false, 0, 0);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), TJ_EMALFORMED);
	len = make_records(TJ_WIRE_PUSH, false, 2, 100);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_PUSH);
	/* Count, record size and total bytes over their caps. */
	len = make_records(TJ_WIRE_PUSH, false, TJ_WIRE_RECORDS_MAX + 1, 10);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), TJ_ELIMIT);
	len = make_records(TJ_WIRE_PUSH, false, 1, TJ_RECORD_MAX_BYTES + 1);
	assert_int_not_equal(tj_wire_decode(buf, len, true, msg), 0);
	len = make_records(TJ_WIRE_PUSH, false, 9, TJ_RECORD_MAX_BYTES);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), TJ_ELIMIT);
	len = make_records(TJ_WIRE_PUSH, false, 8, TJ_RECORD_MAX_BYTES);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
}

static void test_bye_round_trip(void **state)
{
	struct tj_mp_writer w;

	(void)state;
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_bye(&w, TJ_WIRE_BYE_QUOTA);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_BYE);
	assert_int_equal(msg->reason, TJ_WIRE_BYE_QUOTA);
}

/*
 * The liveness probe is a plain WANT of the all-zero id and its answer an
 * empty RECORDS: both decode with the rules every version has. BYE reasons
 * this node does not know are still a clean close.
 */
static void test_probe_and_duplicate_bye(void **state)
{
	struct tj_mp_writer w;
	size_t len;

	(void)state;
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_ids(&w, TJ_WIRE_WANT, tj_wire_probe_id, 1);
	len = finish(&w);
	assert_int_equal(len, 37);
	assert_int_equal(tj_wire_decode(buf, len, true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_WANT);
	assert_int_equal(msg->n_ids, 1);
	assert_memory_equal(msg->ids[0], tj_wire_probe_id, 32);
	/* Before HELLO it is refused like any WANT; cut short, refused. */
	assert_int_not_equal(tj_wire_decode(buf, len, false, msg), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(tj_wire_decode(buf, cut, true, msg), 0);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_records_head(&w, TJ_WIRE_RECORDS, true, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	assert_int_equal(msg->type, TJ_WIRE_RECORDS);
	assert_true(msg->last);
	assert_int_equal(msg->n_recs, 0);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_bye(&w, TJ_WIRE_BYE_DUPLICATE);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	assert_int_equal(msg->reason, TJ_WIRE_BYE_DUPLICATE);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_wire_put_bye(&w, UINT64_MAX); /* a reason from a newer node */
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	assert_true(msg->reason == UINT64_MAX);
}

/* Every strict prefix of every message is refused. */
static void test_truncated(void **state)
{
	static uint8_t copy[4096];
	size_t lens[3];

	(void)state;
	lens[0] = make_hello(7);
	memcpy(copy, buf, lens[0]);
	for (size_t cut = 0; cut < lens[0]; cut++)
		assert_int_not_equal(tj_wire_decode(copy, cut, false, msg), 0);
	lens[1] = make_records(TJ_WIRE_RECORDS, true, 4, 200);
	memcpy(copy, buf, lens[1]);
	for (size_t cut = 0; cut < lens[1]; cut++)
		assert_int_not_equal(tj_wire_decode(copy, cut, true, msg), 0);
	/* And a trailing byte. */
	copy[lens[1]] = 0xc0;
	assert_int_not_equal(tj_wire_decode(copy, lens[1] + 1, true, msg), 0);
}

/* Wrong types in each position, unknown types, extra elements. */
static void test_wrong_types(void **state)
{
	struct tj_mp_writer w;
	uint8_t id[32] = {0};

	(void)state;
	/* HELLO with a str network id. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 4);
	tj_mp_put_uint(&w, TJ_WIRE_HELLO);
	tj_mp_put_uint(&w, TJ_WIRE_VERSION);
	tj_mp_put_str(&w, (const char *)id, 32);
	tj_mp_put_uint(&w, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), false, msg), TJ_EMALFORMED);
	/* HELLO of another version. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 4);
	tj_mp_put_uint(&w, TJ_WIRE_HELLO);
	tj_mp_put_uint(&w, 99);
	tj_mp_put_bin(&w, id, 32);
	tj_mp_put_uint(&w, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), false, msg), TJ_EUNSUPPORTED);
	/* HELLO with a 31-byte network id, and one extra element. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 4);
	tj_mp_put_uint(&w, TJ_WIRE_HELLO);
	tj_mp_put_uint(&w, TJ_WIRE_VERSION);
	tj_mp_put_bin(&w, id, 31);
	tj_mp_put_uint(&w, 0);
	assert_int_not_equal(tj_wire_decode(buf, finish(&w), false, msg), 0);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, TJ_WIRE_HELLO);
	tj_mp_put_uint(&w, TJ_WIRE_VERSION);
	tj_mp_put_bin(&w, id, 32);
	tj_mp_put_uint(&w, 0);
	tj_mp_put_uint(&w, 0);
	/* Before HELLO the item budget is the HELLO's own: one more element is over it. */
	assert_int_equal(tj_wire_decode(buf, finish(&w), false, msg), TJ_ELIMIT);
	/* WANT with a 33-byte id; with a map instead of a list. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 2);
	tj_mp_put_uint(&w, TJ_WIRE_WANT);
	tj_mp_put_array(&w, 1);
	tj_mp_put_bin(&w, buf + 1000, 33);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 2);
	tj_mp_put_uint(&w, TJ_WIRE_WANT);
	tj_mp_put_map(&w, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
	/* RECORDS whose `last` is an integer. */
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 3);
	tj_mp_put_uint(&w, TJ_WIRE_RECORDS);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_array(&w, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
	/* Unknown types, a negative type, a type that is not an integer, a bare integer. */
	for (uint64_t t = 8; t < 300; t += 41) {
		tj_mp_writer_init(&w, buf, BUF_BYTES);
		tj_mp_put_array(&w, 1);
		tj_mp_put_uint(&w, t);
		assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EPROTO);
	}
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 1);
	tj_mp_put_int(&w, -1);
	assert_int_not_equal(tj_wire_decode(buf, finish(&w), true, msg), 0);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 2);
	tj_mp_put_cstr(&w, "neg");
	tj_mp_put_bin(&w, id, 4);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_uint(&w, TJ_WIRE_BYE);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_EMALFORMED);
	assert_int_equal(msg->type, 0);
}

/* Non-canonical encodings (a uint8 holding a fixint) are refused. */
static void test_non_canonical(void **state)
{
	static const uint8_t bye_long[] = {0x92, 0xcc, 0x07, 0x00};
	static const uint8_t bye_ok[] = {0x92, 0x07, 0x00};
	static const uint8_t bye_arr16[] = {0xdc, 0x00, 0x02, 0x07, 0x00};

	(void)state;
	assert_int_equal(tj_wire_decode(bye_ok, sizeof(bye_ok), true, msg), 0);
	assert_int_equal(tj_wire_decode(bye_long, sizeof(bye_long), true, msg), TJ_ENONCANON);
	assert_int_equal(tj_wire_decode(bye_arr16, sizeof(bye_arr16), true, msg), TJ_ENONCANON);
}

/* Every single-bit flip of a RECORDS message: refused, or decoded within every cap. */
static void test_flipped_bits(void **state)
{
	static uint8_t copy[4096];
	size_t len = make_records(TJ_WIRE_RECORDS, true, 2, 40), accepted = 0;

	(void)state;
	memcpy(copy, buf, len);
	for (size_t bit = 0; bit < len * 8; bit++) {
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = tj_wire_decode(copy, len, true, msg);
		if (rc == 0) {
			accepted++;
			assert_true(msg->type >= TJ_WIRE_NEG && msg->type <= TJ_WIRE_BYE);
			assert_true(msg->n_recs <= TJ_WIRE_RECORDS_MAX && msg->n_ids <= TJ_WIRE_HAVE_MAX);
			for (uint32_t i = 0; i < msg->n_recs; i++)
				assert_true(msg->recs[i].p >= copy && msg->recs[i].p + msg->recs[i].len <= copy + len);
		} else {
			assert_int_equal(msg->type, 0);
		}
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Flips inside the record bytes are the wire's business only as bytes: they decode. */
	assert_true(accepted >= 80 * 8);
	assert_true(accepted < len * 8);
}

/* Depth: a list nested where bins belong is refused by the bounded check. */
static void test_depth(void **state)
{
	struct tj_mp_writer w;

	(void)state;
	tj_mp_writer_init(&w, buf, BUF_BYTES);
	tj_mp_put_array(&w, 2);
	tj_mp_put_uint(&w, TJ_WIRE_PUSH);
	tj_mp_put_array(&w, 1);
	tj_mp_put_array(&w, 0);
	assert_int_equal(tj_wire_decode(buf, finish(&w), true, msg), TJ_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_round_trip),
		cmocka_unit_test(test_before_hello_only_hello),
		cmocka_unit_test(test_neg_round_trip),
		cmocka_unit_test(test_ids_round_trip_and_caps),
		cmocka_unit_test(test_records_round_trip_and_caps),
		cmocka_unit_test(test_bye_round_trip),
		cmocka_unit_test(test_probe_and_duplicate_bye),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_non_canonical),
		cmocka_unit_test(test_flipped_bits),
		cmocka_unit_test(test_depth),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
