//! The fixture against the real kube-rs client, watcher, reflector and event recorder.

use super::ApiServer;
use futures::{Future, Stream, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::api::{PostParams, Preconditions, WatchEvent, WatchParams};
use kube::core::GroupVersionKind;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Debug;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn service(name: &str, parity: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"parity": parity}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    }))
    .unwrap()
}

fn ingress(name: &str) -> Ingress {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ingressClassName": "alb"},
        "status": {"loadBalancer": {"ingress": [{"hostname": "from-create"}]}},
    }))
    .unwrap()
}

/// The value at a JSON pointer of an object as the server would serialize it.
fn at(object: &impl Serialize, pointer: &str) -> Value {
    let value = serde_json::to_value(object).unwrap();
    value.pointer(pointer).cloned().unwrap_or(Value::Null)
}

fn json_patch(ops: Value) -> Patch<()> {
    Patch::Json(serde_json::from_value(ops).unwrap())
}

/// Status code and reason of a call that must fail with a Kubernetes Status.
async fn fails<T: Debug>(call: impl Future<Output = kube::Result<T>>) -> (u16, String) {
    match call.await {
        Err(kube::Error::Api(s)) => (s.code, s.reason),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    let item = tokio::time::timeout(WAIT, stream.next()).await;
    item.expect("no event in time").expect("stream ended")
}

/// The next watcher event as "Init", "InitApply a", "InitDone", "Apply a" or "Delete a".
async fn next_event<K, S>(s: &mut S) -> String
where
    K: Resource,
    S: Stream<Item = watcher::Result<watcher::Event<K>>> + Unpin,
{
    match next(s).await.unwrap() {
        watcher::Event::Init => "Init".into(),
        watcher::Event::InitApply(o) => format!("InitApply {}", o.name_any()),
        watcher::Event::InitDone => "InitDone".into(),
        watcher::Event::Apply(o) => format!("Apply {}", o.name_any()),
        watcher::Event::Delete(o) => format!("Delete {}", o.name_any()),
    }
}

async fn expect_events<K, S>(s: &mut S, expected: &[&str])
where
    K: Resource,
    S: Stream<Item = watcher::Result<watcher::Event<K>>> + Unpin,
{
    for e in expected {
        assert_eq!(next_event(s).await, *e);
    }
}

#[tokio::test]
async fn crud_pages_and_selectors() {
    let server = ApiServer::start().await;
    let client = server.client();
    let svcs: Api<Service> = Api::default_namespaced(client.clone());
    let post = PostParams::default();
    for i in 0..25 {
        let svc = service(&format!("svc-{i:02}"), ["even", "odd"][i % 2]);
        svcs.create(&post, &svc).await.unwrap();
    }
    let got = svcs.get("svc-03").await.unwrap();
    let meta = at(&got, "/metadata");
    assert!(meta["uid"].is_string() && meta["creationTimestamp"].is_string());
    assert!(meta["resourceVersion"].is_string());
    assert_eq!(
        (&meta["generation"], &meta["namespace"]),
        (&json!(1), &json!("default"))
    );

    let (mut lp, mut pages, mut names) = (ListParams::default().limit(10), 0, Vec::new());
    loop {
        let page = svcs.list(&lp).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("svc-{i:02}")).collect();
    assert_eq!((pages, names), (3, expected));

    let conflict = fails(svcs.create(&post, &service("svc-00", "x"))).await;
    assert_eq!(conflict, (409, "AlreadyExists".into()));
    assert_eq!(fails(svcs.get("missing")).await, (404, "NotFound".into()));
    assert!(svcs.get_opt("missing").await.unwrap().is_none());

    for (selector, count) in [
        ("parity=even", 13),
        ("parity!=even", 12),
        ("parity", 25),
        ("!parity", 0),
        ("parity in (odd,none),parity notin (even)", 12),
    ] {
        let listed = svcs
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(listed.items.len(), count, "{selector}");
    }
    let lp = ListParams::default().fields("metadata.name=svc-07");
    assert_eq!(svcs.list(&lp).await.unwrap().items.len(), 1);

    let mut generated = service("", "gen");
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let generated = svcs.create(&post, &generated).await.unwrap().name_any();
    assert!(
        generated.starts_with("gen-") && generated.len() == 9,
        "{generated}"
    );

    let other: Api<Service> = Api::namespaced(client.clone(), "other");
    let mismatch = fails(other.create(&post, &service("svc-00", "odd"))).await;
    assert_eq!(mismatch, (400, "BadRequest".into()));
    let mut elsewhere = service("svc-00", "odd");
    elsewhere.metadata.namespace = None;
    other.create(&post, &elsewhere).await.unwrap();
    let all: Api<Service> = Api::all(client.clone());
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        27
    );
    assert_eq!(server.list::<Service>().len(), 27);

    let lp = ListParams::default().labels("parity=odd");
    svcs.delete_collection(&DeleteParams::default(), &lp)
        .await
        .unwrap();
    assert_eq!(
        server.list::<Service>().len(),
        27 - 12,
        "only odd ones in `default`"
    );

    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    let widgets =
        Api::<DynamicObject>::default_namespaced_with(client.clone(), &ApiResource::from_gvk(&gvk));
    assert_eq!(
        fails(widgets.list(&ListParams::default())).await,
        (404, "NotFound".into())
    );
    let version = client.apiserver_version().await.unwrap();
    assert!(version.git_version.contains("fixture"));
}

#[tokio::test]
async fn patches_replace_and_conflicts() {
    let server = ApiServer::start().await;
    let leases: Api<Lease> = Api::default_namespaced(server.client());
    let (post, pp) = (PostParams::default(), PatchParams::default());
    let lease = json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}});
    let lease = leases
        .create(&post, &serde_json::from_value(lease).unwrap())
        .await
        .unwrap();

    // Leader election: replace with the read resourceVersion wins, a stale one is a conflict.
    let mut mine = lease.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let replaced = leases.replace("leader", &post, &mine).await.unwrap();
    assert_eq!(at(&replaced, "/spec/holderIdentity"), "b");
    assert_eq!(replaced.metadata.generation, Some(2));
    assert_ne!(replaced.resource_version(), lease.resource_version());
    assert_eq!(
        fails(leases.replace("leader", &post, &mine)).await,
        (409, "Conflict".into())
    );
    let stale = json!({"metadata": {"resourceVersion": lease.resource_version()}, "spec": {"holderIdentity": "c"}});
    assert_eq!(
        fails(leases.patch("leader", &pp, &Patch::Merge(&stale)))
            .await
            .0,
        409
    );

    // Merge patch, then the same patch again is a no-op (no new resourceVersion).
    let labels = Patch::Merge(json!({"metadata": {"labels": {"role": "leader", "tier": "x"}}}));
    let labelled = leases.patch("leader", &pp, &labels).await.unwrap();
    assert_eq!(at(&labelled, "/metadata/labels/role"), "leader");
    let again = leases.patch("leader", &pp, &labels).await.unwrap();
    assert_eq!(again.resource_version(), labelled.resource_version());
    assert_eq!(again.metadata.generation, Some(2));

    // JSON patch: test, add (with ~1 escaping), replace, remove; a failing test changes nothing.
    let ops = json_patch(json!([
        {"op": "test", "path": "/spec/holderIdentity", "value": "b"},
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/example.com~1owner", "value": "me"},
        {"op": "replace", "path": "/spec/holderIdentity", "value": "d"},
        {"op": "remove", "path": "/metadata/labels/tier"},
    ]));
    let patched = leases.patch("leader", &pp, &ops).await.unwrap();
    assert_eq!(
        at(&patched, "/metadata/annotations/example.com~1owner"),
        "me"
    );
    assert_eq!(at(&patched, "/spec/holderIdentity"), "d");
    assert_eq!(at(&patched, "/metadata/labels"), json!({"role": "leader"}));
    let failing = json_patch(json!([
        {"op": "replace", "path": "/spec/holderIdentity", "value": "e"},
        {"op": "test", "path": "/spec/holderIdentity", "value": "nobody"},
    ]));
    assert_eq!(
        fails(leases.patch("leader", &pp, &failing)).await,
        (422, "Invalid".into())
    );
    let current = leases.get("leader").await.unwrap();
    assert_eq!(current.resource_version(), patched.resource_version());

    // Server-side apply creates, then merges; a field its manager stops applying goes, and a
    // field another manager owns with another value is a conflict unless forced.
    let apply = PatchParams::apply("test").force();
    let lease = |spec: Value| {
        let meta = json!({"name": "applied"});
        Patch::Apply(
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}),
        )
    };
    leases
        .patch("applied", &apply, &lease(json!({"holderIdentity": "x"})))
        .await
        .unwrap();
    let applied = leases
        .patch(
            "applied",
            &apply,
            &lease(json!({"leaseDurationSeconds": 15})),
        )
        .await
        .unwrap();
    assert_eq!(at(&applied, "/spec"), json!({"leaseDurationSeconds": 15}));
    let other = PatchParams::apply("other");
    let thirty = lease(json!({"leaseDurationSeconds": 30}));
    let taken = leases.patch("applied", &other, &thirty);
    assert_eq!(fails(taken).await, (409, "Conflict".into()));
    let forced = leases
        .patch("applied", &other.force(), &thirty)
        .await
        .unwrap();
    assert_eq!(at(&forced, "/spec"), json!({"leaseDurationSeconds": 30}));
    let strategic = Patch::Strategic(json!({"spec": {"holderIdentity": "y"}}));
    let merged = leases.patch("applied", &pp, &strategic).await.unwrap();
    assert_eq!(at(&merged, "/spec/holderIdentity"), "y");
    assert_eq!(fails(leases.patch("missing", &pp, &strategic)).await.0, 404);
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let server = ApiServer::start().await;
    let ingresses: Api<Ingress> = Api::default_namespaced(server.client());
    let pp = PatchParams::default();
    let created = ingresses
        .create(&PostParams::default(), &ingress("web"))
        .await
        .unwrap();
    assert!(created.status.is_none(), "create drops .status");

    const HOSTNAME: &str = "/status/loadBalancer/ingress/0/hostname";
    let body = json!({"spec": {"ingressClassName": "ignored"}, "status": {"loadBalancer": {"ingress": [{"hostname": "lb"}]}}});
    let after_status = ingresses
        .patch_status("web", &pp, &Patch::Merge(&body))
        .await
        .unwrap();
    assert_eq!(at(&after_status, HOSTNAME), "lb");
    assert_eq!(at(&after_status, "/spec/ingressClassName"), "alb");
    assert_eq!(after_status.metadata.generation, Some(1));

    let body = json!({"spec": {"ingressClassName": "alb2"}, "status": {"loadBalancer": {"ingress": [{"hostname": "ignored"}]}}});
    let after_main = ingresses
        .patch("web", &pp, &Patch::Merge(&body))
        .await
        .unwrap();
    assert_eq!(at(&after_main, HOSTNAME), "lb");
    assert_eq!(at(&after_main, "/spec/ingressClassName"), "alb2");
    assert_eq!(after_main.metadata.generation, Some(2));

    let mut replacement = ingresses.get_status("web").await.unwrap();
    replacement.status = Some(serde_json::from_value(json!({"loadBalancer": {}})).unwrap());
    let replaced = ingresses
        .replace_status("web", &PostParams::default(), &replacement)
        .await
        .unwrap();
    assert_eq!(
        (at(&replaced, HOSTNAME), replaced.metadata.generation),
        (Value::Null, Some(2))
    );

    // Direct control is privileged: it writes status, for cluster-scoped kinds too.
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {"phase": "Running"}});
    server.apply(&serde_json::from_value::<Node>(node).unwrap());
    let stored = server
        .get::<Node>("ignored-for-cluster-kinds", "n1")
        .unwrap();
    assert_eq!(at(&stored, "/status/phase"), "Running");
    let nodes: Api<Node> = Api::all(server.client());
    assert_eq!(
        at(&nodes.get("n1").await.unwrap(), "/status/phase"),
        "Running"
    );
}

#[tokio::test]
async fn finalizers_and_deletion() {
    let server = ApiServer::start().await;
    let svcs: Api<Service> = Api::default_namespaced(server.client());
    let (post, pp, dp) = (
        PostParams::default(),
        PatchParams::default(),
        DeleteParams::default(),
    );
    let mut guarded = service("guarded", "x");
    guarded.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
    svcs.create(&post, &guarded).await.unwrap();

    let marked = svcs.delete("guarded", &dp).await.unwrap().left().unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let still = svcs.get("guarded").await.unwrap();
    assert_eq!(
        still.metadata.deletion_timestamp,
        marked.metadata.deletion_timestamp
    );
    let again = svcs.delete("guarded", &dp).await.unwrap().left().unwrap();
    assert_eq!(again.resource_version(), still.resource_version());
    let more = Patch::Merge(
        json!({"metadata": {"finalizers": ["example.com/cleanup", "example.com/other"]}}),
    );
    assert_eq!(fails(svcs.patch("guarded", &pp, &more)).await.0, 422);

    let remove = json_patch(json!([{"op": "remove", "path": "/metadata/finalizers"}]));
    svcs.patch("guarded", &pp, &remove).await.unwrap();
    assert_eq!(fails(svcs.get("guarded")).await, (404, "NotFound".into()));

    let plain = svcs.create(&post, &service("plain", "x")).await.unwrap();
    let precondition = Preconditions {
        resource_version: Some("1".into()),
        uid: None,
    };
    let stale = DeleteParams {
        preconditions: Some(precondition),
        ..DeleteParams::default()
    };
    assert_eq!(fails(svcs.delete("plain", &stale)).await.0, 409);
    let gone = svcs.delete("plain", &dp).await.unwrap().left().unwrap();
    assert_eq!(gone.metadata.uid, plain.metadata.uid);
    assert!(svcs.get_opt("plain").await.unwrap().is_none());

    // Direct control honours finalizers the same way.
    server.apply(&guarded);
    let marked = server.delete::<Service>("default", "guarded").unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let mut value = server
        .get_object("v1", "Service", "default", "guarded")
        .unwrap();
    value["metadata"]["finalizers"] = json!([]);
    server.apply_object(value);
    assert!(server.get::<Service>("default", "guarded").is_none());
    assert!(server
        .delete_object("v1", "Service", "default", "guarded")
        .is_none());
}

#[tokio::test]
async fn watcher_sees_direct_changes_and_selector_exits() {
    let server = ApiServer::start().await;
    server.apply(&service("before", "a"));
    let api: Api<Service> = Api::default_namespaced(server.client());
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    expect_events(&mut events, &["Init", "InitApply before", "InitDone"]).await;
    server.apply(&service("after", "a"));
    assert_eq!(next_event(&mut events).await, "Apply after");
    server.delete::<Service>("default", "before").unwrap();
    assert_eq!(next_event(&mut events).await, "Delete before");

    let mut labelled = watcher(api, watcher::Config::default().labels("parity=a")).boxed();
    expect_events(&mut labelled, &["Init", "InitApply after", "InitDone"]).await;
    server.apply(&service("after", "b"));
    assert_eq!(
        next_event(&mut labelled).await,
        "Delete after",
        "leaving the selector"
    );
    server.apply(&service("after", "a"));
    assert_eq!(next_event(&mut labelled).await, "Apply after");
}

#[tokio::test]
async fn expired_history_is_410_and_the_watcher_relists() {
    let server = ApiServer::start_with_history(3).await;
    let api: Api<Service> = Api::default_namespaced(server.client());
    for i in 0..5 {
        server.apply(&service(&format!("s{i}"), "a"));
    }
    let mut old = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match next(&mut old).await.unwrap() {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
    let mut recent = api
        .watch(&WatchParams::default(), "3")
        .await
        .unwrap()
        .boxed();
    let first = next(&mut recent).await.unwrap();
    assert!(matches!(first, WatchEvent::Added(s) if s.name_any() == "s3"));

    let mut events = watcher(api, watcher::Config::default()).boxed();
    assert_eq!(next_event(&mut events).await, "Init");
    while next_event(&mut events).await != "InitDone" {}
    server.apply(&service("late", "a"));
    assert_eq!(next_event(&mut events).await, "Apply late");
    server.compact();
    server.close_watches();
    match next(&mut events).await {
        Err(watcher::Error::WatchError(e)) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 watch error, got {other:?}"),
    }
    assert_eq!(next_event(&mut events).await, "Init");
    let mut relisted = Vec::new();
    loop {
        match next_event(&mut events).await.as_str() {
            "InitDone" => break,
            other => relisted.push(other.to_owned()),
        }
    }
    assert_eq!(relisted.len(), 6);
    assert!(relisted.contains(&"InitApply late".to_owned()));
}

#[tokio::test]
async fn streaming_list_and_bookmarks() {
    let server = ApiServer::start().await;
    for name in ["a", "b", "c"] {
        server.apply(&service(name, "x"));
    }
    let api: Api<Service> = Api::default_namespaced(server.client());
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(api.clone(), config).boxed();
    let expected = [
        "Init",
        "InitApply a",
        "InitApply b",
        "InitApply c",
        "InitDone",
    ];
    expect_events(&mut events, &expected).await;
    server.apply(&service("d", "x"));
    assert_eq!(next_event(&mut events).await, "Apply d");
    assert!(
        !server.calls().iter().any(|c| c.verb == "list"),
        "a streaming list does not list"
    );

    // timeoutSeconds ends the stream; a bookmark carries the current resourceVersion.
    let (started, rv) = (
        std::time::Instant::now(),
        server.resource_version().to_string(),
    );
    let raw = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap();
    let seen: Vec<_> = tokio::time::timeout(WAIT, raw.collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let bookmark = |e: &kube::Result<WatchEvent<Service>>| matches!(e, Ok(WatchEvent::Bookmark(b)) if b.metadata.resource_version == rv);
    assert!(seen.iter().any(bookmark), "{seen:?}");
}

#[tokio::test]
async fn reflector_store_converges() {
    let server = ApiServer::start().await;
    let api: Api<Ingress> = Api::default_namespaced(server.client());
    let (reader, writer) = reflector::store::<Ingress>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
    let driver = tokio::spawn(stream.applied_objects().for_each(|_| async {}));
    tokio::time::timeout(WAIT, reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    assert!(server.wait_for(|s| s.open_watches() == 1, WAIT).await);

    for i in 0..5 {
        api.create(&PostParams::default(), &ingress(&format!("kube-{i}")))
            .await
            .unwrap();
    }
    for i in 0..3 {
        server.apply(&ingress(&format!("direct-{i}")));
    }
    api.delete("kube-0", &DeleteParams::default())
        .await
        .unwrap();
    let label = Patch::Merge(json!({"metadata": {"labels": {"seen": "yes"}}}));
    api.patch("kube-1", &PatchParams::default(), &label)
        .await
        .unwrap();

    let converged = |server: &ApiServer| {
        let mut cached: Vec<String> = reader.state().iter().map(|i| i.name_any()).collect();
        cached.sort();
        let stored: Vec<String> = server
            .list::<Ingress>()
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        cached == stored
            && reader
                .state()
                .iter()
                .any(|i| i.labels().contains_key("seen"))
    };
    assert!(server.wait_for(converged, WAIT).await);
    assert_eq!(reader.state().len(), 7);
    driver.abort();
}

#[tokio::test]
async fn rbac_calls_events_and_injected_failures() {
    let server = ApiServer::start().await;
    let client = server.client();
    let svcs: Api<Service> = Api::default_namespaced(client.clone());
    let ingresses: Api<Ingress> = Api::default_namespaced(client.clone());
    let pp = PatchParams::default();
    svcs.list(&ListParams::default()).await.unwrap();
    let web = ingresses
        .create(&PostParams::default(), &ingress("web"))
        .await
        .unwrap();
    let status =
        Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb"}]}}}));
    ingresses.patch_status("web", &pp, &status).await.unwrap();

    let reporter = Reporter {
        controller: "aws-lb-operator".into(),
        instance: None,
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let event = Event {
        type_: EventType::Normal,
        reason: "Reconciled".into(),
        note: Some("load balancer ready".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder
        .publish(&event, &web.object_ref(&()))
        .await
        .unwrap();
    recorder
        .publish(&event, &web.object_ref(&()))
        .await
        .unwrap();
    let events = server.list::<K8sEvent>();
    assert_eq!(events.len(), 1);
    assert_eq!(at(&events[0], "/reason"), "Reconciled");
    assert_eq!(
        at(&events[0], "/series/count"),
        2,
        "the second publish patches the series"
    );
    assert!(
        server.list_objects("v1", "Event").is_empty(),
        "core Events are a separate store"
    );

    let verbs = server.rbac_verbs();
    for (group, resource, verb) in [
        ("", "services", "list"),
        ("networking.k8s.io", "ingresses", "create"),
        ("networking.k8s.io", "ingresses/status", "patch"),
        ("events.k8s.io", "events", "create"),
        ("events.k8s.io", "events", "patch"),
    ] {
        let wanted = (group.into(), resource.into(), verb.into());
        assert!(verbs.contains(&wanted), "{verbs:?} lacks {wanted:?}");
    }
    let last = server.calls().pop().unwrap();
    assert_eq!(
        (last.namespace.as_deref(), last.subresource),
        (Some("default"), None)
    );

    server.clear_calls();
    server.fail_next("get", "services", 500);
    server.fail_next("patch", "ingresses/status", 409);
    assert_eq!(fails(svcs.get("web")).await, (500, "InternalError".into()));
    assert_eq!(
        fails(svcs.get("web")).await.0,
        404,
        "one failure per fail_next"
    );
    assert_eq!(
        fails(ingresses.patch_status("web", &pp, &status)).await.0,
        409
    );
    assert_eq!(server.calls().len(), 3);

    let direct = server
        .get_object("networking.k8s.io/v1", "Ingress", "default", "web")
        .unwrap();
    assert_eq!(
        direct["status"]["loadBalancer"]["ingress"][0]["hostname"],
        "lb"
    );
    server.shutdown();
    let after = svcs.list(&ListParams::default()).await;
    assert!(
        !matches!(after, Ok(_) | Err(kube::Error::Api(_))),
        "{after:?}"
    );
}

#[tokio::test]
async fn preload_reads_yaml_files_and_lists_without_a_client() {
    let dir = std::env::temp_dir().join(format!("aws-lb-preload-{}", crate::localstack::run_id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    // More documents in one file than serde-saphyr's default budget (1,024) allows.
    let services: String = (0..1500)
        .map(|i| {
            format!(
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: pre}}\nspec: {{ports: [{{port: 80}}]}}\n"
            )
        })
        .collect();
    std::fs::write(dir.join("a.yaml"), services).unwrap();
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: {name: alb}, spec: {controller: ingress.k8s.aws/alb}}\n";
    std::fs::write(dir.join("nested/b.yml"), list).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a manifest").unwrap();

    let server = ApiServer::start().await;
    assert_eq!(server.preload(&dir).unwrap(), 1501);
    let names: Vec<String> = server
        .list::<Service>()
        .iter()
        .map(|s| format!("{}/{}", s.namespace().unwrap(), s.name_any()))
        .collect();
    assert_eq!(names.len(), 1500);
    assert_eq!(names[..3], ["pre/s0", "pre/s1", "pre/s10"]);
    assert!(server
        .get_object("networking.k8s.io/v1", "IngressClass", "", "alb")
        .is_some());
    assert!(server.calls().is_empty(), "preloading is not a client");

    std::fs::write(
        dir.join("c.yaml"),
        "apiVersion: v1\nkind: Pod2\nmetadata: {name: x}\n",
    )
    .unwrap();
    let err = server.preload(&dir).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the apiserver fixture does not serve v1 Pod2",
            dir.join("c.yaml").display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Gateway API kinds are served only while their CRDs are stored, as on a real server:
/// absent from discovery and 404 before, listed, served and in discovery (with every version
/// of the group) after.
#[tokio::test]
async fn gateway_kinds_are_served_only_with_their_crds() {
    let server = ApiServer::start().await;
    let client = server.client();
    let gateways = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"),
        "gateways",
    );
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &gateways);
    assert_eq!(fails(api.list(&ListParams::default())).await.0, 404);
    assert_eq!(
        fails(client.list_api_group_resources("gateway.networking.k8s.io/v1"))
            .await
            .0,
        404
    );
    let groups = client.list_api_groups().await.unwrap();
    assert!(!groups
        .groups
        .iter()
        .any(|g| g.name == "gateway.networking.k8s.io"));

    for crd in ["gateways", "referencegrants", "tcproutes"] {
        server.apply_object(json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{crd}.gateway.networking.k8s.io")}
        }));
    }
    assert!(api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    let v1 = client
        .list_api_group_resources("gateway.networking.k8s.io/v1")
        .await
        .unwrap();
    let names: Vec<&str> = v1.resources.iter().map(|r| r.name.as_str()).collect();
    // HTTPRoute's CRD is not stored: not served.
    assert_eq!(names, ["gateways", "gateways/status"]);
    let groups = client.list_api_groups().await.unwrap();
    let group = groups
        .groups
        .iter()
        .find(|g| g.name == "gateway.networking.k8s.io")
        .unwrap();
    let versions: Vec<&str> = group.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["v1", "v1beta1", "v1alpha2"]);
    let routes = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    );
    let routes: Api<DynamicObject> = Api::all_with(client, &routes);
    assert_eq!(fails(routes.list(&ListParams::default())).await.0, 404);
}
