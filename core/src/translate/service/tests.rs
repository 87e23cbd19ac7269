//! Table-driven tests of the Service → NLB translation: snapshots in, stacks and exact error
//! messages out.
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::annotations as ann;
use super::fixtures::*;
use crate::model::{Stack, TargetGroupSpec};
use crate::translate::fixtures::{config, slice, P};
use crate::translate::{build, BuildConfig, BuildOutput};

fn messages(out: &BuildOutput) -> Vec<String> {
    out.errors.iter().map(ToString::to_string).collect()
}

fn only_stack(out: &BuildOutput) -> &Stack {
    assert_eq!(
        out.stacks.len(),
        1,
        "stacks: {:?}, errors: {:?}, skipped: {:?}",
        out.stacks
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>(),
        messages(out),
        out.skipped
    );
    &out.stacks[0]
}

fn build_one(svc: Service) -> BuildOutput {
    build(&snapshot(vec![svc]), &config())
}

fn tg<'a>(stack: &'a Stack, id: &str) -> &'a TargetGroupSpec {
    stack
        .target_groups
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("no target group {id} in {}", stack.id))
}

fn targets(tg: &TargetGroupSpec) -> String {
    tg.targets
        .iter()
        .map(|t| format!("{}:{}", t.id, t.port))
        .collect::<Vec<_>>()
        .join(",")
}

/// `port/PROTOCOL` per listener, with TLS details when set.
fn listeners(stack: &Stack) -> String {
    stack
        .listeners
        .iter()
        .map(|l| {
            let mut s = format!("{}/{}", l.port, l.protocol);
            if let Some(p) = &l.ssl_policy {
                s.push_str(&format!(" policy={p}"));
            }
            if !l.certificates.is_empty() {
                s.push_str(&format!(" certs={}", l.certificates.join("+")));
            }
            if let Some(a) = &l.alpn_policy {
                s.push_str(&format!(" alpn={a}"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn health_check(tg: &TargetGroupSpec) -> String {
    let h = &tg.health_check;
    format!(
        "{} {} path={:?} {}/{}s {}/{} codes={}",
        h.protocol,
        h.port,
        h.path,
        h.interval_seconds,
        h.timeout_seconds,
        h.healthy_threshold_count,
        h.unhealthy_threshold_count,
        h.matcher.http_code.as_deref().unwrap_or("-")
    )
}

fn map(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn user_tags(m: &std::collections::BTreeMap<String, String>) -> String {
    map(&m
        .iter()
        .filter(|(k, _)| !crate::model::tags::RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

fn lbs(s: &Stack) -> crate::model::LoadBalancerSpec {
    s.load_balancer.clone()
}

fn tg0(s: &Stack) -> TargetGroupSpec {
    s.target_groups[0].clone()
}

#[test]
fn defaults_match_lbc() {
    let out = build_one(web().build());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let got = serde_json::to_value(only_stack(&out)).unwrap();
    let tracking = |resource: &str| {
        json!({
            "elbv2.k8s.aws/cluster": "demo",
            "service.k8s.aws/stack": "shop/web",
            "service.k8s.aws/resource": resource,
        })
    };
    // Hashes computed independently with sha256sum:
    // printf '%s' demouid-webinternal | sha256sum
    // printf '%s' demouid-web3008080instanceTCPTCP10 | sha256sum
    let want = json!({
        "id": "service:shop/web",
        "loadBalancer": {
            "name": "k8s-shop-web-f28a27b323",
            "type": "network",
            "scheme": "internal",
            "ipAddressType": "ipv4",
            "inboundCidrs": ["0.0.0.0/0"],
            "attributes": {},
            "tags": tracking("LoadBalancer"),
        },
        "listeners": [{
            "port": 80,
            "protocol": "TCP",
            "defaultActions": [{"type": "forward", "targetGroups": [{"id": "shop/web:80", "weight": 1}]}],
            "rules": [],
            "tags": tracking("80"),
        }],
        "targetGroups": [{
            "id": "shop/web:80",
            "name": "k8s-shop-web-fa6c0d93d6",
            "port": 30080,
            "protocol": "TCP",
            "targetType": "instance",
            "ipAddressType": "ipv4",
            "healthCheck": {
                "protocol": "TCP", "port": "traffic-port", "path": "",
                "intervalSeconds": 10, "timeoutSeconds": 10,
                "healthyThresholdCount": 3, "unhealthyThresholdCount": 3,
                "matcher": {},
            },
            "targets": [{"id": "i-0aaa", "port": 30080}, {"id": "i-0bbb", "port": 30080}],
            "attributes": {"proxy_protocol_v2.enabled": "false"},
            "tags": tracking("shop/web:80"),
        }],
        "objects": ["service/shop/web"],
    });
    assert_eq!(got, want);
}

#[test]
fn which_services_are_ours() {
    struct Case {
        name: &'static str,
        svc: Service,
        config: fn(&mut BuildConfig),
        /// Stack id when built, else the skip reason; "" when neither (not a LoadBalancer).
        want: &'static str,
    }
    let none = |_: &mut BuildConfig| {};
    let legacy = |v: &str| web().class(None).annotation(ann::TYPE, v);
    let cases = [
        Case {
            name: "our class",
            svc: web().build(),
            config: none,
            want: "built service:shop/web",
        },
        Case {
            name: "another class",
            svc: web().class(Some("example.com/lb")).build(),
            config: none,
            want: "skipped: spec.loadBalancerClass is \"example.com/lb\", not \"service.k8s.aws/nlb\"",
        },
        Case {
            name: "another class wins over the legacy annotation",
            svc: web()
                .class(Some("example.com/lb"))
                .annotation(ann::TYPE, "external")
                .build(),
            config: none,
            want: "skipped: spec.loadBalancerClass is \"example.com/lb\", not \"service.k8s.aws/nlb\"",
        },
        Case {
            name: "configured class",
            svc: web().class(Some("example.com/lb")).build(),
            config: |c| c.load_balancer_class = "example.com/lb".into(),
            want: "built service:shop/web",
        },
        Case {
            name: "legacy external",
            svc: legacy("external").build(),
            config: none,
            want: "built service:shop/web",
        },
        Case {
            name: "legacy nlb-ip",
            svc: legacy("nlb-ip").build(),
            config: none,
            want: "built service:shop/web",
        },
        Case {
            name: "in-tree nlb is left alone by default",
            svc: legacy("nlb").build(),
            config: none,
            want: "skipped: annotation service.beta.kubernetes.io/aws-load-balancer-type is \"nlb\", which the in-tree cloud controller serves (the operator takes it over only when configured to manage in-tree NLBs)",
        },
        Case {
            name: "in-tree nlb when configured",
            svc: legacy("nlb").build(),
            config: |c| c.manage_in_tree_nlb = true,
            want: "built service:shop/web",
        },
        Case {
            name: "classic load balancer",
            svc: legacy("clb").build(),
            config: none,
            want: "skipped: annotation service.beta.kubernetes.io/aws-load-balancer-type is \"clb\", not \"external\" or \"nlb-ip\": left to the in-tree cloud controller",
        },
        Case {
            name: "no class and no annotation",
            svc: web().class(None).build(),
            config: none,
            want: "skipped: no spec.loadBalancerClass and no annotation service.beta.kubernetes.io/aws-load-balancer-type: left to the in-tree cloud controller",
        },
        Case {
            name: "being deleted",
            svc: web().deleting().build(),
            config: none,
            want: "skipped: being deleted",
        },
        Case {
            name: "not a LoadBalancer service",
            svc: web().spec(|s| s.type_ = Some("NodePort".into())).build(),
            config: none,
            want: "",
        },
    ];
    for case in cases {
        let mut cfg = config();
        (case.config)(&mut cfg);
        let out = build(&snapshot(vec![case.svc]), &cfg);
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        let got = match (out.stacks.as_slice(), out.skipped.as_slice()) {
            ([stack], []) => format!("built {}", stack.id),
            ([], [skipped]) => {
                assert_eq!(skipped.object.to_string(), "service shop/web");
                format!("skipped: {}", skipped.reason)
            }
            ([], []) => String::new(),
            _ => panic!("{}: {:?} {:?}", case.name, out.stacks, out.skipped),
        };
        assert_eq!(got, case.want, "{}", case.name);
    }
}

#[test]
fn target_type_defaults_follow_the_selection() {
    struct Case {
        name: &'static str,
        svc: Service,
        want: &'static str,
    }
    let cases = [
        Case {
            name: "class: instance",
            svc: web().build(),
            want: "instance 30080",
        },
        Case {
            name: "external: instance",
            svc: web().class(None).annotation(ann::TYPE, "external").build(),
            want: "instance 30080",
        },
        Case {
            name: "nlb-ip: ip",
            svc: web().class(None).annotation(ann::TYPE, "nlb-ip").build(),
            want: "ip 8080",
        },
        Case {
            name: "class and nlb-ip: ip",
            svc: web().annotation(ann::TYPE, "nlb-ip").build(),
            want: "ip 8080",
        },
        Case {
            name: "annotation ip",
            svc: web().annotation(ann::NLB_TARGET_TYPE, "ip").build(),
            want: "ip 8080",
        },
        Case {
            name: "external with annotation ip",
            svc: web()
                .class(None)
                .annotation(ann::TYPE, "external")
                .annotation(ann::NLB_TARGET_TYPE, "ip")
                .build(),
            want: "ip 8080",
        },
        Case {
            name: "nlb-ip with annotation ip",
            svc: web()
                .class(None)
                .annotation(ann::TYPE, "nlb-ip")
                .annotation(ann::NLB_TARGET_TYPE, "ip")
                .build(),
            want: "ip 8080",
        },
    ];
    for case in cases {
        let out = build_one(case.svc);
        let tg = &only_stack(&out).target_groups[0];
        assert_eq!(
            format!("{} {}", tg.target_type, tg.port),
            case.want,
            "{}",
            case.name
        );
    }
}

/// `--default-target-type` and `--default-load-balancer-scheme` (LBC's `buildTargetType` and
/// `buildLoadBalancerScheme`): the defaults when no annotation chooses; the in-tree `nlb` type
/// keeps its own (instance, internet-facing).
#[test]
fn default_target_type_and_scheme_flags() {
    let mut cfg = config();
    cfg.default_target_type = crate::model::TargetType::Ip;
    cfg.default_scheme = crate::model::Scheme::InternetFacing;
    cfg.manage_in_tree_nlb = true;
    let got = |svc: Service| {
        let out = build(&snapshot(vec![svc]), &cfg);
        let s = only_stack(&out);
        format!(
            "{} {}",
            s.target_groups[0].target_type,
            s.load_balancer.scheme.as_str()
        )
    };
    assert_eq!(got(web().build()), "ip internet-facing");
    assert_eq!(
        got(web().class(None).annotation(ann::TYPE, "external").build()),
        "ip internet-facing"
    );
    assert_eq!(
        got(web()
            .annotation(ann::NLB_TARGET_TYPE, "instance")
            .annotation(ann::SCHEME, "internal")
            .build()),
        "instance internal"
    );
    assert_eq!(
        got(web().class(None).annotation(ann::TYPE, "nlb").build()),
        "instance internet-facing",
        "the in-tree type keeps its defaults"
    );
}

#[test]
fn in_tree_nlb_keeps_its_internet_facing_default() {
    let mut cfg = config();
    cfg.manage_in_tree_nlb = true;
    let svc = web().class(None).annotation(ann::TYPE, "nlb");
    let out = build(&snapshot(vec![svc.clone().build()]), &cfg);
    assert_eq!(
        only_stack(&out).load_balancer.scheme.as_str(),
        "internet-facing"
    );
    let internal = svc.annotation(ann::INTERNAL, "true").build();
    let out = build(&snapshot(vec![internal]), &cfg);
    assert_eq!(only_stack(&out).load_balancer.scheme.as_str(), "internal");
}

#[test]
fn every_annotation_reaches_the_model() {
    struct Case {
        name: &'static str,
        svc: Svc,
        got: fn(&Stack) -> String,
        want: &'static str,
    }
    let two_ports = || {
        lb(
            "shop",
            "web",
            &[
                ("http", 80, "TCP", Some(P::N(8080)), Some(30080)),
                ("https", 443, "TCP", Some(P::N(8443)), Some(30443)),
            ],
        )
    };
    const CERT: &str = "arn:aws:acm:eu-west-1:111122223333:certificate/a";
    let cases = [
        Case {
            name: "name",
            svc: web().annotation(ann::NAME, "shop-web-nlb"),
            got: |s| lbs(s).name,
            want: "shop-web-nlb",
        },
        Case {
            name: "scheme is part of the generated name",
            svc: web().annotation(ann::SCHEME, "internet-facing"),
            got: |s| format!("{} {}", lbs(s).scheme, lbs(s).name),
            // printf '%s' demouid-webinternet-facing | sha256sum
            want: "internet-facing k8s-shop-web-b7e45ae0e5",
        },
        Case {
            name: "deprecated internal=false",
            svc: web().annotation(ann::INTERNAL, "false"),
            got: |s| lbs(s).scheme.to_string(),
            want: "internet-facing",
        },
        Case {
            name: "deprecated internal=true",
            svc: web().annotation(ann::INTERNAL, "True"),
            got: |s| lbs(s).scheme.to_string(),
            want: "internal",
        },
        Case {
            name: "scheme wins over internal",
            svc: web()
                .annotation(ann::SCHEME, "internal")
                .annotation(ann::INTERNAL, "false"),
            got: |s| lbs(s).scheme.to_string(),
            want: "internal",
        },
        Case {
            name: "dualstack opens ::/0 too",
            svc: web().annotation(ann::IP_ADDRESS_TYPE, "dualstack"),
            got: |s| format!("{} {}", lbs(s).ip_address_type, lbs(s).inbound_cidrs.join(",")),
            want: "dualstack 0.0.0.0/0,::/0",
        },
        Case {
            name: "subnets by id or name",
            svc: web().annotation(ann::SUBNETS, "subnet-0a, public-b"),
            got: |s| lbs(s).subnets.join(","),
            want: "subnet-0a,public-b",
        },
        Case {
            name: "elastic ips, one per subnet",
            svc: web()
                .annotation(ann::SCHEME, "internet-facing")
                .annotation(ann::SUBNETS, "subnet-a,subnet-b")
                .annotation(ann::EIP_ALLOCATIONS, "eipalloc-1,eipalloc-2"),
            got: |s| lbs(s).eip_allocations.join(","),
            want: "eipalloc-1,eipalloc-2",
        },
        Case {
            name: "elastic ips without subnets are checked against the discovered subnets later",
            svc: web()
                .annotation(ann::SCHEME, "internet-facing")
                .annotation(ann::EIP_ALLOCATIONS, "eipalloc-1"),
            got: |s| lbs(s).eip_allocations.join(","),
            want: "eipalloc-1",
        },
        Case {
            name: "private addresses, one per subnet",
            svc: web()
                .annotation(ann::SUBNETS, "subnet-a,subnet-b")
                .annotation(ann::PRIVATE_IPV4_ADDRESSES, "10.0.1.10, 10.0.2.10"),
            got: |s| lbs(s).private_ipv4_addresses.join(","),
            want: "10.0.1.10,10.0.2.10",
        },
        Case {
            name: "security groups replace the managed one",
            svc: web()
                .annotation(ann::SECURITY_GROUPS, "sg-1,nlb-frontend")
                .annotation(ann::SOURCE_RANGES, "10.0.0.0/8"),
            got: |s| {
                format!(
                    "sgs={} cidrs={}",
                    lbs(s).security_groups.join(","),
                    lbs(s).inbound_cidrs.join(",")
                )
            },
            want: "sgs=sg-1,nlb-frontend cidrs=",
        },
        Case {
            name: "source ranges annotation",
            svc: web().annotation(ann::SOURCE_RANGES, "10.0.0.0/8, 192.168.0.0/16"),
            got: |s| lbs(s).inbound_cidrs.join(","),
            want: "10.0.0.0/8,192.168.0.0/16",
        },
        Case {
            name: "spec.loadBalancerSourceRanges wins over the annotation",
            svc: web()
                .annotation(ann::SOURCE_RANGES, "10.0.0.0/8")
                .spec(|s| s.load_balancer_source_ranges = Some(vec!["203.0.113.0/24".into()])),
            got: |s| lbs(s).inbound_cidrs.join(","),
            want: "203.0.113.0/24",
        },
        Case {
            name: "attributes",
            svc: web().annotation(
                ann::ATTRIBUTES,
                "deletion_protection.enabled=true,dns_record.client_routing_policy=any_availability_zone",
            ),
            got: |s| map(&lbs(s).attributes),
            want: "deletion_protection.enabled=true,dns_record.client_routing_policy=any_availability_zone",
        },
        Case {
            name: "deprecated cross-zone annotation",
            svc: web()
                .annotation(ann::CROSS_ZONE, "true")
                .annotation(ann::ATTRIBUTES, "load_balancing.cross_zone.enabled=true"),
            got: |s| map(&lbs(s).attributes),
            want: "load_balancing.cross_zone.enabled=true",
        },
        Case {
            name: "deprecated access log annotations",
            svc: web()
                .annotation(ann::ACCESS_LOG_ENABLED, "true")
                .annotation(ann::ACCESS_LOG_BUCKET, "logs")
                .annotation(ann::ACCESS_LOG_PREFIX, "nlb/web"),
            got: |s| map(&lbs(s).attributes),
            want: "access_logs.s3.bucket=logs,access_logs.s3.enabled=true,access_logs.s3.prefix=nlb/web",
        },
        Case {
            name: "access log bucket only counts while access logs are on",
            svc: web()
                .annotation(ann::ACCESS_LOG_ENABLED, "false")
                .annotation(ann::ACCESS_LOG_BUCKET, "logs"),
            got: |s| map(&lbs(s).attributes),
            want: "access_logs.s3.enabled=false",
        },
        Case {
            name: "additional tags on every resource",
            svc: web().annotation(ann::ADDITIONAL_RESOURCE_TAGS, "team=shop, env=prod"),
            got: |s| {
                format!(
                    "lb[{}] listener[{}] tg[{}]",
                    user_tags(&lbs(s).tags),
                    user_tags(&s.listeners[0].tags),
                    user_tags(&tg0(s).tags)
                )
            },
            want: "lb[env=prod,team=shop] listener[env=prod,team=shop] tg[env=prod,team=shop]",
        },
        Case {
            name: "a certificate alone makes every TCP port TLS",
            svc: two_ports().annotation(ann::SSL_CERT, CERT),
            got: listeners,
            want: "80/TLS policy=ELBSecurityPolicy-2016-08 certs=arn:aws:acm:eu-west-1:111122223333:certificate/a 443/TLS policy=ELBSecurityPolicy-2016-08 certs=arn:aws:acm:eu-west-1:111122223333:certificate/a",
        },
        Case {
            name: "ssl-ports by name",
            svc: two_ports()
                .annotation(ann::SSL_CERT, "arn:aws:acm:eu-west-1:111122223333:certificate/a,arn:aws:acm:eu-west-1:111122223333:certificate/b")
                .annotation(ann::SSL_PORTS, "https"),
            got: listeners,
            want: "80/TCP 443/TLS policy=ELBSecurityPolicy-2016-08 certs=arn:aws:acm:eu-west-1:111122223333:certificate/a+arn:aws:acm:eu-west-1:111122223333:certificate/b",
        },
        Case {
            name: "ssl-ports by number, policy and ALPN",
            svc: two_ports()
                .annotation(ann::SSL_CERT, CERT)
                .annotation(ann::SSL_PORTS, "443")
                .annotation(ann::SSL_NEGOTIATION_POLICY, "ELBSecurityPolicy-TLS13-1-2-2021-06")
                .annotation(ann::ALPN_POLICY, "HTTP2Preferred"),
            got: listeners,
            want: "80/TCP 443/TLS policy=ELBSecurityPolicy-TLS13-1-2-2021-06 certs=arn:aws:acm:eu-west-1:111122223333:certificate/a alpn=HTTP2Preferred",
        },
        Case {
            name: "ssl-ports *",
            svc: two_ports()
                .annotation(ann::SSL_CERT, CERT)
                .annotation(ann::SSL_PORTS, "*"),
            got: |s| {
                s.listeners
                    .iter()
                    .map(|l| l.protocol.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            },
            want: "TLS,TLS",
        },
        Case {
            name: "TLS listeners forward TCP to their targets by default",
            svc: web().annotation(ann::SSL_CERT, CERT),
            got: |s| tg0(s).protocol.to_string(),
            want: "TCP",
        },
        Case {
            name: "backend-protocol ssl",
            svc: web()
                .annotation(ann::SSL_CERT, CERT)
                .annotation(ann::BACKEND_PROTOCOL, "ssl"),
            got: |s| tg0(s).protocol.to_string(),
            want: "TLS",
        },
        Case {
            name: "backend-protocol ssl without TLS listener",
            svc: web().annotation(ann::BACKEND_PROTOCOL, "SSL"),
            got: |s| tg0(s).protocol.to_string(),
            want: "TCP",
        },
        Case {
            name: "ALPN only on TLS listeners",
            svc: web().annotation(ann::ALPN_POLICY, "HTTP2Only"),
            got: listeners,
            want: "80/TCP",
        },
        Case {
            name: "proxy protocol",
            svc: web().annotation(ann::PROXY_PROTOCOL, "*"),
            got: |s| map(&tg0(s).attributes),
            want: "proxy_protocol_v2.enabled=true",
        },
        Case {
            name: "target group attributes",
            svc: web().annotation(
                ann::TARGET_GROUP_ATTRIBUTES,
                "deregistration_delay.timeout_seconds=30, preserve_client_ip.enabled=false",
            ),
            got: |s| map(&tg0(s).attributes),
            want: "deregistration_delay.timeout_seconds=30,preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=false",
        },
        Case {
            name: "proxy protocol from the attributes",
            svc: web().annotation(ann::TARGET_GROUP_ATTRIBUTES, "proxy_protocol_v2.enabled=true"),
            got: |s| map(&tg0(s).attributes),
            want: "proxy_protocol_v2.enabled=true",
        },
        Case {
            name: "proxy-protocol annotation wins over the attributes",
            svc: web()
                .annotation(ann::TARGET_GROUP_ATTRIBUTES, "proxy_protocol_v2.enabled=false")
                .annotation(ann::PROXY_PROTOCOL, "*"),
            got: |s| map(&tg0(s).attributes),
            want: "proxy_protocol_v2.enabled=true",
        },
        Case {
            name: "target node labels",
            svc: web().annotation(ann::TARGET_NODE_LABELS, "pool=edge"),
            got: |s| targets(&tg0(s)),
            want: "i-0aaa:30080",
        },
        Case {
            name: "health check over HTTP gets LBC's path and codes",
            svc: web().annotation(ann::HEALTHCHECK_PROTOCOL, "http"),
            got: |s| health_check(&tg0(s)),
            want: "HTTP traffic-port path=\"/\" 10/10s 3/3 codes=200-399",
        },
        Case {
            name: "every health check annotation",
            svc: web()
                .annotation(ann::HEALTHCHECK_PROTOCOL, "HTTPS")
                .annotation(ann::HEALTHCHECK_PORT, "8443")
                .annotation(ann::HEALTHCHECK_PATH, "/ready")
                .annotation(ann::HEALTHCHECK_INTERVAL, "30")
                .annotation(ann::HEALTHCHECK_TIMEOUT, "5")
                .annotation(ann::HEALTHCHECK_HEALTHY_THRESHOLD, "2")
                .annotation(ann::HEALTHCHECK_UNHEALTHY_THRESHOLD, "4")
                .annotation(ann::HEALTHCHECK_SUCCESS_CODES, "200,204"),
            got: |s| health_check(&tg0(s)),
            want: "HTTPS 8443 path=\"/ready\" 30/5s 2/4 codes=200,204",
        },
        Case {
            name: "TCP checks have no path and no codes",
            svc: web()
                .annotation(ann::HEALTHCHECK_PATH, "/ready")
                .annotation(ann::HEALTHCHECK_SUCCESS_CODES, "200"),
            got: |s| health_check(&tg0(s)),
            want: "TCP traffic-port path=\"\" 10/10s 3/3 codes=-",
        },
        Case {
            name: "named health check port: its NodePort for instance targets",
            svc: two_ports().annotation(ann::HEALTHCHECK_PORT, "https"),
            got: |s| tg0(s).health_check.port,
            want: "30443",
        },
        Case {
            name: "named health check port: its target port for ip targets",
            svc: two_ports()
                .annotation(ann::NLB_TARGET_TYPE, "ip")
                .annotation(ann::HEALTHCHECK_PORT, "https"),
            got: |s| tg0(s).health_check.port,
            want: "8443",
        },
        Case {
            name: "health check settings are part of the target group name",
            svc: web().annotation(ann::HEALTHCHECK_PROTOCOL, "HTTP"),
            got: |s| tg0(s).name,
            // printf '%s' demouid-web3008080instanceTCPHTTP10 | sha256sum
            want: "k8s-shop-web-79e201bb6e",
        },
    ];
    for case in cases {
        let out = build_one(case.svc.build());
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        assert_eq!((case.got)(only_stack(&out)), case.want, "{}", case.name);
    }
}

#[test]
fn invalid_input_names_the_service_the_annotation_the_value_and_the_expectation() {
    struct Case {
        name: &'static str,
        svc: Svc,
        error: &'static str,
    }
    const CERT: &str = "arn:aws:acm:eu-west-1:111122223333:certificate/a";
    let dns = || {
        lb(
            "shop",
            "web",
            &[
                ("dns", 53, "UDP", Some(P::N(5353)), Some(30053)),
                ("http", 80, "TCP", Some(P::N(8080)), Some(30080)),
            ],
        )
    };
    let cases = [
        Case {
            name: "unknown target type",
            svc: web().annotation(ann::NLB_TARGET_TYPE, "pod"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-nlb-target-type has invalid value "pod": expected "instance" or "ip"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "nlb-ip with instance targets",
            svc: web()
                .annotation(ann::TYPE, "nlb-ip")
                .annotation(ann::NLB_TARGET_TYPE, "instance"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-nlb-target-type has invalid value "instance": expected "ip" (or no annotation), because annotation service.beta.kubernetes.io/aws-load-balancer-type is "nlb-ip"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "TLS port without a certificate",
            svc: web().annotation(ann::SSL_PORTS, "http"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-ports has invalid value "http": expected a certificate ARN in annotation service.beta.kubernetes.io/aws-load-balancer-ssl-cert for the TLS ports it names; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "ssl-ports names no port",
            svc: web()
                .annotation(ann::SSL_CERT, CERT)
                .annotation(ann::SSL_PORTS, "443,https"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-ports has invalid value "443,https": expected "*" or names or numbers of the service's ports (80 (http)), but "443" is none of them; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "UDP port with TLS",
            svc: dns()
                .annotation(ann::SSL_CERT, CERT)
                .annotation(ann::SSL_PORTS, "dns"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-ports has invalid value "dns": expected TCP ports only, but port 53 (dns) is UDP: a Network Load Balancer terminates TLS on TCP only; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "empty certificate in the list",
            svc: web().annotation(ann::SSL_CERT, "arn:a,"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-cert has invalid value "arn:a,": expected a comma-separated list of certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "certificate that is not an ARN",
            svc: web().annotation(ann::SSL_CERT, "my-cert"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-cert has invalid value "my-cert": expected a comma-separated list of certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health-check timeout above the interval",
            svc: web()
                .annotation(ann::HEALTHCHECK_INTERVAL, "10")
                .annotation(ann::HEALTHCHECK_TIMEOUT, "30"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout has invalid value "30": expected at most the health-check interval (10 s, annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval): a Network Load Balancer health check times out within its interval; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health-check timeout above the default interval",
            svc: web().annotation(ann::HEALTHCHECK_TIMEOUT, "15"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout has invalid value "15": expected at most the health-check interval (10 s, the default interval): a Network Load Balancer health check times out within its interval; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health-check interval below the default timeout",
            svc: web().annotation(ann::HEALTHCHECK_INTERVAL, "5"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval has invalid value "5": expected at least the health-check timeout (10 s, the default timeout): a Network Load Balancer health check times out within its interval; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health-check port that looks negative",
            svc: web().annotation(ann::HEALTHCHECK_PORT, "-1"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-port has invalid value "-1": expected "traffic-port", a port number from 1 to 65535 or a service port name; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "target port out of range",
            svc: lb(
                "shop",
                "web",
                &[("http", 80, "TCP", Some(P::N(70000)), Some(30080))],
            )
            .annotation(ann::NLB_TARGET_TYPE, "ip"),
            error: r#"service shop/web: spec.ports[0].targetPort has invalid value "70000": expected a port number from 1 to 65535 or a container port name; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "EIP count not matching the subnets",
            svc: web()
                .annotation(ann::SCHEME, "internet-facing")
                .annotation(ann::SUBNETS, "subnet-a,subnet-b")
                .annotation(ann::EIP_ALLOCATIONS, "eipalloc-1"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-eip-allocations has invalid value "eipalloc-1": expected one value per subnet of annotation service.beta.kubernetes.io/aws-load-balancer-subnets (2 subnets, 1 values), in the same order; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "EIPs on an internal load balancer",
            svc: web().annotation(ann::EIP_ALLOCATIONS, "eipalloc-1,eipalloc-2"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-eip-allocations has invalid value "eipalloc-1,eipalloc-2": expected no Elastic IP allocations on an internal load balancer: they need scheme internet-facing (annotation service.beta.kubernetes.io/aws-load-balancer-scheme); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "private addresses on an internet-facing load balancer",
            svc: web()
                .annotation(ann::SCHEME, "internet-facing")
                .annotation(ann::PRIVATE_IPV4_ADDRESSES, "10.0.1.10"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses has invalid value "10.0.1.10": expected no private IPv4 addresses on an internet-facing load balancer: they need scheme internal (annotation service.beta.kubernetes.io/aws-load-balancer-scheme); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "private address count",
            svc: web()
                .annotation(ann::SUBNETS, "subnet-a")
                .annotation(ann::PRIVATE_IPV4_ADDRESSES, "10.0.1.10,10.0.2.10"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses has invalid value "10.0.1.10,10.0.2.10": expected one value per subnet of annotation service.beta.kubernetes.io/aws-load-balancer-subnets (1 subnets, 2 values), in the same order; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "private address that is not IPv4",
            svc: web().annotation(ann::PRIVATE_IPV4_ADDRESSES, "10.0.1.300"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses has invalid value "10.0.1.300": expected a comma-separated list of IPv4 addresses such as 10.0.1.10; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "scheme",
            svc: web().annotation(ann::SCHEME, "public"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-scheme has invalid value "public": expected "internal" or "internet-facing"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "deprecated internal",
            svc: web().annotation(ann::INTERNAL, "0.0.0.0/0"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-internal has invalid value "0.0.0.0/0": expected "true" or "false"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "name longer than 32 characters",
            svc: web().annotation(ann::NAME, "shop-web-network-load-balancer-prod"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-name has invalid value "shop-web-network-load-balancer-prod": expected at most 32 letters, digits and '-', not starting or ending with '-' and not starting with "internal-"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "ip address type",
            svc: web().annotation(ann::IP_ADDRESS_TYPE, "dualstack-without-public-ipv4"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ip-address-type has invalid value "dualstack-without-public-ipv4": expected "ipv4" or "dualstack"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "source ranges annotation",
            svc: web().annotation(ann::SOURCE_RANGES, "10.0.0.0/8,office"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/load-balancer-source-ranges has invalid value "10.0.0.0/8,office": expected a comma-separated list of IPv4 or IPv6 CIDRs such as 10.0.0.0/8; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "spec.loadBalancerSourceRanges",
            svc: web().spec(|s| {
                s.load_balancer_source_ranges = Some(vec!["10.0.0.0/8".into(), "10.0.0.1".into()])
            }),
            error: r#"service shop/web: spec.loadBalancerSourceRanges[1] has invalid value "10.0.0.1": expected an IPv4 or IPv6 CIDR such as 10.0.0.0/8; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "attributes contradicting a deprecated annotation",
            svc: web()
                .annotation(ann::CROSS_ZONE, "true")
                .annotation(ann::ATTRIBUTES, "load_balancing.cross_zone.enabled=false"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-attributes has invalid value "load_balancing.cross_zone.enabled=false": expected load_balancing.cross_zone.enabled=true as annotation service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled sets it, or no load_balancing.cross_zone.enabled key; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "deprecated cross-zone",
            svc: web().annotation(ann::CROSS_ZONE, "yes"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled has invalid value "yes": expected "true" or "false"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "attributes without '='",
            svc: web().annotation(ann::ATTRIBUTES, "deletion_protection.enabled"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-attributes has invalid value "deletion_protection.enabled": expected a comma-separated list of key=value pairs; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "tracking tag",
            svc: web().annotation(
                ann::ADDITIONAL_RESOURCE_TAGS,
                "service.k8s.aws/stack=other/svc",
            ),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags has invalid value "service.k8s.aws/stack=other/svc": expected key=value pairs with keys other than the tracking tags elbv2.k8s.aws/cluster, ingress.k8s.aws/stack, ingress.k8s.aws/resource, service.k8s.aws/stack, service.k8s.aws/resource; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "ALPN policy",
            svc: web().annotation(ann::ALPN_POLICY, "h2"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-alpn-policy has invalid value "h2": expected "None" or "HTTP1Only" or "HTTP2Only" or "HTTP2Optional" or "HTTP2Preferred"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "backend protocol",
            svc: web().annotation(ann::BACKEND_PROTOCOL, "http"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-backend-protocol has invalid value "http": expected "ssl" or "tcp"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "empty SSL policy",
            svc: web().annotation(ann::SSL_NEGOTIATION_POLICY, " "),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy has invalid value "": expected a non-empty string; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "proxy protocol",
            svc: web().annotation(ann::PROXY_PROTOCOL, "true"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-proxy-protocol has invalid value "true": expected "*" (proxy protocol v2 on every target group); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "target group attribute that must be a boolean",
            svc: web().annotation(
                ann::TARGET_GROUP_ATTRIBUTES,
                "preserve_client_ip.enabled=yes",
            ),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-target-group-attributes has invalid value "preserve_client_ip.enabled=yes": expected key=value pairs with preserve_client_ip.enabled set to true or false, not "yes"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "target node labels",
            svc: web().annotation(ann::TARGET_NODE_LABELS, "pool"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-target-node-labels has invalid value "pool": expected a comma-separated list of key=value pairs; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check protocol",
            svc: web().annotation(ann::HEALTHCHECK_PROTOCOL, "UDP"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol has invalid value "UDP": expected "TCP" or "HTTP" or "HTTPS"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check port out of range",
            svc: web().annotation(ann::HEALTHCHECK_PORT, "70000"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-port has invalid value "70000": expected "traffic-port", a port number from 1 to 65535 or a service port name; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check port naming no port",
            svc: web().annotation(ann::HEALTHCHECK_PORT, "metrics"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-port has invalid value "metrics": expected "traffic-port", a port number, or the name of one of the service's ports (80 (http)); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "named health check port with a named target port for ip targets",
            svc: lb(
                "shop",
                "web",
                &[("http", 80, "TCP", Some(P::S("web")), None)],
            )
            .annotation(ann::NLB_TARGET_TYPE, "ip")
            .annotation(ann::HEALTHCHECK_PORT, "http"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-port has invalid value "http": expected a port with a numeric targetPort for target type ip, but port 80 (http) has targetPort "web"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check interval",
            svc: web().annotation(ann::HEALTHCHECK_INTERVAL, "4"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval has invalid value "4": expected an integer from 5 to 300; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check timeout",
            svc: web().annotation(ann::HEALTHCHECK_TIMEOUT, "1"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout has invalid value "1": expected an integer from 2 to 120; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "healthy threshold",
            svc: web().annotation(ann::HEALTHCHECK_HEALTHY_THRESHOLD, "11"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold has invalid value "11": expected an integer from 2 to 10; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "unhealthy threshold",
            svc: web().annotation(ann::HEALTHCHECK_UNHEALTHY_THRESHOLD, "three"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold has invalid value "three": expected an integer from 2 to 10; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "success codes",
            svc: web().annotation(ann::HEALTHCHECK_SUCCESS_CODES, "200-600"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-success-codes has invalid value "200-600": expected HTTP codes from 200 to 599 such as "200", "200,302" or "200-399"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "health check path",
            svc: web().annotation(ann::HEALTHCHECK_PATH, "healthz"),
            error: r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-path has invalid value "healthz": expected a path starting with "/"; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "SCTP port",
            svc: lb("shop", "web", &[("sig", 3868, "SCTP", None, Some(31868))]),
            error: r#"service shop/web: spec.ports[0].protocol has invalid value "SCTP": expected "TCP" or "UDP" (what a Network Load Balancer forwards); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "no ports",
            svc: lb("shop", "web", &[]),
            error: r#"service shop/web: spec.ports has invalid value "": expected at least one port; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "the same port twice for one protocol",
            svc: lb(
                "shop",
                "web",
                &[
                    ("a", 80, "TCP", None, Some(30080)),
                    ("b", 80, "", None, Some(30081)),
                ],
            ),
            error: r#"service shop/web: spec.ports[1].port has invalid value "80": expected each port number once per protocol (spec.ports[0] is also TCP 80); no load balancer is built for service shop/web"#,
        },
        Case {
            name: "instance targets without a node port",
            svc: lb("shop", "web", &[("http", 80, "TCP", None, None)]),
            error: r#"service shop/web: spec.ports[0].nodePort has invalid value "": expected a node port for target type instance (allocated by the API server unless spec.allocateLoadBalancerNodePorts is false), or annotation service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "TCP and UDP on one port with different node ports",
            svc: lb(
                "shop",
                "web",
                &[
                    ("dns-udp", 53, "UDP", None, Some(30054)),
                    ("dns-tcp", 53, "TCP", None, Some(30053)),
                ],
            ),
            error: r#"service shop/web: spec.ports[0].nodePort has invalid value "30054": expected 30053, the nodePort of spec.ports[1]: TCP and UDP on port 53 share one TCP_UDP target group; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "TCP and UDP on one port with different target ports",
            svc: lb(
                "shop",
                "web",
                &[
                    ("dns-tcp", 53, "TCP", Some(P::N(5353)), None),
                    ("dns-udp", 53, "UDP", Some(P::N(53)), None),
                ],
            )
            .annotation(ann::NLB_TARGET_TYPE, "ip"),
            error: r#"service shop/web: spec.ports[1].targetPort has invalid value "53": expected a target port that resolves like the targetPort "5353" of spec.ports[0]: TCP and UDP on port 53 share one TCP_UDP target group; no load balancer is built for service shop/web"#,
        },
        Case {
            name: "externalTrafficPolicy Local without healthCheckNodePort",
            svc: web().spec(|s| s.external_traffic_policy = Some("Local".into())),
            error: r#"service shop/web: spec.healthCheckNodePort has invalid value "": expected the node port kube-proxy answers health checks on for externalTrafficPolicy Local (allocated by the API server), or annotation service.beta.kubernetes.io/aws-load-balancer-healthcheck-port; no load balancer is built for service shop/web"#,
        },
    ];
    for case in cases {
        let out = build_one(case.svc.build());
        assert_eq!(messages(&out), [case.error], "{}", case.name);
        assert!(out.stacks.is_empty(), "{}: no stack", case.name);
        assert_eq!(
            out.errors[0].object().to_string(),
            "service shop/web",
            "{}",
            case.name
        );
    }
}

/// `api` in `shop`: `http` port 80 → named target port `web`, ip targets.
fn ip_api() -> Svc {
    lb(
        "shop",
        "api",
        &[("http", 80, "TCP", Some(P::S("web")), None)],
    )
    .annotation(ann::NLB_TARGET_TYPE, "ip")
}

fn terminating(mut s: EndpointSlice, ip: &str) -> EndpointSlice {
    for ep in s.endpoints.iter_mut().filter(|e| e.addresses[0] == ip) {
        if let Some(c) = ep.conditions.as_mut() {
            c.terminating = Some(true);
            c.serving = Some(true);
        }
    }
    s
}

fn api_slices() -> Vec<EndpointSlice> {
    vec![
        // Pods of two versions listen on different ports during a rollout.
        terminating(
            slice(
                "shop",
                "api",
                "api-1",
                &[("http", 8080)],
                &[
                    ("10.0.1.10", Some(true)),
                    ("10.0.1.11", Some(false)),
                    ("10.0.1.12", None),
                    ("10.0.1.13", Some(true)),
                ],
            ),
            "10.0.1.13",
        ),
        slice(
            "shop",
            "api",
            "api-2",
            &[("http", 9090)],
            &[("10.0.2.10", Some(true))],
        ),
        // Another Service's slice is not ours.
        slice(
            "shop",
            "other",
            "other-1",
            &[("http", 8080)],
            &[("10.0.9.9", Some(true))],
        ),
    ]
}

#[test]
fn ip_targets_are_ready_endpoints_on_their_resolved_port() {
    struct Case {
        name: &'static str,
        svc: Svc,
        want: &'static str,
    }
    let cases = [
        Case {
            name: "ready, unknown readiness counts as ready, not ready and terminating left out",
            svc: ip_api(),
            want: "port 1: 10.0.1.10:8080,10.0.1.12:8080,10.0.2.10:9090",
        },
        Case {
            name: "publishNotReadyAddresses registers every endpoint",
            svc: ip_api().spec(|s| s.publish_not_ready_addresses = Some(true)),
            want:
                "port 1: 10.0.1.10:8080,10.0.1.11:8080,10.0.1.12:8080,10.0.1.13:8080,10.0.2.10:9090",
        },
        Case {
            name: "numeric target port",
            svc: lb(
                "shop",
                "api",
                &[("http", 80, "TCP", Some(P::N(8080)), None)],
            )
            .annotation(ann::NLB_TARGET_TYPE, "ip"),
            want: "port 8080: 10.0.1.10:8080,10.0.1.12:8080,10.0.2.10:8080",
        },
        Case {
            name: "no target port means the service port",
            svc: lb("shop", "api", &[("http", 80, "TCP", None, None)])
                .annotation(ann::NLB_TARGET_TYPE, "ip"),
            want: "port 80: 10.0.1.10:80,10.0.1.12:80,10.0.2.10:80",
        },
    ];
    for case in cases {
        let mut snap = snapshot(vec![case.svc.build()]);
        snap.endpoint_slices = api_slices();
        let out = build(&snap, &config());
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        let tg = tg(only_stack(&out), "shop/api:80");
        assert_eq!(
            format!("port {}: {}", tg.port, targets(tg)),
            case.want,
            "{}",
            case.name
        );
    }
}

#[test]
fn named_target_port_that_no_slice_resolves_leaves_the_target_group_empty_with_an_error() {
    let mut snap = snapshot(vec![ip_api().build()]);
    snap.endpoint_slices = vec![slice(
        "shop",
        "api",
        "api-1",
        &[("metrics", 9100)],
        &[("10.0.1.10", Some(true))],
    )];
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        [
            r#"service shop/api: spec.ports[0].targetPort has invalid value "web": expected a container port that the service's EndpointSlices resolve, but none of its 1 IPv4 EndpointSlice(s) has a port named "http"; target group shop/api:80 has no targets"#
        ]
    );
    assert!(only_stack(&out).target_groups[0].targets.is_empty());
    // Without any slice there is nothing to resolve yet: no targets, no error.
    snap.endpoint_slices.clear();
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
}

#[test]
fn instance_targets_are_eligible_nodes() {
    struct Case {
        name: &'static str,
        svc: Svc,
        want_targets: &'static str,
        want_errors: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "every node with an instance id",
            svc: web(),
            want_targets: "i-0aaa:30080,i-0bbb:30080,i-0ccc:30080",
            want_errors: &[
                r#"node kind-worker: spec.providerID has invalid value "kind://docker/kind/kind-worker": expected aws:///<zone>/<instance id> so the node can be an instance target"#,
            ],
        },
        Case {
            name: "label filter; nodes it leaves out are not errors",
            svc: web().annotation(ann::TARGET_NODE_LABELS, "pool=edge"),
            want_targets: "i-0aaa:30080",
            want_errors: &[],
        },
        Case {
            name: "several labels must all match",
            svc: web().annotation(ann::TARGET_NODE_LABELS, "pool=apps,zone=b"),
            want_targets: "i-0ccc:30080",
            want_errors: &[],
        },
        Case {
            name: "ip targets never read nodes",
            svc: web().annotation(ann::NLB_TARGET_TYPE, "ip"),
            want_targets: "",
            want_errors: &[],
        },
    ];
    for case in cases {
        let mut snap = snapshot(vec![case.svc.build()]);
        snap.nodes.extend([
            node(
                "c",
                Some("aws:///eu-west-1c/i-0ccc"),
                &[("pool", "apps"), ("zone", "b")],
            ),
            node(
                "excluded",
                Some("aws:///eu-west-1a/i-0ddd"),
                &[
                    (crate::translate::EXCLUDE_FROM_LB_LABEL, ""),
                    ("pool", "edge"),
                ],
            ),
            node("kind-worker", Some("kind://docker/kind/kind-worker"), &[]),
        ]);
        let out = build(&snap, &config());
        assert_eq!(messages(&out), case.want_errors, "{}", case.name);
        assert_eq!(
            targets(&only_stack(&out).target_groups[0]),
            case.want_targets,
            "{}",
            case.name
        );
    }
}

#[test]
fn tcp_and_udp_on_one_port_share_a_tcp_udp_listener() {
    let svc = lb(
        "kube-system",
        "dns",
        &[
            ("dns", 53, "UDP", Some(P::N(53)), Some(30053)),
            ("dns-tcp", 53, "TCP", Some(P::N(53)), Some(30053)),
            ("metrics", 9153, "TCP", Some(P::N(9153)), Some(30153)),
            ("syslog", 514, "UDP", Some(P::N(5514)), Some(30514)),
        ],
    );
    let out = build_one(svc.build());
    assert!(out.errors.is_empty(), "{:?}", messages(&out));
    let stack = only_stack(&out);
    assert_eq!(listeners(stack), "53/TCP_UDP 514/UDP 9153/TCP");
    let got: Vec<String> = stack
        .target_groups
        .iter()
        .map(|t| {
            format!(
                "{} {} {} hc={}",
                t.id, t.protocol, t.port, t.health_check.protocol
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "kube-system/dns:514 UDP 30514 hc=TCP",
            "kube-system/dns:53 TCP_UDP 30053 hc=TCP",
            "kube-system/dns:9153 TCP 30153 hc=TCP",
        ]
    );
    for l in &stack.listeners {
        assert_eq!(
            l.default_actions,
            [crate::model::ActionSpec::Forward {
                target_groups: vec![crate::model::TargetGroupRef {
                    id: Some(format!("kube-system/dns:{}", l.port)),
                    arn: None,
                    name: None,
                    weight: 1,
                }],
                stickiness: None,
            }],
            "listener {} forwards to its own target group",
            l.port
        );
    }
    // With a certificate and no ssl-ports, only plain TCP ports become TLS.
    let out = build_one(
        lb(
            "kube-system",
            "dns",
            &[
                ("dns", 53, "UDP", None, Some(30053)),
                ("dns-tcp", 53, "TCP", None, Some(30053)),
                ("dot", 853, "TCP", None, Some(30853)),
            ],
        )
        .annotation(
            ann::SSL_CERT,
            "arn:aws:acm:eu-west-1:111122223333:certificate/c",
        )
        .build(),
    );
    assert_eq!(
        listeners(only_stack(&out)),
        "53/TCP_UDP 853/TLS policy=ELBSecurityPolicy-2016-08 certs=arn:aws:acm:eu-west-1:111122223333:certificate/c"
    );
}

#[test]
fn external_traffic_policy_local_checks_kube_proxy_on_instance_targets() {
    struct Case {
        name: &'static str,
        svc: Svc,
        want: &'static str,
    }
    let local = || {
        web().spec(|s| {
            s.external_traffic_policy = Some("Local".into());
            s.health_check_node_port = Some(32000);
        })
    };
    let cases = [
        Case {
            name: "LBC's defaults for instance mode Local",
            svc: local(),
            want: "HTTP 32000 path=\"/healthz\" 10/6s 2/2 codes=200-399",
        },
        Case {
            name: "annotations still win",
            svc: local()
                .annotation(ann::HEALTHCHECK_PORT, "traffic-port")
                .annotation(ann::HEALTHCHECK_PROTOCOL, "TCP"),
            want: "TCP traffic-port path=\"\" 10/6s 2/2 codes=-",
        },
        Case {
            name: "ip targets keep the default TCP check",
            svc: local().annotation(ann::NLB_TARGET_TYPE, "ip"),
            want: "TCP traffic-port path=\"\" 10/10s 3/3 codes=-",
        },
        Case {
            name: "Cluster policy keeps the default TCP check",
            svc: web().spec(|s| s.external_traffic_policy = Some("Cluster".into())),
            want: "TCP traffic-port path=\"\" 10/10s 3/3 codes=-",
        },
    ];
    for case in cases {
        let out = build_one(case.svc.build());
        assert!(out.errors.is_empty(), "{}: {:?}", case.name, messages(&out));
        assert_eq!(
            health_check(&only_stack(&out).target_groups[0]),
            case.want,
            "{}",
            case.name
        );
    }
}

#[test]
fn names_follow_the_lbc_service_scheme() {
    struct Case {
        name: &'static str,
        svc: Service,
        want_lb: &'static str,
        want_tg: &'static str,
    }
    let cases = [
        Case {
            name: "default",
            svc: web().build(),
            want_lb: "k8s-shop-web-f28a27b323",
            want_tg: "k8s-shop-web-fa6c0d93d6",
        },
        Case {
            name: "ip targets: the target port is hashed",
            svc: web().annotation(ann::NLB_TARGET_TYPE, "ip").build(),
            want_lb: "k8s-shop-web-f28a27b323",
            // printf '%s' demouid-web808080ipTCPTCP10 | sha256sum
            want_tg: "k8s-shop-web-b717bd45c6",
        },
        Case {
            name: "without a uid (offline manifests) the hash is still stable",
            svc: {
                let mut s = web().build();
                s.metadata.uid = None;
                s
            },
            // printf '%s' demointernal | sha256sum ; demo3008080instanceTCPTCP10
            want_lb: "k8s-shop-web-458d8528f4",
            want_tg: "k8s-shop-web-8382d1899a",
        },
        Case {
            name: "long names keep 8 sanitised characters of each part",
            svc: lb(
                "ingress-nginx",
                "ingress-nginx-controller",
                &[("http", 80, "TCP", None, Some(30080))],
            )
            .build(),
            want_lb: "k8s-ingressn-ingressn-",
            want_tg: "k8s-ingressn-ingressn-",
        },
    ];
    for case in cases {
        let out = build_one(case.svc);
        let stack = only_stack(&out);
        let lb_name = &stack.load_balancer.name;
        let tg_name = &stack.target_groups[0].name;
        if case.want_lb.ends_with('-') {
            assert!(
                lb_name.starts_with(case.want_lb),
                "{}: {lb_name}",
                case.name
            );
            assert!(
                tg_name.starts_with(case.want_tg),
                "{}: {tg_name}",
                case.name
            );
            assert_eq!(lb_name.len(), case.want_lb.len() + 10, "{}", case.name);
        } else {
            assert_eq!(lb_name, case.want_lb, "{}", case.name);
            assert_eq!(tg_name, case.want_tg, "{}", case.name);
        }
        assert!(lb_name.len() <= crate::model::MAX_NAME_LEN, "{}", case.name);
    }
}

#[test]
fn one_bad_service_never_blocks_another_and_stacks_sort_after_ingresses() {
    use crate::translate::fixtures::{ingress, ip_service, snapshot as ingress_snapshot};
    let ing = ingress("shop", "site")
        .rule(None, &[("Prefix", "/", "site", P::N(80))])
        .build();
    let mut snap = ingress_snapshot(vec![ing], Vec::new());
    ip_service(&mut snap, "shop", "site", "10.0.5.5");
    snap.nodes = two_nodes();
    snap.services.extend([
        web().build(),
        lb("shop", "broken", &[("http", 80, "TCP", None, Some(30090))])
            .annotation(ann::NLB_TARGET_TYPE, "pod")
            .build(),
        lb("ops", "api", &[("http", 80, "TCP", None, Some(30070))]).build(),
    ]);
    let out = build(&snap, &config());
    let ids: Vec<String> = out.stacks.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["shop/site", "service:ops/api", "service:shop/web"]);
    assert_eq!(
        messages(&out),
        [
            r#"service shop/broken: annotation service.beta.kubernetes.io/aws-load-balancer-nlb-target-type has invalid value "pod": expected "instance" or "ip"; no load balancer is built for service shop/broken"#
        ]
    );
}

#[test]
fn output_is_deterministic_regardless_of_input_order() {
    let services = vec![
        web().build(),
        lb(
            "ops",
            "dns",
            &[
                ("b", 53, "TCP", None, Some(30053)),
                ("a", 53, "UDP", None, Some(30053)),
                ("c", 10, "TCP", None, Some(30010)),
            ],
        )
        .build(),
    ];
    let mut reversed = services.clone();
    reversed.reverse();
    let mut snap = snapshot(reversed);
    snap.nodes.reverse();
    let a = serde_json::to_string(&build(&snapshot(services), &config()).desired_state()).unwrap();
    let b = serde_json::to_string(&build(&snap, &config()).desired_state()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn json_round_trips() {
    let out = build_one(
        web()
            .annotation(
                ann::SSL_CERT,
                "arn:aws:acm:eu-west-1:111122223333:certificate/c",
            )
            .annotation(ann::ALPN_POLICY, "None")
            .annotation(ann::SCHEME, "internet-facing")
            .annotation(ann::SUBNETS, "subnet-a")
            .annotation(ann::EIP_ALLOCATIONS, "eipalloc-1")
            .build(),
    );
    let stack = only_stack(&out);
    let json = serde_json::to_string(stack).unwrap();
    let back: Stack = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, stack);
    assert!(
        json.contains(r#""eipAllocations":["eipalloc-1"]"#),
        "{json}"
    );
    assert!(json.contains(r#""alpnPolicy":"None""#), "{json}");
    assert!(!json.contains("protocolVersion"), "{json}");
}

#[test]
fn an_endpoint_address_that_is_not_ipv4_is_reported_and_not_registered() {
    let mut snap = snapshot(vec![ip_api().build()]);
    snap.endpoint_slices = vec![slice(
        "shop",
        "api",
        "api-1",
        &[("http", 8080)],
        &[("10.0.1.10", Some(true)), ("10.0.1.300", Some(true))],
    )];
    let out = build(&snap, &config());
    assert_eq!(
        messages(&out),
        [
            r#"service shop/api: endpointslice shop/api-1 endpoints[1].addresses[0] has invalid value "10.0.1.300": expected an IPv4 address; that endpoint is not a target of target group shop/api:80"#
        ]
    );
    assert_eq!(
        targets(&only_stack(&out).target_groups[0]),
        "10.0.1.10:8080"
    );
}

#[test]
fn a_service_without_a_name_gets_no_stack() {
    let mut svc = web().0;
    svc.metadata.name = None;
    let out = build_one(svc);
    assert_eq!(
        messages(&out),
        ["service shop/: metadata.name has invalid value \"\": expected a name (every Kubernetes object has one; the manifest lacks metadata.name); no load balancer is built for service shop/"]
    );
    assert!(out.stacks.is_empty());
    assert!(out.claims.is_empty(), "{:?}", out.claims);
}

/// `aws-load-balancer-listener-attributes.{Protocol}-{Port}` as LBC: the attributes of the
/// listener with that protocol and port; other listeners get none; a key LBC would silently
/// ignore, or an attribute a Network Load Balancer listener does not have, is an error.
#[test]
fn listener_attributes_go_to_their_listener() {
    let svc = lb(
        "shop",
        "web",
        &[
            ("http", 80, "TCP", Some(P::N(8080)), Some(30080)),
            ("dns", 53, "UDP", Some(P::N(5353)), Some(30053)),
        ],
    )
    .annotation(
        "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80",
        "tcp.idle_timeout.seconds=600",
    )
    .annotation(
        "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-81",
        "tcp.idle_timeout.seconds=60",
    );
    let out = build_one(svc.0);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let stack = only_stack(&out);
    let attrs: Vec<(u16, String)> = stack
        .listeners
        .iter()
        .map(|l| (l.port, map(&l.attributes)))
        .collect();
    assert_eq!(
        attrs,
        [
            (53, String::new()),
            (80, "tcp.idle_timeout.seconds=600".to_owned())
        ]
    );
    for (key, value, error) in [
        (
            "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.tcp-80",
            "tcp.idle_timeout.seconds=600",
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-listener-attributes.tcp-80 has invalid value "tcp.idle_timeout.seconds=600": expected a key service.beta.kubernetes.io/aws-load-balancer-listener-attributes.<protocol>-<port> with protocol TCP, UDP, TCP_UDP, TLS and a port from 1 to 65535; no load balancer is built for service shop/web"#,
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80",
            "routing.http.response.server.enabled=false",
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80 has invalid value "routing.http.response.server.enabled=false": expected key=value pairs whose keys are attributes of a TCP listener of a Network Load Balancer (such as tcp.idle_timeout.seconds), but "routing.http.response.server.enabled" is not one; no load balancer is built for service shop/web"#,
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80",
            "tcp.idle_timeout.seconds=30",
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-listener-attributes.TCP-80 has invalid value "tcp.idle_timeout.seconds=30": expected key=value pairs with tcp.idle_timeout.seconds set to an integer from 60 to 6000, not "30"; no load balancer is built for service shop/web"#,
        ),
    ] {
        let out = build_one(web().annotation(key, value).0);
        assert_eq!(messages(&out), [error], "{key}={value}");
    }
}

/// `aws-load-balancer-security-group-prefix-lists` as LBC: the prefix lists are let in, and
/// no CIDR unless source ranges are named too.
#[test]
fn security_group_prefix_lists_of_a_service() {
    let key = "service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists";
    let out = build_one(web().annotation(key, "pl-0a1b").0);
    let lb = lbs(only_stack(&out));
    assert_eq!(lb.inbound_prefix_lists, ["pl-0a1b"]);
    assert!(lb.inbound_cidrs.is_empty(), "{:?}", lb.inbound_cidrs);
    let out = build_one(
        web()
            .annotation(key, "pl-0a1b")
            .annotation(ann::SOURCE_RANGES, "10.0.0.0/8")
            .0,
    );
    let lb = lbs(only_stack(&out));
    assert_eq!(lb.inbound_prefix_lists, ["pl-0a1b"]);
    assert_eq!(lb.inbound_cidrs, ["10.0.0.0/8"]);
    let out = build_one(web().annotation(key, "pl-").0);
    assert_eq!(
        messages(&out),
        [
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists has invalid value "pl-": expected a comma-separated list of managed prefix list ids such as pl-0123456789abcdef0; no load balancer is built for service shop/web"#
        ]
    );
}

/// A Service with TCP ports 22, 80, 443 and 3306 (ip targets).
fn four_ports() -> Svc {
    lb(
        "shop",
        "db",
        &[
            ("ssh", 22, "TCP", Some(P::N(2222)), Some(30022)),
            ("http", 80, "TCP", Some(P::N(8080)), Some(30080)),
            ("https", 443, "TCP", Some(P::N(8443)), Some(30443)),
            ("mysql", 3306, "TCP", Some(P::N(3306)), Some(33306)),
        ],
    )
}

/// Target group attributes per Service port, `port=attributes;...`.
fn tg_attributes(out: &BuildOutput) -> String {
    only_stack(out)
        .target_groups
        .iter()
        .map(|t| {
            let port = t.id.rsplit(':').next().unwrap_or_default();
            format!("{port}: {}", map(&t.attributes))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// LBC's `Test_defaultModelBuilderTask_targetGroupAttrs` cases for
/// `proxy-protocol-per-target-group` and `target-group-attributes.<port>`, on a Service with
/// all the ports the cases name.
#[test]
fn proxy_protocol_and_attributes_per_target_group_as_lbc() {
    const PER_TG: &str =
        "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group";
    const BASE: &str = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes";
    let pp = "proxy_protocol_v2.enabled";
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], String);
    let cases: &[Case<'_>] = &[
        (
            "default: off everywhere",
            &[],
            format!("22: {pp}=false; 3306: {pp}=false; 443: {pp}=false; 80: {pp}=false"),
        ),
        (
            "per target group: on for the ports named, off for the others",
            &[(PER_TG, "80")],
            format!("22: {pp}=false; 3306: {pp}=false; 443: {pp}=false; 80: {pp}=true"),
        ),
        (
            "per target group, spaces and empty items",
            &[(PER_TG, " 443, 22 ,,")],
            format!("22: {pp}=true; 3306: {pp}=false; 443: {pp}=true; 80: {pp}=false"),
        ),
        (
            "proxy-protocol * wins over per target group",
            &[(PER_TG, "443, 22"), (ann::PROXY_PROTOCOL, "*")],
            format!("22: {pp}=true; 3306: {pp}=true; 443: {pp}=true; 80: {pp}=true"),
        ),
        (
            "per target group wins over the attributes",
            &[(PER_TG, "80,3306"), (BASE, &format!("{pp}=true"))],
            format!("22: {pp}=false; 3306: {pp}=true; 443: {pp}=false; 80: {pp}=true"),
        ),
        (
            "an empty per-port value keeps the Service-wide one",
            &[
                (BASE, "deregistration_delay.timeout_seconds=80"),
                (&format!("{BASE}.3306"), "deregistration_delay.timeout_seconds="),
            ],
            format!(
                "22: deregistration_delay.timeout_seconds=80,{pp}=false; \
                 3306: deregistration_delay.timeout_seconds=80,{pp}=false; \
                 443: deregistration_delay.timeout_seconds=80,{pp}=false; \
                 80: deregistration_delay.timeout_seconds=80,{pp}=false"
            ),
        ),
        (
            "multiple ports with different attributes",
            &[
                (BASE, "deregistration_delay.timeout_seconds=60"),
                (&format!("{BASE}.80"), "deregistration_delay.timeout_seconds=30"),
                (
                    &format!("{BASE}.3306"),
                    "deregistration_delay.timeout_seconds=120, stickiness.enabled=true",
                ),
            ],
            format!(
                "22: deregistration_delay.timeout_seconds=60,{pp}=false; \
                 3306: deregistration_delay.timeout_seconds=120,{pp}=false,stickiness.enabled=true; \
                 443: deregistration_delay.timeout_seconds=60,{pp}=false; \
                 80: deregistration_delay.timeout_seconds=30,{pp}=false"
            ),
        ),
        (
            "port-specific proxy protocol off, proxy-protocol * still wins",
            &[
                (BASE, &format!("{pp}=true")),
                (&format!("{BASE}.3306"), &format!("{pp}=false")),
                (ann::PROXY_PROTOCOL, "*"),
            ],
            format!("22: {pp}=true; 3306: {pp}=true; 443: {pp}=true; 80: {pp}=true"),
        ),
        (
            "port-specific proxy protocol without proxy-protocol",
            &[
                (BASE, &format!("{pp}=true")),
                (&format!("{BASE}.3306"), &format!("{pp}=false")),
            ],
            format!("22: {pp}=true; 3306: {pp}=false; 443: {pp}=true; 80: {pp}=true"),
        ),
        (
            "a port the Service does not have does nothing, as LBC",
            &[(PER_TG, "8080"), (&format!("{BASE}.8080"), "stickiness.enabled=true")],
            format!("22: {pp}=false; 3306: {pp}=false; 443: {pp}=false; 80: {pp}=false"),
        ),
    ];
    for (name, annotations, want) in cases {
        let mut svc = four_ports();
        for (k, v) in *annotations {
            svc = svc.annotation(k, v);
        }
        let out = build_one(svc.0);
        assert!(out.warnings.is_empty(), "{name}: {:?}", out.warnings);
        assert_eq!(&tg_attributes(&out), want, "{name}");
    }

    for (key, value, error) in [
        (
            PER_TG.to_owned(),
            "80,http",
            r#"service shop/db: annotation service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group has invalid value "80,http": expected a comma-separated list of service port numbers such as "80, 443" (the target groups of those ports get proxy protocol v2, the others do not); no load balancer is built for service shop/db"#,
        ),
        (
            PER_TG.to_owned(),
            "0",
            r#"service shop/db: annotation service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group has invalid value "0": expected a comma-separated list of service port numbers such as "80, 443" (the target groups of those ports get proxy protocol v2, the others do not); no load balancer is built for service shop/db"#,
        ),
        (
            format!("{BASE}.3306"),
            "preserve_client_ip.enabled=invalid",
            r#"service shop/db: annotation service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.3306 has invalid value "preserve_client_ip.enabled=invalid": expected key=value pairs with preserve_client_ip.enabled set to true or false, not "invalid"; no load balancer is built for service shop/db"#,
        ),
        (
            format!("{BASE}.3306"),
            "deregistration_delay.timeout_seconds",
            r#"service shop/db: annotation service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.3306 has invalid value "deregistration_delay.timeout_seconds": expected a comma-separated list of key=value pairs; no load balancer is built for service shop/db"#,
        ),
        (
            format!("{BASE}.mysql"),
            "stickiness.enabled=true",
            r#"service shop/db: annotation service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.mysql has invalid value "stickiness.enabled=true": expected a key service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.<port> with a service port number from 1 to 65535; no load balancer is built for service shop/db"#,
        ),
    ] {
        let out = build_one(four_ports().annotation(&key, value).0);
        assert_eq!(messages(&out), [error], "{key}={value}");
    }
}

/// `enable-icmp-for-path-mtu-discovery`: `on` as LBC (managed security group only), `off`, and
/// any other value an error (LBC ignores it).
#[test]
fn icmp_for_path_mtu_discovery_on_the_managed_security_group() {
    let key = "service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery";
    let out = build_one(web().annotation(key, "on").0);
    assert!(lbs(only_stack(&out)).icmp_for_path_mtu_discovery);
    let out = build_one(web().annotation(key, "off").0);
    assert!(!lbs(only_stack(&out)).icmp_for_path_mtu_discovery);
    assert!(!lbs(only_stack(&build_one(web().0))).icmp_for_path_mtu_discovery);
    let out = build_one(
        web()
            .annotation(key, "on")
            .annotation(ann::SECURITY_GROUPS, "sg-0123")
            .0,
    );
    assert!(
        !lbs(only_stack(&out)).icmp_for_path_mtu_discovery,
        "user security groups are not touched"
    );
    let out = build_one(web().annotation(key, "true").0);
    assert_eq!(
        messages(&out),
        [
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-enable-icmp-for-path-mtu-discovery has invalid value "true": expected "on" or "off"; no load balancer is built for service shop/web"#
        ]
    );
}

/// `aws-load-balancer-manage-backend-security-group-rules` as LBC's
/// `buildManageSecurityGroupRulesFlag`: with `aws-load-balancer-security-groups` the
/// annotation, else `--enable-manage-backend-security-group-rules`; nothing without them.
#[test]
fn manage_backend_security_group_rules_of_a_service() {
    let key = "service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules";
    let built = |annotations: &[(&str, &str)], flag: bool| {
        let mut svc = web();
        for (k, v) in annotations {
            svc = svc.annotation(k, v);
        }
        let mut config = config();
        config.manage_backend_security_group_rules = flag;
        let out = build(&snapshot(vec![svc.0]), &config);
        let lb = lbs(only_stack(&out));
        (
            lb.manage_backend_security_group_rules,
            lb.uses_backend_security_group(),
        )
    };
    let sgs = (ann::SECURITY_GROUPS, "sg-0123");
    assert_eq!(built(&[], false), (false, true));
    assert_eq!(built(&[(key, "true")], false), (false, true));
    assert_eq!(built(&[sgs], false), (false, false));
    assert_eq!(built(&[sgs], true), (true, true));
    assert_eq!(built(&[sgs, (key, "1")], false), (true, true));
    assert_eq!(built(&[sgs, (key, "false")], true), (false, false));
    let out = build_one(web().annotation(key, "enabled").0);
    assert_eq!(
        messages(&out),
        [
            r#"service shop/web: annotation service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules has invalid value "enabled": expected "true" or "false" (or 1, t, T, TRUE, True, 0, f, F, FALSE, False); no load balancer is built for service shop/web"#
        ]
    );
}

/// IPv6 target groups as LBC's `buildTargetGroupIPAddressType`: a Service whose
/// `spec.ipFamilies` names IPv6 (single-stack or dual-stack) behind a dualstack NLB gets `ipv6`
/// target groups with the ready endpoints of its IPv6 EndpointSlices (the IPv4 slices are not
/// read); behind an IPv4 NLB it is an error, as in LBC.
#[test]
fn ipv6_services_get_ipv6_target_groups_on_dualstack_load_balancers() {
    let v6 = |mut s: EndpointSlice| {
        s.address_type = "IPv6".into();
        s
    };
    let slices = vec![
        slice(
            "shop",
            "api",
            "api-v4",
            &[("http", 8080)],
            &[("10.0.1.10", Some(true))],
        ),
        v6(slice(
            "shop",
            "api",
            "api-v6",
            &[("http", 8080)],
            &[
                ("2001:db8::10", Some(true)),
                ("2001:db8::11", Some(false)),
                ("10.0.1.11", Some(true)),
            ],
        )),
    ];
    let built = |families: &[&str], dualstack: bool| {
        let mut svc = ip_api().spec(|s| {
            s.ip_families = Some(families.iter().map(|f| (*f).to_owned()).collect());
        });
        if dualstack {
            svc = svc.annotation(ann::IP_ADDRESS_TYPE, "dualstack");
        }
        let mut snap = snapshot(vec![svc.build()]);
        snap.endpoint_slices = slices.clone();
        build(&snap, &config())
    };
    for families in [&["IPv6"][..], &["IPv6", "IPv4"], &["IPv4", "IPv6"]] {
        let out = built(families, true);
        assert_eq!(
            messages(&out),
            [
                r#"service shop/api: endpointslice shop/api-v6 endpoints[2].addresses[0] has invalid value "10.0.1.11": expected an IPv6 address; that endpoint is not a target of target group shop/api:80"#
            ],
            "{families:?}"
        );
        let tg = tg0(only_stack(&out));
        assert_eq!(tg.ip_address_type, "ipv6", "{families:?}");
        assert_eq!(targets(&tg), "2001:db8::10:8080", "{families:?}");
    }
    for dualstack in [false, true] {
        let out = built(&["IPv4"], dualstack);
        let tg = tg0(only_stack(&out));
        assert_eq!(
            (tg.ip_address_type.as_str(), targets(&tg).as_str()),
            ("ipv4", "10.0.1.10:8080")
        );
    }
    let out = built(&["IPv6"], false);
    assert_eq!(
        messages(&out),
        [
            r#"service shop/api: spec.ipFamilies has invalid value "IPv6": expected IPv4 only, or annotation service.beta.kubernetes.io/aws-load-balancer-ip-address-type: dualstack: IPv6 targets need a dualstack load balancer (LBC: unsupported IPv6 configuration, lb not dual-stack); no load balancer is built for service shop/api"#
        ]
    );
}
