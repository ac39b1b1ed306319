/*
 * The node through its control protocol, without sockets: tj_node_init,
 * tj_node_open, then requests through tj_ctl_handle exactly as the daemon
 * passes them. Covers ping/id/add/add_batch/list/show/status/stop, severity
 * (computed, prior within 90 days via the blinded index, explicit), the
 * case face (readable, not_shared, none), paging and filters, reopen, and
 * bad requests (wrong types, unknown ops, garbage that must close).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_ctl_server.h"
#include "tj_incident.h"
#include "tj_mp.h"
#include "tj_node.h"
#include "tj_node_core.h"
#include "tj_node_testutil.h"

#define BODY_CAP TJ_INC_BODY_MAX_BYTES

#define INCIDENT_JSON \
	"{\"occurred\": {\"start\": \"%s\", \"precision\": \"day\"}," \
	" \"location\": {\"state\": \"%s\", \"municipality\": \"%s\", \"place_type\": \"home\"}," \
	" \"victims\": [{\"ref\": \"%s\", \"unit\": \"individual\", \"role\": \"defender\", \"gender\": \"woman\"," \
	"   \"age_band\": \"30_44\", \"traits\": [\"indigenous\"], \"defended_causes\": [\"land_territory\"]}]," \
	" \"aggressors\": [{\"category\": \"state\", \"type\": \"municipal_police\", \"level\": \"municipal\"," \
	"   \"involvement\": \"direct\"}]," \
	" \"acts\": [{\"type\": \"%s\", \"victim\": 0, \"aggressor\": 0}]," \
	" \"protection\": {\"status\": \"none\"}," \
	" \"source\": {\"type\": \"victim_testimony\", \"reliability\": \"usually_reliable\"}," \
	" \"verification\": \"confirmed\"%s}"

static const char *const CASE_JSON =
	", \"case\": {\"victim_names\": [\"Nombre de prueba\"], \"narrative\": \"Texto de prueba.\","
	" \"exact_place\": \"Calle 1\", \"consent\": [\"network_statistics\"]}";

struct fx {
	char dir[64];
	struct tj_node *node;
};

/* Bodies of one incident built from the JSON form. */
struct bodies {
	uint8_t summary[BODY_CAP];
	size_t summary_len;
	uint8_t case_body[BODY_CAP];
	size_t case_len; /* 0 = no case */
};

static void make_bodies(struct bodies *b, const char *date, const char *state, const char *muni, const char *ref,
			const char *act, bool with_case, const char *extra)
{
	static char json[4096];
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	uint8_t zero[32] = {0};
	char tail[1024];

	snprintf(tail, sizeof(tail), "%s%s", extra != NULL ? extra : "", with_case ? CASE_JSON : "");
	snprintf(json, sizeof(json), INCIDENT_JSON, date, state, muni, ref, act, tail);
	if (tj_incident_from_json(json, strlen(json), TJ_LANG_EN, tj_now_ms(), &s, &c, &verr) != 0) {
		fprintf(stderr, "fixture JSON refused: %s\n", verr.message);
		fail();
	}
	assert_int_equal(tj_incident_summary_encode(s, b->summary, BODY_CAP, &b->summary_len), 0);
	b->case_len = 0;
	if (c != NULL)
		assert_int_equal(tj_incident_case_encode(c, zero, b->case_body, BODY_CAP, &b->case_len), 0);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tj_init_opts opts = {.network_name = "Red de prueba"};
	struct tj_unlocked *u;

	assert_non_null(f);
	tt_tmpdir(f->dir);
	u = tt_unlocked(f->dir);
	assert_int_equal(tj_node_init(f->dir, u, &opts), 0);
	/* A second init never overwrites a node's keys. */
	assert_int_equal(tj_node_init(f->dir, u, &opts), TJ_EEXIST);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tj_node_close(f->node);
	tt_rmdir(f->dir);
	free(f);
	return 0;
}

/* --- request and reply helpers ------------------------------------------- */

struct reply {
	struct tj_ctl_reply raw;
	msgpack_zone zone;
	msgpack_object obj;
	struct tj_ctl_flags flags;
};

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

static bool ok_of(const struct reply *r)
{
	const msgpack_object *ok = get(&r->obj, "ok");
	assert_non_null(ok);
	assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
	return ok->via.boolean;
}

static int64_t err_of(const struct reply *r)
{
	const msgpack_object *e = get(&r->obj, "err");
	assert_non_null(e);
	assert_true(e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
	return e->via.i64;
}

static uint64_t uint_of(const msgpack_object *map, const char *key)
{
	const msgpack_object *v = get(map, key);
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	return v->via.u64;
}

static const msgpack_object *bin_of(const msgpack_object *map, const char *key, uint32_t size)
{
	const msgpack_object *v = get(map, key);
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_BIN);
	if (size != 0)
		assert_int_equal(v->via.bin.size, size);
	return v;
}

static void call(struct fx *f, const uint8_t *req, size_t len, struct reply *r)
{
	uint32_t framed;

	memset(r, 0, sizeof(*r));
	assert_int_equal(tj_ctl_handle(f->node, req, len, &r->raw, &r->flags), 0);
	assert_true(r->raw.len > 4);
	framed = (uint32_t)r->raw.buf[0] << 24 | (uint32_t)r->raw.buf[1] << 16 | (uint32_t)r->raw.buf[2] << 8 |
		 r->raw.buf[3];
	assert_int_equal(framed, r->raw.len - 4);
	assert_true(r->raw.len <= TJ_CTL_REPLY_MAX_BYTES + 4);
	msgpack_zone_init(&r->zone, 4096);
	assert_int_equal(tj_mp_unpack(r->raw.buf + 4, r->raw.len - 4, &(struct tj_mp_limits){8, 1u << 20, 1u << 23, false},
				      &r->zone, &r->obj),
			 0);
}

static void reply_free(struct reply *r)
{
	msgpack_zone_destroy(&r->zone);
	tj_ctl_reply_free(&r->raw);
}

/* A request {op, ...} built with the writer; the extra fields come from fn. */
static size_t req_simple(uint8_t *buf, size_t cap, const char *op)
{
	struct tj_mp_writer w;
	size_t len;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	return len;
}

static size_t req_add(uint8_t *buf, size_t cap, const struct bodies *b)
{
	struct tj_mp_writer w;
	size_t len;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add");
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, b->summary, b->summary_len);
	tj_mp_put_cstr(&w, "case");
	if (b->case_len > 0)
		tj_mp_put_bin(&w, b->case_body, b->case_len);
	else
		tj_mp_put_nil(&w);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	return len;
}

/* Adds one incident; returns its severity, fills id (and case_id if any). */
static uint64_t add_ok(struct fx *f, const struct bodies *b, uint8_t id[32], uint8_t case_id[32])
{
	static uint8_t req[2 * BODY_CAP];
	struct reply r;
	uint64_t sev;

	call(f, req, req_add(req, sizeof(req), b), &r);
	if (!ok_of(&r)) {
		const msgpack_object *m = get(&r.obj, "msg");
		fprintf(stderr, "add refused: %.*s\n", m ? (int)m->via.str.size : 0, m ? m->via.str.ptr : "");
		fail();
	}
	memcpy(id, bin_of(&r.obj, "id", 32)->via.bin.ptr, 32);
	if (b->case_len > 0)
		memcpy(case_id, bin_of(&r.obj, "case_id", 32)->via.bin.ptr, 32);
	else
		assert_int_equal(get(&r.obj, "case_id")->type, MSGPACK_OBJECT_NIL);
	assert_true(uint_of(&r.obj, "recorded_at") <= tj_now_ms());
	sev = uint_of(&r.obj, "severity");
	reply_free(&r);
	return sev;
}

/* --- tests ---------------------------------------------------------------- */

static void test_ping_id_status_stop(void **state)
{
	struct fx *f = *state;
	uint8_t req[256];
	struct reply r;
	const msgpack_object *v;

	call(f, req, req_simple(req, sizeof(req), "ping"), &r);
	assert_true(ok_of(&r));
	assert_false(r.flags.stop);
	reply_free(&r);

	call(f, req, req_simple(req, sizeof(req), "id"), &r);
	assert_true(ok_of(&r));
	assert_memory_equal(bin_of(&r.obj, "public_key", 32)->via.bin.ptr, f->node->u->id->pk, 32);
	assert_memory_equal(bin_of(&r.obj, "network_id", 32)->via.bin.ptr, f->node->network_id, 32);
	v = get(&r.obj, "network_name");
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	assert_int_equal(v->via.str.size, strlen("Red de prueba"));
	assert_memory_equal(v->via.str.ptr, "Red de prueba", v->via.str.size);
	v = get(&r.obj, "fingerprint");
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	assert_int_equal(v->via.str.size, TJ_FINGERPRINT_CHARS - 1);
	reply_free(&r);

	call(f, req, req_simple(req, sizeof(req), "status"), &r);
	assert_true(ok_of(&r));
	assert_int_equal(uint_of(&r.obj, "records"), 1); /* the genesis */
	assert_int_equal(uint_of(&r.obj, "incidents"), 0);
	assert_int_equal(uint_of(&r.obj, "authors"), 1);
	reply_free(&r);

	call(f, req, req_simple(req, sizeof(req), "stop"), &r);
	assert_true(ok_of(&r));
	assert_true(r.flags.stop);
	reply_free(&r);
}

static void test_add_list_show(void **state)
{
	struct fx *f = *state;
	static struct bodies b1, b2;
	static uint8_t req[4096];
	uint8_t id1[32], id2[32], case2[32], none[32];
	char hex[65];
	struct tj_mp_writer w;
	struct reply r;
	const msgpack_object *items, *sum;
	size_t len;

	make_bodies(&b1, "2026-03-14", "20", "20067", "v-7Q2M", "death_threat", false, NULL);
	make_bodies(&b2, "2026-04-02", "07", "07101", "v-99AA", "harassment", true, NULL);
	/* death_threat is 4; no protection, no prior: 4. */
	assert_int_equal(add_ok(f, &b1, id1, none), 4);
	assert_int_equal(add_ok(f, &b2, id2, case2), 2);

	/* list: newest recorded first, summaries decode, severity filled in. */
	call(f, req, req_simple(req, sizeof(req), "list"), &r);
	assert_true(ok_of(&r));
	items = get(&r.obj, "items");
	assert_int_equal(items->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(items->via.array.size, 2);
	assert_memory_equal(bin_of(&items->via.array.ptr[0], "id", 32)->via.bin.ptr, id2, 32);
	assert_memory_equal(bin_of(&items->via.array.ptr[1], "id", 32)->via.bin.ptr, id1, 32);
	sum = bin_of(&items->via.array.ptr[1], "summary", 0);
	{
		struct tj_incident_summary *s = tj_incident_summary_new();
		assert_int_equal(tj_incident_summary_decode((const uint8_t *)sum->via.bin.ptr, sum->via.bin.size, s), 0);
		assert_string_equal(s->location.state, "20");
		assert_int_equal(s->severity, 4);
		tj_incident_summary_free(s);
	}
	assert_int_equal(get(&r.obj, "next")->type, MSGPACK_OBJECT_NIL);
	reply_free(&r);

	/* list filtered by state. */
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "list");
	tj_mp_put_cstr(&w, "state");
	tj_mp_put_cstr(&w, "07");
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	items = get(&r.obj, "items");
	assert_int_equal(items->via.array.size, 1);
	assert_memory_equal(bin_of(&items->via.array.ptr[0], "id", 32)->via.bin.ptr, id2, 32);
	reply_free(&r);

	/* show by full id: case readable and linked to this summary. */
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "id");
	tj_mp_put_bin(&w, id2, 32);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_true(ok_of(&r));
	{
		const msgpack_object *st = get(&r.obj, "case_status"), *cb = bin_of(&r.obj, "case", 0);
		struct tj_incident_case *c = tj_incident_case_new();
		uint8_t linked[32];
		assert_int_equal(st->via.str.size, 8);
		assert_memory_equal(st->via.str.ptr, "readable", 8);
		assert_int_equal(tj_incident_case_decode((const uint8_t *)cb->via.bin.ptr, cb->via.bin.size, c, linked), 0);
		assert_memory_equal(linked, id2, 32);
		assert_int_equal(c->n_names, 1);
		tj_incident_case_free(c);
	}
	reply_free(&r);

	/* show by prefix: no case -> "none". */
	tj_hex(id1, 32, hex);
	hex[10] = '\0';
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "prefix");
	tj_mp_put_cstr(&w, hex);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_true(ok_of(&r));
	assert_memory_equal(bin_of(&r.obj, "id", 32)->via.bin.ptr, id1, 32);
	assert_int_equal(get(&r.obj, "case")->type, MSGPACK_OBJECT_NIL);
	assert_memory_equal(get(&r.obj, "case_status")->via.str.ptr, "none", 4);
	reply_free(&r);

	/* show: unknown prefix, and a too-short one. */
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "prefix");
	tj_mp_put_cstr(&w, hex[0] == '0' ? "1111111111" : "0000000000");
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_ENOTFOUND);
	reply_free(&r);
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "prefix");
	tj_mp_put_cstr(&w, "abc");
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_EMALFORMED);
	reply_free(&r);
}

static void test_add_invalid_schema(void **state)
{
	struct fx *f = *state;
	static struct bodies b;
	static uint8_t req[2 * BODY_CAP];
	struct reply r;
	const msgpack_object *m;
	size_t len;

	make_bodies(&b, "2026-03-14", "20", "20067", "v-1", "death_threat", false, NULL);
	/* A flipped byte inside the summary body. */
	b.summary[b.summary_len / 2] ^= 0x55;
	len = req_add(req, sizeof(req), &b);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	m = get(&r.obj, "msg");
	assert_int_equal(m->type, MSGPACK_OBJECT_STR);
	assert_true(m->via.str.size > 0);
	reply_free(&r);
	/* A truncated summary. */
	make_bodies(&b, "2026-03-14", "20", "20067", "v-1", "death_threat", false, NULL);
	b.summary_len -= 3;
	call(f, req, req_add(req, sizeof(req), &b), &r);
	assert_false(ok_of(&r));
	reply_free(&r);
	/* Nothing was stored. */
	call(f, req, req_simple(req, sizeof(req), "status"), &r);
	assert_int_equal(uint_of(&r.obj, "incidents"), 0);
	reply_free(&r);
}

static void test_severity_prior_and_explicit(void **state)
{
	struct fx *f = *state;
	static struct bodies b;
	uint8_t id[32], cid[32];

	/* harassment = 2. Same victim ref 30 days later: +1. 200 days later: no +1. */
	make_bodies(&b, "2025-01-10", "20", "20067", "v-SAME", "harassment", false, NULL);
	assert_int_equal(add_ok(f, &b, id, cid), 2);
	make_bodies(&b, "2025-02-09", "20", "20067", "v-SAME", "harassment", false, NULL);
	assert_int_equal(add_ok(f, &b, id, cid), 3);
	make_bodies(&b, "2025-09-01", "20", "20067", "v-SAME", "harassment", false, NULL);
	assert_int_equal(add_ok(f, &b, id, cid), 2);
	/* Another victim the same day: no +1. */
	make_bodies(&b, "2025-02-09", "20", "20067", "v-OTHER", "harassment", false, NULL);
	assert_int_equal(add_ok(f, &b, id, cid), 2);
	/* Explicit severity wins. */
	make_bodies(&b, "2025-02-10", "20", "20067", "v-X", "harassment", false, ", \"severity\": 5");
	assert_int_equal(add_ok(f, &b, id, cid), 5);
}

static void test_add_batch(void **state)
{
	struct fx *f = *state;
	static struct bodies good, bad;
	static uint8_t req[64 * 1024];
	struct tj_mp_writer w;
	struct reply r;
	const msgpack_object *res;
	size_t len;

	make_bodies(&good, "2026-01-05", "20", "20067", "v-B1", "death_threat", true, NULL);
	make_bodies(&bad, "2026-01-05", "20", "20067", "v-B2", "death_threat", false, NULL);
	bad.summary[3] ^= 0x01;
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add_batch");
	tj_mp_put_cstr(&w, "items");
	tj_mp_put_array(&w, 4);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, good.summary, good.summary_len);
	tj_mp_put_cstr(&w, "case");
	tj_mp_put_bin(&w, good.case_body, good.case_len);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, bad.summary, bad.summary_len);
	tj_mp_put_uint(&w, 42); /* not a map at all */
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, good.summary, good.summary_len);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_true(ok_of(&r));
	res = get(&r.obj, "results");
	assert_int_equal(res->via.array.size, 4);
	bin_of(&res->via.array.ptr[0], "id", 32);
	bin_of(&res->via.array.ptr[0], "case_id", 32);
	assert_non_null(get(&res->via.array.ptr[1], "err"));
	assert_non_null(get(&res->via.array.ptr[2], "err"));
	bin_of(&res->via.array.ptr[3], "id", 32);
	/* The same summary twice is two incidents (fresh records), the second at +1 (prior). */
	assert_int_equal(uint_of(&res->via.array.ptr[0], "severity"), 4);
	assert_int_equal(uint_of(&res->via.array.ptr[3], "severity"), 5);
	reply_free(&r);
	call(f, req, req_simple(req, sizeof(req), "status"), &r);
	assert_int_equal(uint_of(&r.obj, "incidents"), 2);
	assert_int_equal(uint_of(&r.obj, "cases"), 1);
	reply_free(&r);
}

static void test_paging(void **state)
{
	struct fx *f = *state;
	static struct bodies b;
	static uint8_t req[1024];
	uint8_t ids[7][32], cid[32], after[32];
	struct tj_mp_writer w;
	struct reply r;
	const msgpack_object *items, *next;
	size_t len, seen = 0;
	bool has_after = false;

	make_bodies(&b, "2026-02-01", "20", "20067", "", "obstruction_of_work", false, NULL);
	for (int i = 0; i < 7; i++)
		add_ok(f, &b, ids[i], cid);
	/* Pages of 3: 3, 3, 1 (newest first), each continuing after the previous next. */
	for (int page = 0; page < 5; page++) {
		tj_mp_writer_init(&w, req, sizeof(req));
		tj_mp_put_map(&w, has_after ? 3 : 2);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "list");
		tj_mp_put_cstr(&w, "limit");
		tj_mp_put_uint(&w, 3);
		if (has_after) {
			tj_mp_put_cstr(&w, "after");
			tj_mp_put_bin(&w, after, 32);
		}
		assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
		call(f, req, len, &r);
		assert_true(ok_of(&r));
		items = get(&r.obj, "items");
		for (uint32_t i = 0; i < items->via.array.size; i++) {
			assert_memory_equal(bin_of(&items->via.array.ptr[i], "id", 32)->via.bin.ptr, ids[6 - seen], 32);
			seen++;
		}
		next = get(&r.obj, "next");
		has_after = next->type == MSGPACK_OBJECT_BIN;
		if (has_after)
			memcpy(after, next->via.bin.ptr, 32);
		reply_free(&r);
		if (!has_after)
			break;
	}
	assert_int_equal(seen, 7);
	assert_false(has_after);
}

static void test_case_not_shared(void **state)
{
	struct fx *f = *state;
	static struct bodies b;
	static uint8_t rec[TT_REC_CAP], req[256];
	struct tj_identity *other = NULL;
	struct tj_ingest_item item;
	struct tj_ingest_ctx ctx;
	struct tj_seal_in in;
	struct tj_txn t;
	uint8_t id[32], cid[32], prev[32];
	const uint8_t(*readers)[32];
	struct tj_mp_writer w;
	struct reply r;
	size_t len;

	make_bodies(&b, "2026-02-01", "20", "20067", "v-N", "threat", false, NULL);
	add_ok(f, &b, id, cid);
	/* A case record by this node's key, linked to the summary, sealed to someone else. */
	assert_int_equal(tj_identity_generate(&other), 0);
	readers = (const uint8_t(*)[32])other->pk;
	randombytes_buf(prev, 32);
	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, f->node->network_id, 32);
	in.seq = 1000;
	in.has_prev = true;
	memcpy(in.prev, prev, 32);
	in.ts_ms = tj_now_ms();
	in.kind = TJ_KIND_CASE;
	in.audience.type = TJ_AUD_NAMED;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, id, 32);
	in.readers = readers;
	in.n_readers = 1;
	in.body = (const uint8_t *)"opaque";
	in.body_len = 6;
	memset(&item, 0, sizeof(item));
	assert_int_equal(tj_record_seal(&in, f->node->u->id, rec, sizeof(rec), &item.len, item.id), 0);
	item.enc = rec;
	ctx.has_network = true;
	memcpy(ctx.network_id, f->node->network_id, 32);
	ctx.now_ms = tj_now_ms();
	assert_int_equal(tj_ingest_batch(f->node->store, &ctx, &item, 1), 0);
	assert_int_equal(item.result, 0);
	(void)t;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	tj_mp_put_cstr(&w, "id");
	tj_mp_put_bin(&w, id, 32);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_true(ok_of(&r));
	assert_int_equal(get(&r.obj, "case")->type, MSGPACK_OBJECT_NIL);
	assert_int_equal(get(&r.obj, "case_status")->via.str.size, 10);
	assert_memory_equal(get(&r.obj, "case_status")->via.str.ptr, "not_shared", 10);
	reply_free(&r);
	tj_identity_free(other);
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	static struct bodies b;
	static uint8_t req[256];
	uint8_t id[32], id2[32], cid[32];
	struct tj_unlocked *u = NULL;
	char path[128];
	struct reply r;

	make_bodies(&b, "2026-02-01", "20", "20067", "v-R", "death_threat", true, NULL);
	add_ok(f, &b, id, cid);
	tj_node_close(f->node);
	f->node = NULL;
	snprintf(path, sizeof(path), "%s/key", f->dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &f->node), 0);
	assert_string_equal(f->node->network_name, "Red de prueba");
	call(f, req, req_simple(req, sizeof(req), "list"), &r);
	assert_int_equal(get(&r.obj, "items")->via.array.size, 1);
	reply_free(&r);
	/* The chain continues: a new add after reopen still works (seq, prev). */
	add_ok(f, &b, id2, cid);
	call(f, req, req_simple(req, sizeof(req), "status"), &r);
	assert_int_equal(uint_of(&r.obj, "records"), 5); /* genesis + 2 x (summary, case) */
	assert_int_equal(uint_of(&r.obj, "own_seq"), 4);
	reply_free(&r);
}

static void test_wrong_storage_key_refused(void **state)
{
	struct fx *f = *state;
	struct tj_unlocked *u = NULL;
	struct tj_node *n = NULL;
	char path[128];

	tj_node_close(f->node);
	f->node = NULL;
	snprintf(path, sizeof(path), "%s/key", f->dir);
	assert_int_equal(tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u), 0);
	u->storage_key[0] ^= 1;
	assert_int_equal(tj_node_open(f->dir, 64u << 20, u, &n), TJ_EDECRYPT);
	assert_null(n);
}

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	static uint8_t req[1024];
	struct tj_mp_writer w;
	struct reply r;
	size_t len;

	/* Unknown op: an error, the connection stays. */
	call(f, req, req_simple(req, sizeof(req), "fly"), &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_EUNSUPPORTED);
	assert_false(r.flags.close);
	reply_free(&r);
	/* No op. */
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "x");
	tj_mp_put_uint(&w, 1);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	reply_free(&r);
	/* Wrong type: limit as a string, limit too large. */
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "list");
	tj_mp_put_cstr(&w, "limit");
	tj_mp_put_cstr(&w, "ten");
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	reply_free(&r);
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "list");
	tj_mp_put_cstr(&w, "limit");
	tj_mp_put_uint(&w, 1001);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	call(f, req, len, &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_ELIMIT);
	reply_free(&r);
	/* Not a map, a count bomb, trailing bytes: error reply and close. */
	{
		static const uint8_t not_map[] = {0x93, 1, 2, 3};
		static const uint8_t bomb[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
		static const uint8_t trailing[] = {0x80, 0x00};
		const uint8_t *cases[] = {not_map, bomb, trailing};
		size_t lens[] = {sizeof(not_map), sizeof(bomb), sizeof(trailing)};
		for (int i = 0; i < 3; i++) {
			call(f, cases[i], lens[i], &r);
			assert_false(ok_of(&r));
			assert_true(r.flags.close);
			reply_free(&r);
		}
	}
	/* add without a summary. */
	call(f, req, req_simple(req, sizeof(req), "add"), &r);
	assert_false(ok_of(&r));
	assert_int_equal(err_of(&r), TJ_EMALFORMED);
	reply_free(&r);
}

static void test_no_network_node(void **state)
{
	char dir[64];
	struct tj_init_opts opts = {.no_network = true};
	struct tj_unlocked *u;
	struct tj_node *n = NULL;
	struct tj_add_item it;
	static struct bodies b;

	(void)state;
	tt_tmpdir(dir);
	u = tt_unlocked(dir);
	assert_int_equal(tj_node_init(dir, u, &opts), 0);
	assert_int_equal(tj_node_open(dir, 64u << 20, u, &n), 0);
	assert_false(n->has_network);
	make_bodies(&b, "2026-02-01", "20", "20067", "v", "threat", false, NULL);
	memset(&it, 0, sizeof(it));
	it.summary = b.summary;
	it.summary_len = b.summary_len;
	assert_int_equal(tj_node_add(n, &it, 1), 0);
	assert_int_equal(it.err, TJ_ESTATE);
	tj_node_close(n);
	tt_rmdir(dir);
}

static size_t genesis_body(uint8_t *buf, size_t cap, const char *name, uint64_t threshold, uint32_t n_stewards)
{
	struct tj_mp_writer w;
	uint8_t pk[32] = {7};
	size_t len = 0;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 3);
	tj_mp_put_cstr(&w, name);
	tj_mp_put_uint(&w, threshold);
	tj_mp_put_array(&w, n_stewards);
	for (uint32_t i = 0; i < n_stewards; i++)
		tj_mp_put_bin(&w, pk, 32);
	assert_int_equal(tj_mp_writer_finish(&w, &len), 0);
	return len;
}

static void test_genesis_body_negatives(void **state)
{
	static uint8_t buf[4096];
	uint8_t stewards[TJ_STEWARDS_MAX][32];
	char name[TJ_NETWORK_NAME_MAX + 1], long_name[TJ_NETWORK_NAME_MAX + 2];
	uint32_t th;
	size_t len, n;

	(void)state;
	len = genesis_body(buf, sizeof(buf), "Red", 1, 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), 0);
	assert_string_equal(name, "Red");
	assert_int_equal(th, 1);
	assert_int_equal(n, 1);
	/* Every truncation, and every flipped bit either refused or decoding to a sane value. */
	for (size_t cut = 0; cut < len; cut++)
		assert_true(tj_genesis_body_decode(buf, cut, name, &th, stewards, TJ_STEWARDS_MAX, &n) < 0);
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n) == 0)
			assert_true(th >= 1 && th <= n && n <= TJ_STEWARDS_MAX && strlen(name) <= TJ_NETWORK_NAME_MAX);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* Threshold 0, above the stewards, no stewards, too many, empty and long names. */
	len = genesis_body(buf, sizeof(buf), "Red", 0, 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	len = genesis_body(buf, sizeof(buf), "Red", 2, 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	len = genesis_body(buf, sizeof(buf), "Red", 1, 0);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	len = genesis_body(buf, sizeof(buf), "Red", 1, TJ_STEWARDS_MAX + 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	len = genesis_body(buf, sizeof(buf), "", 1, 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	len = genesis_body(buf, sizeof(buf), long_name, 1, 1);
	assert_int_equal(tj_genesis_body_decode(buf, len, name, &th, stewards, TJ_STEWARDS_MAX, &n), TJ_EMALFORMED);
	/* Non-canonical (threshold as uint8) and trailing bytes. */
	{
		static const uint8_t noncanon[] = {0x93, 0xa1, 'R', 0xcc, 0x01, 0x90};
		static const uint8_t trailing[] = {0x93, 0xa1, 'R', 0x01, 0x91, 0xc4, 0x01, 0x00, 0xc0};
		assert_true(tj_genesis_body_decode(noncanon, sizeof(noncanon), name, &th, stewards, TJ_STEWARDS_MAX, &n) < 0);
		assert_true(tj_genesis_body_decode(trailing, sizeof(trailing), name, &th, stewards, TJ_STEWARDS_MAX, &n) < 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_id_status_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_list_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_invalid_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_severity_prior_and_explicit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_case_not_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_storage_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test(test_no_network_node),
		cmocka_unit_test(test_genesis_body_negatives),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
