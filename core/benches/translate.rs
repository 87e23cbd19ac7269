//! Benchmark: one IngressGroup of 100 Ingresses × 10 rules, backed by 1,000 endpoints.
//!
//! Run: `cargo bench -p aws-lb-operator-core --bench translate`. Prints min / median / p99 of
//! `build()` over repeated runs. Plain `std::time::Instant`, no benchmark framework.
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lb_operator_core::translate::{build, BuildConfig, Snapshot};
use serde_json::json;

const INGRESSES: usize = 100;
const RULES_PER_INGRESS: usize = 10;
const ENDPOINTS_PER_SERVICE: usize = 10;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    match serde_json::from_value(v) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench fixture does not deserialise: {e}");
            std::process::exit(1);
        }
    }
}

fn snapshot() -> Snapshot {
    let mut snap = Snapshot {
        ingress_classes: vec![from(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}
        }))],
        ..Snapshot::default()
    };
    for i in 0..INGRESSES {
        let svc = format!("svc-{i}");
        let rules: Vec<serde_json::Value> = (0..RULES_PER_INGRESS)
            .map(|r| {
                json!({
                    "host": format!("app{i}.example.com"),
                    "http": {"paths": [{
                        "path": format!("/v{r}/items"), "pathType": if r % 2 == 0 { "Prefix" } else { "Exact" },
                        "backend": {"service": {"name": svc, "port": {"name": "http"}}}
                    }]}
                })
            })
            .collect();
        snap.ingresses.push(from(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": format!("ing-{i}"), "namespace": "bench", "annotations": {
                "alb.ingress.kubernetes.io/group.name": "bench",
                "alb.ingress.kubernetes.io/group.order": (i % 7).to_string(),
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/healthcheck-path": "/healthz",
                "alb.ingress.kubernetes.io/tags": "team=bench"
            }},
            "spec": {"ingressClassName": "alb", "rules": rules}
        })));
        snap.services.push(from(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": svc, "namespace": "bench", "uid": format!("uid-{i}")},
            "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}
        })));
        let endpoints: Vec<serde_json::Value> = (0..ENDPOINTS_PER_SERVICE)
            .map(|e| json!({"addresses": [format!("10.{}.{}.{}", i / 250, i % 250, e + 1)], "conditions": {"ready": true}}))
            .collect();
        snap.endpoint_slices.push(from(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{svc}-abcde"), "namespace": "bench",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": endpoints
        })));
    }
    snap
}

fn measure(name: &str, snap: &Snapshot, config: &BuildConfig, runs: usize) {
    for _ in 0..3 {
        black_box(build(black_box(snap), config));
    }
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = build(black_box(snap), config);
        times.push(start.elapsed());
        last = Some(black_box(out));
    }
    times.sort();
    let pick = |q: f64| {
        // Nearest-rank percentile; the index is within bounds because times is non-empty.
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
        times.get(rank - 1).copied().unwrap_or_default()
    };
    let (rules, tgs, targets, errors) = last.map_or((0, 0, 0, 0), |o| {
        let rules = o
            .stacks
            .iter()
            .flat_map(|s| &s.listeners)
            .map(|l| l.rules.len())
            .sum::<usize>();
        let tgs = o
            .stacks
            .iter()
            .map(|s| s.target_groups.len())
            .sum::<usize>();
        let targets = o
            .stacks
            .iter()
            .flat_map(|s| &s.target_groups)
            .map(|t| t.targets.len())
            .sum::<usize>();
        (rules, tgs, targets, o.errors.len())
    });
    println!(
        "{name}: {runs} runs  min {:.2?}  median {:.2?}  p99 {:.2?}  ({rules} rules, {tgs} target groups, {targets} targets, {errors} errors)",
        pick(0.0),
        pick(0.5),
        pick(0.99)
    );
}

fn main() {
    let snap = snapshot();
    println!(
        "one group: {INGRESSES} ingresses x {RULES_PER_INGRESS} rules, {} endpoints",
        INGRESSES * ENDPOINTS_PER_SERVICE
    );
    let mut raised = BuildConfig::new("bench");
    raised.limits.rules_per_load_balancer = INGRESSES * RULES_PER_INGRESS;
    measure(
        "build, rule quota raised to 1000 (whole group built)",
        &snap,
        &raised,
        200,
    );
    measure(
        "build, AWS default quotas (members past rule 100 left out)",
        &snap,
        &BuildConfig::new("bench"),
        200,
    );
}
