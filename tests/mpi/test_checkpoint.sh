#!/usr/bin/env bash
# Whole reruns of a checkpointing program (issue 15), with
# apps/examples/checkpoint_map:
#
#   test_checkpoint.sh [--short] RUN_MPI PROGRAM [run-mpi.sh options...]
#
# --short (for two pseudo-nodes, where what differs is how signals and
# deaths cross nodes): SIGTERM and SIGUSR1 (map) to mpirun, SIGKILL to
# every rank and the walltime only; test_checkpoint.c covers the rest
# there (another input, an unusable directory, imap and executor resume).
#
# A stop in the middle of the map — SIGTERM or SIGUSR1 to the launcher,
# SIGKILL to every rank, MPMP_WALLTIME running out — then a rerun with the
# same MPMP_CHECKPOINT: its results (every result and failure, in order)
# must be those of a run without a checkpoint, and it must run exactly the
# items the checkpoint did not have. Also: the exit status 75 after a
# stop, a journal of another input refused, MPMP_CHECKPOINT_MODE=fresh,
# and a directory that cannot be written. Prints "PASSED" or "FAILED: ...".
set -uo pipefail

short=0
[[ "$1" == --short ]] && { short=1; shift; }
run_mpi="$1" program="$2"
shift 2
launch=("$@")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
N=800 MS=3

fail() {
  echo "FAILED: $1"
  [[ -f "$tmp/log" ]] && { echo "---- output ----"; cat "$tmp/log"; }
  exit 1
}

# run NAME [VAR=value...] -- program options: the run's output in $tmp/log,
# its status in $rc.
run() {
  local envs=()
  shift # the name: for the reader
  while [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  env ${envs[@]+"${envs[@]}"} timeout -k 5 120 bash "$run_mpi" --timeout 0 \
    "${launch[@]}" "$program" "$@" >"$tmp/log" 2>&1
  rc=$?
  ((rc == 124 || rc == 137)) && fail "a run hung"
  return 0
}

# The items this run ran and those it took from the checkpoint.
counts() {
  sed -n 's/.*: ran \([0-9]*\) here, \([0-9]*\) from the checkpoint.*/\1 \2/p' "$tmp/log"
}

# Start a run in the background; once its journal holds a record (the map
# is under way) return, with the launcher's pid in $bg. Its stop grace is
# $grace seconds (default 5).
start_and_wait() {
  local dir="$1"
  shift
  # env execs the launcher: $bg is its pid, for the signals (ctest's
  # timeout ends a run that hangs)
  env MPMP_CHECKPOINT="$dir" MPMP_STOP_GRACE="${grace:-5}" \
    bash "$run_mpi" --timeout 0 "${launch[@]}" "$program" "$@" \
    >"$tmp/log" 2>&1 &
  bg=$!
  for ((i = 0; i < 600; i++)); do
    local size
    size=$(stat -c %s "$dir/map-0001.mpmpj" 2>/dev/null || echo 0)
    ((size > 300)) && return 0
    kill -0 "$bg" 2>/dev/null || fail "the run ended before its journal had a record"
    sleep 0.05
  done
  fail "no journal record after 30 s"
}

# The rerun of a stopped run: same results as the reference, and it ran
# exactly what the checkpoint did not have.
rerun_matches() {
  local what="$1" dir="$2" mode="$3"
  run rerun MPMP_CHECKPOINT="$dir" -- --mode "$mode" --items $N --item-ms $MS \
    --out "$tmp/again"
  ((rc == 0)) || fail "$what: the rerun exited with $rc"
  cmp -s "$tmp/ref-$mode" "$tmp/again" ||
    fail "$what: the rerun's results differ from a run without checkpoint"
  read -r ran resumed < <(counts)
  ((ran < N)) || fail "$what: the rerun ran all $N items again"
  # map_async and the iterators tell how many were resumed (an imap's
  # said 0: there was no mpmp_imap_resumed)
  ((resumed > 0 && ran + resumed == N)) ||
    fail "$what: ran $ran and resumed $resumed of $N items"
  echo "$what: rerun ran $ran of $N items, results identical"
}

modes=(map imap exstream)
((short)) && modes=(map)
for mode in "${modes[@]}"; do
  run ref -- --mode "$mode" --items $N --item-ms $MS --out "$tmp/ref-$mode"
  ((rc == 0)) || fail "the run without checkpoint exited with $rc"
done
# Executor.map names its first failure only, yet its --out marks every
# failed item FAILED, as map's does (helper 71: it wrote them as results
# of 0); the other lines are map's.
run ref -- --mode exmap --items $N --item-ms $MS --out "$tmp/ref-exmap"
((rc == 0)) || fail "exmap: the run without checkpoint exited with $rc"
cmp -s <(sed 's/ FAILED .*/ FAILED/' "$tmp/ref-map") \
  <(sed 's/ FAILED .*/ FAILED/' "$tmp/ref-exmap") ||
  fail "exmap: its --out differs from map's: $(diff "$tmp/ref-map" "$tmp/ref-exmap" | head -n 4)"
grep -q " FAILED " "$tmp/ref-exmap" || fail "exmap: no failed item in its --out"
# an --out that cannot be written is an error, not results lost in silence
run ref -- --mode map --items 20 --item-ms 0 --out "$tmp/no/such/dir/out"
((rc == 1)) || fail "--out into a missing directory: exit status $rc, expected 1"
grep -q "could not be written" "$tmp/log" ||
  fail "--out into a missing directory: no message"

# SIGTERM to the launcher (mpirun passes it to the ranks, then kills them).
dir="$tmp/term"
start_and_wait "$dir" --items $N --item-ms $MS
kill -TERM "$bg"
wait "$bg" || true
# the note says that mpirun's SIGTERM may mean the job ends now (helper
# 62: it promised the chunks their grace while a crashed rank ended all)
if grep -q "SIGTERM came: pools deal no more work" "$tmp/log"; then
  grep -q "if a rank of the job died, mpirun sent it" "$tmp/log" ||
    fail "the SIGTERM note does not say that the job may be ending"
fi
rerun_matches "SIGTERM to mpirun" "$dir" map

# SIGKILL to every rank at once.
dir="$tmp/kill"
start_and_wait "$dir" --items $N --item-ms $MS --out "$dir/marker"
for p in $(pgrep -f -- "--out $dir/marker"); do
  [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == checkpoint_map ]] && kill -KILL "$p"
done
wait "$bg"
rerun_matches "SIGKILL to every rank" "$dir" map

# SIGUSR1 (Slurm's --signal): the map stops, the program exits with 75.
for mode in "${modes[@]}"; do
  dir="$tmp/usr1-$mode"
  start_and_wait "$dir" --mode "$mode" --items $N --item-ms $MS
  kill -USR1 "$bg"
  wait "$bg"
  st=$?
  ((st == 75)) || fail "SIGUSR1 ($mode): exit status $st, expected 75"
  grep -q "rerun the program with the same MPMP_CHECKPOINT to resume" "$tmp/log" ||
    fail "SIGUSR1 ($mode): no resume advice"
  rerun_matches "SIGUSR1 to mpirun ($mode)" "$dir" "$mode"
done

# The walltime runs out in the middle of the map.
dir="$tmp/wall"
run wall MPMP_CHECKPOINT="$dir" MPMP_WALLTIME=2 MPMP_STOP_GRACE=0.5 -- --chunk 50 \
  --items 4000 --item-ms $MS
((rc == 75)) || fail "MPMP_WALLTIME: exit status $rc, expected 75"
grep -q "the map was stopped (the walltime (MPMP_WALLTIME) ends in" "$tmp/log" ||
  fail "MPMP_WALLTIME: no message naming the walltime"
run wall-again MPMP_CHECKPOINT="$dir" MPMP_PROGRESS=1 -- --chunk 50 \
  --items 4000 --item-ms $MS
((rc == 0)) || fail "MPMP_WALLTIME: the rerun exited with $rc"
read -r ran resumed < <(counts)
((resumed > 0 && ran + resumed == 4000)) ||
  fail "MPMP_WALLTIME: the rerun ran $ran and resumed $resumed of 4000"
# the rerun runs over 2 s: its progress bar shows the resumed items apart
grep -q "\[mpmp\] map: 4000/4000 items ($resumed from the checkpoint) (100%)" \
  "$tmp/log" || fail "MPMP_WALLTIME: no progress line with the resumed items"
echo "MPMP_WALLTIME: exit status 75, rerun ran $ran of 4000"
if ((short)); then
  echo "PASSED"
  exit 0
fi

# Slurm's end time, from SLURM_JOB_END_TIME and from `squeue` (a stand-in
# that says 3 s are left), stops the map the same way.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho 0:03\n' >"$tmp/bin/squeue"
chmod +x "$tmp/bin/squeue"
for how in end_time squeue; do
  if [[ "$how" == end_time ]]; then
    envs=(SLURM_JOB_END_TIME=$(($(date +%s) + 3)))
  else
    envs=(SLURM_JOB_ID=4242 "PATH=$PATH:$tmp/bin")
  fi
  run "slurm-$how" MPMP_CHECKPOINT="$tmp/slurm-$how" MPMP_STOP_GRACE=0.5 \
    "${envs[@]}" -- --chunk 50 --items 4000 --item-ms $MS
  ((rc == 75)) || fail "Slurm's end time ($how): exit status $rc, expected 75"
  grep -q "the walltime (Slurm (" "$tmp/log" ||
    fail "Slurm's end time ($how): no message naming it"
done
echo "Slurm's end time (SLURM_JOB_END_TIME, squeue): exit status 75"

# Items that run past the grace are told to stop; they did not finish, so
# the rerun runs them (and gives the results of a run without stop).
run ref-long -- --items 8 --item-ms 800 --chunk 1 --out "$tmp/ref-long"
((rc == 0)) || fail "long items: the run without checkpoint exited with $rc"
dir="$tmp/long"
grace=0.2 start_and_wait "$dir" --items 8 --item-ms 800 --chunk 1
kill -USR1 "$bg"
wait "$bg"
st=$?
((st == 75)) || fail "long items: exit status $st, expected 75"
run long-again MPMP_CHECKPOINT="$dir" -- --items 8 --item-ms 800 --chunk 1 \
  --out "$tmp/again"
cmp -s "$tmp/ref-long" "$tmp/again" || fail "long items: the rerun's results differ"
read -r ran resumed < <(counts)
((ran + resumed == 8 && ran >= 2)) || fail "long items: ran $ran, resumed $resumed"
echo "items past the grace: stopped, rerun ran $ran of 8, results identical"

# Another input with the same checkpoint: refused, naming the journal.
run other MPMP_CHECKPOINT="$tmp/wall" -- --items 4000 --item-ms 0 --seed 2
((rc != 0)) || fail "a journal of another input was used"
grep -q "map-0001.mpmpj is not this map's: its input differs" "$tmp/log" ||
  fail "another input: no message naming the journal and the difference"
# ... unless MPMP_CHECKPOINT_MODE=fresh starts over.
run fresh MPMP_CHECKPOINT="$tmp/wall" MPMP_CHECKPOINT_MODE=fresh -- \
  --items 4000 --item-ms 0 --seed 2
((rc == 0)) || fail "MPMP_CHECKPOINT_MODE=fresh: exit status $rc"
read -r ran resumed < <(counts)
((ran == 4000 && resumed == 0)) || fail "fresh: ran $ran, resumed $resumed"
echo "another input: refused; MPMP_CHECKPOINT_MODE=fresh ran all 4000"

# A directory that cannot be made: mpmp_init says so.
touch "$tmp/file"
run baddir MPMP_CHECKPOINT="$tmp/file/sub" -- --items 10
((rc != 0)) || fail "an unusable MPMP_CHECKPOINT was accepted"
grep -q "MPMP_CHECKPOINT='$tmp/file/sub': the checkpoint directory cannot be made" \
  "$tmp/log" || fail "an unusable MPMP_CHECKPOINT: no clear message"
echo "PASSED"
