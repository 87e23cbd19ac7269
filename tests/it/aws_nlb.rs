//! LoadBalancer Services → NLB on LocalStack, through the same observe → plan → execute pass
//! as ALBs: create, unchanged re-apply, a port added and removed, endpoints changed, target
//! type changed (target group replaced), scheme changed (load balancer replaced), delete.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use aws_lb_operator::aws::execute::{ExecuteOptions, Outcome};
use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::pass::{apply, prepare, PassOptions};
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::planner::ObservedStack;
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::localstack::{self, create_subnet, create_vpc};

const REGION: &str = "ap-east-1";

/// One Service `edge/proxy` with the given TCP ports, target type and scheme, three pods (one
/// not ready), and two nodes.
#[derive(Clone)]
struct Svc {
    ports: Vec<u16>,
    target_type: &'static str,
    scheme: &'static str,
    pods: Vec<&'static str>,
}

impl Svc {
    fn yaml(&self) -> String {
        let mut y = format!(
            "apiVersion: v1
kind: Service
metadata:
  name: proxy
  namespace: edge
  uid: 3c0ffee0-0000-4000-8000-000000000001
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: {}
{}    service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: '*'
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports:
",
            self.target_type,
            if self.scheme.is_empty() {
                String::new()
            } else {
                format!(
                    "    service.beta.kubernetes.io/aws-load-balancer-scheme: {}\n",
                    self.scheme
                )
            }
        );
        for (i, p) in self.ports.iter().enumerate() {
            let _ = writeln!(
                y,
                "    - {{name: p{p}, port: {p}, targetPort: {}, nodePort: {}, protocol: TCP}}",
                u32::from(*p) + 8000,
                30000 + i
            );
        }
        y.push_str(
            "---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: proxy-1
  namespace: edge
  labels: {kubernetes.io/service-name: proxy}
addressType: IPv4
ports:
",
        );
        for p in &self.ports {
            let _ = writeln!(
                y,
                "  - {{name: p{p}, port: {}, protocol: TCP}}",
                u32::from(*p) + 8000
            );
        }
        y.push_str("endpoints:\n");
        for ip in &self.pods {
            let _ = writeln!(
                y,
                "  - {{addresses: [\"{ip}\"], conditions: {{ready: true}}}}"
            );
        }
        y.push_str("  - {addresses: [\"10.60.9.9\"], conditions: {ready: false}}\n");
        for (i, id) in ["i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"]
            .iter()
            .enumerate()
        {
            let _ = write!(
                y,
                "---
apiVersion: v1
kind: Node
metadata: {{name: node-{i}}}
spec: {{providerID: 'aws:///{REGION}a/{id}'}}
status: {{conditions: [{{type: Ready, status: 'True'}}]}}
"
            );
        }
        y
    }

    fn stacks(&self, cluster: &str, tag: &str) -> Vec<Stack> {
        let dir = std::env::temp_dir().join(format!("aws-lb-nlb-{}-{tag}", localstack::run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("svc.yaml"), self.yaml()).unwrap();
        let built = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        assert_eq!(built.stacks.len(), 1, "one NLB stack");
        built.stacks
    }
}

struct Env {
    clients: AwsClients,
    opts: PassOptions,
}

impl Env {
    async fn apply(&self, stacks: &[Stack], prune: bool) -> BTreeMap<String, u64> {
        self.clients.calls.reset();
        let opts = PassOptions {
            prune,
            ..self.opts.clone()
        };
        let prepared = prepare(&self.clients, &opts, stacks).await.unwrap();
        assert!(
            prepared.plan.errors.is_empty(),
            "{:?}",
            prepared.plan.errors
        );
        let report = apply(&self.clients, &prepared, &ExecuteOptions::default()).await;
        for (c, o) in prepared.plan.changes.iter().zip(&report.elb.outcomes) {
            assert!(
                matches!(o, Outcome::Done),
                "{} {}: {o:?}",
                c.operation(),
                c.resource
            );
        }
        self.clients.calls.mutating_by_operation()
    }

    async fn observed(&self) -> BTreeMap<String, ObservedStack> {
        let vpc = self.opts.vpc_id.clone().unwrap();
        observe(
            &self.clients,
            &self.opts.cluster,
            &vpc,
            &BTreeSet::new(),
            true,
        )
        .await
        .unwrap()
        .stacks
    }
}

fn ops(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn assert_matches(desired: &Stack, o: &ObservedStack) {
    assert_eq!(o.load_balancers.len(), 1);
    let lb = &o.load_balancers[0];
    assert_eq!(lb.lb_type, "network");
    assert_eq!(lb.name, desired.load_balancer.name);
    assert_eq!(lb.scheme, desired.load_balancer.scheme.as_str());
    let ports: Vec<(u16, &str)> = lb
        .listeners
        .iter()
        .map(|l| (l.port, l.protocol.as_str()))
        .collect();
    let want: Vec<(u16, &str)> = desired
        .listeners
        .iter()
        .map(|l| (l.port, l.protocol.as_str()))
        .collect();
    assert_eq!(ports, want);
    let mut names: Vec<&str> = o.target_groups.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = desired
        .target_groups
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    want.sort_unstable();
    assert_eq!(names, want);
    for tg in &desired.target_groups {
        let got = o.target_groups.iter().find(|t| t.name == tg.name).unwrap();
        assert_eq!(got.protocol, tg.protocol.as_str());
        assert_eq!(got.target_type, tg.target_type.as_str());
        assert_eq!(got.targets, tg.targets, "targets of {}", tg.name);
        assert_eq!(got.health_check.protocol, tg.health_check.protocol);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_nlb_lifecycle_on_localstack() {
    let clients = localstack::clients(REGION).await;
    let cluster = localstack::unique("nlb");
    let vpc = create_vpc(&clients, "10.60.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &clients,
            &vpc,
            &format!("10.60.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[
                ("kubernetes.io/role/elb", "1"),
                ("kubernetes.io/role/internal-elb", "1"),
            ],
        )
        .await;
    }
    let env = Env {
        clients,
        opts: PassOptions {
            cluster: cluster.clone(),
            vpc_id: Some(vpc),
            prune: false,
            dns: None,
            delete: Default::default(),
            hostname_owners: Default::default(),
            external_managed_tags: Vec::new(),
            unrestricted_sg_rules: false,
        },
    };
    let mut svc = Svc {
        ports: vec![80, 443],
        target_type: "ip",
        scheme: "internet-facing",
        pods: vec!["10.60.1.10", "10.60.1.11"],
    };

    // Create.
    let stacks = svc.stacks(&cluster, "create");
    let created = env.apply(&stacks, false).await;
    assert_eq!(created.get("elbv2.CreateLoadBalancer"), Some(&1));
    assert_eq!(created.get("elbv2.CreateListener"), Some(&2));
    assert_eq!(created.get("elbv2.CreateTargetGroup"), Some(&2));
    let key = stacks[0].id.to_string();
    let observed = env.observed().await;
    assert_matches(&stacks[0], &observed[&key]);
    for tg in &observed[&key].target_groups {
        assert_eq!(tg.tags["service.k8s.aws/stack"], "edge/proxy");
    }
    assert_eq!(
        observed[&key].load_balancers[0].tags["service.k8s.aws/resource"],
        "LoadBalancer"
    );

    // Unchanged.
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());

    // Endpoints change: only targets.
    svc.pods = vec!["10.60.1.10", "10.60.1.12"];
    let stacks = svc.stacks(&cluster, "endpoints");
    assert_eq!(
        env.apply(&stacks, false).await,
        ops(&[("elbv2.DeregisterTargets", 2), ("elbv2.RegisterTargets", 2)])
    );

    // A port added, then removed.
    svc.ports = vec![80, 443, 8443];
    let stacks = svc.stacks(&cluster, "port-added");
    let added = env.apply(&stacks, false).await;
    assert_eq!(added.get("elbv2.CreateListener"), Some(&1));
    assert_eq!(added.get("elbv2.CreateTargetGroup"), Some(&1));
    assert_eq!(added.get("elbv2.DeleteListener"), None);
    assert_matches(&stacks[0], &env.observed().await[&key]);
    svc.ports = vec![80, 443];
    let stacks = svc.stacks(&cluster, "port-removed");
    let removed = env.apply(&stacks, false).await;
    assert_eq!(removed.get("elbv2.DeleteListener"), Some(&1));
    assert_eq!(removed.get("elbv2.DeleteTargetGroup"), Some(&1));
    assert_eq!(removed.get("elbv2.CreateListener"), None);
    assert_matches(&stacks[0], &env.observed().await[&key]);

    // Target type change: the target groups are replaced, the listeners repointed.
    svc.target_type = "instance";
    let stacks = svc.stacks(&cluster, "instance");
    let replaced = env.apply(&stacks, false).await;
    assert_eq!(replaced.get("elbv2.CreateTargetGroup"), Some(&2));
    assert_eq!(replaced.get("elbv2.DeleteTargetGroup"), Some(&2));
    assert_eq!(replaced.get("elbv2.ModifyListener"), Some(&2));
    assert_eq!(replaced.get("elbv2.CreateLoadBalancer"), None);
    assert_matches(&stacks[0], &env.observed().await[&key]);
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());

    // The scheme annotation removed: as LBC, the existing NLB keeps its scheme (and its name)
    // instead of being replaced by one of the default scheme.
    svc.scheme = "";
    let stacks = svc.stacks(&cluster, "no-scheme");
    assert_eq!(
        stacks[0].load_balancer.scheme.as_str(),
        "internal",
        "what a new NLB would get"
    );
    let prepared = prepare(&env.clients, &env.opts, &stacks).await.unwrap();
    assert!(
        prepared.plan.changes.is_empty(),
        "{:#?}",
        prepared.plan.changes
    );
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());
    let lb = &env.observed().await[&key].load_balancers[0];
    assert_eq!(lb.scheme, "internet-facing");

    // Scheme change: the load balancer is replaced.
    svc.scheme = "internal";
    let stacks = svc.stacks(&cluster, "internal");
    let moved = env.apply(&stacks, false).await;
    assert_eq!(moved.get("elbv2.DeleteLoadBalancer"), Some(&1));
    assert_eq!(moved.get("elbv2.CreateLoadBalancer"), Some(&1));
    assert_matches(&stacks[0], &env.observed().await[&key]);
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());

    // Delete: nothing left.
    env.apply(&[], true).await;
    assert!(env.observed().await.is_empty());
}

/// The two-tier ingress-proxy example: two NLBs, one internet-facing and one internal, proxy
/// protocol v2 on every target group, read back as planned; a re-apply writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_proxy_example_applies_and_reads_back() {
    let region = "il-central-1";
    let clients = localstack::clients(region).await;
    let cluster = localstack::unique("proxy");
    let vpc = create_vpc(&clients, "10.61.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &clients,
            &vpc,
            &format!("10.61.{i}.0/24"),
            &format!("{region}{az}"),
            &[
                ("kubernetes.io/role/elb", "1"),
                ("kubernetes.io/role/internal-elb", "1"),
            ],
        )
        .await;
    }
    let env = Env {
        clients,
        opts: PassOptions {
            cluster: cluster.clone(),
            vpc_id: Some(vpc),
            prune: false,
            dns: None,
            delete: Default::default(),
            hostname_owners: Default::default(),
            external_managed_tags: Vec::new(),
            unrestricted_sg_rules: false,
        },
    };
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/ingress-proxy");
    let built = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(&cluster));
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let stacks = built.stacks;
    assert_eq!(stacks.len(), 2);
    env.apply(&stacks, false).await;
    let observed = env.observed().await;
    let mut schemes = Vec::new();
    for stack in &stacks {
        let o = &observed[&stack.id.to_string()];
        assert_matches(stack, o);
        schemes.push(o.load_balancers[0].scheme.clone());
        for tg in &o.target_groups {
            assert_eq!(
                tg.attributes
                    .get("proxy_protocol_v2.enabled")
                    .map(String::as_str),
                Some("true"),
                "{}",
                tg.name
            );
        }
    }
    schemes.sort();
    assert_eq!(schemes, vec!["internal", "internet-facing"]);
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());
}
