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
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lb_operator_core::translate::auth::SecretData;
use aws_lb_operator_core::translate::gateway::GatewayObjects;
use aws_lb_operator_core::translate::incremental::{Change, Partial};
use aws_lb_operator_core::translate::{
    actions, BuildConfig, IngressClassParams, Snapshot, SERVICE_NAME_LABEL,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointSlice};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::gateway::{Discovered, GatewayStores};
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
    /// A Gateway API object changed (its status included): the status writer compares again.
    pub gateway_status: AtomicBool,
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

    /// Records one changed object.
    pub(super) fn raise_one(&self, change: Change) {
        self.raise([change]);
    }

    /// Wakes the scheduler without a change (it decides and writes status again).
    pub(super) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Asks for a full rebuild.
    pub(super) fn raise_full(&self) {
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
            watcher::Event::Apply(o) => s.raise(index.applied(&o.metadata, o.service_name())),
            watcher::Event::Delete(o) => s.raise(index.deleted(&o.metadata)),
            watcher::Event::Init => index.relist_start(),
            watcher::Event::InitApply(o) => index.relist_apply(&o.metadata, o.service_name()),
            watcher::Event::InitDone => {
                index.relist_done();
                s.raise_full();
            }
        }
    }
}

/// An EndpointSlice as cached: only what the model reads, compactly. The model reads the address
/// type, the ports, each endpoint's addresses and conditions, and of the metadata the name,
/// namespace and the `kubernetes.io/service-name` label; `resourceVersion` is kept for the
/// watch. Each endpoint is 18 bytes ([`CachedEndpoint`]): its address as an [`IpAddr`] and its
/// conditions as bit flags. Endpoints whose addresses an [`IpAddr`] cannot give back exactly
/// (FQDN slices, invalid or non-canonical addresses, several or no addresses) keep their
/// strings in [`CachedSlice::other_addresses`]. Converted back to an [`EndpointSlice`]
/// ([`CachedSlice::to_slice`]) for the Services a snapshot uses, field for field as the model
/// reads it. See docs/controller.md, "Watches and memory", for the bytes per endpoint.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(from = "RawSlice")]
pub struct CachedSlice {
    /// Name, namespace and resourceVersion only (labels: see `service`).
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    /// The `kubernetes.io/service-name` label (the only label the model reads).
    service: Option<Box<str>>,
    /// `IPv4`, `IPv6`, `FQDN` or another value as written.
    address_type: AddressType,
    /// Ports.
    ports: Option<Vec<k8s_openapi::api::discovery::v1::EndpointPort>>,
    /// Endpoints, in order.
    endpoints: Box<[CachedEndpoint]>,
    /// The addresses of the endpoints whose `address` is `None`, by endpoint index (ascending).
    other_addresses: Box<[(u32, Box<[String]>)]>,
}

/// An EndpointSlice's `addressType`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum AddressType {
    Ipv4,
    Ipv6,
    Fqdn,
    /// Any other value, kept as written (the model reads only IPv4 slices).
    Other(Box<str>),
}

impl AddressType {
    fn parse(s: String) -> Self {
        match s.as_str() {
            "IPv4" => Self::Ipv4,
            "IPv6" => Self::Ipv6,
            "FQDN" => Self::Fqdn,
            _ => Self::Other(s.into_boxed_str()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
            Self::Fqdn => "FQDN",
            Self::Other(s) => s,
        }
    }
}

/// One endpoint of a [`CachedSlice`]: 18 bytes, no heap (pinned by a test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedEndpoint {
    /// The endpoint's one address, when it is an IP address written as [`IpAddr`] writes it;
    /// `None`: the addresses are in [`CachedSlice::other_addresses`].
    address: Option<IpAddr>,
    /// `conditions` as [`Conditions`] bits.
    conditions: Conditions,
}

/// An endpoint's `conditions` (absent, or three optional booleans) in one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Conditions(u8);

impl Conditions {
    const PRESENT: u8 = 1;
    const READY_SET: u8 = 1 << 1;
    const READY: u8 = 1 << 2;
    const SERVING_SET: u8 = 1 << 3;
    const SERVING: u8 = 1 << 4;
    const TERMINATING_SET: u8 = 1 << 5;
    const TERMINATING: u8 = 1 << 6;

    fn of(c: Option<&EndpointConditions>) -> Self {
        let Some(c) = c else { return Self(0) };
        let bit = |v: Option<bool>, set: u8, on: u8| match v {
            None => 0,
            Some(false) => set,
            Some(true) => set | on,
        };
        Self(
            Self::PRESENT
                | bit(c.ready, Self::READY_SET, Self::READY)
                | bit(c.serving, Self::SERVING_SET, Self::SERVING)
                | bit(c.terminating, Self::TERMINATING_SET, Self::TERMINATING),
        )
    }

    fn get(self) -> Option<EndpointConditions> {
        let bit = |set: u8, on: u8| (self.0 & set != 0).then_some(self.0 & on != 0);
        (self.0 & Self::PRESENT != 0).then(|| EndpointConditions {
            ready: bit(Self::READY_SET, Self::READY),
            serving: bit(Self::SERVING_SET, Self::SERVING),
            terminating: bit(Self::TERMINATING_SET, Self::TERMINATING),
        })
    }
}

/// An EndpointSlice as the API sends it, with only the fields [`CachedSlice`] keeps (serde
/// skips the others without allocating them).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSlice {
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(default)]
    address_type: String,
    #[serde(default)]
    ports: Option<Vec<k8s_openapi::api::discovery::v1::EndpointPort>>,
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
}

#[derive(serde::Deserialize)]
struct RawEndpoint {
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    conditions: Option<EndpointConditions>,
}

/// `s` as an [`IpAddr`] when writing that address back gives exactly `s`.
fn exact_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.parse().ok()?;
    (ip.to_string() == s).then_some(ip)
}

impl From<RawSlice> for CachedSlice {
    fn from(raw: RawSlice) -> Self {
        let RawSlice {
            metadata,
            address_type,
            ports,
            endpoints: raw_endpoints,
        } = raw;
        let service = metadata
            .labels
            .and_then(|mut l| l.remove(SERVICE_NAME_LABEL))
            .map(String::into_boxed_str);
        let metadata = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: metadata.name,
            namespace: metadata.namespace,
            resource_version: metadata.resource_version,
            ..Default::default()
        };
        let mut endpoints = Vec::with_capacity(raw_endpoints.len());
        let mut other_addresses = Vec::new();
        for (i, e) in raw_endpoints.into_iter().enumerate() {
            let address = match e.addresses.as_slice() {
                [one] => exact_ip(one),
                _ => None,
            };
            if address.is_none() {
                other_addresses.push((
                    u32::try_from(i).unwrap_or(u32::MAX),
                    e.addresses.into_boxed_slice(),
                ));
            }
            endpoints.push(CachedEndpoint {
                address,
                conditions: Conditions::of(e.conditions.as_ref()),
            });
        }
        Self {
            metadata,
            service,
            address_type: AddressType::parse(address_type),
            ports: ports.map(|mut p| {
                p.shrink_to_fit();
                p
            }),
            endpoints: endpoints.into_boxed_slice(),
            other_addresses: other_addresses.into_boxed_slice(),
        }
    }
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
    /// The Service this slice belongs to (its `kubernetes.io/service-name` label).
    pub fn service_name(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// `(namespace, service name)` when the slice names its Service.
    fn service_key(&self) -> Option<(String, String)> {
        Some((
            self.metadata.namespace.clone().unwrap_or_default(),
            self.service_name()?.to_owned(),
        ))
    }

    /// The slice as the model reads it.
    pub fn to_slice(&self) -> EndpointSlice {
        let mut metadata = self.metadata.clone();
        metadata.labels = self
            .service
            .as_ref()
            .map(|s| [(SERVICE_NAME_LABEL.to_owned(), s.to_string())].into());
        let mut others = self.other_addresses.iter().peekable();
        let endpoints = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let addresses = match e.address {
                    Some(ip) => vec![ip.to_string()],
                    None => others
                        .next_if(|(at, _)| usize::try_from(*at).ok() == Some(i))
                        .map(|(_, a)| a.to_vec())
                        .unwrap_or_default(),
                };
                Endpoint {
                    addresses,
                    conditions: e.conditions.get(),
                    ..Default::default()
                }
            })
            .collect();
        EndpointSlice {
            metadata,
            address_type: self.address_type.as_str().to_owned(),
            ports: self.ports.clone(),
            endpoints,
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
    /// Secrets, trimmed to their OIDC keys ([`trim_secret`]).
    secrets: Vec<Store<Secret>>,
    /// The Gateway API kinds served (none without their CRDs).
    pub gateway: GatewayStores,
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

/// A Secret as cached: only the keys `auth-idp-oidc` reads (`clientID`, `clientId`,
/// `clientSecret`), no labels or annotations; every other Secret is cached as its name alone.
fn trim_secret(s: &mut Secret) {
    // `stringData` merged over `data`, as the API server stores them.
    let kept = SecretData::from_secret(s);
    s.data = (!kept.data.is_empty()).then(|| {
        kept.data
            .into_iter()
            .map(|(k, v)| (k, k8s_openapi::ByteString(v.bytes().to_vec())))
            .collect()
    });
    s.string_data = None;
    s.metadata.labels = None;
    s.metadata.annotations = None;
    s.metadata.owner_references = None;
    s.type_ = None;
}

/// [`reflect_with`] for an untyped kind: objects are stripped of `managedFields` and the
/// last-applied annotation, and trimmed by `trim` (a route's `status.parents` is kept: it is
/// compared before the controller writes its own entries).
pub(super) fn reflect_dynamic(
    api: Api<DynamicObject>,
    resource: ApiResource,
    signals: &Arc<Signals>,
    raise: impl Fn(&Signals, &watcher::Event<DynamicObject>) + Send + 'static,
    trim: fn(&mut DynamicObject),
    tasks: &mut Vec<JoinHandle<()>>,
) -> Store<DynamicObject> {
    reflect_with(api, resource, signals, raise, trim, tasks)
}

/// Leaves an object as it is.
pub(super) fn keep<K>(_: &mut K) {}

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
        gateway_kinds: &Discovered,
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
        let mut secrets = Vec::new();
        let gateway = GatewayStores::start(client, gateway_kinds, &scopes, signals, &mut tasks);
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
                no_trim, // CachedSlice keeps only what the model reads as it is read
                &mut tasks,
            ));
            slice_index.push(by_service);
            secrets.push(reflect(
                scoped_api(client, scope),
                signals,
                index::secret,
                trim_secret,
                &mut tasks,
            ));
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
                secrets,
                gateway,
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
        for s in &self.secrets {
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
        self.gateway.wait_ready().await;
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
    /// their EndpointSlices, and the Services the routes of `gateways` name. (Other Services
    /// and their endpoints are never copied.)
    pub fn snapshot(&self, config: &BuildConfig, gateways: &GatewayObjects) -> Snapshot {
        let _ = config;
        let ingresses: Vec<Ingress> = self.ingresses().iter().map(|i| (**i).clone()).collect();
        let mut wanted: BTreeSet<(String, String)> = gateways.referenced_services();
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
            .filter(|e| e.service_key().is_some_and(|k| kept.contains(&k)))
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
            secrets: self.secrets(),
        }
    }

    /// The cached Secrets that have OIDC keys, as the translation reads them.
    fn secrets(&self) -> Vec<SecretData> {
        self.secrets
            .iter()
            .flat_map(Store::state)
            .filter(|s| s.data.as_ref().is_some_and(|d| !d.is_empty()))
            .map(|s| SecretData::from_secret(&s))
            .collect()
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
    pub fn snapshot_of(&self, partial: &Partial, gateways: &GatewayObjects) -> Snapshot {
        let ingresses: Vec<Ingress> = partial
            .ingresses
            .iter()
            .filter_map(|(ns, name)| self.ingress(ns, name))
            .map(|i| (*i).clone())
            .collect();
        let wanted = partial.services_wanted(&ingresses, gateways);
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
            secrets: self.secrets(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached endpoint must not regrow unnoticed: 100,000 endpoints are 1.8 MB of them.
    #[test]
    fn cached_endpoint_is_18_bytes() {
        assert_eq!(std::mem::size_of::<CachedEndpoint>(), 18);
        assert_eq!(std::mem::align_of::<CachedEndpoint>(), 1);
    }

    #[test]
    fn every_condition_combination_round_trips() {
        let values = [None, Some(false), Some(true)];
        let mut seen = BTreeSet::new();
        assert_eq!(Conditions::of(None).get(), None);
        seen.insert(Conditions::of(None).0);
        for ready in values {
            for serving in values {
                for terminating in values {
                    let c = EndpointConditions {
                        ready,
                        serving,
                        terminating,
                    };
                    let bits = Conditions::of(Some(&c));
                    assert_eq!(bits.get(), Some(c));
                    seen.insert(bits.0);
                }
            }
        }
        assert_eq!(seen.len(), 28, "every combination has its own bits");
    }

    /// The model reads a cached slice exactly as it reads the API's (trimmed) slice: every
    /// endpoint field it uses, IP or not, in order; of the metadata the name, namespace and
    /// service-name label.
    #[test]
    fn to_slice_gives_back_what_the_model_reads() {
        let json = serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-1", "namespace": "shop", "resourceVersion": "42",
                "uid": "u-1", "generation": 3, "creationTimestamp": "2025-01-01T00:00:00Z",
                "labels": {"kubernetes.io/service-name": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                "annotations": {"a": "b"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u"}]},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
                    "nodeName": "n1", "zone": "a", "targetRef": {"kind": "Pod", "name": "p"}},
                {"addresses": ["10.0.0.2"]},
                {"addresses": ["10.0.0.3"], "conditions": {}},
                {"addresses": ["10.0.1.300"], "conditions": {"ready": false}},
                {"addresses": ["010.0.0.4"]},
                {"addresses": ["10.0.0.5", "10.0.0.6"], "conditions": {"terminating": true}},
                {"addresses": []},
                {"addresses": ["fd00::1"]},
                {"addresses": ["FD00:0:0:0::2"]},
                {"addresses": ["10.0.0.7"], "conditions": {"ready": false, "serving": true, "terminating": true}}
            ]
        });
        let cached: CachedSlice = serde_json::from_value(json.clone()).unwrap();
        // Only the addresses an IpAddr cannot write back exactly keep their strings.
        let kept: Vec<u32> = cached.other_addresses.iter().map(|(i, _)| *i).collect();
        assert_eq!(kept, [3, 4, 5, 6, 8]);
        assert_eq!(cached.service_name(), Some("web"));

        let mut full: EndpointSlice = serde_json::from_value(json).unwrap();
        crate::trim::strip(&mut full);
        crate::trim::trim_slice(&mut full);
        let got = cached.to_slice();
        assert_eq!(got.endpoints, full.endpoints);
        assert_eq!(got.address_type, "IPv4");
        assert_eq!(got.ports, full.ports);
        assert_eq!(
            serde_json::to_value(&got.metadata).unwrap(),
            serde_json::json!({"name": "web-1", "namespace": "shop", "resourceVersion": "42",
                "labels": {"kubernetes.io/service-name": "web"}})
        );
    }

    #[test]
    fn fqdn_and_unlabelled_slices_keep_their_strings() {
        let cached: CachedSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ext", "namespace": "shop"},
            "addressType": "FQDN",
            "endpoints": [{"addresses": ["db.example.com"], "conditions": {"ready": true}}]
        }))
        .unwrap();
        assert_eq!(cached.service_name(), None);
        assert_eq!(cached.service_key(), None);
        let got = cached.to_slice();
        assert_eq!(got.address_type, "FQDN");
        assert_eq!(got.metadata.labels, None);
        assert_eq!(got.endpoints[0].addresses, ["db.example.com"]);
        assert_eq!(
            got.endpoints[0].conditions,
            Some(EndpointConditions {
                ready: Some(true),
                serving: None,
                terminating: None
            })
        );
        let other: CachedSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x"}, "addressType": "Unix", "endpoints": []
        }))
        .unwrap();
        assert_eq!(other.to_slice().address_type, "Unix");
    }
}
