//! Rule transforms (`transforms.<service>`) on LocalStack: sent with CreateRule, read back from
//! DescribeRules (moto drops them; our provider plugin keeps them by rule ARN, see
//! `localstack/elbv2-provider`), a re-apply makes no mutating call, a changed transform is one
//! ModifyRule, and removing the annotation is one ModifyRule with ResetTransforms.
use std::collections::BTreeMap;

use aws_lb_operator_core::model::{RewriteSpec, TransformSpec};

use crate::aws_addons::stacks;
use crate::aws_apply::{env_with, Env};
use crate::localstack;

const REGION: &str = "il-central-1";

async fn transforms(env: &Env) -> Vec<TransformSpec> {
    let observed = env.observed().await;
    let rules: Vec<_> = observed
        .values()
        .flat_map(|s| &s.load_balancers)
        .flat_map(|lb| &lb.listeners)
        .flat_map(|l| &l.rules)
        .collect();
    assert_eq!(rules.len(), 1, "{rules:?}");
    rules[0].transforms.clone()
}

fn url(regex: &str, replace: &str) -> TransformSpec {
    TransformSpec::UrlRewrite {
        rewrites: vec![RewriteSpec {
            regex: regex.into(),
            replace: replace.into(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_transforms_are_created_read_back_modified_and_reset() {
    const ACCOUNT: u32 = 5703;
    let clients = localstack::account_clients(REGION, ACCOUNT).await;
    let env = env_with(clients, REGION, "transforms", 73).await;
    let one = r#"[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"^/api/(.*)$","replace":"/$1"}]}}]"#;
    let with_one = stacks(&env.cluster, "one", &[("transforms.web", one)]);
    let first = env.apply(&with_one, true).await;
    assert_eq!(first.get("elbv2.CreateRule"), Some(&1), "{first:?}");
    assert_eq!(transforms(&env).await, [url("^/api/(.*)$", "/$1")]);
    assert_eq!(env.apply(&with_one, true).await, BTreeMap::new());

    let two = r#"[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"^/v2/(.*)$","replace":"/$1?v=2"}]}},
                 {"type":"host-header-rewrite","hostHeaderRewriteConfig":{"rewrites":[{"regex":"^(.*)$","replace":"internal.example.com"}]}}]"#;
    let with_two = stacks(&env.cluster, "two", &[("transforms.web", two)]);
    assert_eq!(
        env.apply(&with_two, true).await,
        BTreeMap::from([("elbv2.ModifyRule".to_owned(), 1)])
    );
    assert_eq!(
        transforms(&env).await,
        [
            url("^/v2/(.*)$", "/$1?v=2"),
            TransformSpec::HostHeaderRewrite {
                rewrites: vec![RewriteSpec {
                    regex: "^(.*)$".into(),
                    replace: "internal.example.com".into(),
                }],
            },
        ]
    );
    assert_eq!(env.apply(&with_two, true).await, BTreeMap::new());

    let without = stacks(&env.cluster, "none", &[]);
    assert_eq!(
        env.apply(&without, true).await,
        BTreeMap::from([("elbv2.ModifyRule".to_owned(), 1)])
    );
    assert_eq!(transforms(&env).await, []);
    assert_eq!(env.apply(&without, true).await, BTreeMap::new());
    assert!(env
        .apply(&[], true)
        .await
        .contains_key("elbv2.DeleteLoadBalancer"));
}
