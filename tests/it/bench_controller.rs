//! Controller benchmarks (ignored by default; run with `scripts/bench-controller.sh`), against
//! the in-process API server fixture and LocalStack. Each writes a section of a Markdown report
//! (`BENCH_REPORT`, default `target/bench-controller.md`).
//!
//! - memory: resident set of the `run` binary (a separate process, `--dry-run`) after syncing
//!   10,000 Services with 100,000 endpoints in EndpointSlices and 1,000 Ingresses (times
//!   `BENCH_SCALE`, `BENCH_RUNS` processes in a row);
//! - target churn: time from an EndpointSlice change to its RegisterTargets/DeregisterTargets
//!   call, p50, p99 and max over `BENCH_CHANGES` (default 1,000) changes, at `BENCH_STACKS` ALB
//!   stacks (default 10 for this benchmark) in a cluster of ten Services with ten endpoints each
//!   per stack (`BENCH_STACKS=5000`: 50,000 Services, 500,000 endpoints); then, from 100 stacks
//!   up, a rollout: 100 Services' slices replaced at once, timed until every target call was
//!   sent, with the calls counted;
//! - restart: cold start of `BENCH_STACKS` (default 1,000 for this benchmark) stacks and
//!   `BENCH_TGBS` TargetGroupBindings (default one per ten stacks), then the time and AWS calls
//!   to confirm them all in sync after a restart.
//!
//! `BENCH_STACKS` sizes whichever benchmark runs: give it with a filter
//! (`scripts/bench-controller.sh target_churn`).
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use aws_lb_operator::aws::AwsClients;
use aws_lb_operator::controller::reconciler::Settings;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator_core::translate::BuildConfig;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::localstack;

const REGION: &str = "eu-south-2";

fn report(section: &str) {
    let path = std::env::var("BENCH_REPORT").unwrap_or_else(|_| {
        format!(
            "{}/bench-controller.md",
            std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())
        )
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(f, "{section}").unwrap();
    println!("{section}\n(report: {path})");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ingress(i: usize) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": format!("app{i}"), "namespace": format!("ns{}", i % 50), "annotations": {
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
            "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(1500),
        }},
        "spec": {"ingressClassName": "alb", "rules": [{"host": format!("app{i}.bench.test"), "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("svc{}", i * 10), "port": {"number": 80}}}}
        ]}}]}
    })
}

fn service(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("svc{i}"), "namespace": format!("ns{}", (i / 10) % 50),
            "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "labels": {"app": format!("svc{i}"), "team": "bench"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x".repeat(800)},
            "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:ports": {}}}}]},
        "spec": {"type": "ClusterIP", "clusterIP": format!("172.20.{}.{}", i / 250, i % 250),
            "selector": {"app": format!("svc{i}")},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    })
}

fn slice(i: usize, ready: usize, extra: usize) -> Value {
    slice_from(i, ready, extra, 1)
}

/// [`slice`] with addresses numbered from `first` (a rollout replaces every pod).
fn slice_from(i: usize, ready: usize, extra: usize, first: usize) -> Value {
    let endpoints: Vec<Value> = (0..ready + extra)
        .map(|k| json!({
            "addresses": [format!("10.{}.{}.{}", (i / 250) % 250, i % 250, k + first)],
            "conditions": {"ready": k < ready || extra > 0, "serving": true, "terminating": false},
            "nodeName": format!("ip-10-0-{}-1.ec2.internal", k % 8),
            "zone": "eu-south-2a",
            "targetRef": {"kind": "Pod", "name": format!("svc{i}-pod-{k}"), "namespace": format!("ns{}", (i / 10) % 50)}
        }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("svc{i}-abc"), "namespace": format!("ns{}", (i / 10) % 50),
            "labels": {"kubernetes.io/service-name": format!("svc{i}"), "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints
    })
}

fn load_common(server: &ApiServer) {
    server.apply_object(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    );
    for n in 0..50 {
        server.apply_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns{n}")}}));
    }
}

/// VmRSS, VmHWM, RssAnon and RssFile of `pid`, in KiB.
fn rss_kib(pid: u32) -> (u64, u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        field("VmRSS:"),
        field("VmHWM:"),
        field("RssAnon:"),
        field("RssFile:"),
    )
}

async fn http_get(addr: &str, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

/// The `ENV` pairs of the image (Dockerfile.scratch; a packaging test keeps the Dockerfile's
/// equal).
fn image_env() -> Vec<(String, String)> {
    let path = format!("{}/Dockerfile.scratch", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|v| v.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert!(!pairs.is_empty(), "no ENV in {path}");
    pairs
}

/// One measured `run` process of [`bench_memory_10k_services_100k_endpoints_1k_ingresses`].
struct MemoryRun {
    synced: Option<Duration>,
    planned: Duration,
    rss_kib: u64,
    hwm_kib: u64,
    /// The resident heap and stacks (RssAnon).
    anon_kib: u64,
    /// The resident pages of the binary and libraries (RssFile): ~43 MiB of the 141 MB debug
    /// binary, mostly its code, with an empty cluster as with a full one.
    file_kib: u64,
}

/// Starts `run --dry-run` against the fixture at `kubeconfig`, waits until its caches synced
/// and `stacks` stacks were planned, then reads its resident set and stops it.
async fn measure_run(env: &Env, kubeconfig: &std::path::Path, stacks: u64) -> MemoryRun {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let run = account_run_env(5800);
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"))
        .args([
            "run",
            "--cluster-name",
            &env.cluster,
            "--vpc-id",
            &env.vpc,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--leader-elect=false",
            "--dry-run",
            "--dns-disabled",
            "--metrics-bind-address",
            &metrics,
            "--region",
            REGION,
            "--aws-endpoint-url",
            &localstack::endpoint(),
        ])
        .envs(run)
        .env("RUST_LOG", "warn")
        // The environment the image sets (the allocator's settings): `run` as it ships.
        .envs(image_env())
        // BENCH_CHILD_ENV: `K=V` pairs separated by spaces for the binary, e.g.
        // `MALLOC_ARENA_MAX=2`, or a heap profile: `LD_PRELOAD=.../libheaptrack_preload.so
        // DUMP_HEAPTRACK_OUTPUT=/tmp/run.raw` (docs/controller.md, "Measuring memory").
        .envs(
            std::env::var("BENCH_CHILD_ENV")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                .collect::<Vec<_>>(),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Synced, then every stack planned once (dry-run reconciles).
    let mut synced = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline {
        if let Some(body) = http_get(&metrics, "/metrics").await {
            if synced.is_none() && body.contains("aws_lb_operator_ready 1") {
                synced = Some(started.elapsed());
            }
            let done: u64 = body
                .lines()
                .filter(|l| l.starts_with("aws_lb_operator_reconcile_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            if done >= stacks && synced.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let planned = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_kib, hwm_kib, anon_kib, file_kib) = rss_kib(pid);
    child.kill().ok();
    child.wait().ok();
    MemoryRun {
        synced,
        planned,
        rss_kib,
        hwm_kib,
        anon_kib,
        file_kib,
    }
}

/// The memory benchmark. `BENCH_SCALE` (default 1) multiplies every count: 0 is the empty
/// cluster, 5 is 50,000 Services / 500,000 endpoints / 5,000 Ingresses. `BENCH_RUNS` (default
/// 1) starts that many `run` processes one after another against the same fixture (memory
/// varies from run to run). The fixture lives in this test process; only the `run` process is
/// measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-controller.sh"]
async fn bench_memory_10k_services_100k_endpoints_1k_ingresses() {
    let clients = localstack::account_clients(REGION, 5800).await;
    let env = env_with(clients, REGION, "bench-mem", 90).await;
    let server = ApiServer::start_with_history(1000).await;
    load_common(&server);
    let load = Instant::now();
    let var = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let scale = var("BENCH_SCALE", 1);
    let runs = var("BENCH_RUNS", 1).max(1);
    let (services, ingresses) = (10_000 * scale, 1_000 * scale);
    for i in 0..services {
        server.apply_object(service(i));
        server.apply_object(slice(i, 10, 0));
    }
    for i in 0..ingresses {
        server.apply_object(ingress(i));
    }
    let load_time = load.elapsed();
    let dir = std::env::temp_dir().join(format!("bench-mem-{}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster: {{server: \"{}\"}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context: {{cluster: fixture, user: u, namespace: default}}\ncurrent-context: c\n",
            server.url()
        ),
    )
    .unwrap();
    let mut measured = Vec::new();
    for _ in 0..runs {
        measured.push(measure_run(&env, &kubeconfig, ingresses as u64).await);
    }
    let target = match scale {
        1 => "≤ 100 MiB",
        5 => "≤ 400 MiB",
        _ => "—",
    };
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Memory (`run --dry-run`, {profile} build, BENCH_SCALE={scale})\n\n{services} Services, {services} EndpointSlices with {} endpoints, {ingresses} Ingresses ({ingresses} \
         ALB stacks) served by the fixture (loaded in {:.1} s), `run` with the image's environment {:?}{}. Target: {target} resident.\n\n| run | caches synced after | every stack planned after | VmRSS | VmHWM | of VmRSS: RssAnon (heap) | RssFile (binary) |\n|---:|---:|---:|---:|---:|---:|---:|",
        services * 10,
        load_time.as_secs_f64(),
        image_env(),
        std::env::var("BENCH_CHILD_ENV")
            .map(|e| format!(" and BENCH_CHILD_ENV={e:?}"))
            .unwrap_or_default(),
    );
    for (n, m) in measured.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {:.1} s | {:.1} s | {} MiB | {} MiB | {} MiB | {} MiB |",
            n + 1,
            m.synced.unwrap_or_default().as_secs_f64(),
            m.planned.as_secs_f64(),
            mib(m.rss_kib),
            mib(m.hwm_kib),
            mib(m.anon_kib),
            mib(m.file_kib)
        );
    }
    report(&s);
    assert!(
        measured.iter().all(|m| m.synced.is_some()),
        "caches never synced"
    );
    assert!(measured.iter().all(|m| m.hwm_kib > 0));
}

/// Environment that makes the binary act in LocalStack account `n` (see
/// `localstack::account_clients`).
fn account_run_env(n: u32) -> Vec<(String, String)> {
    let run = u32::from_str_radix(localstack::run_id(), 16).unwrap_or_default();
    vec![
        ("AWS_ACCESS_KEY_ID".into(), format!("{n:04}{run:08}")),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
    ]
}

struct World {
    server: ApiServer,
    env: Env,
}

impl World {
    async fn new(name: &str, account: u32, cidr16: u8) -> Self {
        let clients = localstack::account_clients(REGION, account).await;
        let env = env_with(clients, REGION, name, cidr16).await;
        let server = ApiServer::start().await;
        load_common(&server);
        Self { server, env }
    }

    async fn controller(&self) -> Running {
        self.controller_with(self.env.clients.clone()).await
    }

    /// A controller calling AWS through `aws` (the setup clients of [`setup_clients`]).
    async fn controller_with(&self, aws: AwsClients) -> Running {
        start(Deps {
            client: self.server.client(),
            aws,
            settings: Settings {
                cluster: self.env.cluster.clone(),
                vpc_id: Some(self.env.vpc.clone()),
                build: BuildConfig::new(&self.env.cluster),
                dns: None,
                concurrency: 4,
                max_stacks_per_pass: 50,
                sync_period: Duration::from_secs(3600),
                target_batch_window: Duration::from_millis(200),
                dry_run: false,
                unrestricted_sg_rules: false,
                backoff: Default::default(),
                gateway_discovery_period: Duration::from_secs(60),
            },
            namespaces: Vec::new(),
            leader: None,
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            identity: "bench".into(),
            shutdown_timeout: Duration::from_secs(60),
        })
        .await
        .unwrap()
    }

    /// Waits until at least `n` stacks reconciled, the queue is empty and no AWS call was made
    /// for 2 s (a stack may be reconciled more than once, so the count alone can come early);
    /// returns the time of the last AWS call.
    async fn wait_settled(&self, running: &Running, n: u64, secs: u64) -> Duration {
        self.wait_settled_with(running, &self.env.clients, n, secs)
            .await
    }

    /// [`Self::wait_settled`] for a controller calling AWS through `aws`.
    async fn wait_settled_with(
        &self,
        running: &Running,
        aws: &AwsClients,
        n: u64,
        secs: u64,
    ) -> Duration {
        let t = Instant::now();
        let calls = &aws.calls;
        let mut last = (calls.total_calls(), Instant::now());
        while t.elapsed() < Duration::from_secs(secs) {
            let done = running
                .metrics
                .counter("aws_lb_operator_reconcile_total", &[("result", "success")]);
            let total = calls.total_calls();
            if total != last.0 {
                last = (total, Instant::now());
            }
            if done >= n
                && running.metrics.queue_depth.get() == 0
                && last.1.elapsed() >= Duration::from_secs(2)
            {
                return last.1 - t;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("not settled with {n} stacks reconciled in {secs} s");
    }
}

/// `BENCH_SETUP_THROTTLE`: rate limits (`--aws-api-throttle` syntax, over the defaults) for
/// creating the stacks a benchmark then measures, e.g.
/// `elbv2:^RegisterTargets|^DeregisterTargets=100:200` so that 5,000 stacks are not created
/// at 4 registrations per second (21 minutes). What is measured keeps the defaults.
async fn setup_clients(account: u32) -> Option<(AwsClients, String)> {
    let throttle = std::env::var("BENCH_SETUP_THROTTLE").ok()?;
    let aws = localstack::account_clients_with_throttle(REGION, account, &throttle).await;
    Some((aws, throttle))
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-controller.sh"]
async fn bench_target_churn_and_rollout() {
    // BENCH_STACKS ALB stacks, each backed by one of ten Services (ten endpoints each): the
    // other nine are the rest of the cluster, read by nothing.
    let stacks = env_count("BENCH_STACKS", 10).max(1);
    let changes = env_count("BENCH_CHANGES", 1000).max(1);
    let w = World::new("bench-churn", 5801, 91).await;
    let load = Instant::now();
    for i in 0..stacks * 10 {
        w.server.apply_object(service(i));
        w.server.apply_object(slice(i, 10, 0));
    }
    for i in 0..stacks {
        w.server.apply_object(ingress(i));
    }
    let load_time = load.elapsed();
    let setup = setup_clients(5801).await;
    let setup_aws = setup.as_ref().map_or(&w.env.clients, |(aws, _)| aws);
    let running = w.controller_with(setup_aws.clone()).await;
    let calls = &setup_aws.calls;
    // Every load balancer created, then no AWS write for 3 s (the reconcile counter counts
    // a stack's passes, not stacks, so it cannot tell when all are created).
    let t = Instant::now();
    let timeout = Duration::from_secs(300 + 3 * stacks as u64);
    let lbs = || {
        calls
            .mutating_by_operation()
            .get("elbv2.CreateLoadBalancer")
            .copied()
            .unwrap_or(0)
    };
    while lbs() < stacks as u64 {
        assert!(
            t.elapsed() < timeout,
            "{} of {stacks} load balancers created",
            lbs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Then no stack dirty (none failed and waiting for a retry) and no write for 3 s.
    let dirty = || running.metrics.counter("aws_lb_operator_queue_depth", &[]);
    let mut quiet_since = (Instant::now(), calls.mutating_calls());
    while quiet_since.0.elapsed() < Duration::from_secs(3) || dirty() > 0 {
        assert!(
            t.elapsed() < timeout,
            "never settled: {} stacks dirty",
            dirty()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = calls.mutating_calls();
        if now != quiet_since.1 {
            quiet_since = (Instant::now(), now);
        }
    }
    let created = t.elapsed();
    let failures = running
        .metrics
        .counter("aws_lb_operator_reconcile_errors_total", &[]);
    // Created with the setup's rate limits: measured by a controller with the defaults, started
    // on the synced cluster.
    // BENCH_THROTTLE: the measured controller's rate limits over the defaults (what the
    // pipeline costs without the 4/s registration limit).
    let throttle = std::env::var("BENCH_THROTTLE").ok();
    let measured_aws = match &throttle {
        Some(t) => localstack::account_clients_with_throttle(REGION, 5801, t).await,
        None => w.env.clients.clone(),
    };
    let running = if setup.is_some() || throttle.is_some() {
        running.shutdown().await;
        let measured = w.controller_with(measured_aws.clone()).await;
        w.wait_settled_with(&measured, &measured_aws, stacks as u64, 1800)
            .await;
        measured
    } else {
        running
    };
    let calls = &measured_aws.calls;
    calls.reset();
    let mut latencies = Vec::with_capacity(changes);
    for n in 0..changes {
        let svc = (n % stacks) * 10;
        // Alternately add an 11th ready endpoint and remove it again.
        let extra = usize::from((n / stacks).is_multiple_of(2));
        let before = calls.mutating_calls();
        let sent = Instant::now();
        w.server.apply_object(slice(svc, 10, extra));
        loop {
            if calls.mutating_calls() > before {
                latencies.push(sent.elapsed());
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(30),
                "change {n} never reached AWS ({} stacks dirty)",
                running.metrics.counter("aws_lb_operator_queue_depth", &[])
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let by_op = calls.mutating_by_operation();
    latencies.sort();
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    let max = latencies[latencies.len() - 1];
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Target churn at {stacks} stacks (in-process controller, `--target-batch-window 200ms`)\n\n{stacks} ALB stacks, {} Services with {} endpoints (loaded in {:.1} s, every stack created in {:.1} s{}, {failures} failed passes on the way). {changes} EndpointSlice changes (one endpoint added or removed, across the stacks), each \
         timed from the write to the API server until its RegisterTargets/DeregisterTargets call \
         was sent; rate limits: {}.\n\n| p50 | p99 | max |\n|---:|---:|---:|\n| {} ms | {} ms | {} ms |\n\nMutating calls: {by_op:?}\n",
        stacks * 10,
        stacks * 100,
        load_time.as_secs_f64(),
        created.as_secs_f64(),
        setup
            .as_ref()
            .map(|(_, t)| format!(
                " with BENCH_SETUP_THROTTLE={t:?} by a controller then stopped, measured by a new one started on the synced cluster"
            ))
            .unwrap_or_default(),
        throttle.as_deref().map_or_else(
            || "the defaults".to_owned(),
            |t| format!("BENCH_THROTTLE={t:?} over the defaults")
        ),
        p50.as_millis(),
        p99.as_millis(),
        max.as_millis()
    );
    report(&s);
    assert!(
        by_op
            .keys()
            .all(|k| k == "elbv2.RegisterTargets" || k == "elbv2.DeregisterTargets"),
        "{by_op:?}"
    );
    if stacks >= 100 {
        rollout(&w, &measured_aws, throttle.as_deref(), stacks).await;
    }
    running.shutdown().await;
}

/// 100 Services' EndpointSlices replaced at once (every pod new: ten targets registered and
/// ten deregistered per target group): the time from the first write until every target group
/// got its calls, and how many there were (each target group needs at least one
/// RegisterTargets and one DeregisterTargets, so 100 of each is at most one each).
async fn rollout(w: &World, aws: &AwsClients, throttle: Option<&str>, stacks: usize) {
    const ROLLED: usize = 100;
    let calls = &aws.calls;
    calls.reset();
    let registers = || {
        calls
            .mutating_by_operation()
            .get("elbv2.RegisterTargets")
            .copied()
            .unwrap_or(0)
    };
    let deregisters = || {
        calls
            .mutating_by_operation()
            .get("elbv2.DeregisterTargets")
            .copied()
            .unwrap_or(0)
    };
    let started = Instant::now();
    for r in 0..ROLLED {
        // Spread over the cluster's stacks.
        let stack = r * stacks / ROLLED;
        w.server.apply_object(slice_from(stack * 10, 10, 0, 101));
    }
    let written = started.elapsed();
    let deadline = Duration::from_secs(120);
    while (registers() < ROLLED as u64 || deregisters() < ROLLED as u64)
        && started.elapsed() < deadline
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let all_sent = started.elapsed();
    // Anything sent after the last expected call would be a second call for some group.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by_op = calls.mutating_by_operation();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Rollout at {stacks} stacks\n\n{ROLLED} Services' EndpointSlices replaced at once (written in {} ms), each target group's ten targets swapped for ten new ones; rate limits: {}.\n\n| every target call sent after | RegisterTargets | DeregisterTargets |\n|---:|---:|---:|\n| {} ms | {} | {} |\n\nMutating calls: {by_op:?}\n",
        written.as_millis(),
        throttle.map_or_else(
            || "the defaults".to_owned(),
            |t| format!("BENCH_THROTTLE={t:?} over the defaults")
        ),
        all_sent.as_millis(),
        registers(),
        deregisters()
    );
    report(&s);
    assert_eq!(registers(), ROLLED as u64, "{by_op:?}");
    assert_eq!(deregisters(), ROLLED as u64, "{by_op:?}");
    assert!(
        by_op
            .keys()
            .all(|k| k == "elbv2.RegisterTargets" || k == "elbv2.DeregisterTargets"),
        "{by_op:?}"
    );
}

/// An NLB Service for stack `i` (the restart benchmark's every tenth stack), backed by
/// `svc{i*10}`'s EndpointSlice.
fn nlb_service(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("nlb{i}"), "namespace": format!("ns{}", i % 50),
            "uid": format!("00000000-0000-0000-0001-{i:012}"),
            "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            }},
        "spec": {"type": "LoadBalancer", "selector": {"app": format!("svc{}", i * 10)},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    })
}

/// `BENCH_STACKS` (default 1,000): how many stacks the restart benchmark runs with.
fn bench_stacks() -> usize {
    std::env::var("BENCH_STACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Cold start of `BENCH_STACKS` stacks (nine in ten ALB Ingresses, one in ten NLB Services,
/// one target group each) and `BENCH_TGBS` (default one per ten stacks) TargetGroupBindings of
/// the user's target groups, then a restart with all of them in sync: time, AWS calls, calls
/// per target group. Asserts every load balancer was created once, the shared backend security
/// group once, every binding's targets registered, and the restart wrote nothing and read each
/// target group's targets once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-controller.sh"]
async fn bench_restart_in_sync_stacks() {
    if let Ok(path) = std::env::var("BENCH_TRACE") {
        let file = std::fs::File::create(path).unwrap();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("aws_lb_operator=info")
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    }
    let n = bench_stacks();
    let w = World::new("bench-restart", 5802, 92).await;
    // NLB Services are every tenth stack; their Services live in the same namespaces.
    let nlbs: Vec<usize> = (0..n).filter(|i| i % 10 == 9).collect();
    for i in 0..n {
        w.server.apply_object(service(i * 10));
        w.server.apply_object(slice(i * 10, 3, 0));
        if i % 10 == 9 {
            w.server.apply_object(nlb_service(i));
        } else {
            w.server.apply_object(ingress(i));
        }
    }
    // BENCH_TGBS (default one per ten stacks) TargetGroupBindings, each binding a target group
    // of the user's (created here, not by the controller) to a Service of its own.
    let tgbs = env_count("BENCH_TGBS", n / 10);
    let user = localstack::account_clients(REGION, 5802).await;
    let mut bound = Vec::with_capacity(tgbs);
    for j in 0..tgbs {
        let svc = j * 10 + 5;
        w.server.apply_object(service(svc));
        w.server.apply_object(slice(svc, 3, 0));
        let arn = user
            .elbv2
            .create_target_group()
            .name(format!("bench-tgb-{j}"))
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(8080)
            .vpc_id(&w.env.vpc)
            .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_owned();
        bound.push(arn.clone());
        w.server.apply_object(json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
            "metadata": {"name": format!("tgb{j}"), "namespace": format!("ns{}", (svc / 10) % 50)},
            "spec": {"targetGroupARN": arn, "targetType": "ip",
                "serviceRef": {"name": format!("svc{svc}"), "port": 80}}
        }));
    }
    let calls = &w.env.clients.calls;
    // Time spent in DescribeTargetHealth calls (the restart's reads), in total and in number.
    let health = std::sync::Arc::new(std::sync::Mutex::new((Duration::ZERO, 0u32)));
    {
        let health = std::sync::Arc::clone(&health);
        calls.on_finished(move |c| {
            if c.operation == "DescribeTargetHealth" {
                let mut h = health.lock().unwrap();
                h.0 += c.took;
                h.1 += 1;
            }
        });
    }
    calls.reset();
    let setup = setup_clients(5802).await;
    let setup_aws = setup.as_ref().map_or(&w.env.clients, |(aws, _)| aws);
    let first = w.controller_with(setup_aws.clone()).await;
    let created = w.wait_settled_with(&first, setup_aws, n as u64, 3600).await;
    let create_calls = setup_aws.calls.total_calls();
    let create_by_op = setup_aws.calls.mutating_by_operation();
    let create_reads = setup_aws.calls.by_operation();
    first.shutdown().await;
    // Every binding's target group got its Service's three endpoints.
    for arn in &bound {
        let targets = aws_lb_operator::aws::elbv2::registered_targets(&user.elbv2, arn)
            .await
            .unwrap();
        assert_eq!(targets.len(), 3, "{arn}: {targets:?}");
    }
    calls.reset();
    *health.lock().unwrap() = (Duration::ZERO, 0);
    let second = w.controller().await;
    let confirmed = w.wait_settled(&second, n as u64, 1800).await;
    let waited = calls.rate_limit_wait();
    let (health_took, health_calls) = *health.lock().unwrap();
    let total = calls.total_calls();
    let mutating = calls.mutating_calls();
    let by_op = calls.by_operation();
    second.shutdown().await;
    // One target group per stack and per binding.
    let groups = n + tgbs;
    let per_stack = total as f64 / groups as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## Restart of {n} in-sync stacks (in-process controller, 4 workers, up to 50 stacks per pass)\n\n\
         {alb} ALB Ingresses and {nlb} NLB Services, one target group each (`BENCH_STACKS={n}`), \
         and {tgbs} TargetGroupBindings of target groups of the user's (`BENCH_TGBS`): {groups} target groups.\n\n\
         | | time | AWS calls | calls per target group | mutating |\n|---|---:|---:|---:|---:|\n\
         | cold start{} | {:.1} s | {create_calls} | {:.2} | {} |\n\
         | restart | {:.2} s | {total} | {per_stack:.2} | {mutating} |\n\n\
         Cold start, mutating calls: {create_by_op:?}\n\nCold start, all calls: {create_reads:?}\n\n\
         Restart, calls: {by_op:?}; waiting for the client-side rate limits {:.1} s in all; \
         DescribeTargetHealth {:.0} ms on average (rate-limit wait and retries included)\n",
        setup
            .as_ref()
            .map(|(_, t)| format!(" (BENCH_SETUP_THROTTLE={t:?})"))
            .unwrap_or_default(),
        created.as_secs_f64(),
        create_calls as f64 / groups as f64,
        create_by_op.values().sum::<u64>(),
        confirmed.as_secs_f64(),
        waited.as_secs_f64(),
        health_took.as_secs_f64() * 1000.0 / f64::from(health_calls.max(1)),
        alb = n - nlbs.len(),
        nlb = nlbs.len(),
    );
    report(&s);
    assert_eq!(
        create_by_op.get("elbv2.CreateLoadBalancer"),
        Some(&(n as u64)),
        "each load balancer created once: {create_by_op:?}"
    );
    // A managed frontend group per load balancer (ALB and NLB), and the shared backend group
    // once.
    assert_eq!(
        create_by_op.get("ec2.CreateSecurityGroup"),
        Some(&(n as u64 + 1)),
        "{create_by_op:?}"
    );
    assert_eq!(mutating, 0, "{by_op:?}");
    // The region is listed once (page size 400) and one DescribeTargetHealth per target group.
    assert_eq!(
        by_op.get("elbv2.DescribeTargetHealth"),
        Some(&(groups as u64)),
        "{by_op:?}"
    );
    // The bindings' target groups are read 20 ARNs a call, after the one listing.
    assert!(
        by_op
            .get("elbv2.DescribeTargetGroups")
            .copied()
            .unwrap_or(0)
            <= 1 + (tgbs as u64).div_ceil(20),
        "{by_op:?}"
    );
    assert!(
        by_op
            .get("elbv2.DescribeLoadBalancers")
            .copied()
            .unwrap_or(0)
            <= (n as u64).div_ceil(400),
        "{by_op:?}"
    );
}
