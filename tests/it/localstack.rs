//! Shared LocalStack harness: endpoint, clients with test credentials, VPC and subnet builders.
//!
//! Tests isolate themselves by AWS region (LocalStack keeps one backend per region) and by
//! cluster name, so they can run in parallel and count calls exactly.
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::time::Duration;

use aws_lb_operator::aws::{load_sdk_config, AwsClients, AwsOptions};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_sdk_elasticloadbalancingv2::types::Tag as ElbTag;

/// A short id unique to this test run, so names never collide with an earlier run's resources
/// in a LocalStack that stays up between runs.
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!(
            "{:06x}",
            (nanos ^ u128::from(std::process::id())) & 0xff_ffff
        )
    })
}

/// `prefix-<run id>`: a cluster or resource name unique to this run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", run_id())
}

/// Where LocalStack listens (`LOCALSTACK_ENDPOINT`, default `http://127.0.0.1:4566`).
pub fn endpoint() -> String {
    std::env::var("LOCALSTACK_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned())
}

/// The operator's binary with a clean environment pointed at LocalStack in `region`.
pub fn operator(region: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aws-lb-operator"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", region)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args);
    cmd
}

/// Runs [`operator`]: exit status, stdout, stderr.
pub fn run_operator(region: &str, args: &[&str]) -> (i32, String, String) {
    let out = operator(region, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The path of `examples/<name>`.
pub fn examples(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn assert_reachable(url: &str) {
    let hostport = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let addr = hostport
        .parse()
        .unwrap_or_else(|e| panic!("LOCALSTACK_ENDPOINT {url:?} is not host:port ({e})"));
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!(
            "LocalStack is not reachable at {url}: run the tests with scripts/test.sh, \
             or start it with localstack/start.sh"
        );
    }
}

/// Options pointing every service at LocalStack in `region`, with the default client-side rate
/// limits except Route 53's burst: the DNS suites make dozens of Route 53 calls in a row to test
/// batching (LocalStack has no quota), which the default burst of 5 would pace at 5/s (8 s of
/// waits in all, measured). The operator binary the CLI suites run keeps every default.
pub fn options(region: &str) -> AwsOptions {
    AwsOptions {
        region: Some(region.to_owned()),
        endpoint_url: Some(endpoint()),
        throttle: aws_lb_operator::aws::ThrottleConfig::defaults()
            .with_overrides("route53:.*=5:1000")
            .unwrap(),
        ..AwsOptions::default()
    }
}

/// Clients for `region` on LocalStack with test credentials, counting calls.
pub async fn clients(region: &str) -> AwsClients {
    clients_with(options(region)).await
}

/// Clients built from `opts` with LocalStack's test credentials.
pub async fn clients_with(opts: AwsOptions) -> AwsClients {
    if let Some(url) = &opts.endpoint_url {
        if url == &endpoint() {
            assert_reachable(url);
        }
    }
    let config = load_sdk_config(&opts)
        .await
        .into_builder()
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "localstack-tests"),
        ))
        .build();
    AwsClients::new(&config)
}

/// Clients in a LocalStack account of this run's own (LocalStack takes a 12-digit access key
/// id as the account id). Route53 is global per account in LocalStack, so tests that count
/// Route53 calls or list every zone isolate themselves by account rather than by region.
/// `n` numbers the account within the run (keep it unique across the test crate).
pub async fn account_clients(region: &str, n: u32) -> AwsClients {
    AwsClients::new(&account_config(region, n).await)
}

/// The account id of [`account_clients`]`(_, n)` in this run.
pub fn account_id(n: u32) -> String {
    let run = u32::from_str_radix(run_id(), 16).unwrap_or_default();
    format!("{n:04}{run:08}")
}

/// The SDK configuration of [`account_clients`], for a suite's fixture clients (built from it
/// directly, their calls are neither counted nor recorded as the operator's).
pub async fn account_config(region: &str, n: u32) -> aws_config::SdkConfig {
    account_config_with(region, n, options(region)).await
}

/// Clients of [`account_clients`] with the rate limits of `throttle` (`--aws-api-throttle`
/// syntax) over the tests' defaults: a benchmark's setup that is not what it measures.
pub async fn account_clients_with_throttle(region: &str, n: u32, throttle: &str) -> AwsClients {
    let mut opts = options(region);
    opts.throttle = opts.throttle.with_overrides(throttle).unwrap();
    AwsClients::new(&account_config_with(region, n, opts).await)
}

async fn account_config_with(region: &str, n: u32, opts: AwsOptions) -> aws_config::SdkConfig {
    let account = account_id(n);
    clients(region).await; // fails clearly when LocalStack is not running
    load_sdk_config(&opts)
        .await
        .into_builder()
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new(&account, "test", None, None, "account-tests"),
        ))
        .build()
}

fn ec2_tags(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(resource);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

/// Creates a VPC with `cidr` and returns its ID.
pub async fn create_vpc(c: &AwsClients, cidr: &str) -> String {
    let out = c
        .ec2
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("CreateVpc");
    out.vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned()
}

/// Creates a subnet with tags and returns its ID.
pub async fn create_subnet(
    c: &AwsClients,
    vpc: &str,
    cidr: &str,
    az: &str,
    tags: &[(&str, &str)],
) -> String {
    let mut req = c
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(az);
    if !tags.is_empty() {
        req = req.tag_specifications(ec2_tags(ResourceType::Subnet, tags));
    }
    let out = req.send().await.expect("CreateSubnet");
    out.subnet()
        .and_then(|s| s.subnet_id())
        .expect("subnet id")
        .to_owned()
}

fn elb_tags(tags: &[(&str, &str)]) -> Option<Vec<ElbTag>> {
    if tags.is_empty() {
        return None;
    }
    Some(
        tags.iter()
            .map(|(k, v)| ElbTag::builder().key(*k).value(*v).build())
            .collect(),
    )
}

/// Creates an application load balancer with tags and returns its ARN.
pub async fn create_alb(
    c: &AwsClients,
    name: &str,
    subnets: &[String],
    tags: &[(&str, &str)],
) -> String {
    let out = c
        .elbv2
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(subnets.to_vec()))
        .set_tags(elb_tags(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLoadBalancer {name}: {e:?}"));
    out.load_balancers()[0]
        .load_balancer_arn()
        .expect("arn")
        .to_owned()
}

/// Creates the nodes' security group of `cluster` as EKS tags it
/// (`kubernetes.io/cluster/<cluster>: owned`) and returns its id.
pub async fn create_node_sg(c: &AwsClients, vpc: &str, name: &str, cluster: &str) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    c.ec2
        .create_security_group()
        .group_name(name)
        .description("nodes")
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(
                    Tag::builder()
                        .key(format!("kubernetes.io/cluster/{cluster}"))
                        .value("owned")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateSecurityGroup {name}: {e:?}"))
        .group_id()
        .expect("group id")
        .to_owned()
}

/// Creates an ip target group with tags and returns its ARN.
pub async fn create_target_group(
    c: &AwsClients,
    name: &str,
    vpc: &str,
    tags: &[(&str, &str)],
) -> String {
    let out = c
        .elbv2
        .create_target_group()
        .name(name)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .set_tags(elb_tags(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTargetGroup {name}: {e:?}"));
    out.target_groups()[0]
        .target_group_arn()
        .expect("arn")
        .to_owned()
}

/// Calls per `service.Operation` made so far.
pub fn calls(c: &AwsClients) -> BTreeMap<String, u64> {
    c.calls.by_operation()
}
