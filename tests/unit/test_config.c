/*
 * The INI configuration: defaults, every key, and every kind of mistake
 * refused with its line number (unknown section, unknown key, bad values,
 * over-long lines, NUL bytes, syntax errors, an oversize file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tj_config.h"
#include "tj_node_testutil.h"

static int parse(const char *text, struct tj_config *cfg, char err[TJ_CONFIG_ERR_MAX])
{
	tj_config_defaults(cfg);
	return tj_config_parse(text, strlen(text), cfg, err);
}

static void test_defaults_and_keys(void **state)
{
	char err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;

	(void)state;
	assert_int_equal(parse("", &cfg, err), 0);
	assert_string_equal(cfg.listen, "");
	assert_int_equal(cfg.log_level, TJ_LOG_INFO);
	assert_int_equal(cfg.map_size_mb, TJ_CONFIG_MAP_SIZE_MB_DEFAULT);
	assert_int_equal(parse("; a comment\n# another\n[node]\nlisten = 127.0.0.1:7450\nlog_level = debug\n"
			       "map_size_mb = 64\n",
			       &cfg, err),
			 0);
	assert_string_equal(cfg.listen, "127.0.0.1:7450");
	assert_int_equal(cfg.log_level, TJ_LOG_DEBUG);
	assert_int_equal(cfg.map_size_mb, 64);
	assert_int_equal(parse("[node]\nlisten = [::1]:9000\r\nlog_level = warn\n", &cfg, err), 0);
	assert_string_equal(cfg.listen, "[::1]:9000");
	assert_int_equal(cfg.log_level, TJ_LOG_WARN);
	/* "off": no peer listener, even where the CLI would fall back to 0.0.0.0:7654. */
	assert_int_equal(parse("[node]\nlisten = off\n", &cfg, err), 0);
	assert_string_equal(cfg.listen, "off");
	/* [peers]: the liveness timers. */
	assert_int_equal(parse("", &cfg, err), 0);
	assert_int_equal(cfg.peer_ping_s, TJ_CONFIG_PING_S_DEFAULT);
	assert_int_equal(cfg.peer_dead_s, TJ_CONFIG_DEAD_S_DEFAULT);
	assert_int_equal(parse("[peers]\nping_s = 1\ndead_s = 3\n", &cfg, err), 0);
	assert_int_equal(cfg.peer_ping_s, 1);
	assert_int_equal(cfg.peer_dead_s, 3);
	assert_int_equal(parse("[peers]\ndead_s = 120\n", &cfg, err), 0);
	assert_int_equal(cfg.peer_dead_s, 120);
}

/* Each bad file is refused and the message names its line. */
static void test_mistakes_have_lines(void **state)
{
	static const struct {
		const char *text;
		const char *line;
		const char *what;
	} bad[] = {
		{"[nodes]\nlisten = 1.2.3.4:5\n", "line 2", "unknown section"},
		{"[node]\nlog_level = info\nlisten_on = x\n", "line 3", "unknown key"},
		{"[node]\nlog_level = loud\n", "line 2", "log_level"},
		{"[node]\nmap_size_mb = 8\n", "line 2", "map_size_mb"},
		{"[node]\nmap_size_mb = 99999999999999999999999\n", "line 2", "map_size_mb"},
		{"[node]\nmap_size_mb = -5\n", "line 2", "map_size_mb"},
		{"[node]\nmap_size_mb = 64MB\n", "line 2", "map_size_mb"},
		{"[node]\nlisten = localhost\n", "line 2", "listen"},
		{"[node]\nlisten = 127.0.0.1:0\n", "line 2", "listen"},
		{"[node]\nlisten = 127.0.0.1:70000\n", "line 2", "listen"},
		{"[node]\nlisten = 300.1.1.1:80\n", "line 2", "listen"},
		{"[node]\nlisten = [::1:80\n", "line 2", "listen"},
		{"[node]\n\nthis is not ini\n", "line 3", "line"},
		{"listen = 1.2.3.4:5\n", "line 1", "unknown section"},
		{"[peers]\nping_s = 0\n", "line 2", "ping_s"},
		{"[peers]\nping_s = 3601\n", "line 2", "ping_s"},
		{"[peers]\ndead_s = 1\n", "line 2", "dead_s"},
		{"[peers]\ndead_s = 30s\n", "line 2", "dead_s"},
		{"[peers]\nkeepalive = 5\n", "line 2", "unknown key in [peers]"},
		{"[peers]\nping_s = 60\ndead_s = 60\n", "line 3", "dead_s must be more than ping_s"},
		{"[peers]\nping_s = 100\n", "line 2", "dead_s must be more than ping_s"},
	};
	char err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text, &cfg, err), TJ_ECONFIG);
		if (strstr(err, bad[i].line) == NULL || strstr(err, bad[i].what) == NULL) {
			fprintf(stderr, "case %zu: message '%s' lacks '%s' or '%s'\n", i, err, bad[i].line,
				bad[i].what);
			fail();
		}
	}
}

static void test_long_line_nul_oversize(void **state)
{
	static char text[TJ_CONFIG_FILE_MAX_BYTES + 16];
	char err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[node]\nlog_level = info ; ");
	memset(text + n, 'x', 400);
	strcpy(text + n + 400, "\nmap_size_mb = 64\n");
	assert_int_equal(parse(text, &cfg, err), TJ_ECONFIG);
	assert_non_null(strstr(err, "line 2"));
	assert_non_null(strstr(err, "too long"));
	/* A NUL byte inside a line. */
	memcpy(text, "[node]\nlog_level = de\0bug\n", 26);
	tj_config_defaults(&cfg);
	assert_int_equal(tj_config_parse(text, 26, &cfg, err), TJ_ECONFIG);
	assert_non_null(strstr(err, "line 2"));
	/* An oversize file. */
	memset(text, '\n', sizeof(text));
	tj_config_defaults(&cfg);
	assert_int_equal(tj_config_parse(text, TJ_CONFIG_FILE_MAX_BYTES + 1, &cfg, err), TJ_ECONFIG);
}

static void test_load_file(void **state)
{
	char dir[64], path[128], err[TJ_CONFIG_ERR_MAX];
	struct tj_config cfg;
	FILE *fp;

	(void)state;
	tt_tmpdir(dir);
	/* No file: defaults. */
	assert_int_equal(tj_config_load(dir, &cfg, err), 0);
	assert_int_equal(cfg.map_size_mb, TJ_CONFIG_MAP_SIZE_MB_DEFAULT);
	snprintf(path, sizeof(path), "%s/%s", dir, TJ_CONFIG_FILE_NAME);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[node]\nmap_size_mb = 128\n", fp);
	fclose(fp);
	assert_int_equal(tj_config_load(dir, &cfg, err), 0);
	assert_int_equal(cfg.map_size_mb, 128);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("[node]\nmap_size = 128\n", fp);
	fclose(fp);
	assert_int_equal(tj_config_load(dir, &cfg, err), TJ_ECONFIG);
	assert_non_null(strstr(err, "line 2"));
	tt_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_keys),
		cmocka_unit_test(test_mistakes_have_lines),
		cmocka_unit_test(test_long_line_nul_oversize),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
