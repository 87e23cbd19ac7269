//! Reading Kubernetes objects from files, directories and standard input into a translation
//! [`Snapshot`], the way `kubectl apply -f` takes them.
//!
//! - `-f FILE` reads the file whatever its extension; `-f DIR` reads the directory's `*.yaml`,
//!   `*.yml` and `*.json` files in sorted order (subdirectories only with `-R`); `-f -` reads
//!   standard input. Skipped files are reported as notes.
//! - YAML is split into documents at `---` lines; JSON is a stream of values. `List` and
//!   `*List` kinds (`kubectl get -o json|yaml`) are unpacked; JSON lists are converted item by
//!   item as they are read.
//! - Documents are dispatched by `apiVersion` and `kind`; other kinds are noted as ignored.
//! - One bad document or object (not a mapping, no kind, a schema error, defined twice) is an
//!   error of that object alone: it is left out and everything else is read. Only an input that
//!   cannot be read at all, and a run that read no object, are errors of the whole run.
use std::path::PathBuf;

use aws_lb_operator_core::model::ObjectError;
use aws_lb_operator_core::translate::gateway::GatewayObjects;
use aws_lb_operator_core::translate::Snapshot;

pub mod objects;
mod read;

pub use objects::{shorten, Collector, Origin};
pub use read::{MAX_ALIASES, MAX_DEPTH, STDIN};

/// Why manifests could not be read at all (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file is not valid JSON (nothing after the error can be read).
    #[error("{path}: invalid JSON: {message}")]
    Json {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Nothing was read.
    #[error("no Kubernetes object was read from {inputs}{hint}")]
    NoObjects {
        /// The inputs as given.
        inputs: String,
        /// Where to look for why.
        hint: &'static str,
        /// What was skipped, and why.
        notes: Vec<String>,
    },
    /// An object could not be used ([`load_snapshot`] only; the CLI reports these per object).
    #[error("{0}")]
    Object(String),
}

impl ManifestError {
    /// Notes to print before the error (what was skipped).
    #[must_use]
    pub fn notes(&self) -> &[String] {
        match self {
            Self::NoObjects { notes, .. } => notes,
            _ => &[],
        }
    }
}

/// Loaded manifests.
#[derive(Debug, Default)]
pub struct Manifests {
    /// Objects for the translation.
    pub snapshot: Snapshot,
    /// Gateway API objects (from `-f` manifests, or the kinds a cluster serves).
    pub gateways: GatewayObjects,
    /// What was read but not used, and why (files skipped, kinds ignored).
    pub notes: Vec<String>,
    /// Documents and objects that could not be used; each is left out, the rest is used.
    pub errors: Vec<ObjectError>,
}

/// Loads manifests; every object error is an error (for tests and tools that want all or
/// nothing). Directories are read recursively.
pub fn load_snapshot(paths: &[PathBuf]) -> Result<Snapshot, ManifestError> {
    let m = load_manifests(paths, true)?;
    match m.errors.into_iter().next() {
        Some(e) => Err(ManifestError::Object(e.message)),
        None => Ok(m.snapshot),
    }
}

/// Loads manifests from files, directories (`recursive`: with their subdirectories) and `-`
/// (standard input).
pub fn load_manifests(paths: &[PathBuf], recursive: bool) -> Result<Manifests, ManifestError> {
    let mut c = Collector::default();
    let files = read::collect(paths, recursive, &mut c.notes)?;
    for file in &files {
        read::read_input(file, &mut c)?;
    }
    if c.objects_read == 0 {
        let inputs: Vec<String> = paths
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    STDIN.to_owned()
                } else {
                    p.display().to_string()
                }
            })
            .collect();
        return Err(ManifestError::NoObjects {
            inputs: inputs.join(", "),
            hint: if c.notes.is_empty() {
                ""
            } else {
                " (the notes above say what was skipped)"
            },
            notes: c.notes,
        });
    }
    let c = c.finish();
    Ok(Manifests {
        snapshot: c.snapshot,
        gateways: c.gateways,
        notes: c.notes,
        errors: c.errors,
    })
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn dispatches_documents_by_kind() {
        let dir = temp_dir("plan-manifests");
        let nested = dir.join("nested");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(
            dir.join("a.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: d}\nspec: {ports: [{port: 80}]}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
        )
        .unwrap();
        std::fs::write(
            nested.join("b.yml"),
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.k8s.io/v1\n  kind: IngressClass\n  metadata: {name: alb}\n  spec: {controller: ingress.k8s.aws/alb}\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "not yaml: [").unwrap();
        let m = load_manifests(std::slice::from_ref(&dir), true).unwrap();
        assert_eq!(m.snapshot.services.len(), 1);
        assert_eq!(m.snapshot.ingress_classes.len(), 1);
        assert!(m.errors.is_empty(), "{:?}", m.errors);
        assert_eq!(
            m.notes,
            vec![
                format!(
                    "{}: skipped: not a .yaml, .yml or .json file",
                    dir.join("notes.txt").display()
                ),
                format!(
                    "{}: document 2: v1/ConfigMap c ignored (not an input of plan)",
                    dir.join("a.yaml").display()
                ),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Secrets are read for their OIDC keys only, and an unreadable one is reported without
    /// any of its values (serde's message would quote them).
    #[test]
    fn secrets_keep_only_oidc_keys_and_their_errors_show_no_value() {
        let dir = temp_dir("plan-manifests-secrets");
        let file = dir.join("secrets.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Secret\nmetadata: {name: oidc, namespace: shop}\ndata: {clientID: Y2xpZW50, clientSecret: czNjcjN0, tls.key: a2V5}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: shop}\ndata: {clientSecret: \"not base64: hunter2!\"}\n",
        )
        .unwrap();
        let m = load_manifests(std::slice::from_ref(&file), false).unwrap();
        assert_eq!(m.snapshot.secrets.len(), 1);
        let s = &m.snapshot.secrets[0];
        assert_eq!((s.namespace.as_str(), s.name.as_str()), ("shop", "oidc"));
        assert_eq!(
            s.data.keys().map(String::as_str).collect::<Vec<_>>(),
            ["clientID", "clientSecret"]
        );
        assert_eq!(s.data["clientSecret"].bytes(), b"s3cr3t");
        let messages: Vec<&str> = m.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [format!(
                "secret shop/bad ({}: document 2): expected a Secret whose data values are base64 and stringData values are strings (the values are not shown); the object is left out, everything else is still planned",
                file.display()
            )]
        );
        assert!(!format!("{m:?}").contains("s3cr3t") && !format!("{m:?}").contains("hunter2"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn schema_errors_name_the_field_and_leave_only_that_object_out() {
        let dir = temp_dir("plan-manifests-bad");
        let file = dir.join("bad.yaml");
        std::fs::write(
            &file,
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    alb.ingress.kubernetes.io/group.order: 10\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {ports: [{port: \"80\"}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: shop}\n",
        )
        .unwrap();
        let m = load_manifests(std::slice::from_ref(&file), false).unwrap();
        let f = file.display();
        let messages: Vec<&str> = m.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                format!(
                    "ingress shop/web ({f}: document 1): metadata.annotations[\"alb.ingress.kubernetes.io/group.order\"]: \
                     invalid type: integer `10`, expected a string; annotation values are strings: quote it \
                     in YAML (\"10\", not 10); the object is left out, everything else is still planned"
                ),
                format!(
                    "service shop/s ({f}: document 2): spec.ports[0].port: invalid type: string \"80\", \
                     expected i32; the object is left out, everything else is still planned"
                ),
            ]
        );
        assert_eq!(m.errors[0].object, "ingress shop/web");
        assert!(m.snapshot.ingresses.is_empty());
        assert_eq!(m.snapshot.services.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gateway_api_kinds_are_read_and_other_versions_refused() {
        let dir = temp_dir("plan-manifests-gateway");
        let file = dir.join("gw.yaml");
        std::fs::write(
            &file,
            "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: alb}\nspec: {controllerName: gateway.k8s.aws/alb}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec: {gatewayClassName: alb, listeners: [{name: web, port: 80, protocol: HTTP}]}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec: {parentRefs: [{name: edge}]}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: g, namespace: data}\nspec: {from: [], to: []}\n---\n\
             apiVersion: gateway.k8s.aws/v1\nkind: LoadBalancerConfiguration\nmetadata: {name: c, namespace: shop}\nspec: {scheme: internal}\n---\n\
             apiVersion: gateway.k8s.aws/v1beta1\nkind: LoadBalancerConfiguration\nmetadata: {name: d, namespace: shop}\nspec: {}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1beta1\nkind: HTTPRoute\nmetadata: {name: old, namespace: shop}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: shop}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: g, namespace: shop}\nspec: {rules: [{matches: [{method: {service: a.B}}]}]}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: t, namespace: shop}\nspec: {rules: [{backendRefs: [{name: db, port: 5432}]}]}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata: {name: u, namespace: shop}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\nmetadata: {name: s, namespace: shop}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1alpha3\nkind: TLSRoute\nmetadata: {name: s3, namespace: shop}\nspec: {hostnames: [a.example.com]}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: new, namespace: shop}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata: {name: g1, namespace: data}\nspec: {from: [], to: []}\n---\n\
             apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: ls, namespace: shop}\nspec: {parentRef: {name: edge}, listeners: [{name: extra, port: 8080, protocol: HTTP}]}\n---\n\
             apiVersion: gateway.networking.x-k8s.io/v1alpha1\nkind: ListenerSet\nmetadata: {name: xls, namespace: shop}\n",
        )
        .unwrap();
        let m = load_manifests(std::slice::from_ref(&file), false).unwrap();
        let g = &m.gateways;
        assert_eq!(
            (
                g.classes.len(),
                g.gateways.len(),
                g.reference_grants.len(),
                g.load_balancer_configurations.len()
            ),
            (1, 1, 2, 2),
            "ReferenceGrant is read as v1beta1 and v1"
        );
        assert_eq!(
            (
                g.grpc_routes.len(),
                g.tcp_routes.len(),
                g.udp_routes.len(),
                g.tls_routes.len()
            ),
            (1, 1, 1, 2)
        );
        assert_eq!(g.listener_sets.len(), 1);
        assert_eq!(g.listener_sets[0].spec.listeners[0].port, 8080);
        assert_eq!(g.listener_sets[0].spec.parent_ref.name, "edge");
        assert_eq!(
            g.tcp_routes[0].spec.rules[0]
                .backend_refs
                .as_ref()
                .map(Vec::len),
            Some(1)
        );
        assert!(
            g.http_routes.is_empty(),
            "the route defined twice is left out"
        );
        let f = file.display();
        let messages: Vec<&str> = m.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                format!("{f}: document 14: gateway.networking.k8s.io/v1 TCPRoute new: plan reads TCPRoute as apiVersion gateway.networking.k8s.io/v1alpha2 only (the version a cluster serves); convert the manifest; the document is left out, everything else is still planned"),
                format!("{f}: document 17: gateway.networking.x-k8s.io/v1alpha1 ListenerSet xls: plan reads ListenerSet as apiVersion gateway.networking.k8s.io/v1 only (the version a cluster serves); convert the manifest; the document is left out, everything else is still planned"),
                format!("{f}: document 7: gateway.networking.k8s.io/v1beta1 HTTPRoute old: plan reads HTTPRoute as apiVersion gateway.networking.k8s.io/v1 only (the version a cluster serves); convert the manifest; the document is left out, everything else is still planned"),
                format!("httproute shop/r is defined 2 times ({f}: document 3, {f}: document 8); a cluster holds one object per name, so keep only one of them; the object is left out, everything else is still planned"),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_object_twice_is_an_error_naming_both_places() {
        let dir = temp_dir("plan-manifests-dup");
        let class = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\nspec: {controller: ingress.k8s.aws/alb}\n";
        std::fs::write(dir.join("a.yaml"), class).unwrap();
        std::fs::write(dir.join("b.yaml"), format!("apiVersion: v1\nkind: Service\nmetadata: {{name: alb, namespace: x}}\nspec: {{ports: [{{port: 80}}]}}\n---\n{class}")).unwrap();
        let m = load_manifests(std::slice::from_ref(&dir), false).unwrap();
        assert_eq!(m.errors.len(), 1);
        assert_eq!(
            m.errors[0].message,
            format!(
                "ingressclass alb is defined 2 times ({}: document 1, {}: document 2); a cluster \
                 holds one object per name, so keep only one of them; the object is left out, \
                 everything else is still planned",
                dir.join("a.yaml").display(),
                dir.join("b.yaml").display()
            )
        );
        assert!(m.snapshot.ingress_classes.is_empty());
        assert_eq!(m.snapshot.services.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
