#!/usr/bin/env bash
# Benchmark the controller against the in-process API server fixture and LocalStack: memory of
# `run` after syncing 10,000 Services / 100,000 endpoints / 1,000 Ingresses, target-churn
# latency over 1,000 EndpointSlice changes (at BENCH_STACKS ALB stacks, default 10, with ten
# Services of ten endpoints per stack; from 100 stacks up also a rollout of 100 Services), and a
# restart with 200 in-sync stacks. Writes target/bench-controller.md (under the cache). Debug
# build, the one scripts/test.sh makes. One benchmark: scripts/bench-controller.sh target_churn
#   BENCH_STACKS=1000 scripts/bench-controller.sh target_churn   # churn and rollout, 1,000 stacks
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
export LOCALSTACK_ENDPOINT=http://127.0.0.1:$LOCALSTACK_PORT
export BENCH_REPORT=${BENCH_REPORT:-$CARGO_TARGET_DIR/bench-controller.md}
rm -f "$BENCH_REPORT"
localstack/start.sh >&2
# One benchmark at a time, so they don't share the 2 cores.
cargo test --locked --test it "bench_controller::bench_${1:-}" -- --ignored --nocapture --test-threads 1
echo "report: $BENCH_REPORT" >&2
