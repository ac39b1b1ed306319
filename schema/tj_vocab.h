/*
 * Vocabularies: the codes each coded field accepts, with a Spanish and an
 * English label. They are data (schema/vocab.tsv), compiled into the binary;
 * TJ_VOCAB_VERSION is carried in every incident body.
 *
 * The INEGI catalogue of states and municipalities (schema/inegi-municipios.tsv,
 * with 2020 population by sex) is compiled in the same way.
 */
#ifndef TJ_VOCAB_H
#define TJ_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tj_error.h"

enum tj_lang { TJ_LANG_EN = 0, TJ_LANG_ES = 1 };

struct tj_vocab_entry {
	const char *code;
	const char *label_es;
	const char *label_en;
	uint8_t severity; /* act types only: 1..5; 0 elsewhere */
};

struct tj_vocab {
	const char *field; /* "gender", "act_type", "aggressor_type", ... */
	const char *label_es;
	const char *label_en;
	const struct tj_vocab_entry *entries;
	size_t n_entries;
};

extern const uint32_t TJ_VOCAB_VERSION_CURRENT;

/* All vocabularies, NULL-terminated by n_entries == 0 at [tj_vocab_count()]. */
const struct tj_vocab *tj_vocab_all(size_t *count);
/* The vocabulary of a field name, or NULL. */
const struct tj_vocab *tj_vocab_find(const char *field);
/* The entry for code in field's vocabulary, or NULL. */
const struct tj_vocab_entry *tj_vocab_lookup(const char *field, const char *code);
/* The label of code in lang, or the code itself when unknown. */
const char *tj_vocab_label(const char *field, const char *code, enum tj_lang lang);

struct tj_state_info {
	char code[3];       /* INEGI 2 digits, "20" */
	const char *name;   /* "Oaxaca" */
	const char *abbr;   /* "Oax." */
	uint64_t pop_total, pop_women, pop_men; /* 2020 Census, summed over municipalities */
};

struct tj_municipality_info {
	char code[6];       /* INEGI 5 digits, "20067" */
	const char *name;
	uint64_t pop_total, pop_women, pop_men; /* 0 for municipalities created after 2020 */
};

extern const char *const TJ_INEGI_CATALOGUE_VERSION; /* "2025-10" */
const struct tj_state_info *tj_inegi_state(const char *code);
const struct tj_municipality_info *tj_inegi_municipality(const char *code);
const struct tj_state_info *tj_inegi_states(size_t *count);

#endif
