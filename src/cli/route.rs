//! `aws-lb-operator route URL`: which load balancer, listener, rule and backend a request
//! reaches, from manifests (`-f`, offline, the stacks `plan` prints) or from what the cluster
//! owns in AWS (`--cluster-name` alone), evaluated by [`aws_lb_operator_core::route`].
//!
//! A load balancer serves the request when it has a listener for the URL's scheme and port and
//! either a rule of one of its listeners has a `host-header` condition matching the host, or
//! the host is its DNS name, or it is named with `--load-balancer`.
//!
//! Exit status: 0 when a rule or default action answered, 2 when no load balancer serves the
//! host, 1 on errors (bad URL or header, unreadable manifests, AWS unreachable).
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;

use aws_lb_operator_core::model::{
    ConditionSpec, DesiredState, FixedResponseSpec, StackId, StickinessSpec, TargetGroupRef,
    TargetSpec,
};
use aws_lb_operator_core::planner::ObservedStack;
use aws_lb_operator_core::route::{
    backend_of, evaluate, gateway_backend_candidates, select_listener, Backend, Miss, Outcome,
    Request, RouteCondition, RouteListener,
};
use aws_lb_operator_core::translate::build_with_gateways;
use serde::Serialize;
use tracing::Instrument;

use super::{AwsArgs, OutputFormat};
use crate::aws::observe::{observe_selective, AttributeScope};
use crate::aws::resolve::resolve_vpc;
use crate::aws::route_read::{needs_regex_read, rules_with_regex};
use crate::aws::AwsClients;

/// Arguments of `route`.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    /// The request, as a URL (`https://shop.example.com/api/v2/cart?x=1`).
    pub url: String,
    /// A request header `NAME:VALUE` (repeatable). A `Host` header overrides the URL's host.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request method.
    #[arg(short = 'X', long, default_value = "GET")]
    pub method: String,
    /// Client address, for `source-ip` conditions.
    #[arg(long)]
    pub source_ip: Option<String>,
    /// The objects to plan and evaluate offline (no AWS): `-f` manifests, or a cluster's objects
    /// with `--kubeconfig`/`--context`/`-n`/`-A`. Without any of these, `--cluster-name` reads
    /// the cluster's load balancers from AWS.
    #[command(flatten)]
    pub source: super::source::SourceArgs,
    /// Cluster name. Without an object source: read the cluster's load balancers from AWS.
    /// With one: only names the planned resources, as in `plan`.
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Evaluate on this load balancer (by name), whatever the host.
    #[arg(long)]
    pub load_balancer: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also print every rule tried before the match and the condition that failed.
    #[arg(long)]
    pub explain: bool,
    /// VPC (live only; default: the VPC of the subnets tagged for load balancers).
    #[arg(long, env = "VPC_ID")]
    pub vpc_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub translation: super::TranslationArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
}

/// Exit status when no load balancer serves the request.
pub const EXIT_NOT_SERVED: u8 = 2;

/// Errors of `route`.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The URL does not parse.
    #[error("URL {url:?} is not valid: {message}")]
    Url {
        /// As given.
        url: String,
        /// Why.
        message: String,
    },
    /// The URL has no host, or a scheme we cannot route.
    #[error("URL {url:?}: {message}")]
    Request {
        /// As given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// A `--header` without `:`.
    #[error("--header {0:?} is not NAME:VALUE")]
    Header(String),
    /// The translation flags are unusable (the message says which).
    #[error("{0}")]
    Flags(String),
    /// A `--source-ip` that is not an address.
    #[error("--source-ip {0:?} is not an IP address")]
    SourceIp(String),
    /// `--load-balancer` names none of the load balancers.
    #[error("no load balancer is named {name:?}; there are: {known}")]
    UnknownLoadBalancer {
        /// As given.
        name: String,
        /// The names there are.
        known: String,
    },
    /// Neither an object source nor `--cluster-name`.
    #[error(
        "give -f PATH (manifests, offline), --kubeconfig FILE or --context NAME (a cluster's \
         objects, planned) or --cluster-name NAME (what AWS has)"
    )]
    NoSource,
    /// The objects could not be read.
    #[error("{0}")]
    Source(#[from] super::source::SourceError),
    /// AWS could not be read.
    #[error("{0}")]
    Aws(String),
}

/// A target group as `route` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetGroupView {
    name: String,
    /// `ingress.k8s.aws/resource` or `service.k8s.aws/resource` tag.
    resource: String,
    service: Option<Backend>,
    targets: Vec<TargetSpec>,
}

/// A load balancer as `route` evaluates it: listeners, and target groups by id (plan) or ARN
/// (AWS), plus by name.
#[derive(Debug, Clone)]
struct LoadBalancerView {
    stack: String,
    name: String,
    lb_type: String,
    dns_name: Option<String>,
    listeners: Vec<RouteListener>,
    target_groups: BTreeMap<String, TargetGroupView>,
}

impl LoadBalancerView {
    fn target_group(&self, r: &TargetGroupRef) -> Option<&TargetGroupView> {
        r.id.as_deref()
            .or(r.arn.as_deref())
            .and_then(|k| self.target_groups.get(k))
            .or_else(|| {
                let name = r.name.as_deref()?;
                self.target_groups.values().find(|t| t.name == name)
            })
    }
}

/// One answer: where the request goes on one load balancer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteOut {
    load_balancer: LoadBalancerOut,
    listener: ListenerOut,
    /// The matching rule; `null` when the default action answered.
    rule: Option<RuleOut>,
    actions: Vec<ActionOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tried: Option<Vec<Miss>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LoadBalancerOut {
    name: String,
    #[serde(rename = "type")]
    lb_type: String,
    stack: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListenerOut {
    protocol: String,
    port: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleOut {
    priority: u32,
    conditions: Vec<RouteCondition>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ActionOut {
    #[serde(rename_all = "camelCase")]
    Forward {
        target_groups: Vec<ForwardOut>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stickiness: Option<StickinessSpec>,
    },
    FixedResponse(FixedResponseSpec),
    #[serde(rename_all = "camelCase")]
    Redirect {
        status_code: String,
        location: String,
    },
    #[serde(rename_all = "camelCase")]
    Authenticate {
        identity_provider: String,
        on_unauthenticated_request: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardOut {
    /// Target group name (or the ARN of one the cluster does not own).
    name: String,
    weight: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    service: Option<Backend>,
    targets: Option<Vec<TargetSpec>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    request: &'a Request,
    routes: Vec<RouteOut>,
}

/// Runs `route`.
pub async fn run(args: RouteArgs) -> ExitCode {
    match route(&args).await {
        Ok((request, routes)) => {
            let served = !routes.is_empty();
            let answer = Answer {
                request: &request,
                routes,
            };
            match args.output {
                OutputFormat::Json => match serde_json::to_string_pretty(&answer) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                OutputFormat::Text => print!("{}", render_text(&answer, &args.url)),
            }
            if served {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_NOT_SERVED)
            }
        }
        Err(RouteError::Source(e)) => {
            super::source::report(&e);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn route(args: &RouteArgs) -> Result<(Request, Vec<RouteOut>), RouteError> {
    let request = parse_request(args)?;
    let lbs = if args.source.names_objects() {
        let cluster = args.cluster_name.as_deref().unwrap_or("cluster");
        planned(args, cluster)
            .instrument(tracing::info_span!("route.plan"))
            .await?
    } else {
        let cluster = args.cluster_name.as_deref().ok_or(RouteError::NoSource)?;
        live(args, cluster)
            .instrument(tracing::info_span!("route.observe", cluster))
            .await?
    };
    if let Some(name) = &args.load_balancer {
        if !lbs.iter().any(|lb| &lb.name == name) {
            let known: Vec<&str> = lbs.iter().map(|lb| lb.name.as_str()).collect();
            return Err(RouteError::UnknownLoadBalancer {
                name: name.clone(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            });
        }
    }
    let _span = tracing::info_span!("route.evaluate", load_balancers = lbs.len()).entered();
    Ok((request.clone(), answers(&lbs, &request, args)))
}

/// The request a URL and the flags describe.
///
/// # Errors
/// The URL does not parse, has no host or no port for its scheme, or a header has no `:`.
pub fn parse_request_parts(
    url: &str,
    headers: &[String],
    method: &str,
    source_ip: Option<IpAddr>,
) -> Result<Request, RouteError> {
    let parsed = url::Url::parse(url).map_err(|e| RouteError::Url {
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    let scheme = parsed.scheme().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "tcp" | "tls" | "udp") {
        return Err(RouteError::Request {
            url: url.to_owned(),
            message: format!(
                "scheme {scheme:?} is not one a load balancer listens for (http, https, tcp, tls, udp)"
            ),
        });
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(RouteError::Request {
            url: url.to_owned(),
            message: "no host".to_owned(),
        });
    };
    let Some(port) = parsed.port_or_known_default() else {
        return Err(RouteError::Request {
            url: url.to_owned(),
            message: format!("no port, and {scheme} has no default port"),
        });
    };
    let mut pairs = Vec::new();
    let mut host = host.to_owned();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| RouteError::Header(h.clone()))?;
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        if k.eq_ignore_ascii_case("host") {
            host.clone_from(&v);
        } else {
            pairs.push((k, v));
        }
    }
    let path = if parsed.path().is_empty() {
        "/".to_owned()
    } else {
        parsed.path().to_owned()
    };
    Ok(Request {
        scheme,
        port,
        host,
        path,
        query: parsed.query().unwrap_or_default().to_owned(),
        method: method.to_owned(),
        headers: pairs,
        source_ip,
    })
}

fn parse_request(args: &RouteArgs) -> Result<Request, RouteError> {
    let source_ip = args
        .source_ip
        .as_deref()
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| RouteError::SourceIp(s.to_owned()))
        })
        .transpose()?;
    parse_request_parts(&args.url, &args.headers, &args.method, source_ip)
}

/// The load balancers of the planned stacks.
async fn planned(args: &RouteArgs, cluster: &str) -> Result<Vec<LoadBalancerView>, RouteError> {
    let loaded = super::source::load(&args.source).await?;
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let config = args
        .translation
        .config(cluster)
        .map_err(RouteError::Flags)?;
    // Gateway API objects too: their stacks are evaluated like the Ingresses' and Services'.
    let (built, _status) = build_with_gateways(&loaded.snapshot, &loaded.gateways, &config);
    let desired = built.desired_state();
    for e in &desired.errors {
        eprintln!("warning: {}", e.message);
    }
    let services: BTreeSet<(&str, &str)> = loaded
        .snapshot
        .services
        .iter()
        .filter_map(|s| {
            Some((
                s.metadata.namespace.as_deref()?,
                s.metadata.name.as_deref()?,
            ))
        })
        .collect();
    Ok(views_of_plan(&desired, &|b: &Backend| {
        services.contains(&(b.namespace.as_str(), b.service.as_str()))
    }))
}

/// The load balancers of the planned stacks. `exists` says whether a Service is among the
/// objects read: a Gateway target group's id joins the Service's namespace and name with `-`,
/// so of its readings, the one Service that exists is it (the tags alone only guess).
fn views_of_plan(
    desired: &DesiredState,
    exists: &dyn Fn(&Backend) -> bool,
) -> Vec<LoadBalancerView> {
    let mut out: Vec<LoadBalancerView> = desired
        .stacks
        .iter()
        .map(|s| {
            let resource_tag = s.id.kind.resource_tag();
            let target_groups = s
                .target_groups
                .iter()
                .map(|tg| {
                    let resource = tg.tags.get(resource_tag).cloned().unwrap_or_default();
                    // A Gateway target group: the one reading whose Service exists, before
                    // the guess from the tags alone.
                    let mut existing = gateway_backend_candidates(&s.id, &resource)
                        .into_iter()
                        .filter(|b| exists(b));
                    let service = match (existing.next(), existing.next()) {
                        (Some(one), None) => Some(one),
                        _ => backend_of(&s.id, &resource, &tg.name),
                    };
                    let view = TargetGroupView {
                        name: tg.name.clone(),
                        service,
                        resource,
                        targets: tg.targets.clone(),
                    };
                    (tg.id.clone(), view)
                })
                .collect();
            LoadBalancerView {
                stack: s.id.to_string(),
                name: s.load_balancer.name.clone(),
                lb_type: s.load_balancer.lb_type.as_str().to_owned(),
                dns_name: None,
                listeners: s.listeners.iter().map(RouteListener::from).collect(),
                target_groups,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The load balancers the cluster owns in AWS, read with the same observe pass as `show`
/// (attributes skipped: routing does not depend on them).
async fn live(args: &RouteArgs, cluster: &str) -> Result<Vec<LoadBalancerView>, RouteError> {
    let clients = AwsClients::connect(&args.aws.options()).await;
    let vpc = resolve_vpc(&clients, cluster, args.vpc_id.as_deref())
        .await
        .map_err(|e| RouteError::Aws(e.to_string()))?;
    let scope = AttributeScope::Only {
        load_balancers: BTreeSet::new(),
        target_groups: BTreeSet::new(),
        listeners: BTreeSet::new(),
        web_acls: BTreeSet::new(),
        protections: BTreeSet::new(),
    };
    let observed = observe_selective(&clients, cluster, &vpc, &BTreeSet::new(), true, &scope)
        .await
        .map_err(|e| RouteError::Aws(e.to_string()))?;
    let mut views = views_of_observed(&observed.stacks);
    // Conditions with regular expressions: read those listeners' rules again, in full.
    for lb in observed.stacks.values().flat_map(|s| &s.load_balancers) {
        for l in lb.listeners.iter().filter(|l| needs_regex_read(l)) {
            let rules = rules_with_regex(&clients, &l.arn)
                .await
                .map_err(|e| RouteError::Aws(e.to_string()))?;
            if let Some(view) = views
                .iter_mut()
                .filter(|v| v.name == lb.name)
                .flat_map(|v| v.listeners.iter_mut())
                .find(|v| v.port == l.port)
            {
                view.rules = rules;
            }
        }
    }
    tracing::debug!(calls = ?clients.calls.by_operation(), "route: AWS calls");
    Ok(views)
}

fn views_of_observed(stacks: &BTreeMap<String, ObservedStack>) -> Vec<LoadBalancerView> {
    let mut out = Vec::new();
    for (id, stack) in stacks {
        let stack_id = StackId::parse(id);
        let resource_tag = stack_id.kind.resource_tag();
        let target_groups: BTreeMap<String, TargetGroupView> = stack
            .target_groups
            .iter()
            .map(|tg| {
                let resource = tg.tags.get(resource_tag).cloned().unwrap_or_default();
                let view = TargetGroupView {
                    name: tg.name.clone(),
                    service: backend_of(&stack_id, &resource, &tg.name),
                    resource,
                    targets: tg.targets.clone(),
                };
                (tg.arn.clone(), view)
            })
            .collect();
        for lb in &stack.load_balancers {
            out.push(LoadBalancerView {
                stack: id.clone(),
                name: lb.name.clone(),
                lb_type: lb.lb_type.clone(),
                dns_name: Some(lb.dns_name.clone()),
                listeners: lb.listeners.iter().map(RouteListener::from).collect(),
                target_groups: target_groups.clone(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether `lb` serves `request`: it is the one named, or the host is its DNS name, or a
/// `host-header` condition of any of its listeners matches the host (a name the load balancer
/// routes is a name it serves on every listener: an HTTP listener that only redirects has no
/// rules of its own).
fn serves(lb: &LoadBalancerView, request: &Request, only: Option<&str>) -> bool {
    if let Some(name) = only {
        return lb.name == name;
    }
    let host = request.host.as_str();
    if lb
        .dns_name
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(host))
    {
        return true;
    }
    lb.listeners.iter().flat_map(|l| &l.rules).any(|r| {
        r.conditions.iter().any(|c| match c {
            RouteCondition::Values(c @ ConditionSpec::HostHeader { .. }) => {
                aws_lb_operator_core::route::condition_failure(c, request).is_none()
            }
            RouteCondition::Regex(r) if r.field == "host-header" => {
                aws_lb_operator_core::route::regex_failure(r, request).is_none()
            }
            _ => false,
        })
    })
}

fn answers(lbs: &[LoadBalancerView], request: &Request, args: &RouteArgs) -> Vec<RouteOut> {
    let mut out = Vec::new();
    for lb in lbs {
        let Some(listener) = select_listener(&lb.listeners, request) else {
            continue;
        };
        if !serves(lb, request, args.load_balancer.as_deref()) {
            continue;
        }
        let e = evaluate(listener, request);
        let actions = e.actions.iter().map(|a| action_out(lb, a)).collect();
        out.push(RouteOut {
            load_balancer: LoadBalancerOut {
                name: lb.name.clone(),
                lb_type: lb.lb_type.clone(),
                stack: lb.stack.clone(),
                dns_name: lb.dns_name.clone(),
            },
            listener: ListenerOut {
                protocol: listener.protocol.clone(),
                port: listener.port,
            },
            rule: e.priority.map(|priority| RuleOut {
                priority,
                conditions: e.conditions.clone(),
            }),
            actions,
            tried: args.explain.then(|| e.tried.clone()),
        });
    }
    out
}

fn action_out(lb: &LoadBalancerView, a: &Outcome) -> ActionOut {
    match a {
        Outcome::Forward {
            target_groups,
            stickiness,
        } => ActionOut::Forward {
            target_groups: target_groups
                .iter()
                .map(|r| match lb.target_group(r) {
                    Some(tg) => ForwardOut {
                        name: tg.name.clone(),
                        weight: r.weight,
                        resource: Some(tg.resource.clone()),
                        service: tg.service.clone(),
                        targets: Some(tg.targets.clone()),
                    },
                    None => ForwardOut {
                        name: r
                            .name
                            .clone()
                            .or_else(|| r.arn.clone())
                            .or_else(|| r.id.clone())
                            .unwrap_or_default(),
                        weight: r.weight,
                        resource: None,
                        service: None,
                        targets: None,
                    },
                })
                .collect(),
            // Disabled stickiness is no stickiness (AWS reports it on every forward config).
            stickiness: stickiness.clone().filter(|s| s.enabled),
        },
        Outcome::FixedResponse(f) => ActionOut::FixedResponse(f.clone()),
        Outcome::Redirect {
            status_code,
            location,
        } => ActionOut::Redirect {
            status_code: status_code.clone(),
            location: location.clone(),
        },
        Outcome::Authenticate {
            identity_provider,
            on_unauthenticated_request,
        } => ActionOut::Authenticate {
            identity_provider: identity_provider.clone(),
            on_unauthenticated_request: on_unauthenticated_request.clone(),
        },
    }
}

/// A condition as `plan` prints it (regular expressions as `host ~ REGEX`).
fn condition_text(c: &RouteCondition) -> String {
    let c = match c {
        RouteCondition::Values(c) => c,
        RouteCondition::Regex(r) => {
            let what = match r.field.as_str() {
                "host-header" => "host".to_owned(),
                "path-pattern" => "path".to_owned(),
                other => match &r.http_header_name {
                    Some(h) => format!("header {h}"),
                    None => other.to_owned(),
                },
            };
            return format!("{what} ~ {}", r.regex_values.join(" | "));
        }
    };
    match c {
        ConditionSpec::HostHeader { values } => format!("host {}", values.join(" | ")),
        ConditionSpec::PathPattern { values } => format!("path {}", values.join(" | ")),
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => format!("header {http_header_name} = {}", values.join(" | ")),
        ConditionSpec::HttpRequestMethod { values } => format!("method {}", values.join(" | ")),
        ConditionSpec::QueryString { values } => {
            let pairs: Vec<String> = values
                .iter()
                .map(|kv| format!("{}={}", kv.key.as_deref().unwrap_or("*"), kv.value))
                .collect();
            format!("query {}", pairs.join(" | "))
        }
        ConditionSpec::SourceIp { values } => format!("source-ip {}", values.join(" | ")),
    }
}

fn render_text(answer: &Answer<'_>, url: &str) -> String {
    let mut s = String::new();
    let r = answer.request;
    let _ = writeln!(s, "{} {url}", r.method);
    if answer.routes.is_empty() {
        let _ = writeln!(
            s,
            "no load balancer serves {} on {} port {}",
            r.host, r.scheme, r.port
        );
    }
    for route in &answer.routes {
        let lb = &route.load_balancer;
        let dns = lb
            .dns_name
            .as_deref()
            .map(|d| format!(", {d}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "load balancer {} ({}, stack {}{dns})",
            lb.name, lb.lb_type, lb.stack
        );
        let _ = writeln!(
            s,
            "listener {}:{}",
            route.listener.protocol, route.listener.port
        );
        for m in route.tried.iter().flatten() {
            let _ = writeln!(
                s,
                "  tried rule {}: {} -> no: {}",
                m.priority,
                condition_text(&m.condition),
                m.reason
            );
        }
        match &route.rule {
            Some(rule) => {
                let conds: Vec<String> = rule.conditions.iter().map(condition_text).collect();
                let _ = writeln!(s, "rule {}: {}", rule.priority, conds.join(", "));
            }
            None => {
                let _ = writeln!(s, "default action (no rule matched)");
            }
        }
        for a in &route.actions {
            render_action(&mut s, a);
        }
    }
    s
}

fn render_action(s: &mut String, a: &ActionOut) {
    match a {
        ActionOut::Forward { target_groups, .. } => {
            let _ = writeln!(s, "forward");
            for tg in target_groups {
                let weight = if target_groups.len() > 1 {
                    format!(" weight {}", tg.weight)
                } else {
                    String::new()
                };
                let service = match &tg.service {
                    Some(b) => format!(": service {}/{} port {}", b.namespace, b.service, b.port),
                    None => String::new(),
                };
                let _ = writeln!(s, "  target group {}{weight}{service}", tg.name);
                if let Some(targets) = &tg.targets {
                    let list: Vec<String> = targets
                        .iter()
                        .map(|t| format!("{}:{}", t.id, t.port))
                        .collect();
                    let list = if list.is_empty() {
                        "none".to_owned()
                    } else {
                        list.join(", ")
                    };
                    let _ = writeln!(s, "    targets ({}): {list}", targets.len());
                }
            }
        }
        ActionOut::FixedResponse(f) => {
            let body = f
                .message_body
                .as_deref()
                .map(|b| format!(" {b:?}"))
                .unwrap_or_default();
            let _ = writeln!(s, "fixed response {}{body}", f.status_code);
        }
        ActionOut::Redirect {
            status_code,
            location,
        } => {
            let _ = writeln!(s, "redirect {status_code} to {location}");
        }
        ActionOut::Authenticate {
            identity_provider,
            on_unauthenticated_request,
        } => {
            let _ = writeln!(
                s,
                "authenticate with {identity_provider} (unauthenticated: {on_unauthenticated_request})"
            );
        }
    }
}
