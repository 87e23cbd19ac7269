//! The pass API's security-group path for TargetGroupBinding `spec.networking`: the endpoint
//! security groups of targets (EC2 network interfaces of instances and pod addresses), the
//! groups' permissions, and the cluster's backend group (whose permissions belong to the stack
//! planner). The changes themselves go out through [`super::targets::send_target_changes`]
//! (any change list, one stack at a time).
use std::collections::BTreeMap;

use aws_lb_operator_core::model::tags::CLUSTER as CLUSTER_TAG;
use aws_lb_operator_core::planner::{
    ObservedSecurityGroup, BACKEND_SG_RESOURCE, CLUSTER_RESOURCE_TAG,
};

use crate::aws::ec2::{self, filter};
use crate::aws::resolve::resolve_vpc;
use crate::aws::{AwsClients, AwsError};

pub use crate::aws::ec2::InterfaceGroups;

/// The cluster's VPC: `explicit`, or the one its subnets are in.
///
/// # Errors
/// The VPC cannot be resolved (the message says why).
pub async fn cluster_vpc(
    clients: &AwsClients,
    cluster: &str,
    explicit: Option<&str>,
) -> Result<String, String> {
    resolve_vpc(clients, cluster, explicit)
        .await
        .map_err(|e| e.to_string())
}

/// The primary network interface of each instance.
///
/// # Errors
/// DescribeInstances failed.
pub async fn instance_interfaces(
    clients: &AwsClients,
    instance_ids: &[String],
) -> Result<BTreeMap<String, InterfaceGroups>, AwsError> {
    ec2::instance_primary_interfaces(&clients.ec2, instance_ids).await
}

/// The network interface of each private address in `vpc_id`.
///
/// # Errors
/// DescribeNetworkInterfaces failed.
pub async fn address_interfaces(
    clients: &AwsClients,
    vpc_id: &str,
    addresses: &[String],
) -> Result<BTreeMap<String, InterfaceGroups>, AwsError> {
    ec2::interfaces_by_address(&clients.ec2, vpc_id, addresses).await
}

/// Security groups by id, with their permissions and tags.
///
/// # Errors
/// DescribeSecurityGroups failed.
pub async fn security_groups(
    clients: &AwsClients,
    ids: &[String],
) -> Result<Vec<ObservedSecurityGroup>, AwsError> {
    ec2::security_groups_by_id(&clients.ec2, ids).await
}

/// The id of the cluster's shared backend security group, if it exists.
///
/// # Errors
/// DescribeSecurityGroups failed.
pub async fn backend_group(
    clients: &AwsClients,
    cluster: &str,
) -> Result<Option<String>, AwsError> {
    let found = ec2::describe_security_groups(
        &clients.ec2,
        vec![
            filter(&format!("tag:{CLUSTER_TAG}"), [cluster]),
            filter(
                &format!("tag:{CLUSTER_RESOURCE_TAG}"),
                [BACKEND_SG_RESOURCE],
            ),
        ],
    )
    .await?;
    Ok(found.into_iter().next().map(|g| g.id))
}
