/* What `alerts`, `alert`, `subscribe`, `query` and `stats` share: requests of string arguments, JSON replies.
 */
#ifndef TJ_CLI_ALERT_H
#define TJ_CLI_ALERT_H

#include "cli.h"

#define CLI_ARGS_MAX 40

/* A request's arguments: strings, unsigned numbers and booleans, by name. */
struct cli_args {
	size_t n;
	struct {
		const char *key;
		const char *str; /* NULL for a number or a bool */
		uint64_t num;
		int is_bool;
	} a[CLI_ARGS_MAX];
};

void cli_args_str(struct cli_args *args, const char *key, const char *val); /* NULL val: skipped */
void cli_args_uint(struct cli_args *args, const char *key, uint64_t val);
void cli_args_bool(struct cli_args *args, const char *key, int val);

/*
 * Sends {op, args..., lang} on c and parses the reply's "json" into *doc
 * (caller frees with tj_incident_json_free). *extra gets the reply's uint
 * extra_key when given. Prints any failure; returns a CLI exit code.
 */
int cli_json_call(struct cli_conn *c, const struct cli_ctx *ctx, const char *op, const struct cli_args *args,
                  const char *extra_key, uint64_t *extra, cJSON **doc);

/* Usage checks shared by the commands: 0 or CLI_USAGE (message printed). */
int cli_check_states(const char *cmd, const char *list);
int cli_check_date(const char *cmd, const char *what, const char *date);
int cli_check_range(const char *cmd, const char *from, const char *to);

int cli_cmd_alerts(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_alert(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_subscribe(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_query(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_stats(struct cli_ctx *ctx, int argc, char **argv);

#endif
