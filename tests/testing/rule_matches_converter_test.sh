#!/bin/bash
# hp_tagged_model's outputs equal running the converter by hand on the same
# model and trace with the rule's default options, and its sidecar
# (metadata = True) describes the tagged model it sits beside.
set -euo pipefail
converter="$1" model="$2" trace="$3" tagged="$4"
shift 4
with_metadata="" sidecar=""
for file in "$@"; do
  case "${file}" in
    *.hp.json) sidecar="${file}" ;;
    *.onnx) with_metadata="${file}" ;;
  esac
done

by_hand="${TEST_TMPDIR}/by_hand.onnx"
"${converter}" tag --model="${model}" --trace="${trace}" \
  --output="${by_hand}" >/dev/null
status=0
for output in "${tagged}" "${with_metadata}"; do
  if cmp "${output}" "${by_hand}"; then
    echo "PASS: ${output} equals the converter's output"
  else
    echo "FAIL: ${output} differs from: converter tag --model=${model} --trace=${trace}"
    status=1
  fi
done

digest="$(sha256sum "${with_metadata}" | cut -d' ' -f1)"
if [[ -s "${sidecar}" ]] && grep -q "${digest}" "${sidecar}"; then
  echo "PASS: ${sidecar} names the tagged model's sha256 ${digest}"
else
  echo "FAIL: ${sidecar} is missing, empty or lacks the tagged model's sha256 ${digest}"
  status=1
fi
exit "${status}"
