//! The chart's RBAC is exactly what the controller uses: a full lifecycle (Ingress, NLB
//! Service, TargetGroupBinding, a Gateway with a route of every kind and a
//! LoadBalancerConfiguration, leader election, events and their series, finalizers, status,
//! deletions) runs against the API server fixture, which records every request as an RBAC verb;
//! the ClusterRole and Role of the plain install (`deploy/manifests/aws-lb-operator.yaml`) must
//! allow every recorded call, and every verb they grant must have been used.
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use aws_lb_operator::controller::leader::LeaderConfig;
use aws_lb_operator::controller::{start, Deps};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::env_with;
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

const REGION: &str = "ap-southeast-7";
const MANIFEST: &str = "deploy/manifests/aws-lb-operator.yaml";

/// (group, resource[/subresource], verb) granted by the install's ClusterRole and Role.
fn granted() -> BTreeSet<(String, String, String)> {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(MANIFEST)).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let mut out = BTreeSet::new();
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in d["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        out.insert((
                            g.as_str().unwrap().to_owned(),
                            r.as_str().unwrap().to_owned(),
                            v.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_install_rbac_is_exactly_what_the_controller_calls() {
    let clients = localstack::account_clients(REGION, 5650).await;
    let env = env_with(clients, REGION, "rbac", 95).await;
    let server = ApiServer::start().await;
    // The seed Ingress, an NLB Service, an Ingress that keeps failing (internal, no internal
    // subnets: repeated events become a series), and a TargetGroupBinding.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let snap = aws_lb_operator::cli::manifests::load_snapshot(&[dir]).unwrap();
    server.apply_object(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    );
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
    server.apply_object(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "private", "namespace": "shop"},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}}]}
    }));
    server.apply_object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "edge", "namespace": "shop", "annotations": {
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb",
            "ports": [{"name": "tcp", "port": 443, "targetPort": 8443, "protocol": "TCP"}]}
    }));
    server.apply_object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "edge-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "edge"}},
        "addressType": "IPv4", "ports": [{"name": "tcp", "port": 8443, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.0.1.90"], "conditions": {"ready": true}}]
    }));
    let tg = env
        .clients
        .elbv2
        .create_target_group()
        .name(localstack::unique("rbac-tgb"))
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&env.vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_owned();
    server.apply_object(json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": "api-tgb", "namespace": "shop"},
        "spec": {"targetGroupARN": tg_arn, "targetType": "ip", "serviceRef": {"name": "api", "port": "http"},
            "multiClusterTargetGroup": true}
    }));

    // The Gateway API: an ALB Gateway configured by a LoadBalancerConfiguration, and a route
    // of every kind (those an ALB does not take are refused in their status).
    crate::controller_gateway::install_gateway_crds(&server);
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.k8s.aws/v1beta1", "kind": "LoadBalancerConfiguration",
        "metadata": {"name": "public", "namespace": "shop"}, "spec": {"scheme": "internet-facing"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "shop"},
        "spec": {"gatewayClassName": "alb",
            "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws",
                "kind": "LoadBalancerConfiguration", "name": "public"}},
            "allowedListeners": {"namespaces": {"from": "Same"}},
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
        "metadata": {"name": "more", "namespace": "shop"},
        "spec": {"parentRef": {"name": "edge"},
            "listeners": [{"name": "extra", "port": 8080, "protocol": "HTTP"}]}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
        "metadata": {"name": "none", "namespace": "shop"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "web"}],
            "to": [{"group": "", "kind": "Service"}]}
    }));
    for (api_version, kind) in [
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("gateway.networking.k8s.io/v1", "GRPCRoute"),
        ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
        ("gateway.networking.k8s.io/v1alpha2", "UDPRoute"),
        ("gateway.networking.k8s.io/v1alpha2", "TLSRoute"),
    ] {
        server.apply_object(json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": kind.to_ascii_lowercase(), "namespace": "shop"},
            "spec": {"parentRefs": [{"name": "edge"}],
                "rules": [{"backendRefs": [{"name": "nowhere", "port": 80}]}]}
        }));
    }

    let running = start(Deps {
        client: server.client(),
        aws: env.clients.clone(),
        settings: settings(&env, Some("none")),
        namespaces: Vec::new(),
        leader: Some(LeaderConfig {
            namespace: "default".into(),
            name: "aws-lb-operator".into(),
            identity: "rbac".into(),
            lease_duration: Duration::from_secs(2),
            renew_period: Duration::from_millis(300),
        }),
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "rbac".into(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap();

    let has_status =
        |v: Option<Value>| v.is_some_and(|v| !v["status"]["loadBalancer"]["ingress"].is_null());
    eventually(60, "Ingress and Service status", || async {
        has_status(server.get_object("networking.k8s.io/v1", "Ingress", "shop", "storefront"))
            && has_status(server.get_object("v1", "Service", "shop", "edge"))
    })
    .await;
    eventually(30, "the binding's status", || async {
        server
            .get_object(
                "elbv2.k8s.aws/v1beta1",
                "TargetGroupBinding",
                "shop",
                "api-tgb",
            )
            .is_some_and(|t| !t["status"].is_null())
    })
    .await;
    eventually(30, "a repeated event (series)", || async {
        server
            .list_objects("events.k8s.io/v1", "Event")
            .iter()
            .any(|e| e["regarding"]["name"] == "private" && !e["series"].is_null())
    })
    .await;
    eventually(
        60,
        "the Gateway programmed and every route's and the ListenerSet's status",
        || async {
            let programmed = server
                .get_object("gateway.networking.k8s.io/v1", "Gateway", "shop", "edge")
                .is_some_and(|g| {
                    g["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Programmed" && c["status"] == "True")
                    })
                });
            let routes = [
                ("gateway.networking.k8s.io/v1", "HTTPRoute"),
                ("gateway.networking.k8s.io/v1", "GRPCRoute"),
                ("gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
                ("gateway.networking.k8s.io/v1alpha2", "UDPRoute"),
                ("gateway.networking.k8s.io/v1alpha2", "TLSRoute"),
            ]
            .iter()
            .all(|(v, k)| {
                server
                    .get_object(v, k, "shop", &k.to_ascii_lowercase())
                    .is_some_and(|r| !r["status"]["parents"].is_null())
            });
            let class = server
                .get_object("gateway.networking.k8s.io/v1", "GatewayClass", "", "alb")
                .is_some_and(|c| !c["status"].is_null());
            let set = server
                .get_object(
                    "gateway.networking.k8s.io/v1",
                    "ListenerSet",
                    "shop",
                    "more",
                )
                .is_some_and(|s| !s["status"].is_null());
            programmed && routes && class && set
        },
    )
    .await;
    server.delete_object("gateway.networking.k8s.io/v1", "Gateway", "shop", "edge");
    server.delete::<Ingress>("shop", "storefront");
    server.delete::<Service>("shop", "edge");
    server.delete_object(
        "elbv2.k8s.aws/v1beta1",
        "TargetGroupBinding",
        "shop",
        "api-tgb",
    );
    eventually(60, "the deleted objects to go", || async {
        server.get::<Ingress>("shop", "storefront").is_none()
            && server.get::<Service>("shop", "edge").is_none()
            && server
                .get_object("gateway.networking.k8s.io/v1", "Gateway", "shop", "edge")
                .is_none()
            && server
                .get_object(
                    "elbv2.k8s.aws/v1beta1",
                    "TargetGroupBinding",
                    "shop",
                    "api-tgb",
                )
                .is_none()
    })
    .await;
    running.shutdown().await;

    let used = server.rbac_verbs();
    let granted = granted();
    let missing: Vec<_> = used.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "{MANIFEST} lacks calls the controller makes: {missing:?}"
    );
    assert!(
        unused.is_empty(),
        "{MANIFEST} grants verbs the controller never uses: {unused:?}"
    );
}
