//! The custom resources of `elbv2.k8s.aws/v1beta1`: `TargetGroupBinding` and
//! `IngressClassParams`, field-compatible with the AWS Load Balancer Controller's, so objects
//! written for it are read unchanged (and its CRDs can be replaced by ours).
//!
//! The types derive [`kube::CustomResource`] and [`schemars::JsonSchema`]; `aws-lb-operator
//! crdgen` prints the CustomResourceDefinitions they generate ([`crds_yaml`]), and
//! `crds/crds.yaml` holds that output (a test keeps them equal).
//!
//! The pure `core` crate reads IngressClassParams through its own serde type
//! ([`aws_lb_operator_core::translate::IngressClassParams`], only the fields translation honours);
//! [`IngressClassParams::to_core`] converts, and the two serialise to the same JSON shape.
use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, CustomResourceExt};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// API group of both custom resources.
pub const GROUP: &str = "elbv2.k8s.aws";
/// API version of both custom resources.
pub const VERSION: &str = "v1beta1";

// ---------------------------------------------------------------------------------------------
// TargetGroupBinding
// ---------------------------------------------------------------------------------------------

/// TargetGroupBinding: keeps the targets of an existing ELBv2 target group (one this operator
/// does not otherwise own) equal to a Service port's endpoints (`ip`) or nodes (`instance`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "TargetGroupBinding",
    namespaced,
    status = "TargetGroupBindingStatus",
    derive = "PartialEq",
    derive = "Default",
    category = "all",
    doc = "TargetGroupBinding binds a Kubernetes Service port to an existing ELBv2 target group.",
    printcolumn = r#"{"name": "SERVICE-NAME", "type": "string", "description": "The Kubernetes Service's name", "jsonPath": ".spec.serviceRef.name"}"#,
    printcolumn = r#"{"name": "SERVICE-PORT", "type": "string", "description": "The Kubernetes Service's port", "jsonPath": ".spec.serviceRef.port"}"#,
    printcolumn = r#"{"name": "TARGET-TYPE", "type": "string", "description": "The AWS TargetGroup's TargetType", "jsonPath": ".spec.targetType"}"#,
    printcolumn = r#"{"name": "READY", "type": "string", "description": "Whether the target group's targets match the Service", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "ARN", "type": "string", "description": "The AWS TargetGroup's Amazon Resource Name", "jsonPath": ".spec.targetGroupARN", "priority": 1}"#,
    printcolumn = r#"{"name": "NAME", "type": "string", "description": "The AWS TargetGroup's name", "jsonPath": ".spec.targetGroupName", "priority": 1}"#,
    printcolumn = r#"{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingSpec {
    /// ARN of the target group. Wins over `targetGroupName` when both are set.
    #[serde(
        default,
        rename = "targetGroupARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_group_arn: Option<String>,
    /// Name of the target group (looked up in the region) when no ARN is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    /// Target type of the target group; read from AWS when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// Protocol of the target group; read from AWS when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_protocol: Option<TargetGroupProtocol>,
    /// The Service and port whose endpoints (or nodes) become the targets.
    pub service_ref: ServiceReference,
    /// Security group rules that let the load balancer reach the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<TargetGroupBindingNetworking>,
    /// For `instance` targets: only nodes matching this selector are registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector_schema")]
    pub node_selector: Option<LabelSelector>,
    /// IP address type of the target group; read from AWS when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<TargetGroupIpAddressType>,
    /// VPC of the target group; read from AWS when unset.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The target group is shared with other clusters: only targets this binding registered are
    /// ever deregistered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_cluster_target_group: Option<bool>,
    /// IAM role to assume for a target group in another account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn_to_assume: Option<String>,
    /// External id for assuming `iamRoleArnToAssume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role_external_id: Option<String>,
}

/// Target type: `instance` (node instance ids on the node port) or `ip` (pod addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TargetType {
    /// Node instance ids on the Service's node port.
    #[serde(rename = "instance")]
    Instance,
    /// Pod IP addresses on the container port.
    #[serde(rename = "ip")]
    Ip,
}

/// Target group protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum TargetGroupProtocol {
    /// HTTP.
    HTTP,
    /// HTTPS.
    HTTPS,
    /// TCP.
    TCP,
    /// TLS.
    TLS,
    /// UDP.
    UDP,
    /// TCP and UDP on the same port.
    #[serde(rename = "TCP_UDP")]
    TcpUdp,
    /// QUIC.
    QUIC,
    /// TCP and QUIC on the same port.
    #[serde(rename = "TCP_QUIC")]
    TcpQuic,
}

/// IP address type of a target group: `ipv4` or `ipv6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TargetGroupIpAddressType {
    /// IPv4 targets.
    #[serde(rename = "ipv4")]
    Ipv4,
    /// IPv6 targets.
    #[serde(rename = "ipv6")]
    Ipv6,
}

/// A Service port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceReference {
    /// Name of the Service, in the binding's namespace.
    pub name: String,
    /// Port of the Service: its number or its name.
    #[schemars(schema_with = "int_or_string_schema")]
    pub port: IntOrString,
}

/// Security group rules for the load balancer's traffic to the targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetGroupBindingNetworking {
    /// Ingress rules on the targets' security groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkingIngressRule>,
}

/// One `spec.networking.ingress[]` rule: traffic from these peers to these ports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkingIngressRule {
    /// Where traffic comes from.
    pub from: Vec<NetworkingPeer>,
    /// Ports traffic may reach; an empty list means every port.
    pub ports: Vec<NetworkingPort>,
}

/// A traffic source: exactly one of `ipBlock` or `securityGroup`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingPeer {
    /// A CIDR block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    /// A security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroup>,
}

/// A CIDR block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IpBlock {
    /// IPv4 or IPv6 CIDR.
    pub cidr: String,
}

/// A security group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityGroup {
    /// Security group id.
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// A port (or every port of a protocol) of a networking rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkingPort {
    /// Protocol; all protocols when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<NetworkingProtocol>,
    /// Port number or the name of a pod port; all ports when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "int_or_string_schema")]
    pub port: Option<IntOrString>,
}

/// Protocol of a networking rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum NetworkingProtocol {
    /// TCP.
    TCP,
    /// UDP.
    UDP,
}

/// TargetGroupBinding status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupBindingStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Ready` says whether the targets match the Service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

// ---------------------------------------------------------------------------------------------
// IngressClassParams
// ---------------------------------------------------------------------------------------------

/// IngressClassParams: settings for every Ingress of the IngressClasses whose
/// `spec.parameters` reference it. A field that is set beats the matching annotation.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "elbv2.k8s.aws",
    version = "v1beta1",
    kind = "IngressClassParams",
    plural = "ingressclassparams",
    derive = "PartialEq",
    derive = "Default",
    doc = "IngressClassParams sets load balancer settings for every Ingress of an IngressClass.",
    printcolumn = r#"{"name": "GROUP-NAME", "type": "string", "description": "The Ingress Group name", "jsonPath": ".spec.group.name"}"#,
    printcolumn = r#"{"name": "SCHEME", "type": "string", "description": "The AWS Load Balancer scheme", "jsonPath": ".spec.scheme"}"#,
    printcolumn = r#"{"name": "IP-ADDRESS-TYPE", "type": "string", "description": "The AWS Load Balancer ipAddressType", "jsonPath": ".spec.ipAddressType"}"#,
    printcolumn = r#"{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassParamsSpec {
    /// One load balancer name for the class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub load_balancer_name: Option<String>,
    /// Namespaces whose Ingresses may use the class (all when absent or empty); Ingresses in
    /// other namespaces are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "label_selector_schema")]
    pub namespace_selector: Option<LabelSelector>,
    /// Puts every Ingress of the class into this IngressGroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<IngressGroup>,
    /// Scheme of the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<LoadBalancerScheme>,
    /// IP address type of the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<IpAddressType>,
    /// CIDRs allowed to reach the load balancers.
    #[serde(
        default,
        rename = "inboundCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub inbound_cidrs: Option<Vec<String>>,
    /// TLS policy of HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Port that HTTP listeners redirect to (HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_redirect_port: Option<String>,
    /// Certificate ARNs of HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Vec<String>>,
    /// Subnets of the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<SubnetSelector>,
    /// Tags on every AWS resource created for the class's Ingresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Target type of the target groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// Load balancer attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_attributes: Option<Vec<Attribute>>,
    /// Listener attributes, by protocol and port (these do not create listeners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners: Option<Vec<Listener>>,
    /// Reserved load balancer capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_load_balancer_capacity: Option<MinimumLoadBalancerCapacity>,
    /// IPAM pool for the load balancers' addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_configuration: Option<IpamConfiguration>,
    /// Managed prefix lists allowed to reach the load balancers.
    #[serde(
        default,
        rename = "prefixListsIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_lists_ids: Option<Vec<String>>,
    /// Legacy spelling of `prefixListsIDs` (do not set both).
    #[serde(
        default,
        rename = "PrefixListsIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_lists_ids_legacy: Option<Vec<String>>,
    /// ARN of a WAFv2 web ACL for the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2_acl_arn: Option<String>,
    /// Name of a WAFv2 web ACL for the load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2_acl_name: Option<String>,
}

/// An IngressGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IngressGroup {
    /// Name of the IngressGroup.
    #[schemars(
        length(max = 63),
        regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// Load balancer scheme: `internal` or `internet-facing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LoadBalancerScheme {
    /// Reachable only inside the VPC.
    #[serde(rename = "internal")]
    Internal,
    /// Reachable from the internet.
    #[serde(rename = "internet-facing")]
    InternetFacing,
}

/// Load balancer IP address type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IpAddressType {
    /// IPv4 only.
    #[serde(rename = "ipv4")]
    Ipv4,
    /// IPv4 and IPv6.
    #[serde(rename = "dualstack")]
    Dualstack,
    /// IPv6, and IPv4 only inside the VPC.
    #[serde(rename = "dualstack-without-public-ipv4")]
    DualstackWithoutPublicIpv4,
}

/// Subnets by id or by tags: exactly one of `ids` or `tags`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubnetSelector {
    /// Subnet ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), inner(regex(pattern = "^subnet-[0-9a-f]+$")))]
    pub ids: Option<Vec<String>>,
    /// Subnets of the VPC carrying, for each key, one of the listed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Vec<String>>>,
}

/// An AWS tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tag {
    /// Key.
    #[schemars(length(min = 1))]
    pub key: String,
    /// Value.
    pub value: String,
}

/// A load balancer or listener attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attribute {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Attributes of the listener on one protocol and port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Protocol of the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ListenerProtocol>,
    /// Port of the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Attributes of the listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_attributes: Option<Vec<Attribute>>,
}

/// Protocol of an ALB listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum ListenerProtocol {
    /// HTTP.
    HTTP,
    /// HTTPS.
    HTTPS,
}

/// Reserved load balancer capacity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinimumLoadBalancerCapacity {
    /// Load balancer capacity units to reserve.
    pub capacity_units: i32,
}

/// IPAM settings of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IpamConfiguration {
    /// IPAM pool id for IPv4 addresses.
    #[serde(
        default,
        rename = "ipv4IPAMPoolId",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_ipam_pool_id: Option<String>,
}

/// Why an IngressClassParams could not be read as translation's type.
#[derive(Debug, thiserror::Error)]
#[error("IngressClassParams {name}: {source}")]
pub struct ParamsConversionError {
    name: String,
    #[source]
    source: serde_json::Error,
}

impl IngressClassParams {
    /// The same object as translation's [`aws_lb_operator_core::translate::IngressClassParams`]
    /// (which keeps only the fields translation honours).
    ///
    /// # Errors
    /// Never for objects the API server accepted (the shapes agree); kept fallible so a future
    /// divergence is reported rather than hidden.
    pub fn to_core(
        &self,
    ) -> Result<aws_lb_operator_core::translate::IngressClassParams, ParamsConversionError> {
        let err = |source| ParamsConversionError {
            name: self.metadata.name.clone().unwrap_or_default(),
            source,
        };
        serde_json::to_value(self)
            .and_then(serde_json::from_value)
            .map_err(err)
    }
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

/// The CustomResourceDefinitions of both kinds, TargetGroupBinding first.
#[must_use]
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![TargetGroupBinding::crd(), IngressClassParams::crd()]
}

/// Why the CRDs could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the CustomResourceDefinitions as YAML: {0}")]
pub struct CrdRenderError(String);

/// The multi-document YAML of [`crds`], exactly what `crds/crds.yaml` holds.
///
/// # Errors
/// A CRD cannot be serialised (a bug in a type's schema).
pub fn crds_yaml() -> Result<String, CrdRenderError> {
    let mut out = String::from(
        "# Generated by `aws-lb-operator crdgen` from src/crd.rs; do not edit.\n\
         # Regenerate: cargo run -q -- crdgen > crds/crds.yaml\n",
    );
    for crd in crds() {
        let yaml = serde_saphyr::to_string(&crd).map_err(|e| CrdRenderError(e.to_string()))?;
        out.push_str("---\n");
        out.push_str(&yaml);
        if !yaml.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Schemas of k8s-openapi types (k8s-openapi is built without its `schemars` feature)
// ---------------------------------------------------------------------------------------------

fn int_or_string_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"x-kubernetes-int-or-string": true})
}

fn label_selector_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A label query: matchLabels and matchExpressions, ANDed. An empty selector matches everything.",
        "type": "object",
        "properties": {
            "matchExpressions": {
                "description": "Label selector requirements, ANDed.",
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {"description": "The label key.", "type": "string"},
                        "operator": {
                            "description": "In, NotIn, Exists or DoesNotExist.",
                            "type": "string"
                        },
                        "values": {
                            "description": "Values for In and NotIn; empty for Exists and DoesNotExist.",
                            "type": "array",
                            "items": {"type": "string"},
                            "x-kubernetes-list-type": "atomic"
                        }
                    },
                    "required": ["key", "operator"]
                },
                "x-kubernetes-list-type": "atomic"
            },
            "matchLabels": {
                "description": "Labels that must all be present with these values.",
                "type": "object",
                "additionalProperties": {"type": "string"}
            }
        },
        "x-kubernetes-map-type": "atomic"
    })
}

fn conditions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Conditions, one per type.",
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "lastTransitionTime": {
                    "description": "When the condition last changed status.",
                    "type": "string",
                    "format": "date-time"
                },
                "message": {"description": "Human-readable details.", "type": "string", "maxLength": 32768},
                "observedGeneration": {
                    "description": "The generation the condition was set for.",
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0
                },
                "reason": {
                    "description": "Machine-readable CamelCase reason.",
                    "type": "string",
                    "maxLength": 1024,
                    "minLength": 1,
                    "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
                },
                "status": {"description": "True, False or Unknown.", "type": "string", "enum": ["True", "False", "Unknown"]},
                "type": {"description": "Condition type, e.g. Ready.", "type": "string", "maxLength": 316}
            },
            "required": ["lastTransitionTime", "message", "reason", "status", "type"]
        },
        "x-kubernetes-list-map-keys": ["type"],
        "x-kubernetes-list-type": "map"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_names_scope_and_subresources() {
        let [tgb, icp] = <[CustomResourceDefinition; 2]>::try_from(crds()).unwrap();
        assert_eq!(
            tgb.metadata.name.as_deref(),
            Some("targetgroupbindings.elbv2.k8s.aws")
        );
        assert_eq!(tgb.spec.scope, "Namespaced");
        let v = &tgb.spec.versions[0];
        assert_eq!(
            (v.name.as_str(), v.served, v.storage),
            ("v1beta1", true, true)
        );
        assert!(v.subresources.as_ref().unwrap().status.is_some());
        assert_eq!(
            icp.metadata.name.as_deref(),
            Some("ingressclassparams.elbv2.k8s.aws")
        );
        assert_eq!(icp.spec.scope, "Cluster");
        assert_eq!(icp.spec.names.plural, "ingressclassparams");
        assert!(icp.spec.versions[0].subresources.is_none());
    }

    #[test]
    fn target_group_binding_spec_spelling() {
        let spec = TargetGroupBindingSpec {
            target_group_arn: Some("arn:tg".into()),
            vpc_id: Some("vpc-1".into()),
            service_ref: ServiceReference {
                name: "web".into(),
                port: IntOrString::String("http".into()),
            },
            networking: Some(TargetGroupBindingNetworking {
                ingress: vec![NetworkingIngressRule {
                    from: vec![NetworkingPeer {
                        security_group: Some(SecurityGroup {
                            group_id: "sg-1".into(),
                        }),
                        ..NetworkingPeer::default()
                    }],
                    ports: vec![NetworkingPort {
                        protocol: Some(NetworkingProtocol::TCP),
                        port: Some(IntOrString::Int(80)),
                    }],
                }],
            }),
            target_group_protocol: Some(TargetGroupProtocol::TcpUdp),
            ..TargetGroupBindingSpec::default()
        };
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            serde_json::json!({
                "targetGroupARN": "arn:tg",
                "vpcID": "vpc-1",
                "targetGroupProtocol": "TCP_UDP",
                "serviceRef": {"name": "web", "port": "http"},
                "networking": {"ingress": [{
                    "from": [{"securityGroup": {"groupID": "sg-1"}}],
                    "ports": [{"protocol": "TCP", "port": 80}]
                }]}
            })
        );
    }
}
