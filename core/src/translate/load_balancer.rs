//! The load balancer of a group: exclusive settings merged member by member (a member that
//! disagrees with an earlier one is left out), and the final [`Stack`].
use std::collections::{BTreeMap, BTreeSet};

use super::annotations::{
    INBOUND_CIDRS, IP_ADDRESS_TYPE, LOAD_BALANCER_ATTRIBUTES, LOAD_BALANCER_NAME,
    MANAGE_BACKEND_SECURITY_GROUP_RULES, SCHEME, SECURITY_GROUPS, SECURITY_GROUP_PREFIX_LISTS,
    SHIELD_ADVANCED_PROTECTION, SSL_REDIRECT, SUBNETS, TAGS, WAFV2_ACL_ARN,
};
use super::error::{BuildError, ObjectRef};
use super::group::GroupState;
use super::listener::{not_found_action, ssl_redirect_action};
use super::member::MemberPlan;
use super::{rule, Index};
use crate::model::{
    load_balancer_name, tags, ActionSpec, IpAddressType, ListenerSpec, LoadBalancerSpec,
    LoadBalancerType, Protocol, Scheme, Stack, StackId, WebAcl,
};

type Owned<T> = Option<(T, ObjectRef)>;
/// Subnet ids (or Name tags) and tag filters.
type Subnets = (Vec<String>, BTreeMap<String, Vec<String>>);

/// Exclusive load-balancer settings with the member that set each.
#[derive(Clone, Debug, Default)]
pub(crate) struct LoadBalancerState {
    pub(crate) name: Owned<String>,
    pub(crate) scheme: Owned<Scheme>,
    pub(crate) ip_address_type: Owned<IpAddressType>,
    pub(crate) subnets: Owned<Subnets>,
    pub(crate) security_groups: Owned<Vec<String>>,
    pub(crate) inbound_cidrs: Owned<Vec<String>>,
    pub(crate) inbound_prefix_lists: Owned<Vec<String>>,
    pub(crate) manage_backend_sg_rules: Owned<bool>,
    pub(crate) ssl_redirect: Owned<u16>,
    pub(crate) wafv2_web_acl: Owned<WebAcl>,
    pub(crate) shield_advanced_protection: Owned<bool>,
    pub(crate) attributes: BTreeMap<String, (String, ObjectRef)>,
    pub(crate) tags: BTreeMap<String, (String, ObjectRef)>,
}

fn merge_one<T: Clone + PartialEq>(
    slot: &mut Owned<T>,
    value: Option<&T>,
    show: impl Fn(&T) -> String,
    setting: &str,
    plan: &MemberPlan,
    stack: &StackId,
) -> Result<(), BuildError> {
    let Some(value) = value else { return Ok(()) };
    match slot {
        Some((existing, owner)) if existing != value => Err(BuildError::Conflict {
            object: plan.object.clone(),
            setting: format!("annotation {setting}"),
            value: show(value),
            existing: show(existing),
            owner: owner.clone(),
            group: stack.clone(),
        }),
        Some(_) => Ok(()),
        None => {
            *slot = Some((value.clone(), plan.object.clone()));
            Ok(())
        }
    }
}

fn merge_map(
    map: &mut BTreeMap<String, (String, ObjectRef)>,
    values: Option<&BTreeMap<String, String>>,
    setting: &str,
    plan: &MemberPlan,
    stack: &StackId,
) -> Result<(), BuildError> {
    for (k, v) in values.into_iter().flatten() {
        match map.get(k) {
            Some((existing, owner)) if existing != v => {
                return Err(BuildError::Conflict {
                    object: plan.object.clone(),
                    setting: format!("annotation {setting} key {k}"),
                    value: v.clone(),
                    existing: existing.clone(),
                    owner: owner.clone(),
                    group: stack.clone(),
                })
            }
            Some(_) => {}
            None => {
                map.insert(k.clone(), (v.clone(), plan.object.clone()));
            }
        }
    }
    Ok(())
}

impl LoadBalancerState {
    /// The state with `plan` merged in, or the first conflict.
    pub(crate) fn check(&self, stack: &StackId, plan: &MemberPlan) -> Result<Self, BuildError> {
        let s = &plan.settings;
        let mut next = self.clone();
        let list = |v: &Vec<String>| v.join(",");
        merge_one(
            &mut next.name,
            s.load_balancer_name.as_ref(),
            String::clone,
            LOAD_BALANCER_NAME,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.scheme,
            s.scheme.as_ref(),
            |v| v.to_string(),
            SCHEME,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.ip_address_type,
            s.ip_address_type.as_ref(),
            |v| v.to_string(),
            IP_ADDRESS_TYPE,
            plan,
            stack,
        )?;
        let subnets = s
            .subnets
            .as_ref()
            .map(|ids| (ids.clone(), s.subnet_tags.clone().unwrap_or_default()));
        merge_one(
            &mut next.subnets,
            subnets.as_ref(),
            |(ids, tags)| {
                if tags.is_empty() {
                    ids.join(",")
                } else {
                    format!("{} {tags:?}", ids.join(","))
                }
            },
            SUBNETS,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.security_groups,
            s.security_groups.as_ref(),
            list,
            SECURITY_GROUPS,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.inbound_cidrs,
            s.inbound_cidrs.as_ref(),
            list,
            INBOUND_CIDRS,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.inbound_prefix_lists,
            s.inbound_prefix_lists.as_ref(),
            list,
            SECURITY_GROUP_PREFIX_LISTS,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.manage_backend_sg_rules,
            s.manage_backend_sg_rules.as_ref(),
            bool::to_string,
            MANAGE_BACKEND_SECURITY_GROUP_RULES,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.ssl_redirect,
            s.ssl_redirect.as_ref(),
            u16::to_string,
            SSL_REDIRECT,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.wafv2_web_acl,
            s.wafv2_web_acl.as_ref(),
            |v| match v {
                WebAcl::Associate(arn) => arn.clone(),
                WebAcl::Disassociate => "none".to_owned(),
            },
            WAFV2_ACL_ARN,
            plan,
            stack,
        )?;
        merge_one(
            &mut next.shield_advanced_protection,
            s.shield_advanced_protection.as_ref(),
            bool::to_string,
            SHIELD_ADVANCED_PROTECTION,
            plan,
            stack,
        )?;
        merge_map(
            &mut next.attributes,
            s.load_balancer_attributes.as_ref(),
            LOAD_BALANCER_ATTRIBUTES,
            plan,
            stack,
        )?;
        merge_map(&mut next.tags, s.tags.as_ref(), TAGS, plan, stack)?;
        Ok(next)
    }
}

fn target_group_ids(actions: &[ActionSpec], into: &mut BTreeSet<String>) {
    for action in actions {
        if let ActionSpec::Forward { target_groups, .. } = action {
            into.extend(target_groups.iter().filter_map(|t| t.id.clone()));
        }
    }
}

/// Tags a listener or rule whose actions authenticate with OIDC with the fingerprint of the
/// client secret ([`tags::OIDC_CLIENT_SECRET`]): AWS never returns the secret, so a changed
/// fingerprint is what rewrites the actions when the Secret changes.
pub(crate) fn tag_client_secret(actions: &[ActionSpec], into: &mut BTreeMap<String, String>) {
    let fingerprint = actions.iter().find_map(|a| match a {
        ActionSpec::AuthenticateOidc(o) => o.client_secret.as_ref(),
        _ => None,
    });
    if let Some(secret) = fingerprint {
        into.insert(
            tags::OIDC_CLIENT_SECRET.to_owned(),
            secret.fingerprint().to_owned(),
        );
    }
}

/// Turns the merged state of a group into its stack.
pub(crate) fn finish(index: &Index<'_>, stack: &StackId, state: GroupState) -> Stack {
    let config = index.config;
    let cluster = config.cluster_name.as_str();
    let lb = &state.load_balancer;
    let user_tags: BTreeMap<String, String> = lb
        .tags
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    let redirect = lb.ssl_redirect.as_ref().map(|(p, _)| *p);
    let default_owner = state.default_backend_owner.as_ref();

    let mut listeners = Vec::with_capacity(state.listeners.len());
    let mut used_tgs = BTreeSet::new();
    // As LBC: a rule carries its own Ingress's tags, a listener those of the members that
    // declare its port, the load balancer those of the whole group.
    let member_tags = |object: &ObjectRef| -> BTreeMap<String, String> {
        state
            .members
            .iter()
            .find(|m| &m.object == object)
            .and_then(|m| m.settings.tags.clone())
            .unwrap_or_default()
    };
    for (port, ls) in &state.listeners {
        let declares = |m: &&MemberPlan| m.listen_ports.iter().any(|lp| lp.port == *port);
        let listener_tags: BTreeMap<String, String> = state
            .members
            .iter()
            .filter(declares)
            .flat_map(|m| m.settings.tags.iter().flatten())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (default_actions, rules) = match redirect {
            Some(to) if ls.port.protocol == Protocol::Http => {
                (vec![ssl_redirect_action(to)], Vec::new())
            }
            _ => {
                // As LBC: authentication goes before the action on HTTPS listeners only.
                let https = ls.port.protocol == Protocol::Https;
                let pending: Vec<rule::PendingRule> = state
                    .members
                    .iter()
                    .filter(declares)
                    .flat_map(|m| m.rules.iter().cloned())
                    .map(|mut r| {
                        if let Some(auth) = r.auth.take().filter(|_| https) {
                            r.actions.insert(0, auth);
                        }
                        r
                    })
                    .collect();
                let owner = state
                    .members
                    .iter()
                    .filter(declares)
                    .find(|m| Some(&m.object) == default_owner);
                let mut defaults: Vec<ActionSpec> = owner
                    .and_then(|m| m.default_auth.clone())
                    .filter(|_| https)
                    .into_iter()
                    .collect();
                defaults.push(
                    owner
                        .and_then(|m| m.default_action.clone())
                        .unwrap_or_else(not_found_action),
                );
                let mut rules = rule::prioritise(
                    pending,
                    *port,
                    cluster,
                    stack,
                    &member_tags,
                    config.rule_order,
                );
                for r in &mut rules {
                    tag_client_secret(&r.actions, &mut r.tags);
                }
                (defaults, rules)
            }
        };
        target_group_ids(&default_actions, &mut used_tgs);
        for r in &rules {
            target_group_ids(&r.actions, &mut used_tgs);
        }
        let https = ls.port.protocol == Protocol::Https;
        let mut listener_tags =
            tags::with_tracking(&listener_tags, cluster, stack, &port.to_string());
        tag_client_secret(&default_actions, &mut listener_tags);
        listeners.push(ListenerSpec {
            port: *port,
            protocol: ls.port.protocol,
            default_actions,
            rules,
            ssl_policy: https.then(|| {
                ls.ssl_policy
                    .as_ref()
                    .map_or_else(|| config.default_ssl_policy.clone(), |(p, _)| p.clone())
            }),
            certificates: if https {
                ls.certificates.clone()
            } else {
                Vec::new()
            },
            certificate_discovery: if https {
                ls.discovery.clone()
            } else {
                Vec::new()
            },
            alpn_policy: None,
            mutual_authentication: ls
                .mutual_authentication
                .as_ref()
                .filter(|_| https)
                .map(|(m, _)| m.clone()),
            attributes: ls
                .attributes
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
            tags: listener_tags,
        });
    }

    let scheme = lb
        .scheme
        .as_ref()
        .map_or(config.default_scheme, |(s, _)| *s);
    let ip_address_type = lb
        .ip_address_type
        .as_ref()
        .map_or(IpAddressType::Ipv4, |(t, _)| *t);
    let security_groups = lb
        .security_groups
        .as_ref()
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    let inbound_prefix_lists = if security_groups.is_empty() {
        lb.inbound_prefix_lists
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // As LBC: everything is allowed in only when neither CIDRs nor prefix lists are named.
    let inbound_cidrs = if security_groups.is_empty() {
        lb.inbound_cidrs
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| {
                if !inbound_prefix_lists.is_empty() {
                    return Vec::new();
                }
                let mut v = vec!["0.0.0.0/0".to_owned()];
                if ip_address_type != IpAddressType::Ipv4 {
                    v.push("::/0".to_owned());
                }
                v
            })
    } else {
        Vec::new()
    };
    let (subnets, subnet_tags) = lb
        .subnets
        .as_ref()
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    // As LBC: with user security groups, the annotation (else the flag) decides.
    let manage_backend_security_group_rules = !security_groups.is_empty()
        && lb
            .manage_backend_sg_rules
            .as_ref()
            .map_or(config.manage_backend_security_group_rules, |(m, _)| *m);
    let load_balancer = LoadBalancerSpec {
        name: lb.name.as_ref().map_or_else(
            || load_balancer_name(cluster, stack, scheme.as_str()),
            |(n, _)| n.clone(),
        ),
        lb_type: LoadBalancerType::Application,
        scheme,
        ip_address_type,
        subnets,
        subnet_tags,
        security_groups,
        inbound_cidrs,
        manage_backend_security_group_rules,
        inbound_prefix_lists,
        icmp_for_path_mtu_discovery: false,
        attributes: lb
            .attributes
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect(),
        eip_allocations: Vec::new(),
        private_ipv4_addresses: Vec::new(),
        tags: tags::with_tracking(&user_tags, cluster, stack, tags::LOAD_BALANCER_RESOURCE),
        wafv2_web_acl: lb.wafv2_web_acl.as_ref().map(|(v, _)| v.clone()),
        shield_advanced_protection: lb.shield_advanced_protection.as_ref().map(|(v, _)| *v),
        scheme_unset: None,
    };
    let target_groups = state
        .target_groups
        .into_iter()
        .filter(|(id, _)| used_tgs.contains(id))
        .map(|(_, tg)| tg)
        .collect();
    Stack {
        id: stack.clone(),
        load_balancer,
        listeners,
        target_groups,
        hostnames: Vec::new(),
        held_hostnames: Vec::new(),
        objects: Vec::new(),
    }
}
