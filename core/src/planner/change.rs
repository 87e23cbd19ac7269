//! Planned changes: one AWS write each, in execution order, serialisable for `diff` and `apply`.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::observed::SgPermission;
use crate::discovery::Tags;
use crate::model::{ActionSpec, ConditionSpec, HealthCheckSpec, TargetSpec, TransformSpec};

/// A resource that either exists (its ARN or id) or is created earlier in the same plan (its
/// key, resolved to the new ARN or id at execution).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Ref {
    /// An existing resource: ARN (ELBv2) or id (EC2).
    Existing(String),
    /// A resource created by an earlier change of the plan, by [`Change::creates`] key.
    New(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Existing(id) => f.write_str(id),
            Self::New(key) => write!(f, "(new {key})"),
        }
    }
}

/// Keys of resources created by a plan. Stack-local keys are prefixed with the stack id so one
/// plan can hold many stacks.
pub mod keys {
    /// The shared backend security group of the cluster.
    pub const BACKEND_SG: &str = "backend-sg";

    /// The stack's load balancer.
    #[must_use]
    pub fn load_balancer(stack: &str) -> String {
        format!("{stack}|lb")
    }
    /// The stack's managed frontend security group.
    #[must_use]
    pub fn frontend_sg(stack: &str) -> String {
        format!("{stack}|sg")
    }
    /// A listener of the stack, by port.
    #[must_use]
    pub fn listener(stack: &str, port: u16) -> String {
        format!("{stack}|listener:{port}")
    }
    /// A target group of the stack, by resource id.
    #[must_use]
    pub fn target_group(stack: &str, id: &str) -> String {
        format!("{stack}|tg:{id}")
    }
}

/// What kind of change, for summaries (`3 to create, 1 to modify, ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// A new resource.
    Create,
    /// An in-place update (fields, tags, attributes, priorities, permissions).
    Modify,
    /// Deleting an owned resource (including the delete half of a replacement).
    Delete,
    /// Targets registered.
    Register,
    /// Targets deregistered.
    Deregister,
}

/// One planned AWS write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Stack id, or empty for cluster-wide resources (the backend security group).
    pub stack: String,
    /// Human-readable resource: `load balancer k8s-...`, `listener 80`, `rule 80 priority 3`,
    /// `target group k8s-... (ns/ing-svc:80)`, `security group k8s-...`.
    pub resource: String,
    /// Kind, for summaries.
    pub kind: ChangeKind,
    /// Why, when it is not obvious (`scheme changed from internal to internet-facing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The AWS call and its inputs.
    pub op: Op,
}

impl Change {
    /// What the change concerns: the cluster (empty `stack`) or one stack.
    #[must_use]
    pub fn scope(&self) -> super::Scope {
        super::Scope::of_field(&self.stack)
    }

    /// The key this change creates, if it creates a resource later changes refer to.
    #[must_use]
    pub fn creates(&self) -> Option<&str> {
        match &self.op {
            Op::CreateSecurityGroup { key, .. }
            | Op::CreateTargetGroup { key, .. }
            | Op::CreateLoadBalancer { key, .. }
            | Op::CreateListener { key, .. } => Some(key),
            _ => None,
        }
    }

    /// `service.Operation`, as the call counter names it.
    #[must_use]
    pub fn operation(&self) -> &'static str {
        self.op.operation()
    }
}

/// A target group to create (everything but its targets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTargetGroup {
    /// Name.
    pub name: String,
    /// Port.
    pub port: u16,
    /// `HTTP`, `HTTPS`, ...
    pub protocol: String,
    /// `HTTP1`, `HTTP2`, `GRPC`; `None` for NLB target groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// `ip` or `instance`.
    pub target_type: String,
    /// `ipv4` or `ipv6`.
    pub ip_address_type: String,
    /// VPC.
    pub vpc_id: String,
    /// Health check.
    pub health_check: HealthCheckSpec,
}

/// A load balancer to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewLoadBalancer {
    /// Name.
    pub name: String,
    /// `application` or `network`.
    #[serde(rename = "type")]
    pub lb_type: String,
    /// `internal` or `internet-facing`.
    pub scheme: String,
    /// `ipv4`, `dualstack`, ...
    pub ip_address_type: String,
    /// Subnet IDs.
    pub subnets: Vec<String>,
    /// Security groups (existing ids or groups created earlier in the plan).
    pub security_groups: Vec<Ref>,
    /// Elastic IP allocation ids, one per subnet in order (internet-facing NLBs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eip_allocations: Vec<String>,
    /// Private IPv4 addresses, one per subnet in order (internal NLBs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_ipv4_addresses: Vec<String>,
}

/// A listener to create or modify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSettings {
    /// Port.
    pub port: u16,
    /// `HTTP`, `HTTPS`, `TCP`, ...
    pub protocol: String,
    /// TLS policy (secure listeners only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Default certificate ARN (secure listeners only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<String>,
    /// Default actions; forward target groups by `arn` (existing) or `id` (created earlier in
    /// the plan, resolved through [`keys::target_group`]).
    pub default_actions: Vec<ActionSpec>,
    /// ALPN policy (TLS listeners of NLBs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_policy: Option<String>,
    /// Mutual TLS (`None`: not sent, the listener keeps its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<crate::model::MutualAuthenticationSpec>,
}

/// One AWS write. Serialised with `operation` = `service.Operation`, as the call counter
/// names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all_fields = "camelCase")]
pub enum Op {
    // ---- EC2 security groups ----
    /// Creates a security group, tagged at creation.
    #[serde(rename = "ec2.CreateSecurityGroup")]
    CreateSecurityGroup {
        /// Plan key of the new group.
        key: String,
        /// Group name.
        name: String,
        /// Description.
        description: String,
        /// VPC.
        vpc_id: String,
        /// Tags (tracking tags included).
        tags: Tags,
    },
    /// Adds ingress permissions.
    #[serde(rename = "ec2.AuthorizeSecurityGroupIngress")]
    AuthorizeSecurityGroupIngress {
        /// The group.
        group: Ref,
        /// Permissions (a source may be a group created earlier in the plan).
        permissions: Vec<SgPermission>,
    },
    /// Removes ingress permissions.
    #[serde(rename = "ec2.RevokeSecurityGroupIngress")]
    RevokeSecurityGroupIngress {
        /// The group id.
        group: String,
        /// Permissions, exactly as observed.
        permissions: Vec<SgPermission>,
    },
    /// Adds or overwrites tags on a security group.
    #[serde(rename = "ec2.CreateTags")]
    Ec2CreateTags {
        /// The group id.
        resource: String,
        /// Tags to set.
        tags: Tags,
    },
    /// Removes tags from a security group.
    #[serde(rename = "ec2.DeleteTags")]
    Ec2DeleteTags {
        /// The group id.
        resource: String,
        /// Keys to remove.
        keys: Vec<String>,
    },
    /// Deletes a security group (retried while load balancer interfaces still use it).
    #[serde(rename = "ec2.DeleteSecurityGroup")]
    DeleteSecurityGroup {
        /// The group id.
        group: String,
    },

    // ---- ELBv2 target groups ----
    /// Creates a target group, tagged at creation.
    #[serde(rename = "elbv2.CreateTargetGroup")]
    CreateTargetGroup {
        /// Plan key ([`keys::target_group`]).
        key: String,
        /// The group.
        target_group: NewTargetGroup,
        /// Tags (tracking tags included).
        tags: Tags,
    },
    /// Changes the health check.
    #[serde(rename = "elbv2.ModifyTargetGroup")]
    ModifyTargetGroup {
        /// The group.
        target_group: Ref,
        /// The whole desired health check.
        health_check: HealthCheckSpec,
    },
    /// Sets the attributes that differ.
    #[serde(rename = "elbv2.ModifyTargetGroupAttributes")]
    ModifyTargetGroupAttributes {
        /// The group.
        target_group: Ref,
        /// Only the keys whose values differ.
        attributes: BTreeMap<String, String>,
    },
    /// Registers targets (at most [`super::REGISTER_BATCH`] per call).
    #[serde(rename = "elbv2.RegisterTargets")]
    RegisterTargets {
        /// The group.
        target_group: Ref,
        /// Targets.
        targets: Vec<TargetSpec>,
    },
    /// Deregisters targets (at most [`super::REGISTER_BATCH`] per call).
    #[serde(rename = "elbv2.DeregisterTargets")]
    DeregisterTargets {
        /// The group ARN.
        target_group: String,
        /// Targets.
        targets: Vec<TargetSpec>,
    },
    /// Deletes a target group (retried while a rule being deleted still references it).
    #[serde(rename = "elbv2.DeleteTargetGroup")]
    DeleteTargetGroup {
        /// ARN.
        arn: String,
    },

    // ---- ELBv2 load balancers ----
    /// Creates a load balancer, tagged at creation.
    #[serde(rename = "elbv2.CreateLoadBalancer")]
    CreateLoadBalancer {
        /// Plan key ([`keys::load_balancer`]).
        key: String,
        /// The load balancer.
        load_balancer: NewLoadBalancer,
        /// Tags (tracking tags included).
        tags: Tags,
    },
    /// Replaces the security groups.
    #[serde(rename = "elbv2.SetSecurityGroups")]
    SetSecurityGroups {
        /// The load balancer.
        load_balancer: Ref,
        /// The whole desired list.
        security_groups: Vec<Ref>,
    },
    /// Replaces the subnets.
    #[serde(rename = "elbv2.SetSubnets")]
    SetSubnets {
        /// The load balancer.
        load_balancer: Ref,
        /// The whole desired list.
        subnets: Vec<String>,
    },
    /// Changes the IP address type.
    #[serde(rename = "elbv2.SetIpAddressType")]
    SetIpAddressType {
        /// The load balancer.
        load_balancer: Ref,
        /// `ipv4`, `dualstack`, ...
        ip_address_type: String,
    },
    /// Sets the attributes that differ.
    #[serde(rename = "elbv2.ModifyLoadBalancerAttributes")]
    ModifyLoadBalancerAttributes {
        /// The load balancer.
        load_balancer: Ref,
        /// Only the keys whose values differ.
        attributes: BTreeMap<String, String>,
    },
    /// Deletes a load balancer (its listeners and rules go with it).
    #[serde(rename = "elbv2.DeleteLoadBalancer")]
    DeleteLoadBalancer {
        /// ARN.
        arn: String,
    },

    // ---- ELBv2 listeners ----
    /// Creates a listener, tagged at creation.
    #[serde(rename = "elbv2.CreateListener")]
    CreateListener {
        /// Plan key ([`keys::listener`]).
        key: String,
        /// The load balancer.
        load_balancer: Ref,
        /// Settings.
        listener: ListenerSettings,
        /// Tags (tracking tags included).
        tags: Tags,
    },
    /// Changes protocol, TLS policy, default certificate or default actions.
    #[serde(rename = "elbv2.ModifyListener")]
    ModifyListener {
        /// The listener ARN.
        arn: String,
        /// The whole desired settings.
        listener: ListenerSettings,
    },
    /// Sets the listener attributes that differ.
    #[serde(rename = "elbv2.ModifyListenerAttributes")]
    ModifyListenerAttributes {
        /// The listener.
        listener: Ref,
        /// Only the keys whose values differ.
        attributes: BTreeMap<String, String>,
    },
    /// Adds SNI certificates.
    #[serde(rename = "elbv2.AddListenerCertificates")]
    AddListenerCertificates {
        /// The listener.
        listener: Ref,
        /// Certificate ARNs.
        certificates: Vec<String>,
    },
    /// Removes SNI certificates.
    #[serde(rename = "elbv2.RemoveListenerCertificates")]
    RemoveListenerCertificates {
        /// The listener ARN.
        listener: String,
        /// Certificate ARNs.
        certificates: Vec<String>,
    },
    /// Deletes a listener (its rules go with it).
    #[serde(rename = "elbv2.DeleteListener")]
    DeleteListener {
        /// ARN.
        arn: String,
    },

    // ---- ELBv2 rules ----
    /// Creates a rule, tagged at creation.
    #[serde(rename = "elbv2.CreateRule")]
    CreateRule {
        /// The listener.
        listener: Ref,
        /// Priority.
        priority: u32,
        /// Conditions.
        conditions: Vec<ConditionSpec>,
        /// Actions (forward target groups by `arn` or plan `id`, as for listeners).
        actions: Vec<ActionSpec>,
        /// Transforms.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<TransformSpec>,
        /// Tags (tracking tags included).
        tags: Tags,
    },
    /// Rewrites a rule's conditions, actions and transforms in place.
    #[serde(rename = "elbv2.ModifyRule")]
    ModifyRule {
        /// ARN.
        arn: String,
        /// Conditions.
        conditions: Vec<ConditionSpec>,
        /// Actions.
        actions: Vec<ActionSpec>,
        /// Transforms.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<TransformSpec>,
        /// Removes the rule's transforms (`ResetTransforms`): none desired, some observed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reset_transforms: bool,
    },
    /// Moves rules to new priorities in one call.
    #[serde(rename = "elbv2.SetRulePriorities")]
    SetRulePriorities {
        /// Rule ARN → new priority.
        priorities: BTreeMap<String, u32>,
    },
    /// Deletes a rule.
    #[serde(rename = "elbv2.DeleteRule")]
    DeleteRule {
        /// ARN.
        arn: String,
    },

    // ---- WAFv2 and Shield Advanced (load balancer add-ons) ----
    /// Associates a web ACL with a load balancer, replacing the one it has.
    #[serde(rename = "wafv2.AssociateWebACL")]
    AssociateWebAcl {
        /// The load balancer.
        load_balancer: Ref,
        /// The web ACL ARN.
        web_acl_arn: String,
    },
    /// Removes the load balancer's web ACL.
    #[serde(rename = "wafv2.DisassociateWebACL")]
    DisassociateWebAcl {
        /// The load balancer ARN.
        load_balancer: String,
    },
    /// Protects a load balancer with Shield Advanced.
    #[serde(rename = "shield.CreateProtection")]
    CreateProtection {
        /// The load balancer.
        load_balancer: Ref,
        /// Protection name ([`super::SHIELD_PROTECTION_NAME`], LBC's).
        name: String,
    },
    /// Removes a Shield Advanced protection.
    #[serde(rename = "shield.DeleteProtection")]
    DeleteProtection {
        /// The protection id.
        protection_id: String,
        /// The protected load balancer ARN (for messages).
        load_balancer: String,
    },

    // ---- ELBv2 tags (load balancers, listeners, rules, target groups) ----
    /// Adds or overwrites tags.
    #[serde(rename = "elbv2.AddTags")]
    AddTags {
        /// The resource ARN.
        resource: String,
        /// Tags to set.
        tags: Tags,
    },
    /// Removes tags.
    #[serde(rename = "elbv2.RemoveTags")]
    RemoveTags {
        /// The resource ARN.
        resource: String,
        /// Keys to remove.
        keys: Vec<String>,
    },
}

impl Op {
    /// `service.Operation`, as the call counter names it.
    #[must_use]
    pub const fn operation(&self) -> &'static str {
        match self {
            Self::CreateSecurityGroup { .. } => "ec2.CreateSecurityGroup",
            Self::AuthorizeSecurityGroupIngress { .. } => "ec2.AuthorizeSecurityGroupIngress",
            Self::RevokeSecurityGroupIngress { .. } => "ec2.RevokeSecurityGroupIngress",
            Self::Ec2CreateTags { .. } => "ec2.CreateTags",
            Self::Ec2DeleteTags { .. } => "ec2.DeleteTags",
            Self::DeleteSecurityGroup { .. } => "ec2.DeleteSecurityGroup",
            Self::CreateTargetGroup { .. } => "elbv2.CreateTargetGroup",
            Self::ModifyTargetGroup { .. } => "elbv2.ModifyTargetGroup",
            Self::ModifyTargetGroupAttributes { .. } => "elbv2.ModifyTargetGroupAttributes",
            Self::RegisterTargets { .. } => "elbv2.RegisterTargets",
            Self::DeregisterTargets { .. } => "elbv2.DeregisterTargets",
            Self::DeleteTargetGroup { .. } => "elbv2.DeleteTargetGroup",
            Self::CreateLoadBalancer { .. } => "elbv2.CreateLoadBalancer",
            Self::SetSecurityGroups { .. } => "elbv2.SetSecurityGroups",
            Self::SetSubnets { .. } => "elbv2.SetSubnets",
            Self::SetIpAddressType { .. } => "elbv2.SetIpAddressType",
            Self::ModifyLoadBalancerAttributes { .. } => "elbv2.ModifyLoadBalancerAttributes",
            Self::DeleteLoadBalancer { .. } => "elbv2.DeleteLoadBalancer",
            Self::CreateListener { .. } => "elbv2.CreateListener",
            Self::ModifyListener { .. } => "elbv2.ModifyListener",
            Self::ModifyListenerAttributes { .. } => "elbv2.ModifyListenerAttributes",
            Self::AddListenerCertificates { .. } => "elbv2.AddListenerCertificates",
            Self::RemoveListenerCertificates { .. } => "elbv2.RemoveListenerCertificates",
            Self::DeleteListener { .. } => "elbv2.DeleteListener",
            Self::CreateRule { .. } => "elbv2.CreateRule",
            Self::ModifyRule { .. } => "elbv2.ModifyRule",
            Self::SetRulePriorities { .. } => "elbv2.SetRulePriorities",
            Self::DeleteRule { .. } => "elbv2.DeleteRule",
            Self::AssociateWebAcl { .. } => "wafv2.AssociateWebACL",
            Self::DisassociateWebAcl { .. } => "wafv2.DisassociateWebACL",
            Self::CreateProtection { .. } => "shield.CreateProtection",
            Self::DeleteProtection { .. } => "shield.DeleteProtection",
            Self::AddTags { .. } => "elbv2.AddTags",
            Self::RemoveTags { .. } => "elbv2.RemoveTags",
        }
    }
}
