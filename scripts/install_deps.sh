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

hp_install_debian_packages() {
  local missing=()
  local package
  for package in "${hp_debian_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
        grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]} > 0)); then
    echo "hp: installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >&2
  fi
}

hp_install_debian_packages

# Node.js and npm may come from another source than Debian (a machine image
# that bundles them); only when they are missing do Debian's packages step in.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  hp_debian_packages=(nodejs npm)
  hp_install_debian_packages
fi
