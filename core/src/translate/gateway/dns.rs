//! Route53 hostnames of a Gateway's routes, as ExternalDNS's `gateway-httproute`,
//! `gateway-grpcroute`, `gateway-tcproute`, `gateway-udproute` and `gateway-tlsroute` sources
//! publish them (`source/gateway.go`):
//!
//! - a route's names are its `spec.hostnames` plus its `external-dns.alpha.kubernetes.io/hostname`
//!   (or GA `external-dns.kubernetes.io/hostname`) annotation; a route without hostnames also
//!   takes the hostname of each listener it attaches to. The annotation is read on **routes**:
//!   ExternalDNS reads no hostname annotation on Gateways, so neither does this;
//! - each name is intersected with the hostname of every listener the route is accepted on: the
//!   more specific of the two when one covers the other (`*.example.com` covers
//!   `a.example.com` and `a.b.example.com`), nothing when they are disjoint, and nothing when
//!   neither has a hostname;
//! - ExternalDNS's `gateway-hostname-source` annotation on the route: `annotation-only` (only
//!   the annotation's names) or `defined-hosts-only` (only `spec.hostnames`);
//! - a route or Gateway whose `controller` annotation names another controller, or with
//!   [`DNS_OPT_OUT`](crate::translate::hostnames::DNS_OPT_OUT) `"false"`, publishes nothing.
//!
//! Only routes accepted on the Gateway get records (ExternalDNS reads the `Accepted` condition
//! of the route's status for that parent; the translation computes the same condition). Every
//! record is named by its route (`httproute/<ns>/<name>`, ExternalDNS's resource) and aliases
//! the Gateway's load balancer.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::dns::{canonical_name, DesiredHost};
use crate::translate::error::{invalid_annotation, BuildError, ObjectRef};
use crate::translate::hostnames::{
    annotation_hostnames, check_ttl, external_dns, publishes, EXTERNAL_DNS_PREFIXES,
};
use crate::translate::unsupported;

/// ExternalDNS's annotation (under its prefixes) choosing a route's hostname sources.
pub const HOSTNAME_SOURCE: &str = "gateway-hostname-source";

/// The names a route publishes, before they meet a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteNames {
    /// The registry resource (`httproute/ns/name`).
    resource: String,
    /// Canonical names; `None` stands for "the listener's hostname" (a route without
    /// hostnames).
    names: Vec<Option<String>>,
}

/// The names `route` publishes (`None` when it publishes none: opted out, or another
/// controller's). Annotation problems are errors of the route; its valid names still count.
pub(crate) fn route_names(
    object: &ObjectRef,
    meta: &ObjectMeta,
    spec_hostnames: &[String],
    errors: &mut Vec<BuildError>,
) -> Option<RouteNames> {
    if !publishes(meta) {
        return None;
    }
    check_ttl(object, meta, errors);
    let defined: Vec<Option<String>> = spec_hostnames
        .iter()
        .map(|h| Some(canonical_name(h)))
        .collect();
    let source = external_dns(meta, HOSTNAME_SOURCE);
    let (defined_names, annotation_names) = match source {
        None => (true, true),
        Some((_, v)) if v.eq_ignore_ascii_case("annotation-only") => (false, true),
        Some((_, v)) if v.eq_ignore_ascii_case("defined-hosts-only") => (true, false),
        Some((key, v)) => {
            // ExternalDNS warns and reads the route as if the annotation were absent.
            errors.push(invalid_annotation(
                object,
                &key,
                v,
                "annotation-only or defined-hosts-only (the route's hostnames and the \
                 hostname annotation are published meanwhile)",
            ));
            (true, true)
        }
    };
    let mut names: Vec<Option<String>> = Vec::new();
    if defined_names {
        // ExternalDNS: a route without hostnames takes its listeners' (unless
        // defined-hosts-only).
        if defined.is_empty() && annotation_names {
            names.push(None);
        }
        names.extend(defined);
    }
    if annotation_names {
        names.extend(
            annotation_hostnames(object, meta, errors)
                .into_iter()
                .map(Some),
        );
    }
    names.dedup();
    Some(RouteNames {
        resource: format!("{}/{}/{}", object.kind, object.namespace, object.name),
        names,
    })
}

/// The hostname published for a route name on a listener (ExternalDNS's `gwMatchingHost`):
/// `None` when they do not intersect, or when neither has a hostname.
#[must_use]
pub(crate) fn matching_host(listener: Option<&str>, route: Option<&str>) -> Option<String> {
    let covers = |wild: &str, host: &str| {
        wild.strip_prefix('*')
            .is_some_and(|suffix| host.ends_with(suffix) && host.len() > suffix.len())
    };
    let listener = listener.map(canonical_name);
    match (listener.as_deref(), route) {
        (None, None) => None,
        (None, Some(r)) => Some(r.to_owned()),
        (Some(l), None) => Some(l.to_owned()),
        (Some(l), Some(r)) if l == r => Some(r.to_owned()),
        // The more specific one: the longer, or on equal lengths the one that is not a
        // wildcard.
        (Some(l), Some(r)) => {
            let (wide, narrow) = if r.len() < l.len() || (r.len() == l.len() && r.starts_with("*."))
            {
                (r, l)
            } else {
                (l, r)
            };
            (wide.starts_with("*.") && covers(wide, narrow)).then(|| narrow.to_owned())
        }
    }
}

/// The records of `route` on one listener with `listener_hostname`, appended to `out`.
pub(crate) fn add_hosts(
    route: Option<&RouteNames>,
    listener_hostname: Option<&str>,
    out: &mut Vec<DesiredHost>,
) {
    let Some(route) = route else {
        return;
    };
    for name in &route.names {
        if let Some(hostname) = matching_host(listener_hostname, name.as_deref()) {
            let host = DesiredHost {
                hostname,
                resource: route.resource.clone(),
            };
            if !out.contains(&host) {
                out.push(host);
            }
        }
    }
}

/// ExternalDNS annotations (after its prefixes) read on routes.
const READ_ON_ROUTES: &[&str] = &["controller", "hostname", "ttl", HOSTNAME_SOURCE];

/// Warnings for the annotations under ExternalDNS's prefixes that have no effect on a route (or,
/// with `gateway`, on a Gateway, where only `controller` is read): never ignored silently.
pub(crate) fn unread_annotations(meta: &ObjectMeta, gateway: bool) -> Vec<String> {
    let Some(annotations) = meta.annotations.as_ref() else {
        return Vec::new();
    };
    annotations
        .keys()
        .filter_map(|key| {
            let rest = EXTERNAL_DNS_PREFIXES
                .iter()
                .find_map(|p| key.strip_prefix(p))?;
            if rest == "controller" || (!gateway && READ_ON_ROUTES.contains(&rest)) {
                return None;
            }
            Some(if gateway && READ_ON_ROUTES.contains(&rest) {
                format!(
                    "annotation {key} has no effect on a Gateway: ExternalDNS's gateway sources \
                     and aws-lb-operator read it on the routes (HTTPRoute, GRPCRoute, TCPRoute, \
                     UDPRoute, TLSRoute)"
                )
            } else {
                unsupported::message(key)
            })
        })
        .collect()
}

/// Whether a Gateway lets its routes publish names (not opted out, not another controller's).
#[must_use]
pub(crate) fn gateway_publishes(meta: &ObjectMeta) -> bool {
    publishes(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching_host_follows_external_dns() {
        for (listener, route, want) in [
            (None, None, None),
            (None, Some("a.example.com"), Some("a.example.com")),
            (Some("a.example.com"), None, Some("a.example.com")),
            (Some("*.example.com"), None, Some("*.example.com")),
            (
                Some("a.example.com"),
                Some("a.example.com"),
                Some("a.example.com"),
            ),
            (
                Some("A.Example.com"),
                Some("a.example.com"),
                Some("a.example.com"),
            ),
            (
                Some("*.example.com"),
                Some("a.example.com"),
                Some("a.example.com"),
            ),
            (
                Some("*.example.com"),
                Some("a.b.example.com"),
                Some("a.b.example.com"),
            ),
            (
                Some("a.example.com"),
                Some("*.example.com"),
                Some("a.example.com"),
            ),
            (
                Some("*.example.com"),
                Some("*.b.example.com"),
                Some("*.b.example.com"),
            ),
            (
                Some("*.b.example.com"),
                Some("*.example.com"),
                Some("*.b.example.com"),
            ),
            (
                Some("*.example.com"),
                Some("*.example.com"),
                Some("*.example.com"),
            ),
            (Some("*.example.com"), Some("example.com"), None),
            (Some("a.example.com"), Some("b.example.com"), None),
            (Some("*.example.com"), Some("a.example.org"), None),
            (Some("*.a.example.com"), Some("*.b.example.com"), None),
            (Some("a.example.com"), Some("a.example.com.evil"), None),
        ] {
            assert_eq!(
                matching_host(listener, route).as_deref(),
                want,
                "listener {listener:?} route {route:?}"
            );
        }
    }

    fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
        serde_json::from_value(json!({
            "name": "web",
            "namespace": "shop",
            "annotations": annotations.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }))
        .unwrap()
    }

    /// Name, annotations, `spec.hostnames`, the names published.
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Vec<&'a str>,
        Option<Vec<Option<String>>>,
    );

    #[test]
    fn route_names_and_their_sources() {
        let object = ObjectRef::namespaced("httproute", "shop", "web");
        let host = "external-dns.alpha.kubernetes.io/hostname";
        let ga_host = "external-dns.kubernetes.io/hostname";
        let source = "external-dns.alpha.kubernetes.io/gateway-hostname-source";
        let s = |v: &str| Some(v.to_owned());
        let cases: Vec<Case<'_>> = vec![
            (
                "no hostnames: the listener's",
                vec![],
                vec![],
                Some(vec![None]),
            ),
            (
                "spec hostnames, canonical",
                vec![],
                vec!["Shop.Example.com", "api.example.com."],
                Some(vec![s("shop.example.com"), s("api.example.com")]),
            ),
            (
                "the annotation adds to the listener's",
                vec![(host, "a.example.com, b.example.com")],
                vec![],
                Some(vec![None, s("a.example.com"), s("b.example.com")]),
            ),
            (
                "the GA annotation adds to spec hostnames",
                vec![(ga_host, "a.example.com")],
                vec!["shop.example.com"],
                Some(vec![s("shop.example.com"), s("a.example.com")]),
            ),
            (
                "annotation-only",
                vec![(host, "a.example.com"), (source, "annotation-only")],
                vec!["shop.example.com"],
                Some(vec![s("a.example.com")]),
            ),
            (
                "annotation-only without the annotation",
                vec![(source, "Annotation-Only")],
                vec!["shop.example.com"],
                Some(vec![]),
            ),
            (
                "defined-hosts-only",
                vec![(host, "a.example.com"), (source, "defined-hosts-only")],
                vec!["shop.example.com"],
                Some(vec![s("shop.example.com")]),
            ),
            (
                "defined-hosts-only without hostnames: not even the listener's",
                vec![(source, "defined-hosts-only")],
                vec![],
                Some(vec![]),
            ),
            (
                "opted out",
                vec![
                    (host, "a.example.com"),
                    ("aws-lb-operator.k8s.aws/manage-dns", "false"),
                ],
                vec!["shop.example.com"],
                None,
            ),
            (
                "another controller's",
                vec![("external-dns.alpha.kubernetes.io/controller", "other")],
                vec!["shop.example.com"],
                None,
            ),
            (
                "dns-controller is ExternalDNS's",
                vec![(
                    "external-dns.alpha.kubernetes.io/controller",
                    "dns-controller",
                )],
                vec!["shop.example.com"],
                Some(vec![s("shop.example.com")]),
            ),
        ];
        for (name, annotations, hostnames, want) in cases {
            let mut errors = Vec::new();
            let hostnames: Vec<String> = hostnames.into_iter().map(str::to_owned).collect();
            let got = route_names(&object, &meta(&annotations), &hostnames, &mut errors);
            assert_eq!(got.as_ref().map(|r| r.names.clone()), want, "{name}");
            assert!(errors.is_empty(), "{name}: {errors:?}");
            if let Some(r) = got {
                assert_eq!(r.resource, "httproute/shop/web", "{name}");
            }
        }
    }

    #[test]
    fn annotation_errors_name_the_route_the_annotation_and_the_value() {
        let object = ObjectRef::namespaced("httproute", "shop", "web");
        let mut errors = Vec::new();
        let got = route_names(
            &object,
            &meta(&[
                (
                    "external-dns.alpha.kubernetes.io/hostname",
                    "ok.example.com,bad_host!",
                ),
                (
                    "external-dns.alpha.kubernetes.io/gateway-hostname-source",
                    "both",
                ),
                ("external-dns.alpha.kubernetes.io/ttl", "soon"),
            ]),
            &["shop.example.com".to_owned()],
            &mut errors,
        )
        .unwrap();
        assert_eq!(
            got.names,
            [
                Some("shop.example.com".to_owned()),
                Some("ok.example.com".to_owned())
            ],
            "an invalid source reads the route as without it"
        );
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "httproute shop/web: annotation external-dns.alpha.kubernetes.io/ttl has invalid value \"soon\": expected a TTL in seconds (or like 90s, 5m, 1h) from 1 to 2147483647",
                "httproute shop/web: annotation external-dns.alpha.kubernetes.io/gateway-hostname-source has invalid value \"both\": expected annotation-only or defined-hosts-only (the route's hostnames and the hostname annotation are published meanwhile)",
                "httproute shop/web: annotation external-dns.alpha.kubernetes.io/hostname has invalid value \"bad_host!\": expected comma-separated DNS names (letters, digits and hyphens per label, an optional leading *. label)",
            ]
        );
    }

    #[test]
    fn unread_annotations_are_warned_about() {
        let m = meta(&[
            ("external-dns.alpha.kubernetes.io/hostname", "a.example.com"),
            ("external-dns.kubernetes.io/ttl", "60"),
            (
                "external-dns.alpha.kubernetes.io/controller",
                "dns-controller",
            ),
            (
                "external-dns.alpha.kubernetes.io/gateway-hostname-source",
                "annotation-only",
            ),
            ("external-dns.alpha.kubernetes.io/target", "1.2.3.4"),
            ("example.com/other", "x"),
        ]);
        assert_eq!(
            unread_annotations(&m, false),
            ["annotation external-dns.alpha.kubernetes.io/target is not implemented by aws-lb-operator and has no effect"]
        );
        assert_eq!(
            unread_annotations(&m, true),
            [
                "annotation external-dns.alpha.kubernetes.io/gateway-hostname-source has no effect on a Gateway: ExternalDNS's gateway sources and aws-lb-operator read it on the routes (HTTPRoute, GRPCRoute, TCPRoute, UDPRoute, TLSRoute)",
                "annotation external-dns.alpha.kubernetes.io/hostname has no effect on a Gateway: ExternalDNS's gateway sources and aws-lb-operator read it on the routes (HTTPRoute, GRPCRoute, TCPRoute, UDPRoute, TLSRoute)",
                "annotation external-dns.alpha.kubernetes.io/target is not implemented by aws-lb-operator and has no effect",
                "annotation external-dns.kubernetes.io/ttl has no effect on a Gateway: ExternalDNS's gateway sources and aws-lb-operator read it on the routes (HTTPRoute, GRPCRoute, TCPRoute, UDPRoute, TLSRoute)",
            ]
        );
        assert!(unread_annotations(&meta(&[]), true).is_empty());
    }

    #[test]
    fn hosts_of_a_route_on_a_listener() {
        let names = RouteNames {
            resource: "httproute/shop/web".to_owned(),
            names: vec![
                None,
                Some("a.example.com".to_owned()),
                Some("x.other.org".to_owned()),
            ],
        };
        let mut out = Vec::new();
        add_hosts(Some(&names), Some("*.example.com"), &mut out);
        add_hosts(Some(&names), Some("*.example.com"), &mut out);
        add_hosts(None, Some("*.example.com"), &mut out);
        let got: Vec<&str> = out.iter().map(|h| h.hostname.as_str()).collect();
        assert_eq!(got, ["*.example.com", "a.example.com"], "no duplicates");
        let mut out = Vec::new();
        add_hosts(Some(&names), None, &mut out);
        let got: Vec<&str> = out.iter().map(|h| h.hostname.as_str()).collect();
        assert_eq!(got, ["a.example.com", "x.other.org"]);
        assert!(out.iter().all(|h| h.resource == "httproute/shop/web"));
    }
}
