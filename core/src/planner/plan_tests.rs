//! Planner tests against an in-memory AWS: plan, apply the changes to the fake, plan again.
use std::collections::BTreeMap;

use super::rules::describe_conditions;
use super::*;
use crate::model::ConditionSpec;
use crate::model::{DesiredState, StackId};
use crate::planner::{
    cluster, ForeignNames, ObservedProtection, ObservedShield, ObservedStack, ObservedWebAcl,
    StackFacts,
};

fn example(name: &str) -> DesiredState {
    let text = match name {
        "seed" => include_str!("../../../tests/golden/seed.plan.json"),
        _ => include_str!("../../../tests/golden/grouped.plan.json"),
    };
    serde_json::from_str(text).unwrap()
}

fn seed() -> Stack {
    example("seed").stacks.remove(0)
}

fn facts() -> StackFacts {
    StackFacts {
        subnets: Ok(vec!["subnet-a".into(), "subnet-b".into()]),
        subnets_explicit: false,
        security_groups: Ok(vec![]),
        certificates: Ok(()),
    }
}

/// A tiny in-memory AWS for one cluster: enough of ELBv2 and EC2 to apply plans.
#[derive(Default, Debug, Clone)]
struct Fake {
    stacks: BTreeMap<String, ObservedStack>,
    backend: Option<ObservedSecurityGroup>,
    target_sgs: Vec<ObservedSecurityGroup>,
    seq: u32,
    created: BTreeMap<String, String>,
    calls: Vec<&'static str>,
    external_tags: Vec<String>,
    unrestricted: bool,
    shield_subscribed: bool,
}

impl Fake {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}-{}", self.seq)
    }

    fn cluster(&self) -> ClusterFacts {
        ClusterFacts {
            cluster: "demo".into(),
            vpc_id: "vpc-1".into(),
            backend_sg_name: "k8s-traffic-demo-0123456789".into(),
            backend_sg: self.backend.clone(),
            target_security_groups: self.target_sgs.clone(),
            unplanned: BTreeMap::new(),
            foreign: ForeignNames::default(),
            external_managed_tags: self.external_tags.clone(),
            unrestricted_sg_rules: self.unrestricted,
            shield_subscribed: self.shield_subscribed,
        }
    }

    fn observed(&self, stack: &str) -> ObservedStack {
        self.stacks.get(stack).cloned().unwrap_or_default()
    }

    fn plan(&self, desired: &[Stack]) -> Plan {
        self.plan_with(desired, &facts(), &self.cluster())
    }

    fn plan_with(&self, desired: &[Stack], facts: &StackFacts, cluster: &ClusterFacts) -> Plan {
        let observed: Vec<ObservedStack> = desired
            .iter()
            .map(|s| self.observed(&s.id.to_string()))
            .collect();
        let inputs: Vec<StackInput<'_>> = desired
            .iter()
            .zip(&observed)
            .map(|(s, o)| StackInput {
                id: s.id.clone(),
                desired: Some(s),
                observed: o,
                facts,
            })
            .collect();
        plan(cluster, &inputs)
    }

    fn plan_delete(&self, stack: &str) -> Plan {
        let o = self.observed(stack);
        let f = facts();
        let id: StackId = serde_json::from_value(serde_json::json!(stack)).unwrap();
        plan(
            &self.cluster(),
            &[StackInput {
                id,
                desired: None,
                observed: &o,
                facts: &f,
            }],
        )
    }

    fn resolve(&self, r: &Ref) -> String {
        match r {
            Ref::Existing(a) => a.clone(),
            Ref::New(k) => self
                .created
                .get(k)
                .cloned()
                .unwrap_or_else(|| panic!("unresolved {k}")),
        }
    }

    fn resolve_actions(&self, stack: &str, actions: &[ActionSpec]) -> Vec<ActionSpec> {
        actions
            .iter()
            .map(|a| match a {
                ActionSpec::Forward {
                    target_groups,
                    stickiness,
                } => ActionSpec::Forward {
                    target_groups: target_groups
                        .iter()
                        .map(|t| {
                            assert!(t.name.is_none(), "names are resolved by the planner");
                            let arn = match (&t.arn, &t.id) {
                                (Some(a), _) => a.clone(),
                                (None, Some(id)) => {
                                    self.resolve(&Ref::New(keys::target_group(stack, id)))
                                }
                                _ => panic!("empty ref"),
                            };
                            TargetGroupRef {
                                id: None,
                                arn: Some(arn),
                                name: None,
                                weight: t.weight,
                            }
                        })
                        .collect(),
                    stickiness: stickiness.clone(),
                },
                // AWS never returns an OIDC client secret.
                ActionSpec::AuthenticateOidc(o) => {
                    let mut o = o.clone();
                    o.client_secret = None;
                    ActionSpec::AuthenticateOidc(o)
                }
                other => other.clone(),
            })
            .collect()
    }

    fn lb_mut(&mut self, arn: &str) -> &mut ObservedLoadBalancer {
        self.stacks
            .values_mut()
            .flat_map(|s| s.load_balancers.iter_mut())
            .find(|l| l.arn == arn)
            .unwrap_or_else(|| panic!("no LB {arn}"))
    }

    fn listener_mut(&mut self, arn: &str) -> &mut ObservedListener {
        self.stacks
            .values_mut()
            .flat_map(|s| s.load_balancers.iter_mut())
            .flat_map(|l| l.listeners.iter_mut())
            .find(|l| l.arn == arn)
            .unwrap_or_else(|| panic!("no listener {arn}"))
    }

    fn rule_mut(&mut self, arn: &str) -> &mut ObservedRule {
        self.stacks
            .values_mut()
            .flat_map(|s| s.load_balancers.iter_mut())
            .flat_map(|l| l.listeners.iter_mut())
            .flat_map(|l| l.rules.iter_mut())
            .find(|r| r.arn == arn)
            .unwrap_or_else(|| panic!("no rule {arn}"))
    }

    fn tg_mut(&mut self, arn: &str) -> &mut ObservedTargetGroup {
        self.stacks
            .values_mut()
            .flat_map(|s| s.target_groups.iter_mut())
            .find(|t| t.arn == arn)
            .unwrap_or_else(|| panic!("no TG {arn}"))
    }

    fn sg_mut(&mut self, id: &str) -> &mut ObservedSecurityGroup {
        if self.backend.as_ref().is_some_and(|b| b.id == id) {
            return self.backend.as_mut().unwrap();
        }
        if let Some(i) = self.target_sgs.iter().position(|s| s.id == id) {
            return &mut self.target_sgs[i];
        }
        self.stacks
            .values_mut()
            .flat_map(|s| s.security_groups.iter_mut())
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no SG {id}"))
    }

    fn src(&self, s: &SgSource) -> SgSource {
        match s {
            SgSource::NewGroup(k) => SgSource::Group(self.resolve(&Ref::New(k.clone()))),
            other => other.clone(),
        }
    }

    /// Applies changes like AWS would, asserting AWS's own constraints (unique priorities,
    /// no deleting a target group in use).
    fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            self.calls.push(c.operation());
            let stack = c.stack.clone();
            match &c.op {
                Op::CreateSecurityGroup {
                    key,
                    name,
                    vpc_id,
                    tags,
                    ..
                } => {
                    let id = self.id("sg");
                    let sg = ObservedSecurityGroup {
                        id: id.clone(),
                        name: name.clone(),
                        vpc_id: vpc_id.clone(),
                        tags: tags.clone(),
                        ingress: vec![],
                    };
                    if key == keys::BACKEND_SG {
                        self.backend = Some(sg);
                    } else {
                        self.stacks
                            .entry(stack)
                            .or_default()
                            .security_groups
                            .push(sg);
                    }
                    self.created.insert(key.clone(), id);
                }
                Op::AuthorizeSecurityGroupIngress { group, permissions } => {
                    let id = self.resolve(group);
                    let perms: Vec<SgPermission> = permissions
                        .iter()
                        .map(|p| SgPermission {
                            source: self.src(&p.source),
                            ..p.clone()
                        })
                        .collect();
                    let sg = self.sg_mut(&id);
                    for p in perms {
                        assert!(!sg.ingress.contains(&p), "duplicate permission");
                        sg.ingress.push(p);
                    }
                    sg.ingress.sort();
                }
                Op::RevokeSecurityGroupIngress { group, permissions } => {
                    let sg = self.sg_mut(group);
                    for p in permissions {
                        let before = sg.ingress.len();
                        sg.ingress.retain(|q| q != p);
                        assert_eq!(
                            before,
                            sg.ingress.len() + 1,
                            "revoking a missing permission"
                        );
                    }
                }
                Op::Ec2CreateTags { resource, tags } => {
                    self.sg_mut(resource).tags.extend(tags.clone());
                }
                Op::Ec2DeleteTags { resource, keys } => {
                    let sg = self.sg_mut(resource);
                    for k in keys {
                        sg.tags.remove(k);
                    }
                }
                Op::DeleteSecurityGroup { group } => {
                    let used = self
                        .stacks
                        .values()
                        .flat_map(|s| &s.load_balancers)
                        .any(|l| l.security_groups.contains(group));
                    assert!(!used, "DependencyViolation: {group} still attached");
                    if self.backend.as_ref().is_some_and(|b| &b.id == group) {
                        self.backend = None;
                    }
                    for s in self.stacks.values_mut() {
                        s.security_groups.retain(|g| &g.id != group);
                    }
                }
                Op::CreateTargetGroup {
                    key,
                    target_group: t,
                    tags,
                } => {
                    let arn = self.id("arn:tg");
                    self.stacks
                        .entry(stack)
                        .or_default()
                        .target_groups
                        .push(ObservedTargetGroup {
                            arn: arn.clone(),
                            name: t.name.clone(),
                            port: t.port,
                            protocol: t.protocol.clone(),
                            protocol_version: t.protocol_version.clone().unwrap_or_default(),
                            target_type: t.target_type.clone(),
                            ip_address_type: t.ip_address_type.clone(),
                            vpc_id: t.vpc_id.clone(),
                            health_check: t.health_check.clone(),
                            attributes: [(
                                "deregistration_delay.timeout_seconds".to_owned(),
                                "300".to_owned(),
                            )]
                            .into(),
                            tags: tags.clone(),
                            targets: vec![],
                            load_balancer_arns: vec![],
                        });
                    self.created.insert(key.clone(), arn);
                }
                Op::ModifyTargetGroup {
                    target_group,
                    health_check,
                } => {
                    let arn = self.resolve(target_group);
                    self.tg_mut(&arn).health_check = health_check.clone();
                }
                Op::ModifyTargetGroupAttributes {
                    target_group,
                    attributes,
                } => {
                    let arn = self.resolve(target_group);
                    self.tg_mut(&arn).attributes.extend(attributes.clone());
                }
                Op::RegisterTargets {
                    target_group,
                    targets,
                } => {
                    assert!(targets.len() <= REGISTER_BATCH);
                    let arn = self.resolve(target_group);
                    let tg = self.tg_mut(&arn);
                    tg.targets.extend(targets.iter().cloned());
                    tg.targets.sort();
                    tg.targets.dedup();
                }
                Op::DeregisterTargets {
                    target_group,
                    targets,
                } => {
                    self.tg_mut(target_group)
                        .targets
                        .retain(|t| !targets.contains(t));
                }
                Op::DeleteTargetGroup { arn } => {
                    let in_use = self
                        .stacks
                        .values()
                        .flat_map(|s| &s.load_balancers)
                        .flat_map(|l| &l.listeners)
                        .flat_map(|l| l.default_actions.iter().chain(l.rules.iter().flat_map(|r| &r.actions)))
                        .any(|a| matches!(a, ActionSpec::Forward { target_groups, .. } if target_groups.iter().any(|t| t.arn.as_deref() == Some(arn))));
                    assert!(!in_use, "ResourceInUse: {arn}");
                    for s in self.stacks.values_mut() {
                        s.target_groups.retain(|t| &t.arn != arn);
                    }
                }
                Op::CreateLoadBalancer {
                    key,
                    load_balancer: l,
                    tags,
                } => {
                    let taken = self
                        .stacks
                        .values()
                        .flat_map(|s| &s.load_balancers)
                        .any(|o| o.name == l.name);
                    assert!(!taken, "DuplicateLoadBalancerName {}", l.name);
                    let arn = self.id("arn:lb");
                    let sgs = l.security_groups.iter().map(|r| self.resolve(r)).collect();
                    self.stacks.entry(stack).or_default().load_balancers.push(
                        ObservedLoadBalancer {
                            arn: arn.clone(),
                            name: l.name.clone(),
                            lb_type: l.lb_type.clone(),
                            scheme: l.scheme.clone(),
                            ip_address_type: l.ip_address_type.clone(),
                            dns_name: format!("{}.elb.example", l.name),
                            canonical_hosted_zone_id: "Z1".into(),
                            vpc_id: "vpc-1".into(),
                            subnets: l.subnets.clone(),
                            security_groups: sgs,
                            // As AWS reports them: sorted, whatever the order of the subnets.
                            addresses: Some(crate::planner::ObservedAddresses {
                                eip_allocations: {
                                    let mut v = l.eip_allocations.clone();
                                    v.sort();
                                    v
                                },
                                private_ipv4_addresses: {
                                    let mut v = l.private_ipv4_addresses.clone();
                                    v.sort();
                                    v
                                },
                            }),
                            attributes: [(
                                "idle_timeout.timeout_seconds".to_owned(),
                                "60".to_owned(),
                            )]
                            .into(),
                            tags: tags.clone(),
                            listeners: vec![],
                            wafv2: Some(ObservedWebAcl::default()),
                            shield: Some(ObservedShield::default()),
                        },
                    );
                    self.created.insert(key.clone(), arn);
                }
                Op::SetSecurityGroups {
                    load_balancer,
                    security_groups,
                } => {
                    let arn = self.resolve(load_balancer);
                    let sgs = security_groups.iter().map(|r| self.resolve(r)).collect();
                    self.lb_mut(&arn).security_groups = sgs;
                }
                Op::SetSubnets {
                    load_balancer,
                    subnets,
                } => {
                    let arn = self.resolve(load_balancer);
                    self.lb_mut(&arn).subnets = subnets.clone();
                }
                Op::SetIpAddressType {
                    load_balancer,
                    ip_address_type,
                } => {
                    let arn = self.resolve(load_balancer);
                    self.lb_mut(&arn).ip_address_type = ip_address_type.clone();
                }
                Op::ModifyLoadBalancerAttributes {
                    load_balancer,
                    attributes,
                } => {
                    let arn = self.resolve(load_balancer);
                    self.lb_mut(&arn).attributes.extend(attributes.clone());
                }
                Op::DeleteLoadBalancer { arn } => {
                    for s in self.stacks.values_mut() {
                        s.load_balancers.retain(|l| &l.arn != arn);
                    }
                }
                Op::CreateListener {
                    key,
                    load_balancer,
                    listener,
                    tags,
                } => {
                    let lb = self.resolve(load_balancer);
                    let arn = self.id("arn:listener");
                    let actions = self.resolve_actions(&stack, &listener.default_actions);
                    let l = self.lb_mut(&lb);
                    assert!(
                        l.listeners.iter().all(|o| o.port != listener.port),
                        "DuplicateListener"
                    );
                    l.listeners.push(ObservedListener {
                        arn: arn.clone(),
                        port: listener.port,
                        protocol: listener.protocol.clone(),
                        default_actions: actions,
                        ssl_policy: listener.ssl_policy.clone(),
                        certificates: listener.default_certificate.iter().cloned().collect(),
                        default_also_listed: false,
                        alpn_policy: listener.alpn_policy.clone(),
                        // AWS reports every attribute, defaults included.
                        attributes: [(
                            "routing.http.response.server.enabled".to_owned(),
                            "true".to_owned(),
                        )]
                        .into(),
                        mutual_authentication: listener.mutual_authentication.clone(),
                        tags: tags.clone(),
                        rules: vec![],
                    });
                    l.listeners.sort_by_key(|l| l.port);
                    self.created.insert(key.clone(), arn);
                }
                Op::ModifyListener { arn, listener } => {
                    let actions = self.resolve_actions(&stack, &listener.default_actions);
                    let l = self.listener_mut(arn);
                    l.protocol = listener.protocol.clone();
                    l.ssl_policy = listener.ssl_policy.clone();
                    if let Some(c) = &listener.default_certificate {
                        // AWS keeps the non-default entries as they are.
                        let extra: Vec<String> =
                            l.extra_certificates().into_iter().cloned().collect();
                        l.set_certificates(Some(c.clone()), &extra);
                    }
                    l.default_actions = actions;
                    l.alpn_policy = listener.alpn_policy.clone();
                    if let Some(m) = &listener.mutual_authentication {
                        l.mutual_authentication = Some(m.clone());
                    }
                }
                Op::ModifyListenerAttributes {
                    listener,
                    attributes,
                } => {
                    let arn = self.resolve(listener);
                    self.listener_mut(&arn)
                        .attributes
                        .extend(attributes.clone());
                }
                Op::AddListenerCertificates {
                    listener,
                    certificates,
                } => {
                    let arn = self.resolve(listener);
                    let l = self.listener_mut(&arn);
                    let mut extra: Vec<String> =
                        l.extra_certificates().into_iter().cloned().collect();
                    extra.extend(certificates.iter().cloned());
                    let default = l.certificates.first().cloned();
                    l.set_certificates(default, &extra);
                }
                Op::RemoveListenerCertificates {
                    listener,
                    certificates,
                } => {
                    let l = self.listener_mut(listener);
                    let extra: Vec<String> = l
                        .extra_certificates()
                        .into_iter()
                        .filter(|c| !certificates.contains(c))
                        .cloned()
                        .collect();
                    let default = l.certificates.first().cloned();
                    l.set_certificates(default, &extra);
                }
                Op::DeleteListener { arn } => {
                    for s in self.stacks.values_mut() {
                        for l in &mut s.load_balancers {
                            l.listeners.retain(|x| &x.arn != arn);
                        }
                    }
                }
                Op::CreateRule {
                    listener,
                    priority,
                    conditions,
                    actions,
                    transforms,
                    tags,
                } => {
                    let la = self.resolve(listener);
                    let arn = self.id("arn:rule");
                    let actions = self.resolve_actions(&stack, actions);
                    let l = self.listener_mut(&la);
                    assert!(
                        l.rules.iter().all(|r| r.priority != *priority),
                        "PriorityInUse {priority}"
                    );
                    l.rules.push(ObservedRule {
                        arn,
                        priority: *priority,
                        conditions: conditions.clone(),
                        actions,
                        transforms: transforms.clone(),
                        tags: tags.clone(),
                    });
                    l.rules.sort_by_key(|r| r.priority);
                }
                Op::ModifyRule {
                    arn,
                    conditions,
                    actions,
                    transforms,
                    reset_transforms,
                } => {
                    let actions = self.resolve_actions(&stack, actions);
                    let r = self.rule_mut(arn);
                    r.conditions = conditions.clone();
                    r.actions = actions;
                    // As AWS: transforms are replaced when given, removed only on reset.
                    if !transforms.is_empty() {
                        r.transforms = transforms.clone();
                    } else if *reset_transforms {
                        r.transforms.clear();
                    }
                }
                Op::SetRulePriorities { priorities } => {
                    // moto's semantics (stricter than AWS): a target priority must be free.
                    for (arn, p) in priorities {
                        let listener = self
                            .stacks
                            .values()
                            .flat_map(|s| &s.load_balancers)
                            .flat_map(|l| &l.listeners)
                            .find(|l| l.rules.iter().any(|r| &r.arn == arn))
                            .unwrap();
                        assert!(
                            listener.rules.iter().all(|r| r.priority != *p),
                            "PriorityInUse {p}"
                        );
                    }
                    for (arn, p) in priorities {
                        self.rule_mut(arn).priority = *p;
                    }
                }
                Op::DeleteRule { arn } => {
                    for s in self.stacks.values_mut() {
                        for l in s
                            .load_balancers
                            .iter_mut()
                            .flat_map(|l| l.listeners.iter_mut())
                        {
                            l.rules.retain(|r| &r.arn != arn);
                        }
                    }
                }
                Op::AddTags { resource, tags } => self.tags_mut(resource).extend(tags.clone()),
                Op::AssociateWebAcl {
                    load_balancer,
                    web_acl_arn,
                } => {
                    let arn = self.resolve(load_balancer);
                    self.lb_mut(&arn).wafv2 = Some(ObservedWebAcl {
                        web_acl_arn: Some(web_acl_arn.clone()),
                    });
                }
                Op::DisassociateWebAcl { load_balancer } => {
                    self.lb_mut(load_balancer).wafv2 = Some(ObservedWebAcl::default());
                }
                Op::CreateProtection {
                    load_balancer,
                    name,
                } => {
                    assert!(self.shield_subscribed, "no Shield Advanced subscription");
                    let arn = self.resolve(load_balancer);
                    let id = self.id("protection");
                    let lb = self.lb_mut(&arn);
                    assert!(
                        lb.shield.as_ref().is_none_or(|s| s.protection.is_none()),
                        "ResourceAlreadyExists"
                    );
                    lb.shield = Some(ObservedShield {
                        protection: Some(ObservedProtection {
                            id,
                            name: name.clone(),
                        }),
                    });
                }
                Op::DeleteProtection {
                    protection_id,
                    load_balancer,
                } => {
                    let lb = self.lb_mut(load_balancer);
                    assert_eq!(
                        lb.shield
                            .as_ref()
                            .and_then(|s| s.protection.as_ref())
                            .map(|p| p.id.as_str()),
                        Some(protection_id.as_str())
                    );
                    lb.shield = Some(ObservedShield::default());
                }
                Op::RemoveTags { resource, keys } => {
                    let t = self.tags_mut(resource);
                    for k in keys {
                        t.remove(k);
                    }
                }
            }
        }
        for s in self.stacks.values_mut() {
            for l in &mut s.load_balancers {
                for li in &mut l.listeners {
                    li.rules.sort_by_key(|r| r.priority);
                }
            }
        }
    }

    fn tags_mut(&mut self, arn: &str) -> &mut Tags {
        if arn.starts_with("arn:lb") {
            &mut self.lb_mut(arn).tags
        } else if arn.starts_with("arn:listener") {
            &mut self.listener_mut(arn).tags
        } else if arn.starts_with("arn:rule") {
            &mut self.rule_mut(arn).tags
        } else {
            &mut self.tg_mut(arn).tags
        }
    }
}

fn ops(p: &Plan) -> Vec<&'static str> {
    p.changes.iter().map(Change::operation).collect()
}

fn count(p: &Plan, op: &str) -> usize {
    p.changes.iter().filter(|c| c.operation() == op).count()
}

fn converge(fake: &mut Fake, desired: &[Stack]) -> Plan {
    let p = fake.plan(desired);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    fake.apply(&p.changes);
    let again = fake.plan(desired);
    assert!(
        again.changes.is_empty(),
        "second plan not empty: {:#?}",
        again.changes
    );
    p
}

#[test]
fn first_plan_creates_everything_in_dependency_order_and_the_second_plans_nothing() {
    let mut fake = Fake::default();
    let stack = seed();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let ops = ops(&p);
    let pos = |op: &str| ops.iter().position(|o| *o == op).unwrap();
    assert!(pos("ec2.CreateSecurityGroup") < pos("elbv2.CreateTargetGroup"));
    assert!(pos("elbv2.CreateTargetGroup") < pos("elbv2.CreateLoadBalancer"));
    assert!(pos("elbv2.CreateLoadBalancer") < pos("elbv2.CreateListener"));
    assert!(pos("elbv2.CreateListener") < pos("elbv2.CreateRule"));
    assert!(pos("elbv2.CreateRule") < pos("elbv2.RegisterTargets"));
    assert_eq!(
        count(&p, "ec2.CreateSecurityGroup"),
        2,
        "frontend and backend"
    );
    assert_eq!(
        count(&p, "elbv2.CreateTargetGroup"),
        stack.target_groups.len()
    );
    assert_eq!(
        count(&p, "elbv2.CreateRule"),
        stack.listeners[0].rules.len()
    );
    assert!(p.changes.iter().all(|c| c.kind != ChangeKind::Delete));
    // What exists equals what was desired.
    let o = fake.observed("shop/storefront");
    assert_eq!(o.load_balancers.len(), 1);
    let lb = &o.load_balancers[0];
    assert_eq!(lb.name, stack.load_balancer.name);
    assert_eq!(lb.tags, stack.load_balancer.tags);
    assert_eq!(lb.security_groups.len(), 2);
    assert_eq!(lb.subnets, vec!["subnet-a", "subnet-b"]);
    let rules: Vec<u32> = lb.listeners[0].rules.iter().map(|r| r.priority).collect();
    assert_eq!(
        rules,
        (1..=stack.listeners[0].rules.len() as u32).collect::<Vec<_>>()
    );
    let frontend = &o.security_groups[0];
    assert_eq!(frontend.tags[tags::INGRESS_RESOURCE], FRONTEND_SG_RESOURCE);
    assert_eq!(frontend.ingress.len(), 1);
    assert_eq!(frontend.ingress[0].from_port, 80);
    assert_eq!(
        frontend.ingress[0].source,
        SgSource::Cidr("0.0.0.0/0".into())
    );
    let targets: usize = o.target_groups.iter().map(|t| t.targets.len()).sum();
    let want: usize = stack.target_groups.iter().map(|t| t.targets.len()).sum();
    assert_eq!(targets, want);
}

#[test]
fn grouped_example_with_https_and_certificates_converges() {
    let mut fake = Fake::default();
    let desired = example("grouped").stacks;
    let p = converge(&mut fake, &desired);
    assert!(count(&p, "elbv2.CreateListener") >= 2);
}

/// LBC (`buildSDKCertificates` in pkg/deploy/elbv2/listener_manager.go) adds every
/// certificate, the default one included, to the listener's certificate list: a listener it
/// made is adopted without a change, and ours are made the same way.
#[test]
fn the_default_certificate_is_listed_among_the_listener_certificates_like_lbc() {
    let mut fake = Fake::default();
    let desired = example("grouped").stacks;
    let p = converge(&mut fake, &desired);
    let https: Vec<&ListenerSpec> = desired
        .iter()
        .flat_map(|s| s.listeners.iter())
        .filter(|l| l.protocol.is_secure())
        .collect();
    assert!(!https.is_empty());
    let added: Vec<Vec<String>> = p
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::AddListenerCertificates { certificates, .. } => Some(certificates.clone()),
            _ => None,
        })
        .collect();
    let want: Vec<Vec<String>> = https.iter().map(|l| l.certificates.clone()).collect();
    assert_eq!(added, want, "every certificate, the default first");
    for s in fake.stacks.values() {
        for l in s.load_balancers.iter().flat_map(|lb| lb.listeners.iter()) {
            if !l.certificates.is_empty() {
                assert!(l.default_also_listed, "listener {}", l.port);
            }
        }
    }
    // A listener whose list lacks the default (made before this release) gets it added once.
    for s in fake.stacks.values_mut() {
        for l in s
            .load_balancers
            .iter_mut()
            .flat_map(|lb| lb.listeners.iter_mut())
        {
            l.default_also_listed = false;
        }
    }
    let again = converge(&mut fake, &desired);
    assert_eq!(
        ops(&again),
        vec!["elbv2.AddListenerCertificates"; https.len()],
        "{:#?}",
        again.changes
    );
    for (change, l) in again.changes.iter().zip(&https) {
        match &change.op {
            Op::AddListenerCertificates { certificates, .. } => {
                assert_eq!(certificates, &l.certificates[..1]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// `--external-managed-tags`: keys set outside the operator are never removed (LBC's
/// `externalManagedTags`), other foreign keys are.
/// Listener attributes: set right after a new listener, compared on the keys the listener
/// sets (AWS's defaults for other keys plan nothing), one ModifyListenerAttributes with only
/// the keys that differ, and a key no longer set is left as it is (as LBC).
#[test]
fn listener_attributes_are_set_on_create_and_only_the_differences_modified() {
    let mut fake = Fake::default();
    let mut stack = seed();
    let server = "routing.http.response.server.enabled";
    let frame = "routing.http.response.x_frame_options.header_value";
    stack.listeners[0].attributes = [(server.to_owned(), "false".to_owned())].into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let created = ops(&p);
    let pos = |op: &str| created.iter().position(|o| *o == op);
    assert_eq!(count(&p, "elbv2.ModifyListenerAttributes"), 1);
    assert!(pos("elbv2.CreateListener") < pos("elbv2.ModifyListenerAttributes"));

    stack.listeners[0].attributes = [
        (server.to_owned(), "false".to_owned()),
        (frame.to_owned(), "DENY".to_owned()),
    ]
    .into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["elbv2.ModifyListenerAttributes"]);
    assert!(matches!(
        &p.changes[0].op,
        Op::ModifyListenerAttributes { attributes, .. }
            if attributes == &[(frame.to_owned(), "DENY".to_owned())].into()
    ));
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some("listener attributes (routing.http.response.x_frame_options.header_value: DENY)")
    );

    stack.listeners[0].attributes = [(server.to_owned(), "true".to_owned())].into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some("listener attributes (routing.http.response.server.enabled: false -> true)")
    );
    stack.listeners[0].attributes.clear();
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
}

/// The web ACL as LBC's synthesizer decides it: associated after the load balancer is
/// created, replaced when it changes, removed by `none`, left alone when nothing names one or
/// when it was not read.
#[test]
fn web_acl_is_associated_replaced_removed_and_otherwise_left_alone() {
    let a = "arn:aws:wafv2:eu-west-1:1:regional/webacl/a/1";
    let b = "arn:aws:wafv2:eu-west-1:1:regional/webacl/b/2";
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.load_balancer.wafv2_web_acl = Some(WebAcl::Associate(a.into()));
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let created = ops(&p);
    let pos = |op: &str| created.iter().position(|o| *o == op);
    assert_eq!(count(&p, "wafv2.AssociateWebACL"), 1);
    assert!(pos("elbv2.CreateLoadBalancer") < pos("wafv2.AssociateWebACL"));
    let assoc = p
        .changes
        .iter()
        .find(|c| c.operation() == "wafv2.AssociateWebACL")
        .unwrap();
    assert_eq!(assoc.reason, None);
    assert!(
        matches!(&assoc.op, Op::AssociateWebAcl { load_balancer: Ref::New(k), web_acl_arn }
        if k == &keys::load_balancer(&stack.id.to_string()) && web_acl_arn == a)
    );

    stack.load_balancer.wafv2_web_acl = Some(WebAcl::Associate(b.into()));
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["wafv2.AssociateWebACL"]);
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some(format!("web ACL was {a}").as_str())
    );
    let lb_arn = fake.observed(&stack.id.to_string()).load_balancers[0]
        .arn
        .clone();
    assert!(
        matches!(&p.changes[0].op, Op::AssociateWebAcl { load_balancer: Ref::Existing(arn), web_acl_arn }
        if arn == &lb_arn && web_acl_arn == b)
    );

    // The annotation gone: LBC builds no association and leaves the web ACL.
    stack.load_balancer.wafv2_web_acl = None;
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());

    // `none` removes it.
    stack.load_balancer.wafv2_web_acl = Some(WebAcl::Disassociate);
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["wafv2.DisassociateWebACL"]);
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some(format!("web ACL was {b}").as_str())
    );
    assert_eq!(
        fake.observed(&stack.id.to_string()).load_balancers[0].wafv2,
        Some(ObservedWebAcl::default())
    );

    // Not read (a trusted pass): nothing is planned, whatever is desired.
    let mut unread = fake.clone();
    for lb in unread
        .stacks
        .values_mut()
        .flat_map(|s| s.load_balancers.iter_mut())
    {
        lb.wafv2 = None;
    }
    stack.load_balancer.wafv2_web_acl = Some(WebAcl::Associate(a.into()));
    assert!(unread.plan(std::slice::from_ref(&stack)).changes.is_empty());
    // `none` on a new load balancer: nothing to remove.
    let mut fresh = Fake::default();
    stack.load_balancer.wafv2_web_acl = Some(WebAcl::Disassociate);
    let p = converge(&mut fresh, std::slice::from_ref(&stack));
    assert_eq!(count(&p, "wafv2.DisassociateWebACL"), 0);
}

/// Rule transforms are created with the rule, compared as part of its content, rewritten with
/// ModifyRule, and removed with ResetTransforms.
#[test]
fn rule_transforms_are_created_modified_and_reset() {
    use crate::model::{RewriteSpec, TransformSpec};
    let url = |regex: &str, replace: &str| TransformSpec::UrlRewrite {
        rewrites: vec![RewriteSpec {
            regex: regex.into(),
            replace: replace.into(),
        }],
    };
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.listeners[0].rules[0].transforms = vec![url("^/api/(.*)$", "/$1")];
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let create = p
        .changes
        .iter()
        .find(|c| matches!(&c.op, Op::CreateRule { priority: 1, .. }))
        .unwrap();
    assert!(
        matches!(&create.op, Op::CreateRule { transforms, .. } if transforms == &[url("^/api/(.*)$", "/$1")])
    );

    stack.listeners[0].rules[0].transforms = vec![
        url("^/v2/(.*)$", "/$1"),
        TransformSpec::HostHeaderRewrite {
            rewrites: vec![RewriteSpec {
                regex: "^shop\\.example\\.com$".into(),
                replace: "internal.example.com".into(),
            }],
        },
    ];
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["elbv2.ModifyRule"]);
    assert!(
        matches!(&p.changes[0].op, Op::ModifyRule { transforms, reset_transforms: false, .. } if transforms.len() == 2)
    );

    stack.listeners[0].rules[0].transforms.clear();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["elbv2.ModifyRule"]);
    assert!(
        matches!(&p.changes[0].op, Op::ModifyRule { transforms, reset_transforms: true, .. } if transforms.is_empty())
    );
}

/// Shield Advanced as LBC: only with a subscription; created when missing, deleted when
/// turned off only if named as LBC names its own.
#[test]
fn shield_protection_follows_the_setting_only_with_a_subscription() {
    let mut stack = seed();
    stack.load_balancer.shield_advanced_protection = Some(true);
    let mut unsubscribed = Fake::default();
    let p = converge(&mut unsubscribed, std::slice::from_ref(&stack));
    assert_eq!(count(&p, "shield.CreateProtection"), 0);

    let mut fake = Fake {
        shield_subscribed: true,
        ..Fake::default()
    };
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let created = ops(&p);
    let pos = |op: &str| created.iter().position(|o| *o == op);
    assert!(pos("elbv2.CreateLoadBalancer") < pos("shield.CreateProtection"));
    let create = p
        .changes
        .iter()
        .find(|c| c.operation() == "shield.CreateProtection")
        .unwrap();
    assert!(matches!(&create.op, Op::CreateProtection { name, .. }
        if name == "managed by aws-load-balancer-controller"));
    assert_eq!(create.kind, ChangeKind::Create);

    stack.load_balancer.shield_advanced_protection = None;
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());

    stack.load_balancer.shield_advanced_protection = Some(false);
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["shield.DeleteProtection"]);
    assert_eq!(p.changes[0].kind, ChangeKind::Delete);

    // Someone else's protection (another name) is never deleted; LBC's older name is.
    for (name, deleted) in [
        ("shop-team protection", false),
        ("managed by aws-alb-ingress-controller", true),
    ] {
        let mut other = fake.clone();
        for lb in other
            .stacks
            .values_mut()
            .flat_map(|s| s.load_balancers.iter_mut())
        {
            lb.shield = Some(ObservedShield {
                protection: Some(ObservedProtection {
                    id: "p-1".into(),
                    name: name.into(),
                }),
            });
        }
        let p = other.plan(std::slice::from_ref(&stack));
        assert_eq!(
            count(&p, "shield.DeleteProtection"),
            usize::from(deleted),
            "{name}"
        );
        // Without a subscription nothing is touched either way.
        other.shield_subscribed = false;
        assert!(other.plan(std::slice::from_ref(&stack)).changes.is_empty());
    }
}

/// Prefix lists open the listener ports on the managed security group, one permission per
/// port and list; dropping them revokes exactly those permissions.
#[test]
fn prefix_lists_open_the_listener_ports_on_the_managed_group() {
    use crate::planner::{SgPermission, SgSource};
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.load_balancer.inbound_prefix_lists = vec!["pl-0a1b".into()];
    stack.load_balancer.inbound_cidrs = vec![];
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let ports: Vec<i32> = stack.listeners.iter().map(|l| i32::from(l.port)).collect();
    let opened: Vec<SgPermission> = p
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::AuthorizeSecurityGroupIngress { permissions, .. }
                if c.reason.as_deref() == Some("open the listener ports") =>
            {
                Some(permissions.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        opened,
        ports
            .iter()
            .map(|port| SgPermission {
                protocol: "tcp".into(),
                from_port: *port,
                to_port: *port,
                source: SgSource::PrefixList("pl-0a1b".into()),
                description: None,
            })
            .collect::<Vec<_>>()
    );
    stack.load_balancer.inbound_prefix_lists.clear();
    stack.load_balancer.inbound_cidrs = vec!["0.0.0.0/0".into()];
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(
        ops(&p),
        [
            "ec2.AuthorizeSecurityGroupIngress",
            "ec2.RevokeSecurityGroupIngress"
        ]
    );
}

/// `enable-icmp-for-path-mtu-discovery`: one ICMP rule per source CIDR on the managed group
/// (IPv4 type 3 code 4, IPv6 type 2 code 0), none per prefix list; turning it off revokes
/// exactly those rules.
#[test]
fn icmp_for_path_mtu_discovery_opens_one_rule_per_source_cidr() {
    use crate::planner::{SgPermission, SgSource};
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    stack.load_balancer.inbound_cidrs = vec!["10.0.0.0/8".into(), "::/0".into()];
    stack.load_balancer.inbound_prefix_lists = vec!["pl-0a1b".into()];
    converge(&mut fake, std::slice::from_ref(&stack));
    stack.load_balancer.icmp_for_path_mtu_discovery = true;
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["ec2.AuthorizeSecurityGroupIngress"]);
    let Op::AuthorizeSecurityGroupIngress { permissions, .. } = &p.changes[0].op else {
        unreachable!()
    };
    let icmp = |protocol: &str, from_port, to_port, source| SgPermission {
        protocol: protocol.into(),
        from_port,
        to_port,
        source,
        description: None,
    };
    assert_eq!(
        permissions,
        &[
            icmp("icmp", 3, 4, SgSource::Cidr("10.0.0.0/8".into())),
            icmp("icmpv6", 2, 0, SgSource::CidrV6("::/0".into())),
        ]
    );
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
    stack.load_balancer.icmp_for_path_mtu_discovery = false;
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), ["ec2.RevokeSecurityGroupIngress"]);
    assert!(matches!(
        &p.changes[0].op,
        Op::RevokeSecurityGroupIngress { permissions: revoked, .. } if revoked == permissions
    ));
}

#[test]
fn externally_managed_tag_keys_are_never_removed() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    for s in fake.stacks.values_mut() {
        for lb in &mut s.load_balancers {
            lb.tags.insert("CostCenter".into(), "42".into());
            lb.tags.insert("stray".into(), "x".into());
        }
    }
    fake.external_tags = vec!["CostCenter".into()];
    let p = fake.plan(std::slice::from_ref(&stack));
    let removed: Vec<&String> = p
        .changes
        .iter()
        .flat_map(|c| match &c.op {
            Op::RemoveTags { keys, .. } => keys.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(removed, ["stray"], "{:#?}", p.changes);
}

#[test]
fn changing_one_path_rewrites_only_that_rule() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let rule = &mut stack.listeners[0].rules[0];
    for c in &mut rule.conditions {
        if let ConditionSpec::PathPattern { values } = c {
            values[0] = "/api/health".into();
        }
    }
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), vec!["elbv2.ModifyRule"], "{:#?}", p.changes);
    assert_eq!(p.changes[0].resource, "rule 80:1");
}

#[test]
fn changing_a_health_check_modifies_only_that_target_group() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    stack.target_groups[1].health_check.path = "/ready".into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(ops(&p), vec!["elbv2.ModifyTargetGroup"]);
    assert!(p.changes[0].resource.contains(&stack.target_groups[1].name));
}

#[test]
fn an_endpoint_change_only_registers_and_deregisters_the_difference() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let tg = &mut stack.target_groups[0];
    let old = tg.targets.remove(0);
    tg.targets.push(TargetSpec {
        id: "10.9.9.9".into(),
        port: old.port,
    });
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(
        ops(&p),
        vec!["elbv2.RegisterTargets", "elbv2.DeregisterTargets"]
    );
    match &p.changes[1].op {
        Op::DeregisterTargets { targets, .. } => assert_eq!(targets, &vec![old]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn targets_are_registered_in_batches_within_the_api_limit() {
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.target_groups[0].targets = (0..450)
        .map(|i| TargetSpec {
            id: format!("10.1.{}.{}", i / 250, i % 250),
            port: 8080,
        })
        .collect();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let sizes: Vec<usize> = p
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::RegisterTargets {
                targets,
                target_group: Ref::New(k),
            } if k.ends_with(&stack.target_groups[0].id) => Some(targets.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![200, 200, 50]);
}

#[test]
fn a_reordering_moves_rules_with_set_rule_priorities_instead_of_recreating_them() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let before: Vec<String> = fake.observed("shop/storefront").load_balancers[0].listeners[0]
        .rules
        .iter()
        .map(|r| r.arn.clone())
        .collect();
    // Reverse the rule order (priorities stay 1..N).
    let rules = &mut stack.listeners[0].rules;
    let n = rules.len() as u32;
    rules.reverse();
    for (i, r) in rules.iter_mut().enumerate() {
        r.priority = i as u32 + 1;
        r.tags
            .insert(tags::INGRESS_RESOURCE.into(), format!("80:{}", r.priority));
    }
    assert!(n >= 3);
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(
        count(&p, "elbv2.SetRulePriorities"),
        2,
        "park, then reorder: {:#?}",
        ops(&p)
    );
    assert_eq!(
        count(&p, "elbv2.CreateRule")
            + count(&p, "elbv2.DeleteRule")
            + count(&p, "elbv2.ModifyRule"),
        0
    );
    let after: Vec<String> = fake.observed("shop/storefront").load_balancers[0].listeners[0]
        .rules
        .iter()
        .map(|r| r.arn.clone())
        .collect();
    let mut reversed = before.clone();
    reversed.reverse();
    assert_eq!(after, reversed, "the same rules, in the new order");
    // The reorder says which rule moves where (what `diff` prints as the change's reason).
    let reorder = p
        .changes
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .find(|r| r.starts_with("reorder:"))
        .unwrap();
    let want: Vec<String> = (1..=n)
        .map(|to| {
            let rule = &stack.listeners[0].rules[to as usize - 1];
            format!(
                "{} -> {to} ({})",
                n + 1 - to,
                describe_conditions(&rule.conditions)
            )
        })
        .collect();
    assert_eq!(reorder, format!("reorder: {}", want.join(", ")));
}

#[test]
fn inserting_a_rule_at_the_top_shifts_the_others_and_creates_one() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let mut first = stack.listeners[0].rules[0].clone();
    first.conditions = vec![ConditionSpec::PathPattern {
        values: vec!["/new".into()],
    }];
    let rules = &mut stack.listeners[0].rules;
    rules.insert(0, first);
    for (i, r) in rules.iter_mut().enumerate() {
        r.priority = i as u32 + 1;
        r.tags
            .insert(tags::INGRESS_RESOURCE.into(), format!("80:{}", r.priority));
    }
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(count(&p, "elbv2.CreateRule"), 1);
    assert_eq!(count(&p, "elbv2.DeleteRule"), 0);
    assert_eq!(count(&p, "elbv2.ModifyRule"), 0);
}

#[test]
fn removing_a_rule_deletes_it_and_its_unreferenced_target_group_after_the_rule() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let removed = stack.listeners[0].rules.remove(0);
    let tg_id = match &removed.actions[0] {
        ActionSpec::Forward { target_groups, .. } => target_groups[0].id.clone().unwrap(),
        other => panic!("{other:?}"),
    };
    stack.target_groups.retain(|t| t.id != tg_id);
    for (i, r) in stack.listeners[0].rules.iter_mut().enumerate() {
        r.priority = i as u32 + 1;
        r.tags
            .insert(tags::INGRESS_RESOURCE.into(), format!("80:{}", r.priority));
    }
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let o = ops(&p);
    let pos = |op: &str| o.iter().position(|x| *x == op).unwrap();
    assert!(pos("elbv2.DeleteRule") < pos("elbv2.DeleteTargetGroup"));
    assert_eq!(count(&p, "elbv2.DeleteRule"), 1);
    assert_eq!(count(&p, "elbv2.CreateRule"), 0);
}

#[test]
fn drift_is_repaired_exactly() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    {
        let s = fake.stacks.get_mut("shop/storefront").unwrap();
        s.load_balancers[0].listeners[0].rules.remove(1);
        s.target_groups[0].health_check.interval_seconds = 99;
        s.target_groups[1].targets.pop();
        s.security_groups[0].ingress.clear();
        s.load_balancers[0].tags.remove("team");
    }
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let mut got = ops(&p);
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            "ec2.AuthorizeSecurityGroupIngress",
            "elbv2.AddTags",
            "elbv2.CreateRule",
            "elbv2.ModifyTargetGroup",
            "elbv2.RegisterTargets",
        ]
    );
}

#[test]
fn scheme_change_replaces_the_load_balancer_deleting_the_old_one_first() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let old = fake.observed("shop/storefront").load_balancers[0]
        .arn
        .clone();
    stack.load_balancer.scheme = crate::model::Scheme::Internal;
    stack.load_balancer.name = "k8s-shop-storefro-internal01".into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let o = ops(&p);
    let del = o
        .iter()
        .position(|x| *x == "elbv2.DeleteLoadBalancer")
        .unwrap();
    let create = o
        .iter()
        .position(|x| *x == "elbv2.CreateLoadBalancer")
        .unwrap();
    assert!(del < create);
    assert_eq!(
        p.changes[del].reason.as_deref(),
        Some("scheme changed from internet-facing to internal (cannot be modified)")
    );
    assert_eq!(
        count(&p, "elbv2.CreateTargetGroup"),
        0,
        "target groups are kept"
    );
    assert_ne!(fake.observed("shop/storefront").load_balancers[0].arn, old);
}

/// A changed `eip-allocations` (or `private-ipv4-addresses`) replaces the NLB, the old one
/// deleted first (it holds the addresses), with a reason naming both sets; the order of the
/// allocations does not count; nothing is compared when AWS reported no addresses.
#[test]
fn changed_elastic_ips_or_private_addresses_replace_the_load_balancer() {
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.load_balancer.eip_allocations = vec!["eipalloc-2".into(), "eipalloc-1".into()];
    converge(&mut fake, std::slice::from_ref(&stack));
    stack.load_balancer.eip_allocations = vec!["eipalloc-1".into(), "eipalloc-2".into()];
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());

    let replaced = |fake: &mut Fake, stack: &Stack| {
        let old = fake.observed("shop/storefront").load_balancers[0]
            .arn
            .clone();
        let p = converge(fake, std::slice::from_ref(stack));
        let o = ops(&p);
        let del = o.iter().position(|x| *x == "elbv2.DeleteLoadBalancer");
        let create = o.iter().position(|x| *x == "elbv2.CreateLoadBalancer");
        let (Some(del), Some(create)) = (del, create) else {
            panic!("no replacement: {o:?}")
        };
        assert!(del < create, "{o:?}");
        assert_eq!(p.changes[del].reason, p.changes[create].reason);
        assert_eq!(
            count(&p, "elbv2.CreateTargetGroup"),
            0,
            "target groups are kept"
        );
        assert_ne!(fake.observed("shop/storefront").load_balancers[0].arn, old);
        p.changes[del].reason.clone().unwrap_or_default()
    };
    stack.load_balancer.eip_allocations = vec!["eipalloc-1".into(), "eipalloc-3".into()];
    assert_eq!(
        replaced(&mut fake, &stack),
        "Elastic IP allocations (aws-load-balancer-eip-allocations) changed from eipalloc-1, \
         eipalloc-2 to eipalloc-1, eipalloc-3: the addresses of a Network Load Balancer's \
         subnets cannot be modified, so it is replaced and gets a new DNS name (the old one is \
         deleted first, releasing its addresses)"
    );
    stack.load_balancer.eip_allocations.clear();
    assert_eq!(
        replaced(&mut fake, &stack),
        "Elastic IP allocations (aws-load-balancer-eip-allocations) changed from eipalloc-1, \
         eipalloc-3 to none: the addresses of a Network Load Balancer's subnets cannot be \
         modified, so it is replaced and gets a new DNS name (the old one is deleted first, \
         releasing its addresses)"
    );

    // Private addresses AWS chose are not compared; named ones are.
    fake.stacks
        .get_mut("shop/storefront")
        .unwrap()
        .load_balancers[0]
        .addresses = Some(crate::planner::ObservedAddresses {
        eip_allocations: vec![],
        private_ipv4_addresses: vec!["10.0.0.7".into(), "10.0.1.9".into()],
    });
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
    stack.load_balancer.private_ipv4_addresses = vec!["10.0.1.9".into(), "10.0.0.7".into()];
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
    stack.load_balancer.private_ipv4_addresses = vec!["10.0.0.8".into(), "10.0.1.9".into()];
    assert_eq!(
        replaced(&mut fake, &stack),
        "private IPv4 addresses (aws-load-balancer-private-ipv4-addresses) changed from \
         10.0.0.7, 10.0.1.9 to 10.0.0.8, 10.0.1.9: the addresses of a Network Load Balancer's \
         subnets cannot be modified, so it is replaced and gets a new DNS name (the old one is \
         deleted first, releasing its addresses)"
    );

    // A backend that reports no addresses (LocalStack) is never replaced for them.
    fake.stacks
        .get_mut("shop/storefront")
        .unwrap()
        .load_balancers[0]
        .addresses = None;
    stack.load_balancer.eip_allocations = vec!["eipalloc-9".into(), "eipalloc-8".into()];
    stack.load_balancer.private_ipv4_addresses.clear();
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
}

#[test]
fn target_group_port_change_replaces_the_group_and_moves_the_rules_first() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let tg = &mut stack.target_groups[0];
    let old_name = tg.name.clone();
    let old_port = tg.port;
    tg.port = 9999;
    tg.name = "k8s-shop-new-0123456789".into();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    let o = ops(&p);
    let create = o
        .iter()
        .position(|x| *x == "elbv2.CreateTargetGroup")
        .unwrap();
    let delete = o
        .iter()
        .position(|x| *x == "elbv2.DeleteTargetGroup")
        .unwrap();
    assert!(create < delete);
    assert!(p.changes[delete].resource.contains(&old_name));
    assert_eq!(
        p.changes[create].reason.clone().unwrap(),
        format!("port changed from {old_port} to 9999 (cannot be modified)")
    );
}

#[test]
fn deleting_a_stack_removes_everything_in_reverse_order_and_the_unused_backend_group() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let p = fake.plan_delete("shop/storefront");
    let o = ops(&p);
    assert_eq!(o[0], "elbv2.DeleteLoadBalancer");
    assert_eq!(
        count(&p, "elbv2.DeleteTargetGroup"),
        stack.target_groups.len()
    );
    assert_eq!(
        count(&p, "ec2.DeleteSecurityGroup"),
        2,
        "frontend, then backend last"
    );
    assert_eq!(
        p.changes.last().unwrap().stack,
        "",
        "backend group is cluster-wide"
    );
    assert!(p.changes.iter().all(|c| c.kind == ChangeKind::Delete));
    fake.apply(&p.changes);
    assert!(fake.observed("shop/storefront").is_empty());
    assert!(fake.backend.is_none());
    assert!(fake.plan_delete("shop/storefront").changes.is_empty());
}

#[test]
fn the_backend_group_stays_while_an_unplanned_stack_uses_it() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let mut cluster = fake.cluster();
    let mut other = ObservedStack::default();
    other.load_balancers.push(ObservedLoadBalancer {
        security_groups: vec![fake.backend.as_ref().unwrap().id.clone()],
        ..ObservedLoadBalancer::default()
    });
    cluster.unplanned.insert("other/app".into(), other);
    let o = fake.observed("shop/storefront");
    let f = facts();
    let p = plan(
        &cluster,
        &[StackInput {
            id: stack.id.clone(),
            desired: None,
            observed: &o,
            facts: &f,
        }],
    );
    assert_eq!(
        count(&p, "ec2.DeleteSecurityGroup"),
        1,
        "only the frontend group"
    );
}

#[test]
fn target_security_groups_get_the_target_ports_from_the_backend_group_only() {
    let mut fake = Fake::default();
    fake.target_sgs.push(ObservedSecurityGroup {
        id: "sg-nodes".into(),
        name: "eks-nodes".into(),
        vpc_id: "vpc-1".into(),
        tags: Tags::new(),
        ingress: vec![SgPermission {
            protocol: "tcp".into(),
            from_port: 22,
            to_port: 22,
            source: SgSource::Cidr("10.0.0.0/8".into()),
            description: None,
        }],
    });
    let stack = seed();
    let p = converge(&mut fake, std::slice::from_ref(&stack));
    assert!(
        ops(&p)
            .iter()
            .position(|o| *o == "ec2.AuthorizeSecurityGroupIngress")
            .unwrap()
            > 0
    );
    let backend = fake.backend.clone().unwrap().id;
    let nodes = &fake.target_sgs[0];
    let ports: Vec<i32> = nodes
        .ingress
        .iter()
        .filter(|p| p.source == SgSource::Group(backend.clone()))
        .map(|p| p.from_port)
        .collect();
    let mut want: Vec<i32> = stack
        .target_groups
        .iter()
        .flat_map(|t| t.targets.iter().map(|x| i32::from(x.port)))
        .collect();
    want.sort_unstable();
    want.dedup();
    assert_eq!(ports, want);
    // Deleting the stack revokes only our permissions; SSH stays.
    let d = fake.plan_delete("shop/storefront");
    fake.apply(&d.changes);
    assert_eq!(fake.target_sgs[0].ingress.len(), 1);
    assert_eq!(fake.target_sgs[0].ingress[0].from_port, 22);
}

#[test]
fn a_numeric_health_check_port_is_opened_too_and_closed_when_it_goes() {
    // As the AWS Load Balancer Controller's TargetGroupBinding networking does: the traffic
    // port, and the health check's port when it is a number.
    let mut fake = Fake::default();
    fake.target_sgs.push(ObservedSecurityGroup {
        id: "sg-nodes".into(),
        name: "eks-nodes".into(),
        vpc_id: "vpc-1".into(),
        tags: Tags::new(),
        ingress: Vec::new(),
    });
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let before = fake.node_ports();
    assert!(!before.contains(&18081), "{before:?}");
    stack.target_groups[0].health_check.port = "18081".into();
    converge(&mut fake, std::slice::from_ref(&stack));
    let mut want = before.clone();
    want.push(18081);
    want.sort_unstable();
    assert_eq!(fake.node_ports(), want);
    assert_eq!(ports_of(&[&stack]), want);
    stack.target_groups[0].health_check.port = "traffic-port".into();
    converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(fake.node_ports(), before);
}

#[test]
fn user_security_groups_replace_the_managed_ones() {
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    stack.load_balancer.security_groups = vec!["my-sg".into()];
    stack.load_balancer.inbound_cidrs.clear();
    let mut f = facts();
    f.security_groups = Ok(vec!["sg-user".into()]);
    let p = fake.plan_with(std::slice::from_ref(&stack), &f, &fake.cluster());
    let o = ops(&p);
    assert_eq!(o[0], "elbv2.SetSecurityGroups");
    assert_eq!(
        o.iter()
            .filter(|x| **x == "ec2.DeleteSecurityGroup")
            .count(),
        2
    );
    let f2 = StackFacts {
        security_groups: Err("security group my-sg not found in vpc-1".into()),
        ..facts()
    };
    let p = fake.plan_with(std::slice::from_ref(&stack), &f2, &fake.cluster());
    assert!(p.changes.is_empty());
    assert_eq!(
        p.errors[0].message,
        "security group my-sg not found in vpc-1"
    );
}

/// An NLB that LBC made without security groups (before v2.6, or with its NLBSecurityGroup
/// feature gate off) cannot be given any: it is kept without, and no managed group is made for
/// it. A new NLB still gets one.
#[test]
fn an_nlb_without_security_groups_is_adopted_without_them() {
    let proxy: DesiredState = serde_json::from_str(include_str!(
        "../../../tests/golden/ingress-proxy.plan.json"
    ))
    .unwrap();
    let stack = proxy.stacks[0].clone();
    assert_eq!(stack.load_balancer.lb_type.as_str(), "network");
    let mut fake = Fake::default();
    let first = converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(
        count(&first, "ec2.CreateSecurityGroup"),
        2,
        "{:?}",
        ops(&first)
    );
    // As LBC left it: the NLB without security groups, no managed group.
    let id = stack.id.to_string();
    let lb_arn = fake.observed(&id).load_balancers[0].arn.clone();
    fake.lb_mut(&lb_arn).security_groups.clear();
    fake.stacks.get_mut(&id).unwrap().security_groups.clear();
    let p = fake.plan(std::slice::from_ref(&stack));
    assert!(
        !ops(&p).iter().any(|o| [
            "elbv2.SetSecurityGroups",
            "ec2.CreateSecurityGroup",
            "ec2.AuthorizeSecurityGroupIngress"
        ]
        .contains(o)),
        "{:?}",
        ops(&p)
    );
    assert!(p.errors.is_empty(), "{:?}", p.errors);
}

/// `manage-backend-security-group-rules` with user security groups: the backend group joins
/// them on the load balancer and stays (with its permissions on the node groups); turned off,
/// the load balancer keeps only the user's groups and the unused backend group goes, its
/// permissions revoked first.
#[test]
fn managed_backend_rules_with_user_security_groups_keep_the_backend_group() {
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let backend = fake.backend.clone().unwrap().id;
    let lb_sgs = |fake: &Fake| {
        fake.observed("shop/storefront").load_balancers[0]
            .security_groups
            .clone()
    };
    let node_rules = |fake: &Fake| {
        fake.target_sgs[0]
            .ingress
            .iter()
            .filter(|p| p.source == SgSource::Group(backend.clone()))
            .count()
    };
    let rules = node_rules(&fake);
    assert!(rules > 0);

    stack.load_balancer.security_groups = vec!["my-sg".into()];
    stack.load_balancer.inbound_cidrs.clear();
    stack.load_balancer.manage_backend_security_group_rules = true;
    let mut f = facts();
    f.security_groups = Ok(vec!["sg-user".into()]);
    let p = fake.plan_with(std::slice::from_ref(&stack), &f, &fake.cluster());
    assert_eq!(
        ops(&p),
        ["elbv2.SetSecurityGroups", "ec2.DeleteSecurityGroup"],
        "only the managed frontend group goes"
    );
    assert!(matches!(
        &p.changes[0].op,
        Op::SetSecurityGroups { security_groups, .. }
            if security_groups == &[Ref::Existing("sg-user".into()), Ref::Existing(backend.clone())]
    ));
    fake.apply(&p.changes);
    assert_eq!(lb_sgs(&fake), ["sg-user".to_owned(), backend.clone()]);
    assert_eq!(node_rules(&fake), rules);
    let p = fake.plan_with(std::slice::from_ref(&stack), &f, &fake.cluster());
    assert!(p.changes.is_empty(), "{:?}", ops(&p));

    stack.load_balancer.manage_backend_security_group_rules = false;
    let p = fake.plan_with(std::slice::from_ref(&stack), &f, &fake.cluster());
    assert_eq!(
        ops(&p),
        [
            "elbv2.SetSecurityGroups",
            "ec2.RevokeSecurityGroupIngress",
            "ec2.DeleteSecurityGroup"
        ]
    );
    fake.apply(&p.changes);
    assert_eq!(lb_sgs(&fake), ["sg-user".to_owned()]);
    assert_eq!(node_rules(&fake), 0);
    assert!(fake.backend.is_none());
}

#[test]
fn names_held_by_foreign_resources_are_errors_naming_them() {
    let fake = Fake::default();
    let stack = seed();
    let mut cluster = fake.cluster();
    cluster
        .foreign
        .load_balancers
        .insert(stack.load_balancer.name.clone(), "arn:foreign-lb".into());
    let p = fake.plan_with(std::slice::from_ref(&stack), &facts(), &cluster);
    assert_eq!(p.errors.len(), 1);
    assert_eq!(
        p.errors[0].message,
        format!(
            "load balancer name {} is already used by arn:foreign-lb, which this cluster does not own \
             (no elbv2.k8s.aws/cluster=demo tag); delete or rename it, or choose another name with \
             alb.ingress.kubernetes.io/load-balancer-name",
            stack.load_balancer.name
        )
    );
    assert!(
        p.changes.iter().all(|c| c.stack.is_empty()),
        "only cluster-wide changes"
    );

    let mut cluster = fake.cluster();
    let tg = &stack.target_groups[0];
    cluster
        .foreign
        .target_groups
        .insert(tg.name.clone(), "arn:foreign-tg".into());
    let p = fake.plan_with(std::slice::from_ref(&stack), &facts(), &cluster);
    assert_eq!(
        p.errors[0].message,
        format!(
            "target group name {} is already used by arn:foreign-tg, which this cluster does not own \
             (no elbv2.k8s.aws/cluster=demo tag); delete or rename it",
            tg.name
        )
    );

    let mut cluster = fake.cluster();
    cluster
        .foreign
        .security_groups
        .insert(stack.load_balancer.name.clone(), "sg-foreign".into());
    let p = fake.plan_with(std::slice::from_ref(&stack), &facts(), &cluster);
    assert_eq!(
        p.errors[0].message,
        format!(
            "security group name {} is already used by sg-foreign in vpc-1, which this cluster does \
             not own (no elbv2.k8s.aws/cluster=demo tag); delete or rename it, or set \
             alb.ingress.kubernetes.io/security-groups",
            stack.load_balancer.name
        )
    );

    let mut cluster = fake.cluster();
    cluster
        .foreign
        .security_groups
        .insert(cluster.backend_sg_name.clone(), "sg-x".into());
    let p = fake.plan_with(std::slice::from_ref(&stack), &facts(), &cluster);
    assert_eq!(
        p.errors[0].message,
        "security group name k8s-traffic-demo-0123456789 is already used by sg-x, which this \
         cluster does not own (no elbv2.k8s.aws/cluster=demo tag); the shared backend security \
         group cannot be created"
    );
}

#[test]
fn missing_subnets_stop_only_that_stack() {
    let fake = Fake::default();
    let stacks = example("grouped").stacks;
    let mut desired = vec![seed()];
    desired.extend(stacks);
    let bad = StackFacts {
        subnets: Err("no subnets".into()),
        ..facts()
    };
    let observed = ObservedStack::default();
    let f = facts();
    let inputs: Vec<StackInput<'_>> = desired
        .iter()
        .enumerate()
        .map(|(i, s)| StackInput {
            id: s.id.clone(),
            desired: Some(s),
            observed: &observed,
            facts: if i == 0 { &bad } else { &f },
        })
        .collect();
    let p = plan(&fake.cluster(), &inputs);
    assert_eq!(
        p.errors,
        vec![StackError {
            stack: "shop/storefront".into(),
            message: "no subnets".into()
        }]
    );
    assert!(p
        .changes
        .iter()
        .any(|c| c.stack != "shop/storefront" && c.operation() == "elbv2.CreateLoadBalancer"));
    assert!(p.changes.iter().all(|c| c.stack != "shop/storefront"));
}

/// A stack whose certificates could not be discovered, or whose discovery records were never
/// resolved, plans nothing (no listener without its certificates); the others proceed.
#[test]
fn undiscovered_certificates_stop_only_that_stack() {
    let fake = Fake::default();
    let observed = ObservedStack::default();
    let failed = StackFacts {
        certificates: Err("no certificate found for host: www.example.com".into()),
        ..facts()
    };
    let mut unresolved = seed();
    unresolved.id = crate::model::StackId::explicit("unresolved");
    if let Some(l) = unresolved.listeners.first_mut() {
        l.certificate_discovery = vec![crate::model::CertificateDiscovery {
            object: "ingress shop/web".into(),
            hosts: vec!["www.example.com".into()],
            after: 0,
        }];
    }
    let mut fine = seed();
    fine.id = crate::model::StackId::explicit("fine");
    let desired = [seed(), unresolved, fine];
    let f = facts();
    let inputs: Vec<StackInput<'_>> = desired
        .iter()
        .enumerate()
        .map(|(i, s)| StackInput {
            id: s.id.clone(),
            desired: Some(s),
            observed: &observed,
            facts: if i == 0 { &failed } else { &f },
        })
        .collect();
    let p = plan(&fake.cluster(), &inputs);
    let port = desired[1].listeners[0].port;
    assert_eq!(
        p.errors,
        vec![
            StackError {
                stack: "shop/storefront".into(),
                message: "no certificate found for host: www.example.com".into()
            },
            StackError {
                stack: "unresolved".into(),
                message: format!(
                    "the certificates of HTTPS listener port {port} are to be discovered in \
                     ACM, which was not read"
                ),
            },
        ]
    );
    assert!(p
        .changes
        .iter()
        .all(|c| c.stack == "fine" || c.scope().is_cluster()));
    assert!(p
        .changes
        .iter()
        .any(|c| c.stack == "fine" && c.operation() == "elbv2.CreateLoadBalancer"));
}

#[test]
fn existing_subnets_are_kept_unless_the_user_names_them() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let moved = StackFacts {
        subnets: Ok(vec!["subnet-c".into(), "subnet-d".into()]),
        ..facts()
    };
    assert!(fake
        .plan_with(std::slice::from_ref(&stack), &moved, &fake.cluster())
        .changes
        .is_empty());
    let explicit = StackFacts {
        subnets_explicit: true,
        ..moved
    };
    let p = fake.plan_with(std::slice::from_ref(&stack), &explicit, &fake.cluster());
    assert_eq!(ops(&p), vec!["elbv2.SetSubnets"]);
}

#[test]
fn duplicate_load_balancers_of_a_stack_are_deleted_keeping_the_named_one() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let mut dup = fake.observed("shop/storefront").load_balancers[0].clone();
    dup.arn = "arn:lb-dup".into();
    dup.name = "k8s-other".into();
    dup.listeners.clear();
    fake.stacks
        .get_mut("shop/storefront")
        .unwrap()
        .load_balancers
        .insert(0, dup);
    let p = fake.plan(std::slice::from_ref(&stack));
    assert_eq!(ops(&p), vec!["elbv2.DeleteLoadBalancer"]);
    assert_eq!(p.changes[0].resource, "load balancer k8s-other");
}

#[test]
fn of_duplicate_load_balancers_the_populated_one_is_kept_and_the_other_deleted_first() {
    // A create whose response was lost left a second, empty load balancer with the same name
    // and a smaller ARN: the one with the listeners, rules and target groups is kept.
    let mut fake = Fake::default();
    let mut stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let kept = fake.observed("shop/storefront").load_balancers[0].clone();
    let mut dup = kept.clone();
    dup.arn = "arn:0-lb-dup".into();
    dup.listeners.clear();
    assert!(dup.arn < kept.arn);
    fake.stacks
        .get_mut("shop/storefront")
        .unwrap()
        .load_balancers
        .push(dup);
    // A change that touches the target groups at the same time (a new health-check path).
    stack.target_groups[0].health_check.path = "/ready".into();
    let p = fake.plan(std::slice::from_ref(&stack));
    assert_eq!(
        ops(&p),
        vec!["elbv2.DeleteLoadBalancer", "elbv2.ModifyTargetGroup"],
        "the duplicate goes first, before anything else"
    );
    assert!(matches!(&p.changes[0].op, Op::DeleteLoadBalancer { arn } if arn == "arn:0-lb-dup"));
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some(
            format!(
                "duplicate of the stack's load balancer {} ({}), which is kept",
                kept.name, kept.arn
            )
            .as_str()
        )
    );
    fake.apply(&p.changes);
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
    assert_eq!(
        fake.observed("shop/storefront").load_balancers[0].arn,
        kept.arn
    );
}

#[test]
fn target_groups_attached_keep_a_load_balancer_without_listeners() {
    // Both duplicates are bare, but the target groups route from the larger ARN: keep it.
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let s = fake.stacks.get_mut("shop/storefront").unwrap();
    let mut dup = s.load_balancers[0].clone();
    dup.arn = "arn:0-lb-dup".into();
    dup.listeners.clear();
    s.load_balancers[0].listeners.clear();
    let routed = s.load_balancers[0].arn.clone();
    s.load_balancers.insert(0, dup);
    for tg in &mut s.target_groups {
        tg.load_balancer_arns = vec![routed.clone()];
    }
    let p = fake.plan(std::slice::from_ref(&stack));
    assert!(matches!(&p.changes[0].op, Op::DeleteLoadBalancer { arn } if arn == "arn:0-lb-dup"));
    assert_eq!(count(&p, "elbv2.DeleteLoadBalancer"), 1);
}

#[test]
fn a_second_listener_on_a_port_is_drift_and_deleted() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let lb = fake.observed("shop/storefront").load_balancers[0].clone();
    let first = lb.listeners[0].clone();
    // The copy a retried CreateListener left: same port and actions, no rules, smaller ARN.
    let mut second = first.clone();
    second.arn = "arn:0-listener-dup".into();
    second.rules.clear();
    fake.lb_mut(&lb.arn).listeners.insert(0, second);
    let p = fake.plan(std::slice::from_ref(&stack));
    assert_eq!(ops(&p), vec!["elbv2.DeleteListener"]);
    assert!(matches!(&p.changes[0].op, Op::DeleteListener { arn } if arn == "arn:0-listener-dup"));
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some(
            format!(
                "second listener on port {} ({} is kept)",
                first.port, first.arn
            )
            .as_str()
        )
    );
    fake.apply(&p.changes);
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());

    // Deleting the stack deletes the load balancer only (its listeners go with it).
    let mut third = first.clone();
    third.arn = "arn:listener-3".into();
    fake.lb_mut(&lb.arn).listeners.push(third);
    assert_eq!(
        ops(&fake.plan_delete("shop/storefront"))
            .iter()
            .filter(|o| o.contains("Listener"))
            .count(),
        0
    );
}

#[test]
fn changes_serialise_with_the_operation_name() {
    let p = Fake::default().plan(&[seed()]);
    let v = serde_json::to_value(&p.changes[0]).unwrap();
    assert_eq!(v["op"]["operation"], "ec2.CreateSecurityGroup");
    assert_eq!(v["kind"], "create");
    let back: Change = serde_json::from_value(v).unwrap();
    assert_eq!(back, p.changes[0]);
}

#[test]
fn elastic_ips_must_match_the_discovered_subnets_one_to_one() {
    let fake = Fake::default();
    let mut stack = seed();
    stack.load_balancer.eip_allocations = vec!["eipalloc-1".into()];
    let p = fake.plan(std::slice::from_ref(&stack));
    assert_eq!(
        p.errors[0].message,
        "1 Elastic IP allocations (aws-load-balancer-eip-allocations) for 2 subnets (subnet-a, \
         subnet-b): give one per subnet, or name the subnets with \
         service.beta.kubernetes.io/aws-load-balancer-subnets"
    );
    stack
        .load_balancer
        .eip_allocations
        .push("eipalloc-2".into());
    let p = fake.plan(std::slice::from_ref(&stack));
    assert!(p.errors.is_empty());
    let create = p
        .changes
        .iter()
        .find_map(|c| match &c.op {
            Op::CreateLoadBalancer { load_balancer, .. } => Some(load_balancer),
            _ => None,
        })
        .unwrap();
    assert_eq!(create.eip_allocations, vec!["eipalloc-1", "eipalloc-2"]);
}

#[test]
fn service_stacks_use_the_service_tracking_tags() {
    let mut fake = Fake::default();
    let mut stack = seed();
    stack.id = StackId::service("ingress-nginx", "public");
    let retag = |t: &mut Tags| {
        let resource = t.remove(tags::INGRESS_RESOURCE).unwrap();
        t.remove(tags::INGRESS_STACK);
        t.insert(tags::SERVICE_STACK.into(), "ingress-nginx/public".into());
        t.insert(tags::SERVICE_RESOURCE.into(), resource);
    };
    retag(&mut stack.load_balancer.tags);
    for l in &mut stack.listeners {
        retag(&mut l.tags);
        for r in &mut l.rules {
            retag(&mut r.tags);
        }
    }
    for tg in &mut stack.target_groups {
        retag(&mut tg.tags);
    }
    let key = stack.id.to_string();
    assert_eq!(key, "service:ingress-nginx/public");
    let p = fake.plan(std::slice::from_ref(&stack));
    fake.apply(&p.changes);
    let sg = &fake.observed(&key).security_groups[0];
    assert_eq!(sg.tags[tags::SERVICE_RESOURCE], FRONTEND_SG_RESOURCE);
    assert_eq!(StackId::from_tags(&sg.tags), Some(stack.id.clone()));
    assert!(fake.plan(std::slice::from_ref(&stack)).changes.is_empty());
}

// ---- The cluster scope at execution time (concurrent passes, lost responses) ----

fn grouped() -> Stack {
    example("grouped").stacks.remove(0)
}

fn node_sg() -> ObservedSecurityGroup {
    ObservedSecurityGroup {
        id: "sg-nodes".into(),
        name: "eks-nodes".into(),
        vpc_id: "vpc-1".into(),
        tags: Tags::new(),
        ingress: vec![SgPermission {
            protocol: "tcp".into(),
            from_port: 22,
            to_port: 22,
            source: SgSource::Cidr("10.0.0.0/8".into()),
            description: None,
        }],
    }
}

impl Fake {
    /// The cluster scope as the AWS layer would read it again now.
    fn now(&self) -> cluster::ClusterNow {
        let backend = self.backend.as_ref().map(|b| b.id.clone());
        cluster::ClusterNow {
            backend_sg: self.backend.clone(),
            target_security_groups: self.target_sgs.clone(),
            ports_in_use: self
                .stacks
                .values()
                .flat_map(|s| &s.target_groups)
                .flat_map(|tg| cluster::target_ports(tg.port, &tg.health_check.port, &tg.targets))
                .collect(),
            backend_in_use: self
                .stacks
                .values()
                .flat_map(|s| &s.load_balancers)
                .any(|lb| {
                    backend
                        .as_ref()
                        .is_some_and(|b| lb.security_groups.contains(b))
                }),
            unrestricted_sg_rules: self.unrestricted,
        }
    }

    /// Ports the node group lets the backend group reach.
    fn node_ports(&self) -> Vec<i32> {
        let backend = SgSource::Group(self.backend.as_ref().unwrap().id.clone());
        let mut ports: Vec<i32> = self.target_sgs[0]
            .ingress
            .iter()
            .filter(|p| p.source == backend)
            .map(|p| p.from_port)
            .collect();
        ports.sort_unstable();
        ports
    }
}

fn ports_of(stacks: &[&Stack]) -> Vec<i32> {
    let mut ports: Vec<i32> = stacks
        .iter()
        .flat_map(|s| cluster::stack_ports(s))
        .map(i32::from)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn revoked_ports(changes: &[Change]) -> Vec<i32> {
    let mut ports: Vec<i32> = changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::RevokeSecurityGroupIngress { permissions, .. } => Some(permissions),
            _ => None,
        })
        .flatten()
        .map(|p| p.from_port)
        .collect();
    ports.sort_unstable();
    ports
}

#[test]
fn a_revocation_planned_on_a_stale_read_keeps_every_port_a_target_group_uses_now() {
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    let (a, b) = (seed(), grouped());
    converge(&mut fake, &[a.clone(), b.clone()]);
    assert_eq!(fake.node_ports(), ports_of(&[&a, &b]));

    // A pass for `b` that did not see `a`'s target groups (they were created after its read,
    // or its read of them was shallow) plans to revoke the ports only `a` uses.
    let stale = fake.plan(std::slice::from_ref(&b));
    assert_eq!(revoked_ports(&stale.changes), [8000, 8443, 9091]);

    // At execution the cluster scope is read again: every one of them is in use now.
    let now = fake.now();
    for c in &stale.changes {
        if let Op::RevokeSecurityGroupIngress { group, permissions } = &c.op {
            let claims = cluster::Claims::default();
            assert_eq!(
                cluster::still_revocable(group, permissions, &now, &claims),
                [],
                "{c:?}"
            );
        }
    }
    // Nothing to repair: every port in use has its permission.
    assert_eq!(
        cluster::missing_target_rules(&now, &cluster::Claims::default()),
        []
    );

    // Once `a`'s target groups are gone, the same revocation goes through, for `a`'s own
    // ports only (8080 and 3000 are `b`'s too)...
    fake.stacks.remove("shop/storefront");
    let now = fake.now();
    assert!(
        now.backend_in_use,
        "b's load balancer uses the backend group"
    );
    let planned = match &stale.changes.last().unwrap().op {
        Op::RevokeSecurityGroupIngress { permissions, .. } => permissions.clone(),
        other => panic!("{other:?}"),
    };
    let ports = |claims: &cluster::Claims| -> Vec<i32> {
        cluster::still_revocable("sg-nodes", &planned, &now, claims)
            .iter()
            .map(|p| p.from_port)
            .collect()
    };
    assert_eq!(ports(&cluster::Claims::default()), [8000, 8443, 9091]);
    // ...except a port a pass in flight claims.
    let claims = cluster::Claims {
        ports: [9091].into(),
        backend: false,
    };
    assert_eq!(ports(&claims), [8000, 8443]);
    // A group that is gone has nothing left to revoke.
    assert_eq!(
        cluster::still_revocable("sg-gone", &planned, &now, &claims),
        []
    );
}

#[test]
fn a_port_a_concurrent_pass_revoked_on_a_stale_read_is_authorized_again() {
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    let (a, b) = (seed(), grouped());
    converge(&mut fake, &[a.clone(), b.clone()]);
    // Another process revoked 9091 and 5000 (their target groups did not exist in its read).
    fake.target_sgs[0]
        .ingress
        .retain(|p| p.from_port != 9091 && p.from_port != 5000);
    let repairs = cluster::missing_target_rules(&fake.now(), &cluster::Claims::default());
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0].stack, "", "cluster-wide");
    assert_eq!(repairs[0].kind, ChangeKind::Modify);
    match &repairs[0].op {
        Op::AuthorizeSecurityGroupIngress { group, permissions } => {
            assert_eq!(group, &Ref::Existing("sg-nodes".into()));
            let ports: Vec<(i32, i32)> = permissions
                .iter()
                .map(|p| (p.from_port, p.to_port))
                .collect();
            assert_eq!(ports, [(5000, 5000), (9091, 9091)]);
            assert!(permissions.iter().all(|p| p.protocol == "tcp"
                && p.description.as_deref() == Some(TARGET_RULE_DESCRIPTION)));
        }
        other => panic!("{other:?}"),
    }
    fake.apply(&repairs);
    assert_eq!(fake.node_ports(), ports_of(&[&a, &b]));
    assert_eq!(fake.target_sgs[0].ingress[0].from_port, 22, "SSH untouched");
    // And a plan of either stack is empty again.
    assert!(fake.plan(&[a, b]).changes.is_empty());
}

#[test]
fn nothing_is_repaired_without_a_backend_group_or_anything_that_needs_it() {
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    converge(&mut fake, &[seed()]);
    let mut now = fake.now();
    now.target_security_groups[0].ingress.truncate(1);
    now.backend_in_use = false;
    assert_eq!(
        cluster::missing_target_rules(&now, &cluster::Claims::default()),
        []
    );
    // A pass in flight that needs the backend group counts as a user.
    let claims = cluster::Claims {
        ports: [].into(),
        backend: true,
    };
    assert_eq!(cluster::missing_target_rules(&now, &claims).len(), 1);
    now.backend_sg = None;
    assert_eq!(cluster::missing_target_rules(&now, &claims), []);
}

#[test]
fn the_backend_group_is_deleted_only_when_nothing_uses_or_claims_it_now() {
    let mut fake = Fake::default();
    converge(&mut fake, &[seed()]);
    let unclaimed = cluster::Claims::default();
    let mut now = fake.now();
    assert!(now.backend_in_use);
    assert!(!cluster::backend_still_unused(&now, &unclaimed));
    now.backend_in_use = false;
    assert!(cluster::backend_still_unused(&now, &unclaimed));
    let claims = cluster::Claims::of(&[grouped()]);
    assert!(
        claims.backend,
        "a managed security group needs the backend group"
    );
    assert_eq!(
        claims.ports,
        [3000, 5000, 5001, 8080, 31080].into(),
        "target-group ports and the targets' own ports"
    );
    assert!(!cluster::backend_still_unused(&now, &claims));
}

#[test]
fn a_retried_authorize_or_revoke_does_only_what_is_left() {
    let perm = |port: i32, description: Option<&str>| SgPermission {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        source: SgSource::Group("sg-backend".into()),
        description: description.map(str::to_owned),
    };
    let wanted = [perm(80, Some("ours")), perm(443, Some("ours"))];
    // EC2 matches rules without their description.
    let have = [perm(80, None), perm(22, None)];
    assert_eq!(cluster::missing(&wanted, &have), [perm(443, Some("ours"))]);
    assert_eq!(cluster::present(&wanted, &have), [perm(80, Some("ours"))]);
    assert_eq!(cluster::missing(&wanted, &wanted), []);
    assert_eq!(cluster::present(&wanted, &[]), []);
}

#[test]
fn a_rule_that_met_priority_in_use_is_adopted_only_when_identical() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let listener = &fake.observed("shop/storefront").load_balancers[0].listeners[0];
    let rule = listener.rules[0].clone();
    // The same conditions in another order, the same actions: the earlier attempt's rule.
    let mut conditions = rule.conditions.clone();
    conditions.reverse();
    assert!(cluster::rule_matches(&rule, &conditions, &rule.actions));
    // Another rule's actions, or other conditions: not ours to adopt.
    let other = &listener.rules[1];
    assert!(!cluster::rule_matches(
        &rule,
        &rule.conditions,
        &other.actions
    ));
    assert!(!cluster::rule_matches(
        &rule,
        &other.conditions,
        &rule.actions
    ));
}

#[test]
fn without_a_user_of_the_backend_group_every_planned_revocation_goes_through() {
    // A stack with its own security groups keeps target groups (and their ports) while the
    // last load balancer that used the backend group is deleted: the backend group goes, so
    // its permissions must all go first, even for ports still in use (a rule naming the group
    // would block its deletion).
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    converge(&mut fake, &[seed()]);
    let planned: Vec<SgPermission> = fake.target_sgs[0].ingress[1..].to_vec();
    assert_eq!(planned.len(), 5);
    let mut now = fake.now();
    now.backend_in_use = false;
    let unclaimed = cluster::Claims::default();
    assert_eq!(
        cluster::still_revocable("sg-nodes", &planned, &now, &unclaimed),
        planned,
        "all of them, although seed's target groups still use every port"
    );
    // A pass in flight that needs the backend group keeps the ports in use.
    let claims = cluster::Claims {
        ports: [].into(),
        backend: true,
    };
    assert_eq!(
        cluster::still_revocable("sg-nodes", &planned, &now, &claims),
        []
    );
}

/// `--disable-restricted-sg-rules` (LBC's flag): one all-traffic permission from the backend
/// group instead of tcp per target port; switching either way converges, and the execution-time
/// re-checks keep and repair the all-traffic permission while a port is in use.
#[test]
fn unrestricted_sg_rules_allow_all_traffic_from_the_backend_group() {
    let backend_perms = |fake: &Fake| -> Vec<(String, i32, i32)> {
        let backend = fake.backend.clone().unwrap().id;
        let mut v: Vec<(String, i32, i32)> = fake.target_sgs[0]
            .ingress
            .iter()
            .filter(|p| p.source == SgSource::Group(backend.clone()))
            .map(|p| (p.protocol.clone(), p.from_port, p.to_port))
            .collect();
        v.sort();
        v
    };
    let mut fake = Fake::default();
    fake.target_sgs.push(node_sg());
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let restricted = backend_perms(&fake);
    assert!(restricted
        .iter()
        .all(|(proto, from, to)| proto == "tcp" && from == to));
    assert!(!restricted.is_empty());

    // Switch: authorize all traffic, revoke the per-port permissions.
    fake.unrestricted = true;
    converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(backend_perms(&fake), [("-1".to_owned(), -1, -1)]);
    assert_eq!(fake.target_sgs[0].ingress.len(), 2, "SSH stays");

    // Execution-time re-checks: a planned revocation of per-port permissions goes through once
    // all traffic is allowed; the all-traffic permission stays while a port is in use.
    let now = fake.now();
    let backend = fake.backend.clone().unwrap().id;
    let all = SgPermission {
        protocol: "-1".into(),
        from_port: -1,
        to_port: -1,
        source: SgSource::Group(backend.clone()),
        description: Some(TARGET_RULE_DESCRIPTION.into()),
    };
    let claims = cluster::Claims::default();
    assert_eq!(
        cluster::still_revocable("sg-nodes", std::slice::from_ref(&all), &now, &claims),
        [],
        "kept while ports are in use"
    );
    assert_eq!(cluster::missing_target_rules(&now, &claims), []);
    // Lost (a concurrent pass on a stale read): repaired as one all-traffic permission.
    fake.target_sgs[0].ingress.retain(|p| p.protocol != "-1");
    let repairs = cluster::missing_target_rules(&fake.now(), &claims);
    match &repairs[..] {
        [Change {
            op: Op::AuthorizeSecurityGroupIngress { permissions, .. },
            ..
        }] => assert_eq!(permissions, std::slice::from_ref(&all)),
        other => panic!("{other:?}"),
    }
    fake.apply(&repairs);

    // And back: per-port permissions again, the all-traffic one revoked.
    fake.unrestricted = false;
    converge(&mut fake, std::slice::from_ref(&stack));
    assert_eq!(backend_perms(&fake), restricted);
    let now = fake.now();
    assert_eq!(
        cluster::still_revocable("sg-nodes", std::slice::from_ref(&all), &now, &claims),
        [],
        "already gone"
    );
}

/// A Gateway's stack (examples/gateway's golden plan) goes through the planner like any other:
/// it converges on the in-memory AWS, and what it creates carries the AWS Load Balancer
/// Controller's ALB Gateway tracking tags, which the observed side reads back as the stack.
#[test]
fn the_gateway_example_converges_with_gateway_tags() {
    let desired: DesiredState =
        serde_json::from_str(include_str!("../../../tests/golden/gateway.plan.json")).unwrap();
    let stack = &desired.stacks[0];
    assert_eq!(stack.id, StackId::gateway("web", "edge"));
    let mut fake = Fake::default();
    let p = converge(&mut fake, std::slice::from_ref(stack));
    let rules: usize = stack.listeners.iter().map(|l| l.rules.len()).sum();
    assert_eq!(count(&p, "elbv2.CreateRule"), rules);
    assert_eq!(
        count(&p, "elbv2.CreateTargetGroup"),
        stack.target_groups.len()
    );
    let o = fake.observed("gateway:web/edge");
    let lb = &o.load_balancers[0];
    assert_eq!(lb.tags[tags::ALB_GATEWAY_STACK], "web/edge");
    assert_eq!(StackId::from_tags(&lb.tags), Some(stack.id.clone()));
    assert!(!lb.tags.contains_key(tags::INGRESS_STACK));
    for sg in &o.security_groups {
        assert!(
            sg.tags.contains_key(tags::ALB_GATEWAY_RESOURCE),
            "{:?}",
            sg.tags
        );
    }
}

/// The example's NLB Gateway stack converges too, tagged with the AWS Load Balancer
/// Controller's NLB Gateway tags, which the observed side reads back as the NLB Gateway stack.
#[test]
fn the_nlb_gateway_example_converges_with_nlb_gateway_tags() {
    let desired: DesiredState =
        serde_json::from_str(include_str!("../../../tests/golden/gateway.plan.json")).unwrap();
    let stack = desired
        .stacks
        .iter()
        .find(|s| s.id == StackId::nlb_gateway("data", "db-edge"))
        .unwrap();
    let mut fake = Fake::default();
    let p = converge(&mut fake, std::slice::from_ref(stack));
    assert_eq!(count(&p, "elbv2.CreateListener"), 3);
    assert_eq!(count(&p, "elbv2.CreateRule"), 0);
    assert_eq!(count(&p, "elbv2.CreateTargetGroup"), 3);
    let o = fake.observed("nlb-gateway:data/db-edge");
    let lb = &o.load_balancers[0];
    assert_eq!(lb.tags[tags::NLB_GATEWAY_STACK], "data/db-edge");
    assert_eq!(StackId::from_tags(&lb.tags), Some(stack.id.clone()));
    assert!(!lb.tags.contains_key(tags::ALB_GATEWAY_STACK));
    for tg in &o.target_groups {
        assert_eq!(StackId::from_tags(&tg.tags), Some(stack.id.clone()));
    }
}

/// What a trusted pass observes: the listings' view (no listeners, no attributes), marked
/// trusted.
fn trusted_view(fake: &Fake, stack: &str) -> ObservedStack {
    let mut o = fake.observed(stack);
    for lb in &mut o.load_balancers {
        lb.listeners.clear();
        lb.attributes.clear();
    }
    for tg in &mut o.target_groups {
        tg.attributes.clear();
    }
    o.trusted = true;
    o
}

fn plan_observed(fake: &Fake, stack: &Stack, observed: &ObservedStack) -> Plan {
    let f = facts();
    plan(
        &fake.cluster(),
        &[StackInput {
            id: stack.id.clone(),
            desired: Some(stack),
            observed,
            facts: &f,
        }],
    )
}

#[test]
fn a_trusted_stack_plans_nothing_for_listeners_rules_and_attributes_it_did_not_read() {
    let mut fake = Fake::default();
    let mut stack = seed();
    stack
        .load_balancer
        .attributes
        .insert("idle_timeout.timeout_seconds".into(), "120".into());
    stack.target_groups[0]
        .attributes
        .insert("deregistration_delay.timeout_seconds".into(), "30".into());
    converge(&mut fake, std::slice::from_ref(&stack));
    let id = stack.id.to_string();
    let trusted = trusted_view(&fake, &id);
    assert!(plan_observed(&fake, &stack, &trusted).changes.is_empty());
    // The same shallow view untrusted: every listener and rule would be created again, which
    // is why the flag must only be set when the hash matched.
    let mut untrusted = trusted.clone();
    untrusted.trusted = false;
    let p = plan_observed(&fake, &stack, &untrusted);
    assert_eq!(count(&p, "elbv2.CreateListener"), stack.listeners.len());
    assert_eq!(count(&p, "elbv2.ModifyLoadBalancerAttributes"), 1);
    // Targets are still planned on a trusted stack.
    let tg = &mut stack.target_groups[0];
    let old = tg.targets.remove(0);
    let p = plan_observed(&fake, &stack, &trusted);
    assert_eq!(ops(&p), vec!["elbv2.DeregisterTargets"]);
    match &p.changes[0].op {
        Op::DeregisterTargets { targets, .. } => assert_eq!(targets, &vec![old]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_desired_hash_tag_is_neither_added_nor_removed_by_a_plan() {
    let mut fake = Fake::default();
    let stack = seed();
    converge(&mut fake, std::slice::from_ref(&stack));
    let id = stack.id.to_string();
    let mut o = fake.observed(&id);
    o.load_balancers[0]
        .tags
        .insert(crate::planner::trust::DESIRED_HASH_TAG.into(), "abc".into());
    assert!(plan_observed(&fake, &stack, &o).changes.is_empty());
}

/// An OIDC action with client secret `secret`.
fn oidc(secret: &str) -> ActionSpec {
    use crate::model::{AuthenticateCommon, AuthenticateOidcSpec, ClientSecret};
    ActionSpec::AuthenticateOidc(AuthenticateOidcSpec {
        issuer: "https://idp.example.com".into(),
        authorization_endpoint: "https://idp.example.com/auth".into(),
        token_endpoint: "https://idp.example.com/token".into(),
        user_info_endpoint: "https://idp.example.com/userinfo".into(),
        client_id: "client".into(),
        client_secret: Some(ClientSecret::new("client", secret.to_owned())),
        common: AuthenticateCommon {
            authentication_request_extra_params: BTreeMap::new(),
            on_unauthenticated_request: "authenticate".into(),
            scope: "openid".into(),
            session_cookie_name: "AWSELBAuthSessionCookie".into(),
            session_timeout: 604_800,
        },
    })
}

/// `stack`'s first rule authenticating with OIDC secret `secret` first, tagged as the
/// translation tags it.
fn with_oidc(stack: &Stack, secret: &str) -> Stack {
    let mut stack = stack.clone();
    let rule = &mut stack.listeners[0].rules[0];
    rule.actions.retain(|a| !a.is_authenticate());
    rule.actions.insert(0, oidc(secret));
    crate::translate::load_balancer::tag_client_secret(&rule.actions, &mut rule.tags);
    stack
}

/// AWS never returns the client secret: a changed Secret is seen through the fingerprint tag,
/// which rewrites the rule's actions (with the new secret) and the tag, and nothing else; a
/// rule without the tag (written by LBC) gets its secret once.
#[test]
fn a_changed_oidc_secret_rewrites_the_rule_through_its_fingerprint_tag() {
    let mut fake = Fake::default();
    let first = with_oidc(&seed(), "first-secret");
    converge(&mut fake, std::slice::from_ref(&first));

    let rotated = with_oidc(&seed(), "rotated-secret");
    let p = converge(&mut fake, std::slice::from_ref(&rotated));
    assert_eq!(
        ops(&p),
        ["elbv2.ModifyRule", "elbv2.AddTags"],
        "{:#?}",
        p.changes
    );
    assert_eq!(
        p.changes[0].reason.as_deref(),
        Some(super::rules::SECRET_REASON)
    );
    let Op::ModifyRule { actions, .. } = &p.changes[0].op else {
        panic!("not a ModifyRule")
    };
    let ActionSpec::AuthenticateOidc(o) = &actions[0] else {
        panic!("not oidc first")
    };
    assert_eq!(
        o.client_secret
            .as_ref()
            .map(crate::model::ClientSecret::expose),
        Some("rotated-secret"),
        "the request carries the new secret"
    );
    let shown = format!("{p:?} {}", serde_json::to_string(&p.changes).unwrap());
    assert!(
        !shown.contains("rotated-secret"),
        "the plan never shows the secret"
    );

    // Adopted from LBC: same actions, no fingerprint tag.
    let arn = fake.observed("shop/storefront").load_balancers[0].listeners[0].rules[0]
        .arn
        .clone();
    fake.rule_mut(&arn)
        .tags
        .remove(crate::model::tags::OIDC_CLIENT_SECRET);
    let p = converge(&mut fake, std::slice::from_ref(&rotated));
    assert_eq!(ops(&p), ["elbv2.ModifyRule", "elbv2.AddTags"]);
}

/// Mutual TLS as LBC decides it: set on create, unchanged plans nothing, a changed field is one
/// ModifyListener, `off` is written only over another mode, and a listener whose desired state
/// sets none keeps what it has.
#[test]
fn mutual_tls_is_written_only_when_it_differs() {
    use crate::model::MutualAuthenticationSpec;
    let verify = |ignore: bool| MutualAuthenticationSpec {
        mode: "verify".into(),
        trust_store: Some("arn:aws:elasticloadbalancing:eu-west-1:1:truststore/ts/1".into()),
        ignore_client_certificate_expiry: Some(ignore),
        advertise_trust_store_ca_names: Some("off".into()),
    };
    let with = |m: Option<MutualAuthenticationSpec>| {
        let mut stack = seed();
        stack.listeners[0].mutual_authentication = m;
        stack
    };
    let mut fake = Fake::default();
    converge(&mut fake, &[with(Some(verify(false)))]);
    let l = &fake.observed("shop/storefront").load_balancers[0].listeners[0];
    assert_eq!(l.mutual_authentication, Some(verify(false)));

    let p = converge(&mut fake, &[with(Some(verify(true)))]);
    assert_eq!(ops(&p), ["elbv2.ModifyListener"]);

    // Not desired: left as it is (LBC without EnhancedDefaultBehavior).
    assert!(fake.plan(&[with(None)]).changes.is_empty());

    let off = MutualAuthenticationSpec {
        mode: "off".into(),
        trust_store: None,
        ignore_client_certificate_expiry: None,
        advertise_trust_store_ca_names: None,
    };
    let p = converge(&mut fake, &[with(Some(off.clone()))]);
    assert_eq!(ops(&p), ["elbv2.ModifyListener"]);
    // `off` over a listener AWS reports without any: nothing.
    let arn = fake.observed("shop/storefront").load_balancers[0].listeners[0]
        .arn
        .clone();
    fake.listener_mut(&arn).mutual_authentication = None;
    assert!(fake.plan(&[with(Some(off))]).changes.is_empty());
}
