//! The controller as a user runs it, black-box: `scripts/dev-cluster.sh` (dev-apiserver and
//! LocalStack), `kubectl` and the `aws-lb-operator` binary, nothing in-process. 20 Ingresses
//! (four IngressGroups of five) and 5 NLB Services come up with hostnames; a restarted operator
//! reconciles every stack and makes no mutating AWS call; `down` leaves no process behind.
//! Only what a user sees is read: kubectl's output and the operator's `/metrics`.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const INGRESSES: usize = 20;
const GROUP_SIZE: usize = 5;
const NLBS: usize = 5;
const NS: &str = "blackbox";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The port of `LOCALSTACK_ENDPOINT`, for dev-cluster.sh.
fn localstack_port() -> String {
    let endpoint = crate::localstack::endpoint();
    let port = endpoint
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or("4566");
    port.to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The dev cluster of this test: its own state directory, cluster name and LocalStack account
/// and region; `down` when dropped.
struct DevCluster {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl DevCluster {
    fn up() -> Self {
        let dir = std::env::temp_dir().join(crate::localstack::unique("aws-lb-blackbox"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run = u32::from_str_radix(crate::localstack::run_id(), 16).unwrap_or_default();
        let mut cluster = Self {
            dir: dir.clone(),
            env: vec![
                (
                    "DEV_CLUSTER_DIR".into(),
                    dir.join("state").display().to_string(),
                ),
                ("CLUSTER_NAME".into(), crate::localstack::unique("blackbox")),
                ("DEV_ACCOUNT_ID".into(), format!("{:04}{run:08}", 15)),
                ("AWS_REGION".into(), "us-east-2".into()),
                ("LOCALSTACK_PORT".into(), localstack_port()),
            ],
        };
        let out = cluster.script(&["up"]);
        assert!(out.status.success(), "dev-cluster.sh up: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        for line in stdout.lines() {
            let (k, v) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line:?}\n{stdout}"));
            cluster.env.push((k.to_owned(), v.to_owned()));
        }
        let names: Vec<&str> = cluster.env[5..].iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "KUBECONFIG",
                "AWS_ENDPOINT_URL",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "CLUSTER_NAME",
                "VPC_ID"
            ]
        );
        // `env` prints exactly the same lines again.
        let again = cluster.script(&["env"]);
        assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
        cluster
    }

    fn var(&self, key: &str) -> &str {
        let found = self.env.iter().rev().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(repo()).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn script(&self, args: &[&str]) -> Output {
        let script = repo().join("scripts/dev-cluster.sh");
        let mut cmd = self.command(&script.display().to_string());
        cmd.args(args).output().unwrap()
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let out = self.command(&kubectl).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apiserver_pid(&self) -> Option<u32> {
        let pidfile = Path::new(self.var("DEV_CLUSTER_DIR")).join("apiserver.pid");
        std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        let _ = self.script(&["down"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The operator binary, running with `/metrics` on `port`; SIGTERM and wait when dropped.
struct Operator {
    child: Child,
    port: u16,
}

impl Operator {
    fn start(cluster: &DevCluster, log: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(cluster.dir.join(log)).unwrap();
        let child = cluster
            .command(env!("CARGO_BIN_EXE_aws-lb-operator"))
            .args(["run", "--leader-elect=false", "--metrics-bind-address"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { child, port }
    }

    fn metrics(&self) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        let mut body = String::new();
        if stream.write_all(request.as_bytes()).is_err()
            || stream.read_to_string(&mut body).is_err()
        {
            return String::new();
        }
        body.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aws-lb-operator did not stop within 20 s of SIGTERM");
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// AWS calls from /metrics: (service, operation, mutating, count), whatever the family is named
/// (`aws_lb_operator_aws*calls_total`) and whatever other labels it has; an operation mutates
/// when its `mutating` label says so, or else unless it is a Describe, List or Get.
fn aws_calls(metrics: &str) -> Vec<(String, String, bool, f64)> {
    let mut out: Vec<(String, String, bool, f64)> = Vec::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("aws_lb_operator_aws") else {
            continue;
        };
        let Some((family, rest)) = rest.split_once('{') else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        if !family.ends_with("calls_total") {
            continue;
        }
        let label = |name: &str| {
            labels
                .split(',')
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim_matches('"').to_owned())
        };
        let operation = label("operation").unwrap_or_default();
        let mutating = match label("mutating").as_deref() {
            Some(m) => m == "true",
            None => !["Describe", "List", "Get"]
                .iter()
                .any(|p| operation.starts_with(p)),
        };
        let n: f64 = value.trim().parse().unwrap_or_default();
        let service = label("service").unwrap_or_default();
        match out
            .iter_mut()
            .find(|(s, o, _, _)| *s == service && *o == operation)
        {
            Some(row) => row.3 += n,
            None => out.push((service, operation, mutating, n)),
        }
    }
    out
}

/// Successful stack reconciles so far.
fn reconciled(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("aws_lb_operator_reconcile_total{") && l.contains("result=\"success\"")
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Poll until `cond` holds and the AWS call counters stayed still for 2 s.
fn settle(
    op: &Operator,
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    let (mut last, mut since) = (Vec::new(), Instant::now());
    loop {
        let metrics = op.metrics();
        let calls = aws_calls(&metrics);
        if calls != last {
            (last, since) = (calls, Instant::now());
        }
        if cond(&metrics) && since.elapsed() >= Duration::from_secs(2) {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn manifests(dir: &Path) -> PathBuf {
    let mut items = Vec::new();
    let endpoints = |name: &str, ip: String| {
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-1"), "namespace": NS,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false}}],
        })
    };
    for i in 0..INGRESSES {
        let name = format!("app{i}");
        items.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }));
        items.push(endpoints(&name, format!("10.30.{}.{}", 100 + i, 10)));
        items.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": NS, "annotations": {
                "alb.ingress.kubernetes.io/group.name": format!("blackbox-{}", i / GROUP_SIZE),
                "alb.ingress.kubernetes.io/scheme": "internal",
                "alb.ingress.kubernetes.io/target-type": "ip",
            }},
            "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{
                "path": format!("/{name}"), "pathType": "Prefix",
                "backend": {"service": {"name": name, "port": {"number": 80}}},
            }]}}]},
        }));
    }
    for j in 0..NLBS {
        let name = format!("nlb{j}");
        items.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "annotations": {
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            }},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb",
                     "selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
        }));
        items.push(endpoints(&name, format!("10.30.{}.{}", 200 + j, 10)));
    }
    let path = dir.join("objects.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    path
}

/// Objects of kind `ingress` or `svc` in the namespace, with their status hostnames.
fn hostnames(cluster: &DevCluster, kind: &str) -> Vec<(String, String)> {
    let list: Value =
        serde_json::from_str(&cluster.kubectl(&["get", kind, "-n", NS, "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let host = o
                .pointer("/status/loadBalancer/ingress/0/hostname")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                host.to_owned(),
            )
        })
        .collect()
}

#[test]
fn twenty_ingresses_and_five_nlbs_come_up_and_a_restart_makes_no_mutating_call() {
    let endpoint = crate::localstack::endpoint();
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        TcpStream::connect(hostport).is_ok(),
        "LocalStack is not reachable at {endpoint}: run the tests with scripts/test.sh, or start it with localstack/start.sh"
    );
    let started = Instant::now();
    let cluster = DevCluster::up();
    let objects = manifests(&cluster.dir);
    let applied = cluster.kubectl(&["apply", "-f", &objects.display().to_string()]);
    assert_eq!(
        applied.lines().count(),
        INGRESSES * 3 + NLBS * 2,
        "{applied}"
    );

    let first = Operator::start(&cluster, "operator-1.log");
    let served = |cluster: &DevCluster| {
        let ingresses = hostnames(cluster, "ingress");
        let nlbs: Vec<_> = hostnames(cluster, "svc")
            .into_iter()
            .filter(|(n, _)| n.starts_with("nlb"))
            .collect();
        ingresses.len() == INGRESSES
            && nlbs.len() == NLBS
            && ingresses.iter().chain(&nlbs).all(|(_, h)| !h.is_empty())
    };
    settle(&first, "every hostname", Duration::from_secs(90), |_| {
        served(&cluster)
    });
    // Four ALBs (one per group, shared by its five Ingresses) and five NLBs.
    let mut albs: Vec<String> = hostnames(&cluster, "ingress")
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    albs.sort();
    albs.dedup();
    assert_eq!(albs.len(), INGRESSES / GROUP_SIZE, "{albs:?}");
    first.stop();

    let second = Operator::start(&cluster, "operator-2.log");
    let stacks = (INGRESSES / GROUP_SIZE + NLBS) as f64;
    // The event we wait for: the restarted operator reconciled every stack successfully.
    let metrics = settle(
        &second,
        "a reconcile of every stack",
        Duration::from_secs(60),
        |m| reconciled(m) >= stacks,
    );
    let calls = aws_calls(&metrics);
    let reads: f64 = calls.iter().filter(|c| !c.2).map(|c| c.3).sum();
    let writes: Vec<_> = calls.iter().filter(|c| c.2 && c.3 > 0.0).collect();
    assert!(
        reads > 0.0,
        "the restarted operator read nothing from AWS:\n{metrics}"
    );
    assert!(
        writes.is_empty(),
        "mutating calls after a restart in sync: {writes:?}"
    );
    assert!(served(&cluster));
    second.stop();

    // `down` stops the server it started and nothing else.
    let pid = cluster.apiserver_pid().unwrap();
    assert!(alive(pid));
    let down = cluster.script(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        !alive(pid),
        "dev-apiserver (pid {pid}) still runs after down"
    );
    let env = cluster.script(&["env"]);
    assert_eq!(
        String::from_utf8_lossy(&env.stderr),
        "dev-cluster.sh: the dev cluster is not up: run scripts/dev-cluster.sh up\n"
    );
    eprintln!("black-box controller test took {:?}", started.elapsed());
}
