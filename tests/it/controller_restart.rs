//! Restart cost and the desired-state hash (issue 19), end to end against LocalStack: a
//! restart lists the region once and reads only targets of stacks whose load balancer carries
//! the hash of their desired state; a rule changed behind the operator's back is not read on
//! the restart but is repaired by the stack's full read within one (short) sync period.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator_core::planner::trust::DESIRED_HASH_TAG;
use aws_sdk_elasticloadbalancingv2::types::{PathPatternConditionConfig, RuleCondition};
use k8s_openapi::api::core::v1::Namespace;

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

const REGION: &str = "ap-southeast-5";
/// The sync period of the test's controllers: the restart's full reads all fall within it.
const SYNC: Duration = Duration::from_secs(20);

fn load(server: &ApiServer, examples: &[&str]) {
    let dirs: Vec<PathBuf> = examples
        .iter()
        .map(|e| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(e)
        })
        .collect();
    let snap = load_snapshot(&dirs).unwrap();
    let mut namespaces: Vec<String> = snap
        .ingresses
        .iter()
        .filter_map(|i| i.metadata.namespace.clone())
        .chain(
            snap.services
                .iter()
                .filter_map(|s| s.metadata.namespace.clone()),
        )
        .collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces {
        server.apply(&Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(ns),
                ..Default::default()
            },
            ..Default::default()
        });
    }
    for c in &snap.ingress_classes {
        server.apply(c);
    }
    for s in &snap.services {
        server.apply(s);
    }
    for e in &snap.endpoint_slices {
        server.apply(e);
    }
    for i in &snap.ingresses {
        server.apply(i);
    }
}

async fn controller(server: &ApiServer, env: &Env, id: &str) -> Running {
    let mut s = settings(env, None);
    s.sync_period = SYNC;
    start(Deps {
        client: server.client(),
        aws: env.clients.clone(),
        settings: s,
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: id.to_owned(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap()
}

/// Load balancer name → its desired-state hash tag, for every owned load balancer.
async fn hashes(env: &Env) -> BTreeMap<String, Option<String>> {
    let observed = observe(
        &env.clients,
        &env.cluster,
        &env.vpc,
        &Default::default(),
        true,
    )
    .await
    .unwrap();
    observed
        .stacks
        .values()
        .flat_map(|s| &s.load_balancers)
        .map(|lb| (lb.name.clone(), lb.tags.get(DESIRED_HASH_TAG).cloned()))
        .collect()
}

/// ARN and path patterns of the ALB's rule at `priority` on its only listener.
async fn rule(env: &Env, lb_name: &str, priority: &str) -> (String, Vec<String>) {
    let elbv2 = &env.clients.elbv2;
    let lbs = elbv2
        .describe_load_balancers()
        .names(lb_name)
        .send()
        .await
        .unwrap();
    let lb_arn = lbs.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let listeners = elbv2
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .unwrap();
    let listener = listeners.listeners()[0].listener_arn().unwrap().to_owned();
    let rules = elbv2
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap();
    let r = rules
        .rules()
        .iter()
        .find(|r| r.priority() == Some(priority))
        .unwrap_or_else(|| panic!("no rule at priority {priority}"));
    let paths = r
        .conditions()
        .iter()
        .filter(|c| c.field() == Some("path-pattern"))
        .flat_map(|c| {
            c.path_pattern_config()
                .map(|p| p.values().to_vec())
                .unwrap_or_else(|| c.values().to_vec())
        })
        .collect();
    (r.rule_arn().unwrap().to_owned(), paths)
}

#[tokio::test]
async fn a_restart_reads_only_targets_and_the_spread_full_read_repairs_a_rule_changed_behind_our_back(
) {
    aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
    let clients = localstack::account_clients(REGION, 5620).await;
    let env = env_with(clients, REGION, "restart-drift", 87).await;
    // ingress-proxy's private NLB is internal: subnets of its own role, created with their tags
    // (tagging the env's subnets afterwards would be a CreateTags the IAM policy evaluation
    // takes for the operator's, on a resource without our cluster tag).
    let own = format!("kubernetes.io/cluster/{}", env.cluster);
    for (i, az) in ["a", "b"].iter().enumerate() {
        localstack::create_subnet(
            &env.clients,
            &env.vpc,
            &format!("10.87.{}.0/24", 10 + i),
            &format!("{REGION}{az}"),
            &[
                ("kubernetes.io/role/internal-elb", "1"),
                (own.as_str(), "shared"),
            ],
        )
        .await;
    }
    let server = ApiServer::start().await;
    // One ALB stack with rules (seed) and two NLB Services (ingress-proxy).
    load(&server, &["seed", "ingress-proxy"]);

    let first = controller(&server, &env, "restart-a").await;
    eventually(
        120,
        "every load balancer created with its desired-state hash",
        || async {
            let h = hashes(&env).await;
            h.len() == 3 && h.values().all(Option::is_some)
        },
    )
    .await;
    first.shutdown().await;
    let alb = hashes(&env)
        .await
        .into_keys()
        .find(|n| n.starts_with("k8s-shop"))
        .expect("the seed ALB");

    // Behind the operator's back: the rule at priority 1 now matches another path.
    let (rule_arn, desired_paths) = rule(&env, &alb, "1").await;
    env.clients
        .elbv2
        .modify_rule()
        .rule_arn(&rule_arn)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .values("/tampered")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let target_groups = observe(
        &env.clients,
        &env.cluster,
        &env.vpc,
        &Default::default(),
        true,
    )
    .await
    .unwrap()
    .stacks
    .values()
    .map(|s| s.target_groups.len() as u64)
    .sum::<u64>();
    assert_eq!(target_groups, 8, "seed: 4, ingress-proxy: 2 + 2");

    env.clients.calls.reset();
    let second = controller(&server, &env, "restart-b").await;
    let metrics = second.metrics.clone();
    eventually(60, "every stack reconciled after the restart", || async {
        metrics.counter("aws_lb_operator_reconcile_total", &[("result", "success")]) >= 3
    })
    .await;
    let restart_calls = env.clients.calls.by_operation();
    // The restart wrote nothing, listed the region once, and read targets, not listeners or
    // rules: the tampered rule is still there.
    assert_eq!(
        env.clients.calls.mutating_calls(),
        0,
        "{:?}",
        env.clients.calls.mutating_by_operation()
    );
    for skipped in [
        "elbv2.DescribeListeners",
        "elbv2.DescribeRules",
        "elbv2.DescribeListenerCertificates",
        "elbv2.DescribeLoadBalancerAttributes",
        "elbv2.DescribeTargetGroupAttributes",
    ] {
        assert!(
            !restart_calls.contains_key(skipped),
            "{skipped} on a restart: {restart_calls:?}"
        );
    }
    assert_eq!(
        restart_calls.get("elbv2.DescribeLoadBalancers"),
        Some(&1),
        "{restart_calls:?}"
    );
    assert_eq!(
        restart_calls.get("elbv2.DescribeTargetGroups"),
        Some(&1),
        "{restart_calls:?}"
    );
    // One DescribeTargetHealth per target group.
    assert_eq!(
        restart_calls.get("elbv2.DescribeTargetHealth"),
        Some(&target_groups),
        "{restart_calls:?}"
    );
    let (_, paths) = rule(&env, &alb, "1").await;
    assert_eq!(paths, ["/tampered"]);

    // Within one sync period, the stack's full read sees the rule and puts it back.
    eventually(
        SYNC.as_secs() + 30,
        "the tampered rule repaired",
        || async { rule(&env, &alb, "1").await.1 == desired_paths },
    )
    .await;
    let repaired = env.clients.calls.mutating_by_operation();
    assert_eq!(repaired.get("elbv2.ModifyRule"), Some(&1), "{repaired:?}");
    second.shutdown().await;
}
