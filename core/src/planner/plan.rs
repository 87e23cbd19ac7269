//! The planner: desired stacks + observed state → ordered changes.
//!
//! This file holds the entry point ([`plan`]) and the per-stack driver ([`StackPlanner`]:
//! what can fail is checked first, then each kind of resource in dependency order); the
//! decisions for each kind of resource live in one submodule each: `security_groups`,
//! `target_groups`, `load_balancer`, `listeners`, `rules`, `targets`.
use std::collections::{BTreeMap, BTreeSet};

use super::canon;
use super::change::{
    keys, Change, ChangeKind, ListenerSettings, NewLoadBalancer, NewTargetGroup, Op, Ref,
};
use super::observed::{
    ObservedListener, ObservedLoadBalancer, ObservedRule, ObservedSecurityGroup,
    ObservedTargetGroup, SgPermission, SgSource,
};
use super::{
    ClusterFacts, Plan, Scope, StackError, StackInput, BACKEND_SG_DESCRIPTION, BACKEND_SG_RESOURCE,
    CLUSTER_RESOURCE_TAG, FRONTEND_SG_DESCRIPTION, FRONTEND_SG_RESOURCE, MAX_RULE_PRIORITY,
    REGISTER_BATCH, SHIELD_MANAGED_NAMES, SHIELD_PROTECTION_NAME, TARGET_RULE_DESCRIPTION,
};
use crate::discovery::Tags;
use crate::model::{
    tags, ActionSpec, ListenerSpec, LoadBalancerSpec, Protocol, RuleSpec, Stack, StackKind,
    TargetGroupRef, TargetGroupSpec, TargetSpec, WebAcl,
};

mod listeners;
mod load_balancer;
mod rules;
mod security_groups;
mod target_groups;
mod targets;

use security_groups::{backend_tags, Backend};
use target_groups::{Resolver, TgMatch};
pub use targets::target_changes;

/// Plans every stack of one pass against what was observed.
///
/// Cluster-wide changes (the shared backend security group and the permissions it needs on
/// the target security groups) come first and last; each stack's changes sit in between, in
/// dependency order. A stack that cannot be planned (a name held by a foreign resource, no
/// subnets) is reported in [`Plan::errors`] and contributes no change; the others proceed.
#[must_use]
pub fn plan(cluster: &ClusterFacts, stacks: &[StackInput<'_>]) -> Plan {
    let mut out = Plan::default();
    // Stacks are planned first so the backend decision knows which of them failed; the
    // cluster-wide creates still run before them.
    let provisional = match &cluster.backend_sg {
        Some(sg) => Ref::Existing(sg.id.clone()),
        None => Ref::New(keys::BACKEND_SG.to_owned()),
    };
    let mut stack_changes = Vec::new();
    let mut failed = BTreeSet::new();
    for input in stacks {
        let stack = input.id.to_string();
        match StackPlanner::new(cluster, input, Some(provisional.clone())).plan() {
            Ok(changes) => stack_changes.extend(changes),
            Err(message) => {
                failed.insert(stack.clone());
                out.errors.push(StackError { stack, message });
            }
        }
    }
    let backend = Backend::decide(cluster, stacks, &failed);

    // Cluster-wide, first: the backend security group and the target-group ports it may reach.
    let mut backend_ref = backend.needed.then_some(provisional);
    if backend.needed && cluster.backend_sg.is_none() {
        if let Some(id) = cluster
            .foreign
            .security_groups
            .get(&cluster.backend_sg_name)
        {
            out.errors.push(StackError {
                stack: Scope::Cluster.to_string(),
                message: format!(
                    "security group name {} is already used by {id}, which this cluster does \
                     not own (no {}={} tag); the shared backend security group cannot be created",
                    cluster.backend_sg_name,
                    tags::CLUSTER,
                    cluster.cluster
                ),
            });
            // Nothing that would reference the missing group can run.
            stack_changes.clear();
            backend_ref = None;
        } else {
            out.changes.push(Change {
                stack: Scope::Cluster.to_string(),
                resource: format!("backend security group {}", cluster.backend_sg_name),
                kind: ChangeKind::Create,
                reason: None,
                op: Op::CreateSecurityGroup {
                    key: keys::BACKEND_SG.to_owned(),
                    name: cluster.backend_sg_name.clone(),
                    description: BACKEND_SG_DESCRIPTION.to_owned(),
                    vpc_id: cluster.vpc_id.clone(),
                    tags: backend_tags(&cluster.cluster),
                },
            });
        }
    }
    let (authorize, revoke) = backend.target_rules(cluster, backend_ref.as_ref());
    out.changes.extend(authorize);
    out.changes.extend(stack_changes);

    // Cluster-wide, last: permissions no longer needed, then the backend group itself.
    out.changes.extend(revoke);
    if !backend.needed {
        if let Some(sg) = &cluster.backend_sg {
            out.changes.push(Change {
                stack: Scope::Cluster.to_string(),
                resource: format!("backend security group {}", sg.name),
                kind: ChangeKind::Delete,
                reason: Some("no load balancer of the cluster uses it any more".to_owned()),
                op: Op::DeleteSecurityGroup {
                    group: sg.id.clone(),
                },
            });
        }
    }
    out.errors.sort();
    out
}

/// The consequence of a changed address of an NLB, for the replacement's reason.
const ADDRESSES_CANNOT_CHANGE: &str = "the addresses of a Network Load Balancer's subnets \
    cannot be modified, so it is replaced and gets a new DNS name (the old one is deleted first, \
    releasing its addresses)";

/// Why an existing Network Load Balancer must be replaced for its subnet mappings' addresses:
/// its Elastic IPs differ from `aws-load-balancer-eip-allocations` (compared as sets; removing
/// the annotation counts), or the annotation `aws-load-balancer-private-ipv4-addresses` names
/// addresses it does not have. A subnet's Elastic IP or private address cannot be changed in
/// place (SetSubnets keeps an existing subnet's mapping). Nothing is compared when AWS did not
/// report the addresses.
fn addresses_replace_reason(spec: &LoadBalancerSpec, lb: &ObservedLoadBalancer) -> Option<String> {
    let observed = lb.addresses.as_ref()?;
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let shown = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let eips = sorted(&spec.eip_allocations);
    if eips != observed.eip_allocations {
        return Some(format!(
            "Elastic IP allocations (aws-load-balancer-eip-allocations) changed from {} to {}: \
             {ADDRESSES_CANNOT_CHANGE}",
            shown(&observed.eip_allocations),
            shown(&eips)
        ));
    }
    let private = sorted(&spec.private_ipv4_addresses);
    if !private.is_empty() && private != observed.private_ipv4_addresses {
        return Some(format!(
            "private IPv4 addresses (aws-load-balancer-private-ipv4-addresses) changed from {} to \
             {}: {ADDRESSES_CANNOT_CHANGE}",
            shown(&observed.private_ipv4_addresses),
            shown(&private)
        ));
    }
    None
}

/// How much hangs on `lb`: its listeners, their rules, and the stack's target groups that
/// route from it.
fn attachments(lb: &ObservedLoadBalancer, tgs: &[ObservedTargetGroup]) -> usize {
    let rules: usize = lb.listeners.iter().map(|l| l.rules.len()).sum();
    let tgs = tgs
        .iter()
        .filter(|t| t.load_balancer_arns.contains(&lb.arn))
        .count();
    lb.listeners.len() + rules + tgs
}

/// Which of two listeners on one port to keep (lower first): the one with the wanted
/// protocol, then the one with more rules, then the smaller ARN.
fn listener_rank<'l>(
    l: &'l ObservedListener,
    want: Option<&ListenerSpec>,
) -> (bool, std::cmp::Reverse<usize>, &'l str) {
    let protocol_differs =
        want.is_some_and(|w| !w.protocol.as_str().eq_ignore_ascii_case(&l.protocol));
    (
        protocol_differs,
        std::cmp::Reverse(l.rules.len()),
        l.arn.as_str(),
    )
}

fn resource_tag(kind: StackKind, t: &Tags) -> Option<&str> {
    t.get(kind.resource_tag()).map(String::as_str)
}

/// Plans one stack. Changes go to `now` (creates and modifications, in dependency order) or
/// `later` (deletes, in reverse dependency order, appended at the end).
struct StackPlanner<'a> {
    cluster: &'a ClusterFacts,
    input: &'a StackInput<'a>,
    stack: String,
    backend: Option<Ref>,
    now: Vec<Change>,
    /// Deletes, by phase: 0 rules, 1 listeners, 2 load balancers, 3 target groups, 4 security groups.
    later: [Vec<Change>; 5],
}

const DEL_RULES: usize = 0;
const DEL_LISTENERS: usize = 1;
const DEL_LBS: usize = 2;
const DEL_TGS: usize = 3;
const DEL_SGS: usize = 4;

impl<'a> StackPlanner<'a> {
    fn new(cluster: &'a ClusterFacts, input: &'a StackInput<'a>, backend: Option<Ref>) -> Self {
        Self {
            cluster,
            input,
            stack: input.id.to_string(),
            backend,
            now: Vec::new(),
            later: Default::default(),
        }
    }

    fn push(&mut self, resource: String, kind: ChangeKind, reason: Option<String>, op: Op) {
        self.now.push(Change {
            stack: self.stack.clone(),
            resource,
            kind,
            reason,
            op,
        });
    }

    fn delete(&mut self, phase: usize, resource: String, reason: Option<String>, op: Op) {
        self.later[phase].push(Change {
            stack: self.stack.clone(),
            resource,
            kind: ChangeKind::Delete,
            reason,
            op,
        });
    }

    fn plan(mut self) -> Result<Vec<Change>, String> {
        match self.input.desired {
            Some(desired) => self.plan_desired(desired)?,
            None => self.plan_delete(),
        }
        let mut out = self.now;
        for phase in self.later {
            out.extend(phase);
        }
        Ok(out)
    }

    /// Deletion is deploying an empty stack: the load balancers (their listeners and rules go
    /// with them), then the target groups, then the security groups.
    fn plan_delete(&mut self) {
        let observed = self.input.observed;
        for lb in &observed.load_balancers {
            self.delete_lb(lb, None);
        }
        for tg in &observed.target_groups {
            self.delete_tg(tg, None);
        }
        for sg in &observed.security_groups {
            self.delete_sg(sg, None);
        }
    }

    fn plan_desired(&mut self, d: &'a Stack) -> Result<(), String> {
        let observed = self.input.observed;
        let facts = self.input.facts;
        facts.certificates.clone()?;
        if let Some(l) = d
            .listeners
            .iter()
            .find(|l| !l.certificate_discovery.is_empty())
        {
            return Err(format!(
                "the certificates of HTTPS listener port {} are to be discovered in ACM, which \
                 was not read",
                l.port
            ));
        }
        let spec = &d.load_balancer;
        let managed_sg = spec.security_groups.is_empty();
        let user_sgs = if managed_sg {
            Vec::new()
        } else {
            facts.security_groups.clone()?
        };

        // The load balancer to keep, when a lost create response left duplicates: the one
        // serving (most listeners, rules and target groups attached), then the expected name.
        let mut lbs: Vec<&ObservedLoadBalancer> = observed.load_balancers.iter().collect();
        lbs.sort_by_key(|lb| {
            (
                std::cmp::Reverse(attachments(lb, &observed.target_groups)),
                lb.name != spec.name,
                lb.arn.clone(),
            )
        });
        let mut kept_lb = lbs.first().copied();
        let replace_reason = kept_lb.and_then(|lb| {
            if lb.lb_type != spec.lb_type.as_str() {
                Some(format!(
                    "type changed from {} to {} (cannot be modified)",
                    lb.lb_type, spec.lb_type
                ))
            } else if lb.scheme != spec.scheme.as_str() {
                Some(format!(
                    "scheme changed from {} to {} (cannot be modified)",
                    lb.scheme, spec.scheme
                ))
            } else {
                addresses_replace_reason(spec, lb)
            }
        });
        let create_lb = kept_lb.is_none() || replace_reason.is_some();
        // A Network Load Balancer created without security groups (by LBC before v2.6, with its
        // NLBSecurityGroup feature gate off, or with `aws-load-balancer-disable-nlb-sg`) can
        // never get any: ELBv2 refuses SetSecurityGroups on it. It is adopted as it is, without
        // a managed group, instead of failing every pass; replacing it (a scheme change, say)
        // gives the new one its group.
        let sgless_nlb = !create_lb
            && managed_sg
            && spec.lb_type.as_str() == "network"
            && kept_lb.is_some_and(|lb| lb.security_groups.is_empty());
        let managed_sg = managed_sg && !sgless_nlb;
        if create_lb {
            self.foreign_lb(&spec.name)?;
            let subnets = facts.subnets.clone()?;
            for (what, values) in [
                (
                    "Elastic IP allocations (aws-load-balancer-eip-allocations)",
                    &spec.eip_allocations,
                ),
                (
                    "private IPv4 addresses (aws-load-balancer-private-ipv4-addresses)",
                    &spec.private_ipv4_addresses,
                ),
            ] {
                if !values.is_empty() && values.len() != subnets.len() {
                    return Err(format!(
                        "{} {what} for {} subnets ({}): give one per subnet, or name the \
                         subnets with service.beta.kubernetes.io/aws-load-balancer-subnets",
                        values.len(),
                        subnets.len(),
                        subnets.join(", ")
                    ));
                }
            }
        }
        if facts.subnets_explicit {
            facts.subnets.clone()?;
        }

        // Everything that can fail is checked before the first change is recorded.
        let tg_matches = self.match_target_groups(d)?;
        let frontend = if managed_sg {
            let mut sgs: Vec<&ObservedSecurityGroup> = observed
                .security_groups
                .iter()
                .filter(|sg| {
                    resource_tag(self.input.id.kind, &sg.tags) == Some(FRONTEND_SG_RESOURCE)
                })
                .collect();
            sgs.sort_by_key(|sg| sg.id.clone());
            let first = sgs.first().copied();
            if first.is_none() {
                if let Some(id) = self.cluster.foreign.security_groups.get(&spec.name) {
                    return Err(format!(
                        "security group name {} is already used by {id} in {}, which this cluster \
                         does not own (no {}={} tag); delete or rename it, or set \
                         alb.ingress.kubernetes.io/security-groups",
                        spec.name,
                        self.cluster.vpc_id,
                        tags::CLUSTER,
                        self.cluster.cluster
                    ));
                }
            }
            first
        } else {
            None
        };
        let name_refs = self.resolve_named_target_groups(d)?;

        // 0. Duplicate load balancers go first, before any change could attach the stack's
        // target groups to them as well (a target group serves one load balancer).
        for lb in lbs.iter().skip(1) {
            let reason = format!(
                "duplicate of the stack's load balancer {} ({}), which is kept",
                lbs[0].name, lbs[0].arn
            );
            self.push(
                format!("load balancer {}", lb.name),
                ChangeKind::Delete,
                Some(reason),
                Op::DeleteLoadBalancer {
                    arn: lb.arn.clone(),
                },
            );
        }

        // 1. Security groups.
        for sg in &observed.security_groups {
            if frontend.is_none_or(|f| f.id != sg.id) {
                self.delete_sg(sg, Some("not needed by the stack".into()));
            }
        }
        let sg_refs: Vec<Ref> = if sgless_nlb {
            Vec::new()
        } else if managed_sg {
            let frontend_ref = self.plan_frontend_sg(d, frontend);
            let mut refs = vec![frontend_ref];
            refs.extend(self.backend.clone());
            refs
        } else {
            let mut refs: Vec<Ref> = user_sgs.into_iter().map(Ref::Existing).collect();
            // `manage-backend-security-group-rules`: the backend group joins the user's, as LBC.
            if spec.manage_backend_security_group_rules {
                refs.extend(self.backend.clone());
            }
            refs
        };

        // 2. Target groups.
        let mut tg_refs: BTreeMap<&str, Ref> = BTreeMap::new();
        let mut kept_tgs: BTreeMap<&str, &ObservedTargetGroup> = BTreeMap::new();
        for (tg, matched) in d.target_groups.iter().zip(&tg_matches) {
            let r = match matched {
                TgMatch::Keep(o) => {
                    self.plan_tg_update(tg, o);
                    kept_tgs.insert(tg.id.as_str(), o);
                    Ref::Existing(o.arn.clone())
                }
                TgMatch::Create(reason) => self.plan_tg_create(tg, reason.clone()),
            };
            tg_refs.insert(tg.id.as_str(), r);
        }
        let kept_arns: BTreeSet<&str> = kept_tgs.values().map(|o| o.arn.as_str()).collect();
        for o in &observed.target_groups {
            if !kept_arns.contains(o.arn.as_str()) {
                let reason = match d
                    .target_groups
                    .iter()
                    .find(|t| Some(t.id.as_str()) == resource_tag(self.input.id.kind, &o.tags))
                {
                    Some(_) => Some("replaced".to_owned()),
                    None => Some("no longer referenced".to_owned()),
                };
                self.delete_tg(o, reason);
            }
        }

        // 3. The load balancer.
        if let (Some(old), Some(reason)) = (kept_lb, replace_reason.clone()) {
            // Replacement deletes first: target groups can serve one load balancer only.
            self.push(
                format!("load balancer {}", old.name),
                ChangeKind::Delete,
                Some(reason),
                Op::DeleteLoadBalancer {
                    arn: old.arn.clone(),
                },
            );
            kept_lb = None;
        }
        let lb_ref = match kept_lb {
            Some(lb) => {
                self.plan_lb_update(d, lb, &sg_refs);
                Ref::Existing(lb.arn.clone())
            }
            None => self.plan_lb_create(d, sg_refs, replace_reason),
        };
        self.plan_lb_addons(d, kept_lb, &lb_ref);

        // 4-5. Listeners and rules, unless trusted: they were not read, and the load
        // balancer's desired-state hash says they were applied as desired now.
        let trusted = self.input.observed.trusted && kept_lb.is_some();
        let resolve = Resolver {
            tg_refs: &tg_refs,
            names: &name_refs,
        };
        // One listener per port; a second one on a port (LocalStack's answer to a retried
        // CreateListener whose response was lost, or a hand-made one) is drift.
        let mut by_port: BTreeMap<u16, Vec<&ObservedListener>> = BTreeMap::new();
        for l in kept_lb.map_or(&[][..], |lb| lb.listeners.as_slice()) {
            by_port.entry(l.port).or_default().push(l);
        }
        let mut observed_listeners: BTreeMap<u16, &ObservedListener> = BTreeMap::new();
        for (port, mut same_port) in by_port {
            let want = d.listeners.iter().find(|w| w.port == port);
            same_port.sort_by_key(|l| listener_rank(l, want));
            let Some((&kept, extras)) = same_port.split_first() else {
                continue;
            };
            for extra in extras {
                self.delete(
                    DEL_LISTENERS,
                    format!("listener {port}"),
                    Some(format!(
                        "second listener on port {port} ({} is kept)",
                        kept.arn
                    )),
                    Op::DeleteListener {
                        arn: extra.arn.clone(),
                    },
                );
            }
            observed_listeners.insert(port, kept);
        }
        for l in d.listeners.iter().filter(|_| !trusted) {
            match observed_listeners.get(&l.port) {
                Some(o) => self.plan_listener_update(l, o, &resolve),
                None => self.plan_listener_create(l, &lb_ref, &resolve),
            }
        }
        for (port, o) in observed_listeners.iter().filter(|_| !trusted) {
            if !d.listeners.iter().any(|l| l.port == *port) {
                self.delete(
                    DEL_LISTENERS,
                    format!("listener {port}"),
                    Some("port no longer listened on".into()),
                    Op::DeleteListener { arn: o.arn.clone() },
                );
            }
        }

        // 6. Targets.
        for tg in &d.target_groups {
            let observed_targets = kept_tgs.get(tg.id.as_str()).map(|o| o.targets.as_slice());
            let r = tg_refs.get(tg.id.as_str()).cloned();
            if let Some(r) = r {
                self.plan_targets(tg, &r, observed_targets.unwrap_or(&[]));
            }
        }
        Ok(())
    }

    fn plan_elbv2_tags(&mut self, resource: String, arn: &str, desired: &Tags, observed: &Tags) {
        let (add, remove) =
            canon::tag_changes(desired, observed, &self.cluster.external_managed_tags);
        if !add.is_empty() {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::AddTags {
                    resource: arn.to_owned(),
                    tags: add,
                },
            );
        }
        if !remove.is_empty() {
            self.push(
                resource,
                ChangeKind::Modify,
                None,
                Op::RemoveTags {
                    resource: arn.to_owned(),
                    keys: remove,
                },
            );
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
