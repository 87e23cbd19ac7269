//! WAFv2 and Shield Advanced adapters: the web ACL and the Shield protection of a load
//! balancer (as LBC's `pkg/deploy/wafv2` and `pkg/deploy/shield` read them), and whether the
//! account has a Shield Advanced subscription.
use aws_lb_operator_core::planner::{ObservedProtection, ObservedShield, ObservedWebAcl};
use aws_sdk_shield::types::SubscriptionState;

use super::error::{AwsError, Result};

/// The web ACL associated with `lb_arn` (GetWebACLForResource).
pub async fn web_acl_for(client: &aws_sdk_wafv2::Client, lb_arn: &str) -> Result<ObservedWebAcl> {
    let out = client
        .get_web_acl_for_resource()
        .resource_arn(lb_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("wafv2", "GetWebACLForResource", e))?;
    Ok(ObservedWebAcl {
        web_acl_arn: out.web_acl().map(|w| w.arn().to_owned()),
    })
}

/// Whether the account's Shield Advanced subscription is active (GetSubscriptionState).
pub async fn shield_subscribed(client: &aws_sdk_shield::Client) -> Result<bool> {
    let out = client
        .get_subscription_state()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("shield", "GetSubscriptionState", e))?;
    Ok(out.subscription_state() == &SubscriptionState::Active)
}

/// The Shield protection of `lb_arn` (DescribeProtection by resource; none when AWS answers
/// ResourceNotFoundException).
pub async fn protection_for(
    client: &aws_sdk_shield::Client,
    lb_arn: &str,
) -> Result<ObservedShield> {
    match client
        .describe_protection()
        .resource_arn(lb_arn)
        .send()
        .await
    {
        Ok(out) => Ok(ObservedShield {
            protection: out.protection().and_then(|p| {
                Some(ObservedProtection {
                    id: p.id()?.to_owned(),
                    name: p.name().unwrap_or_default().to_owned(),
                })
            }),
        }),
        Err(e) => {
            let e = AwsError::from_sdk("shield", "DescribeProtection", e);
            if e.has_code("ResourceNotFoundException") {
                Ok(ObservedShield::default())
            } else {
                Err(e)
            }
        }
    }
}
