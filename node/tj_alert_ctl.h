/*
 * Control ops of alerts, queries and statistics, for the dispatch table in
 * tj_ctl_ops.c (protocol in tj_control.h). Each takes the request map
 * (already through tj_mp_check) and always fills *out with a reply unless
 * memory runs out. node may be NULL (fuzzing): arguments are still checked.
 *
 *   alerts        {states?: "20,12", min_priority?: str, status?: str, triggers?: "T1,T3",
 *                  min_severity?: uint, after?: uint (event), limit?: uint, lang?: "es"|"en"}
 *                 -> {json: "[alert...]", last: uint (newest event seen)}
 *   alert_respond {kind: "ack"|"resolve", id: hex (8-64 digits), code: str}
 *                 -> {json: "{alert, record}"}
 *   subscribe     {states?: str, min_severity?: uint, triggers?: str, contact?: hex 64}
 *                 -> {json: "[subscription...]"}
 *   query         {<field>?: "code,code" for each tj_query_fields() name, since?, until?: date,
 *                  limit?: uint, lang?} -> {json: "[incident...]", matched: uint}
 *   stats         {by: "gender,aggressor", state?: "20", from?, to?: "YYYY-MM", per_100k?: bool,
 *                  lang?} -> {json: "{table}"}
 */
#ifndef TJ_ALERT_CTL_H
#define TJ_ALERT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_ctl_server.h"
#include "tj_query.h"

TJ_MUST_CHECK int tj_alert_ctl_list(struct tj_node *node, const uint8_t *req, size_t len,
                                    struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_alert_ctl_respond(struct tj_node *node, const uint8_t *req, size_t len,
                                       struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_alert_ctl_subscribe(struct tj_node *node, const uint8_t *req, size_t len,
                                         struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_stats_ctl(struct tj_node *node, const uint8_t *req, size_t len,
                               struct tj_ctl_reply *out);
TJ_MUST_CHECK int tj_query_ctl(struct tj_node *node, const uint8_t *req, size_t len,
                               struct tj_ctl_reply *out);
/* The query of a request; on a bad argument *failed is set and *out holds the error reply. */
TJ_MUST_CHECK int tj_query_ctl_parse(const uint8_t *req, size_t len, struct tj_query *q,
                                     struct tj_ctl_reply *out, bool *failed);

#endif
