#!/usr/bin/env bash
# Makes testdata/profiles: profiles onnxruntime-node 1.30 writes (session
# option enableProfiling) for `converter profile`'s tests and output
# manifest, each of 3 runs on the inputs the integration tests use (seed 0):
#
#   tiny_bert.disabled.json  graphOptimizationLevel 'disabled': its node
#                            events name the fixture's own nodes
#   tiny_bert.all.json       level 'all', with the graph the session ran
#   tiny_bert.all.onnx       (optimizedModelFilePath)
#   tiny_resnet.disabled.json  another model's profile, to be refused
#
# Timings differ on every run, so the committed files are the reference;
# regenerate only on purpose:
#
#   bash testdata/generator/make_profiles.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/npm/install.sh
out=testdata/profiles
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
profile() {  # NAME LEVEL [OPTIMIZED]
  local name="$1" level="$2"
  /usr/bin/python3 - "testdata/models/$name.onnx" "$tmp/$name.inputs.json" <<'PY'
import sys
sys.path.insert(0, "tests/integration")
import onnx
from test_tagged_models import random_inputs, write_spec
write_spec(random_inputs(onnx.load(sys.argv[1]), 0), sys.argv[2])
PY
  local written
  written="$(node tests/integration/ort_profile.js "testdata/models/$name.onnx" \
    "$tmp/$name.inputs.json" "$level" 3 "$tmp/$name.$level" ${3:+"$3"})"
  mv "$written" "$out/$name.$level.json"
}
profile tiny_bert disabled
profile tiny_bert all "$out/tiny_bert.all.onnx"
profile tiny_resnet disabled
