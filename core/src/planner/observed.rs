//! What exists in AWS, as read by the AWS layer and handed to the pure planner.
//!
//! These types use the model's own vocabulary ([`ConditionSpec`], [`ActionSpec`],
//! [`HealthCheckSpec`], [`TargetSpec`]) so desired and observed can be compared after
//! canonicalisation. Target groups in observed actions are referenced by ARN.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::discovery::Tags;
use crate::model::{ActionSpec, ConditionSpec, HealthCheckSpec, TargetSpec, TransformSpec};

/// A load balancer owned by a stack, with everything attached to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedLoadBalancer {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// `application` or `network`.
    #[serde(rename = "type")]
    pub lb_type: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `ipv4`, `dualstack`, ...
    pub ip_address_type: String,
    /// DNS name clients use.
    pub dns_name: String,
    /// Route53 zone of the DNS name, for alias records.
    pub canonical_hosted_zone_id: String,
    /// VPC.
    pub vpc_id: String,
    /// Subnet IDs (sorted).
    pub subnets: Vec<String>,
    /// Security group IDs (sorted).
    pub security_groups: Vec<String>,
    /// The addresses of its subnet mappings, when AWS reported any (`None`: not reported, as
    /// LocalStack's moto does not; nothing is then compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<ObservedAddresses>,
    /// Every attribute AWS reports (DescribeLoadBalancerAttributes).
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: Tags,
    /// Listeners, sorted by port.
    pub listeners: Vec<ObservedListener>,
    /// The web ACL (GetWebACLForResource), read only when the desired state names one (or
    /// `none`); `None` when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2: Option<ObservedWebAcl>,
    /// The Shield Advanced protection (DescribeProtection), read only when the desired state
    /// sets one and the account is subscribed; `None` when not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield: Option<ObservedShield>,
}

/// What GetWebACLForResource answered for a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedWebAcl {
    /// The associated web ACL's ARN, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_arn: Option<String>,
}

/// What DescribeProtection answered for a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedShield {
    /// The protection, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<ObservedProtection>,
}

/// A Shield Advanced protection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedProtection {
    /// Protection id.
    pub id: String,
    /// Protection name (only those named as LBC names them are ever deleted).
    pub name: String,
}

/// The addresses of a load balancer's subnet mappings (DescribeLoadBalancers'
/// `AvailabilityZones[].LoadBalancerAddresses`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedAddresses {
    /// Elastic IP allocation ids (sorted); empty when AWS assigned the addresses.
    pub eip_allocations: Vec<String>,
    /// Private IPv4 addresses (sorted): chosen or assigned, AWS does not say which.
    pub private_ipv4_addresses: Vec<String>,
}

impl ObservedListener {
    /// The non-default entries of DescribeListenerCertificates: the certificates after the
    /// default, and the default again when it is also listed.
    #[must_use]
    pub fn extra_certificates(&self) -> Vec<&String> {
        let mut out: Vec<&String> = self.certificates.iter().skip(1).collect();
        if self.default_also_listed {
            out.extend(self.certificates.first());
        }
        out
    }

    /// Sets the certificates as AWS reports them: the default one and the non-default entries.
    pub fn set_certificates(&mut self, default: Option<String>, extra: &[String]) {
        self.default_also_listed = default.as_ref().is_some_and(|d| extra.contains(d));
        let mut all: Vec<String> = default.into_iter().collect();
        for c in extra {
            if !all.contains(c) {
                all.push(c.clone());
            }
        }
        self.certificates = all;
    }
}

/// A listener and its rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedListener {
    /// ARN.
    pub arn: String,
    /// Port.
    pub port: u16,
    /// `HTTP`, `HTTPS`, `TCP`, ...
    pub protocol: String,
    /// Default actions, target groups referenced by ARN.
    pub default_actions: Vec<ActionSpec>,
    /// TLS policy.
    pub ssl_policy: Option<String>,
    /// Default certificate ARN first, then the others (DescribeListenerCertificates), no
    /// duplicates.
    pub certificates: Vec<String>,
    /// Whether DescribeListenerCertificates also lists the default certificate as a
    /// non-default entry (LBC adds every certificate, the default one included, so).
    #[serde(default)]
    pub default_also_listed: bool,
    /// ALPN policy (TLS listeners).
    #[serde(default)]
    pub alpn_policy: Option<String>,
    /// Listener attributes (DescribeListenerAttributes), read only for listeners whose
    /// desired state sets some; empty otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Mutual TLS as DescribeListeners reports it (`None` when it reports none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<crate::model::MutualAuthenticationSpec>,
    /// Tags.
    pub tags: Tags,
    /// Non-default rules, sorted by priority.
    pub rules: Vec<ObservedRule>,
}

/// A listener rule (the default rule is not included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRule {
    /// ARN.
    pub arn: String,
    /// Priority.
    pub priority: u32,
    /// Conditions (from the `*Config` forms of the API).
    pub conditions: Vec<ConditionSpec>,
    /// Actions, target groups referenced by ARN.
    pub actions: Vec<ActionSpec>,
    /// Transforms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<TransformSpec>,
    /// Tags.
    pub tags: Tags,
}

/// A target group owned by a stack, with its registered targets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTargetGroup {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Port.
    pub port: u16,
    /// `HTTP`, `HTTPS`, `TCP`, ...
    pub protocol: String,
    /// `HTTP1`, `HTTP2`, `GRPC` (ALB target groups), empty otherwise.
    pub protocol_version: String,
    /// `ip` or `instance`.
    pub target_type: String,
    /// `ipv4` or `ipv6`.
    pub ip_address_type: String,
    /// VPC.
    pub vpc_id: String,
    /// Health check as AWS reports it.
    pub health_check: HealthCheckSpec,
    /// Every attribute AWS reports (DescribeTargetGroupAttributes).
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    pub tags: Tags,
    /// Registered targets that are not draining, sorted.
    pub targets: Vec<TargetSpec>,
    /// Load balancers routing to it.
    pub load_balancer_arns: Vec<String>,
}

/// One ingress permission of a security group, flattened to a single source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SgPermission {
    /// `tcp`, `udp`, `icmp` or `-1`.
    pub protocol: String,
    /// First port.
    pub from_port: i32,
    /// Last port.
    pub to_port: i32,
    /// Exactly one source: an IPv4 CIDR, an IPv6 CIDR or a security group id.
    pub source: SgSource,
    /// Rule description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where permitted traffic comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SgSource {
    /// IPv4 CIDR.
    Cidr(String),
    /// IPv6 CIDR.
    CidrV6(String),
    /// Security group id.
    Group(String),
    /// Managed prefix list id (`pl-…`).
    PrefixList(String),
    /// A security group created earlier in the same plan, by its plan key (planned changes
    /// only; never observed).
    NewGroup(String),
}

/// A security group: managed frontend, the shared backend, or a target (node) group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedSecurityGroup {
    /// `sg-...`.
    pub id: String,
    /// Group name.
    pub name: String,
    /// VPC.
    pub vpc_id: String,
    /// Tags.
    pub tags: Tags,
    /// Ingress permissions, flattened and sorted.
    pub ingress: Vec<SgPermission>,
}

/// Everything one stack owns, found by its tracking tags (cluster + stack).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedStack {
    /// Load balancers tagged with the stack (normally zero or one).
    pub load_balancers: Vec<ObservedLoadBalancer>,
    /// Target groups tagged with the stack.
    pub target_groups: Vec<ObservedTargetGroup>,
    /// Managed security groups tagged with the stack.
    pub security_groups: Vec<ObservedSecurityGroup>,
    /// True when listeners, rules and attributes were not read because the load balancer
    /// carries the hash of the current desired state ([`super::trust`]): the planner leaves
    /// them alone and plans only what was read (targets, and what the listings show).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trusted: bool,
}

impl ObservedStack {
    /// True when the stack owns nothing in AWS.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.load_balancers.is_empty()
            && self.target_groups.is_empty()
            && self.security_groups.is_empty()
    }
}

/// Names of resources in the region that the cluster does not own, so a create never collides
/// with (or, through AWS's idempotent create, silently adopts) a foreign resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForeignNames {
    /// Load balancer name → ARN.
    pub load_balancers: BTreeMap<String, String>,
    /// Target group name → ARN.
    pub target_groups: BTreeMap<String, String>,
    /// Security group name (in the VPC) → id.
    pub security_groups: BTreeMap<String, String>,
}
