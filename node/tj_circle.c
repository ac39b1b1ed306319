/*
 * Circles: the CIRCLE body codec, the state derived from the records, and
 * ingest's hooks (tj_circle.h). Writing and the control ops: tj_circle_ops.c.
 */
#include "tj_circle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_keyring.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"

#define TJ__ID_CONTEXT "tejido-circle-v1"
#define TJ__BODY_FIELDS 6

_Static_assert(TJ_CIRCLE_SEALED_BYTES == crypto_box_SEALBYTES + 32, "a sealed circle key is 80 bytes");
_Static_assert(sizeof(((struct tj_add_item *)0)->case_circle) == TJ_CIRCLE_NAME_MAX + 1,
               "tj_add_item holds a circle name");

/* A body nests three deep (body > members > member) with 6 + 1 + 3 per member objects. */
static const struct tj_mp_limits tj__body_limits = {
    .max_depth = 3,
    .max_items = 8 + TJ_CIRCLE_MEMBERS_MAX * 3,
    .max_str = TJ_CIRCLE_SEALED_BYTES,
    .canonical = true,
};

static struct tj_node *tj__bound_node;

void tj_circle_attach(struct tj_node *n)
{
	tj__bound_node = n;
}

void tj_circle_detach(const struct tj_node *n)
{
	if (tj__bound_node == n)
		tj__bound_node = NULL;
}

/* ---- names and ids ---------------------------------------------------------- */

/* Length of the UTF-8 sequence starting at s (at most left bytes), 0 if invalid. */
static size_t tj__utf8_seq(const unsigned char *s, size_t left)
{
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (need > left)
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return need;
}

bool tj_circle_name_ok(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;

	if (len == 0 || len > TJ_CIRCLE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len;) {
		size_t k = tj__utf8_seq(s + i, len - i);
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f || s[i] == ',')))
			return false;
		i += k;
	}
	return true;
}

void tj_circle_id(const uint8_t network_id[32], const uint8_t admin[32], const uint8_t nonce[16],
                  const char *name, uint8_t id[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)TJ__ID_CONTEXT, strlen(TJ__ID_CONTEXT));
	crypto_generichash_update(&st, network_id, 32);
	crypto_generichash_update(&st, admin, 32);
	crypto_generichash_update(&st, nonce, TJ_CIRCLE_NONCE_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
	crypto_generichash_final(&st, id, 32);
}

/* ---- the body --------------------------------------------------------------- */

static int tj__members_ok(const struct tj_circle_body *b)
{
	if (b->n_members == 0 || b->n_members > TJ_CIRCLE_MEMBERS_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 1; i < b->n_members; i++)
		if (memcmp(b->members[i - 1], b->members[i], 32) >= 0)
			return TJ_EMALFORMED; /* ascending and distinct: one encoding per list */
	return 0;
}

int tj_circle_body_encode(const struct tj_circle_body *b, uint8_t *buf, size_t cap, size_t *len)
{
	size_t nl = strnlen(b->name, sizeof(b->name));
	struct tj_mp_writer w;
	int rc;

	if ((rc = tj__members_ok(b)) != 0)
		return rc;
	if (!tj_circle_name_ok(b->name, nl) || b->generation == 0)
		return TJ_EMALFORMED;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, TJ__BODY_FIELDS);
	tj_mp_put_bin(&w, b->circle_id, 32);
	tj_mp_put_str(&w, b->name, nl);
	tj_mp_put_bin(&w, b->nonce, TJ_CIRCLE_NONCE_BYTES);
	tj_mp_put_uint(&w, b->generation);
	tj_mp_put_bin(&w, b->key_id, 32);
	tj_mp_put_array(&w, b->n_members);
	for (uint32_t i = 0; i < b->n_members; i++) {
		tj_mp_put_array(&w, 2);
		tj_mp_put_bin(&w, b->members[i], 32);
		tj_mp_put_bin(&w, b->sealed[i], TJ_CIRCLE_SEALED_BYTES);
	}
	return tj_mp_writer_finish(&w, len);
}

static int tj__decode_head(struct tj_mp_reader *r, struct tj_circle_body *b)
{
	const char *s;
	uint32_t n, slen;
	int rc;

	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n != TJ__BODY_FIELDS)
		return TJ_EMALFORMED;
	if ((rc = tj_mp_read_bin_exact(r, b->circle_id, 32)) != 0 || (rc = tj_mp_read_str(r, &s, &slen)) != 0)
		return rc;
	if (!tj_circle_name_ok(s, slen))
		return TJ_EMALFORMED;
	memcpy(b->name, s, slen);
	b->name[slen] = '\0';
	if ((rc = tj_mp_read_bin_exact(r, b->nonce, TJ_CIRCLE_NONCE_BYTES)) != 0 ||
	    (rc = tj_mp_read_uint(r, &b->generation)) != 0 ||
	    (rc = tj_mp_read_bin_exact(r, b->key_id, 32)) != 0)
		return rc;
	return b->generation >= 1 ? 0 : TJ_EMALFORMED;
}

int tj_circle_body_decode(const uint8_t *buf, size_t len, struct tj_circle_body *b)
{
	struct tj_mp_reader r;
	uint32_t n, pair;
	int rc;

	memset(b, 0, sizeof(*b));
	if (len > TJ_CIRCLE_BODY_MAX_BYTES)
		return TJ_ELIMIT;
	if ((rc = tj_mp_check(buf, len, &tj__body_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj__decode_head(&r, b)) != 0 || (rc = tj_mp_read_array(&r, &n)) != 0)
		goto out;
	if (n == 0 || n > TJ_CIRCLE_MEMBERS_MAX) {
		rc = n == 0 ? TJ_EMALFORMED : TJ_ELIMIT;
		goto out;
	}
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		if ((rc = tj_mp_read_array(&r, &pair)) == 0 && pair != 2)
			rc = TJ_EMALFORMED;
		if (rc == 0 && (rc = tj_mp_read_bin_exact(&r, b->members[i], 32)) == 0)
			rc = tj_mp_read_bin_exact(&r, b->sealed[i], TJ_CIRCLE_SEALED_BYTES);
	}
	b->n_members = n;
	if (rc == 0)
		rc = tj__members_ok(b);
out:
	if (rc != 0)
		memset(b, 0, sizeof(*b));
	return rc;
}

static bool tj__has_member(const struct tj_circle_body *b, const uint8_t pk[32], uint32_t *at)
{
	for (uint32_t i = 0; i < b->n_members; i++) {
		if (memcmp(b->members[i], pk, 32) == 0) {
			if (at != NULL)
				*at = i;
			return true;
		}
	}
	return false;
}

int tj_circle_body_check(const struct tj_circle_body *b, const uint8_t network_id[32],
                         const uint8_t author[32])
{
	uint8_t id[32];

	tj_circle_id(network_id, author, b->nonce, b->name, id);
	if (memcmp(id, b->circle_id, 32) != 0)
		return TJ_ENOTMEMBER;
	return tj__has_member(b, author, NULL) ? 0 : TJ_EMALFORMED;
}

static int tj__pk_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int tj_circle_body_make(struct tj_circle_body *b, const uint8_t network_id[32], const uint8_t admin[32],
                        const uint8_t nonce[16], const char *name, uint64_t generation, const uint8_t key[32],
                        const uint8_t (*members)[32], uint32_t n)
{
	bool has_admin = false;
	int rc = 0;

	memset(b, 0, sizeof(*b));
	if (!tj_circle_name_ok(name, strlen(name)) || generation == 0)
		return TJ_EMALFORMED;
	for (uint32_t i = 0; i < n; i++)
		has_admin = has_admin || memcmp(members[i], admin, 32) == 0;
	if ((uint64_t)n + !has_admin > TJ_CIRCLE_MEMBERS_MAX)
		return TJ_ELIMIT;
	if (n > 0)
		memcpy(b->members, members, (size_t)n * 32);
	if (!has_admin)
		memcpy(b->members[n], admin, 32);
	b->n_members = n + !has_admin;
	qsort(b->members, b->n_members, 32, tj__pk_cmp);
	for (uint32_t i = 1; i < b->n_members; i++)
		if (memcmp(b->members[i - 1], b->members[i], 32) == 0)
			return -EINVAL;
	for (uint32_t i = 0; i < b->n_members && rc == 0; i++)
		rc = tj_slot_seal_to(key, b->members[i], b->sealed[i]);
	if (rc != 0)
		return rc;
	memcpy(b->name, name, strlen(name) + 1);
	memcpy(b->nonce, nonce, TJ_CIRCLE_NONCE_BYTES);
	b->generation = generation;
	tj_sym_key_id(key, b->key_id);
	tj_circle_id(network_id, admin, nonce, name, b->circle_id);
	return 0;
}

int tj_circle_open_key(const struct tj_circle_body *b, const struct tj_identity *me, uint8_t key[32])
{
	uint8_t id[32];
	uint32_t at = 0;

	if (!tj__has_member(b, me->pk, &at))
		return TJ_ENOKEY;
	if (crypto_box_seal_open(key, b->sealed[at], TJ_CIRCLE_SEALED_BYTES, me->x_pk, me->x_sk) != 0)
		return TJ_EDECRYPT;
	tj_sym_key_id(key, id);
	if (memcmp(id, b->key_id, 32) != 0) {
		sodium_memzero(key, 32);
		return TJ_EDECRYPT; /* not the key the others got: refuse it rather than seal to it */
	}
	return 0;
}

/* Opens a verified CIRCLE record's body into b. */
static int tj__open_body(const uint8_t *enc, const struct tj_record *rec, const struct tj_identity *me,
                         tj_key_lookup_fn lookup, void *ctx, struct tj_circle_body *b)
{
	uint8_t *plain;
	size_t plen = 0;
	int rc;

	if (rec->ciphertext_len > TJ_CIRCLE_BODY_MAX_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return TJ_ELIMIT;
	if ((plain = malloc(TJ_CIRCLE_BODY_MAX_BYTES)) == NULL)
		return -ENOMEM;
	rc = tj_record_open(enc, rec, me, lookup, ctx, plain, TJ_CIRCLE_BODY_MAX_BYTES, &plen);
	if (rc == 0)
		rc = tj_circle_body_decode(plain, plen, b);
	sodium_memzero(plain, TJ_CIRCLE_BODY_MAX_BYTES);
	free(plain);
	return rc;
}

/* ---- the derived state ---------------------------------------------------- */

int tj_circle_state_new(struct tj_circle_state **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

void tj_circle_state_free(struct tj_circle_state *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, sizeof(*s)); /* names are the network's plaintext */
	free(s);
}

static void tj__set_head(struct tj_circle *c, const struct tj_circle_body *b, const uint8_t author[32],
                         const uint8_t rid[32])
{
	memcpy(c->id, b->circle_id, 32);
	memcpy(c->name, b->name, sizeof(c->name));
	memcpy(c->nonce, b->nonce, sizeof(c->nonce));
	memcpy(c->admin, author, 32);
	c->generation = b->generation;
	memcpy(c->head, rid, 32);
	memcpy(c->key_id, b->key_id, 32);
	c->n_members = b->n_members;
	memset(c->members, 0, sizeof(c->members)); /* no trace of an older head's longer list */
	memcpy(c->members, b->members, (size_t)b->n_members * 32);
}

/*
 * Merges one valid record. Beyond TJ_CIRCLES_MAX circles the ones with the
 * lowest ids are kept, so that the result still does not depend on order.
 */
static void tj__merge(struct tj_circle_state *s, const struct tj_circle_body *b, const uint8_t author[32],
                      const uint8_t rid[32])
{
	size_t at = s->n, max = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (memcmp(s->circles[i].id, b->circle_id, 32) == 0)
			at = i;
		if (memcmp(s->circles[i].id, s->circles[max].id, 32) > 0)
			max = i;
	}
	if (at < s->n) {
		struct tj_circle *c = &s->circles[at];
		if (b->generation > c->generation ||
		    (b->generation == c->generation && memcmp(rid, c->head, 32) < 0))
			tj__set_head(c, b, author, rid);
		return;
	}
	if (s->n == TJ_CIRCLES_MAX) {
		s->ignored++;
		if (memcmp(b->circle_id, s->circles[max].id, 32) > 0)
			return;
		at = max;
	} else {
		s->n++;
	}
	memset(&s->circles[at], 0, sizeof(s->circles[at]));
	tj__set_head(&s->circles[at], b, author, rid);
}

static int tj__circle_cmp(const void *a, const void *b)
{
	const struct tj_circle *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : memcmp(x->id, y->id, 32);
}

int tj_circle_derive(const uint8_t network_id[32], const uint8_t *const *encs, const size_t *lens, size_t n,
                     const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                     struct tj_circle_state *out)
{
	struct tj_circle_body *b = malloc(sizeof(*b));
	struct tj_record rec;
	uint8_t rid[32];

	if (b == NULL)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		if (tj_record_verify(encs[i], lens[i], &rec, rid) != 0 || rec.kind != TJ_KIND_CIRCLE ||
		    memcmp(rec.network_id, network_id, 32) != 0)
			continue;
		if (tj__open_body(encs[i], &rec, me, lookup, ctx, b) != 0 ||
		    tj_circle_body_check(b, network_id, rec.author) != 0) {
			out->ignored++;
			continue;
		}
		tj__merge(out, b, rec.author, rid);
	}
	for (size_t i = 0; i < out->n; i++) {
		struct tj_circle *c = &out->circles[i];
		for (uint32_t k = 0; k < c->n_members && me != NULL; k++)
			c->is_member = c->is_member || memcmp(c->members[k], me->pk, 32) == 0;
		c->holds_key = lookup != NULL && lookup(ctx, TJ_SLOT_CIRCLE, c->key_id) != NULL;
	}
	qsort(out->circles, out->n, sizeof(out->circles[0]), tj__circle_cmp);
	memset(b, 0, sizeof(*b));
	free(b);
	return 0;
}

static int tj__list_get(struct tj_txn *t, const char *name, const uint8_t **ids, size_t *n)
{
	size_t len = 0;
	int rc = tj_store_meta_get(t, name, ids, &len);

	*n = 0;
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len % 32 != 0)
		return TJ_ESTORE;
	*n = len / 32;
	return 0;
}

static int tj__ids_get(struct tj_txn *t, const uint8_t **ids, size_t *n)
{
	return tj__list_get(t, TJ_META_CIRCLE_IDS, ids, n);
}

int tj_circle_load(struct tj_node *n, struct tj_circle_state **out)
{
	struct tj_circle_state *s = NULL;
	const uint8_t **encs = NULL, *ids;
	size_t *lens = NULL, n_ids = 0, k = 0;
	struct tj_txn t;
	int rc;

	*out = NULL;
	if (!n->has_network)
		return TJ_ESTATE;
	if ((rc = tj_circle_state_new(&s)) != 0)
		return rc;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		goto out;
	if ((rc = tj__ids_get(&t, &ids, &n_ids)) != 0)
		goto abort;
	encs = calloc(n_ids + 1, sizeof(*encs));
	lens = calloc(n_ids + 1, sizeof(*lens));
	if (encs == NULL || lens == NULL) {
		rc = -ENOMEM;
		goto abort;
	}
	for (size_t i = 0; i < n_ids && rc == 0; i++) {
		rc = tj_store_get(&t, ids + 32 * i, &encs[k], &lens[k]);
		if (rc == 0)
			k++;
		else if (rc == TJ_ENOTFOUND)
			rc = 0;
	}
	/* The encodings borrow from LMDB: derive before the transaction ends. */
	if (rc == 0)
		rc = tj_circle_derive(n->network_id, encs, lens, k, n->u->id, tj_keyring_lookup, n->keyring,
		                      s);
abort:
	tj_txn_abort(&t);
out:
	free(encs);
	free(lens);
	if (rc == 0)
		*out = s;
	else
		tj_circle_state_free(s);
	return rc;
}

int tj_circle_find(const struct tj_circle_state *s, const char *name, const uint8_t *admin,
                   const struct tj_circle **out)
{
	uint8_t id[32];
	bool by_id = strlen(name) == 64 && tj_unhex(name, id, 32) == 0;
	size_t found = 0;

	*out = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct tj_circle *c = &s->circles[i];
		bool mine = admin != NULL ? memcmp(c->admin, admin, 32) == 0 : c->is_member;
		bool named = by_id ? memcmp(c->id, id, 32) == 0 : strcmp(c->name, name) == 0;
		if (!mine || !named)
			continue;
		if (found++ == 0)
			*out = c;
	}
	if (found == 0)
		return TJ_ENOTFOUND;
	return found == 1 ? 0 : TJ_EEXIST;
}

/* ---- ingest ------------------------------------------------------------------ */

static int tj__check_members(struct tj_txn *t, const struct tj_circle_body *b, const uint8_t id[32])
{
	char x[TJ_LOG_HEX_CHARS], c[TJ_LOG_HEX_CHARS], m[TJ_LOG_HEX_CHARS];

	for (uint32_t i = 0; i < b->n_members; i++) {
		if (tj_member_txn_is_member(t, b->members[i]))
			continue;
		TJ_LOG_W("circle",
		         "circle record %s (circle %s) refused: it names %s, not a member of the network",
		         tj_log_hex(id, x), tj_log_hex(b->circle_id, c), tj_log_hex(b->members[i], m));
		return TJ_ENOTMEMBER;
	}
	return 0;
}

/* Judges an opened body: 0 or the verdict (logged). */
static int tj__judge(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32],
                     const struct tj_circle_body *b)
{
	char x[TJ_LOG_HEX_CHARS], c[TJ_LOG_HEX_CHARS], a[TJ_LOG_HEX_CHARS];
	const uint8_t *ids;
	size_t n_ids = 0;
	int rc = tj_circle_body_check(b, rec->network_id, rec->author);

	if (rc == TJ_ENOTMEMBER) {
		TJ_LOG_W("circle",
		         "circle record %s (circle %s) refused: its author %s is not the circle's admin",
		         tj_log_hex(id, x), tj_log_hex(b->circle_id, c), tj_log_hex(rec->author, a));
		return rc;
	}
	if (rc != 0) {
		TJ_LOG_W("circle", "circle record %s (circle %s) refused: its admin is not among its members",
		         tj_log_hex(id, x), tj_log_hex(b->circle_id, c));
		return rc;
	}
	if ((rc = tj__check_members(t, b, id)) != 0)
		return rc;
	if (tj__ids_get(t, &ids, &n_ids) == 0 && n_ids >= TJ_CIRCLE_RECORDS_MAX) {
		TJ_LOG_W("circle", "circle record %s refused: the network holds %d circle records already",
		         tj_log_hex(id, x), TJ_CIRCLE_RECORDS_MAX);
		return TJ_ELIMIT;
	}
	return 0;
}

static bool tj__ours(const struct tj_record *rec)
{
	const struct tj_node *n = tj__bound_node;

	return rec->kind == TJ_KIND_CIRCLE && n != NULL && n->has_network &&
	       memcmp(rec->network_id, n->network_id, 32) == 0;
}

int tj_circle_ingest_check(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                           const uint8_t id[32], int *verdict)
{
	struct tj_node *n = tj__bound_node;
	struct tj_circle_body *b;
	char x[TJ_LOG_HEX_CHARS];
	int rc;

	*verdict = 0;
	if (!tj__ours(rec))
		return 0;
	if ((b = malloc(sizeof(*b))) == NULL)
		return -ENOMEM;
	rc = tj__open_body(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, b);
	if (rc == TJ_ENOKEY) {
		/* Sealed to an epoch this node does not hold: relayed unjudged, like any record. */
		TJ_LOG_D("circle", "circle record %s is not readable here; stored unjudged",
		         tj_log_hex(id, x));
		rc = 0;
	} else if (rc == -ENOMEM) {
		/* fatal: abort the transaction */
	} else if (rc != 0) {
		TJ_LOG_W("circle", "circle record %s refused: its body is %s (%s)", tj_log_hex(id, x),
		         rc == TJ_ELIMIT ? "over the bounds" : "malformed", tj_errname(rc));
		*verdict = rc == TJ_ELIMIT ? TJ_ELIMIT : TJ_EMALFORMED;
		rc = 0;
	} else {
		*verdict = tj__judge(t, rec, id, b);
	}
	memset(b, 0, sizeof(*b));
	free(b);
	return rc;
}

/* Appends id to the meta list name (once; at most TJ_CIRCLE_RECORDS_MAX). */
static int tj__list_append(struct tj_txn *t, const char *name, const uint8_t id[32])
{
	const uint8_t *ids;
	uint8_t *all;
	size_t n = 0;
	int rc;

	if ((rc = tj__list_get(t, name, &ids, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids + 32 * i, id, 32) == 0)
			return 0;
	if (n >= TJ_CIRCLE_RECORDS_MAX)
		return 0; /* refused at ingest already, when this node could judge it */
	if ((all = malloc(32 * (n + 1))) == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(all, ids, 32 * n);
	memcpy(all + 32 * n, id, 32);
	rc = tj_store_meta_put(t, name, all, 32 * (n + 1));
	free(all);
	return rc;
}

/* Installs this node's key of body b (record id) when it is a member. */
static int tj__install(struct tj_node *n, struct tj_txn *t, const struct tj_circle_body *b,
                       const uint8_t id[32])
{
	char x[TJ_LOG_HEX_CHARS], c[TJ_LOG_HEX_CHARS];
	uint8_t *key = sodium_malloc(32);
	int rc;

	if (key == NULL)
		return -ENOMEM;
	rc = tj_circle_open_key(b, n->u->id, key);
	if (rc == TJ_ENOKEY) {
		rc = 0; /* not a member of this generation */
		goto out;
	}
	if (rc != 0) {
		TJ_LOG_W("circle",
		         "circle record %s (circle %s): our sealed key does not open or is not the "
		         "circle's; not installed",
		         tj_log_hex(id, x), tj_log_hex(b->circle_id, c));
		rc = 0;
		goto out;
	}
	rc = tj_keyring_add_circle(n->keyring, key);
	if (rc == TJ_EEXIST) {
		/* Held in memory already, perhaps from a transaction that was aborted: save it in this one.
		 */
		rc = tj_keyring_save(n->keyring, t, n->u->storage_key);
		goto out;
	}
	if (rc == TJ_ELIMIT) {
		TJ_LOG_E("circle",
		         "circle record %s (circle %s): the keyring holds %d circle keys; not installed",
		         tj_log_hex(id, x), tj_log_hex(b->circle_id, c), TJ_KEYRING_CIRCLES_MAX);
		rc = 0;
		goto out;
	}
	if (rc == 0 && (rc = tj_keyring_save(n->keyring, t, n->u->storage_key)) == 0)
		TJ_LOG_I("circle", "circle %s generation %llu: key installed (record %s)",
		         tj_log_hex(b->circle_id, c), (unsigned long long)b->generation, tj_log_hex(id, x));
out:
	sodium_free(key);
	return rc;
}

/*
 * The CIRCLE records stored while this node lacked their epoch key (a KEY
 * record may arrive after the records sealed with its key): those that open
 * now install their key and leave the list.
 */
static int tj__retry_unread(struct tj_node *n, struct tj_txn *t)
{
	struct tj_circle_body *b = NULL;
	const uint8_t *ids, *enc;
	uint8_t *left = NULL, rid[32];
	struct tj_record rec;
	size_t n_ids = 0, k = 0, len;
	int rc;

	if ((rc = tj__list_get(t, TJ_META_CIRCLE_UNREAD, &ids, &n_ids)) != 0 || n_ids == 0)
		return rc;
	if ((left = malloc(32 * n_ids)) == NULL || (b = malloc(sizeof(*b))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(left, ids, 32 * n_ids); /* ids borrows from LMDB: the puts below may move it */
	for (size_t i = 0; i < n_ids && rc == 0; i++) {
		int orc;
		if (tj_store_get(t, left + 32 * i, &enc, &len) != 0 ||
		    tj_record_verify(enc, len, &rec, rid) != 0)
			continue; /* gone: drop it */
		orc = tj__open_body(enc, &rec, n->u->id, tj_keyring_lookup, n->keyring, b);
		if (orc == TJ_ENOKEY)
			memmove(left + 32 * k++, left + 32 * i, 32);
		else if (orc == 0 && tj_circle_body_check(b, rec.network_id, rec.author) == 0)
			rc = tj__install(n, t, b, rid);
	}
	if (rc == 0 && k != n_ids)
		rc = tj_store_meta_put(t, TJ_META_CIRCLE_UNREAD, left, 32 * k);
out:
	if (b != NULL)
		memset(b, 0, sizeof(*b));
	free(b);
	free(left);
	return rc;
}

int tj_circle_ingest_stored(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                            const uint8_t id[32])
{
	struct tj_node *n = tj__bound_node;
	struct tj_circle_body *b;
	int rc;

	if (rec->kind == TJ_KIND_KEY && n != NULL)
		return tj__retry_unread(n, t); /* after tj_rotate's hook: its epoch key may open some now */
	if (rec->kind != TJ_KIND_CIRCLE)
		return 0;
	if ((rc = tj__list_append(t, TJ_META_CIRCLE_IDS, id)) != 0 || !tj__ours(rec))
		return rc;
	if ((b = malloc(sizeof(*b))) == NULL)
		return -ENOMEM;
	rc = tj__open_body(enc, rec, n->u->id, tj_keyring_lookup, n->keyring, b);
	if (rc == 0 && tj_circle_body_check(b, rec->network_id, rec->author) == 0)
		rc = tj__install(n, t, b, id);
	else if (rc == TJ_ENOKEY)
		rc = tj__list_append(t, TJ_META_CIRCLE_UNREAD, id);
	else if (rc != -ENOMEM)
		rc = 0;
	memset(b, 0, sizeof(*b));
	free(b);
	return rc;
}
