/*
 * The interactive form of `tejido add`, in Spanish or English. Each question
 * shows the allowed codes with their labels and asks again on bad input; the
 * answers build the JSON form, which then goes through tj_incident_from_json()
 * like any other input. A final review shows the incident and asks to save,
 * edit (the form again, previous answers as defaults) or cancel.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "cli.h"
#include "tj_keys.h"

struct cli__form {
	enum tj_lang lang;
	char *line; /* getline buffer, wiped at the end */
	size_t cap;
	const cJSON *prev; /* the previous answers when editing, or NULL */
};

/* Questions in both languages: T(f, "English", "Español"). */
#define T(f, en, es) ((f)->lang == TJ_LANG_ES ? (es) : (en))
#define CLI_FORM_CANCEL (-ECANCELED)

/* One trimmed line; CLI_FORM_CANCEL at end of input. */
static int cli__read(struct cli__form *f, const char *prompt, const char **out)
{
	ssize_t n;
	size_t b = 0;

	printf("%s", prompt);
	fflush(stdout);
	if ((n = getline(&f->line, &f->cap, stdin)) < 0)
		return CLI_FORM_CANCEL;
	while (n > 0 && isspace((unsigned char)f->line[n - 1]))
		f->line[--n] = '\0';
	while (isspace((unsigned char)f->line[b]))
		b++;
	*out = f->line + b;
	return 0;
}

static const char *cli__prev_str(const cJSON *prev, const char *obj, const char *key)
{
	const cJSON *o = obj != NULL ? cJSON_GetObjectItemCaseSensitive(prev, obj) : prev;
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int cli__yes(struct cli__form *f, const char *q, bool dflt, bool *yes)
{
	const char *a;
	int rc;

	for (;;) {
		char prompt[512];
		snprintf(prompt, sizeof(prompt), "%s [%s] ", q,
		         dflt ? T(f, "Y/n", "S/n") : T(f, "y/N", "s/N"));
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0') {
			*yes = dflt;
			return 0;
		}
		if (strcasecmp(a, "y") == 0 || strcasecmp(a, "yes") == 0 || strcasecmp(a, "s") == 0 ||
		    strcasecmp(a, "si") == 0 || strcmp(a, "sí") == 0) {
			*yes = true;
			return 0;
		}
		if (strcasecmp(a, "n") == 0 || strcasecmp(a, "no") == 0) {
			*yes = false;
			return 0;
		}
		printf("%s\n", T(f, "  Please answer y or n.", "  Responda s o n."));
	}
}

static void cli__show_codes(struct cli__form *f, const struct tj_vocab *v)
{
	size_t i;

	for (i = 0; i < v->n_entries; i++)
		printf("  %2zu) %-26s %s\n", i + 1, v->entries[i].code,
		       f->lang == TJ_LANG_ES ? v->entries[i].label_es : v->entries[i].label_en);
}

/* A number from the list or a code; NULL when neither. */
static const char *cli__pick(const struct tj_vocab *v, const char *a)
{
	char *end;
	long n = strtol(a, &end, 10);
	size_t i;

	if (a[0] != '\0' && *end == '\0')
		return n >= 1 && (size_t)n <= v->n_entries ? v->entries[n - 1].code : NULL;
	for (i = 0; i < v->n_entries; i++)
		if (strcmp(v->entries[i].code, a) == 0)
			return v->entries[i].code;
	return NULL;
}

/* One code of field into obj[key]; optional fields may be left empty. */
static int cli__choice(struct cli__form *f, cJSON *obj, const char *key, const char *field, bool optional,
                       const char *dflt)
{
	const struct tj_vocab *v = tj_vocab_find(field);
	char prompt[256];
	const char *a, *code;
	int rc;

	if (v == NULL)
		return -ENOENT;
	printf("\n%s:\n", f->lang == TJ_LANG_ES ? v->label_es : v->label_en);
	cli__show_codes(f, v);
	snprintf(prompt, sizeof(prompt), "> %s%s%s", dflt ? "[" : "", dflt ? dflt : "", dflt ? "] " : "");
	for (;;) {
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0' && dflt != NULL)
			a = dflt;
		if (a[0] == '\0' && optional)
			return 0;
		if ((code = cli__pick(v, a)) != NULL)
			return cJSON_AddStringToObject(obj, key, code) != NULL ? 0 : -ENOMEM;
		printf(T(f, "  '%s' is not one of the codes above; type its number or code.\n",
		         "  '%s' no es una de las claves; escriba su número o su clave.\n"),
		       a);
	}
}

/* The previous answer of a list as "a,b" (for the [default] of cli__multi), or "". */
static void cli__prev_list(const cJSON *prev, const char *obj, const char *key, char *out, size_t cap)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(prev, obj);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key);
	const cJSON *it;
	size_t used = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(it, arr)
	{
		int n = cJSON_IsString(it)
		            ? snprintf(out + used, cap - used, "%s%s", used ? "," : "", it->valuestring)
		            : 0;
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

/* Several codes ("1,3" or "indigenous,migrant"; empty = none, or dflt when given) into obj[key]. */
static int cli__multi(struct cli__form *f, cJSON *obj, const char *key, const char *field, const char *dflt)
{
	const struct tj_vocab *v = tj_vocab_find(field);
	char prompt[TJ_INC_LIST_MAX * TJ_CODE_MAX + 16];
	const char *a;
	int rc;

	if (v == NULL)
		return -ENOENT;
	printf("\n%s %s\n", f->lang == TJ_LANG_ES ? v->label_es : v->label_en,
	       T(f, "(numbers or codes separated by commas; empty for none):",
	         "(números o claves separados por comas; vacío si ninguno):"));
	cli__show_codes(f, v);
	for (;;) {
		cJSON *arr = cJSON_CreateArray();
		char *copy, *tok, *save = NULL;
		bool ok = true;
		snprintf(prompt, sizeof(prompt), "> %s%s%s", dflt && dflt[0] ? "[" : "", dflt ? dflt : "",
		         dflt && dflt[0] ? "] " : "");
		if (arr == NULL || (rc = cli__read(f, prompt, &a)) != 0) {
			cJSON_Delete(arr);
			return arr == NULL ? -ENOMEM : rc;
		}
		if (a[0] == '\0' && dflt != NULL)
			a = dflt;
		if ((copy = strdup(a)) == NULL) {
			cJSON_Delete(arr);
			return -ENOMEM;
		}
		for (tok = strtok_r(copy, ", ", &save); tok != NULL && ok;
		     tok = strtok_r(NULL, ", ", &save)) {
			const char *code = cli__pick(v, tok);
			if (code == NULL)
				printf(T(f, "  '%s' is not one of the codes above.\n",
				         "  '%s' no es una de las claves.\n"),
				       tok);
			ok = code != NULL && cJSON_AddItemToArray(arr, cJSON_CreateString(code));
		}
		free(copy);
		if (ok)
			return cJSON_AddItemToObject(obj, key, arr) ? 0 : -ENOMEM;
		cJSON_Delete(arr);
	}
}

/* A date, not in the future; optional when dflt is "" (allowed empty). */
static int cli__date(struct cli__form *f, cJSON *obj, const char *key, const char *q, const char *dflt)
{
	char prompt[512];
	struct tj_date d;
	const char *a;
	int rc;

	snprintf(prompt, sizeof(prompt), "\n%s\n> %s%s%s", q, dflt ? "[" : "", dflt ? dflt : "",
	         dflt ? "] " : "");
	for (;;) {
		int64_t days, today = (int64_t)(cli_now_ms() / 86400000u);
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0' && dflt != NULL)
			a = dflt;
		if (tj_date_parse(a, &d) == 0 && (days = tj_date_days(&d)) >= 0 && days <= today)
			return cJSON_AddStringToObject(obj, key, a) != NULL ? 0 : -ENOMEM;
		printf("%s\n", T(f, "  Use YYYY-MM-DD (or YYYY-MM, YYYY), not after today.",
		                 "  Use AAAA-MM-DD (o AAAA-MM, AAAA), no posterior a hoy."));
	}
}

/* A state by INEGI code or by the start of its name. */
static int cli__state(struct cli__form *f, cJSON *obj, const char *q, const char *dflt, char code[3])
{
	size_t n, i, hits;
	const struct tj_state_info *s = tj_inegi_states(&n);
	char prompt[512];
	const char *a;
	int rc;

	printf("\n%s\n", q);
	for (i = 0; i < n; i++) {
		printf("  %s ", s[i].code);
		cli_print_padded(s[i].name, 22);
		if (i % 3 == 2)
			printf("\n");
	}
	snprintf(prompt, sizeof(prompt), "\n> %s%s%s", dflt ? "[" : "", dflt ? dflt : "", dflt ? "] " : "");
	for (;;) {
		const struct tj_state_info *hit = NULL;
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0' && dflt != NULL)
			a = dflt;
		for (i = 0, hits = 0; i < n; i++)
			if (strcmp(s[i].code, a) == 0 ||
			    (a[0] != '\0' && strncasecmp(s[i].name, a, strlen(a)) == 0)) {
				hit = &s[i];
				hits++;
			}
		if (hits == 1) {
			memcpy(code, hit->code, 3);
			printf("  %s %s\n", hit->code, hit->name);
			return cJSON_AddStringToObject(obj, "state", hit->code) != NULL ? 0 : -ENOMEM;
		}
		printf("%s\n", T(f, "  Type a state code from the list (e.g. 20) or its name.",
		                 "  Escriba una clave de la lista (p. ej. 20) o el nombre del estado."));
	}
}

/* A municipality of state by code or part of its name; empty = unknown. */
static int cli__municipality(struct cli__form *f, cJSON *obj, const char state[3], const char *dflt)
{
	char prompt[256], code[6];
	const char *a;
	int rc;

	snprintf(prompt, sizeof(prompt), "%s\n> %s%s%s",
	         T(f, "Municipality (INEGI code, or part of its name; empty if unknown):",
	           "Municipio (clave INEGI o parte del nombre; vacío si no se sabe):"),
	         dflt ? "[" : "", dflt ? dflt : "", dflt ? "] " : "");
	for (;;) {
		const struct tj_municipality_info *hit = NULL, *m;
		unsigned i, hits = 0;
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0' && dflt != NULL)
			a = dflt;
		if (a[0] == '\0')
			return 0;
		for (i = 1; i <= 999; i++) {
			snprintf(code, sizeof(code), "%.2s%03u", state, i);
			if ((m = tj_inegi_municipality(code)) == NULL)
				continue;
			if (strcmp(m->code, a) == 0 || strcmp(m->code + 2, a) == 0) {
				hit = m;
				hits = 1;
				break;
			}
			if (strcasestr(m->name, a) != NULL) {
				if (hits < 12)
					printf("  %s %s\n", m->code, m->name);
				hit = m;
				hits++;
			}
		}
		if (hits == 1) {
			printf("  -> %s %s\n", hit->code, hit->name);
			return cJSON_AddStringToObject(obj, "municipality", hit->code) != NULL ? 0 : -ENOMEM;
		}
		printf("%s\n", hits > 1 ? T(f, "  Several match: type the code.",
		                            "  Varios coinciden: escriba la clave.")
		                        : T(f, "  No municipality of that state matches.",
		                            "  Ningún municipio de ese estado coincide."));
	}
}

static int cli__victim(struct cli__form *f, cJSON *arr, uint32_t i)
{
	cJSON *v = cJSON_CreateObject();
	char prompt[256], ref[16];
	uint8_t rnd[4];
	const char *a;
	int rc;

	if (v == NULL || !cJSON_AddItemToArray(arr, v))
		return -ENOMEM;
	printf(T(f, "\n== Victim %u ==\n", "\n== Víctima %u ==\n"), i);
	/* A reference reused for the same person across incidents; never a name. */
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(ref, sizeof(ref), "v-%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2], rnd[3]);
	snprintf(prompt, sizeof(prompt), "%s [%s] ",
	         T(f, "Reference for this victim (reuse it for the same person; NEVER a name):",
	           "Referencia de la víctima (la misma para la misma persona; NUNCA un nombre):"),
	         ref);
	if ((rc = cli__read(f, prompt, &a)) != 0)
		return rc;
	if (cJSON_AddStringToObject(v, "ref", a[0] ? a : ref) == NULL)
		return -ENOMEM;
	if ((rc = cli__choice(f, v, "unit", "unit", false, "individual")) != 0 ||
	    (rc = cli__choice(f, v, "role", "role", false, NULL)) != 0 ||
	    (rc = cli__choice(f, v, "gender", "gender", false, NULL)) != 0 ||
	    (rc = cli__choice(f, v, "age_band", "age_band", false, NULL)) != 0 ||
	    (rc = cli__multi(f, v, "traits", "trait", NULL)) != 0)
		return rc;
	return cli__multi(f, v, "defended_causes", "defended_cause", NULL);
}

static int cli__aggressor(struct cli__form *f, cJSON *arr, uint32_t i)
{
	cJSON *g = cJSON_CreateObject();
	int rc;

	if (g == NULL || !cJSON_AddItemToArray(arr, g))
		return -ENOMEM;
	printf(T(f, "\n== Presumed aggressor %u ==\n", "\n== Presunto agresor %u ==\n"), i);
	if ((rc = cli__choice(f, g, "category", "aggressor_category", false, NULL)) != 0 ||
	    (rc = cli__choice(f, g, "type", "aggressor_type", false, NULL)) != 0 ||
	    (rc = cli__choice(f, g, "level", "aggressor_level", true, NULL)) != 0)
		return rc;
	return cli__choice(f, g, "involvement", "involvement", false, "direct");
}

/* An index in [0, n) (or -1 for "none" when allowed). */
static int cli__index(struct cli__form *f, const char *q, int n, bool allow_none, int *out)
{
	char prompt[256];
	const char *a;
	char *end;
	long v;
	int rc;

	*out = 0;
	if (n == 1 && !allow_none)
		return 0;
	snprintf(prompt, sizeof(prompt), "%s (0-%d%s) [0] ", q, n - 1,
	         allow_none ? T(f, ", - for none", ", - ninguno") : "");
	for (;;) {
		if ((rc = cli__read(f, prompt, &a)) != 0)
			return rc;
		if (a[0] == '\0')
			return 0;
		if (allow_none && strcmp(a, "-") == 0) {
			*out = -1;
			return 0;
		}
		v = strtol(a, &end, 10);
		if (*end == '\0' && v >= 0 && v < n) {
			*out = (int)v;
			return 0;
		}
		printf("%s\n",
		       T(f, "  Type one of the numbers shown.", "  Escriba uno de los números indicados."));
	}
}

static int cli__act(struct cli__form *f, cJSON *arr, int n_victims, int n_aggressors)
{
	cJSON *o = cJSON_CreateObject();
	int v, g, rc;

	if (o == NULL || !cJSON_AddItemToArray(arr, o))
		return -ENOMEM;
	if ((rc = cli__choice(f, o, "type", "act_type", false, NULL)) != 0 ||
	    (rc = cli__index(f, T(f, "Against victim", "Contra la víctima"), n_victims, false, &v)) != 0)
		return rc;
	if (cJSON_AddNumberToObject(o, "victim", v) == NULL)
		return -ENOMEM;
	if (n_aggressors == 0)
		return 0;
	if ((rc = cli__index(f, T(f, "By aggressor", "Por el agresor"), n_aggressors, true, &g)) != 0)
		return rc;
	return g < 0 || cJSON_AddNumberToObject(o, "aggressor", g) != NULL ? 0 : -ENOMEM;
}

/* A section (victims, aggressors, acts, case): keep the previous one when editing. */
static int cli__keep(struct cli__form *f, cJSON *doc, const char *key, const char *what_en,
                     const char *what_es, bool *kept)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(f->prev, key);
	char q[160];
	int rc;

	*kept = false;
	if (p == NULL || (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 0))
		return 0;
	snprintf(q, sizeof(q), T(f, "\nKeep the %s entered before (%d)?", "\n¿Conservar %s de antes (%d)?"),
	         T(f, what_en, what_es), cJSON_IsArray(p) ? cJSON_GetArraySize(p) : 1);
	if ((rc = cli__yes(f, q, true, kept)) != 0 || !*kept)
		return rc;
	return cJSON_AddItemToObject(doc, key, cJSON_Duplicate(p, true)) ? 0 : -ENOMEM;
}

static int cli__people(struct cli__form *f, cJSON *doc)
{
	cJSON *arr;
	bool kept, more = true;
	uint32_t i;
	int rc;

	if ((rc = cli__keep(f, doc, "victims", "victims", "las víctimas", &kept)) != 0)
		return rc;
	if (!kept) {
		if ((arr = cJSON_AddArrayToObject(doc, "victims")) == NULL)
			return -ENOMEM;
		for (i = 0; more && i < TJ_INC_VICTIMS_MAX; i++)
			if ((rc = cli__victim(f, arr, i)) != 0 ||
			    (rc = cli__yes(f,
			                   T(f, "\nAnother victim in this incident?",
			                     "\n¿Otra víctima en este incidente?"),
			                   false, &more)) != 0)
				return rc;
	}
	if ((rc = cli__keep(f, doc, "aggressors", "presumed aggressors", "los presuntos agresores", &kept)) !=
	        0 ||
	    kept)
		return rc;
	if ((arr = cJSON_AddArrayToObject(doc, "aggressors")) == NULL)
		return -ENOMEM;
	if ((rc = cli__yes(f,
	                   T(f, "\nIs there a presumed aggressor (even unidentified)?",
	                     "\n¿Hay un presunto agresor (aunque no identificado)?"),
	                   true, &more)) != 0)
		return rc;
	for (i = 0; more && i < TJ_INC_AGGRESSORS_MAX; i++)
		if ((rc = cli__aggressor(f, arr, i)) != 0 ||
		    (rc = cli__yes(f, T(f, "\nAnother presumed aggressor?", "\n¿Otro presunto agresor?"),
		                   false, &more)) != 0)
			return rc;
	return 0;
}

static int cli__acts(struct cli__form *f, cJSON *doc)
{
	int nv = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "victims"));
	int ng = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "aggressors"));
	cJSON *arr;
	bool more = true, kept;
	int i, rc;

	if ((rc = cli__keep(f, doc, "acts", "acts", "los actos", &kept)) != 0 || kept)
		return rc;
	printf("%s\n", T(f, "\n== Acts: one per aggression and victim ==",
	                 "\n== Actos: uno por agresión y víctima =="));
	if ((arr = cJSON_AddArrayToObject(doc, "acts")) == NULL)
		return -ENOMEM;
	for (i = 0; more && i < TJ_INC_ACTS_MAX; i++)
		if ((rc = cli__act(f, arr, nv, ng)) != 0 ||
		    (rc = cli__yes(f, T(f, "\nAnother act?", "\n¿Otro acto?"), false, &more)) != 0)
			return rc;
	return 0;
}

static int cli__protection(struct cli__form *f, cJSON *doc)
{
	cJSON *p = cJSON_AddObjectToObject(doc, "protection");
	char prev_m[TJ_INC_LIST_MAX * TJ_CODE_MAX];
	const cJSON *st;
	int rc;

	cli__prev_list(f->prev, "protection", "measures", prev_m, sizeof(prev_m));

	if (p == NULL)
		return -ENOMEM;
	if ((rc = cli__choice(f, p, "status", "protection_status", false,
	                      cli__prev_str(f->prev, "protection", "status"))) != 0)
		return rc;
	st = cJSON_GetObjectItemCaseSensitive(p, "status");
	if (cJSON_IsString(st) && strcmp(st->valuestring, "none") == 0)
		return 0;
	if ((rc = cli__choice(f, p, "risk_level", "risk_level", true,
	                      cli__prev_str(f->prev, "protection", "risk_level"))) != 0 ||
	    (rc = cli__multi(f, p, "measures", "protection_measure", prev_m)) != 0)
		return rc;
	printf("%s", T(f, "\nWhich of those measures FAILED in this incident?",
	               "\n¿Cuáles de esas medidas FALLARON en este incidente?"));
	cli__prev_list(f->prev, "protection", "failed", prev_m, sizeof(prev_m));
	return cli__multi(f, p, "failed", "protection_measure", prev_m);
}

static int cli__source(struct cli__form *f, cJSON *doc)
{
	cJSON *s = cJSON_AddObjectToObject(doc, "source");
	int rc;

	if (s == NULL)
		return -ENOMEM;
	if ((rc = cli__choice(f, s, "type", "source_type", false,
	                      cli__prev_str(f->prev, "source", "type"))) != 0 ||
	    (rc = cli__choice(f, s, "reliability", "reliability", false,
	                      cli__prev_str(f->prev, "source", "reliability"))) != 0)
		return rc;
	return cli__choice(f, doc, "verification", "verification", false,
	                   cli__prev_str(f->prev, NULL, "verification"));
}

/* Lines until an empty one (names, contacts) into arr. */
static int cli__lines(struct cli__form *f, cJSON *obj, const char *key, const char *q)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	const char *a;
	int rc, i;

	if (arr == NULL)
		return -ENOMEM;
	printf("\n%s\n", q);
	for (i = 0; i < TJ_INC_NAMES_MAX; i++) {
		if ((rc = cli__read(f, "> ", &a)) != 0)
			return rc;
		if (a[0] == '\0')
			break;
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(a)))
			return -ENOMEM;
	}
	return 0;
}

/* The narrative: lines until one holding only "." (or end of input). */
static int cli__narrative(struct cli__form *f, cJSON *c)
{
	char *text = NULL;
	size_t len = 0;
	bool overflow = false;
	const char *a;
	int rc = 0;

	printf("\n%s\n", T(f, "Narrative: what happened (end with a line holding only a dot):",
	                   "Narración: qué ocurrió (termine con una línea que solo tenga un punto):"));
	/* Read up to the dot whatever the length, so that no line of it answers the next question. */
	while ((rc = cli__read(f, "", &a)) == 0 && strcmp(a, ".") != 0) {
		size_t n = strlen(a);
		char *grown;
		if (len + n + 2 > 2 * TJ_INC_TEXT_MAX_BYTES) {
			overflow = true; /* kept bounded; the review says it is too long */
			continue;
		}
		if ((grown = malloc(len + n + 2)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		if (text != NULL) {
			memcpy(grown, text, len);
			sodium_memzero(text, len);
			free(text);
		}
		text = grown;
		memcpy(text + len, a, n);
		len += n;
		text[len++] = '\n';
		text[len] = '\0';
	}
	if (rc == CLI_FORM_CANCEL && text != NULL)
		rc = 0; /* end of input closes the narrative */
	if (overflow)
		printf(T(f, "  (the narrative was cut at %u bytes; at most %u are allowed)\n",
		         "  (la narración se cortó en %u bytes; se permiten como máximo %u)\n"),
		       2 * TJ_INC_TEXT_MAX_BYTES, TJ_INC_TEXT_MAX_BYTES);
	if (rc == 0 && text != NULL) {
		text[len - 1] = '\0';
		rc = cJSON_AddStringToObject(c, "narrative", text) != NULL ? 0 : -ENOMEM;
	}
	if (text != NULL) {
		sodium_memzero(text, len);
		free(text);
	}
	return rc;
}

static int cli__case(struct cli__form *f, cJSON *doc)
{
	cJSON *c;
	const char *a;
	bool yes;
	int rc;

	if ((rc = cli__keep(f, doc, "case", "confidential case face", "la parte confidencial", &yes)) != 0 ||
	    yes)
		return rc;
	if ((rc = cli__yes(
	         f,
	         T(f,
	           "\nRecord the confidential case face (names, narrative)? It stays with your organization.",
	           "\n¿Registrar la parte confidencial (nombres, narración)? Solo la lee su organización."),
	         true, &yes)) != 0 ||
	    !yes)
		return rc;
	if ((c = cJSON_AddObjectToObject(doc, "case")) == NULL)
		return -ENOMEM;
	if ((rc = cli__lines(f, c, "victim_names",
	                     T(f, "Victims' names, one per line (empty line to finish):",
	                       "Nombres de las víctimas, uno por línea (línea vacía para terminar):"))) !=
	        0 ||
	    (rc = cli__lines(f, c, "contacts",
	                     T(f, "Contacts, one per line (empty line to finish):",
	                       "Contactos, uno por línea (línea vacía para terminar):"))) != 0)
		return rc;
	if ((rc = cli__read(f, T(f, "\nExact place (empty if none): ", "\nLugar exacto (vacío si no): "),
	                    &a)) != 0)
		return rc;
	if (a[0] != '\0' && cJSON_AddStringToObject(c, "exact_place", a) == NULL)
		return -ENOMEM;
	if ((rc = cli__narrative(f, c)) != 0)
		return rc;
	printf("%s", T(f, "\nWhat did the victim consent to?", "\n¿A qué dio su consentimiento la víctima?"));
	return cli__multi(f, c, "consent", "consent", NULL);
}

static int cli__when_where(struct cli__form *f, cJSON *doc)
{
	cJSON *occ = cJSON_AddObjectToObject(doc, "occurred");
	cJSON *loc = cJSON_AddObjectToObject(doc, "location");
	const cJSON *prec;
	char state[3] = "";
	bool other;
	int rc;

	if (occ == NULL || loc == NULL)
		return -ENOMEM;
	if ((rc = cli__date(f, occ, "start",
	                    T(f, "When did it happen? (YYYY-MM-DD; YYYY-MM or YYYY if the day is unknown)",
	                      "¿Cuándo ocurrió? (AAAA-MM-DD; AAAA-MM o AAAA si no se sabe el día)"),
	                    cli__prev_str(f->prev, "occurred", "start"))) != 0 ||
	    (rc = cli__choice(f, occ, "precision", "precision", false,
	                      cli__prev_str(f->prev, "occurred", "precision")
	                          ? cli__prev_str(f->prev, "occurred", "precision")
	                          : "day")) != 0)
		return rc;
	prec = cJSON_GetObjectItemCaseSensitive(occ, "precision");
	if (cJSON_IsString(prec) && strcmp(prec->valuestring, "range") == 0 &&
	    (rc = cli__date(f, occ, "end", T(f, "Until when?", "¿Hasta cuándo?"),
	                    cli__prev_str(f->prev, "occurred", "end"))) != 0)
		return rc;
	if ((rc = cli__state(
	         f, loc,
	         T(f, "In which state? (INEGI code or name)", "¿En qué estado? (clave INEGI o nombre)"),
	         cli__prev_str(f->prev, "location", "state"), state)) != 0 ||
	    (rc = cli__municipality(f, loc, state, cli__prev_str(f->prev, "location", "municipality"))) !=
	        0 ||
	    (rc = cli__choice(f, loc, "place_type", "place_type", false,
	                      cli__prev_str(f->prev, "location", "place_type"))) != 0 ||
	    (rc = cli__yes(f,
	                   T(f, "\nDoes the victim live in another state or municipality (displacement)?",
	                     "\n¿La víctima vive en otro estado o municipio (desplazamiento)?"),
	                   false, &other)) != 0 ||
	    !other)
		return rc;
	if ((loc = cJSON_AddObjectToObject(doc, "residence")) == NULL)
		return -ENOMEM;
	if ((rc = cli__state(f, loc, T(f, "State of residence:", "Estado de residencia:"), NULL, state)) != 0)
		return rc;
	return cli__municipality(f, loc, state, NULL);
}

/* The whole form once; prev gives the defaults when editing. */
static int cli__form_once(struct cli__form *f, cJSON **out)
{
	cJSON *doc = cJSON_CreateObject();
	int rc;

	if (doc == NULL)
		return -ENOMEM;
	printf("%s\n", T(f, "New incident. Press Enter to accept the [default]; Ctrl-D cancels.",
	                 "Nuevo incidente. Enter acepta el valor [predeterminado]; Ctrl-D cancela."));
	if ((rc = cli__when_where(f, doc)) != 0 || (rc = cli__people(f, doc)) != 0 ||
	    (rc = cli__acts(f, doc)) != 0 || (rc = cli__protection(f, doc)) != 0 ||
	    (rc = cli__source(f, doc)) != 0 || (rc = cli__case(f, doc)) != 0) {
		cJSON_Delete(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

/* Shows the incident as it will be stored; 0 when valid. */
static int cli__review(struct cli__form *f, const cJSON *doc)
{
	struct cli_item it;
	struct tj_verr verr;
	char *text = cJSON_PrintUnformatted(doc);
	int rc;

	if (text == NULL)
		return -ENOMEM;
	memset(&it, 0, sizeof(it));
	memset(&verr, 0, sizeof(verr));
	rc = tj_incident_from_json(text, strlen(text), f->lang, cli_now_ms(), &it.sum, &it.kase, &verr);
	sodium_memzero(text, strlen(text));
	cJSON_free(text);
	if (rc != 0) {
		printf("\n%s %s\n",
		       T(f, "This incident cannot be saved yet:", "Este incidente aún no se puede guardar:"),
		       verr.message[0] ? verr.message : tj_strerror(rc));
		cli_item_clear(&it);
		return rc;
	}
	it.severity =
	    it.sum->severity_explicit ? it.sum->severity : tj_incident_compute_severity(it.sum, false);
	it.meta.case_present = it.kase != NULL;
	it.meta.case_readable = it.kase != NULL;
	snprintf(it.case_status, sizeof(it.case_status), "%s", it.kase != NULL ? "readable" : "none");
	printf("\n%s\n", T(f, "==== Review ====", "==== Revisión ===="));
	cli_render_incident(&it, f->lang);
	cli_item_clear(&it);
	return 0;
}

int cli_form_run(struct cli_ctx *ctx, cJSON **doc)
{
	struct cli__form f = {.lang = ctx->lang};
	cJSON *cur = NULL, *prev = NULL;
	bool save = false;
	int rc, round;

	*doc = NULL;
	for (round = 0; round < 20 && !save; round++) {
		f.prev = prev;
		rc = cli__form_once(&f, &cur);
		cJSON_Delete(prev);
		prev = NULL;
		if (rc != 0)
			goto out;
		if (cli__review(&f, cur) == 0 &&
		    (rc = cli__yes(&f, T(&f, "\nSave this incident?", "\n¿Guardar este incidente?"), true,
		                   &save)) != 0)
			goto out;
		if (!save) {
			bool again;
			if ((rc = cli__yes(
			         &f,
			         T(&f, "Edit it (your answers become the defaults)?",
			           "¿Corregirlo (sus respuestas serán los valores predeterminados)?"),
			         true, &again)) != 0 ||
			    !again) {
				rc = CLI_FORM_CANCEL;
				goto out;
			}
			prev = cur;
			cur = NULL;
		}
	}
	rc = save ? 0 : CLI_FORM_CANCEL;
out:
	if (f.line != NULL) {
		sodium_memzero(f.line, f.cap);
		free(f.line);
	}
	cJSON_Delete(prev);
	if (rc != 0) {
		cJSON_Delete(cur);
		printf("%s\n", T(&f, "Cancelled: nothing was stored.", "Cancelado: no se guardó nada."));
		return CLI_FAIL;
	}
	*doc = cur;
	return CLI_OK;
}
