#!/usr/bin/env bash
# Make sure Debian's docker-registry (the CNCF Distribution registry) is installed: the
# image-check tests start one on 127.0.0.1 (tests/e2e/harness/registry.rs). A no-op when
# `docker-registry` is on PATH; otherwise `apt-get install docker-registry` (as root, or
# through sudo). The package's own service is not used (and is stopped if apt started it).
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-registry: docker-registry is missing and there is no apt-get; install the Distribution registry (binary docker-registry) by hand" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) != 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-registry: docker-registry is missing; run as root: apt-get install docker-registry" >&2
    exit 1
  fi
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
# No service start from the package's scripts: tests start their own.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get install -y -q --no-install-recommends docker-registry
command -v docker-registry >/dev/null
