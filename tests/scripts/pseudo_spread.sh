#!/usr/bin/env bash
# More pseudo-nodes than CPUs (issue 17): scripts/pseudo-mpirun.sh deals
# the nodes round-robin over the CPUs it may use, never all on one core.
# Runs mpmp-info on 4 pseudo-nodes confined to 2 CPUs (taskset) with
# MPMP_REPORT_BINDINGS=1 and checks the table: pseudo-n's rank on CPU
# (n - 1) mod 2 of the two, so both CPUs are used. Exit 77 (skipped) where
# fewer than 2 CPUs are allowed or taskset is missing.
#
#   pseudo_spread.sh RUN_MPI MPMP_INFO
set -uo pipefail
run_mpi="$1" info="$2"
command -v taskset >/dev/null 2>&1 || { echo "SKIPPED: no taskset"; exit 77; }
allowed="$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
cpus=()
IFS=, read -r -a ranges <<<"$allowed"
for r in "${ranges[@]}"; do
  if [[ "$r" == *-* ]]; then
    for ((c = ${r%-*}; c <= ${r#*-}; c++)); do cpus+=("$c"); done
  else
    cpus+=("$r")
  fi
done
((${#cpus[@]} >= 2)) || { echo "SKIPPED: fewer than 2 CPUs allowed ($allowed)"; exit 77; }
two="${cpus[0]},${cpus[1]}"
out="$(MPMP_REPORT_BINDINGS=1 timeout -k 5 120 taskset -c "$two" \
  bash "$run_mpi" --timeout 100 --pseudo 4 -n 4 "$info" 2>&1)"
rc=$?
fail() {
  echo "FAILED: $1"
  echo "---- output ----"
  echo "$out"
  exit 1
}
((rc == 0)) || fail "the job exited with $rc"
# The table's rows: rank node pid cores ... The job prints two tables
# (MPMP_REPORT_BINDINGS on stderr, mpmp-info's on stdout), whose lines may
# interleave in $out: every row of both is checked, and each of the 4
# ranks must have one.
rows="$(awk '$2 ~ /^pseudo-[0-9]+$/ { print $2, $4 }' <<<"$out")"
ranks="$(awk '$2 ~ /^pseudo-[0-9]+$/ { print $1 }' <<<"$out" | sort -u | wc -l)"
((ranks == 4)) || fail "not 4 ranks in the binding tables: '$rows'"
while read -r node cores; do
  n="${node#pseudo-}"
  want="${cpus[(n - 1) % 2]}"
  [[ "$cores" == "$want" ]] || fail "$node's rank is on cores '$cores', not CPU $want"
done <<<"$rows"
echo "PASSED: 4 pseudo-nodes on 2 CPUs: $(tr '\n' ' ' <<<"$rows")"
