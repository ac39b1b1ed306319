/*
 * `tejido peer add|list`: the node's address book of peers.
 *
 * add stores HOST:PORT and the peer's public key (64 hex digits, as
 * `tejido id` prints it on the other node); the node dials it at once and
 * keeps reconnecting. The key is checked during the handshake: whoever
 * answers at that address must prove it holds the key.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tj_control.h"
#include "tj_keys.h"

static const char cli__peer_usage[] =
	"usage: tejido peer add HOST:PORT PUBLIC_KEY [--name NAME]\n"
	"       tejido peer list [--json]\n\n"
	"  add    remembers a peer and connects to it (numeric IPv4, or [IPv6]:PORT);\n"
	"         PUBLIC_KEY is the 64 hex digits `tejido id` shows on that node\n"
	"  list   each peer: connected or not, last reconciliation, and how many\n"
	"         records it lacks and we lack (from the last reconciliation)\n";

static int cli__peer_add(struct cli_ctx *ctx, const char *addr, const char *key_hex, const char *name)
{
	struct cli_conn c;
	struct tj_mp_writer w;
	uint8_t pk[32];
	size_t len = 0;
	int rc;

	if (strlen(key_hex) != 64 || tj_unhex(key_hex, pk, 32) != 0)
		return cli_usage_err("peer", "PUBLIC_KEY must be 64 hex digits (see `tejido id` on that node)");
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, name != NULL ? 4 : 3);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "peer_add");
	tj_mp_put_cstr(&w, "address");
	tj_mp_put_cstr(&w, addr);
	tj_mp_put_cstr(&w, "public_key");
	tj_mp_put_bin(&w, pk, 32);
	if (name != NULL) {
		tj_mp_put_cstr(&w, "name");
		tj_mp_put_cstr(&w, name);
	}
	if (tj_mp_writer_finish(&w, &len) != 0) {
		cli_conn_close(&c);
		return cli_usage_err("peer", "the name is too long");
	}
	rc = cli_call_or_report(&c, len, "peer add");
	cli_conn_close(&c);
	if (rc == CLI_OK && !ctx->json)
		printf("peer %s added; the node connects to it now\n", addr);
	return rc;
}

struct cli__peer_row {
	const char *addr, *name, *dir;
	uint32_t addr_len, name_len, dir_len;
	const uint8_t *pk;
	bool connected, has_sync;
	uint64_t last_sync, they_lack, we_lack, received;
};

static bool cli__peer_row(const msgpack_object *m, struct cli__peer_row *r)
{
	const msgpack_object *c = cli_map_get(m, "connected"), *ls = cli_map_get(m, "last_sync");

	memset(r, 0, sizeof(*r));
	if (!cli_obj_str(cli_map_get(m, "address"), &r->addr, &r->addr_len)) {
		r->addr = "(inbound)";
		r->addr_len = 9;
	}
	if (!cli_obj_bin(cli_map_get(m, "public_key"), 32, &r->pk) ||
	    !cli_obj_str(cli_map_get(m, "name"), &r->name, &r->name_len) ||
	    !cli_obj_str(cli_map_get(m, "direction"), &r->dir, &r->dir_len) || c == NULL ||
	    c->type != MSGPACK_OBJECT_BOOLEAN || !cli_obj_uint(cli_map_get(m, "they_lack"), &r->they_lack) ||
	    !cli_obj_uint(cli_map_get(m, "we_lack"), &r->we_lack) ||
	    !cli_obj_uint(cli_map_get(m, "received"), &r->received))
		return false;
	r->connected = c->via.boolean;
	r->has_sync = cli_obj_uint(ls, &r->last_sync);
	return true;
}

static void cli__time(uint64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

static cJSON *cli__peer_json(const struct cli__peer_row *r)
{
	char hex[65], when[32], addr[80], name[80];
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	tj_hex(r->pk, 32, hex);
	snprintf(addr, sizeof(addr), "%.*s", (int)r->addr_len, r->addr);
	snprintf(name, sizeof(name), "%.*s", (int)r->name_len, r->name);
	cJSON_AddStringToObject(o, "public_key", hex);
	cJSON_AddStringToObject(o, "address", addr);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "connected", r->connected);
	if (r->has_sync) {
		cli__time(r->last_sync, when);
		cJSON_AddStringToObject(o, "last_sync", when);
	} else {
		cJSON_AddNullToObject(o, "last_sync");
	}
	cJSON_AddNumberToObject(o, "they_lack", (double)r->they_lack);
	cJSON_AddNumberToObject(o, "we_lack", (double)r->we_lack);
	cJSON_AddNumberToObject(o, "received", (double)r->received);
	return o;
}

static void cli__peer_print(const struct cli__peer_row *r)
{
	char hex[65], when[32] = "never";

	tj_hex(r->pk, 32, hex);
	hex[16] = '\0';
	if (r->has_sync)
		cli__time(r->last_sync, when);
	printf("%-22.*s %-16s %-12.*s %-9s %-20s %9" PRIu64 " %8" PRIu64 "\n", (int)r->addr_len, r->addr, hex,
	       (int)(r->name_len > 12 ? 12 : r->name_len), r->name, r->connected ? "yes" : "no", when, r->they_lack,
	       r->we_lack);
}

static int cli__peer_list(struct cli_ctx *ctx)
{
	const msgpack_object *peers;
	struct cli__peer_row row;
	struct cli_conn c;
	struct tj_mp_writer w;
	cJSON *arr = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "peer_list");
	if (tj_mp_writer_finish(&w, &len) != 0 || (rc = cli_call_or_report(&c, len, "peer list")) != CLI_OK)
		goto out;
	peers = cli_map_get(&c.obj, "peers");
	if (peers == NULL || peers->type != MSGPACK_OBJECT_ARRAY) {
		cli_err("peer list: the node's reply has no peers; is the node older than this tool?");
		rc = CLI_FAIL;
		goto out;
	}
	if (ctx->json && (arr = cJSON_CreateArray()) == NULL) {
		rc = CLI_FAIL;
		goto out;
	}
	if (!ctx->json)
		printf("%-22s %-16s %-12s %-9s %-20s %9s %8s\n", "ADDRESS", "KEY", "NAME", "CONNECTED", "LAST SYNC",
		       "THEY LACK", "WE LACK");
	for (uint32_t i = 0; i < peers->via.array.size; i++) {
		if (!cli__peer_row(&peers->via.array.ptr[i], &row)) {
			cli_err("peer list: a malformed peer in the node's reply");
			rc = CLI_FAIL;
			goto out;
		}
		if (ctx->json)
			cJSON_AddItemToArray(arr, cli__peer_json(&row));
		else
			cli__peer_print(&row);
	}
	if (ctx->json)
		rc = cli_print_json(arr);
out:
	cJSON_Delete(arr);
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_peer(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_NAME = CLI_OPT_FIRST_FREE };
	static const struct option opts[] = {
		{"data", required_argument, NULL, CLI_OPT_DATA}, {"json", no_argument, NULL, CLI_OPT_JSON},
		{"name", required_argument, NULL, OPT_NAME},     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *name = NULL;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__peer_usage, stdout);
			return CLI_OK;
		}
		if (opt == OPT_NAME) {
			name = optarg;
			continue;
		}
		if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("peer", "bad option");
	}
	if (optind >= argc)
		return cli_usage_err("peer", "say add or list");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	if (strcmp(argv[optind], "add") == 0) {
		if (argc - optind != 3)
			return cli_usage_err("peer", "add takes HOST:PORT and PUBLIC_KEY");
		return cli__peer_add(ctx, argv[optind + 1], argv[optind + 2], name);
	}
	if (strcmp(argv[optind], "list") == 0) {
		if (argc - optind != 1)
			return cli_usage_err("peer", "list takes no arguments");
		return cli__peer_list(ctx);
	}
	return cli_usage_err("peer", "unknown subcommand '%s'; say add or list", argv[optind]);
}
