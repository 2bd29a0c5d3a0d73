#!/usr/bin/env bash
# Builds hp's fuzz targets with clang and libFuzzer, instrumented with
# AddressSanitizer and UndefinedBehaviorSanitizer (docs/reliability.md,
# "Fuzzing"): --config=fuzz of .bazelrc, in an output base of its own
# (a cold build compiles hp again with clang). Extra arguments go to
# `bazel build` (e.g. --local_cpu_resources=1). Prints where the binaries
# are; fuzz/run.sh runs them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$hp_root/scripts/install_deps.sh"
hp_debian_packages=(clang-14 libclang-rt-14-dev)
hp_install_debian_packages

targets=()
for target in "${!hp_fuzz_dicts[@]}"; do targets+=("//fuzz:$target"); done
hp_fuzz_bazel build "$@" "${targets[@]}"
echo "fuzz targets in $(hp_fuzz_bazel info bazel-bin 2>/dev/null)/fuzz:"
printf '  %s\n' "${targets[@]#//fuzz:}"
