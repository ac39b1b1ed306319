/*
 * Retraction on a node: retract one of our records, confirm retractions that
 * arrive from peers, tell what is known of a retraction, and the control ops
 * (tj_retract.h). Applying is ingest's job (tj_retract.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_alert.h"
#include "tj_keys.h"
#include "tj_log.h"
#include "tj_mp.h"
#include "tj_peer.h"
#include "tj_retract_int.h"

#define TJ__INFO_REPLY_BYTES (512u + TJ_RETRACT_CONFIRMS_MAX * 40u)

/* Finds our record by id or prefix; refuses what we may not retract. */
static int tj__find_target(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles, uint8_t target[32])
{
	uint8_t ids[2][32];
	struct tj_record rec;
	const uint8_t *enc;
	struct tj_txn t;
	size_t found = 0, len;
	int rc;

	if (nibbles < 8 || nibbles > 64)
		return TJ_EMALFORMED;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if (nibbles == 64 && tj_store_tombstoned(&t, id_or_prefix) == 0) {
		rc = TJ_ERETRACTED;
		goto out;
	}
	if ((rc = tj_store_find_prefix(&t, id_or_prefix, nibbles, ids, 2, &found)) != 0)
		goto out;
	if (found != 1) {
		rc = found == 0 ? TJ_ENOTFOUND : TJ_EEXIST;
		goto out;
	}
	if ((rc = tj_store_get(&t, ids[0], &enc, &len)) != 0)
		goto out;
	if (tj_record_decode(enc, len, &rec) != 0) {
		rc = TJ_ESTORE;
		goto out;
	}
	if (memcmp(rec.author, n->u->id->pk, 32) != 0)
		rc = TJ_ENOTMEMBER; /* the stewards' rule, once registered, decides for peers' records at
		                       ingest */
	else if (rec.kind != TJ_KIND_INCIDENT && rec.kind != TJ_KIND_CASE && rec.kind != TJ_KIND_UPDATE &&
	         rec.kind != TJ_KIND_SLOT_GRANT)
		rc = TJ_EUNSUPPORTED;
	memcpy(target, ids[0], 32);
out:
	tj_txn_abort(&t);
	return rc;
}

static int tj__confirm(struct tj_node *n, const uint8_t retraction[32], const uint8_t target[32])
{
	uint8_t body[TJ_RETRACT_BODY_MAX_BYTES], id[32];
	size_t len = 0;
	int rc = tj_confirm_body_encode(retraction, target, body, sizeof(body), &len);

	if (rc == 0)
		rc = tj_node_append(n, TJ_KIND_CONFIRM, body, len, id, NULL);
	if (rc == 0) /* gossip it now rather than at the next reconciliation */
		tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])id, 1);
	return rc;
}

int tj_retract_run(struct tj_node *n, const uint8_t *id_or_prefix, size_t nibbles, const char *reason,
                   uint8_t target[32], uint8_t retraction_id[32])
{
	uint8_t body[TJ_RETRACT_BODY_MAX_BYTES];
	char x[TJ_LOG_HEX_CHARS];
	size_t len = 0;
	int rc;

	if ((rc = tj__find_target(n, id_or_prefix, nibbles, target)) != 0)
		return rc;
	if ((rc = tj_retract_body_encode(target, reason, body, sizeof(body), &len)) != 0)
		return rc;
	/* Through ingest like any record: the same transaction tombstones the target. */
	if ((rc = tj_node_append(n, TJ_KIND_RETRACTION, body, len, retraction_id, NULL)) != 0)
		return rc;
	TJ_LOG_I("retract", "retracted %s", tj_log_hex(target, x));
	/* Its alerts, index entries and windows go now (else at the next pass: the copy is durable). */
	if (tj_alert_after_store(n, (const uint8_t(*)[32])retraction_id, 1) != 0)
		TJ_LOG_W("retract", "alerts of %s not updated yet; the next alert pass does it",
		         tj_log_hex(target, x));
	tj_peers_local_added(tj_peers_active(), (const uint8_t(*)[32])retraction_id, 1);
	if ((rc = tj__confirm(n, retraction_id, target)) != 0)
		TJ_LOG_E("retract", "retraction %s stored but not confirmed: %s",
		         tj_log_hex(retraction_id, x), tj_strerror(rc));
	return 0;
}

/* The target of a stored retraction this node knows as applied or pending. */
static bool tj__known_retraction(struct tj_node *n, const uint8_t id[32], uint8_t target[32])
{
	struct tj_retraction_info *info = malloc(sizeof(*info));
	struct tj_record rec;
	const uint8_t *enc;
	struct tj_txn t;
	size_t len;
	bool known = false;

	if (info == NULL || tj_txn_begin(n->store, false, &t) != 0) {
		free(info);
		return false;
	}
	if (tj_store_get(&t, id, &enc, &len) == 0 && tj_record_decode(enc, len, &rec) == 0 &&
	    rec.kind == TJ_KIND_RETRACTION) {
		/* Ingest wrote an entry for it only if it could read and accept it. */
		uint8_t plain[TJ_RETRACT_BODY_MAX_BYTES];
		size_t plen = 0;
		char reason[TJ_CODE_MAX];
		if (tj_record_open(enc, &rec, n->u->id, tj_keyring_lookup, n->keyring, plain, sizeof(plain),
		                   &plen) == 0 &&
		    tj_retract_body_decode(plain, plen, target, reason) == 0 &&
		    ((tj__retract_entry_get(&t, target, info) == 0 &&
		      memcmp(info->retraction, id, 32) == 0) ||
		     (tj__retract_pending_get(&t, target, rec.author, info) == 0 &&
		      memcmp(info->retraction, id, 32) == 0)))
			known = true;
		sodium_memzero(plain, sizeof(plain));
	}
	tj_txn_abort(&t);
	free(info);
	return known;
}

void tj_retract_after_store(struct tj_node *n, const uint8_t (*ids)[32], size_t n_ids)
{
	char x[TJ_LOG_HEX_CHARS];
	uint8_t target[32];
	int rc;

	for (size_t i = 0; i < n_ids; i++) {
		if (!tj__known_retraction(n, ids[i], target))
			continue;
		if ((rc = tj__confirm(n, ids[i], target)) != 0)
			TJ_LOG_E("retract", "retraction %s applied but not confirmed: %s",
			         tj_log_hex(ids[i], x), tj_strerror(rc));
	}
}

int tj_retract_info(struct tj_node *n, const uint8_t target[32], struct tj_retraction_info *info)
{
	struct tj_txn t;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if ((rc = tj__retract_entry_get(&t, target, info)) == 0)
		rc = tj__retract_confirms_get(&t, info->retraction, info);
	tj_txn_abort(&t);
	return rc;
}

/* ---- control ops -------------------------------------------------------------- */

int tj__trust_ctl_target(const uint8_t *req, size_t len, uint8_t id[32], size_t *nibbles)
{
	struct tj_mp_reader r;
	const char *s;
	uint32_t n;

	memset(id, 0, 32);
	if (tj_ctl_arg(req, len, "id", &r) == 0) {
		*nibbles = 64;
		return tj_mp_read_bin_exact(&r, id, 32);
	}
	if (tj_ctl_arg(req, len, "prefix", &r) != 0 || tj_mp_read_str(&r, &s, &n) != 0 || n < 8 || n > 64)
		return TJ_EMALFORMED;
	for (uint32_t i = 0; i < n; i++) {
		int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
		        : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
		        : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
		                                     : -1;
		if (v < 0)
			return TJ_EMALFORMED;
		id[i / 2] = (uint8_t)(id[i / 2] | (i % 2 == 0 ? v << 4 : v));
	}
	*nibbles = n;
	return 0;
}

int tj__trust_reply(struct tj_mp_writer *w, uint8_t *buf, struct tj_ctl_reply *out)
{
	size_t used = 0;
	int rc = tj_mp_writer_finish(w, &used);

	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[0] = (uint8_t)(used >> 24);
	buf[1] = (uint8_t)(used >> 16);
	buf[2] = (uint8_t)(used >> 8);
	buf[3] = (uint8_t)used;
	out->buf = buf;
	out->len = used + 4;
	return 0;
}

static int tj__retract_fail(struct tj_ctl_reply *out, int rc)
{
	switch (rc) {
	case TJ_ENOTMEMBER:
		return tj_ctl_failf(out, rc,
		                    "only the author can retract a record, and this node did not write it");
	case TJ_ENOTFOUND:
		return tj_ctl_failf(out, rc, "no record with that id here");
	case TJ_EEXIST:
		return tj_ctl_failf(out, rc, "that prefix matches more than one record; give more digits");
	case TJ_ERETRACTED:
		return tj_ctl_failf(out, rc, "that record is already retracted");
	case TJ_EUNSUPPORTED:
		return tj_ctl_failf(out, rc, "records of that kind cannot be retracted");
	case TJ_ESCHEMA:
		return tj_ctl_failf(
		    out, rc, "unknown reason; use error, duplicate, consent_withdrawn, safety or other");
	case TJ_ESTATE:
		return tj_ctl_failf(out, rc, "this node has not joined a network yet");
	default:
		return tj_ctl_failf(out, rc, "retract failed: %s", tj_strerror(rc));
	}
}

int tj_retract_ctl(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	uint8_t id[32], target[32], rid[32];
	char reason[TJ_CODE_MAX];
	struct tj_mp_reader r;
	struct tj_mp_writer w;
	const char *s;
	size_t nibbles = 0;
	uint32_t n;
	uint8_t *buf;
	int rc;

	if (tj__trust_ctl_target(req, len, id, &nibbles) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED,
		                    "retract: needs 'id' (bin 32) or 'prefix' (8 to 64 hex digits)");
	if (tj_ctl_arg(req, len, "reason", &r) != 0 || tj_mp_read_str(&r, &s, &n) != 0 || n == 0 ||
	    n >= TJ_CODE_MAX)
		return tj_ctl_failf(out, TJ_EMALFORMED, "retract: needs 'reason', a reason code");
	memcpy(reason, s, n);
	reason[n] = '\0';
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "retract: no node is open");
	if ((rc = tj_retract_run(node, id, nibbles, reason, target, rid)) != 0)
		return tj__retract_fail(out, rc);
	if ((buf = malloc(256)) == NULL)
		return -ENOMEM;
	tj_mp_writer_init(&w, buf + 4, 252);
	tj_mp_put_map(&w, 3);
	tj_mp_put_cstr(&w, "ok");
	tj_mp_put_bool(&w, true);
	tj_mp_put_cstr(&w, "target");
	tj_mp_put_bin(&w, target, 32);
	tj_mp_put_cstr(&w, "retraction");
	tj_mp_put_bin(&w, rid, 32);
	return tj__trust_reply(&w, buf, out);
}

static void tj__put_info(struct tj_mp_writer *w, const struct tj_retraction_info *info)
{
	tj_mp_put_map(w, 8);
	tj_mp_put_cstr(w, "ok");
	tj_mp_put_bool(w, true);
	tj_mp_put_cstr(w, "target");
	tj_mp_put_bin(w, info->target, 32);
	tj_mp_put_cstr(w, "retraction");
	tj_mp_put_bin(w, info->retraction, 32);
	tj_mp_put_cstr(w, "retractor");
	tj_mp_put_bin(w, info->retractor, 32);
	tj_mp_put_cstr(w, "retracted_at");
	tj_mp_put_uint(w, info->ts_ms);
	tj_mp_put_cstr(w, "reason");
	tj_mp_put_cstr(w, info->reason);
	tj_mp_put_cstr(w, "applied");
	tj_mp_put_bool(w, info->applied);
	tj_mp_put_cstr(w, "confirmed_by");
	tj_mp_put_array(w, (uint32_t)info->n_confirms);
	for (size_t i = 0; i < info->n_confirms; i++)
		tj_mp_put_bin(w, info->confirms[i], 32);
}

int tj_retract_ctl_info(struct tj_node *node, const uint8_t *req, size_t len, struct tj_ctl_reply *out)
{
	struct tj_retraction_info *info = NULL;
	struct tj_mp_writer w;
	struct tj_mp_reader r;
	uint8_t id[32], *buf = NULL;
	int rc;

	if (tj_ctl_arg(req, len, "id", &r) != 0 || tj_mp_read_bin_exact(&r, id, 32) != 0)
		return tj_ctl_failf(out, TJ_EMALFORMED, "retraction: needs 'id' (bin 32)");
	if (node == NULL)
		return tj_ctl_failf(out, TJ_ESTATE, "retraction: no node is open");
	if ((info = malloc(sizeof(*info))) == NULL)
		return -ENOMEM;
	rc = tj_retract_info(node, id, info);
	if (rc != 0) {
		free(info);
		return rc == TJ_ENOTFOUND
		           ? tj_ctl_failf(out, rc, "no retraction of that record is known here")
		           : tj_ctl_failf(out, rc, "retraction: %s", tj_strerror(rc));
	}
	if ((buf = malloc(TJ__INFO_REPLY_BYTES)) == NULL) {
		free(info);
		return -ENOMEM;
	}
	tj_mp_writer_init(&w, buf + 4, TJ__INFO_REPLY_BYTES - 4);
	tj__put_info(&w, info);
	free(info);
	return tj__trust_reply(&w, buf, out);
}
