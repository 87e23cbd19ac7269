//! Backends → target groups: Service and port lookup, named target ports resolved per
//! EndpointSlice, ip and instance targets, health checks, LBC-compatible names.
use std::fmt;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::networking::v1::ServiceBackendPort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::annotations::{
    defaults, success_codes_within, Annotations, BackendSettings, GRPC_SUCCESS_CODES,
    HEALTHCHECK_PORT, HEALTHCHECK_TIMEOUT, HTTP_SUCCESS_CODES, SUCCESS_CODES, TARGET_TYPE,
};
use super::endpoints::{endpoint_targets, port_u16, Readiness};
use super::error::{invalid_field, shown, BuildError, ObjectRef};
use super::group::Member;
use super::Index;
use crate::model::{
    tags, target_group_name, HealthCheckSpec, MatcherSpec, Protocol, ProtocolVersion, StackId,
    TargetGroupNameInputs, TargetGroupSpec, TargetSpec, TargetType,
};

/// A Service port as referenced by an Ingress backend or an action: number or name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PortRef {
    /// `port.number`.
    Number(i32),
    /// `port.name`.
    Name(String),
}

impl PortRef {
    /// From an Ingress backend port; `None` if neither number nor name is set.
    #[must_use]
    pub fn from_backend(port: Option<&ServiceBackendPort>) -> Option<Self> {
        let port = port?;
        match (port.number, &port.name) {
            (Some(n), _) => Some(Self::Number(n)),
            (None, Some(name)) if !name.is_empty() => Some(Self::Name(name.clone())),
            _ => None,
        }
    }

    fn matches(&self, port: &ServicePort) -> bool {
        match self {
            Self::Number(n) => port.port == *n,
            Self::Name(name) => port.name.as_deref() == Some(name.as_str()),
        }
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

fn describe_ports(svc: &Service) -> String {
    let ports: Vec<String> = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| match &p.name {
            Some(n) if !n.is_empty() => format!("{} ({n})", p.port),
            _ => p.port.to_string(),
        })
        .collect();
    if ports.is_empty() {
        "none (the service has no ports)".into()
    } else {
        ports.join(", ")
    }
}

/// Resolves the target port of `svc_port` per EndpointSlice and collects ready endpoints.
/// Returns `Err` when the port is named and no slice carries it.
fn ip_targets(
    index: &Index<'_>,
    namespace: &str,
    service: &str,
    svc: &Service,
    svc_port: &ServicePort,
    invalid: &mut Vec<(String, String)>,
) -> Result<Vec<TargetSpec>, String> {
    let resolved = endpoint_targets(index, namespace, service, svc, svc_port, Readiness::Ready);
    invalid.extend(resolved.invalid);
    if let Some(ipv4_slices) = resolved.unresolved_in {
        let target = match &svc_port.target_port {
            Some(IntOrString::String(s)) => s.as_str(),
            _ => "",
        };
        let port_name = svc_port.name.as_deref().unwrap_or_default();
        return Err(format!(
            "named targetPort {target:?} of service {namespace}/{service} port {} is not resolved by any of its {ipv4_slices} EndpointSlice(s): expected an EndpointSlice port named {port_name:?}",
            svc_port.port
        ));
    }
    Ok(resolved.targets)
}

/// Where a merged "Ing,Svc" setting came from, for messages.
fn source(from_service: bool, service: &ObjectRef, ingress: &ObjectRef, set: bool) -> String {
    match (set, from_service) {
        (false, _) => "the default".to_owned(),
        (true, true) => format!("set on {service}"),
        (true, false) => format!("set on {ingress}"),
    }
}

/// The checks AWS makes on a health check that only the merged (Ingress, then Service)
/// settings can make: timeout below interval, success codes of the right kind.
fn check_health_check(
    settings: &BackendSettings,
    svc: &BackendSettings,
    service: &ObjectRef,
    ingress: &ObjectRef,
    grpc: bool,
) -> Result<(), String> {
    let interval = settings
        .healthcheck_interval
        .unwrap_or(defaults::HEALTHCHECK_INTERVAL);
    let timeout = settings
        .healthcheck_timeout
        .unwrap_or(defaults::HEALTHCHECK_TIMEOUT);
    if timeout >= interval {
        return Err(format!(
            "annotation {HEALTHCHECK_TIMEOUT} is {timeout} ({}) but the health-check interval is {interval} ({}): expected a timeout below the interval, as ALB requires",
            source(svc.healthcheck_timeout.is_some(), service, ingress, settings.healthcheck_timeout.is_some()),
            source(svc.healthcheck_interval.is_some(), service, ingress, settings.healthcheck_interval.is_some()),
        ));
    }
    if let Some(codes) = &settings.success_codes {
        let ((lo, hi), kind) = if grpc {
            (
                GRPC_SUCCESS_CODES,
                "gRPC codes from 0 to 99, because backend-protocol-version is GRPC",
            )
        } else {
            (HTTP_SUCCESS_CODES, "HTTP codes from 200 to 499")
        };
        if !success_codes_within(codes, lo, hi) {
            return Err(format!(
                "annotation {SUCCESS_CODES} is {} ({}): expected {kind}",
                shown(codes),
                source(svc.success_codes.is_some(), service, ingress, true),
            ));
        }
    }
    Ok(())
}

/// Builds the target group for `service:port` of `member`, or explains why it cannot be built.
pub(crate) fn build(
    index: &Index<'_>,
    stack: &StackId,
    member: &Member<'_>,
    service: &str,
    port: &PortRef,
    warnings: &mut Vec<BuildError>,
) -> Result<TargetGroupSpec, String> {
    let ns = member.namespace.as_str();
    let svc = index
        .service(ns, service)
        .ok_or_else(|| format!("service {ns}/{service} not found"))?;
    let svc_port = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| port.matches(p)))
        .ok_or_else(|| {
            format!(
                "service {ns}/{service} has no port \"{port}\": expected one of {}",
                describe_ports(svc)
            )
        })?;
    let svc_object = ObjectRef::namespaced("service", ns, service);
    let svc_settings = BackendSettings::parse(&Annotations::new(
        &svc_object,
        svc.metadata.annotations.as_ref(),
    ))
    .map_err(|e| e.to_string())?;
    let settings = svc_settings.over(&member.settings.backend);
    let target_type = member
        .params_target_type
        .or(settings.target_type)
        .unwrap_or(index.config.default_target_type);
    let svc_type = svc
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP");

    let mut invalid = Vec::new();
    let (tg_port, targets) = match target_type {
        TargetType::Instance => {
            if !matches!(svc_type, "NodePort" | "LoadBalancer") {
                return Err(format!(
                    "target type instance needs a NodePort or LoadBalancer service but service {ns}/{service} is {svc_type}: expected type NodePort or LoadBalancer, or annotation {TARGET_TYPE}: ip"
                ));
            }
            let node_port = svc_port.node_port.and_then(port_u16).ok_or_else(|| {
                format!(
                    "service {ns}/{service} port {} has no nodePort: expected spec.ports[].nodePort for target type instance",
                    svc_port.port
                )
            })?;
            let targets = index
                .instances()
                .iter()
                .map(|id| TargetSpec {
                    id: id.clone(),
                    port: node_port,
                })
                .collect();
            (node_port, targets)
        }
        TargetType::Ip => {
            let tg_port = match &svc_port.target_port {
                Some(IntOrString::Int(n)) => port_u16(*n).ok_or_else(|| {
                    format!(
                        "service {ns}/{service} port {} has targetPort {n}: expected a port number from 1 to 65535 or a container port name",
                        svc_port.port
                    )
                })?,
                None => port_u16(svc_port.port).unwrap_or(1),
                // LBC uses port 1 when the target port is named: each target carries its own.
                Some(IntOrString::String(_)) => 1,
            };
            (
                tg_port,
                ip_targets(index, ns, service, svc, svc_port, &mut invalid)?,
            )
        }
    };

    let protocol = settings.backend_protocol.unwrap_or(Protocol::Http);
    let version = settings
        .backend_protocol_version
        .unwrap_or(ProtocolVersion::Http1);
    let grpc = version == ProtocolVersion::Grpc;
    let hc_port = match settings.healthcheck_port.as_deref() {
        None | Some(defaults::HEALTHCHECK_PORT) => defaults::HEALTHCHECK_PORT.to_owned(),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.to_owned(),
        Some(name) => {
            let named = svc
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some(name)))
                .ok_or_else(|| {
                    format!(
                        "annotation {HEALTHCHECK_PORT} names port {name:?}, which service {ns}/{service} does not have: expected one of {}",
                        describe_ports(svc)
                    )
                })?;
            let resolved = match target_type {
                TargetType::Instance => named.node_port,
                TargetType::Ip => match &named.target_port {
                    Some(IntOrString::Int(n)) => Some(*n),
                    None => Some(named.port),
                    Some(IntOrString::String(_)) => {
                        ip_targets(index, ns, service, svc, named, &mut Vec::new())?
                            .first()
                            .map(|t| i32::from(t.port))
                    }
                },
            };
            resolved.and_then(port_u16).map(|p| p.to_string()).ok_or_else(|| {
                format!("annotation {HEALTHCHECK_PORT} names port {name:?} of service {ns}/{service}, which has no usable port number for target type {target_type}")
            })?
        }
    };
    check_health_check(&settings, &svc_settings, &svc_object, &member.object, grpc)?;
    let health_check = HealthCheckSpec {
        protocol: settings.healthcheck_protocol.unwrap_or(Protocol::Http),
        port: hc_port,
        path: settings.healthcheck_path.clone().unwrap_or_else(|| {
            if grpc {
                defaults::HEALTHCHECK_PATH_GRPC
            } else {
                defaults::HEALTHCHECK_PATH
            }
            .to_owned()
        }),
        interval_seconds: settings
            .healthcheck_interval
            .unwrap_or(defaults::HEALTHCHECK_INTERVAL),
        timeout_seconds: settings
            .healthcheck_timeout
            .unwrap_or(defaults::HEALTHCHECK_TIMEOUT),
        healthy_threshold_count: settings
            .healthy_threshold
            .unwrap_or(defaults::HEALTHY_THRESHOLD),
        unhealthy_threshold_count: settings
            .unhealthy_threshold
            .unwrap_or(defaults::UNHEALTHY_THRESHOLD),
        matcher: if grpc {
            MatcherSpec {
                http_code: None,
                grpc_code: Some(
                    settings
                        .success_codes
                        .clone()
                        .unwrap_or_else(|| defaults::SUCCESS_CODES_GRPC.into()),
                ),
            }
        } else {
            MatcherSpec {
                http_code: Some(
                    settings
                        .success_codes
                        .clone()
                        .unwrap_or_else(|| defaults::SUCCESS_CODES.into()),
                ),
                grpc_code: None,
            }
        },
    };
    let id = format!("{ns}/{}-{service}:{port}", member.name);
    let port_text = port.to_string();
    let name = target_group_name(&TargetGroupNameInputs {
        cluster: &index.config.cluster_name,
        stack,
        ingress_namespace: ns,
        ingress_name: &member.name,
        service_name: service,
        service_uid: svc.metadata.uid.as_deref().unwrap_or_default(),
        service_port: &port_text,
        target_group_port: tg_port,
        target_type: target_type.as_str(),
        protocol: protocol.as_str(),
        protocol_version: version.as_str(),
    });
    for (field, addr) in invalid {
        warnings.push(invalid_field(
            &member.object,
            field,
            &addr,
            format!("an IPv4 address; that endpoint is not a target of target group {id}"),
        ));
    }
    let mut user_tags = settings.tags.clone();
    user_tags.extend(member.params_tags.clone());
    Ok(TargetGroupSpec {
        tags: tags::with_tracking(&user_tags, &index.config.cluster_name, stack, &id),
        id,
        name,
        port: tg_port,
        protocol,
        protocol_version: Some(version),
        target_type,
        ip_address_type: "ipv4".to_owned(),
        health_check,
        targets,
        attributes: settings.target_group_attributes.clone().unwrap_or_default(),
    })
}
