/*
 * `tejido vocab [FIELD]`: the coded fields and their codes with Spanish and
 * English labels; `state` and `municipality NN` list the INEGI catalogue.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char cli__vocab_usage[] =
    "usage: tejido vocab [FIELD] [--json] [--lang es|en]\n"
    "       tejido vocab state\n"
    "       tejido vocab municipality NN\n\n"
    "Without FIELD: the coded fields. With FIELD: its codes, with Spanish and English\n"
    "labels (and the severity of each act type). `state` lists the INEGI state codes,\n"
    "`municipality NN` the municipalities of state NN.\n";

static int cli__fields(const struct cli_ctx *ctx)
{
	size_t n, i;
	const struct tj_vocab *v = tj_vocab_all(&n);
	cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
	int rc = CLI_OK;

	for (i = 0; i < n; i++) {
		if (arr != NULL) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "field", v[i].field);
			cJSON_AddStringToObject(o, "label_es", v[i].label_es);
			cJSON_AddStringToObject(o, "label_en", v[i].label_en);
			cJSON_AddNumberToObject(o, "codes", (double)v[i].n_entries);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("%-20s %3zu  ", v[i].field, v[i].n_entries);
			cli_print_padded(v[i].label_es, 42);
			printf(" %s\n", v[i].label_en);
		}
	}
	if (arr != NULL)
		rc = cli_print_json(arr);
	else
		printf("%-20s      %s\n%-20s      %s\n", "state", "INEGI: `tejido vocab state`",
		       "municipality", "INEGI: `tejido vocab municipality NN`");
	cJSON_Delete(arr);
	return rc;
}

static int cli__codes(const struct cli_ctx *ctx, const struct tj_vocab *v)
{
	cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
	bool acts = strcmp(v->field, "act_type") == 0;
	size_t i;
	int rc = CLI_OK;

	if (arr == NULL)
		printf("%s: %s / %s\n", v->field, v->label_es, v->label_en);
	for (i = 0; i < v->n_entries; i++) {
		const struct tj_vocab_entry *e = &v->entries[i];
		if (arr != NULL) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "code", e->code);
			cJSON_AddStringToObject(o, "label_es", e->label_es);
			cJSON_AddStringToObject(o, "label_en", e->label_en);
			if (acts)
				cJSON_AddNumberToObject(o, "severity", e->severity);
			cJSON_AddItemToArray(arr, o);
			continue;
		}
		printf("  %-28s ", e->code);
		if (acts)
			printf("%u  ", (unsigned)e->severity);
		cli_print_padded(ctx->lang == TJ_LANG_ES ? e->label_es : e->label_en, 40);
		printf(" %s\n", ctx->lang == TJ_LANG_ES ? e->label_en : e->label_es);
	}
	if (arr != NULL)
		rc = cli_print_json(arr);
	cJSON_Delete(arr);
	return rc;
}

static int cli__states(const struct cli_ctx *ctx)
{
	size_t n, i;
	const struct tj_state_info *s = tj_inegi_states(&n);
	cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
	int rc = CLI_OK;

	for (i = 0; i < n; i++) {
		if (arr != NULL) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "code", s[i].code);
			cJSON_AddStringToObject(o, "name", s[i].name);
			cJSON_AddStringToObject(o, "abbr", s[i].abbr);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("  %s  %s\n", s[i].code, s[i].name);
		}
	}
	if (arr != NULL)
		rc = cli_print_json(arr);
	cJSON_Delete(arr);
	return rc;
}

/* INEGI municipality codes are the state's 2 digits and 3 more: 999 lookups at most. */
static int cli__municipalities(const struct cli_ctx *ctx, const char *state)
{
	cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
	char code[6];
	unsigned i;
	int rc = CLI_OK;

	if (tj_inegi_state(state) == NULL || strlen(state) != 2) {
		cJSON_Delete(arr);
		return cli_usage_err("vocab", "'%s' is not an INEGI state code; see `tejido vocab state`",
		                     state);
	}
	for (i = 1; i <= 999; i++) {
		const struct tj_municipality_info *m;
		snprintf(code, sizeof(code), "%s%03u", state, i);
		if ((m = tj_inegi_municipality(code)) == NULL)
			continue;
		if (arr != NULL) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "code", m->code);
			cJSON_AddStringToObject(o, "name", m->name);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("  %s  %s\n", m->code, m->name);
		}
	}
	if (arr != NULL)
		rc = cli_print_json(arr);
	cJSON_Delete(arr);
	return rc;
}

int cli_cmd_vocab(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct tj_vocab *v;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__vocab_usage, stdout);
			return CLI_OK;
		}
		if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("vocab", "bad option");
	}
	if (optind == argc)
		return cli__fields(ctx);
	if (strcmp(argv[optind], "state") == 0 && optind + 1 == argc)
		return cli__states(ctx);
	if (strcmp(argv[optind], "municipality") == 0 && optind + 2 == argc)
		return cli__municipalities(ctx, argv[optind + 1]);
	if (optind + 1 != argc)
		return cli_usage_err("vocab", "give at most one field");
	if ((v = tj_vocab_find(argv[optind])) == NULL)
		return cli_usage_err("vocab", "'%s' is not a field; `tejido vocab` lists them", argv[optind]);
	return cli__codes(ctx, v);
}
