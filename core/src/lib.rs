//! Pure core of aws-lb-operator: the desired model of load balancers and DNS records, the
//! translation of Kubernetes objects into that model, and deploy planning.
//!
//! Nothing in this crate performs I/O: no async, no Kubernetes client, no AWS SDK. The compiler
//! enforces that, because this crate does not depend on any of them. Functions here take
//! snapshots and return data, so everything is unit-testable and benchmarkable on its own.
#![forbid(unsafe_code)]
pub mod discovery;
