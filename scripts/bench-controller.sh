#!/usr/bin/env bash
# Benchmark the controller against the in-process API server fixture and LocalStack: memory of
# `run` after syncing 10,000 Services / 100,000 endpoints / 1,000 Ingresses, target-churn
# latency over BENCH_CHANGES (default 1,000) EndpointSlice changes at BENCH_STACKS ALB stacks
# (default 10 for it; ten Services of ten endpoints per stack; from 100 stacks up also a rollout
# of 100 Services), and the cold start then restart of BENCH_STACKS (default 1,000 for it)
# stacks. Writes target/bench-controller.md (under the cache) and prints it.
#
# Usage: scripts/bench-controller.sh [--release] [FILTER]
#   --release  build and run the benchmarks with the release profile (default: the debug
#              build scripts/test.sh makes)
#   FILTER     run only the benchmarks whose name contains it (default: all), e.g.
#              `BENCH_STACKS=5000 scripts/bench-controller.sh --release restart`,
#              `BENCH_STACKS=1000 scripts/bench-controller.sh target_churn`
#
#   BENCH_SCALE=5 BENCH_RUNS=3 scripts/bench-controller.sh memory
#              memory only: 50,000 Services / 500,000 endpoints / 5,000 Ingresses, three runs
#
# BENCH_SETUP_THROTTLE (`--aws-api-throttle` syntax, over the defaults) gives the controller that
# creates the churn and restart benchmarks' stacks other rate limits, e.g.
# `BENCH_SETUP_THROTTLE='elbv2:^RegisterTargets|^DeregisterTargets=100:200'` for 5,000 stacks
# (created at the default 4 registrations per second, they take over 20 minutes); what is
# measured keeps the defaults (the churn is measured by a controller started afterwards), unless
# BENCH_THROTTLE gives the churn and rollout's measured controller its own (e.g.
# `elbv2:^RegisterTargets|^DeregisterTargets=400:400`: the pipeline without the 4/s limit).
#
# BENCH_SCALE multiplies the memory benchmark's counts (0: the empty cluster), BENCH_RUNS starts
# that many `run` processes in a row, BENCH_CHILD_ENV gives them `K=V` pairs (docs/controller.md,
# "Measuring memory"). BENCH_TRACE=FILE makes the restart benchmark write the controller's
# spans to FILE as they close, with their busy and idle times (where a pass spends its time).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=()
filter=bench_controller
for arg in "$@"; do
  case $arg in
    --release) profile=(--release) ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    bench_*) filter="bench_controller::$arg" ;;
    *) filter="bench_controller::bench_$arg" ;;
  esac
done
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
export LOCALSTACK_ENDPOINT=http://127.0.0.1:$LOCALSTACK_PORT
export BENCH_REPORT=${BENCH_REPORT:-$CARGO_TARGET_DIR/bench-controller.md}
rm -f "$BENCH_REPORT"
localstack/start.sh >&2
# One benchmark at a time, so they don't share the 2 cores.
cargo test --locked "${profile[@]}" --test it "$filter" -- --ignored --nocapture --test-threads 1 >&2
cat "$BENCH_REPORT"
echo "report: $BENCH_REPORT" >&2
