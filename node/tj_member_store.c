/*
 * The store side of membership (tj_member.h): the keys the derivation opens
 * bodies with, the cache of the derived state (meta "members"), the ids of
 * membership records (meta "member_ids"), ingest's hooks, the peers' predicate.
 *
 * Cache: canonical msgpack [1, threshold, [[pk bin 32, role, since_ms]...],
 * [ever-steward pk bin 32...]], or nil when stale (a membership record was
 * stored while no keys were attached; the next attach rebuilds it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"

#define TJ__CACHE_VERSION 1
#define TJ__CACHE_MAX_BYTES (64u + TJ_MEMBERS_MAX * 60u + TJ_MEMBERS_MAX * 35u)

int tj__member_derive_focus(const uint8_t network_id[32], const uint8_t *const *encs, const size_t *lens,
                            size_t n, const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                            const uint8_t *focus, struct tj_member_state *out);

static const struct tj_mp_limits tj__cache_limits = {
    .max_depth = 3,
    .max_items = 8 + TJ_MEMBERS_MAX * 5,
    .max_str = 32,
    .canonical = true,
};

/* The keys of the one attached store (one store per process). Loop thread only. */
static struct {
	const struct tj_store *st;
	uint8_t network_id[32];
	const struct tj_identity *me;
	const struct tj_keyring *kr;
} tj__bind;

static bool tj__bound(const struct tj_store *st)
{
	return tj__bind.st != NULL && tj__bind.st == st;
}

/* ---- the cache ------------------------------------------------------------- */

static int tj__cache_encode(const struct tj_member_state *s, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 4);
	tj_mp_put_uint(&w, TJ__CACHE_VERSION);
	tj_mp_put_uint(&w, s->threshold);
	tj_mp_put_array(&w, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++) {
		tj_mp_put_array(&w, 3);
		tj_mp_put_bin(&w, s->members[i].pk, 32);
		tj_mp_put_uint(&w, s->members[i].role);
		tj_mp_put_uint(&w, s->members[i].since_ms);
	}
	tj_mp_put_array(&w, (uint32_t)s->n_ever);
	for (size_t i = 0; i < s->n_ever; i++)
		tj_mp_put_bin(&w, s->stewards_ever[i], 32);
	return tj_mp_writer_finish(&w, len);
}

static int tj__cache_save(struct tj_txn *t, const struct tj_member_state *s)
{
	uint8_t *buf = malloc(TJ__CACHE_MAX_BYTES);
	size_t len = 0;
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	rc = tj__cache_encode(s, buf, TJ__CACHE_MAX_BYTES, &len);
	if (rc == 0)
		rc = tj_store_meta_put(t, TJ_META_MEMBERS, buf, len);
	free(buf);
	return rc;
}

static int tj__cache_stale(struct tj_txn *t)
{
	static const uint8_t nil = 0xc0;

	return tj_store_meta_put(t, TJ_META_MEMBERS, &nil, 1);
}

/*
 * Looks pk up in the cache without building a state (ingest asks once per
 * record): TJ_ENOTFOUND when the cache is absent or stale.
 */
static int tj__cache_lookup(struct tj_txn *t, const uint8_t pk[32], bool *member, bool *ever)
{
	struct tj_mp_reader r;
	const uint8_t *v, *p;
	size_t len;
	uint32_t n, k, plen;
	uint64_t x;
	int rc;

	*member = *ever = false;
	if ((rc = tj_store_meta_get(t, TJ_META_MEMBERS, &v, &len)) != 0)
		return rc;
	if (len == 1 && v[0] == 0xc0)
		return TJ_ENOTFOUND;
	if (tj_mp_check(v, len, &tj__cache_limits, true, NULL) != 0)
		return TJ_ESTORE;
	tj_mp_reader_init(&r, v, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 4 || tj_mp_read_uint(&r, &x) != 0 ||
	    x != TJ__CACHE_VERSION || tj_mp_read_uint(&r, &x) != 0 || tj_mp_read_array(&r, &n) != 0)
		return TJ_ESTORE;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_array(&r, &k) != 0 || k != 3 || tj_mp_read_bin(&r, &p, &plen) != 0 ||
		    plen != 32 || tj_mp_read_uint(&r, &x) != 0 || tj_mp_read_uint(&r, &x) != 0)
			return TJ_ESTORE;
		*member = *member || memcmp(p, pk, 32) == 0;
	}
	if (tj_mp_read_array(&r, &n) != 0)
		return TJ_ESTORE;
	for (uint32_t i = 0; i < n; i++) {
		if (tj_mp_read_bin(&r, &p, &plen) != 0 || plen != 32)
			return TJ_ESTORE;
		*ever = *ever || memcmp(p, pk, 32) == 0;
	}
	return 0;
}

/* ---- deriving from the store ----------------------------------------------- */

/* The stored genesis and membership records, borrowed from t; the caller frees encs and lens. */
static int tj__gather(struct tj_txn *t, const uint8_t network_id[32], const uint8_t ***encs, size_t **lens,
                      size_t *n)
{
	const uint8_t *ids;
	size_t ids_len = 0, k = 0;
	int rc = tj_store_meta_get(t, TJ_META_MEMBER_IDS, &ids, &ids_len);

	if (rc == TJ_ENOTFOUND)
		ids_len = 0;
	else if (rc != 0)
		return rc;
	if (ids_len % 32 != 0)
		return TJ_ESTORE;
	*encs = calloc(ids_len / 32 + 1, sizeof(**encs));
	*lens = calloc(ids_len / 32 + 1, sizeof(**lens));
	if (*encs == NULL || *lens == NULL)
		return -ENOMEM;
	if ((rc = tj_store_get(t, network_id, &(*encs)[k], &(*lens)[k])) != 0)
		return rc;
	k++;
	for (size_t i = 0; i < ids_len / 32; i++) {
		rc = tj_store_get(t, ids + 32 * i, &(*encs)[k], &(*lens)[k]);
		if (rc == TJ_ENOTFOUND)
			continue; /* retracted since: its tombstone keeps it out */
		if (rc != 0)
			return rc;
		k++;
	}
	*n = k;
	return 0;
}

/* Derives the full state from what t holds, with the attached keys. */
static int tj__derive_txn(struct tj_txn *t, const uint8_t *focus, struct tj_member_state *s)
{
	const uint8_t **encs = NULL;
	size_t *lens = NULL, n = 0;
	int rc;

	if (!tj__bound(t->st))
		return TJ_ESTATE;
	rc = tj__gather(t, tj__bind.network_id, &encs, &lens, &n);
	if (rc == 0)
		rc = tj__member_derive_focus(tj__bind.network_id, encs, lens, n, tj__bind.me,
		                             tj_keyring_lookup, (void *)(uintptr_t)tj__bind.kr, focus, s);
	free(encs);
	free(lens);
	return rc;
}

static int tj__rebuild_focus(struct tj_txn *t, const uint8_t *focus)
{
	struct tj_member_state *s = NULL;
	int rc;

	if ((rc = tj_member_state_new(&s)) != 0)
		return rc;
	rc = tj__derive_txn(t, focus, s);
	if (rc == 0)
		rc = tj__cache_save(t, s);
	tj_member_state_free(s);
	return rc;
}

int tj_member_rebuild_txn(struct tj_txn *t)
{
	return tj__rebuild_focus(t, NULL);
}

int tj_member_rebuild(struct tj_store *st)
{
	struct tj_txn t;
	int rc;

	if ((rc = tj_txn_begin(st, true, &t)) != 0)
		return rc;
	rc = tj_member_rebuild_txn(&t);
	if (rc == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	return rc;
}

int tj_member_load(struct tj_store *st, struct tj_member_state **out)
{
	struct tj_txn t;
	int rc;

	*out = NULL;
	if ((rc = tj_member_state_new(out)) != 0)
		return rc;
	if ((rc = tj_txn_begin(st, false, &t)) == 0) {
		rc = tj__derive_txn(&t, NULL, *out);
		tj_txn_abort(&t);
	}
	if (rc != 0) {
		tj_member_state_free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- attaching ------------------------------------------------------------- */

void tj_member_bind(struct tj_store *st, const uint8_t network_id[32], const struct tj_identity *me,
                    const struct tj_keyring *kr)
{
	tj__bind.st = st;
	memcpy(tj__bind.network_id, network_id, 32);
	tj__bind.me = me;
	tj__bind.kr = kr;
}

int tj_member_attach(struct tj_store *st, const uint8_t network_id[32], const struct tj_identity *me,
                     const struct tj_keyring *kr)
{
	static const uint8_t nobody[32] = {0};
	struct tj_txn t;
	bool member, ever;
	int rc;

	if (st == NULL || network_id == NULL || me == NULL || kr == NULL)
		return -EINVAL;
	tj_member_bind(st, network_id, me, kr);
	if ((rc = tj_txn_begin(st, false, &t)) != 0)
		return rc;
	rc = tj__cache_lookup(&t, nobody, &member, &ever);
	tj_txn_abort(&t);
	if (rc == TJ_ENOTFOUND) {
		TJ_LOG_I("member", "deriving the membership state from the stored records");
		rc = tj_member_rebuild(st);
	}
	return rc;
}

void tj_member_detach(const struct tj_store *st)
{
	if (tj__bound(st))
		memset(&tj__bind, 0, sizeof(tj__bind));
}

/* ---- ingest ---------------------------------------------------------------- */

static bool tj__is_membership(uint8_t kind)
{
	return kind == TJ_KIND_MEMBER || kind == TJ_KIND_APPROVAL;
}

int tj_member_ingest_check(struct tj_txn *t, const struct tj_record *rec, int *verdict)
{
	char au[TJ_LOG_HEX_CHARS];
	bool member, ever, ok;
	int rc;

	*verdict = 0;
	if (rec->kind == TJ_KIND_GENESIS)
		return 0; /* the bootstrap: ingest checked that it founds our network */
	rc = tj__cache_lookup(t, rec->author, &member, &ever);
	if (rc == TJ_ENOTFOUND)
		return 0; /* never derived here (tests, tools writing a store): nothing to hold records to */
	if (rc != 0)
		return rc;
	ok = tj__is_membership(rec->kind) ? ever : member;
	if (!ok) {
		*verdict = TJ_ENOTMEMBER;
		TJ_LOG_W("member", "refused a record (%s) by %s: %s", tj_kind_name(rec->kind),
		         tj_log_hex(rec->author, au),
		         tj__is_membership(rec->kind) ? "its author is not a steward"
		                                      : "its author is not a member");
	}
	return 0;
}

static int tj__ids_append(struct tj_txn *t, const uint8_t id[32])
{
	const uint8_t *v;
	uint8_t *buf;
	size_t len = 0;
	int rc = tj_store_meta_get(t, TJ_META_MEMBER_IDS, &v, &len);

	if (rc == TJ_ENOTFOUND)
		len = 0;
	else if (rc != 0)
		return rc;
	if (len % 32 != 0)
		return TJ_ESTORE;
	if (len / 32 >= TJ_MEMBER_RECORDS_MAX)
		return TJ_ELIMIT;
	if ((buf = malloc(len + 32)) == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(buf, v, len);
	memcpy(buf + len, id, 32);
	rc = tj_store_meta_put(t, TJ_META_MEMBER_IDS, buf, len + 32);
	free(buf);
	return rc;
}

int tj_member_ingest_stored(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32])
{
	int rc;

	if (rec->kind != TJ_KIND_GENESIS && !tj__is_membership(rec->kind))
		return 0;
	if (tj__is_membership(rec->kind) && (rc = tj__ids_append(t, id)) != 0)
		return rc;
	if (!tj__bound(t->st) || (rec->kind == TJ_KIND_GENESIS && memcmp(id, tj__bind.network_id, 32) != 0))
		return tj__cache_stale(t);
	rc = tj__rebuild_focus(t, id);
	if (rc == TJ_ESTORE || rc == TJ_ESTOREFULL || rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		/* Keep holding records to the last good state rather than to none. */
		char hex[TJ_LOG_HEX_CHARS];
		TJ_LOG_E("member", "cannot derive membership after %s: %s; keeping the previous state",
		         tj_log_hex(id, hex), tj_strerror(rc));
	}
	return 0;
}

/* ---- the peers' predicate -------------------------------------------------- */

bool tj_member_txn_is_member(struct tj_txn *t, const uint8_t pk[32])
{
	bool member = false, ever = false;

	return tj__cache_lookup(t, pk, &member, &ever) == 0 && member;
}

bool tj_member_txn_is_steward_member(struct tj_txn *t, const uint8_t pk[32])
{
	bool member = false, ever = false;

	return tj__cache_lookup(t, pk, &member, &ever) == 0 && member && ever;
}

bool tj_member_is_member(void *ctx, const uint8_t pk[32])
{
	struct tj_store *st = ctx;
	struct tj_txn t;
	bool yes;

	if (st == NULL || tj_txn_begin(st, false, &t) != 0)
		return false;
	yes = tj_member_txn_is_member(&t, pk);
	tj_txn_abort(&t);
	return yes;
}
