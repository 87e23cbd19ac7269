//! `aws-lb-operator discover`: what a cluster owns in AWS, found by tags, and the subnets a new
//! load balancer of each scheme would get.
use std::fmt::Write as _;
use std::process::ExitCode;

use aws_lb_operator_core::discovery::{SubnetRole, SubnetSelection};
use serde::Serialize;

use super::{AwsArgs, OutputFormat};
use crate::aws::ec2::discover_subnets;
use crate::aws::elbv2::{
    list_owned_load_balancers, list_owned_target_groups, ListScope, ObservedLoadBalancer,
    ObservedTargetGroup,
};
use crate::aws::{AwsClients, AwsError};

/// Arguments of `discover`.
#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// Name of the Kubernetes cluster whose resources to find (the `elbv2.k8s.aws/cluster` tag).
    #[arg(long, env = "CLUSTER_NAME")]
    pub cluster_name: String,
    /// Only consider resources in this VPC.
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
}

/// Everything `discover` found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// Cluster name.
    pub cluster: String,
    /// Region.
    pub region: String,
    /// Load balancers owned by the cluster.
    pub load_balancers: Vec<ObservedLoadBalancer>,
    /// Target groups owned by the cluster.
    pub target_groups: Vec<ObservedTargetGroup>,
    /// Subnets for internet-facing load balancers.
    pub internet_facing_subnets: SubnetSelection,
    /// Subnets for internal load balancers.
    pub internal_subnets: SubnetSelection,
    /// AWS calls made, per `service.Operation`.
    pub aws_calls: std::collections::BTreeMap<String, u64>,
}

/// Reads everything `discover` reports.
pub async fn discover(
    clients: &AwsClients,
    cluster: &str,
    vpc_id: Option<&str>,
) -> Result<Discovery, AwsError> {
    let scope = ListScope {
        vpc_id,
        page_size: None,
    };
    let load_balancers = list_owned_load_balancers(&clients.elbv2, cluster, scope).await?;
    let target_groups = list_owned_target_groups(&clients.elbv2, cluster, scope).await?;
    let internet_facing_subnets =
        discover_subnets(&clients.ec2, cluster, SubnetRole::InternetFacing, vpc_id).await?;
    let internal_subnets =
        discover_subnets(&clients.ec2, cluster, SubnetRole::Internal, vpc_id).await?;
    Ok(Discovery {
        cluster: cluster.to_owned(),
        region: clients.region(),
        load_balancers,
        target_groups,
        internet_facing_subnets,
        internal_subnets,
        aws_calls: clients.calls.by_operation(),
    })
}

fn render_text(d: &Discovery) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cluster {} in {}", d.cluster, d.region);
    let _ = writeln!(s, "load balancers owned: {}", d.load_balancers.len());
    for lb in &d.load_balancers {
        let _ = writeln!(
            s,
            "  {} {} {} {}",
            lb.name, lb.lb_type, lb.scheme, lb.dns_name
        );
    }
    let _ = writeln!(s, "target groups owned: {}", d.target_groups.len());
    for tg in &d.target_groups {
        let port = tg.port.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let _ = writeln!(
            s,
            "  {} {}:{} {}",
            tg.name, tg.protocol, port, tg.target_type
        );
    }
    for (role, sel) in [
        (SubnetRole::InternetFacing, &d.internet_facing_subnets),
        (SubnetRole::Internal, &d.internal_subnets),
    ] {
        let _ = writeln!(s, "subnets for {}: {}", role.scheme(), sel.selected.len());
        for sn in &sel.selected {
            let _ = writeln!(s, "  {} {} {}", sn.id, sn.availability_zone, sn.vpc_id);
        }
        for r in &sel.rejected {
            let _ = writeln!(s, "  (skipped {}: {})", r.id, r.reason);
        }
    }
    let calls: u64 = d.aws_calls.values().sum();
    let _ = writeln!(s, "{calls} AWS calls");
    s
}

/// Runs `discover`.
pub async fn run(args: DiscoverArgs) -> ExitCode {
    let clients = AwsClients::connect(&args.aws.options()).await;
    match discover(&clients, &args.cluster_name, args.vpc_id.as_deref()).await {
        Ok(d) => {
            match args.output {
                OutputFormat::Json => match serde_json::to_string_pretty(&d) {
                    Ok(j) => println!("{j}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                },
                OutputFormat::Text => print!("{}", render_text(&d)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
