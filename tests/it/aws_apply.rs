//! `apply` end to end on LocalStack: the examples converge, a re-apply makes no mutating call,
//! small edits make only the matching calls, drift is repaired, foreign resources survive,
//! prune leaves nothing, and interrupted applies converge without duplicates.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aws_lb_operator::aws::execute::{execute, ExecuteOptions, Outcome};
use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::pass::{apply, prepare, PassOptions, PreparedPass};
use aws_lb_operator_core::model::{ConditionSpec, Stack, TargetSpec};
use aws_lb_operator_core::planner::ObservedStack;
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::localstack::{
    self, create_alb, create_node_sg, create_subnet, create_target_group, create_vpc,
};

pub(crate) struct Env {
    pub(crate) clients: AwsClients,
    pub(crate) cluster: String,
    pub(crate) vpc: String,
    pub(crate) subnets: Vec<String>,
    pub(crate) node_sg: String,
}

/// A VPC with two load-balancer subnets and a node security group, for one cluster.
pub(crate) async fn env(region: &str, cluster: &str, cidr16: u8) -> Env {
    env_with(localstack::clients(region).await, region, cluster, cidr16).await
}

/// [`env`] with the given clients (e.g. an account of the test's own).
pub(crate) async fn env_with(clients: AwsClients, region: &str, cluster: &str, cidr16: u8) -> Env {
    let cluster = localstack::unique(cluster);
    let vpc = create_vpc(&clients, &format!("10.{cidr16}.0.0/16")).await;
    let own = format!("kubernetes.io/cluster/{cluster}");
    let mut subnets = Vec::new();
    for (i, az) in ["a", "b"].iter().enumerate() {
        subnets.push(
            create_subnet(
                &clients,
                &vpc,
                &format!("10.{cidr16}.{i}.0/24"),
                &format!("{region}{az}"),
                &[("kubernetes.io/role/elb", "1"), (own.as_str(), "shared")],
            )
            .await,
        );
    }
    let node_sg = create_node_sg(&clients, &vpc, &format!("{cluster}-nodes"), &cluster).await;
    Env {
        clients,
        cluster,
        vpc,
        subnets,
        node_sg,
    }
}

pub(crate) fn example(name: &str, cluster: &str) -> Vec<Stack> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let snapshot = load_snapshot(&[dir]).unwrap();
    build(&snapshot, &BuildConfig::new(cluster)).stacks
}

impl Env {
    pub(crate) fn opts(&self, prune: bool) -> PassOptions {
        PassOptions {
            cluster: self.cluster.clone(),
            vpc_id: Some(self.vpc.clone()),
            prune,
            dns: None,
            delete: Default::default(),
            hostname_owners: Default::default(),
            external_managed_tags: Vec::new(),
            unrestricted_sg_rules: false,
        }
    }

    pub(crate) async fn prepare(&self, stacks: &[Stack], prune: bool) -> PreparedPass {
        prepare(&self.clients, &self.opts(prune), stacks)
            .await
            .unwrap()
    }

    /// One full pass; every change must succeed. Returns the mutating calls it made.
    pub(crate) async fn apply(&self, stacks: &[Stack], prune: bool) -> BTreeMap<String, u64> {
        self.clients.calls.reset();
        let prepared = self.prepare(stacks, prune).await;
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
        mutating(&self.clients)
    }

    pub(crate) async fn observed(&self) -> BTreeMap<String, ObservedStack> {
        observe(
            &self.clients,
            &self.cluster,
            &self.vpc,
            &BTreeSet::new(),
            true,
        )
        .await
        .unwrap()
        .stacks
    }
}

fn mutating(c: &AwsClients) -> BTreeMap<String, u64> {
    c.calls.mutating_by_operation()
}

fn ops(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The observed stack matches the desired one: listeners, rule priorities and conditions,
/// target groups and their targets.
fn assert_matches(desired: &Stack, observed: &ObservedStack) {
    assert_eq!(
        observed.load_balancers.len(),
        1,
        "exactly one load balancer"
    );
    let lb = &observed.load_balancers[0];
    assert_eq!(lb.name, desired.load_balancer.name);
    assert_eq!(lb.scheme, desired.load_balancer.scheme.as_str());
    let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port).collect();
    let want: Vec<u16> = desired.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, want);
    for (l, o) in desired.listeners.iter().zip(&lb.listeners) {
        let got: Vec<(u32, Vec<ConditionSpec>)> = o
            .rules
            .iter()
            .map(|r| (r.priority, sorted(&r.conditions)))
            .collect();
        let want: Vec<(u32, Vec<ConditionSpec>)> = l
            .rules
            .iter()
            .map(|r| (r.priority, sorted(&r.conditions)))
            .collect();
        assert_eq!(got, want, "rules of listener {}", l.port);
    }
    let mut names: Vec<&str> = observed
        .target_groups
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    names.sort_unstable();
    let mut want: Vec<&str> = desired
        .target_groups
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    want.sort_unstable();
    assert_eq!(names, want, "target groups, no duplicates");
    for tg in &desired.target_groups {
        let o = observed
            .target_groups
            .iter()
            .find(|o| o.name == tg.name)
            .unwrap();
        assert_eq!(o.targets, tg.targets, "targets of {}", tg.name);
    }
}

fn sorted(c: &[ConditionSpec]) -> Vec<ConditionSpec> {
    let mut c = c.to_vec();
    c.sort();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_converge_and_a_reapply_makes_no_mutating_call() {
    let env = env("eu-north-1", "apply", 41).await;
    let stacks = example("seed", &env.cluster);
    let first = env.apply(&stacks, false).await;
    assert_eq!(first.get("elbv2.CreateLoadBalancer"), Some(&1));
    assert_eq!(
        first.get("ec2.CreateSecurityGroup"),
        Some(&2),
        "frontend and backend"
    );
    let observed = env.observed().await;
    let stack = &observed[&stacks[0].id.to_string()];
    assert_matches(&stacks[0], stack);
    assert_eq!(stack.security_groups.len(), 1);
    assert_eq!(stack.load_balancers[0].security_groups.len(), 2);
    assert_eq!(stack.load_balancers[0].subnets.len(), 2);

    // The node security group lets the backend group in on the target ports.
    let nodes = env
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(&env.node_sg)
        .send()
        .await
        .unwrap();
    let perms = nodes.security_groups()[0].ip_permissions();
    let mut target_ports: Vec<i32> = perms.iter().filter_map(|p| p.from_port()).collect();
    target_ports.sort_unstable();
    let mut want: Vec<i32> = stacks[0]
        .target_groups
        .iter()
        .flat_map(|t| t.targets.iter().map(|x| i32::from(x.port)))
        .collect();
    want.sort_unstable();
    want.dedup();
    assert_eq!(target_ports, want);

    let again = env.apply(&stacks, false).await;
    assert_eq!(again, BTreeMap::new(), "re-apply must not write");
    let plan = env.prepare(&stacks, false).await.plan;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_path_one_health_check_one_endpoint_make_only_their_calls() {
    let env = env("eu-west-3", "edits", 42).await;
    let mut stacks = example("seed", &env.cluster);
    env.apply(&stacks, false).await;

    // One path.
    for c in &mut stacks[0].listeners[0].rules[0].conditions {
        if let ConditionSpec::PathPattern { values } = c {
            values[0] = "/api/health".into();
        }
    }
    assert_eq!(
        env.apply(&stacks, false).await,
        ops(&[("elbv2.ModifyRule", 1)])
    );

    // One health check.
    stacks[0].target_groups[0].health_check.interval_seconds = 30;
    assert_eq!(
        env.apply(&stacks, false).await,
        ops(&[("elbv2.ModifyTargetGroup", 1)])
    );

    // One endpoint replaced by another.
    let tg = &mut stacks[0].target_groups[1];
    let port = tg.targets[0].port;
    tg.targets[0] = TargetSpec {
        id: "10.42.9.9".into(),
        port,
    };
    tg.targets.sort();
    assert_eq!(
        env.apply(&stacks, false).await,
        ops(&[("elbv2.DeregisterTargets", 1), ("elbv2.RegisterTargets", 1)])
    );
    assert_matches(&stacks[0], &env.observed().await[&stacks[0].id.to_string()]);
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_exactly() {
    let env = env("ap-southeast-1", "drift", 43).await;
    let stacks = example("seed", &env.cluster);
    env.apply(&stacks, false).await;
    let observed = env.observed().await;
    let stack = &observed[&stacks[0].id.to_string()];
    let rule = &stack.load_balancers[0].listeners[0].rules[1];
    let tg = &stack.target_groups[0];
    let c = &env.clients.elbv2;
    c.delete_rule().rule_arn(&rule.arn).send().await.unwrap();
    c.modify_target_group()
        .target_group_arn(&tg.arn)
        .health_check_path("/changed-by-hand")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tg.attributes
            .get("deregistration_delay.timeout_seconds")
            .map(String::as_str),
        Some("30"),
        "{} sets this attribute in examples/seed",
        tg.name
    );
    c.modify_target_group_attributes()
        .target_group_arn(&tg.arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("300")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let t = &tg.targets[0];
    c.deregister_targets()
        .target_group_arn(&tg.arn)
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id(&t.id)
                .port(i32::from(t.port))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let repaired = env.apply(&stacks, false).await;
    assert_eq!(
        repaired,
        ops(&[
            ("elbv2.CreateRule", 1),
            ("elbv2.ModifyTargetGroup", 1),
            ("elbv2.ModifyTargetGroupAttributes", 1),
            ("elbv2.RegisterTargets", 1)
        ])
    );
    assert_matches(&stacks[0], &env.observed().await[&stacks[0].id.to_string()]);
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_resources_survive_apply_prune_and_delete() {
    let env = env("ap-southeast-2", "foreign", 44).await;
    let stacks = example("seed", &env.cluster);
    // An untagged ALB, another cluster's target group, both in our VPC.
    let untagged = create_alb(
        &env.clients,
        &localstack::unique("untagged"),
        &env.subnets,
        &[],
    )
    .await;
    let others = create_target_group(
        &env.clients,
        &localstack::unique("other-tg"),
        &env.vpc,
        &[
            ("elbv2.k8s.aws/cluster", "someone-else"),
            ("ingress.k8s.aws/stack", "shop/storefront"),
        ],
    )
    .await;

    env.apply(&stacks, false).await;
    env.apply(&[], true).await; // prune: deletes our stack
    assert!(
        env.observed().await.is_empty(),
        "everything we owned is gone"
    );

    let lbs = env
        .clients
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&untagged)
        .send()
        .await
        .unwrap();
    assert_eq!(lbs.load_balancers().len(), 1, "untagged ALB survives");
    let tgs = env
        .clients
        .elbv2
        .describe_target_groups()
        .target_group_arns(&others)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tgs.target_groups().len(),
        1,
        "another cluster's target group survives"
    );

    // A name collision with a foreign load balancer is an error naming it; nothing is created.
    let colliding = create_alb(
        &env.clients,
        &stacks[0].load_balancer.name,
        &env.subnets,
        &[],
    )
    .await;
    env.clients.calls.reset();
    let prepared = env.prepare(&stacks, false).await;
    assert_eq!(prepared.plan.errors.len(), 1);
    assert!(
        prepared.plan.errors[0].message.starts_with(&format!(
            "load balancer name {} is already used by {colliding}, which this cluster does not own",
            stacks[0].load_balancer.name
        )),
        "{}",
        prepared.plan.errors[0].message
    );
    assert!(prepared.plan.changes.iter().all(|c| c.stack.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_everything_the_stack_owned_in_order() {
    let env = env("ap-northeast-2", "prune", 45).await;
    let mut stacks = example("seed", &env.cluster);
    stacks.extend(example("grouped", &env.cluster));
    env.apply(&stacks, false).await;
    assert_eq!(env.observed().await.len(), stacks.len());

    let keep = vec![stacks[0].clone()];
    let prepared = env.prepare(&keep, true).await;
    let deleted: BTreeSet<&str> = prepared
        .plan
        .changes
        .iter()
        .map(|c| c.stack.as_str())
        .collect();
    assert!(
        !deleted.contains(stacks[0].id.to_string().as_str()),
        "kept stack untouched"
    );
    // A prepared pass claims its part of the cluster scope (the backend group, its ports) for
    // the other passes of the process until it is dropped.
    drop(prepared);
    env.apply(&keep, true).await;
    let left = env.observed().await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        vec![&stacks[0].id.to_string()]
    );

    // Nothing of the pruned stacks remains: no security group, rule or target group.
    let sgs = env
        .clients
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&env.vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let owned: Vec<&str> = sgs
        .security_groups()
        .iter()
        .filter(|g| {
            g.tags()
                .iter()
                .any(|t| t.key() == Some("elbv2.k8s.aws/cluster"))
        })
        .filter_map(|g| g.group_name())
        .collect();
    assert_eq!(
        owned.len(),
        2,
        "the kept stack's frontend and the backend group: {owned:?}"
    );

    env.apply(&[], true).await;
    assert!(env.observed().await.is_empty());
    let sgs = env
        .clients
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&env.vpc)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:elbv2.k8s.aws/cluster")
                .values(&env.cluster)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        sgs.security_groups().is_empty(),
        "backend group removed with the last stack"
    );
    let nodes = env
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(&env.node_sg)
        .send()
        .await
        .unwrap();
    assert!(
        nodes.security_groups()[0].ip_permissions().is_empty(),
        "target rules revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_applies_converge_without_duplicates() {
    let region = "us-east-2";
    for (i, n) in [1usize, 2, 4, 7, 12, 18].into_iter().enumerate() {
        let env = env(region, &format!("cut{n}"), 50 + i as u8).await;
        let stacks = example("seed", &env.cluster);
        let prepared = env.prepare(&stacks, false).await;
        let total = prepared.plan.changes.len();
        assert!(n < total, "cut {n} within {total} changes");
        // The process dies after n calls: only the first n changes happened.
        let report = execute(
            &env.clients,
            &prepared.plan.changes[..n],
            &ExecuteOptions::default(),
        )
        .await;
        assert!(report.outcomes.iter().all(|o| matches!(o, Outcome::Done)));

        env.apply(&stacks, false).await;
        let observed = env.observed().await;
        assert_eq!(observed.len(), 1, "cut after {n}");
        assert_matches(&stacks[0], &observed[&stacks[0].id.to_string()]);
        assert_eq!(
            observed[&stacks[0].id.to_string()].security_groups.len(),
            1,
            "cut after {n}"
        );
        assert_eq!(
            env.apply(&stacks, false).await,
            BTreeMap::new(),
            "cut after {n}"
        );
    }
}

/// `--disable-restricted-sg-rules` (LBC's flag): the node security group lets the backend
/// group in with one all-traffic permission; switching to it revokes the per-port ones, and
/// a second pass makes no call (what EC2 reports back for protocol -1 compares equal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrestricted_sg_rules_allow_all_traffic_and_converge() {
    let env = env("eu-west-1", "unrestricted", 47).await;
    let stacks = example("seed", &env.cluster);
    env.apply(&stacks, false).await;
    let unrestricted = PassOptions {
        unrestricted_sg_rules: true,
        ..env.opts(false)
    };
    let pass = |opts: PassOptions| {
        let env = &env;
        let stacks = &stacks;
        async move {
            env.clients.calls.reset();
            let prepared = prepare(&env.clients, &opts, stacks).await.unwrap();
            let report = apply(&env.clients, &prepared, &ExecuteOptions::default()).await;
            assert!(report.is_success(), "{:?}", report.elb.outcomes);
            (prepared.plan.changes, mutating(&env.clients))
        }
    };
    let (changes, calls) = pass(unrestricted.clone()).await;
    assert_eq!(
        calls.get("ec2.AuthorizeSecurityGroupIngress"),
        Some(&1),
        "{changes:#?}"
    );
    assert_eq!(calls.get("ec2.RevokeSecurityGroupIngress"), Some(&1));
    let nodes = env
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(&env.node_sg)
        .send()
        .await
        .unwrap();
    let perms: Vec<(String, Option<i32>)> = nodes.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.ip_protocol().unwrap_or_default().to_owned(),
                p.from_port(),
            )
        })
        .collect();
    assert_eq!(perms.len(), 1, "{perms:?}");
    assert_eq!(perms[0].0, "-1");
    let (changes, calls) = pass(unrestricted).await;
    assert!(changes.is_empty(), "{changes:#?}");
    assert_eq!(calls, BTreeMap::new());
}

/// The grouped example's HTTPS listener lists its default certificate among its certificates
/// too, as LBC keeps it (AddListenerCertificates with every certificate); read back that way, a
/// re-apply plans nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listeners_list_the_default_certificate_like_lbc_and_converge() {
    let env = env("eu-south-1", "certs", 48).await;
    let stacks = example("grouped", &env.cluster);
    let first = env.apply(&stacks, false).await;
    let https: Vec<_> = stacks
        .iter()
        .flat_map(|s| s.listeners.iter())
        .filter(|l| l.protocol.is_secure())
        .collect();
    assert!(!https.is_empty());
    assert_eq!(
        first.get("elbv2.AddListenerCertificates"),
        Some(&(https.len() as u64))
    );
    let observed = env.observed().await;
    let listeners: Vec<_> = observed
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .filter(|l| !l.certificates.is_empty())
        .collect();
    assert_eq!(listeners.len(), https.len());
    for l in listeners {
        assert!(
            l.default_also_listed,
            "listener {}: {:?}",
            l.port, l.certificates
        );
    }
    assert_eq!(env.apply(&stacks, false).await, BTreeMap::new());
}

/// An ALB whose rules are in LBC's order (as LBC made it) is adopted without a change under
/// `--rule-order=lbc`; under the spec order, the plan is one reorder whose reason says which rule
/// moves where, and nothing is recreated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_order_lbc_adopts_an_lbc_ordered_alb_and_spec_shows_the_reorder() {
    use aws_lb_operator_core::translate::rule::RuleOrdering;
    let env = env("eu-west-2", "order", 49).await;
    // Two members of one group: LBC puts the catch-all of `a` first (member order), the spec
    // order puts `b`'s exact host first.
    let dir = std::env::temp_dir().join(format!("aws-lb-order-{}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ingress = |name: &str, rule: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/group.name: order
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
spec:
  ingressClassName: alb
  rules:
  - {rule}
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
---
"
        )
    };
    let yaml = format!(
        "apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: alb}}
spec: {{controller: ingress.k8s.aws/alb}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [10.49.1.10], conditions: {{ready: true}}}}]
---
{}{}",
        ingress("a", "host: \"\""),
        ingress("b", "host: shop.example.com")
    );
    std::fs::write(dir.join("order.yaml"), yaml).unwrap();
    let built = |ordering: RuleOrdering| {
        let dir = dir.clone();
        let snapshot = load_snapshot(&[dir]).unwrap();
        let mut config = BuildConfig::new(&env.cluster);
        config.rule_order = ordering;
        let out = build(&snapshot, &config);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.stacks
    };
    let lbc = built(RuleOrdering::Lbc);
    let spec = built(RuleOrdering::Spec);
    let orders = |stacks: &[Stack]| -> Vec<Vec<String>> {
        stacks
            .iter()
            .flat_map(|s| s.listeners.iter())
            .map(|l| {
                l.rules
                    .iter()
                    .map(|r| format!("{:?}", r.conditions))
                    .collect()
            })
            .collect()
    };
    assert_ne!(
        orders(&lbc),
        orders(&spec),
        "the example orders differently"
    );
    env.apply(&lbc, false).await;
    let plan = env.prepare(&lbc, false).await.plan;
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    let plan = env.prepare(&spec, false).await.plan;
    let ops: BTreeSet<&str> = plan.changes.iter().map(|c| c.operation()).collect();
    assert!(
        ops.iter()
            .all(|o| ["elbv2.SetRulePriorities", "elbv2.AddTags"].contains(o)),
        "only moves (and the rules' port:priority tags): {ops:?}"
    );
    let reorders: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .filter(|r| r.starts_with("reorder: "))
        .collect();
    assert_eq!(
        reorders,
        ["reorder: 2 -> 1 (host shop.example.com path /*), 1 -> 2 (path /*)"],
        "{:#?}",
        plan.changes
    );
}
