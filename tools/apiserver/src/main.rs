//! `dev-apiserver`: the API server fixture as a process, for `scripts/dev-cluster.sh` and
//! black-box tests. Plain HTTP on 127.0.0.1, no authentication: never expose it.

use aws_lb_operator_apiserver::{ApiServer, DEFAULT_HISTORY};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dev-apiserver",
    about = "A minimal Kubernetes API server for local development and tests"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Load these manifests (a YAML file or a directory of them) before serving, without a client.
    #[arg(long)]
    preload: Vec<PathBuf>,
    /// Write a kubeconfig for the server here once it listens.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Events kept for watch resumption.
    #[arg(long, default_value_t = DEFAULT_HISTORY)]
    history: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dev-apiserver: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = ApiServer::bind(&args.listen, args.history)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    // A long-running server keeps no call log (only tests read it).
    server.record_calls(false);
    for path in &args.preload {
        let n = server.preload(path)?;
        eprintln!(
            "dev-apiserver: preloaded {n} objects from {}",
            path.display()
        );
    }
    if let Some(path) = &args.kubeconfig {
        // Written once the port is known and the preload is done: its presence means "ready".
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, server.kubeconfig())?;
        std::fs::rename(&tmp, path)?;
    }
    println!("{}", server.url());
    eprintln!("dev-apiserver: serving {}", server.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    eprintln!("dev-apiserver: stopped");
    Ok(())
}
