/* Statistics: the counting (rules in tj_stats.h). */
#include "tj_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_query.h"

static const char *const tj__dims[] = {"gender",   "aggressor_type", "aggressor_level", "state", "month",
                                       "act_type", "cause",          "protection",      "failed"};
#define TJ__N_DIMS (sizeof(tj__dims) / sizeof(tj__dims[0]))
#define TJ__VALS_MAX (TJ_INC_VICTIMS_MAX * TJ_INC_LIST_MAX + TJ_INC_ACTS_MAX)

bool tj_stats_dim_valid(const char *name)
{
	for (size_t i = 0; i < TJ__N_DIMS; i++)
		if (strcmp(tj__dims[i], name) == 0)
			return true;
	return false;
}

int tj_stats_dims_parse(const char *list, struct tj_stats_query *q, char bad[24])
{
	const char *p = list;

	q->n_dims = 0;
	bad[0] = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		char name[24];
		if (len == 0 || len >= sizeof(name) || q->n_dims == TJ_STATS_DIMS_MAX) {
			snprintf(bad, 24, "%.*s", (int)(len < 23 ? len : 23), p);
			return TJ_ESCHEMA;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (!tj_stats_dim_valid(name) || (q->n_dims == 1 && strcmp(q->dims[0], name) == 0)) {
			snprintf(bad, 24, "%s", name);
			return TJ_ESCHEMA;
		}
		snprintf(q->dims[q->n_dims++], sizeof(q->dims[0]), "%s", name);
		p += len + (p[len] == ',');
	}
	return q->n_dims > 0 ? 0 : TJ_ESCHEMA;
}

static void tj__push(const char **out, size_t cap, size_t *n, const char *v)
{
	if (v == NULL || v[0] == '\0')
		v = "none";
	for (size_t i = 0; i < *n; i++)
		if (strcmp(out[i], v) == 0)
			return;
	if (*n < cap)
		out[(*n)++] = v;
}

static void tj__push_list(const char **out, size_t cap, size_t *n, const struct tj_codelist *l)
{
	if (l->n == 0)
		tj__push(out, cap, n, "none");
	for (uint32_t i = 0; i < l->n; i++)
		tj__push(out, cap, n, l->v[i]);
}

/* The aggressor of act a: its type or level, "none" without one. */
static const char *tj__agg(const struct tj_incident_summary *s, const struct tj_act *a, bool level)
{
	if (a->aggressor < 0 || (uint32_t)a->aggressor >= s->n_aggressors)
		return "none";
	return level ? s->aggressors[a->aggressor].level : s->aggressors[a->aggressor].type;
}

/* Values of a per-act or per-victim dimension for victim v (acts against v) or act a. */
static void tj__person_values(const struct tj_incident_summary *s, const char *dim, int64_t victim,
                              int64_t act, const char **out, size_t cap, size_t *n)
{
	bool level = strcmp(dim, "aggressor_level") == 0;

	for (uint32_t i = 0; i < s->n_acts; i++) {
		const struct tj_act *a = &s->acts[i];
		if ((act >= 0 && i != act) || (victim >= 0 && a->victim != victim))
			continue;
		if (strcmp(dim, "act_type") == 0)
			tj__push(out, cap, n, a->type);
		else if (level || strcmp(dim, "aggressor_type") == 0)
			tj__push(out, cap, n, tj__agg(s, a, level));
	}
	if (*n == 0)
		tj__push(out, cap, n, "none");
}

static void tj__victim_values(const struct tj_incident_summary *s, const char *dim, uint32_t v,
                              const char **out, size_t cap, size_t *n)
{
	if (v >= s->n_victims)
		return;
	if (strcmp(dim, "gender") == 0)
		tj__push(out, cap, n, s->victims[v].gender);
	else if (strcmp(dim, "cause") == 0)
		tj__push_list(out, cap, n, &s->victims[v].defended_causes);
}

size_t tj_stats_values(const struct tj_incident_summary *s, const char *dim, enum tj_stats_unit unit,
                       uint32_t idx, char month[8], const char **out, size_t cap)
{
	size_t n = 0;

	if (strcmp(dim, "state") == 0) {
		tj__push(out, cap, &n, s->location.state);
	} else if (strcmp(dim, "month") == 0) {
		if (s->occurred.start.month >= 1 && s->occurred.start.month <= 12)
			snprintf(month, 8, "%04u-%02u", (unsigned)s->occurred.start.year % 10000u,
			         s->occurred.start.month % 100u);
		else
			snprintf(month, 8, "unknown");
		tj__push(out, cap, &n, month);
	} else if (strcmp(dim, "protection") == 0) {
		tj__push(out, cap, &n, s->protection.status);
	} else if (strcmp(dim, "failed") == 0) {
		tj__push_list(out, cap, &n, &s->protection.failed);
	} else if (strcmp(dim, "gender") == 0 || strcmp(dim, "cause") == 0) {
		if (unit == TJ_UNIT_ACTS && idx < s->n_acts)
			tj__victim_values(s, dim, s->acts[idx].victim, out, cap, &n);
		else if (unit == TJ_UNIT_VICTIMS)
			tj__victim_values(s, dim, idx, out, cap, &n);
		for (uint32_t v = 0; unit == TJ_UNIT_INCIDENTS && v < s->n_victims; v++)
			tj__victim_values(s, dim, v, out, cap, &n);
	} else {
		tj__person_values(s, dim, unit == TJ_UNIT_VICTIMS ? (int64_t)idx : -1,
		                  unit == TJ_UNIT_ACTS ? (int64_t)idx : -1, out, cap, &n);
	}
	return n;
}

int tj_stats_new(const struct tj_stats_query *q, struct tj_stats **out)
{
	struct tj_stats *st = calloc(1, sizeof(*st));
	size_t cells = TJ_STATS_VALUES_MAX * (q->n_dims == 2 ? TJ_STATS_VALUES_MAX : 1);

	*out = NULL;
	if (st == NULL)
		return -ENOMEM;
	st->q = *q;
	for (int u = 0; u < TJ_UNIT__COUNT; u++) {
		if ((st->counts[u] = calloc(cells, sizeof(uint64_t))) == NULL) {
			tj_stats_free(st);
			return -ENOMEM;
		}
	}
	*out = st;
	return 0;
}

void tj_stats_free(struct tj_stats *st)
{
	if (st == NULL)
		return;
	for (int u = 0; u < TJ_UNIT__COUNT; u++)
		free(st->counts[u]);
	free(st);
}

/* The index of v in dimension d, added if new; -1 when the dimension is full. */
static int tj__dim_index(struct tj_stats_dim *d, const char *v)
{
	for (uint32_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i], v) == 0)
			return (int)i;
	if (d->n == TJ_STATS_VALUES_MAX)
		return -1;
	snprintf(d->v[d->n], TJ_CODE_MAX, "%s", v);
	return (int)d->n++;
}

/* One unit: +1 in every cell its values span. */
static int tj__count_unit(struct tj_stats *st, const struct tj_incident_summary *s, enum tj_stats_unit unit,
                          uint32_t idx)
{
	const char *a[TJ__VALS_MAX], *b[TJ__VALS_MAX] = {"*"};
	char m1[8], m2[8];
	size_t na = tj_stats_values(s, st->q.dims[0], unit, idx, m1, a, TJ__VALS_MAX), nb = 1;

	if (st->q.n_dims == 2)
		nb = tj_stats_values(s, st->q.dims[1], unit, idx, m2, b, TJ__VALS_MAX);
	for (size_t i = 0; i < na; i++) {
		int x = tj__dim_index(&st->dim[0], a[i]);
		for (size_t j = 0; j < nb; j++) {
			int y = st->q.n_dims == 2 ? tj__dim_index(&st->dim[1], b[j]) : 0;
			if (x < 0 || y < 0)
				return TJ_ELIMIT;
			st->counts[unit]
			          [(size_t)x * (st->q.n_dims == 2 ? TJ_STATS_VALUES_MAX : 1) + (size_t)y]++;
		}
	}
	return 0;
}

int tj_stats_add(struct tj_stats *st, const struct tj_incident_summary *s)
{
	int rc = tj__count_unit(st, s, TJ_UNIT_INCIDENTS, 0);

	for (uint32_t i = 0; i < s->n_acts && rc == 0; i++)
		rc = tj__count_unit(st, s, TJ_UNIT_ACTS, i);
	for (uint32_t i = 0; i < s->n_victims && rc == 0; i++)
		rc = tj__count_unit(st, s, TJ_UNIT_VICTIMS, i);
	st->n_incidents++;
	return rc;
}

struct tj__stats_run {
	struct tj_stats *st;
	int rc;
};

static int tj__stats_cb(void *ctx, const struct tj_query_hit *hit)
{
	struct tj__stats_run *r = ctx;

	r->rc = tj_stats_add(r->st, hit->s);
	return r->rc;
}

int tj_stats_compute(struct tj_node *n, const struct tj_stats_query *q, struct tj_stats **out)
{
	struct tj_query *qq = calloc(1, sizeof(*qq));
	struct tj_stats *st = NULL;
	uint64_t matched = 0;
	int rc;

	*out = NULL;
	if (qq == NULL)
		return -ENOMEM;
	if (q->state[0] != '\0') {
		snprintf(qq->terms[0].field, sizeof(qq->terms[0].field), "state");
		snprintf(qq->terms[0].codes[0], TJ_CODE_MAX, "%s", q->state);
		qq->terms[0].n_codes = 1;
		qq->n_terms = 1;
	}
	qq->has_since = q->has_from;
	qq->since_day = q->from_day;
	qq->has_until = q->has_to;
	qq->until_day = q->to_day;
	if ((rc = tj_stats_new(q, &st)) == 0) {
		struct tj__stats_run r = {st, 0};
		rc = tj_query_run(n, qq, tj__stats_cb, &r, &matched);
		if (rc == 0)
			rc = r.rc; /* a callback's refusal (too many values) ends the run without a result */
	}
	free(qq);
	if (rc != 0) {
		tj_stats_free(st);
		return rc;
	}
	*out = st;
	return 0;
}
