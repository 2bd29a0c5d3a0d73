#!/usr/bin/env bash
# Installs the npm packages of scripts/npm (onnxruntime-node, pinned
# in package.json) into scripts/npm/node_modules, unless
# they are already there. Safe to run again.
#
# --ignore-scripts: onnxruntime-node's install script downloads a CUDA build
# (and fails offline); the CPU library it needs ships inside the package.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
want_version="1.30.0"
installed="$here/node_modules/onnxruntime-node/package.json"

installed_version() {
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$installed" 2>/dev/null
}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "scripts/npm/install.sh: '$tool' not found; install Node.js and npm first (scripts/install_deps.sh does)." >&2
    exit 1
  fi
done

if [[ -f "$installed" && "$(installed_version)" == "$want_version" ]]; then
  echo "scripts/npm/install.sh: onnxruntime-node $want_version already installed in $here/node_modules" >&2
else
  echo "scripts/npm/install.sh: installing onnxruntime-node $want_version into $here/node_modules" >&2
  if ! (cd "$here" && npm install --ignore-scripts --no-audit --no-fund); then
    echo "scripts/npm/install.sh: 'npm install' failed in $here (network? registry $(npm config get registry 2>/dev/null))." >&2
    exit 1
  fi
fi

# Prove the package loads (native binding for this platform included).
if ! (cd "$here" && node -e 'const ort = require("onnxruntime-node");
  if (typeof ort.InferenceSession !== "function") throw new Error("no InferenceSession");') >&2; then
  echo "scripts/npm/install.sh: onnxruntime-node is installed but does not load; remove $here/node_modules and run again." >&2
  exit 1
fi
