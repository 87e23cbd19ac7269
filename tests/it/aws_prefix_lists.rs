//! `security-group-prefix-lists` on LocalStack: the managed security group of an ALB lets a
//! managed prefix list in on the listen ports (and no open CIDR), a re-apply makes no mutating
//! call, and dropping the annotation revokes the prefix-list permission and opens the default.
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::planner::SgSource;
use aws_lb_operator_core::translate::{build, BuildConfig};
use aws_sdk_ec2::types::AddPrefixListEntry;

use crate::aws_apply::env;
use crate::localstack;

const REGION: &str = "ca-central-1";

fn stacks(cluster: &str, prefix_list: Option<&str>) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-prefix-lists-{}-{}",
        localstack::run_id(),
        prefix_list.unwrap_or("none")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let annotation = prefix_list
        .map(|p| format!("    alb.ingress.kubernetes.io/security-group-prefix-lists: {p}\n"))
        .unwrap_or_default();
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
endpoints: [{{addresses: [10.63.1.10], conditions: {{ready: true}}}}]
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

/// The ingress sources of the stack's managed security group on port 80.
async fn sources(env: &crate::aws_apply::Env) -> Vec<SgSource> {
    let observed = env.observed().await;
    let mut out: Vec<SgSource> = observed
        .values()
        .flat_map(|s| s.security_groups.iter())
        .flat_map(|sg| sg.ingress.iter())
        .filter(|p| p.from_port == 80)
        .map(|p| p.source.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_lists_are_let_in_on_the_listen_ports() {
    let env = env(REGION, "plist", 63).await;
    let list = env
        .clients
        .ec2
        .create_managed_prefix_list()
        .prefix_list_name(localstack::unique("office"))
        .max_entries(5)
        .address_family("IPv4")
        .entries(AddPrefixListEntry::builder().cidr("203.0.113.0/24").build())
        .send()
        .await
        .expect("CreateManagedPrefixList")
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .expect("prefix list id")
        .to_owned();

    let desired = stacks(&env.cluster, Some(&list));
    env.apply(&desired, false).await;
    assert_eq!(sources(&env).await, [SgSource::PrefixList(list.clone())]);
    assert_eq!(env.apply(&desired, false).await, BTreeMap::new());

    let open = stacks(&env.cluster, None);
    assert_eq!(
        env.apply(&open, false).await,
        BTreeMap::from([
            ("ec2.AuthorizeSecurityGroupIngress".to_owned(), 1),
            ("ec2.RevokeSecurityGroupIngress".to_owned(), 1)
        ])
    );
    assert_eq!(
        sources(&env).await,
        [SgSource::Cidr("0.0.0.0/0".to_owned())]
    );
}
