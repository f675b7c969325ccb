#!/usr/bin/env bash
# Pseudo-nodes for any user (issue 18): Open MPI's session directories are
# named after the node and the user (/tmp/ompi.pseudo-1.0 ...), the same
# names for every user of the machine; one that root left behind made a
# later user's pseudo-node job fail (mkdir: Permission denied). Here root
# leaves such directories, then user nobody runs a job on two
# pseudo-nodes, which must start and print its binding table.
#
#   pseudo_other_user.sh RUN_MPI PROGRAM
#
# Exits 77 (skipped) when not root, without runuser, or when nobody
# cannot reach the program (a build under a private home).
set -uo pipefail
run_mpi="$1" program="$2"
if ((EUID != 0)) || ! command -v runuser >/dev/null ||
  ! runuser -u nobody -- test -x "$program" 2>/dev/null ||
  ! runuser -u nobody -- test -r "$run_mpi" 2>/dev/null; then
  echo "SKIPPED: needs root, runuser, and a build that user nobody can reach"
  exit 77
fi
for node in pseudo-1 pseudo-2; do
  mkdir -p "/tmp/ompi.$node.0/root-was-here"
  chmod 700 "/tmp/ompi.$node.0"
done
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
chmod 644 "$out"
timeout -k 5 60 runuser -u nobody -- env TMPDIR=/tmp \
  bash "$run_mpi" --pseudo 2 --timeout 50 -n 2 "$program" >"$out" 2>&1
rc=$?
cat "$out"
((rc == 0)) || { echo "FAILED: user nobody's pseudo-node job exited with $rc"; exit 1; }
grep -q "^1 .*pseudo-2 .* worker" "$out" || { echo "FAILED: no binding table"; exit 1; }
echo "PASSED"
