#!/usr/bin/env bash
# The one release build of the operator binary, used by the container image (Dockerfile) and by
# benchmarks. Release builds take long on small machines, so the default test command never runs
# this: it checks instead that the Dockerfile builds with exactly this script (tests/it/packaging.rs).
#
# Output: ${CARGO_TARGET_DIR:-target}/release/aws-lb-operator. Extra arguments go to cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo build --release --locked --bin aws-lb-operator "$@"
