//! Integration tests (one crate, many modules).

mod plan_golden;
