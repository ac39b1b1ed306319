/* Paging through the node's incidents: shared by `list`, `show` and `export`. */
#ifndef TJ_CLI_LIST_H
#define TJ_CLI_LIST_H

#include "cli.h"

struct cli_list_filter {
	const char *state; /* INEGI state code or NULL */
	const char *since; /* "YYYY-MM-DD" or NULL */
	const char *act;   /* act type code or NULL */
	uint64_t limit;    /* 0 = all */
};

/* Called once per incident; the item is valid during the call only. Nonzero stops. */
typedef int (*cli_list_fn)(const struct cli_item *it, void *arg);

/* Usage errors for bad filters (CLI_USAGE), checked before any request. */
int cli_list_filter_check(const struct cli_list_filter *f, const char *cmd);
/* Pages through the node (1,000 per request) calling fn; returns a CLI exit code. */
int cli_list_each(const struct cli_ctx *ctx, const struct cli_list_filter *f, cli_list_fn fn, void *arg);
void cli_list_header(enum tj_lang lang);
void cli_list_row(const struct cli_item *it, enum tj_lang lang);
/* CLI_USAGE unless idarg is 8..64 hex digits. */
int cli_show_check_id(const char *idarg);
/* Fetches one incident with its case face (when readable) on an open connection. */
int cli_show_fetch(struct cli_conn *c, const char *idarg, struct cli_item *it);

#endif
