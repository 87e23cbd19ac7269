//! Listener rules: paired with the observed ones by content, then by priority; moved with
//! SetRulePriorities, rewritten in place, created and deleted.
use super::*;

impl<'a> StackPlanner<'a> {
    pub(super) fn push_create_rule(
        &mut self,
        port: u16,
        r: &RuleSpec,
        listener: Ref,
        resolve: &Resolver<'_>,
    ) {
        self.push(
            format!("rule {port}:{}", r.priority),
            ChangeKind::Create,
            None,
            Op::CreateRule {
                listener,
                priority: r.priority,
                conditions: r.conditions.clone(),
                actions: resolve.actions(&r.actions),
                transforms: r.transforms.clone(),
                tags: r.tags.clone(),
            },
        );
    }

    /// Rules: pair by content first (a moved rule is re-prioritised, not rewritten), then by
    /// priority (rewritten in place), then create and delete the rest. Priorities move in at
    /// most two SetRulePriorities calls: parking the rules in the way, then the final order.
    pub(super) fn plan_rules(
        &mut self,
        l: &ListenerSpec,
        o: &ObservedListener,
        resolve: &Resolver<'_>,
    ) {
        let port = l.port;
        let desired: Vec<(&RuleSpec, Vec<ActionSpec>, RuleKey)> = l
            .rules
            .iter()
            .map(|r| {
                let actions = resolve.actions(&r.actions);
                let key = (
                    canon::conditions(&r.conditions),
                    canon::actions(&actions),
                    r.transforms.clone(),
                );
                (r, actions, key)
            })
            .collect();
        let actual: Vec<(&ObservedRule, RuleKey)> = o
            .rules
            .iter()
            .map(|r| {
                (
                    r,
                    (
                        canon::conditions(&r.conditions),
                        canon::actions(&r.actions),
                        r.transforms.clone(),
                    ),
                )
            })
            .collect();
        let mut pair: Vec<Option<usize>> = vec![None; desired.len()];
        let mut taken = vec![false; actual.len()];
        // Content match, same priority first, then any priority.
        for same_priority in [true, false] {
            for (di, (r, _, key)) in desired.iter().enumerate() {
                if pair[di].is_some() {
                    continue;
                }
                if let Some(ai) = actual.iter().enumerate().position(|(ai, (a, akey))| {
                    !taken[ai] && akey == key && (!same_priority || a.priority == r.priority)
                }) {
                    pair[di] = Some(ai);
                    taken[ai] = true;
                }
            }
        }
        let content_matched: Vec<bool> = pair.iter().map(Option::is_some).collect();
        // Priority match for the rest: rewritten in place.
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if pair[di].is_some() {
                continue;
            }
            if let Some(ai) = actual
                .iter()
                .enumerate()
                .position(|(ai, (a, _))| !taken[ai] && a.priority == r.priority)
            {
                pair[di] = Some(ai);
                taken[ai] = true;
            }
        }

        // Moves.
        let mut moves: BTreeMap<String, u32> = BTreeMap::new();
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if let Some(ai) = pair[di] {
                let a = actual[ai].0;
                if content_matched[di] && a.priority != r.priority {
                    moves.insert(a.arn.clone(), r.priority);
                }
            }
        }
        if !moves.is_empty() {
            let targets: BTreeSet<u32> = moves.values().copied().collect();
            let blocked = actual.iter().any(|(a, _)| targets.contains(&a.priority));
            if blocked {
                // Park every mover and every to-be-deleted rule sitting on a target priority.
                let top = actual
                    .iter()
                    .map(|(a, _)| a.priority)
                    .chain(desired.iter().map(|(r, _, _)| r.priority))
                    .max()
                    .unwrap_or(0);
                let mut parking: BTreeMap<String, u32> = BTreeMap::new();
                let mut next = top + 1;
                for (ai, (a, _)) in actual.iter().enumerate() {
                    let is_mover = moves.contains_key(&a.arn);
                    let deleted_in_the_way = !taken[ai] && targets.contains(&a.priority);
                    if is_mover || deleted_in_the_way {
                        parking.insert(a.arn.clone(), next.min(MAX_RULE_PRIORITY));
                        next += 1;
                    }
                }
                self.push(
                    format!("rules of listener {port}"),
                    ChangeKind::Modify,
                    Some("move rules out of the way before reordering".into()),
                    Op::SetRulePriorities {
                        priorities: parking,
                    },
                );
            }
            // Say which rule moves where, in the new order, so a reorder (e.g. adopting an
            // LBC load balancer without --rule-order=lbc) is plain in `diff`.
            let mut moved: Vec<(u32, u32, String)> = actual
                .iter()
                .filter_map(|(a, _)| {
                    let to = *moves.get(&a.arn)?;
                    Some((to, a.priority, describe_conditions(&a.conditions)))
                })
                .collect();
            moved.sort();
            let detail: Vec<String> = moved
                .iter()
                .map(|(to, from, what)| format!("{from} -> {to} ({what})"))
                .collect();
            self.push(
                format!("rules of listener {port}"),
                ChangeKind::Modify,
                Some(format!("reorder: {}", detail.join(", "))),
                Op::SetRulePriorities { priorities: moves },
            );
        }

        // Rewrites and tags of paired rules.
        for (di, (r, actions, _)) in desired.iter().enumerate() {
            let Some(ai) = pair[di] else { continue };
            let a = actual[ai].0;
            let resource = format!("rule {port}:{}", r.priority);
            let secret_stale = canon::client_secret_stale(&r.tags, &a.tags);
            if !content_matched[di] || secret_stale {
                self.push(
                    resource.clone(),
                    ChangeKind::Modify,
                    (content_matched[di] && secret_stale).then(|| SECRET_REASON.to_owned()),
                    Op::ModifyRule {
                        arn: a.arn.clone(),
                        conditions: r.conditions.clone(),
                        actions: actions.clone(),
                        transforms: r.transforms.clone(),
                        reset_transforms: r.transforms.is_empty() && !a.transforms.is_empty(),
                    },
                );
            }
            self.plan_elbv2_tags(resource, &a.arn, &r.tags, &a.tags);
        }
        // Creates.
        for (di, (r, _, _)) in desired.iter().enumerate() {
            if pair[di].is_none() {
                self.push_create_rule(port, r, Ref::Existing(o.arn.clone()), resolve);
            }
        }
        // Deletes.
        for (ai, (a, _)) in actual.iter().enumerate() {
            if !taken[ai] {
                self.delete(
                    DEL_RULES,
                    format!("rule {port}:{}", a.priority),
                    Some("no longer desired".into()),
                    Op::DeleteRule { arn: a.arn.clone() },
                );
            }
        }
    }
}

/// Why a rule or listener whose actions are unchanged is rewritten.
pub(super) const SECRET_REASON: &str =
    "send the OIDC client secret again (its fingerprint tag differs: the Secret changed, or an earlier controller wrote it)";

pub(super) type RuleKey = (
    Vec<crate::model::ConditionSpec>,
    Vec<ActionSpec>,
    Vec<crate::model::TransformSpec>,
);

/// A rule's conditions in a few words: `host a.example.com path /a,/a/*`.
pub(super) fn describe_conditions(conditions: &[crate::model::ConditionSpec]) -> String {
    use crate::model::ConditionSpec as C;
    let parts: Vec<String> = conditions
        .iter()
        .map(|c| match c {
            C::HostHeader { values } => format!("host {}", values.join(",")),
            C::PathPattern { values } => format!("path {}", values.join(",")),
            C::HttpHeader {
                http_header_name,
                values,
            } => format!("header {http_header_name}={}", values.join(",")),
            C::HttpRequestMethod { values } => format!("method {}", values.join(",")),
            C::QueryString { values } => format!("{} query conditions", values.len()),
            C::SourceIp { values } => format!("source {}", values.join(",")),
        })
        .collect();
    if parts.is_empty() {
        "no conditions".to_owned()
    } else {
        parts.join(" ")
    }
}
