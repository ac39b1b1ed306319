/*
 * Fuzzes the incident body decoders (summary and case) with the same bytes.
 * Whatever a decoder accepts must be canonical (re-encode to the very same
 * bytes) and render to JSON; a summary the decoder accepts with this build's
 * vocabulary must also survive its own JSON output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_incident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 9999-12-31: decoded dates are not bounded by a clock, so none is "after today" here. */
#define FUZZ_FAR_MS 253402214400000ull

static void fuzz_summary_json(const struct tj_incident_summary *s)
{
	struct tj_incident_summary *s2 = NULL;
	struct tj_incident_case *c2 = NULL;
	struct tj_verr verr;
	cJSON *j = tj_incident_to_json(s, NULL, NULL, TJ_LANG_EN);
	char *txt;

	if (!j || !(txt = cJSON_PrintUnformatted(j)))
		abort();
	/* Codes of a newer vocabulary are kept by the decoder but refused by JSON input. */
	if (s->vocab_version <= TJ_VOCAB_VERSION_CURRENT) {
		if (tj_incident_from_json(txt, strlen(txt), TJ_LANG_EN, FUZZ_FAR_MS, &s2, &c2, &verr) != 0 ||
		    c2)
			abort();
		/* A computed severity is recomputed on import: compare the rest. */
		if (!s->severity_explicit) {
			s2->severity = s->severity;
		}
		if (memcmp(s2, s, sizeof *s) != 0)
			abort();
	}
	cJSON_free(txt);
	tj_incident_json_free(j);
	tj_incident_summary_free(s2);
}

static void fuzz_summary(const uint8_t *data, size_t size, uint8_t *buf)
{
	struct tj_incident_summary *s = tj_incident_summary_new();
	size_t len;

	if (!s)
		abort();
	if (tj_incident_summary_decode(data, size, s) == 0) {
		if (tj_incident_summary_encode(s, buf, TJ_INC_BODY_MAX_BYTES, &len) != 0 || len != size ||
		    memcmp(buf, data, size) != 0)
			abort();
		fuzz_summary_json(s);
	}
	tj_incident_summary_free(s);
}

static void fuzz_case(const uint8_t *data, size_t size, uint8_t *buf)
{
	struct tj_incident_case *c = tj_incident_case_new();
	struct tj_incident_summary *s = tj_incident_summary_new();
	uint8_t id[32];
	size_t len;
	cJSON *j;

	if (!c || !s)
		abort();
	if (tj_incident_case_decode(data, size, c, id) == 0) {
		if (tj_incident_case_encode(c, id, buf, TJ_INC_BODY_MAX_BYTES, &len) != 0 || len != size ||
		    memcmp(buf, data, size) != 0)
			abort();
		if (!(j = tj_incident_to_json(s, c, NULL, TJ_LANG_ES)))
			abort();
		tj_incident_json_free(j);
	} else if (c->n_names || c->narrative || c->exact_place) {
		abort(); /* a refused case leaves nothing behind */
	}
	tj_incident_case_free(c);
	tj_incident_summary_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(TJ_INC_BODY_MAX_BYTES);

	if (!buf)
		abort();
	fuzz_summary(data, size, buf);
	fuzz_case(data, size, buf);
	free(buf);
	return 0;
}
