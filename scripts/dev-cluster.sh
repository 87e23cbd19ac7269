#!/usr/bin/env bash
# A cluster on one machine: the API server fixture as a process (dev-apiserver, from
# tools/apiserver; not a real kube-apiserver, see its module documentation for what it leaves
# out) and LocalStack for AWS.
#
#   scripts/dev-cluster.sh up [--preload DIR]   start (idempotent), print the export lines
#   scripts/dev-cluster.sh env                  print the export lines again:
#                                               eval "$(scripts/dev-cluster.sh env)"
#   scripts/dev-cluster.sh down                 stop exactly what `up` started
#
# `up` builds and starts dev-apiserver on 127.0.0.1 (plain HTTP, no authentication), writes a
# kubeconfig, starts LocalStack (localstack/start.sh) unless it is running already, creates a VPC
# with subnets tagged for load balancers in two zones, a node security group and the public
# hosted zone example.com (each unless it exists), installs our CRDs and the IngressClass `alb`
# with kubectl, and prints `export` lines for KUBECONFIG, AWS_ENDPOINT_URL, AWS_REGION, the AWS
# credentials, CLUSTER_NAME (the name the VPC is tagged for) and VPC_ID. `--preload DIR` loads
# the manifests in DIR into the server before it serves, without a client (for benchmarks with
# tens of thousands of objects). Progress goes to stderr, the export lines alone to stdout.
#
# `down` stops dev-apiserver, and LocalStack only when this script's `up` started it. The AWS
# resources stay in LocalStack (a later `up` reuses them) until LocalStack stops.
#
# Environment: CLUSTER_NAME (default dev), DEV_ACCOUNT_ID (LocalStack account, default
# 000000000003, apart from the demo's and the test suites'), AWS_REGION (default us-east-1),
# LOCALSTACK_PORT (default 4566), DEV_APISERVER_PORT (default: any free port),
# DEV_CLUSTER_DIR (state, default $AWS_LB_OPERATOR_CACHE/dev-cluster), KUBECTL (default
# kubectl; Debian's kubernetes-client is installed when it is missing and we are root),
# AWS_LB_OPERATOR_CACHE / CARGO_TARGET_DIR as for scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
state=${DEV_CLUSTER_DIR:-$cache/dev-cluster}
cluster=${CLUSTER_NAME:-dev}
region=${AWS_REGION:-us-east-1}
account=${DEV_ACCOUNT_ID:-000000000003}
endpoint=http://127.0.0.1:$LOCALSTACK_PORT
kubectl=${KUBECTL:-kubectl}
pidfile=$state/apiserver.pid

die() { echo "dev-cluster.sh: $*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }

usage() {
  echo "usage: scripts/dev-cluster.sh up [--preload DIR] | env | down" >&2
  exit 2
}

apiserver_running() {
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

localstack_healthy() {
  curl -sf -o /dev/null --max-time 2 "$endpoint/_localstack/health"
}

ensure_kubectl() {
  command -v "$kubectl" >/dev/null && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    step "installing kubectl (Debian's kubernetes-client)"
    apt-get install -y -q kubernetes-client >&2 || { apt-get update -q >&2 && apt-get install -y -q kubernetes-client >&2; }
  fi
  command -v "$kubectl" >/dev/null || die "kubectl not found: install Debian's kubernetes-client (apt-get install kubernetes-client) or set KUBECTL"
}

print_env() {
  [[ -f $state/env ]] && apiserver_running || die "the dev cluster is not up: run scripts/dev-cluster.sh up"
  cat "$state/env"
}

up() {
  local preload=()
  while (($#)); do
    case $1 in
      --preload) [[ $# -ge 2 ]] || usage; [[ -e $2 ]] || die "--preload $2: no such file or directory"
                 preload+=(--preload "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
      *) usage ;;
    esac
  done
  mkdir -p "$state"
  ensure_kubectl

  if apiserver_running; then
    step "dev-apiserver already running (pid $(cat "$pidfile"))"
    ((${#preload[@]} == 0)) || die "--preload needs a fresh server: run scripts/dev-cluster.sh down first"
  else
    step "building dev-apiserver"
    cargo build -q -p aws-lb-operator-apiserver --bin dev-apiserver
    rm -f "$state/kubeconfig"
    step "starting dev-apiserver (log: $state/apiserver.log)"
    setsid "$CARGO_TARGET_DIR/debug/dev-apiserver" --listen "127.0.0.1:${DEV_APISERVER_PORT:-0}" \
      --kubeconfig "$state/kubeconfig" "${preload[@]}" >"$state/apiserver.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    # The kubeconfig appears once the server listens and the preload is done.
    for _ in $(seq 1 600); do
      [[ -f $state/kubeconfig ]] && break
      apiserver_running || { cat "$state/apiserver.log" >&2; rm -f "$pidfile"; die "dev-apiserver exited"; }
      sleep 0.1
    done
    [[ -f $state/kubeconfig ]] || die "dev-apiserver wrote no kubeconfig within 60 s; see $state/apiserver.log"
  fi
  export KUBECONFIG=$state/kubeconfig

  if localstack_healthy; then
    step "LocalStack already running on $endpoint (not started here, so down leaves it)"
  else
    step "starting LocalStack"
    localstack/start.sh >&2
    touch "$state/localstack-started"
  fi

  export AWS_ENDPOINT_URL=$endpoint AWS_REGION=$region AWS_ACCESS_KEY_ID=$account AWS_SECRET_ACCESS_KEY=test
  step "VPC, load-balancer subnets, node security group and hosted zone example.com (account $account)"
  local vpc
  vpc=$("$cache/localstack-venv/bin/python" - "$cluster" <<'PY'
import os, sys, time
import boto3

cluster = sys.argv[1]
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
ec2 = boto3.client("ec2", **kw)
existing = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{cluster}-dev-cluster"]}])["Vpcs"]
if existing:
    vpc = existing[0]["VpcId"]
    print(f"using {vpc} (Name={cluster}-dev-cluster)", file=sys.stderr)
else:
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{cluster}-dev-cluster"}])
    for i, zone in enumerate(zones):
        for role, base in (("kubernetes.io/role/elb", 0), ("kubernetes.io/role/internal-elb", 10)):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{base + i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            ec2.create_tags(Resources=[subnet], Tags=[
                {"Key": role, "Value": "1"},
                {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "shared"},
                {"Key": "Name", "Value": f"{cluster}-{role.rsplit('/', 1)[1]}-{zone}"},
            ])
    sg = ec2.create_security_group(GroupName=f"{cluster}-nodes", Description="dev cluster nodes", VpcId=vpc)["GroupId"]
    ec2.create_tags(Resources=[sg], Tags=[{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}])
    print(f"created {vpc} with load-balancer subnets in {', '.join(zones)} and node security group {sg}", file=sys.stderr)
r53 = boto3.client("route53", **kw)
zones = [z for z in r53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"] if z["Name"] == "example.com."]
if zones:
    print(f"using hosted zone {zones[0]['Id'].rsplit('/', 1)[1]} (example.com)", file=sys.stderr)
else:
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=f"dev-{time.time_ns()}")["HostedZone"]
    print(f"created hosted zone {zone['Id'].rsplit('/', 1)[1]} (example.com, public)", file=sys.stderr)
print(vpc)
PY
)

  step "CRDs and IngressClass alb"
  "$kubectl" apply -f crds/crds.yaml >&2
  "$kubectl" apply -f - >&2 <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: alb}
spec: {controller: ingress.k8s.aws/alb}
YAML

  cat >"$state/env" <<EOF
export KUBECONFIG=$state/kubeconfig
export AWS_ENDPOINT_URL=$endpoint
export AWS_REGION=$region
export AWS_ACCESS_KEY_ID=$account
export AWS_SECRET_ACCESS_KEY=test
export CLUSTER_NAME=$cluster
export VPC_ID=$vpc
EOF
  step "dev cluster up: $(sed -n 's/.*server: //p' "$state/kubeconfig") (eval \"\$(scripts/dev-cluster.sh env)\")"
  cat "$state/env"
}

down() {
  if apiserver_running; then
    local pid
    pid=$(cat "$pidfile")
    step "stopping dev-apiserver (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$state/env" "$state/kubeconfig"
  if [[ -f $state/localstack-started ]]; then
    step "stopping LocalStack (started by dev-cluster.sh up)"
    localstack/stop.sh
    rm -f "$state/localstack-started"
  fi
}

case ${1:-} in
  up) shift; up "$@" ;;
  env) [[ $# == 1 ]] || usage; print_env ;;
  down) [[ $# == 1 ]] || usage; down ;;
  *) usage ;;
esac
