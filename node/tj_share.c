/* Sharing the case face later through slot grants (tj_share.h). */
#include "tj_share.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_circle.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_mp.h"
#include "tj_peer.h"
#include "tj_retract_int.h"

#define TJ__GRANT_BODY_MAX_BYTES (16u + TJ_SHARE_READERS_MAX * (8u + 34u + 82u))
#define TJ__GRANT_REC_MAX_BYTES (TJ__GRANT_BODY_MAX_BYTES + 4096u)
#define TJ__CASES_MAX 8
#define TJ__GRANTS_MAX 32

static const struct tj_mp_limits tj__grant_limits = {
    .max_depth = 3,
    .max_items = 8 + TJ_SHARE_READERS_MAX * 4,
    .max_str = TJ_SHARE_WRAPPED_BYTES,
    .canonical = true,
};

int tj_share_body_encode(const struct tj_share_body *b, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	if (b->n == 0 || b->n > TJ_SHARE_READERS_MAX)
		return TJ_ELIMIT;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, b->case_id, 32);
	tj_mp_put_array(&w, b->n);
	for (uint32_t i = 0; i < b->n; i++) {
		tj_mp_put_array(&w, 3);
		tj_mp_put_uint(&w, b->slots[i].type);
		tj_mp_put_bin(&w, b->slots[i].ref, 32);
		tj_mp_put_bin(&w, b->slots[i].wrapped, b->slots[i].wrapped_len);
	}
	return tj_mp_writer_finish(&w, len);
}

static int tj__slot_decode(struct tj_mp_reader *r, struct tj_slot *s)
{
	uint64_t type;
	uint32_t n;
	int rc;

	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n != 3)
		return TJ_EMALFORMED;
	if ((rc = tj_mp_read_uint(r, &type)) != 0 || (rc = tj_mp_read_bin_exact(r, s->ref, 32)) != 0 ||
	    (rc = tj_mp_read_bin(r, &s->wrapped, &s->wrapped_len)) != 0)
		return rc;
	if (!(type == TJ_SLOT_SEALED && s->wrapped_len == TJ_SHARE_WRAPPED_BYTES) &&
	    !(type == TJ_SLOT_CIRCLE && s->wrapped_len == TJ_SHARE_CIRCLE_WRAPPED_BYTES))
		return TJ_EMALFORMED;
	s->type = (uint8_t)type;
	return 0;
}

int tj_share_body_decode(const uint8_t *buf, size_t len, struct tj_share_body *b)
{
	struct tj_mp_reader r;
	uint32_t n;
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = tj_mp_check(buf, len, &tj__grant_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n != 2)
		return TJ_EMALFORMED;
	if ((rc = tj_mp_read_bin_exact(&r, b->case_id, 32)) != 0 || (rc = tj_mp_read_array(&r, &b->n)) != 0)
		return rc;
	if (b->n == 0 || b->n > TJ_SHARE_READERS_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < b->n; i++)
		if ((rc = tj__slot_decode(&r, &b->slots[i])) != 0)
			return rc;
	return 0;
}

/* ---- ingest ------------------------------------------------------------------ */

/* The author of a stored record of the given kind; TJ_ENOTFOUND if not here (or of another kind). */
static int tj__author_of(struct tj_txn *t, const uint8_t id[32], uint8_t kind, uint8_t author[32])
{
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	int rc = tj_store_get(t, id, &enc, &len);

	if (rc != 0)
		return rc;
	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	if (rec.kind != kind)
		return TJ_ENOTFOUND;
	memcpy(author, rec.author, 32);
	return 0;
}

int tj_share_ingest_check(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32], int *verdict)
{
	char a[TJ_LOG_HEX_CHARS], x[TJ_LOG_HEX_CHARS];
	uint8_t author[32];
	int rc;

	if (rec->audience.type != TJ_AUD_NAMED || !rec->audience.has_ref) {
		*verdict = TJ_EMALFORMED;
		return 0;
	}
	rc = tj__author_of(t, rec->audience.ref, TJ_KIND_CASE, author);
	if (rc == TJ_ENOTFOUND)
		return 0; /* the case is not here yet: readers check the author when they open it */
	if (rc != 0)
		return rc;
	if (memcmp(author, rec->author, 32) != 0) {
		TJ_LOG_W("share", "slot grant %s by %s refused: only the case's author can share it",
		         tj_log_hex(id, x), tj_log_hex(rec->author, a));
		*verdict = TJ_ENOTMEMBER;
	}
	return 0;
}

int tj_share_ingest_stored(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32])
{
	return tj_store_case_of_put(t, rec->audience.ref, id);
}

/* ---- opening a case through a grant -------------------------------------------- */

/* A circle slot of a grant body (tj_circle.h): nonce(24) || AEAD(case key, ad = case id) under the circle
 * key. */
static int tj__open_circle_slot(const struct tj_slot *s, const uint8_t case_id[32], tj_key_lookup_fn lookup,
                                void *ctx, uint8_t rk[32])
{
	const uint8_t *key = lookup != NULL ? lookup(ctx, TJ_SLOT_CIRCLE, s->ref) : NULL;
	unsigned long long n = 0;

	if (key == NULL)
		return TJ_ENOKEY;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(rk, &n, NULL, s->wrapped + 24, s->wrapped_len - 24,
	                                               case_id, 32, s->wrapped, key) != 0 ||
	    n != 32) {
		sodium_memzero(rk, 32);
		return TJ_EDECRYPT;
	}
	return 0;
}

/* Our slot of a grant body (sealed to us, or a circle whose key we hold): the case record key; TJ_ENOKEY when
 * none. */
static int tj__key_from_body(const struct tj_share_body *b, const struct tj_identity *me,
                             tj_key_lookup_fn lookup, void *ctx, uint8_t rk[32])
{
	for (uint32_t i = 0; i < b->n; i++) {
		if (b->slots[i].type == TJ_SLOT_CIRCLE) {
			if (tj__open_circle_slot(&b->slots[i], b->case_id, lookup, ctx, rk) == 0)
				return 0;
			continue;
		}
		if (memcmp(b->slots[i].ref, me->pk, 32) != 0)
			continue;
		if (crypto_box_seal_open(rk, b->slots[i].wrapped, b->slots[i].wrapped_len, me->x_pk,
		                         me->x_sk) != 0)
			return TJ_EDECRYPT;
		return 0;
	}
	return TJ_ENOKEY;
}

/* The case key out of one stored grant, if it is by the case's author and sealed to me. */
static int tj__key_from_grant(struct tj_txn *t, const struct tj_identity *me, tj_key_lookup_fn lookup,
                              void *ctx, const uint8_t grant_id[32], const uint8_t case_id[32],
                              const uint8_t case_author[32], uint8_t rk[32])
{
	uint8_t plain[TJ__GRANT_BODY_MAX_BYTES];
	struct tj_share_body b;
	struct tj_record g;
	const uint8_t *enc;
	size_t len, plen = 0;
	int rc;

	if ((rc = tj_store_get(t, grant_id, &enc, &len)) != 0)
		return rc == TJ_ENOTFOUND ? TJ_ENOKEY : rc;
	if (tj_record_decode(enc, len, &g) != 0 || g.kind != TJ_KIND_SLOT_GRANT ||
	    memcmp(g.author, case_author, 32) != 0)
		return TJ_ENOKEY;
	rc = tj_record_open(enc, &g, me, lookup, ctx, plain, sizeof(plain), &plen);
	if (rc == 0)
		rc = tj_share_body_decode(plain, plen, &b);
	if (rc == 0)
		rc = memcmp(b.case_id, case_id, 32) == 0 ? tj__key_from_body(&b, me, lookup, ctx, rk)
		                                         : TJ_ENOKEY;
	sodium_memzero(plain, sizeof(plain));
	return rc == TJ_ENOKEY || rc == 0 ? rc : TJ_ENOKEY;
}

static int tj__decrypt_with(const uint8_t *enc, const struct tj_record *rec, const uint8_t rk[32],
                            uint8_t **plain, size_t *plain_len)
{
	size_t cap = rec->ciphertext_len > 0 ? rec->ciphertext_len : 1;
	unsigned long long plen = 0;
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &plen, NULL, rec->ciphertext, rec->ciphertext_len,
	                                               enc, rec->header_len, rec->nonce, rk) != 0) {
		sodium_memzero(buf, cap);
		free(buf);
		return TJ_EDECRYPT;
	}
	*plain = buf;
	*plain_len = (size_t)plen;
	return 0;
}

int tj_share_open_case(struct tj_txn *t, const struct tj_identity *me, const uint8_t case_id[32],
                       const uint8_t *enc, const struct tj_record *rec, uint8_t **plain, size_t *plain_len)
{
	return tj_share_open_case_keys(t, me, NULL, NULL, case_id, enc, rec, plain, plain_len);
}

int tj_share_open_case_keys(struct tj_txn *t, const struct tj_identity *me, tj_key_lookup_fn lookup,
                            void *ctx, const uint8_t case_id[32], const uint8_t *enc,
                            const struct tj_record *rec, uint8_t **plain, size_t *plain_len)
{
	uint8_t grants[TJ__GRANTS_MAX][32], rk[32];
	size_t n = 0;
	int rc;

	*plain = NULL;
	*plain_len = 0;
	if (rec->kind != TJ_KIND_CASE)
		return TJ_ENOKEY;
	if ((rc = tj_store_case_of_get(t, case_id, grants, TJ__GRANTS_MAX, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = tj__key_from_grant(t, me, lookup, ctx, grants[i], case_id, rec->author, rk);
		if (rc == TJ_ENOKEY)
			continue;
		if (rc == 0)
			rc = tj__decrypt_with(enc, rec, rk, plain, plain_len);
		sodium_memzero(rk, sizeof(rk));
		if (rc != TJ_EDECRYPT)
			return rc;
	}
	return TJ_ENOKEY;
}

int tj_share_readers_check(const uint8_t *readers, uint32_t n)
{
	uint8_t x[crypto_scalarmult_curve25519_BYTES];
	int rc = 0;

	if (n > TJ_SHARE_READERS_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		if (crypto_core_ed25519_is_valid_point(readers + 32u * i) != 1 ||
		    crypto_sign_ed25519_pk_to_curve25519(x, readers + 32u * i) != 0)
			rc = TJ_ECRYPTO;
	sodium_memzero(x, sizeof(x));
	return rc;
}

/* ---- granting ----------------------------------------------------------------- */

/* The case record a target names: itself, or the case of an incident by the same author. */
static int tj__resolve_case(struct tj_txn *t, const uint8_t id[32], uint8_t case_id[32])
{
	uint8_t cases[TJ__CASES_MAX][32], author[32], case_author[32];
	size_t n = 0;
	int rc;

	if (tj__author_of(t, id, TJ_KIND_CASE, author) == 0) {
		memcpy(case_id, id, 32);
		return 0;
	}
	if ((rc = tj__author_of(t, id, TJ_KIND_INCIDENT, author)) != 0)
		return rc;
	if ((rc = tj_store_case_of_get(t, id, cases, TJ__CASES_MAX, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (tj__author_of(t, cases[i], TJ_KIND_CASE, case_author) == 0 &&
		    memcmp(case_author, author, 32) == 0) {
			memcpy(case_id, cases[i], 32);
			return 0;
		}
	}
	return TJ_ENOTFOUND;
}

struct tj__grant {
	uint8_t case_id[32];
	const struct tj_sym_key *circle; /* a circle's newest key (tj_circle.h), borrowed; NULL = none */
	uint8_t circle_wrapped[TJ_SHARE_CIRCLE_WRAPPED_BYTES];
	uint8_t wrapped[TJ_SHARE_READERS_MAX][TJ_SHARE_WRAPPED_BYTES];
	uint8_t body[TJ__GRANT_BODY_MAX_BYTES];
	size_t body_len;
	uint8_t rec[TJ__GRANT_REC_MAX_BYTES];
};

/* Finds the case, checks it is ours, and builds the grant body with the case key sealed to each reader. */
static int tj__grant_body(struct tj_node *n, struct tj_txn *t, const uint8_t *id_or_prefix, size_t nibbles,
                          const uint8_t (*readers)[32], uint32_t n_readers, struct tj__grant *g)
{
	struct tj_share_body b = {.n = n_readers + (g->circle != NULL)};
	struct tj_record rec;
	uint8_t ids[2][32], rk[32], cid[32];
	const uint8_t *enc;
	size_t found = 0, len;
	int rc;

	if ((rc = tj_store_find_prefix(t, id_or_prefix, nibbles, ids, 2, &found)) != 0)
		return rc;
	if (found != 1)
		return found == 0 ? TJ_ENOTFOUND : TJ_EEXIST;
	if ((rc = tj__resolve_case(t, ids[0], g->case_id)) != 0 ||
	    (rc = tj_store_get(t, g->case_id, &enc, &len)) != 0 ||
	    (rc = tj_record_verify(enc, len, &rec, cid)) != 0)
		return rc;
	if (memcmp(rec.author, n->u->id->pk, 32) != 0)
		return TJ_ENOTMEMBER;
	if ((rc = tj_record_unwrap_key(&rec, n->u->id, tj_keyring_lookup, n->keyring, rk)) != 0)
		return rc;
	memcpy(b.case_id, g->case_id, 32);
	for (uint32_t i = 0; i < n_readers && rc == 0; i++) {
		b.slots[i].type = TJ_SLOT_SEALED;
		memcpy(b.slots[i].ref, readers[i], 32);
		b.slots[i].wrapped = g->wrapped[i];
		b.slots[i].wrapped_len = TJ_SHARE_WRAPPED_BYTES;
		rc = tj_slot_seal_to(rk, readers[i], g->wrapped[i]);
	}
	if (rc == 0 && g->circle != NULL) {
		/* The circle's slot: the case key under the circle key, bound to the case id. */
		struct tj_slot *cs = &b.slots[n_readers];
		cs->type = TJ_SLOT_CIRCLE;
		memcpy(cs->ref, g->circle->id, 32);
		cs->wrapped = g->circle_wrapped;
		cs->wrapped_len = TJ_SHARE_CIRCLE_WRAPPED_BYTES;
		randombytes_buf(g->circle_wrapped, 24);
		crypto_aead_xchacha20poly1305_ietf_encrypt(g->circle_wrapped + 24, NULL, rk, 32, g->case_id,
		                                           32, NULL, g->circle_wrapped, g->circle->key);
	}
	sodium_memzero(rk, sizeof(rk));
	if (rc == 0)
		rc = tj_share_body_encode(&b, g->body, sizeof(g->body), &g->body_len);
	return rc;
}

/* Seals the grant as our next record (named: the readers and us) and stores it through ingest. */
static int tj__grant_store(struct tj_node *n, struct tj_txn *t, const uint8_t (*readers)[32],
                           uint32_t n_readers, struct tj__grant *g, uint8_t grant_id[32])
{
	uint8_t all[TJ_RECORD_SLOTS_MAX][32], head[40];
	struct tj_ingest_ctx ctx = {.has_network = true, .now_ms = tj_now_ms()};
	struct tj_ingest_item item;
	struct tj_seal_in in;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&item, 0, sizeof(item));
	if ((rc = tj_node_head_get(t, &in.has_prev, &in.seq, in.prev)) != 0)
		return rc;
	in.seq = in.has_prev ? in.seq + 1 : 0;
	memcpy(in.network_id, n->network_id, 32);
	in.ts_ms = ctx.now_ms;
	in.kind = TJ_KIND_SLOT_GRANT;
	in.audience.type = TJ_AUD_NAMED;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, g->case_id, 32);
	memcpy(all[0], n->u->id->pk, 32);
	if (n_readers > 0) /* none when only a circle is named */
		memcpy(all[1], readers, (size_t)n_readers * 32);
	in.readers = (const uint8_t(*)[32])all;
	in.n_readers = n_readers + 1;
	in.circle = g->circle; /* the circle's members open the grant itself with the circle key */
	in.body = g->body;
	in.body_len = g->body_len;
	if ((rc = tj_record_seal(&in, n->u->id, g->rec, sizeof(g->rec), &item.len, grant_id)) != 0)
		return rc;
	memcpy(ctx.network_id, n->network_id, 32);
	item.enc = g->rec;
	tj_ingest_validate(&ctx, &item);
	if ((rc = tj_ingest_put(t, &item)) != 0)
		return rc;
	if (item.result != 0)
		return item.result;
	tj_store_be64(in.seq, head);
	memcpy(head + 8, item.id, 32);
	return tj_store_meta_put(t, TJ_META_HEAD, head, sizeof(head));
}

int tj_share_grant(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
                   const uint8_t (*readers)[32], uint32_t n_readers, uint8_t case_id[32],
                   uint8_t grant_id[32])
{
	return tj_share_grant_circle(n, id_or_prefix, nibbles, readers, n_readers, NULL, case_id, grant_id);
}

int tj_share_grant_circle(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles,
                          const uint8_t (*readers)[32], uint32_t n_readers, const char *circle,
                          uint8_t case_id[32], uint8_t grant_id[32])
{
	const struct tj_sym_key *ck = NULL;
	struct tj__grant *g = NULL;
	uint8_t cid[32], who[32];
	struct tj_txn t;
	int rc;

	if (n_readers + (circle != NULL) == 0 || n_readers + (circle != NULL) > TJ_SHARE_READERS_MAX)
		return TJ_ELIMIT;
	if (!n->has_network)
		return TJ_ESTATE;
	if (nibbles < 8 || nibbles > 64)
		return TJ_EMALFORMED;
	/* The circle's newest key, checked before the write transaction (tj_circle_seal_key reads). */
	if (circle != NULL && (rc = tj_circle_seal_key(n, circle, &ck, cid, who)) != 0)
		return rc;
	if ((g = malloc(sizeof(*g))) == NULL)
		return -ENOMEM;
	g->circle = ck;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		goto out;
	if ((rc = tj__grant_body(n, &t, id_or_prefix, nibbles, readers, n_readers, g)) == 0 &&
	    (rc = tj__grant_store(n, &t, readers, n_readers, g, grant_id)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	if (rc == 0) {
		memcpy(case_id, g->case_id, 32);
		tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])grant_id, 1);
	}
out:
	if (g != NULL) {
		sodium_memzero(g, sizeof(*g));
		free(g);
	}
	return rc;
}

/* ---- control op ----------------------------------------------------------------- */

/* The "readers" argument: an array of 1 to TJ_SHARE_READERS_MAX keys (bin 32); TJ_ENOTFOUND when absent. */
static int tj__ctl_readers(const uint8_t *req, size_t len, uint8_t (*readers)[32], uint32_t *n)
{
	struct tj_mp_reader r;
	const char *k;
	uint32_t n_keys, klen;
	int rc;

	*n = 0;
	tj_mp_reader_init(&r, req, len);
	if ((rc = tj_mp_read_map(&r, &n_keys)) != 0)
		return rc;
	for (uint32_t i = 0; i < n_keys; i++) {
		if ((rc = tj_mp_read_str(&r, &k, &klen)) != 0)
			return rc;
		if (klen != 7 || memcmp(k, "readers", 7) != 0) {
			if ((rc = tj_mp_skip(&r)) != 0)
				return rc;
			continue;
		}
		if ((rc = tj_mp_read_array(&r, n)) != 0)
			return rc;
		if (*n == 0 || *n > TJ_SHARE_READERS_MAX)
			return TJ_ELIMIT;
		for (uint32_t j = 0; j < *n; j++)
			if ((rc = tj_mp_read_bin_exact(&r, readers[j], 32)) != 0)
				return rc;
		return 0;
	}
	return TJ_ENOTFOUND; /* no readers: fine with a circle */
}

/* The optional "circle" argument (a name, or "" when absent). */
static int tj__ctl_circle(const uint8_t *req, size_t len, char name[TJ_CIRCLE_NAME_MAX + 1])
{
	struct tj_mp_reader r;
	const char *k, *v;
	uint32_t n_keys, klen, vlen;
	int rc;

	name[0] = '\0';
	tj_mp_reader_init(&r, req, len);
	if ((rc = tj_mp_read_map(&r, &n_keys)) != 0)
		return rc;
	for (uint32_t i = 0; i < n_keys; i++) {
		if ((rc = tj_mp_read_str(&r, &k, &klen)) != 0)
			return rc;
		if (klen != 6 || memcmp(k, "circle", 6) != 0 || tj_mp_peek_nil(&r)) {
			if ((rc = tj_mp_skip(&r)) != 0)
				return rc;
			continue;
		}
		if ((rc = tj_mp_read_str(&r, &v, &vlen)) != 0)
			return rc;
		if (!tj_circle_name_ok(v, vlen))
			return TJ_EMALFORMED;
		memcpy(name, v, vlen);
		name[vlen] = '\0';
	}
	return 0;
}

/* Can this node seal to the circle? An error reply saying why not, or 0. */
static int tj__share_circle_check(struct tj_node *node, const char *name, struct tj_ctl_reply *out)
{
	const struct tj_sym_key *key = NULL;
	uint8_t cid[32], who[32];
	int rc = tj_circle_seal_key(node, name, &key, cid, who);

	switch (rc) {
	case 0:
		return 0;
	case TJ_ENOTFOUND:
		return tj_ctl_error_reply(rc,
		                          "share: no circle of that name has this node as a member "
		                          "(`tejido circle list`)",
		                          out);
	case TJ_EEXIST:
		return tj_ctl_error_reply(rc, "share: several circles have that name; give the circle's id",
		                          out);
	case TJ_ENOKEY:
		return tj_ctl_error_reply(rc, "share: this node does not hold the circle's newest key yet",
		                          out);
	case TJ_ENOTMEMBER:
		return tj_ctl_error_reply(
		    rc,
		    "share: the circle names an organization that left the network; its "
		    "admin must remove it from the circle first",
		    out);
	default:
		return tj_ctl_error_reply(rc, tj_strerror(rc), out);
	}
}

static int tj__share_fail(struct tj_ctl_reply *out, int rc)
{
	switch (rc) {
	case TJ_ENOTMEMBER:
		return tj_ctl_error_reply(
		    rc, "only the author can share a case, and this node did not write it", out);
	case TJ_ENOTFOUND:
		return tj_ctl_error_reply(rc, "no incident with a case face matches that id here", out);
	case TJ_EEXIST:
		return tj_ctl_error_reply(rc, "that prefix matches more than one record; give more digits",
		                          out);
	case TJ_ECRYPTO:
		return tj_ctl_error_reply(rc, "a reader key is not a valid public key", out);
	case TJ_ESTATE:
		return tj_ctl_error_reply(rc, "this node has not joined a network yet", out);
	default:
		return tj_ctl_error_reply(rc, tj_strerror(rc), out);
	}
}

int tj_share_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	uint8_t readers[TJ_SHARE_READERS_MAX][32], id[32], case_id[32], grant_id[32];
	char circle[TJ_CIRCLE_NAME_MAX + 1];
	struct tj_mp_writer w;
	uint32_t n_readers = 0;
	size_t nibbles = 0;
	uint8_t *buf;
	int rc;

	if (tj__trust_ctl_target(req, len, id, &nibbles) != 0)
		return tj_ctl_error_reply(TJ_EMALFORMED,
		                          "share: needs 'id' (bin 32) or 'prefix' (8 to 64 hex digits)", out);
	if ((rc = tj__ctl_circle(req, len, circle)) != 0)
		return tj_ctl_error_reply(TJ_EMALFORMED, "share: 'circle' must be a circle's name (str)",
		                          out);
	if ((rc = tj__ctl_readers(req, len, readers, &n_readers)) != 0 &&
	    !(rc == TJ_ENOTFOUND && circle[0] != '\0'))
		return tj_ctl_error_reply(
		    TJ_EMALFORMED, "share: needs 'readers', 1 to 15 public keys (bin 32), or 'circle'", out);
	if (node == NULL)
		return tj_ctl_error_reply(TJ_ESTATE, "share: no node is open", out);
	if (circle[0] != '\0' && (rc = tj__share_circle_check(node, circle, out)) != 0)
		return rc;
	if ((rc = tj_share_grant_circle(node, id, nibbles, (const uint8_t(*)[32])readers, n_readers,
	                                circle[0] != '\0' ? circle : NULL, case_id, grant_id)) != 0)
		return tj__share_fail(out, rc);
	if ((buf = malloc(256)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, 252);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "case");
	tj_mp_put_bin(&w, case_id, 32);
	tj_mp_put_cstr(&w, "grant");
	tj_mp_put_bin(&w, grant_id, 32);
	return tj__trust_reply(&w, buf, out);
}
