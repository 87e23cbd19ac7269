//! A minimal in-process Kubernetes API server for end-to-end tests of the controller.
//!
//! No kube-apiserver binary can run here, so tests point a real `kube::Client` at this fixture:
//! plain HTTP/1.1 on `127.0.0.1:<random port>`, speaking the Kubernetes REST API closely enough
//! for kube-rs (`Api`, `watcher`, `reflector`, `Recorder`, Lease-style optimistic concurrency).
//! It is a test fixture; real clusters are the target.
//!
//! # What is implemented
//!
//! - The kinds in [`KINDS`] (core `services`, `nodes`, `namespaces`, `secrets`, `events`;
//!   `endpointslices`, `ingresses`, `ingressclasses`, `events.k8s.io` `events`, `leases`,
//!   `targetgroupbindings`, `ingressclassparams`), core (`/api/v1`) and named groups
//!   (`/apis/{group}/{version}`), namespaced, cluster-scoped and cross-namespace list/watch.
//!   Add a row to [`KINDS`] to serve another kind. `/version` answers too.
//! - Objects are stored as `serde_json::Value`; every write bumps one global resourceVersion
//!   (decimal string) and records an event in a bounded history (default [`DEFAULT_HISTORY`]
//!   events; history and store share the objects, so only superseded versions cost memory).
//! - **get**, **list** (`labelSelector`: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
//!   `k notin (a,b)`, comma = AND; `fieldSelector`: `path=v`, `path!=v` on any dotted path such as
//!   `metadata.name`; `limit` + `continue`: the token pins the first page's resourceVersion, later
//!   pages show the current objects, not a snapshot), **create** (uid, creationTimestamp,
//!   generation 1, `generateName`, 409 AlreadyExists), **update** (PUT, 409 Conflict on a stale
//!   `metadata.resourceVersion`), **patch** (merge, JSON patch (RFC 6902, via the `json-patch`
//!   crate; a failing op is 422; as on the API server, `test` of `null` passes on a missing
//!   path), strategic merge and server-side apply (both treated as a JSON
//!   merge patch; apply creates a missing object)), a patch that sets a different
//!   `metadata.resourceVersion` is a 409, **delete** (with `preconditions.resourceVersion`),
//!   **deletecollection**.
//! - Writes that change nothing are no-ops (no new resourceVersion, no event), as on a real server.
//! - `status` subresource for kinds with `status: true`: writes to `/status` change only `.status`,
//!   writes to the main resource keep the stored `.status`, create drops `.status`.
//!   `metadata.generation` increments when anything outside `metadata`/`status` changes.
//! - Finalizers: DELETE of an object with finalizers sets `deletionTimestamp` and
//!   `deletionGracePeriodSeconds: 0` (MODIFIED); adding a finalizer to such an object is 422;
//!   removing the last one deletes it (DELETED); an emptied `finalizers` list is dropped, as the
//!   API server's `omitempty` does.
//! - **watch** (`watch=true|1`): chunked newline-delimited JSON events. `resourceVersion` empty or
//!   `0` sends ADDED for current objects first; `N` replays history after `N`, or an ERROR event
//!   with a 410 Expired Status when `N` is older than the retained history. `sendInitialEvents=true`
//!   (needs `resourceVersionMatch=NotOlderThan` and `allowWatchBookmarks=true`, else 422) ends the
//!   initial ADDED events with a BOOKMARK annotated `k8s.io/initial-events-end`. `timeoutSeconds`
//!   (default 300) ends the stream; with `allowWatchBookmarks` a BOOKMARK is sent after each
//!   [`BOOKMARK_INTERVAL`] without events and before the stream ends. Selectors apply to watches,
//!   and an object that stops (starts) matching the selector is sent as DELETED (ADDED).
//! - Every error is a `Status` body (kind Status, apiVersion v1, status Failure, reason, code,
//!   details): NotFound 404 (also for unknown paths and kinds), AlreadyExists/Conflict 409,
//!   Invalid 422, Expired 410, MethodNotAllowed 405, BadRequest 400, UnsupportedMediaType 415.
//!   DELETE answers 200 with the object (marked for deletion, or as it was when removed).
//! - Every request is recorded as an RBAC [`Call`]; [`ApiServer::fail_next`] injects one failure.
//! - Direct control for tests (same events and resourceVersions as HTTP writes):
//!   [`ApiServer::apply_object`], [`ApiServer::delete_object`], typed [`ApiServer::apply`], etc.
//!   Direct writes are privileged: they may set `.status` and skip the resourceVersion check.
//!   [`ApiServer::compact`] and [`ApiServer::close_watches`] force the 410/re-list path.
//!
//! # Limits
//!
//! No TLS, authentication, authorization (everything is allowed, use [`ApiServer::rbac_verbs`]
//! to derive the needed RBAC), admission, defaulting or validation beyond "the body is a JSON
//! object"; no OpenAPI/discovery documents (`/api`, `/apis`); JSON only (no protobuf, no CBOR, no
//! YAML bodies, no gzip); hand-written HTTP/1.1 (keep-alive, no HTTP/2, no trailers); no
//! strategic-merge list semantics (lists are replaced); server-side apply has no field managers,
//! `managedFields`, `force` or conflicts; no `dryRun`; list `resourceVersion` and
//! `resourceVersionMatch` are ignored (always the current state, `limit` honoured even with
//! `resourceVersion=0`); a watch from a resourceVersion newer than the current one does not
//! wait; no watch on a single object path (use `fieldSelector=metadata.name=`); the history
//! window counts events, not time, and a watch that falls behind it gets 410 too; generation
//! also counts for kinds where a real server leaves it unset (Secrets, Events); grace periods
//! are ignored; core and `events.k8s.io` Events are separate stores; no garbage collection,
//! `ownerReferences` cascade or namespace deletion cascade; kube-client retries 429/503/504 by
//! itself, so inject other codes to see an error reach the caller.

mod http;
mod store;
mod tests;

use self::store::{Filter, Mode, Store};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Events kept for watch resumption (older resourceVersions get 410 Expired).
pub const DEFAULT_HISTORY: usize = 100_000;
/// Idle time after which a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

/// One servable kind.
#[derive(Debug)]
pub struct KindInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Has a `status` subresource: main-resource writes keep `.status`.
    pub status: bool,
}

const fn kind(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
) -> KindInfo {
    KindInfo {
        group,
        version,
        plural,
        kind,
        namespaced,
        status,
    }
}

/// The kinds served: group, version, plural, kind, namespaced, status subresource.
#[rustfmt::skip]
pub const KINDS: &[KindInfo] = &[
    kind("", "v1", "services", "Service", true, true),
    kind("", "v1", "nodes", "Node", false, true),
    kind("", "v1", "namespaces", "Namespace", false, true),
    kind("", "v1", "secrets", "Secret", true, false),
    kind("", "v1", "events", "Event", true, false),
    kind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false),
    kind("networking.k8s.io", "v1", "ingresses", "Ingress", true, true),
    kind("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, false),
    kind("events.k8s.io", "v1", "events", "Event", true, false),
    kind("coordination.k8s.io", "v1", "leases", "Lease", true, false),
    kind("elbv2.k8s.aws", "v1beta1", "targetgroupbindings", "TargetGroupBinding", true, true),
    kind("elbv2.k8s.aws", "v1beta1", "ingressclassparams", "IngressClassParams", false, false),
];

impl KindInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn has_api_version(&self, api_version: &str) -> bool {
        match api_version.split_once('/') {
            Some((g, v)) => g == self.group && v == self.version,
            None => self.group.is_empty() && api_version == self.version,
        }
    }
}

/// Index into [`KINDS`] by apiVersion and kind; panics on an unknown kind (a test bug).
fn kind_by_type(api_version: &str, kind: &str) -> usize {
    KINDS
        .iter()
        .position(|k| k.kind == kind && k.has_api_version(api_version))
        .unwrap_or_else(|| panic!("the apiserver fixture does not serve {api_version} {kind}"))
}

/// One recorded request, in RBAC terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// get, list, watch, create, update, patch, delete or deletecollection.
    pub verb: String,
    /// API group, "" for core.
    pub group: String,
    /// Resource plural.
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
}

/// A running fixture; dropping it stops the server and ends every open connection.
pub struct ApiServer {
    store: Arc<Store>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiServer {
    pub async fn start() -> Self {
        Self::start_with_history(DEFAULT_HISTORY).await
    }

    /// Like [`ApiServer::start`], keeping only the last `history` events for watch resumption.
    pub async fn start_with_history(history: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let store = Arc::new(Store::new(history));
        let task = tokio::spawn(http::serve(listener, store.clone()));
        Self { store, addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server, default namespace "default".
    pub fn client(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("server URL"));
        config.default_namespace = "default".into();
        kube::Client::try_from(config).expect("kube client")
    }

    pub fn shutdown(self) {}

    // ---- direct control --------------------------------------------------------------------

    /// Create or replace an object given with apiVersion, kind and metadata (status included).
    pub fn apply_object(&self, object: Value) -> Value {
        let (k, ns, name) = identity(&object);
        let result = match self.store.get(k, &ns, &name) {
            Ok(_) => self
                .store
                .update(k, &ns, &name, Mode::Direct, |_| Ok(object)),
            Err(_) => self.store.create(k, &ns, object, Mode::Direct),
        };
        Value::clone(&result.unwrap_or_else(|e| panic!("apply_object: {}", e.message)))
    }

    /// `ns` is ignored for cluster-scoped kinds.
    pub fn get_object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let k = kind_by_type(api_version, kind);
        self.store
            .get(k, scope(k, ns), name)
            .ok()
            .map(|o| Value::clone(&o))
    }

    /// Delete like an HTTP DELETE (finalizers honoured); the object as returned, None if absent.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        let k = kind_by_type(api_version, kind);
        self.store
            .delete(k, scope(k, ns), name, None)
            .ok()
            .map(|o| Value::clone(&o))
    }

    /// Every object of a kind, in every namespace, ordered by namespace and name.
    pub fn list_objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let k = kind_by_type(api_version, kind);
        let (_, items) = self.store.snapshot(k, &Filter::default());
        items.iter().map(|o| Value::clone(o)).collect()
    }

    pub fn apply<K: Serialize + DeserializeOwned>(&self, object: &K) -> K {
        typed(self.apply_object(serde_json::to_value(object).expect("serialize")))
    }

    pub fn get<K: Typed>(&self, ns: &str, name: &str) -> Option<K> {
        self.get_object(&K::api_version(&()), &K::kind(&()), ns, name)
            .map(typed)
    }

    pub fn delete<K: Typed>(&self, ns: &str, name: &str) -> Option<K> {
        self.delete_object(&K::api_version(&()), &K::kind(&()), ns, name)
            .map(typed)
    }

    pub fn list<K: Typed>(&self) -> Vec<K> {
        self.list_objects(&K::api_version(&()), &K::kind(&()))
            .into_iter()
            .map(typed)
            .collect()
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.store.lock().rv
    }

    /// Wait until `cond` holds (checked after every write and every 20 ms); false on timeout.
    pub async fn wait_for(&self, mut cond: impl FnMut(&Self) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.store.subscribe();
        loop {
            if cond(self) {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            let _ = tokio::time::timeout_at(
                deadline.min(now + Duration::from_millis(20)),
                changes.changed(),
            )
            .await;
        }
    }

    /// Forget the event history: resuming a watch from any earlier resourceVersion gets 410.
    pub fn compact(&self) {
        self.store.lock().compact();
    }

    /// End every open watch stream, as an apiserver restart would.
    pub fn close_watches(&self) {
        self.store.close.send_modify(|n| *n += 1);
    }

    pub fn open_watches(&self) -> usize {
        self.store
            .open_watches
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    // ---- recorded calls and failure injection --------------------------------------------

    pub fn calls(&self) -> Vec<Call> {
        self.store.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.store.lock().calls.clear();
    }

    /// (group, resource or resource/subresource, verb) of every call so far.
    pub fn rbac_verbs(&self) -> BTreeSet<(String, String, String)> {
        let calls = self.store.lock().calls.clone();
        calls
            .into_iter()
            .map(|c| {
                let resource = match c.subresource {
                    Some(sub) => format!("{}/{sub}", c.resource),
                    None => c.resource,
                };
                (c.group, resource, c.verb)
            })
            .collect()
    }

    /// Make the next request with this RBAC verb on `resource` (e.g. "ingresses/status") fail
    /// with `code` and a matching Status. Queue several by calling it several times.
    pub fn fail_next(&self, verb: &str, resource: &str, code: u16) {
        self.store
            .lock()
            .failures
            .push((verb.to_owned(), resource.to_owned(), code));
    }
}

/// Kind index, namespace ("" when cluster-scoped) and name of an object given to direct control.
fn identity(object: &Value) -> (usize, String, String) {
    let field = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let k = kind_by_type(&field(object.get("apiVersion")), &field(object.get("kind")));
    let meta = object.get("metadata");
    let ns = field(meta.and_then(|m| m.get("namespace")));
    let ns = if KINDS[k].namespaced && ns.is_empty() {
        "default".to_owned()
    } else {
        scope(k, &ns).to_owned()
    };
    (k, ns, field(meta.and_then(|m| m.get("name"))))
}

fn scope(k: usize, ns: &str) -> &str {
    if KINDS[k].namespaced {
        ns
    } else {
        ""
    }
}

/// What the typed helpers take: k8s-openapi types and kube-derived custom resources.
pub trait Typed: kube::Resource<DynamicType = ()> + DeserializeOwned {}
impl<K: kube::Resource<DynamicType = ()> + DeserializeOwned> Typed for K {}

fn typed<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("stored object matches its Rust type")
}
