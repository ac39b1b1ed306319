/*
 * The one JSON mapping of an incident (DESIGN.md "The incident: two faces"),
 * in and out. Input is strict: unknown or repeated keys and wrong types are
 * errors that name the field, so a typo never silently drops data. What the
 * JSON says is copied into the structs here; what it means is judged by
 * tj_incident_validate(), so JSON and msgpack bodies obey the same rules.
 */
#include "tj_incident.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tj_incident_internal.h"

/* Parsing context: the language of messages and where they go. */
struct tj__jin {
	enum tj_lang lang;
	struct tj_verr *verr;
};

/* One allowed key of a JSON object; coded keys may carry a "<key>_label" sibling. */
struct tj__key {
	const char *name;
	bool coded;
};

#define TJ__NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* The data keys first: TJ__TOP_DATA_KEYS of them are listed in messages; output-only keys follow. */
#define TJ__TOP_DATA_KEYS 12
static const struct tj__key tj__top_keys[] = {
    {"occurred", false},    {"location", false}, {"residence", false},         {"victims", false},
    {"aggressors", false},  {"acts", false},     {"protection", false},        {"source", false},
    {"verification", true}, {"severity", false}, {"severity_explicit", false}, {"case", false},
    {"id", false},          {"author", false},   {"recorded_at", false},
};
static const struct tj__key tj__occurred_keys[] = {{"start", false}, {"end", false}, {"precision", true}};
static const struct tj__key tj__place_keys[] = {
    {"state", true}, {"municipality", true}, {"place_type", true}};
static const struct tj__key tj__residence_keys[] = {{"state", true}, {"municipality", true}};
static const struct tj__key tj__victim_keys[] = {
    {"ref", false},
    {"unit", true},
    {"role", true},
    {"gender", true},
    {"age_band", true},
    {"traits", true},
    {"defended_causes", true},
};
static const struct tj__key tj__aggressor_keys[] = {
    {"category", true}, {"type", true}, {"level", true}, {"involvement", true}};
static const struct tj__key tj__act_keys[] = {{"type", true}, {"victim", false}, {"aggressor", false}};
static const struct tj__key tj__protection_keys[] = {
    {"status", true}, {"risk_level", true}, {"measures", true}, {"failed", true}};
static const struct tj__key tj__source_keys[] = {{"type", true}, {"reliability", true}};
static const struct tj__key tj__case_keys[] = {
    {"victim_names", false}, {"contacts", false}, {"exact_place", false},
    {"narrative", false},    {"consent", true},   {"shared", false},
};

/* ---- input: structure -------------------------------------------------- */

static void tj__path(char out[64], const char *parent, const char *key)
{
	int r;

	/* A path longer than 63 bytes is cut: it only names a field in a message. */
	if (parent && *parent)
		r = snprintf(out, 64, "%s.%s", parent, key);
	else
		r = snprintf(out, 64, "%s", key);
	if (r < 0)
		out[0] = '\0';
}

static bool tj__key_allowed(const char *k, const struct tj__key *keys, size_t n)
{
	size_t kl = strlen(k), sl = sizeof "_label" - 1;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, keys[i].name))
			return true;
	/* Labels are for display: accepted (from our own output) and ignored. */
	if (kl <= sl || strcmp(k + kl - sl, "_label"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (keys[i].coded && strlen(keys[i].name) == kl - sl && !strncmp(k, keys[i].name, kl - sl))
			return true;
	return false;
}

static void tj__key_list(const struct tj__key *keys, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", keys[i].name);
		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
	}
}

/* obj must be an object whose keys are all allowed and none repeated. */
static int tj__check_object(const cJSON *obj, const char *path, const struct tj__key *keys, size_t n,
                            const struct tj__jin *in)
{
	char f[64], echo[64], allowed[300];

	if (!cJSON_IsObject(obj))
		return tj__verr(in->verr, *path ? path : "json", "%s",
		                TJ__L(in->lang, "must be an object {...}", "debe ser un objeto {...}"));
	for (const cJSON *c = obj->child; c; c = c->next) {
		tj__echo(c->string ? c->string : "", echo);
		tj__path(f, path, echo);
		if (!c->string || !tj__key_allowed(c->string, keys, n)) {
			/* id, author and recorded_at only make sense at the top; other objects list theirs.
			 */
			tj__key_list(keys, keys == tj__top_keys ? TJ__TOP_DATA_KEYS : n, allowed,
			             sizeof allowed);
			return tj__verr(in->verr, f,
			                TJ__L(in->lang, "unknown field; allowed: %s",
			                      "campo desconocido; se permiten: %s"),
			                allowed);
		}
		/* Only allowed keys get here, so this stays short whatever the input's size. */
		for (const cJSON *p = obj->child; p != c; p = p->next)
			if (!strcmp(p->string, c->string))
				return tj__verr(in->verr, f, "%s",
				                TJ__L(in->lang, "repeated key", "clave repetida"));
	}
	return 0;
}

/* The member key of obj, or NULL when absent or null (null means absent). */
static const cJSON *tj__get(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(it) ? NULL : it;
}

static int tj__need_string(const cJSON *it, const char *f, const struct tj__jin *in)
{
	if (cJSON_IsString(it) && it->valuestring)
		return 0;
	return tj__verr(in->verr, f, "%s",
	                TJ__L(in->lang, "must be a string \"...\"", "debe ser una cadena de texto \"...\""));
}

static int tj__need_array(const cJSON *it, uint32_t max, const char *f, const struct tj__jin *in, uint32_t *n)
{
	int size;

	if (!cJSON_IsArray(it))
		return tj__verr(in->verr, f, "%s",
		                TJ__L(in->lang, "must be a list [...]", "debe ser una lista [...]"));
	size = cJSON_GetArraySize(it);
	if (size < 0 || (uint32_t)size > max)
		return tj__too_many((uint32_t)size, max, in->lang, f, in->verr);
	*n = (uint32_t)size;
	return 0;
}

/* A coded value: absent leaves out = "" (validation decides if it was required). */
static int tj__j_code(const cJSON *obj, const char *key, const char *vocab, const char *parent,
                      char out[TJ_CODE_MAX], const struct tj__jin *in)
{
	const cJSON *it = tj__get(obj, key);
	char f[64];
	int rc;

	tj__path(f, parent, key);
	out[0] = '\0';
	if (!it)
		return 0;
	if ((rc = tj__need_string(it, f, in)) ||
	    (rc = tj__check_code(vocab, it->valuestring, false, false, in->lang, f, in->verr)))
		return rc;
	snprintf(out, TJ_CODE_MAX, "%s", it->valuestring);
	return 0;
}

static int tj__j_codelist(const cJSON *obj, const char *key, const char *vocab, const char *parent,
                          struct tj_codelist *l, const struct tj__jin *in)
{
	const cJSON *it = tj__get(obj, key), *e;
	char f[64], fi[80];
	uint32_t n = 0, i = 0;
	int rc;

	tj__path(f, parent, key);
	l->n = 0;
	if (!it)
		return 0;
	if ((rc = tj__need_array(it, TJ_INC_LIST_MAX, f, in, &n)))
		return rc;
	cJSON_ArrayForEach(e, it)
	{
		snprintf(fi, sizeof fi, "%s[%u]", f, i);
		if ((rc = tj__need_string(e, fi, in)) ||
		    (rc = tj__check_code(vocab, e->valuestring, true, false, in->lang, fi, in->verr)))
			return rc;
		snprintf(l->v[i++], TJ_CODE_MAX, "%s", e->valuestring);
	}
	l->n = n;
	return 0;
}

/* An INEGI code (state or municipality); absent leaves out = "". */
static int tj__j_inegi(const cJSON *obj, const char *key, bool is_state, const char *parent, char *out,
                       size_t cap, const struct tj__jin *in)
{
	const cJSON *it = tj__get(obj, key);
	char f[64];
	int rc;

	tj__path(f, parent, key);
	out[0] = '\0';
	if (!it)
		return 0;
	if ((rc = tj__need_string(it, f, in)) ||
	    (rc = tj__check_inegi(it->valuestring, is_state, in->lang, f, in->verr)))
		return rc;
	snprintf(out, cap, "%s", it->valuestring);
	return 0;
}

static int tj__j_date(const cJSON *obj, const char *key, const char *parent, struct tj_date *d,
                      const struct tj__jin *in)
{
	const cJSON *it = tj__get(obj, key);
	char f[64];
	int rc;

	tj__path(f, parent, key);
	memset(d, 0, sizeof *d);
	if (!it)
		return 0;
	if ((rc = tj__need_string(it, f, in)))
		return rc;
	if (tj_date_parse(it->valuestring, d))
		return tj__bad_date(it->valuestring, in->lang, f, in->verr);
	return 0;
}

/* A whole number 0..max (the range check against the lists is validation's). */
static int tj__j_index(const cJSON *it, const char *f, const struct tj__jin *in, uint32_t *v)
{
	double d;

	if (cJSON_IsNumber(it)) {
		d = it->valuedouble;
		if (d >= 0 && d <= 1e6 && (double)(uint32_t)d == d) { /* no libm: the cast truncates */
			*v = (uint32_t)d;
			return 0;
		}
	}
	return tj__verr(in->verr, f, "%s",
	                TJ__L(in->lang, "must be a whole number, 0 or more (an index into the list)",
	                      "debe ser un número entero, 0 o mayor (un índice de la lista)"));
}

/* ---- input: the objects ------------------------------------------------ */

static int tj__j_occurred(const cJSON *root, struct tj_incident_summary *s, const struct tj__jin *in)
{
	const cJSON *o = tj__get(root, "occurred");
	int rc;

	if (!o)
		return 0; /* validation reports the missing date */
	if ((rc = tj__check_object(o, "occurred", tj__occurred_keys, TJ__NKEYS(tj__occurred_keys), in)) ||
	    (rc = tj__j_date(o, "start", "occurred", &s->occurred.start, in)) ||
	    (rc = tj__j_date(o, "end", "occurred", &s->occurred.end, in)))
		return rc;
	return tj__j_code(o, "precision", "precision", "occurred", s->occurred.precision, in);
}

static int tj__j_places(const cJSON *root, struct tj_incident_summary *s, const struct tj__jin *in)
{
	const cJSON *o = tj__get(root, "location");
	int rc;

	if (o && ((rc = tj__check_object(o, "location", tj__place_keys, TJ__NKEYS(tj__place_keys), in)) ||
	          (rc = tj__j_inegi(o, "state", true, "location", s->location.state, 3, in)) ||
	          (rc = tj__j_inegi(o, "municipality", false, "location", s->location.municipality, 6, in)) ||
	          (rc = tj__j_code(o, "place_type", "place_type", "location", s->location.place_type, in))))
		return rc;
	o = tj__get(root, "residence");
	if (o &&
	    ((rc = tj__check_object(o, "residence", tj__residence_keys, TJ__NKEYS(tj__residence_keys), in)) ||
	     (rc = tj__j_inegi(o, "state", true, "residence", s->residence.state, 3, in)) ||
	     (rc = tj__j_inegi(o, "municipality", false, "residence", s->residence.municipality, 6, in))))
		return rc;
	return 0;
}

static int tj__j_victim(const cJSON *o, const char *p, struct tj_incident_summary *s, uint32_t i,
                        const struct tj__jin *in)
{
	struct tj_victim *v = &s->victims[i];
	const cJSON *ref;
	char f[64];
	int rc;

	if ((rc = tj__check_object(o, p, tj__victim_keys, TJ__NKEYS(tj__victim_keys), in)))
		return rc;
	if ((ref = tj__get(o, "ref"))) {
		tj__path(f, p, "ref");
		if ((rc = tj__need_string(ref, f, in)) ||
		    (rc = tj__check_ref(ref->valuestring, in->lang, f, in->verr)))
			return rc;
		snprintf(v->ref, sizeof v->ref, "%s", ref->valuestring);
	}
	if ((rc = tj__j_code(o, "unit", "unit", p, v->unit, in)) ||
	    (rc = tj__j_code(o, "role", "role", p, v->role, in)) ||
	    (rc = tj__j_code(o, "gender", "gender", p, v->gender, in)) ||
	    (rc = tj__j_code(o, "age_band", "age_band", p, v->age_band, in)) ||
	    (rc = tj__j_codelist(o, "traits", "trait", p, &v->traits, in)))
		return rc;
	return tj__j_codelist(o, "defended_causes", "defended_cause", p, &v->defended_causes, in);
}

static int tj__j_aggressor(const cJSON *o, const char *p, struct tj_incident_summary *s, uint32_t i,
                           const struct tj__jin *in)
{
	struct tj_aggressor *a = &s->aggressors[i];
	int rc;

	if ((rc = tj__check_object(o, p, tj__aggressor_keys, TJ__NKEYS(tj__aggressor_keys), in)) ||
	    (rc = tj__j_code(o, "category", "aggressor_category", p, a->category, in)) ||
	    (rc = tj__j_code(o, "type", "aggressor_type", p, a->type, in)) ||
	    (rc = tj__j_code(o, "level", "aggressor_level", p, a->level, in)))
		return rc;
	return tj__j_code(o, "involvement", "involvement", p, a->involvement, in);
}

static int tj__j_act(const cJSON *o, const char *p, struct tj_incident_summary *s, uint32_t i,
                     const struct tj__jin *in)
{
	struct tj_act *a = &s->acts[i];
	const cJSON *it;
	char f[64];
	uint32_t v = 0;
	int rc;

	if ((rc = tj__check_object(o, p, tj__act_keys, TJ__NKEYS(tj__act_keys), in)) ||
	    (rc = tj__j_code(o, "type", "act_type", p, a->type, in)))
		return rc;
	tj__path(f, p, "victim");
	if (!(it = tj__get(o, "victim")))
		return tj__verr(in->verr, f, "%s",
		                TJ__L(in->lang, "missing; it is required", "falta; es obligatorio"));
	if ((rc = tj__j_index(it, f, in, &a->victim)))
		return rc;
	a->aggressor = -1;
	tj__path(f, p, "aggressor");
	if (!(it = tj__get(o, "aggressor")))
		return 0;
	if ((rc = tj__j_index(it, f, in, &v)))
		return rc;
	a->aggressor = (int32_t)v;
	return 0;
}

/* Parses the i-th object of a list into s. */
typedef int (*tj__item_fn)(const cJSON *o, const char *path, struct tj_incident_summary *s, uint32_t i,
                           const struct tj__jin *in);

/* A list of objects: victims, aggressors or acts. */
static int tj__j_list(const cJSON *root, const char *key, uint32_t max, tj__item_fn item,
                      struct tj_incident_summary *s, const struct tj__jin *in, uint32_t *count)
{
	const cJSON *arr = tj__get(root, key), *e;
	char p[64];
	uint32_t n = 0, i = 0;
	int rc;

	*count = 0;
	if (!arr)
		return 0;
	if ((rc = tj__need_array(arr, max, key, in, &n)))
		return rc;
	cJSON_ArrayForEach(e, arr)
	{
		snprintf(p, sizeof p, "%s[%u]", key, i);
		if ((rc = item(e, p, s, i, in)))
			return rc;
		i++;
	}
	*count = n;
	return 0;
}

static int tj__j_protection_source(const cJSON *root, struct tj_incident_summary *s, const struct tj__jin *in)
{
	const cJSON *o = tj__get(root, "protection");
	int rc;

	if (o &&
	    ((rc = tj__check_object(o, "protection", tj__protection_keys, TJ__NKEYS(tj__protection_keys),
	                            in)) ||
	     (rc = tj__j_code(o, "status", "protection_status", "protection", s->protection.status, in)) ||
	     (rc = tj__j_code(o, "risk_level", "risk_level", "protection", s->protection.risk_level, in)) ||
	     (rc = tj__j_codelist(o, "measures", "protection_measure", "protection", &s->protection.measures,
	                          in)) ||
	     (rc = tj__j_codelist(o, "failed", "protection_measure", "protection", &s->protection.failed,
	                          in))))
		return rc;
	o = tj__get(root, "source");
	if (o && ((rc = tj__check_object(o, "source", tj__source_keys, TJ__NKEYS(tj__source_keys), in)) ||
	          (rc = tj__j_code(o, "type", "source_type", "source", s->source.type, in)) ||
	          (rc = tj__j_code(o, "reliability", "reliability", "source", s->source.reliability, in))))
		return rc;
	return tj__j_code(root, "verification", "verification", "", s->verification, in);
}

/* "severity" (1..5) overrides the computed one, unless "severity_explicit" is false. */
static int tj__j_severity(const cJSON *root, struct tj_incident_summary *s, const struct tj__jin *in)
{
	const cJSON *sev = tj__get(root, "severity"), *ex = tj__get(root, "severity_explicit");
	double d;

	if (ex && !cJSON_IsBool(ex))
		return tj__verr(in->verr, "severity_explicit", "%s",
		                TJ__L(in->lang, "must be true or false", "debe ser true o false"));
	if (ex && cJSON_IsTrue(ex) && !sev)
		return tj__verr(in->verr, "severity", "%s",
		                TJ__L(in->lang, "missing; severity_explicit needs it",
		                      "falta; severity_explicit lo requiere"));
	if (sev) {
		d = cJSON_IsNumber(sev) ? sev->valuedouble : 0;
		if (!(d >= 1 && d <= 5 && (double)(uint8_t)d == d))
			return tj__verr(in->verr, "severity", "%s",
			                TJ__L(in->lang, "must be a whole number from 1 to 5",
			                      "debe ser un número entero de 1 a 5"));
		if (!ex || cJSON_IsTrue(ex)) {
			s->severity = (uint8_t)d;
			s->severity_explicit = true;
		}
	}
	return 0;
}

static int tj__j_names(const cJSON *o, const char *key, char **v, uint32_t *count, const struct tj__jin *in)
{
	const cJSON *arr = tj__get(o, key), *e;
	char f[64], fi[80];
	uint32_t n = 0;
	int rc;

	tj__path(f, "case", key);
	if (!arr)
		return 0;
	if ((rc = tj__need_array(arr, TJ_INC_NAMES_MAX, f, in, &n)))
		return rc;
	cJSON_ArrayForEach(e, arr)
	{
		snprintf(fi, sizeof fi, "%s[%u]", f, *count);
		if ((rc = tj__need_string(e, fi, in)))
			return rc;
		if (!(v[*count] = strdup(e->valuestring)))
			return -ENOMEM;
		(*count)++;
	}
	return 0;
}

/* An optional text: "" counts as absent. */
static int tj__j_text(const cJSON *o, const char *key, char **out, const struct tj__jin *in)
{
	const cJSON *it = tj__get(o, key);
	char f[64];
	int rc;

	tj__path(f, "case", key);
	if (!it)
		return 0;
	if ((rc = tj__need_string(it, f, in)))
		return rc;
	if (!it->valuestring[0])
		return 0;
	return (*out = strdup(it->valuestring)) ? 0 : -ENOMEM;
}

static int tj__j_case(const cJSON *root, struct tj_incident_case **out, const struct tj__jin *in)
{
	const cJSON *o = tj__get(root, "case"), *shared;
	struct tj_incident_case *c;
	int rc;

	*out = NULL;
	if (!o)
		return 0;
	if ((rc = tj__check_object(o, "case", tj__case_keys, TJ__NKEYS(tj__case_keys), in)))
		return rc;
	/* {"shared": false} is what output says of a case this node cannot read: no case. */
	if ((shared = tj__get(o, "shared"))) {
		if (!cJSON_IsFalse(shared) || cJSON_GetArraySize(o) != 1)
			return tj__verr(
			    in->verr, "case.shared", "%s",
			    TJ__L(in->lang,
			          "only {\"shared\": false} alone is accepted; give the case fields instead",
			          "solo se acepta {\"shared\": false} sin más; da los campos del caso"));
		return 0;
	}
	if (!(c = tj_incident_case_new()))
		return -ENOMEM;
	*out = c;
	if ((rc = tj__j_names(o, "victim_names", c->victim_names, &c->n_names, in)) ||
	    (rc = tj__j_names(o, "contacts", c->contacts, &c->n_contacts, in)) ||
	    (rc = tj__j_text(o, "exact_place", &c->exact_place, in)) ||
	    (rc = tj__j_text(o, "narrative", &c->narrative, in)))
		return rc;
	return tj__j_codelist(o, "consent", "consent", "case", &c->consent, in);
}

static int tj__j_incident(const cJSON *root, struct tj_incident_summary *s, struct tj_incident_case **c,
                          const struct tj__jin *in)
{
	int rc;

	s->schema_version = TJ_INCIDENT_SCHEMA_VERSION;
	s->vocab_version = TJ_VOCAB_VERSION_CURRENT;
	if ((rc = tj__check_object(root, "", tj__top_keys, TJ__NKEYS(tj__top_keys), in)) ||
	    (rc = tj__j_occurred(root, s, in)) || (rc = tj__j_places(root, s, in)) ||
	    (rc = tj__j_list(root, "victims", TJ_INC_VICTIMS_MAX, tj__j_victim, s, in, &s->n_victims)) ||
	    (rc = tj__j_list(root, "aggressors", TJ_INC_AGGRESSORS_MAX, tj__j_aggressor, s, in,
	                     &s->n_aggressors)) ||
	    (rc = tj__j_list(root, "acts", TJ_INC_ACTS_MAX, tj__j_act, s, in, &s->n_acts)) ||
	    (rc = tj__j_protection_source(root, s, in)) || (rc = tj__j_severity(root, s, in)) ||
	    (rc = tj__j_case(root, c, in)))
		return rc;
	return 0;
}

/* ---- input: raw text --------------------------------------------------- */

static int tj__malformed_at(const char *json, size_t len, size_t pos, enum tj_lang lang, struct tj_verr *verr)
{
	unsigned line = 1, col = 1;

	if (pos > len)
		pos = len;
	for (size_t i = 0; i < pos; i++) {
		if (json[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)json[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	tj__verr(verr, "json",
	         TJ__L(lang, "malformed JSON at line %u, column %u (byte %zu)",
	               "JSON mal formado en la línea %u, columna %u (byte %zu)"),
	         line, col, pos);
	return TJ_EMALFORMED;
}

/*
 * cJSON keeps strings NUL-terminated, so a raw NUL byte or a \u0000 escape
 * would silently cut a value short. Refuse both before parsing. Returns the
 * offending offset, or len when there is none.
 */
static size_t tj__find_nul(const char *json, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char ch = json[i];
		if (ch == '\0')
			return i;
		if (!in_str) {
			in_str = ch == '"';
			continue;
		}
		if (ch == '"') {
			in_str = false;
		} else if (ch == '\\' && i + 1 < len) {
			if (json[i + 1] == 'u' && i + 5 < len && !memcmp(json + i + 2, "0000", 4))
				return i;
			i++; /* the escaped character */
		}
	}
	return len;
}

/* cJSON frees without wiping: clear every string (names, places) first. */
static void tj__wipe_tree(cJSON *j)
{
	for (cJSON *c = j; c; c = c->next) {
		if (c->valuestring)
			sodium_memzero(c->valuestring, strlen(c->valuestring));
		if (c->string)
			sodium_memzero(c->string, strlen(c->string));
		if (c->child)
			tj__wipe_tree(c->child);
	}
}

void tj_incident_json_free(cJSON *j)
{
	if (!j)
		return;
	tj__wipe_tree(j);
	cJSON_Delete(j);
}

static bool tj__only_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return false;
	return true;
}

int tj_incident_from_json(const char *json, size_t len, enum tj_lang lang, uint64_t now_ms,
                          struct tj_incident_summary **sum_out, struct tj_incident_case **case_out,
                          struct tj_verr *verr)
{
	struct tj__jin in = {lang, verr};
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	const char *end = NULL;
	cJSON *root = NULL;
	size_t nul, bom;
	int rc;

	if (verr)
		memset(verr, 0, sizeof *verr);
	if (!json || !sum_out || !case_out)
		return -EINVAL;
	*sum_out = NULL;
	*case_out = NULL;
	if (len > TJ_INC_JSON_MAX_BYTES) {
		tj__verr(verr, "json", TJ__L(lang, "%zu bytes; at most %u", "%zu bytes; como máximo %u"), len,
		         TJ_INC_JSON_MAX_BYTES);
		return TJ_ELIMIT;
	}
	if ((nul = tj__find_nul(json, len)) < len)
		return tj__malformed_at(json, len, nul, lang, verr);
	/* Windows editors (Notepad) start UTF-8 files with a byte order mark: skip it. */
	bom = len >= 3 && !memcmp(json, "\xef\xbb\xbf", 3) ? 3 : 0;
	root = cJSON_ParseWithLengthOpts(json + bom, len - bom, &end, false);
	if (!root || !end || end < json || end > json + len || !tj__only_space(end, json + len)) {
		rc = tj__malformed_at(json, len, end && end >= json ? (size_t)(end - json) : 0, lang, verr);
		goto out;
	}
	if (!(s = tj_incident_summary_new())) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tj__j_incident(root, s, &c, &in)) || (rc = tj_incident_validate(s, c, lang, now_ms, verr)))
		goto out;
	if (!s->severity_explicit)
		s->severity = tj_incident_compute_severity(s, false);
	*sum_out = s;
	*case_out = c;
	s = NULL;
	c = NULL;
out:
	tj_incident_json_free(root);
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return rc;
}

/* ---- output ------------------------------------------------------------ */

/* Output context: the label language, and whether every allocation succeeded. */
struct tj__jout {
	enum tj_lang lang;
	bool ok;
};

static void tj__add_str(struct tj__jout *o, cJSON *obj, const char *key, const char *v)
{
	if (!cJSON_AddStringToObject(obj, key, v))
		o->ok = false;
}

static void tj__add_label(struct tj__jout *o, cJSON *obj, const char *key, const char *label)
{
	char k[64];

	snprintf(k, sizeof k, "%s_label", key);
	tj__add_str(o, obj, k, label);
}

/* A coded value and its label; absent ("") leaves both out. */
static void tj__add_code(struct tj__jout *o, cJSON *obj, const char *key, const char *vocab, const char *code)
{
	if (!code[0])
		return;
	tj__add_str(o, obj, key, code);
	tj__add_label(o, obj, key, tj_vocab_label(vocab, code, o->lang));
}

static void tj__add_codelist(struct tj__jout *o, cJSON *obj, const char *key, const char *vocab,
                             const struct tj_codelist *l)
{
	char k[64];
	cJSON *codes, *labels;

	if (l->n == 0)
		return;
	snprintf(k, sizeof k, "%s_label", key);
	codes = cJSON_AddArrayToObject(obj, key);
	labels = cJSON_AddArrayToObject(obj, k);
	if (!codes || !labels) {
		o->ok = false;
		return;
	}
	for (uint32_t i = 0; i < l->n && i < TJ_INC_LIST_MAX; i++) {
		if (!cJSON_AddItemToArray(codes, cJSON_CreateString(l->v[i])) ||
		    !cJSON_AddItemToArray(labels,
		                          cJSON_CreateString(tj_vocab_label(vocab, l->v[i], o->lang))))
			o->ok = false;
	}
}

static void tj__add_place(struct tj__jout *o, cJSON *obj, const char *state, const char *muni)
{
	const struct tj_state_info *st = tj_inegi_state(state);
	const struct tj_municipality_info *m = tj_inegi_municipality(muni);

	if (state[0]) {
		tj__add_str(o, obj, "state", state);
		tj__add_label(o, obj, "state", st ? st->name : state);
	}
	if (muni[0]) {
		tj__add_str(o, obj, "municipality", muni);
		tj__add_label(o, obj, "municipality", m ? m->name : muni);
	}
}

static cJSON *tj__add_obj(struct tj__jout *o, cJSON *parent, const char *key)
{
	cJSON *obj = cJSON_CreateObject();

	/* Arrays get their objects by position; objects by key. */
	if (!obj || !(key ? cJSON_AddItemToObject(parent, key, obj) : cJSON_AddItemToArray(parent, obj))) {
		cJSON_Delete(obj);
		o->ok = false;
		return NULL;
	}
	return obj;
}

static void tj__out_when_where(struct tj__jout *o, cJSON *root, const struct tj_incident_summary *s)
{
	char d[11];
	cJSON *obj;

	if ((obj = tj__add_obj(o, root, "occurred"))) {
		tj_date_format(&s->occurred.start, d);
		tj__add_str(o, obj, "start", d);
		if (s->occurred.end.year) {
			tj_date_format(&s->occurred.end, d);
			tj__add_str(o, obj, "end", d);
		}
		tj__add_code(o, obj, "precision", "precision", s->occurred.precision);
	}
	if ((obj = tj__add_obj(o, root, "location"))) {
		tj__add_place(o, obj, s->location.state, s->location.municipality);
		tj__add_code(o, obj, "place_type", "place_type", s->location.place_type);
	}
	if (s->residence.state[0] && (obj = tj__add_obj(o, root, "residence")))
		tj__add_place(o, obj, s->residence.state, s->residence.municipality);
}

static void tj__out_victims(struct tj__jout *o, cJSON *root, const struct tj_incident_summary *s)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "victims"), *obj;

	if (!arr) {
		o->ok = false;
		return;
	}
	for (uint32_t i = 0; i < s->n_victims && i < TJ_INC_VICTIMS_MAX; i++) {
		const struct tj_victim *v = &s->victims[i];
		if (!(obj = tj__add_obj(o, arr, NULL)))
			return;
		if (v->ref[0])
			tj__add_str(o, obj, "ref", v->ref);
		tj__add_code(o, obj, "unit", "unit", v->unit);
		tj__add_code(o, obj, "role", "role", v->role);
		tj__add_code(o, obj, "gender", "gender", v->gender);
		tj__add_code(o, obj, "age_band", "age_band", v->age_band);
		tj__add_codelist(o, obj, "traits", "trait", &v->traits);
		tj__add_codelist(o, obj, "defended_causes", "defended_cause", &v->defended_causes);
	}
}

static void tj__out_aggressors_acts(struct tj__jout *o, cJSON *root, const struct tj_incident_summary *s)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "aggressors"), *obj;

	for (uint32_t i = 0; arr && i < s->n_aggressors && i < TJ_INC_AGGRESSORS_MAX; i++) {
		const struct tj_aggressor *a = &s->aggressors[i];
		if (!(obj = tj__add_obj(o, arr, NULL)))
			return;
		tj__add_code(o, obj, "category", "aggressor_category", a->category);
		tj__add_code(o, obj, "type", "aggressor_type", a->type);
		tj__add_code(o, obj, "level", "aggressor_level", a->level);
		tj__add_code(o, obj, "involvement", "involvement", a->involvement);
	}
	if (!arr || !(arr = cJSON_AddArrayToObject(root, "acts"))) {
		o->ok = false;
		return;
	}
	for (uint32_t i = 0; i < s->n_acts && i < TJ_INC_ACTS_MAX; i++) {
		const struct tj_act *a = &s->acts[i];
		if (!(obj = tj__add_obj(o, arr, NULL)))
			return;
		tj__add_code(o, obj, "type", "act_type", a->type);
		if (!cJSON_AddNumberToObject(obj, "victim", a->victim) ||
		    (a->aggressor >= 0 && !cJSON_AddNumberToObject(obj, "aggressor", a->aggressor)))
			o->ok = false;
	}
}

static void tj__out_rest(struct tj__jout *o, cJSON *root, const struct tj_incident_summary *s)
{
	cJSON *obj;

	if ((obj = tj__add_obj(o, root, "protection"))) {
		tj__add_code(o, obj, "status", "protection_status", s->protection.status);
		tj__add_code(o, obj, "risk_level", "risk_level", s->protection.risk_level);
		tj__add_codelist(o, obj, "measures", "protection_measure", &s->protection.measures);
		tj__add_codelist(o, obj, "failed", "protection_measure", &s->protection.failed);
	}
	if ((obj = tj__add_obj(o, root, "source"))) {
		tj__add_code(o, obj, "type", "source_type", s->source.type);
		tj__add_code(o, obj, "reliability", "reliability", s->source.reliability);
	}
	tj__add_code(o, root, "verification", "verification", s->verification);
	if (s->severity) {
		if (!cJSON_AddNumberToObject(root, "severity", s->severity) ||
		    !cJSON_AddBoolToObject(root, "severity_explicit", s->severity_explicit))
			o->ok = false;
	}
}

static void tj__add_strings(struct tj__jout *o, cJSON *obj, const char *key, char *const *v, uint32_t n)
{
	cJSON *arr;

	if (n == 0)
		return;
	if (!(arr = cJSON_AddArrayToObject(obj, key))) {
		o->ok = false;
		return;
	}
	for (uint32_t i = 0; i < n && i < TJ_INC_NAMES_MAX; i++)
		if (!v[i] || !cJSON_AddItemToArray(arr, cJSON_CreateString(v[i])))
			o->ok = false;
}

static void tj__out_case(struct tj__jout *o, cJSON *root, const struct tj_incident_case *c,
                         const struct tj_incident_meta *meta)
{
	cJSON *obj;

	if (!c) {
		if (meta && meta->case_present && !meta->case_readable &&
		    (obj = tj__add_obj(o, root, "case")) && !cJSON_AddFalseToObject(obj, "shared"))
			o->ok = false;
		return;
	}
	if (!(obj = tj__add_obj(o, root, "case")))
		return;
	tj__add_strings(o, obj, "victim_names", c->victim_names, c->n_names);
	tj__add_strings(o, obj, "contacts", c->contacts, c->n_contacts);
	if (c->exact_place)
		tj__add_str(o, obj, "exact_place", c->exact_place);
	if (c->narrative)
		tj__add_str(o, obj, "narrative", c->narrative);
	tj__add_codelist(o, obj, "consent", "consent", &c->consent);
}

static void tj__out_meta(struct tj__jout *o, cJSON *root, const struct tj_incident_meta *meta)
{
	char hex[65], when[32];
	time_t t = (time_t)(meta->recorded_at_ms / 1000);
	struct tm tm;

	sodium_bin2hex(hex, sizeof hex, meta->id, sizeof meta->id);
	tj__add_str(o, root, "id", hex);
	sodium_bin2hex(hex, sizeof hex, meta->author, sizeof meta->author);
	tj__add_str(o, root, "author", hex);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
		when[0] = '\0';
	tj__add_str(o, root, "recorded_at", when);
}

cJSON *tj_incident_to_json(const struct tj_incident_summary *s, const struct tj_incident_case *c,
                           const struct tj_incident_meta *meta, enum tj_lang lang)
{
	struct tj__jout o = {lang, true};
	cJSON *root;

	if (!s || !(root = cJSON_CreateObject()))
		return NULL;
	if (meta)
		tj__out_meta(&o, root, meta);
	tj__out_when_where(&o, root, s);
	tj__out_victims(&o, root, s);
	tj__out_aggressors_acts(&o, root, s);
	tj__out_rest(&o, root, s);
	tj__out_case(&o, root, c, meta);
	if (!o.ok) {
		tj_incident_json_free(root);
		return NULL;
	}
	return root;
}
