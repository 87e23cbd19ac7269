//! ListenerSets (`gateway.networking.k8s.io/v1`, GEP-1713; the AWS Load Balancer Controller
//! reads them since v3.2, for ALB and NLB Gateways): listeners added to a Gateway whose
//! `spec.allowedListeners.namespaces` admits the ListenerSet's namespace (`None`, the default,
//! admits none; `Same`, `All`, `Selector` on the namespace's labels).
//!
//! The Gateway's listeners and those of the ListenerSets attached to it make one list, in the
//! specification's precedence: the Gateway's own, then the ListenerSets by creation time
//! (oldest first), then by `namespace/name`. A listener that conflicts with one of a resource
//! earlier in that order is conflicted (and not programmed); the earlier one is not (within
//! one resource, both are, as before). A route reaches a ListenerSet's listeners only through a
//! `parentRefs` entry naming the ListenerSet (kind `ListenerSet`); one naming the Gateway
//! reaches the Gateway's own listeners only. A ListenerSet's listeners take their
//! `allowedRoutes.namespaces.from: Same` from the ListenerSet's namespace.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::types::{Gateway, GatewayObjects, Listener, ListenerSet, ParentReference};
use super::{name_of, namespace_of, GROUP, LISTENER_SET};
use crate::translate::error::ObjectRef;
use crate::translate::params::selector_matches;
use crate::translate::Index;

/// The ListenerSets naming a Gateway: those attached (in precedence order) and those its
/// `allowedListeners` refuses.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sets<'a> {
    /// Attached, in precedence order (creation time, then namespace/name).
    pub(crate) attached: Vec<&'a ListenerSet>,
    /// Naming the Gateway but not admitted by its `allowedListeners`.
    pub(crate) refused: Vec<&'a ListenerSet>,
}

impl Sets<'_> {
    /// Whether any ListenerSet names the Gateway.
    pub(crate) fn any(&self) -> bool {
        !(self.attached.is_empty() && self.refused.is_empty())
    }
}

fn created(meta: &ObjectMeta) -> (u8, Option<k8s_openapi::jiff::Timestamp>) {
    meta.creation_timestamp
        .as_ref()
        .map_or((1, None), |t| (0, Some(t.0)))
}

/// Whether the ListenerSet's `parentRef` names `gw`.
pub(crate) fn names(set: &ListenerSet, gw: &Gateway) -> bool {
    let r = &set.spec.parent_ref;
    r.group.as_deref().unwrap_or(GROUP) == GROUP
        && r.kind.as_deref().unwrap_or("Gateway") == "Gateway"
        && r.namespace
            .as_deref()
            .unwrap_or(namespace_of(&set.metadata))
            == namespace_of(&gw.metadata)
        && r.name == name_of(&gw.metadata)
}

/// Whether the Gateway's `allowedListeners` admits ListenerSets from `ns`.
fn allowed(index: &Index<'_>, gw: &Gateway, ns: &str) -> bool {
    let from = gw
        .spec
        .allowed_listeners
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    match from.and_then(|n| n.from.as_deref()).unwrap_or("None") {
        "All" => true,
        "Same" => ns == namespace_of(&gw.metadata),
        "Selector" => from
            .and_then(|n| n.selector.as_ref())
            .is_some_and(|s| selector_matches(s, &index.namespace_labels(ns))),
        _ => false,
    }
}

/// The ListenerSets naming `gw` (being deleted: left out).
pub(crate) fn of_gateway<'a>(
    index: &Index<'_>,
    objects: &'a GatewayObjects,
    gw: &Gateway,
) -> Sets<'a> {
    let mut out = Sets::default();
    let mut naming: Vec<&ListenerSet> = objects
        .listener_sets
        .iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none() && names(s, gw))
        .collect();
    naming.sort_by(|a, b| {
        (
            created(&a.metadata),
            namespace_of(&a.metadata),
            name_of(&a.metadata),
        )
            .cmp(&(
                created(&b.metadata),
                namespace_of(&b.metadata),
                name_of(&b.metadata),
            ))
    });
    for set in naming {
        if allowed(index, gw, namespace_of(&set.metadata)) {
            out.attached.push(set);
        } else {
            out.refused.push(set);
        }
    }
    out
}

/// One listener of a Gateway's merged list.
#[derive(Clone, Debug)]
pub(crate) struct Entry<'a> {
    /// The listener.
    pub(crate) listener: &'a Listener,
    /// `None`: the Gateway's own; `Some(k)`: of the `k`th attached ListenerSet.
    pub(crate) set: Option<usize>,
    /// The object that declares it (errors name it).
    pub(crate) object: ObjectRef,
    /// Its field in that object (`spec.listeners[i]`).
    pub(crate) field: String,
    /// The namespace `allowedRoutes.namespaces.from: Same` means.
    pub(crate) home_ns: &'a str,
}

/// The Gateway's listeners, then those of the attached ListenerSets in precedence order.
pub(crate) fn entries<'a>(gw: &'a Gateway, sets: &Sets<'a>) -> Vec<Entry<'a>> {
    let gw_ns = namespace_of(&gw.metadata);
    let gw_object = ObjectRef::namespaced("gateway", gw_ns, name_of(&gw.metadata));
    let mut out: Vec<Entry<'a>> = gw
        .spec
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| Entry {
            listener: l,
            set: None,
            object: gw_object.clone(),
            field: format!("spec.listeners[{i}]"),
            home_ns: gw_ns,
        })
        .collect();
    for (k, set) in sets.attached.iter().enumerate() {
        let ns = namespace_of(&set.metadata);
        let object = ObjectRef::namespaced("listenerset", ns, name_of(&set.metadata));
        out.extend(set.spec.listeners.iter().enumerate().map(|(i, l)| Entry {
            listener: l,
            set: Some(k),
            object: object.clone(),
            field: format!("spec.listeners[{i}]"),
            home_ns: ns,
        }));
    }
    out
}

/// Why two listeners on one port cannot both be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clash {
    /// Different protocols.
    Protocol,
    /// The same hostname (an NLB: any two listeners of one protocol).
    Hostname,
}

/// The conflicts of every listener of the merged list: for each, the listeners it conflicts
/// with (index, why), under `clash` (for two listeners on one port). Resources are taken in
/// precedence order: a listener conflicts with a listener of an earlier resource that was kept
/// (only the later one is conflicted, the specification's precedence); among the listeners of
/// one resource that were kept, conflicts are mutual (no winner is picked within a resource).
pub(crate) fn conflicts(
    entries: &[Entry<'_>],
    clash: &dyn Fn(&Listener, &Listener) -> Option<Clash>,
) -> Vec<Vec<(usize, Clash)>> {
    let mut out: Vec<Vec<(usize, Clash)>> = vec![Vec::new(); entries.len()];
    let mut start = 0;
    while start < entries.len() {
        let set = entries[start].set;
        let end = entries[start..]
            .iter()
            .position(|e| e.set != set)
            .map_or(entries.len(), |n| start + n);
        // Against the listeners kept of earlier resources.
        for i in start..end {
            for j in 0..start {
                if !out[j].is_empty() || entries[j].listener.port != entries[i].listener.port {
                    continue;
                }
                if let Some(c) = clash(entries[i].listener, entries[j].listener) {
                    out[i].push((j, c));
                }
            }
        }
        // Among the listeners of this resource not already conflicted.
        let kept: Vec<usize> = (start..end).filter(|i| out[*i].is_empty()).collect();
        let mut within: Vec<(usize, usize, Clash)> = Vec::new();
        for &i in &kept {
            for &j in &kept {
                if i != j && entries[i].listener.port == entries[j].listener.port {
                    if let Some(c) = clash(entries[i].listener, entries[j].listener) {
                        within.push((i, j, c));
                    }
                }
            }
        }
        for (i, j, c) in within {
            out[i].push((j, c));
        }
        start = end;
    }
    out
}

/// How a conflict message names listener `o` as seen from `me`: its field alone within one
/// resource, its object and field across resources.
pub(crate) fn shown(me: &Entry<'_>, o: &Entry<'_>) -> String {
    if me.set == o.set {
        o.field.clone()
    } else {
        format!("{} {}", o.object, o.field)
    }
}

/// Which listeners of a Gateway a route's `parentRefs` entry reaches: `Some(None)` the
/// Gateway's own (it names the Gateway), `Some(Some(k))` those of the `k`th attached
/// ListenerSet (it names that ListenerSet), `None` when it names neither.
pub(crate) fn scope_of(
    route_ns: &str,
    p: &ParentReference,
    gw: &Gateway,
    sets: &Sets<'_>,
) -> Option<Option<usize>> {
    if p.group.as_deref().unwrap_or(GROUP) != GROUP {
        return None;
    }
    let ns = p.namespace.as_deref().unwrap_or(route_ns);
    match p.kind.as_deref().unwrap_or("Gateway") {
        "Gateway" => {
            (ns == namespace_of(&gw.metadata) && p.name == name_of(&gw.metadata)).then_some(None)
        }
        LISTENER_SET => sets
            .attached
            .iter()
            .position(|s| namespace_of(&s.metadata) == ns && name_of(&s.metadata) == p.name)
            .map(Some),
        _ => None,
    }
}

/// Whether a route's `parentRefs` entry names a ListenerSet that names `gw` but is refused.
pub(crate) fn names_refused(route_ns: &str, p: &ParentReference, sets: &Sets<'_>) -> bool {
    p.group.as_deref().unwrap_or(GROUP) == GROUP
        && p.kind.as_deref() == Some(LISTENER_SET)
        && sets.refused.iter().any(|s| {
            namespace_of(&s.metadata) == p.namespace.as_deref().unwrap_or(route_ns)
                && name_of(&s.metadata) == p.name
        })
}

/// `namespace/name` of the `k`th attached ListenerSet.
pub(crate) fn set_shown(sets: &Sets<'_>, k: Option<usize>) -> Option<String> {
    let set = sets.attached.get(k?)?;
    Some(format!(
        "{}/{}",
        namespace_of(&set.metadata),
        name_of(&set.metadata)
    ))
}
