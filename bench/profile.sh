#!/bin/bash
# `converter profile` on the 1,000,000-node benchmark graph (nodes_1m,
# tagged) with synthetic onnxruntime profiles of 1,000, 250,000 and 1,000,000 node
# events, and the 1,000,000-event file given twice (2,000,000 events
# merged): time and peak RSS of each (docs/benchmarks.md). Peak RSS should
# not grow with the profile: it is read as a stream.
#
#   bench/profile.sh             # 3 runs each
#   RUNS=1 bench/profile.sh
#
# Files go to $BENCH_DIR (default /tmp/hp-bench-profile, about 1 GB); the
# converter is built with -c opt in its own output base ($OUTPUT_BASE,
# default /tmp/hp-bench-ob-profile), as bench/run.sh does.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench-profile}
RUNS=${RUNS:-3}
OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob-profile}
PYTHON=/usr/bin/python3
source bench/common.sh
bench_build

model="$BENCH_DIR/nodes_1m.onnx"
tagged="$BENCH_DIR/nodes_1m.tagged.onnx"
bench_model "$BENCH_DIR" nodes_1m
bench_tagged "$model" "$tagged"
for events in 1000 250000 1000000; do
  profile="$BENCH_DIR/profile_$events.json"
  [ -f "$profile" ] || "$PYTHON" bench/make_profile.py "$tagged" "$profile" "$events" 4
done

p1k="$BENCH_DIR/profile_1000.json"
p250k="$BENCH_DIR/profile_250000.json"
p1m="$BENCH_DIR/profile_1000000.json"
printf 'case\tevents\tprofile MB\twall s\tCPU s (user+sys)\tpeak RSS MB\n'
measure() {  # NAME EVENTS MB PROFILES
  local name=$1 events=$2 mb=$3 profiles=$4
  # shellcheck disable=SC2086  # the comma-separated list, as words
  cat ${profiles//,/ } > /dev/null  # into the page cache
  for ((run = 1; run <= RUNS; run++)); do
    /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$BENCH_DIR/time.txt" \
      "$CONVERTER" profile --model "$tagged" --profile "$profiles" --top 5 > /dev/null
    IFS=$'\t' read -r seconds user sys kb < "$BENCH_DIR/time.txt"
    printf '%s\t%s\t%s\t%s\t%s\t%d\n' "$name" "$events" "$mb" "$seconds" \
      "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" $((kb / 1024))
  done
}
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1e6 }'; }
measure 1k 1000 "$(size_mb "$p1k")" "$p1k"
measure 250k 250000 "$(size_mb "$p250k")" "$p250k"
measure 1m 1000000 "$(size_mb "$p1m")" "$p1m"
measure 2m-merged 2000000 "$(awk -v m="$(size_mb "$p1m")" 'BEGIN { printf "%.1f", 2 * m }')" "$p1m,$p1m"
