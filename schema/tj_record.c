/*
 * The record envelope: decode untrusted bytes into struct tj_record, and
 * write the signed header. Signatures, ids and sealing live in crypto/.
 */
#include "tj_record.h"

#include <string.h>

#define TJ__RECORD_FIELDS 12
#define TJ__AUDIENCE_FIELDS 2
#define TJ__SLOT_FIELDS 3
#define TJ__CIPHERTEXT_MIN_BYTES 16 /* the AEAD tag alone */

/*
 * A record nests three deep (record > slots > slot) and holds at most
 * 12 + 3 + 1 + 16 * 4 objects; anything beyond is rejected before parsing.
 */
static const struct tj_mp_limits tj__record_limits = {
    .max_depth = 3,
    .max_items = 128,
    .max_str = TJ_RECORD_MAX_BYTES,
    .canonical = true,
};

static const char *const tj__kind_names[TJ_KIND__COUNT] = {
    [TJ_KIND_GENESIS] = "genesis",
    [TJ_KIND_INCIDENT] = "incident",
    [TJ_KIND_CASE] = "case",
    [TJ_KIND_UPDATE] = "update",
    [TJ_KIND_RETRACTION] = "retraction",
    [TJ_KIND_MEMBER] = "member",
    [TJ_KIND_KEY] = "key",
    [TJ_KIND_ALERT_ACK] = "alert_ack",
    [TJ_KIND_ALERT_RESOLVE] = "alert_resolve",
    [TJ_KIND_PEER_ADDR] = "peer_addr",
    [TJ_KIND_SLOT_GRANT] = "slot_grant",
    [TJ_KIND_APPROVAL] = "approval",
    [TJ_KIND_CONFIRM] = "confirm",
    [TJ_KIND_CIRCLE] = "circle",
};

const char *tj_kind_name(uint8_t kind)
{
	if (kind < TJ_KIND__COUNT && tj__kind_names[kind])
		return tj__kind_names[kind];
	return "unknown";
}

/* Reads a uint that must be below `bound`, else `err`. */
static int tj__read_small(struct tj_mp_reader *r, uint64_t bound, int err, uint8_t *out)
{
	uint64_t v;
	int rc = tj_mp_read_uint(r, &v);
	if (rc)
		return rc;
	if (v >= bound)
		return err;
	*out = (uint8_t)v;
	return 0;
}

static int tj__read_len(struct tj_mp_reader *r, uint32_t want)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);
	if (rc)
		return rc;
	return n == want ? 0 : TJ_EMALFORMED;
}

static int tj__decode_audience(struct tj_mp_reader *r, struct tj_audience *aud)
{
	int rc = tj__read_len(r, TJ__AUDIENCE_FIELDS);
	if (!rc)
		rc = tj__read_small(r, TJ_AUD_NAMED + 1, TJ_EMALFORMED, &aud->type);
	if (rc)
		return rc;
	aud->has_ref = !tj_mp_peek_nil(r);
	if (!aud->has_ref)
		return tj_mp_read_nil(r);
	return tj_mp_read_bin_exact(r, aud->ref, sizeof(aud->ref));
}

static int tj__decode_slot(struct tj_mp_reader *r, struct tj_slot *slot)
{
	int rc = tj__read_len(r, TJ__SLOT_FIELDS);
	if (!rc)
		rc = tj__read_small(r, TJ_SLOT_SEALED + 1, TJ_EMALFORMED, &slot->type);
	if (!rc)
		rc = tj_mp_read_bin_exact(r, slot->ref, sizeof(slot->ref));
	if (!rc)
		rc = tj_mp_read_bin(r, &slot->wrapped, &slot->wrapped_len);
	if (rc)
		return rc;
	return slot->wrapped_len <= TJ_SLOT_WRAPPED_MAX_BYTES ? 0 : TJ_ELIMIT;
}

static int tj__decode_slots(struct tj_mp_reader *r, struct tj_record *rec)
{
	int rc = tj_mp_read_array(r, &rec->n_slots);
	if (rc)
		return rc;
	if (rec->n_slots > TJ_RECORD_SLOTS_MAX)
		return TJ_ELIMIT;
	for (uint32_t k = 0; k < rec->n_slots; k++) {
		rc = tj__decode_slot(r, &rec->slots[k]);
		if (rc)
			return rc;
	}
	return 0;
}

/* version first, so that a future version with other fields says so. */
static int tj__decode_version(struct tj_mp_reader *r, struct tj_record *rec)
{
	uint32_t n;
	int rc = tj_mp_read_array(r, &n);
	if (!rc)
		rc = tj_mp_read_uint(r, &rec->version);
	if (rc)
		return rc;
	if (rec->version != TJ_RECORD_VERSION)
		return TJ_EUNSUPPORTED;
	return n == TJ__RECORD_FIELDS ? 0 : TJ_EMALFORMED;
}

static int tj__decode_chain(struct tj_mp_reader *r, struct tj_record *rec)
{
	int rc = tj_mp_read_bin_exact(r, rec->network_id, sizeof(rec->network_id));
	if (!rc)
		rc = tj_mp_read_bin_exact(r, rec->author, sizeof(rec->author));
	if (!rc)
		rc = tj_mp_read_uint(r, &rec->seq);
	if (rc)
		return rc;
	rec->has_prev = !tj_mp_peek_nil(r);
	if (rec->has_prev)
		rc = tj_mp_read_bin_exact(r, rec->prev, sizeof(rec->prev));
	else
		rc = tj_mp_read_nil(r);
	if (!rc)
		rc = tj_mp_read_uint(r, &rec->ts_ms);
	if (!rc)
		rc = tj__read_small(r, TJ_KIND__COUNT, TJ_EUNSUPPORTED, &rec->kind);
	return rc;
}

static int tj__decode_body(struct tj_mp_reader *r, const uint8_t *buf, struct tj_record *rec)
{
	int rc = tj_mp_read_bin_exact(r, rec->nonce, sizeof(rec->nonce));
	if (rc)
		return rc;
	rec->header_len = tj_mp_reader_offset(r, buf);
	rc = tj_mp_read_bin(r, &rec->ciphertext, &rec->ciphertext_len);
	if (rc)
		return rc;
	if (rec->ciphertext_len < TJ__CIPHERTEXT_MIN_BYTES)
		return TJ_EMALFORMED;
	rec->signed_len = tj_mp_reader_offset(r, buf);
	rc = tj_mp_read_bin_exact(r, rec->sig, sizeof(rec->sig));
	if (rc)
		return rc;
	rec->total_len = tj_mp_reader_offset(r, buf);
	return 0;
}

int tj_record_decode(const uint8_t *buf, size_t len, struct tj_record *rec)
{
	struct tj_mp_reader r;
	size_t used;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (len > TJ_RECORD_MAX_BYTES) {
		rc = TJ_ELIMIT;
		goto out;
	}
	rc = tj_mp_check(buf, len, &tj__record_limits, true, &used);
	if (rc)
		goto out;
	tj_mp_reader_init(&r, buf, len);
	rc = tj__decode_version(&r, rec);
	if (!rc)
		rc = tj__decode_chain(&r, rec);
	if (!rc)
		rc = tj__decode_audience(&r, &rec->audience);
	if (!rc)
		rc = tj__decode_slots(&r, rec);
	if (!rc)
		rc = tj__decode_body(&r, buf, rec);
	/* the check already proved one object spans buf; this is belt and braces */
	if (!rc && rec->total_len != len)
		rc = TJ_EMALFORMED;
out:
	if (rc)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

/* The writer refuses what the decoder would refuse, so no node signs a dud. */
static bool tj__header_fits(const struct tj_record *rec)
{
	if (rec->n_slots > TJ_RECORD_SLOTS_MAX)
		return false;
	for (uint32_t k = 0; k < rec->n_slots; k++) {
		if (rec->slots[k].wrapped_len > TJ_SLOT_WRAPPED_MAX_BYTES)
			return false;
	}
	return true;
}

void tj_record_write_header(struct tj_mp_writer *w, const struct tj_record *rec)
{
	if (!tj__header_fits(rec)) {
		if (!w->err)
			w->err = TJ_ELIMIT;
		return;
	}
	tj_mp_put_array(w, TJ__RECORD_FIELDS);
	tj_mp_put_uint(w, rec->version);
	tj_mp_put_bin(w, rec->network_id, sizeof(rec->network_id));
	tj_mp_put_bin(w, rec->author, sizeof(rec->author));
	tj_mp_put_uint(w, rec->seq);
	if (rec->has_prev)
		tj_mp_put_bin(w, rec->prev, sizeof(rec->prev));
	else
		tj_mp_put_nil(w);
	tj_mp_put_uint(w, rec->ts_ms);
	tj_mp_put_uint(w, rec->kind);
	tj_mp_put_array(w, TJ__AUDIENCE_FIELDS);
	tj_mp_put_uint(w, rec->audience.type);
	if (rec->audience.has_ref)
		tj_mp_put_bin(w, rec->audience.ref, sizeof(rec->audience.ref));
	else
		tj_mp_put_nil(w);
	tj_mp_put_array(w, rec->n_slots);
	for (uint32_t k = 0; k < rec->n_slots; k++) {
		const struct tj_slot *s = &rec->slots[k];
		tj_mp_put_array(w, TJ__SLOT_FIELDS);
		tj_mp_put_uint(w, s->type);
		tj_mp_put_bin(w, s->ref, sizeof(s->ref));
		tj_mp_put_bin(w, s->wrapped, s->wrapped_len);
	}
	tj_mp_put_bin(w, rec->nonce, sizeof(rec->nonce));
}
