#!/usr/bin/env bash
# The API reference (issue 18): the `docs` target builds the HTML from the
# public headers without a single Doxygen warning, so every function,
# parameter, return value, type, field, macro and enum value is documented
# (cmake/Doxyfile.in), and every error code of MPMP_ERRNO_MAP has its entry
# in the HTML. Doxygen 1.9 does not warn about an undocumented enum value
# (it leaves it out of the page): hence the check of the codes here.
#
#   docs_no_warnings.sh CMAKE BUILD_DIR COMMON_H HAVE_DOCS_TARGET
#
# HAVE_DOCS_TARGET is CMake's DOXYGEN_FOUND at configure time. Without
# Doxygen the test is skipped (exit 77), but not under CI=true: CI installs
# it (scripts/common.sh), so there a missing Doxygen fails the test.
set -uo pipefail
cmake="$1" build="$2" common_h="$3" have_target="$4"

case "$have_target" in
  1 | ON | YES | TRUE | Y | true) ;;
  *)
    if command -v doxygen >/dev/null 2>&1; then
      why="Doxygen is installed, but it was not there when $build was configured: configure again (cmake -S . -B $build)"
    else
      why="Doxygen is not installed (Debian: apt-get install doxygen), so there is no docs target"
    fi
    if [[ "${CI:-}" == true ]]; then
      echo "FAILED: $why; under CI=true it must be there (scripts/common.sh's mpmp_setup installs it)"
      exit 1
    fi
    echo "SKIPPED: $why"
    exit 77
    ;;
esac

out="$("$cmake" --build "$build" --target docs 2>&1)"
rc=$?
printf '%s\n' "$out"
# Doxygen says "warning:", or "error:" under WARN_AS_ERROR
warnings="$(grep -cE ': (warning|error): ' <<<"$out")"
if ((rc != 0 || warnings > 0)); then
  echo "FAILED: the docs target exited with $rc and printed $warnings warnings (above): document what they name"
  exit 1
fi

html="$build/docs/html/common_8h.html"
[[ -r "$html" ]] || { echo "FAILED: no $html"; exit 1; }
mapfile -t codes < <(sed -n 's/^ *XX(\([A-Z]*\),.*/\1/p' "$common_h")
if ((${#codes[@]} < 20)); then
  echo "FAILED: found only ${#codes[@]} error codes in $common_h (XX(NAME, ...) lines)"
  exit 1
fi
missing=()
for code in "${codes[@]}"; do
  # an enum value with a description: its name cell, then its text
  grep -qE ">MPMP_${code}&#160;</td><td class=\"fielddoc\"><p ?>[^<[:space:]]" "$html" ||
    missing+=("MPMP_$code")
done
if ((${#missing[@]} > 0)); then
  echo "FAILED: error codes without an entry in $html: ${missing[*]} (add a @var block for each after the enum in mpmp/common.h)"
  exit 1
fi
echo "PASSED: the API reference builds with no warning; all ${#codes[@]} error codes have their entry ($build/docs/html/index.html)"
