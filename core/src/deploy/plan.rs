//! The planner: desired stacks + observed state → ordered changes.
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
    ClusterFacts, Plan, StackError, StackInput, BACKEND_SG_DESCRIPTION, BACKEND_SG_RESOURCE,
    CLUSTER_RESOURCE_TAG, FRONTEND_SG_DESCRIPTION, FRONTEND_SG_RESOURCE, MAX_RULE_PRIORITY,
    REGISTER_BATCH, TARGET_RULE_DESCRIPTION,
};
use crate::discovery::Tags;
use crate::model::{
    tags, ActionSpec, ListenerSpec, Protocol, RuleSpec, Stack, StackKind, TargetGroupRef,
    TargetGroupSpec, TargetSpec,
};

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
        match StackPlanner::new(cluster, input, Some(provisional.clone())).run() {
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
                stack: String::new(),
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
                stack: String::new(),
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
                stack: String::new(),
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

fn backend_tags(cluster: &str) -> Tags {
    [
        (tags::CLUSTER.to_owned(), cluster.to_owned()),
        (
            CLUSTER_RESOURCE_TAG.to_owned(),
            BACKEND_SG_RESOURCE.to_owned(),
        ),
    ]
    .into_iter()
    .collect()
}

fn resource_tag(kind: StackKind, t: &Tags) -> Option<&str> {
    t.get(kind.resource_tag()).map(String::as_str)
}

/// Whether the shared backend security group is needed, and the ports it must reach.
struct Backend {
    needed: bool,
    ports: BTreeSet<u16>,
}

impl Backend {
    fn decide(
        cluster: &ClusterFacts,
        stacks: &[StackInput<'_>],
        failed: &BTreeSet<String>,
    ) -> Self {
        let backend_id = cluster.backend_sg.as_ref().map(|sg| sg.id.as_str());
        let mut needed = false;
        let mut ports = BTreeSet::new();
        let mut add_tg_port = |port: u16, targets: &[TargetSpec]| {
            ports.extend(super::cluster::target_ports(port, targets));
        };
        let uses_backend = |lb: &ObservedLoadBalancer| {
            backend_id.is_some_and(|id| lb.security_groups.iter().any(|s| s == id))
        };
        for input in stacks {
            if failed.contains(&input.id.to_string()) {
                // Left as it is this pass: keep what its load balancer uses.
                needed |= input.observed.load_balancers.iter().any(uses_backend);
                for tg in &input.observed.target_groups {
                    add_tg_port(tg.port, &tg.targets);
                }
            } else if let Some(d) = input.desired {
                needed |= d.load_balancer.security_groups.is_empty();
                for tg in &d.target_groups {
                    add_tg_port(tg.port, &tg.targets);
                }
            }
        }
        for other in cluster.unplanned.values() {
            needed |= other.load_balancers.iter().any(uses_backend);
            for tg in &other.target_groups {
                add_tg_port(tg.port, &tg.targets);
            }
        }
        if !needed {
            ports.clear();
        }
        Self { needed, ports }
    }

    /// Permissions on the target security groups: tcp on every target port from the backend
    /// group. Only permissions whose source is the backend group are ever revoked.
    fn target_rules(
        &self,
        cluster: &ClusterFacts,
        backend: Option<&Ref>,
    ) -> (Vec<Change>, Vec<Change>) {
        let (mut authorize, mut revoke) = (Vec::new(), Vec::new());
        let observed_id = cluster.backend_sg.as_ref().map(|sg| sg.id.as_str());
        let source = match backend {
            Some(Ref::Existing(id)) => Some(SgSource::Group(id.clone())),
            Some(Ref::New(key)) => Some(SgSource::NewGroup(key.clone())),
            None => None,
        };
        for sg in &cluster.target_security_groups {
            let ours: BTreeSet<(i32, i32)> = sg
                .ingress
                .iter()
                .filter(|p| {
                    p.protocol == "tcp"
                        && matches!(&p.source, SgSource::Group(g) if Some(g.as_str()) == observed_id)
                })
                .map(|p| (p.from_port, p.to_port))
                .collect();
            let wanted: BTreeSet<(i32, i32)> = if source.is_some() {
                self.ports
                    .iter()
                    .map(|p| (i32::from(*p), i32::from(*p)))
                    .collect()
            } else {
                BTreeSet::new()
            };
            if let Some(src) = &source {
                let missing: Vec<SgPermission> = wanted
                    .difference(&ours)
                    .map(|(from, to)| SgPermission {
                        protocol: "tcp".to_owned(),
                        from_port: *from,
                        to_port: *to,
                        source: src.clone(),
                        description: Some(TARGET_RULE_DESCRIPTION.to_owned()),
                    })
                    .collect();
                if !missing.is_empty() {
                    authorize.push(Change {
                        stack: String::new(),
                        resource: format!("target security group {} ({})", sg.name, sg.id),
                        kind: ChangeKind::Modify,
                        reason: Some("allow the load balancers to reach the target ports".into()),
                        op: Op::AuthorizeSecurityGroupIngress {
                            group: Ref::Existing(sg.id.clone()),
                            permissions: missing,
                        },
                    });
                }
            }
            let extra: Vec<SgPermission> = sg
                .ingress
                .iter()
                .filter(|p| {
                    p.protocol == "tcp"
                        && matches!(&p.source, SgSource::Group(g) if Some(g.as_str()) == observed_id)
                        && !wanted.contains(&(p.from_port, p.to_port))
                })
                .cloned()
                .collect();
            if !extra.is_empty() {
                revoke.push(Change {
                    stack: String::new(),
                    resource: format!("target security group {} ({})", sg.name, sg.id),
                    kind: ChangeKind::Modify,
                    reason: Some("target ports no longer used".into()),
                    op: Op::RevokeSecurityGroupIngress {
                        group: sg.id.clone(),
                        permissions: extra,
                    },
                });
            }
        }
        (authorize, revoke)
    }
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

    fn run(mut self) -> Result<Vec<Change>, String> {
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

    fn delete_lb(&mut self, lb: &ObservedLoadBalancer, reason: Option<String>) {
        self.delete(
            DEL_LBS,
            format!("load balancer {}", lb.name),
            reason,
            Op::DeleteLoadBalancer {
                arn: lb.arn.clone(),
            },
        );
    }

    fn delete_tg(&mut self, tg: &ObservedTargetGroup, reason: Option<String>) {
        self.delete(
            DEL_TGS,
            tg_resource(
                &tg.name,
                resource_tag(self.input.id.kind, &tg.tags).unwrap_or("?"),
            ),
            reason,
            Op::DeleteTargetGroup {
                arn: tg.arn.clone(),
            },
        );
    }

    fn delete_sg(&mut self, sg: &ObservedSecurityGroup, reason: Option<String>) {
        self.delete(
            DEL_SGS,
            format!("security group {} ({})", sg.name, sg.id),
            reason,
            Op::DeleteSecurityGroup {
                group: sg.id.clone(),
            },
        );
    }

    fn foreign_lb(&self, name: &str) -> Result<(), String> {
        match self.cluster.foreign.load_balancers.get(name) {
            Some(arn) => Err(format!(
                "load balancer name {name} is already used by {arn}, which this cluster does not \
                 own (no {}={} tag); delete or rename it, or choose another name with \
                 alb.ingress.kubernetes.io/load-balancer-name",
                tags::CLUSTER,
                self.cluster.cluster
            )),
            None => Ok(()),
        }
    }

    fn plan_desired(&mut self, d: &'a Stack) -> Result<(), String> {
        let observed = self.input.observed;
        let facts = self.input.facts;
        let spec = &d.load_balancer;
        let managed_sg = spec.security_groups.is_empty();
        let user_sgs = if managed_sg {
            Vec::new()
        } else {
            facts.security_groups.clone()?
        };

        // The load balancer to keep: tagged as the stack's LoadBalancer, preferring the name.
        let mut lbs: Vec<&ObservedLoadBalancer> = observed.load_balancers.iter().collect();
        lbs.sort_by_key(|lb| (lb.name != spec.name, lb.arn.clone()));
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
                None
            }
        });
        let create_lb = kept_lb.is_none() || replace_reason.is_some();
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

        // 1. Security groups.
        for sg in &observed.security_groups {
            if frontend.is_none_or(|f| f.id != sg.id) {
                self.delete_sg(sg, Some("not needed by the stack".into()));
            }
        }
        let sg_refs: Vec<Ref> = if managed_sg {
            let frontend_ref = self.plan_frontend_sg(d, frontend);
            let mut refs = vec![frontend_ref];
            refs.extend(self.backend.clone());
            refs
        } else {
            user_sgs.into_iter().map(Ref::Existing).collect()
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
        for lb in lbs.iter().skip(1) {
            self.delete_lb(lb, Some("duplicate of the stack's load balancer".into()));
        }
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

        // 4-5. Listeners and rules.
        let resolve = Resolver {
            tg_refs: &tg_refs,
            names: &name_refs,
        };
        let observed_listeners: BTreeMap<u16, &ObservedListener> = kept_lb
            .map(|lb| lb.listeners.iter().map(|l| (l.port, l)).collect())
            .unwrap_or_default();
        for l in &d.listeners {
            match observed_listeners.get(&l.port) {
                Some(o) => self.plan_listener_update(l, o, &resolve),
                None => self.plan_listener_create(l, &lb_ref, &resolve),
            }
        }
        for (port, o) in &observed_listeners {
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

    fn match_target_groups(&self, d: &Stack) -> Result<Vec<TgMatch<'a>>, String> {
        let observed = self.input.observed;
        let mut out = Vec::new();
        for tg in &d.target_groups {
            let mut candidates: Vec<&ObservedTargetGroup> = observed
                .target_groups
                .iter()
                .filter(|o| resource_tag(self.input.id.kind, &o.tags) == Some(tg.id.as_str()))
                .collect();
            candidates.sort_by_key(|o| (o.name != tg.name, o.arn.clone()));
            let m = match candidates.first() {
                Some(o) => match tg_replace_reason(tg, o) {
                    None => TgMatch::Keep(o),
                    Some(reason) => {
                        if o.name == tg.name {
                            return Err(format!(
                                "target group {} must be replaced ({reason}) but the new one would \
                                 have the same name; delete it by hand",
                                tg.name
                            ));
                        }
                        TgMatch::Create(Some(reason))
                    }
                },
                None => TgMatch::Create(None),
            };
            if matches!(m, TgMatch::Create(_)) {
                if let Some(arn) = self.cluster.foreign.target_groups.get(&tg.name) {
                    return Err(format!(
                        "target group name {} is already used by {arn}, which this cluster does not \
                         own (no {}={} tag); delete or rename it",
                        tg.name,
                        tags::CLUSTER,
                        self.cluster.cluster
                    ));
                }
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Target groups referenced by name in actions, resolved to ARNs from what was observed
    /// (owned or not: referencing is not modifying).
    fn resolve_named_target_groups(&self, d: &Stack) -> Result<BTreeMap<String, String>, String> {
        let mut names = BTreeSet::new();
        for l in &d.listeners {
            for a in l
                .default_actions
                .iter()
                .chain(l.rules.iter().flat_map(|r| &r.actions))
            {
                if let ActionSpec::Forward { target_groups, .. } = a {
                    names.extend(target_groups.iter().filter_map(|t| t.name.clone()));
                }
            }
        }
        let mut out = BTreeMap::new();
        for name in names {
            let arn = self
                .cluster
                .foreign
                .target_groups
                .get(&name)
                .cloned()
                .or_else(|| {
                    self.cluster
                        .unplanned
                        .values()
                        .chain(std::iter::once(self.input.observed))
                        .flat_map(|s| &s.target_groups)
                        .find(|t| t.name == name)
                        .map(|t| t.arn.clone())
                });
            match arn {
                Some(arn) => {
                    out.insert(name, arn);
                }
                None => {
                    return Err(format!(
                        "target group {name} (named in an action) does not exist in {}",
                        self.cluster.vpc_id
                    ))
                }
            }
        }
        Ok(out)
    }

    fn plan_frontend_sg(&mut self, d: &Stack, observed: Option<&ObservedSecurityGroup>) -> Ref {
        let spec = &d.load_balancer;
        let mut sg_tags = spec.tags.clone();
        sg_tags.insert(
            self.input.id.kind.resource_tag().to_owned(),
            FRONTEND_SG_RESOURCE.to_owned(),
        );
        let mut wanted: BTreeSet<SgPermission> = BTreeSet::new();
        for l in &d.listeners {
            let protocols: &[&str] = match l.protocol {
                Protocol::Udp => &["udp"],
                Protocol::TcpUdp => &["tcp", "udp"],
                _ => &["tcp"],
            };
            for cidr in &spec.inbound_cidrs {
                let source = if cidr.contains(':') {
                    SgSource::CidrV6(cidr.clone())
                } else {
                    SgSource::Cidr(cidr.clone())
                };
                for protocol in protocols {
                    wanted.insert(SgPermission {
                        protocol: (*protocol).to_owned(),
                        from_port: i32::from(l.port),
                        to_port: i32::from(l.port),
                        source: source.clone(),
                        description: None,
                    });
                }
            }
        }
        match observed {
            None => {
                let key = keys::frontend_sg(&self.stack);
                self.push(
                    format!("security group {}", spec.name),
                    ChangeKind::Create,
                    None,
                    Op::CreateSecurityGroup {
                        key: key.clone(),
                        name: spec.name.clone(),
                        description: FRONTEND_SG_DESCRIPTION.to_owned(),
                        vpc_id: self.cluster.vpc_id.clone(),
                        tags: sg_tags,
                    },
                );
                if !wanted.is_empty() {
                    self.push(
                        format!("security group {}", spec.name),
                        ChangeKind::Modify,
                        Some("open the listener ports".into()),
                        Op::AuthorizeSecurityGroupIngress {
                            group: Ref::New(key.clone()),
                            permissions: wanted.into_iter().collect(),
                        },
                    );
                }
                Ref::New(key)
            }
            Some(sg) => {
                let resource = format!("security group {} ({})", sg.name, sg.id);
                let strip = |p: &SgPermission| SgPermission {
                    description: None,
                    ..p.clone()
                };
                let have: BTreeSet<SgPermission> = sg.ingress.iter().map(strip).collect();
                let missing: Vec<SgPermission> = wanted.difference(&have).cloned().collect();
                let extra: Vec<SgPermission> = sg
                    .ingress
                    .iter()
                    .filter(|p| !wanted.contains(&strip(p)))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::AuthorizeSecurityGroupIngress {
                            group: Ref::Existing(sg.id.clone()),
                            permissions: missing,
                        },
                    );
                }
                if !extra.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::RevokeSecurityGroupIngress {
                            group: sg.id.clone(),
                            permissions: extra,
                        },
                    );
                }
                let (add, remove) = canon::tag_changes(&sg_tags, &sg.tags);
                if !add.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::Ec2CreateTags {
                            resource: sg.id.clone(),
                            tags: add,
                        },
                    );
                }
                if !remove.is_empty() {
                    self.push(
                        resource,
                        ChangeKind::Modify,
                        None,
                        Op::Ec2DeleteTags {
                            resource: sg.id.clone(),
                            keys: remove,
                        },
                    );
                }
                Ref::Existing(sg.id.clone())
            }
        }
    }

    fn plan_tg_create(&mut self, tg: &TargetGroupSpec, reason: Option<String>) -> Ref {
        let key = keys::target_group(&self.stack, &tg.id);
        let resource = tg_resource(&tg.name, &tg.id);
        self.push(
            resource.clone(),
            ChangeKind::Create,
            reason,
            Op::CreateTargetGroup {
                key: key.clone(),
                target_group: NewTargetGroup {
                    name: tg.name.clone(),
                    port: tg.port,
                    protocol: tg.protocol.as_str().to_owned(),
                    protocol_version: tg.protocol_version.map(|v| v.as_str().to_owned()),
                    target_type: tg.target_type.as_str().to_owned(),
                    ip_address_type: tg.ip_address_type.clone(),
                    vpc_id: self.cluster.vpc_id.clone(),
                    health_check: tg.health_check.clone(),
                },
                tags: tg.tags.clone(),
            },
        );
        if !tg.attributes.is_empty() {
            self.push(
                resource,
                ChangeKind::Modify,
                None,
                Op::ModifyTargetGroupAttributes {
                    target_group: Ref::New(key.clone()),
                    attributes: tg.attributes.clone(),
                },
            );
        }
        Ref::New(key)
    }

    fn plan_tg_update(&mut self, tg: &TargetGroupSpec, o: &ObservedTargetGroup) {
        let resource = tg_resource(&o.name, &tg.id);
        let arn = Ref::Existing(o.arn.clone());
        if !canon::health_check_equal(&tg.health_check, &o.health_check) {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some("health check differs".into()),
                Op::ModifyTargetGroup {
                    target_group: arn.clone(),
                    health_check: tg.health_check.clone(),
                },
            );
        }
        let attrs = canon::attribute_changes(&tg.attributes, &o.attributes);
        if !attrs.is_empty() {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::ModifyTargetGroupAttributes {
                    target_group: arn,
                    attributes: attrs,
                },
            );
        }
        self.plan_elbv2_tags(resource, &o.arn, &tg.tags, &o.tags);
    }

    fn plan_elbv2_tags(&mut self, resource: String, arn: &str, desired: &Tags, observed: &Tags) {
        let (add, remove) = canon::tag_changes(desired, observed);
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

    fn plan_lb_create(&mut self, d: &Stack, sgs: Vec<Ref>, reason: Option<String>) -> Ref {
        let spec = &d.load_balancer;
        let key = keys::load_balancer(&self.stack);
        let resource = format!("load balancer {}", spec.name);
        let subnets = self.input.facts.subnets.clone().unwrap_or_default();
        self.push(
            resource.clone(),
            ChangeKind::Create,
            reason,
            Op::CreateLoadBalancer {
                key: key.clone(),
                load_balancer: NewLoadBalancer {
                    name: spec.name.clone(),
                    lb_type: spec.lb_type.as_str().to_owned(),
                    scheme: spec.scheme.as_str().to_owned(),
                    ip_address_type: spec.ip_address_type.as_str().to_owned(),
                    subnets,
                    security_groups: sgs,
                    eip_allocations: spec.eip_allocations.clone(),
                    private_ipv4_addresses: spec.private_ipv4_addresses.clone(),
                },
                tags: spec.tags.clone(),
            },
        );
        if !spec.attributes.is_empty() {
            self.push(
                resource,
                ChangeKind::Modify,
                None,
                Op::ModifyLoadBalancerAttributes {
                    load_balancer: Ref::New(key.clone()),
                    attributes: spec.attributes.clone(),
                },
            );
        }
        Ref::New(key)
    }

    fn plan_lb_update(&mut self, d: &Stack, lb: &ObservedLoadBalancer, sgs: &[Ref]) {
        let spec = &d.load_balancer;
        let resource = format!("load balancer {}", lb.name);
        let me = Ref::Existing(lb.arn.clone());
        let observed_sgs: BTreeSet<&str> = lb.security_groups.iter().map(String::as_str).collect();
        let same_sgs = sgs.len() == observed_sgs.len()
            && sgs
                .iter()
                .all(|r| matches!(r, Ref::Existing(id) if observed_sgs.contains(id.as_str())));
        if !same_sgs {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some(format!(
                    "security groups were {}",
                    lb.security_groups.join(", ")
                )),
                Op::SetSecurityGroups {
                    load_balancer: me.clone(),
                    security_groups: sgs.to_vec(),
                },
            );
        }
        if self.input.facts.subnets_explicit {
            if let Ok(want) = &self.input.facts.subnets {
                let want_set: BTreeSet<&String> = want.iter().collect();
                let have_set: BTreeSet<&String> = lb.subnets.iter().collect();
                if want_set != have_set {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        Some(format!("subnets were {}", lb.subnets.join(", "))),
                        Op::SetSubnets {
                            load_balancer: me.clone(),
                            subnets: want.clone(),
                        },
                    );
                }
            }
        }
        if !lb
            .ip_address_type
            .eq_ignore_ascii_case(spec.ip_address_type.as_str())
        {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some(format!("IP address type was {}", lb.ip_address_type)),
                Op::SetIpAddressType {
                    load_balancer: me.clone(),
                    ip_address_type: spec.ip_address_type.as_str().to_owned(),
                },
            );
        }
        let attrs = canon::attribute_changes(&spec.attributes, &lb.attributes);
        if !attrs.is_empty() {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::ModifyLoadBalancerAttributes {
                    load_balancer: me,
                    attributes: attrs,
                },
            );
        }
        self.plan_elbv2_tags(resource, &lb.arn, &spec.tags, &lb.tags);
    }

    fn plan_listener_create(&mut self, l: &ListenerSpec, lb: &Ref, resolve: &Resolver<'_>) {
        let key = keys::listener(&self.stack, l.port);
        self.push(
            format!("listener {}", l.port),
            ChangeKind::Create,
            None,
            Op::CreateListener {
                key: key.clone(),
                load_balancer: lb.clone(),
                listener: listener_settings(l, resolve),
                tags: l.tags.clone(),
            },
        );
        if l.certificates.len() > 1 {
            self.push(
                format!("listener {}", l.port),
                ChangeKind::Modify,
                Some("SNI certificates".into()),
                Op::AddListenerCertificates {
                    listener: Ref::New(key.clone()),
                    certificates: l.certificates[1..].to_vec(),
                },
            );
        }
        for r in &l.rules {
            self.push_create_rule(l.port, r, Ref::New(key.clone()), resolve);
        }
    }

    fn push_create_rule(&mut self, port: u16, r: &RuleSpec, listener: Ref, resolve: &Resolver<'_>) {
        self.push(
            format!("rule {port}:{}", r.priority),
            ChangeKind::Create,
            None,
            Op::CreateRule {
                listener,
                priority: r.priority,
                conditions: r.conditions.clone(),
                actions: resolve.actions(&r.actions),
                tags: r.tags.clone(),
            },
        );
    }

    fn plan_listener_update(
        &mut self,
        l: &ListenerSpec,
        o: &ObservedListener,
        resolve: &Resolver<'_>,
    ) {
        let resource = format!("listener {}", l.port);
        let settings = listener_settings(l, resolve);
        let secure = l.protocol.is_secure();
        let differs = !o.protocol.eq_ignore_ascii_case(&settings.protocol)
            || (secure && o.ssl_policy != settings.ssl_policy)
            || (secure && o.certificates.first() != settings.default_certificate.as_ref())
            || (settings.alpn_policy.is_some() && o.alpn_policy != settings.alpn_policy)
            || canon::actions(&o.default_actions) != canon::actions(&settings.default_actions);
        if differs {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::ModifyListener {
                    arn: o.arn.clone(),
                    listener: settings,
                },
            );
        }
        if secure {
            let want: BTreeSet<&String> = l.certificates.iter().skip(1).collect();
            let default = l.certificates.first();
            let have: BTreeSet<&String> = o
                .certificates
                .iter()
                .filter(|c| Some(*c) != default)
                .collect();
            let add: Vec<String> = want.difference(&have).map(|s| (*s).clone()).collect();
            let remove: Vec<String> = have
                .difference(&want)
                .filter(|c| o.certificates.first() != Some(**c))
                .map(|s| (*s).clone())
                .collect();
            if !add.is_empty() {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    Some("SNI certificates".into()),
                    Op::AddListenerCertificates {
                        listener: Ref::Existing(o.arn.clone()),
                        certificates: add,
                    },
                );
            }
            if !remove.is_empty() {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    Some("SNI certificates".into()),
                    Op::RemoveListenerCertificates {
                        listener: o.arn.clone(),
                        certificates: remove,
                    },
                );
            }
        }
        self.plan_elbv2_tags(resource, &o.arn, &l.tags, &o.tags);
        self.plan_rules(l, o, resolve);
    }

    /// Rules: pair by content first (a moved rule is re-prioritised, not rewritten), then by
    /// priority (rewritten in place), then create and delete the rest. Priorities move in at
    /// most two SetRulePriorities calls: parking the rules in the way, then the final order.
    fn plan_rules(&mut self, l: &ListenerSpec, o: &ObservedListener, resolve: &Resolver<'_>) {
        let port = l.port;
        let desired: Vec<(&RuleSpec, Vec<ActionSpec>, RuleKey)> = l
            .rules
            .iter()
            .map(|r| {
                let actions = resolve.actions(&r.actions);
                let key = (canon::conditions(&r.conditions), canon::actions(&actions));
                (r, actions, key)
            })
            .collect();
        let actual: Vec<(&ObservedRule, RuleKey)> = o
            .rules
            .iter()
            .map(|r| {
                (
                    r,
                    (canon::conditions(&r.conditions), canon::actions(&r.actions)),
                )
            })
            .collect();
        let mut pair: Vec<Option<usize>> = vec![None; desired.len()];
        let mut taken = vec![false; actual.len()];
        // Content match, same priority first, then any priority.
        for same_priority in [true, false] {
            for (di, (r, _, key)) in desired.iter().enumerate() {
                if pair[di].is_some() {
                    continue;
                }
                if let Some(ai) = actual.iter().enumerate().position(|(ai, (a, akey))| {
                    !taken[ai] && akey == key && (!same_priority || a.priority == r.priority)
                }) {
                    pair[di] = Some(ai);
                    taken[ai] = true;
                }
            }
        }
        let content_matched: Vec<bool> = pair.iter().map(Option::is_some).collect();
        // Priority match for the rest: rewritten in place.
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if pair[di].is_some() {
                continue;
            }
            if let Some(ai) = actual
                .iter()
                .enumerate()
                .position(|(ai, (a, _))| !taken[ai] && a.priority == r.priority)
            {
                pair[di] = Some(ai);
                taken[ai] = true;
            }
        }

        // Moves.
        let mut moves: BTreeMap<String, u32> = BTreeMap::new();
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if let Some(ai) = pair[di] {
                let a = actual[ai].0;
                if content_matched[di] && a.priority != r.priority {
                    moves.insert(a.arn.clone(), r.priority);
                }
            }
        }
        if !moves.is_empty() {
            let targets: BTreeSet<u32> = moves.values().copied().collect();
            let blocked = actual.iter().any(|(a, _)| targets.contains(&a.priority));
            if blocked {
                // Park every mover and every to-be-deleted rule sitting on a target priority.
                let top = actual
                    .iter()
                    .map(|(a, _)| a.priority)
                    .chain(desired.iter().map(|(r, _, _)| r.priority))
                    .max()
                    .unwrap_or(0);
                let mut parking: BTreeMap<String, u32> = BTreeMap::new();
                let mut next = top + 1;
                for (ai, (a, _)) in actual.iter().enumerate() {
                    let is_mover = moves.contains_key(&a.arn);
                    let deleted_in_the_way = !taken[ai] && targets.contains(&a.priority);
                    if is_mover || deleted_in_the_way {
                        parking.insert(a.arn.clone(), next.min(MAX_RULE_PRIORITY));
                        next += 1;
                    }
                }
                self.push(
                    format!("rules of listener {port}"),
                    ChangeKind::Modify,
                    Some("move rules out of the way before reordering".into()),
                    Op::SetRulePriorities {
                        priorities: parking,
                    },
                );
            }
            self.push(
                format!("rules of listener {port}"),
                ChangeKind::Modify,
                Some("reorder".into()),
                Op::SetRulePriorities { priorities: moves },
            );
        }

        // Rewrites and tags of paired rules.
        for (di, (r, actions, _)) in desired.iter().enumerate() {
            let Some(ai) = pair[di] else { continue };
            let a = actual[ai].0;
            let resource = format!("rule {port}:{}", r.priority);
            if !content_matched[di] {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    None,
                    Op::ModifyRule {
                        arn: a.arn.clone(),
                        conditions: r.conditions.clone(),
                        actions: actions.clone(),
                    },
                );
            }
            self.plan_elbv2_tags(resource, &a.arn, &r.tags, &a.tags);
        }
        // Creates.
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if pair[di].is_none() {
                self.push_create_rule(port, r, Ref::Existing(o.arn.clone()), resolve);
            }
        }
        // Deletes.
        for (ai, (a, _)) in actual.iter().enumerate() {
            if !taken[ai] {
                self.delete(
                    DEL_RULES,
                    format!("rule {port}:{}", a.priority),
                    Some("no longer desired".into()),
                    Op::DeleteRule { arn: a.arn.clone() },
                );
            }
        }
    }

    fn plan_targets(&mut self, tg: &TargetGroupSpec, r: &Ref, observed: &[TargetSpec]) {
        let changes = target_changes(&self.stack, &tg.name, r, &tg.targets, observed);
        self.now.extend(changes);
    }
}

/// The RegisterTargets / DeregisterTargets calls ([`REGISTER_BATCH`] targets each) that take
/// target group `target_group` (named `tg_name`, of `stack`) from `have` to `want`. Also the
/// controller's fast path for endpoint changes, which skips the rest of planning. Nothing is
/// deregistered from a group this plan creates.
#[must_use]
pub fn target_changes(
    stack: &str,
    tg_name: &str,
    target_group: &Ref,
    want: &[TargetSpec],
    have: &[TargetSpec],
) -> Vec<Change> {
    let want: BTreeSet<&TargetSpec> = want.iter().collect();
    let have: BTreeSet<&TargetSpec> = have.iter().collect();
    let register: Vec<TargetSpec> = want.difference(&have).map(|t| (*t).clone()).collect();
    let deregister: Vec<TargetSpec> = have.difference(&want).map(|t| (*t).clone()).collect();
    let resource = format!("targets of {tg_name}");
    let change = |kind, op| Change {
        stack: stack.to_owned(),
        resource: resource.clone(),
        kind,
        reason: None,
        op,
    };
    let mut out: Vec<Change> = register
        .chunks(REGISTER_BATCH)
        .map(|chunk| {
            change(
                ChangeKind::Register,
                Op::RegisterTargets {
                    target_group: target_group.clone(),
                    targets: chunk.to_vec(),
                },
            )
        })
        .collect();
    if let Ref::Existing(arn) = target_group {
        out.extend(deregister.chunks(REGISTER_BATCH).map(|chunk| {
            change(
                ChangeKind::Deregister,
                Op::DeregisterTargets {
                    target_group: arn.clone(),
                    targets: chunk.to_vec(),
                },
            )
        }));
    }
    out
}

type RuleKey = (Vec<crate::model::ConditionSpec>, Vec<ActionSpec>);

enum TgMatch<'a> {
    Keep(&'a ObservedTargetGroup),
    Create(Option<String>),
}

fn tg_resource(name: &str, id: &str) -> String {
    format!("target group {name} ({id})")
}

/// Why an observed target group cannot be modified into the desired one, if it cannot.
fn tg_replace_reason(tg: &TargetGroupSpec, o: &ObservedTargetGroup) -> Option<String> {
    let changed = |field: &str, from: &str, to: &str| {
        Some(format!(
            "{field} changed from {from} to {to} (cannot be modified)"
        ))
    };
    if o.port != tg.port {
        return changed("port", &o.port.to_string(), &tg.port.to_string());
    }
    if !o.protocol.eq_ignore_ascii_case(tg.protocol.as_str()) {
        return changed("protocol", &o.protocol, tg.protocol.as_str());
    }
    if !o.target_type.eq_ignore_ascii_case(tg.target_type.as_str()) {
        return changed("target type", &o.target_type, tg.target_type.as_str());
    }
    if let Some(want) = tg.protocol_version {
        if !o.protocol_version.is_empty() && !o.protocol_version.eq_ignore_ascii_case(want.as_str())
        {
            return changed("protocol version", &o.protocol_version, want.as_str());
        }
    }
    if !o.ip_address_type.is_empty() && !o.ip_address_type.eq_ignore_ascii_case(&tg.ip_address_type)
    {
        return changed("IP address type", &o.ip_address_type, &tg.ip_address_type);
    }
    None
}

/// Resolves target group references in actions: stack ids to the kept group's ARN (or leave
/// the id for a group created in this plan), names to ARNs.
struct Resolver<'a> {
    tg_refs: &'a BTreeMap<&'a str, Ref>,
    names: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    fn target_group(&self, t: &TargetGroupRef) -> TargetGroupRef {
        let mut out = TargetGroupRef {
            id: None,
            arn: t.arn.clone(),
            name: None,
            weight: t.weight,
        };
        if let Some(id) = &t.id {
            match self.tg_refs.get(id.as_str()) {
                Some(Ref::Existing(arn)) => out.arn = Some(arn.clone()),
                _ => out.id = Some(id.clone()),
            }
        } else if let Some(name) = &t.name {
            out.arn = self.names.get(name).cloned();
            if out.arn.is_none() {
                out.name = Some(name.clone());
            }
        }
        out
    }

    fn actions(&self, actions: &[ActionSpec]) -> Vec<ActionSpec> {
        actions
            .iter()
            .map(|a| match a {
                ActionSpec::Forward {
                    target_groups,
                    stickiness,
                } => ActionSpec::Forward {
                    target_groups: target_groups.iter().map(|t| self.target_group(t)).collect(),
                    stickiness: stickiness.clone(),
                },
                other => other.clone(),
            })
            .collect()
    }
}

fn listener_settings(l: &ListenerSpec, resolve: &Resolver<'_>) -> ListenerSettings {
    let secure = l.protocol.is_secure();
    ListenerSettings {
        port: l.port,
        protocol: l.protocol.as_str().to_owned(),
        ssl_policy: if secure { l.ssl_policy.clone() } else { None },
        default_certificate: if secure {
            l.certificates.first().cloned()
        } else {
            None
        },
        default_actions: resolve.actions(&l.default_actions),
        alpn_policy: l.alpn_policy.clone(),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
