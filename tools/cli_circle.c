/*
 * `tejido circle create|add|remove|list` on the running node, and the
 * circle parts of `add --case-readers` / `--summary-readers`. The logic
 * lives in node/tj_circle*.c.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tj_circle.h"
#include "tj_control.h"
#include "tj_keys.h"

static const char cli__circle_usage[] =
    "usage: tejido circle create NAME --members [ORG:]PUBLIC_KEY[,...]\n"
    "       tejido circle add NAME PUBLIC_KEY\n"
    "       tejido circle remove NAME PUBLIC_KEY\n"
    "       tejido circle list [--json]\n\n"
    "A circle is a named audience inside the network (\"Contactos Oaxaca\") with its own key:\n"
    "`tejido add --case-readers circle:NAME` seals an incident's case face to it, and\n"
    "`--summary-readers circle:NAME` its summary too (instead of the whole network).\n\n"
    "  create  makes a circle administered by this node, with these member organizations\n"
    "          (`tejido id` on their nodes; members of the network only; this node is\n"
    "          always in it; at most 64 in all). NAME: up to 64 bytes, no commas.\n"
    "  add     (the admin) a new member: a new key generation sealed to every member;\n"
    "          the new member reads what is written to the circle from now on\n"
    "  remove  (the admin) a new key generation sealed to the remaining members only:\n"
    "          the removed organization cannot read anything written to the circle after\n"
    "  list    every circle of the network: name, id, generation, members, and whether\n"
    "          this node is in it and holds its newest key\n";

/* "[LABEL:]HEX64[,...]" into keys (at most cap). */
static int cli__parse_keys(const char *arg, uint8_t (*keys)[32], uint32_t cap, uint32_t *n)
{
	const char *p = arg;

	*n = 0;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		const char *key = colon != NULL ? colon + 1 : p;
		char hex[65];

		if (*n == cap)
			return cli_usage_err("circle", "a circle has at most %d members, this node included",
			                     TJ_CIRCLE_MEMBERS_MAX);
		if (len - (size_t)(key - p) != 64)
			return cli_usage_err("circle", "'%.*s' is not [ORG:]PUBLIC_KEY (64 hex digits)",
			                     (int)len, p);
		for (size_t i = 0; i < 64; i++)
			hex[i] = (char)tolower((unsigned char)key[i]);
		hex[64] = '\0';
		if (tj_unhex(hex, keys[*n], 32) != 0)
			return cli_usage_err("circle", "'%.*s' is not [ORG:]PUBLIC_KEY (64 hex digits)",
			                     (int)len, p);
		(*n)++;
		p += len + (end != NULL);
	}
	return CLI_OK;
}

static int cli__check_name(const char *name)
{
	if (!tj_circle_name_ok(name, strlen(name)))
		return cli_usage_err("circle", "'%s' is not a circle name: 1 to %d bytes of text, no commas",
		                     name, TJ_CIRCLE_NAME_MAX);
	return CLI_OK;
}

/* Prints the reply of create/add/remove. */
static int cli__written(const struct cli_ctx *ctx, const struct cli_conn *c, const char *what)
{
	const uint8_t *circle = NULL, *record = NULL;
	uint64_t gen = 0;
	char ch[65], rh[65];

	if (!cli_obj_bin(cli_map_get(&c->obj, "circle"), 32, &circle) ||
	    !cli_obj_bin(cli_map_get(&c->obj, "record"), 32, &record) ||
	    !cli_obj_uint(cli_map_get(&c->obj, "generation"), &gen)) {
		cli_err("circle %s: the node's reply has no circle id", what);
		return CLI_FAIL;
	}
	tj_hex(circle, 32, ch);
	tj_hex(record, 32, rh);
	if (ctx->json)
		printf("{\"circle\": \"%s\", \"record\": \"%s\", \"generation\": %llu}\n", ch, rh,
		       (unsigned long long)gen);
	else
		printf("circle %s: generation %llu written (record %s)\n", ch, (unsigned long long)gen, rh);
	return CLI_OK;
}

static int cli__create(struct cli_ctx *ctx, const char *name, const char *members)
{
	uint8_t(*keys)[32] = calloc(TJ_CIRCLE_MEMBERS_MAX, 32);
	struct tj_mp_writer w;
	struct cli_conn c;
	uint32_t n = 0;
	size_t len = 0;
	int rc;

	if (keys == NULL)
		return CLI_FAIL;
	if ((rc = cli__check_name(name)) != CLI_OK ||
	    (members != NULL && (rc = cli__parse_keys(members, keys, TJ_CIRCLE_MEMBERS_MAX, &n)) != CLI_OK) ||
	    (rc = cli_connect(ctx, &c)) != CLI_OK) {
		free(keys);
		return rc;
	}
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "circle_create");
	tj_mp_put_cstr(&w, "name");
	tj_mp_put_cstr(&w, name);
	tj_mp_put_cstr(&w, "members");
	tj_mp_put_array(&w, n);
	for (uint32_t i = 0; i < n; i++)
		tj_mp_put_bin(&w, keys[i], 32);
	rc = tj_mp_writer_finish(&w, &len) == 0 ? cli_call_or_report(&c, len, "circle create") : CLI_FAIL;
	if (rc == CLI_OK)
		rc = cli__written(ctx, &c, "create");
	cli_conn_close(&c);
	free(keys);
	return rc;
}

static int cli__change(struct cli_ctx *ctx, const char *name, const char *hex, bool add)
{
	const char *what = add ? "circle add" : "circle remove";
	struct tj_mp_writer w;
	struct cli_conn c;
	uint8_t key[1][32];
	uint32_t n = 0;
	size_t len = 0;
	int rc;

	if ((rc = cli__parse_keys(hex, key, 1, &n)) != CLI_OK)
		return rc;
	if (n != 1)
		return cli_usage_err("circle", "give one PUBLIC_KEY (64 hex digits)");
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 4);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "circle_change");
	tj_mp_put_cstr(&w, "name");
	tj_mp_put_cstr(&w, name);
	tj_mp_put_cstr(&w, "public_key");
	tj_mp_put_bin(&w, key[0], 32);
	tj_mp_put_cstr(&w, "action");
	tj_mp_put_cstr(&w, add ? "add" : "remove");
	rc = tj_mp_writer_finish(&w, &len) == 0 ? cli_call_or_report(&c, len, what) : CLI_FAIL;
	if (rc == CLI_OK)
		rc = cli__written(ctx, &c, add ? "add" : "remove");
	cli_conn_close(&c);
	return rc;
}

static bool cli__bool(const msgpack_object *m, const char *key)
{
	const msgpack_object *o = cli_map_get(m, key);

	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

static void cli__circle_print(const msgpack_object *m)
{
	const msgpack_object *members = cli_map_get(m, "members"), *departed = cli_map_get(m, "departed");
	const uint8_t *id = NULL, *pk = NULL;
	const char *name = "";
	uint32_t nlen = 0, n = 0;
	uint64_t gen = 0;
	char h[65], fp[TJ_FINGERPRINT_CHARS];

	if (!cli_obj_bin(cli_map_get(m, "id"), 32, &id) || !cli_obj_str(cli_map_get(m, "name"), &name, &nlen))
		return;
	(void)cli_obj_uint(cli_map_get(m, "generation"), &gen);
	if (members != NULL && members->type == MSGPACK_OBJECT_ARRAY)
		n = members->via.array.size;
	tj_hex(id, 32, h);
	h[16] = '\0';
	printf("%.*s\n  id %s  generation %llu  %u member%s%s%s\n", (int)nlen, name, h,
	       (unsigned long long)gen, n, n == 1 ? "" : "s",
	       cli__bool(m, "admin_here") ? "  (administered here)" : "",
	       !cli__bool(m, "member")     ? "  this node is not in it"
	       : cli__bool(m, "holds_key") ? "  this node holds its key"
	                                   : "  this node does not hold its newest key yet");
	for (uint32_t i = 0; i < n; i++) {
		if (!cli_obj_bin(&members->via.array.ptr[i], 32, &pk))
			continue;
		tj_hex(pk, 32, h);
		tj_fingerprint(pk, fp);
		printf("    %s  %s\n", fp, h);
	}
	for (uint32_t i = 0;
	     departed != NULL && departed->type == MSGPACK_OBJECT_ARRAY && i < departed->via.array.size;
	     i++) {
		if (!cli_obj_bin(&departed->via.array.ptr[i], 32, &pk))
			continue;
		tj_hex(pk, 32, h);
		printf("  ! %s left the network: nothing is sealed to this circle until its admin runs\n"
		       "    `tejido circle remove \"%.*s\" %s`\n",
		       h, (int)nlen, name, h);
	}
}

/* circle_list into c->obj; prints failures. */
static int cli__list_call(struct cli_conn *c)
{
	struct tj_mp_writer w;
	size_t len = 0;

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "circle_list");
	if (tj_mp_writer_finish(&w, &len) != 0)
		return CLI_FAIL;
	return cli_call_or_report(c, len, "circle list");
}

static int cli__list(struct cli_ctx *ctx)
{
	const msgpack_object *circles;
	struct cli_conn c;
	cJSON *doc = NULL;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	if ((rc = cli__list_call(&c)) != CLI_OK)
		goto out;
	circles = cli_map_get(&c.obj, "circles");
	if (circles == NULL || circles->type != MSGPACK_OBJECT_ARRAY) {
		cli_err("circle list: the node's reply has no circles");
		rc = CLI_FAIL;
		goto out;
	}
	if (ctx->json) {
		doc = cli_obj_to_json(&c.obj, 0);
		rc = doc != NULL ? cli_print_json(doc) : CLI_FAIL;
		goto out;
	}
	if (circles->via.array.size == 0)
		printf("no circles yet (`tejido circle create NAME --members KEY,...`)\n");
	for (uint32_t i = 0; i < circles->via.array.size; i++)
		cli__circle_print(&circles->via.array.ptr[i]);
out:
	cJSON_Delete(doc);
	cli_conn_close(&c);
	return rc;
}

int cli_circle_usable(struct cli_conn *c, const char *name, const char *flag)
{
	const msgpack_object *circles;
	const char *s;
	uint32_t slen, found = 0;
	int rc = cli__list_call(c);

	if (rc != CLI_OK)
		return rc;
	circles = cli_map_get(&c->obj, "circles");
	for (uint32_t i = 0;
	     circles != NULL && circles->type == MSGPACK_OBJECT_ARRAY && i < circles->via.array.size; i++) {
		const msgpack_object *m = &circles->via.array.ptr[i];
		const uint8_t *id = NULL;
		char h[65] = "";
		if (cli_obj_bin(cli_map_get(m, "id"), 32, &id))
			tj_hex(id, 32, h);
		if (!cli_obj_str(cli_map_get(m, "name"), &s, &slen) || !cli__bool(m, "member"))
			continue;
		if ((slen == strlen(name) && memcmp(s, name, slen) == 0) || strcmp(h, name) == 0)
			found++;
	}
	if (found == 0) {
		cli_err(
		    "%s: no circle named '%s' has this node as a member; `tejido circle list` shows them. "
		    "Nothing was stored.",
		    flag, name);
		return CLI_NOTFOUND;
	}
	if (found > 1) {
		cli_err(
		    "%s: several circles are named '%s'; give its id instead (circle:ID from `tejido circle "
		    "list --json`). Nothing was stored.",
		    flag, name);
		return CLI_USAGE;
	}
	return CLI_OK;
}

int cli_readers_split(const char *cmd, const char *arg, char *rest, size_t cap, char circle[65])
{
	const char *p = arg;
	size_t off = 0;

	circle[0] = '\0';
	rest[0] = '\0';
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > 7 && strncmp(p, "circle:", 7) == 0) {
			if (circle[0] != '\0')
				return cli_usage_err(cmd, "one circle per face; share with more later "
				                          "(`tejido share ID --with ...`)");
			if (len - 7 > TJ_CIRCLE_NAME_MAX || !tj_circle_name_ok(p + 7, len - 7))
				return cli_usage_err(cmd, "'%.*s' is not circle:NAME (1 to %d bytes)",
				                     (int)len, p, TJ_CIRCLE_NAME_MAX);
			memcpy(circle, p + 7, len - 7);
			circle[len - 7] = '\0';
		} else {
			if (off + len + 2 > cap)
				return cli_usage_err(cmd, "too many readers");
			off += (size_t)snprintf(rest + off, cap - off, "%s%.*s", off > 0 ? "," : "", (int)len,
			                        p);
		}
		p += len + (end != NULL);
	}
	return CLI_OK;
}

int cli_cmd_circle(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_MEMBERS = CLI_OPT_FIRST_FREE };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"members", required_argument, NULL, OPT_MEMBERS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *members = NULL, *verb;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__circle_usage, stdout);
			return CLI_OK;
		}
		if (opt == OPT_MEMBERS)
			members = optarg;
		else if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("circle", "bad option");
	}
	if (optind >= argc)
		return cli_usage_err("circle", "say create, add, remove or list");
	verb = argv[optind];
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	if (strcmp(verb, "list") == 0 && optind + 1 == argc)
		return cli__list(ctx);
	if (strcmp(verb, "create") == 0 && optind + 2 == argc)
		return cli__create(ctx, argv[optind + 1], members);
	if ((strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0) && optind + 3 == argc) {
		if ((rc = cli__check_name(argv[optind + 1])) != CLI_OK)
			return rc;
		return cli__change(ctx, argv[optind + 1], argv[optind + 2], strcmp(verb, "add") == 0);
	}
	return cli_usage_err("circle", "say `circle create NAME --members KEY,...`, `circle add NAME KEY`, "
	                               "`circle remove NAME KEY` or `circle list`");
}
