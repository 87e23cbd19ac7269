//! Creates and changes that meet their own earlier success.
//!
//! When a call took effect but its response was lost, the SDK's retry (or the next pass, or a
//! concurrent pass that planned the same thing) meets the result: a duplicate, or nothing left
//! to remove. Each function here reads the resource back and succeeds when it is exactly as
//! wanted, so a lost response costs a read, not a failed pass. What "exactly as wanted" means
//! is decided by the pure functions of `core::planner::cluster`.
use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::model::{ActionSpec, ConditionSpec};
use aws_lb_operator_core::planner::cluster;
use aws_lb_operator_core::planner::{NewLoadBalancer, NewTargetGroup, SgPermission};

use super::ec2::{ec2_err, ip_permissions};
use crate::aws::{ec2, elbv2, observe, AwsError};

/// Attempts of an authorize or revoke that keeps meeting a concurrent change of the same
/// group (each attempt reads the group first).
const ATTEMPTS: usize = 3;

/// The id of the security group `name` in `vpc_id` when it carries every tag of `tags` (so it
/// is the one an earlier attempt or a concurrent pass created for the same purpose); `None`
/// for a group of that name that is not ours.
pub(super) async fn owned_security_group(
    client: &aws_sdk_ec2::Client,
    name: &str,
    vpc_id: &str,
    tags: &Tags,
) -> Result<Option<String>, AwsError> {
    let groups = ec2::describe_security_groups(
        client,
        vec![
            ec2::filter("vpc-id", [vpc_id]),
            ec2::filter("group-name", [name]),
        ],
    )
    .await?;
    let found = groups
        .into_iter()
        .find(|g| tags.iter().all(|(k, v)| g.tags.get(k) == Some(v)));
    match &found {
        Some(g) => tracing::info!(
            group = %g.id,
            name,
            "security group already exists with our tags (an earlier attempt or a concurrent \
             pass created it); adopted"
        ),
        None => tracing::warn!(
            name,
            "security group name is held by a group that is not ours"
        ),
    }
    Ok(found.map(|g| g.id))
}

/// The ingress permissions of `group` now; `None` when the group is gone.
async fn ingress(
    client: &aws_sdk_ec2::Client,
    group: &str,
) -> Result<Option<Vec<SgPermission>>, AwsError> {
    let found = client
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await;
    match found {
        Ok(out) => Ok(out
            .security_groups()
            .first()
            .and_then(ec2::observed_security_group)
            .map(|g| g.ingress)),
        Err(e) => {
            let e = AwsError::from_sdk("ec2", "DescribeSecurityGroups", e);
            if e.has_code("InvalidGroup.NotFound") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Adds `wanted` to `group`. On `InvalidPermission.Duplicate` (some are there already: ours
/// from a lost response, or a concurrent pass's), reads the group and adds only what is
/// still missing; done when nothing is.
pub(super) async fn authorize(
    client: &aws_sdk_ec2::Client,
    group: &str,
    wanted: Vec<SgPermission>,
) -> Result<(), AwsError> {
    let mut todo = wanted;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .authorize_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(ip_permissions(&todo)))
            .send()
            .await
            .map(|_| ())
            .map_err(ec2_err("AuthorizeSecurityGroupIngress"));
        match sent {
            Err(e) if e.has_code("InvalidPermission.Duplicate") && attempt < ATTEMPTS => {
                let have = ingress(client, group).await?.unwrap_or_default();
                todo = cluster::missing(&todo, &have);
                tracing::info!(
                    group,
                    still_missing = todo.len(),
                    "permissions already present (an earlier attempt or a concurrent pass)"
                );
                if todo.is_empty() {
                    return Ok(());
                }
            }
            other => return other,
        }
    }
}

/// Removes `planned` from `group`. On `InvalidPermission.NotFound` (some are gone already),
/// reads the group and removes only what is left; done when nothing is, or the group is gone.
pub(super) async fn revoke(
    client: &aws_sdk_ec2::Client,
    group: &str,
    planned: Vec<SgPermission>,
) -> Result<(), AwsError> {
    let mut todo = planned;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .revoke_security_group_ingress()
            .group_id(group)
            .set_ip_permissions(Some(ip_permissions(&todo)))
            .send()
            .await
            .map(|_| ())
            .map_err(ec2_err("RevokeSecurityGroupIngress"));
        match sent {
            Err(e) if e.has_code("InvalidGroup.NotFound") => {
                tracing::info!(group, "security group already gone");
                return Ok(());
            }
            Err(e) if e.has_code("InvalidPermission.NotFound") && attempt < ATTEMPTS => {
                let Some(have) = ingress(client, group).await? else {
                    return Ok(());
                };
                todo = cluster::present(&todo, &have);
                tracing::info!(
                    group,
                    still_present = todo.len(),
                    "permissions already gone (an earlier attempt or a concurrent pass)"
                );
                if todo.is_empty() {
                    return Ok(());
                }
            }
            other => return other,
        }
    }
}

/// True when the rule at `priority` of `listener` has exactly `conditions` and `actions`
/// (forward target groups by ARN): a create that met `PriorityInUse` found its own earlier
/// success (or an identical rule) and adopts it.
pub(super) async fn identical_rule(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    listener: &str,
    priority: u32,
    conditions: &[ConditionSpec],
    actions: &[ActionSpec],
) -> Result<bool, AwsError> {
    let rules = elbv2::describe_rules(client, listener).await?;
    let same = rules
        .iter()
        .filter_map(observe::rule_of)
        .find(|r| r.priority == priority)
        .is_some_and(|r| cluster::rule_matches(&r, conditions, actions));
    if same {
        tracing::info!(
            listener,
            priority,
            "rule already exists exactly as wanted (an earlier attempt); adopted"
        );
    }
    Ok(same)
}

/// After a CreateListener that needed more than one attempt: an earlier attempt may have
/// taken effect (its response lost), and where the API is not idempotent (LocalStack; AWS
/// returns the same listener) the retry created a second listener on the port. Deletes every
/// listener of `lb` on `port` other than `kept` that carries every tag of `tags` (the create's:
/// a copy; ownership is decided by tags even on the stack's own load balancer).
pub(super) async fn drop_listener_copies(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    lb: &str,
    port: u16,
    kept: &str,
    tags: &Tags,
) -> Result<(), AwsError> {
    let listeners = elbv2::describe_listeners(client, lb).await?;
    for l in listeners {
        let Some(arn) = l.listener_arn() else {
            continue;
        };
        if arn == kept || l.port() != Some(i32::from(port)) || !has_tags(client, arn, tags).await? {
            continue;
        }
        tracing::info!(
            listener = arn,
            kept,
            port,
            "a retried CreateListener had already taken effect; deleting the copy"
        );
        let gone = client.delete_listener().listener_arn(arn).send().await;
        if let Err(e) = gone {
            let e = AwsError::from_sdk("elbv2", "DeleteListener", e);
            if !e.has_code("ListenerNotFound") {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The ARN of the target group named like `tg` when it carries every tag of `tags` and has the
/// port, protocol, target type and VPC of the create: an earlier attempt whose response was
/// lost created it, so it is adopted. `None` for a group of that name that differs or is not
/// ours (the create then fails as AWS answered).
pub(super) async fn owned_target_group(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    tg: &NewTargetGroup,
    tags: &Tags,
) -> Result<Option<String>, AwsError> {
    let found = client
        .describe_target_groups()
        .names(&tg.name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elbv2", "DescribeTargetGroups", e))?;
    let Some(o) = found.target_groups().first() else {
        return Ok(None);
    };
    let Some(arn) = o.target_group_arn() else {
        return Ok(None);
    };
    let same = o.port() == Some(i32::from(tg.port))
        && o.protocol().map(|p| p.as_str()) == Some(tg.protocol.as_str())
        && o.target_type().map(|t| t.as_str()) == Some(tg.target_type.as_str())
        && o.vpc_id() == Some(tg.vpc_id.as_str());
    let ours = same && has_tags(client, arn, tags).await?;
    log_adoption("target group", &tg.name, arn, ours);
    Ok(ours.then(|| arn.to_owned()))
}

/// The ARN of the load balancer named like `lb` when it carries every tag of `tags` and has
/// its type and scheme: adopted as [`owned_target_group`] adopts a target group.
pub(super) async fn owned_load_balancer(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    lb: &NewLoadBalancer,
    tags: &Tags,
) -> Result<Option<String>, AwsError> {
    let found = client
        .describe_load_balancers()
        .names(&lb.name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("elbv2", "DescribeLoadBalancers", e))?;
    let Some(o) = found.load_balancers().first() else {
        return Ok(None);
    };
    let Some(arn) = o.load_balancer_arn() else {
        return Ok(None);
    };
    let same = o.r#type().map(|t| t.as_str()) == Some(lb.lb_type.as_str())
        && o.scheme().map(|s| s.as_str()) == Some(lb.scheme.as_str());
    let ours = same && has_tags(client, arn, tags).await?;
    log_adoption("load balancer", &lb.name, arn, ours);
    Ok(ours.then(|| arn.to_owned()))
}

async fn has_tags(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    tags: &Tags,
) -> Result<bool, AwsError> {
    let have = elbv2::describe_tags(client, &[arn.to_owned()]).await?;
    let have = have.get(arn).cloned().unwrap_or_default();
    Ok(tags.iter().all(|(k, v)| have.get(k) == Some(v)))
}

fn log_adoption(what: &str, name: &str, arn: &str, ours: bool) {
    if ours {
        tracing::info!(
            name,
            arn,
            "{what} already exists with our tags and settings (an earlier attempt whose \
             response was lost created it); adopted"
        );
    } else {
        tracing::warn!(
            name,
            arn,
            "{what} name is held by one that is not ours or differs"
        );
    }
}

/// After a CreateLoadBalancer that needed more than one attempt: where the API is not
/// idempotent (LocalStack; AWS returns the same load balancer for the same name) the retry
/// created a second load balancer of that name. Deletes every load balancer named `name`
/// other than `kept` that carries every tag of `tags` (ours, of this stack: a copy).
pub(super) async fn drop_load_balancer_copies(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    kept: &str,
    tags: &Tags,
) -> Result<(), AwsError> {
    // Every load balancer, not `Names`: LocalStack answers a name with one of the copies.
    let all = elbv2::describe_load_balancers(client, None).await?;
    for lb in all
        .iter()
        .filter(|lb| lb.load_balancer_name() == Some(name))
    {
        let Some(arn) = lb.load_balancer_arn() else {
            continue;
        };
        if arn == kept || !has_tags(client, arn, tags).await? {
            continue;
        }
        tracing::info!(
            load_balancer = arn,
            kept,
            name,
            "a retried CreateLoadBalancer had already taken effect; deleting the copy"
        );
        let gone = client
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await;
        if let Err(e) = gone {
            let e = AwsError::from_sdk("elbv2", "DeleteLoadBalancer", e);
            if !e.has_code("LoadBalancerNotFound") {
                return Err(e);
            }
        }
    }
    Ok(())
}
