/*
 * Incidents for people: decoding the node's list/show items, and printing an
 * incident with its labels in Spanish or English. The JSON form comes from
 * tj_incident_to_json(), the schema's one mapping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tj_keys.h"

void cli_item_clear(struct cli_item *it)
{
	tj_incident_summary_free(it->sum);
	tj_incident_case_free(it->kase);
	memset(it, 0, sizeof(*it));
}

static int cli__item_case(const msgpack_object *m, struct cli_item *it)
{
	const char *st;
	uint32_t st_len;
	const msgpack_object *co = cli_map_get(m, "case");
	uint8_t sid[32];
	int rc;

	if (!cli_obj_str(cli_map_get(m, "case_status"), &st, &st_len) || st_len >= sizeof(it->case_status))
		return TJ_EPROTO;
	memcpy(it->case_status, st, st_len);
	it->case_status[st_len] = '\0';
	it->meta.case_present = strcmp(it->case_status, "none") != 0;
	it->meta.case_readable = strcmp(it->case_status, "readable") == 0;
	if (!it->meta.case_readable || co == NULL || co->type != MSGPACK_OBJECT_BIN)
		return 0;
	if ((it->kase = tj_incident_case_new()) == NULL)
		return -ENOMEM;
	rc = tj_incident_case_decode((const uint8_t *)co->via.bin.ptr, co->via.bin.size, it->kase, sid);
	if (rc == 0 && memcmp(sid, it->meta.id, 32) != 0)
		rc = TJ_EPROTO; /* a case face of another incident */
	return rc;
}

int cli_item_from_reply(const msgpack_object *m, bool with_case, struct cli_item *it)
{
	const uint8_t *id, *author, *body;
	const msgpack_object *so = cli_map_get(m, "summary");
	uint64_t sev = 0;
	int rc;

	memset(it, 0, sizeof(*it));
	if (!cli_obj_bin(cli_map_get(m, "id"), 32, &id) || !cli_obj_bin(so, 0, &body))
		return TJ_EPROTO;
	memcpy(it->meta.id, id, 32);
	if (cli_obj_bin(cli_map_get(m, "author"), 32, &author))
		memcpy(it->meta.author, author, 32);
	(void)cli_obj_uint(cli_map_get(m, "recorded_at"), &it->meta.recorded_at_ms);
	(void)cli_obj_uint(cli_map_get(m, "severity"), &sev);
	if ((it->sum = tj_incident_summary_new()) == NULL)
		return -ENOMEM;
	rc = tj_incident_summary_decode(body, so->via.bin.size, it->sum);
	if (rc != 0)
		return rc;
	/* The node's severity is the one in force (computed, or the explicit override). */
	if (sev >= 1 && sev <= 5)
		it->sum->severity = (uint8_t)sev;
	it->severity = it->sum->severity;
	return with_case ? cli__item_case(m, it) : 0;
}

cJSON *cli_item_json(const struct cli_item *it, enum tj_lang lang)
{
	return tj_incident_to_json(it->sum, it->kase, &it->meta, lang);
}

const char *cli_state_name(const char *code)
{
	const struct tj_state_info *s = code[0] != '\0' ? tj_inegi_state(code) : NULL;

	return s != NULL ? s->name : code;
}

const char *cli_municipality_name(const char *code)
{
	const struct tj_municipality_info *m = code[0] != '\0' ? tj_inegi_municipality(code) : NULL;

	return m != NULL ? m->name : code;
}

void cli_date_range(const struct tj_incident_summary *s, char out[32])
{
	char a[11], b[11];

	tj_date_format(&s->occurred.start, a);
	if (s->occurred.end.year != 0) {
		tj_date_format(&s->occurred.end, b);
		snprintf(out, 32, "%s..%s", a, b);
	} else {
		snprintf(out, 32, "%s", a);
	}
}

static const char *cli__l(const char *field, const char *code, enum tj_lang lang)
{
	return tj_vocab_label(field, code, lang);
}

/* A left-hand label padded to 13 columns (characters, not bytes: "ocurrió"). */
static void cli__key(const char *k)
{
	cli_print_padded(k, 13);
}

static void cli__codelist(const char *field, const struct tj_codelist *l, enum tj_lang lang)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		printf("%s%s", i > 0 ? ", " : "", cli__l(field, l->v[i], lang));
}

/* Column labels of `show`, in both languages. */
static const char *cli__t(enum tj_lang lang, const char *en, const char *es)
{
	return lang == TJ_LANG_ES ? es : en;
}

static void cli__render_victims(const struct tj_incident_summary *s, enum tj_lang lang)
{
	uint32_t i;

	printf("%s\n", cli__t(lang, "victims", "víctimas"));
	for (i = 0; i < s->n_victims; i++) {
		const struct tj_victim *v = &s->victims[i];
		printf("  [%u] %s: %s, %s, %s, %s", i, v->ref[0] ? v->ref : "-",
		       cli__l("unit", v->unit, lang), cli__l("role", v->role, lang),
		       cli__l("gender", v->gender, lang), cli__l("age_band", v->age_band, lang));
		if (v->traits.n > 0) {
			printf("; ");
			cli__codelist("trait", &v->traits, lang);
		}
		if (v->defended_causes.n > 0) {
			printf("; %s: ", cli__t(lang, "defends", "defiende"));
			cli__codelist("defended_cause", &v->defended_causes, lang);
		}
		printf("\n");
	}
}

static void cli__render_aggressors_acts(const struct tj_incident_summary *s, enum tj_lang lang)
{
	uint32_t i;

	if (s->n_aggressors > 0)
		printf("%s\n", cli__t(lang, "presumed aggressors", "presuntos agresores"));
	for (i = 0; i < s->n_aggressors; i++) {
		const struct tj_aggressor *a = &s->aggressors[i];
		printf("  [%u] %s: %s", i, cli__l("aggressor_category", a->category, lang),
		       cli__l("aggressor_type", a->type, lang));
		if (a->level[0] != '\0')
			printf(", %s", cli__l("aggressor_level", a->level, lang));
		printf(" (%s)\n", cli__l("involvement", a->involvement, lang));
	}
	printf("%s\n", cli__t(lang, "acts", "actos"));
	for (i = 0; i < s->n_acts; i++) {
		const struct tj_act *a = &s->acts[i];
		printf("  %s -> %s [%u]", cli__l("act_type", a->type, lang),
		       cli__t(lang, "victim", "víctima"), a->victim);
		if (a->aggressor >= 0)
			printf(", %s [%d]", cli__t(lang, "aggressor", "agresor"), a->aggressor);
		printf("\n");
	}
}

static void cli__render_protection(const struct tj_incident_summary *s, enum tj_lang lang)
{
	cli__key(cli__t(lang, "protection", "protección"));
	printf("%s", cli__l("protection_status", s->protection.status, lang));
	if (s->protection.risk_level[0] != '\0')
		printf("; %s: %s", cli__t(lang, "risk", "riesgo"),
		       cli__l("risk_level", s->protection.risk_level, lang));
	if (s->protection.measures.n > 0) {
		printf("; %s: ", cli__t(lang, "measures", "medidas"));
		cli__codelist("protection_measure", &s->protection.measures, lang);
	}
	if (s->protection.failed.n > 0) {
		printf("; %s: ", cli__t(lang, "FAILED", "FALLÓ"));
		cli__codelist("protection_measure", &s->protection.failed, lang);
	}
	printf("\n");
	cli__key(cli__t(lang, "source", "fuente"));
	printf("%s (%s)\n", cli__l("source_type", s->source.type, lang),
	       cli__l("reliability", s->source.reliability, lang));
	cli__key(cli__t(lang, "verification", "verificación"));
	printf("%s\n", cli__l("verification", s->verification, lang));
}

static void cli__render_case(const struct cli_item *it, enum tj_lang lang)
{
	const struct tj_incident_case *c = it->kase;
	uint32_t i;

	printf("%s\n", cli__t(lang, "case (confidential)", "caso (confidencial)"));
	if (!it->meta.case_present) {
		printf("  %s\n",
		       cli__t(lang, "no case face was recorded", "no se registró la parte confidencial"));
		return;
	}
	if (c == NULL) {
		printf("  %s\n",
		       cli__t(lang, "case not shared with this node", "caso no compartido con este nodo"));
		return;
	}
	for (i = 0; i < c->n_names; i++)
		printf("  %-11s%s\n", i == 0 ? cli__t(lang, "names", "nombres") : "", c->victim_names[i]);
	for (i = 0; i < c->n_contacts; i++)
		printf("  %-11s%s\n", i == 0 ? cli__t(lang, "contacts", "contactos") : "", c->contacts[i]);
	if (c->exact_place != NULL)
		printf("  %-11s%s\n", cli__t(lang, "place", "lugar"), c->exact_place);
	if (c->consent.n > 0) {
		printf("  %-11s", cli__t(lang, "consent", "consentim."));
		cli__codelist("consent", &c->consent, lang);
		printf("\n");
	}
	if (c->narrative != NULL)
		printf("  %s\n%s\n", cli__t(lang, "narrative:", "narración:"), c->narrative);
}

void cli_render_incident(const struct cli_item *it, enum tj_lang lang)
{
	const struct tj_incident_summary *s = it->sum;
	char hex[65], date[32], when[32];
	time_t t = (time_t)(it->meta.recorded_at_ms / 1000u);
	struct tm tm;

	tj_hex(it->meta.id, 32, hex);
	cli_date_range(s, date);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	/* A draft under review has no id yet. */
	if (it->meta.recorded_at_ms != 0) {
		cli__key(cli__t(lang, "incident", "incidente"));
		printf("%s\n", hex);
		tj_hex(it->meta.author, 8, hex);
		cli__key(cli__t(lang, "recorded", "registrado"));
		printf("%s (%s %s)\n", when, cli__t(lang, "by", "por"), hex);
	}
	cli__key(cli__t(lang, "occurred", "ocurrió"));
	printf("%s (%s)\n", date, cli__l("precision", s->occurred.precision, lang));
	cli__key(cli__t(lang, "place", "lugar"));
	if (s->location.municipality[0] != '\0')
		printf("%s, ", cli_municipality_name(s->location.municipality));
	printf("%s (%s)\n", cli_state_name(s->location.state),
	       cli__l("place_type", s->location.place_type, lang));
	if (s->residence.state[0] != '\0') {
		cli__key(cli__t(lang, "residence", "residencia"));
		if (s->residence.municipality[0] != '\0')
			printf("%s, ", cli_municipality_name(s->residence.municipality));
		printf("%s\n", cli_state_name(s->residence.state));
	}
	cli__key(cli__t(lang, "severity", "gravedad"));
	printf("%u/5\n", (unsigned)it->severity);
	cli__render_victims(s, lang);
	cli__render_aggressors_acts(s, lang);
	cli__render_protection(s, lang);
	if (it->case_status[0] != '\0')
		cli__render_case(it, lang);
}
