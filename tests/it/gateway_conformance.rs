//! The Gateway API conformance suite's HTTPRoute and GRPCRoute cases, ported: each case's
//! upstream manifests (`tests/fixtures/conformance/`, with the suite's base manifests) are read
//! as `plan -f` reads them, translated with `build_with_gateways`, and every request of the
//! case is evaluated against the planned listener of its Gateway with the ALB rule evaluator
//! of `core::route`; the answer (the Service behind the target group, a status code, a
//! redirect) must be the one the case expects. Where the case asserts route or listener status,
//! so does the table. Cases an ALB cannot express must come out `Accepted=False` or
//! `PartiallyInvalid` with the reason the table names (docs/gateway.md, the conformance table).
//!
//! Where an ALB answers differently from the specification and no status can say so (query
//! parameter names compared case-insensitively), the row says `ALB:` and asserts what the ALB
//! does, so the difference is pinned and documented rather than hidden.
//!
//! Offline, but for `conformance_cases_route_the_same_on_localstack`: three of the cases
//! applied to LocalStack, read back, and their requests evaluated on the rules AWS holds.
use std::path::{Path, PathBuf};

use aws_lb_operator::aws::execute::{ExecuteOptions, Outcome as Done};
use aws_lb_operator::cli::manifests::load_manifests;
use aws_lb_operator::pass::{apply, prepare};
use aws_lb_operator_core::model::{Scheme, Stack, TargetGroupRef, TargetType};
use aws_lb_operator_core::route::{evaluate, select_listener, Outcome, Request, RouteListener};
use aws_lb_operator_core::translate::gateway::status::{
    find, ConditionStatus, Statuses, ACCEPTED, PARTIALLY_INVALID, RESOLVED_REFS,
};
use aws_lb_operator_core::translate::{build_with_gateways, BuildConfig};

use crate::aws_apply::env_with;
use crate::localstack;

const INFRA: &str = "gateway-conformance-infra";
const WEB: &str = "gateway-conformance-web-backend";
const CLASS: &str = "conformance-alb";
/// The Gateway's address as the suite's client sends it when a case names no host.
const GATEWAY_HOST: &str = "gateway.conformance.test";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
}

/// A case translated: the stacks and the status of every object of ours.
struct Case {
    name: String,
    stacks: Vec<Stack>,
    status: Statuses,
}

/// Reads the base manifests and the case's files (`{GATEWAY_CLASS_NAME}` → our class; `edit`
/// applied to the case files' text), as `plan -f` does, and translates them (ip targets).
fn case_with(name: &str, files: &[&str], edit: &dyn Fn(String) -> String) -> Case {
    case_in("conformance", name, files, edit)
}

/// [`case_with`] for a cluster name (the names of what is built).
fn case_in(cluster: &str, name: &str, files: &[&str], edit: &dyn Fn(String) -> String) -> Case {
    let dir =
        std::env::temp_dir().join(format!("aws-lb-conformance-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let class = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: {CLASS}\nspec:\n  controllerName: gateway.k8s.aws/alb\n"
    );
    std::fs::write(dir.join("class.yaml"), class).unwrap();
    let base = std::fs::read_to_string(fixtures().join("base/manifests.yaml")).unwrap();
    std::fs::write(
        dir.join("base.yaml"),
        base.replace("{GATEWAY_CLASS_NAME}", CLASS),
    )
    .unwrap();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(fixtures().join(f)).unwrap();
        std::fs::write(
            dir.join(format!("case-{i}.yaml")),
            edit(text.replace("{GATEWAY_CLASS_NAME}", CLASS)),
        )
        .unwrap();
    }
    let m = load_manifests(std::slice::from_ref(&dir), false).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(m.errors.is_empty(), "{name}: {:?}", m.errors);
    let config = BuildConfig {
        default_target_type: TargetType::Ip,
        default_scheme: Scheme::InternetFacing,
        ..BuildConfig::new(cluster)
    };
    let (built, status) = build_with_gateways(&m.snapshot, &m.gateways, &config);
    Case {
        name: name.to_owned(),
        stacks: built.stacks,
        status,
    }
}

fn case(name: &str) -> Case {
    case_with(name, &[&format!("tests/{name}.yaml")], &|s| s)
}

/// One request of a case: host (`""`: the Gateway's address), path with query, headers
/// (`method` sets the method), and the expected answer: a Service (`name` in the
/// infrastructure namespace, else `namespace/name`; `a*70 b*30` for weighted forwards), a
/// status code (`404`), or a redirect (`302 http://example.org/x`).
type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

impl Case {
    fn stack(&self, gateway: &str) -> &Stack {
        let id = format!("gateway:{INFRA}/{gateway}");
        self.stacks
            .iter()
            .find(|s| s.id.to_string() == id)
            .unwrap_or_else(|| panic!("{}: no stack {id}", self.name))
    }

    /// Asserts every row of a table on `gateway`'s HTTP listener on port 80.
    fn check(&self, gateway: &str, rows: &[Row<'_>]) {
        self.check_on(gateway, "http", 80, rows);
    }

    /// Asserts every row of a table on `gateway`'s planned listener for `scheme`/`port`.
    fn check_on(&self, gateway: &str, scheme: &str, port: u16, rows: &[Row<'_>]) {
        let listeners: Vec<RouteListener> = self
            .stack(gateway)
            .listeners
            .iter()
            .map(RouteListener::from)
            .collect();
        let id = |t: &TargetGroupRef| t.id.clone().unwrap();
        check_rows(&self.name, &listeners, &id, scheme, port, rows);
    }

    /// `(status, reason)` of condition `type_` of route `kind ns/name` for its parent
    /// `gateway` (in the infrastructure namespace).
    fn route_condition(&self, kind: &str, route: &str, gateway: &str, type_: &str) -> String {
        let (ns, name) = route.split_once('/').unwrap_or((INFRA, route));
        let parent = format!("{INFRA}/{gateway}");
        let r = self
            .status
            .routes
            .iter()
            .find(|r| r.kind == kind && r.namespace == ns && r.name == name)
            .unwrap_or_else(|| panic!("{}: no status for {kind} {ns}/{name}", self.name));
        let p = r
            .parents
            .iter()
            .find(|p| p.gateway == parent && p.listener_set.is_none())
            .unwrap_or_else(|| panic!("{}: {kind} {ns}/{name} has no parent {parent}", self.name));
        match find(&p.conditions, type_) {
            Some(c) => format!("{}/{}", status_text(c.status), c.reason),
            None => "absent".to_owned(),
        }
    }

    /// Asserts the route is `Accepted=True` and `ResolvedRefs=True` on `gateway`, with every
    /// rule served (no `PartiallyInvalid`).
    fn accepted(&self, route: &str, gateway: &str) {
        self.accepted_kind("HTTPRoute", route, gateway);
    }

    fn accepted_kind(&self, kind: &str, route: &str, gateway: &str) {
        assert_eq!(
            [ACCEPTED, RESOLVED_REFS, PARTIALLY_INVALID]
                .map(|t| self.route_condition(kind, route, gateway, t)),
            [
                "True/Accepted".to_owned(),
                "True/ResolvedRefs".to_owned(),
                "absent".to_owned()
            ],
            "{}: {kind} {route} on {gateway}",
            self.name
        );
    }

    /// `status/reason` of condition `type_` of an HTTPRoute for its parent ListenerSet `set`
    /// (`namespace/name`, or a name in the infrastructure namespace).
    fn set_route_condition(&self, route: &str, set: &str, type_: &str) -> String {
        let set = if set.contains('/') {
            set.to_owned()
        } else {
            format!("{INFRA}/{set}")
        };
        let r = self
            .status
            .routes
            .iter()
            .find(|r| r.kind == "HTTPRoute" && r.namespace == INFRA && r.name == route)
            .unwrap_or_else(|| panic!("{}: no status for HTTPRoute {route}", self.name));
        let p = r
            .parents
            .iter()
            .find(|p| p.listener_set.as_deref() == Some(set.as_str()))
            .unwrap_or_else(|| panic!("{}: HTTPRoute {route} has no parent {set}", self.name));
        match find(&p.conditions, type_) {
            Some(c) => format!("{}/{}", status_text(c.status), c.reason),
            None => "absent".to_owned(),
        }
    }

    /// `[Accepted, Programmed]` of ListenerSet `set` (`namespace/name`, or a name in the
    /// infrastructure namespace) as `status/reason`.
    fn set_conditions(&self, set: &str) -> [String; 2] {
        let (ns, name) = set.split_once('/').unwrap_or((INFRA, set));
        let s = self
            .status
            .listener_sets
            .iter()
            .find(|s| s.namespace == ns && s.name == name)
            .unwrap_or_else(|| panic!("{}: no status for listenerset {ns}/{name}", self.name));
        ["Accepted", "Programmed"].map(|t| {
            find(&s.conditions, t)
                .map(|c| format!("{}/{}", status_text(c.status), c.reason))
                .unwrap_or_else(|| "absent".to_owned())
        })
    }

    /// `(attachedRoutes, [Accepted, Conflicted, ResolvedRefs, Programmed])` of listener
    /// `listener` of the ListenerSet `set` (`None`: of the Gateway `gateway`).
    fn listener_of(&self, gateway: &str, set: Option<&str>, listener: &str) -> (u32, [String; 4]) {
        let listeners = match set {
            None => {
                &self
                    .status
                    .gateways
                    .iter()
                    .find(|g| g.namespace == INFRA && g.name == gateway)
                    .unwrap_or_else(|| panic!("{}: no gateway {gateway}", self.name))
                    .listeners
            }
            Some(set) => {
                &self
                    .status
                    .listener_sets
                    .iter()
                    .find(|s| s.namespace == INFRA && s.name == set)
                    .unwrap_or_else(|| panic!("{}: no listenerset {set}", self.name))
                    .listeners
            }
        };
        let l = listeners
            .iter()
            .find(|l| l.name == listener)
            .unwrap_or_else(|| panic!("{}: no listener {listener} in {set:?}", self.name));
        (
            l.attached_routes,
            ["Accepted", "Conflicted", "ResolvedRefs", "Programmed"].map(|t| {
                find(&l.conditions, t)
                    .map(|c| format!("{}/{}", status_text(c.status), c.reason))
                    .unwrap_or_else(|| "absent".to_owned())
            }),
        )
    }

    /// `status.attachedListenerSets` of `gateway`.
    fn attached_sets(&self, gateway: &str) -> Option<u32> {
        self.status
            .gateways
            .iter()
            .find(|g| g.namespace == INFRA && g.name == gateway)
            .unwrap_or_else(|| panic!("{}: no gateway {gateway}", self.name))
            .attached_listener_sets
    }

    /// `attachedRoutes` of listener `listener` of `gateway`.
    fn attached(&self, gateway: &str, listener: &str) -> u32 {
        self.status
            .gateways
            .iter()
            .find(|g| g.namespace == INFRA && g.name == gateway)
            .and_then(|g| g.listeners.iter().find(|l| l.name == listener))
            .map(|l| l.attached_routes)
            .unwrap_or_else(|| panic!("{}: no listener {gateway}/{listener}", self.name))
    }
}

/// What answers `row`'s request on `listeners` for `scheme`/`port`; `id` gives the resource
/// id of a forwarded target group.
fn answer(
    listeners: &[RouteListener],
    id: &dyn Fn(&TargetGroupRef) -> String,
    scheme: &str,
    port: u16,
    row: &Row<'_>,
) -> String {
    let (host, target, headers, _) = *row;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // The evaluator takes the host without its port (as an ALB compares host-header).
    let host = if host.is_empty() { GATEWAY_HOST } else { host };
    let host = host.split(':').next().unwrap();
    let mut request = Request {
        scheme: scheme.into(),
        port,
        host: host.into(),
        path: path.into(),
        query: query.into(),
        method: "GET".into(),
        ..Default::default()
    };
    for (k, v) in headers {
        if *k == "method" {
            request.method = (*v).into();
        } else {
            request.headers.push(((*k).into(), (*v).into()));
        }
    }
    let Some(listener) = select_listener(listeners, &request) else {
        return format!("no {scheme} listener on {port}");
    };
    match evaluate(listener, &request).answer().unwrap() {
        Outcome::Forward { target_groups, .. } => target_groups
            .iter()
            .map(|t| {
                let backend = service_of(&id(t));
                if target_groups.len() == 1 {
                    backend
                } else {
                    format!("{backend}*{}", t.weight)
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Outcome::FixedResponse(f) => f.status_code.clone(),
        Outcome::Redirect {
            status_code,
            location,
        } => format!("{} {location}", status_code.trim_start_matches("HTTP_")),
        Outcome::Authenticate { .. } => "authenticate".to_owned(),
    }
}

/// Asserts every row (an `ALB:` answer is what an ALB does where the specification differs).
fn check_rows(
    name: &str,
    listeners: &[RouteListener],
    id: &dyn Fn(&TargetGroupRef) -> String,
    scheme: &str,
    port: u16,
    rows: &[Row<'_>],
) {
    let mut failures = Vec::new();
    for row in rows {
        let got = answer(listeners, id, scheme, port, row);
        let want = row.3.trim_start_matches("ALB: ");
        if got != want {
            failures.push(format!(
                "{name} {}{} {:?}: want {want}, got {got}",
                row.0, row.1, row.2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn status_text(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// The Service of a Gateway target group id
/// (`<gwNs>/<gw>:<routeNs>-<route>:<Kind>-<svcNs>-<svc>:<port>`): `svc` in the infrastructure
/// namespace, `ns/svc` in another of the suite's namespaces.
fn service_of(id: &str) -> String {
    let rest = id
        .split(":HTTPRoute-")
        .nth(1)
        .or_else(|| id.split(":GRPCRoute-").nth(1))
        .unwrap_or_else(|| panic!("not a route target group: {id}"));
    let (svc, _port) = rest.rsplit_once(':').unwrap();
    for ns in [INFRA, WEB, "gateway-conformance-app-backend"] {
        if let Some(name) = svc.strip_prefix(&format!("{ns}-")) {
            return if ns == INFRA {
                name.to_owned()
            } else {
                format!("{ns}/{name}")
            };
        }
    }
    panic!("backend outside the suite's namespaces: {id}")
}

const V1: &str = "infra-backend-v1";
const V2: &str = "infra-backend-v2";
const V3: &str = "infra-backend-v3";

const QUERY_PARAM_MATCHING: &[Row<'static>] = &[
    ("", "/?animal=whale", &[], V1),
    ("", "/?animal=dolphin", &[], V2),
    ("", "/?animal=dolphin&color=blue", &[], V3),
    // The specification compares query parameter names case-sensitively (and the
    // case expects infra-backend-v3 from the rule `ANIMAL=Whale`); an ALB's
    // query-string condition ignores case, so the earlier rule `animal=whale` answers.
    ("", "/?ANIMAL=Whale", &[], "ALB: infra-backend-v1"),
    ("", "/?animal=whale&otherparam=irrelevant", &[], V1),
    ("", "/?animal=dolphin&color=yellow", &[], V2),
    ("", "/?color=blue", &[], "404"),
    ("", "/?animal=dog", &[], "404"),
    ("", "/?animal=whaledolphin", &[], "404"),
    ("", "/", &[], "404"),
    ("", "/path1?animal=whale", &[], V1),
    ("", "/?animal=whale", &[("version", "one")], V2),
    ("", "/path2?animal=whale", &[("version", "two")], V3),
    ("", "/path3?animal=shark", &[], V1),
    ("", "/path4?animal=kraken", &[("version", "three")], V1),
    ("", "/?animal=shark", &[], "404"),
    ("", "/path4?animal=kraken", &[], "404"),
    ("", "/path5?animal=hydra", &[], V1),
    ("", "/?animal=hydra", &[("version", "four")], V3),
];

const HOSTNAME_INTERSECTION: &[Row<'static>] = &[
    ("very.specific.com", "/s1", &[], V1),
    ("very.specific.com:1234", "/s1", &[], V1),
    ("non.matching.com", "/s1", &[], "404"),
    ("foo.nonmatchingwildcard.io", "/s1", &[], "404"),
    ("foo.wildcard.io", "/s1", &[], "404"),
    ("very.specific.com", "/non-matching-prefix", &[], "404"),
    ("foo.wildcard.io", "/s2", &[], V2),
    ("bar.wildcard.io", "/s2", &[], V2),
    ("foo.bar.wildcard.io", "/s2", &[], V2),
    ("non.matching.com", "/s2", &[], "404"),
    ("wildcard.io", "/s2", &[], "404"),
    ("very.specific.com", "/s2", &[], "404"),
    ("foo.wildcard.io", "/non-matching-prefix", &[], "404"),
    ("very.specific.com", "/s3", &[], V3),
    ("non.matching.com", "/s3", &[], "404"),
    ("foo.specific.com", "/s3", &[], "404"),
    ("foo.wildcard.io", "/s3", &[], "404"),
    ("very.specific.com", "/non-matching-prefix", &[], "404"),
    ("foo.anotherwildcard.io", "/s4", &[], V1),
    ("bar.anotherwildcard.io", "/s4", &[], V1),
    ("foo.bar.anotherwildcard.io", "/s4", &[], V1),
    ("anotherwildcard.io", "/s4", &[], "404"),
    ("foo.wildcard.io", "/s4", &[], "404"),
    ("very.specific.com", "/s4", &[], "404"),
    ("foo.anotherwildcard.io", "/non-matching-prefix", &[], "404"),
    // The route that matches no listener hostname is not served.
    ("specific.but.wrong.com", "/s5", &[], "404"),
    ("wildcard.io", "/s5", &[], "404"),
];

const LISTENER_HOSTNAME_MATCHING: &[Row<'static>] = &[
    ("bar.com", "/", &[], V1),
    ("foo.bar.com", "/", &[], V2),
    ("baz.bar.com", "/", &[], V3),
    ("boo.bar.com", "/", &[], V3),
    ("multiple.prefixes.bar.com", "/", &[], V3),
    ("multiple.prefixes.foo.com", "/", &[], V3),
    ("foo.com", "/", &[], "404"),
    ("no.matching.host", "/", &[], "404"),
];

#[test]
fn http_route_simple_same_namespace() {
    let c = case("httproute-simple-same-namespace");
    c.accepted("gateway-conformance-infra-test", "same-namespace");
    c.check("same-namespace", &[("", "/", &[], V1)]);
}

#[test]
fn http_route_matching() {
    let c = case("httproute-matching");
    c.accepted("matching", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/", &[], V1),
            ("", "/example", &[], V1),
            ("", "/", &[("Version", "one")], V1),
            ("", "/v2", &[], V2),
            ("", "/v2/example", &[], V2),
            ("", "/", &[("Version", "two")], V2),
            ("", "/v2/", &[], V2),
            ("", "/v2example", &[], V1),
            ("", "/foo/v2/example", &[], V1),
        ],
    );
}

#[test]
fn http_route_exact_path_matching() {
    let c = case("httproute-exact-path-matching");
    c.accepted("exact-matching", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/one", &[], V1),
            ("", "/two", &[], V2),
            ("", "/", &[], "404"),
            ("", "/one/example", &[], "404"),
            ("", "/two/", &[], "404"),
            ("", "/Two", &[], "404"),
        ],
    );
}

#[test]
fn http_route_path_match_order() {
    let c = case("httproute-path-match-order");
    c.accepted("path-matching-order", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/match/exact/one", &[], V3),
            ("", "/match/exact", &[], V2),
            ("", "/match", &[], V1),
            ("", "/match/prefix/one/any", &[], V2),
            ("", "/match/prefix/any", &[], V1),
            ("", "/match/any", &[], V3),
        ],
    );
}

#[test]
fn http_route_matching_across_routes() {
    let c = case("httproute-matching-across-routes");
    c.accepted("matching-part1", "same-namespace");
    c.accepted("matching-part2", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("example.com", "/", &[], V1),
            ("example.com", "/example", &[], V1),
            ("example.net", "/example", &[], V1),
            ("example.com", "/example", &[("Version", "one")], V1),
            ("example.com", "/v2", &[], V2),
            ("example.net", "/v2", &[], V1),
            ("example.com", "/v2/example", &[], V2),
            ("example.com", "/", &[("Version", "two")], V2),
        ],
    );
}

#[test]
fn http_route_header_matching() {
    let c = case("httproute-header-matching");
    c.accepted("header-matching", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/", &[("Version", "one")], V1),
            ("", "/", &[("Version", "two")], V2),
            ("", "/", &[("Version", "two"), ("Color", "orange")], V1),
            ("", "/", &[("Version", "two"), ("Color", "blue")], V2),
            ("", "/", &[("Color", "orange")], "404"),
            ("", "/", &[("Some-Other-Header", "one")], "404"),
            ("", "/", &[("Color", "blue")], V1),
            ("", "/", &[("Color", "green")], V1),
            ("", "/", &[("Color", "red")], V2),
            ("", "/", &[("Color", "yellow")], V2),
            ("", "/", &[("Color", "purple")], "404"),
        ],
    );
}

#[test]
fn http_route_query_param_matching() {
    let c = case("httproute-query-param-matching");
    c.accepted("query-param-matching", "same-namespace");
    c.check("same-namespace", QUERY_PARAM_MATCHING);
}

#[test]
fn http_route_method_matching() {
    let c = case("httproute-method-matching");
    c.accepted("method-matching", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/", &[("method", "POST")], V1),
            ("", "/", &[("method", "GET")], V2),
            ("", "/", &[("method", "HEAD")], "404"),
            ("", "/path1", &[("method", "GET")], V1),
            ("", "/", &[("version", "one"), ("method", "PUT")], V2),
            ("", "/path2", &[("version", "two"), ("method", "POST")], V3),
            ("", "/path3", &[("method", "PATCH")], V1),
            (
                "",
                "/path4",
                &[("version", "three"), ("method", "DELETE")],
                V1,
            ),
            ("", "/", &[("method", "PUT")], "404"),
            ("", "/path4", &[("method", "DELETE")], "404"),
            ("", "/path5", &[("method", "PATCH")], V1),
            ("", "/", &[("version", "four"), ("method", "PATCH")], V2),
        ],
    );
}

#[test]
fn http_route_hostname_intersection() {
    let c = case("httproute-hostname-intersection");
    let gw = "httproute-hostname-intersection";
    for route in [
        "specific-host-matches-listener-specific-host",
        "specific-host-matches-listener-wildcard-host",
        "wildcard-host-matches-listener-specific-host",
        "wildcard-host-matches-listener-wildcard-host",
    ] {
        c.accepted(route, gw);
    }
    assert_eq!(
        c.route_condition("HTTPRoute", "no-intersecting-hosts", gw, ACCEPTED),
        "False/NoMatchingListenerHostname"
    );
    assert_eq!(
        ["listener-1", "listener-2", "listener-3"].map(|l| c.attached(gw, l)),
        [2, 1, 1],
        "only accepted routes are counted"
    );
    c.check(gw, HOSTNAME_INTERSECTION);
    let all = "httproute-hostname-intersection-all";
    c.accepted(all, all);
    c.check(
        all,
        &[
            ("first.com", "/", &[], V2),
            ("sub.first.com", "/", &[], V2),
            ("second.com", "/", &[], V2),
            ("sub.second.com", "/", &[], V2),
            ("third.com", "/", &[], "404"),
            ("sub.third.com", "/", &[], "404"),
        ],
    );
}

#[test]
fn http_route_listener_hostname_matching() {
    let c = case("httproute-listener-hostname-matching");
    let gw = "httproute-listener-hostname-matching";
    for route in ["backend-v1", "backend-v2", "backend-v3"] {
        c.accepted(route, gw);
    }
    c.check(gw, LISTENER_HOSTNAME_MATCHING);
}

#[test]
fn http_route_cross_namespace() {
    let c = case("httproute-cross-namespace");
    c.accepted(&format!("{WEB}/cross-namespace"), "backend-namespaces");
    c.check(
        "backend-namespaces",
        &[("", "/", &[], "gateway-conformance-web-backend/web-backend")],
    );
}

#[test]
fn http_route_reference_grant() {
    let c = case("httproute-reference-grant");
    c.accepted("reference-grant", "same-namespace");
    c.check(
        "same-namespace",
        &[("", "/", &[], "gateway-conformance-web-backend/web-backend")],
    );
    // The case then deletes the ReferenceGrant: the route's backend is refused, and the
    // request gets a 500.
    let without = case_with(
        "httproute-reference-grant-deleted",
        &["tests/httproute-reference-grant.yaml"],
        &|s| s.split("\n---\n").nth(1).unwrap().to_owned(),
    );
    assert_eq!(
        without.route_condition(
            "HTTPRoute",
            "reference-grant",
            "same-namespace",
            RESOLVED_REFS
        ),
        "False/RefNotPermitted"
    );
    without.check("same-namespace", &[("", "/", &[], "500")]);
}

#[test]
fn http_route_disallowed_kind() {
    let c = case("httproute-disallowed-kind");
    let gw = "tlsroutes-only";
    assert_eq!(
        c.route_condition("HTTPRoute", "disallowed-kind", gw, ACCEPTED),
        "False/NotAllowedByListeners"
    );
    assert_eq!(
        c.route_condition("HTTPRoute", "disallowed-kind", gw, RESOLVED_REFS),
        "True/ResolvedRefs"
    );
    assert_eq!(c.attached(gw, "tls"), 0);
}

#[test]
fn http_route_invalid_cross_namespace_backend_ref() {
    let c = case("httproute-invalid-cross-namespace-backend-ref");
    let route = "invalid-cross-namespace-backend-ref";
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| c.route_condition(
            "HTTPRoute",
            route,
            "same-namespace",
            t
        )),
        ["True/Accepted", "False/RefNotPermitted"]
    );
    c.check("same-namespace", &[("", "/", &[], "500")]);
}

#[test]
fn http_route_invalid_nonexistent_backend_ref() {
    let c = case("httproute-invalid-nonexistent-backendref");
    let route = "invalid-nonexistent-backend-ref";
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| c.route_condition(
            "HTTPRoute",
            route,
            "same-namespace",
            t
        )),
        ["True/Accepted", "False/BackendNotFound"]
    );
    c.check("same-namespace", &[("", "/", &[], "500")]);
}

#[test]
fn http_route_invalid_backend_ref_unknown_kind() {
    let c = case("httproute-invalid-backendref-unknown-kind");
    let route = "invalid-backend-ref-unknown-kind";
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| c.route_condition(
            "HTTPRoute",
            route,
            "same-namespace",
            t
        )),
        ["True/Accepted", "False/InvalidKind"]
    );
    c.check("same-namespace", &[("", "/v2", &[], "500")]);
}

#[test]
fn http_route_invalid_parent_ref_not_matching_section_name() {
    let c = case("httproute-invalid-parentref-not-matching-section-name");
    assert_eq!(
        c.route_condition(
            "HTTPRoute",
            "httproute-listener-not-matching-section-name",
            "same-namespace",
            ACCEPTED
        ),
        "False/NoMatchingParent"
    );
    assert_eq!(c.attached("same-namespace", "http"), 0);
}

#[test]
fn http_route_weight() {
    let c = case("httproute-weight");
    c.accepted("weighted-backends", "same-namespace");
    // The case sends 500 requests and expects shares near 70/30/0: the ALB forward carries
    // exactly those weights (weight 0 receives nothing).
    c.check(
        "same-namespace",
        &[(
            "",
            "/",
            &[],
            "infra-backend-v1*70 infra-backend-v2*30 infra-backend-v3*0",
        )],
    );
}

#[test]
fn http_route_redirect_host_and_status() {
    let c = case("httproute-redirect-host-and-status");
    c.accepted("redirect-host-and-status", "same-namespace");
    c.check(
        "same-namespace",
        &[
            (
                "",
                "/hostname-redirect",
                &[],
                "302 http://example.org/hostname-redirect",
            ),
            (
                "",
                "/host-and-status",
                &[],
                "301 http://example.org/host-and-status",
            ),
        ],
    );
}

#[test]
fn http_route_redirect_port() {
    let c = case("httproute-redirect-port");
    c.accepted("redirect-port", "same-namespace");
    let h = GATEWAY_HOST;
    c.check(
        "same-namespace",
        &[
            ("", "/port", &[], &format!("302 http://{h}:8083/port")),
            (
                "",
                "/port-and-host",
                &[],
                "302 http://example.org:8083/port-and-host",
            ),
            (
                "",
                "/port-and-status",
                &[],
                &format!("301 http://{h}:8083/port-and-status"),
            ),
            (
                "",
                "/port-and-host-and-status",
                &[],
                "302 http://example.org:8083/port-and-host-and-status",
            ),
        ],
    );
}

#[test]
fn http_route_redirect_scheme() {
    let c = case("httproute-redirect-scheme");
    c.accepted("redirect-scheme", "same-namespace");
    let h = GATEWAY_HOST;
    c.check(
        "same-namespace",
        &[
            ("", "/scheme", &[], &format!("302 https://{h}/scheme")),
            (
                "",
                "/scheme-and-host",
                &[],
                "302 https://example.org/scheme-and-host",
            ),
            (
                "",
                "/scheme-and-status",
                &[],
                &format!("301 https://{h}/scheme-and-status"),
            ),
            (
                "",
                "/scheme-and-host-and-status",
                &[],
                "302 https://example.org/scheme-and-host-and-status",
            ),
        ],
    );
}

/// HTTPRouteRedirectPath: `ReplaceFullPath` redirects pass; `ReplacePrefixMatch` has no ALB
/// redirect (its path is a fixed value or `#{path}`), so those rules are left out and the
/// route is `PartiallyInvalid`/`UnsupportedValue`.
#[test]
fn http_route_redirect_path() {
    let c = case("httproute-redirect-path");
    let route = "redirect-path";
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS, PARTIALLY_INVALID].map(|t| c.route_condition(
            "HTTPRoute",
            route,
            "same-namespace",
            t
        )),
        [
            "True/Accepted",
            "True/ResolvedRefs",
            "True/UnsupportedValue"
        ]
    );
    let h = GATEWAY_HOST;
    c.check(
        "same-namespace",
        &[
            (
                "",
                "/full/path/original",
                &[],
                &format!("302 http://{h}/full-path-replacement"),
            ),
            (
                "",
                "/full-path-and-host",
                &[],
                "302 http://example.org/replacement-full",
            ),
            (
                "",
                "/full-path-and-status",
                &[],
                &format!("301 http://{h}/replacement-full"),
            ),
            // Unsupported: the rules were left out.
            ("", "/original-prefix/lemon", &[], "404"),
            ("", "/path-and-host", &[], "404"),
            ("", "/path-and-status", &[], "404"),
        ],
    );
}

/// HTTPRouteRequestHeaderModifier (an Extended feature, ported for its status): an ALB has no
/// action that sets, adds or removes request headers, so every rule is left out and the route
/// is not accepted, with `UnsupportedValue`; nothing is forwarded without the headers.
#[test]
fn http_route_request_header_modifier_is_unsupported() {
    let c = case("httproute-request-header-modifier");
    assert_eq!(
        c.route_condition(
            "HTTPRoute",
            "request-header-modifier",
            "same-namespace",
            ACCEPTED
        ),
        "False/UnsupportedValue"
    );
    c.check("same-namespace", &[("", "/set", &[], "404")]);
}

const ECHO: &str = "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

/// The GRPCRoute cases attach to the suite's cleartext HTTP listener: an ALB cannot carry gRPC
/// there (no h2c; gRPC target groups need HTTPS), so the routes are `NotAllowedByListeners`.
/// Attached instead to an HTTPS Gateway (`adapted/grpc-https-gateway.yaml`), the same rules
/// route every request of the case as it expects.
fn grpc_case(name: &str, route: &str) -> Case {
    let c = case(name);
    assert_eq!(
        c.route_condition("GRPCRoute", route, "same-namespace", ACCEPTED),
        "False/NotAllowedByListeners"
    );
    let adapted = case_with(
        &format!("{name}-https"),
        &[
            "adapted/grpc-https-gateway.yaml",
            &format!("tests/{name}.yaml"),
        ],
        &|s| s.replace("  - name: same-namespace\n", "  - name: grpc-https\n"),
    );
    adapted.accepted_kind("GRPCRoute", route, "grpc-https");
    adapted
}

#[test]
fn grpc_exact_method_matching() {
    let c = grpc_case("grpcroute-exact-method-matching", "exact-matching");
    let grpc = &[("method", "POST"), ("content-type", "application/grpc")];
    c.check_on(
        "grpc-https",
        "https",
        443,
        &[
            ("", &format!("{ECHO}/Echo"), grpc, "grpc-infra-backend-v1"),
            (
                "",
                &format!("{ECHO}/EchoTwo"),
                grpc,
                "grpc-infra-backend-v2",
            ),
            // The case expects gRPC `Unimplemented`: what a gRPC client makes of the ALB's
            // HTTP 404 (gRPC's HTTP-status mapping).
            ("", &format!("{ECHO}/EchoThree"), grpc, "404"),
        ],
    );
}

#[test]
fn grpc_route_header_matching() {
    let c = grpc_case("grpcroute-header-matching", "grpc-header-matching");
    let path = format!("{ECHO}/Echo");
    let rows: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("version", "one")], "grpc-infra-backend-v1"),
        (vec![("version", "two")], "grpc-infra-backend-v2"),
        (
            vec![("version", "two"), ("color", "orange")],
            "grpc-infra-backend-v1",
        ),
        (
            vec![("version", "two"), ("color", "blue")],
            "grpc-infra-backend-v2",
        ),
        // `404`: gRPC `Unimplemented` for the client, as the case expects.
        (vec![("color", "orange")], "404"),
        (vec![("some-other-header", "one")], "404"),
        (vec![("color", "blue")], "grpc-infra-backend-v1"),
        (vec![("color", "green")], "grpc-infra-backend-v1"),
        (vec![("color", "red")], "grpc-infra-backend-v2"),
        (vec![("color", "yellow")], "grpc-infra-backend-v2"),
        (vec![("color", "purple")], "404"),
    ];
    for (mut headers, want) in rows {
        headers.push(("method", "POST"));
        headers.push(("content-type", "application/grpc"));
        c.check_on("grpc-https", "https", 443, &[("", &path, &headers, want)]);
    }
}

#[test]
fn http_route_invalid_cross_namespace_parent_ref() {
    let c = case("httproute-invalid-cross-namespace-parent-ref");
    let route = format!("{WEB}/invalid-cross-namespace-parent-ref");
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| c.route_condition(
            "HTTPRoute",
            &route,
            "same-namespace",
            t
        )),
        ["False/NotAllowedByListeners", "True/ResolvedRefs"]
    );
    assert_eq!(c.attached("same-namespace", "http"), 0);
}

#[test]
fn http_route_invalid_reference_grant() {
    let c = case("httproute-invalid-reference-grant");
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| c.route_condition(
            "HTTPRoute",
            "reference-grant",
            "same-namespace",
            t
        )),
        ["True/Accepted", "False/RefNotPermitted"],
        "none of the seven grants covers the backend"
    );
    c.check("same-namespace", &[("", "/", &[], "500")]);
}

#[test]
fn http_route_partially_invalid_via_invalid_reference_grant() {
    let c = case("httproute-partially-invalid-via-invalid-reference-grant");
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| {
            c.route_condition("HTTPRoute", "invalid-reference-grant", "same-namespace", t)
        }),
        ["True/Accepted", "False/RefNotPermitted"]
    );
    c.check(
        "same-namespace",
        &[
            ("", "/v2", &[], "500"),
            (
                "",
                "/",
                &[],
                "gateway-conformance-app-backend/app-backend-v1",
            ),
        ],
    );
}

#[test]
fn http_route_multiple_gateways() {
    let c = case("httproute-multiple-gateways");
    for gw in ["same-namespace", "all-namespaces"] {
        c.accepted("multiple-gateways-shared-route", gw);
    }
    c.accepted("same-namespace-dedicated-route", "same-namespace");
    c.accepted("all-namespaces-dedicated-route", "all-namespaces");
    c.check(
        "same-namespace",
        &[("", "/shared", &[], V1), ("", "/", &[], V2)],
    );
    c.check(
        "all-namespaces",
        &[("", "/shared", &[], V1), ("", "/", &[], V3)],
    );
}

#[test]
fn http_route_no_backend_refs() {
    let c = case("httproute-omitted-backendrefs");
    c.accepted("omitted-backendrefs", "same-namespace");
    c.check(
        "same-namespace",
        &[
            ("", "/forward", &[], V1),
            ("", "/omitted-no-forward", &[], "500"),
            ("", "/empty-no-forward", &[], "500"),
        ],
    );
}

/// HTTPRouteHTTPSListener: the suite's HTTPS listeners take their certificate from a Secret
/// (`tls.certificateRefs`), which an ALB cannot use (it takes ACM or IAM certificate ARNs from
/// the LoadBalancerConfiguration): every listener is `ResolvedRefs=False`,
/// `InvalidCertificateRef`, the Gateway `Accepted=False`, `ListenersNotValid`, nothing is
/// built, and the routes are pending on it.
#[test]
fn http_route_https_listener_is_unsupported_with_secret_certificates() {
    let c = case("httproute-https-listener");
    let gw = "same-namespace-with-https-listener";
    let g = c
        .status
        .gateways
        .iter()
        .find(|g| g.namespace == INFRA && g.name == gw)
        .unwrap();
    let accepted = find(&g.conditions, ACCEPTED).unwrap();
    assert_eq!(
        format!("{}/{}", status_text(accepted.status), accepted.reason),
        "False/ListenersNotValid"
    );
    for l in &g.listeners {
        let r = find(&l.conditions, RESOLVED_REFS).unwrap();
        assert_eq!(
            format!("{}/{}", status_text(r.status), r.reason),
            "False/InvalidCertificateRef",
            "listener {}",
            l.name
        );
        assert!(
            r.message.contains("an ALB takes no Secret"),
            "{}",
            r.message
        );
    }
    assert!(
        !c.stacks
            .iter()
            .any(|s| s.id.to_string() == format!("gateway:{INFRA}/{gw}")),
        "no stack"
    );
    for route in ["httproute-https-test", "httproute-https-test-no-hostname"] {
        assert_eq!(
            c.route_condition("HTTPRoute", route, gw, ACCEPTED),
            "Unknown/Pending"
        );
    }
}

/// Three cases on LocalStack: the Gateways of HTTPRouteQueryParamMatching,
/// HTTPRouteHostnameIntersection and HTTPRouteListenerHostnameMatching are applied through the
/// pass, their load balancers read back, and every request of the three cases is evaluated on
/// the listeners and rules AWS holds, with the answers the cases expect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases_route_the_same_on_localstack() {
    const REGION: &str = "eu-west-3";
    let clients = localstack::account_clients(REGION, 5872).await;
    let env = env_with(clients, REGION, "conform", 75).await;
    let c = case_in(
        &env.cluster,
        "localstack",
        &[
            "tests/httproute-query-param-matching.yaml",
            "tests/httproute-hostname-intersection.yaml",
            "tests/httproute-listener-hostname-matching.yaml",
        ],
        &|s| s,
    );
    let tables: [(&str, &[Row<'static>]); 3] = [
        ("same-namespace", QUERY_PARAM_MATCHING),
        ("httproute-hostname-intersection", HOSTNAME_INTERSECTION),
        (
            "httproute-listener-hostname-matching",
            LISTENER_HOSTNAME_MATCHING,
        ),
    ];
    let stacks: Vec<Stack> = tables.iter().map(|(gw, _)| c.stack(gw).clone()).collect();
    let prepared = prepare(&env.clients, &env.opts(false), &stacks)
        .await
        .unwrap();
    assert!(
        prepared.plan.errors.is_empty(),
        "{:?}",
        prepared.plan.errors
    );
    let report = apply(&env.clients, &prepared, &ExecuteOptions::default()).await;
    for (change, outcome) in prepared.plan.changes.iter().zip(&report.elb.outcomes) {
        assert!(
            matches!(outcome, Done::Done),
            "{} {}: {outcome:?}",
            change.operation(),
            change.resource
        );
    }
    let observed = env.observed().await;
    for ((gw, rows), desired) in tables.iter().zip(&stacks) {
        let id = desired.id.to_string();
        let o = observed
            .get(&id)
            .unwrap_or_else(|| panic!("{id} was not read back"));
        let lb = &o.load_balancers[0];
        let listeners: Vec<RouteListener> = lb.listeners.iter().map(RouteListener::from).collect();
        let rules: usize = listeners.iter().map(|l| l.rules.len()).sum();
        assert_eq!(
            rules,
            desired
                .listeners
                .iter()
                .map(|l| l.rules.len())
                .sum::<usize>(),
            "{gw}: every planned rule is deployed"
        );
        let resource_id = |t: &TargetGroupRef| {
            let arn = t.arn.as_deref().unwrap();
            let name = &o
                .target_groups
                .iter()
                .find(|tg| tg.arn == arn)
                .unwrap_or_else(|| panic!("{gw}: target group {arn} not read back"))
                .name;
            desired
                .target_groups
                .iter()
                .find(|tg| &tg.name == name)
                .unwrap_or_else(|| panic!("{gw}: target group {name} is not desired"))
                .id
                .clone()
        };
        check_rows(
            &format!("{gw} (read back)"),
            &listeners,
            &resource_id,
            "http",
            80,
            rows,
        );
    }
}

#[test]
fn http_route_listener_port_matching() {
    let c = case("httproute-listener-port-matching");
    let gw = "httproute-listener-port-matching";
    for route in ["backend-v1", "backend-v2", "backend-v3"] {
        c.accepted(route, gw);
    }
    c.check_on(gw, "http", 80, &[("foo.com", "/", &[], V1)]);
    c.check_on(
        gw,
        "http",
        8080,
        &[
            ("foo.com:8080", "/", &[], V2),
            ("bar.com:8080", "/", &[], V2),
        ],
    );
    c.check_on(
        gw,
        "http",
        8090,
        &[
            ("foo.com:8090", "/", &[], V3),
            ("bar.com:8090", "/", &[], "404"),
        ],
    );
}

#[test]
fn http_route_invalid_parent_ref_not_matching_listener_port() {
    let c = case("httproute-invalid-parentref-not-matching-listener-port");
    assert_eq!(
        [ACCEPTED, RESOLVED_REFS].map(|t| {
            c.route_condition(
                "HTTPRoute",
                "httproute-listener-not-matching-route-port",
                "same-namespace",
                t,
            )
        }),
        ["False/NoMatchingParent", "True/ResolvedRefs"]
    );
    assert_eq!(c.attached("same-namespace", "http"), 0);
}

#[test]
fn http_route_invalid_parent_ref_section_name_not_matching_port() {
    let c = case("httproute-invalid-parentref-section-name-not-matching-port");
    let gw = "gateway-with-one-not-matching-port-and-section-name-route";
    assert_eq!(
        c.route_condition(
            "HTTPRoute",
            "httproute-listener-section-name-not-matching-port",
            gw,
            ACCEPTED
        ),
        "False/NoMatchingParent"
    );
    assert_eq!(c.attached(gw, "http"), 0);
}

#[test]
fn grpc_route_weight() {
    let c = grpc_case("grpcroute-weight", "weighted-backends");
    c.check_on(
        "grpc-https",
        "https",
        443,
        &[(
            "",
            &format!("{ECHO}/Echo"),
            &[("method", "POST"), ("content-type", "application/grpc")],
            "grpc-infra-backend-v1*70 grpc-infra-backend-v2*30 grpc-infra-backend-v3*0",
        )],
    );
}

/// GRPCRouteListenerHostnameMatching: its Gateway's listeners are cleartext HTTP, where an
/// ALB cannot carry gRPC (`NotAllowedByListeners`); with the same listeners on HTTPS 443
/// (certificate from `adapted/grpc-https-gateway.yaml`'s LoadBalancerConfiguration) every
/// call reaches the backend the case expects.
#[test]
fn grpc_route_listener_hostname_matching() {
    let name = "grpcroute-listener-hostname-matching";
    let c = case(name);
    for route in ["backend-v1", "backend-v2", "backend-v3"] {
        assert_eq!(
            c.route_condition("GRPCRoute", route, name, ACCEPTED),
            "False/NotAllowedByListeners"
        );
    }
    let adapted = case_with(
        &format!("{name}-https"),
        &[
            "adapted/grpc-https-gateway.yaml",
            &format!("tests/{name}.yaml"),
        ],
        &|s| {
            s.replace(
                "port: 80\n    protocol: HTTP\n",
                "port: 443\n    protocol: HTTPS\n",
            )
            .replace(
                "  gatewayClassName: \"conformance-alb\"\n  listeners:\n  - name: listener-1",
                "  gatewayClassName: \"conformance-alb\"\n  infrastructure:\n    parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: grpc-https}\n  listeners:\n  - name: listener-1",
            )
        },
    );
    for route in ["backend-v1", "backend-v2", "backend-v3"] {
        adapted.accepted_kind("GRPCRoute", route, name);
    }
    let grpc = &[("method", "POST"), ("content-type", "application/grpc")];
    let path = format!("{ECHO}/Echo");
    adapted.check_on(
        name,
        "https",
        443,
        &[
            ("bar.com", &path, grpc, "grpc-infra-backend-v1"),
            ("foo.bar.com", &path, grpc, "grpc-infra-backend-v2"),
            ("baz.bar.com", &path, grpc, "grpc-infra-backend-v3"),
            ("boo.bar.com", &path, grpc, "grpc-infra-backend-v3"),
            (
                "multiple.prefixes.bar.com",
                &path,
                grpc,
                "grpc-infra-backend-v3",
            ),
            (
                "multiple.prefixes.foo.com",
                &path,
                grpc,
                "grpc-infra-backend-v3",
            ),
            ("foo.com", &path, grpc, "404"),
            ("no.matching.host", &path, grpc, "404"),
        ],
    );
}

/// HTTPRouteServiceTypes: backends that are headless Services and Services with hand-made
/// EndpointSlices. The case fills the slices with infra-backend-v1's pod addresses at run time;
/// here the IPv4 slices get one ready address instead, which must become the target of the
/// Service's target group (ip targets; the IPv6 slices add none: target groups are IPv4).
#[test]
fn http_route_service_types() {
    let name = "httproute-service-types";
    let c = case_with(name, &[&format!("tests/{name}.yaml")], &|s| {
        s.replace(
            "addressType: IPv4\nports:",
            "addressType: IPv4\nendpoints:\n- addresses: [\"10.9.0.1\"]\n  conditions: {ready: true}\nports:",
        )
    });
    c.accepted("service-types", "same-namespace");
    let services = [
        "manual-endpointslices",
        "headless",
        "headless-manual-endpointslices",
    ];
    let rows: Vec<(String, &str)> = services.iter().map(|s| (format!("/{s}"), *s)).collect();
    let rows: Vec<Row<'_>> = rows
        .iter()
        .map(|(p, s)| ("", p.as_str(), &[][..], *s))
        .collect();
    c.check("same-namespace", &rows);
    let targets = |svc: &str| -> Vec<String> {
        let suffix = format!(":HTTPRoute-{INFRA}-{svc}:8080");
        let tg = c
            .stack("same-namespace")
            .target_groups
            .iter()
            .find(|t| t.id.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no target group for {svc}"));
        tg.targets
            .iter()
            .map(|t| format!("{}:{}", t.id, t.port))
            .collect()
    };
    assert_eq!(targets("manual-endpointslices"), ["10.9.0.1:3000"]);
    assert_eq!(targets("headless-manual-endpointslices"), ["10.9.0.1:3000"]);
    assert!(
        targets("headless").is_empty(),
        "no EndpointSlice in the manifests for the selector's pods"
    );
}

// ListenerSet cases (standard channel, Gateway API v1.5). The listener conditions the suite
// asserts as `generateAcceptedListenerConditions` (Accepted, ResolvedRefs, Programmed True) are
// here `Programmed=Unknown/Pending`: the translation has no load balancer yet, the controller
// turns it `True` with the address (`src/controller/gateway_status.rs`).

/// A listener the suite expects accepted, before the load balancer is known.
fn accepted_listener() -> [String; 4] {
    [
        "True/Accepted",
        "False/NoConflicts",
        "True/ResolvedRefs",
        "Unknown/Pending",
    ]
    .map(str::to_owned)
}

fn conflicted_listener(reason: &str) -> [String; 4] {
    [
        format!("False/{reason}"),
        format!("True/{reason}"),
        "True/ResolvedRefs".to_owned(),
        format!("False/{reason}"),
    ]
}

#[test]
fn listener_set_http_routing() {
    let c = case("listenerset-http-routing");
    let gw = "gateway-with-listener-sets-http-routing";
    let (ls1, ls2) = ("listener-set-http-routing-1", "listener-set-http-routing-2");
    for route in [
        "attaches-to-all-listeners",
        "gateway-route",
        "gateway-section-route",
    ] {
        c.accepted(route, gw);
    }
    assert_eq!(c.attached_sets(gw), Some(2));
    for (set, routes) in [
        (
            ls1,
            &[
                "attaches-to-all-listeners",
                "listener-set-http-routing-1-route",
                "listener-set-http-routing-1-section-route",
            ][..],
        ),
        (
            ls2,
            &[
                "attaches-to-all-listeners",
                "listener-set-http-routing-2-route",
            ][..],
        ),
    ] {
        assert_eq!(
            c.set_conditions(set),
            ["True/Accepted".to_owned(), "Unknown/Pending".to_owned()]
        );
        for route in routes {
            assert_eq!(
                [ACCEPTED, RESOLVED_REFS].map(|t| c.set_route_condition(route, set, t)),
                ["True/Accepted".to_owned(), "True/ResolvedRefs".to_owned()],
                "{route} on {set}"
            );
        }
    }
    for (set, listener, attached) in [
        (ls1, "listener-set-http-routing-1-listener-1", 3),
        (ls1, "listener-set-http-routing-1-listener-2", 2),
        (ls2, "listener-set-http-routing-2-listener-1", 2),
        (ls2, "listener-set-http-routing-2-listener-2", 2),
    ] {
        assert_eq!(
            c.listener_of(gw, Some(set), listener),
            (attached, accepted_listener()),
            "{set}/{listener}"
        );
    }
    let hosts = [
        "gateway-listener-1.com",
        "gateway-listener-2.com",
        "listener-set-http-routing-1-listener-1.com",
        "listener-set-http-routing-1-listener-2.com",
        "listener-set-http-routing-2-listener-1.com",
        "listener-set-http-routing-2-listener-2.com",
    ];
    let mut rows: Vec<(&str, &str, &str)> = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let on_gateway = i < 2;
        rows.push((host, "/route", V1));
        rows.push((host, "/gateway-route", if on_gateway { V2 } else { "404" }));
        rows.push((
            host,
            "/gateway-section-route",
            if i == 0 { V3 } else { "404" },
        ));
    }
    for (i, host) in hosts.iter().enumerate() {
        rows.push((
            host,
            "/listener-set-http-routing-1-route",
            if i == 2 || i == 3 { V2 } else { "404" },
        ));
        rows.push((
            host,
            "/listener-set-http-routing-1-section-route",
            if i == 2 { V3 } else { "404" },
        ));
        rows.push((
            host,
            "/listener-set-http-routing-2-route",
            if i >= 4 { V2 } else { "404" },
        ));
    }
    let rows: Vec<Row<'_>> = rows.iter().map(|(h, p, w)| (*h, *p, &[][..], *w)).collect();
    c.check(gw, &rows);
}

#[test]
fn listener_set_hostname_and_protocol_conflicts() {
    for (file, gw, reason, prefix) in [
        (
            "listenerset-hostname-conflict",
            "gateway-with-listenerset-hostname-conflict",
            "HostnameConflict",
            "listenerset-with-hostname-conflict",
        ),
        (
            "listenerset-protocol-conflict",
            "gateway-with-listenerset-protocol-conflict",
            "ProtocolConflict",
            "listenerset-with-protocol-conflict",
        ),
    ] {
        let c = case(file);
        let kind = if reason == "HostnameConflict" {
            "hostname"
        } else {
            "protocol"
        };
        let with_gw = format!("{kind}-conflict-with-gateway-listener");
        let with_set = format!("{kind}-conflict-with-listener-set-listener");
        assert_eq!(
            c.status
                .gateways
                .iter()
                .find(|g| g.name == gw)
                .and_then(|g| find(&g.conditions, ACCEPTED))
                .map(|a| a.status),
            Some(ConditionStatus::True),
            "{file}"
        );
        for l in ["gateway-listener", with_gw.as_str()] {
            assert_eq!(
                c.listener_of(gw, None, l),
                (0, accepted_listener()),
                "{file}: {l}"
            );
        }
        assert_eq!(c.attached_sets(gw), Some(2), "{file}");
        let set = |n: &str| format!("{prefix}-{n}");
        let accepted_set = [
            "True/ListenersNotValid".to_owned(),
            "Unknown/Pending".to_owned(),
        ];
        let refused_set = [
            "False/ListenersNotValid".to_owned(),
            "False/ListenersNotValid".to_owned(),
        ];
        assert_eq!(
            c.set_conditions(&set("with-gateway-1")),
            accepted_set,
            "{file}"
        );
        assert_eq!(
            c.set_conditions(&set("with-gateway-2")),
            refused_set,
            "{file}"
        );
        assert_eq!(
            c.set_conditions(&set("with-listener-set-1")),
            accepted_set,
            "{file}"
        );
        assert_eq!(
            c.set_conditions(&set("with-listener-set-2")),
            refused_set,
            "{file}"
        );
        for (s, l, want) in [
            (
                "with-gateway-1",
                "listener-set-1-listener",
                accepted_listener(),
            ),
            (
                "with-gateway-1",
                with_gw.as_str(),
                conflicted_listener(reason),
            ),
            ("with-gateway-1", with_set.as_str(), accepted_listener()),
            (
                "with-gateway-2",
                with_gw.as_str(),
                conflicted_listener(reason),
            ),
            (
                "with-listener-set-1",
                "listener-set-2-listener",
                accepted_listener(),
            ),
            (
                "with-listener-set-1",
                with_set.as_str(),
                conflicted_listener(reason),
            ),
            (
                "with-listener-set-2",
                with_set.as_str(),
                conflicted_listener(reason),
            ),
        ] {
            assert_eq!(
                c.listener_of(gw, Some(&set(s)), l).1,
                want,
                "{file}: {s}/{l}"
            );
        }
    }
}

#[test]
fn listener_set_allowed_namespaces() {
    let not_allowed = ["False/NotAllowed".to_owned(), "False/NotAllowed".to_owned()];
    let c = case("listenerset-default-not-allowed");
    assert_eq!(
        c.attached_sets("gateway-default-does-not-allow-listenerset"),
        Some(0)
    );
    assert_eq!(
        c.set_conditions("listenerset-default-not-allowed"),
        not_allowed
    );
    let c = case("listenerset-allowed-namespace-none");
    assert_eq!(
        c.attached_sets("gateway-does-not-allow-listenerset"),
        Some(0)
    );
    assert_eq!(c.set_conditions("listenerset-not-allowed"), not_allowed);
    for (file, gw, allowed, refused) in [
        (
            "listenerset-allowed-namespace-same",
            "gateway-allows-listenerset-in-same-namespace",
            format!("{INFRA}/listenerset-in-same-namespace"),
            "gateway-api-listenerset-not-allowed-ns/listenerset-in-different-namespace",
        ),
        (
            "listenerset-allowed-namespace-selector",
            "gateway-allows-listenerset-in-selected-namespace",
            "gateway-api-listenerset-selector-allowed-ns/listenerset-in-selected-namespace"
                .to_owned(),
            "gateway-api-listenerset-selector-not-allowed-ns/listenerset-not-in-selected-namespace",
        ),
    ] {
        let c = case(file);
        assert_eq!(c.attached_sets(gw), Some(1), "{file}");
        assert_eq!(
            c.set_conditions(&allowed),
            ["True/Accepted".to_owned(), "Unknown/Pending".to_owned()],
            "{file}"
        );
        assert_eq!(c.set_conditions(refused), not_allowed, "{file}");
    }
}

#[test]
fn listener_set_route_status_is_scoped_to_the_parent_ref() {
    let c = case("listenerset-route-status-scoped-to-parentref");
    let gw = "gateway-parentref";
    assert_eq!(c.attached_sets(gw), Some(1));
    assert_eq!(
        c.listener_of(
            gw,
            Some("listenerset-parentref"),
            "listenerset-parentref-listener"
        ),
        (1, accepted_listener())
    );
    c.accepted("route-parentref-gwonly", gw);
    assert_eq!(
        c.set_route_condition("route-parentref-lsonly", "listenerset-parentref", ACCEPTED),
        "True/Accepted"
    );
    // One parent each: the one the route names.
    for (route, parents) in [("route-parentref-gwonly", 1), ("route-parentref-lsonly", 1)] {
        let r = c.status.routes.iter().find(|r| r.name == route).unwrap();
        assert_eq!(r.parents.len(), parents, "{route}");
    }
    c.check(
        gw,
        &[
            ("gw-parentref.com", "/gwonly", &[], V1),
            ("listenerset-parentref.com", "/gwonly", &[], "404"),
            ("listenerset-parentref.com", "/lsonly", &[], V2),
            ("gw-parentref.com", "/lsonly", &[], "404"),
        ],
    );
}

#[test]
fn listener_set_gateway_parent_section_name_not_found() {
    let c = case("listenerset-gateway-parent-section-name-not-found");
    let gw = "gateway-section-name";
    assert_eq!(c.attached_sets(gw), Some(1));
    assert_eq!(
        c.set_route_condition(
            "route-via-listenerset",
            "listenerset-section-name",
            ACCEPTED
        ),
        "True/Accepted"
    );
    assert_eq!(
        c.route_condition("HTTPRoute", "route-via-gateway", gw, ACCEPTED),
        "False/NoMatchingParent"
    );
    c.check(
        gw,
        &[
            ("ls-section-name.com", "/goodsection", &[], V1),
            ("gw-section.com", "/badsection", &[], "404"),
        ],
    );
}

#[test]
fn listener_set_dual_parent_ref_independence() {
    let c = case("listenerset-dual-parentref-independence");
    let gw = "gateway-dual-parentref";
    let set = "ls-dual-parentref";
    assert_eq!(c.attached_sets(gw), Some(1));
    assert_eq!(
        c.listener_of(gw, Some(set), "ls-dual-parentref-listener"),
        (2, accepted_listener())
    );
    c.accepted("route-dual-parentref-both", gw);
    assert_eq!(
        c.set_route_condition("route-dual-parentref-both", set, ACCEPTED),
        "True/Accepted"
    );
    // The Gateway parentRef names the ListenerSet's listener: no such listener on the Gateway;
    // the ListenerSet parentRef is accepted all the same.
    assert_eq!(
        c.route_condition("HTTPRoute", "route-dual-parentref-one", gw, ACCEPTED),
        "False/NoMatchingParent"
    );
    assert_eq!(
        c.set_route_condition("route-dual-parentref-one", set, ACCEPTED),
        "True/Accepted"
    );
    c.check(
        gw,
        &[
            ("gw-dual.com", "/dualboth", &[], V1),
            ("ls-dual.com", "/dualboth", &[], V1),
            ("ls-dual.com", "/dualone", &[], V2),
            ("gw-dual.com", "/dualone", &[], "404"),
        ],
    );
}
