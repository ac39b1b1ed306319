/*
 * `tejido retract ID --reason CODE` and `tejido share ID --with org:KEY,...`
 * on the running node (node/tj_retract.h, node/tj_share.h), and the part of
 * `tejido show` that tells a retracted record and who confirmed it.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_list.h"
#include "tj_control.h"
#include "tj_keys.h"
#include "tj_share.h"

static const char cli__retract_usage[] =
    "usage: tejido retract ID --reason error|duplicate|consent_withdrawn|safety|other\n\n"
    "  Retracts one of this node's records (an incident takes its case face with it):\n"
    "  every node deletes the body and keeps a tombstone so the record never comes back,\n"
    "  then confirms. `tejido show ID` (the full id) lists the nodes that confirmed.\n"
    "  Only the author can retract.\n";

static const char cli__share_usage[] =
    "usage: tejido share ID --with ORG:PUBLIC_KEY[,ORG:PUBLIC_KEY...][,circle:NAME]\n\n"
    "  Lets other organizations read the case face (names, narrative, exact place) of\n"
    "  one of this node's incidents: the case key is sealed to each reader's public key\n"
    "  (64 hex digits: `tejido id` on their node); ORG is a label for you. circle:NAME\n"
    "  seals it to a circle's newest key (`tejido circle list`): its members now. The\n"
    "  incident is not rewritten. At most 15 readers (a circle counts as one) per\n"
    "  command. Only the author can share.\n";

/* Writes {op, id | prefix} plus extra fields' count; the caller adds the rest. */
static int cli__target(struct tj_mp_writer *w, const char *op, const char *idarg, uint32_t extra)
{
	char lower[65];
	uint8_t id[32];
	size_t n = strlen(idarg);

	if (cli_show_check_id(idarg) != CLI_OK)
		return CLI_USAGE;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)idarg[i]);
	tj_mp_put_map(w, 2 + extra);
	tj_mp_put_cstr(w, "op");
	tj_mp_put_cstr(w, op);
	if (n == 64 && tj_unhex(lower, id, 32) == 0) {
		tj_mp_put_cstr(w, "id");
		tj_mp_put_bin(w, id, 32);
	} else {
		tj_mp_put_cstr(w, "prefix");
		tj_mp_put_cstr(w, lower);
	}
	return CLI_OK;
}

static void cli__print_id(const char *label, const msgpack_object *o)
{
	const uint8_t *p;
	char hex[65];

	if (cli_obj_bin(o, 32, &p)) {
		tj_hex(p, 32, hex);
		printf("%s%s\n", label, hex);
	}
}

static int cli__retract_run(struct cli_ctx *ctx, const char *idarg, const char *reason)
{
	struct tj_mp_writer w;
	struct cli_conn c;
	size_t len = 0;
	int rc;

	if (tj_vocab_lookup("retraction_reason", reason) == NULL)
		return cli_usage_err("retract",
		                     "--reason: '%s' is not one of error, duplicate, consent_withdrawn, "
		                     "safety, other",
		                     reason);
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	if ((rc = cli__target(&w, "retract", idarg, 1)) != CLI_OK)
		goto out;
	tj_mp_put_cstr(&w, "reason");
	tj_mp_put_cstr(&w, reason);
	rc = tj_mp_writer_finish(&w, &len) == 0 ? cli_call_or_report(&c, len, "retract") : CLI_FAIL;
	if (rc != CLI_OK)
		goto out;
	if (ctx->json) {
		cJSON *j = cli_obj_to_json(&c.obj, 4);
		rc = j != NULL ? cli_print_json(j) : CLI_FAIL;
		cJSON_Delete(j);
	} else {
		cli__print_id("retracted ", cli_map_get(&c.obj, "target"));
		cli__print_id("retraction ", cli_map_get(&c.obj, "retraction"));
	}
out:
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_retract(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *reason = NULL;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__retract_usage, stdout);
			return CLI_OK;
		}
		if (opt == 'r')
			reason = optarg;
		else if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("retract", "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage_err("retract", "give one record id (or a prefix of at least 8 hex digits)");
	if (reason == NULL)
		return cli_usage_err("retract",
		                     "say why with --reason error|duplicate|consent_withdrawn|safety|other");
	if (cli_show_check_id(argv[optind]) != CLI_OK)
		return CLI_USAGE;
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__retract_run(ctx, argv[optind], reason);
}

/* ---- show: a retracted record ------------------------------------------------------- */

static void cli__print_retraction(const struct cli_ctx *ctx, const msgpack_object *m)
{
	const msgpack_object *cf = cli_map_get(m, "confirmed_by");
	const char *reason = "";
	uint32_t reason_len = 0;
	uint64_t at = 0;
	char when[32] = "?", fp[TJ_FINGERPRINT_CHARS];
	time_t secs;
	struct tm tm;

	(void)cli_obj_str(cli_map_get(m, "reason"), &reason, &reason_len);
	(void)cli_obj_uint(cli_map_get(m, "retracted_at"), &at);
	secs = (time_t)(at / 1000u);
	if (gmtime_r(&secs, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	cli__print_id("id           ", cli_map_get(m, "target"));
	printf("status       retracted on %s (%.*s)\n", when, (int)reason_len, reason);
	cli__print_id("retraction   ", cli_map_get(m, "retraction"));
	cli__print_id("retracted by ", cli_map_get(m, "retractor"));
	printf("confirmed by %u node%s\n",
	       cf != NULL && cf->type == MSGPACK_OBJECT_ARRAY ? cf->via.array.size : 0,
	       cf != NULL && cf->type == MSGPACK_OBJECT_ARRAY && cf->via.array.size == 1 ? "" : "s");
	for (uint32_t i = 0; cf != NULL && cf->type == MSGPACK_OBJECT_ARRAY && i < cf->via.array.size; i++) {
		const uint8_t *pk;
		char hex[65];
		if (!cli_obj_bin(&cf->via.array.ptr[i], 32, &pk))
			continue;
		tj_hex(pk, 32, hex);
		tj_fingerprint(pk, fp);
		printf("  %s  %s\n", fp, hex);
	}
	(void)ctx;
}

int cli_retract_show(struct cli_ctx *ctx, struct cli_conn *c, const char *idarg)
{
	struct tj_mp_writer w;
	uint8_t id[32];
	char lower[65];
	const char *msg;
	uint32_t msg_len;
	size_t len = 0, n = strlen(idarg);
	int node_err = 0, rc;

	if (n != 64)
		return CLI_NOTFOUND; /* retractions are looked up by the full id */
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)idarg[i]);
	if (tj_unhex(lower, id, 32) != 0)
		return CLI_NOTFOUND;
	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 2);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "retraction");
	tj_mp_put_cstr(&w, "id");
	tj_mp_put_bin(&w, id, 32);
	if (tj_mp_writer_finish(&w, &len) != 0 || (rc = cli_call(c, len, &node_err, &msg, &msg_len)) != 0)
		return CLI_NOTFOUND; /* a node without the op: show goes on as before */
	if (node_err != 0)
		return CLI_NOTFOUND;
	if (ctx->json) {
		cJSON *j = cli_obj_to_json(&c->obj, 4);
		rc = j != NULL ? cli_print_json(j) : CLI_FAIL;
		cJSON_Delete(j);
		return rc;
	}
	cli__print_retraction(ctx, &c->obj);
	return CLI_OK;
}

/* ---- share -------------------------------------------------------------------------- */

int cli_parse_readers(const char *cmd, const char *arg, uint8_t (*readers)[32], uint32_t *n)
{
	const char *p = arg;

	*n = 0;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		const char *key = colon != NULL ? colon + 1 : p;
		size_t klen = len - (size_t)(key - p);
		char hex[65];

		if (*n == TJ_SHARE_READERS_MAX)
			return cli_usage_err(cmd, "at most %d readers per command", TJ_SHARE_READERS_MAX);
		if (klen != 64)
			return cli_usage_err(cmd, "'%.*s' is not ORG:PUBLIC_KEY (64 hex digits)", (int)len,
			                     p);
		for (size_t i = 0; i < 64; i++)
			hex[i] = (char)tolower((unsigned char)key[i]);
		hex[64] = '\0';
		if (tj_unhex(hex, readers[*n], 32) != 0)
			return cli_usage_err(cmd, "'%.*s' is not ORG:PUBLIC_KEY (64 hex digits)", (int)len,
			                     p);
		(*n)++;
		p += len + (end != NULL);
	}
	return *n > 0 ? CLI_OK : cli_usage_err(cmd, "give at least one ORG:PUBLIC_KEY");
}

static int cli__share_run(struct cli_ctx *ctx, const char *idarg, const uint8_t (*readers)[32], uint32_t n,
                          const char *circle)
{
	struct tj_mp_writer w;
	struct cli_conn c;
	size_t len = 0;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	if (circle[0] != '\0' && (rc = cli_circle_usable(&c, circle, "share")) != CLI_OK)
		goto out;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	if ((rc = cli__target(&w, "share", idarg, (n > 0) + (circle[0] != '\0'))) != CLI_OK)
		goto out;
	if (n > 0) {
		tj_mp_put_cstr(&w, "readers");
		tj_mp_put_array(&w, n);
		for (uint32_t i = 0; i < n; i++)
			tj_mp_put_bin(&w, readers[i], 32);
	}
	if (circle[0] != '\0') {
		tj_mp_put_cstr(&w, "circle");
		tj_mp_put_cstr(&w, circle);
	}
	rc = tj_mp_writer_finish(&w, &len) == 0 ? cli_call_or_report(&c, len, "share") : CLI_FAIL;
	if (rc != CLI_OK)
		goto out;
	if (ctx->json) {
		cJSON *j = cli_obj_to_json(&c.obj, 4);
		rc = j != NULL ? cli_print_json(j) : CLI_FAIL;
		cJSON_Delete(j);
	} else {
		printf("case shared with %u reader%s%s%s\n", n, n == 1 ? "" : "s",
		       circle[0] != '\0' ? " and circle " : "", circle);
		cli__print_id("case  ", cli_map_get(&c.obj, "case"));
		cli__print_id("grant ", cli_map_get(&c.obj, "grant"));
	}
out:
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_share(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"with", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint8_t readers[TJ_SHARE_READERS_MAX][32];
	char rest[2048], circle[65];
	const char *with = NULL;
	uint32_t n = 0;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__share_usage, stdout);
			return CLI_OK;
		}
		if (opt == 'w')
			with = optarg;
		else if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("share", "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage_err("share", "give one incident id (or a prefix of at least 8 hex digits)");
	if (with == NULL)
		return cli_usage_err("share", "say with whom: --with ORG:PUBLIC_KEY[,ORG:PUBLIC_KEY...]");
	if (cli_show_check_id(argv[optind]) != CLI_OK)
		return CLI_USAGE;
	if ((rc = cli_readers_split("share", with, rest, sizeof(rest), circle)) != CLI_OK)
		return rc;
	if ((rest[0] != '\0' || circle[0] == '\0') &&
	    (rc = cli_parse_readers("share", rest, readers, &n)) != CLI_OK)
		return rc;
	if (n + (circle[0] != '\0') > TJ_SHARE_READERS_MAX)
		return cli_usage_err("share", "at most %d readers per command, a circle counting as one",
		                     TJ_SHARE_READERS_MAX);
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__share_run(ctx, argv[optind], (const uint8_t(*)[32])readers, n, circle);
}
