//! The target fast path: a stack whose only change since it was applied is its targets gets
//! the RegisterTargets / DeregisterTargets difference sent straight to the target groups
//! applied last time, without observing or planning anything else. Which stacks qualify and
//! what is sent is decided by [`target_updates`] (pure). A stack whose call failed is counted
//! ([`failed_stacks`], pure: `FailedRegisterTargets` or `FailedDeregisterTargets`) and gets a
//! full pass at once, which reports (Event, backoff) if it fails too.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lb_operator_core::model::{Stack, StackId};
use aws_lb_operator_core::planner::cluster::stack_ports;
use aws_lb_operator_core::planner::{target_changes, Change, Ref};
use tracing::Instrument;

use super::decisions::{shape, Applied};
use super::metrics::{Kind, TargetPath};
use super::reconciler::Reconciler;
use crate::pass::targets::{send_target_changes, Outcome};

/// What the fast path does in one round.
#[derive(Debug, Default, PartialEq)]
pub struct TargetUpdates {
    /// Target registration changes, every stack's together.
    pub changes: Vec<Change>,
    /// The stacks they bring in sync, as they will have been applied.
    pub touched: BTreeMap<StackId, Arc<Stack>>,
    /// Stacks whose targets changed in a target group without a known ARN: a full pass.
    pub full_pass: Vec<StackId>,
}

/// The target differences of every applied stack whose shape is unchanged and that no pass
/// holds (`busy`).
pub fn target_updates(
    stacks: &BTreeMap<StackId, Arc<Stack>>,
    applied: &BTreeMap<StackId, Applied>,
    busy: impl Fn(&StackId) -> bool,
) -> TargetUpdates {
    let mut out = TargetUpdates::default();
    for (id, stack) in stacks {
        if busy(id) {
            continue;
        }
        let Some(applied) = applied.get(id) else {
            continue;
        };
        if Arc::ptr_eq(&applied.stack, stack)
            || applied.stack == *stack
            || shape(&applied.stack) != shape(stack)
        {
            continue;
        }
        // Targets on a port the applied stack did not use (a named target port now resolving
        // to another container port) need that port opened on the target security groups: a
        // full pass plans it.
        let before: BTreeSet<u16> = stack_ports(&applied.stack).collect();
        if !stack_ports(stack).all(|p| before.contains(&p)) {
            out.full_pass.push(id.clone());
            continue;
        }
        let text = id.to_string();
        let mut changes = Vec::new();
        let mut known = true;
        for tg in &stack.target_groups {
            let old = applied
                .stack
                .target_groups
                .iter()
                .find(|t| t.id == tg.id)
                .map_or(&[][..], |t| t.targets.as_slice());
            if old == tg.targets.as_slice() {
                continue;
            }
            let Some(arn) = applied.tg_arns.get(&tg.id) else {
                known = false;
                break;
            };
            changes.extend(target_changes(
                &text,
                &tg.name,
                &Ref::Existing(arn.clone()),
                &tg.targets,
                old,
            ));
        }
        if known {
            out.changes.extend(changes);
            out.touched.insert(id.clone(), stack.clone());
        } else {
            out.full_pass.push(id.clone());
        }
    }
    out
}

/// The stacks whose target change did not succeed, each with the error reason of its first
/// failed change (`FailedRegisterTargets`, `FailedDeregisterTargets`).
pub fn failed_stacks(changes: &[Change], outcomes: &[Outcome]) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for (c, o) in changes.iter().zip(outcomes) {
        if matches!(o, Outcome::Done) {
            continue;
        }
        let reason = match c.op {
            aws_lb_operator_core::planner::Op::DeregisterTargets { .. } => {
                "FailedDeregisterTargets"
            }
            _ => "FailedRegisterTargets",
        };
        out.entry(c.stack.clone()).or_insert(reason);
    }
    // A change with no outcome was not sent.
    for c in changes.iter().skip(outcomes.len()) {
        out.entry(c.stack.clone())
            .or_insert("FailedRegisterTargets");
    }
    out
}

impl Reconciler {
    /// Sends the target differences of stacks whose only change is targets.
    pub(super) async fn send_target_updates(&self) {
        let updates = {
            let mut st = self.lock();
            let st = &mut *st;
            let queue = &st.queue;
            let updates = target_updates(&st.view.stacks, &st.applied, |id| queue.is_pending(id));
            st.queue.add_all(updates.full_pass.iter().cloned());
            for id in updates.touched.keys() {
                st.queue.start(id);
            }
            updates
        };
        if updates.changes.is_empty() {
            let mut st = self.lock();
            for id in updates.touched.keys() {
                st.queue.finish(id);
            }
            return;
        }
        let changes = &updates.changes;
        let report = send_target_changes(&self.aws, changes)
            .instrument(tracing::info_span!("fast_path", changes = changes.len()))
            .await;
        for (c, o) in changes.iter().zip(&report.outcomes) {
            if matches!(o, Outcome::Done) {
                self.metrics.count_targets(&c.op, TargetPath::Fast);
            }
        }
        let failed = failed_stacks(changes, &report.outcomes);
        let mut st = self.lock();
        for (id, stack) in updates.touched {
            st.queue.finish(&id);
            if let Some(reason) = failed.get(&id.to_string()) {
                // The target group may be gone, or AWS failed: a full pass finds out, and
                // reports and backs off if it fails too.
                tracing::warn!(stack = %id, reason, "target update failed; a full pass follows");
                self.metrics.reconcile_error(Kind::from(id.kind), reason);
                st.queue.add(id);
            } else if let Some(a) = st.applied.get_mut(&id) {
                a.stack = stack;
            }
        }
        self.update_targets_gauge(&st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lb_operator_core::model::TargetSpec;
    use aws_lb_operator_core::planner::Op;

    fn seed() -> Stack {
        let plan: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/golden/seed.plan.json")).unwrap();
        serde_json::from_value(plan["stacks"][0].clone()).unwrap()
    }

    fn with_targets(mut s: Stack, ips: &[&str]) -> Stack {
        for tg in &mut s.target_groups {
            tg.targets = ips
                .iter()
                .map(|ip| TargetSpec {
                    id: (*ip).into(),
                    port: 8080,
                })
                .collect();
        }
        s
    }

    fn applied(s: &Stack, arns: bool) -> Applied {
        Applied {
            stack: Arc::new(s.clone()),
            tg_arns: s
                .target_groups
                .iter()
                .filter(|_| arns)
                .map(|tg| (tg.id.clone(), format!("arn:{}", tg.id)))
                .collect(),
        }
    }

    #[test]
    fn failed_target_changes_are_counted_once_per_stack_by_their_first_operation() {
        use crate::aws::execute::ExecuteError;
        let change = |stack: &str, register: bool| Change {
            stack: stack.into(),
            resource: "targets".into(),
            kind: aws_lb_operator_core::planner::ChangeKind::Register,
            reason: None,
            op: if register {
                Op::RegisterTargets {
                    target_group: Ref::Existing("arn:tg".into()),
                    targets: vec![],
                }
            } else {
                Op::DeregisterTargets {
                    target_group: "arn:tg".into(),
                    targets: vec![],
                }
            },
        };
        let failed = || Outcome::Failed(ExecuteError::TargetGroupByName { name: "tg".into() });
        let changes = [
            change("ok", true),
            change("a", false),
            change("a", true),
            change("b", true),
            change("c", false),
            change("d", true),
        ];
        let outcomes = [
            Outcome::Done,
            failed(),
            failed(),
            Outcome::Skipped {
                reason: "earlier".into(),
            },
            failed(),
        ];
        assert_eq!(
            failed_stacks(&changes, &outcomes),
            [
                ("a".to_owned(), "FailedDeregisterTargets"),
                ("b".to_owned(), "FailedRegisterTargets"),
                ("c".to_owned(), "FailedDeregisterTargets"),
                ("d".to_owned(), "FailedRegisterTargets"),
            ]
            .into()
        );
        assert!(failed_stacks(&changes[..1], &outcomes[..1]).is_empty());
    }

    #[test]
    fn target_updates_table() {
        let old = with_targets(seed(), &["10.0.0.1"]);
        let new = with_targets(seed(), &["10.0.0.2"]);
        let tgs = seed().target_groups.len();
        let mut reshaped = new.clone();
        reshaped.load_balancer.name = "k8s-other".into();
        struct Case {
            name: &'static str,
            now: Stack,
            applied: Option<Applied>,
            busy: bool,
            /// (register, deregister) changes, touched, full pass
            want: (usize, bool, bool),
        }
        let cases = [
            Case {
                name: "targets changed: one register and one deregister per target group",
                now: new.clone(),
                applied: Some(applied(&old, true)),
                busy: false,
                want: (2 * tgs, true, false),
            },
            Case {
                name: "nothing changed",
                now: old.clone(),
                applied: Some(applied(&old, true)),
                busy: false,
                want: (0, false, false),
            },
            Case {
                name: "the shape changed: a full pass's business",
                now: reshaped,
                applied: Some(applied(&old, true)),
                busy: false,
                want: (0, false, false),
            },
            Case {
                name: "never applied",
                now: new.clone(),
                applied: None,
                busy: false,
                want: (0, false, false),
            },
            Case {
                name: "held by a pass",
                now: new.clone(),
                applied: Some(applied(&old, true)),
                busy: true,
                want: (0, false, false),
            },
            Case {
                name: "targets on a port not used before (a named target port moved): a full \
                       pass, which opens the port",
                now: {
                    let mut s = new.clone();
                    for tg in &mut s.target_groups {
                        for t in &mut tg.targets {
                            t.port = 9090;
                        }
                    }
                    s
                },
                applied: Some(applied(&old, true)),
                busy: false,
                want: (0, false, true),
            },
            Case {
                name: "no ARN known: a full pass",
                now: new.clone(),
                applied: Some(applied(&old, false)),
                busy: false,
                want: (0, false, true),
            },
        ];
        for c in cases {
            let id = c.now.id.clone();
            let stacks = [(id.clone(), Arc::new(c.now.clone()))].into();
            let applied = c.applied.into_iter().map(|a| (id.clone(), a)).collect();
            let got = target_updates(&stacks, &applied, |_| c.busy);
            assert_eq!(
                (
                    got.changes.len(),
                    got.touched.contains_key(&id),
                    got.full_pass.contains(&id)
                ),
                c.want,
                "{}",
                c.name
            );
            for ch in &got.changes {
                assert_eq!(ch.stack, id.to_string(), "{}", c.name);
                let (arn, targets, want_ip) = match &ch.op {
                    Op::RegisterTargets {
                        target_group: Ref::Existing(arn),
                        targets,
                    } => (arn, targets, "10.0.0.2"),
                    Op::DeregisterTargets {
                        target_group,
                        targets,
                    } => (target_group, targets, "10.0.0.1"),
                    other => panic!("{}: not a target change by ARN: {other:?}", c.name),
                };
                assert!(arn.starts_with("arn:"), "{}", c.name);
                assert_eq!(
                    targets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
                    [want_ip],
                    "{}",
                    c.name
                );
            }
        }
    }
}
