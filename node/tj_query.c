/* Queries: the blinded (field, code) index and the filtered walk over it. */
#include "tj_query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tj_log.h"
#include "tj_seal.h"

#define TJ__QKEY_CONTEXT "tejido-query-index-v1"

static const struct tj_query_field tj__fields[] = {
    {"state", "inegi_state"},
    {"municipality", "inegi_municipality"},
    {"residence_state", "inegi_state"},
    {"place_type", "place_type"},
    {"precision", "precision"},
    {"act", "act_type"},
    {"role", "role"},
    {"gender", "gender"},
    {"age_band", "age_band"},
    {"unit", "unit"},
    {"trait", "trait"},
    {"cause", "defended_cause"},
    {"aggressor_category", "aggressor_category"},
    {"aggressor", "aggressor_type"},
    {"aggressor_level", "aggressor_level"},
    {"involvement", "involvement"},
    {"protection", "protection_status"},
    {"risk_level", "risk_level"},
    {"measure", "protection_measure"},
    {"failed", "protection_measure"},
    {"source", "source_type"},
    {"reliability", "reliability"},
    {"verification", "verification"},
    {"severity", "severity"},
};

static const char *const tj__sev_codes[] = {"0", "1", "2", "3", "4", "5"};

const struct tj_query_field *tj_query_fields(size_t *n)
{
	*n = sizeof(tj__fields) / sizeof(tj__fields[0]);
	return tj__fields;
}

const struct tj_query_field *tj_query_field_find(const char *name)
{
	for (size_t i = 0; i < sizeof(tj__fields) / sizeof(tj__fields[0]); i++)
		if (strcmp(tj__fields[i].name, name) == 0)
			return &tj__fields[i];
	return NULL;
}

bool tj_query_code_valid(const struct tj_query_field *f, const char *code)
{
	if (strcmp(f->vocab, "inegi_state") == 0)
		return tj_inegi_state(code) != NULL;
	if (strcmp(f->vocab, "inegi_municipality") == 0)
		return tj_inegi_municipality(code) != NULL;
	if (strcmp(f->vocab, "severity") == 0)
		return strlen(code) == 1 && code[0] >= '1' && code[0] <= '5';
	return tj_vocab_lookup(f->vocab, code) != NULL;
}

/* Appends a non-empty code to out. */
static void tj__push(const char **out, size_t cap, size_t *n, const char *code)
{
	if (code[0] != '\0' && *n < cap)
		out[(*n)++] = code;
}

static void tj__push_list(const char **out, size_t cap, size_t *n, const struct tj_codelist *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		tj__push(out, cap, n, l->v[i]);
}

/* Victim fields: one value (or list) per victim. */
static bool tj__victim_codes(const struct tj_incident_summary *s, const char *field, const char **out,
                             size_t cap, size_t *n)
{
	for (uint32_t i = 0; i < s->n_victims; i++) {
		const struct tj_victim *v = &s->victims[i];
		if (strcmp(field, "role") == 0)
			tj__push(out, cap, n, v->role);
		else if (strcmp(field, "gender") == 0)
			tj__push(out, cap, n, v->gender);
		else if (strcmp(field, "age_band") == 0)
			tj__push(out, cap, n, v->age_band);
		else if (strcmp(field, "unit") == 0)
			tj__push(out, cap, n, v->unit);
		else if (strcmp(field, "trait") == 0)
			tj__push_list(out, cap, n, &v->traits);
		else if (strcmp(field, "cause") == 0)
			tj__push_list(out, cap, n, &v->defended_causes);
		else
			return false;
	}
	return strcmp(field, "role") == 0 || strcmp(field, "gender") == 0 || strcmp(field, "age_band") == 0 ||
	       strcmp(field, "unit") == 0 || strcmp(field, "trait") == 0 || strcmp(field, "cause") == 0;
}

static bool tj__aggressor_codes(const struct tj_incident_summary *s, const char *field, const char **out,
                                size_t cap, size_t *n)
{
	size_t off;

	if (strcmp(field, "aggressor_category") == 0)
		off = offsetof(struct tj_aggressor, category);
	else if (strcmp(field, "aggressor") == 0)
		off = offsetof(struct tj_aggressor, type);
	else if (strcmp(field, "aggressor_level") == 0)
		off = offsetof(struct tj_aggressor, level);
	else if (strcmp(field, "involvement") == 0)
		off = offsetof(struct tj_aggressor, involvement);
	else
		return false;
	for (uint32_t i = 0; i < s->n_aggressors; i++)
		tj__push(out, cap, n, (const char *)&s->aggressors[i] + off);
	return true;
}

size_t tj_summary_codes(const struct tj_incident_summary *s, const char *field, const char **out, size_t cap)
{
	size_t n = 0;

	if (strcmp(field, "state") == 0)
		tj__push(out, cap, &n, s->location.state);
	else if (strcmp(field, "municipality") == 0)
		tj__push(out, cap, &n, s->location.municipality);
	else if (strcmp(field, "residence_state") == 0)
		tj__push(out, cap, &n, s->residence.state);
	else if (strcmp(field, "place_type") == 0)
		tj__push(out, cap, &n, s->location.place_type);
	else if (strcmp(field, "precision") == 0)
		tj__push(out, cap, &n, s->occurred.precision);
	else if (strcmp(field, "act") == 0)
		for (uint32_t i = 0; i < s->n_acts; i++)
			tj__push(out, cap, &n, s->acts[i].type);
	else if (strcmp(field, "protection") == 0)
		tj__push(out, cap, &n, s->protection.status);
	else if (strcmp(field, "risk_level") == 0)
		tj__push(out, cap, &n, s->protection.risk_level);
	else if (strcmp(field, "measure") == 0)
		tj__push_list(out, cap, &n, &s->protection.measures);
	else if (strcmp(field, "failed") == 0)
		tj__push_list(out, cap, &n, &s->protection.failed);
	else if (strcmp(field, "source") == 0)
		tj__push(out, cap, &n, s->source.type);
	else if (strcmp(field, "reliability") == 0)
		tj__push(out, cap, &n, s->source.reliability);
	else if (strcmp(field, "verification") == 0)
		tj__push(out, cap, &n, s->verification);
	else if (strcmp(field, "severity") == 0)
		tj__push(out, cap, &n, tj__sev_codes[s->severity <= 5 ? s->severity : 0]);
	else if (!tj__victim_codes(s, field, out, cap, &n))
		(void)tj__aggressor_codes(s, field, out, cap, &n);
	return n;
}

static bool tj__term_matches(const struct tj_query_term *term, const struct tj_incident_summary *s)
{
	const char *vals[TJ_QUERY_VALUES_MAX];
	size_t n = tj_summary_codes(s, term->field, vals, TJ_QUERY_VALUES_MAX);

	for (size_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < term->n_codes; j++)
			if (strcmp(vals[i], term->codes[j]) == 0)
				return true;
	return false;
}

bool tj_query_matches(const struct tj_query *q, const struct tj_incident_summary *s)
{
	int64_t day = tj_date_days(&s->occurred.start);

	if (q->has_since && day < q->since_day)
		return false;
	if (q->has_until && day > q->until_day)
		return false;
	for (uint32_t i = 0; i < q->n_terms; i++)
		if (!tj__term_matches(&q->terms[i], s))
			return false;
	return true;
}

void tj_query_key(const struct tj_node *n, const char *field, const char *code, uint8_t key[32])
{
	crypto_generichash_state st;
	uint8_t qkey[32];

	/* A key of its own, so index keys and victim_idx keys never coincide. */
	crypto_generichash(qkey, 32, (const uint8_t *)TJ__QKEY_CONTEXT, strlen(TJ__QKEY_CONTEXT),
	                   n->blind_key, 32);
	crypto_generichash_init(&st, qkey, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)field,
	                          strlen(field) + 1); /* with its NUL: a separator */
	crypto_generichash_update(&st, (const uint8_t *)code, strlen(code));
	crypto_generichash_final(&st, key, 32);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(qkey, sizeof(qkey));
}

static uint64_t tj__day_u(int64_t day)
{
	return day < 0 ? 0 : (uint64_t)day;
}

int tj_query_index_add(struct tj_txn *t, const uint8_t key[32], int64_t day, const uint8_t id[32])
{
	uint8_t val[40];
	MDB_val k = {32, (void *)key}, v = {sizeof(val), val};
	MDB_dbi dbi;
	int rc;

	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	tj_store_be64(tj__day_u(day), val);
	memcpy(val + 8, id, 32);
	rc = mdb_put(t->txn, dbi, &k, &v, MDB_NODUPDATA);
	if (rc == MDB_KEYEXIST)
		return 0; /* indexed already (a record seen twice is indexed once) */
	if (rc == MDB_MAP_FULL)
		return TJ_ESTOREFULL;
	return rc == 0 ? 0 : TJ_ESTORE;
}

int tj_query_index_put(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                       const uint8_t id[32])
{
	const char *vals[TJ_QUERY_VALUES_MAX];
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t key[32];
	size_t nf, nv;
	const struct tj_query_field *f = tj_query_fields(&nf);
	int rc;

	tj_query_key(n, "all", "", key);
	if ((rc = tj_query_index_add(t, key, day, id)) != 0)
		return rc;
	for (size_t i = 0; i < nf; i++) {
		nv = tj_summary_codes(s, f[i].name, vals, TJ_QUERY_VALUES_MAX);
		for (size_t j = 0; j < nv; j++) {
			/* Repeated codes (two acts of one type) hit MDB_KEYEXIST: harmless. */
			tj_query_key(n, f[i].name, vals[j], key);
			if ((rc = tj_query_index_add(t, key, day, id)) != 0)
				return rc;
		}
	}
	return 0;
}

int tj_query_index_ids(struct tj_txn *t, const uint8_t key[32], int64_t day_lo, int64_t day_hi,
                       uint8_t (*ids)[32], int64_t *days, size_t cap, size_t *n)
{
	uint8_t seek[40] = {0};
	MDB_val k = {32, (void *)key}, v = {sizeof(seek), seek};
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	*n = 0;
	if (day_hi < day_lo)
		return 0;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	tj_store_be64(tj__day_u(day_lo), seek);
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	while (rc == 0) {
		uint64_t d;
		if (v.mv_size != 40) {
			rc = TJ_ESTORE;
			goto out;
		}
		d = tj_store_rd64(v.mv_data);
		if (d > tj__day_u(day_hi))
			break;
		if (*n == cap) {
			rc = TJ_ELIMIT;
			goto out;
		}
		memcpy(ids[*n], (const uint8_t *)v.mv_data + 8, 32);
		if (days != NULL)
			days[*n] = (int64_t)d;
		(*n)++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
out:
	mdb_cursor_close(cur);
	return rc;
}

int tj_query_open(struct tj_node *n, struct tj_txn *t, const uint8_t id[32], struct tj_incident_summary *s,
                  uint8_t author[32], uint64_t *recorded_ms)
{
	const uint8_t *enc;
	size_t len;
	int rc;

	if ((rc = tj_store_get(t, id, &enc, &len)) != 0)
		return rc;
	return tj_query_open_enc(n, enc, len, s, author, recorded_ms);
}

int tj_query_open_enc(struct tj_node *n, const uint8_t *enc, size_t len, struct tj_incident_summary *s,
                      uint8_t author[32], uint64_t *recorded_ms)
{
	struct tj_record rec;
	uint8_t *plain = NULL;
	size_t plen = 0, cap;
	int rc;

	if (tj_record_decode(enc, len, &rec) != 0)
		return TJ_ESTORE;
	if (rec.kind != TJ_KIND_INCIDENT)
		return TJ_ENOTFOUND;
	cap = rec.ciphertext_len > 0 ? rec.ciphertext_len : 1;
	if ((plain = malloc(cap)) == NULL)
		return -ENOMEM;
	/* The store holds only records that passed tj_record_verify at ingest. */
	rc = tj_record_open(enc, &rec, n->u->id, tj_keyring_lookup, n->keyring, plain, cap, &plen);
	if (rc == 0 && (rc = tj_incident_summary_decode(plain, plen, s)) != 0)
		rc = TJ_ENOTFOUND; /* a member's record that is no valid summary: not an incident to us */
	if (rc == 0) {
		if (author != NULL)
			memcpy(author, rec.author, 32);
		if (recorded_ms != NULL)
			*recorded_ms = rec.ts_ms;
	}
	sodium_memzero(plain, cap);
	free(plain);
	return rc;
}

/* ---- removal (retraction) ----------------------------------------------------- */

int tj_query_index_remove(struct tj_txn *t, const uint8_t key[32], int64_t day, const uint8_t id[32])
{
	uint8_t seek[40];
	MDB_val k = {32, (void *)key}, v = {sizeof(seek), seek};
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	int rc;

	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	tj_store_be64(tj__day_u(day), seek);
	memcpy(seek + 8, id, 32);
	/* The first value >= day || id: this entry when present, whatever payload follows. */
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc == 0 && v.mv_size >= 40 && memcmp(v.mv_data, seek, 40) == 0)
		rc = mdb_cursor_del(cur, 0);
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : TJ_ESTORE;
}

int tj_query_index_del(struct tj_node *n, struct tj_txn *t, const struct tj_incident_summary *s,
                       const uint8_t id[32])
{
	const char *vals[TJ_QUERY_VALUES_MAX];
	int64_t day = tj_date_days(&s->occurred.start);
	uint8_t key[32];
	size_t nf, nv;
	const struct tj_query_field *f = tj_query_fields(&nf);
	int rc;

	tj_query_key(n, "all", "", key);
	if ((rc = tj_query_index_remove(t, key, day, id)) != 0)
		return rc;
	for (size_t i = 0; i < nf; i++) {
		nv = tj_summary_codes(s, f[i].name, vals, TJ_QUERY_VALUES_MAX);
		for (size_t j = 0; j < nv; j++) {
			tj_query_key(n, f[i].name, vals[j], key);
			if ((rc = tj_query_index_remove(t, key, day, id)) != 0)
				return rc;
		}
	}
	return 0;
}

/* One entry to remove: its key, day and id. */
struct tj__gone {
	uint8_t key[32];
	int64_t day;
	uint8_t id[32];
};

/* Walks the index (read), collecting the entries of tombstoned incidents into *g. */
static int tj__purge_collect(struct tj_txn *t, MDB_dbi dbi, struct tj__gone **g, size_t *n, size_t *cap)
{
	uint8_t last[32];
	bool have_last = false, last_gone = false;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	if (mdb_cursor_open(t->txn, dbi, &cur) != 0)
		return TJ_ESTORE;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;
		int tr;
		if (v.mv_size < 40 || k.mv_size != 32)
			continue;
		if (!have_last || memcmp(last, p + 8, 32) != 0) {
			memcpy(last, p + 8, 32);
			have_last = true;
			if ((tr = tj_store_tombstoned(t, last)) != 0 && tr != TJ_ENOTFOUND) {
				rc = tr;
				break;
			}
			last_gone = tr == 0;
		}
		if (!last_gone)
			continue;
		if (*n == *cap) {
			size_t nc = *cap == 0 ? 256 : *cap * 2;
			struct tj__gone *ng = realloc(*g, nc * sizeof(*ng));
			if (ng == NULL) {
				rc = -ENOMEM;
				break;
			}
			*g = ng;
			*cap = nc;
		}
		memcpy((*g)[*n].key, k.mv_data, 32);
		(*g)[*n].day = (int64_t)tj_store_rd64(p);
		memcpy((*g)[(*n)++].id, p + 8, 32);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : (rc < 0 ? rc : TJ_ESTORE);
}

int tj_query_index_purge_tombstoned(struct tj_txn *t, size_t *n_removed)
{
	struct tj__gone *g = NULL;
	size_t n = 0, cap = 0;
	MDB_dbi dbi;
	int rc;

	*n_removed = 0;
	if ((rc = tj_store_ext_dbi(t->st, TJ_QUERY_DBI_NAME, &dbi)) != 0)
		return rc;
	rc = tj__purge_collect(t, dbi, &g, &n, &cap);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tj_query_index_remove(t, g[i].key, g[i].day, g[i].id);
	if (rc == 0)
		*n_removed = n;
	free(g);
	return rc;
}

int tj_query_term_parse(const char *field, const char *list, struct tj_query_term *term,
                        char bad[TJ_CODE_MAX])
{
	const struct tj_query_field *f = tj_query_field_find(field);
	const char *p = list;

	memset(term, 0, sizeof(*term));
	bad[0] = '\0';
	if (f == NULL || strlen(field) >= sizeof(term->field)) {
		snprintf(bad, TJ_CODE_MAX, "%s", field);
		return TJ_ESCHEMA;
	}
	snprintf(term->field, sizeof(term->field), "%s", field);
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (len == 0 || len >= TJ_CODE_MAX || term->n_codes == TJ_QUERY_CODES_MAX) {
			snprintf(bad, TJ_CODE_MAX, "%.*s",
			         (int)(len < TJ_CODE_MAX - 1 ? len : TJ_CODE_MAX - 1), p);
			return TJ_ESCHEMA;
		}
		memcpy(term->codes[term->n_codes], p, len);
		term->codes[term->n_codes][len] = '\0';
		if (!tj_query_code_valid(f, term->codes[term->n_codes])) {
			snprintf(bad, TJ_CODE_MAX, "%s", term->codes[term->n_codes]);
			return TJ_ESCHEMA;
		}
		term->n_codes++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (term->n_codes == 0)
		return TJ_ESCHEMA;
	return 0;
}
