#!/usr/bin/env bash
# Every fenced block of README.md is exercised: the line before each
# opening fence must be a marker saying how, and this script checks it.
#
#   tests/readme/check_readme.sh REPO_ROOT BUILD_DIR
#
# Markers (an HTML comment, invisible on GitHub):
#   <!-- check: example FILE -->   the block's lines appear, in order and
#                                  contiguous, in FILE (a program that a
#                                  test builds and runs, e.g. an example)
#   <!-- check: run [REGEX] -->    a sh block: run with bash in REPO_ROOT
#                                  (BUILD is the build dir); it must exit 0
#                                  and, given REGEX, print a line matching it
#   <!-- check: test NAME -->      a block that the ctest test NAME runs
#                                  (this checks that NAME exists)
#   <!-- check: sample -->         a text block showing output: not code
#
# A block with no marker, a marker of unknown kind, a missing file or test,
# a block that drifted from its file, or a command that fails is an error.
set -euo pipefail

root="${1:?usage: check_readme.sh REPO_ROOT BUILD_DIR}"
build="${2:?usage: check_readme.sh REPO_ROOT BUILD_DIR}"
readme="$root/README.md"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/mpmp-readme.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Split the README into blocks: $tmp/N.block (content), $tmp/N.meta
# (line number, fence info string, marker text).
awk -v dir="$tmp" '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
  !infence && /^```/ {
    n++; infence = 1
    printf "%d\t%s\t%s\n", NR, trim(substr($0, 4)), prev > (dir "/" n ".meta")
    close(dir "/" n ".meta")
    printf "" > (dir "/" n ".block")
    next
  }
  infence && /^```[ \t]*$/ { infence = 0; close(dir "/" n ".block"); prev = ""; next }
  infence { print >> (dir "/" n ".block"); next }
  { if (trim($0) != "") prev = trim($0) }
  END { if (infence) { print "README.md: unclosed code fence" > "/dev/stderr"; exit 1 } }
' "$readme"

tests_list=""
errors=0
checked=0
fail() {
  echo "README.md:$line: $*" >&2
  errors=$((errors + 1))
}

# Does file $2 contain the lines of $1 in order and contiguous (trailing
# blanks ignored)?
contains_block() {
  awk '
    FNR == NR { sub(/[ \t]+$/, ""); want[++n] = $0; next }
    { sub(/[ \t]+$/, ""); have[++m] = $0 }
    END {
      for (i = 1; i + n - 1 <= m; i++) {
        ok = 1
        for (j = 1; j <= n && ok; j++) if (have[i + j - 1] != want[j]) ok = 0
        if (ok) exit 0
      }
      exit 1
    }' "$1" "$2"
}

for meta in "$tmp"/*.meta; do
  n="$(basename "$meta" .meta)"
  block="$tmp/$n.block"
  IFS=$'\t' read -r line lang marker <"$meta" || true
  if [[ ! "$marker" =~ ^\<\!--\ check:\ ([a-z]+)(\ (.*))?\ --\>$ ]]; then
    fail "a \`\`\`$lang block without a '<!-- check: ... -->' line before it"
    continue
  fi
  kind="${BASH_REMATCH[1]}"
  arg="${BASH_REMATCH[3]:-}"
  case "$kind" in
    example)
      if [[ ! -f "$root/$arg" ]]; then
        fail "check: example names $arg, which does not exist"
      elif ! contains_block "$block" "$root/$arg"; then
        fail "the block is not (or no longer) in $arg: keep them identical"
      fi
      ;;
    run)
      [[ "$lang" == sh ]] || fail "check: run on a \`\`\`$lang block (only sh)"
      out="$tmp/$n.out"
      if ! (cd "$root" && BUILD="$build" bash -euo pipefail "$block") >"$out" 2>&1; then
        fail "the commands failed:"
        sed 's/^/    /' "$out" >&2
      elif [[ -n "$arg" ]] && ! grep -Eq -- "$arg" "$out"; then
        fail "the commands ran but printed no line matching '$arg':"
        sed 's/^/    /' "$out" >&2
      fi
      ;;
    test)
      if [[ -z "$tests_list" ]]; then
        tests_list="$(cd "$build" && ctest -N 2>/dev/null | sed -n 's/^ *Test *#[0-9]*: //p')"
      fi
      grep -qx -- "$arg" <<<"$tests_list" || fail "check: test $arg: no such ctest test"
      ;;
    sample)
      [[ "$lang" == text ]] || fail "check: sample on a \`\`\`$lang block (only text)"
      ;;
    *)
      fail "unknown check kind '$kind'"
      ;;
  esac
  checked=$((checked + 1))
done

# Every setting of the one table is documented (a table that moved or
# lost its rows is a failure, not a pass over nothing).
line=0
defs="$root/src/base/env_defs.h"
[[ -r "$defs" ]] || fail "the settings table $defs is not there"
nsettings=$(grep -c '^ *XX([A-Z_]*,' "$defs" 2>/dev/null || true)
((nsettings >= 10)) || fail "found ${nsettings:-0} settings in $defs, expected 10 or more"
while read -r name; do
  grep -q "\`MPMP_$name\`" "$readme" ||
    fail "the setting MPMP_$name (src/base/env_defs.h) is missing from the README"
done < <(sed -n 's/^ *XX(\([A-Z_]*\),.*/\1/p' "$defs")

if ((errors > 0)); then
  echo "check_readme: $errors problem(s) in README.md" >&2
  exit 1
fi
echo "check_readme: all $checked blocks of README.md are checked"
