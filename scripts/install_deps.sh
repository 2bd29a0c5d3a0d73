#!/usr/bin/env bash
# Installs the Debian packages hp builds and tests with, skipping the ones
# already present. Sourced by the quick-start scripts; safe to run again.
set -euo pipefail

hp_debian_packages=(
  bazel-bootstrap bazel-rules-java bazel-rules-proto bazel-skylib
  default-jdk-headless
  g++ pkg-config
  libprotobuf-dev protobuf-compiler libabsl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-testdata
  python3-torch python3-onnx python3-jsonschema python3-networkx
  python3-venv python3-pip python3-setuptools python3-wheel
  graphviz time
)

source "$(dirname "${BASH_SOURCE[0]}")/debian_packages.sh"

hp_install_debian_packages

# Node.js and npm may come from another source than Debian (a machine image
# that bundles them); only when they are missing do Debian's packages step in.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  hp_debian_packages=(nodejs npm)
  hp_install_debian_packages
fi
