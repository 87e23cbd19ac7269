#!/usr/bin/env bash
# The controller's demo, on the dev cluster (scripts/dev-cluster.sh: the API server fixture as
# a process, and LocalStack):
#
#   1. scripts/dev-cluster.sh up (idempotent)
#   2. kubectl apply the manifests of examples/ (their metadata.uid removed: a real API server
#      assigns uids, and refuses an update that names another one)
#   3. aws-lb-operator run in the background (metrics on 127.0.0.1, leader election off)
#   4. waits until `kubectl get ingress,svc` shows the load balancers' hostnames
#   5. a scale-up: one more ready endpoint for shop/frontend -> one RegisterTargets, read back
#      with `aws-lb-operator show`
#   6. an edit: a path of shop/storefront changed -> one ModifyRule
#   7. a delete of every Ingress and LoadBalancer Service: Route53 records, then the load
#      balancers, then the finalizers, in the order the operator made the calls; this leaves
#      the account as the demo found it, so the next run starts from scratch (and avoids a
#      LocalStack 4.9 bug: a change batch creating *.shop.example.com next to an existing
#      admin.shop.example.com fails with "already exists")
#   each with the AWS calls it cost, read from the operator's /metrics; then a summary, and the
#   operator is stopped. The dev cluster stays up: run the demo again, or stop it with
#   scripts/dev-cluster.sh down.
#
# Environment: as for scripts/dev-cluster.sh; DEMO_TIMEOUT (seconds per step, default 90).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${AWS_LB_OPERATOR_CACHE:-$HOME/.cache/aws-lb-operator}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
state=${DEV_CLUSTER_DIR:-$cache/dev-cluster}
export DEMO_TIMEOUT=${DEMO_TIMEOUT:-90}

step() { printf '\n==> %s\n' "$*" >&2; }

step "dev cluster"
eval "$(scripts/dev-cluster.sh up)"
kubectl=${KUBECTL:-kubectl}
export KUBECTL=$kubectl

step "building aws-lb-operator"
cargo build -q --bin aws-lb-operator
bin=$CARGO_TARGET_DIR/debug/aws-lb-operator

step "kubectl apply -f examples/ (metadata.uid removed)"
manifests=$state/demo-manifests
rm -rf "$manifests"
mkdir -p "$manifests"
for f in examples/*/*.yaml; do
  sed -E '/^[[:space:]]*uid:[[:space:]]/d; s/, uid: [0-9a-f-]+//' "$f" >"$manifests/$(basename "$(dirname "$f")")-$(basename "$f")"
done
"$kubectl" apply -f "$manifests"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "aws-lb-operator run --cluster-name $CLUSTER_NAME (log: $state/operator.log, metrics: http://127.0.0.1:$port/metrics)"
# Debug logs of the executor and Route53 batches: one line per AWS write, in order.
RUST_LOG=${RUST_LOG:-warn,aws_lb_operator=info,aws_lb_operator::aws::execute=debug,aws_lb_operator::aws::route53=debug} \
setsid "$bin" run --cluster-name "$CLUSTER_NAME" --vpc-id "$VPC_ID" --leader-elect=false \
  --metrics-bind-address "127.0.0.1:$port" >"$state/operator.log" 2>&1 </dev/null &
operator=$!
stop_operator() {
  if kill -0 "$operator" 2>/dev/null; then
    kill -TERM "$operator" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$operator" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$operator" 2>/dev/null || true
  fi
  wait "$operator" 2>/dev/null || true
}
trap stop_operator EXIT

export OPERATOR_LOG=$state/operator.log METRICS_URL=http://127.0.0.1:$port/metrics OPERATOR_BIN=$bin OPERATOR_PID=$operator
python3 - <<'PY'
import json, os, re, subprocess, sys, time, urllib.request
from collections import Counter

kubectl, metrics_url, timeout = os.environ["KUBECTL"], os.environ["METRICS_URL"], float(os.environ["DEMO_TIMEOUT"])
READ = ("Describe", "List", "Get")

def out(*a):
    print(*a, flush=True)

def alive():
    return subprocess.run(["kill", "-0", os.environ["OPERATOR_PID"]], capture_output=True).returncode == 0

def calls():
    """AWS calls by (service, operation), and which of them mutate, from /metrics: any family
    aws_lb_operator_aws*calls_total, summed over labels other than service and operation."""
    try:
        text = urllib.request.urlopen(metrics_url, timeout=2).read().decode()
    except OSError:
        return Counter(), {}
    total, mutating = Counter(), {}
    for line in text.splitlines():
        m = re.match(r'aws_lb_operator_aws\w*calls_total\{([^}]*)\}\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        key = (labels.get("service", "?"), labels.get("operation", "?"))
        total[key] += float(m.group(2))
        if "mutating" in labels:
            mutating[key] = labels["mutating"] == "true"
    return total, mutating

def mutates(key, mutating):
    return mutating.get(key, not key[1].startswith(READ))

def kc(*args, check=True):
    r = subprocess.run([kubectl, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"kubectl {' '.join(args)} failed: {r.stderr}")
    return r

def wait(what, cond, quiet=2.0, action=lambda: None):
    """Run action(), then wait until cond() holds and no AWS call happened for `quiet` seconds;
    print each new operation as it first appears, in order. Returns the calls made since just
    before the action."""
    start, (before, _) = time.time(), calls()
    action()
    seen, last_change, last = set(), time.time(), before
    while True:
        now_calls, mutating = calls()
        if now_calls != last:
            last, last_change = now_calls, time.time()
        for key, n in (now_calls - before).items():
            if key not in seen:
                seen.add(key)
                kind = "write" if mutates(key, mutating) else "read"
                out(f"   {time.time() - start:5.1f}s  {key[0]} {key[1]} ({kind})")
        if cond() and time.time() - last_change >= quiet:
            return now_calls - before, mutating
        if not alive():
            sys.exit("aws-lb-operator exited; see its log")
        if time.time() - start > timeout:
            sys.exit(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)

def report(delta, mutating):
    writes = {k: int(n) for k, n in delta.items() if mutates(k, mutating)}
    reads = {k: int(n) for k, n in delta.items() if not mutates(k, mutating)}
    w = ", ".join(f"{n} {op}" for (_, op), n in sorted(writes.items())) or "none"
    out(f"   AWS calls: {int(sum(delta.values()))} ({sum(writes.values())} mutating: {w}; {sum(reads.values())} reads)")
    return writes

def hostnames():
    items = json.loads(kc("get", "ingress,svc", "-A", "-o", "json").stdout)["items"]
    return {f"{i['kind'].lower()}/{i['metadata']['namespace']}/{i['metadata']['name']}":
            ",".join(x.get("hostname", "") for x in i.get("status", {}).get("loadBalancer", {}).get("ingress", []))
            for i in items}

EXPECTED = ["ingress/shop/storefront", "ingress/mall/storefront", "ingress/backoffice/admin",
            "service/ingress-nginx/public", "service/ingress-nginx/private"]
summary = []

out("\n==> waiting until kubectl get ingress,svc shows the load balancers' hostnames")
delta, mutating = wait("hostnames", lambda: all(hostnames().get(n) for n in EXPECTED), quiet=3.0)
writes = report(delta, mutating)
out(kc("get", "ingress,svc", "-A").stdout)
summary.append(f"converged: {len(EXPECTED)} objects with hostnames, {sum(writes.values())} mutating AWS calls")

out("==> scale-up: one more ready endpoint for shop/frontend")
eps = json.loads(kc("get", "endpointslice", "-n", "shop", "-l", "kubernetes.io/service-name=frontend", "-o", "json").stdout)["items"][0]
used = {a for e in eps.get("endpoints", []) for a in e.get("addresses", [])}
ip = next(f"10.0.1.{n}" for n in range(100, 250) if f"10.0.1.{n}" not in used)
endpoint = {"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": "ip-10-0-1-10.eu-west-1.compute.internal", "zone": "eu-west-1a"}
out(f"   kubectl patch endpointslice {eps['metadata']['name']}: + {ip} (ready)")
delta, mutating = wait("RegisterTargets", lambda: True, action=lambda: kc(
    "patch", "endpointslice", eps["metadata"]["name"], "-n", "shop", "--type", "json",
    "-p", json.dumps([{"op": "add", "path": "/endpoints/-", "value": endpoint}])))
writes = report(delta, mutating)
show = subprocess.run([os.environ["OPERATOR_BIN"], "show", "--cluster-name", os.environ["CLUSTER_NAME"],
                       "--vpc-id", os.environ["VPC_ID"]], capture_output=True, text=True).stdout
registered = [l.strip() for l in show.splitlines() if ip in l]
out(f"   read back with aws-lb-operator show: {registered[0] if registered else ip + ' NOT registered'}")
summary.append(f"scale-up: {writes.get(next((k for k in writes if k[1] == 'RegisterTargets'), None), 0)} RegisterTargets"
               f" ({sum(writes.values())} mutating calls), {ip} registered: {'yes' if registered else 'NO'}")

out("\n==> edit: a path of shop/storefront changed")
ing = json.loads(kc("get", "ingress", "storefront", "-n", "shop", "-o", "json").stdout)
rule = next(i for i, r in enumerate(ing["spec"]["rules"]) if r.get("host") == "shop.example.com")
old = ing["spec"]["rules"][rule]["http"]["paths"][0]["path"]
new = "/shop-api" if old == "/api" else "/api"
out(f"   kubectl patch ingress storefront: shop.example.com {old} -> {new}")
delta, mutating = wait("ModifyRule", lambda: True, action=lambda: kc(
    "patch", "ingress", "storefront", "-n", "shop", "--type", "json",
    "-p", json.dumps([{"op": "replace", "path": f"/spec/rules/{rule}/http/paths/0/path", "value": new}])))
writes = report(delta, mutating)
summary.append(f"edit: {sum(n for k, n in writes.items() if k[1] == 'ModifyRule')} ModifyRule ({sum(writes.values())} mutating calls)")

out("\n==> delete: every Ingress and LoadBalancer Service (kubectl delete --wait=false)")
log_start = os.path.getsize(os.environ["OPERATOR_LOG"])
doomed = [n for n in hostnames()]
doomed = [n for n in doomed if n.startswith("ingress/") or n in EXPECTED]
out(f"   {len(doomed)} objects: {', '.join(doomed)}")
def delete_all():
    for name in doomed:
        kind, ns, obj = name.split("/")
        kc("delete", kind, obj, "-n", ns, "--wait=false")
released = []
def all_gone():
    left = hostnames()
    for name in doomed:
        if name not in left and name not in released:
            released.append(name)
            out(f"          finalizer released: {name} is gone")
    return len(released) == len(doomed)
delta, mutating = wait("the objects to go", all_gone, action=delete_all)
writes = report(delta, mutating)
with open(os.environ["OPERATOR_LOG"]) as log:
    log.seek(log_start)
    order = [l.rstrip() for l in log if l.rstrip().endswith(" done") or "route53: changed" in l]
out("   the writes in order, from the operator's log (records first, then load balancers):")
for line in order:
    m = re.search(r'change\{stack=(\S*) resource=(.*) operation="([^"]+)"\}', line)
    if m:
        out(f"     {m.group(3):<40} {m.group(2)}  [{m.group(1) or 'shared'}]")
    elif "route53: changed" in line:
        out("     route53.ChangeResourceRecordSets         " + re.sub(r".*route53: changed ", "", line))
show = subprocess.run([os.environ["OPERATOR_BIN"], "show", "--cluster-name", os.environ["CLUSTER_NAME"],
                       "--vpc-id", os.environ["VPC_ID"]], capture_output=True, text=True).stdout
shown = [l for l in show.splitlines() if l.strip() and l.strip() != "The cluster owns no load balancers."]
out("   read back with aws-lb-operator show: " + ("; ".join(shown[:3]) + (" ..." if len(shown) > 3 else "") if shown else "nothing"))
summary.append(f"delete: {len(released)} of {len(doomed)} objects gone, {sum(writes.values())} mutating calls ("
               + ", ".join(f"{n} {op}" for (_, op), n in sorted(writes.items())) + "), "
               + ("nothing left in AWS" if not shown else f"aws-lb-operator show still prints {len(shown)} lines"))

out("\n==> summary")
for line in summary:
    out(f"   {line}")
PY
step "stopping aws-lb-operator (the dev cluster stays up: scripts/dev-cluster.sh down stops it)"
