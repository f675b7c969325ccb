# shellcheck shell=bash
# Helpers shared by the mpmp scripts; source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# Defines MPMP_ROOT (the repository root, whatever the caller's cwd) and
#   mpmp_setup       install the Debian packages mpmp needs, only those missing
#   mpmp_install_packages PKG...
#                    install these Debian packages if missing (a script's own
#                    tools, e.g. gnuplot-nox for scripts/scaling-study.sh)
#   mpmp_mpi_env     export the Open MPI settings every launch uses
#   mpmp_pick_launcher PROGRAM
#                    set MPMP_LAUNCHER_CMD (the launcher that can start
#                    PROGRAM: Open MPI's mpirun or MPICH's mpiexec) and
#                    MPMP_LAUNCHER_KIND (openmpi, mpich or unknown)
#   mpmp_build ARGS  configure (extra cmake ARGS) and build into $MPMP_BUILD_DIR
#   mpmp_restore_sigint SCRIPT ARGS
#                    run SCRIPT again with SIGINT back to its default when it
#                    was ignored at entry (a background job of a script)
#   mpmp_die_with_shell
#                    set MPMP_DIE_WITH_SHELL: words that start a program so
#                    that it gets SIGTERM when this shell ends, even by SIGKILL
#   mpmp_cleanup_watcher, mpmp_cleanup_add PATH
#                    PATH is removed once this shell and what it started are
#                    gone, however this shell ended (SIGKILL included)
#
# Environment:
#   MPMP_BUILD_DIR    build directory (default: $MPMP_ROOT/build)
#   MPMP_SKIP_SETUP=1 never install packages (offline machines, non-Debian)
#   MPMP_MPIRUN       the launcher to use (default: the one that matches the
#                     program's MPI library; see mpmp_pick_launcher)
#   CI=true           build with -DMPMP_WERROR=ON

if [[ -n "${MPMP_COMMON_SOURCED:-}" ]]; then
  return 0
fi
MPMP_COMMON_SOURCED=1

MPMP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MPMP_BUILD_DIR="${MPMP_BUILD_DIR:-$MPMP_ROOT/build}"
if [[ "$MPMP_BUILD_DIR" != /* ]]; then
  MPMP_BUILD_DIR="$PWD/$MPMP_BUILD_DIR"
fi

mpmp_log() {
  printf '[%s] %s\n' "$(basename "$0")" "$*" >&2
}

mpmp_die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

mpmp_nproc() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1
}

# Prints the packages of "$@" that dpkg does not list as installed.
mpmp__missing_packages() {
  local pkg status
  for pkg in "$@"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

# What mpmp needs, as "check|Debian package": a command in PATH, or
# pkg:NAME (a pkg-config module), or hdr:FILE (a C header the compiler
# finds). The tools are looked for first, wherever they come from (a
# cluster's modules, another distribution); apt installs only what is
# missing, and only where apt exists. A check that starts with "?" is
# wanted, not needed: where there is no apt it is only named (its test is
# skipped without it), except under CI=true, where every test must run
# (Doxygen: the docs_no_warnings test).
mpmp__needs() {
  printf '%s\n' "cc|gcc" "make|make" "hdr:stdio.h|libc6-dev" "cmake|cmake" \
    "pkg-config|pkg-config" "mpicc|libopenmpi-dev" "mpirun|openmpi-bin" \
    "pkg:hwloc|libhwloc-dev" "unshare|util-linux" "pgrep|procps"
  [[ "${1:-test}" == demo ]] ||
    printf '%s\n' "pkg:cmocka|libcmocka-dev" "?doxygen|doxygen"
}

mpmp__have() {
  case "$1" in
  pkg:*) pkg-config --exists "${1#pkg:}" 2>/dev/null ;;
  hdr:*) command -v cc >/dev/null 2>&1 &&
    printf '#include <%s>\n' "${1#hdr:}" | cc -E -x c - >/dev/null 2>&1 ;;
  *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# Installs what mpmp needs to build and test (mpmp_setup demo: to build
# and run the demo, without CMocka and Doxygen): nothing when the tools are
# there, else the Debian packages of those missing (apt-get, with sudo when
# not root); elsewhere it says what to install. MPMP_SKIP_SETUP=1: nothing.
mpmp_setup() {
  if [[ "${MPMP_SKIP_SETUP:-0}" == 1 ]]; then
    return 0
  fi
  local need check want pkgs=() tools=() wanted=()
  while IFS= read -r need; do
    check="${need%%|*}"
    want=0
    if [[ "$check" == \?* ]]; then
      want=1
      check="${check#\?}"
    fi
    if ! mpmp__have "$check"; then
      if ((want)) && [[ "${CI:-}" != true ]]; then
        wanted+=("${check#*:}")
      else
        tools+=("${check#*:}")
      fi
      pkgs+=("${need#*|}")
    fi
  done < <(mpmp__needs "${1:-test}")
  if ((${#pkgs[@]} == 0)); then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    if ((${#tools[@]} > 0)); then
      mpmp_die "missing: ${tools[*]}${wanted[*]:+ ${wanted[*]}}; no apt-get here: install them (or load their modules), or set MPMP_SKIP_SETUP=1"
    fi
    mpmp_log "not found: ${wanted[*]}; no apt-get here to install it: the tests that need it are skipped"
    return 0
  fi
  # apt is there, but only root (or sudo) may use it: what is only wanted
  # is then named and its tests skipped, and what is needed is named alone
  if [[ "$(id -u)" != 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    if ((${#tools[@]} > 0)); then
      mpmp_die "missing: ${tools[*]}; not root, and no sudo to install it with apt-get: install it (or load its module), or set MPMP_SKIP_SETUP=1"
    fi
    mpmp_log "not found: ${wanted[*]}; not root, and no sudo to install it: the tests that need it are skipped"
    return 0
  fi
  mpmp_install_packages "${pkgs[@]}"
}

# Installs the Debian packages "$@" that are missing: what every build and
# test needs (mpmp_setup), or one script's own tools (gnuplot-nox for
# scripts/scaling-study.sh). Nothing is fetched when all are there (no
# apt-get update); MPMP_SKIP_SETUP=1 installs nothing.
mpmp_install_packages() {
  if [[ "${MPMP_SKIP_SETUP:-0}" == 1 ]]; then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    mpmp_die "no apt-get here; install these yourself: $*"
  fi
  local missing
  mapfile -t missing < <(mpmp__missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      mpmp_die "missing packages (${missing[*]}) and not root, and no sudo to install them"
    sudo=(sudo)
  fi
  mpmp_log "installing missing packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    mpmp_die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    mpmp_die "apt-get install ${missing[*]} failed"
}

# Which MPI a program links: openmpi, mpich (MPICH and its derivatives,
# whose launcher is Hydra) or unknown (a script, a static binary, no ldd).
# Asked of the dynamic loader, as that is what the program will get.
mpmp__program_mpi() {
  local prog="$1" path libs
  path="$(command -v -- "$prog" 2>/dev/null)" || path="$prog"
  [[ -f "$path" ]] && head -c 4 "$path" 2>/dev/null | grep -q ELF || {
    echo unknown
    return
  }
  libs="$(ldd "$path" 2>/dev/null)" || libs=""
  if [[ "$libs" == *libmpich* || "$libs" == *libmpi.so.12* ]]; then
    echo mpich
  elif [[ "$libs" == *libmpi.so.40* || "$libs" == *libopen-rte* ]]; then
    echo openmpi
  else
    echo unknown
  fi
}

# Which MPI a launcher belongs to, from its --version.
mpmp__launcher_kind() {
  local out
  out="$("$1" --version 2>&1 </dev/null)" || true
  case "$out" in
    *"Open MPI"* | *OpenRTE*) echo openmpi ;;
    *HYDRA* | *Hydra*) echo mpich ;;
    *) echo unknown ;;
  esac
}

# Sets MPMP_LAUNCHER_CMD and MPMP_LAUNCHER_KIND for running PROGRAM. An MPI
# program started by another MPI's launcher does not fail: each rank runs
# as a job of one rank (MPI singleton init), N copies of the program. So
# the launcher is chosen by the program's MPI library: Open MPI's mpirun
# (mpirun.openmpi on Debian) or MPICH's Hydra (mpiexec.mpich,
# mpiexec.hydra), whichever of them PATH has, then plain mpirun/mpiexec if
# they are of that kind. MPMP_MPIRUN names the launcher outright; it is
# refused when it is known to belong to the other MPI.
mpmp_pick_launcher() {
  local prog="$1" want cand kind
  want="$(mpmp__program_mpi "$prog")"
  if [[ -n "${MPMP_MPIRUN:-}" ]]; then
    command -v -- "$MPMP_MPIRUN" >/dev/null 2>&1 ||
      mpmp_die "MPMP_MPIRUN=$MPMP_MPIRUN: no such launcher (give mpirun, mpiexec.mpich or a path)"
    MPMP_LAUNCHER_CMD="$MPMP_MPIRUN"
    MPMP_LAUNCHER_KIND="$(mpmp__launcher_kind "$MPMP_MPIRUN")"
    if [[ "$want" != unknown && "$MPMP_LAUNCHER_KIND" != unknown &&
      "$want" != "$MPMP_LAUNCHER_KIND" ]]; then
      mpmp_die "$prog is linked with $(mpmp__mpi_name "$want") but MPMP_MPIRUN=$MPMP_MPIRUN is $(mpmp__mpi_name "$MPMP_LAUNCHER_KIND")'s launcher, which would start each rank as a separate one-rank job: unset MPMP_MPIRUN, or give $(mpmp__mpi_name "$want")'s launcher"
    fi
    return 0
  fi
  case "$want" in
    mpich) set -- mpiexec.mpich mpiexec.hydra mpirun.mpich mpiexec mpirun ;;
    openmpi) set -- mpirun mpiexec mpirun.openmpi mpiexec.openmpi ;;
    *) set -- mpirun mpiexec ;;
  esac
  for cand in "$@"; do
    command -v -- "$cand" >/dev/null 2>&1 || continue
    kind="$(mpmp__launcher_kind "$cand")"
    if [[ "$want" == unknown || "$kind" == "$want" ]]; then
      MPMP_LAUNCHER_CMD="$cand"
      MPMP_LAUNCHER_KIND="$kind"
      return 0
    fi
  done
  case "$want" in
    mpich) mpmp_die "$prog is linked with MPICH, and no MPICH launcher (mpiexec.mpich, mpiexec.hydra, or an mpiexec of MPICH) is in PATH: install mpich, or set MPMP_MPIRUN" ;;
    openmpi) mpmp_die "$prog is linked with Open MPI, and no Open MPI mpirun is in PATH: install openmpi-bin (run scripts/test.sh once), or set MPMP_MPIRUN" ;;
    *) mpmp_die "mpirun not found (run scripts/test.sh once, or install openmpi-bin)" ;;
  esac
}

mpmp__mpi_name() {
  case "$1" in
    openmpi) echo "Open MPI" ;;
    mpich) echo "MPICH" ;;
    *) echo "an unknown MPI" ;;
  esac
}

# The Open MPI settings every mpmp launch needs.
mpmp_mpi_env() {
  if [[ "$(id -u)" == 0 ]]; then
    # CI containers run as root; Open MPI refuses that without both.
    export OMPI_ALLOW_RUN_AS_ROOT=1
    export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  # Not set: OMPI_MCA_mpi_yield_when_idle=1. It makes every idle MPI call
  # (each probe and test in mpmp's polling) a sched_yield syscall: measured
  # here, a pool round trip 2.1 -> 4.4 us and a chunksize-1 map 509 k ->
  # 79 k items/s. mpmp never blocks inside MPI calls (its waits poll
  # briefly, yield now and then, and sleep on futexes), so oversubscribed
  # jobs lose only ~0.3 s in Open MPI's own init/finalize collectives.
  # A program that blocks in MPI calls itself can still export it.
  # Not set: OMPI_MCA_btl_vader_single_copy_mechanism=none. CMA
  # (process_vm_readv) works on Debian 12 as root and as a user; only
  # containers whose seccomp profile forbids it need that, and they can set it
  # in the environment (it is passed through).
}

# Configures and builds mpmp into $MPMP_BUILD_DIR with every core.
mpmp_build() {
  local args=(-S "$MPMP_ROOT" -B "$MPMP_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  if [[ "${CI:-}" == true ]]; then
    args+=(-DMPMP_WERROR=ON)
  fi
  cmake "${args[@]}" "$@" || mpmp_die "cmake configure failed (build dir: $MPMP_BUILD_DIR)"
  cmake --build "$MPMP_BUILD_DIR" --parallel "$(mpmp_nproc)" ||
    mpmp_die "build failed (build dir: $MPMP_BUILD_DIR)"
}

# A background job of a non-interactive shell starts with SIGINT ignored,
# and bash can neither trap nor reset a signal that was ignored when it
# started: the script's INT trap would never run, and `kill -INT` to it
# would do nothing. So the script runs itself again, once, with SIGINT back
# to its default (env --default-signal, coreutils 8.31); exec keeps its pid,
# arguments, environment and open files. Where env cannot do that, the
# script goes on as before (SIGINT ignored). Call it first thing:
#
#   mpmp_restore_sigint "${BASH_SOURCE[0]}" "$@"
mpmp_restore_sigint() {
  local script="$1" key value mask=""
  shift
  if [[ -n "${MPMP__SIGINT_RESTORED:-}" ]]; then
    # The second run: the variable must not reach this script's children,
    # which may need the same treatment (a background job of this one).
    unset MPMP__SIGINT_RESTORED
    return 0
  fi
  [[ -r /proc/$$/status ]] || return 0
  while read -r key value; do
    if [[ "$key" == SigIgn: ]]; then
      mask="$value"
      break
    fi
  done </proc/$$/status
  # SigIgn is a hex mask of ignored signals; SIGINT (2) is bit 1.
  [[ "$mask" =~ [0-9a-fA-F]$ ]] && ((16#${mask: -1} & 2)) || return 0
  env --default-signal=INT true 2>/dev/null || return 0
  exec env --default-signal=INT MPMP__SIGINT_RESTORED=1 "$BASH" "$script" "$@"
}

# Sets MPMP_DIE_WITH_SHELL to the words that start a program so that it gets
# SIGTERM when this shell ends, however it ends (SIGKILL too, which no trap
# sees): the parent-death signal (prctl PR_SET_PDEATHSIG), set by setpriv
# (util-linux 2.33) and kept across exec. A launcher that dies by SIGKILL
# thus still ends its job (mpirun ends every rank on SIGTERM), where
# otherwise the job would run on as an orphan. The check of $PPID closes
# the one gap: if this shell died between the fork and the prctl, no signal
# would ever come, so the program is not started at all. Where setpriv
# cannot do it the array is empty (the program is started as it is).
# shellcheck disable=SC2034 # the calling script uses it
mpmp_die_with_shell() {
  MPMP_DIE_WITH_SHELL=()
  if setpriv --pdeathsig TERM true 2>/dev/null; then
    # shellcheck disable=SC2016 # expanded by that sh, not here
    MPMP_DIE_WITH_SHELL=(setpriv --pdeathsig TERM -- sh -c
      '[ "$PPID" = "$1" ] || exit 143; shift; exec "$@"' mpmp-pdeathsig "$BASHPID")
  fi
}

# Starts a watcher for this shell's temporary files: a detached process
# that removes each path given to mpmp_cleanup_add once this shell has
# ended and so has every process it started since. It needs no polling: it
# reads a pipe whose write end this shell and its children hold
# (MPMP_CLEANUP_FD), and the kernel closes that end in each of them however
# it ends, so end of file means "all gone". It is started in the
# background of the process substitution, which exits at once, so that it
# is nobody's child (a kill of this shell's process tree misses it); it
# ignores the signals a terminal or a job's end sends, and runs in a session
# of its own where setsid(1) exists. A script still removes its files
# itself on a normal exit (the caller may look at once); the watcher is for
# the launcher killed by SIGKILL, whose job ends only later
# (mpmp_die_with_shell).
mpmp_cleanup_watcher() {
  # shellcheck disable=SC2016 # the watcher's own code
  local code='trap "" INT TERM HUP QUIT; cd /
    paths=()
    while IFS= read -r p; do paths+=("$p"); done
    rm -rf -- "${paths[@]}"'
  local detach=()
  if command -v setsid >/dev/null 2>&1; then
    detach=(setsid)
  fi
  # "<&0": a background job of a script would otherwise read /dev/null.
  exec {MPMP_CLEANUP_FD}> >(${detach[@]+"${detach[@]}"} "$BASH" -c "$code" mpmp-cleanup \
    <&0 >/dev/null 2>&1 &)
}

# Hands PATH to the watcher (mpmp_cleanup_watcher), which removes it. Should
# the watcher have failed to start, the write fails (EPIPE) instead of
# killing this shell with SIGPIPE; the shell's own cleanup still runs.
mpmp_cleanup_add() {
  trap '' PIPE
  { printf '%s\n' "$1" 1>&"$MPMP_CLEANUP_FD"; } 2>/dev/null || true
  trap - PIPE
}
