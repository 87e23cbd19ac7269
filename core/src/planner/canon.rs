//! Canonical forms, so desired and observed compare equal when AWS would behave the same.
use std::collections::BTreeMap;

use crate::discovery::Tags;
use crate::model::{ActionSpec, ConditionSpec, HealthCheckSpec, StickinessSpec, TargetGroupRef};

/// Conditions sorted by field, values sorted; host names lower-cased (ELBv2 matches hosts
/// case-insensitively and stores them lower-case).
pub(crate) fn conditions(cs: &[ConditionSpec]) -> Vec<ConditionSpec> {
    let mut out: Vec<ConditionSpec> = cs
        .iter()
        .map(|c| {
            let mut c = c.clone();
            match &mut c {
                ConditionSpec::HostHeader { values } => {
                    for v in values.iter_mut() {
                        *v = v.to_ascii_lowercase();
                    }
                    values.sort();
                }
                ConditionSpec::HttpRequestMethod { values } => {
                    for v in values.iter_mut() {
                        *v = v.to_ascii_uppercase();
                    }
                    values.sort();
                }
                ConditionSpec::PathPattern { values }
                | ConditionSpec::HttpHeader { values, .. }
                | ConditionSpec::SourceIp { values } => values.sort(),
                ConditionSpec::QueryString { values } => values.sort(),
            }
            c
        })
        .collect();
    out.sort();
    out
}

/// Actions with forward target groups sorted, a lone target group's weight ignored, disabled
/// stickiness dropped, empty bodies dropped and protocols upper-cased.
pub(crate) fn actions(acts: &[ActionSpec]) -> Vec<ActionSpec> {
    acts.iter()
        .map(|a| match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => {
                let mut tgs: Vec<TargetGroupRef> = target_groups.clone();
                tgs.sort_by(|a, b| {
                    (&a.arn, &a.id, &a.name, a.weight).cmp(&(&b.arn, &b.id, &b.name, b.weight))
                });
                if tgs.len() == 1 {
                    if let Some(t) = tgs.first_mut() {
                        t.weight = 1;
                    }
                }
                let stickiness = match stickiness {
                    Some(StickinessSpec {
                        enabled: true,
                        duration_seconds,
                    }) => Some(StickinessSpec {
                        enabled: true,
                        duration_seconds: *duration_seconds,
                    }),
                    _ => None,
                };
                ActionSpec::Forward {
                    target_groups: tgs,
                    stickiness,
                }
            }
            ActionSpec::FixedResponse(f) => {
                let mut f = f.clone();
                if f.message_body.as_deref() == Some("") {
                    f.message_body = None;
                }
                ActionSpec::FixedResponse(f)
            }
            ActionSpec::Redirect(r) => {
                let mut r = r.clone();
                if !r.protocol.starts_with("#{") {
                    r.protocol = r.protocol.to_ascii_uppercase();
                }
                ActionSpec::Redirect(r)
            }
            ActionSpec::AuthenticateCognito(c) => ActionSpec::AuthenticateCognito(c.clone()),
            // AWS never returns the client secret: it is compared through the fingerprint tag
            // (`tags::OIDC_CLIENT_SECRET`), not here.
            ActionSpec::AuthenticateOidc(o) => {
                let mut o = o.clone();
                o.client_secret = None;
                ActionSpec::AuthenticateOidc(o)
            }
        })
        .collect()
}

/// Whether an OIDC client secret must be sent again: the desired fingerprint tag
/// ([`crate::model::tags::OIDC_CLIENT_SECRET`]) is not the observed one (AWS never returns the
/// secret itself, so it cannot be compared). A listener or rule that an earlier controller
/// (LBC) wrote has no such tag: its secret is sent once, then tagged.
pub(crate) fn client_secret_stale(desired: &BTreeMap<String, String>, observed: &Tags) -> bool {
    let key = crate::model::tags::OIDC_CLIENT_SECRET;
    match desired.get(key) {
        Some(want) => observed.get(key) != Some(want),
        None => false,
    }
}

/// Whether a listener's mutual TLS must be written, as LBC decides it (without its
/// `EnhancedDefaultBehavior` gate): not desired, never (the listener keeps its own); desired
/// `off`, only when the listener has another mode; otherwise when any field differs (a field
/// AWS leaves out reads as its default: no trust store, expiry not ignored, CA names off).
pub(crate) fn mutual_authentication_drifted(
    desired: Option<&crate::model::MutualAuthenticationSpec>,
    observed: Option<&crate::model::MutualAuthenticationSpec>,
) -> bool {
    let Some(desired) = desired else {
        return false;
    };
    let observed_mode = observed.map_or("off", |o| o.mode.as_str());
    if desired.mode == "off" {
        return observed_mode != "off";
    }
    let Some(observed) = observed else {
        return true;
    };
    let normal = |m: &crate::model::MutualAuthenticationSpec| {
        (
            m.mode.clone(),
            m.trust_store.clone().filter(|s| !s.is_empty()),
            m.ignore_client_certificate_expiry.unwrap_or(false),
            m.advertise_trust_store_ca_names
                .clone()
                .unwrap_or_else(|| "off".to_owned()),
        )
    };
    normal(desired) != normal(observed)
}

/// Health checks compare on every field; the path only matters for HTTP(S) checks, and
/// numeric ports compare as numbers.
pub(crate) fn health_check_equal(desired: &HealthCheckSpec, observed: &HealthCheckSpec) -> bool {
    let port = |p: &str| p.trim().to_ascii_lowercase();
    desired.protocol == observed.protocol
        && port(&desired.port) == port(&observed.port)
        && desired.path == observed.path
        && desired.interval_seconds == observed.interval_seconds
        && desired.timeout_seconds == observed.timeout_seconds
        && desired.healthy_threshold_count == observed.healthy_threshold_count
        && desired.unhealthy_threshold_count == observed.unhealthy_threshold_count
        && desired.matcher == observed.matcher
}

fn attribute_value_equal(desired: &str, observed: &str) -> bool {
    desired == observed
        || (matches!(desired.to_ascii_lowercase().as_str(), "true" | "false")
            && desired.eq_ignore_ascii_case(observed))
}

/// The desired attributes whose observed value differs (keys not desired are left alone, as
/// the AWS Load Balancer Controller does).
pub(crate) fn attribute_changes(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    desired
        .iter()
        .filter(|(k, v)| {
            observed
                .get(*k)
                .is_none_or(|o| !attribute_value_equal(v, o))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Tags to add or overwrite, and keys to remove (AWS-reserved `aws:` keys and the
/// externally managed keys `keep` are never removed).
pub(crate) fn tag_changes(desired: &Tags, observed: &Tags, keep: &[String]) -> (Tags, Vec<String>) {
    // The desired-state hash is written by the pass after a full read, never planned.
    let hash = super::trust::DESIRED_HASH_TAG;
    let add: Tags = desired
        .iter()
        .filter(|(k, v)| k.as_str() != hash && observed.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = observed
        .keys()
        .filter(|k| {
            !desired.contains_key(*k)
                && !k.starts_with("aws:")
                && k.as_str() != hash
                && !keep.contains(*k)
        })
        .cloned()
        .collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FixedResponseSpec, MatcherSpec, Protocol};

    fn tg(arn: &str, weight: u32) -> TargetGroupRef {
        TargetGroupRef {
            id: None,
            arn: Some(arn.to_owned()),
            name: None,
            weight,
        }
    }

    #[test]
    fn conditions_ignore_order_and_host_case() {
        let a = vec![
            ConditionSpec::PathPattern {
                values: vec!["/b".into(), "/a".into()],
            },
            ConditionSpec::HostHeader {
                values: vec!["Shop.Example.com".into()],
            },
        ];
        let b = vec![
            ConditionSpec::HostHeader {
                values: vec!["shop.example.com".into()],
            },
            ConditionSpec::PathPattern {
                values: vec!["/a".into(), "/b".into()],
            },
        ];
        assert_eq!(conditions(&a), conditions(&b));
        let c = vec![ConditionSpec::PathPattern {
            values: vec!["/A".into()],
        }];
        let d = vec![ConditionSpec::PathPattern {
            values: vec!["/a".into()],
        }];
        assert_ne!(conditions(&c), conditions(&d), "paths are case-sensitive");
    }

    #[test]
    fn forward_canonical_form() {
        let lone_default = vec![ActionSpec::Forward {
            target_groups: vec![tg("arn:a", 1)],
            stickiness: Some(StickinessSpec {
                enabled: false,
                duration_seconds: Some(3600),
            }),
        }];
        let lone_weighted = vec![ActionSpec::Forward {
            target_groups: vec![tg("arn:a", 100)],
            stickiness: None,
        }];
        assert_eq!(actions(&lone_default), actions(&lone_weighted));
        let two = |w: u32| {
            vec![ActionSpec::Forward {
                target_groups: vec![tg("arn:b", w), tg("arn:a", 10)],
                stickiness: None,
            }]
        };
        assert_eq!(
            actions(&two(90)),
            actions(&[ActionSpec::Forward {
                target_groups: vec![tg("arn:a", 10), tg("arn:b", 90)],
                stickiness: None
            }])
        );
        assert_ne!(actions(&two(90)), actions(&two(80)), "weights matter");
        let body = |b: Option<&str>| {
            vec![ActionSpec::FixedResponse(FixedResponseSpec {
                status_code: "404".into(),
                content_type: Some("text/plain".into()),
                message_body: b.map(str::to_owned),
            })]
        };
        assert_eq!(actions(&body(Some(""))), actions(&body(None)));
    }

    #[test]
    fn attributes_compare_booleans_case_insensitively_and_ignore_undesired_keys() {
        let desired: BTreeMap<String, String> = [
            ("idle_timeout.timeout_seconds", "120"),
            ("deletion_protection.enabled", "True"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let observed: BTreeMap<String, String> = [
            ("idle_timeout.timeout_seconds", "60"),
            ("deletion_protection.enabled", "true"),
            ("routing.http2.enabled", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let changes = attribute_changes(&desired, &observed);
        assert_eq!(
            changes.into_iter().collect::<Vec<_>>(),
            vec![("idle_timeout.timeout_seconds".to_owned(), "120".to_owned())]
        );
    }

    #[test]
    fn tags_diff_never_removes_aws_keys() {
        let desired: Tags = [("a", "1"), ("b", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let observed: Tags = [
            ("a", "1"),
            ("b", "3"),
            ("c", "x"),
            ("aws:cloudformation", "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (add, remove) = tag_changes(&desired, &observed, &[]);
        assert_eq!(
            add.into_iter().collect::<Vec<_>>(),
            vec![("b".into(), "2".into())]
        );
        assert_eq!(remove, vec!["c".to_owned()]);
    }

    #[test]
    fn health_checks_compare_ports_loosely_and_everything_else_exactly() {
        let hc = HealthCheckSpec {
            protocol: Protocol::Http,
            port: "traffic-port".into(),
            path: "/healthz".into(),
            interval_seconds: 15,
            timeout_seconds: 5,
            healthy_threshold_count: 2,
            unhealthy_threshold_count: 2,
            matcher: MatcherSpec {
                http_code: Some("200".into()),
                grpc_code: None,
            },
        };
        let mut other = hc.clone();
        other.port = "Traffic-Port".into();
        assert!(health_check_equal(&hc, &other));
        other.path = "/".into();
        assert!(!health_check_equal(&hc, &other));
    }
}
