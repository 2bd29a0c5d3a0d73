#!/usr/bin/env bash
# Pins the exact output bytes of every converter command: runs each command
# on every input (testdata/models and Debian's libonnx-testdata) and writes
# tests/outputs/manifest.tsv, one line per case:
#
#   case id, input, exit code, SHA-256 of the output file(s) written ("-" for
#   none or a file not written; several joined by ","), SHA-256 of stdout,
#   SHA-256 of stderr
#
#   tests/outputs/record.sh                 record the manifest
#   tests/outputs/record.sh --check         compare with the committed one;
#                                           prints each differing case and
#                                           exits 1 if any differ
#   tests/outputs/record.sh --keep DIR      also keep the run's files in DIR
#                                           (to diff two binaries' outputs)
#
# Environment: HP_CONVERTER (default: `bazel build //:converter`, then
# bazel-bin/hp/converter), HP_OUTPUTS_JOBS (cases run in parallel, default 2).
#
# The cases run in a fresh temporary folder (/dev/shm when writable: fsync
# is free there) holding copies of the inputs under the names the manifest
# shows, with relative paths, so no temporary name reaches stdout or stderr.
# The cases of one input run in order in one worker (strip reads what tag
# wrote); workers are independent, so the manifest does not depend on
# scheduling. The manifest is sorted by case id.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
manifest="$repo/tests/outputs/manifest.tsv"
testdata_package=/usr/share/libonnx-testdata
jobs="${HP_OUTPUTS_JOBS:-2}"

check=false
keep=""
while (($# > 0)); do
  case "$1" in
    --check) check=true ;;
    --keep)
      keep="${2:?--keep needs a folder}"
      shift
      ;;
    -h | --help)
      sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "record.sh: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

if [[ ! $jobs =~ ^[1-9][0-9]*$ ]]; then
  echo "record.sh: HP_OUTPUTS_JOBS must be a count of 1 or more, got '$jobs'" >&2
  exit 2
fi
if $check && [[ ! -f $manifest ]]; then
  echo "record.sh: no $manifest to check against; run tests/outputs/record.sh" >&2
  exit 2
fi
if [[ ! -d $testdata_package/data ]]; then
  echo "record.sh: $testdata_package not found; install Debian's libonnx-testdata" >&2
  exit 2
fi
if [[ -n ${HP_CONVERTER:-} ]]; then
  converter="$(readlink -f "$HP_CONVERTER")"
else
  (cd "$repo" && bazel build //:converter) >&2
  converter="$(readlink -f "$repo/bazel-bin/hp/converter")"
fi
if [[ ! -x $converter ]]; then
  echo "record.sh: no converter at $converter (build it or set HP_CONVERTER)" >&2
  exit 2
fi

if [[ -n $keep ]]; then
  mkdir -p "$keep"
  if [[ -n $(ls -A "$keep") ]]; then
    echo "record.sh: --keep $keep: folder is not empty" >&2
    exit 2
  fi
  work="$(cd "$keep" && pwd)"
else
  tmp_parent="${TMPDIR:-/tmp}"
  if [[ -d /dev/shm && -w /dev/shm ]]; then tmp_parent=/dev/shm; fi
  work="$(mktemp -d "$tmp_parent/hp-outputs.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
fi
start_seconds=$SECONDS

# --- The inputs, copied under the names the manifest shows. ---
cd "$work"
ln -s "$converter" converter
mkdir -p testdata shards runs out
cp -r "$repo/testdata/models" "$repo/testdata/bad_traces" "$repo/testdata/transformed" \
  "$repo/testdata/profiles" testdata/
(cd "$testdata_package/.." &&
  find "$(basename "$testdata_package")" -name model.onnx -print0 |
  xargs -0 cp --parents -t "$work")
# Copies for the cases that may write onto their input (a broken converter
# must not change what other cases read), and made-up bad inputs.
mkdir -p err in_place batch_mixed
cp testdata/models/tiny_bert.onnx testdata/models/tiny_bert.trace.json err/
cp testdata/transformed/tiny_bert.all.onnx err/
cp testdata/models/tiny_bert.onnx testdata/models/tiny_bert.trace.json in_place/
head -c 1000 testdata/models/tiny_bert.onnx >err/truncated.onnx
head -c 5000 testdata/profiles/tiny_bert.disabled.json >err/truncated.profile.json
cp testdata/models/tiny_bert.onnx testdata/models/tiny_bert.trace.json batch_mixed/
head -c 1000 testdata/models/tiny_gpt.onnx >batch_mixed/broken.onnx
printf '# two fixtures\ntestdata/models/tiny_bert.onnx\ntestdata/models/tiny_t5.onnx\n' \
  >models_list.txt
printf '%s\n' '{"models": [' \
  '  {"model": "testdata/models/tiny_gpt.onnx", "output": "gpt.onnx"},' \
  '  {"model": "testdata/models/tiny_resnet.onnx", "trace": null, "output": "resnet.onnx"}' \
  ']}' >models_manifest.json

# --- The cases. ---
# cases.tsv: id, input, output files (comma-separated, "-" for none),
# normalization ("-" or "batch", below). shards/N.sh: the commands.
group=0
shard=""
# folders.txt: the folders to make before the run (one mkdir for all).
begin_group() {  # begin_group OUTPUT_FOLDER: the next cases run in order
  shard="shards/$((group % jobs)).sh"
  group=$((group + 1))
  printf '%s\0' "$1" >>folders.txt
}
add() {  # add ID INPUT OUTPUTS NORMALIZATION CONVERTER_ARGS...
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>cases.tsv
  printf 'runs/%s\0' "$1" >>folders.txt
  local id="$1"
  shift 4
  { printf 'run_case %q' "$id"; printf ' %q' "$@"; printf '\n'; } >>"$shard"
}

# The tag options other than the defaults, each a case of its own on every
# fixture. OUT is the case's output stem.
tag_variants=(
  "tag"
  "tag-propagate --propagate"
  "tag-first-candidate --first_candidate"
  "tag-keep-all --keep_torch_nn all"
  "tag-keep-classes --keep_torch_nn LayerNorm,Linear"
  "tag-attribute --tag_format attribute"
  "tag-doc-string --tag_format doc_string"
  "tag-nonamespace --nonamespace"
  "tag-overwrite-namespace --overwrite_namespace"
  "tag-trace-none --trace none"
  "tag-root-name --trace none --root_name Net"
  "tag-metadata --metadata OUT.json"
)

fixture_cases() {  # fixture_cases testdata/models/NAME.onnx
  local model="$1"
  local name
  name="$(basename "$model" .onnx)"
  local key="models/$name" out="out/models/$name"
  local trace="testdata/models/$name.trace.json"
  local with_trace=()
  if [[ -f $trace ]]; then with_trace=(--trace "$trace"); fi
  begin_group "$out"
  add "$key/summary" "$model" - - summary --model "$model"
  add "$key/analyze" "$model" - - analyze --model "$model"
  add "$key/analyze-json" "$model" - - analyze --json --model "$model"
  add "$key/graphml" "$model" "$out/input.graphml" - \
    graphml --model "$model" --output "$out/input.graphml"
  add "$key/dot" "$model" "$out/input.dot" - dot --model "$model" --output "$out/input.dot"

  local spec variant flags tagged outputs trace_args
  for spec in "${tag_variants[@]}"; do
    read -ra flags <<<"${spec//OUT/$out/${spec%% *}}"
    variant="${flags[0]}"
    flags=("${flags[@]:1}")
    tagged="$out/$variant.onnx"
    outputs="$tagged"
    if [[ $variant == tag-metadata ]]; then outputs="$tagged,$out/$variant.json"; fi
    add "$key/$variant" "$model" "$outputs" - \
      tag --model "$model" --output "$tagged" "${flags[@]}"
    # A model tagged from its trace is read back with that trace.
    trace_args=("${with_trace[@]}")
    if [[ " ${flags[*]} " == *" --trace none "* ]]; then trace_args=(); fi
    add "$key/$variant/strip" "$model" "$out/$variant.stripped.onnx" - \
      strip --model "$tagged" --output "$out/$variant.stripped.onnx"
    # Tagging the tagged model again with the same flags gives its bytes.
    if [[ $variant != tag && $variant != tag-metadata ]]; then
      add "$key/$variant/retag" "$model" "$out/$variant.retag.onnx" - \
        tag --model "$tagged" --output "$out/$variant.retag.onnx" "${flags[@]}" \
        "${trace_args[@]}"
    fi
    add "$key/$variant/validate" "$model" - - validate --model "$tagged" "${trace_args[@]}"
    add "$key/$variant/analyze-json" "$model" - - \
      analyze --json --model "$tagged" "${trace_args[@]}"
  done

  tagged="$out/tag.onnx"
  add "$key/tag/summary" "$model" - - summary --model "$tagged"
  add "$key/tag/analyze" "$model" - - analyze --model "$tagged" "${with_trace[@]}"
  add "$key/tag/graphml" "$model" "$out/tag.graphml" - \
    graphml --model "$tagged" --output "$out/tag.graphml" "${with_trace[@]}"
  add "$key/tag/dot" "$model" "$out/tag.dot" - \
    dot --model "$tagged" --output "$out/tag.dot" "${with_trace[@]}"
  # Tagging a tagged model again gives the same bytes.
  add "$key/tag/retag" "$model" "$out/tag.retag.onnx" - \
    tag --model "$tagged" --output "$out/tag.retag.onnx" "${with_trace[@]}"
  # extract: the root (depth 0), every module at depth 1 with the remainder
  # (JSON), every module at depth 2.
  add "$key/tag/extract-depth0" "$model" "$out/extract-depth0" - \
    extract --model "$tagged" --all --depth 0 --output_dir "$out/extract-depth0"
  add "$key/tag/extract-depth1" "$model" "$out/extract-depth1" - \
    extract --model "$tagged" --all --depth 1 --remainder --json \
    --output_dir "$out/extract-depth1"
  add "$key/tag/extract-depth2" "$model" "$out/extract-depth2" - \
    extract --model "$tagged" --all --depth 2 --output_dir "$out/extract-depth2"
  add "$key/tag-metadata/validate-sidecar" "$model" - - \
    validate --model "$out/tag-metadata.onnx" --sidecar "$out/tag-metadata.json" \
    "${with_trace[@]}"
  add "$key/tag/validate-missing-sidecar" "$model" - - \
    validate --model "$tagged" --sidecar missing.json "${with_trace[@]}"
  if [[ -f $trace ]]; then
    # Error: the trace does not lie beside the tagged model.
    add "$key/tag/validate-without-trace" "$model" - - validate --model "$tagged"
  fi
}

libonnx_cases() {  # libonnx_cases libonnx-testdata/data/DIR/model.onnx
  local model="$1"
  local key="${model#libonnx-testdata/data/}"
  key="libonnx/${key%/model.onnx}"
  local out="out/$key"
  begin_group "$out"
  add "$key/tag" "$model" "$out/tag.onnx" - tag --model "$model" --output "$out/tag.onnx"
  add "$key/tag/strip" "$model" "$out/tag.stripped.onnx" - \
    strip --model "$out/tag.onnx" --output "$out/tag.stripped.onnx"
  add "$key/tag/validate" "$model" - - validate --model "$out/tag.onnx"
  add "$key/tag/analyze-json" "$model" - - analyze --json --model "$out/tag.onnx"
  add "$key/analyze-json" "$model" - - analyze --json --model "$model"
  add "$key/graphml" "$model" "$out/input.graphml" - \
    graphml --model "$model" --output "$out/input.graphml"
  add "$key/dot" "$model" "$out/input.dot" - dot --model "$model" --output "$out/input.dot"
  add "$key/summary" "$model" - - summary --model "$model"
}

batch_cases() {
  local out="out/batch" models=testdata/models
  begin_group "$out"
  # --jobs 1: with more workers the progress lines come in finishing order.
  add batch/models-dir "$models" "$out/models-dir,$out/models-dir.summary.json" batch \
    tag --models_dir "$models" --output_dir "$out/models-dir" --jobs 1 \
    --summary_json "$out/models-dir.summary.json"
  add batch/models-dir-trace-none "$models" \
    "$out/models-dir-trace-none,$out/models-dir-trace-none.summary.json" batch \
    tag --models_dir "$models" --output_dir "$out/models-dir-trace-none" --jobs 1 \
    --trace none --propagate --summary_json "$out/models-dir-trace-none.summary.json"
  add batch/models-list "$models" "$out/models-list" batch \
    tag --models_list models_list.txt --output_dir "$out/models-list" --jobs 1
  add batch/manifest "$models" "$out/manifest" batch \
    tag --manifest models_manifest.json --output_dir "$out/manifest" --jobs 1 \
    --progress none
  # One model of two is broken: exit 1, the other is written.
  add batch/one-fails "$models/tiny_bert.onnx" \
    "$out/one-fails,$out/one-fails.summary.json" batch \
    tag --models_dir batch_mixed --output_dir "$out/one-fails" --jobs 1 \
    --summary_json "$out/one-fails.summary.json"
}

# transfer: each model of testdata/transformed (NAME.VARIANT.onnx, made
# from testdata/models/NAME.onnx) gets the tags of NAME tagged.
transfer_cases() {  # transfer_cases testdata/transformed/NAME.VARIANT.onnx
  local model="$1"
  local stem name
  stem="$(basename "$model" .onnx)"
  name="${stem%%.*}"
  local key="transfer/$stem" out="out/transfer/$stem"
  local from="$out/from.onnx" trace="testdata/models/$name.trace.json"
  begin_group "$out"
  add "$key/tag-from" "$model" "$from" - \
    tag --model "testdata/models/$name.onnx" --output "$from"
  add "$key/transfer" "$model" "$out/transfer.onnx" - \
    transfer --from "$from" --model "$model" --output "$out/transfer.onnx"
  add "$key/transfer-json" "$model" "$out/transfer-json.onnx" - \
    transfer --from "$from" --model "$model" --output "$out/transfer-json.onnx" --json
  add "$key/transfer-nonamespace" "$model" "$out/transfer-nonamespace.onnx" - \
    transfer --from "$from" --model "$model" --output "$out/transfer-nonamespace.onnx" \
    --nonamespace
  add "$key/transfer/strip" "$model" "$out/transfer.stripped.onnx" - \
    strip --model "$out/transfer.onnx" --output "$out/transfer.stripped.onnx"
  add "$key/transfer/validate" "$model" - - \
    validate --model "$out/transfer.onnx" --trace "$trace"
  add "$key/transfer/analyze-json" "$model" - - \
    analyze --json --model "$out/transfer.onnx" --trace "$trace"
  # Transferring onto the transferred model gives the same bytes.
  add "$key/transfer/again" "$model" "$out/transfer.again.onnx" - \
    transfer --from "$from" --model "$out/transfer.onnx" --output "$out/transfer.again.onnx"
}

# profile: onnxruntime's profiles of tiny_bert (testdata/profiles), on the
# fixture tagged; the optimized session's through --optimized.
profile_cases() {
  local out="out/profile" p=testdata/profiles
  local tagged="out/profile/tiny_bert.tagged.onnx" optimized="$p/tiny_bert.all.onnx"
  begin_group "$out"
  add profile/tag-model testdata/models/tiny_bert.onnx "$tagged" - \
    tag --model testdata/models/tiny_bert.onnx --output "$tagged"
  local level flags
  for level in disabled all; do
    flags=()
    if [[ $level == all ]]; then flags=(--optimized "$optimized"); fi
    local profile="$p/tiny_bert.$level.json" key="profile/tiny_bert.$level"
    add "$key/profile" "$profile" - - \
      profile --model "$tagged" --profile "$profile" "${flags[@]}"
    add "$key/profile-json" "$profile" - - \
      profile --model "$tagged" --profile "$profile" --json "${flags[@]}"
    add "$key/profile-runs-skip-top" "$profile" - - \
      profile --model "$tagged" --profile "$profile" --runs_skip 1 --top 5 "${flags[@]}"
    add "$key/profile-svg-folded" "$profile" "$out/$level.svg,$out/$level.folded" - \
      profile --model "$tagged" --profile "$profile" --svg "$out/$level.svg" \
      --folded "$out/$level.folded" "${flags[@]}"
    add "$key/profile-merged" "$profile" - - \
      profile --model "$tagged" --profile "$profile,$profile" --json "${flags[@]}"
  done
  add profile/tiny_bert.all/baseline-disabled "$p/tiny_bert.all.json" - - \
    profile --model "$tagged" --profile "$p/tiny_bert.all.json" --optimized "$optimized" \
    --baseline "$p/tiny_bert.disabled.json" --baseline_optimized none --runs_skip 1
  add profile/tiny_bert.all/baseline-disabled-json "$p/tiny_bert.all.json" - - \
    profile --model "$tagged" --profile "$p/tiny_bert.all.json" --optimized "$optimized" \
    --baseline "$p/tiny_bert.disabled.json" --baseline_optimized none --json
  # Refused, nothing written.
  add errors/profile-another-model "$p/tiny_resnet.disabled.json" "$out/refused.svg" - \
    profile --model "$tagged" --profile "$p/tiny_resnet.disabled.json" --svg "$out/refused.svg"
  add errors/profile-optimized-session-without-optimized "$p/tiny_bert.all.json" - - \
    profile --model "$tagged" --profile "$p/tiny_bert.all.json"
  add errors/profile-truncated err/truncated.profile.json - - \
    profile --model "$tagged" --profile err/truncated.profile.json
  add errors/profile-missing-file - - - \
    profile --model "$tagged" --profile missing.json
  add errors/profile-no-profile - - - profile --model "$tagged"
  add errors/profile-untagged-model "$p/tiny_bert.disabled.json" - - \
    profile --model testdata/models/tiny_bert.onnx --profile "$p/tiny_bert.disabled.json"
}

error_cases() {
  local out="out/errors" bert=testdata/models/tiny_bert.onnx
  local bert_trace=testdata/models/tiny_bert.trace.json
  begin_group "$out"
  add errors/no-command - - - --nofsync
  add errors/unknown-command - - - frobnicate --model "$bert"
  add errors/help - - - --help
  add errors/tag-missing-model - "$out/missing.onnx" - \
    tag --model missing.onnx --output "$out/missing.onnx"
  add errors/analyze-missing-model - - - analyze --model missing.onnx
  add errors/tag-no-output "$bert" - - tag --model "$bert"
  add errors/tag-output-and-in-place "$bert" "$out/both.onnx" - \
    tag --model "$bert" --output "$out/both.onnx" --in_place
  add errors/tag-missing-trace "$bert" "$out/missing-trace.onnx" - \
    tag --model "$bert" --trace missing.trace.json --output "$out/missing-trace.onnx"
  add errors/tag-truncated-model "$bert" "$out/truncated.onnx" - \
    tag --model err/truncated.onnx --trace none --output "$out/truncated.onnx"
  add errors/tag-bad-tag-format "$bert" "$out/bad-format.onnx" - \
    tag --model "$bert" --tag_format xml --output "$out/bad-format.onnx"
  add errors/tag-bad-trace-digest-flag "$bert" "$out/bad-digest-flag.onnx" - \
    tag --model "$bert" --trace_digest maybe --output "$out/bad-digest-flag.onnx"
  # A trace recorded for another model: refused, or a warning with warn.
  add errors/tag-other-models-trace "$bert" "$out/other-trace.onnx" - \
    tag --model "$bert" --trace testdata/models/tiny_gpt.trace.json \
    --output "$out/other-trace.onnx"
  add errors/tag-other-models-trace-warn "$bert" "$out/other-trace-warn.onnx" - \
    tag --model "$bert" --trace testdata/models/tiny_gpt.trace.json \
    --trace_digest warn --output "$out/other-trace-warn.onnx"
  local bad name
  for bad in testdata/bad_traces/*.json; do
    name="$(basename "$bad" .json)"
    add "errors/tag-bad-trace/$name" "$bert" "$out/bad-trace-$name.onnx" - \
      tag --model "$bert" --trace "$bad" --output "$out/bad-trace-$name.onnx"
  done
  add errors/analyze-bad-trace "$bert" - - \
    analyze --model "$bert" --trace testdata/bad_traces/missing_parent.json
  # Output = input: refused, the input unchanged (its hash is the output's).
  add errors/tag-output-is-input "$bert" err/tiny_bert.onnx - \
    tag --model err/tiny_bert.onnx --output err/tiny_bert.onnx
  add errors/strip-output-is-input "$bert" err/tiny_bert.onnx - \
    strip --model err/tiny_bert.onnx --output err/tiny_bert.onnx
  add errors/graphml-output-is-input "$bert" err/tiny_bert.onnx - \
    graphml --model err/tiny_bert.onnx --output err/tiny_bert.onnx
  add errors/dot-output-is-input "$bert" err/tiny_bert.onnx - \
    dot --model err/tiny_bert.onnx --output err/tiny_bert.onnx
  # Outputs a rename must not replace: refused before the work.
  add errors/tag-output-is-folder "$bert" - - \
    tag --model "$bert" --output testdata/models
  add errors/strip-output-is-stdout "$bert" - - \
    strip --model "$bert" --output /dev/stdout
  add errors/tag-metadata-is-output "$bert" "$out/meta.onnx" - \
    tag --model "$bert" --output "$out/meta.onnx" --metadata "$out/meta.onnx"
  add errors/tag-metadata-folder-missing "$bert" "$out/meta-folder.onnx" - \
    tag --model "$bert" --output "$out/meta-folder.onnx" --metadata nowhere/m.json
  add errors/batch-with-model "$bert" - - \
    tag --models_dir testdata/models --model "$bert" --output_dir "$out/batch"
  add errors/batch-with-trace "$bert" - - \
    tag --models_dir testdata/models --trace "$bert_trace" --output_dir "$out/batch"
  add errors/validate-untagged "$bert" - - validate --model "$bert"
  local optimized=testdata/transformed/tiny_bert.all.onnx
  add errors/transfer-no-from "$optimized" "$out/transfer-no-from.onnx" - \
    transfer --model "$optimized" --output "$out/transfer-no-from.onnx"
  add errors/transfer-untagged-from "$optimized" "$out/transfer-untagged.onnx" - \
    transfer --from "$bert" --model "$optimized" --output "$out/transfer-untagged.onnx"
  add errors/transfer-missing-from "$optimized" "$out/transfer-missing.onnx" - \
    transfer --from missing.onnx --model "$optimized" --output "$out/transfer-missing.onnx"
  add errors/transfer-tag-for-errors "$bert" "$out/transfer-from.onnx" - \
    tag --model "$bert" --output "$out/transfer-from.onnx"
  add errors/transfer-not-derived testdata/transformed/tiny_resnet.all.onnx \
    "$out/transfer-not-derived.onnx" - \
    transfer --from "$out/transfer-from.onnx" --model testdata/transformed/tiny_resnet.all.onnx \
    --output "$out/transfer-not-derived.onnx"
  add errors/transfer-output-is-input "$optimized" err/tiny_bert.all.onnx - \
    transfer --from "$out/transfer-from.onnx" --model err/tiny_bert.all.onnx \
    --output err/tiny_bert.all.onnx
  add errors/extract-untagged "$bert" "$out/extract-untagged.onnx" - \
    extract --model "$bert" --module /TinyBertModel --output "$out/extract-untagged.onnx"
  add errors/extract-unknown-tag "$bert" "$out/extract-unknown.onnx" - \
    extract --model "$out/transfer-from.onnx" --module /TinyBertModel/BertEncoder/Layer.0 \
    --output "$out/extract-unknown.onnx"
  add errors/extract-unknown-path "$bert" "$out/extract-unknown-path.onnx" - \
    extract --model "$out/transfer-from.onnx" --module_path encoder.layers.0 \
    --output "$out/extract-unknown-path.onnx"
  add errors/extract-no-module "$bert" "$out/extract-no-module.onnx" - \
    extract --model "$out/transfer-from.onnx" --output "$out/extract-no-module.onnx"
  add errors/extract-output-is-input "$bert" "$out/transfer-from.onnx" - \
    extract --model "$out/transfer-from.onnx" --module /TinyBertModel \
    --output "$out/transfer-from.onnx"
  # --in_place on a copy: the copy is the output.
  add in-place/tag "$bert" in_place/tiny_bert.onnx - \
    tag --model in_place/tiny_bert.onnx --in_place
  add in-place/strip "$bert" in_place/tiny_bert.onnx - \
    strip --model in_place/tiny_bert.onnx --in_place
}

: >cases.tsv
: >folders.txt
for model in testdata/models/*.onnx; do fixture_cases "$model"; done
for model in testdata/transformed/*.onnx; do transfer_cases "$model"; done
batch_cases
profile_cases
error_cases
while IFS= read -r -d '' model; do
  libonnx_cases "$model"
done < <(find libonnx-testdata -name model.onnx -print0 | LC_ALL=C sort -z)
xargs -0 mkdir -p <folders.txt

# --- Run them: one worker per shard, each case's stdout, stderr and exit
# status in runs/ID/. ---
# shellcheck disable=SC2317  # run by the shard scripts
run_case() {
  local id="$1"
  shift
  ./converter "$@" >"runs/$id/stdout" 2>"runs/$id/stderr"
  echo $? >"runs/$id/rc"
}
export -f run_case
shopt -s nullglob
# shellcheck disable=SC2016  # $0 is the shard, expanded by that bash
printf '%s\n' shards/*.sh | xargs -P "$jobs" -n 1 bash -c 'set +e; source "$0"'

# --- Hash them. Normalizations (case column 4 = "batch", nothing else is
# touched): a batch's timings, which vary from run to run:
#   stdout  "tagged N of M models in 0.1 s with"  -> "in <seconds> s with"
#   stderr  "[1/7] ok a -> b (102 nodes, 0.02 s)" -> "(102 nodes, <seconds> s)"
#   --summary_json files (*.json)  "seconds": 0.0123 -> "seconds": "<seconds>"
#     (both the total and each model's; a regular expression on the text, so
#     every other byte of the file is still pinned)
# A folder's hash is that of its sorted "path<TAB>sha256" lines. ---
recorded="$work/manifest.tsv"
/usr/bin/python3 - "$recorded" <<'PY'
import hashlib, os, re, sys

def normalize(data, kind, what):
    if kind != "batch":
        return data
    if what == "stdout":
        return re.sub(rb"( models in )[0-9.]+( s with)", rb"\1<seconds>\2", data)
    if what == "stderr":
        return re.sub(rb"( nodes, )[0-9.]+( s\))", rb"\1<seconds>\2", data)
    if what.endswith(".json"):
        return re.sub(rb'("seconds": )[-+0-9.eE]+', rb'\1"<seconds>"', data)
    return data

def sha(data):
    return hashlib.sha256(data).hexdigest()

def read(path):
    with open(path, "rb") as f:
        return f.read()

def output_hash(path, kind):
    if os.path.isdir(path):
        lines = []
        for folder, _, files in os.walk(path):
            for name in files:
                full = os.path.join(folder, name)
                lines.append("%s\t%s\n" % (os.path.relpath(full, path),
                                           sha(normalize(read(full), kind, name))))
        return sha("".join(sorted(lines)).encode())
    if os.path.isfile(path):
        return sha(normalize(read(path), kind, path))
    return "-"

lines = {}
with open("cases.tsv") as cases:
    for row in cases:
        case_id, model, outputs, kind = row.rstrip("\n").split("\t")
        if case_id in lines:
            sys.exit("record.sh: case %s is defined twice" % case_id)
        run = os.path.join("runs", case_id)
        files = "-"
        if outputs != "-":
            files = ",".join(output_hash(p, kind) for p in outputs.split(","))
        lines[case_id] = "\t".join([
            case_id, model, read(os.path.join(run, "rc")).decode().strip(), files,
            sha(normalize(read(os.path.join(run, "stdout")), kind, "stdout")),
            sha(normalize(read(os.path.join(run, "stderr")), kind, "stderr"))])
with open(sys.argv[1], "w") as out:
    for case_id in sorted(lines):
        out.write(lines[case_id] + "\n")
PY
cases=$(wc -l <"$recorded")
elapsed=$((SECONDS - start_seconds))

if ! $check; then
  cp "$recorded" "$manifest"
  echo "outputs: $cases cases recorded in ${elapsed} s into tests/outputs/manifest.tsv"
  exit 0
fi

# --- --check: every case whose line differs from the committed manifest. ---
if /usr/bin/python3 - "$manifest" "$recorded" "$elapsed" <<'PY'
import sys

def load(path):
    with open(path) as f:
        return {line.split("\t", 1)[0]: line.rstrip("\n") for line in f if line.strip()}

expected, got = load(sys.argv[1]), load(sys.argv[2])
differ = 0
for case_id in sorted(set(expected) | set(got)):
    if expected.get(case_id) == got.get(case_id):
        continue
    differ += 1
    print("differs: %s" % case_id)
    print("  expected: %s" % expected.get(case_id, "(no such case)"))
    print("  got:      %s" % got.get(case_id, "(no such case)"))
print("outputs: %d cases checked, %d differ (%s s)"
      % (len(set(expected) | set(got)), differ, sys.argv[3]))
sys.exit(1 if differ else 0)
PY
then
  exit 0
fi
if [[ -z $keep ]]; then
  # Keep this run's files for a look (runs/ID: stdout, stderr, rc).
  trap - EXIT
  echo "outputs: this run's files are kept in $work (runs/CASE_ID, out/)"
fi
echo "outputs: if the change is meant, run tests/outputs/record.sh and commit the manifest, saying why"
exit 1
