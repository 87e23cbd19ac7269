//! Typed parsing of the `service.beta.kubernetes.io/aws-load-balancer-*` annotations, with the
//! AWS Load Balancer Controller's NLB defaults.
//!
//! As on the Ingress side, a value that is present but unusable is an error naming the Service,
//! the annotation, the value and what was expected; nothing is dropped silently.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::model::{IpAddressType, Protocol, Scheme, TargetType};
use crate::translate::annotations::{
    is_cidr, parse_load_balancer_name, Annotations, LOAD_BALANCER_NAME_EXPECTED,
};
use crate::translate::error::{invalid_annotation, BuildError};

/// `aws-load-balancer-type`: `external`, `nlb-ip` (LBC) or `nlb` (in-tree controller).
pub const TYPE: &str = "service.beta.kubernetes.io/aws-load-balancer-type";
/// `aws-load-balancer-listener-attributes.` (then `{Protocol}-{Port}`).
pub const LISTENER_ATTRIBUTES_PREFIX: &str =
    "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.";
/// `aws-load-balancer-name`.
pub const NAME: &str = "service.beta.kubernetes.io/aws-load-balancer-name";
/// `aws-load-balancer-scheme`.
pub const SCHEME: &str = "service.beta.kubernetes.io/aws-load-balancer-scheme";
/// `aws-load-balancer-internal` (deprecated; `aws-load-balancer-scheme` wins).
pub const INTERNAL: &str = "service.beta.kubernetes.io/aws-load-balancer-internal";
/// `aws-load-balancer-ip-address-type`.
pub const IP_ADDRESS_TYPE: &str = "service.beta.kubernetes.io/aws-load-balancer-ip-address-type";
/// `aws-load-balancer-subnets`.
pub const SUBNETS: &str = "service.beta.kubernetes.io/aws-load-balancer-subnets";
/// `aws-load-balancer-eip-allocations`.
pub const EIP_ALLOCATIONS: &str = "service.beta.kubernetes.io/aws-load-balancer-eip-allocations";
/// `aws-load-balancer-private-ipv4-addresses`.
pub const PRIVATE_IPV4_ADDRESSES: &str =
    "service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses";
/// `aws-load-balancer-security-groups`.
pub const SECURITY_GROUPS: &str = "service.beta.kubernetes.io/aws-load-balancer-security-groups";
/// `load-balancer-source-ranges` (no `aws-` prefix; `spec.loadBalancerSourceRanges` wins).
pub const SOURCE_RANGES: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";
/// `aws-load-balancer-security-group-prefix-lists`.
pub const SECURITY_GROUP_PREFIX_LISTS: &str =
    "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists";
/// `aws-load-balancer-attributes`.
pub const ATTRIBUTES: &str = "service.beta.kubernetes.io/aws-load-balancer-attributes";
/// `aws-load-balancer-cross-zone-load-balancing-enabled` (deprecated; use `attributes`).
pub const CROSS_ZONE: &str =
    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled";
/// `aws-load-balancer-access-log-enabled` (deprecated; use `attributes`).
pub const ACCESS_LOG_ENABLED: &str =
    "service.beta.kubernetes.io/aws-load-balancer-access-log-enabled";
/// `aws-load-balancer-access-log-s3-bucket-name` (deprecated; use `attributes`).
pub const ACCESS_LOG_BUCKET: &str =
    "service.beta.kubernetes.io/aws-load-balancer-access-log-s3-bucket-name";
/// `aws-load-balancer-access-log-s3-bucket-prefix` (deprecated; use `attributes`).
pub const ACCESS_LOG_PREFIX: &str =
    "service.beta.kubernetes.io/aws-load-balancer-access-log-s3-bucket-prefix";
/// `aws-load-balancer-additional-resource-tags`.
pub const ADDITIONAL_RESOURCE_TAGS: &str =
    "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags";
/// `aws-load-balancer-ssl-cert`.
pub const SSL_CERT: &str = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert";
/// `aws-load-balancer-ssl-ports`.
pub const SSL_PORTS: &str = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports";
/// `aws-load-balancer-ssl-negotiation-policy`.
pub const SSL_NEGOTIATION_POLICY: &str =
    "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy";
/// `aws-load-balancer-alpn-policy`.
pub const ALPN_POLICY: &str = "service.beta.kubernetes.io/aws-load-balancer-alpn-policy";
/// `aws-load-balancer-backend-protocol`.
pub const BACKEND_PROTOCOL: &str = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol";
/// `aws-load-balancer-nlb-target-type`.
pub const NLB_TARGET_TYPE: &str = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type";
/// `aws-load-balancer-proxy-protocol`.
pub const PROXY_PROTOCOL: &str = "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol";
/// `aws-load-balancer-manage-backend-security-group-rules`: with `aws-load-balancer-security-groups`,
/// also attach the shared backend security group and let it in on the node security groups.
pub const MANAGE_BACKEND_SECURITY_GROUP_RULES: &str =
    "service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules";
/// `aws-load-balancer-enable-icmp-for-path-mtu-discovery`: `on` lets the ICMP messages of path
/// MTU discovery into the managed security group.
pub const ENABLE_ICMP_FOR_PATH_MTU_DISCOVERY: &str =
    "service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery";
/// `aws-load-balancer-proxy-protocol-per-target-group`: the Service ports whose target groups
/// get proxy protocol v2 (every other target group gets it off).
pub const PROXY_PROTOCOL_PER_TARGET_GROUP: &str =
    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group";
/// `aws-load-balancer-target-group-attributes`.
pub const TARGET_GROUP_ATTRIBUTES: &str =
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes";
/// `aws-load-balancer-target-group-attributes.` (then a Service port number): attributes of
/// that port's target group only, over `aws-load-balancer-target-group-attributes`.
pub const TARGET_GROUP_ATTRIBUTES_PORT_PREFIX: &str =
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.";
/// `aws-load-balancer-target-node-labels`.
pub const TARGET_NODE_LABELS: &str =
    "service.beta.kubernetes.io/aws-load-balancer-target-node-labels";
/// `aws-load-balancer-healthcheck-protocol`.
pub const HEALTHCHECK_PROTOCOL: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol";
/// `aws-load-balancer-healthcheck-port`.
pub const HEALTHCHECK_PORT: &str = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port";
/// `aws-load-balancer-healthcheck-path`.
pub const HEALTHCHECK_PATH: &str = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path";
/// `aws-load-balancer-healthcheck-interval`.
pub const HEALTHCHECK_INTERVAL: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval";
/// `aws-load-balancer-healthcheck-timeout`.
pub const HEALTHCHECK_TIMEOUT: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout";
/// `aws-load-balancer-healthcheck-healthy-threshold`.
pub const HEALTHCHECK_HEALTHY_THRESHOLD: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold";
/// `aws-load-balancer-healthcheck-unhealthy-threshold`.
pub const HEALTHCHECK_UNHEALTHY_THRESHOLD: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold";
/// `aws-load-balancer-healthcheck-success-codes`.
pub const HEALTHCHECK_SUCCESS_CODES: &str =
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-success-codes";

/// Load balancer attribute keys set by the deprecated annotations.
pub mod attribute_keys {
    /// Set by `aws-load-balancer-cross-zone-load-balancing-enabled`.
    pub const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";
    /// Set by `aws-load-balancer-access-log-enabled`.
    pub const ACCESS_LOGS_ENABLED: &str = "access_logs.s3.enabled";
    /// Set by `aws-load-balancer-access-log-s3-bucket-name`.
    pub const ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";
    /// Set by `aws-load-balancer-access-log-s3-bucket-prefix`.
    pub const ACCESS_LOGS_PREFIX: &str = "access_logs.s3.prefix";
    /// Target group attribute turned on by `aws-load-balancer-proxy-protocol: "*"` (and set to
    /// `false` otherwise, as LBC does, so removing the annotation turns it off again).
    pub const PROXY_PROTOCOL_V2: &str = "proxy_protocol_v2.enabled";
    /// Target group attribute whose value must be a boolean.
    pub const PRESERVE_CLIENT_IP: &str = "preserve_client_ip.enabled";
}

/// NLB defaults (LBC's), and the ones used for instance targets with
/// `externalTrafficPolicy: Local`.
pub mod defaults {
    use crate::model::Protocol;

    /// `load-balancer-source-ranges` (plus `::/0` for dualstack).
    pub const SOURCE_RANGE_IPV4: &str = "0.0.0.0/0";
    /// Added to the default source ranges of a dualstack load balancer.
    pub const SOURCE_RANGE_IPV6: &str = "::/0";
    /// Health check `traffic-port`.
    pub const TRAFFIC_PORT: &str = "traffic-port";

    /// One set of health-check defaults.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct HealthCheckDefaults {
        /// Protocol.
        pub protocol: Protocol,
        /// Path, for HTTP and HTTPS checks.
        pub path: &'static str,
        /// Seconds between checks.
        pub interval: u32,
        /// Seconds before a check times out.
        pub timeout: u32,
        /// Successes to become healthy.
        pub healthy: u32,
        /// Failures to become unhealthy.
        pub unhealthy: u32,
        /// Success codes, for HTTP and HTTPS checks.
        pub success_codes: &'static str,
    }

    /// Every target group, unless `LOCAL` applies: TCP on the traffic port.
    pub const HEALTH_CHECK: HealthCheckDefaults = HealthCheckDefaults {
        protocol: Protocol::Tcp,
        path: "/",
        interval: 10,
        timeout: 10,
        healthy: 3,
        unhealthy: 3,
        success_codes: "200-399",
    };

    /// Instance targets of a Service with `externalTrafficPolicy: Local`: kube-proxy's health
    /// endpoint on `spec.healthCheckNodePort`, so only nodes running a ready pod get traffic.
    pub const HEALTH_CHECK_LOCAL: HealthCheckDefaults = HealthCheckDefaults {
        protocol: Protocol::Http,
        path: "/healthz",
        interval: 10,
        timeout: 6,
        healthy: 2,
        unhealthy: 2,
        success_codes: "200-399",
    };
}

/// Values of `aws-load-balancer-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyType {
    /// `external`: ours, instance targets unless `nlb-target-type` says otherwise.
    External,
    /// `nlb-ip`: ours, ip targets.
    NlbIp,
    /// `nlb`: the in-tree cloud controller's NLB; ours only when configured to replace it.
    Nlb,
}

impl LegacyType {
    /// Parses the annotation value (exact match); `None` for values that are not NLB types.
    #[must_use]
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "external" => Some(Self::External),
            "nlb-ip" => Some(Self::NlbIp),
            "nlb" => Some(Self::Nlb),
            _ => None,
        }
    }
}

/// ALPN policies an NLB TLS listener accepts.
pub const ALPN_POLICIES: [&str; 5] = [
    "None",
    "HTTP1Only",
    "HTTP2Only",
    "HTTP2Optional",
    "HTTP2Preferred",
];

/// Health-check annotations as set (defaults are applied per target group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCheckSettings {
    /// `healthcheck-protocol`: TCP, HTTP or HTTPS.
    pub protocol: Option<Protocol>,
    /// `healthcheck-port`: `traffic-port`, a number, or a Service port name.
    pub port: Option<String>,
    /// `healthcheck-path`.
    pub path: Option<String>,
    /// `healthcheck-interval`.
    pub interval: Option<u32>,
    /// `healthcheck-timeout`.
    pub timeout: Option<u32>,
    /// `healthcheck-healthy-threshold`.
    pub healthy: Option<u32>,
    /// `healthcheck-unhealthy-threshold`.
    pub unhealthy: Option<u32>,
    /// `healthcheck-success-codes`.
    pub success_codes: Option<String>,
}

/// Every Service annotation the NLB translation reads, parsed and validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    /// `aws-load-balancer-type`, when it is an NLB type.
    pub legacy_type: Option<LegacyType>,
    /// `aws-load-balancer-name`.
    pub name: Option<String>,
    /// `aws-load-balancer-scheme`, else the deprecated `aws-load-balancer-internal`.
    pub scheme: Option<Scheme>,
    /// `aws-load-balancer-ip-address-type`.
    pub ip_address_type: Option<IpAddressType>,
    /// `aws-load-balancer-subnets`.
    pub subnets: Option<Vec<String>>,
    /// `aws-load-balancer-eip-allocations`.
    pub eip_allocations: Option<Vec<String>>,
    /// `aws-load-balancer-private-ipv4-addresses`.
    pub private_ipv4_addresses: Option<Vec<String>>,
    /// `aws-load-balancer-security-groups`.
    pub security_groups: Option<Vec<String>>,
    /// `load-balancer-source-ranges`.
    pub source_ranges: Option<Vec<String>>,
    /// `aws-load-balancer-security-group-prefix-lists`.
    pub prefix_lists: Option<Vec<String>>,
    /// Load balancer attributes: the deprecated attribute annotations, then `attributes`.
    pub attributes: BTreeMap<String, String>,
    /// `aws-load-balancer-additional-resource-tags`.
    pub tags: BTreeMap<String, String>,
    /// `aws-load-balancer-manage-backend-security-group-rules`.
    pub manage_backend_sg_rules: Option<bool>,
    /// `aws-load-balancer-enable-icmp-for-path-mtu-discovery: on`.
    pub icmp_for_path_mtu_discovery: bool,
    /// `aws-load-balancer-ssl-cert`.
    pub ssl_certificates: Option<Vec<String>>,
    /// `aws-load-balancer-ssl-ports`: port names, numbers, or `*`.
    pub ssl_ports: Option<Vec<String>>,
    /// `aws-load-balancer-ssl-negotiation-policy`.
    pub ssl_policy: Option<String>,
    /// `aws-load-balancer-alpn-policy`.
    pub alpn_policy: Option<String>,
    /// `aws-load-balancer-listener-attributes.{Protocol}-{Port}`, per listener.
    pub listener_attributes: crate::translate::annotations::ListenerAttributes,
    /// `aws-load-balancer-backend-protocol: ssl` (TLS to the targets of TLS listeners).
    pub backend_tls: bool,
    /// `aws-load-balancer-nlb-target-type`.
    pub target_type: Option<TargetType>,
    /// `aws-load-balancer-proxy-protocol: "*"`.
    pub proxy_protocol: bool,
    /// `aws-load-balancer-proxy-protocol-per-target-group`: the Service ports whose target
    /// groups get proxy protocol v2 (`None`: the annotation is not set).
    pub proxy_protocol_ports: Option<BTreeSet<u16>>,
    /// `aws-load-balancer-target-group-attributes`.
    pub target_group_attributes: BTreeMap<String, String>,
    /// `aws-load-balancer-target-group-attributes.<port>`, per Service port (empty values, which
    /// keep the value of `aws-load-balancer-target-group-attributes` as in LBC, left out).
    pub target_group_attributes_per_port: BTreeMap<u16, BTreeMap<String, String>>,
    /// `aws-load-balancer-target-node-labels`.
    pub target_node_labels: BTreeMap<String, String>,
    /// The health-check annotations.
    pub health_check: HealthCheckSettings,
}

const BOOL_EXPECTED: &str = "\"true\" or \"false\"";

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_success_codes(v: &str) -> Option<String> {
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (200..=599).contains(c));
    let item_ok = |item: &str| match item.split_once('-') {
        Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
        None => code(item).is_some(),
    };
    (!v.is_empty() && v.split(',').all(|i| item_ok(i.trim()))).then(|| v.replace(' ', ""))
}

fn cidr_list(a: &Annotations<'_>, key: &str) -> Result<Option<Vec<String>>, BuildError> {
    a.parse_with(
        key,
        "a comma-separated list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8",
        |v| crate::translate::annotations::parse_list(v).filter(|l| l.iter().all(|c| is_cidr(c))),
    )
}

/// Parses `aws-load-balancer-additional-resource-tags`, refusing the tracking tag keys.
fn parse_tags(a: &Annotations<'_>) -> Result<BTreeMap<String, String>, BuildError> {
    let Some(map) = a.map(ADDITIONAL_RESOURCE_TAGS)? else {
        return Ok(BTreeMap::new());
    };
    crate::translate::annotations::check_tags(a, ADDITIONAL_RESOURCE_TAGS, &map)?;
    Ok(map)
}

/// The deprecated attribute annotations, then `aws-load-balancer-attributes`, which may not
/// contradict them.
fn parse_attributes(a: &Annotations<'_>) -> Result<BTreeMap<String, String>, BuildError> {
    let mut out: BTreeMap<String, (String, &'static str)> = BTreeMap::new();
    if let Some(on) = a.parse_with(CROSS_ZONE, BOOL_EXPECTED, parse_bool)? {
        out.insert(
            attribute_keys::CROSS_ZONE.to_owned(),
            (on.to_string(), CROSS_ZONE),
        );
    }
    if let Some(on) = a.parse_with(ACCESS_LOG_ENABLED, BOOL_EXPECTED, parse_bool)? {
        out.insert(
            attribute_keys::ACCESS_LOGS_ENABLED.to_owned(),
            (on.to_string(), ACCESS_LOG_ENABLED),
        );
        if on {
            // As LBC: bucket and prefix only count while access logs are on.
            if let Some(bucket) = a.string(ACCESS_LOG_BUCKET)? {
                out.insert(
                    attribute_keys::ACCESS_LOGS_BUCKET.to_owned(),
                    (bucket, ACCESS_LOG_BUCKET),
                );
            }
            if let Some(prefix) = a.string(ACCESS_LOG_PREFIX)? {
                out.insert(
                    attribute_keys::ACCESS_LOGS_PREFIX.to_owned(),
                    (prefix, ACCESS_LOG_PREFIX),
                );
            }
        }
    }
    let set = crate::translate::attributes::Set::NetworkLoadBalancer;
    let explicit = crate::translate::annotations::attributes(a, ATTRIBUTES, set)?;
    for (k, v) in explicit.unwrap_or_default() {
        if let Some((existing, from)) = out.get(&k) {
            if *existing != v {
                return Err(invalid_annotation(
                    a.object(),
                    ATTRIBUTES,
                    a.raw(ATTRIBUTES).unwrap_or_default(),
                    format!("{k}={existing} as annotation {from} sets it, or no {k} key"),
                ));
            }
        }
        out.insert(k, (v, ATTRIBUTES));
    }
    Ok(out.into_iter().map(|(k, (v, _))| (k, v)).collect())
}

/// What `aws-load-balancer-proxy-protocol-per-target-group` accepts.
pub const PROXY_PROTOCOL_PORTS_EXPECTED: &str =
    "a comma-separated list of service port numbers such as \"80, 443\" (the target groups of those ports get proxy protocol v2, the others do not)";

/// Parses `aws-load-balancer-proxy-protocol-per-target-group` as LBC does: comma-separated,
/// items trimmed, empty items skipped, each a port number.
fn parse_port_set(v: &str) -> Option<BTreeSet<u16>> {
    let mut out = BTreeSet::new();
    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        out.insert(item.parse::<u16>().ok().filter(|p| *p > 0)?);
    }
    Some(out)
}

/// `aws-load-balancer-target-group-attributes.<port>` annotations, per port, as LBC's
/// `buildPortSpecificTargetGroupAttributes` reads them: a `key=value` map whose empty values
/// keep the Service-wide value. A key whose rest is not a port number is an error (LBC never
/// reads it).
fn parse_target_group_attributes_per_port(
    a: &Annotations<'_>,
) -> Result<BTreeMap<u16, BTreeMap<String, String>>, BuildError> {
    let mut out = BTreeMap::new();
    for key in a.all().into_iter().flat_map(BTreeMap::keys) {
        let Some(rest) = key.strip_prefix(TARGET_GROUP_ATTRIBUTES_PORT_PREFIX) else {
            continue;
        };
        let value = a.raw(key).unwrap_or_default();
        let Some(port) = rest.parse::<u16>().ok().filter(|p| *p > 0) else {
            return Err(invalid_annotation(
                a.object(),
                key,
                value,
                format!(
                    "a key {TARGET_GROUP_ATTRIBUTES_PORT_PREFIX}<port> with a service port number from 1 to 65535"
                ),
            ));
        };
        let Some(map) = a.map(key)? else {
            continue;
        };
        let map: BTreeMap<String, String> =
            map.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        if let Some(expected) = crate::translate::attributes::problem(
            crate::translate::attributes::Set::NetworkTargetGroup,
            &map,
        ) {
            return Err(invalid_annotation(a.object(), key, value, expected));
        }
        out.insert(port, map);
    }
    Ok(out)
}

fn parse_target_group_attributes(
    a: &Annotations<'_>,
) -> Result<BTreeMap<String, String>, BuildError> {
    let map = crate::translate::annotations::attributes(
        a,
        TARGET_GROUP_ATTRIBUTES,
        crate::translate::attributes::Set::NetworkTargetGroup,
    )?
    .unwrap_or_default();
    Ok(map)
}

impl ServiceSettings {
    /// Parses every annotation the NLB translation reads.
    pub fn parse(a: &Annotations<'_>) -> Result<Self, BuildError> {
        let scheme = a.parse_with(SCHEME, Scheme::expected(), Scheme::parse)?;
        let internal = a.parse_with(INTERNAL, BOOL_EXPECTED, parse_bool)?;
        let health_check = HealthCheckSettings {
            protocol: a.parse_with(
                HEALTHCHECK_PROTOCOL,
                "\"TCP\" or \"HTTP\" or \"HTTPS\"",
                |v| {
                    Protocol::parse(&v.to_ascii_uppercase())
                        .filter(|p| matches!(p, Protocol::Tcp | Protocol::Http | Protocol::Https))
                },
            )?,
            port: a.parse_with(
                HEALTHCHECK_PORT,
                "\"traffic-port\", a port number from 1 to 65535 or a service port name",
                crate::translate::annotations::parse_healthcheck_port,
            )?,
            path: a.parse_with(HEALTHCHECK_PATH, "a path starting with \"/\"", |v| {
                v.starts_with('/').then(|| v.to_owned())
            })?,
            interval: a.u32_in(HEALTHCHECK_INTERVAL, 5, 300)?,
            timeout: a.u32_in(HEALTHCHECK_TIMEOUT, 2, 120)?,
            healthy: a.u32_in(HEALTHCHECK_HEALTHY_THRESHOLD, 2, 10)?,
            unhealthy: a.u32_in(HEALTHCHECK_UNHEALTHY_THRESHOLD, 2, 10)?,
            success_codes: a.parse_with(
                HEALTHCHECK_SUCCESS_CODES,
                "HTTP codes from 200 to 599 such as \"200\", \"200,302\" or \"200-399\"",
                parse_success_codes,
            )?,
        };
        Ok(Self {
            legacy_type: a.raw(TYPE).and_then(LegacyType::parse),
            name: a.parse_with(NAME, LOAD_BALANCER_NAME_EXPECTED, parse_load_balancer_name)?,
            scheme: scheme.or(internal.map(|internal| {
                if internal {
                    Scheme::Internal
                } else {
                    Scheme::InternetFacing
                }
            })),
            ip_address_type: a.parse_with(IP_ADDRESS_TYPE, "\"ipv4\" or \"dualstack\"", |v| {
                IpAddressType::parse(v)
                    .filter(|t| matches!(t, IpAddressType::Ipv4 | IpAddressType::Dualstack))
            })?,
            subnets: a.list(SUBNETS)?,
            eip_allocations: a.list(EIP_ALLOCATIONS)?,
            private_ipv4_addresses: a.parse_with(
                PRIVATE_IPV4_ADDRESSES,
                "a comma-separated list of IPv4 addresses such as 10.0.1.10",
                |v| {
                    crate::translate::annotations::parse_list(v)
                        .filter(|l| l.iter().all(|ip| ip.parse::<Ipv4Addr>().is_ok()))
                },
            )?,
            security_groups: a.list(SECURITY_GROUPS)?,
            source_ranges: cidr_list(a, SOURCE_RANGES)?,
            prefix_lists: a.parse_with(
                SECURITY_GROUP_PREFIX_LISTS,
                crate::translate::annotations::PREFIX_LIST_EXPECTED,
                crate::translate::annotations::parse_prefix_lists,
            )?,
            attributes: parse_attributes(a)?,
            tags: parse_tags(a)?,
            manage_backend_sg_rules: a.parse_with(
                MANAGE_BACKEND_SECURITY_GROUP_RULES,
                crate::translate::annotations::GO_BOOL_EXPECTED,
                crate::translate::annotations::parse_go_bool,
            )?,
            icmp_for_path_mtu_discovery: a
                .parse_with(
                    ENABLE_ICMP_FOR_PATH_MTU_DISCOVERY,
                    "\"on\" or \"off\"",
                    |v| match v {
                        "on" => Some(true),
                        "off" => Some(false),
                        _ => None,
                    },
                )?
                .unwrap_or(false),
            ssl_certificates: a.parse_with(
                SSL_CERT,
                crate::translate::annotations::CERTIFICATE_ARN_EXPECTED,
                crate::translate::annotations::parse_certificate_arns,
            )?,
            ssl_ports: a.list(SSL_PORTS)?,
            ssl_policy: a.string(SSL_NEGOTIATION_POLICY)?,
            alpn_policy: a.parse_with(
                ALPN_POLICY,
                ALPN_POLICIES
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(" or "),
                |v| ALPN_POLICIES.contains(&v).then(|| v.to_owned()),
            )?,
            listener_attributes: crate::translate::annotations::listener_attributes(
                a,
                LISTENER_ATTRIBUTES_PREFIX,
                &[
                    Protocol::Tcp,
                    Protocol::Udp,
                    Protocol::TcpUdp,
                    Protocol::Tls,
                ],
                crate::translate::attributes::Set::NetworkListener,
            )?,
            backend_tls: a
                .parse_with(BACKEND_PROTOCOL, "\"ssl\" or \"tcp\"", |v| {
                    if v.eq_ignore_ascii_case("ssl") {
                        Some(true)
                    } else if v.eq_ignore_ascii_case("tcp") {
                        Some(false)
                    } else {
                        None
                    }
                })?
                .unwrap_or(false),
            target_type: a.parse_with(
                NLB_TARGET_TYPE,
                TargetType::expected(),
                TargetType::parse,
            )?,
            proxy_protocol: a
                .parse_with(
                    PROXY_PROTOCOL,
                    "\"*\" (proxy protocol v2 on every target group)",
                    |v| (v == "*").then_some(true),
                )?
                .unwrap_or(false),
            proxy_protocol_ports: a.parse_with(
                PROXY_PROTOCOL_PER_TARGET_GROUP,
                PROXY_PROTOCOL_PORTS_EXPECTED,
                parse_port_set,
            )?,
            target_group_attributes: parse_target_group_attributes(a)?,
            target_group_attributes_per_port: parse_target_group_attributes_per_port(a)?,
            target_node_labels: a.map(TARGET_NODE_LABELS)?.unwrap_or_default(),
            health_check,
        })
    }
}
