#!/usr/bin/env bash
# Render the Helm chart with Helm's own engine and validate the output against the Kubernetes
# OpenAPI schemas, offline; keep deploy/manifests/aws-lb-operator.yaml equal to the chart's
# default render. What is checked: deploy/render.py's docstring.
#
# Installs its tools (deploy/requirements.txt: helm-python-sdk, which bundles Helm's Go SDK, and
# kubernetes-validate) into a virtualenv it owns, from PyPI, on first use or when the pins change.
#
# Usage: deploy/check.sh            check (exit 1 with the reason and the fix on any difference)
#        deploy/check.sh --update   also rewrite deploy/manifests/aws-lb-operator.yaml
#
# Environment:
#   AWS_LB_OPERATOR_CACHE  cache root for the virtualenv (default ~/.cache/aws-lb-operator)
#   PYTHON                 interpreter to create the virtualenv with (default python3; 3.10+)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
venv=$cache/deploy-venv
python=${PYTHON:-python3}

die() { echo "deploy/check.sh: $*" >&2; exit 1; }

mkdir -p "$cache"
stamp=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [[ ! -f $venv/.stamp || $(cat "$venv/.stamp") != "$stamp" ]]; then
  echo "installing the chart's check tools into $venv (log: $cache/deploy-install.log)" >&2
  "$python" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' 2>/dev/null \
    || die "needs Python 3.10 or newer; '$python' is $("$python" --version 2>&1)"
  [[ -x $venv/bin/python ]] || "$python" -m venv "$venv" >"$cache/deploy-install.log" 2>&1 \
    || die "could not create a virtualenv at $venv; see $cache/deploy-install.log"
  if ! "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements.txt" \
      >>"$cache/deploy-install.log" 2>&1; then
    tail -5 "$cache/deploy-install.log" >&2
    die "could not install the chart's check tools from PyPI (no network or registry unreachable?); see $cache/deploy-install.log"
  fi
  echo "$stamp" >"$venv/.stamp"
fi

exec "$venv/bin/python" "$here/render.py" "$@"
