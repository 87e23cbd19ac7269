//! Prometheus metrics, rendered in the text exposition format by `/metrics`.
//!
//! A handful of counters, gauges and one histogram family, kept in plain maps behind a mutex:
//! updates happen a few times per reconcile, far off any hot path. AWS call counts are read
//! from the [`CallCounter`] every client already feeds, at scrape time.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::aws::CallCounter;

/// Upper bounds (seconds) of the reconcile duration histogram.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Labels as `(name, value)` pairs, rendered in order.
type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<Labels, Histogram>,
}

/// The controller's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Stacks waiting to be reconciled.
    pub queue_depth: AtomicI64,
    /// Targets registered across every target group the controller manages.
    pub targets: AtomicI64,
    /// 1 while this replica is the leader.
    pub leader: AtomicI64,
    /// 1 once every watch cache has synced.
    pub ready: AtomicI64,
}

/// Help text and type of every counter family.
const COUNTERS: [(&str, &str); 5] = [
    (
        "aws_lb_operator_reconcile_total",
        "Stack reconciles, by stack kind and result.",
    ),
    (
        "aws_lb_operator_reconcile_errors_total",
        "Failed stack reconciles and rejected objects, by stack kind and reason.",
    ),
    (
        "aws_lb_operator_target_changes_total",
        "Targets registered and deregistered, by operation and path (fast or full).",
    ),
    (
        "aws_lb_operator_dns_changes_total",
        "Route53 record changes, by outcome.",
    ),
    (
        "aws_lb_operator_events_total",
        "Kubernetes events emitted, by type and reason.",
    ),
];

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `n` to counter `name` with `labels`.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)], n: u64) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        *self.lock().counters.entry((name, labels)).or_insert(0) += n;
    }

    /// Counts the targets a done Register/DeregisterTargets change moved, by `path` (`fast`,
    /// `full` or `binding`). Other changes count nothing.
    pub fn count_target_change(&self, op: &aws_lb_operator_core::deploy::Op, path: &str) {
        use aws_lb_operator_core::deploy::Op;
        let (operation, n) = match op {
            Op::RegisterTargets { targets, .. } => ("register", targets.len()),
            Op::DeregisterTargets { targets, .. } => ("deregister", targets.len()),
            _ => return,
        };
        self.inc(
            "aws_lb_operator_target_changes_total",
            &[("operation", operation), ("path", path)],
            n as u64,
        );
    }

    /// Records one reconcile of a stack of `kind` that took `took`.
    pub fn observe_reconcile(&self, kind: &str, result: &str, took: Duration) {
        self.inc(
            "aws_lb_operator_reconcile_total",
            &[("kind", kind), ("result", result)],
            1,
        );
        let secs = took.as_secs_f64();
        let mut inner = self.lock();
        let h = inner
            .histograms
            .entry(vec![("kind", kind.to_owned())])
            .or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// A counter's current value (tests).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.lock()
            .counters
            .iter()
            .filter(|((n, l), _)| {
                *n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| *v)
            .sum()
    }

    /// The text exposition of every metric, AWS calls included.
    pub fn render(&self, calls: &CallCounter) -> String {
        let mut out = String::new();
        let inner = self.lock();
        for (name, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((n, labels), v) in &inner.counters {
                if *n == name {
                    let _ = writeln!(out, "{name}{} {v}", render_labels(labels));
                }
            }
        }
        let h = "aws_lb_operator_reconcile_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {h} Time to reconcile a stack, AWS calls included.\n# TYPE {h} histogram"
        );
        for (labels, hist) in &inner.histograms {
            for (i, le) in BUCKETS.iter().enumerate() {
                let mut l = labels.clone();
                l.push(("le", le.to_string()));
                let _ = writeln!(out, "{h}_bucket{} {}", render_labels(&l), hist.buckets[i]);
            }
            let mut l = labels.clone();
            l.push(("le", "+Inf".to_owned()));
            let _ = writeln!(out, "{h}_bucket{} {}", render_labels(&l), hist.count);
            let _ = writeln!(out, "{h}_sum{} {}", render_labels(labels), hist.sum);
            let _ = writeln!(out, "{h}_count{} {}", render_labels(labels), hist.count);
        }
        drop(inner);
        for (name, help, v) in [
            (
                "aws_lb_operator_queue_depth",
                "Stacks waiting to be reconciled.",
                &self.queue_depth,
            ),
            (
                "aws_lb_operator_targets_registered",
                "Targets registered in managed target groups.",
                &self.targets,
            ),
            (
                "aws_lb_operator_leader",
                "1 while this replica leads.",
                &self.leader,
            ),
            (
                "aws_lb_operator_ready",
                "1 once every watch cache has synced.",
                &self.ready,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let name = "aws_lb_operator_aws_api_calls_total";
        let _ = writeln!(
            out,
            "# HELP {name} AWS API operations, by service, operation and outcome.\n# TYPE {name} counter"
        );
        for ((service, operation), stats) in calls.snapshot() {
            for (outcome, n) in [
                ("success", stats.calls.saturating_sub(stats.errors)),
                ("error", stats.errors),
            ] {
                let labels: Labels = vec![
                    ("service", service.clone()),
                    ("operation", operation.clone()),
                    ("outcome", outcome.to_owned()),
                ];
                let _ = writeln!(out, "{name}{} {n}", render_labels(&labels));
            }
        }
        out
    }
}

fn render_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_gauges_and_aws_calls() {
        let m = Metrics::default();
        m.observe_reconcile("ingress", "success", Duration::from_millis(300));
        m.inc(
            "aws_lb_operator_reconcile_errors_total",
            &[("kind", "service"), ("reason", "FailedBuildModel")],
            2,
        );
        m.queue_depth.store(3, Ordering::Relaxed);
        let text = m.render(&CallCounter::new());
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
}
