//! One target group per listener: ip targets (ready endpoints, named target ports resolved per
//! EndpointSlice) or instance targets (eligible Nodes on the NodePort), LBC's NLB health checks
//! (kube-proxy's health endpoint for `externalTrafficPolicy: Local`), attributes, names.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::annotations::{
    attribute_keys, defaults, HEALTHCHECK_INTERVAL, HEALTHCHECK_PORT, HEALTHCHECK_TIMEOUT,
    IP_ADDRESS_TYPE, NLB_TARGET_TYPE,
};
use super::listener::{describe_ports, PortEntry, PortPlan};
use super::{generated_name, ServiceContext};
use crate::model::{
    tags, HealthCheckSpec, IpAddressType, MatcherSpec, Protocol, TargetGroupSpec, TargetSpec,
    TargetType,
};
use crate::translate::endpoints::{endpoint_targets_of, port_u16, Family, Readiness};
use crate::translate::error::{invalid_annotation, invalid_field, BuildError};

/// Inputs of a generated Service target group name.
#[derive(Clone, Copy, Debug)]
pub struct TargetGroupNameInputs<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Namespace of the Service.
    pub namespace: &'a str,
    /// Name of the Service.
    pub name: &'a str,
    /// `metadata.uid` of the Service (empty when unknown, e.g. in offline manifests).
    pub uid: &'a str,
    /// Target group port.
    pub target_group_port: u16,
    /// Service port (the listener port).
    pub service_port: u16,
    /// `instance` or `ip`.
    pub target_type: TargetType,
    /// Target group protocol.
    pub protocol: Protocol,
    /// Health-check protocol.
    pub health_check_protocol: Protocol,
    /// Health-check interval in seconds.
    pub health_check_interval: u32,
}

/// Generated target group name (LBC's Service scheme): `k8s-<ns[:8]>-<name[:8]>-<hash10>`,
/// hash = `sha256(cluster ‖ service uid ‖ tg port ‖ service port ‖ target type ‖ protocol ‖
/// health-check protocol ‖ health-check interval)`.
#[must_use]
pub fn target_group_name(i: &TargetGroupNameInputs<'_>) -> String {
    generated_name(
        i.namespace,
        i.name,
        &[
            i.cluster,
            i.uid,
            &i.target_group_port.to_string(),
            &i.service_port.to_string(),
            i.target_type.as_str(),
            i.protocol.as_str(),
            i.health_check_protocol.as_str(),
            &i.health_check_interval.to_string(),
        ],
    )
}

fn written_target_port(port: &ServicePort) -> String {
    match &port.target_port {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => port.port.to_string(),
    }
}

/// Ready endpoints of the Service's EndpointSlices of `family` on the target port of `entry`,
/// resolved per slice when the target port is named. The error (a warning: the target group is
/// still built) says the named port is carried by none of the slices.
fn ip_targets(
    ctx: &ServiceContext<'_>,
    entry: PortEntry<'_>,
    family: Family,
    warnings: &mut Vec<BuildError>,
) -> (Vec<TargetSpec>, Option<BuildError>) {
    let port = entry.port;
    let resolved = endpoint_targets_of(
        ctx.index,
        &ctx.namespace,
        &ctx.name,
        ctx.svc,
        port,
        Readiness::ReadyNotTerminating,
        family,
    );
    for (field, addr) in &resolved.invalid {
        warnings.push(invalid_field(
            &ctx.object,
            field.clone(),
            addr,
            format!(
                "an {} address; that endpoint is not a target of target group {}",
                family.address_type(),
                target_group_id(ctx, port.port)
            ),
        ));
    }
    let port_name = port.name.as_deref().unwrap_or_default();
    let warning = resolved.unresolved_in.map(|slices| {
        invalid_field(
            &ctx.object,
            format!("spec.ports[{}].targetPort", entry.index),
            &written_target_port(port),
            format!(
                "a container port that the service's EndpointSlices resolve, but none of its {slices} {} EndpointSlice(s) has a port named {port_name:?}; target group {} has no targets",
                family.address_type(),
                target_group_id(ctx, port.port)
            ),
        )
    });
    (resolved.targets, warning)
}

/// Target group port and targets of one `spec.ports` entry.
fn port_and_targets(
    ctx: &ServiceContext<'_>,
    entry: PortEntry<'_>,
    family: Family,
    warnings: &mut Vec<BuildError>,
) -> Result<(u16, Vec<TargetSpec>), BuildError> {
    match ctx.target_type {
        TargetType::Instance => {
            let node_port = entry
                .port
                .node_port
                .and_then(port_u16)
                .ok_or_else(|| {
                    invalid_field(
                        &ctx.object,
                        format!("spec.ports[{}].nodePort", entry.index),
                        &entry.port.node_port.map(|p| p.to_string()).unwrap_or_default(),
                        format!(
                            "a node port for target type instance (allocated by the API server unless spec.allocateLoadBalancerNodePorts is false), or annotation {NLB_TARGET_TYPE}: ip"
                        ),
                    )
                })?;
            let targets = ctx
                .instances
                .iter()
                .map(|id| TargetSpec {
                    id: id.clone(),
                    port: node_port,
                })
                .collect();
            Ok((node_port, targets))
        }
        TargetType::Ip => {
            let tg_port = match &entry.port.target_port {
                Some(IntOrString::Int(n)) => port_u16(*n).ok_or_else(|| {
                    invalid_field(
                        &ctx.object,
                        format!("spec.ports[{}].targetPort", entry.index),
                        &n.to_string(),
                        "a port number from 1 to 65535 or a container port name",
                    )
                })?,
                None => port_u16(entry.port.port).unwrap_or(1),
                // As LBC: 1 when the target port is named; each target carries its own port.
                Some(IntOrString::String(_)) => 1,
            };
            let (targets, warning) = ip_targets(ctx, entry, family, warnings);
            warnings.extend(warning);
            Ok((tg_port, targets))
        }
    }
}

/// Resolves a named `healthcheck-port` as LBC does: the port's NodePort for instance targets,
/// its numeric target port for ip targets.
fn named_health_check_port(ctx: &ServiceContext<'_>, name: &str) -> Result<String, BuildError> {
    let ports: &[ServicePort] = ctx
        .svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let err = |expected: String| invalid_annotation(&ctx.object, HEALTHCHECK_PORT, name, expected);
    let Some(port) = ports.iter().find(|p| p.name.as_deref() == Some(name)) else {
        return Err(err(format!(
            "\"traffic-port\", a port number, or the name of one of the service's ports ({})",
            describe_ports(ports)
        )));
    };
    let resolved = match ctx.target_type {
        TargetType::Instance => port.node_port,
        TargetType::Ip => match &port.target_port {
            Some(IntOrString::Int(n)) => Some(*n),
            None => Some(port.port),
            Some(IntOrString::String(_)) => None,
        },
    };
    resolved
        .and_then(port_u16)
        .map(|p| p.to_string())
        .ok_or_else(|| {
            err(match ctx.target_type {
                TargetType::Instance => format!(
                    "a port with a nodePort for target type instance, but port {} ({name}) has none",
                    port.port
                ),
                TargetType::Ip => format!(
                    "a port with a numeric targetPort for target type ip, but port {} ({name}) has targetPort {:?}",
                    port.port,
                    written_target_port(port)
                ),
            })
        })
}

fn health_check(ctx: &ServiceContext<'_>) -> Result<HealthCheckSpec, BuildError> {
    let spec = ctx.svc.spec.as_ref();
    let local = ctx.target_type == TargetType::Instance
        && spec.and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local");
    let d = if local {
        defaults::HEALTH_CHECK_LOCAL
    } else {
        defaults::HEALTH_CHECK
    };
    let hc = &ctx.settings.health_check;
    let port = match hc.port.as_deref() {
        None if local => spec
            .and_then(|s| s.health_check_node_port)
            .and_then(port_u16)
            .map(|p| p.to_string())
            .ok_or_else(|| {
                invalid_field(
                    &ctx.object,
                    "spec.healthCheckNodePort",
                    &spec
                        .and_then(|s| s.health_check_node_port)
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    format!(
                        "the node port kube-proxy answers health checks on for externalTrafficPolicy Local (allocated by the API server), or annotation {HEALTHCHECK_PORT}"
                    ),
                )
            })?,
        None => defaults::TRAFFIC_PORT.to_owned(),
        Some(p) if p == defaults::TRAFFIC_PORT || p.bytes().all(|b| b.is_ascii_digit()) => {
            p.to_owned()
        }
        Some(name) => named_health_check_port(ctx, name)?,
    };
    let protocol = hc.protocol.unwrap_or(d.protocol);
    let http = matches!(protocol, Protocol::Http | Protocol::Https);
    let interval = hc.interval.unwrap_or(d.interval);
    let timeout = hc.timeout.unwrap_or(d.timeout);
    if timeout > interval {
        let (key, value, interval_from) = match hc.timeout {
            Some(t) => (
                HEALTHCHECK_TIMEOUT,
                t.to_string(),
                if hc.interval.is_some() {
                    format!("annotation {HEALTHCHECK_INTERVAL}")
                } else {
                    "the default interval".to_owned()
                },
            ),
            None => (
                HEALTHCHECK_INTERVAL,
                interval.to_string(),
                "the default timeout".to_owned(),
            ),
        };
        let expected = if key == HEALTHCHECK_TIMEOUT {
            format!("at most the health-check interval ({interval} s, {interval_from}): a Network Load Balancer health check times out within its interval")
        } else {
            format!("at least the health-check timeout ({timeout} s, {interval_from}): a Network Load Balancer health check times out within its interval")
        };
        return Err(invalid_annotation(&ctx.object, key, &value, expected));
    }
    Ok(HealthCheckSpec {
        protocol,
        port,
        path: if http {
            hc.path.clone().unwrap_or_else(|| d.path.to_owned())
        } else {
            String::new()
        },
        interval_seconds: interval,
        timeout_seconds: timeout,
        healthy_threshold_count: hc.healthy.unwrap_or(d.healthy),
        unhealthy_threshold_count: hc.unhealthy.unwrap_or(d.unhealthy),
        matcher: MatcherSpec {
            http_code: http.then(|| {
                hc.success_codes
                    .clone()
                    .unwrap_or_else(|| d.success_codes.to_owned())
            }),
            grpc_code: None,
        },
    })
}

/// The address family of the Service's target groups, as LBC's `buildTargetGroupIPAddressType`:
/// IPv6 when `spec.ipFamilies` names IPv6 (single-stack IPv6 or dual-stack, either order), which
/// needs a dualstack load balancer; else IPv4.
fn family(ctx: &ServiceContext<'_>) -> Result<Family, BuildError> {
    let families: &[String] = ctx
        .svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.as_deref())
        .unwrap_or_default();
    if !families.iter().any(|f| f == "IPv6") {
        return Ok(Family::Ipv4);
    }
    match ctx.settings.ip_address_type {
        Some(IpAddressType::Dualstack | IpAddressType::DualstackWithoutPublicIpv4) => {
            Ok(Family::Ipv6)
        }
        _ => Err(invalid_field(
            &ctx.object,
            "spec.ipFamilies",
            &families.join(","),
            format!(
                "IPv4 only, or annotation {IP_ADDRESS_TYPE}: dualstack: IPv6 targets need a dualstack load balancer (LBC: unsupported IPv6 configuration, lb not dual-stack)"
            ),
        )),
    }
}

/// Resource id of the target group of Service port `port`: `namespace/name:port` (LBC's).
pub(crate) fn target_group_id(ctx: &ServiceContext<'_>, port: i32) -> String {
    format!("{}/{}:{port}", ctx.namespace, ctx.name)
}

/// Builds the target group of one listener. Problems that only cost targets go to `warnings`.
pub(crate) fn build(
    ctx: &ServiceContext<'_>,
    plan: &PortPlan<'_>,
    warnings: &mut Vec<BuildError>,
) -> Result<TargetGroupSpec, BuildError> {
    let mut entries = plan.entries.iter().copied();
    let Some(first) = entries.next() else {
        return Err(invalid_field(
            &ctx.object,
            "spec.ports",
            "",
            "at least one port",
        ));
    };
    let family = family(ctx)?;
    let mut local_warnings = Vec::new();
    let (tg_port, targets) = port_and_targets(ctx, first, family, &mut local_warnings)?;
    // TCP_UDP: the UDP entry must reach the same targets, since both share one target group.
    for other in entries {
        let (other_port, other_targets) =
            port_and_targets(ctx, other, family, &mut local_warnings)?;
        if (other_port, &other_targets) == (tg_port, &targets) {
            continue;
        }
        let (field, value, expected) = match ctx.target_type {
            TargetType::Instance => (
                "nodePort",
                other
                    .port
                    .node_port
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                format!("{tg_port}, the nodePort of spec.ports[{}]", first.index),
            ),
            TargetType::Ip => (
                "targetPort",
                written_target_port(other.port),
                format!(
                    "a target port that resolves like the targetPort {:?} of spec.ports[{}]",
                    written_target_port(first.port),
                    first.index
                ),
            ),
        };
        return Err(invalid_field(
            &ctx.object,
            format!("spec.ports[{}].{field}", other.index),
            &value,
            format!(
                "{expected}: TCP and UDP on port {} share one TCP_UDP target group",
                plan.port
            ),
        ));
    }
    warnings.extend(local_warnings);

    let health_check = health_check(ctx)?;
    let id = target_group_id(ctx, i32::from(plan.port));
    let name = target_group_name(&TargetGroupNameInputs {
        cluster: ctx.cluster(),
        namespace: &ctx.namespace,
        name: &ctx.name,
        uid: ctx.uid(),
        target_group_port: tg_port,
        service_port: plan.port,
        target_type: ctx.target_type,
        protocol: plan.target_protocol,
        health_check_protocol: health_check.protocol,
        health_check_interval: health_check.interval_seconds,
    });
    let s = &ctx.settings;
    // As LBC: proxy protocol is always set, so removing the annotation turns it off again.
    // As LBC's `buildTargetGroupAttributes`: the Service-wide attributes, then this port's
    // (`target-group-attributes.<port>`), then `proxy-protocol-per-target-group` (on for the
    // ports it names, off for the others), then `proxy-protocol: "*"` (on everywhere).
    let mut attributes = BTreeMap::from([(
        attribute_keys::PROXY_PROTOCOL_V2.to_owned(),
        "false".to_owned(),
    )]);
    attributes.extend(s.target_group_attributes.clone());
    if let Some(per_port) = s.target_group_attributes_per_port.get(&plan.port) {
        attributes.extend(per_port.clone());
    }
    if let Some(ports) = &s.proxy_protocol_ports {
        attributes.insert(
            attribute_keys::PROXY_PROTOCOL_V2.to_owned(),
            ports.contains(&plan.port).to_string(),
        );
    }
    if s.proxy_protocol {
        attributes.insert(
            attribute_keys::PROXY_PROTOCOL_V2.to_owned(),
            "true".to_owned(),
        );
    }
    Ok(TargetGroupSpec {
        tags: tags::with_tracking(&s.tags, ctx.cluster(), &ctx.stack, &id),
        id,
        name,
        port: tg_port,
        protocol: plan.target_protocol,
        protocol_version: None,
        target_type: ctx.target_type,
        ip_address_type: family.ip_address_type().to_owned(),
        health_check,
        targets,
        attributes,
    })
}
