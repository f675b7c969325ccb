#!/usr/bin/env bash
# The README's first command on a machine without CMocka, apt or dpkg
# (issue 18): a cluster login node with MPI, hwloc and CMake from modules.
#
#   demo_without_cmocka.sh REPO_ROOT WORK_DIR
#
# PATH holds every tool of this machine but dpkg, dpkg-query, apt and
# apt-get, and a pkg-config that does not know CMocka. Then:
#  1. mpmp_setup finds the tools and installs nothing (no apt to ask);
#  2. with cmake hidden as well, it says what is missing;
#  3. a configure that wants the tests says that CMocka is missing and how
#     to build without it;
#  4. scripts/demo.sh builds without the tests and runs the demo;
#  5. with apt but neither root nor sudo, a missing Doxygen is skipped and
#     a missing cmake named.
# Prints "PASSED".
set -uo pipefail
root="$1" work="$2"
rm -rf "$work"
mkdir -p "$work/bin"
for f in /usr/local/bin/* /usr/bin/* /bin/* /usr/sbin/* /sbin/*; do
  name="$(basename "$f")"
  case "$name" in
  dpkg | dpkg-query | apt | apt-get | pkg-config | "*") continue ;;
  esac
  [[ -e "$work/bin/$name" ]] || ln -s "$f" "$work/bin/$name"
done
real_pc="$(command -v pkg-config)"
real_id="$(command -v id)"
cat >"$work/bin/pkg-config" <<PC
#!/bin/sh
# pkg-config without CMocka
for a in "\$@"; do case "\$a" in cmocka*) exit 1 ;; esac; done
exec "$real_pc" "\$@"
PC
chmod +x "$work/bin/pkg-config"
export PATH="$work/bin"

fail() {
  echo "FAILED: $1"
  [[ -f "$work/log" ]] && cat "$work/log"
  exit 1
}

# 1. the tools are all there: nothing to install, no apt to ask
bash -c "source '$root/scripts/common.sh'; mpmp_setup demo && echo SETUP-OK" \
  >"$work/log" 2>&1
grep -q SETUP-OK "$work/log" || fail "mpmp_setup demo did not find the tools"
echo "1. mpmp_setup demo: every tool found, nothing installed"

# 2. one missing: it is named, and how to go on
rm "$work/bin/cmake"
bash -c "source '$root/scripts/common.sh'; mpmp_setup demo" >"$work/log" 2>&1 &&
  fail "mpmp_setup passed without cmake"
grep -q "missing: cmake; no apt-get here: install them (or load their modules), or set MPMP_SKIP_SETUP=1" \
  "$work/log" || fail "mpmp_setup did not name the missing tool"
ln -s "$(PATH=/usr/local/bin:/usr/bin:/bin command -v cmake)" "$work/bin/cmake"
echo "2. cmake hidden: named as missing"

# 3. tests asked for, CMocka absent: the message says what to do
cmake -S "$root" -B "$work/build-tests" >"$work/log" 2>&1 &&
  fail "a configure with the tests passed without CMocka"
grep -q "The tests need CMocka" "$work/log" &&
  grep -q "DMPMP_BUILD_TESTS=OFF" "$work/log" ||
  fail "no clear message about CMocka"
echo "3. configure with tests: CMocka named as missing"

# 4. the demo, built without the tests
MPMP_BUILD_DIR="$work/build" bash "$root/scripts/demo.sh" --items 8 \
  --work-ms 5 >"$work/log" 2>&1 || fail "scripts/demo.sh failed"
grep -q "building without the tests" "$work/log" ||
  fail "demo.sh did not say it builds without the tests"
grep -Eq "results: +equal" "$work/log" || fail "the demo did not run"
[[ -e "$work/build/tests" ]] && fail "the tests were configured"
echo "4. demo.sh: built without the tests, the demo ran"
# 5. apt and dpkg are there, but we are not root and have no sudo: a
#    missing Doxygen (only wanted) is named and skipped, not fatal; a
#    missing cmake (needed) is named alone
# (the links in bin/ point at this machine's tools: remove each before
# writing its stand-in, never write through one)
rm -f "$work/bin/id" "$work/bin/apt-get" "$work/bin/dpkg-query" \
  "$work/bin/pkg-config" "$work/bin/doxygen" "$work/bin/sudo"
cat >"$work/bin/id" <<ID
#!/bin/sh
[ "\$1" = -u ] && { echo 1000; exit 0; }
exec "$real_id" "\$@"
ID
for tool in apt-get dpkg-query; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/apt-called"\nexit 1\n' "$tool" \
    "$work" >"$work/bin/$tool"
done
chmod +x "$work/bin/id" "$work/bin/apt-get" "$work/bin/dpkg-query"
ln -s "$real_pc" "$work/bin/pkg-config"
CI=false bash -c "source '$root/scripts/common.sh'; mpmp_setup test && echo SETUP-OK" \
  >"$work/log" 2>&1
grep -q SETUP-OK "$work/log" ||
  fail "mpmp_setup test stopped for a missing Doxygen without sudo"
grep -q "not found: doxygen; not root, and no sudo" "$work/log" ||
  fail "mpmp_setup did not say that Doxygen is missing"
[[ -e "$work/apt-called" ]] && fail "apt-get was run without root or sudo"
rm "$work/bin/cmake"
CI=false bash -c "source '$root/scripts/common.sh'; mpmp_setup test" \
  >"$work/log" 2>&1 && fail "mpmp_setup passed without cmake"
grep -q "missing: cmake; not root, and no sudo" "$work/log" ||
  fail "mpmp_setup did not name the missing cmake"
echo "5. apt without root or sudo: Doxygen skipped, cmake named"
rm -rf "$work"
echo "PASSED"
