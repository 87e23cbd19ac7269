//! Listener attributes on LocalStack (`listener-attributes.*` on an Ingress, and
//! `aws-load-balancer-listener-attributes.*` on a Service): set once after the listener is
//! created, read back with DescribeListenerAttributes only for listeners that set some, a
//! re-apply makes no mutating call, and a changed value is one ModifyListenerAttributes.
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::aws_apply::env;
use crate::localstack;

const REGION: &str = "sa-east-1";

fn stacks(cluster: &str, server: &str, idle: &str) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-listener-attributes-{}-{server}-{idle}",
        localstack::run_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
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
endpoints: [{{addresses: [10.62.1.10], conditions: {{ready: true}}}}]
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
    alb.ingress.kubernetes.io/listen-ports: '[{{\"HTTP\": 80}}, {{\"HTTP\": 8080}}]'
    alb.ingress.kubernetes.io/listener-attributes.HTTP-80: routing.http.response.server.enabled={server}
spec:
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: edge
  namespace: shop
  uid: 6a7e0000-0000-4000-8000-000000000062
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-443: tcp.idle_timeout.seconds={idle}
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports: [{{name: tls, port: 443, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: edge-1, namespace: shop, labels: {{kubernetes.io/service-name: edge}}}}
addressType: IPv4
ports: [{{name: tls, port: 8080}}]
endpoints: [{{addresses: [10.62.1.11], conditions: {{ready: true}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.stacks.len(), 2);
    out.stacks
}

/// The attributes AWS reports for the listener on `port`, by stack.
async fn attributes(env: &crate::aws_apply::Env, port: u16) -> BTreeMap<String, String> {
    let observed = env.observed().await;
    let listener = observed
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .flat_map(|lb| lb.listeners.iter())
        .find(|l| l.port == port)
        .unwrap_or_else(|| panic!("no listener {port}"));
    aws_lb_operator::aws::elbv2::listener_attributes(&env.clients.elbv2, &listener.arn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_attributes_are_set_read_only_where_set_and_converge() {
    let env = env(REGION, "lattr", 62).await;
    let desired = stacks(&env.cluster, "false", "600");
    let first = env.apply(&desired, false).await;
    assert_eq!(
        first.get("elbv2.ModifyListenerAttributes"),
        Some(&2),
        "one per listener that sets attributes: {first:?}"
    );
    assert_eq!(
        attributes(&env, 80)
            .await
            .get("routing.http.response.server.enabled")
            .map(String::as_str),
        Some("false")
    );
    assert_eq!(
        attributes(&env, 443)
            .await
            .get("tcp.idle_timeout.seconds")
            .map(String::as_str),
        Some("600")
    );

    assert_eq!(env.apply(&desired, false).await, BTreeMap::new());
    assert_eq!(
        env.clients
            .calls
            .by_operation()
            .get("elbv2.DescribeListenerAttributes"),
        Some(&2),
        "read for the two listeners that set attributes, not for port 8080"
    );

    let changed = stacks(&env.cluster, "false", "900");
    assert_eq!(
        env.apply(&changed, false).await,
        BTreeMap::from([("elbv2.ModifyListenerAttributes".to_owned(), 1)])
    );
    assert_eq!(
        attributes(&env, 443)
            .await
            .get("tcp.idle_timeout.seconds")
            .map(String::as_str),
        Some("900")
    );
    assert_eq!(env.apply(&changed, false).await, BTreeMap::new());
}
