/*
 * Control requests: parse (after tj_mp_check), dispatch, build the reply.
 * Request maps are small and shallow; every argument is looked up by name,
 * type-checked, and copied before use.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert_ctl.h"
#include "tj_circle.h"
#include "tj_ctl_server.h"
#include "tj_ingest.h"
#include "tj_keys.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_peer.h"
#include "tj_retract.h"
#include "tj_share.h"
#include "tj_wipe.h"

#define TJ__SMALL_REPLY_BYTES 4096u
#define TJ__SHOW_REPLY_BYTES (2u * TJ_RECORD_MAX_BYTES + 4096u)
#define TJ__BATCH_REPLY_BYTES (TJ_CTL_BATCH_MAX * 640u + 64u)
/* list: room before the items for the reply's head, after them for "next". */
#define TJ__LIST_HEAD_BYTES 32u
#define TJ__LIST_TAIL_BYTES 64u
#define TJ__MSG_MAX 600

/* Requests: maps of a few keys; add_batch nests items one level deeper. */
static const struct tj_mp_limits tj__ctl_limits = {
	.max_depth = 4,
	.max_items = 4 * TJ_CTL_BATCH_MAX + 64,
	.max_str = TJ_INC_BODY_MAX_BYTES,
	.canonical = false, /* clients in other languages; bodies inside are checked canonically */
};

struct tj__ctl {
	struct tj_node *node;
	const uint8_t *req;
	size_t len;
	struct tj_ctl_reply *out;
	struct tj_ctl_flags *flags;
	uint8_t *buf;           /* reply under construction; [0,4) is the frame length */
	size_t cap;
	struct tj_mp_writer w;  /* writes at buf + 4 (list: further in) */
};

static void tj__put_be32(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void tj_ctl_reply_free(struct tj_ctl_reply *out)
{
	if (out->buf != NULL) {
		sodium_memzero(out->buf, out->len);
		free(out->buf);
	}
	out->buf = NULL;
	out->len = 0;
}

int tj_ctl_frame_len(const uint8_t hdr[4], size_t *body_len)
{
	size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];

	if (n == 0 || n > TJ_CTL_REQUEST_MAX_BYTES)
		return TJ_ELIMIT;
	*body_len = n;
	return 0;
}

int tj_ctl_error_reply(int err, const char *msg, struct tj_ctl_reply *out)
{
	struct tj_mp_writer w;
	uint8_t *buf = malloc(TJ__SMALL_REPLY_BYTES);
	size_t len = 0;

	out->buf = NULL;
	out->len = 0;
	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, TJ__SMALL_REPLY_BYTES - 4);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, false);
	tj_mp_put_cstr(&w, "err");
	tj_mp_put_int(&w, err);
	tj_mp_put_cstr(&w, "msg");
	tj_mp_put_str(&w, msg, strnlen(msg, TJ__MSG_MAX));
	if (tj_mp_writer_finish(&w, &len) != 0) {
		free(buf);
		return -ENOMEM; /* cannot happen: the message is bounded */
	}
	tj__put_be32(buf, len);
	out->buf = buf;
	out->len = len + 4;
	return 0;
}

static int tj__fail(struct tj__ctl *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int tj__fail(struct tj__ctl *c, int err, const char *fmt, ...)
{
	char msg[TJ__MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tj_ctl_error_reply(err, msg, c->out);
}

static int tj__begin(struct tj__ctl *c, size_t cap, uint32_t n_fields)
{
	c->buf = malloc(cap);
	if (c->buf == NULL)
		return -ENOMEM;
	c->cap = cap;
	tj_mp_writer_init(&c->w, c->buf + 4, cap - 4);
	tj_mp_put_map(&c->w, n_fields + 1);
	tj_mp_put_cstr(&c->w, "ok");
	tj_mp_put_bool(&c->w, true);
	return 0;
}

/* Ends a reply begun with tj__begin; an overflow becomes an error reply. */
static int tj__finish(struct tj__ctl *c)
{
	size_t len = 0;
	int rc = tj_mp_writer_finish(&c->w, &len);

	if (rc != 0) {
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
		c->buf = NULL;
		return tj__fail(c, TJ_ELIMIT, "the reply would exceed %u bytes; ask for a smaller page",
				TJ_CTL_REPLY_MAX_BYTES);
	}
	tj__put_be32(c->buf, len);
	c->out->buf = c->buf;
	c->out->len = len + 4;
	c->buf = NULL;
	return 0;
}

/* ---- arguments ----------------------------------------------------------- */

/* Positions *r at the value of key in the request's map; TJ_ENOTFOUND if absent. */
static int tj__arg(const struct tj__ctl *c, const char *key, struct tj_mp_reader *r)
{
	const char *k;
	uint32_t n, klen;
	size_t want = strlen(key);
	int rc;

	tj_mp_reader_init(r, c->req, c->len);
	if ((rc = tj_mp_read_map(r, &n)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_str(r, &k, &klen)) != 0)
			return rc;
		if (klen == want && memcmp(k, key, want) == 0)
			return tj_mp_peek_nil(r) ? TJ_ENOTFOUND : 0; /* nil = absent */
		if ((rc = tj_mp_skip(r)) != 0)
			return rc;
	}
	return TJ_ENOTFOUND;
}

/* A str argument copied into out (cap includes the NUL). */
static int tj__arg_str(const struct tj__ctl *c, const char *key, char *out, size_t cap)
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n;
	int rc = tj__arg(c, key, &r);

	out[0] = '\0';
	if (rc != 0)
		return rc;
	if ((rc = tj_mp_read_str(&r, &s, &n)) != 0)
		return rc;
	if (n >= cap || memchr(s, '\0', n) != NULL)
		return TJ_ELIMIT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int tj__bad_arg(struct tj__ctl *c, const char *op, const char *key, const char *what, int rc)
{
	return tj__fail(c, rc == TJ_ELIMIT ? TJ_ELIMIT : TJ_EMALFORMED, "%s: '%s' must be %s", op, key, what);
}

/* ---- ops ----------------------------------------------------------------- */

/* Ops check their arguments first, so a node-less handler (the fuzzer) still parses them. */
static bool tj__no_node(struct tj__ctl *c, const char *op, int *rc)
{
	if (c->node != NULL)
		return false;
	*rc = tj__fail(c, TJ_ESTATE, "%s: the node is not open", op);
	return true;
}

static int tj__op_ping(struct tj__ctl *c)
{
	int rc = tj__begin(c, TJ__SMALL_REPLY_BYTES, 0);
	return rc != 0 ? rc : tj__finish(c);
}

static int tj__op_id(struct tj__ctl *c)
{
	struct tj_node *n = c->node;
	char fp[TJ_FINGERPRINT_CHARS];
	int rc;

	if (tj__no_node(c, "id", &rc))
		return rc;
	if ((rc = tj__begin(c, TJ__SMALL_REPLY_BYTES, 4)) != 0)
		return rc;
	tj_fingerprint(n->u->id->pk, fp);
	tj_mp_put_cstr(&c->w, "public_key");
	tj_mp_put_bin(&c->w, n->u->id->pk, 32);
	tj_mp_put_cstr(&c->w, "fingerprint");
	tj_mp_put_cstr(&c->w, fp);
	tj_mp_put_cstr(&c->w, "network_id");
	if (n->has_network)
		tj_mp_put_bin(&c->w, n->network_id, 32);
	else
		tj_mp_put_nil(&c->w);
	tj_mp_put_cstr(&c->w, "network_name");
	if (n->has_network)
		tj_mp_put_cstr(&c->w, n->network_name);
	else
		tj_mp_put_nil(&c->w);
	return tj__finish(c);
}

/* Reads {summary: bin, case: bin|nil} at r (a map) into it. */
static int tj__read_add_item(struct tj_mp_reader *r, struct tj_add_item *it)
{
	const char *k;
	const uint8_t *p;
	uint32_t n, klen, blen;
	bool have_summary = false;
	int rc;

	memset(it, 0, sizeof(*it));
	if ((rc = tj_mp_read_map(r, &n)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_str(r, &k, &klen)) != 0)
			return rc;
		if (klen == 7 && memcmp(k, "summary", 7) == 0) {
			if ((rc = tj_mp_read_bin(r, &p, &blen)) != 0)
				return rc;
			it->summary = p;
			it->summary_len = blen;
			have_summary = true;
		} else if (klen == 4 && memcmp(k, "case", 4) == 0 && !tj_mp_peek_nil(r)) {
			if ((rc = tj_mp_read_bin(r, &p, &blen)) != 0)
				return rc;
			it->case_body = p;
			it->case_len = blen;
		} else if (klen == 12 && memcmp(k, "case_readers", 12) == 0 && !tj_mp_peek_nil(r)) {
			/* Packed keys, borrowed from the request (tj_share.h checks them). */
			if ((rc = tj_mp_read_bin(r, &p, &blen)) != 0)
				return rc;
			if (blen == 0 || blen % 32 != 0 || blen / 32 > TJ_SHARE_READERS_MAX)
				return TJ_ELIMIT;
			it->case_readers = p;
			it->n_case_readers = blen / 32;
		} else if ((klen == 11 && memcmp(k, "case_circle", 11) == 0) ||
		           (klen == 14 && memcmp(k, "summary_circle", 14) == 0)) {
			/* A circle's name for a face (tj_circle.h): copied, bounded. */
			char *dst = klen == 11 ? it->case_circle : it->summary_circle;
			if ((rc = tj_mp_read_str(r, &k, &blen)) != 0)
				return rc;
			if (blen >= sizeof(it->case_circle) || memchr(k, '\0', blen) != NULL)
				return TJ_ELIMIT;
			memcpy(dst, k, blen);
			dst[blen] = '\0';
		} else if ((rc = tj_mp_skip(r)) != 0) {
			return rc;
		}
	}
	return have_summary ? 0 : TJ_ENOTFOUND;
}

static int tj__op_add(struct tj__ctl *c)
{
	struct tj_add_item it;
	struct tj_mp_reader r;
	int rc;

	/* add's own arguments are the request map itself. */
	tj_mp_reader_init(&r, c->req, c->len);
	if (tj__read_add_item(&r, &it) != 0)
		return tj__fail(c, TJ_EMALFORMED, "add: needs 'summary' (bin) and optionally 'case' (bin or nil)");
	if (tj__no_node(c, "add", &rc))
		return rc;
	rc = tj_node_add(c->node, &it, 1);
	if (rc == 0 && it.err != 0)
		return tj__fail(c, it.err, "%s", it.verr.message[0] != '\0' ? it.verr.message : tj_strerror(it.err));
	if (rc != 0)
		return tj__fail(c, rc, "add: nothing was stored: %s", tj_strerror(rc));
	tj_peers_share_added(&it, 1);
	if ((rc = tj__begin(c, TJ__SMALL_REPLY_BYTES, 4)) != 0)
		return rc;
	tj_mp_put_cstr(&c->w, "id");
	tj_mp_put_bin(&c->w, it.id, 32);
	tj_mp_put_cstr(&c->w, "case_id");
	if (it.has_case)
		tj_mp_put_bin(&c->w, it.case_id, 32);
	else
		tj_mp_put_nil(&c->w);
	tj_mp_put_cstr(&c->w, "severity");
	tj_mp_put_uint(&c->w, it.severity);
	tj_mp_put_cstr(&c->w, "recorded_at");
	tj_mp_put_uint(&c->w, it.recorded_at_ms);
	return tj__finish(c);
}

static void tj__put_batch_result(struct tj_mp_writer *w, const struct tj_add_item *it)
{
	if (it->err != 0) {
		tj_mp_put_map(w, 2);
		tj_mp_put_cstr(w, "err");
		tj_mp_put_int(w, it->err);
		tj_mp_put_cstr(w, "msg");
		tj_mp_put_cstr(w, it->verr.message[0] != '\0' ? it->verr.message : tj_strerror(it->err));
		return;
	}
	tj_mp_put_map(w, 4);
	tj_mp_put_cstr(w, "id");
	tj_mp_put_bin(w, it->id, 32);
	tj_mp_put_cstr(w, "case_id");
	if (it->has_case)
		tj_mp_put_bin(w, it->case_id, 32);
	else
		tj_mp_put_nil(w);
	tj_mp_put_cstr(w, "severity");
	tj_mp_put_uint(w, it->severity);
	tj_mp_put_cstr(w, "recorded_at");
	tj_mp_put_uint(w, it->recorded_at_ms);
}

/*
 * Items that are not even {summary: bin} get their error here; the rest go
 * to tj_node_add together, packed in `ok` (idx maps them back).
 */
static int tj__batch_parse(struct tj_mp_reader *r, uint32_t n, struct tj_add_item *all, struct tj_add_item *ok,
			   uint32_t *idx, uint32_t *n_ok)
{
	int rc;

	*n_ok = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *start = r->p;
		rc = tj__read_add_item(r, &all[i]);
		if (rc == 0) {
			ok[*n_ok] = all[i];
			idx[(*n_ok)++] = i;
			continue;
		}
		all[i].err = TJ_EMALFORMED;
		snprintf(all[i].verr.message, sizeof(all[i].verr.message),
			 "items[%u]: must be {summary: bin, case: bin or nil}", i);
		/* Resynchronise on the next item: skip this one whole. */
		tj_mp_reader_init(r, start, (size_t)(r->end - start));
		if ((rc = tj_mp_skip(r)) != 0)
			return rc;
	}
	return 0;
}

static int tj__op_add_batch(struct tj__ctl *c)
{
	struct tj_add_item *all = NULL, *ok = NULL;
	uint32_t *idx = NULL;
	struct tj_mp_reader r;
	uint32_t n = 0, n_ok = 0;
	int rc;

	if (tj__arg(c, "items", &r) != 0 || tj_mp_read_array(&r, &n) != 0)
		return tj__fail(c, TJ_EMALFORMED, "add_batch: needs 'items', an array of {summary, case}");
	if (n == 0 || n > TJ_CTL_BATCH_MAX)
		return tj__fail(c, TJ_ELIMIT, "add_batch: 1 to %u items per call", TJ_CTL_BATCH_MAX);
	all = calloc(n, sizeof(*all));
	ok = calloc(n, sizeof(*ok));
	idx = calloc(n, sizeof(*idx));
	if (all == NULL || ok == NULL || idx == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tj__batch_parse(&r, n, all, ok, idx, &n_ok)) != 0) {
		rc = tj__fail(c, TJ_EMALFORMED, "add_batch: malformed items");
		goto out;
	}
	if (tj__no_node(c, "add_batch", &rc))
		goto out;
	rc = n_ok > 0 ? tj_node_add(c->node, ok, n_ok) : 0;
	if (rc != 0) {
		rc = tj__fail(c, rc, "add_batch: nothing was stored: %s", tj_strerror(rc));
		goto out;
	}
	tj_peers_share_added(ok, n_ok);
	for (uint32_t i = 0; i < n_ok; i++)
		all[idx[i]] = ok[i];
	if ((rc = tj__begin(c, TJ__BATCH_REPLY_BYTES, 1)) != 0)
		goto out;
	tj_mp_put_cstr(&c->w, "results");
	tj_mp_put_array(&c->w, n);
	for (uint32_t i = 0; i < n; i++)
		tj__put_batch_result(&c->w, &all[i]);
	rc = tj__finish(c);
out:
	free(all);
	free(ok);
	free(idx);
	return rc;
}

/* list: items are written after a gap; the head (whose count is known last) fills it. */
struct tj__list_out {
	struct tj_mp_writer w;
	uint32_t count;
};

static int tj__list_cb(void *ctx, const struct tj_listed *item)
{
	struct tj__list_out *lo = ctx;
	size_t mark = lo->w.len;

	tj_mp_put_map(&lo->w, 5);
	tj_mp_put_cstr(&lo->w, "id");
	tj_mp_put_bin(&lo->w, item->id, 32);
	tj_mp_put_cstr(&lo->w, "author");
	tj_mp_put_bin(&lo->w, item->author, 32);
	tj_mp_put_cstr(&lo->w, "recorded_at");
	tj_mp_put_uint(&lo->w, item->recorded_at_ms);
	tj_mp_put_cstr(&lo->w, "severity");
	tj_mp_put_uint(&lo->w, item->severity);
	tj_mp_put_cstr(&lo->w, "summary");
	tj_mp_put_bin(&lo->w, item->summary, item->summary_len);
	if (lo->w.err != 0) {
		/* Does not fit: take it back whole, the next page starts with it. */
		sodium_memzero(lo->w.buf + mark, lo->w.len - mark);
		lo->w.len = mark;
		lo->w.err = 0;
		return 1;
	}
	lo->count++;
	return 0;
}

static int tj__list_query(struct tj__ctl *c, struct tj_list_query *q)
{
	char since[16];
	struct tj_mp_reader r;
	struct tj_date d;
	uint64_t limit;
	int rc;

	memset(q, 0, sizeof(*q));
	q->limit = TJ_LIST_LIMIT_DEFAULT;
	if ((rc = tj__arg_str(c, "state", q->state, sizeof(q->state))) != 0 && rc != TJ_ENOTFOUND)
		return tj__bad_arg(c, "list", "state", "a 2-digit INEGI state code", rc);
	if ((rc = tj__arg_str(c, "act", q->act, sizeof(q->act))) != 0 && rc != TJ_ENOTFOUND)
		return tj__bad_arg(c, "list", "act", "an act type code", rc);
	rc = tj__arg_str(c, "since", since, sizeof(since));
	if (rc == 0) {
		if (tj_date_parse(since, &d) != 0 || (q->since_day = tj_date_days(&d)) < 0)
			return tj__bad_arg(c, "list", "since", "a date YYYY-MM-DD", TJ_EMALFORMED);
		q->has_since = true;
	} else if (rc != TJ_ENOTFOUND) {
		return tj__bad_arg(c, "list", "since", "a date YYYY-MM-DD", rc);
	}
	if ((rc = tj__arg(c, "after", &r)) == 0) {
		if (tj_mp_read_bin_exact(&r, q->after, 32) != 0)
			return tj__bad_arg(c, "list", "after", "an id (bin 32) from a previous 'next'", TJ_EMALFORMED);
		q->has_after = true;
	}
	if ((rc = tj__arg(c, "limit", &r)) == 0) {
		if (tj_mp_read_uint(&r, &limit) != 0 || limit == 0 || limit > TJ_LIST_LIMIT_MAX)
			return tj__bad_arg(c, "list", "limit", "a whole number from 1 to 1000", TJ_ELIMIT);
		q->limit = (uint32_t)limit;
	}
	q->max_bytes = TJ_CTL_REPLY_MAX_BYTES - TJ__LIST_HEAD_BYTES - TJ__LIST_TAIL_BYTES - 4;
	return 0;
}

/* Assembles head || items || tail in place and hands the frame out. */
static int tj__list_reply(struct tj__ctl *c, uint8_t *buf, struct tj__list_out *lo, bool has_next,
			  const uint8_t next[32])
{
	uint8_t head[TJ__LIST_HEAD_BYTES];
	struct tj_mp_writer hw, tw;
	size_t hlen = 0, tlen = 0, start;
	int rc;

	tj_mp_writer_init(&hw, head, sizeof(head));
	tj_mp_put_map(&hw, 3);
	tj_mp_put_cstr(&hw, "ok");
	tj_mp_put_bool(&hw, true);
	tj_mp_put_cstr(&hw, "items");
	tj_mp_put_array(&hw, lo->count);
	if ((rc = tj_mp_writer_finish(&hw, &hlen)) != 0)
		return rc;
	start = 4 + TJ__LIST_HEAD_BYTES - hlen;
	memcpy(buf + start, head, hlen);
	tj_mp_writer_init(&tw, buf + 4 + TJ__LIST_HEAD_BYTES + lo->w.len, TJ__LIST_TAIL_BYTES);
	tj_mp_put_cstr(&tw, "next");
	if (has_next)
		tj_mp_put_bin(&tw, next, 32);
	else
		tj_mp_put_nil(&tw);
	if ((rc = tj_mp_writer_finish(&tw, &tlen)) != 0)
		return rc;
	memmove(buf + 4, buf + start, hlen + lo->w.len + tlen);
	tj__put_be32(buf, hlen + lo->w.len + tlen);
	c->out->buf = buf;
	c->out->len = 4 + hlen + lo->w.len + tlen;
	return 0;
}

static int tj__op_list(struct tj__ctl *c)
{
	struct tj_list_query q;
	struct tj__list_out lo = {0};
	uint8_t next[32];
	uint8_t *buf = NULL;
	bool has_next = false;
	int rc;

	if ((rc = tj__list_query(c, &q)) != 0 || c->out->buf != NULL)
		return rc; /* an argument error was answered */
	if (tj__no_node(c, "list", &rc))
		return rc;
	buf = malloc(TJ_CTL_REPLY_MAX_BYTES);
	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&lo.w, buf + 4 + TJ__LIST_HEAD_BYTES,
			  TJ_CTL_REPLY_MAX_BYTES - 4 - TJ__LIST_HEAD_BYTES - TJ__LIST_TAIL_BYTES);
	rc = tj_node_list(c->node, &q, tj__list_cb, &lo, &has_next, next);
	if (rc == 0)
		rc = tj__list_reply(c, buf, &lo, has_next, next);
	if (rc == 0)
		return 0;
	sodium_memzero(buf, 4 + TJ__LIST_HEAD_BYTES + lo.w.len);
	free(buf);
	if (rc == TJ_ENOTFOUND)
		return tj__fail(c, rc, "list: the 'after' cursor names no stored record; start again without it");
	return tj__fail(c, rc, "list failed: %s", tj_strerror(rc));
}

/* show's target: {id: bin 32} or {prefix: str of 8..64 hex digits}. */
static int tj__show_target(struct tj__ctl *c, uint8_t id[32], size_t *nibbles)
{
	char hex[66];
	struct tj_mp_reader r;
	size_t n;

	memset(id, 0, 32);
	if (tj__arg(c, "id", &r) == 0) {
		*nibbles = 64;
		return tj_mp_read_bin_exact(&r, id, 32);
	}
	if (tj__arg_str(c, "prefix", hex, sizeof(hex)) != 0)
		return TJ_EMALFORMED;
	n = strlen(hex);
	if (n < 8 || n > 64)
		return TJ_EMALFORMED;
	for (size_t i = 0; i < n; i++) {
		int v = hex[i] >= '0' && hex[i] <= '9'   ? hex[i] - '0'
			: hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 10
			: hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 10
							 : -1;
		if (v < 0)
			return TJ_EMALFORMED;
		id[i / 2] = (uint8_t)(id[i / 2] | (i % 2 == 0 ? v << 4 : v));
	}
	*nibbles = n;
	return 0;
}

static int tj__show_fail(struct tj__ctl *c, int rc)
{
	switch (rc) {
	case TJ_ENOTFOUND:
		return tj__fail(c, rc, "show: no incident with that id on this node");
	case TJ_EEXIST:
		return tj__fail(c, rc, "show: that prefix matches more than one record; give more hex digits");
	case TJ_ENOKEY:
	case TJ_EDECRYPT:
		return tj__fail(c, rc, "show: this node holds that incident but cannot read it");
	default:
		return tj__fail(c, rc, "show failed: %s", tj_strerror(rc));
	}
}

static int tj__op_show(struct tj__ctl *c)
{
	struct tj_listed l;
	uint8_t id[32];
	size_t nibbles = 0;
	int rc;

	if (tj__show_target(c, id, &nibbles) != 0)
		return tj__fail(c, TJ_EMALFORMED, "show: needs 'id' (bin 32) or 'prefix' (8 to 64 hex digits)");
	if (tj__no_node(c, "show", &rc))
		return rc;
	if ((rc = tj_node_show(c->node, id, nibbles, &l)) != 0)
		return tj__show_fail(c, rc);
	if ((rc = tj__begin(c, TJ__SHOW_REPLY_BYTES, 7)) == 0) {
		tj_mp_put_cstr(&c->w, "id");
		tj_mp_put_bin(&c->w, l.id, 32);
		tj_mp_put_cstr(&c->w, "author");
		tj_mp_put_bin(&c->w, l.author, 32);
		tj_mp_put_cstr(&c->w, "recorded_at");
		tj_mp_put_uint(&c->w, l.recorded_at_ms);
		tj_mp_put_cstr(&c->w, "severity");
		tj_mp_put_uint(&c->w, l.severity);
		tj_mp_put_cstr(&c->w, "summary");
		tj_mp_put_bin(&c->w, l.summary, l.summary_len);
		tj_mp_put_cstr(&c->w, "case");
		if (l.case_body != NULL)
			tj_mp_put_bin(&c->w, l.case_body, l.case_len);
		else
			tj_mp_put_nil(&c->w);
		tj_mp_put_cstr(&c->w, "case_status");
		tj_mp_put_cstr(&c->w, l.case_status);
		rc = tj__finish(c);
	}
	tj_listed_free(&l);
	return rc;
}

static void tj__put_u64(struct tj_mp_writer *w, const char *key, uint64_t v)
{
	tj_mp_put_cstr(w, key);
	tj_mp_put_uint(w, v);
}

static int tj__op_status(struct tj__ctl *c)
{
	struct tj_node_status s;
	int rc;

	if (tj__no_node(c, "status", &rc))
		return rc;
	if ((rc = tj_node_status(c->node, &s)) != 0)
		return tj__fail(c, rc, "status failed: %s", tj_strerror(rc));
	if ((rc = tj__begin(c, TJ__SMALL_REPLY_BYTES, 13)) != 0)
		return rc;
	tj__put_u64(&c->w, "records", s.store.records);
	tj__put_u64(&c->w, "incidents", s.store.by_kind[TJ_KIND_INCIDENT]);
	tj__put_u64(&c->w, "cases", s.store.by_kind[TJ_KIND_CASE]);
	tj__put_u64(&c->w, "authors", s.store.authors);
	tj__put_u64(&c->w, "frozen", s.store.frozen);
	tj__put_u64(&c->w, "tombstones", s.store.tombstones);
	tj__put_u64(&c->w, "uptime_s", s.uptime_s);
	tj__put_u64(&c->w, "own_seq", s.own_seq);
	tj__put_u64(&c->w, "store_bytes", s.store.used_bytes);
	tj__put_u64(&c->w, "map_bytes", s.store.map_size_bytes);
	tj_mp_put_cstr(&c->w, "has_network");
	tj_mp_put_bool(&c->w, c->node->has_network);
	tj_mp_put_cstr(&c->w, "network_name");
	if (c->node->has_network)
		tj_mp_put_cstr(&c->w, c->node->network_name);
	else
		tj_mp_put_nil(&c->w);
	tj_mp_put_cstr(&c->w, "peers");
	tj_peers_put_status(&c->w);
	return tj__finish(c);
}

/* Peers: the logic and the reply live in tj_peer_book.c. */
static int tj__op_peer_add(struct tj__ctl *c)
{
	return tj_peer_ctl_add(c->node, c->req, c->len, c->out);
}

static int tj__op_peer_list(struct tj__ctl *c)
{
	return tj_peer_ctl_list(c->node, c->req, c->len, c->out);
}

/* Alerts, queries, statistics: the logic and the replies live in tj_alert_ctl.c. */
static int tj__op_alerts(struct tj__ctl *c)
{
	return tj_alert_ctl_list(c->node, c->req, c->len, c->out);
}

static int tj__op_alert_respond(struct tj__ctl *c)
{
	return tj_alert_ctl_respond(c->node, c->req, c->len, c->out);
}

static int tj__op_subscribe(struct tj__ctl *c)
{
	return tj_alert_ctl_subscribe(c->node, c->req, c->len, c->out);
}

static int tj__op_query(struct tj__ctl *c)
{
	return tj_query_ctl(c->node, c->req, c->len, c->out);
}

static int tj__op_stats(struct tj__ctl *c)
{
	return tj_stats_ctl(c->node, c->req, c->len, c->out);
}

/* Membership: the logic and the reply live in tj_member_ops.c. */
static int tj__op_member_add(struct tj__ctl *c)
{
	return tj_member_ctl_add(c->node, c->req, c->len, c->out);
}

static int tj__op_member_list(struct tj__ctl *c)
{
	return tj_member_ctl_list(c->node, c->req, c->len, c->out);
}

static int tj__op_member_approve(struct tj__ctl *c)
{
	return tj_member_ctl_approve(c->node, c->req, c->len, c->out);
}

static int tj__op_member_remove(struct tj__ctl *c)
{
	return tj_member_ctl_remove(c->node, c->req, c->len, c->out);
}

static int tj__op_network_rotate(struct tj__ctl *c)
{
	return tj_member_ctl_rotate(c->node, c->req, c->len, c->out);
}

/* Retraction and sharing the case face: the logic and the replies live in tj_retract_ops.c, tj_share.c. */
static int tj__op_retract(struct tj__ctl *c)
{
	return tj_retract_ctl(c->node, c->req, c->len, c->out);
}

static int tj__op_retraction(struct tj__ctl *c)
{
	return tj_retract_ctl_info(c->node, c->req, c->len, c->out);
}

static int tj__op_share(struct tj__ctl *c)
{
	return tj_share_ctl(c->node, c->req, c->len, c->out);
}

/* Circles: the logic and the replies live in tj_circle_ops.c. */
static int tj__op_circle_create(struct tj__ctl *c)
{
	return tj_circle_ctl_create(c->node, c->req, c->len, c->out);
}

static int tj__op_circle_change(struct tj__ctl *c)
{
	return tj_circle_ctl_change(c->node, c->req, c->len, c->out);
}

static int tj__op_circle_list(struct tj__ctl *c)
{
	return tj_circle_ctl_list(c->node, c->req, c->len, c->out);
}

/* Panic wipe (tj_wipe.h): every key in memory is overwritten, then the node stops. */
static int tj__op_wipe(struct tj__ctl *c)
{
	int rc = tj_wipe_ctl(c->node, c->req, c->len, c->out);

	if (rc == 0 && c->node != NULL)
		c->flags->stop = true;
	return rc;
}

static int tj__op_stop(struct tj__ctl *c)
{
	c->flags->stop = true;
	return tj__op_ping(c);
}

static const struct {
	const char *name;
	int (*fn)(struct tj__ctl *c);
} tj__ops[] = {
	{"ping", tj__op_ping}, {"id", tj__op_id},     {"add", tj__op_add},       {"add_batch", tj__op_add_batch},
	{"list", tj__op_list}, {"show", tj__op_show}, {"status", tj__op_status}, {"stop", tj__op_stop},
	{"wipe", tj__op_wipe}, {"retract", tj__op_retract}, {"retraction", tj__op_retraction},
	{"share", tj__op_share},
	{"circle_create", tj__op_circle_create}, {"circle_change", tj__op_circle_change},
	{"circle_list", tj__op_circle_list},
	{"peer_add", tj__op_peer_add}, {"peer_list", tj__op_peer_list},
	{"member_add", tj__op_member_add}, {"member_list", tj__op_member_list},
	{"member_approve", tj__op_member_approve}, {"member_remove", tj__op_member_remove},
	{"network_rotate", tj__op_network_rotate},
	{"alerts", tj__op_alerts}, {"alert_respond", tj__op_alert_respond},
	{"subscribe", tj__op_subscribe}, {"query", tj__op_query}, {"stats", tj__op_stats},
};

int tj_ctl_handle(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out,
		  struct tj_ctl_flags *flags)
{
	struct tj__ctl c = {.node = node, .req = req, .len = len, .out = out, .flags = flags};
	struct tj_mp_reader r;
	char op[16];
	uint32_t n;
	size_t used = 0;
	int rc;

	out->buf = NULL;
	out->len = 0;
	rc = tj_mp_check(req, len, &tj__ctl_limits, true, &used);
	tj_mp_reader_init(&r, req, len);
	if (rc == 0)
		rc = tj_mp_read_map(&r, &n);
	if (rc != 0) {
		flags->close = true; /* not a request at all: answer once, then hang up */
		return tj__fail(&c, rc, "not a control request: each frame must be one msgpack map (%s)",
				tj_strerror(rc));
	}
	rc = tj__arg_str(&c, "op", op, sizeof(op));
	if (rc == TJ_ELIMIT)
		return tj__fail(&c, TJ_EUNSUPPORTED,
		                "unknown op; try ping, id, add, add_batch, list, show, status, stop, "
		                "peer_add, peer_list, member_add, member_list, member_approve, "
		                "member_remove, network_rotate, alerts, alert_respond, subscribe, query, "
		                "stats, retract, share, circle_create, circle_change, circle_list");
	if (rc != 0)
		return tj__fail(&c, TJ_EMALFORMED, "the request has no 'op' string");
	for (size_t i = 0; i < sizeof(tj__ops) / sizeof(tj__ops[0]); i++) {
		if (strcmp(op, tj__ops[i].name) != 0)
			continue;
		TJ_LOG_D("ctl", "request: %s", op);
		rc = tj__ops[i].fn(&c);
		free(c.buf); /* only set if an op failed midway */
		return rc;
	}
	return tj__fail(
	    &c, TJ_EUNSUPPORTED,
	    "unknown op '%s'; try ping, id, add, add_batch, list, show, status, stop, peer_add, peer_list, "
	    "member_add, member_list, member_approve, member_remove, network_rotate, alerts, alert_respond, "
	    "subscribe, query, stats, retract, share, circle_create, circle_change, circle_list",
	    op);
}
