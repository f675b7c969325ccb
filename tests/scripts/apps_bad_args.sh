#!/usr/bin/env bash
# The tools' and examples' command-line values (apps/args.h): a negative,
# non-numeric, non-finite, out-of-range or overflowing value is refused
# with status 2 and a message naming the option, before any work (strtoull
# took --rounds -1 as 2^64 - 1 and ran until the job's timeout; atoll took
# --items abc as 0; a cast to int took --workers 4294967297 as 1); a
# count too large for the memory ends with status 1 and a message saying
# so (checkpoint_map crashed on its unchecked calloc, mpmp-scaling said
# "MPMP_ENOMEM: " and nothing). Most runs are singletons (no mpirun): the
# values are checked before or right after mpmp_init.
#
#   apps_bad_args.sh RUN_MPI APPS_DIR EXAMPLES_DIR [SANITIZERS]
# With sanitizers the memory failures are not tried (ASan aborts on such a
# malloc and needs more address space than the limit used here).
set -uo pipefail
run_mpi="$1" apps="$2" examples="$3" sanitizers="${4:-}"
failed=0

# expect STATUS PATTERN COMMAND...: the exit status and a line of the output
expect() {
  local want="$1" pattern="$2" out rc
  shift 2
  out="$(timeout 60 "$@" 2>&1)"
  rc=$?
  if ((rc != want)) || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAILED: ${*#"$apps/"}: status $rc (want $want), output:"
    sed 's/^/  | /' <<<"$out" | head -n 8
    echo "  wanted a line matching: $pattern"
    failed=1
  else
    echo "ok: $(basename "$1") ${*:2}: status $rc"
  fi
}

s="$apps/mpmp-scaling"
invalid="is not valid: give a (whole )?number from"
expect 2 "^mpmp-scaling: --rounds '-1' $invalid 0 to" "$s" --rounds -1
expect 2 "^mpmp-scaling: --task-ms 'inf' $invalid" "$s" --task-ms inf
expect 2 "^mpmp-scaling: --task-ms '1e300' $invalid" "$s" --sleep --task-ms 1e300
expect 2 "^mpmp-scaling: --workers '4294967297' $invalid 0 to 2147483647" \
  "$s" --workers 4294967297
expect 2 "^mpmp-scaling: --reps '4294967297' $invalid 1 to" "$s" --reps 4294967297
expect 2 "^mpmp-scaling: --items '12x' $invalid" "$s" --items 12x
expect 2 "^mpmp-scaling: unknown option '--itmes'" "$s" --itmes 12
expect 0 "^usage: mpirun -n RANKS mpmp-scaling" "$s" --help
# --help wherever it is, as mpmp-bench and mpmp-info take it
expect 0 "^usage: mpirun -n RANKS mpmp-scaling" "$s" --header --help
expect 0 "^usage: mpirun -n RANKS mpmp-scaling" "$s" --items 5 -h
# a worker is needed to get as far as the items' allocation
[[ -n "$sanitizers" ]] || expect 1 "^mpmp-scaling: out of memory: 1000000000000 x 16 bytes for the items" \
  bash "$run_mpi" --timeout 50 -n 2 "$s" --items 1000000000000 --task-ms 1

c="$examples/checkpoint_map"
expect 2 "^checkpoint_map: --items '100000000000' $invalid 1 to" "$c" --items 100000000000
expect 2 "^checkpoint_map: --items 'abc' $invalid" "$c" --items abc
expect 2 "^checkpoint_map: --chunk '-1' $invalid 0 to" "$c" --chunk -1
expect 2 "^checkpoint_map: --item-ms 'nan' $invalid" "$c" --item-ms nan
# what was wrong is named (it printed only the usage), and --help is no
# error
expect 2 "^checkpoint_map: unknown option '--bogus'" "$c" --bogus
expect 2 "^checkpoint_map: no value after '--items'" "$c" --items
expect 2 "^checkpoint_map: --mode 'foo' is not one of map, imap, exmap, exstream" \
  "$c" --mode foo
expect 0 "^usage: .*checkpoint_map \[--items N\]" "$c" --help
# an error of mpmp's is exit status 1, not the code's low byte (240)
expect 1 "^checkpoint_map: mpmp_pool_create: .*start the job with more ranks" \
  bash "$run_mpi" --timeout 50 -n 1 "$c" --items 10 --item-ms 0
# 8 GB asked for under a 3 GB address space: refused, no crash
[[ -n "$sanitizers" ]] || expect 1 "^checkpoint_map: out of memory: 1000000000 x 8 bytes for the items" \
  bash -c 'ulimit -v 3000000 && exec "$@"' limited "$c" --items 1000000000

d="$examples/demo_parallel_map"
expect 2 "^demo_parallel_map: --items '-5' $invalid 0 to" "$d" --items -5
expect 2 "^demo_parallel_map: --work-ms 'abc' $invalid" "$d" --work-ms abc
expect 2 "^demo_parallel_map: unknown option '--itmes'" "$d" --itmes 5
expect 0 "^usage: mpirun -n RANKS .*demo_parallel_map" "$d" --work-ms 5 --help
expect 2 "^parallel_vs_serial: the seconds per item 'abc' $invalid" \
  "$examples/parallel_vs_serial" abc
# the tutorials' pause, read on the main rank after mpmp_init
expect 2 "^[^ ]*process_worker_function: the pause '-1' $invalid 0 to 3600" \
  "$examples/process_worker_function" -1
expect 2 "^[^ ]*queue_items_sentinel: the pause 'abc' $invalid" \
  "$examples/queue_items_sentinel" abc

((failed == 0)) || exit 1
echo "PASSED: bad values refused with status 2, memory failures reported"
