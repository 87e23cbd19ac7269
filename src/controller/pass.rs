//! One worker's pass over a batch of stacks: gather the batch's decisions
//! ([`plan_batch`]), add finalizers, run the pass of [`crate::pass`] (observe, plan,
//! execute), then classify its outcome per stack ([`classify`]) and report it: status
//! addresses, Events, metrics, backoff, and the release of finalizers after success.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lb_operator_core::model::{Stack, StackId, StackKind};
use aws_lb_operator_core::planner::keys;
use tokio::time::Instant;

use super::decisions::{needs_another_pass, plan_batch, Applied};
use super::keys::ObjectKey;
use super::kube_io::{ObjKind, ObjState};
use super::metrics::{DnsOutcome as DnsMetric, Kind, ReconcileResult, TargetPath};
use super::queue::ErrorClass;
use super::reconciler::Reconciler;
use super::report::{class_of_pass, classify, new_conflicts, unaddressed};
use crate::pass::targets::{
    load_balancer_addresses, ExecuteOptions, Observation, Outcome, ZoneCache,
};
use crate::pass::{apply_with, prepare_with, PassOptions, Reuse};

/// Target group id → ARN of `stack` after a pass: created in it, or observed before it.
fn tg_arns(
    stack: &Stack,
    observation: &Observation,
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

impl Reconciler {
    /// One pass over `ids`.
    pub(super) async fn run_pass(&self, ids: &[StackId], zones: &mut ZoneCache, seen: &mut u64) {
        let started = Instant::now();
        let dry_run = self.settings.dry_run;
        let (batch, owners) = {
            let st = self.lock();
            (
                plan_batch(&st.view, ids, dry_run),
                st.view.hostname_owners.clone(),
            )
        };

        // Finalizers go on before anything is created in AWS (a dry run writes nothing).
        let mut blocked = BTreeSet::new();
        for (id, obj, finalizer) in &batch.add_finalizers {
            if let Err(e) = self.kube.add_finalizer(obj, finalizer).await {
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
        for id in &blocked {
            self.fail(id, ErrorClass::Other);
        }
        let batch = batch.without(&blocked);
        if batch.is_empty() {
            return;
        }
        let covered: Vec<StackId> = batch.stacks().cloned().collect();
        let no_objects = Vec::new();
        let members_of = |id: &StackId| batch.members.get(id).unwrap_or(&no_objects);

        let opts = PassOptions {
            cluster: self.settings.cluster.clone(),
            vpc_id: self.settings.vpc_id.clone(),
            prune: false,
            dns: self.settings.dns.clone(),
            delete: batch.deletes.iter().map(ToString::to_string).collect(),
            hostname_owners: owners,
            external_managed_tags: self.settings.build.external_managed_tags.clone(),
            unrestricted_sg_rules: self.settings.unrestricted_sg_rules,
        };
        // Stacks not due for their full read trust the desired-state hash on their load
        // balancer (when it matches): only their targets are read.
        let clock = self.clock();
        let trusted: BTreeSet<String> = {
            let st = self.lock();
            batch
                .desired
                .iter()
                .filter(|s| !self.full_read_due(&st, &s.id, clock))
                .map(|s| s.id.to_string())
                .collect()
        };
        self.drop_stale_listing().await;
        let reuse = Reuse {
            region: Some(&self.region),
            trust: Some(&trusted),
        };
        // The pass API plans owned stacks: a copy of this batch's, for the pass only.
        let desired: Vec<Stack> = batch.desired.iter().map(|s| Stack::clone(s)).collect();
        let prepared = match prepare_with(&self.aws, &opts, &desired, zones, reuse).await {
            Ok(p) => p,
            Err(e) => {
                let class = class_of_pass(&e);
                for id in &covered {
                    self.report_failure(
                        id,
                        members_of(id),
                        format!("reading AWS failed: {e}"),
                        class,
                        started,
                    )
                    .await;
                }
                return;
            }
        };
        if dry_run {
            for c in &prepared.plan.changes {
                tracing::info!(stack = %c.stack, resource = %c.resource, operation = c.operation(), "dry run: would change");
            }
            for u in prepared.dns.iter().flat_map(|d| &d.plan.units) {
                tracing::info!(stack = %u.stack, record = %u.name, r#type = %u.record_type, "dry run: would change DNS record");
            }
            for s in &batch.desired {
                self.metrics.reconciled(
                    Kind::from(s.id.kind),
                    ReconcileResult::DryRun,
                    started.elapsed(),
                );
            }
            let mut st = self.lock();
            for id in &batch.deletes {
                st.applied.remove(id);
            }
            for s in &batch.desired {
                st.applied.insert(
                    s.id.clone(),
                    Applied {
                        stack: Arc::clone(s),
                        tg_arns: BTreeMap::new(),
                    },
                );
            }
            return;
        }
        // Leadership is checked again right before writing: a replica that lost the Lease
        // while planning must not write.
        if !self.is_leading() {
            self.lock().queue.add_all(ids.iter().cloned());
            return;
        }
        let report = apply_with(
            &self.aws,
            &prepared,
            &ExecuteOptions::default(),
            zones,
            Some(&self.region),
        )
        .await;

        for (c, o) in prepared.plan.changes.iter().zip(&report.elb.outcomes) {
            if matches!(o, Outcome::Done) {
                self.metrics.count_targets(&c.op, TargetPath::Full);
            }
        }
        let dns_plan = prepared.dns.as_ref().map(|d| &d.plan);
        let units = dns_plan.map_or(&[][..], |p| p.units.as_slice());
        let mut outcome = classify(
            &prepared.plan,
            &report.elb.outcomes,
            &report.elb.repairs,
            units,
            &report.dns,
            &covered,
        );
        self.metrics.dns_changes(DnsMetric::Done, outcome.dns_done);
        if outcome.dns_done > 0 || outcome.dns_failed > 0 {
            // The other workers' zone caches read the zones again before their next pass.
            self.dns_changed(seen);
        }
        self.metrics
            .dns_changes(DnsMetric::Failed, outcome.dns_failed);

        // Addresses of the load balancers, for status.
        let mut addresses: BTreeMap<StackId, String> = BTreeMap::new();
        let mut missing = Vec::new();
        for s in &batch.desired {
            match prepared
                .observation
                .stacks
                .get(&s.id.to_string())
                .and_then(|o| {
                    o.load_balancers
                        .iter()
                        .find(|lb| lb.name == s.load_balancer.name)
                }) {
                Some(lb) => {
                    addresses.insert(s.id.clone(), lb.dns_name.clone());
                }
                None => missing.push(s.load_balancer.name.clone()),
            }
        }
        let mut lookup_error = None;
        if !missing.is_empty() {
            match load_balancer_addresses(&self.aws, &missing).await {
                Ok(found) => {
                    for s in &batch.desired {
                        if let Some(a) = found.get(&s.load_balancer.name) {
                            addresses.insert(s.id.clone(), a.dns_name.clone());
                        }
                    }
                }
                Err(e) => lookup_error = Some(e),
            }
        }
        // A stack without an address has no status yet: not in sync, retried (before, it
        // counted as a success and waited for the next resync).
        let desired = batch
            .desired
            .iter()
            .map(|s| (&s.id, s.load_balancer.name.as_str()));
        for (id, failure) in unaddressed(desired, &addresses, lookup_error.as_ref()) {
            outcome.failed.entry(id).or_insert(failure);
        }

        // Each conflict is reported once (per stack, until it goes away), not on every resync.
        let conflicts = dns_plan.map_or(&[][..], |p| p.conflicts.as_slice());
        let fresh = {
            let mut st = self.lock();
            let st = &mut *st;
            new_conflicts(
                conflicts,
                &covered,
                &st.view.objects,
                &mut st.reported_conflicts,
            )
        };
        for (obj, note) in fresh {
            self.kube.event(&obj, true, "DNSConflict", note).await;
        }

        for s in &batch.desired {
            let id = &s.id;
            let objs = members_of(id);
            if let Some(f) = outcome.failed.get(id) {
                self.report_failure(id, objs, f.message.clone(), f.class, started)
                    .await;
                continue;
            }
            let tg_arns = tg_arns(s, &prepared.observation, &report.elb.created);
            let first = {
                let mut st = self.lock();
                st.queue.succeeded(id);
                // Marked dirty during the pass for what it just applied (its first pass, while
                // the finalizer it added came back through the watch): no second pass.
                if !needs_another_pass(&st.view, id, s) {
                    st.queue.clean(id);
                }
                if prepared
                    .observation
                    .stacks
                    .get(&id.to_string())
                    .is_some_and(|o| !o.trusted)
                {
                    st.full_reads.insert(id.clone(), clock);
                }
                st.applied
                    .insert(
                        id.clone(),
                        Applied {
                            stack: Arc::clone(s),
                            tg_arns,
                        },
                    )
                    .is_none()
            };
            let in_stack = |o: &&ObjState| s.objects.contains(&ObjectKey::of(o).to_string());
            if let Some(host) = addresses.get(id) {
                if matches!(id.kind, StackKind::Gateway | StackKind::NlbGateway) {
                    // A Gateway's address is part of the status the Gateway status writer
                    // writes (super::gateway_status), not `status.loadBalancer`.
                    let mut st = self.lock();
                    if st.gateway_addresses.get(id) != Some(host) {
                        st.gateway_addresses.insert(id.clone(), host.clone());
                        st.gateway_status_due = true;
                    }
                }
                for obj in objs
                    .iter()
                    .filter(in_stack)
                    .filter(|o| o.kind != ObjKind::Gateway)
                {
                    if obj.hostnames != [host.clone()] {
                        if let Err(e) = self.kube.set_hostname(obj, host).await {
                            tracing::warn!(object = %ObjectKey::of(obj), error = %e, "status not updated");
                            self.fail(id, ErrorClass::Other);
                        }
                    }
                }
            }
            if first || outcome.changed.contains(id) {
                for obj in objs.iter().filter(in_stack) {
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
            self.release(id, batch.release.get(id)).await;
            self.metrics.reconciled(
                Kind::from(id.kind),
                ReconcileResult::Success,
                started.elapsed(),
            );
        }
        for id in &batch.deletes {
            if let Some(f) = outcome.failed.get(id) {
                let objs: Vec<ObjState> = batch
                    .release
                    .get(id)
                    .into_iter()
                    .flatten()
                    .map(|(o, _)| o.clone())
                    .collect();
                self.report_failure(
                    id,
                    &objs,
                    format!("deleting: {}", f.message),
                    f.class,
                    started,
                )
                .await;
                continue;
            }
            {
                let mut st = self.lock();
                st.applied.remove(id);
                st.gateway_addresses.remove(id);
                st.queue.succeeded(id);
            }
            self.release(id, batch.release.get(id)).await;
            self.metrics.reconciled(
                Kind::from(id.kind),
                ReconcileResult::Success,
                started.elapsed(),
            );
        }
    }
}
