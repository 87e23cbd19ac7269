//! TargetGroupBinding `spec.networking`, pure: the ingress permissions a binding asks for on
//! its targets' security groups, aggregated over every binding as the AWS Load Balancer
//! Controller's networking manager does, and the authorize/revoke difference on one group.
//!
//! - [`binding_permissions`]: `spec.networking.ingress[]` → permissions (one per peer and
//!   port; a rule without ports opens every TCP port; protocol TCP unless UDP is named). Each
//!   carries LBC's description [`TARGET_RULE_DESCRIPTION`] (`elbv2.k8s.aws/targetGroupBinding=
//!   shared`), the label that marks a rule as managed.
//! - [`aggregate`]: the permissions every binding wants on each endpoint group. Restricted
//!   (the default, as LBC): permissions from a security group are merged per protocol and
//!   source into one port range from the lowest to the highest port; CIDR permissions stay as
//!   they are. Unrestricted (`--disable-restricted-sg-rules`): the distinct permissions.
//! - [`group_changes`]: what to authorize on one group (wanted, not present, compared without
//!   descriptions, as LBC's hash does) and what to revoke: a present permission carrying the
//!   label, that this controller wanted before (`ours`) and wants no longer. LBC revokes every
//!   labelled permission nobody wants; we never remove a permission we did not add (a rule of
//!   LBC's for a binding deleted while no controller ran stays), and never one whose source is
//!   the cluster's backend group (the stack planner's own permissions carry the same label).
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::observed::{ObservedSecurityGroup, SgPermission, SgSource};
use super::TARGET_RULE_DESCRIPTION;

/// Label key and value of LBC's managed permissions (their description is `key=value`).
pub const PERMISSION_LABEL: (&str, &str) = ("elbv2.k8s.aws/targetGroupBinding", "shared");

/// Lowest and highest port of "every port".
const ALL_PORTS: (i32, i32) = (0, 65535);

/// One `spec.networking.ingress[].from[]` peer, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    /// `ipBlock.cidr`.
    pub cidr: Option<String>,
    /// `securityGroup.groupID`.
    pub group_id: Option<String>,
}

/// One `spec.networking.ingress[].ports[]` entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Port {
    /// `protocol`: `UDP` is udp, anything else (or unset) tcp.
    pub udp: bool,
    /// `port`: a number, or a name; every port when unset.
    pub port: Option<IntOrString>,
}

/// One `spec.networking.ingress[]` rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    /// `from`.
    pub from: Vec<Peer>,
    /// `ports`; empty: every TCP port.
    pub ports: Vec<Port>,
}

/// Why a binding's networking cannot be applied (the message of its `FailedNetworkReconcile`
/// event).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkingError {
    /// A peer with neither `ipBlock` nor `securityGroup`.
    #[error("spec.networking.ingress[{rule}].from[{peer}]: either ipBlock or securityGroup should be specified")]
    NoPeer {
        /// Index of the rule.
        rule: usize,
        /// Index of the peer.
        peer: usize,
    },
    /// An `ipBlock.cidr` that is not a CIDR.
    #[error(
        "spec.networking.ingress[{rule}].from[{peer}].ipBlock.cidr: invalid CIDR address: {cidr}"
    )]
    InvalidCidr {
        /// Index of the rule.
        rule: usize,
        /// Index of the peer.
        peer: usize,
        /// The value.
        cidr: String,
    },
    /// A named port (LBC looks it up in the pods' container ports, which we do not read).
    #[error("spec.networking.ingress[{rule}].ports[{port}].port: named port {name:?} is not supported: use the port number")]
    NamedPort {
        /// Index of the rule.
        rule: usize,
        /// Index of the port.
        port: usize,
        /// The name.
        name: String,
    },
    /// A port number outside 0..65535.
    #[error("spec.networking.ingress[{rule}].ports[{port}].port: {value} is not a port number (0-65535)")]
    BadPort {
        /// Index of the rule.
        rule: usize,
        /// Index of the port.
        port: usize,
        /// The value.
        value: i32,
    },
}

/// A CIDR as Go's `net.ParseCIDR` accepts it: an IPv4 or IPv6 address, `/`, a prefix length
/// in range. `Some(true)` for IPv6.
fn parse_cidr(cidr: &str) -> Option<bool> {
    let (addr, len) = cidr.split_once('/')?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(_) if len <= 32 && !addr.contains(':') => Some(false),
        std::net::IpAddr::V6(_) if len <= 128 => Some(true),
        _ => None,
    }
}

/// The permissions `rules` ask for, in rule, peer, port order (LBC's
/// `computeIngressPermissionsForTGBNetworking`).
///
/// # Errors
/// A peer without a source, an invalid CIDR, a named port, a port out of range.
pub fn binding_permissions(rules: &[Rule]) -> Result<Vec<SgPermission>, NetworkingError> {
    let mut out = Vec::new();
    for (r, rule) in rules.iter().enumerate() {
        let all_tcp = [Port {
            udp: false,
            port: None,
        }];
        let ports: &[Port] = if rule.ports.is_empty() {
            &all_tcp
        } else {
            &rule.ports
        };
        for (p, peer) in rule.from.iter().enumerate() {
            // securityGroup first, as LBC reads them.
            let source = match (&peer.group_id, &peer.cidr) {
                (Some(g), _) => SgSource::Group(g.clone()),
                (None, Some(cidr)) => match parse_cidr(cidr) {
                    Some(true) => SgSource::CidrV6(cidr.clone()),
                    Some(false) => SgSource::Cidr(cidr.clone()),
                    None => {
                        return Err(NetworkingError::InvalidCidr {
                            rule: r,
                            peer: p,
                            cidr: cidr.clone(),
                        })
                    }
                },
                (None, None) => return Err(NetworkingError::NoPeer { rule: r, peer: p }),
            };
            for (i, port) in ports.iter().enumerate() {
                let (from, to) = match &port.port {
                    None => ALL_PORTS,
                    Some(IntOrString::Int(n)) if (0..=65535).contains(n) => (*n, *n),
                    Some(IntOrString::Int(n)) => {
                        return Err(NetworkingError::BadPort {
                            rule: r,
                            port: i,
                            value: *n,
                        })
                    }
                    Some(IntOrString::String(name)) => {
                        return Err(NetworkingError::NamedPort {
                            rule: r,
                            port: i,
                            name: name.clone(),
                        })
                    }
                };
                out.push(SgPermission {
                    protocol: if port.udp { "udp" } else { "tcp" }.to_owned(),
                    from_port: from,
                    to_port: to,
                    source: source.clone(),
                    description: Some(TARGET_RULE_DESCRIPTION.to_owned()),
                });
            }
        }
    }
    Ok(out)
}

/// A permission without its description: what AWS compares (LBC's `HashCode`).
pub type PermissionKey = (String, i32, i32, SgSource);

/// The key of `p`.
#[must_use]
pub fn key(p: &SgPermission) -> PermissionKey {
    (p.protocol.clone(), p.from_port, p.to_port, p.source.clone())
}

/// One binding's share: the endpoint groups of its targets and the permissions it wants on
/// each of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingNeeds {
    /// Endpoint security groups of its targets.
    pub groups: BTreeSet<String>,
    /// Permissions wanted on each.
    pub permissions: Vec<SgPermission>,
}

/// The permissions every group needs, over all bindings (see the module documentation).
#[must_use]
pub fn aggregate<'a>(
    bindings: impl IntoIterator<Item = &'a BindingNeeds>,
    unrestricted: bool,
) -> BTreeMap<String, BTreeSet<SgPermission>> {
    let mut per_group: BTreeMap<String, Vec<&SgPermission>> = BTreeMap::new();
    for b in bindings {
        for g in &b.groups {
            per_group
                .entry(g.clone())
                .or_default()
                .extend(b.permissions.iter());
        }
    }
    per_group
        .into_iter()
        .map(|(group, perms)| {
            let out = if unrestricted {
                dedup(perms)
            } else {
                restricted(perms)
            };
            (group, out)
        })
        .collect()
}

/// Distinct permissions by key (the first description wins).
fn dedup(perms: Vec<&SgPermission>) -> BTreeSet<SgPermission> {
    let mut by_key: BTreeMap<PermissionKey, SgPermission> = BTreeMap::new();
    for p in perms {
        by_key.entry(key(p)).or_insert_with(|| p.clone());
    }
    by_key.into_values().collect()
}

/// LBC's restricted aggregation: group sources merged per protocol into one range.
fn restricted(perms: Vec<&SgPermission>) -> BTreeSet<SgPermission> {
    let mut out: Vec<&SgPermission> = Vec::new();
    let mut ranges: BTreeMap<(String, String), (i32, i32, &SgPermission)> = BTreeMap::new();
    for p in perms {
        let SgSource::Group(g) = &p.source else {
            out.push(p);
            continue;
        };
        let (lo, hi) = if p.from_port == 0 && p.to_port == 0 {
            ALL_PORTS
        } else {
            (p.from_port, p.to_port)
        };
        let e = ranges
            .entry((p.protocol.clone(), g.clone()))
            .or_insert((lo, hi, p));
        e.0 = e.0.min(lo);
        e.1 = e.1.max(hi);
    }
    let merged: Vec<SgPermission> = ranges
        .into_values()
        .map(|(lo, hi, p)| SgPermission {
            from_port: lo,
            to_port: hi,
            ..p.clone()
        })
        .collect();
    dedup(out.into_iter().chain(merged.iter()).collect())
}

/// True when `description` carries LBC's managed label (`key=value` pairs separated by
/// commas, as LBC parses them).
#[must_use]
pub fn is_labelled(description: Option<&str>) -> bool {
    let Some(d) = description else {
        return false;
    };
    d.split(',').any(|pair| {
        // LBC's pattern: `([^\s,=]+)=([^\s,=]+)(?:,|$)`: the pair is the text after the last
        // whitespace of the segment.
        let pair = pair.rsplit(char::is_whitespace).next().unwrap_or(pair);
        pair.split_once('=') == Some(PERMISSION_LABEL)
    })
}

/// What to authorize and revoke on one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// Wanted and not present.
    pub authorize: Vec<SgPermission>,
    /// Present, labelled, ours before, wanted no longer.
    pub revoke: Vec<SgPermission>,
}

/// The changes that bring `group` to `wanted`: `ours` is what this controller wanted on it
/// before (only those are ever revoked), `backend` the cluster's backend group (never a source
/// we revoke), `authorize_only` when some binding's needs are unknown this pass (nothing is
/// revoked then, as LBC).
#[must_use]
pub fn group_changes(
    group: &ObservedSecurityGroup,
    wanted: &BTreeSet<SgPermission>,
    ours: &BTreeSet<SgPermission>,
    backend: Option<&str>,
    authorize_only: bool,
) -> GroupChanges {
    let present: BTreeSet<PermissionKey> = group.ingress.iter().map(key).collect();
    let wanted_keys: BTreeSet<PermissionKey> = wanted.iter().map(key).collect();
    let ours_keys: BTreeSet<PermissionKey> = ours.iter().map(key).collect();
    let authorize = wanted
        .iter()
        .filter(|p| !present.contains(&key(p)))
        .cloned()
        .collect();
    let revoke = if authorize_only {
        Vec::new()
    } else {
        group
            .ingress
            .iter()
            .filter(|p| {
                let k = key(p);
                is_labelled(p.description.as_deref())
                    && ours_keys.contains(&k)
                    && !wanted_keys.contains(&k)
                    && !matches!((&p.source, backend), (SgSource::Group(g), Some(b)) if g == b)
            })
            .cloned()
            .collect()
    };
    GroupChanges { authorize, revoke }
}

/// The endpoint group of a network interface, as LBC chooses it: its only group, else the one
/// of its groups tagged `kubernetes.io/cluster/<cluster>`.
///
/// # Errors
/// Several groups and not exactly one of them tagged: the message names the interface, the
/// tagged groups and the cluster (LBC's message).
pub fn endpoint_group(
    eni: &str,
    groups: &[String],
    tags_of: impl Fn(&str) -> Option<BTreeSet<String>>,
    cluster: &str,
) -> Result<String, String> {
    if let [only] = groups {
        return Ok(only.clone());
    }
    let tag = format!("kubernetes.io/cluster/{cluster}");
    let tagged: BTreeSet<&String> = groups
        .iter()
        .filter(|g| tags_of(g).is_some_and(|t| t.contains(&tag)))
        .collect();
    match tagged.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => Ok((*one).clone()),
        many => Err(format!(
            "expected exactly one securityGroup tagged with {tag} for eni {eni}, got: [{}] (clusterName: {cluster})",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(protocol: &str, from: i32, to: i32, source: SgSource) -> SgPermission {
        SgPermission {
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            source,
            description: Some(TARGET_RULE_DESCRIPTION.into()),
        }
    }
    fn sg(id: &str) -> SgSource {
        SgSource::Group(id.into())
    }
    fn cidr(c: &str) -> SgSource {
        SgSource::Cidr(c.into())
    }
    fn peer_sg(id: &str) -> Peer {
        Peer {
            group_id: Some(id.into()),
            cidr: None,
        }
    }
    fn peer_cidr(c: &str) -> Peer {
        Peer {
            group_id: None,
            cidr: Some(c.into()),
        }
    }
    fn port(udp: bool, n: Option<i32>) -> Port {
        Port {
            udp,
            port: n.map(IntOrString::Int),
        }
    }

    #[test]
    fn rules_become_one_permission_per_peer_and_port() {
        let rules = vec![
            Rule {
                from: vec![peer_sg("sg-lb"), peer_cidr("10.0.0.0/16")],
                ports: vec![port(false, Some(8080)), port(true, Some(53))],
            },
            Rule {
                from: vec![peer_cidr("2001:db8::/64")],
                ports: vec![],
            },
            Rule {
                from: vec![peer_sg("sg-x")],
                ports: vec![port(true, None)],
            },
        ];
        assert_eq!(
            binding_permissions(&rules).unwrap(),
            vec![
                perm("tcp", 8080, 8080, sg("sg-lb")),
                perm("udp", 53, 53, sg("sg-lb")),
                perm("tcp", 8080, 8080, cidr("10.0.0.0/16")),
                perm("udp", 53, 53, cidr("10.0.0.0/16")),
                perm("tcp", 0, 65535, SgSource::CidrV6("2001:db8::/64".into())),
                perm("udp", 0, 65535, sg("sg-x")),
            ]
        );
        // securityGroup wins when both are written, as LBC reads them.
        let both = Rule {
            from: vec![Peer {
                group_id: Some("sg-a".into()),
                cidr: Some("bad".into()),
            }],
            ports: vec![port(false, Some(80))],
        };
        assert_eq!(
            binding_permissions(&[both]).unwrap(),
            vec![perm("tcp", 80, 80, sg("sg-a"))]
        );
    }

    #[test]
    fn invalid_networking_is_an_error_naming_the_field() {
        let one = |from: Peer, p: Port| {
            binding_permissions(&[Rule {
                from: vec![peer_sg("sg-ok"), from],
                ports: vec![p],
            }])
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            one(Peer::default(), port(false, Some(80))),
            "spec.networking.ingress[0].from[1]: either ipBlock or securityGroup should be specified"
        );
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "x/8",
            "10.0.0.0/-1",
        ] {
            assert_eq!(
                one(peer_cidr(bad), port(false, Some(80))),
                format!(
                    "spec.networking.ingress[0].from[1].ipBlock.cidr: invalid CIDR address: {bad}"
                )
            );
        }
        let named = Port {
            udp: false,
            port: Some(IntOrString::String("http".into())),
        };
        assert_eq!(
            one(peer_sg("sg-b"), named),
            "spec.networking.ingress[0].ports[0].port: named port \"http\" is not supported: use the port number"
        );
        assert_eq!(
            one(peer_sg("sg-b"), port(false, Some(70000))),
            "spec.networking.ingress[0].ports[0].port: 70000 is not a port number (0-65535)"
        );
    }

    #[test]
    fn restricted_aggregation_merges_group_sources_into_one_range() {
        let a = BindingNeeds {
            groups: ["sg-node".to_owned(), "sg-other".to_owned()].into(),
            permissions: vec![
                perm("tcp", 8080, 8080, sg("sg-lb")),
                perm("tcp", 80, 80, cidr("10.0.0.0/16")),
            ],
        };
        let b = BindingNeeds {
            groups: ["sg-node".to_owned()].into(),
            permissions: vec![
                perm("tcp", 9000, 9000, sg("sg-lb")),
                perm("udp", 53, 53, sg("sg-lb")),
                perm("tcp", 90, 90, cidr("10.0.0.0/16")),
                perm("tcp", 80, 80, cidr("10.0.0.0/16")),
            ],
        };
        let got = aggregate([&a, &b], false);
        assert_eq!(
            got["sg-node"],
            [
                perm("tcp", 8080, 9000, sg("sg-lb")),
                perm("udp", 53, 53, sg("sg-lb")),
                perm("tcp", 80, 80, cidr("10.0.0.0/16")),
                perm("tcp", 90, 90, cidr("10.0.0.0/16")),
            ]
            .into()
        );
        assert_eq!(
            got["sg-other"],
            [
                perm("tcp", 8080, 8080, sg("sg-lb")),
                perm("tcp", 80, 80, cidr("10.0.0.0/16")),
            ]
            .into()
        );
        // Unrestricted: every distinct permission.
        let open = aggregate([&a, &b], true);
        assert_eq!(open["sg-node"].len(), 5);
        assert!(open["sg-node"].contains(&perm("tcp", 9000, 9000, sg("sg-lb"))));
    }

    #[test]
    fn only_labelled_permissions_we_added_are_revoked() {
        let mut foreign_labelled = perm("tcp", 22, 22, cidr("0.0.0.0/0"));
        foreign_labelled.description =
            Some("team=a, elbv2.k8s.aws/targetGroupBinding=shared".into());
        let mut unlabelled = perm("tcp", 443, 443, cidr("10.0.0.0/8"));
        unlabelled.description = Some("by hand".into());
        let group = ObservedSecurityGroup {
            id: "sg-node".into(),
            ingress: vec![
                perm("tcp", 8080, 8080, sg("sg-lb")),
                perm("tcp", 9000, 9000, sg("sg-gone")),
                perm("tcp", 80, 80, sg("sg-backend")),
                foreign_labelled.clone(),
                unlabelled.clone(),
            ],
            ..ObservedSecurityGroup::default()
        };
        let wanted: BTreeSet<SgPermission> = [
            perm("tcp", 8080, 8080, sg("sg-lb")),
            perm("tcp", 53, 53, cidr("10.1.0.0/16")),
        ]
        .into();
        // We added 9000 from sg-gone, and (we think) 443 and 80 from the backend group.
        let ours: BTreeSet<SgPermission> = [
            perm("tcp", 9000, 9000, sg("sg-gone")),
            perm("tcp", 443, 443, cidr("10.0.0.0/8")),
            perm("tcp", 80, 80, sg("sg-backend")),
        ]
        .into();
        let c = group_changes(&group, &wanted, &ours, Some("sg-backend"), false);
        assert_eq!(c.authorize, vec![perm("tcp", 53, 53, cidr("10.1.0.0/16"))]);
        assert_eq!(c.revoke, vec![perm("tcp", 9000, 9000, sg("sg-gone"))]);
        // A labelled rule we did not add stays, even when nothing wants it.
        let all_ours: BTreeSet<SgPermission> = ours
            .iter()
            .cloned()
            .chain([foreign_labelled.clone()])
            .collect();
        let c = group_changes(&group, &wanted, &all_ours, Some("sg-backend"), false);
        assert_eq!(c.revoke.len(), 2, "{:?}", c.revoke);
        assert!(c.revoke.contains(&foreign_labelled));
        // Authorize only: nothing revoked.
        let c = group_changes(&group, &wanted, &ours, Some("sg-backend"), true);
        assert!(c.revoke.is_empty());
        assert_eq!(c.authorize.len(), 1);
    }

    #[test]
    fn labels_are_parsed_as_lbc_parses_descriptions() {
        assert!(is_labelled(Some("elbv2.k8s.aws/targetGroupBinding=shared")));
        assert!(is_labelled(Some(
            "a=b,elbv2.k8s.aws/targetGroupBinding=shared"
        )));
        assert!(is_labelled(Some(
            "note elbv2.k8s.aws/targetGroupBinding=shared"
        )));
        assert!(!is_labelled(Some("elbv2.k8s.aws/targetGroupBinding=other")));
        assert!(!is_labelled(Some(
            "xelbv2.k8s.aws/targetGroupBinding=shared"
        )));
        assert!(!is_labelled(Some(
            "elbv2.k8s.aws/targetGroupBinding=shared=1"
        )));
        assert!(!is_labelled(None));
    }

    #[test]
    fn the_endpoint_group_is_the_only_one_or_the_cluster_tagged_one() {
        let tags = |g: &str| -> Option<BTreeSet<String>> {
            match g {
                "sg-a" | "sg-c" => Some(["kubernetes.io/cluster/prod".to_owned()].into()),
                _ => Some(BTreeSet::new()),
            }
        };
        let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            endpoint_group("eni-1", &ids(&["sg-b"]), tags, "prod"),
            Ok("sg-b".into())
        );
        assert_eq!(
            endpoint_group("eni-1", &ids(&["sg-b", "sg-a"]), tags, "prod"),
            Ok("sg-a".into())
        );
        assert_eq!(
            endpoint_group("eni-1", &ids(&["sg-a", "sg-c"]), tags, "prod"),
            Err("expected exactly one securityGroup tagged with kubernetes.io/cluster/prod for eni eni-1, got: [sg-a sg-c] (clusterName: prod)".into())
        );
        assert_eq!(
            endpoint_group("eni-2", &ids(&["sg-b", "sg-d"]), tags, "prod"),
            Err("expected exactly one securityGroup tagged with kubernetes.io/cluster/prod for eni eni-2, got: [] (clusterName: prod)".into())
        );
    }
}
