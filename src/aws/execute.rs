//! Execute: run a plan's changes against AWS, in order, one AWS call each.
//!
//! - Resources created earlier in the plan are referred to by key ([`Ref::New`],
//!   [`SgSource::NewGroup`], forward actions by target group `id`) and resolved through the
//!   ARNs and IDs the creates returned ([`ExecuteReport::created`]).
//! - A failure skips every later change of the same stack; other stacks carry on. A failure
//!   of a cluster-wide change (stack `""`) skips nothing by itself. A change that needs a
//!   resource whose create did not happen is skipped, naming it.
//! - A create or change that meets its own earlier success (its response was lost and the
//!   SDK retried, or a concurrent pass did the same) reads the resource back and counts as
//!   done when it is exactly as wanted: `CreateSecurityGroup` → `InvalidGroup.Duplicate`
//!   adopts the owned group of that name, `AuthorizeSecurityGroupIngress` →
//!   `InvalidPermission.Duplicate` adds only what is missing, `RevokeSecurityGroupIngress` →
//!   `InvalidPermission.NotFound` removes only what is left, `CreateRule` → `PriorityInUse`
//!   adopts an identical rule at that priority. None of these EC2 and ELBv2 calls takes a
//!   client token; ELBv2's other creates are idempotent by name.
//! - Every create carries its tags in the create call, so an interrupted run leaves only
//!   owned, findable resources.
//! - Beyond the SDK's own retries, two deletes wait for AWS to let go: DeleteSecurityGroup on
//!   `DependencyViolation` (load balancer interfaces still detaching) and DeleteTargetGroup on
//!   `ResourceInUse` (a rule deleted a moment ago), with bounded backoff ([`ExecuteOptions`]).
//! - A delete whose resource is already gone counts as done.
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_lb_operator_core::model::TargetGroupRef;
use aws_lb_operator_core::planner::{keys, Change, Op, Ref, Scope};
use tracing::Instrument;

use super::{AwsClients, AwsError};

mod addons;
mod ec2;
mod elbv2;
mod idempotent;

pub use elbv2::sdk_conditions;

/// Bounds of the retries [`execute`] adds on top of the SDK's.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// How long DeleteSecurityGroup is retried while it fails with `DependencyViolation`.
    pub sg_delete_timeout: Duration,
    /// How long DeleteTargetGroup is retried while it fails with `ResourceInUse`.
    pub tg_delete_timeout: Duration,
    /// First wait between two such attempts; doubled after each, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between two such attempts.
    pub max_backoff: Duration,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            sg_delete_timeout: Duration::from_secs(120),
            tg_delete_timeout: Duration::from_secs(20),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Why a change failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecuteError {
    /// The AWS call failed (after the SDK's retries, and ours where they apply).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A key that no earlier change of the plan creates (a planner bug).
    #[error("{what} refers to {key:?}, which no earlier change of the plan creates")]
    UnknownKey {
        /// What referred to it.
        what: &'static str,
        /// The key.
        key: String,
    },
    /// A target group referenced by name: the planner resolves names to ARNs (a planner bug).
    #[error(
        "target group {name:?} is referenced by name; names must be resolved to ARNs before \
         execution"
    )]
    TargetGroupByName {
        /// The name.
        name: String,
    },
    /// A forward action's target group has neither id nor ARN (a planner bug).
    #[error("a forward action names a target group by neither id nor ARN")]
    EmptyTargetGroupRef,
    /// A number the API cannot carry.
    #[error("{field} {value} is out of range")]
    OutOfRange {
        /// Field.
        field: &'static str,
        /// Value.
        value: u64,
    },
    /// A create answered without the new resource's ARN or id.
    #[error("{operation} returned no ARN or id for the new resource")]
    MissingId {
        /// `service.Operation`.
        operation: &'static str,
    },
    /// A change reached the executor of another service (a dispatch bug).
    #[error("{operation} reached the {service} executor, which does not perform it")]
    WrongService {
        /// The executor's service (`ec2`, `elbv2`).
        service: &'static str,
        /// `service.Operation` of the change.
        operation: &'static str,
    },
}

/// What happened to one change.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The call succeeded (or the resource to delete was already gone).
    Done,
    /// The call failed, or the change could not be turned into a call.
    Failed(ExecuteError),
    /// Not attempted.
    Skipped {
        /// Why: the failure it follows, or the resource it needed.
        reason: String,
    },
}

impl Outcome {
    /// True for [`Outcome::Done`].
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }
}

/// The result of [`execute`].
#[derive(Debug, Clone, Default)]
pub struct ExecuteReport {
    /// One outcome per change, in the order of the changes.
    pub outcomes: Vec<Outcome>,
    /// Plan key → ARN or id of every resource created.
    pub created: BTreeMap<String, String>,
    /// Cluster-wide changes the pass added at execution time, with their outcomes: target
    /// ports in use that had lost their permission (a concurrent pass revoked them on a stale
    /// read) authorized again.
    pub repairs: Vec<(Change, Outcome)>,
}

impl ExecuteReport {
    /// True when every change and repair is done.
    pub fn is_success(&self) -> bool {
        self.outcomes.iter().all(Outcome::is_done) && self.repairs.iter().all(|(_, o)| o.is_done())
    }

    /// Number of failed changes.
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Failed(_)))
            .count()
    }

    /// Number of skipped changes.
    pub fn skipped(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Skipped { .. }))
            .count()
    }
}

/// Error codes meaning the resource a delete targets is already gone.
const ALREADY_GONE: &[&str] = &[
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
    "InvalidGroup.NotFound",
];

/// Runs `changes` in order and reports what happened to each.
pub async fn execute(
    clients: &AwsClients,
    changes: &[Change],
    opts: &ExecuteOptions,
) -> ExecuteReport {
    let mut executor = Executor::new(clients, opts);
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        outcomes.push(executor.execute(change).await);
    }
    let mut report = executor.finish();
    report.outcomes = outcomes;
    report
}

/// Runs changes one at a time, keeping what earlier changes created, lost or failed, so a
/// plan can be executed in parts (the pass runs its cluster-wide parts under a lock).
pub struct Executor<'a> {
    clients: &'a AwsClients,
    opts: &'a ExecuteOptions,
    /// Plan key → ARN or id of every resource created.
    created: BTreeMap<String, String>,
    /// Key → resource, for creates that did not happen.
    lost: BTreeMap<String, String>,
    /// Stack → the resource whose change failed.
    failed_stacks: BTreeMap<Scope, String>,
}

impl<'a> Executor<'a> {
    /// An executor that has run nothing yet.
    pub fn new(clients: &'a AwsClients, opts: &'a ExecuteOptions) -> Self {
        Self {
            clients,
            opts,
            created: BTreeMap::new(),
            lost: BTreeMap::new(),
            failed_stacks: BTreeMap::new(),
        }
    }

    /// Plan key → ARN or id of every resource created so far.
    pub fn created(&self) -> &BTreeMap<String, String> {
        &self.created
    }

    /// Records `id` as what the create keyed `key` made, without a call: the caller found the
    /// resource already there (the pass's cluster scope, re-read under its lock).
    pub fn adopt(&mut self, key: &str, id: String) {
        self.lost.remove(key);
        self.created.insert(key.to_owned(), id);
    }

    /// The report so far, without outcomes (the caller keeps them in its own order).
    pub fn finish(self) -> ExecuteReport {
        ExecuteReport {
            outcomes: Vec::new(),
            created: self.created,
            repairs: Vec::new(),
        }
    }

    /// Runs one change (or skips it: an earlier change of its stack failed, or a resource it
    /// needs was not created). A failed cluster-wide change (stack `""`) skips nothing by
    /// itself: the changes that need what it would have created are skipped through their
    /// references, every other change of every stack still runs.
    pub async fn execute(&mut self, change: &Change) -> Outcome {
        let span = tracing::info_span!(
            "change",
            stack = %change.stack,
            resource = %change.resource,
            operation = change.operation()
        );
        let scope = change.scope();
        let skipped_for = scope.stack().and_then(|_| self.failed_stacks.get(&scope));
        let outcome = if let Some(resource) = skipped_for {
            Outcome::Skipped {
                reason: format!(
                    "an earlier change of stack {} failed ({resource})",
                    change.stack
                ),
            }
        } else {
            let ctx = Ctx {
                stack: &change.stack,
                created: &self.created,
                lost: &self.lost,
            };
            match dispatch(self.clients, &change.op, &ctx, self.opts)
                .instrument(span.clone())
                .await
            {
                Ok(new_id) => match (change.creates(), new_id) {
                    (Some(key), Some(id)) => {
                        self.created.insert(key.to_owned(), id);
                        Outcome::Done
                    }
                    (Some(_), None) => Outcome::Failed(ExecuteError::MissingId {
                        operation: change.operation(),
                    }),
                    (None, _) => Outcome::Done,
                },
                Err(Stop::Skip(reason)) => Outcome::Skipped { reason },
                Err(Stop::Fail(e)) => Outcome::Failed(e),
            }
        };
        span.in_scope(|| match &outcome {
            Outcome::Done => tracing::debug!("done"),
            Outcome::Failed(e) => tracing::warn!(error = %e, "failed"),
            Outcome::Skipped { reason } => tracing::info!(reason = %reason, "skipped"),
        });
        if matches!(outcome, Outcome::Failed(_)) && !scope.is_cluster() {
            self.failed_stacks.insert(scope, change.resource.clone());
        }
        if !outcome.is_done() {
            if let Some(key) = change.creates() {
                self.lost.insert(key.to_owned(), change.resource.clone());
            }
        }
        outcome
    }
}

/// Why a change stopped before or during its call.
enum Stop {
    Skip(String),
    Fail(ExecuteError),
}

impl From<AwsError> for Stop {
    fn from(e: AwsError) -> Self {
        Stop::Fail(ExecuteError::Aws(e))
    }
}

impl From<ExecuteError> for Stop {
    fn from(e: ExecuteError) -> Self {
        Stop::Fail(e)
    }
}

/// Resolves plan keys for one change.
struct Ctx<'a> {
    stack: &'a str,
    created: &'a BTreeMap<String, String>,
    lost: &'a BTreeMap<String, String>,
}

impl Ctx<'_> {
    fn key(&self, what: &'static str, key: &str) -> Result<String, Stop> {
        if let Some(id) = self.created.get(key) {
            return Ok(id.clone());
        }
        if let Some(resource) = self.lost.get(key) {
            return Err(Stop::Skip(format!(
                "needs {resource} ({key}), which was not created"
            )));
        }
        Err(Stop::Fail(ExecuteError::UnknownKey {
            what,
            key: key.to_owned(),
        }))
    }

    fn r(&self, what: &'static str, r: &Ref) -> Result<String, Stop> {
        match r {
            Ref::Existing(id) => Ok(id.clone()),
            Ref::New(key) => self.key(what, key),
        }
    }

    fn refs(&self, what: &'static str, refs: &[Ref]) -> Result<Vec<String>, Stop> {
        refs.iter().map(|r| self.r(what, r)).collect()
    }

    fn target_group(&self, t: &TargetGroupRef) -> Result<String, Stop> {
        let key = t.id.as_ref().map(|id| keys::target_group(self.stack, id));
        if let Some(id) = key.as_ref().and_then(|k| self.created.get(k)) {
            return Ok(id.clone());
        }
        if let Some(arn) = &t.arn {
            return Ok(arn.clone());
        }
        if let Some(key) = key {
            return self.key("forward action", &key);
        }
        if let Some(name) = &t.name {
            return Err(ExecuteError::TargetGroupByName { name: name.clone() }.into());
        }
        Err(ExecuteError::EmptyTargetGroupRef.into())
    }
}

fn to_i32(field: &'static str, v: u32) -> Result<i32, Stop> {
    i32::try_from(v).map_err(|_| {
        Stop::Fail(ExecuteError::OutOfRange {
            field,
            value: u64::from(v),
        })
    })
}

type SdkError<E> =
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>;

fn sdk_err<E>(
    service: &'static str,
    operation: &'static str,
) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::from_sdk(service, operation, e)
}

/// A delete that finds nothing to delete is done.
fn gone_ok(r: Result<(), AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if ALREADY_GONE.iter().any(|c| e.has_code(c)) => {
            tracing::info!(code = %e.code, "already gone");
            Ok(())
        }
        other => other,
    }
}

/// Calls `call` until it succeeds, fails with another code than `code`, or the next wait would
/// end after `budget`. Waits double from `opts.initial_backoff` up to `opts.max_backoff`.
pub(crate) async fn retry_while<T, F, Fut>(
    code: &str,
    budget: Duration,
    opts: &ExecuteOptions,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = tokio::time::Instant::now();
    let mut wait = opts.initial_backoff;
    loop {
        match call().await {
            Err(e) if e.has_code(code) && start.elapsed() + wait <= budget => {
                tracing::info!(code, retry_in = ?wait, "waiting for AWS to release the resource");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(opts.max_backoff);
            }
            other => return other,
        }
    }
}

/// Performs one change through the executor of its service; `Ok(Some(id))` for creates.
async fn dispatch(
    clients: &AwsClients,
    op: &Op,
    ctx: &Ctx<'_>,
    opts: &ExecuteOptions,
) -> Result<Option<String>, Stop> {
    match op {
        Op::CreateSecurityGroup { .. }
        | Op::AuthorizeSecurityGroupIngress { .. }
        | Op::RevokeSecurityGroupIngress { .. }
        | Op::Ec2CreateTags { .. }
        | Op::Ec2DeleteTags { .. }
        | Op::DeleteSecurityGroup { .. } => ec2::execute(clients, op, ctx, opts).await,
        Op::AssociateWebAcl { .. }
        | Op::DisassociateWebAcl { .. }
        | Op::CreateProtection { .. }
        | Op::DeleteProtection { .. } => addons::execute(clients, op, ctx).await,
        _ => elbv2::execute(clients, op, ctx, opts).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsErrorKind;
    use aws_lb_operator_core::model::ConditionSpec;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(code: &str) -> AwsError {
        AwsError {
            service: "ec2",
            operation: "DeleteSecurityGroup",
            code: code.to_owned(),
            message: String::new(),
            status: Some(400),
            kind: AwsErrorKind::Service,
            attempts: None,
            elapsed: None,
        }
    }

    fn quick(budget_ms: u64) -> ExecuteOptions {
        ExecuteOptions {
            sg_delete_timeout: Duration::from_millis(budget_ms),
            tg_delete_timeout: Duration::from_millis(budget_ms),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        }
    }

    #[tokio::test]
    async fn retries_the_named_code_until_it_clears() {
        let calls = AtomicU32::new(0);
        let opts = quick(1_000);
        let got = retry_while(
            "DependencyViolation",
            opts.sg_delete_timeout,
            &opts,
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err(err("DependencyViolation"))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(got.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_after_the_budget_and_never_retries_other_codes() {
        let calls = AtomicU32::new(0);
        let opts = quick(60);
        let started = std::time::Instant::now();
        let got: Result<(), _> = retry_while(
            "DependencyViolation",
            opts.sg_delete_timeout,
            &opts,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("DependencyViolation"))
            },
        )
        .await;
        assert_eq!(got.unwrap_err().code, "DependencyViolation");
        // Waits of 5, 10, 20, 20 ms fit in 60 ms; the next would not, so at most 5 calls. A
        // loaded machine oversleeps, which can only leave room for fewer (wall-clock time: the
        // crate's tokio has no paused clock outside its own tests).
        let n = calls.load(Ordering::SeqCst);
        assert!((2..=5).contains(&n), "{n} calls");
        assert!(started.elapsed() < Duration::from_millis(500));

        let calls = AtomicU32::new(0);
        let got: Result<(), _> = retry_while(
            "DependencyViolation",
            opts.sg_delete_timeout,
            &opts,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err("InvalidGroup.NotFound"))
            },
        )
        .await;
        assert_eq!(got.unwrap_err().code, "InvalidGroup.NotFound");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn each_service_refuses_the_other_services_changes_without_a_call() {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let clients = AwsClients::new(&config);
        let (created, lost) = (BTreeMap::new(), BTreeMap::new());
        let ctx = Ctx {
            stack: "ns/a",
            created: &created,
            lost: &lost,
        };
        let opts = ExecuteOptions::default();
        let text = |r: Result<Option<String>, Stop>| match r {
            Err(Stop::Fail(e)) => e.to_string(),
            Err(Stop::Skip(s)) => format!("skip: {s}"),
            Ok(v) => format!("ok: {v:?}"),
        };
        let elb_op = Op::DeleteRule {
            arn: "arn:rule".into(),
        };
        let ec2_op = Op::DeleteSecurityGroup {
            group: "sg-1".into(),
        };
        assert_eq!(
            text(ec2::execute(&clients, &elb_op, &ctx, &opts).await),
            "elbv2.DeleteRule reached the ec2 executor, which does not perform it"
        );
        assert_eq!(
            text(elbv2::execute(&clients, &ec2_op, &ctx, &opts).await),
            "ec2.DeleteSecurityGroup reached the elbv2 executor, which does not perform it"
        );
        assert_eq!(clients.calls.by_operation().len(), 0, "no call made");
    }

    #[test]
    fn conditions_use_the_config_forms() {
        let got = sdk_conditions(&[
            ConditionSpec::PathPattern {
                values: vec!["/api/*".into()],
            },
            ConditionSpec::HttpHeader {
                http_header_name: "X-Env".into(),
                values: vec!["prod".into()],
            },
        ]);
        assert_eq!(got[0].field(), Some("path-pattern"));
        assert!(got[0].values().is_empty(), "no legacy Values");
        assert_eq!(
            got[0].path_pattern_config().map(|p| p.values().to_vec()),
            Some(vec!["/api/*".to_owned()])
        );
        assert_eq!(
            got[1]
                .http_header_config()
                .and_then(|h| h.http_header_name()),
            Some("X-Env")
        );
        // Round trip through the observe conversion.
        let back: Vec<ConditionSpec> = got
            .iter()
            .map(super::super::observe::condition_of)
            .collect();
        assert_eq!(
            back,
            [
                ConditionSpec::PathPattern {
                    values: vec!["/api/*".into()]
                },
                ConditionSpec::HttpHeader {
                    http_header_name: "X-Env".into(),
                    values: vec!["prod".into()]
                }
            ]
        );
    }

    #[test]
    fn target_group_refs_resolve_by_created_id_then_arn() {
        let created: BTreeMap<String, String> =
            [("ns/a|tg:svc:80".to_owned(), "arn:new".to_owned())].into();
        let lost: BTreeMap<String, String> = [(
            "ns/a|tg:gone:80".to_owned(),
            "target group k8s-gone".to_owned(),
        )]
        .into();
        let ctx = Ctx {
            stack: "ns/a",
            created: &created,
            lost: &lost,
        };
        let r = |id: Option<&str>, arn: Option<&str>, name: Option<&str>| TargetGroupRef {
            id: id.map(str::to_owned),
            arn: arn.map(str::to_owned),
            name: name.map(str::to_owned),
            weight: 1,
        };
        let ok = |res: Result<String, Stop>| match res {
            Ok(v) => v,
            Err(Stop::Skip(s)) => format!("skip: {s}"),
            Err(Stop::Fail(e)) => format!("fail: {e}"),
        };
        assert_eq!(
            ok(ctx.target_group(&r(Some("svc:80"), None, None))),
            "arn:new"
        );
        assert_eq!(
            ok(ctx.target_group(&r(Some("other:80"), Some("arn:old"), None))),
            "arn:old"
        );
        assert_eq!(
            ok(ctx.target_group(&r(Some("gone:80"), None, None))),
            "skip: needs target group k8s-gone (ns/a|tg:gone:80), which was not created"
        );
        assert_eq!(
            ok(ctx.target_group(&r(Some("nope:80"), None, None))),
            "fail: forward action refers to \"ns/a|tg:nope:80\", which no earlier change of the \
             plan creates"
        );
        assert_eq!(
            ok(ctx.target_group(&r(None, None, Some("shared")))),
            "fail: target group \"shared\" is referenced by name; names must be resolved to ARNs \
             before execution"
        );
        assert_eq!(
            ok(ctx.target_group(&r(None, None, None))),
            "fail: a forward action names a target group by neither id nor ARN"
        );
    }
}
