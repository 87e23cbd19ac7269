//! Minimal HTTP/1.1 (keep-alive, Content-Length or chunked request bodies, chunked watch
//! responses) and the Kubernetes REST routing on top of the store. Hand-written: hyper's `server`
//! feature would rebuild hyper, kube and the AWS HTTP client a second time just for tests.

use super::store::{meta_str, ApiError, Filter, Mode, Obj, Store};
use super::{discovery, merge, table, Call, KindInfo, BOOKMARK_INTERVAL, KINDS};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub async fn serve(listener: TcpListener, store: Arc<Store>, addr: SocketAddr) {
    // Connection tasks live in the set: aborting this task ends them all.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(stream, store.clone(), addr));
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    content_type: String,
    accept: String,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// Some(whole object in rows?) when the client asks for a Table.
    fn table(&self) -> Option<bool> {
        table::wanted(&self.accept).then(|| self.q("includeObject") == Some("Object"))
    }

    fn json(&self) -> Result<Value, ApiError> {
        let body = if self.body.is_empty() {
            b"null".as_slice()
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| ApiError::new(400, format!("invalid body: {e}")))
    }
}

enum Reply {
    Json(u16, Vec<u8>),
    Raw(&'static str, Vec<u8>),
    Watch(WatchSpec),
}

fn reply(code: u16, body: &impl Serialize) -> Result<Reply, ApiError> {
    Ok(Reply::Json(
        code,
        serde_json::to_vec(body).unwrap_or_default(),
    ))
}

async fn connection(stream: TcpStream, store: Arc<Store>, addr: SocketAddr) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    while let Ok(Some(req)) = read_request(&mut reader).await {
        let result = match discovery::document(&req.path, addr, &|k| store.served(k)) {
            Some((content_type, body)) if req.method == "GET" => Ok(Reply::Raw(content_type, body)),
            _ => handle(&store, &req).or_else(|e| reply(e.code, &e.status())),
        };
        let sent = match result {
            Ok(Reply::Json(code, body)) => write_json(&mut writer, code, &body).await,
            Ok(Reply::Raw(content_type, body)) => {
                write_body(&mut writer, 200, content_type, &body).await
            }
            Ok(Reply::Watch(spec)) => watch(&store, spec, &mut reader, &mut writer).await,
            Err(_) => break,
        };
        if sent.is_err() || req.close {
            break;
        }
    }
}

async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Request>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid("request line"));
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        content_type: String::new(),
        accept: String::new(),
        body: Vec::new(),
        close: false,
    };
    let (mut length, mut chunked) = (0, false);
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(invalid("end of stream in the headers"));
        }
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().map_err(|_| invalid("content-length"))?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-type" => req.content_type = value.to_owned(),
            "accept" => req.accept = value.to_owned(),
            "connection" => req.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    while chunked {
        line.clear();
        r.read_line(&mut line).await?;
        let size = line.trim_end().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("chunk size"))?;
        let start = req.body.len();
        req.body.resize(start + size + 2, 0); // the chunk and its CRLF
        r.read_exact(&mut req.body[start..]).await?;
        req.body.truncate(start + size);
        chunked = size > 0; // no trailers: the last chunk's CRLF is the end
    }
    if length > 0 {
        req.body.resize(length, 0);
        r.read_exact(&mut req.body).await?;
    }
    Ok(Some(req))
}

async fn write_json<W: AsyncWrite + Unpin>(w: &mut W, code: u16, body: &[u8]) -> io::Result<()> {
    write_body(w, code, "application/json", body).await
}

async fn write_body<W: AsyncWrite + Unpin>(
    w: &mut W,
    code: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let reason = if code < 400 { "OK" } else { "Error" };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    w.write_all(&[head.as_bytes(), body].concat()).await
}

/// Where a request goes: `/api/v1/...` or `/apis/{group}/{version}/...`, then
/// `[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]`.
struct Route<'a> {
    group: &'a str,
    version: &'a str,
    plural: &'a str,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    // `/api/v1/namespaces/{name}/status` is the Namespace's own subresource.
    let own_sub = group.is_empty() && rest.len() == 3 && matches!(rest[2], "status" | "finalize");
    let (ns, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() && !own_sub => (Some(*ns), rest),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return None,
    };
    Some(Route {
        group,
        version,
        plural,
        ns,
        name,
        sub,
    })
}

fn handle(store: &Store, req: &Request) -> Result<Reply, ApiError> {
    if matches!(req.path.as_str(), "/healthz" | "/readyz" | "/livez") {
        return Ok(Reply::Raw("text/plain", b"ok".to_vec()));
    }
    if req.path == "/version" {
        return reply(
            200,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fixture"}),
        );
    }
    let what = format!("{} {}", req.method, req.path);
    let not_found = || {
        ApiError::new(
            404,
            format!("the server could not find the requested resource ({what})"),
        )
    };
    let r = route(&req.path).ok_or_else(not_found)?;
    let verb = match (req.method.as_str(), r.name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if matches!(req.q("watch"), Some("true" | "1")) => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    };
    let (group, resource) = (r.group.to_owned(), r.plural.to_owned());
    let (subresource, namespace) = (r.sub.map(str::to_owned), r.ns.map(str::to_owned));
    let call = Call {
        verb: verb.to_owned(),
        group,
        resource,
        subresource,
        namespace,
    };
    if let Some(code) = store.record(call) {
        return Err(ApiError::new(code, format!("injected failure for {what}")));
    }
    let k = KINDS
        .iter()
        .position(|k| (k.group, k.version, k.plural) == (r.group, r.version, r.plural));
    let k = k.filter(|k| store.served(*k)).ok_or_else(not_found)?;
    let info = &KINDS[k];
    // Namespaced kinds need a namespace, except to list or watch across namespaces.
    let scoped = if info.namespaced {
        r.ns.is_some() || matches!(verb, "list" | "watch")
    } else {
        r.ns.is_none()
    };
    let mode = match r.sub {
        None if scoped => Mode::Main,
        Some("status") if scoped && info.status => Mode::Status,
        _ => return Err(not_found()),
    };
    let (ns, name) = (r.ns.unwrap_or(""), r.name.unwrap_or(""));
    let filter = || {
        Filter::parse(
            r.ns.map(str::to_owned),
            req.q("labelSelector"),
            req.q("fieldSelector"),
        )
    };
    match verb {
        "get" => {
            let obj = store.get(k, ns, name)?;
            match req.table() {
                Some(whole) => {
                    let rv = meta_str(&obj, "resourceVersion").unwrap_or("");
                    reply(200, &table::table(info, &[&obj], rv, whole, true))
                }
                None => reply(200, &*obj),
            }
        }
        "list" => {
            let limit = req.q("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
            let (rv, items, next) = store.list(k, &filter()?, limit, req.q("continue"))?;
            let mut metadata = json!({"resourceVersion": rv.to_string()});
            if let Some(token) = next {
                metadata["continue"] = token.into();
            }
            let items: Vec<&Value> = items.iter().map(|o| &**o).collect();
            if let Some(whole) = req.table() {
                let mut t = table::table(info, &items, &rv.to_string(), whole, true);
                t["metadata"] = metadata;
                return reply(200, &t);
            }
            let (kind, api_version) = (format!("{}List", info.kind), info.api_version());
            reply(
                200,
                &json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}),
            )
        }
        "watch" => Ok(Reply::Watch(WatchSpec::parse(k, filter()?, req)?)),
        "create" if r.name.is_none() => reply(201, &*store.create(k, ns, req.json()?, Mode::Main)?),
        "update" if r.name.is_some() => {
            let body = req.json()?;
            reply(200, &*store.update(k, ns, name, mode, |_| Ok(body))?)
        }
        "patch" if r.name.is_some() => reply(200, &*patch(store, req, k, ns, name, mode)?),
        "delete" if mode == Mode::Main => {
            let options = req.json()?;
            let precondition = options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str);
            reply(200, &*store.delete(k, ns, name, precondition)?)
        }
        "deletecollection" if mode == Mode::Main => {
            for obj in store.snapshot(k, &filter()?).1 {
                let (ns, name) = (meta_str(&obj, "namespace"), meta_str(&obj, "name"));
                let _ = store.delete(k, ns.unwrap_or(""), name.unwrap_or(""), None);
            }
            reply(
                200,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            )
        }
        _ => Err(ApiError::new(405, format!("{what} is not allowed"))),
    }
}

fn patch(
    store: &Store,
    req: &Request,
    k: usize,
    ns: &str,
    name: &str,
    mode: Mode,
) -> Result<Obj, ApiError> {
    let content_type = req.content_type.split(';').next().unwrap_or("").trim();
    let bad = |e: serde_json::Error| ApiError::new(400, format!("invalid patch body: {e}"));
    if content_type == "application/json-patch+json" {
        let ops: json_patch::Patch = serde_json::from_slice(&req.body).map_err(bad)?;
        return store.update(k, ns, name, mode, |old| {
            let mut new = old.clone();
            for (i, op) in ops.iter().enumerate() {
                // As on the API server (evanphx/json-patch): `test` of `null` passes on a
                // missing path, so "the list is still absent" can be tested (kube-runtime's
                // finalizer patch does).
                if let json_patch::PatchOperation::Test(t) = op {
                    if t.value.is_null() && new.pointer(t.path.as_str()).is_none() {
                        continue;
                    }
                }
                json_patch::patch(&mut new, std::slice::from_ref(op)).map_err(|mut e| {
                    e.operation = i;
                    ApiError::new(422, e.to_string())
                })?;
            }
            Ok(new)
        });
    }
    let info = &KINDS[k];
    if content_type == "application/apply-patch+yaml" && mode == Mode::Main {
        let Some(manager) = req.q("fieldManager").filter(|m| !m.is_empty()) else {
            let msg = "PATCH, application/apply-patch+yaml requests require fieldManager to be set";
            return Err(ApiError::new(400, msg));
        };
        let mut applied: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => {
                let text = String::from_utf8_lossy(&req.body);
                serde_saphyr::from_str(&text)
                    .map_err(|e| ApiError::new(400, format!("invalid apply body: {e}")))?
            }
        };
        if meta_str(&applied, "name").is_none() {
            if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("name".into(), name.into());
            }
        }
        let force = req.q("force") == Some("true");
        return store.apply(k, ns, name, &applied, manager, force);
    }
    let strategic = match content_type {
        "application/merge-patch+json" => false,
        // Server-side apply of the status subresource: treated as a merge patch.
        "application/apply-patch+yaml" => false,
        "application/strategic-merge-patch+json" if !info.custom() => true,
        "application/strategic-merge-patch+json" => {
            let msg = "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
            return Err(ApiError::new(415, msg));
        }
        _ => {
            return Err(ApiError::new(
                415,
                format!("unsupported patch content type {content_type:?}"),
            ))
        }
    };
    let p: Value = serde_json::from_slice(&req.body).map_err(bad)?;
    store.update(k, ns, name, mode, |old| {
        let mut new = old.clone();
        if strategic {
            merge::strategic_merge(info, &mut new, &p).map_err(|e| ApiError::new(422, e))?;
        } else {
            json_patch::merge(&mut new, &p);
        }
        Ok(new)
    })
}

// ---- watch ----------------------------------------------------------------------------------

struct WatchSpec {
    kind: usize,
    filter: Filter,
    /// None: start with ADDED events for the current objects.
    from: Option<u64>,
    initial_events_end: bool,
    bookmarks: bool,
    timeout: Duration,
    /// Some(whole object in rows?): events carry one-row Tables.
    table: Option<bool>,
}

impl WatchSpec {
    fn parse(kind: usize, filter: Filter, req: &Request) -> Result<Self, ApiError> {
        let initial_events_end = req.q("sendInitialEvents") == Some("true");
        let bookmarks = req.q("allowWatchBookmarks") == Some("true");
        if initial_events_end
            && (req.q("resourceVersionMatch") != Some("NotOlderThan") || !bookmarks)
        {
            let msg = "sendInitialEvents needs resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true";
            return Err(ApiError::new(422, msg));
        }
        let from = match req.q("resourceVersion").unwrap_or("") {
            "" | "0" => None,
            _ if initial_events_end => None,
            rv => Some(
                rv.parse()
                    .map_err(|_| ApiError::new(400, format!("invalid resourceVersion {rv:?}")))?,
            ),
        };
        // 0 means "the server's default", as on a real server.
        let timeout = Duration::from_secs(
            req.q("timeoutSeconds")
                .and_then(|t| t.parse().ok())
                .filter(|t| *t > 0)
                .unwrap_or(300),
        );
        Ok(Self {
            kind,
            filter,
            from,
            initial_events_end,
            bookmarks,
            timeout,
            table: req.table(),
        })
    }
}

fn push_event(buf: &mut Vec<u8>, type_: &str, object: &Value) {
    #[derive(Serialize)]
    struct WireEvent<'a> {
        #[serde(rename = "type")]
        type_: &'a str,
        object: &'a Value,
    }
    if serde_json::to_writer(&mut *buf, &WireEvent { type_, object }).is_ok() {
        buf.push(b'\n');
    }
}

/// An object event, as a one-row Table when the watch asked for Tables.
fn push_object(buf: &mut Vec<u8>, spec: &WatchSpec, type_: &str, object: &Value) {
    match spec.table {
        Some(whole) => {
            let rv = meta_str(object, "resourceVersion").unwrap_or("");
            let t = table::table(&KINDS[spec.kind], &[object], rv, whole, true);
            push_event(buf, type_, &t);
        }
        None => push_event(buf, type_, object),
    }
}

fn push_bookmark(buf: &mut Vec<u8>, info: &KindInfo, rv: u64, initial_events_end: bool) {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    push_event(
        buf,
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata}),
    );
}

/// Send what `buf` holds as one chunk (nothing when empty); `last` ends the response.
async fn send<W: AsyncWrite + Unpin>(w: &mut W, buf: &mut Vec<u8>, last: bool) -> io::Result<()> {
    let mut chunk = Vec::new();
    if !buf.is_empty() {
        chunk = format!("{:x}\r\n", buf.len()).into_bytes();
        chunk.append(buf);
        chunk.extend_from_slice(b"\r\n");
    }
    if last {
        chunk.extend_from_slice(b"0\r\n\r\n");
    }
    w.write_all(&chunk).await
}

struct OpenWatch<'a>(&'a Store);

impl Drop for OpenWatch<'_> {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn watch<R, W>(store: &Store, spec: WatchSpec, r: &mut R, w: &mut W) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    w.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await?;
    store.open_watches.fetch_add(1, Ordering::SeqCst);
    let _open = OpenWatch(store);
    let info = &KINDS[spec.kind];
    let deadline = Instant::now() + spec.timeout;
    let (mut changes, mut close) = (store.subscribe(), store.close.subscribe());
    let mut buf = Vec::new();
    let mut last = match spec.from {
        Some(rv) => rv,
        None => {
            let (rv, objects) = store.snapshot(spec.kind, &spec.filter);
            for obj in objects {
                push_object(&mut buf, &spec, "ADDED", &obj);
                if buf.len() > 1 << 16 {
                    send(w, &mut buf, false).await?;
                }
            }
            if spec.initial_events_end {
                push_bookmark(&mut buf, info, rv, true);
            }
            rv
        }
    };
    let (mut next_bookmark, mut peer_sent_data) = (Instant::now() + BOOKMARK_INTERVAL, false);
    loop {
        match store.events_since(last, spec.kind) {
            Ok((reached, events)) => {
                for e in &events {
                    if let Some(type_) = spec.filter.event_type(e) {
                        push_object(&mut buf, &spec, type_, &e.obj);
                    }
                }
                last = reached;
            }
            Err(floor) => {
                let expired =
                    ApiError::new(410, format!("too old resource version: {last} ({floor})"));
                push_event(&mut buf, "ERROR", &expired.status());
                return send(w, &mut buf, true).await;
            }
        }
        if !buf.is_empty() {
            next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
            send(w, &mut buf, false).await?;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            _ = close.changed() => break,
            () = tokio::time::sleep_until(deadline) => break,
            () = tokio::time::sleep_until(next_bookmark), if spec.bookmarks => {
                push_bookmark(&mut buf, info, last, false);
            }
            // The client sends nothing while it waits for the response; EOF means it went away.
            read = r.fill_buf(), if !peer_sent_data => match read {
                Ok(data) if !data.is_empty() => peer_sent_data = true,
                _ => return Ok(()),
            },
        }
    }
    if spec.bookmarks {
        push_bookmark(&mut buf, info, last, false);
    }
    send(w, &mut buf, true).await
}
