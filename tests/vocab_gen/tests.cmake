# The table generator (schema/gen/tj_gen_tables.c) must refuse bad data files
# with a message naming the problem: a bad vocab.tsv or INEGI file has to
# break the build, never ship. Each case runs the generator on one fixture and
# passes only if the expected message appears; the real data must generate.
set(TJ_VG_DIR ${CMAKE_CURRENT_SOURCE_DIR}/vocab_gen)
set(TJ_VG_VOCAB ${CMAKE_SOURCE_DIR}/schema/vocab.tsv)
set(TJ_VG_INEGI ${CMAKE_SOURCE_DIR}/schema/inegi-municipios.tsv)

add_test(NAME vocab_gen/real-data
         COMMAND tj_gen_tables ${TJ_VG_VOCAB} ${TJ_VG_INEGI} ${CMAKE_CURRENT_BINARY_DIR}/vocab_gen_real.c)
set_tests_properties(vocab_gen/real-data PROPERTIES LABELS unit TIMEOUT 60)

# name | vocab fixture | INEGI fixture | expected message (a regular expression)
set(TJ_VG_CASES
    "bad-columns|bad-columns.tsv||expected 5 TAB-separated columns"
    "duplicate-code|duplicate-code.tsv||duplicate code gender/woman"
    "bad-code|bad-code.tsv||code 'Woman' is not snake_case"
    "long-code|long-code.tsv||is not snake_case of at most 31 bytes"
    "act-without-severity|act-without-severity.tsv||severity of act_type/killing"
    "severity-outside-acts|severity-outside-acts.tsv||severity of gender/woman"
    "code-before-field|code-before-field.tsv||code 'woman' before its field row"
    "bad-utf8|bad-utf8.tsv||labels must be non-empty UTF-8"
    "field-twice|field-twice.tsv||field 'gender' appears twice"
    "inegi-unsorted|ok-vocab.tsv|inegi-unsorted.tsv|'01001' is not in strictly ascending order"
    "inegi-state-renamed|ok-vocab.tsv|inegi-state-renamed.tsv|state 01 is named inconsistently"
    "inegi-code-mismatch|ok-vocab.tsv|inegi-code-mismatch.tsv|do not agree"
    "inegi-population-sum|ok-vocab.tsv|inegi-population-sum.tsv|women \\+ men != total"
    "inegi-one-state|ok-vocab.tsv|inegi-one-state.tsv|expected 32 states, found 1")

foreach(case ${TJ_VG_CASES})
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 vocab)
  list(GET parts 2 inegi)
  list(GET parts 3 expect)
  if(inegi STREQUAL "")
    set(inegi_path ${TJ_VG_INEGI})
  else()
    set(inegi_path ${TJ_VG_DIR}/${inegi})
  endif()
  add_test(NAME vocab_gen/${name}
           COMMAND tj_gen_tables ${TJ_VG_DIR}/${vocab} ${inegi_path}
                   ${CMAKE_CURRENT_BINARY_DIR}/vocab_gen_${name}.c)
  # Passes only if the message appears; the generator prints it from gen_die(), which exits 1.
  set_tests_properties(vocab_gen/${name} PROPERTIES LABELS unit TIMEOUT 60
                       PASS_REGULAR_EXPRESSION "${expect}")
endforeach()
