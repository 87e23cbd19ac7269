//! What a pass may trust instead of reading, and when every stack is still read in full.
//!
//! A load balancer carries [`DESIRED_HASH_TAG`]: the hash of the part of the desired stack
//! that listeners, rules and attributes are planned from ([`desired_hash`]), written after a
//! pass that read the stack in full applied every change of it. While the hash on the load
//! balancer equals the hash of the stack's current desired state, a pass may skip reading
//! listeners, rules, certificates and load balancer / target group attributes
//! ([`is_trusted`]) and read only what may change while the operator is down: targets.
//!
//! Drift behind the operator's back (a rule edited in the console) is then not seen by a
//! trusted pass; every stack still gets a full read once per sync period, at a phase derived
//! from its id so the full reads spread evenly over the period ([`full_read_due`]).
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::observed::ObservedStack;
use crate::model::{Stack, TargetGroupSpec};

/// Tag on a load balancer: the hash of the desired state last applied to it in full.
pub const DESIRED_HASH_TAG: &str = "aws-lb-operator.k8s.aws/desired-hash";

/// Hex SHA-256 of what listeners, rules and attributes are planned from: the load balancer
/// spec, the listeners with their rules, and the target groups without their targets
/// (targets are always read). Hostnames and member objects are left out (DNS is read anyway).
#[must_use]
pub fn desired_hash(stack: &Stack) -> String {
    let tgs: Vec<TargetGroupSpec> = stack
        .target_groups
        .iter()
        .map(|t| TargetGroupSpec {
            targets: Vec::new(),
            ..t.clone()
        })
        .collect();
    // Debug output of these types is deterministic (ordered maps and vectors); a format that
    // changes with a new version only costs one full read per stack.
    let text = format!(
        "v1\n{:?}\n{:?}\n{:?}",
        stack.load_balancer, stack.listeners, tgs
    );
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// True when `observed` (read shallowly: load balancers and target groups as the listings
/// return them, with tags) may stand for the stack without reading listeners, rules and
/// attributes: exactly one load balancer, named `lb_name` (the desired name), carrying `hash`.
#[must_use]
pub fn is_trusted(lb_name: &str, observed: &ObservedStack, hash: &str) -> bool {
    match observed.load_balancers.as_slice() {
        [lb] => {
            lb.name == lb_name && lb.tags.get(DESIRED_HASH_TAG).map(String::as_str) == Some(hash)
        }
        _ => false,
    }
}

/// The hash to write on the stack's load balancer (named `lb_name`) after a pass, or `None`:
/// `hash` ([`desired_hash`] of the desired stack the pass was given) is written only after a
/// full read (`observed.trusted` false) when the pass had changes for the stack and every one
/// of them is done, and the load balancer does not carry it already. An in-sync stack (an
/// adopted LBC load balancer) is never written to.
#[must_use]
pub fn hash_to_write(
    lb_name: &str,
    hash: &str,
    observed: &ObservedStack,
    had_changes: bool,
    all_done: bool,
) -> Option<String> {
    if observed.trusted || !had_changes || !all_done {
        return None;
    }
    let current = observed
        .load_balancers
        .iter()
        .find(|lb| lb.name == lb_name)
        .and_then(|lb| lb.tags.get(DESIRED_HASH_TAG));
    (current.map(String::as_str) != Some(hash)).then(|| hash.to_owned())
}

/// True when a change may be planned for a trusted stack: target registrations only. Any
/// other change means the listings show drift or a change the hash did not predict, and the
/// stack is read again in full before anything is written.
#[must_use]
pub fn allowed_when_trusted(op: &super::Op) -> bool {
    matches!(
        op,
        super::Op::RegisterTargets { .. } | super::Op::DeregisterTargets { .. }
    )
}

/// How many slots a sync period's full reads fall into: stacks of one slot fall due together
/// and share passes (up to `--max-stacks-per-pass` each) instead of one pass per stack.
pub const FULL_READ_SLOTS: u64 = 60;

/// Where in the sync period the stack's full read falls: its id hashed onto one of
/// [`FULL_READ_SLOTS`] slots spread evenly over `[0, period)`.
#[must_use]
pub fn full_read_phase(stack: &str, period: Duration) -> Duration {
    let millis = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    let slots = FULL_READ_SLOTS.min(millis);
    let digest = Sha256::digest(stack.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let slot = u64::from_be_bytes(first) % slots;
    Duration::from_millis(slot * (millis / slots))
}

/// Which period slot `t` (time since the controller started) is in, for `phase`.
fn slot(phase: Duration, period: Duration, t: Duration) -> u128 {
    let p = period.as_millis().max(1);
    (t.as_millis() + p - phase.as_millis().min(p - 1)) / p
}

/// True when the stack last read in full at `last` needs a full read at `now` (both times
/// since the controller started): a boundary of its phase has passed since, so every stack is
/// read in full at least once per `period`, each at its own phase.
#[must_use]
pub fn full_read_due(phase: Duration, period: Duration, last: Duration, now: Duration) -> bool {
    slot(phase, period, now) > slot(phase, period, last)
}

/// When the next full read of a stack last read in full at `last` falls due.
#[must_use]
pub fn next_full_read(phase: Duration, period: Duration, last: Duration) -> Duration {
    let p = period.as_millis().max(1);
    let next = slot(phase, period, last) + 1;
    let at = (next * p).saturating_sub(p - phase.as_millis().min(p - 1));
    Duration::from_millis(u64::try_from(at).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::observed::ObservedLoadBalancer;

    fn stack() -> Stack {
        let state: crate::model::DesiredState =
            serde_json::from_str(include_str!("../../../tests/golden/seed.plan.json"))
                .expect("golden seed plan");
        state.stacks[0].clone()
    }

    #[test]
    fn phases_spread_over_the_period_and_are_stable() {
        let period = Duration::from_secs(600);
        let phases: Vec<Duration> = (0..1000)
            .map(|i| full_read_phase(&format!("ns/app-{i}"), period))
            .collect();
        assert_eq!(full_read_phase("ns/app-1", period), phases[1]);
        assert!(phases.iter().all(|p| *p < period));
        // Ten buckets of one minute each: none is empty and none holds more than twice its
        // share, so the full reads do not all come at once.
        let mut buckets = [0usize; 10];
        for p in &phases {
            buckets[usize::try_from(p.as_secs() / 60).unwrap_or(9).min(9)] += 1;
        }
        assert!(buckets.iter().all(|b| *b > 50 && *b < 200), "{buckets:?}");
        // Stacks share slots, so the full reads of one slot share passes.
        let distinct: std::collections::BTreeSet<Duration> = phases.iter().copied().collect();
        assert_eq!(distinct.len(), 60);
        assert!(
            phases.iter().all(|p| p.as_secs() % 10 == 0),
            "ten-second slots"
        );
    }

    #[test]
    fn a_full_read_falls_due_once_per_period_at_the_phase() {
        let period = Duration::from_secs(100);
        let phase = Duration::from_secs(30);
        let s = Duration::from_secs;
        // Read at start: due when the phase comes, not before.
        assert!(!full_read_due(phase, period, s(0), s(29)));
        assert!(full_read_due(phase, period, s(0), s(30)));
        assert_eq!(next_full_read(phase, period, s(0)), s(30));
        // Read in full at its phase: next due one period later.
        assert!(!full_read_due(phase, period, s(30), s(129)));
        assert!(full_read_due(phase, period, s(30), s(130)));
        assert_eq!(next_full_read(phase, period, s(30)), s(130));
        // Read late (a backlog): due again at the next boundary, so never more than one
        // period between a stack's full reads plus the lateness of one.
        assert!(!full_read_due(phase, period, s(50), s(129)));
        assert!(full_read_due(phase, period, s(50), s(130)));
        assert_eq!(next_full_read(phase, period, s(50)), s(130));
        // Phase zero.
        assert!(full_read_due(s(0), period, s(0), s(100)));
        assert!(!full_read_due(s(0), period, s(0), s(99)));
        assert_eq!(next_full_read(s(0), period, s(0)), s(100));
    }

    fn observed_with(stack: &Stack, hash: Option<&str>) -> ObservedStack {
        let mut lb = ObservedLoadBalancer {
            name: stack.load_balancer.name.clone(),
            arn: "arn:lb".into(),
            ..ObservedLoadBalancer::default()
        };
        if let Some(h) = hash {
            lb.tags.insert(DESIRED_HASH_TAG.into(), h.into());
        }
        ObservedStack {
            load_balancers: vec![lb],
            ..ObservedStack::default()
        }
    }

    #[test]
    fn trusted_only_when_the_load_balancer_carries_the_current_hash() {
        let s = stack();
        let hash = desired_hash(&s);
        assert_eq!(hash.len(), 64);
        let name = s.load_balancer.name.as_str();
        assert!(is_trusted(name, &observed_with(&s, Some(&hash)), &hash));
        assert!(!is_trusted(name, &observed_with(&s, None), &hash));
        assert!(!is_trusted(name, &observed_with(&s, Some("old")), &hash));
        assert!(!is_trusted("other", &observed_with(&s, Some(&hash)), &hash));
        // Two load balancers (a lost create's duplicate): never trusted.
        let mut two = observed_with(&s, Some(&hash));
        two.load_balancers.push(two.load_balancers[0].clone());
        assert!(!is_trusted(name, &two, &hash));
        // Nothing observed: nothing to trust.
        assert!(!is_trusted(name, &ObservedStack::default(), &hash));
    }

    #[test]
    fn the_hash_covers_listeners_rules_and_attributes_but_not_targets() {
        let s = stack();
        let hash = desired_hash(&s);
        let mut targets = s.clone();
        for tg in &mut targets.target_groups {
            tg.targets.clear();
        }
        assert_eq!(desired_hash(&targets), hash);
        let mut listener = s.clone();
        listener.listeners[0].port += 1;
        assert_ne!(desired_hash(&listener), hash);
        let mut rule = s.clone();
        rule.listeners[0].rules[0].priority += 1;
        assert_ne!(desired_hash(&rule), hash);
        let mut lb_attr = s.clone();
        lb_attr
            .load_balancer
            .attributes
            .insert("idle_timeout.timeout_seconds".into(), "61".into());
        assert_ne!(desired_hash(&lb_attr), hash);
        let mut tg_attr = s.clone();
        tg_attr.target_groups[0]
            .attributes
            .insert("deregistration_delay.timeout_seconds".into(), "5".into());
        assert_ne!(desired_hash(&tg_attr), hash);
    }

    #[test]
    fn the_hash_is_written_only_after_a_full_read_with_every_change_done() {
        let s = stack();
        let hash = desired_hash(&s);
        let name = s.load_balancer.name.as_str();
        let without = observed_with(&s, None);
        let write = |o: &ObservedStack, changes: bool, done: bool| {
            hash_to_write(name, &hash, o, changes, done)
        };
        assert_eq!(write(&without, true, true), Some(hash.clone()));
        // Adoption of an in-sync load balancer: no change, no write.
        assert_eq!(write(&without, false, true), None);
        // A change failed: the state is not the desired one.
        assert_eq!(write(&without, true, false), None);
        // Already there.
        assert_eq!(write(&observed_with(&s, Some(&hash)), true, true), None);
        // An older hash is replaced.
        assert_eq!(
            write(&observed_with(&s, Some("old")), true, true),
            Some(hash.clone())
        );
        // A trusted pass did not read listeners: it cannot vouch for them.
        let mut trusted = without.clone();
        trusted.trusted = true;
        assert_eq!(write(&trusted, true, true), None);
        // A load balancer created in the pass (not observed) gets it.
        assert_eq!(
            write(&ObservedStack::default(), true, true),
            Some(hash.clone())
        );
    }

    #[test]
    fn only_target_registrations_are_planned_for_a_trusted_stack() {
        use crate::planner::Op;
        let register = Op::RegisterTargets {
            target_group: crate::planner::Ref::Existing("arn:tg".into()),
            targets: Vec::new(),
        };
        assert!(allowed_when_trusted(&register));
        let tags = Op::AddTags {
            resource: "arn:lb".into(),
            tags: Default::default(),
        };
        assert!(!allowed_when_trusted(&tags));
    }
}
