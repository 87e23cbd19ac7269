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
}
