/*
 * Vocabulary and INEGI lookups over the tables generated from the data files
 * (schema/vocab.tsv, schema/inegi-municipios.tsv) at build time.
 */
#include "tj_vocab.h"

#include <stdlib.h>
#include <string.h>

#include "tj_vocab_tables.h"

/* Bump when vocab.tsv gains a code; records carry the version they were coded with. */
const uint32_t TJ_VOCAB_VERSION_CURRENT = 1;

const char *const TJ_INEGI_CATALOGUE_VERSION = "2025-10";

const struct tj_vocab *tj_vocab_all(size_t *count)
{
	if (count)
		*count = tj__vocab_table_count;
	return tj__vocab_table;
}

const struct tj_vocab *tj_vocab_find(const char *field)
{
	if (!field)
		return NULL;
	/* About twenty fields: a linear scan is as fast as anything else here. */
	for (size_t i = 0; i < tj__vocab_table_count; i++)
		if (!strcmp(tj__vocab_table[i].field, field))
			return &tj__vocab_table[i];
	return NULL;
}

const struct tj_vocab_entry *tj_vocab_lookup(const char *field, const char *code)
{
	const struct tj_vocab *v = tj_vocab_find(field);

	if (!v || !code)
		return NULL;
	/* Entries stay in display order (the TSV's), and a field has at most a few dozen. */
	for (size_t i = 0; i < v->n_entries; i++)
		if (!strcmp(v->entries[i].code, code))
			return &v->entries[i];
	return NULL;
}

const char *tj_vocab_label(const char *field, const char *code, enum tj_lang lang)
{
	const struct tj_vocab_entry *e = tj_vocab_lookup(field, code);

	if (!e)
		return code;
	return lang == TJ_LANG_ES ? e->label_es : e->label_en;
}

static int tj__state_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tj_state_info *)elem)->code);
}

static int tj__muni_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tj_municipality_info *)elem)->code);
}

/* Only exact digit strings are looked up, so "2" or "20 " never match "20". */
static bool tj__digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[n] == '\0';
}

const struct tj_state_info *tj_inegi_state(const char *code)
{
	if (!code || !tj__digits(code, 2))
		return NULL;
	return bsearch(code, tj__inegi_state_table, tj__inegi_state_count, sizeof tj__inegi_state_table[0],
	               tj__state_cmp);
}

const struct tj_municipality_info *tj_inegi_municipality(const char *code)
{
	if (!code || !tj__digits(code, 5))
		return NULL;
	return bsearch(code, tj__inegi_muni_table, tj__inegi_muni_count, sizeof tj__inegi_muni_table[0],
	               tj__muni_cmp);
}

const struct tj_state_info *tj_inegi_states(size_t *count)
{
	if (count)
		*count = tj__inegi_state_count;
	return tj__inegi_state_table;
}
