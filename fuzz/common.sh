# Shared by fuzz/build.sh and fuzz/run.sh: where the clang build lives.
# The fuzz targets build in an output base of their own, so that switching
# the compiler to clang never evicts the gcc build of the workspace.
hp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hp_fuzz_output_base="${HP_FUZZ_OUTPUT_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/hp-fuzz/$(printf %s "$hp_root" | sha256sum | cut -c1-16)}"

# Bazel on that output base, with the fuzz config.
hp_fuzz_bazel() {
  local command="$1"
  shift
  (cd "$hp_root" &&
    bazel --output_base="$hp_fuzz_output_base" "$command" --config=fuzz "$@")
}

# The fuzz targets (cc_binary rules of //fuzz, tagged manual) and the
# dictionaries (fuzz/<name>.dict) each one runs with. A new target is one
# entry here and one hp_fuzz_target in fuzz/BUILD.bazel.
declare -A hp_fuzz_dicts=(
  [model_splice_fuzzer]="onnx"
  [node_records_fuzzer]="onnx"
  [scope_trace_fuzzer]="trace"
  [node_names_fuzzer]="node_names"
  [tag_fuzzer]="onnx trace"
  [sidecar_fuzzer]="sidecar"
  [transfer_fuzzer]="onnx"
  [extract_fuzzer]="onnx"
  [profile_fuzzer]="profile"
)
