#!/bin/bash
# Every command that reads the 1,000,000-node graph against `tag` of it
# (docs/benchmarks.md, "Every command against `tag`"): wall time, its ratio
# to `tag`'s (durable and --nofsync) and peak RSS over the files the
# command reads. One command:
#
#   bench/commands.sh            # 5 rounds
#   RUNS=3 bench/commands.sh
#
# Inputs are made once into $BENCH_DIR (default /tmp/hp-bench, about 1 GB
# with bench/run.sh's): nodes_1m and its trace, the model tagged, a fused
# graph derived from it (bench/fuse_pairs.py) and a synthetic onnxruntime
# profile of one run, an event per node (bench/make_profile.py). The
# converter is built with -c opt in its own output base, as bench/run.sh
# builds it.
#
# In each round the commands take turns, and each runs twice in a row with
# the second run timed: on a virtual machine memory freed long ago costs
# far more to touch again than memory freed a moment ago
# (docs/benchmarks.md, "Machine"), so a command timed right after another
# would pay for what that one left. Run after itself, each meets the
# memory it leaves, as in a batch of the same command. Every output is
# deleted and `sync` run before each run; the inputs are in the page
# cache.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/hp-bench}
RUNS=${RUNS:-5}
OUTPUT_BASE=${OUTPUT_BASE:-/tmp/hp-bench-ob}
PYTHON=/usr/bin/python3
source bench/common.sh
bench_build

model="$BENCH_DIR/nodes_1m.onnx"
trace="$BENCH_DIR/nodes_1m.trace.json"
tagged="$BENCH_DIR/nodes_1m.tagged.onnx"
fused="$BENCH_DIR/nodes_1m.fused.onnx"
profile="$BENCH_DIR/nodes_1m.profile.json"
bench_model "$BENCH_DIR" nodes_1m
bench_tagged "$model" "$tagged"
[ -f "$fused" ] || "$PYTHON" bench/fuse_pairs.py "$model" "$fused"
[ -f "$profile" ] || "$PYTHON" bench/make_profile.py "$tagged" "$profile" 1000000 1
out="$BENCH_DIR/out.onnx"

# name | what the command reads (files, for the RSS ratio) | its arguments
COMMANDS=(
  "tag|$model $trace|tag --model $model --output $out"
  "tag --nofsync|$model $trace|tag --model $model --output $out --nofsync"
  "analyze|$tagged|analyze --model $tagged"
  "validate --trace|$tagged $trace|validate --model $tagged --trace $trace"
  "strip|$tagged|strip --model $tagged --output $out --nofsync"
  "extract layers.5000|$tagged|extract --model $tagged --module_path layers.5000 --output $out --nofsync"
  "transfer, every node kept|$tagged $model|transfer --from $tagged --model $model --output $out --nofsync"
  "transfer, fused pairs|$tagged $fused|transfer --from $tagged --model $fused --output $out --nofsync"
  "profile, 1,000,000 events|$tagged $profile|profile --model $tagged --profile $profile --top 5"
)

RESULTS="$BENCH_DIR/commands.tsv"
: > "$RESULTS"
cat "$model" "$trace" "$tagged" "$fused" "$profile" > /dev/null
echo "measuring ${#COMMANDS[@]} commands, $RUNS rounds" >&2
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do
  for entry in "${COMMANDS[@]}"; do
    IFS='|' read -r name reads arguments <<< "$entry"
    # shellcheck disable=SC2206  # the arguments, as words
    command=("$CONVERTER" $arguments)
    for _ in warm timed; do  # the second run is timed
      rm -f "$out"
      sync
      "$PYTHON" bench/measure.py --time_only "$BENCH_DIR/time.txt" \
          "${command[@]}" 2>"$BENCH_DIR/stderr.txt" || {
        echo "failed: ${command[*]}" >&2; cat "$BENCH_DIR/stderr.txt" >&2
        exit 1; }
    done
    # shellcheck disable=SC2086  # the files, as words
    bytes=$(du -bc $reads | tail -1 | cut -f1)
    printf '%s\t%s\t%s\n' "$name" "$bytes" \
        "$(cut -d' ' -f1-2 < "$BENCH_DIR/time.txt" | tr ' ' '\t')" >> "$RESULTS"
  done
done
rm -f "$out" "$BENCH_DIR/time.txt" "$BENCH_DIR/stderr.txt"

echo "tree: $(git rev-parse --short HEAD 2>/dev/null || echo '?') + $(git status --short 2>/dev/null | wc -l) changed files; load average before $LOAD_BEFORE, after $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "$RESULTS" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
read = {}
for line in open(sys.argv[1]):
    name, size, wall, rss_kb = line.rstrip("\n").split("\t")
    runs[name].append((float(wall), int(rss_kb) * 1024))
    read[name] = int(size)
wall = {n: statistics.median(w for w, _ in r) for n, r in runs.items()}
rss = {n: statistics.median(m for _, m in r) for n, r in runs.items()}
tag, nofsync = wall["tag"], wall["tag --nofsync"]
print("median of %d timed runs (each the second of two in a row); wall "
      "in s, peak RSS in MB" % len(runs["tag"]))
print()
print("| command | wall | / tag | / tag --nofsync | peak RSS | / files read |")
print("|---|---|---|---|---|---|")
for n in runs:
    print("| %s | %.2f | %.2fx | %.2fx | %.0f | %.2fx |" % (
        n, wall[n], wall[n] / tag, wall[n] / nofsync, rss[n] / 1e6,
        rss[n] / read[n]))
PY
