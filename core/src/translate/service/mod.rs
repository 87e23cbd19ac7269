//! LoadBalancer Services → Network Load Balancer stacks, compatible with the AWS Load Balancer
//! Controller's Service annotations, defaults, names and tags.
//!
//! One stack per Service that is ours (id `service:namespace/name`): one NLB, one listener per
//! Service port (TCP and UDP on the same number share a `TCP_UDP` listener), one target group
//! per listener. A Service with any invalid input gets no stack and one error; nothing is
//! partially built, so a deployer leaves its existing load balancer alone.
//!
//! One file per concern:
//! - [`annotations`]: the `service.beta.kubernetes.io/aws-load-balancer-*` annotations;
//! - [`load_balancer`]: name, scheme, subnets, addresses, security groups, attributes;
//! - [`listener`]: Service ports → listeners (protocols, TLS);
//! - [`target_group`]: target type, targets, health check, attributes, names.
pub mod annotations;
pub mod listener;
pub mod load_balancer;
pub mod target_group;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Service};
use sha2::{Digest, Sha256};

use self::annotations::{LegacyType, ServiceSettings, NLB_TARGET_TYPE, TYPE};
use super::annotations::Annotations;
use super::error::{invalid_annotation, BuildError, ObjectRef};
use super::{instance_id, meta_name, meta_namespace, Index, Skipped, EXCLUDE_FROM_LB_LABEL};
use crate::model::{sanitize_name_part, Stack, StackId, TargetType};

/// `k8s-<namespace[:8]>-<name[:8]>-<hash[:10]>`, LBC's shape for Service load balancers and
/// target groups: name parts keep only ASCII letters and digits, and the hash is the hex
/// SHA-256 of the concatenated `hash_inputs`.
#[must_use]
pub fn generated_name(namespace: &str, name: &str, hash_inputs: &[&str]) -> String {
    let part = |s: &str| {
        let clean = sanitize_name_part(s);
        // Sanitised names are ASCII, so byte and char positions agree.
        clean
            .get(..clean.len().min(8))
            .unwrap_or_default()
            .to_owned()
    };
    let mut hasher = Sha256::new();
    for input in hash_inputs {
        hasher.update(input.as_bytes());
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("k8s-{}-{}-{hash}", part(namespace), part(name))
}

/// Output of [`build_service`], over one or more Services.
#[derive(Debug, Default)]
pub(crate) struct ServiceOutput {
    /// One stack per Service that is ours and valid.
    pub(crate) stacks: Vec<Stack>,
    /// Errors: invalid Services (no stack), and problems that leave a target group short of
    /// targets (the stack is still built).
    pub(crate) errors: Vec<BuildError>,
    /// LoadBalancer Services that are not ours, or are being deleted.
    pub(crate) skipped: Vec<Skipped>,
    /// Services that are ours, with their stack.
    pub(crate) claims: std::collections::BTreeMap<String, StackId>,
}

/// Why a LoadBalancer Service is ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selected {
    /// `spec.loadBalancerClass` is ours.
    Class,
    /// `aws-load-balancer-type` is `external`, `nlb-ip`, or (when configured) `nlb`.
    Legacy(LegacyType),
}

/// Whether a LoadBalancer Service is ours, or the reason it is not.
fn classify(index: &Index<'_>, svc: &Service) -> Result<Selected, String> {
    let config = index.config;
    if let Some(class) = svc
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref())
    {
        return if class == config.load_balancer_class {
            Ok(Selected::Class)
        } else {
            Err(format!(
                "spec.loadBalancerClass is {class:?}, not {:?}",
                config.load_balancer_class
            ))
        };
    }
    let raw = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(TYPE))
        .map(|v| v.trim());
    match raw.map(|v| (v, LegacyType::parse(v))) {
        None => Err(format!(
            "no spec.loadBalancerClass and no annotation {TYPE}: left to the in-tree cloud controller"
        )),
        Some((_, Some(LegacyType::Nlb))) if !config.manage_in_tree_nlb => Err(format!(
            "annotation {TYPE} is \"nlb\", which the in-tree cloud controller serves (the operator takes it over only when configured to manage in-tree NLBs)"
        )),
        Some((_, Some(t))) => Ok(Selected::Legacy(t)),
        Some((v, None)) => Err(format!(
            "annotation {TYPE} is {v:?}, not \"external\" or \"nlb-ip\": left to the in-tree cloud controller"
        )),
    }
}

/// Everything the per-concern builders need about one Service.
pub(crate) struct ServiceContext<'a> {
    /// Lookups (EndpointSlices) and the configuration.
    pub(crate) index: &'a Index<'a>,
    /// The Service.
    pub(crate) svc: &'a Service,
    /// `service namespace/name`, for messages.
    pub(crate) object: ObjectRef,
    /// Namespace.
    pub(crate) namespace: String,
    /// Name.
    pub(crate) name: String,
    /// `service:namespace/name`.
    pub(crate) stack: StackId,
    /// Parsed annotations.
    pub(crate) settings: ServiceSettings,
    /// Target type of every target group.
    pub(crate) target_type: TargetType,
    /// Whether the Service came in through the in-tree `nlb` type.
    pub(crate) in_tree: bool,
    /// Instance ids of eligible Nodes (instance targets only), sorted.
    pub(crate) instances: Vec<String>,
}

impl ServiceContext<'_> {
    /// `metadata.uid` (empty in offline manifests without one).
    pub(crate) fn uid(&self) -> &str {
        self.svc.metadata.uid.as_deref().unwrap_or_default()
    }

    /// Cluster name.
    pub(crate) fn cluster(&self) -> &str {
        &self.index.config.cluster_name
    }
}

/// The target type: `aws-load-balancer-nlb-target-type`, `ip` for `nlb-ip`, `instance` for a
/// Service taken over from the in-tree `nlb` type, else `--default-target-type` (as LBC's
/// `buildTargetType`).
fn target_type(
    object: &ObjectRef,
    settings: &ServiceSettings,
    selected: Selected,
    default: TargetType,
) -> Result<TargetType, BuildError> {
    let nlb_ip = matches!(selected, Selected::Legacy(LegacyType::NlbIp))
        || settings.legacy_type == Some(LegacyType::NlbIp);
    match (settings.target_type, nlb_ip) {
        (Some(TargetType::Instance), true) => Err(invalid_annotation(
            object,
            NLB_TARGET_TYPE,
            TargetType::Instance.as_str(),
            format!("\"ip\" (or no annotation), because annotation {TYPE} is \"nlb-ip\""),
        )),
        (Some(t), _) => Ok(t),
        (None, true) => Ok(TargetType::Ip),
        (None, false) if selected == Selected::Legacy(LegacyType::Nlb) => Ok(TargetType::Instance),
        (None, false) => Ok(default),
    }
}

/// Instance ids of the Nodes that may be targets: not excluded by label, matching
/// `target-node-labels`; Nodes without an AWS provider id are errors on the Node.
fn eligible_instances(
    nodes: &[Node],
    selector: &BTreeMap<String, String>,
    errors: &mut Vec<BuildError>,
) -> Vec<String> {
    let mut out = Vec::new();
    for node in nodes {
        let labels = node.metadata.labels.as_ref();
        if labels.is_some_and(|l| l.contains_key(EXCLUDE_FROM_LB_LABEL)) {
            continue;
        }
        let selected = selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !selected {
            continue;
        }
        let provider = node
            .spec
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .unwrap_or_default();
        match instance_id(provider) {
            Some(id) => out.push(id.to_owned()),
            None => errors.push(super::error::invalid_field(
                &ObjectRef::cluster("node", meta_name(&node.metadata)),
                "spec.providerID",
                provider,
                "aws:///<zone>/<instance id> so the node can be an instance target",
            )),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Builds the stack of one Service that is ours. `Err` is the reason no stack is built;
/// `warnings` collects problems that leave the stack built.
fn build_one(
    index: &Index<'_>,
    nodes: &[Node],
    svc: &Service,
    selected: Selected,
    warnings: &mut Vec<BuildError>,
) -> Result<Stack, BuildError> {
    let namespace = meta_namespace(&svc.metadata).to_owned();
    let name = meta_name(&svc.metadata).to_owned();
    let object = ObjectRef::namespaced("service", &namespace, &name);
    let a = Annotations::new(&object, svc.metadata.annotations.as_ref());
    let settings = ServiceSettings::parse(&a)?;
    crate::translate::annotations::check_external_tags(
        &a,
        annotations::ADDITIONAL_RESOURCE_TAGS,
        Some(&settings.tags),
        &index.config.external_managed_tags,
    )?;
    let target_type = target_type(
        &object,
        &settings,
        selected,
        index.config.default_target_type,
    )?;
    let mut node_errors = Vec::new();
    let instances = if target_type == TargetType::Instance {
        index.record(super::incremental::Read::Nodes);
        eligible_instances(nodes, &settings.target_node_labels, &mut node_errors)
    } else {
        Vec::new()
    };
    let ctx = ServiceContext {
        index,
        svc,
        stack: StackId::service(&namespace, &name),
        object,
        namespace,
        name,
        settings,
        target_type,
        in_tree: selected == Selected::Legacy(LegacyType::Nlb),
        instances,
    };
    let load_balancer = load_balancer::build(&ctx)?;
    let ports = listener::plan_ports(&ctx)?;
    let mut listeners = Vec::with_capacity(ports.len());
    let mut target_groups = Vec::with_capacity(ports.len());
    let mut tg_warnings = Vec::new();
    for port in &ports {
        let tg = target_group::build(&ctx, port, &mut tg_warnings)?;
        listeners.push(listener::build(&ctx, port, &tg.id));
        target_groups.push(tg);
    }
    listeners.sort_by_key(|l| l.port);
    target_groups.sort_by(|a, b| a.id.cmp(&b.id));
    warnings.extend(node_errors);
    warnings.extend(tg_warnings);
    let hostnames =
        super::hostnames::hosts(&ctx.object, &svc.metadata, std::iter::empty(), warnings);
    Ok(Stack {
        id: ctx.stack,
        load_balancer,
        listeners,
        target_groups,
        hostnames,
        held_hostnames: Vec::new(),
        objects: vec![format!("service/{}/{}", ctx.namespace, ctx.name)],
    })
}

/// Translates every LoadBalancer Service that is ours.
/// One Service's part of the output (nothing when it is not a LoadBalancer): its stack,
/// errors, claim, or why it was skipped. It reads the Service, its EndpointSlices and (for
/// instance targets) the Nodes, nothing else.
pub(crate) fn build_service(
    index: &Index<'_>,
    svc: &Service,
    nodes: &[Node],
    out: &mut ServiceOutput,
) {
    let is_lb = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    if !is_lb {
        return;
    }
    let namespace = meta_namespace(&svc.metadata);
    let name = meta_name(&svc.metadata);
    let object = ObjectRef::namespaced("service", namespace, name);
    let selected = match classify(index, svc) {
        Ok(s) => s,
        Err(reason) => {
            out.skipped.push(Skipped { object, reason });
            return;
        }
    };
    if svc.metadata.deletion_timestamp.is_some() {
        out.skipped.push(Skipped {
            object,
            reason: "being deleted".into(),
        });
        return;
    }
    let stack = StackId::service(namespace, name);
    if name.is_empty() {
        out.errors.push(
            super::error::invalid_field(&object, "metadata.name", "", super::group::NAME_EXPECTED)
                .exclude(&object, &stack),
        );
        return;
    }
    out.claims
        .insert(format!("service/{namespace}/{name}"), stack.clone());
    match build_one(index, nodes, svc, selected, &mut out.errors) {
        Ok(s) => out.stacks.push(s),
        Err(e) => out.errors.push(e.exclude(&object, &stack)),
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
