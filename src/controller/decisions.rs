//! The controller's safety decisions, as pure functions over plain data.
//!
//! - [`decide`], after every rebuild of the model: which stacks a pass must visit (changed,
//!   new, left by their objects, or holding a finalizer of objects that left them), which
//!   stacks an object with errors *protects* (never deleted, never released, its hostnames'
//!   records kept), whose backoff a change of the objects cancels, and which stack keeps each
//!   hostname;
//! - [`plan_batch`], when a worker takes a batch: which stacks the pass applies, which it
//!   deletes, which finalizers go on first and which are released after success.
//!
//! Nothing here waits, locks, or calls Kubernetes or AWS; [`super::reconciler`] gathers the
//! inputs, calls these, and carries the decisions out.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lb_operator_core::dns::DesiredHost;
use aws_lb_operator_core::model::{Stack, StackId};
use aws_lb_operator_core::translate::incremental::StackChange;

use super::keys::ObjectKey;
use super::kube_io::{finalizer_for, ObjState};

/// What was last applied for a stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The stack as applied (shared with the view that asked for it).
    pub stack: Arc<Stack>,
    /// Target group id → ARN, for the fast path.
    pub tg_arns: BTreeMap<String, String>,
}

/// The stack without its targets: a change of shape needs a full pass, a change of targets
/// only the fast path.
pub fn shape(stack: &Stack) -> Stack {
    let mut s = stack.clone();
    for tg in &mut s.target_groups {
        tg.targets.clear();
    }
    s
}

/// Whether stack `id` still needs a pass after one applied `applied` with success: the view
/// now wants another shape of it, or no longer wants it. A rebuild during the pass marks a
/// stack dirty when it was not applied yet (its first pass, in flight), and that mark is moot
/// once the pass applied what the view still wants.
pub fn needs_another_pass(view: &View, id: &StackId, applied: &Arc<Stack>) -> bool {
    view.stacks
        .get(id)
        .is_none_or(|now| !same_shape(now, applied))
}

/// Whether two stacks differ in more than their targets. Equal stacks (most of them, after a
/// rebuild that touched a few) are compared without copying either.
pub fn same_shape(a: &Arc<Stack>, b: &Arc<Stack>) -> bool {
    Arc::ptr_eq(a, b) || a == b || shape(a) == shape(b)
}

/// What the translation made of the watch caches, keyed by typed ids.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// The stacks it built (shared with the translation's model).
    pub stacks: Vec<Arc<Stack>>,
    /// Which stack each Ingress or Service belongs to.
    pub claims: BTreeMap<ObjectKey, StackId>,
    /// Objects with errors (left out of their stacks).
    pub errored: BTreeSet<ObjectKey>,
    /// The hostnames each Ingress with errors asks for (its records are kept while it holds
    /// a stack's finalizer).
    pub held_hosts: BTreeMap<ObjectKey, Vec<DesiredHost>>,
}

/// What the last rebuild decided: what every pass reads.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The desired stacks (with the hostnames objects with errors hold), shared with the
    /// translation's model and with what passes applied.
    pub stacks: BTreeMap<StackId, Arc<Stack>>,
    /// Which stack each Ingress or Service belongs to.
    pub claims: BTreeMap<ObjectKey, StackId>,
    /// The Ingresses and Services the controller may write to.
    pub objects: BTreeMap<ObjectKey, ObjState>,
    /// Objects with errors.
    pub errored: BTreeSet<ObjectKey>,
    /// Stacks whose finalizer an object with errors holds: never deleted, never released,
    /// until the object is fixed or deleted.
    pub protected: BTreeSet<StackId>,
    /// For each hostname, the stack that keeps it (first by display id among all current
    /// stacks).
    pub hostname_owners: BTreeMap<String, StackId>,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Default)]
pub struct Rebuilt {
    /// The new view.
    pub view: View,
    /// Stacks a pass must visit.
    pub dirty: BTreeSet<StackId>,
    /// Stacks whose objects changed, or that left the view: any backoff is cancelled.
    pub retry_now: BTreeSet<StackId>,
}

/// Decides, after a rebuild, what the controller must do: see the module documentation.
/// `previous` is the last view's stacks, `applied` what passes applied, `objects` every
/// Ingress and Service that can be ours. A dry run never visits a stack only to release a
/// finalizer (it writes none).
pub fn decide(
    previous: &BTreeMap<StackId, Arc<Stack>>,
    applied: &BTreeMap<StackId, Applied>,
    translation: Translation,
    objects: BTreeMap<ObjectKey, ObjState>,
    dry_run: bool,
) -> Rebuilt {
    let Translation {
        stacks,
        claims,
        errored,
        held_hosts,
    } = translation;
    let mut stacks: BTreeMap<StackId, Arc<Stack>> =
        stacks.into_iter().map(|s| (s.id.clone(), s)).collect();

    // An object with errors keeps every stack it holds a finalizer of: no deletion, no
    // release, and its hostnames' records stay, until it is fixed or deleted.
    let mut protected = BTreeSet::new();
    for (key, obj) in &objects {
        if obj.deleting || !errored.contains(key) {
            continue;
        }
        let hosts = held_hosts.get(key).map_or(&[][..], Vec::as_slice);
        for (_, stack) in obj.finalized_stacks() {
            if let Some(s) = stacks.get_mut(&stack) {
                if !hosts.is_empty() {
                    Arc::make_mut(s)
                        .held_hostnames
                        .extend(hosts.iter().cloned());
                }
            }
            protected.insert(stack);
        }
    }

    let claimed: BTreeSet<&StackId> = claims.values().collect();
    let mut dirty = BTreeSet::new();
    let mut retry_now = BTreeSet::new();
    for (id, stack) in &stacks {
        let changed = applied.get(id).is_none_or(|a| !same_shape(&a.stack, stack));
        if changed {
            dirty.insert(id.clone());
        }
        // A change of the objects is worth trying at once, whatever the backoff; a change of
        // targets alone is not (endpoints of crash-looping pods change every few seconds, and
        // each retry is a full pass: the fast path sends targets of applied stacks anyway).
        if previous.get(id).is_some_and(|old| !same_shape(old, stack)) {
            retry_now.insert(id.clone());
        }
    }
    // A stack that left the view (its objects were deleted or moved) is deleted or left at
    // once: whatever its earlier failures, they were about a stack that no longer exists.
    retry_now.extend(
        previous
            .keys()
            .filter(|id| !stacks.contains_key(*id))
            .cloned(),
    );
    // Applied stacks nobody wants any more are deleted, unless claimed (an object of the
    // group still names it) or protected.
    for id in applied.keys() {
        if !stacks.contains_key(id) && !claimed.contains(id) && !protected.contains(id) {
            dirty.insert(id.clone());
        }
    }
    // Objects holding the finalizer of a stack they left: the stack's next pass releases it.
    if !dry_run {
        for (key, obj) in objects.iter().filter(|(k, _)| !errored.contains(*k)) {
            for (_, stack) in obj.finalized_stacks() {
                let left_alone = !stacks.contains_key(&stack)
                    && (claimed.contains(&stack) || protected.contains(&stack));
                if claims.get(key) != Some(&stack) && !left_alone {
                    dirty.insert(stack);
                }
            }
        }
    }
    let hostname_owners = hostname_owners(&stacks);
    Rebuilt {
        view: View {
            stacks,
            claims,
            objects,
            errored,
            protected,
            hostname_owners,
        },
        dirty,
        retry_now,
    }
}

/// [`decide`] after a rebuild that changed only stacks, each keeping its id: the units rebuilt
/// for EndpointSlice or Node changes, with the same errors, warnings, skipped objects and
/// claims as before (`updated`: each rebuilt stack before and after, as the model tells them).
/// Then the objects, the claims and which stacks exist are what the last [`decide`] saw, so
/// only the changed stacks are compared (with what was applied, and with the view), put in
/// `view`, and the hostname owners decided again only if their hostnames changed: work
/// proportional to the stacks changed, not to all. Returns the stacks a pass must visit and
/// those whose backoff is cancelled, or `None` (and leaves `view` alone) when the rebuild
/// did more than that — a stack appeared or went, a view stack was not the model's (an
/// object with errors holds hostnames on it) — and [`decide`] must run instead.
pub fn decide_stacks(
    view: &mut View,
    applied: &BTreeMap<StackId, Applied>,
    updated: &[StackChange],
) -> Option<(BTreeSet<StackId>, BTreeSet<StackId>)> {
    for pair in updated {
        match pair {
            (None, None) => {}
            (Some(before), Some(after))
                if before.id == after.id
                    && !view.protected.contains(&after.id)
                    && view
                        .stacks
                        .get(&after.id)
                        .is_some_and(|v| Arc::ptr_eq(v, before)) => {}
            _ => return None,
        }
    }
    let mut dirty = BTreeSet::new();
    let mut retry_now = BTreeSet::new();
    let mut hostnames_changed = false;
    for (before, after) in updated {
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        if Arc::ptr_eq(before, after) {
            continue;
        }
        let id = &after.id;
        if applied.get(id).is_none_or(|a| !same_shape(&a.stack, after)) {
            dirty.insert(id.clone());
        }
        if !same_shape(before, after) {
            retry_now.insert(id.clone());
        }
        hostnames_changed |= before.hostnames != after.hostnames;
        view.stacks.insert(id.clone(), Arc::clone(after));
    }
    if hostnames_changed {
        view.hostname_owners = hostname_owners(&view.stacks);
    }
    Some((dirty, retry_now))
}

/// For each hostname, the stack that keeps it: the first by display id (`ns/name`,
/// `group`, `service:ns/name`, compared as text) among all current stacks.
pub fn hostname_owners(stacks: &BTreeMap<StackId, Arc<Stack>>) -> BTreeMap<String, StackId> {
    let mut by_text: Vec<(String, &Arc<Stack>)> =
        stacks.values().map(|s| (s.id.to_string(), s)).collect();
    by_text.sort_by(|a, b| a.0.cmp(&b.0));
    let mut owners = BTreeMap::new();
    for (_, stack) in by_text {
        for h in &stack.hostnames {
            owners
                .entry(h.hostname.clone())
                .or_insert_with(|| stack.id.clone());
        }
    }
    owners
}

/// What one pass over a batch of stacks does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Stacks to apply.
    pub desired: Vec<Arc<Stack>>,
    /// Stacks to delete (everything they own in AWS).
    pub deletes: BTreeSet<StackId>,
    /// The objects each stack is made of (status, events).
    pub members: BTreeMap<StackId, Vec<ObjState>>,
    /// Finalizers to add before anything is created: (stack, object, finalizer).
    pub add_finalizers: Vec<(StackId, ObjState, String)>,
    /// Finalizers to remove once the stack's pass succeeded: objects that left it.
    pub release: BTreeMap<StackId, Vec<(ObjState, String)>>,
}

impl Batch {
    /// Every stack the pass covers.
    pub fn stacks(&self) -> impl Iterator<Item = &StackId> + '_ {
        self.desired.iter().map(|s| &s.id).chain(&self.deletes)
    }

    /// Leaves out `blocked` stacks (their finalizer could not be added).
    pub fn without(mut self, blocked: &BTreeSet<StackId>) -> Self {
        self.desired.retain(|s| !blocked.contains(&s.id));
        self.deletes.retain(|d| !blocked.contains(d));
        self
    }

    /// Whether there is nothing to apply or delete.
    pub fn is_empty(&self) -> bool {
        self.desired.is_empty() && self.deletes.is_empty()
    }
}

/// Decides what a pass over `ids` does, from the last view: a desired stack is applied; a
/// stack no object claims and none with errors protects is deleted; a stack claimed but not
/// desired (its objects have errors) is left alone. Objects that left a stack have its
/// finalizer released after the pass, unless they have errors. Members without the finalizer
/// get it first (never in a dry run, never while being deleted).
pub fn plan_batch(view: &View, ids: &[StackId], dry_run: bool) -> Batch {
    let mut batch = Batch::default();
    for id in ids {
        let members: Vec<ObjState> = view
            .claims
            .iter()
            .filter(|(_, stack)| *stack == id)
            .filter_map(|(key, _)| view.objects.get(key).cloned())
            .collect();
        let holders: Vec<(ObjState, String)> = view
            .objects
            .iter()
            .filter(|(key, _)| !view.errored.contains(*key))
            .flat_map(|(key, obj)| {
                obj.finalized_stacks()
                    .into_iter()
                    .filter(move |(_, stack)| stack == id && view.claims.get(key) != Some(stack))
                    .map(move |(f, _)| (obj.clone(), f))
            })
            .collect();
        if let Some(stack) = view.stacks.get(id) {
            batch.desired.push(stack.clone());
            if !dry_run {
                let finalizer = finalizer_for(id);
                for obj in &members {
                    if !obj.deleting && !obj.finalizers.contains(&finalizer) {
                        batch
                            .add_finalizers
                            .push((id.clone(), obj.clone(), finalizer.clone()));
                    }
                }
            }
        } else if members.is_empty() && !view.protected.contains(id) {
            batch.deletes.insert(id.clone());
        }
        if !members.is_empty() {
            batch.members.insert(id.clone(), members);
        }
        if !holders.is_empty() {
            batch.release.insert(id.clone(), holders);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::kube_io::ObjKind;
    use aws_lb_operator_core::model::TargetSpec;

    fn ingress(ns: &str, name: &str, finalizers: &[&str]) -> ObjState {
        ObjState {
            kind: ObjKind::Ingress,
            namespace: ns.into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            finalizers: finalizers.iter().map(|f| (*f).to_owned()).collect(),
            deleting: false,
            hostnames: vec![],
        }
    }

    fn deleting(mut o: ObjState) -> ObjState {
        o.deleting = true;
        o
    }

    fn key(o: &ObjState) -> ObjectKey {
        ObjectKey::of(o)
    }

    fn host(name: &str, resource: &str) -> DesiredHost {
        DesiredHost {
            hostname: name.into(),
            resource: resource.into(),
        }
    }

    /// The seed example's stack, renamed, with `hosts` and no target group.
    fn stack(id: &str, hosts: &[&str]) -> Stack {
        let plan: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/golden/seed.plan.json")).unwrap();
        let mut s: Stack = serde_json::from_value(plan["stacks"][0].clone()).unwrap();
        s.id = StackId::parse(id);
        s.hostnames = hosts.iter().map(|h| host(h, "ingress/shop/x")).collect();
        s.held_hostnames.clear();
        s.target_groups.truncate(1);
        if let Some(tg) = s.target_groups.first_mut() {
            tg.targets.clear();
        }
        s
    }

    fn with_target(mut s: Stack, ip: &str) -> Stack {
        if let Some(tg) = s.target_groups.first_mut() {
            tg.targets = vec![TargetSpec {
                id: ip.into(),
                port: 80,
            }];
        }
        s
    }

    #[test]
    fn a_pass_that_applied_what_the_view_wants_needs_no_other() {
        let a = stack("shop/a", &["a.example.com"]);
        let id = a.id.clone();
        let view = |s: &Stack| View {
            stacks: [(s.id.clone(), Arc::new(s.clone()))].into(),
            ..View::default()
        };
        let a = Arc::new(a);
        assert!(!needs_another_pass(&view(&a), &id, &a), "the same stack");
        assert!(
            !needs_another_pass(&view(&with_target(Stack::clone(&a), "10.0.0.9")), &id, &a),
            "only targets differ: the fast path's"
        );
        assert!(
            needs_another_pass(&view(&stack("shop/a", &["b.example.com"])), &id, &a),
            "the view wants another host"
        );
        assert!(
            needs_another_pass(&View::default(), &id, &a),
            "the view no longer wants it: its deletion"
        );
    }

    fn applied(stacks: &[Stack]) -> BTreeMap<StackId, Applied> {
        stacks
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    Applied {
                        stack: Arc::new(s.clone()),
                        tg_arns: BTreeMap::new(),
                    },
                )
            })
            .collect()
    }

    fn ids(list: &[&str]) -> BTreeSet<StackId> {
        list.iter().map(|s| StackId::parse(s)).collect()
    }

    const GROUP_G: &str = "group.ingress.k8s.aws/g";
    const OWN: &str = "ingress.k8s.aws/resources";

    #[derive(Default)]
    struct DecideCase {
        name: &'static str,
        previous: Vec<Stack>,
        applied: Vec<Stack>,
        stacks: Vec<Stack>,
        /// (object, the stack it claims)
        objects: Vec<(ObjState, Option<&'static str>)>,
        errored: Vec<ObjectKey>,
        held: Vec<(ObjectKey, Vec<DesiredHost>)>,
        dry_run: bool,
        dirty: &'static [&'static str],
        retry_now: &'static [&'static str],
        protected: &'static [&'static str],
        /// (stack, its held hostnames after the decision)
        held_after: &'static [(&'static str, &'static [&'static str])],
    }

    #[test]
    fn decide_table() {
        let web = ingress("shop", "web", &[OWN]);
        let broken = ingress("shop", "broken", &[GROUP_G]);
        let cases = vec![
            DecideCase {
                name: "a new stack is visited",
                stacks: vec![stack("shop/web", &[])],
                objects: vec![(web.clone(), Some("shop/web"))],
                dirty: &["shop/web"],
                ..Default::default()
            },
            DecideCase {
                name: "an applied stack whose only change is targets is left to the fast path, \
                       and a change of targets does not cut a backoff short",
                previous: vec![with_target(stack("shop/web", &[]), "10.0.0.1")],
                applied: vec![with_target(stack("shop/web", &[]), "10.0.0.1")],
                stacks: vec![with_target(stack("shop/web", &[]), "10.0.0.2")],
                objects: vec![(web.clone(), Some("shop/web"))],
                ..Default::default()
            },
            DecideCase {
                name: "an applied stack whose shape changed is visited at once",
                previous: vec![stack("shop/web", &[])],
                applied: vec![stack("shop/web", &[])],
                stacks: vec![stack("shop/web", &["www.example.com"])],
                objects: vec![(web.clone(), Some("shop/web"))],
                dirty: &["shop/web"],
                retry_now: &["shop/web"],
                ..Default::default()
            },
            DecideCase {
                name: "an unchanged applied stack is not visited",
                previous: vec![stack("shop/web", &[])],
                applied: vec![stack("shop/web", &[])],
                stacks: vec![stack("shop/web", &[])],
                objects: vec![(web.clone(), Some("shop/web"))],
                ..Default::default()
            },
            DecideCase {
                name: "an applied stack nobody wants is visited (to be deleted)",
                applied: vec![stack("shop/gone", &[])],
                dirty: &["shop/gone"],
                ..Default::default()
            },
            DecideCase {
                name: "a stack that left the view is deleted at once, whatever its backoff",
                previous: vec![stack("shop/gone", &[])],
                applied: vec![stack("shop/gone", &[])],
                dirty: &["shop/gone"],
                retry_now: &["shop/gone"],
                ..Default::default()
            },
            DecideCase {
                name: "an applied stack still claimed (its objects have errors) is not deleted",
                applied: vec![stack("g", &[])],
                objects: vec![(ingress("shop", "a", &[]), Some("g"))],
                ..Default::default()
            },
            DecideCase {
                name: "an object with errors protects the stack it holds a finalizer of",
                applied: vec![stack("g", &[])],
                objects: vec![(broken.clone(), None)],
                errored: vec![key(&broken)],
                protected: &["g"],
                ..Default::default()
            },
            DecideCase {
                name: "a protected stack that still exists keeps the object's hostnames",
                applied: vec![stack("g", &["a.example.com"])],
                stacks: vec![stack("g", &["a.example.com"])],
                objects: vec![(broken.clone(), None)],
                errored: vec![key(&broken)],
                held: vec![(
                    key(&broken),
                    vec![host("b.example.com", "ingress/shop/broken")],
                )],
                protected: &["g"],
                // Holding a hostname changes the stack's DNS: a pass writes it.
                dirty: &["g"],
                held_after: &[("g", &["b.example.com"])],
                ..Default::default()
            },
            DecideCase {
                name: "an object with errors that is being deleted protects nothing",
                applied: vec![stack("g", &[])],
                objects: vec![(deleting(broken.clone()), None)],
                errored: vec![key(&broken)],
                dirty: &["g"],
                ..Default::default()
            },
            DecideCase {
                name: "an object that left a stack has it visited to release its finalizer",
                applied: vec![stack("g", &[]), stack("shop/web", &[])],
                previous: vec![stack("g", &[]), stack("shop/web", &[])],
                stacks: vec![stack("g", &[]), stack("shop/web", &[])],
                objects: vec![
                    (ingress("shop", "web", &[GROUP_G, OWN]), Some("shop/web")),
                    (ingress("shop", "other", &[GROUP_G]), Some("g")),
                ],
                dirty: &["g"],
                ..Default::default()
            },
            DecideCase {
                name: "in a dry run, no visit only to release a finalizer",
                applied: vec![stack("g", &[]), stack("shop/web", &[])],
                previous: vec![stack("g", &[]), stack("shop/web", &[])],
                stacks: vec![stack("g", &[]), stack("shop/web", &[])],
                objects: vec![
                    (ingress("shop", "web", &[GROUP_G, OWN]), Some("shop/web")),
                    (ingress("shop", "other", &[GROUP_G]), Some("g")),
                ],
                dry_run: true,
                ..Default::default()
            },
            DecideCase {
                name: "a finalizer of a stack that is claimed but not built is left alone",
                objects: vec![
                    (ingress("shop", "web", &[GROUP_G]), None),
                    (ingress("shop", "other", &[]), Some("g")),
                ],
                ..Default::default()
            },
            DecideCase {
                name: "a finalizer of a protected stack is left alone",
                objects: vec![
                    (ingress("shop", "web", &[GROUP_G]), None),
                    (broken.clone(), None),
                ],
                errored: vec![key(&broken)],
                protected: &["g"],
                ..Default::default()
            },
            DecideCase {
                name: "a finalizer of a stack nobody claims: visited (to delete and release)",
                objects: vec![(deleting(ingress("shop", "web", &[OWN])), None)],
                dirty: &["shop/web"],
                ..Default::default()
            },
            DecideCase {
                name: "an object with errors is never released from its stacks",
                stacks: vec![stack("g", &[])],
                applied: vec![stack("g", &[])],
                previous: vec![stack("g", &[])],
                objects: vec![(broken.clone(), None)],
                errored: vec![key(&broken)],
                protected: &["g"],
                ..Default::default()
            },
        ];
        for c in cases {
            let previous = c
                .previous
                .iter()
                .map(|s| (s.id.clone(), Arc::new(s.clone())))
                .collect();
            let claims = c
                .objects
                .iter()
                .filter_map(|(o, s)| Some((key(o), StackId::parse((*s)?))))
                .collect();
            let objects = c.objects.iter().map(|(o, _)| (key(o), o.clone())).collect();
            let got = decide(
                &previous,
                &applied(&c.applied),
                Translation {
                    stacks: c.stacks.into_iter().map(Arc::new).collect(),
                    claims,
                    errored: c.errored.into_iter().collect(),
                    held_hosts: c.held.into_iter().collect(),
                },
                objects,
                c.dry_run,
            );
            assert_eq!(got.dirty, ids(c.dirty), "{}: dirty", c.name);
            assert_eq!(got.retry_now, ids(c.retry_now), "{}: retry now", c.name);
            assert_eq!(
                got.view.protected,
                ids(c.protected),
                "{}: protected",
                c.name
            );
            for (id, hosts) in c.held_after {
                let held: Vec<&str> = got.view.stacks[&StackId::parse(id)]
                    .held_hostnames
                    .iter()
                    .map(|h| h.hostname.as_str())
                    .collect();
                assert_eq!(held, *hosts, "{}: held hostnames of {id}", c.name);
            }
        }
    }

    #[test]
    fn hostname_owner_is_the_first_stack_by_display_id() {
        struct Case {
            name: &'static str,
            stacks: Vec<Stack>,
            want: &'static [(&'static str, &'static str)],
        }
        let cases = [
            Case {
                name: "one stack per hostname",
                stacks: vec![
                    stack("shop/a", &["a.example.com"]),
                    stack("shop/b", &["b.example.com"]),
                ],
                want: &[("a.example.com", "shop/a"), ("b.example.com", "shop/b")],
            },
            Case {
                name: "two implicit groups: the first by namespace/name",
                stacks: vec![
                    stack("shop/b", &["www.example.com"]),
                    stack("shop/a", &["www.example.com"]),
                ],
                want: &[("www.example.com", "shop/a")],
            },
            Case {
                // As text "abc/web" < "zeta" (the typed id would order the explicit group first).
                name: "an implicit group before an explicit group that sorts after it as text",
                stacks: vec![
                    stack("zeta", &["www.example.com"]),
                    stack("abc/web", &["www.example.com"]),
                ],
                want: &[("www.example.com", "abc/web")],
            },
            Case {
                name: "compared as text: service:a/svc before shop/web",
                stacks: vec![
                    stack("service:a/svc", &["www.example.com"]),
                    stack("shop/web", &["www.example.com"]),
                ],
                want: &[("www.example.com", "service:a/svc")],
            },
            Case {
                name: "held hostnames do not own",
                stacks: vec![{
                    let mut s = stack("shop/a", &[]);
                    s.held_hostnames
                        .push(host("www.example.com", "ingress/shop/a"));
                    s
                }],
                want: &[],
            },
        ];
        for c in cases {
            let stacks = c
                .stacks
                .into_iter()
                .map(|s| (s.id.clone(), Arc::new(s)))
                .collect();
            let got = hostname_owners(&stacks);
            let want: BTreeMap<String, StackId> = c
                .want
                .iter()
                .map(|(h, s)| ((*h).to_owned(), StackId::parse(s)))
                .collect();
            assert_eq!(got, want, "{}", c.name);
        }
    }

    #[test]
    fn plan_batch_table() {
        struct Case {
            name: &'static str,
            stacks: Vec<Stack>,
            objects: Vec<(ObjState, Option<&'static str>)>,
            errored: Vec<ObjState>,
            protected: &'static [&'static str],
            batch: &'static [&'static str],
            dry_run: bool,
            desired: &'static [&'static str],
            deletes: &'static [&'static str],
            /// (stack, object name, finalizer)
            add: &'static [(&'static str, &'static str, &'static str)],
            release: &'static [(&'static str, &'static str, &'static str)],
        }
        let cases = [
            Case {
                name: "a desired stack gets its members' finalizer first",
                stacks: vec![stack("shop/web", &[])],
                objects: vec![(ingress("shop", "web", &[]), Some("shop/web"))],
                errored: vec![],
                protected: &[],
                batch: &["shop/web"],
                dry_run: false,
                desired: &["shop/web"],
                deletes: &[],
                add: &[("shop/web", "web", OWN)],
                release: &[],
            },
            Case {
                name: "no finalizer when it is there already, or the member is being deleted",
                stacks: vec![stack("g", &[])],
                objects: vec![
                    (ingress("shop", "a", &[GROUP_G]), Some("g")),
                    (deleting(ingress("shop", "b", &[])), Some("g")),
                ],
                errored: vec![],
                protected: &[],
                batch: &["g"],
                dry_run: false,
                desired: &["g"],
                deletes: &[],
                add: &[],
                release: &[],
            },
            Case {
                name: "a dry run adds no finalizer",
                stacks: vec![stack("shop/web", &[])],
                objects: vec![(ingress("shop", "web", &[]), Some("shop/web"))],
                errored: vec![],
                protected: &[],
                batch: &["shop/web"],
                dry_run: true,
                desired: &["shop/web"],
                deletes: &[],
                add: &[],
                release: &[],
            },
            Case {
                name: "a stack no object claims is deleted and its finalizers released",
                stacks: vec![],
                objects: vec![(deleting(ingress("shop", "web", &[OWN])), None)],
                errored: vec![],
                protected: &[],
                batch: &["shop/web"],
                dry_run: false,
                desired: &[],
                deletes: &["shop/web"],
                add: &[],
                release: &[("shop/web", "web", OWN)],
            },
            Case {
                name: "a stack claimed but not built is neither applied nor deleted",
                stacks: vec![],
                objects: vec![(ingress("shop", "a", &[GROUP_G]), Some("g"))],
                errored: vec![],
                protected: &[],
                batch: &["g"],
                dry_run: false,
                desired: &[],
                deletes: &[],
                add: &[],
                release: &[],
            },
            Case {
                name:
                    "a protected stack is not deleted; the object with errors keeps its finalizer",
                stacks: vec![],
                objects: vec![(ingress("shop", "broken", &[GROUP_G]), None)],
                errored: vec![ingress("shop", "broken", &[GROUP_G])],
                protected: &["g"],
                batch: &["g"],
                dry_run: false,
                desired: &[],
                deletes: &[],
                add: &[],
                release: &[],
            },
            Case {
                name: "an object that moved to another stack is released from the old one",
                stacks: vec![stack("g", &[]), stack("shop/web", &[])],
                objects: vec![
                    (ingress("shop", "web", &[GROUP_G, OWN]), Some("shop/web")),
                    (ingress("shop", "other", &[GROUP_G]), Some("g")),
                ],
                errored: vec![],
                protected: &[],
                batch: &["g"],
                dry_run: false,
                desired: &["g"],
                deletes: &[],
                add: &[],
                release: &[("g", "web", GROUP_G)],
            },
            Case {
                name: "a Service's stack uses the Service finalizer",
                stacks: vec![stack("service:shop/db", &[])],
                objects: vec![(
                    ObjState {
                        kind: ObjKind::Service,
                        ..ingress("shop", "db", &[])
                    },
                    Some("service:shop/db"),
                )],
                errored: vec![],
                protected: &[],
                batch: &["service:shop/db"],
                dry_run: false,
                desired: &["service:shop/db"],
                deletes: &[],
                add: &[("service:shop/db", "db", "service.k8s.aws/resources")],
                release: &[],
            },
        ];
        for c in cases {
            let view = View {
                stacks: c
                    .stacks
                    .iter()
                    .map(|s| (s.id.clone(), Arc::new(s.clone())))
                    .collect(),
                claims: c
                    .objects
                    .iter()
                    .filter_map(|(o, s)| Some((key(o), StackId::parse((*s)?))))
                    .collect(),
                objects: c.objects.iter().map(|(o, _)| (key(o), o.clone())).collect(),
                errored: c.errored.iter().map(key).collect(),
                protected: ids(c.protected),
                hostname_owners: BTreeMap::new(),
            };
            let batch_ids: Vec<StackId> = c.batch.iter().map(|s| StackId::parse(s)).collect();
            let got = plan_batch(&view, &batch_ids, c.dry_run);
            let desired: Vec<String> = got.desired.iter().map(|s| s.id.to_string()).collect();
            assert_eq!(desired, c.desired, "{}: desired", c.name);
            assert_eq!(got.deletes, ids(c.deletes), "{}: deletes", c.name);
            let add: Vec<(String, String, String)> = got
                .add_finalizers
                .iter()
                .map(|(s, o, f)| (s.to_string(), o.name.clone(), f.clone()))
                .collect();
            let want_add: Vec<(String, String, String)> = c
                .add
                .iter()
                .map(|(s, o, f)| ((*s).to_owned(), (*o).to_owned(), (*f).to_owned()))
                .collect();
            assert_eq!(add, want_add, "{}: finalizers added", c.name);
            let release: Vec<(String, String, String)> = got
                .release
                .iter()
                .flat_map(|(s, v)| {
                    v.iter()
                        .map(move |(o, f)| (s.to_string(), o.name.clone(), f.clone()))
                })
                .collect();
            let want_release: Vec<(String, String, String)> = c
                .release
                .iter()
                .map(|(s, o, f)| ((*s).to_owned(), (*o).to_owned(), (*f).to_owned()))
                .collect();
            assert_eq!(release, want_release, "{}: finalizers released", c.name);
        }
    }

    #[test]
    fn deciding_only_the_changed_stacks_agrees_with_deciding_all() {
        let a = Arc::new(stack("shop/a", &["a.example.com"]));
        let b = Arc::new(stack("shop/b", &["b.example.com"]));
        let translation = |stacks: Vec<Arc<Stack>>| Translation {
            stacks,
            ..Translation::default()
        };
        let first = decide(
            &BTreeMap::new(),
            &BTreeMap::new(),
            translation(vec![Arc::clone(&a), Arc::clone(&b)]),
            BTreeMap::new(),
            false,
        );
        // Both applied as the view wants them (the same allocations, as passes leave them).
        let applied: BTreeMap<StackId, Applied> = first
            .view
            .stacks
            .iter()
            .map(|(id, s)| {
                let stack = Arc::clone(s);
                let tg_arns = BTreeMap::new();
                (id.clone(), Applied { stack, tg_arns })
            })
            .collect();
        let targets = Arc::new(with_target(Stack::clone(&a), "10.0.0.9"));
        let mut renamed = stack("shop/a", &["c.example.com"]);
        renamed
            .hostnames
            .push(host("a.example.com", "ingress/shop/x"));
        let renamed = Arc::new(renamed);
        type Case<'a> = (&'a str, Arc<Stack>, &'a [&'a str], &'a [&'a str]);
        let cases: [Case<'_>; 3] = [
            (
                "targets only: the fast path's, not a pass's",
                targets,
                &[],
                &[],
            ),
            (
                "a new hostname: dirty and retried",
                renamed,
                &["shop/a"],
                &["shop/a"],
            ),
            ("unchanged", Arc::clone(&a), &[], &[]),
        ];
        for (name, after, dirty, retry) in cases {
            let mut view = first.view.clone();
            let updated = [(Some(Arc::clone(&a)), Some(Arc::clone(&after)))];
            let (got_dirty, got_retry) = decide_stacks(&mut view, &applied, &updated).expect(name);
            let all = decide(
                &first.view.stacks,
                &applied,
                translation(vec![Arc::clone(&after), Arc::clone(&b)]),
                BTreeMap::new(),
                false,
            );
            assert_eq!(got_dirty, ids(dirty), "{name}: dirty");
            assert_eq!(got_dirty, all.dirty, "{name}: dirty as decide says");
            assert_eq!(got_retry, ids(retry), "{name}: retried");
            assert_eq!(got_retry, all.retry_now, "{name}: retried as decide says");
            assert_eq!(view.stacks, all.view.stacks, "{name}: stacks");
            assert!(Arc::ptr_eq(&view.stacks[&a.id], &after), "{name}: shared");
            assert_eq!(
                view.hostname_owners, all.view.hostname_owners,
                "{name}: hostname owners"
            );
        }
        // Anything but stacks changing in place is decide's: a stack that went, one that
        // came, one the view holds hostnames on (an object with errors protects it).
        let mut protected = first.view.clone();
        protected.protected.insert(a.id.clone());
        let went = [(Some(Arc::clone(&a)), None)];
        let came = [(None, Some(Arc::new(stack("shop/c", &[]))))];
        let changed = [(Some(Arc::clone(&a)), Some(Arc::new(stack("shop/a", &[]))))];
        for (name, mut view, updated) in [
            ("went", first.view.clone(), &went[..]),
            ("came", first.view.clone(), &came[..]),
            ("protected", protected, &changed[..]),
        ] {
            let before = view.stacks.clone();
            assert_eq!(decide_stacks(&mut view, &applied, updated), None, "{name}");
            assert_eq!(view.stacks, before, "{name}: the view is left alone");
        }
    }

    #[test]
    fn a_batch_without_blocked_stacks() {
        let batch = Batch {
            desired: vec![Arc::new(stack("a/a", &[])), Arc::new(stack("b/b", &[]))],
            deletes: ids(&["c/c", "d/d"]),
            ..Batch::default()
        };
        let left = batch.without(&ids(&["a/a", "c/c"]));
        let covered: Vec<String> = left.stacks().map(ToString::to_string).collect();
        assert_eq!(covered, vec!["b/b", "d/d"]);
        assert!(!left.is_empty());
        assert!(left.without(&ids(&["b/b", "d/d"])).is_empty());
    }
}
