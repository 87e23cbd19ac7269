//! Files, directories and standard input to documents: YAML split into documents the way
//! kubectl splits them, JSON read as a stream of values with `List` items converted one at a
//! time (a cluster dump is never held as one JSON tree).
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::objects::{Collector, Origin};
use super::ManifestError;

/// How `-` is shown in messages.
pub const STDIN: &str = "standard input";

/// Extensions read from directories (kubectl's).
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// The files to read for `paths`, in order; skipped entries are noted.
pub fn collect(
    paths: &[PathBuf],
    recursive: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<PathBuf>, ManifestError> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, recursive, &mut out, notes)?;
        } else {
            // A file named explicitly is read whatever its extension, as kubectl does.
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    recursive: bool,
    out: &mut Vec<PathBuf>,
    notes: &mut Vec<String>,
) -> Result<(), ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                walk(&entry, recursive, out, notes)?;
            } else {
                notes.push(format!(
                    "{}: skipped: a subdirectory (-R reads subdirectories too)",
                    entry.display()
                ));
            }
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(entry);
        } else {
            notes.push(format!(
                "{}: skipped: not a .yaml, .yml or .json file",
                entry.display()
            ));
        }
    }
    Ok(())
}

/// Reads one input into `c`.
pub fn read_input(path: &Path, c: &mut Collector) -> Result<(), ManifestError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| ManifestError::Read {
                path: STDIN.to_owned(),
                source,
            })?;
        return read_text(STDIN, &text, c);
    }
    let shown = path.display().to_string();
    let read_err = |source| ManifestError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    // JSON (by extension, or by its first character) is streamed from the file.
    let first = loop {
        let buf = reader.fill_buf().map_err(read_err)?;
        if buf.is_empty() {
            break None;
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    let is_json_ext = path.extension().and_then(|e| e.to_str()) == Some("json");
    if is_json_ext && first.is_some() {
        let mut de = serde_json::Deserializer::from_reader(reader);
        return read_json(&shown, &mut de, c);
    }
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(read_err)?;
    read_text(&shown, &text, c)
}

/// YAML or JSON text: JSON when it starts with `{` and reads as JSON (a YAML flow mapping
/// also starts with `{`: when the first JSON value fails before anything was read, it is YAML).
fn read_text(source: &str, text: &str, c: &mut Collector) -> Result<(), ManifestError> {
    if text.trim_start().starts_with('{') {
        let before = (c.objects_read, c.errors.len(), c.notes.len());
        let mut de = serde_json::Deserializer::from_str(text);
        match read_json(source, &mut de, c) {
            Ok(()) => return Ok(()),
            Err(e) if before != (c.objects_read, c.errors.len(), c.notes.len()) => return Err(e),
            Err(_) => {}
        }
    }
    read_yaml(source, text, c);
    Ok(())
}

/// Limits on one YAML document. Sizes grow with the document (a `kind: List` of a large
/// cluster is one document); what does not grow with it are the limits against malicious
/// input: nesting, aliases and anchors.
fn yaml_options(doc_len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    // Without aliases a node takes at least one byte of input, an event at most two per node.
    budget.max_nodes = node_limit(doc_len);
    budget.max_events = budget.max_events.max(doc_len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(doc_len);
    budget.max_documents = 1;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    opts
}

/// Most nodes (mappings, sequences, scalars) in a YAML document of `doc_len` bytes: 250,000
/// or one per byte, whichever is more.
fn node_limit(doc_len: usize) -> usize {
    doc_len.max(250_000)
}

/// Deepest nesting of mappings and sequences in a YAML document (Kubernetes objects nest
/// about 12 deep).
pub const MAX_DEPTH: usize = 64;
/// Most aliases (`*name`) and most anchors (`&name`) in a YAML document.
pub const MAX_ALIASES: usize = 50_000;

/// Splits YAML text into documents at lines starting with `---` (kubectl's rule), keeping the
/// separator line with the document that follows, and the 0-based line each starts on.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_sep = line.starts_with("---")
            && line[3..]
                .chars()
                .next()
                .is_none_or(|ch| ch.is_ascii_whitespace());
        // Directives (`%YAML 1.2`) and comments before a `---` belong to the document after it.
        let prelude = text[start..offset].lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l.starts_with('%')
        });
        if is_sep && offset > start && !prelude {
            docs.push((start_line, &text[start..offset]));
        }
        if is_sep && !prelude {
            start = offset;
            start_line = i;
        }
        offset += line.len();
    }
    if offset > start {
        docs.push((start_line, &text[start..offset]));
    }
    docs
}

/// Reads every YAML document of `text`; a document that is not valid YAML is an error of that
/// document only.
fn read_yaml(source: &str, text: &str, c: &mut Collector) {
    let mut document = 0;
    for (first_line, doc) in split_documents(text) {
        let blank = doc.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---" || l == "..."
        });
        if blank {
            continue;
        }
        document += 1;
        let origin = Origin {
            source: source.to_owned(),
            document,
            item: None,
        };
        match serde_saphyr::from_str_with_options::<Value>(doc, yaml_options(doc.len())) {
            Ok(Value::Null) => document -= 1,
            Ok(value) => c.add(origin, value),
            Err(e) => {
                c.objects_read += 1;
                c.document_error(&origin, yaml_message(&e, first_line, doc.len()));
            }
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The error under the library's snippet and alias wrappers.
fn original(mut e: &serde_saphyr::Error) -> &serde_saphyr::Error {
    loop {
        match e {
            serde_saphyr::Error::WithSnippet { error, .. }
            | serde_saphyr::Error::AliasError { error, .. } => e = error,
            other => return other,
        }
    }
}

/// The YAML library's error in our words, with lines counted from the start of the file.
fn yaml_message(e: &serde_saphyr::Error, first_line: usize, doc_len: usize) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let at = e
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| {
            format!(
                " (line {}, column {})",
                l.line() + first_line as u64,
                l.column()
            )
        })
        .unwrap_or_default();
    match original(e) {
        serde_saphyr::Error::Budget { breach, .. } => {
            let what = match breach {
                B::Depth { .. } => format!("mappings and lists nested deeper than {MAX_DEPTH}"),
                B::Aliases { .. } => {
                    format!("more than {} aliases (*name)", thousands(MAX_ALIASES))
                }
                B::Anchors { .. } => {
                    format!("more than {} anchors (&name)", thousands(MAX_ALIASES))
                }
                B::AliasAnchorRatio { .. } => {
                    "far more aliases than anchors (an alias bomb?)".to_owned()
                }
                B::Nodes { .. } | B::Events { .. } => format!(
                    "more than {} nodes once its aliases are expanded (an alias bomb?)",
                    thousands(node_limit(doc_len))
                ),
                B::ScalarBytes { .. } => format!(
                    "more than {} bytes of text once its aliases are expanded (an alias bomb?)",
                    thousands(doc_len.max(64 << 20))
                ),
                other => format!("more than a reader limit allows ({other:?})"),
            };
            format!("refused: the document has {what}{at}; Kubernetes objects never need that")
        }
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().map(super::objects::shorten);
            match key {
                Some(k) => format!(
                    "invalid YAML: the key {k:?} appears twice in one mapping{at}; keep one"
                ),
                None => format!("invalid YAML: a key appears twice in one mapping{at}; keep one"),
            }
        }
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => format!(
            "refused: the document's aliases expand too far{at} (an alias bomb?); Kubernetes \
             objects never need that"
        ),
        other => {
            let text = other.without_snippet().to_string();
            let first = text.lines().next().unwrap_or_default();
            // Drop the library's own location: ours counts lines from the start of the file.
            let first = first.split(" at line ").next().unwrap_or(first);
            format!("invalid YAML: {}{at}", super::objects::shorten(first))
        }
    }
}

/// Reads a stream of JSON values. A syntax error makes the rest of the file unreadable: it is
/// an error of the file.
fn read_json<'de, R: serde_json::de::Read<'de>>(
    source: &str,
    de: &mut serde_json::Deserializer<R>,
    c: &mut Collector,
) -> Result<(), ManifestError> {
    let mut document = 0;
    loop {
        document += 1;
        let origin = Origin {
            source: source.to_owned(),
            document,
            item: None,
        };
        let seed = DocSeed {
            collector: c,
            origin: &origin,
        };
        let doc = seed
            .deserialize(&mut *de)
            .map_err(|e| ManifestError::Json {
                path: source.to_owned(),
                message: super::objects::shorten(&e.to_string()),
            })?;
        match doc {
            JsonDoc::Value(v) => c.add(origin, v),
            JsonDoc::Streamed => {}
        }
        if de.end().is_ok() {
            return Ok(());
        }
    }
}

enum JsonDoc {
    /// A document to add.
    Value(Value),
    /// A list whose items were added as they were read.
    Streamed,
}

struct DocSeed<'a> {
    collector: &'a mut Collector,
    origin: &'a Origin,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = JsonDoc;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<JsonDoc, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = JsonDoc;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Kubernetes object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonDoc, A::Error> {
        let mut fields = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(ItemsSeed {
                    collector: &mut *self.collector,
                    origin: self.origin,
                })?;
                streamed = true;
            } else {
                let v: Value = map.next_value()?;
                fields.insert(key, v);
            }
        }
        if !streamed {
            return Ok(JsonDoc::Value(Value::Object(fields)));
        }
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
        if !kind.is_empty() && !kind.ends_with("List") {
            self.collector.notes.push(format!(
                "{}: {kind} has items: they were read as a list's",
                self.origin
            ));
        }
        Ok(JsonDoc::Streamed)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonDoc, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(JsonDoc::Value(Value::Array(Vec::new())))
    }
    fn visit_unit<E>(self) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<JsonDoc, E> {
        Ok(JsonDoc::Value(Value::from(v)))
    }
}

struct ItemsSeed<'a> {
    collector: &'a mut Collector,
    origin: &'a Origin,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of objects in `items`")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            i += 1;
            let origin = Origin {
                item: Some(i),
                ..self.origin.clone()
            };
            self.collector.add(origin, item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_where_kubectl_splits() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\n---x: 3\n---\n");
        assert_eq!(
            docs,
            vec![
                (0, "a: 1\n"),
                (1, "---\nb: 2\n"),
                (3, "--- # c\n---x: 3\n"),
                (5, "---\n")
            ]
        );
        // A directive stays with its document; so do leading comments.
        let docs = split_documents("# top\n%YAML 1.2\n---\na: 1\n---\nb: 2\n");
        assert_eq!(
            docs,
            vec![(0, "# top\n%YAML 1.2\n---\na: 1\n"), (4, "---\nb: 2\n")]
        );
        let mut c = Collector::default();
        read_yaml(
            "d.yaml",
            "%YAML 1.2\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
            &mut c,
        );
        assert_eq!((c.snapshot.namespaces.len(), c.errors.len()), (1, 0));
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn a_json_object_with_items_is_read_as_a_list_with_a_note() {
        let mut c = Collector::default();
        let text = r#"{"kind": "Odd", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}]}
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}"#;
        read_text("x.json", text, &mut c).unwrap();
        assert_eq!(c.snapshot.namespaces.len(), 2);
        assert_eq!(
            c.notes,
            vec!["x.json: document 1: Odd has items: they were read as a list's"]
        );
    }

    #[test]
    fn a_yaml_flow_mapping_is_not_taken_for_json() {
        let mut c = Collector::default();
        read_text(
            "x.yaml",
            "{apiVersion: v1, kind: Namespace, metadata: {name: a}}\n",
            &mut c,
        )
        .unwrap();
        assert_eq!(c.snapshot.namespaces.len(), 1);
    }

    #[test]
    fn too_many_aliases_are_refused() {
        let mut c = Collector::default();
        let mut text =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n");
        for i in 0..6_000 {
            text.push_str(&format!("  k{i}: &a{i} v\n"));
        }
        text.push_str("  list: [");
        for i in 0..50_001 {
            text.push_str(&format!("*a{}, ", i % 6_000));
        }
        text.push_str("]\n");
        read_text("x.yaml", &text, &mut c).unwrap();
        let got: Vec<&str> = c.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with(
                "x.yaml: document 1: refused: the document has more than 50,000 aliases (*name) (line 6005, column "
            ),
            "{got:?}"
        );
        assert!(got[0].ends_with("); Kubernetes objects never need that; the document is left out, everything else is still planned"), "{got:?}");
    }
}
