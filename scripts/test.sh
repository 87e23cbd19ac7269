#!/usr/bin/env bash
# The project's one test command: format check, clippy (-D warnings), unit tests, and the
# LocalStack suites. Starts LocalStack itself (localstack/start.sh) unless one is already running,
# and stops only what it started.
#
# Environment:
#   AWS_LB_OPERATOR_CACHE  cache root (default ~/.cache/aws-lb-operator): holds the shared cargo
#                          target directory and LocalStack's virtualenv, so reruns and CI on the
#                          same machine compile only what changed
#   CARGO_TARGET_DIR       overrides the target directory itself
#   LOCALSTACK_PORT        LocalStack port (default 4566)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
export LOCALSTACK_ENDPOINT=http://127.0.0.1:$LOCALSTACK_PORT
mkdir -p "$cache"

step() { printf '\n==> %s\n' "$*"; }

# tests/it/kubectl.rs and the black-box controller test drive kubectl (1.24 or later).
if ! command -v "${KUBECTL:-kubectl}" >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  step "installing kubectl (Debian's kubernetes-client)"
  apt-get install -y -q kubernetes-client || { apt-get update -q && apt-get install -y -q kubernetes-client; }
fi
started_localstack=0
ls_out=$(mktemp)
cleanup() {
  if ((started_localstack)); then
    localstack/stop.sh || true
  fi
  rm -f "$ls_out" "${deploy_out:-}" "${recorded_calls:-}"
  rm -f "${recorded_calls:+$recorded_calls.details.jsonl}"
}
trap cleanup EXIT

# LocalStack starts (and on a fresh machine installs) in the background while Rust compiles.
pidfile=$cache/localstack-$LOCALSTACK_PORT/localstack.pid
if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  already_running=1
else
  already_running=0
  started_localstack=1
fi
localstack/start.sh >"$ls_out" 2>&1 &
ls_pid=$!
# The Helm chart check (installs Helm's engine into a virtualenv on first use) runs alongside too.
deploy_out=$(mktemp)
deploy/check.sh >"$deploy_out" 2>&1 &
deploy_pid=$!

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build --workspace --tests"
cargo build --workspace --tests --locked

step "deploy/check.sh: Helm chart rendered, validated against Kubernetes, plain install in sync"
if ! wait "$deploy_pid"; then
  cat "$deploy_out" >&2
  exit 1
fi
cat "$deploy_out"

step "LocalStack"
if ! wait "$ls_pid"; then
  cat "$ls_out" >&2
  echo "scripts/test.sh: LocalStack did not start; see the message above" >&2
  exit 1
fi
((already_running)) && echo "using the LocalStack instance already running on port $LOCALSTACK_PORT"
echo "LocalStack log: $(tail -1 "$ls_out")"

step "cargo test --workspace"
# Every process of the suites appends the AWS operations it calls here (src/aws/calls.rs).
recorded_calls=$(mktemp "$cache/recorded-aws-calls.XXXXXX")
export AWS_LB_OPERATOR_RECORD_CALLS=$recorded_calls
cargo test --workspace --locked

step "IAM policy: every call the suites made is allowed, every allowed action was called, the same calls on foreign resources are denied"
cargo test --locked --test it iam_policy -- --ignored

step "scripts/check-image.sh: the image built from the debug binary, run from inside"
scripts/check-image.sh
