//! Command-line interface: one subcommand per job.
//!
//! - `plan`: the desired model for manifests or a cluster's objects (read-only, no AWS).
//! - `discover`: what a cluster owns in AWS today, and which subnets load balancers would use.
//! - `diff` / `apply`: make AWS match manifests (the main job without a cluster).
//! - `show`: what the cluster's stacks look like in AWS, read back.
//! - `route`: which rule and backend a request reaches, from manifests or from AWS.
//! - `crdgen`: the CustomResourceDefinitions of the `elbv2.k8s.aws` custom resources.
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::aws::ratelimit::ThrottleConfigError;
use crate::aws::{AwsOptions, ThrottleConfig};

pub mod apply;
pub mod crdgen;
pub mod discover;
pub mod manifests;
pub mod plan;
pub mod route;
pub mod run;
pub mod show;
pub mod source;

/// Provision AWS load balancers and Route53 records for Kubernetes Ingresses and Services.
#[derive(Debug, Parser)]
#[command(name = "aws-lb-operator", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "LOG_FORMAT")]
    pub log_format: LogFormat,
    /// The job to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the desired load balancers for manifests or a cluster's objects, without AWS.
    Plan(plan::PlanArgs),
    /// List what a cluster owns in AWS (by tags) and the subnets load balancers would use.
    Discover(discover::DiscoverArgs),
    /// Show what `apply` would change in AWS for manifests or a cluster's objects, reading only.
    Diff(apply::DiffArgs),
    /// Make AWS match manifests: create, update and (with --prune) delete load balancers.
    Apply(apply::ApplyArgs),
    /// Show every stack the cluster owns, read back from AWS.
    Show(show::ShowArgs),
    /// Which load balancer, rule and backend a request reaches (manifests or AWS).
    Route(Box<route::RouteArgs>),
    /// Run the Kubernetes controller (what the Helm chart deploys).
    Run(Box<run::RunArgs>),
    /// Print the CustomResourceDefinitions (TargetGroupBinding, IngressClassParams) as YAML.
    Crdgen,
}

/// How to reach AWS, shared by every subcommand that talks to it.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// AWS region (default: the standard chain: AWS_REGION, profile, instance metadata).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service (e.g. LocalStack). Without it the standard
    /// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables apply.
    #[arg(long)]
    pub aws_endpoint_url: Option<String>,
    /// Maximum attempts per AWS call, retries with backoff included.
    #[arg(long, default_value_t = 10)]
    pub aws_max_attempts: u32,
    /// Client-side rate limits of AWS operations, in the AWS Load Balancer Controller's syntax:
    /// serviceID:operationRegex=rate:burst,... (serviceID: elbv2, ec2, route53 or the SDK's
    /// "Elastic Load Balancing v2", "EC2", "Route 53"). Entries for a service replace that
    /// service's defaults. Default: see the README.
    #[arg(long, value_name = "SERVICE:OPERATION_REGEX=RATE:BURST,...", value_parser = parse_throttle)]
    pub aws_api_throttle: Option<ThrottleConfig>,
}

/// `--aws-api-throttle`: the defaults with the value's entries.
fn parse_throttle(value: &str) -> Result<ThrottleConfig, ThrottleConfigError> {
    ThrottleConfig::defaults().with_overrides(value)
}

impl AwsArgs {
    /// The options for [`crate::aws::load_sdk_config`].
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            region: self.region.clone(),
            endpoint_url: self.aws_endpoint_url.clone(),
            max_attempts: self.aws_max_attempts,
            throttle: self.aws_api_throttle.clone().unwrap_or_default(),
            ..AwsOptions::default()
        }
    }
}

/// What the translation takes as ours, shared by `plan`, `diff` and `apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct TranslationArgs {
    /// `kubernetes.io/ingress.class` value handled by this operator.
    #[arg(long, default_value = "alb")]
    pub ingress_class: String,
    /// `spec.loadBalancerClass` of the LoadBalancer Services handled by this operator.
    #[arg(long, default_value = "service.k8s.aws/nlb")]
    pub load_balancer_class: String,
    /// Also take Services annotated `service.beta.kubernetes.io/aws-load-balancer-type: nlb`
    /// (when this operator replaces the in-tree cloud controller's NLB support).
    #[arg(long)]
    pub manage_in_tree_nlb: bool,
    /// Order of listener rules: `spec` (the Ingress specification's: exact hosts, then longer
    /// paths first) or `lbc` (the AWS Load Balancer Controller's: group order, then as written).
    #[arg(long, value_enum, default_value_t = RuleOrderArg::Spec)]
    pub rule_order: RuleOrderArg,
    /// Scheme of load balancers that no annotation or IngressClassParams gives one (LBC's flag).
    #[arg(long, value_enum, default_value_t = SchemeArg::Internal)]
    pub default_load_balancer_scheme: SchemeArg,
    /// Target type of target groups that no annotation gives one (LBC's flag).
    #[arg(long, value_enum, default_value_t = TargetTypeArg::Instance)]
    pub default_target_type: TargetTypeArg,
    /// TLS policy of HTTPS and TLS listeners that no annotation gives one (LBC's flag).
    #[arg(
        long,
        default_value = "ELBSecurityPolicy-2016-08",
        allow_hyphen_values = true
    )]
    pub default_ssl_policy: String,
    /// Tags on every AWS resource created, `key=value` pairs separated by commas (repeatable;
    /// LBC's flag). They win over annotation and IngressClassParams tags.
    #[arg(long, value_parser = parse_tag_pairs, allow_hyphen_values = true)]
    pub default_tags: Vec<Vec<(String, String)>>,
    /// Tag keys managed outside the operator, separated by commas (repeatable; LBC's flag):
    /// annotations may not set them and they are never removed from AWS resources.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub external_managed_tags: Vec<String>,
    /// Give load balancers with user security groups (`security-groups` annotations) the shared
    /// backend security group and its rules on the node security groups too, unless their
    /// `manage-backend-security-group-rules` annotation says otherwise (LBC's flag; `=true` or
    /// `=false` too).
    #[arg(
        long,
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub enable_manage_backend_security_group_rules: bool,
}

/// `--rule-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleOrderArg {
    /// The Ingress specification's order.
    Spec,
    /// The AWS Load Balancer Controller's order.
    Lbc,
}

/// `--default-load-balancer-scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// `internal`.
    Internal,
    /// `internet-facing`.
    InternetFacing,
}

/// `--default-target-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetTypeArg {
    /// EC2 instances (NodePorts).
    Instance,
    /// Pod IPs.
    Ip,
}

/// One `--default-tags` value: `k1=v1,k2=v2` (a value may be empty, a key may not).
fn parse_tag_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!(
                "expected key=value pairs separated by commas, not {pair:?}"
            )),
        })
        .collect()
}

impl TranslationArgs {
    /// The translation settings for `cluster`.
    ///
    /// # Errors
    /// A tag flag names a tracking tag key or a key AWS refuses, or a key is in both
    /// `--default-tags` and `--external-managed-tags` (LBC's checks).
    pub fn config(
        &self,
        cluster: &str,
    ) -> Result<aws_lb_operator_core::translate::BuildConfig, String> {
        use aws_lb_operator_core::model::{tags, Scheme, TargetType};
        use aws_lb_operator_core::translate::rule::RuleOrdering;
        let mut config = aws_lb_operator_core::translate::BuildConfig::new(cluster);
        config.ingress_class = self.ingress_class.clone();
        config.load_balancer_class = self.load_balancer_class.clone();
        config.manage_in_tree_nlb = self.manage_in_tree_nlb;
        config.manage_backend_security_group_rules =
            self.enable_manage_backend_security_group_rules;
        config.rule_order = match self.rule_order {
            RuleOrderArg::Spec => RuleOrdering::Spec,
            RuleOrderArg::Lbc => RuleOrdering::Lbc,
        };
        config.default_scheme = match self.default_load_balancer_scheme {
            SchemeArg::Internal => Scheme::Internal,
            SchemeArg::InternetFacing => Scheme::InternetFacing,
        };
        config.default_target_type = match self.default_target_type {
            TargetTypeArg::Instance => TargetType::Instance,
            TargetTypeArg::Ip => TargetType::Ip,
        };
        if self.default_ssl_policy.trim().is_empty() {
            return Err("--default-ssl-policy must not be empty".to_owned());
        }
        config.default_ssl_policy = self.default_ssl_policy.trim().to_owned();
        for (k, v) in self.default_tags.iter().flatten() {
            if tags::RESERVED.contains(&k.as_str()) {
                return Err(format!(
                    "tag key {k} cannot be specified in --default-tags (a tracking tag)"
                ));
            }
            if let Some(problem) = tags::user_tag_problem(k, v) {
                return Err(format!("--default-tags: expected {problem}"));
            }
            config.default_tags.insert(k.clone(), v.clone());
        }
        for k in self
            .external_managed_tags
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
        {
            if tags::RESERVED.contains(&k) {
                return Err(format!(
                    "tag key {k} cannot be specified in --external-managed-tags (a tracking tag)"
                ));
            }
            if config.default_tags.contains_key(k) {
                return Err(format!(
                    "tag key {k} cannot be specified in both --default-tags and --external-managed-tags"
                ));
            }
            config.external_managed_tags.push(k.to_owned());
        }
        Ok(config)
    }
}

/// Route53 settings (ExternalDNS's flags, prefixed `--dns-`), shared by `plan`, `diff`,
/// `apply` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct DnsArgs {
    /// Leave Route53 alone entirely.
    #[arg(long, env = "DNS_DISABLED")]
    pub dns_disabled: bool,
    /// Owner id written into and required from registry TXT records (ExternalDNS's
    /// `--txt-owner-id`); default: the cluster name. Never change it after records exist.
    #[arg(long, env = "DNS_OWNER_ID", allow_hyphen_values = true)]
    pub dns_owner_id: Option<String>,
    /// Only manage names in this domain (repeatable).
    #[arg(long)]
    pub dns_domain_filter: Vec<String>,
    /// Never manage names in this domain (repeatable).
    #[arg(long)]
    pub dns_exclude_domain: Vec<String>,
    /// Only use these hosted zone ids (repeatable).
    #[arg(long)]
    pub dns_zone_id_filter: Vec<String>,
    /// Hosted zones records may go to. `auto`: internal load balancers to private zones,
    /// internet-facing ones to public zones.
    #[arg(long, value_enum, default_value_t = DnsZoneType::Auto)]
    pub dns_zone_type: DnsZoneType,
    /// What may be done to owned records.
    #[arg(long, value_enum, default_value_t = DnsPolicyArg::Sync)]
    pub dns_policy: DnsPolicyArg,
    /// Prefix of registry TXT names (`%{record_type}` is substituted); exclusive with the suffix.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub dns_txt_prefix: String,
    /// Suffix of the first label of registry TXT names (`%{record_type}` is substituted).
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub dns_txt_suffix: String,
}

/// `--dns-zone-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DnsZoneType {
    /// By load balancer scheme.
    Auto,
    /// Public zones only.
    Public,
    /// Private zones only.
    Private,
    /// Public and private zones.
    Both,
}

/// `--dns-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DnsPolicyArg {
    /// Create, update and delete owned records.
    Sync,
    /// Create and update, never delete.
    UpsertOnly,
    /// Create only.
    CreateOnly,
}

impl DnsArgs {
    /// The planning options for `cluster`.
    ///
    /// # Errors
    /// Both a TXT prefix and suffix are set, or the owner id is empty.
    pub fn options(&self, cluster: &str) -> Result<aws_lb_operator_core::dns::DnsOptions, String> {
        use aws_lb_operator_core::dns::{registry::TxtMapper, DnsOptions, DnsPolicy, ZoneType};
        let owner = self.dns_owner_id.as_deref().unwrap_or(cluster);
        if owner.trim().is_empty() {
            return Err("--dns-owner-id must not be empty".to_owned());
        }
        let mut opts = DnsOptions::new(owner);
        opts.txt = TxtMapper::new(&self.dns_txt_prefix, &self.dns_txt_suffix)?;
        opts.domain_filter.clone_from(&self.dns_domain_filter);
        opts.exclude_domains.clone_from(&self.dns_exclude_domain);
        opts.zone_id_filter = self
            .dns_zone_id_filter
            .iter()
            .map(|z| z.trim_start_matches("/hostedzone/").to_owned())
            .collect();
        opts.zone_type = match self.dns_zone_type {
            DnsZoneType::Auto => ZoneType::Auto,
            DnsZoneType::Public => ZoneType::Public,
            DnsZoneType::Private => ZoneType::Private,
            DnsZoneType::Both => ZoneType::Both,
        };
        opts.policy = match self.dns_policy {
            DnsPolicyArg::Sync => DnsPolicy::Sync,
            DnsPolicyArg::UpsertOnly => DnsPolicy::UpsertOnly,
            DnsPolicyArg::CreateOnly => DnsPolicy::CreateOnly,
        };
        Ok(opts)
    }
}

/// Output format of commands that print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable text.
    Text,
    /// JSON (a stable contract for tools).
    Json,
}

/// Installs the tracing subscriber. Logs go to stderr so stdout stays machine-readable.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,aws_lb_operator=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Reports a command line that does not parse: `--help` and `--version` print and exit 0;
/// a usage error prints clap's message and exits 1, as kubectl does, so that status 2 keeps
/// its one meaning per command (`plan`/`diff`/`apply`: some objects had errors; `route`: no
/// load balancer serves the request).
pub fn usage_error(e: &clap::Error) -> ExitCode {
    // Printing to a closed pipe is not worth a second error.
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.log_format);
    match cli.command {
        Command::Plan(args) => with_runtime(plan::run(args)),
        Command::Discover(args) => with_runtime(discover::run(args)),
        Command::Diff(args) => with_runtime(apply::run_diff(args)),
        Command::Apply(args) => with_runtime(apply::run_apply(args)),
        Command::Show(args) => with_runtime(show::run(args)),
        Command::Route(args) => with_runtime(route::run(*args)),
        Command::Run(args) => with_runtime_of(run_worker_threads(), run::run(*args)),
        Command::Crdgen => crdgen::run(),
    }
}

fn with_runtime(fut: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    with_runtime_of(None, fut)
}

/// Worker threads of `run`'s runtime: at most [`RUN_WORKER_THREADS`], unless
/// `TOKIO_WORKER_THREADS` is set (tokio reads it; `None` leaves it so).
fn run_worker_threads() -> Option<usize> {
    if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    Some(cores.clamp(1, RUN_WORKER_THREADS))
}

/// `run` waits on the API server and AWS far more than it computes: two worker threads keep up
/// with 1,000 stacks, and every further thread costs memory (its own malloc arena): the memory
/// benchmark measured 178 and 189 MiB with 16 worker threads against 151–160 MiB with 2.
const RUN_WORKER_THREADS: usize = 2;

/// A multi-threaded runtime (`workers`: its worker threads, `None`: tokio's default, one per
/// core) running `fut`.
fn with_runtime_of(
    workers: Option<usize>,
    fut: impl std::future::Future<Output = ExitCode>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    match builder.enable_all().build() {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_args(extra: &[&str]) -> Result<plan::PlanArgs, clap::Error> {
        let mut argv = vec!["aws-lb-operator", "plan", "-f", "x.yaml"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Plan(p) => Ok(p),
            other => panic!("not plan: {other:?}"),
        }
    }

    #[test]
    fn values_starting_with_a_hyphen_parse() {
        let p = plan_args(&["--dns-txt-suffix", "-reg", "--dns-owner-id", "-team"]).unwrap();
        assert_eq!(p.dns.dns_txt_suffix, "-reg");
        assert_eq!(p.dns.dns_owner_id.as_deref(), Some("-team"));
        let p = plan_args(&["--dns-txt-prefix", "-%{record_type}."]).unwrap();
        assert_eq!(p.dns.dns_txt_prefix, "-%{record_type}.");
    }

    #[test]
    fn lbc_controller_flags_with_lbc_defaults() {
        use aws_lb_operator_core::model::{Scheme, TargetType};
        use aws_lb_operator_core::translate::rule::RuleOrdering;
        let defaults = plan_args(&[]).unwrap().translation.config("demo").unwrap();
        assert_eq!(
            defaults,
            aws_lb_operator_core::translate::BuildConfig::new("demo")
        );
        let c = plan_args(&[
            "--rule-order=lbc",
            "--default-load-balancer-scheme=internet-facing",
            "--default-target-type=ip",
            "--default-ssl-policy=ELBSecurityPolicy-TLS13-1-2-2021-06",
            "--default-tags=team=platform,env=prod",
            "--default-tags=cost=",
            "--external-managed-tags=CostCenter,Owner",
            "--external-managed-tags=Backup",
        ])
        .unwrap()
        .translation
        .config("demo")
        .unwrap();
        assert_eq!(c.rule_order, RuleOrdering::Lbc);
        assert_eq!(c.default_scheme, Scheme::InternetFacing);
        assert_eq!(c.default_target_type, TargetType::Ip);
        assert_eq!(c.default_ssl_policy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
        let tags: Vec<(&str, &str)> = c
            .default_tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(tags, [("cost", ""), ("env", "prod"), ("team", "platform")]);
        assert_eq!(c.external_managed_tags, ["CostCenter", "Owner", "Backup"]);
    }

    #[test]
    fn lbc_flag_errors() {
        let err = |extra: &[&str]| {
            plan_args(extra)
                .unwrap()
                .translation
                .config("demo")
                .unwrap_err()
        };
        assert_eq!(
            err(&["--default-tags=elbv2.k8s.aws/cluster=x"]),
            "tag key elbv2.k8s.aws/cluster cannot be specified in --default-tags (a tracking tag)"
        );
        assert_eq!(
            err(&["--external-managed-tags=ingress.k8s.aws/stack"]),
            "tag key ingress.k8s.aws/stack cannot be specified in --external-managed-tags (a tracking tag)"
        );
        assert_eq!(
            err(&["--default-tags=Owner=me", "--external-managed-tags=Owner"]),
            "tag key Owner cannot be specified in both --default-tags and --external-managed-tags"
        );
        assert_eq!(
            err(&["--default-ssl-policy= "]),
            "--default-ssl-policy must not be empty"
        );
        let parse = plan_args(&["--default-tags=novalue"])
            .unwrap_err()
            .to_string();
        assert!(
            parse.contains("expected key=value pairs separated by commas, not \"novalue\""),
            "{parse}"
        );
        assert!(plan_args(&["--rule-order=alphabetical"]).is_err());
    }
}
