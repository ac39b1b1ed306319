/*
 * Fuzzes tj_record_decode. Whatever it accepts must re-encode, through
 * tj_record_write_header plus the ciphertext and sig bins, to the same bytes,
 * and the byte ranges it reports must nest within the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tj_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tj_record rec;
	if (tj_record_decode(data, size, &rec) != 0)
		return 0;
	if (!(rec.header_len < rec.signed_len && rec.signed_len < rec.total_len && rec.total_len == size))
		abort();

	uint8_t *out = malloc(TJ_RECORD_MAX_BYTES);
	struct tj_mp_writer w;
	size_t n;
	if (!out)
		abort();
	tj_mp_writer_init(&w, out, TJ_RECORD_MAX_BYTES);
	tj_record_write_header(&w, &rec);
	if (tj_mp_writer_finish(&w, &n) != 0 || n != rec.header_len)
		abort();
	tj_mp_put_bin(&w, rec.ciphertext, rec.ciphertext_len);
	tj_mp_put_bin(&w, rec.sig, sizeof(rec.sig));
	if (tj_mp_writer_finish(&w, &n) != 0 || n != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	return 0;
}
