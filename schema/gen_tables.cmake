# Compiles schema/vocab.tsv and schema/inegi-municipios.tsv into C tables with
# a host program (more robust than parsing TSV in CMake). Included from
# schema/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is schema/.
add_executable(tj_gen_tables ${CMAKE_CURRENT_SOURCE_DIR}/gen/tj_gen_tables.c)
add_custom_command(
  OUTPUT ${TJ_GEN}/tj_tables.c
  COMMAND tj_gen_tables ${CMAKE_CURRENT_SOURCE_DIR}/vocab.tsv
          ${CMAKE_CURRENT_SOURCE_DIR}/inegi-municipios.tsv ${TJ_GEN}/tj_tables.c
  DEPENDS tj_gen_tables ${CMAKE_CURRENT_SOURCE_DIR}/vocab.tsv
          ${CMAKE_CURRENT_SOURCE_DIR}/inegi-municipios.tsv
  COMMENT "Generating vocabulary and INEGI tables"
  VERBATIM)
list(APPEND TJ_SCHEMA_GENERATED ${TJ_GEN}/tj_tables.c)
