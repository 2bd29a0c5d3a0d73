#!/usr/bin/env bash
# Builds and tests examples/consumer, a separate Bazel workspace that depends
# on hp as @hp (docs/bazel-dependency.md), offline, and proves that its
# actions are cacheable and deterministic:
#   1. cold `bazel test //...` with an empty --disk_cache: everything runs;
#   2. `bazel clean`, then `bazel test //...` again: every action, the test
#      included, must come from the cache (no process executed);
#   3. the tagging actions alone are run again, bypassing the cache: their
#      outputs must be byte for byte those of step 1;
#   4. a model whose side file (ONNX external data) is not declared in
#      hp_tagged_model's external_data fails to build, naming the file.
# Prints one PASS or FAIL line per check; exits non-zero on any failure.
# Ends by shutting down the consumer workspace's Bazel server.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/examples/consumer" || exit 1

work="$(mktemp -d "${TMPDIR:-/tmp}/hp-consumer.XXXXXX")"
cache="$work/disk_cache"
trap 'bazel shutdown >/dev/null 2>&1; rm -rf "$work"' EXIT

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

flags=(--disk_cache="$cache" --color=no --curses=no)
outputs=(bazel-bin/tiny_bert_tagged.onnx bazel-bin/tiny_bert_tagged.hp.json
  bazel-bin/mlp_tagged.onnx)

# Runs bazel with the arguments, output in $work/<name>.log; on failure shows
# the end of that log.
run_bazel() {
  local name="$1"
  shift
  if bazel "$@" >"$work/$name.log" 2>&1; then return 0; fi
  echo "--- bazel $* failed; end of its output:"
  tail -n 40 "$work/$name.log"
  return 1
}

# Bazel's summary of one command: "INFO: 100 processes: 64 remote cache hit,
# 36 internal." (Bazel 4 counts --disk_cache hits as "remote cache hit").
processes_line() {
  grep -E '^INFO: [0-9]+ process(es)?:' "$work/$1.log" | tail -n 1
}

# Processes of the summary that ran a command (sandboxed, local, worker,
# remote execution): all but cache hits and Bazel's internal ones.
executed_count() {
  processes_line "$1" | sed -E 's/^INFO: [0-9]+ process(es)?: ?//; s/\.$//' |
    tr ',' '\n' | grep -vE 'cache hit|internal' |
    awk '{ n += $1 } END { print n + 0 }'
}

cache_hit_count() {
  processes_line "$1" | grep -oE '[0-9]+ (remote|disk) cache hit' |
    awk '{ n += $1 } END { print n + 0 }'
}

digests() { sha256sum "${outputs[@]}" 2>/dev/null; }

# 1. Cold build and test, offline (.bazelrc disables downloads).
run_bazel clean0 clean || exit 1
if run_bazel cold test //... "${flags[@]}"; then
  pass "cold 'bazel test //...' offline: $(processes_line cold)"
else
  fail "cold 'bazel test //...' in examples/consumer"
  exit 1
fi
cold_digests="$(digests)"

# 2. After a clean, everything must come from the disk cache.
run_bazel clean1 clean || exit 1
if run_bazel cached test //... "${flags[@]}"; then
  executed="$(executed_count cached)"
  hits="$(cache_hit_count cached)"
  if [[ "$executed" -eq 0 && "$hits" -gt 0 ]] &&
      grep -q '(cached) PASSED' "$work/cached.log"; then
    pass "after 'bazel clean', all $hits actions came from the disk cache," \
      "0 executed, test result cached: $(processes_line cached)"
  else
    fail "after 'bazel clean', $executed processes executed and $hits came" \
      "from the cache: $(processes_line cached)"
  fi
  if [[ "$(digests)" == "$cold_digests" ]]; then
    pass "cached outputs equal the cold build's"
  else
    fail "cached outputs differ from the cold build's"
  fi
else
  fail "'bazel test //...' after 'bazel clean'"
fi

# 3. Determinism: delete the outputs and run the tagging actions again,
# ignoring the cache.
rm -f "${outputs[@]}"
if run_bazel rerun build //:tiny_bert_tagged //:mlp_tagged "${flags[@]}" \
    --noremote_accept_cached --noremote_upload_local_results; then
  if [[ "$(executed_count rerun)" -ge 1 && "$(digests)" == "$cold_digests" ]]
  then
    pass "re-running the tagging action gives the same bytes:" \
      "$(echo "$cold_digests" | awk '{ printf "%s %.16s… ", $2, $1 }')"
  else
    fail "re-running the tagging action ($(processes_line rerun)) gave" \
      "other bytes: $(digests) vs $cold_digests"
  fi
else
  fail "re-running the tagging action"
fi

# The external-data model's side file is beside its tagged model, the
# input's bytes (a link Bazel made to it).
if cmp -s bazel-bin/mlp.onnx.data ../../testdata/external_data/mlp.onnx.data
then
  pass "mlp_tagged.onnx has its side file mlp.onnx.data beside it"
else
  fail "bazel-bin/mlp.onnx.data is missing or differs from the input's"
fi

# 4. The same model without external_data: the action must fail, naming the
# side file it would lack.
if bazel build //:mlp_undeclared "${flags[@]}" >"$work/undeclared.log" 2>&1
then
  fail "//:mlp_undeclared built although its side file is not declared"
elif grep -q "side file 'mlp.onnx.data' (external data), which is not declared" \
    "$work/undeclared.log"; then
  pass "an undeclared side file fails the action: $(grep -o \
    "side file 'mlp.onnx.data'[^;]*" "$work/undeclared.log" | head -n 1)"
else
  fail "//:mlp_undeclared failed without naming mlp.onnx.data:"
  tail -n 20 "$work/undeclared.log"
fi

if ((failures > 0)); then
  echo "FAIL: examples/consumer: $failures check(s) failed"
  exit 1
fi
echo "PASS: examples/consumer"
