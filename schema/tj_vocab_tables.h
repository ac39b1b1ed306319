/*
 * Internal: the tables generated at build time by schema/gen/tj_gen_tables.c
 * (see schema/gen_tables.cmake). Only tj_vocab.c reads them; everyone else
 * goes through tj_vocab.h.
 *
 * tj__vocab_table is in vocab.tsv order and ends with an entry whose
 * n_entries is 0. The INEGI tables are sorted by code (the generator refuses
 * unsorted input), so lookups can binary-search them.
 */
#ifndef TJ_VOCAB_TABLES_H
#define TJ_VOCAB_TABLES_H

#include <stddef.h>

#include "tj_vocab.h"

extern const struct tj_vocab tj__vocab_table[];
extern const size_t tj__vocab_table_count;
extern const struct tj_state_info tj__inegi_state_table[];
extern const size_t tj__inegi_state_count;
extern const struct tj_municipality_info tj__inegi_muni_table[];
extern const size_t tj__inegi_muni_count;

#endif
