//! Counts every AWS API call the operator makes, per service and operation.
//!
//! The counter is an SDK interceptor installed on every client by [`super::AwsClients`], so no
//! call can bypass it: later layers report API-call volume (`apply -o json`'s `awsCalls`, the
//! Prometheus metrics) and tests assert on it (an unchanged re-apply makes no mutating call).
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

use super::ratelimit::RateLimitKey;

/// Counts for one service operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    /// Operations started (one per SDK call, however many attempts it took).
    pub calls: u64,
    /// HTTP attempts sent, retries included.
    pub attempts: u64,
    /// Operations that ended in an error after all retries.
    pub errors: u64,
    /// Time its attempts waited for the client-side rate limits ([`super::ratelimit`]).
    #[serde(skip)]
    pub rate_limit_wait: Duration,
}

/// `(service, operation)`, e.g. `("elbv2", "DescribeTags")`.
pub type CallKey = (String, String);

/// How many recent mutating calls [`CallCounter::recent_mutations`] remembers.
pub const RECENT_MUTATIONS: usize = 4096;

/// One finished AWS operation, as told to [`CallCounter::on_finished`] observers.
#[derive(Debug, Clone, Copy)]
pub struct FinishedCall<'a> {
    /// Service (`elbv2`, `ec2`, `route53`).
    pub service: &'a str,
    /// Operation (`DescribeTags`).
    pub operation: &'a str,
    /// Time from the start of the operation to its end, retries included.
    pub took: Duration,
    /// It ended in an error.
    pub failed: bool,
}

type CallObserver = Arc<dyn Fn(&FinishedCall<'_>) + Send + Sync>;

/// Observers of finished operations (the metrics' latency histogram).
#[derive(Clone, Default)]
struct Observers(Arc<Mutex<Vec<CallObserver>>>);

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        write!(f, "Observers({n})")
    }
}

/// Shared, cloneable call counter.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<BTreeMap<CallKey, CallStats>>>,
    recent: Arc<Mutex<std::collections::VecDeque<String>>>,
    observers: Observers,
}

/// When the current operation started, kept in the operation's config bag.
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// True for operations that change AWS state: anything that is not a Describe, List or Get.
pub fn is_mutating(operation: &str) -> bool {
    !["Describe", "List", "Get"]
        .iter()
        .any(|p| operation.starts_with(p))
}

impl CallCounter {
    /// Creates an empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// An interceptor that records calls of `service` into this counter.
    pub fn interceptor(&self, service: &'static str) -> CallCountingInterceptor {
        CallCountingInterceptor {
            service,
            counter: self.clone(),
        }
    }

    /// Calls `f` with every operation that finishes from now on (after all its attempts).
    pub fn on_finished(&self, f: impl Fn(&FinishedCall<'_>) + Send + Sync + 'static) {
        self.observers
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(f));
    }

    fn finished(&self, call: &FinishedCall<'_>) {
        let observers = self
            .observers
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for observe in observers {
            observe(call);
        }
    }

    fn update(&self, service: &str, operation: &str, f: impl FnOnce(&mut CallStats)) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(map
            .entry((service.to_owned(), operation.to_owned()))
            .or_default());
    }

    /// A copy of all counts so far.
    pub fn snapshot(&self) -> BTreeMap<CallKey, CallStats> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Calls per `"service.Operation"`, the shape `apply -o json` prints as `awsCalls`.
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .map(|((s, o), st)| (format!("{s}.{o}"), st.calls))
            .collect()
    }

    /// Calls per `"service.Operation"` of the operations that change AWS state.
    pub fn mutating_by_operation(&self) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .filter(|((_, op), _)| is_mutating(op))
            .map(|((s, o), st)| (format!("{s}.{o}"), st.calls))
            .collect()
    }

    /// Total operations started.
    pub fn total_calls(&self) -> u64 {
        self.snapshot().values().map(|s| s.calls).sum()
    }

    /// Total operations that change AWS state.
    pub fn mutating_calls(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|((_, op), _)| is_mutating(op))
            .map(|(_, s)| s.calls)
            .sum()
    }

    /// The last [`RECENT_MUTATIONS`] mutating calls as `"service.Operation"`, oldest first: the
    /// order in which AWS was changed.
    pub fn recent_mutations(&self) -> Vec<String> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn started(&self, service: &str, operation: &str) {
        self.update(service, operation, |s| s.calls += 1);
        if is_mutating(operation) {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if recent.len() == RECENT_MUTATIONS {
                recent.pop_front();
            }
            recent.push_back(format!("{service}.{operation}"));
        }
    }

    /// Adds `waited` to the time `service`'s `operation` waited for its rate limits.
    pub(super) fn rate_limited(&self, service: &str, operation: &str, waited: Duration) {
        self.update(service, operation, |s| {
            s.rate_limit_wait = s.rate_limit_wait.saturating_add(waited);
        });
    }

    /// Time every operation waited for the client-side rate limits, in total.
    pub fn rate_limit_wait(&self) -> Duration {
        self.snapshot()
            .values()
            .fold(Duration::ZERO, |t, s| t.saturating_add(s.rate_limit_wait))
    }

    /// Forgets every count (used between phases of a test or a benchmark).
    pub fn reset(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// SDK interceptor feeding a [`CallCounter`].
#[derive(Debug, Clone)]
pub struct CallCountingInterceptor {
    service: &'static str,
    counter: CallCounter,
}

fn operation_name(cfg: &ConfigBag) -> String {
    cfg.load::<Metadata>()
        .map_or_else(|| "Unknown".to_owned(), |m| m.name().to_owned())
}

impl Intercept for CallCountingInterceptor {
    fn name(&self) -> &'static str {
        "CallCountingInterceptor"
    }

    // Once per operation. (At `read_before_execution` the operation's metadata is not in the
    // config bag yet; here it is.)
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation_name(cfg);
        tracing::trace!(service = self.service, operation = %op, "aws call");
        self.counter.started(self.service, &op);
        record_operation(self.service, &op);
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counter
            .update(self.service, &operation_name(cfg), |s| s.attempts += 1);
        Ok(())
    }

    // A failed call's answer carries how many attempts it took and for how long, so the
    // error can say so (`AwsError::from_sdk` reads them back).
    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(context.output_or_error(), Some(Err(_))) {
            return Ok(());
        }
        let attempts = cfg.load::<RequestAttempts>().map(RequestAttempts::attempts);
        let elapsed = cfg.load::<Started>().map(|s| s.0.elapsed());
        if let Some(response) = context.response_mut() {
            if let Some(a) = attempts {
                response
                    .headers_mut()
                    .insert(super::error::ATTEMPTS_HEADER, a.to_string());
            }
            if let Some(e) = elapsed {
                response
                    .headers_mut()
                    .insert(super::error::ELAPSED_HEADER, e.as_millis().to_string());
            }
        }
        Ok(())
    }

    // Once per attempt, after signing: names the operation for the rate limiter, which waits
    // in the HTTP client (`RateLimitedHttpClient`) before this attempt is sent. The request is
    // rebuilt from a checkpoint for each retry, without its extensions, so this runs again.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context.request_mut().add_extension(RateLimitKey {
            service: self.service,
            operation: operation_name(cfg),
            counter: self.counter.clone(),
        });
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if details::enabled() {
            let pending = details::PendingCall::new(self.service, context.request(), cfg);
            cfg.interceptor_state().store_put(pending);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = operation_name(cfg);
        let failed = matches!(context.output_or_error(), Some(Err(_)));
        if failed {
            self.counter
                .update(self.service, &operation, |s| s.errors += 1);
        }
        if let Some(Started(at)) = cfg.load::<Started>() {
            self.counter.finished(&FinishedCall {
                service: self.service,
                operation: &operation,
                took: at.elapsed(),
                failed,
            });
        }
        if details::enabled() {
            let output = match context.output_or_error() {
                Some(Ok(output)) => Some(output),
                _ => None,
            };
            details::record(
                self.service,
                &operation_name(cfg),
                cfg.load::<details::PendingCall>(),
                output,
            );
        }
        Ok(())
    }
}

/// Environment variable naming a file to which every process appends each distinct
/// `service.Operation` it calls, once per process. The test command sets it so the IAM policy
/// test can compare the operations the suites exercised with `iam-policies/controller.json`.
pub const RECORD_CALLS_ENV: &str = "AWS_LB_OPERATOR_RECORD_CALLS";

/// The file named by [`RECORD_CALLS_ENV`] and the operations this process already appended.
#[derive(Debug)]
struct Recorder {
    path: std::path::PathBuf,
    seen: Mutex<std::collections::HashSet<String>>,
}

impl Recorder {
    fn new(path: std::path::PathBuf) -> Self {
        Recorder {
            path,
            seen: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Appends `key` unless this recorder already did. Never fails: an I/O error is logged at
    /// debug, and the key is tried again next time.
    fn record(&self, key: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(key) {
            return;
        }
        // One short write to an O_APPEND file: lines of concurrent processes do not interleave.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{key}\n").as_bytes()));
        match written {
            Ok(()) => {
                seen.insert(key.to_owned());
            }
            Err(e) => tracing::debug!(
                path = %self.path.display(),
                error = %e,
                "cannot record the AWS operation {key}"
            ),
        }
    }
}

/// Appends `service.operation` to the [`RECORD_CALLS_ENV`] file the first time this process
/// calls it; does nothing when the variable is unset or empty.
fn record_operation(service: &str, operation: &str) {
    static RECORDER: std::sync::OnceLock<Option<Recorder>> = std::sync::OnceLock::new();
    let recorder = RECORDER.get_or_init(|| {
        std::env::var_os(RECORD_CALLS_ENV)
            .filter(|p| !p.is_empty())
            .map(|p| Recorder::new(p.into()))
    });
    if let Some(recorder) = recorder {
        recorder.record(&format!("{service}.{operation}"));
    }
}

/// Counts the HTTP attempts of the one call it is installed on (with the fluent builder's
/// `customize().config_override(...)`), so the caller can tell a retried call: a create
/// retried after a lost response may have taken effect twice where the API is not
/// idempotent (LocalStack's CreateListener).
#[derive(Debug, Clone, Default)]
pub struct AttemptProbe(Arc<std::sync::atomic::AtomicU32>);

impl AttemptProbe {
    /// Attempts sent so far.
    pub fn attempts(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Intercept for AttemptProbe {
    fn name(&self) -> &'static str {
        "AttemptProbe"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

pub mod details;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_mutating_operations() {
        let cases = [
            ("DescribeLoadBalancers", false),
            ("DescribeTags", false),
            ("ListResourceRecordSets", false),
            ("GetChange", false),
            ("CreateLoadBalancer", true),
            ("ModifyRule", true),
            ("SetRulePriorities", true),
            ("RegisterTargets", true),
            ("ChangeResourceRecordSets", true),
            ("AuthorizeSecurityGroupIngress", true),
        ];
        for (op, want) in cases {
            assert_eq!(is_mutating(op), want, "{op}");
        }
    }

    #[test]
    fn aggregates_per_operation() {
        let c = CallCounter::new();
        c.update("elbv2", "DescribeTags", |s| s.calls += 1);
        c.update("elbv2", "DescribeTags", |s| s.calls += 1);
        c.started("elbv2", "CreateRule");
        c.started("ec2", "DescribeSubnets");
        c.started("route53", "ChangeResourceRecordSets");
        assert_eq!(
            c.recent_mutations(),
            vec!["elbv2.CreateRule", "route53.ChangeResourceRecordSets"]
        );
        assert_eq!(c.total_calls(), 5);
        assert_eq!(c.mutating_calls(), 2);
        let by_op = c.by_operation();
        assert_eq!(by_op.get("elbv2.DescribeTags"), Some(&2));
        assert_eq!(by_op.get("ec2.DescribeSubnets"), Some(&1));
        c.reset();
        assert_eq!(c.total_calls(), 0);
        assert!(c.recent_mutations().is_empty());
    }

    #[test]
    fn observers_hear_every_finished_operation() {
        let c = CallCounter::new();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let h = Arc::clone(&heard);
        c.clone().on_finished(move |call| {
            h.lock().unwrap().push(format!(
                "{}.{} {:?} {}",
                call.service, call.operation, call.took, call.failed
            ));
        });
        c.finished(&FinishedCall {
            service: "elbv2",
            operation: "CreateRule",
            took: Duration::from_millis(20),
            failed: false,
        });
        c.finished(&FinishedCall {
            service: "ec2",
            operation: "DescribeSubnets",
            took: Duration::from_secs(2),
            failed: true,
        });
        assert_eq!(
            *heard.lock().unwrap(),
            vec!["elbv2.CreateRule 20ms false", "ec2.DescribeSubnets 2s true"]
        );
    }

    #[test]
    fn records_each_operation_once_and_never_fails() {
        let dir =
            std::env::temp_dir().join(format!("aws-lb-operator-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("calls.txt");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, "ec2.DescribeSubnets\n").unwrap(); // another process's line
        let r = Recorder::new(path.clone());
        r.record("elbv2.DescribeTags");
        r.record("elbv2.DescribeTags");
        r.record("route53.ListHostedZones");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "ec2.DescribeSubnets\nelbv2.DescribeTags\nroute53.ListHostedZones\n"
        );

        // An unwritable path is logged, not fatal, and retried once it becomes writable.
        let missing = dir.join("not-yet").join("calls.txt");
        let r = Recorder::new(missing.clone());
        r.record("elbv2.CreateRule");
        assert!(!missing.exists());
        std::fs::create_dir_all(dir.join("not-yet")).unwrap();
        r.record("elbv2.CreateRule");
        assert_eq!(
            std::fs::read_to_string(&missing).unwrap(),
            "elbv2.CreateRule\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
