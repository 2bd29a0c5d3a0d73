#!/usr/bin/env bash
# Builds hp's converter optimized (-c opt; installing missing Debian packages
# first) and runs it with the given arguments:
#   bash scripts/converter.sh tag --model ...
# This is the binary to use on real models. The test command builds with
# Bazel's default (fastbuild, no optimization) for a quick edit-compile
# cycle; that binary is several times slower on node-heavy graphs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/install_deps.sh"
cd "$root"
# --symlink_prefix=/: leave bazel-bin pointing at the test command's build.
bazel build -c opt --symlink_prefix=/ --ui_event_filters=-info \
  --noshow_progress //:converter >&2
bin="$(bazel info -c opt bazel-bin 2>/dev/null)"
# The converter resolves relative paths from where the user stands.
cd "$OLDPWD"
exec "$bin/hp/converter" "$@"
