//! The API server fixture against the real `kubectl` (Debian's `kubernetes-client`, or any
//! kubectl on PATH; `KUBECTL` names another): the commands people use to drive the dev cluster
//! (`scripts/dev-cluster.sh`), each asserted on what kubectl prints and what the server stores.

use crate::apiserver::ApiServer;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// kubectl with a kubeconfig for one fixture and a discovery cache of its own.
struct Kubectl {
    dir: PathBuf,
}

/// The oldest kubectl with every command used here (`patch --subresource` came in 1.24).
const MIN_MINOR: u32 = 24;

fn check_version() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let out = Command::new(&kubectl)
            .args(["version", "--client", "-o", "json"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {kubectl} ({e}): install it (Debian: apt-get install kubernetes-client) or set KUBECTL")
            });
        let version: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let minor = version["clientVersion"]["minor"].as_str().unwrap_or_default();
        let digits: String = minor.chars().take_while(char::is_ascii_digit).collect();
        let minor: u32 = digits.parse().unwrap_or_default();
        assert!(
            minor >= MIN_MINOR,
            "{kubectl} is 1.{minor}; these tests need kubectl 1.{MIN_MINOR} or later (set KUBECTL)"
        );
    });
}

impl Kubectl {
    fn new(server: &ApiServer, name: &str) -> Self {
        check_version();
        let dir = std::env::temp_dir().join(format!(
            "aws-lb-kubectl-{}-{name}",
            crate::localstack::run_id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kubeconfig"), server.kubeconfig()).unwrap();
        Self { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let mut cmd = Command::new(kubectl);
        cmd.args(args)
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("KUBECACHEDIR", self.dir.join("cache"))
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Run to completion off the runtime's threads (the fixture serves on them).
    async fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        let stdin = stdin.to_owned();
        let what = args.join(" ");
        tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().unwrap_or_else(|e| {
                panic!("cannot run kubectl ({e}): install it (Debian: apt-get install kubernetes-client) or set KUBECTL")
            });
            if let Some(mut input) = child.stdin.take() {
                std::io::Write::write_all(&mut input, stdin.as_bytes()).unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap_or_else(|e| panic!("kubectl {what}: {e}"))
    }

    /// stdout of a command that must succeed.
    async fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin).await;
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "kubectl {} failed: {stderr}\n{stdout}",
            args.join(" ")
        );
        stdout
    }

    /// stderr of a command that must fail.
    async fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin).await;
        let (stdout, stderr) = text(&out);
        assert!(
            !out.status.success(),
            "kubectl {} succeeded: {stdout}",
            args.join(" ")
        );
        stderr
    }

    /// A long-running command (`get -w`), its stdout lines arriving on a channel.
    fn stream(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = self.command(args).stdin(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The next `n` lines, waiting at most [`WAIT`] for each.
async fn lines(rx: &mpsc::Receiver<String>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        match tokio::task::block_in_place(|| rx.recv_timeout(WAIT)) {
            Ok(line) => out.push(line),
            Err(e) => panic!("after {out:?}: {e}"),
        }
    }
    out
}

fn get(server: &ApiServer, api_version: &str, kind: &str, name: &str) -> Value {
    server
        .get_object(api_version, kind, "default", name)
        .unwrap_or_else(|| panic!("{kind} {name} is not stored"))
}

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_documents_and_tables() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "discovery");

    let apis: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/apis"], "").await).unwrap();
    assert_eq!(apis["kind"], "APIGroupList");
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for group in ["networking.k8s.io", "discovery.k8s.io", "elbv2.k8s.aws"] {
        assert!(groups.contains(&group), "{groups:?}");
    }
    let core: Value = serde_json::from_str(&k.ok(&["get", "--raw", "/api/v1"], "").await).unwrap();
    let services = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "services")
        .unwrap();
    assert_eq!(services["shortNames"], json!(["svc"]));
    assert_eq!(services["namespaced"], true);

    let resources = k.ok(&["api-resources", "-o", "name"], "").await;
    for name in [
        "services",
        "ingresses.networking.k8s.io",
        "endpointslices.discovery.k8s.io",
        "targetgroupbindings.elbv2.k8s.aws",
        "leases.coordination.k8s.io",
    ] {
        assert!(resources.lines().any(|l| l == name), "{resources}");
    }

    // `kubectl get` asks for a Table: kubectl's own columns for Services.
    k.ok(&["apply", "-f", "-"], SERVICE).await;
    let table = k.ok(&["get", "svc"], "").await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..5],
        [
            "web",
            "LoadBalancer",
            "<none>",
            "<pending>",
            "80/TCP,443/TCP"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_merges_lists_by_key_for_built_ins_and_merge_patches_custom_resources() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "apply");
    assert_eq!(
        k.ok(&["apply", "-f", "-"], SERVICE).await,
        "service/web created\n"
    );
    assert_eq!(
        k.ok(&["apply", "-f", "-"], SERVICE).await,
        "service/web unchanged\n"
    );
    // Someone else adds a port; the manifest then changes one port and drops a label.
    let added = r#"{"spec":{"ports":[{"name":"metrics","port":9090,"targetPort":9090}]}}"#;
    assert_eq!(
        k.ok(
            &["patch", "svc", "web", "--type", "strategic", "-p", added],
            ""
        )
        .await,
        "service/web patched\n"
    );
    let edited = SERVICE
        .replace("targetPort: 8443", "targetPort: 9443")
        .replace(", tier: front", "");
    assert_eq!(
        k.ok(&["apply", "-f", "-"], &edited).await,
        "service/web configured\n"
    );
    let svc = get(&server, "v1", "Service", "web");
    // Strategic merge by `port`: the server-side port survives, the edited one changed.
    assert_eq!(
        svc["spec"]["ports"],
        json!([
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 9443},
            {"name": "metrics", "port": 9090, "targetPort": 9090},
        ])
    );
    assert_eq!(svc["metadata"]["labels"], json!({"app": "web"}));

    // A custom resource: kubectl sends a JSON merge patch (a strategic one is refused).
    let tgb = r#"
apiVersion: elbv2.k8s.aws/v1beta1
kind: TargetGroupBinding
metadata: {name: web}
spec:
  serviceRef: {name: web, port: 80}
  targetGroupARN: arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1
  targetType: ip
"#;
    assert_eq!(
        k.ok(&["apply", "-f", "-"], tgb).await,
        "targetgroupbinding.elbv2.k8s.aws/web created\n"
    );
    let ip_to_instance = tgb.replace("targetType: ip", "targetType: instance");
    assert_eq!(
        k.ok(&["apply", "-f", "-"], &ip_to_instance).await,
        "targetgroupbinding.elbv2.k8s.aws/web configured\n"
    );
    let stored = get(
        &server,
        "elbv2.k8s.aws/v1beta1",
        "TargetGroupBinding",
        "web",
    );
    assert_eq!(stored["spec"]["targetType"], "instance");
    assert_eq!(
        stored["spec"]["serviceRef"],
        json!({"name": "web", "port": 80})
    );
    let refused = k
        .fails(
            &[
                "patch",
                "targetgroupbinding",
                "web",
                "--type",
                "strategic",
                "-p",
                r#"{"spec":{"targetType":"ip"}}"#,
            ],
            "",
        )
        .await;
    assert_eq!(
        refused,
        "error: application/strategic-merge-patch+json is not supported by elbv2.k8s.aws/v1beta1, Kind=TargetGroupBinding: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_removes_dropped_fields_and_reports_conflicts() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "ssa");
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {data}\n")
    };
    assert_eq!(
        k.ok(
            &["apply", "--server-side", "-f", "-"],
            &cm("{a: '1', b: '2'}")
        )
        .await,
        "configmap/settings serverside-applied\n"
    );
    k.ok(&["apply", "--server-side", "-f", "-"], &cm("{a: '1'}"))
        .await;
    assert_eq!(
        get(&server, "v1", "ConfigMap", "settings")["data"],
        json!({"a": "1"})
    );
    let other = [
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "-f",
        "-",
    ];
    let conflict = k.fails(&other, &cm("{a: '9'}")).await;
    let first = conflict.lines().next().unwrap();
    assert_eq!(
        first,
        "error: Apply failed with 1 conflict: conflict with \"kubectl\" using v1: .data.a"
    );
    assert!(conflict.contains("--force-conflicts"), "{conflict}");
    assert_eq!(
        get(&server, "v1", "ConfigMap", "settings")["data"],
        json!({"a": "1"})
    );
    let forced = [&other[..], &["--force-conflicts"]].concat();
    k.ok(&forced, &cm("{a: '9', c: '3'}")).await;
    assert_eq!(
        get(&server, "v1", "ConfigMap", "settings")["data"],
        json!({"a": "9", "c": "3"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_replace_and_the_three_patch_types() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "patch");
    let cm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {a: '1'}}\ndata: {x: '1'}\n";
    assert_eq!(
        k.ok(&["create", "-f", "-"], cm).await,
        "configmap/c created\n"
    );
    assert_eq!(
        k.fails(&["create", "-f", "-"], cm).await,
        "Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"c\" already exists\n"
    );
    let replaced = cm.replace("x: '1'", "w: '2'");
    assert_eq!(
        k.ok(&["replace", "-f", "-"], &replaced).await,
        "configmap/c replaced\n"
    );
    assert_eq!(
        get(&server, "v1", "ConfigMap", "c")["data"],
        json!({"w": "2"})
    );

    let merge = r#"{"data":{"z":"3","w":null}}"#;
    assert_eq!(
        k.ok(&["patch", "cm", "c", "--type", "merge", "-p", merge], "")
            .await,
        "configmap/c patched\n"
    );
    let json_patch = r#"[{"op":"add","path":"/metadata/labels/b","value":"2"},{"op":"remove","path":"/metadata/labels/a"}]"#;
    k.ok(
        &["patch", "cm", "c", "--type", "json", "-p", json_patch],
        "",
    )
    .await;
    let strategic = r#"{"metadata":{"finalizers":["example.com/one"]}}"#;
    k.ok(
        &["patch", "cm", "c", "--type", "strategic", "-p", strategic],
        "",
    )
    .await;
    let strategic = r#"{"metadata":{"finalizers":["example.com/two"]}}"#;
    k.ok(
        &["patch", "cm", "c", "--type", "strategic", "-p", strategic],
        "",
    )
    .await;
    let c = get(&server, "v1", "ConfigMap", "c");
    assert_eq!(c["data"], json!({"z": "3"}));
    assert_eq!(c["metadata"]["labels"], json!({"b": "2"}));
    // Finalizers merge as a set under a strategic merge patch.
    assert_eq!(
        c["metadata"]["finalizers"],
        json!(["example.com/one", "example.com/two"])
    );
    let failing = r#"[{"op":"test","path":"/data/z","value":"nope"}]"#;
    let err = k
        .fails(&["patch", "cm", "c", "--type", "json", "-p", failing], "")
        .await;
    assert_eq!(
        err,
        "The request is invalid: operation '/0' failed at path '/data/z': value did not match\n"
    );
    let none = k
        .fails(
            &["patch", "cm", "missing", "--type", "merge", "-p", merge],
            "",
        )
        .await;
    assert_eq!(
        none,
        "Error from server (NotFound): configmaps \"missing\" not found\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_watch_only() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "watch");
    let cm = |name: &str, v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: '{v}'}}\n")
    };
    k.ok(&["apply", "-f", "-"], &cm("first", "1")).await;
    let format = r#"-o=jsonpath={.metadata.name}={.data.v}{"\n"}"#;
    let (mut all, all_rx) = k.stream(&["get", "cm", "-w", format]);
    let (mut only, only_rx) = k.stream(&["get", "cm", "--watch-only", format]);
    assert_eq!(lines(&all_rx, 1).await, ["first=1"]);
    // Both watches are open once the first prints; give the second the same chance.
    assert!(server.wait_for(|s| s.open_watches() == 2, WAIT).await);
    k.ok(&["apply", "-f", "-"], &cm("first", "2")).await;
    k.ok(&["apply", "-f", "-"], &cm("second", "1")).await;
    assert_eq!(lines(&all_rx, 2).await, ["first=2", "second=1"]);
    assert_eq!(lines(&only_rx, 2).await, ["first=2", "second=1"]);
    // Nothing else arrived: the initial state went only to `-w`.
    assert!(only_rx.try_recv().is_err() && all_rx.try_recv().is_err());
    all.kill().unwrap();
    only.kill().unwrap();
    let _ = (all.wait(), only.wait());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_for_finalizers_and_wait_for_jsonpath() {
    let server = ApiServer::start().await;
    let k = Kubectl::new(&server, "delete");
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\n";
    k.ok(&["apply", "-f", "-"], held).await;
    assert_eq!(
        k.ok(&["delete", "cm", "held", "--wait=false"], "").await,
        "configmap \"held\" deleted\n"
    );
    let marked = get(&server, "v1", "ConfigMap", "held");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    // `kubectl wait --for=delete` times out while the finalizer is pending ...
    let pending = k
        .fails(&["wait", "--for=delete", "cm/held", "--timeout=2s"], "")
        .await;
    // (kubectl may log its own watch restarts before the error when its deadline cuts one.)
    assert_eq!(
        pending.lines().last(),
        Some("error: timed out waiting for the condition on configmaps/held"),
        "{pending}"
    );
    // ... and returns once it is released.
    let release = r#"[{"op":"remove","path":"/metadata/finalizers"}]"#;
    k.ok(
        &["patch", "cm", "held", "--type", "json", "-p", release],
        "",
    )
    .await;
    k.ok(&["wait", "--for=delete", "cm/held", "--timeout=10s"], "")
        .await;
    assert!(server
        .get_object("v1", "ConfigMap", "default", "held")
        .is_none());
    assert_eq!(
        k.fails(&["get", "cm", "held"], "").await,
        "Error from server (NotFound): configmaps \"held\" not found\n"
    );

    // `kubectl wait --for=jsonpath` returns when the status gets its hostname.
    k.ok(&["apply", "-f", "-"], SERVICE).await;
    let wait = k.command(&[
        "wait",
        "--for=jsonpath={.status.loadBalancer.ingress[0].hostname}=lb.example.com",
        "svc/web",
        "--timeout=10s",
    ]);
    let waiting = tokio::task::spawn_blocking(move || {
        let mut wait = wait;
        wait.stdin(Stdio::null()).output().unwrap()
    });
    assert!(server.wait_for(|s| s.open_watches() == 1, WAIT).await);
    let status = r#"{"status":{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}}}"#;
    k.ok(
        &[
            "patch",
            "svc",
            "web",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            status,
        ],
        "",
    )
    .await;
    let out = waiting.await.unwrap();
    assert_eq!(
        text(&out).0,
        "service/web condition met\n",
        "{}",
        text(&out).1
    );
}
