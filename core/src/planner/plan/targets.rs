//! Targets: registrations and deregistrations in batches.
use super::*;

impl<'a> StackPlanner<'a> {
    pub(super) fn plan_targets(&mut self, tg: &TargetGroupSpec, r: &Ref, observed: &[TargetSpec]) {
        let changes = target_changes(&self.stack, &tg.name, r, &tg.targets, observed);
        self.now.extend(changes);
    }
}

/// The RegisterTargets / DeregisterTargets calls ([`REGISTER_BATCH`] targets each) that take
/// target group `target_group` (named `tg_name`, of `stack`) from `have` to `want`. Also the
/// controller's fast path for endpoint changes, which skips the rest of planning. Nothing is
/// deregistered from a group this plan creates.
#[must_use]
pub fn target_changes(
    stack: &str,
    tg_name: &str,
    target_group: &Ref,
    want: &[TargetSpec],
    have: &[TargetSpec],
) -> Vec<Change> {
    let want: BTreeSet<&TargetSpec> = want.iter().collect();
    let have: BTreeSet<&TargetSpec> = have.iter().collect();
    let register: Vec<TargetSpec> = want.difference(&have).map(|t| (*t).clone()).collect();
    let deregister: Vec<TargetSpec> = have.difference(&want).map(|t| (*t).clone()).collect();
    let resource = format!("targets of {tg_name}");
    let change = |kind, op| Change {
        stack: stack.to_owned(),
        resource: resource.clone(),
        kind,
        reason: None,
        op,
    };
    let mut out: Vec<Change> = register
        .chunks(REGISTER_BATCH)
        .map(|chunk| {
            change(
                ChangeKind::Register,
                Op::RegisterTargets {
                    target_group: target_group.clone(),
                    targets: chunk.to_vec(),
                },
            )
        })
        .collect();
    if let Ref::Existing(arn) = target_group {
        out.extend(deregister.chunks(REGISTER_BATCH).map(|chunk| {
            change(
                ChangeKind::Deregister,
                Op::DeregisterTargets {
                    target_group: arn.clone(),
                    targets: chunk.to_vec(),
                },
            )
        }));
    }
    out
}
