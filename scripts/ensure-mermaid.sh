#!/usr/bin/env bash
# Make sure Mermaid's parser can run: node and npm (Debian's nodejs and npm packages, with
# apt-get, when node is missing), then the pinned npm packages of scripts/mermaid
# (mermaid, jsdom; `npm ci` from the npm registry into scripts/mermaid/node_modules). A
# no-op when they are there. The test that checks the job summary's charts needs them
# (tests/engine/timeline.rs).
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/mermaid" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-mermaid: node is missing and there is no apt-get; install Node.js 18+ with npm" >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends nodejs npm
fi

# Installed from this lock file already: nothing to do.
stamp=$dir/node_modules/.ecs-roll-lock-sum
sum=$(cksum <"$dir/package-lock.json")
if [[ -f $stamp && $(cat "$stamp") == "$sum" ]] &&
  (cd "$dir" && node -e 'require.resolve("mermaid/package.json"); require.resolve("jsdom/package.json")') 2>/dev/null; then
  exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$sum" >"$stamp"
