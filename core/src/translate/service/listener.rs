//! Service ports → NLB listeners: one per port number (`TCP_UDP` when a TCP and a UDP port share
//! it), TLS on the ports `aws-load-balancer-ssl-ports` names, each forwarding to its own target
//! group.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;

use super::annotations::{SSL_CERT, SSL_PORTS};
use super::ServiceContext;
use crate::model::{tags, ActionSpec, ListenerSpec, Protocol, TargetGroupRef};
use crate::translate::error::{invalid_annotation, invalid_field, shown, BuildError};

/// One entry of `spec.ports`, with its index for messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PortEntry<'a> {
    /// Index in `spec.ports`.
    pub(crate) index: usize,
    /// The entry.
    pub(crate) port: &'a ServicePort,
}

/// One listener to build, from one or two (TCP and UDP) entries of `spec.ports`.
#[derive(Clone, Debug)]
pub(crate) struct PortPlan<'a> {
    /// Listener port.
    pub(crate) port: u16,
    /// Listener protocol: TCP, UDP, TCP_UDP or TLS.
    pub(crate) protocol: Protocol,
    /// Target group protocol: the listener's, except TCP (or TLS with `backend-protocol: ssl`)
    /// behind a TLS listener.
    pub(crate) target_protocol: Protocol,
    /// The entries; for TCP_UDP the TCP entry comes first.
    pub(crate) entries: Vec<PortEntry<'a>>,
}

impl PortPlan<'_> {
    fn matches(&self, item: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.port.name.as_deref() == Some(item) || e.port.port.to_string() == item)
    }
}

/// `80 (http), 443 (https)`, for messages.
pub(crate) fn describe_ports(ports: &[ServicePort]) -> String {
    if ports.is_empty() {
        return "none (the service has no ports)".into();
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

fn entry_protocol(ctx: &ServiceContext<'_>, e: PortEntry<'_>) -> Result<Protocol, BuildError> {
    match e.port.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => Ok(Protocol::Tcp),
        "UDP" => Ok(Protocol::Udp),
        other => Err(invalid_field(
            &ctx.object,
            format!("spec.ports[{}].protocol", e.index),
            other,
            "\"TCP\" or \"UDP\" (what a Network Load Balancer forwards)",
        )),
    }
}

/// Groups `spec.ports` into listeners and decides which are TLS.
pub(crate) fn plan_ports<'a>(ctx: &ServiceContext<'a>) -> Result<Vec<PortPlan<'a>>, BuildError> {
    let ports: &'a [ServicePort] = ctx
        .svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    if ports.is_empty() {
        return Err(invalid_field(
            &ctx.object,
            "spec.ports",
            "",
            "at least one port",
        ));
    }
    let mut by_number: BTreeMap<u16, Vec<(Protocol, PortEntry<'a>)>> = BTreeMap::new();
    for (index, port) in ports.iter().enumerate() {
        let entry = PortEntry { index, port };
        let number = u16::try_from(port.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                invalid_field(
                    &ctx.object,
                    format!("spec.ports[{index}].port"),
                    &port.port.to_string(),
                    "a port number from 1 to 65535",
                )
            })?;
        let protocol = entry_protocol(ctx, entry)?;
        let same = by_number.entry(number).or_default();
        if let Some((_, first)) = same.iter().find(|(p, _)| *p == protocol) {
            return Err(invalid_field(
                &ctx.object,
                format!("spec.ports[{index}].port"),
                &number.to_string(),
                format!(
                    "each port number once per protocol (spec.ports[{}] is also {protocol} {number})",
                    first.index
                ),
            ));
        }
        same.push((protocol, entry));
    }
    let mut plans: Vec<PortPlan<'a>> = by_number
        .into_iter()
        .map(|(port, mut entries)| {
            entries.sort_by_key(|(p, _)| *p);
            let protocol = if entries.len() > 1 {
                Protocol::TcpUdp
            } else {
                entries.first().map_or(Protocol::Tcp, |(p, _)| *p)
            };
            PortPlan {
                port,
                protocol,
                target_protocol: protocol,
                entries: entries.into_iter().map(|(_, e)| e).collect(),
            }
        })
        .collect();

    let s = &ctx.settings;
    if let Some(items) = &s.ssl_ports {
        let raw = items.join(",");
        for item in items.iter().filter(|i| *i != "*") {
            let Some(plan) = plans.iter().find(|p| p.matches(item)) else {
                return Err(invalid_annotation(
                    &ctx.object,
                    SSL_PORTS,
                    &raw,
                    format!(
                        "\"*\" or names or numbers of the service's ports ({}), but {} is none of them",
                        describe_ports(ports),
                        shown(item)
                    ),
                ));
            };
            if plan.protocol != Protocol::Tcp {
                return Err(invalid_annotation(
                    &ctx.object,
                    SSL_PORTS,
                    &raw,
                    format!(
                        "TCP ports only, but port {} ({item}) is {}: a Network Load Balancer terminates TLS on TCP only",
                        plan.port, plan.protocol
                    ),
                ));
            }
        }
        if s.ssl_certificates.is_none() {
            return Err(invalid_annotation(
                &ctx.object,
                SSL_PORTS,
                &raw,
                format!("a certificate ARN in annotation {SSL_CERT} for the TLS ports it names"),
            ));
        }
    }
    if s.ssl_certificates.is_some() {
        for plan in plans.iter_mut().filter(|p| p.protocol == Protocol::Tcp) {
            // As LBC: with a certificate and no ssl-ports, every TCP port is TLS.
            let tls = s.ssl_ports.as_ref().is_none_or(|items| {
                items.iter().any(|i| i == "*") || items.iter().any(|i| plan.matches(i))
            });
            if tls {
                plan.protocol = Protocol::Tls;
                plan.target_protocol = if s.backend_tls {
                    Protocol::Tls
                } else {
                    Protocol::Tcp
                };
            }
        }
    }
    Ok(plans)
}

/// Builds the listener of one port, forwarding to target group `tg_id`.
pub(crate) fn build(ctx: &ServiceContext<'_>, plan: &PortPlan<'_>, tg_id: &str) -> ListenerSpec {
    let s = &ctx.settings;
    let tls = plan.protocol == Protocol::Tls;
    ListenerSpec {
        port: plan.port,
        protocol: plan.protocol,
        default_actions: vec![ActionSpec::Forward {
            target_groups: vec![TargetGroupRef {
                id: Some(tg_id.to_owned()),
                arn: None,
                name: None,
                weight: 1,
            }],
            stickiness: None,
        }],
        rules: Vec::new(),
        ssl_policy: tls.then(|| {
            s.ssl_policy
                .clone()
                .unwrap_or_else(|| ctx.index.config.default_ssl_policy.clone())
        }),
        certificates: if tls {
            s.ssl_certificates.clone().unwrap_or_default()
        } else {
            Vec::new()
        },
        certificate_discovery: Vec::new(),
        alpn_policy: if tls { s.alpn_policy.clone() } else { None },
        attributes: s
            .listener_attributes
            .get(&(plan.protocol, plan.port))
            .cloned()
            .unwrap_or_default(),
        mutual_authentication: None,
        tags: tags::with_tracking(&s.tags, ctx.cluster(), &ctx.stack, &plan.port.to_string()),
    }
}
