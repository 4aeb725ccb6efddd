#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.
//! Cross-crate tests, gathered in one binary (each file directly in `tests/` would be its own
//! binary and link everything again).

mod cli;
mod fixtures;
#[cfg(feature = "ldap")]
mod ldap;
mod plans;
#[cfg(any(feature = "ldap", feature = "postgres"))]
mod servers;
#[cfg(feature = "ldap")]
mod slapd;
mod stores;
mod templates;
