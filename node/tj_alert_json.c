/* An alert as JSON: codes, their labels, ids in hex, acks by fingerprint. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <sodium.h>

#include "tj_alert.h"
#include "tj_keys.h"

static void tj__add_hex(cJSON *o, const char *key, const uint8_t *p, size_t n)
{
	char hex[65];

	sodium_bin2hex(hex, sizeof(hex), p, n);
	cJSON_AddStringToObject(o, key, hex);
}

static void tj__add_time(cJSON *o, const char *key, uint64_t ms)
{
	time_t sec = (time_t)(ms / 1000u);
	struct tm tm;
	char buf[32];

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, key, buf);
}

/* A day since 1970 as "YYYY-MM-DD". */
static void tj__add_day(cJSON *o, const char *key, uint32_t day)
{
	time_t sec = (time_t)day * 86400;
	struct tm tm;
	char buf[16];

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	cJSON_AddStringToObject(o, key, buf);
}

/* "states": [...] and "states_label": [...] from a code set. */
static void tj__add_set(cJSON *o, const char *key, const char *vocab, const struct tj_code_set *s,
                        enum tj_lang lang)
{
	cJSON *codes = cJSON_AddArrayToObject(o, key), *labels;
	char lkey[48];

	snprintf(lkey, sizeof(lkey), "%s_label", key);
	labels = cJSON_AddArrayToObject(o, lkey);
	for (uint32_t i = 0; i < s->n; i++) {
		const char *label = s->v[i];
		if (vocab == NULL) {
			const struct tj_state_info *st = tj_inegi_state(s->v[i]);
			label = st != NULL ? st->name : s->v[i];
		} else {
			label = tj_vocab_label(vocab, s->v[i], lang);
		}
		cJSON_AddItemToArray(codes, cJSON_CreateString(s->v[i]));
		cJSON_AddItemToArray(labels, cJSON_CreateString(label));
	}
}

static cJSON *tj__ack_json(const struct tj_alert_ack *k, enum tj_lang lang)
{
	cJSON *o = cJSON_CreateObject();
	char fp[TJ_FINGERPRINT_CHARS];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "kind", k->kind == TJ_KIND_ALERT_RESOLVE ? "resolve" : "ack");
	tj_fingerprint(k->author, fp);
	cJSON_AddStringToObject(o, "by", fp);
	tj__add_hex(o, "by_key", k->author, 32);
	tj__add_time(o, "at", k->ts_ms);
	cJSON_AddStringToObject(o, "code", k->code);
	cJSON_AddStringToObject(o, "code_label", tj_alert_code_label(k->code, lang == TJ_LANG_ES));
	return o;
}

cJSON *tj_alert_to_json(const struct tj_alert *a, enum tj_lang lang)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (o == NULL)
		return NULL;
	tj__add_hex(o, "id", a->id, 32);
	cJSON_AddStringToObject(o, "trigger", tj_trigger_name(a->trigger));
	cJSON_AddStringToObject(o, "priority", tj_priority_name(a->priority));
	cJSON_AddStringToObject(o, "status", tj_alert_status_name(a->status));
	cJSON_AddNumberToObject(o, "severity", a->severity);
	cJSON_AddBoolToObject(o, "protection", a->protection);
	tj__add_set(o, "states", NULL, &a->states, lang);
	tj__add_set(o, "acts", "act_type", &a->acts, lang);
	tj__add_set(o, "aggressor_types", "aggressor_type", &a->aggressors, lang);
	tj__add_set(o, "roles", "role", &a->roles, lang);
	tj__add_set(o, "genders", "gender", &a->genders, lang);
	arr = cJSON_AddArrayToObject(o, "incidents");
	for (uint32_t i = 0; arr != NULL && i < a->n_incidents; i++) {
		char hex[65];
		sodium_bin2hex(hex, sizeof(hex), a->incidents[i], 32);
		cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
	}
	cJSON_AddNumberToObject(o, "count", a->count > a->n_incidents ? a->count : a->n_incidents);
	if (a->last_day > 0)
		tj__add_day(o, "latest", a->last_day);
	tj__add_time(o, "created", a->created_ms);
	tj__add_time(o, "raised", a->raised_ms);
	cJSON_AddNumberToObject(o, "raises", a->raises);
	cJSON_AddNumberToObject(o, "updates", a->updates);
	if (a->event_kind != 0)
		cJSON_AddStringToObject(o, "event_kind", tj_alert_event_kind_name(a->event_kind));
	arr = cJSON_AddArrayToObject(o, "acks");
	for (uint32_t i = 0; arr != NULL && i < a->n_acks; i++)
		cJSON_AddItemToArray(arr, tj__ack_json(&a->acks[i], lang));
	return o;
}
