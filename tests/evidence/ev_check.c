/* The read-only store checker: see ev_check.h. */
#include "ev_check.h"

#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "tj_record.h"
#include "tj_seal.h"
#include "tj_store.h"

struct ev__dbs {
	MDB_dbi ids, bodies, chain, by_ts, tombstones, meta; /* ids + bodies: the records (tj_store.h) */
};

static uint64_t ev__rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int ev__open_dbs(MDB_txn *txn, struct ev__dbs *d)
{
	int rc;

	if ((rc = mdb_dbi_open(txn, "ids", 0, &d->ids)) != 0 || (rc = mdb_dbi_open(txn, "bodies", 0, &d->bodies)) != 0 ||
	    (rc = mdb_dbi_open(txn, "chain", MDB_DUPSORT, &d->chain)) != 0 ||
	    (rc = mdb_dbi_open(txn, "by_ts", 0, &d->by_ts)) != 0 ||
	    (rc = mdb_dbi_open(txn, "tombstones", 0, &d->tombstones)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", 0, &d->meta)) != 0)
		return rc;
	return 0;
}

static bool ev__has(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen)
{
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;

	return mdb_get(txn, dbi, &k, &v) == 0;
}

/* Every record: verifies, stored under its id. */
static int ev__walk_records(MDB_txn *txn, const struct ev__dbs *d, struct ev_check_report *rep)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	uint8_t id[32];
	int rc;

	if ((rc = mdb_cursor_open(txn, d->ids, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rep->records++;
		if (k.mv_size == 32 && tj_store_raw_body(txn, d->ids, d->bodies, k.mv_data, &enc, &len, NULL) == 0 &&
		    tj_record_verify(enc, len, &rec, id) == 0 && memcmp(id, k.mv_data, 32) == 0)
			rep->verified++;
		else
			rep->bad++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One chain entry (author||seq -> id): the record it names, its prev against the ids at seq - 1. */
static void ev__chain_entry(MDB_txn *txn, const struct ev__dbs *d, const uint8_t *key, const uint8_t id[32],
			    uint8_t (*prev_ids)[32], size_t n_prev, struct ev_check_report *rep)
{
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	uint8_t got[32];
	bool found = false;

	if (tj_store_raw_body(txn, d->ids, d->bodies, id, &enc, &len, NULL) != 0) {
		if (!ev__has(txn, d->tombstones, id, 32))
			rep->chain_dangling++;
		return;
	}
	if (tj_record_verify(enc, len, &rec, got) != 0 || memcmp(rec.author, key, 32) != 0 ||
	    rec.seq != ev__rd64(key + 32))
		return; /* counted as bad by the record walk, or a wrong index entry */
	if (rec.seq == 0)
		return;
	for (size_t i = 0; i < n_prev; i++)
		found |= rec.has_prev && memcmp(prev_ids[i], rec.prev, 32) == 0;
	/* With no ids at seq - 1 that is a hole, counted once by the caller. */
	if (!found && n_prev > 0)
		rep->bad_prev++;
}

/* The chain index, author by author, seq by seq (keys sort that way). */
static int ev__walk_chain(MDB_txn *txn, const struct ev__dbs *d, struct ev_check_report *rep)
{
	uint8_t author[32], prev_ids[4][32], cur_ids[4][32];
	size_t n_prev = 0, n_cur = 0;
	uint64_t seq = 0, cur_seq = 0;
	bool have_author = false;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, d->chain, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;
		if (k.mv_size != 40 || v.mv_size != 32) {
			rep->chain_dangling++;
			continue;
		}
		rep->chain_entries++;
		seq = ev__rd64(key + 32);
		if (!have_author || memcmp(author, key, 32) != 0) {
			memcpy(author, key, 32);
			have_author = true;
			rep->authors++;
			rep->holes += seq; /* seqs 0 .. seq-1 missing */
			n_prev = 0;
			n_cur = 0;
			cur_seq = seq;
		} else if (seq != cur_seq) {
			rep->holes += seq - cur_seq - 1;
			memcpy(prev_ids, cur_ids, sizeof(prev_ids));
			n_prev = seq == cur_seq + 1 ? n_cur : 0;
			n_cur = 0;
			cur_seq = seq;
		} else {
			rep->equivocations++;
		}
		if (n_cur < 4)
			memcpy(cur_ids[n_cur++], v.mv_data, 32);
		ev__chain_entry(txn, d, key, v.mv_data, prev_ids, n_prev, rep);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int ev__walk_by_ts(MDB_txn *txn, const struct ev__dbs *d, struct ev_check_report *rep)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, d->by_ts, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rep->by_ts++;
		if (k.mv_size != 40 || !ev__has(txn, d->ids, (const uint8_t *)k.mv_data + 8, 32))
			rep->by_ts_dangling++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* meta "head" = seq(8) || id(32) must be the top of our chain. */
static void ev__check_head(MDB_txn *txn, const struct ev__dbs *d, const uint8_t pk[32], struct ev_check_report *rep)
{
	MDB_val k = {.mv_size = 4, .mv_data = "head"}, v;
	MDB_cursor *cur = NULL;
	uint8_t key[40];
	MDB_val ck = {.mv_size = 40, .mv_data = key}, cv;
	uint64_t top = 0;
	bool any = false;

	rep->head_checked = true;
	memcpy(key, pk, 32);
	memset(key + 32, 0xff, 8);
	if (mdb_cursor_open(txn, d->chain, &cur) == 0) {
		/* The last entry at or before (pk, max) is our highest seq if it is ours. */
		int rc = mdb_cursor_get(cur, &ck, &cv, MDB_SET_RANGE);
		rc = rc == 0 ? mdb_cursor_get(cur, &ck, &cv, MDB_PREV_NODUP) : mdb_cursor_get(cur, &ck, &cv, MDB_LAST);
		if (rc == 0 && ck.mv_size == 40 && memcmp(ck.mv_data, pk, 32) == 0) {
			any = true;
			top = ev__rd64((const uint8_t *)ck.mv_data + 32);
		}
		mdb_cursor_close(cur);
	}
	if (mdb_get(txn, d->meta, &k, &v) != 0) {
		rep->head_ok = !any;
		return;
	}
	rep->head_seq = v.mv_size == 40 ? ev__rd64(v.mv_data) : UINT64_MAX;
	rep->head_ok = any && v.mv_size == 40 && rep->head_seq == top &&
		       ev__has(txn, d->ids, (const uint8_t *)v.mv_data + 8, 32);
}

void ev_check_store(const char *datadir, const uint8_t *own_pk, const uint8_t (*acked)[32], size_t n_acked,
		    struct ev_check_report *rep)
{
	char path[512];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	struct ev__dbs d;
	int rc;

	memset(rep, 0, sizeof(*rep));
	snprintf(path, sizeof(path), "%s/%s", datadir, TJ_STORE_DIR_NAME);
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, TJ_STORE_MAP_SIZE_DEFAULT_BYTES)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 || (rc = ev__open_dbs(txn, &d)) != 0)
		goto out;
	if ((rc = ev__walk_records(txn, &d, rep)) != 0 || (rc = ev__walk_chain(txn, &d, rep)) != 0 ||
	    (rc = ev__walk_by_ts(txn, &d, rep)) != 0)
		goto out;
	if (own_pk != NULL)
		ev__check_head(txn, &d, own_pk, rep);
	for (size_t i = 0; i < n_acked; i++) {
		rep->acked++;
		if (!ev__has(txn, d.ids, acked[i], 32) && !ev__has(txn, d.tombstones, acked[i], 32))
			rep->acked_missing++;
	}
out:
	if (rc != 0) {
		fprintf(stderr, "ev_check %s: %s\n", path, mdb_strerror(rc));
		rep->err = rc;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
}

bool ev_check_ok(const struct ev_check_report *r)
{
	return r->err == 0 && r->records > 0 && r->bad == 0 && r->verified == r->records &&
	       r->chain_entries == r->records && r->chain_dangling == 0 && r->holes == 0 && r->bad_prev == 0 &&
	       r->equivocations == 0 && r->by_ts == r->records && r->by_ts_dangling == 0 &&
	       (!r->head_checked || r->head_ok) && r->acked_missing == 0;
}

void ev_check_print(const struct ev_check_report *r, const char *label, void *fp)
{
	fprintf((FILE *)fp,
		"%s: records %llu verified %llu bad %llu | chain %llu authors %llu holes %llu bad_prev %llu "
		"equivocations %llu dangling %llu | by_ts %llu dangling %llu | head %s (seq %llu) | acked %llu "
		"missing %llu%s\n",
		label, (unsigned long long)r->records, (unsigned long long)r->verified, (unsigned long long)r->bad,
		(unsigned long long)r->chain_entries, (unsigned long long)r->authors, (unsigned long long)r->holes,
		(unsigned long long)r->bad_prev, (unsigned long long)r->equivocations,
		(unsigned long long)r->chain_dangling, (unsigned long long)r->by_ts,
		(unsigned long long)r->by_ts_dangling,
		!r->head_checked ? "unchecked" : r->head_ok ? "ok" : "WRONG", (unsigned long long)r->head_seq,
		(unsigned long long)r->acked, (unsigned long long)r->acked_missing, r->err ? " (LMDB ERROR)" : "");
}

/*
 * The checker's own negative test, on a store about to be thrown away: one
 * record gets a flipped bit, another loses its chain entry (a hole), a third
 * is deleted (an acknowledged id lost). Returns 0 when the checker sees all
 * three.
 */
int ev_check_selftest(const char *datadir, const uint8_t *own_pk, const uint8_t (*acked)[32], size_t n_acked)
{
	char path[512];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	struct ev__dbs d;
	struct ev_check_report rep;
	MDB_val k, v;
	uint8_t chain_key[40], chunk_key[8], *copy = NULL;
	const uint8_t *enc;
	uint64_t loc[3];
	size_t len;
	int rc;

	if (n_acked < 3)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", datadir, TJ_STORE_DIR_NAME);
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, TJ_STORE_MAP_SIZE_DEFAULT_BYTES)) != 0 ||
	    (rc = mdb_env_open(env, path, 0, 0600)) != 0 || (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = ev__open_dbs(txn, &d)) != 0)
		goto out;
	/* 1: a flipped bit in the first acknowledged record (in the chunk that holds its body). */
	if ((rc = tj_store_raw_body(txn, d.ids, d.bodies, acked[0], &enc, &len, loc)) != 0)
		goto out;
	tj_store_be64(loc[0], chunk_key);
	k = (MDB_val){.mv_size = 8, .mv_data = chunk_key};
	if ((rc = mdb_get(txn, d.bodies, &k, &v)) != 0 || (copy = malloc(v.mv_size)) == NULL)
		goto out;
	memcpy(copy, v.mv_data, v.mv_size);
	copy[loc[1] + loc[2] / 2] ^= 0x10;
	v.mv_data = copy;
	if ((rc = mdb_put(txn, d.bodies, &k, &v, 0)) != 0)
		goto out;
	/* 2: the chain entry of our seq 1 removed. */
	memcpy(chain_key, own_pk, 32);
	memset(chain_key + 32, 0, 8);
	chain_key[39] = 1;
	k = (MDB_val){.mv_size = 40, .mv_data = chain_key};
	if ((rc = mdb_del(txn, d.chain, &k, NULL)) != 0)
		goto out;
	/* 3: the last acknowledged record deleted. */
	k = (MDB_val){.mv_size = 32, .mv_data = (void *)acked[n_acked - 1]};
	if ((rc = mdb_del(txn, d.ids, &k, NULL)) != 0)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
out:
	(void)cur;
	free(copy);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	if (rc != 0)
		return -1;
	ev_check_store(datadir, own_pk, acked, n_acked, &rep);
	ev_check_print(&rep, "self-test (3 injected faults)", stderr);
	return !ev_check_ok(&rep) && rep.bad == 1 && rep.holes >= 1 && rep.acked_missing == 1 ? 0 : -1;
}
