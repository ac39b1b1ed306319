/*
 * Helpers shared by the node's unit tests (test_store, test_ingest,
 * test_keyring, test_control, test_daemon): temporary data directories,
 * identities, key files and sealed records. Header-only, static inline.
 */
#ifndef TJ_NODE_TESTUTIL_H
#define TJ_NODE_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "tj_incident.h"
#include "tj_ingest.h"
#include "tj_keyfile.h"
#include "tj_keys.h"
#include "tj_seal.h"

#define TT_PASS "correct horse battery staple"
#define TT_REC_CAP (TJ_RECORD_MAX_BYTES + 1024u)

static inline int tt__rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh directory under /tmp (short: Unix socket paths are limited). */
static inline void tt_tmpdir(char out[64])
{
	snprintf(out, 64, "/tmp/tjt-XXXXXX");
	if (mkdtemp(out) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

static inline void tt_rmdir(const char *dir)
{
	nftw(dir, tt__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A key file in dir for a fresh identity (TJ_KDF_MIN), unlocked. */
static inline struct tj_unlocked *tt_unlocked(const char *dir)
{
	struct tj_identity *id = NULL;
	struct tj_unlocked *u = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/key", dir);
	if (sodium_init() < 0 || tj_identity_generate(&id) != 0 ||
	    tj_keyfile_create(path, id, "ana", TT_PASS, strlen(TT_PASS), TJ_KDF_MIN) != 0 ||
	    tj_keyfile_unlock(path, TT_PASS, strlen(TT_PASS), &u) != 0)
		abort();
	tj_identity_free(id);
	return u;
}

/* A symmetric key in sodium_malloc memory with its id. */
static inline void tt_sym(struct tj_sym_key *k)
{
	k->key = sodium_malloc(32);
	if (k->key == NULL)
		abort();
	randombytes_buf(k->key, 32);
	tj_sym_key_id(k->key, k->id);
}

/* A sealed record: kind, seq, prev (NULL = none), ts, network, epoch slot; returns its length. */
static inline size_t tt_record(const struct tj_identity *author, const uint8_t network_id[32], uint8_t kind,
			       uint64_t seq, const uint8_t *prev, uint64_t ts_ms, const struct tj_sym_key *epoch,
			       const char *body, uint8_t *out, uint8_t id[32])
{
	struct tj_seal_in in;
	size_t len = 0;

	memset(&in, 0, sizeof(in));
	memcpy(in.network_id, network_id, 32);
	in.seq = seq;
	in.has_prev = prev != NULL;
	if (prev != NULL)
		memcpy(in.prev, prev, 32);
	in.ts_ms = ts_ms;
	in.kind = kind;
	in.audience.type = TJ_AUD_NETWORK;
	in.audience.has_ref = true;
	memcpy(in.audience.ref, epoch->id, 32);
	in.epoch = epoch;
	in.body = (const uint8_t *)body;
	in.body_len = strlen(body);
	if (tj_record_seal(&in, author, out, TT_REC_CAP, &len, id) != 0)
		abort();
	return len;
}

/* A canonical summary body (a death threat in Oaxaca on date against ref); returns its length. */
static inline size_t tt_summary_body(const char *date, const char *ref, uint8_t *out, size_t cap)
{
	char json[1024];
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *c = NULL;
	struct tj_verr verr;
	size_t len = 0;

	snprintf(json, sizeof(json),
		 "{\"occurred\": {\"start\": \"%s\", \"precision\": \"day\"},"
		 " \"location\": {\"state\": \"20\", \"municipality\": \"20067\", \"place_type\": \"home\"},"
		 " \"victims\": [{\"ref\": \"%s\", \"unit\": \"individual\", \"role\": \"defender\","
		 " \"gender\": \"woman\", \"age_band\": \"30_44\"}],"
		 " \"aggressors\": [{\"category\": \"state\", \"type\": \"municipal_police\","
		 " \"level\": \"municipal\", \"involvement\": \"direct\"}],"
		 " \"acts\": [{\"type\": \"death_threat\", \"victim\": 0, \"aggressor\": 0}],"
		 " \"protection\": {\"status\": \"none\"},"
		 " \"source\": {\"type\": \"victim_testimony\", \"reliability\": \"usually_reliable\"},"
		 " \"verification\": \"confirmed\"}",
		 date, ref);
	if (tj_incident_from_json(json, strlen(json), TJ_LANG_EN, tj_now_ms(), &s, &c, &verr) != 0 ||
	    tj_incident_summary_encode(s, out, cap, &len) != 0) {
		fprintf(stderr, "fixture refused: %s\n", verr.message);
		abort();
	}
	tj_incident_summary_free(s);
	tj_incident_case_free(c);
	return len;
}

#endif
