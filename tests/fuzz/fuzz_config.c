/*
 * Fuzzes the INI configuration parser. Accepted input must leave every value
 * in its documented range; refused input must say why, with a line number.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_config.h"
#include "tj_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;
	int rc;

	tj_config_defaults(&cfg);
	rc = tj_config_parse((const char *)data, size, &cfg, err);
	if (rc == 0) {
		if (cfg.map_size_mb < TJ_CONFIG_MAP_SIZE_MB_MIN || cfg.map_size_mb > TJ_CONFIG_MAP_SIZE_MB_MAX)
			abort();
		if (cfg.log_level < TJ_LOG_DEBUG || cfg.log_level > TJ_LOG_ERROR)
			abort();
		if (memchr(cfg.listen, '\0', sizeof(cfg.listen)) == NULL)
			abort();
		/* "" keeps the default listener and "off" disables it (tj_node.h);
		 * anything else must be an address the daemon can bind. */
		if (cfg.listen[0] != '\0' && strcmp(cfg.listen, TJ_LISTEN_OFF) != 0 &&
		    tj_config_check_listen(cfg.listen) != 0)
			abort();
	} else if (rc != TJ_ECONFIG || err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	return 0;
}
