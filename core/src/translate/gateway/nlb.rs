//! NLB Gateways (GatewayClass `controllerName: gateway.k8s.aws/nlb`): TCP, UDP and TLS
//! listeners; TCPRoute, UDPRoute and TLSRoute (experimental channel) → NLB listeners, each
//! forwarding to the target group of one backend.
//!
//! An NLB listener has no rules: it cannot tell connections apart by hostname (no SNI routing),
//! so a listener takes exactly one route. When several routes attach to one listener, the
//! oldest (`metadata.creationTimestamp`, then namespace/name, the specification's tie-break)
//! holds it and the others are refused (`Accepted=False`, `NotAllowedByListeners`, naming the
//! route that holds it). Listeners on one port must agree on the protocol (TCP and UDP on one
//! port are not merged into `TCP_UDP` yet) and, for one protocol, one port has one listener.
//! TLS listeners terminate TLS with the ACM certificates of the LoadBalancerConfiguration's
//! `listenerConfigurations[protocolPort=TLS:<port>]`, as ALB HTTPS listeners do; `Passthrough`
//! TLS listeners become TCP listeners, as the AWS Load Balancer Controller makes them.
use std::collections::BTreeMap;

use super::dns;
use super::listener_sets::{
    conflicts, names_refused, scope_of, set_shown, shown, Clash, Entry, Sets,
};
use super::listeners::{allowed_kinds, listener_configuration};
use super::routes::{
    intersect, namespace_allowed, parent_shown, refused_expected, route_ref, target_group, AnyRoute,
};
use super::status::{
    self, reason, Condition, ConditionStatus, ListenerStatus, RouteParentStatus, RouteStatus,
};
use super::{message_of, name_of, namespace_of, Gateway, GatewayObjects, Settings, GROUP};
use super::{Listener, ParentReference, NLB_CONTROLLER};
use crate::dns::DesiredHost;
use crate::model::{
    tags, ActionSpec, ListenerSpec, Protocol, StackId, TargetGroupRef, TargetGroupSpec,
};
use crate::translate::endpoints::port_u16;
use crate::translate::error::{invalid_field, BuildError, ObjectRef};
use crate::translate::service::annotations::ALPN_POLICIES;
use crate::translate::{BuildConfig, Index};

/// TCPRoute.
pub(super) const TCP_ROUTE: &str = "TCPRoute";
/// UDPRoute.
pub(super) const UDP_ROUTE: &str = "UDPRoute";
/// TLSRoute.
pub(super) const TLS_ROUTE: &str = "TLSRoute";

/// One Gateway listener of an NLB Gateway and what was decided about it.
struct State<'a> {
    listener: &'a Listener,
    /// `None`: the Gateway's own; `Some(k)`: of the `k`th attached ListenerSet.
    set: Option<usize>,
    /// The namespace `allowedRoutes.namespaces.from: Same` means.
    home_ns: &'a str,
    /// The NLB listener protocol (`TLS` passthrough → `TCP`); `None`: not served.
    protocol: Option<Protocol>,
    port: u16,
    accepted: Condition,
    conflicted: Condition,
    resolved_refs: Condition,
    certificates_ok: bool,
    certificates: Vec<String>,
    ssl_policy: Option<String>,
    alpn_policy: Option<String>,
    allowed_kinds: Vec<&'static str>,
    /// The route holding the listener (index in the routes), once decided.
    holder: Option<usize>,
    /// The target group the listener forwards to.
    target_group: Option<String>,
    /// Why a valid listener is not programmed.
    not_programmed: Option<String>,
    attached: u32,
}

impl State<'_> {
    fn is_attachable(&self) -> bool {
        self.accepted.status == ConditionStatus::True
            && self.conflicted.status == ConditionStatus::False
    }

    fn is_valid(&self) -> bool {
        self.is_attachable() && self.certificates_ok
    }

    fn status(&self) -> ListenerStatus {
        let programmed = if self.is_valid() && self.target_group.is_some() {
            Condition::unknown(
                status::PROGRAMMED,
                reason::PENDING,
                "waiting for the load balancer",
            )
        } else if self.conflicted.status == ConditionStatus::True {
            Condition::no(
                status::PROGRAMMED,
                self.conflicted.reason,
                self.conflicted.message.clone(),
            )
        } else if self.is_valid() {
            Condition::no(
                status::PROGRAMMED,
                reason::INVALID,
                self.not_programmed.clone().unwrap_or_else(|| {
                    "no route is attached: an NLB listener forwards to the backend of one route"
                        .to_owned()
                }),
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

/// What [`build`] returns for an NLB Gateway.
pub(super) struct Built {
    /// NLB listeners, sorted by port.
    pub(super) listeners: Vec<ListenerSpec>,
    /// One target group per listener's backend, sorted by id.
    pub(super) target_groups: Vec<TargetGroupSpec>,
    /// Routes holding a listener (`kind/ns/name`).
    pub(super) routes: Vec<String>,
    /// Whether a target group has instance targets.
    pub(super) uses_instance_targets: bool,
    /// Listener statuses, in merged order: the Gateway's own listeners (`None`) then those of
    /// the attached ListenerSets (`Some(k)`), each with whether it is valid.
    pub(super) listener_status: Vec<(Option<usize>, bool, ListenerStatus)>,
    /// Route53 names of the accepted routes on their listeners ([`dns`]).
    pub(super) hostnames: Vec<DesiredHost>,
}

fn validate<'a>(
    entries: &[Entry<'a>],
    settings: &Settings,
    config: &BuildConfig,
    errors: &mut Vec<BuildError>,
) -> Vec<State<'a>> {
    let mut states = Vec::with_capacity(entries.len());
    // An NLB listener cannot tell hostnames apart: two on one port always clash.
    let clashes = conflicts(entries, &|a, b| {
        Some(if a.protocol == b.protocol {
            Clash::Hostname
        } else {
            Clash::Protocol
        })
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
        let passthrough = l.tls.as_ref().and_then(|t| t.mode.as_deref()) == Some("Passthrough");
        let (protocol, served): (Option<Protocol>, &[&'static str]) = match l.protocol.as_str() {
            "TCP" => (Some(Protocol::Tcp), &[TCP_ROUTE]),
            "UDP" => (Some(Protocol::Udp), &[UDP_ROUTE]),
            "TLS" if passthrough => (Some(Protocol::Tcp), &[TLS_ROUTE]),
            "TLS" => (Some(Protocol::Tls), &[TLS_ROUTE, TCP_ROUTE]),
            _ => (None, &[]),
        };
        let port = port_u16(l.port).unwrap_or(0);
        let accepted = if protocol.is_none() {
            Condition::no(
                status::ACCEPTED,
                reason::UNSUPPORTED_PROTOCOL,
                fail(invalid_field(
                    object,
                    format!("{field}.protocol"),
                    &l.protocol,
                    "\"TCP\", \"UDP\" or \"TLS\" on an NLB Gateway (HTTP and HTTPS listeners need an ALB class, gateway.k8s.aws/alb)",
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
        } else {
            Condition::yes(
                status::ACCEPTED,
                reason::ACCEPTED,
                "the listener is accepted",
            )
        };
        let first_other = clashes
            .get(i)
            .and_then(|c| c.first())
            .map(|(j, c)| (shown(entry, &entries[*j]), entries[*j].listener, *c));
        let conflicted = match first_other {
            None => Condition::no(status::CONFLICTED, reason::NO_CONFLICTS, "no conflict"),
            Some((j, o, Clash::Hostname)) => {
                Condition::yes(
                    status::CONFLICTED,
                    reason::HOSTNAME_CONFLICT,
                    fail(invalid_field(
                        object,
                        format!("{field}.port"),
                        &l.port.to_string(),
                        format!(
                            "a port other than that of listener {:?} ({j}): an NLB listener cannot tell hostnames apart",
                            o.name
                        ),
                    )),
                )
            }
            Some((j, o, Clash::Protocol)) => Condition::yes(
                    status::CONFLICTED,
                    reason::PROTOCOL_CONFLICT,
                    fail(invalid_field(
                        object,
                        format!("{field}.protocol"),
                        &l.protocol,
                        format!(
                            "the protocol of listener {:?} ({j}) on port {}: one port has one protocol (TCP and UDP are not merged into TCP_UDP yet)",
                            o.name, l.port
                        ),
                    )),
                ),
        };
        let accepted = if conflicted.status == ConditionStatus::True {
            Condition::no(
                status::ACCEPTED,
                conflicted.reason,
                conflicted.message.clone(),
            )
        } else {
            accepted
        };
        let (allowed_kinds, bad_kinds) = allowed_kinds(l, served);
        let protocol_port = format!("{}:{}", l.protocol, l.port);
        let (listener_conf, certificates) = listener_configuration(settings, l);
        let terminates = protocol == Some(Protocol::Tls);
        let alpn_policy = listener_conf
            .and_then(|c| c.alpn_policy.clone())
            .filter(|_| terminates);
        let accepted = match &alpn_policy {
            Some(p)
                if accepted.status == ConditionStatus::True
                    && !ALPN_POLICIES.contains(&p.as_str()) =>
            {
                Condition::no(
                    status::ACCEPTED,
                    reason::UNSUPPORTED_VALUE,
                    fail(invalid_field(
                        object,
                        format!("loadbalancerconfiguration spec.listenerConfigurations[protocolPort={protocol_port}].alpnPolicy"),
                        p,
                        format!("one of {}", ALPN_POLICIES.join(", ")),
                    )),
                )
            }
            _ => accepted,
        };
        let certificates_ok = !terminates || !certificates.is_empty();
        let resolved_refs = if !certificates_ok && accepted.status == ConditionStatus::True {
            Condition::no(
                status::RESOLVED_REFS,
                reason::INVALID_CERTIFICATE_REF,
                fail(invalid_field(
                    object,
                    format!("{field}.tls.certificateRefs"),
                    &l.tls
                        .iter()
                        .flat_map(|t| t.certificate_refs.iter().flatten())
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!(
                        "an ACM certificate ARN in listenerConfigurations[protocolPort={protocol_port}].defaultCertificate of the Gateway's LoadBalancerConfiguration (an NLB takes no Secret), or tls.mode Passthrough"
                    ),
                )),
            )
        } else if !bad_kinds.is_empty() && protocol.is_some() {
            Condition::no(
                status::RESOLVED_REFS,
                reason::INVALID_ROUTE_KINDS,
                fail(invalid_field(
                    object,
                    format!("{field}.allowedRoutes.kinds"),
                    &bad_kinds.join(", "),
                    format!(
                        "{} (the route kinds of an NLB {} listener)",
                        served
                            .iter()
                            .map(|k| format!("{GROUP}/{k}"))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        if passthrough {
                            "TLS passthrough"
                        } else {
                            l.protocol.as_str()
                        }
                    ),
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
            ssl_policy: terminates.then(|| {
                listener_conf
                    .and_then(|c| c.ssl_policy.clone())
                    .unwrap_or_else(|| config.default_ssl_policy.clone())
            }),
            alpn_policy,
            allowed_kinds,
            holder: None,
            target_group: None,
            not_programmed: None,
            attached: 0,
        });
    }
    states
}

/// A route's attempt to attach through one `parentRefs` entry.
struct Attempt {
    parent_index: usize,
    /// The ListenerSet the entry names (`namespace/name`), if it names one.
    listener_set: Option<String>,
    section_name: Option<String>,
    port: Option<i32>,
    /// The listeners it may take, or why none.
    outcome: Result<Vec<usize>, Condition>,
}

/// Translates the listeners and routes of an NLB Gateway.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
pub(super) fn build(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    stack: &StackId,
    settings: &Settings,
    (entries, sets): (&[Entry<'_>], &Sets<'_>),
    errors: &mut Vec<BuildError>,
    statuses: &mut Vec<RouteStatus>,
) -> Built {
    let mut states = validate(entries, settings, index.config, errors);
    let gw_ns = namespace_of(&gw.metadata);
    let gw_shown = format!("{gw_ns}/{}", name_of(&gw.metadata));
    let names_us = |route_ns: &str, p: &ParentReference| {
        scope_of(route_ns, p, gw, sets).is_some() || names_refused(route_ns, p, sets)
    };
    let routes: Vec<AnyRoute<'_>> = AnyRoute::all(objects)
        .into_iter()
        .filter(|r| {
            r.meta.deletion_timestamp.is_none()
                && r.parent_refs
                    .iter()
                    .any(|p| names_us(namespace_of(r.meta), p))
        })
        .collect();
    // 1. Which listeners each route may take.
    let mut attempts: Vec<Vec<Attempt>> = Vec::with_capacity(routes.len());
    for route in &routes {
        let route_ns = namespace_of(route.meta);
        let object = route_ref(route);
        let mut list = Vec::new();
        for (pi, parent) in route.parent_refs.iter().enumerate() {
            if !names_us(route_ns, parent) {
                continue;
            }
            let field = format!("spec.parentRefs[{pi}]");
            let scope = scope_of(route_ns, parent, gw, sets);
            let shown_parent = parent_shown(route_ns, parent, &gw_shown);
            let mut fail = |reason: &'static str, expected: String| {
                let e = invalid_field(&object, field.clone(), &shown_parent, expected);
                let m = message_of(&e);
                errors.push(e);
                Condition::no(status::ACCEPTED, reason, m)
            };
            let Some(scope) = scope else {
                list.push(Attempt {
                    parent_index: pi,
                    listener_set: Some(shown_parent.clone()),
                    section_name: parent.section_name.clone(),
                    port: parent.port,
                    outcome: Err(fail(
                        reason::NOT_ALLOWED_BY_LISTENERS,
                        refused_expected(&gw_shown),
                    )),
                });
                continue;
            };
            let named: Vec<usize> = states
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.set == scope
                        && parent
                            .section_name
                            .as_deref()
                            .is_none_or(|n| n == s.listener.name)
                        && parent.port.is_none_or(|p| p == s.listener.port)
                })
                .map(|(k, _)| k)
                .collect();
            let allowed: Vec<usize> = named
                .iter()
                .copied()
                .filter(|k| {
                    let s = &states[*k];
                    s.is_attachable()
                        && s.allowed_kinds.contains(&route.kind)
                        && namespace_allowed(index, s.listener, s.home_ns, route_ns)
                })
                .collect();
            let matching: Vec<usize> = allowed
                .iter()
                .copied()
                .filter(|k| {
                    !intersect(states[*k].listener.hostname.as_deref(), route.hostnames).is_empty()
                })
                .collect();
            let outcome = if named.is_empty() {
                Err(fail(
                    reason::NO_MATCHING_PARENT,
                    format!(
                        "a gateway listener{}{}",
                        parent
                            .section_name
                            .as_deref()
                            .map(|n| format!(" named {n:?}"))
                            .unwrap_or_default(),
                        parent
                            .port
                            .map(|p| format!(" on port {p}"))
                            .unwrap_or_default()
                    ),
                ))
            } else if allowed.is_empty() {
                Err(fail(
                    reason::NOT_ALLOWED_BY_LISTENERS,
                    format!(
                        "a gateway with an accepted listener whose allowedRoutes admit {}s from namespace {route_ns}",
                        route.kind
                    ),
                ))
            } else if matching.is_empty() {
                Err(fail(
                    reason::NO_MATCHING_LISTENER_HOSTNAME,
                    format!(
                        "a gateway listener whose hostname intersects the route's hostnames {:?}",
                        route.hostnames
                    ),
                ))
            } else {
                Ok(matching)
            };
            list.push(Attempt {
                parent_index: pi,
                listener_set: set_shown(sets, scope),
                section_name: parent.section_name.clone(),
                port: parent.port,
                outcome,
            });
        }
        attempts.push(list);
    }
    // 2. Each listener is held by the oldest route that may take it, then by namespace/name.
    let rank = |ri: usize| {
        let r = &routes[ri];
        (
            r.created(),
            namespace_of(r.meta).to_owned(),
            name_of(r.meta).to_owned(),
            r.kind,
        )
    };
    for (ri, list) in attempts.iter().enumerate() {
        for k in list
            .iter()
            .filter_map(|a| a.outcome.as_ref().ok())
            .flatten()
        {
            let better = match states[*k].holder {
                None => true,
                Some(h) => rank(ri) < rank(h),
            };
            if better {
                states[*k].holder = Some(ri);
            }
        }
    }
    // 3. Each holder's backend becomes the listener's target group.
    let publishes = dns::gateway_publishes(&gw.metadata);
    let mut hostnames = Vec::new();
    let mut target_groups: BTreeMap<String, TargetGroupSpec> = BTreeMap::new();
    let mut uses_instance_targets = false;
    let mut held_routes = Vec::new();
    for (ri, (route, list)) in routes.iter().zip(&attempts).enumerate() {
        let object = route_ref(route);
        let held: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.holder == Some(ri))
            .map(|(k, _)| k)
            .collect();
        // The backend (exactly one with a weight above 0).
        let mut resolved: Option<Result<String, (&'static str, String)>> = None;
        let mut unsupported: Option<String> = None;
        if !held.is_empty() {
            let backends = route.backends();
            let weighted: Vec<&(String, &super::HttpBackendRef)> = backends
                .iter()
                .filter(|(_, b)| b.weight.unwrap_or(1) != 0)
                .collect();
            if let [(field, b)] = weighted.as_slice() {
                // A terminating TLS listener hands the backend the decrypted stream (the
                // specification's Terminate; the AWS Load Balancer Controller re-encrypts with a
                // TLS target group instead, which a backend without TLS cannot take).
                let tg_protocol = if route.kind == UDP_ROUTE {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                };
                resolved = Some(
                    match target_group(
                        index,
                        objects,
                        gw,
                        stack,
                        route,
                        &object,
                        field,
                        b,
                        Some(tg_protocol),
                    ) {
                        Ok((tg, instances)) => {
                            uses_instance_targets |= instances;
                            let id = tg.id.clone();
                            target_groups.entry(id.clone()).or_insert(tg);
                            Ok(id)
                        }
                        Err((r, e)) => {
                            let m = message_of(&e);
                            errors.push(e);
                            Err((r, m))
                        }
                    },
                );
            } else {
                let e = invalid_field(
                    &object,
                    "spec.rules",
                    &format!("{} backends", weighted.len()),
                    "exactly one backend with a weight above 0 (an NLB listener forwards to one target group)",
                );
                unsupported = Some(message_of(&e));
                errors.push(e);
            }
        }
        let mut route_status = RouteStatus {
            kind: route.kind,
            namespace: namespace_of(route.meta).to_owned(),
            name: name_of(route.meta).to_owned(),
            parents: Vec::new(),
        };
        let dns_names = publishes
            .then(|| dns::route_names(&object, route.meta, route.hostnames, errors))
            .flatten();
        // A listener counts a route once, however many of its parentRefs name it.
        let mut counted = std::collections::BTreeSet::new();
        for a in list {
            let accepted = match &a.outcome {
                Err(c) => c.clone(),
                Ok(ks) => {
                    let mine: Vec<usize> = ks
                        .iter()
                        .copied()
                        .filter(|k| states[*k].holder == Some(ri))
                        .collect();
                    if let Some(m) = &unsupported {
                        Condition::no(status::ACCEPTED, reason::UNSUPPORTED_VALUE, m.clone())
                    } else if mine.is_empty() {
                        let k = ks[0];
                        let h = states[k].holder.unwrap_or(ri);
                        let holder = &routes[h];
                        let e = invalid_field(
                            &object,
                            format!("spec.parentRefs[{}]", a.parent_index),
                            &gw_shown,
                            format!(
                                "a listener no other route holds: listener {:?} takes one route and {} {}/{} holds it (the oldest, then the first by namespace/name)",
                                states[k].listener.name,
                                holder.kind,
                                namespace_of(holder.meta),
                                name_of(holder.meta)
                            ),
                        );
                        let m = message_of(&e);
                        errors.push(e);
                        Condition::no(status::ACCEPTED, reason::NOT_ALLOWED_BY_LISTENERS, m)
                    } else {
                        for k in mine {
                            dns::add_hosts(
                                dns_names.as_ref(),
                                states[k].listener.hostname.as_deref(),
                                &mut hostnames,
                            );
                            if counted.insert(k) {
                                states[k].attached += 1;
                            }
                        }
                        Condition::yes(status::ACCEPTED, reason::ACCEPTED, "the route is attached")
                    }
                }
            };
            let resolved_refs = match &resolved {
                Some(Err((r, m))) => Condition::no(status::RESOLVED_REFS, r, m.clone()),
                _ => Condition::yes(
                    status::RESOLVED_REFS,
                    reason::RESOLVED_REFS,
                    "references resolved",
                ),
            };
            route_status.parents.push(RouteParentStatus {
                parent_index: a.parent_index,
                gateway: gw_shown.clone(),
                listener_set: a.listener_set.clone(),
                section_name: a.section_name.clone(),
                port: a.port,
                controller_name: NLB_CONTROLLER.to_owned(),
                conditions: vec![accepted, resolved_refs],
            });
        }
        statuses.push(route_status);
        for k in held {
            match &resolved {
                Some(Ok(id)) => {
                    states[k].target_group = Some(id.clone());
                    held_routes.push(format!(
                        "{}/{}/{}",
                        route.short(),
                        namespace_of(route.meta),
                        name_of(route.meta)
                    ));
                }
                Some(Err((_, m))) => {
                    states[k].not_programmed = Some(format!(
                        "the backend of {} {}/{} cannot be used: {m}",
                        route.kind,
                        namespace_of(route.meta),
                        name_of(route.meta)
                    ));
                }
                None => {
                    states[k].not_programmed = Some(format!(
                        "{} {}/{} cannot be served: {}",
                        route.kind,
                        namespace_of(route.meta),
                        name_of(route.meta),
                        unsupported.clone().unwrap_or_default()
                    ));
                }
            }
        }
    }
    // 4. NLB listeners.
    let cluster = &index.config.cluster_name;
    let mut listeners: Vec<ListenerSpec> = states
        .iter()
        .filter(|s| s.is_valid())
        .filter_map(|s| {
            let protocol = s.protocol?;
            let tg = s.target_group.clone()?;
            Some(ListenerSpec {
                port: s.port,
                protocol,
                default_actions: vec![ActionSpec::Forward {
                    target_groups: vec![TargetGroupRef {
                        id: Some(tg),
                        arn: None,
                        name: None,
                        weight: 1,
                    }],
                    stickiness: None,
                }],
                rules: Vec::new(),
                ssl_policy: s.ssl_policy.clone(),
                certificates: s.certificates.clone(),
                certificate_discovery: Vec::new(),
                alpn_policy: s.alpn_policy.clone(),
                attributes: BTreeMap::new(),
                mutual_authentication: None,
                tags: tags::with_tracking(&BTreeMap::new(), cluster, stack, &s.port.to_string()),
            })
        })
        .collect();
    listeners.sort_by_key(|l| l.port);
    let used: Vec<&str> = states
        .iter()
        .filter(|s| s.is_valid())
        .filter_map(|s| s.target_group.as_deref())
        .collect();
    held_routes.sort();
    held_routes.dedup();
    Built {
        listeners,
        target_groups: target_groups
            .into_values()
            .filter(|t| used.contains(&t.id.as_str()))
            .collect(),
        routes: held_routes,
        uses_instance_targets,
        listener_status: states
            .iter()
            .map(|s| (s.set, s.is_valid(), s.status()))
            .collect(),
        hostnames,
    }
}
