#include "tj_config.h"
#include "tj_node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <uv.h>

/* Parsing state shared by the line reader and the handler. */
struct tj__cfg_ctx {
	const char *p;
	const char *end;
	unsigned line;      /* of the line the reader handed out last */
	struct tj_config *cfg;
	char *err;          /* TJ_CONFIG_ERR_MAX bytes */
	int failed;
};

static void tj__cfg_fail(struct tj__cfg_ctx *c, const char *what, const char *name)
{
	if (c->failed)
		return; /* keep the first error: later ones are often its echo */
	c->failed = 1;
	snprintf(c->err, TJ_CONFIG_ERR_MAX, "%s line %u: %s%s%s", TJ_CONFIG_FILE_NAME, c->line, what,
		 name != NULL ? " " : "", name != NULL ? name : "");
}

/* An fgets over the buffer, counting lines, so errors carry their line. */
static char *tj__cfg_reader(char *str, int num, void *stream)
{
	struct tj__cfg_ctx *c = stream;
	size_t n = 0;

	if (c->p >= c->end || num < 2)
		return NULL;
	c->line++;
	while (c->p < c->end && n < (size_t)num - 1) {
		char ch = *c->p++;
		/* An embedded NUL would hide the rest of the line from inih. */
		if (ch == '\0') {
			tj__cfg_fail(c, "NUL byte in line", NULL);
			ch = ' ';
		}
		str[n++] = ch;
		if (ch == '\n')
			break;
	}
	str[n] = '\0';
	if (n > 0 && str[n - 1] != '\n' && c->p < c->end) {
		tj__cfg_fail(c, "line too long", NULL);
		/* Skip the rest so it is not read as a line of its own. */
		while (c->p < c->end && *c->p++ != '\n')
			;
	}
	return str;
}

static int tj__parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *endp = NULL;
	unsigned long long x;

	if (v[0] < '0' || v[0] > '9')
		return TJ_ECONFIG;
	errno = 0;
	x = strtoull(v, &endp, 10);
	if (errno != 0 || *endp != '\0' || x < min || x > max)
		return TJ_ECONFIG;
	*out = (uint64_t)x;
	return 0;
}

int tj_config_check_listen(const char *s)
{
	char host[TJ_CONFIG_LISTEN_MAX];
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t hl;

	if (colon == NULL || colon == s)
		return TJ_ECONFIG;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return TJ_ECONFIG;
	if (tj__parse_u64(colon + 1, 1, 65535, &port) != 0)
		return TJ_ECONFIG;
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return TJ_ECONFIG;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		return uv_ip6_addr(host, (int)port, &a6) == 0 ? 0 : TJ_ECONFIG;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	return uv_ip4_addr(host, (int)port, &a4) == 0 ? 0 : TJ_ECONFIG;
}

/* [peers]: the liveness timers (tj_peer.h). */
static int tj__cfg_peers(struct tj__cfg_ctx *c, const char *name, const char *value)
{
	uint64_t v;

	if (strcmp(name, "ping_s") == 0) {
		if (tj__parse_u64(value, 1, TJ_CONFIG_PING_S_MAX, &v) != 0) {
			tj__cfg_fail(c, "ping_s must be a whole number of seconds from 1 to 3600", NULL);
			return 0;
		}
		c->cfg->peer_ping_s = (uint32_t)v;
	} else if (strcmp(name, "dead_s") == 0) {
		if (tj__parse_u64(value, 2, TJ_CONFIG_DEAD_S_MAX, &v) != 0) {
			tj__cfg_fail(c, "dead_s must be a whole number of seconds from 2 to 86400", NULL);
			return 0;
		}
		c->cfg->peer_dead_s = (uint32_t)v;
	} else {
		tj__cfg_fail(c, "unknown key in [peers]:", name);
		return 0;
	}
	return 1;
}

static int tj__cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	struct tj__cfg_ctx *c = user;
	struct tj_config *cfg = c->cfg;

	if (strcmp(section, "alerts") == 0) {
		const char *why = NULL;
		if (tj_alert_config_set(&cfg->alerts, name, value, &why) != 0) {
			tj__cfg_fail(c, why, strcmp(why, "unknown key in [alerts]:") == 0 ? name : NULL);
			return 0;
		}
		return 1;
	}
	if (strcmp(section, "peers") == 0)
		return tj__cfg_peers(c, name, value);
	if (strcmp(section, "node") != 0) {
		tj__cfg_fail(c, "unknown section", section);
		return 0;
	}
	if (strcmp(name, "listen") == 0) {
		if (value[0] != '\0' && strcmp(value, TJ_LISTEN_OFF) != 0 && tj_config_check_listen(value) != 0) {
			tj__cfg_fail(c, "listen must be HOST:PORT (e.g. 0.0.0.0:7654 or [::1]:7654) or off", NULL);
			return 0;
		}
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", value);
	} else if (strcmp(name, "log_level") == 0) {
		if (tj_log_parse_level(value, &cfg->log_level) != 0) {
			tj__cfg_fail(c, "log_level must be one of debug, info, warn, error", NULL);
			return 0;
		}
	} else if (strcmp(name, "map_size_mb") == 0) {
		if (tj__parse_u64(value, TJ_CONFIG_MAP_SIZE_MB_MIN, TJ_CONFIG_MAP_SIZE_MB_MAX, &cfg->map_size_mb) != 0) {
			tj__cfg_fail(c, "map_size_mb must be a whole number from 16 to 1048576", NULL);
			return 0;
		}
	} else {
		tj__cfg_fail(c, "unknown key in [node]:", name);
		return 0;
	}
	return 1;
}

void tj_config_defaults(struct tj_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = TJ_LOG_INFO;
	cfg->map_size_mb = TJ_CONFIG_MAP_SIZE_MB_DEFAULT;
	cfg->peer_ping_s = TJ_CONFIG_PING_S_DEFAULT;
	cfg->peer_dead_s = TJ_CONFIG_DEAD_S_DEFAULT;
	tj_alert_config_defaults(&cfg->alerts);
}

int tj_config_parse(const char *text, size_t len, struct tj_config *cfg, char err[TJ_CONFIG_ERR_MAX])
{
	struct tj__cfg_ctx c = {.p = text, .end = text + len, .cfg = cfg, .err = err};
	int rc;

	err[0] = '\0';
	if (len > TJ_CONFIG_FILE_MAX_BYTES) {
		snprintf(err, TJ_CONFIG_ERR_MAX, "%s is larger than %u bytes", TJ_CONFIG_FILE_NAME,
			 TJ_CONFIG_FILE_MAX_BYTES);
		return TJ_ECONFIG;
	}
	rc = ini_parse_stream(tj__cfg_reader, &c, tj__cfg_handler, &c);
	if (rc > 0 && !c.failed) {
		/* A syntax error: inih never called the handler for that line. */
		snprintf(err, TJ_CONFIG_ERR_MAX, "%s line %d: not a [section] or key = value line",
			 TJ_CONFIG_FILE_NAME, rc);
		return TJ_ECONFIG;
	}
	if (rc != 0 || c.failed)
		return rc < 0 ? -ENOMEM : TJ_ECONFIG;
	if (cfg->peer_dead_s <= cfg->peer_ping_s) {
		snprintf(err, TJ_CONFIG_ERR_MAX, "%s line %u: [peers] dead_s must be more than ping_s (%u)",
			 TJ_CONFIG_FILE_NAME, c.line, (unsigned)cfg->peer_ping_s);
		return TJ_ECONFIG;
	}
	return 0;
}

static int tj__read_small_file(const char *path, char **out, size_t *out_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > TJ_CONFIG_FILE_MAX_BYTES) {
		rc = TJ_ELIMIT;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : TJ_ETRUNC;
			goto out;
		}
		got += (size_t)r;
	}
	*out = buf;
	*out_len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int tj_config_load(const char *datadir, struct tj_config *cfg, char err[TJ_CONFIG_ERR_MAX])
{
	char path[4096];
	char *text = NULL;
	size_t len = 0;
	int rc, n;

	tj_config_defaults(cfg);
	err[0] = '\0';
	n = snprintf(path, sizeof(path), "%s/%s", datadir, TJ_CONFIG_FILE_NAME);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	rc = tj__read_small_file(path, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc != 0) {
		snprintf(err, TJ_CONFIG_ERR_MAX, "cannot read %.160s: %.60s", path, tj_strerror(rc));
		return TJ_ECONFIG;
	}
	rc = tj_config_parse(text, len, cfg, err);
	free(text);
	return rc;
}
