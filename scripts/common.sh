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
#   mpmp_build ARGS  configure (extra cmake ARGS) and build into $MPMP_BUILD_DIR
#
# Environment:
#   MPMP_BUILD_DIR    build directory (default: $MPMP_ROOT/build)
#   MPMP_SKIP_SETUP=1 never install packages (offline machines, non-Debian)
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

# Installs what mpmp needs to build and test, on Debian and derivatives.
# Nothing is fetched when everything is there already (no apt-get update).
mpmp_setup() {
  if [[ "${MPMP_SKIP_SETUP:-0}" == 1 ]]; then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    # Not Debian: check for the tools and say what is missing rather than
    # guessing another package manager.
    local tool missing=()
    for tool in cc make cmake pkg-config mpicc mpirun unshare; do
      command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    for tool in hwloc cmocka; do
      pkg-config --exists "$tool" 2>/dev/null || missing+=("$tool (pkg-config)")
    done
    if ((${#missing[@]})); then
      mpmp_die "no apt-get here; install these yourself: ${missing[*]}"
    fi
    return 0
  fi

  local wanted=(cmake pkg-config libopenmpi-dev openmpi-bin libhwloc-dev hwloc
                libcmocka-dev util-linux procps)
  # A C toolchain: build-essential if present, else just gcc, make and libc.
  if [[ -n "$(mpmp__missing_packages build-essential)" ]]; then
    wanted+=(gcc make libc6-dev)
  fi
  mpmp_install_packages "${wanted[@]}"
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
