# netlens_fuzz_target(NAME SOURCES...): a libFuzzer executable `fuzz_NAME` built from SOURCES
# (one LLVMFuzzerTestOneInput each) with ASan, UBSan (no recovery: any UB aborts) and LeakSanitizer,
# linked with `netlens_fuzz_parsers` (the daemon's parsers, instrumented the same way). Its seed
# corpus is test/fuzz/corpus/NAME/, which must exist. scripts/fuzz.sh runs every target listed in
# the build directory's fuzz_targets.txt, which this function fills. A target needing more
# libraries adds them with target_link_libraries(fuzz_NAME PRIVATE ...).
# Needs clang: include this only from test/fuzz/CMakeLists.txt, a project of its own.
include_guard(GLOBAL)

set(NETLENS_FUZZ_COMPILE_FLAGS -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
set(NETLENS_FUZZ_LINK_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

function(netlens_fuzz_target NAME)
  if(ARGC LESS 2)
    message(FATAL_ERROR "netlens_fuzz_target(${NAME}): give at least one source")
  endif()
  set(corpus "${NETLENS_FUZZ_CORPUS_DIR}/${NAME}")
  if(NOT IS_DIRECTORY "${corpus}")
    message(FATAL_ERROR "netlens_fuzz_target(${NAME}): no seed corpus at ${corpus}")
  endif()
  add_executable(fuzz_${NAME} ${ARGN})
  target_compile_options(fuzz_${NAME} PRIVATE ${NETLENS_FUZZ_COMPILE_FLAGS} -Wall -Wextra)
  target_link_options(fuzz_${NAME} PRIVATE ${NETLENS_FUZZ_LINK_FLAGS})
  target_link_libraries(fuzz_${NAME} PRIVATE netlens_fuzz_parsers)
  set_property(GLOBAL APPEND PROPERTY NETLENS_FUZZ_TARGETS "${NAME}")
  # Written once, after the whole directory is read, so targets added later are listed too.
  get_property(deferred GLOBAL PROPERTY NETLENS_FUZZ_LIST_DEFERRED)
  if(NOT deferred)
    set_property(GLOBAL PROPERTY NETLENS_FUZZ_LIST_DEFERRED ON)
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _netlens_fuzz_write_list)
  endif()
endfunction()

# fuzz_targets.txt: one "NAME EXECUTABLE CORPUS" line per target, for scripts/fuzz.sh.
function(_netlens_fuzz_write_list)
  get_property(names GLOBAL PROPERTY NETLENS_FUZZ_TARGETS)
  set(lines "")
  foreach(name IN LISTS names)
    string(APPEND lines "${name} $<TARGET_FILE:fuzz_${name}> ${NETLENS_FUZZ_CORPUS_DIR}/${name}\n")
  endforeach()
  file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/fuzz_targets.txt" CONTENT "${lines}")
endfunction()
