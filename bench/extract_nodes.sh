#!/bin/bash
# `converter extract` of one layer of the 1,000,000-node benchmark graph
# (nodes_1m, tagged: 297 MB), against `converter tag --nofsync` of the same
# graph in the same run (docs/benchmarks.md, "extract on the 1,000,000-node
# graph"). The first, middle and last layers: a cut's border types are
# inferred from the graph's input up to the cut, so the last layer is the
# costliest.
#
#   bench/extract_nodes.sh             # 3 runs each, interleaved
#   RUNS=5 bench/extract_nodes.sh
#
# Files go to $BENCH_DIR (default /tmp/hp-bench-extract, about 450 MB); the
# converter is built with -c opt in its own output base ($OUTPUT_BASE,
# default /tmp/hp-bench-ob-extract), as bench/run.sh does. Prints medians:
# wall, peak RSS (file pages counted), peak anonymous memory, RSS over the
# file read and wall over tag's.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench-extract}
RUNS=${RUNS:-3}
OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob-extract}
LAYERS=(layers.0 layers.5000 layers.9999)
source bench/common.sh
bench_build

model="$BENCH_DIR/nodes_1m.onnx"
tagged="$BENCH_DIR/nodes_1m.tagged.onnx"
bench_model "$BENCH_DIR" nodes_1m
bench_tagged "$model" "$tagged"
cat "$model" "$tagged" > /dev/null  # into the page cache

results="$BENCH_DIR/results.txt"
: > "$results"
for ((run = 1; run <= RUNS; run++)); do
  bench/measure.py "$BENCH_DIR/m.txt" "$CONVERTER" tag --model "$model" \
    --output "$BENCH_DIR/tagged_again.onnx" --nofsync
  echo "tag $(cat "$BENCH_DIR/m.txt")" >> "$results"
  for layer in "${LAYERS[@]}"; do
    bench/measure.py "$BENCH_DIR/m.txt" "$CONVERTER" extract --model "$tagged" \
      --module_path "$layer" --output "$BENCH_DIR/$layer.onnx" --nofsync
    echo "$layer $(cat "$BENCH_DIR/m.txt")" >> "$results"
  done
done

/usr/bin/python3 - "$results" "$(stat -c %s "$model")" "$(stat -c %s "$tagged")" <<'EOF'
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    name, wall, rss, anon = line.split()
    rows.setdefault(name, []).append((float(wall), int(rss), int(anon)))
model_bytes, tagged_bytes = int(sys.argv[2]), int(sys.argv[3])


def median(name, k):
    return statistics.median(row[k] for row in rows[name])


tag_wall = median("tag", 0)
print("command\twall s\tpeak RSS MB\tpeak anon MB\tRSS / file read\twall / tag's")
for name in rows:
    read = model_bytes if name == "tag" else tagged_bytes
    wall, rss, anon = (median(name, k) for k in range(3))
    print(f"{'tag' if name == 'tag' else 'extract ' + name}\t{wall:.2f}\t"
          f"{rss * 1024 / 1e6:.0f}\t{anon * 1024 / 1e6:.0f}\t"
          f"{rss * 1024 / read:.2f}x\t{wall / tag_wall:.2f}x")
EOF
