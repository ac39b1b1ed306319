/*
 * Fuzz target: peer application messages (node/tj_wire.h), the bytes a
 * member peer controls after the handshake. Both phases are tried. Oracle:
 * an accepted message re-encodes, with the encoders the node uses, to
 * exactly the input (the wire is canonical), and every borrowed pointer
 * lies inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_wire.h"

static void check_inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
	if (p < data || p + n > data + size)
		abort();
}

static size_t reencode(const struct tj_wire_msg *m, uint8_t *out, size_t cap)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, out, cap);
	switch (m->type) {
	case TJ_WIRE_HELLO:
		tj_wire_put_hello(&w, m->network_id, m->records);
		break;
	case TJ_WIRE_NEG:
		tj_wire_put_neg(&w, m->neg.p, m->neg.len);
		break;
	case TJ_WIRE_WANT:
	case TJ_WIRE_HAVE:
		tj_mp_put_array(&w, 2);
		tj_mp_put_uint(&w, m->type);
		tj_mp_put_array(&w, m->n_ids);
		for (uint32_t i = 0; i < m->n_ids; i++)
			tj_mp_put_bin(&w, m->ids[i], 32);
		break;
	case TJ_WIRE_RECORDS:
	case TJ_WIRE_PUSH:
		tj_wire_put_records_head(&w, m->type, m->last, m->n_recs);
		for (uint32_t i = 0; i < m->n_recs; i++)
			tj_mp_put_bin(&w, m->recs[i].p, m->recs[i].len);
		break;
	case TJ_WIRE_BYE:
		tj_wire_put_bye(&w, m->reason);
		break;
	default:
		abort(); /* an accepted message has a known type */
	}
	if (tj_mp_writer_finish(&w, &len) != 0)
		abort();
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tj_wire_msg m;
	static uint8_t out[TJ_WIRE_MSG_MAX_BYTES + 64];

	for (int phase = 0; phase < 2; phase++) {
		if (tj_wire_decode(data, size, phase == 1, &m) != 0) {
			if (m.type != 0)
				abort();
			continue;
		}
		for (uint32_t i = 0; i < m.n_ids; i++)
			check_inside(data, size, m.ids[i], 32);
		for (uint32_t i = 0; i < m.n_recs; i++)
			check_inside(data, size, m.recs[i].p, m.recs[i].len);
		if (m.type == TJ_WIRE_NEG)
			check_inside(data, size, m.neg.p, m.neg.len);
		if (reencode(&m, out, sizeof(out)) != size || memcmp(out, data, size) != 0)
			abort();
	}
	return 0;
}
