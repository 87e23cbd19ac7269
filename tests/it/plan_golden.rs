//! Golden tests of `plan`: the real binary on each example, compared with its checked-in
//! `tests/golden/<example>.plan.json` (kept out of the example directories so that
//! `kubectl apply -f examples/<example>` and `plan -f` read only manifests). `UPDATE_GOLDEN=1`
//! rewrites the expected files.
use std::path::{Path, PathBuf};
use std::process::Command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

// Test helpers: failing loudly is the point.
#[allow(clippy::expect_used)]
fn plan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"))
        .arg("plan")
        .args(args)
        .output()
        .expect("run aws-lb-operator plan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[allow(clippy::expect_used, clippy::panic)]
fn golden(name: &str, want_exit: i32) {
    let dir = example(name);
    let dir_arg = dir.to_string_lossy().into_owned();
    let (code, stdout, stderr) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir_arg]);
    assert_eq!(
        code, want_exit,
        "{name}: exit status; stderr:\n{stderr}\nstdout:\n{stdout}"
    );
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.plan.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &stdout).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{name}: cannot read {}: {e} (run with UPDATE_GOLDEN=1)",
            expected_path.display()
        )
    });
    if stdout != expected {
        let first = stdout
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| stdout.lines().count().min(expected.lines().count()));
        let got_line = stdout.lines().nth(first).unwrap_or("<end of output>");
        let want_line = expected.lines().nth(first).unwrap_or("<end of file>");
        panic!(
            "{name}: plan differs from {} at line {}:\n  expected: {want_line}\n  got:      {got_line}\n\
             review with: cargo run -- plan -o json --cluster-name demo -f examples/{name} | diff tests/golden/{name}.plan.json -\n\
             accept with: UPDATE_GOLDEN=1 cargo test --test it plan_golden",
            expected_path.display(),
            first + 1
        );
    }
}

#[test]
fn seed_example_matches_golden_and_exits_0() {
    golden("seed", 0);
}

#[test]
fn grouped_example_matches_golden_and_exits_2() {
    golden("grouped", 2);
}

#[test]
fn ingress_proxy_example_matches_golden_and_exits_0() {
    golden("ingress-proxy", 0);
}

#[test]
fn gateway_example_matches_golden_and_exits_0() {
    golden("gateway", 0);
}

/// The Gateway example: one ALB stack named and tagged as the AWS Load Balancer Controller's
/// Gateway support names them, the cross-namespace backend permitted by its ReferenceGrant.
#[test]
fn gateway_example_plans_one_alb_with_lbc_gateway_names() {
    let dir = example("gateway").to_string_lossy().into_owned();
    let (code, stdout, stderr) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let stack = &plan["stacks"][0];
    assert_eq!(stack["id"], "gateway:web/edge");
    assert_eq!(
        stack["loadBalancer"]["tags"]["gateway.k8s.aws.alb/stack"],
        "web/edge"
    );
    // printf 'demo2a9d6c1e-8f4b-4d3a-b7e5-0c1f2a3b4c5dinternet-facing' | sha256sum
    assert_eq!(stack["loadBalancer"]["name"], "k8s-web-edge-6ebf380b5e");
    let tgs: Vec<&str> = stack["targetGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        tgs.contains(&"web/edge:team-api-api:HTTPRoute-data-catalog:80"),
        "{tgs:?}"
    );
    assert_eq!(plan["errors"].as_array().unwrap().len(), 0);
}

/// The NLB Gateway of the example: an NLB stack tagged as the AWS Load Balancer Controller's
/// NLB Gateway support tags it, one listener per Gateway listener, each forwarding to its route's
/// one target group (TCP, UDP, and TLS terminated with the configuration's certificate).
#[test]
fn gateway_example_plans_one_nlb_with_lbc_nlb_gateway_names() {
    let dir = example("gateway").to_string_lossy().into_owned();
    let (code, stdout, stderr) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir]);
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let stack = &plan["stacks"][1];
    assert_eq!(stack["id"], "nlb-gateway:data/db-edge");
    let lb = &stack["loadBalancer"];
    assert_eq!(lb["type"], "network");
    assert_eq!(lb["tags"]["gateway.k8s.aws.nlb/stack"], "data/db-edge");
    // printf 'demo4e8b1f2a-6c3d-4b5e-9f0a-1b2c3d4e5f60internal' | sha256sum
    assert_eq!(lb["name"], "k8s-data-dbedge-43b3d353a8");
    let listeners: Vec<(u64, &str, &str)> = stack["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["port"].as_u64().unwrap(),
                l["protocol"].as_str().unwrap(),
                l["defaultActions"][0]["targetGroups"][0]["id"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listeners,
        vec![
            (53, "UDP", "data/db-edge:data-dns:UDPRoute-data-dns:53"),
            (
                5432,
                "TCP",
                "data/db-edge:data-postgres:TCPRoute-data-postgres:5432"
            ),
            (
                5433,
                "TLS",
                "data/db-edge:data-postgres-tls:TLSRoute-data-postgres:5432"
            ),
        ]
    );
}

/// A route whose backend is missing is an error of that route alone (exit 2); its siblings on
/// the Gateway are still planned.
#[test]
fn gateway_route_with_a_missing_backend_exits_2_and_the_others_are_planned() {
    let dir = std::env::temp_dir().join(format!("plan-gateway-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["gateway.yaml", "routes.yaml", "backends.yaml"] {
        std::fs::copy(example("gateway").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(
        dir.join("broken.yaml"),
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: broken, namespace: web}\n\
         spec:\n  parentRefs: [{name: edge, sectionName: https}]\n  hostnames: [broken.example.com]\n\
         \x20 rules: [{backendRefs: [{name: nowhere, port: 80}]}]\n",
    )
    .unwrap();
    let dir_arg = dir.to_string_lossy().into_owned();
    let (code, stdout, stderr) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir_arg]);
    assert_eq!(code, 2, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        plan["errors"],
        serde_json::json!([{
            "object": "httproute web/broken",
            "message": "httproute web/broken: spec.rules[0].backendRefs[0] refers to service web/nowhere, which was not found"
        }])
    );
    let rules = plan["stacks"][0]["listeners"][1]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules.len(),
        6,
        "the five rules of the example and the broken route's 500"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grouped_example_reports_the_excluded_member_and_still_builds_the_group() {
    let dir = example("grouped").to_string_lossy().into_owned();
    let (code, stdout, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir]);
    assert_eq!(code, 2);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let errors = plan["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["object"], "ingress mall/legacy-search");
    assert_eq!(plan["stacks"][0]["id"], "shop");
    let rules = plan["stacks"][0]["listeners"][1]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(
        rules.len(),
        5,
        "the four valid members' rules are on HTTPS:443"
    );
}

#[test]
fn text_and_yaml_outputs() {
    let dir = example("seed").to_string_lossy().into_owned();
    let (code, text, _) = plan(&["--cluster-name", "demo", "-f", &dir]);
    assert_eq!(code, 0);
    assert!(text.starts_with("stack shop/storefront\n"), "{text}");
    assert!(text.contains("listener HTTP:80"), "{text}");
    let (code, yaml, _) = plan(&["-o", "yaml", "--cluster-name", "demo", "-f", &dir]);
    assert_eq!(code, 0);
    let (_, json, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", &dir]);
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(from_yaml, from_json, "yaml is the json contract");
}

#[test]
fn unreadable_input_exits_1() {
    let (code, _, stderr) = plan(&["-f", "/nonexistent/manifests"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/manifests"),
        "{stderr}"
    );
}

/// `wafv2-acl-arn`, `shield-advanced-protection` and `transforms.<name>` in `plan`'s text and
/// JSON; without them the load balancer has neither key (nothing managed).
#[test]
fn web_acl_and_shield_are_planned_in_text_and_json() {
    let dir = std::env::temp_dir().join(format!("aws-lb-plan-waf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let acl = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop/0a1b";
    let manifest = |annotations: &str| {
        format!(
            "apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/target-type: ip
{annotations}spec:
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
"
        )
    };
    let file = dir.join("ingress.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(
        &file,
        manifest(&format!(
            "    alb.ingress.kubernetes.io/wafv2-acl-arn: {acl}\n    alb.ingress.kubernetes.io/shield-advanced-protection: \"true\"\n"
        )),
    )
    .unwrap();
    let (code, text, stderr) = plan(&["--cluster-name", "demo", "-f", f]);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains(&format!("\n    web ACL: {acl}\n")), "{text}");
    assert!(
        text.contains("\n    shield advanced protection: on\n"),
        "{text}"
    );
    let (_, json, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let lb = &v["stacks"][0]["loadBalancer"];
    assert_eq!(lb["wafv2WebAcl"], serde_json::json!({"associate": acl}));
    assert_eq!(lb["shieldAdvancedProtection"], true);

    std::fs::write(
        &file,
        manifest("    alb.ingress.kubernetes.io/wafv2-acl-arn: none\n"),
    )
    .unwrap();
    let (_, text, _) = plan(&["--cluster-name", "demo", "-f", f]);
    assert!(text.contains("\n    web ACL: none (removed)\n"), "{text}");
    let (_, json, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["stacks"][0]["loadBalancer"]["wafv2WebAcl"],
        "disassociate"
    );

    std::fs::write(
        &file,
        manifest("    alb.ingress.kubernetes.io/transforms.web: '[{\"type\":\"url-rewrite\",\"urlRewriteConfig\":{\"rewrites\":[{\"regex\":\"^/api/(.*)$\",\"replace\":\"/$1\"}]}}]'\n"),
    )
    .unwrap();
    let (code, text, stderr) = plan(&["--cluster-name", "demo", "-f", f]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("\n               rewrite url ^/api/(.*)$ => /$1\n"),
        "{text}"
    );
    let (_, json, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["stacks"][0]["listeners"][0]["rules"][0]["transforms"],
        serde_json::json!([{"type": "url-rewrite", "rewrites": [{"regex": "^/api/(.*)$", "replace": "/$1"}]}])
    );

    std::fs::write(&file, manifest("")).unwrap();
    let (_, json, _) = plan(&["-o", "json", "--cluster-name", "demo", "-f", f]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let lb = v["stacks"][0]["loadBalancer"].as_object().unwrap();
    assert!(!lb.contains_key("wafv2WebAcl") && !lb.contains_key("shieldAdvancedProtection"));
    std::fs::remove_dir_all(&dir).unwrap();
}
