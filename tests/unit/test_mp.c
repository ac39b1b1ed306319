/*
 * Canonical msgpack codec: writer known answers at every length boundary,
 * the bounded check (canonical forms, bombs, depth, truncation, ext), the
 * cursor reader, unpack, and the adversarial corpus.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tj_mp.h"

#define BIG_BYTES (70u * 1024u)
#define ADVERSARIAL_DIR TJ_TEST_DATA "/adversarial/msgpack"
#define ADVERSARIAL_MAX_BYTES (1u << 20)
#define ADVERSARIAL_BUDGET_MS 250.0

static const struct tj_mp_limits loose = {
    .max_depth = TJ_MP_DEPTH_MAX,
    .max_items = 65536,
    .max_str = 1u << 20,
    .canonical = false,
};

static int is_tj_error(int rc)
{
	return rc >= TJ_E_FIRST && rc < TJ_E_LAST;
}

/* Parses "cc 80 ..." into out; returns the byte count. */
static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (*s) {
		unsigned v;
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static int check_hex(const char *h, const struct tj_mp_limits *lim)
{
	uint8_t buf[64];
	size_t used;
	size_t n = hex(h, buf, sizeof(buf));
	return tj_mp_check(buf, n, lim, true, &used);
}

/* ---- writer known answers ---- */

static void expect_uint(uint64_t v, const char *want)
{
	uint8_t buf[16], exp[16];
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_uint(&w, v);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	size_t m = hex(want, exp, sizeof(exp));
	assert_int_equal(n, m);
	assert_memory_equal(buf, exp, m);
	assert_int_equal(check_hex(want, &tj_mp_limits_default), 0);
}

static void expect_int(int64_t v, const char *want)
{
	uint8_t buf[16], exp[16];
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_int(&w, v);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	size_t m = hex(want, exp, sizeof(exp));
	assert_int_equal(n, m);
	assert_memory_equal(buf, exp, m);
	assert_int_equal(check_hex(want, &tj_mp_limits_default), 0);
}

static void test_writer_uint_boundaries(void **state)
{
	(void)state;
	expect_uint(0, "00");
	expect_uint(127, "7f");
	expect_uint(128, "cc 80");
	expect_uint(255, "cc ff");
	expect_uint(256, "cd 01 00");
	expect_uint(65535, "cd ff ff");
	expect_uint(65536, "ce 00 01 00 00");
	expect_uint(UINT32_MAX, "ce ff ff ff ff");
	expect_uint((uint64_t)UINT32_MAX + 1, "cf 00 00 00 01 00 00 00 00");
	expect_uint(UINT64_MAX, "cf ff ff ff ff ff ff ff ff");
}

static void test_writer_int_boundaries(void **state)
{
	(void)state;
	expect_int(0, "00");
	expect_int(5, "05");
	expect_int(200, "cc c8"); /* non-negatives are written as uint */
	expect_int(INT64_MAX, "cf 7f ff ff ff ff ff ff ff");
	expect_int(-1, "ff");
	expect_int(-32, "e0");
	expect_int(-33, "d0 df");
	expect_int(-128, "d0 80");
	expect_int(-129, "d1 ff 7f");
	expect_int(-32768, "d1 80 00");
	expect_int(-32769, "d2 ff ff 7f ff");
	expect_int(INT32_MIN, "d2 80 00 00 00");
	expect_int((int64_t)INT32_MIN - 1, "d3 ff ff ff ff 7f ff ff ff");
	expect_int(INT64_MIN, "d3 80 00 00 00 00 00 00 00");
}

/* Writes a str/bin/array/map of n and checks the header bytes and the check. */
enum kind { K_STR, K_BIN, K_ARRAY, K_MAP };

static void expect_header(enum kind k, uint32_t n, const char *want)
{
	uint8_t *buf = malloc(6 * BIG_BYTES);
	char *payload = calloc(1, BIG_BYTES);
	uint8_t exp[8];
	struct tj_mp_writer w;
	size_t len, used;
	assert_non_null(buf);
	assert_non_null(payload);
	tj_mp_writer_init(&w, buf, 6 * BIG_BYTES);
	switch (k) {
	case K_STR:
		tj_mp_put_str(&w, payload, n);
		break;
	case K_BIN:
		tj_mp_put_bin(&w, payload, n);
		break;
	case K_ARRAY:
		tj_mp_put_array(&w, n);
		for (uint32_t i = 0; i < n; i++)
			tj_mp_put_nil(&w);
		break;
	case K_MAP:
		tj_mp_put_map(&w, n);
		for (uint32_t i = 0; i < n; i++) {
			tj_mp_put_uint(&w, i);
			tj_mp_put_nil(&w);
		}
		break;
	}
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	size_t m = hex(want, exp, sizeof(exp));
	assert_memory_equal(buf, exp, m);
	struct tj_mp_limits lim = tj_mp_limits_default;
	lim.max_items = 6 * BIG_BYTES;
	lim.max_str = BIG_BYTES;
	assert_int_equal(tj_mp_check(buf, len, &lim, true, &used), 0);
	assert_int_equal(used, len);
	free(payload);
	free(buf);
}

static void test_writer_length_boundaries(void **state)
{
	(void)state;
	expect_header(K_STR, 0, "a0");
	expect_header(K_STR, 31, "bf");
	expect_header(K_STR, 32, "d9 20");
	expect_header(K_STR, 255, "d9 ff");
	expect_header(K_STR, 256, "da 01 00");
	expect_header(K_STR, 65535, "da ff ff");
	expect_header(K_STR, 65536, "db 00 01 00 00");
	expect_header(K_BIN, 0, "c4 00");
	expect_header(K_BIN, 255, "c4 ff");
	expect_header(K_BIN, 256, "c5 01 00");
	expect_header(K_BIN, 65535, "c5 ff ff");
	expect_header(K_BIN, 65536, "c6 00 01 00 00");
	expect_header(K_ARRAY, 0, "90");
	expect_header(K_ARRAY, 15, "9f");
	expect_header(K_ARRAY, 16, "dc 00 10");
	expect_header(K_ARRAY, 65535, "dc ff ff");
	expect_header(K_ARRAY, 65536, "dd 00 01 00 00");
	expect_header(K_MAP, 0, "80");
	expect_header(K_MAP, 15, "8f");
	expect_header(K_MAP, 16, "de 00 10");
	expect_header(K_MAP, 65535, "de ff ff");
	expect_header(K_MAP, 65536, "df 00 01 00 00");
}

static void test_writer_scalars(void **state)
{
	(void)state;
	uint8_t buf[32], exp[32];
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_nil(&w);
	tj_mp_put_bool(&w, true);
	tj_mp_put_bool(&w, false);
	tj_mp_put_cstr(&w, "hola");
	tj_mp_put_raw(&w, "\x91\x01", 2);
	uint8_t *slot = tj_mp_put_bin_reserve(&w, 3);
	assert_non_null(slot);
	assert_memory_equal(slot, "\0\0\0", 3); /* reserved bytes start zeroed */
	memcpy(slot, "abc", 3);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	size_t m = hex("c0 c3 c2 a4 68 6f 6c 61 91 01 c4 03 61 62 63", exp, sizeof(exp));
	assert_int_equal(n, m);
	assert_memory_equal(buf, exp, m);
}

static void test_writer_overflow(void **state)
{
	(void)state;
	uint8_t buf[8];
	struct tj_mp_writer w;
	size_t n = 12345;

	memset(buf, 0xee, sizeof(buf));
	tj_mp_writer_init(&w, buf, 4);
	tj_mp_put_uint(&w, 1);        /* 1 byte */
	tj_mp_put_bin(&w, "xyzw", 4); /* 6 bytes: does not fit */
	tj_mp_put_nil(&w);            /* would fit, but the writer has stopped */
	assert_int_equal(tj_mp_writer_finish(&w, &n), TJ_ENOSPC);
	assert_int_equal(n, 12345); /* untouched on error */
	assert_true(w.len <= 4);
	assert_int_equal(buf[4], 0xee); /* nothing past cap */
	assert_int_equal(buf[0], 0x01);

	tj_mp_writer_init(&w, buf, 3);
	assert_null(tj_mp_put_bin_reserve(&w, 2)); /* 2 header + 2 > 3 */
	assert_int_equal(tj_mp_writer_finish(&w, &n), TJ_ENOSPC);

	tj_mp_writer_init(&w, buf, 0);
	tj_mp_put_raw(&w, "a", 1);
	assert_int_equal(tj_mp_writer_finish(&w, &n), TJ_ENOSPC);

	/* exactly full is fine */
	tj_mp_writer_init(&w, buf, 3);
	tj_mp_put_cstr(&w, "ab");
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	assert_int_equal(n, 3);
}

/* ---- check: canonical forms ---- */

/* Each non-shortest form: rejected when canonical, accepted otherwise. */
static void test_check_noncanonical(void **state)
{
	(void)state;
	static const char *const forms[] = {
	    "cc 00",
	    "cc 7f", /* uint8 < 128 */
	    "cd 00 ff",
	    "cd 00 00",                   /* uint16 < 256 */
	    "ce 00 00 ff ff",             /* uint32 < 65536 */
	    "cf 00 00 00 00 ff ff ff ff", /* uint64 < 2^32 */
	    "d0 00",
	    "d0 7f",
	    "d0 e0",
	    "d0 ff", /* int8 where a fixint or uint fits */
	    "d1 ff 80",
	    "d1 00 01", /* int16 >= -128 */
	    "d2 ff ff 80 00",
	    "d2 00 00 00 01",             /* int32 >= -32768 */
	    "d3 ff ff ff ff 80 00 00 00", /* int64 >= -2^31 */
	    "d3 00 00 00 00 00 00 00 01",
	    "d9 1f",
	    "d9 00", /* str8 < 32 (payload absent: form first) */
	    "da 00 00",
	    "da 00 ff",       /* str16 < 256 */
	    "c5 00 00",       /* bin16 < 256 */
	    "c6 00 00 00 00", /* bin32 < 65536 */
	    "dc 00 00",
	    "dc 00 0f",                   /* array16 < 16 */
	    "dd 00 00 00 00",             /* array32 < 65536 */
	    "de 00 00",                   /* map16 < 16 */
	    "df 00 00 00 00",             /* map32 < 65536 */
	    "db 00 00 00 00",             /* str32 < 65536 */
	    "ca 3f 80 00 00",             /* float32 */
	    "cb 3f f0 00 00 00 00 00 00", /* float64 */
	};
	for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
		int rc = check_hex(forms[k], &tj_mp_limits_default);
		if (rc != TJ_ENONCANON)
			fail_msg("form %zu (%s): got %d, want TJ_ENONCANON", k, forms[k], rc);
	}
	/* the ones complete without payload are fine in loose mode */
	assert_int_equal(check_hex("cc 05", &loose), 0);
	assert_int_equal(check_hex("d0 05", &loose), 0);
	assert_int_equal(check_hex("dc 00 00", &loose), 0);
	assert_int_equal(check_hex("c6 00 00 00 00", &loose), 0);
	assert_int_equal(check_hex("cb 3f f0 00 00 00 00 00 00", &loose), 0);
	assert_int_equal(check_hex("dc 00 01 c0", &loose), 0);
	/* and the shortest forms at the edge pass */
	assert_int_equal(check_hex("d0 df", &tj_mp_limits_default), 0);
	assert_int_equal(check_hex("d1 ff 7f", &tj_mp_limits_default), 0);
	assert_int_equal(check_hex("d2 ff ff 7f ff", &tj_mp_limits_default), 0);
}

/* A non-canonical element deep inside is found too. */
static void test_check_noncanonical_nested(void **state)
{
	(void)state;
	assert_int_equal(check_hex("92 01 91 cc 01", &tj_mp_limits_default), TJ_ENONCANON);
	assert_int_equal(check_hex("81 a1 61 d9 01 62", &tj_mp_limits_default), TJ_ENONCANON);
	assert_int_equal(check_hex("92 01 91 cc 01", &loose), 0);
}

/* ---- check: malformed, bombs, limits ---- */

static void test_check_ext_and_c1(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "c1",
	    "d4 01 00",
	    "d5 01 00 00",
	    "d6 01 00 00 00 00",
	    "d7 01 00 00 00 00 00 00 00 00",
	    "d8 01",
	    "c7 00 01",
	    "c8 00 00 01",
	    "c9 00 00 00 00 01",
	    "91 c1",
	    "81 a1 61 d4 01 00",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		assert_int_equal(check_hex(bad[k], &tj_mp_limits_default), TJ_EMALFORMED);
		assert_int_equal(check_hex(bad[k], &loose), TJ_EMALFORMED);
	}
}

static void test_check_bombs(void **state)
{
	(void)state;
	/* msgpack-c would allocate for these counts; the check refuses first */
	assert_int_equal(check_hex("dd ff 00 00 00", &tj_mp_limits_default), TJ_ELIMIT);
	assert_int_equal(check_hex("df ff ff ff ff", &tj_mp_limits_default), TJ_ELIMIT);
	assert_int_equal(check_hex("c6 ff ff ff ff", &tj_mp_limits_default), TJ_ELIMIT);
	assert_int_equal(check_hex("db ff ff ff ff", &tj_mp_limits_default), TJ_ELIMIT);
	/* under the item limit but more than the bytes left */
	assert_int_equal(check_hex("dc 00 ff c0", &tj_mp_limits_default), TJ_ETRUNC);
	assert_int_equal(check_hex("de 00 10 01", &tj_mp_limits_default), TJ_ETRUNC);
	assert_int_equal(check_hex("9f c0 c0", &tj_mp_limits_default), TJ_ETRUNC);
	assert_int_equal(check_hex("c5 01 00 00", &tj_mp_limits_default), TJ_ETRUNC);
	/* a map of n entries needs 2n bytes */
	assert_int_equal(check_hex("82 01 02 03", &tj_mp_limits_default), TJ_ETRUNC);
}

static void test_check_deep_nesting(void **state)
{
	(void)state;
	const size_t depth = 24000;
	uint8_t *buf = malloc(3 * depth + 1);
	size_t used;
	assert_non_null(buf);
	for (size_t k = 0; k < depth; k++)
		memcpy(buf + 3 * k, "\xdc\x00\x01", 3);
	buf[3 * depth] = 0xc0;
	assert_int_equal(tj_mp_check(buf, 3 * depth + 1, &tj_mp_limits_default, true, &used), TJ_ENONCANON);
	assert_int_equal(tj_mp_check(buf, 3 * depth + 1, &loose, true, &used), TJ_ELIMIT);
	memset(buf, 0x91, depth);
	buf[depth] = 0xc0;
	assert_int_equal(tj_mp_check(buf, depth + 1, &tj_mp_limits_default, true, &used), TJ_ELIMIT);
	free(buf);
}

static void test_check_depth_limit_exact(void **state)
{
	(void)state;
	uint8_t buf[16];
	size_t used;
	/* 8 nested arrays: the default depth, accepted */
	memset(buf, 0x91, 8);
	buf[8] = 0x01;
	assert_int_equal(tj_mp_check(buf, 9, &tj_mp_limits_default, true, &used), 0);
	assert_int_equal(used, 9);
	/* 9 nested: refused, even when the innermost is empty */
	memset(buf, 0x91, 8);
	buf[8] = 0x90;
	assert_int_equal(tj_mp_check(buf, 9, &tj_mp_limits_default, true, &used), TJ_ELIMIT);
	/* a scalar at the top is fine with max_depth 0; a container is not */
	struct tj_mp_limits flat = tj_mp_limits_default;
	flat.max_depth = 0;
	assert_int_equal(check_hex("05", &flat), 0);
	assert_int_equal(check_hex("90", &flat), TJ_ELIMIT);
	/* siblings do not add depth */
	struct tj_mp_limits two = tj_mp_limits_default;
	two.max_depth = 2;
	assert_int_equal(check_hex("93 91 01 91 02 92 03 04", &two), 0);
	assert_int_equal(check_hex("93 91 01 91 91 02 90", &two), TJ_ELIMIT);
}

static void test_check_items_and_str_limits(void **state)
{
	(void)state;
	struct tj_mp_limits lim = tj_mp_limits_default;
	lim.max_items = 4;
	assert_int_equal(check_hex("93 01 02 03", &lim), 0); /* 4 items */
	assert_int_equal(check_hex("94 01 02 03 04", &lim), TJ_ELIMIT);
	assert_int_equal(check_hex("92 91 01 91 02", &lim), TJ_ELIMIT); /* 5 */
	lim = tj_mp_limits_default;
	lim.max_str = 3;
	assert_int_equal(check_hex("a3 61 62 63", &lim), 0);
	assert_int_equal(check_hex("a4 61 62 63 64", &lim), TJ_ELIMIT);
	assert_int_equal(check_hex("c4 04 61 62 63 64", &lim), TJ_ELIMIT);
}

static void test_check_trailing_and_used(void **state)
{
	(void)state;
	uint8_t buf[8];
	size_t n = hex("92 01 02 c0 c0", buf, sizeof(buf));
	size_t used = 99;
	assert_int_equal(tj_mp_check(buf, n, &tj_mp_limits_default, true, &used), TJ_EMALFORMED);
	assert_int_equal(used, 0);
	assert_int_equal(tj_mp_check(buf, n, &tj_mp_limits_default, false, &used), 0);
	assert_int_equal(used, 3);
	assert_int_equal(tj_mp_check(buf, 0, &tj_mp_limits_default, false, &used), TJ_ETRUNC);
}

/* A valid object with every kind of element, used for truncation and reading. */
static size_t build_sample(uint8_t *buf, size_t cap)
{
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "estado");
	tj_mp_put_cstr(&w, "20");
	tj_mp_put_cstr(&w, "actos");
	tj_mp_put_array(&w, 5);
	tj_mp_put_uint(&w, 300);
	tj_mp_put_int(&w, -40000);
	tj_mp_put_bool(&w, true);
	tj_mp_put_nil(&w);
	tj_mp_put_bin(&w, "\x01\x02\x03\x04", 4);
	tj_mp_put_cstr(&w, "ref");
	tj_mp_put_uint(&w, (uint64_t)1 << 40);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	return n;
}

static void test_check_every_truncation(void **state)
{
	(void)state;
	uint8_t buf[128];
	size_t n = build_sample(buf, sizeof(buf));
	size_t used;
	assert_int_equal(tj_mp_check(buf, n, &tj_mp_limits_default, true, &used), 0);
	assert_int_equal(used, n);
	for (size_t cut = 0; cut < n; cut++) {
		/* copy, so that ASan sees any read past the cut */
		uint8_t *p = malloc(cut ? cut : 1);
		assert_non_null(p);
		memcpy(p, buf, cut);
		assert_int_equal(tj_mp_check(p, cut, &tj_mp_limits_default, true, &used), TJ_ETRUNC);
		assert_int_equal(tj_mp_check(p, cut, &loose, false, &used), TJ_ETRUNC);
		free(p);
	}
}

/* ---- reader ---- */

static void test_reader_typed(void **state)
{
	(void)state;
	uint8_t buf[128];
	size_t n = build_sample(buf, sizeof(buf));
	struct tj_mp_reader r;
	uint32_t count, len;
	const char *s;
	const uint8_t *p;
	uint64_t u;
	int64_t i;
	bool b;

	tj_mp_reader_init(&r, buf, n);
	assert_int_equal(tj_mp_read_map(&r, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(tj_mp_read_str(&r, &s, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(s, "estado", 6);
	assert_int_equal(tj_mp_skip(&r), 0); /* "20" */
	assert_int_equal(tj_mp_read_str(&r, &s, &len), 0);
	assert_int_equal(tj_mp_read_array(&r, &count), 0);
	assert_int_equal(count, 5);
	assert_int_equal(tj_mp_read_uint(&r, &u), 0);
	assert_int_equal(u, 300);
	/* a uint read of a negative fails and leaves the cursor */
	size_t at = tj_mp_reader_offset(&r, buf);
	assert_int_equal(tj_mp_read_uint(&r, &u), TJ_EMALFORMED);
	assert_int_equal(tj_mp_reader_offset(&r, buf), at);
	/* the error sticks */
	assert_int_equal(tj_mp_read_int(&r, &i), TJ_EMALFORMED);
	assert_false(tj_mp_peek_nil(&r));
	r.err = 0;
	assert_int_equal(tj_mp_read_int(&r, &i), 0);
	assert_int_equal(i, -40000);
	assert_int_equal(tj_mp_read_bool(&r, &b), 0);
	assert_true(b);
	assert_true(tj_mp_peek_nil(&r));
	assert_int_equal(tj_mp_read_nil(&r), 0);
	uint8_t four[4];
	at = tj_mp_reader_offset(&r, buf);
	assert_int_equal(tj_mp_read_bin_exact(&r, four, 3), TJ_EMALFORMED);
	assert_int_equal(tj_mp_reader_offset(&r, buf), at);
	r.err = 0;
	assert_int_equal(tj_mp_read_bin(&r, &p, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "\x01\x02\x03\x04", 4);
	assert_int_equal(tj_mp_read_str(&r, &s, &len), 0);
	assert_int_equal(tj_mp_read_uint(&r, &u), 0);
	assert_true(u == (uint64_t)1 << 40);
	assert_int_equal(tj_mp_reader_offset(&r, buf), n);
	/* reading past the end is a truncation, never an overread */
	assert_int_equal(tj_mp_read_nil(&r), TJ_ETRUNC);
	assert_int_equal(tj_mp_skip(&r), TJ_ETRUNC);
}

static void test_reader_int_ranges(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct tj_mp_reader r;
	int64_t i;
	uint64_t u;
	size_t n = hex("cf 80 00 00 00 00 00 00 00", buf, sizeof(buf));
	tj_mp_reader_init(&r, buf, n);
	assert_int_equal(tj_mp_read_int(&r, &i), TJ_EMALFORMED); /* > INT64_MAX */
	r.err = 0;
	assert_int_equal(tj_mp_read_uint(&r, &u), 0);
	assert_true(u == (uint64_t)1 << 63);
	n = hex("d3 80 00 00 00 00 00 00 00", buf, sizeof(buf));
	tj_mp_reader_init(&r, buf, n);
	assert_int_equal(tj_mp_read_int(&r, &i), 0);
	assert_true(i == INT64_MIN);
	/* loose input: a signed form holding a non-negative still reads as uint */
	n = hex("d0 05", buf, sizeof(buf));
	tj_mp_reader_init(&r, buf, n);
	assert_int_equal(tj_mp_read_uint(&r, &u), 0);
	assert_int_equal(u, 5);
	/* a string claiming more than is there */
	n = hex("a5 61 62", buf, sizeof(buf));
	tj_mp_reader_init(&r, buf, n);
	const char *s;
	uint32_t len;
	assert_int_equal(tj_mp_read_str(&r, &s, &len), TJ_ETRUNC);
	/* skip over a nested structure lands after it */
	n = hex("92 81 a1 61 92 01 02 c4 01 ff 07", buf, sizeof(buf));
	tj_mp_reader_init(&r, buf, n);
	assert_int_equal(tj_mp_skip(&r), 0);
	assert_int_equal(tj_mp_reader_offset(&r, buf), 10);
	assert_int_equal(tj_mp_read_uint(&r, &u), 0);
	assert_int_equal(u, 7);
}

/* ---- unpack ---- */

static void test_unpack(void **state)
{
	(void)state;
	uint8_t buf[128];
	size_t n = build_sample(buf, sizeof(buf));
	msgpack_zone zone;
	msgpack_object obj;
	assert_true(msgpack_zone_init(&zone, 1024));
	assert_int_equal(tj_mp_unpack(buf, n, &tj_mp_limits_default, &zone, &obj), 0);
	assert_int_equal(obj.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(obj.via.map.size, 3);
	const msgpack_object *acts = &obj.via.map.ptr[1].val;
	assert_int_equal(acts->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(acts->via.array.size, 5);
	assert_int_equal(acts->via.array.ptr[1].via.i64, -40000);
	/* str borrows from buf */
	assert_ptr_equal(obj.via.map.ptr[0].key.via.str.ptr, (const char *)buf + 2); /* 8x a6 */
	msgpack_zone_destroy(&zone);

	uint8_t bomb[5] = {0xdd, 0xff, 0x00, 0x00, 0x00};
	assert_true(msgpack_zone_init(&zone, 1024));
	assert_int_equal(tj_mp_unpack(bomb, sizeof(bomb), &tj_mp_limits_default, &zone, &obj), TJ_ELIMIT);
	/* trailing bytes are refused: unpack takes exactly one object */
	assert_int_equal(tj_mp_unpack(buf, n + 0, &tj_mp_limits_default, &zone, &obj), 0);
	buf[n] = 0xc0;
	assert_int_equal(tj_mp_unpack(buf, n + 1, &tj_mp_limits_default, &zone, &obj), TJ_EMALFORMED);
	msgpack_zone_destroy(&zone);
}

/* ---- adversarial corpus ---- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t *buf = malloc(ADVERSARIAL_MAX_BYTES);
	assert_non_null(buf);
	*len = fread(buf, 1, ADVERSARIAL_MAX_BYTES, f);
	assert_true(feof(f));
	fclose(f);
	return buf;
}

static void replay_one(const char *path)
{
	size_t len, used;
	uint8_t *buf = read_file(path, &len);
	/* exact-size copy so ASan catches a read past the end */
	uint8_t *exact = malloc(len ? len : 1);
	assert_non_null(exact);
	memcpy(exact, buf, len);
	free(buf);

	double t0 = now_ms();
	int strict = tj_mp_check(exact, len, &tj_mp_limits_default, true, &used);
	int lax = tj_mp_check(exact, len, &loose, true, &used);
	msgpack_zone zone;
	msgpack_object obj;
	assert_true(msgpack_zone_init(&zone, 1024));
	int unpacked = tj_mp_unpack(exact, len, &loose, &zone, &obj);
	msgpack_zone_destroy(&zone);
	double took = now_ms() - t0;

	if (!is_tj_error(strict) || !is_tj_error(lax) || !is_tj_error(unpacked))
		fail_msg("%s: accepted or untyped error (%d, %d, %d)", path, strict, lax, unpacked);
	if (took > ADVERSARIAL_BUDGET_MS)
		fail_msg("%s: took %.1f ms", path, took);
	free(exact);
}

static void test_adversarial_corpus(void **state)
{
	(void)state;
	DIR *d = opendir(ADVERSARIAL_DIR);
	struct dirent *e;
	unsigned count = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		size_t nlen = strlen(e->d_name);
		if (nlen < 4 || strcmp(e->d_name + nlen - 4, ".bin") != 0)
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", ADVERSARIAL_DIR, e->d_name) <
		            (int)sizeof(path));
		replay_one(path);
		count++;
	}
	closedir(d);
	assert_true(count >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writer_uint_boundaries),
	    cmocka_unit_test(test_writer_int_boundaries),
	    cmocka_unit_test(test_writer_length_boundaries),
	    cmocka_unit_test(test_writer_scalars),
	    cmocka_unit_test(test_writer_overflow),
	    cmocka_unit_test(test_check_noncanonical),
	    cmocka_unit_test(test_check_noncanonical_nested),
	    cmocka_unit_test(test_check_ext_and_c1),
	    cmocka_unit_test(test_check_bombs),
	    cmocka_unit_test(test_check_deep_nesting),
	    cmocka_unit_test(test_check_depth_limit_exact),
	    cmocka_unit_test(test_check_items_and_str_limits),
	    cmocka_unit_test(test_check_trailing_and_used),
	    cmocka_unit_test(test_check_every_truncation),
	    cmocka_unit_test(test_reader_typed),
	    cmocka_unit_test(test_reader_int_ranges),
	    cmocka_unit_test(test_unpack),
	    cmocka_unit_test(test_adversarial_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
