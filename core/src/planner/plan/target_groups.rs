//! Target groups: matching the observed ones to the desired ones, creates, in-place updates
//! and replacements, and the resolution of target-group references in actions.
use super::*;

impl<'a> StackPlanner<'a> {
    pub(super) fn delete_tg(&mut self, tg: &ObservedTargetGroup, reason: Option<String>) {
        self.delete(
            DEL_TGS,
            tg_resource(
                &tg.name,
                resource_tag(self.input.id.kind, &tg.tags).unwrap_or("?"),
            ),
            reason,
            Op::DeleteTargetGroup {
                arn: tg.arn.clone(),
            },
        );
    }

    pub(super) fn match_target_groups(&self, d: &Stack) -> Result<Vec<TgMatch<'a>>, String> {
        let observed = self.input.observed;
        let mut out = Vec::new();
        for tg in &d.target_groups {
            let mut candidates: Vec<&ObservedTargetGroup> = observed
                .target_groups
                .iter()
                .filter(|o| resource_tag(self.input.id.kind, &o.tags) == Some(tg.id.as_str()))
                .collect();
            candidates.sort_by_key(|o| (o.name != tg.name, o.arn.clone()));
            let m = match candidates.first() {
                Some(o) => match tg_replace_reason(tg, o) {
                    None => TgMatch::Keep(o),
                    Some(reason) => {
                        if o.name == tg.name {
                            return Err(format!(
                                "target group {} must be replaced ({reason}) but the new one would \
                                 have the same name; delete it by hand",
                                tg.name
                            ));
                        }
                        TgMatch::Create(Some(reason))
                    }
                },
                None => TgMatch::Create(None),
            };
            if matches!(m, TgMatch::Create(_)) {
                if let Some(arn) = self.cluster.foreign.target_groups.get(&tg.name) {
                    return Err(format!(
                        "target group name {} is already used by {arn}, which this cluster does not \
                         own (no {}={} tag); delete or rename it",
                        tg.name,
                        tags::CLUSTER,
                        self.cluster.cluster
                    ));
                }
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Target groups referenced by name in actions, resolved to ARNs from what was observed
    /// (owned or not: referencing is not modifying).
    pub(super) fn resolve_named_target_groups(
        &self,
        d: &Stack,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut names = BTreeSet::new();
        for l in &d.listeners {
            for a in l
                .default_actions
                .iter()
                .chain(l.rules.iter().flat_map(|r| &r.actions))
            {
                if let ActionSpec::Forward { target_groups, .. } = a {
                    names.extend(target_groups.iter().filter_map(|t| t.name.clone()));
                }
            }
        }
        let mut out = BTreeMap::new();
        for name in names {
            let arn = self
                .cluster
                .foreign
                .target_groups
                .get(&name)
                .cloned()
                .or_else(|| {
                    self.cluster
                        .unplanned
                        .values()
                        .chain(std::iter::once(self.input.observed))
                        .flat_map(|s| &s.target_groups)
                        .find(|t| t.name == name)
                        .map(|t| t.arn.clone())
                });
            match arn {
                Some(arn) => {
                    out.insert(name, arn);
                }
                None => {
                    return Err(format!(
                        "target group {name} (named in an action) does not exist in {}",
                        self.cluster.vpc_id
                    ))
                }
            }
        }
        Ok(out)
    }

    pub(super) fn plan_tg_create(&mut self, tg: &TargetGroupSpec, reason: Option<String>) -> Ref {
        let key = keys::target_group(&self.stack, &tg.id);
        let resource = tg_resource(&tg.name, &tg.id);
        self.push(
            resource.clone(),
            ChangeKind::Create,
            reason,
            Op::CreateTargetGroup {
                key: key.clone(),
                target_group: NewTargetGroup {
                    name: tg.name.clone(),
                    port: tg.port,
                    protocol: tg.protocol.as_str().to_owned(),
                    protocol_version: tg.protocol_version.map(|v| v.as_str().to_owned()),
                    target_type: tg.target_type.as_str().to_owned(),
                    ip_address_type: tg.ip_address_type.clone(),
                    vpc_id: self.cluster.vpc_id.clone(),
                    health_check: tg.health_check.clone(),
                },
                tags: tg.tags.clone(),
            },
        );
        if !tg.attributes.is_empty() {
            self.push(
                resource,
                ChangeKind::Modify,
                None,
                Op::ModifyTargetGroupAttributes {
                    target_group: Ref::New(key.clone()),
                    attributes: tg.attributes.clone(),
                },
            );
        }
        Ref::New(key)
    }

    pub(super) fn plan_tg_update(&mut self, tg: &TargetGroupSpec, o: &ObservedTargetGroup) {
        let resource = tg_resource(&o.name, &tg.id);
        let arn = Ref::Existing(o.arn.clone());
        if !canon::health_check_equal(&tg.health_check, &o.health_check) {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some("health check differs".into()),
                Op::ModifyTargetGroup {
                    target_group: arn.clone(),
                    health_check: tg.health_check.clone(),
                },
            );
        }
        // A trusted stack's attributes were not read (the desired-state hash covers them).
        let attrs = if self.input.observed.trusted {
            BTreeMap::new()
        } else {
            canon::attribute_changes(&tg.attributes, &o.attributes)
        };
        if !attrs.is_empty() {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::ModifyTargetGroupAttributes {
                    target_group: arn,
                    attributes: attrs,
                },
            );
        }
        self.plan_elbv2_tags(resource, &o.arn, &tg.tags, &o.tags);
    }
}

pub(super) enum TgMatch<'a> {
    Keep(&'a ObservedTargetGroup),
    Create(Option<String>),
}

fn tg_resource(name: &str, id: &str) -> String {
    format!("target group {name} ({id})")
}

/// Why an observed target group cannot be modified into the desired one, if it cannot.
fn tg_replace_reason(tg: &TargetGroupSpec, o: &ObservedTargetGroup) -> Option<String> {
    let changed = |field: &str, from: &str, to: &str| {
        Some(format!(
            "{field} changed from {from} to {to} (cannot be modified)"
        ))
    };
    if o.port != tg.port {
        return changed("port", &o.port.to_string(), &tg.port.to_string());
    }
    if !o.protocol.eq_ignore_ascii_case(tg.protocol.as_str()) {
        return changed("protocol", &o.protocol, tg.protocol.as_str());
    }
    if !o.target_type.eq_ignore_ascii_case(tg.target_type.as_str()) {
        return changed("target type", &o.target_type, tg.target_type.as_str());
    }
    if let Some(want) = tg.protocol_version {
        if !o.protocol_version.is_empty() && !o.protocol_version.eq_ignore_ascii_case(want.as_str())
        {
            return changed("protocol version", &o.protocol_version, want.as_str());
        }
    }
    if !o.ip_address_type.is_empty() && !o.ip_address_type.eq_ignore_ascii_case(&tg.ip_address_type)
    {
        return changed("IP address type", &o.ip_address_type, &tg.ip_address_type);
    }
    None
}

/// Resolves target group references in actions: stack ids to the kept group's ARN (or leave
/// the id for a group created in this plan), names to ARNs.
pub(super) struct Resolver<'a> {
    pub(super) tg_refs: &'a BTreeMap<&'a str, Ref>,
    pub(super) names: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    pub(super) fn target_group(&self, t: &TargetGroupRef) -> TargetGroupRef {
        let mut out = TargetGroupRef {
            id: None,
            arn: t.arn.clone(),
            name: None,
            weight: t.weight,
        };
        if let Some(id) = &t.id {
            match self.tg_refs.get(id.as_str()) {
                Some(Ref::Existing(arn)) => out.arn = Some(arn.clone()),
                _ => out.id = Some(id.clone()),
            }
        } else if let Some(name) = &t.name {
            out.arn = self.names.get(name).cloned();
            if out.arn.is_none() {
                out.name = Some(name.clone());
            }
        }
        out
    }

    pub(super) fn actions(&self, actions: &[ActionSpec]) -> Vec<ActionSpec> {
        actions
            .iter()
            .map(|a| match a {
                ActionSpec::Forward {
                    target_groups,
                    stickiness,
                } => ActionSpec::Forward {
                    target_groups: target_groups.iter().map(|t| self.target_group(t)).collect(),
                    stickiness: stickiness.clone(),
                },
                other => other.clone(),
            })
            .collect()
    }
}
