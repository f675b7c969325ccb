#!/usr/bin/env bash
# Installs an mpmp build into a temporary prefix and builds tests/install
# against it the two ways another project would: CMake's find_package (shared
# and static library) and pkg-config (Makefile); runs each program on 2 ranks.
#
#   tests/install/check.sh BUILD_DIR [SRC_DIR]
#
# BUILD_DIR: a built mpmp tree; SRC_DIR: mpmp's source tree (default: the one
# holding this script). Registered as the ctest test
# install_find_package_and_pkg_config. Leaves nothing behind.
set -euo pipefail

if (($# < 1 || $# > 2)); then
  echo "usage: $(basename "$0") BUILD_DIR [SRC_DIR]" >&2
  exit 2
fi
build="$(cd "$1" && pwd)" || { echo "check.sh: error: no build dir '$1'" >&2; exit 2; }
src="$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)"
# shellcheck source=scripts/common.sh
source "$src/scripts/common.sh"
[[ -f "$build/CMakeCache.txt" ]] || mpmp_die "'$build' is not a CMake build directory"
here="$src/tests/install"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mpmp-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

step() { printf '\n=== %s\n' "$*"; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; mpmp_die "cmake --install failed"; }

pcfile="$(find "$prefix" -name mpmp.pc -path '*/pkgconfig/*' | head -n 1)"
[[ -n "$pcfile" ]] || mpmp_die "no mpmp.pc installed under $prefix"
libdir="$(dirname "$(dirname "$pcfile")")"
[[ -e "$libdir/libmpmp.so" && -e "$libdir/libmpmp.a" ]] ||
  mpmp_die "libmpmp.so and libmpmp.a should be in $libdir next to pkgconfig/"
for h in mpmp.h mpmp/version.h; do
  [[ -f "$prefix/include/$h" ]] || mpmp_die "header $h not installed"
done
if find "$prefix/include" -name '*.in' -o -name 'internal.h' | grep -q .; then
  mpmp_die "templates or private headers installed under $prefix/include"
fi
# The installed .pc must name the install prefix, not the configure-time one.
grep -qx "prefix=$prefix" "$pcfile" || mpmp_die "mpmp.pc has the wrong prefix: $(grep '^prefix=' "$pcfile")"

export CMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step "find_package(mpmp): configure and build $here"
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; mpmp_die "configuring the outside project failed"; }
cmake --build "$tmp/cmake" --parallel "$(mpmp_nproc)" ||
  mpmp_die "building the outside project with CMake failed"

step "pkg-config --cflags --libs mpmp: $(pkg-config --cflags --libs mpmp)"
make --no-print-directory -f "$here/Makefile" O="$tmp" ||
  mpmp_die "building the outside project with pkg-config failed"

# Each program must use the installed library, not the build tree's.
for exe in "$tmp/cmake/app" "$tmp/app_pc"; do
  lib="$(ldd "$exe" | awk '$1 ~ /^libmpmp\.so/ {print $3}')"
  [[ "$lib" == "$libdir/"* ]] || mpmp_die "$exe uses '$lib', not the installed libmpmp.so in $libdir"
done
if ldd "$tmp/cmake/app_static" | grep -q 'libmpmp\.so'; then
  mpmp_die "app_static is linked with libmpmp.so, not libmpmp.a"
fi

status=0
for exe in "$tmp/cmake/app" "$tmp/cmake/app_static" "$tmp/app_pc"; do
  step "run-mpi.sh -n 2 $exe"
  rc=0
  out="$(bash "$src/scripts/run-mpi.sh" --timeout 60 -n 2 "$exe" 2>&1)" || rc=$?
  echo "$out"
  if ((rc != 0)); then
    echo "FAIL: $exe exited with $rc" >&2
    status=1
    continue
  fi
  if ! grep -Eq "^outside-project ok version [0-9]+\.[0-9]+\.[0-9]+ ranks 2$" <<<"$out"; then
    echo "FAIL: $exe did not print 'outside-project ok version X.Y.Z ranks 2'" >&2
    status=1
  fi
done
((status == 0)) && step "install check passed"
exit "$status"
