//! The AWS boundary: the only module that imports the AWS SDK.
//!
//! [`load_sdk_config`] builds one `SdkConfig` (region, retries with backoff suited to ELBv2
//! throttling, timeouts, endpoint override, and the HTTP client that enforces the client-side
//! rate limits of [`ratelimit`]). [`AwsClients`] holds the service clients, each
//! with the [`calls::CallCounter`] interceptor installed. Adapter functions in [`elbv2`] and
//! [`ec2`] paginate fully and map every SDK error to [`AwsError`].
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use ratelimit::{RateLimitedHttpClient, RateLimiter};

pub mod acm;
pub mod addons;
pub mod assume;
pub mod calls;
pub mod ec2;
pub mod elbv2;
pub mod error;
pub mod execute;
pub mod observe;
pub mod ratelimit;
pub mod resolve;
pub mod route53;
pub mod route_read;

pub use calls::CallCounter;
pub use error::{AwsError, AwsErrorKind};
pub use ratelimit::ThrottleConfig;

/// Region used when neither a flag nor the standard environment/profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to reach AWS. Credentials always come from the default provider chain (environment,
/// profile, IRSA web identity, EKS Pod Identity, instance metadata) and are never logged.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Region; when `None`, the standard chain (`AWS_REGION`, profile, IMDS) decides.
    pub region: Option<String>,
    /// Endpoint for every service (LocalStack); `AWS_ENDPOINT_URL` and
    /// `AWS_ENDPOINT_URL_<SERVICE>` are honoured by the SDK when this is `None`.
    pub endpoint_url: Option<String>,
    /// Maximum attempts per call, first attempt included.
    pub max_attempts: u32,
    /// Upper bound for one whole operation, retries included.
    pub operation_timeout: Duration,
    /// Upper bound for one attempt.
    pub attempt_timeout: Duration,
    /// Client-side rate limits per operation (`--aws-api-throttle`).
    pub throttle: ThrottleConfig,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            endpoint_url: None,
            max_attempts: 10,
            operation_timeout: Duration::from_secs(120),
            attempt_timeout: Duration::from_secs(30),
            throttle: ThrottleConfig::defaults(),
        }
    }
}

/// First wait before a retry (doubled on each further retry, with jitter).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait before a retry, whatever the budget.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// The longest wait before one retry, so that the retry budget and the operation timeout agree:
/// every retry of a call waiting the longest takes at most half of
/// [`AwsOptions::operation_timeout`], leaving the other half for the attempts themselves (and
/// their waits for the client-side rate limits, which pace every attempt). Without this, steadily throttled calls waited up to 20 s
/// per retry and the 120 s timeout ended them after 7 of their 10 attempts, reported as a
/// timeout. Defaults: 10 attempts, 120 s, so at most 6.7 s per retry and 60 s of waiting.
pub fn max_backoff(opts: &AwsOptions) -> Duration {
    let retries = opts.max_attempts.max(1) - 1;
    if retries == 0 {
        return MAX_BACKOFF;
    }
    (opts.operation_timeout / (2 * retries)).clamp(INITIAL_BACKOFF, MAX_BACKOFF)
}

/// Retry policy: standard mode, exponential backoff with jitter (the longest wait is
/// [`max_backoff`]) and the SDK's retry quota (a token bucket of 500 per client: a retry takes 5,
/// a timeout's 10, a retry that succeeds gives its tokens back and a first-attempt success adds
/// one, so only calls that fail for good drain it, not a steady rate of transient faults).
///
/// Not adaptive mode: the rate is paced by our own per-operation limits
/// ([`AwsOptions::throttle`], [`ratelimit`]), which never let a burst exceed the configured
/// rate. Adaptive mode's client rate limiter cut the send rate of the whole client after a
/// single throttling answer and recovered slowly: the mixed fault round of
/// `tests/it/aws_faults.rs` (6% throttling) took 134 s in adaptive mode, 19 s in standard mode
/// with these limits, and 16 s to 21 s with its throttling answered as 500s (one run each on a
/// loaded machine: `cargo test --test it -- mixed_faults --include-ignored --nocapture
/// --test-threads=1`).
pub fn retry_config(opts: &AwsOptions) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(opts.max_attempts.max(1))
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(max_backoff(opts))
}

/// Loads the shared SDK configuration.
pub async fn load_sdk_config(opts: &AwsOptions) -> SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // Every client built from this configuration shares one set of buckets.
    let http_client = RateLimitedHttpClient::new(https, RateLimiter::new(&opts.throttle));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .retry_config(retry_config(opts))
        // The rate limiter waits inside the HTTP client, before the request body is read: the
        // upload check would take a wait of over 20 s (its grace period) for a stalled upload
        // and fail the attempt. Our request bodies are small; downloads are still checked.
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(opts.operation_timeout)
                .operation_attempt_timeout(opts.attempt_timeout)
                .build(),
        );
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        tracing::warn!(
            region = DEFAULT_REGION,
            "no AWS region configured (--region, AWS_REGION, profile or instance metadata); using the default"
        );
        config = config
            .into_builder()
            .region(Region::from_static(DEFAULT_REGION))
            .build();
    }
    config
}

/// The service clients, each counting its calls into one shared [`CallCounter`].
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// Elastic Load Balancing v2.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    /// EC2 (subnets, security groups).
    pub ec2: aws_sdk_ec2::Client,
    /// Route53.
    pub route53: aws_sdk_route53::Client,
    /// ACM (certificate discovery).
    pub acm: aws_sdk_acm::Client,
    /// WAFv2 (web ACLs of load balancers).
    pub wafv2: aws_sdk_wafv2::Client,
    /// Shield (Advanced protection of load balancers; a global service, answered in the
    /// region the clients use, as LBC's client does).
    pub shield: aws_sdk_shield::Client,
    /// Every call made through the clients above.
    pub calls: CallCounter,
    /// ELBv2 clients of assumed roles (TargetGroupBindings' `iamRoleArnToAssume`).
    pub assumed: assume::AssumedRoles,
}

impl AwsClients {
    /// Builds the clients from a loaded configuration.
    pub fn new(config: &SdkConfig) -> Self {
        let calls = CallCounter::new();
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(config)
                .interceptor(calls.interceptor("elbv2"))
                .build(),
        );
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(config)
                .interceptor(calls.interceptor("ec2"))
                .build(),
        );
        let route53 = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(config)
                .interceptor(calls.interceptor("route53"))
                .build(),
        );
        let acm = aws_sdk_acm::Client::from_conf(
            aws_sdk_acm::config::Builder::from(config)
                .interceptor(calls.interceptor("acm"))
                .build(),
        );
        let assumed = assume::AssumedRoles::new(config, &calls);
        let wafv2 = aws_sdk_wafv2::Client::from_conf(
            aws_sdk_wafv2::config::Builder::from(config)
                .interceptor(calls.interceptor("wafv2"))
                .build(),
        );
        let shield = aws_sdk_shield::Client::from_conf(
            aws_sdk_shield::config::Builder::from(config)
                .interceptor(calls.interceptor("shield"))
                .build(),
        );
        AwsClients {
            elbv2,
            ec2,
            route53,
            acm,
            wafv2,
            shield,
            calls,
            assumed,
        }
    }

    /// Loads the configuration and builds the clients.
    pub async fn connect(opts: &AwsOptions) -> Self {
        Self::new(&load_sdk_config(opts).await)
    }

    /// These clients with ELBv2 calls made as `role` (`None`: as themselves), as a
    /// TargetGroupBinding's `iamRoleArnToAssume` asks; the session is cached until its
    /// credentials expire ([`assume`]).
    ///
    /// # Errors
    /// `sts:AssumeRole` failed.
    pub async fn as_role(
        &self,
        role: Option<&str>,
        external_id: Option<&str>,
        cluster: &str,
    ) -> Result<Self, AwsError> {
        let Some(role) = role.filter(|r| !r.is_empty()) else {
            return Ok(self.clone());
        };
        let elbv2 = self.assumed.elbv2(role, external_id, cluster).await?;
        Ok(Self {
            elbv2,
            ..self.clone()
        })
    }

    /// The region the clients talk to.
    pub fn region(&self) -> String {
        self.elbv2
            .config()
            .region()
            .map_or_else(|| DEFAULT_REGION.to_owned(), ToString::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worst case: every retry waits the longest.
    fn worst_wait(opts: &AwsOptions) -> Duration {
        max_backoff(opts) * (opts.max_attempts.max(1) - 1)
    }

    #[test]
    fn every_retry_fits_in_half_the_operation_timeout() {
        let defaults = AwsOptions::default();
        assert_eq!(defaults.max_attempts, 10);
        assert_eq!(max_backoff(&defaults), Duration::from_secs(120) / 18);
        assert!(worst_wait(&defaults) <= defaults.operation_timeout / 2);
        for (attempts, timeout) in [(3, 10), (5, 60), (10, 300), (25, 120)] {
            let opts = AwsOptions {
                max_attempts: attempts,
                operation_timeout: Duration::from_secs(timeout),
                ..AwsOptions::default()
            };
            assert!(
                worst_wait(&opts) <= opts.operation_timeout / 2,
                "{attempts} attempts, {timeout} s"
            );
            assert!(max_backoff(&opts) <= MAX_BACKOFF);
        }
        // A long timeout does not stretch one wait beyond MAX_BACKOFF; a single attempt never
        // waits.
        let long = AwsOptions {
            operation_timeout: Duration::from_secs(3600),
            ..AwsOptions::default()
        };
        assert_eq!(max_backoff(&long), MAX_BACKOFF);
        let once = AwsOptions {
            max_attempts: 1,
            ..AwsOptions::default()
        };
        assert_eq!(worst_wait(&once), Duration::ZERO);
    }
}
