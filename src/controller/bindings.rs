//! TargetGroupBindings (`elbv2.k8s.aws/v1beta1`): keep the targets of a target group the
//! operator does not otherwise own equal to a Service port's ready endpoints (`ip`) or eligible
//! Nodes on its NodePort (`instance`).
//!
//! One task, separate from the stack scheduler, woken by its own flag in [`Signals`] (raised by
//! every watch, TargetGroupBindings included) and coalescing bursts over the target batch
//! window. Each pass, only while leading and never in dry-run:
//! - every binding's desired targets are computed from the watch caches
//!   ([`binding_targets`], pure);
//! - a binding whose desired targets equal what was last applied, and whose status already says
//!   so, costs nothing; others resolve their target group (by ARN or by name, cached),
//!   get the finalizer [`BINDING_FINALIZER`] before anything is registered, and read the
//!   registered targets (DescribeTargetHealth; draining targets count as gone) the first time
//!   or after a failure;
//! - the RegisterTargets / DeregisterTargets differences of every binding go out in one batch,
//!   as the stack fast path's do; a failure skips only that binding's later changes;
//! - `status.observedGeneration` and the `Ready` condition are written when they change, with a
//!   Warning Event per new problem.
//!
//! Nothing else about the target group is touched: no tags, attributes or health checks.
//! `spec.networking` opens the targets' security groups ([`networking`], after the target
//! changes are planned and before they are sent, as LBC orders them). With
//! `multiClusterTargetGroup` only targets this binding registered are ever deregistered: it
//! keeps them, as LBC does, in ConfigMap `aws-lbc-targets-<binding>` (key `targets`, `id:port`
//! comma-separated), written before registering and after deregistering, read once per
//! process, deleted with the binding; without that ConfigMap nothing is deregistered.
//! Deleting a binding deregisters the targets it registered (its desired set as last applied;
//! after a restart, its current desired set as far as it is registered, or for a multi-cluster
//! binding its recorded set), then releases the finalizer; pointing a binding at another target group releases its targets in the old one
//! the same way (as remembered by this process). Failures back off in the controller's one
//! [`WorkQueue`] by their [`ErrorClass`] (throttling soon, other AWS trouble 1 s doubling to
//! 5 min, AWS rejecting the request until the binding changes); a change of the binding
//! retries at once; every sync period everything is read from AWS again. AWS is reached only
//! through the pass API's target path ([`crate::pass::targets`]).
mod networking;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_lb_operator_core::model::{TargetSpec, TargetType};
use aws_lb_operator_core::planner::{target_changes, Change, ChangeKind, Op, Ref};
use aws_lb_operator_core::translate::binding::{binding_targets, BindingSpec};
use aws_lb_operator_core::translate::SERVICE_NAME_LABEL;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::keys::ObjectKey;
use super::kube_io::{tracked_targets_name, KubeIo, BINDING_FINALIZER};
use super::metrics::{Kind, Metrics, ReconcileResult, TargetPath};
use super::queue::{ErrorClass, WorkQueue};
use super::report::class_of_execute;
use super::stores::{Signals, Stores};
use crate::aws::{AwsClients, AwsError};
use crate::crd::{self, TargetGroupBinding, TargetGroupBindingStatus};
use crate::pass::targets::{
    find_target_group, find_target_groups, registered_targets, send_target_changes, ExecuteError,
    Outcome,
};

/// The condition this loop owns.
const READY: &str = "Ready";

/// How the bindings loop is configured (the reconciler's settings that apply).
#[derive(Debug, Clone)]
pub struct BindingSettings {
    /// Plan only: bindings are not reconciled at all.
    pub dry_run: bool,
    /// Everything is read from AWS again this often.
    pub sync_period: Duration,
    /// Coalescing window for changes.
    pub batch_window: Duration,
    /// Cluster name (the tag that picks a target's security group among several).
    pub cluster: String,
    /// The cluster's VPC (resolved from its subnets when `None`).
    pub vpc_id: Option<String>,
    /// `--disable-restricted-sg-rules`: `spec.networking` permissions are not merged into
    /// port ranges.
    pub unrestricted_sg_rules: bool,
}

/// A target group as a binding needs it.
#[derive(Debug, Clone)]
struct Group {
    arn: String,
    name: String,
    /// `None`: a type bindings cannot use (`lambda`, `alb`).
    target_type: Option<TargetType>,
}

/// What was last applied for a binding.
#[derive(Debug, Clone)]
struct Applied {
    arn: String,
    targets: Vec<TargetSpec>,
}

#[derive(Debug, Default)]
struct State {
    /// Target group lookups (`arn:<arn>` or `name:<name>`).
    groups: HashMap<String, Group>,
    /// Per binding.
    applied: HashMap<ObjectKey, Applied>,
    /// Last Warning reported per binding, so a problem is reported once.
    reported: HashMap<ObjectKey, String>,
    /// Bindings backing off after a failure.
    queue: WorkQueue<ObjectKey>,
    /// Each backed-off binding as it was when it failed (generation, deleting): a change
    /// retries at once.
    failed_version: HashMap<ObjectKey, (i64, bool)>,
    /// Bindings this process gave the finalizer: UID → the resourceVersion it was added to
    /// (while the cache still shows that version, it cannot show the finalizer yet).
    finalized: HashMap<String, String>,
    /// `spec.networking`: what was resolved and applied.
    net: networking::NetState,
    /// Multi-cluster bindings: the targets each recorded (its ConfigMap), once read.
    tracked: HashMap<ObjectKey, BTreeSet<String>>,
    /// Last networking Warning per binding.
    net_reported: HashMap<ObjectKey, String>,
}

/// The bindings loop.
pub struct Bindings {
    settings: BindingSettings,
    stores: Stores,
    signals: Arc<Signals>,
    aws: AwsClients,
    kube: KubeIo,
    metrics: Arc<Metrics>,
    state: State,
}

/// Why a binding is not in sync: the `Ready=False` reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    reason: &'static str,
    message: String,
    /// How it is retried: `None` when it waits for the objects to change (the binding, its
    /// Service, endpoints or Nodes: every pass looks again without calling AWS for it).
    class: Option<ErrorClass>,
}

impl Problem {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            class: None,
        }
    }

    /// Retried with the default backoff.
    fn retry(reason: &'static str, message: impl Into<String>) -> Self {
        Self::retry_as(ErrorClass::Other, reason, message)
    }

    fn retry_as(class: ErrorClass, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            class: Some(class),
            ..Self::new(reason, message)
        }
    }

    /// A failed AWS call, retried as its class says.
    fn aws(reason: &'static str, error: &AwsError) -> Self {
        Self::retry_as(ErrorClass::of_aws(error), reason, error.to_string())
    }
}

/// A binding with networking, its key, whether it is being deleted, and its targets.
type Known = (
    Arc<TargetGroupBinding>,
    ObjectKey,
    bool,
    Option<(TargetType, Vec<TargetSpec>)>,
);

/// What one binding needs done.
struct Prepared {
    /// The clients its ELBv2 calls go through (its assumed role's).
    aws: AwsClients,
    /// Target group ARN (empty: none, nothing to do in AWS).
    arn: String,
    /// Target group name, for messages.
    tg_name: String,
    /// Its RegisterTargets / DeregisterTargets changes.
    changes: Vec<Change>,
    /// What will have been applied when every change succeeds (`None` when deleting).
    applied: Option<Applied>,
}

/// One binding's share of a pass's batch.
struct Pending {
    aws: AwsClients,
    tgb: Arc<TargetGroupBinding>,
    key: ObjectKey,
    deleting: bool,
    arn: String,
    tg_name: String,
    applied: Option<Applied>,
    /// Range of this binding's changes in the batch.
    changes: std::ops::Range<usize>,
}

fn version_of(tgb: &TargetGroupBinding) -> (i64, bool) {
    (
        tgb.metadata.generation.unwrap_or_default(),
        tgb.metadata.deletion_timestamp.is_some(),
    )
}

fn has_finalizer(tgb: &TargetGroupBinding) -> bool {
    tgb.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == BINDING_FINALIZER)
}

fn lookup_key(spec: &crd::TargetGroupBindingSpec) -> Option<String> {
    let key = match (&spec.target_group_arn, &spec.target_group_name) {
        (Some(arn), _) if !arn.is_empty() => format!("arn:{arn}"),
        (_, Some(name)) if !name.is_empty() => format!("name:{name}"),
        _ => return None,
    };
    // A name means another target group in another account.
    Some(
        match spec
            .iam_role_arn_to_assume
            .as_deref()
            .filter(|r| !r.is_empty())
        {
            Some(role) => format!("{key} as {role}"),
            None => key,
        },
    )
}

fn is_multi(tgb: &TargetGroupBinding) -> bool {
    tgb.spec.multi_cluster_target_group.unwrap_or(false)
}

/// A target as LBC identifies it in the tracked targets: `id:port`.
fn ident(t: &TargetSpec) -> String {
    format!("{}:{}", t.id, t.port)
}

/// LBC's comma-separated tracked targets (empty: none).
fn parse_tracked(csv: &str) -> BTreeSet<String> {
    csv.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn core_type(t: crd::TargetType) -> TargetType {
    match t {
        crd::TargetType::Instance => TargetType::Instance,
        crd::TargetType::Ip => TargetType::Ip,
    }
}

/// The `Ready` condition for `problem` (`None`: in sync), keeping the transition time of an
/// unchanged status.
fn ready_condition(
    tgb: &TargetGroupBinding,
    problem: Option<&Problem>,
    group: Option<&str>,
) -> Condition {
    let generation = tgb.metadata.generation;
    let (status, reason, message) = match problem {
        Some(p) => ("False", p.reason.to_owned(), p.message.clone()),
        None => (
            "True",
            "Synced".to_owned(),
            format!(
                "the targets of target group {} match service {}/{} port {}",
                group.unwrap_or_default(),
                tgb.metadata.namespace.as_deref().unwrap_or_default(),
                tgb.spec.service_ref.name,
                written_port(&tgb.spec.service_ref.port)
            ),
        ),
    };
    let previous = tgb
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    Condition {
        last_transition_time,
        message,
        observed_generation: generation,
        reason,
        status: status.to_owned(),
        type_: READY.to_owned(),
    }
}

fn written_port(p: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString) -> String {
    match p {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n) => n.to_string(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
    }
}

/// Whether the stored status already says what `condition` says (transition time aside).
fn status_current(tgb: &TargetGroupBinding, condition: &Condition) -> bool {
    let Some(status) = tgb.status.as_ref() else {
        return false;
    };
    status.observed_generation == tgb.metadata.generation
        && status.conditions.iter().any(|c| {
            c.type_ == condition.type_
                && c.status == condition.status
                && c.reason == condition.reason
                && c.message == condition.message
                && c.observed_generation == condition.observed_generation
        })
}

/// The watch-cache objects one pass reads, indexed.
struct Inputs {
    services: HashMap<(String, String), Arc<Service>>,
    slices: HashMap<(String, String), Vec<EndpointSlice>>,
    nodes: Vec<Arc<Node>>,
}

impl Inputs {
    fn read(stores: &Stores, tgbs: &[Arc<TargetGroupBinding>]) -> Self {
        let wanted: BTreeSet<(String, String)> = tgbs
            .iter()
            .map(|t| {
                (
                    t.metadata.namespace.clone().unwrap_or_default(),
                    t.spec.service_ref.name.clone(),
                )
            })
            .collect();
        let ns_name = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                       name: String| {
            (m.namespace.clone().unwrap_or_default(), name)
        };
        // Looked up one by one: the bindings' Services, not every Service of the cluster.
        let services = wanted
            .iter()
            .filter_map(|(ns, name)| Some(((ns.clone(), name.clone()), stores.service(ns, name)?)))
            .collect();
        let mut slices: HashMap<(String, String), Vec<EndpointSlice>> = HashMap::new();
        for s in stores.endpoint_slices_of(&wanted) {
            let Some(svc) = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            let k = ns_name(&s.metadata, svc.clone());
            slices.entry(k).or_default().push(s);
        }
        Self {
            services,
            slices,
            nodes: stores.nodes(),
        }
    }

    fn targets(
        &self,
        tgb: &TargetGroupBinding,
        target_type: TargetType,
    ) -> Result<Vec<TargetSpec>, Problem> {
        let namespace = tgb.metadata.namespace.clone().unwrap_or_default();
        let k = (namespace.clone(), tgb.spec.service_ref.name.clone());
        let spec = BindingSpec {
            namespace,
            service: tgb.spec.service_ref.name.clone(),
            port: tgb.spec.service_ref.port.clone(),
            target_type,
            node_selector: tgb.spec.node_selector.clone(),
        };
        let slices = self.slices.get(&k).map_or(&[][..], Vec::as_slice);
        binding_targets(
            &spec,
            self.services.get(&k).map(|s| &**s),
            slices,
            &self.nodes,
        )
        .map_err(|e| Problem::new(e.reason(), e.to_string()))
    }
}

impl Bindings {
    /// A bindings loop over `stores`, writing to AWS through `aws` and to Kubernetes through
    /// `kube`.
    pub fn new(
        settings: BindingSettings,
        stores: Stores,
        signals: Arc<Signals>,
        aws: AwsClients,
        kube: KubeIo,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            settings,
            stores,
            signals,
            aws,
            kube,
            metrics,
            state: State::default(),
        }
    }

    /// Runs until `shutdown` fires: waits for `synced` (the stack caches) and the binding
    /// caches, then reconciles after every change while `leader` says so.
    pub async fn reconcile_until_shutdown(
        mut self,
        mut leader: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
        mut synced: watch::Receiver<bool>,
    ) {
        tokio::select! {
            r = synced.wait_for(|s| *s) => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            () = self.stores.wait_bindings_ready() => {}
            _ = shutdown.changed() => return,
        }
        if self.settings.dry_run {
            tracing::info!("dry run: TargetGroupBindings are not reconciled");
            let _ = shutdown.changed().await;
            return;
        }
        tracing::info!("TargetGroupBinding caches synced");
        let mut leading = false;
        let mut next_resync = Instant::now() + self.settings.sync_period;
        loop {
            let now_leading = *leader.borrow();
            if now_leading != leading {
                // A new term (or none): nothing remembered about AWS can be trusted.
                self.state = State::default();
                leading = now_leading;
            }
            if Instant::now() >= next_resync {
                next_resync = Instant::now() + self.settings.sync_period;
                self.state.applied.clear();
                self.state.groups.clear();
                self.state.net.reset();
                self.state.queue.unpark_all();
            }
            let _ = self.signals.take_bindings();
            if leading {
                self.pass()
                    .instrument(tracing::info_span!("bindings"))
                    .await;
            }
            let now = Instant::now();
            let wake = self
                .state
                .queue
                .next_wake(now)
                .unwrap_or(next_resync)
                .min(next_resync);
            tokio::select! {
                () = self.signals.bindings_notify.notified() => {
                    tokio::time::sleep(self.settings.batch_window).await;
                }
                () = tokio::time::sleep_until(wake) => {}
                r = leader.changed() => {
                    if r.is_err() {
                        let _ = shutdown.changed().await;
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass over every binding.
    async fn pass(&mut self) {
        let tgbs = self.stores.bindings();
        let keys: BTreeSet<ObjectKey> = tgbs.iter().map(|t| ObjectKey::binding(t)).collect();
        self.state.applied.retain(|k, _| keys.contains(k));
        self.state.reported.retain(|k, _| keys.contains(k));
        self.state.queue.retain(|k| keys.contains(k));
        self.state.failed_version.retain(|k, _| keys.contains(k));
        if tgbs.is_empty() {
            return;
        }
        let uids: BTreeSet<String> = tgbs.iter().filter_map(|t| t.metadata.uid.clone()).collect();
        self.state.finalized.retain(|u, _| uids.contains(u));
        let inputs = Inputs::read(&self.stores, &tgbs);
        let now = Instant::now();
        let started = now;
        for tgb in &tgbs {
            let key = ObjectKey::binding(tgb);
            if self
                .state
                .failed_version
                .get(&key)
                .is_some_and(|v| *v != version_of(tgb))
            {
                // Changed since it failed: retried at once, its backoff starts over.
                self.state.failed_version.remove(&key);
                self.state.queue.succeeded(&key);
            }
        }
        // Every binding is looked at on every pass, except those backing off (or waiting for
        // a change after AWS rejected their request).
        self.state.queue.add_all(keys);
        let taken: BTreeSet<ObjectKey> =
            self.state.queue.take(now, usize::MAX).into_iter().collect();
        self.prefetch_groups(&tgbs, &taken).await;
        let mut changes: Vec<Change> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        for tgb in tgbs {
            let key = ObjectKey::binding(&tgb);
            if !taken.contains(&key) {
                continue;
            }
            let deleting = tgb.metadata.deletion_timestamp.is_some();
            if deleting && !has_finalizer(&tgb) {
                // Not ours (any more): nothing to do.
                continue;
            }
            let span = tracing::info_span!("binding", binding = %key, deleting);
            let prepared = if deleting {
                self.prepare_delete(&tgb, &key, &inputs)
                    .instrument(span)
                    .await
            } else {
                self.prepare_sync(&tgb, &key, &inputs)
                    .instrument(span)
                    .await
            };
            match prepared {
                Ok(None) => {}
                Ok(Some(prepared)) => {
                    let start = changes.len();
                    changes.extend(prepared.changes);
                    pending.push(Pending {
                        aws: prepared.aws,
                        tgb,
                        key,
                        deleting,
                        arn: prepared.arn,
                        tg_name: prepared.tg_name,
                        applied: prepared.applied,
                        changes: start..changes.len(),
                    });
                }
                Err(problem) => self.report(&tgb, &key, &problem).await,
            }
        }
        let net = self.networking(&inputs).await;
        let report = if changes.is_empty() {
            Default::default()
        } else {
            send_by_role(&pending, &changes)
                .instrument(tracing::info_span!(
                    "binding_targets",
                    changes = changes.len()
                ))
                .await
        };
        for p in pending {
            let mut failure: Option<Problem> = None;
            for (c, o) in changes[p.changes.clone()]
                .iter()
                .zip(&report.outcomes[p.changes.clone()])
            {
                let register = c.kind == ChangeKind::Register;
                match o {
                    Outcome::Done => self.metrics.count_targets(&c.op, TargetPath::Binding),
                    // A target group that is gone has no targets to release.
                    Outcome::Failed(ExecuteError::Aws(e))
                        if !register && e.code == "TargetGroupNotFound" => {}
                    Outcome::Failed(e) => {
                        failure.get_or_insert_with(|| {
                            let reason = if register {
                                "FailedRegisterTargets"
                            } else {
                                "FailedDeregisterTargets"
                            };
                            Problem::retry_as(
                                class_of_execute(e),
                                reason,
                                format!("{} of target group {}: {e}", c.operation(), p.tg_name),
                            )
                        });
                    }
                    Outcome::Skipped { reason } => {
                        failure.get_or_insert_with(|| {
                            Problem::retry(
                                "FailedRegisterTargets",
                                format!("{} skipped: {reason}", c.operation()),
                            )
                        });
                    }
                }
            }
            if let Some(problem) = failure {
                // The target group may be gone or changed: read it again next time (a deleted
                // binding keeps what it registered, to release exactly that).
                if !p.deleting {
                    self.state.applied.remove(&p.key);
                }
                self.forget_group(&p.arn);
                self.report(&p.tgb, &p.key, &problem).await;
                self.metrics.reconciled(
                    Kind::TargetGroupBinding,
                    ReconcileResult::Error,
                    started.elapsed(),
                );
                continue;
            }
            if p.deleting {
                if let Some(problem) = net.blocking(&p.tgb) {
                    // Its permissions are not gone yet: the finalizer stays.
                    self.fail(&p.tgb, &p.key, problem.class.unwrap_or(ErrorClass::Other));
                    continue;
                }
                if is_multi(&p.tgb) {
                    if let Err(e) = self.kube.delete_tracked_targets(&p.tgb).await {
                        tracing::warn!(binding = %p.key, error = %e, "tracked targets not deleted; retrying");
                        self.fail(&p.tgb, &p.key, ErrorClass::Other);
                        continue;
                    }
                    self.state.tracked.remove(&p.key);
                }
                if let Err(e) = self.kube.remove_binding_finalizer(&p.tgb).await {
                    tracing::warn!(binding = %p.key, error = %e, "finalizer not removed; retrying");
                    self.fail(&p.tgb, &p.key, ErrorClass::Other);
                    continue;
                }
                self.state.applied.remove(&p.key);
                self.succeeded(&p.key);
                self.state.reported.remove(&p.key);
            } else {
                if let Some(applied) = p.applied {
                    if is_multi(&p.tgb) {
                        // Deregistered targets are no longer ours.
                        let want: BTreeSet<String> = applied.targets.iter().map(ident).collect();
                        if self.state.tracked.get(&p.key) != Some(&want) {
                            if let Err(problem) = self.track(&p.tgb, &p.key, want).await {
                                self.report(&p.tgb, &p.key, &problem).await;
                                continue;
                            }
                        }
                    }
                    self.state.applied.insert(p.key.clone(), applied);
                }
                self.succeeded(&p.key);
                self.state.reported.remove(&p.key);
                self.write_status(&p.tgb, &p.key, None, Some(&p.tg_name))
                    .await;
            }
            if !p.changes.is_empty() {
                self.metrics.reconciled(
                    Kind::TargetGroupBinding,
                    ReconcileResult::Success,
                    started.elapsed(),
                );
            }
        }
        for key in &taken {
            self.state.queue.finish(key);
        }
        self.report_networking(net).await;
    }

    /// The networking step of a pass over every binding ([`networking`]).
    async fn networking(&mut self, inputs: &Inputs) -> networking::NetOutcome {
        let tgbs = self.stores.bindings();
        let mut known: Vec<Known> = Vec::new();
        for tgb in tgbs {
            let deleting = tgb.metadata.deletion_timestamp.is_some();
            if tgb.spec.networking.is_none() || (deleting && !has_finalizer(&tgb)) {
                continue;
            }
            let targets = match self.clients_for(&tgb).await {
                Ok(aws) => self.group(&aws, &tgb).await,
                Err(p) => Err(p),
            };
            let targets = match targets {
                Ok(group) => match Self::target_type(&tgb, &group) {
                    // No Service, port or endpoints: no targets, as LBC cleans up then.
                    Ok(t) => Some((t, inputs.targets(&tgb, t).unwrap_or_default())),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            let key = ObjectKey::binding(&tgb);
            known.push((tgb, key, deleting, targets));
        }
        let bindings: Vec<networking::NetBinding<'_>> = known
            .iter()
            .map(|(tgb, key, deleting, targets)| networking::NetBinding {
                key: key.clone(),
                tgb,
                deleting: *deleting,
                targets: targets.clone(),
            })
            .collect();
        let settings = networking::NetSettings {
            cluster: &self.settings.cluster,
            vpc_id: self.settings.vpc_id.as_deref(),
            unrestricted: self.settings.unrestricted_sg_rules,
        };
        let mut outcome = self
            .state
            .net
            .reconcile(&self.aws, &settings, &bindings)
            .await;
        outcome.with_net = known
            .iter()
            .map(|(t, k, _, _)| (k.clone(), Arc::clone(t)))
            .collect();
        outcome
    }

    /// Warnings (once per message) and backoff for the bindings whose networking failed.
    async fn report_networking(&mut self, net: networking::NetOutcome) {
        let problems: HashMap<ObjectKey, Problem> = net.problems.iter().cloned().collect();
        for (key, tgb) in &net.with_net {
            let problem = problems.get(key).or(net.all.as_ref());
            let Some(problem) = problem else {
                self.state.net_reported.remove(key);
                continue;
            };
            if let Some(class) = problem.class {
                self.fail(tgb, key, class);
            }
            if self.state.net_reported.get(key) != Some(&problem.message) {
                self.metrics
                    .reconcile_error(Kind::TargetGroupBinding, problem.reason);
                self.kube
                    .binding_event(tgb, true, problem.reason, problem.message.clone())
                    .await;
                self.state
                    .net_reported
                    .insert(key.clone(), problem.message.clone());
            }
        }
        self.state
            .net_reported
            .retain(|k, _| net.with_net.iter().any(|(w, _)| w == k));
    }

    /// The targets a multi-cluster binding recorded (cached after the first read).
    async fn tracked(
        &mut self,
        tgb: &TargetGroupBinding,
        key: &ObjectKey,
    ) -> Result<Option<BTreeSet<String>>, Problem> {
        if let Some(t) = self.state.tracked.get(key) {
            return Ok(Some(t.clone()));
        }
        let csv = self.kube.tracked_targets(tgb).await.map_err(|e| {
            Problem::retry(
                "FailedReadTrackedTargets",
                format!("reading ConfigMap {}: {e}", tracked_targets_name(tgb)),
            )
        })?;
        let Some(csv) = csv else {
            return Ok(None);
        };
        let set = parse_tracked(&csv);
        self.state.tracked.insert(key.clone(), set.clone());
        Ok(Some(set))
    }

    /// Records `targets` as what a multi-cluster binding registered.
    async fn track(
        &mut self,
        tgb: &TargetGroupBinding,
        key: &ObjectKey,
        targets: BTreeSet<String>,
    ) -> Result<(), Problem> {
        let csv = targets.iter().cloned().collect::<Vec<_>>().join(",");
        self.kube
            .set_tracked_targets(tgb, &csv)
            .await
            .map_err(|e| {
                Problem::retry(
                    "FailedUpdateTrackedTargets",
                    format!("writing ConfigMap {}: {e}", tracked_targets_name(tgb)),
                )
            })?;
        self.state.tracked.insert(key.clone(), targets);
        Ok(())
    }

    /// The clients a binding's ELBv2 calls go through: the operator's, or those of its
    /// `iamRoleArnToAssume` (assumed once, cached until the credentials expire).
    async fn clients_for(&self, tgb: &TargetGroupBinding) -> Result<AwsClients, Problem> {
        let spec = &tgb.spec;
        self.aws
            .as_role(
                spec.iam_role_arn_to_assume.as_deref(),
                spec.assume_role_external_id.as_deref(),
                &self.settings.cluster,
            )
            .await
            .map_err(|e| {
                Problem::retry_as(
                    ErrorClass::of_aws(&e),
                    "FailedAssumeRole",
                    format!(
                        "assuming role {} for the target group's calls: {e}",
                        spec.iam_role_arn_to_assume.as_deref().unwrap_or_default()
                    ),
                )
            })
    }

    /// The target group of a binding, looked up once and cached.
    async fn group(
        &mut self,
        aws: &AwsClients,
        tgb: &TargetGroupBinding,
    ) -> Result<Group, Problem> {
        let spec = &tgb.spec;
        let Some(lookup) = lookup_key(spec) else {
            return Err(Problem::new(
                "InvalidSpec",
                "spec.targetGroupARN or spec.targetGroupName is required",
            ));
        };
        if let Some(g) = self.state.groups.get(&lookup) {
            return Ok(g.clone());
        }
        let arn = spec.target_group_arn.as_deref().filter(|a| !a.is_empty());
        let name = spec.target_group_name.as_deref();
        let found = find_target_group(aws, arn, name)
            .await
            .map_err(|e| Problem::aws("FailedDescribeTargetGroup", &e))?;
        let Some(tg) = found else {
            let which = match arn {
                Some(a) => format!("target group {a}"),
                None => format!("target group named {:?}", name.unwrap_or_default()),
            };
            return Err(Problem::retry(
                "TargetGroupNotFound",
                format!("{which} not found"),
            ));
        };
        let group = Group {
            target_type: TargetType::parse(&tg.target_type),
            arn: tg.arn,
            name: tg.name,
        };
        self.state.groups.insert(lookup, group.clone());
        Ok(group)
    }

    /// The target groups, not cached yet, of the bindings this pass looks at, read 20 ARNs a
    /// call (the first pass after a restart otherwise reads one per binding). Bindings that
    /// name their group, or assume a role, are read one by one in [`Self::group`], as are those
    /// of a batch that fails (a missing ARN fails the whole call) or a batch of one.
    async fn prefetch_groups(
        &mut self,
        tgbs: &[std::sync::Arc<TargetGroupBinding>],
        taken: &BTreeSet<ObjectKey>,
    ) {
        let mut wanted: Vec<(String, String)> = Vec::new();
        for tgb in tgbs {
            let spec = &tgb.spec;
            if !taken.contains(&ObjectKey::binding(tgb))
                || spec
                    .iam_role_arn_to_assume
                    .as_deref()
                    .is_some_and(|r| !r.is_empty())
            {
                continue;
            }
            let (Some(arn), Some(lookup)) = (
                spec.target_group_arn.as_deref().filter(|a| !a.is_empty()),
                lookup_key(spec),
            ) else {
                continue;
            };
            if !self.state.groups.contains_key(&lookup) && !wanted.iter().any(|(l, _)| *l == lookup)
            {
                wanted.push((lookup, arn.to_owned()));
            }
        }
        for chunk in wanted.chunks(20).filter(|c| c.len() > 1) {
            let arns: Vec<String> = chunk.iter().map(|(_, a)| a.clone()).collect();
            match find_target_groups(&self.aws, &arns).await {
                Ok(found) => {
                    for tg in found {
                        if let Some((lookup, _)) = chunk.iter().find(|(_, a)| *a == tg.arn) {
                            let group = Group {
                                target_type: TargetType::parse(&tg.target_type),
                                arn: tg.arn,
                                name: tg.name,
                            };
                            self.state.groups.insert(lookup.clone(), group);
                        }
                    }
                }
                Err(e) => tracing::debug!(
                    error = %e,
                    "target groups not read together; each binding reads its own"
                ),
            }
        }
    }

    fn forget_group(&mut self, arn: &str) {
        self.state.groups.retain(|_, g| g.arn != arn);
    }

    /// The target type a binding registers, checked against its target group's.
    fn target_type(tgb: &TargetGroupBinding, group: &Group) -> Result<TargetType, Problem> {
        let Some(actual) = group.target_type else {
            return Err(Problem::new(
                "UnsupportedTargetType",
                format!(
                    "target group {} has a target type bindings cannot register (only ip and instance)",
                    group.name
                ),
            ));
        };
        match tgb.spec.target_type.map(core_type) {
            Some(t) if t != actual => Err(Problem::new(
                "TargetTypeMismatch",
                format!(
                    "spec.targetType is {t} but target group {} has target type {actual}",
                    group.name
                ),
            )),
            _ => Ok(actual),
        }
    }

    /// Registered targets of `arn` that are not draining.
    async fn registered(aws: &AwsClients, arn: &str) -> Result<Vec<TargetSpec>, Problem> {
        registered_targets(aws, arn)
            .await
            .map_err(|e| Problem::aws("FailedDescribeTargetHealth", &e))
    }

    /// The changes that bring a live binding in sync: `Ok(None)` when it already is.
    async fn prepare_sync(
        &mut self,
        tgb: &Arc<TargetGroupBinding>,
        key: &ObjectKey,
        inputs: &Inputs,
    ) -> Result<Option<Prepared>, Problem> {
        let aws = self.clients_for(tgb).await?;
        let group = self.group(&aws, tgb).await?;
        let target_type = Self::target_type(tgb, &group)?;
        let mut desired = inputs.targets(tgb, target_type)?;
        desired.sort();
        let remembered = self.state.applied.get(key).cloned();
        let stack = key.to_string();
        // Bound to another target group before (the spec changed): release what was
        // registered there, after registering here.
        let moved_from = remembered.clone().filter(|a| a.arn != group.arn);
        let applied = remembered.filter(|a| a.arn == group.arn);
        let uid = tgb.metadata.uid.clone().unwrap_or_default();
        let version = tgb.metadata.resource_version.clone().unwrap_or_default();
        let needs_finalizer =
            !has_finalizer(tgb) && self.state.finalized.get(&uid) != Some(&version);
        if let Some(a) = applied.as_ref().filter(|_| !needs_finalizer) {
            if a.targets == desired {
                let ready = ready_condition(tgb, None, Some(&group.name));
                if !status_current(tgb, &ready) {
                    self.write_status(tgb, key, None, Some(&group.name)).await;
                }
                return Ok(None);
            }
        }
        // The finalizer goes on before anything is registered (and again if it was removed).
        if needs_finalizer {
            if let Err(e) = self.kube.add_binding_finalizer(tgb).await {
                return Err(Problem::retry(
                    "FailedAddFinalizers",
                    format!("adding finalizer {BINDING_FINALIZER}: {e}"),
                ));
            }
            self.state.finalized.insert(uid, version);
        }
        let multi = is_multi(tgb);
        // Shared with other clusters: the targets this binding registered, as LBC keeps them
        // (`None`: never recorded, so nothing is deregistered, as LBC).
        let tracked = if multi {
            self.tracked(tgb, key).await?
        } else {
            None
        };
        let (have, mine): (Vec<TargetSpec>, Option<BTreeSet<String>>) = match &applied {
            Some(a) => (a.targets.clone(), None),
            None => {
                let have = Self::registered(&aws, &group.arn).await?;
                // Registered targets this binding did not register stay.
                (have, multi.then(|| tracked.clone().unwrap_or_default()))
            }
        };
        if multi {
            // Recorded before anything is registered, so a registration whose answer is lost
            // is still ours (LBC writes the ConfigMap before registering too).
            let want: BTreeSet<String> = desired.iter().map(ident).collect();
            match &tracked {
                Some(t) if want.is_subset(t) => {}
                Some(t) => {
                    self.track(tgb, key, t.union(&want).cloned().collect())
                        .await?
                }
                None => self.track(tgb, key, want).await?,
            }
        }
        let mut changes: Vec<Change> = target_changes(
            &stack,
            &group.name,
            &Ref::Existing(group.arn.clone()),
            &desired,
            &have,
        )
        .into_iter()
        .filter_map(|mut c| match (&mut c.op, &mine) {
            (Op::DeregisterTargets { targets, .. }, Some(mine)) => {
                targets.retain(|t| mine.contains(&ident(t)));
                (!targets.is_empty()).then_some(c)
            }
            _ => Some(c),
        })
        .collect();
        if let Some(old) = moved_from {
            changes.extend(target_changes(
                &stack,
                &old.arn,
                &Ref::Existing(old.arn.clone()),
                &[],
                &old.targets,
            ));
        }
        Ok(Some(Prepared {
            aws,
            arn: group.arn.clone(),
            tg_name: group.name,
            changes,
            applied: Some(Applied {
                arn: group.arn,
                targets: desired,
            }),
        }))
    }

    /// The changes that release a deleted binding's targets.
    async fn prepare_delete(
        &mut self,
        tgb: &Arc<TargetGroupBinding>,
        key: &ObjectKey,
        inputs: &Inputs,
    ) -> Result<Option<Prepared>, Problem> {
        let aws = self.clients_for(tgb).await?;
        let applied = self.state.applied.get(key).cloned();
        let (arn, name, targets) = match applied {
            Some(a) => {
                let name = self
                    .state
                    .groups
                    .values()
                    .find(|g| g.arn == a.arn)
                    .map_or_else(|| a.arn.clone(), |g| g.name.clone());
                (a.arn, name, a.targets)
            }
            None => match self.group(&aws, tgb).await {
                Ok(group) => {
                    // Nothing remembered (a restart): the current desired set, as far as it
                    // is registered.
                    let desired = Self::target_type(tgb, &group)
                        .and_then(|t| inputs.targets(tgb, t))
                        .unwrap_or_default();
                    let registered: BTreeSet<TargetSpec> = Self::registered(&aws, &group.arn)
                        .await?
                        .into_iter()
                        .collect();
                    let targets = if is_multi(tgb) {
                        // Shared: exactly what this binding recorded as registered.
                        let tracked = self.tracked(tgb, key).await?.unwrap_or_default();
                        registered
                            .into_iter()
                            .filter(|t| tracked.contains(&ident(t)))
                            .collect()
                    } else {
                        desired
                            .into_iter()
                            .filter(|t| registered.contains(t))
                            .collect()
                    };
                    (group.arn, group.name, targets)
                }
                Err(p) if p.reason == "TargetGroupNotFound" || p.reason == "InvalidSpec" => {
                    // No target group: nothing registered, nothing to release.
                    (String::new(), String::new(), Vec::new())
                }
                Err(p) => return Err(p),
            },
        };
        let changes = if arn.is_empty() {
            Vec::new()
        } else {
            target_changes(
                &key.to_string(),
                &name,
                &Ref::Existing(arn.clone()),
                &[],
                &targets,
            )
        };
        Ok(Some(Prepared {
            aws,
            arn,
            tg_name: name,
            changes,
            applied: None,
        }))
    }

    /// `key` failed with `class`: it backs off until its time, or until the binding changes.
    fn fail(&mut self, tgb: &TargetGroupBinding, key: &ObjectKey, class: ErrorClass) {
        self.state
            .failed_version
            .insert(key.clone(), version_of(tgb));
        self.state.queue.failed(key, class, Instant::now());
    }

    /// `key` is in sync: its failures are forgotten.
    fn succeeded(&mut self, key: &ObjectKey) {
        self.state.failed_version.remove(key);
        self.state.queue.succeeded(key);
    }

    /// Reports `problem`: `Ready=False` (live bindings), a Warning Event when it is new, and a
    /// retry with backoff when it is AWS trouble.
    async fn report(&mut self, tgb: &TargetGroupBinding, key: &ObjectKey, problem: &Problem) {
        if let Some(class) = problem.class {
            self.fail(tgb, key, class);
        }
        let note = problem.message.clone();
        if self.state.reported.get(key) != Some(&note) {
            self.metrics
                .reconcile_error(Kind::TargetGroupBinding, problem.reason);
            self.kube
                .binding_event(tgb, true, problem.reason, note.clone())
                .await;
            self.state.reported.insert(key.clone(), note);
        }
        if tgb.metadata.deletion_timestamp.is_none() {
            self.write_status(tgb, key, Some(problem), None).await;
        }
    }

    /// Writes `status` (observed generation and `Ready`) when it differs from the stored one.
    async fn write_status(
        &mut self,
        tgb: &TargetGroupBinding,
        key: &ObjectKey,
        problem: Option<&Problem>,
        group: Option<&str>,
    ) {
        let ready = ready_condition(tgb, problem, group);
        if status_current(tgb, &ready) {
            return;
        }
        let became_ready = problem.is_none();
        let mut conditions: Vec<Condition> = tgb
            .status
            .as_ref()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        conditions.retain(|c| c.type_ != READY);
        conditions.push(ready);
        let status = TargetGroupBindingStatus {
            observed_generation: tgb.metadata.generation,
            conditions,
        };
        match self.kube.set_binding_status(tgb, &status).await {
            Ok(()) => {
                if became_ready {
                    self.kube
                        .binding_event(
                            tgb,
                            false,
                            "SuccessfullyReconciled",
                            format!(
                                "targets of target group {} in sync",
                                group.unwrap_or_default()
                            ),
                        )
                        .await;
                }
            }
            Err(e) => {
                tracing::warn!(binding = %key, error = %e, "status not updated; retrying");
                self.fail(tgb, key, ErrorClass::Other);
            }
        }
    }
}

/// Sends each binding's changes through its own clients (its assumed role's, or the
/// operator's): one batch per set of clients, the outcomes in the order of `changes`.
async fn send_by_role(
    pending: &[Pending],
    changes: &[Change],
) -> crate::pass::targets::ExecuteReport {
    type RoleKey = (Option<String>, Option<String>);
    let mut groups: Vec<(RoleKey, &AwsClients, Vec<usize>)> = Vec::new();
    for p in pending {
        let spec = &p.tgb.spec;
        let key: RoleKey = (
            spec.iam_role_arn_to_assume
                .clone()
                .filter(|r| !r.is_empty()),
            spec.assume_role_external_id.clone(),
        );
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, idx)) => idx.extend(p.changes.clone()),
            None => groups.push((key, &p.aws, p.changes.clone().collect())),
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = changes.iter().map(|_| None).collect();
    for (_, aws, idx) in groups {
        let own: Vec<Change> = idx
            .iter()
            .filter_map(|&i| changes.get(i).cloned())
            .collect();
        let report = send_target_changes(aws, &own).await;
        for (i, o) in idx.into_iter().zip(report.outcomes) {
            if let Some(slot) = outcomes.get_mut(i) {
                *slot = Some(o);
            }
        }
    }
    crate::pass::targets::ExecuteReport {
        outcomes: outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Skipped {
                    reason: "not sent".into(),
                })
            })
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgb(spec: serde_json::Value, status: Option<serde_json::Value>) -> TargetGroupBinding {
        let mut v = serde_json::json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": {"name": "web", "namespace": "shop", "generation": 2},
            "spec": spec,
        });
        if let Some(s) = status {
            v["status"] = s;
        }
        serde_json::from_value(v).unwrap()
    }

    fn spec() -> serde_json::Value {
        serde_json::json!({"targetGroupName": "tg", "serviceRef": {"name": "web", "port": 80}})
    }

    #[test]
    fn tracked_targets_read_and_write_lbcs_format() {
        assert_eq!(
            parse_tracked("10.0.1.5:8080,i-0abc:30080"),
            ["10.0.1.5:8080".to_owned(), "i-0abc:30080".to_owned()].into()
        );
        assert!(
            parse_tracked("").is_empty(),
            "an empty record tracks nothing"
        );
        let t = TargetSpec {
            id: "10.0.1.5".into(),
            port: 8080,
        };
        assert_eq!(ident(&t), "10.0.1.5:8080");
        let mut spec = spec();
        spec["iamRoleArnToAssume"] = "arn:aws:iam::1:role/r".into();
        assert_eq!(
            lookup_key(&tgb(spec, None).spec),
            Some("name:tg as arn:aws:iam::1:role/r".to_owned()),
            "the same name in another account is another target group"
        );
    }

    #[test]
    fn target_groups_are_looked_up_by_arn_first() {
        let by = |v: serde_json::Value| lookup_key(&tgb(v, None).spec);
        assert_eq!(
            by(
                serde_json::json!({"targetGroupARN": "arn:1", "targetGroupName": "tg",
                "serviceRef": {"name": "web", "port": 80}})
            ),
            Some("arn:arn:1".to_owned())
        );
        assert_eq!(by(spec()), Some("name:tg".to_owned()));
        assert_eq!(
            by(
                serde_json::json!({"targetGroupARN": "", "serviceRef": {"name": "web", "port": 80}})
            ),
            None
        );
    }

    #[test]
    fn ready_condition_keeps_its_transition_time_while_its_status_holds() {
        let old = serde_json::json!({"observedGeneration": 2, "conditions": [{
            "type": "Ready", "status": "False", "reason": "ServiceNotFound",
            "message": "service shop/web not found", "observedGeneration": 2,
            "lastTransitionTime": "2020-01-01T00:00:00Z"}]});
        let t = tgb(spec(), Some(old));
        let missing = Problem::new("ServiceNotFound", "service shop/web not found");
        let same = ready_condition(&t, Some(&missing), None);
        assert_eq!(
            same.last_transition_time.0.to_string(),
            "2020-01-01T00:00:00Z"
        );
        assert!(status_current(&t, &same), "nothing to write");

        let other = Problem::new("ServicePortNotFound", "no port");
        let changed = ready_condition(&t, Some(&other), None);
        assert_eq!(
            changed.last_transition_time.0.to_string(),
            "2020-01-01T00:00:00Z"
        );
        assert!(!status_current(&t, &changed), "a new reason is written");

        let ready = ready_condition(&t, None, Some("tg"));
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Synced")
        );
        assert_eq!(
            ready.message,
            "the targets of target group tg match service shop/web port 80"
        );
        assert_eq!(ready.observed_generation, Some(2));
        assert_ne!(
            ready.last_transition_time.0.to_string(),
            "2020-01-01T00:00:00Z"
        );
        assert!(!status_current(&t, &ready));
        assert!(!status_current(&tgb(spec(), None), &ready), "no status yet");
    }

    #[test]
    fn target_types_must_agree_with_the_target_group() {
        let group = |t: Option<TargetType>| Group {
            arn: "arn".into(),
            name: "tg".into(),
            target_type: t,
        };
        let unset = tgb(spec(), None);
        assert_eq!(
            Bindings::target_type(&unset, &group(Some(TargetType::Instance))),
            Ok(TargetType::Instance)
        );
        let mut ip = spec();
        ip["targetType"] = "ip".into();
        let err =
            Bindings::target_type(&tgb(ip, None), &group(Some(TargetType::Instance))).unwrap_err();
        assert_eq!(err.reason, "TargetTypeMismatch");
        assert_eq!(
            err.message,
            "spec.targetType is ip but target group tg has target type instance"
        );
        let lambda = Bindings::target_type(&unset, &group(None)).unwrap_err();
        assert_eq!(lambda.reason, "UnsupportedTargetType");
    }
}
