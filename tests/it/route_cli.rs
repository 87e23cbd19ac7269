//! `aws-lb-operator route` as users run it: exact text, `-o json`, `--explain`, exit statuses,
//! and the routing the Ingress specification requires of our seed and grouped examples — on the
//! plan, and on the load balancers read back from LocalStack, where `route --cluster-name` must
//! agree with `route -f` for every request of the tables.

use serde_json::Value;

use crate::localstack::{clients, create_subnet, create_vpc, examples, run_operator, unique};

const REGION: &str = "ap-southeast-3";

fn run(args: &[&str]) -> (i32, String, String) {
    run_operator(REGION, args)
}

#[test]
fn text_names_the_load_balancer_listener_rule_service_and_targets() {
    let seed = examples("seed");
    let (code, out, err) = run(&[
        "route",
        "http://shop.example.com/api/status",
        "-f",
        &seed,
        "--cluster-name",
        "demo",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "GET http://shop.example.com/api/status
load balancer k8s-shop-storefro-cda7d34ed3 (application, stack shop/storefront)
listener HTTP:80
rule 1: host shop.example.com, path /api/status
forward
  target group k8s-shop-status-eb0b586ad0: service shop/status port 8081
    targets (1): 10.0.1.61:9091
"
    );
    assert_eq!(err, "");
}

#[test]
fn explain_lists_every_rule_tried_and_the_condition_that_failed() {
    let seed = examples("seed");
    let (code, out, err) = run(&[
        "route",
        "http://Foo.Shop.example.com/api",
        "-f",
        &seed,
        "--cluster-name",
        "demo",
        "--explain",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        r#"GET http://Foo.Shop.example.com/api
load balancer k8s-shop-storefro-cda7d34ed3 (application, stack shop/storefront)
listener HTTP:80
  tried rule 1: host shop.example.com -> no: host "foo.shop.example.com" matches none of "shop.example.com"
  tried rule 2: host shop.example.com -> no: host "foo.shop.example.com" matches none of "shop.example.com"
rule 3: host *.shop.example.com, path /*
forward
  target group k8s-shop-tenantro-abdd8c1f12: service shop/tenant-router port 80
    targets (1): 10.0.1.40:8000
"#
    );
}

#[test]
fn json_weighted_forward_redirect_and_default_action() {
    let grouped = examples("grouped");
    let route = |url: &str, extra: &[&str]| {
        let (code, out, err) = run(&[
            &[
                "route",
                url,
                "-f",
                &grouped,
                "--cluster-name",
                "demo",
                "-o",
                "json",
            ],
            extra,
        ]
        .concat());
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            err,
            "warning: ingress mall/legacy-search: annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds has invalid value \"fast\": expected an integer from 5 to 300; ingress mall/legacy-search left out of group shop, the rest of the group is still built\n"
        );
        serde_json::from_str::<Value>(&out).unwrap()
    };

    let doc = route(
        "https://shop.example.com/products/featured/x",
        &["--explain"],
    );
    assert_eq!(doc["request"]["scheme"], "https");
    assert_eq!(doc["request"]["port"], 443);
    assert_eq!(doc["request"]["path"], "/products/featured/x");
    let routes = doc["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 1);
    let r = &routes[0];
    assert_eq!(
        r["loadBalancer"],
        serde_json::json!({"name": "k8s-shop-0d9157c528", "type": "application", "stack": "shop"})
    );
    assert_eq!(
        r["listener"],
        serde_json::json!({"protocol": "HTTPS", "port": 443})
    );
    assert_eq!(r["rule"]["priority"], 3);
    assert_eq!(
        r["rule"]["conditions"],
        serde_json::json!([
            {"field": "host-header", "values": ["shop.example.com"]},
            {"field": "path-pattern", "values": ["/products", "/products/*"]}
        ])
    );
    assert_eq!(
        r["actions"],
        serde_json::json!([{"type": "forward", "targetGroups": [
            {"name": "k8s-mall-catalog-c506ba6ec7", "weight": 90, "resource": "mall/catalog-catalog:http",
             "service": {"namespace": "mall", "service": "catalog", "port": "http"},
             "targets": [{"id": "10.0.1.20", "port": 5000}, {"id": "10.0.2.20", "port": 5000}]},
            {"name": "k8s-mall-catalogn-3175a34fd7", "weight": 10, "resource": "mall/catalog-catalog-next:http",
             "service": {"namespace": "mall", "service": "catalog-next", "port": "http"},
             "targets": [{"id": "10.0.1.21", "port": 5001}]}
        ]}])
    );
    let tried: Vec<(u64, &str)> = r["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["priority"].as_u64().unwrap(),
                m["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tried,
        [
            (
                1,
                "host \"shop.example.com\" matches none of \"admin.shop.example.com\""
            ),
            (
                2,
                "path \"/products/featured/x\" matches none of \"/products/featured\""
            )
        ]
    );

    // The HTTP listener only redirects (ssl-redirect): its default action answers.
    let doc = route("http://shop.example.com/cart?id=7", &[]);
    let r = &doc["routes"][0];
    assert_eq!(r["listener"]["port"], 80);
    assert_eq!(r["rule"], Value::Null);
    assert!(r.get("tried").is_none(), "tried only with --explain");
    assert_eq!(
        r["actions"],
        serde_json::json!([{"type": "redirect", "statusCode": "HTTP_301", "location": "https://shop.example.com/cart?id=7"}])
    );
}

#[test]
fn an_nlb_answers_by_port_with_its_default_action() {
    let proxy = examples("ingress-proxy");
    let (code, out, err) = run(&[
        "route",
        "https://www.example.org/anything",
        "-f",
        &proxy,
        "--cluster-name",
        "demo",
        "--load-balancer",
        "k8s-ingressn-private-d8be5d5c9b",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "GET https://www.example.org/anything
load balancer k8s-ingressn-private-d8be5d5c9b (network, stack service:ingress-nginx/private)
listener TCP:443
default action (no rule matched)
forward
  target group k8s-ingressn-private-f817c6f1c7: service ingress-nginx/private port 443
    targets (2): 10.0.1.51:443, 10.0.2.52:443
"
    );
    // No listener on the port: not served.
    let (code, out, _) = run(&[
        "route",
        "https://www.example.org:8443/",
        "-f",
        &proxy,
        "--load-balancer",
        "k8s-ingressn-private-d8be5d5c9b",
        "--cluster-name",
        "demo",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "GET https://www.example.org:8443/\nno load balancer serves www.example.org on https port 8443\n"
    );
}

#[test]
fn a_host_no_load_balancer_serves_exits_2() {
    let seed = examples("seed");
    let (code, out, err) = run(&["route", "http://other.example.org/", "-f", &seed]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        out,
        "GET http://other.example.org/\nno load balancer serves other.example.org on http port 80\n"
    );
    let (code, out, _) = run(&[
        "route",
        "http://other.example.org/",
        "-f",
        &seed,
        "-o",
        "json",
    ]);
    assert_eq!(code, 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["routes"], serde_json::json!([]));
}

#[test]
fn errors_exit_1_with_the_reason() {
    let seed = examples("seed");
    let cases: [(&[&str], &str); 8] = [
        (&["route", "not-a-url", "-f", &seed], "error: URL \"not-a-url\" is not valid: relative URL without a base"),
        (&["route", "ftp://x.example.com/", "-f", &seed], "error: URL \"ftp://x.example.com/\": scheme \"ftp\" is not one a load balancer listens for (http, https, tcp, tls, udp)"),
        (&["route", "tcp://x.example.com", "-f", &seed], "error: URL \"tcp://x.example.com\": no port, and tcp has no default port"),
        (&["route", "http://x.example.com/", "-f", &seed, "--header", "novalue"], "error: --header \"novalue\" is not NAME:VALUE"),
        (&["route", "http://x.example.com/", "-f", &seed, "--source-ip", "10.0.0.300"], "error: --source-ip \"10.0.0.300\" is not an IP address"),
        (&["route", "http://x.example.com/"], "error: give -f PATH (manifests, offline), --kubeconfig FILE or --context NAME (a cluster's objects, planned) or --cluster-name NAME (what AWS has)"),
        (&["route", "http://x.example.com/", "-f", "/nonexistent/manifests"], "error: cannot read /nonexistent/manifests: No such file or directory (os error 2)"),
        (&["route", "http://x.example.com/", "-f", &seed, "--load-balancer", "nope"], "error: no load balancer is named \"nope\"; there are: k8s-shop-storefro-4bc05eb62d"),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(args);
        assert_eq!(
            (code, out.as_str(), err.trim_end()),
            (1, "", want),
            "{args:?}"
        );
    }
}

#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    // Status 2 means "not served", so a command line clap refuses must not share it.
    let (code, out, err) = run(&["route"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.starts_with("error: the following required arguments were not provided:\n  <URL>"),
        "{err}"
    );
    let (code, out, err) = run(&["route", "http://x.example.com/", "--no-such-flag"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.starts_with("error: unexpected argument '--no-such-flag' found"),
        "{err}"
    );
    let (code, out, err) = run(&["route", "--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with("Which load balancer, rule and backend"),
        "{out}"
    );
}

/// One request of the routing tables and what it must reach.
struct Case {
    /// What the Ingress specification (or ALB) says, and why.
    why: &'static str,
    url: &'static str,
    extra: &'static [&'static str],
    /// The stack whose load balancer answers.
    stack: &'static str,
    /// `namespace/service` (with ` weight` per target group when weighted), or
    /// `redirect STATUS LOCATION`.
    reaches: &'static str,
}

/// The seed Ingress: a no-host catch-all, a wildcard host and a precise host with Prefix and
/// Exact paths. `SEED_LB` in `extra` is replaced by the seed's load balancer name.
const SEED: &[Case] = &[
    Case { why: "Exact beats Prefix for the same path", url: "http://shop.example.com/api/status", extra: &[], stack: "shop/storefront", reaches: "shop/status" },
    Case { why: "Exact matches only the path itself", url: "http://shop.example.com/api/status/x", extra: &[], stack: "shop/storefront", reaches: "shop/api" },
    Case { why: "Prefix /api matches /api", url: "http://shop.example.com/api", extra: &[], stack: "shop/storefront", reaches: "shop/api" },
    Case { why: "Prefix /api matches below it", url: "http://shop.example.com/api/v2/cart", extra: &[], stack: "shop/storefront", reaches: "shop/api" },
    Case { why: "Prefix matches whole path elements: /api is not a prefix of /apix; the no-host rule answers", url: "http://shop.example.com/apix", extra: &[], stack: "shop/storefront", reaches: "shop/frontend" },
    Case { why: "hosts compare case-insensitively", url: "http://SHOP.Example.COM/api", extra: &[], stack: "shop/storefront", reaches: "shop/api" },
    Case { why: "the precise host has no / path and *.shop.example.com does not match shop.example.com: the no-host rule", url: "http://shop.example.com/", extra: &[], stack: "shop/storefront", reaches: "shop/frontend" },
    Case { why: "a wildcard host beats no host", url: "http://tenant1.shop.example.com/api", extra: &[], stack: "shop/storefront", reaches: "shop/tenant-router" },
    // The Ingress specification's `*.foo.com` matches one label only; ALB's `*` spans dots,
    // so ALB (and the AWS Load Balancer Controller) send two labels to the wildcard's backend.
    Case { why: "ALB: a wildcard host spans labels (the Ingress spec would not)", url: "http://a.b.shop.example.com/", extra: &[], stack: "shop/storefront", reaches: "shop/tenant-router" },
    Case { why: "a rule without host answers any host", url: "http://unknown.example.org/", extra: &["--load-balancer", "SEED_LB"], stack: "shop/storefront", reaches: "shop/frontend" },
];

/// The grouped example: four members of IngressGroup `shop` ordered by `group.order` (admin
/// -10, catalog 0, checkout and storefront 10), one broken member left out, ssl-redirect.
const GROUPED: &[Case] = &[
    Case {
        why: "group.order -10 puts admin first",
        url: "https://admin.shop.example.com/x",
        extra: &["--source-ip", "10.1.2.3"],
        stack: "shop",
        reaches: "backoffice/admin",
    },
    Case {
        why: "admin's source-ip condition fails: the group's no-host rule answers",
        url: "https://admin.shop.example.com/x",
        extra: &["--source-ip", "192.0.2.1"],
        stack: "shop",
        reaches: "mall/storefront",
    },
    Case {
        why: "Exact beats Prefix within one Ingress",
        url: "https://shop.example.com/products/featured",
        extra: &[],
        stack: "shop",
        reaches: "mall/catalog",
    },
    Case {
        why: "Prefix with a weighted forward",
        url: "https://shop.example.com/products/featured/x",
        extra: &[],
        stack: "shop",
        reaches: "mall/catalog 90, mall/catalog-next 10",
    },
    Case {
        why: "Prefix /products matches /products",
        url: "https://shop.example.com/products",
        extra: &[],
        stack: "shop",
        reaches: "mall/catalog 90, mall/catalog-next 10",
    },
    Case {
        why: "checkout (order 10) before storefront (order 10, then by name)",
        url: "https://shop.example.com/checkout/pay",
        extra: &[],
        stack: "shop",
        reaches: "mall/checkout",
    },
    Case {
        why: "the broken member's /search is left out: the no-host rule answers",
        url: "https://shop.example.com/search",
        extra: &[],
        stack: "shop",
        reaches: "mall/storefront",
    },
    Case {
        why: "no-host catch-all for any other path",
        url: "https://shop.example.com/",
        extra: &[],
        stack: "shop",
        reaches: "mall/storefront",
    },
    Case {
        why: "ssl-redirect: HTTP redirects to HTTPS keeping host, path and query",
        url: "http://shop.example.com/cart?id=7",
        extra: &[],
        stack: "shop",
        reaches: "redirect HTTP_301 https://shop.example.com/cart?id=7",
    },
];

/// What one route reaches, in the tables' notation.
fn reaches(route: &Value) -> String {
    let action = route["actions"].as_array().and_then(|a| a.last()).cloned();
    let action = action.unwrap_or(Value::Null);
    match action["type"].as_str() {
        Some("forward") => {
            let tgs = action["targetGroups"].as_array().unwrap();
            tgs.iter()
                .map(|t| {
                    let svc = format!(
                        "{}/{}",
                        t["service"]["namespace"].as_str().unwrap(),
                        t["service"]["service"].as_str().unwrap()
                    );
                    if tgs.len() > 1 {
                        format!("{svc} {}", t["weight"])
                    } else {
                        svc
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        Some("redirect") => format!(
            "redirect {} {}",
            action["statusCode"].as_str().unwrap(),
            action["location"].as_str().unwrap()
        ),
        other => format!("{other:?}"),
    }
}

fn seed_lb(cluster: &str) -> String {
    let (code, out, err) = run(&[
        "plan",
        "-f",
        &examples("seed"),
        "--cluster-name",
        cluster,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    doc["stacks"][0]["loadBalancer"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `route -o json` for `case`, from `source` (`-f ...` or `--cluster-name ...`).
fn route_json(case: &Case, source: &[&str], lb: &str) -> Value {
    let extra: Vec<&str> = case
        .extra
        .iter()
        .map(|a| if *a == "SEED_LB" { lb } else { a })
        .collect();
    let (code, out, err) = run(&[&["route", case.url, "-o", "json"], source, &extra[..]].concat());
    assert_eq!(code, 0, "{}: {err}", case.why);
    serde_json::from_str(&out).unwrap()
}

/// Checks `doc` against `case`: the expected stack's load balancer answers with the expected
/// backend.
fn check(case: &Case, doc: &Value, source: &str) {
    let routes = doc["routes"].as_array().unwrap();
    let route = routes
        .iter()
        .find(|r| r["loadBalancer"]["stack"] == case.stack)
        .unwrap_or_else(|| {
            panic!(
                "{source}: {}: no route from stack {}: {doc}",
                case.why, case.stack
            )
        });
    assert_eq!(
        reaches(route),
        case.reaches,
        "{source}: {} ({})",
        case.why,
        case.url
    );
}

#[test]
fn ingress_precedence_holds_on_the_plan() {
    let lb = seed_lb("demo");
    for (dir, table) in [("seed", SEED), ("grouped", GROUPED)] {
        let path = examples(dir);
        for case in table {
            let doc = route_json(case, &["-f", &path, "--cluster-name", "demo"], &lb);
            check(case, &doc, dir);
            assert_eq!(doc["routes"].as_array().unwrap().len(), 1, "{}", case.why);
        }
    }
}

/// The answer without what only AWS knows (DNS names) and with condition values in a
/// canonical order (AWS may return them in another).
fn canonical(mut doc: Value) -> Value {
    for r in doc["routes"].as_array_mut().unwrap() {
        r["loadBalancer"].as_object_mut().unwrap().remove("dnsName");
        let Some(rule) = r.get_mut("rule").filter(|r| r.is_object()) else {
            continue;
        };
        if let Some(conds) = rule["conditions"].as_array_mut() {
            for c in conds.iter_mut() {
                if let Some(v) = c["values"].as_array_mut() {
                    v.sort_by_key(Value::to_string);
                }
            }
            conds.sort_by_key(Value::to_string);
        }
    }
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_routing_agrees_with_the_plan_for_every_request() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.73.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &c,
            &vpc,
            &format!("10.73.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[("kubernetes.io/role/elb", "1")],
        )
        .await;
    }
    let cluster = unique("route");
    let (seed, grouped) = (examples("seed"), examples("grouped"));
    let files = ["-f", seed.as_str(), "-f", grouped.as_str()];
    let (code, _out, err) = run(&[
        &[
            "apply",
            "--cluster-name",
            &cluster,
            "--vpc-id",
            &vpc,
            "--dns-disabled",
        ],
        &files[..],
    ]
    .concat());
    // 2: the grouped example's broken member is reported; everything else is applied.
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error: ingress mall/legacy-search: "), "{err}");

    let lb = seed_lb(&cluster);
    let offline: Vec<&str> = [&files[..], &["--cluster-name", &cluster]].concat();
    let live = ["--cluster-name", cluster.as_str(), "--vpc-id", vpc.as_str()];
    for case in SEED.iter().chain(GROUPED) {
        let planned = route_json(case, &offline, &lb);
        let observed = route_json(case, &live, &lb);
        check(case, &observed, "live");
        let dns = observed["routes"][0]["loadBalancer"]["dnsName"]
            .as_str()
            .unwrap_or_default();
        assert!(!dns.is_empty(), "live answers carry the DNS name");
        assert_eq!(canonical(observed), canonical(planned), "{}", case.why);
    }

    // The load balancer's DNS name is a host it serves.
    let doc = route_json(&SEED[0], &live, &lb);
    let dns = doc["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["loadBalancer"]["stack"] == "shop/storefront")
        .unwrap()["loadBalancer"]["dnsName"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = run(&[
        &["route", &format!("http://{dns}/anything"), "-o", "json"],
        &live[..],
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["routes"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(reaches(&doc["routes"][0]), "shop/frontend");

    // A host no load balancer of the cluster serves: exit 2.
    let (code, out, _) = run(&[&["route", "http://nobody.example.org/"], &live[..]].concat());
    assert_eq!(code, 2);
    assert_eq!(out, "GET http://nobody.example.org/\nno load balancer serves nobody.example.org on http port 80\n");
}

#[test]
fn headers_query_method_and_a_host_header_reach_their_rules() {
    let dir = std::env::temp_dir().join(format!("aws-lb-route-{}", crate::localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        r#"apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: alb}
spec: {controller: ingress.k8s.aws/alb}
---
apiVersion: v1
kind: Service
metadata: {name: beta, namespace: web}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: stable, namespace: web}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  namespace: web
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/conditions.beta: >-
      [{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Channel", "values": ["beta*"]}},
       {"field": "query-string", "queryStringConfig": {"values": [{"key": "v", "value": "2"}]}},
       {"field": "http-request-method", "httpRequestMethodConfig": {"values": ["POST"]}}]
spec:
  ingressClassName: alb
  rules:
    - host: app.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {name: http}}}}
          - {path: /, pathType: Prefix, backend: {service: {name: stable, port: {name: http}}}}
"#,
    )
    .unwrap();
    let path = dir.to_string_lossy().into_owned();
    let reach = |url: &str, extra: &[&str]| {
        let (code, out, err) = run(&[&["route", url, "-f", &path, "-o", "json"], extra].concat());
        assert_eq!(code, 0, "{url} {extra:?}: {err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        reaches(&doc["routes"][0])
    };
    let beta = ["-X", "POST", "-H", "x-channel: Beta-7"];
    assert_eq!(reach("http://app.example.com/cart?v=2", &beta), "web/beta");
    assert_eq!(
        reach("http://app.example.com/cart?v=3", &beta),
        "web/stable",
        "query"
    );
    assert_eq!(
        reach("http://app.example.com/cart?V=2", &beta),
        "web/beta",
        "query keys ignore case"
    );
    assert_eq!(
        reach(
            "http://app.example.com/cart?v=2",
            &["-H", "X-Channel: beta"]
        ),
        "web/stable",
        "method"
    );
    assert_eq!(
        reach("http://app.example.com/cart?v=2", &["-X", "POST"]),
        "web/stable",
        "no header"
    );
    // A Host header overrides the URL's host: an address reaches the name's rules.
    assert_eq!(
        reach(
            "http://203.0.113.9/cart?v=2",
            &[&beta[..], &["-H", "Host: APP.example.com"]].concat()
        ),
        "web/beta"
    );
    let (code, _, _) = run(&["route", "http://203.0.113.9/cart", "-f", &path]);
    assert_eq!(
        code, 2,
        "an address no rule names is served by no load balancer"
    );
}

/// `examples/gateway`: the ALB Gateway `web/edge` (HTTPRoutes from two namespaces, one
/// backend across namespaces with a ReferenceGrant, a GRPCRoute, an HTTP listener that
/// redirects) and the NLB Gateway `data/db-edge`, evaluated like the Ingress examples.
const GATEWAY: &[Case] = &[
    Case {
        why: "the route's rule without matches is its catch-all for its hostname",
        url: "https://store.example.com/",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "web/frontend",
    },
    Case {
        why: "PathPrefix /cart, weighted backends",
        url: "https://store.example.com/cart/items",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "web/cart 90, web/cart-next 10",
    },
    Case {
        why: "PathPrefix is element-wise: /cartx is not under /cart",
        url: "https://store.example.com/cartx",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "web/frontend",
    },
    Case {
        why: "a route of another namespace, on its own hostname",
        url: "https://api.example.com/v1/items",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "team-api/api",
    },
    Case {
        why: "a header match beats the same path without one",
        url: "https://api.example.com/v1/items",
        extra: &["-H", "x-canary:true"],
        stack: "gateway:web/edge",
        reaches: "team-api/api-canary",
    },
    Case {
        why: "the longer prefix (with a method) beats the shorter, to a backend in another namespace (ReferenceGrant)",
        url: "https://api.example.com/v1/catalog/42",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "data/catalog",
    },
    Case {
        why: "the method match fails: the shorter prefix answers",
        url: "https://api.example.com/v1/catalog/42",
        extra: &["-X", "POST"],
        stack: "gateway:web/edge",
        reaches: "team-api/api",
    },
    Case {
        why: "GRPCRoute: service and method",
        url: "https://rpc.example.com/shop.Cart/Checkout",
        extra: &["-X", "POST", "-H", "content-type:application/grpc"],
        stack: "gateway:web/edge",
        reaches: "web/cart-next",
    },
    Case {
        why: "GRPCRoute: the service's other methods",
        url: "https://rpc.example.com/shop.Cart/List",
        extra: &["-X", "POST", "-H", "content-type:application/grpc"],
        stack: "gateway:web/edge",
        reaches: "web/cart",
    },
    Case {
        why: "the HTTP listener's route redirects to HTTPS, keeping path and query",
        url: "http://store.example.com/cart?id=7",
        extra: &[],
        stack: "gateway:web/edge",
        reaches: "redirect HTTP_301 https://store.example.com/cart?id=7",
    },
    Case {
        why: "the NLB Gateway's TCP listener forwards to its TCPRoute's backend",
        url: "tcp://db.example.com:5432",
        extra: &["--load-balancer", "NLB_GATEWAY"],
        stack: "nlb-gateway:data/db-edge",
        reaches: "data/postgres",
    },
];

/// The name of the NLB Gateway's load balancer in `plan` for `cluster`.
fn nlb_gateway_lb(cluster: &str) -> String {
    let (code, out, err) = run(&[
        "plan",
        "-f",
        &examples("gateway"),
        "--cluster-name",
        cluster,
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    doc["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "nlb-gateway:data/db-edge")
        .unwrap_or_else(|| panic!("no NLB Gateway stack: {doc}"))["loadBalancer"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `route -o json` for a `GATEWAY` case (`NLB_GATEWAY` → the NLB Gateway's load balancer).
fn gateway_route_json(case: &Case, source: &[&str], nlb: &str) -> Value {
    let extra: Vec<&str> = case
        .extra
        .iter()
        .map(|a| if *a == "NLB_GATEWAY" { nlb } else { a })
        .collect();
    let (code, out, err) = run(&[&["route", case.url, "-o", "json"], source, &extra[..]].concat());
    assert_eq!(code, 0, "{}: {err}", case.why);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn gateway_objects_are_routed_like_ingresses() {
    let gateway = examples("gateway");
    let (code, out, err) = run(&[
        "route",
        "https://api.example.com/v1/items",
        "-H",
        "x-canary:true",
        "-f",
        &gateway,
        "--cluster-name",
        "demo",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "GET https://api.example.com/v1/items
load balancer k8s-web-edge-6ebf380b5e (application, stack gateway:web/edge)
listener HTTPS:443
rule 5: host api.example.com, path /v1 | /v1/*, header x-canary = true
forward
  target group k8s-teamapi-api-9cb4c30fd8: service team-api/api-canary port 8080
    targets (0): none
"
    );
    let nlb = nlb_gateway_lb("demo");
    for case in GATEWAY {
        let doc = gateway_route_json(case, &["-f", &gateway, "--cluster-name", "demo"], &nlb);
        check(case, &doc, "gateway");
        assert_eq!(doc["routes"].as_array().unwrap().len(), 1, "{}", case.why);
    }
    // A host none of the Gateway's routes names: not served.
    let (code, out, _) = run(&["route", "https://shop.example.org/", "-f", &gateway]);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "GET https://shop.example.org/\nno load balancer serves shop.example.org on https port 443\n"
    );
}

/// `route --cluster-name` on the Gateway stacks `apply -f examples/gateway` deployed to
/// LocalStack answers every request of `GATEWAY` as `route -f` does on the plan (the Service
/// behind each Gateway target group read back from its tags).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_gateway_routing_agrees_with_the_plan() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.79.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &c,
            &vpc,
            &format!("10.79.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[
                ("kubernetes.io/role/elb", "1"),
                ("kubernetes.io/role/internal-elb", "1"),
            ],
        )
        .await;
    }
    let cluster = unique("route-gw");
    let gateway = examples("gateway");
    let (code, _out, err) = run(&[
        "apply",
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
        "--dns-disabled",
        "-f",
        &gateway,
    ]);
    assert_eq!(code, 0, "{err}");
    let nlb = nlb_gateway_lb(&cluster);
    let offline = ["-f", gateway.as_str(), "--cluster-name", cluster.as_str()];
    let live = ["--cluster-name", cluster.as_str(), "--vpc-id", vpc.as_str()];
    for case in GATEWAY {
        let planned = gateway_route_json(case, &offline, &nlb);
        let observed = gateway_route_json(case, &live, &nlb);
        check(case, &observed, "live");
        assert_eq!(canonical(observed), canonical(planned), "{}", case.why);
    }
}

/// A Gateway target group's id joins the Service's namespace and name with `-`: for route
/// `a/r` and Service `a-b/c` it reads `a-b-c`, which could also be `a/b-c` (the route's own
/// namespace, the guess AWS's tags alone lead to). With `-f`, the Service that exists decides.
#[test]
fn a_gateway_backend_in_a_hyphenated_namespace_is_named_from_the_manifests() {
    let dir = std::env::temp_dir().join(format!("aws-lb-route-gw-{}", unique("ns")));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("all.yaml"),
        "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: a}
spec:
  gatewayClassName: alb
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: a}
spec:
  parentRefs: [{name: gw}]
  hostnames: [x.example.com]
  rules: [{backendRefs: [{name: c, namespace: a-b, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-a, namespace: a-b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a}]
  to: [{group: '', kind: Service}]
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: a-b}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
",
    )
    .unwrap();
    let (code, out, err) = run(&[
        "route",
        "http://x.example.com/",
        "-f",
        dir.to_str().unwrap(),
        "--default-target-type",
        "ip",
        "-o",
        "json",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(err, "");
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reaches(&doc["routes"][0]), "a-b/c", "{doc}");
    assert_eq!(
        doc["routes"][0]["actions"][0]["targetGroups"][0]["resource"],
        "a/gw:a-r:HTTPRoute-a-b-c:80"
    );
}
