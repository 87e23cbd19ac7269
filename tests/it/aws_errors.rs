//! AWS failures surface as typed errors naming service, operation and code; nothing panics.
use aws_lb_operator::aws::elbv2::{list_owned_load_balancers, ListScope};
use aws_lb_operator::aws::{AwsError, AwsErrorKind, AwsOptions};

use crate::localstack::{clients, clients_with};

#[tokio::test]
async fn service_errors_carry_service_operation_and_code() {
    let c = clients("ap-south-1").await;
    let err = c
        .elbv2
        .describe_load_balancers()
        .names("no-such-load-balancer")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elbv2", "DescribeLoadBalancers", e))
        .unwrap_err();
    assert_eq!(err.service, "elbv2");
    assert_eq!(err.operation, "DescribeLoadBalancers");
    assert_eq!(err.code, "LoadBalancerNotFound");
    assert_eq!(err.kind, AwsErrorKind::Service);
    assert!(
        !err.is_retryable(),
        "a missing load balancer is not worth retrying"
    );
    assert!(
        err.to_string()
            .starts_with("elbv2.DescribeLoadBalancers failed: LoadBalancerNotFound"),
        "{err}"
    );
    let n = c.calls.snapshot();
    let stats = &n[&("elbv2".to_owned(), "DescribeLoadBalancers".to_owned())];
    assert_eq!(
        (stats.calls, stats.errors),
        (1, 1),
        "failed calls are counted too"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_retryable_transport_error_after_bounded_retries() {
    // Nothing listens on port 9 (discard) on loopback here.
    let opts = AwsOptions {
        region: Some("ap-south-1".into()),
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 3,
        ..AwsOptions::default()
    };
    let c = clients_with(opts).await;
    let err = list_owned_load_balancers(&c.elbv2, "x", ListScope::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.service, err.operation),
        ("elbv2", "DescribeLoadBalancers")
    );
    assert_eq!(err.kind, AwsErrorKind::Transport, "{err:?}");
    assert!(err.is_retryable());
    assert!(
        err.to_string()
            .starts_with("elbv2.DescribeLoadBalancers failed: "),
        "{err}"
    );
    let n = c.calls.snapshot();
    let stats = &n[&("elbv2".to_owned(), "DescribeLoadBalancers".to_owned())];
    assert_eq!(
        (stats.calls, stats.attempts, stats.errors),
        (1, 3, 1),
        "{stats:?}"
    );
}
