#!/bin/bash
# Whole-process comparison of `converter tag` with cp and with python3-onnx
# re-tagging the same file (docs/benchmarks.md). One command:
#
#   bench/run.sh                 # all models, 5 runs each
#   RUNS=3 bench/run.sh nodes_1m # one model
#   REPEAT=2 bench/run.sh        # each tool timed right after itself
#
# Models are generated once into $BENCH_DIR (default /tmp/hp-bench, about
# 1.6 GB with outputs); delete the folder when done. Every run reads a file
# already in the page cache (warmed first); each output is deleted and
# `sync` run before the next run, so that no run pays for another's
# writeback. Each turn of a tool runs it REPEAT times in a row (default 1)
# and times the last. On a virtual machine memory freed long ago costs far
# more to touch again than memory freed a moment ago (docs/benchmarks.md,
# "Machine"), so a tool timed right after another pays for what that one
# left or did not free: `tag --nofsync` after the durable `tag`, whose
# direct writes free no page cache, meets 297 MB of cold pages, and
# python3-onnx finds the 1 GB output hp just freed. With REPEAT=2 each
# tool meets the memory it leaves itself, as in a batch of the same tool.
#
# The binaries are built with -c opt in their own Bazel output base
# ($OUTPUT_BASE, default /tmp/hp-bench-ob; its server exits after a minute
# idle), so that the workspace's usual fastbuild server keeps its analysis
# cache. The first build there takes a few minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench}
RUNS=${RUNS:-5}
REPEAT=${REPEAT:-1}
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(inline_1g nodes_1m inline_400m)
PYTHON=/usr/bin/python3

OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob}
source bench/common.sh
bench_build
for model in "${MODELS[@]}"; do
  bench_model "$BENCH_DIR" "$model"
  # The same trace as recorded before traces carried a structure digest:
  # checking it hashes the whole file.
  "$PYTHON" -c 'import json, sys
trace = json.load(open(sys.argv[1]))
del trace["model"]["onnx_structure_sha256"]
json.dump(trace, open(sys.argv[2], "w"), indent=1)' \
    "$BENCH_DIR/$model.trace.json" "$BENCH_DIR/$model.file-digest.trace.json"
done

RESULTS="$BENCH_DIR/results.tsv"
MEMORY="$BENCH_DIR/memory.tsv"
: > "$RESULTS"
: > "$MEMORY"
# The disk's floor for the durable `tag`: as many bytes as it writes
# (its own output, made once here), copied and synced.
for model in "${MODELS[@]}"; do
  "$CONVERTER" tag --model "$BENCH_DIR/$model.onnx" \
      --output "$BENCH_DIR/$model.hp-output.onnx" --nofsync > /dev/null
done
TOOLS=(cp cp+sync cp-output+sync hp hp-nofsync hp-file-digest
       hp-no-trace-nofsync python)
# command_of TOOL IN OUT: sets COMMAND to what the tool runs.
command_of() {
  local in=$2 out=$3
  case $1 in
    cp) COMMAND=(cp "$in" "$out") ;;
    cp+sync) COMMAND=(sh -c "cp '$in' '$out' && sync '$out'") ;;
    cp-output+sync)
      COMMAND=(sh -c "cp '${in%.onnx}.hp-output.onnx' '$out' && sync '$out'") ;;
    hp) COMMAND=("$CONVERTER" tag --model "$in" --output "$out") ;;
    hp-nofsync) COMMAND=("$CONVERTER" tag --model "$in" --output "$out" --nofsync) ;;
    hp-file-digest)
      COMMAND=("$CONVERTER" tag --model "$in" --output "$out"
               --trace "${in%.onnx}.file-digest.trace.json") ;;
    hp-no-trace-nofsync)
      COMMAND=("$CONVERTER" tag --model "$in" --output "$out" --trace none --nofsync) ;;
    python) COMMAND=("$PYTHON" bench/python_retag.py "$in" "$out") ;;
  esac
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# The tools take turns, run after run, so that a burst of other work on a
# shared machine slows them alike. A first round samples each tool's peak
# anonymous memory from /proc (bench/measure.py), which takes part of a
# core: the timed rounds after it sample nothing (--time_only), so that a
# tool on every core is not slowed by the sampler where a single-threaded
# one is not. One "model tool wall rss anon" line per run, in $MEMORY for
# the first round and in $RESULTS for the others (peak RSS from
# /usr/bin/time in both).
for model in "${MODELS[@]}"; do
  in="$BENCH_DIR/$model.onnx"
  out="$BENCH_DIR/out.onnx"
  cat "$in" "$BENCH_DIR/$model.trace.json" > /dev/null  # warm the page cache
  echo "measuring $model (1 sampled and $RUNS timed runs of each tool)" >&2
  for round in $(seq 0 "$RUNS"); do
    for tool in "${TOOLS[@]}"; do
      command_of "$tool" "$in" "$out"
      measure=(bench/measure.py --time_only)
      lines="$RESULTS"
      [ "$round" -eq 0 ] && { measure=(bench/measure.py); lines="$MEMORY"; }
      for _ in $(seq "$REPEAT"); do
        rm -f "$out"
        sync
        "$PYTHON" "${measure[@]}" "$BENCH_DIR/time.txt" "${COMMAND[@]}" \
            2>"$BENCH_DIR/stderr.txt" || {
          echo "failed: ${COMMAND[*]}" >&2; cat "$BENCH_DIR/stderr.txt" >&2
          exit 1; }
      done
      printf '%s\t%s\t%s\n' "$model" "$tool" \
          "$(tr ' ' '\t' < "$BENCH_DIR/time.txt")" >> "$lines"
    done
  done
done
rm -f "$BENCH_DIR/out.onnx" "$BENCH_DIR/time.txt" "$BENCH_DIR/stderr.txt"
for model in "${MODELS[@]}"; do rm -f "$BENCH_DIR/$model.hp-output.onnx"; done

# What was measured: the tree (the commit, and files changed since) and how
# busy the machine was.
echo "tree: $(git rev-parse --short HEAD 2>/dev/null || echo '?') + $(git status --short 2>/dev/null | wc -l) changed files; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "$RESULTS" "$MEMORY" "$BENCH_DIR" "$REPEAT" <<'PY'
import collections, os, statistics, sys
results, memory, folder, repeat = sys.argv[1:5]
def read(path):
    runs = collections.defaultdict(list)
    for line in open(path):
        model, tool, wall, rss_kb, anon_kb = line.split("\t")
        runs[model, tool].append(
            (float(wall), int(rss_kb) * 1024, int(anon_kb) * 1024))
    return runs
runs, sampled = read(results), read(memory)
models = list(dict.fromkeys(model for model, _ in runs))
tools = list(dict.fromkeys(tool for _, tool in runs))  # as run.sh lists them
def median(model, tool, i):
    return statistics.median(r[i] for r in runs[model, tool])
wall = {m: {t: median(m, t, 0) for t in tools} for m in models}
rss = {m: {t: median(m, t, 1) for t in tools} for m in models}
anon = {m: {t: max(r[2] for r in sampled[m, t]) for t in tools}
        for m in models}
size = {m: os.path.getsize(os.path.join(folder, m + ".onnx")) for m in models}
print("median of %d timed runs%s, after one sampled for memory; wall time "
      "in s" % (len(runs[models[0], "cp"]),
                "" if repeat == "1" else " (each the last of %s in a row)" %
                repeat))
print()
print("| model | size MB | " + " | ".join(tools) + " |")
print("|---" * (2 + len(tools)) + "|")
for m in models:
    print("| %s | %.0f | %s |" % (m, size[m] / 1e6,
          " | ".join("%.2f" % wall[m][t] for t in tools)))
print()
print("ratios of median wall times; peak RSS (median; file pages of the "
      "mapped input included) and peak anonymous memory (the sampled run's)")
print()
ratios = [("hp/cp", "hp", "cp"), ("hp-nofsync/cp", "hp-nofsync", "cp"),
          ("hp/(cp+sync)", "hp", "cp+sync"),
          ("hp/(cp-output+sync)", "hp", "cp-output+sync"),
          ("hp-file-digest/hp", "hp-file-digest", "hp"),
          ("python/hp", "python", "hp"),
          ("python/hp-nofsync", "python", "hp-nofsync")]
print("| model | " + " | ".join(r[0] for r in ratios) +
      " | hp RSS MB | hp RSS/size | hp anon MB | python RSS MB |")
print("|---" * (1 + len(ratios) + 4) + "|")
for m in models:
    print("| %s | %s | %.0f | %.3f | %.0f | %.0f |" % (
        m, " | ".join("%.2f" % (wall[m][a] / wall[m][b]) for _, a, b in ratios),
        rss[m]["hp"] / 1e6, rss[m]["hp"] / size[m], anon[m]["hp"] / 1e6,
        rss[m]["python"] / 1e6))
PY
