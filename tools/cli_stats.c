/*
 * `tejido stats`: the node's published statistics (suppression and rates are
 * applied by the node, tj_stats.h) as CSV, JSON or a table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_alert.h"
#include "tj_stats.h"

static const char cli__stats_usage[] =
    "usage: tejido stats --by DIM[,DIM] [--state NN] [--from YYYY-MM] [--to YYYY-MM]\n"
    "                    [--per-100k] [--format table|csv|json] [--lang es|en]\n\n"
    "Counts incidents, acts and victims this node can read, by one or two of:\n"
    "  gender, aggressor_type, aggressor_level, state, month, act_type, cause,\n"
    "  protection, failed (the protection measure that failed)\n"
    "Cells counting 1 to 4 are suppressed (shown as <5, \"suppressed\" in CSV, and\n"
    "{\"suppressed\": true} in JSON). --per-100k adds rates per 100,000 inhabitants\n"
    "(INEGI 2020; women or men when the cell is of that gender). No totals are shown:\n"
    "they would let a reader recover a suppressed cell.\n";

static const char *const cli__units[] = {"incidents", "acts", "victims"};

/* A count cell as text: the number, or the suppression mark. */
static void cli__count_text(const cJSON *cell, const char *unit, const char *mark, char out[32])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cell, unit);

	if (cJSON_IsNumber(v))
		snprintf(out, 32, "%.0f", v->valuedouble);
	else
		snprintf(out, 32, "%s", mark);
}

static void cli__rate_text(const cJSON *cell, const char *unit, char out[32])
{
	char key[48];
	const cJSON *v;

	snprintf(key, sizeof(key), "%s_per_100k", unit);
	v = cJSON_GetObjectItemCaseSensitive(cell, key);
	if (cJSON_IsNumber(v))
		snprintf(out, 32, "%.3f", v->valuedouble);
	else
		out[0] = '\0';
}

/* RFC 4180 quoting; a leading = + - @ gets a quote mark so no spreadsheet runs it. */
static void cli__csv_field(const char *s)
{
	bool formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';

	if (strpbrk(s, ",\"\n\r") == NULL && !formula) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	if (formula)
		putchar('\'');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			putchar('"');
		putchar(*p);
	}
	putchar('"');
}

static const char *cli__jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void cli__csv(const cJSON *doc, bool per_100k)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(doc, "by"), *d, *cell;
	char key[48], text[32];

	cJSON_ArrayForEach(d, by)
	{
		printf("%s,%s_label,", d->valuestring, d->valuestring);
	}
	printf("incidents,acts,victims%s\n",
	       per_100k ? ",incidents_per_100k,acts_per_100k,victims_per_100k" : "");
	cJSON_ArrayForEach(cell, cJSON_GetObjectItemCaseSensitive(doc, "cells"))
	{
		cJSON_ArrayForEach(d, by)
		{
			snprintf(key, sizeof(key), "%s_label", d->valuestring);
			cli__csv_field(cli__jstr(cell, d->valuestring));
			putchar(',');
			cli__csv_field(cli__jstr(cell, key));
			putchar(',');
		}
		for (int u = 0; u < 3; u++) {
			cli__count_text(cell, cli__units[u], "suppressed", text);
			printf("%s%s", u > 0 ? "," : "", text);
		}
		for (int u = 0; per_100k && u < 3; u++) {
			cli__rate_text(cell, cli__units[u], text);
			printf(",%s", text);
		}
		putchar('\n');
	}
}

/* A dimension's column title in the user's language. */
static const char *cli__dim_title(const char *dim, enum tj_lang lang)
{
	static const struct {
		const char *dim, *es, *en;
	} titles[] = {
	    {"gender", "GÉNERO", "GENDER"},
	    {"aggressor_type", "TIPO DE AGRESOR", "AGGRESSOR TYPE"},
	    {"aggressor_level", "NIVEL DEL AGRESOR", "AGGRESSOR LEVEL"},
	    {"state", "ENTIDAD", "STATE"},
	    {"month", "MES", "MONTH"},
	    {"act_type", "TIPO DE ACTO", "ACT TYPE"},
	    {"cause", "CAUSA", "CAUSE"},
	    {"protection", "PROTECCIÓN", "PROTECTION"},
	    {"failed", "MEDIDA FALLIDA", "FAILED MEASURE"},
	};

	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i].dim, dim) == 0)
			return lang == TJ_LANG_ES ? titles[i].es : titles[i].en;
	return dim;
}

#define CLI__DIMS_MAX 8

static void cli__table(const cJSON *doc, bool per_100k, enum tj_lang lang)
{
	static const char *const es_units[] = {"INCIDENTES", "ACTOS", "VÍCTIMAS"}, *const en_units[] = {
	                                                                               "INCIDENTS", "ACTS",
	                                                                               "VICTIMS"};
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(doc, "by"), *d, *cell,
	            *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
	size_t width[CLI__DIMS_MAX];
	char key[48], text[32];
	int i = 0;

	/* Each column as wide as its widest label (at least 24), so numbers line up. */
	cJSON_ArrayForEach(d, by)
	{
		if (i >= CLI__DIMS_MAX || !cJSON_IsString(d))
			break;
		width[i] = 24;
		if (cli_utf8_width(cli__dim_title(d->valuestring, lang)) + 2 > width[i])
			width[i] = cli_utf8_width(cli__dim_title(d->valuestring, lang)) + 2;
		snprintf(key, sizeof(key), "%s_label", d->valuestring);
		cJSON_ArrayForEach(cell, cells)
		{
			size_t w = cli_utf8_width(cli__jstr(cell, key)) + 2;
			if (w > width[i])
				width[i] = w;
		}
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(d, by)
	{
		if (i >= CLI__DIMS_MAX || !cJSON_IsString(d))
			break;
		cli_print_padded(cli__dim_title(d->valuestring, lang), width[i++]);
	}
	for (int u = 0; u < 3; u++)
		printf("%11s", lang == TJ_LANG_ES ? es_units[u] : en_units[u]);
	if (per_100k)
		printf("  %s", lang == TJ_LANG_ES ? "TASAS POR 100 MIL (inc./actos/víct.)"
		                                  : "RATES PER 100K (inc./acts/vict.)");
	putchar('\n');
	cJSON_ArrayForEach(cell, cells)
	{
		i = 0;
		cJSON_ArrayForEach(d, by)
		{
			if (i >= CLI__DIMS_MAX || !cJSON_IsString(d))
				break;
			snprintf(key, sizeof(key), "%s_label", d->valuestring);
			cli_print_padded(cli__jstr(cell, key), width[i++]);
		}
		for (int u = 0; u < 3; u++) {
			cli__count_text(cell, cli__units[u], "<5", text);
			printf("%11s", text);
		}
		for (int u = 0; per_100k && u < 3; u++) {
			cli__rate_text(cell, cli__units[u], text);
			printf("%s%s", u == 0 ? "  " : " / ", text[0] != '\0' ? text : "-");
		}
		putchar('\n');
	}
}

int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_BY = CLI_OPT_FIRST_FREE, OPT_STATE, OPT_FROM, OPT_TO, OPT_RATE, OPT_FORMAT };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"by", required_argument, NULL, OPT_BY},
	    {"state", required_argument, NULL, OPT_STATE},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"per-100k", no_argument, NULL, OPT_RATE},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *by = NULL, *state = NULL, *from = NULL, *to = NULL, *format = "table";
	struct tj_stats_query q;
	struct cli_args args = {0};
	bool per_100k = false;
	struct cli_conn c;
	cJSON *doc = NULL;
	char bad[24];
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(cli__stats_usage, stdout);
			return CLI_OK;
		case OPT_BY:
			by = optarg;
			break;
		case OPT_STATE:
			state = optarg;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_RATE:
			per_100k = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			break;
		default:
			if (cli_common_opt(ctx, opt, optarg) != 0)
				return cli_usage_err("stats", "bad option");
		}
	}
	if (ctx->json)
		format = "json";
	if (optind < argc)
		return cli_usage_err("stats", "unexpected argument '%s'", argv[optind]);
	memset(&q, 0, sizeof(q));
	if (by == NULL || tj_stats_dims_parse(by, &q, bad) != 0)
		return cli_usage_err("stats", "--by needs one or two different dimensions%s%s%s",
		                     by != NULL ? " ('" : "", by != NULL ? bad : "",
		                     by != NULL ? "' is not one)" : "");
	if (state != NULL && tj_inegi_state(state) == NULL)
		return cli_usage_err(
		    "stats", "'%s' is not an INEGI state code (01 to 32; `tejido vocab state`)", state);
	if ((rc = cli_check_date("stats", "--from", from)) != 0 ||
	    (rc = cli_check_date("stats", "--to", to)) != 0 || (rc = cli_check_range("stats", from, to)) != 0)
		return rc;
	if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return cli_usage_err("stats", "--format must be table, csv or json");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	cli_args_str(&args, "by", by);
	cli_args_str(&args, "state", state);
	cli_args_str(&args, "from", from);
	cli_args_str(&args, "to", to);
	cli_args_bool(&args, "per_100k", per_100k);
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	rc = cli_json_call(&c, ctx, "stats", &args, NULL, NULL, &doc);
	if (rc == CLI_OK && strcmp(format, "json") == 0)
		rc = cli_print_json(doc);
	else if (rc == CLI_OK && strcmp(format, "csv") == 0)
		cli__csv(doc, per_100k);
	else if (rc == CLI_OK)
		cli__table(doc, per_100k, ctx->lang);
	cJSON_Delete(doc);
	if (rc == CLI_OK)
		cli_note_backlog(&c, ctx);
	cli_conn_close(&c);
	return rc;
}
