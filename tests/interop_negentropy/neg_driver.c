/*
 * Test driver: one Tejido negentropy session over stdin/stdout, so that a
 * Node.js script can pit it against nostr-tools' implementation.
 *
 *   tj_neg_driver responder|initiator ITEMS_FILE FRAME_LIMIT_BYTES
 *
 * ITEMS_FILE holds one item per line: "<ts decimal> <id as 64 hex digits>".
 * Messages travel as one line of lower-case hex each.
 *   responder: reads a message, writes the reply; until end of input.
 *   initiator: writes the first message; then reads each reply and writes the
 *     next message, or, when reconciliation is complete, the lines
 *     "done", "have <id>"..., "need <id>"..., "end" and exits.
 * On any error it writes "error <TJ_NAME>" and exits with status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_negentropy.h"

static int load_items(const char *path, struct tj_neg_storage **out)
{
	FILE *f = fopen(path, "r");
	struct tj_neg_item *v = NULL;
	size_t n = 0, cap = 0, linecap = 0;
	char *line = NULL;
	int rc = 0;

	if (f == NULL)
		return -errno;
	while (getline(&line, &linecap, f) > 0) {
		char hex[2 * TJ_NEG_ID_BYTES + 1];
		unsigned long long ts;
		size_t got = 0;
		if (sscanf(line, "%20llu %64s", &ts, hex) != 2) {
			rc = TJ_EMALFORMED;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			struct tj_neg_item *nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n].ts = ts;
		if (sodium_hex2bin(v[n].id, TJ_NEG_ID_BYTES, hex, strlen(hex), NULL, &got, NULL) != 0 ||
		    got != TJ_NEG_ID_BYTES) {
			rc = TJ_EMALFORMED;
			goto out;
		}
		n++;
	}
	rc = tj_neg_storage_new(v, n, 0, out);
out:
	free(line);
	free(v);
	fclose(f);
	return rc;
}

static int put_hex(const uint8_t *p, size_t n)
{
	char buf[2 * 4096 + 1];
	for (size_t at = 0; at < n; at += 4096) {
		size_t k = n - at < 4096 ? n - at : 4096;
		sodium_bin2hex(buf, sizeof(buf), p + at, k);
		if (fputs(buf, stdout) == EOF)
			return -EIO;
	}
	return 0;
}

static int put_line(const char *prefix, const uint8_t *p, size_t n)
{
	if (prefix != NULL && fputs(prefix, stdout) == EOF)
		return -EIO;
	int rc = put_hex(p, n);
	if (rc == 0 && (fputc('\n', stdout) == EOF || fflush(stdout) == EOF))
		rc = -EIO;
	return rc;
}

/* Reads one hex line into *buf (grown as needed). Returns 1 at end of input. */
static int get_msg(char **line, size_t *linecap, uint8_t **buf, size_t *len)
{
	ssize_t n = getline(line, linecap, stdin);
	if (n < 0)
		return 1;
	while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
		(*line)[--n] = '\0';
	if (n % 2 != 0)
		return TJ_EMALFORMED;
	uint8_t *b = realloc(*buf, (size_t)n / 2 + 1);
	if (b == NULL)
		return -ENOMEM;
	*buf = b;
	if (sodium_hex2bin(b, (size_t)n / 2, *line, (size_t)n, NULL, len, NULL) != 0 || *len != (size_t)n / 2)
		return TJ_EMALFORMED;
	return 0;
}

static int print_results(const struct tj_neg *neg)
{
	struct tj_neg_ids have, need;
	int rc = 0;
	tj_neg_have(neg, &have);
	tj_neg_need(neg, &need);
	if (puts("done") == EOF)
		return -EIO;
	for (size_t i = 0; rc == 0 && i < have.count; i++)
		rc = put_line("have ", have.ids + i * TJ_NEG_ID_BYTES, TJ_NEG_ID_BYTES);
	for (size_t i = 0; rc == 0 && i < need.count; i++)
		rc = put_line("need ", need.ids + i * TJ_NEG_ID_BYTES, TJ_NEG_ID_BYTES);
	if (rc == 0 && (puts("end") == EOF || fflush(stdout) == EOF))
		rc = -EIO;
	return rc;
}

static int run(struct tj_neg *neg, int initiator)
{
	struct tj_neg_msg out;
	char *line = NULL;
	size_t linecap = 0, len = 0;
	uint8_t *buf = NULL;
	int rc = 0;

	if (initiator) {
		rc = tj_neg_initiate(neg, &out);
		if (rc == 0)
			rc = put_line(NULL, out.bytes, out.len);
	}
	while (rc == 0) {
		rc = get_msg(&line, &linecap, &buf, &len);
		if (rc == 1) {
			rc = initiator ? TJ_EPROTO : 0; /* an initiator must hear "done" first */
			break;
		}
		if (rc == 0)
			rc = tj_neg_reconcile(neg, buf, len, &out);
		if (rc == 0 && initiator && tj_neg_is_done(neg)) {
			rc = print_results(neg);
			break;
		}
		if (rc == 0)
			rc = put_line(NULL, out.bytes, out.len);
	}
	free(buf);
	free(line);
	return rc;
}

int main(int argc, char **argv)
{
	struct tj_neg_storage *st = NULL;
	struct tj_neg *neg = NULL;
	struct tj_neg_opts opts = {0};
	int rc;

	if (argc != 4 || (strcmp(argv[1], "responder") != 0 && strcmp(argv[1], "initiator") != 0)) {
		fprintf(stderr, "usage: %s responder|initiator ITEMS_FILE FRAME_LIMIT_BYTES\n", argv[0]);
		return 2;
	}
	opts.frame_limit_bytes = (uint32_t)strtoul(argv[3], NULL, 10);
	rc = load_items(argv[2], &st);
	if (rc == 0)
		rc = tj_neg_new(st, &opts, &neg);
	if (rc == 0)
		rc = run(neg, strcmp(argv[1], "initiator") == 0);
	if (rc < 0) {
		printf("error %s\n", tj_errname(rc));
		fflush(stdout);
	}
	if (neg != NULL) {
		struct tj_neg_stats s;
		tj_neg_get_stats(neg, &s);
		fprintf(stderr, "tj_neg_driver %s: %" PRIu32 " msgs in (%" PRIu64 " bytes), %" PRIu32 " out (%" PRIu64 " bytes)\n",
			argv[1], s.msgs_received, s.bytes_received, s.msgs_sent, s.bytes_sent);
	}
	tj_neg_free(neg);
	tj_neg_storage_free(st);
	return rc < 0 ? 1 : 0;
}
