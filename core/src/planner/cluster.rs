//! The cluster scope at execution time: rules that keep concurrent passes from undoing each
//! other's work on what the stacks of a cluster share (the backend security group and its
//! permissions on the target security groups), and that turn "already exists / already gone
//! exactly as wanted" into success.
//!
//! A pass plans its cluster-wide changes from its own observation, which another pass (another
//! worker of the controller, or another `apply` process) may have changed since. So right
//! before the trailing cluster-wide changes, the AWS layer reads the cluster scope again
//! ([`ClusterNow`]) and these functions decide, from that read, what is still safe and still
//! needed:
//!
//! - a target-group port of the backend group's permissions is revoked only if no target group
//!   of the cluster uses it now and no pass in flight claims it ([`still_revocable`]);
//! - the backend security group is deleted only if no load balancer uses it now and no pass in
//!   flight needs it ([`backend_still_unused`]);
//! - every port in use that lacks its permission is authorized ([`missing_target_rules`]):
//!   this repairs what a concurrent pass revoked between its read and its call.
use std::collections::BTreeSet;

use super::canon;
use super::change::{Change, ChangeKind, Op, Ref};
use super::observed::{ObservedRule, ObservedSecurityGroup, SgPermission, SgSource};
use super::{Scope, TARGET_RULE_DESCRIPTION};
use crate::model::{ActionSpec, ConditionSpec, Stack, TargetSpec};

/// The cluster scope as read again right before the trailing cluster-wide changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterNow {
    /// The shared backend security group, when it exists.
    pub backend_sg: Option<ObservedSecurityGroup>,
    /// The target (node) security groups.
    pub target_security_groups: Vec<ObservedSecurityGroup>,
    /// Ports the cluster's target groups use now ([`target_ports`] of every owned group).
    pub ports_in_use: BTreeSet<u16>,
    /// True when a load balancer uses the backend security group now.
    pub backend_in_use: bool,
    /// The `--disable-restricted-sg-rules` setting of the pass (not read from AWS): the backend
    /// group's permission on the target groups is all traffic (`-1`), not tcp per port.
    pub unrestricted_sg_rules: bool,
}

/// What passes in flight (started, not yet finished) claim: ports their target groups will
/// use and whether their load balancers need the backend security group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// Target ports.
    pub ports: BTreeSet<u16>,
    /// True when a load balancer of theirs uses the backend security group.
    pub backend: bool,
}

impl Claims {
    /// What `stacks` (the desired stacks of one pass) claim.
    #[must_use]
    pub fn of(stacks: &[Stack]) -> Self {
        let mut out = Self::default();
        for s in stacks {
            out.backend |= s.load_balancer.uses_backend_security_group();
            out.ports.extend(stack_ports(s));
        }
        out
    }

    /// Adds `other`'s claims.
    pub fn extend(&mut self, other: &Self) {
        self.ports.extend(other.ports.iter().copied());
        self.backend |= other.backend;
    }
}

/// The ports the backend group must reach for the target groups of `stack` ([`target_ports`]
/// of each).
pub fn stack_ports(stack: &Stack) -> impl Iterator<Item = u16> + '_ {
    stack
        .target_groups
        .iter()
        .flat_map(|tg| target_ports(tg.port, &tg.health_check.port, &tg.targets))
}

/// The ports the backend group must reach for one target group: its port, its health check's
/// port when that is a number (not `traffic-port`), as the AWS Load Balancer Controller opens
/// it too, and the port of each target (targets of a group with a named target port each
/// carry their own). Port 0 and 1 (LBC's placeholder for "per target") are never a permission.
pub fn target_ports<'a>(
    port: u16,
    health_check_port: &str,
    targets: &'a [TargetSpec],
) -> impl Iterator<Item = u16> + 'a {
    std::iter::once(port)
        .chain(health_check_port.parse::<u16>().ok())
        .chain(targets.iter().map(|t| t.port))
        .filter(|p| *p > 1)
}

/// The protocols of the permissions the operator manages on target groups: `tcp` per target
/// port, or `-1` (all traffic) with `--disable-restricted-sg-rules`.
#[must_use]
pub fn is_backend_protocol(protocol: &str) -> bool {
    protocol == "tcp" || protocol == "-1"
}

/// True for a permission the operator manages on a target group: from the backend group.
fn is_backend_rule(p: &SgPermission, backend_id: &str) -> bool {
    is_backend_protocol(&p.protocol) && matches!(&p.source, SgSource::Group(g) if g == backend_id)
}

/// The all-traffic permission from the backend group (`--disable-restricted-sg-rules`).
fn all_traffic(backend_id: &str) -> SgPermission {
    SgPermission {
        protocol: "-1".to_owned(),
        from_port: -1,
        to_port: -1,
        source: SgSource::Group(backend_id.to_owned()),
        description: Some(TARGET_RULE_DESCRIPTION.to_owned()),
    }
}

/// True when `p` opens a port in `ports` (a single-port permission; ranges are never ours).
fn opens_one_of(p: &SgPermission, ports: &BTreeSet<u16>) -> bool {
    p.from_port == p.to_port && u16::try_from(p.from_port).is_ok_and(|port| ports.contains(&port))
}

/// Of the permissions a pass planned to revoke from target security group `group`, those it
/// may still revoke: present now, and, while the backend group is used or claimed, opening no
/// port that a target group of the cluster uses now or a pass in flight claims. When nothing
/// uses or claims the backend group any more, every permission still present goes (the group
/// is about to be deleted, and a rule naming it would block that). Empty when nothing is left
/// to do.
#[must_use]
pub fn still_revocable(
    group: &str,
    planned: &[SgPermission],
    now: &ClusterNow,
    claims: &Claims,
) -> Vec<SgPermission> {
    let Some(sg) = now.target_security_groups.iter().find(|s| s.id == group) else {
        // The group is gone: nothing of it to revoke.
        return Vec::new();
    };
    let left = present(planned, &sg.ingress);
    if backend_still_unused(now, claims) {
        return left;
    }
    let in_use: BTreeSet<u16> = now.ports_in_use.union(&claims.ports).copied().collect();
    // With `--disable-restricted-sg-rules`, per-port permissions are redundant once the
    // all-traffic one is present, and the all-traffic one stays while any port is in use.
    let all_open = now.unrestricted_sg_rules
        && sg.ingress.iter().any(|p| {
            p.protocol == "-1"
                && now
                    .backend_sg
                    .as_ref()
                    .is_some_and(|b| is_backend_rule(p, &b.id))
        });
    left.into_iter()
        .filter(|p| {
            if p.protocol == "-1" {
                !now.unrestricted_sg_rules || in_use.is_empty()
            } else {
                all_open || !opens_one_of(p, &in_use)
            }
        })
        .collect()
}

/// True when the backend security group may still be deleted: no load balancer uses it now
/// and no pass in flight needs it.
#[must_use]
pub fn backend_still_unused(now: &ClusterNow, claims: &Claims) -> bool {
    !now.backend_in_use && !claims.backend
}

/// Authorizations that give every port in use now (or claimed by a pass in flight) its
/// permission from the backend group on every target security group: the repair of a
/// permission a concurrent pass revoked on a stale read. Nothing while the backend group does
/// not exist or nothing needs it.
#[must_use]
pub fn missing_target_rules(now: &ClusterNow, claims: &Claims) -> Vec<Change> {
    let Some(backend) = &now.backend_sg else {
        return Vec::new();
    };
    if !now.backend_in_use && !claims.backend {
        return Vec::new();
    }
    let in_use: BTreeSet<u16> = now.ports_in_use.union(&claims.ports).copied().collect();
    let mut out = Vec::new();
    if now.unrestricted_sg_rules {
        if in_use.is_empty() {
            return out;
        }
        for sg in &now.target_security_groups {
            let have = sg
                .ingress
                .iter()
                .any(|p| p.protocol == "-1" && is_backend_rule(p, &backend.id));
            if !have {
                out.push(Change {
                    stack: Scope::Cluster.to_string(),
                    resource: format!("target security group {} ({})", sg.name, sg.id),
                    kind: ChangeKind::Modify,
                    reason: Some("the load balancers lost their permission".to_owned()),
                    op: Op::AuthorizeSecurityGroupIngress {
                        group: Ref::Existing(sg.id.clone()),
                        permissions: vec![all_traffic(&backend.id)],
                    },
                });
            }
        }
        return out;
    }
    for sg in &now.target_security_groups {
        let have: BTreeSet<(i32, i32)> = sg
            .ingress
            .iter()
            .filter(|p| is_backend_rule(p, &backend.id))
            .map(|p| (p.from_port, p.to_port))
            .collect();
        let missing: Vec<SgPermission> = in_use
            .iter()
            .map(|p| i32::from(*p))
            .filter(|p| !have.contains(&(*p, *p)))
            .map(|p| SgPermission {
                protocol: "tcp".to_owned(),
                from_port: p,
                to_port: p,
                source: SgSource::Group(backend.id.clone()),
                description: Some(TARGET_RULE_DESCRIPTION.to_owned()),
            })
            .collect();
        if !missing.is_empty() {
            out.push(Change {
                stack: Scope::Cluster.to_string(),
                resource: format!("target security group {} ({})", sg.name, sg.id),
                kind: ChangeKind::Modify,
                reason: Some("a target port in use lost its permission".to_owned()),
                op: Op::AuthorizeSecurityGroupIngress {
                    group: Ref::Existing(sg.id.clone()),
                    permissions: missing,
                },
            });
        }
    }
    out
}

/// Identity of a permission: everything but its description (EC2 matches rules that way).
fn identity(p: &SgPermission) -> SgPermission {
    SgPermission {
        description: None,
        ..p.clone()
    }
}

/// The permissions of `wanted` that `have` lacks (compared without descriptions): what an
/// authorization rejected as a duplicate still has to add.
#[must_use]
pub fn missing(wanted: &[SgPermission], have: &[SgPermission]) -> Vec<SgPermission> {
    let have: BTreeSet<SgPermission> = have.iter().map(identity).collect();
    wanted
        .iter()
        .filter(|p| !have.contains(&identity(p)))
        .cloned()
        .collect()
}

/// The permissions of `planned` that `have` still holds (compared without descriptions): what
/// a revocation rejected as not found still has to remove.
#[must_use]
pub fn present(planned: &[SgPermission], have: &[SgPermission]) -> Vec<SgPermission> {
    let have: BTreeSet<SgPermission> = have.iter().map(identity).collect();
    planned
        .iter()
        .filter(|p| have.contains(&identity(p)))
        .cloned()
        .collect()
}

/// True when `rule` is exactly the rule a create wanted (conditions and actions compared in
/// canonical form; forward target groups by ARN): a create that met `PriorityInUse` on it
/// found its own earlier success, or an identical rule, and adopts it.
#[must_use]
pub fn rule_matches(
    rule: &ObservedRule,
    conditions: &[ConditionSpec],
    actions: &[ActionSpec],
) -> bool {
    canon::conditions(&rule.conditions) == canon::conditions(conditions)
        && canon::actions(&rule.actions) == canon::actions(actions)
}
