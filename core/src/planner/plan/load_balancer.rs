//! The stack's load balancer: create, in-place updates and delete.
use super::*;

impl<'a> StackPlanner<'a> {
    pub(super) fn delete_lb(&mut self, lb: &ObservedLoadBalancer, reason: Option<String>) {
        self.delete(
            DEL_LBS,
            format!("load balancer {}", lb.name),
            reason,
            Op::DeleteLoadBalancer {
                arn: lb.arn.clone(),
            },
        );
    }

    pub(super) fn foreign_lb(&self, name: &str) -> Result<(), String> {
        match self.cluster.foreign.load_balancers.get(name) {
            Some(arn) => Err(format!(
                "load balancer name {name} is already used by {arn}, which this cluster does not \
                 own (no {}={} tag); delete or rename it, or choose another name with \
                 alb.ingress.kubernetes.io/load-balancer-name",
                tags::CLUSTER,
                self.cluster.cluster
            )),
            None => Ok(()),
        }
    }

    pub(super) fn plan_lb_create(
        &mut self,
        d: &Stack,
        sgs: Vec<Ref>,
        reason: Option<String>,
    ) -> Ref {
        let spec = &d.load_balancer;
        let key = keys::load_balancer(&self.stack);
        let resource = format!("load balancer {}", spec.name);
        let subnets = self.input.facts.subnets.clone().unwrap_or_default();
        self.push(
            resource.clone(),
            ChangeKind::Create,
            reason,
            Op::CreateLoadBalancer {
                key: key.clone(),
                load_balancer: NewLoadBalancer {
                    name: spec.name.clone(),
                    lb_type: spec.lb_type.as_str().to_owned(),
                    scheme: spec.scheme.as_str().to_owned(),
                    ip_address_type: spec.ip_address_type.as_str().to_owned(),
                    subnets,
                    security_groups: sgs,
                    eip_allocations: spec.eip_allocations.clone(),
                    private_ipv4_addresses: spec.private_ipv4_addresses.clone(),
                },
                tags: spec.tags.clone(),
            },
        );
        if !spec.attributes.is_empty() {
            self.push(
                resource,
                ChangeKind::Modify,
                None,
                Op::ModifyLoadBalancerAttributes {
                    load_balancer: Ref::New(key.clone()),
                    attributes: spec.attributes.clone(),
                },
            );
        }
        Ref::New(key)
    }

    pub(super) fn plan_lb_update(&mut self, d: &Stack, lb: &ObservedLoadBalancer, sgs: &[Ref]) {
        let spec = &d.load_balancer;
        let resource = format!("load balancer {}", lb.name);
        let me = Ref::Existing(lb.arn.clone());
        let observed_sgs: BTreeSet<&str> = lb.security_groups.iter().map(String::as_str).collect();
        let same_sgs = sgs.len() == observed_sgs.len()
            && sgs
                .iter()
                .all(|r| matches!(r, Ref::Existing(id) if observed_sgs.contains(id.as_str())));
        if !same_sgs {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some(format!(
                    "security groups were {}",
                    lb.security_groups.join(", ")
                )),
                Op::SetSecurityGroups {
                    load_balancer: me.clone(),
                    security_groups: sgs.to_vec(),
                },
            );
        }
        if self.input.facts.subnets_explicit {
            if let Ok(want) = &self.input.facts.subnets {
                let want_set: BTreeSet<&String> = want.iter().collect();
                let have_set: BTreeSet<&String> = lb.subnets.iter().collect();
                if want_set != have_set {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        Some(format!("subnets were {}", lb.subnets.join(", "))),
                        Op::SetSubnets {
                            load_balancer: me.clone(),
                            subnets: want.clone(),
                        },
                    );
                }
            }
        }
        if !lb
            .ip_address_type
            .eq_ignore_ascii_case(spec.ip_address_type.as_str())
        {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                Some(format!("IP address type was {}", lb.ip_address_type)),
                Op::SetIpAddressType {
                    load_balancer: me.clone(),
                    ip_address_type: spec.ip_address_type.as_str().to_owned(),
                },
            );
        }
        // A trusted stack's attributes were not read (the desired-state hash covers them).
        let attrs = if self.input.observed.trusted {
            BTreeMap::new()
        } else {
            canon::attribute_changes(&spec.attributes, &lb.attributes)
        };
        if !attrs.is_empty() {
            self.push(
                resource.clone(),
                ChangeKind::Modify,
                None,
                Op::ModifyLoadBalancerAttributes {
                    load_balancer: me,
                    attributes: attrs,
                },
            );
        }
        self.plan_elbv2_tags(resource, &lb.arn, &spec.tags, &lb.tags);
    }

    /// The web ACL and the Shield Advanced protection, as LBC's synthesizers decide them:
    /// nothing when the desired state does not set them or (existing load balancers) they
    /// were not read; a web ACL replaced or removed when it differs; a protection created
    /// when missing and deleted only when named as LBC names its own, and both only while the
    /// account has a Shield Advanced subscription.
    pub(super) fn plan_lb_addons(
        &mut self,
        d: &Stack,
        existing: Option<&ObservedLoadBalancer>,
        me: &Ref,
    ) {
        let spec = &d.load_balancer;
        let resource = format!("load balancer {}", spec.name);
        if let Some(want) = &spec.wafv2_web_acl {
            // A new load balancer has no web ACL; an existing one's was read (or is trusted).
            let have = match existing {
                None => Some(None),
                Some(lb) => lb.wafv2.as_ref().map(|w| w.web_acl_arn.as_deref()),
            };
            let was = |h: Option<&str>| {
                h.map_or_else(
                    || "it had no web ACL".to_owned(),
                    |arn| format!("web ACL was {arn}"),
                )
            };
            match (want, have) {
                (WebAcl::Associate(arn), Some(h)) if h != Some(arn.as_str()) => {
                    let reason = existing.map(|_| was(h));
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        reason,
                        Op::AssociateWebAcl {
                            load_balancer: me.clone(),
                            web_acl_arn: arn.clone(),
                        },
                    );
                }
                (WebAcl::Disassociate, Some(Some(arn))) => {
                    if let Ref::Existing(lb_arn) = me {
                        self.push(
                            resource.clone(),
                            ChangeKind::Modify,
                            Some(format!("web ACL was {arn}")),
                            Op::DisassociateWebAcl {
                                load_balancer: lb_arn.clone(),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        if let (Some(want), true) = (
            spec.shield_advanced_protection,
            self.cluster.shield_subscribed,
        ) {
            let have = match existing {
                None => Some(None),
                Some(lb) => lb.shield.as_ref().map(|s| s.protection.as_ref()),
            };
            match (want, have) {
                (true, Some(None)) => self.push(
                    format!("shield protection of {resource}"),
                    ChangeKind::Create,
                    None,
                    Op::CreateProtection {
                        load_balancer: me.clone(),
                        name: SHIELD_PROTECTION_NAME.to_owned(),
                    },
                ),
                (false, Some(Some(p))) if SHIELD_MANAGED_NAMES.contains(&p.name.as_str()) => {
                    if let Ref::Existing(lb_arn) = me {
                        self.push(
                            format!("shield protection of {resource}"),
                            ChangeKind::Delete,
                            Some("Shield Advanced protection is turned off".to_owned()),
                            Op::DeleteProtection {
                                protection_id: p.id.clone(),
                                load_balancer: lb_arn.clone(),
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
