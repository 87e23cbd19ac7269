//! A minimal Kubernetes API server, for the controller's end-to-end tests (in process) and for a
//! cluster on one machine (`dev-apiserver`, started by `scripts/dev-cluster.sh`).
//!
//! No kube-apiserver binary can run here, so tests point a real `kube::Client` — and real
//! `kubectl` — at this fixture: plain HTTP/1.1 on 127.0.0.1, speaking the Kubernetes REST API
//! closely enough for kube-rs (`Api`, `watcher`, `reflector`, `Recorder`, Lease-style optimistic
//! concurrency) and for the kubectl commands `tests/it/kubectl.rs` drives. It is a fixture for
//! tests and demos; real clusters are the target. It has no kube client and no AWS SDK, so it
//! builds in seconds, and it is not in the operator's image.
//!
//! # What is implemented
//!
//! - The kinds in [`KINDS`] (core `services`, `nodes`, `pods`, `namespaces`, `secrets`,
//!   `configmaps`, `events`; `endpointslices`, `ingresses`, `ingressclasses`, `events.k8s.io`
//!   `events`, `leases`, `customresourcedefinitions` (stored only), `targetgroupbindings`,
//!   `ingressclassparams`; the Gateway API kinds (`gatewayclasses`, `gateways`, `httproutes`,
//!   `grpcroutes`, `referencegrants`, `tcproutes`, `udproutes`, `tlsroutes`, `listenersets`) and `gateway.k8s.aws`
//!   `loadbalancerconfigurations` only while a CustomResourceDefinition of that name is stored,
//!   as on a real server), core (`/api/v1`) and named groups (`/apis/{group}/{version}`),
//!   namespaced, cluster-scoped and cross-namespace list/watch. Add a row to [`KINDS`] to serve
//!   another kind. `/version`, `/healthz`, `/readyz` and `/livez` answer too.
//! - Discovery in the legacy format (`/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]`,
//!   with short names and status subresources) and the OpenAPI documents kubectl fetches
//!   (`/openapi/v3` and one document per group version declaring `fieldValidation` on PATCH;
//!   `/openapi/v2` as an empty protobuf document), so kubectl validates on the server's side (it
//!   validates nothing) and builds strategic merge patches from its compiled-in types.
//! - `meta.k8s.io/v1` Tables for `kubectl get` (get, list and watch) with kubectl's columns for
//!   Services, Ingresses, EndpointSlices and TargetGroupBindings, Name and Age for the rest.
//! - Objects are stored as `serde_json::Value`; every write bumps one global resourceVersion
//!   (decimal string) and records an event in a bounded history (default [`DEFAULT_HISTORY`]
//!   events; history and store share the objects, so only superseded versions cost memory).
//! - **get**, **list** (`labelSelector`: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
//!   `k notin (a,b)`, comma = AND; `fieldSelector`: `path=v`, `path!=v` on any dotted path such as
//!   `metadata.name`; `limit` + `continue`: the token pins the first page's resourceVersion, later
//!   pages show the current objects, not a snapshot), **create** (uid, creationTimestamp,
//!   generation 1, `generateName`, 409 AlreadyExists; a uid in the body is replaced, as a real
//!   server does), **update** (PUT, 409 Conflict on a stale `metadata.resourceVersion` or a
//!   different `metadata.uid`), **patch**: merge, JSON patch (RFC 6902, via the `json-patch`
//!   crate; a failing op is 422; as on the API server, `test` of `null` passes on a missing
//!   path), strategic merge (built-in kinds only, 415 for custom resources;
//!   `$patch: replace|delete`, `$retainKeys`, `$setElementOrder/`, `$deleteFromPrimitiveList/`,
//!   and the list merge keys of `merge::list_type`: Service ports by `port`, finalizers as a set,
//!   ownerReferences by `uid`, Pod containers/volumes/env by `name`, container ports by
//!   `containerPort`, Node addresses and conditions by `type`; every other list is replaced) and
//!   **server-side apply** (`fieldManager` required; creates a missing object; per-manager field
//!   sets: a field the manager stops applying is removed unless another manager applies it, and
//!   a field another applier owns with a different value is a 409 Conflict naming the manager
//!   and field unless `force=true`); a patch that sets a different `metadata.resourceVersion` is
//!   a 409, **delete** (with `preconditions.resourceVersion`), **deletecollection**.
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
//! - Every request is recorded as an RBAC [`Call`] (`dev-apiserver` turns this off);
//!   [`ApiServer::fail_next`] injects one failure.
//! - Direct control (same events and resourceVersions as HTTP writes): [`ApiServer::apply_object`],
//!   [`ApiServer::delete_object`], [`ApiServer::preload`] (YAML files, no client: how
//!   `dev-apiserver --preload` loads tens of thousands of objects), etc. Direct writes are
//!   privileged: they may set `.status` and `uid` and skip the resourceVersion check.
//!   [`ApiServer::compact`] and [`ApiServer::close_watches`] force the 410/re-list path.
//!
//! # Limits (what it still leaves out)
//!
//! No TLS, authentication, authorization (everything is allowed, use [`ApiServer::rbac_verbs`]
//! to derive the needed RBAC), admission, defaulting (no clusterIP, no nodePort, no `protocol:
//! TCP`) or validation beyond "the body is a JSON object"; `fieldValidation` is accepted and
//! ignored (unknown fields are kept); namespaces need not exist, and deleting one deletes nothing
//! in it; no aggregated discovery (clients fall back to the legacy documents), and the OpenAPI
//! documents hold no schemas (`kubectl explain` finds nothing, `kubectl apply` uses merge keys
//! compiled into kubectl, so a kind only merges its lists correctly where
//! `merge::list_type` agrees); custom resources are the fixed `elbv2.k8s.aws` kinds and the Gateway kinds above: storing
//! any other CustomResourceDefinition serves nothing new; JSON only (no protobuf, no CBOR, no YAML bodies
//! except server-side apply, no gzip); hand-written HTTP/1.1 (keep-alive, no HTTP/2, no
//! trailers); server-side apply keeps its field sets out of the object (no `managedFields`), does
//! not track fields set by update and patch (they only release an applier's claim on a field
//! they change), and knows no list semantics beyond `merge::list_type` (other lists are
//! atomic); client-side to server-side apply migration is not done; no `dryRun`; list
//! `resourceVersion` and `resourceVersionMatch` are ignored (always the current state, `limit`
//! honoured even with `resourceVersion=0`); a watch from a resourceVersion newer than the
//! current one does not wait; no watch on a single object path (use
//! `fieldSelector=metadata.name=`); the history window counts events, not time, and a watch that
//! falls behind it gets 410 too; generation also counts for kinds where a real server leaves it
//! unset (Secrets, Events); grace periods are ignored; core and `events.k8s.io` Events are
//! separate stores; no garbage collection, `ownerReferences` cascade or namespace deletion
//! cascade; no `/scale`, `/exec`, `/log` or other subresources than `status`; Tables have fixed
//! columns (no `additionalPrinterColumns` from CRDs, no `-o wide` extras); kube-client retries
//! 429/503/504 by itself, so inject other codes to see an error reach the caller.

mod discovery;
mod http;
mod merge;
mod store;
mod table;

pub use self::store::ApiError;
use self::store::{Filter, Mode, Store};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Short names in discovery (`kubectl get svc`).
    pub short_names: &'static [&'static str],
}

const fn kind(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
    short_names: &'static [&'static str],
) -> KindInfo {
    KindInfo {
        group,
        version,
        plural,
        kind,
        namespaced,
        status,
        short_names,
    }
}

/// The kinds served: group, version, plural, kind, namespaced, status subresource, short names.
#[rustfmt::skip]
pub const KINDS: &[KindInfo] = &[
    kind("", "v1", "services", "Service", true, true, &["svc"]),
    kind("", "v1", "nodes", "Node", false, true, &["no"]),
    kind("", "v1", "pods", "Pod", true, true, &["po"]),
    kind("", "v1", "namespaces", "Namespace", false, true, &["ns"]),
    kind("", "v1", "secrets", "Secret", true, false, &[]),
    kind("", "v1", "configmaps", "ConfigMap", true, false, &["cm"]),
    kind("", "v1", "events", "Event", true, false, &["ev"]),
    kind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false, &[]),
    kind("networking.k8s.io", "v1", "ingresses", "Ingress", true, true, &["ing"]),
    kind("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, false, &[]),
    kind("events.k8s.io", "v1", "events", "Event", true, false, &["ev"]),
    kind("coordination.k8s.io", "v1", "leases", "Lease", true, false, &[]),
    kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true, &["crd", "crds"]),
    kind("elbv2.k8s.aws", "v1beta1", "targetgroupbindings", "TargetGroupBinding", true, true, &[]),
    kind("elbv2.k8s.aws", "v1beta1", "ingressclassparams", "IngressClassParams", false, false, &[]),
    // Served only while their CustomResourceDefinition is stored (`KindInfo::needs_crd`).
    kind("gateway.networking.k8s.io", "v1", "gatewayclasses", "GatewayClass", false, true, &["gc"]),
    kind("gateway.networking.k8s.io", "v1", "gateways", "Gateway", true, true, &["gtw"]),
    kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", true, true, &[]),
    kind("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute", true, true, &[]),
    kind("gateway.networking.k8s.io", "v1beta1", "referencegrants", "ReferenceGrant", true, false, &["refgrant"]),
    kind("gateway.networking.k8s.io", "v1alpha2", "tcproutes", "TCPRoute", true, true, &[]),
    kind("gateway.networking.k8s.io", "v1alpha2", "udproutes", "UDPRoute", true, true, &[]),
    kind("gateway.networking.k8s.io", "v1alpha2", "tlsroutes", "TLSRoute", true, true, &[]),
    kind("gateway.networking.k8s.io", "v1", "listenersets", "ListenerSet", true, true, &["lset"]),
    kind("gateway.k8s.aws", "v1beta1", "loadbalancerconfigurations", "LoadBalancerConfiguration", true, true, &[]),
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

    /// A custom resource (served from a CRD on a real server): no strategic merge patch.
    pub fn custom(&self) -> bool {
        self.group == "elbv2.k8s.aws" || self.needs_crd()
    }

    /// Served only while a CustomResourceDefinition named `<plural>.<group>` is stored, as a
    /// real server serves a CRD's kind (the Gateway API kinds and LoadBalancerConfiguration:
    /// tests of a cluster without them see no such kind in discovery, and a 404 for its
    /// paths). Only the name of the stored CRD matters, not its schema.
    pub fn needs_crd(&self) -> bool {
        matches!(self.group, "gateway.networking.k8s.io" | "gateway.k8s.aws")
    }

    /// The name of the CRD that serves this kind.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// Index into [`KINDS`] by apiVersion and kind.
fn kind_by_type(api_version: &str, kind: &str) -> Result<usize, ApiError> {
    KINDS
        .iter()
        .position(|k| k.kind == kind && k.has_api_version(api_version))
        .ok_or_else(|| {
            ApiError::new(
                404,
                format!("the apiserver fixture does not serve {api_version} {kind}"),
            )
        })
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

/// Why manifests could not be preloaded.
#[derive(Debug)]
pub enum PreloadError {
    Read(PathBuf, std::io::Error),
    Yaml(PathBuf, String),
    Object(PathBuf, ApiError),
}

impl std::fmt::Display for PreloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Yaml(p, e) => write!(f, "{}: invalid YAML: {e}", p.display()),
            Self::Object(p, e) => write!(f, "{}: {}", p.display(), e.message),
        }
    }
}

impl std::error::Error for PreloadError {}

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
    /// Listen on `127.0.0.1:<random port>`.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0", DEFAULT_HISTORY).await
    }

    /// Listen on `addr`, keeping only the last `history` events for watch resumption.
    pub async fn bind(addr: &str, history: usize) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let store = Arc::new(Store::new(history));
        let task = tokio::spawn(http::serve(listener, store.clone(), addr));
        Ok(Self { store, addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig (YAML) for this server: cluster, user and context `dev`, namespace default.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: dev\n  cluster:\n    server: {}\n\
             users:\n- name: dev\n  user: {{}}\ncontexts:\n- name: dev\n  context:\n    cluster: dev\n    \
             user: dev\n    namespace: default\ncurrent-context: dev\n",
            self.url()
        )
    }

    // ---- direct control --------------------------------------------------------------------

    /// Create or replace an object given with apiVersion, kind and metadata (status included).
    pub fn apply_object(&self, object: Value) -> Result<Value, ApiError> {
        let (k, ns, name) = identity(&object)?;
        let result = match self.store.get(k, &ns, &name) {
            Ok(_) => self
                .store
                .update(k, &ns, &name, Mode::Direct, |_| Ok(object)),
            Err(_) => self.store.create(k, &ns, object, Mode::Direct),
        };
        result.map(|o| Value::clone(&o))
    }

    /// `ns` is ignored for cluster-scoped kinds; Ok(None) when absent.
    pub fn get_object(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let k = kind_by_type(api_version, kind)?;
        Ok(self
            .store
            .get(k, scope(k, ns), name)
            .ok()
            .map(|o| Value::clone(&o)))
    }

    /// Delete like an HTTP DELETE (finalizers honoured); the object as returned, None if absent.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let k = kind_by_type(api_version, kind)?;
        Ok(self
            .store
            .delete(k, scope(k, ns), name, None)
            .ok()
            .map(|o| Value::clone(&o)))
    }

    /// Every object of a kind, in every namespace, ordered by namespace and name.
    pub fn list_objects(&self, api_version: &str, kind: &str) -> Result<Vec<Value>, ApiError> {
        let k = kind_by_type(api_version, kind)?;
        let (_, items) = self.store.snapshot(k, &Filter::default());
        Ok(items.iter().map(|o| Value::clone(o)).collect())
    }

    /// Load every object of the YAML files (`.yaml`, `.yml`) in `path` (a file or a directory,
    /// recursively, in name order) as direct writes: no client, no HTTP. Returns the count.
    pub fn preload(&self, path: &Path) -> Result<usize, PreloadError> {
        let mut files = Vec::new();
        collect_yaml(path, &mut files)?;
        let mut count = 0;
        for file in files {
            let text =
                std::fs::read_to_string(&file).map_err(|e| PreloadError::Read(file.clone(), e))?;
            // Local files the user chose, often tens of thousands of objects: no parser budget
            // (its default stops at 1,024 documents).
            let mut options = serde_saphyr::Options::default();
            options.budget = None;
            let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(&text, options)
                .map_err(|e| PreloadError::Yaml(file.clone(), e.to_string()))?;
            for doc in docs.into_iter().filter(|d| d.is_object()) {
                let items = match doc.get("items").and_then(Value::as_array) {
                    Some(items) if doc.get("kind").and_then(Value::as_str) == Some("List") => {
                        items.clone()
                    }
                    _ => vec![doc],
                };
                for item in items {
                    self.apply_object(item)
                        .map_err(|e| PreloadError::Object(file.clone(), e))?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.store.lock().rv
    }

    /// Wait until `cond` holds (checked after every write and every 20 ms); false on timeout.
    pub async fn wait_until(&self, mut cond: impl FnMut() -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.store.subscribe();
        loop {
            if cond() {
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

    /// Stop recording calls (a long-running `dev-apiserver` would grow without bound).
    pub fn record_calls(&self, on: bool) {
        self.store.lock().record_calls = on;
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

fn collect_yaml(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), PreloadError> {
    let read_err = |e| PreloadError::Read(path.to_path_buf(), e);
    if !std::fs::metadata(path).map_err(read_err)?.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let yaml = matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if entry.is_dir() || yaml {
            collect_yaml(&entry, out)?;
        }
    }
    Ok(())
}

/// Kind index, namespace ("" when cluster-scoped) and name of an object given to direct control.
fn identity(object: &Value) -> Result<(usize, String, String), ApiError> {
    let field = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let k = kind_by_type(&field(object.get("apiVersion")), &field(object.get("kind")))?;
    let meta = object.get("metadata");
    let ns = field(meta.and_then(|m| m.get("namespace")));
    let ns = if KINDS[k].namespaced && ns.is_empty() {
        "default".to_owned()
    } else {
        scope(k, &ns).to_owned()
    };
    Ok((k, ns, field(meta.and_then(|m| m.get("name")))))
}

fn scope(k: usize, ns: &str) -> &str {
    if KINDS[k].namespaced {
        ns
    } else {
        ""
    }
}
