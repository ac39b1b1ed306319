/*
 * Writing membership records on a steward's node, and the member_add /
 * member_list control ops (tj_member.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_ctl_server.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_peer.h"
#include "tj_rotate.h"
#include "tj_seal.h"
#include "tj_welcome.h"

#define TJ__REC_CAP (TJ_MEMBER_BODY_MAX_BYTES + 1024u)
#define TJ__SMALL_REPLY_BYTES 4096u

/* ---- writing records ------------------------------------------------------- */

static int tj__write(struct tj_node *n, uint8_t kind, const uint8_t *body, size_t body_len, uint8_t id[32])
{
	uint8_t rec[TJ__REC_CAP];
	struct tj_txn t;
	int rc;

	if (!n->has_network || !tj_member_is_member(n->store, n->u->id->pk))
		return TJ_ESTATE;
	if ((rc = tj_txn_begin(n->store, true, &t)) != 0)
		return rc;
	rc = tj_node_write_txn(n, &t, kind, body, body_len, rec, TJ__REC_CAP, id);
	if (rc == 0)
		rc = tj_txn_commit(&t);
	tj_txn_abort(&t);
	if (rc == 0)
		tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])id, 1);
	return rc;
}

int tj_member_propose(struct tj_node *n, const struct tj_member_body *b, uint8_t id[32])
{
	uint8_t body[TJ_MEMBER_BODY_MAX_BYTES];
	size_t len = 0;
	int rc;

	if ((rc = tj_member_body_encode(b, body, sizeof(body), &len)) == 0)
		rc = tj__write(n, TJ_KIND_MEMBER, body, len, id);
	sodium_memzero(body, sizeof(body));
	return rc;
}

int tj_member_approve(struct tj_node *n, const uint8_t proposal[32], uint8_t id[32])
{
	uint8_t body[64];
	size_t len = 0;
	int rc;

	if ((rc = tj_approval_body_encode(proposal, body, sizeof(body), &len)) == 0)
		rc = tj__write(n, TJ_KIND_APPROVAL, body, len, id);
	return rc;
}

/* ---- control ops ----------------------------------------------------------- */

/* Optional string argument: absent is fine, anything else wrong is not. */
static bool tj__opt_str(const uint8_t *req, size_t len, const char *key, char *out, size_t cap)
{
	int rc = tj_ctl_arg_str(req, len, key, out, cap);

	return rc == 0 || rc == TJ_ENOTFOUND;
}

/* member_add's arguments into b (and the optional address into self). */
static int tj__parse_add(const uint8_t *req, size_t len, struct tj_member_body *b,
                         struct tj_welcome_peer *self, bool *has_self, const char **why)
{
	char role[16], states[160], addr[TJ_WELCOME_HOST_MAX + 10];
	struct tj_mp_reader r;

	memset(b, 0, sizeof(*b));
	b->action = TJ_MEMBER_ADMIT;
	*why = "member_add: 'public_key' must be a valid Ed25519 public key (bin 32)";
	if (tj_ctl_arg(req, len, "public_key", &r) != 0 || tj_mp_read_bin_exact(&r, b->subject, 32) != 0 ||
	    crypto_core_ed25519_is_valid_point(b->subject) != 1)
		return TJ_EMALFORMED;
	*why = "member_add: 'name' must be 1 to 64 bytes without control characters";
	if (tj_ctl_arg_str(req, len, "name", b->name, sizeof(b->name)) != 0 || b->name[0] == '\0')
		return TJ_EMALFORMED;
	*why = "member_add: 'role' must be member, steward or contact";
	if (!tj__opt_str(req, len, "role", role, sizeof(role)) ||
	    (role[0] != '\0' && tj_member_role_parse(role, &b->role) != 0))
		return TJ_EMALFORMED;
	*why = "member_add: 'states' must be 2-digit INEGI state codes 01 to 32, comma-separated, no repeats";
	if (!tj__opt_str(req, len, "states", states, sizeof(states)) ||
	    tj_member_states_parse(states, b) != 0)
		return TJ_EMALFORMED;
	*why = "member_add: 'reason' must be at most 200 bytes without control characters";
	if (!tj__opt_str(req, len, "reason", b->reason, sizeof(b->reason)))
		return TJ_EMALFORMED;
	*why = "member_add: 'address' must be HOST:PORT with a numeric host";
	if (!tj__opt_str(req, len, "address", addr, sizeof(addr)))
		return TJ_EMALFORMED;
	*has_self = addr[0] != '\0';
	if (*has_self && tj_peer_parse_addr(addr, false, self->host, &self->port) != 0)
		return TJ_EMALFORMED;
	return 0;
}

/* This node's address for the welcome: the one asked for, else the peer listener's if it is specific. */
static bool tj__self(struct tj_node *n, struct tj_welcome_peer *self, bool has_self)
{
	const struct tj_peers *P = tj_peers_active();
	const char *listen = P != NULL ? tj_peers_listen_addr(P) : "";

	if (!has_self &&
	    (listen[0] == '\0' || tj_peer_parse_addr(listen, false, self->host, &self->port) != 0 ||
	     strcmp(self->host, "0.0.0.0") == 0 || strcmp(self->host, "::") == 0))
		return false;
	memcpy(self->pk, n->u->id->pk, 32);
	snprintf(self->name, sizeof(self->name), "%s", "steward");
	return true;
}

static int tj__add_reply(struct tj_ctl_reply *out, const uint8_t *proposal, bool member, uint32_t needed,
                         const uint8_t *welcome, size_t welcome_len)
{
	size_t cap = TJ__SMALL_REPLY_BYTES + welcome_len;
	uint8_t *buf = malloc(cap);
	struct tj_mp_writer w;

	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, cap - 4);
	tj_mp_put_map(&w, 5);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "proposal");
	if (proposal != NULL)
		tj_mp_put_bin(&w, proposal, 32);
	else
		tj_mp_put_nil(&w);
	tj_mp_put_cstr(&w, "member");
	tj_mp_put_bool(&w, member);
	tj_mp_put_cstr(&w, "approvals_needed");
	tj_mp_put_uint(&w, needed);
	tj_mp_put_cstr(&w, "welcome");
	if (welcome != NULL)
		tj_mp_put_bin(&w, welcome, welcome_len);
	else
		tj_mp_put_nil(&w);
	return tj_ctl_reply_finish(&w, buf, cap, out, "member_add");
}

/* Is this node a steward now? (Derives with names: a control op's cost, not ingest's.) */
static bool tj__is_steward(struct tj_node *n)
{
	struct tj_member_state *s = NULL;
	const struct tj_member *m;
	bool yes;

	if (tj_member_load(n->store, &s) != 0)
		return false;
	m = tj_member_find(s, n->u->id->pk);
	yes = m != NULL && m->role == TJ_ROLE_STEWARD;
	tj_member_state_free(s);
	return yes;
}

static int tj__propose_fail(struct tj_ctl_reply *out, int rc)
{
	if (rc == TJ_ENOTMEMBER || rc == TJ_ESTATE)
		return tj_ctl_failf(out, TJ_ESTATE,
		                    "member_add: this node is not a steward of a network; only a "
		                    "steward's node can admit members");
	return tj_ctl_failf(out, rc, "member_add: the proposal was not stored: %s", tj_strerror(rc));
}

int tj_member_ctl_add(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_member_body b;
	struct tj_welcome_peer self = {0};
	uint8_t proposal[32], subject[32], *welcome = NULL;
	size_t welcome_len = 0;
	bool has_self = false, member, proposed = false;
	const char *why = "";
	int rc;

	if ((rc = tj__parse_add(req, len, &b, &self, &has_self, &why)) != 0) {
		sodium_memzero(&b, sizeof(b));
		return tj_ctl_error_reply(rc, why, out);
	}
	if (node == NULL || !node->has_network) {
		sodium_memzero(&b, sizeof(b));
		return tj_ctl_failf(out, TJ_ESTATE, "member_add: this node is not in a network");
	}
	memcpy(subject, b.subject, 32);
	member = tj_member_is_member(node->store, subject);
	if (!member && !tj__is_steward(node))
		rc = TJ_ESTATE; /* a former steward's proposal would be stored, and count for nothing */
	else if (!member) {
		rc = tj_member_propose(node, &b, proposal);
		proposed = rc == 0;
		member = rc == 0 && tj_member_is_member(node->store, subject);
	}
	sodium_memzero(&b, sizeof(b));
	if (rc != 0)
		return tj__propose_fail(out, rc);
	if (member)
		rc = tj_welcome_make(node, subject, tj__self(node, &self, has_self) ? &self : NULL, &welcome,
		                     &welcome_len);
	if (rc != 0)
		return tj_ctl_failf(out, rc, "member_add: the welcome could not be made: %s",
		                    tj_strerror(rc));
	rc = tj__add_reply(out, proposed ? proposal : NULL, member, member ? 0 : node->stewards_threshold - 1,
	                   welcome, welcome_len);
	free(welcome);
	return rc;
}

static void tj__put_member(struct tj_mp_writer *w, const struct tj_member *m)
{
	char fp[TJ_FINGERPRINT_CHARS];

	tj_fingerprint(m->pk, fp);
	tj_mp_put_map(w, 6);
	tj_mp_put_cstr(w, "public_key");
	tj_mp_put_bin(w, m->pk, 32);
	tj_mp_put_cstr(w, "fingerprint");
	tj_mp_put_cstr(w, fp);
	tj_mp_put_cstr(w, "name");
	tj_mp_put_cstr(w, m->name);
	tj_mp_put_cstr(w, "role");
	tj_mp_put_cstr(w, tj_member_role_name(m->role));
	tj_mp_put_cstr(w, "states");
	tj_mp_put_array(w, m->n_states);
	for (uint32_t i = 0; i < m->n_states; i++)
		tj_mp_put_str(w, m->states[i], 2);
	tj_mp_put_cstr(w, "since");
	tj_mp_put_uint(w, m->since_ms);
}

static void tj__put_pending(struct tj_mp_writer *w, const struct tj_member_pending *p)
{
	tj_mp_put_map(w, 6);
	tj_mp_put_cstr(w, "proposal");
	tj_mp_put_bin(w, p->id, 32);
	tj_mp_put_cstr(w, "action");
	tj_mp_put_cstr(w, tj_member_action_name(p->action));
	tj_mp_put_cstr(w, "subject");
	tj_mp_put_bin(w, p->subject, 32);
	tj_mp_put_cstr(w, "role");
	tj_mp_put_cstr(w, tj_member_role_name(p->role));
	tj_mp_put_cstr(w, "ts");
	tj_mp_put_uint(w, p->ts_ms);
	tj_mp_put_cstr(w, "approvals");
	tj_mp_put_array(w, p->n_appr);
	for (uint32_t i = 0; i < p->n_appr; i++)
		tj_mp_put_bin(w, p->appr[i], 32);
}

int tj_member_ctl_list(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_member_state *s = NULL;
	struct tj_mp_writer w;
	size_t cap;
	uint8_t *buf;
	int rc;

	(void)req;
	(void)len;
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "member_list: this node is not in a network");
	if ((rc = tj_member_load(node->store, &s)) != 0)
		return tj_ctl_failf(out, rc, "member_list: cannot derive the membership: %s",
		                    tj_strerror(rc));
	cap = 64 + s->n * 256 + s->n_pending * (200 + TJ_MEMBER_PENDING_APPR_MAX * 40);
	if ((buf = malloc(cap)) == NULL) {
		tj_member_state_free(s);
		return -ENOMEM;
	}
	tj_mp_writer_init(&w, buf + 4, cap - 4);
	tj_mp_put_map(&w, 4);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "threshold");
	tj_mp_put_uint(&w, s->threshold);
	tj_mp_put_cstr(&w, "members");
	tj_mp_put_array(&w, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++)
		tj__put_member(&w, &s->members[i]);
	tj_mp_put_cstr(&w, "pending");
	tj_mp_put_array(&w, (uint32_t)s->n_pending);
	for (size_t i = 0; i < s->n_pending; i++)
		tj__put_pending(&w, &s->pending[i]);
	tj_member_state_free(s);
	return tj_ctl_reply_finish(&w, buf, cap, out, "member_list");
}

/* {ok, key: bin 32, took_effect: bool} */
static int tj__id_reply(struct tj_ctl_reply *out, const char *key, const uint8_t id[32], bool took_effect)
{
	uint8_t *buf = malloc(TJ__SMALL_REPLY_BYTES);
	struct tj_mp_writer w;

	if (buf == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, TJ__SMALL_REPLY_BYTES - 4);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, key);
	tj_mp_put_bin(&w, id, 32);
	tj_mp_put_cstr(&w, "took_effect");
	tj_mp_put_bool(&w, took_effect);
	return tj_ctl_reply_finish(&w, buf, TJ__SMALL_REPLY_BYTES, out, NULL);
}

/*
 * Is proposal p pending now (a copy of it in *out when so)? *effect: when it
 * is not pending, whether the state is what p asked for (it took effect
 * rather than being found void).
 */
static int tj__pending_find(struct tj_node *n, const uint8_t p[32], bool *pending, struct tj_member_pending *out,
                            bool *effect)
{
	struct tj_member_state *s = NULL;
	const struct tj_member *m;
	int rc = tj_member_load(n->store, &s);

	*pending = false;
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < s->n_pending && !*pending; i++) {
		if (memcmp(s->pending[i].id, p, 32) == 0) {
			*pending = true;
			if (out != NULL)
				*out = s->pending[i];
		}
	}
	if (!*pending && out != NULL && effect != NULL) {
		m = tj_member_find(s, out->subject);
		*effect = out->action == TJ_MEMBER_REMOVE ? m == NULL : m != NULL && m->role == out->role;
	}
	tj_member_state_free(s);
	return 0;
}

int tj_member_ctl_approve(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_mp_reader r;
	uint8_t proposal[32], id[32];
	struct tj_member_pending p;
	bool pending = false, still = false, effect = false;
	uint64_t epoch = 0;
	int rc;

	if (tj_ctl_arg(req, len, "proposal", &r) != 0 || tj_mp_read_bin_exact(&r, proposal, 32) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "member_approve: 'proposal' must be a record id (bin 32)");
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "member_approve: this node is not in a network");
	if (!tj__is_steward(node))
		return tj_ctl_failf(out, TJ_ESTATE,
		                    "member_approve: this node is not a steward; only stewards approve");
	if ((rc = tj__pending_find(node, proposal, &pending, &p, NULL)) != 0)
		return tj_ctl_failf(out, rc, "member_approve: cannot derive the membership: %s",
		                    tj_strerror(rc));
	if (!pending)
		return tj_ctl_failf(
		    out, TJ_ENOTFOUND,
		    "member_approve: no such pending proposal here (unknown, already in effect or "
		    "void; `tejido member list` shows the pending ones)");
	if ((rc = tj_member_approve(node, proposal, id)) != 0)
		return tj_ctl_failf(out, rc, "member_approve: the approval was not stored: %s",
		                    tj_strerror(rc));
	if ((rc = tj__pending_find(node, proposal, &still, &p, &effect)) != 0)
		return tj_ctl_failf(out, rc, "member_approve: cannot derive the membership: %s",
		                    tj_strerror(rc));
	/* A removal that took effect here, by this approval: new keys for the members who remain. */
	if (!still && effect && p.action == TJ_MEMBER_REMOVE && (rc = tj_rotate(node, TJ_ROTATE_CHANGEOVER_MS, &epoch)) != 0)
		return tj_ctl_failf(
		    out, rc, "member_approve: the removal took effect but the keys were not rotated: %s",
		    tj_strerror(rc));
	return tj__id_reply(out, "approval", id, !still && effect);
}

int tj_member_ctl_remove(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_member_body b;
	struct tj_mp_reader r;
	uint8_t id[32], subject[32];
	bool still = false, effect;
	uint64_t epoch = 0;
	int rc;

	memset(&b, 0, sizeof(b));
	b.action = TJ_MEMBER_REMOVE;
	if (tj_ctl_arg(req, len, "public_key", &r) != 0 || tj_mp_read_bin_exact(&r, b.subject, 32) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "member_remove: 'public_key' must be bin 32");
	if (tj_ctl_arg_str(req, len, "reason", b.reason, sizeof(b.reason)) != 0 || b.reason[0] == '\0')
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "member_remove: 'reason' must be a code of 1 to 200 bytes");
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "member_remove: this node is not in a network");
	if (!tj_member_is_member(node->store, b.subject))
		return tj_ctl_failf(out, TJ_ENOTFOUND, "member_remove: that key is not a member");
	if (!tj__is_steward(node))
		return tj_ctl_failf(out, TJ_ESTATE,
		                    "member_remove: this node is not a steward; only stewards remove");
	memcpy(subject, b.subject, 32);
	rc = tj_member_propose(node, &b, id);
	sodium_memzero(&b, sizeof(b));
	if (rc != 0)
		return tj_ctl_failf(out, rc, "member_remove: the proposal was not stored: %s",
		                    tj_strerror(rc));
	if ((rc = tj__pending_find(node, id, &still, NULL, NULL)) != 0)
		return tj_ctl_failf(out, rc, "member_remove: cannot derive the membership: %s",
		                    tj_strerror(rc));
	effect = !still && !tj_member_is_member(node->store, subject);
	if (effect && (rc = tj_rotate(node, TJ_ROTATE_CHANGEOVER_MS, &epoch)) != 0)
		return tj_ctl_failf(
		    out, rc, "member_remove: the removal took effect but the keys were not rotated: %s",
		    tj_strerror(rc));
	return tj__id_reply(out, "proposal", id, effect);
}

int tj_member_ctl_rotate(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	uint8_t *buf;
	struct tj_mp_writer w;
	uint64_t epoch = 0;
	int rc;

	struct tj_mp_reader r;
	uint64_t changeover_s = TJ_ROTATE_CHANGEOVER_MS / 1000;

	rc = tj_ctl_arg(req, len, "changeover_s", &r);
	if ((rc != 0 && rc != TJ_ENOTFOUND) || (rc == 0 && tj_mp_read_uint(&r, &changeover_s) != 0) ||
	    changeover_s > 30ull * 24 * 3600)
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "network_rotate: 'changeover_s' must be 0 to 2592000 seconds");
	if (node == NULL || !node->has_network)
		return tj_ctl_failf(out, TJ_ESTATE, "network_rotate: this node is not in a network");
	if ((rc = tj_rotate(node, changeover_s * 1000, &epoch)) == TJ_ESTATE)
		return tj_ctl_failf(out, rc,
		                    "network_rotate: this node is not a steward; only stewards rotate keys");
	if (rc != 0)
		return tj_ctl_failf(out, rc, "network_rotate: the keys were not rotated: %s",
		                    tj_strerror(rc));
	if ((buf = malloc(TJ__SMALL_REPLY_BYTES)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, TJ__SMALL_REPLY_BYTES - 4);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "epoch");
	tj_mp_put_uint(&w, epoch);
	return tj_ctl_reply_finish(&w, buf, TJ__SMALL_REPLY_BYTES, out, NULL);
}
