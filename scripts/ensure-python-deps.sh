#!/usr/bin/env bash
# Make sure python3 has exactly the packages pinned in requirements-test.txt
# (moto[server] and what it pulls in). Quick no-op when they already are; otherwise
#   python3 -m pip install -r requirements-test.txt
# `--force` always runs pip. $PYTHON overrides the interpreter.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
req=$repo/requirements-test.txt

if ! command -v "$python" >/dev/null 2>&1; then
  echo "ensure-python-deps: $python not found; install Python 3.11+ with pip" >&2
  exit 1
fi

pins_satisfied() {
  "$python" - "$req" <<'EOF'
import re, sys
from importlib import metadata
bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
    if not m:
        continue
    name, want = m.groups()
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have or 'missing'} (want {want})")
if bad:
    print("ensure-python-deps: not as pinned: " + ", ".join(bad[:8]) + (" ..." if len(bad) > 8 else ""), file=sys.stderr)
    sys.exit(1)
EOF
}

if [[ ${1:-} != --force ]] && pins_satisfied; then
  exit 0
fi

args=(-m pip install --disable-pip-version-check --no-input --progress-bar off -r "$req")
# pip >= 22.1 knows --root-user-action; CI runs as root.
if "$python" -m pip install --help 2>/dev/null | grep -q -- --root-user-action; then
  args+=(--root-user-action=ignore)
fi
# A Debian-style system Python refuses pip installs (PEP 668) unless told otherwise.
if "$python" -c 'import os, sys, sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
  args+=(--break-system-packages)
fi
echo "ensure-python-deps: $python ${args[*]}" >&2
"$python" "${args[@]}"
pins_satisfied
