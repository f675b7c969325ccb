#!/usr/bin/env bash
# Stopping scripts/run-mpi.sh stops its whole job and leaves nothing behind
# (issue 13, item 21): runs tests/scripts/launcher_block.c (every rank
# blocked in mpmp) under run-mpi.sh as a background job of this
# non-interactive script, which bash starts with SIGINT ignored, sends the
# launcher SIGNAL once the job is ready, and checks that within 10 s the
# launcher has ended, no process of the job is left, and the job's private
# directory in /dev/shm is gone.
#
#   launcher_signals.sh SIGNAL RUN_MPI PROGRAM [run-mpi options...]
#
#   SIGNAL  KILL (no trap sees it), INT or TERM
#
# The processes of the job are every descendant of the launcher once the
# job is ready (mpirun, the pseudo-nodes' shells and daemons, the ranks),
# each known by pid and start time so that a reused pid does not count,
# and anything whose command line carries this run's token.
set -euo pipefail

usage() {
  echo "usage: $0 KILL|INT|TERM RUN_MPI PROGRAM [run-mpi options...]" >&2
  exit 2
}
(($# >= 3)) || usage
sig="$1" run_mpi="$2" prog="$3"
shift 3
launch=("$@")
[[ "$sig" =~ ^(KILL|INT|TERM)$ ]] || usage

limit=10
token="launcher-test-$$-$RANDOM"
work="$(mktemp -d "${TMPDIR:-/tmp}/mpmp-launcher-test.XXXXXX")"
procs=() # "pid:starttime" of the job's processes
shmdir=""
launcher=""

# "STATE STARTTIME" of a pid (fields 3 and 22 of /proc/PID/stat; the
# command name, field 2, may hold spaces and is skipped).
proc_stat() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  read -r -a fields <<<"${stat##*) }"
  echo "${fields[0]} ${fields[19]}"
}

# The recorded processes still alive (a zombie has ended), and any process
# with the token on its command line.
alive() {
  local p s
  for p in ${procs[@]+"${procs[@]}"}; do
    s="$(proc_stat "${p%%:*}")" || continue
    [[ "${s% *}" != [ZX] && "${s#* }" == "${p#*:}" ]] && echo "${p%%:*}"
  done
  pgrep -f -- "$token" || true
}

# Every descendant of a pid, as "pid:starttime".
descendants() {
  local p s
  for p in $(ps -e -o pid= -o ppid= | awk -v root="$1" '
      { parent[$1] = $2 }
      END {
        keep[root] = 1
        do {
          added = 0
          for (p in parent)
            if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; added = 1 }
        } while (added)
        for (p in keep) if (p != root) print p
      }'); do
    s="$(proc_stat "$p")" && echo "$p:${s#* }"
  done
}

cleanup() {
  # What a failed run left is killed here, so that it does not linger.
  local p
  for p in $(alive | sort -u); do kill -KILL "$p" 2>/dev/null || true; done
  [[ -z "$shmdir" ]] || rm -rf "$shmdir"
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*"
  local left
  left="$(alive | sort -u | paste -sd, -)"
  [[ -z "$left" ]] || ps -o pid,ppid,stat,args -p "$left" || true
  echo "--- the job's output"
  cat "$work/job.out"
  exit 1
}

# Not "set -m": the launcher stays in this script's process group and,
# as a background job of a non-interactive shell, starts with SIGINT
# ignored, as it would under any script that runs it with "&".
: >"$work/job.out" # there before the job opens it: the loop below reads it
bash "$run_mpi" --timeout 120 "${launch[@]}" "$prog" "$token" >"$work/job.out" 2>&1 &
launcher=$!
procs+=("$launcher:$(proc_stat "$launcher" | cut -d' ' -f2)")

for ((i = 0; i < 600; i++)); do
  grep -q READY "$work/job.out" && break
  kill -0 "$launcher" 2>/dev/null || fail "the job ended before it was ready"
  sleep 0.1
done
grep -q READY "$work/job.out" || fail "the job was not ready after 60 s"

mapfile -t -O "${#procs[@]}" procs < <(descendants "$launcher")
ranks="$(pgrep -c -f -- "$prog $token" || true)"
((ranks >= 2)) || fail "expected the job's ranks among the processes, found $ranks"
# Each rank has the job's private /dev/shm directory in its environment.
for p in $(pgrep -f -- "$prog $token"); do
  shmdir="$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
    sed -n 's/^OMPI_MCA_btl_vader_backing_directory=//p')" || true
  [[ -z "$shmdir" ]] || break
done
if [[ -w /dev/shm ]]; then
  [[ "$shmdir" == /dev/shm/mpmp-job.* && -d "$shmdir" ]] ||
    fail "no private /dev/shm directory found for the job ('$shmdir')"
fi

t0=$EPOCHREALTIME
kill -"$sig" "$launcher"
while :; do
  left="$(alive | sort -un | paste -sd' ' -)"
  [[ -n "$left" || (-n "$shmdir" && -e "$shmdir") ]] || break
  elapsed="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
  if awk -v e="$elapsed" -v l="$limit" 'BEGIN { exit !(e > l) }'; then
    [[ -z "$left" ]] || fail "SIG$sig to the launcher: processes $left still running after $limit s"
    fail "SIG$sig to the launcher: $shmdir still there after $limit s"
  fi
  sleep 0.05
done
elapsed="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
rc=0
wait "$launcher" || rc=$?
((rc != 0)) || fail "SIG$sig to the launcher, yet it exited with 0"
grep -q "never killed" "$work/job.out" && fail "the job ran to its end"
echo "--- the job's output"
cat "$work/job.out"
echo "PASSED: SIG$sig to the launcher (exit $rc): no process of the job left and its /dev/shm directory gone after $elapsed s"
