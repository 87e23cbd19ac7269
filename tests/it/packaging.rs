//! The deploy artifacts agree with the code: the CRDs with the Rust types, LBC-style objects
//! with the CRDs, the Helm chart's values and rendered install with the `run` flags and the
//! RBAC the controller needs, and the Dockerfile with the release build script.
//!
//! Rendering and schema validation of the chart need Helm's engine: `deploy/check.sh` (run by
//! `scripts/test.sh`) does that and keeps `deploy/manifests/aws-lb-operator.yaml` equal to the
//! chart's default render; the tests here read that file.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use aws_lb_operator::crd::{self, IngressClassParams, TargetGroupBinding};
use clap::{CommandFactory, Parser};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_aws-lb-operator");
const CHART: &str = "deploy/chart/aws-lb-operator";
const MANIFEST: &str = "deploy/manifests/aws-lb-operator.yaml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml_docs(path: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&read(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

// ---- CRDs -----------------------------------------------------------------------------------

#[test]
fn crds_dir_matches_the_types() {
    let want = crd::crds_yaml().unwrap();
    assert!(
        read("crds/crds.yaml") == want,
        "crds/crds.yaml differs from what src/crd.rs generates; regenerate it with\n  \
         cargo run -q -- crdgen > crds/crds.yaml && cp crds/crds.yaml {CHART}/crds/"
    );
    assert!(
        read(&format!("{CHART}/crds/crds.yaml")) == want,
        "{CHART}/crds/crds.yaml differs from crds/crds.yaml; cp crds/crds.yaml {CHART}/crds/"
    );
    let names: Vec<String> = std::fs::read_dir(repo().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["crds.yaml"], "crds/ holds only the generated file");
}

#[test]
fn crdgen_prints_the_crds() {
    let out = Command::new(BIN).arg("crdgen").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, crd::crds_yaml().unwrap());
    let docs: Vec<Value> = serde_saphyr::from_multiple(&stdout).unwrap();
    let kinds: Vec<(&str, &str, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["spec"]["names"]["kind"].as_str().unwrap(),
                d["spec"]["scope"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "CustomResourceDefinition",
                "TargetGroupBinding",
                "Namespaced"
            ),
            ("CustomResourceDefinition", "IngressClassParams", "Cluster"),
        ]
    );
    // LBC's printer columns (plus READY and NAME), and the status subresource.
    let tgb = &docs[0]["spec"]["versions"][0];
    let columns: Vec<&str> = tgb["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "SERVICE-NAME",
            "SERVICE-PORT",
            "TARGET-TYPE",
            "READY",
            "ARN",
            "NAME",
            "AGE"
        ]
    );
    assert_eq!(tgb["subresources"], serde_json::json!({"status": {}}));
    let port = &tgb["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["serviceRef"]
        ["properties"]["port"];
    assert_eq!(port["x-kubernetes-int-or-string"], true);
}

/// Reads every object of `path` as `T` and writes it back: the JSON must be unchanged.
fn round_trip<T>(path: &str) -> Vec<T>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    yaml_docs(path)
        .into_iter()
        .map(|doc| {
            let name = doc["metadata"]["name"].clone();
            let typed: T = serde_json::from_value(doc.clone())
                .unwrap_or_else(|e| panic!("{path}: {name}: {e}"));
            let back = serde_json::to_value(&typed).unwrap();
            assert_eq!(
                back, doc,
                "{path}: {name} changed in a read/write round trip"
            );
            typed
        })
        .collect()
}

#[test]
fn lbc_target_group_bindings_round_trip() {
    let tgbs: Vec<TargetGroupBinding> = round_trip("tests/fixtures/lbc/targetgroupbindings.yaml");
    assert_eq!(tgbs.len(), 3);
    let [by_arn, by_name, written] = <[TargetGroupBinding; 3]>::try_from(tgbs).ok().unwrap();
    assert_eq!(by_arn.spec.service_ref.port, IntOrString::Int(80));
    assert!(by_arn
        .spec
        .target_group_arn
        .as_deref()
        .unwrap()
        .ends_with("targetgroup/my-tg/73e2d6bc24d8a067"));
    assert_eq!(
        by_name.spec.service_ref.port,
        IntOrString::String("http".into())
    );
    assert_eq!(by_name.spec.target_group_name.as_deref(), Some("my-tg"));
    assert_eq!(by_name.spec.target_type, Some(crd::TargetType::Instance));
    let rules = &by_name.spec.networking.as_ref().unwrap().ingress;
    assert_eq!(
        rules[0].from[0].security_group.as_ref().unwrap().group_id,
        "sg-0123456789abcdef0"
    );
    assert_eq!(rules[0].ports[0].port, None, "no port: every port");
    assert_eq!(
        rules[1].ports[1].port,
        Some(IntOrString::String("metrics".into()))
    );
    let status = written.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, Some(3));
    assert_eq!(status.conditions[0].type_, "Ready");
    assert_eq!(written.spec.multi_cluster_target_group, Some(true));
    assert_eq!(
        written.spec.target_group_protocol,
        Some(crd::TargetGroupProtocol::HTTP)
    );
}

#[test]
fn lbc_ingress_class_params_round_trip_and_read_as_translation_does() {
    let params: Vec<IngressClassParams> = round_trip("tests/fixtures/lbc/ingressclassparams.yaml");
    assert_eq!(params.len(), 3);
    for p in &params {
        // Translation's own type reads the same object; every field it keeps has the same JSON.
        let core = p.to_core().unwrap();
        assert_eq!(core.metadata, p.metadata);
        let crd_json = serde_json::to_value(&p.spec).unwrap();
        let core_json = serde_json::to_value(&core.spec).unwrap();
        for (key, value) in core_json.as_object().unwrap() {
            let empty = value.is_null()
                || value.as_object().is_some_and(|o| {
                    o.values().all(|v| {
                        v.as_array().is_some_and(Vec::is_empty)
                            || v.as_object().is_some_and(serde_json::Map::is_empty)
                    })
                });
            match crd_json.get(key) {
                Some(crd_value) => {
                    let mut core_value = value.clone();
                    // core's subnet selector always writes both lists; the CRD omits empty ones.
                    if let Some(o) = core_value.as_object_mut() {
                        o.retain(|_, v| {
                            !(v.as_array().is_some_and(Vec::is_empty)
                                || v.as_object().is_some_and(serde_json::Map::is_empty))
                        });
                    }
                    assert_eq!(&core_value, crd_value, "{:?}: {key}", p.metadata.name);
                }
                None => assert!(
                    empty,
                    "{:?}: core has {key}={value}, the CRD type has none",
                    p.metadata.name
                ),
            }
        }
    }
    let awesome = &params[0];
    let core = awesome.to_core().unwrap();
    assert_eq!(core.spec.group.as_ref().unwrap().name, "my-group");
    assert_eq!(core.spec.scheme.as_deref(), Some("internal"));
    assert_eq!(
        core.spec.subnets.as_ref().unwrap().tags["team"],
        ["team-a", "shared"]
    );
    assert_eq!(
        awesome.spec.listeners.as_ref().unwrap()[0].protocol,
        Some(crd::ListenerProtocol::HTTPS)
    );
    let by_name = params[1].to_core().unwrap();
    assert_eq!(
        by_name.spec.load_balancer_name.as_deref(),
        Some("shop-public")
    );
    assert_eq!(
        by_name.spec.subnets.unwrap().ids,
        ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
    );
    assert_eq!(
        params[1]
            .spec
            .prefix_lists_ids_legacy
            .as_ref()
            .unwrap()
            .len(),
        1
    );
}

// ---- Dockerfile and release build -----------------------------------------------------------

const RELEASE_BUILD: &str = "cargo build --release --locked --bin aws-lb-operator";

/// The Dockerfile's instructions, continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    instructions("Dockerfile")
}

/// The instructions of the Dockerfile at `path`, continuation lines joined.
fn instructions(path: &str) -> Vec<(String, String)> {
    let text = read(path);
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_builds_with_the_release_script() {
    let script = read("scripts/build-release.sh");
    let commands: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("cargo "))
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(
        commands,
        [format!("exec {RELEASE_BUILD} \"$@\"")],
        "scripts/build-release.sh must run exactly the release build"
    );

    let steps = dockerfile();
    let runs: Vec<&String> = steps
        .iter()
        .filter(|(op, _)| op == "RUN")
        .map(|(_, a)| a)
        .collect();
    for run in &runs {
        assert!(
            !run.contains("cargo build") && !run.contains("cargo install"),
            "the Dockerfile builds only through scripts/build-release.sh, not: RUN {run}"
        );
    }
    let builds = runs
        .iter()
        .filter(|r| r.contains("scripts/build-release.sh"))
        .count();
    assert_eq!(builds, 2, "a dependency layer and the operator: {runs:#?}");
    let last = runs.last().unwrap();
    assert!(
        last.contains("scripts/build-release.sh")
            && last.contains("target/release/aws-lb-operator"),
        "the last RUN builds and takes the binary: {last}"
    );

    // Compiled with the toolchain Cargo.toml asks for.
    let cargo = read("Cargo.toml");
    let rust_version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .unwrap()
        .trim_end_matches('"');
    let froms: Vec<&String> = steps
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        froms,
        [
            &format!("rust:{rust_version}-bookworm AS build"),
            &"gcr.io/distroless/cc-debian12:nonroot".to_owned()
        ]
    );
    // Every workspace manifest and every declared bench/test target exist in the dependency
    // layer, or cargo refuses to build it.
    let copies: Vec<&String> = steps
        .iter()
        .filter(|(op, _)| op == "COPY")
        .map(|(_, a)| a)
        .collect();
    for manifest in ["core/Cargo.toml", "tools/apiserver/Cargo.toml"] {
        assert!(
            copies.contains(&&format!("{manifest} {manifest}")),
            "{copies:?}"
        );
    }
    // The dev API server's code never enters the image (only its manifest, for the workspace).
    assert!(
        !copies.iter().any(|c| c.starts_with("tools/apiserver/src")),
        "{copies:?}"
    );
    let stubs = runs.iter().find(|r| r.contains("mkdir")).unwrap();
    for target in [
        "src/main.rs",
        "src/lib.rs",
        "core/src/lib.rs",
        "tests/it/main.rs",
        "tools/apiserver/src/lib.rs",
        "tools/apiserver/src/main.rs",
    ] {
        assert!(stubs.contains(target), "no stub for {target}: {stubs}");
    }
    for (manifest, dir) in [("Cargo.toml", ""), ("core/Cargo.toml", "core/")] {
        let text = read(manifest);
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "[[bench]]" {
                let name = lines.next().unwrap().trim();
                let name = name.trim_start_matches("name = \"").trim_end_matches('"');
                let stub = format!("{dir}benches/{name}.rs");
                assert!(stubs.contains(&stub), "no stub for bench {stub}: {stubs}");
            }
        }
    }

    // Runtime: non-root, no shell to run, the binary as entrypoint and `run` by default.
    let last_of = |op: &str| {
        steps
            .iter()
            .rev()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
    };
    assert_eq!(last_of("USER"), Some("65532:65532"));
    assert_eq!(last_of("ENTRYPOINT"), Some(r#"["/aws-lb-operator"]"#));
    assert_eq!(last_of("CMD"), Some(r#"["run"]"#));
    let ignore = read(".dockerignore");
    for path in [
        "!Cargo.toml",
        "!Cargo.lock",
        "!core/src/",
        "!src/",
        "!scripts/build-release.sh",
    ] {
        assert!(
            ignore.lines().any(|l| l == path),
            ".dockerignore must let {path} in"
        );
    }
}

#[test]
fn binary_reports_its_version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("aws-lb-operator {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ---- The image built offline (Dockerfile.scratch, scripts/package-image.sh) -----------------

#[test]
fn offline_image_runs_like_the_dockerfile_image() {
    let scratch = instructions("Dockerfile.scratch");
    let ops: Vec<&str> = scratch.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "FROM",
            "ARG",
            "COPY",
            "LABEL",
            "USER",
            "ENV",
            "EXPOSE",
            "ENTRYPOINT",
            "CMD"
        ],
        "one stage FROM scratch, no RUN: {scratch:#?}"
    );
    assert_eq!(scratch[0].1, "scratch");
    assert_eq!(scratch[2].1, "rootfs/ /");
    let full = dockerfile();
    for op in ["USER", "ENV", "EXPOSE", "ENTRYPOINT", "CMD"] {
        let last = |steps: &[(String, String)]| {
            steps
                .iter()
                .rev()
                .find(|(o, _)| o == op)
                .map(|(_, a)| a.clone())
        };
        assert_eq!(
            last(&scratch),
            last(&full),
            "{op} differs from the Dockerfile's"
        );
    }
}

fn package_image(args: &[&str]) -> std::process::Output {
    Command::new(repo().join("scripts/package-image.sh"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn package_image_errors_say_what_to_do() {
    let bin = BIN;
    let not_pem = std::env::temp_dir().join(format!("not-a-cert-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "hello\n").unwrap();
    let not_pem = not_pem.to_str().unwrap().to_owned();
    let cases: &[(&[&str], String)] = &[
        (
            &["--binary", "/nonexistent/aws-lb-operator"],
            "no executable binary at /nonexistent/aws-lb-operator: build it with \
             scripts/build-release.sh, or pass --binary"
                .to_owned(),
        ),
        (
            &["--binary", bin, "--ca-bundle", "/nonexistent/ca.crt"],
            "no CA bundle at /nonexistent/ca.crt: install Debian's ca-certificates, or pass \
             --ca-bundle"
                .to_owned(),
        ),
        (
            &["--binary", bin, "--extra-ca", &not_pem],
            format!("--extra-ca {not_pem} is not a PEM certificate"),
        ),
        (&["--tag"], "--tag needs a value".to_owned()),
        (&["--push"], "unknown argument: --push".to_owned()),
    ];
    for (args, want) in cases {
        let out = package_image(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("scripts/package-image.sh: {want}\n"),
            "{args:?}"
        );
    }
    std::fs::remove_file(&not_pem).unwrap();
}

/// Without buildah: the build context holds the binary, exactly the libraries `ldd` names, the
/// CA bundle and the user, all read-only.
#[test]
fn package_image_context_holds_exactly_the_runtime() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("aws-lb-operator-context-{}", std::process::id()));
    let out = package_image(&["--binary", BIN, "--context-only", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dir.join("rootfs");

    let ldd = Command::new("ldd").arg(BIN).output().unwrap();
    let mut want: BTreeSet<String> = String::from_utf8(ldd.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('/')))
        .map(str::to_owned)
        .collect();
    assert!(
        want.iter().any(|l| l.contains("libc.so")),
        "ldd named no libc: {want:?}"
    );
    for f in [
        "/aws-lb-operator",
        "/etc/passwd",
        "/etc/group",
        "/etc/ssl/certs/ca-certificates.crt",
    ] {
        want.insert(f.to_owned());
    }
    let mut got = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o555, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::symlink_metadata(&p).unwrap().permissions().mode() & 0o777;
                assert!(mode == 0o555 || mode == 0o444, "{}: {mode:o}", p.display());
                got.insert(format!("/{}", p.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert_eq!(got, want);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert_eq!(
        std::fs::read(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile.scratch")).unwrap(),
        read("Dockerfile.scratch")
    );
    Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&dir)
        .status()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Helm chart -----------------------------------------------------------------------------

/// Flags of `run` the chart has no value for, and why.
const NO_VALUE: &[(&str, &str)] = &[(
    "kubeconfig",
    "in the cluster the operator uses its ServiceAccount",
)];

/// `--dns-zone-type` → `dnsZoneType`.
fn camel(long: &str) -> String {
    // Named as the AWS Load Balancer Controller's chart names it.
    match long {
        "default-ssl-policy" => return "defaultSSLPolicy".to_owned(),
        "disable-restricted-sg-rules" => return "disableRestrictedSecurityGroupRules".to_owned(),
        _ => {}
    }
    let mut out = String::new();
    let mut upper = false;
    for c in long.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `run`'s flags (and the global `--log-format`): long name → default values.
fn run_flags() -> BTreeMap<String, Vec<String>> {
    let mut cli = aws_lb_operator::cli::Cli::command();
    cli.build(); // fills in implied defaults (`false` for SetTrue flags)
    let run = cli.find_subcommand("run").unwrap_or_else(|| {
        panic!("aws-lb-operator has no `run` subcommand yet: the chart has nothing to run")
    });
    run.get_arguments()
        .chain(cli.get_arguments())
        .filter_map(|a| {
            let long = a.get_long()?;
            if ["help", "version"].contains(&long) || NO_VALUE.iter().any(|(n, _)| *n == long) {
                return None;
            }
            let defaults = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            Some((long.to_owned(), defaults))
        })
        .collect()
}

/// A value as the defaults clap reports it: scalars as text, lists item by item.
fn as_defaults(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if s.is_empty() => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(a) => a.iter().flat_map(as_defaults).collect(),
        Value::Null => vec![],
        // A map (defaultTags) is a list of key=value pairs.
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", as_defaults(v).join(",")))
            .collect(),
    }
}

/// values.yaml's run-flag section, as values.
fn flag_values() -> serde_json::Map<String, Value> {
    let text = read(&format!("{CHART}/values.yaml"));
    let (section, _) = text
        .split_once("# ---- end of run flags ----")
        .expect("values.yaml marks the end of its run flags");
    match serde_saphyr::from_str::<Value>(section).unwrap() {
        Value::Object(m) => m,
        other => panic!("values.yaml's flag section is not a map: {other}"),
    }
}

#[test]
fn chart_values_hold_every_run_flag_with_its_default() {
    let flags = run_flags();
    let values = flag_values();
    let want: BTreeSet<String> = flags.keys().map(|l| camel(l)).collect();
    let have: BTreeSet<String> = values.keys().cloned().collect();
    assert_eq!(
        have, want,
        "values.yaml's flag section must have one value per `run` flag (camelCase)"
    );
    for (long, defaults) in &flags {
        let key = camel(long);
        let value = &values[&key];
        // Flags without a default (options, lists) default to "" / [] in the chart.
        let bool_flag = defaults == &["false".to_owned()] || defaults == &["true".to_owned()];
        let mut want_defaults = defaults.clone();
        if !bool_flag && want_defaults.iter().all(String::is_empty) {
            want_defaults.clear();
        }
        assert_eq!(
            as_defaults(value),
            want_defaults,
            "values.yaml {key} must default to --{long}'s default"
        );
    }
    // The chart's value for every flag reaches the Deployment (deploy/render.py checks the
    // rendered args); here: some ci/ values file sets each to something else.
    let mut set_elsewhere = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join(CHART).join("ci")).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (key, value) in doc.as_object().unwrap() {
            if values.get(key).is_some_and(|d| d != value) {
                set_elsewhere.insert(key.clone());
            }
        }
    }
    let unset: Vec<&String> = want
        .iter()
        .filter(|k| !set_elsewhere.contains(*k))
        .collect();
    assert!(
        unset.is_empty(),
        "no {CHART}/ci/*-values.yaml sets {unset:?} to a non-default value"
    );
    let template = read(&format!("{CHART}/templates/deployment.yaml"));
    for long in flags.keys() {
        assert!(
            template.contains(&format!("--{long}")),
            "deployment.yaml never passes --{long}"
        );
    }
}

/// The objects of the plain install.
fn manifest() -> Vec<Value> {
    yaml_docs(MANIFEST)
}

fn object<T: serde::de::DeserializeOwned>(kind: &str) -> T {
    let docs = manifest();
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{MANIFEST}: one {kind} expected");
    serde_json::from_value(found[0].clone()).unwrap()
}

#[test]
fn plain_install_runs_the_flag_defaults() {
    let deployment: Deployment = object("Deployment");
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "run");
    // The CLI accepts the rendered args, and they mean exactly the defaults.
    let parse = |args: &[String]| {
        let mut argv = vec!["aws-lb-operator".to_owned()];
        argv.extend_from_slice(args);
        format!(
            "{:?}",
            aws_lb_operator::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{e}"))
        )
    };
    assert_eq!(
        parse(&args),
        parse(&["run".to_owned(), "--cluster-name=my-cluster".to_owned()]),
        "the chart's default args must mean the flags' defaults"
    );
}

#[test]
fn plain_install_deployment_is_locked_down() {
    let manifest_text = read(MANIFEST);
    assert!(
        manifest_text.starts_with("# aws-lb-operator: a plain install"),
        "{MANIFEST} is generated by deploy/check.sh --update"
    );
    let d: Deployment = object("Deployment");
    assert_eq!(d.metadata.namespace.as_deref(), Some("kube-system"));
    let spec = d.spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let c = &pod.containers[0];
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_owned()]));
    assert!(c
        .args
        .as_ref()
        .unwrap()
        .contains(&"--leader-elect=true".to_owned()));
    let env = c.env.clone().unwrap();
    let pod_ns = env.iter().find(|e| e.name == "POD_NAMESPACE").unwrap();
    assert_eq!(
        pod_ns
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "metadata.namespace"
    );
    let port = &c.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("metrics"), 8080)
    );
    for (probe, path) in [
        (&c.liveness_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
    ] {
        let get = probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.port, IntOrString::String("metrics".into()));
    }
    let res = c.resources.clone().unwrap();
    let q =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
         k: &str| { m.as_ref().unwrap()[k].0.clone() };
    assert_eq!(q(&res.requests, "memory"), "256Mi");
    assert_eq!(q(&res.requests, "cpu"), "100m");
    assert_eq!(q(&res.limits, "memory"), "512Mi");

    let kinds: BTreeSet<String> = manifest()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = [
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "IngressClass",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(kinds, want, "{MANIFEST}: the default install's kinds");
    let pdb = manifest()
        .into_iter()
        .find(|d| d["kind"] == "PodDisruptionBudget")
        .unwrap();
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let class = manifest()
        .into_iter()
        .find(|d| d["kind"] == "IngressClass")
        .unwrap();
    assert_eq!(class["metadata"]["name"], "alb");
    assert_eq!(class["spec"]["controller"], "ingress.k8s.aws/alb");
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| Some(s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
    PolicyRule {
        api_groups: v(groups),
        resources: v(resources),
        verbs: verbs.iter().map(|x| (*x).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

#[test]
fn plain_install_rbac_is_exactly_the_controllers_calls() {
    let role: ClusterRole = object("ClusterRole");
    let want = vec![
        rule(
            &["networking.k8s.io"],
            &["ingresses"],
            &["list", "watch", "patch"],
        ),
        rule(&["networking.k8s.io"], &["ingresses/status"], &["patch"]),
        rule(
            &["networking.k8s.io"],
            &["ingressclasses"],
            &["list", "watch"],
        ),
        rule(&[""], &["services"], &["list", "watch", "patch"]),
        rule(&[""], &["services/status"], &["patch"]),
        rule(&[""], &["nodes"], &["list", "watch"]),
        rule(&[""], &["secrets"], &["list", "watch"]),
        rule(&[""], &["namespaces"], &["list", "watch"]),
        rule(
            &["discovery.k8s.io"],
            &["endpointslices"],
            &["list", "watch"],
        ),
        rule(
            &["elbv2.k8s.aws"],
            &["ingressclassparams"],
            &["list", "watch"],
        ),
        rule(
            &["elbv2.k8s.aws"],
            &["targetgroupbindings"],
            &["list", "watch", "patch"],
        ),
        rule(
            &["elbv2.k8s.aws"],
            &["targetgroupbindings/status"],
            &["patch"],
        ),
        rule(&[""], &["configmaps"], &["get", "patch", "delete"]),
        rule(
            &["gateway.networking.k8s.io"],
            &[
                "httproutes",
                "grpcroutes",
                "referencegrants",
                "tcproutes",
                "udproutes",
                "tlsroutes",
                "listenersets",
            ],
            &["list", "watch"],
        ),
        rule(
            &["gateway.networking.k8s.io"],
            &["gatewayclasses", "gateways"],
            &["list", "watch", "patch"],
        ),
        rule(
            &["gateway.networking.k8s.io"],
            &[
                "gatewayclasses/status",
                "gateways/status",
                "httproutes/status",
                "grpcroutes/status",
                "tcproutes/status",
                "udproutes/status",
                "tlsroutes/status",
                "listenersets/status",
            ],
            &["patch"],
        ),
        rule(
            &["gateway.k8s.aws"],
            &["loadbalancerconfigurations"],
            &["list", "watch", "patch"],
        ),
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ];
    assert_eq!(role.rules.unwrap(), want);
    let lease: Role = object("Role");
    assert_eq!(lease.metadata.namespace.as_deref(), Some("kube-system"));
    assert_eq!(
        lease.rules.unwrap(),
        vec![rule(
            &["coordination.k8s.io"],
            &["leases"],
            &["get", "create", "update"]
        )]
    );
}

#[test]
fn chart_version_follows_the_crate() {
    let chart: Value = serde_saphyr::from_str(&read(&format!("{CHART}/Chart.yaml"))).unwrap();
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart["name"], "aws-lb-operator");
}
