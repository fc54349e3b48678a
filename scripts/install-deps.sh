#!/usr/bin/env bash
# Installs what deskhook needs to build, test and benchmark on Debian 12.
# Idempotent and quick when everything is present; run as root (or with sudo).
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
      libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev
      libsqlite3-dev libpq-dev libyaml-dev libcmocka-dev sqlite3 openssl curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node runs the end-to-end tests; npm installs their reference libraries.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
