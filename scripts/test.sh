#!/usr/bin/env bash
# The project's test command:  scripts/test.sh [extra test-runner args]
#
# 1. ensures the pinned Python test dependencies (moto[server] 5.2.1, boto3...) are
#    installed (scripts/ensure-python-deps.sh; a no-op when they are), and Debian's
#    docker-registry and tmux (scripts/ensure-debian-packages.sh, apt-get; a no-op when
#    they are), and
#    Mermaid's parser (scripts/ensure-mermaid.sh: node from apt-get if missing, then
#    `npm ci` of scripts/mermaid from the npm registry; a no-op when installed);
# 2. runs the library's doc tests (cargo test --doc);
# 3. runs every unit and integration test with cargo-nextest (one process per test,
#    per-test timeouts: scripts/nextest.toml), or `cargo test --all-targets` where
#    cargo-nextest is not installed (or ECS_ROLL_TEST_RUNNER=cargo).
#
# No service has to be running: every test that needs AWS starts its own moto_server
# on 127.0.0.1 (tests/support/moto.rs).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

"$repo/scripts/ensure-python-deps.sh"
# Debian's docker-registry (the image-check tests start one on loopback) and tmux (the
# watch test drives a terminal).
"$repo/scripts/ensure-debian-packages.sh" docker-registry tmux
# The job summary's charts are checked by Mermaid's own parser (node, npm packages).
"$repo/scripts/ensure-mermaid.sh"

# Nothing of a developer's own AWS setup may reach the tests.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECS AWS_ENDPOINT_URL_ECR AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING \
  AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
  ECS_ROLL_REGISTRY_MIRRORS ECS_ROLL_IMAGE_CHECK
export AWS_EC2_METADATA_DISABLED=true

runner=${ECS_ROLL_TEST_RUNNER:-auto}
if [[ $runner == auto ]]; then
  if cargo nextest --version >/dev/null 2>&1; then runner=nextest; else runner=cargo; fi
fi

# Doc tests first: nextest cannot run them, and the last summary printed should be the
# one of the full run.
cargo test --doc

case $runner in
  nextest)
    exec cargo nextest run --all-targets --config-file "$repo/scripts/nextest.toml" "$@"
    ;;
  cargo)
    exec cargo test --all-targets "$@"
    ;;
  *)
    echo "test.sh: ECS_ROLL_TEST_RUNNER must be auto, nextest or cargo" >&2
    exit 2
    ;;
esac
