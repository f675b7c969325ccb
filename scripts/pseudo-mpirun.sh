#!/usr/bin/env bash
# One mpirun job over K pseudo-nodes on this machine.
#
#   scripts/pseudo-mpirun.sh K [mpirun arguments...]
#   scripts/pseudo-mpirun.sh 2 -n 4 ./a.out      # ranks 0,2 on one node, 1,3 on the other
#
# Open MPI takes every hostfile entry for which it starts its own daemon
# (orted) as a separate node. Here the "remote shell" that starts each orted is
# a local launcher that gives the daemon its own UTS namespace and hostname
# (pseudo-1, pseudo-2, ... for hostfile entries 127.0.0.2, 127.0.0.3, ...), so
# MPI_Get_processor_name, MPI_COMM_TYPE_SHARED and the shared-memory transport
# all see K nodes, and traffic between them goes over TCP on loopback
# (measured on Debian 12 with Open MPI 4.1.4: a 6-rank job over 3 pseudo-nodes
# starts and ends in about 0.5 s).
#
# Ranks are mapped round-robin over the nodes (--map-by node), oversubscribed
# as needed. Don't pass --hostfile, --host or --map-by yourself.
#
# Environment: MPMP_PSEUDO_SLOTS  slots per pseudo-node (default: cores here).
# Needs root (CAP_SYS_ADMIN), or unprivileged user namespaces (then each
# pseudo-node runs in its own user namespace, as root there).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mpmp_restore_sigint "${BASH_SOURCE[0]}" "$@"

usage() {
  echo "usage: $(basename "$0") K [mpirun arguments...]   (K = number of pseudo-nodes, 1..250)" >&2
  exit 2
}

(($# >= 1)) || usage
nodes="$1"
shift
if ! [[ "$nodes" =~ ^[0-9]+$ ]] || ((nodes < 1 || nodes > 250)); then
  usage
fi
slots="${MPMP_PSEUDO_SLOTS:-$(mpmp_nproc)}"
[[ "$slots" =~ ^[1-9][0-9]*$ ]] || mpmp_die "MPMP_PSEUDO_SLOTS must be a positive integer, not '$slots'"
command -v mpirun >/dev/null 2>&1 || mpmp_die "mpirun not found (run scripts/test.sh once, or install openmpi-bin)"
command -v unshare >/dev/null 2>&1 || mpmp_die "unshare not found (install util-linux)"

mpmp_mpi_env

# A new UTS namespace needs CAP_SYS_ADMIN (root, but not in every container);
# without it, a user namespace of our own grants it. Open MPI's daemon refuses
# to run as root (which we then are, inside that namespace) unless told it may.
if unshare --uts true 2>/dev/null; then
  unshare_cmd="unshare --uts"
  launcher_env=""
elif unshare --user --map-root-user --uts true 2>/dev/null; then
  unshare_cmd="unshare --user --map-root-user --uts"
  launcher_env="OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM; "
else
  mpmp_die "pseudo-nodes need a UTS namespace each: run as root with CAP_SYS_ADMIN, or allow unprivileged user namespaces ('unshare --uts' and 'unshare --user --map-root-user --uts' both failed)"
fi

# The temp dir goes when this script ends, or, should it be killed by
# SIGKILL, once it and the job are gone (scripts/common.sh).
mpmp_cleanup_watcher
# Not under a TMPDIR with white space: the launcher's path goes to Open
# MPI's plm_rsh_agent, which splits it at spaces ("a path that could not
# be found").
tmpbase="${TMPDIR:-/tmp}"
[[ "$tmpbase" != *[[:space:]]* ]] || tmpbase=/tmp
tmp="$(mktemp -d "$tmpbase/mpmp-pseudo.XXXXXX")"
mpmp_cleanup_add "$tmp"
trap 'rm -rf "$tmp"' EXIT

# IP literals, not names: a name that resolves nowhere costs a DNS lookup,
# which stalls 5 s on the resolver timeout in a few percent of launches.
# 127.0.0.1 itself would be taken as the local node.
for ((i = 1; i <= nodes; i++)); do
  echo "127.0.0.$((i + 1)) slots=$slots"
done >"$tmp/hostfile"

# The plm_rsh_agent is called like ssh: [options] host command words...
# The command words are meant for a remote shell (some carry their own quotes,
# e.g. -mca orte_hnp_uri "123.0;tcp://...", and with --prefix, or mpirun run
# by absolute path, they start with "PATH=...; export PATH; ..."), so they are
# joined with spaces and handed to sh -c, just as sshd would. No "exec" in
# front of them (it would try to run "PATH=..."): sh stays as orted's parent,
# like the ssh client it stands in for.
# Real nodes have their own cores. Pseudo-nodes all run on this machine, and
# each would deal its ranks from core 0: ranks of different pseudo-nodes
# pinned to one core starve each other (a pool round trip took 120 us
# instead of 20). So each pseudo-node gets its own slice of the CPUs this
# script may use (node n: every K-th CPU from the n-th), when there are at
# least as many CPUs as nodes, and else one CPU, dealt round-robin (node n:
# CPU (n - 1) mod CPUs), so that more pseudo-nodes than CPUs still spread
# over all of them (each node's first rank used to get core 0: an MPI round
# trip of 8 ms). mpmp binds its ranks inside that slice, and Open MPI is
# told not to bind (it would ignore the slice).
cpus=()
allowed="$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status 2>/dev/null || true)"
IFS=, read -r -a ranges <<<"${allowed:-}"
for r in "${ranges[@]}"; do
  if [[ "$r" == *-* ]]; then
    for ((c = ${r%-*}; c <= ${r#*-}; c++)); do cpus+=("$c"); done
  elif [[ -n "$r" ]]; then
    cpus+=("$r")
  fi
done
slices=""
if ((${#cpus[@]} > 0)); then
  for ((n = 1; n <= nodes; n++)); do
    list=""
    if ((${#cpus[@]} >= nodes)); then
      for ((j = n - 1; j < ${#cpus[@]}; j += nodes)); do
        list+="${list:+,}${cpus[j]}"
      done
    else
      list="${cpus[(n - 1) % ${#cpus[@]}]}"
    fi
    slices+="  $n) cpus=$list ;;"$'\n'
  done
fi

cat >"$tmp/launch" <<EOF
#!/bin/sh
# Marks every process of the pseudo-node as this job's (see job_pids).
MPMP_PSEUDO_JOB='$tmp'
export MPMP_PSEUDO_JOB
while [ \$# -gt 0 ]; do
  case "\$1" in
    -[BbcDEeFIiJLlmOoPpQRSWw]) shift 2 ;;  # ssh options that take an argument
    -*) shift ;;
    *) break ;;
  esac
done
if [ \$# -lt 2 ]; then
  echo "mpmp pseudo-node launcher: expected 'host command...', got: \$*" >&2
  exit 255
fi
# The node name must not contain dots: Open MPI cuts names at the first dot
# (unless orte_keep_fqdn_hostnames is set), and "pseudo-127.0.0.2" and
# "pseudo-127.0.0.3" would both become "pseudo-127": one node again, whose two
# daemons then collide in /dev/shm. 127.0.0.(n+1) is called pseudo-n.
case "\$1" in
  127.0.0.*) name="pseudo-\$((\${1##*.} - 1))" ;;
  *) name="pseudo-\$(printf '%s' "\$1" | tr -c 'A-Za-z0-9-' '-')" ;;
esac
shift
cpus=""
case "\${name#pseudo-}" in
$slices  *) ;;
esac
pin=""
[ -n "\$cpus" ] && pin="taskset -c \$cpus"
# The new namespace's inode is noted, so that the script can find every
# process of this pseudo-node (daemon and ranks) once mpirun is gone.
exec \$pin $unshare_cmd sh -c "${launcher_env}hostname \$name || exit 255; stat -L -c %i /proc/self/ns/uts >>'$tmp/namespaces'; \$*"
EOF
chmod +x "$tmp/launch"
: >"$tmp/namespaces"

# When mpirun ends a job early (--timeout, a failed rank, a signal) it kills
# the launchers and exits before the pseudo-nodes' daemons have ended their
# ranks. Wait for every process of the job's pseudo-nodes to go, so that
# nothing of the job outlives this script (the next job or test would share
# the cores with it); after 10 s, kill what is left. They are the processes
# in the job's UTS namespaces that carry its mark (MPMP_PSEUDO_JOB, set by
# the launcher for the daemon, which passes it on to the ranks): the mark
# is needed because the kernel gives a new namespace the lowest free inode
# number, so once one of ours is gone, another job's pseudo-node started
# after it has the very number ours had.
job_pids() {
  [[ -s "$tmp/namespaces" ]] || return 0
  local pid
  for pid in $({ stat -L -c '%i %n' /proc/[0-9]*/ns/uts 2>/dev/null || true; } |
    awk 'NR == FNR { ns[$1] = 1; next }
         ($1 in ns) { split($2, p, "/"); print p[3] }' "$tmp/namespaces" -); do
    if grep -qzxF "MPMP_PSEUDO_JOB=$tmp" "/proc/$pid/environ" 2>/dev/null; then
      echo "$pid"
    fi
  done
}
reap_job() {
  local pids deadline=$((SECONDS + 10))
  while :; do
    pids="$(job_pids)"
    [[ -n "$pids" ]] || return 0
    if ((SECONDS >= deadline)); then
      mpmp_log "processes of the job still running 10 s after mpirun: killing ${pids//$'\n'/ }"
      # shellcheck disable=SC2086 # one PID per word
      kill -KILL $pids 2>/dev/null || true
      return 0
    fi
    sleep 0.05
  done
}

# Open MPI's session directories (/tmp/ompi.<node>.<uid>) go in our own
# temp dir (orte_tmpdir_base): the pseudo-nodes' names are the same for
# every user of the machine, and a directory that root or another user
# left under /tmp would stop the daemons (mkdir: Permission denied).
# mpirun runs in the background so that a TERM/INT sent to this script is
# passed on (mpirun then ends the whole job) and the temp dir still goes.
# "<&0" keeps stdin, which a background job would otherwise lose. mpirun
# gets SIGTERM if this script dies by SIGKILL (mpmp_die_with_shell).
bind=()
[[ -n "$slices" ]] && bind=(--bind-to none)
mpmp_die_with_shell
${MPMP_DIE_WITH_SHELL[@]+"${MPMP_DIE_WITH_SHELL[@]}"} \
mpirun --hostfile "$tmp/hostfile" --map-by node "${bind[@]}" \
  --mca plm_rsh_agent "$tmp/launch" --mca orte_tmpdir_base "$tmp" \
  --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
  --oversubscribe "$@" <&0 &
mpirun_pid=$!
# INT, TERM and HUP all go on as SIGTERM, which mpirun takes to mean: end
# the whole job.
trap 'kill -TERM "$mpirun_pid" 2>/dev/null || true' INT TERM HUP
# SIGUSR1 and SIGUSR2 go on as they are: mpirun passes them to every rank
# (Slurm's --signal=B:USR1@120 before the walltime: a checkpointing
# program stops its maps then).
trap 'kill -USR1 "$mpirun_pid" 2>/dev/null || true' USR1
trap 'kill -USR2 "$mpirun_pid" 2>/dev/null || true' USR2
while :; do
  rc=0
  wait "$mpirun_pid" || rc=$?
  # A trapped signal interrupts wait; mpirun (perhaps a zombie) is then
  # still there to be waited for.
  kill -0 "$mpirun_pid" 2>/dev/null || break
done
reap_job
exit "$rc"
