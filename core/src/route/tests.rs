//! Table tests of the evaluator against the examples of AWS's "Condition types for listener
//! rules" and "Listener rules for your Application Load Balancer" pages.
use super::*;
use crate::model::{QueryStringKeyValue, RedirectSpec};

fn req(url_path: &str) -> Request {
    let (path, query) = url_path.split_once('?').unwrap_or((url_path, ""));
    Request {
        scheme: "http".into(),
        port: 80,
        host: "www.example.com".into(),
        path: path.into(),
        query: query.into(),
        method: "GET".into(),
        headers: Vec::new(),
        source_ip: None,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn host(v: &[&str]) -> ConditionSpec {
    ConditionSpec::HostHeader { values: strings(v) }
}
fn path(v: &[&str]) -> ConditionSpec {
    ConditionSpec::PathPattern { values: strings(v) }
}
fn header(name: &str, v: &[&str]) -> ConditionSpec {
    ConditionSpec::HttpHeader {
        http_header_name: name.into(),
        values: strings(v),
    }
}
fn method(v: &[&str]) -> ConditionSpec {
    ConditionSpec::HttpRequestMethod { values: strings(v) }
}
fn query(v: &[(Option<&str>, &str)]) -> ConditionSpec {
    ConditionSpec::QueryString {
        values: v
            .iter()
            .map(|(k, v)| QueryStringKeyValue {
                key: k.map(str::to_owned),
                value: (*v).to_owned(),
            })
            .collect(),
    }
}
fn source(v: &[&str]) -> ConditionSpec {
    ConditionSpec::SourceIp { values: strings(v) }
}

#[test]
fn each_condition_type_follows_the_documented_semantics() {
    struct Case {
        name: &'static str,
        condition: ConditionSpec,
        request: Request,
        matches: bool,
    }
    let with = |f: &dyn Fn(&mut Request)| {
        let mut r = req("/");
        f(&mut r);
        r
    };
    let cases = [
        // Host conditions: not case-sensitive; `*` zero or more, `?` exactly one character.
        Case {
            name: "host exact",
            condition: host(&["example.com"]),
            request: with(&|r| r.host = "example.com".into()),
            matches: true,
        },
        Case {
            name: "host is case-insensitive",
            condition: host(&["example.com"]),
            request: with(&|r| r.host = "EXAMPLE.com".into()),
            matches: true,
        },
        Case {
            name: "host pattern written in upper case",
            condition: host(&["*.EXAMPLE.COM"]),
            request: with(&|r| r.host = "test.example.com".into()),
            matches: true,
        },
        Case {
            name: "*.example.com matches test.example.com",
            condition: host(&["*.example.com"]),
            request: with(&|r| r.host = "test.example.com".into()),
            matches: true,
        },
        Case {
            name: "*.example.com does not match example.com",
            condition: host(&["*.example.com"]),
            request: with(&|r| r.host = "example.com".into()),
            matches: false,
        },
        Case {
            name: "host * spans labels",
            condition: host(&["*.example.com"]),
            request: with(&|r| r.host = "a.b.example.com".into()),
            matches: true,
        },
        Case {
            name: "host ? is exactly one character",
            condition: host(&["www?.example.com"]),
            request: with(&|r| r.host = "www1.example.com".into()),
            matches: true,
        },
        Case {
            name: "host ? is not zero characters",
            condition: host(&["www?.example.com"]),
            request: with(&|r| r.host = "www.example.com".into()),
            matches: false,
        },
        Case {
            name: "host port is ignored",
            condition: host(&["example.com"]),
            request: with(&|r| r.host = "example.com:8080".into()),
            matches: true,
        },
        Case {
            name: "host values are alternatives",
            condition: host(&["a.example.com", "www.example.com"]),
            request: req("/"),
            matches: true,
        },
        // Path conditions: case-sensitive, compared with the path only.
        Case {
            name: "/img/* matches /img/logo.png",
            condition: path(&["/img/*"]),
            request: req("/img/logo.png"),
            matches: true,
        },
        Case {
            name: "/img/* does not match /img (no slash)",
            condition: path(&["/img/*"]),
            request: req("/img"),
            matches: false,
        },
        Case {
            name: "/img/*/pics matches /img/2019/pics",
            condition: path(&["/img/*/pics"]),
            request: req("/img/2019/pics"),
            matches: true,
        },
        Case {
            name: "path is case-sensitive",
            condition: path(&["/img/*"]),
            request: req("/IMG/logo.png"),
            matches: false,
        },
        Case {
            name: "path ignores the query string",
            condition: path(&["/search"]),
            request: req("/search?q=shoes"),
            matches: true,
        },
        Case {
            name: "path pattern never sees the query",
            condition: path(&["*q=shoes"]),
            request: req("/search?q=shoes"),
            matches: false,
        },
        Case {
            name: "path ? is one character",
            condition: path(&["/v?/items"]),
            request: req("/v2/items"),
            matches: true,
        },
        // HTTP header conditions: name and values not case-sensitive, wildcards allowed.
        Case {
            name: "User-Agent *Chrome*",
            condition: header("User-Agent", &["*Chrome*", "*Safari*"]),
            request: with(&|r| {
                r.headers = vec![("user-agent".into(), "Mozilla/5.0 chrome/120".into())]
            }),
            matches: true,
        },
        Case {
            name: "header absent",
            condition: header("User-Agent", &["*"]),
            request: req("/"),
            matches: false,
        },
        Case {
            name: "header value mismatch",
            condition: header("X-Env", &["prod"]),
            request: with(&|r| r.headers = vec![("X-Env".into(), "staging".into())]),
            matches: false,
        },
        Case {
            name: "any of repeated header values",
            condition: header("X-Env", &["prod"]),
            request: with(&|r| {
                r.headers = vec![
                    ("X-Env".into(), "staging".into()),
                    ("x-env".into(), "PROD".into()),
                ]
            }),
            matches: true,
        },
        // Method conditions: case-sensitive, no wildcards.
        Case {
            name: "method GET",
            condition: method(&["GET", "HEAD"]),
            request: req("/"),
            matches: true,
        },
        Case {
            name: "method is case-sensitive",
            condition: method(&["get"]),
            request: req("/"),
            matches: false,
        },
        Case {
            name: "method has no wildcards",
            condition: method(&["G*"]),
            request: req("/"),
            matches: false,
        },
        Case {
            name: "custom method",
            condition: method(&["CUSTOM-METHOD"]),
            request: with(&|r| r.method = "CUSTOM-METHOD".into()),
            matches: true,
        },
        // Query string conditions: key/value pairs or values, not case-sensitive, wildcards.
        Case {
            name: "version=v1",
            condition: query(&[(Some("version"), "v1")]),
            request: req("/?version=v1"),
            matches: true,
        },
        Case {
            name: "query is case-insensitive",
            condition: query(&[(Some("version"), "v1")]),
            request: req("/?VERSION=V1"),
            matches: true,
        },
        Case {
            name: "value only *example*",
            condition: query(&[(None, "*example*")]),
            request: req("/?a=1&site=myexample.org"),
            matches: true,
        },
        Case {
            name: "query key must match",
            condition: query(&[(Some("version"), "v1")]),
            request: req("/?release=v1"),
            matches: false,
        },
        Case {
            name: "no query string",
            condition: query(&[(Some("version"), "*")]),
            request: req("/"),
            matches: false,
        },
        Case {
            name: "query is percent-decoded",
            condition: query(&[(Some("q"), "a b")]),
            request: req("/?q=a%20b"),
            matches: true,
        },
        Case {
            name: "escaped * is literal",
            condition: query(&[(Some("q"), "a\\*")]),
            request: req("/?q=a*"),
            matches: true,
        },
        Case {
            name: "escaped * does not wildcard",
            condition: query(&[(Some("q"), "a\\*")]),
            request: req("/?q=abc"),
            matches: false,
        },
        Case {
            name: "query values are alternatives",
            condition: query(&[(Some("v"), "1"), (Some("v"), "2")]),
            request: req("/?v=2"),
            matches: true,
        },
        // Source IP conditions: CIDR, IPv4 and IPv6.
        Case {
            name: "192.0.2.0/24 contains 192.0.2.10",
            condition: source(&["192.0.2.0/24", "198.51.100.10/32"]),
            request: with(&|r| r.source_ip = "192.0.2.10".parse().ok()),
            matches: true,
        },
        Case {
            name: "/32 is one address",
            condition: source(&["198.51.100.10/32"]),
            request: with(&|r| r.source_ip = "198.51.100.11".parse().ok()),
            matches: false,
        },
        Case {
            name: "IPv6 CIDR",
            condition: source(&["2001:db8::/32"]),
            request: with(&|r| r.source_ip = "2001:db8:1::5".parse().ok()),
            matches: true,
        },
        Case {
            name: "IPv4 client, IPv6 CIDR",
            condition: source(&["2001:db8::/32"]),
            request: with(&|r| r.source_ip = "192.0.2.1".parse().ok()),
            matches: false,
        },
        Case {
            name: "unknown source never matches",
            condition: source(&["0.0.0.0/0"]),
            request: req("/"),
            matches: false,
        },
    ];
    for c in cases {
        assert_eq!(
            condition_failure(&c.condition, &c.request).is_none(),
            c.matches,
            "{}",
            c.name
        );
    }
}

fn tg(id: &str, weight: u32) -> TargetGroupRef {
    TargetGroupRef {
        id: Some(id.into()),
        arn: None,
        name: None,
        weight,
    }
}
fn forward(ids: &[(&str, u32)]) -> ActionSpec {
    ActionSpec::Forward {
        target_groups: ids.iter().map(|(i, w)| tg(i, *w)).collect(),
        stickiness: None,
    }
}
fn rule(priority: u32, conditions: Vec<ConditionSpec>, to: &str) -> RouteRule {
    RouteRule {
        priority,
        conditions: conditions.into_iter().map(RouteCondition::from).collect(),
        actions: vec![forward(&[(to, 1)])],
    }
}
fn forwarded_to(e: &Evaluation) -> Vec<String> {
    match e.answer() {
        Some(Outcome::Forward { target_groups, .. }) => target_groups
            .iter()
            .map(|t| format!("{}={}", t.id.as_deref().unwrap_or("?"), t.weight))
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

#[test]
fn rules_are_tried_lowest_priority_first_and_all_conditions_must_hold() {
    let listener = RouteListener {
        port: 80,
        protocol: "HTTP".into(),
        // Deliberately out of order: evaluation sorts by priority.
        rules: vec![
            rule(20, vec![path(&["/api/*"])], "api"),
            rule(
                10,
                vec![
                    host(&["www.example.com"]),
                    path(&["/api/v2/*"]),
                    method(&["POST"]),
                ],
                "v2-writes",
            ),
            rule(
                5,
                // Five match evaluations in one rule (the documented per-rule limit), all required.
                vec![
                    host(&["www.example.com"]),
                    path(&["/api/*"]),
                    header("X-Canary", &["yes"]),
                    query(&[(Some("debug"), "1")]),
                    source(&["10.0.0.0/8"]),
                ],
                "canary",
            ),
        ],
        default_actions: vec![forward(&[("default", 1)])],
    };
    let post = {
        let mut r = req("/api/v2/cart");
        r.method = "POST".into();
        r
    };
    let e = evaluate(&listener, &post);
    assert_eq!(e.priority, Some(10));
    assert_eq!(forwarded_to(&e), ["v2-writes=1"]);
    assert_eq!(e.tried.len(), 1);
    assert_eq!(e.tried[0].priority, 5);
    assert_eq!(e.tried[0].reason, "no header X-Canary");

    let e = evaluate(&listener, &req("/api/v2/cart"));
    assert_eq!(e.priority, Some(20));
    assert_eq!(e.tried[1].reason, "method \"GET\" is none of \"POST\"");

    let mut canary = req("/api/x?debug=1");
    canary.headers = vec![("x-canary".into(), "YES".into())];
    canary.source_ip = "10.1.2.3".parse().ok();
    assert_eq!(evaluate(&listener, &canary).priority, Some(5));
    canary.source_ip = "11.1.2.3".parse().ok();
    let e = evaluate(&listener, &canary);
    assert_eq!(e.priority, Some(20));
    assert_eq!(
        e.tried[0].reason,
        "source IP 11.1.2.3 is in none of 10.0.0.0/8"
    );

    let e = evaluate(&listener, &req("/other"));
    assert_eq!(e.priority, None);
    assert!(e.conditions.is_empty());
    assert_eq!(forwarded_to(&e), ["default=1"]);
    assert_eq!(
        e.tried.iter().map(|m| m.priority).collect::<Vec<_>>(),
        [5, 10, 20]
    );
    assert_eq!(
        e.tried[2].reason,
        "path \"/other\" matches none of \"/api/*\""
    );
}

#[test]
fn weighted_forward_returns_every_target_group_with_its_weight() {
    let listener = RouteListener {
        port: 443,
        protocol: "HTTPS".into(),
        rules: vec![RouteRule {
            priority: 1,
            conditions: vec![path(&["/products*"]).into()],
            actions: vec![forward(&[
                ("catalog", 90),
                ("catalog-next", 10),
                ("dark", 0),
            ])],
        }],
        default_actions: vec![],
    };
    let mut r = req("/products/42");
    r.scheme = "https".into();
    r.port = 443;
    assert_eq!(
        forwarded_to(&evaluate(&listener, &r)),
        ["catalog=90", "catalog-next=10", "dark=0"]
    );
}

#[test]
fn redirects_resolve_their_placeholders_and_fixed_responses_pass_through() {
    let redirect = |protocol: &str, port: &str, host: &str, path: &str, query: &str| {
        ActionSpec::Redirect(RedirectSpec {
            protocol: protocol.into(),
            port: port.into(),
            host: host.into(),
            path: path.into(),
            query: query.into(),
            status_code: "HTTP_301".into(),
        })
    };
    let r = {
        let mut r = req("/cart/items?id=7&x=y");
        r.host = "Shop.Example.com".into();
        r
    };
    let cases = [
        (
            "ssl-redirect",
            redirect("HTTPS", "443", "#{host}", "/#{path}", "#{query}"),
            "https://Shop.Example.com/cart/items?id=7&x=y",
        ),
        (
            "all placeholders (the API defaults)",
            redirect("#{protocol}", "#{port}", "#{host}", "/#{path}", "#{query}"),
            "http://Shop.Example.com/cart/items?id=7&x=y",
        ),
        (
            "non-default port is kept",
            redirect("HTTPS", "8443", "#{host}", "/#{path}", "#{query}"),
            "https://Shop.Example.com:8443/cart/items?id=7&x=y",
        ),
        (
            "new host and path, query dropped",
            redirect("HTTPS", "443", "www.example.org", "/new/#{path}", ""),
            "https://www.example.org/new/cart/items",
        ),
        (
            "placeholders inside values",
            redirect(
                "HTTPS",
                "#{port}",
                "#{host}.eu",
                "/#{path}",
                "#{query}&from=us",
            ),
            "https://Shop.Example.com.eu:80/cart/items?id=7&x=y&from=us",
        ),
    ];
    for (name, action, location) in cases {
        assert_eq!(
            apply(&action, &r),
            Outcome::Redirect {
                status_code: "HTTP_301".into(),
                location: location.into()
            },
            "{name}"
        );
    }
    let fixed = ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "404".into(),
        content_type: Some("text/plain".into()),
        message_body: Some("no".into()),
    });
    let listener = RouteListener {
        port: 80,
        protocol: "HTTP".into(),
        rules: vec![],
        default_actions: vec![fixed.clone()],
    };
    let e = evaluate(&listener, &r);
    assert_eq!(e.priority, None);
    let ActionSpec::FixedResponse(f) = fixed else {
        unreachable!()
    };
    assert_eq!(e.answer(), Some(&Outcome::FixedResponse(f)));
}

#[test]
fn listeners_are_chosen_by_port_and_protocol() {
    let l = |port: u16, protocol: &str| RouteListener {
        port,
        protocol: protocol.into(),
        rules: vec![],
        default_actions: vec![forward(&[(protocol, 1)])],
    };
    let listeners = [
        l(80, "HTTP"),
        l(443, "HTTPS"),
        l(53, "UDP"),
        l(8443, "TLS"),
        l(9000, "TCP_UDP"),
    ];
    let pick = |scheme: &str, port: u16| {
        let mut r = req("/");
        r.scheme = scheme.into();
        r.port = port;
        select_listener(&listeners, &r).map(|l| l.protocol.clone())
    };
    assert_eq!(pick("http", 80).as_deref(), Some("HTTP"));
    assert_eq!(pick("https", 443).as_deref(), Some("HTTPS"));
    assert_eq!(pick("https", 80), None, "TLS to a plain-HTTP listener");
    assert_eq!(pick("http", 8080), None, "no listener on the port");
    assert_eq!(pick("udp", 53).as_deref(), Some("UDP"));
    assert_eq!(pick("tcp", 53), None);
    assert_eq!(pick("https", 8443).as_deref(), Some("TLS"));
    assert_eq!(pick("tcp", 9000).as_deref(), Some("TCP_UDP"));
    assert_eq!(pick("udp", 9000).as_deref(), Some("TCP_UDP"));
    // NLB listeners have no rules: the default action answers.
    let nlb = l(9000, "TCP_UDP");
    let e = evaluate(&nlb, &req("/"));
    assert_eq!(
        (e.priority, forwarded_to(&e)),
        (None, vec!["TCP_UDP=1".to_owned()])
    );
}

#[test]
fn the_service_behind_a_target_group_comes_from_its_tags_and_name() {
    let b = |ns: &str, svc: &str, port: &str| {
        Some(Backend {
            namespace: ns.into(),
            service: svc.into(),
            port: port.into(),
        })
    };
    let implicit = StackId::implicit("shop", "storefront");
    let group = StackId::explicit("shop");
    let service = StackId::parse("service:ingress-nginx/public");
    assert_eq!(
        backend_of(
            &implicit,
            "shop/storefront-tenant-router:80",
            "k8s-shop-tenantro-0123456789"
        ),
        b("shop", "tenant-router", "80")
    );
    assert_eq!(
        backend_of(
            &group,
            "mall/catalog-catalog-next:http",
            "k8s-mall-catalogn-3175a34fd7"
        ),
        b("mall", "catalog-next", "http")
    );
    assert_eq!(
        backend_of(
            &group,
            "mall/catalog-catalog:http",
            "k8s-mall-catalog-c506ba6ec7"
        ),
        b("mall", "catalog", "http")
    );
    assert_eq!(
        backend_of(
            &group,
            "mall/legacy-search-search:80",
            "k8s-mall-search-0000000000"
        ),
        b("mall", "search", "80")
    );
    assert_eq!(
        backend_of(
            &service,
            "ingress-nginx/public:443",
            "k8s-ingressn-public-f817c6f1c7"
        ),
        b("ingress-nginx", "public", "443")
    );
    assert_eq!(
        backend_of(&group, "mall/x-y:80", "someone-elses-tg"),
        None,
        "a name not in our scheme"
    );
    assert_eq!(
        backend_of(&implicit, "", "k8s-shop-api-0"),
        None,
        "no resource tag"
    );
}

#[test]
fn wildcard_matching_edge_cases() {
    let m = |p: &str, t: &str| wildcard_match(p, t, false, false);
    assert!(m("*", ""));
    assert!(m("/a*b*c", "/axxbyyc"));
    assert!(!m("/a*b*c", "/axxbyy"));
    assert!(m("/a*/c", "/a/b/c"));
    assert!(!m("?", ""));
    assert!(m("/**", "/"));
}

#[test]
fn regex_values_match_host_path_and_header() {
    let regex = |field: &str, header: Option<&str>, values: &[&str]| {
        RouteCondition::Regex(RegexCondition {
            field: field.into(),
            http_header_name: header.map(str::to_owned),
            regex_values: strings(values),
        })
    };
    let listener = RouteListener {
        port: 80,
        protocol: "HTTP".into(),
        rules: vec![
            RouteRule {
                priority: 1,
                conditions: vec![regex("path-pattern", None, &["^/api/v[0-9]+/"])],
                actions: vec![forward(&[("versioned", 1)])],
            },
            RouteRule {
                priority: 2,
                conditions: vec![
                    regex("host-header", None, &["^(eu|us)-[a-z]+\\.example\\.com$"]),
                    regex("http-header", Some("User-Agent"), &["(?i)mobile"]),
                ],
                actions: vec![forward(&[("regional-mobile", 1)])],
            },
        ],
        default_actions: vec![forward(&[("default", 1)])],
    };
    assert_eq!(
        forwarded_to(&evaluate(&listener, &req("/api/v2/cart"))),
        ["versioned=1"]
    );
    let e = evaluate(&listener, &req("/api/vX/cart"));
    assert_eq!(
        e.tried[0].reason,
        "path \"/api/vX/cart\" matches no regex of \"^/api/v[0-9]+/\""
    );
    let mut r = req("/");
    r.host = "eu-west.example.com".into();
    r.headers = vec![("user-agent".into(), "Some MOBILE browser".into())];
    assert_eq!(
        forwarded_to(&evaluate(&listener, &r)),
        ["regional-mobile=1"]
    );
    r.host = "eu-west.example.com.evil.org".into();
    let e = evaluate(&listener, &r);
    assert_eq!(e.priority, None);
    assert_eq!(e.tried[1].reason, "host \"eu-west.example.com.evil.org\" matches no regex of \"^(eu|us)-[a-z]+\\\\.example\\\\.com$\"");
    // Unanchored: a regex matches anywhere in the value.
    assert!(regex_failure(
        &RegexCondition {
            field: "path-pattern".into(),
            http_header_name: None,
            regex_values: strings(&["cart"])
        },
        &req("/api/cart/1")
    )
    .is_none());
    // Serialised untagged: a model condition keeps the plan's JSON form.
    assert_eq!(
        serde_json::to_value(RouteCondition::from(path(&["/a"]))).unwrap(),
        serde_json::json!({"field": "path-pattern", "values": ["/a"]})
    );
    assert_eq!(
        serde_json::to_value(regex("http-header", Some("X"), &["y"])).unwrap(),
        serde_json::json!({"field": "http-header", "httpHeaderName": "X", "regexValues": ["y"]})
    );
}

#[test]
fn the_service_behind_a_gateway_target_group_comes_from_its_resource_id() {
    let b = |ns: &str, svc: &str, port: &str| {
        Some(Backend {
            namespace: ns.into(),
            service: svc.into(),
            port: port.into(),
        })
    };
    let gw = StackId::gateway("web", "edge");
    let nlb = StackId::nlb_gateway("data", "db-edge");
    type Case<'a> = (&'a StackId, &'a str, &'a str, Option<Backend>, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &gw,
            "web/edge:web-storefront:HTTPRoute-web-frontend:80",
            "k8s-web-storefro-0",
            b("web", "frontend", "80"),
            "one reading",
        ),
        (
            &gw,
            "web/edge:team-api-api:HTTPRoute-data-catalog:80",
            "k8s-teamapi-api-0",
            b("data", "catalog", "80"),
            "another namespace, one reading",
        ),
        (
            &gw,
            "web/edge:team-api-api:HTTPRoute-team-api-api-canary:8080",
            "k8s-teamapi-api-0",
            b("team-api", "api-canary", "8080"),
            "several readings: the route's namespace (from the name) decides",
        ),
        (
            &gw,
            "web/edge:team-api-api:HTTPRoute-team-api-api-canary:8080",
            "someone-elses",
            None,
            "several readings, a name not in our scheme",
        ),
        (
            &gw,
            "web/edge:web-cart-rpc:GRPCRoute-web-cart-next:80",
            "k8s-web-cartrpc-0",
            b("web", "cart-next", "80"),
            "GRPCRoute",
        ),
        (
            &nlb,
            "data/db-edge:data-pg:TCPRoute-data-postgres:5432",
            "k8s-data-pg-0",
            b("data", "postgres", "5432"),
            "NLB Gateway, TCPRoute",
        ),
        (
            &gw,
            "web/edge:a-a-b:HTTPRoute-a-b-c:80",
            "k8s-a-ab-0",
            b("a", "b-c", "80"),
            "several readings: the one in the route's namespace a",
        ),
        (
            &gw,
            "web/edge:web-r:HTTPRoute-a-b-c:80",
            "k8s-web-r-0",
            None,
            "several readings (a/b-c, a-b/c), none in the route's namespace",
        ),
        (
            &gw,
            "shop/other:web-r:HTTPRoute-web-s:80",
            "k8s-web-r-0",
            None,
            "another Gateway's id",
        ),
        (
            &gw,
            "web/edge:web-r:Ingress-web-s:80",
            "k8s-web-r-0",
            None,
            "not a route kind",
        ),
        (&gw, "", "k8s-web-r-0", None, "no resource tag"),
    ];
    for (stack, resource, name, want, why) in cases {
        assert_eq!(
            &backend_of(stack, resource, name),
            want,
            "{why}: {resource}"
        );
    }
    assert_eq!(
        gateway_backend_candidates(&gw, "web/edge:a-b-c:HTTPRoute-a-b-c-d:80")
            .iter()
            .map(|b| format!("{}/{}", b.namespace, b.service))
            .collect::<Vec<_>>(),
        ["a/b-c-d", "a-b/c-d", "a-b-c/d"]
    );
}
