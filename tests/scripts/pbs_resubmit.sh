#!/usr/bin/env bash
# scripts/pbs.job's path for a job that reaches its walltime, run here with
# stand-ins for PBS's commands (nothing of PBS is installed):
#
#   pbs_resubmit.sh SCRIPTS_DIR PROGRAM
#
# `qstat -f` says the job may run 4 s (mpmp reads it at init when
# MPMP_CHECKPOINT is set, and stops the map before the end); `mpirun`
# starts 3 ranks through run-mpi.sh; `qsub` records its arguments. Run 1
# (job 77.server) must stop mid-map with status 75, and the script must
# submit itself again with the same program, arguments and checkpoint: the
# output file's name has a comma and spaces, which qsub -v's list split
# when they went unescaped.
# Run 2 (the chained job, given what qsub -v passed) must resume, run only
# the rest, and give the results of a run without checkpoint. Prints
# "PASSED".
set -uo pipefail

scripts="$1" program="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/mpirun" <<EOF
#!/usr/bin/env bash
# mpirun's stand-in: -n and --hostfile go, 3 ranks start through run-mpi.sh
while [[ "\$1" == -n || "\$1" == --hostfile ]]; do shift 2; done
export PATH="$PATH:$tmp/bin" # the real mpirun first; qstat for the ranks
exec bash "$scripts/run-mpi.sh" --timeout 0 -n 3 "\$@"
EOF
cat >"$tmp/bin/qstat" <<EOF
#!/usr/bin/env bash
echo "Job Id: \$2"
echo "    resources_used.walltime = 00:00:00"
echo "    Resource_List.walltime = \$(cat "$tmp/walltime")"
EOF
cat >"$tmp/bin/qsub" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$@" >"$tmp/qsub.log"
EOF
chmod +x "$tmp/bin/"*
printf 'node0\nnode0\nnode0\n' >"$tmp/nodefile"

fail() {
  echo "FAILED: $1"
  echo "---- output ----"
  cat "$tmp/log" 2>/dev/null
  exit 1
}

args=(--items 3000 --item-ms 3 --chunk 50)
bash "$scripts/run-mpi.sh" --timeout 0 -n 3 "$program" "${args[@]}" \
  --out "$tmp/ref" >"$tmp/log" 2>&1 || fail "the run without checkpoint failed"

# Run 1: 4 s of walltime; the map needs about 5 s. The job's directory
# (where the checkpoint goes) has a comma in its name too.
out="$tmp/out, two words"
work="$tmp/work, dir"
mkdir "$work"
echo 00:00:04 >"$tmp/walltime"
env PATH="$tmp/bin:$PATH" PBS_JOBID=77.server PBS_NODEFILE="$tmp/nodefile" \
  PBS_O_WORKDIR="$work" \
  MPMP_STOP_GRACE=0.5 \
  bash "$scripts/pbs.job" "$program" "${args[@]}" --out "$out" >"$tmp/log" 2>&1
rc=$?
((rc == 0)) || fail "run 1: the script exited with $rc (expected 0 after resubmitting)"
grep -q "the map was stopped (the walltime (PBS (qstat)) ends in" "$tmp/log" ||
  fail "run 1: the map was not stopped by the walltime qstat gave"
[[ -d "$work/mpmp-checkpoint-77.server" ]] ||
  fail "run 1: no checkpoint in '$work/mpmp-checkpoint-77.server'"
grep -q ",MPMP_CHECKPOINT_ESC=[^,]*checkpoint-77.server:,MPMP_RESUBMITTED=1," "$tmp/qsub.log" 2>/dev/null ||
  fail "run 1: not resubmitted with its checkpoint (qsub: $(cat "$tmp/qsub.log" 2>/dev/null))"
grep -qx "$work/scripts/pbs.job" "$tmp/qsub.log" || fail "run 1: resubmitted another script"
[[ -e "$out" ]] && fail "run 1: the stopped program wrote results"
echo "run 1: stopped before the walltime qstat gave, resubmitted"

# Run 2: the chained job, with what qsub -v passed on (its list split on
# commas, as qsub does).
echo 00:10:00 >"$tmp/walltime"
vars="$(sed -n 's/^MPMP_ARGV=//p' "$tmp/qsub.log")"
[[ -n "$vars" ]] || fail "run 1: no MPMP_ARGV in qsub -v (qsub: $(cat "$tmp/qsub.log"))"
IFS=, read -r -a kv <<<"MPMP_ARGV=$vars"
env PATH="$tmp/bin:$PATH" PBS_JOBID=78.server PBS_NODEFILE="$tmp/nodefile" \
  PBS_O_WORKDIR="$work" "${kv[@]}" bash "$scripts/pbs.job" >"$tmp/log" 2>&1
rc=$?
((rc == 0)) || fail "run 2: exit status $rc"
grep -q "job 78.server (run 2)" "$tmp/log" || fail "run 2: the script did not count the run"
read -r ran resumed < <(sed -n 's/.*: ran \([0-9]*\) here, \([0-9]*\) from the checkpoint.*/\1 \2/p' "$tmp/log")
((resumed > 0 && ran + resumed == 3000)) ||
  fail "run 2: ran ${ran:-?} and resumed ${resumed:-?} of 3000 items"
[[ -e "$out" ]] || fail "run 2: no results in '$out': the arguments were not passed whole"
cmp -s "$tmp/ref" "$out" || fail "run 2: the results differ from a run without checkpoint"
echo "run 2: resumed $resumed items, ran $ran, results identical"
echo "PASSED"
