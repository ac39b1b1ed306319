/*
 * Passphrases: from TEJIDO_PASSPHRASE_FILE for scripts, otherwise asked on the
 * terminal with echo off. They live in sodium_malloc memory and are wiped as
 * soon as the key file has used them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

void cli_pass_free(struct cli_pass *p)
{
	if (p->buf != NULL)
		sodium_free(p->buf); /* wipes before freeing */
	p->buf = NULL;
	p->len = 0;
}

static int cli__pass_alloc(struct cli_pass *p)
{
	p->buf = sodium_malloc(CLI_PASS_MAX + 1);
	if (p->buf == NULL)
		return -ENOMEM;
	sodium_memzero(p->buf, CLI_PASS_MAX + 1);
	p->len = 0;
	return 0;
}

/* Reads the first line of the file; the trailing newline is not part of the passphrase. */
static int cli__pass_from_file(struct cli_pass *p, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t n = 0;
	ssize_t r;

	if (fd < 0) {
		int err = -errno;
		cli_err("TEJIDO_PASSPHRASE_FILE: cannot open %s: %s", path, strerror(-err));
		return err;
	}
	/* Not fatal (the file may sit on a private volume), but worth knowing. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		cli_err("warning: %s can be read by other users; `chmod 600 %s`", path, path);
	while (n < CLI_PASS_MAX) {
		r = read(fd, p->buf + n, CLI_PASS_MAX - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p->buf[n] = '\0';
	p->len = strcspn(p->buf, "\r\n");
	sodium_memzero(p->buf + p->len, CLI_PASS_MAX + 1 - p->len);
	if (p->len == 0) {
		cli_err("TEJIDO_PASSPHRASE_FILE: %s holds no passphrase", path);
		return -EINVAL;
	}
	return 0;
}

/*
 * Ctrl-C while echo is off must not leave the terminal mute: the handler puts
 * the saved settings back (tcsetattr is async-signal-safe), then dies of the
 * same signal as it would have.
 */
static struct termios cli__saved_tty;
static volatile sig_atomic_t cli__tty_fd = -1;
static const int cli__tty_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP};
#define CLI_N_TTY_SIGNALS (sizeof(cli__tty_signals) / sizeof(cli__tty_signals[0]))

static void cli__tty_restore(int sig)
{
	if (cli__tty_fd >= 0)
		(void)tcsetattr(cli__tty_fd, TCSAFLUSH, &cli__saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void cli__tty_guard(bool on, struct sigaction old[CLI_N_TTY_SIGNALS])
{
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli__tty_restore;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < CLI_N_TTY_SIGNALS; i++) {
		if (on)
			(void)sigaction(cli__tty_signals[i], &sa, &old[i]);
		else
			(void)sigaction(cli__tty_signals[i], &old[i], NULL);
	}
}

/* One line from the terminal with echo off; the terminal is restored on every path. */
static int cli__ask_tty(FILE *tty, const char *prompt, char *buf, size_t *len)
{
	struct sigaction old_sa[CLI_N_TTY_SIGNALS];
	struct termios quiet;
	int fd = fileno(tty);
	int rc = 0;
	size_t n = 0;
	int ch;

	fprintf(tty, "%s", prompt);
	fflush(tty);
	if (tcgetattr(fd, &cli__saved_tty) != 0)
		return -errno;
	quiet = cli__saved_tty;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	cli__tty_fd = fd;
	cli__tty_guard(true, old_sa);
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		rc = -errno;
		goto out;
	}
	while ((ch = fgetc(tty)) != EOF && ch != '\n') {
		if (n < CLI_PASS_MAX)
			buf[n++] = (char)ch;
		else
			rc = -E2BIG;
	}
	if (ch == EOF && n == 0)
		rc = -EIO;
	fputc('\n', tty);
out:
	(void)tcsetattr(fd, TCSAFLUSH, &cli__saved_tty);
	cli__tty_guard(false, old_sa);
	cli__tty_fd = -1;
	buf[n] = '\0';
	*len = n;
	return rc;
}

static int cli__pass_from_tty(struct cli_pass *p, const char *prompt, bool confirm)
{
	FILE *tty = fopen("/dev/tty", "r+e");
	char *again = NULL;
	size_t again_len = 0;
	int rc;

	if (tty == NULL) {
		cli_err(
		    "no terminal to ask the passphrase on; set TEJIDO_PASSPHRASE_FILE to a file holding it");
		return -ENOTTY;
	}
	setvbuf(tty, NULL, _IONBF, 0); /* no stdio copy of the passphrase */
	rc = cli__ask_tty(tty, prompt, p->buf, &p->len);
	if (rc == 0 && p->len == 0) {
		cli_err("the passphrase is empty");
		rc = -EINVAL;
	}
	if (rc == 0 && confirm) {
		again = sodium_malloc(CLI_PASS_MAX + 1);
		rc =
		    again == NULL ? -ENOMEM : cli__ask_tty(tty, "Repeat the passphrase: ", again, &again_len);
		if (rc == 0 && (again_len != p->len || sodium_memcmp(again, p->buf, p->len) != 0)) {
			cli_err("the two passphrases differ; nothing was created");
			rc = -EINVAL;
		}
	}
	if (again != NULL)
		sodium_free(again);
	fclose(tty);
	if (rc == -E2BIG)
		cli_err("the passphrase is longer than %d bytes", CLI_PASS_MAX);
	return rc;
}

int cli_pass_get(struct cli_pass *p, const char *prompt, bool confirm)
{
	const char *file = getenv("TEJIDO_PASSPHRASE_FILE");
	int rc;

	if ((rc = cli__pass_alloc(p)) != 0)
		return rc;
	if (file != NULL && file[0] != '\0')
		rc = cli__pass_from_file(p, file);
	else
		rc = cli__pass_from_tty(p, prompt, confirm);
	if (rc != 0)
		cli_pass_free(p);
	return rc;
}

int cli_unlock(const struct cli_ctx *ctx, struct tj_unlocked **u)
{
	struct cli_pass pass = {0};
	char path[CLI_PATH_MAX];
	int rc;

	if ((rc = cli_wipe_refuse(ctx->datadir)) != CLI_OK)
		return rc;
	if (cli_path(path, ctx->datadir, "key") != 0 || access(path, F_OK) != 0) {
		cli_err("no key file in %s; create a node there with `tejido init`", ctx->datadir);
		return CLI_FAIL;
	}
	if (cli_pass_get(&pass, "Passphrase: ", false) != 0)
		return CLI_FAIL;
	rc = tj_keyfile_unlock(path, pass.buf, pass.len, u);
	cli_pass_free(&pass);
	if (rc == TJ_EPASSPHRASE) {
		cli_err("wrong passphrase for %s", path);
		return CLI_PASSPHRASE;
	}
	if (rc != 0) {
		cli_err("cannot unlock %s: %s", path, tj_strerror(rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}
