/*
 * Running a query: candidates from the blinded index (OR within a term, AND
 * across terms, dates on every walk), then every candidate opened and checked
 * in full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_query.h"

struct tj__cand {
	int64_t day;
	uint8_t id[32];
};

struct tj__vec {
	struct tj__cand *v;
	size_t n, cap;
};

static int tj__vec_push(struct tj__vec *vec, int64_t day, const uint8_t id[32])
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap == 0 ? 256 : vec->cap * 2;
		struct tj__cand *v = realloc(vec->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n].day = day;
	memcpy(vec->v[vec->n].id, id, 32);
	vec->n++;
	return 0;
}

static int tj__cmp_id(const void *a, const void *b)
{
	return memcmp(((const struct tj__cand *)a)->id, ((const struct tj__cand *)b)->id, 32);
}

/* Newest occurred first; ties by id so the order is the same on every run. */
static int tj__cmp_day_desc(const void *a, const void *b)
{
	const struct tj__cand *x = a, *y = b;

	if (x->day != y->day)
		return x->day > y->day ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

/* Appends every entry under key dated in [lo, hi]. */
static int tj__gather(struct tj_txn *t, MDB_dbi dbi, const uint8_t key[32], int64_t lo, int64_t hi,
                      struct tj__vec *vec)
{
	uint8_t seek[40] = {0};
	MDB_val k = {32, (void *)key}, v = {sizeof(seek), seek};
	MDB_cursor *cur = NULL;
	int rc;

	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	tj_store_be64(lo < 0 ? 0 : (uint64_t)lo, seek);
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	while (rc == 0) {
		uint64_t d;
		if (v.mv_size != 40) {
			rc = TJ_ESTORE;
			break;
		}
		d = tj_store_rd64(v.mv_data);
		if (hi >= 0 && d > (uint64_t)hi)
			break;
		if ((rc = tj__vec_push(vec, (int64_t)d, (const uint8_t *)v.mv_data + 8)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : (rc < 0 ? rc : TJ_ESTORE);
}

static void tj__sort_unique(struct tj__vec *vec)
{
	size_t w = 0;

	if (vec->n == 0)
		return; /* v may be NULL: qsort must not see it */
	qsort(vec->v, vec->n, sizeof(vec->v[0]), tj__cmp_id);
	for (size_t i = 0; i < vec->n; i++)
		if (w == 0 || memcmp(vec->v[w - 1].id, vec->v[i].id, 32) != 0)
			vec->v[w++] = vec->v[i];
	vec->n = w;
}

/* acc = acc AND next (both sorted by id, unique). */
static void tj__intersect(struct tj__vec *acc, const struct tj__vec *next)
{
	size_t i = 0, j = 0, w = 0;

	while (i < acc->n && j < next->n) {
		int c = memcmp(acc->v[i].id, next->v[j].id, 32);
		if (c == 0)
			acc->v[w++] = acc->v[i++], j++;
		else if (c < 0)
			i++;
		else
			j++;
	}
	acc->n = w;
}

/* The candidates of one term (or of "all" when term is NULL), sorted by id. */
static int tj__term_cands(struct tj_node *n, struct tj_txn *t, MDB_dbi dbi, const struct tj_query *q,
                          const struct tj_query_term *term, struct tj__vec *out)
{
	int64_t lo = q->has_since ? q->since_day : 0, hi = q->has_until ? q->until_day : -1;
	uint8_t key[32];
	int rc = 0;

	if (term == NULL) {
		tj_query_key(n, "all", "", key);
		rc = tj__gather(t, dbi, key, lo, hi, out);
	}
	for (uint32_t i = 0; term != NULL && i < term->n_codes && rc == 0; i++) {
		tj_query_key(n, term->field, term->codes[i], key);
		rc = tj__gather(t, dbi, key, lo, hi, out);
	}
	if (rc == 0)
		tj__sort_unique(out);
	return rc;
}

static int tj__candidates(struct tj_node *n, struct tj_txn *t, const struct tj_query *q, struct tj__vec *acc)
{
	struct tj__vec next = {0};
	MDB_dbi dbi;
	int rc;

	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	if ((rc = tj__term_cands(n, t, dbi, q, q->n_terms > 0 ? &q->terms[0] : NULL, acc)) != 0)
		return rc;
	for (uint32_t i = 1; i < q->n_terms && acc->n > 0 && rc == 0; i++) {
		next.n = 0;
		if ((rc = tj__term_cands(n, t, dbi, q, &q->terms[i], &next)) == 0)
			tj__intersect(acc, &next);
	}
	free(next.v);
	return rc;
}

/* Opens and checks each candidate, newest occurred first. */
static int tj__emit(struct tj_node *n, struct tj_txn *t, const struct tj_query *q, struct tj__vec *c,
                    tj_query_cb cb, void *ctx, uint64_t *n_matched)
{
	struct tj_incident_summary *s = tj_incident_summary_new();
	uint32_t limit = q->limit == 0 ? UINT32_MAX : q->limit; /* 0: every match (statistics) */
	struct tj_query_hit hit;
	uint8_t author[32];
	uint32_t skipped = 0;
	int rc = 0;

	if (s == NULL)
		return -ENOMEM;
	if (c->n > 0)
		qsort(c->v, c->n, sizeof(c->v[0]), tj__cmp_day_desc);

	for (size_t i = 0; i < c->n && *n_matched < limit; i++) {
		rc = tj_query_open(n, t, c->v[i].id, s, author, &hit.recorded_ms);
		if (rc == TJ_ENOTFOUND || rc == TJ_ENOKEY || rc == TJ_EDECRYPT) {
			rc = 0; /* retracted since, or no longer readable: not a result */
			continue;
		}
		if (rc != 0)
			break;
		if (!tj_query_matches(q, s))
			continue;
		if (skipped < q->offset) {
			skipped++;
			continue;
		}
		hit.id = c->v[i].id;
		hit.author = author;
		hit.s = s;
		(*n_matched)++;
		if (cb(ctx, &hit) != 0)
			break;
	}
	sodium_memzero(s, sizeof(*s));
	tj_incident_summary_free(s);
	return rc;
}

int tj_query_run(struct tj_node *n, const struct tj_query *q, tj_query_cb cb, void *ctx, uint64_t *n_matched)
{
	struct tj__vec c = {0};
	struct tj_txn t;
	int rc;

	*n_matched = 0;
	if (q->has_since && q->has_until && q->until_day < q->since_day)
		return TJ_ESCHEMA;
	if ((rc = tj_txn_begin(n->store, false, &t)) != 0)
		return rc;
	if ((rc = tj__candidates(n, &t, q, &c)) == 0)
		rc = tj__emit(n, &t, q, &c, cb, ctx, n_matched);
	tj_txn_abort(&t);
	free(c.v);
	return rc;
}
