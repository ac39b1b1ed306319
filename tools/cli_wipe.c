/*
 * `tejido wipe [--yes]`: the panic wipe (node/tj_wipe.h).
 *
 * Order, fastest protection first: the marker and the key file (what a seized
 * disk would give up), then the running node's memory (the "wipe" control
 * op overwrites its keys and stops it). A node that does not answer or does
 * not exit is killed: its keys go with its memory. The whole takes a few
 * milliseconds; the time is printed.
 *
 * Also here: cli_wipe_refuse(), which every command that unlocks the key file
 * calls first, so that a wiped node says so instead of "no key file".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tj_control.h"
#include "tj_wipe.h"

#define CLI__WIPE_EXIT_WAIT_MS 2000
#define CLI__WIPE_POLL_MS 2

static const char cli__wipe_usage[] =
    "usage: tejido wipe [--yes]\n\n"
    "  Panic wipe: overwrites and removes this node's key file, makes the running node\n"
    "  overwrite every key it holds in memory and stop. Everything else under the data\n"
    "  directory is ciphertext, so afterwards nothing there can be read, by anyone,\n"
    "  with any passphrase. There is no undo.\n\n"
    "  --yes   do not ask for confirmation (for scripts and panic buttons)\n\n"
    "Exit codes: 0 wiped; 1 the key file could not be destroyed (see the message);\n"
    "2 usage, or no terminal to confirm on without --yes.\n";

static double cli__mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void cli__sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int cli_wipe_refuse(const char *datadir)
{
	uint64_t at_ms = 0;
	char when[32] = "an unknown date";
	struct tm tm;
	time_t secs;

	if (tj_wipe_marker_read(datadir, &at_ms) != 0)
		return CLI_OK;
	secs = (time_t)(at_ms / 1000u);
	if (at_ms != 0 && gmtime_r(&secs, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	cli_err("this node's keys were wiped on %s; its data can no longer be read", when);
	cli_err("to start over, move %s away and run `tejido init` in an empty directory", datadir);
	return CLI_WIPED;
}

/* Asks on the terminal; true only for the exact answer. */
static bool cli__confirm(const char *datadir)
{
	FILE *tty = fopen("/dev/tty", "r+e");
	char line[32] = "";
	bool yes;

	if (tty == NULL)
		return false;
	fprintf(tty,
	        "This destroys the keys of the node in %s. Its data can never be read again.\n"
	        "Type WIPE to go on: ",
	        datadir);
	fflush(tty);
	yes = fgets(line, sizeof(line), tty) != NULL && strcmp(line, "WIPE\n") == 0;
	fclose(tty);
	return yes;
}

static long cli__node_pid(const char *datadir)
{
	char path[CLI_PATH_MAX];
	char *text = NULL;
	size_t len;
	long pid = 0;

	if (cli_path(path, datadir, "node.pid") == 0 && cli_read_file(path, 64, &text, &len) == 0) {
		pid = strtol(text, NULL, 10);
		free(text);
	}
	return pid > 0 ? pid : 0;
}

/* Exists and is not a zombie: an unreaped daemon has finished, memory and all. */
static bool cli__pid_alive(long pid)
{
	char path[64];
	char *stat = NULL;
	const char *paren;
	size_t len;
	bool alive;

	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (cli_read_file(path, 4096, &stat, &len) != 0)
		return kill((pid_t)pid, 0) == 0 || errno == EPERM;
	/* "pid (comm) S ...": the state follows the last ')'. */
	paren = strrchr(stat, ')');
	alive = paren == NULL || paren[1] == '\0' || paren[2] != 'Z';
	free(stat);
	return alive;
}

/* Waits for pid to exit; true once it is gone. */
static bool cli__wait_gone(long pid, long ms)
{
	for (long waited = 0; waited <= ms; waited += CLI__WIPE_POLL_MS) {
		if (!cli__pid_alive(pid))
			return true;
		cli__sleep_ms(CLI__WIPE_POLL_MS);
	}
	return false;
}

/*
 * The running node: the wipe op, then wait for it to exit. Returns "none"
 * (no node answered), "wiped" or "killed". A pid is only ever signalled after
 * the node answered on its control socket, so a stale pid file cannot make
 * this kill an unrelated process.
 */
static const char *cli__wipe_node(const char *datadir)
{
	struct tj_mp_writer w;
	struct cli_conn c;
	const char *msg;
	uint32_t msg_len;
	size_t len = 0;
	int node_err = 0, rc;
	long pid = cli__node_pid(datadir);

	if (cli_connect_quiet(datadir, &c) != 0)
		return "none";
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "wipe");
	rc = tj_mp_writer_finish(&w, &len);
	if (rc == 0)
		rc = cli_call(&c, len, &node_err, &msg, &msg_len);
	cli_conn_close(&c);
	if (pid == 0)
		return rc == 0 ? "wiped" : "none";
	if (rc == 0 && cli__wait_gone(pid, CLI__WIPE_EXIT_WAIT_MS))
		return "wiped";
	/* It did not wipe or did not exit: its keys die with its memory. */
	(void)kill((pid_t)pid, SIGKILL);
	(void)cli__wait_gone(pid, CLI__WIPE_EXIT_WAIT_MS);
	return "killed";
}

static int cli__wipe(const struct cli_ctx *ctx)
{
	double t0 = cli__mono_ms(), ms;
	const char *node;
	int rc;

	rc = tj_wipe_datadir(ctx->datadir, cli_now_ms());
	node = cli__wipe_node(ctx->datadir);
	ms = cli__mono_ms() - t0;
	if (rc != 0) {
		cli_err("the key file in %s could not be destroyed: %s; delete %s/key by any means",
		        ctx->datadir, tj_strerror(rc), ctx->datadir);
		return CLI_FAIL;
	}
	if (ctx->json) {
		printf("{\"wiped\": true, \"node\": \"%s\", \"elapsed_ms\": %.1f}\n", node, ms);
	} else {
		printf("wiped: key file destroyed; %s; in %.1f ms\n",
		       strcmp(node, "none") == 0    ? "no node was running"
		       : strcmp(node, "wiped") == 0 ? "the node overwrote its keys in memory and stopped"
		                                    : "the node did not answer and was killed",
		       ms);
	}
	return CLI_OK;
}

int cli_cmd_wipe(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"yes", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool yes = false;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "hy", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__wipe_usage, stdout);
			return CLI_OK;
		}
		if (opt == 'y')
			yes = true;
		else if (cli_common_opt(ctx, opt, optarg) != 0)
			return cli_usage_err("wipe", "bad option");
	}
	if (optind != argc)
		return cli_usage_err("wipe", "wipe takes no arguments");
	if (cli_resolve_datadir(ctx, NULL) != 0)
		return CLI_FAIL;
	if (!yes && !isatty(STDIN_FILENO))
		return cli_usage_err("wipe", "no terminal to confirm on; pass --yes to wipe without asking");
	if (!yes && !cli__confirm(ctx->datadir)) {
		cli_err("not wiped");
		return CLI_FAIL;
	}
	return cli__wipe(ctx);
}
