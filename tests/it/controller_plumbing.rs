//! The controller's plumbing against the in-process API server fixture: the guarded finalizer
//! patch.
use std::sync::Arc;

use aws_lb_operator::controller::kube_io::{KubeIo, ObjState, INGRESS_FINALIZER};
use aws_lb_operator::controller::metrics::Metrics;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::apiserver::ApiServer;

fn v(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
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
