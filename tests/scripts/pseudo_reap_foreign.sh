#!/usr/bin/env bash
# scripts/pseudo-mpirun.sh reaps what its own job leaves behind, and nothing
# else: a pseudo-node is a UTS namespace, and the kernel gives a new
# namespace the lowest free inode number, so another job's pseudo-node (or
# any other namespace) started after one of ours is gone gets the very
# number ours had. The script must not take that namespace's processes for
# its own (it waits for them and, after 10 s, kills them).
#
#   pseudo_reap_foreign.sh PSEUDO_MPIRUN
#
# Stages it: a 2-node job whose rank 1 leaves a process behind on node 2
# (so that the script waits, then kills it), and, once node 1's namespace
# is gone, a process in a new namespace that has node 1's old inode
# number. That process must outlive the job; the leftover must not.
# Exits with 77 (skipped) without UTS namespaces, or when the inode number
# could not be had (something else on the machine took it first).
set -euo pipefail

pseudo_mpirun="${1:?usage: pseudo_reap_foreign.sh PSEUDO_MPIRUN}"
if ! unshare --uts true 2>/dev/null; then
  echo "SKIPPED: no UTS namespaces here (needs root)"
  exit 77
fi

token="reap-test-$$-$RANDOM"
work="$(mktemp -d "${TMPDIR:-/tmp}/mpmp-reap-test.XXXXXX")"
foreign=""
fillers=()
cleanup() {
  [[ -z "$foreign" ]] || kill -KILL "$foreign" 2>/dev/null || true
  local p
  for p in ${fillers[@]+"${fillers[@]}"}; do kill -KILL "$p" 2>/dev/null || true; done
  for p in $(pgrep -f -- "$token" || true); do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*"
  echo "--- the job's output"
  cat "$work/job.out"
  exit 1
}

ns_of() { stat -L -c %i "/proc/$1/ns/uts" 2>/dev/null; }

# The processes in the namespace with this inode number.
ns_pids() {
  local f
  for f in /proc/[0-9]*/ns/uts; do
    if [[ "$(stat -L -c %i "$f" 2>/dev/null)" == "$1" ]]; then
      f="${f#/proc/}"
      echo "${f%%/*}"
    fi
  done
}

# Has every one of these processes ended (a zombie has)?
all_gone() {
  local p stat
  for p in "$@"; do
    stat="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    stat="${stat##*) }"
    [[ "${stat:0:1}" == [ZX] ]] || return 1
  done
  return 0
}

# Each rank prints its namespace; rank 1 leaves a process behind that
# ignores the signals a job's end sends (it has the token in its name).
# shellcheck disable=SC2016 # expanded by the ranks' sh
rank='echo "rank $OMPI_COMM_WORLD_RANK ns $(stat -L -c %i /proc/self/ns/uts)"
if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
  sh -c "trap \"\" TERM INT HUP; sleep 30" "leftover-$1" </dev/null >/dev/null 2>&1 &
fi
sleep 3'
: >"$work/job.out" # there before the job opens it: the loop below reads it
bash "$pseudo_mpirun" 2 --timeout 60 -n 2 sh -c "$rank" "$token" "$token" >"$work/job.out" 2>&1 &
job=$!

ns1="" ns2=""
for ((i = 0; i < 300; i++)); do
  ns1="$(sed -n 's/^rank 0 ns \([0-9]*\)$/\1/p' "$work/job.out")"
  ns2="$(sed -n 's/^rank 1 ns \([0-9]*\)$/\1/p' "$work/job.out")"
  [[ -n "$ns1" && -n "$ns2" ]] && break
  kill -0 "$job" 2>/dev/null || fail "the job ended early"
  sleep 0.1
done
if [[ -z "$ns1" || -z "$ns2" ]]; then
  ps -eo pid,ppid,stat,etimes,args --forest | grep -B2 -A8 -- "$token" | cut -c1-200
  fail "the ranks did not report their namespaces"
fi
[[ "$ns1" != "$ns2" ]] || fail "both ranks in one namespace: not two pseudo-nodes"

# Node 1 ends with the job; node 2 lingers (the leftover). Node 1's end is
# that of its processes, not of the namespace's number, which another
# namespace may have again by then.
mapfile -t node1 < <(ns_pids "$ns1")
((${#node1[@]} > 0)) || fail "no process in node 1's namespace $ns1"
for ((i = 0; i < 300; i++)); do
  all_gone "${node1[@]}" && break
  sleep 0.1
done
all_gone "${node1[@]}" || fail "node 1's processes ${node1[*]} still there 30 s on"
kill -0 "$job" 2>/dev/null || fail "pseudo-mpirun.sh did not wait for the leftover on node 2"

# A namespace of our own with node 1's old number. The kernel hands out
# the lowest free number: namespaces that get a lower one are kept (in
# "fillers") until one gets node 1's.
for ((i = 0; i < 20; i++)); do
  unshare --uts sleep 60 &
  foreign=$!
  for ((j = 0; j < 50; j++)); do
    [[ "$(ns_of "$foreign")" != "$(ns_of $$)" ]] && break
    sleep 0.01
  done
  got="$(ns_of "$foreign")"
  [[ "$got" == "$ns1" ]] && break
  fillers+=("$foreign")
  foreign=""
  if [[ ! "$got" =~ ^[0-9]+$ ]] || ((got > ns1)); then
    break # past it: something else has node 1's old number
  fi
done
if [[ -z "$foreign" ]]; then
  echo "SKIPPED: could not get a namespace with inode number $ns1 (taken by another)"
  exit 77
fi
echo "process $foreign in a new namespace with node 1's old inode number $ns1"

rc=0
wait "$job" || rc=$?
((rc == 0)) || fail "the job exited with $rc"
kill -0 "$foreign" 2>/dev/null ||
  fail "pseudo-mpirun.sh killed process $foreign, which is not its job's (a new namespace with an old inode number)"
leftover="$(pgrep -f -- "leftover-$token" || true)"
[[ -z "$leftover" ]] || fail "the job's leftover process $leftover is still running"
echo "--- the job's output"
cat "$work/job.out"
echo "PASSED: pseudo-mpirun.sh reaped its own leftover and left namespace $ns1's new process alone"
