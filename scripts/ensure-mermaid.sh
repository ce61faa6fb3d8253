#!/usr/bin/env bash
# Make sure Mermaid's parser can run: node and npm (Debian's nodejs and npm packages, with
# apt-get, when node is missing), then the pinned npm packages of scripts/mermaid
# (mermaid, jsdom; `npm ci` from the npm registry into scripts/mermaid/node_modules). A
# no-op when they are there. The test that checks the job summary's charts needs them
# (tests/engine/standalone/timeline.rs, tests/engine/mermaid.rs).
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/mermaid" && pwd)

"$(dirname "${BASH_SOURCE[0]}")/ensure-debian-packages.sh" node=nodejs npm

# Installed from this lock file already: nothing to do.
stamp=$dir/node_modules/.ecs-roll-lock-sum
sum=$(cksum <"$dir/package-lock.json")
if [[ -f $stamp && $(cat "$stamp") == "$sum" ]] &&
  (cd "$dir" && node -e 'require.resolve("mermaid/package.json"); require.resolve("jsdom/package.json")') 2>/dev/null; then
  exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$sum" >"$stamp"
