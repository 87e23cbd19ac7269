//! Load balancer and target group attributes: the keys ELBv2 has for each kind of load
//! balancer and the values each takes, so a typo (`idle_timeout=60`) or a value of the wrong
//! type (`idle_timeout.timeout_seconds=forever`) is an error of its object before any AWS call,
//! instead of a `ValidationError` in the middle of an apply.
//!
//! The keys and ranges are those of the ELBv2 API reference (`LoadBalancerAttribute`,
//! `TargetGroupAttribute`); the AWS Load Balancer Controller passes attributes through
//! unchecked, so AWS is the authority.
use std::collections::BTreeMap;

use super::error::shown;

/// What an attribute value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `true` or `false`.
    Bool,
    /// An integer in the range.
    Int(i64, i64),
    /// `0`, or an integer in the range (`slow_start.duration_seconds`).
    ZeroOr(i64, i64),
    /// `off`, or an integer in the range.
    OffOr(i64, i64),
    /// One of the values.
    OneOf(&'static [&'static str]),
    /// Any non-empty text (bucket names, prefixes, cookie names).
    Text,
    /// Any text, empty included (an S3 prefix may be empty).
    AnyText,
}

impl Kind {
    fn accepts(self, v: &str) -> bool {
        let int_in = |lo: i64, hi: i64| v.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n));
        match self {
            Self::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            Self::Int(lo, hi) => int_in(lo, hi),
            Self::ZeroOr(lo, hi) => v == "0" || int_in(lo, hi),
            Self::OffOr(lo, hi) => v == "off" || int_in(lo, hi),
            Self::OneOf(values) => values.contains(&v),
            Self::Text => !v.is_empty(),
            Self::AnyText => true,
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Bool => "true or false".to_owned(),
            Self::Int(lo, hi) => format!("an integer from {lo} to {hi}"),
            Self::ZeroOr(lo, hi) => format!("0 or an integer from {lo} to {hi}"),
            Self::OffOr(lo, hi) => format!("off or an integer from {lo} to {hi}"),
            Self::OneOf(values) => format!("one of {}", values.join(", ")),
            Self::Text => "a non-empty value".to_owned(),
            Self::AnyText => "any value".to_owned(),
        }
    }
}

/// The attribute set of one kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// Application Load Balancer attributes.
    ApplicationLoadBalancer,
    /// Network Load Balancer attributes.
    NetworkLoadBalancer,
    /// Target group attributes of an Application Load Balancer.
    ApplicationTargetGroup,
    /// Target group attributes of a Network Load Balancer.
    NetworkTargetGroup,
    /// Listener attributes of an Application Load Balancer (`listener-attributes.*`).
    ApplicationListener,
    /// Listener attributes of a Network Load Balancer.
    NetworkListener,
}

const LOAD_BALANCER_ANY: &[(&str, Kind)] = &[
    ("deletion_protection.enabled", Kind::Bool),
    ("load_balancing.cross_zone.enabled", Kind::Bool),
    ("access_logs.s3.enabled", Kind::Bool),
    ("access_logs.s3.bucket", Kind::Text),
    ("access_logs.s3.prefix", Kind::AnyText),
    ("ipv6.deny_all_igw_traffic", Kind::Bool),
    ("zonal_shift.config.enabled", Kind::Bool),
];

const LOAD_BALANCER_APPLICATION: &[(&str, Kind)] = &[
    ("idle_timeout.timeout_seconds", Kind::Int(1, 4000)),
    ("client_keep_alive.seconds", Kind::Int(60, 604_800)),
    ("connection_logs.s3.enabled", Kind::Bool),
    ("connection_logs.s3.bucket", Kind::Text),
    ("connection_logs.s3.prefix", Kind::AnyText),
    ("health_check_logs.s3.enabled", Kind::Bool),
    ("health_check_logs.s3.bucket", Kind::Text),
    ("health_check_logs.s3.prefix", Kind::AnyText),
    (
        "routing.http.desync_mitigation_mode",
        Kind::OneOf(&["monitor", "defensive", "strictest"]),
    ),
    (
        "routing.http.drop_invalid_header_fields.enabled",
        Kind::Bool,
    ),
    ("routing.http.preserve_host_header.enabled", Kind::Bool),
    (
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
        Kind::Bool,
    ),
    ("routing.http.xff_client_port.enabled", Kind::Bool),
    (
        "routing.http.xff_header_processing.mode",
        Kind::OneOf(&["append", "preserve", "remove"]),
    ),
    ("routing.http2.enabled", Kind::Bool),
    ("waf.fail_open.enabled", Kind::Bool),
];

const LOAD_BALANCER_NETWORK: &[(&str, Kind)] = &[
    (
        "dns_record.client_routing_policy",
        Kind::OneOf(&[
            "availability_zone_affinity",
            "partial_availability_zone_affinity",
            "any_availability_zone",
        ]),
    ),
    ("secondary_ips.auto_assigned.per_subnet", Kind::Int(0, 7)),
];

const TARGET_GROUP_ANY: &[(&str, Kind)] = &[
    ("deregistration_delay.timeout_seconds", Kind::Int(0, 3600)),
    ("stickiness.enabled", Kind::Bool),
    (
        "load_balancing.cross_zone.enabled",
        Kind::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.count",
        Kind::OffOr(1, i64::MAX),
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.percentage",
        Kind::OffOr(1, 100),
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
        Kind::Int(1, i64::MAX),
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
        Kind::OffOr(1, 100),
    ),
];

const TARGET_GROUP_APPLICATION: &[(&str, Kind)] = &[
    ("stickiness.type", Kind::OneOf(&["lb_cookie", "app_cookie"])),
    (
        "load_balancing.algorithm.type",
        Kind::OneOf(&[
            "round_robin",
            "least_outstanding_requests",
            "weighted_random",
        ]),
    ),
    (
        "load_balancing.algorithm.anomaly_mitigation",
        Kind::OneOf(&["on", "off"]),
    ),
    ("slow_start.duration_seconds", Kind::ZeroOr(30, 900)),
    ("stickiness.app_cookie.cookie_name", Kind::Text),
    (
        "stickiness.app_cookie.duration_seconds",
        Kind::Int(1, 604_800),
    ),
    (
        "stickiness.lb_cookie.duration_seconds",
        Kind::Int(1, 604_800),
    ),
    ("lambda.multi_value_headers.enabled", Kind::Bool),
];

const TARGET_GROUP_NETWORK: &[(&str, Kind)] = &[
    (
        "stickiness.type",
        Kind::OneOf(&["source_ip", "source_ip_dest_ip", "source_ip_dest_ip_proto"]),
    ),
    (
        "deregistration_delay.connection_termination.enabled",
        Kind::Bool,
    ),
    ("preserve_client_ip.enabled", Kind::Bool),
    ("proxy_protocol_v2.enabled", Kind::Bool),
    (
        "target_health_state.unhealthy.connection_termination.enabled",
        Kind::Bool,
    ),
    (
        "target_health_state.unhealthy.draining_interval_seconds",
        Kind::Int(0, 360_000),
    ),
];

const LISTENER_ANY: &[(&str, Kind)] = &[];

/// ALB listener attributes (ELBv2 `ListenerAttribute`): the names of the headers the load
/// balancer adds to requests, and the response headers it sets or removes.
const LISTENER_APPLICATION: &[(&str, Kind)] = &[
    (
        "routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_issuer.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_subject.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_validity.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert_leaf.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_mtls_clientcert.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_tls_version.header_name",
        Kind::Text,
    ),
    (
        "routing.http.request.x_amzn_tls_cipher_suite.header_name",
        Kind::Text,
    ),
    ("routing.http.response.server.enabled", Kind::Bool),
    (
        "routing.http.response.strict_transport_security.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_allow_origin.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_allow_methods.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_allow_headers.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_allow_credentials.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_expose_headers.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.access_control_max_age.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.content_security_policy.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.x_content_type_options.header_value",
        Kind::AnyText,
    ),
    (
        "routing.http.response.x_frame_options.header_value",
        Kind::AnyText,
    ),
];

/// NLB listener attributes: the TCP idle timeout.
const LISTENER_NETWORK: &[(&str, Kind)] = &[("tcp.idle_timeout.seconds", Kind::Int(60, 6000))];

impl Set {
    fn tables(self) -> [&'static [(&'static str, Kind)]; 2] {
        match self {
            Self::ApplicationLoadBalancer => [LOAD_BALANCER_ANY, LOAD_BALANCER_APPLICATION],
            Self::NetworkLoadBalancer => [LOAD_BALANCER_ANY, LOAD_BALANCER_NETWORK],
            Self::ApplicationTargetGroup => [TARGET_GROUP_ANY, TARGET_GROUP_APPLICATION],
            Self::NetworkTargetGroup => [TARGET_GROUP_ANY, TARGET_GROUP_NETWORK],
            Self::ApplicationListener => [LISTENER_ANY, LISTENER_APPLICATION],
            Self::NetworkListener => [LISTENER_ANY, LISTENER_NETWORK],
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::ApplicationLoadBalancer => "an Application Load Balancer",
            Self::NetworkLoadBalancer => "a Network Load Balancer",
            Self::ApplicationTargetGroup => "a target group of an Application Load Balancer",
            Self::NetworkTargetGroup => "a target group of a Network Load Balancer",
            Self::ApplicationListener => "a listener of an Application Load Balancer",
            Self::NetworkListener => "a TCP listener of a Network Load Balancer",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Self::ApplicationLoadBalancer => "idle_timeout.timeout_seconds",
            Self::NetworkLoadBalancer => "load_balancing.cross_zone.enabled",
            Self::ApplicationTargetGroup | Self::NetworkTargetGroup => {
                "deregistration_delay.timeout_seconds"
            }
            Self::ApplicationListener => "routing.http.response.server.enabled",
            Self::NetworkListener => "tcp.idle_timeout.seconds",
        }
    }

    /// Every key of the set, sorted (for documentation and tests).
    #[must_use]
    pub fn keys(self) -> Vec<&'static str> {
        let mut keys: Vec<&str> = self
            .tables()
            .iter()
            .flat_map(|t| t.iter().map(|(k, _)| *k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn kind(self, key: &str) -> Option<Kind> {
        // The kind-specific table wins (`stickiness.type` differs between ALB and NLB).
        let [any, specific] = self.tables();
        specific
            .iter()
            .chain(any.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
    }
}

/// The first problem of `attributes` for `set`, as what was expected; `None` if all are fine.
#[must_use]
pub fn problem(set: Set, attributes: &BTreeMap<String, String>) -> Option<String> {
    for (key, value) in attributes {
        match set.kind(key) {
            None => {
                return Some(format!(
                "key=value pairs whose keys are attributes of {} (such as {}), but {} is not one",
                set.what(),
                set.example(),
                shown(key),
            ))
            }
            Some(kind) if !kind.accepts(value) => {
                return Some(format!(
                    "key=value pairs with {key} set to {}, not {}",
                    kind.describe(),
                    shown(value)
                ))
            }
            Some(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(set: Set, pairs: &[(&str, &str)]) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        problem(set, &map)
    }

    #[test]
    fn documented_values_are_accepted() {
        let cases: [(Set, &[(&str, &str)]); 4] = [
            (
                Set::ApplicationLoadBalancer,
                &[
                    ("idle_timeout.timeout_seconds", "4000"),
                    ("deletion_protection.enabled", "true"),
                    ("routing.http2.enabled", "false"),
                    ("access_logs.s3.prefix", ""),
                    ("routing.http.xff_header_processing.mode", "preserve"),
                    ("client_keep_alive.seconds", "60"),
                ],
            ),
            (
                Set::NetworkLoadBalancer,
                &[
                    ("load_balancing.cross_zone.enabled", "true"),
                    ("dns_record.client_routing_policy", "any_availability_zone"),
                    ("access_logs.s3.enabled", "false"),
                ],
            ),
            (
                Set::ApplicationTargetGroup,
                &[
                    ("stickiness.type", "lb_cookie"),
                    ("slow_start.duration_seconds", "0"),
                    ("deregistration_delay.timeout_seconds", "30"),
                    (
                        "load_balancing.algorithm.type",
                        "least_outstanding_requests",
                    ),
                ],
            ),
            (
                Set::NetworkTargetGroup,
                &[
                    ("stickiness.type", "source_ip"),
                    ("preserve_client_ip.enabled", "true"),
                    ("proxy_protocol_v2.enabled", "false"),
                    (
                        "target_group_health.dns_failover.minimum_healthy_targets.count",
                        "off",
                    ),
                ],
            ),
        ];
        for (set, pairs) in cases {
            assert_eq!(check(set, pairs), None, "{set:?}");
        }
    }

    #[test]
    fn wrong_types_and_unknown_keys_say_what_is_expected() {
        let cases: [(Set, (&str, &str), &str); 6] = [
            (
                Set::ApplicationLoadBalancer,
                ("idle_timeout.timeout_seconds", "forever"),
                "key=value pairs with idle_timeout.timeout_seconds set to an integer from 1 to 4000, not \"forever\"",
            ),
            (
                Set::ApplicationLoadBalancer,
                ("idle_timeout", "60"),
                "key=value pairs whose keys are attributes of an Application Load Balancer (such as idle_timeout.timeout_seconds), but \"idle_timeout\" is not one",
            ),
            (
                Set::NetworkLoadBalancer,
                ("idle_timeout.timeout_seconds", "60"),
                "key=value pairs whose keys are attributes of a Network Load Balancer (such as load_balancing.cross_zone.enabled), but \"idle_timeout.timeout_seconds\" is not one",
            ),
            (
                Set::ApplicationTargetGroup,
                ("stickiness.type", "source_ip"),
                "key=value pairs with stickiness.type set to one of lb_cookie, app_cookie, not \"source_ip\"",
            ),
            (
                Set::NetworkTargetGroup,
                ("deregistration_delay.timeout_seconds", "3601"),
                "key=value pairs with deregistration_delay.timeout_seconds set to an integer from 0 to 3600, not \"3601\"",
            ),
            (
                Set::ApplicationTargetGroup,
                ("slow_start.duration_seconds", "10"),
                "key=value pairs with slow_start.duration_seconds set to 0 or an integer from 30 to 900, not \"10\"",
            ),
        ];
        for (set, pair, want) in cases {
            assert_eq!(
                check(set, &[pair]).as_deref(),
                Some(want),
                "{set:?} {pair:?}"
            );
        }
    }
}
