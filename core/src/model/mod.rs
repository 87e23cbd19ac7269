//! Desired state of AWS load balancers, as pure data.
//!
//! Everything here is built by the translation (`build`) and deployed by a later layer. The shapes stay
//! close to the ELBv2 API (attribute maps, health-check fields, condition field names) so the
//! deployer can diff them against described resources with little translation. Every collection
//! is either a `BTreeMap` or a `Vec` in a documented, deterministic order, so serialising a
//! model twice gives the same bytes.
//!
//! The model depends on nothing else in this crate: the translation builds it, the planners
//! (`planner`, `dns`) read it (`DesiredState::with_dns_records` lives with the DNS planner).
mod elbv2;
mod hosts;
mod ids;
pub mod tags;

pub use elbv2::{
    ActionSpec, AuthenticateCognitoSpec, AuthenticateCommon, AuthenticateOidcSpec,
    CertificateDiscovery, ClientSecret, ConditionSpec, FixedResponseSpec, HealthCheckSpec,
    IpAddressType, ListenerSpec, LoadBalancerSpec, LoadBalancerType, MatcherSpec,
    MutualAuthenticationSpec, Protocol, ProtocolVersion, QueryStringKeyValue, RedirectSpec,
    RewriteSpec, RuleSpec, Scheme, SchemeNames, StickinessSpec, TargetGroupRef, TargetGroupSpec,
    TargetSpec, TargetType, TransformSpec, WebAcl,
};
pub use hosts::{DesiredHost, PlannedAlias, PlannedRecord};
pub use ids::{
    backend_security_group_name, gateway_load_balancer_name, gateway_target_group_name,
    load_balancer_name, sanitize_name_part, target_group_name, GatewayTargetGroupNameInputs,
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
    pub hostnames: Vec<DesiredHost>,
    /// Hostnames of objects left out of the stack for errors: their DNS records are kept
    /// until the object is fixed or deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_hostnames: Vec<DesiredHost>,
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
    pub dns_records: Vec<PlannedRecord>,
    /// Errors sorted by object, then message.
    pub errors: Vec<ObjectError>,
    /// Warnings (annotations that are not implemented), sorted by object, then message; absent
    /// from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<ObjectError>,
}

#[cfg(test)]
mod tests {
    /// The model is the bottom of the crate: no file of it names another module of `core`
    /// (the translation and the planners depend on it, never the reverse).
    #[test]
    fn model_depends_on_nothing_else_in_core() {
        let (needle, up) = (concat!("crate", "::"), concat!("super::", "super"));
        for (file, text) in [
            ("mod.rs", include_str!("mod.rs")),
            ("elbv2.rs", include_str!("elbv2.rs")),
            ("hosts.rs", include_str!("hosts.rs")),
            ("ids.rs", include_str!("ids.rs")),
            ("tags.rs", include_str!("tags.rs")),
        ] {
            for (n, line) in text.lines().enumerate() {
                assert!(
                    !line.contains(needle) && !line.contains(up),
                    "core/src/model/{file}:{}: {line}",
                    n + 1
                );
            }
        }
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/model"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.ends_with(".rs").then_some(name)
            })
            .count();
        assert_eq!(
            files, 5,
            "a new file in core/src/model: add it to this test"
        );
    }
}
