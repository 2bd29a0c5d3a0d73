#!/usr/bin/env bash
# Runs every test of hp on a fresh Debian 12 machine: installs what is
# missing, then the Bazel suite (plain, then under ASan+UBSan and TSan,
# docs/reliability.md), the converter's output bytes against
# tests/outputs/manifest.tsv, the recorder and fixture tests (Debian's
# torch), the end-to-end checks with onnx.checker and onnxruntime, and the
# example consumer workspace, and the clang build of the fuzz targets
# (fuzz/build.sh; fuzzing itself is fuzz/run.sh), and the layout of the
# C++ sources (scripts/check_format.sh). Ends with one "N passed, N failed"
# line.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/install_deps.sh || exit 1

passed=0
failed=0
failures=()
run_suite() {
  local name="$1"
  shift
  echo "=== $name: $*"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: PASS"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAIL"
  fi
}

# Leave no Bazel server running once the tests are done: neither the
# workspace's nor the one on fuzz/build.sh's output base.
source fuzz/common.sh
shutdown_bazel() {
  bazel shutdown >/dev/null 2>&1 || true
  if [[ -d "$hp_fuzz_output_base" ]]; then
    bazel --output_base="$hp_fuzz_output_base" shutdown >/dev/null 2>&1 || true
  fi
}
trap shutdown_bazel EXIT

run_suite bazel bazel test //...
run_suite kill-large bazel test //tests/converter:kill_large_test
run_suite bazel-asan bazel test --config=asan //...
run_suite bazel-tsan bazel test --config=tsan //...
run_suite outputs tests/outputs/record.sh --check
run_suite recorder-and-fixtures /usr/bin/python3 -m unittest discover -s tests/python
if [[ -x tests/integration/run.sh ]]; then
  run_suite end-to-end tests/integration/run.sh
fi
if [[ -x scripts/test_consumer.sh ]]; then
  run_suite consumer-workspace scripts/test_consumer.sh
fi

run_suite fuzz-build fuzz/build.sh
run_suite format scripts/check_format.sh

if ((failed > 0)); then echo "failed suites: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
((failed == 0))
