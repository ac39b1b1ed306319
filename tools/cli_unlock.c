/*
 * `tejido unlock add-person | remove-person | list`: who may unlock this
 * node. Each person has their own Argon2id slot in the key file
 * (crypto/tj_keyfile.h), so a departing staff member's passphrase is removed
 * without telling everyone a new one.
 *
 * Changes take a lock (DIR/key.lock) so that two of them cannot interleave
 * their rewrites of the key file; the running node does not hold the key
 * file, so it need not stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli.h"

static const char cli__unlock_usage[] =
    "usage: tejido unlock add-person NAME [--kdf interactive|moderate|sensitive]\n"
    "                                     [--new-passphrase-file FILE]\n"
    "       tejido unlock remove-person NAME\n"
    "       tejido unlock list [--json]\n\n"
    "  add-person     lets one more person unlock this node with their own passphrase.\n"
    "                 Asks a current passphrase (anyone's) and the new person's, twice.\n"
    "  remove-person  removes a person's passphrase (asks a current passphrase). The\n"
    "                 last person cannot be removed. WARNING: a copy of the key file\n"
    "                 made before still opens with the removed passphrase; if the\n"
    "                 person may have kept one, move to a new node identity.\n"
    "  list           who can unlock this node (no passphrase needed)\n\n"
    "For scripts: TEJIDO_PASSPHRASE_FILE holds a current passphrase;\n"
    "TEJIDO_NEW_PASSPHRASE_FILE (or --new-passphrase-file) the new person's.\n";

struct cli__unlock_args {
	const char *verb;
	const char *name;
	const char *new_file;
	enum tj_kdf_level kdf;
};

static int cli__parse_kdf(const char *s, enum tj_kdf_level *kdf)
{
	static const struct {
		const char *name;
		enum tj_kdf_level level;
	} levels[] = {{"min", TJ_KDF_MIN},
	              {"interactive", TJ_KDF_INTERACTIVE},
	              {"moderate", TJ_KDF_MODERATE},
	              {"sensitive", TJ_KDF_SENSITIVE}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*kdf = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

/* An exclusive lock on DIR/key.lock, held until *fd is closed. */
static int cli__lock(const struct cli_ctx *ctx, int *fd)
{
	char path[CLI_PATH_MAX];

	*fd = -1;
	if (cli_path(path, ctx->datadir, "key.lock") != 0)
		return -ENAMETOOLONG;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return -errno;
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int err = -errno;
			close(*fd);
			*fd = -1;
			return err;
		}
	}
	return 0;
}

/*
 * The new person's passphrase: from the file given, else on the terminal
 * (twice). cli_pass_get reads TEJIDO_PASSPHRASE_FILE, which by now served the
 * current passphrase: point it at the new file, or drop it to ask.
 */
static int cli__new_pass(const struct cli__unlock_args *a, struct cli_pass *p)
{
	char prompt[128];
	const char *file = a->new_file != NULL ? a->new_file : getenv("TEJIDO_NEW_PASSPHRASE_FILE");

	if (file != NULL && file[0] != '\0')
		(void)setenv("TEJIDO_PASSPHRASE_FILE", file, 1);
	else
		(void)unsetenv("TEJIDO_PASSPHRASE_FILE");
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", a->name);
	return cli_pass_get(p, prompt, true);
}

static int cli__add_person(const struct cli_ctx *ctx, const struct cli__unlock_args *a, const char *path)
{
	struct tj_unlocked *u = NULL;
	struct cli_pass np = {0};
	int rc;

	if ((rc = cli_unlock(ctx, &u)) != CLI_OK)
		return rc;
	if (cli__new_pass(a, &np) != 0) {
		tj_unlocked_free(u);
		return CLI_FAIL;
	}
	rc = tj_keyfile_add_person(path, u, a->name, np.buf, np.len, a->kdf);
	cli_pass_free(&np);
	tj_unlocked_free(u);
	switch (rc) {
	case 0:
		printf("%s can now unlock this node with their own passphrase\n", a->name);
		return CLI_OK;
	case TJ_EEXIST:
		cli_err("%s already has a passphrase here; remove-person first to change it", a->name);
		return CLI_FAIL;
	case TJ_ELIMIT:
		cli_err("all %d passphrase slots are used; remove someone first", TJ_KEYFILE_SLOTS_MAX);
		return CLI_FAIL;
	default:
		cli_err("cannot add %s: %s", a->name, tj_strerror(rc));
		return rc == -EINVAL || rc == TJ_EMALFORMED ? CLI_USAGE : CLI_FAIL;
	}
}

static int cli__remove_person(const struct cli_ctx *ctx, const struct cli__unlock_args *a, const char *path)
{
	struct tj_unlocked *u = NULL;
	int rc;

	/* Only someone who can unlock the node may change who can. */
	if ((rc = cli_unlock(ctx, &u)) != CLI_OK)
		return rc;
	tj_unlocked_free(u);
	rc = tj_keyfile_remove_person(path, a->name);
	switch (rc) {
	case 0:
		printf("%s can no longer unlock this node\n", a->name);
		return CLI_OK;
	case TJ_ENOTFOUND:
		cli_err("%s has no passphrase here; see `tejido unlock list`", a->name);
		return CLI_NOTFOUND;
	case TJ_ESTATE:
		cli_err("%s is the only person who can unlock this node; add another person first", a->name);
		return CLI_FAIL;
	default:
		cli_err("cannot remove %s: %s", a->name, tj_strerror(rc));
		return CLI_FAIL;
	}
}

static int cli__list(const struct cli_ctx *ctx, const char *path)
{
	char names[TJ_KEYFILE_SLOTS_MAX][TJ_PERSON_NAME_MAX];
	size_t n = 0;
	cJSON *doc;
	int rc;

	if ((rc = tj_keyfile_people(path, names, &n)) != 0) {
		cli_err("cannot read %s: %s", path, tj_strerror(rc));
		return CLI_FAIL;
	}
	if (!ctx->json) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		return CLI_OK;
	}
	if ((doc = cJSON_CreateArray()) == NULL)
		return CLI_FAIL;
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(doc, cJSON_CreateString(names[i]));
	rc = cli_print_json(doc);
	cJSON_Delete(doc);
	return rc;
}

static int cli__unlock_run(const struct cli_ctx *ctx, const struct cli__unlock_args *a)
{
	char path[CLI_PATH_MAX];
	int lock = -1, rc;

	if ((rc = cli_wipe_refuse(ctx->datadir)) != CLI_OK)
		return rc;
	if (cli_path(path, ctx->datadir, "key") != 0 || access(path, F_OK) != 0) {
		cli_err("no key file in %s; create a node there with `tejido init`", ctx->datadir);
		return CLI_FAIL;
	}
	if (strcmp(a->verb, "list") == 0)
		return cli__list(ctx, path);
	if ((rc = cli__lock(ctx, &lock)) != 0) {
		cli_err("cannot lock %s/key.lock: %s", ctx->datadir, strerror(-rc));
		return CLI_FAIL;
	}
	if (strcmp(a->verb, "add-person") == 0)
		rc = cli__add_person(ctx, a, path);
	else
		rc = cli__remove_person(ctx, a, path);
	close(lock);
	return rc;
}

int cli_cmd_unlock(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"kdf", required_argument, NULL, 'k'},
	    {"new-passphrase-file", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct cli__unlock_args a = {.kdf = TJ_KDF_MODERATE};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__unlock_usage, stdout);
			return CLI_OK;
		} else if (opt == 'k') {
			if (cli__parse_kdf(optarg, &a.kdf) != 0)
				return cli_usage_err("unlock", "--kdf: '%s' is not a level", optarg);
		} else if (opt == 'n') {
			a.new_file = optarg;
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("unlock", "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_err("unlock", "say add-person NAME, remove-person NAME or list");
	a.verb = argv[optind];
	if (strcmp(a.verb, "list") == 0) {
		if (optind + 1 != argc)
			return cli_usage_err("unlock", "list takes no arguments");
	} else if (strcmp(a.verb, "add-person") == 0 || strcmp(a.verb, "remove-person") == 0) {
		if (optind + 2 != argc || argv[optind + 1][0] == '\0')
			return cli_usage_err("unlock", "%s needs one NAME", a.verb);
		a.name = argv[optind + 1];
		if (strlen(a.name) >= TJ_PERSON_NAME_MAX)
			return cli_usage_err("unlock", "NAME is longer than %d bytes",
			                     TJ_PERSON_NAME_MAX - 1);
	} else {
		return cli_usage_err("unlock", "unknown verb '%s'", a.verb);
	}
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	return cli__unlock_run(ctx, &a);
}
