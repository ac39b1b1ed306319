/*
 * bench_sync: its options (what they mean: the header of tools/bench_sync.c).
 * Bad options print a message and the usage on stderr and exit 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_sync.h"

#define BS_COLD_DEFAULT 100000u
#define BS_RTT_MAX_MS 60000.0
#define BS_USAGE                                                                                             \
	"usage: bench_sync [--n LIST | -n N] [--rtt-ms R] [--cold-n N] [--no-cold] [--quick] [--json] "      \
	"[--dir DIR]\n  LIST: comma-separated record counts, 1..10000000 (default 10000,100000,1000000)\n"

static const size_t bs_ds_full[] = {0, 10, 100, 1000, 10000};
static const size_t bs_ds_quick[] = {0, 10, 100};

static _Noreturn __attribute__((format(printf, 1, 2))) void bs_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("bench_sync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", BS_USAGE);
	exit(2);
}

static bool bs_parse_count(const char *s, size_t len, size_t *out)
{
	size_t v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return v >= 1 && v <= BS_N_MAX;
}

static int bs_size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* "10000,100000": sorted, duplicates dropped. */
static void bs_parse_list(struct bs_opts *o, const char *arg)
{
	const char *p = arg;
	size_t k = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		if (o->n_count == BS_LIST_MAX)
			bs_usage("--n: at most 16 values, got '%s'", arg);
		if (!bs_parse_count(p, len, &o->ns[o->n_count++]))
			bs_usage("--n: '%s' is not a list of record counts 1..10000000", arg);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	qsort(o->ns, o->n_count, sizeof(size_t), bs_size_cmp);
	for (size_t i = 0; i < o->n_count; i++)
		if (k == 0 || o->ns[k - 1] != o->ns[i])
			o->ns[k++] = o->ns[i];
	o->n_count = k;
}

static const char *bs_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		bs_usage("%s needs a value", argv[*i]);
	return argv[++*i];
}

void bs_parse_opts(struct bs_opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->dir = "/tmp";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		if (strcmp(a, "--n") == 0 || strcmp(a, "-n") == 0) {
			o->n_count = 0;
			o->n_set = true;
			bs_parse_list(o, bs_arg(argc, argv, &i));
		} else if (strcmp(a, "--cold-n") == 0) {
			v = bs_arg(argc, argv, &i);
			if (!bs_parse_count(v, strlen(v), &o->cold_n))
				bs_usage("--cold-n: '%s' is not a record count 1..10000000", v);
			o->cold_set = true;
		} else if (strcmp(a, "--rtt-ms") == 0) {
			char *end;
			v = bs_arg(argc, argv, &i);
			errno = 0;
			o->rtt_ms = strtod(v, &end);
			if (errno != 0 || end == v || *end != '\0' ||
			    !(o->rtt_ms > 0 && o->rtt_ms <= BS_RTT_MAX_MS))
				bs_usage("--rtt-ms: '%s' is not a round-trip time in ms, > 0 and <= 60000",
				         v);
		} else if (strcmp(a, "--dir") == 0) {
			o->dir = bs_arg(argc, argv, &i);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--quick") == 0) {
			o->quick = true;
		} else if (strcmp(a, "--no-cold") == 0) {
			o->no_cold = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			printf("%s(what each figure means: the header of tools/bench_sync.c)\n", BS_USAGE);
			exit(0);
		} else {
			bs_usage("unknown option '%s'", a);
		}
	}
}

/* Defaults that depend on other options, and the checks that need them all. */
void bs_settle_opts(struct bs_opts *o)
{
	static const size_t full[] = {10000, 100000, 1000000}, quick[] = {1000, 2000};
	struct stat st;

	if (!o->n_set) {
		o->n_count = o->quick ? 2 : 3;
		memcpy(o->ns, o->quick ? quick : full, o->n_count * sizeof(size_t));
	}
	o->ds = o->quick ? bs_ds_quick : bs_ds_full;
	o->d_count = o->quick ? sizeof(bs_ds_quick) / sizeof(size_t) : sizeof(bs_ds_full) / sizeof(size_t);
	if (!o->cold_set)
		o->cold_n = o->ns[o->n_count - 1] < BS_COLD_DEFAULT ? o->ns[o->n_count - 1] : BS_COLD_DEFAULT;
	if (o->cold_n > o->ns[o->n_count - 1])
		bs_usage("--cold-n: %zu records is more than the largest --n (%zu)", o->cold_n,
		         o->ns[o->n_count - 1]);
	if (!o->no_cold && (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(o->dir, W_OK) != 0))
		bs_usage("--dir: '%s' is not a directory this process can write to", o->dir);
}
