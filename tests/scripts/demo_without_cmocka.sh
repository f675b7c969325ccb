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
#  4. scripts/demo.sh builds without the tests and runs the demo.
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
rm -rf "$work"
echo "PASSED"
