//! EC2 adapters: subnet discovery for load balancers.
use aws_lb_operator_core::discovery::{
    select_subnets, SubnetCandidate, SubnetRole, SubnetSelection, Tags,
};
use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;

use super::error::{AwsError, Result};

const SERVICE: &str = "ec2";

/// Subnets carrying the role tag for `role` (optionally only in `vpc_id`), fully paginated.
pub async fn list_subnet_candidates(
    client: &Client,
    role: SubnetRole,
    vpc_id: Option<&str>,
) -> Result<Vec<SubnetCandidate>> {
    let mut req = client.describe_subnets().filters(
        Filter::builder()
            .name("tag-key")
            .values(role.tag_key())
            .build(),
    );
    if let Some(vpc) = vpc_id {
        req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
    }
    let mut pages = req.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeSubnets", e))?;
        for s in page.subnets() {
            let Some(id) = s.subnet_id() else { continue };
            let tags: Tags = s
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            out.push(SubnetCandidate {
                id: id.to_owned(),
                availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
                vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                available_ips: i64::from(s.available_ip_address_count().unwrap_or(0)),
                tags,
            });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Discovers the subnets a load balancer of `role` in `cluster` should use: one per zone, by
/// the standard role tags, excluding subnets tagged for other clusters.
pub async fn discover_subnets(
    client: &Client,
    cluster: &str,
    role: SubnetRole,
    vpc_id: Option<&str>,
) -> Result<SubnetSelection> {
    let candidates = list_subnet_candidates(client, role, vpc_id).await?;
    Ok(select_subnets(&candidates, cluster, role))
}
