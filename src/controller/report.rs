//! What a pass did, per stack ([`classify`], pure), and reporting it back to Kubernetes:
//! Warning Events, the error metric and the backoff of failed stacks, DNS conflicts reported
//! once, and the release of finalizers after success.
use std::collections::{BTreeMap, BTreeSet};

use aws_lb_operator_core::dns::{DnsConflict, DnsUnit};
use aws_lb_operator_core::model::StackId;
use aws_lb_operator_core::planner::{Change, Plan, Scope};
use tokio::time::Instant;

use super::keys::ObjectKey;
use super::kube_io::ObjState;
use super::metrics::{Kind, ReconcileResult};
use super::queue::ErrorClass;
use super::reconciler::Reconciler;
use crate::aws::resolve::ResolveError;
use crate::pass::targets::{DnsOutcome, ExecuteError, Outcome};
use crate::pass::PassError;

/// Why a stack is not in sync after a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFailure {
    /// The first thing that failed, as reported in the Warning Event.
    pub message: String,
    /// How the stack is retried: the most urgent class among its failures.
    pub class: ErrorClass,
}

/// A pass's outcome per stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Stacks that are not in sync.
    pub failed: BTreeMap<StackId, StackFailure>,
    /// Stacks the pass changed something of (succeeded or not).
    pub changed: BTreeSet<StackId>,
    /// Route53 units written.
    pub dns_done: u64,
    /// Route53 units rejected.
    pub dns_failed: u64,
}

/// The stack a change, DNS unit or conflict names (`None` for the cluster scope).
fn scope(stack: &str) -> Option<StackId> {
    Scope::of_field(stack).stack().cloned()
}

#[derive(Default)]
struct Failures {
    /// First message per scope, and the classes of its failures (`None` in the map: only
    /// changes that were not attempted).
    by_scope: BTreeMap<Scope, (String, Option<ErrorClass>)>,
}

impl Failures {
    fn add(&mut self, stack: &str, message: impl FnOnce() -> String, class: Option<ErrorClass>) {
        let entry = self
            .by_scope
            .entry(Scope::of_field(stack))
            .or_insert_with(|| (message(), None));
        entry.1 = match (entry.1, class) {
            (Some(a), Some(b)) => Some(a.most_urgent(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The class of a failed AWS change.
pub fn class_of_execute(error: &ExecuteError) -> ErrorClass {
    match error {
        ExecuteError::Aws(e) => ErrorClass::of_aws(e),
        _ => ErrorClass::Other,
    }
}

/// The class of a pass that could not be planned (reading AWS failed).
pub fn class_of_pass(error: &PassError) -> ErrorClass {
    match error {
        PassError::Aws(e) | PassError::Resolve(ResolveError::Aws(e)) => ErrorClass::of_aws(e),
        PassError::Resolve(_) => ErrorClass::Other,
    }
}

/// Which stacks of a pass failed, and why: the planner's errors per stack, then each ELBv2/EC2
/// change and each Route53 unit in order (the first message of a stack is kept). A change
/// that was not attempted means its stack is not in sync. A cluster-wide failure (the shared
/// backend security group) fails every stack in `covered`: their changes after it were not
/// attempted. So does a failed `repair` (a permission a concurrent pass revoked, authorized
/// again after the pass's re-read): until it is done, a target port may be closed.
pub fn classify(
    plan: &Plan,
    elb: &[Outcome],
    repairs: &[(Change, Outcome)],
    units: &[DnsUnit],
    dns: &[DnsOutcome],
    covered: &[StackId],
) -> PassOutcome {
    let mut failures = Failures::default();
    let mut out = PassOutcome::default();
    for e in &plan.errors {
        failures.add(&e.stack, || e.message.clone(), Some(ErrorClass::Other));
    }
    for (c, o) in plan.changes.iter().zip(elb) {
        if let Some(id) = scope(&c.stack) {
            out.changed.insert(id);
        }
        match o {
            Outcome::Done => {}
            Outcome::Failed(e) => failures.add(
                &c.stack,
                || format!("{} {}: {e}", c.operation(), c.resource),
                Some(class_of_execute(e)),
            ),
            // Not attempted (an earlier change of the stack failed, or its records could not
            // be deleted first): the stack is not in sync.
            Outcome::Skipped { reason } => failures.add(
                &c.stack,
                || format!("{} {} not attempted: {reason}", c.operation(), c.resource),
                None,
            ),
        }
    }
    for (c, o) in repairs {
        if let Outcome::Failed(e) = o {
            failures.add(
                &c.stack,
                || format!("repairing: {} {}: {e}", c.operation(), c.resource),
                Some(class_of_execute(e)),
            );
        }
    }
    for (u, o) in units.iter().zip(dns) {
        if let Some(id) = scope(&u.stack) {
            out.changed.insert(id);
        }
        match o {
            DnsOutcome::Done => out.dns_done += 1,
            DnsOutcome::Failed(m) => {
                out.dns_failed += 1;
                failures.add(&u.stack, || m.clone(), Some(ErrorClass::Other));
            }
            DnsOutcome::Skipped => failures.add(
                &u.stack,
                || format!("DNS record {} {} was not written", u.name, u.record_type),
                None,
            ),
        }
    }
    if let Some((message, class)) = failures.by_scope.remove(&Scope::Cluster) {
        for id in covered {
            failures.add(
                &id.to_string(),
                || format!("cluster-wide: {message}"),
                class,
            );
        }
    }
    out.failed = failures
        .by_scope
        .into_iter()
        .filter_map(|(id, (message, class))| {
            Some((
                id.stack()?.clone(),
                StackFailure {
                    message,
                    class: class.unwrap_or(ErrorClass::Other),
                },
            ))
        })
        .collect();
    out
}

/// The stacks of a pass whose load balancer's address is unknown after it: their status
/// cannot be written, so they are not in sync and are retried. `desired` is each stack with
/// its load balancer's name, `addresses` the addresses found, `lookup` the error of the
/// address lookup of load balancers the pass created, if it failed (its class is the retry's;
/// a load balancer not found yet, as just after its creation, is transient).
pub fn unaddressed<'a>(
    desired: impl IntoIterator<Item = (&'a StackId, &'a str)>,
    addresses: &BTreeMap<StackId, String>,
    lookup: Option<&crate::aws::AwsError>,
) -> BTreeMap<StackId, StackFailure> {
    desired
        .into_iter()
        .filter(|(id, _)| !addresses.contains_key(*id))
        .map(|(id, name)| {
            let failure = match lookup {
                Some(e) => StackFailure {
                    message: format!("reading the address of load balancer {name} failed: {e}"),
                    class: ErrorClass::of_aws(e),
                },
                None => StackFailure {
                    message: format!("load balancer {name} not found after the pass"),
                    class: ErrorClass::Transient,
                },
            };
            (id.clone(), failure)
        })
        .collect()
}

/// The DNS conflicts of a pass as Events: each (stack, note) reported once until it goes
/// away. `reported` holds what was reported per stack and is updated for every stack in
/// `covered`; returns the new (object, note) pairs to report.
pub fn new_conflicts(
    conflicts: &[DnsConflict],
    covered: &[StackId],
    objects: &BTreeMap<ObjectKey, ObjState>,
    reported: &mut BTreeMap<StackId, BTreeSet<String>>,
) -> Vec<(ObjState, String)> {
    let mut fresh = Vec::new();
    let mut now: BTreeMap<StackId, BTreeSet<String>> = BTreeMap::new();
    for c in conflicts {
        let note = format!(
            "DNS record {} {} left alone: {}",
            c.name, c.record_type, c.message
        );
        let Some(stack) = scope(&c.stack) else {
            continue;
        };
        let seen = reported.get(&stack).is_some_and(|s| s.contains(&note));
        if !seen {
            if let Some(obj) = ObjectKey::parse(&c.resource).and_then(|k| objects.get(&k)) {
                fresh.push((obj.clone(), note.clone()));
            }
        }
        now.entry(stack).or_default().insert(note);
    }
    for id in covered {
        match now.remove(id) {
            Some(notes) => reported.insert(id.clone(), notes),
            None => reported.remove(id),
        };
    }
    fresh
}

/// The `kind` label of a stack in metrics.
impl Reconciler {
    /// A failed pass for stack `id`: a warning on each of `objs`, the error metric, backoff.
    pub(super) async fn report_failure(
        &self,
        id: &StackId,
        objs: &[ObjState],
        note: String,
        class: ErrorClass,
        started: Instant,
    ) {
        for obj in objs {
            self.kube
                .event(obj, true, "FailedDeployModel", note.clone())
                .await;
        }
        let kind = Kind::from(id.kind);
        self.metrics.reconcile_error(kind, "FailedDeployModel");
        self.metrics
            .reconciled(kind, ReconcileResult::Error, started.elapsed());
        self.fail(id, class);
    }

    /// Removes the finalizer of stack `id` from objects that left it (deleted or moved): the
    /// pass that just succeeded no longer routes to them.
    pub(super) async fn release(&self, id: &StackId, holders: Option<&Vec<(ObjState, String)>>) {
        for (obj, finalizer) in holders.into_iter().flatten() {
            if let Err(e) = self.kube.remove_finalizer(obj, finalizer).await {
                tracing::warn!(object = %ObjectKey::of(obj), error = %e, "finalizer not removed; retrying");
                self.fail(id, ErrorClass::Other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::AwsErrorKind;
    use crate::aws::AwsError;
    use aws_lb_operator_core::planner::{ChangeKind, Op, Ref, StackError};

    fn change(stack: &str, resource: &str) -> Change {
        Change {
            stack: stack.into(),
            resource: resource.into(),
            kind: ChangeKind::Register,
            reason: None,
            op: Op::RegisterTargets {
                target_group: Ref::Existing("arn:tg".into()),
                targets: vec![],
            },
        }
    }

    fn unit(stack: &str, name: &str) -> DnsUnit {
        serde_json::from_value(serde_json::json!({
            "zoneId": "Z1", "zoneName": "example.com", "stack": stack,
            "resource": "ingress/shop/web", "name": name, "type": "A",
            "changes": []
        }))
        .unwrap()
    }

    fn aws(code: &str, kind: AwsErrorKind, status: u16) -> Outcome {
        Outcome::Failed(ExecuteError::Aws(AwsError {
            service: "elbv2",
            operation: "RegisterTargets",
            code: code.into(),
            message: String::new(),
            status: Some(status),
            kind,
            attempts: None,
            elapsed: None,
        }))
    }

    fn skipped(reason: &str) -> Outcome {
        Outcome::Skipped {
            reason: reason.into(),
        }
    }

    fn ids(list: &[&str]) -> Vec<StackId> {
        list.iter().map(|s| StackId::parse(s)).collect()
    }

    struct Case {
        name: &'static str,
        errors: Vec<StackError>,
        changes: Vec<(Change, Outcome)>,
        units: Vec<(DnsUnit, DnsOutcome)>,
        covered: &'static [&'static str],
        failed: &'static [(&'static str, &'static str, ErrorClass)],
        changed: &'static [&'static str],
        dns: (u64, u64),
    }

    #[test]
    fn a_failed_repair_fails_every_stack_of_the_pass_and_a_done_one_nothing() {
        let throttled = || aws("Throttling", AwsErrorKind::Throttled, 400);
        let plan = Plan {
            changes: vec![change("shop/a", "listener 80")],
            errors: vec![],
        };
        let covered = ids(&["shop/a", "shop/b"]);
        let repair = change("", "target security group eks-nodes");
        let got = classify(
            &plan,
            &[Outcome::Done],
            &[(repair.clone(), throttled())],
            &[],
            &[],
            &covered,
        );
        let failed: Vec<(String, String, ErrorClass)> = got
            .failed
            .iter()
            .map(|(id, f)| (id.to_string(), f.message.clone(), f.class))
            .collect();
        let message = "cluster-wide: repairing: elbv2.RegisterTargets target security group eks-nodes: elbv2.RegisterTargets failed: Throttling";
        assert_eq!(
            failed,
            [
                (
                    "shop/a".to_owned(),
                    message.to_owned(),
                    ErrorClass::Transient
                ),
                (
                    "shop/b".to_owned(),
                    message.to_owned(),
                    ErrorClass::Transient
                ),
            ]
        );
        let got = classify(
            &plan,
            &[Outcome::Done],
            &[(repair, Outcome::Done)],
            &[],
            &[],
            &covered,
        );
        assert!(got.failed.is_empty(), "{:?}", got.failed.keys());
    }

    #[test]
    fn a_stack_whose_address_is_unknown_after_the_pass_is_retried() {
        let (a, b) = (StackId::parse("shop/a"), StackId::parse("shop/b"));
        let desired = [(&a, "k8s-shop-a"), (&b, "k8s-shop-b")];
        let addresses: BTreeMap<StackId, String> = [(a.clone(), "a.elb".to_owned())].into();
        let denied = AwsError {
            service: "elbv2",
            operation: "DescribeLoadBalancers",
            code: "AccessDenied".into(),
            message: "not allowed".into(),
            status: Some(403),
            kind: AwsErrorKind::Service,
            attempts: None,
            elapsed: None,
        };
        assert_eq!(
            unaddressed(desired, &addresses, Some(&denied)),
            [(
                b.clone(),
                StackFailure {
                    message: "reading the address of load balancer k8s-shop-b failed: \
                              elbv2.DescribeLoadBalancers failed: AccessDenied: not allowed"
                        .into(),
                    class: ErrorClass::Other,
                }
            )]
            .into()
        );
        assert_eq!(
            unaddressed(desired, &addresses, None),
            [(
                b.clone(),
                StackFailure {
                    message: "load balancer k8s-shop-b not found after the pass".into(),
                    class: ErrorClass::Transient,
                }
            )]
            .into()
        );
        let all: BTreeMap<StackId, String> =
            [(a.clone(), "a".to_owned()), (b.clone(), "b".to_owned())].into();
        assert!(unaddressed(desired, &all, Some(&denied)).is_empty());
    }

    #[test]
    fn classify_table() {
        let throttled = || aws("Throttling", AwsErrorKind::Throttled, 400);
        let invalid = || aws("ValidationError", AwsErrorKind::Service, 400);
        let cases = vec![
            Case {
                name: "everything done",
                errors: vec![],
                changes: vec![(change("shop/a", "target group tg"), Outcome::Done)],
                units: vec![(unit("shop/a", "a.example.com"), DnsOutcome::Done)],
                covered: &["shop/a", "shop/b"],
                failed: &[],
                changed: &["shop/a"],
                dns: (1, 0),
            },
            Case {
                name: "a throttled change fails its stack only, retried soon",
                errors: vec![],
                changes: vec![
                    (change("shop/a", "target group tg"), throttled()),
                    (change("shop/a", "listener 80"), skipped("an earlier change failed")),
                    (change("shop/b", "listener 80"), Outcome::Done),
                ],
                units: vec![],
                covered: &["shop/a", "shop/b"],
                failed: &[(
                    "shop/a",
                    "elbv2.RegisterTargets target group tg: elbv2.RegisterTargets failed: Throttling",
                    ErrorClass::Transient,
                )],
                changed: &["shop/a", "shop/b"],
                dns: (0, 0),
            },
            Case {
                name: "a rejected request waits for a change of the objects",
                errors: vec![],
                changes: vec![(change("shop/a", "target group tg"), invalid())],
                units: vec![],
                covered: &["shop/a"],
                failed: &[(
                    "shop/a",
                    "elbv2.RegisterTargets target group tg: elbv2.RegisterTargets failed: ValidationError",
                    ErrorClass::InvalidInput,
                )],
                changed: &["shop/a"],
                dns: (0, 0),
            },
            Case {
                name: "a rejected request beside a throttled one is retried soon",
                errors: vec![],
                changes: vec![
                    (change("shop/a", "target group tg"), invalid()),
                    (change("shop/a", "listener 80"), throttled()),
                ],
                units: vec![],
                covered: &["shop/a"],
                failed: &[(
                    "shop/a",
                    "elbv2.RegisterTargets target group tg: elbv2.RegisterTargets failed: ValidationError",
                    ErrorClass::Transient,
                )],
                changed: &["shop/a"],
                dns: (0, 0),
            },
            Case {
                name: "a planner error comes first, default backoff",
                errors: vec![StackError {
                    stack: "shop/a".into(),
                    message: "no subnets".into(),
                }],
                changes: vec![(change("shop/a", "target group tg"), throttled())],
                units: vec![],
                covered: &["shop/a"],
                failed: &[("shop/a", "no subnets", ErrorClass::Transient)],
                changed: &["shop/a"],
                dns: (0, 0),
            },
            Case {
                name: "only skipped changes: default backoff",
                errors: vec![],
                changes: vec![(change("shop/a", "listener 80"), skipped("records first"))],
                units: vec![],
                covered: &["shop/a"],
                failed: &[(
                    "shop/a",
                    "elbv2.RegisterTargets listener 80 not attempted: records first",
                    ErrorClass::Other,
                )],
                changed: &["shop/a"],
                dns: (0, 0),
            },
            Case {
                name: "DNS failures and records not written",
                errors: vec![],
                changes: vec![],
                units: vec![
                    (unit("shop/a", "a.example.com"), DnsOutcome::Failed("zone says no".into())),
                    (unit("shop/b", "b.example.com"), DnsOutcome::Skipped),
                    (unit("shop/c", "c.example.com"), DnsOutcome::Done),
                ],
                covered: &["shop/a", "shop/b", "shop/c"],
                failed: &[
                    ("shop/a", "zone says no", ErrorClass::Other),
                    ("shop/b", "DNS record b.example.com A was not written", ErrorClass::Other),
                ],
                changed: &["shop/a", "shop/b", "shop/c"],
                dns: (1, 1),
            },
            Case {
                name: "a cluster-wide failure fails every stack of the pass, own messages first",
                errors: vec![],
                changes: vec![
                    (change("", "security group k8s-traffic"), throttled()),
                    (change("shop/a", "listener 80"), invalid()),
                ],
                units: vec![],
                covered: &["shop/a", "service:shop/db"],
                failed: &[
                    (
                        "shop/a",
                        "elbv2.RegisterTargets listener 80: elbv2.RegisterTargets failed: ValidationError",
                        ErrorClass::Transient,
                    ),
                    (
                        "service:shop/db",
                        "cluster-wide: elbv2.RegisterTargets security group k8s-traffic: elbv2.RegisterTargets failed: Throttling",
                        ErrorClass::Transient,
                    ),
                ],
                changed: &["shop/a"],
                dns: (0, 0),
            },
        ];
        for c in cases {
            let plan = Plan {
                changes: c.changes.iter().map(|(ch, _)| ch.clone()).collect(),
                errors: c.errors,
            };
            let outcomes: Vec<Outcome> = c.changes.into_iter().map(|(_, o)| o).collect();
            let units: Vec<DnsUnit> = c.units.iter().map(|(u, _)| u.clone()).collect();
            let dns: Vec<DnsOutcome> = c.units.into_iter().map(|(_, o)| o).collect();
            let got = classify(&plan, &outcomes, &[], &units, &dns, &ids(c.covered));
            let failed: Vec<(String, String, ErrorClass)> = got
                .failed
                .iter()
                .map(|(id, f)| (id.to_string(), f.message.clone(), f.class))
                .collect();
            let mut want: Vec<(String, String, ErrorClass)> = c
                .failed
                .iter()
                .map(|(id, m, class)| ((*id).to_owned(), (*m).to_owned(), *class))
                .collect();
            want.sort_by_key(|(id, _, _)| StackId::parse(id));
            assert_eq!(failed, want, "{}: failed", c.name);
            let changed: BTreeSet<StackId> = ids(c.changed).into_iter().collect();
            assert_eq!(got.changed, changed, "{}: changed", c.name);
            assert_eq!(
                (got.dns_done, got.dns_failed),
                c.dns,
                "{}: DNS counts",
                c.name
            );
        }
    }

    #[test]
    fn dns_conflicts_are_reported_once_until_they_go_away() {
        let web = ObjState {
            kind: super::super::kube_io::ObjKind::Ingress,
            namespace: "shop".into(),
            name: "web".into(),
            uid: String::new(),
            finalizers: vec![],
            deleting: false,
            hostnames: vec![],
        };
        let objects: BTreeMap<ObjectKey, ObjState> = [(ObjectKey::of(&web), web.clone())].into();
        let conflict: DnsConflict = serde_json::from_value(serde_json::json!({
            "stack": "shop/web", "resource": "ingress/shop/web",
            "name": "www.example.com", "type": "A", "message": "owned by another"
        }))
        .unwrap();
        let covered = ids(&["shop/web"]);
        let mut reported = BTreeMap::new();
        let first = new_conflicts(
            std::slice::from_ref(&conflict),
            &covered,
            &objects,
            &mut reported,
        );
        assert_eq!(
            first,
            vec![(
                web.clone(),
                "DNS record www.example.com A left alone: owned by another".to_owned()
            )]
        );
        let again = new_conflicts(
            std::slice::from_ref(&conflict),
            &covered,
            &objects,
            &mut reported,
        );
        assert_eq!(again, vec![], "reported once");
        let other_pass = new_conflicts(&[], &ids(&["shop/other"]), &objects, &mut reported);
        assert_eq!(other_pass, vec![]);
        assert!(
            reported.contains_key(&StackId::parse("shop/web")),
            "a pass without the stack keeps it"
        );
        assert_eq!(
            new_conflicts(&[], &covered, &objects, &mut reported),
            vec![]
        );
        assert!(reported.is_empty(), "gone");
        let back = new_conflicts(
            std::slice::from_ref(&conflict),
            &covered,
            &objects,
            &mut reported,
        );
        assert_eq!(back.len(), 1, "reported again after it went away");
    }
}
