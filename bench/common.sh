# shellcheck shell=bash
# What the benchmark scripts share; sourced once BENCH_DIR and OUTPUT_BASE
# are set.

# Bazel in the benchmarks' own output base: no convenience symlinks, which
# would repoint bazel-bin and bazel-<workspace> away from the usual build.
bench_bazel() { bazel --output_base="$OUTPUT_BASE" --max_idle_secs=60 "$@"; }

# Builds the converter and the model generator with -c opt (extra Bazel
# flags as arguments), copies them into $BENCH_DIR/bin and sets CONVERTER.
# shellcheck disable=SC2120  # the flags are optional
bench_build() {
  mkdir -p "$BENCH_DIR/bin"
  bench_bazel build --symlink_prefix=/ -c opt "$@" //hp:converter \
    //bench:make_models >&2
  local bin
  bin=$(bench_bazel info -c opt bazel-bin 2>/dev/null)
  cp -f "$bin/hp/converter" "$bin/bench/make_models" "$BENCH_DIR/bin/"
  CONVERTER="$BENCH_DIR/bin/converter"
}

# bench_model FOLDER NAME: the generator's model NAME in FOLDER, made when
# missing.
bench_model() {
  [ -f "$1/$2.onnx" ] || "$BENCH_DIR/bin/make_models" "$1" "$2" >&2
}

# bench_tagged MODEL TAGGED: MODEL tagged into TAGGED, when missing.
bench_tagged() {
  [ -f "$2" ] || "$CONVERTER" tag --model "$1" --output "$2" --nofsync >&2
}
