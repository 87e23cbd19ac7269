//! The controller's plumbing against the in-process API server fixture: Lease election under
//! clock skew; the guarded finalizer patch.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lb_operator::controller::kube_io::{KubeIo, ObjState, INGRESS_FINALIZER};
use aws_lb_operator::controller::leader::{self, Clock, LeaderConfig, SystemClock};
use aws_lb_operator::controller::metrics::Metrics;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::watch;

use crate::apiserver::ApiServer;
use crate::controller_e2e::eventually;

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
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
