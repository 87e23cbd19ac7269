//! `meta.k8s.io/v1` Tables, what `kubectl get` asks for (`Accept: ...;as=Table;...`): the
//! columns kubectl shows for Services, Ingresses, EndpointSlices and TargetGroupBindings, and
//! Name and Age for every other kind. Rows carry the object's metadata (`includeObject=Metadata`)
//! or the whole object (`includeObject=Object`).

use super::KindInfo;
use serde_json::{json, Value};

/// Does this Accept header ask for a Table?
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn column(name: &str) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": "string", "format": format, "description": "", "priority": 0})
}

fn columns(kind: &KindInfo) -> Vec<&'static str> {
    match kind.kind {
        "Service" => vec![
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
        ],
        "Ingress" => vec!["Name", "Class", "Hosts", "Address", "Ports", "Age"],
        "EndpointSlice" => vec!["Name", "AddressType", "Ports", "Endpoints", "Age"],
        "TargetGroupBinding" => vec!["Name", "Service-Name", "Service-Port", "Target-Type", "Age"],
        _ => vec!["Name", "Age"],
    }
}

fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn or_none(text: String) -> String {
    if text.is_empty() {
        "<none>".into()
    } else {
        text
    }
}

/// Age as kubectl prints it: 42s, 5m, 3h, 2d.
fn age(obj: &Value) -> String {
    let created = s(obj, "/metadata/creationTimestamp");
    let Ok(t) = created.parse::<k8s_openapi::jiff::Timestamp>() else {
        return "<unknown>".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let secs = now.saturating_sub(u64::try_from(t.as_second()).unwrap_or_default());
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

fn lb_addresses(obj: &Value) -> String {
    let list = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array);
    let names: Vec<&str> = list
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("hostname").or_else(|| i.get("ip")))
        .filter_map(Value::as_str)
        .collect();
    names.join(",")
}

fn cell(kind: &KindInfo, column: &str, obj: &Value) -> Value {
    let text = match column {
        "Name" => s(obj, "/metadata/name").to_owned(),
        "Age" => age(obj),
        "Type" => s(obj, "/spec/type").to_owned(),
        "Cluster-IP" => or_none(s(obj, "/spec/clusterIP").to_owned()),
        "External-IP" => {
            let addresses = lb_addresses(obj);
            match s(obj, "/spec/type") {
                "LoadBalancer" if addresses.is_empty() => "<pending>".into(),
                _ => or_none(addresses),
            }
        }
        "Port(s)" => {
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
            let text: Vec<String> = ports
                .into_iter()
                .flatten()
                .map(|p| {
                    let port = p.get("port").map(Value::to_string).unwrap_or_default();
                    let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort") {
                        Some(n) => format!("{port}:{n}/{protocol}"),
                        None => format!("{port}/{protocol}"),
                    }
                })
                .collect();
            or_none(text.join(","))
        }
        "Class" => or_none(s(obj, "/spec/ingressClassName").to_owned()),
        "Hosts" => {
            let rules = obj.pointer("/spec/rules").and_then(Value::as_array);
            let hosts: Vec<&str> = rules
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("host").and_then(Value::as_str))
                .collect();
            if hosts.is_empty() {
                "*".into()
            } else {
                hosts.join(",")
            }
        }
        "Address" => lb_addresses(obj),
        "Ports" if kind.kind == "Ingress" => {
            let tls = obj
                .pointer("/spec/tls")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
            if tls { "80, 443" } else { "80" }.into()
        }
        "Ports" => {
            let ports = obj.get("ports").and_then(Value::as_array);
            let text: Vec<String> = ports
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("port").map(Value::to_string))
                .collect();
            or_none(text.join(","))
        }
        "AddressType" => s(obj, "/addressType").to_owned(),
        "Endpoints" => {
            let endpoints = obj.get("endpoints").and_then(Value::as_array);
            let addresses: Vec<&str> = endpoints
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("addresses").and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            or_none(addresses.join(","))
        }
        "Service-Name" => s(obj, "/spec/serviceRef/name").to_owned(),
        "Service-Port" => match obj.pointer("/spec/serviceRef/port") {
            Some(Value::String(p)) => p.clone(),
            Some(p) => p.to_string(),
            None => String::new(),
        },
        "Target-Type" => s(obj, "/spec/targetType").to_owned(),
        _ => String::new(),
    };
    Value::String(text)
}

fn row(kind: &KindInfo, obj: &Value, whole: bool) -> Value {
    let object = if whole {
        obj.clone()
    } else {
        json!({
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or(Value::Null),
        })
    };
    let cells: Vec<Value> = columns(kind)
        .into_iter()
        .map(|c| cell(kind, c, obj))
        .collect();
    json!({"cells": cells, "object": object})
}

/// A Table of `objects`; `with_columns` false for watch events after the first.
pub fn table(
    kind: &KindInfo,
    objects: &[&Value],
    rv: &str,
    whole: bool,
    with_columns: bool,
) -> Value {
    let definitions: Vec<Value> = if with_columns {
        columns(kind).into_iter().map(column).collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects.iter().map(|o| row(kind, o, whole)).collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}
