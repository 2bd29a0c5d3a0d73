#!/bin/bash
# Tagging a model with 4 GB of external data into another folder on the same
# file system, against tagging the same graph where it needs no side file
# (docs/benchmarks.md, "External data"). One command:
#
#   bench/external_data.sh            # 5 runs of each
#   RUNS=3 bench/external_data.sh
#
# The model (external_4g: 4 GB of weights in external_4g.onnx.data beside a
# 139 KB graph, with its trace) is generated once into $BENCH_DIR (default
# /tmp/hp-bench-ext, about 8 GB with the copies); delete the folder when
# done. Builds as bench/run.sh does (-c opt, output base $OUTPUT_BASE).
# Each run reads files already in the page cache; outputs are deleted and
# `sync` run before the next run. Every hp run flushes its output to disk
# (the default fsync), the copy's side file included.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench-ext}
RUNS=${RUNS:-5}
OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob}
MODEL=external_4g
mkdir -p "$BENCH_DIR/in" "$BENCH_DIR/out"
source bench/common.sh
bench_build --local_cpu_resources=1
bench_model "$BENCH_DIR/in" "$MODEL"

IN="$BENCH_DIR/in/$MODEL.onnx"
DATA="$IN.data"
RESULTS="$BENCH_DIR/results.tsv"
: > "$RESULTS"
# - graph-only: the same model tagged into its own folder, where it needs no
#   side file (--external_data=error proves none is placed): the graph's
#   cost alone;
# - link: into another folder, the side file hard-linked (the default);
# - copy: into another folder, --external_data=copy (the side file copied
#   in the kernel and flushed);
# - cp+sync: `cp` of the side file and `sync` of it, for the copy's floor.
TOOLS=(graph-only link copy cp+sync)
# command_of TOOL: sets COMMAND, and CLEAN to the files the run makes.
command_of() {
  case $1 in
    graph-only)
      COMMAND=("$CONVERTER" tag --model "$IN" --output "$BENCH_DIR/in/tagged.onnx"
               --external_data=error)
      CLEAN=("$BENCH_DIR/in/tagged.onnx") ;;
    link)
      COMMAND=("$CONVERTER" tag --model "$IN" --output "$BENCH_DIR/out/$MODEL.onnx")
      CLEAN=("$BENCH_DIR/out/$MODEL.onnx" "$BENCH_DIR/out/$MODEL.onnx.data") ;;
    copy)
      COMMAND=("$CONVERTER" tag --model "$IN" --output "$BENCH_DIR/out/$MODEL.onnx"
               --external_data=copy)
      CLEAN=("$BENCH_DIR/out/$MODEL.onnx" "$BENCH_DIR/out/$MODEL.onnx.data") ;;
    cp+sync)
      COMMAND=(sh -c "cp '$DATA' '$BENCH_DIR/out/$MODEL.onnx.data' && sync '$BENCH_DIR/out/$MODEL.onnx.data'")
      CLEAN=("$BENCH_DIR/out/$MODEL.onnx.data") ;;
  esac
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cat "$IN" "$DATA" "${IN%.onnx}.trace.json" > /dev/null  # warm the page cache
echo "measuring $MODEL ($RUNS runs of each tool)" >&2
for _ in $(seq "$RUNS"); do
  for tool in "${TOOLS[@]}"; do
    command_of "$tool"
    rm -f "${CLEAN[@]}"
    sync
    /usr/bin/time -f '%e %M' -o "$BENCH_DIR/time.txt" "${COMMAND[@]}" \
        >"$BENCH_DIR/stdout.txt" 2>"$BENCH_DIR/stderr.txt" || {
      echo "failed: ${COMMAND[*]}" >&2; cat "$BENCH_DIR/stderr.txt" >&2; exit 1; }
    # What was placed, as hp reported it (e.g. "1 side file hard-linked").
    placed=$(grep -o 'side file [a-z-]*' "$BENCH_DIR/stdout.txt" || echo -)
    printf '%s\t%s\t%s\n' "$tool" "$(tr ' ' '\t' < "$BENCH_DIR/time.txt")" \
        "$placed" >> "$RESULTS"
    rm -f "${CLEAN[@]}"
  done
done
rm -f "$BENCH_DIR/time.txt" "$BENCH_DIR/stdout.txt" "$BENCH_DIR/stderr.txt"

echo "tree: $(git rev-parse --short HEAD 2>/dev/null || echo '?') + $(git status --short 2>/dev/null | wc -l) changed files; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $(stat -c %s "$IN") bytes of graph, $(stat -c %s "$DATA") bytes of external data"
/usr/bin/python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
placed = {}
for line in open(sys.argv[1]):
    tool, wall, rss_kb, how = line.rstrip("\n").split("\t")
    runs[tool].append((float(wall), int(rss_kb) * 1024))
    placed[tool] = how
tools = list(runs)
wall = {t: statistics.median(r[0] for r in runs[t]) for t in tools}
rss = {t: statistics.median(r[1] for r in runs[t]) for t in tools}
print("median of %d runs" % len(runs[tools[0]]))
print()
print("| | wall s | min-max s | peak RSS MB | placed |")
print("|---|---|---|---|---|")
for t in tools:
    walls = [r[0] for r in runs[t]]
    print("| %s | %.3f | %.3f-%.3f | %.0f | %s |" % (
        t, wall[t], min(walls), max(walls), rss[t] / 1e6, placed[t]))
print()
base = wall["graph-only"]
print("link - graph-only: %+.3f s (link/graph-only %.2f); copy/link %.1f; "
      "copy/(cp+sync) %.2f" % (wall["link"] - base, wall["link"] / base,
                                wall["copy"] / wall["link"],
                                wall["copy"] / wall["cp+sync"]))
PY
