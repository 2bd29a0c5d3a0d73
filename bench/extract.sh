#!/bin/bash
# `converter extract` of one layer of inline_1g (docs/benchmarks.md,
# "Extract"): time against cp of the whole file, bytes read from storage.
#
#   bench/extract.sh                       # layers.15, 5 runs
#   RUNS=3 MODULE=layers.0 bench/extract.sh
#
# Builds the converter and the generator with -c opt as bench/run.sh does
# (same output base), generates inline_1g into $BENCH_DIR when missing,
# tags it once into $BENCH_DIR/extract/, then runs bench/extract_layer.py.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench}
RUNS=${RUNS:-5}
MODULE=${MODULE:-layers.15}
OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob}
mkdir -p "$BENCH_DIR/extract"
source bench/common.sh
bench_build
bench_model "$BENCH_DIR" inline_1g
TAGGED="$BENCH_DIR/extract/inline_1g.tagged.onnx"
bench_tagged "$BENCH_DIR/inline_1g.onnx" "$TAGGED"
/usr/bin/python3 bench/extract_layer.py "$CONVERTER" "$TAGGED" "$MODULE" \
  "$BENCH_DIR/extract" "$RUNS"
