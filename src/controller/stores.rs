//! Watch caches of every kind the translation reads, trimmed to the fields it uses.
//!
//! One kube-runtime reflector per kind (per namespace with `--watch-namespace`). Objects are
//! trimmed before they are cached: `managedFields`, the `last-applied-configuration`
//! annotation, Node status and EndpointSlice hints are dropped, since the model never reads
//! them and they dominate the size of large clusters' objects. Every change is recorded in
//! [`Signals`] as the object it changed ([`super::index`]), so the scheduler rebuilds only the
//! stacks that read it; a watch that lists again asks for a full rebuild.
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lb_operator_core::translate::incremental::{Change, Partial};
use aws_lb_operator_core::translate::{
    actions, BuildConfig, IngressClassParams, Snapshot, SERVICE_NAME_LABEL,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::index::{self, SliceIndex};
use crate::crd::TargetGroupBinding;
use crate::trim::{strip, trim_node, trim_service};

/// How long readiness waits for the IngressClassParams cache (a CRD that may be missing).
const PARAMS_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Changes recorded by the watches, consumed by the scheduler.
#[derive(Debug, Default)]
pub struct Signals {
    /// A full rebuild is needed (the caches synced, a watch listed again).
    pub full: AtomicBool,
    /// Decide again without a new change (a pass finished: targets may have changed while it
    /// ran).
    pub targets: AtomicBool,
    /// The objects changed since the scheduler last looked.
    changes: Mutex<BTreeSet<Change>>,
    /// Woken on every recorded change.
    pub notify: Notify,
    /// Anything changed, TargetGroupBindings included: consumed by the bindings loop
    /// ([`super::bindings`]), never by the scheduler.
    pub bindings: AtomicBool,
    /// Woken whenever `bindings` is raised.
    pub bindings_notify: Notify,
}

/// What [`Signals::take`] hands the scheduler.
#[derive(Debug, Default)]
pub struct Taken {
    /// A full rebuild is needed.
    pub full: bool,
    /// Decide again even without changes.
    pub targets: bool,
    /// The objects changed.
    pub changes: BTreeSet<Change>,
}

impl Signals {
    /// Records changed objects (and wakes the bindings loop: any object may matter to it).
    fn raise(&self, changes: impl IntoIterator<Item = Change>) {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(changes);
        self.notify.notify_one();
        self.raise_bindings();
    }

    /// Asks for a full rebuild.
    fn raise_full(&self) {
        self.full.store(true, Ordering::Release);
        self.notify.notify_one();
        self.raise_bindings();
    }

    /// Raises only the bindings flag (a TargetGroupBinding changed: no stack is affected).
    fn raise_bindings(&self) {
        self.bindings.store(true, Ordering::Release);
        self.bindings_notify.notify_one();
    }

    /// Takes the bindings flag.
    pub fn take_bindings(&self) -> bool {
        self.bindings.swap(false, Ordering::AcqRel)
    }

    /// Takes the flags and the changes recorded so far.
    pub fn take(&self) -> Taken {
        Taken {
            full: self.full.swap(false, Ordering::AcqRel),
            targets: self.targets.swap(false, Ordering::AcqRel),
            changes: std::mem::take(
                &mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner),
            ),
        }
    }
}

/// What a watch event records for the kinds named by their [`ObjectMeta`] alone.
fn record<K: Resource>(
    change: fn(&ObjectMeta) -> Change,
) -> impl Fn(&Signals, &watcher::Event<K>) + Send + 'static {
    move |s, event| match event {
        watcher::Event::Apply(o) | watcher::Event::Delete(o) => s.raise([change(o.meta())]),
        watcher::Event::InitDone => s.raise_full(),
        watcher::Event::Init | watcher::Event::InitApply(_) => {}
    }
}

/// What a watch event records for EndpointSlices: the Services they belong to, kept in
/// `index` (which a relist rebuilds).
fn record_slices(
    index: Arc<Mutex<SliceIndex>>,
) -> impl Fn(&Signals, &watcher::Event<CachedSlice>) + Send + 'static {
    move |s, event| {
        let mut index = index.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            watcher::Event::Apply(o) => s.raise(index.applied(&o.metadata)),
            watcher::Event::Delete(o) => s.raise(index.deleted(&o.metadata)),
            watcher::Event::Init => index.relist_start(),
            watcher::Event::InitApply(o) => index.relist_apply(&o.metadata),
            watcher::Event::InitDone => {
                index.relist_done();
                s.raise_full();
            }
        }
    }
}

/// An EndpointSlice as cached: only what the model reads (address type, ports, each
/// endpoint's addresses and conditions). The full k8s-openapi type spends ~450 bytes per
/// endpoint on fields that are always empty here; at 100,000 endpoints that is most of the
/// controller's memory. Converted back to an [`EndpointSlice`] for the Services a snapshot uses.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedSlice {
    /// Metadata (labels link the slice to its Service).
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    #[serde(default)]
    pub address_type: String,
    /// Ports.
    #[serde(default)]
    pub ports: Option<Vec<k8s_openapi::api::discovery::v1::EndpointPort>>,
    /// Endpoints.
    #[serde(default)]
    pub endpoints: Vec<CachedEndpoint>,
}

/// One endpoint of a [`CachedSlice`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedEndpoint {
    /// Addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Conditions.
    #[serde(default)]
    pub conditions: Option<k8s_openapi::api::discovery::v1::EndpointConditions>,
}

impl kube::Resource for CachedSlice {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind((): &()) -> std::borrow::Cow<'_, str> {
        "EndpointSlice".into()
    }
    fn group((): &()) -> std::borrow::Cow<'_, str> {
        "discovery.k8s.io".into()
    }
    fn version((): &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural((): &()) -> std::borrow::Cow<'_, str> {
        "endpointslices".into()
    }
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &mut self.metadata
    }
}

impl CachedSlice {
    fn to_slice(&self) -> EndpointSlice {
        EndpointSlice {
            metadata: self.metadata.clone(),
            address_type: self.address_type.clone(),
            ports: self.ports.clone(),
            endpoints: self
                .endpoints
                .iter()
                .map(|e| k8s_openapi::api::discovery::v1::Endpoint {
                    addresses: e.addresses.clone(),
                    conditions: e.conditions.clone(),
                    ..Default::default()
                })
                .collect(),
        }
    }
}

/// The caches.
#[derive(Clone)]
pub struct Stores {
    ingresses: Vec<Store<Ingress>>,
    services: Vec<Store<Service>>,
    slices: Vec<Store<CachedSlice>>,
    /// Which slices belong to which Service, one per `slices` store.
    slice_index: Vec<Arc<Mutex<SliceIndex>>>,
    classes: Store<IngressClass>,
    params: Store<DynamicObject>,
    nodes: Store<Node>,
    namespaces: Store<Namespace>,
    bindings: Vec<Store<TargetGroupBinding>>,
}

/// Starts one reflector on `api`, trimming objects with `trim` (after [`strip`]) and
/// recording each change as `change` names it.
fn reflect<K>(
    api: Api<K>,
    signals: &Arc<Signals>,
    change: fn(&ObjectMeta) -> Change,
    trim: fn(&mut K),
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    reflect_with(
        api,
        K::DynamicType::default(),
        signals,
        record(change),
        trim,
        tasks,
    )
}

/// [`reflect`] for any kind (`dyntype` describes untyped ones), handing every event to
/// `raise` (after the cache has it).
fn reflect_with<K>(
    api: Api<K>,
    dyntype: K::DynamicType,
    signals: &Arc<Signals>,
    raise: impl Fn(&Signals, &watcher::Event<K>) + Send + 'static,
    trim: fn(&mut K),
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    let kind = K::kind(&dyntype).into_owned();
    let writer = reflector::store::Writer::new(dyntype);
    let reader = writer.as_reader();
    let signals = Arc::clone(signals);
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(move |o: &mut K| {
            strip(o);
            trim(o);
        })
        .reflect(writer);
    tasks.push(tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => raise(&signals, &event),
                Err(e) => tracing::warn!(kind = %kind, error = %e, "watch failed; retrying"),
            }
        }
    }));
    reader
}

fn no_trim<K>(_: &mut K) {}

/// [`crate::trim::trim_slice`] for the cache's own slice type (which keeps only addresses and
/// conditions of each endpoint already).
fn trim_slice(s: &mut CachedSlice) {
    s.metadata.annotations = None;
    s.metadata.owner_references = None;
}

/// An Api for a namespaced kind in `scope` (`None`: all namespaces).
fn scoped_api<K>(client: &Client, scope: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// `elbv2.k8s.aws/v1beta1` IngressClassParams, watched untyped (a malformed object must not
/// break the whole watch) and converted on snapshot.
fn params_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("elbv2.k8s.aws", "v1beta1", "IngressClassParams"),
        "ingressclassparams",
    )
}

impl Stores {
    /// Starts every watch. `namespaces` empty: all namespaces.
    pub fn start(
        client: &Client,
        namespaces: &[String],
        signals: &Arc<Signals>,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let mut tasks = Vec::new();
        let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
            vec![None]
        } else {
            namespaces.iter().map(|n| Some(n.as_str())).collect()
        };
        let mut ingresses = Vec::new();
        let mut services = Vec::new();
        let mut slices = Vec::new();
        let mut slice_index = Vec::new();
        let mut bindings = Vec::new();
        for scope in scopes {
            ingresses.push(reflect(
                scoped_api(client, scope),
                signals,
                index::ingress,
                no_trim,
                &mut tasks,
            ));
            services.push(reflect(
                scoped_api(client, scope),
                signals,
                index::service,
                trim_service,
                &mut tasks,
            ));
            let by_service = Arc::new(Mutex::new(SliceIndex::default()));
            slices.push(reflect_with(
                scoped_api(client, scope),
                (),
                signals,
                record_slices(Arc::clone(&by_service)),
                trim_slice,
                &mut tasks,
            ));
            slice_index.push(by_service);
            bindings.push(reflect_with(
                scoped_api(client, scope),
                (),
                signals,
                |s: &Signals, event: &watcher::Event<TargetGroupBinding>| match event {
                    watcher::Event::Init | watcher::Event::InitApply(_) => {}
                    _ => s.raise_bindings(),
                },
                no_trim,
                &mut tasks,
            ));
        }
        let classes = reflect(
            Api::all(client.clone()),
            signals,
            index::ingress_class,
            no_trim,
            &mut tasks,
        );
        let nodes = reflect(
            Api::all(client.clone()),
            signals,
            index::node,
            trim_node,
            &mut tasks,
        );
        let namespaces = reflect(
            Api::all(client.clone()),
            signals,
            index::namespace_change,
            no_trim,
            &mut tasks,
        );
        let params = reflect_with(
            Api::all_with(client.clone(), &params_resource()),
            params_resource(),
            signals,
            record(index::ingress_class_params),
            no_trim,
            &mut tasks,
        );
        (
            Self {
                ingresses,
                services,
                slices,
                slice_index,
                classes,
                params,
                nodes,
                namespaces,
                bindings,
            },
            tasks,
        )
    }

    /// Waits until every cache has its first full list.
    pub async fn wait_ready(&self) {
        for s in &self.ingresses {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.services {
            let _ = s.wait_until_ready().await;
        }
        for s in &self.slices {
            let _ = s.wait_until_ready().await;
        }
        let _ = self.classes.wait_until_ready().await;
        // IngressClassParams is a CRD: without it installed its watch never lists. Wait a
        // little, then go on without params rather than never becoming ready.
        if tokio::time::timeout(PARAMS_WAIT, self.params.wait_until_ready())
            .await
            .is_err()
        {
            tracing::warn!(
                "IngressClassParams could not be listed (is the CRD installed?); going on without them"
            );
        }
        let _ = self.nodes.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
    }

    /// Waits until every TargetGroupBinding cache has its first full list (separate from
    /// [`Stores::wait_ready`]: the bindings loop is its only waiter, and a cluster without the
    /// CRD delays nothing else).
    pub async fn wait_bindings_ready(&self) {
        for s in &self.bindings {
            let _ = s.wait_until_ready().await;
        }
    }

    /// Every cached TargetGroupBinding.
    pub fn bindings(&self) -> Vec<Arc<TargetGroupBinding>> {
        self.bindings.iter().flat_map(Store::state).collect()
    }

    /// The cached EndpointSlices of the Services in `wanted` (namespace, name), as the model
    /// reads them (see [`CachedSlice`]), found through the slice index (not by scanning every
    /// slice of the cluster).
    pub fn endpoint_slices_of(&self, wanted: &BTreeSet<(String, String)>) -> Vec<EndpointSlice> {
        let mut out = Vec::new();
        for (store, index) in self.slices.iter().zip(&self.slice_index) {
            let names = index
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .slices_of(wanted);
            for ((ns, _), slices) in names {
                for name in slices {
                    let key = reflector::ObjectRef::new(&name).within(&ns);
                    if let Some(slice) = store.get(&key) {
                        out.push(slice.to_slice());
                    }
                }
            }
        }
        out
    }

    /// Every cached Node.
    pub fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.state()
    }

    /// One cached Ingress.
    pub fn ingress(&self, namespace: &str, name: &str) -> Option<Arc<Ingress>> {
        let key = reflector::ObjectRef::new(name).within(namespace);
        self.ingresses.iter().find_map(|s| s.get(&key))
    }

    /// Every cached Ingress.
    pub fn ingresses(&self) -> Vec<Arc<Ingress>> {
        self.ingresses.iter().flat_map(Store::state).collect()
    }

    /// Every cached Service.
    pub fn services(&self) -> Vec<Arc<Service>> {
        self.services.iter().flat_map(Store::state).collect()
    }

    /// The objects the translation needs: every Ingress, IngressClass, IngressClassParams,
    /// Node and Namespace; LoadBalancer Services and the Services Ingresses refer to, with
    /// their EndpointSlices. (Other Services and their endpoints are never copied.)
    pub fn snapshot(&self, config: &BuildConfig) -> Snapshot {
        let _ = config;
        let ingresses: Vec<Ingress> = self.ingresses().iter().map(|i| (**i).clone()).collect();
        let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
        for ing in &ingresses {
            let ns = ing.metadata.namespace.clone().unwrap_or_default();
            for name in actions::referenced_services(ing) {
                wanted.insert((ns.clone(), name));
            }
        }
        let services: Vec<Service> = self
            .services()
            .iter()
            .filter(|s| {
                let is_lb =
                    s.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer");
                is_lb
                    || wanted.contains(&(
                        s.metadata.namespace.clone().unwrap_or_default(),
                        s.metadata.name.clone().unwrap_or_default(),
                    ))
            })
            .map(|s| (**s).clone())
            .collect();
        let kept: BTreeSet<(String, String)> = services
            .iter()
            .map(|s| {
                (
                    s.metadata.namespace.clone().unwrap_or_default(),
                    s.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        let endpoint_slices = self
            .slices
            .iter()
            .flat_map(Store::state)
            .filter(|e| {
                let svc = e
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .cloned()
                    .unwrap_or_default();
                kept.contains(&(e.metadata.namespace.clone().unwrap_or_default(), svc))
            })
            .map(|e| e.to_slice())
            .collect();
        let ingress_class_params = self.ingress_class_params();
        Snapshot {
            ingresses,
            ingress_classes: self.classes.state().iter().map(|c| (**c).clone()).collect(),
            ingress_class_params,
            services,
            endpoint_slices,
            nodes: self.nodes.state().iter().map(|n| (**n).clone()).collect(),
            namespaces: self
                .namespaces
                .state()
                .iter()
                .map(|n| (**n).clone())
                .collect(),
        }
    }

    /// Every IngressClassParams that can be read (the others are logged and left out).
    fn ingress_class_params(&self) -> Vec<IngressClassParams> {
        self.params
            .state()
            .iter()
            .filter_map(|p| {
                let value = serde_json::to_value(&**p).ok()?;
                match serde_json::from_value::<IngressClassParams>(value) {
                    Ok(params) => Some(params),
                    Err(e) => {
                        tracing::warn!(
                            name = p.metadata.name.as_deref().unwrap_or_default(),
                            error = %e,
                            "IngressClassParams cannot be read; ignored"
                        );
                        None
                    }
                }
            })
            .collect()
    }

    /// One cached Service.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        let key = reflector::ObjectRef::new(name).within(namespace);
        self.services.iter().find_map(|s| s.get(&key))
    }

    /// What [`Partial::select`] selects from a complete snapshot, from the caches: the
    /// Ingresses of the groups to rebuild, the Services named and those the Ingresses refer
    /// to, their EndpointSlices (looked up through the slice index, not by scanning every
    /// slice), every IngressClass, IngressClassParams and Namespace, and the Nodes if asked.
    pub fn snapshot_of(&self, partial: &Partial) -> Snapshot {
        let ingresses: Vec<Ingress> = partial
            .ingresses
            .iter()
            .filter_map(|(ns, name)| self.ingress(ns, name))
            .map(|i| (*i).clone())
            .collect();
        let wanted = partial.services_wanted(&ingresses);
        let services = wanted
            .iter()
            .filter_map(|(ns, name)| self.service(ns, name))
            .map(|s| (*s).clone())
            .collect();
        let endpoint_slices = self.endpoint_slices_of(&wanted);
        Snapshot {
            ingresses,
            ingress_classes: self.classes.state().iter().map(|c| (**c).clone()).collect(),
            ingress_class_params: self.ingress_class_params(),
            services,
            endpoint_slices,
            nodes: if partial.nodes {
                self.nodes.state().iter().map(|n| (**n).clone()).collect()
            } else {
                Vec::new()
            },
            namespaces: self
                .namespaces
                .state()
                .iter()
                .map(|n| (**n).clone())
                .collect(),
        }
    }
}
