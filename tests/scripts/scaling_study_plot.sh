#!/usr/bin/env bash
# scripts/scaling-study.sh without MPI (issue 18): what it refuses, and
# what it plots from a CSV it is given (--plot-only), where the figures are
# known in advance instead of left to timing luck:
#
#   scaling_study_plot.sh SCALING_STUDY OUT_DIR
#
#  - bad --repeat, --format, --plot-only and --ranks values exit 2 with an
#    error that names the option and the value, before anything is built or
#    run (--ranks 08 is 8, not an octal error);
#  - a run at 130 % efficiency gets a warning line naming its rank count and
#    value, a marker and a "130.0 %" label in the SVG, and --strict exits 3;
#    the efficiency axis reaches above it (it used to stop at 110 %); the
#    bars (min-max of 2 runs) and the 100 % line are drawn; the title gives
#    the task time requested and measured;
#  - a gnuplot with no pdfcairo terminal: --format pdf refused by name;
#  - a CSV of the old format (12 columns, one run per point, no request or
#    host) still plots, with an axis down to its 40 % point;
#  - a file that is not such a CSV is refused.
# Prints "PASSED".
# shellcheck disable=SC2015 # A && B || fail: fail exits
set -uo pipefail
study="$1" dir="$2"
rm -rf "$dir"
mkdir -p "$dir"
# Nothing may get as far as running mpmp-scaling.
export MPMP_BUILD_DIR="$dir/no-build"

fail() {
  echo "FAILED: $1"
  [[ ! -f "$dir/log" ]] || { echo "---- output ----"; cat "$dir/log"; }
  exit 1
}

# run EXPECTED_RC ARGS...: the script under a hard timeout, its output in
# $dir/log (stdout and stderr).
run() {
  local want="$1" rc
  shift
  timeout -k 5 60 bash "$study" "$@" >"$dir/log" 2>&1
  rc=$?
  ((rc == want)) || fail "scaling-study.sh $* exited with $rc, not $want"
}
expect() { grep -qF -- "$1" "$dir/log" || fail "no '$1' in the output of the last run"; }

# Vertical segments (an error bar, or the ends of a key's bar sample) in
# each group of the SVG whose title is $2: one count per group.
vertical_segments() {
  awk -v title="<title>$2</title>" -f "$(dirname "${BASH_SOURCE[0]}")/svg_vertical_segments.awk" "$1"
}

# ---- refused ----------------------------------------------------------------
# rank counts in base 10 whatever their leading zeros (bash took 08 for
# octal: "value too great for base"), and of at most 6 digits
run 2 --no-build --ranks 08,1
expect "error: every rank count must be at least 2 (main + 1 worker), not 1"
grep -q "value too great" "$dir/log" && fail "--ranks 08 was read as octal"
run 2 --no-build --ranks 09-08
expect "error: --ranks gave no rank count"
grep -q "value too great" "$dir/log" && fail "--ranks 09-08 was read as octal"
run 2 --no-build --ranks 2-18446744073709551617
expect "error: --ranks wants a list like 2,3,5 or 2-9 (counts of at most 6 digits)"

for bad in 0 -1 two 1.5 ""; do
  run 2 --no-build --repeat "$bad"
  expect "error: --repeat wants a positive count of runs per point (1, 2, ...), not '$bad'"
done
run 2 --no-build --repeat
expect "error: --repeat needs a value"
for bad in gif jpeg "png,,svg" "svg,eps" ""; do
  run 2 --no-build --format "$bad"
  expect "error: --format wants png, svg or pdf (or several: svg,pdf), not '"
done
run 2 --no-build --format svg,gif
expect "not 'gif' in 'svg,gif'"
printf 'not,a,csv\n' >"$dir/junk.csv"
run 2 --plot-only "$dir/junk.csv" --repeat 2 --ranks 2,3
expect "error: --plot-only plots a CSV already measured: --repeat --ranks would measure (drop them)"
run 2 --plot-only "$dir/junk.csv" --no-plot
expect "error: --plot-only and --no-plot together leave nothing to do"
run 2 --plot-only "$dir/missing.csv"
expect "error: --plot-only: no readable file '$dir/missing.csv'"
run 1 --plot-only "$dir/junk.csv" --format svg
expect "$dir/junk.csv is not a CSV of scaling-study.sh: line 1 is not the header mode,ranks,"
run 2 --help
for opt in "--repeat N" "--format LIST" "--plot-only CSV" "--strict"; do expect "$opt"; done
[[ -z "$(find "$dir" -name '*.svg' -o -name '*.png')" ]] || fail "a refused run wrote a plot"

# ---- a run at 130 % -------------------------------------------------------------

csv="$dir/flag.csv"
cat >"$csv" <<'CSV'
mode,ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,cores,core_per_worker,repeat,task_ms_requested,host
strong,2,1,1,48,10.020,0.4810,0.4900,0.982,0.9816,1,1,1,10,ci-host
strong,3,2,1,48,10.020,0.4810,0.1850,2.600,1.3000,2,1,1,10,ci-host
strong,2,1,1,48,10.020,0.4810,0.5000,0.962,0.9620,1,1,2,10,ci-host
strong,3,2,1,48,10.020,0.4810,0.2450,1.963,0.9816,2,1,2,10,ci-host
CSV
run 0 --plot-only "$csv" --format svg
cat "$dir/log"
expect "warning: strong point with 3 ranks (2 workers), run 1: efficiency 130.0 % is above 105 %"
expect "1 run(s) above 105 % efficiency"
# the medians: 97.2 % (96.2-98.2) with 1 worker, 114.1 % (98.2-130.0) with 2
grep -Eq '^strong +2 +1 +1 +2 .*97\.2 % \[96\.2 - 98\.2\]' "$dir/log" || fail "no median line for 2 ranks"
grep -Eq '^strong +3 +2 +2 +2 .*114\.1 % \[98\.2 - 130\.0\]' "$dir/log" || fail "no median line for 3 ranks"
svg="$dir/flag.svg"
[[ -s "$svg" ]] || fail "no $svg"
top="$(sed -n 's/.*efficiency \([0-9]*\) % to \([0-9]*\) %.*/\2/p' "$dir/log")"
[[ "$top" =~ ^[0-9]+$ ]] && ((top > 130)) ||
  fail "the efficiency axis ends at '$top' %, below the 130 % run"
grep -q "<tspan[^>]*> $top</tspan>" "$svg" || fail "no tic at $top % in the SVG"
for text in "<title>ideal (100 %)</title>" "<title>target 95 %</title>" \
  "<title>impossible: above 105 % (noise or wrong baseline)</title>" ">130.0 %</tspan>" \
  "tasks of 10 ms requested, 10.020 ms measured; median and min-max of 2 runs per point"; do
  grep -qF -- "$text" "$svg" || fail "no '$text' in the SVG"
done
# both points have bars, in both panels: 2 each, and the key sample's 2 ends
counts="$(vertical_segments "$svg" "strong (median, bars: min-max)" | tr '\n' ' ')"
[[ "$counts" =~ ^([4-9]|[1-9][0-9]+)\ ([4-9]|[1-9][0-9]+)\ $ ]] ||
  fail "error bars: vertical segments per panel '$counts', wanted 2 panels of 4 or more"
run 3 --plot-only "$csv" --format svg --strict --out "$dir/strict"

# A gnuplot without cairo (a stand-in that lists only libgd's png and svg,
# as such builds do): --format pdf is refused, by name, before plotting.
mkdir -p "$dir/bin"
cat >"$dir/bin/gnuplot" <<'GP'
#!/usr/bin/env bash
printf '\nAvailable terminal types:\n           png  PNG images using libgd and TrueType fonts\n           svg  W3C Scalable Vector Graphics\n'
GP
chmod +x "$dir/bin/gnuplot"
PATH="$dir/bin:$PATH" run 1 --plot-only "$csv" --format svg,pdf --out "$dir/nocairo"
expect "has no pdfcairo terminal for --format pdf: install gnuplot-nox (Debian), or choose another --format"
[[ ! -e "$dir/nocairo.svg" ]] || fail "an SVG written before the missing terminal was found"

# ---- an old CSV ---------------------------------------------------------------------

csv="$dir/old.csv"
cat >"$csv" <<'CSV'
mode,ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,cores,core_per_worker
strong,2,1,1,48,10.020,0.4810,0.4950,0.972,0.9717,1,1
strong,3,2,1,48,10.020,0.4810,0.6000,0.802,0.4008,2,1
CSV
run 0 --plot-only "$csv" --format png,svg
expect "1 point(s) with a core per worker below 95 % efficiency"
grep -q "warning" "$dir/log" && fail "a warning for a CSV with no run above 105 %"
[[ "$(head -c 8 "$dir/old.png" | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] ||
  fail "$dir/old.png is not a PNG"
low="$(sed -n 's/.*efficiency \([0-9]*\) % to \([0-9]*\) %.*/\1/p' "$dir/log")"
[[ "$low" =~ ^[0-9]+$ ]] && ((low < 40)) ||
  fail "the efficiency axis starts at '$low' %, above the 40 % point"
grep -qF "tasks of 10.020 ms (measured)" "$dir/old.svg" || fail "no measured task time in the title"
grep -qF "<title>strong</title>" "$dir/old.svg" || fail "no strong line in the SVG"

echo "PASSED"
