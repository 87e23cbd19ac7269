//! The controller end to end: `controller::start` against the in-process API server fixture
//! (`apiserver`) and LocalStack. Each test runs in a LocalStack account of its own, so AWS call
//! counts are exact and Route53 zones don't collide.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::aws::route53::list_records;
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::controller::leader::LeaderConfig;
use aws_lb_operator::controller::reconciler::Settings;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator_core::dns::DnsOptions;
use aws_lb_operator_core::planner::ObservedStack;
use aws_lb_operator_core::translate::BuildConfig;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::localstack;

const REGION: &str = "ap-southeast-5";

struct World {
    server: ApiServer,
    env: Env,
    zone_id: String,
}

impl World {
    async fn new(name: &str, account: u32, cidr16: u8) -> Self {
        aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
        let clients = localstack::account_clients(REGION, account).await;
        let env = env_with(clients, REGION, name, cidr16).await;
        let zone = env
            .clients
            .route53
            .create_hosted_zone()
            .name("example.com")
            .caller_reference(localstack::unique(name))
            .send()
            .await
            .unwrap();
        let zone_id = zone
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        let server = ApiServer::start().await;
        Self {
            server,
            env,
            zone_id,
        }
    }

    /// Loads an example's objects into the API server.
    fn load(&self, example: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(example);
        let snap = load_snapshot(&[dir]).unwrap();
        let mut namespaces: Vec<String> = Vec::new();
        for i in &snap.ingresses {
            namespaces.push(i.metadata.namespace.clone().unwrap());
        }
        namespaces.sort();
        namespaces.dedup();
        for ns in namespaces {
            self.server.apply(&Namespace {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(ns),
                    ..Default::default()
                },
                ..Default::default()
            });
        }
        for c in &snap.ingress_classes {
            self.server.apply(c);
        }
        for s in &snap.services {
            self.server.apply(s);
        }
        for e in &snap.endpoint_slices {
            self.server.apply(e);
        }
        for i in &snap.ingresses {
            self.server.apply(i);
        }
    }

    fn settings(&self) -> Settings {
        settings(&self.env, Some(&self.zone_id))
    }

    async fn controller(&self, aws: AwsClients, leader: Option<LeaderConfig>, id: &str) -> Running {
        start(Deps {
            client: self.server.client(),
            aws,
            settings: self.settings(),
            namespaces: Vec::new(),
            leader,
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            identity: id.to_owned(),
            shutdown_timeout: Duration::from_secs(30),
        })
        .await
        .unwrap()
    }

    async fn observed(&self) -> std::collections::BTreeMap<String, ObservedStack> {
        observe(
            &self.env.clients,
            &self.env.cluster,
            &self.env.vpc,
            &Default::default(),
            true,
        )
        .await
        .unwrap()
        .stacks
    }

    async fn records(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = list_records(&self.env.clients, &self.zone_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.record_type != "SOA" && r.record_type != "NS")
            .map(|r| (r.name, r.record_type))
            .collect();
        out.sort();
        out
    }

    /// Waits until the seed Ingress has its address and its four records (two A, two TXT).
    async fn served(&self) {
        eventually(60, "the status hostname", || async {
            self.ingress("shop", "storefront")
                .as_ref()
                .and_then(hostname)
                .is_some()
        })
        .await;
        eventually(10, "DNS records", || async {
            self.records().await.len() == 4
        })
        .await;
    }

    fn ingress(&self, ns: &str, name: &str) -> Option<Ingress> {
        self.server.get::<Ingress>(ns, name)
    }

    fn events(&self, name: &str, reason: &str) -> Vec<Value> {
        self.server
            .list_objects("events.k8s.io/v1", "Event")
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
            .collect()
    }
}

/// Polls `check` every 100 ms until it holds or `secs` pass.
/// The controller settings the end-to-end suites run with: `env`'s cluster and VPC, 2 workers,
/// 50 stacks per pass, a 100 ms target batch window; Route53 managed in `zone_id` only, or not
/// at all without one.
pub(crate) fn settings(env: &Env, zone_id: Option<&str>) -> Settings {
    let dns = zone_id.map(|zone| {
        let mut dns = DnsOptions::new(&env.cluster);
        dns.zone_id_filter = vec![zone.to_owned()];
        dns
    });
    Settings {
        cluster: env.cluster.clone(),
        vpc_id: Some(env.vpc.clone()),
        build: BuildConfig::new(&env.cluster),
        dns,
        concurrency: 2,
        max_stacks_per_pass: 50,
        sync_period: Duration::from_secs(600),
        target_batch_window: Duration::from_millis(100),
        dry_run: false,
        unrestricted_sg_rules: false,
        backoff: Default::default(),
        gateway_discovery_period: Duration::from_secs(1),
    }
}

pub(crate) async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn hostname(ing: &Ingress) -> Option<String> {
    ing.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .hostname
        .clone()
}

fn mutating(c: &AwsClients) -> std::collections::BTreeMap<String, u64> {
    c.calls.mutating_by_operation()
}

/// The frontend EndpointSlice with `ready` endpoints 10.0.3.x (x in `ready`) added.
fn with_endpoints(slice: &EndpointSlice, extra: &[(&str, bool)]) -> EndpointSlice {
    let mut v = serde_json::to_value(slice).unwrap();
    let eps = v["endpoints"].as_array_mut().unwrap();
    for (ip, ready) in extra {
        eps.push(json!({"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": false}}));
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn seed_lifecycle_create_scale_edit_delete() {
    let w = World::new("e2e-seed", 5600, 80).await;
    w.load("seed");
    let running = w.controller(w.env.clients.clone(), None, "e2e-1").await;

    // Create: ALB, rules, targets, DNS; status hostname, finalizer, success event.
    eventually(60, "the Ingress status hostname", || async {
        w.ingress("shop", "storefront")
            .as_ref()
            .and_then(hostname)
            .is_some()
    })
    .await;
    let ing = w.ingress("shop", "storefront").unwrap();
    assert_eq!(
        ing.metadata.finalizers.clone().unwrap_or_default(),
        vec!["ingress.k8s.aws/resources"]
    );
    let observed = w.observed().await;
    let stack = &observed["shop/storefront"];
    let lb = &stack.load_balancers[0];
    assert_eq!(hostname(&ing).unwrap(), lb.dns_name);
    assert_eq!(lb.listeners.len(), 1);
    assert_eq!(
        lb.listeners[0].rules.len(),
        4,
        "{:?}",
        lb.listeners[0].rules
    );
    eventually(10, "DNS records", || async {
        w.records().await
            == vec![
                ("*.shop.example.com".into(), "A".into()),
                ("a-*.shop.example.com".into(), "TXT".into()),
                ("a-shop.example.com".into(), "TXT".into()),
                ("shop.example.com".into(), "A".into()),
            ]
    })
    .await;
    assert!(!w.events("storefront", "SuccessfullyReconciled").is_empty());

    // Scale the frontend up by two pods (one not ready) and wait: only target calls.
    w.env.clients.calls.reset();
    let slice = w
        .server
        .get::<EndpointSlice>("shop", "frontend-7x2kq")
        .unwrap();
    w.server.apply(&with_endpoints(
        &slice,
        &[("10.0.3.1", true), ("10.0.3.2", false)],
    ));
    eventually(10, "RegisterTargets", || async {
        mutating(&w.env.clients).contains_key("elbv2.RegisterTargets")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mutating(&w.env.clients),
        [("elbv2.RegisterTargets".to_owned(), 1)].into(),
        "only the ready pod is registered"
    );
    // Scale back down: exactly one DeregisterTargets.
    w.env.clients.calls.reset();
    w.server.apply(&slice);
    eventually(10, "DeregisterTargets", || async {
        mutating(&w.env.clients).contains_key("elbv2.DeregisterTargets")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mutating(&w.env.clients),
        [("elbv2.DeregisterTargets".to_owned(), 1)].into()
    );
    // An endpoint turning not-ready is deregistered.
    w.env.clients.calls.reset();
    let mut v = serde_json::to_value(&slice).unwrap();
    v["endpoints"][0]["conditions"]["ready"] = json!(false);
    w.server.apply_object(v);
    eventually(10, "the not-ready endpoint deregistered", || async {
        mutating(&w.env.clients).contains_key("elbv2.DeregisterTargets")
    })
    .await;

    // Change a path: the minimal change (one ModifyRule), no DNS change, and the load
    // balancer's desired-state hash brought up to date (one AddTags).
    let hash_of = |o: std::collections::BTreeMap<String, ObservedStack>| {
        o.values().flat_map(|s| &s.load_balancers).find_map(|lb| {
            lb.tags
                .get(aws_lb_operator_core::planner::trust::DESIRED_HASH_TAG)
                .cloned()
        })
    };
    let hash_before = hash_of(w.observed().await);
    assert!(hash_before.is_some(), "written when the stack was created");
    w.env.clients.calls.reset();
    let mut v = serde_json::to_value(w.ingress("shop", "storefront").unwrap()).unwrap();
    v["spec"]["rules"][2]["http"]["paths"][0]["path"] = json!("/v2/api");
    w.server.apply_object(v);
    eventually(20, "ModifyRule", || async {
        mutating(&w.env.clients).contains_key("elbv2.ModifyRule")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        mutating(&w.env.clients),
        [
            ("elbv2.AddTags".to_owned(), 1),
            ("elbv2.ModifyRule".to_owned(), 1)
        ]
        .into()
    );
    let hash_after = hash_of(w.observed().await);
    assert!(
        hash_after.is_some() && hash_after != hash_before,
        "{hash_before:?} -> {hash_after:?}"
    );
    // Add a host: a rule and its DNS record (with TXT) in one Route53 call.
    w.env.clients.calls.reset();
    let mut v = serde_json::to_value(w.ingress("shop", "storefront").unwrap()).unwrap();
    v["spec"]["rules"].as_array_mut().unwrap().push(json!({
        "host": "new.example.com",
        "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}
    }));
    w.server.apply_object(v);
    eventually(20, "the new host's record", || async {
        w.records()
            .await
            .contains(&("new.example.com".into(), "A".into()))
    })
    .await;
    let m = mutating(&w.env.clients);
    assert_eq!(m.get("route53.ChangeResourceRecordSets"), Some(&1), "{m:?}");
    assert!(
        m.keys()
            .all(|k| k.starts_with("route53.") || k.contains("Rule") || k.contains("Tags")),
        "{m:?}"
    );

    // Delete: records, then the ALB and everything owned; finalizer released; object gone.
    w.env.clients.calls.reset();
    w.server.delete::<Ingress>("shop", "storefront");
    eventually(60, "the Ingress to disappear", || async {
        w.ingress("shop", "storefront").is_none()
    })
    .await;
    let left = w.records().await;
    assert!(left.is_empty(), "{left:?}");
    assert!(w.observed().await.is_empty(), "nothing owned is left");
    let order = w.env.clients.calls.recent_mutations();
    let dns = order
        .iter()
        .position(|o| o == "route53.ChangeResourceRecordSets")
        .unwrap();
    let lb = order
        .iter()
        .position(|o| o == "elbv2.DeleteLoadBalancer")
        .unwrap();
    assert!(dns < lb, "{order:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn restart_in_sync_makes_no_mutating_call() {
    let w = World::new("e2e-restart", 5601, 81).await;
    w.load("seed");
    let first = w.controller(w.env.clients.clone(), None, "e2e-a").await;
    w.served().await;
    first.shutdown().await;
    w.env.clients.calls.reset();
    let second = w.controller(w.env.clients.clone(), None, "e2e-b").await;
    let metrics = second.metrics.clone();
    eventually(30, "a reconcile after restart", || async {
        metrics.counter("aws_lb_operator_reconcile_total", &[("result", "success")]) >= 1
    })
    .await;
    assert_eq!(
        w.env.clients.calls.mutating_calls(),
        0,
        "{:?}",
        mutating(&w.env.clients)
    );
    second.shutdown().await;
}

#[tokio::test]
async fn a_bad_member_gets_a_warning_and_the_rest_of_its_group_is_served_and_moves_work() {
    let w = World::new("e2e-group", 5602, 82).await;
    w.load("seed");
    let grouped = |name: &str, group: &str, path: &str, extra: &[(&str, &str)]| {
        let mut annotations = serde_json::Map::new();
        annotations.insert("alb.ingress.kubernetes.io/group.name".into(), json!(group));
        annotations.insert("alb.ingress.kubernetes.io/target-type".into(), json!("ip"));
        annotations.insert(
            "alb.ingress.kubernetes.io/scheme".into(),
            json!("internet-facing"),
        );
        for (k, v) in extra {
            annotations.insert((*k).into(), json!(v));
        }
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
            "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": path,
                "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}}]}
        })
    };
    w.server.apply_object(grouped("one", "g1", "/one", &[]));
    w.server.apply_object(grouped(
        "two",
        "g1",
        "/two",
        &[("alb.ingress.kubernetes.io/waf-acl-id", "web-acl-1")],
    ));
    w.server.apply_object(grouped(
        "bad",
        "g1",
        "/bad",
        &[(
            "alb.ingress.kubernetes.io/healthcheck-interval-seconds",
            "often",
        )],
    ));
    let running = w.controller(w.env.clients.clone(), None, "e2e-g").await;
    eventually(60, "the group's status", || async {
        w.ingress("shop", "one")
            .as_ref()
            .and_then(hostname)
            .is_some()
            && w.ingress("shop", "two")
                .as_ref()
                .and_then(hostname)
                .is_some()
    })
    .await;
    // An annotation that is not implemented: a Warning event naming it, the Ingress still built.
    let unsupported = w.events("two", "UnsupportedAnnotation");
    assert_eq!(unsupported.len(), 1, "{unsupported:?}");
    assert_eq!(
        unsupported[0]["note"],
        "ingress shop/two: annotation alb.ingress.kubernetes.io/waf-acl-id is not implemented by aws-lb-operator and has no effect"
    );
    let warnings = w.events("bad", "FailedBuildModel");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]["note"]
            .as_str()
            .unwrap()
            .contains("healthcheck-interval-seconds"),
        "{warnings:?}"
    );
    assert!(w
        .ingress("shop", "bad")
        .as_ref()
        .and_then(hostname)
        .is_none());
    let rules = |obs: &std::collections::BTreeMap<String, ObservedStack>, id: &str| {
        obs.get(id)
            .and_then(|s| s.load_balancers.first())
            .and_then(|lb| lb.listeners.first())
            .map_or(0, |l| l.rules.len())
    };
    assert_eq!(rules(&w.observed().await, "g1"), 2);

    // Move "two" to group g2: g2 gets an ALB, g1 keeps one rule, finalizers follow.
    let mut v = serde_json::to_value(w.ingress("shop", "two").unwrap()).unwrap();
    v["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.name"] = json!("g2");
    w.server.apply_object(v);
    eventually(60, "the move", || async {
        let obs = w.observed().await;
        rules(&obs, "g1") == 1
            && rules(&obs, "g2") == 1
            && w.ingress("shop", "two").unwrap().metadata.finalizers
                == Some(vec!["group.ingress.k8s.aws/g2".into()])
    })
    .await;
    running.shutdown().await;
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over() {
    let w = World::new("e2e-leader", 5603, 83).await;
    w.load("seed");
    let lease = |id: &str| LeaderConfig {
        namespace: "default".into(),
        name: "aws-lb-operator".into(),
        identity: id.into(),
        lease_duration: Duration::from_secs(2),
        renew_period: Duration::from_millis(500),
    };
    let a_clients = w.env.clients.clone();
    let b_clients = localstack::account_clients(REGION, 5603).await;
    let a = w.controller(a_clients.clone(), Some(lease("a")), "a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = w.controller(b_clients.clone(), Some(lease("b")), "b").await;
    eventually(60, "the status hostname", || async {
        w.ingress("shop", "storefront")
            .as_ref()
            .and_then(hostname)
            .is_some()
    })
    .await;
    let (leader, standby, standby_clients) = if *a.leader.borrow() {
        (a, b, b_clients)
    } else {
        (b, a, a_clients)
    };
    assert!(!*standby.leader.borrow());
    assert_eq!(
        standby_clients.calls.mutating_calls(),
        0,
        "the standby never writes"
    );
    // Kill the leader (no Lease release): the standby takes over within the lease duration.
    leader.kill();
    let took_over = Instant::now();
    eventually(10, "the standby to lead", || async {
        *standby.leader.borrow()
    })
    .await;
    assert!(took_over.elapsed() < Duration::from_secs(5));
    // And it acts: a new endpoint is registered by it.
    let slice = w
        .server
        .get::<EndpointSlice>("shop", "frontend-7x2kq")
        .unwrap();
    w.server
        .apply(&with_endpoints(&slice, &[("10.0.3.9", true)]));
    eventually(30, "the new leader to register", || async {
        standby_clients
            .calls
            .mutating_by_operation()
            .contains_key("elbv2.RegisterTargets")
    })
    .await;
    standby.shutdown().await;
}

#[tokio::test]
async fn a_typo_on_a_live_ingress_keeps_its_load_balancer_and_records_until_fixed() {
    let w = World::new("e2e-typo", 5604, 84).await;
    w.load("seed");
    let running = w.controller(w.env.clients.clone(), None, "e2e-t").await;
    w.served().await;
    let good = serde_json::to_value(w.ingress("shop", "storefront").unwrap()).unwrap();
    let mut bad = good.clone();
    bad["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] = json!("internet-facng");
    w.env.clients.calls.reset();
    w.server.apply_object(bad);
    eventually(10, "the warning", || async {
        !w.events("storefront", "FailedBuildModel").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.env.clients.calls.mutating_calls(),
        0,
        "{:?}",
        mutating(&w.env.clients)
    );
    assert_eq!(w.observed().await.len(), 1, "the ALB stays");
    assert_eq!(w.records().await.len(), 4, "the records stay");
    assert_eq!(
        w.ingress("shop", "storefront").unwrap().metadata.finalizers,
        Some(vec!["ingress.k8s.aws/resources".to_owned()])
    );
    // Fixed: back in sync, nothing to change.
    w.server.apply_object(good);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        w.env.clients.calls.mutating_calls(),
        0,
        "{:?}",
        mutating(&w.env.clients)
    );
    running.shutdown().await;
}

#[tokio::test]
async fn dry_run_writes_nothing_anywhere() {
    let w = World::new("e2e-dry", 5605, 85).await;
    w.load("seed");
    let mut settings = w.settings();
    settings.dry_run = true;
    w.env.clients.calls.reset();
    let running = start(Deps {
        client: w.server.client(),
        aws: w.env.clients.clone(),
        settings,
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "dry".into(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap();
    let metrics = running.metrics.clone();
    eventually(30, "a dry-run pass", || async {
        metrics.counter("aws_lb_operator_reconcile_total", &[("result", "dry-run")]) >= 1
    })
    .await;
    assert_eq!(w.env.clients.calls.mutating_calls(), 0);
    let ing = w.ingress("shop", "storefront").unwrap();
    assert_eq!(ing.metadata.finalizers, None);
    assert_eq!(hostname(&ing), None);
    running.shutdown().await;
}
