//! EC2 changes: security groups, their permissions and tags.
use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::planner::{Op, SgPermission, SgSource};
use aws_sdk_ec2::types as ec2t;

use super::{
    gone_ok, idempotent, retry_while, sdk_err, Ctx, ExecuteError, ExecuteOptions, SdkError, Stop,
};
use crate::aws::{AwsClients, AwsError};

/// Performs one EC2 change; `Ok(Some(id))` for creates.
pub(super) async fn execute(
    clients: &AwsClients,
    op: &Op,
    ctx: &Ctx<'_>,
    opts: &ExecuteOptions,
) -> Result<Option<String>, Stop> {
    let ec2 = &clients.ec2;
    match op {
        // ---- EC2 security groups ----
        Op::CreateSecurityGroup {
            name,
            description,
            vpc_id,
            tags,
            ..
        } => {
            let created = ec2
                .create_security_group()
                .group_name(name)
                .description(description)
                .vpc_id(vpc_id)
                .tag_specifications(
                    ec2t::TagSpecification::builder()
                        .resource_type(ec2t::ResourceType::SecurityGroup)
                        .set_tags(Some(ec2_tags(tags)))
                        .build(),
                )
                .send()
                .await
                .map_err(ec2_err("CreateSecurityGroup"));
            match created {
                Ok(out) => Ok(out.group_id().map(str::to_owned)),
                Err(e) if e.has_code("InvalidGroup.Duplicate") => {
                    match idempotent::owned_security_group(ec2, name, vpc_id, tags).await? {
                        Some(id) => Ok(Some(id)),
                        None => Err(e.into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::AuthorizeSecurityGroupIngress { group, permissions } => {
            let group = ctx.r("security group", group)?;
            let permissions = resolve_permissions(ctx, permissions)?;
            idempotent::authorize(ec2, &group, permissions).await?;
            Ok(None)
        }
        Op::RevokeSecurityGroupIngress { group, permissions } => {
            let permissions = resolve_permissions(ctx, permissions)?;
            idempotent::revoke(ec2, group, permissions).await?;
            Ok(None)
        }
        Op::Ec2CreateTags { resource, tags } => {
            ec2.create_tags()
                .resources(resource)
                .set_tags(Some(ec2_tags(tags)))
                .send()
                .await
                .map_err(ec2_err("CreateTags"))?;
            Ok(None)
        }
        Op::Ec2DeleteTags { resource, keys } => {
            ec2.delete_tags()
                .resources(resource)
                .set_tags(Some(
                    keys.iter()
                        .map(|k| ec2t::Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(ec2_err("DeleteTags"))?;
            Ok(None)
        }
        Op::DeleteSecurityGroup { group } => {
            let r = retry_while(
                "DependencyViolation",
                opts.sg_delete_timeout,
                opts,
                || async {
                    ec2.delete_security_group()
                        .group_id(group)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(ec2_err("DeleteSecurityGroup"))
                },
            )
            .await;
            gone_ok(r)?;
            Ok(None)
        }
        other => Err(Stop::Fail(ExecuteError::WrongService {
            service: "ec2",
            operation: other.operation(),
        })),
    }
}

pub(super) fn ec2_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_err("ec2", operation)
}

pub(super) fn ec2_tags(tags: &Tags) -> Vec<ec2t::Tag> {
    tags.iter()
        .map(|(k, v)| ec2t::Tag::builder().key(k).value(v).build())
        .collect()
}

/// `perms` with sources created earlier in the plan resolved to their ids.
pub(super) fn resolve_permissions(
    ctx: &Ctx<'_>,
    perms: &[SgPermission],
) -> Result<Vec<SgPermission>, Stop> {
    perms
        .iter()
        .map(|p| {
            let source = match &p.source {
                SgSource::NewGroup(key) => SgSource::Group(ctx.key("permission source", key)?),
                other => other.clone(),
            };
            Ok(SgPermission {
                source,
                ..p.clone()
            })
        })
        .collect()
}

/// EC2 permissions of resolved [`SgPermission`]s (sources created in the plan resolved first,
/// by [`resolve_permissions`]).
pub(super) fn ip_permissions(perms: &[SgPermission]) -> Vec<ec2t::IpPermission> {
    perms
        .iter()
        .map(|p| {
            let b = ec2t::IpPermission::builder()
                .ip_protocol(&p.protocol)
                .from_port(p.from_port)
                .to_port(p.to_port);
            let description = p.description.clone();
            let b = match &p.source {
                SgSource::Cidr(cidr) => b.ip_ranges(
                    ec2t::IpRange::builder()
                        .cidr_ip(cidr)
                        .set_description(description)
                        .build(),
                ),
                SgSource::CidrV6(cidr) => b.ipv6_ranges(
                    ec2t::Ipv6Range::builder()
                        .cidr_ipv6(cidr)
                        .set_description(description)
                        .build(),
                ),
                SgSource::PrefixList(id) => b.prefix_list_ids(
                    ec2t::PrefixListId::builder()
                        .prefix_list_id(id)
                        .set_description(description)
                        .build(),
                ),
                SgSource::Group(id) | SgSource::NewGroup(id) => b.user_id_group_pairs(
                    ec2t::UserIdGroupPair::builder()
                        .group_id(id)
                        .set_description(description)
                        .build(),
                ),
            };
            b.build()
        })
        .collect()
}
