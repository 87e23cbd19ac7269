//! HTTPRoutes on an ALB Gateway: attachment (`parentRefs`, `allowedRoutes`, hostnames), rules
//! → listener rules ordered by the Gateway API's precedence, backends → target groups, and the
//! route's status per parent.
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::dns;
use super::listener_sets::{names_refused, scope_of, set_shown, Entry, Sets};
use super::listeners::{State, GRPC_ROUTE, HTTP_ROUTE};
use super::nlb::{TCP_ROUTE, TLS_ROUTE, UDP_ROUTE};
use super::status::{self, reason, Condition, RouteParentStatus, RouteStatus};
use super::{
    message_of, name_of, namespace_of, Gateway, GatewayObjects, GrpcRoute, GrpcRouteMatch,
    HttpBackendRef, HttpRoute, HttpRouteFilter, HttpRouteMatch, HttpRouteRetry, HttpRouteTimeouts,
    HttpUrlRewrite, L4Route, Listener, ParentReference, SessionPersistence, ALB_CONTROLLER, GROUP,
    LISTENER_SET,
};
use crate::dns::DesiredHost;
use crate::model::{
    gateway_target_group_name, tags, ActionSpec, CertificateDiscovery, ConditionSpec,
    FixedResponseSpec, GatewayTargetGroupNameInputs, HealthCheckSpec, ListenerSpec, MatcherSpec,
    Protocol, ProtocolVersion, QueryStringKeyValue, RedirectSpec, RewriteSpec, RuleSpec, StackId,
    TargetGroupRef, TargetGroupSpec, TargetSpec, TargetType, TransformSpec,
};
use crate::translate::endpoints::{endpoint_targets, port_u16, Readiness};
use crate::translate::error::{invalid_field, BuildError, ObjectRef};
use crate::translate::listener::not_found_action;
use crate::translate::params::selector_matches;
use crate::translate::Index;

/// Longest ALB path pattern.
const MAX_PATH_PATTERN: usize = 128;
/// Highest ALB target group weight.
const MAX_WEIGHT: i32 = 999;

/// An HTTPRoute or a GRPCRoute, as the translation reads both.
pub(super) struct AnyRoute<'a> {
    /// `HTTPRoute` or `GRPCRoute`.
    pub(super) kind: &'static str,
    pub(super) meta: &'a ObjectMeta,
    pub(super) parent_refs: &'a [ParentReference],
    pub(super) hostnames: &'a [String],
    rules: Vec<AnyRule<'a>>,
}

/// The matches of a rule of either kind.
#[derive(Clone, Copy)]
enum AnyMatches<'a> {
    Http(&'a [HttpRouteMatch]),
    Grpc(&'a [GrpcRouteMatch]),
}

/// A rule of either kind.
struct AnyRule<'a> {
    matches: AnyMatches<'a>,
    filters: &'a [HttpRouteFilter],
    backend_refs: &'a [HttpBackendRef],
    /// HTTPRoute `timeouts`.
    timeouts: Option<&'a HttpRouteTimeouts>,
    /// HTTPRoute `retry`.
    retry: Option<&'a HttpRouteRetry>,
    /// `sessionPersistence`.
    session_persistence: Option<&'a SessionPersistence>,
}

impl AnyRule<'_> {
    /// A rule without matches, filters, backends or other settings.
    fn empty(matches: AnyMatches<'_>) -> AnyRule<'_> {
        AnyRule {
            matches,
            filters: &[],
            backend_refs: &[],
            timeouts: None,
            retry: None,
            session_persistence: None,
        }
    }
}

impl<'a> AnyRoute<'a> {
    fn http(r: &'a HttpRoute) -> Self {
        let rules = match r.spec.rules.as_deref() {
            // No rules: one rule with no match and no backend.
            None => vec![AnyRule::empty(AnyMatches::Http(&[]))],
            Some(rules) => rules
                .iter()
                .map(|rule| AnyRule {
                    matches: AnyMatches::Http(rule.matches.as_deref().unwrap_or_default()),
                    filters: rule.filters.as_deref().unwrap_or_default(),
                    backend_refs: rule.backend_refs.as_deref().unwrap_or_default(),
                    timeouts: rule.timeouts.as_ref(),
                    retry: rule.retry.as_ref(),
                    session_persistence: rule.session_persistence.as_ref(),
                })
                .collect(),
        };
        Self {
            kind: HTTP_ROUTE,
            meta: &r.metadata,
            parent_refs: r.spec.parent_refs.as_deref().unwrap_or_default(),
            hostnames: r.spec.hostnames.as_deref().unwrap_or_default(),
            rules,
        }
    }

    fn grpc(r: &'a GrpcRoute) -> Self {
        let rules = match r.spec.rules.as_deref() {
            None => vec![AnyRule::empty(AnyMatches::Grpc(&[]))],
            Some(rules) => rules
                .iter()
                .map(|rule| AnyRule {
                    matches: AnyMatches::Grpc(rule.matches.as_deref().unwrap_or_default()),
                    filters: rule.filters.as_deref().unwrap_or_default(),
                    backend_refs: rule.backend_refs.as_deref().unwrap_or_default(),
                    timeouts: None,
                    retry: None,
                    session_persistence: rule.session_persistence.as_ref(),
                })
                .collect(),
        };
        Self {
            kind: GRPC_ROUTE,
            meta: &r.metadata,
            parent_refs: r.spec.parent_refs.as_deref().unwrap_or_default(),
            hostnames: r.spec.hostnames.as_deref().unwrap_or_default(),
            rules,
        }
    }

    /// A TCPRoute, UDPRoute or TLSRoute: its rules' backends.
    fn l4(kind: &'static str, r: &'a L4Route) -> Self {
        Self {
            kind,
            meta: &r.metadata,
            parent_refs: r.spec.parent_refs.as_deref().unwrap_or_default(),
            hostnames: r.spec.hostnames.as_deref().unwrap_or_default(),
            rules: r
                .spec
                .rules
                .iter()
                .map(|rule| AnyRule {
                    backend_refs: rule.backend_refs.as_deref().unwrap_or_default(),
                    ..AnyRule::empty(AnyMatches::Http(&[]))
                })
                .collect(),
        }
    }

    /// The backends of every rule, with their fields.
    pub(super) fn backends(&self) -> Vec<(String, &'a HttpBackendRef)> {
        let mut out = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate() {
            for (bi, b) in rule.backend_refs.iter().enumerate() {
                out.push((format!("spec.rules[{ri}].backendRefs[{bi}]"), b));
            }
        }
        out
    }

    /// Every route of every kind, by kind, namespace and name.
    pub(super) fn all(objects: &'a GatewayObjects) -> Vec<Self> {
        let mut out: Vec<Self> = objects.http_routes.iter().map(Self::http).collect();
        out.extend(objects.grpc_routes.iter().map(Self::grpc));
        out.extend(objects.tcp_routes.iter().map(|r| Self::l4(TCP_ROUTE, r)));
        out.extend(objects.udp_routes.iter().map(|r| Self::l4(UDP_ROUTE, r)));
        out.extend(objects.tls_routes.iter().map(|r| Self::l4(TLS_ROUTE, r)));
        out.sort_by(|a, b| {
            (a.kind, namespace_of(a.meta), name_of(a.meta)).cmp(&(
                b.kind,
                namespace_of(b.meta),
                name_of(b.meta),
            ))
        });
        out
    }

    /// `httproute`, `grpcroute`, `tcproute`, `udproute` or `tlsroute`.
    pub(super) fn short(&self) -> &'static str {
        match self.kind {
            GRPC_ROUTE => "grpcroute",
            TCP_ROUTE => "tcproute",
            UDP_ROUTE => "udproute",
            TLS_ROUTE => "tlsroute",
            _ => "httproute",
        }
    }

    /// `(0, creation time)`, or `(1, None)` without one (manifests): older first.
    pub(super) fn created(&self) -> (u8, Option<k8s_openapi::jiff::Timestamp>) {
        self.meta
            .creation_timestamp
            .as_ref()
            .map_or((1, None), |t| (0, Some(t.0)))
    }
}

/// What [`build`] returns for a Gateway.
pub(super) struct Built {
    /// ALB listeners, sorted by port.
    pub(super) listeners: Vec<ListenerSpec>,
    /// Target groups the rules forward to, sorted by id.
    pub(super) target_groups: Vec<TargetGroupSpec>,
    /// Routes attached (`ns/name`).
    pub(super) routes: Vec<String>,
    /// Whether a target group has instance targets (Node errors matter).
    pub(super) uses_instance_targets: bool,
    /// Route53 names of the accepted routes on their listeners ([`dns`]).
    pub(super) hostnames: Vec<DesiredHost>,
}

/// The hostnames a route serves on a listener: the intersection of the listener's hostname
/// and the route's hostnames (`None`: no host condition). Empty: they do not intersect.
pub(crate) fn intersect(listener: Option<&str>, route: &[String]) -> Vec<Option<String>> {
    let covers = |wild: &str, host: &str| {
        wild.strip_prefix('*')
            .is_some_and(|suffix| host.ends_with(suffix) && host.len() > suffix.len())
    };
    let mut out: Vec<Option<String>> = Vec::new();
    match (listener, route.is_empty()) {
        (None, true) => out.push(None),
        (None, false) => out.extend(route.iter().map(|h| Some(h.clone()))),
        (Some(l), true) => out.push(Some(l.to_owned())),
        (Some(l), false) => {
            for h in route {
                let hit = if h == l || covers(l, h) {
                    Some(h.as_str())
                } else if covers(h, l) {
                    Some(l)
                } else {
                    None
                };
                if let Some(hit) = hit {
                    let hit = Some(hit.to_owned());
                    if !out.contains(&hit) {
                        out.push(hit);
                    }
                }
            }
        }
    }
    out
}

/// The Gateway API's precedence of one (hostname, match) of a rule; smaller sorts first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Precedence {
    /// 0 precise hostname, 1 wildcard, 2 none.
    host_class: u8,
    /// Longer wildcards are more specific.
    host_len: Reverse<usize>,
    /// 0 exact path, 1 prefix.
    path_class: u8,
    /// Longer prefixes first (GRPCRoute: longer services first).
    path_len: Reverse<usize>,
    /// GRPCRoute: longer methods first (0 for HTTPRoute).
    method_len: Reverse<usize>,
    /// 0 with a method match.
    method: u8,
    /// More header matches first.
    headers: Reverse<usize>,
    /// More query-parameter matches first.
    queries: Reverse<usize>,
    /// Older routes first; routes without a creation time (manifests) after, equal.
    created: (u8, Option<k8s_openapi::jiff::Timestamp>),
    /// Then namespace/name.
    route: (String, String),
    /// Then rule and match order, then the hostname (precise hostnames never overlap).
    rule: usize,
    matched: usize,
    host: String,
}

/// Rule candidates per ALB listener port: precedence, conditions, action, source object.
type Candidate = (
    Precedence,
    Vec<ConditionSpec>,
    ActionSpec,
    Vec<TransformSpec>,
    String,
);
type Candidates = BTreeMap<u16, Vec<Candidate>>;

/// One translated match: conditions without the host, and its precedence parts.
#[derive(Clone, Debug)]
struct Match {
    index: usize,
    conditions: Vec<ConditionSpec>,
    /// The path prefix of a `PathPrefix` match, without its trailing `/` (`""` for `/`);
    /// `None` for other matches.
    prefix: Option<String>,
    exact: bool,
    path_len: usize,
    method_len: usize,
    method: bool,
    headers: usize,
    queries: usize,
}

/// One translated rule.
#[derive(Clone, Debug)]
struct Rule {
    index: usize,
    matches: Vec<Match>,
    action: ActionSpec,
    /// The rule's `URLRewrite` filter, validated.
    rewrite: Option<HttpUrlRewrite>,
}

/// A route's rules on one Gateway, with what went wrong.
struct Translated {
    rules: Vec<Rule>,
    /// Rules left out (unsupported values), as messages.
    dropped: Vec<String>,
    /// First backend problem: `(reason, message)`.
    backend_problem: Option<(&'static str, String)>,
    target_groups: BTreeMap<String, TargetGroupSpec>,
    uses_instance_targets: bool,
}

pub(super) fn route_ref(route: &AnyRoute<'_>) -> ObjectRef {
    ObjectRef::namespaced(route.short(), namespace_of(route.meta), name_of(route.meta))
}

/// `namespace/name` of the parent a `parentRefs` entry names (a Gateway or a ListenerSet).
pub(super) fn parent_shown(route_ns: &str, p: &ParentReference, gw_shown: &str) -> String {
    if p.kind.as_deref() == Some(LISTENER_SET) {
        format!("{}/{}", p.namespace.as_deref().unwrap_or(route_ns), p.name)
    } else {
        gw_shown.to_owned()
    }
}

/// What a route naming a ListenerSet that its Gateway refuses is told.
pub(super) fn refused_expected(gw_shown: &str) -> String {
    format!(
        "a ListenerSet attached to gateway {gw_shown} (the Gateway's spec.allowedListeners.namespaces does not admit this ListenerSet's namespace; it admits none by default)"
    )
}

/// Whether the listener's `allowedRoutes.namespaces` admits `route_ns`.
pub(super) fn namespace_allowed(
    index: &Index<'_>,
    listener: &Listener,
    home_ns: &str,
    route_ns: &str,
) -> bool {
    let from = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match from.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => true,
        "Selector" => from
            .and_then(|n| n.selector.as_ref())
            .is_some_and(|s| selector_matches(s, &index.namespace_labels(route_ns))),
        _ => route_ns == home_ns,
    }
}

/// The status of the routes naming `gw` when the Gateway itself is not accepted:
/// `Accepted=Unknown`, `Pending`, with the Gateway's reason.
pub(super) fn pending(
    objects: &GatewayObjects,
    gw: &Gateway,
    sets: &Sets<'_>,
    controller: &str,
    why: &str,
    statuses: &mut Vec<RouteStatus>,
) {
    let gw_shown = format!("{}/{}", namespace_of(&gw.metadata), name_of(&gw.metadata));
    for route in AnyRoute::all(objects) {
        let route_ns = namespace_of(route.meta);
        let parents: Vec<RouteParentStatus> = route
            .parent_refs
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| scope_of(route_ns, p, gw, sets).map(|scope| (pi, p, scope)))
            .map(|(pi, p, scope)| RouteParentStatus {
                parent_index: pi,
                gateway: gw_shown.clone(),
                listener_set: set_shown(sets, scope),
                section_name: p.section_name.clone(),
                port: p.port,
                controller_name: controller.to_owned(),
                conditions: vec![Condition::unknown(
                    status::ACCEPTED,
                    reason::PENDING,
                    format!("gateway {gw_shown} is not accepted: {why}"),
                )],
            })
            .collect();
        if !parents.is_empty() {
            statuses.push(RouteStatus {
                kind: route.kind,
                namespace: route_ns.to_owned(),
                name: name_of(route.meta).to_owned(),
                parents,
            });
        }
    }
}

/// The listeners a `parentRefs` entry reaches: `Ok(None)` the Gateway's own, `Ok(Some(k))`
/// those of the `k`th attached ListenerSet, `Err(())` none (a ListenerSet the Gateway refuses).
type Scope = Result<Option<usize>, ()>;

/// `(kind, namespace, name)` of a route.
type RouteKey = (&'static str, String, String);

fn route_key(route: &AnyRoute<'_>) -> RouteKey {
    (
        route.kind,
        namespace_of(route.meta).to_owned(),
        name_of(route.meta).to_owned(),
    )
}

/// The listeners a parent reference names, those of them that admit the route, and those whose
/// hostname intersects the route's, with the intersection.
#[allow(clippy::type_complexity)]
fn attachment(
    index: &Index<'_>,
    states: &[State<'_>],
    scope: Option<usize>,
    route: &AnyRoute<'_>,
    parent: &ParentReference,
) -> (Vec<usize>, Vec<usize>, Vec<(usize, Vec<Option<String>>)>) {
    let route_ns = namespace_of(route.meta);
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
    let with_hosts = allowed
        .iter()
        .map(|k| {
            (
                *k,
                intersect(states[*k].listener.hostname.as_deref(), route.hostnames),
            )
        })
        .filter(|(_, h)| !h.is_empty())
        .collect();
    (named, allowed, with_hosts)
}

/// Whether two hostname sets of one listener overlap (`None`: every hostname).
fn hosts_overlap(a: &[Option<String>], b: &[Option<String>]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| match (x, y) {
            (None, _) | (_, None) => true,
            (Some(x), Some(y)) => !intersect(Some(x), std::slice::from_ref(y)).is_empty(),
        })
    })
}

/// The GRPCRoute specification: "an HTTPRoute and a GRPCRoute attached to one listener must not
/// share a hostname; the oldest route (then the first by namespace/name) is accepted". Returns
/// `(route, listener)` → the route that keeps the listener (`Kind ns/name`), for every route that
/// loses a listener that way.
fn cross_kind_rejections(
    index: &Index<'_>,
    objects: &GatewayObjects,
    (gw, sets): (&Gateway, &Sets<'_>),
    states: &[State<'_>],
) -> BTreeMap<(RouteKey, usize), String> {
    // Per listener: (rank, key, kind, hosts).
    type Entry = (
        ((u8, Option<k8s_openapi::jiff::Timestamp>), String, String),
        RouteKey,
        Vec<Option<String>>,
    );
    let mut per_listener: BTreeMap<usize, Vec<Entry>> = BTreeMap::new();
    for route in AnyRoute::all(objects) {
        if route.meta.deletion_timestamp.is_some()
            || !(route.kind == HTTP_ROUTE || route.kind == GRPC_ROUTE)
        {
            continue;
        }
        let route_ns = namespace_of(route.meta);
        for (parent, scope) in route
            .parent_refs
            .iter()
            .filter_map(|p| scope_of(route_ns, p, gw, sets).map(|scope| (p, scope)))
        {
            let (_, _, with_hosts) = attachment(index, states, scope, &route, parent);
            for (k, hosts) in with_hosts {
                let rank = (
                    route.created(),
                    route_ns.to_owned(),
                    name_of(route.meta).to_owned(),
                );
                per_listener
                    .entry(k)
                    .or_default()
                    .push((rank, route_key(&route), hosts));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, mut entries) in per_listener {
        entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut kept: Vec<&Entry> = Vec::new();
        for e in &entries {
            let beaten_by = kept
                .iter()
                .find(|w| w.1 .0 != e.1 .0 && hosts_overlap(&w.2, &e.2));
            match beaten_by {
                Some(w) => {
                    out.insert(
                        (e.1.clone(), k),
                        format!("{} {}/{}", w.1 .0, w.1 .1, w.1 .2),
                    );
                }
                None => kept.push(e),
            }
        }
    }
    out
}

/// Translates every route attached to `gw` and builds its ALB listeners.
#[allow(clippy::too_many_arguments)]
pub(super) fn build(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    (entries, sets): (&[Entry<'_>], &Sets<'_>),
    stack: &StackId,
    states: &mut [State<'_>],
    errors: &mut Vec<BuildError>,
    statuses: &mut Vec<RouteStatus>,
) -> Built {
    let gw_ns = namespace_of(&gw.metadata);
    let gw_name = name_of(&gw.metadata);
    let mut candidates: Candidates = BTreeMap::new();
    let mut all_tgs: BTreeMap<String, TargetGroupSpec> = BTreeMap::new();
    let mut attached_routes = Vec::new();
    let mut uses_instance_targets = false;
    let rejected = cross_kind_rejections(index, objects, (gw, sets), states);
    let publishes = dns::gateway_publishes(&gw.metadata);
    let mut hostnames = Vec::new();
    // Per listener, the hostnames of the routes accepted on it (for certificate discovery).
    let mut route_hosts_of: Vec<BTreeSet<String>> = vec![BTreeSet::new(); states.len()];
    for route in AnyRoute::all(objects) {
        let route = &route;
        if route.meta.deletion_timestamp.is_some() {
            continue;
        }
        let route_ns = namespace_of(route.meta);
        let object = route_ref(route);
        // Each entry naming the Gateway or one of its ListenerSets, with the listeners it
        // reaches (`Err`: a ListenerSet the Gateway refuses).
        let parents: Vec<(usize, &ParentReference, Scope)> = route
            .parent_refs
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| match scope_of(route_ns, p, gw, sets) {
                Some(scope) => Some((pi, p, Ok(scope))),
                None => names_refused(route_ns, p, sets).then_some((pi, p, Err(()))),
            })
            .collect();
        if parents.is_empty() {
            continue;
        }
        let translated = translate(index, objects, gw, stack, route, &object, errors);
        let dns_names = publishes
            .then(|| dns::route_names(&object, route.meta, route.hostnames, errors))
            .flatten();
        let route_hosts = route.hostnames.to_vec();
        let mut route_status = RouteStatus {
            kind: route.kind,
            namespace: route_ns.to_owned(),
            name: name_of(route.meta).to_owned(),
            parents: Vec::new(),
        };
        let mut attached_here: BTreeSet<usize> = BTreeSet::new();
        for (pi, parent, scope) in parents {
            let field = format!("spec.parentRefs[{pi}]");
            let gw_shown = format!("{gw_ns}/{gw_name}");
            let shown_parent = parent_shown(route_ns, parent, &gw_shown);
            let mut fail = |reason: &'static str, expected: String| {
                let e = invalid_field(&object, field.clone(), &shown_parent, expected);
                let m = message_of(&e);
                errors.push(e);
                Condition::no(status::ACCEPTED, reason, m)
            };
            let Ok(scope) = scope else {
                route_status.parents.push(RouteParentStatus {
                    parent_index: pi,
                    gateway: gw_shown.clone(),
                    listener_set: Some(shown_parent.clone()),
                    section_name: parent.section_name.clone(),
                    port: parent.port,
                    controller_name: ALB_CONTROLLER.to_owned(),
                    conditions: vec![fail(
                        reason::NOT_ALLOWED_BY_LISTENERS,
                        refused_expected(&gw_shown),
                    )],
                });
                continue;
            };
            let (candidates_of_ref, allowed, mut with_hosts) =
                attachment(index, states, scope, route, parent);
            // The specification's GRPCRoute/HTTPRoute rule: on a listener, an HTTPRoute and a
            // GRPCRoute never share a hostname; the older route keeps the listener.
            let before = with_hosts.len();
            let mut lost_to = None;
            with_hosts.retain(|(k, _)| match rejected.get(&(route_key(route), *k)) {
                Some(winner) => {
                    lost_to.get_or_insert_with(|| (*k, winner.clone()));
                    false
                }
                None => true,
            });
            let accepted = if candidates_of_ref.is_empty() {
                fail(
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
                )
            } else if allowed.is_empty() {
                fail(
                    reason::NOT_ALLOWED_BY_LISTENERS,
                    format!(
                        "a gateway with an accepted listener whose allowedRoutes admit {}s from namespace {route_ns}",
                        route.kind
                    ),
                )
            } else if let (true, Some((k, winner))) =
                (with_hosts.is_empty() && before > 0, &lost_to)
            {
                fail(
                    reason::NOT_ALLOWED_BY_LISTENERS,
                    format!(
                        "a listener where no route of the other kind shares a hostname: on listener {:?}, {winner} shares one and is older (or first by namespace/name); an HTTPRoute and a GRPCRoute never share a hostname on a listener",
                        states[*k].listener.name
                    ),
                )
            } else if with_hosts.is_empty() {
                fail(
                    reason::NO_MATCHING_LISTENER_HOSTNAME,
                    format!(
                        "a gateway listener whose hostname intersects the route's hostnames {:?}",
                        route_hosts
                    ),
                )
            } else if translated.rules.is_empty() && !translated.dropped.is_empty() {
                Condition::no(
                    status::ACCEPTED,
                    reason::UNSUPPORTED_VALUE,
                    translated.dropped.join("; "),
                )
            } else {
                Condition::yes(status::ACCEPTED, reason::ACCEPTED, "the route is attached")
            };
            let is_accepted = accepted.status == status::ConditionStatus::True;
            let mut conditions = vec![accepted];
            conditions.push(match &translated.backend_problem {
                None => Condition::yes(
                    status::RESOLVED_REFS,
                    reason::RESOLVED_REFS,
                    "references resolved",
                ),
                Some((r, m)) => Condition::no(status::RESOLVED_REFS, r, m.clone()),
            });
            if is_accepted && !translated.dropped.is_empty() {
                conditions.push(Condition::yes(
                    status::PARTIALLY_INVALID,
                    reason::UNSUPPORTED_VALUE,
                    translated.dropped.join("; "),
                ));
            }
            route_status.parents.push(RouteParentStatus {
                parent_index: pi,
                gateway: gw_shown,
                listener_set: set_shown(sets, scope),
                section_name: parent.section_name.clone(),
                port: parent.port,
                controller_name: ALB_CONTROLLER.to_owned(),
                conditions,
            });
            if !is_accepted {
                continue;
            }
            for (k, hosts) in with_hosts {
                if let Some(set) = route_hosts_of.get_mut(k) {
                    set.extend(hosts.iter().flatten().cloned());
                }
                dns::add_hosts(
                    dns_names.as_ref(),
                    states[k].listener.hostname.as_deref(),
                    &mut hostnames,
                );
                if !attached_here.insert(k) {
                    continue;
                }
                states[k].attached += 1;
                if !states[k].is_valid() {
                    continue;
                }
                add_candidates(
                    &mut candidates,
                    states[k].port,
                    route,
                    &translated.rules,
                    &hosts,
                    &object,
                );
            }
        }
        if !attached_here.is_empty() {
            attached_routes.push(format!(
                "{}/{route_ns}/{}",
                route.short(),
                name_of(route.meta)
            ));
            all_tgs.extend(translated.target_groups);
            uses_instance_targets |= translated.uses_instance_targets;
        }
        statuses.push(route_status);
    }
    let discovery = discovery_hosts(entries, states, &route_hosts_of, errors);
    let listeners = alb_listeners(index, stack, states, candidates, &discovery, errors, gw);
    let used: BTreeSet<&str> = listeners
        .iter()
        .flat_map(|l| l.rules.iter().flat_map(|r| r.actions.iter()))
        .flat_map(|a| match a {
            ActionSpec::Forward { target_groups, .. } => target_groups
                .iter()
                .filter_map(|t| t.id.as_deref())
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let target_groups = all_tgs
        .into_values()
        .filter(|tg| used.contains(tg.id.as_str()))
        .collect();
    Built {
        listeners,
        target_groups,
        routes: attached_routes,
        uses_instance_targets,
        hostnames,
    }
}

fn add_candidates(
    candidates: &mut Candidates,
    port: u16,
    route: &AnyRoute<'_>,
    rules: &[Rule],
    hosts: &[Option<String>],
    object: &ObjectRef,
) {
    let created = route
        .meta
        .creation_timestamp
        .as_ref()
        .map_or((1, None), |t| (0, Some(t.0)));
    let list = candidates.entry(port).or_default();
    for rule in rules {
        for m in &rule.matches {
            for host in hosts {
                let (host_class, host_len) = match host.as_deref() {
                    None => (2, 0),
                    Some(h) if h.starts_with('*') => (1, h.len()),
                    Some(_) => (0, 0),
                };
                let key = Precedence {
                    host_class,
                    host_len: Reverse(host_len),
                    path_class: u8::from(!m.exact),
                    path_len: Reverse(m.path_len),
                    method_len: Reverse(m.method_len),
                    method: u8::from(!m.method),
                    headers: Reverse(m.headers),
                    queries: Reverse(m.queries),
                    created,
                    route: (
                        namespace_of(route.meta).to_owned(),
                        name_of(route.meta).to_owned(),
                    ),
                    rule: rule.index,
                    matched: m.index,
                    host: host.clone().unwrap_or_default(),
                };
                let mut conditions = Vec::new();
                if let Some(h) = host {
                    conditions.push(ConditionSpec::HostHeader {
                        values: vec![h.clone()],
                    });
                }
                conditions.extend(m.conditions.iter().cloned());
                let transforms = rule
                    .rewrite
                    .as_ref()
                    .map(|r| rewrite_transforms(r, m.prefix.as_deref()))
                    .unwrap_or_default();
                list.push((
                    key,
                    conditions,
                    rule.action.clone(),
                    transforms,
                    object.to_string(),
                ));
            }
        }
    }
}

/// A request whose host a Gateway listener with a hostname takes is answered by that listener's
/// routes only, never by those of a less specific listener on the same port (no hostname, or a
/// wildcard covering it): after the listener's own rules, a rule on its hostname answers 404.
fn listener_terminators(states: &[State<'_>], port: u16, gw: &Gateway) -> Vec<Candidate> {
    let on_port: Vec<&State<'_>> = states
        .iter()
        .filter(|s| s.is_valid() && s.port == port)
        .collect();
    // `None` (no hostname) covers every host; `*.a.com` covers `x.a.com` and `*.x.a.com`.
    let covers = |wider: Option<&str>, host: &str| match wider {
        None => true,
        Some(w) => w
            .strip_prefix('*')
            .is_some_and(|suffix| w != host && host.ends_with(suffix) && host.len() > suffix.len()),
    };
    let mut out = Vec::new();
    for s in &on_port {
        let Some(h) = s.listener.hostname.as_deref() else {
            continue;
        };
        let shadowed = on_port
            .iter()
            .any(|o| !std::ptr::eq(*o, *s) && covers(o.listener.hostname.as_deref(), h));
        if !shadowed {
            continue;
        }
        let (host_class, host_len) = if h.starts_with('*') {
            (1, h.len())
        } else {
            (0, 0)
        };
        out.push((
            Precedence {
                host_class,
                host_len: Reverse(host_len),
                path_class: 2,
                path_len: Reverse(0),
                method_len: Reverse(0),
                method: 1,
                headers: Reverse(0),
                queries: Reverse(0),
                created: (1, None),
                route: (String::new(), String::new()),
                rule: 0,
                matched: 0,
                host: h.to_owned(),
            },
            vec![ConditionSpec::HostHeader {
                values: vec![h.to_owned()],
            }],
            not_found_action(),
            Vec::new(),
            format!(
                "gateway {}/{} listener {}",
                namespace_of(&gw.metadata),
                name_of(&gw.metadata),
                s.listener.name
            ),
        ));
    }
    out
}

/// The hosts whose ACM certificates an HTTPS port without certificates takes, as the AWS Load
/// Balancer Controller's Gateway listeners do (`mapGatewayListenerConfigsByPort`): the hostnames
/// of the port's listeners and those the routes accepted on them serve there (the
/// intersections), sorted. A port with none has nothing to discover certificates for: its
/// listeners become `ResolvedRefs=False`, `InvalidCertificateRef`, and are not programmed.
fn discovery_hosts(
    entries: &[Entry<'_>],
    states: &mut [State<'_>],
    route_hosts_of: &[BTreeSet<String>],
    errors: &mut Vec<BuildError>,
) -> BTreeMap<u16, Vec<String>> {
    let mut by_port: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for (k, s) in states.iter().enumerate() {
        if !(s.discover && s.is_valid()) {
            continue;
        }
        let hosts = by_port.entry(s.port).or_default();
        hosts.extend(s.listener.hostname.iter().cloned());
        hosts.extend(route_hosts_of.get(k).into_iter().flatten().cloned());
    }
    for (k, s) in states.iter_mut().enumerate() {
        if !(s.discover && s.is_valid()) || by_port.get(&s.port).is_some_and(|h| !h.is_empty()) {
            continue;
        }
        let Some(entry) = entries.get(k) else {
            continue;
        };
        let e = invalid_field(
            &entry.object,
            format!("{}.hostname", entry.field),
            "",
            format!(
                "a hostname, on the listener or on a route attached to it, to discover its ACM certificates by (or an ACM certificate ARN in listenerConfigurations[protocolPort=HTTPS:{}].defaultCertificate of the Gateway's LoadBalancerConfiguration)",
                s.port
            ),
        );
        s.resolved_refs = Condition::no(
            status::RESOLVED_REFS,
            reason::INVALID_CERTIFICATE_REF,
            message_of(&e),
        );
        s.certificates_ok = false;
        errors.push(e);
    }
    by_port
        .into_iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(port, h)| (port, h.into_iter().collect()))
        .collect()
}

fn alb_listeners(
    index: &Index<'_>,
    stack: &StackId,
    states: &[State<'_>],
    mut candidates: Candidates,
    discovery: &BTreeMap<u16, Vec<String>>,
    errors: &mut Vec<BuildError>,
    gw: &Gateway,
) -> Vec<ListenerSpec> {
    let cluster = &index.config.cluster_name;
    let mut by_port: BTreeMap<u16, &State<'_>> = BTreeMap::new();
    for s in states.iter().filter(|s| s.is_valid()) {
        by_port.entry(s.port).or_insert(s);
    }
    let mut total = 0usize;
    let mut out = Vec::new();
    for (port, s) in by_port {
        let Some(protocol) = s.protocol else {
            continue;
        };
        let mut list = candidates.remove(&port).unwrap_or_default();
        list.extend(listener_terminators(states, port, gw));
        list.sort_by(|a, b| a.0.cmp(&b.0));
        total += list.len();
        let rules = list
            .into_iter()
            .zip(1u32..)
            .map(
                |((_, conditions, action, transforms, source), priority)| RuleSpec {
                    priority,
                    conditions,
                    actions: vec![action],
                    tags: tags::with_tracking(
                        &BTreeMap::new(),
                        cluster,
                        stack,
                        &format!("{port}:{priority}"),
                    ),
                    transforms,
                    source,
                },
            )
            .collect();
        out.push(ListenerSpec {
            port,
            protocol,
            default_actions: vec![not_found_action()],
            rules,
            ssl_policy: s.ssl_policy.clone(),
            certificates: s.certificates.clone(),
            certificate_discovery: discovery
                .get(&port)
                .map(|hosts| {
                    vec![CertificateDiscovery {
                        object: format!(
                            "gateway {}/{}",
                            namespace_of(&gw.metadata),
                            name_of(&gw.metadata)
                        ),
                        hosts: hosts.clone(),
                        after: 0,
                    }]
                })
                .unwrap_or_default(),
            alpn_policy: None,
            attributes: BTreeMap::new(),
            mutual_authentication: None,
            tags: tags::with_tracking(&BTreeMap::new(), cluster, stack, &port.to_string()),
        });
    }
    let limit = index.config.limits.rules_per_load_balancer;
    if total > limit {
        errors.push(BuildError::Limit {
            object: ObjectRef::namespaced(
                "gateway",
                namespace_of(&gw.metadata),
                name_of(&gw.metadata),
            ),
            what: "listener rules of the load balancer".to_owned(),
            count: total,
            limit,
        });
    }
    out
}

/// Translates a route's rules for `gw`: matches, filters and backends. A rule with a value an
/// ALB cannot express is left out (and reported); the others are kept.
fn translate(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    stack: &StackId,
    route: &AnyRoute<'_>,
    object: &ObjectRef,
    errors: &mut Vec<BuildError>,
) -> Translated {
    let rules = &route.rules;
    let mut out = Translated {
        rules: Vec::new(),
        dropped: Vec::new(),
        backend_problem: None,
        target_groups: BTreeMap::new(),
        uses_instance_targets: false,
    };
    for (ri, rule) in rules.iter().enumerate() {
        match translate_rule(
            index, objects, gw, stack, route, object, ri, rule, &mut out, errors,
        ) {
            Ok(r) => out.rules.push(r),
            Err(e) => {
                out.dropped.push(format!(
                    "{}; the rule is left out, the route's other rules are served",
                    message_of(&e)
                ));
                errors.push(e);
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn translate_rule(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    stack: &StackId,
    route: &AnyRoute<'_>,
    object: &ObjectRef,
    ri: usize,
    rule: &AnyRule<'_>,
    out: &mut Translated,
    errors: &mut Vec<BuildError>,
) -> Result<Rule, BuildError> {
    let field = format!("spec.rules[{ri}]");
    let limit = index.config.limits.condition_values_per_rule;
    let default_http = [HttpRouteMatch::default()];
    let default_grpc = [GrpcRouteMatch::default()];
    let matches: Vec<Result<Match, BuildError>> = match rule.matches {
        AnyMatches::Http(m) => {
            let m = if m.is_empty() { &default_http[..] } else { m };
            m.iter()
                .enumerate()
                .map(|(mi, m)| translate_match(m, &format!("{field}.matches[{mi}]"), object, mi))
                .collect()
        }
        AnyMatches::Grpc(m) => {
            let m = if m.is_empty() { &default_grpc[..] } else { m };
            m.iter()
                .enumerate()
                .map(|(mi, m)| {
                    translate_grpc_match(m, &format!("{field}.matches[{mi}]"), object, mi)
                })
                .collect()
        }
    };
    let mut translated = Vec::new();
    for (mi, t) in matches.into_iter().enumerate() {
        let t = t?;
        // The host condition adds one value.
        let values: usize = t
            .conditions
            .iter()
            .map(ConditionSpec::value_count)
            .sum::<usize>()
            + 1;
        if values > limit {
            return Err(invalid_field(
                object,
                format!("{field}.matches[{mi}]"),
                &format!("{values} condition values"),
                format!("at most {limit} condition values per ALB rule, the hostname and the two patterns of a PathPrefix included"),
            ));
        }
        translated.push(t);
    }
    unsupported_settings(rule, &field, object)?;
    let mut redirect = None;
    let mut rewrite = None;
    for (fi, f) in rule.filters.iter().enumerate() {
        let ffield = format!("{field}.filters[{fi}]");
        if let ("URLRewrite", Some(u)) = (f.filter_type.as_str(), &f.url_rewrite) {
            if route.kind != GRPC_ROUTE {
                rewrite = Some(check_rewrite(u, &translated, &ffield, object)?);
                continue;
            }
        }
        match (f.filter_type.as_str(), &f.request_redirect) {
            (t, _) if route.kind == GRPC_ROUTE => {
                return Err(invalid_field(
                    object,
                    format!("{ffield}.type"),
                    t,
                    "no filter (an ALB rule expresses none of a GRPCRoute's filters)",
                ))
            }
            ("RequestRedirect", Some(r)) => {
                redirect = Some(translate_redirect(r, &ffield, object)?)
            }
            (t, _) => {
                return Err(invalid_field(
                    object,
                    format!("{ffield}.type"),
                    t,
                    "RequestRedirect or URLRewrite (the filters an ALB rule expresses so far)",
                ))
            }
        }
    }
    if let (Some(_), Some(_)) = (&redirect, &rewrite) {
        return Err(invalid_field(
            object,
            format!("{field}.filters"),
            "RequestRedirect and URLRewrite",
            "not both RequestRedirect and URLRewrite (the specification forbids it)",
        ));
    }
    let action = match redirect {
        Some(r) => ActionSpec::Redirect(r),
        None => forward(
            index, objects, gw, stack, route, object, ri, rule, out, errors,
        )?,
    };
    Ok(Rule {
        index: ri,
        matches: translated,
        action,
        rewrite,
    })
}

/// Characters of a URL path that an ALB rewrite's replacement cannot carry literally (`$`
/// starts a group reference) or a hostname never has.
fn rewrite_value_ok(v: &str) -> bool {
    !v.is_empty() && !v.contains(['$', '\\', '?', '#']) && !v.contains(char::is_whitespace)
}

/// Checks a `URLRewrite` filter against what ALB transforms can express: a hostname, a full
/// path (`ReplaceFullPath`), or a prefix replacing the rule's `PathPrefix` matches
/// (`ReplacePrefixMatch`, which the specification allows only with `PathPrefix`).
fn check_rewrite(
    u: &HttpUrlRewrite,
    matches: &[Match],
    field: &str,
    object: &ObjectRef,
) -> Result<HttpUrlRewrite, BuildError> {
    if let Some(h) = &u.hostname {
        if !rewrite_value_ok(h) || h.contains('/') {
            return Err(invalid_field(
                object,
                format!("{field}.urlRewrite.hostname"),
                h,
                "a hostname",
            ));
        }
    }
    if let Some(p) = &u.path {
        let (value, name) = match p.modifier_type.as_str() {
            "ReplaceFullPath" => (p.replace_full_path.as_deref(), "replaceFullPath"),
            "ReplacePrefixMatch" => {
                if matches.iter().any(|m| m.prefix.is_none()) {
                    return Err(invalid_field(
                        object,
                        format!("{field}.urlRewrite.path.type"),
                        &p.modifier_type,
                        "ReplaceFullPath, or ReplacePrefixMatch on a rule whose matches are all PathPrefix (the specification allows it with PathPrefix only)",
                    ));
                }
                (p.replace_prefix_match.as_deref(), "replacePrefixMatch")
            }
            other => {
                return Err(invalid_field(
                    object,
                    format!("{field}.urlRewrite.path.type"),
                    other,
                    "\"ReplaceFullPath\" or \"ReplacePrefixMatch\"",
                ))
            }
        };
        let value = value.unwrap_or_default();
        if !value.starts_with('/') || !rewrite_value_ok(value) {
            return Err(invalid_field(
                object,
                format!("{field}.urlRewrite.path.{name}"),
                value,
                "a path starting with \"/\", without \"$\", \"\\\", \"?\" or \"#\" (an ALB URL rewrite takes it as its replacement)",
            ));
        }
    }
    Ok(u.clone())
}

/// Escapes the regular-expression metacharacters of a literal path.
fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The ALB transforms of a `URLRewrite` filter for one match (`prefix`: its `PathPrefix`
/// value without the trailing `/`). The URL an ALB rewrites is the path and query string:
/// `ReplaceFullPath` replaces everything before `?`; `ReplacePrefixMatch` replaces the
/// matched prefix element-wise, as the specification says (`/foo` → `/xyz`: `/foo/bar` →
/// `/xyz/bar`; → `/`: `/foo/bar` → `/bar`, `/foo` → `/`), keeping the query string.
fn rewrite_transforms(r: &HttpUrlRewrite, prefix: Option<&str>) -> Vec<TransformSpec> {
    let mut out = Vec::new();
    if let Some(h) = &r.hostname {
        out.push(TransformSpec::HostHeaderRewrite {
            rewrites: vec![RewriteSpec {
                regex: "^.*$".to_owned(),
                replace: h.clone(),
            }],
        });
    }
    let rewrite = match r.path.as_ref() {
        Some(p) if p.modifier_type == "ReplaceFullPath" => {
            p.replace_full_path.as_ref().map(|full| RewriteSpec {
                regex: "^[^?]*".to_owned(),
                replace: full.clone(),
            })
        }
        Some(p) => match (p.replace_prefix_match.as_deref(), prefix) {
            (Some(to), Some(from)) => {
                let from = regex_literal(from);
                let to = to.trim_end_matches('/');
                Some(if to.is_empty() {
                    RewriteSpec {
                        regex: format!("^{from}(/([^?]*))?(\\?.*)?$"),
                        replace: "/$2$3".to_owned(),
                    }
                } else {
                    RewriteSpec {
                        regex: format!("^{from}(/[^?]*)?(\\?.*)?$"),
                        replace: format!("{to}$1$2"),
                    }
                })
            }
            _ => None,
        },
        None => None,
    };
    if let Some(w) = rewrite {
        out.push(TransformSpec::UrlRewrite { rewrites: vec![w] });
    }
    out
}

/// `k=v` of the fields that are set, `{}` when none is.
fn shown_fields(fields: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
    if set.is_empty() {
        "{}".to_owned()
    } else {
        set.join(", ")
    }
}

/// The rule settings an ALB rule cannot express: `timeouts`, `retry` and `sessionPersistence`
/// (the specification's Extended features). A rule that sets one is refused like any other
/// unsupported value, so that a route never runs without the behaviour it asked for.
fn unsupported_settings(
    rule: &AnyRule<'_>,
    field: &str,
    object: &ObjectRef,
) -> Result<(), BuildError> {
    if let Some(t) = rule.timeouts {
        let why = "(an ALB has no per-rule or per-backend timeout: its one timeout is the load balancer's idle timeout, the attribute idle_timeout.timeout_seconds, which the LoadBalancerConfiguration's loadBalancerAttributes set for every listener)";
        if let Some(v) = &t.request {
            return Err(invalid_field(
                object,
                format!("{field}.timeouts.request"),
                v,
                format!("no request timeout {why}"),
            ));
        }
        if let Some(v) = &t.backend_request {
            return Err(invalid_field(
                object,
                format!("{field}.timeouts.backendRequest"),
                v,
                format!("no backend request timeout {why}"),
            ));
        }
    }
    if let Some(r) = rule.retry {
        let value = shown_fields(&[
            (
                "codes",
                r.codes.as_ref().map(|c| {
                    format!(
                        "[{}]",
                        c.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }),
            ),
            ("attempts", r.attempts.map(|a| a.to_string())),
            ("backoff", r.backoff.clone()),
        ]);
        return Err(invalid_field(
            object,
            format!("{field}.retry"),
            &value,
            "no retry (an ALB never retries a request, on the same target or another)",
        ));
    }
    if let Some(p) = rule.session_persistence {
        let value = shown_fields(&[
            ("type", p.persistence_type.clone()),
            ("sessionName", p.session_name.clone()),
            ("absoluteTimeout", p.absolute_timeout.clone()),
            ("idleTimeout", p.idle_timeout.clone()),
            (
                "cookieConfig.lifetimeType",
                p.cookie_config
                    .as_ref()
                    .and_then(|c| c.lifetime_type.clone()),
            ),
        ]);
        return Err(invalid_field(
            object,
            format!("{field}.sessionPersistence"),
            &value,
            "no session persistence (not translated: an ALB's stickiness is a target group's, with its own AWSALB cookie or an application cookie, not a session named per rule)",
        ));
    }
    Ok(())
}

fn literal_ok(value: &str) -> bool {
    !value.contains(['*', '?'])
}

fn translate_match(
    m: &HttpRouteMatch,
    field: &str,
    object: &ObjectRef,
    index: usize,
) -> Result<Match, BuildError> {
    let mut conditions = Vec::new();
    let path_type = m
        .path
        .as_ref()
        .and_then(|p| p.match_type.as_deref())
        .unwrap_or("PathPrefix");
    let value = m
        .path
        .as_ref()
        .and_then(|p| p.value.as_deref())
        .unwrap_or("/");
    if matches!(path_type, "Exact" | "PathPrefix")
        && (!value.starts_with('/') || !literal_ok(value))
    {
        return Err(invalid_field(
            object,
            format!("{field}.path.value"),
            value,
            "a path starting with \"/\" without \"*\" or \"?\" (an ALB path pattern has no escape for them)",
        ));
    }
    let (exact, patterns) = match path_type {
        "Exact" => (true, vec![value.to_owned()]),
        "PathPrefix" => {
            let trimmed = value.trim_end_matches('/');
            if trimmed.is_empty() {
                (false, vec!["/*".to_owned()])
            } else {
                // Element-wise: `/foo` matches `/foo` and `/foo/...`, never `/foobar`.
                (false, vec![trimmed.to_owned(), format!("{trimmed}/*")])
            }
        }
        other => {
            return Err(invalid_field(
                object,
                format!("{field}.path.type"),
                other,
                "\"Exact\" or \"PathPrefix\" (RegularExpression is not translated yet)",
            ))
        }
    };
    if let Some(long) = patterns.iter().find(|p| p.len() > MAX_PATH_PATTERN) {
        return Err(invalid_field(
            object,
            format!("{field}.path.value"),
            value,
            format!("a path whose ALB pattern {long:?} has at most {MAX_PATH_PATTERN} characters"),
        ));
    }
    let path_len = value.trim_end_matches('/').len();
    conditions.push(ConditionSpec::PathPattern { values: patterns });
    let headers = m.headers.as_deref().unwrap_or_default();
    for (hi, h) in headers.iter().enumerate() {
        let t = h.match_type.as_deref().unwrap_or("Exact");
        if t != "Exact" {
            return Err(invalid_field(
                object,
                format!("{field}.headers[{hi}].type"),
                t,
                "\"Exact\" (RegularExpression is not translated yet)",
            ));
        }
        if !literal_ok(&h.value) {
            return Err(invalid_field(
                object,
                format!("{field}.headers[{hi}].value"),
                &h.value,
                "a value without \"*\" or \"?\" (wildcards in an ALB http-header condition, with no escape)",
            ));
        }
        conditions.push(ConditionSpec::HttpHeader {
            http_header_name: h.name.clone(),
            values: vec![h.value.clone()],
        });
    }
    let queries = m.query_params.as_deref().unwrap_or_default();
    for (qi, q) in queries.iter().enumerate() {
        let t = q.match_type.as_deref().unwrap_or("Exact");
        if t != "Exact" {
            return Err(invalid_field(
                object,
                format!("{field}.queryParams[{qi}].type"),
                t,
                "\"Exact\" (RegularExpression is not translated yet)",
            ));
        }
        let escape = |s: &str| {
            let mut o = String::with_capacity(s.len());
            for c in s.chars() {
                if matches!(c, '*' | '?' | '\\') {
                    o.push('\\');
                }
                o.push(c);
            }
            o
        };
        conditions.push(ConditionSpec::QueryString {
            values: vec![QueryStringKeyValue {
                key: Some(escape(&q.name)),
                value: escape(&q.value),
            }],
        });
    }
    if let Some(method) = &m.method {
        conditions.push(ConditionSpec::HttpRequestMethod {
            values: vec![method.clone()],
        });
    }
    Ok(Match {
        index,
        conditions,
        prefix: (path_type == "PathPrefix").then(|| value.trim_end_matches('/').to_owned()),
        exact,
        path_len,
        method_len: 0,
        method: m.method.is_some(),
        headers: headers.len(),
        queries: queries.len(),
    })
}

/// A GRPCRoute match: the service and method become the request path `/service/method`
/// (a missing service or method is `*`, as the AWS Load Balancer Controller writes it), headers
/// become `http-header` conditions. Only `Exact` matches can be expressed: ALB's path and header
/// patterns are wildcards, not regular expressions.
fn translate_grpc_match(
    m: &GrpcRouteMatch,
    field: &str,
    object: &ObjectRef,
    index: usize,
) -> Result<Match, BuildError> {
    let mut conditions = Vec::new();
    let (service, method) = match &m.method {
        None => (None, None),
        Some(mm) => {
            let t = mm.match_type.as_deref().unwrap_or("Exact");
            if t != "Exact" {
                return Err(invalid_field(
                    object,
                    format!("{field}.method.type"),
                    t,
                    "\"Exact\" (an ALB path pattern has wildcards, not regular expressions)",
                ));
            }
            for (name, v) in [("service", &mm.service), ("method", &mm.method)] {
                if let Some(v) = v {
                    if v.is_empty() || !literal_ok(v) || v.contains('/') {
                        return Err(invalid_field(
                            object,
                            format!("{field}.method.{name}"),
                            v,
                            "a non-empty name without \"*\", \"?\" or \"/\"",
                        ));
                    }
                }
            }
            (mm.service.as_deref(), mm.method.as_deref())
        }
    };
    let pattern = match (service, method) {
        (None, None) => "/*".to_owned(),
        (s, m) => format!("/{}/{}", s.unwrap_or("*"), m.unwrap_or("*")),
    };
    if pattern.len() > MAX_PATH_PATTERN {
        return Err(invalid_field(
            object,
            format!("{field}.method"),
            &pattern,
            format!("a service and method whose ALB path pattern has at most {MAX_PATH_PATTERN} characters"),
        ));
    }
    conditions.push(ConditionSpec::PathPattern {
        values: vec![pattern],
    });
    let headers = m.headers.as_deref().unwrap_or_default();
    for (hi, h) in headers.iter().enumerate() {
        let t = h.match_type.as_deref().unwrap_or("Exact");
        if t != "Exact" {
            return Err(invalid_field(
                object,
                format!("{field}.headers[{hi}].type"),
                t,
                "\"Exact\" (RegularExpression is not translated yet)",
            ));
        }
        if !literal_ok(&h.value) {
            return Err(invalid_field(
                object,
                format!("{field}.headers[{hi}].value"),
                &h.value,
                "a value without \"*\" or \"?\" (wildcards in an ALB http-header condition, with no escape)",
            ));
        }
        conditions.push(ConditionSpec::HttpHeader {
            http_header_name: h.name.clone(),
            values: vec![h.value.clone()],
        });
    }
    Ok(Match {
        index,
        conditions,
        prefix: None,
        // The specification's GRPCRoute precedence: longer service, then longer method, then
        // more header matches.
        exact: true,
        path_len: service.map_or(0, str::len),
        method_len: method.map_or(0, str::len),
        method: false,
        headers: headers.len(),
        queries: 0,
    })
}

fn translate_redirect(
    r: &super::HttpRequestRedirect,
    field: &str,
    object: &ObjectRef,
) -> Result<RedirectSpec, BuildError> {
    let (protocol, scheme_port) = match r.scheme.as_deref() {
        None => ("#{protocol}", None),
        Some("http") => ("HTTP", Some("80")),
        Some("https") => ("HTTPS", Some("443")),
        Some(other) => {
            return Err(invalid_field(
                object,
                format!("{field}.requestRedirect.scheme"),
                other,
                "\"http\" or \"https\"",
            ))
        }
    };
    let port = match (r.port, scheme_port) {
        (Some(p), _) => p.to_string(),
        // The specification: with a scheme and no port, the scheme's well-known port.
        (None, Some(p)) => p.to_owned(),
        (None, None) => "#{port}".to_owned(),
    };
    let path = match &r.path {
        None => "/#{path}".to_owned(),
        Some(p) if p.modifier_type == "ReplaceFullPath" => p
            .replace_full_path
            .clone()
            .unwrap_or_else(|| "/".to_owned()),
        Some(p) => {
            return Err(invalid_field(
                object,
                format!("{field}.requestRedirect.path.type"),
                &p.modifier_type,
                "\"ReplaceFullPath\" (an ALB redirect cannot replace a matched prefix)",
            ))
        }
    };
    let status_code = match r.status_code.unwrap_or(302) {
        301 => "HTTP_301",
        302 => "HTTP_302",
        other => {
            return Err(invalid_field(
                object,
                format!("{field}.requestRedirect.statusCode"),
                &other.to_string(),
                "301 or 302 (the redirect codes an ALB answers with)",
            ))
        }
    };
    Ok(RedirectSpec {
        protocol: protocol.to_owned(),
        port,
        host: r.hostname.clone().unwrap_or_else(|| "#{host}".to_owned()),
        path,
        query: "#{query}".to_owned(),
        status_code: status_code.to_owned(),
    })
}

/// The 500 the specification asks for when no backend of a rule can be used.
fn internal_error() -> ActionSpec {
    ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "500".into(),
        content_type: Some("text/plain".into()),
        message_body: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn forward(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    stack: &StackId,
    route: &AnyRoute<'_>,
    object: &ObjectRef,
    ri: usize,
    rule: &AnyRule<'_>,
    out: &mut Translated,
    errors: &mut Vec<BuildError>,
) -> Result<ActionSpec, BuildError> {
    let mut refs = Vec::new();
    for (bi, b) in rule.backend_refs.iter().enumerate() {
        let field = format!("spec.rules[{ri}].backendRefs[{bi}]");
        if b.filters.as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(invalid_field(
                object,
                format!("{field}.filters"),
                &b.filters
                    .iter()
                    .flatten()
                    .map(|f| f.filter_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                "no per-backend filter (an ALB forward has none)",
            ));
        }
        let weight = b.weight.unwrap_or(1);
        if !(0..=MAX_WEIGHT).contains(&weight) {
            return Err(invalid_field(
                object,
                format!("{field}.weight"),
                &weight.to_string(),
                format!("a weight from 0 to {MAX_WEIGHT} (an ALB target group weight)"),
            ));
        }
        match target_group(index, objects, gw, stack, route, object, &field, b, None) {
            Ok((tg, instances)) => {
                out.uses_instance_targets |= instances;
                refs.push(TargetGroupRef {
                    id: Some(tg.id.clone()),
                    arn: None,
                    name: None,
                    weight: u32::try_from(weight).unwrap_or(0),
                });
                out.target_groups.insert(tg.id.clone(), tg);
            }
            Err((reason, e)) => {
                if out.backend_problem.is_none() {
                    out.backend_problem = Some((reason, message_of(&e)));
                }
                errors.push(e);
            }
        }
    }
    let limit = index.config.limits.target_groups_per_action;
    if refs.len() > limit {
        return Err(invalid_field(
            object,
            format!("spec.rules[{ri}].backendRefs"),
            &format!("{} backends", refs.len()),
            format!("at most {limit} backends per rule (target groups of an ALB forward action)"),
        ));
    }
    if refs.is_empty() || refs.iter().all(|r| r.weight == 0) {
        return Ok(internal_error());
    }
    Ok(ActionSpec::Forward {
        target_groups: refs,
        stickiness: None,
    })
}

/// Whether a ReferenceGrant in `to_ns` lets routes of `kind` in `from_ns` refer to Service `name`.
fn granted(objects: &GatewayObjects, kind: &str, from_ns: &str, to_ns: &str, name: &str) -> bool {
    objects.reference_grants.iter().any(|g| {
        namespace_of(&g.metadata) == to_ns
            && g.spec
                .from
                .iter()
                .any(|f| f.group == GROUP && f.kind == kind && f.namespace == from_ns)
            && g.spec.to.iter().any(|t| {
                t.group.is_empty()
                    && t.kind == "Service"
                    && t.name.as_deref().is_none_or(|n| n == name)
            })
    })
}

pub(super) type BackendError = (&'static str, BuildError);

/// The specification: a backend whose Service port's `appProtocol` the route cannot speak to is
/// invalid, `ResolvedRefs=False` with reason `UnsupportedProtocol`. An ALB HTTPRoute target
/// group speaks HTTP/1.1 in cleartext (WebSockets included: an ALB upgrades them on HTTP/1.1
/// target groups); a GRPCRoute target group speaks gRPC over cleartext HTTP/2 (h2c).
fn alb_app_protocol(
    object: &ObjectRef,
    field: &str,
    grpc: bool,
    ns: &str,
    name: &str,
    port: i32,
    app_protocol: Option<&str>,
) -> Result<(), BackendError> {
    let Some(app) = app_protocol else {
        return Ok(());
    };
    let (ok, expected) = if grpc {
        (
            matches!(app, "kubernetes.io/h2c" | "grpc"),
            "no appProtocol, \"kubernetes.io/h2c\" or \"grpc\" (a GRPCRoute's target group speaks gRPC over cleartext HTTP/2)",
        )
    } else {
        (
            matches!(app, "http" | "HTTP" | "kubernetes.io/ws"),
            "no appProtocol, \"http\" or \"kubernetes.io/ws\" (an HTTPRoute's target group speaks cleartext HTTP/1.1, WebSockets included; an ALB target group with protocol version HTTP2 would refuse the HTTP/1.1 requests the route also takes, and TLS to backends is not translated)",
        )
    };
    if ok {
        return Ok(());
    }
    Err((
        reason::UNSUPPORTED_PROTOCOL,
        invalid_field(
            object,
            format!("{field}.port"),
            &format!("{port} (service {ns}/{name}, appProtocol {app})"),
            expected,
        ),
    ))
}

/// The target group of one backend: an ALB's (`l4: None`: HTTP, HTTP1 or gRPC) or an NLB's
/// (`l4: Some(TCP, UDP or TLS)`, LBC's NLB Gateway defaults: a TCP health check).
#[allow(clippy::too_many_arguments)]
pub(super) fn target_group(
    index: &Index<'_>,
    objects: &GatewayObjects,
    gw: &Gateway,
    stack: &StackId,
    route: &AnyRoute<'_>,
    object: &ObjectRef,
    field: &str,
    b: &HttpBackendRef,
    l4: Option<Protocol>,
) -> Result<(TargetGroupSpec, bool), BackendError> {
    let route_ns = namespace_of(route.meta);
    let route_name = name_of(route.meta);
    let kind_of_route = route.kind;
    let group = b.group.as_deref().unwrap_or("");
    let kind = b.kind.as_deref().unwrap_or("Service");
    if !group.is_empty() || kind != "Service" {
        return Err((
            reason::INVALID_KIND,
            invalid_field(
                object,
                format!("{field}.kind"),
                &format!(
                    "{}{kind}",
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!("{group}/")
                    }
                ),
                "Service (core group)",
            ),
        ));
    }
    let ns = b.namespace.as_deref().unwrap_or(route_ns);
    let name = b.name.as_str();
    if ns != route_ns && !granted(objects, kind_of_route, route_ns, ns, name) {
        return Err((
            reason::REF_NOT_PERMITTED,
            invalid_field(
                object,
                format!("{field}.namespace"),
                ns,
                format!("the route's namespace {route_ns}, or a ReferenceGrant in namespace {ns} from {kind_of_route}s of namespace {route_ns} to Service {name}"),
            ),
        ));
    }
    let not_found = |target: String| {
        (
            reason::BACKEND_NOT_FOUND,
            BuildError::NotFound {
                object: object.clone(),
                field: field.to_owned(),
                target,
            },
        )
    };
    let port = b.port.ok_or_else(|| {
        not_found(format!(
            "service {ns}/{name} without a port (backendRefs[].port is required for a Service)"
        ))
    })?;
    let svc = index
        .service(ns, name)
        .ok_or_else(|| not_found(format!("service {ns}/{name}")))?;
    let svc_port = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.iter().find(|p| p.port == port))
        .ok_or_else(|| not_found(format!("port {port} of service {ns}/{name}")))?;
    if l4.is_none() {
        alb_app_protocol(
            object,
            field,
            kind_of_route == GRPC_ROUTE,
            ns,
            name,
            port,
            svc_port.app_protocol.as_deref(),
        )?;
    }
    let target_type = index.config.default_target_type;
    let (tg_port, targets) = match target_type {
        TargetType::Instance => {
            let node_port = svc_port.node_port.and_then(port_u16).ok_or_else(|| {
                (
                    reason::BACKEND_NOT_FOUND,
                    invalid_field(
                        object,
                        field.to_owned(),
                        &format!("{ns}/{name}:{port}"),
                        "a Service port with a nodePort (type NodePort or LoadBalancer) for instance targets",
                    ),
                )
            })?;
            // Through the accessor, which records the read (the incremental model rebuilds
            // this Gateway when a Node changes).
            let targets: Vec<TargetSpec> = index
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
                Some(IntOrString::Int(n)) => port_u16(*n).unwrap_or(1),
                None => port_u16(svc_port.port).unwrap_or(1),
                Some(IntOrString::String(_)) => 1,
            };
            let resolved = endpoint_targets(index, ns, name, svc, svc_port, Readiness::Ready);
            (tg_port, resolved.targets)
        }
    };
    let (gw_ns, gw_name) = (namespace_of(&gw.metadata), name_of(&gw.metadata));
    let id =
        format!("{gw_ns}/{gw_name}:{route_ns}-{route_name}:{kind_of_route}-{ns}-{name}:{port}");
    let grpc = kind_of_route == GRPC_ROUTE;
    let protocol_version = match (l4, grpc) {
        (Some(_), _) => None,
        (None, true) => Some(ProtocolVersion::Grpc),
        (None, false) => Some(ProtocolVersion::Http1),
    };
    let protocol = l4.unwrap_or(Protocol::Http);
    let hashed_port = match target_type {
        TargetType::Instance => tg_port.to_string(),
        TargetType::Ip => port.to_string(),
    };
    let tg_name = gateway_target_group_name(&GatewayTargetGroupNameInputs {
        cluster: &index.config.cluster_name,
        gateway: (gw_ns, gw_name),
        route: (route_ns, route_name),
        route_kind: kind_of_route,
        service: (ns, name),
        port: &hashed_port,
        target_type: target_type.as_str(),
        protocol: protocol.as_str(),
        protocol_version: protocol_version.map_or("", ProtocolVersion::as_str),
    });
    Ok((
        TargetGroupSpec {
            tags: tags::with_tracking(&BTreeMap::new(), &index.config.cluster_name, stack, &id),
            id,
            name: tg_name,
            port: tg_port,
            protocol,
            protocol_version,
            target_type,
            ip_address_type: "ipv4".to_owned(),
            // The AWS Load Balancer Controller's Gateway defaults (gRPC: its health-check
            // path and gRPC code 12, UNIMPLEMENTED).
            health_check: HealthCheckSpec {
                protocol: if l4.is_some() {
                    Protocol::Tcp
                } else {
                    Protocol::Http
                },
                port: "traffic-port".to_owned(),
                path: match (l4, grpc) {
                    (Some(_), _) => "",
                    (None, true) => "/AWS.ALB/healthcheck",
                    (None, false) => "/",
                }
                .to_owned(),
                interval_seconds: 15,
                timeout_seconds: 5,
                healthy_threshold_count: 3,
                unhealthy_threshold_count: 3,
                matcher: if l4.is_some() {
                    MatcherSpec {
                        http_code: None,
                        grpc_code: None,
                    }
                } else if grpc {
                    MatcherSpec {
                        http_code: None,
                        grpc_code: Some("12".to_owned()),
                    }
                } else {
                    MatcherSpec {
                        http_code: Some("200-399".to_owned()),
                        grpc_code: None,
                    }
                },
            },
            targets,
            attributes: BTreeMap::new(),
        },
        target_type == TargetType::Instance,
    ))
}
