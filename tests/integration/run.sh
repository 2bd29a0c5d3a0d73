#!/usr/bin/env bash
# End-to-end checks of the converter against real consumers (onnx checker,
# onnxruntime-node). Needs the converter built (bazel build //:converter, or
# HP_CONVERTER=path) and Debian's python3-onnx. Exit code: unittest's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scripts/npm/install.sh
exec /usr/bin/python3 -m unittest discover -s tests/integration -v "$@"
