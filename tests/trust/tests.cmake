# Trust end to end through the CLI (issue 4): panic wipe, staff passphrases,
# retraction, sharing the case face.
if(TARGET tejido)
  foreach(t wipe unlock retract share sync)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/trust/${t}_e2e.sh)
      add_test(NAME trust/${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/trust/${t}_e2e.sh $<TARGET_FILE:tejido>)
      set_tests_properties(trust/${t} PROPERTIES TIMEOUT 600 LABELS "integration;cli;trust" SKIP_RETURN_CODE 77)
    endif()
  endforeach()
endif()
