#!/usr/bin/env bash
# Start LocalStack in host mode (no Docker) with ELBv2, WAFv2 and Shield served by the project's
# provider plugin.
#
# Installs LocalStack (pinned, constraints.txt) into a virtualenv the project owns, installs the
# plugin in elbv2-provider/, starts LocalStack on 127.0.0.1:${LOCALSTACK_PORT:-4566} in the
# background, waits until /_localstack/health reports elbv2, ec2, route53, acm, sts, iam, wafv2 and shield, and
# prints the path of its log file as its last line. Idempotent: a second call finds it running
# and returns at once. Stop it with localstack/stop.sh.
#
# Environment:
#   LOCALSTACK_PORT           port to listen on (default 4566)
#   AWS_LB_OPERATOR_CACHE     cache root for the virtualenv and state (default ~/.cache/aws-lb-operator)
#   LOCALSTACK_START_TIMEOUT  seconds to wait for health (default 120)
#   PYTHON                    interpreter to create the virtualenv with (default python3; needs 3.11)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${LOCALSTACK_PORT:-4566}
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
venv=$cache/localstack-venv
state=$cache/localstack-$port
timeout=${LOCALSTACK_START_TIMEOUT:-120}
python=${PYTHON:-python3}
required="elbv2 ec2 route53 acm sts iam wafv2 shield"
localstack_version=4.9.2
pidfile=$state/localstack.pid
log=$state/localstack.log

die() { echo "localstack/start.sh: $*" >&2; exit 1; }

mkdir -p "$state"

# Prints nothing and succeeds when every required service is available or running;
# otherwise prints what is missing and fails.
health_ok() {
  "$venv/bin/python" - "$port" $required <<'PY' 2>/dev/null
import json, sys, urllib.request
port, required = sys.argv[1], sys.argv[2:]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/health", timeout=2) as r:
        services = json.load(r).get("services", {})
except Exception as e:
    print(f"health endpoint not answering ({e})"); sys.exit(1)
bad = {s: services.get(s, "absent") for s in required if services.get(s) not in ("available", "running")}
if bad:
    print("not ready: " + ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))); sys.exit(1)
PY
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# 1. Already running (our pid file, live process, healthy)? Return at once.
if [[ -f $pidfile ]]; then
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    if health_ok >/dev/null; then
      echo "$log"
      exit 0
    fi
  else
    rm -f "$pidfile"
  fi
fi
if [[ ! -f $pidfile ]] && port_in_use; then
  die "port $port on 127.0.0.1 is already in use by another process (not started by this script); free it or set LOCALSTACK_PORT"
fi

# 2. Install (or refresh) the virtualenv when the pins or the plugin changed.
plugin_files=("$here/elbv2-provider/pyproject.toml" "$here"/elbv2-provider/aws_lb_operator_localstack/*.py)
stamp=$( (echo "$localstack_version"; cat "$here/constraints.txt" "${plugin_files[@]}") | sha256sum | cut -d' ' -f1)
if [[ ! -f $venv/.stamp || $(cat "$venv/.stamp") != "$stamp" ]]; then
  echo "installing LocalStack $localstack_version into $venv (log: $state/install.log)" >&2
  "$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null \
    || die "LocalStack $localstack_version needs Python 3.11; '$python' is $("$python" --version 2>&1)"
  [[ -x $venv/bin/python ]] || "$python" -m venv "$venv" >"$state/install.log" 2>&1 \
    || die "could not create a virtualenv at $venv; see $state/install.log"
  if ! "$venv/bin/pip" install --disable-pip-version-check -q -c "$here/constraints.txt" \
      "localstack-core[runtime]==$localstack_version" \
      "cbor2<5.7" "pyopenssl==25.1.0" "cryptography>=45,<46" "service_identity<25" >>"$state/install.log" 2>&1; then
    tail -5 "$state/install.log" >&2
    die "could not install LocalStack from PyPI (no network or package registry unreachable?); see $state/install.log"
  fi
  # Build from a copy so pip leaves no build/ or egg-info behind in the source tree.
  rm -rf "$state/elbv2-provider" && cp -r "$here/elbv2-provider" "$state/elbv2-provider"
  if ! "$venv/bin/pip" install --disable-pip-version-check -q --no-deps --force-reinstall \
      "$state/elbv2-provider" >>"$state/install.log" 2>&1; then
    tail -5 "$state/install.log" >&2
    die "could not install the ELBv2 provider plugin from $here/elbv2-provider; see $state/install.log"
  fi
  echo "$stamp" >"$venv/.stamp"
fi

# 3. Start in the background, in its own session so stop.sh can end exactly its process group.
: >"$log"
(
  cd "$state"
  export GATEWAY_LISTEN="127.0.0.1:$port" SERVICES="${required// /,}" DNS_ADDRESS=0 \
    SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 EAGER_SERVICE_LOADING=1 \
    FILESYSTEM_ROOT="$state/fs" LOCALSTACK_VOLUME_DIR="$state/volume" PERSISTENCE=0
  exec setsid "$venv/bin/python" -m localstack.runtime.main >>"$log" 2>&1 </dev/null
) &
echo $! >"$pidfile"
pid=$(cat "$pidfile")

# 4. Wait, bounded, for every required service.
deadline=$((SECONDS + timeout))
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pidfile"
    tail -20 "$log" >&2
    die "LocalStack exited during startup; see $log"
  fi
  if status=$(health_ok); then
    break
  fi
  if ((SECONDS >= deadline)); then
    die "LocalStack not healthy within ${timeout}s ($status); it is still running (pid $pid, log $log); stop it with localstack/stop.sh"
  fi
  sleep 1
done
echo "$log"
