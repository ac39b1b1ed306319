/*
 * Fuzzes the msgpack codec: tj_mp_check under strict and loose limits, the
 * cursor reader and skip over what the check accepted, tj_mp_unpack, and
 * the writer re-encoding what msgpack-c unpacked (a canonical input must
 * re-encode to the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TJ_FUZZ_OUT_BYTES (128u * 1024u)
#define TJ_FUZZ_WALK_STEPS 4096u

static const struct tj_mp_limits tj__loose = {
    .max_depth = 16,
    .max_items = 4096,
    .max_str = 4096,
    .canonical = false,
};

/* Re-encodes an unpacked object; overflow is recorded in w. */
static void tj__reencode(struct tj_mp_writer *w, const msgpack_object *o, unsigned depth)
{
	if (depth > TJ_MP_DEPTH_MAX) {
		abort(); /* the check bounds depth; deeper means it failed */
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		tj_mp_put_nil(w);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		tj_mp_put_bool(w, o->via.boolean);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		tj_mp_put_uint(w, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		tj_mp_put_int(w, o->via.i64);
		break;
	case MSGPACK_OBJECT_STR:
		tj_mp_put_str(w, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		tj_mp_put_bin(w, o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		tj_mp_put_array(w, o->via.array.size);
		for (uint32_t k = 0; k < o->via.array.size; k++)
			tj__reencode(w, &o->via.array.ptr[k], depth + 1);
		break;
	case MSGPACK_OBJECT_MAP:
		tj_mp_put_map(w, o->via.map.size);
		for (uint32_t k = 0; k < o->via.map.size; k++) {
			tj__reencode(w, &o->via.map.ptr[k].key, depth + 1);
			tj__reencode(w, &o->via.map.ptr[k].val, depth + 1);
		}
		break;
	default:
		/* floats and ext never pass a canonical check */
		abort();
	}
}

/*
 * Tries each typed read at the cursor; the first whose type matches advances
 * it. A read of the wrong type must leave the cursor where it was.
 */
static bool tj__read_any(struct tj_mp_reader *r)
{
	uint32_t n;
	uint64_t u;
	int64_t i;
	bool b;
	const char *s;
	const uint8_t *p;

	for (unsigned kind = 0; kind < 8; kind++) {
		const uint8_t *before = r->p;
		int rc = 0;
		r->err = 0;
		switch (kind) {
		case 0:
			rc = tj_mp_read_array(r, &n);
			break;
		case 1:
			rc = tj_mp_read_map(r, &n);
			break;
		case 2:
			rc = tj_mp_read_uint(r, &u);
			break;
		case 3:
			rc = tj_mp_read_int(r, &i);
			break;
		case 4:
			rc = tj_mp_read_bool(r, &b);
			break;
		case 5:
			rc = tj_mp_read_nil(r);
			break;
		case 6:
			rc = tj_mp_read_str(r, &s, &n);
			break;
		default:
			rc = tj_mp_read_bin(r, &p, &n);
			break;
		}
		if (rc == 0)
			return true;
		if (r->p != before)
			abort();
	}
	r->err = 0;
	return tj_mp_skip(r) == 0;
}

/* Walks the checked bytes header by header with the typed reader. */
static void tj__walk(const uint8_t *data, size_t size)
{
	struct tj_mp_reader r;
	tj_mp_reader_init(&r, data, size);
	for (unsigned step = 0; step < TJ_FUZZ_WALK_STEPS && r.p < r.end; step++) {
		if (!tj__read_any(&r))
			break;
	}
}

/*
 * Differential: whatever the loose check accepts, msgpack-c must parse to the
 * same length (depth 16 is within its parse stack of 32). The check ran
 * first, so msgpack-c's allocations are bounded by the input size.
 */
static void tj__agree_with_msgpack_c(const uint8_t *data, size_t used)
{
	msgpack_zone zone;
	msgpack_object obj;
	size_t off = 0;
	if (!msgpack_zone_init(&zone, 4096))
		abort();
	msgpack_unpack_return ret = msgpack_unpack((const char *)data, used, &off, &zone, &obj);
	if (ret != MSGPACK_UNPACK_SUCCESS || off != used)
		abort();
	msgpack_zone_destroy(&zone);
}

/* A canonical object unpacks, and re-encodes to exactly its input. */
static void tj__canonical_round_trip(const uint8_t *data, size_t size)
{
	msgpack_zone zone;
	msgpack_object obj;
	uint8_t *out = malloc(TJ_FUZZ_OUT_BYTES);
	struct tj_mp_writer w;
	size_t n;
	if (!out || !msgpack_zone_init(&zone, 4096))
		abort();
	if (tj_mp_unpack(data, size, &tj_mp_limits_default, &zone, &obj) != 0)
		abort(); /* the check accepted it: msgpack-c must too */
	tj_mp_writer_init(&w, out, TJ_FUZZ_OUT_BYTES);
	tj__reencode(&w, &obj, 1);
	if (size <= TJ_FUZZ_OUT_BYTES &&
	    (tj_mp_writer_finish(&w, &n) != 0 || n != size || memcmp(out, data, n) != 0))
		abort();
	msgpack_zone_destroy(&zone);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	int strict = tj_mp_check(data, size, &tj_mp_limits_default, true, &used);
	if (tj_mp_check(data, size, &tj__loose, false, &used) == 0) {
		struct tj_mp_reader r;
		tj_mp_reader_init(&r, data, used);
		if (tj_mp_skip(&r) != 0 || tj_mp_reader_offset(&r, data) != used)
			abort(); /* skip must agree with the check */
		tj__walk(data, used);
		tj__agree_with_msgpack_c(data, used);
	}
	if (strict == 0)
		tj__canonical_round_trip(data, size);
	return 0;
}
