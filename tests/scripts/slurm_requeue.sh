#!/usr/bin/env bash
# scripts/slurm.sbatch's path for a job stopped before its walltime, run
# here with stand-ins for Slurm's commands (nothing of Slurm is installed):
#
#   slurm_requeue.sh SCRIPTS_DIR PROGRAM
#
# `srun` runs the ranks through run-mpi.sh (3 ranks); `scontrol` records
# its arguments. Run 1 of "job 4242": Slurm's --signal=B:USR1 reaches the
# batch script mid-map; the program exits with 75 and the script must
# requeue the job (`scontrol requeue 4242`) and exit 0. Run 2 (the
# requeued job, SLURM_RESTART_COUNT=1) must resume from the same
# checkpoint (mpmp-checkpoint-4242 in the submit directory), run only the
# rest, and give the results of a run without checkpoint. With
# MPMP_RESUBMITS=1, a second stop is not requeued. Prints "PASSED".
set -uo pipefail

scripts="$1" program="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/srun" <<EOF
#!/usr/bin/env bash
# srun's stand-in: its options are noted and go, the ranks start through
# run-mpi.sh
echo "SRUN_CPUS_PER_TASK=\${SRUN_CPUS_PER_TASK:-}" >"$tmp/srun.args"
while [[ "\$1" == --* ]]; do echo "\$1" >>"$tmp/srun.args"; shift; done
exec bash "$scripts/run-mpi.sh" --timeout 0 -n 3 "\$@"
EOF
cat >"$tmp/bin/scontrol" <<EOF
#!/usr/bin/env bash
echo "\$*" >>"$tmp/scontrol.log"
EOF
chmod +x "$tmp/bin/srun" "$tmp/bin/scontrol"

fail() {
  echo "FAILED: $1"
  echo "---- output ----"
  cat "$tmp/log" 2>/dev/null
  exit 1
}

args=(--items 1500 --item-ms 3)
bash "$scripts/run-mpi.sh" --timeout 0 -n 3 "$program" "${args[@]}" \
  --out "$tmp/ref" >"$tmp/log" 2>&1 || fail "the run without checkpoint failed"

job() { # the batch script as Slurm would start it, in the background
  env PATH="$tmp/bin:$PATH" SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR="$tmp" \
    SLURM_CPUS_PER_TASK=1 \
    SLURM_RESTART_COUNT="$1" MPMP_STOP_GRACE=5 MPMP_RESUBMITS="${2:-20}" \
    bash "$scripts/slurm.sbatch" "$program" "${args[@]}" --out "$tmp/out" \
    >"$tmp/log" 2>&1 &
  pid=$!
}

# Wait until the job's map is under way (its journal holds a record).
wait_for_record() {
  for ((i = 0; i < 600; i++)); do
    (($(stat -c %s "$ckpt/map-0001.mpmpj" 2>/dev/null || echo 0) > 300)) && return 0
    kill -0 "$pid" 2>/dev/null || fail "$1 ended before the map was under way"
    sleep 0.05
  done
  fail "$1: no journal record after 30 s"
}

# Run 1: SIGUSR1 once the map is under way (its journal holds a record).
ckpt="$tmp/mpmp-checkpoint-4242"
job 0
wait_for_record "run 1"
kill -USR1 "$pid"
wait "$pid"
rc=$?
((rc == 0)) || fail "run 1: the script exited with $rc (expected 0 after requeueing)"
grep -qx "requeue 4242" "$tmp/scontrol.log" 2>/dev/null ||
  fail "run 1: the job was not requeued (scontrol: $(cat "$tmp/scontrol.log" 2>/dev/null))"
grep -q "requeueing job 4242 to resume from $ckpt" "$tmp/log" ||
  fail "run 1: the script did not say it requeues"
[[ -e "$tmp/out" ]] && fail "run 1: the stopped program wrote results"
grep -qx -- "--cpus-per-task=1" "$tmp/srun.args" &&
  grep -qx "SRUN_CPUS_PER_TASK=1" "$tmp/srun.args" ||
  fail "run 1: srun was not given the job's --cpus-per-task ($(tr '\n' ' ' <"$tmp/srun.args"))"
echo "run 1: stopped by SIGUSR1, exit status 75, requeued"

# Run 2: the requeued job.
job 1
wait "$pid"
rc=$?
((rc == 0)) || fail "run 2: exit status $rc"
grep -q "job 4242 (run 2)" "$tmp/log" || fail "run 2: the script did not count the run"
read -r ran resumed < <(sed -n 's/.*: ran \([0-9]*\) here, \([0-9]*\) from the checkpoint.*/\1 \2/p' "$tmp/log")
((resumed > 0 && ran + resumed == 1500)) ||
  fail "run 2: ran ${ran:-?} and resumed ${resumed:-?} of 1500 items"
cmp -s "$tmp/ref" "$tmp/out" || fail "run 2: the results differ from a run without checkpoint"
echo "run 2: resumed $resumed items, ran $ran, results identical"

# A job stopped as often as MPMP_RESUBMITS allows is not requeued again.
rm -rf "$ckpt" "$tmp/scontrol.log" "$tmp/out"
job 1 1
wait_for_record "run 3"
kill -USR1 "$pid"
wait "$pid"
rc=$?
((rc == 75)) || fail "run 3: exit status $rc, expected 75 (not requeued)"
[[ -e "$tmp/scontrol.log" ]] && fail "run 3: requeued past MPMP_RESUBMITS"
echo "run 3: past MPMP_RESUBMITS: not requeued, exit status 75"
echo "PASSED"
