//! Status of Gateway API objects as the specification defines it, computed by the pure
//! translation: GatewayClass `Accepted`; Gateway `Accepted` and `Programmed`; per listener
//! `Accepted`, `ResolvedRefs`, `Conflicted`, `Programmed` and `attachedRoutes`; per route and
//! parent `Accepted`, `ResolvedRefs` and `PartiallyInvalid`. The controller writes them
//! (`src/controller/gateway_status.rs`); `plan` reports every condition that is not met as an
//! error.
use serde::Serialize;

/// `status` of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ConditionStatus {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

/// One condition (`metav1.Condition` without the times and generation, which the writer adds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type (`Accepted`, `ResolvedRefs`, ...).
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// The specification's reason.
    pub reason: &'static str,
    /// What, for people.
    pub message: String,
}

impl Condition {
    /// A condition that holds.
    #[must_use]
    pub fn yes(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: ConditionStatus::True,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    #[must_use]
    pub fn no(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: ConditionStatus::False,
            reason,
            message: message.into(),
        }
    }

    /// A condition not known yet.
    #[must_use]
    pub fn unknown(type_: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: ConditionStatus::Unknown,
            reason,
            message: message.into(),
        }
    }
}

/// The condition of `type_` in `conditions`.
#[must_use]
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Status of a GatewayClass of ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassStatus {
    /// Name.
    pub name: String,
    /// Conditions (`Accepted`).
    pub conditions: Vec<Condition>,
}

/// Status of a Gateway of ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `status.addresses` (the load balancer's DNS name, once known).
    pub addresses: Vec<String>,
    /// Conditions (`Accepted`, `Programmed`).
    pub conditions: Vec<Condition>,
    /// One per listener, in spec order.
    pub listeners: Vec<ListenerStatus>,
    /// `status.attachedListenerSets`: the ListenerSets accepted on the Gateway; `None` (not
    /// written) when the Gateway allows none and none names it.
    pub attached_listener_sets: Option<u32>,
}

/// Status of a ListenerSet naming a Gateway of ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSetStatus {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The Gateway it names, `namespace/name` (its load balancer programs the listeners).
    pub gateway: String,
    /// Conditions (`Accepted`, `Programmed`).
    pub conditions: Vec<Condition>,
    /// One per listener, in spec order (none when the ListenerSet is not attached).
    pub listeners: Vec<ListenerStatus>,
}

/// Turns `Programmed` conditions that wait for the load balancer `True`.
fn program(conditions: &mut [Condition], message: &str) {
    for c in conditions {
        if c.type_ == PROGRAMMED && c.reason == reason::PENDING {
            *c = Condition::yes(PROGRAMMED, reason::PROGRAMMED, message);
        }
    }
}

impl ListenerSetStatus {
    /// The status once the Gateway's load balancer exists: `Programmed` turns `True` on the
    /// ListenerSet and on every listener of it that is programmed.
    pub fn programmed(&mut self) {
        program(&mut self.conditions, "the load balancer is active");
        for l in &mut self.listeners {
            program(&mut l.conditions, "the listener is programmed");
        }
    }
}

impl GatewayStatus {
    /// The status once the load balancer exists with `dns_name`: `Programmed` turns `True` on
    /// the Gateway and on every listener that is programmed, and the address is set.
    pub fn programmed(&mut self, dns_name: &str) {
        self.addresses = vec![dns_name.to_owned()];
        for c in &mut self.conditions {
            if c.type_ == PROGRAMMED && c.reason == reason::PENDING {
                *c = Condition::yes(
                    PROGRAMMED,
                    reason::PROGRAMMED,
                    "the load balancer is active",
                );
            }
        }
        for l in &mut self.listeners {
            for c in &mut l.conditions {
                if c.type_ == PROGRAMMED && c.reason == reason::PENDING {
                    *c = Condition::yes(
                        PROGRAMMED,
                        reason::PROGRAMMED,
                        "the listener is programmed",
                    );
                }
            }
        }
    }
}

/// Status of one Gateway listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerStatus {
    /// Listener name.
    pub name: String,
    /// Route kinds that may attach (`gateway.networking.k8s.io/HTTPRoute`).
    pub supported_kinds: Vec<String>,
    /// Routes attached to it.
    pub attached_routes: u32,
    /// Conditions (`Accepted`, `Conflicted`, `ResolvedRefs`, `Programmed`).
    pub conditions: Vec<Condition>,
}

/// Status of a route, per parent of ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    /// `HTTPRoute`.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// One per `parentRefs` entry naming a Gateway of ours.
    pub parents: Vec<RouteParentStatus>,
}

/// Status of a route for one parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    /// Index in `spec.parentRefs`.
    pub parent_index: usize,
    /// The Gateway, `namespace/name`.
    pub gateway: String,
    /// The ListenerSet (`namespace/name`) when the parent named is a ListenerSet of the
    /// Gateway rather than the Gateway.
    pub listener_set: Option<String>,
    /// `sectionName`, when set.
    pub section_name: Option<String>,
    /// `port`, when set.
    pub port: Option<i32>,
    /// `controllerName` written with the status.
    pub controller_name: String,
    /// Conditions (`Accepted`, `ResolvedRefs`, and `PartiallyInvalid` when some rules were
    /// dropped).
    pub conditions: Vec<Condition>,
}

/// Every status the translation computed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statuses {
    /// GatewayClasses of ours, by name.
    pub classes: Vec<GatewayClassStatus>,
    /// Gateways of ours, by namespace and name.
    pub gateways: Vec<GatewayStatus>,
    /// Routes attached (or trying to attach) to Gateways of ours, by namespace and name.
    pub routes: Vec<RouteStatus>,
    /// ListenerSets naming Gateways of ours, by namespace and name.
    pub listener_sets: Vec<ListenerSetStatus>,
}

impl Statuses {
    /// One status per route (kind, namespace, name), with its parents of every Gateway of ours
    /// in `spec.parentRefs` order, sorted by namespace, name and kind: the translation computes
    /// them Gateway by Gateway, and a route naming two Gateways of ours has one status (the one
    /// object the controller writes), not two.
    pub(crate) fn merge_routes(&mut self) {
        self.listener_sets
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut routes = std::mem::take(&mut self.routes);
        routes
            .sort_by(|a, b| (&a.namespace, &a.name, a.kind).cmp(&(&b.namespace, &b.name, b.kind)));
        for route in routes {
            match self.routes.last_mut() {
                Some(last)
                    if last.kind == route.kind
                        && last.namespace == route.namespace
                        && last.name == route.name =>
                {
                    last.parents.extend(route.parents);
                }
                _ => self.routes.push(route),
            }
        }
        for route in &mut self.routes {
            route.parents.sort_by_key(|p| p.parent_index);
        }
    }
}

/// Condition type `Accepted`.
pub const ACCEPTED: &str = "Accepted";
/// Condition type `Programmed`.
pub const PROGRAMMED: &str = "Programmed";
/// Condition type `ResolvedRefs`.
pub const RESOLVED_REFS: &str = "ResolvedRefs";
/// Condition type `Conflicted`.
pub const CONFLICTED: &str = "Conflicted";
/// Condition type `PartiallyInvalid`.
pub const PARTIALLY_INVALID: &str = "PartiallyInvalid";

/// The specification's reasons.
pub mod reason {
    /// Accepted.
    pub const ACCEPTED: &str = "Accepted";
    /// Programmed.
    pub const PROGRAMMED: &str = "Programmed";
    /// Waiting for the load balancer.
    pub const PENDING: &str = "Pending";
    /// The listener or Gateway cannot be programmed.
    pub const INVALID: &str = "Invalid";
    /// The class's or Gateway's parameters cannot be used.
    pub const INVALID_PARAMETERS: &str = "InvalidParameters";
    /// Some listeners are invalid.
    pub const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    /// The listener's port cannot be used.
    pub const PORT_UNAVAILABLE: &str = "PortUnavailable";
    /// The listener's protocol is not served by this class.
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    /// Two listeners on a port with different protocols.
    pub const PROTOCOL_CONFLICT: &str = "ProtocolConflict";
    /// Two listeners on a port with the same hostname.
    pub const HOSTNAME_CONFLICT: &str = "HostnameConflict";
    /// No conflict.
    pub const NO_CONFLICTS: &str = "NoConflicts";
    /// References resolved.
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    /// A listener's certificate cannot be used.
    pub const INVALID_CERTIFICATE_REF: &str = "InvalidCertificateRef";
    /// A listener's `allowedRoutes.kinds` names a kind this class does not serve.
    pub const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    /// No listener admits the route (namespace or kind).
    pub const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    /// No listener hostname intersects the route's hostnames.
    pub const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    /// `sectionName` or `port` names no listener.
    pub const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    /// A value the implementation cannot express.
    pub const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    /// A cross-namespace reference without a ReferenceGrant.
    pub const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    /// A backend that does not exist.
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    /// A backend of a kind that is not served.
    pub const INVALID_KIND: &str = "InvalidKind";
    /// A ListenerSet the Gateway's `allowedListeners` does not admit.
    pub const NOT_ALLOWED: &str = "NotAllowed";
    /// A ListenerSet whose Gateway is not accepted.
    pub const PARENT_NOT_ACCEPTED: &str = "ParentNotAccepted";
    /// A ListenerSet whose Gateway is not programmed.
    pub const PARENT_NOT_PROGRAMMED: &str = "ParentNotProgrammed";
}
