/*
 * `tejido query`: incidents filtered on any coded field of the summary face
 * and on dates, answered from the node's blinded index.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_alert.h"
#include "cli_list.h"
#include "tj_keys.h"
#include "tj_query.h"

#define CLI_QUERY_PAGE 200u
#define CLI_QUERY_LIMIT_DEFAULT 100u
#define CLI_QUERY_LIMIT_MAX 100000u

static void cli__query_usage(void)
{
	size_t nf;
	const struct tj_query_field *f = tj_query_fields(&nf);

	fputs("usage: tejido query [--FIELD CODE[,CODE...]]... [--since DATE] [--until DATE]\n"
	      "                    [--limit N | --all] [--json] [--lang es|en]\n\n"
	      "Incidents this node can read that match every given field (any of the codes\n"
	      "listed for one field), newest occurred first. DATE is YYYY-MM-DD, YYYY-MM or YYYY.\n"
	      "Example: tejido query --state 20 --act killing,disappearance --aggressor municipal_police \\\n"
	      "                      --since 2026-01-01\n\nFields (codes: `tejido vocab`):\n",
	      stdout);
	for (size_t i = 0; i < nf; i++) {
		char flag[TJ_QUERY_FIELD_MAX + 2];
		snprintf(flag, sizeof(flag), "%s", f[i].name);
		for (char *p = flag; *p != '\0'; p++)
			*p = *p == '_' ? '-' : *p;
		printf("  --%-20s %s\n", flag, f[i].vocab);
	}
}

/* The item of a JSON incident (the node's output form, accepted as input). */
static int cli__item_from_json(const cJSON *j, struct cli_item *it)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id"),
	            *author = cJSON_GetObjectItemCaseSensitive(j, "author");
	struct tj_incident_case *kase = NULL;
	struct tj_verr verr;
	char *text = cJSON_PrintUnformatted(j);
	int rc;

	memset(it, 0, sizeof(*it));
	if (text == NULL)
		return -1;
	rc = tj_incident_from_json(text, strlen(text), TJ_LANG_EN, 0, &it->sum, &kase, &verr);
	free(text);
	tj_incident_case_free(kase);
	if (rc != 0 || !cJSON_IsString(id) || !cJSON_IsString(author) || strlen(id->valuestring) != 64 ||
	    tj_unhex(id->valuestring, it->meta.id, 32) != 0 ||
	    tj_unhex(author->valuestring, it->meta.author, 32) != 0)
		return -1;
	it->severity = it->sum->severity;
	return 0;
}

static int cli__print_page(const cJSON *doc, const struct cli_ctx *ctx, cJSON *all)
{
	const cJSON *j;

	cJSON_ArrayForEach(j, doc)
	{
		struct cli_item it;
		if (ctx->json) {
			cJSON_AddItemToArray(all, cJSON_Duplicate(j, true));
			continue;
		}
		if (cli__item_from_json(j, &it) != 0) {
			cli_item_clear(&it);
			cli_err("query: the node sent an incident this tool cannot read back");
			return CLI_FAIL;
		}
		cli_list_row(&it, ctx->lang);
		cli_item_clear(&it);
	}
	return CLI_OK;
}

/* Pages through the node's answer (offset, CLI_QUERY_PAGE at a time). */
static int cli__query_run(struct cli_ctx *ctx, struct cli_args *args, uint64_t limit)
{
	size_t base = args->n;
	cJSON *all = ctx->json ? cJSON_CreateArray() : NULL;
	uint64_t got = 0, matched = CLI_QUERY_PAGE;
	struct cli_conn c;
	int rc;

	if (ctx->json && all == NULL)
		return CLI_FAIL;
	if ((rc = cli_connect(ctx, &c)) != CLI_OK) {
		cJSON_Delete(all);
		return rc;
	}
	if (!ctx->json)
		cli_list_header(ctx->lang);
	while (rc == CLI_OK && got < limit && matched == CLI_QUERY_PAGE) {
		uint64_t page = limit - got < CLI_QUERY_PAGE ? limit - got : CLI_QUERY_PAGE;
		cJSON *doc = NULL;
		args->n = base;
		cli_args_uint(args, "offset", got);
		cli_args_uint(args, "limit", page);
		rc = cli_json_call(&c, ctx, "query", args, "matched", &matched, &doc);
		if (rc == CLI_OK)
			rc = cli__print_page(doc, ctx, all);
		tj_incident_json_free(doc);
		got += matched;
		if (matched < page)
			break;
	}
	if (rc == CLI_OK && ctx->json)
		rc = cli_print_json(all);
	tj_incident_json_free(all);
	if (rc == CLI_OK)
		cli_note_backlog(&c, ctx);
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_query(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_SINCE = CLI_OPT_FIRST_FREE, OPT_UNTIL, OPT_LIMIT, OPT_ALL, OPT_FIELD0 };
	size_t nf;
	const struct tj_query_field *f = tj_query_fields(&nf);
	struct option opts[TJ_QUERY_TERMS_MAX + 12];
	char names[TJ_QUERY_TERMS_MAX][TJ_QUERY_FIELD_MAX];
	const char *vals[TJ_QUERY_TERMS_MAX] = {0}, *since = NULL, *until = NULL;
	struct cli_args args = {0};
	uint64_t limit = CLI_QUERY_LIMIT_DEFAULT;
	struct tj_query_term term;
	char bad[TJ_CODE_MAX];
	size_t k = 0;
	int opt, rc;

	static const struct option fixed[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"until", required_argument, NULL, OPT_UNTIL},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"all", no_argument, NULL, OPT_ALL},
	    {"help", no_argument, NULL, 'h'},
	};
	for (; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		opts[k] = fixed[k];
	for (size_t i = 0; i < nf && i < TJ_QUERY_TERMS_MAX; i++, k++) {
		snprintf(names[i], sizeof(names[i]), "%s", f[i].name);
		for (char *p = names[i]; *p != '\0'; p++)
			*p = *p == '_' ? '-' : *p;
		opts[k] = (struct option){names[i], required_argument, NULL, OPT_FIELD0 + (int)i};
	}
	opts[k] = (struct option){NULL, 0, NULL, 0};
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		if (opt == 'h') {
			cli__query_usage();
			return CLI_OK;
		} else if (opt >= OPT_FIELD0) {
			vals[opt - OPT_FIELD0] = optarg;
		} else if (opt == OPT_SINCE) {
			since = optarg;
		} else if (opt == OPT_UNTIL) {
			until = optarg;
		} else if (opt == OPT_ALL) {
			limit = CLI_QUERY_LIMIT_MAX;
		} else if (opt == OPT_LIMIT) {
			limit = strtoull(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || limit == 0 ||
			    limit > CLI_QUERY_LIMIT_MAX)
				return cli_usage_err("query", "--limit must be 1 to %u", CLI_QUERY_LIMIT_MAX);
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("query", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("query", "unexpected argument '%s'", argv[optind]);
	for (size_t i = 0; i < nf && i < TJ_QUERY_TERMS_MAX; i++) {
		if (vals[i] == NULL)
			continue;
		if (tj_query_term_parse(f[i].name, vals[i], &term, bad) != 0)
			return cli_usage_err("query", "'%s' is not a code of --%s (see `tejido vocab`)", bad,
			                     names[i]);
		cli_args_str(&args, f[i].name, vals[i]);
	}
	if ((rc = cli_check_date("query", "--since", since)) != 0 ||
	    (rc = cli_check_date("query", "--until", until)) != 0 ||
	    (rc = cli_check_range("query", since, until)) != 0)
		return rc;
	cli_args_str(&args, "since", since);
	cli_args_str(&args, "until", until);
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__query_run(ctx, &args, limit);
}
