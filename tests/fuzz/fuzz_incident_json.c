/*
 * Fuzzes tj_incident_from_json. Whatever it accepts must validate, survive
 * struct -> msgpack -> struct unchanged, and re-import from its own JSON
 * output (labels and all) as the same incident.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_incident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed "now" (2026-06-01T12:00:00Z): the target must be deterministic. */
#define FUZZ_NOW_MS 1780315200000ull

static void fuzz_check_body(const struct tj_incident_summary *s, const struct tj_incident_case *c,
                            uint8_t *buf)
{
	struct tj_incident_summary *s2 = tj_incident_summary_new();
	struct tj_incident_case *c2 = tj_incident_case_new();
	uint8_t id[32] = {1}, id2[32];
	size_t len;

	if (!s2 || !c2)
		abort();
	if (tj_incident_summary_encode(s, buf, TJ_INC_BODY_MAX_BYTES, &len) != 0 ||
	    tj_incident_summary_decode(buf, len, s2) != 0 || memcmp(s, s2, sizeof *s) != 0)
		abort();
	if (c) {
		if (tj_incident_case_encode(c, id, buf, TJ_INC_BODY_MAX_BYTES, &len) != 0 ||
		    tj_incident_case_decode(buf, len, c2, id2) != 0 || c2->n_names != c->n_names ||
		    c2->n_contacts != c->n_contacts || memcmp(id, id2, 32) != 0 ||
		    (c->narrative && strcmp(c->narrative, c2->narrative) != 0))
			abort();
	}
	tj_incident_summary_free(s2);
	tj_incident_case_free(c2);
}

static void fuzz_check_json(const struct tj_incident_summary *s, const struct tj_incident_case *c)
{
	struct tj_incident_summary *s2 = NULL;
	struct tj_incident_case *c2 = NULL;
	struct tj_verr verr;
	cJSON *j = tj_incident_to_json(s, c, NULL, TJ_LANG_ES);
	char *txt;

	if (!j || !(txt = cJSON_PrintUnformatted(j)))
		abort();
	if (tj_incident_from_json(txt, strlen(txt), TJ_LANG_EN, FUZZ_NOW_MS, &s2, &c2, &verr) != 0 ||
	    memcmp(s, s2, sizeof *s) != 0 || (c == NULL) != (c2 == NULL))
		abort();
	cJSON_free(txt);
	tj_incident_json_free(j);
	tj_incident_summary_free(s2);
	tj_incident_case_free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	uint8_t *buf;
	int rc;

	rc = tj_incident_from_json((const char *)data, size, TJ_LANG_ES, FUZZ_NOW_MS, &s, &c, &verr);
	if (rc != 0) {
		/* A refusal always says what, and leaves nothing behind. */
		if (s || c || (rc != -ENOMEM && verr.message[0] == '\0'))
			abort();
		return 0;
	}
	if (!s || tj_incident_validate(s, c, TJ_LANG_EN, FUZZ_NOW_MS, &verr) != 0)
		abort();
	if (!(buf = malloc(TJ_INC_BODY_MAX_BYTES)))
		abort();
	fuzz_check_body(s, c, buf);
	fuzz_check_json(s, c);
	free(buf);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return 0;
}
