//! Desired state of AWS load balancers, as pure data.
//!
//! Everything here is built by [`crate::build`] and deployed by a later layer. The shapes stay
//! close to the ELBv2 API (attribute maps, health-check fields, condition field names) so the
//! deployer can diff them against described resources with little translation. Every collection
//! is either a `BTreeMap` or a `Vec` in a documented, deterministic order, so serialising a
//! model twice gives the same bytes.
mod elbv2;
mod ids;
pub mod tags;

pub use elbv2::{
    ActionSpec, ConditionSpec, FixedResponseSpec, HealthCheckSpec, IpAddressType, ListenerSpec,
    LoadBalancerSpec, LoadBalancerType, MatcherSpec, Protocol, ProtocolVersion,
    QueryStringKeyValue, RedirectSpec, RuleSpec, Scheme, StickinessSpec, TargetGroupRef,
    TargetGroupSpec, TargetSpec, TargetType,
};
pub use ids::{
    backend_security_group_name, load_balancer_name, sanitize_name_part, target_group_name,
    StackId, StackKind, TargetGroupNameInputs, MAX_NAME_LEN,
};

use serde::{Deserialize, Serialize};

/// One load balancer and everything attached to it: the unit that is built and deployed together.
///
/// For Ingresses a stack is an IngressGroup (explicit `group.name`, or an implicit group of one
/// Ingress).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    /// Stack id: the group name for explicit groups, `namespace/name` for an implicit group.
    pub id: StackId,
    /// The load balancer itself.
    pub load_balancer: LoadBalancerSpec,
    /// Listeners, sorted by port.
    pub listeners: Vec<ListenerSpec>,
    /// Target groups referenced by the listeners, sorted by id.
    pub target_groups: Vec<TargetGroupSpec>,
    /// Hostnames that get Route53 alias records pointing at the load balancer, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<crate::dns::DesiredHost>,
    /// Hostnames of objects left out of the stack for errors: their DNS records are kept
    /// until the object is fixed or deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_hostnames: Vec<crate::dns::DesiredHost>,
    /// The Kubernetes objects the stack is made of, as the DNS registry names them
    /// (`ingress/ns/name`, `service/ns/name`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
}

/// An error attached to the Kubernetes object that caused it, as printed by `plan`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectError {
    /// The object, as `kind namespace/name` (or `kind name` when cluster-scoped).
    pub object: String,
    /// What is wrong, naming the field or annotation, the value and what was expected.
    pub message: String,
}

/// Everything that should exist, plus what could not be translated: the `plan` contract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredState {
    /// Stacks sorted by id.
    pub stacks: Vec<Stack>,
    /// Route53 records the stacks' hostnames want, sorted by name and type.
    #[serde(default)]
    pub dns_records: Vec<crate::dns::PlannedRecord>,
    /// Errors sorted by object, then message.
    pub errors: Vec<ObjectError>,
}

impl DesiredState {
    /// Fills in `dns_records` under `opts`.
    #[must_use]
    pub fn with_dns_records(mut self, opts: &crate::dns::DnsOptions) -> Self {
        self.dns_records = crate::dns::desired_records(&self.stacks, opts);
        self
    }
}
