#!/usr/bin/env bash
# Fuzzes one target for a while (docs/reliability.md, "Fuzzing"):
#
#   fuzz/run.sh TARGET SECONDS [LIBFUZZER_FLAG...]
#
# TARGET is a fuzz target of //fuzz (model_splice_fuzzer, or model_splice
# for short), built by fuzz/build.sh. It runs in one process on a scratch
# copy of its seed corpus and reproducers (the committed ones stay as they
# are), with its dictionary, for SECONDS seconds: an input running over 2 s,
# or the process over 2 GB of RSS, is a finding, as is any crash or
# sanitizer report. Prints the executions and the coverage (edges) at the
# end; on a finding, where the reproducer was written, and exits non-zero.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if (($# < 2)); then
  sed -n '3,12p' "$0" >&2
  exit 2
fi
target="${1%_fuzzer}_fuzzer"
seconds="$2"
shift 2

if [[ -z "${hp_fuzz_dicts[$target]:-}" ]]; then
  echo "fuzz/run.sh: unknown target $target (one of: ${!hp_fuzz_dicts[*]})" >&2
  exit 2
fi
read -ra dicts <<<"${hp_fuzz_dicts[$target]}"

binary="$(hp_fuzz_bazel info bazel-bin 2>/dev/null)/fuzz/$target"
if [[ ! -x "$binary" ]]; then
  echo "fuzz/run.sh: $binary is not built; run fuzz/build.sh first" >&2
  exit 1
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hp-fuzz-$target.XXXXXX")"
mkdir -p "$scratch/corpus" "$scratch/artifacts"
cp "$hp_root/fuzz/corpus/$target"/* "$scratch/corpus/"
if [[ -d "$hp_root/fuzz/regressions/$target" ]]; then
  cp "$hp_root/fuzz/regressions/$target"/* "$scratch/corpus/" 2>/dev/null
fi
for dict in "${dicts[@]}"; do
  cat "$hp_root/fuzz/$dict.dict"
done >"$scratch/dict"

echo "fuzzing $target for $seconds s in $scratch"
start=$(date +%s)
"$binary" "$scratch/corpus" \
  -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 \
  -dict="$scratch/dict" -artifact_prefix="$scratch/artifacts/" \
  -print_final_stats=1 "$@" 2>&1 | tee "$scratch/log" |
  grep -E '^#[0-9]+.*(pulse|DONE)|^==[0-9]+==|^SUMMARY|Test unit|artifact|^stat::'
status=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - start))

executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/log" | tail -1)
edges=$(grep -oE 'cov: [0-9]+' "$scratch/log" | tail -1 | cut -d' ' -f2)
features=$(grep -oE 'ft: [0-9]+' "$scratch/log" | tail -1 | cut -d' ' -f2)
findings=$(find "$scratch/artifacts" -type f | wc -l)
echo "$target: ${executions:-?} executions in $elapsed s, ${edges:-?} edges" \
  "(${features:-?} features), $findings findings, exit status $status"
if ((findings > 0 || status != 0)); then
  echo "reproducers in $scratch/artifacts; log in $scratch/log"
  exit 1
fi
rm -rf "$scratch"
