//! Benchmark (ignored by default; run with `scripts/bench-apply.sh`): AWS calls by operation
//! and wall time to apply N Ingresses from scratch, re-apply them unchanged, and apply after
//! changing one Ingress, on LocalStack. Writes a Markdown report.
//!
//! The structural targets are asserted, because they are what the benchmark is for: the
//! unchanged re-apply makes no mutating call, and its read calls grow linearly with the number
//! of load balancers (N and 5N Ingresses are compared), not with its square.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use aws_lb_operator::aws::execute::{ExecuteOptions, Outcome};
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::pass::{apply, prepare, PassOptions};
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::localstack::{self, create_subnet, create_vpc};

/// Manifests for `n` Ingresses, each with two paths to its own two Services (3 pods each).
fn manifests(n: usize, variant: usize) -> String {
    let mut y = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: alb}\nspec: {controller: ingress.k8s.aws/alb}\n",
    );
    for i in 0..n {
        let path = if i == 0 && variant == 1 {
            "/v2"
        } else {
            "/api"
        };
        let _ = write!(
            y,
            "---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app{i}
  namespace: bench
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/scheme: internet-facing
spec:
  ingressClassName: alb
  rules:
    - host: app{i}.example.com
      http:
        paths:
          - {{path: {path}, pathType: Prefix, backend: {{service: {{name: api{i}, port: {{number: 80}}}}}}}}
          - {{path: /, pathType: Prefix, backend: {{service: {{name: web{i}, port: {{number: 80}}}}}}}}
"
        );
        for (k, svc) in ["api", "web"].iter().enumerate() {
            let _ = write!(
                y,
                "---
apiVersion: v1
kind: Service
metadata: {{name: {svc}{i}, namespace: bench, uid: 00000000-0000-0000-{k:04}-{i:012}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {svc}{i}-x
  namespace: bench
  labels: {{kubernetes.io/service-name: {svc}{i}}}
addressType: IPv4
ports: [{{name: http, port: 8080, protocol: TCP}}]
endpoints:
"
            );
            for p in 0..3 {
                let _ = writeln!(
                    y,
                    "  - {{addresses: [\"10.{}.{}.{}\"], conditions: {{ready: true}}}}",
                    100 + k,
                    i,
                    p + 10
                );
            }
        }
    }
    y
}

fn stacks(n: usize, variant: usize, cluster: &str) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-bench-{}-{n}-{variant}",
        localstack::run_id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("all.yaml"), manifests(n, variant)).unwrap();
    let built = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    assert_eq!(built.stacks.len(), n);
    built.stacks
}

struct Run {
    wall: Duration,
    calls: BTreeMap<String, u64>,
    mutating: u64,
    changes: usize,
}

impl Run {
    fn total(&self) -> u64 {
        self.calls.values().sum()
    }
    fn mutating(&self) -> u64 {
        self.mutating
    }
}

async fn run(clients: &AwsClients, opts: &PassOptions, desired: &[Stack]) -> Run {
    clients.calls.reset();
    let start = Instant::now();
    let prepared = prepare(clients, opts, desired).await.unwrap();
    assert!(
        prepared.plan.errors.is_empty(),
        "{:?}",
        prepared.plan.errors
    );
    let report = apply(clients, &prepared, &ExecuteOptions::default()).await;
    assert!(report
        .elb
        .outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Done)));
    Run {
        wall: start.elapsed(),
        calls: clients.calls.by_operation(),
        mutating: clients.calls.mutating_calls(),
        changes: prepared.plan.changes.len(),
    }
}

async fn scenario(region: &str, n: usize, cidr: u8) -> (Run, Run, Run) {
    let clients = localstack::clients(region).await;
    let cluster = localstack::unique(&format!("bench{n}"));
    let vpc = create_vpc(&clients, &format!("10.{cidr}.0.0/16")).await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &clients,
            &vpc,
            &format!("10.{cidr}.{i}.0/24"),
            &format!("{region}{az}"),
            &[("kubernetes.io/role/elb", "1")],
        )
        .await;
    }
    let opts = PassOptions {
        cluster: cluster.clone(),
        vpc_id: Some(vpc),
        prune: false,
        dns: None,
        delete: Default::default(),
        hostname_owners: Default::default(),
        external_managed_tags: Vec::new(),
        unrestricted_sg_rules: false,
    };
    let base = stacks(n, 0, &cluster);
    let scratch = run(&clients, &opts, &base).await;
    let unchanged = run(&clients, &opts, &base).await;
    let changed = run(&clients, &opts, &stacks(n, 1, &cluster)).await;
    (scratch, unchanged, changed)
}

fn table(s: &mut String, title: &str, runs: &[(&str, &Run)]) {
    let _ = writeln!(s, "\n### {title}\n");
    let _ = writeln!(s, "| run | wall time | changes | AWS calls | mutating |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (name, r) in runs {
        let _ = writeln!(
            s,
            "| {name} | {:.2} s | {} | {} | {} |",
            r.wall.as_secs_f64(),
            r.changes,
            r.total(),
            r.mutating()
        );
    }
    let mut ops: Vec<&String> = runs.iter().flat_map(|(_, r)| r.calls.keys()).collect();
    ops.sort();
    ops.dedup();
    let _ = writeln!(
        s,
        "\n| operation | {} |",
        runs.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---:|".repeat(runs.len()));
    for op in ops {
        let counts: Vec<String> = runs
            .iter()
            .map(|(_, r)| r.calls.get(op).copied().unwrap_or(0).to_string())
            .collect();
        let _ = writeln!(s, "| {op} | {} |", counts.join(" | "));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run scripts/bench-apply.sh"]
async fn bench_apply_ingresses() {
    let n: usize = std::env::var("BENCH_INGRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let small = (n / 5).max(1);
    let (s1, u1, c1) = scenario("eu-south-1", small, 60).await;
    let (s2, u2, c2) = scenario("eu-south-2", n, 61).await;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "## apply benchmark on LocalStack ({n} and {small} Ingresses, one ALB each)"
    );
    table(
        &mut report,
        &format!("{n} Ingresses"),
        &[
            ("from scratch", &s2),
            ("unchanged", &u2),
            ("one changed", &c2),
        ],
    );
    table(
        &mut report,
        &format!("{small} Ingresses"),
        &[
            ("from scratch", &s1),
            ("unchanged", &u1),
            ("one changed", &c1),
        ],
    );
    let ratio = u2.total() as f64 / u1.total() as f64;
    let _ = writeln!(
        report,
        "\nUnchanged re-apply reads: {} calls for {small} load balancers, {} for {n}: x{ratio:.2} for x{} load balancers.",
        u1.total(),
        u2.total(),
        n / small
    );
    println!("{report}");
    if let Ok(path) = std::env::var("BENCH_REPORT") {
        std::fs::write(path, &report).unwrap();
    }

    assert_eq!(
        u1.mutating() + u2.mutating(),
        0,
        "unchanged re-apply must not write"
    );
    assert_eq!(
        c2.mutating(),
        1,
        "one changed path is one ModifyRule: {:?}",
        c2.calls
    );
    let scale = (n / small) as f64;
    assert!(
        ratio <= scale * 1.2,
        "reads grow faster than the number of load balancers: x{ratio:.2}"
    );
}
