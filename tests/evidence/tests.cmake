# Evidence tests (issue 7): crash consistency, seizure, adversarial ingest,
# partitions and floods. Each ctest entry is sized for about 90 s on two
# loaded cores under ASan+UBSan; TJ_EVIDENCE_SCALE=N multiplies the counts
# for longer runs by hand. Each prints FIGURE lines that
# tools/security-figures.sh collects into docs/SECURITY.md.
if(TARGET tejido)
  set(EV ${CMAKE_CURRENT_SOURCE_DIR}/evidence)
  add_library(ev_common STATIC ${EV}/ev_common.c ${EV}/ev_check.c)
  target_link_libraries(ev_common PUBLIC tj_node)
  target_include_directories(ev_common PUBLIC ${EV})

  add_executable(ev_check ${EV}/ev_check_main.c)
  target_link_libraries(ev_check PRIVATE ev_common)

  add_executable(ev_crash ${EV}/ev_crash.c)
  target_link_libraries(ev_crash PRIVATE ev_common)
  add_test(NAME evidence/crash COMMAND ev_crash $<TARGET_FILE:tejido>)
  set_tests_properties(evidence/crash PROPERTIES TIMEOUT 300 LABELS "evidence;crash")

  add_executable(ev_seizure ${EV}/ev_seizure.c ${EV}/ev_memscan.c)
  target_link_libraries(ev_seizure PRIVATE ev_common)
  target_compile_definitions(ev_seizure PRIVATE EV_DATA="${EV}/data")
  add_test(NAME evidence/seizure COMMAND ev_seizure $<TARGET_FILE:tejido>)
  set_tests_properties(evidence/seizure PROPERTIES TIMEOUT 300 LABELS "evidence;seizure")
endif()

# Multi-node evidence: the peers engineer's harness (tests/net/, compiled in,
# not modified) and the fault-injecting proxy.
if(TARGET tejido)
  add_executable(ev_net ${EV}/ev_net.c ${EV}/ev_flooder.c ${EV}/faultproxy.c ${CMAKE_CURRENT_SOURCE_DIR}/net/net_harness.c
                        ${CMAKE_CURRENT_SOURCE_DIR}/net/net_rogue.c)
  target_include_directories(ev_net PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/net)
  target_link_libraries(ev_net PRIVATE ev_common)
  foreach(sc partitions synckill flood)
    add_test(NAME evidence/${sc} COMMAND ev_net $<TARGET_FILE:tejido> ${sc})
    set_tests_properties(evidence/${sc} PROPERTIES TIMEOUT 300 LABELS "evidence;net")
  endforeach()
endif()

# Adversarial ingest at volume (the unit tests show each rule once).
add_executable(ev_adversarial ${CMAKE_CURRENT_SOURCE_DIR}/evidence/ev_adversarial.c
                              ${CMAKE_CURRENT_SOURCE_DIR}/evidence/ev_common.c)
target_include_directories(ev_adversarial PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit ${CMAKE_CURRENT_SOURCE_DIR}/evidence)
target_link_libraries(ev_adversarial PRIVATE tj_node)
add_test(NAME evidence/adversarial COMMAND ev_adversarial)
set_tests_properties(evidence/adversarial PROPERTIES TIMEOUT 300 LABELS "evidence")
