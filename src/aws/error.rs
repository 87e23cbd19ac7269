//! One typed error for every AWS call: service, operation, AWS error code, retryable.
use std::fmt;

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
        Ok(())
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
        let (kind, status, code) = match &err {
            SdkError::ServiceError(ctx) => {
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
