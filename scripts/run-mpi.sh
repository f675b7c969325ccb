#!/usr/bin/env bash
# Launch an MPI program the way mpmp's tests and users do.
#
#   scripts/run-mpi.sh [--pseudo K] [--timeout SECONDS] [--mca NAME VALUE]...
#                      [-x VAR[=VALUE]]... -n N program [args...]
#
#   --pseudo K         spread the N ranks over K pseudo-nodes on this machine
#                      (scripts/pseudo-mpirun.sh); default: one node, plain mpirun
#   --timeout SECONDS  mpirun kills the whole job after this long and exits
#                      with 110 (default 120; 0 = no limit)
#   --mca, -x          passed to mpirun
#
# Also passed to mpirun: the words of $MPMP_MPIRUN_ARGS (e.g. "--mca osc sm,pt2pt").
# The launcher is the one of the program's MPI (scripts/common.sh,
# mpmp_pick_launcher): Open MPI's mpirun, or MPICH's Hydra mpiexec, to which
# -x becomes -genv/-genvlist and --timeout MPIEXEC_TIMEOUT (its time-out
# also exits with 110 here); --mca is Open MPI's only. MPMP_MPIRUN names the
# launcher outright.
# MPMP_TIMEOUT_SCALE=K (a whole number) multiplies the --timeout: sanitizer
# builds of the tests set it, as their programs run several times slower.
# Ranks may outnumber cores (--oversubscribe); the Open MPI environment comes
# from scripts/common.sh (mpmp_mpi_env). The exit status is mpirun's (128 + N
# when a signal N to this script ended the job and the launcher said 0).
#
# The job ends with this script, however it is stopped: SIGINT, SIGTERM or
# SIGHUP to it end the job (SIGINT too when this script is a background job
# of another script, which starts it with SIGINT ignored), and so does
# SIGKILL (mpirun gets SIGTERM when this script dies). The job's private
# directory in /dev/shm goes when the job has ended, even after a SIGKILL.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mpmp_restore_sigint "${BASH_SOURCE[0]}" "$@"

usage() {
  if (($#)); then
    echo "$(basename "$0"): error: $* (see --help)" >&2
  else
    echo "usage:" >&2
    sed -n '4,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  fi
  exit 2
}

pseudo=""
timeout=120
np=""
extra=()
mca=()
envs=()
while (($#)); do
  case "$1" in
    --pseudo)
      (($# >= 2)) || usage "--pseudo needs a node count"
      pseudo="$2"
      shift 2
      ;;
    --timeout)
      (($# >= 2)) || usage "--timeout needs a number of seconds"
      timeout="$2"
      shift 2
      ;;
    --mca | -mca | --gmca | -gmca)
      (($# >= 3)) || usage "$1 needs a name and a value"
      mca+=("$1" "$2" "$3")
      shift 3
      ;;
    -x)
      (($# >= 2)) || usage "-x needs a variable"
      [[ "$2" =~ ^[A-Za-z_][A-Za-z0-9_]*(=.*)?$ ]] || usage "-x wants VAR or VAR=VALUE, not '$2'"
      envs+=("$2")
      shift 2
      ;;
    -n | -np | --np | -c)
      (($# >= 2)) || usage "$1 needs a rank count"
      np="$2"
      shift 2
      ;;
    -h | --help)
      usage
      ;;
    --)
      shift
      break
      ;;
    -*)
      usage "unknown option '$1' (put other mpirun options in MPMP_MPIRUN_ARGS)"
      ;;
    *)
      break
      ;;
  esac
done

(($# >= 1)) || usage "no program given"
[[ "$np" =~ ^[1-9][0-9]*$ ]] || usage "-n N (a positive rank count) is required"
# mpirun reads the count as a C int: 2147483648 became -2147483648 and
# 10^21 became -1 ("given a negative number of processes").
[[ "$np" =~ ^[0-9]{1,7}$ ]] || usage "-n wants a rank count from 1 to 9999999, not '$np'"
# At most 10^9 s (some 31 years), checked before any arithmetic: bash's
# 64-bit numbers wrapped 18446744073709551617 to 1 s.
[[ "$timeout" =~ ^[0-9]{1,10}$ ]] && ((10#$timeout <= 1000000000)) ||
  usage "--timeout wants whole seconds from 0 (none) to 1000000000, not '$timeout'"
[[ -z "$pseudo" || "$pseudo" =~ ^[1-9][0-9]*$ ]] || usage "--pseudo wants a node count, not '$pseudo'"
scale="${MPMP_TIMEOUT_SCALE:-1}"
[[ "$scale" =~ ^[1-9][0-9]{0,3}$ ]] ||
  usage "MPMP_TIMEOUT_SCALE wants a whole number from 1 to 9999, not '$scale'"
timeout=$((10#$timeout * scale))
mpmp_pick_launcher "$1"
[[ -z "$pseudo" || "$MPMP_LAUNCHER_KIND" != mpich ]] ||
  mpmp_die "--pseudo needs Open MPI's mpirun, and $1 is an MPICH program: run pseudo-node jobs with an Open MPI build"
mpmp_mpi_env

args=()
if [[ "$MPMP_LAUNCHER_KIND" == mpich ]]; then
  # Hydra: oversubscribes without being asked, passes the whole environment
  # (-genv sets a value), and times out by MPIEXEC_TIMEOUT, exiting with 255.
  # The ranks start on this machine, as mpirun's do here: forked, with no
  # node list from a batch system's variables (Hydra would ssh to the
  # nodes of a PBS_NODEFILE or srun into a Slurm allocation).
  args+=(-launcher fork -rmk user)
  ((${#mca[@]} == 0)) ||
    usage "${mca[0]} is an Open MPI option, and $1 is an MPICH program (launcher $MPMP_LAUNCHER_CMD)"
  for e in ${envs[@]+"${envs[@]}"}; do
    if [[ "$e" == *=* ]]; then
      extra+=(-genv "${e%%=*}" "${e#*=}")
    else
      extra+=(-genvlist "$e")
    fi
  done
  if ((timeout > 0)); then
    export MPIEXEC_TIMEOUT="$timeout"
  else
    unset MPIEXEC_TIMEOUT
  fi
else
  args+=(--oversubscribe)
  if ((timeout > 0)); then
    args+=(--timeout "$timeout")
  fi
  extra+=(${mca[@]+"${mca[@]}"})
  for e in ${envs[@]+"${envs[@]}"}; do
    extra+=(-x "$e")
  done
fi
if [[ -n "${MPMP_MPIRUN_ARGS:-}" ]]; then
  read -r -a more <<<"$MPMP_MPIRUN_ARGS"
  extra+=("${more[@]}")
fi
args+=(${extra[@]+"${extra[@]}"} -n "$np")

# Open MPI's shared-memory transport keeps its segments in /dev/shm and
# leaves them there when a rank dies. Each job gets a directory of its own
# there, removed afterwards whatever happened, so no job leaves anything:
# by this script when the job ends, or by the watcher once both this script
# and the job are gone (SIGKILL to this script). The watcher starts first,
# so that the directory is never without someone to remove it.
mpmp_cleanup_watcher
shmdir=""
if [[ -d /dev/shm && -w /dev/shm ]]; then
  shmdir="$(mktemp -d /dev/shm/mpmp-job.XXXXXX)"
  mpmp_cleanup_add "$shmdir"
  export OMPI_MCA_btl_vader_backing_directory="$shmdir"
fi
cleanup() { [[ -z "$shmdir" ]] || rm -rf "$shmdir"; }
trap cleanup EXIT

# Not exec: this shell stays to clean up. Signals go on to the launcher,
# which ends the job; "<&0" keeps stdin for the background job. The
# launcher gets SIGTERM should this shell die without passing a signal on
# (SIGKILL): a job must never outlive the command that started it.
mpmp_die_with_shell
started=$SECONDS
if [[ -n "$pseudo" ]]; then
  ${MPMP_DIE_WITH_SHELL[@]+"${MPMP_DIE_WITH_SHELL[@]}"} \
    "$BASH" "$MPMP_ROOT/scripts/pseudo-mpirun.sh" "$pseudo" "${args[@]}" "$@" <&0 &
else
  ${MPMP_DIE_WITH_SHELL[@]+"${MPMP_DIE_WITH_SHELL[@]}"} \
    "$MPMP_LAUNCHER_CMD" "${args[@]}" "$@" <&0 &
fi
job=$!
# INT, TERM and HUP all go on as SIGTERM, which every launcher (mpirun,
# pseudo-mpirun.sh) takes to mean: end the whole job.
# The signal is remembered: Hydra's mpiexec, killed while its proxies
# report, may exit 0 for a job it cut short (it counts only the statuses it
# got); a job ended by a signal never says success here (128 + the signal,
# as a shell's command killed by it).
signalled=0
end_job() { # the signal's number
  signalled="$1"
  kill -TERM "$job" 2>/dev/null || true
}
trap 'end_job 2' INT
trap 'end_job 15' TERM
trap 'end_job 1' HUP
# SIGUSR1 and SIGUSR2 go on as they are: mpirun passes them to every rank
# (Slurm's --signal=B:USR1@120 before the walltime: a checkpointing
# program stops its maps then).
trap 'kill -USR1 "$job" 2>/dev/null || true' USR1
trap 'kill -USR2 "$job" 2>/dev/null || true' USR2
rc=0
while :; do
  wait "$job" && rc=0 || rc=$?
  # wait returns early (>128) when a trapped signal arrives: wait again.
  kill -0 "$job" 2>/dev/null || break
done
if ((rc == 0 && signalled != 0)); then
  mpmp_log "the job was ended by a signal, though the launcher said 0: exit status $((128 + signalled))"
  rc=$((128 + signalled))
fi
# Hydra's time-out exits with 255 like any failure; say 110 as mpirun does.
if [[ "$MPMP_LAUNCHER_KIND" == mpich ]] && ((rc == 255 && timeout > 0 &&
  SECONDS - started >= timeout)); then
  rc=110
fi
exit "$rc"
