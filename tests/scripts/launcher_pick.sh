#!/usr/bin/env bash
# scripts/run-mpi.sh picks the launcher of the program's MPI, whatever
# `mpirun` comes first in PATH (issue 18): a machine with both Open MPI and
# MPICH, MPICH's mpirun and mpiexec first.
#
#   launcher_pick.sh REPO_ROOT PROGRAM WORK_DIR
#
# PROGRAM is an Open MPI build's mpmp-info. Checks that
#  1. with MPICH's mpirun/mpiexec first in PATH, run-mpi.sh -n 2 runs one
#     job of 2 ranks (the wrong launcher would start 2 one-rank jobs);
#  2. MPMP_MPIRUN naming MPICH's launcher is refused, saying why.
# Prints "PASSED"; exits 77 (skipped) where MPICH's launcher or an Open
# MPI program is missing.
set -uo pipefail
root="$1" prog="$2" work="$3"
hydra="$(command -v mpiexec.hydra || command -v mpiexec.mpich || true)"
if [[ -z "$hydra" ]] || ! ldd "$prog" 2>/dev/null | grep -q 'libmpi\.so'; then
  echo "skipped: needs MPICH's mpiexec and an Open MPI build"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work/bin"
ln -s "$hydra" "$work/bin/mpirun"
ln -s "$hydra" "$work/bin/mpiexec"
fail() {
  echo "FAILED: $1"
  cat "$work/log"
  exit 1
}

PATH="$work/bin:$PATH" bash "$root/scripts/run-mpi.sh" --timeout 60 -n 2 \
  "$prog" >"$work/log" 2>&1 || fail "run-mpi.sh failed with MPICH's mpirun first in PATH"
[[ "$(grep -c '^ranks: *2 (1 main + 1 workers)' "$work/log")" == 1 ]] ||
  fail "not one job of 2 ranks"
echo "1. MPICH's mpirun first in PATH: Open MPI's launcher used, one job of 2 ranks"

MPMP_MPIRUN=mpiexec.mpich bash "$root/scripts/run-mpi.sh" -n 2 "$prog" \
  >"$work/log" 2>&1 && fail "MPMP_MPIRUN=mpiexec.mpich was accepted"
grep -q "is linked with Open MPI but MPMP_MPIRUN=mpiexec.mpich is MPICH's launcher" \
  "$work/log" || fail "the refusal does not say why"
echo "2. MPMP_MPIRUN=mpiexec.mpich: refused, saying why"
rm -rf "$work"
echo "PASSED"
