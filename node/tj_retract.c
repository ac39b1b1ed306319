/*
 * Retraction: bodies, what the store remembers of a retraction, and ingest's
 * hooks (tj_retract.h). The node-level operations are in tj_retract_ops.c.
 */
#include "tj_retract_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_keys.h"
#include "tj_log.h"
#include "tj_mp.h"
#include "tj_seal.h"
#include "tj_share.h"
#include "tj_vocab.h"

#define TJ__META_ID_BYTES 30        /* "rt:" + 60 hex digits fits a meta name */
#define TJ__PENDING_TARGET_BYTES 22 /* "rp:" + 44 + 16 hex digits */
#define TJ__PENDING_AUTHOR_BYTES 8
#define TJ__ENTRY_MAX_BYTES 160

static const struct tj_mp_limits tj__body_limits = {
    .max_depth = 2,
    .max_items = 8,
    .max_str = 64,
    .canonical = true,
};

/* The keys of the one attached store. Loop thread only. */
static struct {
	const struct tj_store *st;
	const struct tj_identity *me;
	const struct tj_keyring *kr;
	tj_retract_steward_fn steward;
} tj__rb;

void tj_retract_set_steward_rule(tj_retract_steward_fn fn)
{
	tj__rb.steward = fn;
}

void tj_retract_attach(const struct tj_store *st, const struct tj_identity *me, const struct tj_keyring *kr)
{
	tj__rb.st = st;
	tj__rb.me = me;
	tj__rb.kr = kr;
}

void tj_retract_detach(const struct tj_store *st)
{
	if (tj__rb.st != st)
		return;
	tj__rb.st = NULL;
	tj__rb.me = NULL;
	tj__rb.kr = NULL;
}

/* ---- bodies ---------------------------------------------------------------- */

int tj_retract_body_encode(const uint8_t target[32], const char *reason, uint8_t *buf, size_t cap,
                           size_t *len)
{
	struct tj_mp_writer w;

	if (tj_vocab_lookup(TJ_RETRACT_REASON_FIELD, reason) == NULL)
		return TJ_ESCHEMA;
	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, target, 32);
	tj_mp_put_cstr(&w, reason);
	return tj_mp_writer_finish(&w, len);
}

int tj_retract_body_decode(const uint8_t *buf, size_t len, uint8_t target[32], char reason[TJ_CODE_MAX])
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n, slen;
	int rc;

	if ((rc = tj_mp_check(buf, len, &tj__body_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n != 2)
		return TJ_EMALFORMED;
	if ((rc = tj_mp_read_bin_exact(&r, target, 32)) != 0 || (rc = tj_mp_read_str(&r, &s, &slen)) != 0)
		return rc;
	if (slen == 0 || slen >= TJ_CODE_MAX || memchr(s, '\0', slen) != NULL)
		return TJ_ESCHEMA;
	memcpy(reason, s, slen);
	reason[slen] = '\0';
	return tj_vocab_lookup(TJ_RETRACT_REASON_FIELD, reason) != NULL ? 0 : TJ_ESCHEMA;
}

int tj_confirm_body_encode(const uint8_t retraction[32], const uint8_t target[32], uint8_t *buf, size_t cap,
                           size_t *len)
{
	struct tj_mp_writer w;

	tj_mp_writer_init(&w, buf, cap);
	tj_mp_put_array(&w, 2);
	tj_mp_put_bin(&w, retraction, 32);
	tj_mp_put_bin(&w, target, 32);
	return tj_mp_writer_finish(&w, len);
}

int tj_confirm_body_decode(const uint8_t *buf, size_t len, uint8_t retraction[32], uint8_t target[32])
{
	struct tj_mp_reader r;
	uint32_t n;
	int rc;

	if ((rc = tj_mp_check(buf, len, &tj__body_limits, true, NULL)) != 0)
		return rc;
	tj_mp_reader_init(&r, buf, len);
	if ((rc = tj_mp_read_array(&r, &n)) != 0)
		return rc;
	if (n != 2)
		return TJ_EMALFORMED;
	if ((rc = tj_mp_read_bin_exact(&r, retraction, 32)) != 0)
		return rc;
	return tj_mp_read_bin_exact(&r, target, 32);
}

/* ---- what the store remembers ---------------------------------------------- */

static void tj__meta_name(const char *tag, const uint8_t id[32], char name[TJ_STORE_META_NAME_MAX])
{
	char hex[2 * TJ__META_ID_BYTES + 1];

	tj_hex(id, TJ__META_ID_BYTES, hex);
	snprintf(name, TJ_STORE_META_NAME_MAX, "%s%s", tag, hex);
}

/* A pending retraction is keyed by (target, retractor): only the target's author's can count. */
static void tj__pending_name(const uint8_t target[32], const uint8_t retractor[32],
                             char name[TJ_STORE_META_NAME_MAX])
{
	char t[2 * TJ__PENDING_TARGET_BYTES + 1], r[2 * TJ__PENDING_AUTHOR_BYTES + 1];

	tj_hex(target, TJ__PENDING_TARGET_BYTES, t);
	tj_hex(retractor, TJ__PENDING_AUTHOR_BYTES, r);
	snprintf(name, TJ_STORE_META_NAME_MAX, "rp:%s%s", t, r);
}

static int tj__entry_read(struct tj_txn *t, const char *name, const uint8_t target[32],
                          struct tj_retraction_info *info)
{
	struct tj_mp_reader r;
	const uint8_t *v;
	const char *s;
	uint32_t n, slen;
	size_t len;
	int rc;

	if ((rc = tj_store_meta_get(t, name, &v, &len)) != 0)
		return rc;
	tj_mp_reader_init(&r, v, len);
	if (tj_mp_read_array(&r, &n) != 0 || n != 5 || tj_mp_read_bin_exact(&r, info->retraction, 32) != 0 ||
	    tj_mp_read_bin_exact(&r, info->retractor, 32) != 0 || tj_mp_read_uint(&r, &info->ts_ms) != 0 ||
	    tj_mp_read_str(&r, &s, &slen) != 0 || slen >= TJ_CODE_MAX ||
	    tj_mp_read_bool(&r, &info->applied) != 0)
		return TJ_ESTORE;
	memcpy(info->reason, s, slen);
	info->reason[slen] = '\0';
	memcpy(info->target, target, 32);
	return 0;
}

int tj__retract_entry_get(struct tj_txn *t, const uint8_t target[32], struct tj_retraction_info *info)
{
	char name[TJ_STORE_META_NAME_MAX];

	tj__meta_name("rt:", target, name);
	return tj__entry_read(t, name, target, info);
}

int tj__retract_pending_get(struct tj_txn *t, const uint8_t target[32], const uint8_t retractor[32],
                            struct tj_retraction_info *info)
{
	char name[TJ_STORE_META_NAME_MAX];
	int rc;

	tj__pending_name(target, retractor, name);
	rc = tj__entry_read(t, name, target, info);
	if (rc == 0 && memcmp(info->retractor, retractor, 32) != 0)
		rc = TJ_ENOTFOUND; /* the name holds a prefix of the retractor only */
	return rc;
}

/* Applied entries under "rt:" (one per target), pending ones under "rp:" (one per target and retractor). */
static int tj__entry_put(struct tj_txn *t, const struct tj_retraction_info *info)
{
	char name[TJ_STORE_META_NAME_MAX];
	uint8_t buf[TJ__ENTRY_MAX_BYTES];
	struct tj_mp_writer w;
	size_t len = 0;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 5);
	tj_mp_put_bin(&w, info->retraction, 32);
	tj_mp_put_bin(&w, info->retractor, 32);
	tj_mp_put_uint(&w, info->ts_ms);
	tj_mp_put_cstr(&w, info->reason);
	tj_mp_put_bool(&w, info->applied);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0)
		return rc;
	if (info->applied)
		tj__meta_name("rt:", info->target, name);
	else
		tj__pending_name(info->target, info->retractor, name);
	return tj_store_meta_put(t, name, buf, len);
}

int tj__retract_confirms_get(struct tj_txn *t, const uint8_t retraction[32], struct tj_retraction_info *info)
{
	char name[TJ_STORE_META_NAME_MAX];
	const uint8_t *v;
	size_t len;
	int rc;

	info->n_confirms = 0;
	tj__meta_name("cf:", retraction, name);
	rc = tj_store_meta_get(t, name, &v, &len);
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (len % 32 != 0 || len / 32 > TJ_RETRACT_CONFIRMS_MAX)
		return TJ_ESTORE;
	memcpy(info->confirms, v, len);
	info->n_confirms = len / 32;
	return 0;
}

/* Adds who to the confirmers of retraction (once; at most TJ_RETRACT_CONFIRMS_MAX). */
static int tj__confirm_add(struct tj_txn *t, const uint8_t retraction[32], const uint8_t who[32])
{
	uint8_t list[TJ_RETRACT_CONFIRMS_MAX * 32];
	char name[TJ_STORE_META_NAME_MAX];
	const uint8_t *v;
	size_t len = 0;
	int rc;

	tj__meta_name("cf:", retraction, name);
	rc = tj_store_meta_get(t, name, &v, &len);
	if (rc == TJ_ENOTFOUND)
		len = 0;
	else if (rc != 0)
		return rc;
	if (len % 32 != 0 || len > sizeof(list))
		return TJ_ESTORE;
	for (size_t i = 0; i < len; i += 32)
		if (memcmp(v + i, who, 32) == 0)
			return 0;
	if (len == sizeof(list))
		return 0; /* enough to show; the rest are still in their records */
	memcpy(list, v, len);
	memcpy(list + len, who, 32);
	return tj_store_meta_put(t, name, list, len + 32);
}

/* ---- ingest ------------------------------------------------------------------ */

static bool tj__retractable(uint8_t kind)
{
	return kind == TJ_KIND_INCIDENT || kind == TJ_KIND_CASE || kind == TJ_KIND_UPDATE ||
	       kind == TJ_KIND_SLOT_GRANT || kind == TJ_KIND_ALERT_ACK || kind == TJ_KIND_ALERT_RESOLVE ||
	       kind == TJ_KIND_PEER_ADDR;
}

/* Opens a small body with the attached keys: TJ_ENOKEY when none are attached or no slot is ours. */
static int tj__open_small(const uint8_t *enc, const struct tj_record *rec, uint8_t *plain, size_t cap,
                          size_t *plen)
{
	if (tj__rb.kr == NULL || tj__rb.me == NULL)
		return TJ_ENOKEY;
	if (rec->ciphertext_len > cap + crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return TJ_ELIMIT;
	return tj_record_open(enc, rec, tj__rb.me, tj_keyring_lookup, (void *)tj__rb.kr, plain, cap, plen);
}

static int tj__read_retraction(const uint8_t *enc, const struct tj_record *rec, uint8_t target[32],
                               char reason[TJ_CODE_MAX])
{
	uint8_t plain[TJ_RETRACT_BODY_MAX_BYTES];
	size_t plen = 0;
	int rc = tj__open_small(enc, rec, plain, sizeof(plain), &plen);

	if (rc == 0)
		rc = tj_retract_body_decode(plain, plen, target, reason);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

/* The author and kind of a stored record; TJ_ENOTFOUND if it is not here. */
static int tj__stored_author(struct tj_txn *t, const uint8_t id[32], uint8_t author[32], uint8_t *kind)
{
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	int rc = tj_store_get(t, id, &enc, &len);

	if (rc != 0)
		return rc;
	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	memcpy(author, rec.author, 32);
	*kind = rec.kind;
	return 0;
}

/* May rec (a retraction, id) retract a record written by target_author? */
static bool tj__may_retract(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32],
                            const uint8_t target_author[32])
{
	if (memcmp(rec->author, target_author, 32) == 0)
		return true;
	return tj__rb.steward != NULL && tj__rb.steward(t, id, rec, target_author);
}

static int tj__check_retraction(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec,
                                const uint8_t id[32], int *verdict)
{
	char reason[TJ_CODE_MAX], a[TJ_LOG_HEX_CHARS], x[TJ_LOG_HEX_CHARS];
	uint8_t target[32], author[32], kind = 0;
	int rc = tj__read_retraction(enc, rec, target, reason);

	if (rc == TJ_ENOKEY || rc == TJ_EDECRYPT)
		return 0; /* not ours to read: stored and relayed, not applied here */
	if (rc != 0) {
		TJ_LOG_W("retract", "retraction %s refused: its body is not [target, reason code] (%s)",
		         tj_log_hex(id, x), tj_errname(rc));
		*verdict = TJ_EMALFORMED;
		return 0;
	}
	rc = tj__stored_author(t, target, author, &kind);
	if (rc == TJ_ENOTFOUND)
		return 0; /* pending: judged when the target arrives */
	if (rc != 0)
		return rc;
	if (!tj__may_retract(t, rec, id, author)) {
		TJ_LOG_W("retract",
		         "retraction %s by %s refused: only the author (or the stewards' threshold) can "
		         "retract a record",
		         tj_log_hex(id, x), tj_log_hex(rec->author, a));
		*verdict = TJ_ENOTMEMBER;
	}
	return 0;
}

/* Tombstones id now (its retraction came first) and refuses it. */
static int tj__refuse_retracted(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32],
                                const struct tj_retraction_info *info, int *verdict)
{
	int rc = tj_store_tombstone(t, id, rec->author, info->ts_ms, info->reason);

	if (rc == 0)
		*verdict = TJ_ERETRACTED;
	return rc;
}

/*
 * A record whose author retracted it before it reached us: refuse it and
 * keep the tombstone. A case face follows its summary.
 */
static int tj__check_pending(struct tj_txn *t, const struct tj_record *rec, const uint8_t id[32],
                             int *verdict)
{
	struct tj_retraction_info info;
	int rc;

	if (!tj__retractable(rec->kind))
		return 0;
	if (rec->kind == TJ_KIND_CASE && rec->audience.has_ref) {
		rc = tj__retract_entry_get(t, rec->audience.ref, &info);
		if (rc == 0 && memcmp(info.retractor, rec->author, 32) != 0)
			rc = TJ_ENOTFOUND;
		if (rc == TJ_ENOTFOUND)
			rc = tj__retract_pending_get(t, rec->audience.ref, rec->author, &info);
		if (rc != TJ_ENOTFOUND)
			return rc != 0 ? rc : tj__refuse_retracted(t, rec, id, &info, verdict);
	}
	rc = tj__retract_pending_get(t, id, rec->author, &info);
	if (rc != 0)
		return rc == TJ_ENOTFOUND ? 0 : rc;
	info.applied = true;
	if ((rc = tj__entry_put(t, &info)) != 0)
		return rc;
	return tj__refuse_retracted(t, rec, id, &info, verdict);
}

int tj_retract_ingest_check(struct tj_txn *t, const uint8_t *enc, size_t len, const struct tj_record *rec,
                            const uint8_t id[32], int *verdict)
{
	int rc;

	(void)len;
	*verdict = 0;
	if ((rc = tj__check_pending(t, rec, id, verdict)) != 0 || *verdict != 0)
		return rc;
	if (rec->kind == TJ_KIND_RETRACTION)
		return tj__check_retraction(t, enc, rec, id, verdict);
	if (rec->kind == TJ_KIND_SLOT_GRANT)
		return tj_share_ingest_check(t, rec, id, verdict);
	return 0;
}

/* Tombstones an incident's case records written by its author. */
static int tj__tombstone_cases(struct tj_txn *t, const uint8_t summary[32], const uint8_t author[32],
                               const struct tj_retraction_info *info)
{
	uint8_t ids[8][32], case_author[32], kind = 0;
	size_t n = 0;
	int rc;

	if ((rc = tj_store_case_of_get(t, summary, ids, 8, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = tj__stored_author(t, ids[i], case_author, &kind);
		if (rc == TJ_ENOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (kind != TJ_KIND_CASE || memcmp(case_author, author, 32) != 0)
			continue;
		if ((rc = tj_store_tombstone(t, ids[i], author, info->ts_ms, info->reason)) != 0)
			return rc;
	}
	return 0;
}

/* Hands the sealed target to the alerts before its body goes: their index and windows name it. */
static int tj__keep_for_alerts(struct tj_txn *t, const uint8_t target[32])
{
	const uint8_t *enc;
	size_t len;
	int rc = tj_store_get(t, target, &enc, &len);

	if (rc == TJ_ENOTFOUND)
		return 0;
	return rc != 0 ? rc : tj_alert_retracted_mark(t, target, enc, len);
}

static int tj__apply(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec, const uint8_t id[32])
{
	struct tj_retraction_info info;
	uint8_t author[32], kind = 0;
	char x[TJ_LOG_HEX_CHARS];
	int rc;

	memset(&info, 0, sizeof(info));
	if (tj__read_retraction(enc, rec, info.target, info.reason) != 0)
		return 0; /* unreadable here: check already let it through to be relayed */
	memcpy(info.retraction, id, 32);
	memcpy(info.retractor, rec->author, 32);
	info.ts_ms = rec->ts_ms;
	rc = tj__stored_author(t, info.target, author, &kind);
	if (rc != 0 && rc != TJ_ENOTFOUND)
		return rc;
	if (rc == TJ_ENOTFOUND && tj__retract_entry_get(t, info.target, &info) == 0) {
		TJ_LOG_I("retract", "retraction %s names a record retracted already; the first one stands",
		         tj_log_hex(id, x));
		return 0;
	}
	if (rc == 0 && !tj__retractable(kind)) {
		TJ_LOG_W("retract", "retraction %s names a %s record, which cannot be retracted; ignored",
		         tj_log_hex(id, x), tj_kind_name(kind));
		return 0;
	}
	if (rc == 0) {
		/* What alerts and the index derived from it is removed by the next alert pass (tj_alert.h).
		 */
		if ((rc = tj__keep_for_alerts(t, info.target)) != 0 ||
		    (rc = tj_store_tombstone(t, info.target, author, rec->ts_ms, info.reason)) != 0)
			return rc;
		if (kind == TJ_KIND_INCIDENT &&
		    ((rc = tj__tombstone_cases(t, info.target, author, &info)) != 0 ||
		     (rc = tj_store_victim_del_id(t, info.target)) != 0))
			return rc;
		info.applied = true;
	}
	TJ_LOG_I("retract", "retraction %s %s", tj_log_hex(id, x),
	         info.applied ? "applied" : "pending its target");
	return tj__entry_put(t, &info);
}

static int tj__record_confirm(struct tj_txn *t, const uint8_t *enc, const struct tj_record *rec)
{
	uint8_t plain[TJ_RETRACT_BODY_MAX_BYTES], retraction[32], target[32];
	size_t plen = 0;
	int rc = tj__open_small(enc, rec, plain, sizeof(plain), &plen);

	if (rc == 0)
		rc = tj_confirm_body_decode(plain, plen, retraction, target);
	sodium_memzero(plain, sizeof(plain));
	if (rc != 0)
		return 0; /* unreadable or malformed: nothing to show, nothing to break */
	return tj__confirm_add(t, retraction, rec->author);
}

int tj_retract_ingest_stored(struct tj_txn *t, const uint8_t *enc, size_t len, const struct tj_record *rec,
                             const uint8_t id[32])
{
	(void)len;
	if (rec->kind == TJ_KIND_RETRACTION)
		return tj__apply(t, enc, rec, id);
	if (rec->kind == TJ_KIND_CONFIRM)
		return tj__record_confirm(t, enc, rec);
	if (rec->kind == TJ_KIND_SLOT_GRANT)
		return tj_share_ingest_stored(t, rec, id);
	return 0;
}

int tj_retract_is_tombstoned(struct tj_txn *t, const uint8_t id[32])
{
	return tj_store_tombstoned(t, id);
}
