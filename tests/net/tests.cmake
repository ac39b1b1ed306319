# Multi-node tests (issue 3): real `tejido` daemons on 127.0.0.1, each with
# its own data directory, built by a test-only C program (net_harness.c);
# hostile peers in net_rogue.c. One ctest per scenario.
if(TARGET tejido)
  add_executable(net_test ${CMAKE_CURRENT_SOURCE_DIR}/net/net_test.c ${CMAKE_CURRENT_SOURCE_DIR}/net/net_harness.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/net/net_rogue.c ${CMAKE_CURRENT_SOURCE_DIR}/evidence/faultproxy.c)
  target_include_directories(net_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/evidence)
  target_link_libraries(net_test PRIVATE tj_node Threads::Threads)
  # silent, mutual, replace, returning, hslimit: liveness, one connection per peer, redial bounds,
  # the per-address handshake rate limit
  foreach(sc line partition restarts garbage badsig flood replicate removed silent mutual replace returning hslimit)
    add_test(NAME net/${sc} COMMAND net_test $<TARGET_FILE:tejido> ${sc})
    set_tests_properties(net/${sc} PROPERTIES TIMEOUT 600 LABELS "net;integration")
  endforeach()
endif()
