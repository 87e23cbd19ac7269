//! Deploy planning, pure: compare what should exist ([`crate::model::Stack`]) with what does
//! ([`observed`]) and produce the minimal ordered list of AWS writes ([`change::Change`]).
//!
//! The AWS layer observes (reads) and executes (writes); everything in between is here, so
//! every decision — what to create, modify, replace, delete, and in which order — is
//! unit-tested without AWS. Both sides are canonicalised first (defaults, ordering, case), so
//! an unchanged stack plans nothing.
//!
//! Order of a plan: cluster-wide security groups, then per stack: security groups → target
//! groups → load balancer → listeners → rules → targets, then deletes in reverse (rules,
//! listeners, load balancer, target groups, security groups), then cluster-wide cleanup.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Stack, StackId};

mod canon;
pub mod change;
pub mod cluster;
mod existing;
pub mod networking;
pub mod observed;
mod plan;
mod scope;
pub mod trust;

pub use change::{
    keys, Change, ChangeKind, ListenerSettings, NewLoadBalancer, NewTargetGroup, Op, Ref,
};
pub use existing::keep_existing_scheme;
pub use observed::{
    ForeignNames, ObservedAddresses, ObservedListener, ObservedLoadBalancer, ObservedProtection,
    ObservedRule, ObservedSecurityGroup, ObservedShield, ObservedStack, ObservedTargetGroup,
    ObservedWebAcl, SgPermission, SgSource,
};
pub use plan::{plan, target_changes};
pub use scope::Scope;

/// Targets per RegisterTargets / DeregisterTargets call (the AWS Load Balancer Controller's
/// chunk size, well inside the API's limits).
pub const REGISTER_BATCH: usize = 200;
/// Highest rule priority ELBv2 accepts.
pub const MAX_RULE_PRIORITY: u32 = 50_000;
/// Tag value of `elbv2.k8s.aws/resource` on the shared backend security group.
pub const BACKEND_SG_RESOURCE: &str = "backend-sg";
/// Tag key naming the resource on cluster-wide resources (the backend security group).
pub const CLUSTER_RESOURCE_TAG: &str = "elbv2.k8s.aws/resource";
/// Resource id of a stack's managed frontend security group.
pub const FRONTEND_SG_RESOURCE: &str = "ManagedLBSecurityGroup";
/// Description of managed frontend security groups (LBC's).
pub const FRONTEND_SG_DESCRIPTION: &str = "[k8s] Managed SecurityGroup for LoadBalancer";
/// Description of the shared backend security group (LBC's).
pub const BACKEND_SG_DESCRIPTION: &str = "[k8s] Shared Backend SecurityGroup for LoadBalancer";
/// Name of the Shield Advanced protections the operator creates (LBC's, so either deletes the
/// other's).
pub const SHIELD_PROTECTION_NAME: &str = "managed by aws-load-balancer-controller";
/// Names of protections the operator may delete: its own, and LBC's older name.
pub const SHIELD_MANAGED_NAMES: &[&str] = &[
    SHIELD_PROTECTION_NAME,
    "managed by aws-alb-ingress-controller",
];
/// Description of the permissions the operator adds to target (node) security groups.
pub const TARGET_RULE_DESCRIPTION: &str = "elbv2.k8s.aws/targetGroupBinding=shared";

/// Facts about one stack that the AWS layer resolved before planning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackFacts {
    /// Subnet IDs for the load balancer: from the `subnets` annotation (resolved from IDs or
    /// Name tags) or discovery. `Err` holds the message when none could be found.
    pub subnets: Result<Vec<String>, String>,
    /// True when the subnets come from the user: then an existing load balancer is moved to
    /// them; otherwise its current subnets are kept.
    pub subnets_explicit: bool,
    /// IDs of the security groups named by the `security-groups` annotation (empty when the
    /// stack uses a managed security group). `Err` holds the message when one is missing.
    pub security_groups: Result<Vec<String>, String>,
    /// `Err` holds the message when the ACM certificates of a listener that names none could
    /// not be discovered ([`crate::certificates::resolve_stack`]): the stack is not planned.
    #[serde(default = "certificates_ok")]
    pub certificates: Result<(), String>,
}

fn certificates_ok() -> Result<(), String> {
    Ok(())
}

/// One stack to plan.
#[derive(Clone, Debug)]
pub struct StackInput<'a> {
    /// The stack id (`ingress.k8s.aws/stack` tag value).
    pub id: StackId,
    /// What should exist; `None` deletes everything the stack owns.
    pub desired: Option<&'a Stack>,
    /// What the stack owns in AWS today, in full detail.
    pub observed: &'a ObservedStack,
    /// Resolved subnets and security groups.
    pub facts: &'a StackFacts,
}

/// Cluster-wide facts shared by every stack of one planning pass.
#[derive(Clone, Debug, Default)]
pub struct ClusterFacts {
    /// Cluster name (tracking tags).
    pub cluster: String,
    /// VPC of load balancers and target groups.
    pub vpc_id: String,
    /// Name of the shared backend security group (`k8s-traffic-<cluster>-<hash>`).
    pub backend_sg_name: String,
    /// The shared backend security group, when it exists.
    pub backend_sg: Option<ObservedSecurityGroup>,
    /// Security groups of the targets (tagged `kubernetes.io/cluster/<cluster>`), where the
    /// operator allows the backend security group in on the target ports. Not owned: only
    /// permissions whose source is the backend security group are ever changed.
    pub target_security_groups: Vec<ObservedSecurityGroup>,
    /// Stacks the cluster owns in AWS that this pass does not plan (kept as they are), read
    /// shallowly: load balancers without listeners, target groups without targets.
    pub unplanned: BTreeMap<String, ObservedStack>,
    /// Names held by resources the cluster does not own.
    pub foreign: ForeignNames,
    /// Tag keys managed outside the operator (`--external-managed-tags`): never removed.
    pub external_managed_tags: Vec<String>,
    /// `--disable-restricted-sg-rules` (LBC's flag): the backend group is allowed all traffic
    /// (protocol `-1`) on the target security groups instead of tcp per target port.
    pub unrestricted_sg_rules: bool,
    /// Whether the account has an active Shield Advanced subscription (GetSubscriptionState,
    /// read only when a stack sets Shield protection). As LBC, protections are created and
    /// deleted only then.
    pub shield_subscribed: bool,
}

/// An error that stopped the planning of one stack (the others are still planned).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackError {
    /// Stack id.
    pub stack: String,
    /// What is wrong.
    pub message: String,
}

impl StackError {
    /// What the error concerns: the cluster (empty `stack`) or one stack.
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope::of_field(&self.stack)
    }
}

/// The result of planning: changes in execution order, and stacks that could not be planned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Changes in execution order.
    pub changes: Vec<Change>,
    /// Stacks that could not be planned, and why.
    pub errors: Vec<StackError>,
}

impl Plan {
    /// Number of changes per kind.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        let mut out = BTreeMap::new();
        for c in &self.changes {
            *out.entry(c.kind).or_insert(0) += 1;
        }
        out
    }
}
