//! A Gateway's listeners on an ALB: protocol, port, conflicts, certificates and route kinds,
//! each with its status conditions.
use super::listener_sets::{conflicts, shown, Clash, Entry};
use super::status::{self, reason, Condition, ListenerStatus};
use super::types::ListenerConfiguration;
use super::{message_of, Listener, Settings, GROUP};
use crate::model::Protocol;
use crate::translate::endpoints::port_u16;
use crate::translate::error::{invalid_field, BuildError, ObjectRef};
use crate::translate::BuildConfig;

/// The route kind of ALB HTTP and HTTPS listeners.
pub(super) const HTTP_ROUTE: &str = "HTTPRoute";
/// The route kind ALB HTTPS listeners serve too (ALB's gRPC target groups need an HTTPS
/// listener).
pub(super) const GRPC_ROUTE: &str = "GRPCRoute";

/// One Gateway listener and what was decided about it.
#[derive(Clone, Debug)]
pub(super) struct State<'a> {
    /// The listener.
    pub(super) listener: &'a Listener,
    /// `None`: the Gateway's own; `Some(k)`: of the `k`th attached ListenerSet.
    pub(super) set: Option<usize>,
    /// The namespace `allowedRoutes.namespaces.from: Same` means (the Gateway's, or the
    /// ListenerSet's).
    pub(super) home_ns: &'a str,
    /// The ALB protocol (`None`: not served by an ALB).
    pub(super) protocol: Option<Protocol>,
    /// The port (`0` when invalid).
    pub(super) port: u16,
    /// `Accepted`.
    pub(super) accepted: Condition,
    /// `Conflicted`.
    pub(super) conflicted: Condition,
    /// `ResolvedRefs`.
    pub(super) resolved_refs: Condition,
    /// Whether the certificates resolved (HTTPS) — an HTTPS listener without one cannot be
    /// programmed.
    pub(super) certificates_ok: bool,
    /// Certificate ARNs (HTTPS), default first.
    pub(super) certificates: Vec<String>,
    /// HTTPS without a certificate in the LoadBalancerConfiguration nor `tls.certificateRefs`:
    /// its certificates are discovered in ACM by hostname (the AWS Load Balancer Controller's
    /// Gateway rule), checked by [`super::routes::build`] once the routes' hostnames are known.
    pub(super) discover: bool,
    /// TLS policy (HTTPS).
    pub(super) ssl_policy: Option<String>,
    /// Route kinds that may attach (`allowedRoutes.kinds` among those the protocol serves).
    pub(super) allowed_kinds: Vec<&'static str>,
    /// Routes attached.
    pub(super) attached: u32,
}

impl State<'_> {
    /// Accepted and not conflicted: routes may attach.
    pub(super) fn is_attachable(&self) -> bool {
        self.accepted.status == status::ConditionStatus::True
            && self.conflicted.status == status::ConditionStatus::False
    }

    /// Attachable and its certificates resolved: it becomes an ALB listener.
    pub(super) fn is_valid(&self) -> bool {
        self.is_attachable() && self.certificates_ok
    }

    /// The listener's status.
    pub(super) fn status(&self) -> ListenerStatus {
        let programmed = if self.is_valid() {
            Condition::unknown(
                status::PROGRAMMED,
                reason::PENDING,
                "waiting for the load balancer",
            )
        } else if self.conflicted.status == status::ConditionStatus::True {
            Condition::no(
                status::PROGRAMMED,
                self.conflicted.reason,
                self.conflicted.message.clone(),
            )
        } else {
            Condition::no(
                status::PROGRAMMED,
                reason::INVALID,
                "the listener is not valid",
            )
        };
        ListenerStatus {
            name: self.listener.name.clone(),
            supported_kinds: if self.protocol.is_some() {
                self.allowed_kinds
                    .iter()
                    .map(|k| format!("{GROUP}/{k}"))
                    .collect()
            } else {
                Vec::new()
            },
            attached_routes: self.attached,
            conditions: vec![
                self.accepted.clone(),
                self.conflicted.clone(),
                self.resolved_refs.clone(),
                programmed,
            ],
        }
    }
}

/// Validates every listener of `gw`; every condition that is not met is also an error.
/// The route kinds a listener admits of those it can `served`, and the `group/kind` of each
/// kind its `allowedRoutes.kinds` names that it cannot serve (an empty list: all it serves).
pub(super) fn allowed_kinds(
    l: &Listener,
    served: &[&'static str],
) -> (Vec<&'static str>, Vec<String>) {
    let Some(kinds) = l
        .allowed_routes
        .as_ref()
        .and_then(|a| a.kinds.as_ref())
        .filter(|k| !k.is_empty())
    else {
        return (served.to_vec(), Vec::new());
    };
    let (mut allowed, mut bad) = (Vec::new(), Vec::new());
    for k in kinds {
        let group = k.group.as_deref().unwrap_or(GROUP);
        match served.iter().find(|s| group == GROUP && k.kind == **s) {
            Some(s) => allowed.push(*s),
            None => bad.push(format!("{group}/{}", k.kind)),
        }
    }
    (allowed, bad)
}

/// The LoadBalancerConfiguration's entry for a listener's `PROTOCOL:PORT`, and its ACM
/// certificates (`defaultCertificate` first, then `certificates` without repeats).
pub(super) fn listener_configuration<'s>(
    settings: &'s Settings,
    l: &Listener,
) -> (Option<&'s ListenerConfiguration>, Vec<String>) {
    let protocol_port = format!("{}:{}", l.protocol, l.port);
    let conf = settings
        .spec
        .listener_configurations
        .iter()
        .flatten()
        .find(|c| c.protocol_port == protocol_port);
    let mut certificates: Vec<String> = conf
        .and_then(|c| c.default_certificate.clone())
        .into_iter()
        .collect();
    for c in conf
        .into_iter()
        .flat_map(|c| c.certificates.iter().flatten())
    {
        if !certificates.contains(c) {
            certificates.push(c.clone());
        }
    }
    (conf, certificates)
}

pub(super) fn validate<'a>(
    entries: &[Entry<'a>],
    settings: &Settings,
    config: &BuildConfig,
    errors: &mut Vec<BuildError>,
) -> Vec<State<'a>> {
    let mut states = Vec::with_capacity(entries.len());
    let clashes = conflicts(entries, &|a, b| {
        if a.protocol != b.protocol {
            Some(Clash::Protocol)
        } else if a.hostname == b.hostname {
            Some(Clash::Hostname)
        } else {
            None
        }
    });
    for (i, entry) in entries.iter().enumerate() {
        let l = entry.listener;
        let object: &ObjectRef = &entry.object;
        let field = entry.field.clone();
        let mut fail = |e: BuildError| {
            let m = message_of(&e);
            errors.push(e);
            m
        };
        let protocol = match l.protocol.as_str() {
            "HTTP" => Some(Protocol::Http),
            "HTTPS" => Some(Protocol::Https),
            _ => None,
        };
        let port = port_u16(l.port).unwrap_or(0);
        let passthrough = l.tls.as_ref().and_then(|t| t.mode.as_deref()) == Some("Passthrough");
        let accepted = if protocol.is_none() {
            Condition::no(
                status::ACCEPTED,
                reason::UNSUPPORTED_PROTOCOL,
                fail(invalid_field(
                    object,
                    format!("{field}.protocol"),
                    &l.protocol,
                    "\"HTTP\" or \"HTTPS\" on an ALB Gateway (TCP, UDP and TLS listeners need an NLB class, gateway.k8s.aws/nlb)",
                )),
            )
        } else if port == 0 {
            Condition::no(
                status::ACCEPTED,
                reason::PORT_UNAVAILABLE,
                fail(invalid_field(
                    object,
                    format!("{field}.port"),
                    &l.port.to_string(),
                    "a port from 1 to 65535",
                )),
            )
        } else if passthrough {
            Condition::no(
                status::ACCEPTED,
                reason::UNSUPPORTED_PROTOCOL,
                fail(invalid_field(
                    object,
                    format!("{field}.tls.mode"),
                    "Passthrough",
                    "\"Terminate\": an ALB terminates TLS (passthrough needs an NLB Gateway with a TLSRoute)",
                )),
            )
        } else {
            Condition::yes(
                status::ACCEPTED,
                reason::ACCEPTED,
                "the listener is accepted",
            )
        };
        // Conflicts with the other listeners on the same port (of this resource, or kept of
        // one before it in precedence): a protocol conflict first.
        let mine = clashes.get(i).map(Vec::as_slice).unwrap_or_default();
        let first = mine
            .iter()
            .find(|(_, c)| *c == Clash::Protocol)
            .or_else(|| mine.first());
        let conflicted = match first {
            None => Condition::no(status::CONFLICTED, reason::NO_CONFLICTS, "no conflict"),
            Some((j, Clash::Protocol)) => {
                let o = entries[*j].listener;
                Condition::yes(
                    status::CONFLICTED,
                    reason::PROTOCOL_CONFLICT,
                    fail(invalid_field(
                        object,
                        format!("{field}.protocol"),
                        &l.protocol,
                        format!(
                            "the protocol of listener {:?} ({}) on port {}: one port has one protocol",
                            o.name,
                            shown(entry, &entries[*j]),
                            l.port
                        ),
                    )),
                )
            }
            Some((j, Clash::Hostname)) => {
                let o = entries[*j].listener;
                Condition::yes(
                    status::CONFLICTED,
                    reason::HOSTNAME_CONFLICT,
                    fail(invalid_field(
                        object,
                        format!("{field}.hostname"),
                        l.hostname.as_deref().unwrap_or_default(),
                        format!(
                            "a hostname other than that of listener {:?} ({}) on port {}",
                            o.name,
                            shown(entry, &entries[*j]),
                            l.port
                        ),
                    )),
                )
            }
        };
        let accepted = if conflicted.status == status::ConditionStatus::True {
            Condition::no(
                status::ACCEPTED,
                conflicted.reason,
                conflicted.message.clone(),
            )
        } else {
            accepted
        };
        // Route kinds.
        let served: &[&'static str] = if protocol == Some(Protocol::Https) {
            &[HTTP_ROUTE, GRPC_ROUTE]
        } else {
            &[HTTP_ROUTE]
        };
        let (allowed_kinds, bad_kinds) = allowed_kinds(l, served);
        // Certificates (HTTPS): ACM ARNs from the LoadBalancerConfiguration.
        let protocol_port = format!("{}:{}", l.protocol, l.port);
        let (listener_conf, certificates) = listener_configuration(settings, l);
        let needs_certificate = protocol == Some(Protocol::Https);
        let certificate_refs: Vec<&str> = l
            .tls
            .iter()
            .flat_map(|t| t.certificate_refs.iter().flatten())
            .map(|r| r.name.as_str())
            .collect();
        // No ARN and no Secret named: discovered in ACM by hostname. A Secret named is refused
        // rather than replaced by whatever ACM holds for the hostname.
        let discover = needs_certificate && certificates.is_empty() && certificate_refs.is_empty();
        let certificates_ok = !needs_certificate || !certificates.is_empty() || discover;
        let resolved_refs = if !certificates_ok && accepted.status == status::ConditionStatus::True
        {
            Condition::no(
                status::RESOLVED_REFS,
                reason::INVALID_CERTIFICATE_REF,
                fail(invalid_field(
                    object,
                    format!("{field}.tls.certificateRefs"),
                    &certificate_refs.join(", "),
                    format!(
                        "an ACM certificate ARN in listenerConfigurations[protocolPort={protocol_port}].defaultCertificate of the Gateway's LoadBalancerConfiguration, or no certificateRefs to have ACM certificates discovered by hostname (an ALB takes no Secret)"
                    ),
                )),
            )
        } else if !bad_kinds.is_empty() {
            Condition::no(
                status::RESOLVED_REFS,
                reason::INVALID_ROUTE_KINDS,
                fail(invalid_field(
                    object,
                    format!("{field}.allowedRoutes.kinds"),
                    &bad_kinds.join(", "),
                    if protocol == Some(Protocol::Https) {
                        format!("{GROUP}/{HTTP_ROUTE} or {GROUP}/{GRPC_ROUTE} (the route kinds of an ALB HTTPS listener)")
                    } else {
                        format!("{GROUP}/{HTTP_ROUTE} (the route kind of an ALB HTTP listener; GRPCRoutes need HTTPS, as ALB's gRPC target groups do)")
                    },
                )),
            )
        } else {
            Condition::yes(
                status::RESOLVED_REFS,
                reason::RESOLVED_REFS,
                "references resolved",
            )
        };
        states.push(State {
            listener: l,
            set: entry.set,
            home_ns: entry.home_ns,
            protocol,
            port,
            accepted,
            conflicted,
            resolved_refs,
            certificates_ok,
            certificates,
            discover,
            ssl_policy: needs_certificate.then(|| {
                listener_conf
                    .and_then(|c| c.ssl_policy.clone())
                    .unwrap_or_else(|| config.default_ssl_policy.clone())
            }),
            allowed_kinds,
            attached: 0,
        });
    }
    states
}
