//! IngressGroups: which Ingresses are ours, which group each joins, in which order, and the
//! member-by-member merge in which one bad member never blocks its group.
use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;

use super::annotations::{self, Annotations, IngressSettings};
use super::error::{invalid_annotation, invalid_field, BuildError, ObjectRef};
use super::listener::ListenerState;
use super::load_balancer::LoadBalancerState;
use super::member::{self, MemberPlan};
use super::params::{self, IngressClassParamsSpec};
use super::{Index, Skipped};
use crate::model::{IpAddressType, Scheme, Stack, StackId, TargetGroupSpec, TargetType};

/// One Ingress admitted to a group, with its annotations parsed and IngressClassParams applied.
#[derive(Clone, Debug)]
pub struct Member<'a> {
    /// The Ingress.
    pub ingress: &'a Ingress,
    /// `ingress namespace/name`.
    pub object: ObjectRef,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Parsed annotations, IngressClassParams applied.
    pub settings: IngressSettings,
    /// `targetType` from IngressClassParams (beats the annotations).
    pub params_target_type: Option<TargetType>,
    /// `tags` from IngressClassParams (beat the annotations).
    pub params_tags: BTreeMap<String, String>,
}

/// Output of [`collect`].
#[derive(Debug, Default)]
pub(crate) struct Collected<'a> {
    /// Members per group, in member order (`group.order`, then namespace/name).
    pub groups: BTreeMap<StackId, Vec<Member<'a>>>,
    /// Ingresses that could not join any group, and members that were excluded before merging.
    pub errors: Vec<BuildError>,
    /// Ingresses that are not ours.
    pub skipped: Vec<Skipped>,
}

enum Class<'a> {
    /// Ours, with the IngressClassParams of the class (if any) and a reference to it.
    Ours(Option<(&'a IngressClassParamsSpec, ObjectRef)>),
    NotOurs(String),
}

fn classify<'a>(
    index: &Index<'a>,
    ing: &'a Ingress,
    object: &ObjectRef,
) -> Result<Class<'a>, BuildError> {
    let config = index.config;
    if let Some(class) = ing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotations::INGRESS_CLASS))
    {
        return Ok(if *class == config.ingress_class {
            Class::Ours(None)
        } else {
            Class::NotOurs(format!(
                "annotation {} is {class:?}, not {:?}",
                annotations::INGRESS_CLASS,
                config.ingress_class
            ))
        });
    }
    let Some(class_name) = ing
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
    else {
        return Ok(Class::NotOurs(
            "no spec.ingressClassName and no kubernetes.io/ingress.class annotation".into(),
        ));
    };
    let Some(class) = index.ingress_class(class_name) else {
        // An Ingress that holds our finalizer has a load balancer: a class that went missing
        // (deleted and about to be recreated by a Helm upgrade, say) is an error of the
        // Ingress, which keeps its stack, not a reason to delete the load balancer.
        let finalized =
            ing.metadata.finalizers.iter().flatten().any(|f| {
                f == super::INGRESS_FINALIZER || f.starts_with(super::GROUP_FINALIZER_PREFIX)
            });
        if finalized {
            return Err(BuildError::NotFound {
                object: object.clone(),
                field: "spec.ingressClassName".into(),
                target: format!("ingressclass {class_name}"),
            });
        }
        return Ok(Class::NotOurs(format!(
            "ingressclass {class_name} not found"
        )));
    };
    let controller = class
        .spec
        .as_ref()
        .and_then(|s| s.controller.as_deref())
        .unwrap_or_default();
    if controller != config.controller {
        return Ok(Class::NotOurs(format!(
            "ingressclass {class_name} has controller {controller:?}, not {:?}",
            config.controller
        )));
    }
    let reference = class.spec.as_ref().and_then(|s| s.parameters.as_ref());
    let Some(reference) = reference.filter(|r| r.kind == params::KIND) else {
        return Ok(Class::Ours(None));
    };
    let Some(found) = index.params(&reference.name) else {
        return Err(BuildError::NotFound {
            object: object.clone(),
            field: format!("ingressclass {class_name} spec.parameters"),
            target: format!("ingressclassparams {}", reference.name),
        });
    };
    if let Some(selector) = &found.spec.namespace_selector {
        if !params::selector_matches(selector, &index.namespace_labels(&object.namespace)) {
            return Err(BuildError::NamespaceNotAllowed {
                object: object.clone(),
                class: class_name.to_owned(),
                params: reference.name.clone(),
                namespace: object.namespace.clone(),
            });
        }
    }
    Ok(Class::Ours(Some((
        &found.spec,
        ObjectRef::cluster("ingressclassparams", &reference.name),
    ))))
}

fn enum_field<T>(
    params: &ObjectRef,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    expected: String,
) -> Result<Option<T>, BuildError> {
    value
        .map(|v| parse(v).ok_or_else(|| invalid_field(params, field, v, expected.clone())))
        .transpose()
}

/// Overlays IngressClassParams on the annotations: a field that is set wins.
fn apply_params(
    settings: &mut IngressSettings,
    spec: &IngressClassParamsSpec,
    params: &ObjectRef,
) -> Result<(Option<TargetType>, BTreeMap<String, String>), BuildError> {
    if let Some(v) = enum_field(
        params,
        "spec.scheme",
        spec.scheme.as_deref(),
        Scheme::parse,
        Scheme::expected(),
    )? {
        settings.scheme = Some(v);
    }
    let ip: Option<IpAddressType> = enum_field(
        params,
        "spec.ipAddressType",
        spec.ip_address_type.as_deref(),
        IpAddressType::parse,
        IpAddressType::expected(),
    )?;
    if ip.is_some() {
        settings.ip_address_type = ip;
    }
    if let Some(name) = &spec.load_balancer_name {
        let parsed = annotations::parse_load_balancer_name(name).ok_or_else(|| {
            invalid_field(
                params,
                "spec.loadBalancerName",
                name,
                annotations::LOAD_BALANCER_NAME_EXPECTED,
            )
        })?;
        settings.load_balancer_name = Some(parsed);
    }
    let mut params_tags = BTreeMap::new();
    if let Some(tags) = &spec.tags {
        let mut merged = settings.tags.clone().unwrap_or_default();
        for kv in tags {
            if crate::model::tags::RESERVED.contains(&kv.key.as_str()) {
                return Err(invalid_field(
                    params,
                    "spec.tags",
                    &kv.key,
                    "a key other than the tracking tags",
                ));
            }
            if let Some(problem) = crate::model::tags::user_tag_problem(&kv.key, &kv.value) {
                return Err(invalid_field(params, "spec.tags", &kv.key, problem));
            }
            merged.insert(kv.key.clone(), kv.value.clone());
            params_tags.insert(kv.key.clone(), kv.value.clone());
        }
        settings.tags = Some(merged);
    }
    if let Some(subnets) = &spec.subnets {
        settings.subnets = Some(subnets.ids.clone());
        settings.subnet_tags = Some(subnets.tags.clone());
    }
    if let Some(cidrs) = &spec.inbound_cidrs {
        if let Some(bad) = cidrs.iter().find(|c| !annotations::is_cidr(c)) {
            return Err(invalid_field(
                params,
                "spec.inboundCIDRs",
                bad,
                "IPv4 or IPv6 CIDRs such as 10.0.0.0/8",
            ));
        }
        settings.inbound_cidrs = Some(cidrs.clone());
    }
    // LBC's computeIngressExplicitPrefixListIDs: `prefixListsIDs`, else the legacy spelling,
    // else the annotation; an empty list counts as unset.
    let prefix_lists = [
        ("spec.prefixListsIDs", &spec.prefix_lists_ids),
        ("spec.PrefixListsIDs", &spec.prefix_lists_ids_legacy),
    ]
    .into_iter()
    .find_map(|(field, lists)| lists.as_ref().filter(|l| !l.is_empty()).map(|l| (field, l)));
    if let Some((field, lists)) = prefix_lists {
        if let Some(bad) = lists
            .iter()
            .find(|l| annotations::parse_prefix_lists(l).is_none_or(|v| v.len() != 1))
        {
            return Err(invalid_field(
                params,
                field,
                bad,
                "managed prefix list ids such as pl-0123456789abcdef0",
            ));
        }
        settings.inbound_prefix_lists = Some(lists.clone());
    }
    if let Some(policy) = &spec.ssl_policy {
        settings.ssl_policy = Some(policy.clone());
    }
    if let Some(arns) = &spec.certificate_arn {
        if let Some(bad) = arns
            .iter()
            .find(|c| !annotations::is_arn(c, &["acm", "iam"]))
        {
            return Err(invalid_field(
                params,
                "spec.certificateArn",
                bad,
                "certificate ARNs such as arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-… (ACM) or arn:aws:iam::123456789012:server-certificate/name (IAM)",
            ));
        }
        settings.certificate_arns = Some(arns.clone());
    }
    if let Some(attrs) = &spec.load_balancer_attributes {
        let mut merged = settings
            .load_balancer_attributes
            .clone()
            .unwrap_or_default();
        let own: BTreeMap<String, String> = attrs
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        if let Some(expected) =
            super::attributes::problem(super::attributes::Set::ApplicationLoadBalancer, &own)
        {
            let shown: Vec<String> = attrs
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            return Err(invalid_field(
                params,
                "spec.loadBalancerAttributes",
                &shown.join(","),
                expected,
            ));
        }
        merged.extend(own);
        settings.load_balancer_attributes = Some(merged);
    }
    // As LBC: an empty wafv2AclArn is not set; "none" removes the web ACL.
    if let Some(arn) = spec.wafv2_acl_arn.as_deref().filter(|a| !a.is_empty()) {
        let acl = annotations::parse_web_acl(arn).ok_or_else(|| {
            invalid_field(
                params,
                "spec.wafv2AclArn",
                arn,
                annotations::WAFV2_ACL_ARN_EXPECTED,
            )
        })?;
        settings.wafv2_web_acl = Some(acl);
    }
    let target_type = enum_field(
        params,
        "spec.targetType",
        spec.target_type.as_deref(),
        TargetType::parse,
        TargetType::expected(),
    )?;
    Ok((target_type, params_tags))
}

/// What `metadata.name` must be, for objects read from manifests without one.
pub(crate) const NAME_EXPECTED: &str =
    "a name (every Kubernetes object has one; the manifest lacks metadata.name)";

/// Sorts Ingresses into groups. Ingresses of other classes are skipped; Ingresses that are ours
/// but cannot be placed (missing IngressClassParams, refused namespace, invalid group name)
/// are errors; members with invalid annotations are excluded from their group with an error.
#[must_use]
pub(crate) fn collect<'a>(index: &Index<'a>, ingresses: &'a [Ingress]) -> Collected<'a> {
    let mut out = Collected::default();
    let mut sorted: Vec<&Ingress> = ingresses.iter().collect();
    sorted.sort_by_key(|i| {
        (
            super::meta_namespace(&i.metadata),
            super::meta_name(&i.metadata),
        )
    });
    for ing in sorted {
        let namespace = super::meta_namespace(&ing.metadata).to_owned();
        let name = super::meta_name(&ing.metadata).to_owned();
        let object = ObjectRef::namespaced("ingress", &namespace, &name);
        if ing.metadata.deletion_timestamp.is_some() {
            out.skipped.push(Skipped {
                object,
                reason: "being deleted".into(),
            });
            continue;
        }
        let params = match classify(index, ing, &object) {
            Ok(Class::Ours(params)) => params,
            Ok(Class::NotOurs(reason)) => {
                out.skipped.push(Skipped { object, reason });
                continue;
            }
            Err(e) => {
                out.errors.push(e.ungrouped(&object));
                continue;
            }
        };
        if name.is_empty() {
            out.errors.push(
                invalid_field(&object, "metadata.name", "", NAME_EXPECTED).ungrouped(&object),
            );
            continue;
        }
        let a = Annotations::new(&object, ing.metadata.annotations.as_ref());
        // The group decides where errors go, so it is resolved first: params, then annotation.
        let params_group = params
            .as_ref()
            .and_then(|(spec, r)| spec.group.as_ref().map(|g| (g, r)));
        let group = match params_group {
            Some((g, params_ref)) => match annotations::parse_group_name(&g.name) {
                Some(n) => StackId::explicit(&n),
                None => {
                    // No group to be left out of: the Ingress is not built at all.
                    out.errors.push(
                        invalid_field(
                            params_ref,
                            "spec.group.name",
                            &g.name,
                            annotations::GROUP_NAME_EXPECTED,
                        )
                        .ungrouped(&object),
                    );
                    continue;
                }
            },
            None => match a.raw(annotations::GROUP_NAME) {
                None => StackId::implicit(&namespace, &name),
                Some(raw) => match annotations::parse_group_name(raw) {
                    Some(n) => StackId::explicit(&n),
                    None => {
                        out.errors.push(
                            invalid_annotation(
                                &object,
                                annotations::GROUP_NAME,
                                raw,
                                annotations::GROUP_NAME_EXPECTED,
                            )
                            .ungrouped(&object),
                        );
                        continue;
                    }
                },
            },
        };
        let external = &index.config.external_managed_tags;
        let parsed = IngressSettings::parse(&a).and_then(|mut settings| {
            annotations::check_external_tags(
                &a,
                annotations::TAGS,
                settings.tags.as_ref(),
                external,
            )?;
            let overrides = match &params {
                Some((spec, p)) => {
                    if let Some(kv) = spec
                        .tags
                        .iter()
                        .flatten()
                        .find(|kv| external.contains(&kv.key))
                    {
                        return Err(invalid_field(
                            p,
                            "spec.tags",
                            &kv.key,
                            "a key that --external-managed-tags does not leave to be managed outside the operator",
                        ));
                    }
                    apply_params(&mut settings, spec, p)?
                }
                None => (None, BTreeMap::new()),
            };
            Ok((settings, overrides))
        });
        match parsed {
            Ok((settings, (params_target_type, params_tags))) => {
                out.groups.entry(group).or_default().push(Member {
                    ingress: ing,
                    object,
                    namespace,
                    name,
                    settings,
                    params_target_type,
                    params_tags,
                })
            }
            Err(e) => out.errors.push(e.exclude(&object, &group)),
        }
    }
    for members in out.groups.values_mut() {
        members.sort_by(|a, b| {
            (a.settings.group_order, &a.namespace, &a.name).cmp(&(
                b.settings.group_order,
                &b.namespace,
                &b.name,
            ))
        });
    }
    out
}

/// Output of [`build_stack`].
#[derive(Debug, Default)]
pub(crate) struct BuiltStack {
    /// The stack, or `None` when every member was excluded (the existing load balancer, if
    /// any, must then be left alone rather than deleted).
    pub stack: Option<Stack>,
    /// Errors (excluded members, unresolvable backends, limits).
    pub errors: Vec<BuildError>,
    /// Whether any target group registers instances (so Node problems matter).
    pub uses_instance_targets: bool,
}

/// Accumulated state of a group while members are merged in order.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    pub(crate) load_balancer: LoadBalancerState,
    pub(crate) listeners: BTreeMap<u16, ListenerState>,
    pub(crate) members: Vec<MemberPlan>,
    pub(crate) default_backend_owner: Option<ObjectRef>,
    pub(crate) target_groups: BTreeMap<String, TargetGroupSpec>,
}

impl GroupState {
    fn rule_count_with(&self, plan: &MemberPlan, redirect: Option<u16>) -> usize {
        let count = |p: &MemberPlan| -> usize {
            p.listen_ports
                .iter()
                .filter(|lp| !(redirect.is_some() && lp.protocol == crate::model::Protocol::Http))
                .count()
                * p.rules.len()
        };
        self.members.iter().map(count).sum::<usize>() + count(plan)
    }

    /// Checks that `plan` fits the group; merges it only if everything fits.
    fn try_add(
        &mut self,
        index: &Index<'_>,
        stack: &StackId,
        plan: MemberPlan,
    ) -> Result<(), BuildError> {
        let lb = self.load_balancer.check(stack, &plan)?;
        for lp in &plan.listen_ports {
            let existing = self.listeners.get(&lp.port);
            if let Some(existing) = existing {
                existing.check(stack, &plan, *lp)?;
            }
            super::listener::check_certificates(existing, &plan, *lp)?;
        }
        if plan.default_action.is_some() {
            if let Some(owner) = &self.default_backend_owner {
                return Err(BuildError::DuplicateDefaultBackend {
                    object: plan.object.clone(),
                    owner: owner.clone(),
                    group: stack.clone(),
                });
            }
        }
        let limits = &index.config.limits;
        let redirect = lb.ssl_redirect.as_ref().map(|(p, _)| *p);
        if let Some(port) = redirect {
            let https = plan
                .listen_ports
                .iter()
                .chain(self.listeners.values().map(|l| &l.port))
                .any(|lp| lp.port == port && lp.protocol == crate::model::Protocol::Https);
            if !https {
                let owner = lb.ssl_redirect.as_ref().map_or(&plan.object, |(_, o)| o);
                return Err(invalid_annotation(
                    &plan.object,
                    annotations::SSL_REDIRECT,
                    &port.to_string(),
                    format!("an HTTPS listen port of group {stack} (ssl-redirect set by {owner})"),
                ));
            }
        }
        let rules = self.rule_count_with(&plan, redirect);
        if rules > limits.rules_per_load_balancer {
            return Err(BuildError::Limit {
                object: plan.object.clone(),
                what: format!("the number of listener rules of the load balancer of group {stack}"),
                count: rules,
                limit: limits.rules_per_load_balancer,
            });
        }
        let tgs = self
            .target_groups
            .keys()
            .chain(
                plan.target_groups
                    .keys()
                    .filter(|k| !self.target_groups.contains_key(*k)),
            )
            .count();
        if tgs > limits.target_groups_per_load_balancer {
            return Err(BuildError::Limit {
                object: plan.object.clone(),
                what: format!("the number of target groups of the load balancer of group {stack}"),
                count: tgs,
                limit: limits.target_groups_per_load_balancer,
            });
        }
        // Everything fits: commit.
        self.load_balancer = lb;
        for lp in &plan.listen_ports {
            self.listeners
                .entry(lp.port)
                .or_insert_with(|| ListenerState::new(*lp, &plan.object))
                .merge(&plan);
        }
        if plan.default_action.is_some() {
            self.default_backend_owner = Some(plan.object.clone());
        }
        self.target_groups.extend(
            plan.target_groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        self.members.push(plan);
        Ok(())
    }
}

/// Builds one group's stack, member by member in member order. A member that is invalid or
/// conflicts with the members before it is left out with an error; the others are built.
#[must_use]
pub(crate) fn build_stack(
    index: &Index<'_>,
    stack: &StackId,
    members: &[Member<'_>],
) -> BuiltStack {
    let mut out = BuiltStack::default();
    let mut state = GroupState::default();
    let mut hostnames = Vec::new();
    let mut held = Vec::new();
    let mut objects = Vec::new();
    for (position, member) in members.iter().enumerate() {
        let compiled = member::compile(index, stack, member, position);
        match compiled {
            Err(e) => {
                out.errors.push(e.exclude(&member.object, stack));
                held.extend(member_hosts(member, &mut Vec::new()));
            }
            Ok(plan) => {
                let backend_errors = plan.backend_errors.clone();
                let uses_instances = plan.uses_instance_targets;
                match state.try_add(index, stack, plan) {
                    // Backend errors matter only for a merged member: an excluded member has
                    // no rules that could answer 503.
                    Ok(()) => {
                        out.uses_instance_targets |= uses_instances;
                        out.errors.extend(backend_errors);
                        objects.push(format!("ingress/{}/{}", member.namespace, member.name));
                        hostnames.extend(member_hosts(member, &mut out.errors));
                    }
                    Err(e) => {
                        out.errors.push(e.exclude(&member.object, stack));
                        held.extend(member_hosts(member, &mut Vec::new()));
                    }
                }
            }
        }
    }
    if !state.members.is_empty() {
        let mut built = super::load_balancer::finish(index, stack, state);
        hostnames.sort();
        hostnames.dedup_by(|a, b| a.hostname == b.hostname);
        objects.sort();
        built.hostnames = hostnames;
        held.sort();
        held.dedup_by(|a, b| a.hostname == b.hostname);
        built.held_hostnames = held;
        built.objects = objects;
        out.stack = Some(built);
    }
    out
}

/// Hostnames of a member: rule hosts, TLS hosts and the ExternalDNS annotation.
fn member_hosts(member: &Member<'_>, errors: &mut Vec<BuildError>) -> Vec<crate::dns::DesiredHost> {
    super::hostnames::ingress_hosts_of(&member.object, member.ingress, errors)
}
