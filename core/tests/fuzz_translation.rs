//! Property test of the translation, in place of a `cargo fuzz` target: the objects of
//! `examples/` are mutated where users make mistakes (annotation values, hosts, paths, ports,
//! EndpointSlice addresses, names) and `build` must never panic, and every error must name its
//! object and stay short however long the input.
//!
//! Fixed budget and seed, so it runs in the ordinary test command (well under a minute) and a
//! failure reproduces: `cargo test -p aws-lb-operator-core --test fuzz_translation`.
//! `PROPTEST_CASES=20000` runs a longer campaign with the same properties.
use std::path::Path;
use std::sync::OnceLock;

use aws_lb_operator_core::translate::{build, BuildConfig, IngressClassParams, Snapshot};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The seeds, read once.
static SEEDS: OnceLock<Vec<Snapshot>> = OnceLock::new();

/// Cases per run when `PROPTEST_CASES` is not set.
const CASES: u32 = 512;
/// Longest message an error may have: values are cut at 200 characters, so even a
/// 20,000-character input gives a short message.
const MAX_MESSAGE: usize = 2_000;

/// Every object of one example directory.
#[allow(clippy::unwrap_used, clippy::panic)]
fn load(dir: &Path) -> Snapshot {
    let mut snap = Snapshot::default();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
        for doc in docs {
            add(&mut snap, doc);
        }
    }
    snap
}

#[allow(clippy::unwrap_used)]
fn add(snap: &mut Snapshot, doc: serde_json::Value) {
    let from = |d: serde_json::Value| d;
    match doc["kind"].as_str().unwrap_or_default() {
        "List" => {
            for item in doc["items"].as_array().cloned().unwrap_or_default() {
                add(snap, item);
            }
        }
        "Ingress" => snap
            .ingresses
            .push(serde_json::from_value(from(doc)).unwrap()),
        "IngressClass" => snap
            .ingress_classes
            .push(serde_json::from_value(doc).unwrap()),
        "IngressClassParams" => snap
            .ingress_class_params
            .push(serde_json::from_value::<IngressClassParams>(doc).unwrap()),
        "Service" => snap.services.push(serde_json::from_value(doc).unwrap()),
        "EndpointSlice" => snap
            .endpoint_slices
            .push(serde_json::from_value(doc).unwrap()),
        "Node" => snap.nodes.push(serde_json::from_value(doc).unwrap()),
        "Namespace" => snap.namespaces.push(serde_json::from_value(doc).unwrap()),
        _ => {}
    }
}

/// The examples, each a seed, plus all of them together.
#[allow(clippy::unwrap_used)]
fn seeds() -> Vec<Snapshot> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        // examples/gateway holds Gateway API objects, which `build` does not read (their
        // translation has its own tests, core/src/translate/gateway/tests.rs).
        .filter(|p| p.file_name().is_some_and(|n| n != "gateway"))
        .collect();
    dirs.sort();
    let mut all = Snapshot::default();
    let mut out = Vec::new();
    for dir in dirs {
        let s = load(&dir);
        all.ingresses.extend(s.ingresses.clone());
        all.ingress_classes.extend(s.ingress_classes.clone());
        all.ingress_class_params
            .extend(s.ingress_class_params.clone());
        all.services.extend(s.services.clone());
        all.endpoint_slices.extend(s.endpoint_slices.clone());
        all.nodes.extend(s.nodes.clone());
        all.namespaces.extend(s.namespaces.clone());
        out.push(s);
    }
    out.push(all);
    out
}

/// Annotation keys users set, on Ingresses and Services alike (each reader ignores the
/// other's).
const KEYS: &[&str] = &[
    "alb.ingress.kubernetes.io/load-balancer-name",
    "alb.ingress.kubernetes.io/group.name",
    "alb.ingress.kubernetes.io/group.order",
    "alb.ingress.kubernetes.io/scheme",
    "alb.ingress.kubernetes.io/ip-address-type",
    "alb.ingress.kubernetes.io/subnets",
    "alb.ingress.kubernetes.io/inbound-cidrs",
    "alb.ingress.kubernetes.io/listen-ports",
    "alb.ingress.kubernetes.io/ssl-redirect",
    "alb.ingress.kubernetes.io/certificate-arn",
    "alb.ingress.kubernetes.io/target-type",
    "alb.ingress.kubernetes.io/backend-protocol-version",
    "alb.ingress.kubernetes.io/healthcheck-port",
    "alb.ingress.kubernetes.io/healthcheck-path",
    "alb.ingress.kubernetes.io/healthcheck-interval-seconds",
    "alb.ingress.kubernetes.io/healthcheck-timeout-seconds",
    "alb.ingress.kubernetes.io/success-codes",
    "alb.ingress.kubernetes.io/load-balancer-attributes",
    "alb.ingress.kubernetes.io/target-group-attributes",
    "alb.ingress.kubernetes.io/tags",
    "alb.ingress.kubernetes.io/actions.api",
    "alb.ingress.kubernetes.io/actions.web",
    "alb.ingress.kubernetes.io/conditions.api",
    "alb.ingress.kubernetes.io/conditions.web",
    "external-dns.alpha.kubernetes.io/hostname",
    "external-dns.alpha.kubernetes.io/ttl",
    "service.beta.kubernetes.io/aws-load-balancer-type",
    "service.beta.kubernetes.io/aws-load-balancer-scheme",
    "service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
    "service.beta.kubernetes.io/aws-load-balancer-ssl-ports",
    "service.beta.kubernetes.io/aws-load-balancer-attributes",
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes",
    "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-success-codes",
    "service.beta.kubernetes.io/aws-load-balancer-eip-allocations",
    "service.beta.kubernetes.io/aws-load-balancer-subnets",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
];

/// Fragments users write, right and wrong.
const TOKENS: &[&str] = &[
    "",
    " ",
    "-1",
    "0",
    "1",
    "10",
    "15",
    "80",
    "443",
    "999",
    "65536",
    "70000",
    "true",
    "false",
    "ip",
    "instance",
    "internal",
    "internet-facing",
    "traffic-port",
    "http",
    "HTTP",
    "GRPC",
    "/",
    "/api",
    "img/*",
    "*.example.com",
    "10.0.0.1",
    "10.0.1.300",
    "10.0.0.0/8",
    "::/0",
    "arn:aws:acm:eu-west-1:1:certificate/x",
    "my-cert",
    "a=b",
    "k=",
    "=v",
    "idle_timeout.timeout_seconds=forever",
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"api","servicePort":80,"weight":0}]}}"#,
    r#"{"type":"fixed-response","fixedResponseConfig":{"statusCode":"503"}}"#,
    r#"{"type":"redirect","redirectConfig":{"statusCode":"HTTP_301"}}"#,
    r#"[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"x","values":["a"]}}]"#,
    r#"[{"HTTP":80},{"HTTPS":443}]"#,
    "é",
    "\u{0}",
    "\n",
];

/// A value: arbitrary characters, tokens glued together, or one very long run.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(TOKENS), 1..4)
            .prop_map(|parts| parts.concat()),
        2 => prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        1 => (prop::sample::select(TOKENS), 1_000usize..20_000)
            .prop_map(|(t, n)| if t.is_empty() { "a".repeat(n) } else { t.repeat(n / t.len().max(1)) }),
    ]
}

/// One mistake, applied to the object at an index (taken modulo the number there is).
#[derive(Clone, Debug)]
enum Mutation {
    IngressAnnotation(usize, &'static str, String),
    ServiceAnnotation(usize, &'static str, String),
    Host(usize, String),
    Path(usize, String, &'static str),
    TargetPort(usize, i32),
    ServicePort(usize, i32),
    Address(usize, String),
    DropIngressName(usize),
    DropServiceName(usize),
    DropRules(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = 0usize..64;
    let key = prop::sample::select(KEYS);
    let path_type =
        prop::sample::select(&["Exact", "Prefix", "ImplementationSpecific", "Regex"][..]);
    prop_oneof![
        6 => (idx.clone(), key.clone(), value()).prop_map(|(i, k, v)| Mutation::IngressAnnotation(i, k, v)),
        4 => (idx.clone(), key, value()).prop_map(|(i, k, v)| Mutation::ServiceAnnotation(i, k, v)),
        1 => (idx.clone(), value()).prop_map(|(i, v)| Mutation::Host(i, v)),
        1 => (idx.clone(), value(), path_type).prop_map(|(i, v, t)| Mutation::Path(i, v, t)),
        1 => (idx.clone(), any::<i32>()).prop_map(|(i, p)| Mutation::TargetPort(i, p)),
        1 => (idx.clone(), any::<i32>()).prop_map(|(i, p)| Mutation::ServicePort(i, p)),
        1 => (idx.clone(), value()).prop_map(|(i, v)| Mutation::Address(i, v)),
        1 => idx.clone().prop_map(Mutation::DropIngressName),
        1 => idx.clone().prop_map(Mutation::DropServiceName),
        1 => idx.prop_map(Mutation::DropRules),
    ]
}

fn pick<T>(items: &mut [T], i: usize) -> Option<&mut T> {
    let n = items.len();
    if n == 0 {
        None
    } else {
        items.get_mut(i % n)
    }
}

fn apply(snap: &mut Snapshot, m: &Mutation) {
    match m {
        Mutation::IngressAnnotation(i, k, v) => {
            if let Some(ing) = pick(&mut snap.ingresses, *i) {
                ing.metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert((*k).to_owned(), v.clone());
            }
        }
        Mutation::ServiceAnnotation(i, k, v) => {
            if let Some(svc) = pick(&mut snap.services, *i) {
                svc.metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert((*k).to_owned(), v.clone());
            }
        }
        Mutation::Host(i, v) => {
            let rules = pick(&mut snap.ingresses, *i)
                .and_then(|ing| ing.spec.as_mut())
                .and_then(|s| s.rules.as_mut());
            if let Some(rule) = rules.and_then(|r| pick(r, *i)) {
                rule.host = Some(v.clone());
            }
        }
        Mutation::Path(i, v, t) => {
            let rules = pick(&mut snap.ingresses, *i)
                .and_then(|ing| ing.spec.as_mut())
                .and_then(|s| s.rules.as_mut());
            let http = rules
                .and_then(|r| pick(r, *i))
                .and_then(|r| r.http.as_mut());
            if let Some(path) = http.and_then(|h| pick(&mut h.paths, *i)) {
                path.path = Some(v.clone());
                path.path_type = (*t).to_owned();
            }
        }
        Mutation::TargetPort(i, p) | Mutation::ServicePort(i, p) => {
            let ports = pick(&mut snap.services, *i)
                .and_then(|s| s.spec.as_mut())
                .and_then(|s| s.ports.as_mut());
            if let Some(port) = ports.and_then(|ps| pick(ps, *i)) {
                if matches!(m, Mutation::TargetPort(..)) {
                    port.target_port = Some(IntOrString::Int(*p));
                } else {
                    port.port = *p;
                }
            }
        }
        Mutation::Address(i, v) => {
            let slice = pick(&mut snap.endpoint_slices, *i);
            if let Some(ep) = slice.and_then(|s| pick(&mut s.endpoints, *i)) {
                ep.addresses = vec![v.clone()];
            }
        }
        Mutation::DropIngressName(i) => {
            if let Some(ing) = pick(&mut snap.ingresses, *i) {
                ing.metadata.name = None;
            }
        }
        Mutation::DropServiceName(i) => {
            if let Some(svc) = pick(&mut snap.services, *i) {
                svc.metadata.name = None;
            }
        }
        Mutation::DropRules(i) => {
            if let Some(spec) = pick(&mut snap.ingresses, *i).and_then(|ing| ing.spec.as_mut()) {
                spec.rules = Some(Vec::new());
            }
        }
    }
}

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(CASES),
        rng_seed: RngSeed::Fixed(16),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any mix of mistakes: no panic; every error names its object and stays short.
    #[test]
    fn mutated_examples_translate_without_panic_and_every_error_names_its_object(
        seed in 0usize..8,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = SEEDS.get_or_init(seeds);
        let mut snap = seeds[seed % seeds.len()].clone();
        for m in &mutations {
            apply(&mut snap, m);
        }
        let out = build(&snap, &BuildConfig::new("demo"));
        for e in &out.errors {
            let object = e.object().to_string();
            let message = e.to_string();
            prop_assert!(!e.object().kind.is_empty(), "{message}");
            prop_assert!(
                message.contains(&object),
                "the message does not name {object}: {message}"
            );
            prop_assert!(
                message.chars().count() <= MAX_MESSAGE,
                "{} characters: {}…",
                message.chars().count(),
                message.chars().take(300).collect::<String>()
            );
        }
        // The plan contract carries the same errors.
        prop_assert_eq!(out.desired_state().errors.len(), out.errors.len());
    }
}

#[test]
fn the_seeds_are_the_examples_and_translate() {
    let seeds = seeds();
    assert_eq!(seeds.len(), 4, "three examples and their union");
    let examples = &seeds[..3];
    assert!(examples
        .iter()
        .all(|s| !s.ingresses.is_empty() || !s.services.is_empty()));
    for s in examples {
        let out = build(s, &BuildConfig::new("demo"));
        assert!(!out.stacks.is_empty());
    }
}
