/*
 * Box-stream: the pull-box-stream known answer, round trips across frame
 * boundaries, every-byte corruption, truncation, goodbye versus cut,
 * oversized headers, and the bounded message reassembler.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_boxstream.h"

static uint8_t key[32];
static uint8_t nonce0[24];

static void unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(strlen(s), 2 * n);
	assert_int_equal(sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

/* The key and nonce used to make the pull-box-stream vector below. */
static void kat_key(void)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 22; i++)
		nonce0[i] = (uint8_t)i;
	nonce0[22] = 0xff; /* the second increment carries */
	nonce0[23] = 0xfe;
}

static struct tj_boxstream *mk(void)
{
	struct tj_boxstream *bs = NULL;

	assert_int_equal(tj_boxstream_new(key, nonce0, &bs), 0);
	return bs;
}

static uint8_t *pattern(size_t n, unsigned mul)
{
	uint8_t *p = malloc(n > 0 ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * mul) & 0xffu);
	return p;
}

/* Seals msg and, if bye, the goodbye: returns the wire bytes. */
static uint8_t *seal_all(const uint8_t *msg, size_t len, bool bye, size_t *wire_len)
{
	struct tj_boxstream *tx = mk();
	size_t cap = tj_boxstream_sealed_bytes(len) + TJ_BOXSTREAM_GOODBYE_BYTES;
	uint8_t *wire = malloc(cap);
	size_t n = 0;

	assert_non_null(wire);
	assert_int_equal(tj_boxstream_seal(tx, msg, len, wire, cap, &n), 0);
	assert_int_equal(n, tj_boxstream_sealed_bytes(len));
	if (bye) {
		assert_int_equal(tj_boxstream_goodbye(tx, wire + n), 0);
		n += TJ_BOXSTREAM_GOODBYE_BYTES;
		assert_true(tj_boxstream_closed(tx));
	}
	tj_boxstream_free(tx);
	*wire_len = n;
	return wire;
}

/*
 * Reads wire in pieces of `step` bytes (0 = all at once), appending the
 * plaintext to out. Returns the first error, or 0 at the end of the bytes.
 */
static int read_all(struct tj_boxstream *rx, const uint8_t *wire, size_t n, size_t step, uint8_t *out,
		    size_t *out_len, bool *bye)
{
	size_t pos = 0;

	*out_len = 0;
	*bye = false;
	while (pos < n) {
		size_t piece = (step == 0 || n - pos < step) ? n - pos : step;
		size_t off = 0;
		while (off < piece) {
			struct tj_boxstream_chunk ch;
			size_t used = 0;
			int rc = tj_boxstream_read(rx, wire + pos + off, piece - off, &used, &ch);
			if (rc != 0)
				return rc;
			assert_true(used > 0);
			off += used;
			if (ch.event == TJ_BOXSTREAM_DATA) {
				assert_true(ch.len <= TJ_BOXSTREAM_BODY_MAX_BYTES);
				memcpy(out + *out_len, ch.data, ch.len);
				*out_len += ch.len;
			} else if (ch.event == TJ_BOXSTREAM_GOODBYE) {
				*bye = true;
			}
		}
		pos += piece;
	}
	return 0;
}

/* --- known answer from pull-box-stream 1.0.13 --------------------------- */

#define KAT_HELLO_FRAME                                                                                            \
	"34e18ba529dea22d7a13d5faf7782145b9f269d1cb298e146e22afef475fe4ebb1e36ff51c891d"
#define KAT_BIG_SHA256 "dcf97d8da8261fbd690f146ac89358b2f2974a3fb7a07e5cc66800580edb2ad8"
#define KAT_GOODBYE "0df5e4862f119bce8a37b8ac86578233ac480b511fa5a3f0f86c1b688513aefcc189"

/* JS: write "hello", then 4100 bytes (i*7), then end: 39 + 4168 + 34 bytes. */
static void test_known_answer(void **state)
{
	struct tj_boxstream *tx;
	uint8_t wire[5000], expect[64], digest[32];
	uint8_t *big = pattern(4100, 7);
	size_t n = 0, m = 0;

	(void)state;
	kat_key();
	tx = mk();
	assert_int_equal(tj_boxstream_seal(tx, (const uint8_t *)"hello", 5, wire, sizeof(wire), &n), 0);
	assert_int_equal(n, 39);
	unhex(KAT_HELLO_FRAME, expect, 39);
	assert_memory_equal(wire, expect, 39);
	assert_int_equal(tj_boxstream_seal(tx, big, 4100, wire, sizeof(wire), &m), 0);
	assert_int_equal(m, 4168);
	crypto_hash_sha256(digest, wire, m);
	unhex(KAT_BIG_SHA256, expect, 32);
	assert_memory_equal(digest, expect, 32);
	assert_int_equal(tj_boxstream_goodbye(tx, wire), 0);
	unhex(KAT_GOODBYE, expect, 34);
	assert_memory_equal(wire, expect, 34);
	tj_boxstream_free(tx);
	free(big);
}

/* --- round trips --------------------------------------------------------- */

static void round_trip(size_t len, size_t step)
{
	uint8_t *msg = pattern(len, 13), *wire, *got = malloc(len + 1);
	struct tj_boxstream *rx = mk();
	size_t wire_len = 0, got_len = 0;
	bool bye = false;

	assert_non_null(got);
	wire = seal_all(msg, len, true, &wire_len);
	assert_int_equal(read_all(rx, wire, wire_len, step, got, &got_len, &bye), 0);
	assert_true(bye);
	assert_int_equal(got_len, len);
	if (len > 0)
		assert_memory_equal(got, msg, len);
	assert_int_equal(tj_boxstream_end(rx), 0);
	tj_boxstream_free(rx);
	free(wire);
	free(got);
	free(msg);
}

static void test_round_trips(void **state)
{
	static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 8192, 100000};
	static const size_t steps[] = {0, 1, 7, 34, 35, 4130, 5000};

	(void)state;
	kat_key();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++)
			round_trip(sizes[i], steps[j]);
	assert_int_equal(tj_boxstream_sealed_bytes(0), 0);
	assert_int_equal(tj_boxstream_sealed_bytes(1), 35);
	assert_int_equal(tj_boxstream_sealed_bytes(4096), 4130);
	assert_int_equal(tj_boxstream_sealed_bytes(4097), 4097 + 68);
	assert_int_equal(tj_boxstream_sealed_bytes(SIZE_MAX), SIZE_MAX);
}

/* The two-phase API: never more than one frame in hand. */
static void test_two_phase(void **state)
{
	uint8_t *msg = pattern(9000, 5), *wire, plain[TJ_BOXSTREAM_BODY_MAX_BYTES];
	struct tj_boxstream *rx;
	size_t wire_len = 0, pos = 0, total = 0;
	bool bye = false;

	(void)state;
	kat_key();
	wire = seal_all(msg, 9000, true, &wire_len);
	rx = mk();
	for (int frames = 0; frames < 10 && !bye; frames++) {
		size_t body = 0;
		assert_int_equal(tj_boxstream_open_header(rx, wire + pos, &body, &bye), 0);
		pos += TJ_BOXSTREAM_HEADER_BYTES;
		if (bye)
			break;
		assert_int_equal(tj_boxstream_open_body(rx, wire + pos, body, plain), 0);
		assert_memory_equal(plain, msg + total, body);
		pos += body;
		total += body;
	}
	assert_true(bye);
	assert_int_equal(total, 9000);
	assert_int_equal(pos, wire_len);
	assert_int_equal(tj_boxstream_end(rx), 0);
	tj_boxstream_free(rx);
	free(wire);
	free(msg);
}

/* --- corruption ---------------------------------------------------------- */

/* A flipped bit in any byte of a frame (or of the goodbye) is an error. */
static void test_flip_every_byte(void **state)
{
	uint8_t *msg = pattern(300, 3), *wire, out[400];
	size_t wire_len = 0;

	(void)state;
	kat_key();
	wire = seal_all(msg, 300, true, &wire_len);
	assert_int_equal(wire_len, 34 + 300 + 34);
	for (size_t i = 0; i < wire_len; i++) {
		struct tj_boxstream *rx = mk();
		size_t got = 0;
		bool bye = false;
		int rc;

		wire[i] ^= (uint8_t)(1u << (i % 8));
		rc = read_all(rx, wire, wire_len, 0, out, &got, &bye);
		assert_int_equal(rc, TJ_EDECRYPT);
		assert_false(bye);
		/* a corrupted frame releases none of its bytes; the frame before the goodbye was whole */
		assert_int_equal(got, i < 34 + 300 ? 0 : 300);
		assert_int_equal(tj_boxstream_end(rx), TJ_ESTATE);
		/* the stream is dead afterwards */
		assert_int_equal(read_all(rx, wire, 1, 0, out, &got, &bye), TJ_ESTATE);
		wire[i] ^= (uint8_t)(1u << (i % 8));
		tj_boxstream_free(rx);
	}
	free(wire);
	free(msg);
}

/* Frames out of order, replayed or dropped do not decrypt (nonces). */
static void test_reorder_replay_drop(void **state)
{
	uint8_t a[35 * 2], out[16];
	struct tj_boxstream *tx, *rx;
	size_t n1 = 0, n2 = 0, got = 0;
	bool bye;

	(void)state;
	kat_key();
	tx = mk();
	assert_int_equal(tj_boxstream_seal(tx, (const uint8_t *)"A", 1, a, 35, &n1), 0);
	assert_int_equal(tj_boxstream_seal(tx, (const uint8_t *)"B", 1, a + 35, 35, &n2), 0);
	tj_boxstream_free(tx);
	rx = mk(); /* second frame first */
	assert_int_equal(read_all(rx, a + 35, 35, 0, out, &got, &bye), TJ_EDECRYPT);
	tj_boxstream_free(rx);
	rx = mk(); /* first frame twice */
	assert_int_equal(read_all(rx, a, 35, 0, out, &got, &bye), 0);
	assert_int_equal(got, 1);
	assert_int_equal(read_all(rx, a, 35, 0, out, &got, &bye), TJ_EDECRYPT);
	tj_boxstream_free(rx);
}

/* An authentic header that announces more than 4096 bytes: TJ_ELIMIT. */
static void test_oversized_header(void **state)
{
	uint8_t plain[18] = {0}, hdr[34];
	struct tj_boxstream *rx;
	size_t body = 0;
	bool bye = true;

	(void)state;
	kat_key();
	plain[0] = (uint8_t)(4097 >> 8);
	plain[1] = (uint8_t)(4097 & 0xff);
	plain[2] = 1;
	assert_int_equal(crypto_secretbox_easy(hdr, plain, sizeof(plain), nonce0, key), 0);
	rx = mk();
	assert_int_equal(tj_boxstream_open_header(rx, hdr, &body, &bye), TJ_ELIMIT);
	assert_int_equal(body, 0);
	assert_false(bye);
	tj_boxstream_free(rx);
}

/* A zero-length data frame (authentic, never sent by us) is empty data, not a goodbye. */
static void test_empty_frame(void **state)
{
	uint8_t plain[18] = {0}, hdr[34], n1[24], dummy[1] = {0};
	struct tj_boxstream *rx;
	struct tj_boxstream_chunk ch;
	size_t used = 0;

	(void)state;
	kat_key();
	memcpy(n1, nonce0, 24);
	n1[23]++; /* body nonce = header nonce + 1 (no carry from 0xfe) */
	assert_int_equal(crypto_secretbox_detached(dummy, plain + 2, dummy, 0, n1, key), 0);
	assert_int_equal(crypto_secretbox_easy(hdr, plain, sizeof(plain), nonce0, key), 0);
	rx = mk();
	assert_int_equal(tj_boxstream_read(rx, hdr, sizeof(hdr), &used, &ch), 0);
	assert_int_equal(used, 34);
	assert_int_equal(ch.event, TJ_BOXSTREAM_DATA);
	assert_int_equal(ch.len, 0);
	assert_int_equal(tj_boxstream_end(rx), TJ_ETRUNC);
	tj_boxstream_free(rx);
}

/* --- truncation, goodbye and cut ----------------------------------------- */

static void test_truncated(void **state)
{
	uint8_t *msg = pattern(5000, 11), *wire, *out = malloc(6000);
	size_t wire_len = 0;

	(void)state;
	assert_non_null(out);
	kat_key();
	wire = seal_all(msg, 5000, false, &wire_len); /* 2 frames, no goodbye */
	for (size_t cut = 0; cut <= wire_len; cut++) {
		struct tj_boxstream *rx = mk();
		size_t got = 0;
		bool bye = false;

		assert_int_equal(read_all(rx, wire, cut, 0, out, &got, &bye), 0);
		assert_false(bye);
		/* only whole frames are released */
		if (cut < 34 + 4096)
			assert_int_equal(got, 0);
		else if (cut < wire_len)
			assert_int_equal(got, 4096);
		else
			assert_int_equal(got, 5000);
		assert_int_equal(tj_boxstream_end(rx), TJ_ETRUNC);
		tj_boxstream_free(rx);
	}
	free(wire);
	free(msg);
	free(out);
}

static void test_goodbye_vs_cut(void **state)
{
	uint8_t *wire, out[64], extra = 0;
	struct tj_boxstream *rx, *tx;
	struct tj_boxstream_chunk ch;
	size_t wire_len = 0, got = 0, used = 9, n = 0;
	bool bye = false;

	(void)state;
	kat_key();
	/* clean: goodbye after data */
	wire = seal_all((const uint8_t *)"bye now", 7, true, &wire_len);
	rx = mk();
	assert_int_equal(read_all(rx, wire, wire_len, 0, out, &got, &bye), 0);
	assert_true(bye);
	assert_true(tj_boxstream_closed(rx));
	assert_int_equal(tj_boxstream_end(rx), 0);
	/* anything after a goodbye is a protocol violation */
	assert_int_equal(tj_boxstream_read(rx, &extra, 1, &used, &ch), TJ_EPROTO);
	assert_int_equal(used, 0);
	tj_boxstream_free(rx);
	free(wire);
	/* an empty session: just the goodbye */
	wire = seal_all(NULL, 0, true, &wire_len);
	assert_int_equal(wire_len, 34);
	rx = mk();
	assert_int_equal(read_all(rx, wire, wire_len, 0, out, &got, &bye), 0);
	assert_true(bye);
	assert_int_equal(got, 0);
	assert_int_equal(tj_boxstream_end(rx), 0);
	tj_boxstream_free(rx);
	free(wire);
	/* cut: data but no goodbye, and nothing at all */
	wire = seal_all((const uint8_t *)"bye now", 7, false, &wire_len);
	rx = mk();
	assert_int_equal(read_all(rx, wire, wire_len, 0, out, &got, &bye), 0);
	assert_int_equal(got, 7);
	assert_false(bye);
	assert_int_equal(tj_boxstream_end(rx), TJ_ETRUNC);
	tj_boxstream_free(rx);
	free(wire);
	rx = mk();
	assert_int_equal(tj_boxstream_end(rx), TJ_ETRUNC);
	tj_boxstream_free(rx);
	/* a writer after goodbye refuses to send */
	tx = mk();
	assert_int_equal(tj_boxstream_goodbye(tx, out), 0);
	assert_int_equal(tj_boxstream_seal(tx, out, 1, out, sizeof(out), &n), TJ_ESTATE);
	assert_int_equal(tj_boxstream_goodbye(tx, out), TJ_ESTATE);
	tj_boxstream_free(tx);
	tj_boxstream_free(NULL);
}

static void test_seal_errors(void **state)
{
	uint8_t msg[100] = {0}, out[100];
	struct tj_boxstream *tx;
	size_t n = 5;

	(void)state;
	kat_key();
	tx = mk();
	assert_int_equal(tj_boxstream_seal(tx, msg, sizeof(msg), out, sizeof(out), &n), TJ_ENOSPC);
	assert_int_equal(n, 0);
	assert_int_equal(tj_boxstream_seal(tx, NULL, 3, out, sizeof(out), &n), -EINVAL);
	/* a refused seal did not consume a nonce: the next frame still opens */
	assert_int_equal(tj_boxstream_seal(tx, msg, 10, out, sizeof(out), &n), 0);
	tj_boxstream_free(tx);
	{
		struct tj_boxstream *rx = mk();
		uint8_t got[16];
		size_t gl = 0;
		bool bye;
		assert_int_equal(read_all(rx, out, n, 0, got, &gl, &bye), 0);
		assert_int_equal(gl, 10);
		tj_boxstream_free(rx);
	}
}

/* --- reassembly ---------------------------------------------------------- */

#define REASM_MAX (64 * 1024 + 256)

/* Seals each message with seal_msg, reads and reassembles them. */
static void test_reasm_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, 4091, 4092, 5000, 64 * 1024, REASM_MAX};
	struct tj_boxstream *tx, *rx;
	struct tj_boxstream_reasm *r = NULL;
	size_t cap = 0, wire_len = 0, delivered = 0;
	uint8_t *wire;

	(void)state;
	kat_key();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		cap += tj_boxstream_msg_sealed_bytes(sizes[i]);
	wire = malloc(cap);
	assert_non_null(wire);
	tx = mk();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *m = pattern(sizes[i], (unsigned)(i + 3));
		size_t n = 0;
		assert_int_equal(tj_boxstream_seal_msg(tx, m, sizes[i], wire + wire_len, cap - wire_len, &n), 0);
		assert_int_equal(n, tj_boxstream_msg_sealed_bytes(sizes[i]));
		wire_len += n;
		free(m);
	}
	tj_boxstream_free(tx);
	rx = mk();
	assert_int_equal(tj_boxstream_reasm_new(REASM_MAX, &r), 0);
	assert_true(tj_boxstream_reasm_idle(r));
	for (size_t pos = 0; pos < wire_len;) {
		struct tj_boxstream_chunk ch;
		size_t used = 0;
		assert_int_equal(tj_boxstream_read(rx, wire + pos, wire_len - pos, &used, &ch), 0);
		pos += used;
		for (size_t off = 0; ch.event == TJ_BOXSTREAM_DATA && off < ch.len;) {
			const uint8_t *msg = NULL;
			size_t took = 0, mlen = 0;
			assert_int_equal(tj_boxstream_reasm_push(r, ch.data + off, ch.len - off, &took, &msg, &mlen), 0);
			off += took;
			if (msg != NULL) {
				uint8_t *expect = pattern(sizes[delivered], (unsigned)(delivered + 3));
				assert_int_equal(mlen, sizes[delivered]);
				if (mlen > 0)
					assert_memory_equal(msg, expect, mlen);
				free(expect);
				delivered++;
			}
		}
	}
	/* the zero-length message completes from its prefix alone: take it */
	assert_int_equal(delivered, sizeof(sizes) / sizeof(sizes[0]));
	assert_true(tj_boxstream_reasm_idle(r));
	tj_boxstream_reasm_free(r);
	tj_boxstream_free(rx);
	free(wire);
}

/* A prefix over the bound fails at once, before any of the body is taken. */
static void test_reasm_over_bound(void **state)
{
	struct tj_boxstream_reasm *r = NULL;
	uint8_t data[64] = {0x00, 0x01, 0x00, 0x01}; /* 65537 > 65536 */
	const uint8_t *msg = (const uint8_t *)data;
	size_t took = 99, mlen = 99;

	(void)state;
	assert_int_equal(tj_boxstream_reasm_new(65536, &r), 0);
	assert_int_equal(tj_boxstream_reasm_push(r, data, sizeof(data), &took, &msg, &mlen), TJ_ELIMIT);
	assert_int_equal(took, 4);
	assert_null(msg);
	assert_int_equal(mlen, 0);
	assert_false(tj_boxstream_reasm_idle(r));
	assert_int_equal(tj_boxstream_reasm_push(r, data, sizeof(data), &took, &msg, &mlen), TJ_ESTATE);
	tj_boxstream_reasm_free(r);
	/* the prefix split over two pushes, at the bound exactly: accepted */
	assert_int_equal(tj_boxstream_reasm_new(65536, &r), 0);
	data[0] = 0x00, data[1] = 0x01, data[2] = 0x00, data[3] = 0x00;
	assert_int_equal(tj_boxstream_reasm_push(r, data, 2, &took, &msg, &mlen), 0);
	assert_int_equal(took, 2);
	assert_null(msg);
	assert_int_equal(tj_boxstream_reasm_push(r, data + 2, 2, &took, &msg, &mlen), 0);
	assert_null(msg);
	assert_false(tj_boxstream_reasm_idle(r));
	tj_boxstream_reasm_free(r);
	/* a 4 GiB announcement with a small bound */
	assert_int_equal(tj_boxstream_reasm_new(1024, &r), 0);
	memset(data, 0xff, 4);
	assert_int_equal(tj_boxstream_reasm_push(r, data, 4, &took, &msg, &mlen), TJ_ELIMIT);
	tj_boxstream_reasm_free(r);
	tj_boxstream_reasm_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_two_phase),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_reorder_replay_drop),
		cmocka_unit_test(test_oversized_header),
		cmocka_unit_test(test_empty_frame),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_goodbye_vs_cut),
		cmocka_unit_test(test_seal_errors),
		cmocka_unit_test(test_reasm_round_trip),
		cmocka_unit_test(test_reasm_over_bound),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
