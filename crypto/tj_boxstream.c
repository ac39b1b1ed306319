/*
 * Box-stream framing (see tj_boxstream.h), byte-compatible with the
 * JavaScript pull-box-stream 1.0.x that secret-handshake uses.
 */
#include "tj_boxstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define TJ__MAC_BYTES crypto_secretbox_MACBYTES         /* 16 */
#define TJ__HDR_PLAIN_BYTES (2 + TJ__MAC_BYTES)         /* body length || body MAC */

struct tj_boxstream {
	uint8_t key[TJ_BOXSTREAM_KEY_BYTES];
	uint8_t nonce[TJ_BOXSTREAM_NONCE_BYTES]; /* the next nonce to use */
	bool closed;                             /* goodbye sent or received */
	bool failed;                             /* authentication failed: dead */
	/* Reader state: at most one frame is buffered. */
	bool have_header;         /* hdr opened; body_len bytes of body expected */
	size_t body_len;
	uint8_t body_mac[TJ__MAC_BYTES];
	size_t fill;              /* bytes in hdr (no header yet) or body */
	size_t delivered;         /* plaintext bytes in body handed out last time */
	uint8_t hdr[TJ_BOXSTREAM_HEADER_BYTES];
	uint8_t body[TJ_BOXSTREAM_BODY_MAX_BYTES];
};

/* A piece of plaintext: seal_msg sends a prefix and a message as one. */
struct tj__part {
	const uint8_t *p;
	size_t len;
};

/* Big-endian increment by one, as pull-box-stream's increment-buffer. */
static void tj__nonce_inc(uint8_t nonce[TJ_BOXSTREAM_NONCE_BYTES])
{
	for (size_t i = TJ_BOXSTREAM_NONCE_BYTES; i-- > 0;) {
		nonce[i]++;
		if (nonce[i] != 0)
			return;
	}
}

int tj_boxstream_new(const uint8_t key[TJ_BOXSTREAM_KEY_BYTES], const uint8_t nonce[TJ_BOXSTREAM_NONCE_BYTES],
		     struct tj_boxstream **out)
{
	struct tj_boxstream *bs;
	/* sodium_malloc aligns the end of the block, so round the size up. */
	size_t size = (sizeof(*bs) + 15u) & ~(size_t)15u;

	if (key == NULL || nonce == NULL || out == NULL)
		return -EINVAL;
	*out = NULL;
	if (sodium_init() < 0)
		return TJ_ECRYPTO;
	bs = sodium_malloc(size);
	if (bs == NULL)
		return -ENOMEM;
	memset(bs, 0, size);
	memcpy(bs->key, key, TJ_BOXSTREAM_KEY_BYTES);
	memcpy(bs->nonce, nonce, TJ_BOXSTREAM_NONCE_BYTES);
	*out = bs;
	return 0;
}

void tj_boxstream_free(struct tj_boxstream *bs)
{
	if (bs != NULL)
		sodium_free(bs); /* wipes the key and any buffered plaintext */
}

/* The stream is dead: forget the key and whatever was buffered. */
static void tj__fail(struct tj_boxstream *bs)
{
	sodium_memzero(bs->key, sizeof(bs->key));
	sodium_memzero(bs->body, sizeof(bs->body));
	sodium_memzero(bs->hdr, sizeof(bs->hdr));
	bs->failed = true;
}

size_t tj_boxstream_sealed_bytes(size_t len)
{
	size_t frames = len / TJ_BOXSTREAM_BODY_MAX_BYTES + (len % TJ_BOXSTREAM_BODY_MAX_BYTES != 0);
	size_t overhead = frames * TJ_BOXSTREAM_HEADER_BYTES; /* frames <= SIZE_MAX/4096: no overflow */

	if (len > SIZE_MAX - overhead)
		return SIZE_MAX;
	return len + overhead;
}

/* Copies the next n plaintext bytes from the parts, advancing them. */
static void tj__take(struct tj__part parts[2], uint8_t *dst, size_t n)
{
	for (size_t i = 0; i < 2 && n > 0; i++) {
		size_t k = parts[i].len < n ? parts[i].len : n;
		if (k == 0)
			continue;
		memcpy(dst, parts[i].p, k);
		parts[i].p += k;
		parts[i].len -= k;
		dst += k;
		n -= k;
	}
}

/* One frame of n (1..4096) bytes: body encrypted in place, then the header. */
static int tj__seal_frame(struct tj_boxstream *bs, struct tj__part parts[2], size_t n, uint8_t *out)
{
	uint8_t hdr_plain[TJ__HDR_PLAIN_BYTES];
	uint8_t body_nonce[TJ_BOXSTREAM_NONCE_BYTES];
	uint8_t *body = out + TJ_BOXSTREAM_HEADER_BYTES;
	int rc = TJ_ECRYPTO;

	memcpy(body_nonce, bs->nonce, sizeof(body_nonce));
	tj__nonce_inc(body_nonce);
	tj__take(parts, body, n);
	if (crypto_secretbox_detached(body, hdr_plain + 2, body, n, body_nonce, bs->key) != 0)
		goto out;
	hdr_plain[0] = (uint8_t)(n >> 8);
	hdr_plain[1] = (uint8_t)(n & 0xffu);
	if (crypto_secretbox_easy(out, hdr_plain, sizeof(hdr_plain), bs->nonce, bs->key) != 0)
		goto out;
	tj__nonce_inc(bs->nonce);
	tj__nonce_inc(bs->nonce);
	rc = 0;
out:
	sodium_memzero(hdr_plain, sizeof(hdr_plain));
	return rc;
}

static int tj__seal_parts(struct tj_boxstream *bs, struct tj__part parts[2], uint8_t *out, size_t out_cap,
			  size_t *out_len)
{
	size_t total = parts[0].len + parts[1].len; /* callers checked for overflow */
	size_t need = tj_boxstream_sealed_bytes(total);
	size_t pos = 0;
	int rc;

	*out_len = 0;
	if (bs->failed || bs->closed)
		return TJ_ESTATE;
	if (need == SIZE_MAX)
		return TJ_ELIMIT;
	if (out_cap < need || (need > 0 && out == NULL))
		return TJ_ENOSPC;
	while (total > 0) { /* bounded: total shrinks by >= 1 each round */
		size_t n = total < TJ_BOXSTREAM_BODY_MAX_BYTES ? total : TJ_BOXSTREAM_BODY_MAX_BYTES;
		rc = tj__seal_frame(bs, parts, n, out + pos);
		if (rc != 0) {
			sodium_memzero(out, need);
			tj__fail(bs);
			return rc;
		}
		pos += TJ_BOXSTREAM_HEADER_BYTES + n;
		total -= n;
	}
	*out_len = pos;
	return 0;
}

int tj_boxstream_seal(struct tj_boxstream *bs, const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
		      size_t *out_len)
{
	struct tj__part parts[2] = {{msg, len}, {NULL, 0}};

	if (bs == NULL || out_len == NULL || (len > 0 && msg == NULL))
		return -EINVAL;
	return tj__seal_parts(bs, parts, out, out_cap, out_len);
}

int tj_boxstream_goodbye(struct tj_boxstream *bs, uint8_t out[TJ_BOXSTREAM_GOODBYE_BYTES])
{
	static const uint8_t zeros[TJ__HDR_PLAIN_BYTES];

	if (bs == NULL || out == NULL)
		return -EINVAL;
	if (bs->failed || bs->closed)
		return TJ_ESTATE;
	if (crypto_secretbox_easy(out, zeros, sizeof(zeros), bs->nonce, bs->key) != 0) {
		tj__fail(bs);
		return TJ_ECRYPTO;
	}
	bs->closed = true;
	sodium_memzero(bs->key, sizeof(bs->key)); /* nothing more will be sent */
	return 0;
}

size_t tj_boxstream_msg_sealed_bytes(size_t len)
{
	if (len > SIZE_MAX - TJ_BOXSTREAM_MSG_PREFIX_BYTES)
		return SIZE_MAX;
	return tj_boxstream_sealed_bytes(len + TJ_BOXSTREAM_MSG_PREFIX_BYTES);
}

int tj_boxstream_seal_msg(struct tj_boxstream *bs, const uint8_t *msg, size_t len, uint8_t *out, size_t out_cap,
			  size_t *out_len)
{
	uint8_t prefix[TJ_BOXSTREAM_MSG_PREFIX_BYTES];
	struct tj__part parts[2] = {{prefix, sizeof(prefix)}, {msg, len}};

	if (bs == NULL || out_len == NULL || (len > 0 && msg == NULL))
		return -EINVAL;
	*out_len = 0;
	if (len > UINT32_MAX || len > SIZE_MAX - sizeof(prefix))
		return TJ_ELIMIT;
	prefix[0] = (uint8_t)(len >> 24);
	prefix[1] = (uint8_t)(len >> 16);
	prefix[2] = (uint8_t)(len >> 8);
	prefix[3] = (uint8_t)len;
	return tj__seal_parts(bs, parts, out, out_cap, out_len);
}

int tj_boxstream_open_header(struct tj_boxstream *bs, const uint8_t hdr[TJ_BOXSTREAM_HEADER_BYTES],
			     size_t *body_len, bool *goodbye)
{
	uint8_t plain[TJ__HDR_PLAIN_BYTES];
	size_t n;
	int rc;

	if (bs == NULL || hdr == NULL || body_len == NULL || goodbye == NULL)
		return -EINVAL;
	*body_len = 0;
	*goodbye = false;
	if (bs->failed || bs->closed || bs->have_header)
		return TJ_ESTATE;
	rc = TJ_EDECRYPT;
	if (crypto_secretbox_open_easy(plain, hdr, TJ_BOXSTREAM_HEADER_BYTES, bs->nonce, bs->key) != 0)
		goto out;
	if (sodium_is_zero(plain, sizeof(plain))) {
		bs->closed = true;
		*goodbye = true;
		sodium_memzero(bs->key, sizeof(bs->key)); /* nothing more may arrive */
		rc = 0;
		goto out;
	}
	n = ((size_t)plain[0] << 8) | plain[1];
	rc = TJ_ELIMIT;
	if (n > TJ_BOXSTREAM_BODY_MAX_BYTES)
		goto out;
	memcpy(bs->body_mac, plain + 2, TJ__MAC_BYTES);
	bs->body_len = n;
	bs->have_header = true;
	tj__nonce_inc(bs->nonce);
	*body_len = n;
	rc = 0;
out:
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		tj__fail(bs);
	return rc;
}

int tj_boxstream_open_body(struct tj_boxstream *bs, const uint8_t *cipher, size_t len, uint8_t *plain)
{
	if (bs == NULL || (len > 0 && (cipher == NULL || plain == NULL)))
		return -EINVAL;
	if (bs->failed || !bs->have_header)
		return TJ_ESTATE;
	if (len != bs->body_len)
		return -EINVAL;
	if (crypto_secretbox_open_detached(plain, cipher, bs->body_mac, len, bs->nonce, bs->key) != 0) {
		if (len > 0)
			sodium_memzero(plain, len);
		tj__fail(bs);
		return TJ_EDECRYPT;
	}
	tj__nonce_inc(bs->nonce);
	bs->have_header = false;
	return 0;
}

/* Moves up to want-fill bytes from in to dst+fill; returns how many. */
static size_t tj__gather(uint8_t *dst, size_t *fill, size_t want, const uint8_t *in, size_t in_len)
{
	size_t k = want - *fill;

	if (k > in_len)
		k = in_len;
	if (k > 0)
		memcpy(dst + *fill, in, k);
	*fill += k;
	return k;
}

/* The header is complete in bs->hdr: open it, and report a goodbye. */
static int tj__read_header(struct tj_boxstream *bs, struct tj_boxstream_chunk *chunk)
{
	size_t n;
	bool bye;
	int rc = tj_boxstream_open_header(bs, bs->hdr, &n, &bye);

	bs->fill = 0;
	if (rc == 0 && bye)
		chunk->event = TJ_BOXSTREAM_GOODBYE;
	return rc;
}

/* The body is complete in bs->body: decrypt it in place and hand it out. */
static int tj__read_body(struct tj_boxstream *bs, struct tj_boxstream_chunk *chunk)
{
	size_t n = bs->body_len;
	int rc = tj_boxstream_open_body(bs, bs->body, n, bs->body);

	bs->fill = 0;
	if (rc != 0)
		return rc;
	bs->delivered = n;
	chunk->event = TJ_BOXSTREAM_DATA;
	chunk->data = bs->body;
	chunk->len = n;
	return 0;
}

int tj_boxstream_read(struct tj_boxstream *bs, const uint8_t *in, size_t in_len, size_t *consumed,
		      struct tj_boxstream_chunk *chunk)
{
	size_t used = 0;
	int rc = 0;

	if (bs == NULL || consumed == NULL || chunk == NULL || (in_len > 0 && in == NULL))
		return -EINVAL;
	*consumed = 0;
	memset(chunk, 0, sizeof(*chunk));
	if (bs->failed)
		return TJ_ESTATE;
	if (bs->delivered > 0) { /* the caller is done with the last chunk */
		sodium_memzero(bs->body, bs->delivered);
		bs->delivered = 0;
	}
	if (in_len == 0)
		return 0;
	if (bs->closed) {
		tj__fail(bs);
		return TJ_EPROTO;
	}
	if (!bs->have_header) {
		used += tj__gather(bs->hdr, &bs->fill, TJ_BOXSTREAM_HEADER_BYTES, in, in_len);
		if (bs->fill < TJ_BOXSTREAM_HEADER_BYTES)
			goto out;
		rc = tj__read_header(bs, chunk);
		if (rc != 0 || bs->closed)
			goto out;
	}
	/* A header is open: gather its body (an empty body completes at once). */
	used += tj__gather(bs->body, &bs->fill, bs->body_len, in + used, in_len - used);
	if (bs->fill == bs->body_len)
		rc = tj__read_body(bs, chunk);
out:
	*consumed = used;
	return rc;
}

int tj_boxstream_end(const struct tj_boxstream *bs)
{
	if (bs == NULL)
		return -EINVAL;
	if (bs->failed)
		return TJ_ESTATE;
	return bs->closed ? 0 : TJ_ETRUNC;
}

bool tj_boxstream_closed(const struct tj_boxstream *bs)
{
	return bs != NULL && bs->closed;
}

/* --- Reassembly of length-prefixed messages ------------------------------ */

struct tj_boxstream_reasm {
	size_t max;
	uint8_t prefix[TJ_BOXSTREAM_MSG_PREFIX_BYTES];
	size_t prefix_fill;
	size_t want;      /* announced length, once the prefix is complete */
	size_t fill;      /* bytes of the message received */
	uint8_t *buf;     /* malloc, cap bytes; grows up to max, never beyond */
	size_t cap;
	size_t delivered; /* a message was handed out: wipe and reset on next push */
	bool has_delivered;
	bool dead;
};

int tj_boxstream_reasm_new(size_t max_msg_bytes, struct tj_boxstream_reasm **out)
{
	struct tj_boxstream_reasm *r;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->max = max_msg_bytes;
	*out = r;
	return 0;
}

void tj_boxstream_reasm_free(struct tj_boxstream_reasm *r)
{
	if (r == NULL)
		return;
	if (r->buf != NULL) {
		sodium_memzero(r->buf, r->cap);
		free(r->buf);
	}
	sodium_memzero(r, sizeof(*r));
	free(r);
}

/* Makes room for want bytes (want <= max already checked). */
static int tj__reasm_reserve(struct tj_boxstream_reasm *r, size_t want)
{
	uint8_t *nb;

	if (want <= r->cap)
		return 0;
	nb = malloc(want);
	if (nb == NULL)
		return -ENOMEM;
	if (r->buf != NULL) { /* nothing to keep: a message starts empty */
		sodium_memzero(r->buf, r->cap);
		free(r->buf);
	}
	r->buf = nb;
	r->cap = want;
	return 0;
}

/* Reads the 4-byte prefix; checks the bound before any buffering. */
static int tj__reasm_prefix(struct tj_boxstream_reasm *r, const uint8_t *data, size_t len, size_t *used)
{
	*used = tj__gather(r->prefix, &r->prefix_fill, sizeof(r->prefix), data, len);
	if (r->prefix_fill < sizeof(r->prefix))
		return 0;
	r->want = ((size_t)r->prefix[0] << 24) | ((size_t)r->prefix[1] << 16) | ((size_t)r->prefix[2] << 8) |
		  r->prefix[3];
	if (r->want > r->max)
		return TJ_ELIMIT;
	return tj__reasm_reserve(r, r->want);
}

int tj_boxstream_reasm_push(struct tj_boxstream_reasm *r, const uint8_t *data, size_t len, size_t *consumed,
			    const uint8_t **msg, size_t *msg_len)
{
	static const uint8_t empty[1];
	size_t used = 0;
	int rc = 0;

	if (r == NULL || consumed == NULL || msg == NULL || msg_len == NULL || (len > 0 && data == NULL))
		return -EINVAL;
	*consumed = 0;
	*msg = NULL;
	*msg_len = 0;
	if (r->dead)
		return TJ_ESTATE;
	if (r->has_delivered) {
		if (r->delivered > 0)
			sodium_memzero(r->buf, r->delivered);
		r->has_delivered = false;
		r->delivered = 0;
		r->prefix_fill = 0;
		r->fill = 0;
	}
	if (len == 0)
		return 0;
	if (r->prefix_fill < sizeof(r->prefix)) {
		rc = tj__reasm_prefix(r, data, len, &used);
		if (rc != 0) {
			r->dead = true;
			goto out;
		}
		if (r->prefix_fill < sizeof(r->prefix))
			goto out;
	}
	if (r->want > 0)
		used += tj__gather(r->buf, &r->fill, r->want, data + used, len - used);
	if (r->fill == r->want) {
		*msg = r->want > 0 ? r->buf : empty;
		*msg_len = r->want;
		r->delivered = r->want;
		r->has_delivered = true;
	}
out:
	*consumed = used;
	return rc;
}

bool tj_boxstream_reasm_idle(const struct tj_boxstream_reasm *r)
{
	return r != NULL && !r->dead && (r->prefix_fill == 0 || r->has_delivered);
}
