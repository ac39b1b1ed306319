# tejido-bench: measures ceilings, ingest, the node's add path, queries and statistics (docs/BENCHMARKS.md).
# Not a test: only a tiny smoke run is registered (ctest bench/smoke), checking that
# it runs and prints valid JSON. No timing is asserted anywhere.
#
# This file is also the smoke test's script: ctest runs it with `cmake -P` (the
# tools/*.cmake glob includes every .cmake file here, so it cannot live apart).
if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${BENCH} --quick --json --tejido ${TEJIDO} --dir ${DIR}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tejido-bench --quick --json failed (${rc}):\n${err}")
  endif()
  foreach(key machine ceilings_single_core ingest daemon)
    string(JSON type ERROR_VARIABLE jerr TYPE "${out}" ${key})
    if(jerr OR NOT type STREQUAL "OBJECT")
      message(FATAL_ERROR "tejido-bench printed no valid JSON object '${key}': ${jerr}\n${out}")
    endif()
  endforeach()
  string(JSON n GET "${out}" ingest tj_ingest_batch records)
  string(JSON refused GET "${out}" ingest tj_ingest_batch refused)
  string(JSON added GET "${out}" daemon incidents)
  if(n LESS_EQUAL 0 OR NOT refused EQUAL 0 OR added LESS_EQUAL 0)
    message(FATAL_ERROR "smoke run: ${n} records ingested, ${refused} refused, ${added} incidents added")
  endif()
  # The queries phase: every size filled completely, and every request shape answered with
  # what the bench computed from the incidents it generated (a count > 0; a statistics table
  # equal to the one made from the generated bodies). Never a time.
  string(JSON qtype ERROR_VARIABLE jerr TYPE "${out}" queries)
  if(jerr OR NOT qtype STREQUAL "ARRAY")
    message(FATAL_ERROR "tejido-bench printed no 'queries' array: ${jerr}")
  endif()
  string(JSON nq LENGTH "${out}" queries)
  if(nq LESS 1)
    message(FATAL_ERROR "tejido-bench: the 'queries' array is empty")
  endif()
  math(EXPR qlast "${nq} - 1")
  set(shapes 0)
  foreach(k RANGE ${qlast})
    string(JSON want GET "${out}" queries ${k} n)
    string(JSON got GET "${out}" queries ${k} incidents)
    string(JSON hit GET "${out}" queries ${k} budget_hit)
    if(NOT got EQUAL want OR hit)
      message(FATAL_ERROR "queries: ${got} of ${want} incidents stored (budget hit: ${hit})")
    endif()
    set(kinds "")
    string(JSON ns LENGTH "${out}" queries ${k} shapes)
    math(EXPR slast "${ns} - 1")
    foreach(i RANGE ${slast})
      string(JSON kind GET "${out}" queries ${k} shapes ${i} kind)
      string(JSON req GET "${out}" queries ${k} shapes ${i} request)
      string(JSON res GET "${out}" queries ${k} shapes ${i} results)
      string(JSON exp GET "${out}" queries ${k} shapes ${i} expected)
      string(JSON same GET "${out}" queries ${k} shapes ${i} as_expected)
      if(NOT res EQUAL exp OR NOT same OR res LESS_EQUAL 0)
        message(FATAL_ERROR "queries n=${want}: ${kind} '${req}' returned ${res}, expected ${exp} (as expected: ${same})")
      endif()
      list(APPEND kinds ${kind})
      math(EXPR shapes "${shapes} + 1")
    endforeach()
    foreach(kind query stats cli)
      list(FIND kinds ${kind} at)
      if(at LESS 0)
        message(FATAL_ERROR "queries n=${want}: no '${kind}' shape was run")
      endif()
    endforeach()
  endforeach()
  # The parts run as children: each exited 0 with its JSON; every reconciliation cell found
  # exactly its difference; every probe arrived; the empty node caught up. Never a time.
  foreach(part sync propagation_1hop propagation_line cold_replication)
    string(JSON pst ERROR_VARIABLE jerr GET "${out}" parts ${part} status)
    string(JSON ptype ERROR_VARIABLE jerr2 TYPE "${out}" parts ${part} result)
    if(jerr OR jerr2 OR NOT pst EQUAL 0 OR NOT ptype STREQUAL "OBJECT")
      message(FATAL_ERROR "part ${part}: status '${pst}', result '${ptype}' ${jerr} ${jerr2}")
    endif()
  endforeach()
  string(JSON ncells LENGTH "${out}" parts sync result matrix)
  math(EXPR clast "${ncells} - 1")
  foreach(i RANGE ${clast})
    string(JSON cd GET "${out}" parts sync result matrix ${i} d)
    string(JSON cf GET "${out}" parts sync result matrix ${i} found)
    if(NOT cd EQUAL cf)
      message(FATAL_ERROR "reconciliation cell ${i}: found ${cf} of ${cd}")
    endif()
  endforeach()
  foreach(part propagation_1hop propagation_line)
    string(JSON probes GET "${out}" parts ${part} result propagation probes)
    if(NOT probes EQUAL 10)
      message(FATAL_ERROR "${part}: ${probes} of 10 probes arrived")
    endif()
  endforeach()
  string(JSON caught GET "${out}" parts cold_replication result cold caught_up)
  string(JSON crec GET "${out}" parts cold_replication result cold records)
  if(NOT caught OR NOT crec EQUAL 200)
    message(FATAL_ERROR "cold replication: caught up ${caught}, ${crec} of 200 records")
  endif()
  message(STATUS "tejido-bench --quick --json: valid JSON; ${n} records ingested, ${added} incidents added; "
                 "${shapes} query and statistics shapes answered as expected")
  return()
endif()

add_executable(tejido-bench
  ${CMAKE_CURRENT_SOURCE_DIR}/bench.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_gen.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_ingest.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_daemon.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_query.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_parts.c)
target_link_libraries(tejido-bench PRIVATE tj_node PkgConfig::CJSON PkgConfig::LMDB PkgConfig::SODIUM Threads::Threads)
target_compile_definitions(tejido-bench PRIVATE TJ_BENCH_DEMO_DIR="${CMAKE_CURRENT_SOURCE_DIR}/demo")
if(TARGET tejido)
  # The parts it runs as children (bench_parts.c): built with it, found next to it.
  add_dependencies(tejido-bench tejido sim bench_sync)
  add_test(NAME bench/smoke
           COMMAND ${CMAKE_COMMAND} -DBENCH=$<TARGET_FILE:tejido-bench> -DTEJIDO=$<TARGET_FILE:tejido>
                   -DDIR=${CMAKE_CURRENT_BINARY_DIR} -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(bench/smoke PROPERTIES TIMEOUT 600)
endif()
