/*
 * The incident schema: dates, validation, severity, and the canonical msgpack
 * bodies of both faces. The JSON mapping lives in tj_incident_json.c.
 */
#include "tj_incident.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_incident_internal.h"
#include "tj_mp.h"

#define TJ__YEAR_MIN 1900 /* older dates are typing errors, not incidents */
#define TJ__YEAR_MAX 9999
#define TJ__MS_PER_DAY 86400000ull
#define TJ__SUMMARY_FIELDS 13u
#define TJ__CASE_FIELDS 6u
#define TJ__ECHO_MAX_BYTES 40

/* ---- messages ---------------------------------------------------------- */

int tj__verr(struct tj_verr *verr, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!verr)
		return TJ_ESCHEMA;
	snprintf(verr->field, sizeof verr->field, "%s", field);
	n = snprintf(verr->message, sizeof verr->message, "%s: ", field);
	if (n < 0 || (size_t)n >= sizeof verr->message)
		return TJ_ESCHEMA;
	va_start(ap, fmt);
	vsnprintf(verr->message + n, sizeof verr->message - (size_t)n, fmt, ap);
	va_end(ap);
	return TJ_ESCHEMA;
}

/* Length of the UTF-8 sequence at p (at most left bytes), 0 if invalid. */
static size_t tj__utf8_seq(const unsigned char *p, size_t left)
{
	unsigned c = p[0], cp;
	size_t need;

	if (c < 0x80)
		return 1;
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
		return 0;
	}
	if (need >= left)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

bool tj__utf8_ok(const char *s, size_t n, bool allow_newlines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = tj__utf8_seq(p + i, n - i);
		if (k == 0)
			return false;
		if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f) &&
		    !(allow_newlines && (p[i] == '\n' || p[i] == '\t')))
			return false;
		i += k;
	}
	return true;
}

void tj__echo(const char *s, char out[64])
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0;

	while (i < n && o < TJ__ECHO_MAX_BYTES) {
		size_t k = tj__utf8_seq(p + i, n - i);
		if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
			out[o++] = (char)p[i];
		} else if (k > 1 && o + k <= TJ__ECHO_MAX_BYTES) {
			memcpy(out + o, p + i, k);
			o += k;
		} else if (k > 1) {
			break;
		} else {
			out[o++] = '?';
			k = 1;
		}
		i += k;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "a, b, c" of a vocabulary's codes, cut at a code boundary to fit cap. */
static void tj__join_codes(const struct tj_vocab *v, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < v->n_entries; i++) {
		size_t k = strlen(v->entries[i].code);
		if (o + k + 2 + 6 >= cap) {
			memcpy(out + o, ", ...", 6);
			return;
		}
		if (i) {
			memcpy(out + o, ", ", 2);
			o += 2;
		}
		memcpy(out + o, v->entries[i].code, k + 1);
		o += k;
	}
}

/* ---- field checks ------------------------------------------------------ */

static bool tj__code_shape_ok(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n >= TJ_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '0' && code[i] <= '9') ||
		      code[i] == '_'))
			return false;
	return true;
}

static int tj__missing(enum tj_lang lang, const char *field, struct tj_verr *verr)
{
	return tj__verr(verr, field, "%s", TJ__L(lang, "missing; it is required", "falta; es obligatorio"));
}

int tj__check_code(const char *vocab, const char *code, bool required, bool lenient, enum tj_lang lang,
                   const char *field, struct tj_verr *verr)
{
	const struct tj_vocab *v = tj_vocab_find(vocab);
	char echo[64], codes[360];

	if (!code || !*code)
		return required ? tj__missing(lang, field, verr) : 0;
	if (lenient && tj__code_shape_ok(code))
		return 0;
	if (!lenient && v && tj__code_shape_ok(code) && tj_vocab_lookup(vocab, code))
		return 0;
	tj__echo(code, echo);
	if (lenient || !v)
		return tj__verr(
		    verr, field,
		    TJ__L(lang, "'%s' is not a code (lower-case letters, digits and '_', at most 31 bytes)",
		          "'%s' no es un código (minúsculas, dígitos y '_', como máximo 31 bytes)"),
		    echo);
	tj__join_codes(v, codes, sizeof codes);
	return tj__verr(
	    verr, field,
	    TJ__L(lang, "'%s' is not a code; use one of: %s", "'%s' no es un código; usa uno de: %s"), echo,
	    codes);
}

int tj__too_many(uint32_t n, uint32_t max, enum tj_lang lang, const char *field, struct tj_verr *verr)
{
	return tj__verr(verr, field, TJ__L(lang, "%u entries; at most %u", "%u elementos; como máximo %u"), n,
	                max);
}

/* A fixed-size string from the caller must end inside its array. */
static int tj__term(const char *s, size_t size, enum tj_lang lang, const char *field, struct tj_verr *verr)
{
	if (memchr(s, '\0', size))
		return 0;
	return tj__verr(verr, field, TJ__L(lang, "longer than %zu bytes", "más de %zu bytes"), size - 1);
}

int tj__check_codelist(const char *vocab, const struct tj_codelist *l, bool lenient, enum tj_lang lang,
                       const char *field, struct tj_verr *verr)
{
	char path[64], echo[64];
	int rc;

	if (l->n > TJ_INC_LIST_MAX)
		return tj__too_many(l->n, TJ_INC_LIST_MAX, lang, field, verr);
	for (uint32_t i = 0; i < l->n; i++) {
		snprintf(path, sizeof path, "%s[%u]", field, i);
		if ((rc = tj__term(l->v[i], TJ_CODE_MAX, lang, path, verr)) ||
		    (rc = tj__check_code(vocab, l->v[i], true, lenient, lang, path, verr)))
			return rc;
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(l->v[i], l->v[j]))
				continue;
			tj__echo(l->v[i], echo);
			return tj__verr(verr, path, TJ__L(lang, "'%s' is repeated", "'%s' está repetido"),
			                echo);
		}
	}
	return 0;
}

int tj__check_ref(const char *ref, enum tj_lang lang, const char *field, struct tj_verr *verr)
{
	size_t n = strlen(ref);
	bool ok = n < TJ_REF_MAX;

	/* Never quote a bad ref back: someone may have typed a name into it. */
	for (size_t i = 0; ok && i < n; i++) {
		char c = ref[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		     c == '_' || c == '.';
	}
	if (ok)
		return 0;
	return tj__verr(
	    verr, field,
	    TJ__L(lang, "not a reference; use 1 to 32 letters, digits, '-', '_' or '.', never a name",
	          "no es una referencia; usa de 1 a 32 letras, dígitos, '-', '_' o '.', nunca un nombre"));
}

int tj__check_text(const char *s, size_t max, bool allow_newlines, enum tj_lang lang, const char *field,
                   struct tj_verr *verr)
{
	size_t n;

	/* Never quote case text back: it holds names and places. */
	if (!s)
		return tj__missing(lang, field, verr);
	n = strlen(s);
	if (n == 0)
		return tj__verr(verr, field, "%s",
		                TJ__L(lang, "empty; leave it out instead", "vacío; omítelo"));
	if (n > max)
		return tj__verr(verr, field,
		                TJ__L(lang, "%zu bytes; at most %zu", "%zu bytes; como máximo %zu"), n, max);
	if (!tj__utf8_ok(s, n, allow_newlines))
		return tj__verr(verr, field, "%s",
		                TJ__L(lang, "not valid UTF-8 text, or holds control characters",
		                      "no es texto UTF-8 válido o contiene caracteres de control"));
	return 0;
}

/* ---- dates ------------------------------------------------------------- */

static bool tj__leap(int32_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned tj__month_days(int32_t y, unsigned m)
{
	static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && tj__leap(y) ? 29u : days[m - 1];
}

static bool tj__date_ok(const struct tj_date *d)
{
	if (d->year < TJ__YEAR_MIN || d->year > TJ__YEAR_MAX || d->month > 12)
		return false;
	if (d->month == 0)
		return d->day == 0;
	return d->day <= tj__month_days(d->year, d->month);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t tj__civil_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void tj__civil_from_days(int64_t z, struct tj_date *d)
{
	int64_t era, y;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d->day = (uint8_t)(doy - (153 * mp + 2) / 5 + 1);
	d->month = (uint8_t)(mp < 10 ? mp + 3 : mp - 9);
	d->year = (int32_t)(y + (d->month <= 2));
}

/* For a partial date, the first day of its period. */
int64_t tj_date_days(const struct tj_date *d)
{
	if (!d || !tj__date_ok(d))
		return -1;
	return tj__civil_days(d->year, d->month ? d->month : 1u, d->day ? d->day : 1u);
}

/* The last day of a (possibly partial) valid date's period. */
static int64_t tj__date_last_days(const struct tj_date *d)
{
	unsigned m = d->month ? d->month : 12u;
	unsigned day = d->day ? d->day : tj__month_days(d->year, m);

	return tj__civil_days(d->year, m, day);
}

static bool tj__ndigits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

int tj_date_parse(const char *s, struct tj_date *d)
{
	size_t n;
	unsigned y, m = 0, day = 0;

	if (!s || !d)
		return -EINVAL;
	memset(d, 0, sizeof *d);
	n = strlen(s);
	if ((n != 4 && n != 7 && n != 10) || !tj__ndigits(s, 4, &y))
		return TJ_EMALFORMED;
	if (n >= 7 && (s[4] != '-' || !tj__ndigits(s + 5, 2, &m) || m == 0))
		return TJ_EMALFORMED;
	if (n == 10 && (s[7] != '-' || !tj__ndigits(s + 8, 2, &day) || day == 0))
		return TJ_EMALFORMED;
	d->year = (int32_t)y;
	d->month = (uint8_t)m;
	d->day = (uint8_t)day;
	if (!tj__date_ok(d)) {
		memset(d, 0, sizeof *d);
		return TJ_EMALFORMED;
	}
	return 0;
}

static void tj__put_digits(char *out, unsigned v, size_t n)
{
	for (size_t i = n; i-- > 0; v /= 10)
		out[i] = (char)('0' + v % 10);
}

void tj_date_format(const struct tj_date *d, char out[11])
{
	out[0] = '\0';
	if (!d || d->year < 0 || d->year > TJ__YEAR_MAX || d->year == 0 || d->month > 12 || d->day > 31)
		return;
	tj__put_digits(out, (unsigned)d->year, 4);
	out[4] = '\0';
	if (!d->month)
		return;
	out[4] = '-';
	tj__put_digits(out + 5, d->month, 2);
	out[7] = '\0';
	if (!d->day)
		return;
	out[7] = '-';
	tj__put_digits(out + 8, d->day, 2);
	out[10] = '\0';
}

/* ---- validation -------------------------------------------------------- */

/* What a struct tj_date looks like in a message, even when it is invalid. */
static void tj__date_echo(const struct tj_date *d, char out[40])
{
	if (tj__date_ok(d))
		tj_date_format(d, out);
	else
		snprintf(out, 40, "%d-%u-%u", (int)d->year, d->month, d->day);
}

static int tj__check_date(const struct tj_date *d, const char *precision, uint64_t now_ms, enum tj_lang lang,
                          const char *field, struct tj_verr *verr)
{
	static const char *const forms[3] = {"YYYY", "YYYY-MM", "YYYY-MM-DD"};
	static const char *const formas[3] = {"AAAA", "AAAA-MM", "AAAA-MM-DD"};
	char echo[40], today_s[11];
	struct tj_date today;
	int want = -1;

	tj__date_echo(d, echo);
	if (!tj__date_ok(d))
		return tj__bad_date(echo, lang, field, verr);
	if (!strcmp(precision, "day"))
		want = 2;
	else if (!strcmp(precision, "month"))
		want = 1;
	else if (!strcmp(precision, "year"))
		want = 0;
	if (want >= 0 && (d->month != 0) + (d->day != 0) != want)
		return tj__verr(verr, field,
		                TJ__L(lang, "'%s' does not match precision '%s'; use %s",
		                      "'%s' no corresponde a la precisión '%s'; usa %s"),
		                echo, precision, TJ__L(lang, forms[want], formas[want]));
	/* Days are counted in UTC: Mexico is behind UTC, so this never refuses its today. */
	if (now_ms && tj_date_days(d) > (int64_t)(now_ms / TJ__MS_PER_DAY)) {
		tj__civil_from_days((int64_t)(now_ms / TJ__MS_PER_DAY), &today);
		tj_date_format(&today, today_s);
		return tj__verr(verr, field,
		                TJ__L(lang, "'%s' is after today (%s)", "'%s' es posterior a hoy (%s)"), echo,
		                today_s);
	}
	return 0;
}

static int tj__check_occurred(const struct tj_incident_summary *s, bool lenient, uint64_t now_ms,
                              enum tj_lang lang, struct tj_verr *verr)
{
	const char *prec = s->occurred.precision;
	bool range;
	char a[40], b[40];
	int rc;

	if ((rc = tj__term(prec, TJ_CODE_MAX, lang, "occurred.precision", verr)) ||
	    (rc = tj__check_code("precision", prec, true, lenient, lang, "occurred.precision", verr)))
		return rc;
	if (s->occurred.start.year == 0)
		return tj__missing(lang, "occurred.start", verr);
	if ((rc = tj__check_date(&s->occurred.start, prec, now_ms, lang, "occurred.start", verr)))
		return rc;
	range = !strcmp(prec, "range");
	if (s->occurred.end.year == 0 && (s->occurred.end.month || s->occurred.end.day))
		return tj__check_date(&s->occurred.end, "", 0, lang, "occurred.end", verr);
	if (s->occurred.end.year == 0)
		return range ? tj__verr(verr, "occurred.end", "%s",
		                        TJ__L(lang, "missing; precision 'range' needs an end date",
		                              "falta; la precisión 'range' requiere una fecha final"))
		             : 0;
	if (!range)
		return tj__verr(verr, "occurred.end", "%s",
		                TJ__L(lang, "only allowed with precision 'range'",
		                      "solo se permite con la precisión 'range'"));
	if ((rc = tj__check_date(&s->occurred.end, prec, now_ms, lang, "occurred.end", verr)))
		return rc;
	if (tj__date_last_days(&s->occurred.end) < tj_date_days(&s->occurred.start)) {
		tj_date_format(&s->occurred.end, a);
		tj_date_format(&s->occurred.start, b);
		return tj__verr(verr, "occurred.end",
		                TJ__L(lang, "'%s' is before occurred.start '%s'",
		                      "'%s' es anterior a occurred.start '%s'"),
		                a, b);
	}
	return 0;
}

int tj__check_inegi(const char *code, bool is_state, enum tj_lang lang, const char *field,
                    struct tj_verr *verr)
{
	char echo[64];

	if (is_state ? tj_inegi_state(code) != NULL : tj_inegi_municipality(code) != NULL)
		return 0;
	tj__echo(code, echo);
	if (is_state)
		return tj__verr(
		    verr, field,
		    TJ__L(lang, "'%s' is not an INEGI state code; use two digits, 01 to 32",
		          "'%s' no es una clave de estado del INEGI; usa dos dígitos, de 01 a 32"),
		    echo);
	return tj__verr(
	    verr, field,
	    TJ__L(lang, "'%s' is not an INEGI municipality code (five digits: state, municipality)",
	          "'%s' no es una clave de municipio del INEGI (cinco dígitos: estado y municipio)"),
	    echo);
}

int tj__bad_date(const char *s, enum tj_lang lang, const char *field, struct tj_verr *verr)
{
	char echo[64];

	tj__echo(s, echo);
	return tj__verr(verr, field,
	                TJ__L(lang, "'%s' is not a valid date; use YYYY-MM-DD, YYYY-MM or YYYY",
	                      "'%s' no es una fecha válida; usa AAAA-MM-DD, AAAA-MM o AAAA"),
	                echo);
}

/* A state and municipality pair: INEGI codes, and the municipality inside the state. */
static int tj__check_place(const char *state, const char *muni, bool state_required, const char *prefix,
                           enum tj_lang lang, struct tj_verr *verr)
{
	const struct tj_state_info *st, *mst;
	const struct tj_municipality_info *m;
	char fs[48], fm[48], echo[64];
	int rc;

	snprintf(fs, sizeof fs, "%s.state", prefix);
	snprintf(fm, sizeof fm, "%s.municipality", prefix);
	if ((rc = tj__term(state, 3, lang, fs, verr)) || (rc = tj__term(muni, 6, lang, fm, verr)))
		return rc;
	if (!*state) {
		if (state_required)
			return tj__missing(lang, fs, verr);
		if (!*muni)
			return 0;
		return tj__verr(verr, fs,
		                TJ__L(lang, "missing; it is required when %s is given",
		                      "falta; es obligatorio si se da %s"),
		                fm);
	}
	if ((rc = tj__check_inegi(state, true, lang, fs, verr)))
		return rc;
	st = tj_inegi_state(state);
	if (!*muni)
		return 0;
	if ((rc = tj__check_inegi(muni, false, lang, fm, verr)))
		return rc;
	m = tj_inegi_municipality(muni);
	tj__echo(muni, echo);
	if (strncmp(muni, state, 2)) {
		mst = tj_inegi_state((char[3]){muni[0], muni[1], '\0'});
		return tj__verr(verr, fm,
		                TJ__L(lang, "'%s' (%s, %s) is not in state '%s' (%s)",
		                      "'%s' (%s, %s) no pertenece al estado '%s' (%s)"),
		                echo, m->name, mst ? mst->name : "?", state, st->name);
	}
	return 0;
}

static int tj__check_victim(const struct tj_victim *v, uint32_t i, bool lenient, enum tj_lang lang,
                            struct tj_verr *verr)
{
	static const char *const keys[4] = {"unit", "role", "gender", "age_band"};
	const char *vals[4] = {v->unit, v->role, v->gender, v->age_band};
	char f[64];
	int rc;

	snprintf(f, sizeof f, "victims[%u].ref", i);
	if ((rc = tj__term(v->ref, TJ_REF_MAX, lang, f, verr)) || (rc = tj__check_ref(v->ref, lang, f, verr)))
		return rc;
	for (size_t k = 0; k < 4; k++) {
		snprintf(f, sizeof f, "victims[%u].%s", i, keys[k]);
		if ((rc = tj__term(vals[k], TJ_CODE_MAX, lang, f, verr)) ||
		    (rc = tj__check_code(keys[k], vals[k], false, lenient, lang, f, verr)))
			return rc;
	}
	snprintf(f, sizeof f, "victims[%u].traits", i);
	if ((rc = tj__check_codelist("trait", &v->traits, lenient, lang, f, verr)))
		return rc;
	snprintf(f, sizeof f, "victims[%u].defended_causes", i);
	return tj__check_codelist("defended_cause", &v->defended_causes, lenient, lang, f, verr);
}

/*
 * Which category an aggressor type implies. Statistics count "the state as
 * presumed aggressor" by category, so a municipal police officer coded as
 * non_state would silently skew them. Types not listed here (political_actor,
 * unknown, codes of newer vocabularies) fit any category.
 */
static const struct {
	const char *type, *category;
} tj__type_category[] = {
    {"armed_forces", "state"},         {"federal_police", "state"},
    {"state_police", "state"},         {"municipal_police", "state"},
    {"prosecutor_judiciary", "state"}, {"public_official", "state"},
    {"organized_crime", "non_state"},  {"company", "non_state"},
    {"private_security", "non_state"}, {"community_individual", "non_state"},
};

static int tj__check_category(const struct tj_aggressor *a, enum tj_lang lang, const char *field,
                              struct tj_verr *verr)
{
	for (size_t k = 0; k < sizeof tj__type_category / sizeof tj__type_category[0]; k++) {
		const char *want = tj__type_category[k].category;
		if (strcmp(a->type, tj__type_category[k].type) || !strcmp(a->category, want))
			continue;
		return tj__verr(verr, field,
		                TJ__L(lang, "'%s' does not fit type '%s'; use '%s'",
		                      "'%s' no corresponde al tipo '%s'; usa '%s'"),
		                a->category, a->type, want);
	}
	return 0;
}

static int tj__check_aggressor(const struct tj_aggressor *a, uint32_t i, bool lenient, enum tj_lang lang,
                               struct tj_verr *verr)
{
	static const char *const keys[4] = {"category", "type", "level", "involvement"};
	static const char *const vocabs[4] = {"aggressor_category", "aggressor_type", "aggressor_level",
	                                      "involvement"};
	const char *vals[4] = {a->category, a->type, a->level, a->involvement};
	char f[64];
	int rc;

	for (size_t k = 0; k < 4; k++) {
		snprintf(f, sizeof f, "aggressors[%u].%s", i, keys[k]);
		if ((rc = tj__term(vals[k], TJ_CODE_MAX, lang, f, verr)) ||
		    (rc = tj__check_code(vocabs[k], vals[k], k < 2, lenient, lang, f, verr)))
			return rc;
	}
	snprintf(f, sizeof f, "aggressors[%u].category", i);
	return tj__check_category(a, lang, f, verr);
}

static int tj__check_act(const struct tj_incident_summary *s, uint32_t i, bool lenient, enum tj_lang lang,
                         struct tj_verr *verr)
{
	const struct tj_act *a = &s->acts[i];
	char f[64];
	int rc;

	snprintf(f, sizeof f, "acts[%u].type", i);
	if ((rc = tj__term(a->type, TJ_CODE_MAX, lang, f, verr)) ||
	    (rc = tj__check_code("act_type", a->type, true, lenient, lang, f, verr)))
		return rc;
	snprintf(f, sizeof f, "acts[%u].victim", i);
	/* Messages name the last valid index, so no count needs a singular or a plural. */
	if (a->victim >= s->n_victims)
		return tj__verr(verr, f,
		                TJ__L(lang, "%u is out of range: the last victim is victims[%u]",
		                      "%u está fuera de rango: la última víctima es victims[%u]"),
		                a->victim, s->n_victims - 1);
	snprintf(f, sizeof f, "acts[%u].aggressor", i);
	if (a->aggressor < -1 || (a->aggressor >= 0 && (uint32_t)a->aggressor >= s->n_aggressors)) {
		if (!s->n_aggressors)
			return tj__verr(verr, f,
			                TJ__L(lang, "%d is out of range: aggressors is empty; leave it out",
			                      "%d está fuera de rango: aggressors está vacío; omítelo"),
			                (int)a->aggressor);
		return tj__verr(verr, f,
		                TJ__L(lang, "%d is out of range: the last aggressor is aggressors[%u]",
		                      "%d está fuera de rango: la última parte agresora es aggressors[%u]"),
		                (int)a->aggressor, s->n_aggressors - 1);
	}
	snprintf(f, sizeof f, "acts[%u]", i);
	for (uint32_t j = 0; j < i; j++) {
		const struct tj_act *b = &s->acts[j];
		if (!strcmp(a->type, b->type) && a->victim == b->victim && a->aggressor == b->aggressor)
			return tj__verr(verr, f,
			                TJ__L(lang, "repeats acts[%u] (same type, victim and aggressor)",
			                      "repite acts[%u] (mismo tipo, víctima y parte agresora)"),
			                j);
	}
	return 0;
}

/* One person or group is one victim with several acts: a ref appears once. */
static int tj__check_ref_unique(const struct tj_incident_summary *s, uint32_t i, enum tj_lang lang,
                                struct tj_verr *verr)
{
	char f[64];

	if (!s->victims[i].ref[0])
		return 0;
	for (uint32_t j = 0; j < i; j++) {
		if (strcmp(s->victims[i].ref, s->victims[j].ref))
			continue;
		snprintf(f, sizeof f, "victims[%u].ref", i);
		return tj__verr(verr, f,
		                TJ__L(lang,
		                      "'%s' is also victims[%u].ref; give one victim several acts instead",
		                      "'%s' ya es victims[%u].ref; da a una sola víctima varias agresiones"),
		                s->victims[i].ref, j);
	}
	return 0;
}

static int tj__check_people(const struct tj_incident_summary *s, bool lenient, enum tj_lang lang,
                            struct tj_verr *verr)
{
	int rc;

	if (s->n_victims == 0)
		return tj__verr(verr, "victims", "%s",
		                TJ__L(lang, "missing; at least one victim is required",
		                      "falta; se requiere al menos una víctima"));
	if (s->n_victims > TJ_INC_VICTIMS_MAX)
		return tj__too_many(s->n_victims, TJ_INC_VICTIMS_MAX, lang, "victims", verr);
	if (s->n_aggressors > TJ_INC_AGGRESSORS_MAX)
		return tj__too_many(s->n_aggressors, TJ_INC_AGGRESSORS_MAX, lang, "aggressors", verr);
	if (s->n_acts == 0)
		return tj__verr(verr, "acts", "%s",
		                TJ__L(lang, "missing; at least one act is required",
		                      "falta; se requiere al menos una agresión"));
	if (s->n_acts > TJ_INC_ACTS_MAX)
		return tj__too_many(s->n_acts, TJ_INC_ACTS_MAX, lang, "acts", verr);
	for (uint32_t i = 0; i < s->n_victims; i++)
		if ((rc = tj__check_victim(&s->victims[i], i, lenient, lang, verr)) ||
		    (rc = tj__check_ref_unique(s, i, lang, verr)))
			return rc;
	for (uint32_t i = 0; i < s->n_aggressors; i++)
		if ((rc = tj__check_aggressor(&s->aggressors[i], i, lenient, lang, verr)))
			return rc;
	for (uint32_t i = 0; i < s->n_acts; i++)
		if ((rc = tj__check_act(s, i, lenient, lang, verr)))
			return rc;
	return 0;
}

static int tj__check_protection(const struct tj_incident_summary *s, bool lenient, enum tj_lang lang,
                                struct tj_verr *verr)
{
	const struct tj_codelist *m = &s->protection.measures, *f = &s->protection.failed;
	char path[64], echo[64];
	int rc;

	if ((rc = tj__term(s->protection.status, TJ_CODE_MAX, lang, "protection.status", verr)) ||
	    (rc = tj__check_code("protection_status", s->protection.status, true, lenient, lang,
	                         "protection.status", verr)) ||
	    (rc = tj__term(s->protection.risk_level, TJ_CODE_MAX, lang, "protection.risk_level", verr)) ||
	    (rc = tj__check_code("risk_level", s->protection.risk_level, false, lenient, lang,
	                         "protection.risk_level", verr)) ||
	    (rc = tj__check_codelist("protection_measure", m, lenient, lang, "protection.measures", verr)) ||
	    (rc = tj__check_codelist("protection_measure", f, lenient, lang, "protection.failed", verr)))
		return rc;
	/* A measure can only fail if it was in place. */
	for (uint32_t i = 0; i < f->n; i++) {
		bool found = false;
		for (uint32_t j = 0; j < m->n && !found; j++)
			found = !strcmp(f->v[i], m->v[j]);
		if (found)
			continue;
		snprintf(path, sizeof path, "protection.failed[%u]", i);
		tj__echo(f->v[i], echo);
		return tj__verr(verr, path,
		                TJ__L(lang, "'%s' is not among protection.measures",
		                      "'%s' no está en protection.measures"),
		                echo);
	}
	return 0;
}

static int tj__check_rest(const struct tj_incident_summary *s, bool lenient, enum tj_lang lang,
                          struct tj_verr *verr)
{
	int rc;

	if ((rc = tj__term(s->location.place_type, TJ_CODE_MAX, lang, "location.place_type", verr)) ||
	    (rc = tj__check_code("place_type", s->location.place_type, false, lenient, lang,
	                         "location.place_type", verr)) ||
	    (rc = tj__term(s->source.type, TJ_CODE_MAX, lang, "source.type", verr)) ||
	    (rc = tj__check_code("source_type", s->source.type, true, lenient, lang, "source.type", verr)) ||
	    (rc = tj__term(s->source.reliability, TJ_CODE_MAX, lang, "source.reliability", verr)) ||
	    (rc = tj__check_code("reliability", s->source.reliability, false, lenient, lang,
	                         "source.reliability", verr)) ||
	    (rc = tj__term(s->verification, TJ_CODE_MAX, lang, "verification", verr)) ||
	    (rc = tj__check_code("verification", s->verification, true, lenient, lang, "verification", verr)))
		return rc;
	if (s->severity > 5 || (s->severity_explicit && s->severity == 0))
		return tj__verr(
		    verr, "severity",
		    TJ__L(lang, "%u is out of range; use 1 to 5", "%u está fuera de rango; usa de 1 a 5"),
		    s->severity);
	return 0;
}

static int tj__check_names(char *const *v, uint32_t n, const char *key, enum tj_lang lang,
                           struct tj_verr *verr)
{
	char f[64];
	int rc;

	snprintf(f, sizeof f, "case.%s", key);
	if (n > TJ_INC_NAMES_MAX)
		return tj__too_many(n, TJ_INC_NAMES_MAX, lang, f, verr);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(f, sizeof f, "case.%s[%u]", key, i);
		if ((rc = tj__check_text(v[i], TJ_INC_SHORT_MAX_BYTES, false, lang, f, verr)))
			return rc;
	}
	return 0;
}

static int tj__check_case(const struct tj_incident_case *c, bool lenient, enum tj_lang lang,
                          struct tj_verr *verr)
{
	int rc;

	if ((rc = tj__check_names(c->victim_names, c->n_names, "victim_names", lang, verr)) ||
	    (rc = tj__check_names(c->contacts, c->n_contacts, "contacts", lang, verr)))
		return rc;
	if (c->exact_place && (rc = tj__check_text(c->exact_place, TJ_INC_SHORT_MAX_BYTES, false, lang,
	                                           "case.exact_place", verr)))
		return rc;
	if (c->narrative &&
	    (rc = tj__check_text(c->narrative, TJ_INC_TEXT_MAX_BYTES, true, lang, "case.narrative", verr)))
		return rc;
	return tj__check_codelist("consent", &c->consent, lenient, lang, "case.consent", verr);
}

/* now_ms == 0 skips the "not after today" check: bodies from peers are judged by their author's clock. */
static int tj__validate(const struct tj_incident_summary *s, const struct tj_incident_case *c,
                        enum tj_lang lang, uint64_t now_ms, struct tj_verr *verr)
{
	bool lenient;
	int rc;

	if (s->schema_version != TJ_INCIDENT_SCHEMA_VERSION)
		return tj__verr(verr, "schema_version",
		                TJ__L(lang, "%u is not supported; this build reads version %d",
		                      "%u no es compatible; esta versión lee la %d"),
		                s->schema_version, TJ_INCIDENT_SCHEMA_VERSION);
	if (s->vocab_version == 0)
		return tj__verr(
		    verr, "vocab_version", "%s",
		    TJ__L(lang, "0 is not a vocabulary version", "0 no es una versión de vocabulario"));
	/* Codes are append-only: a newer vocabulary's codes are kept, shape-checked, shown as codes. */
	lenient = s->vocab_version > TJ_VOCAB_VERSION_CURRENT;
	if ((rc = tj__check_occurred(s, lenient, now_ms, lang, verr)) ||
	    (rc = tj__check_place(s->location.state, s->location.municipality, true, "location", lang,
	                          verr)) ||
	    (rc = tj__check_place(s->residence.state, s->residence.municipality, false, "residence", lang,
	                          verr)) ||
	    (rc = tj__check_people(s, lenient, lang, verr)) ||
	    (rc = tj__check_protection(s, lenient, lang, verr)) ||
	    (rc = tj__check_rest(s, lenient, lang, verr)))
		return rc;
	return c ? tj__check_case(c, lenient, lang, verr) : 0;
}

int tj_incident_validate(const struct tj_incident_summary *s, const struct tj_incident_case *c,
                         enum tj_lang lang, uint64_t now_ms, struct tj_verr *verr)
{
	if (verr)
		memset(verr, 0, sizeof *verr);
	if (!s)
		return -EINVAL;
	return tj__validate(s, c, lang, now_ms, verr);
}

uint8_t tj_incident_compute_severity(const struct tj_incident_summary *s, bool prior_within_90d)
{
	unsigned sev = 0;
	uint32_t n;

	if (!s)
		return 0;
	n = s->n_acts < TJ_INC_ACTS_MAX ? s->n_acts : TJ_INC_ACTS_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct tj_vocab_entry *e;
		if (!memchr(s->acts[i].type, '\0', TJ_CODE_MAX))
			continue;
		e = tj_vocab_lookup("act_type", s->acts[i].type);
		if (e && e->severity > sev)
			sev = e->severity;
	}
	/* No act this build knows: leave it "not computed" rather than guess. */
	if (sev == 0)
		return 0;
	if (memchr(s->protection.status, '\0', TJ_CODE_MAX) && s->protection.status[0] &&
	    strcmp(s->protection.status, "none"))
		sev++;
	if (prior_within_90d)
		sev++;
	return (uint8_t)(sev > 5 ? 5 : sev);
}

/* ---- allocation -------------------------------------------------------- */

struct tj_incident_summary *tj_incident_summary_new(void)
{
	return calloc(1, sizeof(struct tj_incident_summary));
}

void tj_incident_summary_free(struct tj_incident_summary *s)
{
	if (!s)
		return;
	sodium_memzero(s, sizeof *s);
	free(s);
}

struct tj_incident_case *tj_incident_case_new(void)
{
	return calloc(1, sizeof(struct tj_incident_case));
}

static void tj__wipe_str(char **p)
{
	if (!*p)
		return;
	sodium_memzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

void tj_incident_case_clear(struct tj_incident_case *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < TJ_INC_NAMES_MAX; i++) {
		tj__wipe_str(&c->victim_names[i]);
		tj__wipe_str(&c->contacts[i]);
	}
	tj__wipe_str(&c->exact_place);
	tj__wipe_str(&c->narrative);
	sodium_memzero(c, sizeof *c);
}

void tj_incident_case_free(struct tj_incident_case *c)
{
	if (!c)
		return;
	tj_incident_case_clear(c);
	free(c);
}

/* ---- bodies: encoding -------------------------------------------------- */

static void tj__put_date(struct tj_mp_writer *w, const struct tj_date *d)
{
	char buf[11];

	tj_date_format(d, buf);
	tj_mp_put_cstr(w, buf);
}

static void tj__put_codelist(struct tj_mp_writer *w, const struct tj_codelist *l)
{
	tj_mp_put_array(w, l->n);
	for (uint32_t i = 0; i < l->n; i++)
		tj_mp_put_cstr(w, l->v[i]);
}

static void tj__put_people(struct tj_mp_writer *w, const struct tj_incident_summary *s)
{
	tj_mp_put_array(w, s->n_victims);
	for (uint32_t i = 0; i < s->n_victims; i++) {
		const struct tj_victim *v = &s->victims[i];
		tj_mp_put_array(w, 7);
		tj_mp_put_cstr(w, v->ref);
		tj_mp_put_cstr(w, v->unit);
		tj_mp_put_cstr(w, v->role);
		tj_mp_put_cstr(w, v->gender);
		tj_mp_put_cstr(w, v->age_band);
		tj__put_codelist(w, &v->traits);
		tj__put_codelist(w, &v->defended_causes);
	}
	tj_mp_put_array(w, s->n_aggressors);
	for (uint32_t i = 0; i < s->n_aggressors; i++) {
		const struct tj_aggressor *a = &s->aggressors[i];
		tj_mp_put_array(w, 4);
		tj_mp_put_cstr(w, a->category);
		tj_mp_put_cstr(w, a->type);
		tj_mp_put_cstr(w, a->level);
		tj_mp_put_cstr(w, a->involvement);
	}
	tj_mp_put_array(w, s->n_acts);
	for (uint32_t i = 0; i < s->n_acts; i++) {
		tj_mp_put_array(w, 3);
		tj_mp_put_cstr(w, s->acts[i].type);
		tj_mp_put_uint(w, s->acts[i].victim);
		if (s->acts[i].aggressor < 0)
			tj_mp_put_nil(w);
		else
			tj_mp_put_uint(w, (uint64_t)s->acts[i].aggressor);
	}
}

/*
 * [schema_version, vocab_version, [start, end, precision], [state, municipality, place_type],
 *  [state, municipality], victims[], aggressors[], acts[], [status, risk_level, measures[], failed[]],
 *  [type, reliability], verification, severity, severity_explicit]
 * victim: [ref, unit, role, gender, age_band, traits[], defended_causes[]]
 * aggressor: [category, type, level, involvement]; act: [type, victim, aggressor|nil]
 * An absent string is "", an absent aggressor index nil: one encoding per incident.
 */
int tj_incident_summary_encode(const struct tj_incident_summary *s, uint8_t *buf, size_t cap, size_t *len)
{
	struct tj_mp_writer w;
	int rc;

	if (!s || !buf || !len)
		return -EINVAL;
	/* Never write a body that every reader would refuse. */
	if ((rc = tj__validate(s, NULL, TJ_LANG_EN, 0, NULL)))
		return rc;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, TJ__SUMMARY_FIELDS);
	tj_mp_put_uint(&w, s->schema_version);
	tj_mp_put_uint(&w, s->vocab_version);
	tj_mp_put_array(&w, 3);
	tj__put_date(&w, &s->occurred.start);
	tj__put_date(&w, &s->occurred.end);
	tj_mp_put_cstr(&w, s->occurred.precision);
	tj_mp_put_array(&w, 3);
	tj_mp_put_cstr(&w, s->location.state);
	tj_mp_put_cstr(&w, s->location.municipality);
	tj_mp_put_cstr(&w, s->location.place_type);
	tj_mp_put_array(&w, 2);
	tj_mp_put_cstr(&w, s->residence.state);
	tj_mp_put_cstr(&w, s->residence.municipality);
	tj__put_people(&w, s);
	tj_mp_put_array(&w, 4);
	tj_mp_put_cstr(&w, s->protection.status);
	tj_mp_put_cstr(&w, s->protection.risk_level);
	tj__put_codelist(&w, &s->protection.measures);
	tj__put_codelist(&w, &s->protection.failed);
	tj_mp_put_array(&w, 2);
	tj_mp_put_cstr(&w, s->source.type);
	tj_mp_put_cstr(&w, s->source.reliability);
	tj_mp_put_cstr(&w, s->verification);
	tj_mp_put_uint(&w, s->severity);
	tj_mp_put_bool(&w, s->severity_explicit);
	return tj_mp_writer_finish(&w, len);
}

static void tj__put_opt_text(struct tj_mp_writer *w, const char *s)
{
	if (s)
		tj_mp_put_cstr(w, s);
	else
		tj_mp_put_nil(w);
}

int tj_incident_case_encode(const struct tj_incident_case *c, const uint8_t summary_id[32], uint8_t *buf,
                            size_t cap, size_t *len)
{
	struct tj_mp_writer w;
	int rc;

	if (!c || !summary_id || !buf || !len)
		return -EINVAL;
	/* As lenient as the decoder (see there); tj_incident_validate() is the strict gate. */
	if ((rc = tj__check_case(c, true, TJ_LANG_EN, NULL)))
		return rc;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, TJ__CASE_FIELDS);
	tj_mp_put_bin(&w, summary_id, 32);
	tj_mp_put_array(&w, c->n_names);
	for (uint32_t i = 0; i < c->n_names; i++)
		tj_mp_put_cstr(&w, c->victim_names[i]);
	tj_mp_put_array(&w, c->n_contacts);
	for (uint32_t i = 0; i < c->n_contacts; i++)
		tj_mp_put_cstr(&w, c->contacts[i]);
	tj__put_opt_text(&w, c->exact_place);
	tj__put_opt_text(&w, c->narrative);
	tj__put_codelist(&w, &c->consent);
	return tj_mp_writer_finish(&w, len);
}

/* ---- bodies: decoding -------------------------------------------------- */

/* An array header of exactly n elements. */
static int tj__rd_tuple(struct tj_mp_reader *r, uint32_t n)
{
	uint32_t got;
	int rc = tj_mp_read_array(r, &got);

	if (rc)
		return rc;
	return got == n ? 0 : TJ_ESCHEMA;
}

/* A str copied into out[cap]: no NUL inside, and it must fit. */
static int tj__rd_fixed(struct tj_mp_reader *r, char *out, size_t cap)
{
	const char *p;
	uint32_t n;
	int rc = tj_mp_read_str(r, &p, &n);

	if (rc)
		return rc;
	if (n >= cap || memchr(p, '\0', n))
		return TJ_ESCHEMA;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A date string: "" (absent) only when optional; otherwise the one canonical form. */
static int tj__rd_date(struct tj_mp_reader *r, struct tj_date *d, bool optional)
{
	char buf[11];
	int rc = tj__rd_fixed(r, buf, sizeof buf);

	if (rc)
		return rc;
	memset(d, 0, sizeof *d);
	if (!buf[0])
		return optional ? 0 : TJ_ESCHEMA;
	return tj_date_parse(buf, d) ? TJ_ESCHEMA : 0;
}

static int tj__rd_codelist(struct tj_mp_reader *r, struct tj_codelist *l)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);

	if (rc)
		return rc;
	if (n > TJ_INC_LIST_MAX)
		return TJ_ESCHEMA;
	l->n = n;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = tj__rd_fixed(r, l->v[i], TJ_CODE_MAX)))
			return rc;
	return 0;
}

static int tj__rd_uint(struct tj_mp_reader *r, uint64_t max, uint64_t *v)
{
	int rc = tj_mp_read_uint(r, v);

	if (rc)
		return rc;
	return *v <= max ? 0 : TJ_ESCHEMA;
}

static int tj__rd_victims(struct tj_mp_reader *r, struct tj_incident_summary *s)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);

	if (rc)
		return rc;
	if (n > TJ_INC_VICTIMS_MAX)
		return TJ_ESCHEMA;
	s->n_victims = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tj_victim *v = &s->victims[i];
		if ((rc = tj__rd_tuple(r, 7)) || (rc = tj__rd_fixed(r, v->ref, TJ_REF_MAX)) ||
		    (rc = tj__rd_fixed(r, v->unit, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, v->role, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, v->gender, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, v->age_band, TJ_CODE_MAX)) ||
		    (rc = tj__rd_codelist(r, &v->traits)) || (rc = tj__rd_codelist(r, &v->defended_causes)))
			return rc;
	}
	return 0;
}

static int tj__rd_aggressors(struct tj_mp_reader *r, struct tj_incident_summary *s)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);

	if (rc)
		return rc;
	if (n > TJ_INC_AGGRESSORS_MAX)
		return TJ_ESCHEMA;
	s->n_aggressors = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tj_aggressor *a = &s->aggressors[i];
		if ((rc = tj__rd_tuple(r, 4)) || (rc = tj__rd_fixed(r, a->category, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, a->type, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, a->level, TJ_CODE_MAX)) ||
		    (rc = tj__rd_fixed(r, a->involvement, TJ_CODE_MAX)))
			return rc;
	}
	return 0;
}

static int tj__rd_acts(struct tj_mp_reader *r, struct tj_incident_summary *s)
{
	uint64_t v;
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);

	if (rc)
		return rc;
	if (n > TJ_INC_ACTS_MAX)
		return TJ_ESCHEMA;
	s->n_acts = n;
	for (uint32_t i = 0; i < n; i++) {
		struct tj_act *a = &s->acts[i];
		if ((rc = tj__rd_tuple(r, 3)) || (rc = tj__rd_fixed(r, a->type, TJ_CODE_MAX)) ||
		    (rc = tj__rd_uint(r, TJ_INC_VICTIMS_MAX, &v)))
			return rc;
		a->victim = (uint32_t)v;
		a->aggressor = -1;
		if (tj_mp_peek_nil(r)) {
			if ((rc = tj_mp_read_nil(r)))
				return rc;
			continue;
		}
		if ((rc = tj__rd_uint(r, TJ_INC_AGGRESSORS_MAX, &v)))
			return rc;
		a->aggressor = (int32_t)v;
	}
	return 0;
}

static int tj__rd_summary(struct tj_mp_reader *r, struct tj_incident_summary *s)
{
	uint64_t v;
	int rc;

	if ((rc = tj__rd_tuple(r, TJ__SUMMARY_FIELDS)) || (rc = tj__rd_uint(r, UINT32_MAX, &v)))
		return rc;
	s->schema_version = (uint32_t)v;
	if (s->schema_version != TJ_INCIDENT_SCHEMA_VERSION)
		return TJ_EUNSUPPORTED;
	if ((rc = tj__rd_uint(r, UINT32_MAX, &v)))
		return rc;
	s->vocab_version = (uint32_t)v;
	if ((rc = tj__rd_tuple(r, 3)) || (rc = tj__rd_date(r, &s->occurred.start, false)) ||
	    (rc = tj__rd_date(r, &s->occurred.end, true)) ||
	    (rc = tj__rd_fixed(r, s->occurred.precision, TJ_CODE_MAX)) || (rc = tj__rd_tuple(r, 3)) ||
	    (rc = tj__rd_fixed(r, s->location.state, 3)) ||
	    (rc = tj__rd_fixed(r, s->location.municipality, 6)) ||
	    (rc = tj__rd_fixed(r, s->location.place_type, TJ_CODE_MAX)) || (rc = tj__rd_tuple(r, 2)) ||
	    (rc = tj__rd_fixed(r, s->residence.state, 3)) ||
	    (rc = tj__rd_fixed(r, s->residence.municipality, 6)) || (rc = tj__rd_victims(r, s)) ||
	    (rc = tj__rd_aggressors(r, s)) || (rc = tj__rd_acts(r, s)) || (rc = tj__rd_tuple(r, 4)) ||
	    (rc = tj__rd_fixed(r, s->protection.status, TJ_CODE_MAX)) ||
	    (rc = tj__rd_fixed(r, s->protection.risk_level, TJ_CODE_MAX)) ||
	    (rc = tj__rd_codelist(r, &s->protection.measures)) ||
	    (rc = tj__rd_codelist(r, &s->protection.failed)) || (rc = tj__rd_tuple(r, 2)) ||
	    (rc = tj__rd_fixed(r, s->source.type, TJ_CODE_MAX)) ||
	    (rc = tj__rd_fixed(r, s->source.reliability, TJ_CODE_MAX)) ||
	    (rc = tj__rd_fixed(r, s->verification, TJ_CODE_MAX)) || (rc = tj__rd_uint(r, 5, &v)))
		return rc;
	s->severity = (uint8_t)v;
	return tj_mp_read_bool(r, &s->severity_explicit);
}

/* Bounds for a summary body: the deepest path is body > victims > victim > traits. */
static const struct tj_mp_limits tj__summary_limits = {
    .max_depth = 4, .max_items = 4096, .max_str = 64, .canonical = true};
/* A case body: body > names; strings up to a narrative. */
static const struct tj_mp_limits tj__case_limits = {
    .max_depth = 2, .max_items = 256, .max_str = TJ_INC_TEXT_MAX_BYTES, .canonical = true};

int tj_incident_summary_decode(const uint8_t *buf, size_t len, struct tj_incident_summary *s)
{
	struct tj_mp_reader r;
	size_t used;
	int rc;

	if (!buf || !s)
		return -EINVAL;
	memset(s, 0, sizeof *s);
	if (len > TJ_INC_BODY_MAX_BYTES)
		return TJ_ELIMIT;
	if ((rc = tj_mp_check(buf, len, &tj__summary_limits, true, &used)))
		goto out;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj__rd_summary(&r, s)))
		goto out;
	rc = tj__validate(s, NULL, TJ_LANG_EN, 0, NULL);
out:
	if (rc)
		memset(s, 0, sizeof *s);
	return rc;
}

/* A str, or nil for absent, copied to the heap. "" is not allowed: absent is nil. */
static int tj__rd_heap_str(struct tj_mp_reader *r, bool nil_ok, char **out)
{
	const char *p;
	uint32_t n;
	int rc;

	*out = NULL;
	if (nil_ok && tj_mp_peek_nil(r))
		return tj_mp_read_nil(r);
	if ((rc = tj_mp_read_str(r, &p, &n)))
		return rc;
	if (n == 0 || memchr(p, '\0', n))
		return TJ_ESCHEMA;
	if (!(*out = malloc((size_t)n + 1)))
		return -ENOMEM;
	memcpy(*out, p, n);
	(*out)[n] = '\0';
	return 0;
}

static int tj__rd_names(struct tj_mp_reader *r, char **v, uint32_t *count)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);

	if (rc)
		return rc;
	if (n > TJ_INC_NAMES_MAX)
		return TJ_ESCHEMA;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = tj__rd_heap_str(r, false, &v[i])))
			return rc;
		*count = i + 1; /* so a failure later frees what was copied */
	}
	return 0;
}

int tj_incident_case_decode(const uint8_t *buf, size_t len, struct tj_incident_case *c,
                            uint8_t summary_id[32])
{
	struct tj_mp_reader r;
	size_t used;
	int rc;

	if (!buf || !c || !summary_id)
		return -EINVAL;
	memset(c, 0, sizeof *c);
	if (len > TJ_INC_BODY_MAX_BYTES)
		return TJ_ELIMIT;
	if ((rc = tj_mp_check(buf, len, &tj__case_limits, true, &used)))
		goto out;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj__rd_tuple(&r, TJ__CASE_FIELDS)) || (rc = tj_mp_read_bin_exact(&r, summary_id, 32)) ||
	    (rc = tj__rd_names(&r, c->victim_names, &c->n_names)) ||
	    (rc = tj__rd_names(&r, c->contacts, &c->n_contacts)) ||
	    (rc = tj__rd_heap_str(&r, true, &c->exact_place)) ||
	    (rc = tj__rd_heap_str(&r, true, &c->narrative)) || (rc = tj__rd_codelist(&r, &c->consent)))
		goto out;
	/*
	 * The case body carries no vocabulary version, so consent codes a newer
	 * build added are accepted by shape rather than refusing the whole case.
	 */
	rc = tj__check_case(c, true, TJ_LANG_EN, NULL);
out:
	if (rc) {
		tj_incident_case_clear(c);
		sodium_memzero(summary_id, 32);
	}
	return rc;
}
