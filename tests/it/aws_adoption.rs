//! The adoption suite: an ALB (an IngressGroup of two Ingresses, HTTP and HTTPS, four rules on
//! 443), an NLB (a LoadBalancer Service) and their Route53 records are created with raw AWS SDK
//! calls exactly as the AWS Load Balancer Controller (v2.x/v3) and ExternalDNS would have created
//! them; then `diff --rule-order=lbc` shows nothing to change, `apply` makes no mutating call,
//! and the controller (`run` against the API server fixture) makes none either: it writes the
//! Ingresses' and the Service's statuses and nothing in AWS or Route53.
//!
//! Every name, tag, rule priority and record below is derived from those projects' sources (the
//! functions cite them), never from this operator's code: `lbc_hash` is LBC's
//! `sha256(...)`/`hex`/`%.10s`, written again here.
use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::controller::{start, Deps};
use aws_lb_operator::pass::{prepare, PassOptions, PreparedPass};
use aws_lb_operator_core::dns::DnsOptions;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::translate::rule::RuleOrdering;
use aws_lb_operator_core::translate::{build, BuildConfig};
use aws_sdk_ec2::types::{
    IpPermission, IpRange, ResourceType, Tag as Ec2Tag, TagSpecification, UserIdGroupPair,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, IpAddressType, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    Matcher, PathPatternConditionConfig, ProtocolEnum, RuleCondition, Tag as ElbTag,
    TargetDescription, TargetGroupAttribute, TargetGroupIpAddressTypeEnum, TargetGroupTuple,
    TargetTypeEnum,
};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use sha2::{Digest, Sha256};

use crate::aws_apply::{env_with, Env};
use crate::localstack;

const REGION: &str = "us-east-2";
const ACCOUNT: u32 = 5990;
/// ExternalDNS's default `--txt-owner-id`.
const OWNER: &str = "default";

/// The uids of Services `web`, `api` and `edge`, as the API server gave them (LBC hashes them
/// into target group and NLB names).
#[derive(Clone, Copy)]
struct Uids {
    web: &'static str,
    api: &'static str,
    edge: &'static str,
    legacy: &'static str,
}

/// LBC's and ExternalDNS's side: plain SDK clients in the suite's account, built from
/// [`localstack::account_config`], so their calls are neither counted nor recorded as the
/// operator's (the IAM policy suite checks only the operator's calls).
struct Fixture {
    ec2: aws_sdk_ec2::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    route53: aws_sdk_route53::Client,
    acm: aws_sdk_acm::Client,
}

impl Fixture {
    async fn new() -> Self {
        let config = localstack::account_config(REGION, ACCOUNT).await;
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            route53: aws_sdk_route53::Client::new(&config),
            acm: aws_sdk_acm::Client::new(&config),
        }
    }
}

/// `hex(sha256(parts...))[:10]`, LBC's name hash (`uuidHash.Write` of each part, then
/// `fmt.Sprintf("%.10s", hex.EncodeToString(...))`).
fn lbc_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..10]
        .to_owned()
}

/// LBC's `[[:^alnum:]]` removal, then `%.Ns`.
fn part(s: &str, n: usize) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(n)
        .collect()
}

/// The objects: IngressGroup `adopt` (Ingresses `shop/a` and `shop/b`), Services `web`, `api`
/// and the LoadBalancer Service `edge`, their EndpointSlices, the IngressClass.
fn manifests(zone: &str, cidr16: u8, certs: &Certs, uids: Uids) -> String {
    let (cert_a, cert_b) = (&certs.a, &certs.b);
    let (uid_web, uid_api, uid_edge, uid_legacy) = (uids.web, uids.api, uids.edge, uids.legacy);
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: alb}}
spec: {{controller: ingress.k8s.aws/alb}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop, uid: {uid_web}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: shop, uid: {uid_api}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 9090}}]
---
apiVersion: v1
kind: Service
metadata:
  name: edge
  namespace: shop
  uid: {uid_edge}
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
    external-dns.alpha.kubernetes.io/hostname: edge.{zone}
spec:
  type: LoadBalancer
  loadBalancerClass: service.k8s.aws/nlb
  ports: [{{name: tcp, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: shop
  uid: {uid_legacy}
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-type: external
    service.beta.kubernetes.io/aws-load-balancer-scheme: internet-facing
    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
spec:
  type: LoadBalancer
  ports: [{{name: tcp, port: 80, targetPort: 8080, protocol: TCP}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: legacy-1, namespace: shop, labels: {{kubernetes.io/service-name: legacy}}}}
addressType: IPv4
ports: [{{name: tcp, port: 8080}}]
endpoints: [{{addresses: [10.{cidr16}.1.40], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [10.{cidr16}.0.10], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: api-1, namespace: shop, labels: {{kubernetes.io/service-name: api}}}}
addressType: IPv4
ports: [{{name: http, port: 9090}}]
endpoints: [{{addresses: [10.{cidr16}.1.20], conditions: {{ready: true}}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: edge-1, namespace: shop, labels: {{kubernetes.io/service-name: edge}}}}
addressType: IPv4
ports: [{{name: tcp, port: 8080}}]
endpoints: [{{addresses: [10.{cidr16}.0.30], conditions: {{ready: true}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: a
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/group.name: adopt
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{"HTTP": 80}}, {{"HTTPS": 443}}]'
    alb.ingress.kubernetes.io/certificate-arn: {cert_a}
    alb.ingress.kubernetes.io/tags: team=alpha
spec:
  ingressClassName: alb
  rules:
  - host: a.{zone}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
      - {{path: /api, pathType: Prefix, backend: {{service: {{name: api, port: {{name: http}}}}}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: b
  namespace: shop
  annotations:
    alb.ingress.kubernetes.io/group.name: adopt
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{"HTTPS": 443}}]'
    alb.ingress.kubernetes.io/certificate-arn: {cert_b}
    alb.ingress.kubernetes.io/tags: cost=42
spec:
  ingressClassName: alb
  rules:
  - host: b.{zone}
    http:
      paths:
      - {{path: /static, pathType: Exact, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
  - http:
      paths:
      - {{path: /*, pathType: ImplementationSpecific, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
"#
    )
}

fn elb_tags(pairs: &[(&str, &str)]) -> Vec<ElbTag> {
    pairs
        .iter()
        .map(|(k, v)| ElbTag::builder().key(*k).value(*v).build())
        .collect()
}

fn ec2_tags(pairs: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
    for (k, v) in pairs {
        spec = spec.tags(Ec2Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

/// Two certificates imported into ACM (LocalStack's ELBv2 accepts only ACM certificates it
/// holds): member a's and member b's.
struct Certs {
    a: String,
    b: String,
}

async fn import_certificates(c: &Fixture) -> Certs {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acm");
    let mut arns = Vec::new();
    for name in ["www.example.com", "other.org"] {
        let pem = std::fs::read(format!("{dir}/{name}.pem")).unwrap();
        let key = std::fs::read(format!("{dir}/{name}.key")).unwrap();
        arns.push(
            c.acm
                .import_certificate()
                .certificate(aws_sdk_acm::primitives::Blob::new(pem))
                .private_key(aws_sdk_acm::primitives::Blob::new(key))
                .send()
                .await
                .unwrap()
                .certificate_arn()
                .unwrap()
                .to_owned(),
        );
    }
    Certs {
        b: arns.pop().unwrap(),
        a: arns.pop().unwrap(),
    }
}

/// What LBC and ExternalDNS left behind, for the assertions.
struct Made {
    alb: String,
    nlb: String,
    /// The NLB without security groups.
    legacy: String,
}

/// A security group as LBC's deployer makes it (`pkg/deploy/ec2`): name, description, tags at
/// creation, then the ingress permissions.
async fn security_group(
    c: &Fixture,
    vpc: &str,
    name: &str,
    description: &str,
    tags: &[(&str, &str)],
    permissions: Vec<IpPermission>,
) -> String {
    let id = c
        .ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc)
        .tag_specifications(ec2_tags(tags))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    if !permissions.is_empty() {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .unwrap();
    }
    id
}

fn open(protocol: &str, port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol(protocol)
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

struct Tg<'a> {
    name: String,
    id: &'a str,
    port: i32,
    protocol: ProtocolEnum,
    /// ALB target groups: `HTTP1`; NLB: none.
    version: Option<&'a str>,
    tags: Vec<(&'a str, String)>,
    /// Health check: protocol, path, interval, timeout, healthy, unhealthy, matcher.
    hc: (
        ProtocolEnum,
        Option<&'a str>,
        i32,
        i32,
        i32,
        i32,
        Option<&'a str>,
    ),
    target: (&'a str, i32),
}

/// A target group as LBC's deployer creates it (`pkg/deploy/elbv2/target_group_manager.go`),
/// with its targets registered as its TargetGroupBinding does.
async fn target_group(c: &Fixture, vpc: &str, tg: &Tg<'_>) -> String {
    let tags: Vec<(&str, &str)> = tg.tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (hc_protocol, path, interval, timeout, healthy, unhealthy, matcher) = tg.hc.clone();
    let arn = c
        .elbv2
        .create_target_group()
        .name(&tg.name)
        .target_type(TargetTypeEnum::Ip)
        .port(tg.port)
        .protocol(tg.protocol.clone())
        .set_protocol_version(tg.version.map(str::to_owned))
        .ip_address_type(TargetGroupIpAddressTypeEnum::Ipv4)
        .vpc_id(vpc)
        .health_check_port("traffic-port")
        .health_check_protocol(hc_protocol)
        .set_health_check_path(path.map(str::to_owned))
        .health_check_interval_seconds(interval)
        .health_check_timeout_seconds(timeout)
        .healthy_threshold_count(healthy)
        .unhealthy_threshold_count(unhealthy)
        .set_matcher(matcher.map(|m| Matcher::builder().http_code(m).build()))
        .set_tags(Some(elb_tags(&tags)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTargetGroup {} ({}): {e:?}", tg.name, tg.id))
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    c.elbv2
        .register_targets()
        .target_group_arn(&arn)
        .targets(
            TargetDescription::builder()
                .id(tg.target.0)
                .port(tg.target.1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    arn
}

fn forward(tg: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(TargetGroupTuple::builder().target_group_arn(tg).build())
                .build(),
        )
        .build()
}

fn fixed_404() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .content_type("text/plain")
                .status_code("404")
                .build(),
        )
        .build()
}

fn host_path(host: Option<&str>, paths: &[&str]) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    if let Some(h) = host {
        out.push(
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(HostHeaderConditionConfig::builder().values(h).build())
                .build(),
        );
    }
    out.push(
        RuleCondition::builder()
            .field("path-pattern")
            .path_pattern_config(
                PathPatternConditionConfig::builder()
                    .set_values(Some(paths.iter().map(|p| (*p).to_owned()).collect()))
                    .build(),
            )
            .build(),
    );
    out
}

/// The NLB of LoadBalancer Service `shop/<svc>` as LBC makes it (pkg/service): with its managed
/// security group and the backend group (LBC v2.6 and later), or without any security group
/// (`with_sg` false: LBC before v2.6, its NLBSecurityGroup feature gate off, or
/// `aws-load-balancer-disable-nlb-sg`), on one TCP port 80 to ip targets on 8080.
async fn lbc_nlb(
    c: &Fixture,
    env: &Env,
    backend: &str,
    svc: &str,
    uid: &str,
    target_ip: &str,
    with_sg: bool,
) -> aws_sdk_elasticloadbalancingv2::types::LoadBalancer {
    let cluster = env.cluster.as_str();
    let stack = format!("shop/{svc}");
    let tg_id = format!("shop/{svc}:80");
    let svc_tracking = |resource: &str| -> Vec<(&'static str, String)> {
        vec![
            ("elbv2.k8s.aws/cluster", cluster.to_owned()),
            ("service.k8s.aws/stack", stack.as_str().to_owned()),
            ("service.k8s.aws/resource", resource.to_owned()),
        ]
    };
    // model_build_managed_sg.go: `k8s-<ns[:8]>-<name[:8]>-<sha256(cluster, name, ns, uid)>`,
    // each Service port open to 0.0.0.0/0 with the port's protocol.
    let nlb_sg_tags = svc_tracking("ManagedLBSecurityGroup");
    let nlb_sg_tags: Vec<(&str, &str)> =
        nlb_sg_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let nlb_sg = if !with_sg {
        None
    } else {
        Some(
            security_group(
                c,
                &env.vpc,
                &format!(
                    "k8s-shop-{}-{}",
                    part(svc, 8),
                    lbc_hash(&[cluster, svc, "shop", uid])
                ),
                "[k8s] Managed SecurityGroup for LoadBalancer",
                &nlb_sg_tags,
                vec![open("tcp", 80)],
            )
            .await,
        )
    };
    // model_build_load_balancer.go: `k8s-<ns[:8]>-<name[:8]>-<sha256(cluster, uid, scheme)>`.
    let nlb_name = format!(
        "k8s-shop-{}-{}",
        part(svc, 8),
        lbc_hash(&[cluster, uid, "internet-facing"])
    );
    let nlb_tags = svc_tracking("LoadBalancer");
    let nlb_tags: Vec<(&str, &str)> = nlb_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let nlb = c
        .elbv2
        .create_load_balancer()
        .name(&nlb_name)
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .ip_address_type(IpAddressType::Ipv4)
        .set_subnets(Some(env.subnets.clone()))
        .set_security_groups(nlb_sg.map(|sg| vec![sg, backend.to_owned()]))
        .set_tags(Some(elb_tags(&nlb_tags)))
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let nlb_arn = nlb.load_balancer_arn().unwrap().to_owned();
    // model_build_target_group.go: id `<ns>/<name>:<port>`, name hash (cluster, uid, tgPort,
    // svcPort, targetType, protocol, hc protocol, hc interval); NLB health check defaults TCP,
    // traffic-port, 10/10/3/3; attribute proxy_protocol_v2.enabled=false always set.
    let edge_tg = Tg {
        name: format!(
            "k8s-shop-{}-{}",
            part(svc, 8),
            lbc_hash(&[cluster, uid, "8080", "80", "ip", "TCP", "TCP", "10"])
        ),
        id: &tg_id,
        port: 8080,
        protocol: ProtocolEnum::Tcp,
        version: None,
        tags: svc_tracking(&tg_id),
        hc: (ProtocolEnum::Tcp, None, 10, 10, 3, 3, None),
        target: (target_ip, 8080),
    };
    let edge = target_group(c, &env.vpc, &edge_tg).await;
    c.elbv2
        .modify_target_group_attributes()
        .target_group_arn(&edge)
        .attributes(
            TargetGroupAttribute::builder()
                .key("proxy_protocol_v2.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let l_edge_tags = svc_tracking("80");
    let l_edge_tags: Vec<(&str, &str)> =
        l_edge_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.elbv2
        .create_listener()
        .load_balancer_arn(&nlb_arn)
        .port(80)
        .protocol(ProtocolEnum::Tcp)
        .default_actions(forward(&edge))
        .set_tags(Some(elb_tags(&l_edge_tags)))
        .send()
        .await
        .unwrap();

    nlb
}

/// ALB, NLB, security groups, target groups, listeners, rules and targets as LBC makes them for
/// [`manifests`] in `cluster`; then ExternalDNS's records in `zone_id`.
#[allow(clippy::too_many_lines, clippy::too_many_arguments)]
async fn make_as_lbc_and_externaldns(
    c: &Fixture,
    env: &Env,
    node_sg: &str,
    zone: &str,
    zone_id: &str,
    cidr16: u8,
    certs: &Certs,
    uids: Uids,
) -> Made {
    let cluster = env.cluster.as_str();
    // pkg/networking/backend_sg_provider.go: `k8s-traffic-<cluster[:232]>-<sha256(cluster)>`,
    // tagged elbv2.k8s.aws/cluster and elbv2.k8s.aws/resource=backend-sg, no permissions.
    let backend = security_group(
        c,
        &env.vpc,
        &format!(
            "k8s-traffic-{}-{}",
            part(cluster, 232),
            lbc_hash(&[cluster])
        ),
        "[k8s] Shared Backend SecurityGroup for LoadBalancer",
        &[
            ("elbv2.k8s.aws/cluster", cluster),
            ("elbv2.k8s.aws/resource", "backend-sg"),
        ],
        Vec::new(),
    )
    .await;
    // TargetGroupBinding networking (pkg/targetgroupbinding/networking_manager.go): the
    // backend group allowed in on each target port of the pods' (here the nodes') security
    // group, tcp, with LBC's shared-rule description.
    let mut rules = Vec::new();
    for port in [8080, 9090] {
        rules.push(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(&backend)
                        .description("elbv2.k8s.aws/targetGroupBinding=shared")
                        .build(),
                )
                .build(),
        );
    }
    c.ec2
        .authorize_security_group_ingress()
        .group_id(node_sg)
        .set_ip_permissions(Some(rules))
        .send()
        .await
        .unwrap();

    // ---- The ALB of IngressGroup `adopt` (pkg/ingress). ----
    let stack = "adopt"; // explicit group: GroupID.String() is the group name
    let ing_tracking = |resource: &str| -> Vec<(&'static str, String)> {
        vec![
            ("elbv2.k8s.aws/cluster", cluster.to_owned()),
            ("ingress.k8s.aws/stack", stack.to_owned()),
            ("ingress.k8s.aws/resource", resource.to_owned()),
        ]
    };
    let with = |mut tags: Vec<(&'static str, String)>, extra: &[(&'static str, &str)]| {
        tags.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        tags
    };
    let both: &[(&str, &str)] = &[("team", "alpha"), ("cost", "42")];
    // model_build_managed_sg.go: `k8s-<group[:17]>-<sha256(cluster, groupID)>`, the group's
    // tags, tcp from 0.0.0.0/0 on each listen port.
    let sg_tags = with(ing_tracking("ManagedLBSecurityGroup"), both);
    let sg_tags: Vec<(&str, &str)> = sg_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let alb_sg = security_group(
        c,
        &env.vpc,
        &format!("k8s-{}-{}", part(stack, 17), lbc_hash(&[cluster, stack])),
        "[k8s] Managed SecurityGroup for LoadBalancer",
        &sg_tags,
        vec![open("tcp", 80), open("tcp", 443)],
    )
    .await;
    // model_build_load_balancer.go: `k8s-<group[:17]>-<sha256(cluster, groupID, scheme)>`.
    let alb_name = format!(
        "k8s-{}-{}",
        part(stack, 17),
        lbc_hash(&[cluster, stack, "internet-facing"])
    );
    let lb_tags = with(ing_tracking("LoadBalancer"), both);
    let lb_tags: Vec<(&str, &str)> = lb_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let alb = c
        .elbv2
        .create_load_balancer()
        .name(&alb_name)
        .r#type(LoadBalancerTypeEnum::Application)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .ip_address_type(IpAddressType::Ipv4)
        .set_subnets(Some(env.subnets.clone()))
        .security_groups(&alb_sg)
        .security_groups(&backend)
        .set_tags(Some(elb_tags(&lb_tags)))
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    let alb_arn = alb.load_balancer_arn().unwrap().to_owned();

    // model_build_target_group.go: one target group per (Ingress, Service, port), id
    // `<ns>/<ing>-<svc>:<port as written>`, name `k8s-<ns[:8]>-<svc[:8]>-<sha256(cluster,
    // groupID, ingNs, ingName, svcUID, port, tgPort, targetType, protocol, version)>`; HTTP
    // health check defaults 15/5/2/2, matcher 200; tags: the Ingress's and the Service's.
    let alb_tg = |ing: &'static str,
                  svc: &'static str,
                  uid: &'static str,
                  port: &'static str,
                  tg_port: i32,
                  team: (&'static str, &'static str),
                  target: &'static str| {
        let id: &'static str = Box::leak(format!("shop/{ing}-{svc}:{port}").into_boxed_str());
        Tg {
            name: format!(
                "k8s-shop-{}-{}",
                part(svc, 8),
                lbc_hash(&[
                    cluster,
                    stack,
                    "shop",
                    ing,
                    uid,
                    port,
                    &tg_port.to_string(),
                    "ip",
                    "HTTP",
                    "HTTP1"
                ])
            ),
            id,
            port: tg_port,
            protocol: ProtocolEnum::Http,
            version: Some("HTTP1"),
            tags: with(ing_tracking(id), &[team]),
            hc: (ProtocolEnum::Http, Some("/"), 15, 5, 2, 2, Some("200")),
            target: (target, tg_port),
        }
    };
    let web_ip: &'static str = Box::leak(format!("10.{cidr16}.0.10").into_boxed_str());
    let api_ip: &'static str = Box::leak(format!("10.{cidr16}.1.20").into_boxed_str());
    let edge_ip: &'static str = Box::leak(format!("10.{cidr16}.0.30").into_boxed_str());
    let a_web = target_group(
        c,
        &env.vpc,
        &alb_tg("a", "web", uids.web, "80", 8080, ("team", "alpha"), web_ip),
    )
    .await;
    let a_api = target_group(
        c,
        &env.vpc,
        &alb_tg(
            "a",
            "api",
            uids.api,
            "http",
            9090,
            ("team", "alpha"),
            api_ip,
        ),
    )
    .await;
    let b_web = target_group(
        c,
        &env.vpc,
        &alb_tg("b", "web", uids.web, "80", 8080, ("cost", "42"), web_ip),
    )
    .await;

    // model_build_listener.go: HTTP:80 (member a) and HTTPS:443 (a and b), default action a
    // fixed 404 text/plain; HTTPS with the default SSL policy, the first certificate as
    // default and every certificate listed (listener_manager.go); a listener's tags are those
    // of the members that declare its port.
    let l80_tags = with(ing_tracking("80"), &[("team", "alpha")]);
    let l80_tags: Vec<(&str, &str)> = l80_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let l80 = c
        .elbv2
        .create_listener()
        .load_balancer_arn(&alb_arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(fixed_404())
        .set_tags(Some(elb_tags(&l80_tags)))
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned();
    let l443_tags = with(ing_tracking("443"), both);
    let l443_tags: Vec<(&str, &str)> = l443_tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let l443 = c
        .elbv2
        .create_listener()
        .load_balancer_arn(&alb_arn)
        .port(443)
        .protocol(ProtocolEnum::Https)
        .ssl_policy("ELBSecurityPolicy-2016-08")
        .certificates(Certificate::builder().certificate_arn(&certs.a).build())
        .default_actions(fixed_404())
        .set_tags(Some(elb_tags(&l443_tags)))
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned();
    c.elbv2
        .add_listener_certificates()
        .listener_arn(&l443)
        .certificates(Certificate::builder().certificate_arn(&certs.a).build())
        .certificates(Certificate::builder().certificate_arn(&certs.b).build())
        .send()
        .await
        .unwrap();

    // model_build_listener_rules.go: members in group order (a, b), each one's rules as
    // written, a rule's paths sorted Exact, then Prefix longest first (`/api` before `/`);
    // Prefix `/api` is `/api` and `/api/*`, Prefix `/` is `/*`; priorities 1.. per listener; a
    // rule's tags are its own Ingress's.
    let a_host = format!("a.{zone}");
    let b_host = format!("b.{zone}");
    #[allow(clippy::type_complexity)]
    let rules: Vec<(&str, u32, Vec<RuleCondition>, &str, &[(&str, &str)])> = vec![
        (
            &l80,
            1,
            host_path(Some(&a_host), &["/api", "/api/*"]),
            &a_api,
            &[("team", "alpha")],
        ),
        (
            &l80,
            2,
            host_path(Some(&a_host), &["/*"]),
            &a_web,
            &[("team", "alpha")],
        ),
        (
            &l443,
            1,
            host_path(Some(&a_host), &["/api", "/api/*"]),
            &a_api,
            &[("team", "alpha")],
        ),
        (
            &l443,
            2,
            host_path(Some(&a_host), &["/*"]),
            &a_web,
            &[("team", "alpha")],
        ),
        (
            &l443,
            3,
            host_path(Some(&b_host), &["/static"]),
            &b_web,
            &[("cost", "42")],
        ),
        (
            &l443,
            4,
            host_path(None, &["/*"]),
            &b_web,
            &[("cost", "42")],
        ),
    ];
    for (listener, priority, conditions, tg, tags) in rules {
        let port = if listener == l80 { 80 } else { 443 };
        let t = with(ing_tracking(&format!("{port}:{priority}")), tags);
        let t: Vec<(&str, &str)> = t.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.elbv2
            .create_rule()
            .listener_arn(listener)
            .priority(priority as i32)
            .set_conditions(Some(conditions))
            .actions(forward(tg))
            .set_tags(Some(elb_tags(&t)))
            .send()
            .await
            .unwrap();
    }

    // ---- The NLBs of Services shop/edge (with security groups) and shop/legacy (without,
    // as LBC made them before v2.6). ----
    let nlb = lbc_nlb(c, env, &backend, "edge", uids.edge, edge_ip, true).await;
    let legacy_ip: &'static str = Box::leak(format!("10.{cidr16}.1.40").into_boxed_str());
    let legacy = lbc_nlb(c, env, &backend, "legacy", uids.legacy, legacy_ip, false).await;

    // ---- ExternalDNS (source/ingress.go, source/service.go, provider/aws/aws.go,
    // registry/txt): a hostname whose target is an ELB becomes an alias A and an alias AAAA
    // (`adjustCNAMERecordAndNewAaaaIfNeeded`), EvaluateTargetHealth true (the flag's default);
    // each gets a TXT `<type>-<name>` (`mapper.ToTXTName`), TTL 300, valued
    // `"heritage=external-dns,external-dns/owner=<id>,external-dns/resource=<kind>/<ns>/<name>"`.
    let mut changes = Vec::new();
    let hosts = [
        (a_host.clone(), &alb, "ingress/shop/a"),
        (b_host.clone(), &alb, "ingress/shop/b"),
        (format!("edge.{zone}"), &nlb, "service/shop/edge"),
    ];
    for (host, lb, resource) in &hosts {
        for rtype in [RrType::A, RrType::Aaaa] {
            changes.push(
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(
                        ResourceRecordSet::builder()
                            .name(host)
                            .r#type(rtype.clone())
                            .alias_target(
                                AliasTarget::builder()
                                    .dns_name(lb.dns_name().unwrap())
                                    .hosted_zone_id(lb.canonical_hosted_zone_id().unwrap())
                                    .evaluate_target_health(true)
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            );
            let prefix = rtype.as_str().to_ascii_lowercase();
            changes.push(
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(
                        ResourceRecordSet::builder()
                            .name(format!("{prefix}-{host}"))
                            .r#type(RrType::Txt)
                            .ttl(300)
                            .resource_records(
                                ResourceRecord::builder()
                                    .value(format!(
                                        "\"heritage=external-dns,external-dns/owner={OWNER},external-dns/resource={resource}\""
                                    ))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            );
        }
    }
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    Made {
        alb: alb_name,
        nlb: nlb.load_balancer_name().unwrap().to_owned(),
        legacy: legacy.load_balancer_name().unwrap().to_owned(),
    }
}

struct World {
    env: Env,
    /// The API server fixture holding the objects.
    server: crate::apiserver::ApiServer,
    /// Fixture clients: LBC's and ExternalDNS's calls, not counted as the operator's.
    fixture: Fixture,
    zone: String,
    zone_id: String,
    dir: PathBuf,
    made: Made,
}

const CIDR16: u8 = 61;

impl World {
    async fn new() -> Self {
        let clients = localstack::account_clients(REGION, ACCOUNT).await;
        let fixture = Fixture::new().await;
        let env = env_with(clients, REGION, "adopt", CIDR16).await;
        let zone = format!("{}.adopt.test", localstack::unique("z"));
        let zone_id = fixture
            .route53
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(localstack::unique("adopt-zone"))
            .send()
            .await
            .unwrap()
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        let node_sg = env_node_sg(&fixture, &env).await;
        let certs = import_certificates(&fixture).await;
        let dir = std::env::temp_dir().join(format!("aws-lb-adopt-{}", localstack::run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        // The objects go to the API server first: its uids are the ones LBC would have hashed.
        let placeholder = Uids {
            web: "",
            api: "",
            edge: "",
            legacy: "",
        };
        std::fs::write(
            dir.join("objects.yaml"),
            manifests(&zone, CIDR16, &certs, placeholder),
        )
        .unwrap();
        let server = crate::apiserver::ApiServer::start().await;
        let snap = load_snapshot(std::slice::from_ref(&dir)).unwrap();
        server.apply(&k8s_openapi::api::core::v1::Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("shop".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        for c in &snap.ingress_classes {
            server.apply(c);
        }
        for s in &snap.services {
            let mut s = s.clone();
            s.metadata.uid = None;
            server.apply(&s);
        }
        for e in &snap.endpoint_slices {
            server.apply(e);
        }
        for i in &snap.ingresses {
            server.apply(i);
        }
        let uid = |name: &str| -> &'static str {
            let uid = server
                .get::<k8s_openapi::api::core::v1::Service>("shop", name)
                .and_then(|s| s.metadata.uid)
                .unwrap();
            Box::leak(uid.into_boxed_str())
        };
        let uids = Uids {
            web: uid("web"),
            api: uid("api"),
            edge: uid("edge"),
            legacy: uid("legacy"),
        };
        std::fs::write(
            dir.join("objects.yaml"),
            manifests(&zone, CIDR16, &certs, uids),
        )
        .unwrap();
        let made = make_as_lbc_and_externaldns(
            &fixture, &env, &node_sg, &zone, &zone_id, CIDR16, &certs, uids,
        )
        .await;
        Self {
            env,
            server,
            fixture,
            zone,
            zone_id,
            dir,
            made,
        }
    }

    fn dns(&self) -> DnsOptions {
        let mut dns = DnsOptions::new(OWNER);
        dns.zone_id_filter = vec![self.zone_id.clone()];
        dns
    }

    fn config(&self) -> BuildConfig {
        let mut config = BuildConfig::new(&self.env.cluster);
        config.rule_order = RuleOrdering::Lbc;
        config
    }

    fn stacks(&self) -> Vec<Stack> {
        let snapshot = load_snapshot(std::slice::from_ref(&self.dir)).unwrap();
        let out = build(&snapshot, &self.config());
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        out.stacks
    }

    /// The zone's records (name, type), SOA and NS left out.
    async fn records(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            aws_lb_operator::aws::route53::list_records(&self.env.clients, &self.zone_id)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.record_type != "SOA" && r.record_type != "NS")
                .map(|r| (r.name, r.record_type))
                .collect();
        out.sort();
        out
    }

    async fn prepare(&self, stacks: &[Stack]) -> PreparedPass {
        let mut opts: PassOptions = self.env.opts(false);
        opts.dns = Some(self.dns());
        prepare(&self.env.clients, &opts, stacks).await.unwrap()
    }
}

/// The node security group [`env_with`] made (tagged `kubernetes.io/cluster/<cluster>`).
async fn env_node_sg(c: &Fixture, env: &Env) -> String {
    let out = c
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:kubernetes.io/cluster/{}", env.cluster))
                .values("owned")
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.security_groups()[0].group_id().unwrap().to_owned()
}

fn describe(plan: &PreparedPass) -> String {
    let mut s = String::new();
    for c in &plan.plan.changes {
        s.push_str(&format!(
            "  {} {} [{}] {:?}\n",
            c.stack,
            c.resource,
            c.operation(),
            c.reason
        ));
    }
    for e in &plan.plan.errors {
        s.push_str(&format!("  error {e:?}\n"));
    }
    if let Some(dns) = &plan.dns {
        for u in &dns.plan.units {
            s.push_str(&format!(
                "  dns {} {} {:?}\n",
                u.name, u.record_type, u.changes
            ));
        }
        for c in &dns.plan.conflicts {
            s.push_str(&format!("  dns conflict {c:?}\n"));
        }
    }
    s
}

/// The whole adoption: the pass plans nothing, `apply` writes nothing, `diff --rule-order=lbc`
/// shows nothing, and the controller writes nothing to AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lbc_and_externaldns_resources_are_adopted_without_a_write() {
    let w = World::new().await;
    let stacks = w.stacks();
    let names: BTreeMap<String, String> = stacks
        .iter()
        .map(|s| (s.id.to_string(), s.load_balancer.name.clone()))
        .collect();
    assert_eq!(
        names,
        BTreeMap::from([
            ("adopt".to_owned(), w.made.alb.clone()),
            ("service:shop/edge".to_owned(), w.made.nlb.clone()),
            ("service:shop/legacy".to_owned(), w.made.legacy.clone()),
        ]),
        "LBC's load balancer names"
    );

    // The pass (what `diff` and `apply` plan): nothing.
    let prepared = w.prepare(&stacks).await;
    let dns = prepared.dns.as_ref().unwrap();
    assert!(
        prepared.plan.changes.is_empty()
            && prepared.plan.errors.is_empty()
            && dns.plan.units.is_empty()
            && dns.plan.conflicts.is_empty(),
        "adopting LBC's and ExternalDNS's resources plans:\n{}",
        describe(&prepared)
    );
    // Not vacuous: the pass saw both load balancers and the zone with ExternalDNS's records.
    assert_eq!(prepared.observation.stacks.len(), 3);
    assert_eq!(dns.zones.len(), 1);
    let records = w.records().await;
    let mut expected = Vec::new();
    for host in ["a", "b", "edge"] {
        let name = format!("{host}.{}", w.zone);
        expected.extend([
            (name.clone(), "A".to_owned()),
            (name.clone(), "AAAA".to_owned()),
            (format!("a-{name}"), "TXT".to_owned()),
            (format!("aaaa-{name}"), "TXT".to_owned()),
        ]);
    }
    expected.sort();
    assert_eq!(records, expected);

    // `apply`: no mutating call.
    w.env.clients.calls.reset();
    let report = aws_lb_operator::pass::apply(&w.env.clients, &prepared, &Default::default()).await;
    assert!(report.is_success());
    assert_eq!(w.env.clients.calls.mutating_by_operation(), BTreeMap::new());
    assert!(w.env.clients.calls.total_calls() == 0 || report.elb.outcomes.is_empty());
    drop(prepared);

    // `diff --rule-order=lbc` (the CLI, JSON): no change, no DNS change, exit 0.
    let run = u32::from_str_radix(localstack::run_id(), 16).unwrap_or_default();
    let dir = w.dir.to_str().unwrap().to_owned();
    let out = localstack::operator(
        REGION,
        &[
            "diff",
            "-f",
            &dir,
            "--cluster-name",
            &w.env.cluster,
            "--vpc-id",
            &w.env.vpc,
            "--rule-order=lbc",
            "--dns-owner-id",
            OWNER,
            "--dns-zone-id-filter",
            &w.zone_id,
            "-o",
            "json",
        ],
    )
    .env("AWS_ACCESS_KEY_ID", format!("{ACCOUNT:04}{run:08}"))
    .output()
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["changes"], serde_json::json!([]), "{stdout}");
    assert!(
        doc.get("dnsChanges")
            .is_none_or(|d| d.as_array().is_some_and(Vec::is_empty)),
        "{stdout}"
    );
    assert!(
        doc.get("dnsConflicts")
            .is_none_or(|d| d.as_array().is_some_and(Vec::is_empty)),
        "{stdout}"
    );

    // `run` against the API server fixture: once the Ingresses and the Service have their
    // addresses (written from what it read), it has made no mutating call.
    let server = &w.server;
    let mut settings = crate::controller_e2e::settings(&w.env, Some(&w.zone_id));
    settings.build = w.config();
    if let Some(dns) = settings.dns.as_mut() {
        dns.owner_id = OWNER.to_owned();
    }
    w.env.clients.calls.reset();
    let running = start(Deps {
        client: server.client(),
        aws: w.env.clients.clone(),
        settings,
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "adopt".to_owned(),
        shutdown_timeout: std::time::Duration::from_secs(30),
    })
    .await
    .unwrap();
    let addressed = |ns: &str, name: &str, svc: bool| -> bool {
        let status = if svc {
            server
                .get::<k8s_openapi::api::core::v1::Service>(ns, name)
                .and_then(|s| s.status)
                .and_then(|s| s.load_balancer)
        } else {
            server
                .get::<k8s_openapi::api::networking::v1::Ingress>(ns, name)
                .and_then(|s| s.status)
                .and_then(|s| s.load_balancer)
                .map(|l| k8s_openapi::api::core::v1::LoadBalancerStatus {
                    ingress: l.ingress.map(|v| {
                        v.into_iter()
                            .map(|i| k8s_openapi::api::core::v1::LoadBalancerIngress {
                                hostname: i.hostname,
                                ..Default::default()
                            })
                            .collect()
                    }),
                })
        };
        status
            .and_then(|s| s.ingress)
            .is_some_and(|v| v.iter().any(|i| i.hostname.is_some()))
    };
    crate::controller_e2e::eventually(90, "the addresses of a, b and edge", || async {
        addressed("shop", "a", false)
            && addressed("shop", "b", false)
            && addressed("shop", "edge", true)
            && addressed("shop", "legacy", true)
    })
    .await;
    // Let every worker finish its pass.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mutating = w.env.clients.calls.mutating_by_operation();
    running.shutdown().await;
    assert_eq!(
        mutating,
        BTreeMap::new(),
        "{:?}",
        w.env.clients.calls.recent_mutations()
    );
    // It did read them (and wrote the statuses above from what it read).
    let reads = w.env.clients.calls.by_operation();
    for op in [
        "elbv2.DescribeLoadBalancers",
        "elbv2.DescribeRules",
        "route53.ListResourceRecordSets",
    ] {
        assert!(reads.get(op).is_some_and(|n| *n > 0), "{op}: {reads:?}");
    }
    assert_eq!(
        w.records().await,
        records,
        "Route53 is as ExternalDNS left it"
    );
    // Not even the operator's desired-state hash tag: an in-sync stack is never written to.
    for name in [&w.made.alb, &w.made.nlb, &w.made.legacy] {
        let lb = w
            .fixture
            .elbv2
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .unwrap();
        let arn = lb.load_balancers()[0].load_balancer_arn().unwrap();
        assert_eq!(
            lb.load_balancers()[0].security_groups().is_empty(),
            name == &w.made.legacy,
            "{name}: only the legacy NLB is without security groups"
        );
        let tags = w
            .fixture
            .elbv2
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .unwrap();
        let ours: Vec<&str> = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .filter_map(|t| t.key())
            .filter(|k| k.starts_with("aws-lb-operator"))
            .collect();
        assert!(ours.is_empty(), "{name}: {ours:?}");
    }
}
