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
/// Stack (ALB Gateway, `namespace/name`) the resource belongs to: the AWS Load Balancer
/// Controller's ALB Gateway tag prefix `gateway.k8s.aws.alb`.
pub const ALB_GATEWAY_STACK: &str = "gateway.k8s.aws.alb/stack";
/// Resource id inside an ALB Gateway stack.
pub const ALB_GATEWAY_RESOURCE: &str = "gateway.k8s.aws.alb/resource";
/// Stack (NLB Gateway, `namespace/name`) the resource belongs to: the AWS Load Balancer
/// Controller's NLB Gateway tag prefix `gateway.k8s.aws.nlb`.
pub const NLB_GATEWAY_STACK: &str = "gateway.k8s.aws.nlb/stack";
/// Resource id inside an NLB Gateway stack.
pub const NLB_GATEWAY_RESOURCE: &str = "gateway.k8s.aws.nlb/resource";
/// Resource id of the load balancer itself.
pub const LOAD_BALANCER_RESOURCE: &str = "LoadBalancer";
/// Tag on a listener or rule whose actions authenticate with OIDC: the fingerprint of the
/// client secret last sent ([`super::ClientSecret::fingerprint`]). AWS never returns
/// the secret, so this is how a changed Secret is seen: a different value rewrites the actions.
pub const OIDC_CLIENT_SECRET: &str = "aws-lb-operator.k8s.aws/oidc-client-secret";

/// Tag keys users may not set: they decide ownership.
pub const RESERVED: [&str; 5] = [
    CLUSTER,
    INGRESS_STACK,
    INGRESS_RESOURCE,
    SERVICE_STACK,
    SERVICE_RESOURCE,
];

/// Tracking tag keys of Gateway stacks, also refused in the user tags of Gateway
/// configuration. Kept apart from [`RESERVED`], whose list the Ingress and Service messages
/// quote.
pub const GATEWAY_RESERVED: [&str; 4] = [
    ALB_GATEWAY_STACK,
    ALB_GATEWAY_RESOURCE,
    NLB_GATEWAY_STACK,
    NLB_GATEWAY_RESOURCE,
];

/// Longest tag key AWS accepts.
pub const MAX_KEY_LEN: usize = 128;
/// Longest tag value AWS accepts.
pub const MAX_VALUE_LEN: usize = 256;

/// What AWS refuses in a user tag, as the expectation for a message; `None` when the tag is
/// fine. Lengths are counted in characters (AWS counts Unicode characters).
#[must_use]
pub fn user_tag_problem(key: &str, value: &str) -> Option<String> {
    let key_len = key.chars().count();
    let value_len = value.chars().count();
    if RESERVED.contains(&key) {
        Some(format!(
            "keys other than the tracking tags {}",
            RESERVED.join(", ")
        ))
    } else if key_len > MAX_KEY_LEN {
        Some(format!(
            "tag keys of at most {MAX_KEY_LEN} characters (key {:?} has {key_len})",
            key.chars().take(40).collect::<String>() + "…"
        ))
    } else if value_len > MAX_VALUE_LEN {
        Some(format!(
            "tag values of at most {MAX_VALUE_LEN} characters (the value of {key:?} has {value_len})"
        ))
    } else if key.to_ascii_lowercase().starts_with("aws:") {
        Some(format!(
            "tag keys not starting with \"aws:\", which AWS reserves (key {key:?})"
        ))
    } else {
        None
    }
}

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
