#!/usr/bin/env bash
# ecs-roll benchmarks:  bench/run.sh [--quick] [extra arguments of the bench example]
#
# 1. builds the binary (as shipped: without the simulator) and the harness (examples/bench.rs,
#    with it) in release mode;
# 2. runs every scenario on the simulated platform under tokio's paused clock, with the
#    engine's poll policy and a faster one for comparison, plus 50 services at once under a
#    shared rate limiter: table on stdout, JSON in bench/results.json;
# 3. CLI start-up: `ecs-roll --help` wall time (hyperfine when installed, else a loop);
# 4. footprint: peak RSS of one real deploy of the reference setup against a local
#    moto_server on 127.0.0.1 (scripts/moto.sh + scripts/seed_reference.py), measured with
#    /usr/bin/time -v. Skipped (and said so) when moto or GNU time is missing.
#    Results of 3 and 4 go to bench/cli.json.
#
# --quick: the simulated scenarios only (no --help timing, no moto).
# Nothing leaves the machine: moto listens on 127.0.0.1 only.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

quick=false
if [[ ${1:-} == --quick ]]; then quick=true; shift; fi

python=${PYTHON:-python3}
start=$(date +%s)

echo "== build" >&2
# Two commands: the harness needs the simulator (the `sim` feature, which the package's
# dev-dependency on itself turns on for examples), the measured binary must be the shipped
# one, built without it.
cargo build --release --quiet --bin ecs-roll
cargo build --release --quiet --example bench

echo "== simulated deploys (virtual time)" >&2
target/release/examples/bench --policy all --sample-ms 20 --out bench/results.json "$@"

if $quick; then
  echo "bench: quick run done in $(( $(date +%s) - start )) s" >&2
  exit 0
fi

bin=target/release/ecs-roll
help_ms=""
echo "== ecs-roll --help start-up" >&2
if ! command -v hyperfine >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 5 --runs 50 --export-json /tmp/ecs-roll-help.$$.json -N "$bin --help" >&2
  help_ms=$("$python" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(round(r["mean"]*1000,2), round(r["max"]*1000,2))' /tmp/ecs-roll-help.$$.json)
  rm -f /tmp/ecs-roll-help.$$.json
  tool=hyperfine
else
  tool=loop
  total=0; worst=0
  for _ in $(seq 5); do "$bin" --help >/dev/null; done
  for _ in $(seq 50); do
    t0=$(date +%s%N); "$bin" --help >/dev/null; t1=$(date +%s%N)
    d=$(( (t1 - t0) / 1000 )); total=$(( total + d )); (( d > worst )) && worst=$d
  done
  help_ms="$(awk -v t=$total 'BEGIN{printf "%.2f", t/50/1000}') $(awk -v t=$worst 'BEGIN{printf "%.2f", t/1000}')"
fi
read -r help_mean help_max <<<"$help_ms"
echo "ecs-roll --help: mean ${help_mean} ms, max ${help_max} ms ($tool, 50 runs; target < 20 ms)"

echo "== peak RSS of one deploy against moto (127.0.0.1)" >&2
rss_kb=""; deploy_s=""; deploy_exit=""
timebin=/usr/bin/time
if [[ ! -x $timebin ]] && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  apt-get install -y -qq time >/dev/null 2>&1 || true
fi
if [[ -x $timebin ]] && "$python" -c 'import moto' 2>/dev/null; then
  state=$(mktemp -d)
  cleanup() { scripts/moto.sh stop --state-dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"; }
  trap cleanup EXIT
  endpoint=$(scripts/moto.sh start --state-dir "$state")
  "$python" scripts/seed_reference.py --endpoint "$endpoint" --draining-timeout 1 >/dev/null
  nofile=$state/no-such-aws-file
  set +e
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
    AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE="$nofile" AWS_SHARED_CREDENTIALS_FILE="$nofile" AWS_MAX_ATTEMPTS=2 \
    ECS_ROLL_POLL_INTERVAL=100ms ECS_ROLL_RETRY_INITIAL_BACKOFF_MS=10 CI=true \
    "$timebin" -v -o "$state/time.txt" \
    "$bin" --output json deploy --image rafabor/prototype-4-cb:v0.0.2 >"$state/out.json" 2>"$state/err.txt"
  deploy_exit=$?
  set -e
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$state/time.txt")
  deploy_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$state/time.txt")
  echo "one deploy against moto: exit $deploy_exit, peak RSS $(( rss_kb / 1024 )) MiB (${rss_kb} kB; target < 30 MB), wall $deploy_s"
  if [[ $deploy_exit != 0 ]]; then tail -20 "$state/err.txt" >&2; fi
else
  echo "peak RSS: skipped (needs /usr/bin/time and moto: python3 -m pip install -r requirements-test.txt)"
fi

"$python" - "$help_mean" "$help_max" "${rss_kb:-}" "${deploy_exit:-}" "${deploy_s:-}" "$tool" <<'EOF'
import json, sys
mean, worst, rss, code, wall, tool = sys.argv[1:7]
doc = {
    "help_ms": {"mean": float(mean), "max": float(worst), "tool": tool, "target_ms": 20},
    "deploy_against_moto": None if not rss else {
        "peak_rss_kb": int(rss), "peak_rss_mb": round(int(rss) / 1024, 1), "exit": int(code),
        "wall": wall, "target_mb": 30,
    },
}
json.dump(doc, open("bench/cli.json", "w"), indent=2)
print(json.dumps(doc))
EOF
echo "bench: done in $(( $(date +%s) - start )) s" >&2
