//! Hostnames that get Route53 records, read the way ExternalDNS reads them.
//!
//! Ingress: every `spec.rules[].host` and `spec.tls[].hosts`; Ingress and Service: the
//! `hostname` annotation under the GA prefix `external-dns.kubernetes.io/` and the older
//! `external-dns.alpha.kubernetes.io/` (comma-separated). The `controller` annotation set to
//! anything but `dns-controller`, or [`DNS_OPT_OUT`] set to `"false"`, keeps an object's names
//! out of DNS.
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::error::{invalid_annotation, BuildError, ObjectRef};
use crate::dns::{canonical_name, DesiredHost};

/// Annotation prefixes ExternalDNS reads (GA since v0.22, and the alpha one before it).
pub const EXTERNAL_DNS_PREFIXES: [&str; 2] = [
    "external-dns.kubernetes.io/",
    "external-dns.alpha.kubernetes.io/",
];
/// Per-object opt-out: `"false"` keeps every hostname of the object out of Route53.
pub const DNS_OPT_OUT: &str = "aws-lb-operator.k8s.aws/manage-dns";
/// Longest TTL ExternalDNS accepts.
const MAX_TTL: i64 = 2_147_483_647;

pub(crate) fn external_dns<'m>(meta: &'m ObjectMeta, key: &str) -> Option<(String, &'m str)> {
    let annotations = meta.annotations.as_ref()?;
    EXTERNAL_DNS_PREFIXES.iter().find_map(|p| {
        let full = format!("{p}{key}");
        annotations.get(&full).map(|v| (full, v.as_str()))
    })
}

/// True when a hostname is a DNS name Route53 accepts as a record: labels of letters, digits
/// and hyphens (at most 63 bytes, not starting or ending with a hyphen), an optional leading
/// `*` label, at most 253 bytes.
#[must_use]
pub fn is_valid_hostname(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').enumerate().all(|(i, label)| {
        (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    })
}

/// A TTL as ExternalDNS reads it: seconds, or a duration like `90s`, `5m`, `1h`.
fn parse_ttl(value: &str) -> Option<i64> {
    let v = value.trim();
    let (digits, factor) = match v.chars().last()? {
        's' => (&v[..v.len() - 1], 1),
        'm' => (&v[..v.len() - 1], 60),
        'h' => (&v[..v.len() - 1], 3600),
        _ => (v, 1),
    };
    let n: i64 = digits.parse().ok()?;
    let ttl = n.checked_mul(factor)?;
    (1..=MAX_TTL).contains(&ttl).then_some(ttl)
}

/// Whether an object's names go to Route53 at all: not when [`DNS_OPT_OUT`] is `"false"`, nor
/// when ExternalDNS's `controller` annotation names another controller than `dns-controller`.
pub(crate) fn publishes(meta: &ObjectMeta) -> bool {
    let opted_out = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(DNS_OPT_OUT))
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let other_controller =
        external_dns(meta, "controller").is_some_and(|(_, c)| c != "dns-controller");
    !opted_out && !other_controller
}

/// The `ttl` annotation must be a TTL ExternalDNS reads (alias records have none, so the value
/// itself is not used).
pub(crate) fn check_ttl(object: &ObjectRef, meta: &ObjectMeta, errors: &mut Vec<BuildError>) {
    if let Some((key, ttl)) = external_dns(meta, "ttl") {
        if parse_ttl(ttl).is_none() {
            errors.push(invalid_annotation(
                object,
                &key,
                ttl,
                format!("a TTL in seconds (or like 90s, 5m, 1h) from 1 to {MAX_TTL}"),
            ));
        }
    }
}

/// The `hostname` annotation's names, canonical; a name Route53 cannot hold is an error of the
/// object (and left out).
pub(crate) fn annotation_hostnames(
    object: &ObjectRef,
    meta: &ObjectMeta,
    errors: &mut Vec<BuildError>,
) -> Vec<String> {
    let mut names = Vec::new();
    if let Some((key, value)) = external_dns(meta, "hostname") {
        for raw in value.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            let name = canonical_name(raw);
            if is_valid_hostname(&name) {
                names.push(name);
            } else {
                errors.push(invalid_annotation(
                    object,
                    &key,
                    raw,
                    "comma-separated DNS names (letters, digits and hyphens per label, an \
                     optional leading *. label)",
                ));
            }
        }
    }
    names
}

/// The hostnames of one object: `spec_hosts` (Ingress rules and TLS) plus the `hostname`
/// annotation, canonical, sorted, deduplicated. Problems are errors on the object that leave
/// its load balancer alone.
pub(crate) fn hosts<'a>(
    object: &ObjectRef,
    meta: &ObjectMeta,
    spec_hosts: impl Iterator<Item = &'a str>,
    errors: &mut Vec<BuildError>,
) -> Vec<DesiredHost> {
    if !publishes(meta) {
        return Vec::new();
    }
    check_ttl(object, meta, errors);
    let resource = format!("{}/{}/{}", object.kind, object.namespace, object.name);
    let mut names: Vec<String> = spec_hosts
        .filter(|h| !h.is_empty())
        .map(canonical_name)
        .collect();
    names.extend(annotation_hostnames(object, meta, errors));
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|hostname| DesiredHost {
            hostname,
            resource: resource.clone(),
        })
        .collect()
}

/// The hostnames of an Ingress: rules, TLS and the `hostname` annotation.
pub(crate) fn ingress_hosts_of(
    object: &ObjectRef,
    ing: &Ingress,
    errors: &mut Vec<BuildError>,
) -> Vec<DesiredHost> {
    let spec = ing.spec.as_ref();
    let rule_hosts = spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.host.as_deref());
    let tls_hosts = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(String::as_str);
    hosts(object, &ing.metadata, rule_hosts.chain(tls_hosts), errors)
}

/// The hostnames an Ingress asks for, whatever else is wrong with it (invalid hostname values
/// are skipped). The controller holds these records for an Ingress that has errors.
#[must_use]
pub fn ingress_hostnames(ing: &Ingress) -> Vec<DesiredHost> {
    let object = ObjectRef::namespaced(
        "ingress",
        ing.metadata.namespace.as_deref().unwrap_or("default"),
        ing.metadata.name.as_deref().unwrap_or_default(),
    );
    ingress_hosts_of(&object, ing, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_forms() {
        for (v, want) in [
            ("300", Some(300)),
            ("90s", Some(90)),
            ("5m", Some(300)),
            ("1h", Some(3600)),
            ("0", None),
            ("-5", None),
            ("abc", None),
            ("", None),
            ("2147483648", None),
        ] {
            assert_eq!(parse_ttl(v), want, "{v:?}");
        }
    }

    #[test]
    fn hostname_validity() {
        for (v, ok) in [
            ("www.example.com", true),
            ("*.example.com", true),
            ("a.*.example.com", false),
            ("-a.example.com", false),
            ("a..example.com", false),
            ("exa mple.com", false),
            (&"x".repeat(64), false),
        ] {
            assert_eq!(is_valid_hostname(v), ok, "{v:?}");
        }
    }
}
