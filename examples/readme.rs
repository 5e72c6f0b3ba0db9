//! Not a library: a home for the workspace README's Rust examples, which
//! are compiled and run as doctests here (`cargo test -p examples --doc`),
//! so the published crates never include a file outside themselves.
#![forbid(unsafe_code)]

/// The workspace README's examples.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
