#!/bin/bash
# hp_tagged_model with external_data: the tagged model equals the
# converter's output by hand, and the declared side file is output beside it
# under the name the model gives it, with the input's bytes.
set -euo pipefail
converter="$1" model="$2" side_file="$3"
shift 3
tagged="" placed=""
for file in "$@"; do
  case "${file}" in
    *.onnx) tagged="${file}" ;;
    *) placed="${file}" ;;
  esac
done

status=0
check() {
  if "${@:2}"; then echo "PASS: $1"; else echo "FAIL: $1"; status=1; fi
}
# Copies of their own: runfiles are symbolic links into the source tree,
# which the converter refuses as leading outside the model's folder.
mkdir -p "${TEST_TMPDIR}/in" "${TEST_TMPDIR}/by_hand"
cp -L "${model}" "${side_file}" "${TEST_TMPDIR}/in/"
by_hand="${TEST_TMPDIR}/by_hand/mlp.onnx"
"${converter}" tag --model="${TEST_TMPDIR}/in/mlp.onnx" --trace=none \
  --external_data=copy --output="${by_hand}" >/dev/null
check "${tagged} equals the converter's output" cmp "${tagged}" "${by_hand}"
check "the side file is output as ${placed}" \
  test "${placed}" = "$(dirname "${tagged}")/mlp.onnx.data"
check "${placed} holds the input's bytes" cmp "${placed}" "${side_file}"
exit "${status}"
