#!/bin/bash
# Whole-process comparison of `converter tag` with cp and with python3-onnx
# re-tagging the same file (docs/benchmarks.md). One command:
#
#   bench/run.sh                 # all models, 5 runs each
#   RUNS=3 bench/run.sh nodes_1m # one model
#
# Models are generated once into $BENCH_DIR (default /tmp/hp-bench, about
# 1.6 GB with outputs); delete the folder when done. Every run reads a file
# already in the page cache (warmed first); each output is deleted and
# `sync` run before the next run, so that no run pays for another's
# writeback.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench}
RUNS=${RUNS:-5}
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(inline_1g nodes_1m inline_400m)
PYTHON=/usr/bin/python3

mkdir -p "$BENCH_DIR/bin"
bazel build -c opt //hp:converter //bench:make_models >&2
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
cp -f "$BIN/hp/converter" "$BIN/bench/make_models" "$BENCH_DIR/bin/"
for model in "${MODELS[@]}"; do
  [ -f "$BENCH_DIR/$model.onnx" ] || "$BENCH_DIR/bin/make_models" "$BENCH_DIR" "$model" >&2
done

RESULTS="$BENCH_DIR/results.tsv"
: > "$RESULTS"
# measure MODEL TOOL COMMAND...: RUNS timed runs, one "model tool wall rss" line each.
measure() {
  local model=$1 tool=$2
  shift 2
  for _ in $(seq "$RUNS"); do
    rm -f "$BENCH_DIR/out.onnx"
    sync
    /usr/bin/time -f '%e %M' -o "$BENCH_DIR/time.txt" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt" || {
      echo "failed: $*" >&2; cat "$BENCH_DIR/stderr.txt" >&2; exit 1; }
    printf '%s\t%s\t%s\n' "$model" "$tool" "$(tr ' ' '\t' < "$BENCH_DIR/time.txt")" >> "$RESULTS"
  done
}

for model in "${MODELS[@]}"; do
  in="$BENCH_DIR/$model.onnx"
  out="$BENCH_DIR/out.onnx"
  cat "$in" "$BENCH_DIR/$model.trace.json" > /dev/null  # warm the page cache
  echo "measuring $model ($RUNS runs each)" >&2
  measure "$model" cp cp "$in" "$out"
  measure "$model" cp+sync sh -c "cp '$in' '$out' && sync '$out'"
  measure "$model" hp "$BENCH_DIR/bin/converter" tag --model "$in" --output "$out"
  measure "$model" hp-no-trace "$BENCH_DIR/bin/converter" tag --model "$in" --output "$out" --trace none
  measure "$model" python "$PYTHON" bench/python_retag.py "$in" "$out"
done
rm -f "$BENCH_DIR/out.onnx" "$BENCH_DIR/time.txt" "$BENCH_DIR/stderr.txt"

"$PYTHON" - "$RESULTS" "$BENCH_DIR" <<'PY'
import collections, os, statistics, sys
results, folder = sys.argv[1], sys.argv[2]
runs = collections.defaultdict(list)
for line in open(results):
    model, tool, wall, rss_kb = line.split("\t")
    runs[model, tool].append((float(wall), int(rss_kb) * 1024))
models = list(dict.fromkeys(model for model, _ in runs))
tools = ["cp", "cp+sync", "hp", "hp-no-trace", "python"]
def median(model, tool, i):
    return statistics.median(r[i] for r in runs[model, tool])
print("median of %d runs; wall in s, peak RSS in MB" % len(runs[models[0], "cp"]))
print("| model | size MB | " + " | ".join("%s wall" % t for t in tools) +
      " | hp/cp | hp/(cp+sync) | python/hp | hp RSS MB | hp RSS/size | python RSS MB |")
print("|---" * (2 + len(tools) + 6) + "|")
for model in models:
    size = os.path.getsize(os.path.join(folder, model + ".onnx"))
    wall = {t: median(model, t, 0) for t in tools}
    rss = {t: median(model, t, 1) for t in tools}
    print("| %s | %.0f | %s | %.2f | %.2f | %.1f | %.0f | %.3f | %.0f |" % (
        model, size / 1e6, " | ".join("%.2f" % wall[t] for t in tools),
        wall["hp"] / wall["cp"], wall["hp"] / wall["cp+sync"],
        wall["python"] / wall["hp"], rss["hp"] / 1e6, rss["hp"] / size,
        rss["python"] / 1e6))
PY
