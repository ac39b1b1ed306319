/* Alerts: configuration, names and codes, and the code sets alerts carry. */
#include "tj_alert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tj_alert_config tj__cfg;
static bool tj__cfg_set;

void tj_alert_config_defaults(struct tj_alert_config *c)
{
	memset(c, 0, sizeof(*c));
	c->t1_min_severity = 4;
	c->t3_min_incidents = 3;
	c->t3_window_days = 14;
	c->t4_window_days = 90;
	c->t5_min_victims = 2;
	c->t5_window_days = 30;
	c->t7_reraise_s = 6 * 3600;
	c->hook_timeout_s = 10;
}

static int tj__u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end = NULL;
	unsigned long x;

	if (v[0] < '0' || v[0] > '9')
		return TJ_ECONFIG;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return TJ_ECONFIG;
	*out = (uint32_t)x;
	return 0;
}

int tj_alert_config_set(struct tj_alert_config *c, const char *key, const char *value, const char **why)
{
	static const struct {
		const char *key;
		size_t off;
		uint32_t min, max;
		const char *why;
	} keys[] = {
	    {"t1_min_severity", offsetof(struct tj_alert_config, t1_min_severity), 1, 5, "must be 1 to 5"},
	    {"t3_min_incidents", offsetof(struct tj_alert_config, t3_min_incidents), 2, 1000,
	     "must be 2 to 1000"},
	    {"t3_window_days", offsetof(struct tj_alert_config, t3_window_days), 1, 3650,
	     "must be 1 to 3650"},
	    {"t4_window_days", offsetof(struct tj_alert_config, t4_window_days), 1, 3650,
	     "must be 1 to 3650"},
	    {"t5_min_victims", offsetof(struct tj_alert_config, t5_min_victims), 2, 1000,
	     "must be 2 to 1000"},
	    {"t5_window_days", offsetof(struct tj_alert_config, t5_window_days), 1, 3650,
	     "must be 1 to 3650"},
	    {"t7_reraise_s", offsetof(struct tj_alert_config, t7_reraise_s), 60, 30 * 86400,
	     "must be 60 to 2592000 seconds"},
	    {"hook_timeout_s", offsetof(struct tj_alert_config, hook_timeout_s), 1, 3600,
	     "must be 1 to 3600"},
	};

	*why = NULL;
	if (strcmp(key, "alert_hook") == 0) {
		if (value[0] != '\0' && value[0] != '/') {
			*why = "alert_hook must be an absolute path to a program";
			return TJ_ECONFIG;
		}
		if (strlen(value) >= sizeof(c->hook)) {
			*why = "alert_hook is too long";
			return TJ_ECONFIG;
		}
		snprintf(c->hook, sizeof(c->hook), "%s", value);
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		if (tj__u32(value, keys[i].min, keys[i].max, (uint32_t *)(void *)((char *)c + keys[i].off)) !=
		    0) {
			*why = keys[i].why;
			return TJ_ECONFIG;
		}
		return 0;
	}
	*why = "unknown key in [alerts]:";
	return TJ_ECONFIG;
}

void tj_alert_configure(const struct tj_alert_config *c)
{
	tj__cfg = *c;
	tj__cfg_set = true;
}

const struct tj_alert_config *tj_alert_config_current(void)
{
	if (!tj__cfg_set) {
		tj_alert_config_defaults(&tj__cfg);
		tj__cfg_set = true;
	}
	return &tj__cfg;
}

static const char *const tj__triggers[] = {"", "T1", "T2", "T3", "T4", "T5", "T6", "T7"};
static const char *const tj__prios[] = {"", "low", "medium", "high", "critical"};
static const char *const tj__statuses[] = {"open", "acknowledged", "resolved"};
static const char *const tj__event_kinds[] = {"", "raise", "reraise", "update"};

const char *tj_alert_event_kind_name(uint8_t kind)
{
	return kind >= 1 && kind <= 3 ? tj__event_kinds[kind] : "";
}

static int tj__name_parse(const char *const *names, size_t n, size_t first, const char *s, uint8_t *out)
{
	for (size_t i = first; i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	return TJ_ESCHEMA;
}

int tj_trigger_parse(const char *s, uint8_t *trigger)
{
	return tj__name_parse(tj__triggers, 8, 1, s, trigger);
}

const char *tj_trigger_name(uint8_t trigger)
{
	return trigger >= 1 && trigger <= 7 ? tj__triggers[trigger] : "?";
}

int tj_priority_parse(const char *s, uint8_t *prio)
{
	return tj__name_parse(tj__prios, 5, 1, s, prio);
}

const char *tj_priority_name(uint8_t prio)
{
	return prio >= 1 && prio <= 4 ? tj__prios[prio] : "?";
}

int tj_alert_status_parse(const char *s, uint8_t *status)
{
	return tj__name_parse(tj__statuses, 3, 0, s, status);
}

const char *tj_alert_status_name(uint8_t status)
{
	return status <= 2 ? tj__statuses[status] : "?";
}

int tj_triggers_parse(const char *list, uint8_t *mask, char bad[16])
{
	const char *p = list;
	char one[8];
	uint8_t t;

	*mask = 0;
	if (bad != NULL)
		bad[0] = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(one))
			goto bad;
		memcpy(one, p, len);
		one[len] = '\0';
		if (tj_trigger_parse(one, &t) != 0)
			goto bad;
		*mask |= (uint8_t)(1u << t);
		p += len + (p[len] == ',');
		continue;
	bad:
		if (bad != NULL)
			snprintf(bad, 16, "%.*s", (int)(len < 15 ? len : 15), p);
		return TJ_ESCHEMA;
	}
	return *mask != 0 ? 0 : TJ_ESCHEMA;
}

/* Ack notes and resolve outcomes: codes of this module, with labels. */
static const struct {
	const char *code, *es, *en;
	bool outcome;
} tj__codes[] = {
    {"responding", "Respondiendo", "Responding", false},
    {"verifying", "Verificando", "Verifying", false},
    {"contacted", "Contacto establecido", "Contacted", false},
    {"victim_safe", "Víctima a salvo", "Victim safe", true},
    {"relocated", "Reubicación", "Relocated", true},
    {"released", "Liberación", "Released", true},
    {"located_alive", "Localizada con vida", "Located alive", true},
    {"located_dead", "Localizada sin vida", "Located dead", true},
    {"measures_reinforced", "Medidas reforzadas", "Measures reinforced", true},
    {"referred", "Canalizado", "Referred", true},
    {"false_alarm", "Falsa alarma", "False alarm", true},
    {"duplicate", "Duplicado", "Duplicate", true},
    {"no_further_action", "Sin más acciones", "No further action", true},
};

static bool tj__code_valid(const char *code, bool outcome)
{
	for (size_t i = 0; i < sizeof(tj__codes) / sizeof(tj__codes[0]); i++)
		if (tj__codes[i].outcome == outcome && strcmp(tj__codes[i].code, code) == 0)
			return true;
	return false;
}

bool tj_alert_note_valid(const char *code)
{
	return tj__code_valid(code, false);
}

bool tj_alert_outcome_valid(const char *code)
{
	return tj__code_valid(code, true);
}

const char *tj_alert_code_label(const char *code, bool spanish)
{
	for (size_t i = 0; i < sizeof(tj__codes) / sizeof(tj__codes[0]); i++)
		if (strcmp(tj__codes[i].code, code) == 0)
			return spanish ? tj__codes[i].es : tj__codes[i].en;
	return code;
}

static bool tj__set_has(const struct tj_code_set *set, const char *code)
{
	for (uint32_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], code) == 0)
			return true;
	return false;
}

bool tj_alert_matches(const struct tj_alert_filter *f, const struct tj_alert *a)
{
	bool state = f->states.n == 0;

	if (a->withdrawn)
		return false;
	for (uint32_t i = 0; i < a->states.n && !state; i++)
		state = tj__set_has(&f->states, a->states.v[i]);
	if (!state || a->priority < f->min_priority || a->severity < f->min_severity)
		return false;
	if (f->status >= 0 && a->status != f->status)
		return false;
	return f->triggers == 0 || (f->triggers & (1u << a->trigger)) != 0;
}

bool tj_alert_subscribed(const struct tj_subscription *subs, size_t n_subs, const struct tj_alert *a)
{
	struct tj_alert_filter f;

	if (a->withdrawn || a->event_kind == TJ_EVENT_UPDATE)
		return false; /* the hook gets new alerts and re-raises */
	if (n_subs == 0)
		return true;
	for (size_t i = 0; i < n_subs; i++) {
		memset(&f, 0, sizeof(f));
		f.states = subs[i].states;
		f.min_severity = subs[i].min_severity;
		f.status = -1;
		f.triggers = subs[i].triggers;
		if (tj_alert_matches(&f, a))
			return true;
	}
	return false;
}
