# Fuzz targets (see tests/fuzz/README.md).
#
# Convention: every tests/fuzz/fuzz_<name>.c defines
#   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
# (no main) and its seed corpus is tests/fuzz/corpus/<name>/ (committed files).
# Targets are found by this glob: adding a fuzz_<name>.c is all it takes.
#
# - Default build (gcc): fuzz_<name> = target + replay_main.c; ctest test
#   fuzz/<name> replays every file of corpus/<name>/ once.
# - -DTJ_FUZZ=ON (CC=clang): fuzz_<name> is a libFuzzer binary
#   (-fsanitize=fuzzer,address,undefined; the libraries are instrumented by the
#   TJ_FUZZ section of the top-level CMakeLists.txt); ctest fuzz/<name> runs it
#   with -runs=0 over the corpus. tests/fuzz/run-fuzzers.sh does the fuzzing.
file(GLOB TJ_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(src ${TJ_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${target})
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
  # the hostile msgpack inputs are replayed through the mp target as well
  if(name STREQUAL "mp")
    list(APPEND corpus ${CMAKE_CURRENT_SOURCE_DIR}/adversarial/msgpack)
  endif()
  if(TJ_FUZZ)
    add_executable(${target} ${src})
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz/${name} COMMAND ${target} -runs=0 ${corpus})
  else()
    add_executable(${target} ${src} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
    add_test(NAME fuzz/${name} COMMAND ${target} ${corpus})
  endif()
  target_link_libraries(${target} PRIVATE tj_node)
  target_compile_definitions(${target} PRIVATE TJ_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}")
  set_tests_properties(fuzz/${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
endforeach()
