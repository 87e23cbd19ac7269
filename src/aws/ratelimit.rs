//! Client-side AWS rate limits: the operator never sends more than the configured rate of an
//! operation, retries included (issue 19), so a cold start is paced rather than throttled.
//!
//! The configuration has the AWS Load Balancer Controller's syntax and semantics
//! (`--aws-api-throttle`, its `pkg/aws/throttle`): a comma-separated list of
//! `serviceID:operationRegex=rate:burst`. Each entry is one token bucket shared by every
//! operation of the service whose name the (unanchored) regex matches; a call that matches
//! several entries waits for all of them. Entries given for a service replace that service's
//! defaults; the other services keep theirs ([`ThrottleConfig::with_overrides`]).
//!
//! How no call bypasses it: [`super::calls::CallCountingInterceptor`] names the operation on
//! every HTTP request in `modify_before_transmit` (a [`RateLimitKey`] request extension, added
//! again on each attempt, as extensions do not survive the SDK's rewind before a retry), and
//! [`RateLimitedHttpClient`], the HTTP client [`super::load_sdk_config`] installs, waits for the
//! operation's buckets before it sends the attempt. The wait is counted per operation
//! ([`super::calls::CallStats::rate_limit_wait`], the metric
//! `aws_lb_operator_aws_api_rate_limit_wait_seconds_total`).
//!
//! The wait happens inside the SDK's attempt timeout (30 s by default), so a wait longer than
//! that ends the attempt as a timeout (retried, and queued again). The controller's bounded
//! concurrency keeps queues far shorter: 4 passes at a time by default, each reading at most
//! 16 target groups at once, is 64 reads in flight, at most 1.3 s of queue at 50/s; target
//! registrations go 16 stacks at a time, each stack's in order, at most 4 s of queue at 4/s.
//! (The SDK's upload stall check, which would fail a wait of over 20 s, is off:
//! [`super::load_sdk_config`].)
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use regex::Regex;

use super::calls::CallCounter;

/// A service the operator calls: its short name (as in metrics and `awsCalls`) and the AWS SDK
/// service ID the AWS Load Balancer Controller's flag uses.
const SERVICES: [(&str, &str); 3] = [
    ("elbv2", "Elastic Load Balancing v2"),
    ("ec2", "EC2"),
    ("route53", "Route 53"),
];

/// The defaults, in the flag's syntax. ELBv2: the AWS Load Balancer Controller's own defaults
/// (`pkg/aws/throttle/defaults.go`; it limits no other ELBv2 operation, nor do we). EC2: AWS's
/// documented request-token buckets, the lower of the two non-mutating ones for `Describe*`
/// (unfiltered describes: 50, refilled at 10/s) and the mutating one for the rest (50, refilled
/// at 5/s). Route 53: its documented quota of 5 requests per second per account, with a burst
/// of one second's worth, so no one-second window sees more than 10.
pub const DEFAULT_THROTTLE: &str =
    "Elastic Load Balancing v2:^RegisterTargets|^DeregisterTargets=4:20,\
Elastic Load Balancing v2:^Describe.*=50:200,\
Elastic Load Balancing v2:^Modify.*=3:20,\
EC2:^Describe.*=10:50,\
EC2:^Authorize|^Revoke|^Create|^Delete|^Modify=5:50,\
Route 53:.*=5:5";

/// One entry: a token bucket for the operations of `service` that `operation` matches.
#[derive(Debug, Clone)]
pub struct ThrottleRule {
    /// Short service name (`elbv2`, `ec2`, `route53`).
    pub service: &'static str,
    /// Matches operation names (unanchored, like the Go controller's `regexp.Match`).
    pub operation: Regex,
    /// Operations per second.
    pub rate: f64,
    /// Operations sent at once after an idle period.
    pub burst: u32,
}

impl PartialEq for ThrottleRule {
    fn eq(&self, other: &Self) -> bool {
        self.service == other.service
            && self.operation.as_str() == other.operation.as_str()
            && self.rate == other.rate
            && self.burst == other.burst
    }
}

/// Every rate limit, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleConfig {
    /// The buckets.
    pub rules: Vec<ThrottleRule>,
}

/// A `--aws-api-throttle` value that cannot be used. The first six messages are the AWS Load
/// Balancer Controller's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleConfigError {
    /// An entry without exactly one `=`.
    #[error("{0} must be formatted as serviceID:operationRegex=rate:burst")]
    Entry(String),
    /// The part before `=` without exactly one `:`.
    #[error("{0} must be formatted as serviceID:operationRegex")]
    ServiceOperation(String),
    /// The part after `=` without exactly one `:`.
    #[error("{0} must be formatted as rate:burst")]
    RateBurst(String),
    /// The operation pattern does not compile.
    #[error("{0} must be valid regex expression for operation")]
    Regex(String),
    /// The rate is not a number.
    #[error("{0} must be valid float number as rate for operations per second")]
    Rate(String),
    /// The burst is not an integer.
    #[error("{0} must be valid integer as burst for operations")]
    Burst(String),
    /// The rate is a number, but not a usable one.
    #[error("{0} must be a rate above 0 operations per second")]
    RateNotPositive(String),
    /// The burst is 0.
    #[error("{0} must be a burst of at least 1 operation")]
    BurstZero(String),
    /// A service the operator never calls (a typo would otherwise leave the limits off).
    #[error(
        "{0} is not a service the operator calls: use elbv2 (or Elastic Load Balancing v2), ec2 \
         (or EC2), route53 (or Route 53)"
    )]
    Service(String),
}

fn service_name(id: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(short, sdk)| id == *short || id == *sdk)
        .map(|(short, _)| *short)
}

fn sdk_service_id(short: &str) -> &str {
    SERVICES
        .iter()
        .find(|(s, _)| *s == short)
        .map_or(short, |(_, sdk)| *sdk)
}

/// Parses a flag value into its entries (no defaults merged).
pub fn parse_rules(value: &str) -> Result<Vec<ThrottleRule>, ThrottleConfigError> {
    let mut rules = Vec::new();
    for entry in value.split(',') {
        let kv: Vec<&str> = entry.split('=').collect();
        let [key, limit] = kv[..] else {
            return Err(ThrottleConfigError::Entry(entry.to_owned()));
        };
        let so: Vec<&str> = key.split(':').collect();
        let [service, operation] = so[..] else {
            return Err(ThrottleConfigError::ServiceOperation(key.to_owned()));
        };
        let rb: Vec<&str> = limit.split(':').collect();
        let [rate, burst] = rb[..] else {
            return Err(ThrottleConfigError::RateBurst(limit.to_owned()));
        };
        let pattern =
            Regex::new(operation).map_err(|_| ThrottleConfigError::Regex(operation.to_owned()))?;
        let r: f64 = rate
            .parse()
            .map_err(|_| ThrottleConfigError::Rate(rate.to_owned()))?;
        let b: u32 = burst
            .parse()
            .map_err(|_| ThrottleConfigError::Burst(burst.to_owned()))?;
        if !(r.is_finite() && r > 0.0) {
            return Err(ThrottleConfigError::RateNotPositive(rate.to_owned()));
        }
        if b == 0 {
            return Err(ThrottleConfigError::BurstZero(burst.to_owned()));
        }
        let service = service_name(service)
            .ok_or_else(|| ThrottleConfigError::Service(service.to_owned()))?;
        rules.push(ThrottleRule {
            service,
            operation: pattern,
            rate: r,
            burst: b,
        });
    }
    Ok(rules)
}

impl ThrottleConfig {
    /// The defaults ([`DEFAULT_THROTTLE`]).
    pub fn defaults() -> Self {
        ThrottleConfig {
            rules: parse_rules(DEFAULT_THROTTLE).unwrap_or_default(),
        }
    }

    /// No limits at all.
    pub fn none() -> Self {
        ThrottleConfig { rules: Vec::new() }
    }

    /// This configuration with `value`'s entries: for each service `value` names, its entries
    /// replace every entry of that service; other services keep theirs (the Go controller's
    /// `Set`).
    pub fn with_overrides(mut self, value: &str) -> Result<Self, ThrottleConfigError> {
        let overrides = parse_rules(value)?;
        self.rules
            .retain(|r| !overrides.iter().any(|o| o.service == r.service));
        // Grouped by service, in the order each service first appears (the Go map has none).
        let mut services: Vec<&'static str> = Vec::new();
        for o in &overrides {
            if !services.contains(&o.service) {
                services.push(o.service);
            }
        }
        for s in services {
            self.rules
                .extend(overrides.iter().filter(|o| o.service == s).cloned());
        }
        Ok(self)
    }

    /// The entries that apply to `service`'s `operation`.
    pub fn matching<'a>(
        &'a self,
        service: &'a str,
        operation: &'a str,
    ) -> impl Iterator<Item = (usize, &'a ThrottleRule)> + 'a {
        self.rules
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.service == service && r.operation.is_match(operation))
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self::defaults()
    }
}

impl fmt::Display for ThrottleConfig {
    /// The flag's syntax, with the SDK service IDs (parses back to the same configuration).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(
                f,
                "{}:{}={}:{}",
                sdk_service_id(r.service),
                r.operation.as_str(),
                r.rate,
                r.burst
            )?;
        }
        Ok(())
    }
}

/// A token bucket that hands out reservations: each call takes one token, going into debt when
/// none is left, and is told how long to wait until its token exists. Waiting callers are thus
/// served in the order they asked, and sends never exceed `burst + rate * t` in any window of
/// `t` seconds. Time is passed in, so the arithmetic is tested without sleeping.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32) -> Self {
        Bucket {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Takes one token at `now`: how long to wait before sending.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let last = self.last.unwrap_or(now);
        // A caller whose clock read is older than the last one's (it lost the race to the
        // lock) refills nothing and does not move time back.
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = Some(now.max(last));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // Measured from `last`, which may be a little after `now`.
            let ahead = self
                .last
                .map_or(Duration::ZERO, |l| l.saturating_duration_since(now));
            Duration::try_from_secs_f64(-self.tokens / self.rate)
                .unwrap_or(Duration::MAX)
                .saturating_add(ahead)
        }
    }
}

/// The buckets of a [`ThrottleConfig`], shared by every client of one SDK configuration.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: Arc<ThrottleConfig>,
    buckets: Arc<Vec<Mutex<Bucket>>>,
}

impl RateLimiter {
    /// Full buckets for `config`.
    pub fn new(config: &ThrottleConfig) -> Self {
        RateLimiter {
            buckets: Arc::new(
                config
                    .rules
                    .iter()
                    .map(|r| Mutex::new(Bucket::new(r.rate, r.burst)))
                    .collect(),
            ),
            config: Arc::new(config.clone()),
        }
    }

    /// Reserves a token of every bucket `service`'s `operation` matches at `now`: how long to
    /// wait before sending (the longest of the buckets' waits).
    pub fn reserve(&self, service: &str, operation: &str, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        for (i, _) in self.config.matching(service, operation) {
            if let Some(bucket) = self.buckets.get(i) {
                let w = bucket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .reserve(now);
                wait = wait.max(w);
            }
        }
        wait
    }

    /// Waits until `service`'s `operation` may be sent; returns how long it waited.
    pub async fn acquire(&self, service: &str, operation: &str) -> Duration {
        let wait = self.reserve(service, operation, Instant::now());
        if !wait.is_zero() {
            tracing::debug!(
                service,
                operation,
                wait_ms = wait.as_millis(),
                "waiting for the client-side rate limit"
            );
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

/// Names the operation of one HTTP attempt for [`RateLimitedHttpClient`], and where to count
/// the wait. Added by [`super::calls::CallCountingInterceptor`].
#[derive(Debug, Clone)]
pub struct RateLimitKey {
    /// Short service name.
    pub service: &'static str,
    /// Operation name.
    pub operation: String,
    /// Counts the wait.
    pub counter: CallCounter,
}

/// An HTTP client that waits for the [`RateLimiter`] before every attempt it sends.
#[derive(Debug, Clone)]
pub struct RateLimitedHttpClient {
    inner: SharedHttpClient,
    limiter: RateLimiter,
}

impl RateLimitedHttpClient {
    /// Wraps `inner`.
    pub fn new(inner: SharedHttpClient, limiter: RateLimiter) -> Self {
        RateLimitedHttpClient { inner, limiter }
    }
}

impl HttpClient for RateLimitedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RateLimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct RateLimitedConnector {
    inner: SharedHttpConnector,
    limiter: RateLimiter,
}

impl HttpConnector for RateLimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limiter = self.limiter.clone();
        HttpConnectorFuture::new(async move {
            // A request our interceptor did not name (credential providers' own calls) is not
            // one of the limited services' operations.
            if let Some(key) = request.extension::<RateLimitKey>().cloned() {
                let waited = limiter.acquire(key.service, &key.operation).await;
                if !waited.is_zero() {
                    key.counter
                        .rate_limited(key.service, &key.operation, waited);
                }
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(service: &'static str, op: &str, rate: f64, burst: u32) -> ThrottleRule {
        ThrottleRule {
            service,
            operation: Regex::new(op).unwrap(),
            rate,
            burst,
        }
    }

    fn err(value: &str) -> String {
        ThrottleConfig::none()
            .with_overrides(value)
            .unwrap_err()
            .to_string()
    }

    // Ported from the Go controller's TestServiceOperationsThrottleConfig_Set, with services
    // this operator calls in place of App Mesh and Cloud Map.
    #[test]
    fn parses_entries_into_an_empty_configuration() {
        let got = ThrottleConfig::none()
            .with_overrides(
                "Elastic Load Balancing v2:^Describe=4.2:5,elbv2:CreateRule=4.2:6,Route 53:^List=4.2:7",
            )
            .unwrap();
        assert_eq!(
            got.rules,
            vec![
                rule("elbv2", "^Describe", 4.2, 5),
                rule("elbv2", "CreateRule", 4.2, 6),
                rule("route53", "^List", 4.2, 7),
            ]
        );
    }

    #[test]
    fn entries_replace_only_the_defaults_of_their_services() {
        let base = ThrottleConfig {
            rules: vec![
                rule("ec2", "^Create", 4.2, 4),
                rule("elbv2", "^Modify", 1.0, 1),
            ],
        };
        let got = base
            .with_overrides("elbv2:^Describe=4.2:5,route53:.*=4.2:7,elbv2:CreateRule=4.2:6")
            .unwrap();
        assert_eq!(
            got.rules,
            vec![
                rule("ec2", "^Create", 4.2, 4),
                rule("elbv2", "^Describe", 4.2, 5),
                rule("elbv2", "CreateRule", 4.2, 6),
                rule("route53", ".*", 4.2, 7),
            ]
        );
        // The documented example of the Go controller, over our defaults.
        let got = ThrottleConfig::defaults()
            .with_overrides(
                "Elastic Load Balancing v2:RegisterTargets|DeregisterTargets=4:20,\
                 Elastic Load Balancing v2:.*=10:40",
            )
            .unwrap();
        assert_eq!(
            got.to_string(),
            "EC2:^Describe.*=10:50,EC2:^Authorize|^Revoke|^Create|^Delete|^Modify=5:50,\
             Route 53:.*=5:5,\
             Elastic Load Balancing v2:RegisterTargets|DeregisterTargets=4:20,\
             Elastic Load Balancing v2:.*=10:40"
        );
    }

    #[test]
    fn invalid_values_say_what_is_wrong() {
        for (value, want) in [
            // The Go controller's messages, word for word.
            (
                "",
                " must be formatted as serviceID:operationRegex=rate:burst",
            ),
            (
                "a=b=c",
                "a=b=c must be formatted as serviceID:operationRegex=rate:burst",
            ),
            (
                "a:b:c=4.2:5",
                "a:b:c must be formatted as serviceID:operationRegex",
            ),
            ("a:b=4.2:5:6", "4.2:5:6 must be formatted as rate:burst"),
            (
                "a:^[Describe=4.2:5",
                "^[Describe must be valid regex expression for operation",
            ),
            (
                "a:^Describe=4.x:5",
                "4.x must be valid float number as rate for operations per second",
            ),
            (
                "a:^Describe=4.2:5x",
                "5x must be valid integer as burst for operations",
            ),
            // Ours.
            (
                "a:^Describe=4.2:5",
                "a is not a service the operator calls: use elbv2 (or Elastic Load Balancing v2), \
                 ec2 (or EC2), route53 (or Route 53)",
            ),
            (
                "WAFV2:^AssociateWebACL=0.5:1",
                "WAFV2 is not a service the operator calls: use elbv2 (or Elastic Load Balancing \
                 v2), ec2 (or EC2), route53 (or Route 53)",
            ),
            (
                "elbv2:.*=0:5",
                "0 must be a rate above 0 operations per second",
            ),
            (
                "elbv2:.*=-1:5",
                "-1 must be a rate above 0 operations per second",
            ),
            (
                "elbv2:.*=inf:5",
                "inf must be a rate above 0 operations per second",
            ),
            (
                "elbv2:.*=NaN:5",
                "NaN must be a rate above 0 operations per second",
            ),
            ("elbv2:.*=1:0", "0 must be a burst of at least 1 operation"),
            (
                "elbv2:.*=1:-1",
                "-1 must be valid integer as burst for operations",
            ),
            (
                "elbv2:.*=1:5,",
                " must be formatted as serviceID:operationRegex=rate:burst",
            ),
        ] {
            assert_eq!(err(value), want, "{value:?}");
        }
    }

    #[test]
    fn the_defaults_print_as_the_documented_string_and_parse_back() {
        let d = ThrottleConfig::defaults();
        assert_eq!(d.rules.len(), 6);
        assert_eq!(d.to_string(), DEFAULT_THROTTLE);
        assert_eq!(
            ThrottleConfig::none()
                .with_overrides(&d.to_string())
                .unwrap(),
            d
        );
        assert_eq!(ThrottleConfig::none().to_string(), "");
    }

    #[test]
    fn the_defaults_limit_each_operation_by_the_intended_bucket() {
        let d = ThrottleConfig::defaults();
        let limits = |service: &str, op: &str| -> Vec<(f64, u32)> {
            d.matching(service, op)
                .map(|(_, r)| (r.rate, r.burst))
                .collect()
        };
        for (service, op, want) in [
            ("elbv2", "RegisterTargets", vec![(4.0, 20)]),
            ("elbv2", "DeregisterTargets", vec![(4.0, 20)]),
            ("elbv2", "DescribeTargetHealth", vec![(50.0, 200)]),
            ("elbv2", "DescribeTags", vec![(50.0, 200)]),
            ("elbv2", "ModifyRule", vec![(3.0, 20)]),
            ("elbv2", "CreateRule", vec![]),
            ("elbv2", "SetRulePriorities", vec![]),
            ("ec2", "DescribeSubnets", vec![(10.0, 50)]),
            ("ec2", "AuthorizeSecurityGroupIngress", vec![(5.0, 50)]),
            ("ec2", "DeleteTags", vec![(5.0, 50)]),
            ("route53", "ChangeResourceRecordSets", vec![(5.0, 5)]),
            ("route53", "ListHostedZones", vec![(5.0, 5)]),
            // The pattern is per service.
            ("ec2", "RegisterTargets", vec![]),
        ] {
            assert_eq!(limits(service, op), want, "{service}.{op}");
        }
    }

    fn at(t0: Instant, secs: f64) -> Instant {
        t0 + Duration::from_secs_f64(secs)
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rest_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(4.0, 20);
        let waits: Vec<Duration> = (0..30).map(|_| b.reserve(t0)).collect();
        assert!(waits[..20].iter().all(|w| w.is_zero()), "{waits:?}");
        for (k, w) in waits[20..].iter().enumerate() {
            let want = (k as f64 + 1.0) / 4.0;
            assert!((w.as_secs_f64() - want).abs() < 1e-9, "#{}: {w:?}", 20 + k);
        }
        // 10 s later the debt (10 tokens) is paid and 30 more tokens accrued, capped at 20.
        let later = at(t0, 10.0);
        assert!((0..20).all(|_| b.reserve(later).is_zero()));
        assert_eq!(b.reserve(later), Duration::from_millis(250));
        // Half a second refills two tokens, of which one is owed.
        assert!(b.reserve(at(t0, 10.5)).is_zero());
        assert_eq!(b.reserve(at(t0, 10.5)), Duration::from_millis(250));
    }

    #[test]
    fn an_older_clock_read_waits_from_the_newest() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 1);
        assert!(b.reserve(at(t0, 1.0)).is_zero());
        // Read at t0, served after the t0 + 1 s caller: its token is due at 1.5 s.
        assert_eq!(b.reserve(t0), Duration::from_millis(1500));
    }

    /// Sends at arrival + wait never exceed `burst + rate * T` in any window of `T` seconds.
    #[test]
    fn no_window_sees_more_than_burst_plus_rate_times_its_length() {
        let t0 = Instant::now();
        let (rate, burst) = (5.0, 5);
        let mut b = Bucket::new(rate, burst);
        // Deterministic arrivals: clumps and gaps (a linear congruential sequence).
        let mut x: u64 = 42;
        let mut t = 0.0;
        let mut sends = Vec::new();
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            t += match x >> 61 {
                0 => 2.0, // an idle gap
                1 | 2 => 0.3,
                _ => 0.0, // part of a clump
            };
            let arrival = at(t0, t);
            sends.push(
                (arrival + b.reserve(arrival))
                    .duration_since(t0)
                    .as_secs_f64(),
            );
        }
        sends.sort_by(f64::total_cmp);
        for window in [0.0, 0.5, 1.0, 3.0, 10.0] {
            let allowed = f64::from(burst) + rate * window + 1e-6;
            let mut most = 0;
            for (i, start) in sends.iter().enumerate() {
                let n = sends[i..]
                    .iter()
                    .take_while(|s| **s <= start + window)
                    .count();
                most = most.max(n);
            }
            assert!(most as f64 <= allowed, "{most} sends in {window} s");
            // The limit is reached: a clump after an idle gap fills short windows.
            if window <= 1.0 {
                assert!(most as f64 > allowed - 1.0, "{most} sends in {window} s");
            }
        }
    }

    #[test]
    fn the_limiter_waits_for_every_matching_bucket_and_only_those() {
        let config = ThrottleConfig::none()
            .with_overrides("elbv2:^RegisterTargets=4:2,elbv2:Targets$=1:3,ec2:.*=1:1")
            .unwrap();
        let l = RateLimiter::new(&config);
        let t0 = Instant::now();
        let reg: Vec<Duration> = (0..4)
            .map(|_| l.reserve("elbv2", "RegisterTargets", t0))
            .collect();
        // Both buckets: the 3rd call waits for the 4/s one (0.25 s), the 4th for the 1/s one.
        assert_eq!(reg, [0, 0, 250, 1000].map(Duration::from_millis).to_vec());
        // DeregisterTargets shares only the second bucket, now in debt by one.
        assert_eq!(
            l.reserve("elbv2", "DeregisterTargets", t0),
            Duration::from_secs(2)
        );
        // Other operations and services are not slowed.
        assert!(l.reserve("elbv2", "DescribeTags", t0).is_zero());
        assert!(l.reserve("route53", "RegisterTargets", t0).is_zero());
        assert!(l.reserve("ec2", "DescribeSubnets", t0).is_zero());
        assert_eq!(
            l.reserve("ec2", "DescribeSubnets", t0),
            Duration::from_secs(1)
        );
    }
}
