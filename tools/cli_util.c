/* Small helpers every command uses: options, paths, files, messages, output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tejido: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("tejido: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "\nRun `tejido %s --help` for usage.\n", cmd);
	else
		fputs("\nRun `tejido --help` for usage.\n", stderr);
	return CLI_USAGE;
}

int cli_parse_lang(const char *s, enum tj_lang *lang)
{
	if (strcmp(s, "es") == 0)
		*lang = TJ_LANG_ES;
	else if (strcmp(s, "en") == 0)
		*lang = TJ_LANG_EN;
	else
		return -EINVAL;
	return 0;
}

/* LC_ALL, then LC_MESSAGES, then LANG: the first one set decides, as in POSIX. */
void cli_default_lang(struct cli_ctx *ctx)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
	size_t i;

	ctx->lang = TJ_LANG_EN;
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v != NULL && v[0] != '\0') {
			if (strncmp(v, "es", 2) == 0)
				ctx->lang = TJ_LANG_ES;
			return;
		}
	}
}

int cli_common_opt(struct cli_ctx *ctx, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_DATA:
		if (arg[0] == '\0' || strlen(arg) >= sizeof(ctx->datadir) - 64) {
			cli_err("--data: '%s' is not a usable directory name", arg);
			return CLI_USAGE;
		}
		snprintf(ctx->datadir, sizeof(ctx->datadir), "%s", arg);
		return 0;
	case CLI_OPT_LANG:
		if (cli_parse_lang(arg, &ctx->lang) != 0) {
			cli_err("--lang: '%s' is not a language; use es or en", arg);
			return CLI_USAGE;
		}
		return 0;
	case CLI_OPT_JSON:
		ctx->json = true;
		return 0;
	default:
		return -1;
	}
}

/*
 * The data directory: --data, else TEJIDO_DATA, else $XDG_DATA_HOME/tejido,
 * else ~/.local/share/tejido. An existing directory is made absolute, because
 * the daemon changes its working directory to "/".
 */
int cli_resolve_datadir(struct cli_ctx *ctx, const char *flag)
{
	const char *env = getenv("TEJIDO_DATA");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char abs[PATH_MAX];
	int n;

	if (flag != NULL)
		n = snprintf(ctx->datadir, sizeof(ctx->datadir), "%s", flag);
	else if (ctx->datadir[0] != '\0')
		n = (int)strlen(ctx->datadir);
	else if (env != NULL && env[0] != '\0')
		n = snprintf(ctx->datadir, sizeof(ctx->datadir), "%s", env);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(ctx->datadir, sizeof(ctx->datadir), "%s/tejido", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(ctx->datadir, sizeof(ctx->datadir), "%s/.local/share/tejido", home);
	else {
		cli_err("no data directory: set HOME or TEJIDO_DATA, or pass --data DIR");
		return CLI_USAGE;
	}
	if (n < 0 || (size_t)n >= sizeof(ctx->datadir) - 64) {
		cli_err("the data directory name is too long");
		return CLI_USAGE;
	}
	if (realpath(ctx->datadir, abs) != NULL && strlen(abs) < sizeof(ctx->datadir) - 64)
		memcpy(ctx->datadir, abs, strlen(abs) + 1);
	return 0;
}

int cli_path(char out[CLI_PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, CLI_PATH_MAX, "%s/%s", dir, name);

	return (n < 0 || n >= CLI_PATH_MAX) ? -ENAMETOOLONG : 0;
}

int cli_exit_for(int err)
{
	switch (err) {
	case TJ_EPASSPHRASE:
		return CLI_PASSPHRASE;
	case TJ_ESCHEMA:
	case TJ_EMALFORMED:
	case TJ_EFUTURE:
		return CLI_INVALID;
	case TJ_ENOTFOUND:
		return CLI_NOTFOUND;
	case -ENOENT:
	case -ECONNREFUSED:
		return CLI_NONODE;
	default:
		return CLI_FAIL;
	}
}

uint64_t cli_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cli__read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1);
	char *grown;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t r;
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max ? max : cap * 2;
			if ((grown = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;
			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc;

	if (strcmp(path, "-") == 0)
		return cli__read_fd(STDIN_FILENO, max, out, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = cli__read_fd(fd, max, out, len);
	close(fd);
	return rc;
}

static int cli__write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_write_file_0600(const char *path, const void *buf, size_t len)
{
	char tmp[CLI_PATH_MAX];
	int fd, rc, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = cli__write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int cli_print_json(const cJSON *doc)
{
	char *s = cJSON_Print(doc);

	if (s == NULL) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	puts(s);
	cJSON_free(s);
	return CLI_OK;
}

size_t cli_utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void cli_print_padded(const char *s, size_t width)
{
	size_t w = cli_utf8_width(s);

	fputs(s, stdout);
	for (; w < width; w++)
		fputc(' ', stdout);
}
