# The flagship demo program, the scaling study and the batch-job templates
# (scripts/), checked by what they print and write. No timing thresholds:
# speedups on a shared 2-core machine mean nothing (README, "Performance"); what is
# checked is that the parallel results match the serial ones and that every
# figure is printed.
#
# Each test claims as many cores as it starts ranks (PROCESSORS), like the
# MPI tests; the scaling study claims its largest job.

set(SCRIPTS_DIR "${PROJECT_SOURCE_DIR}/scripts")
set(NUM "[0-9]+(\\.[0-9]+)?")

# demo_parallel_map, tiny: the binding table, both times, equal results, a
# speedup and an efficiency.
add_test(NAME scripts_demo_parallel_map_np3
  COMMAND "${MPMP_BASH}" "${MPMP_RUN_MPI}" --timeout 50 -n 3
          $<TARGET_FILE:demo_parallel_map> --items 12 --work-ms 5)
set_tests_properties(scripts_demo_parallel_map_np3 PROPERTIES
  TIMEOUT 60
  PROCESSORS 3
  LABELS "mpi;scripts"
  ENVIRONMENT "${MPMP_SANITIZER_ENV}"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "main rank \\+ 2 worker ranks on 1 node.*rank +node +pid +cores +numa +role\n0 +[^ ]+ +[0-9]+ .* main\n1 .* worker\n2 .* worker\n.*work: +12 items.*\nserial: +${NUM} s[^\n]*\nparallel: +${NUM} s +\\(Pool of 2 workers\\)\nresults: +equal \\(all 12 items\\)\nspeedup: +${NUM}x\nefficiency: +${NUM} % +\\(speedup / [12] cores?")

# mpmp-scaling: one valid CSV line (and its header), on one node and on two
# pseudo-nodes.
set(SCALING_CSV "ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,cores,core_per_worker\n")
foreach(run "np3||1" "pseudo2|--pseudo,2|2")
  string(REPLACE "|" ";" run "${run}")
  list(GET run 0 suffix)
  list(GET run 1 launch)
  list(GET run 2 nodes)
  string(REPLACE "," ";" launch "${launch}")
  set(test scripts_mpmp_scaling_csv_${suffix})
  add_test(NAME ${test}
    COMMAND "${MPMP_BASH}" "${MPMP_RUN_MPI}" ${launch} --timeout 50 -n 3
            $<TARGET_FILE:mpmp-scaling> --header --items 12 --task-ms 2
            --reps 1 --serial-items 4)
  set(labels "mpi;scripts")
  if(nodes GREATER 1)
    list(APPEND labels pseudo)
  endif()
  set_tests_properties(${test} PROPERTIES
    TIMEOUT 60
    PROCESSORS 3
    LABELS "${labels}"
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
    PASS_REGULAR_EXPRESSION "${SCALING_CSV}3,2,${nodes},12,${NUM},${NUM},${NUM},${NUM},${NUM},[12],[01]\n")
endforeach()

# scaling-study.sh, a tiny sweep (ranks 2 and 3, strong and weak, 2 ms
# tasks): the CSV has its header (mpmp-scaling's columns between the mode
# and the run's repeat, request and host) and one row per point, and the
# PNG is a PNG. It installs gnuplot-nox itself when it is missing (once, on a fresh
# machine: hence the longer timeout); the build is ctest's own.
set(SCALING_STUDY_CHECK [=[
out="$1"
shift
rm -rf "$out"
bash "$@" --out "$out/scaling" || exit 1
csv="$out/scaling.csv"
echo "CSV header: $(head -n 1 "$csv")"
echo "CSV points: $(awk -F, 'NR > 1 && NF == 15 && $10 ~ /^[0-9.]+$/ { printf "%s%s ", $1, $2 }' "$csv")"
echo "PNG signature: $(head -c 8 "$out/scaling.png" | od -An -tx1 | tr -d ' \n')"
]=])
add_test(NAME scripts_scaling_study_np2_np3
  COMMAND "${MPMP_BASH}" -c "${SCALING_STUDY_CHECK}" scaling-check
          "${CMAKE_CURRENT_BINARY_DIR}/scaling-study"
          "${SCRIPTS_DIR}/scaling-study.sh" --no-build --ranks 2,3
          --task-ms 2 --items 12 --items-per-worker 6 --reps 1)
set(env "MPMP_BUILD_DIR=${PROJECT_BINARY_DIR}" ${MPMP_SANITIZER_ENV})
set_tests_properties(scripts_scaling_study_np2_np3 PROPERTIES
  TIMEOUT 300
  PROCESSORS 3
  LABELS "mpi;scripts"
  ENVIRONMENT "${env}"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "CSV header: mode,ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,cores,core_per_worker,repeat,task_ms_requested,host\nCSV points: strong2 strong3 weak2 weak3 \nPNG signature: 89504e470d0a1a0a")

# scaling-study.sh --repeat 2 --format svg,pdf (issue 18), a tiny strong
# sweep on 2 and 3 ranks: 2 rows per rank count, the medians, an SVG with
# the 100 % line, min-max bars and the measured task time in its title, a
# PDF (tests/scripts/scaling_study_repeat.sh).
add_test(NAME scripts_scaling_study_repeat_svg_np3
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/scaling_study_repeat.sh"
          "${SCRIPTS_DIR}/scaling-study.sh" "${CMAKE_CURRENT_BINARY_DIR}/scaling-study-repeat"
          --no-build)
set(env "MPMP_BUILD_DIR=${PROJECT_BINARY_DIR}" ${MPMP_SANITIZER_ENV})
set_tests_properties(scripts_scaling_study_repeat_svg_np3 PROPERTIES
  TIMEOUT 300
  PROCESSORS 3
  LABELS "mpi;scripts"
  ENVIRONMENT "${env}"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "PASSED")

# scaling-study.sh without MPI: bad --repeat, --format and --plot-only
# values refused with their error; --plot-only of crafted CSVs, whose
# figures are known: a run at 130 % warned about and marked, the
# efficiency axis above it, the bars and the 100 % line drawn, --strict
# exiting 3; a CSV of the old 12 columns still plotted
# (tests/scripts/scaling_study_plot.sh). It may install gnuplot-nox.
add_test(NAME scripts_scaling_study_plot_only
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/scaling_study_plot.sh"
          "${SCRIPTS_DIR}/scaling-study.sh" "${CMAKE_CURRENT_BINARY_DIR}/scaling-study-plot")
set_tests_properties(scripts_scaling_study_plot_only PROPERTIES
  TIMEOUT 300
  LABELS "scripts"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "PASSED")

# The batch-job templates outside any scheduler: they see no job and run
# the program here through run-mpi.sh, with MPMP_NP ranks. The Slurm one
# takes the program on its command line, the PBS one from MPMP_PROGRAM and
# MPMP_ARGS (qsub -v).
set(DEMO_TINY "results: +equal \\(all 8 items\\)\nspeedup: +${NUM}x")
add_test(NAME scripts_slurm_template_local_np3
  COMMAND env -u SLURM_JOB_ID "${MPMP_BASH}" "${SCRIPTS_DIR}/slurm.sbatch"
          $<TARGET_FILE:demo_parallel_map> --items 8 --work-ms 5)
add_test(NAME scripts_pbs_template_local_np3
  COMMAND env -u PBS_JOBID "${MPMP_BASH}" "${SCRIPTS_DIR}/pbs.job")
set(env MPMP_NP=3 MPMP_TIMEOUT=50 ${MPMP_SANITIZER_ENV})
set_tests_properties(scripts_slurm_template_local_np3 PROPERTIES
  PASS_REGULAR_EXPRESSION "not in a Slurm job: running [^\n]*demo_parallel_map here with 3 ranks.*${DEMO_TINY}"
  ENVIRONMENT "${env}")
list(APPEND env "MPMP_PROGRAM=$<TARGET_FILE:demo_parallel_map>"
     "MPMP_ARGS=--items 8 --work-ms 5")
set_tests_properties(scripts_pbs_template_local_np3 PROPERTIES
  PASS_REGULAR_EXPRESSION "not in a PBS job: running [^\n]*demo_parallel_map here with 3 ranks.*${DEMO_TINY}"
  ENVIRONMENT "${env}")
set_tests_properties(scripts_slurm_template_local_np3 scripts_pbs_template_local_np3
  PROPERTIES
  TIMEOUT 60
  PROCESSORS 3
  LABELS "mpi;scripts"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}")

# The templates' path for a job stopped before its walltime (issue 15),
# with stand-ins for the scheduler's commands: Slurm's SIGUSR1 reaches
# slurm.sbatch mid-map, the program exits with 75 and the job is requeued;
# pbs.job's job stops at the walltime `qstat -f` gave, and submits itself
# again. The next run resumes from the same checkpoint
# (tests/scripts/slurm_requeue.sh, pbs_resubmit.sh say what is checked).
foreach(sched slurm_requeue pbs_resubmit)
  add_test(NAME scripts_${sched}_np3
    COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/${sched}.sh"
            "${SCRIPTS_DIR}" $<TARGET_FILE:checkpoint_map>)
  set_tests_properties(scripts_${sched}_np3 PROPERTIES
    TIMEOUT 180
    PROCESSORS 3
    LABELS "mpi;scripts"
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    PASS_REGULAR_EXPRESSION "PASSED")
endforeach()

# Pseudo-nodes for a user other than the one who used them last (issue
# 18): root leaves Open MPI session directories, then user nobody runs a
# job on two pseudo-nodes (skipped where that cannot be arranged).
add_test(NAME scripts_pseudo_other_user
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/pseudo_other_user.sh"
          "${MPMP_RUN_MPI}" $<TARGET_FILE:mpmp-info>)
set_tests_properties(scripts_pseudo_other_user PROPERTIES
  TIMEOUT 90
  PROCESSORS 2
  LABELS "mpi;scripts;pseudo"
  SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "PASSED")

# The README's first command where there is no CMocka, apt or dpkg (a
# cluster login node with modules; issue 18): the tools are found, not
# installed; a missing one is named; the demo builds without the tests.
# (Not in sanitizer builds: it builds a plain mpmp of its own.)
if(NOT MPMP_SANITIZE)
  add_test(NAME scripts_demo_without_cmocka_or_apt
    COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/demo_without_cmocka.sh"
            "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_BINARY_DIR}/demo-without-cmocka")
  set_tests_properties(scripts_demo_without_cmocka_or_apt PROPERTIES
    TIMEOUT 600
    PROCESSORS 3
    LABELS "mpi;scripts"
    PASS_REGULAR_EXPRESSION "PASSED")
endif()

# MPICH's mpirun first in PATH with an Open MPI build (issue 18): run-mpi.sh
# still starts one job with Open MPI's launcher, and an MPMP_MPIRUN of the
# other MPI is refused, saying why (skipped without MPICH's mpiexec, or in
# an MPICH build).
add_test(NAME scripts_launcher_pick
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/launcher_pick.sh"
          "${PROJECT_SOURCE_DIR}" $<TARGET_FILE:mpmp-info>
          "${CMAKE_CURRENT_BINARY_DIR}/launcher-pick")
set_tests_properties(scripts_launcher_pick PROPERTIES
  TIMEOUT 120
  PROCESSORS 2
  LABELS "mpi;scripts"
  ENVIRONMENT "${MPMP_SANITIZER_ENV}"
  SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "PASSED")

# README.md: every fenced block is checked (tests/readme/check_readme.sh:
# a block is an excerpt of a tested file, a command run here, or a command
# that a named test runs) and every MPMP_* setting is documented.
add_test(NAME readme_blocks
         COMMAND "${MPMP_BASH}" "${PROJECT_SOURCE_DIR}/tests/readme/check_readme.sh"
                 "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}")
set_tests_properties(readme_blocks PROPERTIES TIMEOUT 120 PROCESSORS 4
  LABELS "mpi;scripts" PASS_REGULAR_EXPRESSION "all [0-9]+ blocks of README.md are checked")

# The README's first command: scripts/demo.sh (setup, build, the demo),
# here with small sizes; the build is the one ctest runs in.
add_test(NAME readme_demo_sh
         COMMAND "${MPMP_BASH}" "${PROJECT_SOURCE_DIR}/scripts/demo.sh" --items 8 --work-ms 5)
set_tests_properties(readme_demo_sh PROPERTIES TIMEOUT 300 PROCESSORS 3
  LABELS "mpi;scripts"
  ENVIRONMENT "MPMP_BUILD_DIR=${PROJECT_BINARY_DIR}"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "results: +equal.*speedup: +[0-9]")

# The API reference (cmake/Doxyfile.in): the docs target builds with no
# Doxygen warning, and every error code has its entry in the HTML
# (tests/scripts/docs_no_warnings.sh). Skipped without Doxygen, except under
# CI=true, where scripts/common.sh installs it and its absence fails.
add_test(NAME docs_no_warnings
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/docs_no_warnings.sh"
          "${CMAKE_COMMAND}" "${PROJECT_BINARY_DIR}"
          "${PROJECT_SOURCE_DIR}/include/mpmp/common.h" "${DOXYGEN_FOUND}")
set_tests_properties(docs_no_warnings PROPERTIES
  TIMEOUT 120
  LABELS "docs"
  SKIP_RETURN_CODE 77
  PASS_REGULAR_EXPRESSION "PASSED: the API reference builds with no warning")

# scripts/run-mpi.sh ends its whole job however it is stopped, and leaves
# nothing behind: SIGKILL (no trap sees it) and SIGINT (which bash ignores
# in a background job of a script, as the launcher is here) to the
# launcher, on one node and on two pseudo-nodes, with every rank blocked in
# mpmp. Within 10 s no process of the job may be left and its private
# /dev/shm directory must be gone (tests/scripts/launcher_signals.sh).
add_executable(launcher_block scripts/launcher_block.c)
target_link_libraries(launcher_block PRIVATE mpmp)
target_compile_options(launcher_block PRIVATE ${MPMP_WARNING_FLAGS})
set_target_properties(launcher_block PROPERTIES ENABLE_EXPORTS ON)
foreach(run "KILL|np3|-n,3" "INT|np3|-n,3" "KILL|pseudo2|--pseudo,2,-n,3"
            "INT|pseudo2|--pseudo,2,-n,3")
  string(REPLACE "|" ";" run "${run}")
  string(REPLACE "," ";" run "${run}")
  list(POP_FRONT run sig suffix)
  string(TOLOWER "${sig}" name)
  set(test scripts_launcher_sig${name}_${suffix})
  add_test(NAME ${test}
    COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/launcher_signals.sh"
            ${sig} "${MPMP_RUN_MPI}" $<TARGET_FILE:launcher_block> ${run})
  set(labels "mpi;scripts")
  if(suffix MATCHES "pseudo")
    list(APPEND labels pseudo)
  endif()
  set_tests_properties(${test} PROPERTIES
    TIMEOUT 90
    PROCESSORS 3
    LABELS "${labels}"
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
    PASS_REGULAR_EXPRESSION "PASSED: SIG${sig} to the launcher")
endforeach()

# The guard rail itself: in UBSan builds, a program that prints a real
# UBSan report and exits with 0, its pass pattern found, must still fail
# (the sanitizer patterns that mpmp__sanitize_tests adds to every test);
# WILL_FAIL turns that expected failure into this test's pass.
if("undefined" IN_LIST MPMP_SANITIZERS)
  add_executable(sanitizer_report_exit0 sanitizers/report_exit0.c)
  target_compile_options(sanitizer_report_exit0 PRIVATE ${MPMP_WARNING_FLAGS}
                         -fsanitize-recover=undefined)
  add_test(NAME sanitizer_report_fails_test COMMAND sanitizer_report_exit0)
  set_tests_properties(sanitizer_report_fails_test PROPERTIES
    TIMEOUT 30
    WILL_FAIL TRUE
    LABELS sanitizer
    # it must get to its end: no halt on the report
    ENVIRONMENT "UBSAN_OPTIONS=halt_on_error=0:print_stacktrace=1"
    PASS_REGULAR_EXPRESSION "done: exit 0")
endif()

# pseudo-mpirun.sh reaps its own job's leftovers, never the processes of a
# namespace that got one of its pseudo-nodes' old inode numbers (the kernel
# reuses them at once): tests/scripts/pseudo_reap_foreign.sh.
add_test(NAME scripts_pseudo_reap_only_own_job
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/pseudo_reap_foreign.sh"
          "${PROJECT_SOURCE_DIR}/scripts/pseudo-mpirun.sh")
set_tests_properties(scripts_pseudo_reap_only_own_job PROPERTIES
  TIMEOUT 90
  PROCESSORS 2
  SKIP_RETURN_CODE 77
  LABELS "mpi;scripts;pseudo"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "PASSED: pseudo-mpirun.sh reaped its own leftover")

# The layers of src/ (README.md, "Layers"): no file includes a header of a
# higher layer or uses a symbol that a higher layer defines (nm over this
# build's objects). It fails on the first upward call anyone adds.
add_test(NAME layers
  COMMAND "${MPMP_BASH}" "${SCRIPTS_DIR}/check-layers.sh" "${PROJECT_BINARY_DIR}")
set_tests_properties(layers PROPERTIES
  TIMEOUT 60
  LABELS "scripts"
  PASS_REGULAR_EXPRESSION "no file includes or uses a layer above its own"
  FAIL_REGULAR_EXPRESSION "check-layers: [^\n]*(higher|not a layer|outside|two headers|no header)")

# More pseudo-nodes than CPUs: pseudo-mpirun.sh deals them round-robin over
# the CPUs, never every node's first rank on core 0 (issue 17):
# tests/scripts/pseudo_spread.sh.
add_test(NAME scripts_pseudo_spread_over_cpus
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/pseudo_spread.sh"
          "${MPMP_RUN_MPI}" $<TARGET_FILE:mpmp-info>)
set_tests_properties(scripts_pseudo_spread_over_cpus PROPERTIES
  TIMEOUT 150
  PROCESSORS 2
  SKIP_RETURN_CODE 77
  LABELS "mpi;scripts;pseudo"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "PASSED: 4 pseudo-nodes on 2 CPUs")

# mpmp-scaling --sleep: sleeping items on more workers than cores, the
# dispatch's cost alone (issue 17): tests/scripts/scaling_sleep.sh checks
# the CSV line against what sleepers must give.
foreach(run "np9|9|" "pseudo3|7|--pseudo,3")
  string(REPLACE "|" ";" run "${run}")
  list(GET run 0 suffix)
  list(GET run 1 ranks)
  list(GET run 2 launch)
  string(REPLACE "," ";" launch "${launch}")
  set(test scripts_scaling_sleep_${suffix})
  add_test(NAME ${test}
    COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/scaling_sleep.sh"
            "${MPMP_RUN_MPI}" $<TARGET_FILE:mpmp-scaling> ${ranks} ${launch})
  set(labels "mpi;scripts")
  if(launch)
    list(APPEND labels pseudo)
  endif()
  set_tests_properties(${test} PROPERTIES
    TIMEOUT 120
    PROCESSORS 2
    LABELS "${labels}"
    ENVIRONMENT "${MPMP_SANITIZER_ENV}"
    FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
    PASS_REGULAR_EXPRESSION "PASSED: --sleep on ${ranks} ranks")
endforeach()

# run-mpi.sh --timeout beyond 10^9 s is refused before any arithmetic
# (bash's 64-bit numbers wrapped 18446744073709551617 to a 1 s time-out).
foreach(run "wraps|18446744073709551617" "too_long|1000000001")
  string(REPLACE "|" ";" run "${run}")
  list(GET run 0 name)
  list(GET run 1 value)
  add_test(NAME scripts_run_mpi_timeout_${name}
    COMMAND "${MPMP_BASH}" -c "\"$1\" \"$2\" --timeout ${value} -n 2 true; echo \"status $?\""
            run-mpi "${MPMP_BASH}" "${MPMP_RUN_MPI}")
  set_tests_properties(scripts_run_mpi_timeout_${name} PROPERTIES
    TIMEOUT 30
    LABELS "scripts"
    PASS_REGULAR_EXPRESSION "run-mpi.sh: error: --timeout wants whole seconds from 0 \\(none\\) to 1000000000, not '${value}'.*status 2\n")
endforeach()

# run-mpi.sh -n past what mpirun reads as an int is refused (mpirun said
# "given a negative number of processes" for 2147483648).
add_test(NAME scripts_run_mpi_np_wraps
  COMMAND "${MPMP_BASH}" -c "\"$1\" \"$2\" -n 2147483648 true; echo \"status $?\""
          run-mpi "${MPMP_BASH}" "${MPMP_RUN_MPI}")
set_tests_properties(scripts_run_mpi_np_wraps PROPERTIES
  TIMEOUT 30
  LABELS "scripts"
  PASS_REGULAR_EXPRESSION "run-mpi.sh: error: -n wants a rank count from 1 to 9999999, not '2147483648'.*status 2\n")
# The batch templates check MPMP_RESUBMITS before the job runs: "2x" was
# bash's error in (( )), read as false, and the job requeued without
# bound; "abc" ended the script after the run (set -u), with no requeue.
foreach(run "slurm|slurm.sbatch|2x" "pbs|pbs.job|abc")
  string(REPLACE "|" ";" run "${run}")
  list(GET run 0 name)
  list(GET run 1 script)
  list(GET run 2 value)
  add_test(NAME scripts_${name}_bad_resubmits
    COMMAND "${MPMP_BASH}" -c "MPMP_RESUBMITS=${value} \"$1\" \"$2\" true; echo \"status $?\""
            batch "${MPMP_BASH}" "${PROJECT_SOURCE_DIR}/scripts/${script}")
  set_tests_properties(scripts_${name}_bad_resubmits PROPERTIES
    TIMEOUT 30
    LABELS "scripts"
    PASS_REGULAR_EXPRESSION "${script}: error: MPMP_RESUBMITS wants a whole number [^\n]*not '${value}'\nstatus 2\n")
endforeach()
# Pseudo-nodes under a TMPDIR with a space: Open MPI split the launcher's
# path at it ("a path that could not be found", exit 243).
add_test(NAME scripts_pseudo_tmpdir_with_space
  COMMAND "${MPMP_BASH}" -c "d=\"$(mktemp -d '/tmp/mpmp tmp XXXXXX')\"; TMPDIR=\"$d\" \"$1\" --pseudo 2 --timeout 60 -n 2 \"$2\" >/dev/null; s=$?; rm -rf \"$d\"; echo \"status $s\""
          pseudo "${MPMP_RUN_MPI}" $<TARGET_FILE:mpmp-info>)
set_tests_properties(scripts_pseudo_tmpdir_with_space PROPERTIES
  TIMEOUT 90
  PROCESSORS 2
  LABELS "scripts;pseudo"
  ENVIRONMENT "${MPMP_SANITIZER_ENV}"
  PASS_REGULAR_EXPRESSION "^status 0\n$")

# The tools' and examples' command-line values: bad ones refused with
# status 2 and a message naming the option, a count too large for the
# memory reported (tests/scripts/apps_bad_args.sh).
set(sanitized "")
if(MPMP_SANITIZERS)
  set(sanitized sanitized)
endif()
add_test(NAME scripts_apps_bad_args
  COMMAND "${MPMP_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/scripts/apps_bad_args.sh"
          "${MPMP_RUN_MPI}" $<TARGET_FILE_DIR:mpmp-scaling>
          $<TARGET_FILE_DIR:checkpoint_map> "${sanitized}")
set_tests_properties(scripts_apps_bad_args PROPERTIES
  TIMEOUT 120
  PROCESSORS 2
  LABELS "mpi;scripts"
  ENVIRONMENT "${MPMP_SANITIZER_ENV}"
  PASS_REGULAR_EXPRESSION "PASSED: bad values refused")

# scaling-study.sh --sleep: a sweep of sleeping items on 3 and 9 ranks (no
# serial reference; serial_s is items x task_ms).
add_test(NAME scripts_scaling_study_sleep_np3_np9
  COMMAND "${MPMP_BASH}" "${SCRIPTS_DIR}/scaling-study.sh" --no-build --sleep --ranks 3,9
          --mode strong --task-ms 5 --items 32 --reps 1 --no-plot
          --out "${CMAKE_CURRENT_BINARY_DIR}/scaling-study-sleep/sl")
set_tests_properties(scripts_scaling_study_sleep_np3_np9 PROPERTIES
  TIMEOUT 120
  PROCESSORS 2
  LABELS "mpi;scripts"
  ENVIRONMENT "MPMP_BUILD_DIR=${PROJECT_BINARY_DIR};${MPMP_SANITIZER_ENV}"
  FAIL_REGULAR_EXPRESSION "${MPMP_TEST_FAIL_REGEX}"
  PASS_REGULAR_EXPRESSION "sleeping items of 5 ms.*strong +1/1 +3 +2 +2 +1 +32 +5.000 +0.1600 .*strong +1/1 +9 +8 +8 +1 +32 +5.000 +0.1600 ")
