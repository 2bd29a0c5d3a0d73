#!/usr/bin/env bash
# Makes testdata/transformed: fixtures of testdata/models as real tools
# transform them, each dropping node metadata, for `converter transfer`'s
# tests and output manifest:
#
#   NAME.LEVEL.onnx   onnxruntime-node 1.30's optimized model at graph
#                     optimization level LEVEL (tests/integration/ort_optimize.js)
#   NAME.opsetN.onnx  python-onnx's version converter (Debian's onnx 1.12)
#
# Level `all` writes layout nodes for the CPU it runs on (NCHWc block
# size), so the committed files are the reference; regenerate only on
# purpose:
#
#   bash testdata/generator/make_transformed.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/npm/install.sh
out=testdata/transformed
mkdir -p "$out"
for spec in tiny_bert:basic tiny_bert:all tiny_resnet:all control_flow:all containers:all; do
  name="${spec%%:*}" level="${spec##*:}"
  node tests/integration/ort_optimize.js "testdata/models/$name.onnx" "$level" \
    "$out/$name.$level.onnx"
done
/usr/bin/python3 - "$out" <<'PY'
import sys
import onnx
import onnx.version_converter
model = onnx.load("testdata/models/tiny_resnet.onnx")
onnx.save(onnx.version_converter.convert_version(model, 14),
          "%s/tiny_resnet.opset14.onnx" % sys.argv[1])
PY
