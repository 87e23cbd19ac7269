//! One Ingress → its listen ports, rules (with sort keys), default action and target groups.
//!
//! An `Err` means the member is invalid and is left out of its group. Backends that cannot be
//! resolved are not member errors: they are reported and their rules answer 503.
use std::cmp::Reverse;
use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::IngressBackend;

use super::actions::{self, ForwardTarget, ParsedAction};
use super::annotations::{
    Annotations, IngressSettings, ListenPort, CONDITIONS_PREFIX, LISTEN_PORTS, USE_ANNOTATION,
};
use super::auth;
use super::conditions;
use super::error::{invalid_field, BuildError, ObjectRef};
use super::group::Member;
use super::listener::member_ports;
use super::rule::{self, PathType, PendingRule, RuleOrder};
use super::target_group::{self, PortRef};
use super::Index;
use crate::model::{
    ActionSpec, ConditionSpec, FixedResponseSpec, StackId, TargetGroupRef, TargetGroupSpec,
    TargetType,
};

/// A member compiled on its own, before the group merge.
#[derive(Clone, Debug)]
pub(crate) struct MemberPlan {
    pub(crate) object: ObjectRef,
    pub(crate) settings: IngressSettings,
    pub(crate) listen_ports_raw: Option<String>,
    pub(crate) listen_ports: Vec<ListenPort>,
    pub(crate) rules: Vec<PendingRule>,
    pub(crate) default_action: Option<ActionSpec>,
    /// The authentication action before `default_action` on HTTPS listeners.
    pub(crate) default_auth: Option<ActionSpec>,
    pub(crate) target_groups: BTreeMap<String, TargetGroupSpec>,
    pub(crate) backend_errors: Vec<BuildError>,
    pub(crate) uses_instance_targets: bool,
    /// Hosts whose ACM certificates its HTTPS ports take, when it names no certificate (its
    /// rule hosts and TLS hosts, sorted, as LBC); `None` when it names certificates or has no
    /// HTTPS port.
    pub(crate) discovery_hosts: Option<Vec<String>>,
}

/// The hosts LBC discovers certificates for: every `spec.rules[].host` and
/// `spec.tls[].hosts`, sorted, without duplicates or empty ones.
#[must_use]
pub(crate) fn certificate_hosts(
    ingress: &k8s_openapi::api::networking::v1::Ingress,
) -> Vec<String> {
    let spec = ingress.spec.as_ref();
    let rule_hosts = spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.host.clone());
    let tls_hosts = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.clone().unwrap_or_default());
    let hosts: std::collections::BTreeSet<String> = rule_hosts
        .chain(tls_hosts)
        .filter(|h| !h.is_empty())
        .collect();
    hosts.into_iter().collect()
}

/// What a rule whose backend cannot be resolved answers.
#[must_use]
pub fn backend_unavailable_action() -> ActionSpec {
    ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "503".into(),
        content_type: Some("text/plain".into()),
        message_body: Some("backend not available".into()),
    })
}

struct Backends<'i, 'a, 'm> {
    index: &'i Index<'a>,
    stack: &'m StackId,
    member: &'m Member<'a>,
    cache: BTreeMap<(String, PortRef), Option<String>>,
    target_groups: BTreeMap<String, TargetGroupSpec>,
    errors: Vec<BuildError>,
    uses_instances: bool,
    /// Service names of every backend (the names `actions.<name>` and `conditions.<name>`
    /// refer to).
    referenced: Vec<String>,
}

impl Backends<'_, '_, '_> {
    /// Target group id for `service:port`, building it on first use; `None` if unresolvable.
    fn target_group(&mut self, service: &str, port: &PortRef) -> Option<String> {
        let key = (service.to_owned(), port.clone());
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let built = target_group::build(
            self.index,
            self.stack,
            self.member,
            service,
            port,
            &mut self.errors,
        );
        let result = match built {
            Ok(tg) => {
                self.uses_instances |= tg.target_type == TargetType::Instance;
                let id = tg.id.clone();
                self.target_groups.insert(id.clone(), tg);
                Some(id)
            }
            Err(reason) => {
                self.errors.push(BuildError::Backend {
                    object: self.member.object.clone(),
                    backend: format!("service {}/{service}:{port}", self.member.namespace),
                    reason,
                });
                None
            }
        };
        self.cache.insert(key, result.clone());
        result
    }

    fn forward(&mut self, service: &str, port: &PortRef) -> ActionSpec {
        match self.target_group(service, port) {
            Some(id) => ActionSpec::Forward {
                target_groups: vec![TargetGroupRef {
                    id: Some(id),
                    arn: None,
                    name: None,
                    weight: 1,
                }],
                stickiness: None,
            },
            None => backend_unavailable_action(),
        }
    }

    fn custom(&mut self, parsed: ParsedAction) -> ActionSpec {
        match parsed {
            ParsedAction::FixedResponse(f) => ActionSpec::FixedResponse(f),
            ParsedAction::Redirect(r) => ActionSpec::Redirect(r),
            ParsedAction::Forward {
                targets,
                stickiness,
            } => {
                let mut refs = Vec::with_capacity(targets.len());
                for (target, weight) in targets {
                    let r = match target {
                        ForwardTarget::Arn(arn) => TargetGroupRef {
                            id: None,
                            arn: Some(arn),
                            name: None,
                            weight,
                        },
                        ForwardTarget::Name(name) => TargetGroupRef {
                            id: None,
                            arn: None,
                            name: Some(name),
                            weight,
                        },
                        ForwardTarget::Service { name, port } => {
                            match self.target_group(&name, &port) {
                                Some(id) => TargetGroupRef {
                                    id: Some(id),
                                    arn: None,
                                    name: None,
                                    weight,
                                },
                                None => return backend_unavailable_action(),
                            }
                        }
                    };
                    refs.push(r);
                }
                ActionSpec::Forward {
                    target_groups: refs,
                    stickiness,
                }
            }
        }
    }

    /// The authentication action of a backend whose action forwards to `single_service`
    /// (when it forwards to exactly one Service), on the member's HTTPS listeners; `None`
    /// without `auth-type`, or when the member has no HTTPS listener (its annotations are
    /// still checked).
    fn auth_action(
        &self,
        annotations: &Annotations<'_>,
        single_service: Option<&str>,
        https: bool,
    ) -> Result<Option<ActionSpec>, BuildError> {
        let namespace = self.member.namespace.as_str();
        let service = single_service.and_then(|name| self.index.service(namespace, name));
        let service_object = service.map(|s| {
            ObjectRef::namespaced(
                "service",
                namespace,
                s.metadata.name.as_deref().unwrap_or_default(),
            )
        });
        let sources = auth::Sources {
            ingress: *annotations,
            service: service
                .zip(service_object.as_ref())
                .map(|(s, o)| Annotations::new(o, s.metadata.annotations.as_ref())),
        };
        let config = auth::parse(&sources)?;
        if !https || !config.enabled() {
            return Ok(None);
        }
        auth::action(&config, &self.member.object, namespace, |name| {
            self.index.secret(namespace, name)
        })
    }

    /// The action of an Ingress backend, plus the service name (for `conditions.<name>`) and
    /// its authentication action on HTTPS listeners.
    fn backend_action(
        &mut self,
        annotations: &Annotations<'_>,
        backend: &IngressBackend,
        field: &str,
        https: bool,
    ) -> Result<(ActionSpec, String, Option<ActionSpec>), BuildError> {
        let object = &self.member.object;
        let Some(svc) = &backend.service else {
            return Err(invalid_field(
                object,
                format!("{field}.resource"),
                backend.resource.as_ref().map_or("", |r| r.name.as_str()),
                "a service backend (resource backends are not supported)",
            ));
        };
        let Some(port) = PortRef::from_backend(svc.port.as_ref()) else {
            return Err(invalid_field(
                object,
                format!("{field}.service.port"),
                "",
                "a port number or name",
            ));
        };
        self.referenced.push(svc.name.clone());
        if port == PortRef::Name(USE_ANNOTATION.to_owned()) {
            let limit = self.index.config.limits.target_groups_per_action;
            let parsed = actions::parse(annotations, &svc.name, limit)?.ok_or_else(|| {
                BuildError::NotFound {
                    object: object.clone(),
                    field: format!("{field}.service (port {USE_ANNOTATION})"),
                    target: format!(
                        "annotation {}{}",
                        super::annotations::ACTIONS_PREFIX,
                        svc.name
                    ),
                }
            })?;
            let single = match &parsed {
                ParsedAction::Forward { targets, .. } => match targets.as_slice() {
                    [(ForwardTarget::Service { name, .. }, _)] => Some(name.clone()),
                    _ => None,
                },
                _ => None,
            };
            let auth = self.auth_action(annotations, single.as_deref(), https)?;
            return Ok((self.custom(parsed), svc.name.clone(), auth));
        }
        let auth = self.auth_action(annotations, Some(&svc.name), https)?;
        Ok((self.forward(&svc.name, &port), svc.name.clone(), auth))
    }
}

/// `actions.<name>` and `conditions.<name>` annotations that no backend refers to are not
/// used, but a malformed one is still reported (it would break the member the day a rule
/// uses it), without leaving the member out.
fn unused_annotations(
    a: &Annotations<'_>,
    referenced: &[String],
    index: &Index<'_>,
    errors: &mut Vec<BuildError>,
) {
    let Some(map) = a.all() else { return };
    let object = a.object();
    for key in map.keys() {
        let (name, is_action) = match (
            key.strip_prefix(super::annotations::ACTIONS_PREFIX),
            key.strip_prefix(CONDITIONS_PREFIX),
        ) {
            (Some(name), _) => (name, true),
            (None, Some(name)) => (name, false),
            (None, None) => continue,
        };
        if referenced.iter().any(|r| r == name) {
            continue;
        }
        let problem = if is_action {
            let limit = index.config.limits.target_groups_per_action;
            actions::parse(a, name, limit).err()
        } else {
            conditions::parse(a, name).err()
        };
        if let Some(reason) = problem {
            errors.push(BuildError::Unused {
                object: object.clone(),
                consequence: format!(
                    "no backend of {object} is named {name:?}, so nothing uses it yet and {object} is built without it"
                ),
                reason: Box::new(reason),
            });
        }
    }
}

/// Compiles one member. `position` is its index in member order.
pub(crate) fn compile(
    index: &Index<'_>,
    stack: &StackId,
    member: &Member<'_>,
    position: usize,
) -> Result<MemberPlan, BuildError> {
    let object = &member.object;
    let a = Annotations::new(object, member.ingress.metadata.annotations.as_ref());
    let settings = &member.settings;
    let has_certs = settings
        .certificate_arns
        .as_ref()
        .is_some_and(|c| !c.is_empty());
    let listen_ports = member_ports(settings.listen_ports.as_deref(), has_certs);
    let mut backends = Backends {
        index,
        stack,
        member,
        cache: BTreeMap::new(),
        target_groups: BTreeMap::new(),
        errors: Vec::new(),
        uses_instances: false,
        referenced: Vec::new(),
    };
    let https = listen_ports
        .iter()
        .any(|lp| lp.protocol == crate::model::Protocol::Https);
    let spec = member.ingress.spec.as_ref();
    let mut rules = Vec::new();
    for (ri, ing_rule) in spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let host = ing_rule.host.as_deref().filter(|h| !h.is_empty());
        let host_kind = rule::host_kind(host).ok_or_else(|| {
            let written = host.unwrap_or_default();
            invalid_field(
                object,
                format!("spec.rules[{ri}].host"),
                written,
                if rule::is_ip_host(written) {
                    rule::HOST_IP_EXPECTED
                } else {
                    rule::HOST_EXPECTED
                },
            )
        })?;
        for (pi, path) in ing_rule
            .http
            .iter()
            .flat_map(|h| h.paths.iter())
            .enumerate()
        {
            let field = format!("spec.rules[{ri}].http.paths[{pi}]");
            let path_type = PathType::parse(&path.path_type).ok_or_else(|| {
                invalid_field(
                    object,
                    format!("{field}.pathType"),
                    &path.path_type,
                    "Exact, Prefix or ImplementationSpecific",
                )
            })?;
            let written = path.path.as_deref();
            let patterns = rule::translate_path(path_type, written).map_err(|expected| {
                invalid_field(
                    object,
                    format!("{field}.path"),
                    written.unwrap_or_default(),
                    expected,
                )
            })?;
            let (action, service, auth) =
                backends.backend_action(&a, &path.backend, &format!("{field}.backend"), https)?;

            // As LBC: host-header and path-pattern values of `conditions.<name>` join the
            // rule's own host and path (OR within the field); other fields are added as they are.
            let mut hosts: Vec<String> = host.map(str::to_owned).into_iter().collect();
            let mut paths = patterns;
            let extra = conditions::parse(&a, &service)?;
            let from_annotation = !extra.is_empty();
            let mut others = Vec::new();
            for c in extra {
                match c {
                    ConditionSpec::HostHeader { values } => hosts.extend(values),
                    ConditionSpec::PathPattern { values } => paths.extend(values),
                    other => others.push(other),
                }
            }
            let mut conds = Vec::new();
            if !hosts.is_empty() {
                conds.push(ConditionSpec::HostHeader { values: hosts });
            }
            if !paths.is_empty() {
                conds.push(ConditionSpec::PathPattern { values: paths });
            }
            conds.extend(others);
            if conds.is_empty() {
                conds.push(ConditionSpec::PathPattern {
                    values: vec!["/*".to_owned()],
                });
            }
            let values: usize = conds.iter().map(ConditionSpec::value_count).sum();
            let limit = index.config.limits.condition_values_per_rule;
            if values > limit {
                let sources = if from_annotation {
                    format!(" (its host and path plus annotation {CONDITIONS_PREFIX}{service})")
                } else {
                    String::new()
                };
                return Err(BuildError::Limit {
                    object: object.clone(),
                    what: format!(
                        "the number of condition values of the rule for {field}{sources}"
                    ),
                    count: values,
                    limit,
                });
            }
            rules.push(PendingRule {
                order: RuleOrder {
                    group_order: settings.group_order,
                    host: host_kind,
                    path_len: Reverse(rule::order_len(path_type, written)),
                    path_type,
                    member: position,
                    rule: ri,
                    path: pi,
                    written_len: written.map_or(0, str::len),
                },
                conditions: conds,
                actions: vec![action],
                transforms: super::transforms::parse(&a, &service)?,
                auth,
                source: object.clone(),
            });
        }
    }
    let (default_action, default_auth) = match spec.and_then(|s| s.default_backend.as_ref()) {
        Some(backend) => {
            let (action, _, auth) =
                backends.backend_action(&a, backend, "spec.defaultBackend", https)?;
            (Some(action), auth)
        }
        None => (None, None),
    };
    if rules.is_empty() && default_action.is_none() && !stack.is_explicit() {
        let written = match spec.and_then(|s| s.rules.as_ref()) {
            Some(r) if r.is_empty() => "[]",
            _ => "",
        };
        return Err(invalid_field(
            object,
            "spec.rules",
            written,
            "at least one rule with http paths, or spec.defaultBackend: without either its load balancer could only answer 404",
        ));
    }
    unused_annotations(&a, &backends.referenced, index, &mut backends.errors);
    let discovery_hosts = (!has_certs
        && listen_ports
            .iter()
            .any(|lp| lp.protocol == crate::model::Protocol::Https))
    .then(|| certificate_hosts(member.ingress));
    Ok(MemberPlan {
        object: object.clone(),
        settings: settings.clone(),
        listen_ports_raw: a.raw(LISTEN_PORTS).map(str::to_owned),
        listen_ports,
        rules,
        default_action,
        default_auth,
        target_groups: backends.target_groups,
        backend_errors: backends.errors,
        uses_instance_targets: backends.uses_instances,
        discovery_hosts,
    })
}
