/*
 * Control ops of alerts, queries and statistics (tj_alert_ctl.h). Arguments
 * are short strings and numbers, checked here again whatever the CLI checked;
 * results travel as one JSON document in the reply's "json" string, which the
 * CLI prints as it is (--json) or renders as a table.
 */
#include "tj_alert_ctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <sodium.h>

#include "tj_alert.h"
#include "tj_keys.h"
#include "tj_member.h"
#include "tj_peer.h"
#include "tj_query.h"
#include "tj_stats.h"

#define TJ__ARG_MAX 256
#define TJ__ALERTS_LIMIT_MAX 500u /* a page of alerts stays under the CLI's 1 MiB string limit */
#define TJ__QUERY_LIMIT_DEFAULT 100u
#define TJ__QUERY_LIMIT_MAX 200u /* a page's JSON stays under the CLI's 1 MiB string limit */
#define TJ__JSON_REPLY_MAX ((1u << 20) - 256u)

/* A string argument into out[TJ__ARG_MAX]; "" when absent. */
static int tj__arg_str(const uint8_t *req, size_t len, const char *key, char out[TJ__ARG_MAX])
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n;
	int rc = tj_ctl_arg(req, len, key, &r);

	out[0] = '\0';
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0 || (rc = tj_mp_read_str(&r, &s, &n)) != 0)
		return TJ_EMALFORMED;
	if (n >= TJ__ARG_MAX || memchr(s, '\0', n) != NULL)
		return TJ_ELIMIT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int tj__arg_uint(const uint8_t *req, size_t len, const char *key, uint64_t dflt, uint64_t *v)
{
	struct tj_mp_reader r;
	int rc = tj_ctl_arg(req, len, key, &r);

	*v = dflt;
	if (rc == TJ_ENOTFOUND)
		return 0;
	return rc != 0 || tj_mp_read_uint(&r, v) != 0 ? TJ_EMALFORMED : 0;
}

static enum tj_lang tj__arg_lang(const uint8_t *req, size_t len)
{
	char s[TJ__ARG_MAX];

	return tj__arg_str(req, len, "lang", s) == 0 && strcmp(s, "es") == 0 ? TJ_LANG_ES : TJ_LANG_EN;
}

/* {ok: true, json: str, [extra: uint]} with the document printed unformatted. */
static int tj__json_reply(const cJSON *doc, const char *extra_key, uint64_t extra, struct tj_ctl_reply *out)
{
	char *text = cJSON_PrintUnformatted(doc);
	struct tj_mp_writer w;
	size_t tlen, cap, len = 0;
	uint8_t *buf;

	if (text == NULL)
		return -ENOMEM;
	tlen = strlen(text);
	if (tlen > TJ__JSON_REPLY_MAX) {
		sodium_memzero(text, tlen);
		free(text);
		return tj_ctl_failf(out, TJ_ELIMIT,
		                    "the result is too large for one reply; narrow it or lower --limit");
	}
	cap = tlen + 128;
	if ((buf = malloc(cap)) == NULL) {
		free(text);
		return -ENOMEM;
	}
	tj_mp_writer_init(&w, buf + 4, cap - 4);
	tj_mp_put_map(&w, extra_key != NULL ? 3 : 2);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "json");
	tj_mp_put_str(&w, text, tlen);
	if (extra_key != NULL) {
		tj_mp_put_cstr(&w, extra_key);
		tj_mp_put_uint(&w, extra);
	}
	sodium_memzero(text, tlen);
	free(text);
	if (tj_mp_writer_finish(&w, &len) != 0) {
		free(buf);
		return -ENOMEM; /* cannot happen: cap holds the text and the keys */
	}
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	out->buf = buf;
	out->len = len + 4;
	return 0;
}

/* "20,12" into a set of valid INEGI state codes; the bad one in bad. */
int tj_alert_states_parse(const char *list, struct tj_code_set *set, char bad[TJ_CODE_MAX])
{
	const char *p = list;

	memset(set, 0, sizeof(*set));
	bad[0] = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		char code[TJ_CODE_MAX];
		if (len == 0 || len >= sizeof(code) || set->n == TJ_ALERT_CODES_MAX) {
			snprintf(bad, TJ_CODE_MAX, "%.*s",
			         (int)(len < TJ_CODE_MAX - 1 ? len : TJ_CODE_MAX - 1), p);
			return TJ_ESCHEMA;
		}
		memcpy(code, p, len);
		code[len] = '\0';
		if (tj_inegi_state(code) == NULL) {
			snprintf(bad, TJ_CODE_MAX, "%s", code);
			return TJ_ESCHEMA;
		}
		tj_code_set_add(set, code);
		p += len + (p[len] == ',');
	}
	return 0;
}

/* ---- alerts ------------------------------------------------------------------ */

static int tj__alerts_filter(const uint8_t *req, size_t len, struct tj_alert_filter *f,
                             struct tj_ctl_reply *out, bool *failed)
{
	char s[TJ__ARG_MAX], bad[TJ_CODE_MAX];
	uint64_t v;
	uint8_t u8;

	*failed = true;
	memset(f, 0, sizeof(*f));
	f->status = -1;
	if (tj__arg_str(req, len, "states", s) != 0 || tj_alert_states_parse(s, &f->states, bad) != 0)
		return tj_ctl_failf(out, TJ_ESCHEMA, "alerts: '%s' is not an INEGI state code (01 to 32)",
		                    bad);
	if (tj__arg_str(req, len, "min_priority", s) != 0 ||
	    (s[0] != '\0' && tj_priority_parse(s, &f->min_priority) != 0))
		return tj_ctl_failf(out, TJ_ESCHEMA,
		                    "alerts: priority must be low, medium, high or critical");
	if (tj__arg_str(req, len, "status", s) != 0 || (s[0] != '\0' && tj_alert_status_parse(s, &u8) != 0))
		return tj_ctl_failf(out, TJ_ESCHEMA, "alerts: status must be open, acknowledged or resolved");
	if (s[0] != '\0')
		f->status = u8;
	if (tj__arg_str(req, len, "triggers", s) != 0 ||
	    (s[0] != '\0' && tj_triggers_parse(s, &f->triggers, bad) != 0))
		return tj_ctl_failf(out, TJ_ESCHEMA, "alerts: '%s' is not a trigger; use T1 to T7", bad);
	if (tj__arg_uint(req, len, "min_severity", 0, &v) != 0 || v > 5)
		return tj_ctl_failf(out, TJ_ESCHEMA, "alerts: min_severity must be 1 to 5");
	f->min_severity = (uint8_t)v;
	if (tj__arg_uint(req, len, "after", 0, &f->after_event) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "alerts: 'after' must be an event number");
	*failed = false;
	return 0;
}

struct tj__alerts_out {
	cJSON *arr;
	enum tj_lang lang;
	struct tj_member_state *members; /* NULL when membership is unreadable */
};

/* Each acknowledgement gets "by_name": the member's name when membership gives one. */
static void tj__ack_names(const struct tj__alerts_out *o, const struct tj_alert *a, cJSON *j)
{
	cJSON *acks = cJSON_GetObjectItemCaseSensitive(j, "acks"), *k;
	uint32_t i = 0;

	cJSON_ArrayForEach(k, acks)
	{
		const struct tj_member *m = o->members != NULL && i < a->n_acks
		                                ? tj_member_find(o->members, a->acks[i].author)
		                                : NULL;
		if (m != NULL && m->name[0] != '\0')
			cJSON_AddStringToObject(k, "by_name", m->name);
		i++;
	}
}

static int tj__alerts_cb(void *ctx, const struct tj_alert *a, uint64_t event)
{
	struct tj__alerts_out *o = ctx;
	cJSON *j = tj_alert_to_json(a, o->lang);

	if (j == NULL)
		return -ENOMEM;
	tj__ack_names(o, a, j);
	cJSON_AddNumberToObject(j, "event", (double)event);
	cJSON_AddItemToArray(o->arr, j);
	return 0;
}

int tj_alert_ctl_list(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj__alerts_out o = {.lang = tj__arg_lang(req, len)};
	struct tj_alert_filter f;
	uint64_t limit, last = 0;
	bool failed;
	int rc = tj__alerts_filter(req, len, &f, out, &failed);

	if (failed)
		return rc;
	if (tj__arg_uint(req, len, "limit", 100, &limit) != 0 || limit == 0 || limit > TJ__ALERTS_LIMIT_MAX)
		return tj_ctl_failf(out, TJ_ESCHEMA, "alerts: limit must be 1 to %u", TJ__ALERTS_LIMIT_MAX);
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "alerts: the node is not open");
	if ((o.arr = cJSON_CreateArray()) == NULL)
		return -ENOMEM;
	if (tj_member_load(node->store, &o.members) != 0)
		o.members = NULL; /* names are a courtesy: fingerprints identify acks anyway */
	rc = tj_alert_list(node, &f, (uint32_t)limit, tj__alerts_cb, &o, &last);
	tj_member_state_free(o.members);
	if (rc == 0)
		rc = tj__json_reply(o.arr, "last", last, out);
	else
		rc = tj_ctl_failf(out, rc, "alerts: %s", tj_strerror(rc));
	cJSON_Delete(o.arr);
	return rc;
}

/* A full id (64 hex) or a unique prefix (8 or more). */
static int tj__alert_id_arg(struct tj_node *node, const char *hex, uint8_t id[32], struct tj_ctl_reply *out,
                            bool *failed)
{
	int rc = tj_alert_find(node, hex, id);

	*failed = rc != 0;
	if (rc == TJ_ENOTFOUND)
		return tj_ctl_failf(out, rc, "no alert %s here; see `tejido alerts`", hex);
	if (rc == TJ_EEXIST)
		return tj_ctl_failf(out, rc, "%s matches more than one alert; give more digits", hex);
	if (rc == TJ_EMALFORMED)
		return tj_ctl_failf(out, rc, "an alert id is 8 to 64 hex digits");
	if (rc != 0)
		return tj_ctl_failf(out, rc, "alert lookup failed: %s", tj_strerror(rc));
	return 0;
}

int tj_alert_ctl_respond(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	char kind_s[TJ__ARG_MAX], hex[TJ__ARG_MAX], code[TJ__ARG_MAX];
	uint8_t id[32], rec[32], kind;
	cJSON *doc;
	bool failed;
	int rc;

	if (tj__arg_str(req, len, "kind", kind_s) != 0 || tj__arg_str(req, len, "id", hex) != 0 ||
	    tj__arg_str(req, len, "code", code) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "alert_respond: needs kind, id and code strings");
	if (strcmp(kind_s, "ack") == 0)
		kind = TJ_KIND_ALERT_ACK;
	else if (strcmp(kind_s, "resolve") == 0)
		kind = TJ_KIND_ALERT_RESOLVE;
	else
		return tj_ctl_failf(out, TJ_EMALFORMED, "alert_respond: kind must be ack or resolve");
	if (!(kind == TJ_KIND_ALERT_ACK ? tj_alert_note_valid(code) : tj_alert_outcome_valid(code)))
		return tj_ctl_failf(out, TJ_ESCHEMA, "'%s' is not a valid %s", code,
		                    kind == TJ_KIND_ALERT_ACK ? "note code (responding, verifying, contacted)"
		                                              : "outcome; see `tejido alert resolve --help`");
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "alert_respond: the node is not open");
	if ((rc = tj__alert_id_arg(node, hex, id, out, &failed)) != 0 || failed)
		return rc;
	if ((rc = tj_alert_respond(node, kind, id, code, rec)) != 0)
		return tj_ctl_failf(out, rc, "the %s was not recorded: %s", kind_s, tj_strerror(rc));
	tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])rec, 1);
	if ((doc = cJSON_CreateObject()) == NULL)
		return -ENOMEM;
	tj_hex(id, 32, hex);
	cJSON_AddStringToObject(doc, "alert", hex);
	tj_hex(rec, 32, hex);
	cJSON_AddStringToObject(doc, "record", hex);
	rc = tj__json_reply(doc, NULL, 0, out);
	cJSON_Delete(doc);
	return rc;
}

/* ---- subscriptions ------------------------------------------------------------ */

int tj_alert_ctl_subscribe(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_subscription sub;
	char s[TJ__ARG_MAX], bad[TJ_CODE_MAX];
	uint64_t sev;
	cJSON *doc;
	int rc;

	memset(&sub, 0, sizeof(sub));
	if (tj__arg_str(req, len, "states", s) != 0 || tj_alert_states_parse(s, &sub.states, bad) != 0)
		return tj_ctl_failf(out, TJ_ESCHEMA, "subscribe: '%s' is not an INEGI state code (01 to 32)",
		                    bad);
	if (tj__arg_uint(req, len, "min_severity", 1, &sev) != 0 || sev < 1 || sev > 5)
		return tj_ctl_failf(out, TJ_ESCHEMA, "subscribe: min_severity must be 1 to 5");
	sub.min_severity = (uint8_t)sev;
	sub.triggers = TJ_TRIGGERS_ALL;
	if (tj__arg_str(req, len, "triggers", s) != 0 ||
	    (s[0] != '\0' && tj_triggers_parse(s, &sub.triggers, bad) != 0))
		return tj_ctl_failf(out, TJ_ESCHEMA, "subscribe: '%s' is not a trigger; use T1 to T7", bad);
	if (tj__arg_str(req, len, "contact", s) != 0 ||
	    (s[0] != '\0' && (strlen(s) != 64 || tj_unhex(s, sub.contact, 32) != 0)))
		return tj_ctl_failf(out, TJ_ESCHEMA,
		                    "subscribe: contact must be a public key (64 hex digits)");
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "subscribe: the node is not open");
	if (s[0] == '\0')
		memcpy(sub.contact, node->u->id->pk, 32); /* this node's own contact */
	if ((rc = tj_alert_subscribe(node, &sub)) != 0)
		return tj_ctl_failf(out, rc, "subscribe: %s", tj_strerror(rc));
	if ((doc = tj_alert_subscriptions_json(node)) == NULL)
		return -ENOMEM;
	rc = tj__json_reply(doc, NULL, 0, out);
	cJSON_Delete(doc);
	return rc;
}

/* ---- queries -------------------------------------------------------------------- */

static int tj__date_arg(const uint8_t *req, size_t len, const char *key, bool *has, int64_t *day, bool upper)
{
	char s[TJ__ARG_MAX];
	struct tj_date d;

	*has = false;
	if (tj__arg_str(req, len, key, s) != 0)
		return TJ_EMALFORMED;
	if (s[0] == '\0')
		return 0;
	if (tj_date_parse(s, &d) != 0)
		return TJ_ESCHEMA;
	*has = true;
	*day = tj_date_days(&d);
	if (upper && d.month == 0)
		d.month = 12;
	if (upper && d.day == 0) {
		/* The last day of a month or year given as an upper bound: the day before the next month. */
		struct tj_date next = {d.month == 12 ? d.year + 1 : d.year,
		                       (uint8_t)(d.month == 12 ? 1 : d.month + 1), 1};
		*day = tj_date_days(&next) - 1;
	}
	return *day < 0 ? TJ_ESCHEMA : 0;
}

/* Every queryable field given as an argument becomes a term. */
static int tj__query_terms(const uint8_t *req, size_t len, struct tj_query *q, struct tj_ctl_reply *out,
                           bool *failed)
{
	size_t nf;
	const struct tj_query_field *f = tj_query_fields(&nf);
	char s[TJ__ARG_MAX], bad[TJ_CODE_MAX];

	*failed = true;
	for (size_t i = 0; i < nf; i++) {
		if (tj__arg_str(req, len, f[i].name, s) != 0)
			return tj_ctl_failf(out, TJ_EMALFORMED, "query: '%s' must be a string of codes",
			                    f[i].name);
		if (s[0] == '\0')
			continue;
		if (tj_query_term_parse(f[i].name, s, &q->terms[q->n_terms], bad) != 0)
			return tj_ctl_failf(out, TJ_ESCHEMA,
			                    "query: '%s' is not a %s code; see `tejido vocab`", bad,
			                    f[i].name);
		q->n_terms++;
	}
	*failed = false;
	return 0;
}

int tj_query_ctl_parse(const uint8_t *req, size_t len, struct tj_query *q, struct tj_ctl_reply *out,
                       bool *failed)
{
	uint64_t limit;
	int rc;

	memset(q, 0, sizeof(*q));
	if ((rc = tj__query_terms(req, len, q, out, failed)) != 0 || *failed)
		return rc;
	*failed = true;
	if (tj__date_arg(req, len, "since", &q->has_since, &q->since_day, false) != 0 ||
	    tj__date_arg(req, len, "until", &q->has_until, &q->until_day, true) != 0)
		return tj_ctl_failf(out, TJ_ESCHEMA, "dates are YYYY-MM-DD, YYYY-MM or YYYY");
	if (q->has_since && q->has_until && q->until_day < q->since_day)
		return tj_ctl_failf(out, TJ_ESCHEMA,
		                    "the date range runs backwards: the start is after the end");
	if (tj__arg_uint(req, len, "limit", TJ__QUERY_LIMIT_DEFAULT, &limit) != 0 || limit == 0 ||
	    limit > TJ__QUERY_LIMIT_MAX)
		return tj_ctl_failf(out, TJ_ESCHEMA, "limit must be 1 to %u", TJ__QUERY_LIMIT_MAX);
	q->limit = (uint32_t)limit;
	if (tj__arg_uint(req, len, "offset", 0, &limit) != 0 || limit > TJ_QUERY_RESULTS_MAX)
		return tj_ctl_failf(out, TJ_ESCHEMA, "offset must be 0 to %u", TJ_QUERY_RESULTS_MAX);
	q->offset = (uint32_t)limit;
	*failed = false;
	return 0;
}

struct tj__query_out {
	cJSON *arr;
	enum tj_lang lang;
};

static int tj__query_cb(void *ctx, const struct tj_query_hit *hit)
{
	struct tj__query_out *o = ctx;
	struct tj_incident_meta meta;
	cJSON *j;

	memset(&meta, 0, sizeof(meta));
	memcpy(meta.id, hit->id, 32);
	memcpy(meta.author, hit->author, 32);
	meta.recorded_at_ms = hit->recorded_ms;
	if ((j = tj_incident_to_json(hit->s, NULL, &meta, o->lang)) == NULL)
		return -ENOMEM;
	cJSON_AddItemToArray(o->arr, j);
	return 0;
}

int tj_query_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj__query_out o = {.lang = tj__arg_lang(req, len)};
	struct tj_query *q = malloc(sizeof(*q));
	uint64_t matched = 0;
	bool failed;
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = tj_query_ctl_parse(req, len, q, out, &failed)) != 0 || failed)
		goto out;
	if (node == NULL) {
		rc = tj_ctl_failf(out, TJ_ESTATE, "query: the node is not open");
		goto out;
	}
	if ((o.arr = cJSON_CreateArray()) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = tj_query_run(node, q, tj__query_cb, &o, &matched);
	if (rc == 0)
		rc = tj__json_reply(o.arr, "matched", matched, out);
	else
		rc = tj_ctl_failf(out, rc, "query: %s", tj_strerror(rc));
out:
	tj_incident_json_free(o.arr);
	free(q);
	return rc;
}

/* ---- statistics ------------------------------------------------------------------- */

static int tj__arg_bool(const uint8_t *req, size_t len, const char *key, bool *v)
{
	struct tj_mp_reader r;
	int rc = tj_ctl_arg(req, len, key, &r);

	*v = false;
	if (rc == TJ_ENOTFOUND)
		return 0;
	return rc != 0 || tj_mp_read_bool(&r, v) != 0 ? TJ_EMALFORMED : 0;
}

static int tj__stats_parse(const uint8_t *req, size_t len, struct tj_stats_query *q, struct tj_ctl_reply *out,
                           bool *failed)
{
	char s[TJ__ARG_MAX], bad[24];

	*failed = true;
	memset(q, 0, sizeof(*q));
	if (tj__arg_str(req, len, "by", s) != 0 || tj_stats_dims_parse(s, q, bad) != 0)
		return tj_ctl_failf(
		    out, TJ_ESCHEMA,
		    "stats: '%s' is not a dimension; use one or two of gender, aggressor_type, "
		    "aggressor_level, state, month, act_type, cause, protection, failed",
		    bad);
	if (tj__arg_str(req, len, "state", s) != 0 || (s[0] != '\0' && tj_inegi_state(s) == NULL))
		return tj_ctl_failf(out, TJ_ESCHEMA, "stats: '%s' is not an INEGI state code (01 to 32)", s);
	memcpy(q->state, s, s[0] != '\0' ? 3 : 1); /* a valid state code is exactly 2 digits */
	if (tj__date_arg(req, len, "from", &q->has_from, &q->from_day, false) != 0 ||
	    tj__date_arg(req, len, "to", &q->has_to, &q->to_day, true) != 0)
		return tj_ctl_failf(out, TJ_ESCHEMA, "stats: dates are YYYY-MM, YYYY-MM-DD or YYYY");
	if (q->has_from && q->has_to && q->to_day < q->from_day)
		return tj_ctl_failf(out, TJ_ESCHEMA,
		                    "stats: the date range runs backwards: the start is after the end");
	*failed = false;
	return 0;
}

int tj_stats_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_stats_query q;
	struct tj_stats *st = NULL;
	bool failed, per_100k;
	cJSON *doc;
	int rc;

	if ((rc = tj__stats_parse(req, len, &q, out, &failed)) != 0 || failed)
		return rc;
	if (tj__arg_bool(req, len, "per_100k", &per_100k) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "stats: 'per_100k' must be a boolean");
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "stats: the node is not open");
	if ((rc = tj_stats_compute(node, &q, &st)) != 0)
		return tj_ctl_failf(out, rc, "stats: %s",
		                    rc == TJ_ELIMIT ? "a dimension has too many values; narrow the dates"
		                                    : tj_strerror(rc));
	doc = tj_stats_to_json(st, per_100k, tj__arg_lang(req, len));
	tj_stats_free(st);
	if (doc == NULL)
		return -ENOMEM;
	rc = tj__json_reply(doc, NULL, 0, out);
	cJSON_Delete(doc);
	return rc;
}
