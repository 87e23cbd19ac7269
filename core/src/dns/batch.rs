//! Packing [`DnsUnit`]s into as few `ChangeResourceRecordSets` calls as Route53's limits allow.
//!
//! Limits per call (Route53 quotas): at most 1,000 changes and 32,000 characters of record
//! values, an `UPSERT` counting twice for both. A unit (a record and its TXT) is never split,
//! and every call is for one hosted zone.
use std::collections::BTreeMap;

use super::{DnsAction, DnsUnit};

/// Per-call limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    /// Changes per call (`UPSERT` counts twice).
    pub max_changes: usize,
    /// Characters of record values per call (`UPSERT` counts twice).
    pub max_chars: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_changes: 1000,
            max_chars: 32_000,
        }
    }
}

/// One call: the zone and the indices of the units it carries, in plan order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Hosted zone id.
    pub zone_id: String,
    /// Indices into the unit slice given to [`batches`].
    pub units: Vec<usize>,
}

/// Weight of one unit: (changes, characters), `UPSERT` doubled.
#[must_use]
pub fn weight(unit: &DnsUnit) -> (usize, usize) {
    unit.changes.iter().fold((0, 0), |(n, c), change| {
        let factor = if change.action == DnsAction::Upsert {
            2
        } else {
            1
        };
        let chars: usize = change.record.values.iter().map(String::len).sum();
        (n + factor, c + factor * chars)
    })
}

/// Packs units into calls: per zone, in plan order, each call filled up to the limits. Units
/// are small and alike, so filling in order is within one unit of the minimum per call. A unit
/// that alone exceeds a limit goes in a call of its own (Route53 will reject it, and only it).
#[must_use]
pub fn batches(units: &[DnsUnit], limits: &BatchLimits) -> Vec<Batch> {
    let mut by_zone: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, u) in units.iter().enumerate() {
        by_zone.entry(u.zone_id.as_str()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (zone, indices) in by_zone {
        let mut current = Batch {
            zone_id: zone.to_owned(),
            units: Vec::new(),
        };
        let (mut changes, mut chars) = (0, 0);
        for i in indices {
            let (n, c) = weight(&units[i]);
            let fits = changes + n <= limits.max_changes && chars + c <= limits.max_chars;
            if !fits && !current.units.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Batch {
                        zone_id: zone.to_owned(),
                        units: Vec::new(),
                    },
                ));
                changes = 0;
                chars = 0;
            }
            current.units.push(i);
            changes += n;
            chars += c;
        }
        if !current.units.is_empty() {
            out.push(current);
        }
    }
    out
}
