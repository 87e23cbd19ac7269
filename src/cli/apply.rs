//! `aws-lb-operator diff` and `apply`: the cluster-less main job. Build the desired stacks from
//! manifests, observe what the cluster owns in AWS, plan the minimal changes, and (for
//! `apply`) make them.
//!
//! Exit status: 0 when everything was planned (and applied); 2 when some objects or stacks had
//! errors (the others were still planned and applied); 1 when AWS could not be read or a
//! change failed.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_lb_operator_core::dns::{DnsAction, DnsConflict, DnsUnit};
use aws_lb_operator_core::model::ObjectError;
use aws_lb_operator_core::planner::{Change, ChangeKind, StackError};
use aws_lb_operator_core::translate::build_with_gateways;
use serde::Serialize;

use super::{manifests, AwsArgs, OutputFormat};
use crate::aws::execute::{ExecuteOptions, ExecuteReport, Outcome};
use crate::aws::route53::DnsOutcome;
use crate::aws::AwsClients;
use crate::pass::{apply, prepare, PassOptions};

/// Arguments shared by `diff` and `apply`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Name of the cluster: owner of everything created (the `elbv2.k8s.aws/cluster` tag).
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: String,
    /// VPC for load balancers and target groups (default: the VPC of the subnets tagged for
    /// load balancers).
    #[arg(long, env = "VPC_ID")]
    pub vpc_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub translation: super::TranslationArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dns: super::DnsArgs,
    /// Allow the load balancers' backend security group all traffic on the node security
    /// groups instead of tcp on each target port (LBC's flag: `--disable-restricted-sg-rules`
    /// or `=true`).
    #[arg(
        long,
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub disable_restricted_sg_rules: bool,
}

/// Arguments of `diff`: objects from manifests or from a cluster.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: super::source::SourceArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: DeployArgs,
}

/// Arguments of `apply` (manifests only: a cluster's objects are the controller's job).
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Manifest files or directories, as `kubectl apply -f` takes them: YAML or JSON files,
    /// `kind: List` included; a directory's `.yaml`, `.yml` and `.json` files; `-` for standard
    /// input. Repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Also read the subdirectories of -f directories (without it, as in kubectl, they are
    /// skipped with a note).
    #[arg(short = 'R', long)]
    pub recursive: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: DeployArgs,
    /// Also delete this cluster's stacks that no longer appear in the manifests.
    #[arg(long)]
    pub prune: bool,
}

/// A change with what happened to it (`apply` only).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reported<'a> {
    #[serde(flatten)]
    change: &'a Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A Route53 change (a record and its registry TXT) with what happened to it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportedDns<'a> {
    #[serde(flatten)]
    unit: &'a DnsUnit,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The `-o json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    changes: Vec<Reported<'a>>,
    /// Route53 changes, one per managed record.
    dns_changes: Vec<ReportedDns<'a>>,
    /// Records left alone because another owner holds them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dns_conflicts: Vec<DnsConflict>,
    /// Objects that could not be translated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ObjectError>,
    /// Stacks that could not be planned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stack_errors: Vec<StackError>,
    aws_calls: BTreeMap<String, u64>,
}

/// Runs `diff`: reads only, from manifests or a cluster.
pub async fn run_diff(args: DiffArgs) -> ExitCode {
    let loaded = super::source::load(&args.source).await;
    plan_and_apply(args.common, loaded, None).await
}

/// Runs `apply`.
pub async fn run_apply(args: ApplyArgs) -> ExitCode {
    let loaded = manifests::load_manifests(&args.files, args.recursive);
    plan_and_apply(args.common, loaded.map_err(Into::into), Some(args.prune)).await
}

async fn plan_and_apply(
    args: DeployArgs,
    loaded: Result<manifests::Manifests, super::source::SourceError>,
    apply_prune: Option<bool>,
) -> ExitCode {
    let loaded = match loaded {
        Ok(m) => m,
        Err(e) => {
            super::source::report(&e);
            return ExitCode::FAILURE;
        }
    };
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let config = match args.translation.config(&args.cluster_name) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Gateway API objects become stacks like Ingresses and Services (docs/gateway.md); their
    // status is the controller's to write.
    let (built, _status) = build_with_gateways(&loaded.snapshot, &loaded.gateways, &config);
    for skipped in &built.skipped {
        eprintln!("note: {} skipped: {}", skipped.object, skipped.reason);
    }
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    let mut desired = built.desired_state();
    super::plan::merge_errors(&mut desired.errors, loaded.errors);
    for e in &desired.errors {
        // The message names the object already.
        eprintln!("error: {}", e.message);
    }
    let mut prune = apply_prune.unwrap_or(false);
    if prune && !desired.errors.is_empty() {
        eprintln!(
            "note: not pruning: {} object(s) have errors, and a stack whose objects all failed \
             would look unused; fix them and apply again",
            desired.errors.len()
        );
        prune = false;
    }

    let dns = if args.dns.dns_disabled {
        None
    } else {
        match args.dns.options(&args.cluster_name) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let clients = AwsClients::connect(&args.aws.options()).await;
    let opts = PassOptions {
        cluster: args.cluster_name.clone(),
        vpc_id: args.vpc_id.clone(),
        prune,
        dns,
        delete: Default::default(),
        hostname_owners: Default::default(),
        external_managed_tags: config.external_managed_tags.clone(),
        unrestricted_sg_rules: args.disable_restricted_sg_rules,
    };
    let prepared = match prepare(&clients, &opts, &desired.stacks).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for e in &prepared.plan.errors {
        let stack = if e.stack.is_empty() {
            "cluster"
        } else {
            &e.stack
        };
        eprintln!("error: stack {stack}: {}", e.message);
    }
    let report = if apply_prune.is_some() {
        Some(apply(&clients, &prepared, &ExecuteOptions::default()).await)
    } else {
        None
    };
    let calls = clients.calls.by_operation();
    let changes = &prepared.plan.changes;
    let (units, conflicts) = prepared.dns.as_ref().map_or((&[][..], &[][..]), |d| {
        (d.plan.units.as_slice(), d.plan.conflicts.as_slice())
    });
    for name in prepared.dns.iter().flat_map(|d| &d.plan.unzoned) {
        eprintln!("note: no hosted zone for {name}: no DNS record is managed for it");
    }
    for c in conflicts {
        eprintln!(
            "warning: {} ({}): DNS record {} {} left alone: {}",
            c.resource, c.stack, c.name, c.record_type, c.message
        );
    }
    let failed = report.as_ref().is_some_and(|r| !r.is_success());
    match args.output {
        OutputFormat::Json => {
            let doc = Report {
                changes: changes
                    .iter()
                    .enumerate()
                    .map(|(i, change)| {
                        let outcome = report.as_ref().and_then(|r| r.elb.outcomes.get(i));
                        Reported {
                            change,
                            outcome: outcome.map(outcome_name),
                            error: outcome.and_then(outcome_message),
                        }
                    })
                    .collect(),
                dns_changes: units
                    .iter()
                    .enumerate()
                    .map(|(i, unit)| {
                        let outcome = report.as_ref().and_then(|r| r.dns.get(i));
                        ReportedDns {
                            unit,
                            outcome: outcome.map(dns_outcome_name),
                            error: outcome.and_then(|o| match o {
                                DnsOutcome::Failed(m) => Some(m.clone()),
                                _ => None,
                            }),
                        }
                    })
                    .collect(),
                dns_conflicts: conflicts.to_vec(),
                errors: desired.errors.clone(),
                stack_errors: prepared.plan.errors.clone(),
                aws_calls: calls.clone(),
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(j) => println!("{j}"),
                Err(e) => {
                    eprintln!("error: cannot render the report: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        OutputFormat::Text => print!(
            "{}",
            render_text(
                changes,
                report.as_ref().map(|r| &r.elb),
                &render_dns(units, report.as_ref().map(|r| r.dns.as_slice())),
                &calls,
                clients.calls.mutating_calls()
            )
        ),
    }
    if failed {
        ExitCode::FAILURE
    } else if !desired.errors.is_empty()
        || !prepared.plan.errors.is_empty()
        || !conflicts.is_empty()
    {
        ExitCode::from(super::plan::EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

fn dns_outcome_name(o: &DnsOutcome) -> &'static str {
    match o {
        DnsOutcome::Done => "done",
        DnsOutcome::Failed(_) => "failed",
        DnsOutcome::Skipped => "skipped",
    }
}

/// One line per Route53 record change (its registry TXT goes in the same call), then a
/// summary line.
/// The `route53` section of the text output, and the counts the summary line needs.
pub(crate) struct DnsSection {
    text: String,
    changes: usize,
    failed: usize,
}

fn render_dns(units: &[DnsUnit], outcomes: Option<&[DnsOutcome]>) -> DnsSection {
    let mut s = String::new();
    let failed = outcomes.map_or(0, |o| {
        o.iter()
            .filter(|o| matches!(o, DnsOutcome::Failed(_)))
            .count()
    });
    if units.is_empty() {
        return DnsSection {
            text: s,
            changes: 0,
            failed,
        };
    }
    let _ = writeln!(s, "route53");
    for (i, u) in units.iter().enumerate() {
        // A unit that only writes the current-format TXT of a record owned by a legacy TXT.
        if let Some(txt) = u.changes.first().filter(|c| {
            u.changes.len() == 1 && c.record.record_type == aws_lb_operator_core::dns::TYPE_TXT
        }) {
            let _ = write!(
                s,
                "  ~ write the ownership TXT {} of {} {} in zone {} (its TXT is in a legacy ExternalDNS format)  [route53.ChangeResourceRecordSets]",
                txt.record.name, u.record_type, u.name, u.zone_name
            );
            if let Some(DnsOutcome::Failed(e)) = outcomes.and_then(|o| o.get(i)) {
                let _ = write!(s, "\n      FAILED: {e}");
            }
            let _ = writeln!(s);
            continue;
        }
        let (sym, verb) = match u.action() {
            Some(DnsAction::Create) => ("+", "create"),
            Some(DnsAction::Upsert) => ("~", "update"),
            Some(DnsAction::Delete) | None => ("-", "delete"),
        };
        let target = u
            .changes
            .first()
            .and_then(|c| c.record.alias.as_ref())
            .map(|a| {
                if u.pending.is_some() {
                    " -> the new load balancer".to_owned()
                } else {
                    format!(" -> {}", a.dns_name)
                }
            })
            .filter(|_| u.action() != Some(DnsAction::Delete))
            .unwrap_or_default();
        let with_txt = if u.changes.len() > 1 {
            " (with its TXT)"
        } else {
            ""
        };
        let _ = write!(
            s,
            "  {sym} {verb} {} {} in zone {}{target}{with_txt}  [route53.ChangeResourceRecordSets]",
            u.record_type, u.name, u.zone_name
        );
        match outcomes.and_then(|o| o.get(i)) {
            Some(DnsOutcome::Failed(e)) => {
                let _ = write!(s, "\n      FAILED: {e}");
            }
            Some(DnsOutcome::Skipped) => {
                let _ = write!(s, "\n      skipped");
            }
            _ => {}
        }
        let _ = writeln!(s);
    }
    DnsSection {
        text: s,
        changes: units.len(),
        failed,
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Failed(_) => "failed",
        Outcome::Skipped { .. } => "skipped",
    }
}

fn outcome_message(o: &Outcome) -> Option<String> {
    match o {
        Outcome::Done => None,
        Outcome::Failed(e) => Some(e.to_string()),
        Outcome::Skipped { reason } => Some(reason.clone()),
    }
}

fn symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create | ChangeKind::Register => "+",
        ChangeKind::Modify => "~",
        ChangeKind::Delete | ChangeKind::Deregister => "-",
    }
}

fn verb(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "create",
        ChangeKind::Modify => "modify",
        ChangeKind::Delete => "delete",
        ChangeKind::Register => "register",
        ChangeKind::Deregister => "deregister",
    }
}

/// One line per change, grouped by stack, then a one-line summary of changes and AWS calls.
pub(crate) fn render_text(
    changes: &[Change],
    report: Option<&ExecuteReport>,
    dns: &DnsSection,
    calls: &BTreeMap<String, u64>,
    mutating: u64,
) -> String {
    let mut s = String::new();
    let mut current: Option<&str> = None;
    for (i, c) in changes.iter().enumerate() {
        if current != Some(c.stack.as_str()) {
            let title = if c.stack.is_empty() {
                "cluster-wide".to_owned()
            } else {
                format!("stack {}", c.stack)
            };
            let _ = writeln!(s, "{title}");
            current = Some(&c.stack);
        }
        let _ = write!(
            s,
            "  {} {} {}  [{}]",
            symbol(c.kind),
            verb(c.kind),
            c.resource,
            c.operation()
        );
        if let Some(reason) = &c.reason {
            let _ = write!(s, " ({reason})");
        }
        match report.and_then(|r| r.outcomes.get(i)) {
            Some(Outcome::Failed(e)) => {
                let _ = write!(s, "\n      FAILED: {e}");
            }
            Some(Outcome::Skipped { reason }) => {
                let _ = write!(s, "\n      skipped: {reason}");
            }
            _ => {}
        }
        let _ = writeln!(s);
    }
    s.push_str(&dns.text);
    let count = |k: ChangeKind| changes.iter().filter(|c| c.kind == k).count();
    let total: u64 = calls.values().sum();
    let head = match report {
        None if changes.is_empty() && dns.changes == 0 => "No changes".to_owned(),
        None => "Plan".to_owned(),
        Some(r) => {
            let failed = r
                .outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Failed(_)))
                .count();
            let skipped = r
                .outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Skipped { .. }))
                .count();
            let dns_failed = dns.failed;
            if failed + skipped + dns_failed == 0 {
                "Applied".to_owned()
            } else {
                format!(
                    "Applied with {} failed and {skipped} skipped changes",
                    failed + dns_failed
                )
            }
        }
    };
    let _ = writeln!(
        s,
        "{head}: {} to create, {} to modify, {} to delete, {} target registrations, {} \
         deregistrations, {} DNS record changes; {total} AWS calls ({mutating} \
         mutating).",
        count(ChangeKind::Create),
        count(ChangeKind::Modify),
        count(ChangeKind::Delete),
        count(ChangeKind::Register),
        count(ChangeKind::Deregister),
        dns.changes,
    );
    s
}

#[cfg(test)]
mod tests {
    use aws_lb_operator_core::dns::{DnsChange, RecordSet};

    use super::*;

    /// A unit that only writes the current-format TXT of a record owned by a legacy TXT says
    /// so, instead of announcing an update of the record.
    #[test]
    fn a_legacy_txt_rewrite_is_shown_as_such() {
        let unit = DnsUnit {
            zone_id: "Z1".into(),
            zone_name: "example.com".into(),
            stack: "shop/web".into(),
            resource: "ingress/shop/web".into(),
            name: "www.example.com".into(),
            record_type: "A".into(),
            changes: vec![DnsChange {
                action: DnsAction::Upsert,
                record: RecordSet::txt("a-www.example.com", "heritage=external-dns"),
            }],
            pending: None,
        };
        let section = render_dns(&[unit], None);
        assert_eq!(
            section.text,
            "route53\n  ~ write the ownership TXT a-www.example.com of A www.example.com in zone \
             example.com (its TXT is in a legacy ExternalDNS format)  \
             [route53.ChangeResourceRecordSets]\n"
        );
        assert_eq!(section.changes, 1);
    }
}
