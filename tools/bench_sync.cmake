# bench_sync: reconciliation cost by difference size, cold replication rate and
# the Ed25519 verify rate, measured in one run (a program, not a test).
add_executable(bench_sync ${CMAKE_CURRENT_SOURCE_DIR}/bench_sync.c)
target_link_libraries(bench_sync PRIVATE tj_node)
