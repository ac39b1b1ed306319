/*
 * Internal to the incident schema: helpers shared by tj_incident.c (validation,
 * bodies) and tj_incident_json.c (the JSON mapping), so that both report a
 * problem with the same words. Not for other modules.
 */
#ifndef TJ_INCIDENT_INTERNAL_H
#define TJ_INCIDENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_incident.h"

/* Picks the English or the Spanish literal (both stay literals for -Wformat). */
#define TJ__L(lang, en, es) ((lang) == TJ_LANG_ES ? (es) : (en))

/* Sets verr (may be NULL) to "<field>: <formatted text>" and returns TJ_ESCHEMA. */
__attribute__((format(printf, 3, 4))) int tj__verr(struct tj_verr *verr, const char *field, const char *fmt,
                                                   ...);

/*
 * Copies at most 40 bytes of an untrusted value into out for quoting in a
 * message: stops at a UTF-8 boundary, replaces control and invalid bytes with
 * '?', appends "..." when cut. Never quote case-face text: it may hold names.
 */
void tj__echo(const char *s, char out[64]);

/* Strict UTF-8 of s[0..n): no overlongs, surrogates, NUL; controls only if allowed (\n, \t). */
bool tj__utf8_ok(const char *s, size_t n, bool allow_newlines);

/*
 * Checks one coded value against vocab `vocab`. An empty code is fine unless
 * required. lenient (a body coded with a newer vocabulary than this build's)
 * checks only the code's shape. Returns 0 or TJ_ESCHEMA with verr set.
 */
int tj__check_code(const char *vocab, const char *code, bool required, bool lenient, enum tj_lang lang,
                   const char *field, struct tj_verr *verr);

/* Checks a list of codes: count, each code, no repeats. */
int tj__check_codelist(const char *vocab, const struct tj_codelist *l, bool lenient, enum tj_lang lang,
                       const char *field, struct tj_verr *verr);

/* Checks a victims[].ref: empty or 1..32 of [A-Za-z0-9._-]. */
int tj__check_ref(const char *ref, enum tj_lang lang, const char *field, struct tj_verr *verr);

/* Checks one case-face string: non-empty, at most max bytes, UTF-8, no control characters. */
int tj__check_text(const char *s, size_t max, bool allow_newlines, enum tj_lang lang, const char *field,
                   struct tj_verr *verr);

/* "<n> entries; at most <max>" for field. */
int tj__too_many(uint32_t n, uint32_t max, enum tj_lang lang, const char *field, struct tj_verr *verr);

/* Checks that code is a known INEGI state (is_state) or municipality code. */
int tj__check_inegi(const char *code, bool is_state, enum tj_lang lang, const char *field,
                    struct tj_verr *verr);

/* "'<s>' is not a valid date; use YYYY-MM-DD, YYYY-MM or YYYY" for field. */
int tj__bad_date(const char *s, enum tj_lang lang, const char *field, struct tj_verr *verr);

#endif
