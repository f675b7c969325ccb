#!/usr/bin/env bash
# mpmp-scaling --sleep (issue 17): a map of sleeping items on more workers
# than cores measures the dispatch alone. Checks the CSV line against what
# sleeping items must give: serial_s = items x task_ms exactly; parallel_s
# no less than the items each worker sleeps through (no map of sleepers
# can beat that: a run that did not sleep fails); the efficiency at most
# 100 % (with a little for timer rounding); cores = the workers, each with
# a "core" (core_per_worker 1). No speed is judged.
#
#   scaling_sleep.sh RUN_MPI MPMP_SCALING RANKS [run-mpi.sh options...]
set -uo pipefail
run_mpi="$1" prog="$2" ranks="$3"
shift 3
workers=$((ranks - 1)) per=4 ms=20
out="$(bash "$run_mpi" --timeout 100 "$@" -n "$ranks" "$prog" --sleep \
  --items-per-worker "$per" --task-ms "$ms" --reps 1 2>&1)"
rc=$?
fail() {
  echo "FAILED: $1"
  echo "---- output ----"
  echo "$out"
  exit 1
}
((rc == 0)) || fail "mpmp-scaling exited with $rc"
line="$(tail -n 1 <<<"$out")"
IFS=, read -r f_ranks f_workers f_nodes f_items f_task f_serial f_par f_speed f_eff f_cores f_cpw <<<"$line"
[[ "$f_ranks" == "$ranks" && "$f_workers" == "$workers" && "$f_items" == $((per * workers)) ]] ||
  fail "ranks, workers or items are not $ranks, $workers, $((per * workers)): $line"
awk -v items="$f_items" -v task="$f_task" -v serial="$f_serial" -v par="$f_par" \
  -v eff="$f_eff" -v per="$per" -v ms="$ms" 'BEGIN {
    if (task != ms) { print "task_ms " task ", not " ms; exit 1 }
    if (serial < items * ms / 1000 - 0.0001 || serial > items * ms / 1000 + 0.0001) {
      print "serial_s " serial ", not items x task_ms"; exit 1 }
    if (par < per * ms / 1000 * 0.98) {
      print "parallel_s " par " is less than " per " sleeps of " ms " ms"; exit 1 }
    if (eff > 1.02) { print "efficiency " eff " above 100 %"; exit 1 }
  }' || fail "the CSV line is not a map of sleeping items: $line"
[[ "$f_cores" == "$workers" && "$f_cpw" == 1 ]] ||
  fail "cores $f_cores and core_per_worker $f_cpw, not $workers and 1: $line"
echo "PASSED: --sleep on $ranks ranks: $line"
