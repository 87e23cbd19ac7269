//! Observe: one read pass over what a cluster owns in one VPC, in the core's observed types
//! ([`ObservedStack`] and friends), for the pure planner.
//!
//! Cost of a pass, by design linear in what is planned:
//! - one paginated DescribeLoadBalancers and one DescribeTargetGroups (400 per page) for the
//!   whole region
//!   (names are region-wide, so load balancers and target groups of other VPCs are recorded as
//!   foreign names), with DescribeTags (20 ARNs per call) only for those in the VPC;
//! - one paginated DescribeSecurityGroups filtered by the VPC;
//! - for every load balancer of a planned stack: DescribeLoadBalancerAttributes,
//!   DescribeListeners, then per listener DescribeRules (and DescribeListenerCertificates for
//!   secure listeners); the tags of every listener and rule of the pass in batched DescribeTags;
//! - for every target group of a planned stack: DescribeTargetGroupAttributes and
//!   DescribeTargetHealth.
//!
//! Stacks the pass does not plan are reported shallowly (what the listings already returned).
//!
//! The controller keeps the listing between passes ([`RegionCache`]: listed once per restart
//! and resync) and, for a stack whose load balancer carries the hash of its desired state,
//! reads only targets ([`ObserveScope::trusted`]).
//!
//! Values are reported as AWS returns them; the planner canonicalises. Two things the model
//! cannot express are still made visible, so they never compare equal to a desired value and
//! the planner rewrites them: an action of another type (`authenticate-oidc`,
//! `authenticate-cognito`, `jwt-validation`) is reported as a fixed response with status code
//! `unsupported <type>`, and a condition with an unknown field as an `http-header` condition
//! named `unsupported <field>`.
use std::collections::{BTreeMap, BTreeSet};

use aws_lb_operator_core::discovery::{is_owned_by, Tags, CLUSTER_SUBNET_TAG_PREFIX};
use aws_lb_operator_core::model::StackId;
use aws_lb_operator_core::model::{
    ActionSpec, AuthenticateCognitoSpec, AuthenticateCommon, AuthenticateOidcSpec, ConditionSpec,
    FixedResponseSpec, HealthCheckSpec, MatcherSpec, Protocol, QueryStringKeyValue, RedirectSpec,
    RewriteSpec, StickinessSpec, TargetGroupRef, TargetSpec, TransformSpec,
};
use aws_lb_operator_core::planner::cluster::{self, ClusterNow};
use aws_lb_operator_core::planner::trust;
use aws_lb_operator_core::planner::{
    ForeignNames, ObservedAddresses, ObservedListener, ObservedLoadBalancer, ObservedRule,
    ObservedSecurityGroup, ObservedStack, ObservedTargetGroup, BACKEND_SG_RESOURCE,
    CLUSTER_RESOURCE_TAG,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Listener, LoadBalancer, Rule, RuleCondition, TargetGroup,
    TargetHealthStateEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::Instrument;

use super::error::Result;
use super::{addons, ec2, elbv2, AwsClients, AwsError};

/// Page size of the region's listings: the most DescribeLoadBalancers and
/// DescribeTargetGroups return per call (AWS's default for DescribeLoadBalancers, not for
/// every implementation of the API).
const LISTING_PAGE_SIZE: i32 = 400;

/// How many load balancers are read in parallel (listeners, rules, attributes).
pub const DETAIL_CONCURRENCY: usize = 4;

/// How many target groups are read in parallel (DescribeTargetHealth, and attributes): most
/// of a restart's reads, one call each, paced by the client-side rate limits (ELBv2
/// `Describe*`, 50/s by default), not by waiting for each answer in turn.
pub const TARGET_READ_CONCURRENCY: usize = 16;

/// Everything one pass observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    /// Full detail for every requested stack (an empty [`ObservedStack`] when it owns nothing)
    /// and, when `all_owned`, for every stack the cluster owns.
    pub stacks: BTreeMap<String, ObservedStack>,
    /// Other owned stacks, shallow: load balancers without listeners or attributes, target
    /// groups without targets or attributes (what the listings return for free).
    pub unplanned: BTreeMap<String, ObservedStack>,
    /// The cluster's shared backend security group, when it exists.
    pub backend_sg: Option<ObservedSecurityGroup>,
    /// Security groups tagged `kubernetes.io/cluster/<cluster>` that the cluster does not own
    /// (the targets' groups).
    pub target_security_groups: Vec<ObservedSecurityGroup>,
    /// Names held by resources the cluster does not own. Owned resources without a stack tag
    /// are listed here too: no stack may create over their names.
    pub foreign: ForeignNames,
}

/// Whose attributes to read. Attributes are compared only on the keys a stack sets, so a pass
/// that knows what is desired skips DescribeLoadBalancerAttributes and
/// DescribeTargetGroupAttributes for resources that set none (one call per resource saved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AttributeScope {
    /// Every detailed load balancer and target group (listener attributes are read only
    /// with `Only`: no load balancer needs them unless its stack sets some).
    #[default]
    All,
    /// Only these.
    Only {
        /// Stack ids whose load balancer attributes are read.
        load_balancers: BTreeSet<String>,
        /// `(stack id, resource id)` of target groups whose attributes are read.
        target_groups: BTreeSet<(String, String)>,
        /// `(stack id, port)` of listeners whose attributes are read
        /// (DescribeListenerAttributes).
        listeners: BTreeSet<(String, u16)>,
        /// Stack ids whose load balancer's web ACL is read (GetWebACLForResource).
        web_acls: BTreeSet<String>,
        /// Stack ids whose load balancer's Shield protection is read (DescribeProtection).
        protections: BTreeSet<String>,
    },
}

impl AttributeScope {
    fn load_balancer(&self, stack: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only { load_balancers, .. } => load_balancers.contains(stack),
        }
    }

    /// Ports of the listeners of `stack` whose attributes are read.
    fn listener_ports(&self, stack: &str) -> BTreeSet<u16> {
        match self {
            Self::All => BTreeSet::new(),
            Self::Only { listeners, .. } => listeners
                .iter()
                .filter(|(s, _)| s == stack)
                .map(|(_, port)| *port)
                .collect(),
        }
    }

    /// Whether the web ACL of `stack`'s load balancer is read (only with `Only`).
    fn web_acl(&self, stack: &str) -> bool {
        matches!(self, Self::Only { web_acls, .. } if web_acls.contains(stack))
    }

    /// Whether the Shield protection of `stack`'s load balancer is read (only with `Only`).
    fn protection(&self, stack: &str) -> bool {
        matches!(self, Self::Only { protections, .. } if protections.contains(stack))
    }

    fn target_group(&self, stack: &str, tg: &ObservedTargetGroup) -> bool {
        match self {
            Self::All => true,
            Self::Only { target_groups, .. } => tg
                .tags
                .get(StackId::parse(stack).kind.resource_tag())
                .is_some_and(|r| target_groups.contains(&(stack.to_owned(), r.clone()))),
        }
    }
}

/// Reads what `cluster` owns in `vpc_id`: full detail for the `requested` stacks (and for every
/// owned stack when `all_owned`), shallow for the others.
pub async fn observe(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: &str,
    requested: &BTreeSet<String>,
    all_owned: bool,
) -> Result<Observation> {
    observe_selective(
        clients,
        cluster,
        vpc_id,
        requested,
        all_owned,
        &AttributeScope::All,
    )
    .await
}

/// [`observe`], reading attributes only where `attributes` says.
pub async fn observe_selective(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: &str,
    requested: &BTreeSet<String>,
    all_owned: bool,
    attributes: &AttributeScope,
) -> Result<Observation> {
    let span = tracing::info_span!("observe", cluster, vpc_id, requested = requested.len());
    async {
        let listing = RegionListing::read(clients, cluster, vpc_id).await?;
        let scope = ObserveScope {
            requested,
            all_owned,
            attributes,
            trusted: &BTreeMap::new(),
        };
        observe_listed(clients, cluster, vpc_id, listing, &scope).await
    }
    .instrument(span)
    .await
}

/// What one observation covers, given a [`RegionListing`].
#[derive(Debug, Clone, Copy)]
pub struct ObserveScope<'a> {
    /// Stacks read in full (an empty [`ObservedStack`] when one owns nothing).
    pub requested: &'a BTreeSet<String>,
    /// Every owned stack read in full too.
    pub all_owned: bool,
    /// Whose attributes to read.
    pub attributes: &'a AttributeScope,
    /// Stack id → (desired load balancer name, desired-state hash) of the stacks whose
    /// listeners, rules and attributes may be trusted when their load balancer carries that
    /// hash ([`aws_lb_operator_core::planner::trust`]): only their targets are read, and
    /// they are reported with `trusted` set.
    pub trusted: &'a BTreeMap<String, (String, String)>,
}

/// The region as the listings show it, for one cluster and VPC: the owned load balancers and
/// target groups in the VPC by stack (shallow, with tags) and the names others hold.
///
/// Cost: one paginated DescribeLoadBalancers and one DescribeTargetGroups for the region,
/// DescribeTags (20 ARNs per call) for those in the VPC. The controller keeps one between
/// passes ([`RegionCache`]), with the VPC's security groups until a pass changes anything but
/// target registrations; a listing without them (the CLI's) has them read by each observation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionListing {
    lbs: BTreeMap<String, Vec<ObservedLoadBalancer>>,
    tgs: BTreeMap<String, Vec<ObservedTargetGroup>>,
    foreign_lbs: BTreeMap<String, String>,
    foreign_tgs: BTreeMap<String, String>,
    /// The VPC's security groups, when kept ([`RegionCache`]); `None`: read when observing.
    security_groups: Option<Vec<ObservedSecurityGroup>>,
}

impl RegionListing {
    /// Lists the region.
    pub async fn read(clients: &AwsClients, cluster: &str, vpc_id: &str) -> Result<Self> {
        let client = &clients.elbv2;
        let mut out = Self::default();
        out.lbs = list_owned_lbs(client, cluster, vpc_id, &mut out.foreign_lbs)
            .instrument(tracing::debug_span!("observe.load_balancers"))
            .await?;
        out.tgs = list_owned_tgs(client, cluster, vpc_id, &mut out.foreign_tgs)
            .instrument(tracing::debug_span!("observe.target_groups"))
            .await?;
        Ok(out)
    }

    /// Owned load balancers and target groups listed.
    pub fn len(&self) -> usize {
        self.lbs.values().map(Vec::len).sum::<usize>()
            + self.tgs.values().map(Vec::len).sum::<usize>()
    }

    /// True when the cluster owns nothing listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces what is listed for `stacks` with `lbs` and `tgs` (read again by ARN after a
    /// pass changed them; each goes to the stack its tags name).
    fn replace_stacks(
        &mut self,
        cluster: &str,
        stacks: &BTreeSet<String>,
        lbs: Vec<(LoadBalancer, Tags)>,
        tgs: Vec<(TargetGroup, Tags)>,
    ) {
        for s in stacks {
            self.lbs.remove(s);
            self.tgs.remove(s);
        }
        for (lb, tags) in lbs {
            if let Some(stack) = stack_of(&tags, cluster) {
                self.lbs
                    .entry(stack)
                    .or_default()
                    .push(shallow_lb(&lb, tags));
            }
        }
        for (tg, tags) in tgs {
            if let Some(stack) = stack_of(&tags, cluster) {
                self.tgs
                    .entry(stack)
                    .or_default()
                    .push(shallow_tg(&tg, tags));
            }
        }
    }
}

/// The controller's [`RegionListing`], kept between passes: listed once per restart and per
/// resync ([`RegionCache::invalidate`]), read again by ARN for the stacks a pass changed
/// ([`RegionCache::update`]), and dropped whenever a change failed (what AWS holds is then
/// not known). What another writer changes in between is seen at the next resync: see
/// docs/deploy.md, "Restarts and resyncs".
#[derive(Debug, Default)]
pub struct RegionCache {
    listing: Option<(String, String, RegionListing)>,
    /// When the kept listing was read.
    listed_at: Option<tokio::time::Instant>,
    /// How many times the region was listed (for tests and logs).
    listed: u64,
    /// Passes changing more than target registrations right now
    /// ([`Self::begin_security_group_writes`]).
    sg_writers: usize,
}

impl RegionCache {
    /// An empty cache: the next pass lists the region.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the listing: the next pass lists the region again.
    pub fn invalidate(&mut self) {
        self.listing = None;
    }

    /// Forget the listing unless it was read at or after `t` (a resync or a new term that
    /// began at `t`, while a pass was already listing, does not list twice).
    pub fn invalidate_before(&mut self, t: tokio::time::Instant) {
        if self.listed_at.is_none_or(|at| at < t) {
            self.listing = None;
        }
    }

    /// How many times the region was listed through this cache.
    pub fn listed(&self) -> u64 {
        self.listed
    }

    /// A pass starts changes other than target registrations (it may create, delete or
    /// change a security group or its rules): the kept security groups are dropped, and none
    /// are kept until every such pass ended ([`Self::end_security_group_writes`]), so a pass
    /// never plans on security groups older than its own start, as when each pass read them.
    pub fn begin_security_group_writes(&mut self) {
        self.sg_writers += 1;
        self.forget_security_groups();
    }

    /// A pass that began [`Self::begin_security_group_writes`] ended.
    pub fn end_security_group_writes(&mut self) {
        self.sg_writers = self.sg_writers.saturating_sub(1);
        self.forget_security_groups();
    }

    fn forget_security_groups(&mut self) {
        if let Some((_, _, l)) = &mut self.listing {
            l.security_groups = None;
        }
    }

    /// The VPC's security groups, read now; kept in `listing` unless a pass is changing them.
    async fn security_groups(
        clients: &AwsClients,
        vpc_id: &str,
        writers: usize,
        listing: &mut RegionListing,
    ) -> Result<RegionListing> {
        let sgs = ec2::list_security_groups(&clients.ec2, vpc_id)
            .instrument(tracing::debug_span!("observe.security_groups"))
            .await?;
        let mut out = listing.clone();
        if writers == 0 {
            listing.security_groups = Some(sgs.clone());
        }
        out.security_groups = Some(sgs);
        Ok(out)
    }

    /// The listing for `cluster` and `vpc_id`, with the VPC's security groups: the kept one
    /// (its security groups read again if they were forgotten), or a new one.
    pub async fn listing(
        &mut self,
        clients: &AwsClients,
        cluster: &str,
        vpc_id: &str,
    ) -> Result<RegionListing> {
        let writers = self.sg_writers;
        if let Some((c, v, l)) = &mut self.listing {
            if c == cluster && v == vpc_id {
                if l.security_groups.is_some() {
                    return Ok(l.clone());
                }
                return Self::security_groups(clients, vpc_id, writers, l).await;
            }
        }
        let started = tokio::time::Instant::now();
        let mut l = RegionListing::read(clients, cluster, vpc_id)
            .instrument(tracing::info_span!("region_listing", cluster, vpc_id))
            .await?;
        let out = Self::security_groups(clients, vpc_id, writers, &mut l).await?;
        self.listed += 1;
        tracing::info!(owned = l.len(), listings = self.listed, "region listed");
        self.listing = Some((cluster.to_owned(), vpc_id.to_owned(), l));
        self.listed_at = Some(started);
        Ok(out)
    }

    /// After a pass changed `stacks`: their load balancers and target groups are read again
    /// by ARN (`lb_arns`, `tg_arns`: what the pass observed and did not delete, and what it
    /// created) and replace what was listed for them. On any error the listing is dropped.
    pub async fn update(
        &mut self,
        clients: &AwsClients,
        stacks: &BTreeSet<String>,
        lb_arns: &[String],
        tg_arns: &[String],
    ) {
        let Some((cluster, _, _)) = &self.listing else {
            return;
        };
        let cluster = cluster.clone();
        let read = async {
            let lbs = describe_lbs_by_arn(&clients.elbv2, lb_arns).await?;
            let tgs = describe_tgs_by_arn(&clients.elbv2, tg_arns).await?;
            let arns: Vec<String> = lbs
                .iter()
                .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
                .chain(
                    tgs.iter()
                        .filter_map(|t| t.target_group_arn().map(str::to_owned)),
                )
                .collect();
            let mut tags = elbv2::describe_tags(&clients.elbv2, &arns).await?;
            let mut tagged =
                |arn: Option<&str>| tags.remove(arn.unwrap_or_default()).unwrap_or_default();
            let lbs: Vec<(LoadBalancer, Tags)> = lbs
                .into_iter()
                .map(|l| {
                    let t = tagged(l.load_balancer_arn());
                    (l, t)
                })
                .collect();
            let tgs: Vec<(TargetGroup, Tags)> = tgs
                .into_iter()
                .map(|g| {
                    let t = tagged(g.target_group_arn());
                    (g, t)
                })
                .collect();
            Ok::<_, AwsError>((lbs, tgs))
        };
        match read
            .instrument(tracing::debug_span!(
                "region_listing.update",
                stacks = stacks.len()
            ))
            .await
        {
            Ok((lbs, tgs)) => {
                if let Some((_, _, l)) = &mut self.listing {
                    l.replace_stacks(&cluster, stacks, lbs, tgs);
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "region listing dropped: the changed stacks could not be read again");
                self.listing = None;
            }
        }
    }
}

/// Load balancers by ARN, 20 per DescribeLoadBalancers call.
async fn describe_lbs_by_arn(client: &Client, arns: &[String]) -> Result<Vec<LoadBalancer>> {
    const OP: &str = "DescribeLoadBalancers";
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        let page = client
            .describe_load_balancers()
            .set_load_balancer_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elbv2", OP, e))?;
        out.extend(page.load_balancers().iter().cloned());
    }
    Ok(out)
}

/// Target groups by ARN, 20 per DescribeTargetGroups call.
async fn describe_tgs_by_arn(client: &Client, arns: &[String]) -> Result<Vec<TargetGroup>> {
    const OP: &str = "DescribeTargetGroups";
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        let page = client
            .describe_target_groups()
            .set_target_group_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("elbv2", OP, e))?;
        out.extend(page.target_groups().iter().cloned());
    }
    Ok(out)
}

/// Observes `scope` from `listing` (the region as listed, kept or fresh): security groups are
/// listed, then the details of the stacks read in full (or only the targets of trusted ones).
pub async fn observe_listed(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: &str,
    listing: RegionListing,
    scope: &ObserveScope<'_>,
) -> Result<Observation> {
    let ObserveScope {
        requested,
        all_owned,
        attributes,
        trusted,
    } = *scope;
    let client = &clients.elbv2;
    let RegionListing {
        lbs,
        tgs,
        foreign_lbs,
        foreign_tgs,
        security_groups,
    } = listing;
    let mut foreign = ForeignNames {
        load_balancers: foreign_lbs,
        target_groups: foreign_tgs,
        ..ForeignNames::default()
    };
    let sgs = match security_groups {
        Some(kept) => kept,
        None => {
            ec2::list_security_groups(&clients.ec2, vpc_id)
                .instrument(tracing::debug_span!("observe.security_groups"))
                .await?
        }
    };
    let sgs = classify_security_groups(sgs, cluster, &mut foreign.security_groups);

    let mut planned: BTreeSet<String> = requested.clone();
    if all_owned {
        planned.extend(
            lbs.keys()
                .chain(tgs.keys())
                .chain(sgs.by_stack.keys())
                .cloned(),
        );
    }
    // Stacks whose load balancer carries the hash of their desired state: listeners, rules
    // and attributes are not read.
    let trusted_stacks: BTreeSet<String> = trusted
        .iter()
        .filter(|(stack, (name, hash))| {
            planned.contains(*stack) && {
                let shallow = ObservedStack {
                    load_balancers: lbs.get(*stack).cloned().unwrap_or_default(),
                    ..ObservedStack::default()
                };
                trust::is_trusted(name, &shallow, hash)
            }
        })
        .map(|(s, _)| s.clone())
        .collect();

    let mut stacks: BTreeMap<String, ObservedStack> = planned
        .iter()
        .map(|s| {
            let trusted = trusted_stacks.contains(s);
            (
                s.clone(),
                ObservedStack {
                    trusted,
                    ..ObservedStack::default()
                },
            )
        })
        .collect();
    let mut unplanned: BTreeMap<String, ObservedStack> = BTreeMap::new();
    let mut to_detail_lbs = Vec::new();
    let mut to_detail_tgs = Vec::new();
    for (stack, items) in lbs {
        if trusted_stacks.contains(&stack) {
            stacks.entry(stack).or_default().load_balancers = items;
        } else if planned.contains(&stack) {
            to_detail_lbs.extend(items.into_iter().map(|lb| (stack.clone(), lb)));
        } else {
            unplanned.entry(stack).or_default().load_balancers = items;
        }
    }
    for (stack, items) in tgs {
        if planned.contains(&stack) {
            to_detail_tgs.extend(items.into_iter().map(|tg| (stack.clone(), tg)));
        } else {
            unplanned.entry(stack).or_default().target_groups = items;
        }
    }
    for (stack, items) in sgs.by_stack {
        let target = if planned.contains(&stack) {
            stacks.entry(stack).or_default()
        } else {
            unplanned.entry(stack).or_default()
        };
        target.security_groups = items;
    }

    let detailed_lbs = detail_load_balancers(client, to_detail_lbs, attributes)
        .instrument(tracing::debug_span!("observe.load_balancer_details"))
        .await?;
    let detailed_lbs = read_addons(clients, detailed_lbs, attributes)
        .instrument(tracing::debug_span!("observe.load_balancer_addons"))
        .await?;
    for (stack, lb) in detailed_lbs {
        stacks.entry(stack).or_default().load_balancers.push(lb);
    }
    let trusted_stacks = &trusted_stacks;
    let detailed_tgs = stream::iter(to_detail_tgs.into_iter().map(|(stack, tg)| async move {
        let with_attributes =
            !trusted_stacks.contains(&stack) && attributes.target_group(&stack, &tg);
        Ok::<_, AwsError>(
            detail_target_group(client, tg, with_attributes)
                .await?
                .map(|tg| (stack, tg)),
        )
    }))
    .buffered(TARGET_READ_CONCURRENCY)
    .try_collect::<Vec<_>>()
    .instrument(tracing::debug_span!("observe.target_group_details"))
    .await?;
    for (stack, tg) in detailed_tgs.into_iter().flatten() {
        stacks.entry(stack).or_default().target_groups.push(tg);
    }

    for s in stacks.values_mut().chain(unplanned.values_mut()) {
        s.load_balancers.sort_by(|a, b| a.name.cmp(&b.name));
        s.target_groups.sort_by(|a, b| a.name.cmp(&b.name));
        s.security_groups
            .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    }
    Ok(Observation {
        stacks,
        unplanned,
        backend_sg: sgs.backend,
        target_security_groups: sgs.targets,
        foreign,
    })
}

/// Reads the cluster scope again, right before a pass's trailing cluster-wide changes
/// ([`ClusterNow`]): the backend and target security groups, the ports every target group the
/// cluster owns uses (the targets' ports too for groups with port 0 or 1, whose targets each
/// carry their own), and whether any load balancer of the VPC uses the backend group.
///
/// Cost: one DescribeSecurityGroups, one paginated DescribeTargetGroups with DescribeTags for
/// those in the VPC, DescribeTargetHealth per group with a per-target port, and, when the
/// backend group exists, one paginated DescribeLoadBalancers.
pub async fn observe_cluster_scope(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: &str,
) -> Result<ClusterNow> {
    let span = tracing::info_span!("observe_cluster_scope", cluster, vpc_id);
    async {
        let sgs = ec2::list_security_groups(&clients.ec2, vpc_id).await?;
        let sgs = classify_security_groups(sgs, cluster, &mut BTreeMap::new());
        let tgs = list_owned_tgs(&clients.elbv2, cluster, vpc_id, &mut BTreeMap::new()).await?;
        let mut ports_in_use = BTreeSet::new();
        for tg in tgs.values().flatten() {
            let targets = if tg.port > 1 {
                Vec::new()
            } else {
                match elbv2::target_health(&clients.elbv2, &tg.arn).await {
                    Ok(health) => health
                        .iter()
                        .filter_map(|h| h.target())
                        .map(|t| TargetSpec {
                            id: t.id().unwrap_or_default().to_owned(),
                            port: to_u16(t.port()),
                        })
                        .collect(),
                    Err(e) if is_gone(&e) => Vec::new(),
                    Err(e) => return Err(e),
                }
            };
            ports_in_use.extend(cluster::target_ports(
                tg.port,
                &tg.health_check.port,
                &targets,
            ));
        }
        let backend_in_use = match &sgs.backend {
            Some(backend) => elbv2::describe_load_balancers(&clients.elbv2, None)
                .await?
                .iter()
                .filter(|lb| lb.vpc_id() == Some(vpc_id))
                .any(|lb| lb.security_groups().contains(&backend.id)),
            None => false,
        };
        Ok(ClusterNow {
            backend_sg: sgs.backend,
            target_security_groups: sgs.targets,
            ports_in_use,
            backend_in_use,
            // A setting of the pass, not read: the caller sets it.
            unrestricted_sg_rules: false,
        })
    }
    .instrument(span)
    .await
}

/// The light re-read of a pass that removes nothing ([`observe_cluster_scope`] is for a pass
/// with trailing removals): the backend and target security groups only (two
/// DescribeSecurityGroups filtered by their tags, not the VPC's every group), with the
/// ports in use and the backend's use taken from the pass's own `claims`. Enough to repair a
/// permission of this pass's target ports that another process revoked on a stale read (that
/// process, having revoked, re-reads everything and repairs what it sees; this pass repairs
/// what it alone knows it needs), and it does not grow with the cluster: a cold start of `n`
/// stacks in passes of 50 no longer lists every target group `n / 50` times.
pub async fn observe_cluster_scope_for(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: &str,
    claims: &cluster::Claims,
) -> Result<ClusterNow> {
    let span = tracing::info_span!("observe_cluster_scope_for", cluster, vpc_id);
    async {
        // Only the groups that matter here, filtered by AWS: the backend group (by its
        // resource tag) and the target (node) groups (by the cluster's tag key). Listing the
        // VPC would read every load balancer's frontend group, which grows with the cluster.
        let node_tag = format!("{CLUSTER_SUBNET_TAG_PREFIX}{cluster}");
        let backend_filter = format!("tag:{CLUSTER_RESOURCE_TAG}");
        let (backend, targets) = futures::try_join!(
            ec2::describe_security_groups(
                &clients.ec2,
                vec![
                    ec2::filter("vpc-id", [vpc_id]),
                    ec2::filter(&backend_filter, [BACKEND_SG_RESOURCE]),
                ],
            ),
            ec2::describe_security_groups(
                &clients.ec2,
                vec![
                    ec2::filter("vpc-id", [vpc_id]),
                    ec2::filter("tag-key", [node_tag.as_str()]),
                ],
            ),
        )?;
        let mut groups: Vec<ObservedSecurityGroup> = backend.into_iter().chain(targets).collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        groups.dedup_by(|a, b| a.id == b.id);
        let sgs = classify_security_groups(groups, cluster, &mut BTreeMap::new());
        Ok(ClusterNow {
            backend_sg: sgs.backend,
            target_security_groups: sgs.targets,
            ports_in_use: claims.ports.clone(),
            backend_in_use: claims.backend,
            // A setting of the pass, not read: the caller sets it.
            unrestricted_sg_rules: false,
        })
    }
    .instrument(span)
    .await
}

/// Error codes meaning the resource disappeared between listing and reading it.
const GONE: &[&str] = &[
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
];

fn is_gone(e: &AwsError) -> bool {
    GONE.iter().any(|c| e.has_code(c))
}

fn stack_of(tags: &Tags, cluster: &str) -> Option<String> {
    if !is_owned_by(tags, cluster) {
        return None;
    }
    StackId::from_tags(tags).map(|id| id.to_string())
}

fn enum_str<E: AsRef<str>>(e: Option<&E>) -> String {
    e.map(|v| v.as_ref().to_owned()).unwrap_or_default()
}

fn to_u32(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn to_u16(v: Option<i32>) -> u16 {
    v.and_then(|v| u16::try_from(v).ok()).unwrap_or(0)
}

/// A load balancer or target group as DescribeLoadBalancers / DescribeTargetGroups list it.
trait Listed {
    fn arn(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
    fn vpc(&self) -> Option<&str>;
}

impl Listed for LoadBalancer {
    fn arn(&self) -> Option<&str> {
        self.load_balancer_arn()
    }
    fn name(&self) -> Option<&str> {
        self.load_balancer_name()
    }
    fn vpc(&self) -> Option<&str> {
        self.vpc_id()
    }
}

impl Listed for TargetGroup {
    fn arn(&self) -> Option<&str> {
        self.target_group_arn()
    }
    fn name(&self) -> Option<&str> {
        self.target_group_name()
    }
    fn vpc(&self) -> Option<&str> {
        self.vpc_id()
    }
}

/// Sorts listed resources into the cluster's, by stack (shallow, via `shallow`), reading tags
/// only for those in the VPC (batched); every other name goes to `foreign`.
async fn by_owner<R: Listed, O>(
    client: &Client,
    all: &[R],
    cluster: &str,
    vpc_id: &str,
    foreign: &mut BTreeMap<String, String>,
    shallow: fn(&R, Tags) -> O,
) -> Result<BTreeMap<String, Vec<O>>> {
    let (in_vpc, elsewhere): (Vec<&R>, Vec<&R>) = all.iter().partition(|r| r.vpc() == Some(vpc_id));
    for r in elsewhere {
        if let (Some(name), Some(arn)) = (r.name(), r.arn()) {
            foreign.insert(name.to_owned(), arn.to_owned());
        }
    }
    let arns: Vec<String> = in_vpc
        .iter()
        .filter_map(|r| r.arn().map(str::to_owned))
        .collect();
    let mut tags = elbv2::describe_tags(client, &arns).await?;
    let mut out: BTreeMap<String, Vec<O>> = BTreeMap::new();
    for r in in_vpc {
        let Some(arn) = r.arn() else {
            continue;
        };
        let r_tags = tags.remove(arn).unwrap_or_default();
        match stack_of(&r_tags, cluster) {
            Some(stack) => out.entry(stack).or_default().push(shallow(r, r_tags)),
            None => {
                foreign.insert(r.name().unwrap_or_default().to_owned(), arn.to_owned());
            }
        }
    }
    Ok(out)
}

/// Owned load balancers in the VPC by stack, shallow. Everything else goes to `foreign`.
async fn list_owned_lbs(
    client: &Client,
    cluster: &str,
    vpc_id: &str,
    foreign: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<ObservedLoadBalancer>>> {
    let all = elbv2::describe_load_balancers(client, Some(LISTING_PAGE_SIZE)).await?;
    by_owner(client, &all, cluster, vpc_id, foreign, shallow_lb).await
}

fn shallow_lb(lb: &LoadBalancer, tags: Tags) -> ObservedLoadBalancer {
    let mut subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_owned))
        .collect();
    subnets.sort();
    let mut security_groups = lb.security_groups().to_vec();
    security_groups.sort();
    let addresses = observed_addresses(lb);
    ObservedLoadBalancer {
        arn: lb.load_balancer_arn().unwrap_or_default().to_owned(),
        name: lb.load_balancer_name().unwrap_or_default().to_owned(),
        lb_type: enum_str(lb.r#type()),
        scheme: enum_str(lb.scheme()),
        ip_address_type: enum_str(lb.ip_address_type()),
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        canonical_hosted_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
        subnets,
        security_groups,
        addresses,
        attributes: BTreeMap::new(),
        tags,
        listeners: Vec::new(),
        wafv2: None,
        shield: None,
    }
}

/// The Elastic IP allocations and private IPv4 addresses of a load balancer's subnet mappings,
/// sorted; `None` when no zone reports any address (LocalStack's moto reports none).
pub fn observed_addresses(lb: &LoadBalancer) -> Option<ObservedAddresses> {
    let addresses: Vec<_> = lb
        .availability_zones()
        .iter()
        .flat_map(|z| z.load_balancer_addresses())
        .collect();
    if addresses.is_empty() {
        return None;
    }
    let mut out = ObservedAddresses {
        eip_allocations: addresses
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_owned))
            .collect(),
        private_ipv4_addresses: addresses
            .iter()
            .filter_map(|a| a.private_ipv4_address().map(str::to_owned))
            .collect(),
    };
    out.eip_allocations.sort();
    out.private_ipv4_addresses.sort();
    Some(out)
}

/// Owned target groups in the VPC by stack, shallow. Everything else goes to `foreign`.
async fn list_owned_tgs(
    client: &Client,
    cluster: &str,
    vpc_id: &str,
    foreign: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<ObservedTargetGroup>>> {
    let all = elbv2::describe_target_groups(client, Some(LISTING_PAGE_SIZE)).await?;
    by_owner(client, &all, cluster, vpc_id, foreign, shallow_tg).await
}

/// A target group's health check in the model's vocabulary.
pub fn health_check_of(tg: &TargetGroup) -> HealthCheckSpec {
    HealthCheckSpec {
        protocol: tg
            .health_check_protocol()
            .and_then(|p| Protocol::parse(p.as_str()))
            .unwrap_or(Protocol::Http),
        port: tg.health_check_port().unwrap_or("traffic-port").to_owned(),
        path: tg.health_check_path().unwrap_or_default().to_owned(),
        interval_seconds: to_u32(tg.health_check_interval_seconds()),
        timeout_seconds: to_u32(tg.health_check_timeout_seconds()),
        healthy_threshold_count: to_u32(tg.healthy_threshold_count()),
        unhealthy_threshold_count: to_u32(tg.unhealthy_threshold_count()),
        matcher: MatcherSpec {
            http_code: tg.matcher().and_then(|m| m.http_code()).map(str::to_owned),
            grpc_code: tg.matcher().and_then(|m| m.grpc_code()).map(str::to_owned),
        },
    }
}

fn shallow_tg(tg: &TargetGroup, tags: Tags) -> ObservedTargetGroup {
    ObservedTargetGroup {
        arn: tg.target_group_arn().unwrap_or_default().to_owned(),
        name: tg.target_group_name().unwrap_or_default().to_owned(),
        port: to_u16(tg.port()),
        protocol: enum_str(tg.protocol()),
        protocol_version: tg.protocol_version().unwrap_or_default().to_owned(),
        target_type: enum_str(tg.target_type()),
        ip_address_type: enum_str(tg.ip_address_type()),
        vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
        health_check: health_check_of(tg),
        attributes: BTreeMap::new(),
        tags,
        targets: Vec::new(),
        load_balancer_arns: tg.load_balancer_arns().to_vec(),
    }
}

/// Security groups of the VPC, sorted into the roles the planner needs.
#[derive(Default)]
struct ClassifiedGroups {
    backend: Option<ObservedSecurityGroup>,
    by_stack: BTreeMap<String, Vec<ObservedSecurityGroup>>,
    targets: Vec<ObservedSecurityGroup>,
}

fn classify_security_groups(
    groups: Vec<ObservedSecurityGroup>,
    cluster: &str,
    foreign: &mut BTreeMap<String, String>,
) -> ClassifiedGroups {
    let node_tag = format!("{CLUSTER_SUBNET_TAG_PREFIX}{cluster}");
    let mut out = ClassifiedGroups::default();
    // `groups` is sorted by id: the first backend group wins.
    for sg in groups {
        if is_owned_by(&sg.tags, cluster) {
            if sg.tags.get(CLUSTER_RESOURCE_TAG).map(String::as_str) == Some(BACKEND_SG_RESOURCE) {
                if let Some(first) = &out.backend {
                    tracing::warn!(
                        kept = %first.id,
                        ignored = %sg.id,
                        "more than one backend security group is tagged for the cluster"
                    );
                } else {
                    out.backend = Some(sg);
                }
            } else if let Some(stack) = StackId::from_tags(&sg.tags) {
                out.by_stack.entry(stack.to_string()).or_default().push(sg);
            } else {
                foreign.insert(sg.name.clone(), sg.id.clone());
            }
        } else {
            foreign.insert(sg.name.clone(), sg.id.clone());
            if sg.tags.contains_key(&node_tag) {
                out.targets.push(sg);
            }
        }
    }
    out
}

/// Reads attributes, listeners, rules and certificates of every load balancer (in parallel,
/// bounded), then the tags of all their listeners and rules in batched DescribeTags.
async fn detail_load_balancers(
    client: &Client,
    lbs: Vec<(String, ObservedLoadBalancer)>,
    attributes: &AttributeScope,
) -> Result<Vec<(String, ObservedLoadBalancer)>> {
    let mut out: Vec<(String, ObservedLoadBalancer)> =
        stream::iter(lbs.into_iter().map(|(stack, lb)| async move {
            let with_attributes = attributes.load_balancer(&stack);
            let listener_ports = attributes.listener_ports(&stack);
            Ok::<_, AwsError>(
                detail_load_balancer(client, lb, with_attributes, &listener_ports)
                    .await?
                    .map(|lb| (stack, lb)),
            )
        }))
        .buffered(DETAIL_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();

    let arns: Vec<String> = out
        .iter()
        .flat_map(|(_, lb)| &lb.listeners)
        .flat_map(|l| std::iter::once(l.arn.clone()).chain(l.rules.iter().map(|r| r.arn.clone())))
        .collect();
    let mut tags = elbv2::describe_tags(client, &arns).await?;
    for (_, lb) in &mut out {
        for l in &mut lb.listeners {
            l.tags = tags.remove(&l.arn).unwrap_or_default();
            for r in &mut l.rules {
                r.tags = tags.remove(&r.arn).unwrap_or_default();
            }
        }
    }
    Ok(out)
}

/// Reads the web ACL and the Shield protection of the load balancers whose stacks set them
/// (in parallel, bounded): one call each, and none for the others.
async fn read_addons(
    clients: &AwsClients,
    lbs: Vec<(String, ObservedLoadBalancer)>,
    scope: &AttributeScope,
) -> Result<Vec<(String, ObservedLoadBalancer)>> {
    stream::iter(lbs.into_iter().map(|(stack, mut lb)| async move {
        if scope.web_acl(&stack) {
            lb.wafv2 = Some(addons::web_acl_for(&clients.wafv2, &lb.arn).await?);
        }
        if scope.protection(&stack) {
            lb.shield = Some(addons::protection_for(&clients.shield, &lb.arn).await?);
        }
        Ok::<_, AwsError>((stack, lb))
    }))
    .buffered(DETAIL_CONCURRENCY)
    .try_collect()
    .await
}

/// `Ok(None)` when the load balancer disappeared while being read.
async fn detail_load_balancer(
    client: &Client,
    mut lb: ObservedLoadBalancer,
    with_attributes: bool,
    listener_ports: &BTreeSet<u16>,
) -> Result<Option<ObservedLoadBalancer>> {
    match read_load_balancer(client, &mut lb, with_attributes, listener_ports).await {
        Ok(()) => Ok(Some(lb)),
        Err(e) if is_gone(&e) => {
            tracing::debug!(load_balancer = %lb.name, error = %e, "disappeared while observed");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn read_load_balancer(
    client: &Client,
    lb: &mut ObservedLoadBalancer,
    with_attributes: bool,
    listener_ports: &BTreeSet<u16>,
) -> Result<()> {
    if with_attributes {
        lb.attributes = elbv2::load_balancer_attributes(client, &lb.arn).await?;
    }
    let mut listeners = Vec::new();
    for l in elbv2::describe_listeners(client, &lb.arn).await? {
        let Some(arn) = l.listener_arn() else {
            continue;
        };
        let secure = matches!(l.protocol().map(AsRef::as_ref), Some("HTTPS" | "TLS"));
        let extra = if secure {
            elbv2::describe_listener_certificates(client, arn).await?
        } else {
            Vec::new()
        };
        let rules = elbv2::describe_rules(client, arn).await?;
        let mut listener = listener_of(&l, &extra, &rules);
        if listener_ports.contains(&listener.port) {
            listener.attributes = elbv2::listener_attributes(client, arn).await?;
        }
        listeners.push(listener);
    }
    listeners.sort_by_key(|l| l.port);
    lb.listeners = listeners;
    Ok(())
}

/// A listener with its certificates (`described`: DescribeListenerCertificates) and rules.
pub fn listener_of(
    l: &Listener,
    described: &[aws_sdk_elasticloadbalancingv2::types::Certificate],
    rules: &[Rule],
) -> ObservedListener {
    let default = l
        .certificates()
        .iter()
        .chain(described.iter().filter(|c| c.is_default() == Some(true)))
        .find_map(|c| c.certificate_arn())
        .map(str::to_owned);
    let extra: Vec<String> = described
        .iter()
        .filter(|c| c.is_default() != Some(true))
        .filter_map(|c| c.certificate_arn().map(str::to_owned))
        .collect();
    let mut rules: Vec<ObservedRule> = rules.iter().filter_map(rule_of).collect();
    rules.sort_by_key(|r| r.priority);
    let mut observed = ObservedListener {
        arn: l.listener_arn().unwrap_or_default().to_owned(),
        port: to_u16(l.port()),
        protocol: enum_str(l.protocol()),
        default_actions: actions_of(l.default_actions()),
        ssl_policy: l.ssl_policy().map(str::to_owned),
        alpn_policy: l.alpn_policy().first().cloned(),
        mutual_authentication: l.mutual_authentication().map(|m| {
            aws_lb_operator_core::model::MutualAuthenticationSpec {
                mode: m.mode().unwrap_or("off").to_owned(),
                trust_store: m
                    .trust_store_arn()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                ignore_client_certificate_expiry: m.ignore_client_certificate_expiry(),
                advertise_trust_store_ca_names: m
                    .advertise_trust_store_ca_names()
                    .map(|a| a.as_str().to_owned()),
            }
        }),
        tags: Tags::new(),
        rules,
        ..ObservedListener::default()
    };
    observed.set_certificates(default, &extra);
    observed
}

/// A non-default rule; `None` for the default rule (and a rule whose priority is not a
/// number, which only the default rule has).
pub fn rule_of(r: &Rule) -> Option<ObservedRule> {
    if r.is_default() == Some(true) {
        return None;
    }
    let arn = r.rule_arn()?;
    let Some(priority) = r.priority().and_then(|p| p.parse::<u32>().ok()) else {
        tracing::warn!(rule = arn, priority = ?r.priority(), "rule priority is not a number; ignored");
        return None;
    };
    Some(ObservedRule {
        arn: arn.to_owned(),
        priority,
        conditions: r.conditions().iter().map(condition_of).collect(),
        actions: actions_of(r.actions()),
        transforms: r.transforms().iter().filter_map(transform_of).collect(),
        tags: Tags::new(),
    })
}

/// A rule transform as the model has it (`None` for a type this operator does not know).
pub fn transform_of(
    t: &aws_sdk_elasticloadbalancingv2::types::RuleTransform,
) -> Option<TransformSpec> {
    use aws_sdk_elasticloadbalancingv2::types::{RewriteConfig, TransformTypeEnum};
    let rewrites = |r: &[RewriteConfig]| -> Vec<RewriteSpec> {
        r.iter()
            .map(|w| RewriteSpec {
                regex: w.regex().unwrap_or_default().to_owned(),
                replace: w.replace().unwrap_or_default().to_owned(),
            })
            .collect()
    };
    match t.r#type()? {
        TransformTypeEnum::HostHeaderRewrite => Some(TransformSpec::HostHeaderRewrite {
            rewrites: rewrites(t.host_header_rewrite_config().map_or(&[], |c| c.rewrites())),
        }),
        TransformTypeEnum::UrlRewrite => Some(TransformSpec::UrlRewrite {
            rewrites: rewrites(t.url_rewrite_config().map_or(&[], |c| c.rewrites())),
        }),
        _ => None,
    }
}

/// A rule condition from its `*Config` form (the legacy `Values` for `host-header` and
/// `path-pattern` when the config is absent).
pub fn condition_of(c: &RuleCondition) -> ConditionSpec {
    let legacy = || c.values().to_vec();
    match c.field().unwrap_or_default() {
        "host-header" => ConditionSpec::HostHeader {
            values: c
                .host_header_config()
                .map_or_else(legacy, |h| h.values().to_vec()),
        },
        "path-pattern" => ConditionSpec::PathPattern {
            values: c
                .path_pattern_config()
                .map_or_else(legacy, |p| p.values().to_vec()),
        },
        "http-header" => ConditionSpec::HttpHeader {
            http_header_name: c
                .http_header_config()
                .and_then(|h| h.http_header_name())
                .unwrap_or_default()
                .to_owned(),
            values: c
                .http_header_config()
                .map_or_else(legacy, |h| h.values().to_vec()),
        },
        "http-request-method" => ConditionSpec::HttpRequestMethod {
            values: c
                .http_request_method_config()
                .map_or_else(legacy, |m| m.values().to_vec()),
        },
        "query-string" => ConditionSpec::QueryString {
            values: c
                .query_string_config()
                .map(|q| {
                    q.values()
                        .iter()
                        .map(|kv| QueryStringKeyValue {
                            key: kv.key().map(str::to_owned),
                            value: kv.value().unwrap_or_default().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        "source-ip" => ConditionSpec::SourceIp {
            values: c
                .source_ip_config()
                .map_or_else(legacy, |s| s.values().to_vec()),
        },
        other => ConditionSpec::HttpHeader {
            http_header_name: format!("unsupported {other}"),
            values: legacy(),
        },
    }
}

/// The settings every authentication action has, with ELBv2's defaults (LBC's) where AWS
/// leaves one out.
fn auth_common(
    extra: Option<&std::collections::HashMap<String, String>>,
    on_unauthenticated_request: Option<&str>,
    scope: Option<&str>,
    session_cookie_name: Option<&str>,
    session_timeout: Option<i64>,
) -> AuthenticateCommon {
    use aws_lb_operator_core::translate::auth::defaults;
    AuthenticateCommon {
        authentication_request_extra_params: extra
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        on_unauthenticated_request: on_unauthenticated_request
            .unwrap_or(defaults::ON_UNAUTHENTICATED_REQUEST)
            .to_owned(),
        scope: scope.unwrap_or(defaults::SCOPE).to_owned(),
        session_cookie_name: session_cookie_name
            .unwrap_or(defaults::SESSION_COOKIE)
            .to_owned(),
        session_timeout: session_timeout.unwrap_or(defaults::SESSION_TIMEOUT),
    }
}

/// Actions ordered by `Order` (actions without one last, in the order AWS returned them).
pub fn actions_of(actions: &[Action]) -> Vec<ActionSpec> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    sorted.into_iter().map(action_of).collect()
}

/// One action; target groups referenced by ARN.
pub fn action_of(a: &Action) -> ActionSpec {
    match a.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let fc = a.forward_config();
            let mut target_groups: Vec<TargetGroupRef> = fc
                .map(|f| {
                    f.target_groups()
                        .iter()
                        .filter_map(|t| {
                            Some(arn_ref(
                                t.target_group_arn()?,
                                t.weight().map_or(1, |w| u32::try_from(w).unwrap_or(0)),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if target_groups.is_empty() {
                if let Some(arn) = a.target_group_arn() {
                    target_groups.push(arn_ref(arn, 1));
                }
            }
            let stickiness = fc
                .and_then(|f| f.target_group_stickiness_config())
                .map(|s| StickinessSpec {
                    enabled: s.enabled().unwrap_or(false),
                    duration_seconds: s.duration_seconds().and_then(|d| u32::try_from(d).ok()),
                });
            ActionSpec::Forward {
                target_groups,
                stickiness,
            }
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let f = a.fixed_response_config();
            ActionSpec::FixedResponse(FixedResponseSpec {
                status_code: f
                    .and_then(|f| f.status_code())
                    .unwrap_or_default()
                    .to_owned(),
                content_type: f.and_then(|f| f.content_type()).map(str::to_owned),
                message_body: f.and_then(|f| f.message_body()).map(str::to_owned),
            })
        }
        Some(ActionTypeEnum::Redirect) => {
            let r = a.redirect_config();
            let field = |v: Option<&str>, default: &str| v.unwrap_or(default).to_owned();
            ActionSpec::Redirect(RedirectSpec {
                protocol: field(r.and_then(|r| r.protocol()), "#{protocol}"),
                port: field(r.and_then(|r| r.port()), "#{port}"),
                host: field(r.and_then(|r| r.host()), "#{host}"),
                path: field(r.and_then(|r| r.path()), "/#{path}"),
                query: field(r.and_then(|r| r.query()), "#{query}"),
                status_code: enum_str(r.and_then(|r| r.status_code())),
            })
        }
        Some(ActionTypeEnum::AuthenticateCognito) => {
            let c = a.authenticate_cognito_config();
            let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
            ActionSpec::AuthenticateCognito(AuthenticateCognitoSpec {
                user_pool_arn: text(c.and_then(|c| c.user_pool_arn())),
                user_pool_client_id: text(c.and_then(|c| c.user_pool_client_id())),
                user_pool_domain: text(c.and_then(|c| c.user_pool_domain())),
                common: auth_common(
                    c.and_then(|c| c.authentication_request_extra_params()),
                    c.and_then(|c| c.on_unauthenticated_request())
                        .map(|b| b.as_str()),
                    c.and_then(|c| c.scope()),
                    c.and_then(|c| c.session_cookie_name()),
                    c.and_then(|c| c.session_timeout()),
                ),
            })
        }
        Some(ActionTypeEnum::AuthenticateOidc) => {
            let o = a.authenticate_oidc_config();
            let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
            ActionSpec::AuthenticateOidc(AuthenticateOidcSpec {
                issuer: text(o.and_then(|o| o.issuer())),
                authorization_endpoint: text(o.and_then(|o| o.authorization_endpoint())),
                token_endpoint: text(o.and_then(|o| o.token_endpoint())),
                user_info_endpoint: text(o.and_then(|o| o.user_info_endpoint())),
                client_id: text(o.and_then(|o| o.client_id())),
                // Never returned by AWS (and never kept if it were).
                client_secret: None,
                common: auth_common(
                    o.and_then(|o| o.authentication_request_extra_params()),
                    o.and_then(|o| o.on_unauthenticated_request())
                        .map(|b| b.as_str()),
                    o.and_then(|o| o.scope()),
                    o.and_then(|o| o.session_cookie_name()),
                    o.and_then(|o| o.session_timeout()),
                ),
            })
        }
        other => ActionSpec::FixedResponse(FixedResponseSpec {
            status_code: format!(
                "unsupported {}",
                other.map_or("action", ActionTypeEnum::as_str)
            ),
            content_type: None,
            message_body: None,
        }),
    }
}

fn arn_ref(arn: &str, weight: u32) -> TargetGroupRef {
    TargetGroupRef {
        id: None,
        arn: Some(arn.to_owned()),
        name: None,
        weight,
    }
}

/// `Ok(None)` when the target group disappeared while being read.
async fn detail_target_group(
    client: &Client,
    mut tg: ObservedTargetGroup,
    with_attributes: bool,
) -> Result<Option<ObservedTargetGroup>> {
    let read = async {
        let attributes = if with_attributes {
            elbv2::target_group_attributes(client, &tg.arn).await?
        } else {
            BTreeMap::new()
        };
        let health = elbv2::target_health(client, &tg.arn).await?;
        Ok::<_, AwsError>((attributes, health))
    };
    match read.await {
        Ok((attributes, health)) => {
            tg.attributes = attributes;
            let mut targets: Vec<TargetSpec> = health
                .iter()
                .filter(|h| {
                    h.target_health().and_then(|t| t.state())
                        != Some(&TargetHealthStateEnum::Draining)
                })
                .filter_map(|h| {
                    let t = h.target()?;
                    Some(TargetSpec {
                        id: t.id()?.to_owned(),
                        port: to_u16(t.port()),
                    })
                })
                .collect();
            targets.sort();
            targets.dedup();
            tg.targets = targets;
            Ok(Some(tg))
        }
        Err(e) if is_gone(&e) => {
            tracing::debug!(target_group = %tg.name, error = %e, "disappeared while observed");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{
        Certificate, FixedResponseActionConfig, ForwardActionConfig, HostHeaderConditionConfig,
        HttpHeaderConditionConfig, QueryStringConditionConfig, QueryStringKeyValuePair,
        RedirectActionConfig, RedirectActionStatusCodeEnum, TargetGroupStickinessConfig,
        TargetGroupTuple,
    };

    fn owned(cluster: &str, stack: &str, resource: &str) -> Tags {
        [
            ("elbv2.k8s.aws/cluster", cluster),
            ("ingress.k8s.aws/stack", stack),
            ("ingress.k8s.aws/resource", resource),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn a_pass_s_reread_replaces_only_the_changed_stacks_entries_by_their_tags() {
        let lb = |name: &str| {
            LoadBalancer::builder()
                .load_balancer_name(name)
                .load_balancer_arn(format!("arn:lb/{name}"))
                .vpc_id("vpc-1")
                .build()
        };
        let tg = |name: &str| {
            TargetGroup::builder()
                .target_group_name(name)
                .target_group_arn(format!("arn:tg/{name}"))
                .vpc_id("vpc-1")
                .build()
        };
        let mut listing = RegionListing::default();
        listing.replace_stacks(
            "c",
            &BTreeSet::new(),
            vec![
                (lb("a"), owned("c", "ns/a", "LoadBalancer")),
                (lb("b"), owned("c", "ns/b", "LoadBalancer")),
            ],
            vec![(tg("a-tg"), owned("c", "ns/a", "svc:80"))],
        );
        assert_eq!(listing.len(), 3);
        // ns/a was changed: its old target group was deleted, a new one created; ns/b is kept
        // as listed; a resource of another cluster read back is not taken in.
        let changed: BTreeSet<String> = ["ns/a".to_owned()].into();
        listing.replace_stacks(
            "c",
            &changed,
            vec![
                (lb("a"), owned("c", "ns/a", "LoadBalancer")),
                (lb("x"), owned("other", "ns/x", "LoadBalancer")),
            ],
            vec![(tg("a-tg2"), owned("c", "ns/a", "svc:81"))],
        );
        let names = |m: &BTreeMap<String, Vec<ObservedTargetGroup>>| -> Vec<String> {
            m.values().flatten().map(|t| t.name.clone()).collect()
        };
        assert_eq!(names(&listing.tgs), ["a-tg2"]);
        let lbs: Vec<(&String, Vec<&str>)> = listing
            .lbs
            .iter()
            .map(|(s, v)| (s, v.iter().map(|l| l.name.as_str()).collect()))
            .collect();
        assert_eq!(
            lbs,
            [
                (&"ns/a".to_owned(), vec!["a"]),
                (&"ns/b".to_owned(), vec!["b"])
            ]
        );
    }

    #[test]
    fn conditions_prefer_config_and_fall_back_to_legacy_values() {
        let legacy = RuleCondition::builder()
            .field("path-pattern")
            .values("/a")
            .build();
        assert_eq!(
            condition_of(&legacy),
            ConditionSpec::PathPattern {
                values: vec!["/a".into()]
            }
        );
        let both = RuleCondition::builder()
            .field("host-header")
            .values("legacy.example.com")
            .host_header_config(
                HostHeaderConditionConfig::builder()
                    .values("a.example.com")
                    .values("b.example.com")
                    .build(),
            )
            .build();
        assert_eq!(
            condition_of(&both),
            ConditionSpec::HostHeader {
                values: vec!["a.example.com".into(), "b.example.com".into()]
            }
        );
        let header = RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name("X-Env")
                    .values("prod")
                    .build(),
            )
            .build();
        assert_eq!(
            condition_of(&header),
            ConditionSpec::HttpHeader {
                http_header_name: "X-Env".into(),
                values: vec!["prod".into()]
            }
        );
        let query = RuleCondition::builder()
            .field("query-string")
            .query_string_config(
                QueryStringConditionConfig::builder()
                    .values(QueryStringKeyValuePair::builder().value("v").build())
                    .values(
                        QueryStringKeyValuePair::builder()
                            .key("k")
                            .value("w")
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            condition_of(&query),
            ConditionSpec::QueryString {
                values: vec![
                    QueryStringKeyValue {
                        key: None,
                        value: "v".into()
                    },
                    QueryStringKeyValue {
                        key: Some("k".into()),
                        value: "w".into()
                    },
                ]
            }
        );
        let unknown = RuleCondition::builder().field("body").values("x").build();
        assert_eq!(
            condition_of(&unknown),
            ConditionSpec::HttpHeader {
                http_header_name: "unsupported body".into(),
                values: vec!["x".into()]
            }
        );
    }

    #[test]
    fn actions_are_ordered_and_forward_reads_both_forms() {
        let actions = [
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(2)
                .target_group_arn("arn:tg/bare")
                .build(),
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(1)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn("arn:tg/a")
                                .weight(3)
                                .build(),
                        )
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn("arn:tg/b")
                                .build(),
                        )
                        .target_group_stickiness_config(
                            TargetGroupStickinessConfig::builder()
                                .enabled(true)
                                .duration_seconds(60)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        ];
        assert_eq!(
            actions_of(&actions),
            vec![
                ActionSpec::Forward {
                    target_groups: vec![arn_ref("arn:tg/a", 3), arn_ref("arn:tg/b", 1)],
                    stickiness: Some(StickinessSpec {
                        enabled: true,
                        duration_seconds: Some(60)
                    }),
                },
                ActionSpec::Forward {
                    target_groups: vec![arn_ref("arn:tg/bare", 1)],
                    stickiness: None,
                },
            ]
        );
    }

    #[test]
    fn fixed_response_redirect_and_unsupported_actions() {
        let fixed = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("404")
                    .content_type("text/plain")
                    .build(),
            )
            .build();
        assert_eq!(
            action_of(&fixed),
            ActionSpec::FixedResponse(FixedResponseSpec {
                status_code: "404".into(),
                content_type: Some("text/plain".into()),
                message_body: None
            })
        );
        let redirect = Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build();
        assert_eq!(
            action_of(&redirect),
            ActionSpec::Redirect(RedirectSpec {
                protocol: "HTTPS".into(),
                port: "443".into(),
                host: "#{host}".into(),
                path: "/#{path}".into(),
                query: "#{query}".into(),
                status_code: "HTTP_301".into(),
            })
        );
        let unknown = Action::builder()
            .r#type(ActionTypeEnum::from("lambda"))
            .build();
        assert_eq!(
            action_of(&unknown),
            ActionSpec::FixedResponse(FixedResponseSpec {
                status_code: "unsupported lambda".into(),
                content_type: None,
                message_body: None
            })
        );
        // An OIDC action is read without its client secret, even where one is returned (moto
        // echoes it; AWS never does), and AWS's defaults stand in for what it leaves out.
        let oidc = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .authenticate_oidc_config(
                aws_sdk_elasticloadbalancingv2::types::AuthenticateOidcActionConfig::builder()
                    .issuer("https://idp")
                    .client_id("id")
                    .client_secret("echoed-secret")
                    .scope("email")
                    .build(),
            )
            .build();
        let ActionSpec::AuthenticateOidc(o) = action_of(&oidc) else {
            panic!("not oidc")
        };
        assert_eq!(
            (o.issuer.as_str(), o.client_id.as_str(), o.client_secret),
            ("https://idp", "id", None)
        );
        assert_eq!(
            (
                o.common.scope.as_str(),
                o.common.session_cookie_name.as_str(),
                o.common.session_timeout,
                o.common.on_unauthenticated_request.as_str()
            ),
            ("email", "AWSELBAuthSessionCookie", 604_800, "authenticate")
        );
    }

    #[test]
    fn listener_certificates_default_first_without_duplicates() {
        let cert = |arn: &str, default: Option<bool>| {
            let b = Certificate::builder().certificate_arn(arn);
            match default {
                Some(d) => b.is_default(d).build(),
                None => b.build(),
            }
        };
        let l = Listener::builder()
            .listener_arn("arn:l")
            .port(443)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Https)
            .certificates(cert("arn:default", None))
            .build();
        let described = [
            cert("arn:sni-1", Some(false)),
            cert("arn:default", Some(true)),
            cert("arn:sni-2", Some(false)),
            cert("arn:sni-1", Some(false)),
        ];
        let rules = [
            Rule::builder().rule_arn("arn:r2").priority("20").build(),
            Rule::builder()
                .rule_arn("arn:default-rule")
                .priority("default")
                .is_default(true)
                .build(),
            Rule::builder().rule_arn("arn:r1").priority("3").build(),
        ];
        let got = listener_of(&l, &described, &rules);
        assert_eq!(got.certificates, ["arn:default", "arn:sni-1", "arn:sni-2"]);
        assert!(!got.default_also_listed);
        // LBC adds the default certificate among the listener's certificates too.
        let lbc = [
            cert("arn:default", Some(true)),
            cert("arn:sni-1", Some(false)),
            cert("arn:default", Some(false)),
        ];
        let got_lbc = listener_of(&l, &lbc, &[]);
        assert_eq!(got_lbc.certificates, ["arn:default", "arn:sni-1"]);
        assert!(got_lbc.default_also_listed);
        assert_eq!(got_lbc.extra_certificates(), ["arn:sni-1", "arn:default"]);
        assert_eq!((got.port, got.protocol.as_str()), (443, "HTTPS"));
        let priorities: Vec<u32> = got.rules.iter().map(|r| r.priority).collect();
        assert_eq!(priorities, [3, 20]);
    }

    /// The addresses of an NLB's zones, as DescribeLoadBalancers reports them: Elastic IPs and
    /// private addresses sorted; nothing reported (LocalStack's moto) is `None`.
    #[test]
    fn load_balancer_addresses_are_read_sorted() {
        use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancerAddress};
        let zone = |subnet: &str, eip: Option<&str>, private: Option<&str>| {
            AvailabilityZone::builder()
                .subnet_id(subnet)
                .load_balancer_addresses(
                    LoadBalancerAddress::builder()
                        .ip_address("203.0.113.1")
                        .set_allocation_id(eip.map(str::to_owned))
                        .set_private_ipv4_address(private.map(str::to_owned))
                        .build(),
                )
                .build()
        };
        let lb = LoadBalancer::builder()
            .availability_zones(zone("subnet-b", Some("eipalloc-2"), Some("10.0.1.5")))
            .availability_zones(zone("subnet-a", Some("eipalloc-1"), Some("10.0.0.5")))
            .build();
        assert_eq!(
            observed_addresses(&lb),
            Some(ObservedAddresses {
                eip_allocations: vec!["eipalloc-1".into(), "eipalloc-2".into()],
                private_ipv4_addresses: vec!["10.0.0.5".into(), "10.0.1.5".into()],
            })
        );
        let assigned = LoadBalancer::builder()
            .availability_zones(zone("subnet-a", None, None))
            .build();
        assert_eq!(
            observed_addresses(&assigned),
            Some(ObservedAddresses::default()),
            "AWS-assigned addresses: no Elastic IP"
        );
        let moto = LoadBalancer::builder()
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
            .build();
        assert_eq!(observed_addresses(&moto), None);
    }
}
