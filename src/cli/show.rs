//! `aws-lb-operator show`: every stack the cluster owns, read back from AWS — load balancer
//! DNS names, listeners, rules (conditions and priorities), target groups and their registered
//! targets.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::ExitCode;

use aws_lb_operator_core::model::{ActionSpec, ConditionSpec};
use aws_lb_operator_core::planner::ObservedStack;
use serde::Serialize;

use super::{AwsArgs, OutputFormat};
use crate::aws::observe::observe;
use crate::aws::resolve::resolve_vpc;
use crate::aws::AwsClients;

/// Arguments of `show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Name of the cluster whose stacks to show (the `elbv2.k8s.aws/cluster` tag).
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: String,
    /// VPC (default: the VPC of the subnets tagged for load balancers).
    #[arg(long, env = "VPC_ID")]
    pub vpc_id: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown<'a> {
    vpc_id: &'a str,
    stacks: &'a BTreeMap<String, ObservedStack>,
    aws_calls: BTreeMap<String, u64>,
}

/// Runs `show`.
pub async fn run(args: ShowArgs) -> ExitCode {
    let clients = AwsClients::connect(&args.aws.options()).await;
    let vpc = match resolve_vpc(&clients, &args.cluster_name, args.vpc_id.as_deref()).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let observed = match observe(&clients, &args.cluster_name, &vpc, &BTreeSet::new(), true).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.output {
        OutputFormat::Json => {
            let doc = Shown {
                vpc_id: &vpc,
                stacks: &observed.stacks,
                aws_calls: clients.calls.by_operation(),
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(j) => println!("{j}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        OutputFormat::Text => print!("{}", render_text(&observed.stacks)),
    }
    ExitCode::SUCCESS
}

fn condition_text(c: &ConditionSpec) -> String {
    match c {
        ConditionSpec::HttpHeader {
            http_header_name,
            values,
        } => format!("header {http_header_name} {}", values.join("|")),
        ConditionSpec::QueryString { values } => {
            let kv: Vec<String> = values
                .iter()
                .map(|q| format!("{}={}", q.key.as_deref().unwrap_or("*"), q.value))
                .collect();
            format!("query {}", kv.join("|"))
        }
        ConditionSpec::HostHeader { values }
        | ConditionSpec::PathPattern { values }
        | ConditionSpec::HttpRequestMethod { values }
        | ConditionSpec::SourceIp { values } => format!("{} {}", c.field(), values.join("|")),
    }
}

fn action_text(a: &ActionSpec, names: &BTreeMap<&str, &str>) -> String {
    match a {
        ActionSpec::Forward { target_groups, .. } => {
            let tgs: Vec<String> = target_groups
                .iter()
                .map(|t| {
                    let arn = t.arn.as_deref().unwrap_or_default();
                    let name = names.get(arn).copied().unwrap_or(arn);
                    if target_groups.len() > 1 {
                        format!("{name} ({})", t.weight)
                    } else {
                        name.to_owned()
                    }
                })
                .collect();
            format!("forward to {}", tgs.join(", "))
        }
        ActionSpec::FixedResponse(f) => format!("fixed-response {}", f.status_code),
        ActionSpec::Redirect(r) => format!(
            "redirect {} to {}://{}:{}{}",
            r.status_code, r.protocol, r.host, r.port, r.path
        ),
        ActionSpec::AuthenticateCognito(c) => format!("authenticate-cognito {}", c.user_pool_arn),
        ActionSpec::AuthenticateOidc(o) => format!("authenticate-oidc {}", o.issuer),
    }
}

fn render_text(stacks: &BTreeMap<String, ObservedStack>) -> String {
    let mut s = String::new();
    if stacks.is_empty() {
        let _ = writeln!(s, "The cluster owns no load balancers.");
    }
    for (id, stack) in stacks {
        let _ = writeln!(s, "stack {id}");
        let names: BTreeMap<&str, &str> = stack
            .target_groups
            .iter()
            .map(|t| (t.arn.as_str(), t.name.as_str()))
            .collect();
        for lb in &stack.load_balancers {
            let _ = writeln!(
                s,
                "  load balancer {} ({} {})\n    DNS name: {}",
                lb.name, lb.scheme, lb.lb_type, lb.dns_name
            );
            for l in &lb.listeners {
                let defaults: Vec<String> = l
                    .default_actions
                    .iter()
                    .map(|a| action_text(a, &names))
                    .collect();
                let _ = writeln!(
                    s,
                    "    listener {}:{}  default: {}",
                    l.protocol,
                    l.port,
                    defaults.join("; ")
                );
                for r in &l.rules {
                    let conds: Vec<String> = r.conditions.iter().map(condition_text).collect();
                    let acts: Vec<String> =
                        r.actions.iter().map(|a| action_text(a, &names)).collect();
                    let _ = writeln!(
                        s,
                        "      rule {:>3}: {} -> {}",
                        r.priority,
                        conds.join(", "),
                        acts.join("; ")
                    );
                }
            }
        }
        for tg in &stack.target_groups {
            let targets: Vec<String> = tg
                .targets
                .iter()
                .map(|t| format!("{}:{}", t.id, t.port))
                .collect();
            let _ = writeln!(
                s,
                "  target group {} ({} {}:{})\n    targets: {}",
                tg.name,
                tg.target_type,
                tg.protocol,
                tg.port,
                if targets.is_empty() {
                    "none".to_owned()
                } else {
                    targets.join(", ")
                }
            );
        }
        for sg in &stack.security_groups {
            let ports: BTreeSet<String> = sg
                .ingress
                .iter()
                .map(|p| format!("{}/{}", p.protocol, p.from_port))
                .collect();
            let _ = writeln!(
                s,
                "  security group {} {} allows {}",
                sg.id,
                sg.name,
                ports.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    s
}
