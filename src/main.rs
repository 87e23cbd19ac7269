//! `aws-lb-operator` binary: parses the command line and runs the chosen subcommand.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aws_lb_operator::cli::Cli::parse();
    aws_lb_operator::cli::run(cli)
}
