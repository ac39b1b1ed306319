#include "tj_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tj_log.h"

/*
 * Bodies are packed in chunks: "bodies" maps a chunk number (8, big-endian,
 * increasing) to the encodings of many records back to back, and "ids" maps
 * a record id to where its encoding is: chunk(8) || offset(4) || length(4).
 * A chunk is one LMDB overflow value of whole pages, so bodies fill the file
 * densely whatever the id order, and ingest never reads a body back (the
 * random descents by id touch only the small "ids" index).
 *
 * The chunk being filled is staged in memory during a write transaction and
 * written when it is full or at commit; a later transaction that adds
 * records first copies the last chunk back if it has room, so small
 * transactions (one add) do not leave a page per record.
 */
#define TJ__CHUNK_BYTES (16u * 4096u - 16u) /* 16 pages less the overflow page header */
#define TJ__LOC_BYTES 8
#define TJ__MAP_RSS_MAX_BYTES (48ull << 20) /* see tj__map_trim */
#define TJ__MAP_CHECK_PUTS 32 /* a batch's descents map ~256 KiB a record: look this often too */
#define TJ__FORMAT 2u /* 1: "records" id -> encoding; 2: ids + bodies */
_Static_assert(TJ__CHUNK_BYTES <= 65536u && TJ_RECORD_MAX_BYTES <= 65536u, "a location packs offset and length in 16 bits");

struct tj__zero {
	uint64_t chunk;
	uint32_t off, len;
};

/* The write transaction's chunk being filled (one writer at a time: LMDB's lock). */
struct tj__stage {
	bool active;           /* the open chunk below is known for this transaction */
	bool dirty;            /* buf holds bytes not yet put */
	bool lent;             /* tj_store_get returned a pointer into buf */
	uint64_t no;           /* the open chunk's number */
	uint8_t *buf;          /* its bytes (those already stored first) */
	size_t len, cap;
	uint8_t **retired;     /* earlier bufs of this transaction that were lent: freed at its end */
	size_t n_retired, cap_retired;
	struct tj__zero *zeros; /* deleted bodies in other chunks, zeroed at commit */
	size_t n_zeros, cap_zeros;
};

struct tj_store {
	MDB_env *env;
	MDB_dbi ids, bodies, by_ts, chain, authors, frozen, tombstones, meta, case_of, victim_idx;
	MDB_dbi alerts, query_idx; /* derived data of node/tj_alert*.c and tj_query*.c */
	uint64_t map_size;
	void *map_addr;   /* LMDB's map of data.mdb (NULL: unknown, never trimmed) */
	size_t map_bytes;
	uint64_t puts;    /* records stored since open (when to look at the map's resident size) */
	uint64_t map_trim_at; /* resident file-backed bytes that start a trim */
	struct tj__stage stage;
};

/* LMDB allows one environment per file per process; Tejido keeps one in all. */
static bool tj__store_is_open;

void tj_store_be64(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t tj_store_rd64(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* Maps an LMDB return code; logs the ones that are real failures. */
static int tj__mdb_err(int rc, const char *what)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return TJ_ENOTFOUND;
	if (rc == MDB_KEYEXIST)
		return TJ_EEXIST;
	TJ_LOG_E("store", "%s: %s", what, mdb_strerror(rc));
	if (rc == MDB_MAP_FULL || rc == ENOSPC)
		return TJ_ESTOREFULL;
	return TJ_ESTORE;
}

static MDB_val tj__val(const void *p, size_t n)
{
	MDB_val v = {.mv_size = n, .mv_data = (void *)(uintptr_t)p};
	return v;
}

static int tj__get(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, MDB_val *v)
{
	MDB_val key = tj__val(k, kl);
	return tj__mdb_err(mdb_get(t->txn, dbi, &key, v), "get");
}

static int tj__put(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl,
		   unsigned flags)
{
	MDB_val key = tj__val(k, kl);
	MDB_val val = tj__val(v, vl);
	return tj__mdb_err(mdb_put(t->txn, dbi, &key, &val, flags), "put");
}

/* ---- the chunk being filled ------------------------------------------------ */

/*
 * A location in 8 bytes (the "ids" index is read on every ingest: small
 * entries, fewer pages): chunk(4) || offset(2) || length - 1 (2). Offsets
 * stay below TJ__CHUNK_BYTES and a record is 1 .. TJ_RECORD_MAX_BYTES (64 KiB).
 */
static void tj__loc_pack(uint64_t chunk, size_t off, size_t len, uint8_t out[TJ__LOC_BYTES])
{
	tj_store_be64(chunk << 32 | (uint64_t)off << 16 | (uint64_t)(len - 1), out);
}

static void tj__loc_unpack(const uint8_t in[TJ__LOC_BYTES], uint64_t *chunk, size_t *off, size_t *len)
{
	uint64_t v = tj_store_rd64(in);

	*chunk = v >> 32;
	*off = (size_t)(v >> 16 & 0xffffu);
	*len = (size_t)(v & 0xffffu) + 1;
}

/* Forgets the transaction's staging (after commit or abort); keeps one buffer for the next. */
static void tj__stage_reset(struct tj__stage *sg)
{
	for (size_t i = 0; i < sg->n_retired; i++)
		free(sg->retired[i]);
	sg->n_retired = 0;
	sg->n_zeros = 0;
	sg->active = sg->dirty = sg->lent = false;
	sg->len = 0;
}

static void tj__stage_free(struct tj__stage *sg)
{
	tj__stage_reset(sg);
	free(sg->retired);
	free(sg->zeros);
	free(sg->buf);
	memset(sg, 0, sizeof(*sg));
}

/* Room for need bytes in an EMPTY stage buffer (nothing in it is lent). */
static int tj__stage_room(struct tj__stage *sg, size_t need)
{
	size_t cap = need > TJ__CHUNK_BYTES ? need : TJ__CHUNK_BYTES;
	uint8_t *b;

	if (sg->buf != NULL && sg->cap >= cap)
		return 0;
	if ((b = malloc(cap)) == NULL)
		return -ENOMEM;
	free(sg->buf);
	sg->buf = b;
	sg->cap = cap;
	return 0;
}

/* Finds the open chunk: the last one if need bytes still fit, else a new one after it. */
static int tj__stage_open(struct tj_txn *t, size_t need)
{
	struct tj__stage *sg = &t->st->stage;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->st->bodies, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open (bodies)");
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		sg->no = 0;
		sg->len = 0;
		rc = tj__stage_room(sg, need);
	} else if (rc != 0 || k.mv_size != 8) {
		rc = rc != 0 ? tj__mdb_err(rc, "last chunk") : TJ_ESTORE;
	} else if (v.mv_size + need <= TJ__CHUNK_BYTES) {
		sg->no = tj_store_rd64(k.mv_data);
		if ((rc = tj__stage_room(sg, TJ__CHUNK_BYTES)) == 0) {
			memcpy(sg->buf, v.mv_data, v.mv_size);
			sg->len = v.mv_size;
		}
	} else {
		sg->no = tj_store_rd64(k.mv_data) + 1;
		sg->len = 0;
		rc = tj__stage_room(sg, need);
	}
	mdb_cursor_close(cur);
	if (rc == 0)
		sg->active = true;
	return rc;
}

/* Puts the open chunk if it changed. */
static int tj__stage_flush(struct tj_txn *t)
{
	struct tj__stage *sg = &t->st->stage;
	uint8_t key[8];

	if (!sg->dirty)
		return 0;
	tj_store_be64(sg->no, key);
	sg->dirty = false;
	return tj__put(t, t->st->bodies, key, sizeof(key), sg->buf, sg->len, 0);
}

/* Starts the next chunk: the full one is put; its buffer is kept while pointers into it may live. */
static int tj__stage_next(struct tj_txn *t, size_t need)
{
	struct tj__stage *sg = &t->st->stage;
	uint8_t **grown;
	int rc;

	if ((rc = tj__stage_flush(t)) != 0)
		return rc;
	if (sg->lent) {
		if (sg->n_retired == sg->cap_retired) {
			size_t cap = sg->cap_retired == 0 ? 16 : sg->cap_retired * 2;
			if ((grown = realloc(sg->retired, cap * sizeof(*grown))) == NULL)
				return -ENOMEM;
			sg->retired = grown;
			sg->cap_retired = cap;
		}
		sg->retired[sg->n_retired++] = sg->buf;
		sg->buf = NULL;
		sg->cap = 0;
		sg->lent = false;
	}
	sg->no++;
	sg->len = 0;
	return tj__stage_room(sg, need);
}

/* Appends a body to the open chunk; *loc says where it went. */
static int tj__stage_append(struct tj_txn *t, const uint8_t *enc, size_t len, uint8_t loc[TJ__LOC_BYTES])
{
	struct tj__stage *sg = &t->st->stage;
	int rc;

	if (!sg->active && (rc = tj__stage_open(t, len)) != 0)
		return rc;
	if (sg->len + len > sg->cap && (rc = tj__stage_next(t, len)) != 0)
		return rc;
	if (sg->no > 0xffffffffu)
		return TJ_ESTOREFULL; /* 2^32 chunks of 64 KiB */
	tj__loc_pack(sg->no, sg->len, len, loc);
	memcpy(sg->buf + sg->len, enc, len);
	sg->len += len;
	sg->dirty = true;
	return 0;
}

/* Where id's body is, and a pointer to it valid until the transaction ends. */
static int tj__body(struct tj_txn *t, const uint8_t id[32], const uint8_t **enc, size_t *len)
{
	struct tj__stage *sg = &t->st->stage;
	uint8_t key[8];
	uint64_t chunk;
	size_t off;
	MDB_val v;
	int rc;

	if ((rc = tj__get(t, t->st->ids, id, 32, &v)) != 0)
		return rc;
	if (v.mv_size != TJ__LOC_BYTES)
		return TJ_ESTORE;
	tj__loc_unpack(v.mv_data, &chunk, &off, len);
	if (t->write && sg->active && chunk == sg->no) {
		if (off + *len > sg->len)
			return TJ_ESTORE;
		sg->lent = true;
		*enc = sg->buf + off;
		return 0;
	}
	tj_store_be64(chunk, key);
	if ((rc = tj__get(t, t->st->bodies, key, sizeof(key), &v)) != 0)
		return rc == TJ_ENOTFOUND ? TJ_ESTORE : rc;
	if (off + *len > v.mv_size)
		return TJ_ESTORE;
	*enc = (const uint8_t *)v.mv_data + off;
	return 0;
}

/* A deleted body's bytes become zeros: in the stage now, elsewhere at commit. */
static int tj__body_zero(struct tj_txn *t, const uint8_t loc[TJ__LOC_BYTES])
{
	struct tj__stage *sg = &t->st->stage;
	struct tj__zero *grown;
	uint64_t chunk;
	size_t off, len;

	tj__loc_unpack(loc, &chunk, &off, &len);
	if (sg->active && chunk == sg->no) {
		if (off + len > sg->len)
			return TJ_ESTORE;
		memset(sg->buf + off, 0, len);
		sg->dirty = true;
		return 0;
	}
	if (sg->n_zeros == sg->cap_zeros) {
		size_t cap = sg->cap_zeros == 0 ? 8 : sg->cap_zeros * 2;
		if ((grown = realloc(sg->zeros, cap * sizeof(*grown))) == NULL)
			return -ENOMEM;
		sg->zeros = grown;
		sg->cap_zeros = cap;
	}
	sg->zeros[sg->n_zeros++] = (struct tj__zero){chunk, (uint32_t)off, (uint32_t)len};
	return 0;
}

/* Rewrites each chunk that lost a body in this transaction, with zeros in its place. */
static int tj__apply_zeros(struct tj_txn *t)
{
	struct tj__stage *sg = &t->st->stage;
	uint8_t key[8], *copy;
	MDB_val v;
	int rc = 0;

	for (size_t i = 0; i < sg->n_zeros && rc == 0; i++) {
		const struct tj__zero *z = &sg->zeros[i];
		tj_store_be64(z->chunk, key);
		if ((rc = tj__get(t, t->st->bodies, key, sizeof(key), &v)) != 0)
			break;
		if ((size_t)z->off + z->len > v.mv_size || (copy = malloc(v.mv_size)) == NULL) {
			rc = (size_t)z->off + z->len > v.mv_size ? TJ_ESTORE : -ENOMEM;
			break;
		}
		memcpy(copy, v.mv_data, v.mv_size);
		memset(copy + z->off, 0, z->len);
		rc = tj__put(t, t->st->bodies, key, sizeof(key), copy, v.mv_size, 0);
		free(copy);
	}
	return rc;
}

/* Bodies reach LMDB before the commit. */
static int tj__stage_commit(struct tj_txn *t)
{
	int rc = tj__stage_flush(t);

	return rc != 0 ? rc : tj__apply_zeros(t);
}

/*
 * A store of format 1 kept each encoding under its id in "records": its
 * records move into ids + bodies (in id order, so "ids" is written with
 * MDB_APPEND) and "records" is dropped, all in the transaction that opens
 * the databases, so a crash leaves the old format or the new one whole.
 */
static int tj__migrate_v1(struct tj_store *st, MDB_txn *txn, MDB_dbi old, uint64_t *moved)
{
	struct tj_txn t = {.st = st, .txn = txn, .write = true};
	uint8_t loc[TJ__LOC_BYTES];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int mrc, rc = 0;

	*moved = 0;
	if ((mrc = mdb_cursor_open(txn, old, &cur)) != 0)
		return tj__mdb_err(mrc, "cursor open (records)");
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32 || v.mv_size == 0 || v.mv_size > TJ_RECORD_MAX_BYTES)
			rc = TJ_ESTORE;
		else if ((rc = tj__stage_append(&t, v.mv_data, v.mv_size, loc)) == 0 &&
			 (rc = tj__put(&t, st->ids, k.mv_data, 32, loc, sizeof(loc), MDB_APPEND)) == 0)
			(*moved)++;
	}
	mdb_cursor_close(cur);
	if (rc != 0)
		return rc;
	if (mrc != MDB_NOTFOUND)
		return tj__mdb_err(mrc, "migrate records");
	if ((rc = tj__stage_commit(&t)) != 0)
		return rc;
	return tj__mdb_err(mdb_drop(txn, old, 1), "drop records");
}

/* Checks (or sets, on a new store) the format; migrates an older one. */
static int tj__format(struct tj_store *st, MDB_txn *txn)
{
	MDB_val k = {.mv_size = 12, .mv_data = "store.format"}, v;
	uint8_t ver[8];
	uint64_t moved = 0;
	MDB_dbi old;
	int rc;

	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == 0) {
		if (v.mv_size == 8 && tj_store_rd64(v.mv_data) == TJ__FORMAT)
			return 0;
		TJ_LOG_E("store", "the store has format %llu; this version reads format %u: use a newer tejido",
			 v.mv_size == 8 ? (unsigned long long)tj_store_rd64(v.mv_data) : 0ull, TJ__FORMAT);
		return TJ_ESTATE;
	}
	if (rc != MDB_NOTFOUND)
		return tj__mdb_err(rc, "get store.format");
	rc = mdb_dbi_open(txn, "records", 0, &old);
	if (rc == 0) {
		if ((rc = tj__migrate_v1(st, txn, old, &moved)) != 0)
			return rc;
		TJ_LOG_I("store", "store format 1 -> %u: %llu records moved", TJ__FORMAT, (unsigned long long)moved);
	} else if (rc != MDB_NOTFOUND) {
		return tj__mdb_err(rc, "open records");
	}
	tj_store_be64(TJ__FORMAT, ver);
	v = (MDB_val){.mv_size = sizeof(ver), .mv_data = ver};
	return tj__mdb_err(mdb_put(txn, st->meta, &k, &v, 0), "put store.format");
}

static void tj__map_find(struct tj_store *st, const char *dir);

static int tj__open_dbis(struct tj_store *st)
{
	struct {
		const char *name;
		unsigned flags;
		MDB_dbi *dbi;
	} dbs[] = {
		{"ids", 0, &st->ids},              {"bodies", 0, &st->bodies},
		{"by_ts", 0, &st->by_ts},
		{"chain", MDB_DUPSORT, &st->chain}, {"authors", 0, &st->authors},
		{"frozen", 0, &st->frozen},         {"tombstones", 0, &st->tombstones},
		{"meta", 0, &st->meta},             {"case_of", MDB_DUPSORT, &st->case_of},
		{"victim_idx", MDB_DUPSORT, &st->victim_idx},
		{"alerts", 0, &st->alerts},         {"query_idx", MDB_DUPSORT, &st->query_idx},
	};
	MDB_txn *txn = NULL;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0)
		return tj__mdb_err(rc, "begin (open databases)");
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | MDB_CREATE, dbs[i].dbi);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return tj__mdb_err(rc, "open database");
		}
	}
	if ((rc = tj__format(st, txn)) != 0) {
		mdb_txn_abort(txn);
		tj__stage_reset(&st->stage);
		return rc;
	}
	rc = tj__mdb_err(mdb_txn_commit(txn), "commit (open databases)");
	tj__stage_reset(&st->stage);
	return rc;
}

int tj_store_open(const char *datadir, uint64_t map_size_bytes, struct tj_store **out)
{
	char path[4096];
	struct tj_store *st = NULL;
	int dead = 0;
	int rc, n;

	if (tj__store_is_open)
		return TJ_ESTATE;
	n = snprintf(path, sizeof(path), "%s/%s", datadir, TJ_STORE_DIR_NAME);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->map_size = map_size_bytes != 0 ? map_size_bytes : TJ_STORE_MAP_SIZE_DEFAULT_BYTES;
	if ((rc = mdb_env_create(&st->env)) != 0) {
		st->env = NULL;
		rc = tj__mdb_err(rc, "env create");
		goto out;
	}
	if ((rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)st->map_size)) != 0) {
		rc = tj__mdb_err(rc, "env setup");
		goto out;
	}
	/* MDB_NOTLS: read transactions are not tied to a thread (the pool may read later). */
	if ((rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0) {
		rc = tj__mdb_err(rc, "env open");
		goto out;
	}
	/* Readers left by a process killed with -9 would pin old pages forever. */
	if ((rc = mdb_reader_check(st->env, &dead)) != 0) {
		rc = tj__mdb_err(rc, "reader check");
		goto out;
	}
	if (dead > 0)
		TJ_LOG_I("store", "cleared %d stale reader slot(s)", dead);
	tj__map_find(st, path);
	st->map_trim_at = TJ__MAP_RSS_MAX_BYTES;
	if ((rc = tj__open_dbis(st)) != 0)
		goto out;
	tj__store_is_open = true;
	*out = st;
	st = NULL;
out:
	if (st != NULL) {
		if (st->env != NULL)
			mdb_env_close(st->env);
		tj__stage_free(&st->stage);
		free(st);
	}
	return rc;
}

int tj_store_ext_dbi(struct tj_store *st, const char *name, MDB_dbi *out)
{
	if (strcmp(name, "alerts") == 0)
		*out = st->alerts;
	else if (strcmp(name, "query_idx") == 0)
		*out = st->query_idx;
	else
		return TJ_ENOTFOUND;
	return 0;
}

void tj_store_close(struct tj_store *st)
{
	if (st == NULL)
		return;
	mdb_env_close(st->env);
	tj__stage_free(&st->stage);
	free(st);
	tj__store_is_open = false;
}

int tj_store_reader_check(struct tj_store *st, int *dead)
{
	*dead = 0;
	return mdb_reader_check(st->env, dead) == 0 ? 0 : TJ_ESTORE;
}

int tj_txn_begin(struct tj_store *st, bool write, struct tj_txn *t)
{
	int rc;

	t->st = st;
	t->write = write;
	t->txn = NULL;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		t->txn = NULL;
		return tj__mdb_err(rc, "begin");
	}
	if (write)
		tj__stage_reset(&st->stage); /* ours: LMDB lets one writer in at a time */
	return 0;
}

/*
 * LMDB reads through a shared read-only map of the data file, and the kernel
 * maps in the cached neighbours of every page faulted in (fault-around), so
 * the random descents of a long ingest would leave the whole file counted in
 * the process's resident set. Past TJ__MAP_RSS_MAX_BYTES of file-backed
 * resident memory (looked at on each commit and every TJ__MAP_CHECK_PUTS
 * records stored) the store lets go of map pages: MADV_DONTNEED on a
 * shared file mapping drops only this process's page-table entries (the
 * pages stay in the page cache, later reads fault them back in), so readers
 * in other threads see the same bytes at the same addresses.
 */

/* File-backed + shared resident bytes of this process (/proc/self/statm), 0 if unknown. */
static uint64_t tj__rss_shared_bytes(void)
{
	char buf[128];
	unsigned long long size, resident, shared;
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
		return 0;
	return (uint64_t)shared * (uint64_t)sysconf(_SC_PAGESIZE);
}

/*
 * Where LMDB mapped dir/data.mdb (mdb_env_info gives the address only with
 * MDB_FIXEDMAP): the mapping of that file in /proc/self/maps.
 */
static void tj__map_find(struct tj_store *st, const char *dir)
{
	char real[4096], want[4200], line[4600];
	unsigned long lo, hi;
	FILE *fp;
	int n;

	if (realpath(dir, real) == NULL)
		return;
	n = snprintf(want, sizeof(want), "%s/data.mdb", real);
	if (n < 0 || (size_t)n >= sizeof(want) || (fp = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *path = strchr(line, '/');
		size_t len;
		if (path == NULL)
			continue;
		len = strcspn(path, "\n");
		if (len == (size_t)n && memcmp(path, want, len) == 0 && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    hi - lo > st->map_bytes) {
			st->map_addr = (void *)(uintptr_t)lo;
			st->map_bytes = hi - lo;
		}
	}
	fclose(fp);
}

/* Drops the map's pages of every committed chunk: bodies are not read back during ingest. */
static void tj__map_trim_bodies(struct tj_store *st)
{
	const uint8_t *lo = st->map_addr, *hi = lo + st->map_bytes;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	MDB_val k, v;
	int rc;

	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, st->bodies, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			/* An overflow value starts 16 bytes (its page header) into its first page. */
			const uint8_t *p = (const uint8_t *)v.mv_data - 16;
			size_t len = (v.mv_size + 16 + page - 1) / page * page;
			if (((uintptr_t)p & (page - 1)) == 0 && p >= lo && p + len <= hi)
				(void)madvise((void *)(uintptr_t)p, len, MADV_DONTNEED);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

/*
 * Over the budget, the chunks' pages go first (no refault follows: ingest
 * never reads a body); the index pages stay mapped, as refaulting them after
 * every trim costs ~30 us a record. Only when the rest still grows past the
 * budget by half does the whole map go.
 */
static void tj__map_trim(struct tj_store *st)
{
	uint64_t shared;

	if (st->map_addr == NULL || (shared = tj__rss_shared_bytes()) < st->map_trim_at)
		return;
	tj__map_trim_bodies(st);
	shared = tj__rss_shared_bytes();
	if (shared >= st->map_trim_at + TJ__MAP_RSS_MAX_BYTES / 2) {
		MDB_envinfo info;
		MDB_stat est;
		if (mdb_env_info(st->env, &info) == 0 && mdb_env_stat(st->env, &est) == 0) {
			size_t used = (size_t)(info.me_last_pgno + 1) * est.ms_psize;
			(void)madvise(st->map_addr, used < st->map_bytes ? used : st->map_bytes, MADV_DONTNEED);
		}
		shared = tj__rss_shared_bytes();
	}
	/* What stays mapped is the working set: look again once it grew by a quarter of the budget. */
	st->map_trim_at = shared + TJ__MAP_RSS_MAX_BYTES / 4 > TJ__MAP_RSS_MAX_BYTES
				  ? shared + TJ__MAP_RSS_MAX_BYTES / 4
				  : TJ__MAP_RSS_MAX_BYTES;
}

int tj_txn_commit(struct tj_txn *t)
{
	int rc;

	if (t->txn == NULL)
		return TJ_ESTATE;
	if (t->write && (rc = tj__stage_commit(t)) != 0) {
		tj_txn_abort(t);
		return rc;
	}
	rc = mdb_txn_commit(t->txn); /* frees the txn whatever the result */
	t->txn = NULL;
	if (t->write) {
		tj__stage_reset(&t->st->stage);
		if (rc == 0)
			tj__map_trim(t->st);
	}
	return tj__mdb_err(rc, "commit");
}

void tj_txn_abort(struct tj_txn *t)
{
	if (t->txn == NULL)
		return;
	mdb_txn_abort(t->txn);
	t->txn = NULL;
	if (t->write)
		tj__stage_reset(&t->st->stage);
}

int tj_store_get(struct tj_txn *t, const uint8_t id[32], const uint8_t **enc, size_t *len)
{
	return tj__body(t, id, enc, len);
}

int tj_store_has(struct tj_txn *t, const uint8_t id[32])
{
	MDB_val v;
	return tj__get(t, t->st->ids, id, 32, &v);
}

void tj_store_ts_key(uint64_t ts_ms, const uint8_t id[32], uint8_t key[TJ_STORE_TS_KEY_BYTES])
{
	tj_store_be64(ts_ms, key);
	memcpy(key + 8, id, 32);
}

/* Adds delta to an 8-byte counter in dbi (created at 0). */
static int tj__count_add(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, int64_t delta)
{
	uint8_t buf[8];
	uint64_t n = 0;
	MDB_val v;
	int rc = tj__get(t, dbi, k, kl, &v);

	if (rc == 0 && v.mv_size == 8)
		n = tj_store_rd64(v.mv_data);
	else if (rc != 0 && rc != TJ_ENOTFOUND)
		return rc;
	n = delta < 0 && n < (uint64_t)-delta ? 0 : n + (uint64_t)delta;
	tj_store_be64(n, buf);
	return tj__put(t, dbi, k, kl, buf, 8, 0);
}

static void tj__kind_counter_name(uint8_t kind, char name[TJ_STORE_META_NAME_MAX])
{
	snprintf(name, TJ_STORE_META_NAME_MAX, "count.kind.%u", (unsigned)kind);
}

/*
 * Records the alert rules read (incidents, acks, resolutions) are marked
 * pending in "alerts" ('P' || id) in the transaction that stores them; the
 * transaction that stores their alert results removes the mark
 * (tj_alert.h), so a crash between the two loses no evaluation.
 */
static int tj__pending_put(struct tj_txn *t, const uint8_t id[32], uint8_t kind)
{
	uint8_t key[33];

	if (kind != TJ_KIND_INCIDENT && kind != TJ_KIND_ALERT_ACK && kind != TJ_KIND_ALERT_RESOLVE)
		return 0;
	key[0] = TJ_STORE_PENDING_PREFIX;
	memcpy(key + 1, id, 32);
	return tj__put(t, t->st->alerts, key, sizeof(key), "", 0, 0);
}

/*
 * by_ts: records mostly arrive in time order (adds, and peers send oldest
 * first), so try MDB_APPEND, which fills pages completely, before a plain put.
 */
static int tj__put_ts(struct tj_txn *t, const uint8_t key[TJ_STORE_TS_KEY_BYTES])
{
	MDB_val k = tj__val(key, TJ_STORE_TS_KEY_BYTES), v = tj__val("", 0);
	int rc = mdb_put(t->txn, t->st->by_ts, &k, &v, MDB_APPEND);

	if (rc == MDB_KEYEXIST)
		rc = mdb_put(t->txn, t->st->by_ts, &k, &v, 0);
	return tj__mdb_err(rc, "put by_ts");
}

int tj_store_put_record(struct tj_txn *t, const uint8_t id[32], const struct tj_record *rec, const uint8_t *enc,
			size_t len)
{
	struct tj_store *st = t->st;
	uint8_t ts_key[TJ_STORE_TS_KEY_BYTES];
	uint8_t chain_key[40];
	char name[TJ_STORE_META_NAME_MAX];
	int rc;

	uint8_t loc[TJ__LOC_BYTES];

	if (len == 0 || len > TJ_RECORD_MAX_BYTES)
		return TJ_ELIMIT;
	if (++st->puts % TJ__MAP_CHECK_PUTS == 0)
		tj__map_trim(st);
	if ((rc = tj__stage_append(t, enc, len, loc)) != 0)
		return rc;
	rc = tj__put(t, st->ids, id, 32, loc, sizeof(loc), MDB_NOOVERWRITE);
	if (rc != 0) {
		st->stage.len -= len; /* the last bytes appended: nobody points at them */
		return rc;
	}
	tj_store_ts_key(rec->ts_ms, id, ts_key);
	if ((rc = tj__put_ts(t, ts_key)) != 0)
		return rc;
	memcpy(chain_key, rec->author, 32);
	tj_store_be64(rec->seq, chain_key + 32);
	/* NODUPDATA: the same (author, seq, id) twice is one entry, not an error. */
	rc = tj__put(t, st->chain, chain_key, sizeof(chain_key), id, 32, MDB_NODUPDATA);
	if (rc != 0 && rc != TJ_EEXIST)
		return rc;
	if ((rc = tj__count_add(t, st->authors, rec->author, 32, 1)) != 0)
		return rc;
	tj__kind_counter_name(rec->kind, name);
	if ((rc = tj__count_add(t, st->meta, name, strlen(name), 1)) != 0)
		return rc;
	return tj__pending_put(t, id, rec->kind);
}

/* Collects the DUPSORT values (each vsize bytes) under key, at most cap. */
static int tj__dups(struct tj_txn *t, MDB_dbi dbi, const void *k, size_t kl, uint8_t *out, size_t vsize,
		    size_t cap, size_t *n)
{
	MDB_cursor *cur = NULL;
	MDB_val key = tj__val(k, kl);
	MDB_val v;
	int rc;

	*n = 0;
	rc = mdb_cursor_open(t->txn, dbi, &cur);
	if (rc != 0)
		return tj__mdb_err(rc, "cursor open");
	rc = mdb_cursor_get(cur, &key, &v, MDB_SET_KEY);
	while (rc == 0 && *n < cap) {
		if (v.mv_size == vsize) {
			memcpy(out + *n * vsize, v.mv_data, vsize);
			(*n)++;
		}
		rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

int tj_store_chain_ids(struct tj_txn *t, const uint8_t author[32], uint64_t seq, uint8_t (*ids)[32], size_t cap,
		       size_t *n)
{
	uint8_t key[40];

	memcpy(key, author, 32);
	tj_store_be64(seq, key + 32);
	return tj__dups(t, t->st->chain, key, sizeof(key), (uint8_t *)ids, 32, cap, n);
}

int tj_store_freeze(struct tj_txn *t, const uint8_t author[32], const uint8_t id_a[32], const uint8_t id_b[32])
{
	uint8_t ev[64];
	int rc;

	memcpy(ev, id_a, 32);
	memcpy(ev + 32, id_b, 32);
	rc = tj__put(t, t->st->frozen, author, 32, ev, sizeof(ev), MDB_NOOVERWRITE);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_frozen(struct tj_txn *t, const uint8_t author[32], uint8_t evidence[64])
{
	MDB_val v;
	int rc = tj__get(t, t->st->frozen, author, 32, &v);

	if (rc == 0 && evidence != NULL && v.mv_size == 64)
		memcpy(evidence, v.mv_data, 64);
	return rc;
}

/* Deletes a stored record's body and by_ts entry, keeping chain and counts honest. */
static int tj__delete_body(struct tj_txn *t, const uint8_t id[32])
{
	struct tj_store *st = t->st;
	uint8_t ts_key[TJ_STORE_TS_KEY_BYTES];
	char name[TJ_STORE_META_NAME_MAX];
	struct tj_record rec;
	const uint8_t *enc;
	size_t len;
	uint8_t loc[TJ__LOC_BYTES];
	MDB_val key, v;
	int rc;

	rc = tj__get(t, st->ids, id, 32, &v);
	if (rc == TJ_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != sizeof(loc))
		return TJ_ESTORE;
	memcpy(loc, v.mv_data, sizeof(loc));
	if ((rc = tj_store_get(t, id, &enc, &len)) != 0)
		return rc;
	/* Stored bytes were verified at ingest; decoding only recovers ts and kind. */
	if ((rc = tj_record_decode(enc, len, &rec)) != 0)
		return TJ_ESTORE;
	tj_store_ts_key(rec.ts_ms, id, ts_key);
	key = tj__val(ts_key, sizeof(ts_key));
	rc = mdb_del(t->txn, st->by_ts, &key, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return tj__mdb_err(rc, "del by_ts");
	tj__kind_counter_name(rec.kind, name);
	if ((rc = tj__count_add(t, st->meta, name, strlen(name), -1)) != 0)
		return rc;
	key = tj__val(id, 32);
	if ((rc = tj__mdb_err(mdb_del(t->txn, st->ids, &key, NULL), "del record")) != 0)
		return rc;
	return tj__body_zero(t, loc);
}

int tj_store_tombstone(struct tj_txn *t, const uint8_t id[32], const uint8_t author[32], uint64_t ts_ms,
		       const char *reason)
{
	uint8_t buf[512];
	struct tj_mp_writer w;
	size_t len;
	int rc;

	tj_mp_writer_init(&w, buf, sizeof(buf));
	tj_mp_put_array(&w, 3);
	tj_mp_put_bin(&w, author, 32);
	tj_mp_put_uint(&w, ts_ms);
	tj_mp_put_str(&w, reason != NULL ? reason : "", reason != NULL ? strnlen(reason, 256) : 0);
	if ((rc = tj_mp_writer_finish(&w, &len)) != 0)
		return rc;
	if ((rc = tj__delete_body(t, id)) != 0)
		return rc;
	rc = tj__put(t, t->st->tombstones, id, 32, buf, len, MDB_NOOVERWRITE);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_tombstoned(struct tj_txn *t, const uint8_t id[32])
{
	MDB_val v;
	return tj__get(t, t->st->tombstones, id, 32, &v);
}

static int tj__meta_name_ok(const char *name, size_t *len)
{
	*len = strnlen(name, TJ_STORE_META_NAME_MAX);
	return *len > 0 && *len < TJ_STORE_META_NAME_MAX ? 0 : TJ_ELIMIT;
}

int tj_store_meta_get(struct tj_txn *t, const char *name, const uint8_t **val, size_t *len)
{
	MDB_val v;
	size_t nl;
	int rc;

	if ((rc = tj__meta_name_ok(name, &nl)) != 0)
		return rc;
	if ((rc = tj__get(t, t->st->meta, name, nl, &v)) == 0) {
		*val = v.mv_data;
		*len = v.mv_size;
	}
	return rc;
}

int tj_store_meta_put(struct tj_txn *t, const char *name, const void *val, size_t len)
{
	size_t nl;
	int rc;

	if ((rc = tj__meta_name_ok(name, &nl)) != 0)
		return rc;
	return tj__put(t, t->st->meta, name, nl, val, len, 0);
}

int tj_store_case_of_put(struct tj_txn *t, const uint8_t summary_id[32], const uint8_t case_id[32])
{
	int rc = tj__put(t, t->st->case_of, summary_id, 32, case_id, 32, MDB_NODUPDATA);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_case_of_get(struct tj_txn *t, const uint8_t summary_id[32], uint8_t (*ids)[32], size_t cap, size_t *n)
{
	return tj__dups(t, t->st->case_of, summary_id, 32, (uint8_t *)ids, 32, cap, n);
}

int tj_store_victim_put(struct tj_txn *t, const uint8_t key[32], uint64_t day, const uint8_t id[32])
{
	uint8_t v[40];
	int rc;

	tj_store_be64(day, v);
	memcpy(v + 8, id, 32);
	rc = tj__put(t, t->st->victim_idx, key, 32, v, sizeof(v), MDB_NODUPDATA);
	return rc == TJ_EEXIST ? 0 : rc;
}

int tj_store_victim_del_id(struct tj_txn *t, const uint8_t id[32])
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(t->txn, t->st->victim_idx, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size == 40 && memcmp((const uint8_t *)v.mv_data + 8, id, 32) == 0 &&
		    (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "victim index delete");
}

int tj_store_victim_any(struct tj_txn *t, const uint8_t key[32], uint64_t day_lo, uint64_t day_hi, bool *found)
{
	MDB_cursor *cur = NULL;
	uint8_t lo[40] = {0};
	MDB_val k = tj__val(key, 32);
	MDB_val v = tj__val(lo, sizeof(lo));
	int rc;

	*found = false;
	tj_store_be64(day_lo, lo);
	if ((rc = mdb_cursor_open(t->txn, t->st->victim_idx, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open");
	/* Duplicates sort by value, and the value starts with the day. */
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && v.mv_size == 40 && tj_store_rd64(v.mv_data) <= day_hi)
		*found = true;
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

int tj_store_iter_open(struct tj_txn *t, bool newest_first, const uint8_t *after_key, struct tj_store_iter *it)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->newest_first = newest_first;
	if (after_key != NULL) {
		it->has_after = true;
		memcpy(it->after, after_key, TJ_STORE_TS_KEY_BYTES);
	}
	rc = mdb_cursor_open(t->txn, t->st->by_ts, &it->cur);
	if (rc != 0) {
		it->cur = NULL;
		return tj__mdb_err(rc, "cursor open");
	}
	return 0;
}

/* Positions the cursor on the first entry of the walk. */
static int tj__iter_first(struct tj_store_iter *it, MDB_val *k, MDB_val *v)
{
	int rc;

	if (!it->has_after)
		return mdb_cursor_get(it->cur, k, v, it->newest_first ? MDB_LAST : MDB_FIRST);
	*k = tj__val(it->after, TJ_STORE_TS_KEY_BYTES);
	rc = mdb_cursor_get(it->cur, k, v, MDB_SET_RANGE); /* first key >= after */
	if (it->newest_first) {
		if (rc == MDB_NOTFOUND)
			return mdb_cursor_get(it->cur, k, v, MDB_LAST);
		return rc != 0 ? rc : mdb_cursor_get(it->cur, k, v, MDB_PREV);
	}
	if (rc == 0 && k->mv_size == TJ_STORE_TS_KEY_BYTES && memcmp(k->mv_data, it->after, TJ_STORE_TS_KEY_BYTES) == 0)
		return mdb_cursor_get(it->cur, k, v, MDB_NEXT);
	return rc;
}

int tj_store_iter_next(struct tj_store_iter *it, uint64_t *ts_ms, uint8_t id[32])
{
	MDB_val k, v;
	int rc;

	if (it->cur == NULL)
		return TJ_ESTATE;
	if (!it->started) {
		it->started = true;
		rc = tj__iter_first(it, &k, &v);
	} else {
		rc = mdb_cursor_get(it->cur, &k, &v, it->newest_first ? MDB_PREV : MDB_NEXT);
	}
	if (rc != 0)
		return tj__mdb_err(rc, "iterate by_ts");
	if (k.mv_size != TJ_STORE_TS_KEY_BYTES)
		return TJ_ESTORE;
	*ts_ms = tj_store_rd64(k.mv_data);
	memcpy(id, (const uint8_t *)k.mv_data + 8, 32);
	return 0;
}

void tj_store_iter_close(struct tj_store_iter *it)
{
	if (it->cur != NULL)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

static bool tj__prefix_match(const uint8_t *id, const uint8_t *prefix, size_t nibbles)
{
	size_t full = nibbles / 2;

	if (memcmp(id, prefix, full) != 0)
		return false;
	return nibbles % 2 == 0 || (id[full] >> 4) == (prefix[full] >> 4);
}

int tj_store_find_prefix(struct tj_txn *t, const uint8_t *prefix, size_t nibbles, uint8_t (*ids)[32], size_t cap,
			 size_t *n)
{
	uint8_t start[32] = {0};
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	*n = 0;
	if (nibbles == 0 || nibbles > 64)
		return TJ_EMALFORMED;
	memcpy(start, prefix, (nibbles + 1) / 2);
	if (nibbles % 2 != 0)
		start[nibbles / 2] &= 0xf0;
	if ((rc = mdb_cursor_open(t->txn, t->st->ids, &cur)) != 0)
		return tj__mdb_err(rc, "cursor open");
	k = tj__val(start, sizeof(start));
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && *n < cap && k.mv_size == 32 && tj__prefix_match(k.mv_data, start, nibbles)) {
		memcpy(ids[*n], k.mv_data, 32);
		(*n)++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : tj__mdb_err(rc, "cursor get");
}

static uint64_t tj__entries(struct tj_txn *t, MDB_dbi dbi)
{
	MDB_stat s;
	return mdb_stat(t->txn, dbi, &s) == 0 ? (uint64_t)s.ms_entries : 0;
}

int tj_store_stats(struct tj_txn *t, struct tj_store_stats *out)
{
	char name[TJ_STORE_META_NAME_MAX];
	MDB_envinfo info;
	MDB_stat est;
	const uint8_t *v;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	out->records = tj__entries(t, t->st->ids);
	out->authors = tj__entries(t, t->st->authors);
	out->frozen = tj__entries(t, t->st->frozen);
	out->tombstones = tj__entries(t, t->st->tombstones);
	for (uint8_t k = 0; k < TJ_KIND__COUNT; k++) {
		tj__kind_counter_name(k, name);
		rc = tj_store_meta_get(t, name, &v, &len);
		if (rc == 0 && len == 8)
			out->by_kind[k] = tj_store_rd64(v);
		else if (rc != 0 && rc != TJ_ENOTFOUND)
			return rc;
	}
	out->map_size_bytes = t->st->map_size;
	if (mdb_env_info(t->st->env, &info) == 0 && mdb_env_stat(t->st->env, &est) == 0)
		out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
	return 0;
}

int tj_store_raw_body(MDB_txn *txn, MDB_dbi ids, MDB_dbi bodies, const uint8_t id[32], const uint8_t **enc,
		      size_t *len, uint64_t loc[3])
{
	MDB_val k = tj__val(id, 32), v;
	uint8_t key[8];
	uint64_t chunk;
	size_t off;
	int rc;

	if ((rc = mdb_get(txn, ids, &k, &v)) != 0)
		return tj__mdb_err(rc, "get ids");
	if (v.mv_size != TJ__LOC_BYTES)
		return TJ_ESTORE;
	tj__loc_unpack(v.mv_data, &chunk, &off, len);
	tj_store_be64(chunk, key);
	k = tj__val(key, sizeof(key));
	if ((rc = mdb_get(txn, bodies, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? TJ_ESTORE : tj__mdb_err(rc, "get bodies");
	if (off + *len > v.mv_size)
		return TJ_ESTORE;
	*enc = (const uint8_t *)v.mv_data + off;
	if (loc != NULL) {
		loc[0] = chunk;
		loc[1] = off;
		loc[2] = *len;
	}
	return 0;
}
