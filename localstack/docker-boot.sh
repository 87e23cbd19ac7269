#!/bin/bash
# LocalStack container boot hook (see docker-compose.yml): install the ELBv2 provider plugin
# into LocalStack's own virtualenv before the runtime starts.
set -euo pipefail
cp -r /opt/aws-lb-operator/elbv2-provider /tmp/elbv2-provider
/opt/code/localstack/.venv/bin/pip install --no-deps /tmp/elbv2-provider
