//! Tag-owned discovery and subnet discovery against LocalStack.
use aws_lb_operator::aws::ec2::discover_subnets;
use aws_lb_operator::aws::elbv2::{list_owned_load_balancers, list_owned_target_groups, ListScope};
use aws_lb_operator_core::discovery::{SubnetRole, CLUSTER_TAG};

use crate::localstack::{
    calls, clients, create_alb, create_subnet, create_target_group, create_vpc, unique,
};

const ELB_ROLE: (&str, &str) = ("kubernetes.io/role/elb", "1");

#[tokio::test]
async fn owned_load_balancers_are_found_across_pages_and_foreign_ones_are_not() {
    let region = "eu-west-1";
    let c = clients(region).await;
    let vpc = create_vpc(&c, "10.11.0.0/16").await;
    let subnets = vec![
        create_subnet(&c, &vpc, "10.11.1.0/24", "eu-west-1a", &[ELB_ROLE]).await,
        create_subnet(&c, &vpc, "10.11.2.0/24", "eu-west-1b", &[ELB_ROLE]).await,
    ];
    let other_vpc = create_vpc(&c, "10.12.0.0/16").await;
    let other_subnets = vec![
        create_subnet(&c, &other_vpc, "10.12.1.0/24", "eu-west-1a", &[]).await,
        create_subnet(&c, &other_vpc, "10.12.2.0/24", "eu-west-1b", &[]).await,
    ];
    let cluster = unique("pages");
    // Every page: LocalStack keeps earlier runs' load balancers, possibly more than one page.
    let before = aws_lb_operator::aws::elbv2::describe_load_balancers(&c.elbv2, None)
        .await
        .unwrap()
        .len();
    let mut ours = Vec::new();
    for i in 0..5 {
        let name = format!("{cluster}-ours-{i}");
        create_alb(
            &c,
            &name,
            &subnets,
            &[(CLUSTER_TAG, &cluster), ("ingress.k8s.aws/stack", "ns/x")],
        )
        .await;
        ours.push(name);
    }
    create_alb(
        &c,
        &format!("{cluster}-other-0"),
        &subnets,
        &[(CLUSTER_TAG, "someone-else")],
    )
    .await;
    create_alb(
        &c,
        &format!("{cluster}-other-1"),
        &subnets,
        &[(CLUSTER_TAG, &format!("{cluster}-prod"))],
    )
    .await;
    create_alb(&c, &format!("{cluster}-untagged"), &subnets, &[]).await;
    let in_other_vpc = format!("{cluster}-ours-vpc2");
    create_alb(
        &c,
        &in_other_vpc,
        &other_subnets,
        &[(CLUSTER_TAG, &cluster)],
    )
    .await;
    c.calls.reset();

    // 9 new load balancers in the region, 2 per page: every one is read, page by page. The VPC
    // filter drops other VPCs' load balancers before tags are read: 8 ARNs, one DescribeTags.
    let scope = ListScope {
        vpc_id: Some(&vpc),
        page_size: Some(2),
    };
    let found = list_owned_load_balancers(&c.elbv2, &cluster, scope)
        .await
        .unwrap();
    let mut names: Vec<String> = found.iter().map(|lb| lb.name.clone()).collect();
    names.sort();
    assert_eq!(
        names, ours,
        "exactly the cluster's load balancers in the VPC"
    );
    let n = calls(&c);
    let pages = u64::try_from((before + 9).div_ceil(2)).unwrap();
    assert!(pages >= 5);
    assert_eq!(
        n.get("elbv2.DescribeLoadBalancers"),
        Some(&pages),
        "paginated: {n:?}"
    );
    assert_eq!(n.get("elbv2.DescribeTags"), Some(&1), "tags batched: {n:?}");
    for lb in &found {
        assert_eq!(lb.vpc_id, vpc);
        assert_eq!(lb.lb_type, "application");
        assert!(!lb.dns_name.is_empty(), "{} has a DNS name", lb.name);
        assert!(
            !lb.canonical_hosted_zone_id.is_empty(),
            "{} has a hosted zone",
            lb.name
        );
        assert_eq!(
            lb.tags.get("ingress.k8s.aws/stack").map(String::as_str),
            Some("ns/x")
        );
    }

    // Without the VPC filter the cluster's load balancer in the other VPC is found too.
    let all = list_owned_load_balancers(&c.elbv2, &cluster, ListScope::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.iter().any(|lb| lb.name == in_other_vpc));
}

#[tokio::test]
async fn owned_target_groups_are_found_with_tags_read_20_arns_per_call() {
    let region = "eu-west-2";
    let c = clients(region).await;
    let vpc = create_vpc(&c, "10.21.0.0/16").await;
    let cluster = unique("tgs");
    for i in 0..25 {
        create_target_group(
            &c,
            &format!("{cluster}-ours-{i:02}"),
            &vpc,
            &[(CLUSTER_TAG, &cluster)],
        )
        .await;
    }
    for i in 0..3 {
        let other = format!("{cluster}-other");
        create_target_group(
            &c,
            &format!("{cluster}-other-{i}"),
            &vpc,
            &[(CLUSTER_TAG, &other)],
        )
        .await;
    }
    create_target_group(&c, &format!("{cluster}-untagged-0"), &vpc, &[]).await;
    create_target_group(
        &c,
        &format!("{cluster}-untagged-1"),
        &vpc,
        &[("team", "payments")],
    )
    .await;
    c.calls.reset();

    let found = list_owned_target_groups(
        &c.elbv2,
        &cluster,
        ListScope {
            vpc_id: Some(&vpc),
            page_size: None,
        },
    )
    .await
    .unwrap();
    let mut names: Vec<String> = found.iter().map(|tg| tg.name.clone()).collect();
    names.sort();
    let want: Vec<String> = (0..25).map(|i| format!("{cluster}-ours-{i:02}")).collect();
    assert_eq!(names, want);
    // 30 target groups in the VPC: ceil(30 / 20) = 2 DescribeTags calls.
    let n = calls(&c);
    assert_eq!(n.get("elbv2.DescribeTags"), Some(&2), "{n:?}");
    assert_eq!(c.calls.mutating_calls(), 0, "listing never mutates");
    let tg = &found[0];
    assert_eq!(
        (tg.protocol.as_str(), tg.port, tg.target_type.as_str()),
        ("HTTP", Some(80), "ip")
    );
}

#[tokio::test]
async fn subnet_discovery_picks_one_per_zone_and_excludes_other_clusters() {
    let region = "eu-central-1";
    let c = clients(region).await;
    let vpc = create_vpc(&c, "10.31.0.0/16").await;
    let cluster = unique("subnets");
    let own_tag = format!("kubernetes.io/cluster/{cluster}");
    let other = unique("other");
    let other_tag = format!("kubernetes.io/cluster/{other}");
    let a_plain = create_subnet(&c, &vpc, "10.31.1.0/24", "eu-central-1a", &[ELB_ROLE]).await;
    let a_ours = create_subnet(
        &c,
        &vpc,
        "10.31.2.0/24",
        "eu-central-1a",
        &[ELB_ROLE, (&own_tag, "shared")],
    )
    .await;
    let b_foreign = create_subnet(
        &c,
        &vpc,
        "10.31.3.0/24",
        "eu-central-1b",
        &[ELB_ROLE, (&other_tag, "owned")],
    )
    .await;
    let b_empty_value = create_subnet(
        &c,
        &vpc,
        "10.31.4.0/24",
        "eu-central-1b",
        &[("kubernetes.io/role/elb", "")],
    )
    .await;
    let c_internal = create_subnet(
        &c,
        &vpc,
        "10.31.5.0/24",
        "eu-central-1c",
        &[("kubernetes.io/role/internal-elb", "1")],
    )
    .await;
    let _c_untagged = create_subnet(&c, &vpc, "10.31.6.0/24", "eu-central-1c", &[]).await;
    // A subnet in another VPC with the role tag is not a candidate when the VPC is given.
    let other_vpc = create_vpc(&c, "10.32.0.0/16").await;
    create_subnet(&c, &other_vpc, "10.32.1.0/24", "eu-central-1c", &[ELB_ROLE]).await;

    let public = discover_subnets(&c.ec2, &cluster, SubnetRole::InternetFacing, Some(&vpc))
        .await
        .unwrap();
    assert_eq!(
        public.ids(),
        vec![a_ours.clone(), b_empty_value.clone()],
        "one per zone: {public:?}"
    );
    let reasons: Vec<(String, String)> = public
        .rejected
        .iter()
        .map(|r| (r.id.clone(), r.reason.clone()))
        .collect();
    assert!(
        reasons.contains(&(
            b_foreign.clone(),
            format!("tagged for other cluster(s) {other}")
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(
            a_plain.clone(),
            format!("another subnet ({a_ours}) chosen in zone eu-central-1a")
        )),
        "{reasons:?}"
    );

    let internal = discover_subnets(&c.ec2, &cluster, SubnetRole::Internal, Some(&vpc))
        .await
        .unwrap();
    assert_eq!(internal.ids(), vec![c_internal]);
    assert!(internal.selected.iter().all(|s| s.available_ips >= 8));

    // The other cluster sees its own subnet, and not ours.
    let theirs = discover_subnets(&c.ec2, &other, SubnetRole::InternetFacing, Some(&vpc))
        .await
        .unwrap();
    assert!(theirs.ids().contains(&b_foreign), "{theirs:?}");
    assert!(!theirs.ids().contains(&a_ours), "{theirs:?}");
}
