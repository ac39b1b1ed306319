/*
 * Build-time generator: turns schema/vocab.tsv and schema/inegi-municipios.tsv
 * into C tables (sorted where they are searched) so the data ships inside the
 * binary and nothing reads a data file at run time.
 *
 * Usage: tj_gen_tables VOCAB.tsv INEGI.tsv OUT.c
 *
 * It refuses (exit 1, message on stderr) any row it cannot vouch for: a wrong
 * column count, a code that is not snake_case, a duplicate, an unsorted or
 * inconsistent INEGI row, a label that is not UTF-8. A bad data file must
 * break the build, not ship.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_LINE_MAX 1024
#define GEN_COLS_MAX 10
#define GEN_CODE_MAX_BYTES 31 /* TJ_CODE_MAX - 1; the output re-checks with _Static_assert */
#define GEN_FIELDS_MAX 64
#define GEN_ENTRIES_MAX 4096
#define GEN_MUNIS_MAX 4096
#define GEN_STATES_MAX 32

static const char *gen_file;
static unsigned gen_lineno;

__attribute__((format(printf, 1, 2), noreturn)) static void gen_die(const char *fmt, ...);

static void gen_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%u: ", gen_file ? gen_file : "tj_gen_tables", gen_lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *gen_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (!d)
		gen_die("out of memory");
	memcpy(d, s, n);
	return d;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF, no controls. */
static bool gen_utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, need, cp;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += need + 1;
	}
	return true;
}

static bool gen_code_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > GEN_CODE_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static bool gen_digits(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static uint64_t gen_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (!*s || !isdigit((unsigned char)*s))
		gen_die("'%s' is not a non-negative integer", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		gen_die("'%s' is not a non-negative integer", s);
	return (uint64_t)v;
}

/* Splits line (modified in place) on TABs; returns the number of columns. */
static size_t gen_split(char *line, char **cols)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		if (n == GEN_COLS_MAX)
			gen_die("too many columns");
		cols[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

/* Reads one line without its newline; false at end of file. */
static bool gen_getline(FILE *f, char *buf)
{
	size_t n;

	if (!fgets(buf, GEN_LINE_MAX, f))
		return false;
	gen_lineno++;
	n = strlen(buf);
	if (n == GEN_LINE_MAX - 1 && buf[n - 1] != '\n')
		gen_die("line too long");
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return true;
}

/* Writes s as a C string literal; non-ASCII bytes as 3-digit octal escapes. */
static void gen_cstr(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f && *p != '?') /* '?' would risk trigraphs */
			fputc(*p, out);
		else
			fprintf(out, "\\%03o", *p);
	}
	fputc('"', out);
}

struct gen_entry {
	char *code, *es, *en;
	unsigned severity;
};

struct gen_field {
	char *name, *es, *en;
	size_t first, n; /* range in the entries array */
};

static struct gen_field fields[GEN_FIELDS_MAX];
static size_t n_fields;
static struct gen_entry entries[GEN_ENTRIES_MAX];
static size_t n_entries;

static void gen_vocab_row(char **c)
{
	const char *field = c[0], *code = c[1];
	unsigned sev;
	struct gen_field *fd;

	if (!gen_code_ok(field))
		gen_die("field '%s' is not snake_case", field);
	if (!*c[2] || !*c[3] || !gen_utf8_ok(c[2]) || !gen_utf8_ok(c[3]))
		gen_die("labels must be non-empty UTF-8 without control characters");
	if (!gen_digits(c[4], 1) || c[4][0] > '5')
		gen_die("severity '%s' must be one digit 0..5", c[4]);
	sev = (unsigned)(c[4][0] - '0');
	if (!*code) { /* the field's own labels open a new field */
		for (size_t i = 0; i < n_fields; i++)
			if (!strcmp(fields[i].name, field))
				gen_die("field '%s' appears twice (rows must be contiguous)", field);
		if (n_fields == GEN_FIELDS_MAX)
			gen_die("too many fields");
		if (sev)
			gen_die("a field row has severity 0");
		fields[n_fields++] =
		    (struct gen_field){gen_strdup(field), gen_strdup(c[2]), gen_strdup(c[3]), n_entries, 0};
		return;
	}
	if (!n_fields || strcmp(fields[n_fields - 1].name, field))
		gen_die("code '%s' before its field row '%s'", code, field);
	if (!gen_code_ok(code))
		gen_die("code '%s' is not snake_case of at most %d bytes", code, GEN_CODE_MAX_BYTES);
	if (!strcmp(field, "act_type") ? (sev < 1) : (sev != 0))
		gen_die("severity of %s/%s: act types need 1..5, other codes 0", field, code);
	fd = &fields[n_fields - 1];
	for (size_t i = fd->first; i < fd->first + fd->n; i++)
		if (!strcmp(entries[i].code, code))
			gen_die("duplicate code %s/%s", field, code);
	if (n_entries == GEN_ENTRIES_MAX)
		gen_die("too many codes");
	entries[n_entries++] = (struct gen_entry){gen_strdup(code), gen_strdup(c[2]), gen_strdup(c[3]), sev};
	fd->n++;
}

static void gen_read_vocab(const char *path)
{
	char line[GEN_LINE_MAX], *cols[GEN_COLS_MAX];
	bool header = false;
	FILE *f = fopen(path, "r");

	gen_file = path;
	gen_lineno = 0;
	if (!f)
		gen_die("cannot open: %s", strerror(errno));
	while (gen_getline(f, line)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (gen_split(line, cols) != 5)
			gen_die("expected 5 TAB-separated columns");
		if (!header) {
			if (strcmp(cols[0], "field") || strcmp(cols[1], "code") ||
			    strcmp(cols[2], "label_es") || strcmp(cols[3], "label_en") ||
			    strcmp(cols[4], "severity"))
				gen_die("expected header: field code label_es label_en severity");
			header = true;
			continue;
		}
		gen_vocab_row(cols);
	}
	if (ferror(f))
		gen_die("read error");
	fclose(f);
	if (!n_fields)
		gen_die("no vocabulary");
	for (size_t i = 0; i < n_fields; i++)
		if (!fields[i].n)
			gen_die("field '%s' has no codes", fields[i].name);
}

struct gen_state {
	char code[3];
	char *name, *abbr;
	uint64_t total, women, men;
};

struct gen_muni {
	char code[6];
	char *name;
	uint64_t total, women, men;
};

static struct gen_state states[GEN_STATES_MAX];
static size_t n_states;
static struct gen_muni munis[GEN_MUNIS_MAX];
static size_t n_munis;

static void gen_inegi_row(char **c)
{
	struct gen_muni *m;
	struct gen_state *st;

	if (!gen_digits(c[0], 5) || !gen_digits(c[1], 2) || !gen_digits(c[4], 3) || strncmp(c[0], c[1], 2) ||
	    strcmp(c[0] + 2, c[4]))
		gen_die("codes '%s' / '%s' / '%s' do not agree", c[0], c[1], c[4]);
	if (!*c[2] || !*c[3] || !*c[5] || !gen_utf8_ok(c[2]) || !gen_utf8_ok(c[3]) || !gen_utf8_ok(c[5]))
		gen_die("names must be non-empty UTF-8");
	if (n_munis && strcmp(munis[n_munis - 1].code, c[0]) >= 0)
		gen_die("'%s' is not in strictly ascending order", c[0]);
	if (n_munis == GEN_MUNIS_MAX)
		gen_die("too many municipalities");
	m = &munis[n_munis++];
	memcpy(m->code, c[0], 6);
	m->name = gen_strdup(c[5]);
	m->total = gen_u64(c[6]);
	m->women = gen_u64(c[7]);
	m->men = gen_u64(c[8]);
	if (m->women + m->men != m->total)
		gen_die("%s: women + men != total", c[0]);

	if (!n_states || strcmp(states[n_states - 1].code, c[1])) {
		if (n_states == GEN_STATES_MAX)
			gen_die("more than %d states", GEN_STATES_MAX);
		st = &states[n_states++];
		memcpy(st->code, c[1], 3);
		st->name = gen_strdup(c[2]);
		st->abbr = gen_strdup(c[3]);
	}
	st = &states[n_states - 1];
	if (strcmp(st->name, c[2]) || strcmp(st->abbr, c[3]))
		gen_die("state %s is named inconsistently", c[1]);
	st->total += m->total;
	st->women += m->women;
	st->men += m->men;
}

static void gen_read_inegi(const char *path)
{
	char line[GEN_LINE_MAX], *cols[GEN_COLS_MAX];
	FILE *f = fopen(path, "r");

	gen_file = path;
	gen_lineno = 0;
	if (!f)
		gen_die("cannot open: %s", strerror(errno));
	if (!gen_getline(f, line) || strncmp(line, "cve_completa\tcve_entidad\t", 25))
		gen_die("expected the INEGI header row");
	while (gen_getline(f, line)) {
		if (gen_split(line, cols) != 9)
			gen_die("expected 9 TAB-separated columns");
		gen_inegi_row(cols);
	}
	if (ferror(f))
		gen_die("read error");
	fclose(f);
	if (n_states != GEN_STATES_MAX)
		gen_die("expected %d states, found %zu", GEN_STATES_MAX, n_states);
}

static void gen_write_vocab(FILE *out)
{
	size_t longest = 0;

	for (size_t i = 0; i < n_fields; i++) {
		const struct gen_field *fd = &fields[i];
		fprintf(out, "static const struct tj_vocab_entry tj__ve_%s[%zu] = {\n", fd->name, fd->n);
		for (size_t j = fd->first; j < fd->first + fd->n; j++) {
			fputs("\t{", out);
			gen_cstr(out, entries[j].code);
			fputs(", ", out);
			gen_cstr(out, entries[j].es);
			fputs(", ", out);
			gen_cstr(out, entries[j].en);
			fprintf(out, ", %u},\n", entries[j].severity);
			if (strlen(entries[j].code) > longest)
				longest = strlen(entries[j].code);
		}
		fputs("};\n\n", out);
	}
	fprintf(out, "_Static_assert(%zu < TJ_CODE_MAX, \"a code does not fit TJ_CODE_MAX\");\n\n", longest);
	fprintf(out, "const struct tj_vocab tj__vocab_table[%zu] = {\n", n_fields + 1);
	for (size_t i = 0; i < n_fields; i++) {
		fputs("\t{", out);
		gen_cstr(out, fields[i].name);
		fputs(", ", out);
		gen_cstr(out, fields[i].es);
		fputs(", ", out);
		gen_cstr(out, fields[i].en);
		fprintf(out, ", tj__ve_%s, %zu},\n", fields[i].name, fields[i].n);
	}
	fputs("\t{NULL, NULL, NULL, NULL, 0},\n};\n", out);
	fprintf(out, "const size_t tj__vocab_table_count = %zu;\n\n", n_fields);
}

static void gen_write_inegi(FILE *out)
{
	fprintf(out, "const struct tj_state_info tj__inegi_state_table[%zu] = {\n", n_states);
	for (size_t i = 0; i < n_states; i++) {
		fprintf(out, "\t{\"%s\", ", states[i].code);
		gen_cstr(out, states[i].name);
		fputs(", ", out);
		gen_cstr(out, states[i].abbr);
		fprintf(out, ", %lluu, %lluu, %lluu},\n", (unsigned long long)states[i].total,
		        (unsigned long long)states[i].women, (unsigned long long)states[i].men);
	}
	fprintf(out, "};\nconst size_t tj__inegi_state_count = %zu;\n\n", n_states);
	fprintf(out, "const struct tj_municipality_info tj__inegi_muni_table[%zu] = {\n", n_munis);
	for (size_t i = 0; i < n_munis; i++) {
		fprintf(out, "\t{\"%s\", ", munis[i].code);
		gen_cstr(out, munis[i].name);
		fprintf(out, ", %lluu, %lluu, %lluu},\n", (unsigned long long)munis[i].total,
		        (unsigned long long)munis[i].women, (unsigned long long)munis[i].men);
	}
	fprintf(out, "};\nconst size_t tj__inegi_muni_count = %zu;\n", n_munis);
}

int main(int argc, char **argv)
{
	FILE *out;

	if (argc != 4) {
		fprintf(stderr, "usage: %s VOCAB.tsv INEGI.tsv OUT.c\n", argv[0]);
		return 2;
	}
	gen_read_vocab(argv[1]);
	gen_read_inegi(argv[2]);
	gen_file = argv[3];
	gen_lineno = 0;
	out = fopen(argv[3], "w");
	if (!out)
		gen_die("cannot create: %s", strerror(errno));
	fputs("/* Generated by schema/gen/tj_gen_tables.c from schema/vocab.tsv and\n"
	      " * schema/inegi-municipios.tsv. Do not edit: edit the data files. */\n"
	      "#include <stddef.h>\n\n#include \"tj_incident.h\"\n#include \"tj_vocab_tables.h\"\n\n",
	      out);
	gen_write_vocab(out);
	gen_write_inegi(out);
	if (fflush(out) || ferror(out) || fclose(out)) {
		remove(argv[3]);
		gen_die("write error");
	}
	return 0;
}
