# sim: N real `tejido` daemons on 127.0.0.1 in a random trusted-peer graph or a line;
# convergence, propagation, cold catch-up, wire bytes per record per node, memory
# (docs/SIMULATION.md). A program that prints figures; the ctests below check
# convergence, the JSON report's keys and consistency, and bad options: never a time.
find_package(Threads REQUIRED)
add_executable(sim ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_main.c ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_proc.c
                   ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_ctl.c ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_proxy.c
                   ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_probe.c ${CMAKE_CURRENT_SOURCE_DIR}/sim/sim_netem.c)
target_link_libraries(sim PRIVATE tj_node Threads::Threads)
if(TARGET tejido)
  add_dependencies(sim tejido)
  add_test(NAME sim/smoke COMMAND sim --nodes 3 --degree 2 --records 6 --rate 20 --kill-prob 0 --seed 7
                                      --timeout 90 --tejido $<TARGET_FILE:tejido>)
  set_tests_properties(sim/smoke PROPERTIES TIMEOUT 120 LABELS "sim;integration")
  add_test(NAME sim/line COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sim/line_test.sh $<TARGET_FILE:sim>
                                 $<TARGET_FILE:tejido>)
  set_tests_properties(sim/line PROPERTIES TIMEOUT 150 LABELS "sim;integration")
endif()
