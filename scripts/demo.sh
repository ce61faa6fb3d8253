#!/usr/bin/env bash
# ecs-roll in action against a local AWS (moto_server on 127.0.0.1), from a fresh clone:
#
#   scripts/demo.sh
#
# 1. installs the pinned Python test dependencies if missing (requirements-test.txt);
# 2. builds ecs-roll (debug profile: a clean build is ~2x faster than release and is the
#    one scripts/test.sh uses too, so the two share their build);
# 3. starts moto_server on a free loopback port and seeds the reference setup
#    (cluster cb-prototype, 3 instances in us-east-1a/b/c, one task of
#    rafabor/prototype-4-cb:v0.0.1 each, classic ELB cb-prototype-elb);
# 4. runs, from the repository root so that ecs-roll.toml applies:
#      ecs-roll status
#      ecs-roll deploy --image rafabor/prototype-4-cb:v0.0.2
#      ecs-roll status
#      ecs-roll rollback
#      ecs-roll status
#    while a background sampler polls the ELB's instance health (and the tasks behind
#    it) every 0.2 s, and reports the fewest instances that were InService and serving;
# 5. stops moto_server (also on failure or Ctrl-C).
#
# The ELB's connection draining is seeded at DEMO_DRAINING_TIMEOUT seconds (default 5,
# so the demo takes a minute or so; the real setup drains for 60: DEMO_DRAINING_TIMEOUT=60).
# ecs-roll polls every ECS_ROLL_POLL_INTERVAL (default here 1s).
# Nothing leaves the machine: all AWS calls go to 127.0.0.1 with dummy credentials.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
[[ -t 2 ]] || say() { printf '\n==> %s\n' "$*" >&2; }

say "Python test dependencies"
scripts/ensure-python-deps.sh

say "Building ecs-roll (cargo build, debug profile)"
cargo build --bin ecs-roll
bin=$repo/target/debug/ecs-roll

state_dir=$(mktemp -d "${TMPDIR:-/tmp}/ecs-roll-demo.XXXXXX")
sampler_pid=""
cleanup() {
  local rc=$?
  if [[ -n $sampler_pid ]]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
  MOTO_STATE_DIR=$state_dir scripts/moto.sh stop || true
  if [[ $rc -ne 0 ]]; then
    echo "demo: failed (exit $rc); moto_server log: $state_dir/moto.log" >&2
  else
    rm -rf "$state_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Starting moto_server on 127.0.0.1"
endpoint=$(MOTO_STATE_DIR=$state_dir scripts/moto.sh start)

# Only the local testbed: dummy credentials, no profile, no instance metadata.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
  AWS_ENDPOINT_URL_ECS AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2
export AWS_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$state_dir/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$state_dir/no-aws-credentials
export ECS_ROLL_POLL_INTERVAL=${ECS_ROLL_POLL_INTERVAL:-1s}

say "Seeding the reference setup (connection draining ${DEMO_DRAINING_TIMEOUT:-5} s)"
"$python" scripts/seed_reference.py --draining-timeout "${DEMO_DRAINING_TIMEOUT:-5}" >"$state_dir/seed.json"
"$python" - "$state_dir/seed.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"cluster {s['cluster']}: {len(s['instances'])} instances, {len(s['task_arns'])} tasks of "
      f"{s['task_definition_arn'].rsplit('/', 1)[-1]} ({s['image']}), ELB {s['load_balancer']} "
      f"[{s['elapsed_ms']} ms]")
for i in s["instances"]:
    print(f"  {i['availability_zone']}  {i['instance_id']}  task {(i['task_arn'] or '-').rsplit('/', 1)[-1]}")
EOF

run() {
  say "ecs-roll $*"
  "$bin" "$@"
}

run status

"$python" scripts/inspect_state.py sample --family cb-prototype --interval 0.2 \
  >"$state_dir/samples.jsonl" 2>"$state_dir/sampler.log" &
sampler_pid=$!

run deploy --image rafabor/prototype-4-cb:v0.0.2
run status
run rollback
run status

kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""
say "What the load balancer saw during deploy and rollback"
"$python" - "$state_dir/samples.jsonl" <<'EOF'
import json, sys
samples = []
for line in open(sys.argv[1]):
    try:
        samples.append(json.loads(line))
    except ValueError:
        pass  # last line cut by the kill
ok = [s for s in samples if "error" not in s]
if not ok:
    sys.exit("no health sample was taken")
cut = sorted({i for s in ok for i in s.get("cut_ids", [])})
print(f"{len(ok)} samples over {ok[-1]['t_ms'] / 1000:.1f} s ({len(samples) - len(ok)} failed): "
      f"InService min {min(s['in_service'] for s in ok)} max {max(s['in_service'] for s in ok)}, "
      f"InService with a running task min {min(s['serving'] for s in ok)}, "
      f"draining at most {max(s.get('draining', 0) for s in ok)}, "
      f"tasks stopped while their instance drained: {', '.join(cut) or 'none'}")
EOF
