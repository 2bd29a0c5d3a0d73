#!/usr/bin/env bash
# Defines hp_install_debian_packages, which installs the Debian packages
# named in the array hp_debian_packages, skipping the ones already present.
# Sourced by scripts/install_deps.sh (hp's build and test packages) and by
# scripts that need one tool only (scripts/check_format.sh).

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
