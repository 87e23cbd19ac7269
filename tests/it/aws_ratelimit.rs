//! Client-side rate limits (`--aws-api-throttle`, src/aws/ratelimit.rs) on LocalStack, seen
//! from the fault proxy, which stamps every request as it arrives: a burst of one operation is
//! paced at its configured rate, retries included, another operation is not slowed by it, and
//! the wait is counted (the metric `aws_lb_operator_aws_api_rate_limit_wait_seconds_total`).
use std::time::{Duration, Instant};

use aws_lb_operator::aws::{AwsOptions, ThrottleConfig};
use aws_lb_operator::controller::metrics::Metrics;

use crate::aws_faults::{account, clients_via};
use crate::fault_proxy::{Fault, FaultProxy, Ops, Rule};
use crate::localstack;

const REGION: &str = "ap-northeast-3";

fn opts(throttle: &str) -> AwsOptions {
    AwsOptions {
        throttle: ThrottleConfig::none().with_overrides(throttle).unwrap(),
        ..localstack::options(REGION)
    }
}

/// The most arrivals in any window of `window` starting at an arrival.
fn most_in_window(arrivals: &[Instant], window: Duration) -> usize {
    arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|t| **t >= *start && **t <= *start + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

fn span(arrivals: &[Instant]) -> Duration {
    match (arrivals.iter().min(), arrivals.iter().max()) {
        (Some(first), Some(last)) => *last - *first,
        _ => Duration::ZERO,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_operation_is_paced_and_others_are_not_slowed() {
    let proxy = FaultProxy::start(&localstack::endpoint(), 0, vec![]).await;
    // DescribeLoadBalancers: 5/s after a burst of 2. DescribeTargetGroups: no limit.
    let c = clients_via(
        &proxy.url,
        &account(7901),
        opts("elbv2:^DescribeLoadBalancers$=5:2"),
    )
    .await;
    let started = Instant::now();
    let paced = (0..12).map(|_| c.elbv2.describe_load_balancers().send());
    let free = (0..12).map(|_| c.elbv2.describe_target_groups().send());
    let (paced, free) = tokio::join!(
        futures::future::join_all(paced),
        futures::future::join_all(free)
    );
    assert!(paced.iter().all(Result::is_ok) && free.iter().all(Result::is_ok));
    let took = started.elapsed();

    let lbs = proxy.arrivals("elbv2.DescribeLoadBalancers");
    let tgs = proxy.arrivals("elbv2.DescribeTargetGroups");
    assert_eq!((lbs.len(), tgs.len()), (12, 12));
    // 2 at once, then one every 200 ms: the 12th is sent 2 s after the bucket's first use, which
    // is after `started`. (Measured from `started`, not from the first arrival, which a slow
    // connection setup may delay.)
    let last = lbs.iter().max().copied().unwrap();
    assert!(
        last - started >= Duration::from_millis(1990),
        "the 12th call arrived {:?} after the start",
        last - started
    );
    let s = span(&lbs);
    // Never more than 2 + 5 in a second.
    assert!(most_in_window(&lbs, Duration::from_secs(1)) <= 7, "{lbs:?}");
    // The other operation went as fast as LocalStack answers, well before the paced one ended.
    let free_span = span(&tgs);
    assert!(
        free_span < s / 2,
        "DescribeTargetGroups took {free_span:?}, DescribeLoadBalancers {s:?}"
    );
    eprintln!("12 paced calls over {s:?}, 12 free ones over {free_span:?}, {took:?} in all");

    // The wait is counted per operation: 0.2 + 0.4 + ... + 2.0 = 11 s, less the time between
    // the calls' clock reads.
    let stats = c.calls.snapshot();
    let waited = stats[&("elbv2".to_owned(), "DescribeLoadBalancers".to_owned())].rate_limit_wait;
    assert!(
        waited > Duration::from_secs(9) && waited <= Duration::from_millis(11_001),
        "{waited:?}"
    );
    assert_eq!(
        stats[&("elbv2".to_owned(), "DescribeTargetGroups".to_owned())].rate_limit_wait,
        Duration::ZERO
    );
    assert_eq!(c.calls.rate_limit_wait(), waited);
    let text = Metrics::new(&c.calls).render();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with(
                "aws_lb_operator_aws_api_rate_limit_wait_seconds_total{service=\"elbv2\",operation=\"DescribeLoadBalancers\"} ",
            )
        })
        .unwrap_or_else(|| panic!("no wait sample in\n{text}"));
    let seconds: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((seconds - waited.as_secs_f64()).abs() < 1e-6, "{line}");
    assert!(text.lines().any(|l| l
        == "aws_lb_operator_aws_api_rate_limit_wait_seconds_total{service=\"elbv2\",operation=\"DescribeTargetGroups\"} 0.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_for_the_limit_too() {
    // The first 3 attempts fail with a 500; the SDK's backoff (200 ms, 400 ms, 800 ms, with
    // jitter) is shorter than the 1/s limit, so the attempts arrive a second apart.
    let proxy = FaultProxy::start(
        &localstack::endpoint(),
        0,
        vec![Rule::first(
            Ops::Named(vec!["elbv2.DescribeTargetGroups".into()]),
            Fault::ServerError,
            3,
        )],
    )
    .await;
    let c = clients_via(
        &proxy.url,
        &account(7902),
        opts("elbv2:^DescribeTargetGroups$=1:1"),
    )
    .await;
    c.elbv2.describe_target_groups().send().await.unwrap();
    let arrivals = proxy.arrivals("elbv2.DescribeTargetGroups");
    assert_eq!(arrivals.len(), 4);
    // (Less a little: the first attempt may have waited for its connection.)
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(900), "{arrivals:?}");
    }
    assert!(
        span(&arrivals) >= Duration::from_millis(2900),
        "{arrivals:?}"
    );
    let stats = c.calls.snapshot();
    let s = &stats[&("elbv2".to_owned(), "DescribeTargetGroups".to_owned())];
    assert_eq!((s.calls, s.attempts), (1, 4));
    // 3 s of spacing, less at most 1.4 s of backoff and the answers' time.
    assert!(s.rate_limit_wait >= Duration::from_millis(1000), "{s:?}");
}

#[test]
fn an_invalid_limit_is_refused_with_its_reason() {
    for (value, reason) in [
        (
            "elbv2:.*=0:5",
            "0 must be a rate above 0 operations per second",
        ),
        (
            "Elastic Load Balancing v2:^Describe",
            "Elastic Load Balancing v2:^Describe must be formatted as \
             serviceID:operationRegex=rate:burst",
        ),
        (
            "WAFV2:^AssociateWebACL=0.5:1",
            "WAFV2 is not a service the operator calls: use elbv2 (or Elastic Load Balancing v2), \
             ec2 (or EC2), route53 (or Route 53)",
        ),
    ] {
        for command in ["apply", "run"] {
            let (code, stdout, stderr) =
                localstack::run_operator(REGION, &[command, "--aws-api-throttle", value]);
            assert_eq!(code, 1, "{command} {value}: {stdout}{stderr}");
            let want = format!(
                "error: invalid value '{value}' for '--aws-api-throttle \
                 <SERVICE:OPERATION_REGEX=RATE:BURST,...>': {reason}"
            );
            assert_eq!(stderr.lines().next(), Some(want.as_str()), "{stderr}");
        }
    }
}
