/* `tejido add` internals shared with the interactive form and the tests' helpers. */
#ifndef TJ_CLI_ADD_H
#define TJ_CLI_ADD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* The flags of one incident, while they are being parsed. */
struct cli_add_args {
	const char *json_path;
	cJSON *doc; /* built from the flags; owned */
	uint32_t n_flags;
	uint32_t n_acts;
	const char *acts[TJ_INC_ACTS_MAX]; /* borrowed from argv */
};

/* One validated incident, encoded; the case body is wiped when freed. */
struct cli_add_item {
	uint8_t *summary;
	size_t summary_len;
	uint8_t *kase; /* NULL when there is no case face */
	size_t case_len;
	bool done; /* the node stored it: id and severity are set */
	uint8_t id[32];
	uint64_t severity;
	uint64_t recorded_at;
};

struct cli_add_batch {
	struct cli_add_item *items;
	size_t n;
	bool many; /* the input was an array */
};

/* Validates and encodes every incident of doc; prints why when invalid (CLI_INVALID). */
int cli_add_prepare(const struct cli_ctx *ctx, const cJSON *doc, struct cli_add_batch *b);
/* Sends them (add, or add_batch in chunks); returns a CLI exit code. */
int cli_add_send(struct cli_conn *c, struct cli_add_batch *b);
void cli_add_print(const struct cli_ctx *ctx, const struct cli_add_batch *b);
void cli_add_batch_free(struct cli_add_batch *b);

#endif
