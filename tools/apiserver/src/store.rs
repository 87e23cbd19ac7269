//! The object store: objects, the global resourceVersion, the bounded event history, the write
//! semantics (status subresource, generation, finalizers, conflicts) and selectors.

use super::merge::{self, Owners};
use super::{Call, KindInfo, KINDS};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

pub type Obj = Arc<Value>;
/// (index into KINDS, namespace or "", name)
type Key = (usize, String, String);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One write; `obj` is the new state (the last state for Deleted), `prev` the one before.
#[derive(Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: usize,
    pub etype: EventType,
    pub obj: Obj,
    pub prev: Option<Obj>,
}

/// Who writes: the main resource, the status subresource, or a test (everything, no RV check).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Main,
    Status,
    Direct,
}

pub struct State {
    pub rv: u64,
    /// Watches may resume from resourceVersions >= floor.
    floor: u64,
    objects: BTreeMap<Key, Obj>,
    /// Server-side apply field sets by object and manager.
    owners: BTreeMap<Key, Owners>,
    history: VecDeque<Event>,
    history_limit: usize,
    pub calls: Vec<Call>,
    pub record_calls: bool,
    pub failures: Vec<(String, String, u16)>,
    rv_tx: watch::Sender<u64>,
}

pub struct Store {
    state: Mutex<State>,
    /// Bumped to end every open watch.
    pub close: watch::Sender<u64>,
    pub open_watches: AtomicUsize,
}

/// A Kubernetes error, sent as a `Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    details: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.message, self.code, self.reason)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            409 => "Conflict",
            410 => "Expired",
            415 => "UnsupportedMediaType",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// An error about one object, with `details` as the real server sends them.
    pub(crate) fn about(code: u16, info: &KindInfo, name: &str, message: &str) -> Self {
        let resource = if info.group.is_empty() {
            info.plural.to_owned()
        } else {
            format!("{}.{}", info.plural, info.group)
        };
        let message = match code {
            404 => format!("{resource} \"{name}\" not found"),
            409 if message.is_empty() => format!("{resource} \"{name}\" already exists"),
            409 => format!("Operation cannot be fulfilled on {resource} \"{name}\": {message}"),
            _ => format!("{} \"{name}\" is invalid: {message}", info.kind),
        };
        let mut e = Self::new(code, message);
        if code == 409 && e.message.ends_with("already exists") {
            e.reason = "AlreadyExists";
        }
        e.details = Some(json!({"name": name, "group": info.group, "kind": info.plural}));
        e
    }

    pub fn not_found(info: &KindInfo, name: &str) -> Self {
        Self::about(404, info, name, "")
    }

    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// Metadata a write cannot change (generation and resourceVersion are the server's).
const IMMUTABLE: [&str; 8] = [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
];
const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

impl State {
    /// Store a write under a new resourceVersion, record its event and wake the watches.
    fn commit(&mut self, key: Key, etype: EventType, mut obj: Value, prev: Option<Obj>) -> Obj {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = Value::String(self.rv.to_string());
        let obj = Arc::new(obj);
        let kind = key.0;
        if etype == EventType::Deleted {
            self.owners.remove(&key);
            self.objects.remove(&key);
        } else {
            self.objects.insert(key, obj.clone());
        }
        self.history.push_back(Event {
            rv: self.rv,
            kind,
            etype,
            obj: obj.clone(),
            prev,
        });
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.floor = e.rv;
            }
        }
        self.rv_tx.send_replace(self.rv);
        obj
    }

    pub fn compact(&mut self) {
        self.rv += 1;
        self.floor = self.rv;
        self.history.clear();
        self.rv_tx.send_replace(self.rv);
    }

    fn existing(&self, k: usize, ns: &str, name: &str) -> Result<(Key, Obj), ApiError> {
        let key = (k, ns.to_owned(), name.to_owned());
        match self.objects.get(&key) {
            Some(o) => Ok((key, o.clone())),
            None => Err(ApiError::not_found(&KINDS[k], name)),
        }
    }
}

static UIDS: AtomicU64 = AtomicU64::new(1);

fn now() -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or_default();
    let ts = k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or_default();
    serde_json::to_value(Time(ts)).unwrap_or_default()
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn finalizers(obj: &Value) -> Vec<&str> {
    let list = obj
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(o) = obj.as_object_mut() {
        match value {
            Some(v) => o.insert(field.to_owned(), v),
            None => o.remove(field),
        };
    }
}

/// Everything outside metadata and status is equal (else generation increments).
fn spec_eq(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        for f in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(f);
        }
        m
    };
    strip(a) == strip(b)
}

fn metadata_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let bad = || {
        ApiError::new(
            400,
            "the body must be a JSON object with an object `metadata`",
        )
    };
    let meta = obj
        .as_object_mut()
        .ok_or_else(bad)?
        .entry("metadata")
        .or_insert_with(|| json!({}));
    meta.as_object_mut().ok_or_else(bad)
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let state = State {
            rv: 0,
            floor: 0,
            objects: BTreeMap::new(),
            owners: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            calls: Vec::new(),
            record_calls: true,
            failures: Vec::new(),
            rv_tx: watch::Sender::new(0),
        };
        Self {
            state: Mutex::new(state),
            close: watch::Sender::new(0),
            open_watches: AtomicUsize::new(0),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes up after every write.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.lock().rv_tx.subscribe()
    }

    /// Record a call; Some(code) when an injected failure matches it.
    pub fn record(&self, call: Call) -> Option<u16> {
        let mut st = self.lock();
        let resource = match &call.subresource {
            Some(sub) => format!("{}/{sub}", call.resource),
            None => call.resource.clone(),
        };
        let hit = st
            .failures
            .iter()
            .position(|(v, r, _)| *v == call.verb && *r == resource);
        if st.record_calls {
            st.calls.push(call);
        }
        hit.map(|i| st.failures.remove(i).2)
    }

    /// Whether kind `k` is served now (see [`KindInfo::needs_crd`]).
    pub fn served(&self, k: usize) -> bool {
        let info = &KINDS[k];
        if !info.needs_crd() {
            return true;
        }
        let Some(crd) = KINDS
            .iter()
            .position(|c| c.plural == "customresourcedefinitions")
        else {
            return false;
        };
        self.get(crd, "", &info.crd_name()).is_ok()
    }

    pub fn get(&self, k: usize, ns: &str, name: &str) -> Result<Obj, ApiError> {
        self.lock().existing(k, ns, name).map(|(_, o)| o)
    }

    /// Current resourceVersion and every matching object of a kind.
    pub fn snapshot(&self, k: usize, filter: &Filter) -> (u64, Vec<Obj>) {
        let (rv, items, _) = self.list(k, filter, 0, None).unwrap_or_default();
        (rv, items)
    }

    /// One page: (resourceVersion, items, continue token). `limit` 0 means no limit.
    pub fn list(
        &self,
        k: usize,
        filter: &Filter,
        limit: usize,
        cont: Option<&str>,
    ) -> Result<(u64, Vec<Obj>, Option<String>), ApiError> {
        let st = self.lock();
        let (rv, start) = match cont.filter(|c| !c.is_empty()) {
            None => (st.rv, Bound::Included((k, String::new(), String::new()))),
            Some(token) => {
                let bad = || ApiError::new(400, format!("invalid continue token {token:?}"));
                let mut parts = token.splitn(3, '/');
                let (Some(rv), Some(ns), Some(name)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                let rv: u64 = rv.parse().map_err(|_| bad())?;
                if rv < st.floor {
                    return Err(ApiError::new(
                        410,
                        "The provided continue parameter is too old; list again",
                    ));
                }
                (rv, Bound::Excluded((k, ns.to_owned(), name.to_owned())))
            }
        };
        let (mut items, mut last, mut next) = (Vec::new(), ("", ""), None);
        for ((kk, ns, name), obj) in st.objects.range((start, Bound::Unbounded)) {
            if *kk != k {
                break;
            }
            if !filter.matches(obj) {
                continue;
            }
            if limit > 0 && items.len() == limit {
                next = Some(format!("{rv}/{}/{}", last.0, last.1));
                break;
            }
            items.push(obj.clone());
            last = (ns.as_str(), name.as_str());
        }
        Ok((rv, items, next))
    }

    /// Events of kind `k` after resourceVersion `after`, and the resourceVersion they reach;
    /// Err(floor) when `after` is older than the history.
    pub fn events_since(&self, after: u64, k: usize) -> Result<(u64, Vec<Event>), u64> {
        let st = self.lock();
        if after < st.floor {
            return Err(st.floor);
        }
        let start = st.history.partition_point(|e| e.rv <= after);
        let events = st
            .history
            .range(start..)
            .filter(|e| e.kind == k)
            .cloned()
            .collect();
        Ok((st.rv.max(after), events))
    }

    pub fn create(&self, k: usize, ns: &str, mut body: Value, mode: Mode) -> Result<Obj, ApiError> {
        let info = &KINDS[k];
        let meta = metadata_mut(&mut body)?;
        if info.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && n != ns => {
                    let msg = "the namespace of the provided object does not match the namespace sent on the request";
                    return Err(ApiError::new(400, msg));
                }
                _ => meta.insert("namespace".into(), ns.into()),
            };
        } else {
            meta.remove("namespace");
        }
        let mut st = self.lock();
        let name = match (
            meta.get("name").and_then(Value::as_str),
            meta.get("generateName").and_then(Value::as_str),
        ) {
            (Some(n), _) if !n.is_empty() => n.to_owned(),
            (_, Some(prefix)) => generate_name(&st, k, ns, prefix),
            _ => {
                return Err(ApiError::about(
                    422,
                    info,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ))
            }
        };
        let key = (k, ns.to_owned(), name.clone());
        if st.objects.contains_key(&key) {
            return Err(ApiError::about(409, info, &name, ""));
        }
        let uid = UIDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        meta.insert("name".into(), name.into());
        meta.insert(
            "uid".into(),
            format!("00000000-0000-4000-8000-{uid:012x}").into(),
        );
        meta.insert("creationTimestamp".into(), now());
        meta.insert("generation".into(), 1.into());
        for f in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            meta.remove(f);
        }
        body["apiVersion"] = info.api_version().into();
        body["kind"] = info.kind.into();
        if mode == Mode::Main && info.status {
            set_or_remove(&mut body, "status", None);
        }
        Ok(st.commit(key, EventType::Added, body, None))
    }

    /// Replace an object with what `propose` makes of the stored one (PUT and PATCH).
    pub fn update(
        &self,
        k: usize,
        ns: &str,
        name: &str,
        mode: Mode,
        propose: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Obj, ApiError> {
        let info = &KINDS[k];
        let mut st = self.lock();
        let (key, old) = st.existing(k, ns, name)?;
        let mut new = propose(&old)?;
        let proposed_meta = metadata_mut(&mut new)?;
        if let Some(n) = proposed_meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| *n != name)
        {
            let msg =
                format!("the name of the object ({n}) does not match the name on the URL ({name})");
            return Err(ApiError::new(400, msg));
        }
        if let Some(uid) = proposed_meta
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty() && mode != Mode::Direct)
        {
            let stored = meta_str(&old, "uid").unwrap_or_default();
            if uid != stored {
                let msg = format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {stored}"
                );
                return Err(ApiError::about(409, info, name, &msg));
            }
        }
        let rv = proposed_meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if mode != Mode::Direct && !rv.is_empty() && Some(rv) != meta_str(&old, "resourceVersion") {
            return Err(ApiError::about(409, info, name, STALE));
        }
        match mode {
            Mode::Status => {
                let status = new.get("status").cloned();
                new = Value::clone(&old);
                set_or_remove(&mut new, "status", status);
            }
            Mode::Main if info.status => {
                set_or_remove(&mut new, "status", old.get("status").cloned())
            }
            _ => {}
        }
        new["apiVersion"] = info.api_version().into();
        new["kind"] = info.kind.into();
        let spec_changed = !spec_eq(&old, &new);
        let deleting = meta_str(&old, "deletionTimestamp").is_some();
        let old_finalizers = finalizers(&old);
        if deleting && finalizers(&new).iter().any(|f| !old_finalizers.contains(f)) {
            let msg = "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted";
            return Err(ApiError::about(422, info, name, msg));
        }
        let meta = metadata_mut(&mut new)?;
        // Stored as the API server stores it (`omitempty`): an emptied list is no list.
        if meta
            .get("finalizers")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            meta.remove("finalizers");
        }
        for f in IMMUTABLE {
            match old["metadata"].get(f) {
                Some(v) => meta.insert(f.to_owned(), v.clone()),
                None => meta.remove(f),
            };
        }
        if spec_changed && mode != Mode::Status {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            meta.insert("generation".into(), (generation + 1).into());
        }
        if new == *old {
            return Ok(old);
        }
        if let Some(owners) = st.owners.get_mut(&key) {
            merge::release_changed(info, owners, &old, &new);
        }
        let etype = if deleting && finalizers(&new).is_empty() {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        Ok(st.commit(key, etype, new, Some(old)))
    }

    /// Server-side apply by `manager`: creates a missing object, else updates like a PATCH.
    pub fn apply(
        &self,
        k: usize,
        ns: &str,
        name: &str,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Obj, ApiError> {
        let info = &KINDS[k];
        let key = (k, ns.to_owned(), name.to_owned());
        let (live, mut owners) = {
            let st = self.lock();
            let live = st.objects.get(&key).cloned();
            (live, st.owners.get(&key).cloned().unwrap_or_default())
        };
        let merged = merge::apply(info, live.as_deref(), applied, &mut owners, manager, force)
            .map_err(|conflicts| {
                let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for c in &conflicts {
                    by_manager
                        .entry(c.manager.as_str())
                        .or_default()
                        .push(c.path.to_string());
                }
                let version = info.api_version();
                let parts: Vec<String> = by_manager
                    .into_iter()
                    .map(|(m, paths)| match paths.as_slice() {
                        [one] => format!("conflict with \"{m}\" using {version}: {one}"),
                        _ => format!(
                            "conflicts with \"{m}\" using {version}:\n- {}",
                            paths.join("\n- ")
                        ),
                    })
                    .collect();
                let n = conflicts.len();
                let plural = if n == 1 { "" } else { "s" };
                let msg = format!(
                    "Apply failed with {n} conflict{plural}: {}",
                    parts.join("\n")
                );
                ApiError::new(409, msg)
            })?;
        let result = match &live {
            None => self.create(k, ns, merged, Mode::Main),
            Some(_) => self.update(k, ns, name, Mode::Main, |_| Ok(merged)),
        }?;
        let mut st = self.lock();
        if st.objects.contains_key(&key) {
            st.owners.insert(key, owners);
        }
        Ok(result)
    }

    /// Delete, or only mark for deletion while finalizers remain.
    pub fn delete(
        &self,
        k: usize,
        ns: &str,
        name: &str,
        precondition_rv: Option<&str>,
    ) -> Result<Obj, ApiError> {
        let mut st = self.lock();
        let (key, old) = st.existing(k, ns, name)?;
        if precondition_rv.is_some_and(|rv| Some(rv) != meta_str(&old, "resourceVersion")) {
            return Err(ApiError::about(409, &KINDS[k], name, STALE));
        }
        if finalizers(&old).is_empty() {
            return Ok(st.commit(key, EventType::Deleted, Value::clone(&old), Some(old)));
        }
        if meta_str(&old, "deletionTimestamp").is_some() {
            return Ok(old);
        }
        let mut new = Value::clone(&old);
        new["metadata"]["deletionTimestamp"] = now();
        new["metadata"]["deletionGracePeriodSeconds"] = 0.into();
        Ok(st.commit(key, EventType::Modified, new, Some(old)))
    }
}

/// `prefix` + 5 characters from the real server's alphabet, not yet taken.
fn generate_name(st: &State, k: usize, ns: &str, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut seed = st
        .rv
        .wrapping_add(UIDS.load(std::sync::atomic::Ordering::Relaxed));
    loop {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let suffix: String = (0..5)
            .map(|i| ALPHABET[((seed >> (20 + i * 7)) % 27) as usize] as char)
            .collect();
        let name = format!("{prefix}{suffix}");
        if !st.objects.contains_key(&(k, ns.to_owned(), name.clone())) {
            return name;
        }
    }
}

// ---- selectors ------------------------------------------------------------------------------

/// One selector requirement: the label (or, for a field selector, the dotted path) has one of
/// `values` (is present when None), or not when `negate`.
struct Requirement {
    field: bool,
    key: String,
    values: Option<Vec<String>>,
    negate: bool,
}

/// Namespace, label selector and field selector of a list or watch.
#[derive(Default)]
pub struct Filter {
    ns: Option<String>,
    requirements: Vec<Requirement>,
}

impl Filter {
    pub fn parse(
        ns: Option<String>,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        let terms = split_terms(labels.unwrap_or(""))
            .into_iter()
            .map(|t| (false, t));
        for (field, term) in terms.chain(
            split_terms(fields.unwrap_or(""))
                .into_iter()
                .map(|t| (true, t)),
        ) {
            let bad = || ApiError::new(400, format!("unable to parse requirement {term:?}"));
            let one = |v: &str| Some(vec![v.trim().to_owned()]);
            let set = |s: &str| {
                let inner = s
                    .trim()
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(bad)?;
                Ok::<_, ApiError>(Some(
                    inner.split(',').map(|v| v.trim().to_owned()).collect(),
                ))
            };
            let (key, values, negate) = if let Some(key) = term.strip_prefix('!') {
                (key, None, true)
            } else if let Some((key, values)) = term.split_once(" notin ") {
                (key, set(values)?, true)
            } else if let Some((key, values)) = term.split_once(" in ") {
                (key, set(values)?, false)
            } else if let Some((key, v)) = term.split_once("!=") {
                (key, one(v), true)
            } else if let Some((key, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (key, one(v), false)
            } else {
                (term, None, false)
            };
            if key.trim().is_empty() || (field && values.is_none()) {
                return Err(bad());
            }
            requirements.push(Requirement {
                field,
                key: key.trim().to_owned(),
                values,
                negate,
            });
        }
        Ok(Self { ns, requirements })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if self
            .ns
            .as_deref()
            .is_some_and(|ns| meta_str(obj, "namespace") != Some(ns))
        {
            return false;
        }
        self.requirements.iter().all(|r| {
            let value = if r.field {
                match r.key.split('.').try_fold(obj, |v, p| v.get(p)) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Null) | None => Some(String::new()),
                    Some(other) => Some(other.to_string()),
                }
            } else {
                let labels = obj.get("metadata").and_then(|m| m.get("labels"));
                labels
                    .and_then(|l| l.get(&r.key))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let hit = match &r.values {
                Some(values) => value.is_some_and(|v| values.contains(&v)),
                None => value.is_some(),
            };
            hit != r.negate
        })
    }

    /// How a watch with this filter sees an event: ADDED/DELETED when an object starts/stops
    /// matching, None when it matches neither before nor after.
    pub fn event_type(&self, e: &Event) -> Option<&'static str> {
        let now = self.matches(&e.obj);
        let before = e.prev.as_deref().is_some_and(|p| self.matches(p));
        match (e.etype, before, now) {
            (EventType::Added, _, true) | (EventType::Modified, false, true) => Some("ADDED"),
            (EventType::Modified, true, true) => Some("MODIFIED"),
            (EventType::Deleted, _, true) | (EventType::Modified, true, false) => Some("DELETED"),
            _ => None,
        }
    }
}

/// Split a selector on commas outside parentheses.
fn split_terms(selector: &str) -> Vec<&str> {
    let (mut terms, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}
