#!/usr/bin/env bash
# Benchmark `apply` on LocalStack: AWS calls by operation and wall time for N Ingresses (one ALB
# each) from scratch, unchanged, and with one Ingress changed; also N/5 to show that the
# unchanged re-apply's reads grow linearly. Writes target/bench-apply.md (under the cache).
#
#   BENCH_INGRESSES   N (default 50)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
export LOCALSTACK_ENDPOINT=http://127.0.0.1:$LOCALSTACK_PORT
export BENCH_REPORT=${BENCH_REPORT:-$CARGO_TARGET_DIR/bench-apply.md}
localstack/start.sh >&2
# The test binary is the same debug build scripts/test.sh makes (no extra compile); wall time is
# dominated by LocalStack, not by the operator.
cargo test --locked --test it bench_apply -- --ignored --nocapture
echo "report: $BENCH_REPORT" >&2
