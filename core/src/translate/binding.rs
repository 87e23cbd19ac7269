//! TargetGroupBinding targets: a Service port's ready endpoints (`ip`) or its eligible Nodes on
//! the port's NodePort (`instance`), for a target group the operator does not otherwise own.
//!
//! The controller reads `elbv2.k8s.aws/v1beta1` TargetGroupBindings with kube and hands the
//! fields that decide the targets to [`binding_targets`] as a plain [`BindingSpec`] (this crate
//! does not depend on kube). ip targets are resolved exactly as Ingress ip targets are
//! ([`endpoint_targets`](super::endpoints) with ready endpoints, named target ports looked up
//! per EndpointSlice); instance targets are the Nodes not labelled
//! [`EXCLUDE_FROM_LB_LABEL`](super::EXCLUDE_FROM_LB_LABEL), matching the binding's
//! `nodeSelector`, with an AWS `spec.providerID` (Nodes without one, e.g. Fargate, are skipped).
use std::borrow::Borrow;
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::endpoints::{endpoint_targets, port_u16, Readiness};
use super::params::selector_matches;
use super::{instance_id, BuildConfig, Index, Snapshot, EXCLUDE_FROM_LB_LABEL};
use crate::model::{TargetSpec, TargetType};

/// What decides a TargetGroupBinding's targets.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingSpec {
    /// Namespace of the binding (and of its Service).
    pub namespace: String,
    /// `spec.serviceRef.name`.
    pub service: String,
    /// `spec.serviceRef.port`: the Service port's number, or its name.
    pub port: IntOrString,
    /// `spec.targetType`, or the target group's own type when unset.
    pub target_type: TargetType,
    /// `spec.nodeSelector` (instance targets only; `None` selects every Node).
    pub node_selector: Option<LabelSelector>,
}

/// Why a binding has no target set; [`BindingError::reason`] is its `Ready` condition reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// The Service does not exist.
    #[error("service {namespace}/{service} not found")]
    ServiceNotFound {
        /// Namespace.
        namespace: String,
        /// Service name.
        service: String,
    },
    /// The Service has no such port.
    #[error("service {namespace}/{service} has no port {port:?}: expected one of {available}")]
    PortNotFound {
        /// Namespace.
        namespace: String,
        /// Service name.
        service: String,
        /// The port as written in the binding.
        port: String,
        /// The Service's ports, for the message.
        available: String,
    },
    /// Instance targets need the port's NodePort, and it has none.
    #[error(
        "service {namespace}/{service} port {port} has no nodePort: target type instance needs a \
         NodePort or LoadBalancer service (or use target type ip)"
    )]
    NoNodePort {
        /// Namespace.
        namespace: String,
        /// Service name.
        service: String,
        /// Service port number.
        port: i32,
    },
    /// The port's named target port is carried by none of the Service's EndpointSlices.
    #[error(
        "named targetPort {target_port:?} of service {namespace}/{service} port {port} is not \
         resolved by any of its {slices} EndpointSlice(s): expected an EndpointSlice port named \
         {port_name:?}"
    )]
    TargetPortNotResolved {
        /// Namespace.
        namespace: String,
        /// Service name.
        service: String,
        /// Service port number.
        port: i32,
        /// Name of the Service port (what EndpointSlice ports are named after).
        port_name: String,
        /// The named target port.
        target_port: String,
        /// IPv4 EndpointSlices of the Service.
        slices: usize,
    },
}

impl BindingError {
    /// CamelCase reason for the binding's `Ready` condition and Events.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::ServiceNotFound { .. } => "ServiceNotFound",
            Self::PortNotFound { .. } => "ServicePortNotFound",
            Self::NoNodePort { .. } => "NodePortNotFound",
            Self::TargetPortNotResolved { .. } => "TargetPortNotResolved",
        }
    }
}

fn written(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

fn describe_ports(ports: &[ServicePort]) -> String {
    if ports.is_empty() {
        return "none (the service has no ports)".to_owned();
    }
    ports
        .iter()
        .map(|p| match p.name.as_deref() {
            Some(n) if !n.is_empty() => format!("{} ({n})", p.port),
            _ => p.port.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets `binding` wants: `service` is the Service it names (`None`: absent), `slices`
/// any EndpointSlices (those of other Services are ignored), `nodes` every Node. Sorted,
/// without duplicates.
///
/// # Errors
/// The Service or its port is missing, an instance binding's port has no NodePort, or a named
/// target port is resolved by none of the Service's EndpointSlices.
pub fn binding_targets<S, N>(
    binding: &BindingSpec,
    service: Option<&Service>,
    slices: &[S],
    nodes: &[N],
) -> Result<Vec<TargetSpec>, BindingError>
where
    S: Borrow<EndpointSlice>,
    N: Borrow<Node>,
{
    let ns = binding.namespace.as_str();
    let name = binding.service.as_str();
    let svc = service.ok_or_else(|| BindingError::ServiceNotFound {
        namespace: ns.to_owned(),
        service: name.to_owned(),
    })?;
    let ports: &[ServicePort] = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let svc_port = ports
        .iter()
        .find(|p| match &binding.port {
            IntOrString::Int(n) => p.port == *n,
            IntOrString::String(s) => p.name.as_deref() == Some(s.as_str()),
        })
        .ok_or_else(|| BindingError::PortNotFound {
            namespace: ns.to_owned(),
            service: name.to_owned(),
            port: written(&binding.port),
            available: describe_ports(ports),
        })?;
    match binding.target_type {
        TargetType::Instance => {
            let node_port =
                svc_port
                    .node_port
                    .and_then(port_u16)
                    .ok_or_else(|| BindingError::NoNodePort {
                        namespace: ns.to_owned(),
                        service: name.to_owned(),
                        port: svc_port.port,
                    })?;
            let ids: BTreeSet<&str> = nodes
                .iter()
                .map(Borrow::borrow)
                .filter(|n| eligible(n, binding.node_selector.as_ref()))
                .filter_map(|n| {
                    instance_id(n.spec.as_ref()?.provider_id.as_deref().unwrap_or_default())
                })
                .collect();
            Ok(ids
                .into_iter()
                .map(|id| TargetSpec {
                    id: id.to_owned(),
                    port: node_port,
                })
                .collect())
        }
        TargetType::Ip => {
            // The shared resolver reads slices through an index of a snapshot; only this
            // Service's slices are copied into it.
            let snapshot = Snapshot {
                endpoint_slices: slices
                    .iter()
                    .map(Borrow::borrow)
                    .filter(|s| s.metadata.namespace.as_deref().unwrap_or("default") == ns)
                    .cloned()
                    .collect(),
                ..Snapshot::default()
            };
            let config = BuildConfig::new("");
            let index = Index::new(&snapshot, &config);
            let resolved = endpoint_targets(&index, ns, name, svc, svc_port, Readiness::Ready);
            if let Some(slices) = resolved.unresolved_in {
                return Err(BindingError::TargetPortNotResolved {
                    namespace: ns.to_owned(),
                    service: name.to_owned(),
                    port: svc_port.port,
                    port_name: svc_port.name.clone().unwrap_or_default(),
                    target_port: svc_port
                        .target_port
                        .as_ref()
                        .map(written)
                        .unwrap_or_default(),
                    slices,
                });
            }
            Ok(resolved.targets)
        }
    }
}

/// Not excluded from load balancers by label, and matching `selector` when there is one.
fn eligible(node: &Node, selector: Option<&LabelSelector>) -> bool {
    let empty = std::collections::BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    !labels.contains_key(EXCLUDE_FROM_LB_LABEL)
        && selector.is_none_or(|s| selector_matches(s, labels))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;
    use crate::translate::fixtures::{node, service, slice, P};

    fn spec(port: IntOrString, target_type: TargetType) -> BindingSpec {
        BindingSpec {
            namespace: "shop".into(),
            service: "web".into(),
            port,
            target_type,
            node_selector: None,
        }
    }

    fn t(id: &str, port: u16) -> TargetSpec {
        TargetSpec {
            id: id.into(),
            port,
        }
    }

    fn labelled(name: &str, provider: &str, labels: &[(&str, &str)]) -> Node {
        let mut n = node(name, Some(provider), false);
        n.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        n
    }

    fn selector(labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> LabelSelector {
        LabelSelector {
            match_labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            match_expressions: (!exprs.is_empty()).then(|| {
                exprs
                    .iter()
                    .map(|(k, op, values)| LabelSelectorRequirement {
                        key: (*k).into(),
                        operator: (*op).into(),
                        values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn table() {
        let svc = service(
            "shop",
            "web",
            "NodePort",
            &[
                ("http", 80, Some(P::N(8080)), Some(30080)),
                ("admin", 9000, Some(P::S("admin")), None),
                ("", 81, None, Some(30081)),
            ],
        );
        let cluster_ip = service("shop", "web", "ClusterIP", &[("http", 80, None, None)]);
        let slices = vec![
            slice(
                "shop",
                "web",
                "web-a",
                &[("http", 8080), ("admin", 9090)],
                &[("10.0.0.2", Some(true)), ("10.0.0.1", None)],
            ),
            slice(
                "shop",
                "web",
                "web-b",
                &[("http", 8080), ("admin", 9091)],
                &[("10.0.0.3", Some(false)), ("10.0.0.4", Some(true))],
            ),
            // Another Service's slice, and the same Service name in another namespace.
            slice(
                "shop",
                "api",
                "api-a",
                &[("http", 8080)],
                &[("10.9.0.1", Some(true))],
            ),
            slice(
                "other",
                "web",
                "web-x",
                &[("http", 8080)],
                &[("10.8.0.1", Some(true))],
            ),
        ];
        let nodes = vec![
            labelled(
                "n1",
                "aws:///eu-west-1a/i-0000000000000000b",
                &[("pool", "a")],
            ),
            labelled(
                "n2",
                "aws:///eu-west-1b/i-0000000000000000a",
                &[("pool", "b")],
            ),
            node(
                "excluded",
                Some("aws:///eu-west-1a/i-0000000000000000c"),
                true,
            ),
            node("fargate", Some("fargate-ip-10-0-0-9"), false),
            node("no-provider", None, false),
        ];
        let ip = |p| spec(p, TargetType::Ip);
        let instance = |p| spec(p, TargetType::Instance);
        let with_selector = |s: LabelSelector| BindingSpec {
            node_selector: Some(s),
            ..instance(IntOrString::Int(80))
        };
        let missing_port = |port: &str, available: &str| BindingError::PortNotFound {
            namespace: "shop".into(),
            service: "web".into(),
            port: port.into(),
            available: available.into(),
        };
        let all_ports = "80 (http), 9000 (admin), 81";
        #[allow(clippy::type_complexity)]
        let cases: Vec<(
            &str,
            BindingSpec,
            Option<&Service>,
            Result<Vec<TargetSpec>, BindingError>,
        )> = vec![
            (
                "ip by port number: ready and unknown-readiness endpoints on the target port",
                ip(IntOrString::Int(80)),
                Some(&svc),
                Ok(vec![
                    t("10.0.0.1", 8080),
                    t("10.0.0.2", 8080),
                    t("10.0.0.4", 8080),
                ]),
            ),
            (
                "ip by port name",
                ip(IntOrString::String("http".into())),
                Some(&svc),
                Ok(vec![
                    t("10.0.0.1", 8080),
                    t("10.0.0.2", 8080),
                    t("10.0.0.4", 8080),
                ]),
            ),
            (
                "ip with a named target port resolved per slice",
                ip(IntOrString::String("admin".into())),
                Some(&svc),
                Ok(vec![
                    t("10.0.0.1", 9090),
                    t("10.0.0.2", 9090),
                    t("10.0.0.4", 9091),
                ]),
            ),
            (
                "ip without targetPort: the service port",
                ip(IntOrString::Int(81)),
                Some(&svc),
                Ok(vec![
                    t("10.0.0.1", 81),
                    t("10.0.0.2", 81),
                    t("10.0.0.4", 81),
                ]),
            ),
            (
                "ip on a ClusterIP service",
                ip(IntOrString::Int(80)),
                Some(&cluster_ip),
                Ok(vec![
                    t("10.0.0.1", 80),
                    t("10.0.0.2", 80),
                    t("10.0.0.4", 80),
                ]),
            ),
            (
                "instance: every eligible node with an instance id, on the node port",
                instance(IntOrString::String("http".into())),
                Some(&svc),
                Ok(vec![
                    t("i-0000000000000000a", 30080),
                    t("i-0000000000000000b", 30080),
                ]),
            ),
            (
                "instance with matchLabels",
                with_selector(selector(&[("pool", "a")], &[])),
                Some(&svc),
                Ok(vec![t("i-0000000000000000b", 30080)]),
            ),
            (
                "instance with matchExpressions",
                with_selector(selector(&[], &[("pool", "In", &["b", "c"])])),
                Some(&svc),
                Ok(vec![t("i-0000000000000000a", 30080)]),
            ),
            (
                "instance with a selector nothing matches",
                with_selector(selector(&[("pool", "z")], &[])),
                Some(&svc),
                Ok(vec![]),
            ),
            (
                "service missing",
                ip(IntOrString::Int(80)),
                None,
                Err(BindingError::ServiceNotFound {
                    namespace: "shop".into(),
                    service: "web".into(),
                }),
            ),
            (
                "port number not found",
                ip(IntOrString::Int(443)),
                Some(&svc),
                Err(missing_port("443", all_ports)),
            ),
            (
                "port name not found",
                instance(IntOrString::String("https".into())),
                Some(&svc),
                Err(missing_port("https", all_ports)),
            ),
            (
                "a port name never matches a port number",
                ip(IntOrString::String("80".into())),
                Some(&svc),
                Err(missing_port("80", all_ports)),
            ),
            (
                "instance without a node port",
                instance(IntOrString::Int(9000)),
                Some(&svc),
                Err(BindingError::NoNodePort {
                    namespace: "shop".into(),
                    service: "web".into(),
                    port: 9000,
                }),
            ),
            (
                "instance on a ClusterIP service",
                instance(IntOrString::Int(80)),
                Some(&cluster_ip),
                Err(BindingError::NoNodePort {
                    namespace: "shop".into(),
                    service: "web".into(),
                    port: 80,
                }),
            ),
        ];
        for (what, binding, svc, want) in cases {
            assert_eq!(
                binding_targets(&binding, svc, &slices, &nodes),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn named_target_port_that_no_slice_carries() {
        let svc = service(
            "shop",
            "web",
            "ClusterIP",
            &[("metrics", 9100, Some(P::S("prom")), None)],
        );
        let slices = [slice(
            "shop",
            "web",
            "web-a",
            &[("http", 8080)],
            &[("10.0.0.1", Some(true))],
        )];
        let err = binding_targets(
            &spec(IntOrString::Int(9100), TargetType::Ip),
            Some(&svc),
            &slices,
            &[] as &[Node],
        )
        .unwrap_err();
        assert_eq!(err.reason(), "TargetPortNotResolved");
        assert_eq!(
            err.to_string(),
            "named targetPort \"prom\" of service shop/web port 9100 is not resolved by any of its \
             1 EndpointSlice(s): expected an EndpointSlice port named \"metrics\""
        );
        // No slices yet: no targets, no error (the pods may not exist yet).
        assert_eq!(
            binding_targets(
                &spec(IntOrString::Int(9100), TargetType::Ip),
                Some(&svc),
                &[] as &[EndpointSlice],
                &[] as &[Node],
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn reasons_and_messages() {
        let svc = service("shop", "web", "ClusterIP", &[]);
        let err = binding_targets(
            &spec(IntOrString::Int(80), TargetType::Ip),
            Some(&svc),
            &[] as &[EndpointSlice],
            &[] as &[Node],
        )
        .unwrap_err();
        assert_eq!(err.reason(), "ServicePortNotFound");
        assert_eq!(
            err.to_string(),
            "service shop/web has no port \"80\": expected one of none (the service has no ports)"
        );
        let missing = binding_targets(
            &spec(IntOrString::Int(80), TargetType::Ip),
            None,
            &[] as &[EndpointSlice],
            &[] as &[Node],
        )
        .unwrap_err();
        assert_eq!(
            (missing.reason(), missing.to_string().as_str()),
            ("ServiceNotFound", "service shop/web not found")
        );
        let svc = service("shop", "web", "ClusterIP", &[("http", 80, None, None)]);
        let err = binding_targets(
            &spec(IntOrString::Int(80), TargetType::Instance),
            Some(&svc),
            &[] as &[EndpointSlice],
            &[] as &[Node],
        )
        .unwrap_err();
        assert_eq!(err.reason(), "NodePortNotFound");
        assert_eq!(
            err.to_string(),
            "service shop/web port 80 has no nodePort: target type instance needs a NodePort or \
             LoadBalancer service (or use target type ip)"
        );
    }
}
