//! `aws-lb-operator` binary: parses the command line and runs the chosen subcommand.
use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: the controller's caches are many small, long-lived
/// objects replaced at random, which glibc's arenas fragment (docs/controller.md, "Watches and
/// memory", has the measurements).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match aws_lb_operator::cli::Cli::try_parse() {
        Ok(cli) => aws_lb_operator::cli::run(cli),
        Err(e) => aws_lb_operator::cli::usage_error(&e),
    }
}
