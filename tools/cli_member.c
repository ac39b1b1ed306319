/*
 * `tejido member add|list` (on a steward's running node) and
 * `tejido network join` (on a stopped node made with `init --no-network`).
 * The logic lives in node/tj_member*.c and node/tj_welcome*.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "tj_control.h"
#include "tj_keys.h"
#include "tj_welcome.h"

static const char cli__member_usage[] =
    "usage: tejido member add PUBLIC_KEY --name NAME --out FILE [--role member|steward|contact]\n"
    "                         [--states 20,12] [--reason TEXT] [--address HOST:PORT]\n"
    "       tejido member approve PROPOSAL_ID\n"
    "       tejido member remove PUBLIC_KEY --reason CODE\n"
    "       tejido member list [--json]\n\n"
    "  add    admits the node whose key is PUBLIC_KEY (64 hex digits: `tejido id` on that\n"
    "         node; read its fingerprint back to its owner before admitting). Writes a\n"
    "         signed membership record and, once the stewards' threshold is met, a welcome\n"
    "         bundle to FILE (mode 0600) sealed to that key: send it by any channel, then\n"
    "         run `tejido network join FILE` on the new node.\n"
    "         --address is where the new node can reach this node (default: the listen\n"
    "         address, unless it is a wildcard).\n"
    "  approve  adds this steward's approval to a pending proposal (64 hex digits, as\n"
    "         `member list` shows it); it takes effect at the stewards' threshold\n"
    "  remove   proposes removing a member (a proposal like an admission)\n"
    "  list   the network's members: fingerprint, name, role, states, since when; then\n"
    "         the pending proposals with the stewards who approved them\n";

static const char cli__network_usage[] =
    "usage: tejido network join FILE\n"
    "       tejido network rotate-key [--changeover SECONDS]\n\n"
    "  rotate-key  (a steward's running node) new epoch and network keys, sealed to each\n"
    "         current member in KEY records; a removal does the same by itself. The old\n"
    "         network key is still accepted for the changeover (default 86400 s), then\n"
    "         only the new one: a member offline all that time needs a new welcome\n"
    "  join   joins the network of a welcome bundle (from `tejido member add` on a\n"
    "         steward's node). The node must be stopped and made with\n"
    "         `tejido init --no-network`; asks for this node's passphrase.\n";

struct cli__add_args {
	const char *key_hex, *name, *role, *states, *reason, *address, *out;
};

static int cli__add_request(struct cli_conn *c, const struct cli__add_args *a, const uint8_t pk[32],
                            size_t *len)
{
	struct tj_mp_writer w;
	uint32_t n = 3 + (a->role != NULL) + (a->states != NULL) + (a->reason != NULL) + (a->address != NULL);

	tj_mp_writer_init(&w, c->req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, n);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "member_add");
	tj_mp_put_cstr(&w, "public_key");
	tj_mp_put_bin(&w, pk, 32);
	tj_mp_put_cstr(&w, "name");
	tj_mp_put_cstr(&w, a->name);
	const char *keys[] = {"role", "states", "reason", "address"};
	const char *vals[] = {a->role, a->states, a->reason, a->address};
	for (size_t i = 0; i < 4; i++) {
		if (vals[i] == NULL)
			continue;
		tj_mp_put_cstr(&w, keys[i]);
		tj_mp_put_cstr(&w, vals[i]);
	}
	return tj_mp_writer_finish(&w, len);
}

/* Writes the welcome of the reply to a->out, or says why there is none yet. */
static int cli__add_result(const struct cli_ctx *ctx, const struct cli_conn *c, const struct cli__add_args *a,
                           const uint8_t pk[32])
{
	const msgpack_object *m = cli_map_get(&c->obj, "member");
	const uint8_t *welcome = NULL;
	char fp[TJ_FINGERPRINT_CHARS];
	uint64_t needed = 0;
	int rc;

	tj_fingerprint(pk, fp);
	if (m == NULL || m->type != MSGPACK_OBJECT_BOOLEAN ||
	    !cli_obj_uint(cli_map_get(&c->obj, "approvals_needed"), &needed)) {
		cli_err("member add: malformed reply from the node");
		return CLI_FAIL;
	}
	if (!m->via.boolean && ctx->json) {
		printf("{\"member\": false, \"fingerprint\": \"%s\", \"approvals_needed\": %" PRIu64 "}\n",
		       fp, needed);
		return CLI_OK;
	}
	if (!m->via.boolean) {
		printf("proposal recorded for %s; it takes effect after %" PRIu64
		       " more steward approval(s), then run member add again for the welcome\n",
		       fp, needed);
		return CLI_OK;
	}
	const msgpack_object *wo = cli_map_get(&c->obj, "welcome");
	if (!cli_obj_bin(wo, 0, &welcome)) {
		cli_err("member add: the node's reply has no welcome bundle");
		return CLI_FAIL;
	}
	rc = cli_write_file_0600(a->out, welcome, wo->via.bin.size);
	if (rc != 0) {
		cli_err("member add: cannot write %s: %s", a->out, strerror(-rc));
		return CLI_FAIL;
	}
	if (!ctx->json)
		printf("%s is a member; welcome bundle written to %s (sealed to that key; send it by any\n"
		       "channel, then run `tejido network join %s` on the new node)\n",
		       fp, a->out, a->out);
	else
		printf("{\"member\": true, \"fingerprint\": \"%s\", \"welcome\": \"%s\"}\n", fp, a->out);
	return CLI_OK;
}

static int cli__member_add(struct cli_ctx *ctx, const struct cli__add_args *a)
{
	struct cli_conn c;
	uint8_t pk[32];
	size_t len = 0;
	int rc;

	if (strlen(a->key_hex) != 64 || tj_unhex(a->key_hex, pk, 32) != 0)
		return cli_usage_err("member",
		                     "PUBLIC_KEY must be 64 hex digits (see `tejido id` on that node)");
	if (a->name == NULL || a->name[0] == '\0')
		return cli_usage_err("member",
		                     "add needs --name NAME (the organization, as members know it)");
	if (a->out == NULL)
		return cli_usage_err("member", "add needs --out FILE for the welcome bundle");
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	if (cli__add_request(&c, a, pk, &len) != 0) {
		cli_conn_close(&c);
		return cli_usage_err("member", "an argument is too long");
	}
	rc = cli_call_or_report(&c, len, "member add");
	if (rc == CLI_OK)
		rc = cli__add_result(ctx, &c, a, pk);
	cli_conn_close(&c);
	return rc;
}

static void cli__member_print(const msgpack_object *m)
{
	const msgpack_object *states = cli_map_get(m, "states");
	const char *name = "", *role = "";
	uint32_t nlen = 0, rlen = 0;
	const uint8_t *pk = NULL;
	char hex[65], fp[TJ_FINGERPRINT_CHARS], st[3 * TJ_MEMBER_STATES_MAX + 1] = "";
	size_t off = 0;

	if (!cli_obj_bin(cli_map_get(m, "public_key"), 32, &pk))
		return;
	(void)cli_obj_str(cli_map_get(m, "name"), &name, &nlen);
	(void)cli_obj_str(cli_map_get(m, "role"), &role, &rlen);
	for (uint32_t i = 0; states != NULL && states->type == MSGPACK_OBJECT_ARRAY &&
	                     i < states->via.array.size && i < TJ_MEMBER_STATES_MAX;
	     i++) {
		const msgpack_object *s = &states->via.array.ptr[i];
		if (s->type == MSGPACK_OBJECT_STR && s->via.str.size == 2)
			off += (size_t)snprintf(st + off, sizeof(st) - off, "%s%.2s", i > 0 ? "," : "",
			                        s->via.str.ptr);
	}
	tj_hex(pk, 32, hex);
	hex[16] = '\0';
	tj_fingerprint(pk, fp);
	if (nlen == 0) {
		name = "(founder)"; /* the genesis names its stewards by key only */
		nlen = 9;
	}
	printf("%-24s %-16s %-8.*s %-24.*s %s\n", fp, hex, (int)rlen, role, (int)(nlen > 24 ? 24 : nlen),
	       name, st[0] != '\0' ? st : "-");
}

/* Pending proposals: id, action, subject, then one line per approving steward. */
static void cli__pending_print(const msgpack_object *pending)
{
	if (pending == NULL || pending->type != MSGPACK_OBJECT_ARRAY || pending->via.array.size == 0)
		return;
	printf("\npending proposals\n");
	for (uint32_t i = 0; i < pending->via.array.size; i++) {
		const msgpack_object *p = &pending->via.array.ptr[i];
		const msgpack_object *ap = cli_map_get(p, "approvals");
		const uint8_t *id = NULL, *subject = NULL, *who = NULL;
		const char *action = "", *role = "";
		uint32_t alen = 0, rlen = 0, n = 0;
		char idh[65], sh[65], fp[TJ_FINGERPRINT_CHARS];

		if (!cli_obj_bin(cli_map_get(p, "proposal"), 32, &id) ||
		    !cli_obj_bin(cli_map_get(p, "subject"), 32, &subject))
			continue;
		(void)cli_obj_str(cli_map_get(p, "action"), &action, &alen);
		(void)cli_obj_str(cli_map_get(p, "role"), &role, &rlen);
		if (ap != NULL && ap->type == MSGPACK_OBJECT_ARRAY)
			n = ap->via.array.size;
		tj_hex(id, 32, idh);
		tj_hex(subject, 32, sh);
		tj_fingerprint(subject, fp);
		printf("%s  %.*s %s (%s) as %.*s, %u approval%s\n", idh, (int)alen, action, fp, sh, (int)rlen,
		       role, n, n == 1 ? "" : "s");
		for (uint32_t k = 0; k < n; k++) {
			if (!cli_obj_bin(&ap->via.array.ptr[k], 32, &who))
				continue;
			tj_fingerprint(who, fp);
			printf("    approved by %s\n", fp);
		}
	}
}

/* approve (PROPOSAL_ID) or remove (PUBLIC_KEY, reason): one request, the record id back. */
static int cli__member_write(struct cli_ctx *ctx, bool approve, const char *hex, const char *reason)
{
	const char *what = approve ? "member approve" : "member remove";
	const uint8_t *id = NULL;
	const msgpack_object *te;
	struct tj_mp_writer w;
	struct cli_conn c;
	uint8_t key[32];
	char idh[65];
	size_t len = 0;
	int rc;

	if (strlen(hex) != 64 || tj_unhex(hex, key, 32) != 0)
		return cli_usage_err("member", "%s", approve ? "PROPOSAL_ID must be 64 hex digits (`member list`)"
		                                             : "PUBLIC_KEY must be 64 hex digits");
	if (!approve && (reason == NULL || reason[0] == '\0'))
		return cli_usage_err("member", "member remove needs --reason CODE");
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, approve ? 2 : 3);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, approve ? "member_approve" : "member_remove");
	tj_mp_put_cstr(&w, approve ? "proposal" : "public_key");
	tj_mp_put_bin(&w, key, 32);
	if (!approve) {
		tj_mp_put_cstr(&w, "reason");
		tj_mp_put_cstr(&w, reason);
	}
	if (tj_mp_writer_finish(&w, &len) != 0) {
		cli_conn_close(&c);
		return cli_usage_err("member", "an argument is too long");
	}
	if ((rc = cli_call_or_report(&c, len, what)) != CLI_OK)
		goto out;
	te = cli_map_get(&c.obj, "took_effect");
	if (!cli_obj_bin(cli_map_get(&c.obj, approve ? "approval" : "proposal"), 32, &id)) {
		cli_err("%s: the node's reply has no record id", what);
		rc = CLI_FAIL;
		goto out;
	}
	tj_hex(id, 32, idh);
	if (ctx->json)
		printf("{\"%s\": \"%s\", \"took_effect\": %s}\n", approve ? "approval" : "proposal", idh,
		       te != NULL && te->type == MSGPACK_OBJECT_BOOLEAN && te->via.boolean ? "true" : "false");
	else
		printf("%s %s written; %s\n", approve ? "approval" : "proposal", idh,
		       te != NULL && te->type == MSGPACK_OBJECT_BOOLEAN && te->via.boolean
		           ? "it took effect"
		           : "it awaits more stewards' approvals (`tejido member list`)");
out:
	cli_conn_close(&c);
	return rc;
}

static int cli__member_list(struct cli_ctx *ctx)
{
	const msgpack_object *members;
	struct tj_mp_writer w;
	struct cli_conn c;
	cJSON *doc = NULL;
	size_t len = 0;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "member_list");
	if (tj_mp_writer_finish(&w, &len) != 0 || (rc = cli_call_or_report(&c, len, "member list")) != CLI_OK)
		goto out;
	members = cli_map_get(&c.obj, "members");
	if (members == NULL || members->type != MSGPACK_OBJECT_ARRAY) {
		cli_err("member list: the node's reply has no members");
		rc = CLI_FAIL;
		goto out;
	}
	if (ctx->json) {
		doc = cli_obj_to_json(&c.obj, 0);
		rc = doc != NULL ? cli_print_json(doc) : CLI_FAIL;
		goto out;
	}
	printf("%-24s %-16s %-8s %-24s %s\n", "FINGERPRINT", "KEY", "ROLE", "NAME", "STATES");
	for (uint32_t i = 0; i < members->via.array.size; i++)
		cli__member_print(&members->via.array.ptr[i]);
	cli__pending_print(cli_map_get(&c.obj, "pending"));
out:
	cJSON_Delete(doc);
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_member(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_NAME = CLI_OPT_FIRST_FREE, OPT_ROLE, OPT_STATES, OPT_REASON, OPT_ADDRESS, OPT_OUT };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"name", required_argument, NULL, OPT_NAME},
	    {"role", required_argument, NULL, OPT_ROLE},
	    {"states", required_argument, NULL, OPT_STATES},
	    {"reason", required_argument, NULL, OPT_REASON},
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli__add_args a = {0};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(cli__member_usage, stdout);
			return CLI_OK;
		case OPT_NAME:
			a.name = optarg;
			break;
		case OPT_ROLE:
			a.role = optarg;
			break;
		case OPT_STATES:
			a.states = optarg;
			break;
		case OPT_REASON:
			a.reason = optarg;
			break;
		case OPT_ADDRESS:
			a.address = optarg;
			break;
		case OPT_OUT:
			a.out = optarg;
			break;
		default:
			if (cli_common_opt(ctx, opt, optarg) != 0)
				return cli_usage_err("member", "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_err("member", "say add or list");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	if (strcmp(argv[optind], "list") == 0 && optind + 1 == argc)
		return cli__member_list(ctx);
	if (strcmp(argv[optind], "add") == 0 && optind + 2 == argc) {
		a.key_hex = argv[optind + 1];
		return cli__member_add(ctx, &a);
	}
	if (strcmp(argv[optind], "approve") == 0 && optind + 2 == argc)
		return cli__member_write(ctx, true, argv[optind + 1], NULL);
	if (strcmp(argv[optind], "remove") == 0 && optind + 2 == argc)
		return cli__member_write(ctx, false, argv[optind + 1], a.reason);
	return cli_usage_err("member", "say `member add PUBLIC_KEY --name NAME --out FILE`, `member approve "
	                               "PROPOSAL_ID`, `member remove PUBLIC_KEY --reason CODE` or `member list`");
}

static int cli__join_error(const char *file, int rc)
{
	switch (rc) {
	case TJ_EDECRYPT:
		cli_err("%s was not sealed to this node's key, or was damaged; ask the steward to run "
		        "`tejido member add` with the key `tejido id` shows here",
		        file);
		break;
	case TJ_EEXIST:
		cli_err("this node already belongs to a network; a node joins one network only");
		break;
	case TJ_ENOTMEMBER:
		cli_err("%s does not make this node a member (another key, or an admission still awaiting "
		        "approvals); nothing was changed",
		        file);
		break;
	case TJ_ENETWORK:
	case TJ_EBADSIG:
		cli_err("%s holds records that do not match its network (forged or damaged): refused", file);
		break;
	case TJ_ESTATE:
		cli_err("no identity here yet: create one with `tejido init --no-network` first");
		break;
	case TJ_ETRUNC:
	case TJ_ELIMIT:
	case TJ_EMALFORMED:
	case TJ_EUNSUPPORTED:
		cli_err("%s is not a welcome bundle this version reads (%s)", file, tj_strerror(rc));
		break;
	default:
		cli_err("cannot join with %s: %s", file, tj_strerror(rc));
	}
	return CLI_FAIL;
}

static int cli__network_join(struct cli_ctx *ctx, const char *file)
{
	struct tj_unlocked *u = NULL;
	struct cli_conn c;
	char *buf = NULL;
	size_t len = 0, n_peers = 0;
	int rc;

	/* The running node holds the store and its network state: join with it stopped. */
	if (cli_connect_quiet(ctx->datadir, &c) == 0) {
		cli_conn_close(&c);
		cli_err("the node in %s is running; stop it (`tejido node stop`), join, then start it again",
		        ctx->datadir);
		return CLI_FAIL;
	}
	if ((rc = cli_read_file(file, TJ_WELCOME_MAX_BYTES + 1, &buf, &len)) != 0) {
		cli_err("cannot read %s: %s", file, strerror(-rc));
		return CLI_FAIL;
	}
	if ((rc = cli_unlock(ctx, &u)) != CLI_OK)
		goto out;
	rc = tj_welcome_join(ctx->datadir, u, (const uint8_t *)buf, len, &n_peers);
	if (rc != 0) {
		rc = cli__join_error(file, rc);
		goto out;
	}
	if (ctx->json)
		printf("{\"joined\": true, \"peers\": %zu}\n", n_peers);
	else
		printf("joined the network (%zu peer address%s learned); start the node with: tejido --data "
		       "%s node "
		       "start\n",
		       n_peers, n_peers == 1 ? "" : "es", ctx->datadir);
	rc = CLI_OK;
out:
	tj_unlocked_free(u);
	if (buf != NULL)
		sodium_memzero(buf, len);
	free(buf);
	return rc;
}

static int cli__network_rotate(struct cli_ctx *ctx, const char *changeover)
{
	unsigned long long secs = 0;
	char *end = NULL;
	const msgpack_object *e;
	struct tj_mp_writer w;
	struct cli_conn c;
	size_t len = 0;
	int rc;

	if (changeover != NULL) {
		secs = strtoull(changeover, &end, 10);
		if (end == changeover || *end != '\0' || secs > 30ull * 24 * 3600)
			return cli_usage_err("network", "--changeover: '%s' is not 0 to 2592000 seconds", changeover);
	}
	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, changeover != NULL ? 2 : 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "network_rotate");
	if (changeover != NULL) {
		tj_mp_put_cstr(&w, "changeover_s");
		tj_mp_put_uint(&w, secs);
	}
	if (tj_mp_writer_finish(&w, &len) != 0 ||
	    (rc = cli_call_or_report(&c, len, "network rotate-key")) != CLI_OK)
		goto out;
	e = cli_map_get(&c.obj, "epoch");
	if (e == NULL || e->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		cli_err("network rotate-key: the node's reply has no epoch");
		rc = CLI_FAIL;
		goto out;
	}
	if (ctx->json)
		printf("{\"epoch\": %" PRIu64 "}\n", e->via.u64);
	else
		printf("new keys (epoch %" PRIu64 ") sealed to every current member; new records use them\n",
		       e->via.u64);
out:
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_CHANGEOVER = CLI_OPT_FIRST_FREE };
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {"changeover", required_argument, NULL, OPT_CHANGEOVER},
	    {NULL, 0, NULL, 0},
	};
	const char *changeover = NULL;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__network_usage, stdout);
			return CLI_OK;
		}
		if (opt == OPT_CHANGEOVER) {
			changeover = optarg;
			continue;
		}
		if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("network", "bad option");
	}
	if (optind + 1 == argc && strcmp(argv[optind], "rotate-key") == 0) {
		if (cli_resolve_datadir(ctx, NULL) != 0)
			return CLI_FAIL;
		return cli__network_rotate(ctx, changeover);
	}
	if (optind + 2 != argc || strcmp(argv[optind], "join") != 0)
		return cli_usage_err("network", "say `network join FILE` or `network rotate-key`");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__network_join(ctx, argv[optind + 1]);
}
