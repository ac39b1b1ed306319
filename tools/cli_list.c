/*
 * `tejido list` (a table or JSON, paging through the node) and `tejido show`.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_list.h"
#include "tj_control.h"
#include "tj_keys.h"

#define CLI_LIST_MAX_PAGES 100000u

static const char cli__list_usage[] =
    "usage: tejido list [--state NN] [--since YYYY-MM-DD] [--act TYPE] [--limit N] [--json] [--lang "
    "es|en]\n\n"
    "Lists incidents, newest recorded first, as a table (id prefix, date, state, municipality,\n"
    "acts, severity, presumed aggressor) or, with --json, as an array in the JSON form.\n"
    "  --state NN      only incidents in this INEGI state (`tejido vocab state`)\n"
    "  --since DATE    only incidents that occurred on or after DATE\n"
    "  --act TYPE      only incidents with this act type (`tejido vocab act_type`)\n"
    "  --limit N       at most N incidents (default: all)\n";

static const char cli__show_usage[] =
    "usage: tejido show ID [--json] [--lang es|en]\n\n"
    "Shows one incident: ID is its full id or a unique prefix of at least 8 hex digits.\n"
    "The case face (names, narrative) is shown when this node can read it.\n";

/* Prints s in exactly width columns, cutting it with "~" when longer. */
static void cli__cell(const char *s, size_t width)
{
	size_t w = 0;
	const char *p = s;

	if (cli_utf8_width(s) <= width) {
		cli_print_padded(s, width + 1);
		return;
	}
	while (*p != '\0') {
		if (((unsigned char)*p & 0xC0) != 0x80) {
			if (w == width - 1)
				break;
			w++;
		}
		fputc(*p++, stdout);
	}
	fputs("~ ", stdout);
}

static void cli__acts_text(const struct tj_incident_summary *s, enum tj_lang lang, char *out, size_t cap)
{
	size_t used = 0;
	uint32_t i, j;

	out[0] = '\0';
	for (i = 0; i < s->n_acts; i++) {
		int n;
		for (j = 0; j < i; j++)
			if (strcmp(s->acts[j].type, s->acts[i].type) == 0)
				break;
		if (j < i)
			continue; /* one label per act type */
		n = snprintf(out + used, cap - used, "%s%s", used > 0 ? ", " : "",
		             tj_vocab_label("act_type", s->acts[i].type, lang));
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
}

void cli_list_header(enum tj_lang lang)
{
	bool es = lang == TJ_LANG_ES;

	cli__cell("ID", 12);
	cli__cell(es ? "FECHA" : "DATE", 11);
	cli__cell(es ? "ESTADO" : "STATE", 16);
	cli__cell(es ? "MUNICIPIO" : "MUNICIPALITY", 20);
	cli__cell(es ? "ACTOS" : "ACTS", 28);
	cli__cell(es ? "GRAV" : "SEV", 4);
	printf("%s\n", es ? "PRESUNTO AGRESOR" : "PRESUMED AGGRESSOR");
}

void cli_list_row(const struct cli_item *it, enum tj_lang lang)
{
	const struct tj_incident_summary *s = it->sum;
	char hex[65], date[32], acts[256], sev[8];

	tj_hex(it->meta.id, 32, hex);
	hex[12] = '\0';
	/* The table shows the start: "+" marks a range, "~" an estimate (show gives the rest). */
	tj_date_format(&s->occurred.start, date);
	if (strcmp(s->occurred.precision, "range") == 0)
		strcat(date, "+");
	else if (strcmp(s->occurred.precision, "estimate") == 0)
		strcat(date, "~");
	cli__acts_text(s, lang, acts, sizeof(acts));
	snprintf(sev, sizeof(sev), "%u", (unsigned)it->severity);
	cli__cell(hex, 12);
	cli__cell(date, 11);
	cli__cell(cli_state_name(s->location.state), 16);
	cli__cell(s->location.municipality[0] ? cli_municipality_name(s->location.municipality) : "-", 20);
	cli__cell(acts, 28);
	cli__cell(sev, 4);
	printf("%s\n",
	       s->n_aggressors > 0 ? tj_vocab_label("aggressor_type", s->aggressors[0].type, lang) : "-");
}

/* One page request; filters are validated already. */
static int cli__list_page(struct cli_conn *c, const struct cli_list_filter *f, const uint8_t *after,
                          uint32_t limit)
{
	struct tj_mp_writer w;
	uint32_t n = 2 + (f->state != NULL) + (f->since != NULL) + (f->act != NULL) + (after != NULL);
	size_t len;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, n);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "list");
	tj_mp_put_cstr(&w, "limit");
	tj_mp_put_uint(&w, limit);
	if (f->state != NULL) {
		tj_mp_put_cstr(&w, "state");
		tj_mp_put_cstr(&w, f->state);
	}
	if (f->since != NULL) {
		tj_mp_put_cstr(&w, "since");
		tj_mp_put_cstr(&w, f->since);
	}
	if (f->act != NULL) {
		tj_mp_put_cstr(&w, "act");
		tj_mp_put_cstr(&w, f->act);
	}
	if (after != NULL) {
		tj_mp_put_cstr(&w, "after");
		tj_mp_put_bin(&w, after, 32);
	}
	if (tj_mp_writer_finish(&w, &len) != 0)
		return CLI_FAIL;
	return cli_call_or_report(c, len, "list");
}

/* Handles one page's items; *next is the cursor, *more whether the node has more. */
static int cli__list_items(struct cli_conn *c, cli_list_fn fn, void *arg, uint64_t *count, uint64_t max,
                           uint8_t next[32], bool *have_next, bool *more)
{
	const msgpack_object *items = cli_map_get(&c->obj, "items");
	const uint8_t *nx;
	uint32_t i;
	int rc;

	if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY) {
		cli_err("list: the node's reply has no items");
		return CLI_FAIL;
	}
	for (i = 0; i < items->via.array.size && *count < max; i++) {
		struct cli_item it;
		rc = cli_item_from_reply(&items->via.array.ptr[i], false, &it);
		if (rc != 0) {
			/* One undecodable record (say, from a newer peer) must not hide the others. */
			char hex[65] = "?";
			const uint8_t *id;
			if (cli_obj_bin(cli_map_get(&items->via.array.ptr[i], "id"), 32, &id))
				tj_hex(id, 32, hex);
			cli_err("list: incident %s skipped: %s", hex, tj_strerror(rc));
			cli_item_clear(&it);
			continue;
		}
		rc = fn(&it, arg);
		cli_item_clear(&it);
		if (rc != 0)
			return rc > 0 ? rc : CLI_FAIL;
		(*count)++;
	}
	/* A page may be short or even empty with a cursor: the node bounds the work per page. */
	*more = cli_obj_bin(cli_map_get(&c->obj, "next"), 32, &nx);
	if (!*more)
		return CLI_OK;
	if (*have_next && memcmp(next, nx, 32) == 0) {
		cli_err("list: the node returned the same page cursor twice; stopping");
		return CLI_FAIL;
	}
	memcpy(next, nx, 32);
	*have_next = true;
	return CLI_OK;
}

int cli_list_each(const struct cli_ctx *ctx, const struct cli_list_filter *f, cli_list_fn fn, void *arg)
{
	struct cli_conn c;
	uint8_t next[32];
	uint64_t count = 0, max = f->limit > 0 ? f->limit : UINT64_MAX;
	bool more = true, have_next = false;
	unsigned pages;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	/* Bounded even against a node that never ends a listing: 10^5 pages of up to 10^4 records looked at.
	 */
	for (pages = 0; rc == CLI_OK && more && count < max; pages++) {
		uint64_t left = max - count;
		if (pages == CLI_LIST_MAX_PAGES) {
			cli_err("list: stopped after %u pages", CLI_LIST_MAX_PAGES);
			rc = CLI_FAIL;
			break;
		}
		rc = cli__list_page(&c, f, have_next ? next : NULL, left < 1000 ? (uint32_t)left : 1000u);
		if (rc == CLI_OK)
			rc = cli__list_items(&c, fn, arg, &count, max, next, &have_next, &more);
	}
	if (rc == CLI_OK)
		cli_note_backlog(&c, ctx);
	cli_conn_close(&c);
	return rc;
}

int cli_list_filter_check(const struct cli_list_filter *f, const char *cmd)
{
	struct tj_date d;

	if (f->state != NULL && tj_inegi_state(f->state) == NULL)
		return cli_usage_err(
		    cmd, "--state: '%s' is not an INEGI state code; see `tejido vocab state`", f->state);
	if (f->since != NULL && (tj_date_parse(f->since, &d) != 0 || tj_date_days(&d) < 0))
		return cli_usage_err(cmd, "--since: '%s' is not a date (YYYY-MM-DD)", f->since);
	if (f->act != NULL && tj_vocab_lookup("act_type", f->act) == NULL)
		return cli_usage_err(cmd, "--act: '%s' is not an act type; see `tejido vocab act_type`",
		                     f->act);
	return CLI_OK;
}

struct cli__list_out {
	const struct cli_ctx *ctx;
	cJSON *arr;
	bool header;
};

static int cli__list_cb(const struct cli_item *it, void *arg)
{
	struct cli__list_out *o = arg;
	cJSON *j;

	if (o->arr != NULL) {
		j = cli_item_json(it, o->ctx->lang);
		return j != NULL && cJSON_AddItemToArray(o->arr, j) ? 0 : -ENOMEM;
	}
	if (!o->header)
		cli_list_header(o->ctx->lang);
	o->header = true;
	cli_list_row(it, o->ctx->lang);
	return 0;
}

int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {"state", required_argument, NULL, 's'},
	    {"since", required_argument, NULL, 'S'},
	    {"act", required_argument, NULL, 'a'},
	    {"limit", required_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_list_filter f = {0};
	struct cli__list_out o = {.ctx = ctx};
	char *end;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "hn:", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__list_usage, stdout);
			return CLI_OK;
		} else if (opt == 's') {
			f.state = optarg;
		} else if (opt == 'S') {
			f.since = optarg;
		} else if (opt == 'a') {
			f.act = optarg;
		} else if (opt == 'n') {
			f.limit = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || f.limit == 0 || optarg[0] == '-')
				return cli_usage_err("list", "--limit: '%s' is not a positive number",
				                     optarg);
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("list", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("list", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_list_filter_check(&f, "list")) != CLI_OK || (rc = cli_resolve_datadir(ctx, NULL)) != 0)
		return rc;
	if (ctx->json && (o.arr = cJSON_CreateArray()) == NULL)
		return CLI_FAIL;
	rc = cli_list_each(ctx, &f, cli__list_cb, &o);
	if (rc == CLI_OK && o.arr != NULL)
		rc = cli_print_json(o.arr);
	else if (rc == CLI_OK && !o.header)
		printf("%s\n", ctx->lang == TJ_LANG_ES ? "(ningún incidente)" : "(no incidents)");
	cJSON_Delete(o.arr);
	return rc;
}

/* ---- show ------------------------------------------------------------------------------ */

int cli_show_check_id(const char *idarg)
{
	size_t n = strlen(idarg), i;

	if (n < 8 || n > 64)
		return cli_usage_err("show", "'%s' is not an incident id: give at least 8 of its hex digits",
		                     idarg);
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)idarg[i]))
			return cli_usage_err("show", "'%s' is not an incident id: use hex digits only",
			                     idarg);
	return CLI_OK;
}

int cli_show_fetch(struct cli_conn *c, const char *idarg, struct cli_item *it)
{
	struct tj_mp_writer w;
	char prefix[65];
	uint8_t id[32];
	size_t n = strlen(idarg), len, i;
	int rc;

	if ((rc = cli_show_check_id(idarg)) != CLI_OK)
		return rc;
	for (i = 0; i < n; i++)
		prefix[i] = (char)tolower((unsigned char)idarg[i]);
	prefix[n] = '\0';
	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "show");
	if (n == 64 && tj_unhex(prefix, id, 32) == 0) {
		tj_mp_put_cstr(&w, "id");
		tj_mp_put_bin(&w, id, 32);
	} else {
		tj_mp_put_cstr(&w, "prefix");
		tj_mp_put_cstr(&w, prefix);
	}
	if (tj_mp_writer_finish(&w, &len) != 0)
		return CLI_FAIL;
	if ((rc = cli_call_or_report(c, len, "show")) != CLI_OK)
		return rc;
	rc = cli_item_from_reply(&c->obj, true, it);
	if (rc != 0) {
		cli_err("show: the node's reply could not be decoded: %s", tj_strerror(rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli_conn c;
	struct cli_item it;
	int opt, rc;

	memset(&it, 0, sizeof(it));
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__show_usage, stdout);
			return CLI_OK;
		}
		if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("show", "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage_err("show", "give one incident id (or a prefix of at least 8 hex digits)");
	if ((rc = cli_show_check_id(argv[optind])) != CLI_OK || (rc = cli_resolve_datadir(ctx, NULL)) != 0 ||
	    (rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	/* A retracted record: when and why, and which nodes confirmed (cli_retract.c). */
	if ((rc = cli_retract_show(ctx, &c, argv[optind])) != CLI_NOTFOUND) {
		cli_conn_close(&c);
		return rc;
	}
	rc = cli_show_fetch(&c, argv[optind], &it);
	if (rc == CLI_OK && ctx->json) {
		cJSON *j = cli_item_json(&it, ctx->lang);
		rc = j != NULL ? cli_print_json(j) : CLI_FAIL;
		cJSON_Delete(j);
	} else if (rc == CLI_OK) {
		cli_render_incident(&it, ctx->lang);
	}
	cli_item_clear(&it);
	cli_conn_close(&c);
	return rc;
}
