# Alerts, queries and statistics through the CLI on a real node (issue 5).
if(TARGET tejido)
  add_test(NAME alerts/cli_alerts
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/alerts/cli_alerts.sh $<TARGET_FILE:tejido>)
  set_tests_properties(alerts/cli_alerts PROPERTIES TIMEOUT 600 LABELS "integration;alerts" SKIP_RETURN_CODE 77)
endif()
# A measurement, not a test: `measure_alerts [N]` (query and statistics times over N incidents).
add_executable(measure_alerts ${CMAKE_CURRENT_SOURCE_DIR}/alerts/measure_alerts.c)
target_link_libraries(measure_alerts PRIVATE tj_node)
if(TARGET tejido)
  add_test(NAME alerts/net_alerts
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/alerts/net_alerts.sh $<TARGET_FILE:tejido>)
  set_tests_properties(alerts/net_alerts PROPERTIES TIMEOUT 600 LABELS "integration;alerts;net" SKIP_RETURN_CODE 77)
endif()
if(TARGET tejido)
  add_test(NAME alerts/kill9_alerts
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/alerts/kill9_alerts.sh $<TARGET_FILE:tejido>)
  set_tests_properties(alerts/kill9_alerts PROPERTIES TIMEOUT 600 LABELS "integration;alerts" SKIP_RETURN_CODE 77)
endif()
if(TARGET tejido)
  add_test(NAME alerts/backlog_alerts
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/alerts/backlog_alerts.sh $<TARGET_FILE:tejido>)
  set_tests_properties(alerts/backlog_alerts PROPERTIES TIMEOUT 600 LABELS "integration;alerts;net" SKIP_RETURN_CODE 77)
endif()
