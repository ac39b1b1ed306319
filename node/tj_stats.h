/*
 * Statistics (DESIGN.md "Statistics"): counts of incidents, acts and victims
 * over the incidents this node can read, disaggregated by one or two of:
 *
 *   gender, aggressor_type, aggressor_level, state, month, act_type, cause,
 *   protection (status), failed (the protection measure that failed)
 *
 * Counting units. An act counts under its own victim's gender and causes,
 * its own aggressor's type and level ("none" without an aggressor), its own
 * type. A victim counts under its gender and causes, the types and levels of
 * the aggressors of the acts against it, and those acts' types. An incident
 * counts under every value it holds (all victims' genders, all aggressors...).
 * A unit holding several values of one dimension counts once under each, so
 * rows may add up to more than the units; no totals are published (a total
 * would let a reader subtract a suppressed cell back out). Every dimension
 * of every incident also has state and month ("YYYY-MM" of occurred.start;
 * "unknown" for a year-only date). Missing values count as "none".
 *
 * Retraction leaves nothing to remove here: every count is computed when
 * asked, from the query index and the stored bodies (tj_query_run), and a
 * retracted incident has neither (tj_alert.h "Retraction").
 *
 * Publication rules, applied by tj_stats_to_json() and nowhere later:
 *   - a count from 1 to TJ_STATS_SUPPRESS_BELOW - 1 is suppressed:
 *     {"suppressed": true} instead of the number, and no rate;
 *   - nothing below state level exists here (no municipality dimension or
 *     filter), so protection-measure failures are never shown below it;
 *   - rates per 100,000 inhabitants use the INEGI 2020 population of the
 *     state (the cell's, else the filter's, else the country's) and, for
 *     the genders woman and man, that population's women or men; other
 *     genders get no rate (no population figure exists for them).
 */
#ifndef TJ_STATS_H
#define TJ_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "tj_error.h"
#include "tj_incident.h"
#include "tj_node_core.h"

#define TJ_STATS_SUPPRESS_BELOW 5
#define TJ_STATS_DIMS_MAX 2
#define TJ_STATS_VALUES_MAX 512 /* distinct values of one dimension */

enum tj_stats_unit { TJ_UNIT_INCIDENTS = 0, TJ_UNIT_ACTS = 1, TJ_UNIT_VICTIMS = 2, TJ_UNIT__COUNT };

struct tj_stats_query {
	uint32_t n_dims;
	char dims[TJ_STATS_DIMS_MAX][24]; /* names above */
	char state[3];                    /* "" = every state */
	bool has_from, has_to;
	int64_t from_day, to_day; /* occurred.start, inclusive */
};

struct tj_stats_dim {
	uint32_t n;
	char v[TJ_STATS_VALUES_MAX][TJ_CODE_MAX];
};

/* The raw table: counts[unit][i * dim[1].n + j] (j = 0 with one dimension). */
struct tj_stats {
	struct tj_stats_query q;
	struct tj_stats_dim dim[TJ_STATS_DIMS_MAX];
	uint64_t *counts[TJ_UNIT__COUNT];
	uint64_t n_incidents; /* incidents that passed the filters (never published) */
};

/* Is name a dimension? */
bool tj_stats_dim_valid(const char *name);
/* "gender,aggressor_type" into q's dims: TJ_ESCHEMA for an unknown or repeated name (bad names it). */
TJ_MUST_CHECK int tj_stats_dims_parse(const char *list, struct tj_stats_query *q, char bad[24]);

/*
 * The values of dimension dim that one unit holds (unit and, for acts and
 * victims, which one: index into s->acts / s->victims), deduplicated, into
 * out (pointers into s or static strings); returns how many. month needs
 * buf (8 bytes per unit call).
 */
size_t tj_stats_values(const struct tj_incident_summary *s, const char *dim, enum tj_stats_unit unit,
                       uint32_t idx, char month[8], const char **out, size_t cap);

/* Adds one incident to st (used by tj_stats_compute, and by tests). */
TJ_MUST_CHECK int tj_stats_add(struct tj_stats *st, const struct tj_incident_summary *s);

/* Computes the table over every readable incident that passes q. Free with tj_stats_free. */
TJ_MUST_CHECK int tj_stats_compute(struct tj_node *n, const struct tj_stats_query *q, struct tj_stats **out);
TJ_MUST_CHECK int tj_stats_new(const struct tj_stats_query *q, struct tj_stats **out);
void tj_stats_free(struct tj_stats *st);

/* The published table (suppression and rates applied), labels in lang. NULL on allocation failure. */
cJSON *tj_stats_to_json(const struct tj_stats *st, bool per_100k, enum tj_lang lang);

#endif
