//! Ready endpoints of a Service port, read from its EndpointSlices: the ip targets of both
//! Ingress (ALB) and Service (NLB) target groups.
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Index;
use crate::model::TargetSpec;

/// A port number the API accepts (1..=65535).
pub(crate) fn port_u16(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p > 0)
}

/// The targets of one Service port.
pub(crate) struct EndpointTargets {
    /// Ready endpoints with the resolved target port, sorted.
    pub targets: Vec<TargetSpec>,
    /// `Some(n)`: the target port is named and none of the Service's `n` EndpointSlices of the
    /// family carries a port of that name.
    pub unresolved_in: Option<usize>,
    /// Addresses that are not addresses of the family (`10.0.1.300`), left out of the targets: the
    /// field (`endpointslice ns/name endpoints[0].addresses[0]`) and the value.
    pub invalid: Vec<(String, String)>,
}

/// The address family of a target group, and so of the EndpointSlices it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// `addressType: IPv4` slices, IPv4 addresses.
    Ipv4,
    /// `addressType: IPv6` slices, IPv6 addresses.
    Ipv6,
}

impl Family {
    /// The EndpointSlice `addressType`, also the word for messages (`IPv4`, `IPv6`).
    pub(crate) const fn address_type(self) -> &'static str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        }
    }

    /// The target group `IpAddressType` (`ipv4`, `ipv6`).
    pub(crate) const fn ip_address_type(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }

    fn accepts(self, addr: &str) -> bool {
        match self {
            Self::Ipv4 => addr.parse::<std::net::Ipv4Addr>().is_ok(),
            Self::Ipv6 => addr.parse::<std::net::Ipv6Addr>().is_ok(),
        }
    }
}

/// Which endpoints are registered.
#[derive(Clone, Copy)]
pub(crate) enum Readiness {
    /// Ready endpoints (an unknown readiness reads as ready, per the EndpointSlice API).
    Ready,
    /// Ready endpoints that are not terminating.
    ReadyNotTerminating,
}

/// Resolves the target port of `svc_port` per IPv4 EndpointSlice (a named port is looked up in
/// each slice) and collects the endpoints `readiness` admits, or every endpoint when the
/// Service publishes not-ready addresses.
pub(crate) fn endpoint_targets(
    index: &Index<'_>,
    namespace: &str,
    service: &str,
    svc: &Service,
    svc_port: &ServicePort,
    readiness: Readiness,
) -> EndpointTargets {
    endpoint_targets_of(
        index,
        namespace,
        service,
        svc,
        svc_port,
        readiness,
        Family::Ipv4,
    )
}

/// [`endpoint_targets`] of the EndpointSlices of one address family (an IPv6 target group
/// reads the `IPv6` slices, as LBC's endpoint resolver filters them by address type).
pub(crate) fn endpoint_targets_of(
    index: &Index<'_>,
    namespace: &str,
    service: &str,
    svc: &Service,
    svc_port: &ServicePort,
    readiness: Readiness,
    family: Family,
) -> EndpointTargets {
    let publish_not_ready = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let fixed = match &svc_port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        None => Some(svc_port.port),
        Some(IntOrString::String(_)) => None,
    };
    let port_name = svc_port.name.as_deref().unwrap_or_default();
    let mut targets = BTreeSet::new();
    let mut ipv4_slices = 0usize;
    let mut resolved_slices = 0usize;
    let mut invalid = Vec::new();
    for slice in index.endpoint_slices(namespace, service) {
        if slice.address_type != family.address_type() {
            continue;
        }
        ipv4_slices += 1;
        let port = fixed.or_else(|| {
            slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
                .and_then(|p| p.port)
        });
        let Some(port) = port.and_then(port_u16) else {
            continue;
        };
        resolved_slices += 1;
        for (ei, ep) in slice.endpoints.iter().enumerate() {
            let conditions = ep.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let registered = match readiness {
                Readiness::Ready => ready,
                Readiness::ReadyNotTerminating => {
                    ready && !conditions.and_then(|c| c.terminating).unwrap_or(false)
                }
            };
            if !(registered || publish_not_ready) {
                continue;
            }
            for (ai, addr) in ep.addresses.iter().enumerate() {
                if !family.accepts(addr) {
                    invalid.push((
                        format!(
                            "endpointslice {namespace}/{} endpoints[{ei}].addresses[{ai}]",
                            slice.metadata.name.as_deref().unwrap_or_default()
                        ),
                        addr.clone(),
                    ));
                    continue;
                }
                targets.insert(TargetSpec {
                    id: addr.clone(),
                    port,
                });
            }
        }
    }
    EndpointTargets {
        targets: targets.into_iter().collect(),
        unresolved_in: (fixed.is_none() && ipv4_slices > 0 && resolved_slices == 0)
            .then_some(ipv4_slices),
        invalid,
    }
}
