#!/usr/bin/env bash
# Installs an mpmp build into a temporary prefix, moves that prefix elsewhere
# (an install must not depend on where it was made), and uses it the ways
# another project would:
#   - the installed tool (bin/mpmp-info) runs with no LD_LIBRARY_PATH: its
#     RPATH is relative to itself ($ORIGIN);
#   - CMake's find_package from a C project (shared and static library) and
#     from a C++-only project (tests/install/cxx);
#   - pkg-config (Makefile): the shared library, and libmpmp.a with the
#     `pkg-config --static --libs mpmp` line; mpmp.pc finds the moved prefix;
#   - the README's install compile line, `mpicc app.c $(pkg-config ...)`;
# and runs each program on 2 ranks. Installed files: headers without
# private ones or templates, LICENSE in share/doc/mpmp.
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
[[ -f "$prefix/share/doc/mpmp/LICENSE" ]] || mpmp_die "LICENSE not installed in $prefix/share/doc/mpmp"
grep -q "BSD 3-Clause" "$prefix/share/doc/mpmp/LICENSE" ||
  mpmp_die "$prefix/share/doc/mpmp/LICENSE is not the BSD-3-Clause licence"

# mpmp.pc must not name the prefix it was installed into: it finds it from
# its own place, so the prefix can move.
if grep -nF "$prefix" "$pcfile"; then
  mpmp_die "mpmp.pc names the install prefix $prefix (above): it cannot move"
fi

# Every installed program finds libmpmp relative to itself.
tools=("$prefix"/bin/*)
[[ -x "$prefix/bin/mpmp-info" ]] || mpmp_die "bin/mpmp-info not installed"
rel_libdir="${libdir#"$prefix"/}"
for exe in "${tools[@]}"; do
  rpath="$(readelf -d "$exe" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]$/\2/p')"
  # shellcheck disable=SC2016 # $ORIGIN is literal: the loader expands it
  [[ ":$rpath:" == *':$ORIGIN/../'"$rel_libdir"':'* ]] ||
    mpmp_die "$exe: RPATH/RUNPATH is '$rpath', without \$ORIGIN/../$rel_libdir"
done

step "mv $prefix $tmp/moved: the rest uses the moved prefix"
mv "$prefix" "$tmp/moved"
prefix="$tmp/moved"
libdir="$prefix/${rel_libdir}"
pcfile="$libdir/pkgconfig/mpmp.pc"

export CMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# No program below may find libmpmp through LD_LIBRARY_PATH (the ldd checks
# below would not catch a library found that way by chance).
case ":${LD_LIBRARY_PATH:-}:" in
  *":$libdir:"*) mpmp_die "LD_LIBRARY_PATH already holds $libdir" ;;
esac

# Run PROGRAM on 2 ranks and match its output against PATTERN (an ERE,
# one line); extra leading words (env -u ...) go before the launcher.
status=0
run2() {
  local pattern="$1" rc=0 out
  shift
  step "run-mpi.sh -n 2 ${*: -1}"
  out="$("${@:1:$#-1}" bash "$src/scripts/run-mpi.sh" --timeout 60 -n 2 "${@: -1}" 2>&1)" || rc=$?
  echo "$out"
  if ((rc != 0)); then
    echo "FAIL: ${*: -1} exited with $rc" >&2
    status=1
  elif ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL: ${*: -1} printed no line matching '$pattern'" >&2
    status=1
  fi
}

# Where a program (run as "$@") finds libmpmp.so, as a plain path: ldd
# prints an RPATH's $ORIGIN/.. unresolved.
libmpmp_of() {
  local lib
  lib="$("$@" | awk '$1 ~ /^libmpmp\.so/ {print $3}')"
  [[ -n "$lib" ]] && realpath "$lib"
}

# The tool, from the moved prefix, with no LD_LIBRARY_PATH at all.
lib="$(libmpmp_of env -u LD_LIBRARY_PATH ldd "$prefix/bin/mpmp-info")" || true
[[ "$lib" == "$libdir/"* ]] ||
  mpmp_die "the moved bin/mpmp-info finds libmpmp.so at '$lib', not in $libdir"
run2 '^1 +.* worker$' env -u LD_LIBRARY_PATH "$prefix/bin/mpmp-info"

# pkg-config: the prefix and the flags follow the moved file.
pc_prefix="$(pkg-config --variable=prefix mpmp)"
[[ "$(realpath "$pc_prefix")" == "$(realpath "$prefix")" ]] ||
  mpmp_die "pkg-config says prefix=$pc_prefix, not the moved $prefix"

# The outside projects use the MPI mpmp was built with (an MPICH build on a
# machine whose default MPI is Open MPI, say): its compiler wrappers.
mpicc="$(sed -n 's/^MPI_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
[[ -n "$mpicc" && -x "$mpicc" ]] || mpicc="$(command -v mpicc)"
mpicxx="${mpicc%/*}/$(basename "$mpicc" | sed 's/mpicc/mpicxx/')"
[[ -x "$mpicxx" ]] || mpicxx="$(command -v mpicxx)"
mpi_args=(-DMPI_C_COMPILER="$mpicc" -DMPI_CXX_COMPILER="$mpicxx")

step "find_package(mpmp), C: configure and build $here"
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${mpi_args[@]}" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; mpmp_die "configuring the outside project failed"; }
cmake --build "$tmp/cmake" --parallel "$(mpmp_nproc)" ||
  mpmp_die "building the outside project with CMake failed"

step "find_package(mpmp), C++ only: configure and build $here/cxx"
cmake -S "$here/cxx" -B "$tmp/cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${mpi_args[@]}" >"$tmp/cxx.log" 2>&1 ||
  { cat "$tmp/cxx.log"; mpmp_die "configuring the C++-only outside project failed"; }
cmake --build "$tmp/cxx" --parallel "$(mpmp_nproc)" ||
  mpmp_die "building the C++-only outside project failed"

# An mpmp built with another MPI than the project's (issue 18): the
# installed config made to say so (a copy of the prefix's config dir);
# find_package must refuse, naming both, instead of a program that loads
# two MPI libraries.
step "find_package(mpmp) of an mpmp built with another MPI: refused"
cfgdir="$(dirname "$(find "$prefix" -name mpmpConfig.cmake | head -n 1)")"
grep -q 'set(mpmp_MPI_FLAVOUR "Open MPI [0-9]*")\|set(mpmp_MPI_FLAVOUR "MPICH")' \
  "$cfgdir/mpmpConfig.cmake" ||
  mpmp_die "mpmpConfig.cmake does not record the MPI mpmp was built with"
other="$tmp/other-mpi/lib/cmake/mpmp"
mkdir -p "$other"
cp -r "$cfgdir/." "$other/"
sed -i 's/set(mpmp_MPI_FLAVOUR "[^"]*")/set(mpmp_MPI_FLAVOUR "Open MPI 99")/' \
  "$other/mpmpConfig.cmake"
if cmake -S "$here" -B "$tmp/cmake-other" -Dmpmp_DIR="$other" "${mpi_args[@]}" \
  >"$tmp/other.log" 2>&1; then
  mpmp_die "find_package accepted an mpmp built with another MPI"
fi
grep -q "mpmp was built with Open MPI 99, but this project found" "$tmp/other.log" ||
  { cat "$tmp/other.log"; mpmp_die "find_package did not say which MPIs differ"; }

step "pkg-config --cflags --libs mpmp: $(pkg-config --cflags --libs mpmp)"
step "pkg-config --static --libs mpmp: $(pkg-config --static --libs mpmp)"
make --no-print-directory -f "$here/Makefile" O="$tmp" all ||
  mpmp_die "building the outside project with pkg-config failed"

# The README's compile line against an install, word for word, on the
# README's first program; it runs with LD_LIBRARY_PATH, as the README says.
step "mpicc app.c \$(pkg-config --cflags --libs mpmp)"
cp "$src/apps/examples/first_program.c" "$tmp/app.c"
# shellcheck disable=SC2046 # the flags are words, as in the README
(cd "$tmp" && "$mpicc" app.c $(pkg-config --cflags --libs mpmp)) ||
  mpmp_die "the README's line 'mpicc app.c \$(pkg-config --cflags --libs mpmp)' failed"

# Each program must use the installed library, not the build tree's, and
# find it without LD_LIBRARY_PATH (but a.out, which is the README's).
for exe in "$tmp/cmake/app" "$tmp/cxx/app_cxx" "$tmp/app_pc"; do
  lib="$(libmpmp_of ldd "$exe")" || true
  [[ "$lib" == "$libdir/"* ]] || mpmp_die "$exe uses '$lib', not the installed libmpmp.so in $libdir"
done
for exe in "$tmp/cmake/app_static" "$tmp/app_pc_static"; do
  if ldd "$exe" | grep -q 'libmpmp\.so'; then
    mpmp_die "$exe is linked with libmpmp.so, not libmpmp.a"
  fi
done

ok='^outside-project ok version [0-9]+\.[0-9]+\.[0-9]+ ranks 2$'
for exe in "$tmp/cmake/app" "$tmp/cmake/app_static" "$tmp/app_pc" "$tmp/app_pc_static"; do
  run2 "$ok" "$exe"
done
run2 '^outside-project-cxx ok sum 285 ranks 2$' "$tmp/cxx/app_cxx"
run2 '^285$' env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/a.out"

((status == 0)) && step "install check passed"
exit "$status"
