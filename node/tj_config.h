/*
 * The node's configuration: DIR/tejido.conf, an INI file (libinih). The file
 * is optional; every key has a default. An unknown section or key, a bad
 * value or a line over TJ_CONFIG_LINE_MAX bytes is an error (TJ_ECONFIG) with
 * the line number, and the daemon refuses to start: a typo must not silently
 * leave a node on defaults.
 *
 *   [node]
 *   listen      = 0.0.0.0:7654     ; HOST:PORT (IPv6 as [::1]:7654) where peers
 *                                  ; connect, or off. Absent: `tejido node start`
 *                                  ; uses 0.0.0.0:7654 (TJ_LISTEN_DEFAULT)
 *   log_level   = info             ; debug | info | warn | error
 *   map_size_mb = 16384            ; LMDB map size in MiB, 16..1048576
 *                                  ; (sparse: disk is used only as records arrive)
 *
 *   [peers]
 *   ping_s      = 30               ; a peer silent this long (no frame) is probed, 1..3600
 *   dead_s      = 90               ; a peer silent this long is cut and redialed,
 *                                  ; 2..86400 and more than ping_s
 *
 *   [alerts]                       ; thresholds and the alert hook: see tj_alert_config.h
 *   alert_hook  = /path/to/program
 *
 * Comments start with ';' or '#'.
 */
#ifndef TJ_CONFIG_H
#define TJ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tj_alert_config.h"
#include "tj_error.h"
#include "tj_log.h"

#define TJ_CONFIG_FILE_NAME "tejido.conf"
#define TJ_CONFIG_FILE_MAX_BYTES (64u * 1024u)
#define TJ_CONFIG_LINE_MAX 199
#define TJ_CONFIG_ERR_MAX 256
#define TJ_CONFIG_LISTEN_MAX 64
#define TJ_CONFIG_MAP_SIZE_MB_DEFAULT 16384u
#define TJ_CONFIG_MAP_SIZE_MB_MIN 16u
#define TJ_CONFIG_MAP_SIZE_MB_MAX 1048576u
#define TJ_CONFIG_PING_S_DEFAULT 30u
#define TJ_CONFIG_PING_S_MAX 3600u
#define TJ_CONFIG_DEAD_S_DEFAULT 90u
#define TJ_CONFIG_DEAD_S_MAX 86400u

struct tj_config {
	char listen[TJ_CONFIG_LISTEN_MAX]; /* "" = no peer listener */
	enum tj_log_level log_level;
	uint64_t map_size_mb;
	uint32_t peer_ping_s;              /* [peers] ping_s */
	uint32_t peer_dead_s;              /* [peers] dead_s, > peer_ping_s */
	struct tj_alert_config alerts; /* [alerts] */
};

void tj_config_defaults(struct tj_config *cfg);

/*
 * Parses INI text (need not be NUL-terminated) over cfg, which holds the
 * defaults or earlier values. On TJ_ECONFIG, err says "line N: what is wrong".
 */
TJ_MUST_CHECK int tj_config_parse(const char *text, size_t len, struct tj_config *cfg,
				  char err[TJ_CONFIG_ERR_MAX]);

/*
 * Fills cfg with the defaults, then applies DIR/tejido.conf if it exists.
 * A missing file is not an error; an unreadable or oversize one is.
 */
TJ_MUST_CHECK int tj_config_load(const char *datadir, struct tj_config *cfg, char err[TJ_CONFIG_ERR_MAX]);

/* Checks "HOST:PORT" (IPv4 dotted, or [IPv6]) with a port in 1..65535. */
TJ_MUST_CHECK int tj_config_check_listen(const char *s);

#endif
