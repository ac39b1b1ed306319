/*
 * `tejido alerts` (list or --follow), `tejido alert ack|resolve` and
 * `tejido subscribe`, plus the request helpers the query and stats commands
 * share (cli_alert.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_alert.h"
#include "tj_control.h"
#include "tj_alert.h"
#include "tj_mp.h"

#define CLI_FOLLOW_POLL_MS 1000

static const char cli__alerts_usage[] =
    "usage: tejido alerts [--states 20,12] [--min-priority low|medium|high|critical]\n"
    "                     [--status open|acknowledged|resolved] [--triggers T1,T3] [--limit N]\n"
    "                     [--follow] [--json] [--lang es|en]\n\n"
    "Lists the alerts this node raised from the incidents it can read, newest first:\n"
    "trigger, priority, status, severity, states, acts, and who acknowledged it and when.\n"
    "  T1 severity >= 4   T2 victim under protection   T3 cluster in a municipality\n"
    "  T4 escalation (same victim)   T5 aggressor pattern in a state\n"
    "  T6 occurred outside the state of residence   T7 disappearance or detention still open\n"
    "  --follow   print new alerts as they are raised (and T7 re-raises), until Ctrl-C;\n"
    "             with --json, one JSON object per line\n";

static const char cli__alert_usage[] =
    "usage: tejido alert ack ALERT_ID [--note-code responding|verifying|contacted]\n"
    "       tejido alert resolve ALERT_ID --outcome CODE\n\n"
    "Writes a signed acknowledgement or resolution that every member's node sees.\n"
    "ALERT_ID is the full id or a unique prefix of at least 8 hex digits.\n"
    "Outcomes: victim_safe, relocated, released, located_alive, located_dead,\n"
    "          measures_reinforced, referred, false_alarm, duplicate, no_further_action\n";

static const char cli__subscribe_usage[] =
    "usage: tejido subscribe [--states 20,12] [--min-severity 1-5] [--triggers T1,T2,...]\n"
    "                        [--contact PUBLIC_KEY] [--json]\n\n"
    "Stores which alerts a contact wants (this node's own by default): the alert hook\n"
    "receives the alerts that match any subscription (all alerts while there is none).\n";

void cli_args_str(struct cli_args *args, const char *key, const char *val)
{
	if (val == NULL || args->n == CLI_ARGS_MAX)
		return;
	args->a[args->n].key = key;
	args->a[args->n].str = val;
	args->a[args->n].is_bool = 0;
	args->n++;
}

void cli_args_uint(struct cli_args *args, const char *key, uint64_t val)
{
	if (args->n == CLI_ARGS_MAX)
		return;
	args->a[args->n].key = key;
	args->a[args->n].str = NULL;
	args->a[args->n].num = val;
	args->a[args->n].is_bool = 0;
	args->n++;
}

void cli_args_bool(struct cli_args *args, const char *key, int val)
{
	cli_args_uint(args, key, val != 0);
	args->a[args->n - 1].is_bool = 1;
}

static int cli__put_args(struct cli_conn *c, const struct cli_ctx *ctx, const char *op,
                         const struct cli_args *args, size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, (uint32_t)args->n + 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, op);
	tj_mp_put_cstr(&w, "lang");
	tj_mp_put_cstr(&w, ctx->lang == TJ_LANG_ES ? "es" : "en");
	for (size_t i = 0; i < args->n; i++) {
		tj_mp_put_cstr(&w, args->a[i].key);
		if (args->a[i].str != NULL)
			tj_mp_put_cstr(&w, args->a[i].str);
		else if (args->a[i].is_bool)
			tj_mp_put_bool(&w, args->a[i].num != 0);
		else
			tj_mp_put_uint(&w, args->a[i].num);
	}
	return tj_mp_writer_finish(&w, len);
}

int cli_json_call(struct cli_conn *c, const struct cli_ctx *ctx, const char *op, const struct cli_args *args,
                  const char *extra_key, uint64_t *extra, cJSON **doc)
{
	const char *text;
	uint32_t tlen;
	size_t len = 0;
	int rc;

	*doc = NULL;
	if (cli__put_args(c, ctx, op, args, &len) != 0)
		return cli_usage_err(op, "the arguments are too long");
	if ((rc = cli_call_or_report(c, len, op)) != CLI_OK)
		return rc;
	if (!cli_obj_str(cli_map_get(&c->obj, "json"), &text, &tlen) ||
	    (extra_key != NULL && !cli_obj_uint(cli_map_get(&c->obj, extra_key), extra))) {
		cli_err("%s: the node's reply lacks its result", op);
		return CLI_FAIL;
	}
	if ((*doc = cJSON_ParseWithLength(text, tlen)) == NULL) {
		cli_err("%s: the node's reply is not JSON", op);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_check_states(const char *cmd, const char *list)
{
	const char *p = list;

	if (list == NULL)
		return 0;
	if (*p == '\0')
		return cli_usage_err(cmd, "--states needs at least one INEGI state code, e.g. 20 or 20,12");
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		char code[8];
		if (n == 0 || n >= sizeof(code))
			return cli_usage_err(
			    cmd, "'%.*s' is not an INEGI state code (01 to 32; `tejido vocab state`)",
			    (int)(n < 16 ? n : 16), p);
		memcpy(code, p, n);
		code[n] = '\0';
		if (tj_inegi_state(code) == NULL)
			return cli_usage_err(
			    cmd, "'%s' is not an INEGI state code (01 to 32; `tejido vocab state`)", code);
		p += n + (p[n] == ',');
	}
	return 0;
}

int cli_check_date(const char *cmd, const char *what, const char *date)
{
	struct tj_date d;

	if (date != NULL && tj_date_parse(date, &d) != 0)
		return cli_usage_err(cmd, "%s '%s' is not a date: use YYYY-MM-DD, YYYY-MM or YYYY", what,
		                     date);
	return 0;
}

/* from <= to, comparing the first day of from with the last day of to. */
int cli_check_range(const char *cmd, const char *from, const char *to)
{
	struct tj_date a, b;

	if (from == NULL || to == NULL || tj_date_parse(from, &a) != 0 || tj_date_parse(to, &b) != 0)
		return 0;
	if (b.month == 0)
		b.month = 12;
	if (b.day == 0)
		b.day = 31; /* compared as numbers: any last day sorts after every day of the month */
	if (a.year > b.year ||
	    (a.year == b.year && (a.month > b.month || (a.month == b.month && a.day > b.day))))
		return cli_usage_err(cmd, "the date range runs backwards: %s is after %s", from, to);
	return 0;
}

/* ---- rendering ------------------------------------------------------------ */

static const char *cli__jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void cli__join(const cJSON *arr, char *out, size_t cap)
{
	const cJSON *v;
	size_t used = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(v, arr)
	{
		int n;
		if (!cJSON_IsString(v))
			continue;
		n = snprintf(out + used, cap - used, "%s%s", used > 0 ? "," : "", v->valuestring);
		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
}

static void cli__alert_header(enum tj_lang lang)
{
	bool es = lang == TJ_LANG_ES;

	printf("%-12s %-3s %-9s %-13s %-3s %-8s %-28s %-20s %s\n", "ID", es ? "REG" : "TRG",
	       es ? "PRIORIDAD" : "PRIORITY", es ? "ESTADO" : "STATUS", "SEV", es ? "ENTIDAD" : "STATES",
	       es ? "ACTOS" : "ACTS", es ? "EMITIDA" : "RAISED", es ? "ATENDIDA POR" : "ACKNOWLEDGED BY");
}

static void cli__alert_row(const cJSON *a, enum tj_lang lang)
{
	const cJSON *sev = cJSON_GetObjectItemCaseSensitive(a, "severity"),
	            *acks = cJSON_GetObjectItemCaseSensitive(a, "acks"), *k,
	            *count = cJSON_GetObjectItemCaseSensitive(a, "count");
	char states[64], acts[256], by[256] = "", status[32];
	size_t used = 0;

	/* Following, a growing cluster comes back as an update of the same alert:
	 * the row says so, with the number of incidents it now counts. */
	if (strcmp(cli__jstr(a, "event_kind"), "update") == 0)
		snprintf(status, sizeof(status), "%s n=%d", lang == TJ_LANG_ES ? "actualiza" : "update",
		         cJSON_IsNumber(count) ? count->valueint : 0);
	else
		snprintf(status, sizeof(status), "%s", cli__jstr(a, "status"));

	cli__join(cJSON_GetObjectItemCaseSensitive(a, "states"), states, sizeof(states));
	cli__join(cJSON_GetObjectItemCaseSensitive(a, "acts_label"), acts, sizeof(acts));
	cJSON_ArrayForEach(k, acks)
	{
		/* The member's name when membership gives one, else the fingerprint. */
		const char *who =
		    cli__jstr(k, "by_name")[0] != '\0' ? cli__jstr(k, "by_name") : cli__jstr(k, "by");
		int n = snprintf(by + used, sizeof(by) - used, "%s%s %s %s", used > 0 ? "; " : "", who,
		                 cli__jstr(k, "code"), cli__jstr(k, "at"));
		if (n < 0 || (size_t)n >= sizeof(by) - used)
			break;
		used += (size_t)n;
	}
	printf("%-12.12s %-3s %-9s %-13s %-3d %-8s ", cli__jstr(a, "id"), cli__jstr(a, "trigger"),
	       cli__jstr(a, "priority"), status, cJSON_IsNumber(sev) ? sev->valueint : 0, states);
	/* Labels are UTF-8 (es): cut on a character, in 28 columns, "~" marking the cut. */
	if (cli_utf8_width(acts) > 28) {
		size_t w = 0, i = 0;
		for (; acts[i] != '\0'; i++)
			if (((unsigned char)acts[i] & 0xC0) != 0x80 && w++ == 27)
				break;
		memcpy(acts + i, "~", 2);
	}
	cli_print_padded(acts, 29);
	printf("%-20s %s\n", cli__jstr(a, "raised"), by[0] != '\0' ? by : "-");
}

static int cli__print_alerts(const cJSON *doc, const struct cli_ctx *ctx, bool lines)
{
	const cJSON *a;

	if (ctx->json && !lines)
		return cli_print_json(doc);
	cJSON_ArrayForEach(a, doc)
	{
		if (ctx->json) {
			char *s = cJSON_PrintUnformatted(a);
			if (s == NULL)
				return CLI_FAIL;
			printf("%s\n", s);
			free(s);
		} else {
			cli__alert_row(a, ctx->lang);
		}
	}
	fflush(stdout);
	return CLI_OK;
}

/* ---- alerts ---------------------------------------------------------------- */

static volatile sig_atomic_t cli__stop;

static void cli__on_signal(int sig)
{
	(void)sig;
	cli__stop = 1;
}

/* Polls for events after *last; the oldest first. */
static int cli__follow(struct cli_conn *c, const struct cli_ctx *ctx, struct cli_args *args, uint64_t last)
{
	struct sigaction sa;
	size_t base = args->n;
	int rc = CLI_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli__on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!ctx->json)
		cli__alert_header(ctx->lang);
	fflush(stdout);
	while (!cli__stop && rc == CLI_OK) {
		struct timespec ts = {0, CLI_FOLLOW_POLL_MS * 1000000L};
		cJSON *doc = NULL;
		args->n = base;
		cli_args_uint(args, "after", last);
		rc = cli_json_call(c, ctx, "alerts", args, "last", &last, &doc);
		if (rc == CLI_OK)
			rc = cli__print_alerts(doc, ctx, true);
		cJSON_Delete(doc);
		if (rc == CLI_OK)
			nanosleep(&ts, NULL);
	}
	return rc;
}

int cli_cmd_alerts(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_STATES = CLI_OPT_FIRST_FREE, OPT_PRIO, OPT_STATUS, OPT_TRIG, OPT_LIMIT, OPT_FOLLOW };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"states", required_argument, NULL, OPT_STATES},
	    {"min-priority", required_argument, NULL, OPT_PRIO},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {"triggers", required_argument, NULL, OPT_TRIG},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"follow", no_argument, NULL, OPT_FOLLOW},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *states = NULL, *prio = NULL, *status = NULL, *trig = NULL;
	struct cli_args args = {0};
	unsigned long limit = 100;
	bool follow = false;
	struct cli_conn c;
	cJSON *doc = NULL;
	uint64_t last = 0;
	uint8_t u8;
	char bad[16];
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		switch (opt) {
		case 'h':
			fputs(cli__alerts_usage, stdout);
			return CLI_OK;
		case OPT_STATES:
			states = optarg;
			break;
		case OPT_PRIO:
			prio = optarg;
			break;
		case OPT_STATUS:
			status = optarg;
			break;
		case OPT_TRIG:
			trig = optarg;
			break;
		case OPT_FOLLOW:
			follow = true;
			break;
		case OPT_LIMIT:
			limit = strtoul(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || limit == 0 || limit > 500)
				return cli_usage_err("alerts", "--limit must be 1 to 500");
			break;
		default:
			if (cli_common_opt(ctx, opt, optarg) != 0)
				return cli_usage_err("alerts", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("alerts", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_check_states("alerts", states)) != 0)
		return rc;
	if (prio != NULL && tj_priority_parse(prio, &u8) != 0)
		return cli_usage_err("alerts", "--min-priority must be low, medium, high or critical");
	if (status != NULL && tj_alert_status_parse(status, &u8) != 0)
		return cli_usage_err("alerts", "--status must be open, acknowledged or resolved");
	if (trig != NULL && tj_triggers_parse(trig, &u8, bad) != 0)
		return cli_usage_err("alerts", "'%s' is not a trigger; use T1 to T7, e.g. --triggers T1,T3",
		                     bad);
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	cli_args_str(&args, "states", states);
	cli_args_str(&args, "min_priority", prio);
	cli_args_str(&args, "status", status);
	cli_args_str(&args, "triggers", trig);
	cli_args_uint(&args, "limit", follow ? 100 : limit); /* following pages through bursts */
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	/* The list now (or, following, only where the events stand). */
	rc = cli_json_call(&c, ctx, "alerts", &args, "last", &last, &doc);
	if (rc == CLI_OK && !follow) {
		if (!ctx->json)
			cli__alert_header(ctx->lang);
		rc = cli__print_alerts(doc, ctx, false);
	}
	cJSON_Delete(doc);
	if (rc == CLI_OK)
		cli_note_backlog(&c, ctx); /* following: once, at the start */
	if (rc == CLI_OK && follow)
		rc = cli__follow(&c, ctx, &args, last);
	cli_conn_close(&c);
	return rc;
}

/* ---- alert ack | resolve ------------------------------------------------------ */

static int cli__respond(struct cli_ctx *ctx, const char *kind, const char *id, const char *code)
{
	struct cli_args args = {0};
	struct cli_conn c;
	cJSON *doc = NULL;
	int rc;

	cli_args_str(&args, "kind", kind);
	cli_args_str(&args, "id", id);
	cli_args_str(&args, "code", code);
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	rc = cli_json_call(&c, ctx, "alert_respond", &args, NULL, NULL, &doc);
	if (rc == CLI_OK && ctx->json)
		rc = cli_print_json(doc);
	else if (rc == CLI_OK)
		printf("%s %s: record %.16s, shared with the network\n",
		       strcmp(kind, "ack") == 0 ? (ctx->lang == TJ_LANG_ES ? "atendida" : "acknowledged")
		                                : (ctx->lang == TJ_LANG_ES ? "resuelta" : "resolved"),
		       cli__jstr(doc, "alert"), cli__jstr(doc, "record"));
	cJSON_Delete(doc);
	cli_conn_close(&c);
	return rc;
}

static int cli__check_alert_id(const char *id)
{
	size_t n = strlen(id);

	if (n < 8 || n > 64 || strspn(id, "0123456789abcdefABCDEF") != n)
		return cli_usage_err("alert", "ALERT_ID must be 8 to 64 hex digits (see `tejido alerts`)");
	return 0;
}

int cli_cmd_alert(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_NOTE = CLI_OPT_FIRST_FREE, OPT_OUTCOME };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"note-code", required_argument, NULL, OPT_NOTE},
	    {"outcome", required_argument, NULL, OPT_OUTCOME},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *note = "responding", *outcome = NULL, *verb, *id;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__alert_usage, stdout);
			return CLI_OK;
		} else if (opt == OPT_NOTE) {
			note = optarg;
		} else if (opt == OPT_OUTCOME) {
			outcome = optarg;
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("alert", "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_err("alert",
		                     "say `alert ack ALERT_ID` or `alert resolve ALERT_ID --outcome CODE`");
	verb = argv[optind];
	id = argv[optind + 1];
	if ((rc = cli__check_alert_id(id)) != 0)
		return rc;
	if (strcmp(verb, "ack") == 0) {
		if (!tj_alert_note_valid(note))
			return cli_usage_err("alert",
			                     "--note-code must be responding, verifying or contacted");
	} else if (strcmp(verb, "resolve") == 0) {
		if (outcome == NULL || !tj_alert_outcome_valid(outcome))
			return cli_usage_err(
			    "alert",
			    "resolve needs --outcome with one of the codes in `tejido alert --help`");
	} else {
		return cli_usage_err("alert", "unknown subcommand '%s'; say ack or resolve", verb);
	}
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__respond(ctx, verb, id, strcmp(verb, "ack") == 0 ? note : outcome);
}

/* ---- subscribe ---------------------------------------------------------------- */

int cli_cmd_subscribe(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_STATES = CLI_OPT_FIRST_FREE, OPT_SEV, OPT_TRIG, OPT_CONTACT };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"lang", required_argument, NULL, CLI_OPT_LANG},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"states", required_argument, NULL, OPT_STATES},
	    {"min-severity", required_argument, NULL, OPT_SEV},
	    {"triggers", required_argument, NULL, OPT_TRIG},
	    {"contact", required_argument, NULL, OPT_CONTACT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *states = NULL, *trig = NULL, *contact = NULL;
	struct cli_args args = {0};
	unsigned long sev = 1;
	struct cli_conn c;
	cJSON *doc = NULL;
	uint8_t mask;
	char bad[16];
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		if (opt == 'h') {
			fputs(cli__subscribe_usage, stdout);
			return CLI_OK;
		} else if (opt == OPT_STATES) {
			states = optarg;
		} else if (opt == OPT_TRIG) {
			trig = optarg;
		} else if (opt == OPT_CONTACT) {
			contact = optarg;
		} else if (opt == OPT_SEV) {
			sev = strtoul(optarg, &end, 10);
			if (optarg[0] < '1' || optarg[0] > '5' || *end != '\0' || sev > 5)
				return cli_usage_err("subscribe", "--min-severity must be 1 to 5");
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("subscribe", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("subscribe", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_check_states("subscribe", states)) != 0)
		return rc;
	if (trig != NULL && tj_triggers_parse(trig, &mask, bad) != 0)
		return cli_usage_err("subscribe",
		                     "'%s' is not a trigger; use T1 to T7, e.g. --triggers T1,T3", bad);
	if (contact != NULL && (strlen(contact) != 64 || strspn(contact, "0123456789abcdefABCDEF") != 64))
		return cli_usage_err("subscribe",
		                     "--contact must be a public key: 64 hex digits (`tejido id`)");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	cli_args_str(&args, "states", states);
	cli_args_uint(&args, "min_severity", sev);
	cli_args_str(&args, "triggers", trig);
	cli_args_str(&args, "contact", contact);
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	rc = cli_json_call(&c, ctx, "subscribe", &args, NULL, NULL, &doc);
	if (rc == CLI_OK && ctx->json)
		rc = cli_print_json(doc);
	else if (rc == CLI_OK)
		printf("subscribed: states %s, severity >= %lu, triggers %s\n",
		       states != NULL ? states : "all", sev, trig != NULL ? trig : "T1-T7");
	cJSON_Delete(doc);
	cli_conn_close(&c);
	return rc;
}
