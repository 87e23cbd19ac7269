//! Integration tests (one crate, many modules).
