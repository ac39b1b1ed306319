/*
 * Vocabularies and the INEGI catalogue, as compiled from schema/vocab.tsv and
 * schema/inegi-municipios.tsv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tj_incident.h"
#include "tj_vocab.h"

/* Strict UTF-8 without control characters. */
static bool utf8_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t need = *p < 0x80             ? 0
		              : (*p & 0xe0) == 0xc0 ? 1
		              : (*p & 0xf0) == 0xe0 ? 2
		              : (*p & 0xf8) == 0xf0 ? 3
		                                    : 9;
		if (need == 9 || (need == 0 && *p < 0x20))
			return false;
		for (size_t i = 1; i <= need; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += need + 1;
	}
	return true;
}

static void test_every_vocab_is_complete(void **state)
{
	size_t n = 0, codes = 0;
	const struct tj_vocab *all = tj_vocab_all(&n);

	(void)state;
	assert_true(n >= 20);
	assert_int_equal(all[n].n_entries, 0); /* terminator */
	assert_null(all[n].field);
	for (size_t i = 0; i < n; i++) {
		const struct tj_vocab *v = &all[i];
		assert_true(v->n_entries > 0);
		assert_true(v->label_es[0] && v->label_en[0]);
		assert_ptr_equal(tj_vocab_find(v->field), v);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(all[j].field, v->field);
		for (size_t k = 0; k < v->n_entries; k++) {
			const struct tj_vocab_entry *e = &v->entries[k];
			size_t len = strlen(e->code);
			assert_true(len > 0 && len < TJ_CODE_MAX);
			assert_int_equal(strspn(e->code, "abcdefghijklmnopqrstuvwxyz0123456789_"), len);
			assert_true(e->label_es[0] != '\0');
			assert_true(e->label_en[0] != '\0');
			assert_true(utf8_text(e->label_es));
			assert_true(utf8_text(e->label_en));
			for (size_t m = 0; m < k; m++)
				assert_string_not_equal(v->entries[m].code, e->code);
			assert_ptr_equal(tj_vocab_lookup(v->field, e->code), e);
			if (strcmp(v->field, "act_type"))
				assert_int_equal(e->severity, 0);
			else
				assert_true(e->severity >= 1 && e->severity <= 5);
			codes++;
		}
	}
	print_message("%zu vocabularies, %zu codes\n", n, codes);
}

static void test_required_fields_exist(void **state)
{
	static const char *const fields[] = {
	    "precision",
	    "place_type",
	    "unit",
	    "role",
	    "gender",
	    "age_band",
	    "trait",
	    "defended_cause",
	    "aggressor_category",
	    "aggressor_type",
	    "aggressor_level",
	    "involvement",
	    "act_type",
	    "protection_status",
	    "risk_level",
	    "protection_measure",
	    "source_type",
	    "reliability",
	    "verification",
	    "consent",
	};

	(void)state;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		assert_non_null(tj_vocab_find(fields[i]));
	assert_null(tj_vocab_find("no_such_field"));
	assert_null(tj_vocab_find(NULL));
	assert_int_equal(TJ_VOCAB_VERSION_CURRENT, 1);
}

/* DESIGN.md's severity table, code by code. */
static void test_act_severities(void **state)
{
	static const struct {
		const char *code;
		uint8_t sev;
	} table[] = {
	    {"killing", 5},
	    {"disappearance", 5},
	    {"attempted_killing", 5},
	    {"torture", 5},
	    {"sexual_violence", 5},
	    {"abduction", 5},
	    {"physical_assault", 4},
	    {"arbitrary_detention", 4},
	    {"raid", 4},
	    {"death_threat", 4},
	    {"forced_displacement", 4},
	    {"threat", 3},
	    {"surveillance", 3},
	    {"theft_equipment_data", 3},
	    {"criminalization", 3},
	    {"harassment", 2},
	    {"defamation", 2},
	    {"digital_harassment", 2},
	    {"obstruction_of_work", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct tj_vocab_entry *e = tj_vocab_lookup("act_type", table[i].code);
		assert_non_null(e);
		assert_int_equal(e->severity, table[i].sev);
	}
	assert_int_equal(tj_vocab_find("act_type")->n_entries, sizeof table / sizeof table[0]);
}

static void test_codes_named_in_the_design(void **state)
{
	static const char *const pairs[][2] = {
	    {"precision", "day"},
	    {"precision", "month"},
	    {"precision", "year"},
	    {"precision", "range"},
	    {"precision", "estimate"},
	    {"unit", "individual"},
	    {"unit", "family"},
	    {"unit", "organization"},
	    {"unit", "community"},
	    {"unit", "media_outlet"},
	    {"gender", "woman"},
	    {"gender", "man"},
	    {"gender", "trans_woman"},
	    {"gender", "trans_man"},
	    {"gender", "non_binary"},
	    {"gender", "other"},
	    {"gender", "unknown"},
	    {"age_band", "0_17"},
	    {"age_band", "18_29"},
	    {"age_band", "30_44"},
	    {"age_band", "45_59"},
	    {"age_band", "60_plus"},
	    {"age_band", "unknown"},
	    {"trait", "indigenous"},
	    {"trait", "afro_descendant"},
	    {"trait", "disability"},
	    {"trait", "lgbti"},
	    {"trait", "migrant"},
	    {"trait", "displaced"},
	    {"aggressor_category", "state"},
	    {"aggressor_category", "non_state"},
	    {"aggressor_category", "unidentified"},
	    {"aggressor_type", "armed_forces"},
	    {"aggressor_type", "federal_police"},
	    {"aggressor_type", "state_police"},
	    {"aggressor_type", "municipal_police"},
	    {"aggressor_type", "prosecutor_judiciary"},
	    {"aggressor_type", "public_official"},
	    {"aggressor_type", "organized_crime"},
	    {"aggressor_type", "company"},
	    {"aggressor_type", "private_security"},
	    {"aggressor_type", "political_actor"},
	    {"aggressor_type", "community_individual"},
	    {"aggressor_type", "unknown"},
	    {"aggressor_level", "federal"},
	    {"aggressor_level", "state"},
	    {"aggressor_level", "municipal"},
	    {"involvement", "direct"},
	    {"protection_status", "none"},
	    {"protection_status", "federal_mechanism"},
	    {"protection_status", "state_mechanism"},
	    {"protection_status", "iachr_precautionary"},
	    {"protection_status", "civil_society_network"},
	    {"risk_level", "ordinary"},
	    {"risk_level", "extraordinary"},
	    {"protection_measure", "panic_button"},
	    {"protection_measure", "escort"},
	    {"protection_measure", "patrol"},
	    {"verification", "unverified"},
	    {"verification", "partially_verified"},
	    {"verification", "confirmed"},
	    {"consent", "network_statistics"},
	    {"consent", "network_alerts"},
	    {"consent", "publication"},
	    {"role", "defender"},
	    {"role", "journalist"},
	    {"defended_cause", "land_territory"},
	    {"defended_cause", "environment"},
	    {"place_type", "home"},
	    {"source_type", "victim_testimony"},
	    {"reliability", "usually_reliable"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		if (!tj_vocab_lookup(pairs[i][0], pairs[i][1]))
			print_error("missing %s/%s\n", pairs[i][0], pairs[i][1]);
		assert_non_null(tj_vocab_lookup(pairs[i][0], pairs[i][1]));
	}
}

static void test_labels(void **state)
{
	(void)state;
	assert_string_equal(tj_vocab_label("act_type", "killing", TJ_LANG_ES), "Asesinato");
	assert_string_equal(tj_vocab_label("act_type", "killing", TJ_LANG_EN), "Killing");
	assert_string_equal(tj_vocab_label("precision", "day", TJ_LANG_ES), "Día exacto");
	assert_string_equal(tj_vocab_label("protection_status", "iachr_precautionary", TJ_LANG_ES),
	                    "Medidas cautelares de la CIDH");
	assert_string_equal(tj_vocab_label("trait", "indigenous", TJ_LANG_ES), "Indígena");
	/* Unknown: the code itself, never NULL for a non-NULL code. */
	assert_string_equal(tj_vocab_label("gender", "mujer", TJ_LANG_ES), "mujer");
	assert_string_equal(tj_vocab_label("no_field", "x", TJ_LANG_EN), "x");
	assert_null(tj_vocab_lookup("gender", "Woman"));
	assert_null(tj_vocab_lookup("gender", ""));
	assert_null(tj_vocab_lookup("gender", NULL));
	/* The same code in two fields is two entries. */
	assert_ptr_not_equal(tj_vocab_lookup("gender", "unknown"), tj_vocab_lookup("role", "unknown"));
}

static void test_inegi_states(void **state)
{
	size_t n = 0;
	const struct tj_state_info *st = tj_inegi_states(&n);
	uint64_t total = 0, women = 0, men = 0;

	(void)state;
	assert_int_equal(n, 32);
	for (size_t i = 0; i < n; i++) {
		char code[3] = {(char)('0' + (i + 1) / 10), (char)('0' + (i + 1) % 10), '\0'};

		assert_string_equal(st[i].code, code);
		assert_ptr_equal(tj_inegi_state(code), &st[i]);
		assert_int_equal(st[i].pop_women + st[i].pop_men, st[i].pop_total);
		total += st[i].pop_total;
		women += st[i].pop_women;
		men += st[i].pop_men;
	}
	/* 2020 Census: 126,014,024 inhabitants, 64,540,634 women, 61,473,390 men. */
	assert_int_equal(total, 126014024u);
	assert_int_equal(women, 64540634u);
	assert_int_equal(men, 61473390u);
	assert_string_equal(tj_inegi_state("20")->name, "Oaxaca");
	assert_string_equal(tj_inegi_state("20")->abbr, "Oax.");
	assert_int_equal(tj_inegi_state("20")->pop_total, 4132148u);
	assert_string_equal(tj_inegi_state("16")->name, "Michoacán de Ocampo");
	assert_string_equal(TJ_INEGI_CATALOGUE_VERSION, "2025-10");
	assert_null(tj_inegi_state("00"));
	assert_null(tj_inegi_state("33"));
	assert_null(tj_inegi_state("2"));
	assert_null(tj_inegi_state("200"));
	assert_null(tj_inegi_state(" 2"));
	assert_null(tj_inegi_state(""));
	assert_null(tj_inegi_state(NULL));
}

static void test_inegi_municipalities(void **state)
{
	size_t total = 0, oaxaca = 0;
	char code[6] = "00000";

	(void)state;
	/* Every possible five-digit code: exactly the catalogue's 2,478 are found. */
	for (unsigned c = 0; c < 100000; c++) {
		const struct tj_municipality_info *m;
		for (unsigned k = 0, v = c; k < 5; k++, v /= 10)
			code[4 - k] = (char)('0' + v % 10);
		m = tj_inegi_municipality(code);
		if (!m)
			continue;
		assert_string_equal(m->code, code);
		assert_non_null(tj_inegi_state((char[3]){code[0], code[1], '\0'}));
		total++;
		oaxaca += !strncmp(code, "20", 2);
	}
	assert_int_equal(total, 2478);
	assert_int_equal(oaxaca, 570);
	assert_string_equal(tj_inegi_municipality("20067")->name, "Oaxaca de Juárez");
	assert_int_equal(tj_inegi_municipality("20067")->pop_total, 270955u);
	/* Created after the 2020 Census: in the catalogue, without population. */
	assert_string_equal(tj_inegi_municipality("12083")->name, "Ñuu Savi");
	assert_int_equal(tj_inegi_municipality("12083")->pop_total, 0);
	assert_null(tj_inegi_municipality("20571"));
	assert_null(tj_inegi_municipality("2006"));
	assert_null(tj_inegi_municipality("200670"));
	assert_null(tj_inegi_municipality("2006a"));
	assert_null(tj_inegi_municipality(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_vocab_is_complete),
	    cmocka_unit_test(test_required_fields_exist),
	    cmocka_unit_test(test_act_severities),
	    cmocka_unit_test(test_codes_named_in_the_design),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_inegi_states),
	    cmocka_unit_test(test_inegi_municipalities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
