#!/usr/bin/env bash
# A strong- and weak-scaling study of a CPU-bound Pool map (PERF.md,
# "Scaling studies"): runs apps/mpmp-scaling at each rank count, prints the
# efficiency of every point, writes a CSV and plots speedup and efficiency
# against the ideal line (PNG, with gnuplot).
#
#   scripts/scaling-study.sh [options]
#
#   --ranks LIST          rank counts: 2,3,5 or 2-9 or a mix (default: 2 to
#                         cores+1, i.e. 1 worker to a worker per core)
#   --mode MODE           strong (fixed total work), weak (work proportional
#                         to workers) or both (default: both)
#   --task-ms MS          arithmetic per item, in ms (default: 10)
#   --items N             strong: total items (default: 24 x the most workers)
#   --items-per-worker M  weak: items per worker (default: 24)
#   --reps R              parallel timings per point, the median kept (default: 3)
#   --chunksize C         items per chunk (default: 1; 0: Python's rule)
#   --pseudo K            spread each job's ranks over K pseudo-nodes
#   --out PREFIX          write PREFIX.csv and PREFIX.png (default: scaling)
#   --no-plot             write the CSV only
#   --no-build            use the mpmp-scaling already built in $MPMP_BUILD_DIR
#   --strict              exit 3 if a point with a core per worker is below 95 %
#
# The serial reference (one item on the main rank, bound to a core like each
# worker, the same function the tasks run) is measured once, in a job of its
# own, and every point is compared with it. Efficiency = speedup / cores, the
# CPUs the workers compute on (the main rank sleeps while it waits: main + 2
# workers on 2 cores count 2). PERF.md asks for >= 95 % while there is a core
# per worker; such points below it are flagged. Oversubscribed points (more
# workers than CPUs) are shown but not judged.
# Installs what it needs (scripts/common.sh; gnuplot-nox for the plot) and
# builds into $MPMP_BUILD_DIR (default build/) unless --no-build.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  if (($#)); then
    echo "$(basename "$0"): error: $* (see --help)" >&2
  else
    echo "usage:" >&2
    sed -n '7,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  fi
  exit 2
}

ranks_arg=""
mode=both
task_ms=10
items=""
per_worker=24
reps=3
chunksize=1
pseudo=()
out=scaling
plot=1
build=1
strict=0
while (($#)); do
  case "$1" in
    --ranks | --mode | --task-ms | --items | --items-per-worker | --reps | --chunksize | --pseudo | --out)
      (($# >= 2)) || usage "$1 needs a value"
      case "$1" in
        --ranks) ranks_arg="$2" ;;
        --mode) mode="$2" ;;
        --task-ms) task_ms="$2" ;;
        --items) items="$2" ;;
        --items-per-worker) per_worker="$2" ;;
        --reps) reps="$2" ;;
        --chunksize) chunksize="$2" ;;
        --pseudo) pseudo=(--pseudo "$2") ;;
        --out) out="$2" ;;
      esac
      shift 2
      ;;
    --no-plot) plot=0; shift ;;
    --no-build) build=0; shift ;;
    --strict) strict=1; shift ;;
    -h | --help) usage ;;
    *) usage "unknown argument '$1'" ;;
  esac
done

positive='^[1-9][0-9]*$'
[[ "$mode" =~ ^(strong|weak|both)$ ]] || usage "--mode is strong, weak or both, not '$mode'"
awk -v x="$task_ms" 'BEGIN { exit !(x ~ /^[0-9]*\.?[0-9]+$/ && x + 0 > 0) }' ||
  usage "--task-ms wants a positive number of ms, not '$task_ms'"
[[ -z "$items" || "$items" =~ $positive ]] || usage "--items wants a positive count, not '$items'"
[[ "$per_worker" =~ $positive ]] || usage "--items-per-worker wants a positive count, not '$per_worker'"
[[ "$reps" =~ $positive ]] || usage "--reps wants a positive count, not '$reps'"
[[ "$chunksize" =~ ^[0-9]+$ ]] || usage "--chunksize wants a count (0: Python's rule), not '$chunksize'"

# The rank counts: "2,3,5", "2-9", or a mix; default 2..cores+1.
ranks=()
spec="${ranks_arg:-2-$(($(mpmp_nproc) + 1))}"
IFS=, read -r -a parts <<<"$spec"
for p in "${parts[@]}"; do
  if [[ "$p" =~ ^([0-9]+)-([0-9]+)$ ]]; then
    for ((r = BASH_REMATCH[1]; r <= BASH_REMATCH[2]; r++)); do ranks+=("$r"); done
  elif [[ "$p" =~ ^[0-9]+$ ]]; then
    ranks+=("$p")
  else
    usage "--ranks wants a list like 2,3,5 or 2-9, not '$spec'"
  fi
done
((${#ranks[@]})) || usage "--ranks gave no rank count"
max_workers=0
for r in "${ranks[@]}"; do
  ((r >= 2)) || usage "every rank count must be at least 2 (main + 1 worker), not $r"
  if ((r - 1 > max_workers)); then max_workers=$((r - 1)); fi
done
items="${items:-$((24 * max_workers))}"

if ((build)); then
  mpmp_setup
  # shellcheck disable=SC2119 # no extra cmake arguments here
  mpmp_build
fi
prog="$MPMP_BUILD_DIR/apps/mpmp-scaling"
[[ -x "$prog" ]] || mpmp_die "$prog is not built (run without --no-build, or set MPMP_BUILD_DIR)"
if ((plot)) && ! command -v gnuplot >/dev/null 2>&1; then
  mpmp_install_packages gnuplot-nox
  command -v gnuplot >/dev/null 2>&1 || mpmp_die "gnuplot not found: install gnuplot-nox, or pass --no-plot"
fi
run_mpi=(bash "$MPMP_ROOT/scripts/run-mpi.sh" ${pseudo[@]+"${pseudo[@]}"})
# No progress bars between the table's lines (long points draw them).
export MPMP_PROGRESS="${MPMP_PROGRESS:-0}"

# The serial reference, once: the rounds that make one item task_ms long
# and the seconds it takes, on the main rank of a 1-rank job.
ref="$("${run_mpi[@]}" -n 1 "$prog" --reference --task-ms "$task_ms")" ||
  mpmp_die "the serial reference run failed"
if ! [[ "$ref" =~ rounds=([0-9]+)\ item_s=([0-9.]+) ]]; then
  mpmp_die "unexpected output from mpmp-scaling --reference: $ref"
fi
rounds="${BASH_REMATCH[1]}"
item_s="${BASH_REMATCH[2]}"
mpmp_log "serial reference: ${item_s} s per item ($rounds rounds), measured once"

csv="$out.csv"
png="$out.png"
mkdir -p "$(dirname "$csv")"
echo "mode,ranks,workers,nodes,items,task_ms,serial_s,parallel_s,speedup,efficiency,cores,core_per_worker" >"$csv"
modes=(strong weak)
[[ "$mode" == both ]] || modes=("$mode")
printf '%-6s %5s %7s %5s %5s %6s %7s %9s %10s %8s %10s\n' \
  mode ranks workers cores nodes items task_ms serial_s parallel_s speedup efficiency
flagged=0
for m in "${modes[@]}"; do
  for r in "${ranks[@]}"; do
    w=$((r - 1))
    n="$items"
    if [[ "$m" == weak ]]; then n=$((per_worker * w)); fi
    # mpirun's limit: the serial time of the point, twice, per repetition.
    limit="$(awk -v n="$n" -v s="$item_s" -v k="$reps" 'BEGIN { printf "%d", 60 + 2 * k * n * s }')"
    line="$("${run_mpi[@]}" --timeout "$limit" -n "$r" "$prog" --items "$n" \
      --rounds "$rounds" --serial-item-s "$item_s" --reps "$reps" \
      --chunksize "$chunksize" | tail -n 1)" ||
      mpmp_die "the $m point with $r ranks failed"
    IFS=, read -r f_ranks f_workers f_nodes f_items f_task f_serial f_parallel \
      f_speedup f_eff f_cores f_cpw <<<"$line"
    [[ "${f_cpw:-}" =~ ^[01]$ ]] || mpmp_die "unexpected output from mpmp-scaling: $line"
    echo "$m,$line" >>"$csv"
    note=""
    if ((f_cpw == 0)); then
      note="  (workers share CPUs: not judged)"
    elif awk -v e="$f_eff" 'BEGIN { exit !(e < 0.95) }'; then
      note="  BELOW 95 % with a core per worker"
      flagged=$((flagged + 1))
    fi
    printf '%-6s %5s %7s %5s %5s %6s %7s %9s %10s %7sx %8.1f %%%s\n' "$m" "$f_ranks" \
      "$f_workers" "$f_cores" "$f_nodes" "$f_items" "$f_task" "$f_serial" "$f_parallel" \
      "$f_speedup" "$(awk -v e="$f_eff" 'BEGIN { print 100 * e }')" "$note"
  done
done
mpmp_log "wrote $csv"

if ((plot)); then
  # Dashed: the ideal (speedup = workers, efficiency 100 %); dotted: the
  # 95 % target and, when some workers had to share CPUs, how many CPUs
  # there were (the most cores any such point computed on).
  cpus="$(awk -F, 'NR > 1 && $12 == 0 && $11 > c { c = $11 } END { print c + 0 }' "$csv")"
  cpu_mark=""
  if ((cpus > 0)); then
    cpu_mark="set arrow 1 from $cpus, graph 0 to $cpus, graph 1 nohead dashtype 3 lc rgb 'gray40'
set label 1 'CPUs' at $cpus, graph 0.05 offset 0.5, 0 tc rgb 'gray40'"
  fi
  xtics=""
  ((max_workers > 16)) || xtics="set xtics 1"
  terminal="png size 1200,500"
  if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
    terminal="pngcairo size 1200,500 font ',10'"
  fi
  gnuplot <<EOF || mpmp_die "gnuplot failed"
set terminal $terminal
set output '$png'
set datafile separator ','
set key top left
set grid
set xlabel 'workers'
set xrange [0:$((max_workers + 1))]
$xtics
$cpu_mark
set style line 1 lc rgb '#1f77b4' lw 2 pt 7 ps 1.2
set style line 2 lc rgb '#d62728' lw 2 pt 5 ps 1.2
set multiplot layout 1,2 title "mpmp scaling: CPU-bound Pool map, ${task_ms} ms tasks, $(hostname)"
set title 'speedup (serial time / parallel time)'
set ylabel 'speedup'
set yrange [0:$((max_workers + 1))]
plot x title 'ideal' dashtype 2 lc rgb 'black', \
     '$csv' using 3:(strcol(1) eq 'strong' ? \$9 : 1/0) skip 1 with linespoints ls 1 title 'strong', \
     '$csv' using 3:(strcol(1) eq 'weak' ? \$9 : 1/0) skip 1 with linespoints ls 2 title 'weak (scaled)'
set title 'parallel efficiency (speedup / cores)'
set ylabel 'efficiency (%)'
set yrange [0:110]
set key bottom left
plot 100 title 'ideal' dashtype 2 lc rgb 'black', \
     95 title 'target 95 %' dashtype 3 lc rgb 'gray40', \
     '$csv' using 3:(strcol(1) eq 'strong' ? 100 * \$10 : 1/0) skip 1 with linespoints ls 1 title 'strong', \
     '$csv' using 3:(strcol(1) eq 'weak' ? 100 * \$10 : 1/0) skip 1 with linespoints ls 2 title 'weak'
unset multiplot
EOF
  mpmp_log "wrote $png"
fi

if ((flagged)); then
  mpmp_log "$flagged point(s) with a core per worker below 95 % efficiency (PERF.md)"
  ((strict == 0)) || exit 3
fi
