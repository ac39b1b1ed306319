/*
 * The `tejido` command-line tool: what its commands share.
 *
 * Only tools/ may exit(): commands return an exit code (enum cli_exit) and
 * main() exits with it, so every command still runs its own cleanup path.
 */
#ifndef TJ_CLI_H
#define TJ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>
#include <msgpack.h>

#include "tj_error.h"
#include "tj_incident.h"
#include "tj_keyfile.h"
#include "tj_vocab.h"

/* Exit codes: documented in `tejido --help` and README.md. */
enum cli_exit {
	CLI_OK = 0,
	CLI_FAIL = 1,       /* anything else went wrong */
	CLI_USAGE = 2,      /* bad command line */
	CLI_INVALID = 3,    /* invalid incident input: nothing was stored */
	CLI_NONODE = 4,     /* no node is running in the data directory */
	CLI_PASSPHRASE = 5, /* wrong passphrase */
	CLI_NOTFOUND = 6,   /* no such incident */
	CLI_WIPED = 7,      /* this node's keys were wiped (`tejido wipe`) */
};

#define CLI_PATH_MAX 4096
#define CLI_PASS_MAX 1024
/* Bounded waits: the control socket's send/receive timeout and node start/stop. */
#define CLI_IO_TIMEOUT_S 300
#define CLI_START_TIMEOUT_S 60
#define CLI_STOP_TIMEOUT_S 60

/* What every command knows: where the node lives and which language to speak. */
struct cli_ctx {
	char datadir[CLI_PATH_MAX];
	enum tj_lang lang;
	bool json;
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};

/* cli_util.c: options every command accepts */
enum { CLI_OPT_DATA = 1000, CLI_OPT_LANG, CLI_OPT_HELP, CLI_OPT_JSON, CLI_OPT_FIRST_FREE };
/* Handles --data, --lang, --json for any command; returns -1 when opt is not one of them. */
int cli_common_opt(struct cli_ctx *ctx, int opt, const char *arg);
/* Resolves the data directory (flag, TEJIDO_DATA, XDG default). */
int cli_resolve_datadir(struct cli_ctx *ctx, const char *flag);
int cli_parse_lang(const char *s, enum tj_lang *lang);
void cli_default_lang(struct cli_ctx *ctx);
/* Prints "tejido: ..." to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error and the hint to run --help; returns CLI_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Exit code for a negative error of a local operation. */
int cli_exit_for(int err);
uint64_t cli_now_ms(void);
/* Reads a whole file (or stdin for "-") into a NUL-terminated malloc'd buffer, at most max bytes. */
int cli_read_file(const char *path, size_t max, char **out, size_t *len);
/* Writes buf to path atomically (temp file, fsync, rename) with mode 0600. */
int cli_write_file_0600(const char *path, const void *buf, size_t len);
int cli_path(char out[CLI_PATH_MAX], const char *dir, const char *name);
/* Prints a cJSON document on stdout (formatted). Returns CLI_OK or CLI_FAIL. */
int cli_print_json(const cJSON *doc);
/* Display width of a UTF-8 string (code points), and padded printing. */
size_t cli_utf8_width(const char *s);
void cli_print_padded(const char *s, size_t width);

/* cli_pass.c: passphrases, in sodium_malloc memory, wiped and freed by cli_pass_free. */
struct cli_pass {
	char *buf;
	size_t len;
};
/* From TEJIDO_PASSPHRASE_FILE, else asked on the terminal (twice when confirm). */
int cli_pass_get(struct cli_pass *p, const char *prompt, bool confirm);
void cli_pass_free(struct cli_pass *p);
/* Asks the passphrase and unlocks DIR/key; prints the error and returns an exit code. */
int cli_unlock(const struct cli_ctx *ctx, struct tj_unlocked **u);

/* cli_rpc.c: the control socket */
struct cli_conn {
	int fd;
	uint8_t *req;   /* TJ_CTL_REQUEST_MAX_BYTES */
	uint8_t *reply; /* the last reply's bytes */
	size_t reply_len;
	msgpack_zone zone;
	bool zone_live;
	msgpack_object obj; /* the last reply, borrowed from reply and zone */
};
/* Connects; on failure prints what to do and returns CLI_NONODE or CLI_FAIL. */
int cli_connect(const struct cli_ctx *ctx, struct cli_conn *c);
/* Quiet variant for polling: returns 0 or the negative error. */
int cli_connect_quiet(const char *datadir, struct cli_conn *c);
void cli_conn_close(struct cli_conn *c);
/*
 * Sends the request of req_len bytes in c->req; on success c->obj is the reply map.
 * Returns 0, or a negative error; *node_err / msg are set when the node said ok: false.
 */
int cli_call(struct cli_conn *c, size_t req_len, int *node_err, const char **msg, uint32_t *msg_len);
/* cli_call, printing any failure; returns a CLI exit code. */
int cli_call_or_report(struct cli_conn *c, size_t req_len, const char *what);
/*
 * After a listing, a query, statistics or alerts: when the node still has
 * records from its peers to index and evaluate (status: peers.indexing_backlog,
 * e.g. during a catch-up), says so on stderr, in ctx->lang; stdout and the
 * exit status are untouched. Reuses c (its last reply is replaced).
 */
void cli_note_backlog(struct cli_conn *c, const struct cli_ctx *ctx);
const msgpack_object *cli_map_get(const msgpack_object *map, const char *key);
bool cli_obj_bin(const msgpack_object *o, size_t n, const uint8_t **p);
bool cli_obj_uint(const msgpack_object *o, uint64_t *v);
bool cli_obj_str(const msgpack_object *o, const char **s, uint32_t *len);
/* A reply value as JSON (bins as hex, "ok" keys dropped); depth-bounded. */
cJSON *cli_obj_to_json(const msgpack_object *o, unsigned depth);
/* Prints a scalar reply value for people. */
void cli_obj_print(const msgpack_object *o);
/* Exit code for an error the node reported. */
int cli_exit_for_node(int node_err);

/* cli_render.c: an incident for people */
struct cli_item {
	struct tj_incident_meta meta;
	uint8_t severity;
	struct tj_incident_summary *sum;
	struct tj_incident_case *kase; /* NULL unless shown with its case */
	char case_status[16];          /* "readable", "not_shared", "none" or "" */
};
/* Fills it from one list item or show reply map; returns 0 or a negative error. */
int cli_item_from_reply(const msgpack_object *m, bool with_case, struct cli_item *it);
void cli_item_clear(struct cli_item *it);
void cli_render_incident(const struct cli_item *it, enum tj_lang lang);
cJSON *cli_item_json(const struct cli_item *it, enum tj_lang lang);
const char *cli_state_name(const char *code);
const char *cli_municipality_name(const char *code);
void cli_date_range(const struct tj_incident_summary *s, char out[32]);

/* The commands */
int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_id(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_node(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_add(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_list(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_show(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_vocab(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_peer(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_member(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_wipe(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_unlock(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_retract(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_share(struct cli_ctx *ctx, int argc, char **argv);
int cli_cmd_circle(struct cli_ctx *ctx, int argc, char **argv);

/* cli_circle.c: "circle:NAME" in a readers list: the name (at most one) into circle (65 bytes), the
 * other entries into rest; a usage error for cmd otherwise. */
int cli_readers_split(const char *cmd, const char *arg, char *rest, size_t cap, char circle[65]);
/* Is name a circle this node is a member of (`circle list`)? Prints why not (for flag) and returns
 * CLI_NOTFOUND or CLI_USAGE; CLI_OK when it is. */
int cli_circle_usable(struct cli_conn *c, const char *name, const char *flag);

/* cli_retract.c: prints what the node knows of a retraction of the record idarg
 * (full id); CLI_NOTFOUND, silently, when it knows none. */
int cli_retract_show(struct cli_ctx *ctx, struct cli_conn *c, const char *idarg);
/* "org:KEY,org:KEY" (the org label optional; at most 15) into readers; a usage error for cmd otherwise. */
int cli_parse_readers(const char *cmd, const char *arg, uint8_t (*readers)[32], uint32_t *n);
/* cli_wipe.c: CLI_OK, or prints why a wiped node cannot unlock and returns CLI_WIPED. */
int cli_wipe_refuse(const char *datadir);

/* cli_form.c: the interactive form; fills *doc with one incident's JSON form. */
int cli_form_run(struct cli_ctx *ctx, cJSON **doc);

#endif
