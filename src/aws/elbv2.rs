//! ELBv2 adapters: list load balancers and target groups owned by a cluster, by their tags.
//!
//! Ownership is decided only by tags (`elbv2.k8s.aws/cluster`), never by names. One listing
//! pass reads every load balancer (or target group) once, paginated, and batches DescribeTags
//! 20 ARNs per call (the API's maximum), so its cost grows with the number of resources in the
//! region, not with the number of stacks asking.
use std::collections::BTreeMap;

use aws_lb_operator_core::discovery::{is_owned_by, Tags};
use aws_sdk_elasticloadbalancingv2::types;
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

/// Which part of the region a listing covers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListScope<'a> {
    /// Only resources in this VPC (others are skipped before DescribeTags, saving calls).
    pub vpc_id: Option<&'a str>,
    /// Page size for Describe calls; `None` lets AWS choose (its maximum is 400).
    pub page_size: Option<i32>,
}

/// Follows `NextMarker` until the last page, refusing a marker seen before (a looping API must
/// not turn into an endless stream of calls).
#[derive(Debug, Default)]
struct Markers {
    seen: std::collections::HashSet<String>,
}

impl Markers {
    /// The marker for the next request, `Ok(None)` after the last page.
    fn next(&mut self, operation: &'static str, next: Option<&str>) -> Result<Option<String>> {
        match next {
            Some(m) if !m.is_empty() => {
                if !self.seen.insert(m.to_owned()) {
                    return Err(AwsError::pagination_loop(SERVICE, operation, m));
                }
                Ok(Some(m.to_owned()))
            }
            _ => Ok(None),
        }
    }
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
            let Some(arn) = desc.resource_arn() else {
                continue;
            };
            let tags = desc
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            out.insert(arn.to_owned(), tags);
        }
    }
    Ok(out)
}

/// An ELBv2 resource identified by ARN whose tags are read with DescribeTags.
pub trait Tagged {
    /// The resource's ARN.
    fn arn(&self) -> &str;
    /// Where its tags go.
    fn tags_mut(&mut self) -> &mut Tags;
}

impl Tagged for ObservedLoadBalancer {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.tags
    }
}

impl Tagged for ObservedTargetGroup {
    fn arn(&self) -> &str {
        &self.arn
    }
    fn tags_mut(&mut self) -> &mut Tags {
        &mut self.tags
    }
}

/// Reads the tags of every item (batched, see [`describe_tags`]) and stores them on it.
pub async fn attach_tags<T: Tagged>(client: &Client, items: &mut [T]) -> Result<()> {
    let arns: Vec<String> = items.iter().map(|i| i.arn().to_owned()).collect();
    let mut tags = describe_tags(client, &arns).await?;
    for item in items {
        let found = tags.remove(item.arn()).unwrap_or_default();
        *item.tags_mut() = found;
    }
    Ok(())
}

/// Collects every page of a marker-paginated ELBv2 Describe call. `fetch` sends one request
/// with the given marker and returns that page's items and its `NextMarker`. Every listing goes
/// through here, so none can loop forever on a repeated marker.
async fn paginate<T, F, Fut>(operation: &'static str, mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let (mut items, mut markers, mut marker) = (Vec::new(), Markers::default(), None);
    loop {
        let (page, next) = fetch(marker.take()).await?;
        items.extend(page);
        marker = markers.next(operation, next.as_deref())?;
        if marker.is_none() {
            return Ok(items);
        }
    }
}

fn enum_str<E: AsRef<str>>(e: Option<&E>) -> String {
    e.map(|v| v.as_ref().to_owned()).unwrap_or_default()
}

fn observed_load_balancer(
    lb: &aws_sdk_elasticloadbalancingv2::types::LoadBalancer,
) -> Option<ObservedLoadBalancer> {
    Some(ObservedLoadBalancer {
        arn: lb.load_balancer_arn()?.to_owned(),
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        lb_type: enum_str(lb.r#type()),
        scheme: enum_str(lb.scheme()),
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        canonical_hosted_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
        tags: Tags::new(),
    })
}

fn observed_target_group(
    tg: &aws_sdk_elasticloadbalancingv2::types::TargetGroup,
) -> Option<ObservedTargetGroup> {
    Some(ObservedTargetGroup {
        arn: tg.target_group_arn()?.to_owned(),
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        port: tg.port(),
        protocol: enum_str(tg.protocol()),
        target_type: enum_str(tg.target_type()),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        load_balancer_arns: tg.load_balancer_arns().to_vec(),
        tags: Tags::new(),
    })
}

fn in_scope(scope: ListScope<'_>, vpc_id: &str) -> bool {
    scope.vpc_id.is_none_or(|want| want == vpc_id)
}

/// Every load balancer in the region (optionally only those in `vpc_id`), with tags.
pub async fn list_load_balancers(
    client: &Client,
    scope: ListScope<'_>,
) -> Result<Vec<ObservedLoadBalancer>> {
    let mut lbs: Vec<ObservedLoadBalancer> = describe_load_balancers(client, scope.page_size)
        .await?
        .iter()
        .filter_map(observed_load_balancer)
        .filter(|lb| in_scope(scope, &lb.vpc_id))
        .collect();
    attach_tags(client, &mut lbs).await?;
    Ok(lbs)
}

/// Every target group in the region (optionally only those in `vpc_id`), with tags.
pub async fn list_target_groups(
    client: &Client,
    scope: ListScope<'_>,
) -> Result<Vec<ObservedTargetGroup>> {
    let mut tgs: Vec<ObservedTargetGroup> = describe_target_groups(client, scope.page_size)
        .await?
        .iter()
        .filter_map(observed_target_group)
        .filter(|tg| in_scope(scope, &tg.vpc_id))
        .collect();
    attach_tags(client, &mut tgs).await?;
    Ok(tgs)
}

/// Load balancers tagged as owned by `cluster`.
pub async fn list_owned_load_balancers(
    client: &Client,
    cluster: &str,
    scope: ListScope<'_>,
) -> Result<Vec<ObservedLoadBalancer>> {
    let mut lbs = list_load_balancers(client, scope).await?;
    lbs.retain(|lb| is_owned_by(&lb.tags, cluster));
    Ok(lbs)
}

/// Target groups tagged as owned by `cluster`.
pub async fn list_owned_target_groups(
    client: &Client,
    cluster: &str,
    scope: ListScope<'_>,
) -> Result<Vec<ObservedTargetGroup>> {
    let mut tgs = list_target_groups(client, scope).await?;
    tgs.retain(|tg| is_owned_by(&tg.tags, cluster));
    Ok(tgs)
}

// ---- Raw listings and per-resource reads (SDK types, for the observe layer) ----

/// Every load balancer in the region, every page, as the SDK returns them.
pub async fn describe_load_balancers(
    client: &Client,
    page_size: Option<i32>,
) -> Result<Vec<types::LoadBalancer>> {
    const OP: &str = "DescribeLoadBalancers";
    paginate(OP, |marker| async move {
        let page = client
            .describe_load_balancers()
            .set_page_size(page_size)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        Ok((
            page.load_balancers().to_vec(),
            page.next_marker().map(str::to_owned),
        ))
    })
    .await
}

/// DNS name and canonical hosted zone of the named load balancers (at most 20 names per
/// call), keyed by name. Names that don't exist are simply absent.
pub async fn load_balancer_addresses(
    client: &Client,
    names: &[String],
) -> Result<BTreeMap<String, aws_lb_operator_core::dns::LbAddress>> {
    const OP: &str = "DescribeLoadBalancers";
    let mut out = BTreeMap::new();
    for chunk in names.chunks(20) {
        let page = match client
            .describe_load_balancers()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(p) => p,
            // One missing name fails the whole call: fall back to one name per call.
            Err(e) if chunk.len() > 1 => {
                tracing::debug!(error = %AwsError::from_sdk(SERVICE, OP, e), "per-name lookup");
                for name in chunk {
                    out.extend(
                        Box::pin(load_balancer_addresses(client, std::slice::from_ref(name)))
                            .await?,
                    );
                }
                continue;
            }
            Err(e) => {
                let err = AwsError::from_sdk(SERVICE, OP, e);
                if err.code == "LoadBalancerNotFound" {
                    continue;
                }
                return Err(err);
            }
        };
        for lb in page.load_balancers() {
            if let (Some(name), Some(dns), Some(zone)) = (
                lb.load_balancer_name(),
                lb.dns_name(),
                lb.canonical_hosted_zone_id(),
            ) {
                out.insert(
                    name.to_owned(),
                    aws_lb_operator_core::dns::LbAddress {
                        dns_name: dns.to_owned(),
                        canonical_hosted_zone_id: zone.to_owned(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Every target group in the region, every page, as the SDK returns them.
pub async fn describe_target_groups(
    client: &Client,
    page_size: Option<i32>,
) -> Result<Vec<types::TargetGroup>> {
    const OP: &str = "DescribeTargetGroups";
    paginate(OP, |marker| async move {
        let page = client
            .describe_target_groups()
            .set_page_size(page_size)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        Ok((
            page.target_groups().to_vec(),
            page.next_marker().map(str::to_owned),
        ))
    })
    .await
}

/// Every listener of a load balancer, every page.
pub async fn describe_listeners(client: &Client, lb_arn: &str) -> Result<Vec<types::Listener>> {
    const OP: &str = "DescribeListeners";
    paginate(OP, |marker| async move {
        let page = client
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        Ok((
            page.listeners().to_vec(),
            page.next_marker().map(str::to_owned),
        ))
    })
    .await
}

/// Every rule of a listener (the default rule included), every page.
pub async fn describe_rules(client: &Client, listener_arn: &str) -> Result<Vec<types::Rule>> {
    const OP: &str = "DescribeRules";
    paginate(OP, |marker| async move {
        let page = client
            .describe_rules()
            .listener_arn(listener_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        Ok((page.rules().to_vec(), page.next_marker().map(str::to_owned)))
    })
    .await
}

/// Every certificate of a listener (default and SNI), every page.
pub async fn describe_listener_certificates(
    client: &Client,
    listener_arn: &str,
) -> Result<Vec<types::Certificate>> {
    const OP: &str = "DescribeListenerCertificates";
    paginate(OP, |marker| async move {
        let page = client
            .describe_listener_certificates()
            .listener_arn(listener_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, OP, e))?;
        Ok((
            page.certificates().to_vec(),
            page.next_marker().map(str::to_owned),
        ))
    })
    .await
}

/// Every attribute of a listener.
pub async fn listener_attributes(
    client: &Client,
    listener_arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = client
        .describe_listener_attributes()
        .listener_arn(listener_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeListenerAttributes", e))?;
    Ok(out
        .attributes()
        .iter()
        .filter_map(|a| {
            Some((
                a.key()?.to_owned(),
                a.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// Every attribute of a load balancer.
pub async fn load_balancer_attributes(
    client: &Client,
    lb_arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = client
        .describe_load_balancer_attributes()
        .load_balancer_arn(lb_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeLoadBalancerAttributes", e))?;
    Ok(out
        .attributes()
        .iter()
        .filter_map(|a| {
            Some((
                a.key()?.to_owned(),
                a.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// Every attribute of a target group.
pub async fn target_group_attributes(
    client: &Client,
    tg_arn: &str,
) -> Result<BTreeMap<String, String>> {
    let out = client
        .describe_target_group_attributes()
        .target_group_arn(tg_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTargetGroupAttributes", e))?;
    Ok(out
        .attributes()
        .iter()
        .filter_map(|a| {
            Some((
                a.key()?.to_owned(),
                a.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// Every registered target of a target group with its health.
pub async fn target_health(
    client: &Client,
    tg_arn: &str,
) -> Result<Vec<types::TargetHealthDescription>> {
    let out = client
        .describe_target_health()
        .target_group_arn(tg_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTargetHealth", e))?;
    Ok(out.target_health_descriptions().to_vec())
}

/// One target group by ARN, else by name, as the AWS Load Balancer Controller's
/// TargetGroupBinding names it (tags are not read). `Ok(None)`: no such target group.
pub async fn find_target_group(
    client: &Client,
    arn: Option<&str>,
    name: Option<&str>,
) -> Result<Option<ObservedTargetGroup>> {
    const OP: &str = "DescribeTargetGroups";
    let req = match (arn, name) {
        (Some(arn), _) => client.describe_target_groups().target_group_arns(arn),
        (None, Some(name)) => client.describe_target_groups().names(name),
        (None, None) => return Ok(None),
    };
    match req.send().await {
        Ok(out) => Ok(out.target_groups().iter().find_map(observed_target_group)),
        Err(e) => {
            let err = AwsError::from_sdk(SERVICE, OP, e);
            if err.code == "TargetGroupNotFound" {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// The target groups of `arns` (at most 20, DescribeTargetGroups' limit) in one call, as
/// [`find_target_group`] reads one. One that does not exist fails the whole call
/// (`TargetGroupNotFound`): the caller then reads them one by one.
pub async fn find_target_groups(
    client: &Client,
    arns: &[String],
) -> Result<Vec<ObservedTargetGroup>> {
    let out = client
        .describe_target_groups()
        .set_target_group_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeTargetGroups", e))?;
    Ok(out
        .target_groups()
        .iter()
        .filter_map(observed_target_group)
        .collect())
}

/// A registered target with its health state (`initial`, `healthy`, `unhealthy`, `unused`,
/// `draining`, `unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTarget {
    /// Instance id or IP, and port.
    pub target: aws_lb_operator_core::model::TargetSpec,
    /// Health state, empty when AWS gave none.
    pub state: String,
}

/// Every registered target of a target group (DescribeTargetHealth), with its state.
pub async fn registered_targets(client: &Client, tg_arn: &str) -> Result<Vec<RegisteredTarget>> {
    Ok(target_health(client, tg_arn)
        .await?
        .iter()
        .filter_map(|d| {
            let t = d.target()?;
            Some(RegisteredTarget {
                target: aws_lb_operator_core::model::TargetSpec {
                    id: t.id()?.to_owned(),
                    port: u16::try_from(t.port()?).ok()?,
                },
                state: enum_str(d.target_health().and_then(|h| h.state())),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_stop_at_the_last_page_and_refuse_a_loop() {
        let mut m = Markers::default();
        assert_eq!(
            m.next("DescribeLoadBalancers", Some("a")).unwrap(),
            Some("a".to_owned())
        );
        assert_eq!(
            m.next("DescribeLoadBalancers", Some("b")).unwrap(),
            Some("b".to_owned())
        );
        assert_eq!(m.next("DescribeLoadBalancers", None).unwrap(), None);
        assert_eq!(m.next("DescribeLoadBalancers", Some("")).unwrap(), None);
        let err = m.next("DescribeLoadBalancers", Some("a")).unwrap_err();
        assert_eq!(err.code, "PaginationLoop");
        assert_eq!(
            err.to_string(),
            "elbv2.DescribeLoadBalancers failed: PaginationLoop: marker \"a\" returned twice; \
             stopping to avoid an endless listing"
        );
        assert!(!err.is_retryable());
    }

    #[tokio::test]
    async fn paginate_collects_every_page_and_stops_on_a_looping_api() {
        let pages = |m: Option<String>| async move {
            Ok(match m.as_deref() {
                None => (vec![1, 2], Some("a".to_owned())),
                Some("a") => (vec![3], Some("b".to_owned())),
                _ => (vec![4], None),
            })
        };
        assert_eq!(
            paginate("DescribeX", pages).await.unwrap(),
            vec![1, 2, 3, 4]
        );

        let mut calls = 0;
        let looping = |_m: Option<String>| {
            calls += 1;
            async { Ok((vec![0], Some("same".to_owned()))) }
        };
        let err = paginate::<i32, _, _>("DescribeX", looping)
            .await
            .unwrap_err();
        assert_eq!(
            (err.operation, err.code.as_str()),
            ("DescribeX", "PaginationLoop")
        );
        assert_eq!(calls, 2, "stops at the first repeated marker");
    }
}
