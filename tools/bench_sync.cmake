# bench_sync: the reconciliation matrix (n x d, recent / scattered / cold, with
# strfry's figures beside the cells the issue gives), cold replication and the
# Ed25519 verify rate, measured in one run (a program, not a test; what it
# prints is described in the header of tools/bench_sync.c).
#
# Only a tiny smoke run is registered (ctest bench/sync_smoke): it checks that
# `bench_sync --quick --json` prints one valid JSON object whose every cell found
# exactly its d missing ids and has the documented keys, and that bad options
# exit 2. No timing is checked.
#
# This file is also the smoke test's script: ctest runs it with `cmake -P`.
if(CMAKE_SCRIPT_MODE_FILE)
  cmake_policy(VERSION 3.19) # string(JSON), and quoted "cold" is a string, not a variable
  foreach(bad "--n;0" "--n;abc" "--n;10000001" "--n;10,,20" "--rtt-ms;-1" "--bogus")
    execute_process(COMMAND ${BENCH_SYNC} ${bad} OUTPUT_QUIET ERROR_VARIABLE err RESULT_VARIABLE rc)
    if(NOT rc EQUAL 2 OR NOT err MATCHES "bench_sync: ")
      message(FATAL_ERROR "bench_sync ${bad}: exit ${rc}, expected 2 with a message; stderr:\n${err}")
    endif()
  endforeach()
  execute_process(COMMAND ${BENCH_SYNC} --quick --json --dir ${DIR}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bench_sync --quick --json failed (${rc}):\n${err}")
  endif()
  foreach(key machine options corpus cold_replication verify)
    string(JSON type ERROR_VARIABLE jerr TYPE "${out}" ${key})
    if(jerr OR NOT type STREQUAL "OBJECT")
      message(FATAL_ERROR "bench_sync printed no valid JSON object '${key}': ${jerr}\n${out}")
    endif()
  endforeach()
  string(JSON ncells LENGTH "${out}" matrix)
  string(JSON cells GET "${out}" cells)
  string(JSON failed GET "${out}" cells_failed)
  if(ncells LESS 2 OR NOT ncells EQUAL cells OR NOT failed EQUAL 0)
    message(FATAL_ERROR "smoke run: ${ncells} cells in the matrix, cells ${cells}, ${failed} failed\n${out}")
  endif()
  set(n_cold 0)
  math(EXPR last "${ncells} - 1")
  foreach(i RANGE ${last})
    foreach(key n d missing neg_round_trips neg_bytes_i2r neg_bytes_r2i fetch_round_trips wire_bytes_i2r
                wire_bytes_r2i lower_bound_bytes reconcile_ms peak_rss_mib found matched extra ok)
      string(JSON v ERROR_VARIABLE jerr GET "${out}" matrix ${i} ${key})
      if(jerr)
        message(FATAL_ERROR "cell ${i} has no '${key}': ${jerr}")
      endif()
    endforeach()
    string(JSON d GET "${out}" matrix ${i} d)
    string(JSON n GET "${out}" matrix ${i} n)
    string(JSON found GET "${out}" matrix ${i} found)
    string(JSON matched GET "${out}" matrix ${i} matched)
    string(JSON extra GET "${out}" matrix ${i} extra)
    string(JSON ok GET "${out}" matrix ${i} ok)
    string(JSON missing GET "${out}" matrix ${i} missing)
    string(JSON bound GET "${out}" matrix ${i} lower_bound_bytes)
    math(EXPR want_bound "${d} * 32")
    if(NOT found EQUAL d OR NOT matched EQUAL d OR NOT extra EQUAL 0 OR NOT ok STREQUAL "ON"
       OR NOT bound EQUAL want_bound)
      message(FATAL_ERROR "cell ${i} (n ${n}, d ${d}, ${missing}): found ${found} (${matched} missing ones), "
                          "${extra} extra, ok ${ok}, lower bound ${bound}")
    endif()
    if(NOT missing MATCHES "^(recent|scattered|cold)$" OR (missing STREQUAL "cold" AND NOT d EQUAL n))
      message(FATAL_ERROR "cell ${i}: missing '${missing}' with n ${n}, d ${d}")
    endif()
    if(missing STREQUAL "cold")
      math(EXPR n_cold "${n_cold} + 1")
    endif()
  endforeach()
  string(JSON nlist LENGTH "${out}" options n)
  string(JSON records GET "${out}" cold_replication records)
  string(JSON stored GET "${out}" cold_replication stored)
  string(JSON verifies GET "${out}" verify verifies)
  if(NOT n_cold EQUAL nlist OR records LESS_EQUAL 0 OR NOT stored EQUAL records OR verifies LESS_EQUAL 0)
    message(FATAL_ERROR "smoke run: ${n_cold} cold cells for ${nlist} n, ${stored} of ${records} replicated, "
                        "${verifies} verifies")
  endif()
  message(STATUS "bench_sync --quick --json: valid JSON; ${ncells} cells, each found its d ids; "
                 "${stored} records replicated; bad options exit 2")
  return()
endif()

add_executable(bench_sync
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync_corpus.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync_opts.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync_recon.c
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync_repl.c)
target_link_libraries(bench_sync PRIVATE tj_node PkgConfig::CJSON PkgConfig::SODIUM PkgConfig::UV)
add_test(NAME bench/sync_smoke
         COMMAND ${CMAKE_COMMAND} -DBENCH_SYNC=$<TARGET_FILE:bench_sync> -DDIR=${CMAKE_CURRENT_BINARY_DIR}
                 -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(bench/sync_smoke PROPERTIES TIMEOUT 600)
