//! WAFv2 web ACLs and Shield Advanced protections on LocalStack (served from moto by our
//! provider plugin, `localstack/elbv2-provider`): `wafv2-acl-arn` associates, a re-apply makes
//! no mutating call, a changed ARN is one AssociateWebACL, removing the annotation leaves the
//! web ACL (as LBC), `none` is one DisassociateWebACL; a load balancer the cluster does not
//! own keeps its web ACL. `shield-advanced-protection` does nothing without a Shield Advanced
//! subscription, then creates and deletes LBC-named protections only. Each test has a
//! LocalStack account of its own (Shield is global per account).
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::aws_apply::{env_with, Env};
use crate::localstack;

const REGION: &str = "il-central-1";

/// The Ingress `shop/web` (with its Service and endpoints) carrying `annotations`.
pub(crate) fn stacks(cluster: &str, tag: &str, annotations: &[(&str, &str)]) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-addons-{}-{cluster}-{tag}",
        localstack::run_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let extra: String = annotations
        .iter()
        .map(|(k, v)| {
            format!(
                "    alb.ingress.kubernetes.io/{k}: '{}'\n",
                v.replace('\'', "''")
            )
        })
        .collect();
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
endpoints: [{{addresses: [10.71.1.10], conditions: {{ready: true}}}}]
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
{extra}spec:
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.stacks.len(), 1);
    out.stacks
}

fn ops(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

async fn lb_arn(env: &Env) -> String {
    let observed = env.observed().await;
    let lbs: Vec<&String> = observed
        .values()
        .flat_map(|s| &s.load_balancers)
        .map(|lb| &lb.arn)
        .collect();
    assert_eq!(lbs.len(), 1, "{lbs:?}");
    lbs[0].clone()
}

async fn web_acl(wafv2: &aws_sdk_wafv2::Client, lb: &str) -> Option<String> {
    wafv2
        .get_web_acl_for_resource()
        .resource_arn(lb)
        .send()
        .await
        .unwrap()
        .web_acl()
        .map(|w| w.arn().to_owned())
}

async fn create_web_acl(wafv2: &aws_sdk_wafv2::Client, name: &str) -> String {
    use aws_sdk_wafv2::types::{AllowAction, DefaultAction, Scope, VisibilityConfig};
    wafv2
        .create_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(
            VisibilityConfig::builder()
                .sampled_requests_enabled(false)
                .cloud_watch_metrics_enabled(false)
                .metric_name(name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .summary()
        .and_then(|s| s.arn())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_acl_is_associated_changed_and_removed_never_on_foreign_load_balancers() {
    const ACCOUNT: u32 = 5701;
    let clients = localstack::account_clients(REGION, ACCOUNT).await;
    let env = env_with(clients, REGION, "waf", 71).await;
    let fixture = localstack::account_config(REGION, ACCOUNT).await;
    let wafv2 = aws_sdk_wafv2::Client::new(&fixture);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&fixture);
    let a = create_web_acl(&wafv2, &localstack::unique("acl-a")).await;
    let b = create_web_acl(&wafv2, &localstack::unique("acl-b")).await;

    // A load balancer of no cluster, with a web ACL: never touched.
    let foreign = elbv2
        .create_load_balancer()
        .name(localstack::unique("foreign-waf"))
        .set_subnets(Some(env.subnets.clone()))
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    wafv2
        .associate_web_acl()
        .resource_arn(&foreign)
        .web_acl_arn(&b)
        .send()
        .await
        .unwrap();

    let with_a = stacks(&env.cluster, "a", &[("wafv2-acl-arn", &a)]);
    let first = env.apply(&with_a, true).await;
    assert_eq!(first.get("wafv2.AssociateWebACL"), Some(&1), "{first:?}");
    let lb = lb_arn(&env).await;
    assert_eq!(web_acl(&wafv2, &lb).await.as_deref(), Some(a.as_str()));

    assert_eq!(env.apply(&with_a, true).await, BTreeMap::new());
    assert_eq!(
        env.clients
            .calls
            .by_operation()
            .get("wafv2.GetWebACLForResource"),
        Some(&1),
        "read for the one load balancer that names a web ACL"
    );

    let with_b = stacks(&env.cluster, "b", &[("wafv2-acl-arn", &b)]);
    assert_eq!(
        env.apply(&with_b, true).await,
        ops(&[("wafv2.AssociateWebACL", 1)])
    );
    assert_eq!(web_acl(&wafv2, &lb).await.as_deref(), Some(b.as_str()));
    assert_eq!(env.apply(&with_b, true).await, BTreeMap::new());

    // The annotation gone: as LBC, the web ACL stays, and it is not even read.
    let without = stacks(&env.cluster, "unset", &[]);
    assert_eq!(env.apply(&without, true).await, BTreeMap::new());
    assert_eq!(
        env.clients
            .calls
            .by_operation()
            .get("wafv2.GetWebACLForResource"),
        None
    );
    assert_eq!(web_acl(&wafv2, &lb).await.as_deref(), Some(b.as_str()));

    let none = stacks(&env.cluster, "none", &[("wafv2-acl-arn", "none")]);
    assert_eq!(
        env.apply(&none, true).await,
        ops(&[("wafv2.DisassociateWebACL", 1)])
    );
    assert_eq!(web_acl(&wafv2, &lb).await, None);
    assert_eq!(env.apply(&none, true).await, BTreeMap::new());

    assert_eq!(
        web_acl(&wafv2, &foreign).await.as_deref(),
        Some(b.as_str()),
        "the foreign load balancer keeps its web ACL"
    );
    // Deleting the stack deletes the load balancer, and AWS its association.
    assert!(env
        .apply(&[], true)
        .await
        .contains_key("elbv2.DeleteLoadBalancer"));
    assert_eq!(web_acl(&wafv2, &foreign).await.as_deref(), Some(b.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shield_protection_needs_a_subscription_and_deletes_only_its_own() {
    const ACCOUNT: u32 = 5702;
    let clients = localstack::account_clients(REGION, ACCOUNT).await;
    let env = env_with(clients, REGION, "shield", 72).await;
    let fixture = localstack::account_config(REGION, ACCOUNT).await;
    let shield = aws_sdk_shield::Client::new(&fixture);
    let protection = |lb: String| {
        let shield = shield.clone();
        async move {
            match shield.describe_protection().resource_arn(lb).send().await {
                Ok(out) => out.protection().and_then(|p| p.name()).map(str::to_owned),
                Err(e) => {
                    let code =
                        aws_sdk_shield::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
                    assert_eq!(code.as_deref(), Some("ResourceNotFoundException"), "{e:?}");
                    None
                }
            }
        }
    };

    let on = stacks(
        &env.cluster,
        "on",
        &[("shield-advanced-protection", "true")],
    );
    let first = env.apply(&on, true).await;
    assert!(!first.keys().any(|k| k.starts_with("shield.")), "{first:?}");
    let calls = env.clients.calls.by_operation();
    assert_eq!(calls.get("shield.GetSubscriptionState"), Some(&1));
    assert_eq!(
        calls.get("shield.DescribeProtection"),
        None,
        "not subscribed: not read"
    );
    let lb = lb_arn(&env).await;
    assert_eq!(protection(lb.clone()).await, None);

    shield.create_subscription().send().await.unwrap();
    assert_eq!(
        env.apply(&on, true).await,
        ops(&[("shield.CreateProtection", 1)])
    );
    assert_eq!(
        protection(lb.clone()).await.as_deref(),
        Some("managed by aws-load-balancer-controller")
    );
    assert_eq!(env.apply(&on, true).await, BTreeMap::new());

    let off = stacks(
        &env.cluster,
        "off",
        &[("shield-advanced-protection", "false")],
    );
    assert_eq!(
        env.apply(&off, true).await,
        ops(&[("shield.DeleteProtection", 1)])
    );
    assert_eq!(protection(lb.clone()).await, None);
    assert_eq!(env.apply(&off, true).await, BTreeMap::new());

    // A protection someone else made (another name) survives `false`.
    shield
        .create_protection()
        .name("shop-team protection")
        .resource_arn(&lb)
        .send()
        .await
        .unwrap();
    assert_eq!(env.apply(&off, true).await, BTreeMap::new());
    assert_eq!(
        protection(lb.clone()).await.as_deref(),
        Some("shop-team protection")
    );
    assert!(env
        .apply(&[], true)
        .await
        .contains_key("elbv2.DeleteLoadBalancer"));
}
