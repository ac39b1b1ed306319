/*
 * `tejido export --format csv|json [--out FILE] [--include-case]`.
 *
 * CSV scheme: one row per act (an incident with three acts gives three rows),
 * with the incident's fields repeated on each row so that a spreadsheet can
 * count acts, victims or incidents (distinct incident_id). Codes, not labels,
 * plus the INEGI names; lists inside a cell are joined with ';'.
 * Free-text cells starting with = + - @ get a leading ' so that spreadsheets
 * do not run them as formulas.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "cli_list.h"
#include "tj_keys.h"

static const char cli__export_usage[] =
    "usage: tejido export --format csv|json [--out FILE] [--include-case] [--lang es|en]\n"
    "                     [--state NN] [--since YYYY-MM-DD] [--act TYPE]\n\n"
    "Exports every incident (or those matching the filters). By default only the coded\n"
    "summary; --include-case adds the case face (names, narrative: PLAINTEXT, handle with\n"
    "care). --out FILE is written with mode 0600; without it the export goes to stdout.\n\n"
    "CSV: one row per act, the incident's fields repeated on each row; codes (not labels),\n"
    "with the INEGI state and municipality names; lists joined with ';'.\n";

/* A growing byte buffer, wiped when freed: an export may hold case faces. */
struct cli__buf {
	char *p;
	size_t len, cap;
	int err;
};

static void cli__put(struct cli__buf *b, const char *s, size_t n)
{
	if (b->err != 0)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = malloc(cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void cli__buf_free(struct cli__buf *b)
{
	if (b->p != NULL)
		sodium_memzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* One RFC 4180 cell, then ',' or the row end. */
static void cli__csv(struct cli__buf *b, const char *s, bool free_text, bool last)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	const char *p;

	if (quote)
		cli__put(b, "\"", 1);
	if (free_text && s[0] != '\0' && strchr("=+-@", s[0]) != NULL)
		cli__put(b, "'", 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			cli__put(b, "\"", 1); /* a quote inside a quoted cell is doubled */
		cli__put(b, p, 1);
	}
	if (quote)
		cli__put(b, "\"", 1);
	cli__put(b, last ? "\r\n" : ",", last ? 2 : 1);
}

static void cli__join(const struct tj_codelist *l, char *out, size_t cap)
{
	size_t used = 0;
	uint32_t i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		int n = snprintf(out + used, cap - used, "%s%s", i ? ";" : "", l->v[i]);
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

static const char *const cli__csv_cols[] = {
    "incident_id",
    "author",
    "recorded_at",
    "occurred_start",
    "occurred_end",
    "precision",
    "state",
    "state_name",
    "municipality",
    "municipality_name",
    "place_type",
    "residence_state",
    "residence_municipality",
    "severity",
    "verification",
    "source_type",
    "source_reliability",
    "protection_status",
    "risk_level",
    "measures",
    "failed_measures",
    "n_victims",
    "n_aggressors",
    "n_acts",
    "act_index",
    "act_type",
    "victim_index",
    "victim_ref",
    "victim_unit",
    "victim_role",
    "victim_gender",
    "victim_age_band",
    "victim_traits",
    "victim_causes",
    "aggressor_index",
    "aggressor_category",
    "aggressor_type",
    "aggressor_level",
    "aggressor_involvement",
    NULL,
};

static const char *const cli__csv_case_cols[] = {
    "case_status", "victim_names", "contacts", "exact_place", "consent", "narrative", NULL,
};

struct cli__export {
	struct cli__buf out;
	bool csv, include_case;
	enum tj_lang lang;
	cJSON *arr;
	struct cli_conn conn; /* for the case faces */
	uint64_t n;
};

static void cli__csv_header(struct cli__export *e)
{
	size_t i;

	for (i = 0; cli__csv_cols[i] != NULL; i++)
		cli__csv(&e->out, cli__csv_cols[i], false, !e->include_case && cli__csv_cols[i + 1] == NULL);
	for (i = 0; e->include_case && cli__csv_case_cols[i] != NULL; i++)
		cli__csv(&e->out, cli__csv_case_cols[i], false, cli__csv_case_cols[i + 1] == NULL);
}

static void cli__csv_incident(struct cli__export *e, const struct cli_item *it, char hex[65], char *tmp,
                              size_t cap)
{
	const struct tj_incident_summary *s = it->sum;
	char d[11];
	time_t t = (time_t)(it->meta.recorded_at_ms / 1000u);
	struct tm tm;

	tj_hex(it->meta.id, 32, hex);
	cli__csv(&e->out, hex, false, false);
	tj_hex(it->meta.author, 32, tmp);
	cli__csv(&e->out, tmp, false, false);
	gmtime_r(&t, &tm);
	strftime(tmp, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cli__csv(&e->out, tmp, false, false);
	tj_date_format(&s->occurred.start, d);
	cli__csv(&e->out, d, false, false);
	d[0] = '\0';
	if (s->occurred.end.year != 0)
		tj_date_format(&s->occurred.end, d);
	cli__csv(&e->out, d, false, false);
	cli__csv(&e->out, s->occurred.precision, false, false);
	cli__csv(&e->out, s->location.state, false, false);
	cli__csv(&e->out, cli_state_name(s->location.state), false, false);
	cli__csv(&e->out, s->location.municipality, false, false);
	cli__csv(&e->out, s->location.municipality[0] ? cli_municipality_name(s->location.municipality) : "",
	         false, false);
	cli__csv(&e->out, s->location.place_type, false, false);
	cli__csv(&e->out, s->residence.state, false, false);
	cli__csv(&e->out, s->residence.municipality, false, false);
	snprintf(tmp, cap, "%u", (unsigned)it->severity);
	cli__csv(&e->out, tmp, false, false);
	cli__csv(&e->out, s->verification, false, false);
	cli__csv(&e->out, s->source.type, false, false);
	cli__csv(&e->out, s->source.reliability, false, false);
	cli__csv(&e->out, s->protection.status, false, false);
	cli__csv(&e->out, s->protection.risk_level, false, false);
	cli__join(&s->protection.measures, tmp, cap);
	cli__csv(&e->out, tmp, false, false);
	cli__join(&s->protection.failed, tmp, cap);
	cli__csv(&e->out, tmp, false, false);
	snprintf(tmp, cap, "%u", s->n_victims);
	cli__csv(&e->out, tmp, false, false);
	snprintf(tmp, cap, "%u", s->n_aggressors);
	cli__csv(&e->out, tmp, false, false);
	snprintf(tmp, cap, "%u", s->n_acts);
	cli__csv(&e->out, tmp, false, false);
}

static void cli__csv_act(struct cli__export *e, const struct tj_incident_summary *s, uint32_t i, char *tmp,
                         size_t cap)
{
	const struct tj_act *a = i < s->n_acts ? &s->acts[i] : NULL;
	const struct tj_victim *v = a != NULL && a->victim < s->n_victims ? &s->victims[a->victim] : NULL;
	const struct tj_aggressor *g =
	    a != NULL && a->aggressor >= 0 && (uint32_t)a->aggressor < s->n_aggressors
	        ? &s->aggressors[a->aggressor]
	        : NULL;
	bool last = !e->include_case;

	snprintf(tmp, cap, "%u", i);
	cli__csv(&e->out, a ? tmp : "", false, false);
	cli__csv(&e->out, a ? a->type : "", false, false);
	snprintf(tmp, cap, "%u", a ? a->victim : 0);
	cli__csv(&e->out, v ? tmp : "", false, false);
	cli__csv(&e->out, v ? v->ref : "", false, false);
	cli__csv(&e->out, v ? v->unit : "", false, false);
	cli__csv(&e->out, v ? v->role : "", false, false);
	cli__csv(&e->out, v ? v->gender : "", false, false);
	cli__csv(&e->out, v ? v->age_band : "", false, false);
	tmp[0] = '\0';
	if (v)
		cli__join(&v->traits, tmp, cap);
	cli__csv(&e->out, tmp, false, false);
	tmp[0] = '\0';
	if (v)
		cli__join(&v->defended_causes, tmp, cap);
	cli__csv(&e->out, tmp, false, false);
	snprintf(tmp, cap, "%d", a ? a->aggressor : -1);
	cli__csv(&e->out, g ? tmp : "", false, false);
	cli__csv(&e->out, g ? g->category : "", false, false);
	cli__csv(&e->out, g ? g->type : "", false, false);
	cli__csv(&e->out, g ? g->level : "", false, false);
	cli__csv(&e->out, g ? g->involvement : "", false, last);
}

/* Free text joined with " | " (names and contacts never contain it in practice; it is for reading). */
static void cli__csv_texts(struct cli__export *e, char *const *v, uint32_t n)
{
	struct cli__buf j = {0};
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			cli__put(&j, " | ", 3);
		cli__put(&j, v[i], strlen(v[i]));
	}
	cli__csv(&e->out, j.p != NULL ? j.p : "", true, false);
	if (j.err != 0)
		e->out.err = j.err;
	cli__buf_free(&j);
}

static void cli__csv_case(struct cli__export *e, const struct cli_item *it, char *tmp, size_t cap)
{
	const struct tj_incident_case *c = it->kase;

	cli__csv(&e->out, it->case_status, false, false);
	cli__csv_texts(e, c ? c->victim_names : NULL, c ? c->n_names : 0);
	cli__csv_texts(e, c ? c->contacts : NULL, c ? c->n_contacts : 0);
	cli__csv(&e->out, c && c->exact_place ? c->exact_place : "", true, false);
	tmp[0] = '\0';
	if (c)
		cli__join(&c->consent, tmp, cap);
	cli__csv(&e->out, tmp, false, false);
	cli__csv(&e->out, c && c->narrative ? c->narrative : "", true, true);
}

static int cli__export_item(const struct cli_item *listed, struct cli__export *e)
{
	struct cli_item full;
	const struct cli_item *it = listed;
	char hex[65], tmp[1024];
	uint32_t i, rows;
	int rc = 0;

	memset(&full, 0, sizeof(full));
	if (e->include_case) {
		tj_hex(listed->meta.id, 32, hex);
		if ((rc = cli_show_fetch(&e->conn, hex, &full)) != CLI_OK)
			goto out;
		it = &full;
	}
	if (!e->csv) {
		cJSON *j = cli_item_json(it, e->lang);
		rc = j != NULL && cJSON_AddItemToArray(e->arr, j) ? 0 : -ENOMEM;
		goto out;
	}
	rows = it->sum->n_acts > 0 ? it->sum->n_acts : 1;
	for (i = 0; i < rows; i++) {
		cli__csv_incident(e, it, hex, tmp, sizeof(tmp));
		cli__csv_act(e, it->sum, i, tmp, sizeof(tmp));
		if (e->include_case)
			cli__csv_case(e, it, tmp, sizeof(tmp));
	}
	rc = e->out.err;
out:
	sodium_memzero(tmp, sizeof(tmp));
	cli_item_clear(&full);
	e->n++;
	return rc;
}

static int cli__export_cb(const struct cli_item *it, void *arg)
{
	return cli__export_item(it, arg);
}

static int cli__export_write(struct cli__export *e, const char *out)
{
	int rc;

	if (!e->csv) {
		char *s = cJSON_Print(e->arr);
		if (s == NULL)
			return CLI_FAIL;
		cli__put(&e->out, s, strlen(s));
		cli__put(&e->out, "\n", 1);
		sodium_memzero(s, strlen(s));
		cJSON_free(s);
	}
	if (e->out.err != 0)
		return CLI_FAIL;
	if (out == NULL) {
		if (e->out.len > 0 && fwrite(e->out.p, 1, e->out.len, stdout) != e->out.len)
			return CLI_FAIL;
		return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
	}
	rc = cli_write_file_0600(out, e->out.p != NULL ? e->out.p : "", e->out.len);
	if (rc != 0) {
		cli_err("cannot write %s: %s", out, strerror(-rc));
		return CLI_FAIL;
	}
	fprintf(stderr, "tejido: exported %llu incidents to %s\n", (unsigned long long)e->n, out);
	return CLI_OK;
}

int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"help", no_argument, NULL, 'h'},
	    {"format", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"include-case", no_argument, NULL, 'c'},
	    {"state", required_argument, NULL, 's'},
	    {"since", required_argument, NULL, 'S'},
	    {"act", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	struct cli__export e;
	struct cli_list_filter f = {0};
	const char *format = NULL, *out = NULL;
	int opt, rc;

	memset(&e, 0, sizeof(e));
	e.conn.fd = -1;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "ho:f:", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__export_usage, stdout);
			return CLI_OK;
		} else if (opt == 'f') {
			format = optarg;
		} else if (opt == 'o') {
			out = optarg;
		} else if (opt == 'c') {
			e.include_case = true;
		} else if (opt == 's' || opt == 'S' || opt == 'a') {
			*(opt == 's' ? &f.state : opt == 'S' ? &f.since : &f.act) = optarg;
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("export", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("export", "unexpected argument '%s'", argv[optind]);
	if (format == NULL || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0))
		return cli_usage_err("export", "say --format csv or --format json");
	if ((rc = cli_list_filter_check(&f, "export")) != CLI_OK ||
	    (rc = cli_resolve_datadir(ctx, NULL)) != 0)
		return rc;
	e.csv = strcmp(format, "csv") == 0;
	e.lang = ctx->lang;
	if (e.include_case)
		fprintf(stderr,
		        "tejido: WARNING: --include-case writes victims' names and narratives in "
		        "plaintext%s%s; keep it encrypted and delete it when done\n",
		        out ? " to " : "", out ? out : "");
	if (e.include_case && (rc = cli_connect(ctx, &e.conn)) != CLI_OK)
		goto out;
	if (!e.csv && (e.arr = cJSON_CreateArray()) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (e.csv)
		cli__csv_header(&e);
	rc = cli_list_each(ctx, &f, cli__export_cb, &e);
	if (rc == CLI_OK)
		rc = cli__export_write(&e, out);
out:
	cli_conn_close(&e.conn);
	cJSON_Delete(e.arr);
	cli__buf_free(&e.out);
	return rc;
}
