#!/usr/bin/env bash
# Builds hp's converter (installing missing Debian packages first) and runs
# it with the given arguments: bash scripts/converter.sh tag --model ...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/install_deps.sh"
cd "$root"
bazel build --ui_event_filters=-info --noshow_progress //:converter >&2
# The converter resolves relative paths from where the user stands.
cd "$OLDPWD"
exec "$root/bazel-bin/hp/converter" "$@"
