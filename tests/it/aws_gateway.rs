//! Gateway API stacks through the pass on LocalStack, with Route53: an ALB Gateway with HTTP
//! and HTTPS listeners and three routes converges (its deployed rules route as the routes say,
//! checked with the rule evaluator of `core::route` on the listeners read back), a re-apply
//! makes no mutating call, a route edit changes only its rule, a detached route's rules, target
//! groups and record leave, and deleting the Gateway removes everything it owned and its
//! records; an NLB Gateway with a TCPRoute and a UDPRoute likewise. `apply -f
//! examples/gateway` through the binary deploys both example Gateways, `show` lists them, and
//! `--prune` deletes them.
//!
//! Each suite works in a LocalStack account of its own (Route53 is global per account), with a
//! zone for a domain unique to the run.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use aws_lb_operator::aws::execute::{ExecuteOptions, Outcome};
use aws_lb_operator::aws::route53::{list_records, DnsOutcome};
use aws_lb_operator::cli::manifests::load_manifests;
use aws_lb_operator::pass::{apply, prepare, PassOptions};
use aws_lb_operator_core::dns::{DnsOptions, RecordSet};
use aws_lb_operator_core::model::{Stack, TargetType};
use aws_lb_operator_core::planner::ObservedStack;
use aws_lb_operator_core::route::RouteListener;
use aws_lb_operator_core::route::{evaluate, select_listener, Outcome as Answer, Request};
use aws_lb_operator_core::translate::{build_with_gateways, BuildConfig};

use crate::aws_apply::{env_with, Env};
use crate::localstack::{self, create_subnet, create_vpc, operator, run_id, unique};

const REGION: &str = "eu-central-2";

/// A cluster in an account of its own, with a public zone for `<unique>.gw-test.internal`.
struct Gw {
    env: Env,
    zone_id: String,
    domain: String,
    tag: &'static str,
}

impl Gw {
    async fn new(tag: &'static str, account: u32, cidr16: u8) -> Self {
        let clients = localstack::account_clients(REGION, account).await;
        let env = env_with(clients, REGION, tag, cidr16).await;
        let domain = format!("{}.gw-test.internal", unique(tag));
        let out = env
            .clients
            .route53
            .create_hosted_zone()
            .name(&domain)
            .caller_reference(unique(&format!("{tag}-zone")))
            .send()
            .await
            .unwrap();
        let zone_id = out
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        Self {
            env,
            zone_id,
            domain,
            tag,
        }
    }

    fn host(&self, label: &str) -> String {
        format!("{label}.{}", self.domain)
    }

    /// The stacks of `yaml` (Gateway API objects and Services), ip targets; no errors.
    fn stacks(&self, step: &str, yaml: &str) -> Vec<Stack> {
        let dir = std::env::temp_dir().join(format!("aws-lb-gw-{}-{}-{step}", run_id(), self.tag));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("all.yaml"), yaml).unwrap();
        let m = load_manifests(&[dir], false).unwrap();
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        let config = BuildConfig {
            default_target_type: TargetType::Ip,
            ..BuildConfig::new(&self.env.cluster)
        };
        let (built, _) = build_with_gateways(&m.snapshot, &m.gateways, &config);
        assert!(built.errors.is_empty(), "{step}: {:?}", built.errors);
        built.stacks
    }

    fn opts(&self, prune: bool) -> PassOptions {
        let mut dns = DnsOptions::new(&self.env.cluster);
        dns.zone_id_filter = vec![self.zone_id.clone()];
        PassOptions {
            dns: Some(dns),
            ..self.env.opts(prune)
        }
    }

    /// One pass with DNS; every change must succeed. Returns the mutating calls it made.
    async fn apply(&self, stacks: &[Stack], prune: bool) -> BTreeMap<String, u64> {
        self.env.clients.calls.reset();
        let prepared = prepare(&self.env.clients, &self.opts(prune), stacks)
            .await
            .unwrap();
        assert!(
            prepared.plan.errors.is_empty(),
            "{:?}",
            prepared.plan.errors
        );
        let dns = prepared.dns.as_ref().unwrap();
        assert!(dns.plan.conflicts.is_empty(), "{:?}", dns.plan.conflicts);
        assert!(dns.plan.unzoned.is_empty(), "{:?}", dns.plan.unzoned);
        let report = apply(&self.env.clients, &prepared, &ExecuteOptions::default()).await;
        for (c, o) in prepared.plan.changes.iter().zip(&report.elb.outcomes) {
            assert!(
                matches!(o, Outcome::Done),
                "{} {}: {o:?}",
                c.operation(),
                c.resource
            );
        }
        assert!(
            report.dns.iter().all(|o| matches!(o, DnsOutcome::Done)),
            "{:?}",
            report.dns
        );
        self.env.clients.calls.mutating_by_operation()
    }

    /// `A` records of the zone: name → alias DNS name; every one has its registry TXT.
    async fn records(&self) -> BTreeMap<String, String> {
        let all: Vec<RecordSet> = list_records(&self.env.clients, &self.zone_id)
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for r in all.iter().filter(|r| r.record_type == "A") {
            let txt = all.iter().any(|t| {
                t.record_type == "TXT"
                    && t.name.ends_with(&r.name)
                    && t.values
                        .iter()
                        .any(|v| v.contains(&format!("external-dns/owner={}", self.env.cluster)))
            });
            assert!(txt, "{} has no registry TXT of ours: {all:#?}", r.name);
            out.insert(
                r.name.clone(),
                r.alias
                    .as_ref()
                    .unwrap()
                    .dns_name
                    .trim_end_matches('.')
                    .to_owned(),
            );
        }
        let left: Vec<&RecordSet> = all
            .iter()
            .filter(|r| !["A", "TXT", "SOA", "NS"].contains(&r.record_type.as_str()))
            .collect();
        assert!(left.is_empty(), "{left:#?}");
        out
    }

    /// Every TXT of the zone (registry records).
    async fn txt_count(&self) -> usize {
        list_records(&self.env.clients, &self.zone_id)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.record_type == "TXT")
            .count()
    }

    async fn observed(&self, id: &str) -> Option<ObservedStack> {
        self.env.observed().await.remove(id)
    }
}

fn ops(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// A ClusterIP Service `ns/name` on `port` (→ `port + 8000`, `protocol`) with one ready pod.
fn service(ns: &str, name: &str, port: u16, protocol: &str, ip: &str) -> String {
    let target = u32::from(port) + 8000;
    format!(
        "---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: ClusterIP
  ports:
    - {{name: p, port: {port}, targetPort: {target}, protocol: {protocol}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: {ns}
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports:
  - {{name: p, port: {target}, protocol: {protocol}}}
endpoints:
  - {{addresses: [\"{ip}\"], conditions: {{ready: true}}}}
"
    )
}

/// What answers `url` (`scheme://host[:port]/path`, with `headers`) on the load balancer as read
/// back: the Service (`ns-name:port`) of each target group forwarded to, `fixed <code>`, or
/// `redirect <code> <location>`.
fn answer(
    observed: &ObservedStack,
    desired: &Stack,
    url: &str,
    headers: &[(&str, &str)],
) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, p.parse().unwrap()),
        None => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    let request = Request {
        scheme: scheme.into(),
        port,
        host: host.into(),
        path: path.into(),
        method: "GET".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    };
    let lb = &observed.load_balancers[0];
    let listeners: Vec<RouteListener> = lb.listeners.iter().map(RouteListener::from).collect();
    let Some(listener) = select_listener(&listeners, &request) else {
        return "no listener".to_owned();
    };
    match evaluate(listener, &request).answer().unwrap() {
        Answer::Forward { target_groups, .. } => target_groups
            .iter()
            .map(|t| {
                let arn = t.arn.as_deref().unwrap();
                let name = &observed
                    .target_groups
                    .iter()
                    .find(|o| o.arn == arn)
                    .unwrap()
                    .name;
                let id = &desired
                    .target_groups
                    .iter()
                    .find(|d| &d.name == name)
                    .unwrap_or_else(|| panic!("{url}: target group {name} is not desired"))
                    .id;
                id.split_once("Route-").unwrap().1.to_owned()
            })
            .collect::<Vec<_>>()
            .join(" "),
        Answer::FixedResponse(f) => format!("fixed {}", f.status_code),
        Answer::Redirect {
            status_code,
            location,
        } => format!("redirect {status_code} {location}"),
        Answer::Authenticate { .. } => "authenticate".to_owned(),
    }
}

/// Rule ARN → conditions of every rule of the stack's load balancer.
fn rules(observed: &ObservedStack) -> BTreeMap<String, String> {
    observed.load_balancers[0]
        .listeners
        .iter()
        .flat_map(|l| &l.rules)
        .map(|r| (r.arn.clone(), format!("{:?}", r.conditions)))
        .collect()
}

// === ALB Gateway ===

/// An IAM server certificate: LocalStack accepts only ACM certificates it issued itself (as
/// `examples/grouped` notes); the translation takes either kind of ARN.
const CERT: &str = "arn:aws:iam::000000000000:server-certificate/gw-test";

/// How the API route is written at each step of the ALB suite.
#[derive(Clone, Copy, PartialEq)]
enum Api {
    /// On the HTTPS listener: `/v1` → api, `/v1` with `x-canary: true` → api-canary.
    V1,
    /// Its first rule's path edited to `/v2`.
    V2,
    /// Its parentRef names another Gateway: detached from ours.
    Detached,
}

fn alb_yaml(gw: &Gw, api: Api, with_gateway: bool) -> String {
    let mut y = String::new();
    if with_gateway {
        let _ = write!(
            y,
            "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: alb}}
spec: {{controllerName: gateway.k8s.aws/alb}}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {{name: edge-config, namespace: web}}
spec:
  scheme: internet-facing
  listenerConfigurations:
    - {{protocolPort: 'HTTPS:443', defaultCertificate: '{CERT}'}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: edge, namespace: web, uid: 9d1c2b3a-0000-4000-8000-00000000a1b1}}
spec:
  gatewayClassName: alb
  infrastructure:
    parametersRef: {{group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: edge-config}}
  listeners:
    - {{name: http, port: 80, protocol: HTTP}}
    - {{name: https, port: 443, protocol: HTTPS, hostname: '*.{domain}'}}
",
            domain = gw.domain
        );
    }
    let api_parent = if api == Api::Detached {
        "{name: elsewhere, sectionName: https}"
    } else {
        "{name: edge, sectionName: https}"
    };
    let api_path = if api == Api::V2 { "/v2" } else { "/v1" };
    let _ = write!(
        y,
        "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: store, namespace: web, creationTimestamp: '2026-01-10T09:00:00Z'}}
spec:
  parentRefs: [{{name: edge, sectionName: https}}]
  hostnames: ['{store}']
  rules:
    - backendRefs: [{{name: frontend, port: 80}}]
    - matches: [{{path: {{type: PathPrefix, value: /cart}}}}]
      backendRefs: [{{name: cart, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: api, namespace: web, creationTimestamp: '2026-01-11T09:00:00Z'}}
spec:
  parentRefs: [{api_parent}]
  hostnames: ['{api}']
  rules:
    - matches: [{{path: {{type: PathPrefix, value: {api_path}}}}}]
      backendRefs: [{{name: api, port: 80}}]
    - matches:
        - path: {{type: PathPrefix, value: /v1}}
          headers: [{{name: x-canary, value: 'true'}}]
      backendRefs: [{{name: api-canary, port: 80}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: to-https
  namespace: web
  creationTimestamp: '2026-01-10T09:00:00Z'
  annotations: {{external-dns.alpha.kubernetes.io/hostname: '{www}'}}
spec:
  parentRefs: [{{name: edge, sectionName: http}}]
  rules:
    - filters:
        - {{type: RequestRedirect, requestRedirect: {{scheme: https, statusCode: 301}}}}
",
        store = gw.host("store"),
        api = gw.host("api"),
        www = gw.host("www"),
    );
    for (name, ip) in [
        ("frontend", "10.72.1.10"),
        ("cart", "10.72.1.11"),
        ("api", "10.72.1.12"),
        ("api-canary", "10.72.1.13"),
    ] {
        y.push_str(&service("web", name, 80, "TCP", ip));
    }
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_gateway_converges_edits_detaches_and_deletes_with_its_records() {
    let gw = Gw::new("gw-alb", 5870, 72).await;
    let id = "gateway:web/edge";

    // Converge: one ALB, two listeners, the routes' rules and target groups, three records.
    let stacks = gw.stacks("v1", &alb_yaml(&gw, Api::V1, true));
    assert_eq!(stacks.len(), 1);
    assert_eq!(stacks[0].id.to_string(), id);
    let first = gw.apply(&stacks, false).await;
    assert_eq!(first.get("elbv2.CreateLoadBalancer"), Some(&1), "{first:?}");
    assert_eq!(first.get("elbv2.CreateListener"), Some(&2), "{first:?}");
    assert_eq!(first.get("elbv2.CreateTargetGroup"), Some(&4), "{first:?}");
    let observed = gw.observed(id).await.unwrap();
    let lb = &observed.load_balancers[0];
    assert_eq!(lb.name, stacks[0].load_balancer.name);
    assert_eq!(lb.tags["gateway.k8s.aws.alb/stack"], "web/edge");
    assert_eq!(observed.target_groups.len(), 4);
    let dns = lb.dns_name.trim_end_matches('.').to_owned();
    let want_records = |labels: &[&str]| -> BTreeMap<String, String> {
        labels.iter().map(|l| (gw.host(l), dns.clone())).collect()
    };
    assert_eq!(gw.records().await, want_records(&["api", "store", "www"]));

    // The deployed rules route as the routes say.
    let d = &stacks[0];
    let (store, api) = (gw.host("store"), gw.host("api"));
    let ask = |o: &ObservedStack, d: &Stack, url: &str, h: &[(&str, &str)]| answer(o, d, url, h);
    for (url, headers, want) in [
        (
            format!("https://{store}/"),
            vec![],
            "web-frontend:80".to_owned(),
        ),
        (
            format!("https://{store}/cart"),
            vec![],
            "web-cart:80".into(),
        ),
        (
            format!("https://{store}/cart/items"),
            vec![],
            "web-cart:80".into(),
        ),
        (
            format!("https://{store}/cartx"),
            vec![],
            "web-frontend:80".into(),
        ),
        (
            format!("https://{api}/v1/users"),
            vec![],
            "web-api:80".into(),
        ),
        (
            format!("https://{api}/v1/users"),
            vec![("x-canary", "true")],
            "web-api-canary:80".into(),
        ),
        (
            format!("https://{api}/v2/users"),
            vec![],
            "fixed 404".into(),
        ),
        (
            format!("https://other.{}/", gw.domain),
            vec![],
            "fixed 404".into(),
        ),
        (
            format!("http://{store}/cart"),
            vec![],
            format!("redirect HTTP_301 https://{store}/cart"),
        ),
    ] {
        assert_eq!(ask(&observed, d, &url, &headers), want, "{url} {headers:?}");
    }

    // Unchanged: no mutating call, ELBv2, EC2 or Route53.
    assert_eq!(gw.apply(&stacks, false).await, BTreeMap::new(), "re-apply");

    // A route edit changes only its rule.
    let before = rules(&observed);
    let edited = gw.stacks("v2", &alb_yaml(&gw, Api::V2, true));
    assert_eq!(
        gw.apply(&edited, false).await,
        ops(&[("elbv2.ModifyRule", 1)])
    );
    let observed = gw.observed(id).await.unwrap();
    let after = rules(&observed);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "no rule replaced"
    );
    let changed: Vec<&String> = before
        .iter()
        .filter(|(arn, c)| after[*arn] != **c)
        .map(|(arn, _)| arn)
        .collect();
    assert_eq!(changed.len(), 1, "{before:#?}\n{after:#?}");
    let d = &edited[0];
    assert_eq!(
        ask(&observed, d, &format!("https://{api}/v2/users"), &[]),
        "web-api:80"
    );
    assert_eq!(
        ask(&observed, d, &format!("https://{api}/v1/users"), &[]),
        "fixed 404"
    );
    assert_eq!(
        ask(&observed, d, &format!("https://{store}/cart/items"), &[]),
        "web-cart:80"
    );

    // A detached route's rules, target groups and record leave; the others stay as they were.
    let detached = gw.stacks("detached", &alb_yaml(&gw, Api::Detached, true));
    let calls = gw.apply(&detached, false).await;
    assert_eq!(calls.get("elbv2.DeleteRule"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("elbv2.DeleteTargetGroup"), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("route53.ChangeResourceRecordSets"),
        Some(&1),
        "{calls:?}"
    );
    for op in [
        "CreateRule",
        "ModifyRule",
        "CreateListener",
        "ModifyListener",
        "CreateTargetGroup",
    ] {
        assert!(
            !calls.contains_key(&format!("elbv2.{op}")),
            "{op}: {calls:?}"
        );
    }
    let observed = gw.observed(id).await.unwrap();
    let left = rules(&observed);
    assert!(
        left.iter().all(|(arn, c)| after.get(arn) == Some(c)),
        "{left:#?}"
    );
    assert_eq!(observed.target_groups.len(), 2);
    assert_eq!(gw.records().await, want_records(&["store", "www"]));
    let d = &detached[0];
    assert_eq!(
        ask(&observed, d, &format!("https://{api}/v2/users"), &[]),
        "fixed 404"
    );
    assert_eq!(
        ask(&observed, d, &format!("https://{store}/"), &[]),
        "web-frontend:80"
    );

    // The Gateway deleted (its routes and Services still there): everything it owned goes,
    // records (and their TXTs) first.
    let gone = gw.stacks("deleted", &alb_yaml(&gw, Api::Detached, false));
    assert!(gone.is_empty());
    let calls = gw.apply(&gone, true).await;
    assert_eq!(calls.get("elbv2.DeleteLoadBalancer"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("elbv2.DeleteTargetGroup"), Some(&2), "{calls:?}");
    assert!(gw.observed(id).await.is_none());
    assert!(gw.env.observed().await.is_empty());
    assert_eq!(gw.records().await, BTreeMap::new());
    assert_eq!(gw.txt_count().await, 0);
    assert_eq!(
        gw.apply(&gone, true).await,
        BTreeMap::new(),
        "nothing left to do"
    );
}

// === NLB Gateway ===

/// The NLB suite's steps.
#[derive(Clone, Copy, PartialEq)]
enum Nlb {
    /// TCPRoute → postgres, UDPRoute → dns.
    Initial,
    /// The TCPRoute's backend edited to postgres-replica.
    Replica,
    /// The UDPRoute detached.
    NoUdp,
    /// The Gateway deleted.
    Deleted,
}

fn nlb_yaml(gw: &Gw, step: Nlb) -> String {
    let mut y = String::new();
    if step != Nlb::Deleted {
        y.push_str(
            "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {name: db-config, namespace: data}
spec: {scheme: internet-facing}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: db, namespace: data, uid: 9d1c2b3a-0000-4000-8000-00000000b2c2}
spec:
  gatewayClassName: nlb
  infrastructure:
    parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: db-config}
  listeners:
    - {name: pg, port: 5432, protocol: TCP}
    - {name: dns, port: 53, protocol: UDP}
",
        );
    }
    let backend = if step == Nlb::Initial {
        "postgres"
    } else {
        "postgres-replica"
    };
    let udp_parent = if step == Nlb::Initial || step == Nlb::Replica {
        "{name: db, sectionName: dns}"
    } else {
        "{name: elsewhere, sectionName: dns}"
    };
    let _ = write!(
        y,
        "---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: pg
  namespace: data
  creationTimestamp: '2026-01-10T09:00:00Z'
  annotations: {{external-dns.alpha.kubernetes.io/hostname: '{pg}'}}
spec:
  parentRefs: [{{name: db, sectionName: pg}}]
  rules:
    - backendRefs: [{{name: {backend}, port: 5432}}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: dns
  namespace: data
  creationTimestamp: '2026-01-10T09:00:00Z'
  annotations: {{external-dns.alpha.kubernetes.io/hostname: '{ns}'}}
spec:
  parentRefs: [{udp_parent}]
  rules:
    - backendRefs: [{{name: dns, port: 53}}]
",
        pg = gw.host("pg"),
        ns = gw.host("ns"),
    );
    y.push_str(&service("data", "postgres", 5432, "TCP", "10.73.1.10"));
    y.push_str(&service(
        "data",
        "postgres-replica",
        5432,
        "TCP",
        "10.73.1.11",
    ));
    y.push_str(&service("data", "dns", 53, "UDP", "10.73.1.12"));
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nlb_gateway_converges_edits_detaches_and_deletes_with_its_records() {
    let gw = Gw::new("gw-nlb", 5871, 73).await;
    let id = "nlb-gateway:data/db";

    let stacks = gw.stacks("initial", &nlb_yaml(&gw, Nlb::Initial));
    assert_eq!(stacks.len(), 1);
    assert_eq!(stacks[0].id.to_string(), id);
    let first = gw.apply(&stacks, false).await;
    assert_eq!(first.get("elbv2.CreateLoadBalancer"), Some(&1), "{first:?}");
    assert_eq!(first.get("elbv2.CreateListener"), Some(&2), "{first:?}");
    assert_eq!(first.get("elbv2.CreateTargetGroup"), Some(&2), "{first:?}");
    let observed = gw.observed(id).await.unwrap();
    let lb = &observed.load_balancers[0];
    assert_eq!(lb.lb_type, "network");
    assert_eq!(lb.tags["gateway.k8s.aws.nlb/stack"], "data/db");
    let mut protocols: Vec<(u16, &str)> = lb
        .listeners
        .iter()
        .map(|l| (l.port, l.protocol.as_str()))
        .collect();
    protocols.sort_unstable();
    assert_eq!(protocols, [(53, "UDP"), (5432, "TCP")]);
    let dns = lb.dns_name.trim_end_matches('.').to_owned();
    let want_records = |labels: &[&str]| -> BTreeMap<String, String> {
        labels.iter().map(|l| (gw.host(l), dns.clone())).collect()
    };
    assert_eq!(gw.records().await, want_records(&["ns", "pg"]));
    let (pg, ns) = (gw.host("pg"), gw.host("ns"));
    let d = &stacks[0];
    assert_eq!(
        answer(&observed, d, &format!("tcp://{pg}:5432"), &[]),
        "data-postgres:5432"
    );
    assert_eq!(
        answer(&observed, d, &format!("udp://{ns}:53"), &[]),
        "data-dns:53"
    );
    assert_eq!(
        answer(&observed, d, &format!("tcp://{pg}:5433"), &[]),
        "no listener"
    );

    assert_eq!(gw.apply(&stacks, false).await, BTreeMap::new(), "re-apply");

    // The TCPRoute's backend edited: its listener forwards to a new target group; the UDP
    // listener and its target group are untouched.
    let udp_listener = |o: &ObservedStack| {
        let l = o.load_balancers[0]
            .listeners
            .iter()
            .find(|l| l.protocol == "UDP")
            .unwrap();
        (l.arn.clone(), format!("{:?}", l.default_actions))
    };
    let udp_before = udp_listener(&observed);
    let replica = gw.stacks("replica", &nlb_yaml(&gw, Nlb::Replica));
    let calls = gw.apply(&replica, false).await;
    assert_eq!(calls.get("elbv2.CreateTargetGroup"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("elbv2.ModifyListener"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("elbv2.DeleteTargetGroup"), Some(&1), "{calls:?}");
    assert!(!calls.contains_key("elbv2.CreateListener"), "{calls:?}");
    assert!(
        !calls.contains_key("route53.ChangeResourceRecordSets"),
        "{calls:?}"
    );
    let observed = gw.observed(id).await.unwrap();
    assert_eq!(udp_listener(&observed), udp_before);
    let d = &replica[0];
    assert_eq!(
        answer(&observed, d, &format!("tcp://{pg}:5432"), &[]),
        "data-postgres-replica:5432"
    );
    assert_eq!(gw.apply(&replica, false).await, BTreeMap::new(), "re-apply");

    // The UDPRoute detached: its listener, target group and record leave.
    let no_udp = gw.stacks("no-udp", &nlb_yaml(&gw, Nlb::NoUdp));
    let calls = gw.apply(&no_udp, false).await;
    assert_eq!(calls.get("elbv2.DeleteListener"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("elbv2.DeleteTargetGroup"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("route53.ChangeResourceRecordSets"),
        Some(&1),
        "{calls:?}"
    );
    let observed = gw.observed(id).await.unwrap();
    assert_eq!(observed.load_balancers[0].listeners.len(), 1);
    assert_eq!(observed.target_groups.len(), 1);
    assert_eq!(gw.records().await, want_records(&["pg"]));
    assert_eq!(
        answer(&observed, &no_udp[0], &format!("udp://{ns}:53"), &[]),
        "no listener"
    );

    // The Gateway deleted: the NLB, its target group and its records go.
    let gone = gw.stacks("deleted", &nlb_yaml(&gw, Nlb::Deleted));
    assert!(gone.is_empty());
    let calls = gw.apply(&gone, true).await;
    assert_eq!(calls.get("elbv2.DeleteLoadBalancer"), Some(&1), "{calls:?}");
    assert!(gw.env.observed().await.is_empty());
    assert_eq!(gw.records().await, BTreeMap::new());
    assert_eq!(gw.txt_count().await, 0);
}

// === The binary ===

/// `apply -f examples/gateway` deploys the example's ALB and NLB Gateways (with the seed's
/// Ingress next to them), `show` lists both Gateway stacks, a re-apply changes nothing, and
/// `apply --prune` with the seed alone deletes the Gateway stacks and keeps the Ingress's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_show_and_prune_gateway_stacks_through_the_binary() {
    let c = localstack::clients(REGION).await;
    let vpc = create_vpc(&c, "10.74.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        for (base, role) in [
            (0, "kubernetes.io/role/elb"),
            (10, "kubernetes.io/role/internal-elb"),
        ] {
            create_subnet(
                &c,
                &vpc,
                &format!("10.74.{}.0/24", base + i),
                &format!("{REGION}{az}"),
                &[(role, "1")],
            )
            .await;
        }
    }
    let cluster = unique("cli-gw");
    let gateway = localstack::examples("gateway");
    let seed = localstack::examples("seed");
    let run = |args: &[&str]| {
        let out = operator(REGION, args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let common = [
        "--cluster-name",
        cluster.as_str(),
        "--vpc-id",
        vpc.as_str(),
        "--dns-disabled",
    ];
    let both: Vec<&str> = ["-f", gateway.as_str(), "-f", seed.as_str()]
        .into_iter()
        .chain(common)
        .collect();

    let (code, out, err) = run(&[&["apply", "-o", "json"], &both[..]].concat());
    assert_eq!(code, 0, "{err}\n{out}");
    assert!(
        !err.contains("Gateway API objects are planned by plan and diff only"),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["outcome"] == "done"), "{out}");
    let stacks: std::collections::BTreeSet<&str> =
        changes.iter().filter_map(|c| c["stack"].as_str()).collect();
    for s in [
        "gateway:web/edge",
        "nlb-gateway:data/db-edge",
        "shop/storefront",
    ] {
        assert!(stacks.contains(s), "{s}: {stacks:?}");
    }
    assert_eq!(doc["awsCalls"]["elbv2.CreateLoadBalancer"], 3, "{out}");

    let (code, out, err) = run(&[&["apply"], &both[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Applied: 0 to create, 0 to modify, 0 to delete"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("AWS calls (0 mutating)."), "{out}");

    let (code, out, err) = run(&[
        "show",
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&String> = shown["stacks"].as_object().unwrap().keys().collect();
    assert_eq!(
        ids,
        [
            "gateway:web/edge",
            "nlb-gateway:data/db-edge",
            "shop/storefront"
        ]
    );
    let (code, out, err) = run(&["show", "--cluster-name", &cluster, "--vpc-id", &vpc]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stack gateway:web/edge\n"), "{out}");
    assert!(out.contains("stack nlb-gateway:data/db-edge\n"), "{out}");

    let seed_only: Vec<&str> = ["-f", seed.as_str()].into_iter().chain(common).collect();
    let (code, out, err) = run(&[&["apply", "--prune"], &seed_only[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("stack gateway:web/edge\n  - delete load balancer k8s-web-edge-"),
        "{out}"
    );
    assert!(out.contains("stack nlb-gateway:data/db-edge\n"), "{out}");
    assert!(!out.contains("stack shop/storefront"), "{out}");
    let (code, out, _) = run(&[
        "show",
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&String> = shown["stacks"].as_object().unwrap().keys().collect();
    assert_eq!(ids, ["shop/storefront"]);
}
