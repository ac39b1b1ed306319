/*
 * Circles on the admin's node: writing generations, finding the key to seal
 * to, and the control ops (tj_circle.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_circle.h"
#include "tj_ingest.h"
#include "tj_keyring.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_peer.h"

#define TJ__REC_CAP (TJ_CIRCLE_BODY_MAX_BYTES + 4096u)
#define TJ__SMALL_REPLY_BYTES 512u

/* ---- writing ---------------------------------------------------------------- */

/* Makes a generation with a fresh key and writes it in one transaction; pushes it to peers. */
static int tj__write_generation(struct tj_node *n, const uint8_t nonce[16], const char *name,
                                uint64_t generation, const uint8_t (*members)[32], uint32_t n_members,
                                uint8_t circle_id[32], uint8_t record_id[32])
{
	struct tj_circle_body *b = malloc(sizeof(*b));
	uint8_t *key = sodium_malloc(32), *body = malloc(TJ_CIRCLE_BODY_MAX_BYTES),
	        *rec = malloc(TJ__REC_CAP);
	char x[TJ_LOG_HEX_CHARS];
	size_t body_len = 0;
	struct tj_txn t;
	int rc;

	if (b == NULL || key == NULL || body == NULL || rec == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_secretbox_keygen(key);
	if ((rc = tj_circle_body_make(b, n->network_id, n->u->id->pk, nonce, name, generation, key, members,
	                              n_members)) != 0 ||
	    (rc = tj_circle_body_encode(b, body, TJ_CIRCLE_BODY_MAX_BYTES, &body_len)) != 0)
		goto out;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		goto out;
	if ((rc = tj_node_write_txn(n, &t, TJ_KIND_CIRCLE, body, body_len, rec, TJ__REC_CAP, record_id)) == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	if (rc == 0) {
		memcpy(circle_id, b->circle_id, 32);
		tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])record_id, 1);
		TJ_LOG_I("circle", "circle %s generation %llu written: %u member%s", tj_log_hex(circle_id, x),
		         (unsigned long long)generation, b->n_members, b->n_members == 1 ? "" : "s");
	}
out:
	sodium_free(key);
	if (b != NULL)
		sodium_memzero(b, sizeof(*b)); /* names: the network's plaintext */
	if (body != NULL)
		sodium_memzero(body, TJ_CIRCLE_BODY_MAX_BYTES);
	free(b);
	free(body);
	free(rec);
	return rc;
}

/* Is every key a current member of the network? The first that is not in who. */
static int tj__all_members(struct tj_node *n, const uint8_t (*keys)[32], uint32_t k, uint8_t who[32])
{
	struct tj_txn t;
	int rc;

	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	for (uint32_t i = 0; i < k && rc == 0; i++) {
		if (!tj_member_txn_is_member(&t, keys[i])) {
			memcpy(who, keys[i], 32);
			rc = TJ_ENOTMEMBER;
		}
	}
	tj_txn_abort(&t);
	return rc;
}

int tj_circle_create(struct tj_node *n, const char *name, const uint8_t (*members)[32], uint32_t n_members,
                     uint8_t circle_id[32], uint8_t record_id[32], uint8_t who[32])
{
	struct tj_circle_state *s = NULL;
	const struct tj_circle *c;
	uint8_t nonce[TJ_CIRCLE_NONCE_BYTES];
	int rc;

	if (!n->has_network)
		return TJ_ESTATE;
	if (!tj_circle_name_ok(name, strlen(name)))
		return TJ_EMALFORMED;
	if (n_members > TJ_CIRCLE_MEMBERS_MAX)
		return TJ_ELIMIT;
	if ((rc = tj__all_members(n, members, n_members, who)) != 0)
		return rc;
	if ((rc = tj_circle_load(n, &s)) != 0)
		return rc;
	rc = tj_circle_find(s, name, n->u->id->pk, &c);
	tj_circle_state_free(s);
	if (rc != TJ_ENOTFOUND)
		return rc == 0 ? TJ_EEXIST : rc;
	randombytes_buf(nonce, sizeof(nonce));
	return tj__write_generation(n, nonce, name, 1, members, n_members, circle_id, record_id);
}

/* The members of c with pk added or removed, into out (*k of them). */
static int tj__changed_members(const struct tj_circle *c, const uint8_t me[32], const uint8_t pk[32],
                               bool add, uint8_t (*out)[32], uint32_t *k)
{
	bool present = false;

	*k = 0;
	for (uint32_t i = 0; i < c->n_members; i++) {
		if (memcmp(c->members[i], pk, 32) == 0) {
			present = true;
			if (!add)
				continue;
		}
		memcpy(out[(*k)++], c->members[i], 32);
	}
	if (add && present)
		return TJ_EEXIST;
	if (!add && !present)
		return TJ_ENOTFOUND;
	if (!add && memcmp(pk, me, 32) == 0)
		return TJ_ESTATE;
	if (add) {
		if (*k >= TJ_CIRCLE_MEMBERS_MAX)
			return TJ_ELIMIT;
		memcpy(out[(*k)++], pk, 32);
	}
	return 0;
}

int tj_circle_change(struct tj_node *n, const char *name, const uint8_t pk[32], bool add,
                     uint8_t circle_id[32], uint8_t record_id[32], uint64_t *generation)
{
	struct tj_circle_state *s = NULL;
	const struct tj_circle *c;
	uint8_t(*members)[32] = NULL, who[32];
	uint32_t k = 0;
	int rc;

	if (!n->has_network)
		return TJ_ESTATE;
	if ((rc = tj_circle_load(n, &s)) != 0)
		return rc;
	if ((rc = tj_circle_find(s, name, n->u->id->pk, &c)) != 0)
		goto out;
	if ((members = calloc(TJ_CIRCLE_MEMBERS_MAX, 32)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tj__changed_members(c, n->u->id->pk, pk, add, members, &k)) != 0)
		goto out;
	/* Ingest refuses a generation naming a non-member: the admin removes those first. */
	if ((rc = tj__all_members(n, (const uint8_t(*)[32])members, k, who)) != 0)
		goto out;
	*generation = c->generation + 1;
	rc = tj__write_generation(n, c->nonce, c->name, c->generation + 1, (const uint8_t(*)[32])members, k,
	                          circle_id, record_id);
out:
	free(members);
	tj_circle_state_free(s);
	return rc;
}

int tj_circle_seal_key(struct tj_node *n, const char *name, const struct tj_sym_key **key,
                       uint8_t circle_id[32], uint8_t who[32])
{
	struct tj_circle_state *s = NULL;
	const struct tj_circle *c;
	int rc;

	*key = NULL;
	if (!n->has_network)
		return TJ_ESTATE;
	if ((rc = tj_circle_load(n, &s)) != 0)
		return rc;
	if ((rc = tj_circle_find(s, name, NULL, &c)) != 0)
		goto out;
	if ((rc = tj__all_members(n, (const uint8_t(*)[32])c->members, c->n_members, who)) != 0)
		goto out;
	rc = TJ_ENOKEY;
	for (uint32_t i = 0; i < n->keyring->n_circles; i++) {
		if (sodium_memcmp(n->keyring->circles[i].id, c->key_id, 32) == 0) {
			*key = &n->keyring->circles[i];
			memcpy(circle_id, c->id, 32);
			rc = 0;
		}
	}
out:
	tj_circle_state_free(s);
	return rc;
}

/* ---- control ops ------------------------------------------------------------ */

/* {ok, circle, record, generation} */
static int tj__written_reply(struct tj_ctl_reply *out, const uint8_t circle[32], const uint8_t record[32],
                             uint64_t generation)
{
	uint8_t *buf = malloc(TJ__SMALL_REPLY_BYTES);
	struct tj_mp_writer w;

	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, TJ__SMALL_REPLY_BYTES - 4);
	tj_mp_put_map(&w, 4);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "circle");
	tj_mp_put_bin(&w, circle, 32);
	tj_mp_put_cstr(&w, "record");
	tj_mp_put_bin(&w, record, 32);
	tj_mp_put_cstr(&w, "generation");
	tj_mp_put_uint(&w, generation);
	return tj_ctl_reply_finish(&w, buf, TJ__SMALL_REPLY_BYTES, out, NULL);
}

static int tj__arg_members(const uint8_t *req, size_t len, uint8_t (*keys)[32], uint32_t *n)
{
	struct tj_mp_reader r;
	int rc = tj_ctl_arg(req, len, "members", &r);

	*n = 0;
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0 || (rc = tj_mp_read_array(&r, n)) != 0)
		return rc;
	if (*n > TJ_CIRCLE_MEMBERS_MAX)
		return TJ_ELIMIT;
	for (uint32_t i = 0; i < *n; i++)
		if ((rc = tj_mp_read_bin_exact(&r, keys[i], 32)) != 0)
			return rc;
	return 0;
}

static int tj__create_fail(struct tj_ctl_reply *out, int rc, const uint8_t who[32])
{
	char h[65];

	switch (rc) {
	case TJ_ENOTMEMBER:
		tj_hex(who, 32, h);
		return tj_ctl_failf(out, rc, "%s is not a member of the network", h);
	case TJ_EEXIST:
		return tj_ctl_failf(out, rc, "this node already administers a circle of that name");
	case TJ_ELIMIT:
		return tj_ctl_failf(out, rc, "a circle has at most %d members, this node included",
		                    TJ_CIRCLE_MEMBERS_MAX);
	case -EINVAL:
		return tj_ctl_failf(out, TJ_EMALFORMED, "a member is named twice");
	case TJ_ECRYPTO:
		return tj_ctl_failf(out, rc, "a member key is not a valid public key");
	default:
		return tj_ctl_failf(out, rc, "nothing was written: %s", tj_strerror(rc));
	}
}

int tj_circle_ctl_create(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	uint8_t(*keys)[32] = NULL, circle[32], record[32], who[32];
	char name[TJ_CIRCLE_NAME_MAX + 1];
	uint32_t n = 0;
	int rc;

	if (tj_ctl_arg_str(req, len, "name", name, sizeof(name)) != 0 ||
	    !tj_circle_name_ok(name, strlen(name)))
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "circle_create: 'name' must be 1 to %d bytes of text without commas",
		                    TJ_CIRCLE_NAME_MAX);
	if ((keys = calloc(TJ_CIRCLE_MEMBERS_MAX, 32)) == NULL)
		return -ENOMEM;
	rc = tj__arg_members(req, len, keys, &n);
	if (rc == TJ_ELIMIT)
		rc = tj_ctl_failf(out, rc, "circle create: a circle has at most %d members",
		                  TJ_CIRCLE_MEMBERS_MAX);
	else if (rc != 0)
		rc = tj_ctl_failf(out, TJ_EMALFORMED,
		                  "circle_create: 'members' must be an array of keys (bin 32)");
	else if (node == NULL || !node->has_network)
		rc = tj_ctl_failf(out, TJ_ESTATE, "circle_create: this node is not in a network");
	else if ((rc = tj_circle_create(node, name, (const uint8_t(*)[32])keys, n, circle, record, who)) == 0)
		rc = tj__written_reply(out, circle, record, 1);
	else
		rc = tj__create_fail(out, rc, who);
	free(keys);
	return rc;
}

static int tj__change_fail(struct tj_ctl_reply *out, int rc)
{
	switch (rc) {
	case TJ_ENOTFOUND:
		return tj_ctl_failf(out, rc,
		                    "no circle of that name is administered by this node, or the key "
		                    "is not in it (`tejido circle list`)");
	case TJ_EEXIST:
		return tj_ctl_failf(out, rc, "that organization is in the circle already");
	case TJ_ESTATE:
		return tj_ctl_failf(out, rc, "the admin cannot leave its own circle");
	case TJ_ENOTMEMBER:
		return tj_ctl_failf(out, rc,
		                    "the circle would name an organization that is not a member of "
		                    "the network; remove it from the circle first");
	case TJ_ELIMIT:
		return tj_ctl_failf(out, rc, "a circle has at most %d members", TJ_CIRCLE_MEMBERS_MAX);
	case TJ_ECRYPTO:
		return tj_ctl_failf(out, rc, "the key is not a valid public key");
	default:
		return tj_ctl_failf(out, rc, "nothing was written: %s", tj_strerror(rc));
	}
}

int tj_circle_ctl_change(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	char name[TJ_CIRCLE_NAME_MAX + 1], action[8];
	uint8_t pk[32], circle[32], record[32];
	struct tj_mp_reader r;
	uint64_t gen = 0;
	bool add;
	int rc;

	if (tj_ctl_arg_str(req, len, "name", name, sizeof(name)) != 0 || name[0] == '\0')
		return tj_ctl_failf(out, TJ_EMALFORMED, "circle_change: needs 'name' (str)");
	if (tj_ctl_arg(req, len, "public_key", &r) != 0 || tj_mp_read_bin_exact(&r, pk, 32) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "circle_change: 'public_key' must be bin 32");
	if (tj_ctl_arg_str(req, len, "action", action, sizeof(action)) != 0 ||
	    (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0))
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "circle_change: 'action' must be \"add\" or \"remove\"");
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "circle_change: this node is not in a network");
	add = strcmp(action, "add") == 0;
	if ((rc = tj_circle_change(node, name, pk, add, circle, record, &gen)) != 0)
		return tj__change_fail(out, rc);
	return tj__written_reply(out, circle, record, gen);
}

static void tj__put_circle(struct tj_mp_writer *w, struct tj_txn *t, const struct tj_circle *c,
                           const uint8_t me[32])
{
	uint32_t departed = 0;

	for (uint32_t i = 0; i < c->n_members; i++)
		departed += !tj_member_txn_is_member(t, c->members[i]);
	tj_mp_put_map(w, 9);
	tj_mp_put_cstr(w, "id");
	tj_mp_put_bin(w, c->id, 32);
	tj_mp_put_cstr(w, "name");
	tj_mp_put_cstr(w, c->name);
	tj_mp_put_cstr(w, "admin");
	tj_mp_put_bin(w, c->admin, 32);
	tj_mp_put_cstr(w, "generation");
	tj_mp_put_uint(w, c->generation);
	tj_mp_put_cstr(w, "members");
	tj_mp_put_array(w, c->n_members);
	for (uint32_t i = 0; i < c->n_members; i++)
		tj_mp_put_bin(w, c->members[i], 32);
	tj_mp_put_cstr(w, "member");
	tj_mp_put_bool(w, c->is_member);
	tj_mp_put_cstr(w, "holds_key");
	tj_mp_put_bool(w, c->holds_key);
	tj_mp_put_cstr(w, "admin_here");
	tj_mp_put_bool(w, memcmp(c->admin, me, 32) == 0);
	/* Members no longer in the network: nothing is sealed to the circle until its admin removes them. */
	tj_mp_put_cstr(w, "departed");
	tj_mp_put_array(w, departed);
	for (uint32_t i = 0; i < c->n_members; i++)
		if (!tj_member_txn_is_member(t, c->members[i]))
			tj_mp_put_bin(w, c->members[i], 32);
}

int tj_circle_ctl_list(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_circle_state *s = NULL;
	struct tj_mp_writer w;
	struct tj_txn t;
	size_t cap = 64;
	uint8_t *buf;
	int rc;

	(void)req;
	(void)len;
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "circle_list: this node is not in a network");
	if ((rc = tj_circle_load(node, &s)) != 0)
		return tj_ctl_failf(out, rc, "circle_list: cannot derive the circles: %s", tj_strerror(rc));
	for (size_t i = 0; i < s->n; i++)
		cap += 256 + 70u * s->circles[i].n_members;
	if ((buf = malloc(cap)) == NULL) {
		tj_circle_state_free(s);
		return -ENOMEM;
	}
	if ((rc = tj_txn_begin(node->store, false, &t)) != 0) {
		free(buf);
		tj_circle_state_free(s);
		return tj_ctl_failf(out, rc, "circle_list: cannot read the membership: %s", tj_strerror(rc));
	}
	tj_mp_writer_init(&w, buf + 4, cap - 4);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "circles");
	tj_mp_put_array(&w, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++)
		tj__put_circle(&w, &t, &s->circles[i], node->u->id->pk);
	tj_txn_abort(&t);
	tj_circle_state_free(s);
	return tj_ctl_reply_finish(&w, buf, cap, out, NULL);
}
