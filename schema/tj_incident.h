/*
 * The incident schema, version 1, and its two faces (DESIGN.md "The incident").
 *
 * summary: coded fields only, readable by the network.
 * case:    names, contacts, exact place, narrative, consent; readable only by
 *          the documenting organization and the readers it names.
 *
 * Each face has a canonical msgpack body (fixed-order arrays, codes as strings)
 * sealed in its own record: the summary in a TJ_KIND_INCIDENT record, the case
 * in a TJ_KIND_CASE record whose body starts with the summary's record id.
 *
 * JSON in and out (the interchange form of DESIGN.md) goes through one mapping,
 * in tj_incident_json.c, and nowhere else.
 */
#ifndef TJ_INCIDENT_H
#define TJ_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "tj_error.h"
#include "tj_vocab.h"

#define TJ_INCIDENT_SCHEMA_VERSION 1
#define TJ_CODE_MAX 32        /* bytes of a code, NUL included */
#define TJ_REF_MAX 33         /* victims[].ref, NUL included */
#define TJ_INC_VICTIMS_MAX 32
#define TJ_INC_AGGRESSORS_MAX 16
#define TJ_INC_ACTS_MAX 64
#define TJ_INC_LIST_MAX 12    /* traits, causes, measures, failed, consent */
#define TJ_INC_NAMES_MAX 32
#define TJ_INC_TEXT_MAX_BYTES 16384  /* narrative */
#define TJ_INC_SHORT_MAX_BYTES 512   /* a name, a contact, an exact place */
#define TJ_INC_BODY_MAX_BYTES (60u * 1024u)
#define TJ_INC_JSON_MAX_BYTES (256u * 1024u) /* one JSON document given to tj_incident_from_json */

struct tj_date {
	int32_t year;  /* 0 = absent */
	uint8_t month; /* 1..12 */
	uint8_t day;   /* 1..31 */
};

struct tj_codelist {
	uint32_t n;
	char v[TJ_INC_LIST_MAX][TJ_CODE_MAX];
};

struct tj_victim {
	char ref[TJ_REF_MAX];
	char unit[TJ_CODE_MAX];
	char role[TJ_CODE_MAX];
	char gender[TJ_CODE_MAX];
	char age_band[TJ_CODE_MAX];
	struct tj_codelist traits;          /* indigenous, afro_descendant, disability, lgbti, migrant, displaced */
	struct tj_codelist defended_causes;
};

struct tj_aggressor {
	char category[TJ_CODE_MAX];    /* state, non_state, unidentified */
	char type[TJ_CODE_MAX];
	char level[TJ_CODE_MAX];       /* "" when absent */
	char involvement[TJ_CODE_MAX];
};

struct tj_act {
	char type[TJ_CODE_MAX];
	uint32_t victim;    /* index into victims */
	int32_t aggressor;  /* index into aggressors, -1 when none */
};

struct tj_incident_summary {
	uint32_t schema_version;
	uint32_t vocab_version;
	struct {
		struct tj_date start;
		struct tj_date end; /* year 0 when absent; required for precision "range" */
		char precision[TJ_CODE_MAX]; /* day, month, year, range, estimate */
	} occurred;
	struct {
		char state[3];        /* INEGI 2 digits */
		char municipality[6]; /* INEGI 5 digits, "" when unknown */
		char place_type[TJ_CODE_MAX];
	} location;
	struct {
		char state[3];        /* "" when absent */
		char municipality[6];
	} residence;
	uint32_t n_victims;
	struct tj_victim victims[TJ_INC_VICTIMS_MAX];
	uint32_t n_aggressors;
	struct tj_aggressor aggressors[TJ_INC_AGGRESSORS_MAX];
	uint32_t n_acts;
	struct tj_act acts[TJ_INC_ACTS_MAX];
	struct {
		char status[TJ_CODE_MAX];
		char risk_level[TJ_CODE_MAX]; /* "" when absent */
		struct tj_codelist measures;
		struct tj_codelist failed;
	} protection;
	struct {
		char type[TJ_CODE_MAX];
		char reliability[TJ_CODE_MAX];
	} source;
	char verification[TJ_CODE_MAX];
	uint8_t severity;          /* 1..5; 0 = not yet computed */
	bool severity_explicit;    /* given in the input, overrides the computed one */
};

/* The case face. Strings are heap copies; tj_incident_case_free() wipes them. */
struct tj_incident_case {
	uint32_t n_names;
	char *victim_names[TJ_INC_NAMES_MAX];
	uint32_t n_contacts;
	char *contacts[TJ_INC_NAMES_MAX];
	char *exact_place;  /* NULL when absent */
	char *narrative;    /* NULL when absent */
	struct tj_codelist consent;
};

/* Metadata the node adds to an incident it shows. */
struct tj_incident_meta {
	uint8_t id[32];
	uint8_t author[32];
	uint64_t recorded_at_ms;
	bool case_present;   /* this node stores a case face for it */
	bool case_readable;  /* ... and can open it */
};

/* Validation error: which field, which value, what is allowed, in one language. */
struct tj_verr {
	char field[64];    /* "victims[0].gender" */
	char message[512]; /* "victims[0].gender: 'mujer' is not a code; use one of: woman, man, ..." */
};

/* Allocates a zeroed summary and case; free with the matching free (NULL ok). */
struct tj_incident_summary *tj_incident_summary_new(void);
void tj_incident_summary_free(struct tj_incident_summary *s);
struct tj_incident_case *tj_incident_case_new(void);
void tj_incident_case_free(struct tj_incident_case *c);
/* Wipes and frees every string of c and zeroes it; c itself stays (NULL ok). */
void tj_incident_case_clear(struct tj_incident_case *c);

/*
 * Parses the JSON form (DESIGN.md). On TJ_ESCHEMA or TJ_EMALFORMED, *verr says
 * what is wrong in lang. *case_out is NULL when the JSON has no "case".
 * now_ms bounds dates: a date after today is refused.
 *
 * A UTF-8 byte order mark at the start is skipped.
 * Strict: an unknown or repeated key, a wrong type, a code outside its
 * vocabulary is TJ_ESCHEMA naming the field (a typo must not drop data).
 * null means absent. Malformed JSON is TJ_EMALFORMED with line and column;
 * more than TJ_INC_JSON_MAX_BYTES is TJ_ELIMIT. The output of
 * tj_incident_to_json() is accepted as input: "id", "author", "recorded_at",
 * every "<key>_label" and "case": {"shared": false} are ignored, and
 * "severity" is an explicit override unless "severity_explicit" is false.
 * Without an explicit severity, sum->severity = compute(sum, false).
 * The caller owns *sum_out and *case_out (free with the matching free).
 */
TJ_MUST_CHECK int tj_incident_from_json(const char *json, size_t len, enum tj_lang lang, uint64_t now_ms,
					struct tj_incident_summary **sum_out, struct tj_incident_case **case_out,
					struct tj_verr *verr);

/*
 * The JSON form of an incident, with labels in lang. meta may be NULL (no id,
 * author, recorded_at). c may be NULL; when meta says the case exists but is
 * not readable, "case" is {"shared": false}. Returns NULL on allocation failure.
 *
 * Labels: every coded key K gets a sibling "K_label" in the same object (an
 * array of labels, in order, for a list of codes): "gender": "woman",
 * "gender_label": "Mujer"; "traits": [...], "traits_label": [...]. States and
 * municipalities get their INEGI names the same way. Absent optional values
 * and empty lists are left out. Adds "id" and "author" (lower-case hex),
 * "recorded_at" ("2026-03-15T10:20:30Z", UTC), "severity" and
 * "severity_explicit". s must be valid (validated or decoded). The caller
 * owns the result: free it with tj_incident_json_free().
 */
cJSON *tj_incident_to_json(const struct tj_incident_summary *s, const struct tj_incident_case *c,
			   const struct tj_incident_meta *meta, enum tj_lang lang);

/*
 * Wipes every string of a cJSON tree (keys and values), then deletes it.
 * cJSON_Delete() frees without wiping: use this for any tree that held a
 * case face (names, places). NULL ok.
 */
void tj_incident_json_free(cJSON *j);

/*
 * Validates every field and cross-reference, and on TJ_ESCHEMA fills verr
 * (NULL ok) in lang. Required: occurred.start and .precision (the date's form
 * must match it; "range" needs an end >= start, other precisions have none),
 * location.state, one victim and one act or more, protection.status,
 * source.type, verification; aggressors need category and type, acts need
 * type and victim. Codes come from their vocabulary; a municipality lies in
 * its state; act indexes are in range and no act repeats another; a victim
 * ref appears once; an aggressor type implies its category (police are
 * "state"); protection.failed lists only measures in place; case texts are
 * UTF-8 within their limits, without control characters (a narrative may
 * hold newlines and tabs). Dates run from 1900 to today in UTC (Mexico is
 * behind UTC); now_ms == 0 skips the "not after today" check.
 */
TJ_MUST_CHECK int tj_incident_validate(const struct tj_incident_summary *s, const struct tj_incident_case *c,
				       enum tj_lang lang, uint64_t now_ms, struct tj_verr *verr);

/*
 * Severity from the acts (DESIGN.md): the highest act's severity, +1 if the
 * victim was under protection (status other than "none"), +1 if
 * prior_within_90d, at most 5. Does not look at severity_explicit.
 * Returns 0 when no act type is known to this build.
 */
uint8_t tj_incident_compute_severity(const struct tj_incident_summary *s, bool prior_within_90d);

/*
 * Canonical msgpack bodies. Encoders validate first and refuse (TJ_ESCHEMA)
 * what no decoder would accept. Decoders take untrusted bytes and validate
 * fully, except the "not after today" check (a peer's clock is its own):
 * tj_mp_check's codes, TJ_EMALFORMED for a wrong type, TJ_ESCHEMA for a
 * wrong shape or value, TJ_EUNSUPPORTED for another schema version. A body
 * coded with a newer vocabulary keeps codes this build does not know (shape
 * checked; tj_vocab_label() shows them as codes). On any failure the output
 * is left zeroed. The case decoder's c must be empty (new or zeroed): it
 * takes heap copies of the strings; free with tj_incident_case_free/clear.
 */
TJ_MUST_CHECK int tj_incident_summary_encode(const struct tj_incident_summary *s, uint8_t *buf, size_t cap,
					     size_t *len);
TJ_MUST_CHECK int tj_incident_summary_decode(const uint8_t *buf, size_t len, struct tj_incident_summary *s);
/* The case body: [summary_id(bin 32), names[], contacts[], exact_place, narrative, consent[]]. */
TJ_MUST_CHECK int tj_incident_case_encode(const struct tj_incident_case *c, const uint8_t summary_id[32],
					  uint8_t *buf, size_t cap, size_t *len);
TJ_MUST_CHECK int tj_incident_case_decode(const uint8_t *buf, size_t len, struct tj_incident_case *c,
					  uint8_t summary_id[32]);

/*
 * Days since 1970-01-01 of a date (for 90-day and 14-day windows); -1 if
 * invalid. A partial date counts from the first day of its month or year.
 * Valid years are 1900..9999, so 1969-12-31 also gives -1 (validation
 * accepts it; no window arithmetic needs it).
 */
int64_t tj_date_days(const struct tj_date *d);
/* Parses "YYYY-MM-DD" (or "YYYY-MM" / "YYYY" with day/month 0). Exact form and a real
 * calendar date, else TJ_EMALFORMED (d zeroed). */
TJ_MUST_CHECK int tj_date_parse(const char *s, struct tj_date *d);
/* Writes "YYYY-MM-DD" (or shorter for partial dates) into out[11]; "" when year is 0. */
void tj_date_format(const struct tj_date *d, char out[11]);

#endif
