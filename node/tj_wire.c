/* Peer application messages: see tj_wire.h. */
#include "tj_wire.h"

#include <string.h>

/* Before HELLO: one short array, nothing nested. */
static const struct tj_mp_limits tj__hello_limits = {
	.max_depth = 1,
	.max_items = 5,
	.max_str = 32,
	.canonical = true,
};

/* After HELLO: [type, last, [bins]] is depth 2; items bounded by the largest list. */
static const struct tj_mp_limits tj__msg_limits = {
	.max_depth = 2,
	.max_items = TJ_WIRE_HAVE_MAX + 8,
	.max_str = TJ_WIRE_NEG_MAX_BYTES > TJ_RECORD_MAX_BYTES ? TJ_WIRE_NEG_MAX_BYTES : TJ_RECORD_MAX_BYTES,
	.canonical = true,
};

const uint8_t tj_wire_probe_id[32] = {0};

size_t tj_wire_max_bytes(bool hello_done)
{
	return hello_done ? TJ_WIRE_MSG_MAX_BYTES : TJ_WIRE_HELLO_MAX_BYTES;
}

size_t tj_wire_record_cost(size_t len)
{
	return len + (len < 256 ? 2 : len < 65536 ? 3 : 5);
}

/* n elements in the message (its type included), exactly. */
static int tj__want_elems(uint32_t n, uint32_t want)
{
	return n == want ? 0 : TJ_EMALFORMED;
}

static int tj__read_hello(struct tj_mp_reader *r, uint32_t n, struct tj_wire_msg *m)
{
	int rc;

	if ((rc = tj__want_elems(n, 4)) != 0 || (rc = tj_mp_read_uint(r, &m->version)) != 0 ||
	    (rc = tj_mp_read_bin_exact(r, m->network_id, 32)) != 0 || (rc = tj_mp_read_uint(r, &m->records)) != 0)
		return rc;
	return m->version == TJ_WIRE_VERSION ? 0 : TJ_EUNSUPPORTED;
}

static int tj__read_neg(struct tj_mp_reader *r, uint32_t n, struct tj_wire_msg *m)
{
	int rc;

	if ((rc = tj__want_elems(n, 2)) != 0 || (rc = tj_mp_read_bin(r, &m->neg.p, &m->neg.len)) != 0)
		return rc;
	if (m->neg.len == 0)
		return TJ_EMALFORMED;
	return m->neg.len <= TJ_WIRE_NEG_MAX_BYTES ? 0 : TJ_ELIMIT;
}

static int tj__read_ids(struct tj_mp_reader *r, uint32_t n, uint32_t cap, struct tj_wire_msg *m)
{
	const uint8_t *p;
	uint32_t count, len;
	int rc;

	if ((rc = tj__want_elems(n, 2)) != 0 || (rc = tj_mp_read_array(r, &count)) != 0)
		return rc;
	if (count == 0)
		return TJ_EMALFORMED;
	if (count > cap)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = tj_mp_read_bin(r, &p, &len)) != 0)
			return rc;
		if (len != 32)
			return TJ_EMALFORMED;
		m->ids[i] = p;
	}
	m->n_ids = count;
	return 0;
}

/* The list of records of RECORDS / PUSH; an empty list is allowed only in RECORDS (nothing held). */
static int tj__read_recs(struct tj_mp_reader *r, bool allow_empty, struct tj_wire_msg *m)
{
	uint32_t count;
	size_t total = 0;
	int rc;

	if ((rc = tj_mp_read_array(r, &count)) != 0)
		return rc;
	if (count == 0 && !allow_empty)
		return TJ_EMALFORMED;
	if (count > TJ_WIRE_RECORDS_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = tj_mp_read_bin(r, &m->recs[i].p, &m->recs[i].len)) != 0)
			return rc;
		if (m->recs[i].len == 0)
			return TJ_EMALFORMED;
		if (m->recs[i].len > TJ_RECORD_MAX_BYTES)
			return TJ_ELIMIT;
		total += m->recs[i].len;
	}
	if (total > TJ_WIRE_RECORDS_MAX_BYTES)
		return TJ_ELIMIT;
	m->n_recs = count;
	return 0;
}

static int tj__read_body(struct tj_mp_reader *r, uint32_t n, struct tj_wire_msg *m)
{
	int rc;

	switch (m->type) {
	case TJ_WIRE_NEG:
		return tj__read_neg(r, n, m);
	case TJ_WIRE_WANT:
		return tj__read_ids(r, n, TJ_WIRE_WANT_MAX, m);
	case TJ_WIRE_HAVE:
		return tj__read_ids(r, n, TJ_WIRE_HAVE_MAX, m);
	case TJ_WIRE_RECORDS:
		if ((rc = tj__want_elems(n, 3)) != 0 || (rc = tj_mp_read_bool(r, &m->last)) != 0)
			return rc;
		return tj__read_recs(r, true, m);
	case TJ_WIRE_PUSH:
		if ((rc = tj__want_elems(n, 2)) != 0)
			return rc;
		return tj__read_recs(r, false, m);
	case TJ_WIRE_BYE:
		if ((rc = tj__want_elems(n, 2)) != 0)
			return rc;
		return tj_mp_read_uint(r, &m->reason);
	default:
		return TJ_EPROTO;
	}
}

int tj_wire_decode(const uint8_t *buf, size_t len, bool hello_done, struct tj_wire_msg *m)
{
	struct tj_mp_reader r;
	uint64_t type;
	uint32_t n;
	size_t used = 0;
	int rc;

	m->type = 0;
	m->n_ids = 0;
	m->n_recs = 0;
	if (len > tj_wire_max_bytes(hello_done))
		return TJ_ELIMIT;
	rc = tj_mp_check(buf, len, hello_done ? &tj__msg_limits : &tj__hello_limits, true, &used);
	if (rc != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0 || (rc = tj_mp_read_uint(&r, &type)) != 0)
		return rc;
	if (n < 1 || type > UINT8_MAX)
		return TJ_EPROTO;
	m->type = (uint8_t)type;
	if (hello_done == (m->type == TJ_WIRE_HELLO))
		rc = TJ_EPROTO; /* HELLO first, and only once */
	else
		rc = m->type == TJ_WIRE_HELLO ? tj__read_hello(&r, n, m) : tj__read_body(&r, n, m);
	if (rc == 0 && r.p != r.end)
		rc = TJ_EMALFORMED;
	if (rc != 0)
		m->type = 0;
	return rc;
}

void tj_wire_put_hello(struct tj_mp_writer *w, const uint8_t network_id[32], uint64_t records)
{
	tj_mp_put_array(w, 4);
	tj_mp_put_uint(w, TJ_WIRE_HELLO);
	tj_mp_put_uint(w, TJ_WIRE_VERSION);
	tj_mp_put_bin(w, network_id, 32);
	tj_mp_put_uint(w, records);
}

void tj_wire_put_neg(struct tj_mp_writer *w, const uint8_t *msg, size_t len)
{
	tj_mp_put_array(w, 2);
	tj_mp_put_uint(w, TJ_WIRE_NEG);
	tj_mp_put_bin(w, msg, len);
}

void tj_wire_put_ids(struct tj_mp_writer *w, uint8_t type, const uint8_t *ids, size_t n)
{
	tj_mp_put_array(w, 2);
	tj_mp_put_uint(w, type);
	tj_mp_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		tj_mp_put_bin(w, ids + 32 * i, 32);
}

void tj_wire_put_records_head(struct tj_mp_writer *w, uint8_t type, bool last, uint32_t n)
{
	tj_mp_put_array(w, type == TJ_WIRE_RECORDS ? 3 : 2);
	tj_mp_put_uint(w, type);
	if (type == TJ_WIRE_RECORDS)
		tj_mp_put_bool(w, last);
	tj_mp_put_array(w, n);
}

void tj_wire_put_bye(struct tj_mp_writer *w, uint64_t reason)
{
	tj_mp_put_array(w, 2);
	tj_mp_put_uint(w, TJ_WIRE_BYE);
	tj_mp_put_uint(w, reason);
}
