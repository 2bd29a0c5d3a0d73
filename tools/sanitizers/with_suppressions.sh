#!/usr/bin/env bash
# Runs "$@" (a test, under --run_under) with the suppression files beside
# this script appended to the sanitizers' options. See tsan.supp.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}suppressions=$here/tsan.supp"
exec "$@"
