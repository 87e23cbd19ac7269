//! Annotations under the AWS Load Balancer Controller's and ExternalDNS's prefixes that this
//! operator does not implement. Each one on an object that is ours is reported as a warning
//! naming it (a `plan` warning, a Warning event in the cluster): never silently ignored. The
//! object is still built without it.
use std::collections::BTreeMap;

use super::annotations::{
    ACTIONS_PREFIX, CONDITIONS_PREFIX, LISTENER_ATTRIBUTES_PREFIX, PREFIX, TRANSFORMS_PREFIX,
};
use super::hostnames::EXTERNAL_DNS_PREFIXES;
use super::service::annotations::{
    LISTENER_ATTRIBUTES_PREFIX as SERVICE_LISTENER_ATTRIBUTES_PREFIX,
    TARGET_GROUP_ATTRIBUTES_PORT_PREFIX,
};

/// The Service annotations of LBC (and the in-tree controller) that this operator reads start
/// with this.
pub const SERVICE_PREFIX: &str = "service.beta.kubernetes.io/aws-load-balancer-";

/// `alb.ingress.kubernetes.io/<name>` annotations implemented (besides `actions.<name>`,
/// `conditions.<name>`, `transforms.<name>` and `listener-attributes.<protocol>-<port>`).
pub const INGRESS_IMPLEMENTED: &[&str] = &[
    "auth-idp-cognito",
    "auth-idp-oidc",
    "auth-on-unauthenticated-request",
    "auth-scope",
    "auth-session-cookie",
    "auth-session-timeout",
    "auth-type",
    "backend-protocol",
    "backend-protocol-version",
    "certificate-arn",
    "group.name",
    "group.order",
    "healthcheck-interval-seconds",
    "healthcheck-path",
    "healthcheck-port",
    "healthcheck-protocol",
    "healthcheck-timeout-seconds",
    "healthy-threshold-count",
    "inbound-cidrs",
    "ip-address-type",
    "listen-ports",
    "load-balancer-attributes",
    "load-balancer-name",
    "manage-backend-security-group-rules",
    "mutual-authentication",
    "scheme",
    "security-group-prefix-lists",
    "security-groups",
    "shield-advanced-protection",
    "ssl-policy",
    "ssl-redirect",
    "subnets",
    "success-codes",
    "tags",
    "target-group-attributes",
    "target-type",
    "unhealthy-threshold-count",
    "wafv2-acl-arn",
];

/// `service.beta.kubernetes.io/aws-load-balancer-<name>` annotations implemented (besides
/// `listener-attributes.<protocol>-<port>` and `target-group-attributes.<port>`).
pub const SERVICE_IMPLEMENTED: &[&str] = &[
    "access-log-enabled",
    "access-log-s3-bucket-name",
    "access-log-s3-bucket-prefix",
    "additional-resource-tags",
    "alpn-policy",
    "attributes",
    "backend-protocol",
    "cross-zone-load-balancing-enabled",
    "eip-allocations",
    "enable-icmp-for-path-mtu-discovery",
    "healthcheck-healthy-threshold",
    "healthcheck-interval",
    "healthcheck-path",
    "healthcheck-port",
    "healthcheck-protocol",
    "healthcheck-success-codes",
    "healthcheck-timeout",
    "healthcheck-unhealthy-threshold",
    "internal",
    "ip-address-type",
    "manage-backend-security-group-rules",
    "name",
    "nlb-target-type",
    "private-ipv4-addresses",
    "proxy-protocol",
    "proxy-protocol-per-target-group",
    "scheme",
    "security-group-prefix-lists",
    "security-groups",
    "ssl-cert",
    "ssl-negotiation-policy",
    "ssl-ports",
    "subnets",
    "target-group-attributes",
    "target-node-labels",
    "type",
];

/// ExternalDNS annotations implemented (under either of its prefixes).
pub const EXTERNAL_DNS_IMPLEMENTED: &[&str] = &["controller", "hostname", "ttl"];

/// What an object is, for the prefixes that apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An Ingress of ours: LBC's Ingress prefix and ExternalDNS's.
    Ingress,
    /// A LoadBalancer Service of ours: LBC's Service prefix and ExternalDNS's.
    Service,
}

/// The annotation keys of an object of `kind` that are under LBC's or ExternalDNS's prefixes
/// and not implemented, sorted.
#[must_use]
pub fn unsupported(kind: Kind, annotations: Option<&BTreeMap<String, String>>) -> Vec<&str> {
    let Some(map) = annotations else {
        return Vec::new();
    };
    map.keys()
        .map(String::as_str)
        .filter(|key| {
            let lbc = match kind {
                Kind::Ingress => key.strip_prefix(PREFIX).map(|rest| {
                    INGRESS_IMPLEMENTED.contains(&rest)
                        || key.starts_with(ACTIONS_PREFIX)
                        || key.starts_with(CONDITIONS_PREFIX)
                        || key.starts_with(TRANSFORMS_PREFIX)
                        || key.starts_with(LISTENER_ATTRIBUTES_PREFIX)
                }),
                Kind::Service => key.strip_prefix(SERVICE_PREFIX).map(|rest| {
                    SERVICE_IMPLEMENTED.contains(&rest)
                        || key.starts_with(SERVICE_LISTENER_ATTRIBUTES_PREFIX)
                        || key.starts_with(TARGET_GROUP_ATTRIBUTES_PORT_PREFIX)
                }),
            };
            let external_dns = EXTERNAL_DNS_PREFIXES
                .iter()
                .find_map(|p| key.strip_prefix(p))
                .map(|rest| EXTERNAL_DNS_IMPLEMENTED.contains(&rest));
            matches!(lbc.or(external_dns), Some(false))
        })
        .collect()
}

/// The warning for one unsupported annotation (the object is named by the caller).
#[must_use]
pub fn message(key: &str) -> String {
    format!("annotation {key} is not implemented by aws-lb-operator and has no effect")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(kind: Kind, keys: &[&str]) -> Vec<String> {
        let map: BTreeMap<String, String> = keys
            .iter()
            .map(|k| ((*k).to_owned(), "x".to_owned()))
            .collect();
        unsupported(kind, Some(&map))
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn only_unimplemented_keys_under_the_known_prefixes_are_named() {
        assert_eq!(
            keys(
                Kind::Ingress,
                &[
                    "alb.ingress.kubernetes.io/scheme",
                    "alb.ingress.kubernetes.io/actions.web",
                    "alb.ingress.kubernetes.io/conditions.web",
                    "alb.ingress.kubernetes.io/listener-attributes.HTTPS-443",
                    "alb.ingress.kubernetes.io/waf-acl-id",
                    "alb.ingress.kubernetes.io/wafv2-acl-arn",
                    "alb.ingress.kubernetes.io/auth-type",
                    "alb.ingress.kubernetes.io/jwt-validation",
                    "external-dns.alpha.kubernetes.io/hostname",
                    "external-dns.kubernetes.io/ttl",
                    "external-dns.alpha.kubernetes.io/set-identifier",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme",
                    "kubernetes.io/ingress.class",
                    "example.com/anything",
                ]
            ),
            [
                "alb.ingress.kubernetes.io/jwt-validation",
                "alb.ingress.kubernetes.io/waf-acl-id",
                "external-dns.alpha.kubernetes.io/set-identifier",
            ],
            "a Service annotation on an Ingress is not LBC's Ingress prefix"
        );
        assert_eq!(
            keys(
                Kind::Service,
                &[
                    "service.beta.kubernetes.io/aws-load-balancer-type",
                    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol",
                    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes",
                    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.80",
                    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group",
                    "service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery",
                    "service.beta.kubernetes.io/aws-load-balancer-quic-enabled-ports",
                    "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80",
                    "service.beta.kubernetes.io/load-balancer-source-ranges",
                    "external-dns.alpha.kubernetes.io/hostname",
                    "external-dns.alpha.kubernetes.io/target",
                ]
            ),
            [
                "external-dns.alpha.kubernetes.io/target",
                "service.beta.kubernetes.io/aws-load-balancer-quic-enabled-ports",
            ]
        );
        assert!(unsupported(Kind::Service, None).is_empty());
    }

    /// Every annotation key the translation's sources spell out is in the implemented lists
    /// (so none of them is ever reported).
    #[test]
    fn the_lists_cover_every_annotation_the_translation_reads() {
        let sources = [
            (Kind::Ingress, include_str!("annotations.rs"), PREFIX),
            (Kind::Ingress, include_str!("auth.rs"), PREFIX),
            (Kind::Ingress, include_str!("mtls.rs"), PREFIX),
            (
                Kind::Service,
                include_str!("service/annotations.rs"),
                SERVICE_PREFIX,
            ),
        ];
        let mut checked = 0;
        for (kind, source, prefix) in sources {
            for literal in source.split('"').skip(1).step_by(2) {
                if literal.len() > prefix.len()
                    && literal.starts_with(prefix)
                    && !literal.ends_with('.')
                {
                    assert!(
                        keys(kind, &[literal]).is_empty(),
                        "{literal} is read but reported"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} keys found");
    }
}
