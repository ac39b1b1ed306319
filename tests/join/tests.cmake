# Joining a network end to end through the CLI (issue 3, part 5).
if(TARGET tejido)
  add_test(NAME join/cli_join COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/join/join_e2e.sh $<TARGET_FILE:tejido>)
  set_tests_properties(join/cli_join PROPERTIES TIMEOUT 600 LABELS "integration;cli;join" SKIP_RETURN_CODE 77)
endif()
