//! Prometheus metrics, with `prometheus-client`: typed families, rendered by `/metrics` in the
//! Prometheus text format (version 0.0.4).
//!
//! Metric names and labels are a user interface (dashboards and alerts are built on them): the
//! families, their names and label sets are listed in `docs/controller.md`, and the
//! `controller_plumbing` integration test scrapes `/metrics` and checks every one of them.
//!
//! Callers use the typed methods ([`Metrics::reconciled`], [`Metrics::reconcile_error`],
//! [`Metrics::count_targets`], [`Metrics::dns_changes`], [`Metrics::event`]) and the gauge
//! handles. The string-keyed [`Metrics::inc`], [`Metrics::observe_reconcile`] and
//! [`Metrics::count_target_change`] remain as thin wrappers over them for older call sites.
//!
//! AWS call counts are read from the [`CallCounter`] every AWS client already feeds, at scrape
//! time; their latency is observed as each operation finishes.
use std::sync::Arc;
use std::time::Duration;

use aws_lb_operator_core::model::StackKind;
use aws_lb_operator_core::planner::Op;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::aws::calls::is_mutating;
use crate::aws::CallCounter;

/// Content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the reconcile duration histogram.
const RECONCILE_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Upper bounds (seconds) of the AWS call duration histogram (one operation, retries included:
/// up to the 120 s operation timeout).
const AWS_CALL_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

macro_rules! label_value {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant whose label value is `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    };
}

label_value! {
    /// `kind`: what a reconcile was about.
    Kind {
        /// An Ingress stack (an IngressGroup).
        Ingress => "ingress",
        /// A Service's NLB stack.
        Service => "service",
        /// A Gateway's stack (not reconciled by the controller yet: docs/gateway.md).
        Gateway => "gateway",
        /// A TargetGroupBinding.
        TargetGroupBinding => "targetgroupbinding",
    }
}

impl Kind {
    /// The kind of an object's reconcile, for the kinds reconciles are counted of.
    pub fn of_object(kind: super::keys::ObjectKind) -> Option<Self> {
        match kind {
            super::keys::ObjectKind::Ingress => Some(Self::Ingress),
            super::keys::ObjectKind::Service => Some(Self::Service),
            super::keys::ObjectKind::TargetGroupBinding => Some(Self::TargetGroupBinding),
            super::keys::ObjectKind::Gateway => Some(Self::Gateway),
            super::keys::ObjectKind::Other(_) => None,
        }
    }
}

impl From<StackKind> for Kind {
    fn from(k: StackKind) -> Self {
        match k {
            StackKind::Ingress => Kind::Ingress,
            StackKind::Service => Kind::Service,
            StackKind::Gateway | StackKind::NlbGateway => Kind::Gateway,
        }
    }
}

label_value! {
    /// `result` of a reconcile.
    ReconcileResult {
        /// Planned and applied.
        Success => "success",
        /// Failed.
        Error => "error",
        /// Planned only (`--dry-run`).
        DryRun => "dry-run",
    }
}

label_value! {
    /// `operation` of a target change.
    TargetOperation {
        /// RegisterTargets.
        Register => "register",
        /// DeregisterTargets.
        Deregister => "deregister",
    }
}

label_value! {
    /// `path` that changed targets.
    TargetPath {
        /// The endpoint fast path.
        Fast => "fast",
        /// A full stack pass.
        Full => "full",
        /// A TargetGroupBinding.
        Binding => "binding",
    }
}

label_value! {
    /// `outcome` of a Route53 record change.
    DnsOutcome {
        /// Applied.
        Done => "done",
        /// Rejected or not sent.
        Failed => "failed",
    }
}

label_value! {
    /// `type` of a Kubernetes event.
    EventType {
        /// Normal.
        Normal => "Normal",
        /// Warning.
        Warning => "Warning",
    }
}

label_value! {
    /// `outcome` of an AWS operation.
    CallOutcome {
        /// Succeeded (possibly after retries).
        Success => "success",
        /// Failed after all retries.
        Error => "error",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReconcileLabels {
    kind: Kind,
    result: ReconcileResult,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ErrorLabels {
    kind: Kind,
    reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TargetLabels {
    operation: TargetOperation,
    path: TargetPath,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DnsLabels {
    outcome: DnsOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EventLabels {
    r#type: EventType,
    reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
    outcome: CallOutcome,
    mutating: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AwsLatencyLabels {
    service: String,
    operation: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A gauge.
#[derive(Debug, Clone, Default)]
pub struct GaugeHandle(Gauge);

impl GaugeHandle {
    /// Sets the value.
    pub fn set(&self, v: i64) {
        self.0.set(v);
    }

    /// The value.
    pub fn get(&self) -> i64 {
        self.0.get()
    }
}

/// The AWS call counter, exposed at scrape time.
#[derive(Debug)]
struct AwsCalls(CallCounter);

impl Collector for AwsCalls {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "aws_lb_operator_aws_api_calls",
            "AWS API operations, by service, operation, outcome and whether they change AWS state (mutating).",
            None,
            MetricType::Counter,
        )?;
        for ((service, operation), stats) in self.0.snapshot() {
            let mutating = is_mutating(&operation);
            for (outcome, n) in [
                (
                    CallOutcome::Success,
                    stats.calls.saturating_sub(stats.errors),
                ),
                (CallOutcome::Error, stats.errors),
            ] {
                let labels = AwsCallLabels {
                    service: service.clone(),
                    operation: operation.clone(),
                    outcome,
                    mutating,
                };
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        // HTTP attempts, retries included: attempts above calls are the SDK's retries.
        let mut family = encoder.encode_descriptor(
            "aws_lb_operator_aws_api_attempts",
            "HTTP attempts of AWS API operations, retries included, by service and operation.",
            None,
            MetricType::Counter,
        )?;
        for ((service, operation), stats) in self.0.snapshot() {
            let labels = AwsLatencyLabels { service, operation };
            ConstCounter::new(stats.attempts).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "aws_lb_operator_aws_api_rate_limit_wait_seconds",
            "Time AWS API attempts waited for the client-side rate limits (--aws-api-throttle), by service and operation.",
            None,
            MetricType::Counter,
        )?;
        for ((service, operation), stats) in self.0.snapshot() {
            let labels = AwsLatencyLabels { service, operation };
            ConstCounter::new(stats.rate_limit_wait.as_secs_f64())
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The controller's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    target_changes: Family<TargetLabels, Counter>,
    dns: Family<DnsLabels, Counter>,
    events: Family<EventLabels, Counter>,
    reconcile_seconds: HistogramFamily<KindLabels>,
    /// Owned here; the call counter's observer holds it weakly.
    _aws_seconds: Arc<HistogramFamily<AwsLatencyLabels>>,
    /// Stacks waiting to be reconciled.
    pub queue_depth: GaugeHandle,
    /// Targets registered across every target group the controller manages.
    pub targets: GaugeHandle,
    /// 1 while this replica is the leader.
    pub leader: GaugeHandle,
    /// 1 once every watch cache has synced.
    pub ready: GaugeHandle,
}

impl Default for Metrics {
    /// Metrics over a counter of their own (tests; see [`Metrics::new`]).
    fn default() -> Self {
        Self::new(&CallCounter::new())
    }
}

impl Metrics {
    /// Every family, registered; AWS calls are those `calls` counts.
    pub fn new(calls: &CallCounter) -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::default();
        let errors = Family::default();
        let target_changes = Family::default();
        let dns = Family::default();
        let events = Family::default();
        let reconcile_seconds: HistogramFamily<KindLabels> =
            Family::new_with_constructor(|| Histogram::new(RECONCILE_BUCKETS));
        let aws_seconds: HistogramFamily<AwsLatencyLabels> =
            Family::new_with_constructor(|| Histogram::new(AWS_CALL_BUCKETS));
        let gauges = <[GaugeHandle; 4]>::default();
        // `register` adds the final period of the help text, and `_total` to counters.
        registry.register(
            "aws_lb_operator_reconcile",
            "Stack reconciles, by stack kind and result",
            reconciles.clone(),
        );
        registry.register(
            "aws_lb_operator_reconcile_errors",
            "Failed stack reconciles and rejected objects, by stack kind and reason",
            errors.clone(),
        );
        registry.register(
            "aws_lb_operator_target_changes",
            "Targets registered and deregistered, by operation and path (fast or full)",
            target_changes.clone(),
        );
        registry.register(
            "aws_lb_operator_dns_changes",
            "Route53 record changes, by outcome",
            dns.clone(),
        );
        registry.register(
            "aws_lb_operator_events",
            "Kubernetes events emitted, by type and reason",
            events.clone(),
        );
        registry.register(
            "aws_lb_operator_reconcile_duration_seconds",
            "Time to reconcile a stack, AWS calls included",
            reconcile_seconds.clone(),
        );
        for (name, help, gauge) in [
            (
                "aws_lb_operator_queue_depth",
                "Stacks waiting to be reconciled",
                &gauges[0],
            ),
            (
                "aws_lb_operator_targets_registered",
                "Targets registered in managed target groups",
                &gauges[1],
            ),
            (
                "aws_lb_operator_leader",
                "1 while this replica leads",
                &gauges[2],
            ),
            (
                "aws_lb_operator_ready",
                "1 once every watch cache has synced",
                &gauges[3],
            ),
        ] {
            registry.register(name, help, gauge.0.clone());
        }
        registry.register_collector(Box::new(AwsCalls(calls.clone())));
        registry.register(
            "aws_lb_operator_aws_api_call_duration_seconds",
            "Time of one AWS API operation, retries included, by service and operation",
            aws_seconds.clone(),
        );
        // The counter may outlive these metrics (tests start several controllers on one set
        // of clients): the observer holds them weakly and goes quiet once they are dropped.
        let aws_seconds = Arc::new(aws_seconds);
        let observed = Arc::downgrade(&aws_seconds);
        calls.on_finished(move |call| {
            if let Some(family) = observed.upgrade() {
                family
                    .get_or_create(&AwsLatencyLabels {
                        service: call.service.to_owned(),
                        operation: call.operation.to_owned(),
                    })
                    .observe(call.took.as_secs_f64());
            }
        });
        let [queue_depth, targets, leader, ready] = gauges;
        Self {
            registry,
            reconciles,
            errors,
            target_changes,
            dns,
            events,
            reconcile_seconds,
            _aws_seconds: aws_seconds,
            queue_depth,
            targets,
            leader,
            ready,
        }
    }

    // ---- typed ---------------------------------------------------------------------------

    /// Records one reconcile of `kind` with `result` that took `took`.
    pub fn reconciled(&self, kind: Kind, result: ReconcileResult, took: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels { kind, result })
            .inc();
        self.reconcile_seconds
            .get_or_create(&KindLabels { kind })
            .observe(took.as_secs_f64());
    }

    /// Counts a failed reconcile or rejected object of `kind`, by `reason` (the event reason).
    pub fn reconcile_error(&self, kind: Kind, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                kind,
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts the targets a done Register/DeregisterTargets change moved, by `path`. Other
    /// changes count nothing.
    pub fn count_targets(&self, op: &Op, path: TargetPath) {
        let (operation, n) = match op {
            Op::RegisterTargets { targets, .. } => (TargetOperation::Register, targets.len()),
            Op::DeregisterTargets { targets, .. } => (TargetOperation::Deregister, targets.len()),
            _ => return,
        };
        self.target_changes
            .get_or_create(&TargetLabels { operation, path })
            .inc_by(n as u64);
    }

    /// Counts `n` Route53 record changes with `outcome`.
    pub fn dns_changes(&self, outcome: DnsOutcome, n: u64) {
        self.dns.get_or_create(&DnsLabels { outcome }).inc_by(n);
    }

    /// Counts one Kubernetes event.
    pub fn event(&self, r#type: EventType, reason: &str) {
        self.events
            .get_or_create(&EventLabels {
                r#type,
                reason: reason.to_owned(),
            })
            .inc();
    }

    // ---- reading -------------------------------------------------------------------------

    /// The text exposition of every metric, AWS calls included ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            // Writing to a String cannot fail; an encoder error still must not kill the scrape.
            tracing::warn!(error = %e, "metrics could not be rendered in full");
        }
        out
    }

    /// The sum of the samples of counter `name` (`..._total`) whose labels include `labels`,
    /// as scraped (tests).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let text = self.render();
        text.lines()
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (n, l) = match series.split_once('{') {
                    Some((n, l)) => (n, l.strip_suffix('}')?),
                    None => (series, ""),
                };
                let matches = n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
                matches.then(|| value.parse::<u64>().ok()).flatten()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_gauges_and_aws_calls() {
        let m = Metrics::default();
        m.reconciled(
            Kind::Ingress,
            ReconcileResult::Success,
            Duration::from_millis(300),
        );
        m.reconcile_error(Kind::Service, "FailedBuildModel");
        m.reconcile_error(Kind::Service, "FailedBuildModel");
        m.queue_depth.set(3);
        let text = m.render();
        for line in [
            "aws_lb_operator_reconcile_total{kind=\"ingress\",result=\"success\"} 1",
            "aws_lb_operator_reconcile_errors_total{kind=\"service\",reason=\"FailedBuildModel\"} 2",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"ingress\",le=\"0.25\"} 0",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"ingress\",le=\"0.5\"} 1",
            "aws_lb_operator_reconcile_duration_seconds_count{kind=\"ingress\"} 1",
            "aws_lb_operator_queue_depth 3",
            "# TYPE aws_lb_operator_aws_api_calls_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(
            m.counter("aws_lb_operator_reconcile_total", &[("result", "success")]),
            1
        );
    }

    /// Help and type lines as they were before `prometheus-client` (a family shows once it has
    /// a sample; before, an empty counter family showed its help and type lines alone).
    #[test]
    fn the_exposition_keeps_every_help_type_and_bucket_line() {
        let m = Metrics::default();
        m.reconciled(
            Kind::Service,
            ReconcileResult::DryRun,
            Duration::from_secs(3),
        );
        m.reconcile_error(Kind::TargetGroupBinding, "FailedRegisterTargets");
        m.dns_changes(DnsOutcome::Failed, 4);
        m.event(EventType::Warning, "FailedDeployModel");
        let op = Op::DeregisterTargets {
            target_group: "arn:tg".into(),
            targets: vec![aws_lb_operator_core::model::TargetSpec {
                id: "i-0abc".into(),
                port: 30080,
            }],
        };
        m.count_targets(&op, TargetPath::Full);
        m.leader.set(1);
        let text = m.render();
        for line in [
            "# HELP aws_lb_operator_reconcile_total Stack reconciles, by stack kind and result.",
            "# TYPE aws_lb_operator_reconcile_total counter",
            "# HELP aws_lb_operator_reconcile_errors_total Failed stack reconciles and rejected objects, by stack kind and reason.",
            "# HELP aws_lb_operator_target_changes_total Targets registered and deregistered, by operation and path (fast or full).",
            "# HELP aws_lb_operator_dns_changes_total Route53 record changes, by outcome.",
            "# HELP aws_lb_operator_events_total Kubernetes events emitted, by type and reason.",
            "# HELP aws_lb_operator_reconcile_duration_seconds Time to reconcile a stack, AWS calls included.",
            "# TYPE aws_lb_operator_reconcile_duration_seconds histogram",
            "# HELP aws_lb_operator_queue_depth Stacks waiting to be reconciled.",
            "# TYPE aws_lb_operator_queue_depth gauge",
            "# HELP aws_lb_operator_targets_registered Targets registered in managed target groups.",
            "# HELP aws_lb_operator_leader 1 while this replica leads.",
            "# HELP aws_lb_operator_ready 1 once every watch cache has synced.",
            "aws_lb_operator_target_changes_total{operation=\"deregister\",path=\"full\"} 1",
            "aws_lb_operator_reconcile_total{kind=\"service\",result=\"dry-run\"} 1",
            "aws_lb_operator_reconcile_errors_total{kind=\"targetgroupbinding\",reason=\"FailedRegisterTargets\"} 1",
            "aws_lb_operator_dns_changes_total{outcome=\"failed\"} 4",
            "aws_lb_operator_events_total{type=\"Warning\",reason=\"FailedDeployModel\"} 1",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"service\",le=\"2.5\"} 0",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"service\",le=\"5\"} 1",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"service\",le=\"60\"} 1",
            "aws_lb_operator_reconcile_duration_seconds_bucket{kind=\"service\",le=\"+Inf\"} 1",
            "aws_lb_operator_reconcile_duration_seconds_sum{kind=\"service\"} 3.0",
            "aws_lb_operator_leader 1",
            "aws_lb_operator_ready 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn the_typed_methods_count_by_their_labels() {
        let m = Metrics::default();
        m.dns_changes(DnsOutcome::Done, 5);
        m.event(EventType::Normal, "SuccessfullyReconciled");
        m.reconcile_error(Kind::TargetGroupBinding, "InvalidSpec");
        let op = Op::RegisterTargets {
            target_group: aws_lb_operator_core::planner::Ref::Existing("arn:tg".into()),
            targets: ["10.0.0.1", "10.0.0.2"]
                .map(|ip| aws_lb_operator_core::model::TargetSpec {
                    id: ip.into(),
                    port: 80,
                })
                .to_vec(),
        };
        m.count_targets(&op, TargetPath::Fast);
        // Not a target change: counts nothing.
        m.count_targets(
            &Op::DeleteRule {
                arn: "arn:rule".into(),
            },
            TargetPath::Full,
        );
        assert_eq!(m.counter("aws_lb_operator_dns_changes_total", &[]), 5);
        assert_eq!(
            m.counter(
                "aws_lb_operator_events_total",
                &[("type", "Normal"), ("reason", "SuccessfullyReconciled")]
            ),
            1
        );
        assert_eq!(
            m.counter(
                "aws_lb_operator_reconcile_errors_total",
                &[("kind", "targetgroupbinding")]
            ),
            1
        );
        assert_eq!(
            m.counter(
                "aws_lb_operator_target_changes_total",
                &[("operation", "register"), ("path", "fast")]
            ),
            2
        );
        assert_eq!(m.counter("aws_lb_operator_target_changes_total", &[]), 2);
        assert_eq!(m.counter("aws_lb_operator_reconcile_total", &[]), 0);
    }
}
