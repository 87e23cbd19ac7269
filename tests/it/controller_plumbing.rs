//! The controller's plumbing against the in-process API server fixture (and LocalStack for the
//! metrics scrape): `/metrics`, `/healthz`, `/readyz`; Lease election under clock skew; the
//! guarded finalizer patch.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lb_operator::controller::http;
use aws_lb_operator::controller::kube_io::{KubeIo, ObjState, INGRESS_FINALIZER};
use aws_lb_operator::controller::leader::{self, Clock, LeaderConfig, SystemClock};
use aws_lb_operator::controller::metrics::{
    DnsOutcome, EventType, Kind, Metrics, ReconcileResult, TargetPath,
};
use aws_lb_operator::controller::{start, Deps};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::watch;

use crate::apiserver::ApiServer;
use crate::aws_apply::env_with;
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

// ---- /metrics, /healthz, /readyz ----------------------------------------------------------

/// One HTTP/1.1 GET, read until the server closes: (status line, headers, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .expect("the server closes the connection after one response")
        .unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap();
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

/// Label names of every sample, by sample name (`family_bucket`, `family_sum` separately).
fn label_sets(text: &str) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let mut out: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, _) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let names = labels
            .split(',')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap().0.to_owned())
            .collect();
        out.entry(name.to_owned()).or_default().insert(names);
    }
    out
}

/// `# TYPE` of every family.
fn types(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (n, t) = l.split_once(' ').unwrap();
            (n.to_owned(), t.to_owned())
        })
        .collect()
}

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// A family: its name, its `# TYPE`, and the label names of each of its sample names.
type FamilySpec = (&'static str, &'static str, Vec<(&'static str, Vec<String>)>);

/// Every family the controller exposed before this change, with its type and label names:
/// dashboards and alerts are built on them.
fn families_before() -> Vec<FamilySpec> {
    vec![
        (
            "aws_lb_operator_reconcile_total",
            "counter",
            vec![("aws_lb_operator_reconcile_total", v(&["kind", "result"]))],
        ),
        (
            "aws_lb_operator_reconcile_errors_total",
            "counter",
            vec![(
                "aws_lb_operator_reconcile_errors_total",
                v(&["kind", "reason"]),
            )],
        ),
        (
            "aws_lb_operator_target_changes_total",
            "counter",
            vec![(
                "aws_lb_operator_target_changes_total",
                v(&["operation", "path"]),
            )],
        ),
        (
            "aws_lb_operator_dns_changes_total",
            "counter",
            vec![("aws_lb_operator_dns_changes_total", v(&["outcome"]))],
        ),
        (
            "aws_lb_operator_events_total",
            "counter",
            vec![("aws_lb_operator_events_total", v(&["type", "reason"]))],
        ),
        (
            "aws_lb_operator_reconcile_duration_seconds",
            "histogram",
            vec![
                (
                    "aws_lb_operator_reconcile_duration_seconds_bucket",
                    v(&["kind", "le"]),
                ),
                (
                    "aws_lb_operator_reconcile_duration_seconds_sum",
                    v(&["kind"]),
                ),
                (
                    "aws_lb_operator_reconcile_duration_seconds_count",
                    v(&["kind"]),
                ),
            ],
        ),
        (
            "aws_lb_operator_queue_depth",
            "gauge",
            vec![("aws_lb_operator_queue_depth", v(&[]))],
        ),
        (
            "aws_lb_operator_targets_registered",
            "gauge",
            vec![("aws_lb_operator_targets_registered", v(&[]))],
        ),
        (
            "aws_lb_operator_leader",
            "gauge",
            vec![("aws_lb_operator_leader", v(&[]))],
        ),
        (
            "aws_lb_operator_ready",
            "gauge",
            vec![("aws_lb_operator_ready", v(&[]))],
        ),
        // `mutating` is new (a deliberate interface change, see docs/controller.md); the other
        // three labels are as before.
        (
            "aws_lb_operator_aws_api_calls_total",
            "counter",
            vec![(
                "aws_lb_operator_aws_api_calls_total",
                v(&["service", "operation", "outcome", "mutating"]),
            )],
        ),
    ]
}

/// The AWS call latency histogram (new).
fn aws_latency_family() -> FamilySpec {
    (
        "aws_lb_operator_aws_api_call_duration_seconds",
        "histogram",
        vec![
            (
                "aws_lb_operator_aws_api_call_duration_seconds_bucket",
                v(&["service", "operation", "le"]),
            ),
            (
                "aws_lb_operator_aws_api_call_duration_seconds_count",
                v(&["service", "operation"]),
            ),
        ],
    )
}

/// Time waited for the client-side rate limits (new with issue 19): one sample per operation
/// called, 0 when it never waited.
fn aws_rate_limit_wait_family() -> FamilySpec {
    (
        "aws_lb_operator_aws_api_rate_limit_wait_seconds_total",
        "counter",
        vec![(
            "aws_lb_operator_aws_api_rate_limit_wait_seconds_total",
            v(&["service", "operation"]),
        )],
    )
}

/// The AWS HTTP attempts counter (new): attempts above calls are the SDK's retries.
fn aws_attempts_family() -> FamilySpec {
    (
        "aws_lb_operator_aws_api_attempts_total",
        "counter",
        vec![(
            "aws_lb_operator_aws_api_attempts_total",
            v(&["service", "operation"]),
        )],
    )
}

/// Each family is there with its type, and each of its samples has exactly its label names.
fn assert_families(text: &str, families: Vec<FamilySpec>) {
    let types = types(text);
    let sets = label_sets(text);
    for (family, kind, samples) in families {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "# TYPE of {family} in\n{text}"
        );
        for (sample, labels) in samples {
            assert_eq!(
                sets.get(sample),
                Some(&BTreeSet::from([labels])),
                "label names of {sample} in\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn the_http_server_serves_metrics_health_and_readiness_one_request_per_connection() {
    let metrics = Arc::new(Metrics::default());
    // Every family, through the typed methods the controller's call sites use.
    metrics.reconciled(
        Kind::Ingress,
        ReconcileResult::Success,
        Duration::from_millis(40),
    );
    metrics.reconcile_error(Kind::Ingress, "FailedBuildModel");
    let op = aws_lb_operator_core::planner::Op::DeregisterTargets {
        target_group: "arn:tg".into(),
        targets: vec![aws_lb_operator_core::model::TargetSpec {
            id: "10.0.0.9".into(),
            port: 8080,
        }],
    };
    metrics.count_targets(&op, TargetPath::Binding);
    metrics.dns_changes(DnsOutcome::Done, 3);
    metrics.event(EventType::Warning, "FailedDeployModel");
    let (listener, addr) = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let server = tokio::spawn(http::serve(listener, Arc::clone(&metrics), stopped));

    let (status, headers, body) = get(addr, "/readyz").await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body, "watch caches not synced yet\n");
    assert!(
        headers.contains("content-type: text/plain; charset=utf-8"),
        "{headers}"
    );
    metrics.ready.set(1);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ready\n")
    );
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n")
    );
    let (status, _, body) = get(addr, "/nothing-here").await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 404 Not Found", "not found\n")
    );

    let (status, headers, text) = get(addr, "/metrics?x=1").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    assert!(headers.contains("connection: close"), "{headers}");
    // No AWS call was made through this counter: the call counter's family has its type
    // line and no samples yet.
    let mut families = families_before();
    families.retain(|(f, _, _)| *f != "aws_lb_operator_aws_api_calls_total");
    assert_families(&text, families);
    assert!(text
        .lines()
        .any(|l| l == "# TYPE aws_lb_operator_aws_api_calls_total counter"));
    for line in [
        "aws_lb_operator_reconcile_total{kind=\"ingress\",result=\"success\"} 1",
        "aws_lb_operator_target_changes_total{operation=\"deregister\",path=\"binding\"} 1",
        "aws_lb_operator_dns_changes_total{outcome=\"done\"} 3",
        "aws_lb_operator_events_total{type=\"Warning\",reason=\"FailedDeployModel\"} 1",
        "aws_lb_operator_ready 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    // A client that never sends its request head is dropped after 5 s.
    {
        use tokio::io::AsyncReadExt;
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let opened = Instant::now();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(15), idle.read_to_end(&mut rest))
            .await
            .expect("an idle connection is closed by the server");
        let waited = opened.elapsed();
        assert!(
            waited >= Duration::from_millis(4500) && waited < Duration::from_secs(10),
            "closed after {waited:?}"
        );
    }

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops on shutdown")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_running_controller_exposes_every_metric_family_with_its_labels() {
    const REGION: &str = "ap-southeast-5";
    aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
    let clients = localstack::account_clients(REGION, 5910).await;
    let env = env_with(clients, REGION, "plumbing-metrics", 86).await;
    let zone = env
        .clients
        .route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference(localstack::unique("plumbing-metrics"))
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
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let snap = aws_lb_operator::cli::manifests::load_snapshot(&[dir]).unwrap();
    for s in &snap.services {
        server.apply(s);
    }
    for e in &snap.endpoint_slices {
        server.apply(e);
    }
    for c in &snap.ingress_classes {
        server.apply(c);
    }
    for i in &snap.ingresses {
        server.apply(i);
    }
    // One broken Ingress of its own: a rejected object, counted and reported.
    let mut broken = snap.ingresses[0].clone();
    broken.metadata = ObjectMeta {
        name: Some("broken".into()),
        namespace: broken.metadata.namespace.clone(),
        annotations: Some(
            [(
                "alb.ingress.kubernetes.io/scheme".to_owned(),
                "sideways".to_owned(),
            )]
            .into(),
        ),
        ..ObjectMeta::default()
    };
    server.apply(&broken);
    let running = start(Deps {
        client: server.client(),
        aws: env.clients.clone(),
        settings: settings(&env, Some(&zone_id)),
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "plumbing-metrics".into(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap();
    let m = Arc::clone(&running.metrics);
    eventually(90, "a successful ingress reconcile", || async {
        m.counter(
            "aws_lb_operator_reconcile_total",
            &[("kind", "ingress"), ("result", "success")],
        ) >= 1
    })
    .await;
    // Scale the frontend up: the fast path registers the new endpoint.
    let slice = server
        .get::<EndpointSlice>("shop", "frontend-7x2kq")
        .unwrap();
    let mut value = serde_json::to_value(&slice).unwrap();
    value["endpoints"].as_array_mut().unwrap().push(json!({
        "addresses": ["10.0.3.77"],
        "conditions": {"ready": true, "serving": true, "terminating": false}
    }));
    server.apply(&serde_json::from_value::<EndpointSlice>(value).unwrap());
    eventually(30, "the fast path to register a target", || async {
        m.counter(
            "aws_lb_operator_target_changes_total",
            &[("operation", "register"), ("path", "fast")],
        ) >= 1
    })
    .await;

    let (status, _, text) = get(running.metrics_addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut families = families_before();
    families.push(aws_latency_family());
    families.push(aws_rate_limit_wait_family());
    families.push(aws_attempts_family());
    assert_families(&text, families);
    let reason = "FailedBuildModel";
    for line in [
        format!("aws_lb_operator_reconcile_errors_total{{kind=\"ingress\",reason=\"{reason}\"}} "),
        "aws_lb_operator_events_total{type=\"Normal\",reason=\"SuccessfullyReconciled\"} ".into(),
        "aws_lb_operator_dns_changes_total{outcome=\"done\"} ".into(),
        "aws_lb_operator_aws_api_calls_total{service=\"elbv2\",operation=\"CreateLoadBalancer\",outcome=\"success\",mutating=\"true\"} 1".into(),
        "aws_lb_operator_aws_api_calls_total{service=\"elbv2\",operation=\"DescribeLoadBalancers\",outcome=\"success\",mutating=\"false\"} ".into(),
        "aws_lb_operator_aws_api_call_duration_seconds_count{service=\"elbv2\",operation=\"CreateLoadBalancer\"} 1".into(),
        "aws_lb_operator_aws_api_attempts_total{service=\"elbv2\",operation=\"CreateLoadBalancer\"} 1".into(),
        "aws_lb_operator_ready 1".into(),
        "aws_lb_operator_leader 1".into(),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&line)),
            "missing {line:?} in\n{text}"
        );
    }
    // Every AWS call counted is also timed, once.
    let calls: u64 = env.clients.calls.snapshot().values().map(|s| s.calls).sum();
    let timed: u64 = text
        .lines()
        .filter(|l| l.starts_with("aws_lb_operator_aws_api_call_duration_seconds_count{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert!(timed > 0 && timed <= calls, "{timed} timed of {calls}");
    running.shutdown().await;
}

// ---- leader election under clock skew -----------------------------------------------------

/// The system clock, `offset` seconds off.
#[derive(Debug)]
struct Skewed(i64);

impl Clock for Skewed {
    fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(SignedDuration::from_secs(self.0))
            .unwrap()
    }
}

const LEASE: Duration = Duration::from_secs(2);
const RENEW: Duration = Duration::from_millis(250);

struct Elector {
    leading: watch::Receiver<bool>,
    /// Set if this elector ever led.
    ever_led: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    /// Dropping it would stop the election.
    _stop: watch::Sender<bool>,
}

/// A replica `id` electing itself for `lease`, its wall clock given by `clock`.
fn elect(server: &ApiServer, lease: &str, id: &str, clock: Arc<dyn Clock>) -> Elector {
    let cfg = LeaderConfig {
        namespace: "default".into(),
        name: lease.into(),
        identity: id.into(),
        lease_duration: LEASE,
        renew_period: RENEW,
    };
    let (tx, leading) = watch::channel(false);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(leader::run_with_clock(
        server.client(),
        cfg,
        clock,
        tx,
        stopped,
    ));
    let ever_led = Arc::new(AtomicBool::new(false));
    let mut rx = leading.clone();
    let flag = Arc::clone(&ever_led);
    tokio::spawn(async move {
        loop {
            if *rx.borrow_and_update() {
                flag.store(true, Ordering::SeqCst);
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
    Elector {
        leading,
        ever_led,
        task,
        _stop: stop,
    }
}

fn lease_of(server: &ApiServer, name: &str) -> Lease {
    server.get::<Lease>("default", name).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_standby_whose_clock_runs_ahead_never_takes_the_lease_from_a_renewing_leader() {
    let server = ApiServer::start().await;
    let a = elect(&server, "skew-ahead", "a", Arc::new(SystemClock));
    eventually(10, "a to lead", || async { *a.leading.borrow() }).await;
    let first = lease_of(&server, "skew-ahead").spec.unwrap();
    assert_eq!(first.holder_identity.as_deref(), Some("a"));

    let skew = 3600;
    // Judged by renewTime against b's clock, the Lease would look long expired to b.
    let renewed = first.renew_time.clone().unwrap().0;
    let b_now = Skewed(skew).now();
    assert!(renewed.as_second() + 2 < b_now.as_second());

    server.clear_calls();
    let b = elect(&server, "skew-ahead", "b", Arc::new(Skewed(skew)));
    // Three lease durations while b keeps looking.
    let until = Instant::now() + 3 * LEASE;
    while Instant::now() < until {
        let spec = lease_of(&server, "skew-ahead").spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // b did look, many times (a reads once per renewal, each followed by its update).
    let calls = server.calls();
    let count = |verb: &str| {
        calls
            .iter()
            .filter(|c| c.resource == "leases" && c.verb == verb)
            .count()
    };
    assert!(
        count("get") >= count("update") + 10,
        "b's reads: {} gets, {} updates",
        count("get"),
        count("update")
    );
    assert!(
        count("update") >= 8,
        "a renewed: {} updates",
        count("update")
    );
    let spec = lease_of(&server, "skew-ahead").spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.acquire_time, first.acquire_time);
    assert!(*a.leading.borrow());
    assert!(!b.ever_led.load(Ordering::SeqCst), "b never led");
    a.task.abort();
    b.task.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn a_standby_takes_the_lease_once_the_leader_stops_renewing_whatever_its_clock() {
    let server = ApiServer::start().await;
    for skew in [3600, -3600] {
        let lease = format!("skew{skew}");
        let a = elect(&server, &lease, "a", Arc::new(SystemClock));
        eventually(10, "a to lead", || async { *a.leading.borrow() }).await;
        let b = elect(&server, &lease, "b", Arc::new(Skewed(skew)));
        tokio::time::sleep(4 * RENEW).await;
        assert!(!b.ever_led.load(Ordering::SeqCst), "skew {skew}");
        // The leader dies without releasing the Lease.
        a.task.abort();
        let killed = Instant::now();
        eventually(10, "b to lead", || async { *b.leading.borrow() }).await;
        let took = killed.elapsed();
        // b waited for the Lease to expire by its own count, and not much longer.
        assert!(
            took >= LEASE - 2 * RENEW && took <= LEASE + 8 * RENEW,
            "skew {skew}: took over after {took:?}"
        );
        let spec = lease_of(&server, &lease).spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("b"), "skew {skew}");
        assert_eq!(spec.lease_transitions, Some(1), "skew {skew}");
        b.task.abort();
    }
}

// ---- the guarded finalizer patch ----------------------------------------------------------

fn ingress(name: &str) -> Ingress {
    Ingress {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        ..Ingress::default()
    }
}

/// The object as a (possibly lagging) cache would hand it to the reconciler.
fn cached(server: &ApiServer, name: &str) -> ObjState {
    ObjState::ingress(&Arc::new(server.get::<Ingress>("default", name).unwrap()))
}

fn finalizers(server: &ApiServer, name: &str) -> Option<Vec<String>> {
    server
        .get::<Ingress>("default", name)
        .unwrap()
        .metadata
        .finalizers
}

fn status_code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn a_lagging_cache_cannot_add_a_finalizer_twice_or_clobber_another() {
    let server = ApiServer::start().await;
    let kube = KubeIo::new(server.client(), "plumbing", Arc::new(Metrics::default()));
    let group = "group.ingress.k8s.aws/shop";
    server.apply(&ingress("web"));

    // Absent list: added.
    let stale = cached(&server, "web");
    kube.add_finalizer(&stale, INGRESS_FINALIZER).await.unwrap();
    assert_eq!(finalizers(&server, "web"), Some(v(&[INGRESS_FINALIZER])));

    // The same stale view again: refused (422), nothing added twice.
    let e = kube
        .add_finalizer(&stale, INGRESS_FINALIZER)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 422);
    assert_eq!(finalizers(&server, "web"), Some(v(&[INGRESS_FINALIZER])));

    // Someone else adds a finalizer after our cache last saw the object: our append is
    // refused rather than made against a list we did not see.
    let seen = cached(&server, "web");
    let other = Api::<Ingress>::namespaced(server.client(), "default");
    other
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": [INGRESS_FINALIZER, "example.com/other"]}}),
            ),
        )
        .await
        .unwrap();
    let e = kube.add_finalizer(&seen, group).await.unwrap_err();
    assert_eq!(status_code(e), 422);
    assert_eq!(
        finalizers(&server, "web"),
        Some(v(&[INGRESS_FINALIZER, "example.com/other"]))
    );

    // A fresh view: appended, the others kept.
    kube.add_finalizer(&cached(&server, "web"), group)
        .await
        .unwrap();
    assert_eq!(
        finalizers(&server, "web"),
        Some(v(&[INGRESS_FINALIZER, "example.com/other", group]))
    );

    // Released one by one until none is left: the list is gone (as on the API server), and
    // an empty cached list adds to it again.
    for f in [INGRESS_FINALIZER, "example.com/other", group] {
        kube.remove_finalizer(&cached(&server, "web"), f)
            .await
            .unwrap();
    }
    assert_eq!(finalizers(&server, "web"), None);
    kube.add_finalizer(&cached(&server, "web"), group)
        .await
        .unwrap();
    assert_eq!(finalizers(&server, "web"), Some(v(&[group])));

    // Deleted (the finalizer released by someone else) and created again under the same name
    // since the cache saw it: the other object is touched neither by a release nor by an add.
    let old = cached(&server, "web");
    let api = Api::<Ingress>::namespaced(server.client(), "default");
    api.delete("web", &Default::default()).await.unwrap();
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    server.apply(&ingress("web"));
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": [group]}})),
    )
    .await
    .unwrap();
    assert_ne!(cached(&server, "web").uid, old.uid);
    let e = kube.remove_finalizer(&old, group).await.unwrap_err();
    assert_eq!(status_code(e), 422);
    assert_eq!(finalizers(&server, "web"), Some(v(&[group])));
    let mut stale = old.clone();
    stale.finalizers = v(&[group]);
    let e = kube
        .add_finalizer(&stale, INGRESS_FINALIZER)
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 422);
    assert_eq!(finalizers(&server, "web"), Some(v(&[group])));
}

#[tokio::test]
async fn the_fixture_honours_json_patch_test_as_the_api_server_does() {
    let server = ApiServer::start().await;
    server.apply(&ingress("probe"));
    let api = Api::<Ingress>::namespaced(server.client(), "default");
    let pp = PatchParams::default();
    let patch = |ops: serde_json::Value| Patch::Json::<()>(serde_json::from_value(ops).unwrap());
    // `test` of null on a missing path passes; on a present one it fails (422, no change).
    api.patch(
        "probe",
        &pp,
        &patch(json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["a"]},
        ])),
    )
    .await
    .unwrap();
    let before = server.resource_version();
    let e = api
        .patch(
            "probe",
            &pp,
            &patch(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["b"]},
            ])),
        )
        .await
        .unwrap_err();
    assert_eq!(status_code(e), 422);
    // A value test that fails names the failing operation by its index, and changes nothing.
    let e = api
        .patch(
            "probe",
            &pp,
            &patch(json!([
                {"op": "add", "path": "/metadata/finalizers/-", "value": "c"},
                {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
            ])),
        )
        .await
        .unwrap_err();
    match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("operation '/1'"), "{}", s.message);
        }
        other => panic!("{other}"),
    }
    assert_eq!(server.resource_version(), before);
    assert_eq!(finalizers(&server, "probe"), Some(v(&["a"])));
}
