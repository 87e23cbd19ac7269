//! One document (or `List` item) to one typed object of the snapshot, or to an error of that
//! object alone.
use std::collections::BTreeMap;
use std::fmt;

use aws_lb_operator_core::model::ObjectError;
use aws_lb_operator_core::translate::auth::SecretData;
use aws_lb_operator_core::translate::gateway::{self, GatewayObjects};
use aws_lb_operator_core::translate::{params, Snapshot};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::trim;

/// Where a document came from: `dump.json: document 1, item 345`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file as given (or `standard input`).
    pub source: String,
    /// 1-based index of the document in its file (empty documents not counted).
    pub document: usize,
    /// 1-based index in the `items` of a `List` document.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {}", self.source, self.document)?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        Ok(())
    }
}

/// Longest value echoed back in a message, in characters.
pub const SHOWN_CHARS: usize = 100;

/// `s`, or its first [`SHOWN_CHARS`] characters and how many there were.
#[must_use]
pub fn shorten(s: &str) -> String {
    let count = s.chars().count();
    if count <= SHOWN_CHARS {
        return s.to_owned();
    }
    let head: String = s.chars().take(SHOWN_CHARS).collect();
    format!("{head}… ({count} characters)")
}

/// The kinds the translation reads: `(apiVersion, kind, name in messages, namespaced)`.
const KINDS: &[(&str, &str, &str, bool)] = &[
    ("networking.k8s.io/v1", "Ingress", "ingress", true),
    (
        "networking.k8s.io/v1",
        "IngressClass",
        "ingressclass",
        false,
    ),
    (
        params::API_VERSION,
        params::KIND,
        "ingressclassparams",
        false,
    ),
    ("v1", "Service", "service", true),
    // Only the OIDC keys of Secrets are kept (`auth-idp-oidc`); values never reach a message.
    ("v1", "Secret", "secret", true),
    ("v1", "Node", "node", false),
    ("v1", "Namespace", "namespace", false),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslice",
        true,
    ),
    // Gateway API (standard channel) and the AWS Load Balancer Controller's Gateway
    // configuration (docs/gateway.md).
    (gateway::API_VERSION, "GatewayClass", "gatewayclass", false),
    (gateway::API_VERSION, "Gateway", "gateway", true),
    (gateway::API_VERSION, "HTTPRoute", "httproute", true),
    (gateway::API_VERSION, "GRPCRoute", "grpcroute", true),
    (
        gateway::API_VERSION,
        gateway::LISTENER_SET,
        "listenerset",
        true,
    ),
    // Experimental channel: NLB Gateways' routes.
    (gateway::L4_ROUTE_API_VERSION, "TCPRoute", "tcproute", true),
    (gateway::L4_ROUTE_API_VERSION, "UDPRoute", "udproute", true),
    (
        gateway::TLS_ROUTE_API_VERSIONS[0],
        "TLSRoute",
        "tlsroute",
        true,
    ),
    (
        gateway::TLS_ROUTE_API_VERSIONS[1],
        "TLSRoute",
        "tlsroute",
        true,
    ),
    (
        gateway::REFERENCE_GRANT_API_VERSIONS[0],
        "ReferenceGrant",
        "referencegrant",
        true,
    ),
    (
        gateway::REFERENCE_GRANT_API_VERSIONS[1],
        "ReferenceGrant",
        "referencegrant",
        true,
    ),
    (
        gateway::AWS_API_VERSIONS[0],
        gateway::LOAD_BALANCER_CONFIGURATION,
        "loadbalancerconfiguration",
        true,
    ),
    (
        gateway::AWS_API_VERSIONS[1],
        gateway::LOAD_BALANCER_CONFIGURATION,
        "loadbalancerconfiguration",
        true,
    ),
];

/// `(kind in messages, namespace, name)`.
type Key = (&'static str, String, String);

/// Collects objects into a snapshot, keeping per-object errors apart.
#[derive(Debug, Default)]
pub struct Collector {
    /// The objects.
    pub snapshot: Snapshot,
    /// The Gateway API objects.
    pub gateways: GatewayObjects,
    /// What was read but not used, and why (printed as notes).
    pub notes: Vec<String>,
    /// Objects (or documents) that cannot be used; everything else still is.
    pub errors: Vec<ObjectError>,
    /// Documents and list items read, whatever their kind.
    pub objects_read: usize,
    seen: BTreeMap<Key, Vec<Origin>>,
}

fn str_field<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = doc;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Formats a serde path as users write it: `spec.ports[0].port`,
/// `metadata.annotations["alb.ingress.kubernetes.io/group.order"]`.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let plain = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if plain {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                } else {
                    out.push_str(&format!("[{:?}]", shorten(key)));
                }
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// A schema error as a sentence: the field, what was wrong, and a hint for the classic
/// YAML mistake (an unquoted number or boolean as an annotation or label value).
fn schema_message(path: &str, message: &str) -> String {
    let mut text = if path.is_empty() {
        shorten_message(message)
    } else {
        format!("{path}: {}", shorten_message(message))
    };
    let in_string_map = ["metadata.annotations", "metadata.labels"].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    });
    if in_string_map && message.starts_with("invalid type:") {
        let written = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains('`'))
            .map(str::to_owned);
        let what = if path.starts_with("metadata.annotations") {
            "annotation"
        } else {
            "label"
        };
        match written {
            Some(v) => text.push_str(&format!(
                "; {what} values are strings: quote it in YAML (\"{v}\", not {v})"
            )),
            None => text.push_str(&format!("; {what} values are strings: quote it in YAML")),
        }
    }
    text
}

/// A library message with long echoed values cut.
fn shorten_message(message: &str) -> String {
    const MAX: usize = 3 * SHOWN_CHARS;
    let count = message.chars().count();
    if count <= MAX {
        return message.to_owned();
    }
    let head: String = message.chars().take(MAX).collect();
    format!("{head}… ({count} characters)")
}

/// What happens to an object with an error, appended to every message.
const LEFT_OUT: &str = "the object is left out, everything else is still planned";

impl Collector {
    /// A document that cannot be used at all (no object to name).
    pub fn document_error(&mut self, origin: &Origin, message: impl fmt::Display) {
        self.errors.push(ObjectError {
            object: origin.to_string(),
            message: format!(
                "{origin}: {message}; the document is left out, everything else is still planned"
            ),
        });
    }

    /// Adds one document (or list item).
    pub fn add(&mut self, origin: Origin, doc: Value) {
        if doc.is_null() {
            return;
        }
        self.objects_read += 1;
        let Value::Object(map) = &doc else {
            let what = type_name(&doc);
            self.document_error(
                &origin,
                format!(
                    "not a Kubernetes object: the document is {what}, expected a mapping with \
                     apiVersion, kind and metadata"
                ),
            );
            return;
        };
        let api_version = map.get("apiVersion");
        let kind = map.get("kind");
        match (api_version, kind) {
            (None, None) => {
                let items_only = map.get("items").is_some_and(Value::is_array);
                if !items_only {
                    self.notes.push(format!(
                        "{origin}: skipped: not a Kubernetes object (no apiVersion and no kind)"
                    ));
                    return;
                }
            }
            (Some(Value::String(_)), Some(Value::String(_))) => {}
            (Some(Value::String(v)), None) => {
                let hint = KINDS
                    .iter()
                    .filter(|k| k.0 == v)
                    .map(|k| k.1)
                    .collect::<Vec<_>>();
                let hint = if hint.is_empty() {
                    String::new()
                } else {
                    format!(" (one of {})", hint.join(", "))
                };
                self.document_error(
                    &origin,
                    format!(
                        "apiVersion {} but no kind: every Kubernetes object needs both{hint}",
                        shorten(v)
                    ),
                );
                return;
            }
            (None, Some(Value::String(k))) => {
                let hint = KINDS
                    .iter()
                    .find(|x| x.1 == k)
                    .map(|x| format!(" ({})", x.0))
                    .unwrap_or_default();
                self.document_error(
                    &origin,
                    format!(
                        "kind {} but no apiVersion: every Kubernetes object needs both{hint}",
                        shorten(k)
                    ),
                );
                return;
            }
            (a, k) => {
                let bad = if a.is_some_and(|v| !v.is_string()) {
                    ("apiVersion", a)
                } else {
                    ("kind", k)
                };
                self.document_error(
                    &origin,
                    format!(
                        "{} is {}, expected a string",
                        bad.0,
                        bad.1.map_or("empty", type_name)
                    ),
                );
                return;
            }
        }
        let api_version = str_field(&doc, &["apiVersion"])
            .unwrap_or_default()
            .to_owned();
        let kind = str_field(&doc, &["kind"]).unwrap_or_default().to_owned();
        if kind.ends_with("List") || (kind.is_empty() && map.contains_key("items")) {
            let Some(Value::Array(items)) = (match doc {
                Value::Object(mut m) => m.remove("items"),
                _ => None,
            }) else {
                self.document_error(&origin, format!("{kind} without a list of items"));
                return;
            };
            // The list is not an object: its items are.
            self.objects_read -= 1;
            for (i, item) in items.into_iter().enumerate() {
                let o = Origin {
                    item: Some(i + 1),
                    ..origin.clone()
                };
                self.add(o, item);
            }
            return;
        }
        self.add_object(origin, &api_version, &kind, doc);
    }

    fn add_object(&mut self, origin: Origin, api_version: &str, kind: &str, doc: Value) {
        let name = str_field(&doc, &["metadata", "name"])
            .unwrap_or_default()
            .to_owned();
        let namespace = str_field(&doc, &["metadata", "namespace"])
            .unwrap_or_default()
            .to_owned();
        let Some(&(_, _, short, namespaced)) =
            KINDS.iter().find(|k| k.0 == api_version && k.1 == kind)
        else {
            if let Some(ours) = KINDS.iter().find(|k| k.1 == kind && k.0 != api_version) {
                self.document_error(
                    &origin,
                    format!(
                        "{} {kind} {}: plan reads {kind} as apiVersion {} only (the version a \
                         cluster serves); convert the manifest",
                        shorten(api_version),
                        shorten(&name),
                        ours.0
                    ),
                );
                return;
            }
            self.notes.push(format!(
                "{origin}: {}/{} {} ignored (not an input of plan)",
                shorten(api_version),
                shorten(kind),
                shorten(&name)
            ));
            return;
        };
        let shown = if namespaced && !namespace.is_empty() {
            format!("{short} {}/{}", shorten(&namespace), shorten(&name))
        } else {
            format!("{short} {}", shorten(&name))
        };
        let snap = &mut self.snapshot;
        let gws = &mut self.gateways;
        // Trimmed as `run`'s caches and the cluster source trim them (the translation never
        // reads what is dropped; a cluster dump is mostly that).
        let parsed = match short {
            "ingress" => typed(doc).map(|o| snap.ingresses.push(trimmed(o, |_| {}))),
            "ingressclass" => typed(doc).map(|o| snap.ingress_classes.push(trimmed(o, |_| {}))),
            "ingressclassparams" => typed(doc).map(|o| snap.ingress_class_params.push(o)),
            "service" => typed(doc).map(|o| snap.services.push(trimmed(o, trim::trim_service))),
            // Not `typed`: a parse error may quote a value, and a Secret's values are secret.
            "secret" => {
                serde_json::from_value::<k8s_openapi::api::core::v1::Secret>(doc)
                    .map(|o| snap.secrets.push(SecretData::from_secret(&o)))
                    .map_err(|_| {
                        "expected a Secret whose data values are base64 and stringData values are strings (the values are not shown)".to_owned()
                    })
            }
            "node" => typed(doc).map(|o| snap.nodes.push(trimmed(o, trim::trim_node))),
            "namespace" => typed(doc).map(|o| snap.namespaces.push(trimmed(o, |_| {}))),
            "gatewayclass" => typed(doc).map(|o| gws.classes.push(o)),
            "gateway" => typed(doc).map(|o| gws.gateways.push(o)),
            "httproute" => typed(doc).map(|o| gws.http_routes.push(o)),
            "grpcroute" => typed(doc).map(|o| gws.grpc_routes.push(o)),
            "tcproute" => typed(doc).map(|o| gws.tcp_routes.push(o)),
            "udproute" => typed(doc).map(|o| gws.udp_routes.push(o)),
            "tlsroute" => typed(doc).map(|o| gws.tls_routes.push(o)),
            "referencegrant" => typed(doc).map(|o| gws.reference_grants.push(o)),
            "listenerset" => typed(doc).map(|o| gws.listener_sets.push(o)),
            "loadbalancerconfiguration" => {
                typed(doc).map(|o| gws.load_balancer_configurations.push(o))
            }
            _ => typed(doc).map(|o| snap.endpoint_slices.push(trimmed(o, trim::trim_slice))),
        };
        if let Err(message) = parsed {
            self.errors.push(ObjectError {
                object: shown.clone(),
                message: format!("{shown} ({origin}): {message}; {LEFT_OUT}"),
            });
            return;
        }
        if name.is_empty() {
            // Nameless objects are the translation's error, not duplicates of each other.
            return;
        }
        let ns = if namespaced { namespace } else { String::new() };
        self.seen.entry((short, ns, name)).or_default().push(origin);
    }

    /// Ends the collection: objects defined more than once are errors of that object, and
    /// every copy is left out (which one the cluster would hold is not known).
    pub fn finish(mut self) -> Self {
        let dups: Vec<(Key, Vec<Origin>)> = std::mem::take(&mut self.seen)
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .collect();
        for ((short, ns, name), origins) in dups {
            let shown = if ns.is_empty() {
                format!("{short} {}", shorten(&name))
            } else {
                format!("{short} {}/{}", shorten(&ns), shorten(&name))
            };
            let places: Vec<String> = origins.iter().map(ToString::to_string).collect();
            self.errors.push(ObjectError {
                object: shown.clone(),
                message: format!(
                    "{shown} is defined {} times ({}); a cluster holds one object per name, so \
                     keep only one of them; {LEFT_OUT}",
                    origins.len(),
                    places.join(", ")
                ),
            });
            remove(&mut self.snapshot, &mut self.gateways, short, &ns, &name);
        }
        self.errors.sort_by(|a, b| {
            (a.object.as_str(), a.message.as_str()).cmp(&(b.object.as_str(), b.message.as_str()))
        });
        self
    }
}

/// Removes every object `short ns/name` from `snap`.
fn remove(snap: &mut Snapshot, gws: &mut GatewayObjects, short: &str, ns: &str, name: &str) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let namespaced = KINDS.iter().any(|k| k.2 == short && k.3);
    let keep = |m: &ObjectMeta| {
        m.name.as_deref().unwrap_or_default() != name
            || namespaced && m.namespace.as_deref().unwrap_or_default() != ns
    };
    match short {
        "ingress" => snap.ingresses.retain(|o| keep(&o.metadata)),
        "ingressclass" => snap.ingress_classes.retain(|o| keep(&o.metadata)),
        "ingressclassparams" => snap.ingress_class_params.retain(|o| keep(&o.metadata)),
        "service" => snap.services.retain(|o| keep(&o.metadata)),
        "secret" => snap
            .secrets
            .retain(|o| o.name != name || (namespaced && o.namespace != ns)),
        "node" => snap.nodes.retain(|o| keep(&o.metadata)),
        "namespace" => snap.namespaces.retain(|o| keep(&o.metadata)),
        "gatewayclass" => gws.classes.retain(|o| keep(&o.metadata)),
        "gateway" => gws.gateways.retain(|o| keep(&o.metadata)),
        "httproute" => gws.http_routes.retain(|o| keep(&o.metadata)),
        "grpcroute" => gws.grpc_routes.retain(|o| keep(&o.metadata)),
        "tcproute" => gws.tcp_routes.retain(|o| keep(&o.metadata)),
        "udproute" => gws.udp_routes.retain(|o| keep(&o.metadata)),
        "tlsroute" => gws.tls_routes.retain(|o| keep(&o.metadata)),
        "referencegrant" => gws.reference_grants.retain(|o| keep(&o.metadata)),
        "listenerset" => gws.listener_sets.retain(|o| keep(&o.metadata)),
        "loadbalancerconfiguration" => gws
            .load_balancer_configurations
            .retain(|o| keep(&o.metadata)),
        _ => snap.endpoint_slices.retain(|o| keep(&o.metadata)),
    }
}

fn trimmed<K: kube::Resource>(mut o: K, trim_kind: fn(&mut K)) -> K {
    trim::strip(&mut o);
    trim_kind(&mut o);
    o
}

/// Converts a document into its type; the error names the field.
///
/// # Errors
/// The document does not match the type: the message names the field.
pub fn typed<T: DeserializeOwned>(doc: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = field_path(e.path());
        schema_message(&path, &e.inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Origin {
        Origin {
            source: "f.yaml".to_owned(),
            document: 3,
            item: None,
        }
    }

    /// Every message of one document, exact.
    #[test]
    fn each_mistake_has_its_message() {
        let doc_left = "the document is left out, everything else is still planned";
        let cases: Vec<(Value, String)> = vec![
            (
                json!("text"),
                format!("f.yaml: document 3: not a Kubernetes object: the document is a string, expected a mapping with apiVersion, kind and metadata; {doc_left}"),
            ),
            (
                json!({"kind": "Ingress", "metadata": {"name": "x"}}),
                format!("f.yaml: document 3: kind Ingress but no apiVersion: every Kubernetes object needs both (networking.k8s.io/v1); {doc_left}"),
            ),
            (
                json!({"apiVersion": "v1", "kind": 7}),
                format!("f.yaml: document 3: kind is a number, expected a string; {doc_left}"),
            ),
            (
                json!({"apiVersion": ["v1"], "kind": "Service"}),
                format!("f.yaml: document 3: apiVersion is a list, expected a string; {doc_left}"),
            ),
            (
                json!({"apiVersion": "v1", "kind": "ServiceList", "items": {}}),
                format!("f.yaml: document 3: ServiceList without a list of items; {doc_left}"),
            ),
            (
                json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "old"}}),
                format!("f.yaml: document 3: extensions/v1beta1 Ingress old: plan reads Ingress as apiVersion networking.k8s.io/v1 only (the version a cluster serves); convert the manifest; {doc_left}"),
            ),
            (
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "labels": {"rack": 4}}}),
                "node n (f.yaml: document 3): metadata.labels.rack: invalid type: integer `4`, expected a string; label values are strings: quote it in YAML (\"4\", not 4); the object is left out, everything else is still planned".to_owned(),
            ),
        ];
        for (doc, want) in cases {
            let mut c = Collector::default();
            c.add(origin(), doc.clone());
            let got: Vec<&str> = c.errors.iter().map(|e| e.message.as_str()).collect();
            assert_eq!(got, vec![want.as_str()], "{doc}");
            assert_eq!(c.objects_read, 1, "{doc}");
        }
    }

    #[test]
    fn notes_say_why_a_document_is_not_used() {
        let mut c = Collector::default();
        c.add(origin(), json!({"stacks": []}));
        c.add(origin(), json!(null));
        c.add(
            Origin {
                item: Some(2),
                ..origin()
            },
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        );
        assert_eq!(
            c.notes,
            vec![
                "f.yaml: document 3: skipped: not a Kubernetes object (no apiVersion and no kind)",
                "f.yaml: document 3, item 2: v1/ConfigMap c ignored (not an input of plan)",
            ]
        );
        assert!(c.errors.is_empty());
    }

    #[test]
    fn long_values_are_cut() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(150);
        assert_eq!(
            shorten(&long),
            format!("{}… (150 characters)", "é".repeat(100))
        );
        let message = format!("invalid type: string \"{}\"", "x".repeat(400));
        let cut = shorten_message(&message);
        assert_eq!(
            cut.chars().count(),
            300 + "… (423 characters)".chars().count()
        );
        assert!(cut.ends_with("… (423 characters)"), "{cut}");
    }
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;
    use serde_json::json;

    fn at(document: usize) -> Origin {
        Origin {
            source: "f.yaml".to_owned(),
            document,
            item: None,
        }
    }

    #[test]
    fn only_the_duplicated_object_is_left_out() {
        let svc = |ns: Option<&str>, name: Option<&str>| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns}, "spec": {}})
        };
        let mut c = Collector::default();
        c.add(at(1), svc(None, Some("web")));
        c.add(at(2), svc(None, Some("web")));
        c.add(at(3), svc(Some("shop"), Some("web")));
        c.add(at(4), svc(Some("shop"), None));
        c.add(at(5), svc(Some("shop"), None));
        let c = c.finish();
        let messages: Vec<&str> = c.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["service web is defined 2 times (f.yaml: document 1, f.yaml: document 2); a cluster holds one object per name, so keep only one of them; the object is left out, everything else is still planned"]
        );
        let kept: Vec<(Option<String>, Option<String>)> = c
            .snapshot
            .services
            .iter()
            .map(|s| (s.metadata.namespace.clone(), s.metadata.name.clone()))
            .collect();
        assert_eq!(
            kept,
            vec![
                (Some("shop".to_owned()), Some("web".to_owned())),
                (Some("shop".to_owned()), None),
                (Some("shop".to_owned()), None),
            ]
        );
    }
}
