//! NLB items of issue 17 on LocalStack: the ICMP path-MTU-discovery rules of
//! `enable-icmp-for-path-mtu-discovery` on the managed security group (EC2 takes and reports
//! `icmp` and `icmpv6` rules; a re-apply makes no mutating call, turning it off revokes them),
//! and `manage-backend-security-group-rules` with user security groups (the backend group
//! joins them on the NLB and the node group admits it on the target port; turned off, both go),
//! and IPv6 target groups for an IPv6 Service behind a dualstack NLB (moto takes
//! `IpAddressType: ipv6` target groups and IPv6 targets).
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::planner::{SgPermission, SgSource};
use aws_lb_operator_core::translate::{build, BuildConfig};

use crate::aws_apply::{env, Env};
use crate::localstack;

const REGION: &str = "ca-central-1";

/// A dualstack internet-facing NLB Service `shop/mtu` with ip targets and the given extra
/// annotations (`key: value` lines).
fn stacks(cluster: &str, tag: &str, annotations: &str) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!("aws-lb-nlb-items-{}-{tag}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "apiVersion: v1
kind: Service
metadata:
  name: mtu
  namespace: shop
  uid: 6f1c0d7e-0000-4000-8000-00000000{tag:0>4}
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
{annotations}spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  loadBalancerSourceRanges: [10.0.0.0/8, 2001:db8::/32]
  ports: [{{name: tcp, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: mtu-1, namespace: shop, labels: {{kubernetes.io/service-name: mtu}}}}
addressType: IPv4
ports: [{{name: tcp, port: 8080}}]
endpoints: [{{addresses: [10.65.1.10], conditions: {{ready: true}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    out.stacks
}

/// The ICMP permissions of the stack's managed security group, as read back.
async fn icmp_rules(env: &Env) -> Vec<SgPermission> {
    let mut out: Vec<SgPermission> = env
        .observed()
        .await
        .values()
        .flat_map(|s| s.security_groups.iter())
        .flat_map(|sg| sg.ingress.iter())
        .filter(|p| p.protocol.starts_with("icmp"))
        .cloned()
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icmp_for_path_mtu_discovery_rules_converge() {
    let env = env(REGION, "nlb-mtu", 65).await;
    const ICMP: &str =
        "    service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery: \"on\"\n";
    let dualstack = "    service.beta.kubernetes.io/aws-load-balancer-ip-address-type: dualstack\n";
    let on = stacks(&env.cluster, "1", &format!("{ICMP}{dualstack}"));
    env.apply(&on, false).await;
    let rule = |protocol: &str, from_port, to_port, source| SgPermission {
        protocol: protocol.into(),
        from_port,
        to_port,
        source,
        description: None,
    };
    assert_eq!(
        icmp_rules(&env).await,
        [
            rule("icmp", 3, 4, SgSource::Cidr("10.0.0.0/8".into())),
            rule("icmpv6", 2, 0, SgSource::CidrV6("2001:db8::/32".into())),
        ]
    );
    assert_eq!(env.apply(&on, false).await, BTreeMap::new(), "re-apply");

    let off = stacks(&env.cluster, "1", dualstack);
    assert_eq!(
        env.apply(&off, false).await,
        BTreeMap::from([("ec2.RevokeSecurityGroupIngress".to_owned(), 1)])
    );
    assert_eq!(icmp_rules(&env).await, []);
    env.apply(&[], true).await;
}

/// The security groups of the stack's load balancer, as AWS reports them.
async fn lb_security_groups(env: &Env) -> Vec<String> {
    let observed = env.observed().await;
    let lbs: Vec<_> = observed
        .values()
        .flat_map(|s| s.load_balancers.iter())
        .collect();
    assert_eq!(lbs.len(), 1);
    lbs[0].security_groups.clone()
}

/// The node group's ports opened from `source`.
async fn node_ports_from(env: &Env, source: &str) -> Vec<i32> {
    let out = env
        .clients
        .ec2
        .describe_security_groups()
        .group_ids(&env.node_sg)
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let mut ports: Vec<i32> = out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| {
            p.user_id_group_pairs()
                .iter()
                .any(|g| g.group_id() == Some(source))
        })
        .filter_map(|p| p.from_port())
        .collect();
    ports.sort_unstable();
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_backend_security_group_rules_with_user_security_groups() {
    let env = env(REGION, "nlb-bsg", 66).await;
    let user_sg = env
        .clients
        .ec2
        .create_security_group()
        .group_name(localstack::unique("user-sg"))
        .description("the user's own")
        .vpc_id(&env.vpc)
        .send()
        .await
        .expect("CreateSecurityGroup")
        .group_id()
        .expect("group id")
        .to_owned();
    let annotations = |manage: bool| {
        format!(
            "    service.beta.kubernetes.io/aws-load-balancer-security-groups: {user_sg}\n    \
             service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules: \"{manage}\"\n"
        )
    };
    let on = stacks(&env.cluster, "2", &annotations(true));
    env.apply(&on, false).await;
    let sgs = lb_security_groups(&env).await;
    assert_eq!(sgs.len(), 2, "{sgs:?}");
    assert!(sgs.contains(&user_sg), "{sgs:?}");
    let backend = sgs.iter().find(|s| **s != user_sg).cloned().unwrap();
    assert_eq!(node_ports_from(&env, &backend).await, [8080]);
    assert_eq!(env.apply(&on, false).await, BTreeMap::new(), "re-apply");

    let off = stacks(&env.cluster, "2", &annotations(false));
    let calls = env.apply(&off, false).await;
    assert_eq!(
        calls,
        BTreeMap::from([
            ("ec2.DeleteSecurityGroup".to_owned(), 1),
            ("ec2.RevokeSecurityGroupIngress".to_owned(), 1),
            ("elbv2.SetSecurityGroups".to_owned(), 1),
        ])
    );
    assert_eq!(lb_security_groups(&env).await, vec![user_sg]);
    assert_eq!(node_ports_from(&env, &backend).await, Vec::<i32>::new());
    env.apply(&[], true).await;
}

/// A dualstack NLB for a single-stack IPv6 Service `shop/v6` with ip targets, its endpoints in
/// an IPv6 EndpointSlice (and an IPv4 one that must not be read).
fn ipv6_stacks(cluster: &str, address: &str) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!(
        "aws-lb-nlb-items-{}-v6-{}",
        localstack::run_id(),
        address.replace(':', "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "apiVersion: v1
kind: Service
metadata:
  name: v6
  namespace: shop
  uid: 6f1c0d7e-0000-4000-8000-000000000006
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
    service.beta.kubernetes.io/aws-load-balancer-ip-address-type: dualstack
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ipFamilies: [IPv6]
  ports: [{{name: tcp, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: v6-1, namespace: shop, labels: {{kubernetes.io/service-name: v6}}}}
addressType: IPv6
ports: [{{name: tcp, port: 8080}}]
endpoints: [{{addresses: [\"{address}\"], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: v6-2, namespace: shop, labels: {{kubernetes.io/service-name: v6}}}}
addressType: IPv4
ports: [{{name: tcp, port: 8080}}]
endpoints: [{{addresses: [10.67.1.10], conditions: {{ready: true}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    out.stacks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_service_gets_an_ipv6_target_group_with_its_ipv6_endpoints() {
    let env = env(REGION, "nlb-v6", 67).await;
    let desired = ipv6_stacks(&env.cluster, "2001:db8::10");
    env.apply(&desired, false).await;
    let tgs = |observed: BTreeMap<String, aws_lb_operator_core::planner::ObservedStack>| {
        observed
            .into_values()
            .flat_map(|s| s.target_groups)
            .map(|t| {
                let targets: Vec<String> = t
                    .targets
                    .iter()
                    .map(|x| format!("{}:{}", x.id, x.port))
                    .collect();
                (t.ip_address_type, targets)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tgs(env.observed().await),
        [("ipv6".to_owned(), vec!["2001:db8::10:8080".to_owned()])]
    );
    assert_eq!(
        env.apply(&desired, false).await,
        BTreeMap::new(),
        "re-apply"
    );

    let moved = ipv6_stacks(&env.cluster, "2001:db8::20");
    assert_eq!(
        env.apply(&moved, false).await,
        BTreeMap::from([
            ("elbv2.DeregisterTargets".to_owned(), 1),
            ("elbv2.RegisterTargets".to_owned(), 1),
        ])
    );
    assert_eq!(
        tgs(env.observed().await),
        [("ipv6".to_owned(), vec!["2001:db8::20:8080".to_owned()])]
    );
    env.apply(&[], true).await;
}
