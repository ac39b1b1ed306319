/*
 * Canonical msgpack: a writer into a bounded buffer, a bounded check that runs
 * before any parser sees untrusted bytes, and a zero-copy cursor reader.
 *
 * WARNING: msgpack-c 4 trusts the counts in headers (`dd ff 00 00 00` asks it
 * for 96 GB). Never hand untrusted bytes to msgpack-c, nor to tj_mp_reader,
 * before tj_mp_check() has accepted them.
 */
#ifndef TJ_MP_H
#define TJ_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "tj_error.h"

/* Limits for one checked object. */
struct tj_mp_limits {
	uint32_t max_depth;  /* nesting of arrays/maps; the top level is depth 1 */
	uint32_t max_items;  /* total objects, containers included */
	uint32_t max_str;    /* bytes in one str or bin */
	bool canonical;      /* reject any non-shortest form (always on for records) */
};

/*
 * tj_mp_check() keeps one counter per open container on its own stack, so
 * max_depth is capped here whatever lim says; tj_mp_unpack() is further
 * capped by msgpack-c's own parse stack (MSGPACK_EMBED_STACK_SIZE, 32).
 */
#define TJ_MP_DEPTH_MAX 32

/* Depth 8, 65,536 items, 64 KiB strings, canonical. */
extern const struct tj_mp_limits tj_mp_limits_default;

/*
 * Checks that buf holds exactly one msgpack object within lim, and nothing
 * after it when `exact` is true: every array/map/str/bin count <= bytes left,
 * no ext types, depth and total items bounded, (canonical) shortest forms only.
 * Iterative: bounded stack whatever the input. *used = bytes of the object
 * (0 on error; used may be NULL).
 * Returns 0, TJ_EMALFORMED (ext, 0xc1, trailing bytes when exact),
 * TJ_ENONCANON (a non-shortest form or a float, when lim->canonical),
 * TJ_ELIMIT (depth, items, str/bin length, or a count above max_items) or
 * TJ_ETRUNC (input ends, or a count/length exceeds the bytes left).
 * Map keys are not sorted nor checked for duplicates: a map's parser must
 * refuse unknown and repeated keys.
 */
TJ_MUST_CHECK int tj_mp_check(const uint8_t *buf, size_t len, const struct tj_mp_limits *lim,
			      bool exact, size_t *used);

/*
 * Checks then unpacks with msgpack-c into zone. *obj borrows from zone and
 * from buf (str/bin point into buf): copy out before either is freed.
 */
TJ_MUST_CHECK int tj_mp_unpack(const uint8_t *buf, size_t len, const struct tj_mp_limits *lim,
			       msgpack_zone *zone, msgpack_object *obj);

/*
 * The writer. Always writes the shortest form. On overflow it stops writing
 * and remembers TJ_ENOSPC; tj_mp_writer_finish() reports the first error,
 * so a sequence of puts needs one check at the end.
 * Do not copy an initialised writer: its packer points back at it.
 */
struct tj_mp_writer {
	uint8_t *buf; /* borrowed */
	size_t cap;
	size_t len;
	int err;
	msgpack_packer pk;
};

void tj_mp_writer_init(struct tj_mp_writer *w, uint8_t *buf, size_t cap);
void tj_mp_put_array(struct tj_mp_writer *w, uint32_t n);
void tj_mp_put_map(struct tj_mp_writer *w, uint32_t n);
void tj_mp_put_uint(struct tj_mp_writer *w, uint64_t v);
void tj_mp_put_int(struct tj_mp_writer *w, int64_t v); /* positive values as uint */
void tj_mp_put_nil(struct tj_mp_writer *w);
void tj_mp_put_bool(struct tj_mp_writer *w, bool v);
void tj_mp_put_str(struct tj_mp_writer *w, const char *s, size_t len);
void tj_mp_put_cstr(struct tj_mp_writer *w, const char *s); /* NUL-terminated */
void tj_mp_put_bin(struct tj_mp_writer *w, const void *p, size_t len);
/* Writes a bin header for len bytes and returns where to write them (NULL on overflow). */
uint8_t *tj_mp_put_bin_reserve(struct tj_mp_writer *w, size_t len);
/* Appends already-encoded msgpack bytes verbatim. */
void tj_mp_put_raw(struct tj_mp_writer *w, const void *p, size_t len);
TJ_MUST_CHECK int tj_mp_writer_finish(const struct tj_mp_writer *w, size_t *len);

/*
 * The cursor reader, for bytes tj_mp_check() accepted. Each read checks the
 * type and returns TJ_EMALFORMED if it differs (the reader remembers the
 * first error in r->err; later reads fail with it).
 * Strings and bins are (pointer, length) borrowed from the buffer.
 */
struct tj_mp_reader {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

void tj_mp_reader_init(struct tj_mp_reader *r, const uint8_t *buf, size_t len);
TJ_MUST_CHECK int tj_mp_read_array(struct tj_mp_reader *r, uint32_t *n);
TJ_MUST_CHECK int tj_mp_read_map(struct tj_mp_reader *r, uint32_t *n);
TJ_MUST_CHECK int tj_mp_read_uint(struct tj_mp_reader *r, uint64_t *v);
TJ_MUST_CHECK int tj_mp_read_int(struct tj_mp_reader *r, int64_t *v);
TJ_MUST_CHECK int tj_mp_read_bool(struct tj_mp_reader *r, bool *v);
TJ_MUST_CHECK int tj_mp_read_nil(struct tj_mp_reader *r);
bool tj_mp_peek_nil(const struct tj_mp_reader *r);
TJ_MUST_CHECK int tj_mp_read_str(struct tj_mp_reader *r, const char **s, uint32_t *len);
TJ_MUST_CHECK int tj_mp_read_bin(struct tj_mp_reader *r, const uint8_t **p, uint32_t *len);
/* Reads a bin of exactly n bytes into out. */
TJ_MUST_CHECK int tj_mp_read_bin_exact(struct tj_mp_reader *r, uint8_t *out, size_t n);
/* Skips one whole object (bounded: the bytes were checked). */
TJ_MUST_CHECK int tj_mp_skip(struct tj_mp_reader *r);
/* Bytes consumed so far from buf. */
size_t tj_mp_reader_offset(const struct tj_mp_reader *r, const uint8_t *buf);

#endif
