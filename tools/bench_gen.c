/*
 * The benchmark's data: the demo incidents (the .json files of tools/demo) with varied
 * fields, encoded as the canonical bodies the node seals, and records sealed
 * by several authors with correct seq/prev chains. Nothing here is timed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <sodium.h>

#include "bench.h"
#include "tj_incident.h"
#include "tj_ingest.h"
#include "tj_vocab.h"

#define BENCH_DEMO_MAX 64
#define BENCH_POOL_BYTES (24u * 1024u)
#define BENCH_JSON_MAX_BYTES (64u * 1024u)
/* Summary + case record of one incident: about 2 KiB, so ~1 KiB a record. */
#define BENCH_PAIR_TARGET_BYTES 2048u
#define BENCH_ENVELOPE_GUESS_BYTES 360u
#define BENCH_DAY_MS (86400ull * 1000ull)
#define BENCH_MUNI_MAX 3000 /* Mexico has 2,475 municipalities */
#define BENCH_MUNI_PROBE 600 /* INEGI numbers them from 001 within a state; Oaxaca has 570 */
#define BENCH_FIRST_YEAR 2016 /* ten years of a network's documentation */
#define BENCH_YEARS 10

struct bench_corpus {
	size_t n;
	char *path[BENCH_DEMO_MAX];
	struct tj_incident_summary *sum[BENCH_DEMO_MAX];
	struct tj_incident_case *kase[BENCH_DEMO_MAX];
	char *pool; /* every demo narrative, repeated: text for varied narratives */
	size_t pool_len;
	struct tj_incident_summary *scratch;
	const struct tj_incident_case *with_case; /* for incidents whose demo has no case face */
	size_t n_muni;
	char muni[BENCH_MUNI_MAX][6]; /* every municipality of the catalogue: where incidents happen */
};

static char *bench__slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(BENCH_JSON_MAX_BYTES + 1);
	size_t n = 0;

	if (f == NULL || buf == NULL) {
		if (f != NULL)
			fclose(f);
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, BENCH_JSON_MAX_BYTES, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int bench__cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void bench__load_text(struct bench_corpus *c, const char *path, const char *json, size_t len)
{
	struct tj_incident_summary *s = NULL;
	struct tj_incident_case *k = NULL;
	struct tj_verr verr;
	int rc;

	if (c->n == BENCH_DEMO_MAX)
		return;
	rc = tj_incident_from_json(json, len, TJ_LANG_EN, tj_now_ms(), &s, &k, &verr);
	if (rc != 0) {
		fprintf(stderr, "tejido-bench: skipping an incident of %s: %s\n", path, verr.message);
		tj_incident_summary_free(s);
		tj_incident_case_free(k);
		return;
	}
	c->path[c->n] = strdup(path);
	c->sum[c->n] = s;
	c->kase[c->n] = k;
	c->n++;
}

/* A demo file holds one incident object or an array of them (as `tejido add --json` takes). */
static void bench__load_one(struct bench_corpus *c, const char *path)
{
	size_t len = 0;
	char *json = bench__slurp(path, &len);
	cJSON *doc, *el;

	if (json == NULL)
		bench_die("cannot read %s", path);
	doc = cJSON_ParseWithLength(json, len);
	if (cJSON_IsArray(doc)) {
		cJSON_ArrayForEach(el, doc) {
			char *one = cJSON_PrintUnformatted(el);
			if (one != NULL)
				bench__load_text(c, path, one, strlen(one));
			free(one);
		}
	} else {
		bench__load_text(c, path, json, len);
	}
	cJSON_Delete(doc);
	free(json);
}

static void bench__make_pool(struct bench_corpus *c)
{
	size_t off = 0;

	c->pool = malloc(BENCH_POOL_BYTES + 1);
	if (c->pool == NULL)
		bench_die("out of memory");
	while (off < BENCH_POOL_BYTES) {
		for (size_t i = 0; i < c->n && off < BENCH_POOL_BYTES; i++) {
			size_t l;
			if (c->kase[i] == NULL || c->kase[i]->narrative == NULL)
				continue;
			l = strlen(c->kase[i]->narrative);
			if (l + 1 > BENCH_POOL_BYTES - off)
				l = BENCH_POOL_BYTES - off - 1;
			memcpy(c->pool + off, c->kase[i]->narrative, l);
			off += l;
			c->pool[off++] = ' ';
		}
	}
	c->pool_len = off;
	c->pool[off] = '\0';
}

/* The catalogue, probed by code: incidents spread over the whole country, as a network's would. */
static void bench__municipalities(struct bench_corpus *c)
{
	size_t n_states = 0;
	const struct tj_state_info *st = tj_inegi_states(&n_states);

	for (size_t i = 0; i < n_states; i++) {
		for (unsigned m = 1; m < BENCH_MUNI_PROBE && c->n_muni < BENCH_MUNI_MAX; m++) {
			char code[8];
			snprintf(code, sizeof(code), "%.2s%03u", st[i].code, m);
			if (tj_inegi_municipality(code) != NULL)
				memcpy(c->muni[c->n_muni++], code, 6);
		}
	}
}

struct bench_corpus *bench_corpus_load(const char *dir)
{
	struct bench_corpus *c = calloc(1, sizeof(*c));
	char *names[BENCH_DEMO_MAX];
	size_t n_names = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (c == NULL || d == NULL)
		bench_die("cannot open the demo incidents in %s (use --demo DIR)", dir);
	while ((e = readdir(d)) != NULL && n_names < BENCH_DEMO_MAX) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			names[n_names++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n_names, sizeof(names[0]), bench__cmp_str);
	for (size_t i = 0; i < n_names; i++) {
		char path[BENCH_PATH_MAX];
		bench_path(path, dir, names[i]);
		bench__load_one(c, path);
		free(names[i]);
	}
	for (size_t i = 0; i < c->n && c->with_case == NULL; i++)
		if (c->kase[i] != NULL && c->kase[i]->narrative != NULL)
			c->with_case = c->kase[i];
	if (c->with_case == NULL)
		bench_die("no incident with a case narrative in %s", dir);
	bench__make_pool(c);
	bench__municipalities(c);
	c->scratch = tj_incident_summary_new();
	if (c->scratch == NULL)
		bench_die("out of memory");
	return c;
}

void bench_corpus_free(struct bench_corpus *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->path[i]);
		tj_incident_summary_free(c->sum[i]);
		tj_incident_case_free(c->kase[i]);
	}
	tj_incident_summary_free(c->scratch);
	free(c->pool);
	free(c);
}

size_t bench_corpus_count(const struct bench_corpus *c)
{
	return c->n;
}

const char *bench_corpus_path(const struct bench_corpus *c, size_t i)
{
	return c->path[i % c->n];
}

static const char *bench__pick(const char *field, uint64_t *rs)
{
	const struct tj_vocab *v = tj_vocab_find(field);

	if (v == NULL || v->n_entries == 0)
		return NULL;
	return v->entries[bench_rand(rs, (uint32_t)v->n_entries)].code;
}

static void bench__set_code(char dst[TJ_CODE_MAX], const char *code)
{
	if (code != NULL)
		snprintf(dst, TJ_CODE_MAX, "%s", code);
}

/* Moves the incident to a random municipality; a residence in the same place moves with it. */
static void bench__move(const struct bench_corpus *c, struct tj_incident_summary *s, uint64_t *rs)
{
	const char *m;
	bool with = strcmp(s->residence.state, s->location.state) == 0 &&
		    strcmp(s->residence.municipality, s->location.municipality) == 0;

	if (c->n_muni == 0)
		return;
	m = c->muni[bench_rand(rs, (uint32_t)c->n_muni)];
	memcpy(s->location.state, m, 2);
	s->location.state[2] = '\0';
	memcpy(s->location.municipality, m, 6);
	if (with) {
		memcpy(s->residence.state, s->location.state, 3);
		memcpy(s->residence.municipality, s->location.municipality, 6);
	}
}

/* Varies the fields a documentation team would: date, place, who, how sure. */
static void bench__vary(const struct bench_corpus *c, struct tj_incident_summary *s, uint64_t i, uint64_t *rs)
{
	bench__move(c, s, rs);
	if (strcmp(s->occurred.precision, "day") == 0) {
		s->occurred.start.year = BENCH_FIRST_YEAR + (int32_t)bench_rand(rs, BENCH_YEARS);
		s->occurred.start.month = (uint8_t)(1 + bench_rand(rs, 12));
		s->occurred.start.day = (uint8_t)(1 + bench_rand(rs, 28));
	}
	for (uint32_t v = 0; v < s->n_victims; v++) {
		/* A few thousand people, so some come back (the 90-day severity modifier). */
		snprintf(s->victims[v].ref, TJ_REF_MAX, "b-%u-%u", bench_rand(rs, 4000), v);
		if (strcmp(s->victims[v].unit, "individual") != 0)
			continue;
		bench__set_code(s->victims[v].gender, bench__pick("gender", rs));
		bench__set_code(s->victims[v].age_band, bench__pick("age_band", rs));
	}
	bench__set_code(s->verification, bench__pick("verification", rs));
	(void)i;
}

static void bench__summary(const struct bench_corpus *c, uint64_t i, uint64_t *rs, uint8_t *out, size_t *len)
{
	size_t d = (size_t)(i % c->n);
	struct tj_incident_summary *s = c->scratch;
	struct tj_verr verr;

	memcpy(s, c->sum[d], sizeof(*s));
	bench__vary(c, s, i, rs);
	s->severity_explicit = false;
	s->severity = tj_incident_compute_severity(s, false);
	if (tj_incident_validate(s, NULL, TJ_LANG_EN, tj_now_ms(), &verr) != 0) {
		if (getenv("TJ_BENCH_DEBUG") != NULL)
			fprintf(stderr, "variation refused: %s\n", verr.message);
		/* A variation this vocabulary forbids (e.g. a gender for a unit): keep the demo's own. */
		memcpy(s, c->sum[d], sizeof(*s));
	}
	if (tj_incident_summary_encode(s, out, TJ_INC_BODY_MAX_BYTES, len) != 0)
		bench_die("cannot encode the summary of %s", c->path[d]);
}

/* Cuts at most max bytes of text at a UTF-8 boundary. */
static size_t bench__utf8_cut(const char *p, size_t max)
{
	while (max > 0 && ((unsigned char)p[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static void bench__case(const struct bench_corpus *c, uint64_t i, uint64_t *rs, size_t target, uint8_t *out,
			size_t *len)
{
	static const uint8_t zero[32];
	struct tj_incident_case k = c->kase[i % c->n] != NULL ? *c->kase[i % c->n] : *c->with_case;
	char names[TJ_INC_NAMES_MAX][48];
	char narrative[TJ_INC_TEXT_MAX_BYTES + 1];
	size_t base = 0, want, start;

	for (uint32_t v = 0; v < k.n_names; v++) {
		snprintf(names[v], sizeof(names[v]), "Persona Ficticia %u", bench_rand(rs, 100000));
		k.victim_names[v] = names[v];
	}
	k.narrative = NULL;
	if (tj_incident_case_encode(&k, zero, out, TJ_INC_BODY_MAX_BYTES, &base) != 0)
		bench_die("cannot encode a case body");
	want = target > base + 8 ? target - base - 3 : 16;
	if (want > TJ_INC_TEXT_MAX_BYTES)
		want = TJ_INC_TEXT_MAX_BYTES;
	if (want > c->pool_len / 2)
		want = c->pool_len / 2;
	start = bench__utf8_cut(c->pool, bench_rand(rs, (uint32_t)(c->pool_len / 2)));
	want = bench__utf8_cut(c->pool + start, want);
	memcpy(narrative, c->pool + start, want);
	narrative[want] = '\0';
	k.narrative = narrative;
	if (tj_incident_case_encode(&k, zero, out, TJ_INC_BODY_MAX_BYTES, len) != 0)
		bench_die("cannot encode a case body");
}

void bench_incident(const struct bench_corpus *c, uint64_t i, size_t case_target, uint8_t *sum, size_t *sum_len,
		    uint8_t *kase, size_t *case_len)
{
	uint64_t rs = i * 0x9E3779B97F4A7C15ull + 1;

	bench__summary(c, i, &rs, sum, sum_len);
	*case_len = 0;
	if (case_target > 0)
		bench__case(c, i, &rs, case_target, kase, case_len);
}

struct bench_net *bench_net_new(uint32_t n_authors)
{
	struct bench_net *net = calloc(1, sizeof(*net));

	if (net == NULL || tj_crypto_init() != 0)
		bench_die("cannot start libsodium");
	randombytes_buf(net->network_id, 32);
	net->epoch.key = sodium_malloc(32);
	net->authors = calloc(n_authors, sizeof(*net->authors));
	net->seq = calloc(n_authors, sizeof(*net->seq));
	net->head = calloc(n_authors, sizeof(*net->head));
	if (net->epoch.key == NULL || net->authors == NULL || net->seq == NULL || net->head == NULL)
		bench_die("out of memory");
	randombytes_buf(net->epoch.key, 32);
	tj_sym_key_id(net->epoch.key, net->epoch.id);
	net->n_authors = n_authors;
	for (uint32_t a = 0; a < n_authors; a++)
		if (tj_identity_generate(&net->authors[a]) != 0)
			bench_die("cannot make an identity");
	return net;
}

void bench_net_free(struct bench_net *net)
{
	if (net == NULL)
		return;
	for (uint32_t a = 0; a < net->n_authors; a++)
		tj_identity_free(net->authors[a]);
	sodium_free(net->epoch.key);
	free(net->authors);
	free(net->seq);
	free(net->head);
	free(net);
}

/* Seals one record as author a's next and appends it to f. */
static size_t bench__seal_write(struct bench_net *net, uint32_t a, struct tj_seal_in *in, FILE *f,
				uint8_t id[32])
{
	uint8_t rec[BENCH_REC_MAX_BYTES];
	uint8_t hdr[4];
	size_t len = 0;
	int rc;

	memcpy(in->network_id, net->network_id, 32);
	in->seq = net->seq[a];
	in->has_prev = net->seq[a] > 0;
	memcpy(in->prev, net->head[a], 32);
	if ((rc = tj_record_seal(in, net->authors[a], rec, sizeof(rec), &len, id)) != 0)
		bench_die("tj_record_seal: %s", tj_strerror(rc));
	net->seq[a]++;
	memcpy(net->head[a], id, 32);
	for (int b = 0; b < 4; b++)
		hdr[b] = (uint8_t)(len >> (8 * b));
	if (fwrite(hdr, 1, 4, f) != 4 || fwrite(rec, 1, len, f) != len)
		bench_die("cannot write the records file");
	return len;
}

size_t bench_case_target(size_t sum_len, uint64_t *rs)
{
	size_t sum_rec = sum_len + BENCH_ENVELOPE_GUESS_BYTES;
	size_t t = BENCH_PAIR_TARGET_BYTES - sum_rec - BENCH_ENVELOPE_GUESS_BYTES;

	/* +-40%: some cases are a line, some a page. */
	return t * (60 + bench_rand(rs, 81)) / 100;
}

uint64_t bench_gen_records(const struct bench_corpus *c, struct bench_net *net, uint64_t n, const char *path)
{
	uint8_t *sum = malloc(TJ_INC_BODY_MAX_BYTES), *kase = malloc(TJ_INC_BODY_MAX_BYTES);
	uint64_t now = tj_now_ms(), total = 0, rs = 42;
	FILE *f = fopen(path, "wb");

	if (f == NULL || sum == NULL || kase == NULL)
		bench_die("cannot create %s", path);
	for (uint64_t k = 0, made = 0; made < n; k++) {
		uint32_t a = (uint32_t)(k % net->n_authors);
		struct tj_seal_in in;
		size_t sl = 0, cl = 0;
		uint8_t sid[32], cid[32];

		bench_incident(c, k, 0, sum, &sl, kase, &cl);
		bench_incident(c, k, bench_case_target(sl, &rs), sum, &sl, kase, &cl);
		memset(&in, 0, sizeof(in));
		in.ts_ms = now - (uint64_t)bench_rand(&rs, 365) * BENCH_DAY_MS - bench_rand(&rs, 86400000);
		in.kind = TJ_KIND_INCIDENT;
		in.audience.type = TJ_AUD_NETWORK;
		in.audience.has_ref = true;
		memcpy(in.audience.ref, net->epoch.id, 32);
		in.epoch = &net->epoch;
		in.body = sum;
		in.body_len = sl;
		total += bench__seal_write(net, a, &in, f, sid);
		if (++made == n)
			break;
		/* The case body names its summary: bytes 3..35 after the array and bin headers. */
		if (cl > 35 && kase[1] == 0xc4 && kase[2] == 32)
			memcpy(kase + 3, sid, 32);
		in.kind = TJ_KIND_CASE;
		in.audience.type = TJ_AUD_NAMED;
		memcpy(in.audience.ref, sid, 32);
		in.epoch = NULL;
		in.readers = (const uint8_t(*)[32])net->authors[a]->pk;
		in.n_readers = 1;
		in.body = kase;
		in.body_len = cl;
		total += bench__seal_write(net, a, &in, f, cid);
		made++;
	}
	if (fclose(f) != 0)
		bench_die("cannot write %s", path);
	sodium_memzero(kase, TJ_INC_BODY_MAX_BYTES);
	free(sum);
	free(kase);
	return total;
}
