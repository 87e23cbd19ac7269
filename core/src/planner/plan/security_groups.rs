//! Security groups: the cluster's shared backend group and the permissions it needs on the
//! target (node) groups, and each stack's managed frontend group.
use super::*;

/// EC2's protocol name for ICMP.
pub const ICMPV4: &str = "icmp";
/// EC2's protocol name for ICMPv6.
pub const ICMPV6: &str = "icmpv6";
/// ICMP type 3 ("destination unreachable") code 4 ("fragmentation needed"), as a security-group
/// rule's (from, to) ports.
pub const ICMPV4_PATH_MTU: (i32, i32) = (3, 4);
/// ICMPv6 type 2 ("packet too big") code 0, as a security-group rule's (from, to) ports.
pub const ICMPV6_PATH_MTU: (i32, i32) = (2, 0);

pub(super) fn backend_tags(cluster: &str) -> Tags {
    [
        (tags::CLUSTER.to_owned(), cluster.to_owned()),
        (
            CLUSTER_RESOURCE_TAG.to_owned(),
            BACKEND_SG_RESOURCE.to_owned(),
        ),
    ]
    .into_iter()
    .collect()
}

/// Whether the shared backend security group is needed, and the ports it must reach.
pub(super) struct Backend {
    pub(super) needed: bool,
    ports: BTreeSet<u16>,
}

impl Backend {
    pub(super) fn decide(
        cluster: &ClusterFacts,
        stacks: &[StackInput<'_>],
        failed: &BTreeSet<String>,
    ) -> Self {
        let backend_id = cluster.backend_sg.as_ref().map(|sg| sg.id.as_str());
        let mut needed = false;
        let mut ports = BTreeSet::new();
        let mut add_tg_port = |port: u16, health_check_port: &str, targets: &[TargetSpec]| {
            ports.extend(super::super::cluster::target_ports(
                port,
                health_check_port,
                targets,
            ));
        };
        let uses_backend = |lb: &ObservedLoadBalancer| {
            backend_id.is_some_and(|id| lb.security_groups.iter().any(|s| s == id))
        };
        for input in stacks {
            if failed.contains(&input.id.to_string()) {
                // Left as it is this pass: keep what its load balancer uses.
                needed |= input.observed.load_balancers.iter().any(uses_backend);
                for tg in &input.observed.target_groups {
                    add_tg_port(tg.port, &tg.health_check.port, &tg.targets);
                }
            } else if let Some(d) = input.desired {
                needed |= d.load_balancer.uses_backend_security_group();
                for tg in &d.target_groups {
                    add_tg_port(tg.port, &tg.health_check.port, &tg.targets);
                }
            }
        }
        for other in cluster.unplanned.values() {
            needed |= other.load_balancers.iter().any(uses_backend);
            for tg in &other.target_groups {
                add_tg_port(tg.port, &tg.health_check.port, &tg.targets);
            }
        }
        if !needed {
            ports.clear();
        }
        Self { needed, ports }
    }

    /// Permissions on the target security groups: tcp on every target port from the backend
    /// group. Only permissions whose source is the backend group are ever revoked.
    pub(super) fn target_rules(
        &self,
        cluster: &ClusterFacts,
        backend: Option<&Ref>,
    ) -> (Vec<Change>, Vec<Change>) {
        let (mut authorize, mut revoke) = (Vec::new(), Vec::new());
        let observed_id = cluster.backend_sg.as_ref().map(|sg| sg.id.as_str());
        let source = match backend {
            Some(Ref::Existing(id)) => Some(SgSource::Group(id.clone())),
            Some(Ref::New(key)) => Some(SgSource::NewGroup(key.clone())),
            None => None,
        };
        let is_ours = |p: &SgPermission| {
            super::super::cluster::is_backend_protocol(&p.protocol)
                && matches!(&p.source, SgSource::Group(g) if Some(g.as_str()) == observed_id)
        };
        for sg in &cluster.target_security_groups {
            let ours: BTreeSet<(String, i32, i32)> = sg
                .ingress
                .iter()
                .filter(|p| is_ours(p))
                .map(|p| (p.protocol.clone(), p.from_port, p.to_port))
                .collect();
            let wanted: BTreeSet<(String, i32, i32)> =
                match (&source, cluster.unrestricted_sg_rules) {
                    (None, _) => BTreeSet::new(),
                    // `--disable-restricted-sg-rules`: all traffic, while any port is needed.
                    (Some(_), true) if self.ports.is_empty() => BTreeSet::new(),
                    (Some(_), true) => [("-1".to_owned(), -1, -1)].into(),
                    (Some(_), false) => self
                        .ports
                        .iter()
                        .map(|p| ("tcp".to_owned(), i32::from(*p), i32::from(*p)))
                        .collect(),
                };
            if let Some(src) = &source {
                let missing: Vec<SgPermission> = wanted
                    .difference(&ours)
                    .map(|(protocol, from, to)| SgPermission {
                        protocol: protocol.clone(),
                        from_port: *from,
                        to_port: *to,
                        source: src.clone(),
                        description: Some(TARGET_RULE_DESCRIPTION.to_owned()),
                    })
                    .collect();
                if !missing.is_empty() {
                    authorize.push(Change {
                        stack: Scope::Cluster.to_string(),
                        resource: format!("target security group {} ({})", sg.name, sg.id),
                        kind: ChangeKind::Modify,
                        reason: Some("allow the load balancers to reach the target ports".into()),
                        op: Op::AuthorizeSecurityGroupIngress {
                            group: Ref::Existing(sg.id.clone()),
                            permissions: missing,
                        },
                    });
                }
            }
            let extra: Vec<SgPermission> = sg
                .ingress
                .iter()
                .filter(|p| {
                    is_ours(p) && !wanted.contains(&(p.protocol.clone(), p.from_port, p.to_port))
                })
                .cloned()
                .collect();
            if !extra.is_empty() {
                revoke.push(Change {
                    stack: Scope::Cluster.to_string(),
                    resource: format!("target security group {} ({})", sg.name, sg.id),
                    kind: ChangeKind::Modify,
                    reason: Some("target ports no longer used".into()),
                    op: Op::RevokeSecurityGroupIngress {
                        group: sg.id.clone(),
                        permissions: extra,
                    },
                });
            }
        }
        (authorize, revoke)
    }
}

impl<'a> StackPlanner<'a> {
    pub(super) fn delete_sg(&mut self, sg: &ObservedSecurityGroup, reason: Option<String>) {
        self.delete(
            DEL_SGS,
            format!("security group {} ({})", sg.name, sg.id),
            reason,
            Op::DeleteSecurityGroup {
                group: sg.id.clone(),
            },
        );
    }

    pub(super) fn plan_frontend_sg(
        &mut self,
        d: &Stack,
        observed: Option<&ObservedSecurityGroup>,
    ) -> Ref {
        let spec = &d.load_balancer;
        let mut sg_tags = spec.tags.clone();
        sg_tags.insert(
            self.input.id.kind.resource_tag().to_owned(),
            FRONTEND_SG_RESOURCE.to_owned(),
        );
        let mut wanted: BTreeSet<SgPermission> = BTreeSet::new();
        if spec.icmp_for_path_mtu_discovery && !d.listeners.is_empty() {
            // As LBC's `buildManagedSecurityGroupIngressPermissions`: one rule per source CIDR
            // (prefix lists get none) for the ICMP "fragmentation needed" message (IPv4 type 3
            // code 4) or ICMPv6 "packet too big" (type 2 code 0).
            for cidr in &spec.inbound_cidrs {
                let (protocol, (from_port, to_port), source) = if cidr.contains(':') {
                    (ICMPV6, ICMPV6_PATH_MTU, SgSource::CidrV6(cidr.clone()))
                } else {
                    (ICMPV4, ICMPV4_PATH_MTU, SgSource::Cidr(cidr.clone()))
                };
                wanted.insert(SgPermission {
                    protocol: protocol.to_owned(),
                    from_port,
                    to_port,
                    source,
                    description: None,
                });
            }
        }
        for l in &d.listeners {
            let protocols: &[&str] = match l.protocol {
                Protocol::Udp => &["udp"],
                Protocol::TcpUdp => &["tcp", "udp"],
                _ => &["tcp"],
            };
            for cidr in &spec.inbound_cidrs {
                let source = if cidr.contains(':') {
                    SgSource::CidrV6(cidr.clone())
                } else {
                    SgSource::Cidr(cidr.clone())
                };
                for protocol in protocols {
                    wanted.insert(SgPermission {
                        protocol: (*protocol).to_owned(),
                        from_port: i32::from(l.port),
                        to_port: i32::from(l.port),
                        source: source.clone(),
                        description: None,
                    });
                }
            }
            for list in &spec.inbound_prefix_lists {
                for protocol in protocols {
                    wanted.insert(SgPermission {
                        protocol: (*protocol).to_owned(),
                        from_port: i32::from(l.port),
                        to_port: i32::from(l.port),
                        source: SgSource::PrefixList(list.clone()),
                        description: None,
                    });
                }
            }
        }
        match observed {
            None => {
                let key = keys::frontend_sg(&self.stack);
                self.push(
                    format!("security group {}", spec.name),
                    ChangeKind::Create,
                    None,
                    Op::CreateSecurityGroup {
                        key: key.clone(),
                        name: spec.name.clone(),
                        description: FRONTEND_SG_DESCRIPTION.to_owned(),
                        vpc_id: self.cluster.vpc_id.clone(),
                        tags: sg_tags,
                    },
                );
                if !wanted.is_empty() {
                    self.push(
                        format!("security group {}", spec.name),
                        ChangeKind::Modify,
                        Some("open the listener ports".into()),
                        Op::AuthorizeSecurityGroupIngress {
                            group: Ref::New(key.clone()),
                            permissions: wanted.into_iter().collect(),
                        },
                    );
                }
                Ref::New(key)
            }
            Some(sg) => {
                let resource = format!("security group {} ({})", sg.name, sg.id);
                let strip = |p: &SgPermission| SgPermission {
                    description: None,
                    ..p.clone()
                };
                let have: BTreeSet<SgPermission> = sg.ingress.iter().map(strip).collect();
                let missing: Vec<SgPermission> = wanted.difference(&have).cloned().collect();
                let extra: Vec<SgPermission> = sg
                    .ingress
                    .iter()
                    .filter(|p| !wanted.contains(&strip(p)))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::AuthorizeSecurityGroupIngress {
                            group: Ref::Existing(sg.id.clone()),
                            permissions: missing,
                        },
                    );
                }
                if !extra.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::RevokeSecurityGroupIngress {
                            group: sg.id.clone(),
                            permissions: extra,
                        },
                    );
                }
                let (add, remove) =
                    canon::tag_changes(&sg_tags, &sg.tags, &self.cluster.external_managed_tags);
                if !add.is_empty() {
                    self.push(
                        resource.clone(),
                        ChangeKind::Modify,
                        None,
                        Op::Ec2CreateTags {
                            resource: sg.id.clone(),
                            tags: add,
                        },
                    );
                }
                if !remove.is_empty() {
                    self.push(
                        resource,
                        ChangeKind::Modify,
                        None,
                        Op::Ec2DeleteTags {
                            resource: sg.id.clone(),
                            keys: remove,
                        },
                    );
                }
                Ref::Existing(sg.id.clone())
            }
        }
    }
}
