#!/usr/bin/env bash
# Benchmark the controller against the in-process API server fixture and LocalStack: memory of
# `run` after syncing 10,000 Services / 100,000 endpoints / 1,000 Ingresses, target-churn
# latency over 1,000 EndpointSlice changes, and a restart with 200 in-sync stacks. Writes
# target/bench-controller.md (under the cache) and prints it. Debug build, the one scripts/test.sh
# makes.
#
#   scripts/bench-controller.sh                  # every benchmark
#   BENCH_SCALE=5 BENCH_RUNS=3 scripts/bench-controller.sh bench_memory
#                                                # memory only: 50,000 Services / 500,000
#                                                # endpoints / 5,000 Ingresses, three runs
#
# BENCH_SCALE multiplies the memory benchmark's counts (0: the empty cluster), BENCH_RUNS starts
# that many `run` processes in a row, BENCH_CHILD_ENV gives them `K=V` pairs (docs/controller.md,
# "Measuring memory").
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
cargo test --locked --test it "${1:-bench_controller}" -- --ignored --nocapture --test-threads 1 >&2
cat "$BENCH_REPORT"
echo "report: $BENCH_REPORT" >&2
