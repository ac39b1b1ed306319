# Negentropy v1 interoperability with nostr-tools (NIP-77), see interop.mjs.
#
#   interop/negentropy_npm  fixture: installs the nostr-tools pinned in
#                           package.json into ${CMAKE_BINARY_DIR}/npm-negentropy
#                           (SKIP, exit 77, when npm cannot reach the registry)
#   interop/negentropy      nostr-tools initiator vs our responder and our
#                           initiator vs nostr-tools responder (SKIP if the
#                           fixture could not install nostr-tools)
set(TJ_NEG_INTEROP_DIR ${CMAKE_CURRENT_SOURCE_DIR}/interop_negentropy)

add_executable(tj_neg_driver ${TJ_NEG_INTEROP_DIR}/neg_driver.c)
target_link_libraries(tj_neg_driver PRIVATE tj_node)

if(TJ_INTEROP)
  find_program(TJ_NODE_EXE node)
  find_program(TJ_NPM_EXE npm)
  set(TJ_NEG_NPM_DIR ${CMAKE_BINARY_DIR}/npm-negentropy)
  if(TJ_NODE_EXE AND TJ_NPM_EXE)
    add_test(NAME interop/negentropy_npm
             COMMAND sh ${TJ_NEG_INTEROP_DIR}/npm_install.sh ${TJ_NPM_EXE} ${TJ_NEG_INTEROP_DIR} ${TJ_NEG_NPM_DIR})
    set_tests_properties(interop/negentropy_npm PROPERTIES
                         FIXTURES_SETUP tj_neg_npm SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS interop)
    add_test(NAME interop/negentropy
             COMMAND ${TJ_NODE_EXE} ${TJ_NEG_INTEROP_DIR}/interop.mjs
                     --driver $<TARGET_FILE:tj_neg_driver>
                     --npm-dir ${TJ_NEG_NPM_DIR}
                     --work-dir ${CMAKE_CURRENT_BINARY_DIR}/interop_negentropy)
    set_tests_properties(interop/negentropy PROPERTIES
                         FIXTURES_REQUIRED tj_neg_npm SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS interop)
  else()
    add_test(NAME interop/negentropy
             COMMAND sh -c "echo 'SKIP: node or npm not found; the negentropy interop test cannot run'; exit 77")
    set_tests_properties(interop/negentropy PROPERTIES SKIP_RETURN_CODE 77 LABELS interop)
  endif()
endif()
