//! The Gateway API kinds in the controller: which are served ([`discover`]), and their watch
//! caches ([`GatewayStores`]).
//!
//! `run` asks the API server once, at start, which of the kinds the translation reads are
//! served (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant, ListenerSet; TCPRoute,
//! UDPRoute and TLSRoute from the experimental channel; the AWS Load Balancer Controller's
//! `gateway.k8s.aws` LoadBalancerConfiguration), and watches only those, untyped (a malformed
//! object must not break a watch: it is logged and left out when the caches are read). A
//! cluster without the CRDs gets no watch request for them. The discovery is asked again
//! every `gateway_discovery_period` ([`GatewayStores::watch_new`]): a kind whose CRD was
//! installed after the start is watched from then on, without a restart.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lb_operator_core::translate::gateway::ParentReference;
use aws_lb_operator_core::translate::gateway::{
    Gateway, GatewayClass, GatewayObjects, GrpcRoute, HttpRoute, L4Route, ListenerSet,
    LoadBalancerConfiguration, ReferenceGrant,
};
use aws_lb_operator_core::translate::incremental::{self, Change};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::stores::{keep, reflect_dynamic, Signals};

/// API group of the Gateway API.
pub const GROUP: &str = "gateway.networking.k8s.io";
/// API group of the AWS Load Balancer Controller's Gateway configuration kinds.
pub const AWS_GROUP: &str = "gateway.k8s.aws";

/// A Gateway API kind the translation reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// GatewayClass (cluster-scoped).
    GatewayClass,
    /// Gateway.
    Gateway,
    /// HTTPRoute.
    HttpRoute,
    /// GRPCRoute.
    GrpcRoute,
    /// ReferenceGrant.
    ReferenceGrant,
    /// TCPRoute (experimental channel).
    TcpRoute,
    /// UDPRoute (experimental channel).
    UdpRoute,
    /// TLSRoute (experimental channel).
    TlsRoute,
    /// `gateway.k8s.aws` LoadBalancerConfiguration.
    LoadBalancerConfiguration,
    /// ListenerSet (standard channel since Gateway API v1.5).
    ListenerSet,
}

impl Kind {
    /// Every kind, in the order they are discovered.
    pub const ALL: [Kind; 10] = [
        Kind::GatewayClass,
        Kind::Gateway,
        Kind::HttpRoute,
        Kind::GrpcRoute,
        Kind::ReferenceGrant,
        Kind::TcpRoute,
        Kind::UdpRoute,
        Kind::TlsRoute,
        Kind::LoadBalancerConfiguration,
        Kind::ListenerSet,
    ];

    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GatewayClass => "GatewayClass",
            Kind::Gateway => "Gateway",
            Kind::HttpRoute => "HTTPRoute",
            Kind::GrpcRoute => "GRPCRoute",
            Kind::ReferenceGrant => "ReferenceGrant",
            Kind::TcpRoute => "TCPRoute",
            Kind::UdpRoute => "UDPRoute",
            Kind::TlsRoute => "TLSRoute",
            Kind::LoadBalancerConfiguration => "LoadBalancerConfiguration",
            Kind::ListenerSet => "ListenerSet",
        }
    }

    /// API group.
    pub fn group(self) -> &'static str {
        match self {
            Kind::LoadBalancerConfiguration => AWS_GROUP,
            _ => GROUP,
        }
    }

    /// Resource name (plural).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::GatewayClass => "gatewayclasses",
            Kind::Gateway => "gateways",
            Kind::HttpRoute => "httproutes",
            Kind::GrpcRoute => "grpcroutes",
            Kind::ReferenceGrant => "referencegrants",
            Kind::TcpRoute => "tcproutes",
            Kind::UdpRoute => "udproutes",
            Kind::TlsRoute => "tlsroutes",
            Kind::LoadBalancerConfiguration => "loadbalancerconfigurations",
            Kind::ListenerSet => "listenersets",
        }
    }

    /// The versions the translation reads, preferred first.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::HttpRoute
            | Kind::GrpcRoute
            | Kind::ListenerSet => &["v1"],
            Kind::ReferenceGrant => &["v1beta1", "v1"],
            Kind::TcpRoute | Kind::UdpRoute => &["v1alpha2"],
            Kind::TlsRoute => &["v1alpha2", "v1alpha3"],
            Kind::LoadBalancerConfiguration => &["v1beta1", "v1"],
        }
    }

    /// Whether objects of the kind live in namespaces.
    pub fn namespaced(self) -> bool {
        self != Kind::GatewayClass
    }

    /// Whether the kind is a route (its status lists parents).
    pub fn is_route(self) -> bool {
        matches!(
            self,
            Kind::HttpRoute | Kind::GrpcRoute | Kind::TcpRoute | Kind::UdpRoute | Kind::TlsRoute
        )
    }

    /// The kind of a route as the translation's status names it.
    pub fn of_route(kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.is_route() && k.as_str() == kind)
    }

    /// The kind as the translation's errors name it (`httproute`, `gatewayclass`, ...).
    pub fn of_error_kind(kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(kind))
    }

    /// The API resource of the kind at `version`.
    pub fn resource(self, version: &str) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group(), version, self.as_str()),
            self.plural(),
        )
    }
}

/// The Gateway API kinds the API server serves, with the version watched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Served kinds and their version.
    pub kinds: BTreeMap<Kind, String>,
}

impl Discovered {
    /// Whether no kind is served (the controller runs as without the Gateway API).
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The version watched of `kind`, if it is served.
    pub fn version(&self, kind: Kind) -> Option<&str> {
        self.kinds.get(&kind).map(String::as_str)
    }
}

/// Which of the kinds are served, from the API server's discovery documents: one request per
/// group version (a 404 means none of its kinds is). A failed request is logged and its kinds
/// are not watched (the controller must run as without them rather than not at all). Quiet:
/// the caller says what it does with the answer.
pub async fn discover(client: &Client) -> Discovered {
    let mut lists: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    let mut out = Discovered::default();
    for kind in Kind::ALL {
        for version in kind.versions() {
            let gv = format!("{}/{version}", kind.group());
            if !lists.contains_key(&gv) {
                let served = match client.list_api_group_resources(&gv).await {
                    Ok(list) => Some(list.resources.into_iter().map(|r| r.name).collect()),
                    Err(kube::Error::Api(s)) if s.code == 404 => None,
                    Err(e) => {
                        tracing::warn!(group_version = %gv, error = %e, "discovery failed; its Gateway API kinds are not watched");
                        None
                    }
                };
                lists.insert(gv.clone(), served);
            }
            let served = lists
                .get(&gv)
                .and_then(Option::as_ref)
                .is_some_and(|names| names.iter().any(|n| n == kind.plural()));
            if served {
                out.kinds.insert(kind, (*version).to_owned());
                break;
            }
        }
    }
    out
}

impl std::fmt::Display for Discovered {
    /// `gateway.networking.k8s.io/v1 Gateway, ...`, or `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, v)| format!("{}/{v} {}", k.group(), k.as_str()))
            .collect();
        f.write_str(&kinds.join(", "))
    }
}

/// What of an object the translation can read: everything but its `status` and
/// `resourceVersion` (and what [`crate::trim::strip`] drops), as a hash.
pub fn fingerprint(o: &DynamicObject) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut meta = o.metadata.clone();
    meta.resource_version = None;
    meta.managed_fields = None;
    let mut data = o.data.clone();
    if let Some(fields) = data.as_object_mut() {
        fields.remove("status");
    }
    let text = serde_json::to_string(&(meta, data)).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The change a watch event of `kind` records. A change of an object's status alone (most
/// often the controller's own status write coming back) rebuilds nothing: it only wakes the
/// scheduler, whose status writer compares the status again.
fn change(kind: Kind) -> impl Fn(&Signals, &watcher::Event<DynamicObject>) + Send + 'static {
    let seen: Mutex<HashMap<(String, String), u64>> = Mutex::default();
    move |s, event| {
        let key = |o: &DynamicObject| {
            (
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
            )
        };
        let changed = |o: &DynamicObject| {
            let namespace = o.metadata.namespace.clone().unwrap_or_default();
            let parents = if kind.is_route() {
                let refs: Option<Vec<ParentReference>> = o
                    .data
                    .pointer("/spec/parentRefs")
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                incremental::route_parents(&namespace, refs.as_deref())
            } else {
                Vec::new()
            };
            Change::Gateway {
                kind: kind.as_str().to_owned(),
                name: o.metadata.name.clone().unwrap_or_default(),
                namespace,
                parents,
            }
        };
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        s.gateway_status
            .store(true, std::sync::atomic::Ordering::Release);
        match event {
            watcher::Event::Apply(o) => {
                let fp = fingerprint(o);
                if seen.insert(key(o), fp) == Some(fp) {
                    s.wake();
                } else {
                    s.raise_one(changed(o));
                }
            }
            watcher::Event::Delete(o) => {
                seen.remove(&key(o));
                s.raise_one(changed(o));
            }
            watcher::Event::Init => seen.clear(),
            watcher::Event::InitApply(o) => {
                seen.insert(key(o), fingerprint(o));
            }
            watcher::Event::InitDone => s.raise_full(),
        }
    }
}

/// The watched kinds: each one's API resource and caches (one per namespace scope).
type Watched = BTreeMap<Kind, (ApiResource, Vec<Store<DynamicObject>>)>;

/// What starting a watch later needs.
struct Watcher {
    client: Client,
    scopes: Vec<Option<String>>,
    signals: Arc<Signals>,
}

/// The caches of the served Gateway API kinds (none when the API server serves none). Shared
/// by every clone: a kind watched later ([`GatewayStores::watch_new`]) is seen by all.
#[derive(Clone, Default)]
pub struct GatewayStores {
    stores: Arc<std::sync::RwLock<Watched>>,
    watcher: Option<Arc<Watcher>>,
}

impl GatewayStores {
    /// Starts a watch per served kind (per namespace of `scopes` for namespaced kinds).
    pub fn start(
        client: &Client,
        discovered: &Discovered,
        scopes: &[Option<&str>],
        signals: &Arc<Signals>,
        tasks: &mut Vec<JoinHandle<()>>,
    ) -> Self {
        let this = Self {
            stores: Arc::default(),
            watcher: Some(Arc::new(Watcher {
                client: client.clone(),
                scopes: scopes.iter().map(|s| s.map(str::to_owned)).collect(),
                signals: Arc::clone(signals),
            })),
        };
        this.watch_new(discovered, tasks);
        this
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Watched> {
        self.stores.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a watch for each kind of `discovered` not watched yet (a CRD installed after the
    /// start); returns those kinds. Their first full list raises a full rebuild.
    pub fn watch_new(&self, discovered: &Discovered, tasks: &mut Vec<JoinHandle<()>>) -> Vec<Kind> {
        let Some(w) = &self.watcher else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for (kind, version) in &discovered.kinds {
            if self.read().contains_key(kind) {
                continue;
            }
            let resource = kind.resource(version);
            let apis: Vec<Api<DynamicObject>> = if kind.namespaced() {
                w.scopes
                    .iter()
                    .map(|scope| match scope {
                        Some(ns) => Api::namespaced_with(w.client.clone(), ns, &resource),
                        None => Api::all_with(w.client.clone(), &resource),
                    })
                    .collect()
            } else {
                vec![Api::all_with(w.client.clone(), &resource)]
            };
            // The status of ReferenceGrants and configurations is neither read nor written.
            let trim: fn(&mut DynamicObject) = match kind {
                Kind::ReferenceGrant | Kind::LoadBalancerConfiguration => crate::trim::drop_status,
                _ => keep,
            };
            let caches = apis
                .into_iter()
                .map(|api| {
                    reflect_dynamic(
                        api,
                        resource.clone(),
                        &w.signals,
                        change(*kind),
                        trim,
                        tasks,
                    )
                })
                .collect();
            self.stores
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(*kind, (resource, caches));
            added.push(*kind);
        }
        added
    }

    /// Whether any kind is watched.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Waits until every cache has its first full list.
    pub async fn wait_ready(&self) {
        let caches: Vec<Store<DynamicObject>> = self
            .read()
            .values()
            .flat_map(|(_, c)| c.iter().cloned())
            .collect();
        for c in caches {
            let _ = c.wait_until_ready().await;
        }
    }

    /// The API resource watched for `kind`.
    pub fn resource(&self, kind: Kind) -> Option<ApiResource> {
        self.read().get(&kind).map(|(r, _)| r.clone())
    }

    /// Every cached object of `kind`.
    pub fn list(&self, kind: Kind) -> Vec<Arc<DynamicObject>> {
        self.read()
            .get(&kind)
            .map(|(_, caches)| caches.iter().flat_map(Store::state).collect())
            .unwrap_or_default()
    }

    /// One cached object of `kind` (`namespace` empty when cluster-scoped).
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let stores = self.read();
        let (resource, caches) = stores.get(&kind)?;
        let mut key = reflector::ObjectRef::new_with(name, resource.clone());
        if kind.namespaced() {
            key = key.within(namespace);
        }
        caches.iter().find_map(|c| c.get(&key))
    }

    /// A reference to a cached object, for events.
    pub fn reference(&self, kind: Kind, namespace: &str, name: &str) -> Option<ObjectReference> {
        let obj = self.get(kind, namespace, name)?;
        let resource = self.resource(kind)?;
        Some(ObjectReference {
            api_version: Some(resource.api_version),
            kind: Some(kind.as_str().to_owned()),
            namespace: obj.metadata.namespace.clone(),
            name: obj.metadata.name.clone(),
            uid: obj.metadata.uid.clone(),
            ..ObjectReference::default()
        })
    }

    /// Every cached object of `kind` the translation can read (the others are logged and left
    /// out).
    fn typed<T: DeserializeOwned>(&self, kind: Kind) -> Vec<T> {
        self.list(kind)
            .iter()
            .filter_map(|o| {
                let value = serde_json::to_value(&**o).ok()?;
                match serde_json::from_value::<T>(value) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(
                            kind = kind.as_str(),
                            namespace = o.metadata.namespace.as_deref().unwrap_or_default(),
                            name = o.metadata.name.as_deref().unwrap_or_default(),
                            error = %e,
                            "cannot be read; ignored"
                        );
                        None
                    }
                }
            })
            .collect()
    }

    /// Every Gateway API object, as the translation reads them.
    pub fn objects(&self) -> GatewayObjects {
        if self.is_empty() {
            return GatewayObjects::default();
        }
        GatewayObjects {
            classes: self.typed::<GatewayClass>(Kind::GatewayClass),
            gateways: self.typed::<Gateway>(Kind::Gateway),
            http_routes: self.typed::<HttpRoute>(Kind::HttpRoute),
            grpc_routes: self.typed::<GrpcRoute>(Kind::GrpcRoute),
            tcp_routes: self.typed::<L4Route>(Kind::TcpRoute),
            udp_routes: self.typed::<L4Route>(Kind::UdpRoute),
            tls_routes: self.typed::<L4Route>(Kind::TlsRoute),
            reference_grants: self.typed::<ReferenceGrant>(Kind::ReferenceGrant),
            load_balancer_configurations: self
                .typed::<LoadBalancerConfiguration>(Kind::LoadBalancerConfiguration),
            listener_sets: self.typed::<ListenerSet>(Kind::ListenerSet),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_change_keeps_the_fingerprint_anything_else_changes_it() {
        let object = |v: serde_json::Value| -> DynamicObject { serde_json::from_value(v).unwrap() };
        let base = serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r", "namespace": "web", "resourceVersion": "1", "generation": 1},
            "spec": {"hostnames": ["a.example.com"]},
            "status": {"parents": []}
        });
        let fp = fingerprint(&object(base.clone()));
        let mut status = base.clone();
        status["status"]["parents"] = serde_json::json!([{"controllerName": "x"}]);
        status["metadata"]["resourceVersion"] = "2".into();
        assert_eq!(fingerprint(&object(status)), fp);
        let mut spec = base.clone();
        spec["spec"]["hostnames"] = serde_json::json!(["b.example.com"]);
        assert_ne!(fingerprint(&object(spec)), fp);
        let mut annotated = base.clone();
        annotated["metadata"]["annotations"] = serde_json::json!({"k": "v"});
        assert_ne!(fingerprint(&object(annotated)), fp);
        let mut finalized = base;
        finalized["metadata"]["finalizers"] = serde_json::json!(["gateway.k8s.aws/alb"]);
        assert_ne!(fingerprint(&object(finalized)), fp);
    }

    #[test]
    fn kinds_name_their_resources_and_error_kinds() {
        for kind in Kind::ALL {
            let r = kind.resource(kind.versions()[0]);
            assert_eq!(r.kind, kind.as_str());
            assert_eq!(r.plural, kind.plural());
            assert_eq!(
                Kind::of_error_kind(&kind.as_str().to_ascii_lowercase()),
                Some(kind)
            );
        }
        assert_eq!(Kind::of_route("TCPRoute"), Some(Kind::TcpRoute));
        assert_eq!(Kind::of_route("Gateway"), None);
        assert_eq!(
            Kind::LoadBalancerConfiguration.resource("v1").api_version,
            "gateway.k8s.aws/v1"
        );
        assert!(!Kind::GatewayClass.namespaced());
    }
}
