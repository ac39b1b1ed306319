/*
 * Record envelope: round trip, a known answer from an independent encoder
 * (the committed fuzz seed), and a negative test per field: wrong type,
 * wrong size, bad version and kind, 17 slots, trailing byte, every
 * truncation, and every bit flip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tj_record.h"

#define FIELDS 12
#define FIELD_MAX_BYTES 4096
#define REC_BUF_BYTES (TJ_RECORD_MAX_BYTES + 1024u)

enum field {
	F_VERSION,
	F_NETWORK,
	F_AUTHOR,
	F_SEQ,
	F_PREV,
	F_TS,
	F_KIND,
	F_AUDIENCE,
	F_SLOTS,
	F_NONCE,
	F_CIPHERTEXT,
	F_SIG,
};

/* A record as 12 separately encoded fields, so a test can replace one. */
struct fields {
	uint8_t bytes[FIELDS][FIELD_MAX_BYTES];
	size_t len[FIELDS];
};

static const uint8_t ciphertext[40] = "0123456789abcdef0123456789abcdef0123456";
static const uint8_t wrapped[72] = {7};

static void sample(struct tj_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->version = TJ_RECORD_VERSION;
	memset(rec->network_id, 0x11, 32);
	memset(rec->author, 0x22, 32);
	rec->seq = 4242;
	rec->has_prev = true;
	memset(rec->prev, 0x66, 32);
	rec->ts_ms = 1773446400000ull;
	rec->kind = TJ_KIND_INCIDENT;
	rec->audience.type = TJ_AUD_CIRCLE;
	rec->audience.has_ref = true;
	memset(rec->audience.ref, 0x77, 32);
	rec->n_slots = 2;
	rec->slots[0].type = TJ_SLOT_EPOCH;
	memset(rec->slots[0].ref, 0x01, 32);
	rec->slots[0].wrapped = wrapped;
	rec->slots[0].wrapped_len = sizeof(wrapped);
	rec->slots[1].type = TJ_SLOT_SEALED;
	memset(rec->slots[1].ref, 0x02, 32);
	rec->slots[1].wrapped = wrapped;
	rec->slots[1].wrapped_len = 48;
	memset(rec->nonce, 0x33, sizeof(rec->nonce));
	rec->ciphertext = ciphertext;
	rec->ciphertext_len = sizeof(ciphertext);
	memset(rec->sig, 0x44, sizeof(rec->sig));
}

static size_t encode(const struct tj_record *rec, uint8_t *buf, size_t cap)
{
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, cap);
	tj_record_write_header(&w, rec);
	tj_mp_put_bin(&w, rec->ciphertext, rec->ciphertext_len);
	tj_mp_put_bin(&w, rec->sig, sizeof(rec->sig));
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	return n;
}

/* Splits a valid encoding into its 12 fields with the reader's skip. */
static void split(const uint8_t *buf, size_t len, struct fields *f)
{
	struct tj_mp_reader r;
	uint32_t n;
	tj_mp_reader_init(&r, buf, len);
	assert_int_equal(tj_mp_read_array(&r, &n), 0);
	assert_int_equal(n, FIELDS);
	for (int k = 0; k < FIELDS; k++) {
		const uint8_t *start = r.p;
		assert_int_equal(tj_mp_skip(&r), 0);
		f->len[k] = (size_t)(r.p - start);
		assert_true(f->len[k] <= FIELD_MAX_BYTES);
		memcpy(f->bytes[k], start, f->len[k]);
	}
}

static size_t join(const struct fields *f, uint8_t *buf, size_t cap)
{
	struct tj_mp_writer w;
	size_t n;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, FIELDS);
	for (int k = 0; k < FIELDS; k++)
		tj_mp_put_raw(&w, f->bytes[k], f->len[k]);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	return n;
}

static void set_field(struct fields *f, enum field k, const void *p, size_t len)
{
	assert_true(len <= FIELD_MAX_BYTES);
	memcpy(f->bytes[k], p, len);
	f->len[k] = len;
}

/* Encodes `n` zero bytes as a bin field. */
static void set_bin(struct fields *f, enum field k, size_t n)
{
	struct tj_mp_writer w;
	static const uint8_t zero[FIELD_MAX_BYTES];
	tj_mp_writer_init(&w, f->bytes[k], FIELD_MAX_BYTES);
	tj_mp_put_bin(&w, zero, n);
	assert_int_equal(tj_mp_writer_finish(&w, &f->len[k]), 0);
}

static void sample_fields(struct fields *f)
{
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record rec;
	sample(&rec);
	split(buf, encode(&rec, buf, sizeof(buf)), f);
}

static int decode_fields(const struct fields *f)
{
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record rec;
	size_t n = join(f, buf, sizeof(buf));
	return tj_record_decode(buf, n, &rec);
}

/* ---- positive ---- */

static void test_round_trip(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record in, out;
	sample(&in);
	size_t n = encode(&in, buf, sizeof(buf));
	assert_int_equal(tj_record_decode(buf, n, &out), 0);
	assert_int_equal(out.version, 1);
	assert_memory_equal(out.network_id, in.network_id, 32);
	assert_memory_equal(out.author, in.author, 32);
	assert_int_equal(out.seq, 4242);
	assert_true(out.has_prev);
	assert_memory_equal(out.prev, in.prev, 32);
	assert_true(out.ts_ms == 1773446400000ull);
	assert_int_equal(out.kind, TJ_KIND_INCIDENT);
	assert_int_equal(out.audience.type, TJ_AUD_CIRCLE);
	assert_true(out.audience.has_ref);
	assert_memory_equal(out.audience.ref, in.audience.ref, 32);
	assert_int_equal(out.n_slots, 2);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(out.slots[k].type, in.slots[k].type);
		assert_memory_equal(out.slots[k].ref, in.slots[k].ref, 32);
		assert_int_equal(out.slots[k].wrapped_len, in.slots[k].wrapped_len);
		assert_memory_equal(out.slots[k].wrapped, wrapped, in.slots[k].wrapped_len);
		/* borrowed from the encoding */
		assert_true(out.slots[k].wrapped > buf && out.slots[k].wrapped < buf + n);
	}
	assert_memory_equal(out.nonce, in.nonce, 24);
	assert_int_equal(out.ciphertext_len, sizeof(ciphertext));
	assert_memory_equal(out.ciphertext, ciphertext, sizeof(ciphertext));
	assert_memory_equal(out.sig, in.sig, 64);
	/* ranges: header ends after the nonce bin, signed after the ciphertext bin */
	assert_int_equal(out.total_len, n);
	assert_int_equal(out.signed_len, n - (2 + 64));
	assert_int_equal(out.header_len, out.signed_len - (2 + sizeof(ciphertext)));
	assert_memory_equal(buf + out.header_len - 24, in.nonce, 24);
	/* re-encoding the decoded record gives the same bytes */
	static uint8_t again[REC_BUF_BYTES];
	assert_int_equal(encode(&out, again, sizeof(again)), n);
	assert_memory_equal(again, buf, n);
}

static void test_no_prev_named_no_slots(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record in, out;
	sample(&in);
	in.has_prev = false;
	in.audience.type = TJ_AUD_NAMED;
	in.audience.has_ref = false;
	in.n_slots = 0;
	in.kind = TJ_KIND_CIRCLE;
	size_t n = encode(&in, buf, sizeof(buf));
	assert_int_equal(tj_record_decode(buf, n, &out), 0);
	assert_false(out.has_prev);
	assert_false(out.audience.has_ref);
	assert_int_equal(out.n_slots, 0);
	assert_int_equal(out.kind, TJ_KIND_CIRCLE);
}

/* Known answer: tests/fuzz/corpus/record/genesis.bin was written by a separate
 * (Python) encoder; our writer must produce exactly those bytes. */
static void test_known_answer(void **state)
{
	(void)state;
	static uint8_t file[REC_BUF_BYTES], buf[REC_BUF_BYTES];
	FILE *fp = fopen(TJ_TEST_DATA "/fuzz/corpus/record/genesis.bin", "rb");
	assert_non_null(fp);
	size_t flen = fread(file, 1, sizeof(file), fp);
	fclose(fp);

	static const uint8_t zeros[100];
	struct tj_record rec, dec;
	memset(&rec, 0, sizeof(rec));
	rec.version = 1;
	memset(rec.network_id, 0x11, 32);
	memset(rec.author, 0x22, 32);
	rec.seq = 0;
	rec.ts_ms = 1773446400000ull;
	rec.kind = TJ_KIND_GENESIS;
	rec.audience.type = TJ_AUD_NETWORK;
	rec.audience.has_ref = true;
	memset(rec.audience.ref, 0x55, 32);
	rec.n_slots = 1;
	memset(rec.slots[0].ref, 0x55, 32);
	rec.slots[0].wrapped = zeros;
	rec.slots[0].wrapped_len = 72;
	memset(rec.nonce, 0x33, 24);
	rec.ciphertext = zeros;
	rec.ciphertext_len = 100;
	memset(rec.sig, 0x44, 64);
	size_t n = encode(&rec, buf, sizeof(buf));
	assert_int_equal(n, flen);
	assert_memory_equal(buf, file, n);
	/* spot-check the canonical forms: fixarray 12, ts as uint64 */
	assert_int_equal(buf[0], 0x9c);
	assert_int_equal(tj_record_decode(file, flen, &dec), 0);
	assert_true(dec.ts_ms == 1773446400000ull);
}

static void test_sixteen_slots_and_max_wrapped(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES];
	static const uint8_t big[TJ_SLOT_WRAPPED_MAX_BYTES + 1];
	struct tj_record in, out;
	sample(&in);
	in.n_slots = TJ_RECORD_SLOTS_MAX;
	for (int k = 0; k < TJ_RECORD_SLOTS_MAX; k++) {
		in.slots[k].type = TJ_SLOT_SEALED;
		memset(in.slots[k].ref, k, 32);
		in.slots[k].wrapped = big;
		in.slots[k].wrapped_len = TJ_SLOT_WRAPPED_MAX_BYTES;
	}
	size_t n = encode(&in, buf, sizeof(buf));
	assert_int_equal(tj_record_decode(buf, n, &out), 0);
	assert_int_equal(out.n_slots, 16);

	/* the writer refuses what the decoder would refuse */
	struct tj_mp_writer w;
	size_t len;
	in.slots[3].wrapped_len = TJ_SLOT_WRAPPED_MAX_BYTES + 1;
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_record_write_header(&w, &in);
	assert_int_equal(tj_mp_writer_finish(&w, &len), TJ_ELIMIT);
	in.slots[3].wrapped_len = TJ_SLOT_WRAPPED_MAX_BYTES;
	in.n_slots = TJ_RECORD_SLOTS_MAX + 1;
	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_record_write_header(&w, &in);
	assert_int_equal(tj_mp_writer_finish(&w, &len), TJ_ELIMIT);
}

/* ---- negative, per field ---- */

struct bad_field {
	enum field field;
	const char *what;
	uint8_t bytes[8];
	size_t len;
	int want;
};

static void test_wrong_type_per_field(void **state)
{
	(void)state;
	static const struct bad_field cases[] = {
	    {F_VERSION, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_VERSION, "negative", {0xff}, 1, TJ_EMALFORMED},
	    {F_VERSION, "2", {0x02}, 1, TJ_EUNSUPPORTED},
	    {F_VERSION, "0", {0x00}, 1, TJ_EUNSUPPORTED},
	    {F_VERSION, "non-canonical 1", {0xcc, 0x01}, 2, TJ_ENONCANON},
	    {F_NETWORK, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_NETWORK, "str", {0xa1, 0x61}, 2, TJ_EMALFORMED},
	    {F_AUTHOR, "uint", {0x05}, 1, TJ_EMALFORMED},
	    {F_SEQ, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_SEQ, "negative", {0xd0, 0x80}, 2, TJ_EMALFORMED},
	    {F_SEQ, "bin", {0xc4, 0x01, 0x00}, 3, TJ_EMALFORMED},
	    {F_PREV, "uint", {0x01}, 1, TJ_EMALFORMED},
	    {F_PREV, "false", {0xc2}, 1, TJ_EMALFORMED},
	    {F_TS, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_TS, "float", {0xca, 0, 0, 0, 0}, 5, TJ_ENONCANON},
	    {F_KIND, "14", {14}, 1, TJ_EUNSUPPORTED},
	    {F_KIND, "255", {0xcc, 0xff}, 2, TJ_EUNSUPPORTED},
	    {F_KIND, "str", {0xa0}, 1, TJ_EMALFORMED},
	    {F_AUDIENCE, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_AUDIENCE, "uint", {0x00}, 1, TJ_EMALFORMED},
	    {F_AUDIENCE, "1 field", {0x91, 0x02}, 2, TJ_EMALFORMED},
	    {F_AUDIENCE, "3 fields", {0x93, 0x02, 0xc0, 0xc0}, 4, TJ_EMALFORMED},
	    {F_AUDIENCE, "type 3", {0x92, 0x03, 0xc0}, 3, TJ_EMALFORMED},
	    {F_AUDIENCE, "ref uint", {0x92, 0x02, 0x01}, 3, TJ_EMALFORMED},
	    {F_AUDIENCE, "ref bin1", {0x92, 0x02, 0xc4, 0x01, 0x00}, 5, TJ_EMALFORMED},
	    {F_SLOTS, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_SLOTS, "map", {0x80}, 1, TJ_EMALFORMED},
	    {F_SLOTS, "slot nil", {0x91, 0xc0}, 2, TJ_EMALFORMED},
	    {F_SLOTS, "slot 2 fields", {0x91, 0x92, 0x00, 0xc0}, 4, TJ_EMALFORMED},
	    {F_NONCE, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_CIPHERTEXT, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_CIPHERTEXT, "str", {0xa1, 0x61}, 2, TJ_EMALFORMED},
	    {F_CIPHERTEXT, "bin0", {0xc4, 0x00}, 2, TJ_EMALFORMED},
	    {F_SIG, "nil", {0xc0}, 1, TJ_EMALFORMED},
	    {F_SIG, "ext", {0xd4, 0x01, 0x00}, 3, TJ_EMALFORMED},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fields f;
		sample_fields(&f);
		set_field(&f, cases[k].field, cases[k].bytes, cases[k].len);
		int rc = decode_fields(&f);
		if (rc != cases[k].want)
			fail_msg("field %d %s: got %s, want %s", cases[k].field, cases[k].what,
			         tj_errname(rc), tj_errname(cases[k].want));
	}
}

static void test_wrong_bin_sizes(void **state)
{
	(void)state;
	static const struct {
		enum field field;
		size_t good;
	} bins[] = {
	    {F_NETWORK, 32}, {F_AUTHOR, 32}, {F_PREV, 32}, {F_NONCE, 24}, {F_SIG, 64},
	};
	for (size_t k = 0; k < sizeof(bins) / sizeof(bins[0]); k++) {
		const size_t sizes[] = {0, bins[k].good - 1, bins[k].good + 1, 2 * bins[k].good};
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct fields f;
			sample_fields(&f);
			set_bin(&f, bins[k].field, sizes[s]);
			assert_int_equal(decode_fields(&f), TJ_EMALFORMED);
		}
		struct fields ok;
		sample_fields(&ok);
		set_bin(&ok, bins[k].field, bins[k].good);
		assert_int_equal(decode_fields(&ok), 0);
	}
	/* ciphertext: 16 bytes (a bare tag) is the least */
	struct fields f;
	sample_fields(&f);
	set_bin(&f, F_CIPHERTEXT, 15);
	assert_int_equal(decode_fields(&f), TJ_EMALFORMED);
	set_bin(&f, F_CIPHERTEXT, 16);
	assert_int_equal(decode_fields(&f), 0);
}

/* Builds a slots field of n slots, each with the given wrapped length and type. */
static void set_slots(struct fields *f, uint32_t n, size_t wrapped_len, uint64_t type, size_t ref_len)
{
	static const uint8_t zero[256];
	struct tj_mp_writer w;
	tj_mp_writer_init(&w, f->bytes[F_SLOTS], FIELD_MAX_BYTES);
	tj_mp_put_array(&w, n);
	for (uint32_t k = 0; k < n; k++) {
		tj_mp_put_array(&w, 3);
		tj_mp_put_uint(&w, type);
		tj_mp_put_bin(&w, zero, ref_len);
		tj_mp_put_bin(&w, zero, wrapped_len);
	}
	assert_int_equal(tj_mp_writer_finish(&w, &f->len[F_SLOTS]), 0);
}

static void test_slots(void **state)
{
	(void)state;
	struct fields f;
	sample_fields(&f);
	set_slots(&f, 16, 80, TJ_SLOT_SEALED, 32);
	assert_int_equal(decode_fields(&f), 0);
	set_slots(&f, 17, 80, TJ_SLOT_SEALED, 32);
	assert_int_equal(decode_fields(&f), TJ_ELIMIT);
	set_slots(&f, 1, TJ_SLOT_WRAPPED_MAX_BYTES, TJ_SLOT_EPOCH, 32);
	assert_int_equal(decode_fields(&f), 0);
	set_slots(&f, 1, TJ_SLOT_WRAPPED_MAX_BYTES + 1, TJ_SLOT_EPOCH, 32);
	assert_int_equal(decode_fields(&f), TJ_ELIMIT);
	set_slots(&f, 1, 72, 3, 32); /* unknown slot type */
	assert_int_equal(decode_fields(&f), TJ_EMALFORMED);
	set_slots(&f, 1, 72, TJ_SLOT_CIRCLE, 31);
	assert_int_equal(decode_fields(&f), TJ_EMALFORMED);
	set_slots(&f, 1, 72, TJ_SLOT_CIRCLE, 33);
	assert_int_equal(decode_fields(&f), TJ_EMALFORMED);
}

static void test_envelope_shape(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record rec;
	struct fields f;
	sample_fields(&f);
	size_t n = join(&f, buf, sizeof(buf));

	/* trailing byte */
	buf[n] = 0xc0;
	assert_int_equal(tj_record_decode(buf, n + 1, &rec), TJ_EMALFORMED);
	/* 11 and 13 fields */
	buf[0] = 0x9b;
	assert_int_equal(tj_record_decode(buf, n - f.len[F_SIG], &rec), TJ_EMALFORMED);
	buf[0] = 0x9d;
	assert_int_equal(tj_record_decode(buf, n + 1, &rec), TJ_EMALFORMED);
	/* a future version with a different shape says "unsupported" */
	static const uint8_t future[] = {0x92, 0x02, 0xc0};
	assert_int_equal(tj_record_decode(future, sizeof(future), &rec), TJ_EUNSUPPORTED);
	/* not an array at all */
	static const uint8_t map[] = {0x80};
	assert_int_equal(tj_record_decode(map, sizeof(map), &rec), TJ_EMALFORMED);
	/* empty */
	assert_int_equal(tj_record_decode(buf, 0, &rec), TJ_ETRUNC);
}

static void test_oversize(void **state)
{
	(void)state;
	uint8_t *buf = malloc(TJ_RECORD_MAX_BYTES + 1);
	struct tj_record rec;
	struct fields f;
	assert_non_null(buf);
	sample_fields(&f);
	/* a ciphertext that makes the whole record one byte too long */
	size_t base = join(&f, buf, TJ_RECORD_MAX_BYTES + 1) - f.len[F_CIPHERTEXT];
	size_t ct = TJ_RECORD_MAX_BYTES + 1 - base - 3; /* bin16 header */
	struct tj_mp_writer w;
	uint8_t *body;
	size_t n;
	tj_mp_writer_init(&w, buf, TJ_RECORD_MAX_BYTES + 1);
	tj_mp_put_array(&w, FIELDS);
	for (int k = 0; k < F_CIPHERTEXT; k++)
		tj_mp_put_raw(&w, f.bytes[k], f.len[k]);
	body = tj_mp_put_bin_reserve(&w, ct);
	assert_non_null(body);
	tj_mp_put_raw(&w, f.bytes[F_SIG], f.len[F_SIG]);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	assert_int_equal(n, TJ_RECORD_MAX_BYTES + 1);
	assert_int_equal(tj_record_decode(buf, n, &rec), TJ_ELIMIT);

	/* one byte less is exactly the limit, and decodes */
	tj_mp_writer_init(&w, buf, TJ_RECORD_MAX_BYTES);
	tj_mp_put_array(&w, FIELDS);
	for (int k = 0; k < F_CIPHERTEXT; k++)
		tj_mp_put_raw(&w, f.bytes[k], f.len[k]);
	assert_non_null(tj_mp_put_bin_reserve(&w, ct - 1));
	tj_mp_put_raw(&w, f.bytes[F_SIG], f.len[F_SIG]);
	assert_int_equal(tj_mp_writer_finish(&w, &n), 0);
	assert_int_equal(n, TJ_RECORD_MAX_BYTES);
	assert_int_equal(tj_record_decode(buf, n, &rec), 0);
	assert_int_equal(rec.ciphertext_len, ct - 1);
	free(buf);
}

static void test_every_truncation(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES];
	struct tj_record in, out;
	sample(&in);
	size_t n = encode(&in, buf, sizeof(buf));
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t *p = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		assert_non_null(p);
		memcpy(p, buf, cut);
		int rc = tj_record_decode(p, cut, &out);
		if (rc != TJ_ETRUNC)
			fail_msg("cut at %zu: %s", cut, tj_errname(rc));
		free(p);
	}
}

/* A decoded record whose re-encoding is not the input would make two
 * encodings of one record: every flipped bit must be refused, or decode to a
 * record that re-encodes to the flipped bytes (hence a different record). */
static void test_every_bit_flip(void **state)
{
	(void)state;
	static uint8_t buf[REC_BUF_BYTES], again[REC_BUF_BYTES];
	struct tj_record in, out;
	unsigned accepted = 0, refused = 0;
	sample(&in);
	size_t n = encode(&in, buf, sizeof(buf));
	for (size_t at = 0; at < n; at++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			buf[at] ^= (uint8_t)(1u << bit);
			int rc = tj_record_decode(buf, n, &out);
			if (rc == 0) {
				assert_int_equal(encode(&out, again, sizeof(again)), n);
				assert_memory_equal(again, buf, n);
				accepted++;
			} else {
				assert_true(rc >= TJ_E_FIRST && rc < TJ_E_LAST);
				refused++;
			}
			buf[at] ^= (uint8_t)(1u << bit);
		}
	}
	print_message("bit flips over %zu bytes: %u decoded to another record, %u refused\n", n, accepted,
	              refused);
	/* structural bytes must be caught, payload bytes may pass */
	assert_true(refused > 0);
	assert_true(accepted > 0);
	assert_int_equal(tj_record_decode(buf, n, &out), 0);
}

static void test_seed_corpus_verdicts(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int want;
	} seeds[] = {
	    {"genesis.bin", 0},
	    {"incident-3slots.bin", 0},
	    {"named-16slots.bin", 0},
	    {"bad-version.bin", TJ_EUNSUPPORTED},
	    {"bad-kind.bin", TJ_EUNSUPPORTED},
	    {"17-slots.bin", TJ_ELIMIT},
	    {"short-ciphertext.bin", TJ_EMALFORMED},
	    {"truncated.bin", TJ_ETRUNC},
	    {"trailing.bin", TJ_EMALFORMED},
	};
	static uint8_t buf[REC_BUF_BYTES];
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		char path[512];
		struct tj_record rec;
		snprintf(path, sizeof(path), "%s/fuzz/corpus/record/%s", TJ_TEST_DATA, seeds[k].name);
		FILE *fp = fopen(path, "rb");
		assert_non_null(fp);
		size_t n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		int rc = tj_record_decode(buf, n, &rec);
		if (rc != seeds[k].want)
			fail_msg("%s: got %s, want %s", seeds[k].name, tj_errname(rc),
			         tj_errname(seeds[k].want));
	}
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(tj_kind_name(TJ_KIND_GENESIS), "genesis");
	assert_string_equal(tj_kind_name(TJ_KIND_INCIDENT), "incident");
	assert_string_equal(tj_kind_name(TJ_KIND_CIRCLE), "circle");
	assert_string_equal(tj_kind_name(TJ_KIND__COUNT), "unknown");
	assert_string_equal(tj_kind_name(255), "unknown");
	for (uint8_t k = 0; k < TJ_KIND__COUNT; k++)
		assert_string_not_equal(tj_kind_name(k), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_no_prev_named_no_slots),
	    cmocka_unit_test(test_known_answer),
	    cmocka_unit_test(test_sixteen_slots_and_max_wrapped),
	    cmocka_unit_test(test_wrong_type_per_field),
	    cmocka_unit_test(test_wrong_bin_sizes),
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_envelope_shape),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_seed_corpus_verdicts),
	    cmocka_unit_test(test_kind_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
