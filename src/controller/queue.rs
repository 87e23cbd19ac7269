//! The controller's one work queue, for stacks and TargetGroupBindings alike.
//!
//! A key is *dirty* (waiting for a worker), *in flight* (a worker has it; it is never handed
//! out twice) or neither. A failure puts the key back with a *not-before* time chosen by the
//! [`ErrorClass`] of what failed:
//! - [`ErrorClass::Transient`] (throttling, 5xx, no answer): retried soon, 1 s doubling to 30 s;
//! - [`ErrorClass::Other`]: 1 s doubling to 5 min;
//! - [`ErrorClass::InvalidInput`] (AWS rejected what the objects ask for): parked until the
//!   objects change ([`WorkQueue::retry_now`]) or the periodic resync ([`WorkQueue::unpark_all`]).
//!
//! Those are the defaults of [`Backoff`]; the reconciler's queue takes its delays from
//! `Settings::backoff` (tests shorten them).
//!
//! The queue is plain data: every method takes the current time, so it is tested without a
//! runtime; the async loops ([`super::reconciler`], [`super::bindings`]) sleep until
//! [`WorkQueue::next_wake`].
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::AwsError;

/// First retry delay after a failure; doubled per failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay of a transient failure.
pub const BACKOFF_MAX_TRANSIENT: Duration = Duration::from_secs(30);
/// Longest retry delay of any other failure.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// AWS error codes that mean the request itself is invalid: repeating it cannot succeed until
/// the objects it was made from change.
const INVALID_INPUT_CODES: &[&str] = &[
    "ValidationError",
    "InvalidConfigurationRequest",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidInput",
];

/// How a failure is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// Throttling, a 5xx answer or no answer at all: retry soon.
    Transient,
    /// Anything else: default exponential backoff.
    Other,
    /// The request is invalid for what the objects ask: wait for them to change.
    InvalidInput,
}

impl ErrorClass {
    /// The class of a failed AWS call.
    pub fn of_aws(error: &AwsError) -> Self {
        if error.is_retryable() {
            Self::Transient
        } else if INVALID_INPUT_CODES.contains(&error.code.as_str()) {
            Self::InvalidInput
        } else {
            Self::Other
        }
    }

    /// How long to wait after the `failures`-th failure in a row (1-based) with the default
    /// [`Backoff`]; `None`: until the objects change.
    pub fn delay(self, failures: u32) -> Option<Duration> {
        Backoff::default().delay(self, failures)
    }

    /// The more urgent of two classes for one key: a retryable failure beside an invalid
    /// request still deserves its retry.
    pub fn most_urgent(self, other: Self) -> Self {
        self.min(other)
    }
}

/// The retry delays of failed keys: `base` after the first failure, doubled per failure in a
/// row, up to `max_transient` for [`ErrorClass::Transient`] and `max` for [`ErrorClass::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay of a transient failure.
    pub max_transient: Duration,
    /// Longest delay of any other failure.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s doubling to 30 s (transient) or 5 min (other).
    fn default() -> Self {
        Self {
            base: BACKOFF_BASE,
            max_transient: BACKOFF_MAX_TRANSIENT,
            max: BACKOFF_MAX,
        }
    }
}

impl Backoff {
    /// How long to wait after the `failures`-th failure in a row (1-based) of `class`; `None`:
    /// until the objects change.
    pub fn delay(&self, class: ErrorClass, failures: u32) -> Option<Duration> {
        let exp = failures.clamp(1, 10) - 1;
        let doubled = self.base.saturating_mul(1 << exp);
        match class {
            ErrorClass::Transient => Some(doubled.min(self.max_transient)),
            ErrorClass::Other => Some(doubled.min(self.max)),
            ErrorClass::InvalidInput => None,
        }
    }
}

/// Dirty, in-flight and backed-off keys.
#[derive(Debug)]
pub struct WorkQueue<K> {
    dirty: BTreeSet<K>,
    in_flight: BTreeSet<K>,
    failures: BTreeMap<K, u32>,
    not_before: BTreeMap<K, Instant>,
    /// Failed with invalid input: not handed out until [`WorkQueue::retry_now`].
    parked: BTreeSet<K>,
    /// Retry delays.
    backoff: Backoff,
}

impl<K> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new(Backoff::default())
    }
}

impl<K> WorkQueue<K> {
    /// An empty queue retrying failures after `backoff`'s delays.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            dirty: BTreeSet::new(),
            in_flight: BTreeSet::new(),
            failures: BTreeMap::new(),
            not_before: BTreeMap::new(),
            parked: BTreeSet::new(),
            backoff,
        }
    }
}

impl<K: Ord + Clone> WorkQueue<K> {
    /// Marks `key` dirty (a parked key stays parked until [`WorkQueue::retry_now`]).
    pub fn add(&mut self, key: K) {
        self.dirty.insert(key);
    }

    /// Marks every key of `keys` dirty.
    pub fn add_all(&mut self, keys: impl IntoIterator<Item = K>) {
        self.dirty.extend(keys);
    }

    /// The objects of `key` changed: its backoff no longer applies (the failure count stays
    /// until it succeeds), and a parked key is dirty again.
    pub fn retry_now(&mut self, key: &K) {
        self.not_before.remove(key);
        if self.parked.remove(key) {
            self.dirty.insert(key.clone());
        }
    }

    /// Every parked key is dirty again (the periodic resync).
    pub fn unpark_all(&mut self) {
        let parked = std::mem::take(&mut self.parked);
        self.dirty.extend(parked);
    }

    /// Whether `key` may be worked on at `now` (not in flight, not backed off, not parked).
    pub fn ready(&self, key: &K, now: Instant) -> bool {
        !self.in_flight.contains(key)
            && !self.parked.contains(key)
            && self.not_before.get(key).is_none_or(|t| *t <= now)
    }

    /// Hands out up to `max` dirty keys that are [`WorkQueue::ready`], in key order, and marks
    /// them in flight.
    pub fn take(&mut self, now: Instant, max: usize) -> Vec<K> {
        let batch: Vec<K> = self
            .dirty
            .iter()
            .filter(|k| self.ready(k, now))
            .take(max.max(1))
            .cloned()
            .collect();
        for k in &batch {
            self.dirty.remove(k);
            self.in_flight.insert(k.clone());
        }
        batch
    }

    /// Marks `key` in flight without it being dirty (the fast path); `false` when it is dirty
    /// or already in flight, and so belongs to a full pass.
    pub fn start(&mut self, key: &K) -> bool {
        if self.dirty.contains(key) || self.in_flight.contains(key) {
            return false;
        }
        self.in_flight.insert(key.clone());
        true
    }

    /// The work on `key` ended (whatever its outcome).
    pub fn finish(&mut self, key: &K) {
        self.in_flight.remove(key);
    }

    /// `key` is no longer dirty (a pass in flight already did what it was marked for).
    pub fn clean(&mut self, key: &K) {
        self.dirty.remove(key);
    }

    /// `key` succeeded: its failures are forgotten.
    pub fn succeeded(&mut self, key: &K) {
        self.failures.remove(key);
        self.not_before.remove(key);
        self.parked.remove(key);
    }

    /// `key` failed with `class` at `now`: it is dirty again after its backoff, or parked.
    /// Returns when it may run again (`None`: parked).
    pub fn failed(&mut self, key: &K, class: ErrorClass, now: Instant) -> Option<Instant> {
        let n = self.failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        match self.backoff.delay(class, *n) {
            Some(delay) => {
                let at = now + delay;
                self.not_before.insert(key.clone(), at);
                self.dirty.insert(key.clone());
                Some(at)
            }
            None => {
                self.not_before.remove(key);
                self.dirty.remove(key);
                self.parked.insert(key.clone());
                None
            }
        }
    }

    /// Failures of `key` in a row.
    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// Whether `key` is dirty or in flight.
    pub fn is_pending(&self, key: &K) -> bool {
        self.dirty.contains(key) || self.in_flight.contains(key)
    }

    /// Whether `key` is parked for invalid input.
    pub fn is_parked(&self, key: &K) -> bool {
        self.parked.contains(key)
    }

    /// Number of dirty keys (the queue-depth gauge).
    pub fn len(&self) -> usize {
        self.dirty.len()
    }

    /// Whether no key is dirty.
    pub fn is_empty(&self) -> bool {
        self.dirty.is_empty()
    }

    /// The earliest future time a dirty key's backoff ends, if any.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        self.not_before
            .iter()
            .filter(|(k, t)| **t > now && self.dirty.contains(*k) && !self.in_flight.contains(*k))
            .map(|(_, t)| *t)
            .min()
    }

    /// Forgets every key `keep` rejects (objects that are gone), unless it is in flight.
    pub fn retain(&mut self, keep: impl Fn(&K) -> bool) {
        let in_flight = &self.in_flight;
        let keep = |k: &K| keep(k) || in_flight.contains(k);
        self.dirty.retain(|k| keep(k));
        self.failures.retain(|k, _| keep(k));
        self.not_before.retain(|k, _| keep(k));
        self.parked.retain(|k| keep(k));
    }

    /// Forgets every backoff and parked key (a new leadership term).
    pub fn clear_backoff(&mut self) {
        self.failures.clear();
        self.not_before.clear();
        let parked = std::mem::take(&mut self.parked);
        self.dirty.extend(parked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_delay_per_class_and_failure_count() {
        struct Case {
            name: &'static str,
            class: ErrorClass,
            failures: u32,
            want: Option<Duration>,
        }
        let cases = [
            Case {
                name: "transient, first",
                class: ErrorClass::Transient,
                failures: 1,
                want: Some(S(1)),
            },
            Case {
                name: "transient, third",
                class: ErrorClass::Transient,
                failures: 3,
                want: Some(S(4)),
            },
            Case {
                name: "transient, capped at 30 s",
                class: ErrorClass::Transient,
                failures: 6,
                want: Some(S(30)),
            },
            Case {
                name: "other, first",
                class: ErrorClass::Other,
                failures: 1,
                want: Some(S(1)),
            },
            Case {
                name: "other, ninth",
                class: ErrorClass::Other,
                failures: 9,
                want: Some(S(256)),
            },
            Case {
                name: "other, capped at 5 min",
                class: ErrorClass::Other,
                failures: 10,
                want: Some(S(300)),
            },
            Case {
                name: "other, far past the cap",
                class: ErrorClass::Other,
                failures: 1000,
                want: Some(S(300)),
            },
            Case {
                name: "invalid input waits for a change",
                class: ErrorClass::InvalidInput,
                failures: 1,
                want: None,
            },
        ];
        for c in cases {
            assert_eq!(c.class.delay(c.failures), c.want, "{}", c.name);
        }
    }

    #[test]
    fn a_queue_backs_off_by_its_own_delays() {
        let ms = Duration::from_millis;
        let backoff = Backoff {
            base: ms(250),
            max_transient: ms(1000),
            max: ms(2000),
        };
        let t0 = Instant::now();
        let mut q = WorkQueue::new(backoff);
        let other: Vec<Duration> = (0..6)
            .map(|_| q.failed(&"o", ErrorClass::Other, t0).unwrap() - t0)
            .collect();
        assert_eq!(
            other,
            [ms(250), ms(500), ms(1000), ms(2000), ms(2000), ms(2000)]
        );
        let transient: Vec<Duration> = (0..4)
            .map(|_| q.failed(&"t", ErrorClass::Transient, t0).unwrap() - t0)
            .collect();
        assert_eq!(transient, [ms(250), ms(500), ms(1000), ms(1000)]);
        assert_eq!(q.failed(&"i", ErrorClass::InvalidInput, t0), None);
        assert_eq!(
            WorkQueue::<&str>::default().backoff,
            Backoff {
                base: S(1),
                max_transient: S(30),
                max: S(300)
            }
        );
    }

    #[test]
    fn aws_errors_are_classified_by_kind_status_and_code() {
        use crate::aws::error::AwsErrorKind;
        struct Case {
            name: &'static str,
            kind: AwsErrorKind,
            code: &'static str,
            status: Option<u16>,
            want: ErrorClass,
        }
        let cases = [
            Case {
                name: "throttled",
                kind: AwsErrorKind::Throttled,
                code: "Throttling",
                status: Some(400),
                want: ErrorClass::Transient,
            },
            Case {
                name: "no answer",
                kind: AwsErrorKind::Transport,
                code: "dispatch failure",
                status: None,
                want: ErrorClass::Transient,
            },
            Case {
                name: "server error",
                kind: AwsErrorKind::Service,
                code: "InternalFailure",
                status: Some(500),
                want: ErrorClass::Transient,
            },
            Case {
                name: "unavailable",
                kind: AwsErrorKind::Service,
                code: "ServiceUnavailable",
                status: Some(503),
                want: ErrorClass::Transient,
            },
            Case {
                name: "validation",
                kind: AwsErrorKind::Service,
                code: "ValidationError",
                status: Some(400),
                want: ErrorClass::InvalidInput,
            },
            Case {
                name: "invalid configuration",
                kind: AwsErrorKind::Service,
                code: "InvalidConfigurationRequest",
                status: Some(400),
                want: ErrorClass::InvalidInput,
            },
            Case {
                name: "EC2 invalid parameter",
                kind: AwsErrorKind::Service,
                code: "InvalidParameterValue",
                status: Some(400),
                want: ErrorClass::InvalidInput,
            },
            Case {
                name: "Route53 invalid input",
                kind: AwsErrorKind::Service,
                code: "InvalidInput",
                status: Some(400),
                want: ErrorClass::InvalidInput,
            },
            Case {
                name: "not found",
                kind: AwsErrorKind::Service,
                code: "TargetGroupNotFound",
                status: Some(400),
                want: ErrorClass::Other,
            },
            Case {
                name: "access denied",
                kind: AwsErrorKind::Service,
                code: "AccessDenied",
                status: Some(403),
                want: ErrorClass::Other,
            },
        ];
        for c in cases {
            let e = AwsError {
                service: "elbv2",
                operation: "CreateLoadBalancer",
                code: c.code.to_owned(),
                message: String::new(),
                status: c.status,
                kind: c.kind,
                attempts: None,
                elapsed: None,
            };
            assert_eq!(ErrorClass::of_aws(&e), c.want, "{}", c.name);
        }
        assert_eq!(
            ErrorClass::InvalidInput.most_urgent(ErrorClass::Transient),
            ErrorClass::Transient
        );
        assert_eq!(
            ErrorClass::Other.most_urgent(ErrorClass::InvalidInput),
            ErrorClass::Other
        );
        assert_eq!(
            ErrorClass::Other.most_urgent(ErrorClass::Transient),
            ErrorClass::Transient
        );
    }

    #[test]
    fn a_key_is_handed_out_once_and_in_key_order() {
        let now = Instant::now();
        let mut q = WorkQueue::default();
        q.add_all(["c", "a", "b"]);
        assert_eq!(q.take(now, 2), vec!["a", "b"]);
        assert_eq!(q.len(), 1);
        q.add("a");
        assert_eq!(
            q.take(now, 10),
            vec!["c"],
            "a is in flight: not handed out again"
        );
        q.finish(&"a");
        assert_eq!(
            q.take(now, 10),
            vec!["a"],
            "dirty again while in flight: after it ends"
        );
        assert_eq!(
            q.take(now, 0),
            Vec::<&str>::new(),
            "at least one, but none is dirty"
        );
        q.add_all(["x", "y"]);
        assert_eq!(q.take(now, 0), vec!["x"], "max 0 still takes one");
    }

    #[test]
    fn a_key_cleaned_in_flight_is_not_handed_out_again() {
        let now = Instant::now();
        let mut q = WorkQueue::default();
        q.add("a");
        assert_eq!(q.take(now, 1), vec!["a"]);
        q.add("a");
        q.clean(&"a");
        q.finish(&"a");
        assert_eq!(q.take(now, 1), Vec::<&str>::new());
        assert!(!q.is_pending(&"a"));
    }

    #[test]
    fn the_fast_path_starts_only_keys_no_pass_holds() {
        let now = Instant::now();
        let mut q = WorkQueue::default();
        q.add("dirty");
        assert!(!q.start(&"dirty"));
        assert!(q.start(&"idle"));
        assert!(!q.start(&"idle"), "already in flight");
        assert!(q.is_pending(&"idle"));
        assert_eq!(q.take(now, 10), vec!["dirty"]);
        q.add("idle");
        assert_eq!(
            q.take(now, 10),
            Vec::<&str>::new(),
            "in flight on the fast path"
        );
        q.finish(&"idle");
        assert_eq!(q.take(now, 10), vec!["idle"]);
    }

    #[test]
    fn failures_back_off_by_class_and_success_resets_them() {
        let t0 = Instant::now();
        let mut q = WorkQueue::default();
        q.add("a");
        assert_eq!(q.take(t0, 1), vec!["a"]);
        q.finish(&"a");
        assert_eq!(q.failed(&"a", ErrorClass::Other, t0), Some(t0 + S(1)));
        assert_eq!(q.next_wake(t0), Some(t0 + S(1)));
        assert_eq!(q.take(t0, 1), Vec::<&str>::new(), "backed off");
        assert_eq!(q.take(t0 + S(1), 1), vec!["a"]);
        q.finish(&"a");
        assert_eq!(
            q.failed(&"a", ErrorClass::Other, t0 + S(1)),
            Some(t0 + S(3)),
            "doubled"
        );
        assert_eq!(q.failures(&"a"), 2);
        q.retry_now(&"a");
        assert_eq!(q.next_wake(t0 + S(1)), None);
        assert_eq!(q.take(t0 + S(1), 1), vec!["a"], "a change retries at once");
        q.finish(&"a");
        assert_eq!(q.failures(&"a"), 2, "the count stays until success");
        q.succeeded(&"a");
        assert_eq!(q.failures(&"a"), 0);
        assert_eq!(
            q.failed(&"a", ErrorClass::Transient, t0),
            Some(t0 + S(1)),
            "from the start"
        );
    }

    #[test]
    fn invalid_input_is_parked_until_a_change_or_the_resync() {
        let t0 = Instant::now();
        let mut q = WorkQueue::default();
        q.add("a");
        q.add("b");
        assert_eq!(q.take(t0, 2), vec!["a", "b"]);
        q.finish(&"a");
        q.finish(&"b");
        assert_eq!(q.failed(&"a", ErrorClass::InvalidInput, t0), None);
        assert_eq!(q.failed(&"b", ErrorClass::InvalidInput, t0), None);
        assert!(q.is_parked(&"a"));
        assert_eq!(q.next_wake(t0), None, "nothing to wake for");
        q.add("a");
        assert_eq!(
            q.take(t0 + S(3600), 10),
            Vec::<&str>::new(),
            "marking dirty does not unpark"
        );
        q.retry_now(&"a");
        assert_eq!(q.take(t0, 10), vec!["a"], "the objects changed");
        q.unpark_all();
        assert_eq!(q.take(t0, 10), vec!["b"], "the resync");
    }

    #[test]
    fn next_wake_ignores_keys_in_flight_or_already_due() {
        let t0 = Instant::now();
        let mut q = WorkQueue::default();
        q.failed(&"soon", ErrorClass::Transient, t0);
        q.failed(&"late", ErrorClass::Other, t0);
        q.failed(&"late", ErrorClass::Other, t0);
        assert_eq!(q.next_wake(t0), Some(t0 + S(1)));
        assert_eq!(
            q.next_wake(t0 + S(1)),
            Some(t0 + S(2)),
            "soon is due: not a wake-up"
        );
        assert_eq!(q.take(t0 + S(1), 1), vec!["soon"]);
        q.failed(&"soon", ErrorClass::Transient, t0 + S(1));
        q.start(&"other");
        assert_eq!(q.next_wake(t0 + S(1)), Some(t0 + S(2)));
    }

    #[test]
    fn retain_forgets_gone_keys_but_not_those_in_flight() {
        let t0 = Instant::now();
        let mut q = WorkQueue::default();
        q.add_all(["gone", "kept", "busy"]);
        assert_eq!(q.take(t0, 1), vec!["busy"]);
        q.failed(&"gone", ErrorClass::Other, t0);
        q.retain(|k| *k == "kept");
        assert_eq!(q.failures(&"gone"), 0);
        assert_eq!(q.next_wake(t0), None);
        assert_eq!(q.take(t0, 10), vec!["kept"]);
        assert!(q.is_pending(&"busy"));
        q.failed(&"busy", ErrorClass::Other, t0);
        q.clear_backoff();
        assert_eq!(q.failures(&"busy"), 0, "a new term forgets backoff");
    }
}
