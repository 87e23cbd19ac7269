//! Which rule and backend a request reaches: an evaluator of ALB listener rules (and NLB
//! listeners), pure.
//!
//! It follows AWS's documented semantics ("Listener rules for your Application Load Balancer",
//! "Condition types for listener rules"): rules are tried in priority order, lowest first, and
//! the default actions answer when none matches; the values of one condition are alternatives
//! (OR) and the conditions of one rule must all hold (AND).
//!
//! | condition | compared with | case | wildcards |
//! |---|---|---|---|
//! | `host-header` | the host name (without port) | insensitive | `*` `?` |
//! | `path-pattern` | the path, never the query string | sensitive | `*` `?` |
//! | `http-header` | every value of the named header (name case-insensitive) | insensitive | `*` `?` |
//! | `query-string` | every `key=value` pair, percent-decoded; no key = any key | insensitive | `*` `?`, `\` escapes |
//! | `http-request-method` | the method | sensitive | none |
//! | `source-ip` | the client address (not `X-Forwarded-For`) | - | CIDR |
//!
//! `host-header`, `path-pattern` and `http-header` conditions may carry regular expressions
//! instead (`RegexValues`, [`RegexCondition`]); ALB's regular expressions have no lookaround,
//! backreferences or Unicode classes, which is the syntax of `regex-lite`. A regular
//! expression matches when it matches anywhere in the value (anchor it with `^...$`).
//!
//! Both desired listeners ([`crate::model::ListenerSpec`]) and observed ones
//! ([`crate::planner::ObservedListener`]) convert into one small input type,
//! [`RouteListener`], so a plan and what AWS holds are evaluated by the same code.
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{
    ActionSpec, ConditionSpec, FixedResponseSpec, ListenerSpec, StackId, StackKind, StickinessSpec,
    TargetGroupRef,
};
use crate::planner::ObservedListener;

pub mod pattern;
#[cfg(test)]
mod tests;

use pattern::{cidr_contains, percent_decode, query_pairs, wildcard_match};

/// A request, as the load balancer sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `http` or `https` (or `tcp`, `tls`, `udp` for NLB listeners), lower case.
    pub scheme: String,
    /// Destination port.
    pub port: u16,
    /// Host name, without port.
    pub host: String,
    /// Path as sent (percent-encoded), starting with `/`.
    pub path: String,
    /// Raw query string without the `?` (empty when none).
    pub query: String,
    /// Method (`GET`, ...).
    pub method: String,
    /// Headers as given (`Host` is derived from the URL).
    pub headers: Vec<(String, String)>,
    /// Client address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
}

/// A condition as the evaluator takes it: the model's (wildcard values), or regular
/// expressions. Serialised untagged, so a model condition keeps the `plan` JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RouteCondition {
    /// A condition with wildcard values (every condition the operator writes).
    Values(ConditionSpec),
    /// A condition with regular expressions.
    Regex(RegexCondition),
}

/// A `host-header`, `path-pattern` or `http-header` condition with `RegexValues`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegexCondition {
    /// `host-header`, `path-pattern` or `http-header`.
    pub field: String,
    /// Header name (`http-header` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_name: Option<String>,
    /// Regular expressions; one matching is enough.
    pub regex_values: Vec<String>,
}

impl From<ConditionSpec> for RouteCondition {
    fn from(c: ConditionSpec) -> Self {
        Self::Values(c)
    }
}

/// One rule of a listener, as the evaluator takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// Priority (lowest is tried first).
    pub priority: u32,
    /// Conditions, all of which must hold.
    pub conditions: Vec<RouteCondition>,
    /// Actions, the last one answering.
    pub actions: Vec<ActionSpec>,
}

impl RouteRule {
    /// A rule of a planned or observed listener.
    fn new(priority: u32, conditions: &[ConditionSpec], actions: &[ActionSpec]) -> Self {
        Self {
            priority,
            conditions: conditions
                .iter()
                .cloned()
                .map(RouteCondition::from)
                .collect(),
            actions: actions.to_vec(),
        }
    }
}

/// A listener, as the evaluator takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteListener {
    /// Port.
    pub port: u16,
    /// `HTTP`, `HTTPS`, `TCP`, `TLS`, `UDP` or `TCP_UDP`.
    pub protocol: String,
    /// Rules (any order; evaluated by priority).
    pub rules: Vec<RouteRule>,
    /// What answers when no rule matches.
    pub default_actions: Vec<ActionSpec>,
}

impl From<&ListenerSpec> for RouteListener {
    fn from(l: &ListenerSpec) -> Self {
        Self {
            port: l.port,
            protocol: l.protocol.as_str().to_owned(),
            rules: l
                .rules
                .iter()
                .map(|r| RouteRule::new(r.priority, &r.conditions, &r.actions))
                .collect(),
            default_actions: l.default_actions.clone(),
        }
    }
}

impl From<&ObservedListener> for RouteListener {
    fn from(l: &ObservedListener) -> Self {
        Self {
            port: l.port,
            protocol: l.protocol.clone(),
            rules: l
                .rules
                .iter()
                .map(|r| RouteRule::new(r.priority, &r.conditions, &r.actions))
                .collect(),
            default_actions: l.default_actions.clone(),
        }
    }
}

/// What answered a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The matching rule's priority; `None` when the default actions answered.
    pub priority: Option<u32>,
    /// The matching rule's conditions (empty for the default actions).
    pub conditions: Vec<RouteCondition>,
    /// The actions, in order, placeholders resolved; the last one answers.
    pub actions: Vec<Outcome>,
    /// Every rule tried before the match, with the first condition that failed.
    pub tried: Vec<Miss>,
}

impl Evaluation {
    /// The action that answers (the last one), if any.
    #[must_use]
    pub fn answer(&self) -> Option<&Outcome> {
        self.actions.last()
    }
}

/// A rule that did not match, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Miss {
    /// The rule's priority.
    pub priority: u32,
    /// The first condition that failed.
    pub condition: RouteCondition,
    /// Why it failed, for people.
    pub reason: String,
}

/// An action applied to a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Outcome {
    /// Forwarded to every target group with a weight (weight 0 receives nothing).
    #[serde(rename_all = "camelCase")]
    Forward {
        /// Target groups with their weights.
        target_groups: Vec<TargetGroupRef>,
        /// Stickiness.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stickiness: Option<StickinessSpec>,
    },
    /// Answered by the load balancer.
    FixedResponse(FixedResponseSpec),
    /// Redirected.
    #[serde(rename_all = "camelCase")]
    Redirect {
        /// `HTTP_301` or `HTTP_302`.
        status_code: String,
        /// The `Location` the client gets, placeholders resolved.
        location: String,
    },
    /// Authenticated first: the next action answers once the user is signed in (or, per
    /// `onUnauthenticatedRequest`, without signing in: `allow`; or not at all: `deny`, 401).
    #[serde(rename_all = "camelCase")]
    Authenticate {
        /// The Cognito user pool ARN or the OIDC issuer.
        identity_provider: String,
        /// `authenticate`, `allow` or `deny`.
        on_unauthenticated_request: String,
    },
}

/// Which listener of a load balancer takes a request: the one on the request's port whose
/// protocol carries the request's scheme (`http` → `HTTP`, or `TCP`/`TCP_UDP` on an NLB;
/// `https` → `HTTPS`, `TLS` or `TCP`/`TCP_UDP`; `udp` → `UDP`/`TCP_UDP`).
#[must_use]
pub fn select_listener<'a>(
    listeners: &'a [RouteListener],
    request: &Request,
) -> Option<&'a RouteListener> {
    listeners
        .iter()
        .find(|l| l.port == request.port && carries(&l.protocol, &request.scheme))
}

/// Whether a listener protocol carries a request scheme.
#[must_use]
pub fn carries(protocol: &str, scheme: &str) -> bool {
    matches!(
        (protocol, scheme),
        ("HTTP", "http")
            | ("HTTPS", "https")
            | ("TCP" | "TCP_UDP", "http" | "https" | "tcp" | "tls")
            | ("TLS", "https" | "tls")
            | ("UDP" | "TCP_UDP", "udp")
    )
}

/// Evaluates `request` against `listener`'s rules, in priority order, then its default
/// actions. NLB listeners have no rules: their default actions answer.
#[must_use]
pub fn evaluate(listener: &RouteListener, request: &Request) -> Evaluation {
    let mut rules: Vec<&RouteRule> = listener.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    let mut tried = Vec::new();
    for rule in rules {
        match first_failure(&rule.conditions, request) {
            None => {
                return Evaluation {
                    priority: Some(rule.priority),
                    conditions: rule.conditions.clone(),
                    actions: rule.actions.iter().map(|a| apply(a, request)).collect(),
                    tried,
                }
            }
            Some((condition, reason)) => tried.push(Miss {
                priority: rule.priority,
                condition: condition.clone(),
                reason,
            }),
        }
    }
    Evaluation {
        priority: None,
        conditions: Vec::new(),
        actions: listener
            .default_actions
            .iter()
            .map(|a| apply(a, request))
            .collect(),
        tried,
    }
}

fn first_failure<'a>(
    conditions: &'a [RouteCondition],
    request: &Request,
) -> Option<(&'a RouteCondition, String)> {
    conditions.iter().find_map(|c| {
        match c {
            RouteCondition::Values(v) => condition_failure(v, request),
            RouteCondition::Regex(r) => regex_failure(r, request),
        }
        .map(|why| (c, why))
    })
}

/// `None` when the regular-expression condition holds for `request`, otherwise why not. An
/// expression that does not compile never matches (AWS would have refused it).
#[must_use]
pub fn regex_failure(condition: &RegexCondition, request: &Request) -> Option<String> {
    let matches = |text: &str| {
        condition.regex_values.iter().any(|r| {
            regex_lite::Regex::new(r)
                .map(|re| re.is_match(text))
                .unwrap_or(false)
        })
    };
    let wanted = quoted(&condition.regex_values);
    match condition.field.as_str() {
        "host-header" => {
            let host = host_without_port(&request.host);
            (!matches(host)).then(|| format!("host {host:?} matches no regex of {wanted}"))
        }
        "path-pattern" => (!matches(&request.path))
            .then(|| format!("path {:?} matches no regex of {wanted}", request.path)),
        "http-header" => {
            let name = condition.http_header_name.as_deref().unwrap_or_default();
            let found: Vec<&str> = request
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            if found.is_empty() {
                Some(format!("no header {name}"))
            } else {
                (!found.iter().any(|h| matches(h))).then(|| {
                    format!(
                        "header {name} {} matches no regex of {wanted}",
                        quoted(&found)
                    )
                })
            }
        }
        other => Some(format!("regular expressions on {other} are not evaluated")),
    }
}

/// `None` when `condition` holds for `request`, otherwise why it does not.
#[must_use]
pub fn condition_failure(condition: &ConditionSpec, request: &Request) -> Option<String> {
    let holds = match condition {
        ConditionSpec::HostHeader { values } => {
            let host = host_without_port(&request.host);
            if values.iter().any(|v| wildcard_match(v, host, true, false)) {
                return None;
            }
            format!("host {host:?} matches none of {}", quoted(values))
        }
        ConditionSpec::PathPattern { values } => {
            if values
                .iter()
                .any(|v| wildcard_match(v, &request.path, false, false))
            {
                return None;
            }
            format!("path {:?} matches none of {}", request.path, quoted(values))
        }
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => {
            let found: Vec<&str> = request
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(http_header_name))
                .map(|(_, v)| v.as_str())
                .collect();
            if found.is_empty() {
                format!("no header {http_header_name}")
            } else if found
                .iter()
                .any(|h| values.iter().any(|v| wildcard_match(v, h, true, false)))
            {
                return None;
            } else {
                format!(
                    "header {http_header_name} {} matches none of {}",
                    quoted(&found),
                    quoted(values)
                )
            }
        }
        ConditionSpec::HttpRequestMethod { values } => {
            if values.contains(&request.method) {
                return None;
            }
            format!("method {:?} is none of {}", request.method, quoted(values))
        }
        ConditionSpec::QueryString { values } => {
            let pairs = query_pairs(&request.query);
            let hit = values.iter().any(|kv| {
                let value = percent_decode(&kv.value);
                pairs.iter().any(|(k, v)| {
                    kv.key
                        .as_deref()
                        .is_none_or(|key| wildcard_match(&percent_decode(key), k, true, true))
                        && wildcard_match(&value, v, true, true)
                })
            });
            if hit {
                return None;
            }
            let wanted: Vec<String> = values
                .iter()
                .map(|kv| match &kv.key {
                    Some(k) => format!("{k}={}", kv.value),
                    None => kv.value.clone(),
                })
                .collect();
            if request.query.is_empty() {
                format!("no query string; wanted one of {}", quoted(&wanted))
            } else {
                format!("query {:?} has none of {}", request.query, quoted(&wanted))
            }
        }
        ConditionSpec::SourceIp { values } => match request.source_ip {
            None => format!(
                "source IP unknown (give --source-ip); wanted {}",
                values.join(", ")
            ),
            Some(ip) => {
                if values.iter().any(|c| cidr_contains(c, ip).unwrap_or(false)) {
                    return None;
                }
                format!("source IP {ip} is in none of {}", values.join(", "))
            }
        },
    };
    Some(holds)
}

fn quoted<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(|v| format!("{:?}", v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Applies one action: forwards and fixed responses as they are, redirects with `#{protocol}`,
/// `#{host}`, `#{port}`, `#{path}` (the path without its leading `/`) and `#{query}` resolved
/// from the request. The `Location` omits the port when it is the protocol's default and the
/// `?` when the query is empty.
#[must_use]
pub fn apply(action: &ActionSpec, request: &Request) -> Outcome {
    match action {
        ActionSpec::Forward {
            target_groups,
            stickiness,
        } => Outcome::Forward {
            target_groups: target_groups.clone(),
            stickiness: stickiness.clone(),
        },
        ActionSpec::FixedResponse(f) => Outcome::FixedResponse(f.clone()),
        ActionSpec::AuthenticateCognito(c) => Outcome::Authenticate {
            identity_provider: c.user_pool_arn.clone(),
            on_unauthenticated_request: c.common.on_unauthenticated_request.clone(),
        },
        ActionSpec::AuthenticateOidc(o) => Outcome::Authenticate {
            identity_provider: o.issuer.clone(),
            on_unauthenticated_request: o.common.on_unauthenticated_request.clone(),
        },
        ActionSpec::Redirect(r) => {
            let protocol = request.scheme.to_ascii_uppercase();
            let port = request.port.to_string();
            let path = request.path.strip_prefix('/').unwrap_or(&request.path);
            let host = host_without_port(&request.host);
            let fill = |s: &str| {
                s.replace("#{protocol}", &protocol)
                    .replace("#{host}", host)
                    .replace("#{port}", &port)
                    .replace("#{path}", path)
                    .replace("#{query}", &request.query)
            };
            let scheme = fill(&r.protocol).to_ascii_lowercase();
            let port = fill(&r.port);
            let default_port = matches!(
                (scheme.as_str(), port.as_str()),
                ("http", "80") | ("https", "443")
            );
            let port = if default_port {
                String::new()
            } else {
                format!(":{port}")
            };
            let query = fill(&r.query);
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            };
            Outcome::Redirect {
                status_code: r.status_code.clone(),
                location: format!("{scheme}://{}{port}{}{query}", fill(&r.host), fill(&r.path)),
            }
        }
    }
}

/// The Kubernetes Service and port behind a target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    /// Namespace.
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// Service port as the Ingress or Service names it (number or name).
    pub port: String,
}

/// The Service behind a target group, from its stack (tag value of `ingress.k8s.aws/stack` or
/// `service.k8s.aws/stack`, as [`StackId::parse`] reads it), its resource tag and its name.
///
/// Service stacks tag `namespace/service:port`. Ingress stacks tag the AWS Load Balancer
/// Controller's `namespace/ingress-service:port`, where both names may contain `-`: the Ingress
/// is known for an implicit group (the stack is the Ingress); for an explicit group the split
/// is the one whose Service name, sanitised and cut to 8 characters, is the one in the target
/// group's name (`k8s-<ns>-<svc[:8]>-<hash>`). `None` when the tags do not say (a target
/// group the operator did not make, or an ambiguous split).
#[must_use]
pub fn backend_of(stack: &StackId, resource: &str, target_group_name: &str) -> Option<Backend> {
    let (obj, port) = resource.rsplit_once(':')?;
    let (namespace, rest) = obj.split_once('/')?;
    let backend = |service: &str| Backend {
        namespace: namespace.to_owned(),
        service: service.to_owned(),
        port: port.to_owned(),
    };
    if stack.kind == StackKind::Service {
        return Some(backend(rest));
    }
    if matches!(stack.kind, StackKind::Gateway | StackKind::NlbGateway) {
        return gateway_backend(stack, resource, target_group_name);
    }
    if !stack.is_explicit() {
        let service = rest.strip_prefix(stack.name.as_str())?.strip_prefix('-')?;
        return Some(backend(service));
    }
    let short = target_group_name.split('-').nth(2)?;
    let mut fits = rest.match_indices('-').filter_map(|(i, _)| {
        let service = rest.get(i + 1..)?;
        let clean = crate::model::sanitize_name_part(service);
        (clean.get(..clean.len().min(8)) == Some(short)).then_some(service)
    });
    let service = fits.next()?;
    if fits.next().is_some() {
        return None;
    }
    Some(backend(service))
}

/// Route kinds whose target groups a Gateway stack holds.
const GATEWAY_ROUTE_KINDS: [&str; 5] =
    ["HTTPRoute", "GRPCRoute", "TCPRoute", "UDPRoute", "TLSRoute"];

/// Every reading of a Gateway target group's resource id,
/// `<gwNs>/<gw>:<routeNs>-<route>:<Kind>-<svcNs>-<svc>:<port>` (the AWS Load Balancer
/// Controller's form): the Service namespace and name are joined by `-`, and both may contain
/// `-`, so each split is a candidate. Empty when the id is not of that form or not of `stack`.
#[must_use]
pub fn gateway_backend_candidates(stack: &StackId, resource: &str) -> Vec<Backend> {
    let Some((_, rest)) = gateway_resource_parts(stack, resource) else {
        return Vec::new();
    };
    let Some((service_part, port)) = rest.rsplit_once(':') else {
        return Vec::new();
    };
    service_part
        .match_indices('-')
        .filter_map(|(i, _)| {
            let namespace = service_part.get(..i)?;
            let service = service_part.get(i + 1..)?;
            (!namespace.is_empty() && !service.is_empty()).then(|| Backend {
                namespace: namespace.to_owned(),
                service: service.to_owned(),
                port: port.to_owned(),
            })
        })
        .collect()
}

/// `(<routeNs>-<route>, <svcNs>-<svc>:<port>)` of a Gateway target group's resource id.
fn gateway_resource_parts<'a>(stack: &StackId, resource: &'a str) -> Option<(&'a str, &'a str)> {
    let prefix = format!("{}/{}:", stack.namespace, stack.name);
    let rest = resource.strip_prefix(prefix.as_str())?;
    GATEWAY_ROUTE_KINDS.iter().find_map(|kind| {
        let (route, backend) = rest.split_once(&format!(":{kind}-"))?;
        Some((route, backend))
    })
}

/// The Service behind a Gateway target group: the one reading of its resource id
/// ([`gateway_backend_candidates`]), or, when there are several, the one whose namespace is
/// the route's (a backend in the route's own namespace, the common case), the route's
/// namespace being the reading of `<routeNs>-<route>` that the target group's generated name
/// (`k8s-<routeNs[:8]>-<route[:8]>-<hash>`) agrees with. `None` when that still leaves more
/// than one.
fn gateway_backend(stack: &StackId, resource: &str, target_group_name: &str) -> Option<Backend> {
    let mut candidates = gateway_backend_candidates(stack, resource);
    if candidates.len() > 1 {
        let (route, _) = gateway_resource_parts(stack, resource)?;
        let short = |s: &str| {
            let clean = crate::model::sanitize_name_part(s);
            clean
                .get(..clean.len().min(8))
                .unwrap_or_default()
                .to_owned()
        };
        let mut parts = target_group_name.split('-').skip(1);
        let (ns_short, route_short) = (parts.next()?, parts.next()?);
        let route_namespaces: Vec<&str> = route
            .match_indices('-')
            .filter_map(|(i, _)| {
                let (ns, name) = (route.get(..i)?, route.get(i + 1..)?);
                (short(ns) == ns_short && short(name) == route_short).then_some(ns)
            })
            .collect();
        candidates.retain(|b| route_namespaces.contains(&b.namespace.as_str()));
    }
    match candidates.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}
