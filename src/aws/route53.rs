//! Route53 adapters: list hosted zones and record sets into `core::dns` types, apply
//! [`DnsUnit`]s in as few `ChangeResourceRecordSets` calls as the limits allow, and cache zone
//! reads between controller passes.
//!
//! Every name leaves here in canonical form ([`canonical_name`]: lower case, no trailing dot,
//! `\052` decoded to `*`), so the pure planner compares like with like. Writes are packed by
//! [`batches`]; a batch Route53 rejects for its content is split in halves and retried, so one
//! bad record fails alone instead of blocking every record packed with it.
use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

use aws_lb_operator_core::dns::{
    batches, canonical_name, AliasTarget, BatchLimits, DnsAction, DnsUnit, HostedZone, RecordSet,
};
use aws_sdk_route53::types;
use aws_smithy_types::error::operation::BuildError;
use tracing::Instrument;

use super::error::{AwsError, AwsErrorKind, Result};
use super::AwsClients;

const SERVICE: &str = "route53";
const CHANGE_OP: &str = "ChangeResourceRecordSets";

/// `ListHostedZones` page size (the API's maximum).
pub const ZONE_PAGE_SIZE: i32 = 100;
/// `ListResourceRecordSets` page size (the API's maximum).
pub const RECORD_PAGE_SIZE: i32 = 300;
/// Comment of every change batch we send.
pub const CHANGE_COMMENT: &str = "aws-lb-operator";

/// Error codes of a rejected `ChangeResourceRecordSets` that concern the whole call, not its
/// changes: splitting the batch cannot help, so it is not split.
const WHOLE_CALL_CODES: &[&str] = &[
    "NoSuchHostedZone",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
];

type SdkError<E> =
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>;

/// Maps an SDK error of the Route53 `operation` to an [`AwsError`].
fn r53_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| AwsError::from_sdk(SERVICE, operation, e)
}

/// An error found on our side of `operation` (a request we could not build, a page we cannot
/// follow).
fn local_err(operation: &'static str, code: &str, message: String) -> AwsError {
    AwsError {
        service: SERVICE,
        operation,
        code: code.to_owned(),
        message,
        status: None,
        kind: AwsErrorKind::Other,
        attempts: None,
        elapsed: None,
    }
}

fn build_err(e: &BuildError) -> AwsError {
    local_err(CHANGE_OP, "ConstructionFailure", e.to_string())
}

/// Collects every page of a paginated listing. `fetch` sends one request starting at the given
/// marker and returns that page's items and the next page's marker (`None` after the last). A
/// marker seen before is refused: a looping API must not become an endless stream of calls.
async fn paginate<T, M, F, Fut>(operation: &'static str, mut fetch: F) -> Result<Vec<T>>
where
    M: Clone + Eq + Hash + Display,
    F: FnMut(Option<M>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<M>)>>,
{
    let (mut items, mut seen, mut marker) = (Vec::new(), HashSet::new(), None);
    loop {
        let (page, next) = fetch(marker.take()).await?;
        items.extend(page);
        let Some(next) = next else {
            return Ok(items);
        };
        if !seen.insert(next.clone()) {
            return Err(AwsError::pagination_loop(
                SERVICE,
                operation,
                &next.to_string(),
            ));
        }
        tracing::debug!(operation, marker = %next, items = items.len(), "next page");
        marker = Some(next);
    }
}

/// The marker of a page that says it is truncated, or an error when it names no next page.
fn next_marker<M>(operation: &'static str, truncated: bool, next: Option<M>) -> Result<Option<M>> {
    match (truncated, next) {
        (false, _) => Ok(None),
        (true, Some(m)) => Ok(Some(m)),
        (true, None) => Err(local_err(
            operation,
            "InvalidResponse",
            "a truncated page names no next page".to_owned(),
        )),
    }
}

fn hosted_zone(z: &types::HostedZone) -> HostedZone {
    HostedZone {
        id: z.id().trim_start_matches("/hostedzone/").to_owned(),
        name: canonical_name(z.name()),
        private: z
            .config()
            .is_some_and(types::HostedZoneConfig::private_zone),
        record_count: z.resource_record_set_count().unwrap_or_default(),
    }
}

/// Every hosted zone of the account (`ListHostedZones`, 100 per page), sorted by name then id.
///
/// # Errors
/// The first failed call, or a looping pagination marker.
pub async fn list_zones(clients: &AwsClients) -> Result<Vec<HostedZone>> {
    const OP: &str = "ListHostedZones";
    let client = &clients.route53;
    let mut zones = paginate(OP, |marker: Option<String>| async move {
        let page = client
            .list_hosted_zones()
            .max_items(ZONE_PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(r53_err(OP))?;
        let next = next_marker(
            OP,
            page.is_truncated(),
            page.next_marker().map(str::to_owned),
        )?;
        Ok((page.hosted_zones().iter().map(hosted_zone).collect(), next))
    })
    .instrument(tracing::debug_span!("route53.list_zones"))
    .await?;
    zones.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    tracing::debug!(zones = zones.len(), "listed hosted zones");
    Ok(zones)
}

/// Where `ListResourceRecordSets` continues: `NextRecordName`, `NextRecordType` and, for
/// records with set identifiers, `NextRecordIdentifier`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RecordMarker {
    name: String,
    record_type: Option<types::RrType>,
    identifier: Option<String>,
}

impl Display for RecordMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(t) = &self.record_type {
            write!(f, " {}", t.as_str())?;
        }
        if let Some(id) = &self.identifier {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// A record set as listed, in canonical form: TTL `None` for aliases, values as Route53 holds
/// them (TXT values with their quotes).
fn record_set(r: &types::ResourceRecordSet) -> RecordSet {
    let alias = r.alias_target().map(|a| AliasTarget {
        dns_name: canonical_name(a.dns_name()),
        hosted_zone_id: a.hosted_zone_id().to_owned(),
        evaluate_target_health: a.evaluate_target_health(),
    });
    RecordSet {
        name: canonical_name(r.name()),
        record_type: r.r#type().as_str().to_owned(),
        set_identifier: r.set_identifier().map(str::to_owned),
        ttl: if alias.is_some() { None } else { r.ttl() },
        values: r
            .resource_records()
            .iter()
            .map(|v| v.value().to_owned())
            .collect(),
        alias,
    }
}

/// The record set as `ChangeResourceRecordSets` takes it: an alias target without TTL, or TTL
/// and values; the set identifier when there is one.
fn sdk_record(r: &RecordSet) -> std::result::Result<types::ResourceRecordSet, BuildError> {
    let builder = types::ResourceRecordSet::builder()
        .name(&r.name)
        .r#type(types::RrType::from(r.record_type.as_str()))
        .set_set_identifier(r.set_identifier.clone());
    let builder = match &r.alias {
        Some(a) => builder.alias_target(
            types::AliasTarget::builder()
                .dns_name(&a.dns_name)
                .hosted_zone_id(&a.hosted_zone_id)
                .evaluate_target_health(a.evaluate_target_health)
                .build()?,
        ),
        None => builder.set_ttl(r.ttl).set_resource_records(Some(
            r.values
                .iter()
                .map(|v| types::ResourceRecord::builder().value(v).build())
                .collect::<std::result::Result<_, _>>()?,
        )),
    };
    builder.build()
}

/// The SDK changes of one unit, in its order.
fn sdk_changes(unit: &DnsUnit) -> std::result::Result<Vec<types::Change>, BuildError> {
    unit.changes
        .iter()
        .map(|c| {
            types::Change::builder()
                .action(types::ChangeAction::from(c.action.as_str()))
                .resource_record_set(sdk_record(&c.record)?)
                .build()
        })
        .collect()
}

/// Every record set of the zone `zone_id` (`ListResourceRecordSets`, 300 per page), names in
/// canonical form, sorted (by name, type, set identifier, then content).
///
/// # Errors
/// The first failed call, or a repeated next-record marker (Route53 must never return one).
pub async fn list_records(clients: &AwsClients, zone_id: &str) -> Result<Vec<RecordSet>> {
    const OP: &str = "ListResourceRecordSets";
    let client = &clients.route53;
    let mut records = paginate(OP, |marker: Option<RecordMarker>| async move {
        let (name, record_type, identifier) = match marker {
            Some(m) => (Some(m.name), m.record_type, m.identifier),
            None => (None, None, None),
        };
        let page = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(RECORD_PAGE_SIZE)
            .set_start_record_name(name)
            .set_start_record_type(record_type)
            .set_start_record_identifier(identifier)
            .send()
            .await
            .map_err(r53_err(OP))?;
        let next = page.next_record_name().map(|name| RecordMarker {
            name: name.to_owned(),
            record_type: page.next_record_type().cloned(),
            identifier: page.next_record_identifier().map(str::to_owned),
        });
        let next = next_marker(OP, page.is_truncated(), next)?;
        Ok((
            page.resource_record_sets().iter().map(record_set).collect(),
            next,
        ))
    })
    .instrument(tracing::debug_span!("route53.list_records", zone_id))
    .await?;
    records.sort();
    tracing::debug!(zone_id, records = records.len(), "listed record sets");
    Ok(records)
}

/// What became of one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsOutcome {
    /// Route53 accepted its changes.
    Done,
    /// Route53 rejected it (or could not be reached); the message names the record and carries
    /// AWS's error.
    Failed(String),
    /// Not applied: its alias target is still pending, or it was in a batch that failed as a
    /// whole (the failure is reported once, on the batch's first unit).
    Skipped,
}

/// The result of [`apply_units`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsApplyReport {
    /// One outcome per unit, in the order of the units given.
    pub outcomes: Vec<DnsOutcome>,
    /// `ChangeResourceRecordSets` calls made, retries of split batches included.
    pub calls: usize,
}

impl DnsApplyReport {
    /// `(unit index, message)` of every failed unit.
    pub fn failures(&self) -> Vec<(usize, &str)> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                DnsOutcome::Failed(m) => Some((i, m.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// True when every change of `unit` is already in effect in `records` (the zone as read
/// now): each created or upserted record exists exactly as wanted, each deleted record is
/// gone. Records are identified by name, type and set identifier.
fn already_applied(unit: &DnsUnit, records: &[RecordSet]) -> bool {
    unit.changes.iter().all(|c| {
        let same_key = |r: &&RecordSet| {
            r.name == c.record.name
                && r.record_type == c.record.record_type
                && r.set_identifier == c.record.set_identifier
        };
        let found = records.iter().find(same_key);
        match c.action {
            DnsAction::Delete => found.is_none(),
            DnsAction::Create | DnsAction::Upsert => found.is_some_and(|r| {
                let mut have = r.clone();
                let mut want = c.record.clone();
                have.values.sort();
                want.values.sort();
                have == want
            }),
        }
    })
}

/// True when Route53 rejected a batch for what it contains (`InvalidChangeBatch`,
/// `InvalidInput`, other 4xx answers), so that a part of it may succeed. Throttling, transport
/// failures, 5xx and errors about the whole call (no such zone, access denied) are not.
fn is_content_error(e: &AwsError) -> bool {
    e.kind == AwsErrorKind::Service
        && e.status
            .is_some_and(|s| (400..500).contains(&s) && s != 401 && s != 403)
        && !WHOLE_CALL_CODES.contains(&e.code.as_str())
}

fn failure(unit: &DnsUnit, e: &impl Display) -> String {
    format!(
        "{} {} in zone {}: {e}",
        unit.name, unit.record_type, unit.zone_name
    )
}

/// The one failure of a batch that failed as a whole, reported on its first unit.
fn batch_failure(first: &DnsUnit, units: usize, e: &impl Display) -> String {
    if units == 1 {
        return failure(first, e);
    }
    format!(
        "{} {} and {} more record changes in zone {} (one batch) were not applied; a re-run \
         reads the zone and finishes the job: {e}",
        first.name,
        first.record_type,
        units - 1,
        first.zone_name
    )
}

/// One `ChangeResourceRecordSets` call with `changes` in the zone `zone_id`, counted in
/// `calls`.
async fn send_batch(
    clients: &AwsClients,
    zone_id: &str,
    changes: impl Iterator<Item = types::Change>,
    calls: &mut usize,
) -> Result<()> {
    let batch = types::ChangeBatch::builder()
        .comment(CHANGE_COMMENT)
        .set_changes(Some(changes.collect()))
        .build()
        .map_err(|e| build_err(&e))?;
    *calls += 1;
    clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(r53_err(CHANGE_OP))?;
    Ok(())
}

/// Sends `units` with one `ChangeResourceRecordSets` per [`batches`] batch (comment
/// [`CHANGE_COMMENT`]). A batch rejected for its content (`InvalidChangeBatch`, `InvalidInput`,
/// other 4xx answers except those about the whole call) first has its zone read back: units
/// already exactly as wanted (a `CREATE` whose earlier attempt took effect but whose response
/// was lost, a `DELETE` of a record already gone) are `Done`, and the rest is sent again.
/// When none was, the batch is split in halves by units (the first half takes the odd unit)
/// and each half retried the same way, so a bad unit ends `Failed` alone while the rest are
/// `Done`. Other errors (throttling after the
/// SDK's own retries, transport) fail the whole batch without splitting. Units whose alias
/// target is still `pending` are not sent: the caller resolves them first.
pub async fn apply_units(
    clients: &AwsClients,
    units: &[DnsUnit],
    limits: &BatchLimits,
) -> DnsApplyReport {
    let span = tracing::info_span!("route53.apply", units = units.len());
    async move {
        let mut report = DnsApplyReport {
            outcomes: vec![DnsOutcome::Skipped; units.len()],
            calls: 0,
        };
        // (index into `units`, its SDK changes) of every unit to send.
        let mut ready = Vec::new();
        for (i, unit) in units.iter().enumerate() {
            if unit.pending.is_some() {
                tracing::debug!(name = %unit.name, "alias target pending; not sent");
                continue;
            }
            match sdk_changes(unit) {
                Ok(changes) => ready.push((i, changes)),
                Err(e) => report.outcomes[i] = DnsOutcome::Failed(failure(unit, &build_err(&e))),
            }
        }
        let ready_units: Vec<DnsUnit> = ready.iter().map(|(i, _)| units[*i].clone()).collect();
        for batch in batches(&ready_units, limits) {
            // Parts of the batch still to send, as indices into `ready`; the next is last.
            let mut parts = vec![batch.units];
            while let Some(mut part) = parts.pop() {
                let changes = part.iter().flat_map(|&r| ready[r].1.iter().cloned());
                match send_batch(clients, &batch.zone_id, changes, &mut report.calls).await {
                    Ok(()) => {
                        tracing::debug!(zone_id = %batch.zone_id, units = part.len(), "changed");
                        for &r in &part {
                            report.outcomes[ready[r].0] = DnsOutcome::Done;
                        }
                    }
                    Err(e) if is_content_error(&e) => {
                        // Units already exactly as wanted met their own earlier success (a
                        // lost response the SDK retried, or a concurrent pass): done.
                        let records = list_records(clients, &batch.zone_id).await;
                        let (done, rest): (Vec<usize>, Vec<usize>) = match &records {
                            Ok(records) => part
                                .iter()
                                .partition(|&&r| already_applied(&units[ready[r].0], records)),
                            Err(_) => (Vec::new(), part.clone()),
                        };
                        for &r in &done {
                            let unit = &units[ready[r].0];
                            tracing::info!(
                                name = %unit.name, r#type = %unit.record_type,
                                "record already exactly as wanted (an earlier attempt or a \
                                 concurrent pass); done"
                            );
                            report.outcomes[ready[r].0] = DnsOutcome::Done;
                        }
                        if rest.is_empty() {
                            continue;
                        }
                        if rest.len() < part.len() {
                            parts.push(rest);
                        } else if part.len() > 1 {
                            tracing::debug!(
                                zone_id = %batch.zone_id, units = part.len(), error = %e,
                                "batch rejected; retrying its halves"
                            );
                            let second = part.split_off(part.len().div_ceil(2));
                            parts.push(second);
                            parts.push(part);
                        } else {
                            for &r in &part {
                                let unit = &units[ready[r].0];
                                tracing::warn!(name = %unit.name, error = %e, "record change failed");
                                report.outcomes[ready[r].0] =
                                    DnsOutcome::Failed(failure(unit, &e));
                            }
                        }
                    }
                    Err(e) => {
                        // The call failed as a whole (throttling or 5xx after the SDK's
                        // retries, transport): one failure, on the batch's first unit; the
                        // others were not applied because of it.
                        let Some((&first, rest)) = part.split_first() else {
                            continue;
                        };
                        let unit = &units[ready[first].0];
                        let message = batch_failure(unit, part.len(), &e);
                        tracing::warn!(zone = %unit.zone_name, units = part.len(), error = %e, "record batch failed");
                        report.outcomes[ready[first].0] = DnsOutcome::Failed(message);
                        for &r in rest {
                            report.outcomes[ready[r].0] = DnsOutcome::Skipped;
                        }
                    }
                }
            }
        }
        report
    }
    .instrument(span)
    .await
}

/// The cached record sets of one zone.
#[derive(Clone, Debug)]
struct CachedZone {
    /// The zone's record count these records correspond to.
    record_count: i64,
    read_at: Instant,
    records: Vec<RecordSet>,
}

/// Zone and record reads shared by the passes of a controller, so unchanged zones are not read
/// again every pass.
///
/// Zones are listed at most once per pass ([`ZoneCache::begin_pass`] starts one). A zone's
/// records are read again only when its listed `ResourceRecordSetCount` differs from the cached
/// one or the cached read is older than the maximum age (which bounds how long an out-of-band
/// change that keeps the count, such as an UPSERT, goes unseen). Our own writes, reported
/// through [`ZoneCache::applied`], update the cache in place instead of forcing a read.
#[derive(Clone, Debug)]
pub struct ZoneCache {
    max_age: Duration,
    zones: Option<Vec<HostedZone>>,
    records: HashMap<String, CachedZone>,
    zone_lists: u64,
    record_reads: u64,
    record_hits: u64,
}

impl ZoneCache {
    /// An empty cache whose record reads are reused for at most `max_age`.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            zones: None,
            records: HashMap::new(),
            zone_lists: 0,
            record_reads: 0,
            record_hits: 0,
        }
    }

    /// Starts a pass: the next [`ZoneCache::zones`] lists the zones again.
    pub fn begin_pass(&mut self) {
        self.zones = None;
    }

    /// Every hosted zone, listed once per pass. Records of zones no longer listed are
    /// forgotten.
    ///
    /// # Errors
    /// The listing failed (the next call tries again).
    pub async fn zones(&mut self, clients: &AwsClients) -> Result<&[HostedZone]> {
        let zones = match self.zones.take() {
            Some(zones) => zones,
            None => {
                let zones = list_zones(clients).await?;
                self.zone_lists += 1;
                let ids: HashSet<&str> = zones.iter().map(|z| z.id.as_str()).collect();
                self.records.retain(|id, _| ids.contains(id.as_str()));
                zones
            }
        };
        Ok(self.zones.insert(zones).as_slice())
    }

    /// The record sets of `zone` (as [`list_records`] returns them): the cached ones when
    /// `zone.record_count` equals the cached count and the read is younger than the maximum
    /// age, else read from Route53.
    ///
    /// # Errors
    /// The read failed (the cached records, if any, are kept for the next try).
    pub async fn records(
        &mut self,
        clients: &AwsClients,
        zone: &HostedZone,
    ) -> Result<&[RecordSet]> {
        let fresh = self.records.get(&zone.id).is_some_and(|c| {
            c.record_count == zone.record_count && c.read_at.elapsed() < self.max_age
        });
        if fresh {
            self.record_hits += 1;
        } else {
            let records = list_records(clients, &zone.id).await?;
            self.record_reads += 1;
            self.records.insert(
                zone.id.clone(),
                CachedZone {
                    record_count: zone.record_count,
                    read_at: Instant::now(),
                    records,
                },
            );
        }
        Ok(self
            .records
            .get(&zone.id)
            .map_or(&[][..], |c| c.records.as_slice()))
    }

    /// Applies a unit Route53 accepted to the cached records of its zone (CREATE inserts,
    /// UPSERT replaces or inserts, DELETE removes; records match by name, type and set
    /// identifier) and adjusts the cached record count, also in this pass's zone listing, so
    /// our own writes do not force a read. Does nothing for a zone not cached.
    pub fn applied(&mut self, unit: &DnsUnit) {
        let Some(cached) = self.records.get_mut(&unit.zone_id) else {
            return;
        };
        let before = cached.record_count;
        for change in &unit.changes {
            let new = &change.record;
            let found = cached.records.iter().position(|r| {
                (&r.name, &r.record_type, &r.set_identifier)
                    == (&new.name, &new.record_type, &new.set_identifier)
            });
            match (change.action, found) {
                (DnsAction::Create | DnsAction::Upsert, Some(i)) => {
                    cached.records[i] = new.clone();
                }
                (DnsAction::Create | DnsAction::Upsert, None) => {
                    cached.record_count += 1;
                    cached.records.push(new.clone());
                }
                (DnsAction::Delete, Some(i)) => {
                    cached.record_count -= 1;
                    cached.records.remove(i);
                }
                (DnsAction::Delete, None) => {}
            }
        }
        cached.records.sort();
        let delta = cached.record_count - before;
        if let Some(zone) = self
            .zones
            .as_mut()
            .and_then(|zones| zones.iter_mut().find(|z| z.id == unit.zone_id))
        {
            zone.record_count += delta;
        }
    }

    /// Forgets a zone's records (a change to it failed: it changed behind our back).
    pub fn invalidate(&mut self, zone_id: &str) {
        self.records.remove(zone_id);
    }

    /// `ListHostedZones` listings made (one per pass at most).
    pub fn zone_lists(&self) -> u64 {
        self.zone_lists
    }

    /// Zones whose records were read from Route53.
    pub fn record_reads(&self) -> u64 {
        self.record_reads
    }

    /// [`ZoneCache::records`] calls answered from the cache.
    pub fn record_hits(&self) -> u64 {
        self.record_hits
    }
}

#[cfg(test)]
mod tests {
    use aws_lb_operator_core::dns::DnsChange;

    use super::*;

    fn alias(name: &str) -> RecordSet {
        RecordSet::alias(
            name,
            "A",
            AliasTarget {
                dns_name: "lb-1.eu-central-2.elb.amazonaws.com".to_owned(),
                hosted_zone_id: "Z215JYRZR1TBD5".to_owned(),
                evaluate_target_health: true,
            },
        )
    }

    fn unit(changes: Vec<(DnsAction, RecordSet)>) -> DnsUnit {
        DnsUnit {
            zone_id: "Z1".to_owned(),
            zone_name: "example.test".to_owned(),
            stack: "ns/app".to_owned(),
            resource: String::new(),
            name: changes[0].1.name.clone(),
            record_type: changes[0].1.record_type.clone(),
            changes: changes
                .into_iter()
                .map(|(action, record)| DnsChange { action, record })
                .collect(),
            pending: None,
        }
    }

    #[test]
    fn records_round_trip_through_the_sdk_types() {
        let mut weighted = RecordSet::txt("a-www.example.test", "heritage=external-dns");
        weighted.set_identifier = Some("blue".to_owned());
        for r in [alias("www.example.test"), weighted] {
            let sdk = sdk_record(&r).unwrap();
            assert_eq!(sdk.ttl(), r.ttl);
            assert_eq!(record_set(&sdk), r);
        }
        let listed = types::ResourceRecordSet::builder()
            .name("\\052.Apps.Example.Test.")
            .r#type(types::RrType::A)
            .ttl(60)
            .alias_target(
                types::AliasTarget::builder()
                    .dns_name("LB-1.elb.amazonaws.com.")
                    .hosted_zone_id("Z2")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let r = record_set(&listed);
        assert_eq!(r.name, "*.apps.example.test");
        assert_eq!(r.ttl, None, "aliases have no TTL");
        assert_eq!(r.alias.unwrap().dns_name, "lb-1.elb.amazonaws.com");
    }

    #[test]
    fn only_content_errors_split_a_batch() {
        let err = |code: &str, status: Option<u16>, kind| AwsError {
            service: SERVICE,
            operation: CHANGE_OP,
            code: code.to_owned(),
            message: String::new(),
            status,
            kind,
            attempts: None,
            elapsed: None,
        };
        let service = AwsErrorKind::Service;
        assert!(is_content_error(&err(
            "InvalidChangeBatch",
            Some(400),
            service
        )));
        assert!(is_content_error(&err("InvalidInput", Some(400), service)));
        assert!(!is_content_error(&err(
            "NoSuchHostedZone",
            Some(404),
            service
        )));
        assert!(!is_content_error(&err("AccessDenied", Some(403), service)));
        assert!(!is_content_error(&err("InternalError", Some(500), service)));
        let throttled = AwsErrorKind::Throttled;
        assert!(!is_content_error(&err("Throttling", Some(400), throttled)));
        assert!(!is_content_error(&err(
            "Timeout",
            None,
            AwsErrorKind::Transport
        )));
    }

    #[tokio::test]
    async fn paginate_refuses_a_repeated_record_marker() {
        let marker = RecordMarker {
            name: "a.example.test.".to_owned(),
            record_type: Some(types::RrType::Txt),
            identifier: None,
        };
        let mut calls = 0;
        let err = paginate::<i32, _, _, _>("ListResourceRecordSets", |_| {
            calls += 1;
            let m = marker.clone();
            async move { Ok((vec![1], Some(m))) }
        })
        .await
        .unwrap_err();
        assert_eq!(err.code, "PaginationLoop");
        assert!(err.message.contains("a.example.test. TXT"), "{err}");
        assert_eq!(calls, 2);
        let truncated = next_marker::<String>("ListHostedZones", true, None).unwrap_err();
        assert_eq!(truncated.code, "InvalidResponse");
    }

    #[test]
    fn applied_units_update_cached_records_and_counts() {
        let mut cache = ZoneCache::new(Duration::from_secs(60));
        let txt = RecordSet::txt("a-old.example.test", "v");
        cache.records.insert(
            "Z1".to_owned(),
            CachedZone {
                record_count: 3,
                read_at: Instant::now(),
                records: vec![
                    alias("old.example.test"),
                    txt.clone(),
                    alias("keep.example.test"),
                ],
            },
        );
        cache.zones = Some(vec![HostedZone {
            id: "Z1".to_owned(),
            name: "example.test".to_owned(),
            private: false,
            record_count: 3,
        }]);
        let mut moved = alias("keep.example.test");
        moved.alias.as_mut().unwrap().dns_name = "lb-2.elb.amazonaws.com".to_owned();
        cache.applied(&unit(vec![
            (DnsAction::Create, alias("new.example.test")),
            (DnsAction::Create, RecordSet::txt("a-new.example.test", "v")),
        ]));
        cache.applied(&unit(vec![
            (DnsAction::Delete, alias("old.example.test")),
            (DnsAction::Delete, txt),
        ]));
        cache.applied(&unit(vec![(DnsAction::Upsert, moved.clone())]));
        let cached = &cache.records["Z1"];
        let mut want = vec![
            moved,
            alias("new.example.test"),
            RecordSet::txt("a-new.example.test", "v"),
        ];
        want.sort();
        assert_eq!(cached.records, want);
        assert_eq!(cached.record_count, 3);
        assert_eq!(cache.zones.as_ref().unwrap()[0].record_count, 3);
        cache.applied(&unit(vec![(DnsAction::Create, alias("x.example.test"))]));
        assert_eq!(cache.records["Z1"].record_count, 4);
        assert_eq!(cache.zones.as_ref().unwrap()[0].record_count, 4);
    }
}
