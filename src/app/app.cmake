# The one binary. builtin_plugins.cc is the only file that names every plugin.
add_executable(streamgate main.cc builtin_plugins.cc serve_command.cc)
sg_set_warnings(streamgate)
target_compile_definitions(streamgate PRIVATE SG_VERSION="${PROJECT_VERSION}")
target_link_libraries(streamgate PRIVATE sg::core CLI11::CLI11
  sg::plugin_gateway sg::plugin_monitor sg::plugin_debug)
# The README promises the binary at build/streamgate.
set_target_properties(streamgate PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
