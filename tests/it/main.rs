//! Integration tests: one crate, many modules, one test binary.
//!
//! Modules named `aws_*` and `cli_*` talk to LocalStack (started by `scripts/test.sh`, or by
//! hand with `localstack/start.sh`); they fail with a clear message when it is not running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apiserver;
mod aws_addons;
mod aws_adoption;
mod aws_apply;
mod aws_auth;
mod aws_certificates;
mod aws_deploy_io;
mod aws_discovery;
mod aws_dns;
mod aws_errors;
mod aws_faults;
mod aws_gateway;
mod aws_idempotent;
mod aws_listener_attributes;
mod aws_mtls;
mod aws_nlb;
mod aws_nlb_items;
mod aws_prefix_lists;
mod aws_race;
mod aws_ratelimit;
mod aws_route53;
mod aws_transforms;
mod bench_apply;
mod bench_controller;
mod cli_apply;
mod cli_discover;
mod cli_dns;
mod cli_inputs;
mod controller_auth;
mod controller_blackbox;
mod controller_e2e;
mod controller_faults;
mod controller_gateway;
mod controller_plumbing;
mod controller_restart;
mod controller_tgb;
mod fault_proxy;
mod gateway_conformance;
mod iam_policy;
mod kubectl;
mod localstack;
mod localstack_script;
mod packaging;
mod plan_errors;
mod plan_golden;
mod rbac;
mod route_cli;
