/*
 * Rules T1-T7 (DESIGN.md "Alerts"; definitions and determinism in
 * tj_alert.h). Window rules (T3, T4, T5) look up their neighbours through the
 * blinded index (tj_query.h) and open them, so no readable field is on disk.
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
	snprintf(s->v[i], TJ_CODE_MAX, "%s", code);
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

int tj__alert_upsert(struct tj_node *n, struct tj_txn *t, struct tj_alert *a)
{
	struct tj_alert *old = malloc(sizeof(*old));
	int rc;

	if (old == NULL)
		return -ENOMEM;
	a->priority = tj__priority(a->trigger, a->severity);
	rc = tj__alert_load(n, t, a->id, old);
	if (rc == TJ_ENOTFOUND) {
		a->created_ms = a->raised_ms = tj_now_ms();
		a->raises = 1;
		if ((rc = tj__alert_event_append(t, a->id, &a->last_event)) == 0)
			rc = tj__alert_put(n, t, a);
	} else if (rc == 0 && tj__merge(old, a)) {
		rc = tj__alert_put(n, t, old);
	}
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

/* ---- window rules ---------------------------------------------------------- */

/* Entries of one index key in a date range, with their days. */
struct tj__win {
	size_t n;
	uint8_t ids[TJ__WINDOW_MAX][32];
	int64_t days[TJ__WINDOW_MAX];
};

/* The latest TJ__WINDOW_MAX entries dated in [lo, hi] (a longer list keeps its end). */
static int tj__window(struct tj_txn *t, const uint8_t key[32], int64_t lo, int64_t hi, struct tj__win *w)
{
	int rc = tj_query_index_ids(t, key, lo, hi, w->ids, w->days, TJ__WINDOW_MAX, &w->n);

	while (rc == TJ_ELIMIT && hi - lo > 0) {
		/* Too many for the window: keep the latest part of it. */
		lo += (hi - lo + 1) / 2;
		rc = tj_query_index_ids(t, key, lo, hi, w->ids, w->days, TJ__WINDOW_MAX, &w->n);
	}
	return rc;
}

/* Opens an incident of a window (skips the unreadable: TJ_ENOTFOUND). */
static int tj__open(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_incident_summary *s,
                    uint8_t author[32])
{
	int rc = tj_query_open(n, t, id, s, author, NULL);

	return rc == TJ_ENOKEY || rc == TJ_EDECRYPT ? TJ_ENOTFOUND : rc;
}

/* Scratch the window rules share: two windows and a summary. */
struct tj__rules {
	struct tj_node *n;
	struct tj_txn *t;
	struct tj__win anchors, win;
	struct tj_incident_summary s;
	struct tj_alert a, old;
};

static bool tj__lists(const struct tj_alert *a, const uint8_t id[32])
{
	for (uint32_t i = 0; i < a->n_incidents; i++)
		if (memcmp(a->incidents[i], id, 32) == 0)
			return true;
	return false;
}

/*
 * Fills r->a (id set) from the incidents of r->win up to upto, skipping
 * unreadable ones. An incident the stored alert already lists is not opened
 * again: a window only grows, so an alert raised before needs only the
 * newcomers' codes (this keeps a busy municipality linear, not quadratic).
 */
static int tj__alert_from_window(struct tj__rules *r, size_t upto)
{
	uint8_t author[32];
	bool known;
	int rc = tj__alert_load(r->n, r->t, r->a.id, &r->old);

	if (rc != 0 && rc != TJ_ENOTFOUND)
		return rc;
	known = rc == 0;
	for (size_t i = 0; i < upto; i++) {
		if (known && tj__lists(&r->old, r->win.ids[i]))
			continue;
		rc = tj__open(r->n, r->t, r->win.ids[i], &r->s, author);
		if (rc == TJ_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		tj__alert_add_codes(&r->a, &r->s, false);
		(void)tj__alert_add_id(&r->a, r->win.ids[i]);
	}
	return 0;
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
	if ((rc = tj__window(r->t, key, day, day + W, &r->anchors)) != 0)
		return rc;
	for (size_t i = 0; i < r->anchors.n && rc == 0; i++) {
		if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win)) != 0)
			break;
		if (r->win.n < cfg->t3_min_incidents)
			continue;
		memset(&r->a, 0, sizeof(r->a));
		r->a.trigger = TJ_T3_CLUSTER;
		tj__alert_id(TJ_T3_CLUSTER, r->anchors.ids[i], 32, r->a.id);
		if ((rc = tj__alert_from_window(r, r->win.n)) == 0)
			rc = tj__alert_upsert(r->n, r->t, &r->a);
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

	if ((rc = tj__window(r->t, key, day, day + W, &r->anchors)) != 0)
		return rc;
	for (size_t i = 0; i < r->anchors.n && rc == 0; i++) {
		const uint8_t *aid = r->anchors.ids[i];
		if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win)) != 0)
			break;
		/* Keep the anchor and those earlier than it; the window is in (day, id) order. */
		for (k = 0;
		     k < r->win.n && tj__earlier(r->win.days[k], r->win.ids[k], r->anchors.days[i], aid); k++)
			;
		if (k == 0 || k >= r->win.n)
			continue; /* no earlier incident (or a window cut short before the anchor) */
		memset(&r->a, 0, sizeof(r->a));
		r->a.trigger = TJ_T4_ESCALATION;
		tj__alert_id(TJ_T4_ESCALATION, aid, 32, r->a.id);
		if ((rc = tj__alert_from_window(r, k + 1)) == 0)
			rc = tj__alert_upsert(r->n, r->t, &r->a);
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

/* The identity of victim v of incident id by author, for counting distinct victims (T5). */
static void tj__victim_ident(const uint8_t author[32], const uint8_t id[32],
                             const struct tj_incident_summary *s, uint32_t v, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t idx[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	crypto_generichash_init(&st, NULL, 0, 16);
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
	crypto_generichash_final(&st, out, 16);
	sodium_memzero(&st, sizeof(st));
}

struct tj__victims {
	size_t n;
	uint8_t v[TJ__WINDOW_MAX][16];
};

static void tj__victims_add(struct tj__victims *vs, const uint8_t v[16])
{
	for (size_t i = 0; i < vs->n; i++)
		if (memcmp(vs->v[i], v, 16) == 0)
			return;
	if (vs->n < TJ__WINDOW_MAX)
		memcpy(vs->v[vs->n++], v, 16);
}

/* Adds the victims of acts by aggressor type X in r->s (incident id by author). */
static void tj__t5_victims(const struct tj_incident_summary *s, const uint8_t author[32],
                           const uint8_t id[32], const char *X, struct tj__victims *vs)
{
	uint8_t ident[16];

	for (uint32_t i = 0; i < s->n_acts; i++) {
		const struct tj_act *act = &s->acts[i];
		if (act->aggressor < 0 || (uint32_t)act->aggressor >= s->n_aggressors ||
		    act->victim >= s->n_victims || strcmp(s->aggressors[act->aggressor].type, X) != 0)
			continue;
		tj__victim_ident(author, id, s, act->victim, ident);
		tj__victims_add(vs, ident);
	}
}

/* One T5 anchor: counts the distinct victims of X in the anchor's window. */
static int tj__t5_anchor(struct tj__rules *r, const uint8_t key[32], const char *X, size_t i,
                         struct tj__victims *vs)
{
	int64_t W = tj_alert_config_current()->t5_window_days;
	uint8_t author[32], idkey[TJ_CODE_MAX + 32];
	size_t xl = strlen(X);
	int rc;

	if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win)) != 0)
		return rc;
	memset(&r->a, 0, sizeof(r->a));
	r->a.trigger = TJ_T5_PATTERN;
	memcpy(idkey, X, xl + 1); /* the type with its NUL, then the anchor */
	memcpy(idkey + xl + 1, r->anchors.ids[i], 32);
	tj__alert_id(TJ_T5_PATTERN, idkey, xl + 1 + 32, r->a.id);
	rc = tj__alert_load(r->n, r->t, r->a.id, &r->old);
	if (rc == 0) {
		/* Raised already: the window only grew; add the newcomers. */
		if ((rc = tj__alert_from_window(r, r->win.n)) == 0)
			rc = tj__alert_upsert(r->n, r->t, &r->a);
		return rc;
	}
	if (rc != TJ_ENOTFOUND)
		return rc;
	vs->n = 0;
	for (size_t k = 0; k < r->win.n; k++) {
		rc = tj__open(r->n, r->t, r->win.ids[k], &r->s, author);
		if (rc == TJ_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		tj__t5_victims(&r->s, author, r->win.ids[k], X, vs);
		tj__alert_add_codes(&r->a, &r->s, false);
		(void)tj__alert_add_id(&r->a, r->win.ids[k]);
	}
	if (vs->n < tj_alert_config_current()->t5_min_victims)
		return 0;
	return tj__alert_upsert(r->n, r->t, &r->a);
}

static int tj__t5(struct tj__rules *r, const struct tj_incident_summary *s, const uint8_t id[32])
{
	int64_t day = tj_date_days(&s->occurred.start), W = tj_alert_config_current()->t5_window_days;
	struct tj__victims *vs = NULL;
	struct tj_code_set types = {0};
	char code[3 + TJ_CODE_MAX + 1];
	uint8_t key[32];
	int rc = 0;

	if (day < 0)
		return 0;
	for (uint32_t i = 0; i < s->n_acts; i++)
		if (s->acts[i].aggressor >= 0 && (uint32_t)s->acts[i].aggressor < s->n_aggressors)
			tj_code_set_add(&types, s->aggressors[s->acts[i].aggressor].type);
	if (types.n > 0 && (vs = malloc(sizeof(*vs))) == NULL)
		return -ENOMEM;
	for (uint32_t j = 0; j < types.n && rc == 0; j++) {
		snprintf(code, sizeof(code), "%s|%s", s->location.state, types.v[j]);
		tj_query_key(r->n, "t5", code, key);
		if ((rc = tj_query_index_add(r->t, key, day, id)) != 0 ||
		    (rc = tj__window(r->t, key, day, day + W, &r->anchors)) != 0)
			break;
		for (size_t i = 0; i < r->anchors.n && rc == 0; i++)
			rc = tj__t5_anchor(r, key, types.v[j], i, vs);
	}
	free(vs);
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
	rc = tj__singles(n, t, &r->a, s, id);
	if (rc == 0)
		rc = tj__t3(r, s);
	if (rc == 0)
		rc = tj__t4(r, s, author, id);
	if (rc == 0)
		rc = tj__t5(r, s, id);
	sodium_memzero(r, sizeof(*r));
	free(r);
	return rc;
}
