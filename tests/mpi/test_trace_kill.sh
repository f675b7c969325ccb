#!/usr/bin/env bash
# MPMP_TRACE when the job is ended from outside: run `test_trace hang`
# (a map, then a map whose items never end), end it one way, and check the
# trace file it left (`test_trace check-killed`: a valid trace written on
# SIGTERM, the first map whole, the hanging job and chunks unfinished).
#
#   test_trace_kill.sh RUN_MPI PROGRAM HOW RANKS [run-mpi.sh options...]
#
# HOW:
#   timeout      mpirun's --timeout ends the job (SIGTERM to every rank,
#                SIGKILL 1 s later)
#   term-mpirun  SIGTERM to the launcher (as Ctrl-C or a batch system's
#                kill), which ends the job the same way
#   term-main    SIGTERM to the main rank alone, twice: the first stops the
#                maps (it has pool work) and has the file written, the
#                second ends it; mpirun then ends the workers (their own
#                files, FILE.rankN.json, if they write any, are checked too)
#   checkpoint   as timeout, with MPMP_CHECKPOINT set: the main rank's stop
#                handler takes the SIGTERM (the maps stop) and the trace is
#                written all the same
# Prints "PASSED: HOW: ..." or "FAILED: ..." with the run's output.
set -uo pipefail

run_mpi="$1" program="$2" how="$3" ranks="$4"
shift 4

dir="$(mktemp -d)"
out="$dir/out"
trap '[[ -n "${MPMP_TEST_KEEP:-}" ]] || rm -rf "$dir"' EXIT
export MPMP_TEST_TRACE="$dir/trace.json"

fail() {
  echo "FAILED: $how: $*"
  echo "---- output ----"
  cat "$out"
  exit 1
}

# The seconds until "hanging" appears in the output (the job got that
# far), or fail after `limit`.
wait_hanging() {
  local limit="$1" start=$SECONDS
  until grep -q "test_trace: hanging" "$out"; do
    kill -0 "$job" 2>/dev/null || fail "the job ended before it hung"
    ((SECONDS - start < limit)) || fail "no 'hanging' line within $limit s"
    sleep 0.2
  done
}

# run-mpi.sh multiplies its --timeout by MPMP_TIMEOUT_SCALE (sanitizer
# builds run slower); the waits here grow the same way.
scale="${MPMP_TIMEOUT_SCALE:-1}"
case "$how" in
  timeout | checkpoint)
    # long enough to start and hang (a few seconds), short enough to wait
    [[ "$how" == checkpoint ]] && export MPMP_CHECKPOINT="$dir/checkpoint"
    bash "$run_mpi" --timeout 10 "$@" -n "$ranks" "$program" hang \
      >"$out" 2>&1 &
    job=$!
    wait_hanging $((10 * scale))
    start=$SECONDS
    ;;
  term-mpirun | term-main)
    bash "$run_mpi" --timeout 60 "$@" -n "$ranks" "$program" hang \
      >"$out" 2>&1 &
    job=$!
    wait_hanging $((50 * scale))
    start=$SECONDS
    if [[ "$how" == term-mpirun ]]; then
      kill -TERM "$job"
    else
      # The first SIGTERM stops the maps (the main rank has pool work:
      # parallel/walltime.c) and has the file written; the second ends it.
      pid="$(sed -n 's/.*hanging (main pid \([0-9]*\)).*/\1/p' "$out")"
      [[ -n "$pid" ]] || fail "no main pid in the output"
      kill -TERM "$pid"
      until grep -q "written as the maps stop" "$MPMP_TEST_TRACE" 2>/dev/null; do
        ((SECONDS - start < 20 * scale)) || fail "no trace written on the first SIGTERM"
        sleep 0.1
      done
      kill -TERM "$pid"
    fi
    ;;
  *)
    echo "usage: $0 RUN_MPI PROGRAM timeout|term-mpirun|term-main|checkpoint RANKS [options]" >&2
    exit 2
    ;;
esac
wait "$job"
rc=$?
((rc != 0)) || fail "the job exited with status 0"
echo "the job ended with status $rc, $((SECONDS - start)) s after it hung or was signalled"
grep -q "test_trace: FAILED" "$out" && fail "the program failed"
grep -Eq "\] (WARN|ERROR): .*MPMP_TRACE|malformed trace" "$out" &&
  fail "a warning about the trace"
"$program" check-killed "$MPMP_TEST_TRACE" "$ranks" >>"$out" 2>&1 ||
  fail "the trace file is not what it should be"
grep "test_trace: " "$out" | grep -v hanging
echo "PASSED: $how: the killed job's trace is valid and holds what ran"
