//! `aws-lb-operator discover` end to end against LocalStack: flags, the standard endpoint
//! variables, JSON output and the error path.
use std::process::Command;

use serde_json::Value;

use crate::localstack::{clients, create_alb, create_subnet, create_vpc, endpoint, unique};

const BIN: &str = env!("CARGO_BIN_EXE_aws-lb-operator");

fn base_command(region: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[tokio::test]
async fn discover_reports_owned_load_balancers_and_subnets_as_json() {
    let region = "sa-east-1";
    let c = clients(region).await;
    let vpc = create_vpc(&c, "10.41.0.0/16").await;
    let s1 = create_subnet(
        &c,
        &vpc,
        "10.41.1.0/24",
        "sa-east-1a",
        &[("kubernetes.io/role/elb", "1")],
    )
    .await;
    let s2 = create_subnet(
        &c,
        &vpc,
        "10.41.2.0/24",
        "sa-east-1b",
        &[("kubernetes.io/role/elb", "1")],
    )
    .await;
    let subnets = vec![s1.clone(), s2.clone()];
    let cluster = unique("cli");
    let ours = format!("{cluster}-ours");
    create_alb(&c, &ours, &subnets, &[("elbv2.k8s.aws/cluster", &cluster)]).await;
    create_alb(&c, &format!("{cluster}-foreign"), &subnets, &[]).await;

    // Flag form.
    let out = base_command(region)
        .args([
            "discover",
            "--cluster-name",
            &cluster,
            "--vpc-id",
            &vpc,
            "-o",
            "json",
            "--aws-endpoint-url",
        ])
        .arg(endpoint())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["loadBalancers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [ours.as_str()]);
    let subnet_ids: Vec<&str> = v["internetFacingSubnets"]["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(subnet_ids, [s1.as_str(), s2.as_str()]);
    assert_eq!(v["region"], region);
    assert!(v["awsCalls"]["elbv2.DescribeTags"].as_u64().unwrap() >= 1);

    // Service-specific standard variables win over the general one (which points nowhere).
    let out = base_command(region)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", endpoint())
        .env("AWS_ENDPOINT_URL_EC2", endpoint())
        .args(["discover", "--cluster-name", &cluster, "--vpc-id", &vpc])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("load balancers owned: 1\n  {ours} application")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "subnets for internet-facing: 2\n  {s1} sa-east-1a"
        )),
        "{text}"
    );
}

#[test]
fn discover_against_an_unreachable_endpoint_fails_with_a_typed_message() {
    let out = base_command("us-east-1")
        .args([
            "discover",
            "--cluster-name",
            "x",
            "--aws-max-attempts",
            "1",
            "--aws-endpoint-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: elbv2.DescribeLoadBalancers failed: ConnectionError"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
