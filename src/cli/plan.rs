//! `aws-lb-operator plan`: print the desired model for manifests or a cluster's objects
//! ([`super::source`]), with no AWS.
//!
//! Exit status: 0 when every object translated, 2 when there are errors (objects that could not
//! be read or translated; the valid stacks are still printed), 1 when the input could not be
//! read at all (an unreadable file, invalid JSON, no object, a cluster that cannot be listed).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use aws_lb_operator_core::model::{
    tags, ActionSpec, ConditionSpec, DesiredState, Stack, TargetGroupSpec, TransformSpec, WebAcl,
};
use aws_lb_operator_core::translate::build_with_gateways;

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// A readable tree, for reviews.
    Text,
    /// JSON: the stable contract (`stacks`, `dnsRecords`, `errors`).
    Json,
    /// The JSON contract, as YAML.
    Yaml,
}

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: super::source::SourceArgs,
    /// Cluster name used for tags and generated names.
    #[arg(long, env = "CLUSTER_NAME", default_value = "cluster")]
    pub cluster_name: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub translation: super::TranslationArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dns: super::DnsArgs,
}

/// Exit status when the plan has errors.
pub const EXIT_ERRORS: u8 = 2;

/// Adds the objects that could not be read to the translation's errors, keeping the
/// contract's order (by object, then message).
pub fn merge_errors(
    errors: &mut Vec<aws_lb_operator_core::model::ObjectError>,
    read: Vec<aws_lb_operator_core::model::ObjectError>,
) {
    if read.is_empty() {
        return;
    }
    errors.extend(read);
    errors.sort_by(|a, b| (&a.object, &a.message).cmp(&(&b.object, &b.message)));
}

/// Runs `plan`.
pub async fn run(args: PlanArgs) -> ExitCode {
    let loaded = match super::source::load(&args.source).await {
        Ok(m) => m,
        Err(e) => {
            super::source::report(&e);
            return ExitCode::FAILURE;
        }
    };
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let dns = match args.dns.options(&args.cluster_name) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match args.translation.config(&args.cluster_name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (output, _gateway_status) =
        build_with_gateways(&loaded.snapshot, &loaded.gateways, &config);
    for skipped in &output.skipped {
        eprintln!("note: {} skipped: {}", skipped.object, skipped.reason);
    }
    for w in &output.warnings {
        eprintln!("warning: {w}");
    }
    let mut desired = if args.dns.dns_disabled {
        output.desired_state()
    } else {
        output.desired_state().with_dns_records(&dns)
    };
    merge_errors(&mut desired.errors, loaded.errors);
    let rendered = match args.output {
        PlanFormat::Text => Ok(render_text(&desired)),
        PlanFormat::Json => serde_json::to_string_pretty(&desired)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        PlanFormat::Yaml => serde_saphyr::to_string(&desired).map_err(|e| e.to_string()),
    };
    match rendered {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: cannot render the plan: {e}");
            return ExitCode::FAILURE;
        }
    }
    if desired.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERRORS)
    }
}

fn user_tags(tags_map: &BTreeMap<String, String>) -> String {
    tags_map
        .iter()
        .filter(|(k, _)| !tags::RESERVED.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn condition_text(c: &ConditionSpec) -> String {
    match c {
        ConditionSpec::HostHeader { values } => format!("host {}", values.join(" | ")),
        ConditionSpec::PathPattern { values } => format!("path {}", values.join(" | ")),
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => {
            format!("header {http_header_name} = {}", values.join(" | "))
        }
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

fn action_text(a: &ActionSpec, tgs: &BTreeMap<&str, &TargetGroupSpec>) -> String {
    match a {
        ActionSpec::Forward {
            target_groups,
            stickiness,
        } => {
            let weighted = target_groups.len() > 1;
            let parts: Vec<String> = target_groups
                .iter()
                .map(|t| {
                    let what = match (&t.id, &t.arn, &t.name) {
                        (Some(id), _, _) => match tgs.get(id.as_str()) {
                            Some(tg) => format!("{id} ({})", tg.name),
                            None => id.clone(),
                        },
                        (None, Some(arn), _) => arn.clone(),
                        (None, None, Some(name)) => format!("target group named {name}"),
                        (None, None, None) => "?".into(),
                    };
                    if weighted {
                        format!("{what} weight {}", t.weight)
                    } else {
                        what
                    }
                })
                .collect();
            let sticky = match stickiness {
                Some(s) if s.enabled => ", sticky",
                _ => "",
            };
            format!("forward to {}{sticky}", parts.join(", "))
        }
        ActionSpec::FixedResponse(f) => {
            let body = f
                .message_body
                .as_deref()
                .map(|b| format!(" {b:?}"))
                .unwrap_or_default();
            format!("fixed response {}{body}", f.status_code)
        }
        ActionSpec::Redirect(r) => {
            format!(
                "redirect {} to {}://{}:{}{}?{}",
                r.status_code, r.protocol, r.host, r.port, r.path, r.query
            )
        }
        ActionSpec::AuthenticateCognito(c) => format!(
            "authenticate with cognito user pool {} client {} domain {} (scope {:?}, unauthenticated: {}), then",
            c.user_pool_arn, c.user_pool_client_id, c.user_pool_domain, c.common.scope, c.common.on_unauthenticated_request
        ),
        ActionSpec::AuthenticateOidc(o) => {
            let secret = o
                .client_secret
                .as_ref()
                .map_or_else(|| "kept".to_owned(), ToString::to_string);
            format!(
                "authenticate with oidc issuer {} client {} secret {secret} (scope {:?}, unauthenticated: {}), then",
                o.issuer, o.client_id, o.common.scope, o.common.on_unauthenticated_request
            )
        }
    }
}

fn render_stack(out: &mut String, stack: &Stack) {
    let lb = &stack.load_balancer;
    let tgs: BTreeMap<&str, &TargetGroupSpec> = stack
        .target_groups
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let _ = writeln!(out, "stack {}", stack.id);
    let _ = writeln!(
        out,
        "  load balancer {} ({}, {}, {})",
        lb.name, lb.lb_type, lb.scheme, lb.ip_address_type
    );
    if !lb.subnets.is_empty() || !lb.subnet_tags.is_empty() {
        let mut parts = lb.subnets.clone();
        parts.extend(
            lb.subnet_tags
                .iter()
                .map(|(k, v)| format!("tag {k} in [{}]", v.join(", "))),
        );
        let _ = writeln!(out, "    subnets: {}", parts.join(", "));
    } else {
        let _ = writeln!(out, "    subnets: discovered");
    }
    if lb.security_groups.is_empty() {
        let sources: Vec<&str> = lb
            .inbound_cidrs
            .iter()
            .chain(&lb.inbound_prefix_lists)
            .map(String::as_str)
            .collect();
        let _ = writeln!(
            out,
            "    security groups: managed, inbound from {}",
            sources.join(", ")
        );
    } else {
        let _ = writeln!(
            out,
            "    security groups: {}",
            lb.security_groups.join(", ")
        );
    }
    if !lb.attributes.is_empty() {
        let attrs: Vec<String> = lb
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "    attributes: {}", attrs.join(", "));
    }
    match &lb.wafv2_web_acl {
        Some(WebAcl::Associate(arn)) => {
            let _ = writeln!(out, "    web ACL: {arn}");
        }
        Some(WebAcl::Disassociate) => {
            let _ = writeln!(out, "    web ACL: none (removed)");
        }
        None => {}
    }
    if let Some(on) = lb.shield_advanced_protection {
        let _ = writeln!(
            out,
            "    shield advanced protection: {}",
            if on { "on" } else { "off" }
        );
    }
    let tags_text = user_tags(&lb.tags);
    if !tags_text.is_empty() {
        let _ = writeln!(out, "    tags: {tags_text}");
    }
    for l in &stack.listeners {
        let _ = writeln!(out, "  listener {}:{}", l.protocol, l.port);
        if let Some(policy) = &l.ssl_policy {
            let _ = writeln!(
                out,
                "    tls: {policy}, certificates {}",
                l.certificates.join(", ")
            );
        }
        if let Some(m) = &l.mutual_authentication {
            let mut text = format!("    mutual tls: {}", m.mode);
            if let Some(store) = &m.trust_store {
                text.push_str(&format!(", trust store {store}"));
            }
            if m.ignore_client_certificate_expiry == Some(true) {
                text.push_str(", expired client certificates accepted");
            }
            if m.advertise_trust_store_ca_names.as_deref() == Some("on") {
                text.push_str(", CA names advertised");
            }
            let _ = writeln!(out, "{text}");
        }
        if !l.attributes.is_empty() {
            let attrs: Vec<String> = l
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "    attributes: {}", attrs.join(", "));
        }
        for d in &l.certificate_discovery {
            let _ = writeln!(
                out,
                "    certificates of {} discovered in ACM when applied (plan reads no AWS): hosts {}",
                d.object,
                d.hosts.join(", ")
            );
        }
        for a in &l.default_actions {
            let _ = writeln!(out, "    default: {}", action_text(a, &tgs));
        }
        for r in &l.rules {
            let conds: Vec<String> = r.conditions.iter().map(condition_text).collect();
            let from = if r.source.is_empty() {
                String::new()
            } else {
                format!("  [{}]", r.source)
            };
            let _ = writeln!(
                out,
                "    rule {:>3}: {}{from}",
                r.priority,
                conds.join(", ")
            );
            for t in &r.transforms {
                let (kind, rewrites) = match t {
                    TransformSpec::HostHeaderRewrite { rewrites } => ("host", rewrites),
                    TransformSpec::UrlRewrite { rewrites } => ("url", rewrites),
                };
                for w in rewrites {
                    let _ = writeln!(
                        out,
                        "               rewrite {kind} {} => {}",
                        w.regex, w.replace
                    );
                }
            }
            for a in &r.actions {
                let _ = writeln!(out, "               -> {}", action_text(a, &tgs));
            }
        }
    }
    for tg in &stack.target_groups {
        let hc = &tg.health_check;
        let matcher = hc
            .matcher
            .http_code
            .as_deref()
            .or(hc.matcher.grpc_code.as_deref())
            .unwrap_or_default();
        let _ = writeln!(out, "  target group {} ({})", tg.id, tg.name);
        let version = tg
            .protocol_version
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        let path = if hc.path.is_empty() {
            String::new()
        } else {
            format!(" {}", hc.path)
        };
        let codes = if matcher.is_empty() {
            String::new()
        } else {
            format!(", codes {matcher}")
        };
        let _ = writeln!(
            out,
            "    {} {}{version}, port {}, health check {} {}{path} every {}s{codes}",
            tg.target_type, tg.protocol, tg.port, hc.protocol, hc.port, hc.interval_seconds
        );
        if !tg.attributes.is_empty() {
            let attrs: Vec<String> = tg
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "    attributes: {}", attrs.join(", "));
        }
        const SHOWN: usize = 10;
        let shown: Vec<String> = tg
            .targets
            .iter()
            .take(SHOWN)
            .map(|t| format!("{}:{}", t.id, t.port))
            .collect();
        let more = tg.targets.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let list = if shown.is_empty() {
            "none".to_owned()
        } else {
            shown.join(", ")
        };
        let _ = writeln!(out, "    targets ({}): {list}{more}", tg.targets.len());
    }
}

/// The readable tree printed by `-o text`.
#[must_use]
pub fn render_text(desired: &DesiredState) -> String {
    let mut out = String::new();
    if desired.stacks.is_empty() {
        out.push_str("no load balancers\n");
    }
    for (i, stack) in desired.stacks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_stack(&mut out, stack);
    }
    if !desired.dns_records.is_empty() {
        let _ = writeln!(out, "\ndns records ({}):", desired.dns_records.len());
        for r in &desired.dns_records {
            let target = match &r.alias_target {
                Some(a) => format!("alias to load balancer {}", a.load_balancer),
                None => r.targets.join(", "),
            };
            let _ = writeln!(
                out,
                "  {} {} -> {target} (owner {}, from {})",
                r.name, r.record_type, r.owner, r.resource
            );
        }
    }
    if !desired.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings ({}):", desired.warnings.len());
        for w in &desired.warnings {
            let _ = writeln!(out, "  - {}", w.message);
        }
    }
    if !desired.errors.is_empty() {
        let _ = writeln!(out, "\nerrors ({}):", desired.errors.len());
        for e in &desired.errors {
            let _ = writeln!(out, "  - {}", e.message);
        }
    }
    out
}
