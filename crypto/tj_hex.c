#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "tj_keys.h"

void tj_hex(const uint8_t *in, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

int tj_unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (s == NULL)
		return TJ_EMALFORMED;
	if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, &end) != 0 || got != n || *end != '\0')
		return TJ_EMALFORMED;
	return 0;
}
