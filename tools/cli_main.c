/*
 * tejido: the command-line tool. `tejido <command> [options]`, like git or wg.
 * This file holds main(), the command table and the top-level help.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <sodium.h>

#include "cli.h"
#include "cli_alert.h"

static const struct cli_command cli__commands[] = {
    {"init", "create a new identity and a single-node network", cli_cmd_init},
    {"node", "start or stop the node daemon (node start | stop | status)", cli_cmd_node},
    {"add", "add incidents (interactive form, flags or --json FILE)", cli_cmd_add},
    {"list", "list incidents as a table or JSON", cli_cmd_list},
    {"show", "show one incident by id or unique prefix", cli_cmd_show},
    {"export", "export every incident as CSV or JSON", cli_cmd_export},
    {"id", "print this node's public key and fingerprint", cli_cmd_id},
    {"peer", "trust another node and see the sync state (peer add | list)", cli_cmd_peer},
    {"member", "admit a node and write its welcome; list members (member add | list)", cli_cmd_member},
    {"network", "join a network with a welcome bundle (network join FILE)", cli_cmd_network},
    {"vocab", "list the coded fields and their codes", cli_cmd_vocab},
    {"wipe", "panic wipe: destroy the key file and every key in memory", cli_cmd_wipe},
    {"unlock", "who may unlock this node (unlock add-person | remove-person | list)", cli_cmd_unlock},
    {"retract", "retract one of this node's records (--reason CODE)", cli_cmd_retract},
    {"share", "let other organizations read an incident's case face (--with ORG:KEY)", cli_cmd_share},
    {"circle", "named audiences with their own keys (circle create | add | remove | list)", cli_cmd_circle},
    {"alerts", "list alerts, or follow new ones (--follow)", cli_cmd_alerts},
    {"alert", "acknowledge or resolve an alert (alert ack | resolve ID)", cli_cmd_alert},
    {"subscribe", "choose the alerts a contact receives (states, severity, triggers)", cli_cmd_subscribe},
    {"query", "incidents filtered on any coded field and dates", cli_cmd_query},
    {"stats", "statistics by gender, aggressor, state, month... as table, CSV or JSON", cli_cmd_stats},
};

#define CLI_N_COMMANDS (sizeof(cli__commands) / sizeof(cli__commands[0]))

static void cli__help(FILE *f)
{
	size_t i;

	fprintf(f,
	        "usage: tejido [--data DIR] [--lang es|en] <command> [options]\n\n"
	        "Tejido: an encrypted peer-to-peer incident-sharing network for human-rights defenders.\n\n"
	        "Commands:\n");
	for (i = 0; i < CLI_N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", cli__commands[i].name, cli__commands[i].summary);
	fprintf(f,
	        "\nEvery command takes --help.\n\n"
	        "Environment:\n"
	        "  TEJIDO_DATA             data directory (default: $XDG_DATA_HOME/tejido or\n"
	        "                          ~/.local/share/tejido); --data DIR overrides it\n"
	        "  TEJIDO_PASSPHRASE_FILE  read the passphrase from this file (for scripts)\n"
	        "  LANG                    es* selects Spanish labels and messages; --lang overrides it\n\n"
	        "Exit codes:\n"
	        "  0  success\n"
	        "  1  failure (see the message)\n"
	        "  2  usage error (bad command line)\n"
	        "  3  invalid incident input: nothing was stored\n"
	        "  4  no node is running in the data directory\n"
	        "  5  wrong passphrase\n"
	        "  6  no such incident\n"
	        "  7  this node's keys were wiped\n");
}

/*
 * cJSON holds incidents' names and narratives while they are parsed and
 * printed: wipe every block it frees, so that no plaintext lingers in freed
 * heap memory. (malloc_usable_size covers the whole block.)
 */
static void cli__json_free(void *p)
{
	if (p != NULL)
		sodium_memzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * No core files: a crash must not write passphrases or narratives to disk.
 * The CLI reads passphrases and holds incidents' plaintext (add, show): no
 * core file, and not dumpable, so that no other process of the user reads its
 * memory and no crash handler (systemd-coredump, apport) stores it on disk;
 * the daemon it forks inherits both (node/tj_daemon.c says so again).
 * TJ_TEST_DUMPABLE=1 is the evidence tests' exception, as in the daemon.
 */
static void cli__harden(void)
{
	struct rlimit none = {0, 0};
	cJSON_Hooks hooks = {malloc, cli__json_free};
	const char *keep = getenv("TJ_TEST_DUMPABLE");

	(void)setrlimit(RLIMIT_CORE, &none);
	if (keep == NULL || strcmp(keep, "1") != 0)
		(void)prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
	cJSON_InitHooks(&hooks);
}

static const struct cli_command *cli__find(const char *name)
{
	size_t i;

	for (i = 0; i < CLI_N_COMMANDS; i++)
		if (strcmp(cli__commands[i].name, name) == 0)
			return &cli__commands[i];
	return NULL;
}

/* Global options come before the command: --data DIR, --lang L, --help, --version. */
static int cli__globals(struct cli_ctx *ctx, int argc, char **argv, int *first)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli__help(stdout);
			return -1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("tejido 0.1.0\n");
			return -1;
		}
		if ((strcmp(a, "--data") == 0 || strcmp(a, "--lang") == 0) && i + 1 < argc) {
			int opt = strcmp(a, "--data") == 0 ? CLI_OPT_DATA : CLI_OPT_LANG;
			if (cli_common_opt(ctx, opt, argv[i + 1]) != 0)
				return CLI_USAGE;
			i += 2;
			continue;
		}
		return cli_usage_err(NULL, "unknown option '%s'", a);
	}
	*first = i;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx;
	const struct cli_command *cmd;
	int first = 0;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	cli_default_lang(&ctx);
	if (sodium_init() < 0) {
		cli_err("libsodium failed to initialize");
		return CLI_FAIL;
	}
	cli__harden();
	rc = cli__globals(&ctx, argc, argv, &first);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	if (first >= argc) {
		cli__help(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[first], "help") == 0) {
		if (first + 1 < argc && (cmd = cli__find(argv[first + 1])) != NULL) {
			char *hargv[] = {argv[first + 1], (char *)"--help", NULL};
			return cmd->run(&ctx, 2, hargv);
		}
		cli__help(stdout);
		return CLI_OK;
	}
	cmd = cli__find(argv[first]);
	if (cmd == NULL)
		return cli_usage_err(NULL, "'%s' is not a tejido command", argv[first]);
	return cmd->run(&ctx, argc - first, argv + first);
}
