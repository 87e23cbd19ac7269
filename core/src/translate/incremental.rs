//! The translation kept up to date object by object: which stacks read which objects, and a
//! rebuild of only the stacks a change touches.
//!
//! [`Model`] holds [`build`](super::build)'s output split into *units*: one per IngressGroup
//! (keyed by its stack id) and one per LoadBalancer Service, each with the objects its build
//! read ([`Read`]: Services, the EndpointSlices of a Service, the Nodes), recorded by the
//! lookups themselves, so the index is never a second copy of the translation's rules. From a
//! set of [`Change`]s, [`Model::scope`] says what must be rebuilt:
//!
//! - a change of an Ingress, IngressClass, IngressClassParams or Namespace can move Ingresses
//!   between groups (class, group name, params, namespace selectors): a **full** rebuild;
//! - a Service: every group that looked it up, and its own NLB unit (which is re-evaluated
//!   from scratch: it may have become, or stopped being, ours);
//! - the EndpointSlices of a Service: every unit that read them;
//! - a Node: every unit that read the Nodes (instance targets);
//! - a Gateway: its unit ([`UnitId::Gateway`], one per Gateway, with its stack, its status
//!   and its routes' status for it); a route: the units of the Gateways its `parentRefs` name,
//!   now and before (a route attaches only to the Gateways it names, and routes compete only
//!   on one Gateway); a GatewayClass, ReferenceGrant or LoadBalancerConfiguration: every
//!   Gateway unit and the classes' unit ([`UnitId::Gateways`]) — all from the Gateway API
//!   objects as they are now. A Service, EndpointSlice or Node change rebuilds only the
//!   Gateways that read them, like any other unit, from the Gateway API objects the model
//!   keeps (they have not changed since).
//!
//! None of the last three can change which Ingresses form which group (the grouping reads
//! only Ingresses, IngressClasses, IngressClassParams and Namespaces), nor any other unit, so
//! rebuilding the [`Partial::units`] from a snapshot holding just what they read
//! ([`Partial::select`]) and merging them in gives what a full build gives; a unit test checks
//! it after every step of sequences of changes. Hostname conflicts between stacks are not the
//! translation's business (the controller decides them over all stacks after every rebuild).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;

use super::gateway::{self, status::Statuses, GatewayObjects};
use super::group::{self, Member};
use super::service::{self, ServiceOutput};
use super::{
    apply_default_tags, meta_name, meta_namespace, unsupported, BuildConfig, BuildError,
    BuildOutput, Index, ObjectRef, Skipped, Snapshot, Warning,
};
use crate::model::{Stack, StackId};

/// Something a unit's build read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Read {
    /// A Service, looked up by namespace and name (found or not).
    Service {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The EndpointSlices of a Service (label `kubernetes.io/service-name`).
    EndpointSlices {
        /// Namespace.
        namespace: String,
        /// The Service's name.
        service: String,
    },
    /// Every Node (instance targets).
    Nodes,
    /// A Secret (`auth-idp-oidc` `secretName`), found or not.
    Secret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

/// A changed object, as the watches report it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// An Ingress.
    Ingress {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// An IngressClass.
    IngressClass(String),
    /// An IngressClassParams.
    IngressClassParams(String),
    /// A Namespace.
    Namespace(String),
    /// A Node.
    Node(String),
    /// A Service.
    Service {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// An EndpointSlice of a Service (by the Service it belongs to).
    EndpointSlices {
        /// Namespace.
        namespace: String,
        /// The Service's name.
        service: String,
    },
    /// A Secret (the groups whose OIDC authentication reads it are rebuilt).
    Secret {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A Gateway API object (or a LoadBalancerConfiguration): its kind, namespace (empty when
    /// cluster-scoped) and name.
    Gateway {
        /// Kind (`Gateway`, `HTTPRoute`, ...).
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// A route's: the Gateways (namespace, name) its `parentRefs` name now (for a deleted
        /// route, as it was) — see [`route_parents`].
        parents: Vec<(String, String)>,
    },
}

/// One independently built part of the output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnitId {
    /// An IngressGroup (its stack id).
    Group(StackId),
    /// A LoadBalancer Service (namespace, name), ours or not.
    Service(String, String),
    /// The GatewayClasses of ours (their status and errors); rebuilding it rebuilds every
    /// Gateway unit from the current Gateway API objects.
    Gateways,
    /// A Gateway (namespace, name): its stack, status, and its routes' status for it.
    Gateway(String, String),
}

/// What one unit contributed to the output.
#[derive(Clone, Debug, Default)]
struct Unit {
    /// Shared with whoever took it from [`Model::shared_output`]: a unit not rebuilt hands out
    /// the same allocation every time, so an unchanged stack is recognised by pointer.
    stack: Option<Arc<Stack>>,
    errors: Vec<BuildError>,
    warnings: Vec<Warning>,
    skipped: Vec<Skipped>,
    claims: Vec<(String, StackId)>,
    /// A group with instance targets: the Nodes' errors matter.
    uses_instances: bool,
    /// A group's member Ingresses (namespace, name).
    ingresses: Vec<(String, String)>,
    /// What its build read, sorted (a vector: most units read two or three objects, for which
    /// an ordered set would allocate a whole tree node).
    reads: Vec<Read>,
    /// A Gateway unit's status (its own and its routes'), the classes' unit's (the classes').
    status: Statuses,
}

/// What a set of changes needs rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything ([`Model::full`]).
    Full,
    /// Only some units ([`Model::update`]).
    Partial(Partial),
}

/// The units to rebuild and the objects their rebuild reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partial {
    /// Units to rebuild.
    pub units: BTreeSet<UnitId>,
    /// Ingresses to include (namespace, name): every member of the groups rebuilt.
    pub ingresses: BTreeSet<(String, String)>,
    /// Services to include besides those the Ingresses refer to (namespace, name).
    pub services: BTreeSet<(String, String)>,
    /// Whether every Node must be included.
    pub nodes: bool,
    /// Whether Gateway API objects changed: the rebuild is given them afresh, and the
    /// Services every route names are included.
    pub gateways: bool,
}

impl Partial {
    /// Whether nothing needs rebuilding.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The part of a complete `snapshot` a rebuild of [`Partial::units`] reads: the
    /// [`Partial::ingresses`], the [`Partial::services`] and those the Ingresses refer to,
    /// their EndpointSlices, every IngressClass, IngressClassParams and Namespace, and the
    /// Nodes when [`Partial::nodes`]. (The controller selects the same from its caches.)
    #[must_use]
    pub fn select(&self, snapshot: &Snapshot) -> Snapshot {
        self.select_with(snapshot, &GatewayObjects::default())
    }

    /// [`Partial::select`] when the Gateway API objects are `gateways`: the Services their
    /// routes name are included when the Gateway unit is rebuilt.
    #[must_use]
    pub fn select_with(&self, snapshot: &Snapshot, gateways: &GatewayObjects) -> Snapshot {
        let key = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            (meta_namespace(meta).to_owned(), meta_name(meta).to_owned())
        };
        let ingresses: Vec<_> = snapshot
            .ingresses
            .iter()
            .filter(|i| self.ingresses.contains(&key(&i.metadata)))
            .cloned()
            .collect();
        let wanted = self.services_wanted(&ingresses, gateways);
        let services = snapshot
            .services
            .iter()
            .filter(|s| wanted.contains(&key(&s.metadata)))
            .cloned()
            .collect();
        let endpoint_slices = snapshot
            .endpoint_slices
            .iter()
            .filter(|e| {
                let svc = e
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(super::SERVICE_NAME_LABEL));
                svc.is_some_and(|svc| {
                    wanted.contains(&(meta_namespace(&e.metadata).to_owned(), svc.clone()))
                })
            })
            .cloned()
            .collect();
        Snapshot {
            ingresses,
            ingress_classes: snapshot.ingress_classes.clone(),
            ingress_class_params: snapshot.ingress_class_params.clone(),
            services,
            endpoint_slices,
            nodes: if self.nodes {
                snapshot.nodes.clone()
            } else {
                Vec::new()
            },
            namespaces: snapshot.namespaces.clone(),
            secrets: snapshot.secrets.clone(),
        }
    }

    /// The Services (namespace, name) a partial snapshot holds, given its Ingresses and the
    /// Gateway API objects (whose routes' Services are held when the Gateway unit is rebuilt).
    #[must_use]
    pub fn services_wanted(
        &self,
        ingresses: &[k8s_openapi::api::networking::v1::Ingress],
        gateways: &GatewayObjects,
    ) -> BTreeSet<(String, String)> {
        let mut wanted = self.services.clone();
        if self.gateways {
            wanted.extend(gateways.referenced_services());
        }
        for ing in ingresses {
            let ns = meta_namespace(&ing.metadata);
            for name in super::actions::referenced_services(ing) {
                wanted.insert((ns.to_owned(), name));
            }
        }
        wanted
    }
}

/// Why [`Model::update`] refused: the caller rebuilds everything instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NeedsFull {
    /// A group to rebuild did not come out of the partial snapshot's Ingresses as before.
    #[error("group {0} is not made of the same Ingresses any more")]
    GroupMoved(StackId),
    /// A rebuilt unit read the Nodes, which the partial snapshot did not hold.
    #[error("{0:?} read the Nodes, which were not included")]
    NodesMissing(UnitId),
}

/// The translation's output kept per unit, with the index from objects to the units that read
/// them. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Model {
    config: Option<BuildConfig>,
    units: BTreeMap<UnitId, Unit>,
    /// Errors of the grouping (Ingresses that joined no group, or were excluded before
    /// merging): they change only with a full rebuild.
    collect_errors: Vec<BuildError>,
    collect_skipped: Vec<Skipped>,
    node_errors: Vec<BuildError>,
    /// Which units read each object, sorted (most objects have one reader).
    readers: BTreeMap<Read, Vec<UnitId>>,
    /// The Gateway API objects the Gateway units were last built from (all of them rebuilt
    /// at once when one changes), for rebuilding one Gateway after a Service,
    /// EndpointSlice or Node change.
    gateway_objects: GatewayObjects,
}

fn object_warnings(
    kind: &'static str,
    k: unsupported::Kind,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Vec<Warning> {
    let object = ObjectRef::namespaced(kind, meta_namespace(meta), meta_name(meta));
    unsupported::unsupported(k, meta.annotations.as_ref())
        .into_iter()
        .map(|key| Warning {
            object: object.clone(),
            message: unsupported::message(key),
        })
        .collect()
}

fn group_unit(index: &Index<'_>, id: &StackId, members: &[Member<'_>]) -> Unit {
    let _ = index.take_reads();
    let built = group::build_stack(index, id, members);
    let mut stack = built.stack;
    if let Some(s) = &mut stack {
        apply_default_tags(s, &index.config.default_tags);
    }
    Unit {
        stack: stack.map(Arc::new),
        errors: built.errors,
        warnings: members
            .iter()
            .flat_map(|m| {
                object_warnings("ingress", unsupported::Kind::Ingress, &m.ingress.metadata)
            })
            .collect(),
        skipped: Vec::new(),
        claims: members
            .iter()
            .map(|m| (format!("ingress/{}/{}", m.namespace, m.name), id.clone()))
            .collect(),
        uses_instances: built.uses_instance_targets,
        ingresses: members
            .iter()
            .map(|m| (m.namespace.clone(), m.name.clone()))
            .collect(),
        reads: index.take_reads().into_iter().collect(),
        ..Unit::default()
    }
}

/// A LoadBalancer Service's unit (`None` for other Services).
fn service_unit(
    index: &Index<'_>,
    svc: &Service,
    nodes: &[k8s_openapi::api::core::v1::Node],
) -> Option<Unit> {
    let _ = index.take_reads();
    let mut out = ServiceOutput::default();
    service::build_service(index, svc, nodes, &mut out);
    if out.stacks.is_empty()
        && out.errors.is_empty()
        && out.skipped.is_empty()
        && out.claims.is_empty()
    {
        return None;
    }
    let mut reads = index.take_reads();
    reads.insert(Read::Service {
        namespace: meta_namespace(&svc.metadata).to_owned(),
        name: meta_name(&svc.metadata).to_owned(),
    });
    let mut stack = out.stacks.pop();
    if let Some(s) = &mut stack {
        apply_default_tags(s, &index.config.default_tags);
    }
    let warnings = if out.claims.is_empty() {
        Vec::new()
    } else {
        object_warnings("service", unsupported::Kind::Service, &svc.metadata)
    };
    Some(Unit {
        stack: stack.map(Arc::new),
        errors: out.errors,
        warnings,
        skipped: out.skipped,
        claims: out.claims.into_iter().collect(),
        uses_instances: false,
        ingresses: Vec::new(),
        reads: reads.into_iter().collect(),
        ..Unit::default()
    })
}

/// The Gateways (namespace, name) a route's `parentRefs` name (kind `Gateway`, the default).
#[must_use]
pub fn route_parents(
    route_namespace: &str,
    refs: Option<&[gateway::ParentReference]>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = refs
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.group.as_deref().unwrap_or(gateway::GROUP) == gateway::GROUP
                && r.kind.as_deref().unwrap_or("Gateway") == "Gateway"
        })
        .map(|r| {
            (
                r.namespace
                    .clone()
                    .unwrap_or_else(|| route_namespace.to_owned()),
                r.name.clone(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The Gateways a route of `kind` in `objects` names (none when there is no such route).
fn parents_in(objects: &GatewayObjects, kind: &str, ns: &str, name: &str) -> Vec<(String, String)> {
    let found = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta_namespace(meta) == ns && meta_name(meta) == name
    };
    let refs = match kind {
        "HTTPRoute" => objects
            .http_routes
            .iter()
            .find(|r| found(&r.metadata))
            .map(|r| r.spec.parent_refs.as_deref()),
        "GRPCRoute" => objects
            .grpc_routes
            .iter()
            .find(|r| found(&r.metadata))
            .map(|r| r.spec.parent_refs.as_deref()),
        "TCPRoute" | "UDPRoute" | "TLSRoute" => {
            let list = match kind {
                "TCPRoute" => &objects.tcp_routes,
                "UDPRoute" => &objects.udp_routes,
                _ => &objects.tls_routes,
            };
            list.iter()
                .find(|r| found(&r.metadata))
                .map(|r| r.spec.parent_refs.as_deref())
        }
        _ => None,
    };
    refs.map(|r| route_parents(ns, r)).unwrap_or_default()
}

/// The unit of one Gateway.
fn gateway_unit(
    index: &Index<'_>,
    objects: &GatewayObjects,
    classes: &gateway::Classes<'_>,
    gw: &gateway::Gateway,
) -> Unit {
    let _ = index.take_reads();
    let mut out = gateway::GatewayOutput::default();
    let uses_instances =
        gateway::build_gateway(index, objects, index.config, classes, gw, &mut out);
    let mut stack = out.stacks.pop();
    if let Some(s) = &mut stack {
        apply_default_tags(s, &index.config.default_tags);
    }
    Unit {
        stack: stack.map(Arc::new),
        errors: out.errors,
        warnings: out.warnings,
        skipped: out.skipped,
        claims: out.claims.into_iter().collect(),
        // The Nodes' errors are added once, by the output, as for IngressGroups.
        uses_instances,
        reads: index.take_reads().into_iter().collect(),
        status: out.status,
        ..Unit::default()
    }
}

fn gateway_id(gw: &gateway::Gateway) -> UnitId {
    UnitId::Gateway(
        meta_namespace(&gw.metadata).to_owned(),
        meta_name(&gw.metadata).to_owned(),
    )
}

/// The classes' unit and one unit per Gateway (none without Gateway API objects).
fn gateway_units(index: &Index<'_>, objects: &GatewayObjects) -> Vec<(UnitId, Unit)> {
    if objects.is_empty() {
        return Vec::new();
    }
    let mut out = gateway::GatewayOutput::default();
    let classes = gateway::classes_of(objects, &mut out);
    let mut units = vec![(
        UnitId::Gateways,
        Unit {
            errors: out.errors,
            status: out.status,
            ..Unit::default()
        },
    )];
    for gw in &objects.gateways {
        units.push((gateway_id(gw), gateway_unit(index, objects, &classes, gw)));
    }
    units
}

/// A rebuilt unit's stack before and after (`None`: it had, or has, none).
pub type StackChange = (Option<Arc<Stack>>, Option<Arc<Stack>>);

/// What [`Model::update`] changed in the output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Updated {
    /// The stack of each rebuilt unit before and after (`None`: it had, or has, none); an
    /// unchanged stack is the same allocation on both sides.
    pub stacks: Vec<StackChange>,
    /// Whether anything else of the output may have changed: errors, warnings, skipped
    /// objects or claims of a rebuilt unit, or the Nodes' errors.
    pub rest_changed: bool,
}

/// Whether two versions of a unit contribute the same errors, warnings, skipped objects and
/// claims (and the same use of the Nodes' errors) to the output.
fn same_rest(before: Option<&Unit>, after: Option<&Unit>) -> bool {
    let empty = Unit::default();
    let (b, a) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    b.errors == a.errors
        && b.warnings == a.warnings
        && b.skipped == a.skipped
        && b.claims == a.claims
        && b.uses_instances == a.uses_instances
        && b.status == a.status
}

/// Replaces `stack` with `before` when they are equal (one allocation, not two).
fn share_if_equal(stack: &mut Option<Arc<Stack>>, before: Option<&Arc<Stack>>) {
    if let (Some(now), Some(before)) = (stack.as_mut(), before) {
        if !Arc::ptr_eq(now, before) && **now == **before {
            *now = Arc::clone(before);
        }
    }
}

fn service_id(svc: &Service) -> UnitId {
    UnitId::Service(
        meta_namespace(&svc.metadata).to_owned(),
        meta_name(&svc.metadata).to_owned(),
    )
}

impl Model {
    /// Translates a complete snapshot (what [`build`](super::build) does), keeping every
    /// unit's part and what it read.
    #[must_use]
    pub fn full(snapshot: &Snapshot, config: &BuildConfig) -> Self {
        Self::full_after(snapshot, &GatewayObjects::default(), config, None)
    }

    /// [`Model::full`] with the Gateway API objects (what
    /// [`build_with_gateways`](super::build_with_gateways) does).
    #[must_use]
    pub fn full_with(snapshot: &Snapshot, gateways: &GatewayObjects, config: &BuildConfig) -> Self {
        Self::full_after(snapshot, gateways, config, None)
    }

    /// [`Model::full_with`], keeping `previous`'s allocation of every stack that comes out
    /// equal, as soon as it is built: after a full rebuild only the stacks that changed are new
    /// allocations, so the stacks held elsewhere (what was last decided and applied) stay
    /// shared and compare by pointer, and the rebuild never holds two copies of every
    /// unchanged stack at once.
    #[must_use]
    pub fn full_after(
        snapshot: &Snapshot,
        gateways: &GatewayObjects,
        config: &BuildConfig,
        previous: Option<&Model>,
    ) -> Self {
        let shared = |id: &UnitId, mut unit: Unit| {
            if let Some(p) = previous {
                share_if_equal(
                    &mut unit.stack,
                    p.units.get(id).and_then(|u| u.stack.as_ref()),
                );
            }
            unit
        };
        let index = Index::new(snapshot, config);
        let collected = group::collect(&index, &snapshot.ingresses);
        let mut model = Self {
            config: Some(config.clone()),
            collect_errors: collected.errors,
            collect_skipped: collected.skipped,
            node_errors: index.node_errors.clone(),
            ..Self::default()
        };
        for (id, members) in &collected.groups {
            let unit_id = UnitId::Group(id.clone());
            let unit = shared(&unit_id, group_unit(&index, id, members));
            model.insert(unit_id, unit);
        }
        for svc in &snapshot.services {
            if let Some(unit) = service_unit(&index, svc, &snapshot.nodes) {
                let unit_id = service_id(svc);
                let unit = shared(&unit_id, unit);
                model.insert(unit_id, unit);
            }
        }
        for (id, unit) in gateway_units(&index, gateways) {
            let unit = shared(&id, unit);
            model.insert(id, unit);
        }
        model.gateway_objects = gateways.clone();
        model
    }

    fn insert(&mut self, id: UnitId, unit: Unit) {
        for read in &unit.reads {
            let readers = self.readers.entry(read.clone()).or_default();
            if let Err(at) = readers.binary_search(&id) {
                readers.insert(at, id.clone());
            }
        }
        self.units.insert(id, unit);
    }

    fn remove(&mut self, id: &UnitId) {
        if let Some(unit) = self.units.remove(id) {
            for read in &unit.reads {
                if let Some(set) = self.readers.get_mut(read) {
                    if let Ok(at) = set.binary_search(id) {
                        set.remove(at);
                    }
                    if set.is_empty() {
                        self.readers.remove(read);
                    }
                }
            }
        }
    }

    /// The units that read `read`.
    #[must_use]
    pub fn readers(&self, read: &Read) -> Vec<&UnitId> {
        self.readers
            .get(read)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    /// Number of units (IngressGroups and LoadBalancer Services).
    #[must_use]
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether there is no unit.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// What `changes` need rebuilt: see the module documentation.
    #[must_use]
    pub fn scope<'c>(&self, changes: impl IntoIterator<Item = &'c Change>) -> Scope {
        let mut units = BTreeSet::new();
        let mut nodes = false;
        let mut objects_changed = false;
        let mut services = BTreeSet::new();
        let read_by = |read: &Read, units: &mut BTreeSet<UnitId>| {
            units.extend(self.readers.get(read).into_iter().flatten().cloned());
        };
        for change in changes {
            match change {
                Change::Ingress { .. }
                | Change::IngressClass(_)
                | Change::IngressClassParams(_)
                | Change::Namespace(_) => return Scope::Full,
                Change::Node(_) => {
                    nodes = true;
                    read_by(&Read::Nodes, &mut units);
                }
                Change::Service { namespace, name } => {
                    // Its type or annotations may now make a group (or itself) read the Nodes.
                    nodes = true;
                    read_by(
                        &Read::Service {
                            namespace: namespace.clone(),
                            name: name.clone(),
                        },
                        &mut units,
                    );
                    units.insert(UnitId::Service(namespace.clone(), name.clone()));
                }
                Change::Secret { namespace, name } => read_by(
                    &Read::Secret {
                        namespace: namespace.clone(),
                        name: name.clone(),
                    },
                    &mut units,
                ),
                Change::EndpointSlices { namespace, service } => read_by(
                    &Read::EndpointSlices {
                        namespace: namespace.clone(),
                        service: service.clone(),
                    },
                    &mut units,
                ),
                Change::Gateway {
                    kind,
                    namespace,
                    name,
                    parents,
                } => {
                    objects_changed = true;
                    match kind.as_str() {
                        "Gateway" => {
                            units.insert(UnitId::Gateway(namespace.clone(), name.clone()));
                        }
                        "HTTPRoute" | "GRPCRoute" | "TCPRoute" | "UDPRoute" | "TLSRoute" => {
                            let before = parents_in(&self.gateway_objects, kind, namespace, name);
                            units.extend(
                                parents
                                    .iter()
                                    .chain(&before)
                                    .map(|(ns, n)| UnitId::Gateway(ns.clone(), n.clone())),
                            );
                            // A route may name a ListenerSet rather than its Gateway: the
                            // Gateways ListenerSets name are rebuilt too (a ListenerSet
                            // created with the route rebuilds every Gateway anyway).
                            units.extend(self.gateway_objects.listener_sets.iter().map(|s| {
                                let r = &s.spec.parent_ref;
                                UnitId::Gateway(
                                    r.namespace
                                        .clone()
                                        .unwrap_or_else(|| meta_namespace(&s.metadata).to_owned()),
                                    r.name.clone(),
                                )
                            }));
                        }
                        _ => {
                            units.insert(UnitId::Gateways);
                        }
                    }
                }
            }
        }
        if units.contains(&UnitId::Gateways) {
            units.extend(
                self.units
                    .keys()
                    .filter(|id| matches!(id, UnitId::Gateway(..)))
                    .cloned(),
            );
        }
        let mut ingresses = BTreeSet::new();
        // A changed route may now use instance targets: the Nodes come along.
        let gateways = objects_changed;
        nodes |= objects_changed;
        for id in &units {
            let unit = self.units.get(id);
            nodes |= unit.is_some_and(|u| u.reads.contains(&Read::Nodes));
            match id {
                UnitId::Gateways => {}
                UnitId::Gateway(..) => {
                    // Its routes and their backends are unchanged: the Services it read.
                    services.extend(unit.into_iter().flat_map(|u| {
                        u.reads.iter().filter_map(|r| match r {
                            Read::Service { namespace, name } => {
                                Some((namespace.clone(), name.clone()))
                            }
                            _ => None,
                        })
                    }));
                }
                UnitId::Group(_) => {
                    ingresses.extend(unit.into_iter().flat_map(|u| u.ingresses.iter().cloned()));
                }
                UnitId::Service(ns, name) => {
                    services.insert((ns.clone(), name.clone()));
                }
            }
        }
        Scope::Partial(Partial {
            units,
            ingresses,
            services,
            nodes,
            gateways,
        })
    }

    /// Rebuilds the `scope`'s units from `snapshot`, which holds what [`Partial::select`]
    /// selects, and merges them in. On an error nothing changed. Says what changed, so a
    /// caller can follow the output without comparing all of it ([`Updated`]).
    ///
    /// # Errors
    /// [`NeedsFull`] when the partial snapshot cannot rebuild the units faithfully.
    pub fn update(&mut self, snapshot: &Snapshot, scope: &Partial) -> Result<Updated, NeedsFull> {
        self.update_with(snapshot, &GatewayObjects::default(), scope)
    }

    /// [`Model::update`] with the Gateway API objects (all of them, used when
    /// [`Partial::gateways`]: every Gateway unit is rebuilt from them), `snapshot` holding
    /// what [`Partial::select_with`] selects.
    ///
    /// # Errors
    /// [`NeedsFull`] when the partial snapshot cannot rebuild the units faithfully.
    pub fn update_with(
        &mut self,
        snapshot: &Snapshot,
        gateways: &GatewayObjects,
        scope: &Partial,
    ) -> Result<Updated, NeedsFull> {
        let mut updated = Updated::default();
        let Some(config) = self.config.clone() else {
            return Ok(updated);
        };
        let index = Index::new(snapshot, &config);
        let collected = group::collect(&index, &snapshot.ingresses);
        let mut fresh: Vec<(UnitId, Option<Unit>)> = Vec::with_capacity(scope.units.len());
        {
            let objects = if scope.gateways {
                gateways
            } else {
                &self.gateway_objects
            };
            let mut class_out = gateway::GatewayOutput::default();
            let classes = gateway::classes_of(objects, &mut class_out);
            for id in &scope.units {
                match id {
                    UnitId::Gateways => fresh.push((
                        id.clone(),
                        (!objects.is_empty()).then(|| Unit {
                            errors: class_out.errors.clone(),
                            status: class_out.status.clone(),
                            ..Unit::default()
                        }),
                    )),
                    UnitId::Gateway(ns, name) => {
                        let gw = objects.gateways.iter().find(|g| {
                            meta_namespace(&g.metadata) == ns && meta_name(&g.metadata) == name
                        });
                        let unit = gw.map(|gw| gateway_unit(&index, objects, &classes, gw));
                        fresh.push((id.clone(), unit));
                    }
                    _ => {}
                }
            }
        }
        for (id, unit) in &fresh {
            if !scope.nodes
                && unit
                    .as_ref()
                    .is_some_and(|u| u.reads.contains(&Read::Nodes))
            {
                return Err(NeedsFull::NodesMissing(id.clone()));
            }
        }
        for id in &scope.units {
            let unit = match id {
                UnitId::Gateways | UnitId::Gateway(..) => continue,
                UnitId::Group(g) => {
                    let Some(members) = collected.groups.get(g) else {
                        return Err(NeedsFull::GroupMoved(g.clone()));
                    };
                    let unit = group_unit(&index, g, members);
                    let before = self.units.get(id).map(|u| &u.ingresses);
                    if before != Some(&unit.ingresses) {
                        return Err(NeedsFull::GroupMoved(g.clone()));
                    }
                    Some(unit)
                }
                UnitId::Service(ns, name) => snapshot
                    .services
                    .iter()
                    .find(|s| meta_namespace(&s.metadata) == ns && meta_name(&s.metadata) == name)
                    .and_then(|svc| service_unit(&index, svc, &snapshot.nodes)),
            };
            if !scope.nodes
                && unit
                    .as_ref()
                    .is_some_and(|u| u.reads.contains(&Read::Nodes))
            {
                return Err(NeedsFull::NodesMissing(id.clone()));
            }
            fresh.push((id.clone(), unit));
        }
        if scope.gateways {
            self.gateway_objects = gateways.clone();
        }
        for (id, unit) in fresh {
            let before = self.units.get(&id).and_then(|u| u.stack.clone());
            updated.rest_changed |= !same_rest(self.units.get(&id), unit.as_ref());
            self.remove(&id);
            let after = unit.map(|mut unit| {
                share_if_equal(&mut unit.stack, before.as_ref());
                let stack = unit.stack.clone();
                self.insert(id, unit);
                stack
            });
            updated.stacks.push((before, after.flatten()));
        }
        if scope.nodes {
            updated.rest_changed |= self.node_errors != index.node_errors;
            self.node_errors = index.node_errors.clone();
        }
        Ok(updated)
    }

    /// The stack of a unit, if it has one.
    #[must_use]
    pub fn stack(&self, id: &UnitId) -> Option<&Stack> {
        self.units.get(id).and_then(|u| u.stack.as_deref())
    }

    /// The stacks of `units` (those that have one).
    pub fn stacks_of<'a>(
        &'a self,
        units: impl IntoIterator<Item = &'a UnitId> + 'a,
    ) -> impl Iterator<Item = &'a Stack> + 'a {
        units.into_iter().filter_map(|id| self.stack(id))
    }

    /// The status of the Gateway API objects of ours (empty without any), as
    /// [`gateway::build`] gives it: the classes, each Gateway's, and one status per route with
    /// its parents of every Gateway.
    #[must_use]
    pub fn gateway_status(&self) -> Statuses {
        let mut out = Statuses::default();
        for (id, unit) in &self.units {
            match id {
                UnitId::Gateways => out.classes.extend(unit.status.classes.iter().cloned()),
                UnitId::Gateway(..) => {
                    out.gateways.extend(unit.status.gateways.iter().cloned());
                    out.routes.extend(unit.status.routes.iter().cloned());
                    out.listener_sets
                        .extend(unit.status.listener_sets.iter().cloned());
                }
                _ => {}
            }
        }
        out.merge_routes();
        out
    }

    /// The whole output, as [`build`](super::build) returns it.
    #[must_use]
    pub fn output(&self) -> BuildOutput {
        let shared = self.shared_output();
        BuildOutput {
            stacks: shared.stacks.iter().map(|s| Stack::clone(s)).collect(),
            errors: shared.errors,
            skipped: shared.skipped,
            warnings: shared.warnings,
            claims: shared.claims,
        }
    }

    /// [`Model::output`] with the stacks shared, not copied: a stack whose unit was not
    /// rebuilt since the last call is the same allocation ([`Arc::ptr_eq`]).
    #[must_use]
    pub fn shared_output(&self) -> SharedOutput {
        let mut stacks = Vec::with_capacity(self.units.len());
        let mut errors = self.collect_errors.clone();
        let mut skipped = self.collect_skipped.clone();
        let mut warnings = Vec::new();
        let mut claims = BTreeMap::new();
        let mut uses_instances = false;
        for unit in self.units.values() {
            stacks.extend(unit.stack.iter().cloned());
            errors.extend(unit.errors.iter().cloned());
            skipped.extend(unit.skipped.iter().cloned());
            warnings.extend(unit.warnings.iter().cloned());
            claims.extend(unit.claims.iter().cloned());
            uses_instances |= unit.uses_instances;
        }
        if uses_instances {
            errors.extend(self.node_errors.iter().cloned());
        }
        stacks.sort_by(|a, b| a.id.cmp(&b.id));
        let mut keyed: Vec<(String, String, BuildError)> = errors
            .into_iter()
            .map(|e| (e.object().to_string(), e.to_string(), e))
            .collect();
        keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        keyed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        skipped.sort();
        warnings.sort();
        // A route naming two Gateways is warned about by both.
        warnings.dedup();
        SharedOutput {
            stacks,
            errors: keyed.into_iter().map(|(_, _, e)| e).collect(),
            skipped,
            warnings,
            claims,
        }
    }
}

/// [`BuildOutput`] with shared stacks ([`Model::shared_output`]).
#[derive(Clone, Debug, Default)]
pub struct SharedOutput {
    /// Stacks sorted by id.
    pub stacks: Vec<Arc<Stack>>,
    /// As [`BuildOutput::errors`].
    pub errors: Vec<BuildError>,
    /// As [`BuildOutput::skipped`].
    pub skipped: Vec<Skipped>,
    /// As [`BuildOutput::warnings`].
    pub warnings: Vec<Warning>,
    /// As [`BuildOutput::claims`].
    pub claims: BTreeMap<String, StackId>,
}

#[cfg(test)]
mod tests;
