#include "tj_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Written once at start-up, read by the loop thread; a plain int is enough. */
static enum tj_log_level tj__log_level = TJ_LOG_INFO;

static const char *const tj__level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void tj_log_set_level(enum tj_log_level level)
{
	if (level >= TJ_LOG_DEBUG && level <= TJ_LOG_ERROR)
		tj__log_level = level;
}

enum tj_log_level tj_log_get_level(void)
{
	return tj__log_level;
}

int tj_log_parse_level(const char *s, enum tj_log_level *out)
{
	if (s == NULL)
		return TJ_ECONFIG;
	if (strcmp(s, "debug") == 0)
		*out = TJ_LOG_DEBUG;
	else if (strcmp(s, "info") == 0)
		*out = TJ_LOG_INFO;
	else if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0)
		*out = TJ_LOG_WARN;
	else if (strcmp(s, "error") == 0)
		*out = TJ_LOG_ERROR;
	else
		return TJ_ECONFIG;
	return 0;
}

void tj_log(enum tj_log_level level, const char *module, const char *fmt, ...)
{
	char msg[512];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level < tj__log_level || level > TJ_LOG_ERROR)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line: stdio locks the stream, so lines never interleave. */
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000L, tj__level_names[level],
		module != NULL ? module : "-", msg);
}

const char *tj_log_hex(const uint8_t *p, char out[TJ_LOG_HEX_CHARS])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < 8; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[16] = '\0';
	return out;
}
