//! The controller and OIDC authentication: an Ingress whose Secret is missing gets no load
//! balancer and an event naming the Secret; creating the Secret builds it; rotating the Secret
//! rewrites the authenticated rule (the controller watches Secrets); the secret appears in no
//! event or status.
use std::time::Duration;

use aws_lb_operator::controller::{start, Deps};
use aws_lb_operator_core::model::{tags, ActionSpec, ClientSecret};
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::env_with;
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

const REGION: &str = "ap-southeast-5";
const FIRST: &str = "first-oidc-s3cret";
const ROTATED: &str = "rotated-oidc-s3cret";

fn secret(value: &str) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "oidc", "namespace": "shop"},
        "stringData": {"clientID": "my-client", "clientSecret": value},
    }))
    .unwrap()
}

/// The fingerprint tag of the authenticated rule on port 443, once there is one.
async fn fingerprint(env: &crate::aws_apply::Env) -> Option<String> {
    let observed = aws_lb_operator::aws::observe::observe(
        &env.clients,
        &env.cluster,
        &env.vpc,
        &Default::default(),
        true,
    )
    .await
    .ok()?;
    let listener = observed
        .stacks
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .find(|l| l.port == 443)?;
    let rule = listener
        .rules
        .iter()
        .find(|r| matches!(r.actions.first(), Some(ActionSpec::AuthenticateOidc(_))))?;
    rule.tags.get(tags::OIDC_CLIENT_SECRET).cloned()
}

#[tokio::test]
async fn a_secret_change_rewrites_the_authenticated_rule_and_the_secret_is_never_shown() {
    aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
    let clients = localstack::account_clients(REGION, 5671).await;
    let env = env_with(clients, REGION, "e2e-auth", 72).await;
    // Made by a client that is not the operator's.
    let fixtures = aws_sdk_acm::Client::new(&localstack::account_config(REGION, 5671).await);
    let certificate = crate::aws_certificates::import(&fixtures, "www.example.com").await;
    let server = ApiServer::start().await;
    server.apply::<Namespace>(
        &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
    );
    server.apply::<IngressClass>(
        &serde_json::from_value(json!({
            "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}
        }))
        .unwrap(),
    );
    server.apply::<Service>(
        &serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
        }))
        .unwrap(),
    );
    server.apply::<EndpointSlice>(
        &serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": ["10.72.1.10"], "conditions": {"ready": true}}]
        }))
        .unwrap(),
    );
    let oidc = r#"{"issuer":"https://idp.example.com","authorizationEndpoint":"https://idp.example.com/auth","tokenEndpoint":"https://idp.example.com/token","userInfoEndpoint":"https://idp.example.com/userinfo","secretName":"oidc"}"#;
    server.apply::<Ingress>(
        &serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "annotations": {
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/certificate-arn": certificate,
                "alb.ingress.kubernetes.io/auth-type": "oidc",
                "alb.ingress.kubernetes.io/auth-idp-oidc": oidc,
            }},
            "spec": {"ingressClassName": "alb", "rules": [{"host": "auth.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        }))
        .unwrap(),
    );
    let running = start(Deps {
        client: server.client(),
        aws: env.clients.clone(),
        settings: settings(&env, None),
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "e2e-auth".to_owned(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap();

    let events = |server: &ApiServer| -> Vec<Value> {
        server
            .list_objects("events.k8s.io/v1", "Event")
            .into_iter()
            .filter(|e| e["regarding"]["name"] == "web")
            .collect()
    };
    eventually(30, "the missing-Secret event", || async {
        events(&server).iter().any(|e| {
            e["note"]
                .as_str()
                .is_some_and(|n| n.contains("refers to secret shop/oidc, which was not found"))
        })
    })
    .await;
    assert_eq!(
        fingerprint(&env).await,
        None,
        "no load balancer without the Secret"
    );

    server.apply(&secret(FIRST));
    let first = ClientSecret::new("my-client", FIRST.to_owned());
    eventually(60, "the authenticated rule", || async {
        fingerprint(&env).await.as_deref() == Some(first.fingerprint())
    })
    .await;

    server.apply(&secret(ROTATED));
    let rotated = ClientSecret::new("my-client", ROTATED.to_owned());
    eventually(30, "the rotated secret's rule", || async {
        fingerprint(&env).await.as_deref() == Some(rotated.fingerprint())
    })
    .await;

    let shown = format!(
        "{} {}",
        serde_json::to_string(&events(&server)).unwrap(),
        serde_json::to_string(&server.get::<Ingress>("shop", "web")).unwrap()
    );
    assert!(
        !shown.contains(FIRST) && !shown.contains(ROTATED),
        "{shown}"
    );
    running.shutdown().await;
}
