# Stewards' threshold and key rotation through the CLI (issue 4).
if(TARGET tejido)
  add_test(NAME rotation/member_threshold COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/rotation/member_threshold.sh $<TARGET_FILE:tejido>)
  set_tests_properties(rotation/member_threshold PROPERTIES TIMEOUT 600 LABELS "integration;cli;member" SKIP_RETURN_CODE 77)
endif()
if(TARGET tejido)
  add_test(NAME rotation/rotate_e2e COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/rotation/rotate_e2e.sh $<TARGET_FILE:tejido>)
  set_tests_properties(rotation/rotate_e2e PROPERTIES TIMEOUT 600 LABELS "integration;cli;member" SKIP_RETURN_CODE 77)
endif()
