//! `aws-lb-operator` binary: parses the command line and runs the chosen subcommand.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match aws_lb_operator::cli::Cli::try_parse() {
        Ok(cli) => aws_lb_operator::cli::run(cli),
        Err(e) => aws_lb_operator::cli::usage_error(&e),
    }
}
