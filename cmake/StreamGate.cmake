# Helpers that keep every target built the same way.

# Warnings are errors on our own targets only (never on third-party headers,
# which come in as SYSTEM includes).
function(sg_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
    -Wno-unused-parameter -Wnon-virtual-dtor
    # clang 14 (fuzzing, clang-tidy) has no -Wshadow=local and would fail on the flag.
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
    # Designated initializers rely on member defaults; g++ 12 would flag every omission.
    -Wno-missing-field-initializers
    # g++ 12 reports false -Wrestrict on std::string assignment at -O2 (GCC bug 105651).
    -Wno-restrict)
endfunction()

# sg_add_test(NAME name SOURCES ... DEPS ... [LABELS ...])
# One test binary per library; tests discovered by CTest.
function(sg_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT SG_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  sg_set_warnings(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} sg_testing GTest::gmock GTest::gtest_main)
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${labels}" TIMEOUT 120)
endfunction()

# sg_add_plugin(name SOURCES ... TESTS ... DEPS ...)
# A static library per plugin that links only the plugin API (sg::core_api) and its own
# third-party dependencies, never another plugin; plus one test binary.
function(sg_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;TESTS;DEPS;TEST_DEPS" ${ARGN})
  set(target sg_plugin_${name})
  add_library(${target} STATIC ${P_SOURCES})
  add_library(sg::plugin_${name} ALIAS ${target})
  sg_set_warnings(${target})
  target_link_libraries(${target} PUBLIC sg::core_api PRIVATE ${P_DEPS})
  if(P_TESTS)
    sg_add_test(NAME ${name}_plugin_test SOURCES ${P_TESTS} DEPS ${target} ${P_DEPS} ${P_TEST_DEPS} sg::core)
  endif()
endfunction()
