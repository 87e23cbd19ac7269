//! Route53 records in the manner of ExternalDNS, pure: which records should exist for the
//! hostnames of our stacks, which existing records we own (the TXT registry), the minimal
//! changes, and how they are packed into `ChangeResourceRecordSets` calls.
//!
//! The AWS layer (`src/aws/route53.rs`) lists hosted zones and record sets into the types
//! below and sends [`DnsUnit`]s in the [`Batch`]es that [`batches`] packs. Names are kept in
//! one canonical form everywhere: lower case, no trailing dot, `*` instead of `\052`.
use serde::{Deserialize, Serialize};

use crate::model::{DesiredState, IpAddressType, Stack, StackId};
// The model's DNS data, also named from here (`dns::DesiredHost`, ...).
pub use crate::model::{DesiredHost, PlannedAlias, PlannedRecord};

mod batch;
mod plan;
pub mod registry;
#[cfg(test)]
mod tests;

pub use batch::{batches, weight, Batch, BatchLimits};
pub use plan::{
    plan_dns, DnsConflict, DnsOptions, DnsPlan, DnsPolicy, DnsStackInput, LbAddress, LbTarget,
    ZoneRecords, ZoneType,
};

/// Type of the alias records we manage.
pub const TYPE_A: &str = "A";
/// Type of the alias records we manage for dualstack load balancers.
pub const TYPE_AAAA: &str = "AAAA";
/// Type of registry records.
pub const TYPE_TXT: &str = "TXT";
/// Type that can't coexist with other types at one name.
pub const TYPE_CNAME: &str = "CNAME";
/// TTL of registry TXT records (ExternalDNS's default).
pub const TXT_TTL: i64 = 300;

/// A hosted zone, as listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedZone {
    /// Zone id without the `/hostedzone/` prefix (`Z0123456789`).
    pub id: String,
    /// Zone name in canonical form (`example.com`).
    pub name: String,
    /// True for private zones.
    pub private: bool,
    /// `ResourceRecordSetCount` as listed: a cheap change marker for caching record reads.
    pub record_count: i64,
}

/// The alias target of a record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasTarget {
    /// DNS name of the target in canonical form.
    pub dns_name: String,
    /// Hosted zone id of the target (the load balancer's `CanonicalHostedZoneId`).
    pub hosted_zone_id: String,
    /// Route53's `EvaluateTargetHealth`.
    pub evaluate_target_health: bool,
}

/// One resource record set, as Route53 holds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSet {
    /// Record name in canonical form (`*.example.com`).
    pub name: String,
    /// Record type (`A`, `AAAA`, `TXT`, `CNAME`, ...).
    #[serde(rename = "type")]
    pub record_type: String,
    /// Set identifier of weighted, latency, failover, geo and multivalue records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    /// TTL; `None` for alias records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Values as Route53 holds them (TXT values include their quotes); empty for aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Alias target, for alias records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasTarget>,
}

impl RecordSet {
    /// An alias record.
    #[must_use]
    pub fn alias(name: &str, record_type: &str, target: AliasTarget) -> Self {
        Self {
            name: name.to_owned(),
            record_type: record_type.to_owned(),
            set_identifier: None,
            ttl: None,
            values: Vec::new(),
            alias: Some(target),
        }
    }

    /// A TXT record with one value (given without quotes; quoted here).
    #[must_use]
    pub fn txt(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            record_type: TYPE_TXT.to_owned(),
            set_identifier: None,
            ttl: Some(TXT_TTL),
            values: vec![format!("\"{value}\"")],
            alias: None,
        }
    }
}

/// What a change does, as `ChangeResourceRecordSets` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsAction {
    /// Create; fails when the record exists.
    Create,
    /// Create or replace.
    Upsert,
    /// Delete; the record must match exactly.
    Delete,
}

impl DnsAction {
    /// The API spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Upsert => "UPSERT",
            Self::Delete => "DELETE",
        }
    }
}

/// One change of one record set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsChange {
    /// What to do.
    pub action: DnsAction,
    /// The record (for `Delete`, exactly as it exists).
    pub record: RecordSet,
}

/// Changes that must reach Route53 in one call: a record and its registry TXT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsUnit {
    /// Hosted zone of every change.
    pub zone_id: String,
    /// Zone name, for messages.
    pub zone_name: String,
    /// The stack whose load balancer the record points (or pointed) at.
    pub stack: String,
    /// The Kubernetes object the hostname comes from (`ingress/ns/name`), empty when unknown.
    pub resource: String,
    /// The managed record's name.
    pub name: String,
    /// The managed record's type (`A` or `AAAA`).
    #[serde(rename = "type")]
    pub record_type: String,
    /// The changes, record first.
    pub changes: Vec<DnsChange>,
    /// Set when the alias target is a load balancer this pass creates: the executor fills in
    /// its address ([`DnsUnit::resolve_alias`]) once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<StackId>,
}

impl DnsUnit {
    /// Fills in the alias target of every aliased change (for [`DnsUnit::pending`] units).
    pub fn resolve_alias(&mut self, address: &LbAddress) {
        for change in &mut self.changes {
            if let Some(alias) = &mut change.record.alias {
                alias.dns_name = canonical_name(&address.dns_name);
                alias
                    .hosted_zone_id
                    .clone_from(&address.canonical_hosted_zone_id);
            }
        }
        self.pending = None;
    }

    /// The action on the managed record (the first change).
    #[must_use]
    pub fn action(&self) -> Option<DnsAction> {
        self.changes.first().map(|c| c.action)
    }
}

/// A name in canonical form: lower case, no trailing dot, octal escapes (`\052`) decoded.
#[must_use]
pub fn canonical_name(name: &str) -> String {
    let trimmed = name.trim().trim_end_matches('.');
    let mut out = String::with_capacity(trimmed.len());
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let code = u32::from(bytes[i + 1] - b'0') * 64
                + u32::from(bytes[i + 2] - b'0') * 8
                + u32::from(bytes[i + 3] - b'0');
            if let Some(c) = char::from_u32(code) {
                out.push(c);
            }
            i += 4;
            continue;
        }
        let ch = trimmed[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out.to_lowercase()
}

/// True when `name` is `zone` or below it (label-wise).
#[must_use]
pub fn is_in_domain(name: &str, zone: &str) -> bool {
    if zone.is_empty() {
        return true;
    }
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The records `stacks` want under `opts` (names outside the domain filter left out), sorted
/// by name and type. Zones are not known offline, so this is per name, not per zone.
#[must_use]
pub fn desired_records(stacks: &[Stack], opts: &DnsOptions) -> Vec<PlannedRecord> {
    let mut out = Vec::new();
    for stack in stacks {
        let dualstack = stack.load_balancer.ip_address_type != IpAddressType::Ipv4;
        for host in stack
            .hostnames
            .iter()
            .filter(|h| opts.wants_name(&h.hostname))
        {
            let types: &[&str] = if dualstack {
                &[TYPE_A, TYPE_AAAA]
            } else {
                &[TYPE_A]
            };
            for t in types {
                out.push(PlannedRecord {
                    name: host.hostname.clone(),
                    record_type: (*t).to_owned(),
                    alias_target: Some(PlannedAlias {
                        load_balancer: stack.load_balancer.name.clone(),
                        evaluate_target_health: opts.evaluate_target_health,
                    }),
                    targets: Vec::new(),
                    ttl: None,
                    owner: opts.owner_id.clone(),
                    resource: host.resource.clone(),
                    stack: stack.id.to_string(),
                });
            }
        }
    }
    out.sort();
    out
}

// Here rather than in `model`, so that the model depends on nothing in `core` (the arrow
// points from the DNS planner to the model only).
impl DesiredState {
    /// Fills in `dns_records` under `opts`.
    #[must_use]
    pub fn with_dns_records(mut self, opts: &DnsOptions) -> Self {
        self.dns_records = desired_records(&self.stacks, opts);
        self
    }
}
