//! `spec.networking` of TargetGroupBindings: ingress permissions on the security groups of the
//! bindings' targets, as the AWS Load Balancer Controller's networking manager adds them.
//!
//! Each pass that sees a binding with `spec.networking` (or remembers permissions it added):
//! - every live binding's permissions ([`binding_permissions`]) go to the endpoint group of each
//!   of its targets: the primary network interface of an instance (`instance`), the interface
//!   holding a pod address in the cluster's VPC (`ip`); an interface with several groups uses
//!   the one tagged `kubernetes.io/cluster/<cluster>` ([`endpoint_group`]). Lookups are cached
//!   until the sync period ends;
//! - the permissions of all bindings are aggregated per group ([`aggregate`]); when that equals
//!   what was last applied, nothing is read or written;
//! - otherwise the groups are read, missing permissions authorized, then permissions this
//!   process added (or, after a restart, that the bindings it sees ask for, deleted ones
//!   included) and that nobody wants any longer revoked ([`group_changes`]). A binding whose
//!   needs are unknown this pass (an invalid rule, an unresolved interface, an AWS error) makes
//!   the pass authorize only, as LBC.
//!
//! A failure is a `FailedNetworkReconcile` Warning on each binding with networking, and the
//! bindings back off; a deleted binding keeps its finalizer until its permissions are gone.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_lb_operator_core::model::{TargetSpec, TargetType};
use aws_lb_operator_core::planner::networking::{
    aggregate, binding_permissions, endpoint_group, group_changes, BindingNeeds, Peer, Port, Rule,
};
use aws_lb_operator_core::planner::{Change, ChangeKind, Op, Ref, SgPermission};
use tracing::Instrument;

use super::Problem;
use crate::aws::AwsClients;
use crate::controller::keys::ObjectKey;
use crate::controller::queue::ErrorClass;
use crate::crd::{self, TargetGroupBinding};
use crate::pass::networking::{
    address_interfaces, backend_group, cluster_vpc, instance_interfaces, security_groups,
};
use crate::pass::targets::{send_target_changes, Outcome};

/// Event reason of a networking failure (LBC's).
pub(super) const FAILED_NETWORK: &str = "FailedNetworkReconcile";

/// What the networking step knows about one binding this pass.
pub(super) struct NetBinding<'a> {
    pub key: ObjectKey,
    pub tgb: &'a TargetGroupBinding,
    pub deleting: bool,
    /// Its targets and their type; `None` when they could not be computed (its target group
    /// could not be read).
    pub targets: Option<(TargetType, Vec<TargetSpec>)>,
}

/// What remembered between passes.
#[derive(Debug, Default)]
pub(super) struct NetState {
    /// Endpoint group per target id (instance id or address).
    endpoint: HashMap<String, String>,
    /// Tag keys of groups read to choose among an interface's groups.
    tag_keys: HashMap<String, BTreeSet<String>>,
    /// The cluster's VPC, once resolved.
    vpc: Option<String>,
    /// The permissions last applied per group (`None`: nothing known this term).
    applied: Option<BTreeMap<String, BTreeSet<SgPermission>>>,
}

/// The result of a step: a problem per binding with networking that failed, or one for all.
#[derive(Debug, Default)]
pub(super) struct NetOutcome {
    /// Per binding.
    pub problems: Vec<(ObjectKey, Problem)>,
    /// Every binding with networking (a group could not be read or written).
    pub all: Option<Problem>,
    /// The bindings with networking this pass looked at.
    pub with_net: Vec<(ObjectKey, std::sync::Arc<TargetGroupBinding>)>,
}

impl NetOutcome {
    /// Why a deleted binding must keep its finalizer: it has networking and the groups could
    /// not be brought in sync. (A deleted binding whose own groups cannot be resolved any
    /// more does not wait: what it added stays, never something else removed.)
    pub(super) fn blocking(&self, tgb: &TargetGroupBinding) -> Option<&Problem> {
        tgb.spec.networking.as_ref()?;
        self.all.as_ref()
    }
}

/// The rules of a binding in the pure crate's terms.
fn rules_of(n: &crd::TargetGroupBindingNetworking) -> Vec<Rule> {
    n.ingress
        .iter()
        .map(|r| Rule {
            from: r
                .from
                .iter()
                .map(|p| Peer {
                    cidr: p.ip_block.as_ref().map(|b| b.cidr.clone()),
                    group_id: p.security_group.as_ref().map(|g| g.group_id.clone()),
                })
                .collect(),
            ports: r
                .ports
                .iter()
                .map(|p| Port {
                    udp: p.protocol == Some(crd::NetworkingProtocol::UDP),
                    port: p.port.clone(),
                })
                .collect(),
        })
        .collect()
}

/// Settings the step needs.
pub(super) struct NetSettings<'a> {
    pub cluster: &'a str,
    pub vpc_id: Option<&'a str>,
    pub unrestricted: bool,
}

impl NetState {
    /// Forgets everything read from AWS (a new term, a resync).
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// One networking step over `bindings` (every binding of the cluster).
    pub(super) async fn reconcile(
        &mut self,
        aws: &AwsClients,
        settings: &NetSettings<'_>,
        bindings: &[NetBinding<'_>],
    ) -> NetOutcome {
        let with_net: Vec<&NetBinding<'_>> = bindings
            .iter()
            .filter(|b| b.tgb.spec.networking.is_some())
            .collect();
        let nothing_applied = self
            .applied
            .as_ref()
            .is_none_or(|a| a.values().all(BTreeSet::is_empty));
        if with_net.is_empty() && nothing_applied {
            self.applied = Some(BTreeMap::new());
            return NetOutcome::default();
        }
        let mut out = NetOutcome::default();
        let mut unknown = false;
        let mut live: Vec<BindingNeeds> = Vec::new();
        let mut deleting: Vec<BindingNeeds> = Vec::new();
        for b in &with_net {
            match self.needs(aws, settings, b).await {
                Ok(n) if b.deleting => deleting.push(n),
                Ok(n) => live.push(n),
                Err(p) => {
                    if !b.deleting {
                        unknown = true;
                    }
                    out.problems.push((b.key.clone(), p));
                }
            }
        }
        let desired = aggregate(&live, settings.unrestricted);
        let ours = match &self.applied {
            Some(a) => a.clone(),
            // A new term: what the bindings we see ask for (deleted ones included) is what
            // we (or LBC) added.
            None => aggregate(live.iter().chain(&deleting), settings.unrestricted),
        };
        // Nothing to do: what is wanted is what was applied (while some binding's needs are
        // unknown, nothing can be revoked: what is wanted was already authorized).
        let done = match &self.applied {
            Some(a) if unknown => merge(a, &desired) == *a,
            Some(a) => *a == desired,
            None => false,
        };
        if done {
            return out;
        }
        match self
            .apply(aws, settings, &desired, &ours, unknown)
            .instrument(tracing::info_span!(
                "binding_networking",
                groups = desired.len()
            ))
            .await
        {
            Ok(()) => {
                self.applied = Some(if unknown {
                    merge(&ours, &desired)
                } else {
                    desired
                });
            }
            Err(p) => {
                // What may have been authorized counts as ours: a retry can revoke it.
                self.applied = Some(merge(&ours, &desired));
                out.all = Some(p);
            }
        }
        out
    }

    /// Reads the groups of `desired` and `ours` and sends the difference.
    async fn apply(
        &mut self,
        aws: &AwsClients,
        settings: &NetSettings<'_>,
        desired: &BTreeMap<String, BTreeSet<SgPermission>>,
        ours: &BTreeMap<String, BTreeSet<SgPermission>>,
        authorize_only: bool,
    ) -> Result<(), Problem> {
        let ids: Vec<String> = desired
            .keys()
            .chain(ours.keys())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let groups = security_groups(aws, &ids)
            .await
            .map_err(|e| Problem::aws(FAILED_NETWORK, &e))?;
        let backend = if authorize_only {
            None
        } else {
            backend_group(aws, settings.cluster)
                .await
                .map_err(|e| Problem::aws(FAILED_NETWORK, &e))?
        };
        let empty = BTreeSet::new();
        let mut changes: Vec<Change> = Vec::new();
        for g in &groups {
            let c = group_changes(
                g,
                desired.get(&g.id).unwrap_or(&empty),
                ours.get(&g.id).unwrap_or(&empty),
                backend.as_deref(),
                authorize_only,
            );
            let stack = format!("networking/{}", g.id);
            let resource = format!("target security group {} ({})", g.name, g.id);
            if !c.authorize.is_empty() {
                changes.push(Change {
                    stack: stack.clone(),
                    resource: resource.clone(),
                    kind: ChangeKind::Modify,
                    reason: Some("TargetGroupBinding spec.networking".into()),
                    op: Op::AuthorizeSecurityGroupIngress {
                        group: Ref::Existing(g.id.clone()),
                        permissions: c.authorize,
                    },
                });
            }
            if !c.revoke.is_empty() {
                changes.push(Change {
                    stack,
                    resource,
                    kind: ChangeKind::Modify,
                    reason: Some("no TargetGroupBinding needs it any more".into()),
                    op: Op::RevokeSecurityGroupIngress {
                        group: g.id.clone(),
                        permissions: c.revoke,
                    },
                });
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let report = send_target_changes(aws, &changes).await;
        for (c, o) in changes.iter().zip(&report.outcomes) {
            match o {
                Outcome::Done => {}
                Outcome::Failed(e) => {
                    return Err(Problem::retry_as(
                        super::class_of_execute(e),
                        FAILED_NETWORK,
                        format!("{} on {}: {e}", c.operation(), c.resource),
                    ))
                }
                Outcome::Skipped { reason } => {
                    return Err(Problem::retry(
                        FAILED_NETWORK,
                        format!("{} on {} skipped: {reason}", c.operation(), c.resource),
                    ))
                }
            }
        }
        Ok(())
    }

    /// A binding's endpoint groups and permissions.
    async fn needs(
        &mut self,
        aws: &AwsClients,
        settings: &NetSettings<'_>,
        b: &NetBinding<'_>,
    ) -> Result<BindingNeeds, Problem> {
        let rules = b
            .tgb
            .spec
            .networking
            .as_ref()
            .map(rules_of)
            .unwrap_or_default();
        let permissions =
            binding_permissions(&rules).map_err(|e| Problem::new(FAILED_NETWORK, e.to_string()))?;
        let Some((target_type, targets)) = &b.targets else {
            return Err(Problem::retry(
                FAILED_NETWORK,
                "the targets of the binding are not known (its target group could not be read)",
            ));
        };
        let ids: BTreeSet<String> = targets.iter().map(|t| t.id.clone()).collect();
        self.resolve(aws, settings, *target_type, &ids).await?;
        let groups = ids
            .iter()
            .filter_map(|id| self.endpoint.get(id).cloned())
            .collect();
        Ok(BindingNeeds {
            groups,
            permissions,
        })
    }

    /// Resolves the endpoint group of every id not cached yet.
    async fn resolve(
        &mut self,
        aws: &AwsClients,
        settings: &NetSettings<'_>,
        target_type: TargetType,
        ids: &BTreeSet<String>,
    ) -> Result<(), Problem> {
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !self.endpoint.contains_key(*id))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let found = match target_type {
            TargetType::Instance => instance_interfaces(aws, &missing)
                .await
                .map_err(|e| Problem::aws(FAILED_NETWORK, &e))?,
            _ => {
                let vpc = match &self.vpc {
                    Some(v) => v.clone(),
                    None => {
                        let v = cluster_vpc(aws, settings.cluster, settings.vpc_id)
                            .await
                            .map_err(|m| Problem::retry_as(ErrorClass::Other, FAILED_NETWORK, m))?;
                        self.vpc = Some(v.clone());
                        v
                    }
                };
                address_interfaces(aws, &vpc, &missing)
                    .await
                    .map_err(|e| Problem::aws(FAILED_NETWORK, &e))?
            }
        };
        let unresolved: Vec<&String> = missing
            .iter()
            .filter(|id| !found.contains_key(*id))
            .collect();
        if !unresolved.is_empty() {
            let what = if target_type == TargetType::Instance {
                "node ENI for instances"
            } else {
                "pod ENI for addresses"
            };
            return Err(Problem::retry(
                FAILED_NETWORK,
                format!(
                    "cannot resolve {what}: [{}]",
                    unresolved
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        // Interfaces with several groups choose by tag: read the groups not read yet.
        let untagged: Vec<String> = found
            .values()
            .filter(|i| i.groups.len() > 1)
            .flat_map(|i| i.groups.iter())
            .filter(|g| !self.tag_keys.contains_key(*g))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !untagged.is_empty() {
            for g in security_groups(aws, &untagged)
                .await
                .map_err(|e| Problem::aws(FAILED_NETWORK, &e))?
            {
                self.tag_keys
                    .insert(g.id.clone(), g.tags.keys().cloned().collect());
            }
        }
        for (id, eni) in found {
            let group = endpoint_group(
                &eni.eni,
                &eni.groups,
                |g| self.tag_keys.get(g).cloned(),
                settings.cluster,
            )
            .map_err(|m| Problem::retry(FAILED_NETWORK, m))?;
            self.endpoint.insert(id, group);
        }
        Ok(())
    }
}

/// `a` and `b` together, per group.
fn merge(
    a: &BTreeMap<String, BTreeSet<SgPermission>>,
    b: &BTreeMap<String, BTreeSet<SgPermission>>,
) -> BTreeMap<String, BTreeSet<SgPermission>> {
    let mut out = a.clone();
    for (g, perms) in b {
        out.entry(g.clone())
            .or_default()
            .extend(perms.iter().cloned());
    }
    out
}
