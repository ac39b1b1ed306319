/*
 * Canonical msgpack: bounded check, writer, cursor reader.
 *
 * One header decoder (tj__mp_head) serves the check, the reader and skip, so
 * the three agree on what each byte means. It never reads past `left` bytes
 * and never allocates; the callers bound the payloads.
 */
#include "tj_mp.h"

#include <errno.h>
#include <string.h>

const struct tj_mp_limits tj_mp_limits_default = {
    .max_depth = 8,
    .max_items = 65536,
    .max_str = 64u * 1024u,
    .canonical = true,
};

enum tj__mp_class {
	TJ__MP_NIL,
	TJ__MP_BOOL,
	TJ__MP_UINT,  /* u holds the value */
	TJ__MP_NINT,  /* i holds the (negative, or non-negative in a signed form) value */
	TJ__MP_FLOAT, /* the whole value is in the header */
	TJ__MP_STR,   /* u = payload length */
	TJ__MP_BIN,   /* u = payload length */
	TJ__MP_ARRAY, /* u = element count */
	TJ__MP_MAP,   /* u = entry count (2u objects follow) */
};

/* One decoded object header. */
struct tj__mp_head {
	enum tj__mp_class cls;
	size_t hlen; /* header bytes; for scalars the whole object */
	uint64_t u;
	int64_t i;
	bool b;
	bool shortest; /* the canonical (shortest) form for this value */
};

static uint64_t tj__be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t k = 0; k < n; k++)
		v = (v << 8) | p[k];
	return v;
}

/* Reads an n-byte big-endian field after the tag, if present. */
static int tj__mp_field(const uint8_t *p, size_t left, size_t n, uint64_t *v)
{
	if (left < 1 + n)
		return TJ_ETRUNC;
	*v = tj__be(p + 1, n);
	return 0;
}

/* Sign-extends an n-byte two's complement value without implementation-defined casts. */
static int64_t tj__sext(uint64_t v, size_t n)
{
	unsigned bits = (unsigned)(8 * n);
	uint64_t sign = (uint64_t)1 << (bits - 1);
	if (!(v & sign))
		return (int64_t)v;
	/* v - 2^bits, computed as -(2^bits - v) in the unsigned domain */
	uint64_t mag = (bits == 64) ? (~v + 1) : (((uint64_t)1 << bits) - v);
	if (mag == sign && bits == 64)
		return INT64_MIN;
	return -(int64_t)mag;
}

/* Lengths and counts: 1, 2 or 4 byte field; `min` is the least value this form may hold canonically. */
static int tj__mp_sized(const uint8_t *p, size_t left, enum tj__mp_class cls, size_t n, uint64_t min,
                        struct tj__mp_head *h)
{
	int rc = tj__mp_field(p, left, n, &h->u);
	if (rc)
		return rc;
	h->cls = cls;
	h->hlen = 1 + n;
	h->shortest = h->u >= min;
	return 0;
}

static int tj__mp_uint(const uint8_t *p, size_t left, size_t n, uint64_t min, struct tj__mp_head *h)
{
	return tj__mp_sized(p, left, TJ__MP_UINT, n, min, h);
}

/* A signed form is shortest only for a value no smaller form (nor a uint) holds. */
static int tj__mp_sint(const uint8_t *p, size_t left, size_t n, struct tj__mp_head *h)
{
	uint64_t raw;
	int rc = tj__mp_field(p, left, n, &raw);
	if (rc)
		return rc;
	h->cls = TJ__MP_NINT;
	h->hlen = 1 + n;
	h->i = tj__sext(raw, n);
	int64_t floor = (n == 1) ? -32 : -(((int64_t)1) << (8 * (n / 2) - 1));
	h->shortest = h->i < floor;
	return 0;
}

static int tj__mp_fixed(const uint8_t tag, struct tj__mp_head *h)
{
	h->shortest = true;
	h->hlen = 1;
	if (tag <= 0x7f) {
		h->cls = TJ__MP_UINT;
		h->u = tag;
	} else if (tag <= 0x8f) {
		h->cls = TJ__MP_MAP;
		h->u = tag & 0x0fu;
	} else if (tag <= 0x9f) {
		h->cls = TJ__MP_ARRAY;
		h->u = tag & 0x0fu;
	} else if (tag <= 0xbf) {
		h->cls = TJ__MP_STR;
		h->u = tag & 0x1fu;
	} else { /* 0xe0..0xff: negative fixint */
		h->cls = TJ__MP_NINT;
		h->i = (int64_t)tag - 256;
	}
	return 0;
}

static int tj__mp_head(const uint8_t *p, size_t left, struct tj__mp_head *h)
{
	memset(h, 0, sizeof(*h));
	if (left == 0)
		return TJ_ETRUNC;
	uint8_t tag = p[0];
	if (tag <= 0xbf || tag >= 0xe0)
		return tj__mp_fixed(tag, h);
	h->hlen = 1;
	h->shortest = true;
	switch (tag) {
	case 0xc0:
		h->cls = TJ__MP_NIL;
		return 0;
	case 0xc2:
		h->cls = TJ__MP_BOOL;
		h->b = false;
		return 0;
	case 0xc3:
		h->cls = TJ__MP_BOOL;
		h->b = true;
		return 0;
	case 0xc4:
		return tj__mp_sized(p, left, TJ__MP_BIN, 1, 0, h);
	case 0xc5:
		return tj__mp_sized(p, left, TJ__MP_BIN, 2, 256, h);
	case 0xc6:
		return tj__mp_sized(p, left, TJ__MP_BIN, 4, 65536, h);
	case 0xca:
	case 0xcb:
		/* Tejido never signs floats: never canonical. */
		if (left < (tag == 0xca ? 5u : 9u))
			return TJ_ETRUNC;
		h->cls = TJ__MP_FLOAT;
		h->hlen = tag == 0xca ? 5 : 9;
		h->shortest = false;
		return 0;
	case 0xcc:
		return tj__mp_uint(p, left, 1, 128, h);
	case 0xcd:
		return tj__mp_uint(p, left, 2, 256, h);
	case 0xce:
		return tj__mp_uint(p, left, 4, 65536, h);
	case 0xcf:
		return tj__mp_uint(p, left, 8, (uint64_t)1 << 32, h);
	case 0xd0:
		return tj__mp_sint(p, left, 1, h);
	case 0xd1:
		return tj__mp_sint(p, left, 2, h);
	case 0xd2:
		return tj__mp_sint(p, left, 4, h);
	case 0xd3:
		return tj__mp_sint(p, left, 8, h);
	case 0xd9:
		return tj__mp_sized(p, left, TJ__MP_STR, 1, 32, h);
	case 0xda:
		return tj__mp_sized(p, left, TJ__MP_STR, 2, 256, h);
	case 0xdb:
		return tj__mp_sized(p, left, TJ__MP_STR, 4, 65536, h);
	case 0xdc:
		return tj__mp_sized(p, left, TJ__MP_ARRAY, 2, 16, h);
	case 0xdd:
		return tj__mp_sized(p, left, TJ__MP_ARRAY, 4, 65536, h);
	case 0xde:
		return tj__mp_sized(p, left, TJ__MP_MAP, 2, 16, h);
	case 0xdf:
		return tj__mp_sized(p, left, TJ__MP_MAP, 4, 65536, h);
	default:
		/* 0xc1 (never used) and the ext family c7-c9, d4-d8. */
		return TJ_EMALFORMED;
	}
}

/*
 * Bounds one object's payload or children against the limits and the bytes
 * left after its header. Returns how many child objects it opens (0 for scalars).
 */
static int tj__mp_check_one(const struct tj__mp_head *h, const struct tj_mp_limits *lim, size_t left,
                            uint64_t *children)
{
	*children = 0;
	switch (h->cls) {
	case TJ__MP_STR:
	case TJ__MP_BIN:
		if (h->u > lim->max_str)
			return TJ_ELIMIT;
		if (h->u > left)
			return TJ_ETRUNC;
		return 0;
	case TJ__MP_ARRAY:
	case TJ__MP_MAP:
		*children = h->cls == TJ__MP_MAP ? 2 * h->u : h->u;
		if (*children > lim->max_items)
			return TJ_ELIMIT;
		/* every child takes at least one byte */
		if (*children > left)
			return TJ_ETRUNC;
		return 0;
	default:
		return 0;
	}
}

int tj_mp_check(const uint8_t *buf, size_t len, const struct tj_mp_limits *lim, bool exact, size_t *used)
{
	uint64_t open[TJ_MP_DEPTH_MAX]; /* children still expected per open container */
	uint32_t depth = 0;
	uint32_t max_depth = lim->max_depth < TJ_MP_DEPTH_MAX ? lim->max_depth : TJ_MP_DEPTH_MAX;
	uint64_t items = 0;
	size_t off = 0;
	int rc;

	if (used)
		*used = 0;
	if (len == 0)
		return TJ_ETRUNC;
	if (!buf)
		return -EINVAL;
	do {
		struct tj__mp_head h;
		uint64_t children;
		rc = tj__mp_head(buf + off, len - off, &h);
		if (rc)
			return rc;
		if (++items > lim->max_items)
			return TJ_ELIMIT;
		if (lim->canonical && !h.shortest)
			return TJ_ENONCANON;
		off += h.hlen;
		rc = tj__mp_check_one(&h, lim, len - off, &children);
		if (rc)
			return rc;
		if (h.cls == TJ__MP_STR || h.cls == TJ__MP_BIN)
			off += (size_t)h.u;
		if (depth > 0)
			open[depth - 1]--;
		if (h.cls == TJ__MP_ARRAY || h.cls == TJ__MP_MAP) {
			/* an empty container still counts as a level of nesting */
			if (depth + 1 > max_depth)
				return TJ_ELIMIT;
			if (children > 0)
				open[depth++] = children;
		}
		while (depth > 0 && open[depth - 1] == 0)
			depth--;
	} while (depth > 0);

	if (exact && off != len)
		return TJ_EMALFORMED;
	if (used)
		*used = off;
	return 0;
}

int tj_mp_unpack(const uint8_t *buf, size_t len, const struct tj_mp_limits *lim, msgpack_zone *zone,
                 msgpack_object *obj)
{
	size_t off = 0;
	int rc = tj_mp_check(buf, len, lim, true, NULL);
	if (rc)
		return rc;
	msgpack_unpack_return ret = msgpack_unpack((const char *)buf, len, &off, zone, obj);
	switch (ret) {
	case MSGPACK_UNPACK_SUCCESS:
		return off == len ? 0 : TJ_EMALFORMED;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		return -ENOMEM;
	case MSGPACK_UNPACK_CONTINUE:
		return TJ_ETRUNC;
	default:
		/* e.g. deeper than msgpack-c's own parse stack */
		return TJ_ELIMIT;
	}
}

/* ---- writer ---- */

static void tj__mp_fail(struct tj_mp_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

/* Once an error is recorded, nothing more is written: the buffer holds a prefix. */
static int tj__mp_append(void *data, const char *p, size_t n)
{
	struct tj_mp_writer *w = data;
	if (w->err)
		return -1;
	if (n > w->cap - w->len) {
		tj__mp_fail(w, TJ_ENOSPC);
		return -1;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

void tj_mp_writer_init(struct tj_mp_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->err = 0;
	msgpack_packer_init(&w->pk, w, tj__mp_append);
}

void tj_mp_put_array(struct tj_mp_writer *w, uint32_t n)
{
	(void)msgpack_pack_array(&w->pk, n);
}

void tj_mp_put_map(struct tj_mp_writer *w, uint32_t n)
{
	(void)msgpack_pack_map(&w->pk, n);
}

void tj_mp_put_uint(struct tj_mp_writer *w, uint64_t v)
{
	(void)msgpack_pack_uint64(&w->pk, v);
}

void tj_mp_put_int(struct tj_mp_writer *w, int64_t v)
{
	if (v >= 0)
		(void)msgpack_pack_uint64(&w->pk, (uint64_t)v);
	else
		(void)msgpack_pack_int64(&w->pk, v);
}

void tj_mp_put_nil(struct tj_mp_writer *w)
{
	(void)msgpack_pack_nil(&w->pk);
}

void tj_mp_put_bool(struct tj_mp_writer *w, bool v)
{
	if (v)
		(void)msgpack_pack_true(&w->pk);
	else
		(void)msgpack_pack_false(&w->pk);
}

void tj_mp_put_str(struct tj_mp_writer *w, const char *s, size_t len)
{
	if (len > UINT32_MAX || (!s && len)) {
		tj__mp_fail(w, TJ_ELIMIT);
		return;
	}
	if (msgpack_pack_str(&w->pk, len) == 0 && len)
		(void)msgpack_pack_str_body(&w->pk, s, len);
}

void tj_mp_put_cstr(struct tj_mp_writer *w, const char *s)
{
	if (!s) {
		tj__mp_fail(w, -EINVAL);
		return;
	}
	tj_mp_put_str(w, s, strlen(s));
}

void tj_mp_put_bin(struct tj_mp_writer *w, const void *p, size_t len)
{
	if (len > UINT32_MAX || (!p && len)) {
		tj__mp_fail(w, TJ_ELIMIT);
		return;
	}
	if (msgpack_pack_bin(&w->pk, len) == 0 && len)
		(void)msgpack_pack_bin_body(&w->pk, p, len);
}

uint8_t *tj_mp_put_bin_reserve(struct tj_mp_writer *w, size_t len)
{
	if (len > UINT32_MAX) {
		tj__mp_fail(w, TJ_ELIMIT);
		return NULL;
	}
	if (msgpack_pack_bin(&w->pk, len) != 0)
		return NULL;
	if (len > w->cap - w->len) {
		tj__mp_fail(w, TJ_ENOSPC);
		return NULL;
	}
	uint8_t *out = w->buf + w->len;
	/* zeroed so that a caller that fails to fill it leaks nothing old */
	memset(out, 0, len);
	w->len += len;
	return out;
}

void tj_mp_put_raw(struct tj_mp_writer *w, const void *p, size_t len)
{
	if (!p && len) {
		tj__mp_fail(w, -EINVAL);
		return;
	}
	(void)tj__mp_append(w, p, len);
}

int tj_mp_writer_finish(const struct tj_mp_writer *w, size_t *len)
{
	if (w->err)
		return w->err;
	*len = w->len;
	return 0;
}

/* ---- reader ---- */

void tj_mp_reader_init(struct tj_mp_reader *r, const uint8_t *buf, size_t len)
{
	r->p = buf;
	r->end = buf ? buf + len : buf;
	r->err = 0;
}

static int tj__rd_fail(struct tj_mp_reader *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

/*
 * Decodes the next header and checks its class. The reader stays bounds-safe
 * even on unchecked bytes: payloads are measured against the end here.
 */
static int tj__rd_head(struct tj_mp_reader *r, enum tj__mp_class want, struct tj__mp_head *h)
{
	if (r->err)
		return r->err;
	int rc = tj__mp_head(r->p, (size_t)(r->end - r->p), h);
	if (rc)
		return tj__rd_fail(r, rc);
	if (h->cls != want)
		return tj__rd_fail(r, TJ_EMALFORMED);
	uint64_t left = (uint64_t)(r->end - r->p) - h->hlen;
	if ((want == TJ__MP_STR || want == TJ__MP_BIN) && h->u > left)
		return tj__rd_fail(r, TJ_ETRUNC);
	/* a caller may size an allocation by a count: keep it <= the bytes left */
	if ((want == TJ__MP_ARRAY && h->u > left) || (want == TJ__MP_MAP && 2 * h->u > left))
		return tj__rd_fail(r, TJ_ETRUNC);
	return 0;
}

static int tj__rd_container(struct tj_mp_reader *r, enum tj__mp_class cls, uint32_t *n)
{
	struct tj__mp_head h;
	int rc = tj__rd_head(r, cls, &h);
	if (rc)
		return rc;
	r->p += h.hlen;
	*n = (uint32_t)h.u;
	return 0;
}

int tj_mp_read_array(struct tj_mp_reader *r, uint32_t *n)
{
	return tj__rd_container(r, TJ__MP_ARRAY, n);
}

int tj_mp_read_map(struct tj_mp_reader *r, uint32_t *n)
{
	return tj__rd_container(r, TJ__MP_MAP, n);
}

/* Reads any integer form into (is_neg, magnitude-or-value). */
static int tj__rd_integer(struct tj_mp_reader *r, bool *neg, uint64_t *u, int64_t *i)
{
	struct tj__mp_head h;
	if (r->err)
		return r->err;
	int rc = tj__mp_head(r->p, (size_t)(r->end - r->p), &h);
	if (rc)
		return tj__rd_fail(r, rc);
	if (h.cls != TJ__MP_UINT && h.cls != TJ__MP_NINT)
		return tj__rd_fail(r, TJ_EMALFORMED);
	*neg = h.cls == TJ__MP_NINT && h.i < 0;
	*u = h.cls == TJ__MP_UINT ? h.u : (uint64_t)(*neg ? 0 : h.i);
	*i = h.cls == TJ__MP_NINT ? h.i : 0;
	r->p += h.hlen;
	return 0;
}

int tj_mp_read_uint(struct tj_mp_reader *r, uint64_t *v)
{
	const uint8_t *save = r->p;
	bool neg;
	uint64_t u;
	int64_t i;
	int rc = tj__rd_integer(r, &neg, &u, &i);
	if (rc)
		return rc;
	if (neg) {
		r->p = save;
		return tj__rd_fail(r, TJ_EMALFORMED);
	}
	*v = u;
	return 0;
}

int tj_mp_read_int(struct tj_mp_reader *r, int64_t *v)
{
	const uint8_t *save = r->p;
	bool neg;
	uint64_t u;
	int64_t i;
	int rc = tj__rd_integer(r, &neg, &u, &i);
	if (rc)
		return rc;
	if (neg) {
		*v = i;
		return 0;
	}
	if (u > (uint64_t)INT64_MAX) {
		r->p = save;
		return tj__rd_fail(r, TJ_EMALFORMED);
	}
	*v = (int64_t)u;
	return 0;
}

int tj_mp_read_bool(struct tj_mp_reader *r, bool *v)
{
	struct tj__mp_head h;
	int rc = tj__rd_head(r, TJ__MP_BOOL, &h);
	if (rc)
		return rc;
	r->p += h.hlen;
	*v = h.b;
	return 0;
}

int tj_mp_read_nil(struct tj_mp_reader *r)
{
	struct tj__mp_head h;
	int rc = tj__rd_head(r, TJ__MP_NIL, &h);
	if (rc)
		return rc;
	r->p += h.hlen;
	return 0;
}

bool tj_mp_peek_nil(const struct tj_mp_reader *r)
{
	return !r->err && r->p < r->end && *r->p == 0xc0;
}

static int tj__rd_bytes(struct tj_mp_reader *r, enum tj__mp_class cls, const uint8_t **p, uint32_t *len)
{
	struct tj__mp_head h;
	int rc = tj__rd_head(r, cls, &h);
	if (rc)
		return rc;
	*p = r->p + h.hlen;
	*len = (uint32_t)h.u;
	r->p += h.hlen + (size_t)h.u;
	return 0;
}

int tj_mp_read_str(struct tj_mp_reader *r, const char **s, uint32_t *len)
{
	const uint8_t *p;
	int rc = tj__rd_bytes(r, TJ__MP_STR, &p, len);
	if (rc)
		return rc;
	*s = (const char *)p;
	return 0;
}

int tj_mp_read_bin(struct tj_mp_reader *r, const uint8_t **p, uint32_t *len)
{
	return tj__rd_bytes(r, TJ__MP_BIN, p, len);
}

int tj_mp_read_bin_exact(struct tj_mp_reader *r, uint8_t *out, size_t n)
{
	const uint8_t *save = r->p;
	const uint8_t *p;
	uint32_t len;
	int rc = tj_mp_read_bin(r, &p, &len);
	if (rc)
		return rc;
	if (len != n) {
		r->p = save;
		return tj__rd_fail(r, TJ_EMALFORMED);
	}
	if (n)
		memcpy(out, p, n);
	return 0;
}

/*
 * Skipping needs no stack: only the number of objects still owed matters.
 * Every object consumes at least one byte, so the loop ends with the buffer.
 */
int tj_mp_skip(struct tj_mp_reader *r)
{
	uint64_t owed = 1;
	const uint8_t *p = r->p;

	if (r->err)
		return r->err;
	while (owed > 0) {
		struct tj__mp_head h;
		size_t left = (size_t)(r->end - p);
		int rc = tj__mp_head(p, left, &h);
		if (rc)
			return tj__rd_fail(r, rc);
		owed--;
		p += h.hlen;
		left -= h.hlen;
		if (h.cls == TJ__MP_STR || h.cls == TJ__MP_BIN) {
			if (h.u > left)
				return tj__rd_fail(r, TJ_ETRUNC);
			p += (size_t)h.u;
		} else if (h.cls == TJ__MP_ARRAY || h.cls == TJ__MP_MAP) {
			uint64_t children = h.cls == TJ__MP_MAP ? 2 * h.u : h.u;
			/* each owed object needs a byte; owed stays <= len, so no wrap */
			if (owed + children > left)
				return tj__rd_fail(r, TJ_ETRUNC);
			owed += children;
		}
	}
	r->p = p;
	return 0;
}

size_t tj_mp_reader_offset(const struct tj_mp_reader *r, const uint8_t *buf)
{
	return (size_t)(r->p - buf);
}
