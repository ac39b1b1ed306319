/*
 * `tejido add`: incidents from the interactive form, from flags, or from a
 * JSON file (one object or an array). All three build the JSON form and go
 * through tj_incident_from_json(), the one mapping. Every incident is
 * validated and encoded before anything is sent, so invalid input stores
 * nothing; arrays are sent with add_batch in chunks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "cli_add.h"
#include "tj_circle.h"
#include "tj_control.h"
#include "tj_keys.h"

static const char cli__add_usage[] =
    "usage: tejido add [--lang es|en] [--json-out]                 (interactive form on a terminal)\n"
    "       tejido add --json FILE|- [--json-out]                 (one incident object or an array)\n"
    "       tejido add --date D --state S --act TYPE ... [flags]  (one incident from flags)\n\n"
    "Flags (codes as listed by `tejido vocab`; repeatable ones marked *):\n"
    "  --date YYYY-MM-DD     when it happened (YYYY-MM or YYYY with a coarser --precision)\n"
    "  --end YYYY-MM-DD      end of a date range (--precision range)\n"
    "  --precision P         day, month, year, range, estimate (default: day)\n"
    "  --state NN            INEGI state code (`tejido vocab state`)\n"
    "  --municipality NNNNN  INEGI municipality code (`tejido vocab municipality NN`)\n"
    "  --place-type T        where it happened\n"
    "  --residence-state NN, --residence-municipality NNNNN   where the victim lives\n"
    "  --victim KV *         ref=...,unit=...,role=...,gender=...,age_band=...,traits=a+b,causes=a+b\n"
    "  --aggressor KV *      category=...,type=...,level=...,involvement=...\n"
    "  --act TYPE[:V[:A]] *  an act against victim V (default 0) by aggressor A (default 0 when\n"
    "                        there is an aggressor; `-` for none)\n"
    "  --protection STATUS   --risk LEVEL   --measure M *   --failed M *\n"
    "  --source TYPE         --reliability R   --verification V   --severity 1-5 (override)\n"
    "  case face (names and text; sealed for this organization only):\n"
    "  --victim-name NAME *  --contact TEXT *  --exact-place TEXT  --consent C *\n"
    "  --case-readers ORG:KEY,...  also seal the case face to these organizations' keys\n"
    "                        (`tejido id` on their node; later: `tejido share`), and/or to\n"
    "                        one circle: circle:NAME (`tejido circle list`)\n"
    "  --summary-readers circle:NAME  seal the summary to that circle instead of the whole\n"
    "                        network (alerts and statistics then come from its members only)\n"
    "  --narrative TEXT      --narrative-file FILE|-   (flags are visible to other local users\n"
    "                        in `ps`: prefer the form or --json for names and narratives)\n\n"
    "Output: the new incident's id and severity; --json prints the results as JSON.\n"
    "Exit 3 means the input was invalid and nothing was stored.\n";

enum {
	CLI_A_JSONIN = CLI_OPT_FIRST_FREE,
	CLI_A_DATE,
	CLI_A_END,
	CLI_A_PRECISION,
	CLI_A_STATE,
	CLI_A_MUNI,
	CLI_A_PLACE,
	CLI_A_RSTATE,
	CLI_A_RMUNI,
	CLI_A_VICTIM,
	CLI_A_AGGRESSOR,
	CLI_A_ACT,
	CLI_A_PROTECTION,
	CLI_A_RISK,
	CLI_A_MEASURE,
	CLI_A_FAILED,
	CLI_A_SOURCE,
	CLI_A_RELIABILITY,
	CLI_A_VERIFICATION,
	CLI_A_SEVERITY,
	CLI_A_VNAME,
	CLI_A_CONTACT,
	CLI_A_NARRATIVE,
	CLI_A_NARRATIVE_FILE,
	CLI_A_PLACE_EXACT,
	CLI_A_CONSENT,
	CLI_A_CASE_READERS,
	CLI_A_SUMMARY_READERS,
};

/* --case-readers: sealed slots on each case record, besides this node's (node/tj_share.h). */
static struct {
	uint8_t keys[15][32];
	uint32_t n;
} cli__case_readers;

/* circle:NAME of --case-readers / --summary-readers (node/tj_circle.h); "" for none. */
static struct {
	char case_name[65];
	char summary_name[65];
} cli__circles;

static const struct option cli__add_opts[] = {
    {"data", required_argument, NULL, CLI_OPT_DATA},
    {"lang", required_argument, NULL, CLI_OPT_LANG},
    {"json-out", no_argument, NULL, CLI_OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"json", required_argument, NULL, CLI_A_JSONIN},
    {"date", required_argument, NULL, CLI_A_DATE},
    {"end", required_argument, NULL, CLI_A_END},
    {"precision", required_argument, NULL, CLI_A_PRECISION},
    {"state", required_argument, NULL, CLI_A_STATE},
    {"municipality", required_argument, NULL, CLI_A_MUNI},
    {"place-type", required_argument, NULL, CLI_A_PLACE},
    {"residence-state", required_argument, NULL, CLI_A_RSTATE},
    {"residence-municipality", required_argument, NULL, CLI_A_RMUNI},
    {"victim", required_argument, NULL, CLI_A_VICTIM},
    {"aggressor", required_argument, NULL, CLI_A_AGGRESSOR},
    {"act", required_argument, NULL, CLI_A_ACT},
    {"protection", required_argument, NULL, CLI_A_PROTECTION},
    {"risk", required_argument, NULL, CLI_A_RISK},
    {"measure", required_argument, NULL, CLI_A_MEASURE},
    {"failed", required_argument, NULL, CLI_A_FAILED},
    {"source", required_argument, NULL, CLI_A_SOURCE},
    {"reliability", required_argument, NULL, CLI_A_RELIABILITY},
    {"verification", required_argument, NULL, CLI_A_VERIFICATION},
    {"severity", required_argument, NULL, CLI_A_SEVERITY},
    {"victim-name", required_argument, NULL, CLI_A_VNAME},
    {"contact", required_argument, NULL, CLI_A_CONTACT},
    {"narrative", required_argument, NULL, CLI_A_NARRATIVE},
    {"narrative-file", required_argument, NULL, CLI_A_NARRATIVE_FILE},
    {"exact-place", required_argument, NULL, CLI_A_PLACE_EXACT},
    {"consent", required_argument, NULL, CLI_A_CONSENT},
    {"case-readers", required_argument, NULL, CLI_A_CASE_READERS},
    {"summary-readers", required_argument, NULL, CLI_A_SUMMARY_READERS},
    {NULL, 0, NULL, 0},
};

/* Input files hold at most this much JSON (thousands of incidents). */
#define CLI_JSON_IN_MAX_BYTES (64u * 1024u * 1024u)
/* add_batch: at most 1000 items and a request under the control socket's limit. */
#define CLI_BATCH_MAX_ITEMS 1000u
#define CLI_BATCH_MAX_BYTES (TJ_CTL_REQUEST_MAX_BYTES - 4096u)

/* ---- the flags' JSON document ---------------------------------------------------------- */

/* "a" / "a+b" / "a,b" into an array of strings. */
static cJSON *cli__list(const char *s, const char *seps)
{
	cJSON *arr = cJSON_CreateArray();
	const char *p = s;

	while (arr != NULL && *p != '\0') {
		size_t n = strcspn(p, seps);
		if (n > 0) {
			char *item = strndup(p, n);
			cJSON *str = item != NULL ? cJSON_CreateString(item) : NULL;
			free(item);
			if (str == NULL || !cJSON_AddItemToArray(arr, str)) {
				cJSON_Delete(str);
				cJSON_Delete(arr);
				return NULL;
			}
		}
		p += n;
		if (*p != '\0')
			p++;
	}
	return arr;
}

/* Appends the codes of a repeatable option (each may itself be a comma list). */
static int cli__append_codes(cJSON *parent, const char *key, const char *value)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(parent, key);
	cJSON *more = cli__list(value, ",");
	cJSON *it;

	if (more == NULL)
		return -ENOMEM;
	if (arr == NULL) {
		if (!cJSON_AddItemToObject(parent, key, more)) {
			cJSON_Delete(more);
			return -ENOMEM;
		}
		return 0;
	}
	while ((it = cJSON_DetachItemFromArray(more, 0)) != NULL)
		cJSON_AddItemToArray(arr, it);
	cJSON_Delete(more);
	return 0;
}

/* "k=v,k=v" for --victim and --aggressor. keys maps an accepted key to its JSON key. */
struct cli__kv_key {
	const char *flag;
	const char *json;
	bool list;
};

static const struct cli__kv_key cli__victim_keys[] = {
    {"ref", "ref", false},
    {"unit", "unit", false},
    {"role", "role", false},
    {"gender", "gender", false},
    {"age_band", "age_band", false},
    {"age", "age_band", false},
    {"traits", "traits", true},
    {"causes", "defended_causes", true},
    {"defended_causes", "defended_causes", true},
    {NULL, NULL, false},
};

static const struct cli__kv_key cli__aggressor_keys[] = {
    {"category", "category", false},       {"type", "type", false}, {"level", "level", false},
    {"involvement", "involvement", false}, {NULL, NULL, false},
};

static int cli__kv_one(cJSON *obj, const struct cli__kv_key *keys, const char *flag, const char *pair,
                       size_t n)
{
	const char *eq = memchr(pair, '=', n);
	size_t i, klen;
	char *val;
	cJSON *item;

	if (eq == NULL)
		return cli_usage_err("add", "--%s: '%.*s' is not key=value", flag, (int)n, pair);
	klen = (size_t)(eq - pair);
	for (i = 0; keys[i].flag != NULL; i++)
		if (strlen(keys[i].flag) == klen && memcmp(keys[i].flag, pair, klen) == 0)
			break;
	if (keys[i].flag == NULL)
		return cli_usage_err("add", "--%s: unknown key '%.*s'", flag, (int)klen, pair);
	if ((val = strndup(eq + 1, n - klen - 1)) == NULL)
		return CLI_FAIL;
	item = keys[i].list ? cli__list(val, "+") : cJSON_CreateString(val);
	free(val);
	cJSON_DeleteItemFromObjectCaseSensitive(obj, keys[i].json);
	if (item == NULL || !cJSON_AddItemToObject(obj, keys[i].json, item)) {
		cJSON_Delete(item);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int cli__kv_object(cJSON *arr, const struct cli__kv_key *keys, const char *flag, const char *s)
{
	cJSON *obj = cJSON_CreateObject();
	int rc = CLI_OK;

	if (obj == NULL || !cJSON_AddItemToArray(arr, obj)) {
		cJSON_Delete(obj);
		return CLI_FAIL;
	}
	while (rc == CLI_OK && *s != '\0') {
		size_t n = strcspn(s, ",");
		if (n > 0)
			rc = cli__kv_one(obj, keys, flag, s, n);
		s += n;
		if (*s == ',')
			s++;
	}
	return rc;
}

/* --act TYPE[:V[:A]], resolved once every --aggressor is known. */
static int cli__act(cJSON *acts, const char *s, bool have_aggressor)
{
	char type[TJ_CODE_MAX];
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	long v = 0, a = have_aggressor ? 0 : -1;
	size_t tlen = c1 != NULL ? (size_t)(c1 - s) : strlen(s);
	char *end;
	cJSON *o;

	if (tlen == 0 || tlen >= sizeof(type))
		return cli_usage_err("add", "--act: '%s' is not TYPE[:VICTIM[:AGGRESSOR]]", s);
	memcpy(type, s, tlen);
	type[tlen] = '\0';
	if (c1 != NULL) {
		v = strtol(c1 + 1, &end, 10);
		if (end == c1 + 1 || (*end != '\0' && *end != ':') || v < 0 || v >= TJ_INC_VICTIMS_MAX)
			return cli_usage_err("add", "--act: victim index in '%s' is not a number 0-%d", s,
			                     TJ_INC_VICTIMS_MAX - 1);
	}
	if (c2 != NULL && strcmp(c2 + 1, "-") == 0) {
		a = -1;
	} else if (c2 != NULL) {
		a = strtol(c2 + 1, &end, 10);
		if (end == c2 + 1 || *end != '\0' || a < 0 || a >= TJ_INC_AGGRESSORS_MAX)
			return cli_usage_err("add",
			                     "--act: aggressor index in '%s' is not a number 0-%d or -", s,
			                     TJ_INC_AGGRESSORS_MAX - 1);
	}
	o = cJSON_CreateObject();
	if (o == NULL || !cJSON_AddItemToArray(acts, o))
		return CLI_FAIL;
	if (cJSON_AddStringToObject(o, "type", type) == NULL ||
	    cJSON_AddNumberToObject(o, "victim", (double)v) == NULL)
		return CLI_FAIL;
	if (a >= 0 && cJSON_AddNumberToObject(o, "aggressor", (double)a) == NULL)
		return CLI_FAIL;
	return CLI_OK;
}

/* The object at doc[key], created on first use. */
static cJSON *cli__obj(cJSON *doc, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (o == NULL)
		o = cJSON_AddObjectToObject(doc, key);
	return o;
}

static cJSON *cli__arr(cJSON *doc, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (o == NULL)
		o = cJSON_AddArrayToObject(doc, key);
	return o;
}

static int cli__set_str(cJSON *doc, const char *obj, const char *key, const char *value)
{
	cJSON *o = obj != NULL ? cli__obj(doc, obj) : doc;

	if (o == NULL)
		return CLI_FAIL;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	return cJSON_AddStringToObject(o, key, value) != NULL ? CLI_OK : CLI_FAIL;
}

static int cli__narrative_file(cJSON *doc, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc = cli_read_file(path, TJ_INC_TEXT_MAX_BYTES * 4, &text, &len);

	if (rc == -EFBIG) {
		cli_err("--narrative-file: %s is larger than %u bytes", path, TJ_INC_TEXT_MAX_BYTES);
		return CLI_INVALID;
	}
	if (rc != 0) {
		cli_err("--narrative-file: cannot read %s: %s", path, strerror(-rc));
		return CLI_FAIL;
	}
	rc = cli__set_str(doc, "case", "narrative", text);
	sodium_memzero(text, len);
	free(text);
	return rc;
}

/* One flag into the document; acts wait in act_args until the aggressors are known. */
static int cli__flag(cJSON *doc, int opt, const char *arg, struct cli_add_args *a)
{
	char *end;
	long sev;

	switch (opt) {
	case CLI_A_DATE:
		return cli__set_str(doc, "occurred", "start", arg);
	case CLI_A_END:
		return cli__set_str(doc, "occurred", "end", arg);
	case CLI_A_PRECISION:
		return cli__set_str(doc, "occurred", "precision", arg);
	case CLI_A_STATE:
		return cli__set_str(doc, "location", "state", arg);
	case CLI_A_MUNI:
		return cli__set_str(doc, "location", "municipality", arg);
	case CLI_A_PLACE:
		return cli__set_str(doc, "location", "place_type", arg);
	case CLI_A_RSTATE:
		return cli__set_str(doc, "residence", "state", arg);
	case CLI_A_RMUNI:
		return cli__set_str(doc, "residence", "municipality", arg);
	case CLI_A_VICTIM:
		return cli__kv_object(cli__arr(doc, "victims"), cli__victim_keys, "victim", arg);
	case CLI_A_AGGRESSOR:
		return cli__kv_object(cli__arr(doc, "aggressors"), cli__aggressor_keys, "aggressor", arg);
	case CLI_A_ACT:
		if (a->n_acts >= TJ_INC_ACTS_MAX)
			return cli_usage_err("add", "at most %d --act flags", TJ_INC_ACTS_MAX);
		a->acts[a->n_acts++] = arg;
		return CLI_OK;
	case CLI_A_PROTECTION:
		return cli__set_str(doc, "protection", "status", arg);
	case CLI_A_RISK:
		return cli__set_str(doc, "protection", "risk_level", arg);
	case CLI_A_MEASURE:
		return cli__append_codes(cli__obj(doc, "protection"), "measures", arg) ? CLI_FAIL : 0;
	case CLI_A_FAILED:
		return cli__append_codes(cli__obj(doc, "protection"), "failed", arg) ? CLI_FAIL : 0;
	case CLI_A_SOURCE:
		return cli__set_str(doc, "source", "type", arg);
	case CLI_A_RELIABILITY:
		return cli__set_str(doc, "source", "reliability", arg);
	case CLI_A_VERIFICATION:
		return cli__set_str(doc, NULL, "verification", arg);
	case CLI_A_SEVERITY:
		sev = strtol(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || sev < 1 || sev > 5)
			return cli_usage_err("add", "--severity: '%s' is not a number from 1 to 5", arg);
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "severity");
		return cJSON_AddNumberToObject(doc, "severity", (double)sev) != NULL ? CLI_OK : CLI_FAIL;
	case CLI_A_VNAME:
		return cJSON_AddItemToArray(cli__arr(cli__obj(doc, "case"), "victim_names"),
		                            cJSON_CreateString(arg))
		           ? CLI_OK
		           : CLI_FAIL;
	case CLI_A_CONTACT:
		return cJSON_AddItemToArray(cli__arr(cli__obj(doc, "case"), "contacts"),
		                            cJSON_CreateString(arg))
		           ? CLI_OK
		           : CLI_FAIL;
	case CLI_A_NARRATIVE:
		return cli__set_str(doc, "case", "narrative", arg);
	case CLI_A_NARRATIVE_FILE:
		return cli__narrative_file(doc, arg);
	case CLI_A_PLACE_EXACT:
		return cli__set_str(doc, "case", "exact_place", arg);
	case CLI_A_CONSENT:
		return cli__append_codes(cli__obj(doc, "case"), "consent", arg) ? CLI_FAIL : 0;
	default:
		return cli_usage_err("add", "bad option");
	}
}

static int cli__finish_flags(cJSON *doc, const struct cli_add_args *a)
{
	cJSON *aggr = cJSON_GetObjectItemCaseSensitive(doc, "aggressors");
	bool have_aggr = cJSON_GetArraySize(aggr) > 0;
	cJSON *occ = cli__obj(doc, "occurred");
	cJSON *acts;
	uint32_t i;
	int rc;

	if (occ != NULL && cJSON_GetObjectItemCaseSensitive(occ, "precision") == NULL &&
	    cJSON_AddStringToObject(occ, "precision", "day") == NULL)
		return CLI_FAIL;
	if (a->n_acts == 0)
		return CLI_OK; /* validation names the missing acts */
	if ((acts = cli__arr(doc, "acts")) == NULL)
		return CLI_FAIL;
	for (i = 0; i < a->n_acts; i++)
		if ((rc = cli__act(acts, a->acts[i], have_aggr)) != CLI_OK)
			return rc;
	return CLI_OK;
}

static int cli__parse(struct cli_ctx *ctx, int argc, char **argv, struct cli_add_args *a)
{
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", cli__add_opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__add_usage, stdout);
			return -1;
		}
		if (cli_common_opt(ctx, opt, optarg) == 0)
			continue;
		if (opt == CLI_A_JSONIN) {
			a->json_path = optarg;
			continue;
		}
		if (opt == CLI_A_CASE_READERS) {
			char rest[2048];
			if ((rc = cli_readers_split("add", optarg, rest, sizeof(rest),
			                            cli__circles.case_name)) != CLI_OK ||
			    (rest[0] != '\0' && (rc = cli_parse_readers("add", rest, cli__case_readers.keys,
			                                                &cli__case_readers.n)) != CLI_OK))
				return rc;
			continue;
		}
		if (opt == CLI_A_SUMMARY_READERS) {
			char rest[2048];
			if ((rc = cli_readers_split("add", optarg, rest, sizeof(rest),
			                            cli__circles.summary_name)) != CLI_OK)
				return rc;
			if (rest[0] != '\0' || cli__circles.summary_name[0] == '\0')
				return cli_usage_err(
				    "add", "--summary-readers takes one circle:NAME: the summary is read "
				           "by the network or by one circle");
			continue;
		}
		if (opt == '?' || opt < CLI_A_DATE)
			return cli_usage_err("add", "bad option");
		a->n_flags++;
		if (a->doc == NULL && (a->doc = cJSON_CreateObject()) == NULL)
			return CLI_FAIL;
		if ((rc = cli__flag(a->doc, opt, optarg, a)) != CLI_OK)
			return rc;
	}
	if (optind < argc)
		return cli_usage_err("add", "unexpected argument '%s'", argv[optind]);
	if (a->json_path != NULL && a->n_flags > 0)
		return cli_usage_err("add", "give either --json FILE or incident flags, not both");
	return a->n_flags > 0 ? cli__finish_flags(a->doc, a) : CLI_OK;
}

/* ---- validation and encoding ---------------------------------------------------------- */

void cli_add_batch_free(struct cli_add_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->items[i].summary);
		if (b->items[i].kase != NULL)
			sodium_memzero(b->items[i].kase, b->items[i].case_len);
		free(b->items[i].kase);
	}
	free(b->items);
	memset(b, 0, sizeof(*b));
}

static int cli__encode(const struct tj_incident_summary *s, const struct tj_incident_case *c,
                       struct cli_add_item *it)
{
	static const uint8_t zero_id[32];
	uint8_t *buf = malloc(TJ_INC_BODY_MAX_BYTES);
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	rc = tj_incident_summary_encode(s, buf, TJ_INC_BODY_MAX_BYTES, &it->summary_len);
	if (rc == 0 && (it->summary = malloc(it->summary_len)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		memcpy(it->summary, buf, it->summary_len);
	if (rc == 0 && c != NULL)
		rc = tj_incident_case_encode(c, zero_id, buf, TJ_INC_BODY_MAX_BYTES, &it->case_len);
	if (rc == 0 && c != NULL && (it->kase = malloc(it->case_len)) == NULL)
		rc = -ENOMEM;
	if (rc == 0 && c != NULL)
		memcpy(it->kase, buf, it->case_len);
	sodium_memzero(buf, TJ_INC_BODY_MAX_BYTES);
	free(buf);
	return rc;
}

/* One incident's JSON text through the schema; on invalid input prints why. */
static int cli__one(const struct cli_ctx *ctx, const char *json, size_t len, size_t index, bool many,
                    struct cli_add_item *it)
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	int rc;

	memset(&verr, 0, sizeof(verr));
	rc = tj_incident_from_json(json, len, ctx->lang, cli_now_ms(), &s, &c, &verr);
	if (rc != 0) {
		const char *m = verr.message[0] != '\0' ? verr.message : tj_strerror(rc);
		if (many)
			cli_err("incident %zu: %s", index, m);
		else
			cli_err("%s", m);
		/* Whatever the schema refused (it says why) is the input's fault; the rest is ours. */
		rc = verr.message[0] != '\0' || rc == TJ_ELIMIT || cli_exit_for(rc) == CLI_INVALID
		         ? CLI_INVALID
		         : CLI_FAIL;
		goto out;
	}
	if ((rc = cli__encode(s, c, it)) != 0) {
		cli_err("incident %zu: cannot encode it: %s", index, tj_strerror(rc));
		rc = rc == TJ_ELIMIT || rc == TJ_ENOSPC ? CLI_INVALID : CLI_FAIL;
	}
out:
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return rc;
}

/* Every incident of a document (an object or an array of objects), all or nothing. */
int cli_add_prepare(const struct cli_ctx *ctx, const cJSON *doc, struct cli_add_batch *b)
{
	bool many = cJSON_IsArray(doc);
	size_t n = many ? (size_t)cJSON_GetArraySize(doc) : 1, i;
	const cJSON *item = many ? doc->child : doc;
	int rc = CLI_OK;

	if (n == 0 || (!many && !cJSON_IsObject(doc))) {
		cli_err("the input holds no incident: give one JSON object or an array of them");
		return CLI_INVALID;
	}
	if ((b->items = calloc(n, sizeof(*b->items))) == NULL)
		return CLI_FAIL;
	for (i = 0; i < n && rc == CLI_OK; i++, item = item->next) {
		char *text = cJSON_PrintUnformatted(item);
		if (text == NULL)
			return CLI_FAIL;
		b->n = i + 1;
		rc = cli__one(ctx, text, strlen(text), i, many, &b->items[i]);
		sodium_memzero(text, strlen(text));
		cJSON_free(text);
	}
	b->many = many;
	return rc;
}

/* ---- sending ---------------------------------------------------------------------------- */

/* Keys of one item's map: summary, case, and case_readers / circles when there are any. */
static uint32_t cli__item_keys(const struct cli_add_item *it)
{
	return 2u + (it->kase != NULL && cli__case_readers.n > 0) +
	       (it->kase != NULL && cli__circles.case_name[0] != '\0') +
	       (cli__circles.summary_name[0] != '\0');
}

static void cli__put_item(struct tj_mp_writer *w, const struct cli_add_item *it)
{
	tj_mp_put_cstr(w, "summary");
	tj_mp_put_bin(w, it->summary, it->summary_len);
	tj_mp_put_cstr(w, "case");
	if (it->kase != NULL)
		tj_mp_put_bin(w, it->kase, it->case_len);
	else
		tj_mp_put_nil(w);
	if (it->kase != NULL && cli__case_readers.n > 0) {
		tj_mp_put_cstr(w, "case_readers");
		tj_mp_put_bin(w, cli__case_readers.keys, 32u * cli__case_readers.n);
	}
	if (it->kase != NULL && cli__circles.case_name[0] != '\0') {
		tj_mp_put_cstr(w, "case_circle");
		tj_mp_put_cstr(w, cli__circles.case_name);
	}
	if (cli__circles.summary_name[0] != '\0') {
		tj_mp_put_cstr(w, "summary_circle");
		tj_mp_put_cstr(w, cli__circles.summary_name);
	}
}

/* Copies one add result ({id, case_id, severity, recorded_at}) into it. */
static int cli__take_result(const msgpack_object *r, struct cli_add_item *it)
{
	const uint8_t *id;

	if (!cli_obj_bin(cli_map_get(r, "id"), 32, &id))
		return TJ_EPROTO;
	memcpy(it->id, id, 32);
	if (!cli_obj_uint(cli_map_get(r, "severity"), &it->severity))
		it->severity = 0;
	if (!cli_obj_uint(cli_map_get(r, "recorded_at"), &it->recorded_at))
		it->recorded_at = 0;
	it->done = true;
	return 0;
}

static int cli__send_one(struct cli_conn *c, struct cli_add_item *it)
{
	struct tj_mp_writer w;
	size_t len;
	int rc;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1 + cli__item_keys(it));
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add");
	cli__put_item(&w, it);
	if (tj_mp_writer_finish(&w, &len) != 0) {
		cli_err("an incident is too large for the control socket");
		return CLI_INVALID;
	}
	if ((rc = cli_call_or_report(c, len, "add")) != CLI_OK)
		return rc;
	if (cli__take_result(&c->obj, it) != 0) {
		cli_err("add: the node's reply has no id");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* How many items from `from` fit one add_batch request. */
static size_t cli__chunk(const struct cli_add_batch *b, size_t from)
{
	/* Items with case readers carry one more key: the node's request limits allow fewer of them. */
	size_t extra = (cli__case_readers.n > 0) + (cli__circles.case_name[0] != '\0') +
	               (cli__circles.summary_name[0] != '\0');
	size_t max_items = extra == 0   ? CLI_BATCH_MAX_ITEMS
	                   : extra == 1 ? CLI_BATCH_MAX_ITEMS / 2
	                                : CLI_BATCH_MAX_ITEMS / 4;
	size_t bytes = 64, n = 0;

	while (from + n < b->n && n < max_items) {
		/* + keys and bin headers, + the case readers (sent with every item that has a case) */
		size_t sz = b->items[from + n].summary_len + b->items[from + n].case_len + 48 +
		            32u * cli__case_readers.n + 2u * (16u + TJ_CIRCLE_NAME_MAX);
		if (n > 0 && bytes + sz > CLI_BATCH_MAX_BYTES)
			break;
		bytes += sz;
		n++;
	}
	return n;
}

/*
 * The node stores the items it accepts and reports each one it refused
 * ({err, msg}); every id is recorded so that the stored ones are printed.
 */
static int cli__batch_results(struct cli_conn *c, struct cli_add_batch *b, size_t from, size_t n)
{
	const msgpack_object *res = cli_map_get(&c->obj, "results");
	int rc = CLI_OK;
	size_t i;

	if (res == NULL || res->type != MSGPACK_OBJECT_ARRAY || res->via.array.size != n) {
		cli_err("add_batch: the node's reply does not list %zu results", n);
		return CLI_FAIL;
	}
	for (i = 0; i < n; i++) {
		const msgpack_object *r = &res->via.array.ptr[i];
		const msgpack_object *e = cli_map_get(r, "err");
		const char *msg = "";
		uint32_t ml = 0;
		int err;
		if (cli__take_result(r, &b->items[from + i]) == 0)
			continue;
		(void)cli_obj_str(cli_map_get(r, "msg"), &msg, &ml);
		err = e != NULL && e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && e->via.i64 >= INT32_MIN
		          ? (int)e->via.i64
		          : TJ_EPROTO;
		cli_err("incident %zu was not stored: %.*s", from + i, (int)ml, msg);
		if (rc == CLI_OK || rc == CLI_INVALID)
			rc = cli_exit_for_node(err);
	}
	return rc;
}

/* Sends one chunk; *unsupported is set when the node does not know add_batch. */
static int cli__send_chunk(struct cli_conn *c, struct cli_add_batch *b, size_t from, size_t n,
                           bool *unsupported)
{
	struct tj_mp_writer w;
	const char *msg = NULL;
	uint32_t ml = 0;
	size_t len, i;
	int node_err = 0, rc;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "add_batch");
	tj_mp_put_cstr(&w, "items");
	tj_mp_put_array(&w, (uint32_t)n);
	for (i = 0; i < n; i++) {
		tj_mp_put_map(&w, cli__item_keys(&b->items[from + i]));
		cli__put_item(&w, &b->items[from + i]);
	}
	if (tj_mp_writer_finish(&w, &len) != 0) {
		cli_err("add_batch: request too large");
		return CLI_FAIL;
	}
	rc = cli_call(c, len, &node_err, &msg, &ml);
	if (rc != 0 && (node_err == TJ_EUNSUPPORTED || node_err == TJ_EPROTO) && from == 0) {
		*unsupported = true;
		return CLI_OK;
	}
	if (rc != 0 && node_err != 0) {
		cli_err("add_batch: %.*s (%s); incidents %zu to %zu were not stored", (int)ml, msg,
		        tj_errname(node_err), from, from + n - 1);
		return cli_exit_for_node(node_err);
	}
	if (rc != 0) {
		/* The reply is lost, not necessarily the incidents: say so rather than guess. */
		cli_err("add_batch: %s; incidents %zu to %zu may or may not be stored: check `tejido list` "
		        "before adding them again",
		        tj_strerror(rc), from, from + n - 1);
		return CLI_FAIL;
	}
	return cli__batch_results(c, b, from, n);
}

int cli_add_send(struct cli_conn *c, struct cli_add_batch *b)
{
	bool unsupported = false;
	size_t from = 0, n;
	int rc = CLI_OK;

	if (b->n == 1)
		return cli__send_one(c, &b->items[0]);
	while (rc == CLI_OK && from < b->n && !unsupported) {
		n = cli__chunk(b, from);
		rc = cli__send_chunk(c, b, from, n, &unsupported);
		if (!unsupported)
			from += n;
	}
	/* An older node without add_batch: one request per incident. */
	for (; rc == CLI_OK && unsupported && from < b->n; from++)
		rc = cli__send_one(c, &b->items[from]);
	return rc;
}

/* ---- output ----------------------------------------------------------------------------- */

static cJSON *cli__result_json(const struct cli_add_item *it)
{
	cJSON *o = cJSON_CreateObject();
	char hex[65];

	if (o == NULL)
		return NULL;
	tj_hex(it->id, 32, hex);
	cJSON_AddStringToObject(o, "id", hex);
	cJSON_AddNumberToObject(o, "severity", (double)it->severity);
	cJSON_AddNumberToObject(o, "recorded_at", (double)it->recorded_at);
	return o;
}

/* Prints what was stored, also after a failure part-way (those ids are stored). */
void cli_add_print(const struct cli_ctx *ctx, const struct cli_add_batch *b)
{
	cJSON *arr = NULL;
	size_t i;

	if (ctx->json && b->many)
		arr = cJSON_CreateArray();
	for (i = 0; i < b->n; i++) {
		char hex[65];
		if (!b->items[i].done)
			continue;
		if (ctx->json && arr != NULL) {
			cJSON_AddItemToArray(arr, cli__result_json(&b->items[i]));
		} else if (ctx->json) {
			cJSON *o = cli__result_json(&b->items[i]);
			(void)cli_print_json(o);
			cJSON_Delete(o);
		} else {
			tj_hex(b->items[i].id, 32, hex);
			printf("%s severity %u\n", hex, (unsigned)b->items[i].severity);
		}
	}
	if (arr != NULL)
		(void)cli_print_json(arr);
	cJSON_Delete(arr);
	fflush(stdout);
}

/* ---- the command ------------------------------------------------------------------------- */

static int cli__read_doc(const char *path, cJSON **doc)
{
	char *text = NULL;
	size_t len = 0;
	const char *where = NULL;
	size_t skip;
	int rc = cli_read_file(path, CLI_JSON_IN_MAX_BYTES, &text, &len);

	if (rc != 0) {
		cli_err("--json: cannot read %s: %s", strcmp(path, "-") == 0 ? "standard input" : path,
		        rc == -EFBIG ? "larger than 64 MiB; split it" : strerror(-rc));
		return rc == -EFBIG ? CLI_INVALID : CLI_FAIL;
	}
	/* Editors on Windows often start UTF-8 files with a byte-order mark: skip it. */
	skip = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	/* The length includes the NUL that cli_read_file() appends: cJSON wants to see it to reject trailing
	 * bytes. */
	*doc = cJSON_ParseWithLengthOpts(text + skip, len - skip + 1, &where, true);
	if (*doc == NULL) {
		size_t off = where != NULL && where >= text ? (size_t)(where - text) : 0;
		size_t line = 1, i;
		for (i = 0; i < off && i < len; i++)
			line += text[i] == '\n';
		cli_err("--json: %s is not valid JSON (near line %zu, byte %zu); nothing was stored",
		        strcmp(path, "-") == 0 ? "standard input" : path, line, off);
		rc = CLI_INVALID;
	}
	sodium_memzero(text, len);
	free(text);
	return rc;
}

int cli_cmd_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_add_args a;
	struct cli_add_batch b;
	struct cli_conn c = {.fd = -1};
	cJSON *doc = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if ((rc = cli__parse(ctx, argc, argv, &a)) != CLI_OK) {
		rc = rc < 0 ? CLI_OK : rc;
		goto out;
	}
	if ((rc = cli_resolve_datadir(ctx, NULL)) != 0)
		goto out;
	if (a.json_path != NULL) {
		rc = cli__read_doc(a.json_path, &doc);
	} else if (a.doc != NULL) {
		doc = a.doc;
		a.doc = NULL;
	} else if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		/* Connect first: better to learn there is no node before filling the form. */
		if ((rc = cli_connect(ctx, &c)) == CLI_OK) {
			cli_conn_close(&c);
			rc = cli_form_run(ctx, &doc);
		}
	} else {
		rc = cli_usage_err(
		    "add", "no incident given: use flags, --json FILE, or run on a terminal for the form");
	}
	if (rc == CLI_OK)
		rc = cli_add_prepare(ctx, doc, &b);
	if (rc == CLI_OK && c.fd < 0)
		rc = cli_connect(ctx, &c);
	/* Circles by name: an unknown one is refused before anything is sent. */
	if (rc == CLI_OK && cli__circles.case_name[0] != '\0')
		rc = cli_circle_usable(&c, cli__circles.case_name, "--case-readers");
	if (rc == CLI_OK && cli__circles.summary_name[0] != '\0')
		rc = cli_circle_usable(&c, cli__circles.summary_name, "--summary-readers");
	if (rc == CLI_OK)
		rc = cli_add_send(&c, &b);
	cli_add_print(ctx, &b);
out:
	cli_conn_close(&c);
	cli_add_batch_free(&b);
	cJSON_Delete(a.doc);
	cJSON_Delete(doc);
	return rc;
}
