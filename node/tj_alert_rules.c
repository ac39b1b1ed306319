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

/* A day as alerts keep it: days since 1970, 0 for earlier or unknown. */
static uint32_t tj__day32(int64_t day)
{
	return day < 0 ? 0 : day > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)day;
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
	a->count = a->count > a->n_incidents ? a->count : a->n_incidents;
	a->last_day = b->last_day > a->last_day ? b->last_day : a->last_day;
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
	if ((rc = tj__alert_event_append(t, a->id, TJ_EVENT_RAISE, &a->last_event)) == 0)
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
	a->count = 1;
	a->last_day = tj__day32(tj_date_days(&s->occurred.start));
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

/* ---- regions: the entries of one key over days, for clusters (T3, T5) ---- */

#define TJ__REGION_MAX 4096 /* entries one cluster evaluation loads; a longer flood is cut at its end */

struct tj__region {
	size_t n, cap;
	int64_t lo, hi; /* the days loaded, whole */
	bool cut;       /* TJ__REGION_MAX reached: days after hi are missing */
	int64_t *days;
	uint8_t (*ids)[32];
	bool *fire;
	bool *head;     /* anchors a cluster */
	uint32_t *voff; /* T5: the victims of entry i are vic[voff[i] .. voff[i + 1]) */
	uint8_t (*vic)[TJ__IDENT_BYTES];
	size_t nvic, vcap;
};

static void tj__region_free(struct tj__region *g)
{
	free(g->days);
	free(g->ids);
	free(g->fire);
	free(g->head);
	free(g->voff);
	free(g->vic);
	memset(g, 0, sizeof(*g));
}

static int tj__region_grow(struct tj__region *g)
{
	size_t cap = g->cap == 0 ? 64 : g->cap * 2;
	int64_t *days = realloc(g->days, cap * sizeof(*days));
	uint8_t(*ids)[32] = days != NULL ? realloc(g->ids, cap * 32) : NULL;
	bool *fire = ids != NULL ? realloc(g->fire, cap * sizeof(*fire)) : NULL;
	bool *head = fire != NULL ? realloc(g->head, cap * sizeof(*head)) : NULL;
	uint32_t *voff = head != NULL ? realloc(g->voff, (cap + 1) * sizeof(*voff)) : NULL;

	if (days != NULL)
		g->days = days;
	if (ids != NULL)
		g->ids = ids;
	if (fire != NULL)
		g->fire = fire;
	if (head != NULL)
		g->head = head;
	if (voff == NULL)
		return -ENOMEM;
	g->voff = voff;
	g->cap = cap;
	return 0;
}

/* Appends one entry (and, with victims, the identities of its payload). */
static int tj__region_push(struct tj__region *g, const uint8_t *v, size_t vlen, bool victims)
{
	size_t nv = 0;
	int rc;

	if (g->n == g->cap && (rc = tj__region_grow(g)) != 0)
		return rc;
	if (victims) {
		if (vlen < 41 || vlen != 41 + (size_t)v[40] * TJ__IDENT_BYTES)
			return TJ_ESTORE;
		nv = v[40];
		if (g->nvic + nv > g->vcap) {
			size_t vcap = g->vcap == 0 ? 256 : g->vcap;
			uint8_t(*vic)[TJ__IDENT_BYTES];
			while (vcap < g->nvic + nv)
				vcap *= 2;
			if ((vic = realloc(g->vic, vcap * TJ__IDENT_BYTES)) == NULL)
				return -ENOMEM;
			g->vic = vic;
			g->vcap = vcap;
		}
		memcpy(g->vic[g->nvic], v + 41, nv * TJ__IDENT_BYTES);
	}
	g->days[g->n] = (int64_t)tj_store_rd64(v);
	memcpy(g->ids[g->n], v + 8, 32);
	g->fire[g->n] = false;
	g->head[g->n] = false;
	g->voff[g->n] = (uint32_t)g->nvic;
	g->nvic += nv;
	g->n++;
	return 0;
}

/* The entries under key dated in [lo, hi], in (day, id) order; a flood is cut after its last whole day. */
static int tj__region_load(struct tj_txn *t, const uint8_t key[32], int64_t lo, int64_t hi, bool victims,
                           struct tj__region *g)
{
	uint8_t seek[40] = {0};
	MDB_val k = {32, (void *)key}, v = {sizeof(seek), seek};
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	g->n = g->nvic = 0;
	g->lo = lo;
	g->hi = hi;
	g->cut = false;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	tj_store_be64(tj__day_u(lo), seek);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		if (v.mv_size < 40) {
			rc = TJ_ESTORE;
			goto out;
		}
		if (tj_store_rd64(v.mv_data) > tj__day_u(hi))
			break;
		if (g->n == (tj_alert_test_region_max != 0 ? tj_alert_test_region_max : TJ__REGION_MAX)) {
			g->cut = true;
			break;
		}
		if ((rc = tj__region_push(g, v.mv_data, v.mv_size, victims)) != 0)
			goto out;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
	if (rc == 0 && g->cut) {
		/* Keep whole days only. */
		int64_t last = g->days[g->n - 1];
		while (g->n > 0 && g->days[g->n - 1] == last)
			g->n--;
		g->nvic = g->voff[g->n];
		g->hi = last - 1;
	}
	if (rc == 0 && g->cap == 0)
		rc = tj__region_grow(g);
	if (rc == 0)
		g->voff[g->n] = (uint32_t)g->nvic;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Is entry i's whole window [day - W, day] loaded? */
static bool tj__known(const struct tj__region *g, size_t i, int64_t W)
{
	return g->lo <= 0 || g->days[i] - W >= g->lo;
}

/*
 * Which entries dated in [from, to] fire (the others keep their flag): T3,
 * >= min entries dated in [day - W, day]; T5, >= min distinct victims among
 * them. Same-day entries share their window.
 */
static void tj__region_fire_days(struct tj__region *g, int64_t W, uint32_t min, struct tj__victims *vs,
                                 int64_t from, int64_t to)
{
	size_t a = 0, b;

	for (size_t i = 0; i < g->n; i = b + 1) {
		bool fire;
		for (b = i; b + 1 < g->n && g->days[b + 1] == g->days[i]; b++)
			;
		while (g->days[a] < g->days[i] - W)
			a++;
		if (g->days[i] < from || g->days[i] > to)
			continue;
		if (vs == NULL) {
			fire = b - a + 1 >= min;
		} else {
			/* Distinct victims only grow: counting stops at min. */
			vs->n = 0;
			for (size_t j = a; j <= b && vs->n < min; j++)
				for (uint32_t x = g->voff[j]; x < g->voff[j + 1] && vs->n < min; x++)
					tj__victims_add(vs, g->vic[x]);
			fire = vs->n >= min;
		}
		for (size_t j = i; j <= b; j++)
			g->fire[j] = fire && tj__known(g, j, W);
	}
}

static void tj__region_fire(struct tj__region *g, int64_t W, uint32_t min, struct tj__victims *vs)
{
	tj__region_fire_days(g, W, min, vs, INT64_MIN, INT64_MAX);
}

/* Scratch the window rules share: windows, a region, an incident's codes, an alert and its stored form. */
struct tj__rules {
	struct tj_node *n;
	struct tj_txn *t;
	struct tj__win anchors, win;
	struct tj__region g;
	struct tj__region g0; /* adding: g without the incident added (what the store held before) */
	bool clean;           /* the stored clusters are what these thresholds give (tj__rules_clean) */
	struct tj__victims vs;
	struct tj_alert_codes c;
	struct tj_alert a, old, carry;
	struct tj_alert
	    gone; /* removal: the cluster alert the retracted incident anchored (trigger 0: none) */
	const uint8_t *self; /* the incident being added; NULL while one is removed */
};

/* Merges the codes of incident id into a (none when it has none here). */
static int tj__add_codes_of(struct tj__rules *r, struct tj_alert *a, const uint8_t id[32])
{
	int rc = tj__alert_codes_get(r->n, r->t, id, &r->c);

	if (rc == 0)
		tj__alert_add_inc_codes(a, &r->c);
	return rc == TJ_ENOTFOUND ? 0 : rc;
}

/*
 * Makes the alert of (trigger, key) hold the cluster or window ids[0..n)
 * (in (day, id) order, days[] theirs): the latest TJ_ALERT_INCIDENTS_MAX
 * listed, count n, the latest day, and the codes of all of them. A new
 * alert is raised; one that grew is updated (an update event); one that
 * shrank (a retraction) is rewritten silently; an unchanged one is not
 * written. Adding an incident only ever grows a stored alert, by itself and
 * by what is dated after its latest day, so only their codes are read;
 * otherwise (new, or a removal) every incident's are. carry (NULL = none):
 * the alert of the same cluster under its previous anchor, just withdrawn;
 * a new alert continues it (an update event, its first raise kept).
 */
static int tj__alert_set(struct tj__rules *r, uint8_t trigger, const uint8_t *key, size_t klen,
                         const uint8_t (*ids)[32], const int64_t *days, size_t n,
                         const struct tj_alert *carry)
{
	size_t from = n > TJ_ALERT_INCIDENTS_MAX ? n - TJ_ALERT_INCIDENTS_MAX : 0;
	struct tj_alert *a = &r->a, *old = &r->old, *out = a;
	bool known, same;
	uint32_t before;
	int rc;

	memset(a, 0, sizeof(*a));
	a->trigger = trigger;
	tj__alert_id(trigger, key, klen, a->id);
	for (size_t i = from; i < n; i++)
		(void)tj__alert_add_id(a, ids[i]);
	a->count = (uint32_t)n;
	a->last_day = tj__day32(days[n - 1]);
	if ((rc = tj__alert_load(r->n, r->t, a->id, old)) != 0 && rc != TJ_ENOTFOUND)
		return rc;
	known = rc == 0;
	before = known ? old->count : 0;
	rc = 0;
	same = known && old->n_incidents == a->n_incidents && old->count == a->count &&
	       old->last_day == a->last_day &&
	       memcmp(old->incidents, a->incidents, 32 * (size_t)a->n_incidents) == 0;
	if (same)
		return 0;
	if (known && r->self != NULL) {
		for (size_t i = 0; i < n && rc == 0; i++)
			if (tj__day32(days[i]) > old->last_day || memcmp(ids[i], r->self, 32) == 0)
				rc = tj__add_codes_of(r, old, ids[i]);
		old->n_incidents = a->n_incidents;
		memcpy(old->incidents, a->incidents, 32 * (size_t)a->n_incidents);
		old->count = a->count;
		old->last_day = a->last_day;
		out = old;
	} else {
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = tj__add_codes_of(r, a, ids[i]);
		if (known) {
			a->created_ms = old->created_ms;
			a->raised_ms = old->raised_ms;
			a->raises = old->raises;
			a->updates = old->updates;
			a->last_event = old->last_event;
		}
	}
	if (rc != 0)
		return rc;
	out->priority = tj__priority(trigger, out->severity);
	if (!known && carry != NULL) {
		if (carry == &r->gone)
			r->gone.trigger = 0; /* continued once */
		out->created_ms = carry->created_ms;
		out->raised_ms = tj_now_ms();
		out->raises = carry->raises;
		out->updates = carry->updates + 1;
		rc = tj__alert_event_append(r->t, out->id, TJ_EVENT_UPDATE, &out->last_event);
	} else if (!known) {
		out->created_ms = out->raised_ms = tj_now_ms();
		out->raises = 1;
		rc = tj__alert_event_append(r->t, out->id, TJ_EVENT_RAISE, &out->last_event);
	} else if (r->self != NULL && out->count > before) {
		out->raised_ms = tj_now_ms();
		out->updates++;
		rc = tj__alert_event_append(r->t, out->id, TJ_EVENT_UPDATE, &out->last_event);
	}
	return rc == 0 ? tj__alert_put(r->n, r->t, out) : rc;
}

/* The defining key of an anchored alert: T5 prefixes the aggressor type and its NUL. */
static size_t tj__anchor_key(const char *X, const uint8_t id[32], uint8_t out[TJ_CODE_MAX + 32])
{
	size_t xl = X != NULL ? strlen(X) + 1 : 0;

	if (xl > TJ_CODE_MAX)
		xl = 0;
	if (xl > 0)
		memcpy(out, X, xl);
	memcpy(out + xl, id, 32);
	return xl + 32;
}

/*
 * A cluster never spans two periods of max(91, 2W) days counted from
 * 1970-01-01: an ongoing cluster is news again each period, and the work an
 * incident costs stays bounded (two periods and a few windows of its key).
 */
#define TJ__PERIOD_MIN_DAYS 91

static int64_t tj__period_days(int64_t W)
{
	return 2 * W > TJ__PERIOD_MIN_DAYS ? 2 * W : TJ__PERIOD_MIN_DAYS;
}

static int64_t tj__period(int64_t day, int64_t B)
{
	return day >= 0 ? day / B : -1 - (-1 - day) / B;
}

/*
 * The cluster anchored at h (firing up to tl) may have had a later anchor
 * before a change dated d (only one of [d, d + 2W] can have been one): its
 * alert is withdrawn, and kept in r->carry for the one that continues it.
 * was (NULL: look up every firing entry): was[j] != 0 when entry j anchored
 * a cluster before, the only entries that can hold an alert in a clean store.
 */
static int tj__anchor_moved(struct tj__rules *r, uint8_t trigger, const char *X, int64_t d, int64_t W,
                            size_t h, size_t tl, const size_t *was)
{
	struct tj__region *g = &r->g;
	uint8_t akey[TJ_CODE_MAX + 32], aid[32];
	size_t klen;
	int rc;

	r->carry.trigger = 0;
	for (size_t j = h + 1; j <= tl; j++) {
		if (!g->fire[j] || (was != NULL && was[j] == 0) || g->days[j] < d || g->days[j] > d + 2 * W)
			continue;
		klen = tj__anchor_key(X, g->ids[j], akey);
		tj__alert_id(trigger, akey, klen, aid);
		if ((rc = tj__alert_load(r->n, r->t, aid, &r->old)) == TJ_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (r->carry.trigger == 0)
			r->carry = r->old;
		if ((rc = tj__alert_withdraw(r->n, r->t, aid, false)) != 0)
			return rc;
	}
	return 0;
}

/*
 * 'F' in "alerts" says whether every stored cluster alert (T3, T5) is what
 * the current thresholds give from the index, so that adding an incident
 * may skip the clusters it cannot change: absent, not known yet (a store
 * whose index and alerts are empty sets it); TJ__DIRTY, not known ever
 * again (the thresholds changed, an incident was removed, an older store's
 * format was upgraded; a flood cut at TJ__REGION_MAX marks its key only,
 * tj__key_dirty); otherwise the fingerprint of the thresholds and the
 * cluster code's constants it holds for. A change of the cluster rules
 * must change TJ__CLUSTER_RULES_VERSION.
 */
#define TJ__CLEAN_KEY 'F'
#define TJ__DIRTY 2u /* even: a fingerprint is odd */
#define TJ__CLUSTER_RULES_VERSION 1u

static uint64_t tj__clusters_print(void)
{
	const struct tj_alert_config *c = tj_alert_config_current();
	uint32_t v[7] = {TJ__CLUSTER_RULES_VERSION, TJ__REGION_MAX,    TJ__PERIOD_MIN_DAYS, c->t3_window_days,
	                 c->t3_min_incidents,       c->t5_window_days, c->t5_min_victims};
	uint8_t buf[7 * 4], h[8];

	for (size_t i = 0; i < 7; i++)
		for (size_t b = 0; b < 4; b++)
			buf[4 * i + b] = (uint8_t)(v[i] >> (24 - 8 * b));
	crypto_generichash(h, sizeof(h), buf, sizeof(buf), NULL, 0);
	return tj_store_rd64(h) | 1u;
}

/* r->clean: may this evaluation skip clusters? Thresholds other than those marked make the store dirty. */
static int tj__rules_clean(struct tj__rules *r)
{
	uint64_t f = 0;
	int rc;

	r->clean = false;
	if ((rc = tj__alert_u64_get(r->t, TJ__CLEAN_KEY, &f)) != 0 || f == 0 || f == TJ__DIRTY)
		return rc;
	if (f == tj__clusters_print()) {
		r->clean = true;
		return 0;
	}
	return tj__alert_u64_put(r->t, TJ__CLEAN_KEY, TJ__DIRTY);
}

/*
 * One key's region cut at TJ__REGION_MAX: that key's stored clusters are no
 * longer known to be what the thresholds give, so its evaluations take the
 * full path from now on ('D' || trigger || key in "alerts", never removed).
 * Only that key: the clusters of a key are computed from its own entries and
 * stored under alert ids of its own, so every other key stays clean (before
 * 2026-12-05 one cut made the whole store dirty, and every add of any key
 * slow). *dirty: the key is marked (now or before). Only asked while the
 * store is clean: a dirty store evaluates everything in full anyway.
 */
uint32_t tj_alert_test_region_max;
uint64_t tj_alert_test_fast_evals;

static int tj__key_dirty(struct tj__rules *r, uint8_t trigger, const uint8_t key[32], bool mark, bool *dirty)
{
	uint8_t k[34];
	MDB_val kv = {sizeof(k), k}, v = {0, (void *)""};
	MDB_dbi dbi;
	int rc;

	*dirty = false;
	k[0] = 'D';
	k[1] = trigger;
	memcpy(k + 2, key, 32);
	if ((rc = tj__alert_dbi(r->t, &dbi)) != 0)
		return rc;
	if (mark) {
		*dirty = true;
		return mdb_put(r->t->txn, dbi, &kv, &v, 0) == 0 ? 0 : TJ_ESTORE;
	}
	rc = mdb_get(r->t->txn, dbi, &kv, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return TJ_ESTORE;
	*dirty = rc == 0;
	return 0;
}

int tj__alert_clean_forget(struct tj_txn *t)
{
	uint64_t f = 0;
	int rc;

	if ((rc = tj__alert_u64_get(t, TJ__CLEAN_KEY, &f)) != 0 || f == 0 || f == TJ__DIRTY)
		return rc;
	return tj__alert_u64_put(t, TJ__CLEAN_KEY, TJ__DIRTY);
}

int tj__alert_clean_check(struct tj_txn *t)
{
	uint8_t prefix = 'A';
	MDB_val k = {1, &prefix}, v;
	MDB_cursor *cur = NULL;
	MDB_dbi qdbi, adbi;
	MDB_stat st;
	uint64_t f = 0;
	bool fresh;
	int rc;

	if ((rc = tj__alert_u64_get(t, TJ__CLEAN_KEY, &f)) != 0 || f != 0)
		return rc;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &qdbi)) != 0 ||
	    (rc = tj__alert_dbi(t, &adbi)) != 0)
		return rc;
	if (mdb_stat(t->txn, qdbi, &st) != 0 || mdb_cursor_open(t->txn, adbi, &cur) != 0)
		return TJ_ESTORE;
	/* Nothing indexed and no alert: no cluster, and none stored. */
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return TJ_ESTORE;
	fresh = st.ms_entries == 0 &&
	        (rc == MDB_NOTFOUND || k.mv_size == 0 || ((const uint8_t *)k.mv_data)[0] != 'A');
	return tj__alert_u64_put(t, TJ__CLEAN_KEY, fresh ? tj__clusters_print() : TJ__DIRTY);
}

/* A cluster of a region: its anchor h, the first entry of its windows, its last firing entry tl. */
struct tj__cl {
	size_t h, first, tl;
};

/*
 * The clusters of g (fire set) in the periods from p0 on, in order: firing
 * entries at most W days apart, within one period of B days. *out is
 * malloc'd (the caller frees it).
 */
static int tj__region_clusters(const struct tj__region *g, int64_t W, int64_t B, int64_t p0,
                               struct tj__cl **out, size_t *n_out)
{
	struct tj__cl *cl = malloc((g->n + 1) * sizeof(*cl));
	size_t h = SIZE_MAX, tl = 0, n = 0;

	if (cl == NULL)
		return -ENOMEM;
	for (size_t i = 0; i <= g->n; i++) {
		size_t first;
		if (i < g->n && (!g->fire[i] || g->days[i] < p0 * B))
			continue;
		if (i < g->n && h != SIZE_MAX && g->days[i] - g->days[tl] <= W &&
		    tj__period(g->days[i], B) == tj__period(g->days[h], B)) {
			tl = i;
			continue;
		}
		if (h != SIZE_MAX) {
			for (first = h; first > 0 && g->days[first - 1] >= g->days[h] - W; first--)
				;
			cl[n++] = (struct tj__cl){h, first, tl};
		}
		h = tl = i;
	}
	*out = cl;
	*n_out = n;
	return 0;
}

/* o = g without its entry s (days, ids, victims, and what fires in g). */
static int tj__region_without(const struct tj__region *g, size_t s, struct tj__region *o)
{
	size_t nv = g->voff[s + 1] - g->voff[s];
	int rc;

	while (o->cap == 0 || o->cap < g->n)
		if ((rc = tj__region_grow(o)) != 0)
			return rc;
	if (g->nvic > o->vcap) {
		uint8_t(*vic)[TJ__IDENT_BYTES] = realloc(o->vic, g->nvic * TJ__IDENT_BYTES);
		if (vic == NULL)
			return -ENOMEM;
		o->vic = vic;
		o->vcap = g->nvic;
	}
	o->lo = g->lo;
	o->hi = g->hi;
	o->cut = g->cut;
	o->n = g->n - 1;
	o->nvic = g->nvic - nv;
	for (size_t i = 0, j = 0; i < g->n; i++) {
		if (i == s)
			continue;
		o->days[j] = g->days[i];
		memcpy(o->ids[j], g->ids[i], 32);
		o->fire[j] = g->fire[i];
		o->head[j] = false;
		o->voff[j++] = i < s ? g->voff[i] : g->voff[i] - (uint32_t)nv;
	}
	o->voff[o->n] = (uint32_t)o->nvic;
	if (g->voff[s] > 0)
		memcpy(o->vic, g->vic, g->voff[s] * (size_t)TJ__IDENT_BYTES);
	if (g->nvic > g->voff[s + 1])
		memcpy(o->vic[g->voff[s]], g->vic[g->voff[s + 1]],
		       (g->nvic - g->voff[s + 1]) * TJ__IDENT_BYTES);
	return 0;
}

/*
 * tj__clusters after adding entry s (dated d) of g to a clean store, with g
 * fired. The store held the clusters of g without s (r->g0), each alert set
 * by its anchor and no other entry anchoring one. A cluster of g equal to
 * one of those (same anchor, same entries) is stored as tj__alert_set would
 * set it, and anchors nothing else: it is skipped. Only former anchors can
 * hold an alert to withdraw or carry, so only they are looked up, in the
 * order the full evaluation looks them up (its other look-ups find nothing).
 */
static int tj__clusters_added(struct tj__rules *r, uint8_t trigger, const char *X, int64_t d, int64_t W,
                              uint32_t min, int64_t p0, size_t s)
{
	struct tj__region *g = &r->g, *o = &r->g0;
	struct tj__cl *cl = NULL, *ocl = NULL;
	int64_t B = tj__period_days(W);
	uint8_t akey[TJ_CODE_MAX + 32], aid[32];
	size_t ncl = 0, nocl = 0, *was = NULL, klen;
	int rc;

	if ((rc = tj__region_without(g, s, o)) != 0)
		return rc;
	/* Only the windows holding d, [d, d + W], differ without s. */
	tj__region_fire_days(o, W, min, trigger == TJ_T5_PATTERN ? &r->vs : NULL, d, d + W);
	if ((rc = tj__region_clusters(o, W, B, p0, &ocl, &nocl)) != 0 ||
	    (rc = tj__region_clusters(g, W, B, p0, &cl, &ncl)) != 0)
		goto out;
	if ((was = calloc(g->n, sizeof(*was))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* was[i]: 1 + the former cluster entry i of g anchored (entries after s moved by one). */
	for (size_t k = 0; k < nocl; k++)
		was[ocl[k].h < s ? ocl[k].h : ocl[k].h + 1] = k + 1;
	for (size_t k = 0; k < ncl && rc == 0; k++) {
		const struct tj__cl *c = &cl[k], *p = was[c->h] != 0 ? &ocl[was[c->h] - 1] : NULL;
		g->head[c->h] = true;
		if (p != NULL && (s < c->first || s > c->tl) &&
		    (p->first < s ? p->first : p->first + 1) == c->first &&
		    (p->tl < s ? p->tl : p->tl + 1) == c->tl)
			continue; /* the same cluster as before */
		if ((rc = tj__anchor_moved(r, trigger, X, d, W, c->h, c->tl, was)) != 0)
			break;
		klen = tj__anchor_key(X, g->ids[c->h], akey);
		rc = tj__alert_set(r, trigger, akey, klen, (const uint8_t(*)[32])g->ids + c->first,
		                   g->days + c->first, c->tl - c->first + 1,
		                   r->carry.trigger != 0        ? &r->carry
		                   : r->gone.trigger == trigger ? &r->gone
		                                                : NULL);
	}
	/* A former anchor of [d, d + 2W] that anchors nothing now loses its alert. */
	for (size_t i = 0; i < g->n && rc == 0; i++) {
		if (was[i] == 0 || g->head[i] || g->days[i] < d || g->days[i] > d + 2 * W ||
		    !tj__known(g, i, W))
			continue;
		klen = tj__anchor_key(X, g->ids[i], akey);
		tj__alert_id(trigger, akey, klen, aid);
		rc = tj__alert_withdraw(r->n, r->t, aid, false);
	}
out:
	free(was);
	free(cl);
	free(ocl);
	return rc;
}

/*
 * T3 and T5 for one key after a change dated d (an incident added or
 * removed): every cluster of the periods of [d - W, d + 2W] is recomputed
 * (its alert, by its anchor, set), and an incident of [d, d + 2W] that
 * anchors no cluster loses the alert it may have anchored before (the
 * anchor moved, or it no longer fires). Firing only changes in [d, d + W],
 * so only clusters with a firing incident within a window of it can change.
 */
static int tj__clusters(struct tj__rules *r, uint8_t trigger, const uint8_t key[32], const char *X, int64_t d)
{
	const struct tj_alert_config *cfg = tj_alert_config_current();
	int64_t W = trigger == TJ_T3_CLUSTER ? cfg->t3_window_days : cfg->t5_window_days;
	uint32_t min = trigger == TJ_T3_CLUSTER ? cfg->t3_min_incidents : cfg->t5_min_victims;
	struct tj__region *g = &r->g;
	uint8_t akey[TJ_CODE_MAX + 32], aid[32];
	int64_t B = tj__period_days(W), p0 = tj__period(d - W, B), p1 = tj__period(d + 2 * W, B);
	struct tj__cl *cl = NULL;
	size_t n_cl = 0, klen;
	bool key_dirty = false;
	int rc;

	/* The periods of [d - W, d + 2W], and a window before them for the first ones' windows. */
	if ((rc = tj__region_load(r->t, key, p0 * B - W, (p1 + 1) * B - 1, trigger == TJ_T5_PATTERN, g)) != 0)
		return rc;
	if (r->clean && (rc = tj__key_dirty(r, trigger, key, g->cut, &key_dirty)) != 0)
		return rc;
	tj__region_fire(g, W, min, trigger == TJ_T5_PATTERN ? &r->vs : NULL);
	if (r->clean && !key_dirty && r->self != NULL) {
		for (size_t s = 0; s < g->n; s++)
			if (g->days[s] == d && memcmp(g->ids[s], r->self, 32) == 0) {
				tj_alert_test_fast_evals++;
				return tj__clusters_added(r, trigger, X, d, W, min, p0, s);
			}
	}
	if ((rc = tj__region_clusters(g, W, B, p0, &cl, &n_cl)) != 0)
		return rc;
	for (size_t c = 0; c < n_cl && rc == 0; c++) {
		/* The cluster h..tl: every incident of its windows, from first. */
		size_t h = cl[c].h, tl = cl[c].tl, first = cl[c].first;
		if ((rc = tj__anchor_moved(r, trigger, X, d, W, h, tl, NULL)) != 0)
			break;
		klen = tj__anchor_key(X, g->ids[h], akey);
		rc = tj__alert_set(r, trigger, akey, klen, (const uint8_t(*)[32])g->ids + first,
		                   g->days + first, tl - first + 1,
		                   r->carry.trigger != 0        ? &r->carry
		                   : r->gone.trigger == trigger ? &r->gone
		                                                : NULL);
		g->head[h] = rc == 0;
	}
	free(cl);
	if (rc != 0)
		return rc;
	/* Every other incident of [d, d + 2W] anchors nothing (any more). */
	for (size_t i = 0; i < g->n; i++) {
		if (g->head[i] || g->days[i] < d || g->days[i] > d + 2 * W || !tj__known(g, i, W))
			continue;
		klen = tj__anchor_key(X, g->ids[i], akey);
		tj__alert_id(trigger, akey, klen, aid);
		if ((rc = tj__alert_withdraw(r->n, r->t, aid, false)) != 0)
			return rc;
	}
	return 0;
}

/* T3: the clusters of the incident's municipality around its day. */
static int tj__t3(struct tj__rules *r, const struct tj_incident_summary *s)
{
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t key[32];

	if (s->location.municipality[0] == '\0' || day < 0)
		return 0;
	tj_query_key(r->n, "municipality", s->location.municipality, key);
	return tj__clusters(r, TJ_T3_CLUSTER, key, NULL, day);
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

/*
 * T4 for one victim key after a change dated day: every anchor in [day, day
 * + W] lists itself and the earlier incidents of its window, or, with none
 * (any more), anchors nothing.
 */
static int tj__t4_key(struct tj__rules *r, const uint8_t key[32], int64_t day)
{
	int64_t W = tj_alert_config_current()->t4_window_days;
	uint8_t aid[32];
	size_t k;
	int rc;

	if ((rc = tj__window(r->t, key, day, day + W, &r->anchors, NULL)) != 0)
		return rc;
	for (size_t i = 0; i < r->anchors.n && rc == 0; i++) {
		const uint8_t *anchor = r->anchors.ids[i];
		if ((rc = tj__window(r->t, key, r->anchors.days[i] - W, r->anchors.days[i], &r->win, NULL)) !=
		    0)
			break;
		/* Keep the anchor and those earlier than it; the window is in (day, id) order. */
		for (k = 0;
		     k < r->win.n && tj__earlier(r->win.days[k], r->win.ids[k], r->anchors.days[i], anchor);
		     k++)
			;
		if (k >= r->win.n)
			continue; /* a window cut short before the anchor */
		if (k == 0) {
			tj__alert_id(TJ_T4_ESCALATION, anchor, 32, aid);
			rc = tj__alert_withdraw(r->n, r->t, aid, false);
		} else {
			rc = tj__alert_set(r, TJ_T4_ESCALATION, anchor, 32, (const uint8_t(*)[32])r->win.ids,
			                   r->win.days, k + 1, NULL);
		}
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

/* The distinct aggressor types of s's acts, and the T5 key of each. */
static void tj__t5_types(struct tj_node *n, const struct tj_incident_summary *s, struct tj_code_set *types,
                         uint8_t (*keys)[32])
{
	char code[3 + TJ_CODE_MAX + 1];

	memset(types, 0, sizeof(*types));
	for (uint32_t i = 0; i < s->n_acts; i++)
		if (s->acts[i].aggressor >= 0 && (uint32_t)s->acts[i].aggressor < s->n_aggressors)
			tj_code_set_add(types, s->aggressors[s->acts[i].aggressor].type);
	for (uint32_t j = 0; j < types->n; j++) {
		snprintf(code, sizeof(code), "%s|%s", s->location.state, types->v[j]);
		tj_query_key(n, "t5v", code, keys[j]);
	}
}

static int tj__t5(struct tj__rules *r, const struct tj_incident_summary *s, const uint8_t author[32],
                  const uint8_t id[32])
{
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t keys[TJ_ALERT_CODES_MAX][32];
	struct tj_code_set types;
	int rc = 0;

	if (day < 0)
		return 0;
	tj__t5_types(r->n, s, &types, keys);
	for (uint32_t j = 0; j < types.n && rc == 0; j++)
		if ((rc = tj__t5_put(r->n, r->t, keys[j], day, s, author, id, types.v[j])) == 0)
			rc = tj__clusters(r, TJ_T5_PATTERN, keys[j], types.v[j], day);
	return rc;
}

static struct tj__rules *tj__rules_new(struct tj_node *n, struct tj_txn *t)
{
	struct tj__rules *r = calloc(1, sizeof(*r));

	if (r != NULL) {
		r->n = n;
		r->t = t;
	}
	return r;
}

static void tj__rules_free(struct tj__rules *r)
{
	tj__region_free(&r->g);
	tj__region_free(&r->g0);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

int tj_alert_evaluate(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                      const uint8_t author[32], const uint8_t id[32])
{
	struct tj__rules *r = tj__rules_new(n, t);
	int rc;

	if (r == NULL)
		return -ENOMEM;
	r->self = id;
	/* Its codes first: the window rules read them for every incident of a window, this one included. */
	tj__alert_codes_of(s, &r->c);
	if ((rc = tj__rules_clean(r)) == 0)
		rc = tj__alert_codes_put(n, t, id, &r->c);
	if (rc == 0)
		rc = tj__singles(n, t, &r->a, s, id);
	if (rc == 0)
		rc = tj__t3(r, s);
	if (rc == 0)
		rc = tj__t4(r, s, author, id);
	if (rc == 0)
		rc = tj__t5(r, s, author, id);
	tj__rules_free(r);
	return rc;
}

/* ---- retraction ------------------------------------------------------------ */

/* The single-incident and T4 alerts id anchored, whichever fired: purged (they can never come back). */
static int tj__purge_anchored(struct tj__rules *r, const uint8_t id[32])
{
	uint8_t aid[32];
	int rc = 0;

	for (uint8_t trig = TJ_T1_FLASH; trig <= TJ_T7_ONGOING && rc == 0; trig++) {
		if (trig == TJ_T3_CLUSTER || trig == TJ_T5_PATTERN)
			continue;
		tj__alert_id(trig, id, 32, aid);
		rc = tj__alert_withdraw(r->n, r->t, aid, true);
	}
	return rc;
}

/* The cluster alert id anchored (T3, or T5 for type X): kept in r->gone for its continuation, and purged. */
static int tj__purge_cluster(struct tj__rules *r, uint8_t trigger, const char *X, const uint8_t id[32])
{
	uint8_t aid[32], akey[TJ_CODE_MAX + 32];
	size_t klen = tj__anchor_key(X, id, akey);
	int rc;

	tj__alert_id(trigger, akey, klen, aid);
	r->gone.trigger = 0;
	if ((rc = tj__alert_load(r->n, r->t, aid, &r->gone)) != 0 && rc != TJ_ENOTFOUND)
		return rc;
	if (rc == TJ_ENOTFOUND)
		r->gone.trigger = 0;
	return tj__alert_withdraw(r->n, r->t, aid, true);
}

int tj__alert_incident_removed(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                               const uint8_t author[32], const uint8_t id[32])
{
	struct tj__rules *r = tj__rules_new(n, t);
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t keys[TJ_ALERT_CODES_MAX][32], key[32];
	struct tj_code_set types;
	int rc;

	if (r == NULL)
		return -ENOMEM;
	tj__t5_types(n, s, &types, keys);
	if ((rc = tj__rules_clean(r)) == 0)
		rc = tj__purge_anchored(r, id);
	if (rc == 0)
		rc = tj__alert_codes_del(t, id);
	for (uint32_t j = 0; j < types.n && rc == 0; j++) {
		if ((rc = tj__purge_cluster(r, TJ_T5_PATTERN, types.v[j], id)) != 0 ||
		    (rc = tj_query_index_remove(t, keys[j], day, id)) != 0)
			break;
		if (day >= 0)
			rc = tj__clusters(r, TJ_T5_PATTERN, keys[j], types.v[j], day);
	}
	if (rc == 0)
		rc = tj__purge_cluster(r, TJ_T3_CLUSTER, NULL, id);
	if (rc == 0 && day >= 0 && s->location.municipality[0] != '\0') {
		/* Its municipality entry went with the query index (tj_query_index_del). */
		tj_query_key(n, "municipality", s->location.municipality, key);
		rc = tj__clusters(r, TJ_T3_CLUSTER, key, NULL, day);
	}
	for (uint32_t i = 0; i < s->n_victims && rc == 0 && day >= 0; i++) {
		if (s->victims[i].ref[0] == '\0')
			continue;
		tj__victim_key(n, author, s->victims[i].ref, key);
		if ((rc = tj_query_index_remove(t, key, day, id)) == 0)
			rc = tj__t4_key(r, key, day);
	}
	tj__rules_free(r);
	return rc;
}
