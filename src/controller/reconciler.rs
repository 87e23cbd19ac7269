//! Scheduling and reconciling stacks.
//!
//! The reconcile unit is a stack (one IngressGroup or one Service). The scheduler rebuilds the
//! desired model from the watch caches after every burst of changes (coalesced over the target
//! batch window) and compares each stack with what was last applied:
//! - a stack whose shape changed (or that is new, or whose objects left it) is marked dirty and
//!   reconciled by a worker: one deploy pass (observe → plan → execute, ELBv2, EC2 and Route53)
//!   for up to `max_stacks_per_pass` dirty stacks together, so they share one AWS discovery read;
//! - a stack whose only change is targets takes the fast path: the RegisterTargets /
//!   DeregisterTargets difference is sent straight to the target groups applied last time,
//!   without observing or planning anything else.
//!
//! A stack is never in two passes at once; different stacks run concurrently on
//! `concurrency` workers. Failures back off exponentially (1 s doubling to 5 min); invalid
//! objects are reported once and wait for the next change. Every `sync_period` every stack is
//! reconciled again to repair drift. Only the leader reconciles.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use aws_lb_operator_core::build::{build, BuildConfig};
use aws_lb_operator_core::deploy::{keys, target_changes, Ref};
use aws_lb_operator_core::dns::DnsOptions;
use aws_lb_operator_core::model::{Stack, StackId, StackKind};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use super::kube_io::{finalizer_for, KubeIo, ObjState};
use super::metrics::Metrics;
use super::stores::{Signals, Stores};
use crate::aws::execute::{execute, ExecuteOptions, Outcome};
use crate::aws::route53::{DnsOutcome, ZoneCache};
use crate::aws::AwsClients;
use crate::deploy::{apply_cached, prepare_cached, PassOptions};

/// First retry delay after a failed reconcile; doubled per failure.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What the reconciler is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cluster name.
    pub cluster: String,
    /// VPC (discovered when `None`).
    pub vpc_id: Option<String>,
    /// Translation settings.
    pub build: BuildConfig,
    /// Route53 settings (`None`: DNS left alone).
    pub dns: Option<DnsOptions>,
    /// Workers.
    pub concurrency: usize,
    /// Most stacks in one pass.
    pub max_stacks_per_pass: usize,
    /// Full resync period.
    pub sync_period: Duration,
    /// Coalescing window for changes.
    pub target_batch_window: Duration,
    /// Plan only.
    pub dry_run: bool,
}

/// What was last applied for a stack.
#[derive(Debug, Clone)]
struct Applied {
    stack: Stack,
    /// Target group id → ARN, for the fast path.
    tg_arns: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    latest: BTreeMap<String, Stack>,
    claims: BTreeMap<String, StackId>,
    objects: BTreeMap<String, ObjState>,
    applied: HashMap<String, Applied>,
    dirty: BTreeSet<String>,
    in_flight: BTreeSet<String>,
    failures: HashMap<String, u32>,
    not_before: HashMap<String, Instant>,
    reported_errors: BTreeMap<String, Vec<String>>,
    /// DNS conflicts already reported, per stack.
    reported_conflicts: BTreeMap<String, BTreeSet<String>>,
    /// Objects with build errors.
    errored: BTreeSet<String>,
    /// Stacks whose finalizer an object with errors holds: never deleted, never released,
    /// until the object is fixed or deleted.
    protected: BTreeSet<String>,
    /// For each hostname, the stack that keeps it (first by id among all current stacks).
    hostname_owners: BTreeMap<String, StackId>,
    leading: bool,
}

/// Everything the scheduler and workers share.
pub struct Reconciler {
    settings: Settings,
    stores: Stores,
    signals: Arc<Signals>,
    aws: AwsClients,
    kube: KubeIo,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    work: Notify,
    leader: watch::Receiver<bool>,
}

fn shape(stack: &Stack) -> Stack {
    let mut s = stack.clone();
    for tg in &mut s.target_groups {
        tg.targets.clear();
    }
    s
}

fn kind_label(id: &str) -> &'static str {
    match StackId::parse(id).kind {
        StackKind::Ingress => "ingress",
        StackKind::Service => "service",
    }
}

impl Reconciler {
    /// A reconciler over `stores`, writing to AWS through `aws` and to Kubernetes through `kube`.
    pub fn new(
        settings: Settings,
        stores: Stores,
        signals: Arc<Signals>,
        aws: AwsClients,
        kube: KubeIo,
        metrics: Arc<Metrics>,
        leader: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            settings,
            stores,
            signals,
            aws,
            kube,
            metrics,
            state: Mutex::new(State::default()),
            work: Notify::new(),
            leader,
        })
    }

    /// True while this replica leads (read at every write phase, not cached).
    fn is_leading(&self) -> bool {
        *self.leader.borrow()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Scheduler: rebuild after changes, mark dirty stacks, run the fast path, resync
    /// periodically. Returns when `shutdown` fires.
    pub async fn schedule(
        self: Arc<Self>,
        mut leader: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut next_resync = Instant::now() + self.settings.sync_period;
        loop {
            let leading = *leader.borrow();
            let became_leader = {
                let mut st = self.lock();
                let changed = st.leading != leading;
                st.leading = leading;
                changed && leading
            };
            if became_leader {
                // A new term: nothing we remember about AWS can be trusted.
                let mut st = self.lock();
                st.applied.clear();
                let all: Vec<String> = st.latest.keys().cloned().collect();
                st.dirty.extend(all);
            }
            let (general, targets) = self.signals.take();
            let resync = Instant::now() >= next_resync;
            if resync {
                next_resync = Instant::now() + self.settings.sync_period;
                let mut st = self.lock();
                let all: Vec<String> = st.latest.keys().cloned().collect();
                st.dirty.extend(all);
            }
            if general || targets || became_leader || resync {
                self.rebuild().await;
            }
            if leading && !self.settings.dry_run {
                self.fast_path().await;
            }
            {
                let st = self.lock();
                let depth = i64::try_from(st.dirty.len()).unwrap_or(i64::MAX);
                self.metrics.queue_depth.store(depth, Ordering::Relaxed);
            }
            self.work.notify_waiters();
            let wake = self
                .next_backoff_wake()
                .unwrap_or(next_resync)
                .min(next_resync);
            tokio::select! {
                () = self.signals.notify.notified() => {
                    // Coalesce a burst (a rollout, a resync of the watch) into one rebuild.
                    tokio::time::sleep(self.settings.target_batch_window).await;
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                r = leader.changed() => {
                    if r.is_err() {
                        // The election stopped (shutdown): wait for the shutdown signal.
                        let _ = shutdown.changed().await;
                        self.work.notify_waiters();
                        return;
                    }
                }
                _ = shutdown.changed() => {
                    self.work.notify_waiters();
                    return;
                }
            }
        }
    }

    fn next_backoff_wake(&self) -> Option<Instant> {
        let st = self.lock();
        let now = Instant::now();
        st.not_before
            .iter()
            .filter(|(id, t)| **t > now && st.dirty.contains(*id) && !st.in_flight.contains(*id))
            .map(|(_, t)| *t)
            .min()
    }

    /// Rebuilds the model and marks what changed.
    async fn rebuild(&self) {
        let snapshot = self.stores.snapshot(&self.settings.build);
        let out = tracing::info_span!("build").in_scope(|| build(&snapshot, &self.settings.build));
        drop(snapshot);
        let mut objects: BTreeMap<String, ObjState> = BTreeMap::new();
        for i in self.stores.ingresses() {
            let o = ObjState::ingress(&i);
            objects.insert(o.key(), o);
        }
        // Only Services that can be ours: LoadBalancers, and any still holding a finalizer
        // (one that stopped being a LoadBalancer). Not the cluster's every ClusterIP Service.
        for s in self.stores.services().iter().filter(|s| {
            s.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer")
                || s.metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
        }) {
            let o = ObjState::service(s);
            objects.insert(o.key(), o);
        }
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &out.errors {
            let o = e.object();
            let key = format!("{}/{}/{}", o.kind, o.namespace, o.name);
            errors.entry(key).or_default().push(e.to_string());
        }
        let mut events = Vec::new();
        {
            let mut st = self.lock();
            for (key, messages) in &errors {
                if st.reported_errors.get(key) != Some(messages) {
                    if let Some(obj) = objects.get(key) {
                        events.push((obj.clone(), messages.join("; ")));
                    }
                    self.metrics.inc(
                        "aws_lb_operator_reconcile_errors_total",
                        &[
                            ("kind", key.split('/').next().unwrap_or("")),
                            ("reason", "FailedBuildModel"),
                        ],
                        1,
                    );
                }
            }
            let errored: BTreeSet<String> = errors.keys().cloned().collect();
            st.reported_errors = errors;
            let mut latest: BTreeMap<String, Stack> = out
                .stacks
                .into_iter()
                .map(|s| (s.id.to_string(), s))
                .collect();
            // An object with errors keeps every stack it holds a finalizer of: no deletion, no
            // release, and its hostnames' records stay, until it is fixed or deleted.
            let mut protected = BTreeSet::new();
            for obj in objects
                .values()
                .filter(|o| !o.deleting && errored.contains(&o.key()))
            {
                let hosts = self
                    .stores
                    .ingress(&obj.namespace, &obj.name)
                    .filter(|_| obj.kind == super::kube_io::ObjKind::Ingress)
                    .map(|i| aws_lb_operator_core::build::hostnames::ingress_hostnames(&i))
                    .unwrap_or_default();
                for (_, stack) in obj.finalized_stacks() {
                    let id = stack.to_string();
                    if let Some(s) = latest.get_mut(&id) {
                        s.held_hostnames.extend(hosts.iter().cloned());
                    }
                    protected.insert(id);
                }
            }
            let claimed: BTreeSet<String> = out.claims.values().map(ToString::to_string).collect();
            let mut dirty = Vec::new();
            for (id, stack) in &latest {
                let changed = match st.applied.get(id) {
                    None => true,
                    Some(a) => shape(&a.stack) != shape(stack),
                };
                if changed {
                    dirty.push(id.clone());
                }
                // A change of the objects is worth trying at once, whatever the backoff.
                let was_changed = st.latest.get(id).is_some_and(|old| old != stack);
                if was_changed {
                    st.not_before.remove(id);
                }
            }
            for id in st.applied.keys() {
                if !latest.contains_key(id) && !claimed.contains(id) && !protected.contains(id) {
                    dirty.push(id.clone());
                }
            }
            if !self.settings.dry_run {
                for obj in objects.values().filter(|o| !errored.contains(&o.key())) {
                    for (_, stack) in obj.finalized_stacks() {
                        let id = stack.to_string();
                        let left_alone = !latest.contains_key(&id)
                            && (claimed.contains(&id) || protected.contains(&id));
                        if out.claims.get(&obj.key()) != Some(&stack) && !left_alone {
                            dirty.push(id);
                        }
                    }
                }
            }
            let mut owners: BTreeMap<String, StackId> = BTreeMap::new();
            for stack in latest.values() {
                for h in &stack.hostnames {
                    owners
                        .entry(h.hostname.clone())
                        .or_insert_with(|| stack.id.clone());
                }
            }
            st.dirty.extend(dirty);
            st.latest = latest;
            st.claims = out.claims;
            st.objects = objects;
            st.errored = errored;
            st.protected = protected;
            st.hostname_owners = owners;
        }
        for (obj, note) in events {
            self.kube.event(&obj, true, "FailedBuildModel", note).await;
        }
    }

    /// Sends target differences of stacks whose only change is targets.
    async fn fast_path(&self) {
        let mut changes = Vec::new();
        let mut touched: BTreeMap<String, Stack> = BTreeMap::new();
        {
            let mut st = self.lock();
            let mut to_dirty = Vec::new();
            for (id, stack) in &st.latest {
                if st.dirty.contains(id) || st.in_flight.contains(id) {
                    continue;
                }
                let Some(applied) = st.applied.get(id) else {
                    continue;
                };
                if applied.stack == *stack || shape(&applied.stack) != shape(stack) {
                    continue;
                }
                let mut ok = true;
                let mut stack_changes = Vec::new();
                for tg in &stack.target_groups {
                    let old = applied
                        .stack
                        .target_groups
                        .iter()
                        .find(|t| t.id == tg.id)
                        .map_or(&[][..], |t| t.targets.as_slice());
                    if old == tg.targets.as_slice() {
                        continue;
                    }
                    let Some(arn) = applied.tg_arns.get(&tg.id) else {
                        ok = false;
                        break;
                    };
                    stack_changes.extend(target_changes(
                        id,
                        &tg.name,
                        &Ref::Existing(arn.clone()),
                        &tg.targets,
                        old,
                    ));
                }
                if ok {
                    changes.extend(stack_changes);
                    touched.insert(id.clone(), stack.clone());
                } else {
                    to_dirty.push(id.clone());
                }
            }
            st.dirty.extend(to_dirty);
            for id in touched.keys() {
                st.in_flight.insert(id.clone());
            }
        }
        if changes.is_empty() {
            let mut st = self.lock();
            for id in touched.keys() {
                st.in_flight.remove(id);
            }
            return;
        }
        let report = execute(&self.aws, &changes, &ExecuteOptions::default())
            .instrument(tracing::info_span!("fast_path", changes = changes.len()))
            .await;
        let mut failed: BTreeSet<String> = BTreeSet::new();
        for (c, o) in changes.iter().zip(&report.outcomes) {
            if matches!(o, Outcome::Done) {
                self.metrics.count_target_change(&c.op, "fast");
            } else {
                failed.insert(c.stack.clone());
            }
        }
        let mut st = self.lock();
        for (id, stack) in touched {
            st.in_flight.remove(&id);
            if failed.contains(&id) {
                // The target group may be gone: a full pass finds out.
                st.dirty.insert(id);
            } else if let Some(a) = st.applied.get_mut(&id) {
                a.stack = stack;
            }
        }
        self.update_targets_gauge(&st);
    }

    fn update_targets_gauge(&self, st: &State) {
        let n: usize = st
            .applied
            .values()
            .flat_map(|a| &a.stack.target_groups)
            .map(|t| t.targets.len())
            .sum();
        self.metrics
            .targets
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Takes the next batch of dirty stacks this worker may reconcile.
    fn take_batch(&self) -> Vec<String> {
        if !self.is_leading() {
            return Vec::new();
        }
        let mut st = self.lock();
        let now = Instant::now();
        let batch: Vec<String> = st
            .dirty
            .iter()
            .filter(|id| !st.in_flight.contains(*id))
            .filter(|id| st.not_before.get(*id).is_none_or(|t| *t <= now))
            .take(self.settings.max_stacks_per_pass.max(1))
            .cloned()
            .collect();
        for id in &batch {
            st.dirty.remove(id);
            st.in_flight.insert(id.clone());
        }
        batch
    }

    /// A worker: reconciles batches until `shutdown` fires (a pass in progress completes).
    pub async fn work(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut zones = ZoneCache::new(self.settings.sync_period);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let notified = self.work.notified();
            let batch = self.take_batch();
            if batch.is_empty() {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
            self.reconcile(&batch, &mut zones)
                .instrument(tracing::info_span!("reconcile", stacks = batch.len()))
                .await;
            {
                let mut st = self.lock();
                for id in &batch {
                    st.in_flight.remove(id);
                }
                self.update_targets_gauge(&st);
            }
            // Targets may have changed while the pass ran.
            self.signals.targets.store(true, Ordering::Release);
            self.signals.notify.notify_one();
        }
    }

    fn fail(&self, id: &str) {
        let mut st = self.lock();
        let n = st.failures.entry(id.to_owned()).or_insert(0);
        *n += 1;
        let exp = (*n).min(10) - 1;
        let delay = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_MAX);
        st.not_before.insert(id.to_owned(), Instant::now() + delay);
        st.dirty.insert(id.to_owned());
    }

    /// One pass over `batch`.
    async fn reconcile(&self, batch: &[String], zones: &mut ZoneCache) {
        let started = Instant::now();
        // Gather under the lock.
        let (mut desired, mut deletes, members, holders, owners) = {
            let st = self.lock();
            let mut desired = Vec::new();
            let mut deletes = BTreeSet::new();
            let mut members: BTreeMap<String, Vec<ObjState>> = BTreeMap::new();
            let mut holders: BTreeMap<String, Vec<(ObjState, String)>> = BTreeMap::new();
            for id in batch {
                for (key, stack) in &st.claims {
                    if stack.to_string() == *id {
                        if let Some(o) = st.objects.get(key) {
                            members.entry(id.clone()).or_default().push(o.clone());
                        }
                    }
                }
                // Objects with errors keep their finalizers (see `State::protected`).
                for o in st
                    .objects
                    .values()
                    .filter(|o| !st.errored.contains(&o.key()))
                {
                    for (f, stack) in o.finalized_stacks() {
                        if stack.to_string() == *id && st.claims.get(&o.key()) != Some(&stack) {
                            holders.entry(id.clone()).or_default().push((o.clone(), f));
                        }
                    }
                }
                if let Some(stack) = st.latest.get(id) {
                    desired.push(stack.clone());
                } else if !members.contains_key(id) && !st.protected.contains(id) {
                    deletes.insert(id.clone());
                }
                // Claimed or held only by objects with errors: left alone.
            }
            (
                desired,
                deletes,
                members,
                holders,
                st.hostname_owners.clone(),
            )
        };

        // Finalizers go on before anything is created in AWS (a dry run writes nothing).
        let mut blocked = BTreeSet::new();
        for stack in desired.iter().filter(|_| !self.settings.dry_run) {
            let id = stack.id.to_string();
            let finalizer = finalizer_for(&stack.id);
            for obj in members.get(&id).into_iter().flatten() {
                if obj.deleting || obj.finalizers.contains(&finalizer) {
                    continue;
                }
                if let Err(e) = self.kube.add_finalizer(obj, &finalizer).await {
                    self.kube
                        .event(
                            obj,
                            true,
                            "FailedAddFinalizers",
                            format!("adding finalizer {finalizer}: {e}"),
                        )
                        .await;
                    blocked.insert(id.clone());
                }
            }
        }
        for id in &blocked {
            self.fail(id);
        }
        desired.retain(|s| !blocked.contains(&s.id.to_string()));
        deletes.retain(|d| !blocked.contains(d));
        if desired.is_empty() && deletes.is_empty() {
            return;
        }

        let opts = PassOptions {
            cluster: self.settings.cluster.clone(),
            vpc_id: self.settings.vpc_id.clone(),
            prune: false,
            dns: self.settings.dns.clone(),
            delete: deletes.clone(),
            hostname_owners: owners,
        };
        let prepared = match prepare_cached(&self.aws, &opts, &desired, zones).await {
            Ok(p) => p,
            Err(e) => {
                for id in desired
                    .iter()
                    .map(|s| s.id.to_string())
                    .chain(deletes.iter().cloned())
                {
                    let objs = members.get(&id).cloned().unwrap_or_default();
                    self.report_failure(&id, &objs, format!("reading AWS failed: {e}"), started)
                        .await;
                }
                return;
            }
        };
        if self.settings.dry_run {
            for c in &prepared.plan.changes {
                tracing::info!(stack = %c.stack, resource = %c.resource, operation = c.operation(), "dry run: would change");
            }
            for u in prepared.dns.iter().flat_map(|d| &d.plan.units) {
                tracing::info!(stack = %u.stack, record = %u.name, r#type = %u.record_type, "dry run: would change DNS record");
            }
            for s in &desired {
                self.metrics.observe_reconcile(
                    kind_label(&s.id.to_string()),
                    "dry-run",
                    started.elapsed(),
                );
            }
            let mut st = self.lock();
            for id in &deletes {
                st.applied.remove(id);
            }
            for s in &desired {
                st.applied.insert(
                    s.id.to_string(),
                    Applied {
                        stack: s.clone(),
                        tg_arns: BTreeMap::new(),
                    },
                );
            }
            return;
        }
        // Leadership is checked again right before writing: a replica that lost the Lease
        // while planning must not write.
        if !self.is_leading() {
            let mut st = self.lock();
            st.dirty.extend(batch.iter().cloned());
            return;
        }
        let report = apply_cached(&self.aws, &prepared, &ExecuteOptions::default(), zones).await;

        // Per-stack outcome.
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        for e in &prepared.plan.errors {
            failed
                .entry(e.stack.clone())
                .or_insert_with(|| e.message.clone());
        }
        let mut changed: BTreeSet<String> = BTreeSet::new();
        for (c, o) in prepared.plan.changes.iter().zip(&report.elb.outcomes) {
            changed.insert(c.stack.clone());
            match o {
                Outcome::Done => self.metrics.count_target_change(&c.op, "full"),
                Outcome::Failed(e) => {
                    failed
                        .entry(c.stack.clone())
                        .or_insert_with(|| format!("{} {}: {e}", c.operation(), c.resource));
                }
                // Not attempted (an earlier change of the stack failed, or its records could
                // not be deleted first): the stack is not in sync.
                Outcome::Skipped { reason } => {
                    failed.entry(c.stack.clone()).or_insert_with(|| {
                        format!("{} {} not attempted: {reason}", c.operation(), c.resource)
                    });
                }
            }
        }
        let dns_plan = prepared.dns.as_ref().map(|d| &d.plan);
        let units = dns_plan.map_or(&[][..], |p| p.units.as_slice());
        let mut dns_done = 0u64;
        let mut dns_failed = 0u64;
        for (u, o) in units.iter().zip(&report.dns) {
            changed.insert(u.stack.clone());
            match o {
                DnsOutcome::Done => dns_done += 1,
                DnsOutcome::Failed(m) => {
                    dns_failed += 1;
                    failed.entry(u.stack.clone()).or_insert_with(|| m.clone());
                }
                DnsOutcome::Skipped => {
                    failed.entry(u.stack.clone()).or_insert_with(|| {
                        format!("DNS record {} {} was not written", u.name, u.record_type)
                    });
                }
            }
        }
        // A cluster-wide failure (the shared backend security group) fails every stack of the
        // pass: their changes after it were not attempted.
        if let Some(message) = failed.remove("") {
            for id in desired
                .iter()
                .map(|s| s.id.to_string())
                .chain(deletes.iter().cloned())
            {
                failed
                    .entry(id)
                    .or_insert_with(|| format!("cluster-wide: {message}"));
            }
        }
        self.metrics.inc(
            "aws_lb_operator_dns_changes_total",
            &[("outcome", "done")],
            dns_done,
        );
        self.metrics.inc(
            "aws_lb_operator_dns_changes_total",
            &[("outcome", "failed")],
            dns_failed,
        );
        let conflicts = dns_plan.map_or(&[][..], |p| p.conflicts.as_slice());

        // Addresses of the load balancers, for status.
        let mut addresses: BTreeMap<String, String> = BTreeMap::new();
        let mut missing = Vec::new();
        for s in &desired {
            let id = s.id.to_string();
            match prepared.observation.stacks.get(&id).and_then(|o| {
                o.load_balancers
                    .iter()
                    .find(|lb| lb.name == s.load_balancer.name)
            }) {
                Some(lb) => {
                    addresses.insert(id, lb.dns_name.clone());
                }
                None => missing.push(s.load_balancer.name.clone()),
            }
        }
        if !missing.is_empty() {
            if let Ok(found) =
                crate::aws::elbv2::load_balancer_addresses(&self.aws.elbv2, &missing).await
            {
                for s in &desired {
                    if let Some(a) = found.get(&s.load_balancer.name) {
                        addresses.insert(s.id.to_string(), a.dns_name.clone());
                    }
                }
            }
        }

        // Each conflict is reported once (per stack, until it goes away), not on every resync.
        let mut new_conflicts: Vec<(ObjState, String)> = Vec::new();
        {
            let mut st = self.lock();
            let mut now: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for c in conflicts {
                let note = format!(
                    "DNS record {} {} left alone: {}",
                    c.name, c.record_type, c.message
                );
                let seen = st
                    .reported_conflicts
                    .get(&c.stack)
                    .is_some_and(|s| s.contains(&note));
                if !seen {
                    if let Some(obj) = st.objects.get(&c.resource) {
                        new_conflicts.push((obj.clone(), note.clone()));
                    }
                }
                now.entry(c.stack.clone()).or_default().insert(note);
            }
            for id in desired
                .iter()
                .map(|s| s.id.to_string())
                .chain(deletes.iter().cloned())
            {
                match now.remove(&id) {
                    Some(notes) => st.reported_conflicts.insert(id, notes),
                    None => st.reported_conflicts.remove(&id),
                };
            }
        }
        for (obj, note) in new_conflicts {
            self.kube.event(&obj, true, "DNSConflict", note).await;
        }

        for s in &desired {
            let id = s.id.to_string();
            let objs = members.get(&id).cloned().unwrap_or_default();
            if let Some(message) = failed.get(&id) {
                self.report_failure(&id, &objs, message.clone(), started)
                    .await;
                continue;
            }
            let tg_arns = self.tg_arns(s, &prepared.observation, &report.elb.created);
            let first = {
                let mut st = self.lock();
                st.failures.remove(&id);
                st.not_before.remove(&id);
                st.applied
                    .insert(
                        id.clone(),
                        Applied {
                            stack: s.clone(),
                            tg_arns,
                        },
                    )
                    .is_none()
            };
            if let Some(host) = addresses.get(&id) {
                for obj in objs.iter().filter(|o| s.objects.contains(&o.key())) {
                    if obj.hostnames != [host.clone()] {
                        if let Err(e) = self.kube.set_hostname(obj, host).await {
                            tracing::warn!(object = %obj.key(), error = %e, "status not updated");
                            self.fail(&id);
                        }
                    }
                }
            }
            if first || changed.contains(&id) {
                for obj in objs.iter().filter(|o| s.objects.contains(&o.key())) {
                    self.kube
                        .event(
                            obj,
                            false,
                            "SuccessfullyReconciled",
                            format!("load balancer {} in sync", s.load_balancer.name),
                        )
                        .await;
                }
            }
            self.release(&id, holders.get(&id)).await;
            self.metrics
                .observe_reconcile(kind_label(&id), "success", started.elapsed());
        }
        for id in &deletes {
            if let Some(message) = failed.get(id) {
                let objs: Vec<ObjState> = holders
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(|(o, _)| o.clone())
                    .collect();
                self.report_failure(id, &objs, format!("deleting: {message}"), started)
                    .await;
                continue;
            }
            {
                let mut st = self.lock();
                st.applied.remove(id);
                st.failures.remove(id);
                st.not_before.remove(id);
            }
            self.release(id, holders.get(id)).await;
            self.metrics
                .observe_reconcile(kind_label(id), "success", started.elapsed());
        }
    }

    /// A failed pass for stack `id`: a warning on each of `objs`, the error metric, backoff.
    async fn report_failure(&self, id: &str, objs: &[ObjState], note: String, started: Instant) {
        for obj in objs {
            self.kube
                .event(obj, true, "FailedDeployModel", note.clone())
                .await;
        }
        self.metrics.inc(
            "aws_lb_operator_reconcile_errors_total",
            &[("kind", kind_label(id)), ("reason", "FailedDeployModel")],
            1,
        );
        self.metrics
            .observe_reconcile(kind_label(id), "error", started.elapsed());
        self.fail(id);
    }

    /// Removes the finalizer of stack `id` from objects that left it (deleted or moved): the
    /// pass that just succeeded no longer routes to them.
    async fn release(&self, id: &str, holders: Option<&Vec<(ObjState, String)>>) {
        for (obj, finalizer) in holders.into_iter().flatten() {
            if let Err(e) = self.kube.remove_finalizer(obj, finalizer).await {
                tracing::warn!(object = %obj.key(), error = %e, "finalizer not removed; retrying");
                self.fail(id);
            }
        }
    }

    fn tg_arns(
        &self,
        stack: &Stack,
        observation: &crate::aws::observe::Observation,
        created: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let id = stack.id.to_string();
        let observed = observation.stacks.get(&id);
        stack
            .target_groups
            .iter()
            .filter_map(|tg| {
                let arn = created
                    .get(&keys::target_group(&id, &tg.id))
                    .cloned()
                    .or_else(|| {
                        observed?
                            .target_groups
                            .iter()
                            .find(|o| o.name == tg.name)
                            .map(|o| o.arn.clone())
                    })?;
                Some((tg.id.clone(), arn))
            })
            .collect()
    }
}
