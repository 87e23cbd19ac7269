//! Discovery (`/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]`, legacy format only) and
//! the OpenAPI documents kubectl asks for: `/openapi/v3` lists one document per group version,
//! whose PATCH operations declare the `fieldValidation` parameter (so kubectl leaves validation
//! to the server) and no request bodies (so kubectl computes strategic merge patches from its
//! compiled-in types); `/openapi/v2` is an empty protobuf document (no schemas: kubectl
//! validates nothing on the client).

use super::{KindInfo, KINDS};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Protobuf content type of the OpenAPI v2 document.
pub const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Whether the kind at an index into [`KINDS`] is served now.
pub type Served<'a> = &'a dyn Fn(usize) -> bool;

/// The group versions served, in order: ("", "v1") first.
fn group_versions(served: Served<'_>) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (i, k) in KINDS.iter().enumerate() {
        if served(i) && !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}

/// The named groups served with their versions, the first preferred.
fn groups(served: Served<'_>) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (g, v) in group_versions(served) {
        if g.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(name, _)| *name == g) {
            Some((_, versions)) => versions.push(v),
            None => out.push((g, vec![v])),
        }
    }
    out
}

fn singular(k: &KindInfo) -> String {
    k.kind.to_ascii_lowercase()
}

/// The discovery or OpenAPI document at `path`, if it is one: (content type, body).
pub fn document(
    path: &str,
    addr: SocketAddr,
    served: Served<'_>,
) -> Option<(&'static str, Vec<u8>)> {
    let json = |v: Value| {
        Some((
            "application/json",
            serde_json::to_vec(&v).unwrap_or_default(),
        ))
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api"] => json(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}],
        })),
        ["apis"] => {
            let groups: Vec<Value> = groups(served)
                .into_iter()
                .map(|(g, v)| api_group(g, &v))
                .collect();
            json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", group] => {
            let (g, v) = groups(served).into_iter().find(|(g, _)| g == group)?;
            let mut doc = api_group(g, &v);
            doc["kind"] = "APIGroup".into();
            doc["apiVersion"] = "v1".into();
            json(doc)
        }
        ["api", version] => resource_list("", version, served).and_then(json),
        ["apis", group, version] => resource_list(group, version, served).and_then(json),
        ["openapi", "v2"] => Some((OPENAPI_V2_PROTOBUF, Vec::new())),
        ["openapi", "v3"] => {
            let paths: serde_json::Map<String, Value> = group_versions(served)
                .into_iter()
                .map(|(g, v)| {
                    let p = gv_path(g, v);
                    let url = format!("/openapi/v3/{p}?hash=fixture");
                    (p, json!({"serverRelativeURL": url}))
                })
                .collect();
            json(json!({"paths": paths}))
        }
        ["openapi", "v3", rest @ ..] => {
            let wanted = rest.join("/");
            let (g, v) = group_versions(served)
                .into_iter()
                .find(|(g, v)| gv_path(g, v) == wanted)?;
            json(openapi_v3(g, v))
        }
        _ => None,
    }
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn api_group(group: &str, versions: &[&str]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = gvs.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": gvs, "preferredVersion": preferred})
}

fn resource_list(group: &str, version: &str, served: Served<'_>) -> Option<Value> {
    let mut resources = Vec::new();
    for (_, k) in KINDS
        .iter()
        .enumerate()
        .filter(|(i, k)| k.group == group && k.version == version && served(*i))
    {
        let mut r = json!({
            "name": k.plural, "singularName": singular(k), "namespaced": k.namespaced,
            "kind": k.kind, "verbs": VERBS,
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        resources.push(r);
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn openapi_v3(group: &str, version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for k in KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let ns = if k.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let path = format!("/{}{ns}/{}/{{name}}", gv_path(group, version), k.plural);
        let patch = json!({
            "operationId": format!("patch{}", k.kind),
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": k.kind},
        });
        paths.insert(path, json!({"patch": patch}));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (aws-lb-operator apiserver fixture)", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}
