//! Table-driven tests of the Gateway API translation: attachment, hostnames, precedence with
//! competing routes (checked by evaluating requests against the planned listener with the
//! ALB rule evaluator of `route`), backends, filters, listeners and status.
use serde_json::{json, Value};

use super::status::{find, ConditionStatus, Statuses};
use super::*;
use crate::model::{ActionSpec, Stack, TargetType};
use crate::route::{evaluate, Outcome, Request, RouteListener};
use crate::translate::fixtures::{config, service, slice, P};
use crate::translate::{BuildConfig, Snapshot};

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn class(name: &str, controller: &str) -> GatewayClass {
    from(json!({"metadata": {"name": name}, "spec": {"controllerName": controller}}))
}

fn gateway(ns: &str, name: &str, listeners: Value) -> Gateway {
    from(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"gatewayClassName": "alb", "listeners": listeners}
    }))
}

fn route(ns: &str, name: &str, spec: Value) -> HttpRoute {
    from(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec}))
}

fn http(name: &str, port: i32) -> Value {
    json!({"name": name, "port": port, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}})
}

/// ip targets: every Service `ns/name` port 80 → 8080 with one ready endpoint.
fn snapshot(services: &[(&str, &str)]) -> Snapshot {
    let mut snap = Snapshot::default();
    for (i, (ns, name)) in services.iter().enumerate() {
        snap.services.push(service(
            ns,
            name,
            "ClusterIP",
            &[("http", 80, Some(P::N(8080)), None)],
        ));
        snap.endpoint_slices.push(slice(
            ns,
            name,
            &format!("{name}-1"),
            &[("http", 8080)],
            &[(&format!("10.0.0.{}", i + 1), Some(true))],
        ));
    }
    snap
}

fn ip_config() -> BuildConfig {
    BuildConfig {
        default_target_type: TargetType::Ip,
        ..config()
    }
}

fn objects(gateways: Vec<Gateway>, routes: Vec<HttpRoute>) -> GatewayObjects {
    GatewayObjects {
        classes: vec![class("alb", ALB_CONTROLLER)],
        gateways,
        http_routes: routes,
        ..Default::default()
    }
}

fn run(objects: &GatewayObjects, services: &[(&str, &str)]) -> GatewayOutput {
    build(objects, &snapshot(services), &ip_config())
}

/// What answers a request on `port`: `ns-svc:port` of each forwarded target group with its
/// weight, `fixed 404`, or `redirect <location>`.
fn answer(stack: &Stack, port: u16, host: &str, path: &str, extra: &[(&str, &str)]) -> String {
    let listener = stack.listeners.iter().find(|l| l.port == port).unwrap();
    let mut request = Request {
        scheme: "http".into(),
        port,
        host: host.into(),
        path: path.into(),
        method: "GET".into(),
        ..Default::default()
    };
    for (k, v) in extra {
        match *k {
            "method" => request.method = (*v).into(),
            "query" => request.query = (*v).into(),
            header => request.headers.push((header.into(), (*v).into())),
        }
    }
    match evaluate(&RouteListener::from(listener), &request)
        .answer()
        .unwrap()
    {
        Outcome::Forward { target_groups, .. } => target_groups
            .iter()
            .map(|t| {
                let id = t.id.as_deref().unwrap();
                let backend = id
                    .split(":HTTPRoute-")
                    .nth(1)
                    .or_else(|| id.split(":GRPCRoute-").nth(1))
                    .unwrap();
                if target_groups.len() == 1 {
                    backend.to_owned()
                } else {
                    format!("{backend}*{}", t.weight)
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Outcome::FixedResponse(f) => format!("fixed {}", f.status_code),
        Outcome::Redirect {
            status_code,
            location,
        } => format!("redirect {status_code} {location}"),
        Outcome::Authenticate { .. } => "authenticate".to_owned(),
    }
}

fn parent_condition(status: &Statuses, route: &str, type_: &str) -> (ConditionStatus, String) {
    let (ns, name) = route.split_once('/').unwrap();
    let r = status
        .routes
        .iter()
        .find(|r| r.namespace == ns && r.name == name)
        .unwrap_or_else(|| panic!("no status for {route}: {status:#?}"));
    let c = find(&r.parents[0].conditions, type_).unwrap_or_else(|| panic!("{route}: no {type_}"));
    (c.status, c.reason.to_owned())
}

#[test]
fn hostname_intersection() {
    struct Case {
        listener: Option<&'static str>,
        route: &'static [&'static str],
        want: &'static [Option<&'static str>],
    }
    let cases = [
        Case {
            listener: None,
            route: &[],
            want: &[None],
        },
        Case {
            listener: None,
            route: &["a.example.com"],
            want: &[Some("a.example.com")],
        },
        Case {
            listener: Some("a.example.com"),
            route: &[],
            want: &[Some("a.example.com")],
        },
        Case {
            listener: Some("a.example.com"),
            route: &["a.example.com", "b.example.com"],
            want: &[Some("a.example.com")],
        },
        Case {
            listener: Some("*.example.com"),
            route: &["a.example.com", "x.other.com"],
            want: &[Some("a.example.com")],
        },
        Case {
            listener: Some("*.example.com"),
            route: &["*.example.com"],
            want: &[Some("*.example.com")],
        },
        Case {
            listener: Some("*.example.com"),
            route: &["*.a.example.com"],
            want: &[Some("*.a.example.com")],
        },
        Case {
            listener: Some("*.a.example.com"),
            route: &["*.example.com"],
            want: &[Some("*.a.example.com")],
        },
        Case {
            listener: Some("foo.example.com"),
            route: &["*.example.com"],
            want: &[Some("foo.example.com")],
        },
        // A wildcard covers at least one label: `*.example.com` does not cover `example.com`.
        Case {
            listener: Some("*.example.com"),
            route: &["example.com"],
            want: &[],
        },
        Case {
            listener: Some("a.example.com"),
            route: &["b.example.com"],
            want: &[],
        },
    ];
    for c in cases {
        let route: Vec<String> = c.route.iter().map(|s| (*s).to_owned()).collect();
        let want: Vec<Option<String>> = c.want.iter().map(|h| h.map(str::to_owned)).collect();
        assert_eq!(
            routes::intersect(c.listener, &route),
            want,
            "{:?} ∩ {:?}",
            c.listener,
            c.route
        );
    }
}

#[test]
fn path_prefix_matches_element_wise_and_exact_matches_only_itself() {
    let o = objects(
        vec![gateway("shop", "edge", json!([http("web", 80)]))],
        vec![route(
            "shop",
            "r",
            json!({
                "parentRefs": [{"name": "edge"}],
                "rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/foo/"}}], "backendRefs": [{"name": "foo", "port": 80}]},
                    {"matches": [{"path": {"type": "Exact", "value": "/exact"}}], "backendRefs": [{"name": "exact", "port": 80}]}
                ]
            }),
        )],
    );
    let out = run(&o, &[("shop", "foo"), ("shop", "exact")]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let stack = &out.stacks[0];
    for (path, want) in [
        ("/foo", "shop-foo:80"),
        ("/foo/", "shop-foo:80"),
        ("/foo/bar", "shop-foo:80"),
        ("/foobar", "fixed 404"),
        ("/exact", "shop-exact:80"),
        ("/exact/", "fixed 404"),
        ("/exactly", "fixed 404"),
    ] {
        assert_eq!(
            answer(stack, 80, "any.example.com", path, &[]),
            want,
            "{path}"
        );
    }
}

/// Competing routes on one listener: the specification's precedence decides, whatever the
/// order of the routes in the input, and each request reaches the backend the specification
/// names.
#[test]
fn precedence_across_competing_routes() {
    let t = |s: &str| json!(s);
    let mut routes = vec![
        // Oldest route: catch-all.
        from::<HttpRoute>(json!({
            "metadata": {"name": "catch-all", "namespace": "a", "creationTimestamp": t("2024-01-01T00:00:00Z")},
            "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}],
                     "rules": [{"backendRefs": [{"name": "root", "port": 80}]}]}
        })),
        from(json!({
            "metadata": {"name": "api", "namespace": "b", "creationTimestamp": t("2024-02-01T00:00:00Z")},
            "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}],
                     "rules": [
                        {"matches": [{"path": {"value": "/api"}}], "backendRefs": [{"name": "api", "port": 80}]},
                        {"matches": [{"path": {"value": "/api"}, "method": "POST"}], "backendRefs": [{"name": "api-write", "port": 80}]},
                        {"matches": [{"path": {"value": "/api"}, "headers": [{"name": "x-canary", "value": "1"}]}], "backendRefs": [{"name": "canary", "port": 80}]},
                        {"matches": [{"path": {"value": "/api"}, "headers": [{"name": "x-canary", "value": "1"}, {"name": "x-team", "value": "b"}]}], "backendRefs": [{"name": "team-b", "port": 80}]},
                        {"matches": [{"path": {"value": "/api"}, "queryParams": [{"name": "v", "value": "2"}]}], "backendRefs": [{"name": "v2", "port": 80}]},
                        {"matches": [{"path": {"value": "/api/v1"}}], "backendRefs": [{"name": "v1", "port": 80}]},
                        {"matches": [{"path": {"type": "Exact", "value": "/api"}}], "backendRefs": [{"name": "api-exact", "port": 80}]}
                     ]}
        })),
        // Same match as route b/api's first rule, but newer: never reached for /api.
        from(json!({
            "metadata": {"name": "api-copy", "namespace": "b", "creationTimestamp": t("2024-03-01T00:00:00Z")},
            "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}],
                     "rules": [{"matches": [{"path": {"value": "/api"}}], "backendRefs": [{"name": "copy", "port": 80}]}]}
        })),
        // Same match and same age as a/catch-all... but a precise hostname beats everything.
        from(json!({
            "metadata": {"name": "host", "namespace": "c", "creationTimestamp": t("2025-01-01T00:00:00Z")},
            "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}], "hostnames": ["admin.example.com"],
                     "rules": [{"backendRefs": [{"name": "admin", "port": 80}]}]}
        })),
        from(json!({
            "metadata": {"name": "wild", "namespace": "c", "creationTimestamp": t("2025-01-01T00:00:00Z")},
            "spec": {"parentRefs": [{"name": "edge", "namespace": "shop"}], "hostnames": ["*.example.com"],
                     "rules": [{"matches": [{"path": {"value": "/api"}}], "backendRefs": [{"name": "wild", "port": 80}]}]}
        })),
    ];
    let services: Vec<(&str, &str)> = vec![
        ("a", "root"),
        ("b", "api"),
        ("b", "api-write"),
        ("b", "canary"),
        ("b", "team-b"),
        ("b", "v2"),
        ("b", "v1"),
        ("b", "api-exact"),
        ("b", "copy"),
        ("c", "admin"),
        ("c", "wild"),
    ];
    type Extra<'a> = &'a [(&'a str, &'a str)];
    let requests: &[(&str, &str, Extra<'_>, &str)] = &[
        ("www.other.org", "/", &[], "a-root:80"),
        ("www.other.org", "/apix", &[], "a-root:80"),
        ("www.other.org", "/api", &[], "b-api-exact:80"),
        ("www.other.org", "/api/", &[], "b-api:80"),
        (
            "www.other.org",
            "/api/items",
            &[("method", "POST")],
            "b-api-write:80",
        ),
        (
            "www.other.org",
            "/api/items",
            &[("x-canary", "1")],
            "b-canary:80",
        ),
        (
            "www.other.org",
            "/api/items",
            &[("x-canary", "1"), ("x-team", "b")],
            "b-team-b:80",
        ),
        // Method beats headers.
        (
            "www.other.org",
            "/api/items",
            &[("method", "POST"), ("x-canary", "1")],
            "b-api-write:80",
        ),
        (
            "www.other.org",
            "/api/items",
            &[("query", "v=2")],
            "b-v2:80",
        ),
        // Headers beat query parameters.
        (
            "www.other.org",
            "/api/items",
            &[("query", "v=2"), ("x-canary", "1")],
            "b-canary:80",
        ),
        // The longer prefix beats method and headers.
        (
            "www.other.org",
            "/api/v1/x",
            &[("method", "POST")],
            "b-v1:80",
        ),
        // Hostnames first: precise, then wildcard, then none.
        ("admin.example.com", "/api/v1", &[], "c-admin:80"),
        ("shop.example.com", "/api/v1", &[], "c-wild:80"),
        ("shop.example.com", "/", &[], "a-root:80"),
    ];
    for reversed in [false, true] {
        if reversed {
            routes.reverse();
        }
        let o = GatewayObjects {
            classes: vec![class("alb", ALB_CONTROLLER)],
            gateways: vec![gateway("shop", "edge", json!([http("web", 80)]))],
            http_routes: routes.clone(),
            ..Default::default()
        };
        let out = run(&o, &services);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let stack = &out.stacks[0];
        for (host, path, extra, want) in requests {
            assert_eq!(
                answer(stack, 80, host, path, extra),
                *want,
                "{host}{path} {extra:?} (routes reversed: {reversed})"
            );
        }
        // b/api-copy is attached, with a rule of its own, but after the older b/api's.
        let rules = &stack.listeners[0].rules;
        let first = |source: &str| rules.iter().position(|r| r.source == source).unwrap();
        assert!(first("httproute b/api") < first("httproute b/api-copy"));
        assert_eq!(
            out.status.gateways[0].listeners[0].attached_routes, 5,
            "every route is attached"
        );
    }
}

/// As the conformance case HTTPRouteListenerHostnameMatching: listeners on one port with
/// different hostnames, one route on each; a request is answered by the routes of the most
/// specific listener that takes its host, and a path none of them matches gets 404 rather
/// than a less specific listener's route.
#[test]
fn listener_hostnames_on_one_port_keep_their_routes_apart() {
    let listener = |name: &str, host: Option<&str>| {
        let mut l = http(name, 80);
        if let Some(h) = host {
            l["hostname"] = json!(h);
        }
        l
    };
    let attached = |name: &str, section: &str, path: &str, svc: &str| {
        route(
            "shop",
            name,
            json!({
                "parentRefs": [{"name": "edge", "sectionName": section}],
                "rules": [{"matches": [{"path": {"value": path}}], "backendRefs": [{"name": svc, "port": 80}]}]
            }),
        )
    };
    let o = objects(
        vec![gateway(
            "shop",
            "edge",
            json!([
                listener("bar", Some("bar.com")),
                listener("foo-bar", Some("foo.bar.com")),
                listener("wild-bar", Some("*.bar.com")),
                listener("any", None),
            ]),
        )],
        vec![
            attached("r-bar", "bar", "/", "bar"),
            attached("r-foo-bar", "foo-bar", "/only", "foo-bar"),
            attached("r-wild-bar", "wild-bar", "/", "wild-bar"),
            attached("r-any", "any", "/", "any"),
        ],
    );
    let out = run(
        &o,
        &[
            ("shop", "bar"),
            ("shop", "foo-bar"),
            ("shop", "wild-bar"),
            ("shop", "any"),
        ],
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let stack = &out.stacks[0];
    for (host, path, want) in [
        ("bar.com", "/x", "shop-bar:80"),
        ("foo.bar.com", "/only/x", "shop-foo-bar:80"),
        // Not *.bar.com's route, nor the catch-all's: foo.bar.com is the listener's.
        ("foo.bar.com", "/other", "fixed 404"),
        ("baz.bar.com", "/x", "shop-wild-bar:80"),
        ("a.b.bar.com", "/x", "shop-wild-bar:80"),
        ("example.org", "/x", "shop-any:80"),
    ] {
        assert_eq!(answer(stack, 80, host, path, &[]), want, "{host}{path}");
    }
}

#[test]
fn attachment_reasons() {
    struct Case {
        name: &'static str,
        listeners: Value,
        route_ns: &'static str,
        parent: Value,
        hostnames: Value,
        want: (&'static str, &'static str),
        attached: u32,
    }
    let cases = [
        Case {
            name: "same namespace by default: admitted",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP"}]),
            route_ns: "shop",
            parent: json!({"name": "edge", "namespace": "shop"}),
            hostnames: json!([]),
            want: ("True", "Accepted"),
            attached: 1,
        },
        Case {
            name: "same namespace by default: another namespace refused",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP"}]),
            route_ns: "team",
            parent: json!({"name": "edge", "namespace": "shop"}),
            hostnames: json!([]),
            want: ("False", "NotAllowedByListeners"),
            attached: 0,
        },
        Case {
            name: "from All admits another namespace",
            listeners: json!([http("web", 80)]),
            route_ns: "team",
            parent: json!({"name": "edge", "namespace": "shop"}),
            hostnames: json!([]),
            want: ("True", "Accepted"),
            attached: 1,
        },
        Case {
            name: "selector on namespace labels",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}}}]),
            route_ns: "team",
            parent: json!({"name": "edge", "namespace": "shop"}),
            hostnames: json!([]),
            want: ("True", "Accepted"),
            attached: 1,
        },
        Case {
            name: "selector that does not match",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "x"}}}}}]),
            route_ns: "team",
            parent: json!({"name": "edge", "namespace": "shop"}),
            hostnames: json!([]),
            want: ("False", "NotAllowedByListeners"),
            attached: 0,
        },
        Case {
            name: "kinds without HTTPRoute",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"kind": "GRPCRoute"}]}}]),
            route_ns: "shop",
            parent: json!({"name": "edge"}),
            hostnames: json!([]),
            want: ("False", "NotAllowedByListeners"),
            attached: 0,
        },
        Case {
            name: "sectionName naming no listener",
            listeners: json!([http("web", 80)]),
            route_ns: "shop",
            parent: json!({"name": "edge", "sectionName": "nope"}),
            hostnames: json!([]),
            want: ("False", "NoMatchingParent"),
            attached: 0,
        },
        Case {
            name: "port naming no listener",
            listeners: json!([http("web", 80)]),
            route_ns: "shop",
            parent: json!({"name": "edge", "port": 8080}),
            hostnames: json!([]),
            want: ("False", "NoMatchingParent"),
            attached: 0,
        },
        Case {
            name: "sectionName picks one listener of two",
            listeners: json!([http("web", 80), http("alt", 8080)]),
            route_ns: "shop",
            parent: json!({"name": "edge", "sectionName": "alt"}),
            hostnames: json!([]),
            want: ("True", "Accepted"),
            attached: 1,
        },
        Case {
            name: "hostnames that do not intersect",
            listeners: json!([{"name": "web", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}]),
            route_ns: "shop",
            parent: json!({"name": "edge"}),
            hostnames: json!(["www.other.org"]),
            want: ("False", "NoMatchingListenerHostname"),
            attached: 0,
        },
    ];
    for c in cases {
        let o = objects(
            vec![gateway("shop", "edge", c.listeners)],
            vec![route(
                c.route_ns,
                "r",
                json!({
                    "parentRefs": [c.parent], "hostnames": c.hostnames,
                    "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]
                }),
            )],
        );
        let out = run(&o, &[(c.route_ns, "svc")]);
        let (status, reason) =
            parent_condition(&out.status, &format!("{}/r", c.route_ns), "Accepted");
        assert_eq!(
            (format!("{status:?}").as_str(), reason.as_str()),
            c.want,
            "{}",
            c.name
        );
        let attached: u32 = out.status.gateways[0]
            .listeners
            .iter()
            .map(|l| l.attached_routes)
            .sum();
        assert_eq!(attached, c.attached, "{}: attachedRoutes", c.name);
        let rules: usize = out
            .stacks
            .iter()
            .flat_map(|s| &s.listeners)
            .map(|l| l.rules.len())
            .sum();
        assert_eq!(rules, c.attached as usize, "{}: rules", c.name);
        let route_errors = out
            .errors
            .iter()
            .filter(|e| e.object().kind == "httproute")
            .count();
        assert_eq!(
            route_errors,
            usize::from(c.want.0 == "False"),
            "{}: {:?}",
            c.name,
            out.errors
        );
    }
}

#[test]
fn attachment_error_messages() {
    let o = objects(
        vec![gateway(
            "shop",
            "edge",
            json!([{"name": "web", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}]),
        )],
        vec![
            route(
                "team",
                "far",
                json!({"parentRefs": [{"name": "edge", "namespace": "shop"}]}),
            ),
            route(
                "shop",
                "elsewhere",
                json!({"parentRefs": [{"name": "edge"}], "hostnames": ["www.other.org"]}),
            ),
        ],
    );
    let out = run(&o, &[]);
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            r#"httproute shop/elsewhere: spec.parentRefs[0] has invalid value "shop/edge": expected a gateway listener whose hostname intersects the route's hostnames ["www.other.org"]"#,
            r#"httproute team/far: spec.parentRefs[0] has invalid value "shop/edge": expected a gateway with an accepted listener whose allowedRoutes admit HTTPRoutes from namespace team"#,
        ]
    );
}

#[test]
fn backend_references() {
    struct Case {
        name: &'static str,
        backends: Value,
        grants: Value,
        want_resolved: (&'static str, &'static str),
        want_answer: &'static str,
        want_error: Option<&'static str>,
    }
    let grant = json!([{
        "metadata": {"name": "g", "namespace": "data"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "shop"}],
                 "to": [{"group": "", "kind": "Service", "name": "db"}]}
    }]);
    let cases = [
        Case {
            name: "weighted backends",
            backends: json!([{"name": "a", "port": 80, "weight": 1}, {"name": "b", "port": 80, "weight": 3}]),
            grants: json!([]),
            want_resolved: ("True", "ResolvedRefs"),
            want_answer: "shop-a:80*1 shop-b:80*3",
            want_error: None,
        },
        Case {
            name: "missing service: its siblings are served",
            backends: json!([{"name": "a", "port": 80}, {"name": "gone", "port": 80}]),
            grants: json!([]),
            want_resolved: ("False", "BackendNotFound"),
            want_answer: "shop-a:80",
            want_error: Some("httproute shop/r: spec.rules[0].backendRefs[1] refers to service shop/gone, which was not found"),
        },
        Case {
            name: "missing port",
            backends: json!([{"name": "a", "port": 81}]),
            grants: json!([]),
            want_resolved: ("False", "BackendNotFound"),
            want_answer: "fixed 500",
            want_error: Some("httproute shop/r: spec.rules[0].backendRefs[0] refers to port 81 of service shop/a, which was not found"),
        },
        Case {
            name: "cross-namespace without a ReferenceGrant",
            backends: json!([{"name": "db", "namespace": "data", "port": 80}]),
            grants: json!([]),
            want_resolved: ("False", "RefNotPermitted"),
            want_answer: "fixed 500",
            want_error: Some(r#"httproute shop/r: spec.rules[0].backendRefs[0].namespace has invalid value "data": expected the route's namespace shop, or a ReferenceGrant in namespace data from HTTPRoutes of namespace shop to Service db"#),
        },
        Case {
            name: "cross-namespace with a ReferenceGrant",
            backends: json!([{"name": "db", "namespace": "data", "port": 80}]),
            grants: grant.clone(),
            want_resolved: ("True", "ResolvedRefs"),
            want_answer: "data-db:80",
            want_error: None,
        },
        Case {
            name: "grant for another service",
            backends: json!([{"name": "cache", "namespace": "data", "port": 80}]),
            grants: grant,
            want_resolved: ("False", "RefNotPermitted"),
            want_answer: "fixed 500",
            want_error: None,
        },
        Case {
            name: "another kind",
            backends: json!([{"group": "example.com", "kind": "Bucket", "name": "a"}]),
            grants: json!([]),
            want_resolved: ("False", "InvalidKind"),
            want_answer: "fixed 500",
            want_error: Some(r#"httproute shop/r: spec.rules[0].backendRefs[0].kind has invalid value "example.com/Bucket": expected Service (core group)"#),
        },
        Case {
            name: "no backend at all",
            backends: json!([]),
            grants: json!([]),
            want_resolved: ("True", "ResolvedRefs"),
            want_answer: "fixed 500",
            want_error: None,
        },
        Case {
            name: "every weight zero",
            backends: json!([{"name": "a", "port": 80, "weight": 0}]),
            grants: json!([]),
            want_resolved: ("True", "ResolvedRefs"),
            want_answer: "fixed 500",
            want_error: None,
        },
    ];
    for c in cases {
        let mut o = objects(
            vec![gateway("shop", "edge", json!([http("web", 80)]))],
            vec![route(
                "shop",
                "r",
                json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": c.backends}]}),
            )],
        );
        o.reference_grants = from(c.grants);
        let out = run(
            &o,
            &[
                ("shop", "a"),
                ("shop", "b"),
                ("data", "db"),
                ("data", "cache"),
            ],
        );
        let (status, reason) = parent_condition(&out.status, "shop/r", "ResolvedRefs");
        assert_eq!(
            (format!("{status:?}").as_str(), reason.as_str()),
            c.want_resolved,
            "{}",
            c.name
        );
        assert_eq!(
            parent_condition(&out.status, "shop/r", "Accepted").0,
            ConditionStatus::True,
            "{}",
            c.name
        );
        assert_eq!(
            answer(&out.stacks[0], 80, "x", "/", &[]),
            c.want_answer,
            "{}",
            c.name
        );
        if let Some(e) = c.want_error {
            assert_eq!(
                out.errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                vec![e],
                "{}",
                c.name
            );
        }
        // Only target groups a rule forwards to are in the stack.
        let forwarded = out.stacks[0].listeners[0]
            .rules
            .iter()
            .flat_map(|r| &r.actions)
            .filter_map(|a| match a {
                ActionSpec::Forward { target_groups, .. } => Some(target_groups.len()),
                _ => None,
            })
            .sum::<usize>();
        assert_eq!(out.stacks[0].target_groups.len(), forwarded, "{}", c.name);
    }
}

#[test]
fn unsupported_values_are_reported_never_dropped_silently() {
    let o = objects(
        vec![gateway("shop", "edge", json!([http("web", 80)]))],
        vec![
            route(
                "shop",
                "partly",
                json!({
                    "parentRefs": [{"name": "edge"}],
                    "rules": [
                        {"matches": [{"path": {"value": "/ok"}}], "backendRefs": [{"name": "a", "port": 80}]},
                        {"matches": [{"path": {"value": "/mod"}}], "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "y"}]}}], "backendRefs": [{"name": "a", "port": 80}]}
                    ]
                }),
            ),
            route(
                "shop",
                "wholly",
                json!({
                    "parentRefs": [{"name": "edge"}],
                    "rules": [{"matches": [{"path": {"type": "RegularExpression", "value": "/r.*"}}], "backendRefs": [{"name": "a", "port": 80}]}]
                }),
            ),
        ],
    );
    let out = run(&o, &[("shop", "a")]);
    assert_eq!(
        out.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            r#"httproute shop/partly: spec.rules[1].filters[0].type has invalid value "RequestHeaderModifier": expected RequestRedirect or URLRewrite (the filters an ALB rule expresses so far)"#,
            r#"httproute shop/wholly: spec.rules[0].matches[0].path.type has invalid value "RegularExpression": expected "Exact" or "PathPrefix" (RegularExpression is not translated yet)"#,
        ]
    );
    let partly = &out
        .status
        .routes
        .iter()
        .find(|r| r.name == "partly")
        .unwrap()
        .parents[0]
        .conditions;
    assert_eq!(
        find(partly, "Accepted").unwrap().status,
        ConditionStatus::True
    );
    let pi = find(partly, "PartiallyInvalid").unwrap();
    assert_eq!(
        (pi.status, pi.reason),
        (ConditionStatus::True, "UnsupportedValue")
    );
    assert_eq!(
        pi.message,
        r#"spec.rules[1].filters[0].type has invalid value "RequestHeaderModifier": expected RequestRedirect or URLRewrite (the filters an ALB rule expresses so far); the rule is left out, the route's other rules are served"#
    );
    assert_eq!(
        parent_condition(&out.status, "shop/wholly", "Accepted"),
        (ConditionStatus::False, "UnsupportedValue".to_owned())
    );
    let stack = &out.stacks[0];
    assert_eq!(answer(stack, 80, "x", "/ok", &[]), "shop-a:80");
    assert_eq!(answer(stack, 80, "x", "/mod", &[]), "fixed 404");
    assert_eq!(answer(stack, 80, "x", "/r1", &[]), "fixed 404");
}

#[test]
fn redirects() {
    struct Case {
        redirect: Value,
        want: Result<&'static str, &'static str>,
    }
    let cases = [
        Case {
            redirect: json!({"scheme": "https"}),
            want: Ok("redirect HTTP_302 https://x.example.com/old?q=1"),
        },
        Case {
            redirect: json!({"scheme": "https", "statusCode": 301}),
            want: Ok("redirect HTTP_301 https://x.example.com/old?q=1"),
        },
        Case {
            redirect: json!({"hostname": "new.example.com", "port": 8080}),
            want: Ok("redirect HTTP_302 http://new.example.com:8080/old?q=1"),
        },
        Case {
            redirect: json!({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}),
            want: Ok("redirect HTTP_302 http://x.example.com/new?q=1"),
        },
        Case {
            redirect: json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}),
            want: Err(
                r#"httproute shop/r: spec.rules[0].filters[0].requestRedirect.path.type has invalid value "ReplacePrefixMatch": expected "ReplaceFullPath" (an ALB redirect cannot replace a matched prefix)"#,
            ),
        },
        Case {
            redirect: json!({"statusCode": 307}),
            want: Err(
                r#"httproute shop/r: spec.rules[0].filters[0].requestRedirect.statusCode has invalid value "307": expected 301 or 302 (the redirect codes an ALB answers with)"#,
            ),
        },
    ];
    for c in cases {
        let o = objects(
            vec![gateway("shop", "edge", json!([http("web", 80)]))],
            vec![route(
                "shop",
                "r",
                json!({
                    "parentRefs": [{"name": "edge"}],
                    "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": c.redirect}]}]
                }),
            )],
        );
        let out = run(&o, &[]);
        match c.want {
            Ok(want) => {
                assert!(out.errors.is_empty(), "{:?}", out.errors);
                assert_eq!(
                    answer(
                        &out.stacks[0],
                        80,
                        "x.example.com",
                        "/old",
                        &[("query", "q=1")]
                    ),
                    want
                );
            }
            Err(e) => assert_eq!(
                out.errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                vec![e]
            ),
        }
    }
}

#[test]
fn listeners_conflicts_protocols_and_certificates() {
    let config_obj: LoadBalancerConfiguration = from(json!({
        "metadata": {"name": "edge-config", "namespace": "shop"},
        "spec": {"scheme": "internet-facing",
                 "listenerConfigurations": [{"protocolPort": "HTTPS:443", "defaultCertificate": "arn:aws:acm:eu-west-1:1:certificate/a", "certificates": ["arn:aws:acm:eu-west-1:1:certificate/b"]}],
                 "tags": {"team": "shop"}}
    }));
    let mut gw = gateway(
        "shop",
        "edge",
        json!([
            {"name": "web", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"},
            {"name": "web2", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"},
            {"name": "web3", "port": 80, "protocol": "HTTP", "hostname": "b.example.com"},
            {"name": "tls", "port": 443, "protocol": "HTTPS"},
            {"name": "bad", "port": 8443, "protocol": "HTTPS"},
            {"name": "mixed", "port": 9000, "protocol": "HTTP"},
            {"name": "mixed2", "port": 9000, "protocol": "HTTPS"},
            {"name": "tcp", "port": 5432, "protocol": "TCP"},
            {"name": "secret", "port": 8444, "protocol": "HTTPS", "hostname": "s.example.com", "tls": {"certificateRefs": [{"name": "s-tls"}]}}
        ]),
    );
    gw.spec.infrastructure = Some(from(
        json!({"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "edge-config"}}),
    ));
    let mut o = objects(vec![gw], vec![]);
    o.load_balancer_configurations.push(config_obj);
    let out = run(&o, &[]);
    let listeners = &out.status.gateways[0].listeners;
    let cond = |name: &str, t: &str| {
        let l = listeners.iter().find(|l| l.name == name).unwrap();
        let c = find(&l.conditions, t).unwrap();
        (c.status, c.reason)
    };
    use ConditionStatus::{False, True, Unknown};
    let table = [
        ("web", "Conflicted", (True, "HostnameConflict")),
        ("web", "Accepted", (False, "HostnameConflict")),
        ("web", "Programmed", (False, "HostnameConflict")),
        ("web2", "Conflicted", (True, "HostnameConflict")),
        ("web3", "Conflicted", (False, "NoConflicts")),
        ("web3", "Programmed", (Unknown, "Pending")),
        ("tls", "ResolvedRefs", (True, "ResolvedRefs")),
        ("bad", "ResolvedRefs", (False, "InvalidCertificateRef")),
        ("bad", "Accepted", (True, "Accepted")),
        ("bad", "Programmed", (False, "Invalid")),
        ("mixed", "Conflicted", (True, "ProtocolConflict")),
        ("mixed2", "Accepted", (False, "ProtocolConflict")),
        ("tcp", "Accepted", (False, "UnsupportedProtocol")),
        ("secret", "ResolvedRefs", (False, "InvalidCertificateRef")),
        ("secret", "Programmed", (False, "Invalid")),
    ];
    for (name, t, want) in table {
        assert_eq!(cond(name, t), want, "{name} {t}");
    }
    let gw_accepted = find(&out.status.gateways[0].conditions, "Accepted").unwrap();
    assert_eq!(
        (gw_accepted.status, gw_accepted.reason),
        (True, "ListenersNotValid")
    );
    let stack = &out.stacks[0];
    assert_eq!(
        stack.listeners.iter().map(|l| l.port).collect::<Vec<_>>(),
        vec![80, 443]
    );
    assert_eq!(
        stack.listeners[1].certificates,
        vec![
            "arn:aws:acm:eu-west-1:1:certificate/a",
            "arn:aws:acm:eu-west-1:1:certificate/b"
        ]
    );
    assert_eq!(
        stack.listeners[1].ssl_policy.as_deref(),
        Some("ELBSecurityPolicy-2016-08")
    );
    assert_eq!(stack.load_balancer.scheme.as_str(), "internet-facing");
    assert_eq!(stack.load_balancer.tags["team"], "shop");
    assert_eq!(
        stack.load_balancer.tags["gateway.k8s.aws.alb/stack"],
        "shop/edge"
    );
    assert_eq!(stack.id.to_string(), "gateway:shop/edge");
    assert!(out.errors.iter().any(|e| e.to_string() == r#"gateway shop/edge: spec.listeners[4].hostname has invalid value "": expected a hostname, on the listener or on a route attached to it, to discover its ACM certificates by (or an ACM certificate ARN in listenerConfigurations[protocolPort=HTTPS:8443].defaultCertificate of the Gateway's LoadBalancerConfiguration)"#), "{:#?}", out.errors);
    assert!(out.errors.iter().any(|e| e.to_string() == r#"gateway shop/edge: spec.listeners[8].tls.certificateRefs has invalid value "s-tls": expected an ACM certificate ARN in listenerConfigurations[protocolPort=HTTPS:8444].defaultCertificate of the Gateway's LoadBalancerConfiguration, or no certificateRefs to have ACM certificates discovered by hostname (an ALB takes no Secret)"#), "{:#?}", out.errors);
    assert!(out.errors.iter().any(|e| e.to_string() == r#"gateway shop/edge: spec.listeners[7].protocol has invalid value "TCP": expected "HTTP" or "HTTPS" on an ALB Gateway (TCP, UDP and TLS listeners need an NLB class, gateway.k8s.aws/nlb)"#), "{:#?}", out.errors);
}

#[test]
fn classes_and_parameters() {
    let mut bad_class = class("alb", ALB_CONTROLLER);
    bad_class.spec.parameters_ref = Some(from(
        json!({"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "missing", "namespace": "infra"}),
    ));
    let o = GatewayObjects {
        classes: vec![bad_class, class("other", "example.com/gateway")],
        gateways: vec![
            gateway("shop", "edge", json!([http("web", 80)])),
            from(
                json!({"metadata": {"name": "theirs", "namespace": "shop"}, "spec": {"gatewayClassName": "other", "listeners": []}}),
            ),
        ],
        http_routes: vec![route(
            "shop",
            "r",
            json!({"parentRefs": [{"name": "edge"}]}),
        )],
        ..Default::default()
    };
    let out = run(&o, &[]);
    assert!(out.stacks.is_empty());
    assert_eq!(out.status.classes.len(), 1, "only our class gets a status");
    let c = &out.status.classes[0].conditions[0];
    assert_eq!(
        (c.status, c.reason),
        (ConditionStatus::False, "InvalidParameters")
    );
    assert_eq!(
        c.message,
        "spec.parametersRef refers to loadbalancerconfiguration infra/missing, which was not found"
    );
    let g = find(&out.status.gateways[0].conditions, "Accepted").unwrap();
    assert_eq!(
        (g.status, g.reason),
        (ConditionStatus::False, "InvalidParameters")
    );
    let r = &out.status.routes[0].parents[0].conditions[0];
    assert_eq!((r.status, r.reason), (ConditionStatus::Unknown, "Pending"));
    assert_eq!(
        r.message,
        "gateway shop/edge is not accepted: gatewayclass alb is not accepted (its parametersRef cannot be used)"
    );
    assert_eq!(
        out.skipped.iter().map(|s| format!("{}: {}", s.object, s.reason)).collect::<Vec<_>>(),
        vec![
            "gateway shop/theirs: gatewayclass other is not a class of ours (gateway.k8s.aws/alb or gateway.k8s.aws/nlb)",
        ]
    );
}

#[test]
fn names_tags_and_programmed_status() {
    let o = objects(
        vec![gateway("shop", "edge", json!([http("web", 80)]))],
        vec![route(
            "shop",
            "r",
            json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        )],
    );
    let mut out = run(&o, &[("shop", "a")]);
    let stack = &out.stacks[0];
    assert_eq!(
        stack.load_balancer.name,
        crate::model::gateway_load_balancer_name("demo", "shop", "edge", "shop/edge", "internal")
    );
    let tg = &stack.target_groups[0];
    assert_eq!(tg.id, "shop/edge:shop-r:HTTPRoute-shop-a:80");
    assert!(tg.name.starts_with("k8s-shop-r-"), "{}", tg.name);
    assert_eq!(tg.targets.len(), 1);
    assert_eq!(tg.tags["gateway.k8s.aws.alb/resource"], tg.id);
    assert_eq!(
        stack.listeners[0].rules[0].tags["gateway.k8s.aws.alb/resource"],
        "80:1"
    );
    assert_eq!(stack.objects, vec!["gateway/shop/edge", "httproute/shop/r"]);
    assert_eq!(
        out.claims["gateway/shop/edge"].to_string(),
        "gateway:shop/edge"
    );
    let gw = &mut out.status.gateways[0];
    assert_eq!(
        find(&gw.conditions, "Programmed").unwrap().status,
        ConditionStatus::Unknown
    );
    assert_eq!(gw.listeners[0].attached_routes, 1);
    gw.programmed("k8s-shop-edge-1.elb.amazonaws.com");
    assert_eq!(gw.addresses, vec!["k8s-shop-edge-1.elb.amazonaws.com"]);
    assert_eq!(
        find(&gw.conditions, "Programmed").unwrap().status,
        ConditionStatus::True
    );
    assert_eq!(
        find(&gw.listeners[0].conditions, "Programmed")
            .unwrap()
            .status,
        ConditionStatus::True
    );
}

#[test]
fn ingress_and_service_output_is_unchanged_by_gateways() {
    let snap = snapshot(&[("shop", "a")]);
    let plain = crate::translate::build(&snap, &ip_config());
    let (with, status) =
        crate::translate::build_with_gateways(&snap, &GatewayObjects::default(), &ip_config());
    assert_eq!(plain.stacks, with.stacks);
    assert_eq!(status, Statuses::default());
}

/// The class's and the Gateway's LoadBalancerConfigurations merge field by field; the class's
/// `mergingMode` says which wins.
#[test]
fn configurations_merge_by_the_class_merging_mode() {
    let conf = |ns: &str, name: &str, spec: Value| -> LoadBalancerConfiguration {
        from(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec}))
    };
    for (mode, want_scheme, want_cert, want_name) in [
        (None, "internal", "arn:class", Some("from-gateway")),
        (
            Some("prefer-gateway-class"),
            "internal",
            "arn:class",
            Some("from-gateway"),
        ),
        (
            Some("prefer-gateway"),
            "internet-facing",
            "arn:gateway",
            Some("from-gateway"),
        ),
    ] {
        let mut class_spec = json!({
            "scheme": "internal",
            "listenerConfigurations": [{"protocolPort": "HTTPS:443", "defaultCertificate": "arn:class"}],
            "tags": {"owner": "platform", "tier": "class"}
        });
        if let Some(m) = mode {
            class_spec["mergingMode"] = json!(m);
        }
        let mut alb = class("alb", ALB_CONTROLLER);
        alb.spec.parameters_ref = Some(from(
            json!({"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "platform", "namespace": "infra"}),
        ));
        let mut gw = gateway(
            "shop",
            "edge",
            json!([{"name": "tls", "port": 443, "protocol": "HTTPS"}]),
        );
        gw.spec.infrastructure = Some(from(
            json!({"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "edge"}}),
        ));
        let o = GatewayObjects {
            classes: vec![alb],
            gateways: vec![gw],
            load_balancer_configurations: vec![
                conf("infra", "platform", class_spec),
                conf(
                    "shop",
                    "edge",
                    json!({
                        "scheme": "internet-facing",
                        "loadBalancerName": "from-gateway",
                        "listenerConfigurations": [{"protocolPort": "HTTPS:443", "defaultCertificate": "arn:gateway"}],
                        "tags": {"tier": "gateway"}
                    }),
                ),
            ],
            ..Default::default()
        };
        let out = run(&o, &[]);
        assert!(out.errors.is_empty(), "{mode:?}: {:?}", out.errors);
        let stack = &out.stacks[0];
        assert_eq!(stack.load_balancer.scheme.as_str(), want_scheme, "{mode:?}");
        assert_eq!(stack.listeners[0].certificates, vec![want_cert], "{mode:?}");
        assert_eq!(
            Some(stack.load_balancer.name.as_str()),
            want_name,
            "{mode:?}"
        );
        assert_eq!(stack.load_balancer.tags["owner"], "platform", "{mode:?}");
        let tier = if mode == Some("prefer-gateway") {
            "gateway"
        } else {
            "class"
        };
        assert_eq!(stack.load_balancer.tags["tier"], tier, "{mode:?}");
    }
}

/// `wafV2.webACL` and `shieldConfiguration.enabled` of the (merged) LoadBalancerConfiguration
/// set an ALB Gateway's web ACL and Shield protection; an empty `webACL` removes the web ACL;
/// without them both are left alone; an NLB Gateway has neither (LBC's NLB add-ons have
/// neither).
#[test]
fn web_acl_and_shield_come_from_the_load_balancer_configuration() {
    use crate::model::WebAcl;
    let class_acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/platform/1";
    let gateway_acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/edge/2";
    let built = |controller: &str, class_spec: Option<Value>, gateway_spec: Value| {
        let mut c = class("cls", controller);
        let mut configs = vec![from::<LoadBalancerConfiguration>(
            json!({"metadata": {"name": "edge", "namespace": "shop"}, "spec": gateway_spec}),
        )];
        if let Some(spec) = class_spec {
            c.spec.parameters_ref = Some(from(
                json!({"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "platform", "namespace": "infra"}),
            ));
            configs.push(from(
                json!({"metadata": {"name": "platform", "namespace": "infra"}, "spec": spec}),
            ));
        }
        let listener = if controller == ALB_CONTROLLER {
            json!([{"name": "web", "port": 80, "protocol": "HTTP"}])
        } else {
            json!([{"name": "tcp", "port": 5432, "protocol": "TCP"}])
        };
        let mut gw = gateway("shop", "edge", listener);
        gw.spec.gateway_class_name = "cls".into();
        gw.spec.infrastructure = Some(from(
            json!({"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "edge"}}),
        ));
        let o = GatewayObjects {
            classes: vec![c],
            gateways: vec![gw],
            load_balancer_configurations: configs,
            ..Default::default()
        };
        run(&o, &[])
    };
    let both = json!({"wafV2": {"webACL": gateway_acl}, "shieldConfiguration": {"enabled": true}});
    let out = built(ALB_CONTROLLER, None, both.clone());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let lb = &out.stacks[0].load_balancer;
    assert_eq!(
        lb.wafv2_web_acl,
        Some(WebAcl::Associate(gateway_acl.into()))
    );
    assert_eq!(lb.shield_advanced_protection, Some(true));

    // The class's configuration wins by default, field by field.
    let out = built(
        ALB_CONTROLLER,
        Some(json!({"wafV2": {"webACL": class_acl}})),
        both.clone(),
    );
    let lb = &out.stacks[0].load_balancer;
    assert_eq!(lb.wafv2_web_acl, Some(WebAcl::Associate(class_acl.into())));
    assert_eq!(lb.shield_advanced_protection, Some(true));

    let out = built(
        ALB_CONTROLLER,
        None,
        json!({"wafV2": {"webACL": ""}, "shieldConfiguration": {"enabled": false}}),
    );
    let lb = &out.stacks[0].load_balancer;
    assert_eq!(lb.wafv2_web_acl, Some(WebAcl::Disassociate));
    assert_eq!(lb.shield_advanced_protection, Some(false));

    let out = built(ALB_CONTROLLER, None, json!({}));
    let lb = &out.stacks[0].load_balancer;
    assert_eq!(
        (&lb.wafv2_web_acl, lb.shield_advanced_protection),
        (&None, None)
    );

    let out = built(NLB_CONTROLLER, None, both);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let lb = &out.stacks[0].load_balancer;
    assert_eq!(
        (&lb.wafv2_web_acl, lb.shield_advanced_protection),
        (&None, None)
    );

    let out = built(
        ALB_CONTROLLER,
        None,
        json!({"wafV2": {"webACL": "edge-acl"}}),
    );
    let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            r#"gateway shop/edge: loadbalancerconfiguration spec.wafV2.webACL has invalid value "edge-acl": expected a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or "" to remove the load balancer's web ACL"#
        ]
    );
}

/// HTTPRoute `URLRewrite` becomes ALB rule transforms: the hostname a host-header rewrite,
/// `ReplaceFullPath` and `ReplacePrefixMatch` URL rewrites whose regular expressions rewrite
/// the specification's examples as it says (checked here with a regex engine applying them to
/// path and query, as an ALB does); what they cannot express is refused with the reason.
#[test]
fn url_rewrite_filters_become_rule_transforms() {
    use crate::model::TransformSpec;
    let built = |matches: Value, rewrite: Value| {
        let o = objects(
            vec![gateway("shop", "edge", json!([http("web", 80)]))],
            vec![route(
                "shop",
                "r",
                json!({
                    "parentRefs": [{"name": "edge"}],
                    "rules": [{"matches": matches,
                               "filters": [{"type": "URLRewrite", "urlRewrite": rewrite}],
                               "backendRefs": [{"name": "web", "port": 80}]}]
                }),
            )],
        );
        run(&o, &[("shop", "web")])
    };
    // Applies the URL rewrite of `t` to `url` as an ALB does (no match: unchanged).
    let apply = |t: &[TransformSpec], url: &str| -> String {
        let Some(TransformSpec::UrlRewrite { rewrites }) = t
            .iter()
            .find(|t| matches!(t, TransformSpec::UrlRewrite { .. }))
        else {
            return url.to_owned();
        };
        let re = regex_lite::Regex::new(&rewrites[0].regex).unwrap();
        re.replace(url, rewrites[0].replace.as_str()).into_owned()
    };
    let prefix = |p: &str| json!([{"path": {"type": "PathPrefix", "value": p}}]);
    let rules_of = |out: &GatewayOutput| -> Vec<Vec<TransformSpec>> {
        out.stacks[0].listeners[0]
            .rules
            .iter()
            .filter(|r| !r.transforms.is_empty())
            .map(|r| r.transforms.clone())
            .collect()
    };

    // The specification's ReplacePrefixMatch examples, plus the query string kept.
    for (from, to, cases) in [
        (
            "/foo",
            "/xyz",
            &[
                ("/foo", "/xyz"),
                ("/foo/", "/xyz/"),
                ("/foo/bar", "/xyz/bar"),
                ("/foo/bar?q=1", "/xyz/bar?q=1"),
                ("/foo?q=1", "/xyz?q=1"),
            ][..],
        ),
        (
            "/foo/",
            "/xyz",
            &[("/foo/bar", "/xyz/bar"), ("/foo", "/xyz")][..],
        ),
        (
            "/foo",
            "/xyz/",
            &[("/foo/bar", "/xyz/bar"), ("/foo", "/xyz")][..],
        ),
        (
            "/foo",
            "/",
            &[
                ("/foo", "/"),
                ("/foo/", "/"),
                ("/foo/bar", "/bar"),
                ("/foo/bar?q=1", "/bar?q=1"),
            ][..],
        ),
        (
            "/a.b",
            "/c",
            &[("/a.b/x", "/c/x"), ("/axb/x", "/axb/x")][..],
        ),
    ] {
        let out = built(
            prefix(from),
            json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": to}}),
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let rules = rules_of(&out);
        assert_eq!(rules.len(), 1, "{from} -> {to}");
        for (request, want) in cases {
            assert_eq!(
                apply(&rules[0], request),
                *want,
                "{from} -> {to}: {request}"
            );
        }
    }

    let out = built(
        prefix("/old"),
        json!({"hostname": "internal.example.com", "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}),
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let rules = rules_of(&out);
    assert_eq!(rules.len(), 1);
    assert!(rules[0].contains(&TransformSpec::HostHeaderRewrite {
        rewrites: vec![crate::model::RewriteSpec {
            regex: "^.*$".into(),
            replace: "internal.example.com".into()
        }]
    }));
    assert_eq!(apply(&rules[0], "/old/x?q=1"), "/new?q=1");

    for (matches, rewrite, want) in [
        (
            json!([{"path": {"type": "Exact", "value": "/a"}}]),
            json!({"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}),
            r#"httproute shop/r: spec.rules[0].filters[0].urlRewrite.path.type has invalid value "ReplacePrefixMatch": expected ReplaceFullPath, or ReplacePrefixMatch on a rule whose matches are all PathPrefix (the specification allows it with PathPrefix only)"#,
        ),
        (
            prefix("/a"),
            json!({"path": {"type": "ReplaceFullPath", "replaceFullPath": "/$1"}}),
            r##"httproute shop/r: spec.rules[0].filters[0].urlRewrite.path.replaceFullPath has invalid value "/$1": expected a path starting with "/", without "$", "\", "?" or "#" (an ALB URL rewrite takes it as its replacement)"##,
        ),
        (
            prefix("/a"),
            json!({"hostname": "a b"}),
            r#"httproute shop/r: spec.rules[0].filters[0].urlRewrite.hostname has invalid value "a b": expected a hostname"#,
        ),
    ] {
        let out = built(matches, rewrite);
        let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, [want]);
    }
}

fn grpc_route(ns: &str, name: &str, created: &str, spec: Value) -> GrpcRoute {
    from(
        json!({"metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": spec}),
    )
}

/// A Gateway with an HTTPS listener (certificate from its LoadBalancerConfiguration) on 443
/// and an HTTP listener on 80.
fn grpc_objects(routes: Vec<GrpcRoute>) -> GatewayObjects {
    let mut gw = gateway(
        "shop",
        "edge",
        json!([
            {"name": "tls", "port": 443, "protocol": "HTTPS"},
            {"name": "web", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": []}},
            {"name": "grpc-on-http", "port": 8080, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"kind": "GRPCRoute"}]}}
        ]),
    );
    gw.spec.infrastructure = Some(from(
        json!({"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "c"}}),
    ));
    let mut o = objects(vec![gw], vec![]);
    o.load_balancer_configurations.push(from(json!({
        "metadata": {"name": "c", "namespace": "shop"},
        "spec": {"listenerConfigurations": [{"protocolPort": "HTTPS:443", "defaultCertificate": "arn:aws:acm:eu-west-1:1:certificate/a"}]}
    })));
    o.grpc_routes = routes;
    o
}

#[test]
fn grpc_routes_match_service_method_and_headers_with_the_grpc_precedence() {
    let m = |service: Option<&str>, method: Option<&str>| {
        let mut v = json!({});
        if let Some(s) = service {
            v["service"] = json!(s);
        }
        if let Some(x) = method {
            v["method"] = json!(x);
        }
        v
    };
    let routes = vec![
        grpc_route(
            "shop",
            "cart",
            "2025-01-01T00:00:00Z",
            json!({
                "parentRefs": [{"name": "edge", "sectionName": "tls"}],
                "rules": [
                    {"matches": [{"method": m(Some("shop.Cart"), None)}], "backendRefs": [{"name": "cart", "port": 80}]},
                    {"matches": [{"method": m(Some("shop.Cart"), Some("Add"))}], "backendRefs": [{"name": "add", "port": 80}]},
                    {"matches": [{"method": m(None, Some("Health"))}], "backendRefs": [{"name": "health", "port": 80}]},
                    {"matches": [{"method": m(Some("shop.Cart"), None), "headers": [{"name": "x-tenant", "value": "a"}]}],
                     "backendRefs": [{"name": "tenant", "port": 80, "weight": 3}, {"name": "cart", "port": 80, "weight": 1}]}
                ]
            }),
        ),
        // Newer, catch-all: answers what the others do not.
        grpc_route(
            "shop",
            "rest",
            "2025-02-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge", "sectionName": "tls"}], "rules": [{"backendRefs": [{"name": "rest", "port": 80}]}]}),
        ),
        // Same service match as cart's first rule, newer: never reached.
        grpc_route(
            "other",
            "copy",
            "2025-03-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge", "namespace": "shop", "sectionName": "tls"}],
                   "rules": [{"matches": [{"method": m(Some("shop.Cart"), None)}], "backendRefs": [{"name": "copy", "port": 80}]}]}),
        ),
    ];
    let mut reversed = routes.clone();
    reversed.reverse();
    for routes in [routes, reversed] {
        let mut o = grpc_objects(routes);
        if let Some(l) = o.gateways[0].spec.listeners.get_mut(0) {
            l.allowed_routes = Some(from(json!({"namespaces": {"from": "All"}})));
        }
        let out = run(
            &o,
            &[
                ("shop", "cart"),
                ("shop", "add"),
                ("shop", "health"),
                ("shop", "tenant"),
                ("shop", "rest"),
                ("other", "copy"),
            ],
        );
        // Only the HTTP listener that asks for GRPCRoutes is wrong.
        assert_eq!(
            out.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                r#"gateway shop/edge: spec.listeners[2].allowedRoutes.kinds has invalid value "gateway.networking.k8s.io/GRPCRoute": expected gateway.networking.k8s.io/HTTPRoute (the route kind of an ALB HTTP listener; GRPCRoutes need HTTPS, as ALB's gRPC target groups do)"#
            ]
        );
        let stack = &out.stacks[0];
        let table = [
            ("/shop.Cart/Add", vec![], "shop-add:80"),
            ("/shop.Cart/Remove", vec![], "shop-cart:80"),
            // The longer service wins before the method (the GRPCRoute precedence).
            ("/shop.Cart/Health", vec![], "shop-cart:80"),
            ("/other.Svc/Health", vec![], "shop-health:80"),
            // Same service, more header matches first.
            (
                "/shop.Cart/Remove",
                vec![("x-tenant", "a")],
                "shop-tenant:80*3 shop-cart:80*1",
            ),
            ("/shop.Cart/Add", vec![("x-tenant", "a")], "shop-add:80"),
            ("/shop.Cartx/Remove", vec![], "shop-rest:80"),
            ("/a.B/C", vec![], "shop-rest:80"),
        ];
        for (path, headers, want) in table {
            assert_eq!(
                answer(stack, 443, "grpc.example.com", path, &headers),
                want,
                "{path} {headers:?}"
            );
        }
        let listener = stack.listeners.iter().find(|l| l.port == 443).unwrap();
        let patterns: Vec<String> = listener
            .rules
            .iter()
            .flat_map(|r| r.conditions.iter())
            .filter_map(|c| match c {
                crate::model::ConditionSpec::PathPattern { values } => Some(values.join(",")),
                _ => None,
            })
            .collect();
        assert_eq!(
            patterns,
            vec![
                "/shop.Cart/Add",
                "/shop.Cart/*",
                "/shop.Cart/*",
                "/shop.Cart/*",
                "/*/Health",
                "/*"
            ]
        );
        let tg = stack
            .target_groups
            .iter()
            .find(|t| t.id == "shop/edge:shop-cart:GRPCRoute-shop-cart:80")
            .unwrap();
        assert_eq!(
            tg.protocol_version,
            Some(crate::model::ProtocolVersion::Grpc)
        );
        assert_eq!(tg.health_check.path, "/AWS.ALB/healthcheck");
        assert_eq!(tg.health_check.matcher.grpc_code.as_deref(), Some("12"));
        assert_eq!(tg.health_check.matcher.http_code, None);
        assert!(tg.name.starts_with("k8s-shop-cart-"), "{}", tg.name);
        assert!(
            stack.objects.contains(&"grpcroute/shop/cart".to_owned()),
            "{:?}",
            stack.objects
        );
        let r = out.status.routes.iter().find(|r| r.name == "cart").unwrap();
        assert_eq!(r.kind, "GRPCRoute");
        assert_eq!(
            parent_condition(&out.status, "shop/cart", "Accepted"),
            (ConditionStatus::True, "Accepted".to_owned())
        );
        let tls = &out.status.gateways[0].listeners[0];
        assert_eq!(
            tls.supported_kinds,
            vec![
                "gateway.networking.k8s.io/HTTPRoute",
                "gateway.networking.k8s.io/GRPCRoute"
            ]
        );
        assert_eq!(tls.attached_routes, 3);
        assert_eq!(
            out.status.gateways[0].listeners[1].supported_kinds,
            vec!["gateway.networking.k8s.io/HTTPRoute"]
        );
    }
}

#[test]
fn grpc_routes_attachment_and_unsupported_values() {
    let routes = vec![
        grpc_route(
            "shop",
            "on-http",
            "2025-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge", "sectionName": "web"}], "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        ),
        grpc_route(
            "shop",
            "partly",
            "2025-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge", "sectionName": "tls"}], "rules": [
                {"matches": [{"method": {"service": "ok.Svc"}}], "backendRefs": [{"name": "a", "port": 80}]},
                {"matches": [{"method": {"type": "RegularExpression", "service": "re.*"}}], "backendRefs": [{"name": "a", "port": 80}]},
                {"matches": [{"headers": [{"type": "RegularExpression", "name": "x", "value": "a.*"}]}], "backendRefs": [{"name": "a", "port": 80}]},
                {"filters": [{"type": "RequestHeaderModifier"}], "backendRefs": [{"name": "a", "port": 80}]},
                {"matches": [{"method": {"service": "missing.Svc"}}], "backendRefs": [{"name": "missing", "port": 80}]}
            ]}),
        ),
        grpc_route(
            "other",
            "cross",
            "2025-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge", "namespace": "shop", "sectionName": "tls"}],
                   "rules": [{"backendRefs": [{"name": "a", "namespace": "shop", "port": 80}]}]}),
        ),
    ];
    let mut o = grpc_objects(routes);
    o.gateways[0].spec.listeners[0].allowed_routes =
        Some(from(json!({"namespaces": {"from": "All"}})));
    let out = run(&o, &[("shop", "a")]);
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            r#"gateway shop/edge: spec.listeners[2].allowedRoutes.kinds has invalid value "gateway.networking.k8s.io/GRPCRoute": expected gateway.networking.k8s.io/HTTPRoute (the route kind of an ALB HTTP listener; GRPCRoutes need HTTPS, as ALB's gRPC target groups do)"#,
            r#"grpcroute other/cross: spec.rules[0].backendRefs[0].namespace has invalid value "shop": expected the route's namespace other, or a ReferenceGrant in namespace shop from GRPCRoutes of namespace other to Service a"#,
            r#"grpcroute shop/on-http: spec.parentRefs[0] has invalid value "shop/edge": expected a gateway with an accepted listener whose allowedRoutes admit GRPCRoutes from namespace shop"#,
            r#"grpcroute shop/partly: spec.rules[1].matches[0].method.type has invalid value "RegularExpression": expected "Exact" (an ALB path pattern has wildcards, not regular expressions)"#,
            r#"grpcroute shop/partly: spec.rules[2].matches[0].headers[0].type has invalid value "RegularExpression": expected "Exact" (RegularExpression is not translated yet)"#,
            r#"grpcroute shop/partly: spec.rules[3].filters[0].type has invalid value "RequestHeaderModifier": expected no filter (an ALB rule expresses none of a GRPCRoute's filters)"#,
            "grpcroute shop/partly: spec.rules[4].backendRefs[0] refers to service shop/missing, which was not found",
        ]
    );
    use ConditionStatus::{False, True};
    let table = [
        ("shop/on-http", "Accepted", (False, "NotAllowedByListeners")),
        ("shop/partly", "Accepted", (True, "Accepted")),
        (
            "shop/partly",
            "PartiallyInvalid",
            (True, "UnsupportedValue"),
        ),
        ("shop/partly", "ResolvedRefs", (False, "BackendNotFound")),
        ("other/cross", "ResolvedRefs", (False, "RefNotPermitted")),
    ];
    for (route, t, (status, reason)) in table {
        assert_eq!(
            parent_condition(&out.status, route, t),
            (status, reason.to_owned()),
            "{route} {t}"
        );
    }
    let stack = &out.stacks[0];
    assert_eq!(answer(stack, 443, "h", "/ok.Svc/M", &[]), "shop-a:80");
    assert_eq!(answer(stack, 443, "h", "/missing.Svc/M", &[]), "fixed 500");
    assert_eq!(answer(stack, 443, "h", "/re.x/M", &[]), "fixed 500");
    // A ReferenceGrant from GRPCRoutes (not HTTPRoutes) lets the cross-namespace backend in.
    o.reference_grants.push(from(json!({
        "metadata": {"name": "g", "namespace": "shop"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "namespace": "other"}],
                 "to": [{"group": "", "kind": "Service"}]}
    })));
    let out = run(&o, &[("shop", "a")]);
    assert_eq!(
        parent_condition(&out.status, "other/cross", "ResolvedRefs"),
        (True, "ResolvedRefs".to_owned())
    );
}

fn l4_route(ns: &str, name: &str, created: &str, spec: Value) -> L4Route {
    from(
        json!({"metadata": {"name": name, "namespace": ns, "creationTimestamp": created}, "spec": spec}),
    )
}

fn nlb_objects(tcp: Vec<L4Route>, udp: Vec<L4Route>, tls: Vec<L4Route>) -> GatewayObjects {
    let all = json!({"namespaces": {"from": "All"}});
    let mut gw: Gateway = from(json!({
        "metadata": {"name": "nlb", "namespace": "shop"},
        "spec": {"gatewayClassName": "nlb",
                 "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "c"}},
                 "listeners": [
            {"name": "db", "port": 5432, "protocol": "TCP", "allowedRoutes": all},
            // An empty kinds list means the protocol's kinds (the specification).
            {"name": "dns", "port": 53, "protocol": "UDP", "allowedRoutes": {"kinds": []}},
            {"name": "tls", "port": 443, "protocol": "TLS", "tls": {"mode": "Terminate"}},
            {"name": "pass", "port": 8443, "protocol": "TLS", "tls": {"mode": "Passthrough"}},
            {"name": "web", "port": 80, "protocol": "HTTP"},
            {"name": "mixed-tcp", "port": 6000, "protocol": "TCP"},
            {"name": "mixed-udp", "port": 6000, "protocol": "UDP"},
            {"name": "nocert", "port": 9443, "protocol": "TLS"},
            {"name": "extra", "port": 7000, "protocol": "TCP"},
            {"name": "idle", "port": 7001, "protocol": "TCP", "allowedRoutes": {"kinds": [{"kind": "TCPRoute"}, {"kind": "HTTPRoute"}]}}
        ]}
    }));
    gw.metadata.uid = Some("uid-1".into());
    GatewayObjects {
        classes: vec![class("nlb", NLB_CONTROLLER)],
        gateways: vec![gw],
        tcp_routes: tcp,
        udp_routes: udp,
        tls_routes: tls,
        load_balancer_configurations: vec![from(json!({
            "metadata": {"name": "c", "namespace": "shop"},
            "spec": {"scheme": "internet-facing",
                     "listenerConfigurations": [{"protocolPort": "TLS:443", "defaultCertificate": "arn:aws:acm:eu-west-1:1:certificate/t", "alpnPolicy": "HTTP2Preferred"}]}
        }))],
        ..Default::default()
    }
}

#[test]
fn nlb_gateways_tcp_udp_and_tls_routes() {
    let backend = |name: &str| json!([{"backendRefs": [{"name": name, "port": 80}]}]);
    let tcp = vec![
        l4_route(
            "other",
            "db-new",
            "2025-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "namespace": "shop", "sectionName": "db"}], "rules": backend("pg")}),
        ),
        l4_route(
            "shop",
            "db-old",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "db"}], "rules": backend("pg")}),
        ),
        l4_route(
            "shop",
            "two",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "extra"}],
                   "rules": [{"backendRefs": [{"name": "pg", "port": 80}, {"name": "dns", "port": 80}]}]}),
        ),
        l4_route(
            "shop",
            "on-dns",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "dns"}], "rules": backend("pg")}),
        ),
    ];
    // Two parentRefs naming the same listener: counted once.
    let udp = vec![l4_route(
        "shop",
        "dns",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "port": 53}, {"name": "nlb", "sectionName": "dns"}], "rules": backend("dns")}),
    )];
    let tls = vec![
        l4_route(
            "shop",
            "site",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "tls"}], "hostnames": ["site.example.com"], "rules": backend("web")}),
        ),
        l4_route(
            "shop",
            "passthru",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "pass"}], "rules": backend("web")}),
        ),
    ];
    let services = [("shop", "pg"), ("shop", "dns"), ("shop", "web")];
    let mut reversed = nlb_objects(tcp.clone(), udp.clone(), tls.clone());
    reversed.tcp_routes.reverse();
    reversed.tls_routes.reverse();
    for o in [nlb_objects(tcp, udp, tls), reversed] {
        let out = run(&o, &services);
        assert_eq!(
            out.errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                r#"gateway shop/nlb: spec.listeners[4].protocol has invalid value "HTTP": expected "TCP", "UDP" or "TLS" on an NLB Gateway (HTTP and HTTPS listeners need an ALB class, gateway.k8s.aws/alb)"#,
                r#"gateway shop/nlb: spec.listeners[5].protocol has invalid value "TCP": expected the protocol of listener "mixed-udp" (spec.listeners[6]) on port 6000: one port has one protocol (TCP and UDP are not merged into TCP_UDP yet)"#,
                r#"gateway shop/nlb: spec.listeners[6].protocol has invalid value "UDP": expected the protocol of listener "mixed-tcp" (spec.listeners[5]) on port 6000: one port has one protocol (TCP and UDP are not merged into TCP_UDP yet)"#,
                r#"gateway shop/nlb: spec.listeners[7].tls.certificateRefs has invalid value "": expected an ACM certificate ARN in listenerConfigurations[protocolPort=TLS:9443].defaultCertificate of the Gateway's LoadBalancerConfiguration (an NLB takes no Secret), or tls.mode Passthrough"#,
                r#"gateway shop/nlb: spec.listeners[9].allowedRoutes.kinds has invalid value "gateway.networking.k8s.io/HTTPRoute": expected gateway.networking.k8s.io/TCPRoute (the route kinds of an NLB TCP listener)"#,
                r#"tcproute shop/on-dns: spec.parentRefs[0] has invalid value "shop/nlb": expected a gateway with an accepted listener whose allowedRoutes admit TCPRoutes from namespace shop"#,
                r#"tcproute other/db-new: spec.parentRefs[0] has invalid value "shop/nlb": expected a listener no other route holds: listener "db" takes one route and TCPRoute shop/db-old holds it (the oldest, then the first by namespace/name)"#,
                r#"tcproute shop/two: spec.rules has invalid value "2 backends": expected exactly one backend with a weight above 0 (an NLB listener forwards to one target group)"#,
            ]
        );
        let stack = &out.stacks[0];
        assert_eq!(stack.id.to_string(), "nlb-gateway:shop/nlb");
        assert_eq!(
            stack.load_balancer.lb_type,
            crate::model::LoadBalancerType::Network
        );
        assert_eq!(stack.load_balancer.scheme.as_str(), "internet-facing");
        assert!(
            stack.load_balancer.name.starts_with("k8s-shop-nlb-"),
            "{}",
            stack.load_balancer.name
        );
        assert_eq!(
            stack.load_balancer.tags["gateway.k8s.aws.nlb/stack"],
            "shop/nlb"
        );
        assert_eq!(
            stack.load_balancer.tags["gateway.k8s.aws.nlb/resource"],
            "LoadBalancer"
        );
        let listeners: Vec<(u16, &str, Vec<&str>, Vec<String>)> = stack
            .listeners
            .iter()
            .map(|l| {
                let tgs = match &l.default_actions[..] {
                    [ActionSpec::Forward { target_groups, .. }] => target_groups
                        .iter()
                        .map(|t| t.id.as_deref().unwrap())
                        .collect(),
                    other => panic!("{other:?}"),
                };
                (l.port, l.protocol.as_str(), tgs, l.certificates.clone())
            })
            .collect();
        assert_eq!(
            listeners,
            vec![
                (
                    53,
                    "UDP",
                    vec!["shop/nlb:shop-dns:UDPRoute-shop-dns:80"],
                    vec![]
                ),
                (
                    443,
                    "TLS",
                    vec!["shop/nlb:shop-site:TLSRoute-shop-web:80"],
                    vec!["arn:aws:acm:eu-west-1:1:certificate/t".to_owned()]
                ),
                (
                    5432,
                    "TCP",
                    vec!["shop/nlb:shop-db-old:TCPRoute-shop-pg:80"],
                    vec![]
                ),
                (
                    8443,
                    "TCP",
                    vec!["shop/nlb:shop-passthru:TLSRoute-shop-web:80"],
                    vec![]
                ),
            ]
        );
        assert_eq!(
            stack.listeners[1].ssl_policy.as_deref(),
            Some("ELBSecurityPolicy-2016-08")
        );
        assert_eq!(
            stack.listeners[1].alpn_policy.as_deref(),
            Some("HTTP2Preferred")
        );
        assert_eq!(stack.listeners[0].alpn_policy, None);
        assert!(stack.listeners.iter().all(|l| l.rules.is_empty()));
        let tgs: Vec<(&str, &str, Option<crate::model::ProtocolVersion>, &str, u16)> = stack
            .target_groups
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.protocol.as_str(),
                    t.protocol_version,
                    t.health_check.protocol.as_str(),
                    t.port,
                )
            })
            .collect();
        assert_eq!(
            tgs,
            vec![
                (
                    "shop/nlb:shop-db-old:TCPRoute-shop-pg:80",
                    "TCP",
                    None,
                    "TCP",
                    8080
                ),
                (
                    "shop/nlb:shop-dns:UDPRoute-shop-dns:80",
                    "UDP",
                    None,
                    "TCP",
                    8080
                ),
                (
                    "shop/nlb:shop-passthru:TLSRoute-shop-web:80",
                    "TCP",
                    None,
                    "TCP",
                    8080
                ),
                (
                    "shop/nlb:shop-site:TLSRoute-shop-web:80",
                    "TCP",
                    None,
                    "TCP",
                    8080
                ),
            ]
        );
        assert!(stack
            .target_groups
            .iter()
            .all(|t| t.health_check.path.is_empty()
                && t.health_check.matcher.http_code.is_none()
                && t.tags["gateway.k8s.aws.nlb/stack"] == "shop/nlb"));
        assert!(
            stack.target_groups[0].name.starts_with("k8s-shop-dbold-"),
            "{}",
            stack.target_groups[0].name
        );
        assert_eq!(
            stack.objects,
            vec![
                "gateway/shop/nlb",
                "tcproute/shop/db-old",
                "tlsroute/shop/passthru",
                "tlsroute/shop/site",
                "udproute/shop/dns"
            ]
        );
        use ConditionStatus::{False, True, Unknown};
        let table = [
            ("shop/db-old", "Accepted", (True, "Accepted")),
            ("other/db-new", "Accepted", (False, "NotAllowedByListeners")),
            ("shop/dns", "Accepted", (True, "Accepted")),
            ("shop/site", "Accepted", (True, "Accepted")),
            ("shop/passthru", "Accepted", (True, "Accepted")),
            ("shop/two", "Accepted", (False, "UnsupportedValue")),
            ("shop/on-dns", "Accepted", (False, "NotAllowedByListeners")),
        ];
        for (route, t, (status, reason)) in table {
            assert_eq!(
                parent_condition(&out.status, route, t),
                (status, reason.to_owned()),
                "{route} {t}"
            );
        }
        let dns = out.status.routes.iter().find(|r| r.name == "dns").unwrap();
        assert_eq!(
            (dns.kind, dns.parents[0].controller_name.as_str()),
            ("UDPRoute", "gateway.k8s.aws/nlb")
        );
        let gw = &out.status.gateways[0];
        let cond = |name: &str, t: &str| {
            let l = gw.listeners.iter().find(|l| l.name == name).unwrap();
            let c = find(&l.conditions, t).unwrap();
            (c.status, c.reason, l.attached_routes)
        };
        let table = [
            ("db", "Programmed", (Unknown, "Pending", 1)),
            ("dns", "Programmed", (Unknown, "Pending", 1)),
            ("tls", "Programmed", (Unknown, "Pending", 1)),
            ("web", "Accepted", (False, "UnsupportedProtocol", 0)),
            ("mixed-tcp", "Conflicted", (True, "ProtocolConflict", 0)),
            ("mixed-udp", "Accepted", (False, "ProtocolConflict", 0)),
            (
                "nocert",
                "ResolvedRefs",
                (False, "InvalidCertificateRef", 0),
            ),
            ("extra", "Programmed", (False, "Invalid", 0)),
            ("idle", "ResolvedRefs", (False, "InvalidRouteKinds", 0)),
            ("idle", "Programmed", (False, "Invalid", 0)),
        ];
        for (name, t, want) in table {
            assert_eq!(cond(name, t), want, "{name} {t}");
        }
        let extra = gw.listeners.iter().find(|l| l.name == "extra").unwrap();
        assert_eq!(
            find(&extra.conditions, "Programmed").unwrap().message,
            r#"TCPRoute shop/two cannot be served: spec.rules has invalid value "2 backends": expected exactly one backend with a weight above 0 (an NLB listener forwards to one target group)"#
        );
        let idle = gw.listeners.iter().find(|l| l.name == "idle").unwrap();
        assert_eq!(
            idle.supported_kinds,
            vec!["gateway.networking.k8s.io/TCPRoute"]
        );
        assert_eq!(
            find(&idle.conditions, "Programmed").unwrap().message,
            "no route is attached: an NLB listener forwards to the backend of one route"
        );
        let tls_kinds = &gw
            .listeners
            .iter()
            .find(|l| l.name == "tls")
            .unwrap()
            .supported_kinds;
        assert_eq!(
            tls_kinds,
            &vec![
                "gateway.networking.k8s.io/TLSRoute",
                "gateway.networking.k8s.io/TCPRoute"
            ]
        );
        let accepted = find(&gw.conditions, "Accepted").unwrap();
        assert_eq!(
            (accepted.status, accepted.reason),
            (True, "ListenersNotValid")
        );
    }
}

#[test]
fn nlb_listener_backend_problems_and_tls_hostnames() {
    let tls = vec![l4_route(
        "shop",
        "other-host",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "sectionName": "tls"}], "hostnames": ["a.example.com"],
                   "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}),
    )];
    let tcp = vec![
        l4_route(
            "shop",
            "missing",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "db"}], "rules": [{"backendRefs": [{"name": "nowhere", "port": 80}]}]}),
        ),
        // Weight 0 backends do not count: one backend left.
        l4_route(
            "shop",
            "weighted",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb", "sectionName": "extra"}],
                   "rules": [{"backendRefs": [{"name": "web", "port": 80}, {"name": "nowhere", "port": 80, "weight": 0}]}]}),
        ),
    ];
    let mut o = nlb_objects(tcp, vec![], tls);
    o.gateways[0].spec.listeners[2].hostname = Some("b.example.com".into());
    let out = run(&o, &[("shop", "web")]);
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    for want in [
        r#"tlsroute shop/other-host: spec.parentRefs[0] has invalid value "shop/nlb": expected a gateway listener whose hostname intersects the route's hostnames ["a.example.com"]"#,
        "tcproute shop/missing: spec.rules[0].backendRefs[0] refers to service shop/nowhere, which was not found",
    ] {
        assert!(messages.iter().any(|m| m == want), "{want}\n{messages:#?}");
    }
    use ConditionStatus::{False, True};
    assert_eq!(
        parent_condition(&out.status, "shop/other-host", "Accepted"),
        (False, "NoMatchingListenerHostname".to_owned())
    );
    assert_eq!(
        parent_condition(&out.status, "shop/missing", "Accepted"),
        (True, "Accepted".to_owned())
    );
    assert_eq!(
        parent_condition(&out.status, "shop/missing", "ResolvedRefs"),
        (False, "BackendNotFound".to_owned())
    );
    let db = out.status.gateways[0]
        .listeners
        .iter()
        .find(|l| l.name == "db")
        .unwrap();
    assert_eq!(
        find(&db.conditions, "Programmed").unwrap().message,
        "the backend of TCPRoute shop/missing cannot be used: spec.rules[0].backendRefs[0] refers to service shop/nowhere, which was not found"
    );
    let ports: Vec<u16> = out.stacks[0].listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![7000]);
}

#[test]
fn nlb_listeners_sharing_a_port_and_protocol_conflict() {
    let mut o = nlb_objects(vec![], vec![], vec![]);
    o.gateways[0].spec.listeners = from(json!([
        {"name": "a", "port": 7100, "protocol": "TCP", "hostname": "a.example.com"},
        {"name": "b", "port": 7100, "protocol": "TCP", "hostname": "b.example.com"},
        {"name": "c", "port": 7200, "protocol": "TCP"},
        {"name": "t", "port": 443, "protocol": "TLS"}
    ]));
    o.load_balancer_configurations[0]
        .spec
        .listener_configurations = Some(from(json!([
        {"protocolPort": "TLS:443", "defaultCertificate": "arn:aws:acm:eu-west-1:1:certificate/t", "alpnPolicy": "h2"}
    ])));
    let out = run(&o, &[]);
    assert_eq!(
        out.errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            r#"gateway shop/nlb: spec.listeners[0].port has invalid value "7100": expected a port other than that of listener "b" (spec.listeners[1]): an NLB listener cannot tell hostnames apart"#,
            r#"gateway shop/nlb: spec.listeners[1].port has invalid value "7100": expected a port other than that of listener "a" (spec.listeners[0]): an NLB listener cannot tell hostnames apart"#,
            r#"gateway shop/nlb: loadbalancerconfiguration spec.listenerConfigurations[protocolPort=TLS:443].alpnPolicy has invalid value "h2": expected one of None, HTTP1Only, HTTP2Only, HTTP2Optional, HTTP2Preferred"#,
        ]
    );
    let gw = &out.status.gateways[0];
    let c = find(&gw.listeners[0].conditions, "Conflicted").unwrap();
    assert_eq!(
        (c.status, c.reason),
        (ConditionStatus::True, "HostnameConflict")
    );
    let c = find(&gw.listeners[2].conditions, "Conflicted").unwrap();
    assert_eq!(
        (c.status, c.reason),
        (ConditionStatus::False, "NoConflicts")
    );
    let c = find(&gw.listeners[3].conditions, "Accepted").unwrap();
    assert_eq!(
        (c.status, c.reason),
        (ConditionStatus::False, "UnsupportedValue")
    );
    // The NLB exists with no listener until a route holds one.
    assert!(out.stacks[0].listeners.is_empty());
    assert_eq!(
        find(&gw.conditions, "Programmed").unwrap().status,
        ConditionStatus::Unknown
    );
}

#[test]
fn routes_of_the_other_load_balancer_type_are_not_allowed_by_listeners() {
    // A TCPRoute on an ALB Gateway, an HTTPRoute on an NLB Gateway.
    let mut o = nlb_objects(
        vec![l4_route(
            "shop",
            "tcp-on-alb",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}),
        )],
        vec![],
        vec![],
    );
    o.classes.push(class("alb", ALB_CONTROLLER));
    o.gateways
        .push(gateway("shop", "edge", json!([http("web", 80)])));
    o.http_routes.push(route("shop", "http-on-nlb", json!({"parentRefs": [{"name": "nlb"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]})));
    let out = run(&o, &[("shop", "web")]);
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    for want in [
        r#"tcproute shop/tcp-on-alb: spec.parentRefs[0] has invalid value "shop/edge": expected a gateway with an accepted listener whose allowedRoutes admit TCPRoutes from namespace shop"#,
        r#"httproute shop/http-on-nlb: spec.parentRefs[0] has invalid value "shop/nlb": expected a gateway with an accepted listener whose allowedRoutes admit HTTPRoutes from namespace shop"#,
    ] {
        assert!(messages.iter().any(|m| m == want), "{want}\n{messages:#?}");
    }
    for (route, controller) in [
        ("tcp-on-alb", ALB_CONTROLLER),
        ("http-on-nlb", NLB_CONTROLLER),
    ] {
        let r = out.status.routes.iter().find(|r| r.name == route).unwrap();
        assert_eq!(r.parents[0].controller_name, controller);
        let c = find(&r.parents[0].conditions, "Accepted").unwrap();
        assert_eq!(
            (c.status, c.reason),
            (ConditionStatus::False, "NotAllowedByListeners"),
            "{route}"
        );
    }
    assert_eq!(out.stacks.len(), 2);
    assert!(out
        .stacks
        .iter()
        .all(|s| s.objects.iter().all(|o| !o.contains("-on-"))));
}

#[test]
fn an_nlb_gateway_with_unusable_parameters_leaves_its_routes_pending() {
    let mut o = nlb_objects(
        vec![l4_route(
            "shop",
            "db",
            "2024-01-01T00:00:00Z",
            json!({"parentRefs": [{"name": "nlb"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}),
        )],
        vec![],
        vec![],
    );
    o.load_balancer_configurations.clear();
    let out = run(&o, &[("shop", "web")]);
    assert!(out.stacks.is_empty());
    let r = &out.status.routes[0];
    assert_eq!(
        (r.kind, r.parents[0].controller_name.as_str()),
        ("TCPRoute", NLB_CONTROLLER)
    );
    let c = &r.parents[0].conditions[0];
    assert_eq!((c.status, c.reason), (ConditionStatus::Unknown, "Pending"));
    assert_eq!(
        c.message,
        "gateway shop/nlb is not accepted: spec.infrastructure.parametersRef refers to loadbalancerconfiguration shop/c, which was not found"
    );
}

#[test]
fn an_http_route_and_a_grpc_route_never_share_a_hostname_on_a_listener() {
    let http_route = |name: &str, created: &str, host: &str| -> HttpRoute {
        from(
            json!({"metadata": {"name": name, "namespace": "shop", "creationTimestamp": created},
                    "spec": {"parentRefs": [{"name": "edge", "sectionName": "tls"}], "hostnames": [host],
                             "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}}),
        )
    };
    let grpc = |name: &str, created: &str, host: &str| {
        grpc_route(
            "shop",
            name,
            created,
            json!({"parentRefs": [{"name": "edge", "sectionName": "tls"}], "hostnames": [host],
            "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        )
    };
    let mut o = grpc_objects(vec![
        grpc("rpc-wide", "2025-02-01T00:00:00Z", "*.example.com"),
        grpc("rpc", "2025-01-01T00:00:00Z", "grpc.example.com"),
    ]);
    o.gateways[0].spec.listeners.truncate(1);
    o.http_routes = vec![
        http_route("web", "2024-01-01T00:00:00Z", "api.example.com"),
        http_route("late-web", "2026-01-01T00:00:00Z", "grpc.example.com"),
    ];
    let out = run(&o, &[("shop", "a")]);
    let messages: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            r#"grpcroute shop/rpc-wide: spec.parentRefs[0] has invalid value "shop/edge": expected a listener where no route of the other kind shares a hostname: on listener "tls", HTTPRoute shop/web shares one and is older (or first by namespace/name); an HTTPRoute and a GRPCRoute never share a hostname on a listener"#,
            r#"httproute shop/late-web: spec.parentRefs[0] has invalid value "shop/edge": expected a listener where no route of the other kind shares a hostname: on listener "tls", GRPCRoute shop/rpc shares one and is older (or first by namespace/name); an HTTPRoute and a GRPCRoute never share a hostname on a listener"#,
        ]
    );
    use ConditionStatus::{False, True};
    for (route, want) in [
        ("shop/web", (True, "Accepted")),
        ("shop/rpc", (True, "Accepted")),
        ("shop/rpc-wide", (False, "NotAllowedByListeners")),
        ("shop/late-web", (False, "NotAllowedByListeners")),
    ] {
        let name = route.split_once('/').unwrap().1;
        let r = out.status.routes.iter().find(|r| r.name == name).unwrap();
        let c = find(&r.parents[0].conditions, "Accepted").unwrap();
        assert_eq!((c.status, c.reason), want, "{route}");
    }
    let stack = &out.stacks[0];
    assert_eq!(
        answer(stack, 443, "api.example.com", "/x", &[]),
        "shop-a:80"
    );
    assert_eq!(
        answer(stack, 443, "grpc.example.com", "/s.S/M", &[]),
        "shop-a:80"
    );
    assert_eq!(
        answer(stack, 443, "other.example.com", "/s.S/M", &[]),
        "fixed 404"
    );
    assert_eq!(out.status.gateways[0].listeners[0].attached_routes, 2);
}

/// `(hostname, resource)` of a stack's Route53 names.
fn dns_names(stack: &Stack) -> Vec<(String, String)> {
    stack
        .hostnames
        .iter()
        .map(|h| (h.hostname.clone(), h.resource.clone()))
        .collect()
}

#[test]
fn accepted_routes_publish_their_hostnames_on_their_listeners_like_external_dns() {
    let backend = json!([{"backendRefs": [{"name": "a", "port": 80}]}]);
    let r = |name: &str, extra: Value| {
        let mut spec = json!({"rules": backend});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        route("shop", name, spec)
    };
    let mut annotated = r(
        "annotated",
        json!({"parentRefs": [{"name": "edge", "sectionName": "wild"}]}),
    );
    annotated.metadata.annotations = Some(
        [(
            "external-dns.alpha.kubernetes.io/hostname".to_owned(),
            "ann.example.com,elsewhere.example.org".to_owned(),
        )]
        .into(),
    );
    let mut other_controller = r(
        "other-controller",
        json!({"parentRefs": [{"name": "edge", "sectionName": "plain"}], "hostnames": ["other.example.com"]}),
    );
    other_controller.metadata.annotations = Some(
        [(
            "external-dns.alpha.kubernetes.io/controller".to_owned(),
            "someone-else".to_owned(),
        )]
        .into(),
    );
    let routes = vec![
        // A precise hostname on a listener without one: its own.
        r(
            "shop",
            json!({"parentRefs": [{"name": "edge", "sectionName": "plain"}], "hostnames": ["Shop.Example.com"]}),
        ),
        // No hostname on a wildcard listener: the listener's.
        r(
            "wild",
            json!({"parentRefs": [{"name": "edge", "sectionName": "wild"}]}),
        ),
        // Both listeners: each intersection, once.
        r(
            "both",
            json!({"parentRefs": [{"name": "edge"}], "hostnames": ["api.example.com", "x.other.org"]}),
        ),
        // Neither has a hostname: nothing.
        r(
            "bare",
            json!({"parentRefs": [{"name": "edge", "sectionName": "plain"}]}),
        ),
        // Not accepted (NoMatchingListenerHostname): nothing.
        r(
            "mismatch",
            json!({"parentRefs": [{"name": "edge", "sectionName": "wild"}], "hostnames": ["a.other.org"]}),
        ),
        // Not accepted (NoMatchingParent): nothing.
        r(
            "nowhere",
            json!({"parentRefs": [{"name": "edge", "sectionName": "missing"}], "hostnames": ["nowhere.example.com"]}),
        ),
        // The hostname annotation is intersected with the listener's hostname too.
        annotated,
        // Accepted with a missing backend: still published (the route is Accepted).
        route(
            "shop",
            "broken",
            json!({"parentRefs": [{"name": "edge", "sectionName": "plain"}], "hostnames": ["broken.example.com"],
                   "rules": [{"backendRefs": [{"name": "gone", "port": 80}]}]}),
        ),
        // Another controller's (ExternalDNS's controller annotation): nothing.
        other_controller,
    ];
    let gw = || {
        gateway(
            "shop",
            "edge",
            json!([http("plain", 80),
                   {"name": "wild", "port": 8080, "protocol": "HTTP", "hostname": "*.example.com"}]),
        )
    };
    let out = run(&objects(vec![gw()], routes.clone()), &[("shop", "a")]);
    for (route, accepted) in [
        ("shop/mismatch", ConditionStatus::False),
        ("shop/nowhere", ConditionStatus::False),
        ("shop/broken", ConditionStatus::True),
        ("shop/bare", ConditionStatus::True),
    ] {
        assert_eq!(
            parent_condition(&out.status, route, "Accepted").0,
            accepted,
            "{route}"
        );
    }
    let n = |h: &str, r: &str| (h.to_owned(), format!("httproute/shop/{r}"));
    assert_eq!(
        dns_names(&out.stacks[0]),
        vec![
            n("*.example.com", "annotated"),
            n("*.example.com", "wild"),
            n("ann.example.com", "annotated"),
            n("api.example.com", "both"),
            n("broken.example.com", "broken"),
            n("shop.example.com", "shop"),
            n("x.other.org", "both"),
        ]
    );

    // A Gateway opted out of DNS publishes none of its routes' names, and serves them all.
    let mut opted_out = gw();
    opted_out.metadata.annotations = Some(
        [(
            "aws-lb-operator.k8s.aws/manage-dns".to_owned(),
            "false".to_owned(),
        )]
        .into(),
    );
    let quiet = run(&objects(vec![opted_out], routes), &[("shop", "a")]);
    assert!(quiet.stacks[0].hostnames.is_empty());
    assert_eq!(quiet.stacks[0].listeners, out.stacks[0].listeners);
}

#[test]
fn nlb_routes_publish_names_only_for_the_listeners_they_hold() {
    let backend = |name: &str| json!([{"backendRefs": [{"name": name, "port": 80}]}]);
    let mut db = l4_route(
        "shop",
        "db",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "sectionName": "db"}], "rules": backend("pg")}),
    );
    db.metadata.annotations = Some(
        [(
            "external-dns.kubernetes.io/hostname".to_owned(),
            "db.example.com".to_owned(),
        )]
        .into(),
    );
    let mut late = l4_route(
        "shop",
        "db-late",
        "2025-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "sectionName": "db"}], "rules": backend("pg")}),
    );
    late.metadata.annotations = Some(
        [(
            "external-dns.kubernetes.io/hostname".to_owned(),
            "late.example.com".to_owned(),
        )]
        .into(),
    );
    let udp = vec![l4_route(
        "shop",
        "dns",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "sectionName": "dns"}], "rules": backend("dns")}),
    )];
    let tls = vec![l4_route(
        "shop",
        "site",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"name": "nlb", "sectionName": "tls"}], "hostnames": ["site.example.com"], "rules": backend("web")}),
    )];
    let out = run(
        &nlb_objects(vec![db, late], udp, tls),
        &[("shop", "pg"), ("shop", "dns"), ("shop", "web")],
    );
    assert_eq!(
        parent_condition(&out.status, "shop/db-late", "Accepted"),
        (ConditionStatus::False, "NotAllowedByListeners".to_owned())
    );
    assert_eq!(
        dns_names(&out.stacks[0]),
        vec![
            ("db.example.com".to_owned(), "tcproute/shop/db".to_owned()),
            (
                "site.example.com".to_owned(),
                "tlsroute/shop/site".to_owned()
            ),
        ],
        "the UDPRoute has no hostname and its listener none: no record; the refused TCPRoute none"
    );
}

#[test]
fn external_dns_annotations_without_effect_are_warnings_on_their_gateway_or_route() {
    let mut gw = gateway("shop", "edge", json!([http("web", 80)]));
    gw.metadata.annotations = Some(
        [(
            "external-dns.alpha.kubernetes.io/hostname".to_owned(),
            "edge.example.com".to_owned(),
        )]
        .into(),
    );
    let mut r = route(
        "shop",
        "r",
        json!({"parentRefs": [{"name": "edge"}], "hostnames": ["r.example.com"],
               "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
    );
    r.metadata.annotations = Some(
        [
            (
                "external-dns.alpha.kubernetes.io/target".to_owned(),
                "1.2.3.4".to_owned(),
            ),
            (
                "external-dns.alpha.kubernetes.io/hostname".to_owned(),
                "more.example.com".to_owned(),
            ),
        ]
        .into(),
    );
    // A route naming another controller's Gateway only: not ours, no warning.
    let mut foreign = route(
        "shop",
        "foreign",
        json!({"parentRefs": [{"name": "nginx"}], "rules": []}),
    );
    foreign.metadata.annotations = r.metadata.annotations.clone();
    let out = run(&objects(vec![gw], vec![r, foreign]), &[("shop", "a")]);
    let warnings: Vec<String> = out.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "gateway shop/edge: annotation external-dns.alpha.kubernetes.io/hostname has no effect on a Gateway: ExternalDNS's gateway sources and aws-lb-operator read it on the routes (HTTPRoute, GRPCRoute, TCPRoute, UDPRoute, TLSRoute)",
            "httproute shop/r: annotation external-dns.alpha.kubernetes.io/target is not implemented by aws-lb-operator and has no effect",
        ]
    );
    let names: Vec<&str> = out.stacks[0]
        .hostnames
        .iter()
        .map(|h| h.hostname.as_str())
        .collect();
    assert_eq!(
        names,
        ["more.example.com", "r.example.com"],
        "the Gateway's annotation publishes nothing"
    );
}

/// As the conformance case HTTPRouteMultipleGateways: a route naming two Gateways of ours has
/// one status with both parents, in `parentRefs` order (found porting the case: it had one
/// status per Gateway, so a writer would have kept only one parent).
#[test]
fn a_route_on_two_gateways_has_one_status_with_both_parents() {
    let o = objects(
        vec![
            gateway("shop", "b-edge", json!([http("web", 80)])),
            gateway("shop", "a-edge", json!([http("web", 80)])),
        ],
        vec![route(
            "shop",
            "shared",
            json!({"parentRefs": [{"name": "b-edge"}, {"name": "a-edge"}],
                   "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}),
        )],
    );
    let out = run(&o, &[("shop", "svc")]);
    assert_eq!(out.status.routes.len(), 1, "{:?}", out.status.routes);
    let parents: Vec<(usize, &str, &str)> = out.status.routes[0]
        .parents
        .iter()
        .map(|p| {
            (
                p.parent_index,
                p.gateway.as_str(),
                find(&p.conditions, status::ACCEPTED).unwrap().reason,
            )
        })
        .collect();
    assert_eq!(
        parents,
        [
            (0, "shop/b-edge", reason::ACCEPTED),
            (1, "shop/a-edge", reason::ACCEPTED)
        ]
    );
}

/// As the conformance case HTTPRouteHTTPSListener with the suite's Secret certificates: a
/// Gateway none of whose listeners is valid builds nothing, and the routes its listeners would
/// take are pending on it (`Accepted=Unknown`, `Pending`), never `Accepted=True` (found porting
/// the case); a route they refuse keeps its reason (HTTPRouteDisallowedKind).
#[test]
fn routes_of_a_gateway_without_a_valid_listener_are_pending() {
    let o = objects(
        vec![gateway(
            "shop",
            "edge",
            json!([{"name": "tls", "port": 443, "protocol": "HTTPS",
                    "tls": {"certificateRefs": [{"name": "cert"}]}}]),
        )],
        vec![route(
            "shop",
            "r",
            json!({"parentRefs": [{"name": "edge"}],
                   "rules": [{"backendRefs": [{"name": "svc", "port": 80}]}]}),
        )],
    );
    let out = run(&o, &[("shop", "svc")]);
    assert!(out.stacks.is_empty());
    let gw = &out.status.gateways[0];
    let accepted = find(&gw.conditions, status::ACCEPTED).unwrap();
    assert_eq!(
        (accepted.status, accepted.reason),
        (ConditionStatus::False, reason::LISTENERS_NOT_VALID)
    );
    assert_eq!(out.status.routes.len(), 1);
    let parent = &out.status.routes[0].parents[0];
    assert_eq!(parent.conditions.len(), 2, "Accepted and ResolvedRefs");
    let c = find(&parent.conditions, status::ACCEPTED).unwrap();
    assert_eq!(
        (c.type_, c.status, c.reason, c.message.as_str()),
        (
            status::ACCEPTED,
            ConditionStatus::Unknown,
            reason::PENDING,
            "gateway shop/edge is not accepted: no listener is valid"
        )
    );
}

/// The load balancer's name hashes the Gateway's uid (LBC's), or `namespace/name` when the
/// manifest has none: two Gateways of one namespace whose names share their first 8
/// characters never get one name.
#[test]
fn gateway_load_balancer_names_never_collide_without_a_uid() {
    let with_uid = |uid: Option<&str>, name: &str| {
        let mut g = gateway("shop", name, json!([http("web", 80)]));
        g.metadata.uid = uid.map(str::to_owned);
        g
    };
    let names = |gateways: Vec<Gateway>| -> Vec<String> {
        let o = objects(gateways, Vec::new());
        run(&o, &[])
            .stacks
            .iter()
            .map(|s| s.load_balancer.name.clone())
            .collect()
    };
    let offline = names(vec![
        with_uid(None, "httproute-a"),
        with_uid(Some(""), "httproute-b"),
    ]);
    assert_eq!(offline.len(), 2);
    assert_ne!(offline[0], offline[1]);
    assert!(
        offline.iter().all(|n| n.starts_with("k8s-shop-httprout-")),
        "{offline:?}"
    );
    assert_eq!(
        offline[0],
        crate::model::gateway_load_balancer_name(
            "demo",
            "shop",
            "httproute-a",
            "shop/httproute-a",
            "internal"
        )
    );
    let cluster = names(vec![with_uid(Some("uid-1"), "httproute-a")]);
    assert_eq!(
        cluster[0],
        crate::model::gateway_load_balancer_name(
            "demo",
            "shop",
            "httproute-a",
            "uid-1",
            "internal"
        ),
        "a cluster's Gateway: LBC's name"
    );
}

#[test]
fn rule_settings_an_alb_cannot_express_are_reported_and_names_are_accepted() {
    struct Case {
        name: &'static str,
        settings: Value,
        /// `None`: the rule is served.
        refused: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "request timeout",
            settings: json!({"timeouts": {"request": "10s"}}),
            refused: Some(
                r#"spec.rules[1].timeouts.request has invalid value "10s": expected no request timeout (an ALB has no per-rule or per-backend timeout: its one timeout is the load balancer's idle timeout, the attribute idle_timeout.timeout_seconds, which the LoadBalancerConfiguration's loadBalancerAttributes set for every listener)"#,
            ),
        },
        Case {
            name: "backend request timeout",
            settings: json!({"timeouts": {"backendRequest": "2s"}}),
            refused: Some(
                r#"spec.rules[1].timeouts.backendRequest has invalid value "2s": expected no backend request timeout (an ALB has no per-rule or per-backend timeout: its one timeout is the load balancer's idle timeout, the attribute idle_timeout.timeout_seconds, which the LoadBalancerConfiguration's loadBalancerAttributes set for every listener)"#,
            ),
        },
        Case {
            name: "retry",
            settings: json!({"retry": {"codes": [500, 502], "attempts": 2, "backoff": "100ms"}}),
            refused: Some(
                r#"spec.rules[1].retry has invalid value "codes=[500,502], attempts=2, backoff=100ms": expected no retry (an ALB never retries a request, on the same target or another)"#,
            ),
        },
        Case {
            name: "retry with defaults",
            settings: json!({"retry": {}}),
            refused: Some(
                r#"spec.rules[1].retry has invalid value "{}": expected no retry (an ALB never retries a request, on the same target or another)"#,
            ),
        },
        Case {
            name: "session persistence",
            settings: json!({"sessionPersistence": {"sessionName": "s", "type": "Cookie", "absoluteTimeout": "1h", "cookieConfig": {"lifetimeType": "Permanent"}}}),
            refused: Some(
                r#"spec.rules[1].sessionPersistence has invalid value "type=Cookie, sessionName=s, absoluteTimeout=1h, cookieConfig.lifetimeType=Permanent": expected no session persistence (not translated: an ALB's stickiness is a target group's, with its own AWSALB cookie or an application cookie, not a session named per rule)"#,
            ),
        },
        Case {
            name: "a backend filter",
            settings: json!({"backendRefs": [{"name": "a", "port": 80, "filters": [{"type": "RequestHeaderModifier"}]}]}),
            refused: Some(
                r#"spec.rules[1].backendRefs[0].filters has invalid value "RequestHeaderModifier": expected no per-backend filter (an ALB forward has none)"#,
            ),
        },
        Case {
            name: "a filter type of no implementation",
            settings: json!({"filters": [{"type": "CORS", "cors": {"allowOrigins": ["*"]}}]}),
            refused: Some(
                r#"spec.rules[1].filters[0].type has invalid value "CORS": expected RequestRedirect or URLRewrite (the filters an ALB rule expresses so far)"#,
            ),
        },
        Case {
            name: "a named rule",
            settings: json!({"name": "second"}),
            refused: None,
        },
        Case {
            name: "empty timeouts",
            settings: json!({"timeouts": {}}),
            refused: None,
        },
    ];
    for c in cases {
        let mut rule = json!({"matches": [{"path": {"value": "/x"}}], "backendRefs": [{"name": "a", "port": 80}]});
        for (k, v) in c.settings.as_object().unwrap() {
            rule[k] = v.clone();
        }
        let o = objects(
            vec![gateway("shop", "edge", json!([http("web", 80)]))],
            vec![route(
                "shop",
                "r",
                json!({
                    "parentRefs": [{"name": "edge"}],
                    "rules": [
                        {"name": "first", "matches": [{"path": {"value": "/ok"}}], "backendRefs": [{"name": "a", "port": 80}]},
                        rule
                    ]
                }),
            )],
        );
        let out = run(&o, &[("shop", "a")]);
        let stack = &out.stacks[0];
        assert_eq!(
            answer(stack, 80, "x", "/ok", &[]),
            "shop-a:80",
            "{}",
            c.name
        );
        let conditions = &out.status.routes[0].parents[0].conditions;
        assert_eq!(
            parent_condition(&out.status, "shop/r", "Accepted"),
            (ConditionStatus::True, "Accepted".to_owned()),
            "{}",
            c.name
        );
        match c.refused {
            None => {
                assert!(out.errors.is_empty(), "{}: {:?}", c.name, out.errors);
                assert!(find(conditions, "PartiallyInvalid").is_none(), "{}", c.name);
                assert_eq!(answer(stack, 80, "x", "/x", &[]), "shop-a:80", "{}", c.name);
            }
            Some(message) => {
                assert_eq!(
                    out.errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                    vec![format!("httproute shop/r: {message}")],
                    "{}",
                    c.name
                );
                let pi = find(conditions, "PartiallyInvalid").unwrap();
                assert_eq!(
                    (pi.status, pi.reason, pi.message.as_str()),
                    (
                        ConditionStatus::True,
                        "UnsupportedValue",
                        format!(
                            "{message}; the rule is left out, the route's other rules are served"
                        )
                        .as_str()
                    ),
                    "{}",
                    c.name
                );
                assert_eq!(answer(stack, 80, "x", "/x", &[]), "fixed 404", "{}", c.name);
            }
        }
    }
}

#[test]
fn a_rule_setting_an_alb_cannot_express_on_the_only_rule_refuses_the_route() {
    let o = objects(
        vec![gateway("shop", "edge", json!([http("web", 80)]))],
        vec![route(
            "shop",
            "r",
            json!({
                "parentRefs": [{"name": "edge"}],
                "rules": [{"timeouts": {"request": "5s"}, "backendRefs": [{"name": "a", "port": 80}]}]
            }),
        )],
    );
    let out = run(&o, &[("shop", "a")]);
    assert_eq!(
        parent_condition(&out.status, "shop/r", "Accepted"),
        (ConditionStatus::False, "UnsupportedValue".to_owned())
    );
    assert_eq!(answer(&out.stacks[0], 80, "x", "/", &[]), "fixed 404");
}

#[test]
fn grpc_session_persistence_is_reported() {
    let mut o = grpc_objects(Vec::new());
    o.grpc_routes.push(grpc_route(
        "shop",
        "g",
        "2024-01-01T00:00:00Z",
        json!({
            "parentRefs": [{"name": "edge"}],
            "rules": [{"name": "n", "sessionPersistence": {"type": "Header", "sessionName": "x-s"}, "backendRefs": [{"name": "a", "port": 80}]}]
        }),
    ));
    let out = run(&o, &[("shop", "a")]);
    assert!(
        out.errors.iter().map(ToString::to_string).any(|e| e
            == r#"grpcroute shop/g: spec.rules[0].sessionPersistence has invalid value "type=Header, sessionName=x-s": expected no session persistence (not translated: an ALB's stickiness is a target group's, with its own AWSALB cookie or an application cookie, not a session named per rule)"#),
        "{:?}",
        out.errors
    );
    assert_eq!(
        parent_condition(&out.status, "shop/g", "Accepted"),
        (ConditionStatus::False, "UnsupportedValue".to_owned())
    );
}

#[test]
fn backend_app_protocols_an_alb_target_group_cannot_speak_are_unsupported_protocol() {
    struct Case {
        grpc: bool,
        app: Option<&'static str>,
        want: Option<&'static str>,
    }
    let http_expected = r#"no appProtocol, "http" or "kubernetes.io/ws" (an HTTPRoute's target group speaks cleartext HTTP/1.1, WebSockets included; an ALB target group with protocol version HTTP2 would refuse the HTTP/1.1 requests the route also takes, and TLS to backends is not translated)"#;
    let cases = [
        Case {
            grpc: false,
            app: None,
            want: None,
        },
        Case {
            grpc: false,
            app: Some("http"),
            want: None,
        },
        Case {
            grpc: false,
            app: Some("kubernetes.io/ws"),
            want: None,
        },
        Case {
            grpc: false,
            app: Some("kubernetes.io/h2c"),
            want: Some("kubernetes.io/h2c"),
        },
        Case {
            grpc: false,
            app: Some("kubernetes.io/wss"),
            want: Some("kubernetes.io/wss"),
        },
        Case {
            grpc: false,
            app: Some("https"),
            want: Some("https"),
        },
        Case {
            grpc: true,
            app: Some("kubernetes.io/h2c"),
            want: None,
        },
        Case {
            grpc: true,
            app: Some("grpc"),
            want: None,
        },
        Case {
            grpc: true,
            app: Some("http"),
            want: Some("http"),
        },
    ];
    for c in cases {
        let mut snap = snapshot(&[("shop", "a")]);
        if let Some(ports) = snap.services[0]
            .spec
            .as_mut()
            .and_then(|s| s.ports.as_mut())
        {
            ports[0].app_protocol = c.app.map(str::to_owned);
        }
        let mut o = grpc_objects(Vec::new());
        let spec = json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]});
        let kind = if c.grpc {
            o.grpc_routes
                .push(grpc_route("shop", "r", "2024-01-01T00:00:00Z", spec));
            "grpcroute"
        } else {
            o.http_routes.push(route("shop", "r", spec));
            "httproute"
        };
        let out = build(&o, &snap, &ip_config());
        let label = format!("{kind} {:?}", c.app);
        let errors: Vec<String> = out
            .errors
            .iter()
            .map(ToString::to_string)
            .filter(|e| e.contains("appProtocol"))
            .collect();
        match c.want {
            None => {
                assert!(errors.is_empty(), "{label}: {errors:?}");
                assert_eq!(
                    parent_condition(&out.status, "shop/r", "ResolvedRefs"),
                    (ConditionStatus::True, "ResolvedRefs".to_owned()),
                    "{label}"
                );
            }
            Some(app) => {
                let expected = if c.grpc {
                    r#"no appProtocol, "kubernetes.io/h2c" or "grpc" (a GRPCRoute's target group speaks gRPC over cleartext HTTP/2)"#
                } else {
                    http_expected
                };
                assert_eq!(
                    errors,
                    vec![format!(
                        r#"{kind} shop/r: spec.rules[0].backendRefs[0].port has invalid value "80 (service shop/a, appProtocol {app})": expected {expected}"#
                    )],
                    "{label}"
                );
                assert_eq!(
                    parent_condition(&out.status, "shop/r", "ResolvedRefs"),
                    (ConditionStatus::False, "UnsupportedProtocol".to_owned()),
                    "{label}"
                );
            }
        }
    }
}

#[test]
fn https_listeners_without_certificates_discover_them_in_acm_by_hostname() {
    struct Case {
        name: &'static str,
        listeners: Value,
        /// (hostnames, created) of routes on the Gateway.
        routes: Vec<Value>,
        /// Per HTTPS port: discovered hosts (`None`: no listener on the port).
        want: Vec<(u16, Option<Vec<&'static str>>)>,
        /// The listener refused for lack of hosts.
        refused: Option<&'static str>,
    }
    let https = |name: &str, port: i32, host: Option<&str>| {
        let mut l = json!({"name": name, "port": port, "protocol": "HTTPS", "allowedRoutes": {"namespaces": {"from": "All"}}});
        if let Some(h) = host {
            l["hostname"] = json!(h);
        }
        l
    };
    let cases = [
        Case {
            name: "the listener's hostname",
            listeners: json!([https("a", 443, Some("shop.example.com"))]),
            routes: vec![json!(null)],
            want: vec![(443, Some(vec!["shop.example.com"]))],
            refused: None,
        },
        Case {
            name: "a wildcard listener and the intersections of its routes",
            listeners: json!([https("a", 443, Some("*.example.com"))]),
            routes: vec![json!(["api.example.com", "x.other.org"]), json!(null)],
            want: vec![(443, Some(vec!["*.example.com", "api.example.com"]))],
            refused: None,
        },
        Case {
            name: "no listener hostname: the routes' hostnames",
            listeners: json!([https("a", 443, None)]),
            routes: vec![json!(["b.example.com", "a.example.com"]), json!(null)],
            want: vec![(443, Some(vec!["a.example.com", "b.example.com"]))],
            refused: None,
        },
        Case {
            name: "two listeners on a port share one ALB listener and its hosts",
            listeners: json!([
                https("a", 443, Some("a.example.com")),
                https("b", 443, Some("b.example.com")),
                https("c", 8443, Some("c.example.com"))
            ]),
            routes: vec![json!(null)],
            want: vec![
                (443, Some(vec!["a.example.com", "b.example.com"])),
                (8443, Some(vec!["c.example.com"])),
            ],
            refused: None,
        },
        Case {
            name: "no hostname anywhere",
            listeners: json!([https("a", 443, None)]),
            routes: vec![json!(null)],
            want: vec![(443, None)],
            refused: Some(
                r#"gateway shop/edge: spec.listeners[0].hostname has invalid value "": expected a hostname, on the listener or on a route attached to it, to discover its ACM certificates by (or an ACM certificate ARN in listenerConfigurations[protocolPort=HTTPS:443].defaultCertificate of the Gateway's LoadBalancerConfiguration)"#,
            ),
        },
    ];
    for c in cases {
        let routes = c
            .routes
            .iter()
            .enumerate()
            .map(|(i, hosts)| {
                let mut spec = json!({"parentRefs": [{"name": "edge"}], "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]});
                if !hosts.is_null() {
                    spec["hostnames"] = hosts.clone();
                }
                route("shop", &format!("r{i}"), spec)
            })
            .collect();
        let o = objects(vec![gateway("shop", "edge", c.listeners.clone())], routes);
        let out = run(&o, &[("shop", "a")]);
        let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        match c.refused {
            None => assert!(errors.is_empty(), "{}: {errors:?}", c.name),
            Some(e) => assert_eq!(errors, vec![e.to_owned()], "{}", c.name),
        }
        let listeners = out
            .stacks
            .first()
            .map(|s| &s.listeners[..])
            .unwrap_or_default();
        for (port, want) in &c.want {
            let got = listeners.iter().find(|l| l.port == *port);
            match want {
                None => assert!(got.is_none(), "{}: {port}", c.name),
                Some(hosts) => {
                    let l = got.unwrap_or_else(|| panic!("{}: no listener {port}", c.name));
                    assert!(l.certificates.is_empty(), "{}", c.name);
                    assert_eq!(
                        l.certificate_discovery,
                        vec![crate::model::CertificateDiscovery {
                            object: "gateway shop/edge".to_owned(),
                            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
                            after: 0,
                        }],
                        "{}",
                        c.name
                    );
                }
            }
        }
        let listener_status = &out.status.gateways[0].listeners[0];
        let rr = find(&listener_status.conditions, "ResolvedRefs").unwrap();
        let programmed = find(&listener_status.conditions, "Programmed").unwrap();
        if c.refused.is_some() {
            assert_eq!(
                (rr.status, rr.reason, programmed.status),
                (
                    ConditionStatus::False,
                    "InvalidCertificateRef",
                    ConditionStatus::False
                ),
                "{}",
                c.name
            );
        } else {
            assert_eq!(
                (rr.status, programmed.status),
                (ConditionStatus::True, ConditionStatus::Unknown),
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn discovered_certificates_resolve_for_a_gateway_listener() {
    let o = objects(
        vec![gateway(
            "shop",
            "edge",
            json!([{"name": "a", "port": 443, "protocol": "HTTPS", "hostname": "*.example.com"}]),
        )],
        vec![route(
            "shop",
            "r",
            json!({"parentRefs": [{"name": "edge"}], "hostnames": ["api.example.com"], "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        )],
    );
    let out = run(&o, &[("shop", "a")]);
    let stack = &out.stacks[0];
    let cert = |arn: &str, domains: &[&str]| crate::certificates::AcmCertificate {
        arn: arn.to_owned(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
    };
    let resolved = crate::certificates::resolve_stack(
        stack,
        &[
            cert("arn:wild", &["*.example.com"]),
            cert("arn:other", &["other.org"]),
        ],
    )
    .unwrap();
    assert_eq!(resolved.listeners[0].certificates, vec!["arn:wild"]);
    assert!(resolved.listeners[0].certificate_discovery.is_empty());
    assert_eq!(
        crate::certificates::resolve_stack(stack, &[cert("arn:other", &["other.org"])]).unwrap_err(),
        "certificate discovery for HTTPS listener port 443 of gateway shop/edge: no certificate found for host: *.example.com (no ISSUED ACM certificate has it or a one-label wildcard of it among its domain names; issue or import one, or set listenerConfigurations[protocolPort=HTTPS:443].defaultCertificate in the Gateway's LoadBalancerConfiguration)"
    );
}

// ListenerSets.

fn listener_set(
    ns: &str,
    name: &str,
    created: &str,
    gateway: Value,
    listeners: Value,
) -> ListenerSet {
    from(json!({
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
        "spec": {"parentRef": gateway, "listeners": listeners}
    }))
}

fn set_condition(status: &Statuses, set: &str, type_: &str) -> (ConditionStatus, String, String) {
    let (ns, name) = set.split_once('/').unwrap();
    let s = status
        .listener_sets
        .iter()
        .find(|s| s.namespace == ns && s.name == name)
        .unwrap_or_else(|| panic!("no status for listenerset {set}: {status:#?}"));
    let c = find(&s.conditions, type_).unwrap_or_else(|| panic!("{set}: no {type_}"));
    (c.status, c.reason.to_owned(), c.message.clone())
}

fn set_listener_condition(
    status: &Statuses,
    set: &str,
    listener: &str,
    type_: &str,
) -> (ConditionStatus, String) {
    let (ns, name) = set.split_once('/').unwrap();
    let s = status
        .listener_sets
        .iter()
        .find(|s| s.namespace == ns && s.name == name)
        .unwrap_or_else(|| panic!("no status for listenerset {set}"));
    let l = s
        .listeners
        .iter()
        .find(|l| l.name == listener)
        .unwrap_or_else(|| panic!("{set}: no listener {listener}: {s:#?}"));
    let c = find(&l.conditions, type_).unwrap();
    (c.status, c.reason.to_owned())
}

fn error_texts(out: &GatewayOutput) -> Vec<String> {
    out.errors.iter().map(ToString::to_string).collect()
}

fn with_allowed(mut gw: Gateway, allowed: Value) -> Gateway {
    gw.spec.allowed_listeners = Some(from(allowed));
    gw
}

#[test]
fn listener_sets_add_listeners_that_routes_reach_by_naming_the_listener_set() {
    use ConditionStatus::{False, True};
    let gw = with_allowed(
        gateway(
            "web",
            "edge",
            json!([{"name": "main", "port": 80, "protocol": "HTTP", "hostname": "www.example.com",
                    "allowedRoutes": {"namespaces": {"from": "All"}}}]),
        ),
        json!({"namespaces": {"from": "Same"}}),
    );
    let set = listener_set(
        "web",
        "apps",
        "2024-01-01T00:00:00Z",
        json!({"name": "edge"}),
        json!([
            // The Gateway's listener name again: names are unique per resource only.
            {"name": "main", "port": 80, "protocol": "HTTP", "hostname": "app.example.com"},
            {"name": "admin", "port": 8080, "protocol": "HTTP"}
        ]),
    );
    let routes = vec![
        route(
            "web",
            "site",
            json!({"parentRefs": [{"name": "edge"}],
            "rules": [{"backendRefs": [{"name": "site", "port": 80}]}]}),
        ),
        route(
            "web",
            "app",
            json!({"parentRefs": [{"kind": "ListenerSet", "group": "gateway.networking.k8s.io", "name": "apps", "sectionName": "main"}],
            "rules": [{"backendRefs": [{"name": "app", "port": 80}]}]}),
        ),
        route(
            "web",
            "admin",
            json!({"parentRefs": [{"kind": "ListenerSet", "name": "apps", "port": 8080}],
            "rules": [{"backendRefs": [{"name": "admin", "port": 80}]}]}),
        ),
        // A Gateway parentRef never reaches a ListenerSet's listener, even by its name.
        route(
            "web",
            "by-gateway",
            json!({"parentRefs": [{"name": "edge", "port": 8080}],
            "rules": [{"backendRefs": [{"name": "site", "port": 80}]}]}),
        ),
    ];
    let mut o = objects(vec![gw], routes);
    o.listener_sets.push(set);
    let out = run(&o, &[("web", "site"), ("web", "app"), ("web", "admin")]);
    let stack = &out.stacks[0];
    let ports: Vec<u16> = stack.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![80, 8080]);
    assert_eq!(
        answer(stack, 80, "www.example.com", "/", &[]),
        "web-site:80"
    );
    assert_eq!(answer(stack, 80, "app.example.com", "/", &[]), "web-app:80");
    // The route of the Gateway does not reach the ListenerSet's hostname, nor its port.
    assert_eq!(
        answer(stack, 80, "other.example.com", "/", &[]),
        "fixed 404"
    );
    assert_eq!(
        answer(stack, 8080, "www.example.com", "/", &[]),
        "web-admin:80"
    );
    // Status: the ListenerSet, its listeners, the Gateway's count, the routes' parents.
    assert_eq!(
        set_condition(&out.status, "web/apps", "Accepted"),
        (
            True,
            "Accepted".to_owned(),
            "the listeners are added to gateway web/edge".to_owned()
        )
    );
    assert_eq!(
        set_condition(&out.status, "web/apps", "Programmed").1,
        "Pending"
    );
    let set_status = &out.status.listener_sets[0];
    let attached: Vec<(&str, u32)> = set_status
        .listeners
        .iter()
        .map(|l| (l.name.as_str(), l.attached_routes))
        .collect();
    assert_eq!(attached, vec![("main", 1), ("admin", 1)]);
    let gw_status = &out.status.gateways[0];
    assert_eq!(gw_status.attached_listener_sets, Some(1));
    assert_eq!(gw_status.listeners.len(), 1);
    assert_eq!(gw_status.listeners[0].attached_routes, 1);
    let app = out.status.routes.iter().find(|r| r.name == "app").unwrap();
    assert_eq!(app.parents[0].listener_set.as_deref(), Some("web/apps"));
    assert_eq!(app.parents[0].gateway, "web/edge");
    assert_eq!(
        parent_condition(&out.status, "web/app", "Accepted"),
        (True, "Accepted".to_owned())
    );
    assert_eq!(
        parent_condition(&out.status, "web/by-gateway", "Accepted"),
        (False, "NoMatchingParent".to_owned())
    );
    // Once the load balancer is known, the ListenerSet is programmed.
    let mut programmed = set_status.clone();
    programmed.programmed();
    assert_eq!(
        find(&programmed.conditions, "Programmed").map(|c| (c.status, c.reason)),
        Some((True, "Programmed"))
    );
    assert!(programmed
        .listeners
        .iter()
        .all(|l| find(&l.conditions, "Programmed").is_some_and(|c| c.status == True)));
}

#[test]
fn listener_sets_need_the_gateway_to_allow_their_namespace() {
    use ConditionStatus::{False, True};
    struct Case {
        allowed: Option<Value>,
        set_ns: &'static str,
        attached: bool,
        admits: &'static str,
    }
    let cases = [
        Case {
            allowed: None,
            set_ns: "web",
            attached: false,
            admits: "none: allowedListeners is not set",
        },
        Case {
            allowed: Some(json!({"namespaces": {"from": "None"}})),
            set_ns: "web",
            attached: false,
            admits: "from: None",
        },
        Case {
            allowed: Some(json!({"namespaces": {"from": "Same"}})),
            set_ns: "web",
            attached: true,
            admits: "",
        },
        Case {
            allowed: Some(json!({"namespaces": {"from": "Same"}})),
            set_ns: "team",
            attached: false,
            admits: "from: Same",
        },
        Case {
            allowed: Some(json!({"namespaces": {"from": "All"}})),
            set_ns: "team",
            attached: true,
            admits: "",
        },
        Case {
            allowed: Some(
                json!({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}}),
            ),
            set_ns: "team",
            attached: true,
            admits: "",
        },
        Case {
            allowed: Some(
                json!({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "team"}}}}),
            ),
            set_ns: "other",
            attached: false,
            admits: "from: Selector",
        },
    ];
    for case in cases {
        let mut gw = gateway("web", "edge", json!([http("main", 80)]));
        if let Some(a) = &case.allowed {
            gw = with_allowed(gw, a.clone());
        }
        let set = listener_set(
            case.set_ns,
            "apps",
            "2024-01-01T00:00:00Z",
            json!({"name": "edge", "namespace": "web"}),
            json!([{"name": "extra", "port": 8080, "protocol": "HTTP"}]),
        );
        let r = route(
            case.set_ns,
            "app",
            json!({"parentRefs": [{"kind": "ListenerSet", "name": "apps"}],
            "rules": [{"backendRefs": [{"name": "app", "port": 80}]}]}),
        );
        let mut o = objects(vec![gw], vec![r]);
        o.listener_sets.push(set);
        let out = run(&o, &[(case.set_ns, "app")]);
        let set_key = format!("{}/apps", case.set_ns);
        let route_key = format!("{}/app", case.set_ns);
        let ports: Vec<u16> = out.stacks[0].listeners.iter().map(|l| l.port).collect();
        let what = format!("{:?} from {}", case.allowed, case.set_ns);
        if case.attached {
            assert_eq!(ports, vec![80, 8080], "{what}");
            assert_eq!(
                set_condition(&out.status, &set_key, "Accepted").0,
                True,
                "{what}"
            );
            assert_eq!(
                parent_condition(&out.status, &route_key, "Accepted"),
                (True, "Accepted".to_owned()),
                "{what}"
            );
            assert_eq!(
                out.status.gateways[0].attached_listener_sets,
                Some(1),
                "{what}"
            );
        } else {
            assert_eq!(ports, vec![80], "{what}");
            let (status, reason, message) = set_condition(&out.status, &set_key, "Accepted");
            assert_eq!((status, reason.as_str()), (False, "NotAllowed"), "{what}");
            assert_eq!(
                set_condition(&out.status, &set_key, "Programmed").1,
                "NotAllowed",
                "{what}"
            );
            assert_eq!(
                message,
                format!("spec.parentRef has invalid value \"web/edge\": expected a Gateway whose spec.allowedListeners.namespaces admits namespace {} (gateway web/edge admits {})", case.set_ns, case.admits),
                "{what}"
            );
            assert!(
                error_texts(&out).contains(&format!("listenerset {set_key}: {message}")),
                "{what}: {:?}",
                error_texts(&out)
            );
            assert_eq!(
                parent_condition(&out.status, &route_key, "Accepted"),
                (False, "NotAllowedByListeners".to_owned()),
                "{what}"
            );
            assert!(error_texts(&out).contains(&format!(
                "httproute {route_key}: spec.parentRefs[0] has invalid value \"{set_key}\": expected a ListenerSet attached to gateway web/edge (the Gateway's spec.allowedListeners.namespaces does not admit this ListenerSet's namespace; it admits none by default)"
            )), "{what}: {:?}", error_texts(&out));
            assert_eq!(
                out.status.gateways[0].attached_listener_sets,
                Some(0),
                "{what}"
            );
        }
    }
    // A Gateway that allows none and that no ListenerSet names writes no count.
    let out = run(
        &objects(
            vec![gateway("web", "edge", json!([http("main", 80)]))],
            vec![],
        ),
        &[],
    );
    assert_eq!(out.status.gateways[0].attached_listener_sets, None);
    assert!(out.status.listener_sets.is_empty());
}

#[test]
fn listener_set_conflicts_follow_the_precedence_gateway_then_oldest_set() {
    use ConditionStatus::{False, True};
    let gw = with_allowed(
        gateway(
            "web",
            "edge",
            json!([{"name": "main", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"}]),
        ),
        json!({"namespaces": {"from": "Same"}}),
    );
    // `b-new` is created after `z-old`: precedence is creation time first, then name.
    let old = listener_set(
        "web",
        "z-old",
        "2024-01-01T00:00:00Z",
        json!({"name": "edge"}),
        json!([
            {"name": "taken", "port": 80, "protocol": "HTTP", "hostname": "a.example.com"},
            {"name": "mine", "port": 80, "protocol": "HTTP", "hostname": "b.example.com"},
            {"name": "other", "port": 8080, "protocol": "HTTP"}
        ]),
    );
    let third = listener_set(
        "web",
        "a-third",
        "2026-01-01T00:00:00Z",
        json!({"name": "edge"}),
        json!([
            {"name": "tls", "port": 80, "protocol": "HTTPS", "hostname": "c.example.com"},
            {"name": "other", "port": 8081, "protocol": "HTTP"}
        ]),
    );
    let new = listener_set(
        "web",
        "b-new",
        "2025-01-01T00:00:00Z",
        json!({"name": "edge"}),
        json!([{"name": "late", "port": 80, "protocol": "HTTP", "hostname": "b.example.com"}]),
    );
    let mut o = objects(vec![gw], vec![]);
    o.listener_sets = vec![third, new, old];
    let out = run(&o, &[]);
    // The Gateway's listener is never conflicted by a ListenerSet's.
    let gw_listener = &out.status.gateways[0].listeners[0];
    assert_eq!(
        find(&gw_listener.conditions, "Conflicted").map(|c| c.status),
        Some(False)
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/z-old", "taken", "Conflicted"),
        (True, "HostnameConflict".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/z-old", "taken", "Accepted"),
        (False, "HostnameConflict".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/z-old", "taken", "Programmed"),
        (False, "HostnameConflict".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/z-old", "mine", "Conflicted"),
        (False, "NoConflicts".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/a-third", "tls", "Conflicted"),
        (True, "ProtocolConflict".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "web/b-new", "late", "Conflicted"),
        (True, "HostnameConflict".to_owned())
    );
    // Some listeners valid: accepted with ListenersNotValid; none: not accepted.
    let (status, reason, message) = set_condition(&out.status, "web/z-old", "Accepted");
    assert_eq!(
        (status, reason.as_str(), message.as_str()),
        (
            True,
            "ListenersNotValid",
            "1 of 3 listeners are not valid; the others are added to gateway web/edge"
        )
    );
    assert_eq!(
        set_condition(&out.status, "web/b-new", "Accepted").1,
        "ListenersNotValid"
    );
    assert_eq!(set_condition(&out.status, "web/b-new", "Accepted").0, False);
    assert_eq!(
        set_condition(&out.status, "web/b-new", "Programmed").0,
        False
    );
    assert_eq!(out.status.gateways[0].attached_listener_sets, Some(2));
    let errors = error_texts(&out);
    for want in [
        "listenerset web/z-old: spec.listeners[0].hostname has invalid value \"a.example.com\": expected a hostname other than that of listener \"main\" (gateway web/edge spec.listeners[0]) on port 80",
        "listenerset web/a-third: spec.listeners[0].protocol has invalid value \"HTTPS\": expected the protocol of listener \"main\" (gateway web/edge spec.listeners[0]) on port 80: one port has one protocol",
        "listenerset web/b-new: spec.listeners[0].hostname has invalid value \"b.example.com\": expected a hostname other than that of listener \"mine\" (listenerset web/z-old spec.listeners[1]) on port 80",
    ] {
        assert!(errors.contains(&want.to_owned()), "{want}\n{errors:#?}");
    }
    // Nothing of the Gateway's conditions changes for its ListenerSets' conflicts.
    assert_eq!(
        find(&out.status.gateways[0].conditions, "Accepted").map(|c| (c.status, c.reason)),
        Some((True, "Accepted"))
    );
}

#[test]
fn listener_set_listeners_admit_routes_of_the_listener_sets_namespace() {
    use ConditionStatus::{False, True};
    let gw = with_allowed(
        gateway("web", "edge", json!([http("main", 80)])),
        json!({"namespaces": {"from": "All"}}),
    );
    let set = listener_set(
        "team",
        "apps",
        "2024-01-01T00:00:00Z",
        json!({"name": "edge", "namespace": "web"}),
        json!([{"name": "extra", "port": 8080, "protocol": "HTTP"}]),
    );
    let parent = json!([{"kind": "ListenerSet", "name": "apps", "namespace": "team"}]);
    let routes = vec![
        route(
            "team",
            "mine",
            json!({"parentRefs": parent, "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        ),
        route(
            "web",
            "theirs",
            json!({"parentRefs": parent, "rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}),
        ),
    ];
    let mut o = objects(vec![gw], routes);
    o.listener_sets.push(set);
    let out = run(&o, &[("team", "a"), ("web", "a")]);
    assert_eq!(
        parent_condition(&out.status, "team/mine", "Accepted"),
        (True, "Accepted".to_owned())
    );
    assert_eq!(
        parent_condition(&out.status, "web/theirs", "Accepted"),
        (False, "NotAllowedByListeners".to_owned())
    );
    assert_eq!(answer(&out.stacks[0], 8080, "x", "/", &[]), "team-a:80");
}

#[test]
fn listener_sets_of_a_gateway_that_is_not_accepted_are_not_accepted() {
    use ConditionStatus::{False, Unknown};
    let mut gw = with_allowed(
        gateway("web", "edge", json!([http("main", 80)])),
        json!({"namespaces": {"from": "Same"}}),
    );
    gw.spec.infrastructure = Some(from(
        json!({"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "missing"}}),
    ));
    let set = listener_set(
        "web",
        "apps",
        "2024-01-01T00:00:00Z",
        json!({"name": "edge"}),
        json!([{"name": "extra", "port": 8080, "protocol": "HTTP"}]),
    );
    let r = route(
        "web",
        "app",
        json!({"parentRefs": [{"kind": "ListenerSet", "name": "apps"}],
        "rules": [{"backendRefs": [{"name": "app", "port": 80}]}]}),
    );
    let mut o = objects(vec![gw], vec![r]);
    o.listener_sets.push(set);
    let out = run(&o, &[("web", "app")]);
    assert!(out.stacks.is_empty());
    let (status, reason, message) = set_condition(&out.status, "web/apps", "Accepted");
    assert_eq!((status, reason.as_str()), (False, "ParentNotAccepted"));
    assert!(
        message.starts_with("gateway web/edge is not accepted: "),
        "{message}"
    );
    assert_eq!(
        set_condition(&out.status, "web/apps", "Programmed").1,
        "ParentNotProgrammed"
    );
    assert_eq!(
        parent_condition(&out.status, "web/app", "Accepted"),
        (Unknown, "Pending".to_owned())
    );
}

#[test]
fn listener_sets_add_listeners_to_nlb_gateways() {
    use ConditionStatus::True;
    let mut o = nlb_objects(vec![], vec![], vec![]);
    o.gateways[0].spec.allowed_listeners = Some(from(json!({"namespaces": {"from": "Same"}})));
    o.listener_sets.push(listener_set(
        "shop",
        "more",
        "2024-01-01T00:00:00Z",
        json!({"name": "nlb"}),
        json!([
            {"name": "cache", "port": 6379, "protocol": "TCP"},
            // The Gateway's `db` listener holds port 5432.
            {"name": "db2", "port": 5432, "protocol": "TCP"}
        ]),
    ));
    o.tcp_routes.push(l4_route(
        "shop",
        "cache",
        "2024-01-01T00:00:00Z",
        json!({"parentRefs": [{"kind": "ListenerSet", "name": "more", "sectionName": "cache"}],
               "rules": [{"backendRefs": [{"name": "redis", "port": 80}]}]}),
    ));
    let out = run(&o, &[("shop", "redis")]);
    let stack = &out.stacks[0];
    let cache = stack
        .listeners
        .iter()
        .find(|l| l.port == 6379)
        .expect("listener 6379");
    match &cache.default_actions[0] {
        ActionSpec::Forward { target_groups, .. } => assert!(
            target_groups[0]
                .id
                .as_deref()
                .unwrap()
                .contains("TCPRoute-shop-redis:80"),
            "{target_groups:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        set_listener_condition(&out.status, "shop/more", "db2", "Conflicted"),
        (True, "HostnameConflict".to_owned())
    );
    assert_eq!(
        set_listener_condition(&out.status, "shop/more", "cache", "Accepted"),
        (True, "Accepted".to_owned())
    );
    let cache_route = out
        .status
        .routes
        .iter()
        .find(|r| r.name == "cache")
        .unwrap();
    assert_eq!(
        cache_route.parents[0].listener_set.as_deref(),
        Some("shop/more")
    );
    assert_eq!(cache_route.parents[0].controller_name, NLB_CONTROLLER);
    assert_eq!(
        parent_condition(&out.status, "shop/cache", "Accepted"),
        (True, "Accepted".to_owned())
    );
}

#[test]
fn classes_and_configurations_in_use_by_gateways_of_ours() {
    let mut o = objects(
        vec![
            gateway("web", "edge", json!([http("main", 80)])),
            from(
                json!({"metadata": {"name": "nlb-gw", "namespace": "data", "deletionTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"gatewayClassName": "nlb", "listeners": [],
                    "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "own"}}}}),
            ),
            from(json!({"metadata": {"name": "theirs", "namespace": "web"},
                "spec": {"gatewayClassName": "other", "listeners": [],
                    "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "not-ours"}}}})),
        ],
        vec![],
    );
    let mut nlb = class("nlb", NLB_CONTROLLER);
    nlb.spec.parameters_ref = Some(from(
        json!({"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "shared", "namespace": "infra"}),
    ));
    o.classes.push(nlb);
    o.classes.push(class("other", "example.com/other"));
    o.classes.push(class("unused", ALB_CONTROLLER));
    let used = in_use(&o);
    assert_eq!(
        used.classes.into_iter().collect::<Vec<_>>(),
        ["alb", "nlb"],
        "another controller's class and a class no Gateway names are not in use"
    );
    assert_eq!(
        used.configurations.into_iter().collect::<Vec<_>>(),
        [
            ("data".to_owned(), "own".to_owned()),
            ("infra".to_owned(), "shared".to_owned())
        ],
        "a Gateway being deleted still uses its configuration; another controller's Gateway's does not count"
    );
}
