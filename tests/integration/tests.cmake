# End-to-end tests of the `tejido` CLI (issue 2): each script gets a mktemp
# data directory, TEJIDO_PASSPHRASE_FILE, the cheapest KDF, bounded waits, and
# stops its node in a trap.
if(TARGET tejido)
  foreach(t roundtrip canary kill9 badinput form batch export foreground)
    add_test(NAME integration/cli_${t}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/cli_${t}.sh $<TARGET_FILE:tejido>)
    set_tests_properties(integration/cli_${t} PROPERTIES TIMEOUT 900 LABELS "integration;cli" SKIP_RETURN_CODE 77)
  endforeach()
endif()
