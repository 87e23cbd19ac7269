//! Gateway API → ALB and NLB stacks, with the status the specification defines.
//!
//! [`build`] takes the Gateway API objects ([`GatewayObjects`]) next to the Ingress/Service
//! [`Snapshot`] (Services, EndpointSlices, Nodes and Namespaces are shared) and returns one
//! stack per Gateway of an ALB or NLB class, the errors, and the status of every GatewayClass,
//! Gateway and route of ours ([`status::Statuses`]).
//!
//! - a GatewayClass is ours when `spec.controllerName` is the AWS Load Balancer Controller's
//!   ALB name [`ALB_CONTROLLER`] (an ALB per Gateway) or its NLB name [`NLB_CONTROLLER`] (an
//!   NLB per Gateway, [`nlb`]);
//! - configuration: the LoadBalancerConfiguration of the class (`spec.parametersRef`) and of
//!   the Gateway (`spec.infrastructure.parametersRef`), merged as that controller merges them
//!   (`mergingMode`, default `prefer-gateway-class`);
//! - [`listeners`]: validation, conflicts and certificates of an ALB Gateway's listeners;
//! - [`routes`]: HTTPRoute and GRPCRoute attachment (`parentRefs`, `allowedRoutes`,
//!   hostnames), rules → listener rules with the specification's precedence, and backends →
//!   target groups;
//! - [`nlb`]: an NLB Gateway's TCP, UDP and TLS listeners, each held by one TCPRoute,
//!   UDPRoute or TLSRoute and forwarding to its backend's target group;
//! - [`dns`]: the Route53 names of the accepted routes, as ExternalDNS's gateway sources
//!   publish them (route and listener hostnames, the route's hostname annotation).
//!
//! Names follow the AWS Load Balancer Controller's Gateway code: the load balancer
//! `k8s-<ns>-<gateway>-<hash>` (hash over cluster, Gateway uid and scheme), target groups
//! `k8s-<routeNs>-<route>-<hash>` with resource ids
//! `<gwNs>/<gw>:<routeNs>-<route>:<RouteKind>-<svcNs>-<svc>:<port>`, tags under
//! `gateway.k8s.aws.alb/` and `gateway.k8s.aws.nlb/`.
mod dns;
mod listener_sets;
mod listeners;
mod nlb;
mod routes;
pub mod status;
pub mod types;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use types::*;

use self::listener_sets::Sets;
use self::status::{
    reason, Condition, GatewayClassStatus, GatewayStatus, ListenerSetStatus, ListenerStatus,
    Statuses,
};
use super::error::{invalid_field, BuildError, ObjectRef};
use super::{BuildConfig, Index, Skipped, Snapshot, Warning};
use crate::model::{
    gateway_load_balancer_name, tags, IpAddressType, LoadBalancerSpec, LoadBalancerType, Scheme,
    Stack, StackId,
};

/// `spec.controllerName` of ALB GatewayClasses (the AWS Load Balancer Controller's name).
pub const ALB_CONTROLLER: &str = "gateway.k8s.aws/alb";
/// `spec.controllerName` of NLB GatewayClasses (the AWS Load Balancer Controller's name).
pub const NLB_CONTROLLER: &str = "gateway.k8s.aws/nlb";
/// Kind of LoadBalancerConfiguration.
pub const LOAD_BALANCER_CONFIGURATION: &str = "LoadBalancerConfiguration";

/// Result of [`build`].
#[derive(Clone, Debug, Default)]
pub struct GatewayOutput {
    /// One stack per accepted ALB or NLB Gateway, sorted by id.
    pub stacks: Vec<Stack>,
    /// Every condition that is not met, as an error of its object.
    pub errors: Vec<BuildError>,
    /// Gateways left alone on purpose (other controllers' classes, being deleted).
    pub skipped: Vec<Skipped>,
    /// `gateway/ns/name` → its stack, for every Gateway of ours not being deleted.
    pub claims: BTreeMap<String, StackId>,
    /// Status of every object of ours.
    pub status: Statuses,
    /// Annotations under ExternalDNS's prefixes that have no effect on a Gateway of ours or on
    /// a route naming one, sorted.
    pub warnings: Vec<Warning>,
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

/// The merged LoadBalancerConfiguration of a Gateway.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) spec: LoadBalancerConfigurationSpec,
}

/// Field-by-field merge of the class's and the Gateway's configuration: the class's
/// `mergingMode` says which wins (`prefer-gateway-class`, the default, or `prefer-gateway`);
/// listener configurations merge by `protocolPort`.
fn merge(
    class: Option<&LoadBalancerConfigurationSpec>,
    gateway: Option<&LoadBalancerConfigurationSpec>,
) -> LoadBalancerConfigurationSpec {
    let prefer_gateway = class.and_then(|c| c.merging_mode.as_deref()) == Some("prefer-gateway");
    let (first, second) = if prefer_gateway {
        (gateway, class)
    } else {
        (class, gateway)
    };
    let pick = |f: fn(&LoadBalancerConfigurationSpec) -> Option<String>| {
        first.and_then(f).or_else(|| second.and_then(f))
    };
    let mut listeners: Vec<ListenerConfiguration> = Vec::new();
    for spec in [first, second].into_iter().flatten() {
        for l in spec.listener_configurations.iter().flatten() {
            if !listeners.iter().any(|x| x.protocol_port == l.protocol_port) {
                listeners.push(l.clone());
            }
        }
    }
    let mut attributes: Vec<KeyValue> = Vec::new();
    for spec in [first, second].into_iter().flatten() {
        for a in spec.load_balancer_attributes.iter().flatten() {
            if !attributes.iter().any(|x| x.key == a.key) {
                attributes.push(a.clone());
            }
        }
    }
    let mut tag_map = BTreeMap::new();
    for spec in [second, first].into_iter().flatten() {
        tag_map.extend(spec.tags.clone().unwrap_or_default());
    }
    LoadBalancerConfigurationSpec {
        merging_mode: None,
        load_balancer_name: pick(|s| s.load_balancer_name.clone()),
        scheme: pick(|s| s.scheme.clone()),
        ip_address_type: pick(|s| s.ip_address_type.clone()),
        listener_configurations: (!listeners.is_empty()).then_some(listeners),
        security_groups: first
            .and_then(|s| s.security_groups.clone())
            .or_else(|| second.and_then(|s| s.security_groups.clone())),
        source_ranges: first
            .and_then(|s| s.source_ranges.clone())
            .or_else(|| second.and_then(|s| s.source_ranges.clone())),
        load_balancer_attributes: (!attributes.is_empty()).then_some(attributes),
        tags: (!tag_map.is_empty()).then_some(tag_map),
        waf_v2: first
            .and_then(|s| s.waf_v2.clone())
            .or_else(|| second.and_then(|s| s.waf_v2.clone())),
        shield_configuration: first
            .and_then(|s| s.shield_configuration.clone())
            .or_else(|| second.and_then(|s| s.shield_configuration.clone())),
    }
}

/// Looks up a `parametersRef`: it must name a LoadBalancerConfiguration that exists.
fn configuration<'a>(
    objects: &'a GatewayObjects,
    object: &ObjectRef,
    field: &str,
    reference: &ParametersReference,
    namespace: &str,
) -> Result<&'a LoadBalancerConfiguration, BuildError> {
    if reference.group != AWS_GROUP || reference.kind != LOAD_BALANCER_CONFIGURATION {
        return Err(invalid_field(
            object,
            format!("{field}.kind"),
            &format!("{}/{}", reference.group, reference.kind),
            format!("{AWS_GROUP}/{LOAD_BALANCER_CONFIGURATION}"),
        ));
    }
    objects
        .load_balancer_configurations
        .iter()
        .find(|c| name_of(&c.metadata) == reference.name && namespace_of(&c.metadata) == namespace)
        .ok_or_else(|| BuildError::NotFound {
            object: object.clone(),
            field: field.to_owned(),
            target: format!("loadbalancerconfiguration {namespace}/{}", reference.name),
        })
}

/// The message of an error without its object (for a status condition).
fn message_of(e: &BuildError) -> String {
    let text = e.to_string();
    let prefix = format!("{}: ", e.object());
    text.strip_prefix(&prefix)
        .map(str::to_owned)
        .unwrap_or(text)
}

/// Translates the Gateway API objects into ALB and NLB stacks, errors and status.
#[must_use]
pub fn build(objects: &GatewayObjects, snapshot: &Snapshot, config: &BuildConfig) -> GatewayOutput {
    build_with_index(&Index::new(snapshot, config), objects, config)
}

/// The classes of ours by name (`true`: an NLB class) with the configuration each names
/// (`Err`: it cannot be used).
pub(crate) type Classes<'a> =
    BTreeMap<&'a str, (bool, Result<Option<&'a LoadBalancerConfigurationSpec>, ()>)>;

/// The GatewayClasses of ours, with their status and errors (into `out`).
pub(crate) fn classes_of<'a>(objects: &'a GatewayObjects, out: &mut GatewayOutput) -> Classes<'a> {
    let mut classes: Classes<'a> = BTreeMap::new();
    let mut class_names: Vec<&GatewayClass> = objects.classes.iter().collect();
    class_names.sort_by_key(|c| name_of(&c.metadata));
    for class in class_names {
        let name = name_of(&class.metadata);
        let nlb_class = class.spec.controller_name == NLB_CONTROLLER;
        if class.spec.controller_name != ALB_CONTROLLER && !nlb_class {
            continue;
        }
        let object = ObjectRef::cluster("gatewayclass", name);
        let params = match &class.spec.parameters_ref {
            None => Ok(None),
            Some(r) => {
                let ns = r.namespace.as_deref().unwrap_or("default");
                configuration(objects, &object, "spec.parametersRef", r, ns).map(|c| Some(&c.spec))
            }
        };
        let condition = match &params {
            Ok(_) => Condition::yes(status::ACCEPTED, reason::ACCEPTED, "the class is served"),
            Err(e) => Condition::no(status::ACCEPTED, reason::INVALID_PARAMETERS, message_of(e)),
        };
        if let Err(e) = &params {
            out.errors.push(e.clone());
        }
        out.status.classes.push(GatewayClassStatus {
            name: name.to_owned(),
            conditions: vec![condition],
        });
        classes.insert(name, (nlb_class, params.map_err(|_| ())));
    }
    classes
}

/// [`build`] from an index. The incremental model ([`crate::translate::incremental`])
/// builds the same with [`classes_of`] and one [`build_gateway`] per Gateway, recording what
/// each read.
fn build_with_index(
    index: &Index<'_>,
    objects: &GatewayObjects,
    config: &BuildConfig,
) -> GatewayOutput {
    let mut out = GatewayOutput::default();
    let classes = classes_of(objects, &mut out);
    let mut uses_instances = false;
    let mut gateways: Vec<&Gateway> = objects.gateways.iter().collect();
    gateways.sort_by_key(|g| (namespace_of(&g.metadata), name_of(&g.metadata)));
    for gw in gateways {
        uses_instances |= build_gateway(index, objects, config, &classes, gw, &mut out);
    }
    finish(&mut out, uses_instances.then_some(index));
    out
}

/// Sorts what [`build_gateway`] added (warnings once each: a route naming two Gateways is
/// warned about by both), and adds the Nodes' errors when a Gateway uses instance targets
/// (`index`).
pub(crate) fn finish(out: &mut GatewayOutput, index: Option<&Index<'_>>) {
    if let Some(index) = index {
        out.errors.extend(index.node_errors.iter().cloned());
    }
    out.warnings.sort();
    out.warnings.dedup();
    out.stacks.sort_by(|a, b| a.id.cmp(&b.id));
    out.status.merge_routes();
}

/// One Gateway: its stack, errors, warnings, claims, status and its routes' status for it,
/// into `out`; when it is a Gateway of ours, the warnings of the routes naming it. Returns
/// whether it uses instance targets.
pub(crate) fn build_gateway(
    index: &Index<'_>,
    objects: &GatewayObjects,
    config: &BuildConfig,
    classes: &Classes<'_>,
    gw: &Gateway,
    out: &mut GatewayOutput,
) -> bool {
    let uses_instances = gateway_stack(index, objects, config, classes, gw, out);
    let key = format!(
        "gateway/{}/{}",
        namespace_of(&gw.metadata),
        name_of(&gw.metadata)
    );
    if out.claims.contains_key(&key) {
        route_warnings(objects, &key, out);
    }
    uses_instances
}

/// The warnings of the routes naming the Gateway of `key` (`gateway/<ns>/<name>`).
fn route_warnings(objects: &GatewayObjects, key: &str, out: &mut GatewayOutput) {
    for route in routes::AnyRoute::all(objects) {
        let route_ns = namespace_of(route.meta);
        let ours = route.parent_refs.iter().any(|p| {
            p.group.as_deref().unwrap_or(GROUP) == GROUP
                && p.kind.as_deref().unwrap_or("Gateway") == "Gateway"
                && format!(
                    "gateway/{}/{}",
                    p.namespace.as_deref().unwrap_or(route_ns),
                    p.name
                ) == key
        });
        if ours {
            let object = routes::route_ref(&route);
            out.warnings
                .extend(
                    dns::unread_annotations(route.meta, false)
                        .into_iter()
                        .map(|message| Warning {
                            object: object.clone(),
                            message,
                        }),
                );
        }
    }
}

/// The body of [`build_gateway`] (the Gateway itself).
fn gateway_stack(
    index: &Index<'_>,
    objects: &GatewayObjects,
    config: &BuildConfig,
    classes: &Classes<'_>,
    gw: &Gateway,
    out: &mut GatewayOutput,
) -> bool {
    let mut uses_instances = false;
    let (ns, name) = (namespace_of(&gw.metadata), name_of(&gw.metadata));
    let object = ObjectRef::namespaced("gateway", ns, name);
    let class_name = gw.spec.gateway_class_name.as_str();
    let Some((nlb, class)) = classes.get(class_name) else {
        out.skipped.push(Skipped {
            object,
            reason: format!(
                "gatewayclass {class_name} is not a class of ours ({ALB_CONTROLLER} or {NLB_CONTROLLER})"
            ),
        });
        return uses_instances;
    };
    let nlb = *nlb;
    let controller = if nlb { NLB_CONTROLLER } else { ALB_CONTROLLER };
    if gw.metadata.deletion_timestamp.is_some() {
        out.skipped.push(Skipped {
            object,
            reason: "being deleted".to_owned(),
        });
        return uses_instances;
    }
    let id = if nlb {
        StackId::nlb_gateway(ns, name)
    } else {
        StackId::gateway(ns, name)
    };
    out.claims
        .insert(format!("gateway/{ns}/{name}"), id.clone());
    out.warnings.extend(
        dns::unread_annotations(&gw.metadata, true)
            .into_iter()
            .map(|message| Warning {
                object: object.clone(),
                message,
            }),
    );
    let sets = listener_sets::of_gateway(index, objects, gw);
    let entries = listener_sets::entries(gw, &sets);
    let allows_sets = gw
        .spec
        .allowed_listeners
        .as_ref()
        .and_then(|a| a.namespaces.as_ref())
        .and_then(|n| n.from.as_deref())
        .is_some_and(|f| f != "None");
    let mut gw_status = GatewayStatus {
        namespace: ns.to_owned(),
        name: name.to_owned(),
        addresses: Vec::new(),
        conditions: Vec::new(),
        listeners: Vec::new(),
        attached_listener_sets: (allows_sets || sets.any()).then_some(0),
    };
    let own = match gw
        .spec
        .infrastructure
        .as_ref()
        .and_then(|i| i.parameters_ref.as_ref())
    {
        None => Ok(None),
        Some(r) => configuration(objects, &object, "spec.infrastructure.parametersRef", r, ns)
            .map(|c| Some(&c.spec)),
    };
    let settings = match (class, own) {
        (Err(()), _) => Err(format!(
            "gatewayclass {class_name} is not accepted (its parametersRef cannot be used)"
        )),
        (_, Err(e)) => {
            let m = message_of(&e);
            out.errors.push(e);
            Err(m)
        }
        (Ok(c), Ok(g)) => Ok(Settings { spec: merge(*c, g) }),
    };
    let settings = match settings {
        Ok(s) => s,
        Err(message) => {
            gw_status.conditions = vec![
                Condition::no(
                    status::ACCEPTED,
                    reason::INVALID_PARAMETERS,
                    message.clone(),
                ),
                Condition::no(status::PROGRAMMED, reason::INVALID, message.clone()),
            ];
            out.status.gateways.push(gw_status);
            routes::pending(
                objects,
                gw,
                &sets,
                controller,
                &message,
                &mut out.status.routes,
            );
            set_statuses(gw, &sets, &[], Some(&message), out);
            return uses_instances;
        }
    };
    let lb_type = if nlb {
        LoadBalancerType::Network
    } else {
        LoadBalancerType::Application
    };
    let lb = match load_balancer(index, gw, &id, &settings, &object, lb_type) {
        Ok(lb) => lb,
        Err(e) => {
            let m = message_of(&e);
            out.errors.push(e);
            gw_status.conditions = vec![
                Condition::no(status::ACCEPTED, reason::INVALID_PARAMETERS, m.clone()),
                Condition::no(status::PROGRAMMED, reason::INVALID, m.clone()),
            ];
            out.status.gateways.push(gw_status);
            routes::pending(objects, gw, &sets, controller, &m, &mut out.status.routes);
            set_statuses(gw, &sets, &[], Some(&m), out);
            return uses_instances;
        }
    };
    let routes_before = out.status.routes.len();
    let (listener_status, built) = if nlb {
        let built = nlb::build(
            index,
            objects,
            gw,
            &id,
            &settings,
            (&entries, &sets),
            &mut out.errors,
            &mut out.status.routes,
        );
        (
            built.listener_status,
            routes::Built {
                listeners: built.listeners,
                target_groups: built.target_groups,
                routes: built.routes,
                uses_instance_targets: built.uses_instance_targets,
                hostnames: built.hostnames,
            },
        )
    } else {
        let mut states = listeners::validate(&entries, &settings, config, &mut out.errors);
        let built = routes::build(
            index,
            objects,
            gw,
            (&entries, &sets),
            &id,
            &mut states,
            &mut out.errors,
            &mut out.status.routes,
        );
        (
            states
                .iter()
                .map(|s| (s.set, s.is_valid(), s.status()))
                .collect::<Vec<_>>(),
            built,
        )
    };
    // The Gateway's own listeners decide its conditions; the ListenerSets' their own.
    let total = gw.spec.listeners.len();
    let valid = listener_status
        .iter()
        .filter(|(set, ok, _)| set.is_none() && *ok)
        .count();
    gw_status.listeners = listener_status
        .iter()
        .filter(|(set, _, _)| set.is_none())
        .map(|(_, _, l)| l.clone())
        .collect();
    uses_instances |= built.uses_instance_targets;
    let accepted = if valid == total {
        Condition::yes(
            status::ACCEPTED,
            reason::ACCEPTED,
            "the Gateway is accepted",
        )
    } else if valid > 0 {
        Condition::yes(
            status::ACCEPTED,
            reason::LISTENERS_NOT_VALID,
            format!(
                "{} of {} listeners are not valid; the others are served",
                total - valid,
                total
            ),
        )
    } else {
        Condition::no(
            status::ACCEPTED,
            reason::LISTENERS_NOT_VALID,
            "no listener is valid",
        )
    };
    let programmed = if valid > 0 {
        Condition::unknown(
            status::PROGRAMMED,
            reason::PENDING,
            "waiting for the load balancer",
        )
    } else {
        Condition::no(status::PROGRAMMED, reason::INVALID, "no listener is valid")
    };
    gw_status.conditions = vec![accepted, programmed];
    let attached_sets = set_statuses(
        gw,
        &sets,
        &listener_status,
        (valid == 0).then_some("no listener is valid"),
        out,
    );
    if let Some(n) = &mut gw_status.attached_listener_sets {
        *n = attached_sets;
    }
    out.status.gateways.push(gw_status);
    if valid == 0 {
        // Nothing serves the routes: those the listeners would take are pending on this
        // Gateway (as for a Gateway whose parameters are refused), never `Accepted=True`;
        // those refused keep the reason.
        let gw_shown = format!("{ns}/{name}");
        for parent in out
            .status
            .routes
            .iter_mut()
            .skip(routes_before)
            .flat_map(|r| r.parents.iter_mut())
            .filter(|p| p.gateway == gw_shown)
        {
            parent
                .conditions
                .retain(|c| c.type_ != status::PARTIALLY_INVALID);
            for c in &mut parent.conditions {
                if c.type_ == status::ACCEPTED && c.status == status::ConditionStatus::True {
                    *c = Condition::unknown(
                        status::ACCEPTED,
                        reason::PENDING,
                        format!("gateway {gw_shown} is not accepted: no listener is valid"),
                    );
                }
            }
        }
        return uses_instances;
    }
    let mut objects_of_stack = vec![format!("gateway/{ns}/{name}")];
    objects_of_stack.extend(built.routes.iter().cloned());
    objects_of_stack.sort();
    objects_of_stack.dedup();
    let mut hostnames = built.hostnames;
    hostnames.sort();
    hostnames.dedup();
    out.stacks.push(Stack {
        id,
        load_balancer: lb,
        listeners: built.listeners,
        target_groups: built.target_groups,
        hostnames,
        held_hostnames: Vec::new(),
        objects: objects_of_stack,
    });
    uses_instances
}

/// The status of the ListenerSets naming `gw` (into `out`), from the status of the merged
/// listeners (`(set, valid, status)`); `parent_refused`: why the Gateway is not accepted.
/// Returns how many are attached (`Accepted=True`).
fn set_statuses(
    gw: &Gateway,
    sets: &Sets<'_>,
    listener_status: &[(Option<usize>, bool, ListenerStatus)],
    parent_refused: Option<&str>,
    out: &mut GatewayOutput,
) -> u32 {
    let gw_ns = namespace_of(&gw.metadata);
    let gw_shown = format!("{gw_ns}/{}", name_of(&gw.metadata));
    let mut attached = 0;
    for set in &sets.refused {
        let (ns, name) = (namespace_of(&set.metadata), name_of(&set.metadata));
        let e = invalid_field(
            &ObjectRef::namespaced("listenerset", ns, name),
            "spec.parentRef",
            &gw_shown,
            format!(
                "a Gateway whose spec.allowedListeners.namespaces admits namespace {ns} (gateway {gw_shown} admits {})",
                gw.spec
                    .allowed_listeners
                    .as_ref()
                    .and_then(|a| a.namespaces.as_ref())
                    .and_then(|n| n.from.as_deref())
                    .map_or_else(|| "none: allowedListeners is not set".to_owned(), |f| format!("from: {f}"))
            ),
        );
        let m = message_of(&e);
        out.errors.push(e);
        out.status.listener_sets.push(ListenerSetStatus {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            gateway: gw_shown.clone(),
            conditions: vec![
                Condition::no(status::ACCEPTED, reason::NOT_ALLOWED, m.clone()),
                Condition::no(status::PROGRAMMED, reason::NOT_ALLOWED, m),
            ],
            listeners: Vec::new(),
        });
    }
    for (k, set) in sets.attached.iter().enumerate() {
        let (ns, name) = (namespace_of(&set.metadata), name_of(&set.metadata));
        let mine: Vec<&(Option<usize>, bool, ListenerStatus)> = listener_status
            .iter()
            .filter(|(s, _, _)| *s == Some(k))
            .collect();
        let valid = mine.iter().filter(|(_, ok, _)| *ok).count();
        let total = set.spec.listeners.len();
        let conditions = if let Some(why) = parent_refused {
            let m = format!("gateway {gw_shown} is not accepted: {why}");
            vec![
                Condition::no(status::ACCEPTED, reason::PARENT_NOT_ACCEPTED, m.clone()),
                Condition::no(status::PROGRAMMED, reason::PARENT_NOT_PROGRAMMED, m),
            ]
        } else if valid == 0 {
            vec![
                Condition::no(
                    status::ACCEPTED,
                    reason::LISTENERS_NOT_VALID,
                    "no listener is valid",
                ),
                Condition::no(
                    status::PROGRAMMED,
                    reason::LISTENERS_NOT_VALID,
                    "no listener is valid",
                ),
            ]
        } else {
            attached += 1;
            let accepted = if valid == total {
                Condition::yes(
                    status::ACCEPTED,
                    reason::ACCEPTED,
                    format!("the listeners are added to gateway {gw_shown}"),
                )
            } else {
                Condition::yes(
                    status::ACCEPTED,
                    reason::LISTENERS_NOT_VALID,
                    format!(
                        "{} of {total} listeners are not valid; the others are added to gateway {gw_shown}",
                        total - valid
                    ),
                )
            };
            vec![
                accepted,
                Condition::unknown(
                    status::PROGRAMMED,
                    reason::PENDING,
                    "waiting for the load balancer",
                ),
            ]
        };
        out.status.listener_sets.push(ListenerSetStatus {
            namespace: ns.to_owned(),
            name: name.to_owned(),
            gateway: gw_shown.clone(),
            conditions,
            listeners: mine.iter().map(|(_, _, l)| l.clone()).collect(),
        });
    }
    attached
}

/// The Gateway's load balancer from its merged configuration.
fn load_balancer(
    index: &Index<'_>,
    gw: &Gateway,
    id: &StackId,
    settings: &Settings,
    object: &ObjectRef,
    lb_type: LoadBalancerType,
) -> Result<LoadBalancerSpec, BuildError> {
    let spec = &settings.spec;
    let scheme = match spec.scheme.as_deref() {
        None => index.config.default_scheme,
        Some(s) => Scheme::parse(s).ok_or_else(|| {
            invalid_field(
                object,
                "loadbalancerconfiguration spec.scheme",
                s,
                Scheme::expected(),
            )
        })?,
    };
    let ip_address_type = match spec.ip_address_type.as_deref() {
        None => IpAddressType::Ipv4,
        Some(s) => IpAddressType::parse(s).ok_or_else(|| {
            invalid_field(
                object,
                "loadbalancerconfiguration spec.ipAddressType",
                s,
                IpAddressType::expected(),
            )
        })?,
    };
    let user_tags = spec.tags.clone().unwrap_or_default();
    for (k, v) in &user_tags {
        let reserved = tags::GATEWAY_RESERVED.contains(&k.as_str());
        if let Some(problem) = tags::user_tag_problem(k, v).or_else(|| {
            reserved.then(|| {
                format!(
                    "keys other than the tracking tags {}",
                    tags::GATEWAY_RESERVED.join(", ")
                )
            })
        }) {
            return Err(invalid_field(
                object,
                "loadbalancerconfiguration spec.tags",
                k,
                problem,
            ));
        }
    }
    // As LBC: web ACL and Shield are ALB add-ons (an NLB Gateway's configuration may carry
    // them and they do nothing). Without `wafV2` or `shieldConfiguration`, whatever the load
    // balancer has is left alone.
    let alb = lb_type == LoadBalancerType::Application;
    let wafv2_web_acl = match spec.waf_v2.as_ref().filter(|_| alb) {
        None => None,
        Some(w) => Some(
            crate::translate::annotations::parse_web_acl(w.web_acl.trim()).ok_or_else(|| {
                invalid_field(
                    object,
                    "loadbalancerconfiguration spec.wafV2.webACL",
                    &w.web_acl,
                    "a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or \"\" to remove the load balancer's web ACL",
                )
            })?,
        ),
    };
    let shield_advanced_protection = spec
        .shield_configuration
        .as_ref()
        .filter(|_| alb)
        .map(|s| s.enabled);
    let security_groups = spec.security_groups.clone().unwrap_or_default();
    let inbound_cidrs = if security_groups.is_empty() {
        spec.source_ranges.clone().unwrap_or_else(|| {
            let mut v = vec!["0.0.0.0/0".to_owned()];
            if ip_address_type != IpAddressType::Ipv4 {
                v.push("::/0".to_owned());
            }
            v
        })
    } else {
        Vec::new()
    };
    // LBC hashes the Gateway's uid. A manifest without one (`plan -f`, `apply -f`) hashes
    // `namespace/name` in its place: with an empty uid, two Gateways of one namespace whose
    // names share their first 8 characters would get one name (found applying the conformance
    // cases, whose Gateways `httproute-hostname-intersection` and
    // `httproute-listener-hostname-matching` collided).
    let uid = gw
        .metadata
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
        .map_or_else(|| format!("{}/{}", id.namespace, id.name), str::to_owned);
    let name = spec.load_balancer_name.clone().unwrap_or_else(|| {
        gateway_load_balancer_name(
            &index.config.cluster_name,
            &id.namespace,
            &id.name,
            &uid,
            scheme.as_str(),
        )
    });
    Ok(LoadBalancerSpec {
        name,
        lb_type,
        scheme,
        ip_address_type,
        subnets: Vec::new(),
        subnet_tags: BTreeMap::new(),
        security_groups,
        inbound_cidrs,
        inbound_prefix_lists: Vec::new(),
        icmp_for_path_mtu_discovery: false,
        manage_backend_security_group_rules: false,
        eip_allocations: Vec::new(),
        private_ipv4_addresses: Vec::new(),
        attributes: spec
            .load_balancer_attributes
            .iter()
            .flatten()
            .map(|a| (a.key.clone(), a.value.clone()))
            .collect(),
        tags: tags::with_tracking(
            &user_tags,
            &index.config.cluster_name,
            id,
            tags::LOAD_BALANCER_RESOURCE,
        ),
        wafv2_web_acl,
        shield_advanced_protection,
        scheme_unset: None,
    })
}

/// Finalizer the AWS Load Balancer Controller puts on its GatewayClasses while Gateways use
/// them (`shared_constants.GatewayClassFinalizer`).
pub const GATEWAY_CLASS_FINALIZER: &str = "gateway.k8s.aws/gatewayclass";
/// Finalizer the AWS Load Balancer Controller puts on LoadBalancerConfigurations in use
/// (`shared_constants.LoadBalancerConfigurationFinalizer`).
pub const LOAD_BALANCER_CONFIGURATION_FINALIZER: &str =
    "gateway.k8s.aws/loadbalancerconfigurations";

/// What Gateways of ours use, so that it is not deleted under them (the finalizers above).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InUse {
    /// GatewayClasses of ours (ALB or NLB controller) that a Gateway names, by name.
    pub classes: std::collections::BTreeSet<String>,
    /// LoadBalancerConfigurations `(namespace, name)` named by a class of ours in use
    /// (`spec.parametersRef`) or by a Gateway of such a class
    /// (`spec.infrastructure.parametersRef`).
    pub configurations: std::collections::BTreeSet<(String, String)>,
}

/// Which GatewayClasses and LoadBalancerConfigurations Gateways of ours use. A Gateway being
/// deleted still uses its class and configuration until it is gone (its load balancer is
/// deleted first).
#[must_use]
pub fn in_use(objects: &GatewayObjects) -> InUse {
    let mut out = InUse::default();
    let ours = |class: &str| {
        objects.classes.iter().find(|c| {
            name_of(&c.metadata) == class
                && (c.spec.controller_name == ALB_CONTROLLER
                    || c.spec.controller_name == NLB_CONTROLLER)
        })
    };
    let is_configuration =
        |r: &ParametersReference| r.group == AWS_GROUP && r.kind == LOAD_BALANCER_CONFIGURATION;
    for gw in &objects.gateways {
        let Some(class) = ours(&gw.spec.gateway_class_name) else {
            continue;
        };
        out.classes.insert(name_of(&class.metadata).to_owned());
        if let Some(r) = class
            .spec
            .parameters_ref
            .as_ref()
            .filter(|r| is_configuration(r))
        {
            out.configurations.insert((
                r.namespace.clone().unwrap_or_else(|| "default".to_owned()),
                r.name.clone(),
            ));
        }
        if let Some(r) = gw
            .spec
            .infrastructure
            .as_ref()
            .and_then(|i| i.parameters_ref.as_ref())
            .filter(|r| is_configuration(r))
        {
            out.configurations
                .insert((namespace_of(&gw.metadata).to_owned(), r.name.clone()));
        }
    }
    out
}
