#!/usr/bin/env bash
# Start / stop a moto_server (the local AWS testbed) on 127.0.0.1. Installs nothing:
# `python3 -m pip install -r requirements-test.txt` first (scripts/demo.sh and
# scripts/test.sh do that for you).
#
#   scripts/moto.sh start [--port N] [--state-dir DIR]   # prints the endpoint URL on stdout
#   scripts/moto.sh stop  [--state-dir DIR]
#   scripts/moto.sh status [--state-dir DIR]
#
# start: picks a free port (20000-32767, below the kernel's ephemeral range) unless
# --port is given, runs `python3 scripts/moto_child.py -H 127.0.0.1 -p PORT` (moto_server
# with the fidelity patches of scripts/moto_patches.py) in the background,
# waits (at most 60 s) until that very process serves HTTP, applies the ECS task-transition
# fix (tasks stay RUNNING however often they are described), and writes DIR/moto.pid,
# DIR/moto.port, DIR/moto.endpoint and DIR/moto.log. DIR defaults to $MOTO_STATE_DIR or
# <repo>/.moto. On a port collision it retries with another port (not with --port).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
python=${PYTHON:-python3}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; exit 2; }

cmd=${1:-}; [[ -n $cmd ]] || usage; shift
port=""
state_dir=${MOTO_STATE_DIR:-$repo/.moto}
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) port=${2:?--port needs a value}; shift 2 ;;
    --state-dir) state_dir=${2:?--state-dir needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "moto.sh: unknown argument $1" >&2; usage ;;
  esac
done
pidfile=$state_dir/moto.pid

running_pid() {
  [[ -f $pidfile ]] || return 1
  local pid; pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

free_port() {
  "$python" - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port found")
EOF
}

# Wait until process $1 logs that it is serving on port $2 and answers HTTP there.
# Returns 1 if the process died (e.g. port taken), 2 on timeout.
wait_ready() {
  local pid=$1 p=$2 log=$3
  "$python" - "$pid" "$p" "$log" <<'EOF'
import os, sys, time, urllib.request
pid, port, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 60
needle = f"Running on http://127.0.0.1:{port}"
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            ours = needle in f.read()
    except OSError:
        ours = False
    if ours:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2) as r:
                if r.status == 200:
                    sys.exit(0)
        except OSError:
            pass
    time.sleep(0.05)
sys.exit(2)
EOF
}

apply_transition_fix() {
  "$python" - "$1" <<'EOF'
import json, sys, urllib.request
body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}).encode()
req = urllib.request.Request(sys.argv[1] + "/moto-api/state-manager/set-transition", data=body,
                             method="POST", headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
EOF
}

start() {
  if pid=$(running_pid); then
    echo "moto.sh: already running (pid $pid) at $(<"$state_dir/moto.endpoint")" >&2
    cat "$state_dir/moto.endpoint"
    return 0
  fi
  if ! "$python" -c 'import moto.server' 2>/dev/null; then
    echo "moto.sh: moto[server] is not installed for $python; run: $python -m pip install -r $repo/requirements-test.txt" >&2
    return 1
  fi
  mkdir -p "$state_dir"
  local log=$state_dir/moto.log attempts=5 fixed=$port t0 rc
  t0=$(date +%s%N)
  for ((i = 1; i <= attempts; i++)); do
    local p=${fixed:-$(free_port)}
    : >"$log"
    # Through moto_child.py: the testbed's fidelity patches (scripts/moto_patches.py).
    "$python" "$here/moto_child.py" -H 127.0.0.1 -p "$p" >"$log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pidfile"
    rc=0; wait_ready "$pid" "$p" "$log" || rc=$?
    if [[ $rc -eq 0 ]]; then
      local endpoint="http://127.0.0.1:$p"
      apply_transition_fix "$endpoint"
      echo "$p" >"$state_dir/moto.port"
      echo "$endpoint" >"$state_dir/moto.endpoint"
      echo "moto.sh: moto_server pid $pid ready at $endpoint in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
      echo "$endpoint"
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    if [[ $rc -eq 2 ]]; then
      echo "moto.sh: moto_server did not become ready on port $p within 60 s; log:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    if [[ -n $fixed ]]; then
      echo "moto.sh: moto_server could not start on port $p; log:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    echo "moto.sh: port $p was taken, retrying ($i/$attempts)" >&2
  done
  echo "moto.sh: could not start moto_server after $attempts attempts" >&2
  return 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    echo "moto.sh: not running" >&2
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$state_dir/moto.port" "$state_dir/moto.endpoint"
  echo "moto.sh: stopped moto_server pid $pid" >&2
}

status() {
  if pid=$(running_pid); then
    echo "running pid $pid at $(<"$state_dir/moto.endpoint")"
  else
    echo "not running"
    return 1
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
