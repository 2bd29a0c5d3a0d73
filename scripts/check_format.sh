#!/usr/bin/env bash
# Checks that every C++ file git tracks is laid out as clang-format lays it
# out (Google style, .clang-format at the top): names each file that is
# not, shows how its layout differs, and exits 1. With --fix, formats them
# in place instead. Installs Debian's clang-format-14 if it is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/debian_packages.sh
hp_debian_packages=(clang-format-14)
hp_install_debian_packages
format=clang-format-14

mapfile -t files < <(git ls-files '*.cc' '*.h')
if [[ "${1:-}" == "--fix" ]]; then
  "$format" -i "${files[@]}"
  exit 0
fi
diff_file="$(mktemp)"
trap 'rm -f "$diff_file"' EXIT
unformatted=0
for file in "${files[@]}"; do
  if ! "$format" "$file" | diff -u --label "$file" --label "$file (formatted)" \
      "$file" - >"$diff_file"; then
    unformatted=$((unformatted + 1))
    head -n 20 "$diff_file"
  fi
done
if ((unformatted > 0)); then
  echo "$unformatted of ${#files[@]} files are not clang-format's layout;" \
    "scripts/check_format.sh --fix formats them" >&2
  exit 1
fi
echo "all ${#files[@]} C++ files in clang-format's layout"
