#!/usr/bin/env bash
# A task that crashes or exits ends the job by itself, promptly, with a
# report naming task, item and rank: run test_crash in one MODE several
# times, with no mpirun --timeout to end it.
#
#   test_crash.sh RUN_MPI PROGRAM MODE RUNS PATTERN [run-mpi.sh options...]
#
# Each run must end (non-zero) within LIMIT seconds (default 60: the job's
# start-up on a loaded machine; a hang never ends), print a line matching
# PATTERN (grep -E), and neither reach the code after the crash nor run
# Open MPI's own crash handler ("Process received signal"), which mallocs
# and so could hang on a heap the task broke. Prints "PASSED: MODE: ..." or
# "FAILED: ..." with the run's output.
set -uo pipefail

run_mpi="$1" program="$2" mode="$3" runs="$4" pattern="$5"
shift 5
limit="${LIMIT:-60}"

fail() {
  echo "FAILED: $mode, run $1 of $runs: $2"
  echo "---- output ----"
  cat "$out"
  exit 1
}

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((i = 1; i <= runs; i++)); do
  start=$EPOCHREALTIME
  # The watchdog only turns a hang into a clear failure (and ends the
  # job's processes); it never lets one pass.
  timeout -k 5 "$limit" bash "$run_mpi" --timeout 0 "$@" "$program" "$mode" \
    >"$out" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  ((rc == 124 || rc == 137)) && fail "$i" "the job hung (still running after $limit s)"
  ((rc == 0)) && fail "$i" "the job exited with status 0"
  grep -Eq -- "$pattern" "$out" || fail "$i" "no line matches: $pattern"
  grep -q "crash: not reached" "$out" && fail "$i" "the main rank went on after the crash"
  grep -q "Process received signal" "$out" &&
    fail "$i" "Open MPI's crash handler ran (it mallocs: it can hang)"
  echo "run $i: ended in $secs s (status $rc)"
done
echo "PASSED: $mode: $runs runs ended promptly with the report"
