//! Hostnames and the Route53 records a stack wants, as data. The DNS planner
//! (`core::dns`) reads these; the model knows nothing of it.
use serde::{Deserialize, Serialize};

/// One hostname of a stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredHost {
    /// Canonical hostname (`www.example.com`, `*.example.com`).
    pub hostname: String,
    /// The object it comes from, as the registry names it (`ingress/ns/name`).
    pub resource: String,
}

/// What a planned record points at, as `plan` prints it (before any load balancer exists).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAlias {
    /// Name of the load balancer the alias points at.
    pub load_balancer: String,
    /// `EvaluateTargetHealth`.
    pub evaluate_target_health: bool,
}

/// One record the operator wants, as `plan` prints it (`dnsRecords`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRecord {
    /// Record name.
    pub name: String,
    /// Record type (`A`, or `AAAA` for dualstack load balancers).
    #[serde(rename = "type")]
    pub record_type: String,
    /// Alias target (every record the operator writes is an alias to a load balancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_target: Option<PlannedAlias>,
    /// Values of a non-alias record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// TTL of a non-alias record (alias records have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Owner id written into the registry TXT.
    pub owner: String,
    /// The object the hostname comes from (`ingress/ns/name`).
    pub resource: String,
    /// Stack id.
    pub stack: String,
}
