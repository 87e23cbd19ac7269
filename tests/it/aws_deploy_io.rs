//! The AWS half of deploy against LocalStack: hand-built change lists go through `execute`,
//! `observe` reads them back in the core's observed types, and `resolve` explains what it
//! cannot find. No planner involved.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lb_operator::aws::execute::{execute, ExecuteOptions, ExecuteReport, Outcome};
use aws_lb_operator::aws::observe::{observe, Observation};
use aws_lb_operator::aws::resolve::{resolve_vpc, stack_facts, SubnetCache};
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::model::tags::{CLUSTER, INGRESS_RESOURCE, INGRESS_STACK};
use aws_lb_operator_core::model::{
    ActionSpec, ConditionSpec, FixedResponseSpec, HealthCheckSpec, IpAddressType, LoadBalancerSpec,
    LoadBalancerType, MatcherSpec, Protocol, QueryStringKeyValue, RedirectSpec, Scheme, Stack,
    StackId, StickinessSpec, TargetGroupRef, TargetSpec,
};
use aws_lb_operator_core::planner::{
    keys, Change, ChangeKind, ListenerSettings, NewLoadBalancer, NewTargetGroup, Op, Ref,
    SgPermission, SgSource, BACKEND_SG_DESCRIPTION, BACKEND_SG_RESOURCE, CLUSTER_RESOURCE_TAG,
    FRONTEND_SG_DESCRIPTION, FRONTEND_SG_RESOURCE, TARGET_RULE_DESCRIPTION,
};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use crate::localstack::{
    calls, clients, create_alb, create_node_sg, create_subnet, create_target_group, create_vpc,
    unique,
};

const ELB_ROLE: (&str, &str) = ("kubernetes.io/role/elb", "1");

// ---------------------------------------------------------------------------------------------
// Helpers

/// A VPC with two role-tagged subnets in two zones, and a cluster name unique to the test.
struct Env {
    c: AwsClients,
    vpc: String,
    /// Sorted by ID.
    subnets: Vec<String>,
    /// In the order of the zones given.
    by_zone: Vec<String>,
    cluster: String,
}

async fn env(region: &str, octet: u8, zones: [&str; 2], cluster: &str) -> Env {
    let c = clients(region).await;
    let vpc = create_vpc(&c, &format!("10.{octet}.0.0/16")).await;
    let mut subnets = Vec::new();
    for (i, az) in zones.iter().enumerate() {
        subnets.push(
            create_subnet(
                &c,
                &vpc,
                &format!("10.{octet}.{}.0/24", i + 1),
                az,
                &[ELB_ROLE],
            )
            .await,
        );
    }
    let by_zone = subnets.clone();
    subnets.sort();
    Env {
        c,
        vpc,
        subnets,
        by_zone,
        cluster: unique(cluster),
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Tracking tags of a stack's resource.
fn owned(cluster: &str, stack: &str, resource: &str) -> Tags {
    tags(&[
        (CLUSTER, cluster),
        (INGRESS_STACK, stack),
        (INGRESS_RESOURCE, resource),
    ])
}

fn change(stack: &str, resource: &str, kind: ChangeKind, op: Op) -> Change {
    Change {
        stack: stack.to_owned(),
        resource: resource.to_owned(),
        kind,
        reason: None,
        op,
    }
}

fn health_check(path: &str) -> HealthCheckSpec {
    HealthCheckSpec {
        protocol: Protocol::Http,
        port: "traffic-port".into(),
        path: path.into(),
        interval_seconds: 15,
        timeout_seconds: 5,
        healthy_threshold_count: 2,
        unhealthy_threshold_count: 3,
        matcher: MatcherSpec {
            http_code: Some("200-399".into()),
            grpc_code: None,
        },
    }
}

fn new_tg(name: &str, vpc: &str, path: &str) -> NewTargetGroup {
    NewTargetGroup {
        name: name.into(),
        port: 8080,
        protocol: "HTTP".into(),
        protocol_version: Some("HTTP1".into()),
        target_type: "ip".into(),
        ip_address_type: "ipv4".into(),
        vpc_id: vpc.into(),
        health_check: health_check(path),
    }
}

fn tg_id(id: &str, weight: u32) -> TargetGroupRef {
    TargetGroupRef {
        id: Some(id.into()),
        arn: None,
        name: None,
        weight,
    }
}

fn target(ip: &str) -> TargetSpec {
    TargetSpec {
        id: ip.into(),
        port: 8080,
    }
}

fn perm(protocol: &str, port: i32, source: SgSource, description: Option<&str>) -> SgPermission {
    SgPermission {
        protocol: protocol.into(),
        from_port: port,
        to_port: port,
        source,
        description: description.map(str::to_owned),
    }
}

/// Forward target groups by id → by the ARN the plan created, as observe reports them.
fn resolved(
    actions: &[ActionSpec],
    stack: &str,
    created: &BTreeMap<String, String>,
) -> Vec<ActionSpec> {
    actions
        .iter()
        .map(|a| match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => ActionSpec::Forward {
                target_groups: target_groups
                    .iter()
                    .map(|t| TargetGroupRef {
                        id: None,
                        arn: Some(
                            created[&keys::target_group(stack, t.id.as_deref().unwrap())].clone(),
                        ),
                        name: None,
                        weight: t.weight,
                    })
                    .collect(),
                // AWS (and moto) report disabled stickiness explicitly when none was sent.
                stickiness: stickiness.clone().or(Some(StickinessSpec {
                    enabled: false,
                    duration_seconds: None,
                })),
            },
            other => other.clone(),
        })
        .collect()
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Done => "done".to_owned(),
        Outcome::Failed(e) => format!("failed: {e}"),
        Outcome::Skipped { reason } => format!("skipped: {reason}"),
    }
}

fn assert_all_done(changes: &[Change], report: &ExecuteReport) {
    assert_eq!(report.outcomes.len(), changes.len());
    for (c, o) in changes.iter().zip(&report.outcomes) {
        assert!(
            o.is_done(),
            "{} {}: {}",
            c.operation(),
            c.resource,
            outcome_text(o)
        );
    }
}

async fn observe_one(env: &Env, stack: &str) -> Observation {
    let requested: BTreeSet<String> = [stack.to_owned()].into();
    observe(&env.c, &env.cluster, &env.vpc, &requested, false)
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The web stack: managed SG, backend SG with a target-SG permission, two target groups, an ALB
// with an HTTP listener (three rules) and an HTTPS listener (SNI certificates).

const STACK: &str = "ns/web";
const TG_APP: &str = "ns/web-app:80";
const TG_API: &str = "ns/web-api:80";

struct Web {
    changes: Vec<Change>,
    node_sg: String,
    http_default: Vec<ActionSpec>,
    https_default: Vec<ActionSpec>,
    rules: Vec<(u32, Vec<ConditionSpec>, Vec<ActionSpec>)>,
    certs: Vec<String>,
    frontend_perms: Vec<SgPermission>,
}

async fn web_changes(env: &Env, prefix: &str) -> Web {
    let cl = env.cluster.as_str();
    let node_sg = create_node_sg(
        &env.c,
        &env.vpc,
        &unique(&format!("{prefix}-nodes")),
        &env.cluster,
    )
    .await;
    let frontend = keys::frontend_sg(STACK);
    let lb_key = keys::load_balancer(STACK);
    let http = keys::listener(STACK, 80);
    let https = keys::listener(STACK, 443);
    let frontend_perms = vec![
        perm("tcp", 80, SgSource::Cidr("0.0.0.0/0".into()), Some("http")),
        perm("tcp", 443, SgSource::Cidr("10.0.0.0/8".into()), None),
        perm(
            "tcp",
            443,
            SgSource::CidrV6("::/0".into()),
            Some("https v6"),
        ),
    ];
    let http_default = vec![ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "404".into(),
        content_type: Some("text/plain".into()),
        message_body: Some("not found".into()),
    })];
    let https_default = vec![ActionSpec::Forward {
        target_groups: vec![tg_id(TG_APP, 1)],
        stickiness: None,
    }];
    let rules = vec![
        (
            1,
            vec![
                ConditionSpec::HostHeader {
                    values: vec!["a.example.com".into(), "*.a.example.com".into()],
                },
                ConditionSpec::PathPattern {
                    values: vec!["/api/*".into()],
                },
            ],
            vec![ActionSpec::Forward {
                target_groups: vec![tg_id(TG_APP, 3), tg_id(TG_API, 1)],
                stickiness: Some(StickinessSpec {
                    enabled: true,
                    duration_seconds: Some(60),
                }),
            }],
        ),
        (
            2,
            vec![
                ConditionSpec::HttpHeader {
                    http_header_name: "X-Env".into(),
                    values: vec!["prod".into()],
                },
                ConditionSpec::HttpRequestMethod {
                    values: vec!["GET".into(), "HEAD".into()],
                },
                ConditionSpec::QueryString {
                    values: vec![
                        QueryStringKeyValue {
                            key: Some("v".into()),
                            value: "2".into(),
                        },
                        QueryStringKeyValue {
                            key: None,
                            value: "beta".into(),
                        },
                    ],
                },
                ConditionSpec::SourceIp {
                    values: vec!["10.0.0.0/8".into()],
                },
            ],
            vec![ActionSpec::Forward {
                target_groups: vec![tg_id(TG_API, 1)],
                stickiness: Some(StickinessSpec {
                    enabled: false,
                    duration_seconds: None,
                }),
            }],
        ),
        (
            3,
            vec![ConditionSpec::PathPattern {
                values: vec!["/old".into()],
            }],
            vec![ActionSpec::Redirect(RedirectSpec {
                protocol: "HTTPS".into(),
                port: "443".into(),
                host: "#{host}".into(),
                path: "/new".into(),
                query: "#{query}".into(),
                status_code: "HTTP_301".into(),
            })],
        ),
    ];
    // IAM server certificate ARNs: moto checks only ACM certificates at CreateListener.
    let certs: Vec<String> = ["default", "sni-1", "sni-2"]
        .iter()
        .map(|c| {
            format!(
                "arn:aws:iam::000000000000:server-certificate/{}-{c}",
                env.cluster
            )
        })
        .collect();

    let mut changes = vec![
        change(
            "",
            "security group backend",
            ChangeKind::Create,
            Op::CreateSecurityGroup {
                key: keys::BACKEND_SG.into(),
                name: unique(&format!("{prefix}-backend")),
                description: BACKEND_SG_DESCRIPTION.into(),
                vpc_id: env.vpc.clone(),
                tags: tags(&[(CLUSTER, cl), (CLUSTER_RESOURCE_TAG, BACKEND_SG_RESOURCE)]),
            },
        ),
        change(
            "",
            "security group nodes",
            ChangeKind::Modify,
            Op::AuthorizeSecurityGroupIngress {
                group: Ref::Existing(node_sg.clone()),
                permissions: vec![perm(
                    "tcp",
                    8080,
                    SgSource::NewGroup(keys::BACKEND_SG.into()),
                    Some(TARGET_RULE_DESCRIPTION),
                )],
            },
        ),
        change(
            STACK,
            "security group frontend",
            ChangeKind::Create,
            Op::CreateSecurityGroup {
                key: frontend.clone(),
                name: unique(&format!("{prefix}-frontend")),
                description: FRONTEND_SG_DESCRIPTION.into(),
                vpc_id: env.vpc.clone(),
                tags: owned(cl, STACK, FRONTEND_SG_RESOURCE),
            },
        ),
        change(
            STACK,
            "security group frontend",
            ChangeKind::Modify,
            Op::AuthorizeSecurityGroupIngress {
                group: Ref::New(frontend.clone()),
                permissions: frontend_perms.clone(),
            },
        ),
    ];
    for (id, name, path) in [(TG_APP, "app", "/healthz"), (TG_API, "api", "/ready")] {
        let key = keys::target_group(STACK, id);
        changes.push(change(
            STACK,
            &format!("target group {name}"),
            ChangeKind::Create,
            Op::CreateTargetGroup {
                key: key.clone(),
                target_group: new_tg(&unique(&format!("{prefix}-{name}")), &env.vpc, path),
                tags: owned(cl, STACK, id),
            },
        ));
    }
    let app = Ref::New(keys::target_group(STACK, TG_APP));
    changes.extend([
        change(
            STACK,
            "target group app",
            ChangeKind::Modify,
            Op::ModifyTargetGroupAttributes {
                target_group: app.clone(),
                attributes: tags(&[("deregistration_delay.timeout_seconds", "30")]),
            },
        ),
        change(
            STACK,
            "target group app",
            ChangeKind::Register,
            Op::RegisterTargets {
                target_group: app.clone(),
                targets: vec![target("10.9.2.10"), target("10.9.1.10")],
            },
        ),
        change(
            STACK,
            "load balancer",
            ChangeKind::Create,
            Op::CreateLoadBalancer {
                key: lb_key.clone(),
                load_balancer: NewLoadBalancer {
                    eip_allocations: Vec::new(),
                    private_ipv4_addresses: Vec::new(),
                    name: unique(&format!("{prefix}-web")),
                    lb_type: "application".into(),
                    scheme: "internet-facing".into(),
                    ip_address_type: "ipv4".into(),
                    subnets: env.subnets.clone(),
                    security_groups: vec![
                        Ref::New(frontend.clone()),
                        Ref::New(keys::BACKEND_SG.into()),
                    ],
                },
                tags: owned(cl, STACK, "LoadBalancer"),
            },
        ),
        change(
            STACK,
            "load balancer",
            ChangeKind::Modify,
            Op::ModifyLoadBalancerAttributes {
                load_balancer: Ref::New(lb_key.clone()),
                attributes: tags(&[("idle_timeout.timeout_seconds", "120")]),
            },
        ),
        change(
            STACK,
            "listener 80",
            ChangeKind::Create,
            Op::CreateListener {
                key: http.clone(),
                load_balancer: Ref::New(lb_key.clone()),
                listener: ListenerSettings {
                    port: 80,
                    protocol: "HTTP".into(),
                    ssl_policy: None,
                    default_certificate: None,
                    default_actions: http_default.clone(),
                    alpn_policy: None,
                    mutual_authentication: None,
                },
                tags: owned(cl, STACK, "80"),
            },
        ),
        change(
            STACK,
            "listener 443",
            ChangeKind::Create,
            Op::CreateListener {
                key: https.clone(),
                load_balancer: Ref::New(lb_key.clone()),
                listener: ListenerSettings {
                    port: 443,
                    protocol: "HTTPS".into(),
                    ssl_policy: Some("ELBSecurityPolicy-TLS13-1-2-2021-06".into()),
                    default_certificate: Some(certs[0].clone()),
                    default_actions: https_default.clone(),
                    alpn_policy: None,
                    mutual_authentication: None,
                },
                tags: owned(cl, STACK, "443"),
            },
        ),
        change(
            STACK,
            "listener 443",
            ChangeKind::Modify,
            Op::AddListenerCertificates {
                listener: Ref::New(https.clone()),
                certificates: certs[1..].to_vec(),
            },
        ),
    ]);
    for (priority, conditions, actions) in &rules {
        changes.push(change(
            STACK,
            &format!("rule 80 priority {priority}"),
            ChangeKind::Create,
            Op::CreateRule {
                listener: Ref::New(http.clone()),
                priority: *priority,
                conditions: conditions.clone(),
                actions: actions.clone(),
                transforms: vec![],
                tags: owned(cl, STACK, &format!("80:{priority}")),
            },
        ));
    }
    Web {
        changes,
        node_sg,
        http_default,
        https_default,
        rules,
        certs,
        frontend_perms,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn executed_changes_observe_back_as_requested() {
    let env = env("us-west-1", 41, ["us-west-1a", "us-west-1b"], "io-rt").await;
    let web = web_changes(&env, "rt").await;
    env.c.calls.reset();
    let report = execute(&env.c, &web.changes, &ExecuteOptions::default()).await;
    assert_all_done(&web.changes, &report);
    // One AWS call per change, nothing else.
    assert_eq!(
        env.c.calls.total_calls(),
        web.changes.len() as u64,
        "{:?}",
        calls(&env.c)
    );
    let created = &report.created;
    assert_eq!(
        created.len(),
        7,
        "two groups, two target groups, a load balancer, two listeners: {created:?}"
    );

    let obs = observe_one(&env, STACK).await;
    assert_eq!(obs.stacks.keys().collect::<Vec<_>>(), [STACK]);
    assert!(obs.unplanned.is_empty(), "{:?}", obs.unplanned.keys());
    let stack = &obs.stacks[STACK];
    let cl = env.cluster.as_str();

    // Security groups: the managed one in the stack, the backend one cluster-wide, the nodes'
    // as a target group, with the backend group let in.
    let frontend_id = &created[&keys::frontend_sg(STACK)];
    let backend_id = &created[keys::BACKEND_SG];
    assert_eq!(stack.security_groups.len(), 1);
    let sg = &stack.security_groups[0];
    assert_eq!(&sg.id, frontend_id);
    assert_eq!(sg.vpc_id, env.vpc);
    assert_eq!(sg.tags, owned(cl, STACK, FRONTEND_SG_RESOURCE));
    let mut want_perms = web.frontend_perms.clone();
    want_perms.sort();
    assert_eq!(sg.ingress, want_perms);
    let backend = obs.backend_sg.as_ref().expect("backend security group");
    assert_eq!(&backend.id, backend_id);
    let nodes: Vec<_> = obs
        .target_security_groups
        .iter()
        .filter(|g| g.id == web.node_sg)
        .collect();
    assert_eq!(nodes.len(), 1, "{:?}", obs.target_security_groups);
    assert_eq!(
        nodes[0].ingress,
        [perm(
            "tcp",
            8080,
            SgSource::Group(backend_id.clone()),
            Some(TARGET_RULE_DESCRIPTION)
        )]
    );
    assert_eq!(
        obs.foreign.security_groups.get(&nodes[0].name),
        Some(&web.node_sg),
        "groups the cluster does not own hold their names"
    );
    assert!(!obs
        .foreign
        .security_groups
        .values()
        .any(|id| id == frontend_id || id == backend_id));

    // Target groups.
    assert_eq!(stack.target_groups.len(), 2);
    let app_arn = &created[&keys::target_group(STACK, TG_APP)];
    let app = stack
        .target_groups
        .iter()
        .find(|t| &t.arn == app_arn)
        .unwrap();
    assert_eq!(app.name, unique("rt-app"));
    assert_eq!(
        (
            app.port,
            app.protocol.as_str(),
            app.protocol_version.as_str()
        ),
        (8080, "HTTP", "HTTP1")
    );
    assert_eq!(
        (app.target_type.as_str(), app.ip_address_type.as_str()),
        ("ip", "ipv4")
    );
    assert_eq!(app.vpc_id, env.vpc);
    assert_eq!(app.health_check, health_check("/healthz"));
    assert_eq!(
        app.attributes
            .get("deregistration_delay.timeout_seconds")
            .map(String::as_str),
        Some("30")
    );
    assert_eq!(app.tags, owned(cl, STACK, TG_APP));
    assert_eq!(
        app.targets,
        [target("10.9.1.10"), target("10.9.2.10")],
        "sorted"
    );
    let api = stack
        .target_groups
        .iter()
        .find(|t| t.name == unique("rt-api"))
        .unwrap();
    assert_eq!(api.health_check, health_check("/ready"));
    assert!(api.targets.is_empty());

    // The load balancer.
    assert_eq!(stack.load_balancers.len(), 1);
    let lb = &stack.load_balancers[0];
    assert_eq!(&lb.arn, &created[&keys::load_balancer(STACK)]);
    assert_eq!(lb.name, unique("rt-web"));
    assert_eq!(
        (
            lb.lb_type.as_str(),
            lb.scheme.as_str(),
            lb.ip_address_type.as_str()
        ),
        ("application", "internet-facing", "ipv4")
    );
    assert_eq!(lb.vpc_id, env.vpc);
    assert_eq!(lb.subnets, env.subnets);
    let mut want_sgs = vec![frontend_id.clone(), backend_id.clone()];
    want_sgs.sort();
    assert_eq!(lb.security_groups, want_sgs);
    assert_eq!(
        lb.attributes
            .get("idle_timeout.timeout_seconds")
            .map(String::as_str),
        Some("120")
    );
    assert_eq!(lb.tags, owned(cl, STACK, "LoadBalancer"));
    assert!(!lb.dns_name.is_empty());

    // Listeners, sorted by port, with rules, certificates and tags.
    let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, [80, 443]);
    let l80 = &lb.listeners[0];
    assert_eq!(&l80.arn, &created[&keys::listener(STACK, 80)]);
    assert_eq!(l80.protocol, "HTTP");
    assert_eq!(l80.default_actions, web.http_default);
    assert!(l80.certificates.is_empty());
    assert_eq!(l80.tags, owned(cl, STACK, "80"));
    let got: Vec<(u32, Vec<ConditionSpec>, Vec<ActionSpec>)> = l80
        .rules
        .iter()
        .map(|r| (r.priority, r.conditions.clone(), r.actions.clone()))
        .collect();
    let want: Vec<(u32, Vec<ConditionSpec>, Vec<ActionSpec>)> = web
        .rules
        .iter()
        .map(|(p, c, a)| (*p, c.clone(), resolved(a, STACK, created)))
        .collect();
    assert_eq!(got, want);
    for r in &l80.rules {
        assert_eq!(r.tags, owned(cl, STACK, &format!("80:{}", r.priority)));
    }
    let l443 = &lb.listeners[1];
    assert_eq!(l443.protocol, "HTTPS");
    assert_eq!(
        l443.ssl_policy.as_deref(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert_eq!(
        l443.certificates, web.certs,
        "default first, then SNI, no duplicates"
    );
    assert_eq!(
        l443.default_actions,
        resolved(&web.https_default, STACK, created)
    );
    assert!(l443.rules.is_empty());
    assert_eq!(l443.tags, owned(cl, STACK, "443"));

    assert_eq!(
        env.c.calls.mutating_calls(),
        web.changes.len() as u64,
        "observe never writes"
    );
}

#[tokio::test]
async fn deletes_in_reverse_order_leave_nothing_and_wait_for_target_groups_in_use() {
    let env = env("us-west-1", 42, ["us-west-1a", "us-west-1b"], "io-del").await;
    let web = web_changes(&env, "del").await;
    let report = execute(&env.c, &web.changes, &ExecuteOptions::default()).await;
    assert_all_done(&web.changes, &report);
    let obs = observe_one(&env, STACK).await;
    let stack = &obs.stacks[STACK];
    let lb = &stack.load_balancers[0];

    // A target group still used by a rule: DeleteTargetGroup is retried on ResourceInUse until
    // the budget runs out, then fails and skips the rest of the stack.
    let app_arn = report.created[&keys::target_group(STACK, TG_APP)].clone();
    let quick = ExecuteOptions {
        sg_delete_timeout: Duration::from_millis(300),
        tg_delete_timeout: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(40),
        max_backoff: Duration::from_millis(80),
    };
    env.c.calls.reset();
    let early = [
        change(
            STACK,
            "target group app",
            ChangeKind::Delete,
            Op::DeleteTargetGroup {
                arn: app_arn.clone(),
            },
        ),
        change(
            STACK,
            "load balancer",
            ChangeKind::Delete,
            Op::DeleteLoadBalancer {
                arn: lb.arn.clone(),
            },
        ),
    ];
    let r = execute(&env.c, &early, &quick).await;
    let texts: Vec<String> = r.outcomes.iter().map(outcome_text).collect();
    assert!(
        texts[0].starts_with("failed: elbv2.DeleteTargetGroup failed: ResourceInUse"),
        "{texts:?}"
    );
    assert_eq!(
        texts[1],
        "skipped: an earlier change of stack ns/web failed (target group app)"
    );
    let tries = calls(&env.c)["elbv2.DeleteTargetGroup"];
    assert!(
        (3..=8).contains(&tries),
        "retried within the budget: {tries}"
    );

    // Everything, in reverse order of creation: rules, listeners, load balancer, target groups,
    // the stack's security group, then the cluster-wide permission and group.
    let mut deletes = Vec::new();
    for l in &lb.listeners {
        for rule in &l.rules {
            deletes.push(change(
                STACK,
                "rule",
                ChangeKind::Delete,
                Op::DeleteRule {
                    arn: rule.arn.clone(),
                },
            ));
        }
    }
    for l in &lb.listeners {
        deletes.push(change(
            STACK,
            "listener",
            ChangeKind::Delete,
            Op::DeleteListener { arn: l.arn.clone() },
        ));
    }
    deletes.push(change(
        STACK,
        "load balancer",
        ChangeKind::Delete,
        Op::DeleteLoadBalancer {
            arn: lb.arn.clone(),
        },
    ));
    for tg in &stack.target_groups {
        deletes.push(change(
            STACK,
            "target group",
            ChangeKind::Deregister,
            Op::DeregisterTargets {
                target_group: tg.arn.clone(),
                targets: tg.targets.clone(),
            },
        ));
        deletes.push(change(
            STACK,
            "target group",
            ChangeKind::Delete,
            Op::DeleteTargetGroup {
                arn: tg.arn.clone(),
            },
        ));
    }
    deletes
        .retain(|c| !matches!(&c.op, Op::DeregisterTargets { targets, .. } if targets.is_empty()));
    deletes.push(change(
        STACK,
        "security group",
        ChangeKind::Delete,
        Op::DeleteSecurityGroup {
            group: stack.security_groups[0].id.clone(),
        },
    ));
    let backend = obs.backend_sg.clone().unwrap();
    let nodes = obs
        .target_security_groups
        .iter()
        .find(|g| g.id == web.node_sg)
        .unwrap();
    deletes.push(change(
        "",
        "security group nodes",
        ChangeKind::Modify,
        Op::RevokeSecurityGroupIngress {
            group: nodes.id.clone(),
            permissions: nodes.ingress.clone(),
        },
    ));
    deletes.push(change(
        "",
        "security group backend",
        ChangeKind::Delete,
        Op::DeleteSecurityGroup {
            group: backend.id.clone(),
        },
    ));
    env.c.calls.reset();
    let r = execute(&env.c, &deletes, &ExecuteOptions::default()).await;
    assert_all_done(&deletes, &r);
    assert_eq!(
        env.c.calls.total_calls(),
        deletes.len() as u64,
        "{:?}",
        calls(&env.c)
    );

    let after = observe_one(&env, STACK).await;
    assert!(after.stacks[STACK].is_empty(), "{:?}", after.stacks[STACK]);
    assert_eq!(after.backend_sg, None);
    let nodes = after
        .target_security_groups
        .iter()
        .find(|g| g.id == web.node_sg)
        .unwrap();
    assert!(nodes.ingress.is_empty(), "{:?}", nodes.ingress);

    // Deleting again finds nothing to delete: done, not failed.
    let again: Vec<Change> = deletes
        .into_iter()
        .filter(|c| {
            matches!(
                c.op,
                Op::DeleteListener { .. }
                    | Op::DeleteTargetGroup { .. }
                    | Op::DeleteSecurityGroup { .. }
            )
        })
        .collect();
    let r = execute(&env.c, &again, &quick).await;
    assert_all_done(&again, &r);
}

#[tokio::test]
async fn a_failed_change_skips_the_rest_of_its_stack_only() {
    let env = env("us-west-2", 43, ["us-west-2a", "us-west-2b"], "io-fail").await;
    let cl = env.cluster.clone();
    let tg = |stack: &str, id: &str, name: &str| {
        change(
            stack,
            &format!("target group {name}"),
            ChangeKind::Create,
            Op::CreateTargetGroup {
                key: keys::target_group(stack, id),
                target_group: new_tg(name, &env.vpc, "/"),
                tags: owned(&cl, stack, id),
            },
        )
    };
    let register = |stack: &str, key: String| {
        change(
            stack,
            "targets",
            ChangeKind::Register,
            Op::RegisterTargets {
                target_group: Ref::New(key),
                targets: vec![target("10.43.1.5")],
            },
        )
    };
    let good = unique("fail-b");
    let changes = vec![
        /* 0 */ tg("a", "svc:80", "not_a_valid_name!"),
        /* 1 */ tg("b", "svc:80", &good),
        /* 2 */ register("a", keys::target_group("a", "svc:80")),
        /* 3 */ register("b", keys::target_group("b", "svc:80")),
        /* 4 */ register("c", keys::target_group("a", "svc:80")),
        /* 5 */
        change(
            "b",
            "rule 80 priority 1",
            ChangeKind::Create,
            Op::CreateRule {
                listener: Ref::New(keys::listener("b", 80)),
                priority: 1,
                conditions: vec![],
                actions: vec![],
                transforms: vec![],
                tags: Tags::new(),
            },
        ),
        /* 6 */ register("b", keys::target_group("b", "svc:80")),
        /* 7 */
        change(
            "",
            "security group backend",
            ChangeKind::Create,
            Op::CreateSecurityGroup {
                key: keys::BACKEND_SG.into(),
                name: unique("fail-backend"),
                description: BACKEND_SG_DESCRIPTION.into(),
                vpc_id: "vpc-00000000000000000".into(),
                tags: Tags::new(),
            },
        ),
        /* 8 */ tg("d", "svc:80", &unique("fail-d")),
    ];
    env.c.calls.reset();
    let report = execute(&env.c, &changes, &ExecuteOptions::default()).await;
    let texts: Vec<String> = report.outcomes.iter().map(outcome_text).collect();
    assert_eq!(texts.len(), changes.len());
    assert!(
        texts[0].starts_with("failed: elbv2.CreateTargetGroup failed: "),
        "{}",
        texts[0]
    );
    assert_eq!(texts[1], "done");
    assert_eq!(
        texts[2],
        "skipped: an earlier change of stack a failed (target group not_a_valid_name!)"
    );
    assert_eq!(texts[3], "done");
    assert_eq!(
        texts[4],
        "skipped: needs target group not_a_valid_name! (a|tg:svc:80), which was not created"
    );
    assert_eq!(
        texts[5],
        "failed: listener refers to \"b|listener:80\", which no earlier change of the plan creates"
    );
    assert_eq!(
        texts[6],
        "skipped: an earlier change of stack b failed (rule 80 priority 1)"
    );
    assert!(
        texts[7].starts_with("failed: ec2.CreateSecurityGroup failed: "),
        "{}",
        texts[7]
    );
    // A failed cluster-wide change skips nothing by itself: stack d still runs.
    assert_eq!(texts[8], "done");
    assert_eq!((report.failed(), report.skipped()), (3, 3));
    assert_eq!(
        report.created.keys().collect::<Vec<_>>(),
        [
            &keys::target_group("b", "svc:80"),
            &keys::target_group("d", "svc:80")
        ]
    );
    // Calls only for changes that ran: three creates of target groups, one register, one
    // create of a security group.
    let n = calls(&env.c);
    assert_eq!(n.get("elbv2.CreateTargetGroup"), Some(&3), "{n:?}");
    assert_eq!(n.get("elbv2.RegisterTargets"), Some(&1), "{n:?}");
    assert_eq!(n.get("elbv2.CreateRule"), None, "{n:?}");
    assert_eq!(n.get("ec2.CreateSecurityGroup"), Some(&1), "{n:?}");

    // What was created is owned and findable: observe shows stack b with its target.
    let obs = observe_one(&env, "b").await;
    let b = &obs.stacks["b"];
    assert_eq!(b.target_groups.len(), 1);
    assert_eq!(b.target_groups[0].name, good);
    assert_eq!(
        b.target_groups[0].targets,
        [TargetSpec {
            id: "10.43.1.5".into(),
            port: 8080
        }]
    );
}

#[tokio::test]
async fn foreign_resources_hold_names_and_never_join_a_stack() {
    let env = env("us-west-2", 44, ["us-west-2a", "us-west-2b"], "io-foreign").await;
    let cl = env.cluster.clone();
    let other_vpc = create_vpc(&env.c, "10.45.0.0/16").await;
    let other_subnets = vec![
        create_subnet(&env.c, &other_vpc, "10.45.1.0/24", "us-west-2a", &[]).await,
        create_subnet(&env.c, &other_vpc, "10.45.2.0/24", "us-west-2b", &[]).await,
    ];
    let t = [(CLUSTER, cl.as_str()), (INGRESS_STACK, "ns/web")];
    let ours = unique("fr-ours");
    let ours_arn = create_alb(&env.c, &ours, &env.subnets, &t).await;
    create_target_group(&env.c, &unique("fr-ours-tg"), &env.vpc, &t).await;
    // Someone else's with the same stack name; ours but in another VPC; ours without a stack
    // tag; untagged.
    let theirs = unique("fr-theirs");
    let theirs_arn = create_alb(
        &env.c,
        &theirs,
        &env.subnets,
        &[(CLUSTER, "someone-else"), (INGRESS_STACK, "ns/web")],
    )
    .await;
    let elsewhere = unique("fr-vpc2");
    let elsewhere_arn = create_alb(&env.c, &elsewhere, &other_subnets, &t).await;
    let stackless = unique("fr-nostack");
    create_alb(&env.c, &stackless, &env.subnets, &[(CLUSTER, &cl)]).await;
    let untagged_tg = unique("fr-untagged");
    let untagged_tg_arn = create_target_group(&env.c, &untagged_tg, &env.vpc, &[]).await;
    let other_vpc_tg = unique("fr-vpc2-tg");
    create_target_group(&env.c, &other_vpc_tg, &other_vpc, &t).await;

    let obs = observe(&env.c, &cl, &env.vpc, &BTreeSet::new(), true)
        .await
        .unwrap();
    assert_eq!(
        obs.stacks.keys().collect::<Vec<_>>(),
        ["ns/web"],
        "all owned stacks, in full"
    );
    let web = &obs.stacks["ns/web"];
    assert_eq!(web.load_balancers.len(), 1);
    assert_eq!(web.load_balancers[0].arn, ours_arn);
    assert_eq!(web.target_groups.len(), 1);
    assert_eq!(web.target_groups[0].name, unique("fr-ours-tg"));
    let f = &obs.foreign;
    assert_eq!(f.load_balancers.get(&theirs), Some(&theirs_arn));
    assert_eq!(
        f.load_balancers.get(&elsewhere),
        Some(&elsewhere_arn),
        "names are region-wide"
    );
    assert!(
        f.load_balancers.contains_key(&stackless),
        "owned but in no stack"
    );
    assert!(!f.load_balancers.contains_key(&ours));
    assert_eq!(f.target_groups.get(&untagged_tg), Some(&untagged_tg_arn));
    assert!(f.target_groups.contains_key(&other_vpc_tg));
    assert!(!f.target_groups.contains_key(&unique("fr-ours-tg")));
    assert!(
        f.security_groups.contains_key("default"),
        "{:?}",
        f.security_groups
    );
}

/// Creates `n` stacks of the same shape: a load balancer with one listener and two rules, and
/// one target group with a target.
async fn shaped_stacks(env: &Env, names: &[&str]) {
    let cl = env.cluster.as_str();
    let mut changes = Vec::new();
    for s in names {
        let tg_key = keys::target_group(s, "svc:80");
        let lb_key = keys::load_balancer(s);
        let l_key = keys::listener(s, 80);
        changes.push(change(
            s,
            "tg",
            ChangeKind::Create,
            Op::CreateTargetGroup {
                key: tg_key.clone(),
                target_group: new_tg(&unique(&format!("cost-{s}")), &env.vpc, "/"),
                tags: owned(cl, s, "svc:80"),
            },
        ));
        changes.push(change(
            s,
            "targets",
            ChangeKind::Register,
            Op::RegisterTargets {
                target_group: Ref::New(tg_key.clone()),
                targets: vec![target("10.46.1.7")],
            },
        ));
        changes.push(change(
            s,
            "lb",
            ChangeKind::Create,
            Op::CreateLoadBalancer {
                key: lb_key.clone(),
                load_balancer: NewLoadBalancer {
                    eip_allocations: Vec::new(),
                    private_ipv4_addresses: Vec::new(),
                    name: unique(&format!("cost-{s}")),
                    lb_type: "application".into(),
                    scheme: "internal".into(),
                    ip_address_type: "ipv4".into(),
                    subnets: env.subnets.clone(),
                    security_groups: vec![],
                },
                tags: owned(cl, s, "LoadBalancer"),
            },
        ));
        changes.push(change(
            s,
            "listener",
            ChangeKind::Create,
            Op::CreateListener {
                key: l_key.clone(),
                load_balancer: Ref::New(lb_key),
                listener: ListenerSettings {
                    port: 80,
                    protocol: "HTTP".into(),
                    ssl_policy: None,
                    default_certificate: None,
                    default_actions: vec![ActionSpec::Forward {
                        target_groups: vec![tg_id("svc:80", 1)],
                        stickiness: None,
                    }],
                    alpn_policy: None,
                    mutual_authentication: None,
                },
                tags: owned(cl, s, "80"),
            },
        ));
        for p in [1, 2] {
            changes.push(change(
                s,
                "rule",
                ChangeKind::Create,
                Op::CreateRule {
                    listener: Ref::New(l_key.clone()),
                    priority: p,
                    conditions: vec![ConditionSpec::PathPattern {
                        values: vec![format!("/{p}")],
                    }],
                    actions: vec![ActionSpec::Forward {
                        target_groups: vec![tg_id("svc:80", 1)],
                        stickiness: None,
                    }],
                    transforms: vec![],
                    tags: owned(cl, s, &format!("80:{p}")),
                },
            ));
        }
    }
    let report = execute(&env.c, &changes, &ExecuteOptions::default()).await;
    assert_all_done(&changes, &report);
}

#[tokio::test]
async fn observe_cost_grows_with_the_planned_resources_only() {
    let env = env(
        "ca-central-1",
        46,
        ["ca-central-1a", "ca-central-1b"],
        "io-cost",
    )
    .await;
    shaped_stacks(&env, &["s1", "s2", "s3"]).await;
    let per_resource = [
        "elbv2.DescribeLoadBalancerAttributes",
        "elbv2.DescribeListeners",
        "elbv2.DescribeRules",
        "elbv2.DescribeTargetGroupAttributes",
        "elbv2.DescribeTargetHealth",
    ];

    // One stack planned (plus one that owns nothing yet); the other two are read shallowly.
    env.c.calls.reset();
    let requested: BTreeSet<String> = ["s1".to_owned(), "new".to_owned()].into();
    let one = observe(&env.c, &env.cluster, &env.vpc, &requested, false)
        .await
        .unwrap();
    let n1 = calls(&env.c);
    assert_eq!(one.stacks.keys().collect::<Vec<_>>(), ["new", "s1"]);
    assert!(one.stacks["new"].is_empty());
    assert_eq!(one.unplanned.keys().collect::<Vec<_>>(), ["s2", "s3"]);
    let shallow = &one.unplanned["s2"];
    assert_eq!(
        (shallow.load_balancers.len(), shallow.target_groups.len()),
        (1, 1)
    );
    assert!(shallow.load_balancers[0].listeners.is_empty());
    assert!(shallow.target_groups[0].targets.is_empty());
    let s1 = &one.stacks["s1"];
    assert_eq!(s1.load_balancers[0].listeners[0].rules.len(), 2);
    assert_eq!(s1.target_groups[0].targets.len(), 1);

    // Every owned stack planned.
    env.c.calls.reset();
    let all = observe(&env.c, &env.cluster, &env.vpc, &BTreeSet::new(), true)
        .await
        .unwrap();
    let n3 = calls(&env.c);
    assert_eq!(all.stacks.keys().collect::<Vec<_>>(), ["s1", "s2", "s3"]);
    assert!(all.unplanned.is_empty());
    assert_eq!(all.stacks["s1"], one.stacks["s1"], "same detail either way");

    for op in per_resource {
        assert_eq!(
            (n1.get(op), n3.get(op)),
            (Some(&1), Some(&3)),
            "{op}: {n1:?} / {n3:?}"
        );
    }
    // Listings and tags do not grow: the region is listed once, tags are read 20 ARNs per call
    // (load balancers of the VPC, target groups of the VPC, listeners and rules of the pass).
    for op in [
        "elbv2.DescribeLoadBalancers",
        "elbv2.DescribeTargetGroups",
        "elbv2.DescribeTags",
        "ec2.DescribeSecurityGroups",
    ] {
        assert_eq!(n1.get(op), n3.get(op), "{op}: {n1:?} / {n3:?}");
    }
    assert_eq!(n3.get("elbv2.DescribeTags"), Some(&3), "{n3:?}");
    assert_eq!(n3.get("ec2.DescribeSecurityGroups"), Some(&1), "{n3:?}");
    assert_eq!(
        n3.get("elbv2.DescribeListenerCertificates"),
        None,
        "HTTP listeners only"
    );
    assert_eq!(env.c.calls.mutating_calls(), 0);
}

fn alb_stack(name: &str, scheme: Scheme) -> Stack {
    Stack {
        id: StackId::implicit("ns", name),
        load_balancer: LoadBalancerSpec {
            eip_allocations: Vec::new(),
            private_ipv4_addresses: Vec::new(),
            name: format!("k8s-ns-{name}"),
            lb_type: LoadBalancerType::Application,
            scheme,
            ip_address_type: IpAddressType::Ipv4,
            subnets: vec![],
            subnet_tags: BTreeMap::new(),
            security_groups: vec![],
            inbound_cidrs: vec![],
            inbound_prefix_lists: vec![],
            icmp_for_path_mtu_discovery: false,
            manage_backend_security_group_rules: false,
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
            wafv2_web_acl: None,
            shield_advanced_protection: None,
            scheme_unset: None,
        },
        listeners: vec![],
        target_groups: vec![],
        hostnames: vec![],
        held_hostnames: vec![],
        objects: vec![],
    }
}

#[tokio::test]
async fn stack_facts_resolve_subnets_and_groups_or_say_what_is_missing() {
    let region = "ap-northeast-1";
    let c = clients(region).await;
    let cluster = unique("io-facts");
    let vpc = create_vpc(&c, "10.47.0.0/16").await;
    let a = create_subnet(
        &c,
        &vpc,
        "10.47.1.0/24",
        "ap-northeast-1a",
        &[ELB_ROLE, ("Name", "web-a"), ("team", "web")],
    )
    .await;
    let b = create_subnet(
        &c,
        &vpc,
        "10.47.2.0/24",
        "ap-northeast-1c",
        &[("Name", "web-c"), ("team", "web")],
    )
    .await;
    let a2 = create_subnet(
        &c,
        &vpc,
        "10.47.3.0/24",
        "ap-northeast-1a",
        &[("team", "api")],
    )
    .await;
    let sg = c
        .ec2
        .create_security_group()
        .group_name(unique("facts-sg"))
        .description("given")
        .vpc_id(&vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("Name").value("web-sg").build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    let mut cache = SubnetCache::new();

    // Discovery finds one tagged subnet: not enough zones for an ALB.
    c.calls.reset();
    let facts = stack_facts(
        &c,
        &mut cache,
        &cluster,
        &vpc,
        &alb_stack("one", Scheme::InternetFacing),
    )
    .await;
    assert_eq!(
        facts.subnets.unwrap_err(),
        format!(
            "found 1 subnet for internet-facing load balancers in {vpc}: {a} (ap-northeast-1a); \
             an Application Load Balancer needs subnets in at least two availability zones (tag \
             subnets with kubernetes.io/role/elb=1 or set alb.ingress.kubernetes.io/subnets)"
        )
    );
    assert!(!facts.subnets_explicit);
    assert_eq!(
        facts.security_groups,
        Ok(vec![]),
        "no groups named: a managed group"
    );
    // Internal: none at all.
    let facts = stack_facts(
        &c,
        &mut cache,
        &cluster,
        &vpc,
        &alb_stack("int", Scheme::Internal),
    )
    .await;
    assert_eq!(
        facts.subnets.unwrap_err(),
        format!(
            "found no subnets for internal load balancers in {vpc}; an Application Load \
             Balancer needs subnets in at least two availability zones (tag subnets with \
             kubernetes.io/role/internal-elb=1 or set alb.ingress.kubernetes.io/subnets)"
        )
    );
    // A second stack of the same scheme reuses the discovery.
    stack_facts(
        &c,
        &mut cache,
        &cluster,
        &vpc,
        &alb_stack("two", Scheme::InternetFacing),
    )
    .await;
    assert_eq!(
        calls(&c).get("ec2.DescribeSubnets"),
        Some(&2),
        "once per scheme"
    );
    assert_eq!(calls(&c).get("ec2.DescribeSecurityGroups"), None);

    // Explicit subnets by ID and Name tag.
    let mut s = alb_stack("explicit", Scheme::InternetFacing);
    s.load_balancer.subnets = vec!["web-c".into(), a.clone()];
    let facts = stack_facts(&c, &mut cache, &cluster, &vpc, &s).await;
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(facts.subnets, Ok(want.clone()));
    assert!(facts.subnets_explicit);
    s.load_balancer.subnets = vec![
        "web-a".into(),
        "subnet-0000000000000dead".into(),
        "web-z".into(),
    ];
    assert_eq!(
        stack_facts(&c, &mut cache, &cluster, &vpc, &s)
            .await
            .subnets
            .unwrap_err(),
        format!(
            "subnets not found in {vpc}: subnet-0000000000000dead, web-z (give subnet IDs or \
             Name tag values of subnets in the cluster's VPC)"
        )
    );
    s.load_balancer.subnets = vec![a.clone(), a2.clone()];
    let mut same = [a.clone(), a2.clone()];
    same.sort();
    assert_eq!(
        stack_facts(&c, &mut cache, &cluster, &vpc, &s)
            .await
            .subnets
            .unwrap_err(),
        format!(
            "subnets {} are all in availability zone ap-northeast-1a; a load balancer takes one \
             subnet per availability zone",
            same.join(", ")
        )
    );

    // Subnets by tag filters.
    let mut s = alb_stack("tagged", Scheme::Internal);
    s.load_balancer.subnet_tags = [("team".to_owned(), vec!["web".to_owned()])].into();
    let facts = stack_facts(&c, &mut cache, &cluster, &vpc, &s).await;
    assert_eq!(facts.subnets, Ok(want));
    assert!(facts.subnets_explicit);
    s.load_balancer.subnet_tags = [("team".to_owned(), vec!["api".to_owned()])].into();
    assert_eq!(
        stack_facts(&c, &mut cache, &cluster, &vpc, &s)
            .await
            .subnets
            .unwrap_err(),
        format!(
            "found 1 subnet matching the subnet tags team=api in {vpc}: {a2} (ap-northeast-1a); \
             an Application Load Balancer needs subnets in at least two availability zones (tag \
             subnets in more availability zones)"
        )
    );

    // Security groups by ID and Name tag, in one call each.
    let mut s = alb_stack("groups", Scheme::InternetFacing);
    s.load_balancer.subnets = vec![a.clone(), b.clone()];
    s.load_balancer.security_groups = vec!["web-sg".into()];
    c.calls.reset();
    assert_eq!(
        stack_facts(&c, &mut cache, &cluster, &vpc, &s)
            .await
            .security_groups,
        Ok(vec![sg.clone()])
    );
    s.load_balancer.security_groups = vec![
        sg.clone(),
        "sg-0000000000000dead".into(),
        "web-sg".into(),
        "db-sg".into(),
    ];
    assert_eq!(
        stack_facts(&c, &mut cache, &cluster, &vpc, &s)
            .await
            .security_groups
            .unwrap_err(),
        format!(
            "security groups not found in {vpc}: sg-0000000000000dead, db-sg (give security \
             group IDs or Name tag values of groups in the cluster's VPC)"
        )
    );
    assert_eq!(calls(&c).get("ec2.DescribeSecurityGroups"), Some(&2));
}

#[tokio::test]
async fn the_vpc_comes_from_the_flag_or_the_role_tagged_subnets() {
    // A region where no test creates subnets.
    let empty = clients("af-south-1").await;
    let lonely = unique("io-novpc");
    assert_eq!(
        resolve_vpc(&empty, &lonely, None)
            .await
            .unwrap_err()
            .to_string(),
        format!(
            "cannot tell the VPC of cluster {lonely}: no subnet in the region is tagged \
             kubernetes.io/role/elb or kubernetes.io/role/internal-elb; pass --vpc-id"
        )
    );
    empty.calls.reset();
    assert_eq!(
        resolve_vpc(&empty, &lonely, Some("vpc-given"))
            .await
            .unwrap(),
        "vpc-given"
    );
    assert_eq!(empty.calls.total_calls(), 0, "the flag wins without a call");

    let c = clients("ap-northeast-1").await;
    let cluster = unique("io-vpc");
    let own = format!("kubernetes.io/cluster/{cluster}");
    let mut vpcs = Vec::new();
    for octet in [48, 49] {
        let vpc = create_vpc(&c, &format!("10.{octet}.0.0/16")).await;
        create_subnet(
            &c,
            &vpc,
            &format!("10.{octet}.1.0/24"),
            "ap-northeast-1a",
            &[ELB_ROLE, (&own, "shared")],
        )
        .await;
        vpcs.push(vpc);
    }
    vpcs.sort();
    assert_eq!(
        resolve_vpc(&c, &cluster, None)
            .await
            .unwrap_err()
            .to_string(),
        format!(
            "cannot tell the VPC of cluster {cluster}: subnets tagged for load balancers are in \
             several VPCs ({}); pass --vpc-id to choose one",
            vpcs.join(", ")
        )
    );
    let single = unique("io-vpc1");
    let vpc = create_vpc(&c, "10.50.0.0/16").await;
    let tag = format!("kubernetes.io/cluster/{single}");
    create_subnet(
        &c,
        &vpc,
        "10.50.1.0/24",
        "ap-northeast-1c",
        &[("kubernetes.io/role/internal-elb", ""), (&tag, "owned")],
    )
    .await;
    assert_eq!(resolve_vpc(&c, &single, None).await.unwrap(), vpc);
}

#[tokio::test]
async fn modifications_observe_back_as_requested() {
    let env = env("us-west-1", 51, ["us-west-1a", "us-west-1b"], "io-mod").await;
    let web = web_changes(&env, "mod").await;
    let report = execute(&env.c, &web.changes, &ExecuteOptions::default()).await;
    assert_all_done(&web.changes, &report);
    let before = observe_one(&env, STACK).await;
    let stack = &before.stacks[STACK];
    let lb = &stack.load_balancers[0];
    let (l80, l443) = (&lb.listeners[0], &lb.listeners[1]);
    let rule = |p: u32| {
        l80.rules
            .iter()
            .find(|r| r.priority == p)
            .unwrap()
            .arn
            .clone()
    };
    let app = report.created[&keys::target_group(STACK, TG_APP)].clone();
    let api = report.created[&keys::target_group(STACK, TG_API)].clone();
    let frontend = report.created[&keys::frontend_sg(STACK)].clone();
    let other_a = create_subnet(&env.c, &env.vpc, "10.51.3.0/24", "us-west-1a", &[]).await;
    let mut new_subnets = vec![other_a, env.by_zone[1].clone()];
    new_subnets.sort();

    let v2 = vec![ConditionSpec::PathPattern {
        values: vec!["/v2/*".into()],
    }];
    let unavailable = vec![ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "503".into(),
        content_type: None,
        message_body: None,
    })];
    let to_https = vec![ActionSpec::Redirect(RedirectSpec {
        protocol: "HTTPS".into(),
        port: "443".into(),
        host: "#{host}".into(),
        path: "/#{path}".into(),
        query: "#{query}".into(),
        status_code: "HTTP_302".into(),
    })];
    let hc = HealthCheckSpec {
        protocol: Protocol::Http,
        port: "8081".into(),
        path: "/live".into(),
        interval_seconds: 20,
        timeout_seconds: 6,
        healthy_threshold_count: 4,
        unhealthy_threshold_count: 5,
        matcher: MatcherSpec {
            http_code: Some("200".into()),
            grpc_code: None,
        },
    };
    let m = |resource: &str, op: Op| change(STACK, resource, ChangeKind::Modify, op);
    let changes = vec![
        m(
            "rule 2",
            Op::ModifyRule {
                arn: rule(2),
                conditions: v2.clone(),
                actions: unavailable.clone(),
                transforms: vec![],
                reset_transforms: false,
            },
        ),
        m(
            "rules",
            Op::SetRulePriorities {
                priorities: [(rule(1), 10), (rule(3), 11)].into(),
            },
        ),
        m(
            "listener 80",
            Op::ModifyListener {
                arn: l80.arn.clone(),
                listener: ListenerSettings {
                    port: 80,
                    protocol: "HTTP".into(),
                    ssl_policy: None,
                    default_certificate: None,
                    default_actions: to_https.clone(),
                    alpn_policy: None,
                    mutual_authentication: None,
                },
            },
        ),
        m(
            "listener 443",
            Op::RemoveListenerCertificates {
                listener: l443.arn.clone(),
                certificates: vec![web.certs[1].clone()],
            },
        ),
        m(
            "target group app",
            Op::ModifyTargetGroup {
                target_group: Ref::Existing(app.clone()),
                health_check: hc.clone(),
            },
        ),
        change(
            STACK,
            "target group app",
            ChangeKind::Deregister,
            Op::DeregisterTargets {
                target_group: app.clone(),
                targets: vec![target("10.9.1.10")],
            },
        ),
        m(
            "load balancer",
            Op::SetSecurityGroups {
                load_balancer: Ref::Existing(lb.arn.clone()),
                security_groups: vec![Ref::Existing(frontend.clone())],
            },
        ),
        m(
            "load balancer",
            Op::SetSubnets {
                load_balancer: Ref::Existing(lb.arn.clone()),
                subnets: new_subnets.clone(),
            },
        ),
        m(
            "load balancer",
            Op::SetIpAddressType {
                load_balancer: Ref::Existing(lb.arn.clone()),
                ip_address_type: "dualstack".into(),
            },
        ),
        m(
            "load balancer",
            Op::ModifyLoadBalancerAttributes {
                load_balancer: Ref::Existing(lb.arn.clone()),
                attributes: tags(&[("idle_timeout.timeout_seconds", "30")]),
            },
        ),
        m(
            "load balancer",
            Op::AddTags {
                resource: lb.arn.clone(),
                tags: tags(&[("team", "web")]),
            },
        ),
        m(
            "target group api",
            Op::RemoveTags {
                resource: api.clone(),
                keys: vec![INGRESS_RESOURCE.into()],
            },
        ),
        m(
            "security group frontend",
            Op::RevokeSecurityGroupIngress {
                group: frontend.clone(),
                permissions: vec![web.frontend_perms[0].clone()],
            },
        ),
        m(
            "security group frontend",
            Op::Ec2CreateTags {
                resource: frontend.clone(),
                tags: tags(&[("team", "web")]),
            },
        ),
        m(
            "security group frontend",
            Op::Ec2DeleteTags {
                resource: frontend.clone(),
                keys: vec![INGRESS_RESOURCE.into()],
            },
        ),
    ];
    env.c.calls.reset();
    let r = execute(&env.c, &changes, &ExecuteOptions::default()).await;
    assert_all_done(&changes, &r);
    assert_eq!(env.c.calls.total_calls(), changes.len() as u64);

    let after = observe_one(&env, STACK).await;
    let stack = &after.stacks[STACK];
    let lb = &stack.load_balancers[0];
    let cl = env.cluster.as_str();
    assert_eq!(lb.security_groups, std::slice::from_ref(&frontend));
    assert_eq!(lb.subnets, new_subnets);
    assert_eq!(lb.ip_address_type, "dualstack");
    assert_eq!(
        lb.attributes
            .get("idle_timeout.timeout_seconds")
            .map(String::as_str),
        Some("30")
    );
    let mut lb_tags = owned(cl, STACK, "LoadBalancer");
    lb_tags.insert("team".into(), "web".into());
    assert_eq!(lb.tags, lb_tags);
    let l80 = &lb.listeners[0];
    assert_eq!(l80.default_actions, to_https);
    let got: Vec<(u32, Vec<ConditionSpec>, Vec<ActionSpec>)> = l80
        .rules
        .iter()
        .map(|r| (r.priority, r.conditions.clone(), r.actions.clone()))
        .collect();
    let (_, c1, a1) = &web.rules[0];
    let (_, c3, a3) = &web.rules[2];
    assert_eq!(
        got,
        [
            (2, v2, unavailable),
            (10, c1.clone(), resolved(a1, STACK, &report.created)),
            (11, c3.clone(), a3.clone()),
        ]
    );
    assert_eq!(
        lb.listeners[1].certificates,
        [web.certs[0].clone(), web.certs[2].clone()]
    );
    let app_tg = stack.target_groups.iter().find(|t| t.arn == app).unwrap();
    assert_eq!(app_tg.health_check, hc);
    assert_eq!(app_tg.targets, [target("10.9.2.10")]);
    let api_tg = stack.target_groups.iter().find(|t| t.arn == api).unwrap();
    assert_eq!(
        api_tg.tags,
        tags(&[(CLUSTER, cl), (INGRESS_STACK, STACK)]),
        "still owned without its resource tag"
    );
    let sg = &stack.security_groups[0];
    let mut want = web.frontend_perms[1..].to_vec();
    want.sort();
    assert_eq!(sg.ingress, want);
    assert_eq!(
        sg.tags,
        tags(&[(CLUSTER, cl), (INGRESS_STACK, STACK), ("team", "web")])
    );
}
