//! Lost responses on LocalStack: each change is executed once (it takes effect), then again, as
//! the SDK's retry of a call whose response was lost (or the next pass, or a concurrent pass
//! that planned the same thing) would send it. The second time meets the first one's success:
//! it reads the resource back and is done when it is exactly as wanted, and still fails when it
//! is not ours or not the same.
use std::collections::BTreeSet;

use aws_lb_operator::aws::execute::{execute, ExecuteOptions, ExecuteReport, Outcome};
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::model::{tags, ActionSpec, ConditionSpec, TargetGroupRef};
use aws_lb_operator_core::planner::{
    keys, Change, ChangeKind, Op, Ref, SgPermission, SgSource, BACKEND_SG_DESCRIPTION,
    BACKEND_SG_RESOURCE, CLUSTER_RESOURCE_TAG, TARGET_RULE_DESCRIPTION,
};
use aws_sdk_elasticloadbalancingv2::types as elbt;

use crate::localstack::{
    calls, clients, create_alb, create_node_sg, create_subnet, create_target_group, create_vpc,
    unique,
};

const REGION: &str = "ap-southeast-4";

fn change(stack: &str, resource: &str, kind: ChangeKind, op: Op) -> Change {
    Change {
        stack: stack.to_owned(),
        resource: resource.to_owned(),
        kind,
        reason: None,
        op,
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Done => "done".to_owned(),
        Outcome::Failed(e) => format!("failed: {e}"),
        Outcome::Skipped { reason } => format!("skipped: {reason}"),
    }
}

async fn once(c: &AwsClients, change: &Change) -> (String, ExecuteReport) {
    let report = execute(c, std::slice::from_ref(change), &ExecuteOptions::default()).await;
    (outcome_text(&report.outcomes[0]), report)
}

fn perm(port: i32, source: &str) -> SgPermission {
    SgPermission {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        source: SgSource::Group(source.into()),
        description: Some(TARGET_RULE_DESCRIPTION.into()),
    }
}

async fn ports(c: &AwsClients, group: &str) -> BTreeSet<i32> {
    let out = c
        .ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .unwrap();
    out.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| p.from_port().unwrap())
        .collect()
}

#[tokio::test]
async fn security_group_changes_that_already_took_effect_are_done() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.92.0.0/16").await;
    let cluster = unique("lost");
    let name = unique("lost-backend");
    let owned: Tags = [
        (tags::CLUSTER.to_owned(), cluster.clone()),
        (
            CLUSTER_RESOURCE_TAG.to_owned(),
            BACKEND_SG_RESOURCE.to_owned(),
        ),
    ]
    .into();
    let create = |tags: Tags| {
        change(
            "",
            "backend security group",
            ChangeKind::Create,
            Op::CreateSecurityGroup {
                key: keys::BACKEND_SG.into(),
                name: name.clone(),
                description: BACKEND_SG_DESCRIPTION.into(),
                vpc_id: vpc.clone(),
                tags,
            },
        )
    };

    // CreateSecurityGroup twice: the second meets InvalidGroup.Duplicate and adopts the group
    // the first created, because it carries our tags.
    let (text, first) = once(&c, &create(owned.clone())).await;
    assert_eq!(text, "done");
    let backend = first.created[keys::BACKEND_SG].clone();
    c.calls.reset();
    let (text, again) = once(&c, &create(owned.clone())).await;
    assert_eq!(text, "done");
    assert_eq!(again.created[keys::BACKEND_SG], backend);
    let n = calls(&c);
    assert_eq!(n.get("ec2.CreateSecurityGroup"), Some(&1), "{n:?}");
    assert_eq!(n.get("ec2.DescribeSecurityGroups"), Some(&1), "{n:?}");
    // A group of that name without our tags (another cluster's) is not adopted.
    let mut theirs = owned.clone();
    theirs.insert(tags::CLUSTER.to_owned(), "another-cluster".to_owned());
    let (text, report) = once(&c, &create(theirs)).await;
    assert!(
        text.starts_with("failed: ec2.CreateSecurityGroup failed: InvalidGroup.Duplicate"),
        "{text}"
    );
    assert!(report.created.is_empty());

    // The nodes' group, tagged for the cluster as EKS tags it (the IAM policy lets the operator
    // change only such groups' rules).
    let nodes = create_node_sg(&c, &vpc, &unique("lost-nodes"), &cluster).await;
    let authorize = |ps: Vec<SgPermission>| {
        change(
            "",
            "target security group",
            ChangeKind::Modify,
            Op::AuthorizeSecurityGroupIngress {
                group: Ref::Existing(nodes.clone()),
                permissions: ps,
            },
        )
    };
    let revoke = |ps: Vec<SgPermission>| {
        change(
            "",
            "target security group",
            ChangeKind::Modify,
            Op::RevokeSecurityGroupIngress {
                group: nodes.clone(),
                permissions: ps,
            },
        )
    };

    // AuthorizeSecurityGroupIngress twice: the second meets InvalidPermission.Duplicate, reads
    // the group, finds nothing missing. With one more port: only that one is added.
    let two = vec![perm(8080, &backend), perm(9090, &backend)];
    assert_eq!(once(&c, &authorize(two.clone())).await.0, "done");
    c.calls.reset();
    assert_eq!(once(&c, &authorize(two.clone())).await.0, "done");
    let n = calls(&c);
    assert_eq!(
        n.get("ec2.AuthorizeSecurityGroupIngress"),
        Some(&1),
        "{n:?}"
    );
    let mut three = two.clone();
    three.push(perm(7070, &backend));
    c.calls.reset();
    assert_eq!(once(&c, &authorize(three.clone())).await.0, "done");
    let n = calls(&c);
    assert_eq!(
        n.get("ec2.AuthorizeSecurityGroupIngress"),
        Some(&2),
        "the refused call, then the missing permission alone: {n:?}"
    );
    assert_eq!(ports(&c, &nodes).await, [7070, 8080, 9090].into());

    // RevokeSecurityGroupIngress twice: the second meets InvalidPermission.NotFound and finds
    // nothing left. With one that is gone and one that is not: only the one left is removed.
    let one = vec![perm(8080, &backend)];
    assert_eq!(once(&c, &revoke(one.clone())).await.0, "done");
    assert_eq!(once(&c, &revoke(one)).await.0, "done");
    assert_eq!(ports(&c, &nodes).await, [7070, 9090].into());
    let mixed = vec![perm(8080, &backend), perm(9090, &backend)];
    assert_eq!(once(&c, &revoke(mixed)).await.0, "done");
    assert_eq!(ports(&c, &nodes).await, [7070].into());
}

#[tokio::test]
async fn a_rule_that_already_exists_exactly_as_wanted_is_adopted() {
    let c = clients(REGION).await;
    let vpc = create_vpc(&c, "10.93.0.0/16").await;
    let mut subnets = Vec::new();
    for (i, az) in ["a", "b"].iter().enumerate() {
        subnets.push(
            create_subnet(
                &c,
                &vpc,
                &format!("10.93.{i}.0/24"),
                &format!("{REGION}{az}"),
                &[],
            )
            .await,
        );
    }
    // The load balancer as the operator tags its own (the IAM policy allows listener and rule
    // writes only on those).
    let cluster = unique("lost");
    let lb = create_alb(
        &c,
        &unique("lost-lb"),
        &subnets,
        &[(tags::CLUSTER, cluster.as_str())],
    )
    .await;
    let tg = create_target_group(&c, &unique("lost-tg"), &vpc, &[]).await;
    let other_tg = create_target_group(&c, &unique("lost-tg2"), &vpc, &[]).await;
    let listener = c
        .elbv2
        .create_listener()
        .load_balancer_arn(&lb)
        .port(80)
        .protocol(elbt::ProtocolEnum::Http)
        .tags(
            elbt::Tag::builder()
                .key(tags::CLUSTER)
                .value(&cluster)
                .build(),
        )
        .default_actions(
            elbt::Action::builder()
                .r#type(elbt::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbt::FixedResponseActionConfig::builder()
                        .status_code("404")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned();
    let rule = |path: &str, tg: &str| {
        change(
            "ns/app",
            "rule 80:5",
            ChangeKind::Create,
            Op::CreateRule {
                listener: Ref::Existing(listener.clone()),
                priority: 5,
                conditions: vec![ConditionSpec::PathPattern {
                    values: vec![path.to_owned()],
                }],
                actions: vec![ActionSpec::Forward {
                    target_groups: vec![TargetGroupRef {
                        id: None,
                        arn: Some(tg.to_owned()),
                        name: None,
                        weight: 1,
                    }],
                    stickiness: None,
                }],
                transforms: vec![],
                tags: Tags::new(),
            },
        )
    };
    let count = || async {
        c.elbv2
            .describe_rules()
            .listener_arn(&listener)
            .send()
            .await
            .unwrap()
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .count()
    };

    assert_eq!(once(&c, &rule("/a", &tg)).await.0, "done");
    // Again: PriorityInUse, read back, the same rule: adopted, no second rule.
    c.calls.reset();
    assert_eq!(once(&c, &rule("/a", &tg)).await.0, "done");
    let n = calls(&c);
    assert_eq!(n.get("elbv2.CreateRule"), Some(&1), "{n:?}");
    assert_eq!(n.get("elbv2.DescribeRules"), Some(&1), "{n:?}");
    assert_eq!(count().await, 1);
    // Another path, or another target group, at that priority: not ours, still a failure.
    for (path, target) in [("/b", &tg), ("/a", &other_tg)] {
        let (text, _) = once(&c, &rule(path, target)).await;
        assert!(
            text.starts_with("failed: elbv2.CreateRule failed: PriorityInUse"),
            "{path} {target}: {text}"
        );
    }
    assert_eq!(count().await, 1);
}
