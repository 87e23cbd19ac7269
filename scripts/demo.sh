#!/usr/bin/env bash
# The main job without a cluster: apply the example manifests to AWS (LocalStack here) and
# read back what exists.
#
#   1. starts LocalStack (localstack/start.sh; idempotent, installs it on first use)
#   2. creates a VPC (Name tag <cluster>-demo) with subnets tagged for load balancers in two
#      zones and a node security group, unless that VPC exists already
#   3. creates the public hosted zone example.com, unless it exists already, so the examples'
#      hostnames (shop.example.com, *.shop.example.com, admin.shop.example.com, and the
#      Gateway routes' store.example.com, api.example.com, rpc.example.com) get records
#   4. aws-lb-operator apply -R -f examples/ --cluster-name demo (Ingresses, Services and
#      examples/gateway's ALB and NLB Gateways)
#   5. aws-lb-operator show --cluster-name demo: load balancer DNS names, listeners, rules and
#      registered targets, as read back through the AWS API
#   6. the records of example.com as Route53 holds them: alias A records to the ALBs and their
#      ExternalDNS-format TXT ownership records (db.example.com, of the internal NLB Gateway,
#      has no private zone here: apply notes it and manages no record for it)
#
# Environment: AWS_REGION (default us-east-1), LOCALSTACK_PORT (default 4566),
# DEMO_ACCOUNT_ID (default 000000000001), AWS_LB_OPERATOR_CACHE / CARGO_TARGET_DIR as for
# scripts/test.sh. Run it again after editing examples/ to see only the difference applied.
#
# The demo works in a LocalStack account of its own (LocalStack takes a 12-digit access key id
# as the account id): Route53 is global per account, and the test suites apply the same
# examples in the default account, where an example.com zone would give them records too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
export LOCALSTACK_PORT=${LOCALSTACK_PORT:-4566}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:$LOCALSTACK_PORT}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${DEMO_ACCOUNT_ID:-000000000001}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
cluster=${CLUSTER_NAME:-demo}

step() { printf '\n==> %s\n' "$*" >&2; }

step "starting LocalStack"
localstack/start.sh >&2

step "VPC with load-balancer subnets in two zones"
vpc=$("$cache/localstack-venv/bin/python" - "$cluster" <<'PY'
import os, sys
import boto3

cluster = sys.argv[1]
ec2 = boto3.client("ec2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
existing = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{cluster}-demo"]}])["Vpcs"]
if existing:
    print(f"using {existing[0]['VpcId']} (Name={cluster}-demo)", file=sys.stderr)
    print(existing[0]["VpcId"])
    sys.exit(0)
zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{cluster}-demo"}])
for i, zone in enumerate(zones):
    for role, base in (("kubernetes.io/role/elb", 0), ("kubernetes.io/role/internal-elb", 10)):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{base + i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        ec2.create_tags(Resources=[subnet], Tags=[
            {"Key": role, "Value": "1"},
            {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "shared"},
            {"Key": "Name", "Value": f"{cluster}-{role.rsplit('/', 1)[1]}-{zone}"},
        ])
# The nodes' security group, where the operator lets the load balancers reach the targets.
sg = ec2.create_security_group(GroupName=f"{cluster}-nodes", Description="demo nodes", VpcId=vpc)["GroupId"]
ec2.create_tags(Resources=[sg], Tags=[{"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned"}])
print(f"created {vpc} with load-balancer subnets in {', '.join(zones)} and node security group {sg}", file=sys.stderr)
print(vpc)
PY
)

step "public hosted zone example.com"
"$cache/localstack-venv/bin/python" - <<'PY'
import os, sys, time
import boto3

r53 = boto3.client("route53", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
zones = [z for z in r53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"] if z["Name"] == "example.com."]
if zones:
    print(f"using {zones[0]['Id'].rsplit('/', 1)[1]} (example.com, {zones[0]['ResourceRecordSetCount']} records)", file=sys.stderr)
else:
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=f"demo-{time.time_ns()}")["HostedZone"]
    print(f"created {zone['Id'].rsplit('/', 1)[1]} (example.com, public)", file=sys.stderr)
PY

step "building aws-lb-operator"
cargo build -q --bin aws-lb-operator
bin=$CARGO_TARGET_DIR/debug/aws-lb-operator

step "aws-lb-operator apply -R -f examples/ --cluster-name $cluster --vpc-id $vpc"
# examples/grouped has one deliberately broken Ingress: apply reports it (exit 2) and deploys
# the rest of its group.
status=0
"$bin" apply -R -f examples/ --cluster-name "$cluster" --vpc-id "$vpc" || status=$?
if ((status == 1)); then
  echo "apply failed" >&2
  exit 1
fi

step "aws-lb-operator show --cluster-name $cluster --vpc-id $vpc (read back from AWS)"
"$bin" show --cluster-name "$cluster" --vpc-id "$vpc"

step "Route53 records of example.com (read back from AWS)"
"$cache/localstack-venv/bin/python" - <<'PY'
import os
import boto3

r53 = boto3.client("route53", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
zone = next(z for z in r53.list_hosted_zones_by_name(DNSName="example.com")["HostedZones"] if z["Name"] == "example.com.")
rows = []
for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"]):
    for r in page["ResourceRecordSets"]:
        if r["Type"] in ("SOA", "NS"):
            continue
        name = r["Name"].rstrip(".").replace("\\052", "*")
        if "AliasTarget" in r:
            a = r["AliasTarget"]
            value = f"alias {a['DNSName'].rstrip('.')} (zone {a['HostedZoneId']})"
        else:
            value = f"ttl {r.get('TTL')} " + " ".join(v["Value"] for v in r.get("ResourceRecords", []))
        rows.append((name, r["Type"], value))
width = max((len(n) for n, _, _ in rows), default=0)
for name, rtype, value in sorted(rows):
    print(f"{name:<{width}}  {rtype:<4} {value}")
if not rows:
    print("no records")
PY
