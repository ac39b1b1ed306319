/* Control socket calls to the simulated nodes (tj_control.h): see sim.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sim.h"
#include "tj_control.h"
#include "tj_incident.h"
#include "tj_ingest.h"
#include "tj_mp.h"

static const struct tj_mp_limits sim__lim = {.max_depth = 6, .max_items = 1u << 20, .max_str = 1u << 23};

int sim_ctl_open(const struct sim_node *nd, int *fd)
{
	struct timeval tv = {.tv_sec = SIM_CTL_TIMEOUT_MS / 1000u, .tv_usec = 0};
	int rc;

	if ((rc = tj_ctl_connect(nd->dir, fd)) != 0)
		return rc;
	/* Bounded: a node that stops answering fails the call (EAGAIN), it does not hang the run. */
	if (setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		rc = -errno;
		close(*fd);
		*fd = -1;
	}
	return rc;
}

/* One request, one reply (malloc'd, checked msgpack) over an open connection. */
static int sim__call_fd(int fd, const uint8_t *req, size_t len, uint8_t **reply, size_t *rlen)
{
	int rc = tj_ctl_call(fd, req, len, reply, rlen);

	if (rc == 0 && tj_mp_check(*reply, *rlen, &sim__lim, true, NULL) != 0) {
		free(*reply);
		*reply = NULL;
		rc = -1;
	}
	return rc;
}

/* One request, one reply on a connection of its own. */
static int sim__call(const struct sim_node *nd, const uint8_t *req, size_t len, uint8_t **reply, size_t *rlen)
{
	int fd = -1, rc;

	if ((rc = sim_ctl_open(nd, &fd)) != 0)
		return rc;
	rc = sim__call_fd(fd, req, len, reply, rlen);
	close(fd);
	return rc;
}

/* Positions r at the value of key in the reply's top map; 0 or -1. */
/* Positions r on the value of key in the map at r. */
static int sim__find_here(struct tj_mp_reader *r, const char *key)
{
	const char *k;
	uint32_t n, klen;

	if (tj_mp_read_map(r, &n) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_str(r, &k, &klen) != 0)
			return -1;
		if (klen == strlen(key) && memcmp(k, key, klen) == 0)
			return 0;
		if (tj_mp_skip(r) != 0)
			return -1;
	}
	return -1;
}

static int sim__find(struct tj_mp_reader *r, const uint8_t *reply, size_t len, const char *key)
{
	tj_mp_reader_init(r, reply, len);
	return sim__find_here(r, key);
}

static bool sim__ok(const uint8_t *reply, size_t len)
{
	struct tj_mp_reader r;
	bool ok = false;

	return sim__find(&r, reply, len, "ok") == 0 && tj_mp_read_bool(&r, &ok) == 0 && ok;
}

/* Checks a reply: 0 when it says ok (kept in *out if asked, else freed). */
static int sim__reply(uint8_t *reply, size_t rlen, uint8_t **out, size_t *olen)
{
	int rc = sim__ok(reply, rlen) ? 0 : -1;

	if (rc == 0 && out != NULL) {
		*out = reply;
		*olen = rlen;
	} else {
		free(reply);
	}
	return rc;
}

/* Sends a finished request, returns 0 when the reply says ok (reply kept in *out if asked). */
static int sim__request(const struct sim_node *nd, struct tj_mp_writer *w, uint8_t **out, size_t *olen)
{
	uint8_t *reply = NULL;
	size_t len = 0, rlen = 0;
	int rc;

	if ((rc = tj_mp_writer_finish(w, &len)) != 0 || (rc = sim__call(nd, w->buf, len, &reply, &rlen)) != 0)
		return rc;
	return sim__reply(reply, rlen, out, olen);
}

int sim_ctl_ping(const struct sim_node *nd)
{
	uint8_t req[32];
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "ping");
	return sim__request(nd, &w, NULL, NULL);
}

int sim_ctl_peer_add(const struct sim_node *from, const struct sim_node *to)
{
	uint8_t req[256];
	char addr[32];
	struct tj_mp_writer w;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)to->proxy_port);
	tj_mp_writer_init(&w, req, sizeof(req));
	tj_mp_put_map(&w, 4);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "peer_add");
	tj_mp_put_cstr(&w, "address");
	tj_mp_put_cstr(&w, addr);
	tj_mp_put_cstr(&w, "public_key");
	tj_mp_put_bin(&w, to->pk, 32);
	tj_mp_put_cstr(&w, "name");
	tj_mp_put_cstr(&w, "vecino");
	return sim__request(from, &w, NULL, NULL);
}

/* 64 INEGI municipalities at random, so that alert clusters stay as rare as in real data. */
static const char *const sim__munis[] = {
    "20236", "15048", "20353", "26066", "20238", "26019", "20538", "20327", "15062", "20549", "27015",
    "21130", "26068", "20545", "20418", "15076", "21175", "28019", "30075", "28028", "20552", "20509",
    "15090", "26046", "28040", "07103", "31018", "20559", "21030", "15104", "30050", "29018", "14110",
    "31067", "20566", "21121", "15118", "31034", "29039", "20109", "32010", "21003", "21212", "16007",
    "07026", "31044", "21008", "05012", "24020", "24057", "16021", "10022", "31065", "29020", "07020",
    "24027", "26069", "16035", "13055", "31086", "07029", "12040", "24034", "29028"};
static const char *const sim__acts[] = {"death_threat", "threat",           "harassment", "surveillance",
                                        "raid",         "physical_assault", "defamation", "criminalization"};
static const char *const sim__genders[] = {"woman", "man", "non_binary", "unknown"};

/* A valid summary body for k: the fields vary with k (spread over 10 years), the victim reference is unique.
 */
static int sim__summary(uint64_t k, uint8_t *buf, size_t cap, size_t *len)
{
	uint64_t h = (k + 1) * 0x9e3779b97f4a7c15u;
	char json[1024];
	const char *m = sim__munis[(h >> 20) % 64];
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	int n, rc;

	n = snprintf(
	    json, sizeof(json),
	    "{\"occurred\":{\"start\":\"%u-%02u-%02u\",\"precision\":\"day\"},"
	    "\"location\":{\"state\":\"%.2s\",\"municipality\":\"%s\",\"place_type\":\"home\"},"
	    "\"victims\":[{\"ref\":\"sim-%llu\",\"unit\":\"individual\",\"role\":\"defender\","
	    "\"gender\":\"%s\",\"age_band\":\"30_44\"}],"
	    "\"aggressors\":[{\"category\":\"state\",\"type\":\"municipal_police\",\"level\":\"municipal\","
	    "\"involvement\":\"direct\"}],"
	    "\"acts\":[{\"type\":\"%s\",\"victim\":0,\"aggressor\":0}],"
	    "\"protection\":{\"status\":\"none\"},"
	    "\"source\":{\"type\":\"victim_testimony\",\"reliability\":\"usually_reliable\"},"
	    "\"verification\":\"confirmed\"}",
	    (unsigned)(2016 + (h >> 30) % 10), (unsigned)((h >> 36) % 12 + 1), (unsigned)((h >> 42) % 28 + 1),
	    m, m, (unsigned long long)k, sim__genders[k % 4], sim__acts[(h >> 48) % 8]);
	if (n < 0 || (size_t)n >= sizeof(json))
		return -1;
	rc = tj_incident_from_json(json, (size_t)n, TJ_LANG_EN, tj_now_ms(), &s, &c, &verr);
	if (rc == 0)
		rc = tj_incident_summary_encode(s, buf, cap, len);
	else
		fprintf(stderr, "sim: generated incident %llu: %s\n", (unsigned long long)k, verr.message);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return rc;
}

int sim_ctl_add_prepare(uint64_t k, struct sim_add *a)
{
	uint8_t body[700];
	struct tj_mp_writer w;
	size_t blen = 0;
	int rc;

	if ((rc = sim__summary(k, body, sizeof(body), &blen)) != 0)
		return rc;
	tj_mp_writer_init(&w, a->req, sizeof(a->req));
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add");
	tj_mp_put_cstr(&w, "summary");
	tj_mp_put_bin(&w, body, blen);
	return tj_mp_writer_finish(&w, &a->len);
}

int sim_ctl_add_send(const struct sim_node *nd, const struct sim_add *a)
{
	uint8_t *reply = NULL;
	size_t rlen = 0;
	int rc;

	if ((rc = sim__call(nd, a->req, a->len, &reply, &rlen)) != 0)
		return rc;
	return sim__reply(reply, rlen, NULL, NULL);
}

int sim_ctl_add(const struct sim_node *nd, uint64_t k)
{
	struct sim_add a;
	int rc;

	if ((rc = sim_ctl_add_prepare(k, &a)) != 0)
		return rc;
	return sim_ctl_add_send(nd, &a);
}

/* The number of add_batch results that carry an id (an item that failed is {err, msg}). */
static uint32_t sim__batch_stored(const uint8_t *reply, size_t len)
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t n, fields, klen, stored = 0;

	if (sim__find(&r, reply, len, "results") != 0 || tj_mp_read_array(&r, &n) != 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		bool has_id = false;
		if (tj_mp_read_map(&r, &fields) != 0)
			return stored;
		for (uint32_t f = 0; f < fields; f++) {
			if (tj_mp_read_str(&r, &k, &klen) != 0 || tj_mp_skip(&r) != 0)
				return stored;
			has_id = has_id || (klen == 2 && memcmp(k, "id", 2) == 0);
		}
		stored += has_id;
	}
	return stored;
}

int sim_ctl_add_batch(const struct sim_node *nd, uint64_t k0, unsigned n)
{
	uint8_t *req = NULL, *reply = NULL, body[700];
	struct tj_mp_writer w;
	size_t blen = 0, len = 0, rlen = 0;
	int rc = -1;

	if (n == 0 || n > SIM_BATCH || (req = malloc(TJ_CTL_REQUEST_MAX_BYTES)) == NULL)
		return -1;
	tj_mp_writer_init(&w, req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add_batch");
	tj_mp_put_cstr(&w, "items");
	tj_mp_put_array(&w, n);
	for (unsigned i = 0; i < n; i++) {
		if ((rc = sim__summary(k0 + i, body, sizeof(body), &blen)) != 0)
			goto out;
		tj_mp_put_map(&w, 2);
		tj_mp_put_cstr(&w, "summary");
		tj_mp_put_bin(&w, body, blen);
		tj_mp_put_cstr(&w, "case");
		tj_mp_put_nil(&w);
	}
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0 || (rc = sim__call(nd, req, len, &reply, &rlen)) != 0)
		goto out;
	rc = sim__ok(reply, rlen) && sim__batch_stored(reply, rlen) == n ? 0 : -1;
	if (rc != 0)
		fprintf(stderr, "sim: add_batch at %s: not every incident was stored\n", nd->dir);
out:
	free(reply);
	free(req);
	return rc;
}

/* The status request, written into req (32 bytes); its length. */
static size_t sim__status_req(uint8_t *req, size_t cap)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, req, cap);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	return tj_mp_writer_finish(&w, &len) == 0 ? len : 0;
}

/* records, incidents and (if asked) store_bytes of a status reply; frees it. */
static int sim__status_parse(uint8_t *reply, size_t rlen, uint64_t *records, uint64_t *incidents,
                             uint64_t *store_bytes)
{
	struct tj_mp_reader r;
	int rc = -1;

	if (sim__find(&r, reply, rlen, "records") == 0 && tj_mp_read_uint(&r, records) == 0 &&
	    sim__find(&r, reply, rlen, "incidents") == 0 && tj_mp_read_uint(&r, incidents) == 0)
		rc = 0;
	if (rc == 0 && store_bytes != NULL &&
	    (sim__find(&r, reply, rlen, "store_bytes") != 0 || tj_mp_read_uint(&r, store_bytes) != 0))
		rc = -1;
	free(reply);
	return rc;
}

int sim_ctl_status(const struct sim_node *nd, uint64_t *records, uint64_t *incidents, uint64_t *store_bytes)
{
	uint8_t req[32], *reply = NULL, *ok = NULL;
	size_t len = sim__status_req(req, sizeof(req)), rlen = 0, olen = 0;
	int rc;

	if (len == 0)
		return -1;
	if ((rc = sim__call(nd, req, len, &reply, &rlen)) != 0 ||
	    (rc = sim__reply(reply, rlen, &ok, &olen)) != 0)
		return rc;
	return sim__status_parse(ok, olen, records, incidents, store_bytes);
}

int sim_ctl_status_fd(int fd, uint64_t *records, uint64_t *incidents)
{
	uint8_t req[32], *reply = NULL, *ok = NULL;
	size_t len = sim__status_req(req, sizeof(req)), rlen = 0, olen = 0;
	int rc;

	if (len == 0)
		return -1;
	if ((rc = sim__call_fd(fd, req, len, &reply, &rlen)) != 0 ||
	    (rc = sim__reply(reply, rlen, &ok, &olen)) != 0)
		return rc;
	return sim__status_parse(ok, olen, records, incidents, NULL);
}

int sim_ctl_backlog_fd(int fd, uint64_t *backlog)
{
	uint8_t req[32], *reply = NULL, *ok = NULL;
	size_t len = sim__status_req(req, sizeof(req)), rlen = 0, olen = 0;
	struct tj_mp_reader r;
	int rc;

	if (len == 0)
		return -1;
	if ((rc = sim__call_fd(fd, req, len, &reply, &rlen)) != 0 ||
	    (rc = sim__reply(reply, rlen, &ok, &olen)) != 0)
		return rc;
	rc = sim__find(&r, ok, olen, "peers") == 0 && sim__find_here(&r, "indexing_backlog") == 0 &&
	             tj_mp_read_uint(&r, backlog) == 0
	         ? 0
	         : -1;
	free(ok);
	return rc;
}

/* Appends the ids of one list page; sets *next when there is another page. */
static int sim__page(const uint8_t *reply, size_t len, uint8_t (*ids)[32], size_t cap, size_t *n, bool *more,
                     uint8_t next[32])
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t count, fields, klen;

	*more = false;
	if (sim__find(&r, reply, len, "next") == 0 && !tj_mp_peek_nil(&r)) {
		if (tj_mp_read_bin_exact(&r, next, 32) != 0)
			return -1;
		*more = true;
	}
	if (sim__find(&r, reply, len, "items") != 0 || tj_mp_read_array(&r, &count) != 0)
		return -1;
	for (uint32_t j = 0; j < count; j++) {
		if (tj_mp_read_map(&r, &fields) != 0)
			return -1;
		for (uint32_t f = 0; f < fields; f++) {
			if (tj_mp_read_str(&r, &k, &klen) != 0)
				return -1;
			if (klen == 2 && memcmp(k, "id", 2) == 0 && *n < cap) {
				if (tj_mp_read_bin_exact(&r, ids[(*n)++], 32) != 0)
					return -1;
			} else if (tj_mp_skip(&r) != 0) {
				return -1;
			}
		}
	}
	return 0;
}

static int sim__cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int sim_ctl_ids(const struct sim_node *nd, uint8_t (*ids)[32], size_t cap, size_t *n)
{
	uint8_t req[96], next[32], *reply = NULL;
	struct tj_mp_writer w;
	bool more = false;
	size_t rlen = 0;
	int rc = 0;

	*n = 0;
	for (unsigned page = 0; page < 100000; page++) {
		tj_mp_writer_init(&w, req, sizeof(req));
		tj_mp_put_map(&w, more ? 3 : 2);
		tj_mp_put_cstr(&w, "op");
		tj_mp_put_cstr(&w, "list");
		tj_mp_put_cstr(&w, "limit");
		tj_mp_put_uint(&w, 1000);
		if (more) {
			tj_mp_put_cstr(&w, "after");
			tj_mp_put_bin(&w, next, 32);
		}
		if ((rc = sim__request(nd, &w, &reply, &rlen)) != 0)
			return rc;
		rc = sim__page(reply, rlen, ids, cap, n, &more, next);
		free(reply);
		reply = NULL;
		if (rc != 0 || !more)
			break;
	}
	qsort(ids, *n, 32, sim__cmp_id);
	return rc;
}
