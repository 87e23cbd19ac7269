//! Pure rules for discovering what already exists in AWS: which resources a cluster owns (by
//! tags), and which subnets a load balancer of a given scheme should use.
//!
//! The AWS layer fetches candidates; these functions decide, so the rules are unit-tested
//! without AWS.
use std::collections::{BTreeMap, BTreeSet};

/// Tag naming the cluster that owns a load balancer, listener, rule, target group or
/// security group (the AWS Load Balancer Controller's key, so its resources can be adopted).
pub use crate::model::tags::CLUSTER as CLUSTER_TAG;
/// Subnet role tag for internet-facing load balancers.
pub const ROLE_ELB_TAG: &str = "kubernetes.io/role/elb";
/// Subnet role tag for internal load balancers.
pub const ROLE_INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";
/// Prefix of the per-cluster subnet tag `kubernetes.io/cluster/<name>`.
pub const CLUSTER_SUBNET_TAG_PREFIX: &str = "kubernetes.io/cluster/";
/// Subnets with fewer free addresses cannot host a load balancer node.
pub const MIN_FREE_IPS: i64 = 8;

/// Tags of one AWS resource.
pub type Tags = BTreeMap<String, String>;

/// True when `tags` say the resource belongs to `cluster`.
pub fn is_owned_by(tags: &Tags, cluster: &str) -> bool {
    tags.get(CLUSTER_TAG).is_some_and(|v| v == cluster)
}

/// Load balancer scheme, deciding which subnet role tag applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubnetRole {
    /// `internet-facing`: subnets tagged `kubernetes.io/role/elb`.
    InternetFacing,
    /// `internal`: subnets tagged `kubernetes.io/role/internal-elb`.
    Internal,
}

impl SubnetRole {
    /// The role for a scheme as written in annotations and the ELBv2 API.
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "internet-facing" => Some(SubnetRole::InternetFacing),
            "internal" => Some(SubnetRole::Internal),
            _ => None,
        }
    }

    /// The scheme name.
    pub fn scheme(self) -> &'static str {
        match self {
            SubnetRole::InternetFacing => "internet-facing",
            SubnetRole::Internal => "internal",
        }
    }

    /// The subnet tag key marking subnets for this role.
    pub fn tag_key(self) -> &'static str {
        match self {
            SubnetRole::InternetFacing => ROLE_ELB_TAG,
            SubnetRole::Internal => ROLE_INTERNAL_ELB_TAG,
        }
    }
}

/// A subnet as the AWS layer found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetCandidate {
    /// `subnet-...`.
    pub id: String,
    /// Availability zone name.
    pub availability_zone: String,
    /// VPC the subnet is in.
    pub vpc_id: String,
    /// Free IPv4 addresses.
    pub available_ips: i64,
    /// Tags of the subnet.
    pub tags: Tags,
}

/// Why a candidate was not chosen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedSubnet {
    /// `subnet-...`.
    pub id: String,
    /// Human-readable reason.
    pub reason: String,
}

/// Result of subnet selection: at most one subnet per availability zone, sorted by zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetSelection {
    /// Chosen subnets, one per zone, sorted by zone name.
    pub selected: Vec<SubnetCandidate>,
    /// Candidates not chosen, with the reason.
    pub rejected: Vec<RejectedSubnet>,
}

impl SubnetSelection {
    /// IDs of the chosen subnets.
    pub fn ids(&self) -> Vec<String> {
        self.selected.iter().map(|s| s.id.clone()).collect()
    }
}

/// Chooses subnets for a load balancer of `role` in `cluster`, as the AWS Load Balancer
/// Controller does: the role tag must be present with value `1` or empty; subnets tagged for
/// another cluster (`kubernetes.io/cluster/<other>`) without this cluster's tag are excluded;
/// subnets with fewer than 8 free addresses are excluded; then one subnet per zone, preferring
/// one tagged for this cluster, then the lowest subnet ID.
pub fn select_subnets(
    candidates: &[SubnetCandidate],
    cluster: &str,
    role: SubnetRole,
) -> SubnetSelection {
    let own_tag = format!("{CLUSTER_SUBNET_TAG_PREFIX}{cluster}");
    let mut eligible: BTreeMap<&str, Vec<&SubnetCandidate>> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut reject = |s: &SubnetCandidate, reason: String| {
        rejected.push(RejectedSubnet {
            id: s.id.clone(),
            reason,
        });
    };
    for s in candidates {
        match s.tags.get(role.tag_key()).map(String::as_str) {
            Some("1" | "") => {}
            Some(other) => {
                reject(
                    s,
                    format!(
                        "tag {} has value {other:?}, expected \"1\" or empty",
                        role.tag_key()
                    ),
                );
                continue;
            }
            None => {
                reject(s, format!("no {} tag", role.tag_key()));
                continue;
            }
        }
        let other_clusters: BTreeSet<&str> = s
            .tags
            .keys()
            .filter_map(|k| k.strip_prefix(CLUSTER_SUBNET_TAG_PREFIX))
            .filter(|c| *c != cluster)
            .collect();
        if !other_clusters.is_empty() && !s.tags.contains_key(&own_tag) {
            let names: Vec<&str> = other_clusters.into_iter().collect();
            reject(
                s,
                format!("tagged for other cluster(s) {}", names.join(", ")),
            );
            continue;
        }
        if s.available_ips < MIN_FREE_IPS {
            reject(
                s,
                format!(
                    "only {} free addresses, need at least {MIN_FREE_IPS}",
                    s.available_ips
                ),
            );
            continue;
        }
        eligible
            .entry(s.availability_zone.as_str())
            .or_default()
            .push(s);
    }
    let mut selected = Vec::new();
    for (_, mut in_zone) in eligible {
        in_zone.sort_by(|a, b| {
            let a_own = a.tags.contains_key(&own_tag);
            let b_own = b.tags.contains_key(&own_tag);
            b_own.cmp(&a_own).then_with(|| a.id.cmp(&b.id))
        });
        let mut rest = in_zone.into_iter();
        if let Some(best) = rest.next() {
            for r in rest {
                reject(
                    r,
                    format!(
                        "another subnet ({}) chosen in zone {}",
                        best.id, best.availability_zone
                    ),
                );
            }
            selected.push(best.clone());
        }
    }
    rejected.sort_by(|a, b| a.id.cmp(&b.id));
    SubnetSelection { selected, rejected }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, az: &str, ips: i64, tags: &[(&str, &str)]) -> SubnetCandidate {
        SubnetCandidate {
            id: id.into(),
            availability_zone: az.into(),
            vpc_id: "vpc-1".into(),
            available_ips: ips,
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    const ELB: (&str, &str) = (ROLE_ELB_TAG, "1");
    const INTERNAL: (&str, &str) = (ROLE_INTERNAL_ELB_TAG, "");

    struct Case {
        name: &'static str,
        role: SubnetRole,
        candidates: Vec<SubnetCandidate>,
        want: &'static [&'static str],
        rejected: &'static [(&'static str, &'static str)],
    }

    #[test]
    fn selection_rules() {
        let cases = vec![
            Case {
                name: "one per zone, lowest id wins",
                role: SubnetRole::InternetFacing,
                candidates: vec![
                    subnet("subnet-b", "us-east-1a", 100, &[ELB]),
                    subnet("subnet-a", "us-east-1a", 100, &[ELB]),
                    subnet("subnet-c", "us-east-1b", 100, &[ELB]),
                ],
                want: &["subnet-a", "subnet-c"],
                rejected: &[(
                    "subnet-b",
                    "another subnet (subnet-a) chosen in zone us-east-1a",
                )],
            },
            Case {
                name: "own cluster tag preferred over lower id",
                role: SubnetRole::InternetFacing,
                candidates: vec![
                    subnet("subnet-a", "us-east-1a", 100, &[ELB]),
                    subnet(
                        "subnet-z",
                        "us-east-1a",
                        100,
                        &[ELB, ("kubernetes.io/cluster/demo", "shared")],
                    ),
                ],
                want: &["subnet-z"],
                rejected: &[(
                    "subnet-a",
                    "another subnet (subnet-z) chosen in zone us-east-1a",
                )],
            },
            Case {
                name: "other cluster's subnet excluded",
                role: SubnetRole::InternetFacing,
                candidates: vec![
                    subnet(
                        "subnet-a",
                        "us-east-1a",
                        100,
                        &[ELB, ("kubernetes.io/cluster/other", "owned")],
                    ),
                    subnet("subnet-b", "us-east-1b", 100, &[ELB]),
                ],
                want: &["subnet-b"],
                rejected: &[("subnet-a", "tagged for other cluster(s) other")],
            },
            Case {
                name: "shared between this and another cluster is kept",
                role: SubnetRole::InternetFacing,
                candidates: vec![subnet(
                    "subnet-a",
                    "us-east-1a",
                    100,
                    &[
                        ELB,
                        ("kubernetes.io/cluster/other", "shared"),
                        ("kubernetes.io/cluster/demo", "shared"),
                    ],
                )],
                want: &["subnet-a"],
                rejected: &[],
            },
            Case {
                name: "role tag decides scheme",
                role: SubnetRole::Internal,
                candidates: vec![
                    subnet("subnet-pub", "us-east-1a", 100, &[ELB]),
                    subnet("subnet-priv", "us-east-1a", 100, &[INTERNAL]),
                ],
                want: &["subnet-priv"],
                rejected: &[("subnet-pub", "no kubernetes.io/role/internal-elb tag")],
            },
            Case {
                name: "role tag value must be 1 or empty",
                role: SubnetRole::InternetFacing,
                candidates: vec![subnet(
                    "subnet-a",
                    "us-east-1a",
                    100,
                    &[(ROLE_ELB_TAG, "0")],
                )],
                want: &[],
                rejected: &[(
                    "subnet-a",
                    "tag kubernetes.io/role/elb has value \"0\", expected \"1\" or empty",
                )],
            },
            Case {
                name: "too few free addresses",
                role: SubnetRole::InternetFacing,
                candidates: vec![
                    subnet("subnet-a", "us-east-1a", 7, &[ELB]),
                    subnet("subnet-b", "us-east-1a", 8, &[ELB]),
                ],
                want: &["subnet-b"],
                rejected: &[("subnet-a", "only 7 free addresses, need at least 8")],
            },
            Case {
                name: "sorted by zone",
                role: SubnetRole::InternetFacing,
                candidates: vec![
                    subnet("subnet-a", "us-east-1c", 100, &[ELB]),
                    subnet("subnet-b", "us-east-1a", 100, &[ELB]),
                    subnet("subnet-c", "us-east-1b", 100, &[ELB]),
                ],
                want: &["subnet-b", "subnet-c", "subnet-a"],
                rejected: &[],
            },
        ];
        for c in cases {
            let got = select_subnets(&c.candidates, "demo", c.role);
            assert_eq!(got.ids(), c.want, "{}: selected", c.name);
            let rejected: Vec<(&str, &str)> = got
                .rejected
                .iter()
                .map(|r| (r.id.as_str(), r.reason.as_str()))
                .collect();
            assert_eq!(rejected, c.rejected, "{}: rejected", c.name);
        }
    }

    #[test]
    fn ownership_by_cluster_tag() {
        let mut tags = Tags::new();
        assert!(!is_owned_by(&tags, "demo"), "untagged");
        tags.insert(CLUSTER_TAG.into(), "other".into());
        assert!(!is_owned_by(&tags, "demo"), "other cluster");
        tags.insert(CLUSTER_TAG.into(), "demo".into());
        assert!(is_owned_by(&tags, "demo"), "ours");
    }

    #[test]
    fn scheme_roles() {
        assert_eq!(
            SubnetRole::from_scheme("internal"),
            Some(SubnetRole::Internal)
        );
        assert_eq!(
            SubnetRole::from_scheme("internet-facing").map(SubnetRole::tag_key),
            Some(ROLE_ELB_TAG)
        );
        assert_eq!(SubnetRole::from_scheme("public"), None);
    }
}
