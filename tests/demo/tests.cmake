# The README's demo (tools/demo.sh) without its package and build steps: three
# nodes on 127.0.0.1 in a line A - B - C, incidents at A and C that must reach
# the far end within the demo's bounded wait, then every node stopped. Runs the
# tejido under test (TEJIDO_DEMO_BIN) with the cheapest KDF, so that the demo
# cannot rot unnoticed.
if(TARGET tejido)
  add_test(NAME demo/network
           COMMAND ${CMAKE_COMMAND} -E env TEJIDO_DEMO_BIN=$<TARGET_FILE:tejido> TEJIDO_DEMO_KDF=min
                   TEJIDO_DEMO_WAIT=40 bash ${PROJECT_SOURCE_DIR}/tools/demo.sh)
  set_tests_properties(demo/network PROPERTIES TIMEOUT 180 LABELS "integration;cli;demo")
endif()
