/*
 * Membership bodies and the derivation of the membership state (tj_member.h):
 * pure, in memory; the store side is tj_member_store.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_log.h"
#include "tj_member.h"
#include "tj_mp.h"
#include "tj_node_core.h"
#include "tj_seal.h"

#define TJ__GENESIS_PLAIN_BYTES 2048u

static const struct tj_mp_limits tj__body_limits = {
    .max_depth = 2,
    .max_items = 8 + TJ_MEMBER_STATES_MAX,
    .max_str = TJ_MEMBER_REASON_MAX,
    .canonical = true,
};

static const char *const tj__actions[] = {"admit", "remove", "role"};
static const char *const tj__roles[] = {"member", "steward", "contact"};

/* ---- names and codecs ------------------------------------------------------ */

int tj_member_role_parse(const char *s, uint8_t *role)
{
	for (uint8_t i = 0; i < 3; i++) {
		if (strcmp(s, tj__roles[i]) == 0) {
			*role = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *tj_member_role_name(uint8_t role)
{
	return role < 3 ? tj__roles[role] : "unknown";
}

const char *tj_member_action_name(uint8_t action)
{
	return action < 3 ? tj__actions[action] : "unknown";
}

static bool tj__state_ok(const char *s, size_t len)
{
	int v;

	if (len != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return false;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= 1 && v <= 32;
}

/* Inserts code in b's sorted list; -EINVAL for a bad or repeated code. */
static int tj__state_add(struct tj_member_body *b, const char *s, size_t len)
{
	uint32_t i;

	if (!tj__state_ok(s, len) || b->n_states >= TJ_MEMBER_STATES_MAX)
		return -EINVAL;
	for (i = 0; i < b->n_states && memcmp(b->states[i], s, 2) < 0; i++)
		;
	if (i < b->n_states && memcmp(b->states[i], s, 2) == 0)
		return -EINVAL;
	memmove(b->states[i + 1], b->states[i], (size_t)(b->n_states - i) * 3);
	memcpy(b->states[i], s, 2);
	b->states[i][2] = '\0';
	b->n_states++;
	return 0;
}

int tj_member_states_parse(const char *s, struct tj_member_body *b)
{
	const char *p = s;
	int rc;

	b->n_states = 0;
	if (s == NULL || *s == '\0')
		return 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		if ((rc = tj__state_add(b, p, len)) != 0)
			return rc;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* Free text of at most max bytes: no NUL, no control characters. */
static bool tj__text_ok(const char *s, size_t len, size_t max, bool nonempty)
{
	if (len > max || (nonempty && len == 0))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int tj_member_body_encode(const struct tj_member_body *b, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;
	size_t nlen = strlen(b->name), rlen = strlen(b->reason);

	if (b->action > TJ_MEMBER_ROLE || b->role > TJ_ROLE_CONTACT || b->n_states > TJ_MEMBER_STATES_MAX ||
	    !tj__text_ok(b->name, nlen, TJ_MEMBER_NAME_MAX, b->action == TJ_MEMBER_ADMIT) ||
	    !tj__text_ok(b->reason, rlen, TJ_MEMBER_REASON_MAX, false))
		return -EINVAL;
	for (uint32_t i = 0; i < b->n_states; i++)
		if (!tj__state_ok(b->states[i], strlen(b->states[i])) ||
		    (i > 0 && memcmp(b->states[i - 1], b->states[i], 2) >= 0))
			return -EINVAL;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 6);
	tj_mp_put_cstr(&w, tj__actions[b->action]);
	tj_mp_put_bin(&w, b->subject, 32);
	tj_mp_put_str(&w, b->name, nlen);
	tj_mp_put_cstr(&w, tj__roles[b->role]);
	tj_mp_put_array(&w, b->n_states);
	for (uint32_t i = 0; i < b->n_states; i++)
		tj_mp_put_str(&w, b->states[i], 2);
	tj_mp_put_str(&w, b->reason, rlen);
	return tj_mp_writer_finish(&w, len);
}

/* Reads a str that must equal one of names[0..n). */
static int tj__read_enum(struct tj_mp_reader *r, const char *const *names, uint8_t n, uint8_t *out)
{
	const char *s;
	uint32_t len;
	int rc;

	if ((rc = tj_mp_read_str(r, &s, &len)) != 0)
		return rc;
	for (uint8_t i = 0; i < n; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
			*out = i;
			return 0;
		}
	}
	return TJ_EMALFORMED;
}

static int tj__read_text(struct tj_mp_reader *r, char *out, size_t max, bool nonempty)
{
	const char *s;
	uint32_t len;
	int rc;

	if ((rc = tj_mp_read_str(r, &s, &len)) != 0)
		return rc;
	if (!tj__text_ok(s, len, max, nonempty))
		return TJ_EMALFORMED;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int tj__read_states(struct tj_mp_reader *r, struct tj_member_body *b)
{
	const char *s;
	uint32_t n, len;
	int rc;

	if ((rc = tj_mp_read_array(r, &n)) != 0)
		return rc;
	if (n > TJ_MEMBER_STATES_MAX)
		return TJ_ELIMIT;
	b->n_states = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_str(r, &s, &len)) != 0)
			return rc;
		/* Canonical: ascending and distinct, so one list has one encoding. */
		if (!tj__state_ok(s, len) || (i > 0 && memcmp(b->states[i - 1], s, 2) >= 0))
			return TJ_EMALFORMED;
		memcpy(b->states[i], s, 2);
		b->states[i][2] = '\0';
		b->n_states++;
	}
	return 0;
}

int tj_member_body_decode(const uint8_t *buf, size_t len, struct tj_member_body *b)
{
	struct tj_mp_reader r;
	uint32_t n;
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = tj_mp_check(buf, len, &tj__body_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n != 6)
		return TJ_EMALFORMED;
	if ((rc = tj__read_enum(&r, tj__actions, 3, &b->action)) != 0 ||
	    (rc = tj_mp_read_bin_exact(&r, b->subject, 32)) != 0 ||
	    (rc = tj__read_text(&r, b->name, TJ_MEMBER_NAME_MAX, false)) != 0 ||
	    (rc = tj__read_enum(&r, tj__roles, 3, &b->role)) != 0 || (rc = tj__read_states(&r, b)) != 0 ||
	    (rc = tj__read_text(&r, b->reason, TJ_MEMBER_REASON_MAX, false)) != 0)
		goto fail;
	if (b->action == TJ_MEMBER_ADMIT && b->name[0] == '\0') {
		rc = TJ_EMALFORMED; /* an admission names who it admits */
		goto fail;
	}
	return 0;
fail:
	sodium_memzero(b, sizeof(*b));
	return rc;
}

int tj_approval_body_encode(const uint8_t proposal[32], uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 1);
	tj_mp_put_bin(&w, proposal, 32);
	return tj_mp_writer_finish(&w, len);
}

int tj_approval_body_decode(const uint8_t *buf, size_t len, uint8_t proposal[32])
{
	struct tj_mp_reader r;
	uint32_t n;
	int rc;

	if ((rc = tj_mp_check(buf, len, &tj__body_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n != 1)
		return TJ_EMALFORMED;
	return tj_mp_read_bin_exact(&r, proposal, 32);
}

/* ---- the state ------------------------------------------------------------- */

int tj_member_state_new(struct tj_member_state **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : -ENOMEM;
}

void tj_member_state_free(struct tj_member_state *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, sizeof(*s));
	free(s);
}

const struct tj_member *tj_member_find(const struct tj_member_state *s, const uint8_t pk[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->members[i].pk, pk, 32) == 0)
			return &s->members[i];
	return NULL;
}

static struct tj_member *tj__find_mut(struct tj_member_state *s, const uint8_t pk[32])
{
	return (struct tj_member *)(uintptr_t)tj_member_find(s, pk);
}

static bool tj__is_steward(const struct tj_member_state *s, const uint8_t pk[32])
{
	const struct tj_member *m = tj_member_find(s, pk);

	return m != NULL && m->role == TJ_ROLE_STEWARD;
}

static size_t tj__n_stewards(const struct tj_member_state *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		k += s->members[i].role == TJ_ROLE_STEWARD;
	return k;
}

static void tj__note_steward(struct tj_member_state *s, const uint8_t pk[32])
{
	for (size_t i = 0; i < s->n_ever; i++)
		if (memcmp(s->stewards_ever[i], pk, 32) == 0)
			return;
	if (s->n_ever < TJ_MEMBERS_MAX)
		memcpy(s->stewards_ever[s->n_ever++], pk, 32);
}

/* ---- derivation ------------------------------------------------------------ */

/* One membership record in the canonical order. */
struct tj__event {
	uint64_t ts_ms;
	uint8_t id[32];
	uint8_t author[32];
	uint8_t kind;
	uint8_t proposal[32];       /* APPROVAL: the proposal it approves */
	struct tj_member_body body; /* MEMBER (plaintext: wiped) */
	/* derivation bookkeeping */
	bool registered; /* MEMBER: counted as a proposal */
	bool spent;      /* MEMBER: took effect or found void */
	bool used;       /* APPROVAL: counted (or dismissed) */
	uint32_t n_appr;
	uint8_t (*appr)[32]; /* MEMBER: distinct approvers (heap, up to TJ_STEWARDS_MAX) */
};

struct tj__derive {
	struct tj_member_state *s;
	struct tj__event *ev;
	size_t n_ev;
	const uint8_t *focus; /* the record just ingested: its reasons go out as warnings */
};

static int tj__event_cmp(const void *a, const void *b)
{
	const struct tj__event *x = a, *y = b;

	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

static void tj__why(const struct tj__derive *d, const struct tj__event *e, const char *why)
{
	char id[TJ_LOG_HEX_CHARS], au[TJ_LOG_HEX_CHARS];
	bool focus = d->focus != NULL && memcmp(d->focus, e->id, 32) == 0;

	d->s->ignored++;
	tj_log(focus ? TJ_LOG_WARN : TJ_LOG_DEBUG, "member", "%s %s by %s does not count: %s",
	       tj_kind_name(e->kind), tj_log_hex(e->id, id), tj_log_hex(e->author, au), why);
}

static struct tj__event *tj__proposal(struct tj__derive *d, const uint8_t id[32])
{
	for (size_t i = 0; i < d->n_ev; i++)
		if (d->ev[i].kind == TJ_KIND_MEMBER && d->ev[i].registered &&
		    memcmp(d->ev[i].id, id, 32) == 0)
			return &d->ev[i];
	return NULL;
}

/* Why applying p now would make no sense, or NULL. */
static const char *tj__void_reason(const struct tj_member_state *s, const struct tj_member_body *b)
{
	const struct tj_member *m = tj_member_find(s, b->subject);
	bool loses_steward = m != NULL && m->role == TJ_ROLE_STEWARD &&
	                     (b->action == TJ_MEMBER_REMOVE || b->role != TJ_ROLE_STEWARD);

	if (b->action == TJ_MEMBER_ADMIT && m != NULL)
		return "the subject is already a member";
	if (b->action != TJ_MEMBER_ADMIT && m == NULL)
		return "the subject is not a member";
	if (b->action == TJ_MEMBER_ADMIT && s->n >= TJ_MEMBERS_MAX)
		return "the network is full";
	if (loses_steward && tj__n_stewards(s) <= s->threshold)
		return "it would leave fewer stewards than the threshold";
	return NULL;
}

static void tj__apply(struct tj__derive *d, struct tj__event *p, uint64_t ts_ms)
{
	struct tj_member_state *s = d->s;
	const struct tj_member_body *b = &p->body;
	struct tj_member *m = tj__find_mut(s, b->subject);
	const char *why = tj__void_reason(s, b);

	p->spent = true;
	if (why != NULL) {
		tj__why(d, p, why);
		return;
	}
	if (b->action == TJ_MEMBER_REMOVE) {
		s->n_removed++;
		if (ts_ms > s->removed_ms)
			s->removed_ms = ts_ms;
		*m = s->members[--s->n];
		memset(&s->members[s->n], 0, sizeof(s->members[0]));
	} else {
		if (b->action == TJ_MEMBER_ADMIT) {
			m = &s->members[s->n++];
			memcpy(m->pk, b->subject, 32);
			memcpy(m->name, b->name, sizeof(m->name));
			memcpy(m->proposal, p->id, 32);
			m->since_ms = ts_ms;
		}
		m->role = b->role;
		m->n_states = b->n_states;
		memcpy(m->states, b->states, sizeof(m->states));
		if (b->role == TJ_ROLE_STEWARD)
			tj__note_steward(s, b->subject);
	}
	s->applied++;
}

/* Counts p's approvers who are stewards now; applies p at threshold. */
static void tj__try_apply(struct tj__derive *d, struct tj__event *p, uint64_t ts_ms)
{
	uint32_t k = 0;

	size_t need = tj__n_stewards(d->s);

	/*
	 * While fewer stewards than the threshold exist (a founder alone after
	 * `init --stewards N`), every current steward must approve: the founder
	 * admits the first stewards, then the full threshold applies.
	 */
	if (need > d->s->threshold)
		need = d->s->threshold;
	for (uint32_t i = 0; i < p->n_appr; i++)
		k += tj__is_steward(d->s, p->appr[i]);
	if (k >= need && need > 0)
		tj__apply(d, p, ts_ms);
}

/* An approval a of p (registered, not spent), evaluated now. */
static void tj__approve(struct tj__derive *d, struct tj__event *p, struct tj__event *a, uint64_t ts_ms)
{
	a->used = true;
	if (!tj__is_steward(d->s, a->author)) {
		tj__why(d, a, "its author is not a steward");
		return;
	}
	for (uint32_t i = 0; i < p->n_appr; i++) {
		if (memcmp(p->appr[i], a->author, 32) == 0) {
			tj__why(d, a, "its author already approved that proposal");
			return;
		}
	}
	if (p->n_appr >= TJ_STEWARDS_MAX) {
		tj__why(d, a, "too many approvals");
		return;
	}
	memcpy(p->appr[p->n_appr++], a->author, 32);
	tj__try_apply(d, p, ts_ms);
}

static void tj__on_proposal(struct tj__derive *d, struct tj__event *p)
{
	if (!tj__is_steward(d->s, p->author)) {
		tj__why(d, p, "its author is not a steward");
		return;
	}
	p->registered = true;
	memcpy(p->appr[p->n_appr++], p->author, 32);
	tj__try_apply(d, p, p->ts_ms);
	/* Approvals that sort before their proposal count from here. */
	for (size_t i = 0; i < d->n_ev && !p->spent; i++) {
		struct tj__event *a = &d->ev[i];
		if (a->kind == TJ_KIND_APPROVAL && !a->used && a < p && memcmp(a->proposal, p->id, 32) == 0)
			tj__approve(d, p, a, p->ts_ms);
	}
}

static void tj__on_approval(struct tj__derive *d, struct tj__event *a)
{
	struct tj__event *p = tj__proposal(d, a->proposal);

	if (p == NULL)
		return; /* held: its proposal may sort later */
	if (p->spent) {
		a->used = true;
		tj__why(d, a, "that proposal already took effect");
		return;
	}
	tj__approve(d, p, a, a->ts_ms);
}

static void tj__run(struct tj__derive *d)
{
	for (size_t i = 0; i < d->n_ev; i++) {
		if (d->ev[i].kind == TJ_KIND_MEMBER)
			tj__on_proposal(d, &d->ev[i]);
		else
			tj__on_approval(d, &d->ev[i]);
	}
	for (size_t i = 0; i < d->n_ev; i++)
		if (d->ev[i].kind == TJ_KIND_APPROVAL && !d->ev[i].used)
			tj__why(d, &d->ev[i], "it approves no proposal that counts");
}

/* The genesis: threshold and founding stewards. */
static int tj__genesis(struct tj_member_state *s, const uint8_t *enc, const struct tj_record *rec,
                       const uint8_t id[32], const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx)
{
	uint8_t plain[TJ__GENESIS_PLAIN_BYTES];
	uint8_t stewards[TJ_STEWARDS_MAX][32];
	char name[TJ_NETWORK_NAME_MAX + 1];
	size_t plen = 0, n = 0;
	int rc;

	if (rec->ciphertext_len > sizeof(plain) + 16)
		return TJ_ELIMIT;
	rc = tj_record_open(enc, rec, me, lookup, ctx, plain, sizeof(plain), &plen);
	if (rc == 0)
		rc = tj_genesis_body_decode(plain, plen, name, &s->threshold, stewards, TJ_STEWARDS_MAX, &n);
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(name, sizeof(name));
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (tj_member_find(s, stewards[i]) != NULL)
			continue;
		memcpy(s->members[s->n].pk, stewards[i], 32);
		s->members[s->n].role = TJ_ROLE_STEWARD;
		s->members[s->n].since_ms = rec->ts_ms;
		memcpy(s->members[s->n].proposal, id, 32);
		s->n++;
		tj__note_steward(s, stewards[i]);
	}
	return rc;
}

/* Opens one MEMBER / APPROVAL record into e; nonzero when it cannot count. */
static int tj__event_load(struct tj__event *e, const uint8_t *enc, const struct tj_record *rec,
                          const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx)
{
	uint8_t plain[TJ_MEMBER_BODY_MAX_BYTES];
	size_t plen = 0;
	int rc;

	if (rec->ciphertext_len > sizeof(plain) + 16)
		return TJ_ELIMIT;
	rc = tj_record_open(enc, rec, me, lookup, ctx, plain, sizeof(plain), &plen);
	if (rc == 0 && rec->kind == TJ_KIND_MEMBER)
		rc = tj_member_body_decode(plain, plen, &e->body);
	else if (rc == 0)
		rc = tj_approval_body_decode(plain, plen, e->proposal);
	sodium_memzero(plain, sizeof(plain));
	e->ts_ms = rec->ts_ms;
	e->kind = rec->kind;
	memcpy(e->author, rec->author, 32);
	return rc;
}

static void tj__events_free(struct tj__event *ev, size_t n)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(ev[i].appr);
	sodium_memzero(ev, n * sizeof(*ev));
	free(ev);
}

struct tj__derive_in {
	const uint8_t *network_id;
	const uint8_t *const *encs;
	const size_t *lens;
	size_t n;
	const struct tj_identity *me;
	tj_key_lookup_fn lookup;
	void *ctx;
};

/* Verifies and opens every record: the genesis into s, the rest into d->ev. */
static int tj__collect(const struct tj__derive_in *in, struct tj__derive *d, bool *have_genesis)
{
	char hex[TJ_LOG_HEX_CHARS];
	struct tj_record rec;
	uint8_t id[32];
	int rc;

	for (size_t i = 0; i < in->n; i++) {
		if (tj_record_verify(in->encs[i], in->lens[i], &rec, id) != 0)
			continue; /* ingest never stores one; a caller's list might hold one */
		if (rec.kind == TJ_KIND_GENESIS && memcmp(id, in->network_id, 32) == 0 && !*have_genesis) {
			if ((rc = tj__genesis(d->s, in->encs[i], &rec, id, in->me, in->lookup, in->ctx)) != 0)
				return rc;
			*have_genesis = true;
			continue;
		}
		if ((rec.kind != TJ_KIND_MEMBER && rec.kind != TJ_KIND_APPROVAL) ||
		    memcmp(rec.network_id, in->network_id, 32) != 0)
			continue;
		struct tj__event *e = &d->ev[d->n_ev];
		memcpy(e->id, id, 32);
		if ((rc = tj__event_load(e, in->encs[i], &rec, in->me, in->lookup, in->ctx)) != 0) {
			TJ_LOG_W("member", "%s %s cannot be read (%s); it does not count",
			         tj_kind_name(rec.kind), tj_log_hex(id, hex), tj_errname(rc));
			sodium_memzero(e, sizeof(*e));
			d->s->ignored++;
			continue;
		}
		if (e->kind == TJ_KIND_MEMBER && (e->appr = calloc(TJ_STEWARDS_MAX, 32)) == NULL)
			return -ENOMEM;
		d->n_ev++;
	}
	return 0;
}

/* Proposals that count but have not taken effect yet, with their approvers. */
static void tj__pending(struct tj__derive *d)
{
	struct tj_member_state *s = d->s;

	for (size_t i = 0; i < d->n_ev && s->n_pending < TJ_MEMBER_PENDING_MAX; i++) {
		const struct tj__event *e = &d->ev[i];
		struct tj_member_pending *p;

		if (e->kind != TJ_KIND_MEMBER || !e->registered || e->spent)
			continue;
		p = &s->pending[s->n_pending++];
		memcpy(p->id, e->id, 32);
		memcpy(p->author, e->author, 32);
		memcpy(p->subject, e->body.subject, 32);
		p->action = e->body.action;
		p->role = e->body.role;
		p->ts_ms = e->ts_ms;
		p->n_appr = 0;
		for (uint32_t k = 0; k < e->n_appr && k < TJ_MEMBER_PENDING_APPR_MAX; k++)
			memcpy(p->appr[p->n_appr++], e->appr[k], 32);
	}
}

static int tj__derive(const struct tj__derive_in *in, const uint8_t *focus, struct tj_member_state *out)
{
	struct tj__derive d = {.s = out, .focus = focus};
	bool have_genesis = false;
	int rc;

	memset(out, 0, sizeof(*out));
	if (in->n > TJ_MEMBER_RECORDS_MAX + 1)
		return TJ_ELIMIT;
	if ((d.ev = calloc(in->n + 1, sizeof(*d.ev))) == NULL)
		return -ENOMEM;
	rc = tj__collect(in, &d, &have_genesis);
	if (rc == 0 && !have_genesis)
		rc = TJ_ENOTFOUND;
	if (rc == 0) {
		qsort(d.ev, d.n_ev, sizeof(*d.ev), tj__event_cmp);
		tj__run(&d);
		tj__pending(&d);
	}
	tj__events_free(d.ev, in->n + 1);
	if (rc != 0)
		sodium_memzero(out, sizeof(*out));
	return rc;
}

int tj_member_derive(const uint8_t network_id[32], const uint8_t *const *encs, const size_t *lens, size_t n,
                     const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                     struct tj_member_state *out)
{
	struct tj__derive_in in = {network_id, encs, lens, n, me, lookup, ctx};

	return tj__derive(&in, NULL, out);
}

/* For tj_member_store.c: the derivation with a record whose reasons are warnings. */
int tj__member_derive_focus(const uint8_t network_id[32], const uint8_t *const *encs, const size_t *lens,
                            size_t n, const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                            const uint8_t *focus, struct tj_member_state *out);
int tj__member_derive_focus(const uint8_t network_id[32], const uint8_t *const *encs, const size_t *lens,
                            size_t n, const struct tj_identity *me, tj_key_lookup_fn lookup, void *ctx,
                            const uint8_t *focus, struct tj_member_state *out)
{
	struct tj__derive_in in = {network_id, encs, lens, n, me, lookup, ctx};

	return tj__derive(&in, focus, out);
}
