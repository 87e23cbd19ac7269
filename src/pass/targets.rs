//! The pass API's target path: what the controller's fast path and its TargetGroupBindings need
//! besides a full pass ([`super::prepare_cached`] / [`super::apply_cached`]).
//!
//! - [`send_target_changes`]: RegisterTargets / DeregisterTargets changes (planned by
//!   `core::planner::target_changes`) sent to target groups that already exist, without observing
//!   or planning anything else;
//! - [`find_target_group`] and [`registered_targets`]: a target group the operator does not own,
//!   by ARN or name, and what is registered in it;
//! - [`load_balancer_addresses`]: DNS names of load balancers a pass created, for status.
//!
//! The types a caller reads from a pass's reports are re-exported here, so the controller
//! imports nothing from [`crate::aws`] but [`crate::aws::AwsClients`] and its error.
use std::collections::BTreeMap;

use aws_lb_operator_core::dns::LbAddress;
use aws_lb_operator_core::model::TargetSpec;
use aws_lb_operator_core::planner::Change;
use tracing::Instrument;

use crate::aws::execute::execute;
use crate::aws::{elbv2, AwsClients, AwsError};

pub use crate::aws::elbv2::ObservedTargetGroup;
pub use crate::aws::execute::{ExecuteError, ExecuteOptions, ExecuteReport, Outcome};
pub use crate::aws::observe::Observation;
pub use crate::aws::route53::{DnsOutcome, ZoneCache};

/// How many stacks' target changes are sent at once.
const TARGET_STACKS_AT_ONCE: usize = 16;

/// Sends target registration changes (and nothing else) to existing target groups, in one
/// batch: one outcome per change; a failure skips only the later changes of the same stack
/// (`Change::stack`). Each stack's changes go in order; up to [`TARGET_STACKS_AT_ONCE`]
/// stacks are sent concurrently (a rollout over 100 stacks is 200 calls, not 200 round trips
/// one after the other).
pub async fn send_target_changes(clients: &AwsClients, changes: &[Change]) -> ExecuteReport {
    use futures::StreamExt;
    let mut by_stack: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        by_stack.entry(c.stack.as_str()).or_default().push(i);
    }
    let options = ExecuteOptions::default();
    let sends = by_stack.into_values().map(|indices| {
        let own: Vec<Change> = indices
            .iter()
            .filter_map(|&i| changes.get(i).cloned())
            .collect();
        let options = &options;
        async move { (indices, execute(clients, &own, options).await) }
    });
    let reports: Vec<(Vec<usize>, ExecuteReport)> = futures::stream::iter(sends)
        .buffer_unordered(TARGET_STACKS_AT_ONCE)
        .collect()
        .instrument(tracing::info_span!("send_targets", changes = changes.len()))
        .await;
    let mut outcomes: Vec<Option<Outcome>> = changes.iter().map(|_| None).collect();
    let mut merged = ExecuteReport::default();
    for (indices, report) in reports {
        for (i, outcome) in indices.into_iter().zip(report.outcomes) {
            if let Some(slot) = outcomes.get_mut(i) {
                *slot = Some(outcome);
            }
        }
        merged.created.extend(report.created);
        merged.repairs.extend(report.repairs);
    }
    merged.outcomes = outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| Outcome::Skipped {
                reason: "not sent".into(),
            })
        })
        .collect();
    merged
}

/// A target group by ARN (preferred) or name; `Ok(None)` when it does not exist.
///
/// # Errors
/// DescribeTargetGroups failed.
pub async fn find_target_group(
    clients: &AwsClients,
    arn: Option<&str>,
    name: Option<&str>,
) -> Result<Option<ObservedTargetGroup>, AwsError> {
    elbv2::find_target_group(&clients.elbv2, arn, name).await
}

/// The target groups of up to 20 `arns` in one DescribeTargetGroups call; a missing one fails
/// the call.
///
/// # Errors
/// DescribeTargetGroups failed.
pub async fn find_target_groups(
    clients: &AwsClients,
    arns: &[String],
) -> Result<Vec<ObservedTargetGroup>, AwsError> {
    elbv2::find_target_groups(&clients.elbv2, arns).await
}

/// The targets registered in a target group that are not draining.
///
/// # Errors
/// DescribeTargetHealth failed.
pub async fn registered_targets(
    clients: &AwsClients,
    tg_arn: &str,
) -> Result<Vec<TargetSpec>, AwsError> {
    Ok(elbv2::registered_targets(&clients.elbv2, tg_arn)
        .await?
        .into_iter()
        .filter(|t| t.state != "draining")
        .map(|t| t.target)
        .collect())
}

/// DNS names of load balancers by name (those a pass created, which its observation lacks).
///
/// # Errors
/// DescribeLoadBalancers failed.
pub async fn load_balancer_addresses(
    clients: &AwsClients,
    names: &[String],
) -> Result<BTreeMap<String, LbAddress>, AwsError> {
    elbv2::load_balancer_addresses(&clients.elbv2, names).await
}
