#!/usr/bin/env bash
# Build mpmp and run the first example, process_demo, with one rank per core
# here (at least 2: the main rank and one worker).
#
#   scripts/demo.sh [--pseudo K] [program arguments...]
#
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

mpmp_setup
# shellcheck disable=SC2119 # no extra cmake arguments here
mpmp_build
demo="$MPMP_BUILD_DIR/apps/examples/process_demo"
[[ -x "$demo" ]] || mpmp_die "$demo was not built (is MPMP_BUILD_APPS off?)"

np="$(mpmp_nproc)"
((np >= 2)) || np=2
exec bash "$MPMP_ROOT/scripts/run-mpi.sh" ${launch[@]+"${launch[@]}"} -n "$np" "$demo" "$@"
