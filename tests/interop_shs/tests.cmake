# SHS v1 / box-stream interoperability with the JavaScript reference
# implementations (owner: shs). Included from tests/CMakeLists.txt.
#
# A fixture installs the npm packages pinned in package.json/package-lock.json
# into ${CMAKE_BINARY_DIR}/npm-shs. If npm cannot install them, the tests
# report SKIP (exit 77) with the reason, never a pass.
set(TJ_SHS_INTEROP_DIR ${CMAKE_CURRENT_SOURCE_DIR}/interop_shs)
set(TJ_NPM_SHS ${CMAKE_BINARY_DIR}/npm-shs)

add_executable(shs1_server ${TJ_SHS_INTEROP_DIR}/shs1_server.c)
target_link_libraries(shs1_server PRIVATE tj_crypto)
add_executable(shs1_client ${TJ_SHS_INTEROP_DIR}/shs1_client.c)
target_link_libraries(shs1_client PRIVATE tj_crypto)
add_executable(bs_echo ${TJ_SHS_INTEROP_DIR}/bs_echo.c)
target_link_libraries(bs_echo PRIVATE tj_crypto PkgConfig::UV)
add_executable(bs_client ${TJ_SHS_INTEROP_DIR}/bs_client.c)
target_link_libraries(bs_client PRIVATE tj_crypto)

# Hostile peers against bs_echo (no npm needed): tests/adversarial/shs/.
add_executable(hostile_peers ${CMAKE_CURRENT_SOURCE_DIR}/adversarial/shs/hostile_peers.c)
target_link_libraries(hostile_peers PRIVATE tj_crypto)
add_test(NAME adversarial/shs_hostile_peers COMMAND hostile_peers $<TARGET_FILE:bs_echo>)
set_tests_properties(adversarial/shs_hostile_peers PROPERTIES TIMEOUT 120 LABELS adversarial)

if(TJ_INTEROP)
  add_test(NAME interop_shs/npm_install
           COMMAND sh ${TJ_SHS_INTEROP_DIR}/npm_install.sh ${TJ_SHS_INTEROP_DIR} ${TJ_NPM_SHS})
  set_tests_properties(interop_shs/npm_install PROPERTIES
                       FIXTURES_SETUP npm_shs TIMEOUT 600 LABELS interop RESOURCE_LOCK npm_shs)

  # (1) shs1-test, the language-independent SHS test suite, against both roles.
  add_test(NAME interop_shs/shs1test_server
           COMMAND sh ${TJ_SHS_INTEROP_DIR}/run_node.sh ${TJ_NPM_SHS}
                   ${TJ_NPM_SHS}/node_modules/shs1-test/test-server.js $<TARGET_FILE:shs1_server> 7461)
  add_test(NAME interop_shs/shs1test_client
           COMMAND sh ${TJ_SHS_INTEROP_DIR}/run_node.sh ${TJ_NPM_SHS}
                   ${TJ_NPM_SHS}/node_modules/shs1-test/test-client.js $<TARGET_FILE:shs1_client> 7462)
  # (2)+(3) secret-handshake + pull-box-stream client against our libuv echo server.
  add_test(NAME interop_shs/js_client_c_server
           COMMAND sh ${TJ_SHS_INTEROP_DIR}/run_node.sh ${TJ_NPM_SHS}
                   ${TJ_SHS_INTEROP_DIR}/js_client.js $<TARGET_FILE:bs_echo>)
  # (4) our client against a secret-handshake + pull-box-stream echo server.
  add_test(NAME interop_shs/c_client_js_server
           COMMAND sh ${TJ_SHS_INTEROP_DIR}/run_node.sh ${TJ_NPM_SHS}
                   ${TJ_SHS_INTEROP_DIR}/js_server.js $<TARGET_FILE:bs_client>)
  set_tests_properties(interop_shs/shs1test_server interop_shs/shs1test_client
                       interop_shs/js_client_c_server interop_shs/c_client_js_server
                       PROPERTIES FIXTURES_REQUIRED npm_shs SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS interop)
endif()
