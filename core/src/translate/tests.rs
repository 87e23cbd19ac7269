//! End-to-end tests of [`build`]: snapshots in, stacks and error messages out.
use super::annotations as ann;
use super::fixtures::*;
use super::params::{GroupParams, IngressClassParamsSpec, KeyValue, SubnetSelector};
use super::*;
use crate::model::{ActionSpec, ConditionSpec, ListenerSpec, Stack};

fn describe_condition(c: &ConditionSpec) -> String {
    match c {
        ConditionSpec::HostHeader { values } => format!("host={}", values.join(",")),
        ConditionSpec::PathPattern { values } => format!("path={}", values.join(",")),
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => format!("header:{http_header_name}={}", values.join(",")),
        ConditionSpec::HttpRequestMethod { values } => format!("method={}", values.join(",")),
        ConditionSpec::QueryString { values } => format!("query={}", values.len()),
        ConditionSpec::SourceIp { values } => format!("source={}", values.join(",")),
    }
}

fn describe_action(a: &ActionSpec) -> String {
    match a {
        ActionSpec::Forward { target_groups, .. } => {
            let tgs: Vec<String> = target_groups
                .iter()
                .map(|t| {
                    let id =
                        t.id.clone()
                            .or_else(|| t.arn.clone())
                            .or_else(|| t.name.clone())
                            .unwrap_or_default();
                    if target_groups.len() > 1 {
                        format!("{id}@{}", t.weight)
                    } else {
                        id
                    }
                })
                .collect();
            format!("forward {}", tgs.join("+"))
        }
        ActionSpec::FixedResponse(f) => format!("fixed {}", f.status_code),
        ActionSpec::Redirect(r) => format!("redirect {}:{}", r.protocol, r.port),
        ActionSpec::AuthenticateCognito(c) => format!("cognito {}", c.user_pool_client_id),
        ActionSpec::AuthenticateOidc(o) => format!("oidc {}", o.client_id),
    }
}

/// `priority conditions -> action` per rule.
fn rules(listener: &ListenerSpec) -> Vec<String> {
    listener
        .rules
        .iter()
        .map(|r| {
            let conds: Vec<String> = r.conditions.iter().map(describe_condition).collect();
            let acts: Vec<String> = r.actions.iter().map(describe_action).collect();
            format!("{} {} -> {}", r.priority, conds.join(" "), acts.join(","))
        })
        .collect()
}

fn listener(stack: &Stack, port: u16) -> &ListenerSpec {
    stack
        .listeners
        .iter()
        .find(|l| l.port == port)
        .unwrap_or_else(|| panic!("no listener {port} in {}", stack.id))
}

fn messages(out: &BuildOutput) -> Vec<String> {
    out.errors.iter().map(ToString::to_string).collect()
}

fn only_stack(out: &BuildOutput) -> &Stack {
    assert_eq!(
        out.stacks.len(),
        1,
        "stacks: {:?}, errors: {:?}",
        out.stacks
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>(),
        messages(out)
    );
    &out.stacks[0]
}

/// The seed scenario: one Ingress with a host rule (Prefix and Exact), a wildcard-host rule and
/// a no-host catch-all, to four Services with named target ports.
fn seed() -> Snapshot {
    let ing = ingress("shop", "storefront")
        .annotation(ann::TARGET_TYPE, "ip")
        .rule(None, &[("Prefix", "/", "frontend", P::S("http"))])
        .rule(
            Some("*.shop.example.com"),
            &[("Prefix", "/", "tenant", P::N(80))],
        )
        .rule(
            Some("shop.example.com"),
            &[
                ("Prefix", "/api", "api", P::S("http")),
                ("Exact", "/api/healthz", "health", P::N(8081)),
            ],
        )
        .build();
    let mut snap = snapshot(
        vec![ing],
        vec![
            service(
                "shop",
                "frontend",
                "ClusterIP",
                &[("http", 80, Some(P::S("web")), None)],
            ),
            service(
                "shop",
                "tenant",
                "ClusterIP",
                &[("http", 80, Some(P::S("web")), None)],
            ),
            service(
                "shop",
                "api",
                "ClusterIP",
                &[("http", 80, Some(P::S("api-port")), None)],
            ),
            service(
                "shop",
                "health",
                "ClusterIP",
                &[("probe", 8081, Some(P::S("probe")), None)],
            ),
        ],
    );
    snap.endpoint_slices = vec![
        slice(
            "shop",
            "frontend",
            "frontend-1",
            &[("http", 3000)],
            &[("10.0.1.10", Some(true)), ("10.0.1.11", Some(false))],
        ),
        slice(
            "shop",
            "tenant",
            "tenant-1",
            &[("http", 3001)],
            &[("10.0.2.10", Some(true))],
        ),
        // Named ports resolve per slice: two pod versions listen on different ports.
        slice(
            "shop",
            "api",
            "api-1",
            &[("http", 8080)],
            &[("10.0.3.10", Some(true))],
        ),
        slice(
            "shop",
            "api",
            "api-2",
            &[("http", 9090)],
            &[("10.0.3.11", None)],
        ),
        slice(
            "shop",
            "health",
            "health-1",
            &[("probe", 8081)],
            &[("10.0.4.10", Some(true))],
        ),
    ];
    snap
}

#[test]
fn seed_scenario_orders_rules_by_spec() {
    let out = build(&seed(), &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    assert_eq!(stack.id.to_string(), "shop/storefront");
    assert_eq!(
        rules(listener(stack, 80)),
        [
            "1 host=shop.example.com path=/api/healthz -> forward shop/storefront-health:8081",
            "2 host=shop.example.com path=/api,/api/* -> forward shop/storefront-api:http",
            "3 host=*.shop.example.com path=/* -> forward shop/storefront-tenant:80",
            "4 path=/* -> forward shop/storefront-frontend:http",
        ]
    );
    assert_eq!(
        describe_action(&listener(stack, 80).default_actions[0]),
        "fixed 404"
    );
    let targets = |id: &str| -> Vec<String> {
        let tg = stack
            .target_groups
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("no tg {id}"));
        tg.targets
            .iter()
            .map(|t| format!("{}:{}", t.id, t.port))
            .collect()
    };
    assert_eq!(
        targets("shop/storefront-frontend:http"),
        ["10.0.1.10:3000"],
        "not-ready endpoint left out"
    );
    assert_eq!(
        targets("shop/storefront-api:http"),
        ["10.0.3.10:8080", "10.0.3.11:9090"],
        "named port per slice; unknown readiness is ready"
    );
    let api = stack
        .target_groups
        .iter()
        .find(|t| t.id == "shop/storefront-api:http")
        .unwrap();
    assert_eq!(api.port, 1, "named target port gives TG port 1 like LBC");
    let health = stack
        .target_groups
        .iter()
        .find(|t| t.id == "shop/storefront-health:8081")
        .unwrap();
    assert_eq!(health.port, 1);
    assert_eq!(stack.target_groups.len(), 4);
    for tg in &stack.target_groups {
        assert!(
            tg.name.starts_with("k8s-shop-") && tg.name.len() <= 32,
            "{}",
            tg.name
        );
        assert_eq!(tg.tags[crate::model::tags::INGRESS_RESOURCE], tg.id);
        assert_eq!(
            tg.tags[crate::model::tags::INGRESS_STACK],
            "shop/storefront"
        );
        assert_eq!(tg.tags[crate::model::tags::CLUSTER], "demo");
    }
    assert_eq!(
        stack.load_balancer.name,
        crate::model::load_balancer_name("demo", &stack.id, "internal")
    );
    assert_eq!(
        stack.load_balancer.tags[crate::model::tags::INGRESS_RESOURCE],
        "LoadBalancer"
    );
    assert_eq!(stack.load_balancer.inbound_cidrs, ["0.0.0.0/0"]);
    assert_eq!(
        listener(stack, 80).rules[1].tags[crate::model::tags::INGRESS_RESOURCE],
        "80:2"
    );
}

#[test]
fn publish_not_ready_addresses_includes_every_endpoint() {
    let mut snap = seed();
    for svc in &mut snap.services {
        if svc.metadata.name.as_deref() == Some("frontend") {
            svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        }
    }
    let out = build(&snap, &config());
    let tg = only_stack(&out)
        .target_groups
        .iter()
        .find(|t| t.id == "shop/storefront-frontend:http")
        .unwrap();
    assert_eq!(tg.targets.len(), 2);
}

#[test]
fn output_is_deterministic_regardless_of_input_order() {
    let a = build(&seed(), &config());
    let mut shuffled = seed();
    shuffled.endpoint_slices.reverse();
    shuffled.services.reverse();
    let b = build(&shuffled, &config());
    let ja = serde_json::to_string(&a.desired_state()).unwrap();
    let jb = serde_json::to_string(&b.desired_state()).unwrap();
    assert_eq!(ja, jb);
}

#[test]
fn class_selection() {
    struct Case {
        name: &'static str,
        ingress: Ingress,
        ours: bool,
    }
    let base = || ingress("default", "x").rule(None, &[("Prefix", "/", "svc", P::N(80))]);
    let cases = [
        Case {
            name: "ingressClassName alb",
            ingress: base().build(),
            ours: true,
        },
        Case {
            name: "legacy annotation alb",
            ingress: base()
                .class_name(None)
                .annotation(ann::INGRESS_CLASS, "alb")
                .build(),
            ours: true,
        },
        Case {
            name: "annotation wins over spec",
            ingress: base().annotation(ann::INGRESS_CLASS, "nginx").build(),
            ours: false,
        },
        Case {
            name: "annotation alb wins over another spec class",
            ingress: base()
                .class_name(Some("nginx"))
                .annotation(ann::INGRESS_CLASS, "alb")
                .build(),
            ours: true,
        },
        Case {
            name: "class of another controller",
            ingress: base().class_name(Some("nginx")).build(),
            ours: false,
        },
        Case {
            name: "missing class",
            ingress: base().class_name(Some("ghost")).build(),
            ours: false,
        },
        Case {
            name: "no class at all",
            ingress: base().class_name(None).build(),
            ours: false,
        },
    ];
    for case in cases {
        let mut snap = snapshot(vec![case.ingress], vec![]);
        snap.ingress_classes
            .push(ingress_class("nginx", "k8s.io/ingress-nginx", None));
        ip_service(&mut snap, "default", "svc", "10.0.0.1");
        let out = build(&snap, &config());
        assert_eq!(
            out.stacks.len(),
            usize::from(case.ours),
            "{}: {:?}",
            case.name,
            messages(&out)
        );
        assert_eq!(out.skipped.len(), usize::from(!case.ours), "{}", case.name);
    }
}

#[test]
fn ingress_class_params() {
    struct Case {
        name: &'static str,
        spec: IngressClassParamsSpec,
        namespaces: Vec<Namespace>,
        check: fn(&BuildOutput) -> Result<(), String>,
    }
    let cases = [
        Case {
            name: "set field beats annotation",
            spec: IngressClassParamsSpec {
                scheme: Some("internet-facing".into()),
                ..Default::default()
            },
            namespaces: vec![],
            check: |out| {
                let s = out.stacks.first().ok_or("no stack")?;
                (s.load_balancer.scheme == crate::model::Scheme::InternetFacing)
                    .then_some(())
                    .ok_or(format!("{:?}", s.load_balancer.scheme))
            },
        },
        Case {
            name: "group from params beats annotation",
            spec: IngressClassParamsSpec {
                group: Some(GroupParams {
                    name: "platform".into(),
                }),
                ..Default::default()
            },
            namespaces: vec![],
            check: |out| {
                let ids: Vec<String> = out.stacks.iter().map(|s| s.id.to_string()).collect();
                (ids == ["platform"])
                    .then_some(())
                    .ok_or(format!("{ids:?}"))
            },
        },
        Case {
            name: "namespace selector refuses",
            spec: IngressClassParamsSpec {
                namespace_selector: Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_labels: Some([("team".to_owned(), "platform".to_owned())].into()),
                        ..Default::default()
                    },
                ),
                ..Default::default()
            },
            namespaces: vec![namespace("shop", &[("team", "shop")])],
            check: |out| {
                let want = "ingress shop/web: ingressclass alb uses ingressclassparams params, whose spec.namespaceSelector does not match namespace shop: expected an ingress in a selected namespace; ingress shop/web joins no group, so no load balancer or listener rule is built for it";
                (out.stacks.is_empty() && messages(out) == [want])
                    .then_some(())
                    .ok_or(format!("{:?}", messages(out)))
            },
        },
        Case {
            name: "namespace selector admits by metadata.name without Namespace objects",
            spec: IngressClassParamsSpec {
                namespace_selector: Some(
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_labels: Some(
                            [(NAMESPACE_NAME_LABEL.to_owned(), "shop".to_owned())].into(),
                        ),
                        ..Default::default()
                    },
                ),
                ..Default::default()
            },
            namespaces: vec![],
            check: |out| {
                (out.stacks.len() == 1)
                    .then_some(())
                    .ok_or(format!("{:?}", messages(out)))
            },
        },
        Case {
            name: "invalid params field excludes the member",
            spec: IngressClassParamsSpec {
                scheme: Some("public".into()),
                ..Default::default()
            },
            namespaces: vec![],
            check: |out| {
                let want = "ingressclassparams params: spec.scheme has invalid value \"public\": expected \"internal\" or \"internet-facing\"; ingress shop/web left out of group from-annotation, the rest of the group is still built";
                (messages(out) == [want])
                    .then_some(())
                    .ok_or(format!("{:?}", messages(out)))
            },
        },
    ];
    for case in cases {
        let ing = ingress("shop", "web")
            .annotation(ann::SCHEME, "internal")
            .annotation(ann::GROUP_NAME, "from-annotation")
            .rule(None, &[("Prefix", "/", "svc", P::N(80))])
            .build();
        let mut snap = snapshot(vec![ing], vec![]);
        snap.ingress_classes = vec![ingress_class("alb", "ingress.k8s.aws/alb", Some("params"))];
        snap.ingress_class_params = vec![params("params", case.spec)];
        snap.namespaces = case.namespaces;
        ip_service(&mut snap, "shop", "svc", "10.0.0.1");
        let out = build(&snap, &config());
        if let Err(e) = (case.check)(&out) {
            panic!("{}: {e}", case.name);
        }
    }
}

#[test]
fn missing_params_is_an_error() {
    let ing = ingress("shop", "web")
        .rule(None, &[("Prefix", "/", "svc", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    snap.ingress_classes = vec![ingress_class("alb", "ingress.k8s.aws/alb", Some("missing"))];
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/web: ingressclass alb spec.parameters refers to ingressclassparams missing, which was not found; ingress shop/web joins no group, so no load balancer or listener rule is built for it"]
    );
}

#[test]
fn a_missing_ingress_class_skips_an_ingress_unless_it_holds_our_finalizer() {
    for (finalizer, want_error) in [
        (None, false),
        (Some("ingress.k8s.aws/resources"), true),
        (Some("group.ingress.k8s.aws/shop"), true),
        (Some("example.com/other"), false),
    ] {
        let mut ing = ingress("shop", "web")
            .rule(None, &[("Prefix", "/", "svc", P::N(80))])
            .build();
        ing.metadata.finalizers = finalizer.map(|f| vec![f.to_owned()]);
        let mut snap = snapshot(vec![ing], vec![]);
        snap.ingress_classes.clear();
        let out = build(&snap, &config());
        assert!(out.stacks.is_empty(), "{finalizer:?}");
        if want_error {
            // It has a load balancer: the controller keeps it (an object with errors protects
            // the stack it holds the finalizer of) instead of deleting it.
            assert_eq!(
                messages(&out),
                ["ingress shop/web: spec.ingressClassName refers to ingressclass alb, which was not found; ingress shop/web joins no group, so no load balancer or listener rule is built for it"],
                "{finalizer:?}"
            );
            assert!(out.skipped.is_empty(), "{finalizer:?}");
        } else {
            assert!(messages(&out).is_empty(), "{finalizer:?}");
            assert_eq!(out.skipped.len(), 1, "{finalizer:?}");
            assert_eq!(
                out.skipped[0].reason, "ingressclass alb not found",
                "{finalizer:?}"
            );
        }
    }
}

/// Three members of group `shop` whose rules interleave by host and path, not by member.
fn shop_group() -> Snapshot {
    let cart = ingress("shop", "cart")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::GROUP_ORDER, "10")
        .rule(
            Some("shop.example.com"),
            &[("Prefix", "/cart", "cart", P::N(80))],
        )
        .build();
    let catchall = ingress("shop", "catchall")
        .annotation(ann::GROUP_NAME, "shop")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let web = ingress("shop", "web")
        .annotation(ann::GROUP_NAME, "shop")
        .rule(
            Some("shop.example.com"),
            &[
                ("Prefix", "/", "web", P::N(80)),
                ("Exact", "/about", "web", P::N(80)),
            ],
        )
        .rule(Some("*.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![cart, web, catchall], vec![]);
    ip_service(&mut snap, "shop", "cart", "10.0.0.1");
    ip_service(&mut snap, "shop", "web", "10.0.0.2");
    snap
}

#[test]
fn group_orders_rules_across_members() {
    let out = build(&shop_group(), &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    assert_eq!(stack.id.to_string(), "shop");
    // group.order 0 members first (catchall, web), then cart (10). Within order 0 the catch-all
    // of an earlier member does not shadow the more specific rules of a later one.
    assert_eq!(
        rules(listener(stack, 80)),
        [
            "1 host=shop.example.com path=/about -> forward shop/web-web:80",
            "2 host=shop.example.com path=/* -> forward shop/web-web:80",
            "3 host=*.example.com path=/* -> forward shop/web-web:80",
            "4 path=/* -> forward shop/catchall-web:80",
            "5 host=shop.example.com path=/cart,/cart/* -> forward shop/cart-cart:80",
        ]
    );
    assert!(
        stack.load_balancer.name.starts_with("k8s-shop-"),
        "{}",
        stack.load_balancer.name
    );
}

#[test]
fn group_order_ties_break_on_namespace_and_name() {
    let a = ingress("b-ns", "a")
        .annotation(ann::GROUP_NAME, "g")
        .rule(Some("x.example.com"), &[("Prefix", "/p", "s", P::N(80))])
        .build();
    let b = ingress("a-ns", "z")
        .annotation(ann::GROUP_NAME, "g")
        .rule(Some("x.example.com"), &[("Prefix", "/q", "s", P::N(80))])
        .build();
    let c = ingress("c-ns", "c")
        .annotation(ann::GROUP_NAME, "g")
        .annotation(ann::GROUP_ORDER, "-5")
        .rule(Some("x.example.com"), &[("Prefix", "/r", "s", P::N(80))])
        .build();
    let mut snap = snapshot(vec![a, b, c], vec![]);
    for ns in ["a-ns", "b-ns", "c-ns"] {
        ip_service(&mut snap, ns, "s", "10.0.0.1");
    }
    let out = build(&snap, &config());
    let got: Vec<String> = rules(listener(only_stack(&out), 80));
    assert_eq!(
        got,
        [
            "1 host=x.example.com path=/r,/r/* -> forward c-ns/c-s:80",
            "2 host=x.example.com path=/q,/q/* -> forward a-ns/z-s:80",
            "3 host=x.example.com path=/p,/p/* -> forward b-ns/a-s:80",
        ]
    );
}

#[test]
fn one_bad_member_never_blocks_its_group() {
    struct Case {
        name: &'static str,
        key: &'static str,
        value: &'static str,
        error: &'static str,
    }
    let cases = [
        Case {
            name: "invalid annotation",
            key: ann::HEALTHCHECK_INTERVAL,
            value: "often",
            error: "ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds has invalid value \"often\": expected an integer from 5 to 300; ingress shop/web left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "conflicting exclusive setting",
            key: ann::SCHEME,
            value: "internet-facing",
            error: "ingress shop/web: annotation alb.ingress.kubernetes.io/scheme is \"internet-facing\" but ingress shop/catchall already set \"internal\" for group shop: expected the same value in every member that sets it; ingress shop/web left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "conflicting listener protocol",
            key: ann::LISTEN_PORTS,
            value: r#"[{"HTTPS":80}]"#,
            error: "ingress shop/web: annotation alb.ingress.kubernetes.io/listen-ports protocol of port 80 is \"HTTPS\" but ingress shop/catchall already set \"HTTP\" for group shop: expected the same value in every member that sets it; ingress shop/web left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "conflicting attribute",
            key: ann::LOAD_BALANCER_ATTRIBUTES,
            value: "idle_timeout.timeout_seconds=30",
            error: "ingress shop/web: annotation alb.ingress.kubernetes.io/load-balancer-attributes key idle_timeout.timeout_seconds is \"30\" but ingress shop/catchall already set \"60\" for group shop: expected the same value in every member that sets it; ingress shop/web left out of group shop, the rest of the group is still built",
        },
    ];
    for case in cases {
        let mut snap = shop_group();
        for ing in &mut snap.ingresses {
            let anns = ing
                .metadata
                .annotations
                .get_or_insert_with(Default::default);
            match ing.metadata.name.as_deref() {
                Some("web") => {
                    anns.insert(case.key.into(), case.value.into());
                }
                Some("catchall") => {
                    anns.insert(ann::SCHEME.into(), "internal".into());
                    anns.insert(
                        ann::LOAD_BALANCER_ATTRIBUTES.into(),
                        "idle_timeout.timeout_seconds=60".into(),
                    );
                }
                _ => {}
            }
        }
        let out = build(&snap, &config());
        assert_eq!(messages(&out), [case.error], "{}", case.name);
        let stack = only_stack(&out);
        assert_eq!(
            rules(listener(stack, 80)),
            [
                "1 path=/* -> forward shop/catchall-web:80",
                "2 host=shop.example.com path=/cart,/cart/* -> forward shop/cart-cart:80",
            ],
            "{}: the rest of the group is built",
            case.name
        );
        assert!(
            stack
                .target_groups
                .iter()
                .all(|t| !t.id.starts_with("shop/web-")),
            "{}: excluded member's target groups are gone",
            case.name
        );
    }
}

#[test]
fn invalid_spec_fields_exclude_the_member_with_a_clear_message() {
    struct Case {
        name: &'static str,
        ingress: Ingress,
        error: &'static str,
    }
    let base = || ingress("shop", "bad").annotation(ann::GROUP_NAME, "shop");
    let cases = [
        Case {
            name: "exact path with wildcard",
            ingress: base().rule(None, &[("Exact", "/img/*", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].path has invalid value \"/img/*\": expected an absolute path without wildcard characters (* or ?) for pathType Exact; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "host that is an IP address",
            ingress: base().rule(Some("10.0.0.1"), &[("Prefix", "/", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].host has invalid value \"10.0.0.1\": expected a DNS name such as shop.example.com, not an IP address (a host rule matches the Host header by name; leave host empty to match any host); ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "implementation specific path without a leading slash",
            ingress: base().rule(None, &[("ImplementationSpecific", "img/*", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].path has invalid value \"img/*\": expected an absolute path (starting with /) or no path for pathType ImplementationSpecific; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "path with a space",
            ingress: base().rule(None, &[("Prefix", "/my docs", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].path has invalid value \"/my docs\": expected a path of letters, digits and _ - . $ / ~ \" ' @ : + & * ? only (what ALB accepts in a path pattern: no spaces, no %, no non-ASCII characters); ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "path with a non-ASCII character",
            ingress: base().rule(None, &[("Exact", "/café", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].path has invalid value \"/café\": expected a path of letters, digits and _ - . $ / ~ \" ' @ : + & * ? only (what ALB accepts in a path pattern: no spaces, no %, no non-ASCII characters); ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "unknown path type",
            ingress: base().rule(None, &[("Regex", "/x", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].pathType has invalid value \"Regex\": expected Exact, Prefix or ImplementationSpecific; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "bad host",
            ingress: base().rule(Some("Shop.Example.com"), &[("Prefix", "/", "web", P::N(80))]).build(),
            error: "ingress shop/bad: spec.rules[0].host has invalid value \"Shop.Example.com\": expected a lower-case DNS name of at most 128 characters such as shop.example.com, or a wildcard such as *.example.com; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "missing action annotation",
            ingress: base().rule(None, &[("Prefix", "/", "canary", P::S("use-annotation"))]).build(),
            error: "ingress shop/bad: spec.rules[0].http.paths[0].backend.service (port use-annotation) refers to annotation alb.ingress.kubernetes.io/actions.canary, which was not found; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "https without certificate",
            ingress: base().annotation(ann::LISTEN_PORTS, r#"[{"HTTPS":8443}]"#).rule(None, &[("Prefix", "/x", "web", P::N(80))]).build(),
            error: "ingress shop/bad: annotation alb.ingress.kubernetes.io/listen-ports has invalid value \"[{\\\"HTTPS\\\":8443}]\": expected a certificate for HTTPS port 8443 from annotation alb.ingress.kubernetes.io/certificate-arn or IngressClassParams spec.certificateArn, or a host (spec.rules[].host, spec.tls[].hosts) to discover its certificates in ACM; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "ssl-redirect to a port that is not HTTPS",
            ingress: base().annotation(ann::SSL_REDIRECT, "443").rule(None, &[("Prefix", "/x", "web", P::N(80))]).build(),
            error: "ingress shop/bad: annotation alb.ingress.kubernetes.io/ssl-redirect has invalid value \"443\": expected an HTTPS listen port of group shop (ssl-redirect set by ingress shop/bad); ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "invalid group name is not a member of any group",
            ingress: ingress("shop", "bad").annotation(ann::GROUP_NAME, "Shop_Group").rule(None, &[("Prefix", "/x", "web", P::N(80))]).build(),
            error: "ingress shop/bad: annotation alb.ingress.kubernetes.io/group.name has invalid value \"Shop_Group\": expected lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters; ingress shop/bad joins no group, so no load balancer or listener rule is built for it",
        },
        Case {
            name: "resource backend",
            ingress: {
                let mut ing = base().rule(None, &[("Prefix", "/x", "web", P::N(80))]).build();
                if let Some(path) = ing.spec.as_mut().and_then(|s| s.rules.as_mut()).and_then(|r| r[0].http.as_mut()) {
                    path.paths[0].backend = k8s_openapi::api::networking::v1::IngressBackend {
                        service: None,
                        resource: Some(k8s_openapi::api::core::v1::TypedLocalObjectReference {
                            api_group: Some("storage.k8s.io".into()),
                            kind: "Bucket".into(),
                            name: "assets".into(),
                        }),
                    };
                }
                ing
            },
            error: "ingress shop/bad: spec.rules[0].http.paths[0].backend.resource has invalid value \"assets\": expected a service backend (resource backends are not supported); ingress shop/bad left out of group shop, the rest of the group is still built",
        },
        Case {
            name: "service backend without a port",
            ingress: {
                let mut ing = base().rule(None, &[("Prefix", "/x", "web", P::N(80))]).build();
                if let Some(path) = ing.spec.as_mut().and_then(|s| s.rules.as_mut()).and_then(|r| r[0].http.as_mut()) {
                    if let Some(svc) = path.paths[0].backend.service.as_mut() {
                        svc.port = None;
                    }
                }
                ing
            },
            error: "ingress shop/bad: spec.rules[0].http.paths[0].backend.service.port has invalid value \"\": expected a port number or name; ingress shop/bad left out of group shop, the rest of the group is still built",
        },
    ];
    for case in cases {
        let mut snap = shop_group();
        snap.ingresses.push(case.ingress);
        let out = build(&snap, &config());
        assert_eq!(messages(&out), [case.error], "{}", case.name);
        assert_eq!(
            listener(only_stack(&out), 80).rules.len(),
            5,
            "{}: group still built",
            case.name
        );
    }
}

#[test]
fn a_huge_value_is_cut_in_the_message() {
    let host = "a".repeat(10_000);
    let mut snap = shop_group();
    snap.ingresses.push(
        ingress("shop", "bad")
            .annotation(ann::GROUP_NAME, "shop")
            .rule(Some(&host), &[("Prefix", "/", "web", P::N(80))])
            .build(),
    );
    let out = build(&snap, &config());
    let want = format!(
        "ingress shop/bad: spec.rules[0].host has invalid value \"{}…\" (10000 characters): expected a lower-case DNS name of at most 128 characters such as shop.example.com, or a wildcard such as *.example.com; ingress shop/bad left out of group shop, the rest of the group is still built",
        "a".repeat(200)
    );
    assert_eq!(messages(&out), [want]);
    assert_eq!(
        listener(only_stack(&out), 80).rules.len(),
        5,
        "group still built"
    );
}

#[test]
fn default_backend() {
    // One member with a default backend: it becomes the default action.
    let mut snap = shop_group();
    snap.ingresses[0] = ingress("shop", "cart")
        .annotation(ann::GROUP_NAME, "shop")
        .default_backend("cart", P::N(80))
        .rule(
            Some("shop.example.com"),
            &[("Prefix", "/cart", "cart", P::N(80))],
        )
        .build();
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        describe_action(&listener(only_stack(&out), 80).default_actions[0]),
        "forward shop/cart-cart:80"
    );

    // A second member with a default backend is the error, and only it is left out.
    snap.ingresses.push(
        ingress("shop", "second")
            .annotation(ann::GROUP_NAME, "shop")
            .default_backend("web", P::N(80))
            .build(),
    );
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/second: spec.defaultBackend is set but ingress shop/cart already sets the default backend of group shop: expected at most one member of a group with spec.defaultBackend; ingress shop/second left out of group shop, the rest of the group is still built"]
    );
    assert_eq!(
        describe_action(&listener(only_stack(&out), 80).default_actions[0]),
        "forward shop/cart-cart:80"
    );
}

#[test]
fn backend_errors_only_affect_their_rules() {
    struct Case {
        name: &'static str,
        services: Vec<Service>,
        error: &'static str,
    }
    let cases = [
        Case {
            name: "missing service",
            services: vec![],
            error: "ingress shop/web: backend service shop/api:http: service shop/api not found; rules forwarding to it answer 503",
        },
        Case {
            name: "missing port",
            services: vec![service("shop", "api", "NodePort", &[("grpc", 9000, None, Some(30900))])],
            error: "ingress shop/web: backend service shop/api:http: service shop/api has no port \"http\": expected one of 9000 (grpc); rules forwarding to it answer 503",
        },
        Case {
            name: "instance target on ClusterIP",
            services: vec![service("shop", "api", "ClusterIP", &[("http", 80, None, None)])],
            error: "ingress shop/web: backend service shop/api:http: target type instance needs a NodePort or LoadBalancer service but service shop/api is ClusterIP: expected type NodePort or LoadBalancer, or annotation alb.ingress.kubernetes.io/target-type: ip; rules forwarding to it answer 503",
        },
        Case {
            name: "NodePort without nodePort",
            services: vec![service("shop", "api", "NodePort", &[("http", 80, None, None)])],
            error: "ingress shop/web: backend service shop/api:http: service shop/api port 80 has no nodePort: expected spec.ports[].nodePort for target type instance; rules forwarding to it answer 503",
        },
        Case {
            name: "invalid service annotation",
            services: vec![with_service_annotation(
                service("shop", "api", "NodePort", &[("http", 80, None, Some(30080))]),
                ann::HEALTHCHECK_PATH,
                "ping",
            )],
            error: "ingress shop/web: backend service shop/api:http: service shop/api: annotation alb.ingress.kubernetes.io/healthcheck-path has invalid value \"ping\": expected a path starting with \"/\"; rules forwarding to it answer 503",
        },
        Case {
            name: "healthcheck-port names a port the service does not have",
            services: vec![with_service_annotation(
                service("shop", "api", "NodePort", &[("http", 80, None, Some(30080))]),
                ann::HEALTHCHECK_PORT,
                "metrics",
            )],
            error: "ingress shop/web: backend service shop/api:http: annotation alb.ingress.kubernetes.io/healthcheck-port names port \"metrics\", which service shop/api does not have: expected one of 80 (http); rules forwarding to it answer 503",
        },
        Case {
            name: "healthcheck-port names a port without a nodePort for instance targets",
            services: vec![with_service_annotation(
                service(
                    "shop",
                    "api",
                    "NodePort",
                    &[("http", 80, None, Some(30080)), ("metrics", 9100, None, None)],
                ),
                ann::HEALTHCHECK_PORT,
                "metrics",
            )],
            error: "ingress shop/web: backend service shop/api:http: annotation alb.ingress.kubernetes.io/healthcheck-port names port \"metrics\" of service shop/api, which has no usable port number for target type instance; rules forwarding to it answer 503",
        },
    ];
    for case in cases {
        let ing = ingress("shop", "web")
            .rule(
                Some("a.example.com"),
                &[
                    ("Prefix", "/api", "api", P::S("http")),
                    ("Prefix", "/", "site", P::N(80)),
                ],
            )
            .build();
        let mut services = case.services;
        services.push(service(
            "shop",
            "site",
            "NodePort",
            &[("", 80, None, Some(30081))],
        ));
        let mut snap = snapshot(vec![ing], services);
        snap.nodes = vec![node("n1", Some("aws:///eu-west-1a/i-0aaa"), false)];
        let out = build(&snap, &config());
        assert_eq!(messages(&out), [case.error], "{}", case.name);
        assert_eq!(
            rules(listener(only_stack(&out), 80)),
            [
                "1 host=a.example.com path=/api,/api/* -> fixed 503",
                "2 host=a.example.com path=/* -> forward shop/web-site:80",
            ],
            "{}",
            case.name
        );
        assert_eq!(only_stack(&out).target_groups.len(), 1, "{}", case.name);
    }
}

#[test]
fn named_target_port_not_in_any_slice() {
    let ing = ingress("shop", "web")
        .annotation(ann::TARGET_TYPE, "ip")
        .rule(None, &[("Prefix", "/", "api", P::N(80))])
        .build();
    let mut snap = snapshot(
        vec![ing],
        vec![service(
            "shop",
            "api",
            "ClusterIP",
            &[("http", 80, Some(P::S("app")), None)],
        )],
    );
    snap.endpoint_slices = vec![slice(
        "shop",
        "api",
        "api-1",
        &[("metrics", 9100)],
        &[("10.0.0.1", Some(true))],
    )];
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/web: backend service shop/api:80: named targetPort \"app\" of service shop/api port 80 is not resolved by any of its 1 EndpointSlice(s): expected an EndpointSlice port named \"http\"; rules forwarding to it answer 503"]
    );
}

#[test]
fn instance_targets_are_eligible_nodes_on_the_node_port() {
    let ing = ingress("shop", "web")
        .rule(None, &[("Prefix", "/", "site", P::N(80))])
        .build();
    let mut snap = snapshot(
        vec![ing],
        vec![service(
            "shop",
            "site",
            "NodePort",
            &[("", 80, Some(P::N(8080)), Some(30080))],
        )],
    );
    snap.nodes = vec![
        node("b", Some("aws:///eu-west-1b/i-0bbb"), false),
        node("a", Some("aws:///eu-west-1a/i-0aaa"), false),
        node("excluded", Some("aws:///eu-west-1a/i-0ccc"), true),
    ];
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let tg = &only_stack(&out).target_groups[0];
    assert_eq!(tg.port, 30080);
    let targets: Vec<String> = tg
        .targets
        .iter()
        .map(|t| format!("{}:{}", t.id, t.port))
        .collect();
    assert_eq!(targets, ["i-0aaa:30080", "i-0bbb:30080"]);

    snap.nodes.push(node(
        "kind-worker",
        Some("kind://docker/kind/kind-worker"),
        false,
    ));
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["node kind-worker: spec.providerID has invalid value \"kind://docker/kind/kind-worker\": expected aws:///<zone>/<instance id> so the node can be an instance target"]
    );
}

#[test]
fn service_annotations_override_ingress_annotations() {
    let ing = ingress("shop", "web")
        .annotation(ann::TARGET_TYPE, "instance")
        .annotation(ann::HEALTHCHECK_PATH, "/ingress")
        .annotation(ann::SUCCESS_CODES, "200-299")
        .annotation(ann::TAGS, "team=shop,cost=1")
        .rule(None, &[("Prefix", "/", "api", P::N(80))])
        .build();
    let svc = with_service_annotation(
        with_service_annotation(
            with_service_annotation(
                service(
                    "shop",
                    "api",
                    "ClusterIP",
                    &[("http", 80, Some(P::N(8080)), None)],
                ),
                ann::TARGET_TYPE,
                "ip",
            ),
            ann::HEALTHCHECK_PATH,
            "/service",
        ),
        ann::TAGS,
        "cost=2",
    );
    let mut snap = snapshot(vec![ing], vec![svc]);
    snap.endpoint_slices = vec![slice(
        "shop",
        "api",
        "api-1",
        &[("http", 8080)],
        &[("10.0.0.5", Some(true))],
    )];
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    let tg = &stack.target_groups[0];
    assert_eq!(tg.target_type, crate::model::TargetType::Ip);
    assert_eq!(tg.port, 8080);
    assert_eq!(tg.health_check.path, "/service");
    assert_eq!(
        tg.health_check.matcher.http_code.as_deref(),
        Some("200-299")
    );
    assert_eq!(tg.tags["cost"], "2");
    assert_eq!(tg.tags["team"], "shop");
    assert_eq!(
        stack.load_balancer.tags["cost"], "1",
        "load balancer tags come from the ingress"
    );
}

#[test]
fn custom_actions_and_conditions() {
    let ing = ingress("shop", "web")
        .annotation(ann::TARGET_TYPE, "ip")
        .annotation(
            "alb.ingress.kubernetes.io/actions.canary",
            r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue","servicePort":80,"weight":90},{"serviceName":"green","servicePort":"http","weight":10}]}}"#,
        )
        .annotation(
            "alb.ingress.kubernetes.io/actions.gone",
            r#"{"type":"fixed-response","fixedResponseConfig":{"statusCode":"410","contentType":"text/plain"}}"#,
        )
        .annotation(
            "alb.ingress.kubernetes.io/conditions.canary",
            r#"[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"x-canary","values":["yes"]}}]"#,
        )
        .rule(
            Some("a.example.com"),
            &[("Prefix", "/", "canary", P::S("use-annotation")), ("Exact", "/old", "gone", P::S("use-annotation"))],
        )
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "blue", "10.0.0.1");
    ip_service(&mut snap, "shop", "green", "10.0.0.2");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        rules(listener(only_stack(&out), 80)),
        [
            "1 host=a.example.com path=/old -> fixed 410",
            "2 host=a.example.com path=/* header:x-canary=yes -> forward shop/web-blue:80@90+shop/web-green:http@10",
        ]
    );
}

#[test]
fn ssl_redirect_and_https_listeners() {
    let ing = ingress("shop", "web")
        .annotation(ann::LISTEN_PORTS, r#"[{"HTTP":80},{"HTTPS":443}]"#)
        .annotation(
            ann::CERTIFICATE_ARN,
            "arn:aws:acm:eu-west-1:1:certificate/a,arn:aws:acm:eu-west-1:1:certificate/b",
        )
        .annotation(ann::SSL_REDIRECT, "443")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    let http = listener(stack, 80);
    assert!(http.rules.is_empty(), "redirected listener has no rules");
    assert_eq!(
        describe_action(&http.default_actions[0]),
        "redirect HTTPS:443"
    );
    let https = listener(stack, 443);
    assert_eq!(rules(https), ["1 path=/* -> forward shop/web-web:80"]);
    assert_eq!(
        https.ssl_policy.as_deref(),
        Some("ELBSecurityPolicy-2016-08")
    );
    assert_eq!(https.certificates.len(), 2);
    assert_eq!(http.ssl_policy, None);
}

#[test]
fn certificates_alone_default_to_https_443() {
    let ing = ingress("shop", "web")
        .annotation(
            ann::CERTIFICATE_ARN,
            "arn:aws:acm:eu-west-1:1:certificate/a",
        )
        .annotation(ann::SSL_POLICY, "ELBSecurityPolicy-TLS13-1-2-2021-06")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    let stack = only_stack(&out);
    assert_eq!(stack.listeners.len(), 1);
    assert_eq!(
        listener(stack, 443).ssl_policy.as_deref(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
}

/// LBC's certificate discovery: an HTTPS port of an Ingress naming no certificate takes the
/// ACM certificates of its rule hosts and TLS hosts (together, sorted); members of a group
/// keep their order, named certificates included; a member naming certificates discovers
/// nothing; and the AWS layer's certificates fill the records in.
#[test]
fn https_without_certificate_arn_discovers_certificates_for_its_hosts() {
    use crate::certificates::{resolve_stack, AcmCertificate};
    use crate::model::CertificateDiscovery;
    let https = r#"[{"HTTPS":443}]"#;
    let mut first = ingress("shop", "a")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::GROUP_ORDER, "1")
        .annotation(ann::LISTEN_PORTS, https)
        .rule(Some("www.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .rule(
            Some("api.example.com"),
            &[("Prefix", "/api", "web", P::N(80))],
        )
        .build();
    if let Some(spec) = first.spec.as_mut() {
        spec.tls = Some(vec![k8s_openapi::api::networking::v1::IngressTLS {
            hosts: Some(vec!["tls.example.org".into(), "www.example.com".into()]),
            secret_name: None,
        }]);
    }
    let named = ingress("shop", "b")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::GROUP_ORDER, "2")
        .annotation(ann::LISTEN_PORTS, https)
        .annotation(
            ann::CERTIFICATE_ARN,
            "arn:aws:acm:eu-west-1:1:certificate/named",
        )
        .rule(Some("b.example.com"), &[("Prefix", "/b", "web", P::N(80))])
        .build();
    let later = ingress("shop", "c")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::GROUP_ORDER, "3")
        .annotation(ann::LISTEN_PORTS, https)
        .rule(Some("c.example.net"), &[("Prefix", "/c", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![first, named, later], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    let l = listener(stack, 443);
    assert_eq!(
        l.certificates,
        ["arn:aws:acm:eu-west-1:1:certificate/named"]
    );
    assert_eq!(
        l.certificate_discovery,
        [
            CertificateDiscovery {
                object: "ingress shop/a".into(),
                hosts: vec![
                    "api.example.com".into(),
                    "tls.example.org".into(),
                    "www.example.com".into()
                ],
                after: 0,
            },
            CertificateDiscovery {
                object: "ingress shop/c".into(),
                hosts: vec!["c.example.net".into()],
                after: 1,
            },
        ]
    );
    let acm = |arn: &str, domains: &[&str]| AcmCertificate {
        arn: arn.into(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
    };
    let certs = [
        acm(
            "arn:aws:acm:eu-west-1:1:certificate/wild",
            &["example.com", "*.example.com"],
        ),
        acm(
            "arn:aws:acm:eu-west-1:1:certificate/org",
            &["tls.example.org"],
        ),
        acm(
            "arn:aws:acm:eu-west-1:1:certificate/named",
            &["b.example.com"],
        ),
        acm(
            "arn:aws:acm:eu-west-1:1:certificate/net",
            &["*.example.net"],
        ),
        acm(
            "arn:aws:acm:eu-west-1:1:certificate/unrelated",
            &["example.io"],
        ),
    ];
    let resolved = resolve_stack(stack, &certs);
    let resolved = resolved.as_ref().map(|s| listener(s, 443));
    assert_eq!(
        resolved.map(|l| (l.certificates.clone(), l.certificate_discovery.is_empty())),
        Ok((
            vec![
                "arn:aws:acm:eu-west-1:1:certificate/org".to_owned(),
                "arn:aws:acm:eu-west-1:1:certificate/wild".to_owned(),
                "arn:aws:acm:eu-west-1:1:certificate/named".to_owned(),
                "arn:aws:acm:eu-west-1:1:certificate/net".to_owned()
            ],
            true
        )),
        "the first member's certificates come first (the default is the first of them, \
         sorted by ARN as LBC lists them)"
    );
    assert_eq!(
        resolve_stack(stack, &certs[..3]).err(),
        Some(
            "certificate discovery for HTTPS listener port 443 of ingress shop/c: no certificate \
             found for host: c.example.net (no ISSUED ACM certificate has it or a one-label \
             wildcard of it among its domain names; issue or import one, or set \
             alb.ingress.kubernetes.io/certificate-arn)"
                .to_owned()
        )
    );
}

/// Without `listen-ports` and without a certificate an Ingress listens on HTTP:80 (LBC's
/// `preferTLS` needs named certificates), so nothing is discovered; an HTTPS port with no host
/// at all and no certificate in the group is still an error.
#[test]
fn discovery_needs_an_https_port_and_a_host() {
    let plain = ingress("shop", "web")
        .rule(Some("www.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![plain], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    let stack = only_stack(&out);
    assert_eq!(stack.listeners.len(), 1);
    assert_eq!(listener(stack, 80).protocol, crate::model::Protocol::Http);
    assert!(stack.listeners[0].certificate_discovery.is_empty());
    assert!(!crate::certificates::needs_discovery(stack));

    let hostless = ingress("shop", "web")
        .annotation(ann::LISTEN_PORTS, r#"[{"HTTPS":443}]"#)
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![hostless], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert!(out.stacks.is_empty());
    assert_eq!(
        messages(&out),
        ["ingress shop/web: annotation alb.ingress.kubernetes.io/listen-ports has invalid value \"[{\\\"HTTPS\\\":443}]\": expected a certificate for HTTPS port 443 from annotation alb.ingress.kubernetes.io/certificate-arn or IngressClassParams spec.certificateArn, or a host (spec.rules[].host, spec.tls[].hosts) to discover its certificates in ACM; no load balancer is built for ingress shop/web"]
    );
}

/// `listener-attributes.{Protocol}-{Port}` as LBC: per listener of the group, merged across
/// its members; a member setting a key to another value than an earlier member is left out
/// (LBC fails the group); a key naming a port the member does not listen on does nothing.
#[test]
fn listener_attributes_are_merged_per_listener() {
    let key = "alb.ingress.kubernetes.io/listener-attributes.HTTP-80";
    let member = |name: &str, order: &str, value: &str| {
        ingress("shop", name)
            .annotation(ann::GROUP_NAME, "shop")
            .annotation(ann::GROUP_ORDER, order)
            .annotation(ann::LISTEN_PORTS, r#"[{"HTTP":80},{"HTTP":8080}]"#)
            .annotation(key, value)
            .annotation(
                "alb.ingress.kubernetes.io/listener-attributes.HTTPS-443",
                "routing.http.response.server.enabled=true",
            )
            .rule(
                Some(&format!("{name}.example.com")),
                &[("Prefix", "/", "web", P::N(80))],
            )
            .build()
    };
    let mut snap = snapshot(
        vec![
            member("a", "1", "routing.http.response.server.enabled=false"),
            member(
                "b",
                "2",
                "routing.http.response.server.enabled=false,routing.http.response.x_frame_options.header_value=DENY",
            ),
            member("c", "3", "routing.http.response.server.enabled=true"),
        ],
        vec![],
    );
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/c: annotation alb.ingress.kubernetes.io/listener-attributes.HTTP-80 key routing.http.response.server.enabled is \"true\" but ingress shop/a already set \"false\" for group shop: expected the same value in every member that sets it; ingress shop/c left out of group shop, the rest of the group is still built"]
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let stack = only_stack(&out);
    let l80 = listener(stack, 80);
    assert_eq!(
        l80.attributes,
        std::collections::BTreeMap::from([
            (
                "routing.http.response.server.enabled".to_owned(),
                "false".to_owned()
            ),
            (
                "routing.http.response.x_frame_options.header_value".to_owned(),
                "DENY".to_owned()
            ),
        ])
    );
    assert!(listener(stack, 8080).attributes.is_empty());

    let bad = ingress("shop", "web")
        .annotation(key, "routing.http.response.server=false")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![bad], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    assert_eq!(
        messages(&build(&snap, &config())),
        ["ingress shop/web: annotation alb.ingress.kubernetes.io/listener-attributes.HTTP-80 has invalid value \"routing.http.response.server=false\": expected key=value pairs whose keys are attributes of a listener of an Application Load Balancer (such as routing.http.response.server.enabled), but \"routing.http.response.server\" is not one; no load balancer is built for ingress shop/web"]
    );
}

/// `security-group-prefix-lists` as LBC: the managed security group lets the prefix lists in
/// on the listen ports, and nothing else unless `inbound-cidrs` names CIDRs too; exclusive in a
/// group like `inbound-cidrs`; ids are checked.
#[test]
fn security_group_prefix_lists_replace_the_open_default() {
    let built = |annotations: &[(&str, &str)]| {
        let mut ing = ingress("shop", "web");
        for (k, v) in annotations {
            ing = ing.annotation(k, v);
        }
        let mut snap = snapshot(
            vec![ing.rule(None, &[("Prefix", "/", "web", P::N(80))]).build()],
            vec![],
        );
        ip_service(&mut snap, "shop", "web", "10.0.0.1");
        build(&snap, &config())
    };
    let out = built(&[(ann::SECURITY_GROUP_PREFIX_LISTS, "pl-0a1b, pl-00ff")]);
    let lb = &only_stack(&out).load_balancer;
    assert_eq!(lb.inbound_prefix_lists, ["pl-0a1b", "pl-00ff"]);
    assert!(lb.inbound_cidrs.is_empty(), "{:?}", lb.inbound_cidrs);

    let out = built(&[
        (ann::SECURITY_GROUP_PREFIX_LISTS, "pl-0a1b"),
        (ann::INBOUND_CIDRS, "10.0.0.0/8"),
    ]);
    let lb = &only_stack(&out).load_balancer;
    assert_eq!(lb.inbound_prefix_lists, ["pl-0a1b"]);
    assert_eq!(lb.inbound_cidrs, ["10.0.0.0/8"]);

    let out = built(&[
        (ann::SECURITY_GROUP_PREFIX_LISTS, "pl-0a1b"),
        (ann::SECURITY_GROUPS, "sg-1"),
    ]);
    let lb = &only_stack(&out).load_balancer;
    assert!(lb.inbound_prefix_lists.is_empty() && lb.inbound_cidrs.is_empty());

    let out = built(&[]);
    let lb = &only_stack(&out).load_balancer;
    assert!(lb.inbound_prefix_lists.is_empty());
    assert_eq!(lb.inbound_cidrs, ["0.0.0.0/0"]);

    let out = built(&[(ann::SECURITY_GROUP_PREFIX_LISTS, "pl-0a1b,sg-1")]);
    assert_eq!(
        messages(&out),
        ["ingress shop/web: annotation alb.ingress.kubernetes.io/security-group-prefix-lists has invalid value \"pl-0a1b,sg-1\": expected a comma-separated list of managed prefix list ids such as pl-0123456789abcdef0; no load balancer is built for ingress shop/web"]
    );
}

#[test]
fn aws_limits() {
    struct Case {
        name: &'static str,
        snapshot: Snapshot,
        error: &'static str,
    }
    // 101 rules in one member.
    let many_paths: Vec<(String, &str, P)> = (0..101)
        .map(|i| (format!("/p{i}"), "web", P::N(80)))
        .collect();
    let paths: Vec<(&str, &str, &str, P)> = many_paths
        .iter()
        .map(|(p, s, port)| ("Prefix", p.as_str(), *s, *port))
        .collect();
    let mut rules_snap = snapshot(
        vec![ingress("shop", "web").rule(None, &paths).build()],
        vec![],
    );
    ip_service(&mut rules_snap, "shop", "web", "10.0.0.1");

    // Six condition values: host + 2 path patterns + 3 methods.
    let mut cond_snap = snapshot(
        vec![ingress("shop", "web")
            .annotation(
                "alb.ingress.kubernetes.io/conditions.web",
                r#"[{"field":"http-request-method","httpRequestMethodConfig":{"values":["GET","HEAD","POST"]}}]"#,
            )
            .rule(Some("a.example.com"), &[("Prefix", "/x", "web", P::N(80))])
            .build()],
        vec![],
    );
    ip_service(&mut cond_snap, "shop", "web", "10.0.0.1");

    // 101 target groups: one service per path.
    let names: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    let tg_paths: Vec<(String, String)> =
        names.iter().map(|n| (format!("/{n}"), n.clone())).collect();
    let tg_paths_ref: Vec<(&str, &str, &str, P)> = tg_paths
        .iter()
        .map(|(p, s)| ("Exact", p.as_str(), s.as_str(), P::N(80)))
        .collect();
    let mut tg_snap = snapshot(
        vec![ingress("shop", "web").rule(None, &tg_paths_ref).build()],
        vec![],
    );
    for n in &names {
        ip_service(&mut tg_snap, "shop", n, "10.0.0.1");
    }
    let mut config_tg = config();
    config_tg.limits.rules_per_load_balancer = 1000;

    let cases = [
        Case {
            name: "more than 100 rules",
            snapshot: rules_snap,
            error: "ingress shop/web: the number of listener rules of the load balancer of group shop/web would be 101: expected at most 100 (AWS quota); no load balancer is built for ingress shop/web",
        },
        Case {
            name: "more than 5 condition values",
            snapshot: cond_snap,
            error: "ingress shop/web: the number of condition values of the rule for spec.rules[0].http.paths[0] (its host and path plus annotation alb.ingress.kubernetes.io/conditions.web) would be 6: expected at most 5 (AWS quota); no load balancer is built for ingress shop/web",
        },
        Case {
            name: "more than 100 target groups",
            snapshot: tg_snap,
            error: "ingress shop/web: the number of target groups of the load balancer of group shop/web would be 101: expected at most 100 (AWS quota); no load balancer is built for ingress shop/web",
        },
    ];
    for case in cases {
        let cfg = if case.name.contains("target groups") {
            config_tg.clone()
        } else {
            config()
        };
        let out = build(&case.snapshot, &cfg);
        assert_eq!(messages(&out), [case.error], "{}", case.name);
        assert!(out.stacks.is_empty(), "{}", case.name);
    }
}

#[test]
fn rule_limit_excludes_only_the_member_that_overflows() {
    let paths: Vec<String> = (0..60).map(|i| format!("/p{i}")).collect();
    let list: Vec<(&str, &str, &str, P)> = paths
        .iter()
        .map(|p| ("Prefix", p.as_str(), "web", P::N(80)))
        .collect();
    let first = ingress("shop", "a")
        .annotation(ann::GROUP_NAME, "g")
        .rule(None, &list)
        .build();
    let second = ingress("shop", "b")
        .annotation(ann::GROUP_NAME, "g")
        .rule(None, &list)
        .build();
    let third = ingress("shop", "c")
        .annotation(ann::GROUP_NAME, "g")
        .rule(None, &list[..40])
        .build();
    let mut snap = snapshot(vec![first, second, third], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/b: the number of listener rules of the load balancer of group g would be 120: expected at most 100 (AWS quota); ingress shop/b left out of group g, the rest of the group is still built"]
    );
    assert_eq!(listener(only_stack(&out), 80).rules.len(), 100);
}

#[test]
fn explicit_load_balancer_name_and_scheme() {
    let ing = ingress("shop", "web")
        .annotation(ann::LOAD_BALANCER_NAME, "shop-public")
        .annotation(ann::SCHEME, "internet-facing")
        .annotation(ann::IP_ADDRESS_TYPE, "dualstack")
        .annotation(ann::SUBNETS, "subnet-b,subnet-a")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    let lb = &only_stack(&out).load_balancer;
    assert_eq!(lb.name, "shop-public");
    assert_eq!(lb.scheme, crate::model::Scheme::InternetFacing);
    assert_eq!(lb.inbound_cidrs, ["0.0.0.0/0", "::/0"]);
    assert_eq!(lb.subnets, ["subnet-b", "subnet-a"]);
}

#[test]
fn json_contract_shape() {
    let out = build(&seed(), &config());
    let json = serde_json::to_value(out.desired_state()).unwrap();
    let stack = &json["stacks"][0];
    assert_eq!(stack["id"], "shop/storefront");
    assert_eq!(stack["loadBalancer"]["type"], "application");
    assert_eq!(stack["loadBalancer"]["ipAddressType"], "ipv4");
    let rule = &stack["listeners"][0]["rules"][0];
    assert_eq!(rule["priority"], 1);
    assert_eq!(rule["conditions"][0]["field"], "host-header");
    assert_eq!(rule["conditions"][0]["values"][0], "shop.example.com");
    assert_eq!(rule["actions"][0]["type"], "forward");
    assert_eq!(rule["actions"][0]["targetGroups"][0]["weight"], 1);
    assert_eq!(
        stack["listeners"][0]["defaultActions"][0]["type"],
        "fixed-response"
    );
    assert_eq!(
        stack["listeners"][0]["defaultActions"][0]["statusCode"],
        "404"
    );
    let tg = &stack["targetGroups"][0];
    for key in [
        "id",
        "name",
        "port",
        "protocol",
        "targetType",
        "healthCheck",
        "targets",
        "attributes",
        "tags",
    ] {
        assert!(tg.get(key).is_some(), "target group field {key}");
    }
    assert_eq!(tg["healthCheck"]["matcher"]["httpCode"], "200");
    assert!(json["errors"].as_array().unwrap().is_empty());
    // Round trip: the contract deserialises back into the model.
    let back: crate::model::DesiredState = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(back).unwrap(), json);
}

#[test]
fn excluded_member_reports_no_backend_errors() {
    // The member is left out, so none of its rules exist: a "rules forwarding to it answer
    // 503" message for its backends would contradict the exclusion.
    let mut snap = shop_group();
    snap.ingresses.push(
        ingress("shop", "late")
            .annotation(ann::GROUP_NAME, "shop")
            .annotation(ann::LISTEN_PORTS, r#"[{"HTTPS":80}]"#)
            .annotation(
                ann::CERTIFICATE_ARN,
                "arn:aws:acm:eu-west-1:1:certificate/a",
            )
            .rule(None, &[("Prefix", "/z", "ghost", P::N(80))])
            .build(),
    );
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/late: annotation alb.ingress.kubernetes.io/listen-ports protocol of port 80 is \"HTTPS\" but ingress shop/catchall already set \"HTTP\" for group shop: expected the same value in every member that sets it; ingress shop/late left out of group shop, the rest of the group is still built"]
    );
    assert_eq!(listener(only_stack(&out), 80).rules.len(), 5);
}

#[test]
fn every_ingress_annotation_reaches_the_model() {
    use crate::model::{Protocol, ProtocolVersion};
    struct Case {
        name: &'static str,
        annotations: &'static [(&'static str, &'static str)],
        check: fn(&Stack) -> bool,
    }
    let cases = [
        Case {
            name: "security-groups replace the managed group and its inbound-cidrs",
            annotations: &[
                (ann::SECURITY_GROUPS, "sg-1, sg-2"),
                (ann::INBOUND_CIDRS, "10.0.0.0/8"),
            ],
            check: |s| {
                s.load_balancer.security_groups == ["sg-1", "sg-2"]
                    && s.load_balancer.inbound_cidrs.is_empty()
            },
        },
        Case {
            name: "inbound-cidrs",
            annotations: &[(ann::INBOUND_CIDRS, "10.0.0.0/8,192.168.0.0/16")],
            check: |s| s.load_balancer.inbound_cidrs == ["10.0.0.0/8", "192.168.0.0/16"],
        },
        Case {
            name: "backend-protocol",
            annotations: &[(ann::BACKEND_PROTOCOL, "HTTPS")],
            check: |s| s.target_groups[0].protocol == Protocol::Https,
        },
        Case {
            name: "backend-protocol-version GRPC switches health-check defaults",
            annotations: &[(ann::BACKEND_PROTOCOL_VERSION, "GRPC")],
            check: |s| {
                let t = &s.target_groups[0];
                t.protocol_version == Some(ProtocolVersion::Grpc)
                    && t.health_check.path == "/AWS.ALB/healthcheck"
                    && t.health_check.matcher.grpc_code.as_deref() == Some("12")
                    && t.health_check.matcher.http_code.is_none()
            },
        },
        Case {
            name: "healthcheck-port by service port name resolves to the target port",
            annotations: &[(ann::HEALTHCHECK_PORT, "http")],
            check: |s| s.target_groups[0].health_check.port == "8080",
        },
        Case {
            name: "healthcheck-port number",
            annotations: &[(ann::HEALTHCHECK_PORT, "9000")],
            check: |s| s.target_groups[0].health_check.port == "9000",
        },
        Case {
            name: "health-check protocol, timings and thresholds",
            annotations: &[
                (ann::HEALTHCHECK_PROTOCOL, "HTTPS"),
                (ann::HEALTHCHECK_INTERVAL, "30"),
                (ann::HEALTHCHECK_TIMEOUT, "10"),
                (ann::HEALTHY_THRESHOLD, "3"),
                (ann::UNHEALTHY_THRESHOLD, "4"),
                (ann::SUCCESS_CODES, "200,302"),
            ],
            check: |s| {
                let h = &s.target_groups[0].health_check;
                h.protocol == Protocol::Https
                    && h.port == "traffic-port"
                    && h.interval_seconds == 30
                    && h.timeout_seconds == 10
                    && h.healthy_threshold_count == 3
                    && h.unhealthy_threshold_count == 4
                    && h.matcher.http_code.as_deref() == Some("200,302")
            },
        },
        Case {
            name: "target-group-attributes",
            annotations: &[(
                ann::TARGET_GROUP_ATTRIBUTES,
                "deregistration_delay.timeout_seconds=30,stickiness.enabled=true",
            )],
            check: |s| {
                let a = &s.target_groups[0].attributes;
                a.len() == 2 && a["deregistration_delay.timeout_seconds"] == "30"
            },
        },
        Case {
            name: "defaults are LBC's",
            annotations: &[],
            check: |s| {
                let t = &s.target_groups[0];
                let h = &t.health_check;
                t.protocol == Protocol::Http
                    && t.protocol_version == Some(ProtocolVersion::Http1)
                    && h.protocol == Protocol::Http
                    && h.port == "traffic-port"
                    && h.path == "/"
                    && (h.interval_seconds, h.timeout_seconds) == (15, 5)
                    && (h.healthy_threshold_count, h.unhealthy_threshold_count) == (2, 2)
                    && h.matcher.http_code.as_deref() == Some("200")
                    && s.load_balancer.scheme == crate::model::Scheme::Internal
                    && s.load_balancer.inbound_cidrs == ["0.0.0.0/0"]
                    && s.load_balancer.security_groups.is_empty()
            },
        },
    ];
    for case in cases {
        let mut ing = ingress("shop", "web").rule(None, &[("Prefix", "/", "api", P::S("http"))]);
        for (k, v) in case.annotations {
            ing = ing.annotation(k, v);
        }
        let mut snap = snapshot(vec![ing.build()], vec![]);
        ip_service(&mut snap, "shop", "api", "10.0.0.1");
        let out = build(&snap, &config());
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        let stack = only_stack(&out);
        assert!(
            (case.check)(stack),
            "{}: {:#?}",
            case.name,
            (&stack.load_balancer, &stack.target_groups)
        );
    }
}

/// The web ACL annotation of [`build_with_params`]'s Ingress.
const ANNOTATION_ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/annotation/1";

/// One Ingress `shop/web` of class `alb`, whose IngressClassParams `params` has `spec`, and
/// whose annotations set the same settings differently.
fn build_with_params(spec: IngressClassParamsSpec) -> BuildOutput {
    let ing = ingress("shop", "web")
        .annotation(ann::IP_ADDRESS_TYPE, "ipv4")
        .annotation(ann::LOAD_BALANCER_NAME, "from-annotation")
        .annotation(ann::WAFV2_ACL_ARN, ANNOTATION_ACL)
        .annotation(ann::TAGS, "team=annotation,keep=1")
        .annotation(ann::SUBNETS, "subnet-annotation-a,subnet-annotation-b")
        .annotation(ann::INBOUND_CIDRS, "192.168.0.0/16")
        .annotation(ann::SSL_POLICY, "ELBSecurityPolicy-2016-08")
        .annotation(
            ann::LOAD_BALANCER_ATTRIBUTES,
            "idle_timeout.timeout_seconds=60,routing.http2.enabled=true",
        )
        .rule(None, &[("Prefix", "/", "svc", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    snap.ingress_classes = vec![ingress_class("alb", "ingress.k8s.aws/alb", Some("params"))];
    snap.ingress_class_params = vec![params("params", spec)];
    ip_service(&mut snap, "shop", "svc", "10.0.0.1");
    build(&snap, &config())
}

#[test]
fn every_ingress_class_params_field_beats_its_annotation() {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    struct Case {
        name: &'static str,
        spec: IngressClassParamsSpec,
        check: fn(&Stack) -> bool,
    }
    let cases = [
        Case {
            name: "ipAddressType",
            spec: IngressClassParamsSpec {
                ip_address_type: Some("dualstack".into()),
                ..Default::default()
            },
            check: |s| s.load_balancer.ip_address_type == crate::model::IpAddressType::Dualstack,
        },
        Case {
            name: "loadBalancerName",
            spec: IngressClassParamsSpec {
                load_balancer_name: Some("from-params".into()),
                ..Default::default()
            },
            check: |s| s.load_balancer.name == "from-params",
        },
        Case {
            name: "tags merge, params win per key, on every resource",
            spec: IngressClassParamsSpec {
                tags: Some(vec![kv("team", "params"), kv("owner", "platform")]),
                ..Default::default()
            },
            check: |s| {
                let ok = |t: &std::collections::BTreeMap<String, String>| {
                    t.get("team").map(String::as_str) == Some("params")
                        && t.get("owner").map(String::as_str) == Some("platform")
                        && t.get("keep").map(String::as_str) == Some("1")
                };
                ok(&s.load_balancer.tags)
                    && ok(&s.target_groups[0].tags)
                    && ok(&s.listeners[0].tags)
                    && ok(&s.listeners[0].rules[0].tags)
            },
        },
        Case {
            name: "subnets by ids and tags",
            spec: IngressClassParamsSpec {
                subnets: Some(SubnetSelector {
                    ids: vec!["subnet-1".into()],
                    tags: [("tier".to_owned(), vec!["public".to_owned()])].into(),
                }),
                ..Default::default()
            },
            check: |s| {
                s.load_balancer.subnets == ["subnet-1"]
                    && s.load_balancer.subnet_tags["tier"] == ["public"]
            },
        },
        Case {
            name: "inboundCIDRs",
            spec: IngressClassParamsSpec {
                inbound_cidrs: Some(vec!["10.0.0.0/8".into()]),
                ..Default::default()
            },
            check: |s| s.load_balancer.inbound_cidrs == ["10.0.0.0/8"],
        },
        Case {
            name: "prefixListsIDs beat the legacy spelling (the annotation's CIDRs stay, as LBC)",
            spec: IngressClassParamsSpec {
                prefix_lists_ids: Some(vec!["pl-11111111".into()]),
                prefix_lists_ids_legacy: Some(vec!["pl-22222222".into()]),
                ..Default::default()
            },
            check: |s| {
                s.load_balancer.inbound_prefix_lists == ["pl-11111111"]
                    && s.load_balancer.inbound_cidrs == ["192.168.0.0/16"]
            },
        },
        Case {
            name: "the legacy PrefixListsIDs spelling when prefixListsIDs is unset or empty",
            spec: IngressClassParamsSpec {
                prefix_lists_ids: Some(Vec::new()),
                prefix_lists_ids_legacy: Some(vec!["pl-22222222".into()]),
                ..Default::default()
            },
            check: |s| s.load_balancer.inbound_prefix_lists == ["pl-22222222"],
        },
        Case {
            name: "certificateArn (HTTPS 443 by default) and sslPolicy",
            spec: IngressClassParamsSpec {
                certificate_arn: Some(vec!["arn:aws:acm:eu-west-1:1:certificate/p".into()]),
                ssl_policy: Some("ELBSecurityPolicy-TLS13-1-2-2021-06".into()),
                ..Default::default()
            },
            check: |s| {
                s.listeners.len() == 1
                    && s.listeners[0].port == 443
                    && s.listeners[0].certificates == ["arn:aws:acm:eu-west-1:1:certificate/p"]
                    && s.listeners[0].ssl_policy.as_deref()
                        == Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
            },
        },
        Case {
            name: "loadBalancerAttributes merge, params win per key",
            spec: IngressClassParamsSpec {
                load_balancer_attributes: Some(vec![kv("idle_timeout.timeout_seconds", "120")]),
                ..Default::default()
            },
            check: |s| {
                let a = &s.load_balancer.attributes;
                a["idle_timeout.timeout_seconds"] == "120" && a["routing.http2.enabled"] == "true"
            },
        },
    ];
    for case in cases {
        let out = build_with_params(case.spec);
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        let stack = only_stack(&out);
        assert!((case.check)(stack), "{}: {stack:#?}", case.name);
    }
}

#[test]
fn ingress_class_params_target_type_beats_the_service_annotation() {
    // The Service says ip; the class says instance, and a ClusterIP Service cannot do that.
    let out = build_with_params(IngressClassParamsSpec {
        target_type: Some("instance".into()),
        ..Default::default()
    });
    assert_eq!(
        messages(&out),
        ["ingress shop/web: backend service shop/svc:80: target type instance needs a NodePort or LoadBalancer service but service shop/svc is ClusterIP: expected type NodePort or LoadBalancer, or annotation alb.ingress.kubernetes.io/target-type: ip; rules forwarding to it answer 503"]
    );
}

#[test]
fn invalid_ingress_class_params_fields_name_the_params_field_and_the_ingress() {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: v.into(),
    };
    let left_out = "; no load balancer is built for ingress shop/web";
    let cases = [
        (
            IngressClassParamsSpec {
                ip_address_type: Some("ipv6".into()),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.ipAddressType has invalid value "ipv6": expected "ipv4" or "dualstack" or "dualstack-without-public-ipv4""#,
        ),
        (
            IngressClassParamsSpec {
                load_balancer_name: Some("a-load-balancer-name-of-33-chars1".into()),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.loadBalancerName has invalid value "a-load-balancer-name-of-33-chars1": expected at most 32 letters, digits and '-', not starting or ending with '-' and not starting with "internal-""#,
        ),
        (
            IngressClassParamsSpec {
                tags: Some(vec![kv("ingress.k8s.aws/stack", "other")]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.tags has invalid value "ingress.k8s.aws/stack": expected a key other than the tracking tags"#,
        ),
        (
            IngressClassParamsSpec {
                inbound_cidrs: Some(vec!["10.0.0.0/8".into(), "everywhere".into()]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.inboundCIDRs has invalid value "everywhere": expected IPv4 or IPv6 CIDRs such as 10.0.0.0/8"#,
        ),
        (
            IngressClassParamsSpec {
                prefix_lists_ids: Some(vec!["pl-1a2b".into(), "pl-1,pl-2".into()]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.prefixListsIDs has invalid value "pl-1,pl-2": expected managed prefix list ids such as pl-0123456789abcdef0"#,
        ),
        (
            IngressClassParamsSpec {
                prefix_lists_ids_legacy: Some(vec!["sg-123".into()]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.PrefixListsIDs has invalid value "sg-123": expected managed prefix list ids such as pl-0123456789abcdef0"#,
        ),
        (
            IngressClassParamsSpec {
                target_type: Some("pod".into()),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.targetType has invalid value "pod": expected "instance" or "ip""#,
        ),
        (
            IngressClassParamsSpec {
                certificate_arn: Some(vec!["my-cert".into()]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.certificateArn has invalid value "my-cert": expected certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM)"#,
        ),
        (
            IngressClassParamsSpec {
                tags: Some(vec![kv("team", &"x".repeat(257))]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.tags has invalid value "team": expected tag values of at most 256 characters (the value of "team" has 257)"#,
        ),
        (
            IngressClassParamsSpec {
                load_balancer_attributes: Some(vec![kv("idle_timeout.timeout_seconds", "forever")]),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.loadBalancerAttributes has invalid value "idle_timeout.timeout_seconds=forever": expected key=value pairs with idle_timeout.timeout_seconds set to an integer from 1 to 4000, not "forever""#,
        ),
        (
            IngressClassParamsSpec {
                group: Some(GroupParams {
                    name: "Platform_Group".into(),
                }),
                ..Default::default()
            },
            r#"ingressclassparams params: spec.group.name has invalid value "Platform_Group": expected lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 63 characters"#,
        ),
    ];
    for (spec, want) in cases {
        let out = build_with_params(spec);
        // An unusable group name puts the member in no group at all.
        let consequence = if want.contains("spec.group.name") {
            "; ingress shop/web joins no group, so no load balancer or listener rule is built for it"
        } else {
            left_out
        };
        assert_eq!(messages(&out), [format!("{want}{consequence}")]);
        assert_eq!(
            out.errors[0].object().to_string(),
            "ingress shop/web",
            "{want}"
        );
        assert!(out.stacks.is_empty(), "{want}");
    }
}

#[test]
fn ssl_policy_conflict_on_a_shared_https_port_excludes_the_later_member() {
    let member = |name: &str, policy: &str, path: &str| {
        ingress("shop", name)
            .annotation(ann::GROUP_NAME, "g")
            .annotation(
                ann::CERTIFICATE_ARN,
                "arn:aws:acm:eu-west-1:1:certificate/a",
            )
            .annotation(ann::SSL_POLICY, policy)
            .rule(None, &[("Prefix", path, "web", P::N(80))])
            .build()
    };
    let mut snap = snapshot(
        vec![
            member("a", "ELBSecurityPolicy-TLS13-1-2-2021-06", "/a"),
            member("b", "ELBSecurityPolicy-2016-08", "/b"),
        ],
        vec![],
    );
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        ["ingress shop/b: annotation alb.ingress.kubernetes.io/ssl-policy of port 443 is \"ELBSecurityPolicy-2016-08\" but ingress shop/a already set \"ELBSecurityPolicy-TLS13-1-2-2021-06\" for group g: expected the same value in every member that sets it; ingress shop/b left out of group g, the rest of the group is still built"]
    );
    assert_eq!(
        rules(listener(only_stack(&out), 443)),
        ["1 path=/a,/a/* -> forward shop/a-web:80"]
    );
}

#[test]
fn exact_before_prefix_before_implementation_specific_at_equal_length() {
    // Written in the opposite order, and split over two rules of the same host. `Prefix /api/`
    // is `Prefix /api` (trailing slash ignored), so it does not overtake `Exact /api`.
    let ing = ingress("shop", "web")
        .rule(
            Some("a.example.com"),
            &[
                ("ImplementationSpecific", "/api", "impl", P::N(80)),
                ("Prefix", "/api", "web", P::N(80)),
            ],
        )
        .rule(
            Some("a.example.com"),
            &[
                ("Prefix", "/api/", "web", P::N(80)),
                ("Exact", "/api", "exact", P::N(80)),
                ("Prefix", "/ap", "web", P::N(80)),
                ("Prefix", "/apiv2", "web", P::N(80)),
            ],
        )
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    for svc in ["web", "exact", "impl"] {
        ip_service(&mut snap, "shop", svc, "10.0.0.1");
    }
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        rules(listener(only_stack(&out), 80)),
        [
            "1 host=a.example.com path=/apiv2,/apiv2/* -> forward shop/web-web:80",
            "2 host=a.example.com path=/api -> forward shop/web-exact:80",
            "3 host=a.example.com path=/api,/api/* -> forward shop/web-web:80",
            "4 host=a.example.com path=/api,/api/* -> forward shop/web-web:80",
            "5 host=a.example.com path=/api -> forward shop/web-impl:80",
            "6 host=a.example.com path=/ap,/ap/* -> forward shop/web-web:80",
        ]
    );
}

#[test]
fn hostnames_come_from_rules_tls_and_external_dns_annotations() {
    use super::hostnames::DNS_OPT_OUT;
    use k8s_openapi::api::networking::v1::IngressTLS;
    let tls = |ing: Ingress, hosts: &[&str]| {
        let mut ing = ing;
        if let Some(spec) = ing.spec.as_mut() {
            spec.tls = Some(vec![IngressTLS {
                hosts: Some(hosts.iter().map(|h| (*h).to_owned()).collect()),
                secret_name: None,
            }]);
        }
        ing
    };
    let base = || {
        ingress("shop", "web").rule(Some("www.example.com"), &[("Prefix", "/", "web", P::N(80))])
    };
    let cases: Vec<(&str, Ingress, Vec<&str>, Vec<String>)> = vec![
        ("rule host", base().build(), vec!["www.example.com"], vec![]),
        (
            "tls hosts and wildcard rule",
            tls(
                base()
                    .rule(Some("*.example.com"), &[("Prefix", "/", "web", P::N(80))])
                    .build(),
                &["secure.example.com", "www.example.com"],
            ),
            vec!["*.example.com", "secure.example.com", "www.example.com"],
            vec![],
        ),
        (
            "GA and alpha annotations, comma-separated",
            base()
                .annotation("external-dns.kubernetes.io/hostname", "a.example.com, b.example.com")
                .build(),
            vec!["a.example.com", "b.example.com", "www.example.com"],
            vec![],
        ),
        (
            "alpha annotation",
            base()
                .annotation("external-dns.alpha.kubernetes.io/hostname", "c.example.com")
                .build(),
            vec!["c.example.com", "www.example.com"],
            vec![],
        ),
        (
            "opt-out",
            base().annotation(DNS_OPT_OUT, "false").build(),
            vec![],
            vec![],
        ),
        (
            "another DNS controller",
            base()
                .annotation("external-dns.alpha.kubernetes.io/controller", "other")
                .build(),
            vec![],
            vec![],
        ),
        (
            "invalid annotation name and ttl",
            base()
                .annotation("external-dns.kubernetes.io/hostname", "ok.example.com,bad_name!.x")
                .annotation("external-dns.kubernetes.io/ttl", "soon")
                .build(),
            vec!["ok.example.com", "www.example.com"],
            vec![
                "ingress shop/web: annotation external-dns.kubernetes.io/hostname has invalid value \
                 \"bad_name!.x\": expected comma-separated DNS names (letters, digits and hyphens \
                 per label, an optional leading *. label)"
                    .to_owned(),
                "ingress shop/web: annotation external-dns.kubernetes.io/ttl has invalid value \
                 \"soon\": expected a TTL in seconds (or like 90s, 5m, 1h) from 1 to 2147483647"
                    .to_owned(),
            ],
        ),
    ];
    for (what, ing, want, want_errors) in cases {
        let mut snap = snapshot(vec![ing], vec![]);
        ip_service(&mut snap, "shop", "web", "10.0.0.1");
        let out = build(&snap, &config());
        let stack = only_stack(&out);
        let got: Vec<&str> = stack
            .hostnames
            .iter()
            .map(|h| h.hostname.as_str())
            .collect();
        assert_eq!(got, want, "{what}");
        assert!(
            stack
                .hostnames
                .iter()
                .all(|h| h.resource == "ingress/shop/web"),
            "{what}"
        );
        assert_eq!(stack.objects, vec!["ingress/shop/web"], "{what}");
        assert_eq!(messages(&out), want_errors, "{what}");
    }
}

/// Inputs AWS would refuse or that would misbehave, each reported on its own object with the
/// field or annotation, the value and what is expected (issue 16, "Checks missing").
#[test]
fn inputs_aws_refuses_are_errors_of_their_object() {
    struct Case {
        name: &'static str,
        snapshot: Snapshot,
        errors: Vec<&'static str>,
        /// Rules on HTTP:80 of the one stack left (`None`: no stack at all).
        rules: Option<usize>,
    }
    let alone = |ing: Ingress| {
        let mut snap = snapshot(vec![ing], vec![]);
        ip_service(&mut snap, "shop", "web", "10.0.0.1");
        snap
    };
    let one_rule = || ingress("shop", "web").rule(None, &[("Prefix", "/", "web", P::N(80))]);
    let mut bad_address = alone(one_rule().build());
    bad_address.endpoint_slices[0]
        .endpoints
        .push(k8s_openapi::api::discovery::v1::Endpoint {
            addresses: vec!["10.0.1.300".into()],
            ..Default::default()
        });
    let mut target_port = snapshot(vec![one_rule().build()], vec![]);
    target_port.services.push(with_service_annotation(
        service(
            "shop",
            "web",
            "ClusterIP",
            &[("http", 80, Some(P::N(70000)), None)],
        ),
        ann::TARGET_TYPE,
        "ip",
    ));
    let mut nameless = one_rule().build();
    nameless.metadata.name = None;
    let mut grpc = snapshot(
        vec![one_rule()
            .annotation(ann::BACKEND_PROTOCOL_VERSION, "GRPC")
            .annotation(ann::SUCCESS_CODES, "200")
            .build()],
        vec![],
    );
    ip_service(&mut grpc, "shop", "web", "10.0.0.1");
    let mut service_timeout = alone(one_rule().build());
    service_timeout.services[0] = with_service_annotation(
        service_timeout.services[0].clone(),
        ann::HEALTHCHECK_TIMEOUT,
        "20",
    );
    let cases = [
        Case {
            name: "timeout not below the default interval",
            snapshot: alone(one_rule().annotation(ann::HEALTHCHECK_TIMEOUT, "15").build()),
            errors: vec!["ingress shop/web: backend service shop/web:80: annotation alb.ingress.kubernetes.io/healthcheck-timeout-seconds is 15 (set on ingress shop/web) but the health-check interval is 15 (the default): expected a timeout below the interval, as ALB requires; rules forwarding to it answer 503"],
            rules: Some(1),
        },
        Case {
            name: "timeout on the service above the ingress's interval",
            snapshot: {
                let mut s = service_timeout;
                s.ingresses[0] = one_rule().annotation(ann::HEALTHCHECK_INTERVAL, "10").build();
                s
            },
            errors: vec!["ingress shop/web: backend service shop/web:80: annotation alb.ingress.kubernetes.io/healthcheck-timeout-seconds is 20 (set on service shop/web) but the health-check interval is 10 (set on ingress shop/web): expected a timeout below the interval, as ALB requires; rules forwarding to it answer 503"],
            rules: Some(1),
        },
        Case {
            name: "timeout and interval on one ingress",
            snapshot: alone(
                one_rule()
                    .annotation(ann::HEALTHCHECK_INTERVAL, "10")
                    .annotation(ann::HEALTHCHECK_TIMEOUT, "30")
                    .build(),
            ),
            errors: vec!["ingress shop/web: annotation alb.ingress.kubernetes.io/healthcheck-timeout-seconds has invalid value \"30\": expected fewer seconds than annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds (10): ALB needs the health-check timeout below the interval; no load balancer is built for ingress shop/web"],
            rules: None,
        },
        Case {
            name: "HTTP success codes for a gRPC backend",
            snapshot: grpc,
            errors: vec!["ingress shop/web: backend service shop/web:80: annotation alb.ingress.kubernetes.io/success-codes is \"200\" (set on ingress shop/web): expected gRPC codes from 0 to 99, because backend-protocol-version is GRPC; rules forwarding to it answer 503"],
            rules: Some(1),
        },
        Case {
            name: "success code 0 for HTTP",
            snapshot: alone(one_rule().annotation(ann::SUCCESS_CODES, "0").build()),
            errors: vec!["ingress shop/web: backend service shop/web:80: annotation alb.ingress.kubernetes.io/success-codes is \"0\" (set on ingress shop/web): expected HTTP codes from 200 to 499; rules forwarding to it answer 503"],
            rules: Some(1),
        },
        Case {
            name: "no rules and no default backend",
            snapshot: alone(ingress("shop", "web").build()),
            errors: vec!["ingress shop/web: spec.rules has invalid value \"\": expected at least one rule with http paths, or spec.defaultBackend: without either its load balancer could only answer 404; no load balancer is built for ingress shop/web"],
            rules: None,
        },
        Case {
            name: "missing metadata.name",
            snapshot: alone(nameless),
            errors: vec!["ingress shop/: metadata.name has invalid value \"\": expected a name (every Kubernetes object has one; the manifest lacks metadata.name); ingress shop/ joins no group, so no load balancer or listener rule is built for it"],
            rules: None,
        },
        Case {
            name: "endpoint address that is not an IPv4 address",
            snapshot: bad_address,
            errors: vec!["ingress shop/web: endpointslice shop/web-abc endpoints[1].addresses[0] has invalid value \"10.0.1.300\": expected an IPv4 address; that endpoint is not a target of target group shop/web-web:80"],
            rules: Some(1),
        },
        Case {
            name: "target port out of range",
            snapshot: target_port,
            errors: vec!["ingress shop/web: backend service shop/web:80: service shop/web port 80 has targetPort 70000: expected a port number from 1 to 65535 or a container port name; rules forwarding to it answer 503"],
            rules: Some(1),
        },
        Case {
            name: "malformed condition that no rule uses",
            snapshot: alone(
                one_rule()
                    .annotation("alb.ingress.kubernetes.io/conditions.other", r#"{"field":"host-header"}"#)
                    .build(),
            ),
            errors: vec!["ingress shop/web: annotation alb.ingress.kubernetes.io/conditions.other has invalid value \"{\\\"field\\\":\\\"host-header\\\"}\": expected a JSON list of conditions such as [{\"field\":\"http-header\",\"httpHeaderConfig\":{\"httpHeaderName\":\"x-env\",\"values\":[\"canary\"]}}] (invalid type: JSON object, expected a JSON list at line 1 column 0); no backend of ingress shop/web is named \"other\", so nothing uses it yet and ingress shop/web is built without it"],
            rules: Some(1),
        },
        Case {
            name: "empty rules list",
            snapshot: alone({
                let mut ing = ingress("shop", "web").build();
                if let Some(spec) = ing.spec.as_mut() {
                    spec.rules = Some(Vec::new());
                }
                ing
            }),
            errors: vec!["ingress shop/web: spec.rules has invalid value \"[]\": expected at least one rule with http paths, or spec.defaultBackend: without either its load balancer could only answer 404; no load balancer is built for ingress shop/web"],
            rules: None,
        },
        Case {
            name: "malformed action that no rule uses",
            snapshot: alone(
                one_rule()
                    .annotation("alb.ingress.kubernetes.io/actions.canary", r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"web","servicePort":80,"weight":0}]}}"#)
                    .build(),
            ),
            errors: vec!["ingress shop/web: annotation alb.ingress.kubernetes.io/actions.canary has invalid value \"{\\\"type\\\":\\\"forward\\\",\\\"forwardConfig\\\":{\\\"targetGroups\\\":[{\\\"serviceName\\\":\\\"web\\\",\\\"servicePort\\\":80,\\\"weight\\\":0}]}}\": expected at least one target group with a weight above 0 (all weights are 0, so nothing would get traffic); no backend of ingress shop/web is named \"canary\", so nothing uses it yet and ingress shop/web is built without it"],
            rules: Some(1),
        },
    ];
    for case in cases {
        let out = build(&case.snapshot, &config());
        assert_eq!(messages(&out), case.errors, "{}", case.name);
        match case.rules {
            Some(n) => assert_eq!(
                listener(only_stack(&out), 80).rules.len(),
                n,
                "{}",
                case.name
            ),
            None => assert!(out.stacks.is_empty(), "{}: no stack", case.name),
        }
    }
}

#[test]
fn a_rule_less_member_of_an_explicit_group_is_kept() {
    // In a named group, a member without rules may carry group settings only.
    let mut snap = shop_group();
    snap.ingresses.push(
        ingress("shop", "settings")
            .annotation(ann::GROUP_NAME, "shop")
            .annotation(ann::SCHEME, "internet-facing")
            .build(),
    );
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        only_stack(&out).load_balancer.scheme,
        crate::model::Scheme::InternetFacing
    );
}

/// LBC's e2e suite (`test/e2e/ingress/vanilla_ingress_test.go`, "annotation based
/// conditions"): host-header and path-pattern values of `conditions.<name>` are ORed into the
/// rule's own host and path conditions; other fields are added beside them.
#[test]
fn condition_annotations_merge_into_the_rule_host_and_path_like_lbc() {
    let fixed = |body: &str| {
        format!(
            r#"{{"type":"fixed-response","fixedResponseConfig":{{"contentType":"text/plain","statusCode":"200","messageBody":"{body}"}}}}"#
        )
    };
    let ing = ingress("shop", "ing")
        .annotation("alb.ingress.kubernetes.io/actions.rule-path1", &fixed("host"))
        .annotation(
            "alb.ingress.kubernetes.io/conditions.rule-path1",
            r#"[{"field":"host-header","hostHeaderConfig":{"values":["anno.example.com"]}}]"#,
        )
        .annotation("alb.ingress.kubernetes.io/actions.rule-path2", &fixed("path"))
        .annotation(
            "alb.ingress.kubernetes.io/conditions.rule-path2",
            r#"[{"field":"path-pattern","pathPatternConfig":{"values":["/anno/path2"]}}]"#,
        )
        .annotation("alb.ingress.kubernetes.io/actions.rule-path3", &fixed("header"))
        .annotation(
            "alb.ingress.kubernetes.io/conditions.rule-path3",
            r#"[{"field":"http-header","httpHeaderConfig":{"httpHeaderName": "HeaderName", "values":["HeaderValue1", "HeaderValue2"]}}]"#,
        )
        .annotation("alb.ingress.kubernetes.io/actions.rule-path7", &fixed("multiple"))
        .annotation(
            "alb.ingress.kubernetes.io/conditions.rule-path7",
            r#"[{"field":"http-header","httpHeaderConfig":{"httpHeaderName": "HeaderName", "values":["HeaderValue"]}},{"field":"query-string","queryStringConfig":{"values":[{"key":"paramA","value":"valueA"}]}},{"field":"query-string","queryStringConfig":{"values":[{"key":"paramB","value":"valueB"}]}}]"#,
        )
        .rule(
            Some("www.example.com"),
            &[
                ("Exact", "/path1", "rule-path1", P::S("use-annotation")),
                ("Exact", "/path2", "rule-path2", P::S("use-annotation")),
                ("Exact", "/path3", "rule-path3", P::S("use-annotation")),
                ("Exact", "/path7", "rule-path7", P::S("use-annotation")),
            ],
        )
        .build();
    let out = build(&snapshot(vec![ing], vec![]), &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        rules(listener(only_stack(&out), 80)),
        [
            "1 host=www.example.com,anno.example.com path=/path1 -> fixed 200",
            "2 host=www.example.com path=/path2,/anno/path2 -> fixed 200",
            "3 host=www.example.com path=/path3 header:HeaderName=HeaderValue1,HeaderValue2 -> fixed 200",
            "4 host=www.example.com path=/path7 header:HeaderName=HeaderValue query=1 query=1 -> fixed 200",
        ]
    );
}

/// LBC (`buildListenerRuleTags`, `buildListenerTags` in pkg/ingress): a rule carries only its
/// own Ingress's tags, a listener only those of the members that declare its port, the load
/// balancer those of the whole group.
#[test]
fn group_tags_follow_lbc_per_rule_and_per_listener() {
    let user = |tags: &BTreeMap<String, String>| -> Vec<String> {
        tags.iter()
            .filter(|(k, _)| !crate::model::tags::RESERVED.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    let a = ingress("shop", "a")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::TAGS, "team=a")
        .rule(Some("a.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .build();
    let b = ingress("shop", "b")
        .annotation(ann::GROUP_NAME, "shop")
        .annotation(ann::TAGS, "env=b")
        .annotation(ann::LISTEN_PORTS, r#"[{"HTTP":80},{"HTTP":8080}]"#)
        .rule(Some("b.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![a, b], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.2");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    assert_eq!(user(&stack.load_balancer.tags), ["env=b", "team=a"]);
    let l80 = listener(stack, 80);
    assert_eq!(user(&l80.tags), ["env=b", "team=a"]);
    let l8080 = listener(stack, 8080);
    assert_eq!(user(&l8080.tags), ["env=b"], "only b declares 8080");
    let by_source: Vec<(String, Vec<String>)> = l80
        .rules
        .iter()
        .map(|r| (r.source.clone(), user(&r.tags)))
        .collect();
    assert_eq!(
        by_source,
        [
            ("ingress shop/a".to_owned(), vec!["team=a".to_owned()]),
            ("ingress shop/b".to_owned(), vec!["env=b".to_owned()]),
        ]
    );
    assert_eq!(user(&l8080.rules[0].tags), ["env=b"]);
}

/// `--rule-order=lbc`: LBC's order (pkg/ingress/model_build_listener_rules.go): members in
/// group order (then namespace/name), each rule as written, and within one rule's paths Exact
/// first, then Prefix longest first (as written), then ImplementationSpecific in their order.
#[test]
fn rule_order_lbc_follows_members_and_rules_as_written() {
    let mut snap = shop_group();
    snap.ingresses.push(
        ingress("shop", "docs")
            .annotation(ann::GROUP_NAME, "shop")
            .rule(
                Some("docs.example.com"),
                &[
                    ("ImplementationSpecific", "/img/*", "web", P::N(80)),
                    ("Prefix", "/a", "web", P::N(80)),
                    ("Prefix", "/guide/", "web", P::N(80)),
                    ("Exact", "/", "web", P::N(80)),
                ],
            )
            .build(),
    );
    let spec = build(&snap, &config());
    assert!(spec.errors.is_empty(), "{:?}", messages(&spec));
    let mut lbc_config = config();
    lbc_config.rule_order = rule::RuleOrdering::Lbc;
    let lbc = build(&snap, &lbc_config);
    assert!(lbc.errors.is_empty(), "{:?}", messages(&lbc));
    assert_eq!(
        rules(listener(only_stack(&lbc), 80)),
        [
            "1 path=/* -> forward shop/catchall-web:80",
            "2 host=docs.example.com path=/ -> forward shop/docs-web:80",
            "3 host=docs.example.com path=/guide,/guide/* -> forward shop/docs-web:80",
            "4 host=docs.example.com path=/a,/a/* -> forward shop/docs-web:80",
            "5 host=docs.example.com path=/img/* -> forward shop/docs-web:80",
            "6 host=shop.example.com path=/about -> forward shop/web-web:80",
            "7 host=shop.example.com path=/* -> forward shop/web-web:80",
            "8 host=*.example.com path=/* -> forward shop/web-web:80",
            "9 host=shop.example.com path=/cart,/cart/* -> forward shop/cart-cart:80",
        ]
    );
    assert_eq!(
        rules(listener(only_stack(&spec), 80)),
        [
            "1 host=shop.example.com path=/about -> forward shop/web-web:80",
            "2 host=docs.example.com path=/guide,/guide/* -> forward shop/docs-web:80",
            "3 host=docs.example.com path=/img/* -> forward shop/docs-web:80",
            "4 host=docs.example.com path=/a,/a/* -> forward shop/docs-web:80",
            "5 host=docs.example.com path=/ -> forward shop/docs-web:80",
            "6 host=shop.example.com path=/* -> forward shop/web-web:80",
            "7 host=*.example.com path=/* -> forward shop/web-web:80",
            "8 path=/* -> forward shop/catchall-web:80",
            "9 host=shop.example.com path=/cart,/cart/* -> forward shop/cart-cart:80",
        ],
        "the spec order stays the default"
    );
}

/// `--default-tags` reach every resource and win over annotation tags (LBC's default, without
/// its `EnableDefaultTagsLowPriority` feature gate), never over the tracking tags;
/// `--external-managed-tags` keys may not be set by annotations or IngressClassParams (LBC:
/// "external managed tag key ... cannot be specified").
#[test]
fn default_tags_and_external_managed_tags() {
    let mut cfg = config();
    cfg.default_tags = [
        ("team".to_owned(), "platform".to_owned()),
        ("env".to_owned(), "prod".to_owned()),
        ("elbv2.k8s.aws/cluster".to_owned(), "other".to_owned()),
    ]
    .into();
    let mut snap = snapshot(
        vec![ingress("shop", "web")
            .annotation(ann::TAGS, "team=shop,cost=1")
            .rule(None, &[("Prefix", "/", "web", P::N(80))])
            .build()],
        vec![],
    );
    ip_service(&mut snap, "shop", "web", "10.0.0.2");
    let out = build(&snap, &cfg);
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    let l = listener(stack, 80);
    for tags in [
        &stack.load_balancer.tags,
        &l.tags,
        &l.rules[0].tags,
        &stack.target_groups[0].tags,
    ] {
        assert_eq!(tags["team"], "platform");
        assert_eq!(tags["env"], "prod");
        assert_eq!(tags["cost"], "1");
        assert_eq!(tags["elbv2.k8s.aws/cluster"], "demo");
    }

    let mut cfg = config();
    cfg.external_managed_tags = vec!["CostCenter".to_owned()];
    let mut svc_snap = snapshot(
        vec![ingress("shop", "web")
            .annotation(ann::TAGS, "CostCenter=1")
            .rule(None, &[("Prefix", "/", "web", P::N(80))])
            .build()],
        vec![with_service_annotation(
            service(
                "shop",
                "edge",
                "LoadBalancer",
                &[("tcp", 80, Some(P::N(8080)), None)],
            ),
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags",
            "CostCenter=2",
        )],
    );
    if let Some(spec) = svc_snap.services[0].spec.as_mut() {
        spec.load_balancer_class = Some("service.k8s.aws/nlb".into());
    }
    let out = build(&svc_snap, &cfg);
    assert_eq!(
        messages(&out),
        [
            "ingress shop/web: annotation alb.ingress.kubernetes.io/tags has invalid value \"CostCenter=1\": expected no tag key \"CostCenter\": --external-managed-tags leaves it to be managed outside the operator; no load balancer is built for ingress shop/web",
            "service shop/edge: annotation service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags has invalid value \"CostCenter=2\": expected no tag key \"CostCenter\": --external-managed-tags leaves it to be managed outside the operator; no load balancer is built for service shop/edge",
        ]
    );
}

/// An annotation under LBC's or ExternalDNS's prefixes that is not implemented is a warning
/// naming it, on objects that are ours only; the stack is still built.
#[test]
fn unimplemented_annotations_are_warnings_naming_them() {
    let mut snap = snapshot(
        vec![
            ingress("shop", "web")
                .annotation("alb.ingress.kubernetes.io/waf-acl-id", "web-acl-1")
                .annotation("external-dns.alpha.kubernetes.io/set-identifier", "a")
                .annotation(ann::SCHEME, "internal")
                .rule(None, &[("Prefix", "/", "web", P::N(80))])
                .build(),
            ingress("shop", "other-class")
                .class_name(Some("nginx"))
                .annotation("alb.ingress.kubernetes.io/waf-acl-id", "web-acl-1")
                .rule(None, &[("Prefix", "/", "web", P::N(80))])
                .build(),
        ],
        vec![],
    );
    ip_service(&mut snap, "shop", "web", "10.0.0.2");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    only_stack(&out);
    let warnings: Vec<String> = out.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "ingress shop/web: annotation alb.ingress.kubernetes.io/waf-acl-id is not implemented by aws-lb-operator and has no effect",
            "ingress shop/web: annotation external-dns.alpha.kubernetes.io/set-identifier is not implemented by aws-lb-operator and has no effect",
        ]
    );
    assert_eq!(out.desired_state().warnings.len(), 2);
}

/// LBC's `Test_defaultModelBuildTask_buildRuleConditions` cases "host and host header condition
/// (values)" and "path and path condition (values)".
#[test]
fn condition_merge_cases_of_lbc_build_rule_conditions() {
    let case = |host: Option<&str>, path: (&str, &str), condition: &str| {
        let ing = ingress("shop", "ing")
            .annotation(
                "alb.ingress.kubernetes.io/actions.svc",
                r#"{"type":"fixed-response","fixedResponseConfig":{"statusCode":"200"}}"#,
            )
            .annotation("alb.ingress.kubernetes.io/conditions.svc", condition)
            .rule(host, &[(path.0, path.1, "svc", P::S("use-annotation"))])
            .build();
        let out = build(&snapshot(vec![ing], vec![]), &config());
        assert!(out.errors.is_empty(), "{:?}", messages(&out));
        rules(listener(only_stack(&out), 80))
    };
    assert_eq!(
        case(
            Some("example.com"),
            ("ImplementationSpecific", ""),
            r#"[{"field":"host-header","hostHeaderConfig":{"values":["another-example.com"]}}]"#
        ),
        ["1 host=example.com,another-example.com -> fixed 200"]
    );
    assert_eq!(
        case(
            None,
            ("Prefix", "/api"),
            r#"[{"field":"path-pattern","pathPatternConfig":{"values":["/another-api/*"]}}]"#
        ),
        ["1 path=/api,/api/*,/another-api/* -> fixed 200"]
    );
}

/// LBC's `Test_defaultModelBuildTask_buildListenerRuleTags`: a rule's user tags are the
/// Ingress's `tags` overlaid with `--default-tags` (the default wins).
#[test]
fn rule_tags_follow_lbc_build_listener_rule_tags() {
    /// Name, `tags` annotation, `--default-tags`, the rule's user tags.
    type Case = (
        &'static str,
        Option<&'static str>,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let cases: [Case; 4] = [
        ("empty default tags, no tags annotation", None, &[], &[]),
        (
            "empty default tags, non-empty tags annotation",
            Some("k1=v1,k2=v2"),
            &[],
            &["k1=v1", "k2=v2"],
        ),
        (
            "non-empty default tags, empty tags annotation",
            None,
            &[("k3", "v3"), ("k4", "v4")],
            &["k3=v3", "k4=v4"],
        ),
        (
            "non-empty default tags, non-empty tags annotation",
            Some("k1=v1,k2=v2,k3=v3a"),
            &[("k3", "v3"), ("k4", "v4")],
            &["k1=v1", "k2=v2", "k3=v3", "k4=v4"],
        ),
    ];
    for (name, annotation, defaults, want) in cases {
        let mut ing = ingress("awesome-ns", "ing-1");
        if let Some(tags) = annotation {
            ing = ing.annotation(ann::TAGS, tags);
        }
        let mut snap = snapshot(
            vec![ing.rule(None, &[("Prefix", "/", "web", P::N(80))]).build()],
            vec![],
        );
        ip_service(&mut snap, "awesome-ns", "web", "10.0.0.2");
        let mut cfg = config();
        cfg.default_tags = defaults
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let out = build(&snap, &cfg);
        assert!(out.errors.is_empty(), "{name}: {:?}", messages(&out));
        let got: Vec<String> = listener(only_stack(&out), 80).rules[0]
            .tags
            .iter()
            .filter(|(k, _)| !crate::model::tags::RESERVED.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// `wafv2-acl-arn` and `shield-advanced-protection` as LBC's model builder reads them: one
/// value per group (a member that disagrees is left out, where LBC fails the whole group),
/// `none` (and an empty value) removes the web ACL, no annotation leaves both alone, and
/// IngressClassParams `wafv2AclArn` beats the annotation.
#[test]
fn web_acl_and_shield_annotations_per_group() {
    use crate::model::WebAcl;
    let a = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop/0a1b2c3d";
    let b = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/other/9f8e7d6c";
    let member = |name: &str, path: &str, anns: &[(&str, &str)]| {
        let mut ing = ingress("shop", name).annotation(ann::GROUP_NAME, "g");
        for (k, v) in anns {
            ing = ing.annotation(k, v);
        }
        ing.rule(None, &[("Prefix", path, "web", P::N(80))]).build()
    };
    let built = |members: Vec<Ingress>| {
        let mut snap = snapshot(members, vec![]);
        ip_service(&mut snap, "shop", "web", "10.0.0.1");
        build(&snap, &config())
    };
    let out = built(vec![
        member(
            "one",
            "/a",
            &[
                (ann::WAFV2_ACL_ARN, a),
                (ann::SHIELD_ADVANCED_PROTECTION, "true"),
            ],
        ),
        member("two", "/b", &[(ann::WAFV2_ACL_ARN, a)]),
        member("three", "/c", &[]),
    ]);
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let lb = &only_stack(&out).load_balancer;
    assert_eq!(lb.wafv2_web_acl, Some(WebAcl::Associate(a.into())));
    assert_eq!(lb.shield_advanced_protection, Some(true));

    for (value, want) in [
        ("none", Some(WebAcl::Disassociate)),
        ("", Some(WebAcl::Disassociate)),
        (b, Some(WebAcl::Associate(b.into()))),
    ] {
        let out = built(vec![member("one", "/a", &[(ann::WAFV2_ACL_ARN, value)])]);
        assert_eq!(
            only_stack(&out).load_balancer.wafv2_web_acl,
            want,
            "{value:?}"
        );
    }
    let out = built(vec![member("one", "/a", &[])]);
    let lb = &only_stack(&out).load_balancer;
    assert_eq!(lb.wafv2_web_acl, None);
    assert_eq!(lb.shield_advanced_protection, None);
    for (value, want) in [("false", false), ("1", true), ("F", false), ("True", true)] {
        let out = built(vec![member(
            "one",
            "/a",
            &[(ann::SHIELD_ADVANCED_PROTECTION, value)],
        )]);
        assert_eq!(
            only_stack(&out).load_balancer.shield_advanced_protection,
            Some(want),
            "{value}"
        );
    }

    // Conflicts: the later member is left out, the first one's value stands.
    let out = built(vec![
        member("one", "/a", &[(ann::WAFV2_ACL_ARN, a)]),
        member("two", "/b", &[(ann::WAFV2_ACL_ARN, "none")]),
    ]);
    assert_eq!(
        messages(&out),
        [format!("ingress shop/two: annotation alb.ingress.kubernetes.io/wafv2-acl-arn is \"none\" but ingress shop/one already set \"{a}\" for group g: expected the same value in every member that sets it; ingress shop/two left out of group g, the rest of the group is still built")]
    );
    assert_eq!(
        only_stack(&out).load_balancer.wafv2_web_acl,
        Some(WebAcl::Associate(a.into()))
    );
    let out = built(vec![
        member("one", "/a", &[(ann::SHIELD_ADVANCED_PROTECTION, "true")]),
        member("two", "/b", &[(ann::SHIELD_ADVANCED_PROTECTION, "false")]),
    ]);
    assert_eq!(
        messages(&out),
        ["ingress shop/two: annotation alb.ingress.kubernetes.io/shield-advanced-protection is \"false\" but ingress shop/one already set \"true\" for group g: expected the same value in every member that sets it; ingress shop/two left out of group g, the rest of the group is still built"]
    );

    // Unusable values.
    for (key, value, expected) in [
        (
            ann::WAFV2_ACL_ARN,
            "my-acl",
            r#"a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or "none" to remove the load balancer's web ACL"#,
        ),
        (
            ann::WAFV2_ACL_ARN,
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cdn/0a1b",
            r#"a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or "none" to remove the load balancer's web ACL"#,
        ),
        (
            ann::WAFV2_ACL_ARN,
            "None",
            r#"a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or "none" to remove the load balancer's web ACL"#,
        ),
        (
            ann::SHIELD_ADVANCED_PROTECTION,
            "yes",
            r#""true" or "false" (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)"#,
        ),
    ] {
        let out = built(vec![member("one", "/a", &[(key, value)])]);
        assert_eq!(
            messages(&out),
            [format!("ingress shop/one: annotation {key} has invalid value \"{value}\": expected {expected}; ingress shop/one left out of group g, the rest of the group is still built")]
        );
    }
}

#[test]
fn ingress_class_params_web_acl_beats_the_annotation() {
    use crate::model::WebAcl;
    let arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/platform/0a1b";
    let out = build_with_params(IngressClassParamsSpec {
        wafv2_acl_arn: Some(arn.into()),
        ..Default::default()
    });
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert_eq!(
        only_stack(&out).load_balancer.wafv2_web_acl,
        Some(WebAcl::Associate(arn.into()))
    );
    let out = build_with_params(IngressClassParamsSpec {
        wafv2_acl_arn: Some("none".into()),
        ..Default::default()
    });
    assert_eq!(
        only_stack(&out).load_balancer.wafv2_web_acl,
        Some(WebAcl::Disassociate)
    );
    // Empty is not set (LBC): the annotation's web ACL stands.
    let out = build_with_params(IngressClassParamsSpec {
        wafv2_acl_arn: Some(String::new()),
        ..Default::default()
    });
    assert_eq!(
        only_stack(&out).load_balancer.wafv2_web_acl,
        Some(WebAcl::Associate(ANNOTATION_ACL.into()))
    );
    let out = build_with_params(IngressClassParamsSpec {
        wafv2_acl_arn: Some("platform-acl".into()),
        ..Default::default()
    });
    assert_eq!(
        messages(&out),
        [
            r#"ingressclassparams params: spec.wafv2AclArn has invalid value "platform-acl": expected a regional WAFv2 web ACL ARN such as arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/name/0a1b2c3d-…, or "none" to remove the load balancer's web ACL; no load balancer is built for ingress shop/web"#
        ]
    );
}

/// `transforms.<service>` as LBC: the rules forwarding to that backend get the transforms;
/// invalid lists name the annotation and what was expected; the key is never reported as
/// unimplemented.
#[test]
fn transforms_annotation_applies_to_the_rules_of_its_backend() {
    use crate::model::{RewriteSpec, TransformSpec};
    let key = "alb.ingress.kubernetes.io/transforms.api";
    let built = |value: &str| {
        let ing = ingress("shop", "web")
            .annotation(key, value)
            .rule(
                Some("shop.example.com"),
                &[
                    ("Prefix", "/api", "api", P::N(80)),
                    ("Prefix", "/", "web", P::N(80)),
                ],
            )
            .build();
        let mut snap = snapshot(vec![ing], vec![]);
        ip_service(&mut snap, "shop", "api", "10.0.0.1");
        ip_service(&mut snap, "shop", "web", "10.0.0.2");
        build(&snap, &config())
    };
    let out = built(
        r#"[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"regex":"^/api/(.*)$","replace":"/$1"}]}},
            {"type":"host-header-rewrite","hostHeaderRewriteConfig":{"rewrites":[{"regex":"^shop\\.example\\.com$","replace":"api.internal"}]}}]"#,
    );
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let l = listener(only_stack(&out), 80);
    let to_api = |r: &&crate::model::RuleSpec| {
        r.actions
            .iter()
            .map(describe_action)
            .any(|a| a.contains("-api:"))
    };
    let api = l.rules.iter().find(to_api).unwrap();
    assert_eq!(
        api.transforms,
        [
            TransformSpec::UrlRewrite {
                rewrites: vec![RewriteSpec {
                    regex: "^/api/(.*)$".into(),
                    replace: "/$1".into()
                }]
            },
            TransformSpec::HostHeaderRewrite {
                rewrites: vec![RewriteSpec {
                    regex: "^shop\\.example\\.com$".into(),
                    replace: "api.internal".into()
                }]
            },
        ]
    );
    let others: Vec<&crate::model::RuleSpec> = l.rules.iter().filter(|r| !to_api(r)).collect();
    assert!(!others.is_empty() && others.iter().all(|r| r.transforms.is_empty()));

    for (value, expected) in [
        (
            r#"{"type":"url-rewrite"}"#,
            format!(
                "{} (invalid type: JSON object, expected a JSON list at line 1 column 0)",
                transforms::EXPECTED
            ),
        ),
        (
            r#"[{"type":"url-rewrite"}]"#,
            "urlRewriteConfig for type url-rewrite".to_owned(),
        ),
        (
            r#"[{"type":"host-header-rewrite","hostHeaderRewriteConfig":{"rewrites":[]}}]"#,
            "hostHeaderRewriteConfig.rewrites with at least one rewrite".to_owned(),
        ),
        (
            r#"[{"type":"url-rewrite","urlRewriteConfig":{"rewrites":[{"replace":"/"}]}}]"#,
            "urlRewriteConfig.rewrites each with a non-empty regex".to_owned(),
        ),
        (
            r#"[{"type":"path-rewrite"}]"#,
            r#"transform types "host-header-rewrite" or "url-rewrite", not "path-rewrite""#
                .to_owned(),
        ),
    ] {
        assert_eq!(
            messages(&built(value)),
            [format!("ingress shop/web: annotation {key} has invalid value {value:?}: expected {expected}; no load balancer is built for ingress shop/web")],
            "{value}"
        );
    }
}

/// `manage-backend-security-group-rules` as LBC: with `security-groups` the annotation (else
/// `--enable-manage-backend-security-group-rules`) decides; without, it does nothing (a managed
/// group always comes with the backend group); in a group the first member to set it wins and a
/// member disagreeing is left out (LBC fails the group); Go's boolean spellings are accepted.
#[test]
fn manage_backend_security_group_rules_of_an_ingress_group() {
    let with = |catchall: &[(&str, &str)], web: &[(&str, &str)], flag: bool| {
        let mut snap = shop_group();
        for ing in &mut snap.ingresses {
            let anns = ing
                .metadata
                .annotations
                .get_or_insert_with(Default::default);
            let set = match ing.metadata.name.as_deref() {
                Some("catchall") => catchall,
                Some("web") => web,
                _ => &[],
            };
            for (k, v) in set {
                anns.insert((*k).into(), (*v).into());
            }
        }
        let mut config = config();
        config.manage_backend_security_group_rules = flag;
        build(&snap, &config)
    };
    let manage = |out: &BuildOutput| {
        let lb = &only_stack(out).load_balancer;
        (
            lb.manage_backend_security_group_rules,
            lb.uses_backend_security_group(),
        )
    };
    let sgs = (ann::SECURITY_GROUPS, "sg-1");
    let on = (ann::MANAGE_BACKEND_SECURITY_GROUP_RULES, "true");
    let off = (ann::MANAGE_BACKEND_SECURITY_GROUP_RULES, "False");
    assert_eq!(
        manage(&with(&[], &[], false)),
        (false, true),
        "managed group"
    );
    assert_eq!(
        manage(&with(&[on], &[], false)),
        (false, true),
        "managed group"
    );
    assert_eq!(
        manage(&with(&[sgs], &[], false)),
        (false, false),
        "LBC's default"
    );
    assert_eq!(manage(&with(&[sgs], &[], true)), (true, true), "the flag");
    assert_eq!(manage(&with(&[sgs], &[on], false)), (true, true));
    assert_eq!(manage(&with(&[sgs], &[off], true)), (false, false));
    assert_eq!(
        manage(&with(&[sgs, ("a", "b")], &[("x", "y"), on], false)),
        (true, true)
    );

    let out = with(&[sgs, on], &[off], false);
    assert_eq!(
        messages(&out),
        ["ingress shop/web: annotation alb.ingress.kubernetes.io/manage-backend-security-group-rules is \"false\" but ingress shop/catchall already set \"true\" for group shop: expected the same value in every member that sets it; ingress shop/web left out of group shop, the rest of the group is still built"]
    );
    assert_eq!(manage(&out), (true, true));

    let out = with(
        &[sgs, (ann::MANAGE_BACKEND_SECURITY_GROUP_RULES, "yes")],
        &[],
        false,
    );
    assert_eq!(
        messages(&out)[0],
        "ingress shop/catchall: annotation alb.ingress.kubernetes.io/manage-backend-security-group-rules has invalid value \"yes\": expected \"true\" or \"false\" (or 1, t, T, TRUE, True, 0, f, F, FALSE, False); ingress shop/catchall left out of group shop, the rest of the group is still built"
    );
}
