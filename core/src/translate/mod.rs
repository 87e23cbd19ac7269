//! Pure translation of Kubernetes objects into the desired model.
//!
//! [`build`] takes a [`Snapshot`] of every relevant object and a [`BuildConfig`], and returns
//! the stacks that should exist plus one [`BuildError`] per problem. Nothing here performs I/O.
//!
//! The pipeline, one file per concern:
//! - [`group`]: class selection, IngressClassParams, group membership and order, and the
//!   member-by-member merge that leaves a bad member out instead of failing its group;
//! - [`member`](self): one Ingress → listen ports, rules, target groups;
//! - [`rule`], [`conditions`], [`actions`]: rules, their order and priorities;
//! - [`target_group`]: backends → target groups and targets;
//! - [`listener`], [`load_balancer`]: the group-level resources;
//! - [`service`]: LoadBalancer Services → Network Load Balancer stacks;
//! - [`binding`]: a TargetGroupBinding's targets (used by the controller, not by [`build`]);
//! - [`gateway`]: Gateway API Gateways and their routes → ALB and NLB stacks and their status
//!   ([`build_with_gateways`]).
pub mod actions;
pub mod annotations;
pub mod attributes;
pub mod auth;
pub mod binding;
pub mod conditions;
mod endpoints;
mod error;
pub mod gateway;
pub mod group;
pub mod hostnames;
pub mod incremental;
pub mod listener;
pub mod load_balancer;
mod member;
pub mod mtls;
pub mod params;
pub mod rule;
pub mod service;
pub mod target_group;
pub mod transforms;
pub mod unsupported;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

pub use error::{BuildError, ObjectRef};
pub use params::IngressClassParams;

use crate::model::{DesiredState, ObjectError, Scheme, Stack, StackId, TargetType};

/// Finalizer the AWS Load Balancer Controller (and we) put on an Ingress in its own implicit
/// group.
pub const INGRESS_FINALIZER: &str = "ingress.k8s.aws/resources";
/// Prefix of an explicit IngressGroup's finalizer on its Ingresses.
pub const GROUP_FINALIZER_PREFIX: &str = "group.ingress.k8s.aws/";
/// Label on Nodes that keeps them out of instance target groups.
pub const EXCLUDE_FROM_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// Label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label every Namespace carries with its own name (used when Namespace objects are absent).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Every object the translation reads.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Ingresses (all classes; others are skipped).
    pub ingresses: Vec<Ingress>,
    /// IngressClasses.
    pub ingress_classes: Vec<IngressClass>,
    /// IngressClassParams.
    pub ingress_class_params: Vec<IngressClassParams>,
    /// Services.
    pub services: Vec<Service>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Nodes (instance targets).
    pub nodes: Vec<Node>,
    /// Namespaces (labels for IngressClassParams `namespaceSelector`). Optional: a namespace
    /// that is absent is taken to carry only `kubernetes.io/metadata.name`.
    pub namespaces: Vec<Namespace>,
    /// The Secrets `auth-idp-oidc` annotations name ([`auth::SecretData`]: only their OIDC
    /// keys). A Secret that is absent is an error of the Ingresses that need it.
    pub secrets: Vec<auth::SecretData>,
}

/// AWS quotas checked in the model. The defaults are the AWS defaults; raise them only if the
/// account's quotas were raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rules per load balancer, default rules not counted (100).
    pub rules_per_load_balancer: usize,
    /// Target groups per load balancer (100).
    pub target_groups_per_load_balancer: usize,
    /// Condition values per rule (5).
    pub condition_values_per_rule: usize,
    /// Target groups per forward action (5).
    pub target_groups_per_action: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rules_per_load_balancer: 100,
            target_groups_per_load_balancer: 100,
            condition_values_per_rule: 5,
            target_groups_per_action: 5,
        }
    }
}

/// Operator-wide settings of the translation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildConfig {
    /// Cluster name (tags, generated names).
    pub cluster_name: String,
    /// Value of `kubernetes.io/ingress.class` that selects us (`alb`).
    pub ingress_class: String,
    /// `spec.controller` of IngressClasses that select us (`ingress.k8s.aws/alb`).
    pub controller: String,
    /// Target type when no annotation sets one (`instance`).
    pub default_target_type: TargetType,
    /// Scheme when no annotation sets one (`internal`).
    pub default_scheme: Scheme,
    /// TLS policy of HTTPS and TLS listeners when none is set (`ELBSecurityPolicy-2016-08`).
    pub default_ssl_policy: String,
    /// `spec.loadBalancerClass` of the LoadBalancer Services that are ours
    /// (`service.k8s.aws/nlb`).
    pub load_balancer_class: String,
    /// Whether Services with the in-tree `service.beta.kubernetes.io/aws-load-balancer-type: nlb`
    /// are ours too, replacing the in-tree cloud controller (`false`).
    pub manage_in_tree_nlb: bool,
    /// How listener rules are ordered (`--rule-order`; default: as the Ingress spec says).
    pub rule_order: rule::RuleOrdering,
    /// Tags on every resource created (`--default-tags`); they win over annotation and
    /// IngressClassParams tags, as in LBC, and never over the tracking tags.
    pub default_tags: BTreeMap<String, String>,
    /// Tag keys managed outside the operator (`--external-managed-tags`): no annotation may set
    /// them, and they are never removed from resources.
    pub external_managed_tags: Vec<String>,
    /// Whether load balancers with user security groups (`security-groups`) also get the shared
    /// backend security group and its rules on the node security groups, when no
    /// `manage-backend-security-group-rules` annotation says (LBC's
    /// `--enable-manage-backend-security-group-rules`, default `false`).
    pub manage_backend_security_group_rules: bool,
    /// AWS quotas.
    pub limits: Limits,
}

impl BuildConfig {
    /// LBC's defaults for a cluster.
    #[must_use]
    pub fn new(cluster_name: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_owned(),
            ingress_class: "alb".to_owned(),
            controller: "ingress.k8s.aws/alb".to_owned(),
            default_target_type: TargetType::Instance,
            default_scheme: Scheme::Internal,
            default_ssl_policy: "ELBSecurityPolicy-2016-08".to_owned(),
            load_balancer_class: "service.k8s.aws/nlb".to_owned(),
            manage_in_tree_nlb: false,
            rule_order: rule::RuleOrdering::Spec,
            default_tags: BTreeMap::new(),
            external_managed_tags: Vec::new(),
            manage_backend_security_group_rules: false,
            limits: Limits::default(),
        }
    }
}

/// An object the translation did not take, and why (not an error: e.g. another class).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    /// The object.
    pub object: ObjectRef,
    /// Why.
    pub reason: String,
}

/// Something the user should know about an object that changes nothing in its stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The object.
    pub object: ObjectRef,
    /// What, without the object.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}

/// Result of [`build`].
#[derive(Clone, Debug, Default)]
pub struct BuildOutput {
    /// Stacks sorted by id.
    pub stacks: Vec<Stack>,
    /// Errors sorted by object, then message, without duplicates.
    pub errors: Vec<BuildError>,
    /// Objects left alone on purpose (other classes, objects being deleted).
    pub skipped: Vec<Skipped>,
    /// Problems that change nothing in the stacks, sorted: annotations under LBC's or
    /// ExternalDNS's prefixes that are not implemented.
    pub warnings: Vec<Warning>,
    /// Every object that is ours and not being deleted (`ingress/ns/name`, `service/ns/name`),
    /// with the stack it belongs to — also when it has errors and was left out of that stack.
    /// A stack claimed by no object is no longer wanted; one claimed only by objects with
    /// errors must be left alone.
    pub claims: BTreeMap<String, StackId>,
}

impl BuildOutput {
    /// The `plan` contract: stacks plus `{object, message}` errors.
    #[must_use]
    pub fn desired_state(&self) -> DesiredState {
        DesiredState {
            stacks: self.stacks.clone(),
            dns_records: Vec::new(),
            errors: self
                .errors
                .iter()
                .map(|e| ObjectError {
                    object: e.object().to_string(),
                    message: e.to_string(),
                })
                .collect(),
            warnings: self
                .warnings
                .iter()
                .map(|w| ObjectError {
                    object: w.object.to_string(),
                    message: w.to_string(),
                })
                .collect(),
        }
    }
}

/// Lookups over a snapshot.
pub(crate) struct Index<'a> {
    pub(crate) config: &'a BuildConfig,
    services: BTreeMap<&'a str, BTreeMap<&'a str, &'a Service>>,
    slices: BTreeMap<&'a str, BTreeMap<&'a str, Vec<&'a EndpointSlice>>>,
    classes: BTreeMap<&'a str, &'a IngressClass>,
    params: BTreeMap<&'a str, &'a IngressClassParams>,
    namespaces: BTreeMap<&'a str, &'a BTreeMap<String, String>>,
    secrets: BTreeMap<(&'a str, &'a str), &'a auth::SecretData>,
    /// Instance ids of eligible Nodes, sorted.
    instances: Vec<String>,
    /// Nodes whose instance id cannot be read.
    pub(crate) node_errors: Vec<BuildError>,
    /// What the lookups since the last [`Index::take_reads`] read (see [`incremental`]).
    reads: std::cell::RefCell<std::collections::BTreeSet<incremental::Read>>,
}

fn meta_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn meta_namespace(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

/// Instance id from an AWS `spec.providerID` (`aws:///eu-west-1a/i-0123456789abcdef0`).
#[must_use]
pub fn instance_id(provider_id: &str) -> Option<&str> {
    let rest = provider_id.strip_prefix("aws://")?;
    let id = rest.rsplit('/').next()?;
    (id.starts_with("i-")
        && id.len() > 2
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then_some(id)
}

impl<'a> Index<'a> {
    pub(crate) fn new(snapshot: &'a Snapshot, config: &'a BuildConfig) -> Self {
        let mut slices: BTreeMap<&str, BTreeMap<&str, Vec<&EndpointSlice>>> = BTreeMap::new();
        for slice in &snapshot.endpoint_slices {
            let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            slices
                .entry(meta_namespace(&slice.metadata))
                .or_default()
                .entry(svc.as_str())
                .or_default()
                .push(slice);
        }
        for list in slices.values_mut().flat_map(BTreeMap::values_mut) {
            list.sort_by_key(|s| meta_name(&s.metadata));
        }
        let mut services: BTreeMap<&str, BTreeMap<&str, &Service>> = BTreeMap::new();
        for s in &snapshot.services {
            services
                .entry(meta_namespace(&s.metadata))
                .or_default()
                .insert(meta_name(&s.metadata), s);
        }
        let mut instances = Vec::new();
        let mut node_errors = Vec::new();
        for node in &snapshot.nodes {
            let excluded = node
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(EXCLUDE_FROM_LB_LABEL));
            if excluded {
                continue;
            }
            let provider = node
                .spec
                .as_ref()
                .and_then(|s| s.provider_id.as_deref())
                .unwrap_or_default();
            match instance_id(provider) {
                Some(id) => instances.push(id.to_owned()),
                None => node_errors.push(error::invalid_field(
                    &ObjectRef::cluster("node", meta_name(&node.metadata)),
                    "spec.providerID",
                    provider,
                    "aws:///<zone>/<instance id> so the node can be an instance target",
                )),
            }
        }
        instances.sort();
        instances.dedup();
        Self {
            config,
            services,
            slices,
            classes: snapshot
                .ingress_classes
                .iter()
                .map(|c| (meta_name(&c.metadata), c))
                .collect(),
            params: snapshot
                .ingress_class_params
                .iter()
                .map(|p| (meta_name(&p.metadata), p))
                .collect(),
            namespaces: snapshot
                .namespaces
                .iter()
                .filter_map(|n| {
                    n.metadata
                        .labels
                        .as_ref()
                        .map(|l| (meta_name(&n.metadata), l))
                })
                .collect(),
            secrets: snapshot
                .secrets
                .iter()
                .map(|s| ((s.namespace.as_str(), s.name.as_str()), s))
                .collect(),
            instances,
            node_errors,
            reads: std::cell::RefCell::default(),
        }
    }

    /// Records that the stack being built read `read`.
    pub(crate) fn record(&self, read: incremental::Read) {
        self.reads.borrow_mut().insert(read);
    }

    /// What was read since the last call.
    pub(crate) fn take_reads(&self) -> std::collections::BTreeSet<incremental::Read> {
        self.reads.take()
    }

    /// Instance ids of the eligible Nodes, sorted (a read of every Node).
    pub(crate) fn instances(&self) -> &[String] {
        self.record(incremental::Read::Nodes);
        &self.instances
    }

    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.record(incremental::Read::Service {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
        self.services
            .get(namespace)
            .and_then(|m| m.get(name))
            .copied()
    }

    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<&'a auth::SecretData> {
        self.record(incremental::Read::Secret {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
        self.secrets.get(&(namespace, name)).copied()
    }

    pub(crate) fn endpoint_slices(&self, namespace: &str, service: &str) -> &[&'a EndpointSlice] {
        self.record(incremental::Read::EndpointSlices {
            namespace: namespace.to_owned(),
            service: service.to_owned(),
        });
        self.slices
            .get(namespace)
            .and_then(|m| m.get(service))
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn ingress_class(&self, name: &str) -> Option<&'a IngressClass> {
        self.classes.get(name).copied()
    }

    pub(crate) fn params(&self, name: &str) -> Option<&'a IngressClassParams> {
        self.params.get(name).copied()
    }

    /// Labels of a namespace; `kubernetes.io/metadata.name` only when the object is absent.
    pub(crate) fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .get(name)
            .map(|l| (*l).clone())
            .unwrap_or_default();
        labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
        labels
    }
}

/// `--default-tags` on every resource of a stack: they win over annotation and
/// IngressClassParams tags (LBC's default), never over the tracking tags.
fn apply_default_tags(stack: &mut Stack, defaults: &BTreeMap<String, String>) {
    let apply = |tags: &mut BTreeMap<String, String>| {
        for (k, v) in defaults {
            if !crate::model::tags::RESERVED.contains(&k.as_str()) {
                tags.insert(k.clone(), v.clone());
            }
        }
    };
    apply(&mut stack.load_balancer.tags);
    for l in &mut stack.listeners {
        apply(&mut l.tags);
        for r in &mut l.rules {
            apply(&mut r.tags);
        }
    }
    for tg in &mut stack.target_groups {
        apply(&mut tg.tags);
    }
}

/// Translates a snapshot into stacks and errors: IngressGroups into ALB stacks, LoadBalancer
/// Services into NLB stacks. (Built unit by unit: [`incremental::Model`] keeps the units to
/// rebuild only those a change touches.)
#[must_use]
pub fn build(snapshot: &Snapshot, config: &BuildConfig) -> BuildOutput {
    incremental::Model::full(snapshot, config).output()
}

/// [`build`] with the Gateway API objects as well: their stacks, errors, skipped objects and
/// claims are merged into the output, and their status is returned beside it. With no Gateway
/// API object this is [`build`].
#[must_use]
pub fn build_with_gateways(
    snapshot: &Snapshot,
    gateways: &gateway::GatewayObjects,
    config: &BuildConfig,
) -> (BuildOutput, gateway::status::Statuses) {
    let mut out = build(snapshot, config);
    if gateways.is_empty() {
        return (out, gateway::status::Statuses::default());
    }
    let mut g = gateway::build(gateways, snapshot, config);
    if !config.default_tags.is_empty() {
        for stack in &mut g.stacks {
            apply_default_tags(stack, &config.default_tags);
        }
    }
    out.stacks.extend(g.stacks);
    out.stacks.sort_by(|a, b| a.id.cmp(&b.id));
    let mut keyed: Vec<(String, String, BuildError)> = out
        .errors
        .into_iter()
        .chain(g.errors)
        .map(|e| (e.object().to_string(), e.to_string(), e))
        .collect();
    keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    keyed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    out.errors = keyed.into_iter().map(|(_, _, e)| e).collect();
    out.skipped.extend(g.skipped);
    out.skipped.sort();
    out.warnings.extend(g.warnings);
    out.warnings.sort();
    out.claims.extend(g.claims);
    (out, g.status)
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
