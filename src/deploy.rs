//! One deploy pass: observe what the cluster owns, resolve subnets and security groups, plan
//! (pure, in `core`), and optionally execute. Shared by `diff`, `apply` and the controller.
use std::collections::{BTreeMap, BTreeSet};

use aws_lb_operator_core::deploy::{
    plan, ClusterFacts, ObservedStack, Plan, StackFacts, StackInput,
};
use aws_lb_operator_core::model::{backend_security_group_name, Stack, StackId};
use tracing::Instrument;

use crate::aws::execute::{execute, ExecuteOptions, ExecuteReport};
use crate::aws::observe::{observe_selective, AttributeScope, Observation};
use crate::aws::resolve::{resolve_vpc, stack_facts, ResolveError, SubnetCache};
use crate::aws::{AwsClients, AwsError};

/// Why a pass could not be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The VPC could not be determined.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Reading AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What one pass covers.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// Cluster name (ownership tags).
    pub cluster: String,
    /// VPC; discovered from the load-balancer subnets when `None`.
    pub vpc_id: Option<String>,
    /// Also delete the cluster's stacks that are not desired.
    pub prune: bool,
}

/// A planned pass, ready to print or execute.
#[derive(Debug)]
pub struct PreparedPass {
    /// VPC of the pass.
    pub vpc_id: String,
    /// What was observed.
    pub observation: Observation,
    /// The planned changes.
    pub plan: Plan,
}

/// Observes, resolves and plans `desired` (plus, with `prune`, the deletion of every other
/// stack the cluster owns). Reads only.
pub async fn prepare(
    clients: &AwsClients,
    opts: &PassOptions,
    desired: &[Stack],
) -> Result<PreparedPass, DeployError> {
    let vpc_id = resolve_vpc(clients, &opts.cluster, opts.vpc_id.as_deref())
        .instrument(tracing::info_span!("resolve_vpc"))
        .await?;
    let requested: BTreeSet<String> = desired.iter().map(|s| s.id.to_string()).collect();
    // Attributes are compared on the keys a stack sets, so only those stacks' are read.
    let attributes = AttributeScope::Only {
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
    };
    let observation = observe_selective(
        clients,
        &opts.cluster,
        &vpc_id,
        &requested,
        opts.prune,
        &attributes,
    )
    .instrument(tracing::info_span!("observe", stacks = requested.len()))
    .await?;

    let mut cache = SubnetCache::default();
    let mut facts = Vec::with_capacity(desired.len());
    for stack in desired {
        let f = stack_facts(clients, &mut cache, &opts.cluster, &vpc_id, stack)
            .instrument(tracing::info_span!("resolve", stack = %stack.id))
            .await;
        facts.push(f);
    }
    let empty = ObservedStack::default();
    let no_facts = StackFacts {
        subnets: Ok(Vec::new()),
        subnets_explicit: false,
        security_groups: Ok(Vec::new()),
    };
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
        if requested.contains(id) {
            continue;
        }
        if opts.prune {
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
    };
    let plan = tracing::info_span!("plan").in_scope(|| plan(&cluster, &inputs));
    Ok(PreparedPass {
        vpc_id,
        observation,
        plan,
    })
}

/// Executes a prepared plan.
pub async fn apply(
    clients: &AwsClients,
    prepared: &PreparedPass,
    opts: &ExecuteOptions,
) -> ExecuteReport {
    execute(clients, &prepared.plan.changes, opts)
        .instrument(tracing::info_span!(
            "execute",
            changes = prepared.plan.changes.len()
        ))
        .await
}

/// A stack id from its display form (as observation keys are written).
pub fn parse_stack_id(s: &str) -> StackId {
    StackId::parse(s)
}
