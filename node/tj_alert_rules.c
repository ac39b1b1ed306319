/*
 * Rules T1-T7 (DESIGN.md "Alerts"; definitions and determinism in
 * tj_alert.h). Window rules (T3, T4, T5) look up their neighbours through the
 * blinded index (tj_query.h) and never open a record: what they count is in
 * the index (keyed hashes), what an alert lists is in each incident's sealed
 * codes ('C'), so no readable field is on disk.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_alert_int.h"
#include "tj_ingest.h"
#include "tj_log.h"
#include "tj_query.h"

#define TJ__ID_CONTEXT "tejido-alert-v1"
/* Neighbours one window rule may look at; more (a flood in one town) keeps the latest. */
#define TJ__WINDOW_MAX 512

void tj__alert_id(uint8_t trigger, const uint8_t *key, size_t klen, uint8_t id[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)TJ__ID_CONTEXT, strlen(TJ__ID_CONTEXT));
	crypto_generichash_update(&st, &trigger, 1);
	crypto_generichash_update(&st, key, klen);
	crypto_generichash_final(&st, id, 32);
}

void tj_code_set_add(struct tj_code_set *s, const char *code)
{
	uint32_t i = 0;

	if (code[0] == '\0' || strlen(code) >= TJ_CODE_MAX)
		return;
	while (i < s->n && strcmp(s->v[i], code) < 0)
		i++;
	if ((i < s->n && strcmp(s->v[i], code) == 0) || s->n == TJ_ALERT_CODES_MAX)
		return;
	memmove(s->v[i + 1], s->v[i], (s->n - i) * TJ_CODE_MAX);
	memcpy(s->v[i], code, strlen(code) + 1);
	s->n++;
}

bool tj__alert_add_id(struct tj_alert *a, const uint8_t id[32])
{
	uint32_t i = 0;

	while (i < a->n_incidents && memcmp(a->incidents[i], id, 32) < 0)
		i++;
	if (i < a->n_incidents && memcmp(a->incidents[i], id, 32) == 0)
		return false;
	if (a->n_incidents == TJ_ALERT_INCIDENTS_MAX)
		return false;
	memmove(a->incidents[i + 1], a->incidents[i], (a->n_incidents - i) * 32);
	memcpy(a->incidents[i], id, 32);
	a->n_incidents++;
	return true;
}

static bool tj__protected(const struct tj_incident_summary *s)
{
	return s->protection.status[0] != '\0' && strcmp(s->protection.status, "none") != 0;
}

void tj__alert_add_codes(struct tj_alert *a, const struct tj_incident_summary *s, bool with_residence)
{
	tj_code_set_add(&a->states, s->location.state);
	if (with_residence)
		tj_code_set_add(&a->states, s->residence.state);
	for (uint32_t i = 0; i < s->n_acts; i++) {
		const struct tj_act *act = &s->acts[i];
		tj_code_set_add(&a->acts, act->type);
		if (act->aggressor >= 0 && (uint32_t)act->aggressor < s->n_aggressors)
			tj_code_set_add(&a->aggressors, s->aggressors[act->aggressor].type);
	}
	for (uint32_t i = 0; i < s->n_victims; i++) {
		tj_code_set_add(&a->roles, s->victims[i].role);
		tj_code_set_add(&a->genders, s->victims[i].gender);
	}
	if (s->severity > a->severity)
		a->severity = s->severity;
	a->protection = a->protection || tj__protected(s);
}

static uint8_t tj__priority(uint8_t trigger, uint8_t severity)
{
	switch (trigger) {
	case TJ_T7_ONGOING:
		return TJ_PRIO_CRITICAL;
	case TJ_T1_FLASH:
	case TJ_T2_PROTECTED:
		return severity >= 5 ? TJ_PRIO_CRITICAL : TJ_PRIO_HIGH;
	case TJ_T3_CLUSTER:
	case TJ_T4_ESCALATION:
		return TJ_PRIO_HIGH;
	default:
		return TJ_PRIO_MEDIUM;
	}
}

/* Merges b's codes and ids into a; true when a changed. */
static bool tj__merge(struct tj_alert *a, const struct tj_alert *b)
{
	struct tj_alert before = *a;
	const struct tj_code_set *from[] = {&b->states, &b->acts, &b->aggressors, &b->roles, &b->genders};
	struct tj_code_set *to[] = {&a->states, &a->acts, &a->aggressors, &a->roles, &a->genders};

	for (size_t k = 0; k < 5; k++)
		for (uint32_t i = 0; i < from[k]->n; i++)
			tj_code_set_add(to[k], from[k]->v[i]);
	for (uint32_t i = 0; i < b->n_incidents; i++)
		(void)tj__alert_add_id(a, b->incidents[i]);
	if (b->severity > a->severity)
		a->severity = b->severity;
	a->protection = a->protection || b->protection;
	a->priority = tj__priority(a->trigger, a->severity);
	return memcmp(&before, a, sizeof(before)) != 0;
}

/* a is new (raised now, an event) or, when found, merged into its stored form old (put if changed). */
static int tj__alert_store(struct tj_node *n, struct tj_txn *t, struct tj_alert *a, struct tj_alert *old,
                           bool found)
{
	int rc;

	a->priority = tj__priority(a->trigger, a->severity);
	if (found)
		return tj__merge(old, a) ? tj__alert_put(n, t, old) : 0;
	a->created_ms = a->raised_ms = tj_now_ms();
	a->raises = 1;
	if ((rc = tj__alert_event_append(t, a->id, &a->last_event)) == 0)
		rc = tj__alert_put(n, t, a);
	return rc;
}

int tj__alert_upsert(struct tj_node *n, struct tj_txn *t, struct tj_alert *a)
{
	struct tj_alert *old = malloc(sizeof(*old));
	int rc;

	if (old == NULL)
		return -ENOMEM;
	rc = tj__alert_load(n, t, a->id, old);
	if (rc == 0 || rc == TJ_ENOTFOUND)
		rc = tj__alert_store(n, t, a, old, rc == 0);
	free(old);
	return rc;
}

/* T1, T2, T6, T7: one alert about one incident. */
static int tj__single(struct tj_node *n, struct tj_txn *t, struct tj_alert *a, uint8_t trigger,
                      const struct tj_incident_summary *s, const uint8_t id[32])
{
	memset(a, 0, sizeof(*a));
	a->trigger = trigger;
	tj__alert_id(trigger, id, 32, a->id);
	tj__alert_add_codes(a, s, trigger == TJ_T6_DISPLACED);
	(void)tj__alert_add_id(a, id);
	return tj__alert_upsert(n, t, a);
}

static bool tj__has_act(const struct tj_incident_summary *s, const char *a, const char *b)
{
	for (uint32_t i = 0; i < s->n_acts; i++)
		if (strcmp(s->acts[i].type, a) == 0 || strcmp(s->acts[i].type, b) == 0)
			return true;
	return false;
}

static int tj__singles(struct tj_node *n, struct tj_txn *t, struct tj_alert *a,
                       const struct tj_incident_summary *s, const uint8_t id[32])
{
	const struct tj_alert_config *cfg = tj_alert_config_current();
	int rc = 0;

	if (s->severity >= cfg->t1_min_severity)
		rc = tj__single(n, t, a, TJ_T1_FLASH, s, id);
	if (rc == 0 && tj__protected(s))
		rc = tj__single(n, t, a, TJ_T2_PROTECTED, s, id);
	if (rc == 0 && s->residence.state[0] != '\0' && strcmp(s->residence.state, s->location.state) != 0)
		rc = tj__single(n, t, a, TJ_T6_DISPLACED, s, id);
	if (rc == 0 && tj__has_act(s, "disappearance", "arbitrary_detention"))
		rc = tj__single(n, t, a, TJ_T7_ONGOING, s, id);
	return rc;
}

/* ---- the codes of one incident ------------------------------------------- */

/* Appends code to list l of c unless there already (as tj_code_set_add would ignore it). */
static void tj__codes_list_add(struct tj_alert_codes *c, size_t l, const char *code)
{
	size_t len = strlen(code);

	if (len == 0 || len >= TJ_CODE_MAX || c->n[l] == TJ_ALERT_INC_CODES_MAX)
		return;
	for (uint32_t i = 0; i < c->n[l]; i++)
		if (strcmp(c->v[l][i], code) == 0)
			return;
	memcpy(c->v[l][c->n[l]++], code, len + 1);
}

void tj__alert_codes_of(const struct tj_incident_summary *s, struct tj_alert_codes *c)
{
	size_t len = strlen(s->location.state);

	memset(c, 0, sizeof(*c));
	if (len < TJ_CODE_MAX)
		memcpy(c->state, s->location.state, len + 1);
	for (uint32_t i = 0; i < s->n_acts; i++) {
		const struct tj_act *act = &s->acts[i];
		tj__codes_list_add(c, TJ__C_ACTS, act->type);
		if (act->aggressor >= 0 && (uint32_t)act->aggressor < s->n_aggressors)
			tj__codes_list_add(c, TJ__C_AGGRESSORS, s->aggressors[act->aggressor].type);
	}
	for (uint32_t i = 0; i < s->n_victims; i++) {
		tj__codes_list_add(c, TJ__C_ROLES, s->victims[i].role);
		tj__codes_list_add(c, TJ__C_GENDERS, s->victims[i].gender);
	}
	c->severity = s->severity;
	c->protection = tj__protected(s);
}

void tj__alert_add_inc_codes(struct tj_alert *a, const struct tj_alert_codes *c)
{
	struct tj_code_set *to[TJ__C_LISTS] = {&a->acts, &a->aggressors, &a->roles, &a->genders};

	tj_code_set_add(&a->states, c->state);
	for (size_t l = 0; l < TJ__C_LISTS; l++)
		for (uint32_t i = 0; i < c->n[l]; i++)
			tj_code_set_add(to[l], c->v[l][i]);
	if (c->severity > a->severity)
		a->severity = c->severity;
	a->protection = a->protection || c->protection;
}

/* ---- window rules ---------------------------------------------------------- */

/*
 * Window rules never open a record: a window is a range scan of query_idx
 * (values day(8) || id(32) [|| payload]), the T5 victims come from the
 * payload of its entries (keyed hashes), and the codes an alert lists come
 * from the incidents' sealed 'C' entries.
 */
#define TJ__IDENT_BYTES 12 /* a T5 victim identity: a keyed hash, compared for equality only */
#define TJ__T5_VALUE_MAX (40 + 1 + TJ_INC_VICTIMS_MAX * TJ__IDENT_BYTES)

/* Distinct victims (T5). */
struct tj__victims {
	size_t n;
	uint8_t v[TJ__WINDOW_MAX][TJ__IDENT_BYTES];
};

static void tj__victims_add(struct tj__victims *vs, const uint8_t *v)
{
	for (size_t i = 0; i < vs->n; i++)
		if (memcmp(vs->v[i], v, TJ__IDENT_BYTES) == 0)
			return;
	if (vs->n < TJ__WINDOW_MAX)
		memcpy(vs->v[vs->n++], v, TJ__IDENT_BYTES);
}

/* Entries of one index key in a date range, with their days. */
struct tj__win {
	size_t n;
	uint8_t ids[TJ__WINDOW_MAX][32];
	int64_t days[TJ__WINDOW_MAX];
};

static uint64_t tj__day_u(int64_t day)
{
	return day < 0 ? 0 : (uint64_t)day;
}

/* The T5 payload of one entry: [count(1), identities]; into vs. */
static int tj__payload_victims(const uint8_t *p, size_t len, struct tj__victims *vs)
{
	if (len < 1 || len != 1 + (size_t)p[0] * TJ__IDENT_BYTES)
		return TJ_ESTORE;
	for (size_t i = 0; i < p[0]; i++)
		tj__victims_add(vs, p + 1 + i * TJ__IDENT_BYTES);
	return 0;
}

/*
 * The entries under key dated in [lo, hi], in (day, id) order, and with vs
 * the victims of their payloads; TJ_ELIMIT when more than TJ__WINDOW_MAX.
 */
static int tj__scan(struct tj_txn *t, const uint8_t key[32], int64_t lo, int64_t hi, struct tj__win *w,
                    struct tj__victims *vs)
{
	uint8_t seek[40] = {0};
	MDB_val k = {32, (void *)key}, v = {sizeof(seek), seek};
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	w->n = 0;
	if (vs != NULL)
		vs->n = 0;
	if (hi < lo)
		return 0;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	tj_store_be64(tj__day_u(lo), seek);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		const uint8_t *p = v.mv_data;
		uint64_t d;
		if (v.mv_size < 40) {
			rc = TJ_ESTORE;
			goto out;
		}
		if ((d = tj_store_rd64(p)) > tj__day_u(hi))
			break;
		if (w->n == TJ__WINDOW_MAX) {
			rc = TJ_ELIMIT;
			goto out;
		}
		memcpy(w->ids[w->n], p + 8, 32);
		w->days[w->n++] = (int64_t)d;
		if (vs != NULL && (rc = tj__payload_victims(p + 40, v.mv_size - 40, vs)) != 0)
			goto out;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* The latest TJ__WINDOW_MAX entries dated in [lo, hi] (a longer list keeps its end). */
static int tj__window(struct tj_txn *t, const uint8_t key[32], int64_t lo, int64_t hi, struct tj__win *w,
                      struct tj__victims *vs)
{
	int rc = tj__scan(t, key, lo, hi, w, vs);

	while (rc == TJ_ELIMIT && hi - lo > 0) {
		/* Too many for the window: keep the latest part of it. */
		lo += (hi - lo + 1) / 2;
		rc = tj__scan(t, key, lo, hi, w, vs);
	}
	return rc;
}

/* Scratch the window rules share: two windows, an incident's codes, an alert and its stored form. */
struct tj__rules {
	struct tj_node *n;
	struct tj_txn *t;
	struct tj__win anchors, win;
	struct tj__victims vs;
	struct tj_alert_codes c, self; /* self: the codes of the incident evaluated (id self_id) */
	uint8_t self_id[32];
	struct tj_alert a, old;
	bool known; /* r->old holds the stored r->a */
};

static bool tj__lists(const struct tj_alert *a, const uint8_t id[32])
{
	for (uint32_t i = 0; i < a->n_incidents; i++)
		if (memcmp(a->incidents[i], id, 32) == 0)
			return true;
	return false;
}

/* Starts r->a (trigger, id from key) and loads its stored form into r->old when there is one. */
static int tj__alert_start(struct tj__rules *r, uint8_t trigger, const uint8_t *key, size_t klen)
{
	int rc;

	memset(&r->a, 0, sizeof(r->a));
	r->a.trigger = trigger;
	tj__alert_id(trigger, key, klen, r->a.id);
	rc = tj__alert_load(r->n, r->t, r->a.id, &r->old);
	r->known = rc == 0;
	return rc == TJ_ENOTFOUND ? 0 : rc;
}

/*
 * Fills r->a (started) from the incidents of r->win up to upto, skipping
 * those without codes (unreadable here), and stores it (raised, or merged
 * into r->old when r->known). An incident the stored alert already lists
 * adds nothing new: a window only grows, so an alert raised before needs
 * only the newcomers' codes, and none means nothing to write.
 */
static int tj__alert_from_window(struct tj__rules *r, size_t upto)
{
	bool added = false;
	int rc;

	for (size_t i = 0; i < upto; i++) {
		if (r->known && tj__lists(&r->old, r->win.ids[i]))
			continue;
		if (memcmp(r->win.ids[i], r->self_id, 32) == 0) {
			tj__alert_add_inc_codes(&r->a, &r->self); /* known without a read */
		} else {
			rc = tj__alert_codes_get(r->n, r->t, r->win.ids[i], &r->c);
			if (rc == TJ_ENOTFOUND)
				continue;
			if (rc != 0)
				return rc;
			tj__alert_add_inc_codes(&r->a, &r->c);
		}
		(void)tj__alert_add_id(&r->a, r->win.ids[i]);
		added = true;
	}
	if (r->known && !added)
		return 0; /* nothing new for the stored alert */
	return tj__alert_store(r->n, r->t, &r->a, &r->old, r->known);
}

/* T3 for every anchor in [day, day + W] of the municipality. */
static int tj__t3(struct tj__rules *r, const struct tj_incident_summary *s)
{
	const struct tj_alert_config *cfg = tj_alert_config_current();
	int64_t day = tj_date_days(&s->occurred.start), W = cfg->t3_window_days;
	uint8_t key[32];
	int rc;

	if (s->location.municipality[0] == '\0' || day < 0)
		return 0;
	tj_query_key(r->n, "municipality", s->location.municipality, key);
	if ((rc = tj__window(r->t, key, day, day + W, &r->anchors, NULL)) != 0)
		return rc;
	for (size_t i = 0; i < r->anchors.n && rc == 0; i++) {
		if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win, NULL)) != 0)
			break;
		if (r->win.n < cfg->t3_min_incidents)
			continue;
		if ((rc = tj__alert_start(r, TJ_T3_CLUSTER, r->anchors.ids[i], 32)) == 0)
			rc = tj__alert_from_window(r, r->win.n);
	}
	return rc;
}

/* Is (day_b, id_b) earlier than (day_a, id_a)? */
static bool tj__earlier(int64_t day_b, const uint8_t *id_b, int64_t day_a, const uint8_t *id_a)
{
	return day_b < day_a || (day_b == day_a && memcmp(id_b, id_a, 32) < 0);
}

/* The T4 key of a victim: the author's own reference, blinded. */
static void tj__victim_key(struct tj_node *n, const uint8_t author[32], const char *ref, uint8_t key[32])
{
	char code[2 * 32 + 1 + TJ_REF_MAX];

	sodium_bin2hex(code, 65, author, 32);
	code[64] = '/';
	snprintf(code + 65, sizeof(code) - 65, "%s", ref);
	tj_query_key(n, "t4_victim", code, key);
	sodium_memzero(code, sizeof(code));
}

/* T4 for one victim key: every anchor in [day, day + W] with an earlier incident in its window. */
static int tj__t4_key(struct tj__rules *r, const uint8_t key[32], int64_t day)
{
	int64_t W = tj_alert_config_current()->t4_window_days;
	size_t k;
	int rc;

	if ((rc = tj__window(r->t, key, day, day + W, &r->anchors, NULL)) != 0)
		return rc;
	for (size_t i = 0; i < r->anchors.n && rc == 0; i++) {
		const uint8_t *aid = r->anchors.ids[i];
		if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win, NULL)) != 0)
			break;
		/* Keep the anchor and those earlier than it; the window is in (day, id) order. */
		for (k = 0;
		     k < r->win.n && tj__earlier(r->win.days[k], r->win.ids[k], r->anchors.days[i], aid); k++)
			;
		if (k == 0 || k >= r->win.n)
			continue; /* no earlier incident (or a window cut short before the anchor) */
		if ((rc = tj__alert_start(r, TJ_T4_ESCALATION, aid, 32)) == 0)
			rc = tj__alert_from_window(r, k + 1);
	}
	return rc;
}

static int tj__t4(struct tj__rules *r, const struct tj_incident_summary *s, const uint8_t author[32],
                  const uint8_t id[32])
{
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t key[32];
	int rc = 0;

	if (day < 0)
		return 0;
	for (uint32_t i = 0; i < s->n_victims && rc == 0; i++) {
		if (s->victims[i].ref[0] == '\0')
			continue;
		tj__victim_key(r->n, author, s->victims[i].ref, key);
		if ((rc = tj_query_index_add(r->t, key, day, id)) == 0)
			rc = tj__t4_key(r, key, day);
	}
	return rc;
}

/*
 * The identity of victim v of incident id by author, for counting distinct
 * victims (T5): a hash keyed by ikey (derived from the blinding key), so the
 * identities in the index say nothing about the references.
 */
static void tj__victim_ident(const uint8_t ikey[32], const uint8_t author[32], const uint8_t id[32],
                             const struct tj_incident_summary *s, uint32_t v, uint8_t out[TJ__IDENT_BYTES])
{
	crypto_generichash_state st;
	uint8_t idx[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	crypto_generichash_init(&st, ikey, 32, TJ__IDENT_BYTES);
	crypto_generichash_update(&st, author, 32);
	if (s->victims[v].ref[0] != '\0') {
		/* The documenting organization reuses its ref for the same person. */
		crypto_generichash_update(&st, (const uint8_t *)"r", 1);
		crypto_generichash_update(&st, (const uint8_t *)s->victims[v].ref, strlen(s->victims[v].ref));
	} else {
		crypto_generichash_update(&st, (const uint8_t *)"i", 1);
		crypto_generichash_update(&st, id, 32);
		crypto_generichash_update(&st, idx, 4);
	}
	crypto_generichash_final(&st, out, TJ__IDENT_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/*
 * The T5 entry of incident id under key (state, aggressor type X):
 * day(8) || id(32) || count(1) || the identities of the victims of its acts by X.
 */
static int tj__t5_put(struct tj_node *n, struct tj_txn *t, const uint8_t key[32], int64_t day,
                      const struct tj_incident_summary *s, const uint8_t author[32], const uint8_t id[32],
                      const char *X)
{
	uint8_t val[TJ__T5_VALUE_MAX], ikey[32], ident[TJ__IDENT_BYTES];
	struct tj__victims one = {0};
	MDB_val k = {32, (void *)key}, v;
	MDB_dbi dbi;
	int rc;

	tj_query_key(n, "t5_victim_ident", "", ikey);
	for (uint32_t i = 0; i < s->n_acts && one.n < TJ_INC_VICTIMS_MAX; i++) {
		const struct tj_act *act = &s->acts[i];
		if (act->aggressor < 0 || (uint32_t)act->aggressor >= s->n_aggressors ||
		    act->victim >= s->n_victims || strcmp(s->aggressors[act->aggressor].type, X) != 0)
			continue;
		tj__victim_ident(ikey, author, id, s, act->victim, ident);
		tj__victims_add(&one, ident);
	}
	sodium_memzero(ikey, sizeof(ikey));
	tj_store_be64(tj__day_u(day), val);
	memcpy(val + 8, id, 32);
	val[40] = (uint8_t)one.n;
	memcpy(val + 41, one.v, one.n * TJ__IDENT_BYTES);
	v.mv_size = 41 + one.n * TJ__IDENT_BYTES;
	v.mv_data = val;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	rc = mdb_put(t->txn, dbi, &k, &v, MDB_NODUPDATA);
	if (rc == MDB_KEYEXIST)
		return 0; /* evaluated before */
	return rc == 0 ? 0 : rc == MDB_MAP_FULL ? TJ_ESTOREFULL : TJ_ESTORE;
}

/* One T5 anchor: counts the distinct victims of X in the anchor's window. */
static int tj__t5_anchor(struct tj__rules *r, const uint8_t key[32], const char *X, size_t i)
{
	int64_t W = tj_alert_config_current()->t5_window_days;
	uint8_t idkey[TJ_CODE_MAX + 32];
	size_t xl = strlen(X);
	int rc;

	if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win, &r->vs)) != 0)
		return rc;
	memcpy(idkey, X, xl + 1); /* the type with its NUL, then the anchor */
	memcpy(idkey + xl + 1, r->anchors.ids[i], 32);
	if ((rc = tj__alert_start(r, TJ_T5_PATTERN, idkey, xl + 1 + 32)) != 0)
		return rc;
	/* Raised already: the window only grew, add the newcomers. Else only past the threshold. */
	if (!r->known && r->vs.n < tj_alert_config_current()->t5_min_victims)
		return 0;
	return tj__alert_from_window(r, r->win.n);
}

static int tj__t5(struct tj__rules *r, const struct tj_incident_summary *s, const uint8_t author[32],
                  const uint8_t id[32])
{
	int64_t day = tj_date_days(&s->occurred.start), W = tj_alert_config_current()->t5_window_days;
	struct tj_code_set types = {0};
	char code[3 + TJ_CODE_MAX + 1];
	uint8_t key[32];
	int rc = 0;

	if (day < 0)
		return 0;
	for (uint32_t i = 0; i < s->n_acts; i++)
		if (s->acts[i].aggressor >= 0 && (uint32_t)s->acts[i].aggressor < s->n_aggressors)
			tj_code_set_add(&types, s->aggressors[s->acts[i].aggressor].type);
	for (uint32_t j = 0; j < types.n && rc == 0; j++) {
		snprintf(code, sizeof(code), "%s|%s", s->location.state, types.v[j]);
		tj_query_key(r->n, "t5v", code, key);
		if ((rc = tj__t5_put(r->n, r->t, key, day, s, author, id, types.v[j])) != 0 ||
		    (rc = tj__window(r->t, key, day, day + W, &r->anchors, NULL)) != 0)
			break;
		for (size_t i = 0; i < r->anchors.n && rc == 0; i++)
			rc = tj__t5_anchor(r, key, types.v[j], i);
	}
	return rc;
}

int tj_alert_evaluate(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                      const uint8_t author[32], const uint8_t id[32])
{
	struct tj__rules *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return -ENOMEM;
	r->n = n;
	r->t = t;
	/* Its codes first: the window rules read them for every incident of a window, this one included. */
	memcpy(r->self_id, id, 32);
	tj__alert_codes_of(s, &r->self);
	rc = tj__alert_codes_put(n, t, id, &r->self);
	if (rc == 0)
		rc = tj__singles(n, t, &r->a, s, id);
	if (rc == 0)
		rc = tj__t3(r, s);
	if (rc == 0)
		rc = tj__t4(r, s, author, id);
	if (rc == 0)
		rc = tj__t5(r, s, author, id);
	sodium_memzero(r, sizeof(*r));
	free(r);
	return rc;
}
