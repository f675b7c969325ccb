#!/usr/bin/env bash
# Nothing a job makes is left in /dev/shm, however it ends (SharedMemory,
# issue #6): runs tests/mpi/test_shm_job.c with a /dev/shm of its own (a
# fresh tmpfs in a mount namespace of its own, so other jobs on the machine
# neither disturb nor hide anything) and checks that it is empty afterwards
# and that no process of the job is left.
#
#   test_shm_devshm.sh MODE RUN_MPI PROGRAM [run-mpi options...]
#
#   MODE  normal | abort | abort-worker   the job ends so (see test_shm_job.c)
#         sigint          Ctrl-C: SIGINT to the launcher's process group
#         sigint-mpirun   SIGINT to mpirun alone
#         isolation       two jobs at once, with the same block names
#
# Needs a mount namespace (root, or unprivileged user namespaces); exits
# with 77 (skipped) without one.
set -euo pipefail

(($# >= 3)) || { echo "usage: $0 MODE RUN_MPI PROGRAM [run-mpi options...]" >&2; exit 2; }

if [[ "${MPMP_SHM_TEST_NS:-}" != 1 ]]; then
  export MPMP_SHM_TEST_NS=1
  if unshare --mount true 2>/dev/null; then
    exec unshare --mount bash "$0" "$@"
  elif unshare --user --map-root-user --mount true 2>/dev/null; then
    exec unshare --user --map-root-user --mount bash "$0" "$@"
  fi
  echo "SKIPPED: no mount namespace here for a private /dev/shm"
  exit 77
fi

mode="$1" run_mpi="$2" prog="$3"
shift 3
launch=("$@")

mount -t tmpfs -o size=1g,mode=1777 mpmp-test-shm /dev/shm
work="$(mktemp -d "${TMPDIR:-/tmp}/mpmp-shm-test.XXXXXX")"
token="shmtest$$x$RANDOM"
cleanup() {
  # the job's processes, if the test failed with some left
  pkill -KILL -f -- "$token" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*"
  for f in "$work"/*.out; do
    [[ -f "$f" ]] || continue
    echo "--- $f"
    cat "$f"
  done
  exit 1
}

# Processes of the job still alive after it ended (a moment's grace).
check_no_process_left() {
  local i
  for ((i = 0; i < 50; i++)); do
    pgrep -f -- "$token" >/dev/null 2>&1 || return 0
    sleep 0.1
  done
  ps -o pid,ppid,stat,args -p "$(pgrep -d, -f -- "$token")" || true
  fail "processes of the job are still running 5 s after it ended"
}

check_dev_shm_empty() {
  local left
  left="$(find /dev/shm -mindepth 1 2>/dev/null)"
  if [[ -n "$left" ]]; then
    ls -laR /dev/shm
    fail "left in /dev/shm after the job: $(echo "$left" | tr '\n' ' ')"
  fi
}

# A job in the background, in a process group of its own (job control), so
# that it can be sent a Ctrl-C like a terminal's.
start_job() { # name, then the program's arguments
  local name="$1"
  shift
  set -m
  bash "$run_mpi" --timeout 50 "${launch[@]}" "$prog" "$@" >"$work/$name.out" 2>&1 &
  set +m
  pid=$!
}

wait_for() { # file, pattern, seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# The mpirun of a job started by start_job (one node, or pseudo-nodes).
mpirun_of() {
  local p
  for p in $(pgrep -x mpirun); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$token" && { echo "$p"; return 0; }
  done
  return 1
}

t0=$SECONDS
case "$mode" in
  normal)
    start_job job normal "$token"
    rc=0; wait "$pid" || rc=$?
    if grep -q "[1-9][0-9]* block fds held after finalize" "$work/job.out"; then
      fail "mpmp_finalize() left blocks open in their creators (is" \
        "mpmp__shm_fini() called in runtime.c's teardown()?)"
    fi
    ((rc == 0)) || fail "the job failed (exit $rc)"
    grep -q "JOB OK" "$work/job.out" || fail "the job did not end normally"
    ;;
  abort | abort-worker)
    start_job job "$mode" "$token" "$work"
    rc=0; wait "$pid" || rc=$?
    ((rc != 0)) || fail "MPI_Abort, yet the job exited with 0"
    # the file as well as the line: MPICH's mpiexec can lose the output
    # of a job that MPI_Abort ends
    [[ -f "$work/aborting" ]] || grep -q "ABORTING" "$work/job.out" ||
      fail "the job did not reach MPI_Abort"
    grep -q "outlived" "$work/job.out" && fail "the job outlived MPI_Abort"
    ;;
  sigint | sigint-mpirun)
    start_job job wait "$token"
    wait_for "$work/job.out" READY 40 || fail "the job never got ready"
    if [[ "$mode" == sigint ]]; then
      kill -INT -- "-$pid"
    else
      mp="$(mpirun_of)" || fail "no mpirun found for the job"
      kill -INT "$mp"
    fi
    t1=$SECONDS
    rc=0; wait "$pid" || rc=$?
    ((rc != 0)) || fail "interrupted, yet the job exited with 0"
    ((SECONDS - t1 <= 15)) || fail "the job took $((SECONDS - t1)) s to end after SIGINT"
    grep -q "never interrupted" "$work/job.out" && fail "SIGINT did not end the job"
    ;;
  isolation)
    mkdir "$work/sync"
    start_job A iso "$token" A B "$work/sync"
    a=$pid
    start_job B iso "$token" B A "$work/sync"
    b=$pid
    rca=0; wait "$a" || rca=$?
    rcb=0; wait "$b" || rcb=$?
    ((rca == 0 && rcb == 0)) || fail "job A exited with $rca, job B with $rcb"
    grep -q "ISOLATION OK (A)" "$work/A.out" || fail "job A did not check"
    grep -q "ISOLATION OK (B)" "$work/B.out" || fail "job B did not check"
    ;;
  *)
    echo "unknown mode '$mode'" >&2
    exit 2
    ;;
esac
check_no_process_left
check_dev_shm_empty
for f in "$work"/*.out; do
  echo "--- $(basename "$f")"
  cat "$f"
done
echo "PASSED: $mode: nothing left in /dev/shm, no process left ($((SECONDS - t0)) s)"
