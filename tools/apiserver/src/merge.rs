//! Strategic merge patch and server-side apply, over `serde_json::Value` with a small table of
//! list semantics ([`list_type`]) instead of the real server's OpenAPI schemas.

use super::KindInfo;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How a list merges: by a key field of its elements, as a set of scalars, or replaced whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    Map(&'static str),
    Set,
    Atomic,
}

/// The list semantics of a field, by kind and dotted path (list elements add no segment).
/// The lists kubectl's strategic merge patches rely on for the kinds served; all others atomic.
pub fn list_type(kind: &KindInfo, path: &str) -> ListType {
    match (kind.kind, path) {
        (_, "metadata.finalizers") => ListType::Set,
        (_, "metadata.ownerReferences") => ListType::Map("uid"),
        ("Service", "spec.ports") => ListType::Map("port"),
        ("Node", "status.addresses" | "status.conditions") => ListType::Map("type"),
        ("Node", "spec.podCIDRs") => ListType::Set,
        (
            "Pod",
            "spec.containers" | "spec.initContainers" | "spec.volumes" | "spec.imagePullSecrets",
        ) => ListType::Map("name"),
        ("Pod", "spec.containers.env" | "spec.initContainers.env") => ListType::Map("name"),
        ("Pod", "spec.containers.ports" | "spec.initContainers.ports") => {
            ListType::Map("containerPort")
        }
        ("Pod", "spec.containers.volumeMounts" | "spec.initContainers.volumeMounts") => {
            ListType::Map("mountPath")
        }
        ("Pod", "status.conditions") => ListType::Map("type"),
        _ => ListType::Atomic,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

// ---- strategic merge patch ------------------------------------------------------------------

/// Apply a strategic merge patch (`$patch`, `$retainKeys`, `$setElementOrder/`,
/// `$deleteFromPrimitiveList/`, merge keys) to `target`.
pub fn strategic_merge(kind: &KindInfo, target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        return Err("a strategic merge patch must be a JSON object".into());
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    match target {
        Value::Object(t) => merge_map(kind, "", t, patch),
        _ => Ok(()),
    }
}

fn merge_map(
    kind: &KindInfo,
    path: &str,
    target: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), String> {
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        target.retain(|k, _| keep.iter().any(|v| v.as_str() == Some(k)));
    }
    let mut orders = Vec::new();
    for (key, pv) in patch {
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            orders.push((field, pv));
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(gone)) = (target.get_mut(field), pv) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        let child = join(path, key);
        match pv {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(pm) => match pm.get("$patch").and_then(Value::as_str) {
                Some("delete") => {
                    target.remove(key);
                }
                Some("replace") => {
                    let mut fresh = Map::new();
                    merge_map(kind, &child, &mut fresh, pm)?;
                    target.insert(key.clone(), Value::Object(fresh));
                }
                _ => {
                    let entry = target
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() {
                        *entry = Value::Object(Map::new());
                    }
                    if let Value::Object(t) = entry {
                        merge_map(kind, &child, t, pm)?;
                    }
                }
            },
            Value::Array(pl) => {
                let merged = merge_list(kind, &child, target.get(key), pl)?;
                target.insert(key.clone(), merged);
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
    for (field, order) in orders {
        let lt = list_type(kind, &join(path, field));
        if let (Some(Value::Array(list)), Value::Array(order)) = (target.get_mut(field), order) {
            let key_of = |v: &Value| match lt {
                ListType::Map(k) => v.get(k).cloned(),
                _ => Some(v.clone()),
            };
            let order: Vec<Option<Value>> = order.iter().map(key_of).collect();
            list.sort_by_key(|v| {
                let k = key_of(v);
                order.iter().position(|o| *o == k).unwrap_or(usize::MAX)
            });
        }
    }
    Ok(())
}

fn merge_list(
    kind: &KindInfo,
    path: &str,
    current: Option<&Value>,
    patch: &[Value],
) -> Result<Value, String> {
    let is_replace = |v: &Value| v.get("$patch").and_then(Value::as_str) == Some("replace");
    let lt = list_type(kind, path);
    if lt == ListType::Atomic || patch.iter().any(is_replace) {
        let mut out = Vec::new();
        for v in patch.iter().filter(|v| !is_replace(v)) {
            out.push(fresh(kind, path, v)?);
        }
        return Ok(Value::Array(out));
    }
    let mut list = current
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match lt {
        ListType::Set | ListType::Atomic => {
            for v in patch {
                if !list.contains(v) {
                    list.push(v.clone());
                }
            }
        }
        ListType::Map(key) => {
            for pe in patch {
                let Some(pm) = pe.as_object() else {
                    return Err(format!("{path}: list elements must be objects"));
                };
                let Some(kv) = pm.get(key) else {
                    return Err(format!(
                        "{path}: map: {pe} does not contain declared merge key: {key}"
                    ));
                };
                let pos = list.iter().position(|e| e.get(key) == Some(kv));
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = pos {
                        list.remove(i);
                    }
                    continue;
                }
                match pos.and_then(|i| list.get_mut(i)) {
                    Some(Value::Object(existing)) => merge_map(kind, path, existing, pm)?,
                    _ => {
                        let mut e = Map::new();
                        merge_map(kind, path, &mut e, pm)?;
                        list.push(Value::Object(e));
                    }
                }
            }
        }
    }
    Ok(Value::Array(list))
}

/// A patch value placed where nothing was: its directives applied to an empty value.
fn fresh(kind: &KindInfo, path: &str, v: &Value) -> Result<Value, String> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            merge_map(kind, path, &mut out, m)?;
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

// ---- server-side apply ----------------------------------------------------------------------

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Field(String),
    /// An element of a keyed list: key field name and the key's JSON text.
    Key(&'static str, String),
    /// An element of a set: its JSON text.
    Item(String),
}

/// A field path, `.spec.ports[port=80].targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Seg>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in &self.0 {
            match seg {
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Key(k, v) => write!(f, "[{k}={v}]")?,
                Seg::Item(v) => write!(f, "[{v}]")?,
            }
        }
        Ok(())
    }
}

/// Field sets by manager.
pub type Owners = BTreeMap<String, BTreeSet<FieldPath>>;

/// Server-maintained fields nobody owns.
fn unowned(path: &[Seg]) -> bool {
    const META: [&str; 8] = [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "deletionTimestamp",
    ];
    match path {
        [Seg::Field(f)] => f == "apiVersion" || f == "kind",
        [Seg::Field(m), Seg::Field(f), ..] => m == "metadata" && META.contains(&f.as_str()),
        _ => false,
    }
}

/// Every owned leaf of `value` (and every element of a keyed list or set) with its value.
pub fn fields(kind: &KindInfo, value: &Value) -> BTreeMap<FieldPath, Value> {
    let mut out = BTreeMap::new();
    collect(kind, "", &mut Vec::new(), value, &mut out);
    out.retain(|p, _| !unowned(&p.0));
    out
}

fn collect(
    kind: &KindInfo,
    schema: &str,
    path: &mut Vec<Seg>,
    value: &Value,
    out: &mut BTreeMap<FieldPath, Value>,
) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(Seg::Field(k.clone()));
                collect(kind, &join(schema, k), path, v, out);
                path.pop();
            }
        }
        Value::Array(items) if !path.is_empty() => match list_type(kind, schema) {
            ListType::Map(key) => {
                for item in items {
                    let kv = item.get(key).map(Value::to_string).unwrap_or_default();
                    path.push(Seg::Key(key, kv));
                    out.insert(FieldPath(path.clone()), Value::Null);
                    if let Value::Object(m) = item {
                        for (k, v) in m {
                            path.push(Seg::Field(k.clone()));
                            collect(kind, &join(schema, k), path, v, out);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListType::Set => {
                for item in items {
                    path.push(Seg::Item(item.to_string()));
                    out.insert(FieldPath(path.clone()), Value::Null);
                    path.pop();
                }
            }
            ListType::Atomic => {
                out.insert(FieldPath(path.clone()), value.clone());
            }
        },
        _ => {
            out.insert(FieldPath(path.clone()), value.clone());
        }
    }
}

/// A field another manager owns with a different value.
pub struct Conflict {
    pub manager: String,
    pub path: FieldPath,
}

/// Server-side apply of `applied` by `manager` to `live` (None: the object does not exist).
/// Fields the manager applied before and no longer applies are removed unless another manager
/// owns them; fields another manager owns with another value conflict unless `force`.
pub fn apply(
    kind: &KindInfo,
    live: Option<&Value>,
    applied: &Value,
    owners: &mut Owners,
    manager: &str,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let new_fields = fields(kind, applied);
    let live_fields = live.map(|l| fields(kind, l)).unwrap_or_default();
    let mut conflicts = Vec::new();
    for (p, v) in &new_fields {
        if live_fields.get(p).is_none_or(|lv| lv == v) {
            continue;
        }
        for (m, set) in owners.iter() {
            if m != manager && set.contains(p) {
                conflicts.push(Conflict {
                    manager: m.clone(),
                    path: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for c in &conflicts {
        if let Some(set) = owners.get_mut(&c.manager) {
            set.remove(&c.path);
        }
    }
    let mut merged = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let previous = owners.remove(manager).unwrap_or_default();
    let others: BTreeSet<&FieldPath> = owners.values().flatten().collect();
    // An element goes before the fields inside it (which it takes along).
    for p in &previous {
        if !new_fields.contains_key(p) && !others.contains(p) {
            remove(&mut merged, &p.0);
        }
    }
    ssa_merge(kind, "", &mut merged, applied);
    owners.insert(manager.to_owned(), new_fields.into_keys().collect());
    owners.retain(|_, set| !set.is_empty());
    Ok(merged)
}

fn remove(value: &mut Value, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Field(f), Value::Object(m)) => m.get_mut(f),
            (Seg::Key(k, kv), Value::Array(items)) => items
                .iter_mut()
                .find(|e| e.get(*k).map(Value::to_string).as_deref() == Some(kv.as_str())),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match (last, cur) {
        (Seg::Field(f), Value::Object(m)) => {
            m.remove(f);
        }
        (Seg::Key(k, kv), Value::Array(items)) => {
            items.retain(|e| e.get(*k).map(Value::to_string).as_deref() != Some(kv.as_str()));
        }
        (Seg::Item(v), Value::Array(items)) => {
            let gone: Option<Value> = serde_json::from_str(v).ok();
            items.retain(|e| gone.as_ref() != Some(e));
        }
        _ => {}
    }
}

fn ssa_merge(kind: &KindInfo, schema: &str, target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, av) in a {
                let child = join(schema, k);
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() || tv.is_array() => ssa_merge(kind, &child, tv, av),
                    _ => {
                        t.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (t @ Value::Array(_), Value::Array(a)) => match list_type(kind, schema) {
            ListType::Atomic => *t = Value::Array(a.clone()),
            ListType::Set => {
                if let Value::Array(items) = t {
                    for v in a {
                        if !items.contains(v) {
                            items.push(v.clone());
                        }
                    }
                }
            }
            ListType::Map(key) => {
                if let Value::Array(items) = t {
                    for av in a {
                        let kv = av.get(key);
                        match items.iter_mut().find(|e| e.get(key) == kv) {
                            Some(existing) => ssa_merge(kind, schema, existing, av),
                            None => items.push(av.clone()),
                        }
                    }
                }
            }
        },
        (t, a) => *t = a.clone(),
    }
}

/// Drop every manager's claim on the fields a non-apply write changed or removed.
pub fn release_changed(kind: &KindInfo, owners: &mut Owners, old: &Value, new: &Value) {
    if owners.is_empty() {
        return;
    }
    let (before, after) = (fields(kind, old), fields(kind, new));
    for set in owners.values_mut() {
        set.retain(|p| before.get(p) == after.get(p));
    }
    owners.retain(|_, set| !set.is_empty());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::KINDS;
    use serde_json::json;

    fn svc() -> &'static KindInfo {
        KINDS.iter().find(|k| k.kind == "Service").unwrap()
    }

    #[test]
    fn strategic_merge_uses_merge_keys_and_directives() {
        let mut live = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}], "selector": {"app": "a"}}});
        let patch = json!({"metadata": {"finalizers": ["b"], "labels": {"y": null}},
            "spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}, {"port": 9000}],
                     "ports": [{"port": 80, "targetPort": 9090}, {"port": 9000}],
                     "selector": {"$patch": "replace", "app": "b"}}});
        strategic_merge(svc(), &mut live, &patch).unwrap();
        assert_eq!(
            live,
            json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1"}},
                "spec": {"ports": [{"port": 443}, {"port": 80, "targetPort": 9090}, {"port": 9000}],
                         "selector": {"app": "b"}}})
        );
        let delete = json!({"spec": {"ports": [{"port": 80, "$patch": "delete"}]},
            "$deleteFromPrimitiveList/metadata": [], "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        strategic_merge(svc(), &mut live, &delete).unwrap();
        assert_eq!(
            live["spec"]["ports"],
            json!([{"port": 443}, {"port": 9000}])
        );
        assert_eq!(live["metadata"]["finalizers"], json!(["b"]));
        let err = strategic_merge(
            svc(),
            &mut live,
            &json!({"spec": {"ports": [{"name": "x"}]}}),
        );
        assert_eq!(
            err.unwrap_err(),
            r#"spec.ports: map: {"name":"x"} does not contain declared merge key: port"#
        );
    }

    #[test]
    fn apply_removes_what_the_manager_stopped_applying_and_reports_conflicts() {
        let mut owners = Owners::new();
        let first = json!({"metadata": {"name": "s", "labels": {"a": "1", "b": "2"}},
            "spec": {"ports": [{"port": 80}, {"port": 81}]}});
        let live = apply(svc(), None, &first, &mut owners, "one", false)
            .ok()
            .unwrap();
        let second = json!({"metadata": {"name": "s", "labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}});
        let live = apply(svc(), Some(&live), &second, &mut owners, "one", false)
            .ok()
            .unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(live["spec"]["ports"], json!([{"port": 80}]));
        let other = json!({"metadata": {"name": "s", "labels": {"a": "9"}}});
        let conflicts = apply(svc(), Some(&live), &other, &mut owners, "two", false)
            .err()
            .unwrap();
        let text: Vec<String> = conflicts
            .iter()
            .map(|c| format!("{} {}", c.manager, c.path))
            .collect();
        assert_eq!(text, ["one .metadata.labels.a"]);
        let forced = apply(svc(), Some(&live), &other, &mut owners, "two", true)
            .ok()
            .unwrap();
        assert_eq!(forced["metadata"]["labels"]["a"], "9");
        assert!(!owners["one"]
            .iter()
            .any(|p| p.to_string() == ".metadata.labels.a"));
    }
}
