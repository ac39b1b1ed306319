/*
 * `tejido node start|stop|status`: running the daemon.
 *
 * start unlocks the key file in the foreground (so a wrong passphrase is
 * reported at once, with exit code 5), then forks; the child starts a new
 * session, sends its output to DIR/node.log and runs tj_daemon_run() with a
 * pipe as ready_fd. The parent returns once the control socket answers a ping.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tj_control.h"
#include "tj_config.h"
#include "tj_node.h"

static const char cli__node_usage[] =
    "usage: tejido node start [--foreground] [--listen HOST:PORT]\n"
    "       tejido node stop\n"
    "       tejido node status [--json]\n\n"
    "  start          unlocks the key file (passphrase, or TEJIDO_PASSPHRASE_FILE), starts the\n"
    "                 daemon in the background (log: DIR/node.log, pid: DIR/node.pid) and\n"
    "                 returns once it answers\n"
    "  --foreground   stay in the foreground, logging to stderr (for systemd)\n"
    "  --listen ADDR  peer address to listen on (HOST:PORT, or off), overriding the\n"
    "                 config file's [node] listen; without either: 0.0.0.0:7654\n"
    "  stop           asks the node to stop and waits until it is gone\n"
    "  status         whether a node runs, and what it stores\n";

static void cli__sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One ping; 0 when the node answered ok. */
static int cli__ping(const char *datadir)
{
	struct cli_conn c;
	struct tj_mp_writer w;
	const char *msg;
	uint32_t msg_len;
	size_t len;
	int node_err, rc;

	if ((rc = cli_connect_quiet(datadir, &c)) != 0)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "ping");
	rc = tj_mp_writer_finish(&w, &len);
	if (rc == 0)
		rc = cli_call(&c, len, &node_err, &msg, &msg_len);
	cli_conn_close(&c);
	return rc;
}

static long cli__read_pid(const char *datadir)
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

/*
 * Where the node listens for peers when neither --listen nor the config file
 * says: TEJIDO_LISTEN_DEFAULT (the test suite sets "off" so that no test ever
 * binds a public interface), else 0.0.0.0:7654. Checked in cli__start.
 */
static const char *cli__listen_default(void)
{
	const char *e = getenv("TEJIDO_LISTEN_DEFAULT");

	return e != NULL && e[0] != '\0' ? e : TJ_LISTEN_DEFAULT;
}

/* The child: a new session, output to node.log, the daemon, then exit. Never returns. */
static void cli__daemon_child(const char *datadir, struct tj_unlocked *u, const char *listen, int ready_fd)
{
	struct tj_daemon_opts o = {.datadir = datadir, .unlocked = u, .listen = listen,
	                           .listen_default = cli__listen_default(), .ready_fd = ready_fd};
	char path[CLI_PATH_MAX], pidtext[32];
	int fd, rc, n;

	umask(077);
	if (setsid() < 0 || cli_path(path, datadir, "node.log") != 0)
		_exit(CLI_FAIL);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(CLI_FAIL);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_NOCTTY);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
		_exit(CLI_FAIL);
	close(fd);
	if (chdir("/") != 0)
		_exit(CLI_FAIL);
	n = snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	if (cli_path(path, datadir, "node.pid") == 0)
		(void)cli_write_file_0600(path, pidtext, (size_t)n);
	rc = tj_daemon_run(&o);
	if (rc != 0)
		fprintf(stderr, "tejido: the node stopped with an error: %s\n", tj_strerror(rc));
	if (cli_path(path, datadir, "node.pid") == 0)
		(void)unlink(path);
	exit(rc == 0 ? CLI_OK : CLI_FAIL);
}

/* Waits for the ready byte, then for a ping, both within CLI_START_TIMEOUT_S. */
static int cli__wait_ready(const struct cli_ctx *ctx, int rfd)
{
	struct pollfd pfd = {.fd = rfd, .events = POLLIN, .revents = 0};
	long waited = 0, step = 50, limit = CLI_START_TIMEOUT_S * 1000L;
	char byte;
	int pr;

	pr = poll(&pfd, 1, (int)limit);
	if (pr <= 0 || read(rfd, &byte, 1) != 1) {
		cli_err("the node did not start%s; see %s/node.log", pr == 0 ? " in time" : "", ctx->datadir);
		return CLI_FAIL;
	}
	while (cli__ping(ctx->datadir) != 0) {
		if (waited >= limit) {
			cli_err("the node started but does not answer on %s/%s; see %s/node.log",
			        ctx->datadir, TJ_CTL_SOCKET_NAME, ctx->datadir);
			return CLI_FAIL;
		}
		cli__sleep_ms(step);
		waited += step;
	}
	return CLI_OK;
}

static int cli__start(struct cli_ctx *ctx, bool foreground, const char *listen)
{
	struct tj_unlocked *u = NULL;
	struct tj_daemon_opts o = {.datadir = ctx->datadir, .listen = listen,
	                           .listen_default = cli__listen_default(), .ready_fd = -1};
	int pipefd[2];
	pid_t pid;
	int rc;

	if (cli__ping(ctx->datadir) == 0) {
		cli_err("a node is already running in %s; stop it with `tejido node stop`", ctx->datadir);
		return CLI_FAIL;
	}
	if (strcmp(cli__listen_default(), TJ_LISTEN_OFF) != 0 && tj_config_check_listen(cli__listen_default()) != 0)
		return cli_usage_err("node", "TEJIDO_LISTEN_DEFAULT must be HOST:PORT or off, not '%s'",
		                     cli__listen_default());
	if ((rc = cli_unlock(ctx, &u)) != CLI_OK)
		return rc;
	if (foreground) {
		o.unlocked = u;
		rc = tj_daemon_run(&o);
		if (rc != 0)
			cli_err("the node stopped with an error: %s", tj_strerror(rc));
		return rc == 0 ? CLI_OK : CLI_FAIL;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		cli_err("pipe: %s", strerror(errno));
		tj_unlocked_free(u);
		return CLI_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		cli__daemon_child(ctx->datadir, u, listen, pipefd[1]);
	}
	/* The parent's copy of the secrets is not needed any more. */
	tj_unlocked_free(u);
	close(pipefd[1]);
	if (pid < 0) {
		cli_err("fork: %s", strerror(errno));
		close(pipefd[0]);
		return CLI_FAIL;
	}
	rc = cli__wait_ready(ctx, pipefd[0]);
	close(pipefd[0]);
	/* A daemon that never became ready must not linger half-started. */
	if (rc != CLI_OK)
		(void)kill(pid, SIGTERM);
	if (rc == CLI_OK)
		printf("node running in %s (pid %ld); log: %s/node.log\n", ctx->datadir, (long)pid,
		       ctx->datadir);
	return rc;
}

/* A process that exists and is not a zombie (an unreaped daemon has finished its work). */
static bool cli__pid_alive(long pid)
{
	char path[64];
	char *stat = NULL;
	size_t len;
	bool alive;

	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (cli_read_file(path, 4096, &stat, &len) != 0)
		return true;
	/* "pid (comm) S ...": the state follows the last ')'. */
	alive = strrchr(stat, ')') == NULL || strrchr(stat, ')')[1] == '\0' || strrchr(stat, ')')[2] != 'Z';
	free(stat);
	return alive;
}

static int cli__stop(struct cli_ctx *ctx)
{
	struct cli_conn c;
	struct tj_mp_writer w;
	long waited = 0, step = 50, limit = CLI_STOP_TIMEOUT_S * 1000L;
	size_t len;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "stop");
	if (tj_mp_writer_finish(&w, &len) != 0)
		rc = CLI_FAIL;
	else
		rc = cli_call_or_report(&c, len, "stop");
	cli_conn_close(&c);
	if (rc != CLI_OK)
		return rc;
	/*
	 * Gone means: the socket refuses connections and the daemon has removed its
	 * pid file (its last act, after the store is closed). The pid check covers
	 * a daemon killed on the way out; a zombie never reaped counts as gone.
	 */
	while (cli__ping(ctx->datadir) == 0 || cli__pid_alive(cli__read_pid(ctx->datadir))) {
		if (waited >= limit) {
			cli_err("the node did not stop within %d s; see %s/node.log", CLI_STOP_TIMEOUT_S,
			        ctx->datadir);
			return CLI_FAIL;
		}
		cli__sleep_ms(step);
		waited += step;
	}
	printf("node stopped\n");
	return CLI_OK;
}

/* "key  value" lines; one nested map (peers) is printed indented under its key. */
static void cli__status_text(const msgpack_object *m, int indent)
{
	uint32_t i;

	for (i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    (kv->key.via.str.size == 2 && memcmp(kv->key.via.str.ptr, "ok", 2) == 0))
			continue;
		printf("%*s%-14.*s", indent, "", (int)kv->key.via.str.size, kv->key.via.str.ptr);
		if (kv->val.type == MSGPACK_OBJECT_MAP && indent == 2) {
			printf("\n");
			cli__status_text(&kv->val, 4);
			continue;
		}
		cli_obj_print(&kv->val);
		printf("\n");
	}
}

static int cli__status(struct cli_ctx *ctx)
{
	struct cli_conn c;
	struct tj_mp_writer w;
	size_t len;
	int rc;

	if ((rc = cli_connect(ctx, &c)) != CLI_OK)
		return rc;
	tj_mp_writer_init(&w, c.req, TJ_CTL_REQUEST_MAX_BYTES);
	tj_mp_put_map(&w, 1);
	tj_mp_put_cstr(&w, "op");
	tj_mp_put_cstr(&w, "status");
	rc = tj_mp_writer_finish(&w, &len) != 0 ? CLI_FAIL : cli_call_or_report(&c, len, "status");
	if (rc == CLI_OK && ctx->json) {
		cJSON *o = cli_obj_to_json(&c.obj, 0);
		rc = o == NULL ? CLI_FAIL : cli_print_json(o);
		cJSON_Delete(o);
	} else if (rc == CLI_OK) {
		printf("node running in %s\n", ctx->datadir);
		cli__status_text(&c.obj, 2);
	}
	cli_conn_close(&c);
	return rc;
}

int cli_cmd_node(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, CLI_OPT_DATA},
	    {"json", no_argument, NULL, CLI_OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"listen", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = NULL;
	bool foreground = false;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cli__node_usage, stdout);
			return CLI_OK;
		} else if (opt == 'f') {
			foreground = true;
		} else if (opt == 'l') {
			listen = optarg;
		} else if (cli_common_opt(ctx, opt, optarg) != 0) {
			return cli_usage_err("node", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_err("node",
		                     "say `tejido node start`, `tejido node stop` or `tejido node status`");
	if ((rc = cli_resolve_datadir(ctx, NULL)) != 0)
		return rc;
	if (strcmp(argv[optind], "start") == 0)
		return cli__start(ctx, foreground, listen);
	if (foreground || listen != NULL)
		return cli_usage_err("node", "--foreground and --listen go with `node start`");
	if (strcmp(argv[optind], "stop") == 0)
		return cli__stop(ctx);
	if (strcmp(argv[optind], "status") == 0)
		return cli__status(ctx);
	return cli_usage_err("node", "'%s' is not a node command; use start, stop or status", argv[optind]);
}
