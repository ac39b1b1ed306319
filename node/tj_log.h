/*
 * Leveled log lines to stderr: "2026-03-14T18:22:01.123Z INFO  store: message".
 *
 * WARNING: a log line must never carry plaintext, names, passphrases or
 * secret keys. Ids and public keys appear only as short hex prefixes
 * (tj_log_hex), enough to correlate lines, not to identify a person.
 */
#ifndef TJ_LOG_H
#define TJ_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"

enum tj_log_level {
	TJ_LOG_DEBUG = 0,
	TJ_LOG_INFO = 1,
	TJ_LOG_WARN = 2,
	TJ_LOG_ERROR = 3,
};

/* Hex chars of a short prefix (8 bytes) plus NUL. */
#define TJ_LOG_HEX_CHARS 17

/* Lines below level are dropped. The default is TJ_LOG_INFO. */
void tj_log_set_level(enum tj_log_level level);
enum tj_log_level tj_log_get_level(void);

/* "debug", "info", "warn" (or "warning"), "error" -> level; TJ_ECONFIG otherwise. */
TJ_MUST_CHECK int tj_log_parse_level(const char *s, enum tj_log_level *out);

/* Writes one line (module is a short static name, "store"). */
void tj_log(enum tj_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first 8 bytes of an id or public key as 16 hex digits into out; returns out. */
const char *tj_log_hex(const uint8_t *p, char out[TJ_LOG_HEX_CHARS]);

#define TJ_LOG_D(mod, ...) tj_log(TJ_LOG_DEBUG, mod, __VA_ARGS__)
#define TJ_LOG_I(mod, ...) tj_log(TJ_LOG_INFO, mod, __VA_ARGS__)
#define TJ_LOG_W(mod, ...) tj_log(TJ_LOG_WARN, mod, __VA_ARGS__)
#define TJ_LOG_E(mod, ...) tj_log(TJ_LOG_ERROR, mod, __VA_ARGS__)

#endif
