//! TargetGroupBindings end to end: `controller::start` against the in-process API server fixture
//! and LocalStack, in an account of its own. Target groups are created with the SDK, untagged
//! for any cluster, as a user's would be; the controller must only ever register and
//! deregister targets in them.
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_lb_operator::aws::elbv2::{describe_tags, find_target_group, registered_targets};
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::controller::reconciler::Settings;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator::crd::TargetGroupBinding;
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

const REGION: &str = "me-central-1";
const NS: &str = "shop";

struct World {
    server: ApiServer,
    env: Env,
    /// The test's own client in the same account, so the controller's calls count exactly.
    user: AwsClients,
}

impl World {
    async fn new(name: &str, account: u32, cidr16: u8) -> Self {
        aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
        let clients = localstack::account_clients(REGION, account).await;
        let env = env_with(clients, REGION, name, cidr16).await;
        Self {
            server: ApiServer::start().await,
            env,
            user: localstack::account_clients(REGION, account).await,
        }
    }

    fn settings(&self) -> Settings {
        settings(&self.env, None)
    }

    async fn controller(&self) -> Running {
        start(Deps {
            client: self.server.client(),
            aws: self.env.clients.clone(),
            settings: self.settings(),
            namespaces: vec![NS.to_owned()],
            leader: None,
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            identity: "tgb-1".to_owned(),
            shutdown_timeout: Duration::from_secs(30),
        })
        .await
        .unwrap()
    }

    /// A target group of the user's: tagged, but not for any cluster.
    async fn target_group(&self, name: &str, target_type: TargetTypeEnum) -> String {
        let out = self
            .user
            .elbv2
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&self.env.vpc)
            .target_type(target_type)
            .tags(
                aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                    .key("team")
                    .value("payments")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_owned()
    }

    /// Registered targets that are not draining, as `id:port`.
    async fn targets(&self, arn: &str) -> BTreeSet<String> {
        registered_targets(&self.user.elbv2, arn)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.state != "draining")
            .map(|t| format!("{}:{}", t.target.id, t.target.port))
            .collect()
    }

    fn binding(&self, name: &str) -> Option<TargetGroupBinding> {
        self.server.get::<TargetGroupBinding>(NS, name)
    }

    /// `(status, reason)` of the binding's `Ready` condition, and whether its observed
    /// generation is current.
    fn ready(&self, name: &str) -> Option<(String, String, bool)> {
        let tgb = self.binding(name)?;
        let status = tgb.status?;
        let c = status.conditions.iter().find(|c| c.type_ == "Ready")?;
        Some((
            c.status.clone(),
            c.reason.clone(),
            status.observed_generation == tgb.metadata.generation
                && c.observed_generation == tgb.metadata.generation,
        ))
    }

    fn events(&self, name: &str, reason: &str) -> Vec<Value> {
        self.server
            .list_objects("events.k8s.io/v1", "Event")
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
            .collect()
    }

    /// Registers `ip:8080` as another party would.
    async fn register_foreign(&self, arn: &str, ip: &str) {
        self.user
            .elbv2
            .register_targets()
            .target_group_arn(arn)
            .targets(TargetDescription::builder().id(ip).port(8080).build())
            .send()
            .await
            .unwrap();
    }

    fn calls(&self) -> BTreeMap<String, u64> {
        self.env.clients.calls.by_operation()
    }

    fn slice(&self, endpoints: &[(&str, bool)]) {
        self.slice_in(NS, endpoints);
    }

    fn slice_in(&self, ns: &str, endpoints: &[(&str, bool)]) {
        let eps: Vec<Value> = endpoints
            .iter()
            .map(|(ip, ready)| json!({"addresses": [ip], "conditions": {"ready": ready}}))
            .collect();
        self.server.apply_object(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": ns,
                "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps,
        }));
    }

    fn service_in(&self, ns: &str) {
        self.server.apply_object(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"type": "NodePort", "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}
            ]},
        }));
    }

    fn tgb(&self, name: &str, spec: Value) {
        self.tgb_in(NS, name, spec);
    }

    /// Creates a binding, or replaces its spec as `kubectl apply` would (metadata, finalizers
    /// included, and status kept).
    fn tgb_in(&self, ns: &str, name: &str, spec: Value) {
        let api_version = "elbv2.k8s.aws/v1beta1";
        let object = match self
            .server
            .get_object(api_version, "TargetGroupBinding", ns, name)
        {
            Some(mut existing) => {
                existing["spec"] = spec;
                existing
            }
            None => json!({
                "apiVersion": api_version, "kind": "TargetGroupBinding",
                "metadata": {"name": name, "namespace": ns},
                "spec": spec,
            }),
        };
        self.server.apply_object(object);
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn node(name: &str, instance: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": format!("aws:///{REGION}a/{instance}")},
    })
}

#[tokio::test]
async fn target_group_bindings_register_scale_report_and_release() {
    let w = World::new("tgb", 5700, 90).await;
    let ip_name = localstack::unique("tgb-ip");
    let inst_name = localstack::unique("tgb-inst");
    let ip_arn = w.target_group(&ip_name, TargetTypeEnum::Ip).await;
    let inst_arn = w.target_group(&inst_name, TargetTypeEnum::Instance).await;
    let fix_arn = w
        .target_group(&localstack::unique("tgb-fix"), TargetTypeEnum::Ip)
        .await;
    // A target registered by someone else before the binding exists.
    w.register_foreign(&ip_arn, "10.90.9.9").await;

    // A Service with two ports (ip targets on the named one, instance on its NodePort), its
    // endpoints, three Nodes, and two bindings: by ARN (type from the target group) and by
    // name (type and node selector given).
    w.service_in(NS);
    w.slice(&[
        ("10.90.1.1", true),
        ("10.90.1.2", true),
        ("10.90.1.3", false),
    ]);
    w.server.apply_object(node(
        "node-a",
        "i-0aaaaaaaaaaaaaaa1",
        json!({"pool": "web"}),
    ));
    w.server.apply_object(node(
        "node-b",
        "i-0aaaaaaaaaaaaaaa2",
        json!({"pool": "web"}),
    ));
    w.server.apply_object(node(
        "node-c",
        "i-0aaaaaaaaaaaaaaa3",
        json!({"pool": "batch"}),
    ));
    w.tgb(
        "web-ip",
        json!({"targetGroupARN": ip_arn, "serviceRef": {"name": "web", "port": "http"}}),
    );
    w.tgb(
        "web-inst",
        json!({"targetGroupName": inst_name, "targetType": "instance",
            "nodeSelector": {"matchLabels": {"pool": "web"}},
            "serviceRef": {"name": "web", "port": 80}}),
    );
    // The same in a namespace the controller does not watch: never touched.
    w.service_in("other");
    w.slice_in("other", &[("10.90.7.7", true)]);
    w.tgb_in(
        "other",
        "web-ip",
        json!({"targetGroupARN": ip_arn, "serviceRef": {"name": "web", "port": 80}}),
    );
    w.env.clients.calls.reset();
    let started = Instant::now();
    let running = w.controller().await;

    // Registered: the ready endpoints (the foreign target is not one), the selected nodes.
    eventually(30, "both bindings Ready", || async {
        w.ready("web-ip") == Some(("True".into(), "Synced".into(), true))
            && w.ready("web-inst") == Some(("True".into(), "Synced".into(), true))
    })
    .await;
    let synced_in = started.elapsed();
    assert_eq!(
        w.targets(&ip_arn).await,
        set(&["10.90.1.1:8080", "10.90.1.2:8080"])
    );
    assert_eq!(
        w.targets(&inst_arn).await,
        set(&["i-0aaaaaaaaaaaaaaa1:30080", "i-0aaaaaaaaaaaaaaa2:30080"])
    );
    for name in ["web-ip", "web-inst"] {
        assert_eq!(
            w.binding(name).unwrap().metadata.finalizers,
            Some(vec!["elbv2.k8s.aws/resources".to_owned()]),
            "{name}"
        );
        assert_eq!(w.events(name, "SuccessfullyReconciled").len(), 1, "{name}");
    }
    assert_eq!(
        w.calls(),
        BTreeMap::from([
            ("elbv2.DeregisterTargets".to_owned(), 1),
            ("elbv2.DescribeTargetGroups".to_owned(), 2),
            ("elbv2.DescribeTargetHealth".to_owned(), 2),
            ("elbv2.RegisterTargets".to_owned(), 2),
        ]),
        "per target group: one lookup, one read, one registration; the foreign target is \
         removed; nothing else"
    );
    let other: TargetGroupBinding = w.server.get("other", "web-ip").unwrap();
    assert_eq!((other.metadata.finalizers, other.status), (None, None));

    // Scale: one pod ready, one gone. Only target calls, no reads of the target groups.
    w.env.clients.calls.reset();
    w.slice(&[("10.90.1.2", true), ("10.90.1.3", true)]);
    eventually(10, "the new endpoint set", || async {
        w.targets(&ip_arn).await == set(&["10.90.1.2:8080", "10.90.1.3:8080"])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        w.calls(),
        BTreeMap::from([
            ("elbv2.DeregisterTargets".to_owned(), 1),
            ("elbv2.RegisterTargets".to_owned(), 1),
        ])
    );
    // A node leaves the selector: only that instance is deregistered.
    w.env.clients.calls.reset();
    w.server.apply_object(node(
        "node-b",
        "i-0aaaaaaaaaaaaaaa2",
        json!({"pool": "batch"}),
    ));
    eventually(10, "node-b deregistered", || async {
        w.targets(&inst_arn).await == set(&["i-0aaaaaaaaaaaaaaa1:30080"])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        w.calls(),
        BTreeMap::from([("elbv2.DeregisterTargets".to_owned(), 1)])
    );

    // Problems: a missing target group and a missing Service are reported on their bindings
    // (Ready=False, one Warning each); the others carry on.
    w.env.clients.calls.reset();
    w.tgb(
        "ghost",
        json!({"targetGroupName": "tgb-does-not-exist", "serviceRef": {"name": "web", "port": 80}}),
    );
    w.tgb(
        "orphan",
        json!({"targetGroupARN": ip_arn, "targetType": "ip",
            "serviceRef": {"name": "nope", "port": 80}}),
    );
    w.tgb(
        "wrong-port",
        json!({"targetGroupARN": fix_arn, "serviceRef": {"name": "web", "port": "https"}}),
    );
    // An ARN that names no target group: read together with wrong-port's (not cached yet), it
    // fails the batch, and each is then read on its own.
    let ghost_arn = format!(
        "{}/ghost-arn/0123456789abcdef",
        ip_arn.split('/').next().unwrap()
    );
    w.tgb(
        "ghost-arn",
        json!({"targetGroupARN": ghost_arn, "serviceRef": {"name": "web", "port": 80}}),
    );
    eventually(10, "the problems reported", || async {
        w.ready("ghost") == Some(("False".into(), "TargetGroupNotFound".into(), true))
            && w.ready("ghost-arn") == Some(("False".into(), "TargetGroupNotFound".into(), true))
            && w.ready("orphan") == Some(("False".into(), "ServiceNotFound".into(), true))
            && w.ready("wrong-port") == Some(("False".into(), "ServicePortNotFound".into(), true))
    })
    .await;
    let ghost_ready = w.binding("ghost-arn").unwrap().status.unwrap().conditions[0].clone();
    assert_eq!(
        ghost_ready.message,
        format!("target group {ghost_arn} not found")
    );
    let ghost = w.binding("ghost").unwrap();
    let ready = &ghost.status.as_ref().unwrap().conditions[0];
    assert_eq!(
        ready.message,
        "target group named \"tgb-does-not-exist\" not found"
    );
    assert_eq!(
        ghost.metadata.finalizers, None,
        "nothing registered, no finalizer"
    );
    let warnings = w.events("ghost", "TargetGroupNotFound");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["type"], "Warning");
    assert_eq!(w.events("orphan", "ServiceNotFound").len(), 1);
    assert_eq!(w.events("wrong-port", "ServicePortNotFound").len(), 1);
    w.slice(&[("10.90.1.3", true), ("10.90.1.4", true)]);
    eventually(10, "endpoints still followed", || async {
        w.targets(&ip_arn).await == set(&["10.90.1.3:8080", "10.90.1.4:8080"])
    })
    .await;
    assert_eq!(
        w.ready("web-ip"),
        Some(("True".into(), "Synced".into(), true))
    );
    let m = w.env.clients.calls.mutating_by_operation();
    assert_eq!(
        m,
        BTreeMap::from([
            ("elbv2.DeregisterTargets".to_owned(), 1),
            ("elbv2.RegisterTargets".to_owned(), 1),
        ]),
        "the broken bindings change nothing"
    );
    // Fixing the Service reference makes the binding Ready (a new generation).
    w.tgb(
        "wrong-port",
        json!({"targetGroupARN": fix_arn, "serviceRef": {"name": "web", "port": "http"}}),
    );
    eventually(10, "wrong-port fixed", || async {
        w.ready("wrong-port") == Some(("True".into(), "Synced".into(), true))
    })
    .await;
    assert_eq!(
        w.targets(&fix_arn).await,
        set(&["10.90.1.3:8080", "10.90.1.4:8080"])
    );
    assert_eq!(
        w.binding("wrong-port").unwrap().metadata.generation,
        Some(2)
    );
    // Pointed at another target group: registered there, released in the first one.
    let move_arn = w
        .target_group(&localstack::unique("tgb-move"), TargetTypeEnum::Ip)
        .await;
    w.tgb(
        "wrong-port",
        json!({"targetGroupARN": move_arn, "serviceRef": {"name": "web", "port": "http"}}),
    );
    eventually(10, "the move", || async {
        w.targets(&move_arn).await == set(&["10.90.1.3:8080", "10.90.1.4:8080"])
            && w.targets(&fix_arn).await.is_empty()
    })
    .await;

    // Someone else registers a target meanwhile; deleting the binding deregisters only the
    // binding's own targets, releases the finalizer, and the object goes.
    w.register_foreign(&ip_arn, "10.90.9.8").await;
    for name in ["orphan", "web-ip", "ghost"] {
        w.server.delete::<TargetGroupBinding>(NS, name);
    }
    eventually(10, "the bindings gone", || async {
        w.binding("web-ip").is_none()
            && w.binding("ghost").is_none()
            && w.binding("orphan").is_none()
    })
    .await;
    assert_eq!(w.targets(&ip_arn).await, set(&["10.90.9.8:8080"]));
    w.server.delete::<TargetGroupBinding>(NS, "web-inst");
    w.server.delete::<TargetGroupBinding>(NS, "wrong-port");
    eventually(10, "the instance bindings gone", || async {
        w.binding("web-inst").is_none() && w.binding("wrong-port").is_none()
    })
    .await;
    assert_eq!(w.targets(&inst_arn).await, BTreeSet::new());
    assert_eq!(w.targets(&fix_arn).await, BTreeSet::new());
    assert_eq!(w.targets(&move_arn).await, BTreeSet::new());

    // The target groups are still there, their tags untouched; nothing but targets changed.
    for (arn, name) in [(&ip_arn, &ip_name), (&inst_arn, &inst_name)] {
        let tg = find_target_group(&w.user.elbv2, Some(arn), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&tg.name, name);
    }
    let tags = describe_tags(&w.user.elbv2, &[ip_arn.clone(), inst_arn.clone()])
        .await
        .unwrap();
    for arn in [&ip_arn, &inst_arn] {
        assert_eq!(
            tags[arn],
            BTreeMap::from([("team".to_owned(), "payments".to_owned())])
        );
    }
    let ops: BTreeSet<String> = w
        .env
        .clients
        .calls
        .mutating_by_operation()
        .into_keys()
        .collect();
    assert!(
        ops.iter()
            .all(|o| o == "elbv2.RegisterTargets" || o == "elbv2.DeregisterTargets"),
        "{ops:?}"
    );
    eprintln!("bindings synced {synced_in:?} after start");
    running.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_controller_leaves_bindings_alone() {
    let w = World::new("tgb-dry", 5701, 91).await;
    let arn = w
        .target_group(&localstack::unique("tgb-dry"), TargetTypeEnum::Ip)
        .await;
    w.server.apply_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }));
    w.slice(&[("10.91.1.1", true)]);
    w.tgb(
        "web",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80}}),
    );
    let mut settings = w.settings();
    settings.dry_run = true;
    let aws: AwsClients = w.env.clients.clone();
    w.env.clients.calls.reset();
    let running = start(Deps {
        client: w.server.client(),
        aws,
        settings,
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "tgb-dry".to_owned(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap();
    eventually(10, "the caches synced", || async {
        running.metrics.ready.get() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(w.env.clients.calls.total_calls(), 0);
    let tgb = w.binding("web").unwrap();
    assert_eq!((tgb.metadata.finalizers, tgb.status), (None, None));
    running.shutdown().await;
}

/// A security group in the world's VPC with `tags`.
async fn security_group(w: &World, name: &str, tags: &[(&str, &str)]) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let mut req = w
        .user
        .ec2
        .create_security_group()
        .group_name(localstack::unique(name))
        .description(name)
        .vpc_id(&w.env.vpc);
    if !tags.is_empty() {
        req = req.tag_specifications(spec.build());
    }
    req.send().await.unwrap().group_id().unwrap().to_owned()
}

/// A network interface holding `ip` in the world's first subnet, with `groups`.
async fn interface(w: &World, ip: &str, groups: &[&str]) {
    let mut req = w
        .user
        .ec2
        .create_network_interface()
        .subnet_id(&w.env.subnets[0])
        .private_ip_address(ip);
    for g in groups {
        req = req.groups(*g);
    }
    req.send().await.unwrap();
}

/// The ingress permissions of a group as `protocol from-to source [description]`.
async fn permissions(w: &World, group: &str) -> BTreeSet<String> {
    let out = w
        .user
        .ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .unwrap();
    let mut perms = BTreeSet::new();
    for p in out.security_groups()[0].ip_permissions() {
        let head = format!(
            "{} {}-{}",
            p.ip_protocol().unwrap_or_default(),
            p.from_port().unwrap_or(-1),
            p.to_port().unwrap_or(-1)
        );
        for r in p.ip_ranges() {
            perms.insert(format!(
                "{head} {} [{}]",
                r.cidr_ip().unwrap_or_default(),
                r.description().unwrap_or_default()
            ));
        }
        for g in p.user_id_group_pairs() {
            perms.insert(format!(
                "{head} {} [{}]",
                g.group_id().unwrap_or_default(),
                g.description().unwrap_or_default()
            ));
        }
    }
    perms
}

#[tokio::test]
async fn binding_networking_opens_the_targets_groups_and_removes_only_its_own_permissions() {
    use aws_sdk_ec2::types::{IpPermission, IpRange};
    let w = World::new("tgb-net", 5710, 93).await;
    let arn = w
        .target_group(&localstack::unique("tgb-net"), TargetTypeEnum::Ip)
        .await;
    let other_arn = w
        .target_group(&localstack::unique("tgb-net2"), TargetTypeEnum::Ip)
        .await;
    let bad_arn = w
        .target_group(&localstack::unique("tgb-net3"), TargetTypeEnum::Ip)
        .await;
    let own_tag = format!("kubernetes.io/cluster/{}", w.env.cluster);
    // Pod 1's interface has one group; pod 2's has two, of which one is tagged for the
    // cluster (that one is the endpoint group, as LBC picks it). (Both endpoint groups carry
    // the tag: the IAM policy allows ingress changes only on the cluster's groups.)
    let node_a = security_group(&w, "node-a", &[(own_tag.as_str(), "shared")]).await;
    let node_b = security_group(&w, "node-b", &[(own_tag.as_str(), "owned")]).await;
    let extra = security_group(&w, "extra", &[]).await;
    let lb = security_group(&w, "lb", &[]).await;
    interface(&w, "10.93.0.50", &[&node_a]).await;
    interface(&w, "10.93.0.51", &[&extra, &node_b]).await;
    // Permissions that are not ours: one carrying LBC's label (added by someone else), one
    // by hand.
    let label = "elbv2.k8s.aws/targetGroupBinding=shared";
    w.user
        .ec2
        .authorize_security_group_ingress()
        .group_id(&node_a)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description(label)
                        .build(),
                )
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("10.0.0.0/8")
                        .description("by hand")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let foreign = set(&[
        "tcp 22-22 0.0.0.0/0 [elbv2.k8s.aws/targetGroupBinding=shared]",
        "tcp 22-22 10.0.0.0/8 [by hand]",
    ]);
    assert_eq!(permissions(&w, &node_a).await, foreign);

    w.server.apply_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }));
    w.slice(&[("10.93.0.50", true), ("10.93.0.51", true)]);
    let networking = |port: i64| {
        json!({"ingress": [{
            "from": [{"securityGroup": {"groupID": lb}}, {"ipBlock": {"cidr": "10.93.0.0/16"}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }]})
    };
    w.tgb(
        "web",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80},
            "networking": networking(8080)}),
    );
    let running = w.controller().await;

    let opened = |port: u16| {
        set(&[
            &format!("tcp {port}-{port} {lb} [{label}]"),
            &format!("tcp {port}-{port} 10.93.0.0/16 [{label}]"),
        ])
    };
    let with = |a: &BTreeSet<String>, b: &BTreeSet<String>| -> BTreeSet<String> {
        a.union(b).cloned().collect()
    };
    eventually(30, "both endpoint groups opened", || async {
        permissions(&w, &node_a).await == with(&foreign, &opened(8080))
            && permissions(&w, &node_b).await == opened(8080)
    })
    .await;
    eventually(10, "Ready", || async {
        w.ready("web") == Some(("True".into(), "Synced".into(), true))
    })
    .await;
    assert!(
        permissions(&w, &extra).await.is_empty(),
        "the untagged second group of an interface is left alone"
    );
    assert!(w.events("web", "FailedNetworkReconcile").is_empty());
    // A change that moves no target and no permission costs no call (the interfaces are
    // cached, the permissions remembered).
    tokio::time::sleep(Duration::from_millis(500)).await;
    w.env.clients.calls.reset();
    w.slice(&[
        ("10.93.0.50", true),
        ("10.93.0.51", true),
        ("10.93.0.99", false),
    ]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(w.calls(), BTreeMap::new());

    // The port changes: the new permissions come, ours for the old port go.
    w.tgb(
        "web",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80},
            "networking": networking(9090)}),
    );
    eventually(20, "moved to 9090", || async {
        permissions(&w, &node_a).await == with(&foreign, &opened(9090))
            && permissions(&w, &node_b).await == opened(9090)
    })
    .await;

    // A second binding on the same pods from the same group: LBC's restricted rules merge
    // the ports of one source into one range.
    w.tgb(
        "web-admin",
        json!({"targetGroupARN": other_arn, "serviceRef": {"name": "web", "port": 80},
            "networking": {"ingress": [{"from": [{"securityGroup": {"groupID": lb}}],
                "ports": [{"port": 9100}]}]}}),
    );
    let merged = set(&[
        &format!("tcp 9090-9100 {lb} [{label}]"),
        &format!("tcp 9090-9090 10.93.0.0/16 [{label}]"),
    ]);
    eventually(20, "one range from the load balancer group", || async {
        permissions(&w, &node_b).await == merged
    })
    .await;
    // An invalid rule is a warning on its binding; the others keep what they have.
    w.tgb(
        "web-bad",
        json!({"targetGroupARN": bad_arn, "serviceRef": {"name": "web", "port": 80},
            "networking": {"ingress": [{"from": [{"securityGroup": {"groupID": lb}}],
                "ports": [{"port": "http"}]}]}}),
    );
    eventually(20, "the warning", || async {
        w.events("web-bad", "FailedNetworkReconcile").iter().any(|e| {
            e["note"]
                == "spec.networking.ingress[0].ports[0].port: named port \"http\" is not supported: use the port number"
        })
    })
    .await;
    assert_eq!(permissions(&w, &node_b).await, merged);
    w.server.delete::<TargetGroupBinding>(NS, "web-bad");
    w.server.delete::<TargetGroupBinding>(NS, "web-admin");
    eventually(20, "back to the first binding's permissions", || async {
        permissions(&w, &node_b).await == opened(9090)
    })
    .await;

    // Instance targets: the node's primary network interface decides.
    let node_i = security_group(&w, "node-i", &[(own_tag.as_str(), "owned")]).await;
    let instance = w
        .user
        .ec2
        .run_instances()
        .image_id("ami-12345678")
        .min_count(1)
        .max_count(1)
        .subnet_id(&w.env.subnets[0])
        .security_group_ids(&node_i)
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    w.server.apply_object(node("node-i", &instance, json!({})));
    w.server.apply_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web-np", "namespace": NS},
        "spec": {"type": "NodePort", "ports": [
            {"port": 80, "targetPort": 8080, "nodePort": 30093, "protocol": "TCP"}]},
    }));
    let inst_arn = w
        .target_group(&localstack::unique("tgb-net-i"), TargetTypeEnum::Instance)
        .await;
    w.tgb(
        "web-inst",
        json!({"targetGroupARN": inst_arn, "serviceRef": {"name": "web-np", "port": 80},
            "networking": {"ingress": [{"from": [{"securityGroup": {"groupID": lb}}],
                "ports": [{"protocol": "TCP", "port": 30093}]}]}}),
    );
    eventually(20, "the node's group opened", || async {
        permissions(&w, &node_i).await == set(&[&format!("tcp 30093-30093 {lb} [{label}]")])
    })
    .await;
    w.server.delete::<TargetGroupBinding>(NS, "web-inst");
    eventually(20, "the node's group closed", || async {
        permissions(&w, &node_i).await.is_empty()
    })
    .await;

    // The binding goes: its permissions go with it, nobody else's.
    w.server.delete::<TargetGroupBinding>(NS, "web");
    eventually(20, "the binding released", || async {
        w.binding("web").is_none()
    })
    .await;
    assert_eq!(permissions(&w, &node_a).await, foreign);
    assert!(permissions(&w, &node_b).await.is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn a_binding_with_a_role_to_assume_works_in_the_roles_account() {
    let w = World::new("tgb-role", 5712, 94).await;
    // The target group is in another account, which the cluster's credentials cannot see.
    let other = localstack::account_clients(REGION, 5713).await;
    let other_vpc = localstack::create_vpc(&other, "10.95.0.0/16").await;
    let arn = other
        .elbv2
        .create_target_group()
        .name(localstack::unique("tgb-role"))
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(&other_vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    let role = format!(
        "arn:aws:iam::{}:role/tgb-cross-account",
        localstack::account_id(5713)
    );
    let in_other = |arn: String| {
        let other = other.clone();
        async move {
            registered_targets(&other.elbv2, &arn)
                .await
                .unwrap()
                .into_iter()
                .filter(|t| t.state != "draining")
                .map(|t| format!("{}:{}", t.target.id, t.target.port))
                .collect::<BTreeSet<String>>()
        }
    };
    w.server.apply_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    }));
    w.slice(&[("10.95.1.1", true), ("10.95.1.2", true)]);
    w.tgb(
        "web",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80},
            "iamRoleArnToAssume": role, "assumeRoleExternalId": "shop-1"}),
    );
    // The same target group without the role: not found with the cluster's own credentials.
    w.tgb(
        "web-own",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80}}),
    );
    // A role STS refuses.
    w.tgb(
        "web-bad",
        json!({"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80},
            "iamRoleArnToAssume": "this-is-not-a-role-arn"}),
    );
    w.env.clients.calls.reset();
    let running = w.controller().await;
    eventually(30, "the binding with the role Ready", || async {
        w.ready("web") == Some(("True".into(), "Synced".into(), true))
    })
    .await;
    assert_eq!(
        in_other(arn.clone()).await,
        set(&["10.95.1.1:8080", "10.95.1.2:8080"])
    );
    eventually(10, "the other two failed", || async {
        w.ready("web-own").map(|r| r.1) == Some("TargetGroupNotFound".into())
            && w.ready("web-bad").map(|r| r.1) == Some("FailedAssumeRole".into())
    })
    .await;
    let bad = w.events("web-bad", "FailedAssumeRole");
    assert_eq!(bad.len(), 1, "{bad:?}");
    let note = bad[0]["note"].as_str().unwrap();
    assert!(
        note.starts_with(
            "assuming role this-is-not-a-role-arn for the target group's calls: sts.AssumeRole failed: ValidationError"
        ),
        "{note}"
    );
    // One session for the role; the bad role is tried (and backs off); the cluster's own
    // credentials looked the group up once, for web-own.
    let calls = w.calls();
    assert!(
        calls.get("sts.AssumeRole").copied().unwrap_or(0) >= 2,
        "{calls:?}"
    );
    w.server.delete::<TargetGroupBinding>(NS, "web-bad");
    w.server.delete::<TargetGroupBinding>(NS, "web-own");
    eventually(10, "the failing bindings gone", || async {
        w.binding("web-bad").is_none() && w.binding("web-own").is_none()
    })
    .await;

    // Scaling goes through the cached session: no second AssumeRole.
    w.env.clients.calls.reset();
    w.slice(&[("10.95.1.2", true), ("10.95.1.3", true)]);
    eventually(30, "the new endpoints in the other account", || async {
        in_other(arn.clone()).await == set(&["10.95.1.2:8080", "10.95.1.3:8080"])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.calls(),
        BTreeMap::from([
            ("elbv2.DeregisterTargets".to_owned(), 1),
            ("elbv2.RegisterTargets".to_owned(), 1),
        ])
    );
    // Deleting the binding releases its targets there.
    w.server.delete::<TargetGroupBinding>(NS, "web");
    eventually(20, "released", || async { w.binding("web").is_none() }).await;
    assert!(in_other(arn.clone()).await.is_empty());
    running.shutdown().await;
}

/// A controller of its own cluster (`server`) on the world's AWS account.
async fn controller_on(w: &World, server: &ApiServer, identity: &str) -> Running {
    start(Deps {
        client: server.client(),
        aws: w.env.clients.clone(),
        settings: w.settings(),
        namespaces: vec![NS.to_owned()],
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: identity.to_owned(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap()
}

fn slice_on(server: &ApiServer, ips: &[&str]) {
    let eps: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    server.apply_object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "namespace": NS,
            "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": eps,
    }));
}

/// The tracked targets' ConfigMap of binding `web` on `server`, as LBC reads it.
fn tracked_on(server: &ApiServer) -> Option<BTreeSet<String>> {
    let cm = server.get_object("v1", "ConfigMap", NS, "aws-lbc-targets-web")?;
    let csv = cm["data"]["targets"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Some(
        csv.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

#[tokio::test]
async fn multi_cluster_bindings_keep_their_own_targets_across_restarts() {
    let w = World::new("tgb-multi", 5714, 96).await;
    let arn = w
        .target_group(&localstack::unique("tgb-multi"), TargetTypeEnum::Ip)
        .await;
    // Cluster 1 is the world's API server; cluster 2 has its own, and a ConfigMap LBC wrote
    // there for a target it had registered.
    let two = ApiServer::start().await;
    let binding = json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"targetGroupARN": arn, "serviceRef": {"name": "web", "port": 80},
            "multiClusterTargetGroup": true},
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    });
    w.register_foreign(&arn, "10.96.2.9").await;
    two.apply_object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-lbc-targets-web", "namespace": NS},
        "data": {"targets": "10.96.2.9:8080"},
    }));
    // Someone else's target (a third cluster): never deregistered.
    w.register_foreign(&arn, "10.96.3.1").await;
    for server in [&w.server, &two] {
        server.apply_object(service.clone());
        server.apply_object(binding.clone());
    }
    slice_on(&w.server, &["10.96.1.1", "10.96.1.2"]);
    slice_on(&two, &["10.96.2.1"]);
    let one_ctl = w.controller().await;
    let two_ctl = controller_on(&w, &two, "tgb-multi-2").await;

    eventually(
        30,
        "each cluster's targets, LBC's stale one gone",
        || async {
            w.targets(&arn).await
                == set(&[
                    "10.96.1.1:8080",
                    "10.96.1.2:8080",
                    "10.96.2.1:8080",
                    "10.96.3.1:8080",
                ])
        },
    )
    .await;
    eventually(10, "the ConfigMaps as LBC keeps them", || async {
        tracked_on(&w.server) == Some(set(&["10.96.1.1:8080", "10.96.1.2:8080"]))
            && tracked_on(&two) == Some(set(&["10.96.2.1:8080"]))
    })
    .await;

    // Cluster 1 scales down: only its own target goes.
    slice_on(&w.server, &["10.96.1.2"]);
    eventually(10, "cluster 1 scaled", || async {
        w.targets(&arn).await == set(&["10.96.1.2:8080", "10.96.2.1:8080", "10.96.3.1:8080"])
    })
    .await;
    eventually(10, "its record follows", || async {
        tracked_on(&w.server) == Some(set(&["10.96.1.2:8080"]))
    })
    .await;

    // Cluster 1's controller restarts; its pods change while it is down. The new process
    // knows from the ConfigMap that 10.96.1.2 was its own.
    one_ctl.shutdown().await;
    slice_on(&w.server, &["10.96.1.3"]);
    let one_ctl = controller_on(&w, &w.server, "tgb-multi-1b").await;
    eventually(30, "after the restart", || async {
        w.targets(&arn).await == set(&["10.96.1.3:8080", "10.96.2.1:8080", "10.96.3.1:8080"])
    })
    .await;
    eventually(10, "its record follows", || async {
        tracked_on(&w.server) == Some(set(&["10.96.1.3:8080"]))
    })
    .await;

    // Deleting cluster 2's binding releases only its targets, and its ConfigMap.
    two.delete::<TargetGroupBinding>(NS, "web");
    eventually(20, "cluster 2's binding released", || async {
        two.get::<TargetGroupBinding>(NS, "web").is_none()
    })
    .await;
    assert_eq!(
        w.targets(&arn).await,
        set(&["10.96.1.3:8080", "10.96.3.1:8080"])
    );
    assert_eq!(tracked_on(&two), None);
    one_ctl.shutdown().await;
    two_ctl.shutdown().await;
}
