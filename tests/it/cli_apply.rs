//! `aws-lb-operator diff`, `apply` and `show` as users run them: the standard AWS environment
//! variables, the JSON contract, the text summary line and the exit statuses.

use serde_json::Value;

use crate::localstack::{clients, create_subnet, create_vpc, examples, run_operator, unique};

const REGION: &str = "me-south-1";

fn run(args: &[&str]) -> (i32, String, String) {
    run_operator(REGION, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_diff_and_show_through_the_binary() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.71.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &c,
            &vpc,
            &format!("10.71.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[("kubernetes.io/role/elb", "1")],
        )
        .await;
    }
    let cluster = unique("cli-apply");
    let seed = examples("seed");
    let common = [
        "-f",
        seed.as_str(),
        "--cluster-name",
        cluster.as_str(),
        "--vpc-id",
        vpc.as_str(),
    ];

    // diff before anything exists: everything to create, nothing written.
    let (code, out, err) = run(&[&["diff"], &common[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("cluster-wide\n  + create backend security group k8s-traffic-"),
        "{out}"
    );
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("Plan: 12 to create, 2 to modify, 0 to delete, 4 target registrations, 0 deregistrations, 0 DNS record changes; "), "{last}");
    assert!(last.ends_with(" AWS calls (0 mutating)."), "{last}");

    // apply -o json: the contract.
    let (code, out, err) = run(&[&["apply"], &common[..], &["-o", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 18);
    assert!(changes.iter().all(|c| c["outcome"] == "done"), "{out}");
    assert_eq!(changes[0]["op"]["operation"], "ec2.CreateSecurityGroup");
    let calls = doc["awsCalls"].as_object().unwrap();
    assert_eq!(calls["elbv2.CreateLoadBalancer"], 1);
    assert_eq!(calls["elbv2.CreateRule"], 4);
    assert!(doc.get("errors").is_none() && doc.get("stackErrors").is_none());

    // Unchanged: nothing to do, said in one line.
    let (code, out, err) = run(&[&["apply"], &common[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Applied: 0 to create, 0 to modify, 0 to delete, 0 target registrations, 0 deregistrations, 0 DNS record changes; "), "{out}");
    assert!(out.trim_end().ends_with("AWS calls (0 mutating)."), "{out}");

    // show reads it back.
    let (code, out, err) = run(&["show", "--cluster-name", &cluster, "--vpc-id", &vpc]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("stack shop/storefront\n  load balancer k8s-shop-storefro-"),
        "{out}"
    );
    assert!(out.contains("      rule   1: host-header shop.example.com, path-pattern /api/status -> forward to k8s-shop-status-"), "{out}");
    assert!(
        out.contains("    targets: 10.0.1.17:3000, 10.0.2.23:3000\n"),
        "{out}"
    );

    // An object with errors: reported on stderr, exit 2, and prune refuses to run.
    let grouped = examples("grouped");
    let (code, _out, err) = run(&[
        "apply",
        "-f",
        &grouped,
        "-f",
        &seed,
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
        "--prune",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error: ingress mall/legacy-search: annotation alb.ingress.kubernetes.io/healthcheck-interval-seconds has invalid value \"fast\""), "{err}");
    assert!(err.contains("note: not pruning: 1 object(s) have errors, and a stack whose objects all failed would look unused; fix them and apply again"), "{err}");

    // prune with the seed alone deletes the grouped stack and keeps the seed.
    let (code, out, err) = run(&[&["apply"], &common[..], &["--prune"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("stack shop\n  - delete load balancer k8s-shop-"),
        "{out}"
    );
    assert!(!out.contains("stack shop/storefront"), "{out}");
}

#[test]
fn unreadable_manifests_exit_1_with_the_reason() {
    let (code, _, err) = run(&[
        "diff",
        "-f",
        "/nonexistent/manifests",
        "--cluster-name",
        "x",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "error: cannot read /nonexistent/manifests: No such file or directory (os error 2)"
    );
}

#[test]
fn in_tree_nlb_services_are_taken_only_with_the_flag() {
    let dir = std::env::temp_dir().join(format!("aws-lb-in-tree-{}", crate::localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: legacy, namespace: web, uid: 11111111-2222-4333-8444-555555555555, annotations: {service.beta.kubernetes.io/aws-load-balancer-type: nlb}}\nspec: {type: LoadBalancer, ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]}\n",
    )
    .unwrap();
    let path = dir.to_string_lossy().into_owned();
    let (code, out, err) = run(&["plan", "-f", &path, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"].as_array().unwrap().len(), 0);
    assert!(err.contains("service web/legacy skipped"), "{err}");

    let (code, out, err) = run(&[
        "plan",
        "-f",
        &path,
        "-o",
        "json",
        "--manage-in-tree-nlb",
        "--load-balancer-class",
        "example.com/other",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["stacks"][0]["id"], "service:web/legacy");
    assert_eq!(doc["stacks"][0]["loadBalancer"]["type"], "network");
}
