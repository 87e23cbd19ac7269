//! `plan` on inputs AWS would refuse: exit 2, the exact message on the object at fault, and
//! everything else still translated (issue 16, translation half).
use std::path::PathBuf;
use std::process::Command;

/// A manifest file of its own, so parallel tests never share one.
fn manifest(name: &str, yaml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-operator-plan-errors-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("manifest.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn plan_json(path: &PathBuf) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"))
        .args(["plan", "-o", "json", "--cluster-name", "demo", "-f"])
        .arg(path)
        .output()
        .expect("run aws-lb-operator plan");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("plan -o json is JSON ({e}); stdout:\n{stdout}\nstderr:\n{stderr}")
    });
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// One good Ingress and one good NLB Service, plus the objects in `bad`.
fn with_good_objects(bad: &str) -> String {
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: alb}}
spec: {{controller: ingress.k8s.aws/alb}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  type: ClusterIP
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: good
  namespace: shop
  annotations: {{alb.ingress.kubernetes.io/target-type: ip}}
spec:
  ingressClassName: alb
  rules:
  - http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: tcp, namespace: shop}}
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports: [{{name: tcp, port: 5000, targetPort: 5000, nodePort: 30500}}]
---
{bad}"#
    )
}

fn errors(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["object"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn stack_ids(plan: &serde_json::Value) -> Vec<String> {
    plan["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn inputs_aws_refuses_exit_2_with_the_message_on_their_object() {
    let bad = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: slow
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/healthcheck-interval-seconds: "10"
    alb.ingress.kubernetes.io/healthcheck-timeout-seconds: "30"
spec:
  ingressClassName: alb
  rules:
  - host: slow.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: by-ip
  namespace: shop
spec:
  ingressClassName: alb
  rules:
  - host: 10.0.0.1
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: tls
  namespace: shop
  annotations: {service.beta.kubernetes.io/aws-load-balancer-ssl-cert: my-cert}
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports: [{name: https, port: 443, targetPort: 8443, nodePort: 30443}]
"#;
    let path = manifest("refused", &with_good_objects(bad));
    let (code, plan, stderr) = plan_json(&path);
    assert_eq!(code, 2, "stderr:\n{stderr}");
    assert_eq!(
        errors(&plan),
        [
            (
                "ingress shop/by-ip".to_owned(),
                "ingress shop/by-ip: spec.rules[0].host has invalid value \"10.0.0.1\": expected a DNS name such as shop.example.com, not an IP address (a host rule matches the Host header by name; leave host empty to match any host); no load balancer is built for ingress shop/by-ip".to_owned()
            ),
            (
                "ingress shop/slow".to_owned(),
                "ingress shop/slow: annotation alb.ingress.kubernetes.io/healthcheck-timeout-seconds has invalid value \"30\": expected fewer seconds than annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds (10): ALB needs the health-check timeout below the interval; no load balancer is built for ingress shop/slow".to_owned()
            ),
            (
                "service shop/tls".to_owned(),
                "service shop/tls: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-cert has invalid value \"my-cert\": expected a comma-separated list of certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM); no load balancer is built for service shop/tls".to_owned()
            ),
        ]
    );
    // Only the objects at fault are missing.
    assert_eq!(stack_ids(&plan), ["shop/good", "service:shop/tcp"]);
}

#[test]
fn a_huge_host_is_cut_in_the_message() {
    let host = "a".repeat(10_000);
    let bad = format!(
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: huge, namespace: shop}}
spec:
  ingressClassName: alb
  rules:
  - host: {host}
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
"#
    );
    let path = manifest("huge", &with_good_objects(&bad));
    let (code, plan, stderr) = plan_json(&path);
    assert_eq!(code, 2, "stderr:\n{stderr}");
    let errs = errors(&plan);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].1,
        format!(
            "ingress shop/huge: spec.rules[0].host has invalid value \"{}…\" (10000 characters): expected a lower-case DNS name of at most 128 characters such as shop.example.com, or a wildcard such as *.example.com; no load balancer is built for ingress shop/huge",
            "a".repeat(200)
        )
    );
    assert!(
        stderr.len() < 2_000,
        "stderr repeats the cut message only: {} bytes",
        stderr.len()
    );
}

/// An annotation under LBC's or ExternalDNS's prefixes that is not implemented: a warning naming
/// it (stderr, the text plan, `warnings` in the JSON), exit 0, the object still planned.
#[test]
fn unimplemented_annotations_are_warnings_and_exit_0() {
    let extra = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: waf
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/waf-acl-id: web-acl-1
    external-dns.alpha.kubernetes.io/set-identifier: blue
spec:
  ingressClassName: alb
  rules:
  - http:
      paths: [{path: /waf, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
"#;
    let path = manifest("unsupported", &with_good_objects(extra));
    let (code, plan, stderr) = plan_json(&path);
    assert_eq!(code, 0, "{stderr}");
    assert!(errors(&plan).is_empty(), "{plan}");
    let want = [
        "ingress shop/waf: annotation alb.ingress.kubernetes.io/waf-acl-id is not implemented by aws-lb-operator and has no effect",
        "ingress shop/waf: annotation external-dns.alpha.kubernetes.io/set-identifier is not implemented by aws-lb-operator and has no effect",
    ];
    let warnings: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(warnings, want);
    for w in want {
        assert!(stderr.contains(&format!("warning: {w}\n")), "{stderr}");
    }
    assert!(stack_ids(&plan).contains(&"shop/waf".to_owned()), "{plan}");
    // Without such annotations the JSON has no `warnings` key (the contract is unchanged).
    let (_, clean, _) = plan_json(&manifest("supported", &with_good_objects("")));
    assert!(clean.get("warnings").is_none(), "{clean}");
}

/// An HTTPS port without `certificate-arn`: `plan` (no AWS) shows what is discovered in ACM when
/// applied, in text and in JSON, and exits 0.
#[test]
fn plan_shows_the_certificates_to_discover_without_reading_aws() {
    let path = manifest(
        "discovery",
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTPS": 443}]'
spec:
  tls: [{hosts: [shop.example.com]}]
  rules:
  - host: www.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
"#,
    );
    let (code, json, stderr) = plan_json(&path);
    assert_eq!(code, 0, "{stderr}");
    let listener = &json["stacks"][0]["listeners"][0];
    assert_eq!(listener["protocol"], "HTTPS");
    assert_eq!(listener.get("certificates"), None);
    assert_eq!(
        listener["certificateDiscovery"],
        serde_json::json!([{
            "object": "ingress shop/web",
            "hosts": ["shop.example.com", "www.example.com"],
            "after": 0
        }])
    );
    let out = Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"))
        .args(["plan", "--cluster-name", "demo", "-f"])
        .arg(&path)
        .output()
        .expect("run aws-lb-operator plan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "    certificates of ingress shop/web discovered in ACM when applied (plan reads no \
             AWS): hosts shop.example.com, www.example.com\n"
        ),
        "{text}"
    );
}

/// Listener attributes and prefix lists in `plan`'s text and JSON.
#[test]
fn plan_shows_listener_attributes_and_prefix_lists() {
    let path = manifest(
        "listener-attributes",
        r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/security-group-prefix-lists: pl-0a1b
    alb.ingress.kubernetes.io/listener-attributes.HTTP-80: routing.http.response.server.enabled=false
spec:
  rules:
  - http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
"#,
    );
    let (code, json, stderr) = plan_json(&path);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json["stacks"][0]["loadBalancer"]["inboundPrefixLists"],
        serde_json::json!(["pl-0a1b"])
    );
    assert_eq!(json["stacks"][0]["loadBalancer"].get("inboundCidrs"), None);
    assert_eq!(
        json["stacks"][0]["listeners"][0]["attributes"],
        serde_json::json!({"routing.http.response.server.enabled": "false"})
    );
    let out = Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"))
        .args(["plan", "--cluster-name", "demo", "-f"])
        .arg(&path)
        .output()
        .expect("run aws-lb-operator plan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("    security groups: managed, inbound from pl-0a1b\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  listener HTTP:80\n    attributes: routing.http.response.server.enabled=false\n"
        ),
        "{text}"
    );
}
