//! Reading Kubernetes manifests from files and directories into a translation [`Snapshot`].
//!
//! Files are multi-document YAML. Directories are walked recursively for `*.yaml` / `*.yml`,
//! in sorted order, so the same tree always gives the same snapshot. Documents are dispatched
//! by `apiVersion` and `kind`; `List` objects are unpacked; other kinds are reported as ignored.
use std::fmt;
use std::path::{Path, PathBuf};

use aws_lb_operator_core::build::{params, IngressClassParams, Snapshot};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("{path}: invalid YAML: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A document of a known kind does not match its schema.
    #[error("{path}: document {document} ({kind} {name}): {message}")]
    Object {
        /// The file.
        path: PathBuf,
        /// 1-based document index in the file.
        document: usize,
        /// `apiVersion/kind`.
        kind: String,
        /// `metadata.name`, if any.
        name: String,
        /// The deserialiser's message.
        message: String,
    },
    /// The same object (kind, namespace, name) appears twice: a cluster holds only one.
    #[error(
        "{path}: document {document}: {kind} {name} is already defined in {first}, document \
         {first_document}; a cluster holds one object per name, so keep only one of them"
    )]
    Duplicate {
        /// The file of the second definition.
        path: PathBuf,
        /// Its 1-based document index.
        document: usize,
        /// `apiVersion/kind`.
        kind: String,
        /// `namespace/name`, or `name` when cluster-scoped.
        name: String,
        /// The file of the first definition.
        first: PathBuf,
        /// Its 1-based document index.
        first_document: usize,
    },
}

/// Where each object was first defined, by `apiVersion/kind namespace/name`.
type Seen = std::collections::BTreeMap<(String, String), (PathBuf, usize)>;

/// A document that was read but not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The file.
    pub path: PathBuf,
    /// 1-based document index in the file.
    pub document: usize,
    /// `apiVersion kind name`.
    pub what: String,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {}: {} ignored (not an input of plan)",
            self.path.display(),
            self.document,
            self.what
        )
    }
}

/// Loaded manifests.
#[derive(Debug, Default)]
pub struct Manifests {
    /// Objects for the translation.
    pub snapshot: Snapshot,
    /// Documents of other kinds.
    pub ignored: Vec<Ignored>,
}

/// Loads manifests from files and directories into a snapshot.
pub fn load_snapshot(paths: &[PathBuf]) -> Result<Snapshot, ManifestError> {
    load_manifests(paths).map(|m| m.snapshot)
}

/// Loads manifests, also reporting the documents that were ignored.
pub fn load_manifests(paths: &[PathBuf]) -> Result<Manifests, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, &mut files)?;
    }
    let mut out = Manifests::default();
    let mut seen = Seen::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read {
            path: file.clone(),
            source,
        })?;
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| ManifestError::Yaml {
                path: file.clone(),
                message: e.to_string(),
            })?;
        for (i, doc) in docs.into_iter().enumerate() {
            add_document(&mut out, &mut seen, &file, i + 1, doc)?;
        }
    }
    Ok(out)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect_files(&entry, out)?;
        } else if is_yaml(&entry) {
            out.push(entry);
        }
    }
    Ok(())
}

fn add_document(
    out: &mut Manifests,
    seen: &mut Seen,
    path: &Path,
    document: usize,
    doc: Value,
) -> Result<(), ManifestError> {
    if doc.is_null() {
        return Ok(());
    }
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    fn parse<T: DeserializeOwned>(
        doc: Value,
        path: &Path,
        document: usize,
        kind: String,
        name: String,
    ) -> Result<T, ManifestError> {
        serde_json::from_value(doc).map_err(|e| ManifestError::Object {
            path: path.to_path_buf(),
            document,
            kind,
            name,
            message: e.to_string(),
        })
    }
    let full_kind = format!("{api_version}/{kind}");
    let namespace = doc
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !name.is_empty() && !kind.ends_with("List") {
        let qualified = if namespace.is_empty() {
            name.clone()
        } else {
            format!("{namespace}/{name}")
        };
        let key = (full_kind.clone(), qualified.clone());
        if let Some((first, first_document)) = seen.get(&key) {
            return Err(ManifestError::Duplicate {
                path: path.to_path_buf(),
                document,
                kind: full_kind,
                name: qualified,
                first: first.clone(),
                first_document: *first_document,
            });
        }
        seen.insert(key, (path.to_path_buf(), document));
    }
    let snap = &mut out.snapshot;
    match (api_version.as_str(), kind.as_str()) {
        ("networking.k8s.io/v1", "Ingress") => snap
            .ingresses
            .push(parse(doc, path, document, full_kind, name)?),
        ("networking.k8s.io/v1", "IngressClass") => {
            snap.ingress_classes
                .push(parse(doc, path, document, full_kind, name)?);
        }
        (params::API_VERSION, params::KIND) => {
            let p: IngressClassParams = parse(doc, path, document, full_kind, name)?;
            snap.ingress_class_params.push(p);
        }
        ("v1", "Service") => snap
            .services
            .push(parse(doc, path, document, full_kind, name)?),
        ("v1", "Node") => snap
            .nodes
            .push(parse(doc, path, document, full_kind, name)?),
        ("v1", "Namespace") => snap
            .namespaces
            .push(parse(doc, path, document, full_kind, name)?),
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            snap.endpoint_slices
                .push(parse(doc, path, document, full_kind, name)?);
        }
        (_, k) if k.ends_with("List") && doc.get("items").is_some_and(Value::is_array) => {
            if let Some(Value::Array(items)) = doc.get("items").cloned() {
                for item in items {
                    add_document(out, seen, path, document, item)?;
                }
            }
        }
        _ => out.ignored.push(Ignored {
            path: path.to_path_buf(),
            document,
            what: format!("{full_kind} {name}"),
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_documents_by_kind() {
        let dir = std::env::temp_dir().join(format!("plan-manifests-{}", std::process::id()));
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
        let m = load_manifests(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(m.snapshot.services.len(), 1);
        assert_eq!(m.snapshot.ingress_classes.len(), 1);
        assert_eq!(m.ignored.len(), 1);
        assert_eq!(m.ignored[0].what, "v1/ConfigMap c");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn schema_errors_name_the_document() {
        let dir = std::env::temp_dir().join(format!("plan-manifests-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.yaml");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: oops}\n",
        )
        .unwrap();
        let err = load_manifests(&[file]).unwrap_err().to_string();
        assert!(err.contains("bad.yaml: document 1 (v1/Service s)"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_yaml_names_the_file() {
        let dir = std::env::temp_dir().join(format!("plan-manifests-yaml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("broken.yaml");
        std::fs::write(&file, "apiVersion: v1\nkind: [Service\n").unwrap();
        let err = load_manifests(std::slice::from_ref(&file))
            .unwrap_err()
            .to_string();
        let prefix = format!("{}: invalid YAML: ", file.display());
        assert!(
            err.starts_with(&prefix) && err.len() > prefix.len(),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_object_twice_is_an_error_naming_both_places() {
        let dir = std::env::temp_dir().join(format!("plan-manifests-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let class = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\nspec: {controller: ingress.k8s.aws/alb}\n";
        std::fs::write(dir.join("a.yaml"), class).unwrap();
        std::fs::write(dir.join("b.yaml"), format!("apiVersion: v1\nkind: Service\nmetadata: {{name: alb, namespace: x}}\nspec: {{ports: [{{port: 80}}]}}\n---\n{class}")).unwrap();
        let err = load_manifests(std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: document 2: networking.k8s.io/v1/IngressClass alb is already defined in {}, \
                 document 1; a cluster holds one object per name, so keep only one of them",
                dir.join("b.yaml").display(),
                dir.join("a.yaml").display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
