#!/usr/bin/env bash
# Build mpmp and run its whole test suite: what CI runs (through .ci/run).
#
#   scripts/test.sh [ctest arguments...]     e.g. scripts/test.sh -R placement
#                                                 scripts/test.sh -L pseudo
#
# Installs missing Debian packages first (scripts/common.sh), builds into
# build/ (or $MPMP_BUILD_DIR; extra cmake arguments in $MPMP_CMAKE_ARGS), then
# runs ctest. The exit status is ctest's.
#
# Tests run in parallel over the cores, but each MPI test claims as many
# cores as it has ranks (ctest PROCESSORS), so on a 2-core machine MPI jobs
# run one at a time and only the one-process tests share the machine;
# tests that mostly sleep (label "sleeps") run beside them, through the
# resource spec file the build writes (cmake/mpmpTesting.cmake). Pass
# -j N to choose another level.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mpmp_setup
cmake_args=()
if [[ -n "${MPMP_CMAKE_ARGS:-}" ]]; then
  read -r -a cmake_args <<<"$MPMP_CMAKE_ARGS"
fi
# ON: a build the demo made without tests gets them back
mpmp_build -DMPMP_BUILD_TESTS=ON ${cmake_args[@]+"${cmake_args[@]}"}
mpmp_mpi_env

ctest_args=(--output-on-failure --no-tests=error)
parallel_given=0 spec_given=0
for arg in "$@"; do
  case "$arg" in
    -j* | --parallel*) parallel_given=1 ;;
    --resource-spec-file*) spec_given=1 ;;
  esac
done
# The cores and the sleeping tests' slots, from the build's spec file.
spec="$MPMP_BUILD_DIR/ctest-resources.json"
level="$(mpmp_nproc)"
if ((spec_given == 0)) && [[ -f "$spec" ]]; then
  ctest_args+=(--resource-spec-file "$spec")
  level="$(grep -o '"slots": *[0-9]*' "$spec" | awk '{n += $2} END {print n}')"
fi
if ((parallel_given == 0)) && [[ -z "${CTEST_PARALLEL_LEVEL:-}" ]]; then
  ctest_args+=(--parallel "$level")
fi

cd "$MPMP_BUILD_DIR"
rc=0
ctest "${ctest_args[@]}" "$@" || rc=$?
if ((rc != 0)); then
  mpmp_log "ctest failed (exit $rc); logs: $MPMP_BUILD_DIR/Testing/Temporary/LastTest.log"
fi
exit "$rc"
