//! The TXT registry, in ExternalDNS's current format, so ownership carries over both ways.
//!
//! Every managed record has a TXT next to it whose name is the record's name with the
//! lower-cased record type put in front of the first label (`a-www.example.com`), or inside a
//! configured prefix/suffix (`%{record_type}` substituted when present), and whose value is
//! `"heritage=external-dns,external-dns/owner=<id>,external-dns/resource=<kind>/<ns>/<name>"`.
//! A record is ours when such a TXT names our owner id.
use std::collections::BTreeMap;

/// `heritage=` value written and required.
pub const HERITAGE: &str = "external-dns";
/// Label key prefix.
pub const LABEL_PREFIX: &str = "external-dns/";
/// Placeholder for the record type in a prefix or suffix.
pub const RECORD_TYPE_TEMPLATE: &str = "%{record_type}";

/// Maps record names to registry TXT names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxtMapper {
    prefix: String,
    suffix: String,
}

impl TxtMapper {
    /// A mapper for `--dns-txt-prefix` / `--dns-txt-suffix` (mutually exclusive, as in
    /// ExternalDNS).
    ///
    /// # Errors
    /// Both are set.
    pub fn new(prefix: &str, suffix: &str) -> Result<Self, String> {
        if !prefix.is_empty() && !suffix.is_empty() {
            return Err(format!(
                "--dns-txt-prefix {prefix:?} and --dns-txt-suffix {suffix:?} are mutually \
                 exclusive: set one of them"
            ));
        }
        Ok(Self {
            prefix: prefix.to_lowercase(),
            suffix: suffix.to_lowercase(),
        })
    }

    /// The registry TXT name of the record `name` of `record_type`.
    #[must_use]
    pub fn txt_name(&self, name: &str, record_type: &str) -> String {
        let rtype = record_type.to_lowercase();
        let (first, rest) = match name.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (name, None),
        };
        let join = |label: String| match rest {
            Some(r) => format!("{label}.{r}"),
            None => label,
        };
        if self.prefix.contains(RECORD_TYPE_TEMPLATE) {
            return format!(
                "{}{name}",
                self.prefix.replace(RECORD_TYPE_TEMPLATE, &rtype)
            );
        }
        if self.suffix.contains(RECORD_TYPE_TEMPLATE) {
            return join(format!(
                "{first}{}",
                self.suffix.replace(RECORD_TYPE_TEMPLATE, &rtype)
            ));
        }
        if !self.suffix.is_empty() {
            return join(format!("{rtype}-{first}{}", self.suffix));
        }
        format!("{}{rtype}-{name}", self.prefix)
    }

    /// Older TXT names that still prove ownership of the record (read, never written; a record
    /// owned only through one of them gets its current-format TXT once, see `plan_dns`):
    /// ExternalDNS before v0.22 kept the TXT of an alias `A` under `cname-`, and before v0.12
    /// the TXT had the record's own name (plus prefix/suffix), except for `AAAA`.
    #[must_use]
    pub fn legacy_txt_names(&self, name: &str, record_type: &str) -> Vec<String> {
        let mut out = Vec::new();
        if record_type == super::TYPE_A {
            out.push(self.txt_name(name, super::TYPE_CNAME));
        }
        if record_type != super::TYPE_AAAA
            && !self.prefix.contains(RECORD_TYPE_TEMPLATE)
            && !self.suffix.contains(RECORD_TYPE_TEMPLATE)
        {
            let legacy = if self.suffix.is_empty() {
                format!("{}{name}", self.prefix)
            } else {
                match name.split_once('.') {
                    Some((f, r)) => format!("{f}{}.{r}", self.suffix),
                    None => format!("{name}{}", self.suffix),
                }
            };
            out.push(legacy);
        }
        out
    }
}

/// The registry value (without quotes) for a record owned by `owner`, made from `resource`.
#[must_use]
pub fn heritage_value(owner: &str, resource: &str) -> String {
    let mut v = format!("heritage={HERITAGE},{LABEL_PREFIX}owner={owner}");
    if !resource.is_empty() {
        v.push_str(&format!(",{LABEL_PREFIX}resource={resource}"));
    }
    v
}

/// Labels of a registry value (quoted or not); `None` when it is not an ExternalDNS heritage
/// value (then the TXT proves nothing and is never touched).
#[must_use]
pub fn parse_heritage(value: &str) -> Option<BTreeMap<String, String>> {
    let value = value.trim().trim_matches('"');
    let mut parts = value.split(',');
    if parts.next()?.trim() != format!("heritage={HERITAGE}") {
        return None;
    }
    let mut labels = BTreeMap::new();
    for part in parts {
        let (k, v) = part.trim().split_once('=')?;
        let key = k.strip_prefix(LABEL_PREFIX)?;
        labels.insert(key.to_owned(), v.to_owned());
    }
    Some(labels)
}

/// The owner named by a registry value, if any.
#[must_use]
pub fn owner_of(value: &str) -> Option<String> {
    parse_heritage(value)?.remove("owner")
}
