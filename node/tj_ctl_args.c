/* Request arguments and error replies shared by the control ops (tj_ctl_server.h). */
#include "tj_ctl_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

int tj_ctl_failf(struct tj_ctl_reply *out, int err, const char *fmt, ...)
{
	char msg[TJ_CTL_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tj_ctl_error_reply(err, msg, out);
}

int tj_ctl_arg(const uint8_t *req, size_t len, const char *key, struct tj_mp_reader *r)
{
	const char *k;
	uint32_t n, klen;
	int rc;

	tj_mp_reader_init(r, req, len);
	if ((rc = tj_mp_read_map(r, &n)) != 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj_mp_read_str(r, &k, &klen)) != 0)
			return rc;
		if (klen == strlen(key) && memcmp(k, key, klen) == 0)
			return tj_mp_peek_nil(r) ? TJ_ENOTFOUND : 0;
		if ((rc = tj_mp_skip(r)) != 0)
			return rc;
	}
	return TJ_ENOTFOUND;
}

int tj_ctl_arg_str(const uint8_t *req, size_t len, const char *key, char *out, size_t cap)
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n;
	int rc = tj_ctl_arg(req, len, key, &r);

	out[0] = '\0';
	if (rc == 0)
		rc = tj_mp_read_str(&r, &s, &n);
	if (rc != 0)
		return rc;
	if (n >= cap || memchr(s, '\0', n) != NULL)
		return TJ_ELIMIT;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int tj_ctl_reply_finish(struct tj_mp_writer *w, uint8_t *buf, size_t cap, struct tj_ctl_reply *out,
                        const char *what)
{
	size_t n = 0;

	if (tj_mp_writer_finish(w, &n) != 0) {
		sodium_memzero(buf, cap);
		free(buf);
		return what != NULL ? tj_ctl_failf(out, TJ_ELIMIT, "%s: the reply does not fit", what)
		                    : tj_ctl_error_reply(TJ_ELIMIT, "the reply does not fit", out);
	}
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	out->buf = buf;
	out->len = n + 4;
	return 0;
}
