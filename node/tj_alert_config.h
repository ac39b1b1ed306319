/*
 * The [alerts] section of tejido.conf (tj_config.h): thresholds of the rules
 * (tj_alert.h) and the alert hook (tj_hook.h).
 *
 *   [alerts]
 *   t1_min_severity  = 4      ; T1: a new incident of at least this severity
 *   t3_min_incidents = 3      ; T3: this many incidents in one municipality...
 *   t3_window_days   = 14     ;     ...within this many days
 *   t4_window_days   = 90     ; T4: the same victim again within this many days
 *   t5_min_victims   = 2      ; T5: this many victims of one aggressor type in a state...
 *   t5_window_days   = 30     ;     ...within this many days
 *   t7_reraise_s     = 21600  ; T7: an open disappearance or detention is raised again this often
 *   alert_hook       = /usr/local/bin/notify   ; gets each new subscribed alert as JSON on stdin
 *   hook_timeout_s   = 10     ; a hook running longer is killed, and retried with backoff
 */
#ifndef TJ_ALERT_CONFIG_H
#define TJ_ALERT_CONFIG_H

#include <stdint.h>

#include "tj_error.h"

#define TJ_ALERT_HOOK_PATH_MAX 256

/* Thresholds: the [alerts] section of tejido.conf (tj_config.h). */
struct tj_alert_config {
	uint32_t t1_min_severity;          /* 4 */
	uint32_t t3_min_incidents;         /* 3 */
	uint32_t t3_window_days;           /* 14 */
	uint32_t t4_window_days;           /* 90 */
	uint32_t t5_min_victims;           /* 2 */
	uint32_t t5_window_days;           /* 30 */
	uint32_t t7_reraise_s;             /* 21600: an open T7 alert is raised again every 6 hours */
	char hook[TJ_ALERT_HOOK_PATH_MAX]; /* alert_hook: "" = none */
	uint32_t hook_timeout_s;           /* 10 */
};

/* Defaults, and one "key = value" of [alerts]: TJ_ECONFIG with why (static text). */
void tj_alert_config_defaults(struct tj_alert_config *c);
TJ_MUST_CHECK int tj_alert_config_set(struct tj_alert_config *c, const char *key, const char *value,
                                      const char **why);
/* The thresholds the rules use from now on (copied). The defaults until called. */
void tj_alert_configure(const struct tj_alert_config *c);
const struct tj_alert_config *tj_alert_config_current(void);

#endif
