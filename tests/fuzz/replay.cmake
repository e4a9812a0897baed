# Replay tests (normal build, any compiler): every fuzz target's corpus, regressions and
# seed folders go through the same LLVMFuzzerTestOneInput, driven by replay_main.c instead
# of libFuzzer, so that every input that once crashed a parser keeps being tried. Under
# TPLINK_SANITIZE they run with ASan and UBSan like the fuzzers. Included from
# tests/CMakeLists.txt.
set(FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
include(${FUZZ_DIR}/targets.cmake)
foreach(t ${TPLINK_FUZZ_TARGETS})
  add_executable(fuzz_replay_${t} ${FUZZ_DIR}/fuzz_${t}.c ${FUZZ_DIR}/replay_main.c)
  target_link_libraries(fuzz_replay_${t} PRIVATE tplink_core)
  target_compile_definitions(fuzz_replay_${t} PRIVATE FUZZ_REPLAY=1)
  set(_dirs ${FUZZ_DIR}/corpus/${t} ${FUZZ_DIR}/regressions/${t})
  foreach(d ${FUZZ_SEEDS_${t}})
    list(APPEND _dirs ${CMAKE_SOURCE_DIR}/${d})
  endforeach()
  add_test(NAME fuzz/replay_${t} COMMAND fuzz_replay_${t} ${_dirs})
  set_tests_properties(fuzz/replay_${t} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
