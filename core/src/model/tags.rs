//! Tracking tags: how the operator (and the AWS Load Balancer Controller before it) recognises the
//! AWS resources it owns.
use std::collections::BTreeMap;

use super::StackId;

/// Cluster that owns the resource.
pub const CLUSTER: &str = "elbv2.k8s.aws/cluster";
/// Stack (IngressGroup) the resource belongs to.
pub const INGRESS_STACK: &str = "ingress.k8s.aws/stack";
/// Resource id inside the stack (`LoadBalancer`, a listener port, `port:priority`, a TG id).
pub const INGRESS_RESOURCE: &str = "ingress.k8s.aws/resource";
/// Stack (LoadBalancer Service) the resource belongs to.
pub const SERVICE_STACK: &str = "service.k8s.aws/stack";
/// Resource id inside a Service stack (`LoadBalancer`, `namespace/name:port`).
pub const SERVICE_RESOURCE: &str = "service.k8s.aws/resource";
/// Resource id of the load balancer itself.
pub const LOAD_BALANCER_RESOURCE: &str = "LoadBalancer";

/// Tag keys users may not set: they decide ownership.
pub const RESERVED: [&str; 5] = [
    CLUSTER,
    INGRESS_STACK,
    INGRESS_RESOURCE,
    SERVICE_STACK,
    SERVICE_RESOURCE,
];

/// User tags overlaid with the three tracking tags of the stack's kind (tracking wins).
#[must_use]
pub fn with_tracking(
    user: &BTreeMap<String, String>,
    cluster: &str,
    stack: &StackId,
    resource: &str,
) -> BTreeMap<String, String> {
    let mut tags = user.clone();
    tags.insert(CLUSTER.to_owned(), cluster.to_owned());
    tags.insert(stack.kind.stack_tag().to_owned(), stack.tag_value());
    tags.insert(stack.kind.resource_tag().to_owned(), resource.to_owned());
    tags
}
