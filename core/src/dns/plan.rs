//! Planning Route53 changes: desired alias records per hostname against the zones' records,
//! with ExternalDNS's ownership rules and policies.
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::registry::{heritage_value, owner_of, TxtMapper};
use super::{
    canonical_name, is_in_domain, AliasTarget, DnsAction, DnsChange, DnsUnit, HostedZone,
    RecordSet, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_TXT,
};
use crate::model::{DesiredHost, StackId};

/// What the operator may do to records it owns (ExternalDNS's `--policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsPolicy {
    /// Create, update and delete.
    #[default]
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
    /// Create only.
    CreateOnly,
}

/// Which hosted zones records may go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneType {
    /// Internal load balancers to private zones, internet-facing ones to public zones.
    #[default]
    Auto,
    /// Public zones only.
    Public,
    /// Private zones only.
    Private,
    /// Public and private zones.
    Both,
}

/// Settings of the DNS part of a pass (the `--dns-*` flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsOptions {
    /// Owner id written into and required from registry TXTs.
    pub owner_id: String,
    /// Only names inside these domains (and zones overlapping them); empty = all.
    pub domain_filter: Vec<String>,
    /// Never names inside these domains.
    pub exclude_domains: Vec<String>,
    /// Only these zone ids; empty = all.
    pub zone_id_filter: Vec<String>,
    /// Zone visibility.
    pub zone_type: ZoneType,
    /// What may be done to owned records.
    pub policy: DnsPolicy,
    /// Registry TXT naming.
    pub txt: TxtMapper,
    /// `EvaluateTargetHealth` of alias records (ExternalDNS's default: true).
    pub evaluate_target_health: bool,
}

impl DnsOptions {
    /// Defaults for `owner_id`: sync, every zone, no affixes, target health evaluated.
    #[must_use]
    pub fn new(owner_id: &str) -> Self {
        Self {
            owner_id: owner_id.to_owned(),
            domain_filter: Vec::new(),
            exclude_domains: Vec::new(),
            zone_id_filter: Vec::new(),
            zone_type: ZoneType::Auto,
            policy: DnsPolicy::Sync,
            txt: TxtMapper::default(),
            evaluate_target_health: true,
        }
    }

    /// True when `hostname` passes the domain filter and exclusions.
    #[must_use]
    pub fn wants_name(&self, hostname: &str) -> bool {
        (self.domain_filter.is_empty()
            || self
                .domain_filter
                .iter()
                .any(|d| is_in_domain(hostname, &canonical_name(d))))
            && !self
                .exclude_domains
                .iter()
                .any(|d| is_in_domain(hostname, &canonical_name(d)))
    }

    /// True when `zone` passes the zone-id filter, the zone type (for `Auto`: any) and the
    /// domain filter (a zone overlapping a filtered domain either way).
    #[must_use]
    pub fn wants_zone(&self, zone: &HostedZone) -> bool {
        let id_ok = self.zone_id_filter.is_empty() || self.zone_id_filter.contains(&zone.id);
        let type_ok = match self.zone_type {
            ZoneType::Auto | ZoneType::Both => true,
            ZoneType::Public => !zone.private,
            ZoneType::Private => zone.private,
        };
        let domain_ok = self.domain_filter.is_empty()
            || self.domain_filter.iter().any(|d| {
                let d = canonical_name(d);
                is_in_domain(&zone.name, &d) || is_in_domain(&d, &zone.name)
            });
        id_ok && type_ok && domain_ok
    }

    /// The zones a record for `hostname` goes to: among wanted zones of the right visibility
    /// (with [`ZoneType::Auto`]: private for internal load balancers, public otherwise; a zone-id
    /// filter lifts that), the most specific public zone and every most specific private zone.
    #[must_use]
    pub fn zones_for<'z>(
        &self,
        zones: &'z [HostedZone],
        hostname: &str,
        internal: bool,
    ) -> Vec<&'z HostedZone> {
        let auto = self.zone_type == ZoneType::Auto && self.zone_id_filter.is_empty();
        let candidates: Vec<&HostedZone> = zones
            .iter()
            .filter(|z| self.wants_zone(z) && is_in_domain(hostname, &z.name))
            .filter(|z| !auto || z.private == internal)
            .collect();
        let mut out = Vec::new();
        for private in [false, true] {
            let class: Vec<&HostedZone> = candidates
                .iter()
                .copied()
                .filter(|z| z.private == private)
                .collect();
            let Some(longest) = class.iter().map(|z| z.name.len()).max() else {
                continue;
            };
            let most_specific = class.into_iter().filter(|z| z.name.len() == longest);
            if private {
                out.extend(most_specific);
            } else {
                out.extend(most_specific.take(1));
            }
        }
        out
    }
}

/// Where a load balancer answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbAddress {
    /// `DNSName`.
    pub dns_name: String,
    /// `CanonicalHostedZoneId`.
    pub canonical_hosted_zone_id: String,
}

/// The alias target of a stack's records in this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LbTarget {
    /// The load balancer exists and stays.
    Known(LbAddress),
    /// The load balancer is created (or replaced) by this pass.
    Pending,
    /// The stack's load balancer can't be relied on (planning failed): its records are left
    /// exactly as they are.
    Unknown,
    /// The stack is deleted: its records go first.
    Deleted,
}

/// The DNS side of one stack in a pass.
#[derive(Clone, Debug)]
pub struct DnsStackInput<'a> {
    /// Stack id.
    pub stack: StackId,
    /// Hostnames that should point at the stack's load balancer (empty when it is deleted).
    pub hosts: &'a [DesiredHost],
    /// Internal load balancer (private zones under [`ZoneType::Auto`]).
    pub internal: bool,
    /// Dualstack load balancer (alias `AAAA` too).
    pub dualstack: bool,
    /// The alias target.
    pub target: LbTarget,
    /// DNS names of the stack's load balancers as they exist now: owned records pointing at
    /// them belong to this stack (and are deleted when no longer desired).
    pub current_dns_names: Vec<String>,
    /// Registry resources (`ingress/ns/name`) of the stack's objects: owned records naming
    /// them belong to this stack too.
    pub resources: Vec<String>,
    /// Hostnames of objects left out of the stack for errors: their records are kept as they
    /// are until the object is fixed or deleted.
    pub held: &'a [DesiredHost],
}

/// One zone and its records, as read.
#[derive(Clone, Copy, Debug)]
pub struct ZoneRecords<'a> {
    /// The zone.
    pub zone: &'a HostedZone,
    /// Every record set of the zone.
    pub records: &'a [RecordSet],
}

/// A record the operator may not write, reported on the object that wants it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConflict {
    /// Stack id.
    pub stack: String,
    /// The object whose hostname it is (`ingress/ns/name`).
    pub resource: String,
    /// Record name.
    pub name: String,
    /// Record type.
    #[serde(rename = "type")]
    pub record_type: String,
    /// What is in the way.
    pub message: String,
}

/// The result of DNS planning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsPlan {
    /// Changes, one unit per managed record (with its TXT), sorted by zone, name and type.
    pub units: Vec<DnsUnit>,
    /// Records left alone because someone else holds them.
    pub conflicts: Vec<DnsConflict>,
    /// Wanted names that no hosted zone (of the right visibility, within the filters) can hold:
    /// left to whoever serves them, as ExternalDNS does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unzoned: Vec<String>,
}

/// Owner and registry TXTs of one (name, type) in one zone.
struct Ownership<'r> {
    /// The owner named by the first heritage TXT found (current name first).
    owner: Option<String>,
    /// Registry TXTs of ours (current and legacy names), to delete with the record.
    ours: Vec<&'r RecordSet>,
    /// The TXT at the current registry name, whoever's it is.
    current_txt: Option<&'r RecordSet>,
}

struct ZoneIndex<'r> {
    zone: &'r HostedZone,
    by_name: BTreeMap<(String, String), Vec<&'r RecordSet>>,
}

impl<'r> ZoneIndex<'r> {
    fn new(z: &ZoneRecords<'r>) -> Self {
        let mut by_name: BTreeMap<(String, String), Vec<&RecordSet>> = BTreeMap::new();
        for r in z.records {
            by_name
                .entry((r.name.clone(), r.record_type.clone()))
                .or_default()
                .push(r);
        }
        Self {
            zone: z.zone,
            by_name,
        }
    }

    fn get(&self, name: &str, rtype: &str) -> &[&'r RecordSet] {
        self.by_name
            .get(&(name.to_owned(), rtype.to_owned()))
            .map_or(&[][..], Vec::as_slice)
    }

    fn ownership(&self, opts: &DnsOptions, name: &str, rtype: &str) -> Ownership<'r> {
        let current_name = opts.txt.txt_name(name, rtype);
        let current_txt = self.get(&current_name, TYPE_TXT).first().copied();
        let heritage_owner = |t: &RecordSet| t.values.iter().find_map(|v| owner_of(v));
        // As ExternalDNS reads them: the TXT at the current registry name decides; the legacy
        // names (cname-, untyped) count only when the current one names no owner.
        let current_owner = current_txt.and_then(heritage_owner);
        let legacy: Vec<(&'r RecordSet, String)> = opts
            .txt
            .legacy_txt_names(name, rtype)
            .iter()
            .flat_map(|n| self.get(n, TYPE_TXT))
            .filter_map(|t| Some((*t, heritage_owner(t)?)))
            .collect();
        let legacy_ours = || {
            legacy
                .iter()
                .filter(|(_, o)| *o == opts.owner_id)
                .map(|(t, _)| *t)
        };
        let owner = match current_owner {
            Some(o) => Some(o),
            None if legacy_ours().next().is_some() => Some(opts.owner_id.clone()),
            None => legacy.first().map(|(_, o)| o.clone()),
        };
        // Every registry TXT of ours goes with the record: the current one and legacy ones.
        let mut ours = Vec::new();
        if owner.as_deref() == Some(opts.owner_id.as_str()) {
            ours.extend(current_txt.filter(|t| heritage_owner(t).is_some()));
            ours.extend(legacy_ours());
        }
        Ownership {
            owner,
            ours,
            current_txt,
        }
    }
}

/// An alias DNS name as compared: canonical, without the `dualstack.` prefix Route53 consoles
/// add.
fn alias_key(dns_name: &str) -> String {
    let c = canonical_name(dns_name);
    c.strip_prefix("dualstack.").map(str::to_owned).unwrap_or(c)
}

fn same_alias(a: &AliasTarget, b: &AliasTarget) -> bool {
    alias_key(&a.dns_name) == alias_key(&b.dns_name)
        && a.hosted_zone_id == b.hosted_zone_id
        && a.evaluate_target_health == b.evaluate_target_health
}

struct Want<'a> {
    stack: &'a StackId,
    resource: &'a str,
    target: &'a LbTarget,
}

/// Plans the Route53 changes of a pass.
///
/// `all_zones` are the listed zones, `zones` those whose records were read. Owned `A`/`AAAA`
/// records that no stack wants are deleted only when they belong to a stack of the pass: they
/// alias one of its load balancers, or their registry TXT names one of its objects. Records
/// aliasing anything else (another cluster's, or ExternalDNS's records for other sources under
/// the same owner id) are never deleted, even when pruning.
///
/// `owners` names, for each hostname, the stack that keeps it among *all* current stacks (the
/// first by id), also those outside this pass: a stack of the pass never takes a name another
/// stack keeps, and never deletes a record whose name another stack wants (that stack's pass
/// re-points it). Empty: the stacks of the pass decide among themselves.
#[must_use]
pub fn plan_dns(
    opts: &DnsOptions,
    all_zones: &[HostedZone],
    zones: &[ZoneRecords<'_>],
    stacks: &[DnsStackInput<'_>],
    owners: &BTreeMap<String, StackId>,
) -> DnsPlan {
    let mut plan = DnsPlan::default();
    let index: BTreeMap<&str, ZoneIndex<'_>> = zones
        .iter()
        .map(|z| (z.zone.id.as_str(), ZoneIndex::new(z)))
        .collect();

    // Desired records, keyed by (zone, name, type); the first stack (by id) wins a name.
    let mut wanted: BTreeMap<(String, String, &'static str), Want<'_>> = BTreeMap::new();
    let mut held: BTreeSet<String> = BTreeSet::new();
    let mut sorted: Vec<&DnsStackInput<'_>> = stacks.iter().collect();
    sorted.sort_by(|a, b| a.stack.cmp(&b.stack));
    let in_pass: BTreeSet<&StackId> = stacks.iter().map(|s| &s.stack).collect();
    held.extend(
        owners
            .iter()
            .filter(|(_, owner)| !in_pass.contains(owner))
            .map(|(name, _)| name.clone()),
    );
    for s in &sorted {
        held.extend(s.held.iter().map(|h| h.hostname.clone()));
        if s.target == LbTarget::Unknown {
            held.extend(s.hosts.iter().map(|h| h.hostname.clone()));
            continue;
        }
        for host in s.hosts {
            if !opts.wants_name(&host.hostname) {
                continue;
            }
            if let Some(owner) = owners.get(&host.hostname).filter(|o| **o != s.stack) {
                plan.conflicts.push(DnsConflict {
                    stack: s.stack.to_string(),
                    resource: host.resource.clone(),
                    name: host.hostname.clone(),
                    record_type: TYPE_A.to_owned(),
                    message: format!(
                        "{} is also a hostname of stack {owner}, which keeps it",
                        host.hostname
                    ),
                });
                continue;
            }
            let targets = opts.zones_for(all_zones, &host.hostname, s.internal);
            if targets.is_empty() {
                plan.unzoned.push(host.hostname.clone());
                continue;
            }
            let types: &[&'static str] = if s.dualstack {
                &[TYPE_A, TYPE_AAAA]
            } else {
                &[TYPE_A]
            };
            for zone in targets {
                for rtype in types {
                    let key = (zone.id.clone(), host.hostname.clone(), *rtype);
                    if let Some(first) = wanted.get(&key) {
                        if first.stack != &s.stack {
                            plan.conflicts.push(DnsConflict {
                                stack: s.stack.to_string(),
                                resource: host.resource.clone(),
                                name: host.hostname.clone(),
                                record_type: (*rtype).to_owned(),
                                message: format!(
                                    "{} is also a hostname of {} (stack {}), which keeps it",
                                    host.hostname, first.resource, first.stack
                                ),
                            });
                        }
                        continue;
                    }
                    wanted.insert(
                        key,
                        Want {
                            stack: &s.stack,
                            resource: &host.resource,
                            target: &s.target,
                        },
                    );
                }
            }
        }
    }

    // Creates and updates.
    for ((zone_id, name, rtype), want) in &wanted {
        let Some(zi) = index.get(zone_id.as_str()) else {
            continue;
        };
        let conflict = |message: String| DnsConflict {
            stack: want.stack.to_string(),
            resource: want.resource.to_owned(),
            name: name.clone(),
            record_type: (*rtype).to_owned(),
            message,
        };
        let own = zi.ownership(opts, name, rtype);
        let existing = zi.get(name, rtype);
        let desired_alias = match want.target {
            LbTarget::Known(a) => AliasTarget {
                dns_name: canonical_name(&a.dns_name),
                hosted_zone_id: a.canonical_hosted_zone_id.clone(),
                evaluate_target_health: opts.evaluate_target_health,
            },
            _ => AliasTarget {
                dns_name: String::new(),
                hosted_zone_id: String::new(),
                evaluate_target_health: opts.evaluate_target_health,
            },
        };
        let pending = matches!(want.target, LbTarget::Pending).then(|| want.stack.clone());
        let record = RecordSet::alias(name, rtype, desired_alias.clone());
        let mine = own.owner.as_deref() == Some(opts.owner_id.as_str());
        // A CNAME at the name (what ExternalDNS writes with --aws-prefer-cname): when it is ours,
        // it is replaced by the alias records in one change batch (delete the CNAME and its
        // TXTs, create the alias and its TXT), as ExternalDNS's planner does; otherwise it is
        // left alone.
        let mut replaced: Vec<DnsChange> = Vec::new();
        if let Some(cname) = zi.get(name, TYPE_CNAME).first() {
            let cname_own = zi.ownership(opts, name, TYPE_CNAME);
            if cname_own.owner.as_deref() != Some(opts.owner_id.as_str()) {
                plan.conflicts.push(conflict(format!(
                    "a CNAME record {name} exists in zone {}, so no {rtype} record can be created",
                    zi.zone.name
                )));
                continue;
            }
            if *rtype != TYPE_A {
                // Created in the A record's change batch, which replaces the CNAME.
                continue;
            }
            if opts.policy != DnsPolicy::Sync {
                plan.conflicts.push(conflict(format!(
                    "the CNAME record {name} in zone {} is ours, but --dns-policy {} never \
                     deletes records, so no {rtype} record can replace it",
                    zi.zone.name,
                    match opts.policy {
                        DnsPolicy::UpsertOnly => "upsert-only",
                        _ => "create-only",
                    }
                )));
                continue;
            }
            replaced.push(DnsChange {
                action: DnsAction::Delete,
                record: (*cname).clone(),
            });
            replaced.extend(cname_own.ours.iter().map(|t| DnsChange {
                action: DnsAction::Delete,
                record: (*t).clone(),
            }));
        }
        if let Some(r) = existing.iter().find(|r| r.set_identifier.is_some()) {
            plan.conflicts.push(conflict(format!(
                "{name} {rtype} in zone {} is a routing-policy record (set identifier {:?}), \
                 which is not managed",
                zi.zone.name,
                r.set_identifier.as_deref().unwrap_or_default()
            )));
            continue;
        }
        let unit = |changes: Vec<DnsChange>| DnsUnit {
            zone_id: zone_id.clone(),
            zone_name: zi.zone.name.clone(),
            stack: want.stack.to_string(),
            resource: want.resource.to_owned(),
            name: name.clone(),
            record_type: (*rtype).to_owned(),
            changes,
            pending: pending.clone(),
        };
        match (existing.first(), mine) {
            (None, _) => {
                if let (Some(other), false) = (&own.owner, mine) {
                    plan.conflicts.push(conflict(format!(
                        "the registry record {} in zone {} belongs to owner {other:?}",
                        opts.txt.txt_name(name, rtype),
                        zi.zone.name
                    )));
                    continue;
                }
                let txt_name = opts.txt.txt_name(name, rtype);
                if !is_in_domain(&txt_name, &zi.zone.name) {
                    plan.conflicts.push(conflict(format!(
                        "the registry record {txt_name} for {name} falls outside zone {}: at a \
                         zone apex set --dns-txt-prefix with %{{record_type}} ending in '.'",
                        zi.zone.name
                    )));
                    continue;
                }
                if own.current_txt.is_some() && !mine {
                    plan.conflicts.push(conflict(format!(
                        "a TXT record {txt_name} not written by an ExternalDNS-compatible owner \
                         exists in zone {}",
                        zi.zone.name
                    )));
                    continue;
                }
                let mut changes = std::mem::take(&mut replaced);
                changes.push(DnsChange {
                    action: DnsAction::Create,
                    record,
                });
                if own.current_txt.is_none() {
                    changes.push(DnsChange {
                        action: DnsAction::Create,
                        record: RecordSet::txt(
                            &txt_name,
                            &heritage_value(&opts.owner_id, want.resource),
                        ),
                    });
                }
                // Replacing a CNAME: the AAAA of a dualstack load balancer joins the batch too.
                let aaaa_key = (zone_id.clone(), name.clone(), TYPE_AAAA);
                if !changes.iter().all(|c| c.action == DnsAction::Create)
                    && wanted.contains_key(&aaaa_key)
                {
                    let aaaa_txt = opts.txt.txt_name(name, TYPE_AAAA);
                    changes.push(DnsChange {
                        action: DnsAction::Create,
                        record: RecordSet::alias(name, TYPE_AAAA, desired_alias.clone()),
                    });
                    if zi.get(&aaaa_txt, TYPE_TXT).is_empty() {
                        changes.push(DnsChange {
                            action: DnsAction::Create,
                            record: RecordSet::txt(
                                &aaaa_txt,
                                &heritage_value(&opts.owner_id, want.resource),
                            ),
                        });
                    }
                }
                plan.units.push(unit(changes));
            }
            (Some(current), true) => {
                if opts.policy == DnsPolicy::CreateOnly {
                    continue;
                }
                let same = pending.is_none()
                    && current
                        .alias
                        .as_ref()
                        .is_some_and(|a| same_alias(a, &desired_alias));
                let mut changes = Vec::new();
                if !same {
                    changes.push(DnsChange {
                        action: DnsAction::Upsert,
                        record,
                    });
                }
                // Ours by a legacy TXT only (cname-, untyped): the current-format TXT is
                // written once, as ExternalDNS's registry migration does (it force-updates a
                // record of its owner whose current TXT is missing); the legacy TXT stays and
                // goes with the record. A TXT at the current name that is not a heritage value
                // is never overwritten.
                let txt_name = opts.txt.txt_name(name, rtype);
                if own.current_txt.is_none() && is_in_domain(&txt_name, &zi.zone.name) {
                    changes.push(DnsChange {
                        action: DnsAction::Upsert,
                        record: RecordSet::txt(
                            &txt_name,
                            &heritage_value(&opts.owner_id, want.resource),
                        ),
                    });
                }
                if !changes.is_empty() {
                    plan.units.push(unit(changes));
                }
            }
            (Some(_), false) => {
                let message = match &own.owner {
                    Some(other) => format!(
                        "{name} {rtype} in zone {} is owned by {other:?} (registry record {})",
                        zi.zone.name,
                        opts.txt.txt_name(name, rtype)
                    ),
                    None => format!(
                        "{name} {rtype} exists in zone {} without an ownership TXT record ({}), \
                         so it is not ours to change",
                        zi.zone.name,
                        opts.txt.txt_name(name, rtype)
                    ),
                };
                plan.conflicts.push(conflict(message));
            }
        }
    }

    // Deletes: owned A/AAAA records nobody wants, within the pass's scope.
    if opts.policy == DnsPolicy::Sync {
        plan_deletes(opts, &index, &wanted, &held, &sorted, &mut plan);
    }
    plan.units.sort_by(|a, b| {
        (&a.zone_id, &a.name, &a.record_type).cmp(&(&b.zone_id, &b.name, &b.record_type))
    });
    plan.conflicts.sort();
    plan.conflicts.dedup();
    plan.unzoned.sort();
    plan.unzoned.dedup();
    plan
}

fn plan_deletes(
    opts: &DnsOptions,
    index: &BTreeMap<&str, ZoneIndex<'_>>,
    wanted: &BTreeMap<(String, String, &'static str), Want<'_>>,
    held: &BTreeSet<String>,
    stacks: &[&DnsStackInput<'_>],
    plan: &mut DnsPlan,
) {
    let mut scope_names: BTreeMap<String, &StackId> = BTreeMap::new();
    let mut scope_resources: BTreeMap<&str, &StackId> = BTreeMap::new();
    for s in stacks.iter().filter(|s| s.target != LbTarget::Unknown) {
        for n in &s.current_dns_names {
            scope_names.insert(alias_key(n), &s.stack);
        }
        for r in &s.resources {
            scope_resources.insert(r.as_str(), &s.stack);
        }
    }
    for (zone_id, zi) in index {
        for ((name, rtype), records) in &zi.by_name {
            let rtype: &'static str = match rtype.as_str() {
                TYPE_A => TYPE_A,
                TYPE_AAAA => TYPE_AAAA,
                _ => continue,
            };
            if held.contains(name) {
                continue;
            }
            let key = ((*zone_id).to_owned(), name.clone(), rtype);
            if wanted.contains_key(&key) || !opts.wants_name(name) {
                continue;
            }
            let Some(record) = records.iter().find(|r| r.set_identifier.is_none()) else {
                continue;
            };
            let own = zi.ownership(opts, name, rtype);
            if own.owner.as_deref() != Some(opts.owner_id.as_str()) {
                continue;
            }
            // ExternalDNS writes alias AAAA next to every alias A; keep such an AAAA while its
            // A is wanted and it points at the same target.
            if rtype == TYPE_AAAA {
                let a_key = ((*zone_id).to_owned(), name.clone(), TYPE_A);
                if let (Some(w), Some(alias)) = (wanted.get(&a_key), &record.alias) {
                    if let LbTarget::Known(addr) = w.target {
                        if alias_key(&alias.dns_name) == alias_key(&addr.dns_name) {
                            continue;
                        }
                    }
                }
            }
            let resource = own
                .ours
                .iter()
                .find_map(|t| {
                    t.values
                        .iter()
                        .find_map(|v| super::registry::parse_heritage(v)?.remove("resource"))
                })
                .unwrap_or_default();
            let by_alias = record
                .alias
                .as_ref()
                .and_then(|a| scope_names.get(&alias_key(&a.dns_name)).copied());
            let by_resource = scope_resources.get(resource.as_str()).copied();
            let Some(stack) = by_alias.or(by_resource).map(ToString::to_string) else {
                continue;
            };
            let mut changes = vec![DnsChange {
                action: DnsAction::Delete,
                record: (*record).clone(),
            }];
            changes.extend(own.ours.iter().map(|t| DnsChange {
                action: DnsAction::Delete,
                record: (*t).clone(),
            }));
            plan.units.push(DnsUnit {
                zone_id: (*zone_id).to_owned(),
                zone_name: zi.zone.name.clone(),
                stack,
                resource,
                name: name.clone(),
                record_type: rtype.to_owned(),
                changes,
                pending: None,
            });
        }
    }
}
