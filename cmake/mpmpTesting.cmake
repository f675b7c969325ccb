# Test helpers for tests/CMakeLists.txt.
#
#   mpmp_add_unit_test(NAME n SOURCES s... [LIBS l...] [TIMEOUT secs])
#     Executable test_n, linked with the library's objects (internal functions
#     included) and CMocka, run as ctest test "n" (label "unit").
#
#   mpmp_add_mpi_test(NAME n SOURCES s... [NP 2 4 ...] [PSEUDO K] [PSEUDO_NP N]
#                     [TIMEOUT secs] [ARGS a...] [LIBS l...])
#     Executable test_n, linked with the shared library and CMocka, run by
#     scripts/run-mpi.sh as ctest tests n_np2, n_np4, ... (NP, default 2) on
#     one node, and n_pseudoK with PSEUDO_NP ranks (default 4) over K
#     pseudo-nodes (default 2; PSEUDO 0: none). Labels "mpi" and "pseudo".
#     mpirun's --timeout ends a hung job a little before ctest's TIMEOUT
#     (default 90 s), so no rank is left behind; ctest's stays as a second net.
#
# Any test whose output has one of mpmp's own warning or error lines
# ("[0003] WARN: ...") fails, even if it exits with 0. In sanitizer builds
# (MPMP_SANITIZE) so does any test whose output has a sanitizer's report,
# and every test's timeout grows by MPMP_SANITIZE_TIMEOUT_SCALE: see
# mpmp__sanitize_tests below.
#
# Also registered here: install_find_package_and_pkg_config (label
# "install"), which installs this build into a temporary prefix, moves it,
# runs the installed mpmp-info with no LD_LIBRARY_PATH, and builds
# tests/install against it with CMake (C, and C++ only in tests/install/cxx)
# and with pkg-config (shared, and static through --static).
include_guard(GLOBAL)

set(MPMP_TEST_FAIL_REGEX "\\[[0-9]+\\] (WARN|ERROR):")
set(MPMP_RUN_MPI "${PROJECT_SOURCE_DIR}/scripts/run-mpi.sh")

find_program(MPMP_BASH bash)
if(NOT MPMP_BASH)
  message(FATAL_ERROR "bash is needed to run the MPI tests (scripts/run-mpi.sh)")
endif()

# The unit tests never initialize MPI, so they need none of Open MPI's
# root-permission variables; the MPI tests get them from run-mpi.sh, only
# when run as root. MPMP_TEST_ENV is the unit tests' environment,
# MPMP_SANITIZER_ENV every other test's (both empty without sanitizers).
set(MPMP_TEST_ENV)
set(MPMP_SANITIZER_ENV)
if(MPMP_SANITIZERS)
  # halt_on_error: the first report ends the program, whose exit status and
  # output then fail the test. UBSan prints the stack of each report.
  if("address" IN_LIST MPMP_SANITIZERS)
    # Open MPI keeps allocations until exit in plugins it unloads at
    # finalize, so LeakSanitizer reports them from "<unknown module>" where
    # no suppression can match. MPI tests in ASan builds check memory
    # errors only; the unit tests (no MPI_Init) keep leak detection.
    set(asan "ASAN_OPTIONS=halt_on_error=1:print_summary=1")
    list(APPEND MPMP_TEST_ENV "${asan}")
    list(APPEND MPMP_SANITIZER_ENV "${asan}:detect_leaks=0")
  endif()
  if("undefined" IN_LIST MPMP_SANITIZERS)
    set(ubsan "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1")
    list(APPEND MPMP_TEST_ENV "${ubsan}")
    list(APPEND MPMP_SANITIZER_ENV "${ubsan}")
  endif()
  if("thread" IN_LIST MPMP_SANITIZERS)
    set(tsan "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan.supp")
    list(APPEND MPMP_TEST_ENV "${tsan}")
    list(APPEND MPMP_SANITIZER_ENV "${tsan}")
  endif()
  # A sanitized program runs 2 to 5 times slower (ThreadSanitizer most):
  # each test's ctest TIMEOUT is multiplied by this, and so is mpirun's
  # --timeout (scripts/run-mpi.sh reads MPMP_TIMEOUT_SCALE), rather than
  # every test's timeout being raised for all builds.
  # -DMPMP_SANITIZE_TIMEOUT_SCALE=K chooses another factor.
  if(NOT DEFINED MPMP_SANITIZE_TIMEOUT_SCALE)
    if("thread" IN_LIST MPMP_SANITIZERS)
      set(MPMP_SANITIZE_TIMEOUT_SCALE 5)
    else()
      set(MPMP_SANITIZE_TIMEOUT_SCALE 3)
    endif()
  endif()
  if(NOT MPMP_SANITIZE_TIMEOUT_SCALE MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "MPMP_SANITIZE_TIMEOUT_SCALE must be a whole number, not '${MPMP_SANITIZE_TIMEOUT_SCALE}'")
  endif()
  list(APPEND MPMP_TEST_ENV "MPMP_TIMEOUT_SCALE=${MPMP_SANITIZE_TIMEOUT_SCALE}")
  list(APPEND MPMP_SANITIZER_ENV "MPMP_TIMEOUT_SCALE=${MPMP_SANITIZE_TIMEOUT_SCALE}")
endif()
# What a sanitizer prints when it finds something. A report fails the test
# even when the program exits with 0 or the test has a PASS pattern (which
# makes ctest ignore the exit status).
set(MPMP_SANITIZER_FAIL_REGEX
  "ERROR: (Address|Leak|Memory|Thread)Sanitizer"
  "WARNING: ThreadSanitizer"
  "runtime error: "
  "SUMMARY: [A-Za-z]+Sanitizer")

# In sanitizer builds, every test of the directory that registers tests
# with the functions below, whoever added it and however: the sanitizer
# patterns join its failure patterns, the sanitizer environment comes
# first in its ENVIRONMENT (its own settings still win), and its timeout
# is scaled. It runs once, at the end of that directory (a deferred call,
# CMake 3.19), so that it sees every test, with the properties they end
# up with.
#
# A test that crashes on purpose sets the test property
# MPMP_SANITIZER_OPTIONS to sanitizer options of its own, added to each
# *SAN_OPTIONS: "handle_segv=0" leaves a deliberate SIGSEGV to mpmp's own
# crash report instead of a sanitizer's report of it.
function(mpmp__sanitize_tests)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} LABELS labels)
    if("unit" IN_LIST labels)
      set(ours ${MPMP_TEST_ENV})
    else()
      set(ours ${MPMP_SANITIZER_ENV})
    endif()
    get_test_property(${test} MPMP_SANITIZER_OPTIONS extra)
    if(extra)
      list(TRANSFORM ours REPLACE "^([A-Z]+SAN_OPTIONS=.*)$" "\\1:${extra}")
    endif()
    get_test_property(${test} ENVIRONMENT own)
    if(NOT own)
      set(own)
    endif()
    set(env)
    foreach(entry IN LISTS ours)
      if(NOT entry IN_LIST own)
        list(APPEND env "${entry}")
      endif()
    endforeach()
    set_property(TEST ${test} PROPERTY ENVIRONMENT ${env} ${own})
    set_property(TEST ${test} APPEND PROPERTY FAIL_REGULAR_EXPRESSION
                 ${MPMP_SANITIZER_FAIL_REGEX})
    get_test_property(${test} TIMEOUT timeout)
    if(timeout)
      math(EXPR timeout "${timeout} * ${MPMP_SANITIZE_TIMEOUT_SCALE}")
      set_property(TEST ${test} PROPERTY TIMEOUT ${timeout})
    endif()
  endforeach()
endfunction()

function(mpmp__sanitize_tests_later)
  if(NOT MPMP_SANITIZERS)
    return()
  endif()
  get_property(scheduled DIRECTORY PROPERTY MPMP_SANITIZE_SCHEDULED)
  if(scheduled)
    return()
  endif()
  set_property(DIRECTORY PROPERTY MPMP_SANITIZE_SCHEDULED 1)
  if(CMAKE_VERSION VERSION_LESS 3.19)
    message(FATAL_ERROR "sanitizer builds of the tests need CMake 3.19 or later "
                        "(this is ${CMAKE_VERSION}): build with -DMPMP_BUILD_TESTS=OFF")
  endif()
  cmake_language(DEFER CALL mpmp__sanitize_tests)
endfunction()

function(mpmp__test_args fn)
  if(NOT arg_NAME)
    message(FATAL_ERROR "${fn}: NAME is required")
  endif()
  if(NOT arg_SOURCES AND NOT arg_TARGET)
    message(FATAL_ERROR "${fn}(${arg_NAME}): SOURCES (or TARGET) is required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${fn}(${arg_NAME}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(DEFINED arg_TIMEOUT AND NOT arg_TIMEOUT MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "${fn}(${arg_NAME}): TIMEOUT must be whole seconds, not '${arg_TIMEOUT}'")
  endif()
endfunction()

function(mpmp_add_unit_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;TIMEOUT" "SOURCES;LIBS")
  mpmp__test_args(mpmp_add_unit_test)
  mpmp__sanitize_tests_later()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 60)
  endif()

  set(exe test_${arg_NAME})
  add_executable(${exe} ${arg_SOURCES})
  target_include_directories(${exe} PRIVATE ${MPMP_LAYER_DIRS})
  target_compile_options(${exe} PRIVATE ${MPMP_WARNING_FLAGS})
  # Internal headers and tests use POSIX/Linux calls, like the library.
  target_compile_definitions(${exe} PRIVATE _GNU_SOURCE)
  target_link_libraries(${exe} PRIVATE mpmp_objs PkgConfig::CMOCKA
                        ${CMAKE_DL_LIBS} ${arg_LIBS})
  set_target_properties(${exe} PROPERTIES ENABLE_EXPORTS ON)

  add_test(NAME ${arg_NAME} COMMAND ${exe})
  set_tests_properties(${arg_NAME} PROPERTIES
    TIMEOUT ${arg_TIMEOUT}
    LABELS unit
    ENVIRONMENT "${MPMP_TEST_ENV}"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}")
endfunction()

function(mpmp_add_mpi_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg ""
    "NAME;PSEUDO;PSEUDO_NP;TIMEOUT;TARGET" "SOURCES;NP;ARGS;LIBS;ENV")
  mpmp__test_args(mpmp_add_mpi_test)
  mpmp__sanitize_tests_later()
  if(NOT DEFINED arg_NP)
    set(arg_NP 2)
  endif()
  # Under sanitizers, and with an MPI other than Open MPI, the smallest
  # rank count only (and the pseudo-node run where there is one): the
  # larger ones run the same code paths, at 3-6 oversubscribed ranks that a
  # sanitizer slows most, and the plain Open MPI suite runs them all. This
  # keeps CI's asan and mpich stages short (the asan stage took 24 min).
  if(MPMP_SANITIZE OR NOT MPMP_MPI_FLAVOUR MATCHES "Open MPI")
    list(GET arg_NP 0 arg_NP)
  endif()
  if(NOT DEFINED arg_PSEUDO)
    set(arg_PSEUDO 2)
  endif()
  if(NOT DEFINED arg_PSEUDO_NP)
    set(arg_PSEUDO_NP 4)
  endif()
  if(NOT DEFINED arg_TIMEOUT)
    set(arg_TIMEOUT 90)
  endif()
  foreach(n IN LISTS arg_NP ITEMS ${arg_PSEUDO_NP})
    if(NOT n MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "mpmp_add_mpi_test(${arg_NAME}): '${n}' is not a rank count")
    endif()
  endforeach()
  if(NOT arg_PSEUDO MATCHES "^[0-9]+$")
    message(FATAL_ERROR "mpmp_add_mpi_test(${arg_NAME}): PSEUDO must be a node count, not '${arg_PSEUDO}'")
  endif()

  if(arg_TARGET) # the same tests again, in other settings (ENV)
    set(exe ${arg_TARGET})
  else()
    set(exe test_${arg_NAME})
    add_executable(${exe} ${arg_SOURCES})
    target_compile_options(${exe} PRIVATE ${MPMP_WARNING_FLAGS})
    # Tests use POSIX and Linux calls (clock_gettime, sched_getaffinity),
    # which -std=c11 hides without a feature macro.
    target_compile_definitions(${exe} PRIVATE _GNU_SOURCE)
    target_link_libraries(${exe} PRIVATE mpmp PkgConfig::CMOCKA ${arg_LIBS})
    # Tasks are found by name through dladdr(): the program exports its
    # symbols.
    set_target_properties(${exe} PROPERTIES ENABLE_EXPORTS ON)
  endif()

  # mpirun gives up a tenth of the time (5 to 10 s) before ctest does: it
  # needs about a second after its timeout to end the job, and if ctest
  # killed mpirun first, the ranks would be orphaned.
  math(EXPR margin "${arg_TIMEOUT} / 10")
  if(margin LESS 5)
    set(margin 5)
  elseif(margin GREATER 10)
    set(margin 10)
  endif()
  math(EXPR mpi_timeout "${arg_TIMEOUT} - ${margin}")
  if(mpi_timeout LESS 1)
    set(mpi_timeout 1)
  endif()

  set(env ${MPMP_SANITIZER_ENV} ${arg_ENV})
  set(runs)
  foreach(np IN LISTS arg_NP)
    list(APPEND runs "np${np}|${np}|")
  endforeach()
  if(arg_PSEUDO GREATER 0)
    list(APPEND runs "pseudo${arg_PSEUDO}|${arg_PSEUDO_NP}|${arg_PSEUDO}")
  endif()
  foreach(run IN LISTS runs)
    string(REPLACE "|" ";" run "${run}")
    list(GET run 0 suffix)
    list(GET run 1 np)
    list(GET run 2 nodes)
    set(test ${arg_NAME}_${suffix})
    set(launch --timeout ${mpi_timeout})
    set(labels mpi)
    if(nodes)
      list(APPEND launch --pseudo ${nodes})
      list(APPEND labels pseudo)
    endif()
    add_test(NAME ${test}
      COMMAND "${MPMP_BASH}" "${MPMP_RUN_MPI}" ${launch} -n ${np}
              $<TARGET_FILE:${exe}> ${arg_ARGS})
    # PROCESSORS: with ctest -j<cores>, a job never shares cores it needs
    # with another test (ctest caps it at the -j level, so it runs alone).
    set_tests_properties(${test} PROPERTIES
      TIMEOUT ${arg_TIMEOUT}
      ENVIRONMENT "${env}"
      PROCESSORS ${np}
      LABELS "${labels}"
      FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}")
  endforeach()
endfunction()

# The installed package, as another project sees it. Sanitized builds skip
# it (the outside programs would need the sanitizer runtime too), but still
# list it, as skipped: ctest says so, and the README's reference to it
# (tests/readme) still names a test.
if(MPMP_SANITIZERS)
  add_test(NAME install_find_package_and_pkg_config
    COMMAND "${MPMP_BASH}" -c "echo 'skipped in sanitizer builds'; exit 77")
  set_tests_properties(install_find_package_and_pkg_config PROPERTIES
    SKIP_RETURN_CODE 77
    LABELS install)
else()
  add_test(NAME install_find_package_and_pkg_config
    COMMAND "${MPMP_BASH}" "${PROJECT_SOURCE_DIR}/tests/install/check.sh"
            "${PROJECT_BINARY_DIR}" "${PROJECT_SOURCE_DIR}")
  set_tests_properties(install_find_package_and_pkg_config PROPERTIES
    TIMEOUT 300
    PROCESSORS 2
    LABELS install
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}")
endif()

# An example program run under mpirun with `np` ranks, passing when its
# output matches `pass` (a regular expression over stdout and stderr).
# Extra arguments after `pass` go to the program.
function(mpmp_example_test name np pass)
  mpmp__sanitize_tests_later()
  add_test(NAME example_${name}_np${np}
           COMMAND ${MPMP_BASH} ${MPMP_RUN_MPI} --timeout 60 -n ${np}
                   $<TARGET_FILE:${name}> ${ARGN})
  set_tests_properties(example_${name}_np${np} PROPERTIES TIMEOUT 90
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    PROCESSORS ${np}
    LABELS "mpi;example"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
    PASS_REGULAR_EXPRESSION "${pass}")
endfunction()

# ---- scheduling: tests that sleep run beside the others ---------------------
#
# ctest runs tests side by side up to its -j level, each taking its
# PROCESSORS. An MPI job takes as many as it has ranks (at most the cores:
# ctest would cap it anyway), so on 2 cores MPI jobs run one at a time. Yet
# most of the suite's time is tests that wait on purpose: ranks sleeping
# out time limits, graces, the heal delays of killed hosts, a walltime. A
# test named in mpmp_tests_sleep() (measured: its processes use well under
# half a core on average) takes one slot of a second resource, "waits",
# instead of cores, so it runs beside another test.
#
# ctest enforces resources only with a resource spec file:
# mpmp__schedule_tests() writes ctest-resources.json in the build directory
# (cpus: this machine's cores; waits: as many again), and
# scripts/test.sh passes it with a -j level of both together. A plain
# `ctest -jN` without the file schedules by PROCESSORS alone, where a
# sleeping test takes 1.
#
# A test that looks at the whole machine (every process of a name) sets
# RUN_SERIAL and runs alone.
function(mpmp_tests_sleep)
  foreach(test IN LISTS ARGN)
    if(NOT TEST ${test})
      # (sanitizer and MPICH builds run fewer rank counts: mpmp_add_mpi_test)
      if(MPMP_SANITIZE OR NOT MPMP_MPI_FLAVOUR MATCHES "Open MPI")
        continue()
      endif()
      message(FATAL_ERROR "mpmp_tests_sleep: no test '${test}'")
    endif()
    set_property(TEST ${test} APPEND PROPERTY LABELS sleeps)
  endforeach()
endfunction()

# Called once, at the end of tests/CMakeLists.txt, after every test exists.
function(mpmp__schedule_tests)
  include(ProcessorCount)
  ProcessorCount(cpus)
  if(cpus LESS 1)
    set(cpus 1)
  endif()
  set(waits ${cpus})
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    get_test_property(${test} LABELS labels)
    get_test_property(${test} RUN_SERIAL serial)
    if(serial)
      continue()
    endif()
    if("sleeps" IN_LIST labels)
      set_tests_properties(${test} PROPERTIES PROCESSORS 1
                           RESOURCE_GROUPS "waits:1")
    else()
      get_test_property(${test} PROCESSORS n)
      if(NOT n)
        set(n 1)
      elseif(n GREATER cpus)
        set(n ${cpus})
      endif()
      set_tests_properties(${test} PROPERTIES PROCESSORS ${n}
                           RESOURCE_GROUPS "cpus:${n}")
    endif()
  endforeach()
  file(WRITE "${PROJECT_BINARY_DIR}/ctest-resources.json"
"{
  \"version\": {\"major\": 1, \"minor\": 0},
  \"local\": [{
    \"cpus\": [{\"id\": \"0\", \"slots\": ${cpus}}],
    \"waits\": [{\"id\": \"0\", \"slots\": ${waits}}]
  }]
}
")
endfunction()
