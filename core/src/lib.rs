//! Pure core of aws-lb-operator: the desired model of load balancers and DNS records, the
//! translation of Kubernetes objects into that model (`translate`), and the planners of AWS
//! changes (`planner`) and Route53 changes (`dns`).
//!
//! Nothing in this crate performs I/O: no async, no Kubernetes client, no AWS SDK. The compiler
//! enforces that, because this crate does not depend on any of them. Functions here take
//! snapshots and return data, so everything is unit-testable and benchmarkable on its own.
#![forbid(unsafe_code)]
// `BuildError` carries the object, annotation, value and expectation so every message is
// self-explanatory; it is built once per invalid object, off the hot path. Boxing each variant
// would add noise at every construction site for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod certificates;
pub mod discovery;
pub mod dns;
pub mod model;
pub mod planner;
pub mod route;
pub mod translate;
