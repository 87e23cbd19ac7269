//! ELBv2 adapters: list load balancers and target groups owned by a cluster, by their tags.
//!
//! Ownership is decided only by tags (`elbv2.k8s.aws/cluster`), never by names. One listing
//! pass reads every load balancer (or target group) once, paginated, and batches DescribeTags
//! 20 ARNs per call (the API's maximum), so its cost grows with the number of resources in the
//! region, not with the number of stacks asking.
use std::collections::BTreeMap;

use aws_lb_operator_core::discovery::{is_owned_by, Tags};
use aws_sdk_elasticloadbalancingv2::Client;
use serde::Serialize;

use super::error::{AwsError, Result};

/// DescribeTags accepts at most this many ARNs per call.
pub const DESCRIBE_TAGS_BATCH: usize = 20;

const SERVICE: &str = "elbv2";

/// A load balancer as read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedLoadBalancer {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// `application` or `network`.
    pub lb_type: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// DNS name clients use.
    pub dns_name: String,
    /// Route53 zone of the DNS name, for alias records.
    pub canonical_hosted_zone_id: String,
    /// VPC.
    pub vpc_id: String,
    /// Tags.
    pub tags: Tags,
}

/// A target group as read from AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTargetGroup {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Port.
    pub port: Option<i32>,
    /// Protocol (`HTTP`, `TCP`, ...).
    pub protocol: String,
    /// `ip` or `instance`.
    pub target_type: String,
    /// VPC.
    pub vpc_id: String,
    /// Load balancers routing to it.
    pub load_balancer_arns: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// Reads the tags of `arns`, 20 per DescribeTags call. Resources that vanish between listing
/// and tagging are simply absent from the result.
pub async fn describe_tags(client: &Client, arns: &[String]) -> Result<BTreeMap<String, Tags>> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(DESCRIBE_TAGS_BATCH) {
        let resp = client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTags", e))?;
        for desc in resp.tag_descriptions() {
            let Some(arn) = desc.resource_arn() else { continue };
            let tags = desc
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            out.insert(arn.to_owned(), tags);
        }
    }
    Ok(out)
}

/// Every load balancer in the region (optionally only those in `vpc_id`), with tags.
pub async fn list_load_balancers(client: &Client, vpc_id: Option<&str>) -> Result<Vec<ObservedLoadBalancer>> {
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut lbs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeLoadBalancers", e))?;
        for lb in page.load_balancers() {
            let vpc = lb.vpc_id().unwrap_or_default();
            if vpc_id.is_some_and(|want| want != vpc) {
                continue;
            }
            let Some(arn) = lb.load_balancer_arn() else { continue };
            lbs.push(ObservedLoadBalancer {
                arn: arn.to_owned(),
                name: lb.load_balancer_name().unwrap_or_default().to_owned(),
                lb_type: lb.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                scheme: lb.scheme().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                dns_name: lb.dns_name().unwrap_or_default().to_owned(),
                canonical_hosted_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
                vpc_id: vpc.to_owned(),
                tags: Tags::new(),
            });
        }
    }
    let arns: Vec<String> = lbs.iter().map(|l| l.arn.clone()).collect();
    let mut tags = describe_tags(client, &arns).await?;
    for lb in &mut lbs {
        lb.tags = tags.remove(&lb.arn).unwrap_or_default();
    }
    Ok(lbs)
}

/// Every target group in the region (optionally only those in `vpc_id`), with tags.
pub async fn list_target_groups(client: &Client, vpc_id: Option<&str>) -> Result<Vec<ObservedTargetGroup>> {
    let mut pages = client.describe_target_groups().into_paginator().send();
    let mut tgs = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTargetGroups", e))?;
        for tg in page.target_groups() {
            let vpc = tg.vpc_id().unwrap_or_default();
            if vpc_id.is_some_and(|want| want != vpc) {
                continue;
            }
            let Some(arn) = tg.target_group_arn() else { continue };
            tgs.push(ObservedTargetGroup {
                arn: arn.to_owned(),
                name: tg.target_group_name().unwrap_or_default().to_owned(),
                port: tg.port(),
                protocol: tg.protocol().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                target_type: tg.target_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                vpc_id: vpc.to_owned(),
                load_balancer_arns: tg.load_balancer_arns().to_vec(),
                tags: Tags::new(),
            });
        }
    }
    let arns: Vec<String> = tgs.iter().map(|t| t.arn.clone()).collect();
    let mut tags = describe_tags(client, &arns).await?;
    for tg in &mut tgs {
        tg.tags = tags.remove(&tg.arn).unwrap_or_default();
    }
    Ok(tgs)
}

/// Load balancers tagged as owned by `cluster`.
pub async fn list_owned_load_balancers(
    client: &Client,
    cluster: &str,
    vpc_id: Option<&str>,
) -> Result<Vec<ObservedLoadBalancer>> {
    let mut lbs = list_load_balancers(client, vpc_id).await?;
    lbs.retain(|lb| is_owned_by(&lb.tags, cluster));
    Ok(lbs)
}

/// Target groups tagged as owned by `cluster`.
pub async fn list_owned_target_groups(
    client: &Client,
    cluster: &str,
    vpc_id: Option<&str>,
) -> Result<Vec<ObservedTargetGroup>> {
    let mut tgs = list_target_groups(client, vpc_id).await?;
    tgs.retain(|tg| is_owned_by(&tg.tags, cluster));
    Ok(tgs)
}
