#!/bin/bash
# Runs the converter's analyze, tag --metadata, validate, graphml and dot on
# every fixture and checks the outputs with the tools people open them with:
# jsonschema, networkx, onnx (for independent counts) and graphviz's dot.
# Bazel runs it in the runfiles tree, where the converter is hp/converter.
set -euo pipefail
exec /usr/bin/python3 tests/converter/check_views.py \
  --converter hp/converter --models testdata/models --schemas proto \
  --tmp "${TEST_TMPDIR:-$(mktemp -d)}"
