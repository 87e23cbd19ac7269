//! `aws-lb-operator run`: the Kubernetes controller (what the Helm chart deploys).
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{AwsArgs, DnsArgs, TranslationArgs};
use crate::controller::leader::LeaderConfig;
use crate::controller::queue::Backoff;
use crate::controller::reconciler::Settings;
use crate::controller::{Config, ControllerError};

/// Arguments of `run`. Every flag also reads an environment variable, so the Helm chart can
/// set them either way.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Name of the cluster: owner of everything created (the `elbv2.k8s.aws/cluster` tag).
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: String,
    /// Kubeconfig file; without it, in-cluster configuration (or `KUBECONFIG`).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Only watch these namespaces (repeatable); default: all namespaces.
    #[arg(
        long = "watch-namespace",
        env = "WATCH_NAMESPACE",
        value_delimiter = ','
    )]
    pub watch_namespaces: Vec<String>,
    /// VPC for load balancers and target groups (default: the VPC of the subnets tagged for
    /// load balancers).
    #[arg(long, env = "VPC_ID")]
    pub vpc_id: Option<String>,
    /// Stacks reconciled at the same time.
    #[arg(long, env = "CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Most stacks planned together in one AWS pass (they share one discovery read).
    #[arg(long, env = "MAX_STACKS_PER_PASS", default_value_t = 50)]
    pub max_stacks_per_pass: usize,
    /// Every stack is re-checked against AWS this often, even without Kubernetes changes.
    #[arg(long, env = "SYNC_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub sync_period: Duration,
    /// Endpoint and Node changes are collected this long before target registrations are sent.
    #[arg(long, env = "TARGET_BATCH_WINDOW", default_value = "200ms", value_parser = parse_duration)]
    pub target_batch_window: Duration,
    /// Address of the `/metrics`, `/healthz` and `/readyz` endpoints.
    #[arg(long, env = "METRICS_BIND_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_bind_address: SocketAddr,
    /// Elect a leader with a `coordination.k8s.io` Lease; only the leader writes to AWS.
    #[arg(
        long,
        env = "LEADER_ELECT",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease (default: `POD_NAMESPACE`, else `kube-system`).
    #[arg(long, env = "LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "LEADER_ELECTION_ID", default_value = "aws-lb-operator")]
    pub leader_election_id: String,
    /// How long a leader's Lease is valid without renewal.
    #[arg(long, env = "LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How often the leader renews its Lease.
    #[arg(long, env = "LEADER_ELECTION_RENEW_PERIOD", default_value = "5s", value_parser = parse_duration)]
    pub renew_period: Duration,
    /// Plan and report, but never write to AWS (a preview of what the controller would do).
    #[arg(long, env = "DRY_RUN")]
    pub dry_run: bool,
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
    /// How long graceful shutdown waits for in-flight AWS changes.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub translation: TranslationArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dns: DnsArgs,
}

/// Parses `90s`, `5m`, `1h`, `250ms` or plain seconds.
///
/// # Errors
/// The value is not a duration.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let v = value.trim();
    let err = || format!("{value:?} is not a duration such as 250ms, 30s, 10m or 1h");
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| err())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(err()),
    }
}

impl RunArgs {
    /// The controller's configuration: flags, environment (`POD_NAME`/`HOSTNAME` name the
    /// replica, `POD_NAMESPACE` holds the Lease by default) and DNS options checked.
    ///
    /// # Errors
    /// The DNS flags are unusable (the message says which).
    pub fn controller_config(&self) -> Result<Config, String> {
        let dns = if self.dns.dns_disabled {
            None
        } else {
            Some(self.dns.options(&self.cluster_name)?)
        };
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("aws-lb-operator-{}", std::process::id()));
        let leader = self.leader_elect.then(|| LeaderConfig {
            namespace: self
                .leader_election_namespace
                .clone()
                .or_else(|| std::env::var("POD_NAMESPACE").ok())
                .unwrap_or_else(|| "kube-system".to_owned()),
            name: self.leader_election_id.clone(),
            identity: identity.clone(),
            lease_duration: self.lease_duration,
            renew_period: self.renew_period,
        });
        Ok(Config {
            kubeconfig: self.kubeconfig.clone(),
            aws: self.aws.options(),
            settings: Settings {
                cluster: self.cluster_name.clone(),
                vpc_id: self.vpc_id.clone(),
                build: self.translation.config(&self.cluster_name)?,
                dns,
                concurrency: self.concurrency,
                max_stacks_per_pass: self.max_stacks_per_pass,
                sync_period: self.sync_period,
                target_batch_window: self.target_batch_window,
                unrestricted_sg_rules: self.disable_restricted_sg_rules,
                dry_run: self.dry_run,
                backoff: Backoff::default(),
                gateway_discovery_period: crate::controller::reconciler::GATEWAY_DISCOVERY_PERIOD,
            },
            namespaces: self.watch_namespaces.clone(),
            leader,
            metrics_addr: self.metrics_bind_address,
            identity,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> ExitCode {
    let started = match args.controller_config() {
        Ok(config) => crate::controller::serve_until_signal(config).await,
        Err(message) => Err(ControllerError::Config(message)),
    };
    match started {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "controller stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("soon"),
            Err("\"soon\" is not a duration such as 250ms, 30s, 10m or 1h".to_owned())
        );
        assert!(parse_duration("5d").is_err());
    }
}
