/* Statistics as published: suppression, rates and labels (rules in tj_stats.h). */
#include <stdio.h>
#include <string.h>

#include "tj_stats.h"

static const char *const tj__unit_names[TJ_UNIT__COUNT] = {"incidents", "acts", "victims"};

/* The vocabulary of a dimension, for labels; NULL for state and month. */
static const char *tj__vocab(const char *dim)
{
	if (strcmp(dim, "gender") == 0)
		return "gender";
	if (strcmp(dim, "aggressor_type") == 0)
		return "aggressor_type";
	if (strcmp(dim, "aggressor_level") == 0)
		return "aggressor_level";
	if (strcmp(dim, "act_type") == 0)
		return "act_type";
	if (strcmp(dim, "cause") == 0)
		return "defended_cause";
	if (strcmp(dim, "protection") == 0)
		return "protection_status";
	if (strcmp(dim, "failed") == 0)
		return "protection_measure";
	return NULL;
}

static const char *tj__label(const char *dim, const char *code, enum tj_lang lang)
{
	const char *vocab = tj__vocab(dim);

	if (strcmp(code, "none") == 0)
		return lang == TJ_LANG_ES ? "Ninguno / sin dato" : "None / not recorded";
	if (strcmp(dim, "state") == 0) {
		const struct tj_state_info *st = tj_inegi_state(code);
		return st != NULL ? st->name : code;
	}
	return vocab != NULL ? tj_vocab_label(vocab, code, lang) : code;
}

/* The population a cell's rate divides by: 0 when there is none. */
static uint64_t tj__population(const struct tj_stats *st, const char *const vals[2])
{
	const char *state = st->q.state[0] != '\0' ? st->q.state : NULL, *gender = NULL;
	uint64_t total = 0, women = 0, men = 0;

	for (uint32_t d = 0; d < st->q.n_dims; d++) {
		if (strcmp(st->q.dims[d], "state") == 0)
			state = vals[d];
		else if (strcmp(st->q.dims[d], "gender") == 0)
			gender = vals[d];
	}
	if (state != NULL) {
		const struct tj_state_info *si = tj_inegi_state(state);
		if (si == NULL)
			return 0;
		total = si->pop_total, women = si->pop_women, men = si->pop_men;
	} else {
		size_t n;
		const struct tj_state_info *all = tj_inegi_states(&n);
		for (size_t i = 0; i < n; i++)
			total += all[i].pop_total, women += all[i].pop_women, men += all[i].pop_men;
	}
	if (gender == NULL)
		return total;
	if (strcmp(gender, "woman") == 0)
		return women;
	if (strcmp(gender, "man") == 0)
		return men;
	return 0; /* no census figure for other genders */
}

static void tj__add_count(cJSON *cell, const char *unit, uint64_t count, bool per_100k, uint64_t pop)
{
	char key[48];

	snprintf(key, sizeof(key), "%s_per_100k", unit);
	if (count > 0 && count < TJ_STATS_SUPPRESS_BELOW) {
		cJSON *o = cJSON_AddObjectToObject(cell, unit);
		if (o != NULL)
			cJSON_AddBoolToObject(o, "suppressed", true);
		if (per_100k)
			cJSON_AddNullToObject(cell, key);
		return;
	}
	cJSON_AddNumberToObject(cell, unit, (double)count);
	if (!per_100k)
		return;
	if (pop == 0)
		cJSON_AddNullToObject(cell, key);
	else
		cJSON_AddNumberToObject(cell, key, (double)count * 100000.0 / (double)pop);
}

static cJSON *tj__cell(const struct tj_stats *st, uint32_t i, uint32_t j, bool per_100k, enum tj_lang lang)
{
	size_t at = (size_t)i * (st->q.n_dims == 2 ? TJ_STATS_VALUES_MAX : 1) + j;
	const char *vals[2] = {st->dim[0].v[i], st->q.n_dims == 2 ? st->dim[1].v[j] : ""};
	uint64_t pop = tj__population(st, vals);
	cJSON *cell = cJSON_CreateObject();
	char key[48];

	if (cell == NULL)
		return NULL;
	for (uint32_t d = 0; d < st->q.n_dims; d++) {
		cJSON_AddStringToObject(cell, st->q.dims[d], vals[d]);
		snprintf(key, sizeof(key), "%s_label", st->q.dims[d]);
		cJSON_AddStringToObject(cell, key, tj__label(st->q.dims[d], vals[d], lang));
	}
	for (int u = 0; u < TJ_UNIT__COUNT; u++)
		tj__add_count(cell, tj__unit_names[u], st->counts[u][at], per_100k, pop);
	return cell;
}

static int tj__cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Dimension values in code order, as indexes. */
static void tj__order(const struct tj_stats_dim *d, uint32_t *idx)
{
	const char *p[TJ_STATS_VALUES_MAX];

	for (uint32_t i = 0; i < d->n; i++)
		p[i] = d->v[i];
	qsort(p, d->n, sizeof(p[0]), tj__cmp_str);
	for (uint32_t i = 0; i < d->n; i++)
		idx[i] = (uint32_t)((const char(*)[TJ_CODE_MAX])(const void *)p[i] - d->v);
}

cJSON *tj_stats_to_json(const struct tj_stats *st, bool per_100k, enum tj_lang lang)
{
	uint32_t o1[TJ_STATS_VALUES_MAX], o2[TJ_STATS_VALUES_MAX];
	cJSON *doc = cJSON_CreateObject(), *by, *cells;
	uint32_t n2 = st->q.n_dims == 2 ? st->dim[1].n : 1;

	if (doc == NULL)
		return NULL;
	by = cJSON_AddArrayToObject(doc, "by");
	for (uint32_t d = 0; by != NULL && d < st->q.n_dims; d++)
		cJSON_AddItemToArray(by, cJSON_CreateString(st->q.dims[d]));
	cJSON_AddStringToObject(doc, "state", st->q.state);
	cJSON_AddNumberToObject(doc, "suppressed_below", TJ_STATS_SUPPRESS_BELOW);
	if (per_100k)
		cJSON_AddStringToObject(doc, "population", "INEGI, Censo de Población y Vivienda 2020");
	tj__order(&st->dim[0], o1);
	if (st->q.n_dims == 2)
		tj__order(&st->dim[1], o2);
	else
		o2[0] = 0;
	cells = cJSON_AddArrayToObject(doc, "cells");
	for (uint32_t i = 0; cells != NULL && i < st->dim[0].n; i++) {
		for (uint32_t j = 0; j < n2; j++) {
			size_t at = (size_t)o1[i] * (st->q.n_dims == 2 ? TJ_STATS_VALUES_MAX : 1) + o2[j];
			if (st->counts[TJ_UNIT_INCIDENTS][at] == 0)
				continue; /* an empty combination is no cell */
			cJSON_AddItemToArray(cells, tj__cell(st, o1[i], o2[j], per_100k, lang));
		}
	}
	return doc;
}
