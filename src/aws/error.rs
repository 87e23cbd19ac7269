//! One typed error for every AWS call: service, operation, AWS error code, retryable.
use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// AWS error codes that mean "slow down" across ELBv2, EC2 and Route53.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "PriorRequestNotComplete",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// What kind of failure an AWS call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service answered with an error (4xx or 5xx) and an error code.
    Service,
    /// The service throttled the call.
    Throttled,
    /// The request never got an answer: connection refused, DNS, TLS, timeout.
    Transport,
    /// The answer could not be understood, or the SDK refused to build the request.
    Other,
}

/// A failed AWS call, named by service and operation, with the AWS error code.
#[derive(Debug, Clone, thiserror::Error)]
pub struct AwsError {
    /// Short service name (`elbv2`, `ec2`, `route53`).
    pub service: &'static str,
    /// API operation name (`DescribeLoadBalancers`).
    pub operation: &'static str,
    /// AWS error code (`LoadBalancerNotFound`), or a transport description.
    pub code: String,
    /// The error message AWS returned, if any.
    pub message: String,
    /// HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// What kind of failure this is.
    pub kind: AwsErrorKind,
    /// HTTP attempts the call made, retries included, when the service answered.
    pub attempts: Option<u32>,
    /// Time from the first attempt to the final answer, when the service answered.
    pub elapsed: Option<Duration>,
}

/// Response headers through which the call counter hands a failed call's attempts and
/// duration to [`AwsError::from_sdk`] (set in `calls::CallCountingInterceptor`).
pub(crate) const ATTEMPTS_HEADER: &str = "x-aws-lb-operator-attempts";
/// See [`ATTEMPTS_HEADER`]; milliseconds.
pub(crate) const ELAPSED_HEADER: &str = "x-aws-lb-operator-elapsed-ms";

/// Codes that say a resource already exists or is already gone: after a retried call, the
/// likely cause is an earlier attempt of the same call that took effect.
fn is_conflict_code(code: &str) -> bool {
    code.contains("Duplicate")
        || code.contains("AlreadyExists")
        || code.ends_with("NotFound")
        || code == "PriorityInUse"
        || code == "InvalidChangeBatch"
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} failed: {}",
            self.service, self.operation, self.code
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        // Attempts are worth saying for a throttled call, and for any call that was retried.
        let Some(attempts) = self.attempts.filter(|a| self.is_throttling() || *a > 1) else {
            return Ok(());
        };
        let over = self.elapsed.unwrap_or_default().as_secs_f64();
        if self.is_throttling() {
            write!(f, " (throttled, {attempts} attempts over {over:.1} s)")
        } else if self.kind == AwsErrorKind::Service && is_conflict_code(&self.code) {
            write!(
                f,
                " ({attempts} attempts over {over:.1} s: an earlier attempt may have taken \
                 effect before its answer was lost; a re-run reads AWS again and finishes the job)"
            )
        } else {
            write!(f, " ({attempts} attempts over {over:.1} s)")
        }
    }
}

impl AwsError {
    /// Maps an SDK error of any operation to an [`AwsError`].
    pub fn from_sdk<E>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, Response>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = err.message().unwrap_or_default().to_owned();
        let mut attempts = None;
        let mut elapsed = None;
        let (kind, status, code) = match &err {
            SdkError::ServiceError(ctx) => {
                let header = |name: &str| {
                    ctx.raw()
                        .headers()
                        .get(name)
                        .and_then(|v| v.parse::<u64>().ok())
                };
                attempts = header(ATTEMPTS_HEADER).and_then(|a| u32::try_from(a).ok());
                elapsed = header(ELAPSED_HEADER).map(Duration::from_millis);
                let status = ctx.raw().status().as_u16();
                let code = code.unwrap_or_else(|| format!("HTTP {status}"));
                let kind = if THROTTLING_CODES.contains(&code.as_str()) || status == 429 {
                    AwsErrorKind::Throttled
                } else {
                    AwsErrorKind::Service
                };
                (kind, Some(status), code)
            }
            SdkError::TimeoutError(_) => (AwsErrorKind::Transport, None, "Timeout".to_owned()),
            SdkError::DispatchFailure(d) => {
                let what = if d.is_timeout() {
                    "Timeout"
                } else if d.is_io() {
                    "ConnectionError"
                } else {
                    "DispatchFailure"
                };
                (AwsErrorKind::Transport, None, what.to_owned())
            }
            SdkError::ResponseError(ctx) => (
                AwsErrorKind::Other,
                Some(ctx.raw().status().as_u16()),
                "InvalidResponse".to_owned(),
            ),
            _ => (
                AwsErrorKind::Other,
                None,
                code.unwrap_or_else(|| "ConstructionFailure".to_owned()),
            ),
        };
        let message = if message.is_empty() && kind != AwsErrorKind::Service {
            // Transport errors carry no AWS message; the source chain says what happened.
            source_chain(&err)
        } else {
            message
        };
        AwsError {
            service,
            operation,
            code,
            message,
            status,
            kind,
            attempts,
            elapsed,
        }
    }

    /// A paginated listing returned a marker it had already returned: the API is looping, so
    /// stop instead of calling it forever.
    pub fn pagination_loop(service: &'static str, operation: &'static str, marker: &str) -> Self {
        AwsError {
            service,
            operation,
            code: "PaginationLoop".to_owned(),
            message: format!(
                "marker {marker:?} returned twice; stopping to avoid an endless listing"
            ),
            status: None,
            kind: AwsErrorKind::Other,
            attempts: None,
            elapsed: None,
        }
    }

    /// True when retrying later may succeed: throttling, 5xx, transport failures.
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            AwsErrorKind::Throttled | AwsErrorKind::Transport => true,
            AwsErrorKind::Service | AwsErrorKind::Other => self.status.is_some_and(|s| s >= 500),
        }
    }

    /// True when the service throttled the call.
    pub fn is_throttling(&self) -> bool {
        self.kind == AwsErrorKind::Throttled
    }

    /// True when the AWS error code equals `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code
    }
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}

/// Short alias used by every adapter function.
pub type Result<T, E = AwsError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, kind: AwsErrorKind, status: u16, attempts: u32, ms: u64) -> AwsError {
        AwsError {
            service: "elbv2",
            operation: "CreateRule",
            code: code.to_owned(),
            message: "AWS says".to_owned(),
            status: Some(status),
            kind,
            attempts: Some(attempts),
            elapsed: Some(Duration::from_millis(ms)),
        }
    }

    #[test]
    fn messages_give_the_attempts_and_what_a_retried_conflict_means() {
        use AwsErrorKind::{Service, Throttled};
        assert_eq!(
            err("Throttling", Throttled, 400, 10, 54_250).to_string(),
            "elbv2.CreateRule failed: Throttling: AWS says (throttled, 10 attempts over 54.2 s)"
        );
        // Throttled on the only attempt (retries off) still says so.
        assert_eq!(
            err("Throttling", Throttled, 400, 1, 80).to_string(),
            "elbv2.CreateRule failed: Throttling: AWS says (throttled, 1 attempts over 0.1 s)"
        );
        assert_eq!(
            err("PriorityInUse", Service, 400, 2, 1_300).to_string(),
            "elbv2.CreateRule failed: PriorityInUse: AWS says (2 attempts over 1.3 s: an earlier \
             attempt may have taken effect before its answer was lost; a re-run reads AWS again \
             and finishes the job)"
        );
        assert_eq!(
            err("InternalFailure", Service, 500, 3, 900).to_string(),
            "elbv2.CreateRule failed: InternalFailure: AWS says (3 attempts over 0.9 s)"
        );
        // One attempt, not throttled: AWS's answer alone.
        assert_eq!(
            err("PriorityInUse", Service, 400, 1, 30).to_string(),
            "elbv2.CreateRule failed: PriorityInUse: AWS says"
        );
    }
}
