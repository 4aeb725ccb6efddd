#![allow(clippy::unwrap_used)] // Tests unwrap: a panic is the failure report.
//! Cross-crate tests, gathered in one binary (each file directly in `tests/` would be its own
//! binary and link everything again).

#[cfg(all(feature = "aws", feature = "cli"))]
mod admin_cli;
#[cfg(feature = "aws")]
mod aws;
#[cfg(all(feature = "http", feature = "sim"))]
mod browser;
mod cli;
mod cluster_cli;
#[cfg(all(feature = "cli", feature = "sqlite"))]
mod cost_cli;
#[cfg(feature = "route53")]
mod dns;
#[cfg(feature = "aws")]
mod edx_moto;
#[cfg(feature = "aws")]
mod fault_proxy;
mod fixtures;
#[cfg(feature = "http")]
mod http_api;
#[cfg(all(feature = "http", feature = "postgres", feature = "sim"))]
mod http_replicas;
mod idle_stop;
#[cfg(feature = "ldap")]
mod ldap;
#[cfg(feature = "ldap")]
mod ldap_stall;
#[cfg(feature = "sim")]
mod mliy_images;
#[cfg(any(feature = "aws", feature = "route53", feature = "s3"))]
mod moto;
mod plans;
#[cfg(feature = "postgres")]
mod postgres;
mod pricing;
#[cfg(feature = "dns-api")]
mod rest_dns;
#[cfg(all(feature = "s3", feature = "cli"))]
mod s3;
#[cfg(any(
    feature = "ldap",
    feature = "postgres",
    feature = "aws",
    feature = "route53",
    feature = "http",
    feature = "s3"
))]
mod servers;
#[cfg(all(feature = "cli", feature = "sqlite"))]
mod sim_stores;
#[cfg(feature = "ldap")]
mod slapd;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod stores;
mod templates;
mod userdata_shell;
