//! Typed parsing of `alb.ingress.kubernetes.io/*` annotations, with LBC's defaults.
//!
//! Parsing never fails silently: a value that is present but unusable is an error naming the
//! object, the annotation, the value and what was expected.
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::de::DeserializeOwned;

use super::error::{invalid_annotation, BuildError, ObjectRef};
use crate::model::{tags, IpAddressType, Protocol, ProtocolVersion, Scheme, TargetType, WebAcl};

/// Prefix of every ALB annotation.
pub const PREFIX: &str = "alb.ingress.kubernetes.io/";
/// Legacy class annotation; it wins over `spec.ingressClassName`.
pub const INGRESS_CLASS: &str = "kubernetes.io/ingress.class";

/// `load-balancer-name`.
pub const LOAD_BALANCER_NAME: &str = "alb.ingress.kubernetes.io/load-balancer-name";
/// `group.name`.
pub const GROUP_NAME: &str = "alb.ingress.kubernetes.io/group.name";
/// `group.order`.
pub const GROUP_ORDER: &str = "alb.ingress.kubernetes.io/group.order";
/// `scheme`.
pub const SCHEME: &str = "alb.ingress.kubernetes.io/scheme";
/// `ip-address-type`.
pub const IP_ADDRESS_TYPE: &str = "alb.ingress.kubernetes.io/ip-address-type";
/// `subnets`.
pub const SUBNETS: &str = "alb.ingress.kubernetes.io/subnets";
/// `security-groups`.
pub const SECURITY_GROUPS: &str = "alb.ingress.kubernetes.io/security-groups";
/// `inbound-cidrs`.
pub const INBOUND_CIDRS: &str = "alb.ingress.kubernetes.io/inbound-cidrs";
/// `security-group-prefix-lists`.
pub const SECURITY_GROUP_PREFIX_LISTS: &str =
    "alb.ingress.kubernetes.io/security-group-prefix-lists";
/// What a managed prefix list id looks like.
pub const PREFIX_LIST_EXPECTED: &str =
    "a comma-separated list of managed prefix list ids such as pl-0123456789abcdef0";

/// A comma-separated list of prefix list ids (`pl-` and hexadecimal digits).
#[must_use]
pub fn parse_prefix_lists(v: &str) -> Option<Vec<String>> {
    let items = parse_list(v)?;
    items
        .iter()
        .all(|i| {
            i.strip_prefix("pl-")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .then_some(items)
}
/// `manage-backend-security-group-rules`: with `security-groups`, also attach the shared backend
/// security group and let it in on the node security groups.
pub const MANAGE_BACKEND_SECURITY_GROUP_RULES: &str =
    "alb.ingress.kubernetes.io/manage-backend-security-group-rules";
/// What a boolean annotation read like Go's `strconv.ParseBool` (LBC's) accepts.
pub const GO_BOOL_EXPECTED: &str =
    "\"true\" or \"false\" (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)";

/// Parses a boolean as LBC's `ParseBoolAnnotation` (Go's `strconv.ParseBool`) does.
#[must_use]
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
/// `listen-ports`.
pub const LISTEN_PORTS: &str = "alb.ingress.kubernetes.io/listen-ports";
/// `ssl-redirect`.
pub const SSL_REDIRECT: &str = "alb.ingress.kubernetes.io/ssl-redirect";
/// `certificate-arn`.
pub const CERTIFICATE_ARN: &str = "alb.ingress.kubernetes.io/certificate-arn";
/// `ssl-policy`.
pub const SSL_POLICY: &str = "alb.ingress.kubernetes.io/ssl-policy";
/// `target-type`.
pub const TARGET_TYPE: &str = "alb.ingress.kubernetes.io/target-type";
/// `backend-protocol`.
pub const BACKEND_PROTOCOL: &str = "alb.ingress.kubernetes.io/backend-protocol";
/// `backend-protocol-version`.
pub const BACKEND_PROTOCOL_VERSION: &str = "alb.ingress.kubernetes.io/backend-protocol-version";
/// `healthcheck-port`.
pub const HEALTHCHECK_PORT: &str = "alb.ingress.kubernetes.io/healthcheck-port";
/// `healthcheck-protocol`.
pub const HEALTHCHECK_PROTOCOL: &str = "alb.ingress.kubernetes.io/healthcheck-protocol";
/// `healthcheck-path`.
pub const HEALTHCHECK_PATH: &str = "alb.ingress.kubernetes.io/healthcheck-path";
/// `healthcheck-interval-seconds`.
pub const HEALTHCHECK_INTERVAL: &str = "alb.ingress.kubernetes.io/healthcheck-interval-seconds";
/// `healthcheck-timeout-seconds`.
pub const HEALTHCHECK_TIMEOUT: &str = "alb.ingress.kubernetes.io/healthcheck-timeout-seconds";
/// `healthy-threshold-count`.
pub const HEALTHY_THRESHOLD: &str = "alb.ingress.kubernetes.io/healthy-threshold-count";
/// `unhealthy-threshold-count`.
pub const UNHEALTHY_THRESHOLD: &str = "alb.ingress.kubernetes.io/unhealthy-threshold-count";
/// `success-codes`.
pub const SUCCESS_CODES: &str = "alb.ingress.kubernetes.io/success-codes";
/// `load-balancer-attributes`.
pub const LOAD_BALANCER_ATTRIBUTES: &str = "alb.ingress.kubernetes.io/load-balancer-attributes";
/// `target-group-attributes`.
pub const TARGET_GROUP_ATTRIBUTES: &str = "alb.ingress.kubernetes.io/target-group-attributes";
/// `tags`.
pub const TAGS: &str = "alb.ingress.kubernetes.io/tags";
/// `wafv2-acl-arn`.
pub const WAFV2_ACL_ARN: &str = "alb.ingress.kubernetes.io/wafv2-acl-arn";
/// `shield-advanced-protection`.
pub const SHIELD_ADVANCED_PROTECTION: &str = "alb.ingress.kubernetes.io/shield-advanced-protection";
/// `actions.<name>` prefix.
pub const ACTIONS_PREFIX: &str = "alb.ingress.kubernetes.io/actions.";
/// `conditions.<name>` prefix.
pub const CONDITIONS_PREFIX: &str = "alb.ingress.kubernetes.io/conditions.";
/// `transforms.<name>` prefix.
pub const TRANSFORMS_PREFIX: &str = "alb.ingress.kubernetes.io/transforms.";

/// Service port name that points a backend at an `actions.<service name>` annotation.
pub const USE_ANNOTATION: &str = "use-annotation";

/// Default health-check settings (LBC's).
pub mod defaults {
    /// `healthcheck-path` for HTTP1/HTTP2.
    pub const HEALTHCHECK_PATH: &str = "/";
    /// `healthcheck-path` for gRPC.
    pub const HEALTHCHECK_PATH_GRPC: &str = "/AWS.ALB/healthcheck";
    /// `healthcheck-port`.
    pub const HEALTHCHECK_PORT: &str = "traffic-port";
    /// `healthcheck-interval-seconds`.
    pub const HEALTHCHECK_INTERVAL: u32 = 15;
    /// `healthcheck-timeout-seconds`.
    pub const HEALTHCHECK_TIMEOUT: u32 = 5;
    /// `healthy-threshold-count`.
    pub const HEALTHY_THRESHOLD: u32 = 2;
    /// `unhealthy-threshold-count`.
    pub const UNHEALTHY_THRESHOLD: u32 = 2;
    /// `success-codes` for HTTP1/HTTP2.
    pub const SUCCESS_CODES: &str = "200";
    /// `success-codes` for gRPC.
    pub const SUCCESS_CODES_GRPC: &str = "12";
}

/// Read access to one object's annotations, producing errors that name the object.
#[derive(Clone, Copy, Debug)]
pub struct Annotations<'a> {
    object: &'a ObjectRef,
    map: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Annotations<'a> {
    /// Wraps an object's annotations.
    #[must_use]
    pub fn new(object: &'a ObjectRef, map: Option<&'a BTreeMap<String, String>>) -> Self {
        Self { object, map }
    }

    /// The object, for error messages.
    #[must_use]
    pub fn object(&self) -> &'a ObjectRef {
        self.object
    }

    /// Every annotation, as written.
    #[must_use]
    pub fn all(&self) -> Option<&'a BTreeMap<String, String>> {
        self.map
    }

    /// Raw value, trimmed.
    #[must_use]
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.map.and_then(|m| m.get(key)).map(|v| v.trim())
    }

    fn err(&self, key: &str, value: &str, expected: impl Into<String>) -> BuildError {
        invalid_annotation(self.object, key, value, expected)
    }

    /// Parses with `parse`, which returns `None` for an unusable value.
    pub fn parse_with<T>(
        &self,
        key: &str,
        expected: impl Into<String>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, BuildError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| self.err(key, v, expected)),
        }
    }

    /// A non-empty string.
    pub fn string(&self, key: &str) -> Result<Option<String>, BuildError> {
        self.parse_with(key, "a non-empty string", |v| {
            (!v.is_empty()).then(|| v.to_owned())
        })
    }

    /// An integer in `min..=max`.
    pub fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, BuildError> {
        self.parse_with(key, format!("an integer from {min} to {max}"), |v| {
            v.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
        })
    }

    /// A `u32` in `min..=max`.
    pub fn u32_in(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, BuildError> {
        Ok(self
            .int(key, i64::from(min), i64::from(max))?
            .and_then(|n| u32::try_from(n).ok()))
    }

    /// A comma-separated list of non-empty items.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, BuildError> {
        self.parse_with(
            key,
            "a comma-separated list of non-empty values",
            parse_list,
        )
    }

    /// A comma-separated `key=value` map.
    pub fn map(&self, key: &str) -> Result<Option<BTreeMap<String, String>>, BuildError> {
        self.parse_with(key, "a comma-separated list of key=value pairs", parse_map)
    }

    /// A JSON document.
    pub fn json<T: DeserializeOwned>(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<T>, BuildError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => serde_json::from_str(v)
                .map(Some)
                .map_err(|e| self.err(key, v, format!("{expected} ({e})"))),
        }
    }
}

/// Splits `a, b,c` into trimmed items, dropping empty ones (`a,,b`, a trailing comma) as LBC's
/// `splitCommaSeparatedString` does; `None` when no item remains (LBC reads that as an empty
/// list, which no annotation means on purpose).
#[must_use]
pub fn parse_list(v: &str) -> Option<Vec<String>> {
    let items: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!items.is_empty()).then_some(items)
}

/// LBC's `splitKeyValuePairs` (pkg/annotations/parser.go): `\` escapes the next character (so
/// `\,` is a comma inside a value), and a comma separates pairs only when an `=` follows it
/// somewhere; a trailing comma stays in the last value.
fn split_key_value_pairs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && chars.peek().is_some() {
            if let Some((_, escaped)) = chars.next() {
                current.push(escaped);
            }
        } else if c == ',' {
            let remaining = s[i + 1..].trim();
            if remaining.contains('=') {
                out.push(current.trim().to_owned());
                current.clear();
            } else if !remaining.is_empty() {
                out.push(current.trim().to_owned());
                out.push(remaining.to_owned());
                return out;
            } else {
                current.push(c);
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// Splits `k1=v1,k2=v2` as LBC's `ParseStringMapAnnotation` does (escaped commas, `=` allowed
/// in values, keys and values trimmed); `None` if a pair has no `=` or an empty key.
#[must_use]
pub fn parse_map(v: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in split_key_value_pairs(v) {
        let (k, val) = pair.split_once('=')?;
        let k = k.trim();
        if k.is_empty() {
            return None;
        }
        out.insert(k.to_owned(), val.trim().to_owned());
    }
    Some(out)
}

/// Whether `v` is an IPv4 or IPv6 CIDR.
#[must_use]
pub fn is_cidr(v: &str) -> bool {
    let Some((addr, len)) = v.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => len <= 32,
        Ok(IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

/// Whether `v` is an ARN of one of `services`: `arn:<partition>:<service>:<region>:<account>:<resource>`
/// (region may be empty, as in IAM server certificates), without whitespace.
#[must_use]
pub fn is_arn(v: &str, services: &[&str]) -> bool {
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    match parts.as_slice() {
        [arn, partition, service, _region, account, resource] => {
            *arn == "arn"
                && partition.starts_with("aws")
                && services.contains(service)
                && !account.is_empty()
                && !resource.is_empty()
                && !v.contains(char::is_whitespace)
        }
        _ => false,
    }
}

/// What a certificate ARN looks like.
pub const CERTIFICATE_ARN_EXPECTED: &str = "a comma-separated list of certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM)";

/// A list of ACM or IAM certificate ARNs. Empty elements (`arn1,,arn2`, a trailing comma)
/// are dropped, as LBC's `splitCommaSeparatedString` does.
#[must_use]
pub fn parse_certificate_arns(v: &str) -> Option<Vec<String>> {
    let arns: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    arns.iter()
        .all(|c| is_arn(c, &["acm", "iam"]))
        .then_some(arns)
}

/// What `wafv2-acl-arn` (and IngressClassParams `wafv2AclArn`) takes.
pub const WAFV2_ACL_ARN_EXPECTED: &str = "a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or \"none\" to remove the load balancer's web ACL";

/// A web ACL as LBC reads `wafv2-acl-arn`: `none` (and, as in LBC, an empty value) removes
/// the association; anything else must be a regional WAFv2 web ACL ARN (LBC sends any value
/// to AWS, which refuses what is not one).
#[must_use]
pub fn parse_web_acl(v: &str) -> Option<WebAcl> {
    if v == "none" || v.is_empty() {
        return Some(WebAcl::Disassociate);
    }
    let resource = v.splitn(6, ':').nth(5).unwrap_or_default();
    (is_arn(v, &["wafv2"]) && resource.starts_with("regional/webacl/"))
        .then(|| WebAcl::Associate(v.to_owned()))
}

/// A `serde_json` error in the words of the annotation's author: JSON objects and lists,
/// not Rust's maps, sequences and struct names.
#[must_use]
pub fn json_reason(e: &serde_json::Error) -> String {
    let text = e
        .to_string()
        .replace("invalid type: map", "invalid type: JSON object")
        .replace("expected a sequence", "expected a JSON list")
        .replace("invalid type: sequence", "invalid type: JSON list")
        .replace("expected a map", "expected a JSON object");
    // `expected struct RawAction` names a Rust type: say what it is instead.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "struct ".len()..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        out.push_str("a JSON object");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn valid_group_name(v: &str) -> bool {
    let bytes = v.as_bytes();
    !v.is_empty()
        && v.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// What a group name must look like.
pub const GROUP_NAME_EXPECTED: &str =
    "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters";

/// Validates a group name (annotation or IngressClassParams).
#[must_use]
pub fn parse_group_name(v: &str) -> Option<String> {
    valid_group_name(v).then(|| v.to_owned())
}

/// What a load balancer name must look like.
pub const LOAD_BALANCER_NAME_EXPECTED: &str =
    "at most 32 letters, digits and '-', not starting or ending with '-' and not starting with \"internal-\"";

/// Validates an explicit load balancer name.
#[must_use]
pub fn parse_load_balancer_name(v: &str) -> Option<String> {
    let ok = !v.is_empty()
        && v.len() <= crate::model::MAX_NAME_LEN
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !v.starts_with('-')
        && !v.ends_with('-')
        && !v.starts_with("internal-");
    ok.then(|| v.to_owned())
}

/// Annotations that may be set on the Ingress and overridden on the Service ("Ing,Svc").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackendSettings {
    /// `target-type`.
    pub target_type: Option<TargetType>,
    /// `backend-protocol`.
    pub backend_protocol: Option<Protocol>,
    /// `backend-protocol-version`.
    pub backend_protocol_version: Option<ProtocolVersion>,
    /// `healthcheck-port`: `traffic-port`, a number, or a Service port name.
    pub healthcheck_port: Option<String>,
    /// `healthcheck-protocol`.
    pub healthcheck_protocol: Option<Protocol>,
    /// `healthcheck-path`.
    pub healthcheck_path: Option<String>,
    /// `healthcheck-interval-seconds`.
    pub healthcheck_interval: Option<u32>,
    /// `healthcheck-timeout-seconds`.
    pub healthcheck_timeout: Option<u32>,
    /// `healthy-threshold-count`.
    pub healthy_threshold: Option<u32>,
    /// `unhealthy-threshold-count`.
    pub unhealthy_threshold: Option<u32>,
    /// `success-codes`.
    pub success_codes: Option<String>,
    /// `target-group-attributes`.
    pub target_group_attributes: Option<BTreeMap<String, String>>,
    /// `tags` (merged: Ingress, then Service).
    pub tags: BTreeMap<String, String>,
}

impl BackendSettings {
    /// Parses the "Ing,Svc" annotations of one object.
    pub fn parse(a: &Annotations<'_>) -> Result<Self, BuildError> {
        check_timeout_below_interval(
            a,
            a.u32_in(HEALTHCHECK_INTERVAL, 5, 300)?,
            a.u32_in(HEALTHCHECK_TIMEOUT, 2, 120)?,
        )?;
        let proto = |key: &str| {
            a.parse_with(key, Protocol::ALB_EXPECTED, |v| {
                Protocol::parse_alb(&v.to_ascii_uppercase())
            })
        };
        Ok(Self {
            target_type: a.parse_with(TARGET_TYPE, TargetType::expected(), TargetType::parse)?,
            backend_protocol: proto(BACKEND_PROTOCOL)?,
            backend_protocol_version: a.parse_with(
                BACKEND_PROTOCOL_VERSION,
                ProtocolVersion::expected(),
                |v| ProtocolVersion::parse(&v.to_ascii_uppercase()),
            )?,
            healthcheck_port: a.parse_with(
                HEALTHCHECK_PORT,
                "\"traffic-port\", a port number from 1 to 65535 or a service port name",
                parse_healthcheck_port,
            )?,
            healthcheck_protocol: proto(HEALTHCHECK_PROTOCOL)?,
            healthcheck_path: a.parse_with(
                HEALTHCHECK_PATH,
                "a path starting with \"/\"",
                |v| v.starts_with('/').then(|| v.to_owned()),
            )?,
            healthcheck_interval: a.u32_in(HEALTHCHECK_INTERVAL, 5, 300)?,
            healthcheck_timeout: a.u32_in(HEALTHCHECK_TIMEOUT, 2, 120)?,
            healthy_threshold: a.u32_in(HEALTHY_THRESHOLD, 2, 10)?,
            unhealthy_threshold: a.u32_in(UNHEALTHY_THRESHOLD, 2, 10)?,
            success_codes: a.parse_with(
                SUCCESS_CODES,
                "HTTP codes from 200 to 499 (gRPC codes from 0 to 99) such as \"200\", \"200,302\" or \"200-399\"",
                parse_success_codes,
            )?,
            target_group_attributes: attributes(
                a,
                TARGET_GROUP_ATTRIBUTES,
                super::attributes::Set::ApplicationTargetGroup,
            )?,
            tags: parse_tags(a)?.unwrap_or_default(),
        })
    }

    /// `self` (the Service's) overriding `ingress` field by field; tags are merged, Service wins.
    #[must_use]
    pub fn over(&self, ingress: &Self) -> Self {
        let mut tags = ingress.tags.clone();
        tags.extend(self.tags.clone());
        Self {
            target_type: self.target_type.or(ingress.target_type),
            backend_protocol: self.backend_protocol.or(ingress.backend_protocol),
            backend_protocol_version: self
                .backend_protocol_version
                .or(ingress.backend_protocol_version),
            healthcheck_port: self
                .healthcheck_port
                .clone()
                .or_else(|| ingress.healthcheck_port.clone()),
            healthcheck_protocol: self.healthcheck_protocol.or(ingress.healthcheck_protocol),
            healthcheck_path: self
                .healthcheck_path
                .clone()
                .or_else(|| ingress.healthcheck_path.clone()),
            healthcheck_interval: self.healthcheck_interval.or(ingress.healthcheck_interval),
            healthcheck_timeout: self.healthcheck_timeout.or(ingress.healthcheck_timeout),
            healthy_threshold: self.healthy_threshold.or(ingress.healthy_threshold),
            unhealthy_threshold: self.unhealthy_threshold.or(ingress.unhealthy_threshold),
            success_codes: self
                .success_codes
                .clone()
                .or_else(|| ingress.success_codes.clone()),
            target_group_attributes: self
                .target_group_attributes
                .clone()
                .or_else(|| ingress.target_group_attributes.clone()),
            tags,
        }
    }
}

/// Whether `v` is a Service port name (an IANA service name, as the API server validates
/// them): 1 to 15 lower-case letters, digits and '-', at least one letter, no '-' at either
/// end and no "--". So `-1` or `8080` is never taken for a port name.
#[must_use]
pub fn is_port_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 15
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && !v.starts_with('-')
        && !v.ends_with('-')
        && !v.contains("--")
}

/// `traffic-port`, a port number from 1 to 65535, or a Service port name.
#[must_use]
pub fn parse_healthcheck_port(v: &str) -> Option<String> {
    if v == defaults::HEALTHCHECK_PORT {
        return Some(v.to_owned());
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(|p| p.to_string());
    }
    is_port_name(v).then(|| v.to_owned())
}

/// Whether every code and range of a `success-codes` value lies in `lo..=hi`.
#[must_use]
pub fn success_codes_within(v: &str, lo: u16, hi: u16) -> bool {
    let code = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|c| (lo..=hi).contains(c))
    };
    let item_ok = |item: &str| match item.split_once('-') {
        Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
        None => code(item).is_some(),
    };
    !v.is_empty() && v.split(',').all(item_ok)
}

/// HTTP success codes ALB accepts.
pub const HTTP_SUCCESS_CODES: (u16, u16) = (200, 499);
/// gRPC success codes ALB accepts.
pub const GRPC_SUCCESS_CODES: (u16, u16) = (0, 99);

/// Codes of either kind (HTTP 200-499, gRPC 0-99); which kind applies is known once the
/// protocol version is (see the target group).
fn parse_success_codes(v: &str) -> Option<String> {
    success_codes_within(v, GRPC_SUCCESS_CODES.0, HTTP_SUCCESS_CODES.1).then(|| v.replace(' ', ""))
}

/// The `healthcheck-timeout-seconds` error when it is not below the interval.
fn check_timeout_below_interval(
    a: &Annotations<'_>,
    interval: Option<u32>,
    timeout: Option<u32>,
) -> Result<(), BuildError> {
    if let (Some(interval), Some(timeout)) = (interval, timeout) {
        if timeout >= interval {
            return Err(invalid_annotation(
                a.object(),
                HEALTHCHECK_TIMEOUT,
                a.raw(HEALTHCHECK_TIMEOUT).unwrap_or_default(),
                format!(
                    "fewer seconds than annotation {HEALTHCHECK_INTERVAL} ({interval}): ALB needs the health-check timeout below the interval"
                ),
            ));
        }
    }
    Ok(())
}

/// Parses `tags`, refusing the tracking tag keys.
pub fn parse_tags(a: &Annotations<'_>) -> Result<Option<BTreeMap<String, String>>, BuildError> {
    let Some(map) = a.map(TAGS)? else {
        return Ok(None);
    };
    check_tags(a, TAGS, &map)?;
    Ok(Some(map))
}

/// An attribute map annotation, checked against the keys and values of `set`.
pub fn attributes(
    a: &Annotations<'_>,
    key: &str,
    set: super::attributes::Set,
) -> Result<Option<BTreeMap<String, String>>, BuildError> {
    let Some(map) = a.map(key)? else {
        return Ok(None);
    };
    match super::attributes::problem(set, &map) {
        None => Ok(Some(map)),
        Some(expected) => Err(invalid_annotation(
            a.object(),
            key,
            a.raw(key).unwrap_or_default(),
            expected,
        )),
    }
}

/// Listener attributes per `(protocol, port)` of the listener.
pub type ListenerAttributes = BTreeMap<(Protocol, u16), BTreeMap<String, String>>;

/// `alb.ingress.kubernetes.io/listener-attributes.` (then `{Protocol}-{Port}`).
pub const LISTENER_ATTRIBUTES_PREFIX: &str = "alb.ingress.kubernetes.io/listener-attributes.";

/// Listener attributes per `(protocol, port)`: every annotation `<prefix><Protocol>-<Port>`
/// (LBC's `listener-attributes.HTTPS-443`), its value a `key=value` map checked against `set`.
/// A key under `prefix` whose rest is not one of `protocols`, a dash and a port is an error
/// (LBC would ignore it silently).
pub fn listener_attributes(
    a: &Annotations<'_>,
    prefix: &str,
    protocols: &[Protocol],
    set: super::attributes::Set,
) -> Result<ListenerAttributes, BuildError> {
    let mut out = BTreeMap::new();
    for key in a.all().into_iter().flat_map(BTreeMap::keys) {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let parsed = rest.rsplit_once('-').and_then(|(proto, port)| {
            let proto = Protocol::parse(proto).filter(|p| protocols.contains(p))?;
            let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
            Some((proto, port))
        });
        let Some(listener) = parsed else {
            let names: Vec<&str> = protocols.iter().map(|p| p.as_str()).collect();
            return Err(invalid_annotation(
                a.object(),
                key,
                a.raw(key).unwrap_or_default(),
                format!(
                    "a key {prefix}<protocol>-<port> with protocol {} and a port from 1 to 65535",
                    names.join(", ")
                ),
            ));
        };
        if let Some(map) = attributes(a, key, set)? {
            out.insert(listener, map);
        }
    }
    Ok(out)
}

/// LBC's `validateTagCollisionWithExternalManagedTags`: no annotation may set a tag key that
/// `--external-managed-tags` leaves to be managed outside the operator.
pub fn check_external_tags(
    a: &Annotations<'_>,
    key: &str,
    tags: Option<&BTreeMap<String, String>>,
    external: &[String],
) -> Result<(), BuildError> {
    match tags.into_iter().flat_map(BTreeMap::keys).find(|k| external.contains(k)) {
        Some(k) => Err(invalid_annotation(
            a.object(),
            key,
            a.raw(key).unwrap_or_default(),
            format!("no tag key {k:?}: --external-managed-tags leaves it to be managed outside the operator"),
        )),
        None => Ok(()),
    }
}

/// Refuses tags AWS or ownership would refuse: tracking keys, keys over 128 or values over
/// 256 characters, keys starting with `aws:`.
pub fn check_tags(
    a: &Annotations<'_>,
    key: &str,
    map: &BTreeMap<String, String>,
) -> Result<(), BuildError> {
    for (k, v) in map {
        if let Some(problem) = tags::user_tag_problem(k, v) {
            return Err(invalid_annotation(
                a.object(),
                key,
                a.raw(key).unwrap_or_default(),
                format!("key=value pairs with {problem}"),
            ));
        }
    }
    Ok(())
}

/// One entry of `listen-ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListenPort {
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// Parses `listen-ports` (`[{"HTTP": 80}, {"HTTPS": 443}]`).
pub fn parse_listen_ports(a: &Annotations<'_>) -> Result<Option<Vec<ListenPort>>, BuildError> {
    const EXPECTED: &str =
        "a JSON list of {\"HTTP\": port} or {\"HTTPS\": port} objects with ports from 1 to 65535, each port once";
    let Some(raw) = a.raw(LISTEN_PORTS) else {
        return Ok(None);
    };
    let err = || invalid_annotation(a.object(), LISTEN_PORTS, raw, EXPECTED);
    let entries: Vec<BTreeMap<String, serde_json::Value>> =
        serde_json::from_str(raw).map_err(|_| err())?;
    let mut out: Vec<ListenPort> = Vec::new();
    for entry in entries {
        if entry.len() != 1 {
            return Err(err());
        }
        for (proto, port) in entry {
            let protocol = Protocol::parse_alb(&proto.to_ascii_uppercase()).ok_or_else(err)?;
            let port = port
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(err)?;
            if out.iter().any(|lp| lp.port == port) {
                return Err(err());
            }
            out.push(ListenPort { port, protocol });
        }
    }
    if out.is_empty() {
        return Err(err());
    }
    out.sort();
    Ok(Some(out))
}

/// Every Ingress-level annotation of one member, parsed and validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressSettings {
    /// `load-balancer-name`.
    pub load_balancer_name: Option<String>,
    /// `group.name`.
    pub group_name: Option<String>,
    /// `group.order` (default 0).
    pub group_order: i32,
    /// `scheme`.
    pub scheme: Option<Scheme>,
    /// `ip-address-type`.
    pub ip_address_type: Option<IpAddressType>,
    /// `subnets`.
    pub subnets: Option<Vec<String>>,
    /// Subnet tag filters (IngressClassParams only).
    pub subnet_tags: Option<BTreeMap<String, Vec<String>>>,
    /// `security-groups`.
    pub security_groups: Option<Vec<String>>,
    /// `inbound-cidrs`.
    pub inbound_cidrs: Option<Vec<String>>,
    /// `security-group-prefix-lists`.
    pub inbound_prefix_lists: Option<Vec<String>>,
    /// `manage-backend-security-group-rules`.
    pub manage_backend_sg_rules: Option<bool>,
    /// `listen-ports`.
    pub listen_ports: Option<Vec<ListenPort>>,
    /// `ssl-redirect`.
    pub ssl_redirect: Option<u16>,
    /// `certificate-arn`.
    pub certificate_arns: Option<Vec<String>>,
    /// `ssl-policy`.
    pub ssl_policy: Option<String>,
    /// `load-balancer-attributes`.
    pub load_balancer_attributes: Option<BTreeMap<String, String>>,
    /// `tags`.
    pub tags: Option<BTreeMap<String, String>>,
    /// `wafv2-acl-arn`.
    pub wafv2_web_acl: Option<WebAcl>,
    /// `shield-advanced-protection`.
    pub shield_advanced_protection: Option<bool>,
    /// `listener-attributes.{Protocol}-{Port}`, per listen port.
    pub listener_attributes: ListenerAttributes,
    /// `mutual-authentication`, per port (HTTPS listen ports use it).
    pub mutual_authentication: Option<BTreeMap<u16, crate::model::MutualAuthenticationSpec>>,
    /// The "Ing,Svc" annotations as set on the Ingress.
    pub backend: BackendSettings,
}

impl IngressSettings {
    /// Parses every Ingress-level annotation.
    pub fn parse(a: &Annotations<'_>) -> Result<Self, BuildError> {
        let group_order = a
            .int(GROUP_ORDER, -1000, 1000)?
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0);
        let inbound_cidrs = a.list(INBOUND_CIDRS)?;
        if let (Some(cidrs), Some(raw)) = (&inbound_cidrs, a.raw(INBOUND_CIDRS)) {
            if !cidrs.iter().all(|c| is_cidr(c)) {
                return Err(invalid_annotation(
                    a.object(),
                    INBOUND_CIDRS,
                    raw,
                    "a comma-separated list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8",
                ));
            }
        }
        Ok(Self {
            load_balancer_name: a.parse_with(
                LOAD_BALANCER_NAME,
                LOAD_BALANCER_NAME_EXPECTED,
                parse_load_balancer_name,
            )?,
            group_name: a.parse_with(GROUP_NAME, GROUP_NAME_EXPECTED, parse_group_name)?,
            group_order,
            scheme: a.parse_with(SCHEME, Scheme::expected(), Scheme::parse)?,
            ip_address_type: a.parse_with(
                IP_ADDRESS_TYPE,
                IpAddressType::expected(),
                IpAddressType::parse,
            )?,
            subnets: a.list(SUBNETS)?,
            subnet_tags: None,
            security_groups: a.list(SECURITY_GROUPS)?,
            inbound_cidrs,
            inbound_prefix_lists: a.parse_with(
                SECURITY_GROUP_PREFIX_LISTS,
                PREFIX_LIST_EXPECTED,
                parse_prefix_lists,
            )?,
            manage_backend_sg_rules: a.parse_with(
                MANAGE_BACKEND_SECURITY_GROUP_RULES,
                GO_BOOL_EXPECTED,
                parse_go_bool,
            )?,
            listen_ports: parse_listen_ports(a)?,
            ssl_redirect: a
                .int(SSL_REDIRECT, 1, 65535)?
                .and_then(|n| u16::try_from(n).ok()),
            certificate_arns: a.parse_with(
                CERTIFICATE_ARN,
                CERTIFICATE_ARN_EXPECTED,
                parse_certificate_arns,
            )?,
            ssl_policy: a.string(SSL_POLICY)?,
            load_balancer_attributes: attributes(
                a,
                LOAD_BALANCER_ATTRIBUTES,
                super::attributes::Set::ApplicationLoadBalancer,
            )?,
            tags: parse_tags(a)?,
            wafv2_web_acl: a.parse_with(WAFV2_ACL_ARN, WAFV2_ACL_ARN_EXPECTED, parse_web_acl)?,
            shield_advanced_protection: a.parse_with(
                SHIELD_ADVANCED_PROTECTION,
                GO_BOOL_EXPECTED,
                parse_go_bool,
            )?,
            listener_attributes: listener_attributes(
                a,
                LISTENER_ATTRIBUTES_PREFIX,
                &[Protocol::Http, Protocol::Https],
                super::attributes::Set::ApplicationListener,
            )?,
            mutual_authentication: super::mtls::parse(a)?,
            backend: BackendSettings::parse(a)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ing() -> ObjectRef {
        ObjectRef::namespaced("ingress", "shop", "web")
    }

    fn parse_one(key: &str, value: &str) -> Result<IngressSettings, BuildError> {
        let map: BTreeMap<String, String> = [(key.to_owned(), value.to_owned())].into();
        let object = ing();
        IngressSettings::parse(&Annotations::new(&object, Some(&map)))
    }

    /// Every list annotation drops empty elements, as LBC's `splitCommaSeparatedString`.
    #[test]
    fn lists_drop_empty_elements_like_lbc() {
        let s = parse_one(SUBNETS, "subnet-1,,subnet-2,").unwrap();
        assert_eq!(
            s.subnets,
            Some(vec!["subnet-1".to_owned(), "subnet-2".to_owned()])
        );
        let s = parse_one(SECURITY_GROUPS, " sg-1 ,").unwrap();
        assert_eq!(s.security_groups, Some(vec!["sg-1".to_owned()]));
    }

    /// LBC's `splitCommaSeparatedString` (pkg/annotations/parser.go) drops empty elements.
    #[test]
    fn certificate_lists_drop_empty_elements_like_lbc() {
        let a = "arn:aws:acm:eu-west-1:1:certificate/a";
        let b = "arn:aws:iam::1:server-certificate/b";
        let cases: [(&str, Option<Vec<&str>>); 5] = [
            ("arn:aws:acm:eu-west-1:1:certificate/a,", Some(vec![a])),
            (
                "arn:aws:acm:eu-west-1:1:certificate/a,,arn:aws:iam::1:server-certificate/b",
                Some(vec![a, b]),
            ),
            (" , arn:aws:acm:eu-west-1:1:certificate/a ,", Some(vec![a])),
            (",", Some(vec![])),
            ("arn:aws:acm:eu-west-1:1:certificate/a,,my-cert", None),
        ];
        for (value, want) in cases {
            let want = want.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
            assert_eq!(parse_certificate_arns(value), want, "{value:?}");
            let parsed = parse_one(CERTIFICATE_ARN, value)
                .ok()
                .and_then(|s| s.certificate_arns);
            if want.is_some() {
                assert_eq!(parsed, want, "{value:?} through the annotation");
            }
        }
    }

    #[test]
    fn valid_values_parse() {
        struct Case {
            name: &'static str,
            key: &'static str,
            value: &'static str,
            check: fn(&IngressSettings) -> bool,
        }
        let cases = [
            Case {
                name: "scheme",
                key: SCHEME,
                value: "internet-facing",
                check: |s| s.scheme == Some(Scheme::InternetFacing),
            },
            Case {
                name: "group order negative",
                key: GROUP_ORDER,
                value: "-1000",
                check: |s| s.group_order == -1000,
            },
            Case {
                name: "group name with dots",
                key: GROUP_NAME,
                value: "shop.public-1",
                check: |s| s.group_name.as_deref() == Some("shop.public-1"),
            },
            Case {
                name: "listen ports sorted",
                key: LISTEN_PORTS,
                value: r#"[{"HTTPS":443},{"HTTP":80}]"#,
                check: |s| {
                    s.listen_ports
                        == Some(vec![
                            ListenPort {
                                port: 80,
                                protocol: Protocol::Http,
                            },
                            ListenPort {
                                port: 443,
                                protocol: Protocol::Https,
                            },
                        ])
                },
            },
            Case {
                name: "list trims",
                key: SUBNETS,
                value: "subnet-1, subnet-2",
                check: |s| s.subnets == Some(vec!["subnet-1".into(), "subnet-2".into()]),
            },
            Case {
                name: "map",
                key: LOAD_BALANCER_ATTRIBUTES,
                value: "idle_timeout.timeout_seconds=120, deletion_protection.enabled=true",
                check: |s| {
                    s.load_balancer_attributes
                        .as_ref()
                        .is_some_and(|m| m.len() == 2 && m["idle_timeout.timeout_seconds"] == "120")
                },
            },
            Case {
                name: "cidrs v4 and v6",
                key: INBOUND_CIDRS,
                value: "10.0.0.0/8,::/0",
                check: |s| s.inbound_cidrs.as_ref().is_some_and(|c| c.len() == 2),
            },
            Case {
                name: "ssl redirect",
                key: SSL_REDIRECT,
                value: "443",
                check: |s| s.ssl_redirect == Some(443),
            },
            Case {
                name: "backend protocol is case-insensitive",
                key: BACKEND_PROTOCOL,
                value: "https",
                check: |s| s.backend.backend_protocol == Some(Protocol::Https),
            },
            Case {
                name: "success code range",
                key: SUCCESS_CODES,
                value: "200-399",
                check: |s| s.backend.success_codes.as_deref() == Some("200-399"),
            },
            Case {
                name: "named healthcheck port",
                key: HEALTHCHECK_PORT,
                value: "metrics",
                check: |s| s.backend.healthcheck_port.as_deref() == Some("metrics"),
            },
            Case {
                name: "lb name of 32 chars",
                key: LOAD_BALANCER_NAME,
                value: "abcdefghij-abcdefghij-abcdefghij",
                check: |s| s.load_balancer_name.is_some(),
            },
        ];
        for case in cases {
            let settings = parse_one(case.key, case.value)
                .unwrap_or_else(|e| panic!("{}: unexpected error {e}", case.name));
            assert!((case.check)(&settings), "{}: got {settings:?}", case.name);
        }
    }

    #[test]
    fn tag_limits_are_aws_limits() {
        let long_key = format!("{}=v", "k".repeat(129));
        let err = parse_one(TAGS, &long_key).expect_err("129-character key");
        assert_eq!(
            err.to_string(),
            format!(
                "ingress shop/web: annotation alb.ingress.kubernetes.io/tags has invalid value {long_key:?}: expected key=value pairs with tag keys of at most 128 characters (key \"{}…\" has 129)",
                "k".repeat(40)
            )
        );
        let key = "k".repeat(128);
        let value = "v".repeat(256);
        let ok = format!("{key}={value}");
        assert!(
            parse_one(TAGS, &ok).is_ok(),
            "128-character key, 256-character value"
        );
        let long_value = format!("k={value}v");
        let err = parse_one(TAGS, &long_value).expect_err("257-character value");
        assert!(
            err.to_string()
                .ends_with(r#"expected key=value pairs with tag values of at most 256 characters (the value of "k" has 257)"#),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_name_object_annotation_value_and_expectation() {
        struct Case {
            name: &'static str,
            key: &'static str,
            value: &'static str,
            message: &'static str,
        }
        let cases = [
            Case {
                name: "scheme",
                key: SCHEME,
                value: "public",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/scheme has invalid value "public": expected "internal" or "internet-facing""#,
            },
            Case {
                name: "group order out of range",
                key: GROUP_ORDER,
                value: "1001",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/group.order has invalid value "1001": expected an integer from -1000 to 1000"#,
            },
            Case {
                name: "group name upper case",
                key: GROUP_NAME,
                value: "Shop",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/group.name has invalid value "Shop": expected lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters"#,
            },
            Case {
                name: "load balancer name over 32 characters",
                key: LOAD_BALANCER_NAME,
                value: "abcdefghij-abcdefghij-abcdefghij-",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/load-balancer-name has invalid value "abcdefghij-abcdefghij-abcdefghij-": expected at most 32 letters, digits and '-', not starting or ending with '-' and not starting with "internal-""#,
            },
            Case {
                name: "ip address type",
                key: IP_ADDRESS_TYPE,
                value: "ipv6",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/ip-address-type has invalid value "ipv6": expected "ipv4" or "dualstack" or "dualstack-without-public-ipv4""#,
            },
            Case {
                name: "listen ports not json",
                key: LISTEN_PORTS,
                value: "80",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/listen-ports has invalid value "80": expected a JSON list of {"HTTP": port} or {"HTTPS": port} objects with ports from 1 to 65535, each port once"#,
            },
            Case {
                name: "listen ports bad protocol",
                key: LISTEN_PORTS,
                value: r#"[{"TCP":80}]"#,
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/listen-ports has invalid value "[{\"TCP\":80}]": expected a JSON list of {"HTTP": port} or {"HTTPS": port} objects with ports from 1 to 65535, each port once"#,
            },
            Case {
                name: "listen ports duplicate port",
                key: LISTEN_PORTS,
                value: r#"[{"HTTP":80},{"HTTPS":80}]"#,
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/listen-ports has invalid value "[{\"HTTP\":80},{\"HTTPS\":80}]": expected a JSON list of {"HTTP": port} or {"HTTPS": port} objects with ports from 1 to 65535, each port once"#,
            },
            Case {
                name: "inbound cidrs",
                key: INBOUND_CIDRS,
                value: "10.0.0.0/33",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/inbound-cidrs has invalid value "10.0.0.0/33": expected a comma-separated list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8"#,
            },
            Case {
                name: "a list without an item",
                key: SUBNETS,
                value: ", ,",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/subnets has invalid value ", ,": expected a comma-separated list of non-empty values"#,
            },
            Case {
                name: "attribute value of the wrong type",
                key: LOAD_BALANCER_ATTRIBUTES,
                value: "idle_timeout.timeout_seconds=forever",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/load-balancer-attributes has invalid value "idle_timeout.timeout_seconds=forever": expected key=value pairs with idle_timeout.timeout_seconds set to an integer from 1 to 4000, not "forever""#,
            },
            Case {
                name: "unknown attribute key",
                key: TARGET_GROUP_ATTRIBUTES,
                value: "deregistration_delay=30",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes has invalid value "deregistration_delay=30": expected key=value pairs whose keys are attributes of a target group of an Application Load Balancer (such as deregistration_delay.timeout_seconds), but "deregistration_delay" is not one"#,
            },
            Case {
                name: "map without equals",
                key: TARGET_GROUP_ATTRIBUTES,
                value: "stickiness.enabled",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/target-group-attributes has invalid value "stickiness.enabled": expected a comma-separated list of key=value pairs"#,
            },
            Case {
                name: "tracking tag",
                key: TAGS,
                value: "elbv2.k8s.aws/cluster=other",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/tags has invalid value "elbv2.k8s.aws/cluster=other": expected key=value pairs with keys other than the tracking tags elbv2.k8s.aws/cluster, ingress.k8s.aws/stack, ingress.k8s.aws/resource, service.k8s.aws/stack, service.k8s.aws/resource"#,
            },
            Case {
                name: "tag key reserved by AWS",
                key: TAGS,
                value: "aws:cloudformation:stack-name=x",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/tags has invalid value "aws:cloudformation:stack-name=x": expected key=value pairs with tag keys not starting with "aws:", which AWS reserves (key "aws:cloudformation:stack-name")"#,
            },
            Case {
                name: "target type",
                key: TARGET_TYPE,
                value: "pod",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/target-type has invalid value "pod": expected "instance" or "ip""#,
            },
            Case {
                name: "healthcheck interval",
                key: HEALTHCHECK_INTERVAL,
                value: "1",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds has invalid value "1": expected an integer from 5 to 300"#,
            },
            Case {
                name: "healthcheck path",
                key: HEALTHCHECK_PATH,
                value: "healthz",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-path has invalid value "healthz": expected a path starting with "/""#,
            },
            Case {
                name: "healthcheck port",
                key: HEALTHCHECK_PORT,
                value: "70000",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-port has invalid value "70000": expected "traffic-port", a port number from 1 to 65535 or a service port name"#,
            },
            Case {
                name: "success codes",
                key: SUCCESS_CODES,
                value: "ok",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/success-codes has invalid value "ok": expected HTTP codes from 200 to 499 (gRPC codes from 0 to 99) such as "200", "200,302" or "200-399""#,
            },
            Case {
                name: "success code above 499",
                key: SUCCESS_CODES,
                value: "999",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/success-codes has invalid value "999": expected HTTP codes from 200 to 499 (gRPC codes from 0 to 99) such as "200", "200,302" or "200-399""#,
            },
            Case {
                name: "protocol version",
                key: BACKEND_PROTOCOL_VERSION,
                value: "HTTP3",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/backend-protocol-version has invalid value "HTTP3": expected "HTTP1" or "HTTP2" or "GRPC""#,
            },
            Case {
                name: "empty ssl policy",
                key: SSL_POLICY,
                value: " ",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/ssl-policy has invalid value "": expected a non-empty string"#,
            },
            Case {
                name: "certificate that is not an ARN",
                key: CERTIFICATE_ARN,
                value: "my-cert",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/certificate-arn has invalid value "my-cert": expected a comma-separated list of certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM)"#,
            },
            Case {
                name: "healthcheck port that looks negative",
                key: HEALTHCHECK_PORT,
                value: "-1",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-port has invalid value "-1": expected "traffic-port", a port number from 1 to 65535 or a service port name"#,
            },
            Case {
                name: "healthy threshold",
                key: HEALTHY_THRESHOLD,
                value: "11",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthy-threshold-count has invalid value "11": expected an integer from 2 to 10"#,
            },
            Case {
                name: "healthcheck protocol",
                key: HEALTHCHECK_PROTOCOL,
                value: "TCP",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-protocol has invalid value "TCP": expected "HTTP" or "HTTPS""#,
            },
            Case {
                name: "ssl redirect",
                key: SSL_REDIRECT,
                value: "https",
                message: r#"ingress shop/web: annotation alb.ingress.kubernetes.io/ssl-redirect has invalid value "https": expected an integer from 1 to 65535"#,
            },
        ];
        for case in cases {
            match parse_one(case.key, case.value) {
                Ok(s) => panic!("{}: expected an error, got {s:?}", case.name),
                Err(e) => assert_eq!(e.to_string(), case.message, "{}", case.name),
            }
        }
    }

    #[test]
    fn service_settings_override_ingress_settings() {
        let ingress = BackendSettings {
            target_type: Some(TargetType::Instance),
            healthcheck_path: Some("/ing".into()),
            tags: [
                ("a".to_owned(), "ing".to_owned()),
                ("b".to_owned(), "ing".to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        let service = BackendSettings {
            target_type: Some(TargetType::Ip),
            tags: [("b".to_owned(), "svc".to_owned())].into(),
            ..Default::default()
        };
        let merged = service.over(&ingress);
        assert_eq!(merged.target_type, Some(TargetType::Ip), "service wins");
        assert_eq!(
            merged.healthcheck_path.as_deref(),
            Some("/ing"),
            "ingress fills the gap"
        );
        assert_eq!(merged.tags["a"], "ing");
        assert_eq!(merged.tags["b"], "svc", "service tag wins");
    }
}
