#!/usr/bin/env bash
# Stop the LocalStack instance that localstack/start.sh started, by its own pid file (never by a
# broad process name). Does nothing when none is running.
set -euo pipefail
port=${LOCALSTACK_PORT:-4566}
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
pidfile=$cache/localstack-$port/localstack.pid
[[ -f $pidfile ]] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  # start.sh ran it under setsid: its pid is its process group, which holds only its children.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$pidfile"
