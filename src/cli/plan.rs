//! `aws-lb-operator plan`: print the desired model for manifests, with no cluster and no AWS.
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifest files or directories (multi-document YAML).
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Cluster name used for tags and generated names.
    #[arg(long, env = "CLUSTER_NAME", default_value = "cluster")]
    pub cluster_name: String,
}

/// Runs `plan`.
pub fn run(_args: PlanArgs) -> ExitCode {
    ExitCode::from(2)
}
