//! ACM certificate discovery on LocalStack: an HTTPS listener of an Ingress that names no
//! certificate gets the issued certificates (imported and requested) covering its hosts, a
//! re-apply makes no mutating call, a host without a certificate stops only its stack with
//! LBC's message, and a pass with nothing to discover never calls ACM. An ALB Gateway's HTTPS
//! listener without a certificate likewise, by its routes' hostnames.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::cli::manifests::{load_manifests, load_snapshot};
use aws_lb_operator_core::model::{Stack, TargetType};
use aws_lb_operator_core::translate::{build, build_with_gateways, BuildConfig};
use aws_sdk_acm::primitives::Blob;
use aws_sdk_acm::types::CertificateStatus;

use crate::aws_apply::env_with;
use crate::localstack;

const REGION: &str = "ap-southeast-2";
const ACCOUNT: u32 = 6100;

pub(crate) async fn import(acm: &aws_sdk_acm::Client, name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acm");
    let pem = std::fs::read(format!("{dir}/{name}.pem")).unwrap();
    let key = std::fs::read(format!("{dir}/{name}.key")).unwrap();
    acm.import_certificate()
        .certificate(Blob::new(pem))
        .private_key(Blob::new(key))
        .send()
        .await
        .expect("ImportCertificate")
        .certificate_arn()
        .expect("arn")
        .to_owned()
}

/// Requests a certificate and waits until LocalStack has issued it.
async fn request_issued(acm: &aws_sdk_acm::Client, domain: &str) -> String {
    let arn = acm
        .request_certificate()
        .domain_name(domain)
        .send()
        .await
        .expect("RequestCertificate")
        .certificate_arn()
        .expect("arn")
        .to_owned();
    let started = Instant::now();
    loop {
        let status = acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .expect("DescribeCertificate")
            .certificate()
            .and_then(|d| d.status().cloned());
        if status == Some(CertificateStatus::Issued) {
            return arn;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{arn} still {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The stacks of one Ingress `name` with the given rule hosts, HTTPS:443 and no certificate.
fn stacks(cluster: &str, name: &str, hosts: &[&str], tls_hosts: &[&str]) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!("aws-lb-acm-{}-{name}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules: String = hosts
        .iter()
        .map(|h| {
            format!(
                "  - host: {h}\n    http:\n      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]\n"
            )
        })
        .collect();
    let tls = if tls_hosts.is_empty() {
        String::new()
    } else {
        format!("  tls:\n  - hosts: [{}]\n", tls_hosts.join(", "))
    };
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
endpoints: [{{addresses: [10.61.1.10], conditions: {{ready: true}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{\"HTTPS\": 443}}]'
spec:
{tls}  rules:
{rules}"
    );
    std::fs::write(dir.join("ingress.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.stacks
}

fn acm_calls(c: &AwsClients) -> BTreeMap<String, u64> {
    c.calls
        .by_operation()
        .into_iter()
        .filter(|(op, _)| op.starts_with("acm."))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listeners_without_certificate_arn_get_the_issued_certificates_of_their_hosts() {
    // The certificates are the account's, made by a client that is not the operator's.
    let config = localstack::account_config(REGION, ACCOUNT).await;
    let fixtures = aws_sdk_acm::Client::new(&config);
    let www = import(&fixtures, "www.example.com").await;
    let other = import(&fixtures, "other.org").await;
    let shop = request_issued(&fixtures, "shop.example.com").await;
    let env = env_with(AwsClients::new(&config), REGION, "acm", 61).await;

    // Rule hosts and TLS hosts together: www (exact) and v1.api (the wildcard) are the
    // imported certificate's, shop the requested one's.
    let desired = stacks(
        &env.cluster,
        "web",
        &["www.example.com", "v1.api.example.com"],
        &["shop.example.com"],
    );
    let first = env.apply(&desired, false).await;
    assert_eq!(first.get("elbv2.CreateListener"), Some(&1), "{first:?}");
    assert_eq!(
        acm_calls(&env.clients),
        BTreeMap::from([("acm.ListCertificates".to_owned(), 2)]),
        "one listing (the default key types, then the others)"
    );
    let observed = env.observed().await;
    let listener = observed
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .find(|l| l.port == 443)
        .expect("the HTTPS listener");
    let mut want = vec![shop.clone(), www.clone()];
    want.sort();
    let mut got = listener.certificates.clone();
    got.sort();
    got.dedup();
    assert_eq!(got, want, "not {other}");
    assert_eq!(
        listener.certificates.first(),
        want.first(),
        "the default certificate is the first by ARN, as LBC lists them"
    );
    assert_eq!(
        env.apply(&desired, false).await,
        BTreeMap::new(),
        "a re-apply makes no mutating call"
    );

    // A host no issued certificate covers (a.b.api is two labels under the wildcard): LBC's
    // message, and that stack alone is not planned.
    let mut both = desired.clone();
    both.extend(stacks(
        &env.cluster,
        "bad",
        &["www.example.com", "a.b.api.example.com"],
        &[],
    ));
    let prepared = env.prepare(&both, false).await;
    let bad = both[1].id.to_string();
    assert_eq!(prepared.plan.errors.len(), 1, "{:?}", prepared.plan.errors);
    assert_eq!(prepared.plan.errors[0].stack, bad);
    assert_eq!(
        prepared.plan.errors[0].message,
        "certificate discovery for HTTPS listener port 443 of ingress shop/bad: no certificate \
         found for host: a.b.api.example.com (no ISSUED ACM certificate has it or a one-label \
         wildcard of it among its domain names; issue or import one, or set \
         alb.ingress.kubernetes.io/certificate-arn)"
    );
    assert!(prepared.plan.changes.iter().all(|c| c.stack != bad));
    assert!(
        prepared.plan.changes.is_empty(),
        "the good stack is unchanged: {:?}",
        prepared.plan.changes
    );

    // Nothing to discover: ACM is not read.
    env.clients.calls.reset();
    let mut plain = desired[0].clone();
    for l in &mut plain.listeners {
        l.certificate_discovery.clear();
        l.certificates = vec![www.clone()];
    }
    env.prepare(&[plain], false).await;
    assert_eq!(acm_calls(&env.clients), BTreeMap::new());
}

/// An internet-facing ALB Gateway whose HTTPS listener (no hostname, no certificate anywhere)
/// takes a route with `hosts`.
fn gateway_stacks(cluster: &str, step: &str, hosts: &[&str]) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!("aws-lb-acm-gw-{}-{step}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: alb}}
spec: {{controllerName: gateway.k8s.aws/alb}}
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {{name: edge-config, namespace: shop}}
spec: {{scheme: internet-facing}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: edge, namespace: shop, uid: 9d1c2b3a-0000-4000-8000-0000000acm01}}
spec:
  gatewayClassName: alb
  infrastructure:
    parametersRef: {{group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: edge-config}}
  listeners:
    - {{name: https, port: 443, protocol: HTTPS}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: shop}}
spec:
  parentRefs: [{{name: edge}}]
  hostnames: [{hosts}]
  rules:
    - backendRefs: [{{name: web, port: 80}}]
---
apiVersion: v1
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
endpoints: [{{addresses: [10.62.1.10], conditions: {{ready: true}}}}]
",
        hosts = hosts.join(", ")
    );
    std::fs::write(dir.join("gateway.yaml"), yaml).unwrap();
    let m = load_manifests(&[dir], false).unwrap();
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let config = BuildConfig {
        default_target_type: TargetType::Ip,
        ..BuildConfig::new(cluster)
    };
    let (out, _) = build_with_gateways(&m.snapshot, &m.gateways, &config);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.stacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_https_listeners_without_certificates_get_the_issued_certificates_of_their_hosts() {
    let config = localstack::account_config(REGION, ACCOUNT + 1).await;
    let fixtures = aws_sdk_acm::Client::new(&config);
    let www = import(&fixtures, "www.example.com").await;
    let other = import(&fixtures, "other.org").await;
    let env = env_with(AwsClients::new(&config), REGION, "acm-gw", 62).await;

    // The route's hostnames on a listener without one: www (exact) and v1.api (the wildcard)
    // are both the imported certificate's.
    let desired = gateway_stacks(
        &env.cluster,
        "good",
        &["www.example.com", "v1.api.example.com"],
    );
    assert_eq!(desired.len(), 1);
    let first = env.apply(&desired, false).await;
    assert_eq!(first.get("elbv2.CreateListener"), Some(&1), "{first:?}");
    assert_eq!(
        acm_calls(&env.clients),
        BTreeMap::from([("acm.ListCertificates".to_owned(), 2)])
    );
    let observed = env.observed().await;
    let listener = observed
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .find(|l| l.port == 443)
        .expect("the HTTPS listener");
    let mut got = listener.certificates.clone();
    got.dedup();
    assert_eq!(got, vec![www.clone()], "not {other}");
    assert_eq!(
        env.apply(&desired, false).await,
        BTreeMap::new(),
        "a re-apply makes no mutating call"
    );

    // A hostname no issued certificate covers: the Gateway's stack is not planned, and the
    // message points at the LoadBalancerConfiguration.
    let bad = gateway_stacks(
        &env.cluster,
        "bad",
        &["www.example.com", "a.b.api.example.com"],
    );
    let prepared = env.prepare(&bad, false).await;
    assert_eq!(prepared.plan.errors.len(), 1, "{:?}", prepared.plan.errors);
    assert_eq!(
        prepared.plan.errors[0].message,
        "certificate discovery for HTTPS listener port 443 of gateway shop/edge: no certificate \
         found for host: a.b.api.example.com (no ISSUED ACM certificate has it or a one-label \
         wildcard of it among its domain names; issue or import one, or set \
         listenerConfigurations[protocolPort=HTTPS:443].defaultCertificate in the Gateway's \
         LoadBalancerConfiguration)"
    );
    assert!(
        prepared.plan.changes.is_empty(),
        "the deployed stack is unchanged: {:?}",
        prepared.plan.changes
    );
}
