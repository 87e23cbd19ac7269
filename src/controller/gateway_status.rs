//! Writing the Gateway API status the translation computes
//! ([`aws_lb_operator_core::translate::gateway::status`]): GatewayClass `Accepted`; Gateway
//! `Accepted`, `Programmed` and `status.addresses` (the load balancer's DNS name, `Hostname`
//! type, once a pass found it); per listener `Accepted`, `ResolvedRefs`, `Conflicted`,
//! `Programmed`, `supportedKinds` and `attachedRoutes`; per route and parent of ours
//! `Accepted`, `ResolvedRefs` (and `PartiallyInvalid`) with `controllerName`.
//!
//! The status each object should have is a pure function of the translation's status, the
//! object as cached (its generation, its current status, a route's `spec.parentRefs`) and the
//! time ([`class_status`], [`gateway_status`], [`route_parents`]): conditions carry
//! `observedGeneration`, and a condition whose status did not change keeps its
//! `lastTransitionTime`, so an unchanged object computes exactly its current status and is
//! not patched. A route's entries of other controllers are kept as they are, in place; ours
//! that no longer apply are removed. Patches go to the `status` subresource (merge patches;
//! a route's carries its `resourceVersion`, so another controller's concurrent write is never
//! overwritten: the 409 is retried on the next round, from the fresher cache). Only the
//! leader writes, and a dry run writes nothing.
use std::collections::BTreeMap;

use aws_lb_operator_core::model::StackId;
use aws_lb_operator_core::translate::gateway::status::{
    Condition, ConditionStatus, GatewayClassStatus, GatewayStatus, ListenerSetStatus,
    ListenerStatus, RouteStatus, Statuses,
};
use aws_lb_operator_core::translate::gateway::{
    InUse, ALB_CONTROLLER, GATEWAY_CLASS_FINALIZER, LOAD_BALANCER_CONFIGURATION_FINALIZER,
    NLB_CONTROLLER,
};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::gateway::Kind;
use super::reconciler::Reconciler;

/// The `controllerName`s this operator writes route parents under.
pub const CONTROLLER_NAMES: [&str; 2] = [ALB_CONTROLLER, NLB_CONTROLLER];

fn status_text(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// `conditions` as `metav1.Condition`s: `observedGeneration` = `generation`, and
/// `lastTransitionTime` kept from `current` (a list of conditions) when the type had the same
/// status there, else `now`.
pub fn conditions(
    desired: &[Condition],
    current: Option<&Value>,
    generation: Option<i64>,
    now: &str,
) -> Value {
    let current = current.and_then(Value::as_array);
    let out: Vec<Value> = desired
        .iter()
        .map(|c| {
            let status = status_text(c.status);
            let since = current
                .into_iter()
                .flatten()
                .find(|x| x["type"] == c.type_ && x["status"] == status)
                .and_then(|x| x.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| Value::from(now));
            let mut v = json!({
                "type": c.type_, "status": status, "reason": c.reason,
                "message": c.message, "lastTransitionTime": since,
            });
            if let Some(g) = generation {
                v["observedGeneration"] = g.into();
            }
            v
        })
        .collect();
    Value::Array(out)
}

/// The whole `status` of a GatewayClass of ours.
pub fn class_status(
    desired: &GatewayClassStatus,
    current: Option<&Value>,
    generation: Option<i64>,
    now: &str,
) -> Value {
    let current_conditions = current.and_then(|c| c.get("conditions"));
    json!({"conditions": conditions(&desired.conditions, current_conditions, generation, now)})
}

fn listener(
    desired: &ListenerStatus,
    current: Option<&Value>,
    generation: Option<i64>,
    now: &str,
) -> Value {
    let current = current
        .and_then(|c| c.get("listeners"))
        .and_then(Value::as_array)
        .and_then(|ls| ls.iter().find(|l| l["name"] == desired.name.as_str()));
    let kinds: Vec<Value> = desired
        .supported_kinds
        .iter()
        .map(|k| match k.rsplit_once('/') {
            Some((group, kind)) => json!({"group": group, "kind": kind}),
            None => json!({"kind": k}),
        })
        .collect();
    json!({
        "name": desired.name,
        "supportedKinds": kinds,
        "attachedRoutes": desired.attached_routes,
        "conditions": conditions(&desired.conditions, current.and_then(|l| l.get("conditions")), generation, now),
    })
}

/// The whole `status` of a Gateway of ours (`addresses` as `Hostname` addresses; absent until
/// the load balancer is known).
pub fn gateway_status(
    desired: &GatewayStatus,
    current: Option<&Value>,
    generation: Option<i64>,
    now: &str,
) -> Value {
    let addresses: Vec<Value> = desired
        .addresses
        .iter()
        .map(|a| json!({"type": "Hostname", "value": a}))
        .collect();
    let mut v = json!({
        "conditions": conditions(&desired.conditions, current.and_then(|c| c.get("conditions")), generation, now),
        "listeners": desired.listeners.iter().map(|l| listener(l, current, generation, now)).collect::<Vec<_>>(),
    });
    if !addresses.is_empty() {
        v["addresses"] = Value::Array(addresses);
    }
    if let Some(n) = desired.attached_listener_sets {
        v["attachedListenerSets"] = n.into();
    }
    v
}

/// The whole `status` of a ListenerSet naming a Gateway of ours.
pub fn listener_set_status(
    desired: &ListenerSetStatus,
    current: Option<&Value>,
    generation: Option<i64>,
    now: &str,
) -> Value {
    json!({
        "conditions": conditions(&desired.conditions, current.and_then(|c| c.get("conditions")), generation, now),
        "listeners": desired.listeners.iter().map(|l| listener(l, current, generation, now)).collect::<Vec<_>>(),
    })
}

/// Whether a parent entry's `parentRef` names the same parent as `parent_ref` (defaults
/// filled in: group, kind Gateway, the route's namespace).
fn same_parent(a: &Value, b: &Value, route_ns: &str) -> bool {
    let norm = |v: &Value| {
        (
            v["group"]
                .as_str()
                .unwrap_or(aws_lb_operator_core::translate::gateway::GROUP)
                .to_owned(),
            v["kind"].as_str().unwrap_or("Gateway").to_owned(),
            v["namespace"].as_str().unwrap_or(route_ns).to_owned(),
            v["name"].as_str().unwrap_or_default().to_owned(),
            v["sectionName"].as_str().map(str::to_owned),
            v["port"].as_i64(),
        )
    };
    norm(a) == norm(b)
}

/// A route's `status.parents` after this controller's write: every entry of another
/// controller kept as it is and where it is; each entry of ours replaced by the desired entry
/// for the same parent, or removed when there is none; desired entries not there yet added at
/// the end. `parent_refs` is the route's `spec.parentRefs` (each desired entry names its
/// parent as the route wrote it).
pub fn route_parents(
    desired: Option<&RouteStatus>,
    route_ns: &str,
    parent_refs: &[Value],
    current: &[Value],
    generation: Option<i64>,
    now: &str,
) -> Vec<Value> {
    let mut wanted: Vec<(Value, String, &[Condition])> = Vec::new();
    for p in desired.map(|d| d.parents.as_slice()).unwrap_or_default() {
        let parent_ref = parent_refs.get(p.parent_index).cloned().unwrap_or_else(|| {
            let (ns, name) = p.gateway.split_once('/').unwrap_or((route_ns, &p.gateway));
            let mut r = json!({"group": aws_lb_operator_core::translate::gateway::GROUP,
                "kind": "Gateway", "namespace": ns, "name": name});
            if let Some(s) = &p.section_name {
                r["sectionName"] = s.as_str().into();
            }
            if let Some(port) = p.port {
                r["port"] = port.into();
            }
            r
        });
        wanted.push((parent_ref, p.controller_name.clone(), &p.conditions));
    }
    let entry = |parent_ref: &Value, controller: &str, conds: &[Condition], old: Option<&Value>| {
        json!({
            "parentRef": parent_ref,
            "controllerName": controller,
            "conditions": conditions(conds, old.and_then(|o| o.get("conditions")), generation, now),
        })
    };
    let mut used = vec![false; wanted.len()];
    let mut out = Vec::new();
    for old in current {
        let controller = old["controllerName"].as_str().unwrap_or_default();
        if !CONTROLLER_NAMES.contains(&controller) {
            out.push(old.clone());
            continue;
        }
        let found = wanted.iter().enumerate().find(|(i, (r, c, _))| {
            !used[*i] && c == controller && same_parent(r, &old["parentRef"], route_ns)
        });
        if let Some((i, (r, c, conds))) = found {
            used[i] = true;
            out.push(entry(r, c, conds, Some(old)));
        }
    }
    for (i, (r, c, conds)) in wanted.iter().enumerate() {
        if !used[i] {
            out.push(entry(r, c, conds, None));
        }
    }
    out
}

/// One status write: the object, and the merge patch of its `status` subresource.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPatch {
    /// Kind.
    pub kind: Kind,
    /// Namespace (empty when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The merge patch.
    pub patch: Value,
}

/// The status writes that bring the cached `objects` to the translation's `statuses`:
/// `addresses` are the load balancers' DNS names of the Gateway stacks a pass found. Objects
/// whose status is already what it should be get no write.
pub fn patches(
    statuses: &Statuses,
    addresses: &BTreeMap<StackId, String>,
    objects: &dyn Fn(Kind) -> Vec<std::sync::Arc<kube::api::DynamicObject>>,
    now: &str,
) -> Vec<StatusPatch> {
    let mut out = Vec::new();
    let classes: BTreeMap<&str, &GatewayClassStatus> = statuses
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let gateways: BTreeMap<(&str, &str), &GatewayStatus> = statuses
        .gateways
        .iter()
        .map(|g| ((g.namespace.as_str(), g.name.as_str()), g))
        .collect();
    // One entry per route and Gateway it names.
    let mut routes: BTreeMap<(&str, &str, &str), Vec<&RouteStatus>> = BTreeMap::new();
    for r in &statuses.routes {
        routes
            .entry((r.kind, r.namespace.as_str(), r.name.as_str()))
            .or_default()
            .push(r);
    }
    let meta = |o: &kube::api::DynamicObject| {
        (
            o.metadata.namespace.clone().unwrap_or_default(),
            o.metadata.name.clone().unwrap_or_default(),
            o.metadata.generation,
        )
    };
    for class in objects(Kind::GatewayClass) {
        let (_, name, generation) = meta(&class);
        let Some(desired) = classes.get(name.as_str()) else {
            continue;
        };
        let current = class.data.get("status");
        let want = class_status(desired, current, generation, now);
        if !same_status(current, &want) {
            out.push(StatusPatch {
                kind: Kind::GatewayClass,
                namespace: String::new(),
                name,
                patch: json!({"status": want}),
            });
        }
    }
    for gw in objects(Kind::Gateway) {
        let (ns, name, generation) = meta(&gw);
        let Some(desired) = gateways.get(&(ns.as_str(), name.as_str())) else {
            continue;
        };
        let mut desired = (*desired).clone();
        let current = gw.data.get("status");
        let dns = addresses
            .get(&StackId::gateway(&ns, &name))
            .or_else(|| addresses.get(&StackId::nlb_gateway(&ns, &name)))
            .cloned()
            .or_else(|| {
                let pending = desired
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Programmed" && c.status == ConditionStatus::Unknown);
                pending.then(|| programmed_address(current)).flatten()
            });
        if let Some(dns) = dns {
            desired.programmed(&dns);
        }
        let mut want = gateway_status(&desired, current, generation, now);
        if !same_status(current, &want) {
            // A merge patch leaves keys it does not name: addresses go when not known.
            if want.get("addresses").is_none() {
                want["addresses"] = Value::Null;
            }
            out.push(StatusPatch {
                kind: Kind::Gateway,
                namespace: ns,
                name,
                patch: json!({"status": want}),
            });
        }
    }
    // ListenerSets: programmed once their Gateway's load balancer is known.
    let gateway_objects = objects(Kind::Gateway);
    for set in objects(Kind::ListenerSet) {
        let (ns, name, generation) = meta(&set);
        let Some(desired) = statuses
            .listener_sets
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
        else {
            continue;
        };
        let mut desired = desired.clone();
        let (gw_ns, gw_name) = desired.gateway.split_once('/').unwrap_or_default();
        let known = addresses.contains_key(&StackId::gateway(gw_ns, gw_name))
            || addresses.contains_key(&StackId::nlb_gateway(gw_ns, gw_name))
            || gateway_objects.iter().any(|g| {
                g.metadata.namespace.as_deref() == Some(gw_ns)
                    && g.metadata.name.as_deref() == Some(gw_name)
                    && programmed_address(g.data.get("status")).is_some()
            });
        if known {
            desired.programmed();
        }
        let current = set.data.get("status");
        let want = listener_set_status(&desired, current, generation, now);
        if !same_status(current, &want) {
            out.push(StatusPatch {
                kind: Kind::ListenerSet,
                namespace: ns,
                name,
                patch: json!({"status": want}),
            });
        }
    }
    for kind in Kind::ALL.into_iter().filter(|k| k.is_route()) {
        for route in objects(kind) {
            let (ns, name, generation) = meta(&route);
            // One entry per Gateway the route names: their parents together.
            let desired = routes
                .get(&(kind.as_str(), ns.as_str(), name.as_str()))
                .and_then(|entries| {
                    let (first, more) = entries.split_first()?;
                    let mut all = (*first).clone();
                    for m in more {
                        all.parents.extend(m.parents.iter().cloned());
                    }
                    all.parents.sort_by_key(|p| p.parent_index);
                    Some(all)
                });
            let desired = desired.as_ref();
            let current: Vec<Value> = route
                .data
                .pointer("/status/parents")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if desired.is_none()
                && !current.iter().any(|p| {
                    CONTROLLER_NAMES.contains(&p["controllerName"].as_str().unwrap_or_default())
                })
            {
                continue;
            }
            let refs: Vec<Value> = route
                .data
                .pointer("/spec/parentRefs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let parents = route_parents(desired, &ns, &refs, &current, generation, now);
            if parents != current {
                let mut patch = json!({"status": {"parents": parents}});
                if let Some(rv) = &route.metadata.resource_version {
                    patch["metadata"] = json!({"resourceVersion": rv});
                }
                out.push(StatusPatch {
                    kind,
                    namespace: ns,
                    name,
                    patch,
                });
            }
        }
    }
    out
}

/// One finalizer change: add (`true`) or remove `finalizer` on an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalizerChange {
    /// Kind.
    pub kind: Kind,
    /// Namespace (empty when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `metadata.uid` as cached.
    pub uid: Option<String>,
    /// `metadata.finalizers` as cached.
    pub current: Vec<String>,
    /// The finalizer.
    pub finalizer: &'static str,
    /// Add, or remove.
    pub add: bool,
}

/// The AWS Load Balancer Controller's finalizers on GatewayClasses of ours and on
/// LoadBalancerConfigurations: present while Gateways of ours use the object (`in_use`),
/// absent otherwise (so a class or configuration no Gateway uses is deleted at once, and one
/// in use only once its Gateways are gone). Another controller's GatewayClass is never touched.
pub fn finalizer_changes(
    in_use: &InUse,
    objects: &dyn Fn(Kind) -> Vec<std::sync::Arc<kube::api::DynamicObject>>,
) -> Vec<FinalizerChange> {
    let mut out = Vec::new();
    let mut check =
        |kind: Kind, o: &kube::api::DynamicObject, used: bool, finalizer: &'static str| {
            let current = o.metadata.finalizers.clone().unwrap_or_default();
            let has = current.iter().any(|f| f == finalizer);
            // An object being deleted gets no new finalizer (the API server refuses it).
            let add = used && o.metadata.deletion_timestamp.is_none();
            if has != add && (has || used) {
                out.push(FinalizerChange {
                    kind,
                    namespace: o.metadata.namespace.clone().unwrap_or_default(),
                    name: o.metadata.name.clone().unwrap_or_default(),
                    uid: o.metadata.uid.clone(),
                    current,
                    finalizer,
                    add,
                });
            }
        };
    for class in objects(Kind::GatewayClass) {
        let controller = class.data["spec"]["controllerName"]
            .as_str()
            .unwrap_or_default();
        if !CONTROLLER_NAMES.contains(&controller) {
            continue;
        }
        let name = class.metadata.name.clone().unwrap_or_default();
        check(
            Kind::GatewayClass,
            &class,
            in_use.classes.contains(&name),
            GATEWAY_CLASS_FINALIZER,
        );
    }
    for conf in objects(Kind::LoadBalancerConfiguration) {
        let key = (
            conf.metadata.namespace.clone().unwrap_or_default(),
            conf.metadata.name.clone().unwrap_or_default(),
        );
        check(
            Kind::LoadBalancerConfiguration,
            &conf,
            in_use.configurations.contains(&key),
            LOAD_BALANCER_CONFIGURATION_FINALIZER,
        );
    }
    out
}

/// The address a Gateway's status already shows as programmed. A controller that has not
/// passed the Gateway's stack yet (just started, or just elected) keeps it rather than turning
/// `Programmed` back to `Pending`: the stack's first pass of the term follows at once, and
/// corrects the address if the load balancer changed. (Only a `Pending` condition is turned
/// `True` with it: a Gateway that is not valid any more loses its address.)
fn programmed_address(current: Option<&Value>) -> Option<String> {
    let current = current?;
    let programmed = current["conditions"]
        .as_array()?
        .iter()
        .any(|c| c["type"] == "Programmed" && c["status"] == "True");
    if !programmed {
        return None;
    }
    current["addresses"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "Hostname")
        .and_then(|a| a["value"].as_str())
        .map(str::to_owned)
}

/// Whether `current` already holds every field of `want` with its value (fields of other
/// writers that `want` does not name are not compared).
fn same_status(current: Option<&Value>, want: &Value) -> bool {
    let Some(current) = current else {
        return false;
    };
    match want.as_object() {
        Some(fields) => fields.iter().all(|(k, v)| current.get(k) == Some(v)),
        None => current == want,
    }
}

impl Reconciler {
    /// Writes every status that differs from what the translation computed (leader only, not
    /// in a dry run). Failures are logged and retried on the next round.
    pub(super) async fn write_gateway_status(&self) {
        if self.settings.dry_run || !self.is_leading() || self.stores().gateway.is_empty() {
            return;
        }
        // Only when something it reads may have changed: a Gateway API object (status
        // included), the computed status, an address, or a new term.
        let watched = self.signals().gateway_status.swap(false, Ordering::AcqRel);
        let (statuses, addresses) = {
            let mut st = self.lock();
            let due = std::mem::take(&mut st.gateway_status_due) || watched;
            if !due {
                return;
            }
            (st.gateway_status.clone(), st.gateway_addresses.clone())
        };
        // metav1.Time is written to the second.
        let now = k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let gateway = &self.stores().gateway;
        let todo = patches(&statuses, &addresses, &|k| gateway.list(k), &now);
        for p in todo {
            let Some(resource) = gateway.resource(p.kind) else {
                continue;
            };
            match self
                .kube
                .patch_gateway_status(&resource, &p.namespace, &p.name, p.patch)
                .await
            {
                Ok(()) => {
                    tracing::info!(kind = p.kind.as_str(), namespace = %p.namespace, name = %p.name, "status written");
                }
                Err(e) => {
                    tracing::warn!(kind = p.kind.as_str(), namespace = %p.namespace, name = %p.name, error = %e, "status not written; retried on the next round");
                    self.lock().gateway_status_due = true;
                }
            }
        }
        // The finalizers of classes and configurations in use.
        let used = aws_lb_operator_core::translate::gateway::in_use(&gateway.objects());
        for c in finalizer_changes(&used, &|k| gateway.list(k)) {
            let Some(resource) = gateway.resource(c.kind) else {
                continue;
            };
            let result = self
                .kube
                .set_gateway_finalizer(
                    &resource,
                    (&c.namespace, &c.name, c.uid.as_deref()),
                    &c.current,
                    c.finalizer,
                    c.add,
                )
                .await;
            match result {
                Ok(()) => {
                    tracing::info!(kind = c.kind.as_str(), namespace = %c.namespace, name = %c.name, finalizer = c.finalizer, add = c.add, "finalizer changed");
                }
                Err(e) => {
                    tracing::warn!(kind = c.kind.as_str(), namespace = %c.namespace, name = %c.name, error = %e, "finalizer not changed; retried on the next round");
                    self.lock().gateway_status_due = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lb_operator_core::translate::gateway::status::RouteParentStatus;

    const NOW: &str = "2026-12-03T10:00:00Z";
    const LATER: &str = "2026-12-03T11:00:00Z";

    fn accepted(yes: bool) -> Condition {
        if yes {
            Condition::yes("Accepted", "Accepted", "ok")
        } else {
            Condition::no("Accepted", "NotAllowedByListeners", "no listener admits it")
        }
    }

    fn route(parents: Vec<RouteParentStatus>) -> RouteStatus {
        RouteStatus {
            kind: "HTTPRoute",
            namespace: "web".into(),
            name: "r".into(),
            parents,
        }
    }

    fn parent(index: usize, ok: bool) -> RouteParentStatus {
        RouteParentStatus {
            parent_index: index,
            gateway: "web/edge".into(),
            listener_set: None,
            section_name: None,
            port: None,
            controller_name: ALB_CONTROLLER.into(),
            conditions: vec![accepted(ok)],
        }
    }

    #[test]
    fn a_condition_keeps_its_transition_time_until_its_status_changes() {
        let first = conditions(&[accepted(true)], None, Some(1), NOW);
        assert_eq!(
            first,
            json!([{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "ok",
                "lastTransitionTime": NOW, "observedGeneration": 1}])
        );
        // Same status later: the same value, so nothing to write.
        assert_eq!(
            conditions(&[accepted(true)], Some(&first), Some(1), LATER),
            first
        );
        // A new generation is observed; the time stays.
        let next = conditions(&[accepted(true)], Some(&first), Some(2), LATER);
        assert_eq!(next[0]["lastTransitionTime"], NOW);
        assert_eq!(next[0]["observedGeneration"], 2);
        // The status flips: a new time.
        let flipped = conditions(&[accepted(false)], Some(&first), Some(2), LATER);
        assert_eq!(flipped[0]["lastTransitionTime"], LATER);
        assert_eq!(flipped[0]["reason"], "NotAllowedByListeners");
    }

    #[test]
    fn route_parents_keep_other_controllers_entries_in_place() {
        let spec_refs = vec![
            json!({"name": "edge", "namespace": "web"}),
            json!({"name": "other"}),
        ];
        let theirs = json!({"parentRef": {"name": "other"}, "controllerName": "example.com/gw",
            "conditions": [{"type": "Accepted", "status": "True"}]});
        // First write: their entry stays first, ours is added.
        let desired = route(vec![parent(0, true)]);
        let first = route_parents(
            Some(&desired),
            "web",
            &spec_refs,
            std::slice::from_ref(&theirs),
            Some(3),
            NOW,
        );
        assert_eq!(first.len(), 2);
        assert_eq!(first[0], theirs);
        assert_eq!(first[1]["parentRef"], spec_refs[0]);
        assert_eq!(first[1]["controllerName"], ALB_CONTROLLER);
        assert_eq!(first[1]["conditions"][0]["observedGeneration"], 3);
        // Unchanged: exactly the current list (no write).
        assert_eq!(
            route_parents(Some(&desired), "web", &spec_refs, &first, Some(3), LATER),
            first
        );
        // Ours first in the list, another controller's after: each keeps its place.
        let swapped = vec![first[1].clone(), theirs.clone()];
        let bad = route(vec![parent(0, false)]);
        let next = route_parents(Some(&bad), "web", &spec_refs, &swapped, Some(4), LATER);
        assert_eq!(next[1], theirs);
        assert_eq!(next[0]["conditions"][0]["status"], "False");
        assert_eq!(next[0]["conditions"][0]["lastTransitionTime"], LATER);
        // The route left our Gateways: our entry goes, theirs stays.
        assert_eq!(
            route_parents(None, "web", &spec_refs, &swapped, Some(5), LATER),
            vec![theirs]
        );
    }

    fn gateway_object(status: Option<Value>) -> std::sync::Arc<kube::api::DynamicObject> {
        let mut v = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "web", "generation": 1,
                "resourceVersion": "7"},
            "spec": {"gatewayClassName": "alb"}});
        if let Some(s) = status {
            v["status"] = s;
        }
        std::sync::Arc::new(serde_json::from_value(v).unwrap())
    }

    fn pending_gateway() -> GatewayStatus {
        GatewayStatus {
            namespace: "web".into(),
            name: "edge".into(),
            attached_listener_sets: None,
            addresses: vec![],
            conditions: vec![
                Condition::yes("Accepted", "Accepted", "ok"),
                Condition::unknown("Programmed", "Pending", "waiting for the load balancer"),
            ],
            listeners: vec![],
        }
    }

    /// The finalizers of classes and configurations: added while in use, removed when not,
    /// never added to an object being deleted, another controller's class left alone.
    #[test]
    fn finalizers_follow_what_gateways_use() {
        let object = |kind: &str,
                      ns: Option<&str>,
                      name: &str,
                      controller: &str,
                      finalizers: &[&str],
                      deleting: bool| {
            let mut v = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": kind,
                "metadata": {"name": name, "uid": format!("uid-{name}"), "finalizers": finalizers},
                "spec": {"controllerName": controller}});
            if let Some(ns) = ns {
                v["metadata"]["namespace"] = ns.into();
            }
            if deleting {
                v["metadata"]["deletionTimestamp"] = "2026-12-03T10:00:00Z".into();
            }
            std::sync::Arc::new(serde_json::from_value::<kube::api::DynamicObject>(v).unwrap())
        };
        let classes = vec![
            object("GatewayClass", None, "used", ALB_CONTROLLER, &[], false),
            object(
                "GatewayClass",
                None,
                "kept",
                NLB_CONTROLLER,
                &[GATEWAY_CLASS_FINALIZER],
                false,
            ),
            object(
                "GatewayClass",
                None,
                "unused",
                ALB_CONTROLLER,
                &["other/f", GATEWAY_CLASS_FINALIZER],
                true,
            ),
            object(
                "GatewayClass",
                None,
                "theirs",
                "example.com/x",
                &[GATEWAY_CLASS_FINALIZER],
                false,
            ),
        ];
        let configs = vec![
            object(
                "LoadBalancerConfiguration",
                Some("web"),
                "public",
                "",
                &[],
                false,
            ),
            object(
                "LoadBalancerConfiguration",
                Some("web"),
                "old",
                "",
                &[LOAD_BALANCER_CONFIGURATION_FINALIZER],
                false,
            ),
            object(
                "LoadBalancerConfiguration",
                Some("web"),
                "going",
                "",
                &[],
                true,
            ),
        ];
        let used = InUse {
            classes: ["used".to_owned(), "kept".to_owned(), "theirs".to_owned()].into(),
            configurations: [
                ("web".to_owned(), "public".to_owned()),
                ("web".to_owned(), "going".to_owned()),
            ]
            .into(),
        };
        let changes = finalizer_changes(&used, &|k| match k {
            Kind::GatewayClass => classes.clone(),
            Kind::LoadBalancerConfiguration => configs.clone(),
            _ => vec![],
        });
        let got: Vec<(&str, &str, bool)> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.finalizer, c.add))
            .collect();
        assert_eq!(
            got,
            [
                ("used", GATEWAY_CLASS_FINALIZER, true),
                ("unused", GATEWAY_CLASS_FINALIZER, false),
                ("public", LOAD_BALANCER_CONFIGURATION_FINALIZER, true),
                ("old", LOAD_BALANCER_CONFIGURATION_FINALIZER, false),
            ]
        );
        assert_eq!(changes[1].current, ["other/f", GATEWAY_CLASS_FINALIZER]);
        assert_eq!(changes[1].uid.as_deref(), Some("uid-unused"));
        assert_eq!(changes[2].namespace, "web");
    }

    /// A ListenerSet's status is written with its listeners, `Programmed` once its Gateway's
    /// load balancer is known; the Gateway gets `attachedListenerSets`; nothing is rewritten
    /// when current.
    #[test]
    fn listener_sets_are_programmed_with_their_gateway() {
        let mut gw = pending_gateway();
        gw.attached_listener_sets = Some(1);
        let set = ListenerSetStatus {
            namespace: "team".into(),
            name: "apps".into(),
            gateway: "web/edge".into(),
            conditions: vec![
                Condition::yes("Accepted", "Accepted", "ok"),
                Condition::unknown("Programmed", "Pending", "waiting for the load balancer"),
            ],
            listeners: vec![ListenerStatus {
                name: "extra".into(),
                supported_kinds: vec!["gateway.networking.k8s.io/HTTPRoute".into()],
                attached_routes: 2,
                conditions: vec![Condition::unknown(
                    "Programmed",
                    "Pending",
                    "waiting for the load balancer",
                )],
            }],
        };
        let statuses = Statuses {
            gateways: vec![gw],
            listener_sets: vec![set],
            ..Statuses::default()
        };
        let set_object = |status: Option<Value>| {
            let mut v = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
                "metadata": {"name": "apps", "namespace": "team", "generation": 3},
                "spec": {"parentRef": {"name": "edge", "namespace": "web"}}});
            if let Some(s) = status {
                v["status"] = s;
            }
            std::sync::Arc::new(serde_json::from_value::<kube::api::DynamicObject>(v).unwrap())
        };
        let fresh_set = set_object(None);
        let fresh_gw = gateway_object(None);
        let none = BTreeMap::new();
        let first = patches(
            &statuses,
            &none,
            &|k| match k {
                Kind::Gateway => vec![fresh_gw.clone()],
                Kind::ListenerSet => vec![fresh_set.clone()],
                _ => vec![],
            },
            NOW,
        );
        assert_eq!(first.len(), 2, "{first:?}");
        assert_eq!(first[0].kind, Kind::Gateway);
        assert_eq!(first[0].patch["status"]["attachedListenerSets"], 1);
        let pending = &first[1];
        assert_eq!(
            (pending.kind, pending.namespace.as_str()),
            (Kind::ListenerSet, "team")
        );
        assert_eq!(
            condition_status(&pending.patch["status"], "Programmed"),
            "Unknown"
        );
        assert_eq!(
            pending.patch["status"]["conditions"][0]["observedGeneration"],
            3
        );
        let found: BTreeMap<StackId, String> =
            [(StackId::gateway("web", "edge"), "lb.example".to_owned())].into();
        let second = patches(
            &statuses,
            &found,
            &|k| match k {
                Kind::ListenerSet => vec![fresh_set.clone()],
                _ => vec![],
            },
            NOW,
        );
        let written = second[0].patch["status"].clone();
        assert_eq!(condition_status(&written, "Programmed"), "True");
        let listener = &written["listeners"][0];
        assert_eq!(listener["attachedRoutes"], 2);
        assert_eq!(listener["conditions"][0]["status"], "True");
        assert_eq!(
            listener["supportedKinds"],
            json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}])
        );
        // Current: nothing to write.
        let current = set_object(Some(written));
        let again = patches(
            &statuses,
            &found,
            &|k| match k {
                Kind::ListenerSet => vec![current.clone()],
                _ => vec![],
            },
            LATER,
        );
        assert!(again.is_empty(), "{again:?}");
    }

    /// A controller that has not passed the stack yet (a restart, a new leader) keeps the
    /// programmed address instead of writing `Pending` over it; without one it writes
    /// `Pending`, and once a pass found the load balancer, `Programmed` with its address.
    #[test]
    fn a_new_term_keeps_the_programmed_address_until_its_pass() {
        let statuses = Statuses {
            gateways: vec![pending_gateway()],
            ..Statuses::default()
        };
        let none = BTreeMap::new();
        let fresh = gateway_object(None);
        let first = patches(
            &statuses,
            &none,
            &|k| match k {
                Kind::Gateway => vec![fresh.clone()],
                _ => vec![],
            },
            NOW,
        );
        assert_eq!(first.len(), 1);
        let written = first[0].patch["status"].clone();
        assert_eq!(condition_status(&written, "Programmed"), "Unknown");
        assert_eq!(
            written["addresses"],
            Value::Null,
            "cleared by the merge patch"
        );

        let found: BTreeMap<StackId, String> =
            [(StackId::gateway("web", "edge"), "lb.example".to_owned())].into();
        let second = patches(
            &statuses,
            &found,
            &|k| match k {
                Kind::Gateway => vec![fresh.clone()],
                _ => vec![],
            },
            NOW,
        );
        let programmed = second[0].patch["status"].clone();
        assert_eq!(condition_status(&programmed, "Programmed"), "True");
        assert_eq!(
            programmed["addresses"],
            json!([{"type": "Hostname", "value": "lb.example"}])
        );

        // Restarted: nothing found yet, the object already programmed: nothing to write.
        let current = gateway_object(Some(programmed));
        let restarted = patches(
            &statuses,
            &none,
            &|k| match k {
                Kind::Gateway => vec![current.clone()],
                _ => vec![],
            },
            LATER,
        );
        assert!(restarted.is_empty(), "{restarted:?}");
        // A Gateway not valid any more loses the address.
        let mut invalid = pending_gateway();
        invalid.conditions[1] = Condition::no("Programmed", "Invalid", "no listener is valid");
        let statuses = Statuses {
            gateways: vec![invalid],
            ..Statuses::default()
        };
        let gone = patches(
            &statuses,
            &none,
            &|k| match k {
                Kind::Gateway => vec![current.clone()],
                _ => vec![],
            },
            LATER,
        );
        assert_eq!(gone[0].patch["status"]["addresses"], Value::Null);
    }

    /// A route attached to two Gateways of ours has one status entry per Gateway in the
    /// translation: both parents are written.
    #[test]
    fn a_route_on_two_gateways_gets_both_parents() {
        let mut other = parent(1, false);
        other.gateway = "web/second".into();
        let statuses = Statuses {
            routes: vec![route(vec![parent(0, true)]), route(vec![other])],
            ..Statuses::default()
        };
        let r: std::sync::Arc<kube::api::DynamicObject> = std::sync::Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "r", "namespace": "web", "generation": 1,
                    "resourceVersion": "9"},
                "spec": {"parentRefs": [{"name": "edge"}, {"name": "second"}]}
            }))
            .unwrap(),
        );
        let out = patches(
            &statuses,
            &BTreeMap::new(),
            &|k| match k {
                Kind::HttpRoute => vec![r.clone()],
                _ => vec![],
            },
            NOW,
        );
        assert_eq!(out.len(), 1);
        let parents = &out[0].patch["status"]["parents"];
        assert_eq!(parents[0]["parentRef"], json!({"name": "edge"}));
        assert_eq!(parents[1]["parentRef"], json!({"name": "second"}));
        assert_eq!(parents[1]["conditions"][0]["status"], "False");
        assert_eq!(out[0].patch["metadata"]["resourceVersion"], "9");
    }

    fn condition_status(status: &Value, type_: &str) -> String {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == type_)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn gateway_status_has_hostname_addresses_once_known() {
        let desired = GatewayStatus {
            namespace: "web".into(),
            name: "edge".into(),
            attached_listener_sets: None,
            addresses: vec!["lb-1.elb.amazonaws.com".into()],
            conditions: vec![Condition::yes("Programmed", "Programmed", "up")],
            listeners: vec![ListenerStatus {
                name: "http".into(),
                supported_kinds: vec!["gateway.networking.k8s.io/HTTPRoute".into()],
                attached_routes: 2,
                conditions: vec![],
            }],
        };
        let v = gateway_status(&desired, None, Some(1), NOW);
        assert_eq!(
            v["addresses"],
            json!([{"type": "Hostname", "value": "lb-1.elb.amazonaws.com"}])
        );
        assert_eq!(
            v["listeners"][0]["supportedKinds"],
            json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}])
        );
        assert_eq!(v["listeners"][0]["attachedRoutes"], 2);
        assert!(same_status(
            Some(&v),
            &gateway_status(&desired, Some(&v), Some(1), LATER)
        ));
        let mut other_writer = v.clone();
        other_writer["someoneElse"] = json!(1);
        assert!(same_status(Some(&other_writer), &v));
        assert!(!same_status(None, &v));
    }
}
