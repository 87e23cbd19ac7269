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

use aws_lb_operator_core::deploy::{
    keys, Change, ListenerSettings, NewLoadBalancer, Op, Ref, SgPermission, SgSource,
};
use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::model::{
    ActionSpec, ConditionSpec, HealthCheckSpec, Protocol, TargetGroupRef, TargetSpec,
};
use aws_sdk_ec2::types as ec2t;
use aws_sdk_elasticloadbalancingv2::types as elbt;
use tracing::Instrument;

use super::{AwsClients, AwsError};

mod idempotent;

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
        outcomes.push(executor.run(change).await);
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
    failed_stacks: BTreeMap<String, String>,
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
    pub async fn run(&mut self, change: &Change) -> Outcome {
        let span = tracing::info_span!(
            "change",
            stack = %change.stack,
            resource = %change.resource,
            operation = change.operation()
        );
        let skipped_for = if change.stack.is_empty() {
            None
        } else {
            self.failed_stacks.get(&change.stack)
        };
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
            match run(self.clients, &change.op, &ctx, self.opts)
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
        if matches!(outcome, Outcome::Failed(_)) && !change.stack.is_empty() {
            self.failed_stacks
                .insert(change.stack.clone(), change.resource.clone());
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

fn elb_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_err("elbv2", operation)
}

fn ec2_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_err("ec2", operation)
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

fn elb_tags(tags: &Tags) -> Option<Vec<elbt::Tag>> {
    Some(
        tags.iter()
            .map(|(k, v)| elbt::Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

fn ec2_tags(tags: &Tags) -> Vec<ec2t::Tag> {
    tags.iter()
        .map(|(k, v)| ec2t::Tag::builder().key(k).value(v).build())
        .collect()
}

fn attributes<T>(
    attrs: &BTreeMap<String, String>,
    build: impl Fn(&str, &str) -> T,
) -> Option<Vec<T>> {
    Some(attrs.iter().map(|(k, v)| build(k, v)).collect())
}

fn targets(ts: &[TargetSpec]) -> Option<Vec<elbt::TargetDescription>> {
    Some(
        ts.iter()
            .map(|t| {
                elbt::TargetDescription::builder()
                    .id(&t.id)
                    .port(i32::from(t.port))
                    .build()
            })
            .collect(),
    )
}

/// HTTP(S) health checks have a path; TCP checks must not send one.
fn http_path(h: &HealthCheckSpec) -> Option<String> {
    matches!(h.protocol, Protocol::Http | Protocol::Https).then(|| h.path.clone())
}

/// Success codes, when the check has any (TCP checks have none).
fn http_matcher(h: &HealthCheckSpec) -> Option<elbt::Matcher> {
    (h.matcher.http_code.is_some() || h.matcher.grpc_code.is_some()).then(|| matcher(h))
}

fn matcher(h: &HealthCheckSpec) -> elbt::Matcher {
    elbt::Matcher::builder()
        .set_http_code(h.matcher.http_code.clone())
        .set_grpc_code(h.matcher.grpc_code.clone())
        .build()
}

/// ELBv2 rule conditions, in their `*Config` forms.
pub fn sdk_conditions(conditions: &[ConditionSpec]) -> Vec<elbt::RuleCondition> {
    conditions
        .iter()
        .map(|c| {
            let b = elbt::RuleCondition::builder().field(c.field());
            match c {
                ConditionSpec::HostHeader { values } => b.host_header_config(
                    elbt::HostHeaderConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::PathPattern { values } => b.path_pattern_config(
                    elbt::PathPatternConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::HttpHeader {
                    http_header_name,
                    values,
                } => b.http_header_config(
                    elbt::HttpHeaderConditionConfig::builder()
                        .http_header_name(http_header_name)
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::HttpRequestMethod { values } => b.http_request_method_config(
                    elbt::HttpRequestMethodConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::QueryString { values } => b.query_string_config(
                    elbt::QueryStringConditionConfig::builder()
                        .set_values(Some(
                            values
                                .iter()
                                .map(|kv| {
                                    elbt::QueryStringKeyValuePair::builder()
                                        .set_key(kv.key.clone())
                                        .value(&kv.value)
                                        .build()
                                })
                                .collect(),
                        ))
                        .build(),
                ),
                ConditionSpec::SourceIp { values } => b.source_ip_config(
                    elbt::SourceIpConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
            }
            .build()
        })
        .collect()
}

/// ELBv2 actions with `Order` 1, 2, ...; forward target groups resolved to ARNs.
fn sdk_actions(ctx: &Ctx<'_>, actions: &[ActionSpec]) -> Result<Vec<elbt::Action>, Stop> {
    let mut out = Vec::with_capacity(actions.len());
    for (i, a) in actions.iter().enumerate() {
        let order = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let b = elbt::Action::builder().order(order);
        let action = match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => {
                let mut tuples = Vec::with_capacity(target_groups.len());
                for t in target_groups {
                    tuples.push(
                        elbt::TargetGroupTuple::builder()
                            .target_group_arn(ctx.target_group(t)?)
                            .weight(to_i32("weight", t.weight)?)
                            .build(),
                    );
                }
                let stickiness = match stickiness {
                    Some(s) => Some(
                        elbt::TargetGroupStickinessConfig::builder()
                            .enabled(s.enabled)
                            .set_duration_seconds(
                                s.duration_seconds
                                    .map(|d| to_i32("stickiness duration", d))
                                    .transpose()?,
                            )
                            .build(),
                    ),
                    None => None,
                };
                b.r#type(elbt::ActionTypeEnum::Forward).forward_config(
                    elbt::ForwardActionConfig::builder()
                        .set_target_groups(Some(tuples))
                        .set_target_group_stickiness_config(stickiness)
                        .build(),
                )
            }
            ActionSpec::FixedResponse(f) => b
                .r#type(elbt::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbt::FixedResponseActionConfig::builder()
                        .status_code(&f.status_code)
                        .set_content_type(f.content_type.clone())
                        .set_message_body(f.message_body.clone())
                        .build(),
                ),
            ActionSpec::Redirect(r) => b.r#type(elbt::ActionTypeEnum::Redirect).redirect_config(
                elbt::RedirectActionConfig::builder()
                    .protocol(&r.protocol)
                    .port(&r.port)
                    .host(&r.host)
                    .path(&r.path)
                    .query(&r.query)
                    .status_code(elbt::RedirectActionStatusCodeEnum::from(
                        r.status_code.as_str(),
                    ))
                    .build(),
            ),
        };
        out.push(action.build());
    }
    Ok(out)
}

/// `perms` with sources created earlier in the plan resolved to their ids.
fn resolve_permissions(ctx: &Ctx<'_>, perms: &[SgPermission]) -> Result<Vec<SgPermission>, Stop> {
    perms
        .iter()
        .map(|p| {
            let source = match &p.source {
                SgSource::NewGroup(key) => SgSource::Group(ctx.key("permission source", key)?),
                other => other.clone(),
            };
            Ok(SgPermission {
                source,
                ..p.clone()
            })
        })
        .collect()
}

/// `actions` with forward target groups resolved to ARNs, as an observed rule holds them.
fn resolved_actions(ctx: &Ctx<'_>, actions: &[ActionSpec]) -> Result<Vec<ActionSpec>, Stop> {
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        out.push(match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => {
                let mut resolved = Vec::with_capacity(target_groups.len());
                for t in target_groups {
                    resolved.push(TargetGroupRef {
                        id: None,
                        arn: Some(ctx.target_group(t)?),
                        name: None,
                        weight: t.weight,
                    });
                }
                ActionSpec::Forward {
                    target_groups: resolved,
                    stickiness: stickiness.clone(),
                }
            }
            other => other.clone(),
        });
    }
    Ok(out)
}

/// EC2 permissions of resolved [`SgPermission`]s (sources created in the plan resolved first,
/// by [`resolve_permissions`]).
fn ip_permissions(perms: &[SgPermission]) -> Vec<ec2t::IpPermission> {
    perms
        .iter()
        .map(|p| {
            let b = ec2t::IpPermission::builder()
                .ip_protocol(&p.protocol)
                .from_port(p.from_port)
                .to_port(p.to_port);
            let description = p.description.clone();
            let b = match &p.source {
                SgSource::Cidr(cidr) => b.ip_ranges(
                    ec2t::IpRange::builder()
                        .cidr_ip(cidr)
                        .set_description(description)
                        .build(),
                ),
                SgSource::CidrV6(cidr) => b.ipv6_ranges(
                    ec2t::Ipv6Range::builder()
                        .cidr_ipv6(cidr)
                        .set_description(description)
                        .build(),
                ),
                SgSource::Group(id) | SgSource::NewGroup(id) => b.user_id_group_pairs(
                    ec2t::UserIdGroupPair::builder()
                        .group_id(id)
                        .set_description(description)
                        .build(),
                ),
            };
            b.build()
        })
        .collect()
}

fn listener_certificates(certs: &[String]) -> Option<Vec<elbt::Certificate>> {
    Some(
        certs
            .iter()
            .map(|c| elbt::Certificate::builder().certificate_arn(c).build())
            .collect(),
    )
}

fn default_certificate(l: &ListenerSettings) -> Option<Vec<elbt::Certificate>> {
    l.default_certificate
        .as_ref()
        .and_then(|c| listener_certificates(std::slice::from_ref(c)))
}

/// Performs one change; `Ok(Some(id))` for creates.
async fn run(
    clients: &AwsClients,
    op: &Op,
    ctx: &Ctx<'_>,
    opts: &ExecuteOptions,
) -> Result<Option<String>, Stop> {
    let (elb, ec2) = (&clients.elbv2, &clients.ec2);
    match op {
        // ---- EC2 security groups ----
        Op::CreateSecurityGroup {
            name,
            description,
            vpc_id,
            tags,
            ..
        } => {
            let created = ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(
                    ec2t::TagSpecification::builder()
                        .resource_type(ec2t::ResourceType::SecurityGroup)
                        .set_tags(Some(ec2_tags(tags)))
                        .build(),
                )
                .send()
                .await
                .map_err(ec2_err("CreateSecurityGroup"));
            match created {
                Ok(out) => Ok(out.group_id().map(str::to_owned)),
                Err(e) if e.has_code("InvalidGroup.Duplicate") => {
                    match idempotent::owned_security_group(ec2, name, vpc_id, tags).await? {
                        Some(id) => Ok(Some(id)),
                        None => Err(e.into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::AuthorizeSecurityGroupIngress { group, permissions } => {
            let group = ctx.r("security group", group)?;
            let permissions = resolve_permissions(ctx, permissions)?;
            idempotent::authorize(ec2, &group, permissions).await?;
            Ok(None)
        }
        Op::RevokeSecurityGroupIngress { group, permissions } => {
            let permissions = resolve_permissions(ctx, permissions)?;
            idempotent::revoke(ec2, group, permissions).await?;
            Ok(None)
        }
        Op::Ec2CreateTags { resource, tags } => {
            ec2.create_tags()
                .resources(resource)
                .set_tags(Some(ec2_tags(tags)))
                .send()
                .await
                .map_err(ec2_err("CreateTags"))?;
            Ok(None)
        }
        Op::Ec2DeleteTags { resource, keys } => {
            ec2.delete_tags()
                .resources(resource)
                .set_tags(Some(
                    keys.iter()
                        .map(|k| ec2t::Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(ec2_err("DeleteTags"))?;
            Ok(None)
        }
        Op::DeleteSecurityGroup { group } => {
            let r = retry_while(
                "DependencyViolation",
                opts.sg_delete_timeout,
                opts,
                || async {
                    ec2.delete_security_group()
                        .group_id(group)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(ec2_err("DeleteSecurityGroup"))
                },
            )
            .await;
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 target groups ----
        Op::CreateTargetGroup {
            target_group: tg,
            tags,
            ..
        } => {
            let h = &tg.health_check;
            let out = elb
                .create_target_group()
                .name(&tg.name)
                .port(i32::from(tg.port))
                .protocol(elbt::ProtocolEnum::from(tg.protocol.as_str()))
                .set_protocol_version(tg.protocol_version.clone())
                .target_type(elbt::TargetTypeEnum::from(tg.target_type.as_str()))
                .ip_address_type(elbt::TargetGroupIpAddressTypeEnum::from(
                    tg.ip_address_type.as_str(),
                ))
                .vpc_id(&tg.vpc_id)
                .health_check_protocol(elbt::ProtocolEnum::from(h.protocol.as_str()))
                .health_check_port(&h.port)
                .set_health_check_path(http_path(h))
                .health_check_interval_seconds(to_i32("health check interval", h.interval_seconds)?)
                .health_check_timeout_seconds(to_i32("health check timeout", h.timeout_seconds)?)
                .healthy_threshold_count(to_i32("healthy threshold", h.healthy_threshold_count)?)
                .unhealthy_threshold_count(to_i32(
                    "unhealthy threshold",
                    h.unhealthy_threshold_count,
                )?)
                .set_matcher(http_matcher(h))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateTargetGroup"))?;
            Ok(out
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
                .map(str::to_owned))
        }
        Op::ModifyTargetGroup {
            target_group,
            health_check: h,
        } => {
            elb.modify_target_group()
                .target_group_arn(ctx.r("target group", target_group)?)
                .health_check_protocol(elbt::ProtocolEnum::from(h.protocol.as_str()))
                .health_check_port(&h.port)
                .set_health_check_path(http_path(h))
                .health_check_interval_seconds(to_i32("health check interval", h.interval_seconds)?)
                .health_check_timeout_seconds(to_i32("health check timeout", h.timeout_seconds)?)
                .healthy_threshold_count(to_i32("healthy threshold", h.healthy_threshold_count)?)
                .unhealthy_threshold_count(to_i32(
                    "unhealthy threshold",
                    h.unhealthy_threshold_count,
                )?)
                .set_matcher(http_matcher(h))
                .send()
                .await
                .map_err(elb_err("ModifyTargetGroup"))?;
            Ok(None)
        }
        Op::ModifyTargetGroupAttributes {
            target_group,
            attributes: attrs,
        } => {
            elb.modify_target_group_attributes()
                .target_group_arn(ctx.r("target group", target_group)?)
                .set_attributes(attributes(attrs, |k, v| {
                    elbt::TargetGroupAttribute::builder()
                        .key(k)
                        .value(v)
                        .build()
                }))
                .send()
                .await
                .map_err(elb_err("ModifyTargetGroupAttributes"))?;
            Ok(None)
        }
        Op::RegisterTargets {
            target_group,
            targets: ts,
        } => {
            elb.register_targets()
                .target_group_arn(ctx.r("target group", target_group)?)
                .set_targets(targets(ts))
                .send()
                .await
                .map_err(elb_err("RegisterTargets"))?;
            Ok(None)
        }
        Op::DeregisterTargets {
            target_group,
            targets: ts,
        } => {
            elb.deregister_targets()
                .target_group_arn(target_group)
                .set_targets(targets(ts))
                .send()
                .await
                .map_err(elb_err("DeregisterTargets"))?;
            Ok(None)
        }
        Op::DeleteTargetGroup { arn } => {
            let r = retry_while("ResourceInUse", opts.tg_delete_timeout, opts, || async {
                elb.delete_target_group()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(elb_err("DeleteTargetGroup"))
            })
            .await;
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 load balancers ----
        Op::CreateLoadBalancer {
            load_balancer: lb,
            tags,
            ..
        } => {
            let sgs = ctx.refs("load balancer security groups", &lb.security_groups)?;
            let out = elb
                .create_load_balancer()
                .name(&lb.name)
                .r#type(elbt::LoadBalancerTypeEnum::from(lb.lb_type.as_str()))
                .scheme(elbt::LoadBalancerSchemeEnum::from(lb.scheme.as_str()))
                .ip_address_type(elbt::IpAddressType::from(lb.ip_address_type.as_str()))
                .set_subnets((!subnet_mappings_needed(lb)).then(|| lb.subnets.clone()))
                .set_subnet_mappings(subnet_mappings(lb))
                .set_security_groups((!sgs.is_empty()).then_some(sgs))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateLoadBalancer"))?;
            Ok(out
                .load_balancers()
                .first()
                .and_then(|l| l.load_balancer_arn())
                .map(str::to_owned))
        }
        Op::SetSecurityGroups {
            load_balancer,
            security_groups,
        } => {
            elb.set_security_groups()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_security_groups(Some(ctx.refs("security group", security_groups)?))
                .send()
                .await
                .map_err(elb_err("SetSecurityGroups"))?;
            Ok(None)
        }
        Op::SetSubnets {
            load_balancer,
            subnets,
        } => {
            elb.set_subnets()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .map_err(elb_err("SetSubnets"))?;
            Ok(None)
        }
        Op::SetIpAddressType {
            load_balancer,
            ip_address_type,
        } => {
            elb.set_ip_address_type()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .ip_address_type(elbt::IpAddressType::from(ip_address_type.as_str()))
                .send()
                .await
                .map_err(elb_err("SetIpAddressType"))?;
            Ok(None)
        }
        Op::ModifyLoadBalancerAttributes {
            load_balancer,
            attributes: attrs,
        } => {
            elb.modify_load_balancer_attributes()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_attributes(attributes(attrs, |k, v| {
                    elbt::LoadBalancerAttribute::builder()
                        .key(k)
                        .value(v)
                        .build()
                }))
                .send()
                .await
                .map_err(elb_err("ModifyLoadBalancerAttributes"))?;
            Ok(None)
        }
        Op::DeleteLoadBalancer { arn } => {
            let r = elb
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteLoadBalancer"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 listeners ----
        Op::CreateListener {
            load_balancer,
            listener: l,
            tags,
            ..
        } => {
            let lb_arn = ctx.r("load balancer", load_balancer)?;
            let out = elb
                .create_listener()
                .load_balancer_arn(lb_arn)
                .port(i32::from(l.port))
                .protocol(elbt::ProtocolEnum::from(l.protocol.as_str()))
                .set_ssl_policy(l.ssl_policy.clone())
                .set_certificates(default_certificate(l))
                .set_alpn_policy(l.alpn_policy.clone().map(|a| vec![a]))
                .set_default_actions(Some(sdk_actions(ctx, &l.default_actions)?))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateListener"))?;
            Ok(out
                .listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .map(str::to_owned))
        }
        Op::ModifyListener { arn, listener: l } => {
            elb.modify_listener()
                .listener_arn(arn)
                .port(i32::from(l.port))
                .protocol(elbt::ProtocolEnum::from(l.protocol.as_str()))
                .set_ssl_policy(l.ssl_policy.clone())
                .set_certificates(default_certificate(l))
                .set_alpn_policy(l.alpn_policy.clone().map(|a| vec![a]))
                .set_default_actions(Some(sdk_actions(ctx, &l.default_actions)?))
                .send()
                .await
                .map_err(elb_err("ModifyListener"))?;
            Ok(None)
        }
        Op::AddListenerCertificates {
            listener,
            certificates,
        } => {
            elb.add_listener_certificates()
                .listener_arn(ctx.r("listener", listener)?)
                .set_certificates(listener_certificates(certificates))
                .send()
                .await
                .map_err(elb_err("AddListenerCertificates"))?;
            Ok(None)
        }
        Op::RemoveListenerCertificates {
            listener,
            certificates,
        } => {
            elb.remove_listener_certificates()
                .listener_arn(listener)
                .set_certificates(listener_certificates(certificates))
                .send()
                .await
                .map_err(elb_err("RemoveListenerCertificates"))?;
            Ok(None)
        }
        Op::DeleteListener { arn } => {
            let r = elb
                .delete_listener()
                .listener_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteListener"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 rules ----
        Op::CreateRule {
            listener,
            priority,
            conditions,
            actions,
            tags,
        } => {
            let listener = ctx.r("listener", listener)?;
            let created = elb
                .create_rule()
                .listener_arn(&listener)
                .priority(to_i32("priority", *priority)?)
                .set_conditions(Some(sdk_conditions(conditions)))
                .set_actions(Some(sdk_actions(ctx, actions)?))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateRule"));
            match created {
                Ok(_) => Ok(None),
                Err(e) if e.has_code("PriorityInUse") => {
                    let actions = resolved_actions(ctx, actions)?;
                    if idempotent::identical_rule(elb, &listener, *priority, conditions, &actions)
                        .await?
                    {
                        Ok(None)
                    } else {
                        Err(e.into())
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::ModifyRule {
            arn,
            conditions,
            actions,
        } => {
            elb.modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(sdk_conditions(conditions)))
                .set_actions(Some(sdk_actions(ctx, actions)?))
                .send()
                .await
                .map_err(elb_err("ModifyRule"))?;
            Ok(None)
        }
        Op::SetRulePriorities { priorities } => {
            let mut pairs = Vec::with_capacity(priorities.len());
            for (arn, p) in priorities {
                pairs.push(
                    elbt::RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(to_i32("priority", *p)?)
                        .build(),
                );
            }
            elb.set_rule_priorities()
                .set_rule_priorities(Some(pairs))
                .send()
                .await
                .map_err(elb_err("SetRulePriorities"))?;
            Ok(None)
        }
        Op::DeleteRule { arn } => {
            let r = elb
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteRule"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 tags ----
        Op::AddTags { resource, tags } => {
            elb.add_tags()
                .resource_arns(resource)
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("AddTags"))?;
            Ok(None)
        }
        Op::RemoveTags { resource, keys } => {
            elb.remove_tags()
                .resource_arns(resource)
                .set_tag_keys(Some(keys.clone()))
                .send()
                .await
                .map_err(elb_err("RemoveTags"))?;
            Ok(None)
        }
    }
}

fn subnet_mappings_needed(lb: &NewLoadBalancer) -> bool {
    !lb.eip_allocations.is_empty() || !lb.private_ipv4_addresses.is_empty()
}

/// Subnet mappings carrying Elastic IPs or private addresses (NLBs), one per subnet in order.
fn subnet_mappings(lb: &NewLoadBalancer) -> Option<Vec<elbt::SubnetMapping>> {
    if !subnet_mappings_needed(lb) {
        return None;
    }
    Some(
        lb.subnets
            .iter()
            .enumerate()
            .map(|(i, subnet)| {
                elbt::SubnetMapping::builder()
                    .subnet_id(subnet)
                    .set_allocation_id(lb.eip_allocations.get(i).cloned())
                    .set_private_ipv4_address(lb.private_ipv4_addresses.get(i).cloned())
                    .build()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(code: &str) -> AwsError {
        AwsError {
            service: "ec2",
            operation: "DeleteSecurityGroup",
            code: code.to_owned(),
            message: String::new(),
            status: Some(400),
            kind: AwsErrorKind::Service,
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
        // Waits of 5, 10, 20, 20 ms fit in 60 ms; the next would not.
        assert_eq!(calls.load(Ordering::SeqCst), 5);
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
