//! One pass: observe what the cluster owns, resolve subnets and security groups, plan
//! (pure, in `core`), and optionally execute. Shared by `diff`, `apply` and the controller.
//!
//! Route53 is part of the same pass: hosted zones are listed once, records read per zone
//! (through a [`ZoneCache`] the controller keeps between passes), and the DNS plan made
//! against the load balancers as observed. Execution order: DNS changes whose target is
//! known (deletes included, so records go before their load balancer), then the ELBv2/EC2
//! changes, then the records of load balancers this pass created.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_lb_operator_core::certificates;
use aws_lb_operator_core::dns::{
    self, DnsOptions, DnsPlan, DnsStackInput, HostedZone, LbAddress, LbTarget, RecordSet,
    ZoneRecords,
};
use aws_lb_operator_core::model::{
    backend_security_group_name, IpAddressType, Scheme, Stack, StackId, StackKind,
};
use aws_lb_operator_core::planner::cluster::{self, Claims, ClusterNow};
use aws_lb_operator_core::planner::{
    keep_existing_scheme, keys, plan, trust, Change, ChangeKind, ClusterFacts, ObservedStack, Op,
    Plan, StackFacts, StackInput,
};
use tracing::Instrument;

use crate::aws::execute::{ExecuteError, ExecuteOptions, ExecuteReport, Executor, Outcome};
use crate::aws::observe::{
    observe_cluster_scope, observe_cluster_scope_for, observe_listed, AttributeScope, Observation,
    ObserveScope, RegionCache, RegionListing,
};
use crate::aws::resolve::{resolve_vpc, stack_facts, ResolveError, SubnetCache};
use crate::aws::route53::{apply_units, DnsOutcome, ZoneCache};
use crate::aws::{AwsClients, AwsError};

pub mod networking;
pub mod targets;

/// Why a pass could not be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The VPC could not be determined.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Reading AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What one pass covers.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Cluster name (ownership tags).
    pub cluster: String,
    /// VPC; discovered from the load-balancer subnets when `None`.
    pub vpc_id: Option<String>,
    /// Also delete the cluster's stacks that are not desired.
    pub prune: bool,
    /// Route53 settings; `None` leaves DNS alone.
    pub dns: Option<DnsOptions>,
    /// Stacks (display ids) to delete: everything they own in AWS, records first.
    pub delete: BTreeSet<String>,
    /// For each hostname, the stack that keeps it among all current stacks, including those
    /// outside this pass (the controller's passes cover only changed stacks). Empty: the
    /// stacks of the pass decide among themselves.
    pub hostname_owners: BTreeMap<String, StackId>,
    /// Tag keys managed outside the operator (`--external-managed-tags`): never removed.
    pub external_managed_tags: Vec<String>,
    /// `--disable-restricted-sg-rules`: the backend group gets all traffic on the target
    /// security groups.
    pub unrestricted_sg_rules: bool,
}

/// A planned pass, ready to print or execute.
#[derive(Debug)]
pub struct PreparedPass {
    /// Cluster name (ownership tags).
    pub cluster: String,
    /// VPC of the pass.
    pub vpc_id: String,
    /// What the desired stacks of the pass claim in the cluster scope (target ports, the
    /// backend security group) while the pass runs.
    pub claims: Claims,
    /// The claims, registered for the other passes of this process from the start of
    /// [`prepare`] until this is dropped: a pass still planning is not robbed of the backend
    /// group by another's trailing delete.
    claim: Claim,
    /// What was observed.
    pub observation: Observation,
    /// The planned changes.
    pub plan: Plan,
    /// The planned Route53 changes, when DNS is managed.
    pub dns: Option<PreparedDns>,
    /// `--disable-restricted-sg-rules` (for the re-checks of the cluster scope).
    pub unrestricted_sg_rules: bool,
    /// Stack id → (load balancer name, desired-state hash) of the desired stacks, when the
    /// pass writes the hash tag after applying ([`Reuse::trust`]); empty for the CLI.
    pub hashes: BTreeMap<String, (String, String)>,
}

/// What a controller pass reuses between passes; the CLI's one pass reuses nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reuse<'a> {
    /// The region listing kept between passes (listed when empty).
    pub region: Option<&'a tokio::sync::Mutex<RegionCache>>,
    /// Stacks (ids) whose listeners, rules and attributes may be trusted, not read, when
    /// their load balancer carries the hash of their desired state. `Some` also makes the
    /// pass write that hash after applying a stack's changes in full.
    pub trust: Option<&'a BTreeSet<String>>,
}

/// The DNS half of a prepared pass.
#[derive(Debug, Default)]
pub struct PreparedDns {
    /// Hosted zones that passed the filters.
    pub zones: Vec<HostedZone>,
    /// Changes and conflicts.
    pub plan: DnsPlan,
    /// Name of the load balancer of every stack whose records wait for it to be created.
    pub pending_load_balancers: BTreeMap<String, String>,
}

/// What executing a pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// ELBv2 and EC2 changes, one outcome per planned change.
    pub elb: ExecuteReport,
    /// Route53 units, one outcome per unit of [`PreparedDns::plan`].
    pub dns: Vec<DnsOutcome>,
}

impl PassReport {
    /// True when every change and unit is done.
    pub fn is_success(&self) -> bool {
        self.elb.is_success() && self.dns.iter().all(|o| matches!(o, DnsOutcome::Done))
    }
}

/// Observes, resolves and plans `desired` (plus, with `prune`, the deletion of every other
/// stack the cluster owns). Reads only.
pub async fn prepare(
    clients: &AwsClients,
    opts: &PassOptions,
    desired: &[Stack],
) -> Result<PreparedPass, PassError> {
    let mut cache = ZoneCache::new(Duration::ZERO);
    prepare_cached(clients, opts, desired, &mut cache).await
}

/// [`prepare`] with a zone cache kept across passes (the controller's), so zones whose
/// record count did not change are not read again.
pub async fn prepare_cached(
    clients: &AwsClients,
    opts: &PassOptions,
    desired: &[Stack],
    zone_cache: &mut ZoneCache,
) -> Result<PreparedPass, PassError> {
    prepare_with(clients, opts, desired, zone_cache, Reuse::default()).await
}

/// [`prepare_cached`], reusing what `reuse` holds: the region listing, and the trust of
/// stacks whose load balancer carries the hash of their desired state. A pass that deletes
/// stacks lists the region afresh (what is deleted is known to be ours now). A trusted stack
/// for which anything but targets would change is read again in full before planning.
pub async fn prepare_with(
    clients: &AwsClients,
    opts: &PassOptions,
    desired: &[Stack],
    zone_cache: &mut ZoneCache,
    reuse: Reuse<'_>,
) -> Result<PreparedPass, PassError> {
    let claims = Claims::of(desired);
    let claim = Claim::register(&opts.cluster, &claims);
    // ACM certificate discovery first: the discovered certificates are part of the desired
    // state (and of its hash).
    let (discovered, certificate_errors) = discover_certificates(clients, desired)
        .instrument(tracing::info_span!("discover_certificates"))
        .await;
    let desired: &[Stack] = discovered.as_deref().unwrap_or(desired);
    let vpc_id = resolve_vpc(clients, &opts.cluster, opts.vpc_id.as_deref())
        .instrument(tracing::info_span!("resolve_vpc"))
        .await?;
    let desired_ids: BTreeSet<String> = desired.iter().map(|s| s.id.to_string()).collect();
    let requested: BTreeSet<String> = desired_ids
        .iter()
        .cloned()
        .chain(opts.delete.iter().cloned())
        .collect();
    // As LBC: Shield protections are managed only while the account has a Shield Advanced
    // subscription (read only when a stack sets protection; a failed read skips them).
    let shield_subscribed = shield_subscription(clients, desired)
        .instrument(tracing::info_span!("shield_subscription"))
        .await;
    // Attributes are compared on the keys a stack sets, so only those stacks' (load balancer,
    // target groups, listeners) are read; so are web ACLs and Shield protections.
    let attributes = AttributeScope::Only {
        web_acls: desired
            .iter()
            .filter(|s| s.load_balancer.wafv2_web_acl.is_some())
            .map(|s| s.id.to_string())
            .collect(),
        protections: desired
            .iter()
            .filter(|s| shield_subscribed && s.load_balancer.shield_advanced_protection.is_some())
            .map(|s| s.id.to_string())
            .collect(),
        load_balancers: desired
            .iter()
            .filter(|s| !s.load_balancer.attributes.is_empty())
            .map(|s| s.id.to_string())
            .collect(),
        target_groups: desired
            .iter()
            .flat_map(|s| {
                s.target_groups
                    .iter()
                    .filter(|t| !t.attributes.is_empty())
                    .map(move |t| (s.id.to_string(), t.id.clone()))
            })
            .collect(),
        listeners: desired
            .iter()
            .flat_map(|s| {
                s.listeners
                    .iter()
                    .filter(|l| !l.attributes.is_empty())
                    .map(move |l| (s.id.to_string(), l.port))
            })
            .collect(),
    };
    let hashes: BTreeMap<String, (String, String)> = match reuse.trust {
        Some(_) => desired
            .iter()
            .map(|s| {
                (
                    s.id.to_string(),
                    (s.load_balancer.name.clone(), trust::desired_hash(s)),
                )
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let trusted: BTreeMap<String, (String, String)> = match reuse.trust {
        Some(allowed) => hashes
            .iter()
            .filter(|(id, _)| allowed.contains(*id))
            .map(|(id, h)| (id.clone(), h.clone()))
            .collect(),
        None => BTreeMap::new(),
    };
    let listing = match reuse.region {
        Some(region) => {
            let mut region = region.lock().await;
            if !opts.delete.is_empty() || opts.prune {
                region.invalidate();
            }
            region.listing(clients, &opts.cluster, &vpc_id).await?
        }
        None => RegionListing::read(clients, &opts.cluster, &vpc_id).await?,
    };
    let scope = ObserveScope {
        requested: &requested,
        all_owned: opts.prune,
        attributes: &attributes,
        trusted: &trusted,
    };
    let again = (!trusted.is_empty()).then(|| listing.clone());
    let mut observation = observe_listed(clients, &opts.cluster, &vpc_id, listing, &scope)
        .instrument(tracing::info_span!("observe", stacks = requested.len()))
        .await?;

    // As LBC: an existing NLB whose scheme nothing chose keeps it (subnets, names and DNS
    // zones follow), so adoption never replaces it.
    let kept: Vec<Option<Stack>> = desired
        .iter()
        .map(|s| keep_existing_scheme(s, observation.stacks.get(&s.id.to_string())))
        .collect();
    let adjusted: Option<Vec<Stack>> = kept.iter().any(Option::is_some).then(|| {
        desired
            .iter()
            .zip(kept)
            .map(|(s, k)| k.unwrap_or_else(|| s.clone()))
            .collect()
    });
    let desired: &[Stack] = adjusted.as_deref().unwrap_or(desired);
    let mut cache = SubnetCache::default();
    let mut facts = Vec::with_capacity(desired.len());
    for stack in desired {
        let f = stack_facts(clients, &mut cache, &opts.cluster, &vpc_id, stack)
            .instrument(tracing::info_span!("resolve", stack = %stack.id))
            .await;
        let mut f = f;
        if let Some(message) = certificate_errors.get(&stack.id.to_string()) {
            f.certificates = Err(message.clone());
        }
        facts.push(f);
    }
    let empty = ObservedStack::default();
    let no_facts = StackFacts {
        subnets: Ok(Vec::new()),
        subnets_explicit: false,
        security_groups: Ok(Vec::new()),
        certificates: Ok(()),
    };
    if let Some(listing) = again {
        // A trusted stack may only register and deregister targets; for anything else it is
        // read again in full, so nothing is written on what was not read.
        let untrust = untrusted_changes(
            opts,
            desired,
            &facts,
            &observation,
            &vpc_id,
            shield_subscribed,
        );
        if !untrust.is_empty() {
            tracing::info!(
                stacks = untrust.len(),
                "trusted stacks with changes beyond targets: read again in full"
            );
            let full_scope = ObserveScope {
                requested: &untrust,
                all_owned: false,
                attributes: &attributes,
                trusted: &BTreeMap::new(),
            };
            let mut full = observe_listed(clients, &opts.cluster, &vpc_id, listing, &full_scope)
                .instrument(tracing::info_span!("observe_again", stacks = untrust.len()))
                .await?;
            for id in &untrust {
                if let Some(o) = full.stacks.remove(id) {
                    observation.stacks.insert(id.clone(), o);
                }
            }
        }
    }
    let mut inputs: Vec<StackInput<'_>> = desired
        .iter()
        .zip(&facts)
        .map(|(stack, f)| StackInput {
            id: stack.id.clone(),
            desired: Some(stack),
            observed: observation
                .stacks
                .get(&stack.id.to_string())
                .unwrap_or(&empty),
            facts: f,
        })
        .collect();
    let mut unplanned: BTreeMap<String, ObservedStack> = observation.unplanned.clone();
    for (id, observed) in &observation.stacks {
        if desired_ids.contains(id) {
            continue;
        }
        if opts.prune || opts.delete.contains(id) {
            inputs.push(StackInput {
                id: parse_stack_id(id),
                desired: None,
                observed,
                facts: &no_facts,
            });
        } else {
            unplanned.insert(id.clone(), observed.clone());
        }
    }
    let cluster = ClusterFacts {
        cluster: opts.cluster.clone(),
        vpc_id: vpc_id.clone(),
        backend_sg_name: backend_security_group_name(&opts.cluster),
        backend_sg: observation.backend_sg.clone(),
        target_security_groups: observation.target_security_groups.clone(),
        unplanned,
        foreign: observation.foreign.clone(),
        external_managed_tags: opts.external_managed_tags.clone(),
        unrestricted_sg_rules: opts.unrestricted_sg_rules,
        shield_subscribed,
    };
    let plan = tracing::info_span!("plan").in_scope(|| plan(&cluster, &inputs));
    let dns = match &opts.dns {
        Some(dns_opts) => Some(
            prepare_dns(clients, zone_cache, dns_opts, desired, &inputs, &plan, opts)
                .instrument(tracing::info_span!("dns_plan"))
                .await?,
        ),
        None => None,
    };
    Ok(PreparedPass {
        cluster: opts.cluster.clone(),
        vpc_id,
        claims,
        claim,
        observation,
        plan,
        dns,
        unrestricted_sg_rules: opts.unrestricted_sg_rules,
        hashes,
    })
}

/// The stacks with their ACM certificates discovered
/// ([`aws_lb_operator_core::certificates`]), when some listener needs discovery (`None`
/// otherwise: ACM is not read), and the message of each stack (id) whose discovery failed,
/// which keeps its records and is not planned. The issued certificates are listed once.
async fn discover_certificates(
    clients: &AwsClients,
    desired: &[Stack],
) -> (Option<Vec<Stack>>, BTreeMap<String, String>) {
    let mut errors = BTreeMap::new();
    if !desired.iter().any(certificates::needs_discovery) {
        return (None, errors);
    }
    let listed = crate::aws::acm::issued_certificates(&clients.acm).await;
    let resolved = desired
        .iter()
        .map(|stack| {
            if !certificates::needs_discovery(stack) {
                return stack.clone();
            }
            let result = match &listed {
                Ok(certs) => certificates::resolve_stack(stack, certs),
                Err(e) => Err(format!(
                    "certificate discovery: listing the ACM certificates failed: {e}"
                )),
            };
            match result {
                Ok(resolved) => resolved,
                Err(message) => {
                    tracing::warn!(stack = %stack.id, %message, "certificates not discovered");
                    errors.insert(stack.id.to_string(), message);
                    stack.clone()
                }
            }
        })
        .collect();
    (Some(resolved), errors)
}

/// Whether Shield protections are managed in this pass: some stack sets protection and the
/// account's Shield Advanced subscription is active. As LBC, a failed read is logged and
/// protections are left alone.
async fn shield_subscription(clients: &AwsClients, desired: &[Stack]) -> bool {
    if !desired
        .iter()
        .any(|s| s.load_balancer.shield_advanced_protection.is_some())
    {
        return false;
    }
    match crate::aws::addons::shield_subscribed(&clients.shield).await {
        Ok(active) => {
            if !active {
                tracing::info!(
                    "no active Shield Advanced subscription: protections are left alone"
                );
            }
            active
        }
        Err(e) => {
            tracing::warn!(error = %e, "Shield subscription state unknown: protections are left alone");
            false
        }
    }
}

/// The trusted stacks of `observation` for which a plan has changes other than target
/// registrations.
fn untrusted_changes(
    opts: &PassOptions,
    desired: &[Stack],
    facts: &[StackFacts],
    observation: &Observation,
    vpc_id: &str,
    shield_subscribed: bool,
) -> BTreeSet<String> {
    let empty = ObservedStack::default();
    let inputs: Vec<StackInput<'_>> = desired
        .iter()
        .zip(facts)
        .filter(|(s, _)| {
            observation
                .stacks
                .get(&s.id.to_string())
                .is_some_and(|o| o.trusted)
        })
        .map(|(stack, f)| StackInput {
            id: stack.id.clone(),
            desired: Some(stack),
            observed: observation
                .stacks
                .get(&stack.id.to_string())
                .unwrap_or(&empty),
            facts: f,
        })
        .collect();
    if inputs.is_empty() {
        return BTreeSet::new();
    }
    let cluster = ClusterFacts {
        cluster: opts.cluster.clone(),
        vpc_id: vpc_id.to_owned(),
        backend_sg_name: backend_security_group_name(&opts.cluster),
        backend_sg: observation.backend_sg.clone(),
        target_security_groups: observation.target_security_groups.clone(),
        unplanned: observation.unplanned.clone(),
        foreign: observation.foreign.clone(),
        external_managed_tags: opts.external_managed_tags.clone(),
        unrestricted_sg_rules: opts.unrestricted_sg_rules,
        shield_subscribed,
    };
    let p = plan(&cluster, &inputs);
    p.changes
        .iter()
        .filter(|c| !c.scope().is_cluster() && !trust::allowed_when_trusted(&c.op))
        .map(|c| c.stack.clone())
        .collect()
}

/// Reads the wanted hosted zones and their records, and plans the DNS changes of the pass.
async fn prepare_dns(
    clients: &AwsClients,
    cache: &mut ZoneCache,
    opts: &DnsOptions,
    desired: &[Stack],
    inputs: &[StackInput<'_>],
    plan: &Plan,
    pass: &PassOptions,
) -> Result<PreparedDns, AwsError> {
    cache.begin_pass();
    let zones: Vec<HostedZone> = cache
        .zones(clients)
        .await?
        .iter()
        .filter(|z| opts.wants_zone(z))
        .cloned()
        .collect();
    let mut records: Vec<(HostedZone, Vec<RecordSet>)> = Vec::with_capacity(zones.len());
    for zone in &zones {
        let r = cache.records(clients, zone).await?.to_vec();
        records.push((zone.clone(), r));
    }
    let failed: BTreeSet<&str> = plan.errors.iter().map(|e| e.stack.as_str()).collect();
    let creating: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.op, Op::CreateLoadBalancer { .. }))
        .map(|c| c.stack.as_str())
        .collect();
    let by_id: BTreeMap<String, &Stack> = desired.iter().map(|s| (s.id.to_string(), s)).collect();
    let mut pending_load_balancers = BTreeMap::new();
    let mut stacks = Vec::with_capacity(inputs.len());
    for input in inputs {
        let id = input.id.to_string();
        let current_dns_names: Vec<String> = input
            .observed
            .load_balancers
            .iter()
            .map(|lb| lb.dns_name.clone())
            .collect();
        let Some(stack) = input.desired.and_then(|_| by_id.get(&id).copied()) else {
            stacks.push(deleted_input(&input.id, current_dns_names));
            continue;
        };
        let target = if failed.contains(id.as_str()) {
            LbTarget::Unknown
        } else if creating.contains(id.as_str()) {
            pending_load_balancers.insert(id.clone(), stack.load_balancer.name.clone());
            LbTarget::Pending
        } else {
            // The stack's own load balancer (by name): after a failed replacement the old one
            // may still be there too.
            match input
                .observed
                .load_balancers
                .iter()
                .find(|lb| lb.name == stack.load_balancer.name)
            {
                Some(lb) => LbTarget::Known(LbAddress {
                    dns_name: lb.dns_name.clone(),
                    canonical_hosted_zone_id: lb.canonical_hosted_zone_id.clone(),
                }),
                None => LbTarget::Unknown,
            }
        };
        stacks.push(DnsStackInput {
            stack: input.id.clone(),
            hosts: &stack.hostnames,
            internal: stack.load_balancer.scheme == Scheme::Internal,
            dualstack: stack.load_balancer.ip_address_type != IpAddressType::Ipv4,
            target,
            current_dns_names,
            resources: stack.objects.clone(),
            held: &stack.held_hostnames,
        });
    }
    // Stacks to delete that own nothing observable any more still lose their records (a
    // pass that deleted the load balancer but failed on a record).
    let planned: BTreeSet<String> = inputs.iter().map(|i| i.id.to_string()).collect();
    for id in pass.delete.iter().filter(|id| !planned.contains(*id)) {
        stacks.push(deleted_input(&StackId::parse(id), Vec::new()));
    }
    let zone_records: Vec<ZoneRecords<'_>> = records
        .iter()
        .map(|(zone, records)| ZoneRecords { zone, records })
        .collect();
    let dns_plan = dns::plan_dns(opts, &zones, &zone_records, &stacks, &pass.hostname_owners);
    Ok(PreparedDns {
        zones,
        plan: dns_plan,
        pending_load_balancers,
    })
}

/// The DNS side of a stack being deleted: records aliasing its load balancers, or naming its
/// object (an implicit group's Ingress, a Service), are removed.
fn deleted_input<'a>(id: &StackId, current_dns_names: Vec<String>) -> DnsStackInput<'a> {
    let resources = match (id.kind, id.is_explicit()) {
        (StackKind::Service, _) => vec![format!("service/{}/{}", id.namespace, id.name)],
        (StackKind::Ingress, false) => vec![format!("ingress/{}/{}", id.namespace, id.name)],
        // An explicit group's records name its Ingresses, a Gateway's its routes (ExternalDNS's
        // resources): objects that may outlive the stack, or belong to another stack too. The
        // records aliasing the stack's load balancers are the ones that go.
        (StackKind::Ingress, true) | (StackKind::Gateway | StackKind::NlbGateway, _) => Vec::new(),
    };
    DnsStackInput {
        stack: id.clone(),
        hosts: &[],
        internal: false,
        dualstack: false,
        target: LbTarget::Deleted,
        current_dns_names,
        resources,
        held: &[],
    }
}

/// Executes a prepared plan: DNS changes with known targets (so records go before their load
/// balancer), the ELBv2/EC2 changes, then the records of load balancers created here.
pub async fn apply(
    clients: &AwsClients,
    prepared: &PreparedPass,
    opts: &ExecuteOptions,
) -> PassReport {
    apply_cached(clients, prepared, opts, &mut ZoneCache::new(Duration::ZERO)).await
}

/// [`apply`], keeping `cache` up to date with the records written.
pub async fn apply_cached(
    clients: &AwsClients,
    prepared: &PreparedPass,
    opts: &ExecuteOptions,
    cache: &mut ZoneCache,
) -> PassReport {
    apply_inner(clients, prepared, opts, cache).await
}

/// [`apply_cached`], then what a controller pass keeps between passes: the desired-state hash
/// is written on the load balancer of every stack whose changes, planned on a full read, are
/// all done ([`trust::hash_to_write`]); the region listing is updated for the stacks the pass
/// changed (read again by ARN), or dropped when a change failed.
pub async fn apply_with(
    clients: &AwsClients,
    prepared: &PreparedPass,
    opts: &ExecuteOptions,
    cache: &mut ZoneCache,
    region: Option<&tokio::sync::Mutex<RegionCache>>,
) -> PassReport {
    // Security groups and their rules change with anything but target registrations (the
    // cluster-scope changes too): no pass keeps them while this one runs.
    let sg_writes = prepared
        .plan
        .changes
        .iter()
        .any(|c| !trust::allowed_when_trusted(&c.op));
    if sg_writes {
        if let Some(region) = region {
            region.lock().await.begin_security_group_writes();
        }
    }
    let report = apply_inner(clients, prepared, opts, cache).await;
    let changes = &prepared.plan.changes;
    let outcomes = &report.elb.outcomes;
    // Stacks with any change, and those whose listing changed (more than targets).
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut relist: BTreeSet<String> = BTreeSet::new();
    // A stack that could not be planned (no subnets, certificates not discovered) was not
    // brought to its desired state: no hash is written for it.
    let mut failed: BTreeSet<&str> = prepared
        .plan
        .errors
        .iter()
        .map(|e| e.stack.as_str())
        .collect();
    for (c, o) in changes.iter().zip(outcomes) {
        if !c.scope().is_cluster() {
            changed.insert(c.stack.clone());
            if !trust::allowed_when_trusted(&c.op) {
                relist.insert(c.stack.clone());
            }
        }
        if !matches!(o, Outcome::Done) {
            failed.insert(c.stack.as_str());
        }
    }
    let mut exec = Executor::new(clients, opts);
    for (id, (lb_name, hash)) in &prepared.hashes {
        let observed = prepared
            .observation
            .stacks
            .get(id)
            .cloned()
            .unwrap_or_default();
        let Some(hash) = trust::hash_to_write(
            lb_name,
            hash,
            &observed,
            changed.contains(id),
            !failed.contains(id.as_str()),
        ) else {
            continue;
        };
        let arn = report
            .elb
            .created
            .get(&keys::load_balancer(id))
            .cloned()
            .or_else(|| {
                observed
                    .load_balancers
                    .iter()
                    .find(|lb| &lb.name == lb_name)
                    .map(|lb| lb.arn.clone())
            });
        let Some(arn) = arn else {
            continue;
        };
        let change = Change {
            stack: id.clone(),
            resource: format!("load balancer {lb_name}"),
            kind: ChangeKind::Modify,
            reason: Some("desired-state hash".to_owned()),
            op: Op::AddTags {
                resource: arn,
                tags: [(trust::DESIRED_HASH_TAG.to_owned(), hash)]
                    .into_iter()
                    .collect(),
            },
        };
        relist.insert(id.clone());
        match exec.execute(&change).await {
            Outcome::Done => {}
            // Not fatal: the stack is read in full until a later change writes it.
            other => {
                tracing::warn!(stack = %id, outcome = ?other, "desired-state hash not written")
            }
        }
    }
    if let Some(region) = region {
        let mut region = region.lock().await;
        if sg_writes {
            region.end_security_group_writes();
        }
        if !failed.is_empty() {
            region.invalidate();
        } else if !relist.is_empty() {
            let deleted: BTreeSet<&str> = changes
                .iter()
                .filter_map(|c| match &c.op {
                    Op::DeleteLoadBalancer { arn } | Op::DeleteTargetGroup { arn } => {
                        Some(arn.as_str())
                    }
                    _ => None,
                })
                .collect();
            let mut lb_arns = Vec::new();
            let mut tg_arns = Vec::new();
            for id in &relist {
                if let Some(o) = prepared.observation.stacks.get(id) {
                    lb_arns.extend(o.load_balancers.iter().map(|l| l.arn.clone()));
                    tg_arns.extend(o.target_groups.iter().map(|t| t.arn.clone()));
                }
            }
            for arn in report.elb.created.values() {
                if arn.contains(":loadbalancer/") {
                    lb_arns.push(arn.clone());
                } else if arn.contains(":targetgroup/") {
                    tg_arns.push(arn.clone());
                }
            }
            lb_arns.retain(|a| !deleted.contains(a.as_str()));
            tg_arns.retain(|a| !deleted.contains(a.as_str()));
            lb_arns.sort();
            lb_arns.dedup();
            tg_arns.sort();
            tg_arns.dedup();
            region.update(clients, &relist, &lb_arns, &tg_arns).await;
        }
    }
    report
}

async fn apply_inner(
    clients: &AwsClients,
    prepared: &PreparedPass,
    opts: &ExecuteOptions,
    cache: &mut ZoneCache,
) -> PassReport {
    let limits = dns::BatchLimits::default();
    let units = prepared
        .dns
        .as_ref()
        .map_or(&[][..], |d| d.plan.units.as_slice());
    let mut dns_outcomes = vec![DnsOutcome::Skipped; units.len()];
    let ready: Vec<(usize, dns::DnsUnit)> = units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.pending.is_none())
        .map(|(i, u)| (i, u.clone()))
        .collect();
    run_units(clients, cache, ready, &limits, &mut dns_outcomes).await;
    // A stack whose records could not be deleted keeps its load balancer: deleting it first
    // would leave the records aliasing nothing, with nothing left to tie them to the stack.
    let blocked: BTreeSet<&str> = units
        .iter()
        .zip(&dns_outcomes)
        .filter(|(u, o)| {
            // A delete is never pending: skipped means its batch failed.
            u.action() == Some(dns::DnsAction::Delete)
                && matches!(o, DnsOutcome::Failed(_) | DnsOutcome::Skipped)
        })
        .map(|(u, _)| u.stack.as_str())
        .collect();
    let changes = &prepared.plan.changes;
    let runnable: Vec<usize> = (0..changes.len())
        .filter(|i| {
            let c = &changes[*i];
            !(blocked.contains(c.stack.as_str()) && matches!(c.op, Op::DeleteLoadBalancer { .. }))
        })
        .collect();
    let mut elb = ExecuteReport {
        outcomes: (0..changes.len())
            .map(|_| Outcome::Skipped {
                reason: "the stack's DNS records could not be deleted first".to_owned(),
            })
            .collect(),
        ..ExecuteReport::default()
    };
    let ran = execute_scoped(clients, prepared, &runnable, opts)
        .instrument(tracing::info_span!("execute", changes = runnable.len()))
        .await;
    elb.created = ran.created;
    for (i, o) in runnable.into_iter().zip(ran.outcomes) {
        elb.outcomes[i] = o;
    }
    elb.repairs = ran.repairs;
    let waiting = units.iter().any(|u| u.pending.is_some());
    if let Some(prepared_dns) = prepared.dns.as_ref().filter(|_| waiting) {
        let names: Vec<String> = prepared_dns
            .pending_load_balancers
            .values()
            .cloned()
            .collect();
        match crate::aws::elbv2::load_balancer_addresses(&clients.elbv2, &names).await {
            Ok(addresses) => {
                // Units whose load balancer was not created stay Skipped.
                let resolved: Vec<(usize, dns::DnsUnit)> = units
                    .iter()
                    .enumerate()
                    .filter_map(|(i, unit)| {
                        let name = prepared_dns
                            .pending_load_balancers
                            .get(&unit.pending.as_ref()?.to_string())?;
                        let mut u = unit.clone();
                        u.resolve_alias(addresses.get(name)?);
                        Some((i, u))
                    })
                    .collect();
                run_units(clients, cache, resolved, &limits, &mut dns_outcomes).await;
            }
            Err(e) => {
                for (i, _) in units
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.pending.is_some())
                {
                    dns_outcomes[i] = DnsOutcome::Failed(format!(
                        "the address of the new load balancer could not be read: {e}"
                    ));
                }
            }
        }
    }
    PassReport {
        elb,
        dns: dns_outcomes,
    }
}

/// Serializes the cluster scope of the passes of this process: the leading cluster-wide
/// changes (backend security group, authorizations) of one pass, and the re-read, re-check and
/// trailing cluster-wide changes (revocations, backend delete, repairs) of another, never
/// interleave. Stack changes run outside it, concurrently.
static CLUSTER_SCOPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the passes of this process that are in flight claim, by pass, with their cluster.
static IN_FLIGHT: std::sync::Mutex<BTreeMap<u64, (String, Claims)>> =
    std::sync::Mutex::new(BTreeMap::new());

static NEXT_PASS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn in_flight() -> std::sync::MutexGuard<'static, BTreeMap<u64, (String, Claims)>> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A pass's claims, registered while it runs and released when it ends (or is dropped).
#[derive(Debug)]
struct Claim(u64);

impl Claim {
    fn register(cluster: &str, claims: &Claims) -> Self {
        let id = NEXT_PASS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        in_flight().insert(id, (cluster.to_owned(), claims.clone()));
        Self(id)
    }

    /// What the other passes in flight for `cluster` claim.
    fn others(&self, cluster: &str) -> Claims {
        let mut out = Claims::default();
        for (id, (c, claims)) in in_flight().iter() {
            if *id != self.0 && c == cluster {
                out.extend(claims);
            }
        }
        out
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        in_flight().remove(&self.0);
    }
}

/// Where a change runs: cluster-wide changes that add (the backend group, authorizations)
/// lead, under the lock; cluster-wide changes that remove (revocations, the backend group's
/// delete) trail, under the lock and re-checked against a fresh read; stack changes between.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Lead,
    Stacks,
    Trail,
}

fn phase(c: &Change) -> Phase {
    if !c.scope().is_cluster() {
        return Phase::Stacks;
    }
    match c.op {
        Op::RevokeSecurityGroupIngress { .. } | Op::DeleteSecurityGroup { .. } => Phase::Trail,
        _ => Phase::Lead,
    }
}

/// The result of [`execute_scoped`]: outcomes in the order of the indices given.
struct Scoped {
    outcomes: Vec<Outcome>,
    created: BTreeMap<String, String>,
    repairs: Vec<(Change, Outcome)>,
}

/// Runs the changes of `prepared` at `indices` so that no concurrent pass (in this process or
/// another) can undo this one's cluster-wide work, or this one another's:
///
/// 1. under [`CLUSTER_SCOPE`], the pass registers its claims (target ports, backend group) and
///    runs its leading cluster-wide changes (a duplicate create or authorization is adopted);
/// 2. the stack changes run;
/// 3. under the lock again, when the pass has cluster-wide changes or creates target groups,
///    the cluster scope is read again ([`observe_cluster_scope`]) and each trailing change is
///    re-checked by `core::planner::cluster`: a revocation keeps only permissions still present
///    whose port no target group uses now and no pass in flight claims; the backend group is
///    deleted only when nothing uses or claims it. Then every port in use that lacks its
///    permission is authorized again (after a fresh read if anything was revoked), repairing
///    a revocation another process made on a stale read.
async fn execute_scoped(
    clients: &AwsClients,
    prepared: &PreparedPass,
    indices: &[usize],
    opts: &ExecuteOptions,
) -> Scoped {
    let changes = &prepared.plan.changes;
    let mut outcomes: BTreeMap<usize, Outcome> = BTreeMap::new();
    let mut exec = Executor::new(clients, opts);
    let needs_scope = indices.iter().any(|i| {
        changes[*i].scope().is_cluster() || matches!(changes[*i].op, Op::CreateTargetGroup { .. })
    });
    let of = |p: Phase| {
        indices
            .iter()
            .copied()
            .filter(move |i| phase(&changes[*i]) == p)
    };

    {
        let _scope = CLUSTER_SCOPE.lock().await;
        for i in of(Phase::Lead) {
            if let Some(id) = backend_created_meanwhile(clients, prepared, &changes[i]).await {
                tracing::info!(group = %id, "backend security group created meanwhile by another pass: adopted");
                if let Some(key) = changes[i].creates() {
                    exec.adopt(key, id);
                }
                outcomes.insert(i, Outcome::Done);
                continue;
            }
            outcomes.insert(i, exec.execute(&changes[i]).await);
        }
    }
    for i in of(Phase::Stacks) {
        outcomes.insert(i, exec.execute(&changes[i]).await);
    }
    let mut repairs = Vec::new();
    {
        let _scope = CLUSTER_SCOPE.lock().await;
        let trail: Vec<usize> = of(Phase::Trail).collect();
        if needs_scope {
            // With nothing to remove, the pass checks its own ports only: a full read lists
            // every target group of the cluster, which made a cold start quadratic.
            let full = !trail.is_empty();
            let read = || async {
                let now = if full {
                    observe_cluster_scope(clients, &prepared.cluster, &prepared.vpc_id).await
                } else {
                    observe_cluster_scope_for(
                        clients,
                        &prepared.cluster,
                        &prepared.vpc_id,
                        &prepared.claims,
                    )
                    .await
                };
                now.map(|mut now| {
                    now.unrestricted_sg_rules = prepared.unrestricted_sg_rules;
                    now
                })
            };
            match read().await {
                Ok(now) => {
                    let others = prepared.claim.others(&prepared.cluster);
                    let mut revoked = false;
                    for i in trail {
                        let outcome = match recheck(&changes[i], &now, &others) {
                            Some(change) => {
                                revoked |=
                                    matches!(change.op, Op::RevokeSecurityGroupIngress { .. });
                                exec.execute(&change).await
                            }
                            // Nothing of it is left to do: what it would remove is gone
                            // already, or is used or claimed now. Done, so nobody retries it;
                            // said here, since the plan printed it as a removal.
                            None => {
                                tracing::info!(
                                    resource = %changes[i].resource,
                                    operation = changes[i].operation(),
                                    "not sent: re-checked against a fresh read, nothing of it is to be removed any more"
                                );
                                Outcome::Done
                            }
                        };
                        outcomes.insert(i, outcome);
                    }
                    let now = if revoked { read().await } else { Ok(now) };
                    match now {
                        Ok(now) => {
                            for change in cluster::missing_target_rules(&now, &others) {
                                tracing::warn!(
                                    resource = %change.resource,
                                    "a target port in use had lost its permission; authorizing it again"
                                );
                                let outcome = exec.execute(&change).await;
                                repairs.push((change, outcome));
                            }
                        }
                        Err(e) => tracing::warn!(
                            error = %e,
                            "the cluster scope could not be read again to check the target ports"
                        ),
                    }
                }
                Err(e) => {
                    for i in trail {
                        outcomes.insert(i, Outcome::Failed(ExecuteError::Aws(e.clone())));
                    }
                }
            }
        } else {
            for i in trail {
                outcomes.insert(i, exec.execute(&changes[i]).await);
            }
        }
    }
    let report = exec.finish();
    Scoped {
        outcomes: indices
            .iter()
            .map(|i| {
                outcomes.remove(i).unwrap_or(Outcome::Skipped {
                    reason: "not run".to_owned(),
                })
            })
            .collect(),
        created: report.created,
        repairs,
    }
}

/// For the plan's create of the shared backend security group: the id of the group when a
/// fresh read (under the cluster-scope lock) finds it created since the pass observed (a
/// concurrent pass of a cold start), so it is created once. `None` to create it (also when
/// the read fails: the create's own duplicate handling still adopts it).
async fn backend_created_meanwhile(
    clients: &AwsClients,
    prepared: &PreparedPass,
    change: &Change,
) -> Option<String> {
    let Op::CreateSecurityGroup {
        key, name, vpc_id, ..
    } = &change.op
    else {
        return None;
    };
    if key != keys::BACKEND_SG {
        return None;
    }
    let filters = vec![
        crate::aws::ec2::filter("vpc-id", [vpc_id.as_str()]),
        crate::aws::ec2::filter("group-name", [name.as_str()]),
    ];
    match crate::aws::ec2::describe_security_groups(&clients.ec2, filters).await {
        Ok(groups) => groups
            .into_iter()
            .find(|g| {
                aws_lb_operator_core::discovery::is_owned_by(&g.tags, &prepared.cluster)
                    && g.tags
                        .get(aws_lb_operator_core::planner::CLUSTER_RESOURCE_TAG)
                        .map(String::as_str)
                        == Some(aws_lb_operator_core::planner::BACKEND_SG_RESOURCE)
            })
            .map(|g| g.id),
        Err(e) => {
            tracing::warn!(error = %e, "backend security group not re-read before its create");
            None
        }
    }
}

/// A trailing cluster-wide change re-checked against the cluster scope as it is now: `None`
/// when nothing is left to do (what it would remove is gone, or in use again).
fn recheck(change: &Change, now: &ClusterNow, others: &Claims) -> Option<Change> {
    match &change.op {
        Op::RevokeSecurityGroupIngress { group, permissions } => {
            let left = cluster::still_revocable(group, permissions, now, others);
            if left.len() < permissions.len() {
                tracing::info!(
                    resource = %change.resource,
                    kept = permissions.len() - left.len(),
                    "permissions kept: a target group uses their port now, or they are gone"
                );
            }
            (!left.is_empty()).then(|| Change {
                op: Op::RevokeSecurityGroupIngress {
                    group: group.clone(),
                    permissions: left,
                },
                ..change.clone()
            })
        }
        Op::DeleteSecurityGroup { group }
            if now.backend_sg.as_ref().is_some_and(|b| b.id == *group) =>
        {
            if cluster::backend_still_unused(now, others) {
                Some(change.clone())
            } else {
                tracing::info!(
                    group,
                    "backend security group kept: a load balancer uses it now, or a pass in \
                     flight needs it"
                );
                None
            }
        }
        Op::DeleteSecurityGroup { .. } => {
            tracing::info!(resource = %change.resource, "already gone");
            None
        }
        _ => Some(change.clone()),
    }
}

/// Sends `batch` (units with their index in the plan) and records their outcomes at those
/// indices, keeping the zone cache up to date.
async fn run_units(
    clients: &AwsClients,
    cache: &mut ZoneCache,
    batch: Vec<(usize, dns::DnsUnit)>,
    limits: &dns::BatchLimits,
    outcomes: &mut [DnsOutcome],
) {
    if batch.is_empty() {
        return;
    }
    let (indices, batch): (Vec<usize>, Vec<dns::DnsUnit>) = batch.into_iter().unzip();
    let report = apply_units(clients, &batch, limits)
        .instrument(tracing::info_span!("dns_execute", units = batch.len()))
        .await;
    for ((i, unit), outcome) in indices.iter().zip(&batch).zip(report.outcomes) {
        if matches!(outcome, DnsOutcome::Done) {
            cache.applied(unit);
        } else {
            // Someone else changed the zone: read it again next pass.
            cache.invalidate(&unit.zone_id);
        }
        outcomes[*i] = outcome;
    }
}

/// A stack id from its display form (as observation keys are written).
pub fn parse_stack_id(s: &str) -> StackId {
    StackId::parse(s)
}
