//! Resolve: the facts about a stack's surroundings that the planner needs and cannot read from
//! the stack itself — the cluster's VPC, the subnets of each load balancer, and the IDs of the
//! security groups an Ingress names.
//!
//! Subnets come from, in order: the stack's explicit list (subnet IDs or Name tags), its subnet
//! tag filters (IngressClassParams), or auto-discovery by scheme (role tags), which is cached
//! per scheme in a [`SubnetCache`] so one pass asks EC2 once per scheme however many stacks
//! share it.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use aws_lb_operator_core::discovery::{
    select_subnets, SubnetCandidate, SubnetRole, SubnetSelection, CLUSTER_SUBNET_TAG_PREFIX,
    ROLE_ELB_TAG, ROLE_INTERNAL_ELB_TAG,
};
use aws_lb_operator_core::model::{LoadBalancerSpec, LoadBalancerType, Scheme, Stack};
use aws_lb_operator_core::planner::StackFacts;
use tracing::Instrument;

use super::ec2::{self, filter};
use super::{AwsClients, AwsError};

/// Annotation naming an Ingress's subnets.
pub const ALB_SUBNETS_ANNOTATION: &str = "alb.ingress.kubernetes.io/subnets";
/// Annotation naming a Service's subnets.
pub const NLB_SUBNETS_ANNOTATION: &str = "service.beta.kubernetes.io/aws-load-balancer-subnets";

/// Why a fact could not be resolved. Every message names what was looked for, where, and what
/// to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// No subnet in the region carries a load-balancer role tag.
    #[error(
        "cannot tell the VPC of cluster {cluster}: no subnet in the region is tagged \
         {ROLE_ELB_TAG} or {ROLE_INTERNAL_ELB_TAG}; pass --vpc-id"
    )]
    NoVpc {
        /// Cluster name.
        cluster: String,
    },
    /// Role-tagged subnets are spread over several VPCs.
    #[error(
        "cannot tell the VPC of cluster {cluster}: subnets tagged for load balancers are in \
         several VPCs ({}); pass --vpc-id to choose one",
        vpcs.join(", ")
    )]
    SeveralVpcs {
        /// Cluster name.
        cluster: String,
        /// The VPCs, sorted.
        vpcs: Vec<String>,
    },
    /// Subnets named by ID or Name tag that do not exist in the VPC.
    #[error(
        "subnets not found in {vpc_id}: {} (give subnet IDs or Name tag values of subnets in \
         the cluster's VPC)",
        missing.join(", ")
    )]
    SubnetsNotFound {
        /// VPC searched.
        vpc_id: String,
        /// Values not found, in the order given.
        missing: Vec<String>,
    },
    /// Two of the given subnets share an availability zone.
    #[error(
        "subnets {} are all in availability zone {zone}; a load balancer takes one subnet per \
         availability zone",
        subnets.join(", ")
    )]
    SameZone {
        /// The zone.
        zone: String,
        /// Subnets in it.
        subnets: Vec<String>,
    },
    /// Too few subnets (or zones) for the load balancer type.
    #[error("{}", too_few_message(.0))]
    TooFewSubnets(Box<TooFewSubnets>),
    /// Security groups named by ID or Name tag that do not exist in the VPC.
    #[error(
        "security groups not found in {vpc_id}: {} (give security group IDs or Name tag values \
         of groups in the cluster's VPC)",
        missing.join(", ")
    )]
    SecurityGroupsNotFound {
        /// VPC searched.
        vpc_id: String,
        /// Values not found, in the order given.
        missing: Vec<String>,
    },
}

/// Details of [`ResolveError::TooFewSubnets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooFewSubnets {
    /// Where the subnets came from: `for internet-facing load balancers`, ...
    pub source: String,
    /// VPC searched.
    pub vpc_id: String,
    /// Subnets found, as `id (zone)`.
    pub found: Vec<String>,
    /// Candidates left out, as `id (reason)`.
    pub skipped: Vec<String>,
    /// What the load balancer needs.
    pub needs: String,
    /// What to do about it.
    pub hint: String,
}

fn too_few_message(t: &TooFewSubnets) -> String {
    let count = match t.found.len() {
        0 => "no subnets".to_owned(),
        1 => "1 subnet".to_owned(),
        n => format!("{n} subnets"),
    };
    let mut msg = format!("found {count} {} in {}", t.source, t.vpc_id);
    if !t.found.is_empty() {
        msg.push_str(": ");
        msg.push_str(&t.found.join(", "));
    }
    if !t.skipped.is_empty() {
        msg.push_str(" (skipped: ");
        msg.push_str(&t.skipped.join(", "));
        msg.push(')');
    }
    msg.push_str("; ");
    msg.push_str(&t.needs);
    if !t.hint.is_empty() {
        msg.push_str(" (");
        msg.push_str(&t.hint);
        msg.push(')');
    }
    msg
}

impl fmt::Display for TooFewSubnets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&too_few_message(self))
    }
}

/// Subnet discovery results of one pass, per VPC and scheme.
#[derive(Debug, Default)]
pub struct SubnetCache {
    discovered: BTreeMap<(String, SubnetRole), Result<SubnetSelection, AwsError>>,
}

impl SubnetCache {
    /// An empty cache (one per planning pass).
    pub fn new() -> Self {
        Self::default()
    }

    async fn discover(
        &mut self,
        clients: &AwsClients,
        cluster: &str,
        vpc_id: &str,
        role: SubnetRole,
    ) -> Result<SubnetSelection, AwsError> {
        let key = (vpc_id.to_owned(), role);
        if let Some(hit) = self.discovered.get(&key) {
            return hit.clone();
        }
        let got = ec2::discover_subnets(&clients.ec2, cluster, role, Some(vpc_id)).await;
        self.discovered.insert(key, got.clone());
        got
    }
}

/// The VPC of the cluster: `explicit` when given; otherwise the VPC of the subnets carrying a
/// load-balancer role tag (preferring subnets tagged `kubernetes.io/cluster/<cluster>`, and
/// leaving out subnets tagged only for other clusters).
pub async fn resolve_vpc(
    clients: &AwsClients,
    cluster: &str,
    explicit: Option<&str>,
) -> Result<String, ResolveError> {
    if let Some(vpc) = explicit {
        return Ok(vpc.to_owned());
    }
    // One call per role tag: moto (LocalStack) does not OR the values of one `tag-key` filter.
    let mut subnets = Vec::new();
    for role in [SubnetRole::InternetFacing, SubnetRole::Internal] {
        subnets.extend(
            ec2::list_subnet_candidates(&clients.ec2, role, None)
                .instrument(tracing::debug_span!("resolve_vpc", cluster))
                .await?,
        );
    }
    vpc_of(&subnets, cluster)
}

fn vpc_of(subnets: &[SubnetCandidate], cluster: &str) -> Result<String, ResolveError> {
    let own_tag = format!("{CLUSTER_SUBNET_TAG_PREFIX}{cluster}");
    let role_tagged = |s: &&SubnetCandidate| {
        [ROLE_ELB_TAG, ROLE_INTERNAL_ELB_TAG]
            .iter()
            .any(|k| matches!(s.tags.get(*k).map(String::as_str), Some("1" | "")))
    };
    let others_only = |s: &&SubnetCandidate| {
        !s.tags.contains_key(&own_tag)
            && s.tags
                .keys()
                .any(|k| k.starts_with(CLUSTER_SUBNET_TAG_PREFIX))
    };
    let eligible: Vec<&SubnetCandidate> = subnets
        .iter()
        .filter(role_tagged)
        .filter(|s| !others_only(s))
        .collect();
    let ours: Vec<&SubnetCandidate> = eligible
        .iter()
        .copied()
        .filter(|s| s.tags.contains_key(&own_tag))
        .collect();
    let pool = if ours.is_empty() { eligible } else { ours };
    let vpcs: BTreeSet<&str> = pool.iter().map(|s| s.vpc_id.as_str()).collect();
    let mut vpcs = vpcs.into_iter();
    match (vpcs.next(), vpcs.next()) {
        (None, _) => Err(ResolveError::NoVpc {
            cluster: cluster.to_owned(),
        }),
        (Some(one), None) => Ok(one.to_owned()),
        (Some(a), Some(b)) => Err(ResolveError::SeveralVpcs {
            cluster: cluster.to_owned(),
            vpcs: [a, b].into_iter().chain(vpcs).map(str::to_owned).collect(),
        }),
    }
}

/// Resolves the subnets and security groups of `stack` in `vpc_id`. Errors become the
/// messages the planner reports for the stack.
pub async fn stack_facts(
    clients: &AwsClients,
    cache: &mut SubnetCache,
    cluster: &str,
    vpc_id: &str,
    stack: &Stack,
) -> StackFacts {
    let span = tracing::debug_span!("stack_facts", stack = %stack.id);
    async {
        let lb = &stack.load_balancer;
        let (subnets, subnets_explicit) =
            resolve_subnets(clients, cache, cluster, vpc_id, lb).await;
        let security_groups = resolve_security_groups(clients, vpc_id, &lb.security_groups).await;
        StackFacts {
            subnets: subnets.map_err(|e| e.to_string()),
            subnets_explicit,
            security_groups: security_groups.map_err(|e| e.to_string()),
            certificates: Ok(()),
        }
    }
    .instrument(span)
    .await
}

fn role_of(scheme: Scheme) -> SubnetRole {
    match scheme {
        Scheme::Internal => SubnetRole::Internal,
        Scheme::InternetFacing => SubnetRole::InternetFacing,
    }
}

/// Subnet IDs for the load balancer, sorted, and whether they come from the user.
pub async fn resolve_subnets(
    clients: &AwsClients,
    cache: &mut SubnetCache,
    cluster: &str,
    vpc_id: &str,
    lb: &LoadBalancerSpec,
) -> (Result<Vec<String>, ResolveError>, bool) {
    let role = role_of(lb.scheme);
    if !lb.subnets.is_empty() {
        let got = async {
            let found = lookup_subnets(clients, vpc_id, &lb.subnets).await?;
            check_subnets(&found, lb.lb_type, vpc_id, || Context {
                source: "given by the load balancer's subnets setting".to_owned(),
                skipped: Vec::new(),
                hint: "list subnets in more availability zones".to_owned(),
            })
        };
        return (got.await, true);
    }
    if !lb.subnet_tags.is_empty() {
        let got = async {
            let mut filters = vec![filter("vpc-id", [vpc_id])];
            for (key, values) in &lb.subnet_tags {
                filters.push(if values.is_empty() {
                    filter("tag-key", [key.as_str()])
                } else {
                    filter(&format!("tag:{key}"), values.iter().map(String::as_str))
                });
            }
            let mut candidates = ec2::describe_subnets(&clients.ec2, filters).await?;
            // The tag filters take the place of the role tag; the other discovery rules
            // (other clusters' subnets, free addresses, one per zone) still apply.
            for c in &mut candidates {
                c.tags.insert(role.tag_key().to_owned(), "1".to_owned());
            }
            let selection = select_subnets(&candidates, cluster, role);
            let tags: Vec<String> = lb
                .subnet_tags
                .iter()
                .map(|(k, v)| format!("{k}={}", v.join("|")))
                .collect();
            check_subnets(&selection.selected, lb.lb_type, vpc_id, || Context {
                source: format!("matching the subnet tags {}", tags.join(", ")),
                skipped: skipped(&selection),
                hint: "tag subnets in more availability zones".to_owned(),
            })
        };
        return (got.await, true);
    }
    let got = async {
        let selection = cache.discover(clients, cluster, vpc_id, role).await?;
        let annotation = match lb.lb_type {
            LoadBalancerType::Application => ALB_SUBNETS_ANNOTATION,
            LoadBalancerType::Network => NLB_SUBNETS_ANNOTATION,
        };
        check_subnets(&selection.selected, lb.lb_type, vpc_id, || Context {
            source: format!("for {} load balancers", role.scheme()),
            skipped: skipped(&selection),
            hint: format!("tag subnets with {}=1 or set {annotation}", role.tag_key()),
        })
    };
    (got.await, false)
}

fn skipped(selection: &SubnetSelection) -> Vec<String> {
    selection
        .rejected
        .iter()
        .map(|r| format!("{} ({})", r.id, r.reason))
        .collect()
}

struct Context {
    source: String,
    skipped: Vec<String>,
    hint: String,
}

/// One subnet per zone, enough zones for the type; the IDs sorted.
fn check_subnets(
    found: &[SubnetCandidate],
    lb_type: LoadBalancerType,
    vpc_id: &str,
    context: impl FnOnce() -> Context,
) -> Result<Vec<String>, ResolveError> {
    let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in found {
        by_zone
            .entry(s.availability_zone.as_str())
            .or_default()
            .push(s.id.as_str());
    }
    if let Some((zone, ids)) = by_zone.iter().find(|(_, ids)| ids.len() > 1) {
        return Err(ResolveError::SameZone {
            zone: (*zone).to_owned(),
            subnets: ids.iter().map(|s| (*s).to_owned()).collect(),
        });
    }
    let (min, needs) = match lb_type {
        LoadBalancerType::Application => (
            2,
            "an Application Load Balancer needs subnets in at least two availability zones",
        ),
        LoadBalancerType::Network => (1, "a Network Load Balancer needs at least one subnet"),
    };
    if by_zone.len() < min {
        let c = context();
        return Err(ResolveError::TooFewSubnets(Box::new(TooFewSubnets {
            source: c.source,
            vpc_id: vpc_id.to_owned(),
            found: found
                .iter()
                .map(|s| format!("{} ({})", s.id, s.availability_zone))
                .collect(),
            skipped: c.skipped,
            needs: needs.to_owned(),
            hint: c.hint,
        })));
    }
    let mut ids: Vec<String> = found.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    Ok(ids)
}

/// Subnets named by ID (`subnet-...`) or Name tag, in `vpc_id`. At most two DescribeSubnets
/// calls (one for IDs, one for names).
async fn lookup_subnets(
    clients: &AwsClients,
    vpc_id: &str,
    values: &[String],
) -> Result<Vec<SubnetCandidate>, ResolveError> {
    let (ids, names): (Vec<&String>, Vec<&String>) =
        values.iter().partition(|v| v.starts_with("subnet-"));
    let mut found: Vec<SubnetCandidate> = Vec::new();
    if !ids.is_empty() {
        let filters = vec![
            filter("vpc-id", [vpc_id]),
            filter("subnet-id", ids.iter().map(|s| s.as_str())),
        ];
        found.extend(ec2::describe_subnets(&clients.ec2, filters).await?);
    }
    if !names.is_empty() {
        let filters = vec![
            filter("vpc-id", [vpc_id]),
            filter("tag:Name", names.iter().map(|s| s.as_str())),
        ];
        found.extend(ec2::describe_subnets(&clients.ec2, filters).await?);
    }
    let missing: Vec<String> = values
        .iter()
        .filter(|v| {
            !found
                .iter()
                .any(|s| &s.id == *v || s.tags.get("Name").is_some_and(|n| n == *v))
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ResolveError::SubnetsNotFound {
            vpc_id: vpc_id.to_owned(),
            missing,
        });
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found.dedup_by(|a, b| a.id == b.id);
    Ok(found)
}

/// IDs of the security groups named by ID (`sg-...`) or Name tag, in `vpc_id`, sorted; empty
/// when none are named. One DescribeSecurityGroups call.
pub async fn resolve_security_groups(
    clients: &AwsClients,
    vpc_id: &str,
    values: &[String],
) -> Result<Vec<String>, ResolveError> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, names): (Vec<&String>, Vec<&String>) =
        values.iter().partition(|v| v.starts_with("sg-"));
    let mut filters = vec![filter("vpc-id", [vpc_id])];
    if names.is_empty() {
        filters.push(filter("group-id", ids.iter().map(|s| s.as_str())));
    } else if ids.is_empty() {
        filters.push(filter("tag:Name", names.iter().map(|s| s.as_str())));
    }
    let groups = ec2::describe_security_groups(&clients.ec2, filters)
        .instrument(tracing::debug_span!("resolve_security_groups", vpc_id))
        .await?;
    let mut out = BTreeSet::new();
    let mut missing = Vec::new();
    for v in values {
        let matching: Vec<&str> = groups
            .iter()
            .filter(|g| &g.id == v || g.tags.get("Name").is_some_and(|n| n == v))
            .map(|g| g.id.as_str())
            .collect();
        if matching.is_empty() {
            missing.push(v.clone());
        }
        out.extend(matching.into_iter().map(str::to_owned));
    }
    if !missing.is_empty() {
        return Err(ResolveError::SecurityGroupsNotFound {
            vpc_id: vpc_id.to_owned(),
            missing,
        });
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, vpc: &str, az: &str, tags: &[(&str, &str)]) -> SubnetCandidate {
        SubnetCandidate {
            id: id.into(),
            availability_zone: az.into(),
            vpc_id: vpc.into(),
            available_ips: 100,
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn vpc_prefers_own_cluster_subnets_and_names_ambiguity() {
        let elb = (ROLE_ELB_TAG, "1");
        let subnets = [
            subnet("subnet-1", "vpc-a", "z1", &[elb]),
            subnet(
                "subnet-2",
                "vpc-b",
                "z1",
                &[elb, ("kubernetes.io/cluster/demo", "shared")],
            ),
            subnet(
                "subnet-3",
                "vpc-c",
                "z1",
                &[elb, ("kubernetes.io/cluster/other", "owned")],
            ),
            subnet("subnet-4", "vpc-d", "z1", &[(ROLE_ELB_TAG, "0")]),
            subnet("subnet-5", "vpc-e", "z1", &[(ROLE_INTERNAL_ELB_TAG, "")]),
        ];
        assert_eq!(vpc_of(&subnets, "demo").unwrap(), "vpc-b");
        assert_eq!(
            vpc_of(&subnets, "third").unwrap_err().to_string(),
            "cannot tell the VPC of cluster third: subnets tagged for load balancers are in \
             several VPCs (vpc-a, vpc-e); pass --vpc-id to choose one"
        );
        assert_eq!(vpc_of(&subnets[..4], "third").unwrap(), "vpc-a");
        assert_eq!(
            vpc_of(&subnets[3..4], "demo").unwrap_err().to_string(),
            "cannot tell the VPC of cluster demo: no subnet in the region is tagged \
             kubernetes.io/role/elb or kubernetes.io/role/internal-elb; pass --vpc-id"
        );
    }

    #[test]
    fn subnet_checks_name_zones_and_counts() {
        let ctx = || Context {
            source: "for internet-facing load balancers".into(),
            skipped: vec!["subnet-9 (no kubernetes.io/role/elb tag)".into()],
            hint: "tag subnets".into(),
        };
        let one = [subnet("subnet-1", "vpc-a", "eu-west-1a", &[])];
        assert_eq!(
            check_subnets(&one, LoadBalancerType::Application, "vpc-a", ctx)
                .unwrap_err()
                .to_string(),
            "found 1 subnet for internet-facing load balancers in vpc-a: subnet-1 (eu-west-1a) \
             (skipped: subnet-9 (no kubernetes.io/role/elb tag)); an Application Load Balancer \
             needs subnets in at least two availability zones (tag subnets)"
        );
        assert_eq!(
            check_subnets(&one, LoadBalancerType::Network, "vpc-a", ctx).unwrap(),
            ["subnet-1"]
        );
        assert_eq!(
            check_subnets(&[], LoadBalancerType::Network, "vpc-a", ctx)
                .unwrap_err()
                .to_string(),
            "found no subnets for internet-facing load balancers in vpc-a (skipped: subnet-9 \
             (no kubernetes.io/role/elb tag)); a Network Load Balancer needs at least one \
             subnet (tag subnets)"
        );
        let same = [
            subnet("subnet-2", "vpc-a", "eu-west-1a", &[]),
            subnet("subnet-1", "vpc-a", "eu-west-1a", &[]),
            subnet("subnet-3", "vpc-a", "eu-west-1b", &[]),
        ];
        assert_eq!(
            check_subnets(&same, LoadBalancerType::Application, "vpc-a", ctx)
                .unwrap_err()
                .to_string(),
            "subnets subnet-2, subnet-1 are all in availability zone eu-west-1a; a load \
             balancer takes one subnet per availability zone"
        );
        assert_eq!(
            check_subnets(&same[1..], LoadBalancerType::Application, "vpc-a", ctx).unwrap(),
            ["subnet-1", "subnet-3"]
        );
    }
}
