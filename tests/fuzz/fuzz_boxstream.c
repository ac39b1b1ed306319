/*
 * Fuzz target: box-stream framing and message reassembly (see
 * tests/fuzz/README.md).
 *
 * data[0] picks a mode, data[1] a piece size for feeding the reader; the
 * rest is the input:
 *   0  raw wire bytes into a reader (fixed key), chunks into a reassembler
 *   1  plaintext: sealed in segments, then read back in pieces; the
 *      concatenation must come back exactly, ended by a clean goodbye
 *   2  plaintext segments sent as length-prefixed messages; each must be
 *      reassembled exactly, or refused with TJ_ELIMIT if over the bound
 *   3  plaintext sealed, one wire byte corrupted: reading must fail, and
 *      every byte released before the failure must be original plaintext
 * Deterministic: fixed key and nonce, no clock.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_boxstream.h"

#define FZ_PLAIN_MAX 20000
#define FZ_REASM_MAX 3000

static const uint8_t fz_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t fz_nonce[24] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				     0, 0, 0, 0, 0, 0, 0xff, 0xfd};

static void must(bool cond)
{
	if (!cond)
		abort();
}

static struct tj_boxstream *fz_stream(void)
{
	struct tj_boxstream *bs = NULL;

	must(tj_boxstream_new(fz_key, fz_nonce, &bs) == 0);
	return bs;
}

/* Segment lengths: a deterministic function of the piece byte. */
static size_t seg_len(unsigned piece, size_t i)
{
	return 1 + ((piece * 131u + i * 4099u) % 5000u);
}

/*
 * Reads wire in pieces of `piece` bytes; appends DATA to out (cap bytes).
 * Returns the first error (0 if none) and sets *bye.
 */
static int read_pieces(struct tj_boxstream *rx, const uint8_t *wire, size_t n, size_t piece, uint8_t *out,
		       size_t cap, size_t *out_len, bool *bye)
{
	size_t pos = 0;

	*out_len = 0;
	*bye = false;
	while (pos < n) { /* each round consumes >= 1 byte or returns */
		struct tj_boxstream_chunk ch;
		size_t k = n - pos < piece ? n - pos : piece, used = 0;
		int rc = tj_boxstream_read(rx, wire + pos, k, &used, &ch);
		if (rc != 0)
			return rc;
		must(used > 0 && used <= k);
		pos += used;
		if (ch.event == TJ_BOXSTREAM_DATA) {
			must(ch.len <= TJ_BOXSTREAM_BODY_MAX_BYTES && *out_len + ch.len <= cap);
			memcpy(out + *out_len, ch.data, ch.len);
			*out_len += ch.len;
		} else if (ch.event == TJ_BOXSTREAM_GOODBYE) {
			*bye = true;
		}
	}
	return 0;
}

static void mode_raw(const uint8_t *d, size_t n, size_t piece)
{
	struct tj_boxstream *rx = fz_stream();
	struct tj_boxstream_reasm *ra = NULL;
	uint8_t *out = malloc(n + 1);
	size_t got = 0;
	bool bye = false;
	int rc;

	must(out != NULL && tj_boxstream_reasm_new(FZ_REASM_MAX, &ra) == 0);
	rc = read_pieces(rx, d, n, piece, out, n, &got, &bye);
	for (size_t off = 0; off < got;) {
		const uint8_t *m = NULL;
		size_t took = 0, mlen = 0;
		if (tj_boxstream_reasm_push(ra, out + off, got - off, &took, &m, &mlen) != 0)
			break;
		must(took > 0 && (m == NULL || mlen <= FZ_REASM_MAX));
		off += took;
	}
	must(rc != 0 || tj_boxstream_end(rx) == (bye ? 0 : TJ_ETRUNC));
	tj_boxstream_reasm_free(ra);
	tj_boxstream_free(rx);
	free(out);
}

/* Seals the plaintext in segments (+ goodbye); returns the wire bytes. */
static uint8_t *seal_segments(const uint8_t *p, size_t n, unsigned piece, bool as_msgs, size_t *wire_len)
{
	struct tj_boxstream *tx = fz_stream();
	size_t cap = TJ_BOXSTREAM_GOODBYE_BYTES, pos = 0, w = 0;
	uint8_t *wire;

	for (size_t i = 0, off = 0; off < n; i++) {
		size_t k = seg_len(piece, i) < n - off ? seg_len(piece, i) : n - off;
		cap += as_msgs ? tj_boxstream_msg_sealed_bytes(k) : tj_boxstream_sealed_bytes(k);
		off += k;
	}
	wire = malloc(cap);
	must(wire != NULL);
	for (size_t i = 0; pos < n; i++) {
		size_t k = seg_len(piece, i) < n - pos ? seg_len(piece, i) : n - pos, got = 0;
		int rc = as_msgs ? tj_boxstream_seal_msg(tx, p + pos, k, wire + w, cap - w, &got)
				 : tj_boxstream_seal(tx, p + pos, k, wire + w, cap - w, &got);
		must(rc == 0);
		pos += k;
		w += got;
	}
	must(cap - w == TJ_BOXSTREAM_GOODBYE_BYTES && tj_boxstream_goodbye(tx, wire + w) == 0);
	*wire_len = cap;
	tj_boxstream_free(tx);
	return wire;
}

static void mode_round_trip(const uint8_t *p, size_t n, unsigned piece)
{
	size_t wire_len = 0, got = 0;
	uint8_t *wire = seal_segments(p, n, piece, false, &wire_len);
	uint8_t *out = malloc(n + 1);
	struct tj_boxstream *rx = fz_stream();
	bool bye = false;

	must(out != NULL);
	must(read_pieces(rx, wire, wire_len, piece + 1u, out, n, &got, &bye) == 0);
	must(bye && got == n && memcmp(out, p, n) == 0 && tj_boxstream_end(rx) == 0);
	tj_boxstream_free(rx);
	free(out);
	free(wire);
}

static void mode_messages(const uint8_t *p, size_t n, unsigned piece)
{
	size_t wire_len = 0, got = 0, pos = 0, seg = 0;
	uint8_t *wire = seal_segments(p, n, piece, true, &wire_len);
	uint8_t *plain = malloc(wire_len);
	struct tj_boxstream *rx = fz_stream();
	struct tj_boxstream_reasm *ra = NULL;
	bool bye = false;

	must(plain != NULL && tj_boxstream_reasm_new(FZ_REASM_MAX, &ra) == 0);
	must(read_pieces(rx, wire, wire_len, piece + 1u, plain, wire_len, &got, &bye) == 0 && bye);
	for (size_t off = 0; off < got;) {
		const uint8_t *m = NULL;
		size_t took = 0, mlen = 0, k = seg_len(piece, seg) < n - pos ? seg_len(piece, seg) : n - pos;
		int rc = tj_boxstream_reasm_push(ra, plain + off, got - off, &took, &m, &mlen);
		off += took;
		if (rc != 0) { /* only an honest over-the-bound message may be refused */
			must(rc == TJ_ELIMIT && k > FZ_REASM_MAX && took <= TJ_BOXSTREAM_MSG_PREFIX_BYTES);
			break;
		}
		if (m != NULL) {
			must(mlen == k && memcmp(m, p + pos, k) == 0);
			pos += k;
			seg++;
		}
	}
	tj_boxstream_reasm_free(ra);
	tj_boxstream_free(rx);
	free(plain);
	free(wire);
}

static void mode_corrupt(const uint8_t *d, size_t n, unsigned piece)
{
	size_t wire_len = 0, got = 0, at;
	uint8_t *wire, *out;
	struct tj_boxstream *rx;
	bool bye = false;

	if (n < 3)
		return;
	at = ((size_t)d[0] << 8) | d[1];
	wire = seal_segments(d + 3, n - 3, piece, false, &wire_len);
	out = malloc(n + 1);
	must(out != NULL);
	at %= wire_len;
	wire[at] ^= (uint8_t)(d[2] | 1u);
	rx = fz_stream();
	must(read_pieces(rx, wire, wire_len, piece + 1u, out, n, &got, &bye) != 0);
	must(!bye && got <= n - 3 && memcmp(out, d + 3, got) == 0);
	tj_boxstream_free(rx);
	free(out);
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned piece;

	if (sodium_init() < 0 || size < 2)
		return 0;
	piece = data[1];
	if (size - 2 > FZ_PLAIN_MAX)
		size = FZ_PLAIN_MAX + 2;
	switch (data[0] % 4) {
	case 0:
		mode_raw(data + 2, size - 2, piece + 1u);
		break;
	case 1:
		mode_round_trip(data + 2, size - 2, piece);
		break;
	case 2:
		mode_messages(data + 2, size - 2, piece);
		break;
	default:
		mode_corrupt(data + 2, size - 2, piece);
		break;
	}
	return 0;
}
