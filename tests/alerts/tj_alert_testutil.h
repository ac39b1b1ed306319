/*
 * Helpers for the alert, query and statistics tests: a node of its own
 * network in a temporary directory, and incidents added from a few codes.
 * Header-only, static inline (one includer per test executable).
 */
#ifndef TJ_ALERT_TESTUTIL_H
#define TJ_ALERT_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tj_node_testutil.h"
#include "tj_alert.h"
#include "tj_node.h"
#include "tj_node_core.h"

/* One incident, by its codes; NULL fields take the defaults of ta_add. */
struct ta_inc {
	const char *date;      /* "2026-03-14" */
	const char *state;     /* "20" */
	const char *mun;       /* "20067"; "" = none */
	const char *res_state; /* NULL = no residence */
	const char *ref;       /* victims[0].ref */
	const char *act;       /* "death_threat" */
	const char *agg;       /* aggressor type, "municipal_police" */
	const char *prot;      /* protection status, "none" */
	const char *gender;    /* "woman" */
	const char *role;      /* "defender" */
	const char *cause;     /* "land_territory" */
	const char *ref2;      /* a second victim (same act type, same aggressor); NULL = none */
};

static inline struct tj_node *ta_node_open(char dir[64])
{
	struct tj_init_opts opts = {0};
	struct tj_unlocked *u;
	struct tj_node *n = NULL;

	tt_tmpdir(dir);
	u = tt_unlocked(dir);
	if (tj_node_init(dir, u, &opts) != 0 || tj_node_open(dir, 0, u, &n) != 0)
		abort();
	return n;
}

static inline void ta_node_close(struct tj_node *n, const char *dir)
{
	tj_node_close(n);
	tt_rmdir(dir);
}

static inline const char *ta__category(const char *type)
{
	static const char *const non_state[] = {"organized_crime", "company", "private_security",
	                                        "community_individual"};
	if (strcmp(type, "unknown") == 0)
		return "unidentified";
	for (size_t i = 0; i < 4; i++)
		if (strcmp(type, non_state[i]) == 0)
			return "non_state";
	return "state";
}

static inline size_t ta_json(const struct ta_inc *x, char *json, size_t cap)
{
	const char *agg = x->agg != NULL ? x->agg : "municipal_police";
	const char *prot = x->prot != NULL ? x->prot : "none";
	char residence[96] = "", victim2[256] = "", act2[96] = "", measures[96] = "";

	if (x->res_state != NULL)
		snprintf(residence, sizeof(residence), "\"residence\": {\"state\": \"%s\"},", x->res_state);
	if (x->ref2 != NULL) {
		snprintf(victim2, sizeof(victim2),
		         ", {\"ref\": \"%s\", \"unit\": \"individual\", \"role\": \"journalist\", "
		         "\"gender\": \"man\","
		         " \"age_band\": \"30_44\"}",
		         x->ref2);
		snprintf(act2, sizeof(act2), ", {\"type\": \"%s\", \"victim\": 1, \"aggressor\": 0}",
		         x->act != NULL ? x->act : "death_threat");
	}
	if (strcmp(prot, "none") != 0)
		snprintf(measures, sizeof(measures),
		         ", \"measures\": [\"panic_button\"], \"failed\": [\"panic_button\"]");
	return (size_t)snprintf(
	    json, cap,
	    "{\"occurred\": {\"start\": \"%s\", \"precision\": \"day\"},"
	    " \"location\": {\"state\": \"%s\"%s%s%s, \"place_type\": \"home\"}, %s"
	    " \"victims\": [{\"ref\": \"%s\", \"unit\": \"individual\", \"role\": \"%s\", \"gender\": \"%s\","
	    " \"age_band\": \"30_44\", \"defended_causes\": [\"%s\"]}%s],"
	    " \"aggressors\": [{\"category\": \"%s\", \"type\": \"%s\", \"involvement\": \"direct\"}],"
	    " \"acts\": [{\"type\": \"%s\", \"victim\": 0, \"aggressor\": 0}%s],"
	    " \"protection\": {\"status\": \"%s\"%s},"
	    " \"source\": {\"type\": \"victim_testimony\", \"reliability\": \"usually_reliable\"},"
	    " \"verification\": \"confirmed\"}",
	    x->date, x->state != NULL ? x->state : "20",
	    x->mun == NULL || x->mun[0] != '\0' ? ", \"municipality\": \"" : "",
	    x->mun == NULL ? "20067" : x->mun, x->mun == NULL || x->mun[0] != '\0' ? "\"" : "", residence,
	    x->ref != NULL ? x->ref : "v-1", x->role != NULL ? x->role : "defender",
	    x->gender != NULL ? x->gender : "woman", x->cause != NULL ? x->cause : "land_territory", victim2,
	    ta__category(agg), agg, x->act != NULL ? x->act : "death_threat", act2, prot, measures);
}

/* Adds x through tj_node_add (so alerts are evaluated); aborts if refused. */
static inline void ta_add(struct tj_node *n, const struct ta_inc *x, uint8_t id[32])
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_add_item it;
	struct tj_verr verr;
	uint8_t body[8192];
	char json[4096];
	size_t len = 0;

	ta_json(x, json, sizeof(json));
	memset(&verr, 0, sizeof(verr));
	if (tj_incident_from_json(json, strlen(json), TJ_LANG_EN, tj_now_ms(), &s, &c, &verr) != 0 ||
	    tj_incident_summary_encode(s, body, sizeof(body), &len) != 0) {
		fprintf(stderr, "fixture refused: %s\n%s\n", verr.message, json);
		abort();
	}
	memset(&it, 0, sizeof(it));
	it.summary = body;
	it.summary_len = len;
	if (tj_node_add(n, &it, 1) != 0 || it.err != 0) {
		fprintf(stderr, "add refused: %s\n", it.verr.message);
		abort();
	}
	memcpy(id, it.id, 32);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
}

#endif
