/*
 * `tejido init`: a new identity and a single-node network in a data directory.
 * `tejido id`: the public key and fingerprint, read from DIR/id.pub so that it
 * works without the passphrase and without a running node.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "tj_keys.h"
#include "tj_node.h"

static const char cli__init_usage[] =
    "usage: tejido init [--data DIR] [--kdf interactive|moderate|sensitive] [--name NETWORK]\n"
    "                   [--stewards N] [--person NAME] [--no-network]\n\n"
    "Creates DIR (mode 0700) with a new identity, its key file sealed with a passphrase\n"
    "(asked twice, or read from TEJIDO_PASSPHRASE_FILE) and a single-node network.\n\n"
    "  --kdf LEVEL    Argon2id cost of the passphrase: interactive (64 MiB), moderate\n"
    "                 (default: 256 MiB, 4 passes), sensitive (1 GiB); `min` is for\n"
    "                 tests only (weak against guessing)\n"
    "  --name NAME    the network's name (default \"Tejido\"; --network NAME is the same)\n"
    "  --stewards N   steward approvals a membership change needs (default 1); this\n"
    "                 founder is the first steward and alone admits stewards\n"
    "                 (`member add --role steward`) until there are N\n"
    "  --person NAME  who holds this passphrase (default: $USER)\n"
    "  --no-network   an identity only: a steward admits it (`tejido member add`), then\n"
    "                 `tejido network join FILE` joins with the welcome bundle\n"
    "  --json         print the result as JSON\n";

static int cli__parse_kdf(const char *s, enum tj_kdf_level *kdf)
{
	if (strcmp(s, "min") == 0)
		*kdf = TJ_KDF_MIN;
	else if (strcmp(s, "interactive") == 0)
		*kdf = TJ_KDF_INTERACTIVE;
	else if (strcmp(s, "moderate") == 0)
		*kdf = TJ_KDF_MODERATE;
	else if (strcmp(s, "sensitive") == 0)
		*kdf = TJ_KDF_SENSITIVE;
	else
		return -EINVAL;
	return 0;
}

/* mkdir -p for the parents (0755 as usual), 0700 for DIR itself. */
static int cli__mkdir_data(const char *dir)
{
	char tmp[CLI_PATH_MAX];
	struct stat st;
	char *p;

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (stat(dir, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* An existing directory may have been created with a looser mode. */
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
		return -errno;
	return 0;
}

static int cli__write_id_pub(const char *dir, const uint8_t pk[32], char hex[65],
                             char fp[TJ_FINGERPRINT_CHARS])
{
	char path[CLI_PATH_MAX];
	char text[160];
	int n;

	tj_hex(pk, 32, hex);
	tj_fingerprint(pk, fp);
	n = snprintf(text, sizeof(text), "%s\n%s\n", hex, fp);
	if (cli_path(path, dir, "id.pub") != 0)
		return -ENAMETOOLONG;
	return cli_write_file_0600(path, text, (size_t)n);
}

static void cli__print_id(const struct cli_ctx *ctx, const char *hex, const char *fp)
{
	cJSON *o;

	if (!ctx->json) {
		printf("public key   %s\nfingerprint  %s\n", hex, fp);
		return;
	}
	o = cJSON_CreateObject();
	if (o != NULL && cJSON_AddStringToObject(o, "public_key", hex) != NULL &&
	    cJSON_AddStringToObject(o, "fingerprint", fp) != NULL)
		(void)cli_print_json(o);
	cJSON_Delete(o);
}

struct cli__init_args {
	enum tj_kdf_level kdf;
	const char *name;
	const char *person;
	bool no_network;
	unsigned stewards;
};

static int cli__init_parse(struct cli_ctx *ctx, int argc, char **argv, struct cli__init_args *a)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {"kdf", required_argument, NULL, 'k'},
	    {"name", required_argument, NULL, 'n'},
	    {"person", required_argument, NULL, 'p'},
	    {"no-network", no_argument, NULL, 'N'},
	    {"network", required_argument, NULL, 'n'},
	    {"stewards", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	a->kdf = TJ_KDF_MODERATE;
	a->name = NULL;
	a->no_network = false;
	a->stewards = 1;
	a->person = getenv("USER") != NULL && getenv("USER")[0] != '\0' ? getenv("USER") : "admin";
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__init_usage, stdout);
			return -1;
		} else if (opt == 'k' && cli__parse_kdf(optarg, &a->kdf) != 0) {
			return cli_usage_err("init", "--kdf: '%s' is not a level", optarg);
		} else if (opt == 'n') {
			a->name = optarg;
		} else if (opt == 'p') {
			a->person = optarg;
		} else if (opt == 'S') {
			char *end = NULL;
			unsigned long v = strtoul(optarg, &end, 10);

			if (end == optarg || *end != '\0' || v < 1 || v > 32)
				return cli_usage_err("init", "--stewards: '%s' is not a number from 1 to 32", optarg);
			a->stewards = (unsigned)v;
		} else if (opt == 'N') {
			a->no_network = true;
		} else if (opt != 'k' && cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("init", "bad option");
		}
	}
	if (optind < argc)
		return cli_usage_err("init", "unexpected argument '%s'", argv[optind]);
	if (strlen(a->person) >= TJ_PERSON_NAME_MAX)
		return cli_usage_err("init", "--person: at most %d bytes", TJ_PERSON_NAME_MAX - 1);
	return 0;
}

static int cli__init_keys(const struct cli_ctx *ctx, const struct cli__init_args *a, const char *keypath,
                          struct tj_unlocked **u)
{
	struct tj_identity *id = NULL;
	struct cli_pass pass = {0};
	char hex[65], fp[TJ_FINGERPRINT_CHARS];
	int rc;

	if ((rc = cli_pass_get(&pass, "New passphrase: ", true)) != 0)
		return CLI_FAIL;
	rc = tj_identity_generate(&id);
	if (rc == 0)
		rc = tj_keyfile_create(keypath, id, a->person, pass.buf, pass.len, a->kdf);
	if (rc == 0)
		rc = tj_keyfile_unlock(keypath, pass.buf, pass.len, u);
	if (rc == 0)
		rc = cli__write_id_pub(ctx->datadir, id->pk, hex, fp);
	cli_pass_free(&pass);
	tj_identity_free(id);
	if (rc != 0) {
		cli_err("cannot create the key file %s: %s", keypath, tj_strerror(rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

/*
 * A node goes into a new or empty directory: never over another node, and
 * never into a directory of other files (say, $HOME by mistake), which init
 * would make private and fill.
 */
static int cli__check_fresh(const char *dir)
{
	char keypath[CLI_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	bool empty = true;

	if (d == NULL)
		return CLI_OK; /* absent (or unreadable: mkdir will say) */
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	if (cli_path(keypath, dir, "key") == 0 && access(keypath, F_OK) == 0) {
		cli_err("%s already holds a node (%s exists); use another --data DIR", dir, keypath);
		return CLI_FAIL;
	}
	if (!empty) {
		cli_err("%s is not empty; give a new or empty directory with --data DIR", dir);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli__init_args a;
	struct tj_init_opts io = {0};
	struct tj_unlocked *u = NULL;
	char keypath[CLI_PATH_MAX], hex[65], fp[TJ_FINGERPRINT_CHARS];
	int rc;

	if ((rc = cli__init_parse(ctx, argc, argv, &a)) != 0)
		return rc < 0 ? CLI_OK : rc;
	if ((rc = cli_resolve_datadir(ctx, NULL)) != 0)
		return rc;
	if ((rc = cli__check_fresh(ctx->datadir)) != CLI_OK)
		return rc;
	if ((rc = cli__mkdir_data(ctx->datadir)) != 0) {
		cli_err("cannot create %s: %s", ctx->datadir, strerror(-rc));
		return CLI_FAIL;
	}
	if ((rc = cli_resolve_datadir(ctx, NULL)) != 0 || (rc = cli_path(keypath, ctx->datadir, "key")) != 0)
		return CLI_FAIL;
	if ((rc = cli__init_keys(ctx, &a, keypath, &u)) != CLI_OK)
		goto out;
	io.network_name = a.name;
	io.no_network = a.no_network;
	io.stewards_threshold = a.stewards;
	rc = tj_node_init(ctx->datadir, u, &io);
	if (rc != 0) {
		cli_err("cannot create the node's store in %s: %s", ctx->datadir, tj_strerror(rc));
		/* A key without a store is useless: destroy it rather than leave a secret behind. */
		if (tj_keyfile_destroy(keypath) != 0)
			cli_err("also failed to destroy %s", keypath);
		cli_err("nothing usable was created; remove %s and run `tejido init` again", ctx->datadir);
		rc = CLI_FAIL;
		goto out;
	}
	tj_hex(u->id->pk, 32, hex);
	tj_fingerprint(u->id->pk, fp);
	if (!ctx->json)
		printf("Created a new node in %s\n", ctx->datadir);
	cli__print_id(ctx, hex, fp);
	if (!ctx->json && a.no_network)
		printf("This node belongs to no network yet: read the key and fingerprint to a steward, who\n"
		       "admits it with `tejido member add`; then: tejido --data %s network join FILE\n",
		       ctx->datadir);
	else if (!ctx->json)
		printf("Start it with: tejido --data %s node start\n", ctx->datadir);
	rc = CLI_OK;
out:
	tj_unlocked_free(u);
	return rc;
}

static const char cli__id_usage[] = "usage: tejido id [--data DIR] [--json]\n\n"
                                    "Prints this node's public key (hex) and its fingerprint, to read aloud\n"
                                    "when another organization admits this node. Needs no passphrase.\n";

int cli_cmd_id(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char path[CLI_PATH_MAX], fp[TJ_FINGERPRINT_CHARS], hex[65];
	uint8_t pk[32];
	char *text = NULL;
	size_t len;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__id_usage, stdout);
			return CLI_OK;
		}
		if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("id", "bad option");
	}
	if (optind < argc)
		return cli_usage_err("id", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_resolve_datadir(ctx, NULL)) != 0 || (rc = cli_path(path, ctx->datadir, "id.pub")) != 0)
		return CLI_FAIL;
	rc = cli_read_file(path, 4096, &text, &len);
	if (rc != 0) {
		cli_err("cannot read %s: %s; is there a node here? create one with `tejido init`", path,
		        strerror(-rc));
		return CLI_FAIL;
	}
	/* The file is a convenience copy: trust only the key, recompute the fingerprint. */
	if (len >= 64 && (text[64] == '\n' || text[64] == '\0'))
		text[64] = '\0';
	if (len < 64 || tj_unhex(text, pk, 32) != 0) {
		cli_err("%s is damaged: its first line must be the 64-digit public key", path);
		free(text);
		return CLI_FAIL;
	}
	free(text);
	tj_hex(pk, 32, hex);
	tj_fingerprint(pk, fp);
	cli__print_id(ctx, hex, fp);
	return CLI_OK;
}
