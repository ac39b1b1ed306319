# Circles through the CLI with three real nodes (node/tj_circle.h).
if(TARGET tejido)
  add_test(NAME circle/circle_e2e COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/circle/circle_e2e.sh $<TARGET_FILE:tejido>)
  set_tests_properties(circle/circle_e2e PROPERTIES TIMEOUT 600 LABELS "integration;cli;circle" SKIP_RETURN_CODE 77)
endif()
