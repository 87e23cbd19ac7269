//! Mutual TLS on LocalStack (our ELBv2 plugin keeps the listener's `MutualAuthentication`,
//! which moto drops): `verify` with a trust store is set on the HTTPS listener at creation,
//! read back so a re-apply makes no mutating call, a changed setting is one ModifyListener, and
//! removing the annotation leaves the listener as it is (LBC's default).
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::{MutualAuthenticationSpec, Stack};
use aws_lb_operator_core::translate::{build, BuildConfig};

use aws_lb_operator::aws::AwsClients;

use crate::aws_apply::env_with;
use crate::localstack;

const REGION: &str = "eu-west-3";
const STORE: &str =
    "arn:aws:elasticloadbalancing:eu-west-3:000000000000:truststore/clients/0123456789abcdef";

fn stacks(cluster: &str, certificate: &str, mtls: Option<&str>) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-mtls-{}-{}",
        localstack::run_id(),
        mtls.map_or(0, str::len)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let annotation = mtls.map_or(String::new(), |m| {
        format!("    alb.ingress.kubernetes.io/mutual-authentication: '{m}'\n")
    });
    let yaml = format!(
        "apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [10.73.1.10], conditions: {{ready: true}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/certificate-arn: {certificate}
{annotation}spec:
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    out.stacks
}

async fn observed_mtls(env: &crate::aws_apply::Env) -> Option<MutualAuthenticationSpec> {
    env.observed()
        .await
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .find(|l| l.port == 443)
        .expect("listener 443")
        .mutual_authentication
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_is_set_read_back_and_changed_once() {
    let config = localstack::account_config(REGION, 5682).await;
    let env = env_with(AwsClients::new(&config), REGION, "mtls", 73).await;
    // Made by a client that is not the operator's.
    let fixtures = aws_sdk_acm::Client::new(&config);
    let certificate = crate::aws_certificates::import(&fixtures, "www.example.com").await;
    let verify = format!(r#"[{{"port":443,"mode":"verify","trustStore":"{STORE}"}}]"#);
    let desired = stacks(&env.cluster, &certificate, Some(&verify));
    env.apply(&desired, false).await;
    assert_eq!(
        observed_mtls(&env).await,
        Some(MutualAuthenticationSpec {
            mode: "verify".into(),
            trust_store: Some(STORE.into()),
            ignore_client_certificate_expiry: Some(false),
            advertise_trust_store_ca_names: Some("off".into()),
        })
    );
    assert_eq!(
        env.apply(&desired, false).await,
        BTreeMap::new(),
        "converged"
    );

    let ignore = format!(
        r#"[{{"port":443,"mode":"verify","trustStore":"{STORE}","ignoreClientCertificateExpiry":true}}]"#
    );
    let changed = stacks(&env.cluster, &certificate, Some(&ignore));
    let calls = env.apply(&changed, false).await;
    assert_eq!(calls.get("elbv2.ModifyListener"), Some(&1), "{calls:?}");
    assert_eq!(
        observed_mtls(&env)
            .await
            .and_then(|m| m.ignore_client_certificate_expiry),
        Some(true)
    );
    // moto's ModifyListener replaces the certificate list: the default is listed again once.
    let again = env.apply(&changed, false).await;
    assert!(
        again.keys().all(|k| k == "elbv2.AddListenerCertificates"),
        "{again:?}"
    );
    assert_eq!(env.apply(&changed, false).await, BTreeMap::new());

    // Without the annotation the listener keeps its mutual TLS (LBC's default).
    let without = stacks(&env.cluster, &certificate, None);
    assert_eq!(env.apply(&without, false).await, BTreeMap::new());
    assert_eq!(
        observed_mtls(&env).await.map(|m| m.mode),
        Some("verify".into())
    );

    let off = stacks(
        &env.cluster,
        &certificate,
        Some(r#"[{"port":443,"mode":"off"}]"#),
    );
    let calls = env.apply(&off, false).await;
    assert_eq!(calls.get("elbv2.ModifyListener"), Some(&1), "{calls:?}");
    assert_eq!(
        observed_mtls(&env).await.map(|m| m.mode),
        Some("off".into())
    );
}
