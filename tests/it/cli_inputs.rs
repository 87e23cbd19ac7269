//! `plan`/`diff` inputs as users give them (issue 21) and bad input that blocks only its own
//! object (issue 16): JSON and YAML files, `kind: List` dumps, mixed directories and `-R`,
//! standard input, unreadable and empty inputs, limits; and the same objects read from a
//! cluster (the in-process API server fixture) with `--kubeconfig`.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_lb_operator::cli::manifests::load_snapshot;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::localstack::{self, clients, create_subnet, create_vpc, endpoint, unique};

const BIN: &str = env!("CARGO_BIN_EXE_aws-lb-operator");
const REGION: &str = "ca-west-1";

/// Runs the binary with a clean environment (no kubeconfig, no AWS settings but LocalStack's),
/// `stdin` piped in.
fn run_with(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let home = scratch("home");
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_with(args, None)
}

/// A fresh directory for this run.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("cli-inputs-{}", localstack::run_id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The seed example's objects, as the API server would return them.
fn seed_objects() -> Vec<Value> {
    let snap = load_snapshot(&[seed_dir()]).unwrap();
    let mut out: Vec<Value> = Vec::new();
    out.extend(
        snap.ingress_classes
            .iter()
            .map(|o| serde_json::to_value(o).unwrap()),
    );
    out.extend(
        snap.services
            .iter()
            .map(|o| serde_json::to_value(o).unwrap()),
    );
    out.extend(
        snap.endpoint_slices
            .iter()
            .map(|o| serde_json::to_value(o).unwrap()),
    );
    out.extend(
        snap.ingresses
            .iter()
            .map(|o| serde_json::to_value(o).unwrap()),
    );
    out
}

/// What `kubectl get -o json` prints for several kinds.
fn kubectl_list(items: &[Value]) -> Value {
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

fn yaml_stream(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| serde_saphyr::to_string(v).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// `plan -o json` of the seed example: the reference every input form must reproduce.
fn reference() -> String {
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&seed_dir())]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"id\": \"shop/storefront\""), "{out}");
    out
}

#[test]
fn json_yaml_lists_and_stdin_plan_the_same_as_the_manifests() {
    let want = reference();
    let dir = scratch("forms");
    let objects = seed_objects();
    let list = kubectl_list(&objects);
    let forms: Vec<(&str, String)> = vec![
        (
            "list.json",
            serde_json::to_string_pretty(&list).unwrap() + "\n",
        ),
        (
            "stream.json",
            objects
                .iter()
                .map(|o| serde_json::to_string(o).unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("objects.yaml", yaml_stream(&objects)),
        ("list.yml", serde_saphyr::to_string(&list).unwrap()),
        // A JSON dump under another name is still JSON (kubectl sniffs the content too).
        ("dump.txt", serde_json::to_string(&list).unwrap()),
    ];
    for (name, text) in &forms {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&path)]);
        assert_eq!((code, err.as_str()), (0, ""), "{name}");
        assert!(out == want, "{name}: plan differs:\n{out}");
        // The same bytes on standard input.
        let (code, out, err) = run_with(&["plan", "-o", "json", "-f", "-"], Some(text));
        assert_eq!((code, err.as_str()), (0, ""), "{name} on stdin");
        assert!(out == want, "{name} on stdin: plan differs:\n{out}");
    }
}

#[test]
fn directories_read_yaml_yml_and_json_and_subdirectories_only_with_r() {
    let want = reference();
    let dir = scratch("mixed");
    let objects = seed_objects();
    let (classes, rest) = objects.split_at(1);
    let (services, rest) = rest.split_at(4);
    std::fs::write(dir.join("1-class.yaml"), yaml_stream(classes)).unwrap();
    std::fs::write(
        dir.join("2-services.json"),
        serde_json::to_string(&kubectl_list(services)).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("3-rest.yml"), yaml_stream(rest)).unwrap();
    std::fs::write(dir.join("README.md"), "# not a manifest\n").unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/nlb.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: shop, annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip}}\nspec: {type: LoadBalancer, loadBalancerClass: service.k8s.aws/nlb, ports: [{port: 443, targetPort: 8443, protocol: TCP}]}\n",
    )
    .unwrap();
    let d = s(&dir);

    let (code, out, err) = run(&["plan", "-o", "json", "-f", &d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out == want,
        "without -R the subdirectory is not read:\n{out}"
    );
    assert_eq!(
        err,
        format!(
            "note: {d}/README.md: skipped: not a .yaml, .yml or .json file\n\
             note: {d}/sub: skipped: a subdirectory (-R reads subdirectories too)\n"
        )
    );

    let (code, out, err) = run(&["plan", "-o", "json", "-R", "-f", &d]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!("note: {d}/README.md: skipped: not a .yaml, .yml or .json file\n")
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = doc["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["shop/storefront", "service:shop/edge"]);

    // A file named explicitly is read whatever its extension.
    let named = dir.join("objects.txt");
    std::fs::write(&named, yaml_stream(&objects)).unwrap();
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&named)]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out == want, "{out}");
}

#[test]
fn unreadable_and_empty_inputs_exit_1_with_the_reason() {
    let dir = scratch("empty");
    let d = s(&dir);
    let missing = format!("{d}/missing.yaml");
    assert_eq!(
        run(&["plan", "-f", &missing]),
        (
            1,
            String::new(),
            format!("error: cannot read {missing}: No such file or directory (os error 2)\n")
        )
    );

    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\"apiVersion\": \"v1\", \"kind\": \n").unwrap();
    assert_eq!(
        run(&["plan", "-f", &s(&broken)]),
        (
            1,
            String::new(),
            format!(
                "error: {}: invalid JSON: EOF while parsing a value at line 2 column 0\n",
                s(&broken)
            )
        )
    );

    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "# nothing here\n---\n---\n").unwrap();
    assert_eq!(
        run(&["plan", "-f", &s(&empty)]),
        (
            1,
            String::new(),
            format!("error: no Kubernetes object was read from {}\n", s(&empty))
        )
    );

    let docs = scratch("empty-dir");
    std::fs::write(docs.join("README.md"), "read me\n").unwrap();
    let dd = s(&docs);
    assert_eq!(
        run(&["plan", "-f", &dd]),
        (
            1,
            String::new(),
            format!(
                "note: {dd}/README.md: skipped: not a .yaml, .yml or .json file\n\
                 error: no Kubernetes object was read from {dd} (the notes above say what was \
                 skipped)\n"
            )
        )
    );

    assert_eq!(
        run_with(&["plan", "-f", "-"], Some("")),
        (
            1,
            String::new(),
            "error: no Kubernetes object was read from standard input\n".to_owned()
        )
    );
    // diff reads the same way, before it touches AWS.
    assert_eq!(
        run_with(&["diff", "--cluster-name", "x", "-f", "-"], Some("\n")),
        (
            1,
            String::new(),
            "error: no Kubernetes object was read from standard input\n".to_owned()
        )
    );
}

#[test]
fn one_bad_document_is_an_error_of_that_object_and_the_rest_is_planned() {
    let want: Value = serde_json::from_str(&reference()).unwrap();
    let dir = scratch("bad");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ordered\n  namespace: web\n  annotations:\n    alb.ingress.kubernetes.io/group.order: 10\nspec: {ingressClassName: alb}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata:\n  name: internal\n  namespace: web\n  annotations: {service.beta.kubernetes.io/aws-load-balancer-internal: true}\nspec: {type: LoadBalancer, loadBalancerClass: service.k8s.aws/nlb, ports: [{port: 80}]}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {name: ports, namespace: web}\nspec: {ports: [{port: \"eighty\"}]}\n\
         ---\n- just\n- a list\n\
         ---\napiVersion: networking.k8s.io/v1\nmetadata: {name: kindless}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {name: twice, namespace: web}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {name: twice, namespace: web}\n\
         ---\napiVersion: v1\nkind: [Service\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {name: keys, name: again}\n",
    )
    .unwrap();
    let b = s(&bad);
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&seed_dir()), "-f", &b]);
    assert_eq!(code, 2, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"], want["stacks"], "the seed is still planned");
    let messages: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let left = "the object is left out, everything else is still planned";
    let doc_left = "the document is left out, everything else is still planned";
    assert_eq!(
        messages,
        vec![
            format!("{b}: document 4: not a Kubernetes object: the document is a list, expected a mapping with apiVersion, kind and metadata; {doc_left}"),
            format!("{b}: document 5: apiVersion networking.k8s.io/v1 but no kind: every Kubernetes object needs both (one of Ingress, IngressClass); {doc_left}"),
            format!("{b}: document 8: invalid YAML: unclosed bracket '[' (line 38, column 7); {doc_left}"),
            format!("{b}: document 9: invalid YAML: the key \"name\" appears twice in one mapping (line 42, column 24); keep one; {doc_left}"),
            format!("ingress web/ordered ({b}: document 1): metadata.annotations[\"alb.ingress.kubernetes.io/group.order\"]: invalid type: integer `10`, expected a string; annotation values are strings: quote it in YAML (\"10\", not 10); {left}"),
            format!("service web/internal ({b}: document 2): metadata.annotations[\"service.beta.kubernetes.io/aws-load-balancer-internal\"]: invalid type: boolean `true`, expected a string; annotation values are strings: quote it in YAML (\"true\", not true); {left}"),
            format!("service web/ports ({b}: document 3): spec.ports[0].port: invalid type: string \"eighty\", expected i32; {left}"),
            format!("service web/twice is defined 2 times ({b}: document 6, {b}: document 7); a cluster holds one object per name, so keep only one of them; {left}"),
        ]
    );
    // The text output lists the same errors.
    let (code, out, _) = run(&["plan", "-f", &s(&seed_dir()), "-f", &b]);
    assert_eq!(code, 2);
    assert!(out.contains("\nerrors (8):\n"), "{out}");
}

#[test]
fn limits_large_dumps_are_read_and_malicious_documents_refused() {
    let dir = scratch("limits");
    let nlb = "apiVersion: v1\nkind: Service\nmetadata: {name: last, namespace: big, annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip}}\nspec: {type: LoadBalancer, loadBalancerClass: service.k8s.aws/nlb, ports: [{port: 80, targetPort: 80, protocol: TCP}]}\n";
    let plain = |i: usize| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: big}}\nspec: {{ports: [{{port: 80}}]}}\n")
    };
    // More than 1,024 documents in one file (the YAML library's default limit).
    let many: String = (0..1_100).map(|i| plain(i) + "---\n").collect::<String>() + nlb;
    let path = dir.join("many.yaml");
    std::fs::write(&path, many).unwrap();
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&path)]);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"][0]["id"], "service:big/last");

    // A kind: List of 15,000 Services: about 285,000 YAML nodes in one document.
    let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..15_000 {
        for (j, line) in plain(i).lines().enumerate() {
            list.push_str(if j == 0 { "- " } else { "  " });
            list.push_str(line);
            list.push('\n');
        }
    }
    for (j, line) in nlb.lines().enumerate() {
        list.push_str(if j == 0 { "- " } else { "  " });
        list.push_str(line);
        list.push('\n');
    }
    let path = dir.join("list.yaml");
    std::fs::write(&path, list).unwrap();
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &s(&path)]);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"][0]["id"], "service:big/last");

    // An alias bomb, deep nesting and a 10,000-character name: errors of their documents,
    // values cut in messages; the Service after them is still planned.
    let mut bomb = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_owned();
    for i in 1..8 {
        bomb.push_str(&format!(
            "  b{i}: &b{i} [{}]\n",
            vec![format!("*{prev}"); 10].join(", ")
        ));
        prev = format!("b{i}");
    }
    let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
    let long = "n".repeat(10_000);
    let named = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {long}, namespace: big}}\nspec: {{ports: [{{port: x}}]}}\n");
    let path = dir.join("hostile.yaml");
    std::fs::write(&path, format!("{bomb}---\n{deep}---\n{named}---\n{nlb}")).unwrap();
    let p = s(&path);
    let (code, out, err) = run(&["plan", "-o", "json", "-f", &p]);
    assert_eq!(code, 2, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"][0]["id"], "service:big/last");
    let messages: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let cut = format!("{}… (10000 characters)", "n".repeat(100));
    assert_eq!(
        messages,
        vec![
            format!("{p}: document 1: refused: the document has more than 250,000 nodes once its aliases are expanded (an alias bomb?) (line 10, column 17); Kubernetes objects never need that; the document is left out, everything else is still planned"),
            format!("{p}: document 2: refused: the document has mappings and lists nested deeper than 64 (line 14, column 67); Kubernetes objects never need that; the document is left out, everything else is still planned"),
            format!("service big/{cut} ({p}: document 3): spec.ports[0].port: invalid type: string \"x\", expected i32; the object is left out, everything else is still planned"),
        ]
    );
}

/// A kubeconfig for the fixture, with contexts `fixture` (namespace `ns`, current) and `other`.
fn kubeconfig(server: &ApiServer, dir: &Path, ns: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster: {{server: \"{url}\"}}\n- name: down\n  cluster: {{server: \"http://127.0.0.1:9\"}}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: fixture\n  context: {{cluster: fixture, user: u, namespace: {ns}}}\n- name: down\n  context: {{cluster: down, user: u}}\ncurrent-context: fixture\n",
            url = server.url()
        ),
    )
    .unwrap();
    s(&path)
}

/// Loads objects into the fixture with what a real cluster adds to them (managed fields, the
/// last-applied annotation, Node status), and returns what `kubectl get -o json` would print.
fn load_cluster(server: &ApiServer, objects: &[Value]) -> Value {
    for o in objects {
        let mut o = o.clone();
        o["metadata"]["managedFields"] =
            json!([{"manager": "kubectl", "operation": "Update", "apiVersion": "v1"}]);
        let copy = serde_json::to_string(&o).unwrap();
        o["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            copy.into();
        server.apply_object(o);
    }
    let mut items = Vec::new();
    for (api, kind) in [
        ("networking.k8s.io/v1", "IngressClass"),
        ("v1", "Namespace"),
        ("v1", "Node"),
        ("v1", "Service"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("networking.k8s.io/v1", "Ingress"),
    ] {
        items.extend(server.list_objects(api, kind));
    }
    kubectl_list(&items)
}

async fn run_async(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

fn strs(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_from_a_cluster_equals_plan_of_its_dump_byte_for_byte() {
    let server = ApiServer::start().await;
    let dir = scratch("cluster");
    let mut objects = seed_objects();
    objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "storefront"}}}));
    objects.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "a"}},
        "spec": {"providerID": "aws:///ca-west-1a/i-0123456789abcdef0"},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}}));
    objects.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge", "namespace": "other",
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip"}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb", "selector": {"app": "edge"},
            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}));
    let dump = load_cluster(&server, &objects);
    let dump_path = dir.join("dump.json");
    std::fs::write(&dump_path, serde_json::to_string_pretty(&dump).unwrap()).unwrap();
    let kc = kubeconfig(&server, &dir, "shop");
    let url = server.url();

    for format in ["json", "text", "yaml"] {
        let from_cluster =
            run_async(strs(&["plan", "-o", format, "--kubeconfig", &kc, "-A"])).await;
        let from_file = run_async(strs(&["plan", "-o", format, "-f", &s(&dump_path)])).await;
        assert_eq!(from_cluster.0, 0, "{}", from_cluster.2);
        assert_eq!(from_file.0, 0, "{}", from_file.2);
        assert!(
            from_cluster.1 == from_file.1,
            "-o {format}: the cluster's plan differs from its dump's:\n{}\n---\n{}",
            from_cluster.1,
            from_file.1
        );
        assert_eq!(
            from_cluster.2,
            format!("note: read from cluster {url}/: all namespaces\n")
        );
        assert_eq!(from_file.2, "");
    }
    let (_, out, _) = run_async(strs(&["plan", "-o", "json", "-f", &s(&dump_path)])).await;
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"][0]["id"], "shop/storefront");
    assert_eq!(doc["stacks"][1]["id"], "service:other/edge");

    // Without -A: the context's namespace, as kubectl; -n picks another.
    let (code, out, err) = run_async(strs(&["plan", "-o", "json", "--kubeconfig", &kc])).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!(
            "note: read from cluster {url}/: namespace shop only (-A reads all namespaces, as `run` does)\n"
        )
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"].as_array().unwrap().len(), 1);
    assert_eq!(doc["stacks"][0]["id"], "shop/storefront");
    let (code, out, err) = run_async(strs(&[
        "plan",
        "-o",
        "json",
        "--kubeconfig",
        &kc,
        "-n",
        "other",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"].as_array().unwrap().len(), 1);
    assert_eq!(doc["stacks"][0]["id"], "service:other/edge");

    // Without the elbv2.k8s.aws CRDs: a note, and the rest is read. A malformed
    // IngressClassParams is an error of that object.
    server.fail_next("list", "ingressclassparams", 404);
    let (code, out, err) = run_async(strs(&["plan", "-o", "json", "--kubeconfig", &kc])).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        format!(
            "note: read from cluster {url}/: namespace shop only (-A reads all namespaces, as `run` does)\n\
             note: IngressClassParams cannot be listed (the elbv2.k8s.aws CRDs are not installed): going on without them\n"
        )
    );
    assert!(out.contains("\"id\": \"shop/storefront\""), "{out}");
    server.apply_object(
        json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "IngressClassParams",
        "metadata": {"name": "bad"}, "spec": {"group": "not-a-mapping"}}),
    );
    let (code, out, err) = run_async(strs(&["plan", "-o", "json", "--kubeconfig", &kc])).await;
    assert_eq!(code, 2, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["errors"],
        json!([{"object": "ingressclassparams bad", "message": "ingressclassparams bad: spec.group: invalid type: string \"not-a-mapping\", expected struct GroupParams; the object is left out, everything else is still planned"}])
    );
    server.delete_object("elbv2.k8s.aws/v1beta1", "IngressClassParams", "", "bad");

    // Only reads.
    let verbs: std::collections::BTreeSet<String> =
        server.calls().iter().map(|c| c.verb.clone()).collect();
    assert_eq!(verbs, ["list".to_owned()].into_iter().collect());

    // A cluster that cannot be reached, a context that does not exist, flags that conflict.
    let (code, out, err) = run_async(strs(&[
        "plan",
        "--kubeconfig",
        &kc,
        "--context",
        "down",
        "-A",
    ]))
    .await;
    assert_eq!((code, out.as_str()), (1, ""));
    // (kube-client logs its own error line first.)
    assert!(
        err.lines().last().unwrap().starts_with(
            "error: cannot list ingresses.networking.k8s.io in all namespaces: ServiceError: "
        ),
        "{err}"
    );
    let (code, _, err) =
        run_async(strs(&["plan", "--kubeconfig", &kc, "--context", "nowhere"])).await;
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: cannot configure the Kubernetes client: "),
        "{err}"
    );
    // Neither -f nor a cluster to be found (no KUBECONFIG, no ~/.kube/config, not in a pod).
    let (code, out, err) = run_async(strs(&["plan"])).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("error: cannot configure the Kubernetes client: "),
        "{err}"
    );
    // A usage error exits 1, as kubectl's do: 2 means "some objects had errors".
    let (code, _, err) = run_async(strs(&["plan", "-f", "x.yaml", "--kubeconfig", &kc])).await;
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "error: the argument '--filename <FILES>' cannot be used with '--kubeconfig <KUBECONFIG>'"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_from_a_cluster_after_apply_shows_no_change() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.72.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &c,
            &vpc,
            &format!("10.72.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[("kubernetes.io/role/elb", "1")],
        )
        .await;
    }
    let cluster = unique("cli-inputs");
    let common = ["--cluster-name", cluster.as_str(), "--vpc-id", vpc.as_str()];
    let server = ApiServer::start().await;
    let dir = scratch("diff");
    // The cluster's objects, and their dump (names of target groups hash the Services' uids,
    // which the API server assigns: the dump has the same ones).
    let dump = load_cluster(&server, &seed_objects());
    let dump_path = dir.join("dump.json");
    std::fs::write(&dump_path, serde_json::to_string(&dump).unwrap()).unwrap();
    let dump_arg = s(&dump_path);
    let kc = kubeconfig(&server, &dir, "shop");

    // Before apply: the cluster's diff is its dump's diff.
    let (code, from_cluster, err) = run_async(strs(
        &[
            &["diff", "-o", "json", "--kubeconfig", &kc, "-A"],
            &common[..],
        ]
        .concat(),
    ))
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, from_files, err) = run_async(strs(
        &[&["diff", "-o", "json", "-f", &dump_arg], &common[..]].concat(),
    ))
    .await;
    assert_eq!(code, 0, "{err}");
    let changes = |out: &str| {
        let doc: Value = serde_json::from_str(out).unwrap();
        (doc["changes"].clone(), doc["dnsChanges"].clone())
    };
    assert_eq!(changes(&from_cluster), changes(&from_files));
    assert_eq!(changes(&from_cluster).0.as_array().unwrap().len(), 18);

    // The cluster's objects reconciled (as the controller would: apply of the same objects).
    let (code, _, err) =
        run_async(strs(&[&["apply", "-f", &dump_arg], &common[..]].concat())).await;
    assert_eq!(code, 0, "{err}");

    // After apply: nothing to change, and nothing was written (0 mutating AWS calls).
    let (code, out, err) = run_async(strs(
        &[&["diff", "--kubeconfig", &kc, "-A"], &common[..]].concat(),
    ))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("No changes: 0 to create, 0 to modify, 0 to delete, 0 target registrations, 0 deregistrations, 0 DNS record changes; "),
        "{out}"
    );
    assert!(out.ends_with(" AWS calls (0 mutating).\n"), "{out}");
    let verbs: std::collections::BTreeSet<String> =
        server.calls().iter().map(|c| c.verb.clone()).collect();
    assert_eq!(verbs, ["list".to_owned()].into_iter().collect());
}

/// `kubectl get` shapes for the benchmark: Services with what a real cluster adds, Ingresses
/// each with its own ALB, and the EndpointSlices of the Services they use.
fn bench_objects(services: usize, ingresses: usize) -> Vec<Value> {
    let ns = |i: usize| format!("ns{}", (i / 10) % 50);
    let mut out = vec![
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    ];
    for i in 0..services {
        out.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc{i}"), "namespace": ns(i),
                "uid": format!("00000000-0000-4000-8000-{i:012}"),
                "resourceVersion": format!("{}", 1000 + i), "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"app": format!("svc{i}"), "team": "bench"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "x".repeat(800)},
                "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:ports": {}, "f:selector": {}}}}]},
            "spec": {"type": "ClusterIP", "clusterIP": format!("172.20.{}.{}", i / 250, i % 250),
                "clusterIPs": [format!("172.20.{}.{}", i / 250, i % 250)],
                "selector": {"app": format!("svc{i}")},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}}
        }));
    }
    for i in 0..ingresses {
        let svc = i * (services / ingresses.max(1)).max(1);
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": format!("app{i}"), "namespace": ns(svc), "annotations": {
                "alb.ingress.kubernetes.io/target-type": "ip",
                "alb.ingress.kubernetes.io/scheme": "internet-facing",
                "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(1500),
            }},
            "spec": {"ingressClassName": "alb", "rules": [{"host": format!("app{i}.bench.test"), "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": format!("svc{svc}"), "port": {"number": 80}}}}
            ]}}]}
        }));
        out.push(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("svc{svc}-abc"), "namespace": ns(svc),
                "labels": {"kubernetes.io/service-name": format!("svc{svc}")}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": (0..3).map(|k| json!({
                "addresses": [format!("10.{}.{}.{}", (svc / 250) % 250, svc % 250, k + 1)],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": format!("ip-10-0-{k}-1.ec2.internal"), "zone": "ca-west-1a",
                "targetRef": {"kind": "Pod", "name": format!("svc{svc}-pod-{k}"), "namespace": ns(svc)}
            })).collect::<Vec<_>>()
        }));
    }
    out
}

/// `/usr/bin/time -v` of the binary: (exit code, wall seconds, peak RSS in MiB).
fn timed(args: &[String]) -> (i32, String, f64) {
    // INPUTS_BENCH_BIN: another build of the binary (e.g. target/release/aws-lb-operator).
    let bin = std::env::var("INPUTS_BENCH_BIN").unwrap_or_else(|_| BIN.to_owned());
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(bin)
        .args(args)
        .env("HOME", scratch("home"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let field = |name: &str| {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let rss_kib: f64 = field("Maximum resident set size (kbytes):")
        .parse()
        .unwrap_or(0.0);
    (
        out.status.code().unwrap_or(-1),
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        rss_kib / 1024.0,
    )
}

/// Measures `plan` of a 50,000-Service, 5,000-Ingress cluster from one JSON dump and from the
/// API server fixture. `INPUTS_BENCH_SERVICES` / `INPUTS_BENCH_INGRESSES` change the sizes,
/// `INPUTS_BENCH_BIN` the binary measured (default: this build's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test --test it bench_plan_of_a_large_dump -- --ignored --nocapture"]
async fn bench_plan_of_a_large_dump() {
    let size = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (services, ingresses) = (
        size("INPUTS_BENCH_SERVICES", 50_000),
        size("INPUTS_BENCH_INGRESSES", 5_000),
    );
    let dir = scratch("bench");
    let objects = bench_objects(services, ingresses);
    let dump = dir.join("dump.json");
    std::fs::write(&dump, serde_json::to_vec(&kubectl_list(&objects)).unwrap()).unwrap();
    let bytes = std::fs::metadata(&dump).unwrap().len();
    let plan = |source: Vec<String>| {
        let mut args = strs(&["plan", "-o", "json", "--cluster-name", "bench"]);
        args.extend(source);
        args
    };
    let (code, wall, rss) = timed(&plan(strs(&["-f", &s(&dump)])));
    assert_eq!(code, 0);
    println!(
        "plan -f dump.json ({services} Services, {ingresses} Ingresses, {ingresses} EndpointSlices, {:.1} MB): {wall} wall, {rss:.0} MiB peak RSS",
        bytes as f64 / 1e6
    );

    let server = ApiServer::start_with_history(1000).await;
    for o in objects {
        server.apply_object(o);
    }
    let kc = kubeconfig(&server, &dir, "default");
    let args = plan(strs(&["--kubeconfig", &kc, "-A"]));
    let (code, wall, rss) = tokio::task::spawn_blocking(move || timed(&args))
        .await
        .unwrap();
    assert_eq!(code, 0);
    println!(
        "plan --kubeconfig (API server fixture, same objects): {wall} wall, {rss:.0} MiB peak RSS"
    );
}

/// `plan` from a cluster that serves the Gateway API kinds reads them: the example's Gateways
/// are planned as from its manifests (names aside: the fixture gives the Gateways uids, which
/// the load balancer names hash).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_from_a_cluster_reads_the_gateway_kinds_it_serves() {
    let server = ApiServer::start().await;
    crate::controller_gateway::install_gateway_crds(&server);
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/gateway");
    server.preload(&example).unwrap();
    let dir = scratch("cluster-gateway");
    let kc = kubeconfig(&server, &dir, "web");
    let (code, out, err) =
        run_async(strs(&["plan", "-o", "json", "--kubeconfig", &kc, "-A"])).await;
    let (file_code, file_out, file_err) =
        run_async(strs(&["plan", "-o", "json", "-f", &s(&example)])).await;
    assert_eq!((code, file_code), (0, 0), "{err}\n{file_err}");
    let ids = |out: &str| {
        let doc: Value = serde_json::from_str(out).unwrap();
        doc["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&out), ["gateway:web/edge", "nlb-gateway:data/db-edge"]);
    assert_eq!(ids(&out), ids(&file_out));
    let rules = |out: &str| {
        let doc: Value = serde_json::from_str(out).unwrap();
        doc["stacks"][0]["listeners"].clone()
    };
    assert_eq!(
        rules(&out).as_array().map(Vec::len),
        rules(&file_out).as_array().map(Vec::len)
    );
}
