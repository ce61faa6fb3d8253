#!/usr/bin/env bash
# Make sure the Debian packages the tests need are installed:
#   scripts/ensure-debian-packages.sh [COMMAND=]PACKAGE...
# e.g. `docker-registry tmux node=nodejs`: a no-op for each COMMAND already on PATH;
# the others are installed with apt-get (as root, or through sudo), without starting the
# services their packages ship (tests start their own, on loopback).
set -euo pipefail

missing=()
for spec in "$@"; do
  command=${spec%%=*}
  package=${spec#*=}
  command -v "$command" >/dev/null 2>&1 || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: missing ${missing[*]} and there is no apt-get; install them by hand" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) != 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-debian-packages: missing ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# No service start from the packages' scripts.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
