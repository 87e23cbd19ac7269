//! Scheduling stacks: the scheduler loop, the workers, and the rebuild that feeds them.
//!
//! The reconcile unit is a stack (one IngressGroup, Service or Gateway). After every burst of
//! changes (coalesced over the target batch window) the scheduler rebuilds the desired model
//! from the watch caches and hands it to [`decide`](super::decisions::decide), which says which
//! stacks a pass must visit; those are marked dirty in the [`WorkQueue`]. The rebuild is
//! incremental ([`aws_lb_operator_core::translate::incremental`]): a burst of Service,
//! EndpointSlice and Node changes rebuilds only the stacks that read them; a Gateway API change
//! rebuilds the Gateway stacks; a change of an Ingress, IngressClass, IngressClassParams or
//! Namespace, a watch listing again, the periodic resync and a new leadership term rebuild
//! everything. After each round the Gateway API status is written where it changed
//! ([`super::gateway_status`]). Then:
//! - a worker takes up to `max_stacks_per_pass` dirty stacks and runs one pass over
//!   them together ([`super::pass`]), so they share one AWS discovery read;
//! - a stack whose only change is targets takes the fast path ([`super::fast_path`]).
//!
//! A stack is never in two passes at once; different stacks run concurrently on
//! `concurrency` workers. Failures back off by their [`ErrorClass`](super::queue::ErrorClass)
//! (see [`super::queue`]); invalid objects are reported once and wait for the next change.
//! Every `sync_period` every stack is reconciled again to repair drift. Only the leader
//! reconciles.
//!
//! Restart and resync cost: the region is listed once per term and per resync (the
//! [`RegionCache`] the workers share), and a stack whose load balancer carries the hash of its
//! desired state is passed reading only its targets, except once per sync period, at a
//! phase derived from its id, when it is read in full (`full_reads`): drift of listeners
//! and rules is repaired within one sync period, and the full reads spread over it.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_lb_operator_core::dns::DnsOptions;
use aws_lb_operator_core::model::StackId;
use aws_lb_operator_core::translate::gateway::status::Statuses;
use aws_lb_operator_core::translate::gateway::GatewayObjects;
use aws_lb_operator_core::translate::incremental::{Change, Model, Scope, SharedOutput, Updated};
use aws_lb_operator_core::translate::{hostnames::ingress_hostnames, BuildConfig};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::Instrument;

use super::decisions::{decide, decide_stacks, Applied, Translation, View};
use super::gateway::Kind as GatewayKind;
use super::keys::{ObjectKey, ObjectKind};
use super::kube_io::{KubeIo, ObjState};
use super::metrics::Kind;
use super::metrics::Metrics;
use super::queue::{Backoff, ErrorClass, WorkQueue};
use super::stores::{Signals, Stores};
use crate::aws::observe::RegionCache;
use crate::aws::AwsClients;
use crate::pass::targets::ZoneCache;
use aws_lb_operator_core::planner::trust;

/// Event reason of an object that could not be translated.
const FAILED_BUILD_MODEL: &str = "FailedBuildModel";
/// Event reason of an annotation under LBC's or ExternalDNS's prefixes that is not implemented.
pub const UNSUPPORTED_ANNOTATION: &str = "UnsupportedAnnotation";

/// What a rebuild reports per object: errors (the object is left out) and warnings.
struct Reported {
    errors: BTreeMap<ObjectKey, Vec<String>>,
    warnings: BTreeMap<ObjectKey, Vec<String>>,
}

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
    /// `--disable-restricted-sg-rules`.
    pub unrestricted_sg_rules: bool,
    /// Retry delays of failed stacks (not a flag: the defaults, 1 s doubling to 30 s or
    /// 5 min; tests shorten them).
    pub backoff: Backoff,
    /// How often the API server's discovery is asked again for Gateway API kinds installed
    /// after the start (not a flag: [`GATEWAY_DISCOVERY_PERIOD`]; tests shorten it; zero: never).
    pub gateway_discovery_period: Duration,
}

/// The default [`Settings::gateway_discovery_period`]: a CRD installed while `run` runs is
/// watched within a minute.
pub const GATEWAY_DISCOVERY_PERIOD: Duration = Duration::from_secs(60);

/// What the scheduler and workers share, under one lock.
#[derive(Debug, Default)]
pub(super) struct State {
    /// What the last rebuild decided.
    pub view: View,
    /// What passes applied, per stack.
    pub applied: BTreeMap<StackId, Applied>,
    /// Dirty, in-flight and backed-off stacks.
    pub queue: WorkQueue<StackId>,
    /// Build errors already reported, per object.
    pub reported_errors: BTreeMap<ObjectKey, Vec<String>>,
    /// Warnings last reported per object (unimplemented annotations), to event only changes.
    pub reported_warnings: BTreeMap<ObjectKey, Vec<String>>,
    /// DNS conflicts already reported, per stack.
    pub reported_conflicts: BTreeMap<StackId, BTreeSet<String>>,
    /// When each stack was last read in full, as time since the reconciler started.
    pub full_reads: BTreeMap<StackId, Duration>,
    /// When this term began (time since the reconciler started): the last full read of a
    /// stack not read in full since.
    pub term_start: Duration,
    /// The Gateway API status the last rebuild computed.
    pub gateway_status: Statuses,
    /// The DNS names of the Gateway stacks' load balancers, as passes found them.
    pub gateway_addresses: BTreeMap<StackId, String>,
    /// The Gateway API status must be compared again (it changed, an address changed, a new
    /// term began, or a write failed).
    pub gateway_status_due: bool,
    /// Each stack's phase in the sync period (`trust::full_read_phase`, a hash of its id),
    /// computed once rather than on every round of the scheduler.
    phases: HashMap<StackId, Duration>,
    leading: bool,
}

/// Everything the scheduler and workers share.
pub struct Reconciler {
    pub(super) settings: Settings,
    stores: Stores,
    signals: Arc<Signals>,
    pub(super) aws: AwsClients,
    pub(super) kube: KubeIo,
    pub(super) metrics: Arc<Metrics>,
    state: Mutex<State>,
    /// The translation as of the last rebuild (only the scheduler rebuilds).
    model: Mutex<Option<Model>>,
    work: Notify,
    leader: watch::Receiver<bool>,
    /// The region listing the workers share, listed once per term and per resync.
    pub(super) region: tokio::sync::Mutex<RegionCache>,
    /// Set by the scheduler (which never waits for a listing in progress): the workers drop a
    /// listing made before this instant before their next pass.
    region_stale: Mutex<Option<Instant>>,
    /// When the reconciler started (the clock of `full_reads`).
    epoch: Instant,
    /// Counts the passes that changed Route53 records. Each worker keeps its own zone cache;
    /// one that did not see every change (another worker made one since its last pass) reads
    /// the zones again: a change that keeps a zone's record count (a hostname renamed) is
    /// otherwise invisible to the cache, and a later pass would plan on records that are gone.
    dns_changes: std::sync::atomic::AtomicU64,
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
        let state = State {
            queue: WorkQueue::new(settings.backoff),
            ..State::default()
        };
        Arc::new(Self {
            settings,
            stores,
            signals,
            aws,
            kube,
            metrics,
            state: Mutex::new(state),
            model: Mutex::new(None),
            work: Notify::new(),
            leader,
            region: tokio::sync::Mutex::new(RegionCache::new()),
            region_stale: Mutex::new(None),
            epoch: Instant::now(),
            dns_changes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// A listing of the region made before `t` is not to be used any more.
    fn region_stale_since(&self, t: Instant) {
        let mut stale = self
            .region_stale
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *stale = Some(stale.map_or(t, |s| s.max(t)));
    }

    /// Applies a pending [`Self::region_stale_since`] to the shared listing (before a pass).
    pub(super) async fn drop_stale_listing(&self) {
        let stale = self
            .region_stale
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = stale {
            self.region.lock().await.invalidate_before(t);
        }
    }

    /// Time since the reconciler started.
    pub(super) fn clock(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// True when `id` must be read in full now (its phase in the sync period has come since
    /// its last full read).
    pub(super) fn full_read_due(&self, st: &State, id: &StackId, now: Duration) -> bool {
        let period = self.settings.sync_period;
        let phase = st
            .phases
            .get(id)
            .copied()
            .unwrap_or_else(|| trust::full_read_phase(&id.to_string(), period));
        let last = st.full_reads.get(id).copied().unwrap_or(st.term_start);
        trust::full_read_due(phase, period, last, now)
    }

    /// Marks dirty every stack whose full read is due; returns when the next one falls due.
    fn queue_full_reads(&self) -> Option<Instant> {
        let now = self.clock();
        let period = self.settings.sync_period;
        let mut st = self.lock();
        let st = &mut *st;
        let mut due = Vec::new();
        let mut next: Option<Duration> = None;
        if st.phases.len() > st.view.stacks.len() {
            let stacks = &st.view.stacks;
            st.phases.retain(|id, _| stacks.contains_key(id));
        }
        for id in st.view.stacks.keys() {
            let phase = match st.phases.get(id) {
                Some(p) => *p,
                None => {
                    let p = trust::full_read_phase(&id.to_string(), period);
                    st.phases.insert(id.clone(), p);
                    p
                }
            };
            let last = st.full_reads.get(id).copied().unwrap_or(st.term_start);
            if trust::full_read_due(phase, period, last, now) {
                due.push(id.clone());
            } else {
                let at = trust::next_full_read(phase, period, last);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        st.queue.add_all(due);
        next.map(|n| self.epoch + n)
    }

    /// The watch caches.
    pub(super) fn stores(&self) -> &Stores {
        &self.stores
    }

    /// What the watches recorded.
    pub(super) fn signals(&self) -> &Signals {
        &self.signals
    }

    /// True while this replica leads (read at every write phase, not cached).
    pub(super) fn is_leading(&self) -> bool {
        *self.leader.borrow()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pass of a worker whose zone cache reflected `seen` DNS-changing passes changed
    /// records: counted, and `seen` says whether the worker's cache still reflects every
    /// change (not when another worker changed records meanwhile).
    pub(super) fn dns_changed(&self, seen: &mut u64) {
        let before = self.dns_changes.fetch_add(1, Ordering::AcqRel);
        *seen = if before == *seen {
            before + 1
        } else {
            u64::MAX
        };
    }

    /// Stack `id` failed with `class`: it backs off (or waits for a change).
    pub(super) fn fail(&self, id: &StackId, class: ErrorClass) {
        self.lock().queue.failed(id, class, Instant::now());
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
            let (became_leader, lost_lead) = {
                let mut st = self.lock();
                let changed = st.leading != leading;
                st.leading = leading;
                (changed && leading, changed && !leading)
            };
            if lost_lead {
                // The next term lists the region afresh (a listing made while leading, by a
                // worker that started before this loop saw the new term, is kept).
                self.region_stale_since(Instant::now());
            }
            if became_leader {
                // A new term: nothing we remember about AWS can be trusted but the hashes on
                // the load balancers (full reads follow, spread over the sync period).
                let now = self.clock();
                let mut st = self.lock();
                st.applied.clear();
                st.full_reads.clear();
                st.term_start = now;
                st.gateway_status_due = true;
                let all: Vec<StackId> = st.view.stacks.keys().cloned().collect();
                st.queue.add_all(all);
            }
            let taken = self.signals.take();
            let resync = Instant::now() >= next_resync;
            if resync {
                let began = Instant::now();
                next_resync = began + self.settings.sync_period;
                self.region_stale_since(began);
                let mut st = self.lock();
                let all: Vec<StackId> = st.view.stacks.keys().cloned().collect();
                st.queue.add_all(all);
                st.queue.unpark_all();
            }
            if taken.full || became_leader || resync {
                self.rebuild(None).await;
            } else if taken.targets || !taken.changes.is_empty() {
                self.rebuild(Some(&taken.changes)).await;
            }
            let next_full_read = if leading {
                self.queue_full_reads()
            } else {
                None
            };
            if leading && !self.settings.dry_run {
                self.send_target_updates().await;
            }
            self.write_gateway_status()
                .instrument(tracing::info_span!("gateway_status"))
                .await;
            let wake = {
                let st = self.lock();
                let depth = i64::try_from(st.queue.len()).unwrap_or(i64::MAX);
                self.metrics.queue_depth.set(depth);
                st.queue
                    .next_wake(Instant::now())
                    .unwrap_or(next_resync)
                    .min(next_resync)
                    .min(next_full_read.unwrap_or(next_resync))
            };
            self.work.notify_waiters();
            tokio::select! {
                () = self.signals.notify.notified() => {
                    // Coalesce a burst (a rollout, a resync of the watch) into one rebuild.
                    tokio::time::sleep(self.settings.target_batch_window).await;
                }
                () = tokio::time::sleep_until(wake) => {}
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

    /// Brings the translation up to date with `changes` (`None`: everything), rebuilding only
    /// the stacks they touch when that gives what a full rebuild gives (see
    /// [`Model::scope`]). Returns what a partial rebuild changed (possibly nothing), `None`
    /// after a full one.
    fn update_model(&self, changes: Option<&BTreeSet<Change>>) -> Option<Updated> {
        let mut model = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        let scope = match (changes, model.as_ref()) {
            (Some(changes), Some(m)) => m.scope(changes),
            _ => Scope::Full,
        };
        let updated = match (scope, model.as_mut()) {
            (Scope::Partial(partial), Some(m)) => {
                let span = tracing::info_span!("build", stacks = partial.units.len());
                span.in_scope(|| {
                    if partial.is_empty() {
                        return Some(Updated::default());
                    }
                    // The Gateway API objects are read from the caches only when the Gateway
                    // unit is rebuilt.
                    let gateways = if partial.gateways {
                        self.stores.gateway.objects()
                    } else {
                        GatewayObjects::default()
                    };
                    let snapshot = self.stores.snapshot_of(&partial, &gateways);
                    match m.update_with(&snapshot, &gateways, &partial) {
                        Ok(updated) => Some(updated),
                        Err(e) => {
                            tracing::warn!(error = %e, "incremental rebuild refused; rebuilding everything");
                            None
                        }
                    }
                })
            }
            _ => None,
        };
        if updated.is_none() {
            let gateways = self.stores.gateway.objects();
            let snapshot = self.stores.snapshot(&self.settings.build, &gateways);
            let built = tracing::info_span!("build", stacks = "all").in_scope(|| {
                Model::full_after(&snapshot, &gateways, &self.settings.build, model.as_ref())
            });
            drop(snapshot);
            *model = Some(built);
        }
        updated
    }

    /// The whole translation, stacks shared with the model, and the Gateway API status.
    fn output(&self) -> (SharedOutput, Statuses) {
        self.model
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|m| (m.shared_output(), m.gateway_status()))
            .unwrap_or_default()
    }

    /// Gathers what the translation made of the caches, with typed keys.
    fn translate(&self, out: SharedOutput) -> (Translation, Reported) {
        let mut errors: BTreeMap<ObjectKey, Vec<String>> = BTreeMap::new();
        for e in &out.errors {
            errors
                .entry(ObjectKey::of_ref(e.object()))
                .or_default()
                .push(e.to_string());
        }
        let mut warnings: BTreeMap<ObjectKey, Vec<String>> = BTreeMap::new();
        for w in &out.warnings {
            warnings
                .entry(ObjectKey::of_ref(&w.object))
                .or_default()
                .push(w.to_string());
        }
        let errored: BTreeSet<ObjectKey> = errors.keys().cloned().collect();
        let held_hosts = errored
            .iter()
            .filter(|k| k.kind == ObjectKind::Ingress)
            .filter_map(|k| {
                let ingress = self.stores.ingress(&k.namespace, &k.name)?;
                Some((k.clone(), ingress_hostnames(&ingress)))
            })
            .collect();
        let claims = out
            .claims
            .into_iter()
            .filter_map(|(key, stack)| Some((ObjectKey::parse(&key)?, stack)))
            .collect();
        let translation = Translation {
            stacks: out.stacks,
            claims,
            errored,
            held_hosts,
        };
        (translation, Reported { errors, warnings })
    }

    /// The Ingresses, Services and Gateways that can be ours.
    fn objects(&self) -> BTreeMap<ObjectKey, ObjState> {
        let mut objects = BTreeMap::new();
        for i in self.stores.ingresses() {
            let o = ObjState::ingress(&i);
            objects.insert(ObjectKey::of(&o), o);
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
            objects.insert(ObjectKey::of(&o), o);
        }
        for g in self.stores.gateway.list(GatewayKind::Gateway) {
            let o = ObjState::gateway(&g);
            objects.insert(ObjectKey::of(&o), o);
        }
        objects
    }

    /// Rebuilds the model (`changes`: only what they touch; `None`: everything), decides what
    /// changed, and marks it dirty.
    async fn rebuild(&self, changes: Option<&BTreeSet<Change>>) {
        let updated = self.update_model(changes);
        // Only EndpointSlices and Nodes changed, and of the output only stacks (each keeping
        // its id): the objects, claims, errors and warnings are those the last decision saw,
        // so only the changed stacks are decided again (`decide_stacks`), not all of them.
        let stacks_only = changes.is_some_and(|c| {
            c.iter()
                .all(|c| matches!(c, Change::EndpointSlices { .. } | Change::Node(_)))
        });
        if let Some(u) = updated.filter(|u| stacks_only && !u.rest_changed) {
            let mut st = self.lock();
            let st = &mut *st;
            let decided = tracing::info_span!("decide", stacks = u.stacks.len())
                .in_scope(|| decide_stacks(&mut st.view, &st.applied, &u.stacks));
            if let Some((dirty, retry_now)) = decided {
                self.retry_now(&mut st.queue, &retry_now);
                st.queue.add_all(dirty);
                return;
            }
        }
        let (out, statuses) = self.output();
        let (translation, Reported { errors, warnings }) = self.translate(out);
        let objects = self.objects();
        let mut events = Vec::new();
        let mut gateway_events = Vec::new();
        {
            let mut st = self.lock();
            if st.gateway_status != statuses {
                st.gateway_status = statuses;
                st.gateway_status_due = true;
            }
            for (key, messages) in &warnings {
                if st.reported_warnings.get(key) != Some(messages) {
                    if let Some(obj) = objects.get(key) {
                        for m in messages {
                            events.push((obj.clone(), UNSUPPORTED_ANNOTATION, m.clone()));
                        }
                    }
                }
            }
            st.reported_warnings = warnings;
            for (key, messages) in &errors {
                if st.reported_errors.get(key) != Some(messages) {
                    if let Some(obj) = objects.get(key) {
                        events.push((obj.clone(), FAILED_BUILD_MODEL, messages.join("; ")));
                    } else if let Some(reference) = GatewayKind::of_error_kind(key.kind.as_str())
                        .and_then(|k| self.stores.gateway.reference(k, &key.namespace, &key.name))
                    {
                        gateway_events.push((reference, key.to_string(), messages.join("; ")));
                    }
                    if let Some(kind) = Kind::of_object(key.kind) {
                        self.metrics.reconcile_error(kind, "FailedBuildModel");
                    }
                }
            }
            st.reported_errors = errors;
            let rebuilt = tracing::info_span!("decide").in_scope(|| {
                decide(
                    &st.view.stacks,
                    &st.applied,
                    translation,
                    objects,
                    self.settings.dry_run,
                )
            });
            self.retry_now(&mut st.queue, &rebuilt.retry_now);
            st.queue.add_all(rebuilt.dirty);
            st.view = rebuilt.view;
        }
        for (obj, reason, note) in events {
            self.kube.event(&obj, true, reason, note).await;
        }
        for (reference, key, note) in gateway_events {
            self.kube
                .gateway_event(&reference, &key, FAILED_BUILD_MODEL, note)
                .await;
        }
    }

    /// The objects of `ids` changed: any backoff is cancelled.
    fn retry_now(&self, queue: &mut WorkQueue<StackId>, ids: &BTreeSet<StackId>) {
        for id in ids {
            if queue.failures(id) > 0 {
                tracing::info!(stack = %id, "its objects changed: retried at once, backoff cancelled");
            }
            queue.retry_now(id);
        }
    }

    pub(super) fn update_targets_gauge(&self, st: &State) {
        let n: usize = st
            .applied
            .values()
            .flat_map(|a| &a.stack.target_groups)
            .map(|t| t.targets.len())
            .sum();
        self.metrics
            .targets
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Takes the next batch of dirty stacks this worker may reconcile.
    fn take_batch(&self) -> Vec<StackId> {
        if !self.is_leading() {
            return Vec::new();
        }
        self.lock()
            .queue
            .take(Instant::now(), self.settings.max_stacks_per_pass)
    }

    /// A worker: reconciles batches until `shutdown` fires (a pass in progress completes).
    pub async fn work(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut zones = ZoneCache::new(self.settings.sync_period);
        // The count of DNS-changing passes this worker's zone cache reflects.
        let mut seen = self.dns_changes.load(Ordering::Acquire);
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
            let now = self.dns_changes.load(Ordering::Acquire);
            if now != seen {
                zones = ZoneCache::new(self.settings.sync_period);
                seen = now;
            }
            self.run_pass(&batch, &mut zones, &mut seen)
                .instrument(tracing::info_span!("reconcile", stacks = batch.len()))
                .await;
            {
                let mut st = self.lock();
                for id in &batch {
                    st.queue.finish(id);
                }
                self.update_targets_gauge(&st);
            }
            // Targets may have changed while the pass ran.
            self.signals.targets.store(true, Ordering::Release);
            self.signals.notify.notify_one();
        }
    }
}
