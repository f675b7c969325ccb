#!/usr/bin/env bash
# Build mpmp and run the flagship demo, demo_parallel_map: a CPU-bound map
# timed serially on the main rank and in parallel on a Pool with a worker on
# every core here, printing the binding table, both times, the speedup and
# the parallel efficiency.
#
#   scripts/demo.sh [--pseudo K] [program arguments...]
#   scripts/demo.sh --items 200 --work-ms 10
#
# It starts one rank more than there are cores (at least 2 ranks): the main
# rank sleeps while the workers compute, so every core gets a worker.
# --pseudo K spreads the ranks over K pseudo-nodes (scripts/pseudo-mpirun.sh).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

launch=()
if [[ "${1:-}" == --pseudo ]]; then
  (($# >= 2)) || mpmp_die "--pseudo needs a node count"
  launch=(--pseudo "$2")
  shift 2
fi

mpmp_setup demo
# Without CMocka the demo is built without the tests (they need it).
if pkg-config --exists cmocka 2>/dev/null; then
  # shellcheck disable=SC2119 # no extra cmake arguments here
  mpmp_build
else
  mpmp_log "CMocka not found: building without the tests (-DMPMP_BUILD_TESTS=OFF)"
  mpmp_build -DMPMP_BUILD_TESTS=OFF
fi
demo="$MPMP_BUILD_DIR/apps/examples/demo_parallel_map"
[[ -x "$demo" ]] || mpmp_die "$demo was not built (is MPMP_BUILD_APPS off?)"

np=$(($(mpmp_nproc) + 1))
exec bash "$MPMP_ROOT/scripts/run-mpi.sh" ${launch[@]+"${launch[@]}"} -n "$np" "$demo" "$@"
