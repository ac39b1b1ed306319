/*
 * Incident schema: JSON in and out, validation and its messages in both
 * languages, severity, dates, and the canonical msgpack bodies (round trips,
 * truncation, bit flips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tj_incident.h"
#include "tj_mp.h"

/* 2026-06-01T12:00:00Z: a fixed "now", so the tests do not depend on the clock. */
#define NOW_MS 1780315200000ull

/* The example of DESIGN.md "The incident: two faces", verbatim. */
static const char example_json[] =
    "{\n"
    "  \"occurred\": {\"start\": \"2026-03-14\", \"precision\": \"day\"},\n"
    "  \"location\": {\"state\": \"20\", \"municipality\": \"20067\", \"place_type\": \"home\"},\n"
    "  \"residence\": {\"state\": \"20\", \"municipality\": \"20067\"},\n"
    "  \"victims\": [{\"ref\": \"v-7Q2M\", \"unit\": \"individual\", \"role\": \"defender\", \"gender\": "
    "\"woman\", \"age_band\": \"30_44\",\n"
    "               \"traits\": [\"indigenous\"], \"defended_causes\": [\"land_territory\"]}],\n"
    "  \"aggressors\": [{\"category\": \"state\", \"type\": \"municipal_police\", \"level\": \"municipal\",\n"
    "                  \"involvement\": \"direct\"}],\n"
    "  \"acts\": [{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}],\n"
    "  \"protection\": {\"status\": \"federal_mechanism\", \"risk_level\": \"extraordinary\",\n"
    "                 \"measures\": [\"panic_button\"], \"failed\": [\"panic_button\"]},\n"
    "  \"source\": {\"type\": \"victim_testimony\", \"reliability\": \"usually_reliable\"},\n"
    "  \"verification\": \"confirmed\",\n"
    "  \"case\": {\"victim_names\": [\"...\"], \"narrative\": \"...\", \"exact_place\": \"...\",\n"
    "           \"consent\": [\"network_statistics\", \"network_alerts\"]}\n"
    "}\n";

struct parsed {
	struct tj_incident_summary *s;
	struct tj_incident_case *c;
	struct tj_verr verr;
	int rc;
};

static void parse_lang(const char *json, enum tj_lang lang, struct parsed *p)
{
	memset(p, 0, sizeof *p);
	p->rc = tj_incident_from_json(json, strlen(json), lang, NOW_MS, &p->s, &p->c, &p->verr);
}

static void parse(const char *json, struct parsed *p)
{
	parse_lang(json, TJ_LANG_EN, p);
}

static void parsed_free(struct parsed *p)
{
	tj_incident_summary_free(p->s);
	tj_incident_case_free(p->c);
	memset(p, 0, sizeof *p);
}

/* Replaces the first occurrence of `from` in json with `to`; the caller frees. */
static char *replace(const char *json, const char *from, const char *to)
{
	const char *at = strstr(json, from);
	size_t n;
	char *out;

	assert_non_null(at);
	n = strlen(json) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	return out;
}

/* Parses the example with one substitution and expects rc, field and (if given) message. */
static void expect_error(const char *from, const char *to, enum tj_lang lang, int rc, const char *field,
                         const char *message)
{
	char *json = replace(example_json, from, to);
	struct parsed p;

	parse_lang(json, lang, &p);
	if (p.rc != rc || strcmp(p.verr.field, field) || (message && strcmp(p.verr.message, message)))
		print_error("substitution '%s' -> '%s': rc %d field '%s' message '%s'\n", from, to, p.rc,
		            p.verr.field, p.verr.message);
	assert_int_equal(p.rc, rc);
	assert_string_equal(p.verr.field, field);
	if (message)
		assert_string_equal(p.verr.message, message);
	assert_null(p.s);
	assert_null(p.c);
	parsed_free(&p);
	free(json);
}

static char *print_json(const cJSON *j)
{
	char *txt = cJSON_PrintUnformatted(j);

	assert_non_null(txt);
	return txt;
}

/* ---- the example ------------------------------------------------------- */

static void test_example_parses(void **state)
{
	struct parsed p;

	(void)state;
	parse(example_json, &p);
	assert_int_equal(p.rc, 0);
	assert_non_null(p.s);
	assert_non_null(p.c);
	assert_int_equal(p.s->schema_version, 1);
	assert_int_equal(p.s->vocab_version, TJ_VOCAB_VERSION_CURRENT);
	assert_int_equal(p.s->occurred.start.year, 2026);
	assert_int_equal(p.s->occurred.start.month, 3);
	assert_int_equal(p.s->occurred.start.day, 14);
	assert_string_equal(p.s->occurred.precision, "day");
	assert_string_equal(p.s->location.state, "20");
	assert_string_equal(p.s->location.municipality, "20067");
	assert_string_equal(p.s->location.place_type, "home");
	assert_string_equal(p.s->residence.municipality, "20067");
	assert_int_equal(p.s->n_victims, 1);
	assert_string_equal(p.s->victims[0].ref, "v-7Q2M");
	assert_string_equal(p.s->victims[0].age_band, "30_44");
	assert_int_equal(p.s->victims[0].traits.n, 1);
	assert_string_equal(p.s->victims[0].traits.v[0], "indigenous");
	assert_string_equal(p.s->victims[0].defended_causes.v[0], "land_territory");
	assert_int_equal(p.s->n_aggressors, 1);
	assert_string_equal(p.s->aggressors[0].type, "municipal_police");
	assert_int_equal(p.s->n_acts, 1);
	assert_string_equal(p.s->acts[0].type, "death_threat");
	assert_int_equal(p.s->acts[0].victim, 0);
	assert_int_equal(p.s->acts[0].aggressor, 0);
	assert_string_equal(p.s->protection.failed.v[0], "panic_button");
	assert_string_equal(p.s->source.reliability, "usually_reliable");
	assert_string_equal(p.s->verification, "confirmed");
	/* death threat 4, +1 under the federal mechanism */
	assert_int_equal(p.s->severity, 5);
	assert_false(p.s->severity_explicit);
	assert_int_equal(p.c->n_names, 1);
	assert_string_equal(p.c->victim_names[0], "...");
	assert_string_equal(p.c->narrative, "...");
	assert_string_equal(p.c->exact_place, "...");
	assert_int_equal(p.c->consent.n, 2);
	assert_string_equal(p.c->consent.v[1], "network_alerts");
	assert_int_equal(tj_incident_validate(p.s, p.c, TJ_LANG_EN, NOW_MS, NULL), 0);
	parsed_free(&p);
}

/* JSON -> struct -> msgpack -> struct -> JSON gives the same JSON, and output re-imports to the same struct.
 */
static void test_example_round_trip(void **state)
{
	static uint8_t sbuf[TJ_INC_BODY_MAX_BYTES], cbuf[TJ_INC_BODY_MAX_BYTES];
	struct tj_incident_summary *s2 = tj_incident_summary_new();
	struct tj_incident_case *c2 = tj_incident_case_new();
	uint8_t id[32], id2[32];
	size_t slen, clen, slen2;
	char *a, *b;
	cJSON *j1, *j2;
	struct parsed p, q;

	(void)state;
	assert_non_null(s2);
	assert_non_null(c2);
	parse(example_json, &p);
	assert_int_equal(p.rc, 0);
	memset(id, 0xa5, sizeof id);
	assert_int_equal(tj_incident_summary_encode(p.s, sbuf, sizeof sbuf, &slen), 0);
	assert_int_equal(tj_incident_case_encode(p.c, id, cbuf, sizeof cbuf, &clen), 0);
	assert_int_equal(tj_incident_summary_decode(sbuf, slen, s2), 0);
	assert_int_equal(tj_incident_case_decode(cbuf, clen, c2, id2), 0);
	assert_memory_equal(id, id2, 32);
	assert_memory_equal(p.s, s2, sizeof *s2);

	/* Canonical: the decoded struct encodes to the very same bytes. */
	assert_int_equal(tj_incident_summary_encode(s2, cbuf, sizeof cbuf, &slen2), 0);
	assert_int_equal(slen2, slen);
	assert_memory_equal(sbuf, cbuf, slen);

	j1 = tj_incident_to_json(p.s, p.c, NULL, TJ_LANG_ES);
	j2 = tj_incident_to_json(s2, c2, NULL, TJ_LANG_ES);
	assert_non_null(j1);
	assert_non_null(j2);
	a = print_json(j1);
	b = print_json(j2);
	assert_string_equal(a, b);

	/* The output is accepted as input and gives the same incident. */
	parse(a, &q);
	assert_int_equal(q.rc, 0);
	assert_memory_equal(q.s, p.s, sizeof *p.s);
	assert_non_null(q.c);
	assert_string_equal(q.c->narrative, p.c->narrative);
	assert_int_equal(q.c->consent.n, p.c->consent.n);

	cJSON_free(a);
	cJSON_free(b);
	tj_incident_json_free(j1);
	tj_incident_json_free(j2);
	parsed_free(&q);
	parsed_free(&p);
	tj_incident_summary_free(s2);
	tj_incident_case_free(c2);
}

static void test_to_json_form(void **state)
{
	struct tj_incident_meta meta;
	const cJSON *v, *loc;
	struct parsed p;
	cJSON *j;

	(void)state;
	parse(example_json, &p);
	assert_int_equal(p.rc, 0);
	memset(&meta, 0, sizeof meta);
	memset(meta.id, 0xab, sizeof meta.id);
	meta.author[31] = 0x01;
	meta.recorded_at_ms = NOW_MS + 1234;
	meta.case_present = true;
	meta.case_readable = false;

	j = tj_incident_to_json(p.s, NULL, &meta, TJ_LANG_ES);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring,
	                    "abababababababababababababababababababababababababababababababab");
	assert_string_equal(cJSON_GetObjectItem(j, "author")->valuestring,
	                    "0000000000000000000000000000000000000000000000000000000000000001");
	assert_string_equal(cJSON_GetObjectItem(j, "recorded_at")->valuestring, "2026-06-01T12:00:01Z");
	assert_int_equal(cJSON_GetObjectItem(j, "severity")->valueint, 5);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "severity_explicit")));
	assert_string_equal(cJSON_GetObjectItem(j, "verification_label")->valuestring, "Confirmado");
	loc = cJSON_GetObjectItem(j, "location");
	assert_string_equal(cJSON_GetObjectItem(loc, "state_label")->valuestring, "Oaxaca");
	assert_string_equal(cJSON_GetObjectItem(loc, "municipality_label")->valuestring, "Oaxaca de Juárez");
	assert_string_equal(cJSON_GetObjectItem(loc, "place_type_label")->valuestring, "Domicilio");
	v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "victims"), 0);
	assert_string_equal(cJSON_GetObjectItem(v, "gender")->valuestring, "woman");
	assert_string_equal(cJSON_GetObjectItem(v, "gender_label")->valuestring, "Mujer");
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "traits_label"), 0)->valuestring,
	                    "Indígena");
	/* The case exists but this node cannot read it. */
	v = cJSON_GetObjectItem(j, "case");
	assert_non_null(v);
	assert_int_equal(cJSON_GetArraySize(v), 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(v, "shared")));
	tj_incident_json_free(j);

	/* English labels; no meta: no id, and no case at all. */
	j = tj_incident_to_json(p.s, NULL, NULL, TJ_LANG_EN);
	assert_non_null(j);
	assert_null(cJSON_GetObjectItem(j, "id"));
	assert_null(cJSON_GetObjectItem(j, "case"));
	assert_string_equal(cJSON_GetObjectItem(j, "verification_label")->valuestring, "Confirmed");
	v = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "acts"), 0);
	assert_string_equal(cJSON_GetObjectItem(v, "type_label")->valuestring, "Death threat");
	tj_incident_json_free(j);
	parsed_free(&p);
}

/* ---- error classes ----------------------------------------------------- */

static void test_malformed_json(void **state)
{
	const char *bad = "{\"occurred\": {\"start\": \"2026-03-14\",\n \"precision\" \"day\"}}";
	struct parsed p;

	(void)state;
	parse(bad, &p);
	assert_int_equal(p.rc, TJ_EMALFORMED);
	assert_string_equal(p.verr.message, "json: malformed JSON at line 2, column 14 (byte 50)");
	parsed_free(&p);
	parse_lang(bad, TJ_LANG_ES, &p);
	assert_int_equal(p.rc, TJ_EMALFORMED);
	assert_string_equal(p.verr.message, "json: JSON mal formado en la línea 2, columna 14 (byte 50)");
	parsed_free(&p);

	/* A UTF-8 byte order mark (Notepad) is skipped; positions still count from the file's start. */
	{
		char *json = malloc(strlen(example_json) + 4);
		assert_non_null(json);
		sprintf(json, "\xef\xbb\xbf%s", example_json);
		parse(json, &p);
		assert_int_equal(p.rc, 0);
		parsed_free(&p);
		sprintf(json, "\xef\xbb\xbf%s", bad);
		parse(json, &p);
		assert_int_equal(p.rc, TJ_EMALFORMED);
		assert_string_equal(p.verr.message, "json: malformed JSON at line 2, column 14 (byte 53)");
		parsed_free(&p);
		free(json);
	}
	/* Trailing garbage, an empty document, a truncated one. */
	parse("{} x", &p);
	assert_int_equal(p.rc, TJ_EMALFORMED);
	parsed_free(&p);
	parse("", &p);
	assert_int_equal(p.rc, TJ_EMALFORMED);
	parsed_free(&p);
	parse("{\"occurred\": {", &p);
	assert_int_equal(p.rc, TJ_EMALFORMED);
	parsed_free(&p);
	/* Not an object at the top. */
	parse("[1, 2]", &p);
	assert_int_equal(p.rc, TJ_ESCHEMA);
	assert_string_equal(p.verr.message, "json: must be an object {...}");
	parsed_free(&p);
}

static void test_nul_refused(void **state)
{
	(void)state;
	/* \u0000 would cut the narrative short without a word: refuse it. */
	expect_error("\"narrative\": \"...\"", "\"narrative\": \"before\\u0000after\"", TJ_LANG_EN,
	             TJ_EMALFORMED, "json", NULL);
	/* An escaped backslash followed by u0000 is ordinary text. */
	{
		char *json =
		    replace(example_json, "\"narrative\": \"...\"", "\"narrative\": \"a\\\\u0000b\"");
		struct parsed p;
		parse(json, &p);
		assert_int_equal(p.rc, 0);
		assert_string_equal(p.c->narrative, "a\\u0000b");
		parsed_free(&p);
		free(json);
	}
}

static void test_unknown_code_messages(void **state)
{
	(void)state;
	expect_error(
	    "\"gender\": \"woman\"", "\"gender\": \"mujer\"", TJ_LANG_EN, TJ_ESCHEMA, "victims[0].gender",
	    "victims[0].gender: 'mujer' is not a code; use one of: woman, man, trans_woman, trans_man, "
	    "non_binary, other, unknown, not_applicable");
	expect_error(
	    "\"gender\": \"woman\"", "\"gender\": \"mujer\"", TJ_LANG_ES, TJ_ESCHEMA, "victims[0].gender",
	    "victims[0].gender: 'mujer' no es un código; usa uno de: woman, man, trans_woman, trans_man, "
	    "non_binary, other, unknown, not_applicable");
	expect_error("\"death_threat\"", "\"amenaza\"", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].type", NULL);
	expect_error("\"indigenous\"", "\"Indigenous\"", TJ_LANG_EN, TJ_ESCHEMA, "victims[0].traits[0]",
	             NULL);
	expect_error("\"network_alerts\"", "\"everything\"", TJ_LANG_EN, TJ_ESCHEMA, "case.consent[1]", NULL);
	expect_error("\"failed\": [\"panic_button\"]", "\"failed\": [\"boton\"]", TJ_LANG_EN, TJ_ESCHEMA,
	             "protection.failed[0]", NULL);
	/* A control character in a value is not echoed raw. */
	expect_error("\"gender\": \"woman\"", "\"gender\": \"wo\\u001bman\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "victims[0].gender", NULL);
}

static void test_wrong_types_and_keys(void **state)
{
	(void)state;
	expect_error("\"gender\": \"woman\"", "\"genre\": \"woman\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "victims[0].genre",
	             "victims[0].genre: unknown field; allowed: ref, unit, role, gender, age_band, traits, "
	             "defended_causes");
	expect_error(
	    "\"gender\": \"woman\"", "\"genre\": \"woman\"", TJ_LANG_ES, TJ_ESCHEMA, "victims[0].genre",
	    "victims[0].genre: campo desconocido; se permiten: ref, unit, role, gender, age_band, traits, "
	    "defended_causes");
	expect_error("\"verification\"", "\"verificacion\"", TJ_LANG_EN, TJ_ESCHEMA, "verificacion", NULL);
	expect_error("\"gender\": \"woman\"", "\"gender\": \"woman\", \"gender\": \"man\"", TJ_LANG_EN,
	             TJ_ESCHEMA, "victims[0].gender", "victims[0].gender: repeated key");
	expect_error("\"gender\": \"woman\"", "\"gender\": 5", TJ_LANG_EN, TJ_ESCHEMA, "victims[0].gender",
	             "victims[0].gender: must be a string \"...\"");
	expect_error("\"traits\": [\"indigenous\"]", "\"traits\": \"indigenous\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "victims[0].traits", "victims[0].traits: must be a list [...]");
	expect_error("\"victim\": 0", "\"victim\": \"0\"", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].victim", NULL);
	expect_error("\"victim\": 0", "\"victim\": 0.5", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].victim", NULL);
	expect_error("\"victim\": 0", "\"victim\": -1", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].victim", NULL);
	expect_error("\"occurred\": {\"start\": \"2026-03-14\", \"precision\": \"day\"}", "\"occurred\": []",
	             TJ_LANG_EN, TJ_ESCHEMA, "occurred", "occurred: must be an object {...}");
	expect_error("\"case\": {", "\"case\": {\"shared\": false, ", TJ_LANG_EN, TJ_ESCHEMA, "case.shared",
	             NULL);
	expect_error("\"case\": {", "\"case\": {\"shared\": true, ", TJ_LANG_EN, TJ_ESCHEMA, "case.shared",
	             NULL);
	expect_error("\"victims\": [{", "\"victims\": [7, {", TJ_LANG_EN, TJ_ESCHEMA, "victims[0]",
	             "victims[0]: must be an object {...}");
	/* {"shared": false} alone (what output says of an unreadable case) means no case. */
	{
		const char *from = strstr(example_json, "  \"case\"");
		char *json = malloc(strlen(example_json) + 32);
		struct parsed p;
		assert_non_null(json);
		sprintf(json, "%.*s  \"case\": {\"shared\": false}}", (int)(from - example_json),
		        example_json);
		parse(json, &p);
		assert_int_equal(p.rc, 0);
		assert_non_null(p.s);
		assert_null(p.c);
		parsed_free(&p);
		free(json);
	}
}

static void test_missing_required(void **state)
{
	(void)state;
	expect_error("\"verification\": \"confirmed\",", "", TJ_LANG_EN, TJ_ESCHEMA, "verification",
	             "verification: missing; it is required");
	expect_error("\"verification\": \"confirmed\",", "", TJ_LANG_ES, TJ_ESCHEMA, "verification",
	             "verification: falta; es obligatorio");
	expect_error("\"state\": \"20\", \"municipality\": \"20067\", \"place_type\"",
	             "\"municipality\": \"20067\", \"place_type\"", TJ_LANG_EN, TJ_ESCHEMA, "location.state",
	             NULL);
	expect_error("\"start\": \"2026-03-14\", ", "", TJ_LANG_EN, TJ_ESCHEMA, "occurred.start", NULL);
	expect_error(", \"precision\": \"day\"", "", TJ_LANG_EN, TJ_ESCHEMA, "occurred.precision", NULL);
	expect_error("\"status\": \"federal_mechanism\", ", "", TJ_LANG_EN, TJ_ESCHEMA, "protection.status",
	             NULL);
	expect_error("\"type\": \"victim_testimony\", ", "", TJ_LANG_EN, TJ_ESCHEMA, "source.type", NULL);
	expect_error("{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}", "", TJ_LANG_EN,
	             TJ_ESCHEMA, "acts", "acts: missing; at least one act is required");
	expect_error("\"victim\": 0, ", "", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].victim", NULL);
	expect_error("\"type\": \"death_threat\", ", "", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].type", NULL);
	expect_error("\"category\": \"state\", ", "", TJ_LANG_EN, TJ_ESCHEMA, "aggressors[0].category", NULL);
	/* A type implies its category: municipal police are state agents. */
	expect_error("\"category\": \"state\"", "\"category\": \"non_state\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "aggressors[0].category",
	             "aggressors[0].category: 'non_state' does not fit type 'municipal_police'; use 'state'");
	expect_error(
	    "\"category\": \"state\"", "\"category\": \"unidentified\"", TJ_LANG_ES, TJ_ESCHEMA,
	    "aggressors[0].category",
	    "aggressors[0].category: 'unidentified' no corresponde al tipo 'municipal_police'; usa 'state'");
	/* null is absent: fine for an optional field, missing for a required one */
	expect_error("\"verification\": \"confirmed\"", "\"verification\": null", TJ_LANG_EN, TJ_ESCHEMA,
	             "verification", NULL);
}

static void test_no_victims(void **state)
{
	struct parsed p;

	(void)state;
	/* Remove the victims list entirely: the act's index has nothing to point at, victims is named first.
	 */
	{
		const char *start = strstr(example_json, "  \"victims\"");
		const char *end = strstr(example_json, "  \"aggressors\"");
		char *cut = malloc(strlen(example_json) + 1);
		assert_non_null(cut);
		snprintf(cut, strlen(example_json) + 1, "%.*s%s", (int)(start - example_json), example_json,
		         end);
		parse(cut, &p);
		assert_int_equal(p.rc, TJ_ESCHEMA);
		assert_string_equal(p.verr.message, "victims: missing; at least one victim is required");
		parsed_free(&p);
		free(cut);
	}
}

static void test_dates(void **state)
{
	(void)state;
	expect_error("2026-03-14", "2026-07-01", TJ_LANG_EN, TJ_ESCHEMA, "occurred.start",
	             "occurred.start: '2026-07-01' is after today (2026-06-01)");
	expect_error("2026-03-14", "2026-07-01", TJ_LANG_ES, TJ_ESCHEMA, "occurred.start",
	             "occurred.start: '2026-07-01' es posterior a hoy (2026-06-01)");
	expect_error("2026-03-14", "2026-02-29", TJ_LANG_EN, TJ_ESCHEMA, "occurred.start",
	             "occurred.start: '2026-02-29' is not a valid date; use YYYY-MM-DD, YYYY-MM or YYYY");
	expect_error("2026-03-14", "14/03/2026", TJ_LANG_ES, TJ_ESCHEMA, "occurred.start",
	             "occurred.start: '14/03/2026' no es una fecha válida; usa AAAA-MM-DD, AAAA-MM o AAAA");
	expect_error("2026-03-14", "2026-03", TJ_LANG_EN, TJ_ESCHEMA, "occurred.start",
	             "occurred.start: '2026-03' does not match precision 'day'; use YYYY-MM-DD");
	expect_error("\"precision\": \"day\"", "\"precision\": \"range\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "occurred.end", "occurred.end: missing; precision 'range' needs an end date");
	expect_error("\"precision\": \"day\"", "\"end\": \"2026-03-15\", \"precision\": \"day\"", TJ_LANG_EN,
	             TJ_ESCHEMA, "occurred.end", "occurred.end: only allowed with precision 'range'");
	expect_error("\"precision\": \"day\"", "\"end\": \"2026-03-01\", \"precision\": \"range\"",
	             TJ_LANG_EN, TJ_ESCHEMA, "occurred.end",
	             "occurred.end: '2026-03-01' is before occurred.start '2026-03-14'");
	expect_error("\"precision\": \"day\"", "\"end\": \"2026-06-02\", \"precision\": \"range\"",
	             TJ_LANG_EN, TJ_ESCHEMA, "occurred.end", NULL);
}

static void test_date_forms_accepted(void **state)
{
	static const char *const ok[][2] = {
	    {"\"2026-03-14\", \"precision\": \"day\"", "\"2024-02-29\", \"precision\": \"day\""},
	    {"\"2026-03-14\", \"precision\": \"day\"", "\"2026-03\", \"precision\": \"month\""},
	    {"\"2026-03-14\", \"precision\": \"day\"", "\"2025\", \"precision\": \"year\""},
	    {"\"2026-03-14\", \"precision\": \"day\"", "\"2026-03\", \"precision\": \"estimate\""},
	    {"\"2026-03-14\", \"precision\": \"day\"", "\"2026-06-01\", \"precision\": \"day\""},
	    {"\"2026-03-14\", \"precision\": \"day\"",
	     "\"2026-03-20\", \"end\": \"2026-03\", \"precision\": \"range\""},
	};
	struct parsed p;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char *json = replace(example_json, ok[i][0], ok[i][1]);
		parse(json, &p);
		if (p.rc)
			print_error("%s: %s\n", ok[i][1], p.verr.message);
		assert_int_equal(p.rc, 0);
		parsed_free(&p);
		free(json);
	}
}

static void test_places(void **state)
{
	(void)state;
	expect_error("\"municipality\": \"20067\", \"place_type\"",
	             "\"municipality\": \"21001\", \"place_type\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "location.municipality",
	             "location.municipality: '21001' (Acajete, Puebla) is not in state '20' (Oaxaca)");
	expect_error("\"municipality\": \"20067\", \"place_type\"",
	             "\"municipality\": \"21001\", \"place_type\"", TJ_LANG_ES, TJ_ESCHEMA,
	             "location.municipality",
	             "location.municipality: '21001' (Acajete, Puebla) no pertenece al estado '20' (Oaxaca)");
	expect_error("{\"state\": \"20\", \"municipality\": \"20067\"}",
	             "{\"state\": \"21\", \"municipality\": \"20067\"}", TJ_LANG_EN, TJ_ESCHEMA,
	             "residence.municipality", NULL);
	expect_error("{\"state\": \"20\", \"municipality\": \"20067\"}", "{\"municipality\": \"20067\"}",
	             TJ_LANG_EN, TJ_ESCHEMA, "residence.state", NULL);
	expect_error("\"state\": \"20\"", "\"state\": \"33\"", TJ_LANG_EN, TJ_ESCHEMA, "location.state",
	             "location.state: '33' is not an INEGI state code; use two digits, 01 to 32");
	expect_error("\"state\": \"20\"", "\"state\": \"Oaxaca\"", TJ_LANG_EN, TJ_ESCHEMA, "location.state",
	             NULL);
	expect_error("\"state\": \"20\"", "\"state\": 20", TJ_LANG_EN, TJ_ESCHEMA, "location.state", NULL);
	expect_error("\"municipality\": \"20067\", \"place_type\"",
	             "\"municipality\": \"20571\", \"place_type\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "location.municipality", NULL);
}

static void test_indexes(void **state)
{
	struct parsed p;

	(void)state;
	parse("{\"occurred\": {\"start\": \"2026\", \"precision\": \"year\"}, \"location\": {\"state\": "
	      "\"31\"},"
	      " \"victims\": [{}], \"acts\": [{\"type\": \"raid\", \"victim\": 0, \"aggressor\": 0}],"
	      " \"protection\": {\"status\": \"none\"}, \"source\": {\"type\": \"other\"},"
	      " \"verification\": \"unverified\"}",
	      &p);
	assert_int_equal(p.rc, TJ_ESCHEMA);
	assert_string_equal(p.verr.message,
	                    "acts[0].aggressor: 0 is out of range: aggressors is empty; leave it out");
	parsed_free(&p);
	expect_error("\"victim\": 0", "\"victim\": 1", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].victim",
	             "acts[0].victim: 1 is out of range: the last victim is victims[0]");
	expect_error("\"victim\": 0", "\"victim\": 1", TJ_LANG_ES, TJ_ESCHEMA, "acts[0].victim",
	             "acts[0].victim: 1 está fuera de rango: la última víctima es victims[0]");
	expect_error("\"aggressor\": 0", "\"aggressor\": 3", TJ_LANG_EN, TJ_ESCHEMA, "acts[0].aggressor",
	             "acts[0].aggressor: 3 is out of range: the last aggressor is aggressors[0]");
	expect_error("{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}",
	             "{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}, "
	             "{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}",
	             TJ_LANG_EN, TJ_ESCHEMA, "acts[1]",
	             "acts[1]: repeats acts[0] (same type, victim and aggressor)");
}

static void test_limits(void **state)
{
	size_t n = TJ_INC_TEXT_MAX_BYTES + 1, cap = strlen(example_json) + n + 64;
	char *narr = malloc(n + 32), *json, *victims;
	struct parsed p;

	(void)state;
	assert_non_null(narr);
	snprintf(narr, 32, "\"narrative\": \"");
	memset(narr + strlen(narr), 'x', n);
	strcpy(narr + 14 + n, "\"");
	expect_error("\"narrative\": \"...\"", narr, TJ_LANG_EN, TJ_ESCHEMA, "case.narrative",
	             "case.narrative: 16385 bytes; at most 16384");
	expect_error("\"narrative\": \"...\"", narr, TJ_LANG_ES, TJ_ESCHEMA, "case.narrative",
	             "case.narrative: 16385 bytes; como máximo 16384");
	/* Exactly at the limit is fine. */
	narr[14 + n - 1] = '"';
	narr[14 + n] = '\0';
	json = replace(example_json, "\"narrative\": \"...\"", narr);
	parse(json, &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(strlen(p.c->narrative), TJ_INC_TEXT_MAX_BYTES);
	parsed_free(&p);
	free(json);
	free(narr);

	/* 33 victims */
	victims = malloc(cap);
	assert_non_null(victims);
	strcpy(victims, "\"victims\": [");
	for (int i = 0; i < TJ_INC_VICTIMS_MAX; i++) /* the example's own victim makes 33 */
		strcat(victims, "{\"unit\": \"family\"}, ");
	expect_error("\"victims\": [", victims, TJ_LANG_EN, TJ_ESCHEMA, "victims",
	             "victims: 33 entries; at most 32");
	free(victims);

	expect_error("\"traits\": [\"indigenous\"]",
	             "\"traits\": [\"indigenous\", \"migrant\", \"indigenous\"]", TJ_LANG_EN, TJ_ESCHEMA,
	             "victims[0].traits[2]", "victims[0].traits[2]: 'indigenous' is repeated");
	expect_error("\"victim_names\": [\"...\"]", "\"victim_names\": [\"\"]", TJ_LANG_EN, TJ_ESCHEMA,
	             "case.victim_names[0]", NULL);
	expect_error("\"exact_place\": \"...\"", "\"exact_place\": \"calle\\u0007\"", TJ_LANG_EN, TJ_ESCHEMA,
	             "case.exact_place", NULL);
	expect_error("\"failed\": [\"panic_button\"]", "\"failed\": [\"escort\"]", TJ_LANG_EN, TJ_ESCHEMA,
	             "protection.failed[0]",
	             "protection.failed[0]: 'escort' is not among protection.measures");

	/* The whole document */
	json = malloc(TJ_INC_JSON_MAX_BYTES + 2);
	assert_non_null(json);
	memset(json, ' ', TJ_INC_JSON_MAX_BYTES + 1);
	json[0] = '{';
	json[TJ_INC_JSON_MAX_BYTES] = '}';
	json[TJ_INC_JSON_MAX_BYTES + 1] = '\0';
	parse(json, &p);
	assert_int_equal(p.rc, TJ_ELIMIT);
	parsed_free(&p);
	free(json);
}

static void test_ref_never_echoed(void **state)
{
	(void)state;
	expect_error("\"victims\": [{", "\"victims\": [{\"ref\": \"v-7Q2M\"}, {", TJ_LANG_EN, TJ_ESCHEMA,
	             "victims[1].ref",
	             "victims[1].ref: 'v-7Q2M' is also victims[0].ref; give one victim several acts instead");
	expect_error(
	    "\"v-7Q2M\"", "\"Juana Perez\"", TJ_LANG_EN, TJ_ESCHEMA, "victims[0].ref",
	    "victims[0].ref: not a reference; use 1 to 32 letters, digits, '-', '_' or '.', never a name");
}

/* ---- severity ---------------------------------------------------------- */

static struct tj_incident_summary *severity_case(const char *acts, const char *status, const char *extra)
{
	char json[1024];
	char tail[256];
	struct parsed p;

	snprintf(tail, sizeof tail, "%s", extra);
	snprintf(
	    json, sizeof json,
	    "{\"occurred\": {\"start\": \"2026-03-14\", \"precision\": \"day\"}, \"location\": {\"state\": "
	    "\"07\"},"
	    " \"victims\": [{\"unit\": \"individual\"}, {\"unit\": \"community\"}],"
	    " \"acts\": [%s], \"protection\": {\"status\": \"%s\"}, \"source\": {\"type\": \"media_report\"},"
	    " \"verification\": \"unverified\"%s}",
	    acts, status, tail);
	parse(json, &p);
	if (p.rc)
		print_error("%s\n", p.verr.message);
	assert_int_equal(p.rc, 0);
	assert_null(p.c);
	return p.s;
}

static void test_severity(void **state)
{
	struct tj_incident_summary *s;

	(void)state;
	/* The highest act counts. */
	s = severity_case("{\"type\": \"harassment\", \"victim\": 0}, {\"type\": \"threat\", \"victim\": 1}",
	                  "none", "");
	assert_int_equal(tj_incident_compute_severity(s, false), 3);
	assert_int_equal(s->severity, 3);
	/* +1 for a prior incident against the same victim within 90 days */
	assert_int_equal(tj_incident_compute_severity(s, true), 4);
	tj_incident_summary_free(s);

	s = severity_case("{\"type\": \"obstruction_of_work\", \"victim\": 0}", "none", "");
	assert_int_equal(s->severity, 1);
	tj_incident_summary_free(s);

	/* +1 under protection, +1 prior */
	s = severity_case("{\"type\": \"defamation\", \"victim\": 0}", "civil_society_network", "");
	assert_int_equal(tj_incident_compute_severity(s, false), 3);
	assert_int_equal(tj_incident_compute_severity(s, true), 4);
	tj_incident_summary_free(s);

	/* Capped at 5 */
	s = severity_case("{\"type\": \"raid\", \"victim\": 0}, {\"type\": \"killing\", \"victim\": 1}",
	                  "state_mechanism", "");
	assert_int_equal(tj_incident_compute_severity(s, true), 5);
	assert_int_equal(s->severity, 5);
	tj_incident_summary_free(s);

	s = severity_case("{\"type\": \"death_threat\", \"victim\": 0}", "iachr_precautionary", "");
	assert_int_equal(tj_incident_compute_severity(s, false), 5);
	assert_int_equal(tj_incident_compute_severity(s, true), 5);
	tj_incident_summary_free(s);

	/* An explicit severity overrides; the computed one is still available. */
	s = severity_case("{\"type\": \"killing\", \"victim\": 0}", "none", ", \"severity\": 2");
	assert_int_equal(s->severity, 2);
	assert_true(s->severity_explicit);
	assert_int_equal(tj_incident_compute_severity(s, false), 5);
	tj_incident_summary_free(s);

	/* Output of a computed severity re-imports as computed. */
	s = severity_case("{\"type\": \"killing\", \"victim\": 0}", "none",
	                  ", \"severity\": 2, \"severity_explicit\": false");
	assert_int_equal(s->severity, 5);
	assert_false(s->severity_explicit);
	tj_incident_summary_free(s);

	/* No act this build knows: not computed. */
	s = tj_incident_summary_new();
	assert_non_null(s);
	assert_int_equal(tj_incident_compute_severity(s, true), 0);
	s->n_acts = 1;
	strcpy(s->acts[0].type, "not_a_code");
	assert_int_equal(tj_incident_compute_severity(s, true), 0);
	tj_incident_summary_free(s);

	expect_error("\"verification\": \"confirmed\"", "\"verification\": \"confirmed\", \"severity\": 6",
	             TJ_LANG_EN, TJ_ESCHEMA, "severity", "severity: must be a whole number from 1 to 5");
	expect_error("\"verification\": \"confirmed\"", "\"verification\": \"confirmed\", \"severity\": 0",
	             TJ_LANG_EN, TJ_ESCHEMA, "severity", NULL);
	expect_error("\"verification\": \"confirmed\"",
	             "\"verification\": \"confirmed\", \"severity_explicit\": 1", TJ_LANG_EN, TJ_ESCHEMA,
	             "severity_explicit", NULL);
}

/* ---- dates ------------------------------------------------------------- */

static void test_date_functions(void **state)
{
	static const char *const bad[] = {"",           "2026-3-14",  "20260314", "2026-13",       "2026-00",
	                                  "2026-02-30", "2026-01-00", "1899",     "2026-01-01T00", " 2026",
	                                  "2026/01/01", "-2026"};
	struct tj_date d;
	char out[11];

	(void)state;
	assert_int_equal(tj_date_parse("1970-01-01", &d), 0);
	assert_int_equal(tj_date_days(&d), 0);
	assert_int_equal(tj_date_parse("2000-03-01", &d), 0);
	assert_int_equal(tj_date_days(&d), 11017);
	assert_int_equal(tj_date_parse("2026-06-01", &d), 0);
	assert_int_equal(tj_date_days(&d), (int64_t)(NOW_MS / 86400000u));
	assert_int_equal(tj_date_parse("2024-02-29", &d), 0);
	tj_date_format(&d, out);
	assert_string_equal(out, "2024-02-29");
	assert_int_equal(tj_date_parse("2026-03", &d), 0);
	assert_int_equal(d.day, 0);
	tj_date_format(&d, out);
	assert_string_equal(out, "2026-03");
	assert_int_equal(tj_date_days(&d), tj_date_days(&(struct tj_date){2026, 3, 1}));
	assert_int_equal(tj_date_parse("2026", &d), 0);
	tj_date_format(&d, out);
	assert_string_equal(out, "2026");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(tj_date_parse(bad[i], &d), TJ_EMALFORMED);
		assert_int_equal(d.year, 0);
	}
	assert_int_equal(tj_date_days(&(struct tj_date){2026, 2, 29}), -1);
	assert_int_equal(tj_date_days(&(struct tj_date){2026, 0, 5}), -1);
	assert_int_equal(tj_date_days(&(struct tj_date){0, 0, 0}), -1);
	tj_date_format(&(struct tj_date){0, 0, 0}, out);
	assert_string_equal(out, "");
}

/* ---- bodies ------------------------------------------------------------ */

static size_t example_summary_body(uint8_t *buf, size_t cap, struct tj_incident_summary **s_out)
{
	struct parsed p;
	size_t len;

	parse(example_json, &p);
	assert_int_equal(p.rc, 0);
	assert_int_equal(tj_incident_summary_encode(p.s, buf, cap, &len), 0);
	*s_out = p.s;
	p.s = NULL;
	parsed_free(&p);
	return len;
}

static void test_summary_truncation_and_flips(void **state)
{
	static uint8_t buf[TJ_INC_BODY_MAX_BYTES], flip[TJ_INC_BODY_MAX_BYTES], re[TJ_INC_BODY_MAX_BYTES];
	struct tj_incident_summary *s, *d = tj_incident_summary_new();
	size_t len, relen, accepted = 0, total = 0;

	(void)state;
	assert_non_null(d);
	len = example_summary_body(buf, sizeof buf, &s);
	assert_true(len > 100);
	for (size_t n = 0; n < len; n++) {
		assert_int_not_equal(tj_incident_summary_decode(buf, n, d), 0);
		assert_int_equal(d->n_victims, 0); /* left zeroed */
	}
	/* Trailing bytes */
	memcpy(flip, buf, len);
	flip[len] = 0xc0;
	assert_int_not_equal(tj_incident_summary_decode(flip, len + 1, d), 0);

	/*
	 * Every single-bit flip: either refused, or (a flip inside a code or a
	 * number that still makes a valid incident) decoded into an incident whose
	 * canonical encoding is exactly the flipped bytes. Never anything else.
	 */
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(flip, buf, len);
			flip[i] ^= (uint8_t)(1u << b);
			total++;
			if (tj_incident_summary_decode(flip, len, d) != 0)
				continue;
			accepted++;
			assert_int_equal(tj_incident_summary_encode(d, re, sizeof re, &relen), 0);
			assert_int_equal(relen, len);
			assert_memory_equal(re, flip, len);
		}
	}
	/* Structure-breaking flips: the header of the top array and of the victims list. */
	memcpy(flip, buf, len);
	flip[0] ^= 0x01;
	assert_int_not_equal(tj_incident_summary_decode(flip, len, d), 0);
	print_message("summary body %zu bytes: %zu of %zu bit flips decoded (all canonical)\n", len, accepted,
	              total);
	assert_true(accepted * 10 < total);
	tj_incident_summary_free(s);
	tj_incident_summary_free(d);
}

/* Hand-built bodies: each differs from a valid one in one meaningful way. */
static void test_summary_decode_rejects(void **state)
{
	static uint8_t buf[TJ_INC_BODY_MAX_BYTES], bad[TJ_INC_BODY_MAX_BYTES + 16];
	struct tj_incident_summary *s, *d = tj_incident_summary_new();
	struct tj_mp_writer w;
	size_t len, blen;
	uint8_t *p;

	(void)state;
	assert_non_null(d);
	len = example_summary_body(buf, sizeof buf, &s);
	assert_int_equal(tj_incident_summary_decode(buf, len, d), 0);

	/* schema version 2 */
	memcpy(bad, buf, len);
	assert_int_equal(bad[1], 0x01);
	bad[1] = 0x02;
	assert_int_equal(tj_incident_summary_decode(bad, len, d), TJ_EUNSUPPORTED);
	/* schema version as a str */
	memcpy(bad, buf, len);
	bad[1] = 0xa0;
	assert_int_not_equal(tj_incident_summary_decode(bad, len, d), 0);
	/* an act pointing past the victims: "victim": 0 -> 1 (positive fixint) */
	memcpy(bad, buf, len);
	p = memmem(bad, len,
	           "\xac"
	           "death_threat\x00\x00",
	           15);
	assert_non_null(p);
	p[13] = 0x01;
	assert_int_equal(tj_incident_summary_decode(bad, len, d), TJ_ESCHEMA);
	/* an unknown code */
	memcpy(bad, buf, len);
	p = memmem(bad, len, "woman", 5);
	assert_non_null(p);
	memcpy(p, "wuman", 5);
	assert_int_equal(tj_incident_summary_decode(bad, len, d), TJ_ESCHEMA);
	/* the same unknown code under a newer vocabulary version is kept */
	bad[2] = 0x02;
	assert_int_equal(tj_incident_summary_decode(bad, len, d), 0);
	assert_string_equal(d->victims[0].gender, "wuman");
	assert_string_equal(tj_vocab_label("gender", d->victims[0].gender, TJ_LANG_ES), "wuman");
	/* but not a code of the wrong shape */
	p = memmem(bad, len, "wuman", 5);
	p[0] = 'W';
	assert_int_equal(tj_incident_summary_decode(bad, len, d), TJ_ESCHEMA);
	/* a municipality of another state */
	memcpy(bad, buf, len);
	p = memmem(bad, len, "20067", 5);
	memcpy(p, "21001", 5);
	assert_int_equal(tj_incident_summary_decode(bad, len, d), TJ_ESCHEMA);
	/* a non-canonical integer: severity 5 as uint8 (cc 05) instead of fixint */
	memcpy(bad, buf, len);
	assert_int_equal(bad[len - 2], 0x05);
	bad[len - 2] = 0xcc;
	bad[len - 1] = 0x05;
	bad[len] = 0xc2;
	assert_int_equal(tj_incident_summary_decode(bad, len + 1, d), TJ_ENONCANON);
	/* a count bomb where the victims list should be */
	tj_mp_writer_init(&w, bad, sizeof bad);
	tj_mp_put_array(&w, 13);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_uint(&w, 1);
	tj_mp_put_raw(&w, "\xdd\xff\x00\x00\x00", 5);
	assert_int_equal(tj_mp_writer_finish(&w, &blen), 0);
	assert_int_not_equal(tj_incident_summary_decode(bad, blen, d), 0);
	/* too large */
	assert_int_equal(tj_incident_summary_decode(bad, TJ_INC_BODY_MAX_BYTES + 1, d), TJ_ELIMIT);

	/* An encoder refuses an invalid incident rather than write an unreadable body. */
	s->acts[0].victim = 7;
	assert_int_equal(tj_incident_summary_encode(s, buf, sizeof buf, &len), TJ_ESCHEMA);
	s->acts[0].victim = 0;
	assert_int_equal(tj_incident_summary_encode(s, buf, 16, &len), TJ_ENOSPC);
	tj_incident_summary_free(s);
	tj_incident_summary_free(d);
}

static void test_case_body(void **state)
{
	static uint8_t buf[TJ_INC_BODY_MAX_BYTES], flip[TJ_INC_BODY_MAX_BYTES], re[TJ_INC_BODY_MAX_BYTES];
	struct tj_incident_case *c = tj_incident_case_new(), *d = tj_incident_case_new();
	uint8_t id[32], id2[32];
	size_t len, relen, accepted = 0;

	(void)state;
	assert_non_null(c);
	assert_non_null(d);
	randombytes_buf(id, sizeof id);
	c->n_names = 2;
	c->victim_names[0] = strdup("María López Hernández");
	c->victim_names[1] = strdup("Colectivo Tierra");
	c->n_contacts = 1;
	c->contacts[0] = strdup("+52 951 000 0000");
	c->narrative = strdup("Línea uno.\nLínea dos.\tFin.");
	c->consent.n = 1;
	strcpy(c->consent.v[0], "network_statistics");
	assert_int_equal(tj_incident_case_encode(c, id, buf, sizeof buf, &len), 0);
	assert_int_equal(tj_incident_case_decode(buf, len, d, id2), 0);
	assert_memory_equal(id, id2, 32);
	assert_int_equal(d->n_names, 2);
	assert_string_equal(d->victim_names[0], "María López Hernández");
	assert_string_equal(d->contacts[0], "+52 951 000 0000");
	assert_null(d->exact_place);
	assert_string_equal(d->narrative, c->narrative);
	tj_incident_case_clear(d);

	for (size_t n = 0; n < len; n++) {
		assert_int_not_equal(tj_incident_case_decode(buf, n, d, id2), 0);
		assert_int_equal(d->n_names, 0);
	}
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(flip, buf, len);
			flip[i] ^= (uint8_t)(1u << b);
			if (tj_incident_case_decode(flip, len, d, id2) != 0)
				continue;
			accepted++;
			/* Accepted flips are in text or the id: the canonical encoding is the input. */
			assert_int_equal(tj_incident_case_encode(d, id2, re, sizeof re, &relen), 0);
			assert_int_equal(relen, len);
			assert_memory_equal(re, flip, len);
			tj_incident_case_clear(d);
		}
	}
	print_message("case body %zu bytes: %zu bit flips decoded (all canonical)\n", len, accepted);

	/* A control character (ESC) in a name is refused: it could drive a terminal. */
	memcpy(flip, buf, len);
	{
		uint8_t *p = memmem(flip, len, "Colectivo", 9);
		assert_non_null(p);
		p[0] = 0x1b;
	}
	assert_int_equal(tj_incident_case_decode(flip, len, d, id2), TJ_ESCHEMA);
	/* An empty text is written as absent (NULL -> nil), never as "". */
	free(c->narrative);
	c->narrative = strdup("");
	assert_int_equal(tj_incident_case_encode(c, id, buf, sizeof buf, &len), TJ_ESCHEMA);
	tj_incident_case_free(c);
	tj_incident_case_free(d);
}

/* The largest incident the limits allow still fits a body, both ways. */
static void test_largest_bodies(void **state)
{
	static uint8_t buf[TJ_INC_BODY_MAX_BYTES];
	const struct tj_vocab *causes = tj_vocab_find("defended_cause"), *traits = tj_vocab_find("trait");
	const struct tj_vocab *measures = tj_vocab_find("protection_measure"),
	                      *acts = tj_vocab_find("act_type");
	struct tj_incident_summary *s, *d = tj_incident_summary_new();
	struct tj_incident_case *c = tj_incident_case_new(), *e = tj_incident_case_new();
	uint8_t id[32] = {0}, id2[32];
	size_t len;
	struct parsed p;

	(void)state;
	assert_non_null(d);
	assert_non_null(c);
	assert_non_null(e);
	parse(example_json, &p);
	assert_int_equal(p.rc, 0);
	s = p.s;
	s->n_victims = TJ_INC_VICTIMS_MAX;
	for (uint32_t i = 0; i < TJ_INC_VICTIMS_MAX; i++) {
		struct tj_victim *v = &s->victims[i];
		*v = s->victims[0];
		/* Zero what strcpy will not reach: the structs are compared whole. */
		memset(&v->traits, 0, sizeof v->traits);
		memset(&v->defended_causes, 0, sizeof v->defended_causes);
		snprintf(v->ref, sizeof v->ref, "ref-%027u", i);
		v->traits.n = (uint32_t)traits->n_entries;
		for (uint32_t k = 0; k < v->traits.n; k++)
			strcpy(v->traits.v[k], traits->entries[k].code);
		v->defended_causes.n = TJ_INC_LIST_MAX;
		for (uint32_t k = 0; k < TJ_INC_LIST_MAX; k++)
			strcpy(v->defended_causes.v[k], causes->entries[k].code);
	}
	s->n_aggressors = TJ_INC_AGGRESSORS_MAX;
	for (uint32_t i = 1; i < TJ_INC_AGGRESSORS_MAX; i++)
		s->aggressors[i] = s->aggressors[0];
	s->n_acts = TJ_INC_ACTS_MAX;
	memset(s->acts, 0, sizeof s->acts);
	memset(&s->protection.measures, 0, sizeof s->protection.measures);
	memset(&s->protection.failed, 0, sizeof s->protection.failed);
	for (uint32_t i = 0; i < TJ_INC_ACTS_MAX; i++) {
		strcpy(s->acts[i].type, acts->entries[i % acts->n_entries].code);
		s->acts[i].victim = i % TJ_INC_VICTIMS_MAX;
		s->acts[i].aggressor = (int32_t)(i % TJ_INC_AGGRESSORS_MAX);
	}
	s->protection.measures.n = TJ_INC_LIST_MAX;
	s->protection.failed.n = TJ_INC_LIST_MAX;
	for (uint32_t k = 0; k < TJ_INC_LIST_MAX; k++) {
		strcpy(s->protection.measures.v[k], measures->entries[k].code);
		strcpy(s->protection.failed.v[k], measures->entries[k].code);
	}
	assert_int_equal(tj_incident_validate(s, NULL, TJ_LANG_EN, NOW_MS, NULL), 0);
	assert_int_equal(tj_incident_summary_encode(s, buf, sizeof buf, &len), 0);
	print_message("largest summary body: %zu bytes\n", len);
	assert_int_equal(tj_incident_summary_decode(buf, len, d), 0);
	assert_memory_equal(s, d, sizeof *s);

	c->n_names = c->n_contacts = TJ_INC_NAMES_MAX;
	for (uint32_t i = 0; i < TJ_INC_NAMES_MAX; i++) {
		assert_non_null(c->victim_names[i] = malloc(TJ_INC_SHORT_MAX_BYTES + 1));
		assert_non_null(c->contacts[i] = malloc(TJ_INC_SHORT_MAX_BYTES + 1));
		memset(c->victim_names[i], 'n', TJ_INC_SHORT_MAX_BYTES);
		memset(c->contacts[i], 'c', TJ_INC_SHORT_MAX_BYTES);
		c->victim_names[i][TJ_INC_SHORT_MAX_BYTES] = c->contacts[i][TJ_INC_SHORT_MAX_BYTES] = '\0';
	}
	assert_non_null(c->exact_place = calloc(1, TJ_INC_SHORT_MAX_BYTES + 1));
	memset(c->exact_place, 'p', TJ_INC_SHORT_MAX_BYTES);
	assert_non_null(c->narrative = calloc(1, TJ_INC_TEXT_MAX_BYTES + 1));
	memset(c->narrative, 'x', TJ_INC_TEXT_MAX_BYTES);
	c->consent.n = (uint32_t)tj_vocab_find("consent")->n_entries;
	for (uint32_t k = 0; k < c->consent.n; k++)
		strcpy(c->consent.v[k], tj_vocab_find("consent")->entries[k].code);
	assert_int_equal(tj_incident_validate(s, c, TJ_LANG_EN, NOW_MS, NULL), 0);
	assert_int_equal(tj_incident_case_encode(c, id, buf, sizeof buf, &len), 0);
	print_message("largest case body: %zu bytes (limit %u)\n", len, TJ_INC_BODY_MAX_BYTES);
	assert_int_equal(tj_incident_case_decode(buf, len, e, id2), 0);
	assert_string_equal(e->narrative, c->narrative);
	assert_string_equal(e->contacts[31], c->contacts[31]);

	/* One byte more in a name is refused, by validation and by the encoder. */
	c->victim_names[3] = realloc(c->victim_names[3], TJ_INC_SHORT_MAX_BYTES + 2);
	assert_non_null(c->victim_names[3]);
	strcat(c->victim_names[3], "n");
	assert_int_equal(tj_incident_case_encode(c, id, buf, sizeof buf, &len), TJ_ESCHEMA);
	tj_incident_case_free(c);
	tj_incident_case_free(e);
	tj_incident_summary_free(d);
	parsed_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_parses),
	    cmocka_unit_test(test_example_round_trip),
	    cmocka_unit_test(test_to_json_form),
	    cmocka_unit_test(test_malformed_json),
	    cmocka_unit_test(test_nul_refused),
	    cmocka_unit_test(test_unknown_code_messages),
	    cmocka_unit_test(test_wrong_types_and_keys),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_no_victims),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_date_forms_accepted),
	    cmocka_unit_test(test_places),
	    cmocka_unit_test(test_indexes),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_ref_never_echoed),
	    cmocka_unit_test(test_severity),
	    cmocka_unit_test(test_date_functions),
	    cmocka_unit_test(test_summary_truncation_and_flips),
	    cmocka_unit_test(test_summary_decode_rejects),
	    cmocka_unit_test(test_case_body),
	    cmocka_unit_test(test_largest_bodies),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
