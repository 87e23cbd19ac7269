//! aws-lb-operator: provisions AWS Application and Network Load Balancers and Route53 records for
//! Kubernetes Ingresses and LoadBalancer Services.
//!
//! Layers (the README's architecture section is the contract):
//! - [`aws_lb_operator_core`] (crate `core/`): pure model, translation and planning; no I/O.
//! - [`aws`]: the only module that imports the AWS SDK.
//! - [`cli`]: command-line entry points.
//! - [`controller`]: `run`, the Kubernetes controller.
//! - [`crd`]: the `elbv2.k8s.aws` custom resources and their CRDs.
//! - [`pass`]: one pass (observe, plan, execute), shared by the CLI and the controller.
//! - [`trim`]: Kubernetes objects trimmed to the fields the translation reads.
#![forbid(unsafe_code)]

pub mod aws;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod pass;
pub mod trim;

pub use aws_lb_operator_core as core;
